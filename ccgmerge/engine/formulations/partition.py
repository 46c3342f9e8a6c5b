"""The partition formulation: set partitioning over unsplittable viable groups.

Exact for objectives and limits on ``merges``, ``noncoterminous`` and
``moved`` (every unit its own baseline) in every coterminosity mode, with
ceilings, unit limits and ``apart`` locks. Its columns are the
*unsplittable* viable connected groups (:func:`unsplittable_sets`, from
:mod:`ccgmerge.engine.splits`; in ``aligned`` mode
:func:`aligned_unsplittable_sets`), binary ``x_G``::

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

from collections import Counter

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pulp

from ccgmerge.engine.formulations.base import (Block, BlockResult, Formulation, SolveContext, group_noncoterminous,
                                               objective_names, stage_cap, stage_plan, time_left,
                                               too_late_to_build)
from ccgmerge.engine.backends import SolverOptions
from ccgmerge.engine.heuristics import greedy_merge
from ccgmerge.engine.splits import (BitGraph, find_split, is_splittable, refine_unsplittable, to_mask,
                                    unsplittable_sets)
from ccgmerge.engine.subsets import CandidateLimitError, check_deadline
from ccgmerge.instance import Instance
from ccgmerge.plan import Status
from ccgmerge.scenario import Coterminosity, Objective, Scenario

__all__ = ["is_splittable", "refine_unsplittable", "find_split", "unsplittable_sets", "aligned_unsplittable_sets",
           "refine_aligned", "PartitionData",
           "candidate_prune", "add_partition_rows", "add_partition_limits", "partition_objective", "build_partition", "solve_partition",
           "Partition", "PARTITION"]


# ---------------------------------------------------------------------------
# candidates: unsplittable viable groups (ccgmerge.engine.splits); aligned mode's
# ---------------------------------------------------------------------------
def aligned_unsplittable_sets(nb, weight, floor, units: Sequence[int], area_of: Sequence[int],
                              limit: int | None = None, prune: Callable | None = None,
                              deadline: float | None = None) -> tuple[list[tuple[int, ...]], set[int]]:
    """The candidates of the partition model in ``aligned`` mode, and which of
    them are not groups (positions in the list).

    Every aligned group lies inside one HWB (``area_of[u]``, the unit's main
    HWB) or is a union of whole HWBs. The first kind refines, as in the other
    modes, into groups unsplittable inside the HWB (:func:`unsplittable_sets`
    on the HWB's units). A union splits only into unions (a part holding part
    of an HWB would hold it beside other HWBs) or whole HWBs, so unions are
    enumerated on the graph of HWBs (adjacent when two of their units are),
    unsplittable there. An HWB whose units lie in several pieces makes this
    a relaxation: a union connected at HWB level need not be connected unit
    by unit, and such an HWB alone (whole, in pieces) is a candidate too
    unless each of its pieces reaches the floor (then its pieces do better).
    Those candidates are returned as *not groups*: a plan that uses none of
    them is a plan, and the model's optimum bounds every plan either way.

    >>> nb = [[1], [0, 2], [1, 3], [2]]             # path 0 - 1 - 2 - 3, HWBs {0, 1} and {2, 3}
    >>> aligned_unsplittable_sets(nb, [60, 50, 70, 40], 100, [0, 1, 2, 3], [0, 0, 1, 1])
    ([(0, 1), (2, 3)], set())
    >>> aligned_unsplittable_sets(nb, [60, 50, 70, 40], 130, [0, 1, 2, 3], [0, 0, 1, 1])
    ([(0, 1, 2, 3)], set())
    """
    area_units: dict[int, list[int]] = {}
    for u in sorted(units):
        area_units.setdefault(int(area_of[u]), []).append(u)
    areas = sorted(area_units)
    local = {a: k for k, a in enumerate(areas)}
    graph = BitGraph(nb, weight)
    out: list[tuple[int, ...]] = []
    for a in areas:
        out += unsplittable_sets(nb, weight, floor, nodes=area_units[a], limit=limit, prune=prune, deadline=deadline,
                                 graph=graph)
    anb: list[set[int]] = [set() for _ in areas]
    for u in units:
        for v in nb[u]:
            ka, kb = local[int(area_of[u])], local.get(int(area_of[v]))
            if kb is not None and ka != kb:
                anb[ka].add(kb)
    anbl = [sorted(x) for x in anb]
    apop = [sum(weight[u] for u in area_units[a]) for a in areas]
    amask = [to_mask(area_units[a]) for a in areas]
    multi = {k for k in range(len(areas)) if not graph.connected(amask[k])}

    def weight_ok(k):
        return [graph.total(p) >= floor for p in graph.pieces(amask[k])]

    def units_of(ks):
        return sorted(u for k in ks for u in area_units[areas[k]])

    def aprune(ks):
        return prune is not None and prune(units_of(ks))

    # an HWB with units outside ``units`` (such as a unit locked alone, solved on its own) is never
    # whole here, so it joins no union of HWBs
    size = Counter(int(a) for a in area_of)
    incomplete = {local[a] for a in areas if len(area_units[a]) < size[a]}
    invalid: set[int] = set()
    left = None if limit is None else max(0, limit - len(out))
    for ks in unsplittable_sets(anbl, apop, floor, limit=left, prune=aprune, deadline=deadline):
        if len(ks) == 1 and (ks[0] not in multi or all(weight_ok(ks[0]))):
            continue  # one whole HWB: refined by the groups inside it (inside each piece)
        if len(ks) > 1 and incomplete.intersection(ks):
            continue
        members = units_of(ks)
        if len(ks) == 1 or (multi.intersection(ks) and not graph.connected(to_mask(members))):
            invalid.add(len(out))
        out.append(tuple(members))
    # unions holding an HWB in pieces that are connected unit by unit, up to EXTRA_UNION_HWBS HWBs, as
    # groups: the ones the relaxation's enumeration (unsplittable at HWB level) may miss
    seen = set(out)
    for k in sorted(multi - incomplete):
        level = {frozenset([k])}
        for _ in range(EXTRA_UNION_HWBS - 1):
            level = {s | {m} for s in level for x in s for m in anbl[x] if m not in s and m not in incomplete}
            for ks in sorted(level, key=sorted):
                members = tuple(units_of(ks))
                if (members not in seen and sum(apop[j] for j in ks) >= floor and not aprune(ks)
                        and graph.connected(to_mask(members))):
                    seen.add(members)
                    out.append(members)
            check_deadline(deadline, 1)
    return out, invalid


#: most HWBs in the extra unions holding an HWB in pieces (:func:`aligned_unsplittable_sets`)
EXTRA_UNION_HWBS = 4


def refine_aligned(group: Sequence[int], nb, weight, floor, area_of: Sequence[int]) -> list[tuple[int, ...]]:
    """An aligned group cut into candidates of :func:`aligned_unsplittable_sets`
    (a group inside one HWB by units, a union by whole HWBs)."""
    by: dict[int, list[int]] = {}
    for u in group:
        by.setdefault(int(area_of[u]), []).append(u)
    if len(by) == 1:
        return refine_unsplittable(group, nb, weight, floor)
    areas = sorted(by)
    local = {a: k for k, a in enumerate(areas)}
    anb = [sorted({local[int(area_of[v])] for u in by[a] for v in nb[u] if int(area_of[v]) in local} - {k})
           for k, a in enumerate(areas)]
    out = []
    for ks in refine_unsplittable(range(len(areas)), anb, [sum(weight[u] for u in by[a]) for a in areas], floor):
        members = sorted(u for k in ks for u in by[areas[k]])
        if len(ks) == 1 and BitGraph(nb, weight).connected(to_mask(members)):
            out += refine_unsplittable(members, nb, weight, floor)
        else:
            out.append(tuple(members))
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


def candidate_prune(inst: Instance, scenario: Scenario) -> Callable[[Sequence[int]], bool]:
    """``prune(members)``: True for a set of unit positions no group may hold,
    nor any superset of it (above the ceiling or ``max_units``, holding an
    ``apart`` pair, or in ``nested`` mode spanning two HWBs); the rules that
    the candidates' enumeration applies as it grows sets.

    >>> from ccgmerge.data.synthetic import generate
    >>> inst = generate(10, seed=1)
    >>> prune = candidate_prune(inst, Scenario(floor=1, max_units=2))
    >>> prune([0, 1]), prune([0, 1, 2])
    (False, True)
    """
    w = inst.population.tolist()
    main = inst.main_area_index
    ceiling, max_units = scenario.ceiling, scenario.max_units
    apart: dict[int, set[int]] = {}
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

    return prune


def solve_partition(inst: Instance, block: Block, scenario: Scenario, options: SolverOptions, deadline, limit,
                    limits: dict[str, float], run) -> BlockResult:
    """Set partitioning over unsplittable groups (:func:`build_partition`); ``limits``
    are the block's right-hand sides. Raises CandidateLimitError when too many."""
    t0 = time.perf_counter()
    F = scenario.floor_population
    pop = inst.population
    w = pop.tolist()
    main = inst.main_area_index
    prune = candidate_prune(inst, scenario)
    t_enum = time.perf_counter()
    aligned = scenario.coterminosity is Coterminosity.ALIGNED
    invalid: set[int] = set()
    if aligned:
        cands, invalid = aligned_unsplittable_sets(inst.neighbours, w, F, block.units, main, limit=limit, prune=prune,
                                                   deadline=deadline)
    else:
        cands = unsplittable_sets(inst.neighbours, w, F, nodes=block.units, limit=limit, prune=prune, deadline=deadline)
    t_enum = time.perf_counter() - t_enum
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
        if start is not None and aligned:
            chosen = [pos.get(P) for g in start for P in refine_aligned(g, inst.neighbours, w, F, main)]
        elif start is not None:
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
        picked = {k for k in range(len(cands)) if x[k].varValue is not None and x[k].varValue > 0.5}
        if invalid & picked:
            # the relaxation's plan uses a union that is not connected: its optimum bounds every
            # plan; solve again without such unions (optimal when it reaches that bound)
            prob += pulp.lpSum(x[k] for k in sorted(invalid)) == 0, f"connected_{si}"
            again = run(prob, options, time_left(deadline), integral=integral)
            picked = {k for k in range(len(cands)) if x[k].varValue is not None and x[k].varValue > 0.5}
            relax = out.bound
            tight = (again.objective is not None and not invalid & picked and relax is not None
                     and again.objective <= relax + 1e-6 * max(1.0, abs(relax)))
            if not tight:
                if si == 0 and (deadline is None or again.objective is None or invalid & picked):
                    # step aside: the compact model is exact (given the time)
                    raise CandidateLimitError(f"the aligned partition model's relaxation is not tight (an HWB in "
                                              f"several pieces; bound {relax})")
                if si == 0:
                    # under a time limit: the plan without such unions, bounded by the relaxation
                    groups = [list(cands[k]) for k in sorted(picked)]
                    return BlockResult(groups, Status.FEASIBLE, again.objective, relax, "partition",
                                       time.perf_counter() - t0,
                                       f"{again.detail}; {len(cands)} candidates; an HWB in several pieces: the plan "
                                       f"without unions disconnected unit by unit, bounded by the relaxation with them",
                                       len(prob.variables()), len(prob.constraints))
                break
            out = replace(again, bound=relax, status=Status.OPTIMAL if tight else Status.FEASIBLE)
        groups = [list(cands[k]) for k in sorted(picked)]
        outs.append((out.objective, out.bound, out.status))
        if si + 1 < len(stages):
            prob += expr <= stage_cap(out.objective, integral), f"lex_{si}"
    value, bound, status = plan.summarise(outs)
    return BlockResult(groups, status, value, bound, "partition", time.perf_counter() - t0,
                        f"{detail}; {len(cands)} candidates, enumeration {t_enum:.2f} s{start_note}", len(prob.variables()),
                        len(prob.constraints))


class Partition(Formulation):
    """Set partitioning over unsplittable viable groups."""

    name = "partition"
    requires = ("objectives and limits on merges/noncoterminous/moved (moved: every unit its own baseline), no together "
                "locks, contiguity on (any coterminosity mode)")

    def why_not_exact(self, instance, scenario):
        names = objective_names(scenario) | {Objective(k) for k, _ in scenario.limits}
        if not names <= {Objective.MERGES, Objective.MOVED, Objective.NONCOTERMINOUS}:
            return "objective terms or limits other than merges, moved and noncoterminous"
        if Objective.MOVED in names and not instance.singleton_baseline:
            return "the moved objective with a baseline grouping"
        if scenario.together or not scenario.contiguity:
            return "together locks, or contiguity off"
        return None

    def accepts(self, instance, block, scenario, forced):
        return forced or partition_worthwhile(instance, block, scenario)

    def solve_block(self, instance, block, scenario, ctx: SolveContext) -> BlockResult:
        return solve_partition(instance, block, scenario, ctx.options, ctx.deadline, ctx.candidate_limit, ctx.limits,
                               ctx.run)


PARTITION = Partition()
