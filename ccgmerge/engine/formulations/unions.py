"""Least-moved regrouping across HWBs: unions of whole HWBs over the realign engine.

In ``aligned`` mode every group lies inside one HWB or is a union of whole
HWBs; in ``nested`` mode every group lies inside one HWB. A plan is a
*structure* -- disjoint unions ``U`` of two or more whole HWBs, each
connected and reaching the floor (none in nested mode) -- and a division of
every other (*internal*) HWB inside its connected pieces ``P``. The people
moved split by where they live::

    moved = Σ_U (pop(U) - pop(U ∩ b_U)) + Σ_P moved_P(labels ownable in P)

where ``b_U`` is the baseline group union ``U`` continues and each piece is
regrouped exactly by the realign engine
(:mod:`ccgmerge.engine.formulations.realign`) with the baseline groups
continued elsewhere unownable. A baseline group with people in several
*holders* (unions or pieces) is continued by at most one of them, so the
search gives each such group to one holder: letting a holder continue a group
never costs it more than forbidding it, so "no holder" is never needed.

**Search.** Structures are enumerated depth first (the lowest HWB not yet
placed is internal, when each of its pieces reaches the floor, or the root of
a union), each with the bound::

    LB = Σ_U (pop(U) - max_b pop(U ∩ b)) + Σ_P bound_P(nothing forbidden)

and evaluated best bound first; within a structure, the holder choices are
evaluated best bound first the same way. Whatever is left when a bound
reaches the best plan, or when time runs out, keeps its bound; the block's
bound is the least of them (and the best plan), so the result is optimal when
every piece run it relied on is proven.

Example: three HWBs in a row, the outer two below the floor of 10::

    A(6) - B(20) - C(5)     A must join B whole; C must join B or A+B:
                            structures {A,B}+{C}? no ({C} is below the floor),
                            {A,B,C}: the only one.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import numpy as np

from ccgmerge.engine.formulations import realign
from ccgmerge.engine.formulations.base import Block, BlockResult
from ccgmerge.engine.subsets import CandidateLimitError, connected_pieces
from ccgmerge.instance import Instance
from ccgmerge.plan import Status
from ccgmerge.scenario import Coterminosity, Scenario

__all__ = ["UnionsData", "unions_data", "union_sets", "structures", "solve_unions",
           "MAX_UNION_SETS", "MAX_STRUCTURES", "MAX_CHOICES", "PIECE_SHARE"]

#: most candidate unions (connected sets of whole HWBs) per block
MAX_UNION_SETS = 20_000
#: most structures per block
MAX_STRUCTURES = 50_000
#: most holder choices evaluated per structure
MAX_CHOICES = 2_000
#: most share of the time left that one piece's realign run may take (so a hard piece
#: leaves time for the other structures: its run keeps its best plan and its bound)
PIECE_SHARE = 0.2


@dataclass
class UnionsData:
    """One block by HWB: ``areas`` (local HWB -> its units), ``pieces`` (global
    list of connected pieces, each a list of units), ``area_pieces`` (local HWB ->
    piece ids), ``internal_ok`` (every piece reaches the floor), the HWB graph
    ``area_nb``, populations, labels (``base[i]``: label of unit i) and the floor."""

    areas: list[list[int]]
    pieces: list[list[int]]
    area_pieces: list[list[int]]
    internal_ok: list[bool]
    area_nb: list[set[int]]
    area_pop: list[int]
    base: dict[int, int]
    n_labels: int
    pop: np.ndarray
    nb: tuple
    floor: int
    unions_allowed: bool
    piece_runs: dict = field(default_factory=dict)
    #: labels no group of this block may continue (continued outside it)
    unownable: frozenset[int] = frozenset()
    #: the baseline code of each label
    codes: tuple[str, ...] = ()
    #: proven piece runs shared between calls: (piece units, forbidden codes) -> run
    shared: dict | None = None

    def label_people(self, units) -> dict[int, int]:
        """People of each label among ``units``."""
        out: dict[int, int] = {}
        for i in units:
            out[self.base[i]] = out.get(self.base[i], 0) + int(self.pop[i])
        return out


def unions_data(inst: Instance, block: Block, scenario: Scenario, unownable: frozenset[str] = frozenset(),
                shared: dict | None = None) -> UnionsData:
    """The block of ``inst`` seen by HWB (main HWB of each unit); ``unownable``: baseline codes no
    group of the block may continue; ``shared``: a cache of proven piece runs kept between calls."""
    main = inst.main_area_index
    F = int(scenario.floor_population)
    by_area: dict[int, list[int]] = {}
    for i in block.units:
        by_area.setdefault(int(main[i]), []).append(i)
    codes = sorted(by_area)
    local = {a: k for k, a in enumerate(codes)}
    areas = [sorted(by_area[a]) for a in codes]
    nb = inst.neighbours
    pop = inst.population
    pieces: list[list[int]] = []
    area_pieces: list[list[int]] = []
    for units in areas:
        ps = connected_pieces(nb, units)
        area_pieces.append(list(range(len(pieces), len(pieces) + len(ps))))
        pieces += ps
    area_nb = [set() for _ in areas]
    for k, units in enumerate(areas):
        for i in units:
            for j in nb[i]:
                a = local.get(int(main[j]))
                if a is not None and a != k:
                    area_nb[k].add(a)
    labels = {c: n for n, c in enumerate(sorted({inst.baseline_codes[i] for i in block.units}))}
    return UnionsData(
        areas=areas, pieces=pieces, area_pieces=area_pieces,
        internal_ok=[all(int(pop[p].sum()) >= F for p in (pieces[q] for q in area_pieces[k])) for k in range(len(areas))],
        area_nb=area_nb, area_pop=[int(pop[u].sum()) for u in areas],
        base={i: labels[inst.baseline_codes[i]] for i in block.units}, n_labels=len(labels), pop=pop, nb=nb, floor=F,
        unions_allowed=scenario.coterminosity is Coterminosity.ALIGNED,
        unownable=frozenset(labels[c] for c in unownable if c in labels), codes=tuple(labels), shared=shared)


def union_sets(d: UnionsData, root: int, free: set[int], limit: int = MAX_UNION_SETS,
               deadline: float | None = None) -> list[tuple[int, ...]]:
    """Unions rooted at HWB ``root``: connected sets of two or more HWBs of
    ``{root} | free`` holding ``root``, whose units are connected and reach the
    floor, sorted. Past ``deadline``: :class:`CandidateLimitError`.

    >>> d = UnionsData([[0], [1], [2]], [[0], [1], [2]], [[0], [1], [2]], [False, True, False],
    ...                [{1}, {0, 2}, {1}], [6, 20, 5], {0: 0, 1: 1, 2: 2}, 3, np.array([6, 20, 5]),
    ...                ((1,), (0, 2), (1,)), 10, True)
    >>> union_sets(d, 0, {1, 2})
    [(0, 1), (0, 1, 2)]
    """
    out: list[tuple[int, ...]] = []
    seen: set[frozenset[int]] = set()
    stack = [frozenset([root])]
    while stack:
        s = stack.pop()
        if deadline is not None and time.perf_counter() > deadline:  # each set may cost a walk of its units
            raise CandidateLimitError(f"unions of whole HWBs: stopped by the time limit after {len(seen):,} sets")
        if len(s) >= 2 and sum(d.area_pop[a] for a in s) >= d.floor:
            units = [i for a in s for i in d.areas[a]]
            if len(connected_pieces(d.nb, units)) == 1:
                out.append(tuple(sorted(s)))
                if len(out) > limit:
                    raise CandidateLimitError(f"more than {limit:,} unions of whole HWBs")
        for a in sorted({b for x in s for b in d.area_nb[x]} & free - s):
            t = s | {a}
            if t not in seen:
                seen.add(t)
                stack.append(t)
    return sorted(out)


def structures(d: UnionsData, limit: int = MAX_STRUCTURES, deadline: float | None = None) -> list[tuple[tuple[int, ...], ...]]:
    """Every structure as its unions (an HWB in no union is internal), HWBs that
    cannot be internal always in a union.

    >>> d = UnionsData([[0], [1], [2]], [[0], [1], [2]], [[0], [1], [2]], [False, True, False],
    ...                [{1}, {0, 2}, {1}], [6, 20, 5], {0: 0, 1: 1, 2: 2}, 3, np.array([6, 20, 5]),
    ...                ((1,), (0, 2), (1,)), 10, True)
    >>> structures(d)
    [((0, 1, 2),)]
    """
    n = len(d.areas)
    out: list[tuple[tuple[int, ...], ...]] = []
    memo: dict[tuple[int, frozenset[int]], list[tuple[int, ...]]] = {}
    calls = [0]

    def rec(placed: frozenset[int], unions: tuple):
        rest = [a for a in range(n) if a not in placed]
        calls[0] += 1
        if deadline is not None and time.perf_counter() > deadline:
            raise CandidateLimitError(f"structures of whole-HWB unions: stopped by the time limit after {calls[0]:,} steps")
        if not rest:
            out.append(unions)
            if len(out) > limit:
                raise CandidateLimitError(f"more than {limit:,} structures of whole-HWB unions")
            return
        a = rest[0]
        if d.internal_ok[a]:
            rec(placed | {a}, unions)
        if not d.unions_allowed:
            return
        free = frozenset(rest[1:])
        key = (a, free)
        if key not in memo:
            memo[key] = union_sets(d, a, set(free), deadline=deadline)
        for u in memo[key]:
            rec(placed | set(u), unions + (u,))

    rec(frozenset(), ())
    return out


def _piece_run(d: UnionsData, q: int, forbidden: frozenset[int], run, options, deadline, share: float = PIECE_SHARE):
    """The realign engine on piece ``q`` with the labels ``forbidden`` unownable,
    once per (piece, forbidden), for at most ``share`` of the time left:
    (value, bound, groups, status)."""
    key = (q, forbidden)
    gkey = None if d.shared is None else (tuple(d.pieces[q]), frozenset(d.codes[l] for l in forbidden))
    if key not in d.piece_runs and gkey in (d.shared or {}):
        d.piece_runs[key] = d.shared[gkey]
    if key not in d.piece_runs:
        units = d.pieces[q]
        rd = realign.block_data(units, d.base, d.n_labels, d.pop, d.nb, d.floor, None, forbidden)
        if rd is None:
            raise CandidateLimitError(f"a piece with more than {realign.MAX_LABELS} baseline groups")
        if deadline is not None:
            now = time.perf_counter()
            deadline = min(deadline, now + max(1.0, share * (deadline - now)))
        rr = realign.solve_realign(rd, run, options, deadline)
        if rr.groups is None:
            d.piece_runs[key] = (None, rr.bound if rr.bound is not None else 0.0, None, rr.status)
        else:
            d.piece_runs[key] = (float(rr.value), float(rr.bound), rr.groups, rr.status)
        if gkey is not None and rr.status is Status.OPTIMAL:
            d.shared[gkey] = d.piece_runs[key]
    return d.piece_runs[key]


def _structure_choices(d: UnionsData, unions, internal_pieces) -> list[tuple[float, dict[int, int]]]:
    """Holder choices of a structure: each label with people in several holders
    given to one (holders: ``("U", k)`` or ``("P", q)``), as (union cost, choice)."""
    holders: dict[int, list[tuple[str, int]]] = {}
    u_people = [d.label_people([i for a in u for i in d.areas[a]]) for u in unions]
    for k, lp in enumerate(u_people):
        for l in lp:
            if l not in d.unownable:
                holders.setdefault(l, []).append(("U", k))
    for q in internal_pieces:
        for l in d.label_people(d.pieces[q]):
            if l not in d.unownable:
                holders.setdefault(l, []).append(("P", q))
    shared = sorted(l for l, h in holders.items() if len(h) >= 2)
    out = []
    for pick in itertools.product(*(range(len(holders[l])) for l in shared)):
        choice = {l: k for l, k in zip(shared, pick)}
        cost = 0.0
        for k, (u, lp) in enumerate(zip(unions, u_people)):
            own = [p for l, p in lp.items() if l in holders and holders[l][choice.get(l, 0)] == ("U", k)]
            cost += sum(lp.values()) - max(own, default=0)
        out.append((cost, {l: holders[l][choice.get(l, 0)] for l in holders}))
        if len(out) > MAX_CHOICES:
            raise CandidateLimitError(f"more than {MAX_CHOICES:,} ways to share baseline groups between holders")
    out.sort(key=lambda e: e[0])
    return out


def _search(d: UnionsData, structs, run, options, deadline, share: float, best):
    """One pass over the structures, best bound first: (best plan, bound, structures evaluated)."""
    free_bound: dict[int, float] = {}

    def base_bound(q: int) -> float:
        if q not in free_bound:
            free_bound[q] = _piece_run(d, q, d.unownable & frozenset(d.label_people(d.pieces[q])), run, options, deadline,
                                       share)[1]
        return free_bound[q]

    def union_lb(u) -> float:
        lp = d.label_people([i for a in u for i in d.areas[a]])
        return sum(lp.values()) - max((p for l, p in lp.items() if l not in d.unownable), default=0)

    scored = []
    for s in structs:
        inside = set(a for u in s for a in u)
        internal = [q for a in range(len(d.areas)) if a not in inside for q in d.area_pieces[a]]
        scored.append((sum(union_lb(u) for u in s) + sum(base_bound(q) for q in internal), s, internal))
    scored.sort(key=lambda e: (e[0], e[1]))
    open_bound = float("inf")
    evaluated = 0
    for lb, s, internal in scored:
        if lb >= best[0]:
            break  # this and every later structure: bound >= the best plan
        if deadline is not None and time.perf_counter() >= deadline:
            open_bound = min(open_bound, lb)
            break
        evaluated += 1
        rest = sum(base_bound(q) for q in internal)
        for ucost, holder in _structure_choices(d, s, internal):
            if ucost + rest >= best[0]:
                break
            if deadline is not None and time.perf_counter() >= deadline:
                open_bound = min(open_bound, ucost + rest)
                break
            value, bound, groups = ucost, ucost, [sorted(i for a in u for i in d.areas[a]) for u in s]
            for q in internal:
                forbidden = frozenset(l for l in d.label_people(d.pieces[q]) if holder.get(l) != ("P", q))
                v, b, g, _ = _piece_run(d, q, forbidden, run, options, deadline, share)
                bound += b
                if g is None:
                    value, groups = float("inf"), None
                else:
                    value += v
                    groups = None if groups is None else groups + [sorted(x) for x in g]
            if groups is not None and value < best[0]:
                best = (value, groups)
            open_bound = min(open_bound, bound)
    return best, min(best[0], open_bound), evaluated


def solve_unions(inst: Instance, block: Block, scenario: Scenario, options, deadline, run,
                 unownable: frozenset[str] = frozenset(), shared: dict | None = None) -> BlockResult:
    """Least moved in ``aligned`` (or multi-piece ``nested``) mode: the search of this module.

    Passes repeat while time is left and the bound is below the best plan, each
    giving the piece runs that were not proven more time (the best plan and the
    best bound of every pass are kept). ``unownable``: baseline codes no group may
    continue; ``shared``: proven piece runs kept between calls (:func:`unions_data`)."""
    t0 = time.perf_counter()
    d = unions_data(inst, block, scenario, unownable, shared)
    structs = structures(d, deadline=deadline)
    if not structs:
        return BlockResult(None, Status.INFEASIBLE, None, None, "labelled", time.perf_counter() - t0,
                           "unions: no structure of whole-HWB unions and internal HWBs reaches the floor")
    best: tuple[float, list[list[int]] | None] = (float("inf"), None)
    bound, share, passes, evaluated = -float("inf"), PIECE_SHARE, 0, 0
    while True:
        best, b, n = _search(d, structs, run, options, deadline, share, best)
        bound, passes, evaluated = max(bound, b), passes + 1, evaluated + n
        unproven = [k for k, r in d.piece_runs.items() if r[3] is not Status.OPTIMAL]
        if bound >= best[0] - 1e-9 or not unproven or deadline is None or time.perf_counter() >= deadline - 1.0:
            break
        for k in unproven:  # run again, each with a larger share of what is left
            del d.piece_runs[k]
        share = min(1.0, 1.0 / len(unproven))
    value, groups = best
    seconds = time.perf_counter() - t0
    unproven = sum(1 for r in d.piece_runs.values() if r[3] is not Status.OPTIMAL)
    detail = (f"unions: {len(structs)} structures, {evaluated} evaluated in {passes} pass(es), "
              f"{len(d.piece_runs)} piece runs" + (f" ({unproven} unproven)" if unproven else ""))
    if groups is None:
        return BlockResult(None, Status.NO_SOLUTION, None, None if bound in (float("inf"), -float("inf")) else bound,
                           "labelled", seconds, detail)
    status = Status.OPTIMAL if bound >= value - 1e-9 else Status.FEASIBLE
    return BlockResult(groups, status, value, min(bound, value), "labelled", seconds, detail)
