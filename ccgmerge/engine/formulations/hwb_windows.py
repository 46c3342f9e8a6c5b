"""Least moved in ``aligned`` mode at scale: the unions search window by window of HWBs, and a bound by HWB.

A block with more HWBs than the unions search (:mod:`.unions`) takes whole
(:data:`DIRECT_MAX_HWBS`), such as a region's or all of England's LSOAs, or
one whose structures it cannot enumerate, is planned in *parts*: a part is a
union of whole HWBs (one group), or one HWB divided inside.

**Start.** The HWBs are cut into clusters of at most :data:`START_HWBS`
(:func:`start_clusters`): an HWB that cannot be planned alone joins the
neighbouring cluster it shares most baseline people with among those it can
be planned with (then the smallest), then neighbours
sharing baseline people merge, most shared first. Each cluster is planned by
the unions search with every baseline group ownable; across the plan the
owners are a maximum-weight assignment
(:func:`~ccgmerge.engine.formulations.windows.owned_plan`), so ``moved`` is
counted as for any plan.

**Windows.** A window is a part and neighbouring parts (first the other
partners of its HWBs that must be in a union, then those sharing most
baseline people with it), at most :data:`WINDOW_HWBS` HWBs in all. Its HWBs
are planned again by the unions search, with the baseline groups continued
outside the window unownable when the group continuing them keeps at least
as many of their people as the window holds; the result replaces the
window's groups when the whole plan then moves fewer people (owners assigned
afresh), so ``moved`` never grows.

Passes repeat until time runs out or one improves nothing with windows of
:data:`MAX_WINDOW_HWBS` HWBs, none cut short by the time limit: after a pass
that improves nothing, windows get two more HWBs (up to that many) and, when
some window's search was cut short, twice the time. Without a time limit the
search is deterministic (and stops after :data:`MAX_PASSES` passes).

**Bound**: the larger of :func:`~ccgmerge.engine.formulations.aligned_bound.aligned_bound`
(people moved HWB by HWB, cluster by cluster) and
:func:`~ccgmerge.engine.formulations.windows.count_bound`, which holds for any plan;
computed after the start (its realign runs are shared with the windows), and the windows
stop when the plan meets it.

Example: four HWBs in a row, each its own baseline group, floor 10::

    A(6) - B(6) - C(6) - D(6)     no HWB can stand alone: A+B and C+D (or A..D) move
                                  12 people; by HWB alone 0, by roles (two keepers, two
                                  donors) 12, and the counting bound 12
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ccgmerge.engine.formulations import windows
from ccgmerge.engine.formulations.aligned_bound import BOUND_HWBS, aligned_bound
from ccgmerge.engine.formulations.base import Block, BlockResult, Formulation, SolveContext, moved_why_not_exact, time_left
from ccgmerge.engine.formulations.unions import UnionsData, solve_unions, structures, unions_data
from ccgmerge.engine.heuristics import aligned_greedy_merge
from ccgmerge.engine.subsets import CandidateLimitError, connected_pieces
from ccgmerge.instance import Instance
from ccgmerge.plan import Status
from ccgmerge.scenario import Coterminosity, Scenario

__all__ = ["DIRECT_MAX_HWBS", "START_HWBS", "WINDOW_HWBS", "sub_data", "plannable", "start_clusters", "parts_of",
           "window_around", "improve_by_hwb_windows", "solve_aligned_at_scale", "Unions", "UNIONS"]

#: most HWBs the unions search takes whole; larger aligned blocks are planned by windows
DIRECT_MAX_HWBS = 16
#: most HWBs of a start cluster (more when an HWB cannot be planned otherwise)
START_HWBS = 4
#: most HWBs :func:`plannable` searches, and most seconds it takes
PLANNABLE_MAX_HWBS = 8
PLANNABLE_SECONDS = 0.5
#: most HWBs a window frees (more when one union is larger)
WINDOW_HWBS = 6
#: most HWBs a window frees after passes that improved nothing (two more each time)
MAX_WINDOW_HWBS = 10
#: most seconds one window's search may take under a time limit (doubled after a pass that
#: improved nothing while some window was cut short)
WINDOW_SECONDS = 10.0
#: most share of the time left one window's search may take
WINDOW_SHARE = 0.1
#: share of the time left for the start, and of what is left then for the bound (computed
#: before the windows, which stop when the plan meets it)
START_SHARE = 0.35
BOUND_SHARE = 0.2
#: most passes of the window search
MAX_PASSES = 20


def sub_data(d: UnionsData, hwbs) -> UnionsData:
    """``d`` restricted to the local HWBs ``hwbs`` (renumbered in sorted order)."""
    hwbs = sorted(hwbs)
    loc = {a: k for k, a in enumerate(hwbs)}
    pieces: list[list[int]] = []
    area_pieces: list[list[int]] = []
    for a in hwbs:
        area_pieces.append(list(range(len(pieces), len(pieces) + len(d.area_pieces[a]))))
        pieces += [d.pieces[q] for q in d.area_pieces[a]]
    return UnionsData(areas=[d.areas[a] for a in hwbs], pieces=pieces, area_pieces=area_pieces,
                      internal_ok=[d.internal_ok[a] for a in hwbs],
                      area_nb=[{loc[b] for b in d.area_nb[a] if b in loc} for a in hwbs],
                      area_pop=[d.area_pop[a] for a in hwbs], base=d.base, n_labels=d.n_labels, pop=d.pop, nb=d.nb,
                      floor=d.floor, unions_allowed=d.unions_allowed, codes=d.codes)


def plannable(d: UnionsData, hwbs) -> bool:
    """Whether the HWBs ``hwbs`` can be planned on their own (some structure of theirs exists);
    assumed for more than :data:`PLANNABLE_MAX_HWBS` HWBs or when the search for a structure takes
    longer than :data:`PLANNABLE_SECONDS` (it may have to try every union when there is none).

    >>> import numpy as np
    >>> d = UnionsData([[0], [1], [2]], [[0], [1], [2]], [[0], [1], [2]], [False, True, False],
    ...                [{1}, {0, 2}, {1}], [6, 20, 5], {0: 0, 1: 1, 2: 2}, 3, np.array([6, 20, 5]),
    ...                ((1,), (0, 2), (1,)), 10, True)
    >>> plannable(d, [0]), plannable(d, [0, 1]), plannable(d, [1])
    (False, True, True)
    """
    if all(d.internal_ok[a] for a in hwbs):
        return True
    if len(hwbs) > PLANNABLE_MAX_HWBS:
        return True  # assumed (no structure may exist: the start then takes the greedy plan)
    try:
        return bool(structures(sub_data(d, hwbs), limit=1, deadline=time.perf_counter() + PLANNABLE_SECONDS))
    except CandidateLimitError:  # more than one structure, or not decided in time (assumed)
        return True


def _affinity(p: dict[int, int], q: dict[int, int]) -> int:
    """Baseline people two sets of HWBs share: Σ_b min(pop(P ∩ b), pop(Q ∩ b))."""
    return sum(min(v, q[l]) for l, v in p.items() if l in q)


def _add(p: dict[int, int], q: dict[int, int]) -> dict[int, int]:
    out = dict(p)
    for l, v in q.items():
        out[l] = out.get(l, 0) + v
    return out


def start_clusters(d: UnionsData, size: int = START_HWBS, deadline: float | None = None) -> list[tuple[int, ...]] | None:
    """The local HWBs cut into clusters that can each be planned alone, at most ``size`` HWBs where
    possible (see the module docstring); None when an HWB cannot be planned with any neighbour.
    Past ``deadline`` the clusters stay as they are.

    >>> import numpy as np
    >>> d = UnionsData([[0], [1], [2]], [[0], [1], [2]], [[0], [1], [2]], [False, True, False],
    ...                [{1}, {0, 2}, {1}], [6, 20, 5], {0: 0, 1: 1, 2: 2}, 3, np.array([6, 20, 5]),
    ...                ((1,), (0, 2), (1,)), 10, True)
    >>> start_clusters(d)
    [(0, 1, 2)]
    """
    n = len(d.areas)
    cl: dict[int, tuple[int, ...]] = {a: (a,) for a in range(n)}
    of = list(range(n))
    people = {a: d.label_people(d.areas[a]) for a in range(n)}

    def neighbours(c: int) -> list[int]:
        return sorted({of[b] for a in cl[c] for b in d.area_nb[a]} - {c})

    def merge(c: int, o: int) -> None:
        keep, gone = min(c, o), max(c, o)
        cl[keep] = tuple(sorted(cl[keep] + cl.pop(gone)))
        people[keep] = _add(people[keep], people.pop(gone))
        for a in cl[keep]:
            of[a] = keep

    def late() -> bool:
        return deadline is not None and time.perf_counter() > deadline

    changed = True
    while changed and not late():
        changed = False
        for c in sorted(cl):
            if late():
                break
            if c in cl and not plannable(d, cl[c]):
                nbrs = sorted(neighbours(c), key=lambda o: (-_affinity(people[c], people[o]), len(cl[o]), o))
                if not nbrs:
                    return None
                # the first neighbour (most shared people, then the smallest) with which it can be planned,
                # else the first: a larger cluster may need more than one
                merge(c, next((o for o in nbrs if plannable(d, cl[c] + cl[o])), nbrs[0]))
                changed = True
    while not late():
        pairs = [(_affinity(people[c], people[o]), c, o) for c in sorted(cl) for o in neighbours(c)
                 if o > c and len(cl[c]) + len(cl[o]) <= size]
        pairs = [p for p in pairs if p[0] > 0]
        if not pairs:
            break
        _, c, o = max(pairs, key=lambda p: (p[0], -p[1], -p[2]))
        merge(c, o)
    return [cl[c] for c in sorted(cl)]


def parts_of(groups, hwb_of: dict[int, int]) -> dict[tuple[int, ...], list[list[int]]]:
    """The plan's parts: the HWBs of each union with its group, each HWB divided inside with its groups.

    >>> parts_of([[0, 1, 2], [3], [4]], {0: 0, 1: 0, 2: 1, 3: 2, 4: 2})
    {(0, 1): [[0, 1, 2]], (2,): [[3], [4]]}
    """
    out: dict[tuple[int, ...], list[list[int]]] = {}
    for g in groups:
        out.setdefault(tuple(sorted({hwb_of[i] for i in g})), []).append(sorted(g))
    return dict(sorted(out.items()))


def window_around(seed: tuple[int, ...], parts, d: UnionsData, size: int = WINDOW_HWBS,
                  hwb_people: Sequence[dict[int, int]] | None = None) -> tuple[tuple[int, ...], ...]:
    """The part ``seed`` and neighbouring parts, while the window has at most ``size`` HWBs: first
    those touching an HWB of the window that cannot be divided inside (it must be in a union: they
    are its other partners), then those sharing most baseline people with the window (ties: the
    lower HWB). ``hwb_people``: each HWB's people by baseline group, when the caller has them."""
    hp = hwb_people if hwb_people is not None else [d.label_people(units) for units in d.areas]

    def people_of(hwbs) -> dict[int, int]:
        out: dict[int, int] = {}
        for a in hwbs:
            out = _add(out, hp[a])
        return out

    part_of = {a: key for key in parts for a in key}
    win = [seed]
    people = people_of(seed)
    n = len(seed)
    while True:
        cands = sorted({part_of[b] for key in win for a in key for b in d.area_nb[a]} - set(win))
        cands = [c for c in cands if n + len(c) <= size]
        if not cands:
            break
        # first the parts touching an HWB of the window that must be in a union (other partners
        # for it), then those sharing most baseline people, then the lowest HWB
        needy = {b for key in win for a in key if not d.internal_ok[a] for b in d.area_nb[a]}
        scored = [(bool(needy.intersection(c)), _affinity(people, people_of(c)), c) for c in cands]
        best = max(scored, key=lambda e: (e[0], e[1], [-a for a in e[2]]))[2]
        win.append(best)
        n += len(best)
        people = _add(people, people_of(best))
    return tuple(sorted(win))


def improve_by_hwb_windows(inst: Instance, scenario: Scenario, d: UnionsData, groups: list[list[int]], run, options,
                           deadline: float | None, shared: dict, size: int = WINDOW_HWBS,
                           target: float = 0.0) -> tuple[list[list[int]], dict]:
    """The plan after passes of window regrouping (see the module docstring), stopping early when it
    moves no more than ``target`` (a proven bound), and a log (``start``, ``moved``, ``passes``,
    ``windows``, ``improved``, ``size``: the last windows' most HWBs)."""
    hwb_of = {i: a for a, units in enumerate(d.areas) for i in units}

    def moved(gs) -> int:
        return windows.plan_moved(windows.owned_plan(gs, d.base, d.pop), d.base, d.pop)

    hwb_people = [d.label_people(units) for units in d.areas]

    def refresh(gs):
        """The parts, the owners and the people each owner keeps of its own baseline group."""
        owners = windows.owned_plan(gs, d.base, d.pop)
        kept = {k: sum(int(d.pop[i]) for i in g if d.base[i] == k) for k, g in owners.items() if k >= 0}
        return parts_of(gs, hwb_of), owners, kept

    current = moved(groups)
    parts, owners, kept = refresh(groups)
    log = {"start": current, "passes": 0, "windows": 0, "improved": 0}
    cap = WINDOW_SECONDS
    while deadline is not None or log["passes"] < MAX_PASSES:
        improved, unproven = False, 0
        log["passes"] += 1
        tried: set = set()
        for h in range(len(d.areas)):
            now = time.perf_counter()
            if (deadline is not None and now >= deadline) or current <= target:
                log["moved"], log["size"] = current, size
                return groups, log
            seed = next(key for key in parts if h in key)
            if seed[0] != h:
                continue  # one window per part (from its lowest HWB)
            win = window_around(seed, parts, d, size, hwb_people)
            if win in tried:
                continue
            tried.add(win)
            inside = {a for key in win for a in key}
            mine = {k: g for k, g in owners.items() if hwb_of[g[0]] in inside}
            if windows.plan_moved(mine, d.base, d.pop) == 0:
                continue
            units = sorted(i for a in inside for i in d.areas[a])
            # a baseline group continued outside stays there when its group keeps at least as many of
            # its people as the window holds (the new plan is judged whole, so others may move)
            held: dict[int, int] = {}
            for a in inside:
                held = _add(held, hwb_people[a])
            elsewhere = frozenset(d.codes[k] for k, n in kept.items() if k not in mine and n >= held.get(k, 0))
            stop = None if deadline is None else now + min(cap, max(1.0, WINDOW_SHARE * (deadline - now)))
            try:
                res = solve_unions(inst, Block(units, f"window of {len(inside)} HWBs"), scenario, options, stop, run,
                                   unownable=elsewhere, shared=shared)
            except CandidateLimitError:
                continue
            log["windows"] += 1
            unproven += res.status is not Status.OPTIMAL
            if res.groups is None:
                continue
            trial = sorted([g for g in groups if hwb_of[g[0]] not in inside] + [sorted(g) for g in res.groups])
            after = moved(trial)
            if after >= current:
                continue
            groups, current = trial, after
            parts, owners, kept = refresh(groups)
            improved = True
            log["improved"] += 1
        if current <= target:
            break
        if not improved:
            timed_out = deadline is not None and unproven
            if size >= MAX_WINDOW_HWBS and not timed_out:
                break
            size = min(MAX_WINDOW_HWBS, size + 2)  # nothing improved: larger windows
            if timed_out:
                cap *= 2  # ... and some were cut short: more time for each
    log["size"], log["moved"] = size, current
    return groups, log


def _start_plan(inst, scenario, d: UnionsData, run, options, deadline, shared,
                size: int = START_HWBS) -> tuple[list[list[int]] | None, str]:
    """Each start cluster planned by the unions search (its own share of the time), or the greedy
    aligned plan of the whole block when a cluster gets none."""
    clusters = start_clusters(d, size, deadline)
    units_all = sorted(i for units in d.areas for i in units)
    greedy = f"the greedy aligned plan ({{}}; {0 if clusters is None else len(clusters)} start clusters)"
    if clusters is None:
        g = aligned_greedy_merge(inst, scenario, units_all)
        return g, greedy.format("an HWB cannot be planned with its neighbours")
    groups: list[list[int]] = []
    for k, c in enumerate(clusters):
        units = sorted(i for a in c for i in d.areas[a])
        now = time.perf_counter()
        found = None
        if deadline is None or now < deadline:
            stop = None if deadline is None else now + max(1.0, (deadline - now) / (len(clusters) - k))
            try:
                found = solve_unions(inst, Block(units, f"cluster of {len(c)} HWBs"), scenario, options, stop, run,
                                     shared=shared).groups
            except CandidateLimitError:
                pass
        if found is None:
            found = aligned_greedy_merge(inst, scenario, units)
        if found is None:
            g = aligned_greedy_merge(inst, scenario, units_all)
            return g, greedy.format(f"cluster {k + 1} found no plan")
        groups += [sorted(g) for g in found]
    return sorted(groups), f"{len(clusters)} start clusters of at most {size} HWBs where possible"


def solve_aligned_at_scale(inst: Instance, block: Block, scenario: Scenario, options, deadline, run, *,
                           start_hwbs: int = START_HWBS, window_hwbs: int = WINDOW_HWBS) -> BlockResult:
    """Least moved in ``aligned`` mode on a block of many HWBs: start, windows and bound of the module
    docstring, with start clusters of at most ``start_hwbs`` HWBs and windows of at most ``window_hwbs``."""
    t0 = time.perf_counter()
    d = unions_data(inst, block, scenario)
    shared: dict = {}
    left = time_left(deadline)
    stop = None if left is None else t0 + START_SHARE * left
    groups, start_note = _start_plan(inst, scenario, d, run, options, stop, shared, start_hwbs)
    if groups is None:
        return BlockResult(None, Status.NO_SOLUTION, None, None, "labelled", time.perf_counter() - t0,
                           f"aligned windows: no start plan ({start_note})")
    # the bound before the windows, which stop when the plan meets it
    stop = None if left is None else time.perf_counter() + BOUND_SHARE * left
    units = sorted(block.units)
    clusters = start_clusters(d, BOUND_HWBS, stop) or [(a,) for a in range(len(d.areas))]
    hb, blog = aligned_bound(d, clusters, run, options, stop, shared)
    counted = windows.count_bound(units, d.base, d.pop, d.floor, run, options,
                                  None if stop is None else max(stop, time.perf_counter() + 1.0))
    groups, log = improve_by_hwb_windows(inst, scenario, d, groups, run, options, deadline, shared, window_hwbs,
                                         target=max(hb, counted))
    moved = log["moved"]
    lb = min(float(moved), max(hb, counted))
    detail = (f"aligned windows over {len(d.areas)} HWBs: {start_note}; moved {log['start']:,} -> {moved:,} in "
              f"{log['passes']} pass(es), {log['windows']} windows (last of at most {log['size']} HWBs), {log['improved']} improved; bound {max(hb, counted):,.0f}: "
              f"the larger of the HWB bound {hb:,.0f} (by clusters {blog['by_clusters']:,.0f}: {blog['clusters']} clusters, "
              f"{blog['cut']} cut short; by roles {blog['by_roles']:,.0f}; "
              f"{blog['runs']} realign runs, {blog['unproven']} unproven, {blog['skipped']} skipped) "
              f"and the counting bound {counted:,.0f}")
    status = Status.OPTIMAL if lb >= moved else Status.FEASIBLE
    return BlockResult(groups, status, float(moved), lb, "labelled", time.perf_counter() - t0, detail)


def _hwbs(inst: Instance, block: Block) -> int:
    main = inst.main_area_index
    return len({int(main[i]) for i in block.units})


class Unions(Formulation):
    """Least moved in aligned mode (and nested mode over several HWB pieces): unions of whole HWBs,
    realign inside; by windows of HWBs on a block of more than :data:`DIRECT_MAX_HWBS` HWBs."""

    name = "labelled"
    requires = ("the 'moved' objective alone with a baseline grouping, no ceiling, limits or locks, contiguity on and "
                "coterminosity aligned or nested")

    def why_not_exact(self, instance, scenario):
        reason = moved_why_not_exact(instance, scenario)
        if reason:
            return reason
        if scenario.alone or scenario.together or scenario.apart:
            return "locks"
        if scenario.coterminosity not in (Coterminosity.ALIGNED, Coterminosity.NESTED):
            return f"coterminosity {scenario.coterminosity.value}"
        return None

    def accepts(self, instance, block, scenario, forced):
        if scenario.coterminosity is Coterminosity.ALIGNED:
            return True
        main = instance.main_area_index
        by_area: dict[int, list[int]] = {}
        for i in block.units:
            by_area.setdefault(int(main[i]), []).append(i)
        return len(by_area) >= 2 or len(connected_pieces(instance.neighbours, block.units)) >= 2

    def solve_block(self, instance, block, scenario, ctx: SolveContext) -> BlockResult:
        aligned = scenario.coterminosity is Coterminosity.ALIGNED
        if aligned and _hwbs(instance, block) > DIRECT_MAX_HWBS:
            return solve_aligned_at_scale(instance, block, scenario, ctx.options, ctx.deadline, ctx.run)
        try:
            return solve_unions(instance, block, scenario, ctx.options, ctx.deadline, ctx.run)
        except CandidateLimitError:
            if not aligned:
                raise
            return solve_aligned_at_scale(instance, block, scenario, ctx.options, ctx.deadline, ctx.run)


UNIONS = Unions()
