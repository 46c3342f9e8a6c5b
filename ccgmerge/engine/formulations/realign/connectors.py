"""Connector bounds and branches: a label that must join two of its free components.

A label joining two of its free components holds a *connector* of paid units
(of other owned baseline groups), and every other group avoids it.
:func:`connector_cost` bounds an owner set by branching on whether l's group
joins them, and :func:`connector_branches` lists those branches: the branch
without both components, and for each minimal connector ``C`` below the
budget, its bound. When the branch without both components is bounded at
UB, the branches cover every better plan, and searching each one
(:func:`ccgmerge.engine.formulations.realign.search.search_branches`, on the
block with C given to the label, :func:`give`) and closing them all proves
the set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from ccgmerge.engine.formulations.realign.data import RealignData
from ccgmerge.engine.formulations.realign.bounds import (distances_dict, free_components, free_mask, label_candidates,
                                                         node_distances, own_people, owner_set_cost)

__all__ = ["MAX_CONNECTOR_STATES", "MAX_CONNECTORS", "connector_cost", "give", "connector_branches"]


#: Most partial connectors connector_cost explores for one label, and most
#: minimal connectors it bounds, before it gives up.
MAX_CONNECTOR_STATES = 20000
MAX_CONNECTORS = 64


def connector_cost(d: RealignData, S: Sequence[int], l: int, budget: float, options: dict | None = None,
                   deadline: float | None = None, pool: Callable | None = None) -> float | None:
    """A lower bound on ``moved - U(S)`` over the plans of S moving fewer than
    ``U(S) + budget`` people, branching on whether l's group touches both A,
    the free component holding most of l's people, and another free
    component B (tried in turn; the best bound is returned).

    If it does not, l's candidates are those Q without both (bound:
    :func:`owner_set_cost` with those candidates). If it does, the group
    holds a path from A to B, whose paid units (of other owned baseline
    groups) form a *connector* C: grown from A one paid unit at a time, each
    touching A, the units before it or a free component they touch, until B
    is touched; ``pop(C) < budget - Σ_{m != l} c_m`` (the other groups pay
    their label_cost besides). Every other group avoids C, so::

        moved - U(S) >= pop(C) + min over (Q_m)_{m != l} of max(Σ v'_m(Q_m), o_AB + Σ o'_m(Q_m))

    with ``v', o'`` the values of owner_set_cost on the block without C (C's
    people are counted once as held by l and once as left by their groups)
    and ``o_AB`` the least people of l dropped by a candidate holding A and
    B. Only minimal connectors are needed; a partial connector whose cost
    plus the least paid people between its reach and B (a Dijkstra from B)
    reaches the budget is not grown. Each B's bound is the least of the
    budget and these; None when no B could be bounded within
    MAX_CONNECTOR_STATES, MAX_CONNECTORS or ``deadline``
    (``time.perf_counter()``). A corridor that cuts another group in pieces
    so pays for the pieces it leaves behind.

    ``pool(d', options')``, if given, is a further lower bound on ``moved -
    U(S)`` over the plans of S in block ``d'`` with label options
    ``options'`` (solve_realign passes :func:`pool_bound`); it is used where
    owner_set_cost leaves a branch below the budget: on the branch without
    both (l restricted to those candidates) and on a connector's branch,
    with C given to l (:func:`give`), plus pop(C)."""
    out = None
    for br in connector_branches(d, S, l, budget, options, deadline, pool):
        if br["complete"]:
            b = min([float(budget), br["other"]] + [c for c, _ in br["connectors"]])
            out = b if out is None else max(out, b)
    return out


def give(d: RealignData, C: Sequence[int], l: int) -> RealignData:
    """Block d with the units C relabelled to baseline group l. A plan of d whose
    group l holds C (units of other owned groups) moves ``pop(C)`` people
    more in d than in the result."""
    base = dict(d.base)
    for i in C:
        base[i] = l
    return RealignData(d.units, base, d.n_labels, d.pop, d.nb, d.floor, {"graph": d.graph()})


def connector_branches(d: RealignData, S: Sequence[int], l: int, budget: float, options: dict | None = None,
                       deadline: float | None = None, pool: Callable | None = None) -> list[dict]:
    """The branches of :func:`connector_cost`, one dict per component B
    (``A`` and ``B`` index the free components of :func:`label_candidates`):
    ``other`` (bound of the branch where l's group does not touch both A and
    B), ``connectors`` (``(bound, C)`` for each minimal connector whose bound
    is below the budget, best first) and ``complete`` (False when a cap or
    the deadline stopped the enumeration: then the entry proves nothing).
    Every plan of S moving fewer than U(S) + budget people lies in the
    branch without both or holds one of the connectors (for a complete B)."""
    opts = options if options is not None else {m: label_candidates(d, S, m) for m in S}
    cand, comps = opts[l]
    if cand == [(0.0, ())] or len(comps) < 2:
        return []
    cand = [(v, Q) for v, Q in cand if v < float("inf")]
    own = own_people(d, l, comps)
    A = max(range(len(comps)), key=lambda k: (own[k], -k))
    free, _ = free_components(d, S, l)
    comp_of = {i: k for k, c in enumerate(comps) for i in c}
    others_c = sum(opts[m][0][0][0] for m in S if m != l and opts[m][0][0][0] < float("inf"))
    limit = budget - others_c  # a connector costs less than this

    g = d.graph()
    paid = np.where(free_mask(d, S, l), 0, g.pop)  # a unit's cost on a path: its people unless free
    paid_nb = {i: {w for w in d.nb[i] if w not in free} for i in d.units}  # paid units touching each unit
    comp_nb = [set().union(*(paid_nb[i] for i in c)) for c in comps]  # and each free component
    given: dict[frozenset[int], float] = {}  # pop(C) + pool on the block with C given to l, per connector
    out = []
    for B in sorted({q for _, Q in cand for q in Q} - {A}):
        both = [(v, Q) for v, Q in cand if A in Q and B in Q]
        if not both:
            continue
        entry = {"A": A, "B": B, "other": float(budget), "connectors": [], "complete": False}
        out.append(entry)
        other = [(v, Q) for v, Q in cand if not (A in Q and B in Q)]
        if other:
            o1 = dict(opts)
            o1[l] = (other, comps)
            ob = owner_set_cost(d, S, o1)
            if ob < budget and pool is not None:
                ob = max(ob, pool(d, o1))
            entry["other"] = min(float(budget), ob)
        o_ab = float(min(sum(own) - sum(own[q] for q in Q) for _, Q in both))
        toB = distances_dict(d, node_distances(d, [g.pos[i] for i in comps[B]], paid))
        found: set[frozenset[int]] = set()
        seen: set[frozenset[int]] = set()

        def grow(C: frozenset[int], c: int, bd: set[int]) -> bool:
            # bd: the paid units touching the reach (A, C and the free components C touches)
            # outside C; the reach's free units never matter, its paid ones are C
            for u in sorted(bd):
                c2 = c + int(d.pop[u])
                C2 = C | {u}
                if c2 >= limit or C2 in seen:
                    continue
                seen.add(C2)
                if len(seen) > MAX_CONNECTOR_STATES or (deadline is not None and time.perf_counter() >= deadline):
                    return False
                touched = {comp_of[w] for w in d.nb[u] if w in free}
                if B in touched:
                    found.add(C2)
                    continue
                bd2 = bd | paid_nb[u]
                for q in touched:
                    bd2 |= comp_nb[q]
                bd2 -= C2
                # every completion pays a path of paid units from the reach to B
                h = min((toB.get(w, float("inf")) for w in bd2), default=float("inf"))
                if c2 + h >= limit:
                    continue
                if not grow(C2, c2, bd2):
                    return False
            return True

        if not grow(frozenset(), 0, set(comp_nb[A])):
            continue
        minimal = [C for C in found if not any(o < C for o in found)]
        if len(minimal) > MAX_CONNECTORS:
            continue
        stopped = False
        for C in sorted(minimal, key=lambda C: (sum(int(d.pop[i]) for i in C), sorted(C))):
            pc = sum(int(d.pop[i]) for i in C)
            rest = [i for i in d.units if i not in C]
            keep = set(rest)
            drop = np.zeros(len(g.unit_list), dtype=bool)
            drop[[g.pos[i] for i in C]] = True
            nb2 = {i: [j for j in d.nb[i] if j in keep] for i in rest}
            d2 = RealignData(rest, d.base, d.n_labels, d.pop, nb2, d.floor, {"graph": g.without(drop)})
            o2 = {m: label_candidates(d2, S, m) for m in S if m != l}
            o2[l] = ([(0.0, ())], [])  # l's group holds C; its dropped people are o_ab
            b = pc + owner_set_cost(d2, S, o2, extra_out=o_ab)
            if b < budget and pool is not None:
                if C not in given:
                    d3 = give(d, C, l)
                    given[C] = pc + pool(d3, {m: label_candidates(d3, S, m) for m in S})
                b = max(b, given[C])
            if b < budget:
                entry["connectors"].append((float(b), tuple(sorted(C))))
            if deadline is not None and time.perf_counter() >= deadline:
                stopped = True
                break
        entry["connectors"].sort()
        entry["complete"] = not stopped
        if deadline is not None and time.perf_counter() >= deadline:
            break
    return out
