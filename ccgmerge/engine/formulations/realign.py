"""Least-population-moved regrouping of a block of units from a baseline
grouping ("realignment"), exact, by owner sets and bounded restrictions.

The objective ``moved`` is ``total - Σ_g kept(g)`` where each resulting group
``g`` continues (is *owned by*) at most one baseline group ``b(g)`` and keeps
``kept(g) = pop(g ∩ b(g))`` (see :mod:`ccgmerge.scenario`). This module solves
it for one block that is connected in its adjacency graph (in ``nested`` mode
the graph has no edge between different HWB pieces), without pair locks or a
ceiling. Four facts make it exact:

1. **Every group may be assumed owned and to keep someone.** A group keeping
   no one can merge into an adjacent group (the block is connected): the
   result is connected, reaches the floor and keeps as much. So an optimal
   plan exists whose groups carry distinct labels ``S`` (the *owner set*),
   the group labelled ``b`` holding at least one unit of ``b``; baseline
   groups outside ``S`` move wholly: ``U(S) = Σ_{b ∉ S} pop(b)``.

2. **Owner sets are enumerated**, ``|S| <= total // floor``, in order of the
   bound ``LB(S) = max(U(S), Σ_{b ∈ S} max(0, floor - pop(b)), U(S) + Σ_l c_l)``;
   a set with ``LB(S) >= UB`` (the best plan found) is skipped. ``c_l``
   (:func:`label_cost`) bounds the people of other owned baseline groups
   that l's group must hold, from the free components it can join and the
   paid paths between them; groups are disjoint, so these add up. The
   sum ``Σ_l c_l`` is then raised to :func:`owner_set_cost`, which also
   counts the people of l left in free components its group does not
   touch (a baseline group in pieces pays a corridor or leaves a piece).
   Before its restricted models, a set is also bounded by
   :func:`connector_cost` (a label joining two of its free components holds
   a connector of paid units; every other group avoids it) and
   :func:`pool_bound`, the same candidates chosen for all labels at once,
   the people of baseline groups outside S shared among them and each
   label's kept people cut by the people other groups take from it.

3. **Path bound.** If unit ``i`` ends in the group labelled ``l`` and is not
   of baseline ``l``, the group holds a path from ``i`` to a unit of ``l``;
   every unit on it before that unit is moved, and those of owned baselines
   are not counted in ``U(S)``. With ``d_l(i)`` the least such cost (node
   weights ``pop(v)`` for ``base(v) ∈ S - {l}``, 0 otherwise, ``i``
   included, the endpoint not), a plan of S has
   ``moved >= U(S) + max(c_l, d_l(i)) + Σ_{l' != l} c_l'``. So every plan of S
   moving fewer than ``U(S) + s`` people has ``x[i, l] = 0`` whenever
   ``d_l(i) >= s - Σ_{l' != l} c_l'`` (:func:`restrict`), and satisfies
   :func:`add_realign_path_costs`. Units left with one label are *fixed*; the
   fixed units of one label that touch are contracted into one node.

4. **Roots.** A fixed unit of owned baseline ``b`` lies in ``b``'s group, so
   it roots ``b``'s single-commodity flow (:func:`add_realign_flow`); a label
   with no fixed unit chooses its root among its own baseline's units.

For each owner set the restricted model with slack ``s`` and the cutoff
``moved <= U(S) + s - 1`` holds exactly the plans of S moving fewer than
``U(S) + s`` people: if it has none, S's optimum is at least ``U(S) + s``;
its optimum is S's optimum. Slacks grow (one unit's people, doubling) from
the bound to ``UB - U(S)``. The block's bound is ``min(UB, min_S bound_S)``,
with ``bound_S`` the proven value for each set (``LB(S)`` for sets never
solved).

Before the restricted models, a set whose bound is still below UB is
searched branch by branch: :func:`connector_branches` lists, for a label
that must pay a corridor, every minimal connector C below the budget (with
its bound), and :func:`search_branches` runs :func:`search_restriction`, an
exact propagating depth-first search, on each branch's restricted model
(C given to the label). When the branch without both components is
bounded at UB, the branches cover every better plan and closing them all
proves S; otherwise the search only looks for better plans. Flow models
are weak where two groups link their pieces through one free region (Kent:
Thanet's corridor and Canterbury's two pieces in a corner of Ashford); the
search branches on that region's least vertex cut first.

The best plan ``UB`` sets every slack, so it is sought first
(:func:`heuristic_plan`, :func:`search_plan`): for each owner set whose
bound is below it, best bounds first, groups grow from their baseline
groups (and from the paid paths and free components of their bound,
:func:`label_tree`), a local search moves boundary units, and an iterated
local search kicks and repeats it. These plans prove nothing; the exact
phase does.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pulp

from ccgmerge.engine.subsets import connected_pieces
from ccgmerge.engine.heuristics import merge_until_viable
from ccgmerge.plan import Status

__all__ = ["RealignData", "RealignResult", "block_data", "owner_sets", "label_distances", "label_cost", "owner_set_cost", "connector_cost", "connector_branches", "search_restriction", "search_branches",
           "label_tree", "grow_plan", "improve_plan", "heuristic_plan", "perturb_plan", "search_plan", "pool_bound", "restrict",
           "build_realign",
           "solve_realign", "MAX_LABELS"]

#: Most baseline groups in one block for owner-set enumeration (2^16 sets).
MAX_LABELS = 16


@dataclass
class RealignData:
    """One block: ``units`` (global positions, sorted), ``base[i]`` the label
    index of each unit's baseline group (0..n_labels-1), populations, the
    block's adjacency ``nb[i]`` (within the block; in nested mode within one
    HWB piece) and the floor."""

    units: list[int]
    base: dict[int, int]
    n_labels: int
    pop: np.ndarray
    nb: dict[int, list[int]]
    floor: int

    def label_pop(self) -> list[int]:
        out = [0] * self.n_labels
        for i in self.units:
            out[self.base[i]] += int(self.pop[i])
        return out


@dataclass
class Restriction:
    """The restricted model of one owner set: contracted nodes and their labels.

    ``nodes[k]``: the units of node k; ``fixed[k]``: its only label or None;
    ``allowed[k]``: its labels; ``roots[l]``: the root node of label l, or
    None (the root is chosen among ``cands[l]``)."""

    S: tuple[int, ...]
    slack: float
    nodes: list[list[int]]
    fixed: list[int | None]
    allowed: list[tuple[int, ...]]
    npop: list[int]
    nbase: list[int | None]
    adj: list[list[int]]
    roots: dict[int, int | None]
    cands: dict[int, list[int]]
    constant: int  # moved people fixed by the restriction (U(S) and fixed moves)
    dist: dict[int, dict[int, float]] = field(default_factory=dict)
    costs: dict[int, float] = field(default_factory=dict)


@dataclass
class RealignResult:
    groups: list[list[int]] | None
    status: Status
    value: float | None  # people moved
    bound: float | None
    detail: str
    n_vars: int = 0
    n_cons: int = 0
    log: list[dict] = field(default_factory=list)


def block_data(units: Sequence[int], base: dict[int, int], n_labels: int, pop: np.ndarray, nb: Sequence[Sequence[int]],
               floor: int, piece: dict[int, int] | None = None) -> RealignData | None:
    """The block as RealignData (edges inside the block, and in nested mode
    inside one HWB piece), or None when this module does not apply: the block
    is not connected in that graph, or has more than MAX_LABELS baseline groups."""
    inside = set(units)
    adj = {i: [j for j in nb[i] if j in inside and (piece is None or piece[i] == piece[j])] for i in units}
    if not units or len({base[i] for i in units}) > MAX_LABELS:
        return None
    if len(connected_pieces(adj, units)) != 1:
        return None
    return RealignData(sorted(units), dict(base), n_labels, pop, adj, int(floor))


# ---------------------------------------------------------------------------
# owner sets and the path bound
# ---------------------------------------------------------------------------
def owner_sets(d: RealignData) -> list[tuple[int, int, tuple[int, ...]]]:
    """Every owner set S with 1 <= |S| <= total // floor, as (LB(S), U(S), S), best first::

        U(S) = Σ_{b ∉ S} pop(b),   LB(S) = max(U(S), Σ_{b ∈ S} max(0, floor - pop(b)))"""
    lp = d.label_pop()
    total = sum(lp)
    L = [l for l in range(d.n_labels) if lp[l] > 0]
    kmax = len(L) if d.floor <= 0 else min(len(L), total // d.floor)
    out = []
    for k in range(1, kmax + 1):
        for S in itertools.combinations(L, k):
            U = total - sum(lp[l] for l in S)
            T = sum(max(0, d.floor - lp[l]) for l in S)
            out.append((max(U, T), U, S))
    out.sort()
    return out


def label_distances(d: RealignData, S: Sequence[int], l: int) -> dict[int, float]:
    """``d_l(i)``: least people of other owned baseline groups on a path inside the
    group from i to a unit of l (i counted, the unit of l not): a node costs
    pop(v) if base(v) ∈ S - {l}, 0 otherwise."""
    owned = set(S)
    return _dijkstra(d, [i for i in d.units if d.base[i] == l],
                     lambda v: int(d.pop[v]) if d.base[v] in owned and d.base[v] != l else 0)


def _free_components(d: RealignData, S: Sequence[int], l: int) -> tuple[set[int], list[list[int]]]:
    owned = set(S)
    free = {i for i in d.units if d.base[i] == l or d.base[i] not in owned}
    return free, connected_pieces(d.nb, free)


def _dijkstra(d: RealignData, sources: Sequence[int], cost: Callable[[int], int],
              pred: dict[int, int] | None = None) -> dict[int, float]:
    """Least Σ cost(v) over a path from any source to each unit (sources cost 0,
    the endpoint counted). ``pred``, if given, receives each reached unit's
    predecessor on a least path (none for sources)."""
    dist = {i: 0.0 for i in sources}
    heap = [(0.0, i) for i in sorted(dist)]
    heapq.heapify(heap)
    done = set()
    while heap:
        dv, v = heapq.heappop(heap)
        if v in done:
            continue
        done.add(v)
        for u in d.nb[v]:
            nd = dv + cost(u)
            if nd < dist.get(u, float("inf")):
                dist[u] = nd
                if pred is not None:
                    pred[u] = v
                heapq.heappush(heap, (nd, u))
    return dist


#: Most free components per label for which label_cost enumerates their subsets.
MAX_FREE_COMPONENTS = 12


def label_cost(d: RealignData, S: Sequence[int], l: int) -> float:
    """A lower bound c_l on the people of *other owned* baseline groups that the
    group labelled l must hold (its paid people)::

        c_l = min_Q max(ST(Q), floor - pop(Q), m(Q) if pop(Q) < floor)

    over the sets Q of free components (connected pieces of l's units and the
    units of baseline groups outside S) holding a unit of l, with ST(Q) the
    least paid population connecting them (exact for |Q| <= 3, else the
    largest pairwise distance) and m(Q) the least population of a paid unit
    touching Q. Valid: a group touching exactly the free components Q holds
    at least ST(Q) paid people and, reaching the floor, at least floor -
    pop(Q); then it holds a paid unit, and (being connected) one touching Q.
    Groups are disjoint, so moved >= U(S) + Σ_l c_l."""
    options, _ = _label_options(d, S, l)
    return options[0][0]


def _label_options(d: RealignData, S: Sequence[int], l: int) -> tuple[list[tuple[float, tuple[int, ...]]], list[list[int]]]:
    """Every candidate Q of label_cost as (its value in label_cost, Q),
    best first (Q as indices into the free components), and the components.
    ``[(0.0, ())]`` when there are too many components to enumerate."""
    free, comps = _free_components(d, S, l)
    if len(comps) > MAX_FREE_COMPONENTS:
        return [(0.0, ())], comps
    cp = [sum(int(d.pop[i]) for i in c) for c in comps]
    has_l = [any(d.base[i] == l for i in c) for c in comps]

    def cost(v):
        return 0 if v in free else int(d.pop[v])

    dist = [_dijkstra(d, c, cost) for c in comps]
    inf = float("inf")
    pair = [[min((dist[a].get(i, inf) for i in comps[b]), default=inf) for b in range(len(comps))] for a in range(len(comps))]
    # the least paid unit touching each component: a group short of the floor holds one
    touch = [min((int(d.pop[v]) for i in c for v in d.nb[i] if v not in free), default=inf) for c in comps]
    out = []
    for k in range(1, len(comps) + 1):
        for Q in itertools.combinations(range(len(comps)), k):
            if not any(has_l[q] for q in Q):
                continue
            short = d.floor - sum(cp[q] for q in Q)
            if k == 1:
                st = 0.0
            elif k == 3:
                a, b, c = Q
                st = min((dist[a].get(v, inf) + dist[b].get(v, inf) + dist[c].get(v, inf) - 2 * cost(v) for v in d.units),
                         default=inf)
            else:
                st = max(pair[a][b] for a, b in itertools.combinations(Q, 2))
            least = min(touch[q] for q in Q) if short > 0 else 0
            out.append((max(st, short, least, 0), Q))
    out.sort()
    return out or [(inf, ())], comps


def _own_people(d: RealignData, l: int, comps: list[list[int]]) -> list[int]:
    """The people of baseline group l in each free component."""
    return [sum(int(d.pop[i]) for i in c if d.base[i] == l) for c in comps]


def _own_components(d: RealignData, l: int, comps: list[list[int]]) -> set[int]:
    """The free components holding a unit of baseline group l."""
    return {q for q, c in enumerate(comps) if any(d.base[i] == l for i in c)}


#: Most (paid, dropped) pairs owner_set_cost keeps while combining labels.
MAX_FRONTIER = 4096


def owner_set_cost(d: RealignData, S: Sequence[int], options: dict | None = None, extra_out: float = 0.0) -> float:
    """A lower bound on the people of owned baseline groups that a plan of S
    moves (``moved - U(S)``), at least ``Σ_l c_l`` (:func:`label_cost`)::

        min over (Q_l)_{l ∈ S} of  max(Σ_l v_l(Q_l), Σ_l o_l(Q_l))

    with, for each owned label l and candidate Q of label_cost (the free
    components l's group touches), ``v_l(Q)`` its value there (the people of
    other owned groups l's group must hold) and ``o_l(Q)`` the people of l
    in its free components outside Q (they cannot be in l's group, so they
    are moved). Valid: each moved person of an owned group is counted once as
    held by another group (Σ_l paid_l) and once as left by its own
    (Σ_l out_l), both equal to ``moved - U(S)``, and paid_l >= v_l(Q_l),
    out_l >= o_l(Q_l) for the components Q_l l's group touches. A label split
    into pieces (an HWB boundary or an enclave apart) pays either a corridor
    or the people of the pieces it leaves, which Σ_l c_l alone misses.

    The minimum is taken over the Pareto frontier of (Σ v, Σ o), label by
    label; beyond MAX_FRONTIER pairs, ``max(min Σ v, min Σ o)`` (weaker,
    still valid) is returned. ``options``: _label_options per label, if known;
    ``extra_out``: people known to be left besides (added to Σ o)."""
    opts = options if options is not None else {l: _label_options(d, S, l) for l in S}
    per: list[list[tuple[float, float]]] = []
    for l in S:
        cand, comps = opts[l]
        if cand == [(0.0, ())]:  # too many components to enumerate: label_cost is 0 and nothing is dropped
            per.append([(0.0, 0.0)])
            continue
        own = _own_people(d, l, comps)
        all_own = sum(own)
        pairs = sorted({(v, float(all_own - sum(own[q] for q in Q))) for v, Q in cand if v < float("inf")})
        if not pairs:
            return float("inf")
        per.append(_pareto(pairs))
    # beyond the caps: p[0][0] is the least v of each (sorted) list
    fallback = max(sum(p[0][0] for p in per), extra_out + sum(min(o for _, o in p) for p in per))
    front = [(0.0, float(extra_out))]
    for pairs in per:
        if len(front) * len(pairs) > MAX_FRONTIER * 16:
            return fallback
        front = _pareto(sorted({(a + v, b + o) for a, b in front for v, o in pairs}))
        if len(front) > MAX_FRONTIER:
            return fallback
    return min(max(a, b) for a, b in front)


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
    with C given to l (:func:`_give`), plus pop(C)."""
    out = None
    for br in connector_branches(d, S, l, budget, options, deadline, pool):
        if br["complete"]:
            b = min([float(budget), br["other"]] + [c for c, _ in br["connectors"]])
            out = b if out is None else max(out, b)
    return out


def _give(d: RealignData, C: Sequence[int], l: int) -> RealignData:
    """Block d with the units C relabelled to baseline group l. A plan of d whose
    group l holds C (units of other owned groups) moves ``pop(C)`` people
    more in d than in the result."""
    base = dict(d.base)
    for i in C:
        base[i] = l
    return RealignData(d.units, base, d.n_labels, d.pop, d.nb, d.floor)


def connector_branches(d: RealignData, S: Sequence[int], l: int, budget: float, options: dict | None = None,
                       deadline: float | None = None, pool: Callable | None = None) -> list[dict]:
    """The branches of :func:`connector_cost`, one dict per component B
    (``A`` and ``B`` index the free components of :func:`_label_options`):
    ``other`` (bound of the branch where l's group does not touch both A and
    B), ``connectors`` (``(bound, C)`` for each minimal connector whose bound
    is below the budget, best first) and ``complete`` (False when a cap or
    the deadline stopped the enumeration: then the entry proves nothing).
    Every plan of S moving fewer than U(S) + budget people lies in the
    branch without both or holds one of the connectors (for a complete B)."""
    opts = options if options is not None else {m: _label_options(d, S, m) for m in S}
    cand, comps = opts[l]
    if cand == [(0.0, ())] or len(comps) < 2:
        return []
    cand = [(v, Q) for v, Q in cand if v < float("inf")]
    own = _own_people(d, l, comps)
    A = max(range(len(comps)), key=lambda k: (own[k], -k))
    free, _ = _free_components(d, S, l)
    comp_of = {i: k for k, c in enumerate(comps) for i in c}
    others_c = sum(opts[m][0][0][0] for m in S if m != l and opts[m][0][0][0] < float("inf"))
    limit = budget - others_c  # a connector costs less than this

    def cost(v):
        return 0 if v in free else int(d.pop[v])

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
        toB = _dijkstra(d, comps[B], cost)
        found: set[frozenset[int]] = set()
        seen: set[frozenset[int]] = set()

        def grow(reach: set[int], C: frozenset[int], c: int) -> bool:
            for u in sorted({w for v in reach for w in d.nb[v]} - reach):
                c2 = c + int(d.pop[u])
                C2 = C | {u}
                if u in free or c2 >= limit or C2 in seen:
                    continue
                seen.add(C2)
                if len(seen) > MAX_CONNECTOR_STATES or (deadline is not None and time.perf_counter() >= deadline):
                    return False
                touched = {comp_of[w] for w in d.nb[u] if w in free}
                if B in touched:
                    found.add(C2)
                    continue
                r2 = reach | {u}
                for q in sorted(touched):
                    r2 |= set(comps[q])
                # every completion pays a path of paid units from r2 to B
                h = min((toB.get(w, float("inf")) for v in r2 for w in d.nb[v] if w not in r2 and w not in free),
                        default=float("inf"))
                if c2 + h >= limit:
                    continue
                if not grow(r2, C2, c2):
                    return False
            return True

        if not grow(set(comps[A]), frozenset(), 0):
            continue
        minimal = [C for C in found if not any(o < C for o in found)]
        if len(minimal) > MAX_CONNECTORS:
            continue
        stopped = False
        for C in sorted(minimal, key=lambda C: (sum(int(d.pop[i]) for i in C), sorted(C))):
            pc = sum(int(d.pop[i]) for i in C)
            rest = [i for i in d.units if i not in C]
            keep = set(rest)
            d2 = RealignData(rest, d.base, d.n_labels, d.pop, {i: [j for j in d.nb[i] if j in keep] for i in rest}, d.floor)
            o2 = {m: _label_options(d2, S, m) for m in S if m != l}
            o2[l] = ([(0.0, ())], [])  # l's group holds C; its dropped people are o_ab
            b = pc + owner_set_cost(d2, S, o2, extra_out=o_ab)
            if b < budget and pool is not None:
                if C not in given:
                    d3 = _give(d, C, l)
                    given[C] = pc + pool(d3, {m: _label_options(d3, S, m) for m in S})
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


def _pareto(pairs: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The pairs (sorted) that no other pair beats in both coordinates."""
    out: list[tuple[float, float]] = []
    for a, b in pairs:
        if not out or b < out[-1][1]:
            out.append((a, b))
    return out


def label_tree(d: RealignData, S: Sequence[int], l: int, Q: Sequence[int], comps: list[list[int]],
               whole: bool = True) -> tuple[list[int], list[int]]:
    """A plan for one candidate of label_cost: the units of the free components
    ``Q`` (indices into ``comps``, from :func:`_label_options`) with free units
    on the joining paths, and the paid units joining them (least paid paths,
    added greedily from the component holding most of l's people: a Steiner
    heuristic), as two sorted lists; each path ends where it first enters its
    component. With ``whole=False`` the components other than that first one
    are left out and later paths start from what is kept, so the result is a
    connected *corridor*: the group may then take only part of them."""
    if len(Q) < 2:
        return [], []
    free, _ = _free_components(d, S, l)
    home = max(Q, key=lambda q: (sum(int(d.pop[i]) for i in comps[q] if d.base[i] == l), -q))
    tree = set(comps[home])
    core = set(tree)
    paid: set[int] = set()
    todo = [q for q in Q if q != home]
    while todo:
        src = tree if whole else core
        pred: dict[int, int] = {}
        dist = _dijkstra(d, sorted(src), lambda v: 0 if v in free else int(d.pop[v]), pred)
        q = min(todo, key=lambda q: (min(dist.get(i, float("inf")) for i in comps[q]), q))
        end = min(comps[q], key=lambda i: (dist.get(i, float("inf")), i))
        if end not in dist:
            break
        v, path = end, []
        while v not in src:
            path.append(v)
            v = pred[v]
        target = set(comps[q])
        k = len(path) - 1
        while k > 0 and path[k] not in target:  # the path enters component q at path[k]
            k -= 1
        for v in path[k:]:
            if v not in free:
                paid.add(v)
        tree.update(path[k:])
        tree |= target
        core.update(path[k:])
        todo.remove(q)
    return sorted((tree if whole else core) - paid), sorted(paid)


#: Most label_cost candidates of one label that pool_bound lets it choose among
#: (a label with more is given no candidate: any kept people, any pool).
MAX_POOL_OPTIONS = 256


#: Most share of the time left that solve_realign gives one pool_bound solve.
POOL_SHARE = 0.1


def pool_bound(d: RealignData, S: Sequence[int], U: int, run: Callable, options, time_limit: float | None,
               label_options: dict | None = None) -> float:
    """A lower bound on the people moved by every plan of owner set S: the
    candidates of :func:`label_cost` chosen for all labels at once, sharing
    the *pools* (connected pieces of the units of baseline groups outside S)::

        U(S) + min Σ_l P_l
        s.t. Σ_Q z[l, Q] = 1,   P_l >= Σ_Q v_l(Q) z[l, Q]          one candidate Q per label
             K_l <= Σ_Q own_l(Q) z[l, Q],   K_l = pop(l) - Σ_{m != l} t[m, l],   P_l = Σ_{m != l} t[l, m]
             y[l, p] <= pop(p) Σ_{Q ∋ p} z[l, Q],   Σ_l y[l, p] <= pop(p)
             K_l + Σ_p y[l, p] + P_l >= floor

    rounded up (people are whole). ``v_l(Q)`` is the candidate's value in
    label_cost, ``own_l(Q)`` the people of l in its free components, and
    ``t[l, m]`` the people of owned baseline m in l's group (``t, y, K >= 0``).
    Valid: a plan of S gives each label the candidate Q of the free
    components its group touches; the group's own people (kept, ``K_l``) lie
    in them, its people of other owned groups (paid, ``P_l``) number at least
    v_l(Q), its people of pools come from the pools in them, and moved =
    U(S) + Σ_l P_l. A label with more than MAX_POOL_OPTIONS candidates (or
    too many free components) is given every pool, ``K_l <= pop(l)`` and
    ``P_l >= c_l``, so the bound is at least U(S) + Σ_l c_l.
    Solved by ``run`` (with gap 0: only a proven bound counts); returns U(S)
    + its proven bound, ``inf`` when it is infeasible (S has no plan) and
    ``U(S)`` when it proves nothing. ``label_options``: _label_options per
    label, if known."""
    S = tuple(S)
    owned = set(S)
    lp = d.label_pop()
    pools = connected_pieces(d.nb, [i for i in d.units if d.base[i] not in owned])
    pool_of = {i: p for p, c in enumerate(pools) for i in c}
    ppop = [sum(int(d.pop[i]) for i in c) for c in pools]
    prob = pulp.LpProblem("pool_bound", pulp.LpMinimize)
    t = {(l, m): pulp.LpVariable(f"t_{l}_{m}", lowBound=0) for l in S for m in S if m != l}
    P = {l: pulp.lpSum(t[l, m] for m in S if m != l) for l in S}
    K = {l: lp[l] - pulp.lpSum(t[m, l] for m in S if m != l) for l in S}
    y: dict[tuple[int, int], object] = {}
    for l in S:
        opts, comps = label_options[l] if label_options is not None else _label_options(d, S, l)
        opts = [(v, Q) for v, Q in opts if v < float("inf")]
        if not opts:
            return float("inf")
        prob += K[l] >= 0, f"kept0_{l}"
        if opts == [(0.0, ())] or len(opts) > MAX_POOL_OPTIONS:  # no candidates: every pool, K_l <= pop(l)
            prob += P[l] >= opts[0][0], f"paid_{l}"
            for p in range(len(pools)):
                y[l, p] = pulp.LpVariable(f"y_{l}_{p}", lowBound=0, upBound=ppop[p])
        else:
            comp_pools = [sorted({pool_of[i] for i in c if i in pool_of}) for c in comps]
            own = _own_people(d, l, comps)
            z = {Q: pulp.LpVariable(f"z_{l}_{'_'.join(map(str, Q))}", cat="Binary") for _, Q in sorted(opts, key=lambda o: o[1])}
            prob += pulp.lpSum(z.values()) == 1, f"one_{l}"
            prob += P[l] >= pulp.lpSum(v * z[Q] for v, Q in opts), f"paid_{l}"
            prob += K[l] <= pulp.lpSum(sum(own[q] for q in Q) * z[Q] for _, Q in opts), f"kept_{l}"
            touch: dict[int, list] = {}
            for _, Q in sorted(opts, key=lambda o: o[1]):
                for p in sorted({p for q in Q for p in comp_pools[q]}):
                    touch.setdefault(p, []).append(z[Q])
            for p in sorted(touch):
                y[l, p] = pulp.LpVariable(f"y_{l}_{p}", lowBound=0, upBound=ppop[p])
                prob += y[l, p] <= ppop[p] * pulp.lpSum(touch[p]), f"touch_{l}_{p}"
        prob += K[l] + pulp.lpSum(v for (m, _), v in y.items() if m == l) + P[l] >= d.floor, f"floor_{l}"
    for p in range(len(pools)):
        ys = [y[l, p] for l in S if (l, p) in y]
        if ys:
            prob += pulp.lpSum(ys) <= ppop[p], f"pool_{p}"
    prob += pulp.lpSum(t.values())
    out = run(prob, dataclasses.replace(options, gap=0.0), time_limit, integral=False)
    if out.status is Status.INFEASIBLE:
        return float("inf")
    if out.bound is None:
        return float(U)
    return float(U + max(0, math.ceil(out.bound - 1e-6)))


# ---------------------------------------------------------------------------
# primal heuristic
# ---------------------------------------------------------------------------
def _unit_cost(d: RealignData, owned: set[int], i: int, l: int) -> int:
    """People moved by putting unit i in the group labelled l (owned labels only)."""
    b = d.base[i]
    return int(d.pop[i]) if b in owned and b != l else 0


def grow_plan(d: RealignData, S: Sequence[int], claims: dict[int, int] | None = None) -> dict[int, int] | None:
    """Labels for every unit from seeded region growing (a plan of S that may miss the floor).

    Label l's seed is the connected piece of its own units and the units
    ``claims`` gives it (its own units claimed by another label excluded)
    holding the most people of l; its other own units are *reserved* for it.
    The unlabelled units are then handed out one at a time: the least
    populous group below the floor (then the least populous group) with an
    unlabelled neighbour not reserved for another label takes the one it
    costs least to move, nearest (in steps) to its reserved units, then of
    smallest position. A label split by another's corridor so grows round
    it to its other pieces. When no group can grow, the reservations lapse.
    None when a label has no seed."""
    owned = set(S)
    claims = claims or {}
    lab: dict[int, int] = {}
    for l in S:
        mine = [i for i in d.units if claims.get(i, l if d.base[i] == l else None) == l]
        pcs = [p for p in connected_pieces(d.nb, [i for i in mine if i not in lab]) if any(d.base[i] == l for i in p)]
        if not pcs:
            return None
        seed = max(pcs, key=lambda p: (sum(int(d.pop[i]) for i in p if d.base[i] == l), -p[0]))
        for i in seed:
            lab[i] = l
    reserved = {i: d.base[i] for i in d.units
                if i not in lab and d.base[i] in owned and claims.get(i, d.base[i]) == d.base[i]}
    hop: dict[int, dict[int, int]] = {}
    for l in S:
        src = [i for i, m in reserved.items() if m == l]
        hop[l] = {i: 0 for i in src}
        queue = list(src)
        for v in queue:  # breadth-first steps from l's reserved units
            for u in d.nb[v]:
                if u not in hop[l]:
                    hop[l][u] = hop[l][v] + 1
                    queue.append(u)
    gpop = {l: 0 for l in S}
    front: dict[int, set[int]] = {l: set() for l in S}

    def open_to(u, l):
        return u not in lab and reserved.get(u, l) == l

    for i, l in lab.items():
        gpop[l] += int(d.pop[i])
        front[l].update(u for u in d.nb[i] if open_to(u, l))
    left = len(d.units) - len(lab)
    while left:
        if not any(front.values()):
            if not reserved:
                break
            reserved = {}
            for i, l in lab.items():
                front[l].update(u for u in d.nb[i] if open_to(u, l))
            continue
        l = min((l for l in S if front[l]), key=lambda l: (gpop[l] >= d.floor, gpop[l], l))
        u = min(front[l], key=lambda u: (_unit_cost(d, owned, u, l), hop[l].get(u, len(d.units)), u))
        lab[u] = l
        reserved.pop(u, None)
        gpop[l] += int(d.pop[u])
        left -= 1
        for m in S:
            front[m].discard(u)
        front[l].update(v for v in d.nb[u] if open_to(v, l))
    return lab


def _splits(d: RealignData, members: set[int], u: int) -> bool:
    """Whether removing u from the connected set ``members`` disconnects it or empties it."""
    rest = [v for v in d.nb[u] if v in members]
    if not rest:
        return True
    need = set(rest[1:])
    seen, stack = {u, rest[0]}, [rest[0]]
    while stack and need:
        v = stack.pop()
        for w in d.nb[v]:
            if w in members and w not in seen:
                seen.add(w)
                need.discard(w)
                stack.append(w)
    return bool(need)


def improve_plan(d: RealignData, S: Sequence[int], lab: dict[int, int], deadline: float | None = None) -> dict[int, int]:
    """Local search from connected groups, on (people short of the floor,
    people moved) lexicographically. A single move takes one boundary unit
    to a neighbouring group; a pair move takes a unit u from group b to a
    neighbouring group where it costs less and refills b with a unit v from
    a neighbouring group a. A move is made when it lowers the pair and
    leaves every group connected and not empty; single moves are tried
    first (units in position order), until no move helps or ``deadline``
    (``time.perf_counter()``) passes."""
    owned = set(S)
    lab = dict(lab)
    mem: dict[int, set[int]] = {l: set() for l in S}
    for i, l in lab.items():
        mem[l].add(i)
    gpop = {l: sum(int(d.pop[i]) for i in mem[l]) for l in S}

    def short(p):
        return max(0, d.floor - p)

    def cost(i, l):
        return _unit_cost(d, owned, i, l)

    def apply(u, b):
        a = lab[u]
        lab[u] = b
        mem[a].discard(u)
        mem[b].add(u)
        gpop[a] -= int(d.pop[u])
        gpop[b] += int(d.pop[u])

    def single() -> bool:
        # the move fixing shortage at least cost per person, else saving most moved people
        cands = []
        for u in d.units:
            a, pu = lab[u], int(d.pop[u])
            for b in sorted({lab[v] for v in d.nb[u]} - {a}):
                dshort = short(gpop[a] - pu) - short(gpop[a]) + short(gpop[b] + pu) - short(gpop[b])
                dcost = cost(u, b) - cost(u, a)
                if dshort < 0:
                    cands.append((0, dcost / -dshort, dshort, u, b))
                elif dshort == 0 and dcost < 0:
                    cands.append((1, dcost, 0, u, b))
                elif dshort == 0 and dcost == 0 and gpop[a] - gpop[b] > 2 * pu:
                    cands.append((2, gpop[b] - gpop[a], 0, u, b))
        for *_, u, b in sorted(cands):
            if not _splits(d, mem[lab[u]], u):
                apply(u, b)
                return True
        return False

    def pair() -> bool:
        for u in d.units:
            b, pu = lab[u], int(d.pop[u])
            for c in sorted({lab[w] for w in d.nb[u]} - {b}):
                gain = cost(u, b) - cost(u, c)
                if gain <= 0 or _splits(d, mem[b], u):
                    continue
                rest = mem[b] - {u}
                for v in sorted({w for x in rest for w in d.nb[x]} - mem[b]):
                    a, pv = lab[v], int(d.pop[v])
                    if v == u or cost(v, b) - cost(v, a) >= gain:
                        continue
                    delta = {b: pv - pu, c: pu, a: -pv}
                    if a == c:
                        delta[c] = pu - pv
                    dshort = sum(short(gpop[g] + x) - short(gpop[g]) for g, x in delta.items())
                    dcost = gain - (cost(v, b) - cost(v, a))
                    if (dshort, -dcost) >= (0, 0):
                        continue
                    src = mem[a] | {u} if a == c else mem[a]
                    if _splits(d, src, v):
                        continue
                    apply(u, c)
                    apply(v, b)
                    return True
        return False

    while (deadline is None or time.perf_counter() < deadline) and (single() or pair()):
        pass
    return lab


#: Share of the time left that solve_realign may spend on heuristic plans.
HEURISTIC_SHARE = 0.4

#: Candidates of label_cost tried as seeds by heuristic_plan for the label paying most.
TREE_OPTIONS = 4


def heuristic_plan(d: RealignData, S: Sequence[int], deadline: float | None = None,
                   options: dict | None = None) -> dict[int, list[int]] | None:
    """A plan of owner set S (groups keyed by label, each connected and at the
    floor), or None if none was found: :func:`grow_plan` then
    :func:`improve_plan`, from plain seeds and from seeds where each label with
    a positive :func:`label_cost` (largest first) claims the free components
    and paid paths of its bound (:func:`label_tree`; also with only the
    corridors: the paths and the label's own component), a label split into
    several free components those of its best candidate joining them; the
    plan moving fewest.
    Local searches stop at ``deadline`` (``time.perf_counter()``);
    ``options``: _label_options per label, if known."""
    S = tuple(S)
    owned = set(S)
    options = options if options is not None else {l: _label_options(d, S, l) for l in S}
    # each label's candidates, best first; a label whose own units lie in several free
    # components first tries the best candidate joining them all (a corridor)
    ranked: dict[int, list[tuple[float, tuple[int, ...]]]] = {}
    for l in S:
        opts, comps = options[l]
        mine = _own_components(d, l, comps)
        join = [o for o in opts if len(mine) > 1 and mine <= set(o[1]) and o[0] < float("inf")]
        ranked[l] = join[:1] + [o for o in opts if o not in join[:1]]
    paying = sorted((l for l in S if ranked[l][0][0] > 0), key=lambda l: (-ranked[l][0][0], l))
    # claims: each paying label takes its best candidate; the first also tries its next ones
    variants: list[dict[int, int]] = [{}]
    # (candidate of the first paying label, whole components or corridors only)
    tries = [(first, whole) for first in range(min(TREE_OPTIONS, len(ranked[paying[0]]))) for whole in (True, False)] if paying else []
    for first, whole in tries:
        claims: dict[int, int] = {}
        for l in paying:
            _, Q = ranked[l][first] if l == paying[0] else ranked[l][0]
            units, paid = label_tree(d, S, l, Q, options[l][1], whole)
            for i in units + paid:
                if i not in claims and (d.base[i] == l or d.base[i] not in owned or i in paid):
                    claims[i] = l
        variants.append(claims)
    best = None
    for claims in variants:
        lab = grow_plan(d, S, claims)
        if lab is None:
            continue
        lab = improve_plan(d, S, lab, deadline)
        groups = {l: sorted(i for i in d.units if lab[i] == l) for l in S}
        if not all(sum(int(d.pop[i]) for i in g) >= d.floor and _connected(d, g) for g in groups.values()):
            continue
        val = moved_of(d, groups)
        if best is None or val < best[0]:
            best = (val, groups)
    return None if best is None else best[1]


def perturb_plan(d: RealignData, S: Sequence[int], lab: dict[int, int], rng: random.Random, size: int) -> dict[int, int]:
    """A random kick for :func:`search_plan`: a unit u on a group boundary
    (chosen with ``rng``) and a neighbouring group b; up to ``size`` units of
    u's group, in breadth-first order from u, move to b when they touch b and
    their group stays connected. Returns new labels (may miss the floor)."""
    lab = dict(lab)
    border = [i for i in d.units if any(lab[j] != lab[i] for j in d.nb[i])]
    if not border:
        return lab
    u = rng.choice(border)
    a = lab[u]
    b = rng.choice(sorted({lab[j] for j in d.nb[u]} - {a}))
    mem = {i for i in d.units if lab[i] == a}
    ball, seen, k = [u], {u}, 0
    while k < len(ball) and len(ball) < size:
        for j in d.nb[ball[k]]:
            if j not in seen and lab[j] == a:
                seen.add(j)
                ball.append(j)
        k += 1
    for v in ball[:size]:
        if any(lab[j] == b for j in d.nb[v]) and not _splits(d, mem, v):
            lab[v] = b
            mem.discard(v)
    return lab


#: search_plan: most units moved by one kick, and kicks in a row without a better plan before it stops.
PERTURB_SIZE = 8
PATIENCE = 150


def search_plan(d: RealignData, S: Sequence[int], groups: dict[int, list[int]], seed: int = 0,
                deadline: float | None = None, patience: int = PATIENCE) -> dict[int, list[int]]:
    """Iterated local search from a plan of S (groups keyed by label, connected,
    at the floor): kick (:func:`perturb_plan`, 1 to PERTURB_SIZE units, from a
    ``random.Random(seed)``), repair and descend (:func:`improve_plan`), and
    continue from the result if it is a plan moving no more people. Stops
    after ``patience`` kicks in a row without a plan moving fewer people, or
    at ``deadline`` (``time.perf_counter()``). Returns the best plan."""
    S = tuple(S)
    rng = random.Random(seed)
    cur = {i: l for l, g in groups.items() for i in g}
    best = moved_of(d, groups)
    out = groups
    idle = 0
    while idle < patience and (deadline is None or time.perf_counter() < deadline):
        lab = improve_plan(d, S, perturb_plan(d, S, cur, rng, rng.randint(1, PERTURB_SIZE)), deadline)
        cand = {l: sorted(i for i in d.units if lab[i] == l) for l in S}
        idle += 1
        if not all(g and sum(int(d.pop[i]) for i in g) >= d.floor and _connected(d, g) for g in cand.values()):
            continue
        val = moved_of(d, cand)
        if val <= best:
            if val < best:
                idle = 0
                out = cand
            best, cur = val, lab
    return out


def restrict(d: RealignData, S: tuple[int, ...], U: int, slack: float, costs: dict[int, float]) -> Restriction | None:
    """The restricted model of owner set S holding every plan of S that moves
    fewer than U + slack people: x[i, l] is allowed when base(i) = l or

        d_l(i) < slack - Σ_{l' ∈ S - {l}} c_l'

    (moving i into l's group costs at least d_l(i) there and every other group
    its c_l'). None when some unit is left with no label."""
    total_c = sum(costs.values())
    owned = set(S)
    labels: dict[int, tuple[int, ...]] = {}
    dist = {l: label_distances(d, S, l) for l in S}
    for i in d.units:
        b = d.base[i]
        al = tuple(l for l in S if l == b or dist[l].get(i, float("inf")) < slack - (total_c - costs[l]))
        if not al:
            return None
        labels[i] = al
    # contract touching units fixed to the same label
    node_of: dict[int, int] = {}
    nodes: list[list[int]] = []
    fixed: list[int | None] = []
    for i in d.units:
        if i in node_of:
            continue
        k = len(nodes)
        if len(labels[i]) == 1:
            l = labels[i][0]
            comp, stack = [i], [i]
            node_of[i] = k
            while stack:
                v = stack.pop()
                for u in d.nb[v]:
                    if u not in node_of and labels[u] == (l,):
                        node_of[u] = k
                        comp.append(u)
                        stack.append(u)
            nodes.append(sorted(comp))
            fixed.append(l)
        else:
            node_of[i] = k
            nodes.append([i])
            fixed.append(None)
    adj = [set() for _ in nodes]
    for i in d.units:
        for u in d.nb[i]:
            a, b = node_of[i], node_of[u]
            if a != b:
                adj[a].add(b)
    npop = [int(sum(int(d.pop[i]) for i in n)) for n in nodes]
    nbase = [d.base[n[0]] if fixed[k] is None else None for k, n in enumerate(nodes)]
    allowed = [labels[n[0]] for n in nodes]
    constant = U + sum(int(d.pop[i]) for k, n in enumerate(nodes) if fixed[k] is not None
                       for i in n if d.base[i] in owned and d.base[i] != fixed[k])
    roots: dict[int, int | None] = {}
    cands: dict[int, list[int]] = {}
    for l in S:
        fx = [k for k in range(len(nodes)) if fixed[k] == l and any(d.base[i] == l for i in nodes[k])]
        roots[l] = max(fx, key=lambda k: (npop[k], -k)) if fx else None
        cands[l] = [] if fx else [k for k in range(len(nodes)) if fixed[k] is None and nbase[k] == l]
    return Restriction(S, slack, nodes, fixed, allowed, npop, nbase, [sorted(a) for a in adj], roots, cands, constant,
                       dist, dict(costs))


# ---------------------------------------------------------------------------
# the restricted model
# ---------------------------------------------------------------------------
def _members(r: Restriction, l: int) -> list[int]:
    return [k for k in range(len(r.nodes)) if l in r.allowed[k]]


def add_realign_assignment(prob, x, r: Restriction):
    """Every free node takes one label: Σ_{l ∈ allowed(k)} x[k, l] = 1."""
    for k in range(len(r.nodes)):
        if r.fixed[k] is None:
            prob += pulp.lpSum(x[k, l] for l in r.allowed[k]) == 1, f"assign_{k}"


def add_realign_floor(prob, x, r: Restriction, floor: int):
    """Every owned label's group reaches the floor: Σ_k pop_k x[k, l] >= floor."""
    for l in r.S:
        prob += pulp.lpSum(r.npop[k] * x[k, l] for k in _members(r, l)) >= floor, f"floor_{l}"


def add_realign_neighbour_cuts(prob, x, r: Restriction, floor: int):
    """A free node below the floor that is not a root candidate has a member
    neighbour in its group: x[k, l] <= Σ_{s ∈ N(k)} x[s, l]."""
    for k in range(len(r.nodes)):
        if r.fixed[k] is not None or r.npop[k] >= floor:
            continue
        for l in r.allowed[k]:
            if k in r.cands[l]:
                continue
            prob += x[k, l] <= pulp.lpSum(x[s, l] for s in r.adj[k] if l in r.allowed[s]), f"nb_{k}_{l}"


def add_realign_path_costs(prob, x, r: Restriction, dist: dict[int, dict[int, float]], costs: dict[int, float]):
    """The paid people of label l's group (those of other owned baseline groups),
    P_l = Σ_{k: nbase(k) ∈ S - {l}} pop_k x[k, l], cover its bound and the path
    from each member to a unit of l (label_cost, label_distances)::

        P_l >= c_l,   P_l >= d_l(k) x[k, l]   for every free node k allowed l."""
    owned = set(r.S)
    for l in r.S:
        paid = [r.npop[k] * x[k, l] for k in _members(r, l) if r.fixed[k] is None and r.nbase[k] in owned and r.nbase[k] != l]
        P = pulp.lpSum(paid)
        if costs.get(l, 0) > 0:
            prob += P >= costs[l], f"paid_{l}"
        for k in _members(r, l):
            if r.fixed[k] is not None:
                continue
            dk = min(dist[l].get(i, float("inf")) for i in r.nodes[k])
            if dk > costs.get(l, 0) and dk < float("inf"):
                prob += P >= dk * x[k, l], f"path_{k}_{l}"


def add_realign_flow(prob, x, r: Restriction):
    """Single-commodity flow per label l from its root over the nodes allowed
    l (M_l = their number less one): f[a, b, l] <= M_l x[b, l]; for a fixed root,
    inflow - outflow = x[k, l] at every other node; for a chosen root,
    Σ_k ρ[k, l] = 1, ρ[k, l] <= x[k, l] and inflow - outflow >= x[k, l] - (M_l + 1) ρ[k, l]
    (the root's own unit and one for each of up to M_l other members)."""
    rho = {}
    for l in r.S:
        mem = _members(r, l)
        ms = set(mem)
        M = max(1, len(mem) - 1)
        fin: dict[int, list] = {k: [] for k in mem}
        fout: dict[int, list] = {k: [] for k in mem}
        root = r.roots[l]
        for a in mem:
            for b in r.adj[a]:
                if b not in ms or b == root:
                    continue
                f = pulp.LpVariable(f"f_{a}_{b}_{l}", lowBound=0, upBound=M)
                fin[b].append(f)
                fout[a].append(f)
                if r.fixed[b] is None:
                    prob += f <= M * x[b, l], f"cap_{a}_{b}_{l}"
        if root is not None:
            for k in mem:
                if k != root:
                    prob += pulp.lpSum(fin[k]) - pulp.lpSum(fout[k]) == x[k, l], f"bal_{k}_{l}"
        else:
            cs = set(r.cands[l])
            for k in r.cands[l]:
                rho[k, l] = pulp.LpVariable(f"rho_{k}_{l}", cat="Binary")
                prob += rho[k, l] <= x[k, l], f"rootin_{k}_{l}"
            prob += pulp.lpSum(rho[k, l] for k in r.cands[l]) == 1, f"oneroot_{l}"
            for k in mem:
                # a chosen root sends a unit to each other member of its group (up to
                # len(mem) - 1) and keeps its own: its outflow may reach len(mem) - 1
                rhs = x[k, l] - len(mem) * rho[k, l] if k in cs else x[k, l]
                prob += pulp.lpSum(fin[k]) - pulp.lpSum(fout[k]) >= rhs, f"bal_{k}_{l}"
    return rho


def build_realign(r: Restriction, floor: int, name: str = "realign"):
    """The restricted model of one owner set; returns (problem, x)::

        min  constant + Σ_{free k} pop_k (1 - x[k, base(k)])    people moved
        s.t. add_realign_assignment, add_realign_floor, add_realign_neighbour_cuts,
             add_realign_path_costs, add_realign_flow

    ``x[k, l]`` is the constant 1 for a node fixed to l."""
    prob = pulp.LpProblem(name, pulp.LpMinimize)
    x: dict[tuple[int, int], object] = {}
    for k in range(len(r.nodes)):
        if r.fixed[k] is not None:
            x[k, r.fixed[k]] = 1
        else:
            for l in r.allowed[k]:
                x[k, l] = pulp.LpVariable(f"x_{k}_{l}", cat="Binary")
    owned = set(r.S)
    obj = [r.npop[k] * (1 - x.get((k, r.nbase[k]), 0)) for k in range(len(r.nodes))
           if r.fixed[k] is None and r.nbase[k] in owned]
    prob += pulp.lpSum(obj) + r.constant
    add_realign_assignment(prob, x, r)
    add_realign_floor(prob, x, r, floor)
    add_realign_neighbour_cuts(prob, x, r, floor)
    add_realign_path_costs(prob, x, r, r.dist, r.costs)
    add_realign_flow(prob, x, r)
    return prob, x


# ---------------------------------------------------------------------------
# propagating search on a restricted model
# ---------------------------------------------------------------------------
class _Wipeout(Exception):
    """A label's domain graph cannot hold its group."""


def _propagate(r: Restriction, floor: int, cutoff: float, dom: list, dirty: set[int] | None = None) -> None:
    """Narrow the domains ``dom`` (a frozenset of labels per node) in place to a
    fixpoint, or raise _Wipeout. Rules, each valid for every plan the domains
    still hold:

    * **people moved**: ``constant + Σ_k min_{l ∈ dom(k)} cost(k, l) <= cutoff``;
    * **own unit**: label l's group holds its root, or (with none fixed) one
      of its candidate roots, ``cands[l]``;
    * **reach**: label l's group is connected and holds its anchor (its root,
      or a node already decided for l), so a node that no path of nodes
      allowing l joins to the anchor cannot be l's; a decided node of l so
      cut off, or a reach below the floor, is a wipeout;
    * **articulation**: a node whose removal from l's domain graph cuts a
      decided node of l off the anchor, or leaves less than the floor
      reachable, is l's (Tarjan's low-points, one depth-first pass per label).

    Only the labels in ``dirty`` (default: all) are checked at first; a
    domain that changes makes its labels dirty again.
    """
    n = len(dom)
    owned = set(r.S)
    adj, npop = r.adj, r.npop
    paid = [k for k in range(n) if r.fixed[k] is None and r.nbase[k] in owned]  # moved unless kept by their own label
    todo = set(r.S) if dirty is None else set(dirty) & set(r.S)
    if r.constant + sum(npop[k] for k in paid if r.nbase[k] not in dom[k]) > cutoff:
        raise _Wipeout
    while todo:
        l = min(todo)
        todo.discard(l)
        change = False
        rt = r.roots[l]
        if rt is None:
            if not any(l in dom[k] for k in r.cands[l]):  # the group holds a unit of l
                raise _Wipeout
            only = frozenset((l,))
            decided = [k for k in range(n) if dom[k] == only]
            if not decided:
                if sum(npop[k] for k in range(n) if l in dom[k]) < floor:
                    raise _Wipeout
                continue
            rt = decided[0]
        # Tarjan's low-points over the nodes allowing l, from the anchor
        disc = [-1] * n
        low = [0] * n
        parent = [-1] * n
        sub_pop = [0] * n
        sub_must = [0] * n
        disc[rt] = 0
        sub_pop[rt] = npop[rt]
        sub_must[rt] = 1
        order = [rt]
        stack = [rt]
        pos = [0] * n
        while stack:
            v = stack[-1]
            nb = adj[v]
            i = pos[v]
            while i < len(nb):
                u = nb[i]
                i += 1
                if l not in dom[u]:
                    continue
                if disc[u] < 0:
                    disc[u] = low[u] = len(order)
                    parent[u] = v
                    sub_pop[u] = npop[u]
                    sub_must[u] = 1 if len(dom[u]) == 1 else 0
                    order.append(u)
                    stack.append(u)
                    break
                if u != parent[v] and disc[u] < low[v]:
                    low[v] = disc[u]
            else:
                pos[v] = i
                stack.pop()
                p = parent[v]
                if p >= 0:
                    if low[v] < low[p]:
                        low[p] = low[v]
                    sub_pop[p] += sub_pop[v]
                    sub_must[p] += sub_must[v]
                continue
            pos[v] = i
        total = sub_pop[rt]
        if total < floor:
            raise _Wipeout
        if len(order) < n:
            for k in range(n):
                if disc[k] < 0 and l in dom[k]:
                    if len(dom[k]) == 1:
                        raise _Wipeout
                    todo |= dom[k]
                    dom[k] = dom[k] - {l}
                    change = True
        cut_pop: dict[int, int] = {}
        cut_must: dict[int, int] = {}
        for v in order[1:]:
            p = parent[v]
            if low[v] >= disc[p]:  # removing p cuts v's subtree off the anchor
                cut_pop[p] = cut_pop.get(p, 0) + sub_pop[v]
                cut_must[p] = cut_must.get(p, 0) + sub_must[v]
        for v in sorted(cut_pop):
            if len(dom[v]) > 1 and (cut_must[v] > 0 or total - npop[v] - cut_pop[v] < floor):
                todo |= dom[v]
                dom[v] = frozenset((l,))
                change = True
        if change and r.constant + sum(npop[k] for k in paid if r.nbase[k] not in dom[k]) > cutoff:
            raise _Wipeout


#: Largest vertex cut _branch_node branches on (a wider link is no bottleneck).
MAX_CUT = 8


def _vertex_cut(adj: Sequence[Sequence[int]], allowed: Sequence[int], open_: set[int], src: Sequence[int],
                dst: Sequence[int]) -> list[int]:
    """A least set of ``open_`` nodes whose removal separates ``src`` from ``dst``
    in the graph on ``allowed`` (other nodes cannot be removed): augmenting
    paths on the split graph (node v as 2v -> 2v + 1, of capacity one when
    open). Empty when the cut would exceed MAX_CUT nodes (or none exists).

    >>> adj = [[1, 2], [0, 3], [0, 3], [1, 2, 4], [3]]   # a square 0-1-3-2 and a tail 3-4
    >>> _vertex_cut(adj, range(5), {1, 2, 3}, [0], [4])
    [3]
    >>> _vertex_cut(adj, range(5), {1, 2}, [0], [4])
    [1, 2]
    """
    ok = set(allowed)
    big = 1 << 30
    s, t = -1, -2
    arcs: dict[int, list[int]] = {s: [], t: []}
    res: dict[tuple[int, int], int] = {}

    def add(a, b, c):
        arcs.setdefault(a, []).append(b)
        arcs.setdefault(b, []).append(a)
        res[a, b] = res.get((a, b), 0) + c
        res.setdefault((b, a), 0)

    for v in sorted(ok):
        add(2 * v, 2 * v + 1, 1 if v in open_ else big)
        for u in adj[v]:
            if u in ok:
                add(2 * v + 1, 2 * u, big)
    for v in sorted(set(src) & ok):
        add(s, 2 * v, big)
    for v in sorted(set(dst) & ok):
        add(2 * v + 1, t, big)
    value = 0
    while True:
        prev = {s: s}
        queue = [s]
        for a in queue:
            if a == t:
                break
            for b in arcs[a]:
                if b not in prev and res[a, b] > 0:
                    prev[b] = a
                    queue.append(b)
        if t not in prev:
            break
        value += 1
        if value > MAX_CUT:
            return []
        b = t
        while b != s:
            a = prev[b]
            res[a, b] -= 1
            res[b, a] += 1
            b = a
    return sorted(v for v in open_ if v in ok and 2 * v in prev and 2 * v + 1 not in prev)


def _branch_node(r: Restriction, floor: int, dom: list, cost: list[dict[int, int]]) -> tuple[int, int] | None:
    """(node, label to try first) for the next branch, or None when every
    domain is decided. A label whose decided nodes lie in pieces comes first:
    branch on a node of a least vertex cut between its smallest piece and the
    anchor's piece (the bottleneck its link must cross, contested by other
    labels), trying l there first. Otherwise the label furthest below the
    floor grows by a neighbour of its decided nodes, cheapest first."""
    n = len(dom)
    decided: dict[int, list[int]] = {l: [] for l in r.S}
    for k in range(n):
        if len(dom[k]) == 1:
            decided[next(iter(dom[k]))].append(k)
    best = None
    for l in r.S:
        mine = decided[l]
        if not mine:
            continue
        mset = set(mine)
        pieces = connected_pieces({k: [u for u in r.adj[k] if u in mset] for k in mine}, mine)
        if len(pieces) < 2:
            continue
        anchor = r.roots[l] if r.roots[l] is not None else mine[0]
        home = next(p for p in pieces if anchor in p)
        small = min((p for p in pieces if p is not home), key=lambda p: (sum(r.npop[k] for k in p), p[0]))
        cut = _vertex_cut(r.adj, [v for v in range(n) if l in dom[v]], {v for v in range(n) if len(dom[v]) > 1},
                          small, home)
        if cut:
            key = (len(cut), -sum(r.npop[k] for k in small), l)
            if best is None or key < best[0]:
                best = (key, max(cut, key=lambda v: (r.npop[v], -v)), l)
    if best is not None:
        return best[1], best[2]
    held = {l: sum(r.npop[k] for k in decided[l]) for l in r.S}
    for l in sorted(r.S, key=lambda l: (held[l] - floor, l)):
        if held[l] >= floor:
            continue
        front = sorted({u for v in decided[l] for u in r.adj[v] if len(dom[u]) > 1 and l in dom[u]},
                       key=lambda u: (cost[u][l], len(dom[u]), u))
        if front:
            return front[0], l
    for k in range(n):
        if len(dom[k]) > 1:
            return k, min(dom[k], key=lambda l: (cost[k][l], l))
    return None


def search_restriction(r: Restriction, floor: int, cutoff: float, deadline: float | None = None,
                       force: dict[int, int] | None = None) -> tuple[str, dict[int, list[int]] | None, int]:
    """Exact depth-first search for a plan of a restricted model moving at most
    ``cutoff`` people: ``("found", groups, nodes)``, ``("none", None, nodes)``
    when the search is complete and there is none, or ``("stopped", None,
    nodes)`` at the deadline (``time.perf_counter()``).

    Each node of the search narrows the label domains by :func:`_propagate`
    and branches (:func:`_branch_node`) on one node's label. A complete
    assignment that survives propagation is a plan: every group is connected
    (reach), reaches the floor and the people moved are within the cutoff.
    ``force``: node -> label fixed at the start (a branch of the caller's).

    Flow models are weak where two groups must link their pieces through the
    same free region (the planar crossing their relaxations cannot see);
    branching on the least vertex cut of each link decides that region
    first, and the articulation rule then forces the rest. Deterministic:
    nodes and labels are taken in a fixed order.

    Examples
    --------
    A path a - b - c - d of 5, 1, 1 and 5 people; baseline groups 0 = {a, b, c}
    and 1 = {d}; floor 6. Group 1 must take c: one person moved.

    >>> import numpy as np
    >>> nb = {0: [1], 1: [0, 2], 2: [1, 3], 3: [2]}
    >>> d = RealignData([0, 1, 2, 3], {0: 0, 1: 0, 2: 0, 3: 1}, 2, np.array([5, 1, 1, 5]), nb, 6)
    >>> r = restrict(d, (0, 1), 0, 10, {0: 0, 1: 0})
    >>> search_restriction(r, 6, 0)[0]
    'none'
    >>> search_restriction(r, 6, 1)[:2]
    ('found', {0: [0, 1], 1: [2, 3]})
    """
    s = _Search(r, floor, force)
    status, groups = s.run(cutoff, deadline)
    return status, groups, s.count


class _Search:
    """The resumable state of :func:`search_restriction`: a stack of domain
    lists. ``run`` may be called again with a lower cutoff (after a plan is
    found, or a better one elsewhere): what was cut off before stays cut off."""

    def __init__(self, r: Restriction, floor: int, force: dict[int, int] | None = None):
        n = len(r.nodes)
        owned = set(r.S)
        self.r, self.floor, self.count = r, floor, 0
        self.cost = [{l: (r.npop[k] if r.fixed[k] is None and r.nbase[k] in owned and r.nbase[k] != l else 0)
                      for l in r.allowed[k]} for k in range(n)]
        dom0 = [frozenset(r.allowed[k]) if r.fixed[k] is None else frozenset((r.fixed[k],)) for k in range(n)]
        self.stack: list[tuple[list, set[int] | None]] = [(dom0, None)]  # (domains, labels to check)
        for k, l in sorted((force or {}).items()):
            if l not in dom0[k]:
                self.stack = []
                break
            dom0[k] = frozenset((l,))

    def run(self, cutoff: float, deadline: float | None = None, max_nodes: int | None = None
            ) -> tuple[str, dict[int, list[int]] | None]:
        r, cost = self.r, self.cost
        stop = None if max_nodes is None else self.count + max_nodes
        while self.stack:
            if (deadline is not None and time.perf_counter() >= deadline) or (stop is not None and self.count >= stop):
                return "stopped", None
            dom, dirty = self.stack.pop()
            self.count += 1
            try:
                _propagate(r, self.floor, cutoff, dom, dirty)
            except _Wipeout:
                continue
            pick = _branch_node(r, self.floor, dom, cost)
            if pick is None:
                groups: dict[int, list[int]] = {l: [] for l in r.S}
                for k in range(len(dom)):
                    groups[next(iter(dom[k]))].extend(r.nodes[k])
                return "found", {l: sorted(g) for l, g in groups.items()}
            k, first = pick
            for l in sorted(dom[k], key=lambda l: (l == first, -cost[k][l], -l)):  # the first choice is popped first
                d2 = list(dom)
                d2[k] = frozenset((l,))
                self.stack.append((d2, set(dom[k])))
        return "none", None


# ---------------------------------------------------------------------------
# solving
# ---------------------------------------------------------------------------
def _read_groups(r: Restriction, x) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {l: [] for l in r.S}
    for (k, l), v in x.items():
        val = v if isinstance(v, int) else v.varValue
        if val is not None and val > 0.5:
            groups[l].extend(r.nodes[k])
    return {l: sorted(g) for l, g in groups.items()}


def moved_of(d: RealignData, groups: dict[int, list[int]]) -> int:
    """People moved by labelled groups: total - Σ_l pop(g_l ∩ l)."""
    total = sum(int(d.pop[i]) for i in d.units)
    return total - sum(int(d.pop[i]) for l, g in groups.items() for i in g if d.base[i] == l)


def _connected(d: RealignData, g: list[int]) -> bool:
    return len(connected_pieces(d.nb, g)) == 1


def _checked_moved(d: RealignData, groups: dict[int, list[int]], S: Sequence[int], source: str) -> int:
    """People moved by a plan from ``source`` (a model or a search), after
    checking that its groups are connected and reach the floor."""
    if not all(_connected(d, g) and sum(int(d.pop[i]) for i in g) >= d.floor for g in groups.values()):
        raise RuntimeError(f"realign: {source} returned an invalid plan for owners {tuple(S)}")
    return moved_of(d, groups)


def wholesale_plan(d: RealignData) -> dict[int, list[int]] | None:
    """A quick incumbent: baseline groups (their connected pieces) kept whole,
    merged by :func:`ccgmerge.engine.heuristics.merge_until_viable` (the smallest group
    below the floor into its least populous neighbour, so a merge moves at most
    the smaller one's people); owners are given greedily by people kept. Keys
    are owner labels (negative: a group keeping no one). None if the block
    cannot reach the floor."""
    pieces: list[list[int]] = []
    for l in range(d.n_labels):
        mem = [i for i in d.units if d.base[i] == l]
        pieces += connected_pieces(d.nb, mem) if mem else []
    groups = merge_until_viable(pieces, d.nb, d.pop, d.floor)
    if groups is None:
        return None
    kept = []
    for k, g in enumerate(groups):
        per: dict[int, int] = {}
        for i in g:
            per[d.base[i]] = per.get(d.base[i], 0) + int(d.pop[i])
        kept += [(p, l, k) for l, p in per.items()]
    owner: dict[int, int] = {}
    used: set[int] = set()
    for p, l, k in sorted(kept, key=lambda e: (-e[0], e[1], e[2])):
        if k not in owner and l not in used:
            owner[k] = l
            used.add(l)
    return {owner.get(k, -1 - k): g for k, g in enumerate(groups)}


#: Share of the time left that solve_realign gives one owner set's connector branch searches;
#: the first slice of each branch (search nodes, doubling each round) and the most nodes a
#: branch is given in all (slices count nodes, not seconds, so that a solve without a time
#: limit is deterministic).
SEARCH_SHARE = 0.6
SEARCH_SLICE = 100
SEARCH_MAX_NODES = 25_600
SEARCH_MAX_TOTAL = 100_000  # all branches of one owner set together


def search_branches(d: RealignData, S: tuple[int, ...], U: int, l: int, connectors: list[tuple[float, tuple[int, ...]]],
                    best: tuple[int, dict[int, list[int]]], deadline: float | None,
                    log: list[dict] | None = None) -> tuple[tuple[int, dict[int, list[int]]], float]:
    """Search every connector branch of label l for a plan moving fewer people
    than ``best`` (value, plan): in branch C, l's group holds C, so the block
    with C given to l (:func:`_give`) holds the branch's plans with pop(C)
    fewer moved; its restricted model, C's nodes forced to l, is searched
    (:func:`search_restriction`) with the cutoff ``UB - 1 - pop(C)``. The
    branches take turns, the slices (search nodes) doubling from
    SEARCH_SLICE, so a branch that finds a plan lowers every cutoff (and the
    searches restart on the smaller restrictions). A branch still open after
    SEARCH_MAX_NODES nodes (SEARCH_MAX_TOTAL for all), or at the deadline,
    stays open with its bound.
    Returns the best (value, plan) and
    the least bound ``U + b`` of the branches left open (``inf`` when every
    branch is closed: no plan of these branches beats the best)."""
    tasks = []
    for b, C in connectors:
        pc = sum(int(d.pop[i]) for i in C)
        tasks.append({"bound": b, "C": C, "pc": pc, "search": None, "open": True})
    slice_ = SEARCH_SLICE
    given = 0  # nodes each branch has been given so far
    spent = 0  # nodes searched in all
    while any(t["open"] for t in tasks) and given < SEARCH_MAX_NODES and spent < SEARCH_MAX_TOTAL:
        if deadline is not None and time.perf_counter() >= deadline:
            break
        slice_ = min(slice_, SEARCH_MAX_NODES - given)
        given += slice_
        for t in tasks:
            if not t["open"]:
                continue
            if U + t["bound"] >= best[0]:
                t["open"] = False
                continue
            if t["search"] is None:
                if "block" not in t:  # C given to l, and its label costs (the same at every cutoff)
                    t["block"] = _give(d, t["C"], l)
                    t["costs"] = {m: _label_options(t["block"], S, m)[0][0][0] for m in S}
                r = restrict(t["block"], S, U, best[0] - U - t["pc"], t["costs"])
                if r is None:
                    t["open"] = False
                    continue
                Cs = set(t["C"])
                t["search"] = _Search(r, d.floor, {k: l for k, nd in enumerate(r.nodes) if Cs.intersection(nd)})
            before = t["search"].count
            status, groups = t["search"].run(best[0] - 1 - t["pc"], deadline, slice_)
            spent += t["search"].count - before
            if status == "found":
                val = _checked_moved(d, groups, S, "the branch search")
                if log is not None:
                    log.append({"owners": S, "branch": l, "connector": t["pc"], "found": val, "nodes": t["search"].count})
                if val < best[0]:
                    best = (val, groups)
                    for t2 in tasks:  # restart on the smaller restrictions of the new cutoff
                        t2["search"] = None
            elif status == "none":
                t["open"] = False
                if log is not None:
                    log.append({"owners": S, "branch": l, "connector": t["pc"], "closed": t["search"].count})
            if deadline is not None and time.perf_counter() >= deadline:
                break
        slice_ *= 2
    left = [U + t["bound"] for t in tasks if t["open"] and U + t["bound"] < best[0]]
    return best, min(left) if left else float("inf")


def solve_realign(d: RealignData, run: Callable, options, deadline: float | None) -> RealignResult:
    """Exact least-moved regrouping of a connected block (see the module docstring).

    ``run(prob, options, time_limit, integral)`` is the solver call
    (:func:`ccgmerge.engine.backends.run`)."""
    total = sum(int(d.pop[i]) for i in d.units)
    lp = d.label_pop()
    sets = owner_sets(d)
    # a single group of everything, owned by its largest baseline group, is a plan
    top = max(range(d.n_labels), key=lambda l: (lp[l], -l))
    best: tuple[int, dict[int, list[int]]] = (total - lp[top], {top: sorted(d.units)})
    whole = wholesale_plan(d)
    if whole is not None and moved_of(d, whole) < best[0]:
        best = (moved_of(d, whole), whole)
    bounds: dict[tuple[int, ...], float] = {}
    log: list[dict] = []
    n_vars = n_cons = 0
    unproven = False
    step0 = int(np.median([int(d.pop[i]) for i in d.units]))  # about one unit's people
    # primal: a heuristic plan for each owner set whose bound is below the best plan, then
    # iterated local search from it; best bounds first, for at most HEURISTIC_SHARE of the time
    t0 = time.perf_counter()
    stop = None if deadline is None else t0 + HEURISTIC_SHARE * max(0.0, deadline - t0)
    all_costs: dict[tuple[int, ...], tuple[dict[int, float], float, dict]] = {}

    def set_costs(S):
        """(c_l per label, owner_set_cost, _label_options per label) of S, computed once."""
        if S not in all_costs:
            opts = {l: _label_options(d, S, l) for l in S}
            all_costs[S] = ({l: opts[l][0][0][0] for l in S}, owner_set_cost(d, S, opts), opts)
        return all_costs[S]

    for LB, U, S in sets:
        if LB >= best[0] or (stop is not None and time.perf_counter() >= stop):
            break
        _, joint, label_opts = set_costs(S)
        if U + joint >= best[0]:
            continue
        plan = heuristic_plan(d, S, stop, label_opts)
        if plan is None:
            continue
        val = moved_of(d, plan)
        entry = {"owners": S, "heuristic": val}
        if val > U + joint:  # not yet at S's bound: search on
            plan = search_plan(d, S, plan, deadline=stop)
            val = entry["search"] = moved_of(d, plan)
        log.append(entry)
        if val < best[0]:
            best = (val, plan)
    for LB, U, S in sets:
        UB = best[0]
        if LB >= UB:
            bounds[S] = UB
            continue
        costs, joint, label_opts = set_costs(S)
        LB = max(LB, U + joint)
        if LB >= UB:
            bounds[S] = UB
            continue
        if deadline is not None and time.perf_counter() >= deadline:
            bounds[S] = LB
            unproven = True
            continue
        pool_time = None if deadline is None else max(1.0, POOL_SHARE * (deadline - time.perf_counter()))
        pool = pool_bound(d, S, U, run, options, pool_time, label_opts)
        log.append({"owners": S, "LB": LB, "pool": pool})
        LB = max(LB, pool)
        # a label joining its free components holds a connector: branch on it, labels in
        # pieces first, then labels whose best candidate pays a corridor
        split = {l for l in S if len(_own_components(d, l, label_opts[l][1])) >= 2}
        paying = {l for l in S if len(label_opts[l][0][0][1]) >= 2}
        def pool_fn(d_, o_):
            left = None if deadline is None else max(1.0, POOL_SHARE * (deadline - time.perf_counter()))
            return pool_bound(d_, S, 0, run, options, left, o_)

        branchable = []  # (open connectors, label, their list) for labels whose other branch is closed
        promising = []  # (least connector bound, label, connectors) of every complete entry
        for l in sorted(split | paying, key=lambda l: (l not in split, l)):
            if LB >= UB or (deadline is not None and time.perf_counter() >= deadline):
                break
            entries = connector_branches(d, S, l, UB - U, label_opts, deadline, pool_fn)
            for e in entries:
                if not e["complete"]:
                    continue
                cc = min([float(UB - U), e["other"]] + [b for b, _ in e["connectors"]])
                log.append({"owners": S, "connector": l, "bound": U + cc})
                LB = max(LB, U + cc)
                if U + e["other"] >= UB:
                    branchable.append((len(e["connectors"]), l, e["connectors"]))
                if e["connectors"]:
                    promising.append((e["connectors"][0][0], l, e["connectors"]))
        if LB < UB and promising and (deadline is None or time.perf_counter() < deadline):
            if branchable:
                # every plan below UB holds one of these connectors: closing them all proves S
                _, l, conns = min(branchable, key=lambda b: (b[0], b[1]))
            else:
                # no branching covers every plan: search the most promising connectors for a
                # better plan only (a plan meeting the bounds above proves S); a connector
                # listed for several B keeps its best bound
                _, l, _ = min(promising, key=lambda b: (b[0], b[1]))
                per: dict[tuple[int, ...], float] = {}
                for _, m, cs in promising:
                    for b, C in cs:
                        if m == l:
                            per[C] = max(per.get(C, b), b)
                conns = sorted((b, C) for C, b in per.items())
            stop = None if deadline is None else time.perf_counter() + SEARCH_SHARE * (deadline - time.perf_counter())
            best, open_bound = search_branches(d, S, U, l, conns, best, stop, log)
            UB = best[0]
            if branchable:
                LB = max(LB, min(open_bound, UB))
        if LB >= UB:
            bounds[S] = UB
            continue
        # The restriction with slack s and the cutoff moved <= U + s - 1 holds exactly the
        # plans of S moving fewer than U + s people: no plan proves S's optimum >= U + s,
        # an optimum is S's optimum. Slacks grow from the bound to UB - U.
        lo, step = LB - U, max(1, step0)
        while True:
            s = min(lo + step, UB - U)
            entry = {"owners": S, "LB": LB, "U": U, "slack": s}
            log.append(entry)
            r = restrict(d, S, U, s, costs)
            if r is None:  # some unit reaches no owner within the slack
                entry["result"] = "empty"
                done, bound_s = False, U + s
            else:
                prob, x = build_realign(r, d.floor, name="realign")
                prob += prob.objective <= U + s - 1, "cutoff"
                n_vars, n_cons = max(n_vars, len(prob.variables())), max(n_cons, len(prob.constraints))
                entry.update(free=sum(1 for f in r.fixed if f is None), nodes=len(r.nodes), vars=len(prob.variables()))
                left = None if deadline is None else max(1.0, deadline - time.perf_counter())
                out = run(prob, options, left, integral=True)
                entry.update(result=out.status.value, objective=out.objective, bound=out.bound, seconds=round(out.seconds, 3))
                if out.objective is not None:
                    groups = _read_groups(r, x)
                    val = _checked_moved(d, groups, S, "the model")
                    if val < best[0]:
                        best = (val, groups)
                    UB = best[0]
                if out.status is Status.INFEASIBLE:
                    done, bound_s = False, U + s
                elif out.status is Status.OPTIMAL:
                    done, bound_s = True, out.objective
                else:  # stopped by the time limit
                    done, bound_s = True, max(U + lo, min(out.bound if out.bound is not None else U + lo, U + s))
                    unproven = True
            if done or U + s >= UB or (deadline is not None and time.perf_counter() >= deadline):
                bounds[S] = max(LB, min(bound_s, UB) if not done else bound_s)
                unproven = unproven or bounds[S] < UB
                break
            lo, step = s, step * 2
    value = best[0]
    bound = min([value] + list(bounds.values()))
    status = Status.OPTIMAL if bound >= value - 1e-9 else Status.FEASIBLE
    groups = [g for _, g in sorted(best[1].items())]
    solved = sum(1 for e in log if "vars" in e)
    detail = (f"realign: {len(sets)} owner sets, {solved} restricted solves"
              + ("; stopped by the time limit" if unproven else ""))
    return RealignResult(groups, status, float(value), float(bound), detail, n_vars, n_cons, log)
