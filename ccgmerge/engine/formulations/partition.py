"""The partition formulation: set partitioning over unsplittable viable groups.

Exact for objectives and limits on ``merges``, ``noncoterminous`` and
``moved`` (every unit its own baseline) with coterminosity ``off``,
``nested`` or ``penalised``, ceilings, unit limits and ``apart`` locks. Its
columns are the *unsplittable* viable connected groups
(:func:`unsplittable_sets`), binary ``x_G``::

    min  Σ_G cost(G) x_G                   cost = Σ_t w_t c_t(G), additive over groups
    s.t. Σ_{G ∋ u} x_G = 1           for every unit u     (add_partition_rows)
         Σ_G c_t(G) x_G <= ε_t        for every limit t   (add_partition_limits)

with ``c_merges(G) = |G| - 1``, ``c_moved(G) = pop(G) - max_{u ∈ G} pop(u)``,
``c_noncoterminous(G) = pop(G) - max_h pop(G ∩ h)``. Splitting a group into
two connected viable parts keeps every rule and never raises any of these
terms (each is superadditive), so some optimal plan uses unsplittable groups
only.

Examples
--------
>>> nb = [[1], [0, 2], [1, 3], [2]]             # path 0 - 1 - 2 - 3
>>> unsplittable_sets(nb, [60, 50, 70, 40], 100)
[(0, 1), (0, 1, 2), (1, 2), (1, 2, 3), (2, 3)]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pulp

from ccgmerge.engine.formulations.base import (Block, BlockResult, Formulation, SolveContext, group_noncoterminous,
                                               objective_names, stage_cap, stage_plan, time_left,
                                               too_late_to_build)
from ccgmerge.engine.backends import SolverOptions
from ccgmerge.engine.heuristics import greedy_merge
from ccgmerge.engine.subsets import CandidateLimitError, check_deadline, connected_pieces
from ccgmerge.instance import Instance
from ccgmerge.plan import Status
from ccgmerge.scenario import Coterminosity, Objective, Scenario

__all__ = ["is_splittable", "refine_unsplittable", "find_split", "unsplittable_sets", "PartitionData",
           "add_partition_rows", "add_partition_limits", "partition_objective", "build_partition", "solve_partition",
           "Partition", "PARTITION"]


# ---------------------------------------------------------------------------
# candidates: unsplittable viable groups
# ---------------------------------------------------------------------------
def is_splittable(members: Sequence[int], nb, weight, floor) -> bool:
    """Whether the connected set ``members`` splits into two connected parts that
    both reach the floor (see :func:`find_split`)."""
    return find_split(members, nb, weight, floor) is not None


def refine_unsplittable(members: Sequence[int], nb, weight, floor) -> list[tuple[int, ...]]:
    """Split a connected set reaching the floor into unsplittable parts (each
    connected and reaching the floor), splitting while a split exists.

    >>> nb = [[1], [0, 2], [1, 3], [2]]             # path 0 - 1 - 2 - 3
    >>> refine_unsplittable([0, 1, 2, 3], nb, [60, 50, 70, 40], 100)
    [(0, 1), (2, 3)]
    """
    out, todo = [], [sorted(members)]
    while todo:
        S = todo.pop()
        parts = find_split(S, nb, weight, floor)
        if parts is None:
            out.append(tuple(S))
        else:
            todo += [sorted(parts[0]), sorted(parts[1])]
    return sorted(out)


def find_split(members: Sequence[int], nb, weight, floor) -> tuple[list[int], list[int]] | None:
    """Two connected parts of the connected set ``members`` that both reach the
    floor (``(A, rest)``, each sorted), or None if there are none.

    Parts ``A`` holding the smallest member are grown by ESU; a part is a
    witness when it reaches the floor, leaves at least the floor outside it,
    and its complement is connected.

    >>> nb = [[1], [0, 2], [1, 3], [2]]             # path 0 - 1 - 2 - 3
    >>> find_split([0, 1, 2, 3], nb, [60, 50, 70, 40], 100)   # {0, 1} | {2, 3}
    ([0, 1], [2, 3])
    >>> find_split([0, 1, 2], nb, [60, 50, 70], 100) is None
    True
    """
    members = sorted(members)
    total = sum(weight[v] for v in members)
    if total < 2 * floor or len(members) < 2:
        return None
    inside = set(members)
    s0 = members[0]
    cap = total - floor
    quick = _tree_split(members, inside, nb, weight, floor, total)
    if quick is not None:
        return quick
    # every connected set A containing s0 with weight <= total - floor, by ESU, pruned:
    # once S - A falls into pieces, a split's other part lies inside one piece, so A
    # must grow by every other piece; a branch where that passes the cap, or where no
    # piece reaches the floor, holds no split
    def hopeless(a_members, a_weight):
        pieces = connected_pieces(nb, inside.difference(a_members))
        ws = [sum(weight[v] for v in pc) for pc in pieces]
        big = max(ws, default=0)
        return len(pieces), big < floor or a_weight + (sum(ws) - big) > cap

    if floor <= weight[s0] <= cap and len(connected_pieces(nb, inside - {s0})) == 1:
        return [s0], sorted(inside - {s0})
    stack = [([s0], [u for u in sorted(nb[s0]) if u in inside], weight[s0], {s0} | set(nb[s0]))]
    while stack:
        sub, ext, tot, closed = stack.pop()
        while ext:
            w = ext.pop()
            t = tot + weight[w]
            if t > cap:
                continue
            newsub = sub + [w]
            n_pieces, prune = hopeless(newsub, t)
            if t >= floor and n_pieces == 1:
                return sorted(newsub), sorted(inside.difference(newsub))
            if prune:
                continue
            new_ext = ext + [u for u in nb[w] if u in inside and u not in closed]
            stack.append((newsub, new_ext, t, closed | set(nb[w])))
    return None


def _tree_split(members: list[int], inside: set[int], nb, weight, floor, total) -> tuple[list[int], list[int]] | None:
    """A split found by cutting one edge of a breadth-first spanning tree, or None.

    Both sides of a tree edge are connected (through the tree), so a subtree
    whose weight lies in ``[floor, total - floor]`` is a witness. It tries
    the tree rooted at every member; it is a fast sufficient test, and
    :func:`find_split` searches exhaustively only when it fails. Returns
    ``(part holding members[0], rest)``, each sorted.

    >>> nb = [[1], [0, 2], [1, 3], [2]]             # path 0 - 1 - 2 - 3
    >>> _tree_split([0, 1, 2, 3], {0, 1, 2, 3}, nb, [60, 50, 70, 40], 100, 220)
    ([0, 1], [2, 3])
    """
    for root in members:
        parent = {root: -1}
        order = [root]
        for u in order:
            for v in sorted(nb[u]):
                if v in inside and v not in parent:
                    parent[v] = u
                    order.append(v)
        sub = {v: weight[v] for v in order}
        for v in reversed(order[1:]):
            sub[parent[v]] += sub[v]
        for v in order[1:]:
            if floor <= sub[v] <= total - floor:
                side = {v}
                for u in order:  # order lists parents before children
                    if parent[u] in side:
                        side.add(u)
                a, b = sorted(side), sorted(inside - side)
                return (a, b) if members[0] in side else (b, a)
    return None


def unsplittable_sets(nb: Sequence[Sequence[int]], weight: Sequence[float], floor: float,
                      nodes: Iterable[int] | None = None, limit: int | None = None,
                      prune: Callable | None = None, deadline: float | None = None) -> list[tuple[int, ...]]:
    """All connected sets reaching the floor that cannot be split into two
    connected parts both reaching the floor (sorted tuples).

    Splittability is inherited by connected supersets (attach each added piece
    to a part it touches), so every connected subset of an unsplittable set is
    unsplittable, and ESU can stop extending a set as soon as it splits.
    ``prune(members)``, if given, marks sets to drop together with all their
    supersets (e.g. above a ceiling, or holding an ``apart`` pair). Past
    ``deadline`` (a ``time.perf_counter()`` value) it raises
    :class:`CandidateLimitError`.

    Any plan can be refined into one whose groups are all unsplittable without
    worsening merges, noncoterminous population, or (every unit its own
    baseline) population moved; these sets are the columns of the partition
    model (:func:`build_partition`).

    >>> nb = [[1], [0, 2], [1, 3], [2]]             # path 0 - 1 - 2 - 3
    >>> unsplittable_sets(nb, [60, 50, 70, 40], 100)
    [(0, 1), (0, 1, 2), (1, 2), (1, 2, 3), (2, 3)]
    """
    nodes = sorted(range(len(nb)) if nodes is None else set(nodes))
    inside = set(nodes)
    out: list[tuple[int, ...]] = []
    explored = 0

    def keep(sub, tot):
        if prune is not None and prune(sub):
            return False
        if tot >= floor:
            if is_splittable(sub, nb, weight, floor):
                return False
            out.append(tuple(sorted(sub)))
            if limit is not None and len(out) > limit:
                raise CandidateLimitError(f"more than {limit:,} candidate groups")
        return True

    for v in nodes:
        if not keep([v], weight[v]):
            continue
        closed = {v} | set(nb[v])
        stack = [([v], [u for u in sorted(nb[v]) if u > v and u in inside], weight[v], closed)]
        while stack:
            sub, ext, tot, closed = stack.pop()
            while ext:
                w = ext.pop()
                explored += 1
                if limit is not None and explored > 20 * limit:
                    raise CandidateLimitError(f"more than {20 * limit:,} connected sets explored")
                check_deadline(deadline, explored)
                newsub = sub + [w]
                t = tot + weight[w]
                if not keep(newsub, t):
                    continue
                new_ext = ext + [u for u in nb[w] if u > v and u in inside and u not in closed]
                stack.append((newsub, new_ext, t, closed | set(nb[w])))
    return sorted(out)


# ---------------------------------------------------------------------------
# model
# ---------------------------------------------------------------------------
@dataclass
class PartitionData:
    """Inputs of a partition model over one block: candidate groups (sorted
    tuples of unit positions) and each one's per-term costs
    ``costs[term][k]`` (``term`` in ``merges``, ``moved``, ``noncoterminous``)."""

    units: list[int]
    cands: list[tuple[int, ...]]
    costs: dict[str, list[float]]


def add_partition_rows(prob, x, data: PartitionData):
    """Each unit in exactly one chosen group: Σ_{G ∋ u} x_G = 1."""
    rows: dict[int, list] = {u: [] for u in data.units}
    for k, G in enumerate(data.cands):
        for u in G:
            rows[u].append(x[k])
    for u in sorted(rows):
        prob += pulp.lpSum(rows[u]) == 1, f"part_{u}"


def add_partition_limits(prob, x, data: PartitionData, limits: dict[str, float]):
    """Limits on totals: Σ_G c_t(G) x_G <= ε_t for each limited term t."""
    for t, eps in sorted(limits.items()):
        prob += pulp.lpSum(c * x[k] for k, c in enumerate(data.costs[t]) if c) <= eps, f"limit_{t}"


def partition_objective(x, data: PartitionData, stage: dict[str, float]):
    """Σ_G (Σ_t w_t c_t(G)) x_G for one objective stage {term: weight}."""
    expr = []
    for k in range(len(data.cands)):
        c = sum(w * data.costs[t][k] for t, w in stage.items() if w)
        if c:
            expr.append(c * x[k])
    return pulp.lpSum(expr)


def build_partition(data: PartitionData, limits: dict[str, float] | None = None, name: str = "partition"):
    """The partition model without its objective; returns (problem, x)."""
    prob = pulp.LpProblem(name, pulp.LpMinimize)
    x = [pulp.LpVariable(f"x_{k}", cat="Binary") for k in range(len(data.cands))]
    add_partition_rows(prob, x, data)
    if limits:
        add_partition_limits(prob, x, data, limits)
    return prob, x


# ---------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------
def partition_worthwhile(inst: Instance, block: Block, scenario: Scenario) -> bool:
    """Candidates of more than about a dozen units explode: leave those blocks to other models."""
    med = float(np.median(inst.population[block.units]))
    return scenario.floor_population <= 12 * max(med, 1.0)


def solve_partition(inst: Instance, block: Block, scenario: Scenario, options: SolverOptions, deadline, limit,
                    limits: dict[str, float], run) -> BlockResult:
    """Set partitioning over unsplittable groups (:func:`build_partition`); ``limits``
    are the block's right-hand sides. Raises CandidateLimitError when too many."""
    t0 = time.perf_counter()
    F = scenario.floor_population
    pop = inst.population
    w = pop.tolist()
    main = inst.main_area_index
    ceiling, max_units = scenario.ceiling, scenario.max_units
    apart = {}
    for a, b in sorted(scenario.apart):
        ia, ib = inst.index[a], inst.index[b]
        apart.setdefault(ia, set()).add(ib)
        apart.setdefault(ib, set()).add(ia)
    nested = scenario.coterminosity is Coterminosity.NESTED

    def prune(sub):
        if ceiling is not None and sum(w[i] for i in sub) > ceiling:
            return True
        if max_units is not None and len(sub) > max_units:
            return True
        if nested and len({int(main[i]) for i in sub}) > 1:
            return True
        if apart:
            inside = set(sub)
            if any(apart.get(i, set()) & inside for i in sub):
                return True
        return False

    cands = unsplittable_sets(inst.neighbours, w, F, nodes=block.units, limit=limit, prune=prune, deadline=deadline)
    if too_late_to_build(deadline, sum(len(G) + 1 for G in cands)):
        return BlockResult(None, Status.NO_SOLUTION, None, None, "partition", time.perf_counter() - t0,
                           f"too little time left to build the model of {len(cands)} candidates")
    ua = inst.unit_area_people
    costs = {
        "merges": [len(G) - 1 for G in cands],
        "moved": [int(sum(w[i] for i in G) - max(w[i] for i in G)) for G in cands],
        "noncoterminous": [group_noncoterminous(ua, G) for G in cands],
    }
    data = PartitionData(units=list(block.units), cands=cands, costs=costs)
    prob, x = build_partition(data, limits)
    start_note = ""
    if options.warm_start:
        start = greedy_merge(inst, scenario, block.units)
        pos = {G: k for k, G in enumerate(cands)}
        chosen = None
        if start is not None:
            chosen = [pos.get(P) for g in start for P in refine_unsplittable(g, inst.neighbours, w, F)]
        if chosen is not None and None not in chosen:
            on = set(chosen)
            for k, v in enumerate(x):
                v.setInitialValue(1 if k in on else 0)
            start_note = "; warm start: greedy plan"
        else:
            start_note = "; warm start: none (the greedy heuristic found no plan)"
    plan = stage_plan(scenario, inst)
    stages = plan.stages
    groups, detail, outs = None, "", []
    for si, stage in enumerate(stages):
        st = {t.value: float(wt) for t, wt in stage if wt}
        expr = partition_objective(x, data, st)
        prob.setObjective(expr)
        integral = all(v.is_integer() for v in st.values())
        out = run(prob, options, time_left(deadline), integral=integral)
        detail = out.detail
        if out.status is Status.INFEASIBLE and si == 0:
            return BlockResult(None, Status.INFEASIBLE, None, None, "partition", time.perf_counter() - t0,
                                f"{detail}; {len(cands)} candidates", len(prob.variables()), len(prob.constraints))
        if out.objective is None:
            if si == 0:
                return BlockResult(None, Status.NO_SOLUTION, None, out.bound, "partition", time.perf_counter() - t0,
                                    f"{detail}; {len(cands)} candidates", len(prob.variables()), len(prob.constraints))
            break
        groups = [list(G) for k, G in enumerate(cands) if x[k].varValue is not None and x[k].varValue > 0.5]
        outs.append((out.objective, out.bound, out.status))
        if si + 1 < len(stages):
            prob += expr <= stage_cap(out.objective, integral), f"lex_{si}"
    value, bound, status = plan.summarise(outs)
    return BlockResult(groups, status, value, bound, "partition", time.perf_counter() - t0,
                        f"{detail}; {len(cands)} candidates{start_note}", len(prob.variables()), len(prob.constraints))


class Partition(Formulation):
    """Set partitioning over unsplittable viable groups."""

    name = "partition"
    requires = ("objectives and limits on merges/noncoterminous/moved (moved: every unit its own baseline), no together "
                "locks, contiguity on and coterminosity off/nested/penalised")

    def why_not_exact(self, instance, scenario):
        names = objective_names(scenario) | {Objective(k) for k, _ in scenario.limits}
        if not names <= {Objective.MERGES, Objective.MOVED, Objective.NONCOTERMINOUS}:
            return "objective terms or limits other than merges, moved and noncoterminous"
        if Objective.MOVED in names and not instance.singleton_baseline:
            return "the moved objective with a baseline grouping"
        if scenario.together or not scenario.contiguity:
            return "together locks, or contiguity off"
        if scenario.coterminosity not in (Coterminosity.OFF, Coterminosity.NESTED, Coterminosity.PENALISED):
            return f"coterminosity {scenario.coterminosity.value}"
        return None

    def accepts(self, instance, block, scenario, forced):
        return forced or partition_worthwhile(instance, block, scenario)

    def solve_block(self, instance, block, scenario, ctx: SolveContext) -> BlockResult:
        return solve_partition(instance, block, scenario, ctx.options, ctx.deadline, ctx.candidate_limit, ctx.limits,
                               ctx.run)


PARTITION = Partition()
