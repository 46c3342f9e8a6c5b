"""Least moved at scale: a large-neighbourhood search over windows of baseline groups, and a bound by clusters.

For a block with more baseline groups than the realign engine takes whole
(:data:`~ccgmerge.engine.formulations.realign.MAX_LABELS`), such as a region's
LSOAs, a plan is improved window by window. A plan is a set of groups, each
continuing (*owned by*) at most one baseline group (its *label*); people
moved split by group::

    moved = Σ_g (pop(g) - pop(g ∩ owner(g)))

A *window* is a baseline group and its nearest neighbouring baseline groups
(breadth first on the graph of baseline groups whose units touch), at most
:data:`WINDOW_LABELS`. Its *neighbourhood* is every group the window's labels
own plus the unowned groups touching them; those units are regrouped exactly
by the realign engine with the labels owned elsewhere unownable (so the
owners stay distinct across the plan), and the result replaces them when it
moves fewer people. Every other group stays as it is, so the plan stays a
plan and ``moved`` never grows. Windows are taken in the order of their
labels, passes repeat until one improves nothing or time runs out; without a
time limit the search is deterministic.

The start is the wholesale plan (baseline pieces kept whole, merged until
viable: :func:`~ccgmerge.engine.formulations.realign.wholesale_plan`) or a
better plan given by the caller. The search proves nothing; the bound comes
from :func:`count_bound` (people of baseline groups no group continues, and
the people each continuing group needs to reach the floor, counted) and
:func:`cluster_bound` (the labels cut into clusters of at most
:data:`CLUSTER_LABELS`, each cluster's people moved bounded by the realign
engine on a relaxation in which the cluster's outside neighbours are free),
whichever is higher.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from ccgmerge.engine.formulations import realign
from ccgmerge.engine.subsets import connected_pieces
from ccgmerge.plan import Status

__all__ = ["WINDOW_LABELS", "WINDOW_SHARE", "WINDOW_SECONDS", "owned_plan", "plan_moved", "label_graph", "windows", "improve_by_windows", "window_note",
           "CLUSTER_LABELS", "clusters", "cluster_bound", "count_bound"]

#: most baseline groups a window frees
WINDOW_LABELS = 6
#: most share of the time left one window's realign run may take
WINDOW_SHARE = 0.1
#: most seconds one window's realign run may take under a time limit (more windows, sooner)
WINDOW_SECONDS = 4.0


def owned_plan(groups: Sequence[Sequence[int]], base: dict[int, int], pop: np.ndarray) -> dict[int, list[int]]:
    """Groups keyed by the label each continues (a maximum-weight assignment of
    groups to labels by people kept; negative keys: groups continuing none).

    >>> owned_plan([[0, 1], [2]], {0: 0, 1: 1, 2: 1}, np.array([5, 3, 4]))
    {0: [0, 1], 1: [2]}
    """
    labels = sorted({base[i] for g in groups for i in g})
    col = {l: k for k, l in enumerate(labels)}
    kept = np.zeros((len(groups), len(labels)))
    for r, g in enumerate(groups):
        for i in g:
            kept[r, col[base[i]]] += int(pop[i])
    rows, cols = linear_sum_assignment(kept, maximize=True)
    out: dict[int, list[int]] = {}
    owner = {int(r): labels[int(c)] for r, c in zip(rows, cols) if kept[r, c] > 0}
    free = -1
    for r, g in enumerate(groups):
        if r in owner:
            out[owner[r]] = sorted(g)
        else:
            out[free] = sorted(g)
            free -= 1
    return dict(sorted(out.items()))


def label_graph(units: Sequence[int], base: dict[int, int], nb) -> dict[int, set[int]]:
    """Labels whose units touch."""
    out: dict[int, set[int]] = {}
    for i in units:
        out.setdefault(base[i], set())
        for j in nb[i]:
            if j in base and base[j] != base[i]:
                out[base[i]].add(base[j])
    return out


def windows(lg: dict[int, set[int]], size: int = WINDOW_LABELS) -> list[tuple[int, ...]]:
    """One window per label: the label and its nearest labels breadth first (ties by
    label), at most ``size``; duplicates dropped.

    >>> windows({0: {1}, 1: {0, 2}, 2: {1}}, size=2)
    [(0, 1), (1, 2)]
    """
    out: list[tuple[int, ...]] = []
    for l in sorted(lg):
        seen, frontier = [l], [l]
        while frontier and len(seen) < size:
            nxt = sorted({m for x in frontier for m in lg[x]} - set(seen))
            seen += nxt[: size - len(seen)]
            frontier = nxt
        w = tuple(sorted(seen))
        if w not in out:
            out.append(w)
    return out


def plan_moved(groups: dict[int, list[int]], base, pop) -> int:
    """People moved by groups keyed by owner (negative keys: owning none).

    >>> plan_moved({0: [0, 1], -1: [2]}, {0: 0, 1: 1, 2: 1}, np.array([5, 3, 4]))
    7
    """
    return sum(int(pop[i]) for k, g in groups.items() for i in g if base[i] != k)


def improve_by_windows(units: Sequence[int], base: dict[int, int], n_labels: int, pop: np.ndarray, nb, floor: int,
                       start: dict[int, list[int]] | None, run, options, deadline: float | None,
                       size: int = WINDOW_LABELS) -> tuple[dict[int, list[int]], dict]:
    """The plan (groups keyed by owner) after passes of window regrouping, and a log
    (``start``, ``moved``, ``passes``, ``windows``, ``improved``).

    ``start`` (groups keyed by owner, see :func:`owned_plan`) defaults to the wholesale plan;
    None is returned as the plan when there is neither."""
    inside = set(units)
    adj = {i: [j for j in nb[i] if j in inside] for i in units}
    if start is None:
        whole = realign.wholesale_plan(realign.RealignData(sorted(units), base, n_labels, pop, adj, int(floor)))
        if whole is None:
            return None, {"start": None}
        start = owned_plan(list(whole.values()), base, pop)
    plan = dict(start)
    log = {"start": plan_moved(plan, base, pop), "passes": 0, "windows": 0, "improved": 0}
    lg = label_graph(units, base, adj)
    wins = windows(lg, size)
    improved = True
    while improved:
        improved = False
        log["passes"] += 1
        for w in wins:
            now = time.perf_counter()
            if deadline is not None and now >= deadline:
                log["moved"] = plan_moved(plan, base, pop)
                return plan, log
            ws = set(w)
            owned = [k for k in plan if k in ws]
            touch = {j for k in owned for i in plan[k] for j in adj[i]}
            keys = owned + [k for k in plan if k < 0 and touch.intersection(plan[k])]
            sub = sorted(i for k in keys for i in plan[k])
            if not sub or len(connected_pieces(adj, sub)) != 1:
                continue
            owned_elsewhere = {k for k in plan if k >= 0 and k not in ws}
            unownable = frozenset({base[i] for i in sub} & owned_elsewhere)
            rd = realign.block_data(sub, base, n_labels, pop, adj, floor, None, unownable)
            if rd is None:
                continue
            stop = None if deadline is None else now + min(WINDOW_SECONDS, max(1.0, WINDOW_SHARE * (deadline - now)))
            rr = realign.solve_realign(rd, run, options, stop)
            log["windows"] += 1
            before = plan_moved({k: plan[k] for k in keys}, base, pop)
            if rr.groups is None or rr.value >= before:
                continue
            for k in keys:
                del plan[k]
            free = min([0] + [k for k in plan if k < 0]) - 1
            for k, g in zip(rr.owners, rr.groups):
                if k < 0:
                    k, free = free, free - 1
                plan[k] = sorted(g)
            plan = dict(sorted(plan.items()))
            improved = True
            log["improved"] += 1
        if deadline is None and log["passes"] >= 50:
            break
    log["moved"] = plan_moved(plan, base, pop)
    return plan, log


def window_note(log: dict) -> str:
    """The search's log in words."""
    return (f"windows: {log.get('passes', 0)} pass(es), {log.get('windows', 0)} windows solved, {log.get('improved', 0)} "
            f"improved; moved {log.get('start') or 0:,} -> {log.get('moved') or 0:,}")


#: most baseline groups in one cluster of :func:`cluster_bound`
CLUSTER_LABELS = 12


def clusters(lg: dict[int, set[int]], size: int = CLUSTER_LABELS) -> list[list[int]]:
    """The labels cut into clusters of at most ``size``, each grown breadth first from
    the lowest label not yet placed (neighbours with the most placed neighbours first).

    >>> clusters({0: {1}, 1: {0, 2}, 2: {1, 3}, 3: {2}}, size=2)
    [[0, 1], [2, 3]]
    """
    placed: set[int] = set()
    out = []
    for l in sorted(lg):
        if l in placed:
            continue
        c = [l]
        placed.add(l)
        while len(c) < size:
            near = {m for x in c for m in lg[x]} - placed
            if not near:
                break
            m = min(near, key=lambda m: (-len(lg[m] & set(c)), m))
            c.append(m)
            placed.add(m)
        out.append(sorted(c))
    return out


def cluster_bound(units: Sequence[int], base: dict[int, int], n_labels: int, pop: np.ndarray, nb, floor: int, run,
                  options, deadline: float | None, size: int = CLUSTER_LABELS) -> tuple[float, list[dict]]:
    """A proven lower bound on the people moved: the sum over clusters ``C`` of labels of
    a bound on ``moved_C = Σ_{l ∈ C} (pop(l) - kept(l))``, the people of C's labels moved.

    For each cluster the realign engine bounds a relaxation: the units of C's labels and
    their outside neighbours ``Bd``; each unit of ``Bd`` holds ``floor`` people of an
    unownable label and the units of ``Bd`` all touch each other. Any plan restricted to
    these units is a plan of the relaxation (a group holding outside units holds one of
    ``Bd``, which reaches the floor and joins its pieces) that keeps the same people of C,
    so ``moved_C >= bound(relaxation) - floor * |Bd|``; the people moved split by their
    baseline group, so the sum is a bound. Returns (bound, one log entry per cluster)."""
    inside = set(units)
    adj = {i: [j for j in nb[i] if j in inside] for i in units}
    lg = label_graph(units, base, adj)
    total_bound, log = 0.0, []
    cs = clusters(lg, size)
    for k, c in enumerate(cs):
        cset = set(c)
        own = [i for i in units if base[i] in cset]
        bd = sorted({j for i in own for j in adj[i] if base[j] not in cset})
        out_label = n_labels  # one extra, unownable label
        sub_base = {i: base[i] for i in own}
        sub_base.update({j: out_label for j in bd})
        pop2 = np.array(pop, dtype=np.int64, copy=True)
        pop2[bd] = int(floor)
        bdset = set(bd)
        sub = set(own) | bdset
        sub_nb = {i: [j for j in adj[i] if j in sub] for i in own}
        sub_nb.update({j: sorted({x for x in adj[j] if x in sub} | (bdset - {j})) for j in bd})
        rd = realign.block_data(sorted(sub), sub_base, n_labels + 1, pop2, sub_nb, floor, None, frozenset([out_label]))
        entry = {"cluster": c, "units": len(own), "border": len(bd)}
        if rd is None:
            entry["bound"] = 0.0  # not taken by the engine: moved_C >= 0
        else:
            now = time.perf_counter()
            stop = None if deadline is None else now + max(0.5, (deadline - now) / (len(cs) - k))
            rr = realign.solve_realign(rd, run, options, stop)
            b = 0.0 if rr.bound is None else max(0.0, float(rr.bound) - float(floor) * len(bd))
            entry.update(bound=b, status=rr.status.value)
        total_bound += entry["bound"]
        log.append(entry)
    return total_bound, log


def count_bound(units: Sequence[int], base: dict[int, int], pop: np.ndarray, floor: int, run, options,
                deadline: float | None) -> float:
    """A proven lower bound on the people moved, by counting::

        moved >= min over owned sets S, |S| <= total // floor, of
                 max(Σ_{l ∉ S} pop(l), Σ_{l ∈ S} max(0, floor - pop(l)))

    The people of a baseline group no group continues all move; the group continuing
    ``l`` holds at least ``floor - pop(l)`` people of other baseline groups, all moved,
    and groups are disjoint. Solved as a small integer programme (one binary per label);
    a solver that ends early gives its bound, none gives 0.

    >>> from ccgmerge.engine.backends import SolverOptions, run
    >>> count_bound([0, 1, 2], {0: 0, 1: 1, 2: 2}, np.array([5, 5, 9]), 10, run, SolverOptions(), None)
    10.0
    """
    import pulp

    lp: dict[int, int] = {}
    for i in units:
        lp[base[i]] = lp.get(base[i], 0) + int(pop[i])
    total = sum(lp.values())
    prob = pulp.LpProblem("count_bound", pulp.LpMinimize)
    y = {l: pulp.LpVariable(f"y_{l}", cat="Binary") for l in sorted(lp)}
    m = pulp.LpVariable("moved", lowBound=0)
    prob += m
    prob += m >= pulp.lpSum(lp[l] * (1 - y[l]) for l in y), "unowned_move"
    prob += m >= pulp.lpSum(max(0, floor - lp[l]) * y[l] for l in y), "owned_fill"
    prob += pulp.lpSum(y.values()) <= (total // floor if floor > 0 else len(y)), "groups"
    left = None if deadline is None else max(1.0, deadline - time.perf_counter())
    out = run(prob, options, left, integral=True)
    if out.status is Status.OPTIMAL and out.objective is not None:
        return float(out.objective)
    return float(out.bound) if out.bound is not None else 0.0
