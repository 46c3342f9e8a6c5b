"""The compact formulation: the assignment model with separator cuts, exact for everything.

The assignment model of Hess et al. (1965): ``x[i, j] = 1`` when unit ``i``
joins the group whose *root* is ``j``; a group's root is its member of
largest population (ties: smallest position), which breaks symmetry.
Contiguity is imposed by neighbour cuts and by separator cuts added in rounds
(:func:`add_separator_cuts`). One ``add_*`` function per constraint family;
:func:`compact_objective` builds each objective term, :func:`add_compact_limits`
the limits on plan totals.

Examples
--------
>>> import ccgmerge.data.synthetic as syn
>>> from ccgmerge.scenario import Scenario
>>> COMPACT.why_not_exact(syn.generate(20, seed=2), Scenario(floor=300_000, coterminosity="penalised")) is None
True
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pulp

from ccgmerge.engine.formulations.base import Block, BlockResult, Formulation, SolveContext, stage_cap, stage_plan, time_left
from ccgmerge.engine.backends import SolverOptions
from ccgmerge.engine.heuristics import greedy_merge
from ccgmerge.engine.subsets import connected_pieces
from ccgmerge.instance import Instance
from ccgmerge.plan import Status
from ccgmerge.scenario import Objective, Scenario

__all__ = ["CompactData", "add_assignment", "add_root_link", "add_floor", "add_ceiling", "add_neighbour_cuts",
           "add_aligned", "add_locks", "compact_variables", "build_compact", "set_compact_start", "add_separator_cuts",
           "compact_objective", "add_compact_limits", "solve_compact", "Compact", "COMPACT"]


# ---------------------------------------------------------------------------
# model
# ---------------------------------------------------------------------------
@dataclass
class CompactData:
    """Inputs of the compact model over one block (positions are global)."""

    units: list[int]
    pop: np.ndarray
    nb: Sequence[Sequence[int]]
    floor: int
    ceiling: float | None = None
    max_units: int | None = None
    main_area: np.ndarray | None = None  # global unit -> area index
    mode: str = "off"
    alone: set[int] = field(default_factory=set)
    together: list[tuple[int, int]] = field(default_factory=list)
    apart: list[tuple[int, int]] = field(default_factory=list)
    contiguity: bool = True
    must_internal: set[int] = field(default_factory=set)
    symmetry: bool = True  # root = largest member; False: any member may be the root


def _key(pop, i):
    return (int(pop[i]), -i)


def add_assignment(prob, x, d: CompactData):
    """Every unit joins exactly one group: Σ_j x[i, j] = 1."""
    by_unit: dict[int, list] = {}
    for (i, j), v in x.items():
        by_unit.setdefault(i, []).append(v)
    for i in d.units:
        prob += pulp.lpSum(by_unit[i]) == 1, f"assign_{i}"


def add_root_link(prob, x, d: CompactData):
    """Only open groups take members: x[i, j] <= x[j, j]."""
    for (i, j), v in x.items():
        if i != j:
            prob += v <= x[j, j], f"link_{i}_{j}"


def add_floor(prob, x, members, d: CompactData):
    """Open groups reach the floor: Σ_i pop_i x[i, j] >= floor * x[j, j]."""
    for j, mem in members.items():
        prob += pulp.lpSum(int(d.pop[i]) * x[i, j] for i in mem) >= d.floor * x[j, j], f"floor_{j}"


def add_ceiling(prob, x, members, d: CompactData):
    """Σ_i pop_i x[i, j] <= ceiling * x[j, j] and Σ_i x[i, j] <= max_units * x[j, j]."""
    for j, mem in members.items():
        if d.ceiling is not None:
            prob += pulp.lpSum(int(d.pop[i]) * x[i, j] for i in mem) <= d.ceiling * x[j, j], f"ceiling_{j}"
        if d.max_units is not None:
            prob += pulp.lpSum(x[i, j] for i in mem) <= d.max_units * x[j, j], f"maxunits_{j}"


def add_neighbour_cuts(prob, x, d: CompactData):
    """A non-root member has a neighbour in its group: x[i, j] <= Σ_{s ∈ N(i)} x[s, j]."""
    for (i, j), v in x.items():
        if i == j:
            continue
        terms = [x[s, j] for s in d.nb[i] if (s, j) in x]
        prob += v <= pulp.lpSum(terms), f"nbcut_{i}_{j}"


def add_aligned(prob, x, members, d: CompactData, area_units: dict[int, list[int]]):
    """Aligned HWBs: a group rooted in HWB a may take units of another HWB h only
    whole, v[h, j] = x[i, j] for all i in h, and then holds all of a:
    x[i, j] >= v[h, j] for i in a. HWBs in ``must_internal`` are never merged whole."""
    v = {}
    for j, mem in members.items():
        a = int(d.main_area[j])
        foreign = sorted({int(d.main_area[i]) for i in mem} - {a})
        for h in foreign:
            var = pulp.LpVariable(f"v_{h}_{j}", cat="Binary")
            v[h, j] = var
            hu = area_units[h]
            for i in hu:
                if (i, j) in x:
                    prob += x[i, j] == var, f"whole_{h}_{j}_{i}"
                else:
                    prob += var == 0, f"whole_{h}_{j}_{i}"
            if h in d.must_internal or a in d.must_internal:
                prob += var == 0, f"internal_{h}_{j}"
            for i in area_units[a]:
                if (i, j) in x:
                    prob += x[i, j] >= var, f"own_{h}_{j}_{i}"
                else:
                    prob += var == 0, f"own_{h}_{j}_{i}_none"
    return v


def add_locks(prob, x, d: CompactData):
    """Pairs kept together (x[a, j] = x[b, j]) or apart (x[a, j] + x[b, j] <= 1)."""
    roots = sorted({j for _, j in x})
    for a, b in d.together:
        for j in roots:
            xa, xb = x.get((a, j), 0), x.get((b, j), 0)
            if isinstance(xa, int) and isinstance(xb, int):
                continue
            prob += xa == xb, f"together_{a}_{b}_{j}"
    for a, b in d.apart:
        for j in roots:
            if (a, j) in x and (b, j) in x:
                prob += x[a, j] + x[b, j] <= 1, f"apart_{a}_{b}_{j}"


def compact_variables(d: CompactData) -> dict[tuple[int, int], pulp.LpVariable]:
    """x[i, j] for every unit i and every possible root j: j has a larger key than
    i (symmetry breaking: a group's root is its largest member; with
    ``d.symmetry`` off any member may be the root, so every plan has as many
    encodings as it has ways to pick roots), lies in i's block (and main HWB
    in nested mode), and i and j fit under the ceiling together. Built in
    sorted order."""
    x = {}
    units = sorted(d.units)
    pop = d.pop
    for j in units:
        if j in d.alone:
            x[j, j] = pulp.LpVariable(f"x_{j}_{j}", cat="Binary")
            continue
        x[j, j] = pulp.LpVariable(f"x_{j}_{j}", cat="Binary")
    for i in units:
        if i in d.alone:
            continue
        ki = _key(pop, i)
        for j in units:
            if j == i or j in d.alone or (d.symmetry and _key(pop, j) <= ki):
                continue
            if d.mode == "nested" and d.main_area[i] != d.main_area[j]:
                continue
            if d.ceiling is not None and pop[i] + pop[j] > d.ceiling:
                continue
            x[i, j] = pulp.LpVariable(f"x_{i}_{j}", cat="Binary")
    return x


def build_compact(d: CompactData, name: str = "compact"):
    """The compact model without objective; returns (problem, x, members, v)."""
    prob = pulp.LpProblem(name, pulp.LpMinimize)
    x = compact_variables(d)
    members: dict[int, list[int]] = {}
    for i, j in x:
        members.setdefault(j, []).append(i)
    for j in members:
        members[j].sort()
    add_assignment(prob, x, d)
    add_root_link(prob, x, d)
    add_floor(prob, x, members, d)
    add_ceiling(prob, x, members, d)
    if d.contiguity:
        add_neighbour_cuts(prob, x, d)
    v = {}
    if d.mode == "aligned":
        area_units: dict[int, list[int]] = {}
        for i in d.units:
            area_units.setdefault(int(d.main_area[i]), []).append(i)
        v = add_aligned(prob, x, members, d, area_units)
    add_locks(prob, x, d)
    return prob, x, members, v


def set_compact_start(x, groups: Sequence[Sequence[int]], pop) -> bool:
    """Initial values for a warm start: x[i, r] = 1 for the members i of each
    group with root r its largest member, every other x 0. False (and no
    values set) if some pair has no variable."""
    pairs = set()
    for g in groups:
        r = max(g, key=lambda i: _key(pop, i))
        pairs |= {(i, r) for i in g}
    if any(p not in x for p in pairs):
        return False
    for k, v in x.items():
        v.setInitialValue(1 if k in pairs else 0)
    return True


def add_separator_cuts(prob, x, d: CompactData, groups: dict[int, list[int]], round_no: int) -> int:
    """For each group whose members are not connected: every piece T not holding
    the root j is cut off from j by its neighbourhood N(T) (outside T), so

        x[i, j] <= Σ_{s ∈ N(T)} x[s, j]   for every i in T.

    Returns the number of cuts added."""
    added = 0
    for j, mem in groups.items():
        comps = connected_pieces(d.nb, mem)
        if len(comps) <= 1:
            continue
        for comp in comps:
            if j in comp:
                continue
            cs = set(comp)
            boundary = sorted({w for v in comp for w in d.nb[v]} - cs)
            terms = [x[s, j] for s in boundary if (s, j) in x]
            for i in comp:
                if (i, j) in x:
                    prob += x[i, j] <= pulp.lpSum(terms), f"sep_{round_no}_{added}"
                    added += 1
    return added


# ---------------------------------------------------------------------------
# objective, limits and driver
# ---------------------------------------------------------------------------
def compact_objective(prob, inst: Instance, x, members, d: CompactData, stage, fixed_split: set[int], tag: str,
                       fixed_units: Sequence[int] = ()):
    """Min-form objective expression of a stage for the compact model.

    ``fixed_units``: units locked alone (outside the block) whose baseline group
    has units in the block; each may continue its baseline group on its own,
    which the "moved" matching (one continuation per baseline group) must see."""
    pop = inst.population
    expr = []
    roots = sorted(members)
    singleton_base = inst.singleton_baseline
    for t, w in stage:
        if w == 0:
            continue
        if t is Objective.MERGES:
            expr += [-w * x[j, j] for j in roots]
        elif t is Objective.MOVED and singleton_base:
            expr += [-w * int(pop[j]) * x[j, j] for j in roots]
        elif t is Objective.MOVED:
            base = inst.baseline_codes
            lab: dict[str, list] = {}
            for j in roots:
                bs: dict[str, list[int]] = {}
                for i in members[j]:
                    bs.setdefault(base[i], []).append(i)
                ls = []
                for b, mem in sorted(bs.items()):
                    l_ = pulp.LpVariable(f"l_{tag}_{j}_{len(lab)}_{len(ls)}", cat="Binary")
                    r = pulp.LpVariable(f"r_{tag}_{j}_{len(lab)}_{len(ls)}", lowBound=0)
                    prob += r <= pulp.lpSum(int(pop[i]) * x[i, j] for i in mem)
                    prob += r <= int(pop[mem].sum()) * l_
                    ls.append(l_)
                    lab.setdefault(b, []).append(l_)
                    expr.append(-w * r)
                prob += pulp.lpSum(ls) <= x[j, j]
            for u in fixed_units:  # a unit locked alone keeps its people if it continues its baseline group
                l_ = pulp.LpVariable(f"l_{tag}_fixed_{u}", cat="Binary")
                lab.setdefault(base[u], []).append(l_)
                expr.append(-w * int(pop[u]) * l_)
            for b, ls in sorted(lab.items()):
                if len(ls) > 1:
                    prob += pulp.lpSum(ls) <= 1
        elif t is Objective.NONCOTERMINOUS:
            for j in roots:
                per_area: dict[int, list] = {}
                for i in members[j]:
                    for a, p in inst.unit_area_people[i]:
                        per_area.setdefault(a, []).append((i, p))
                cs = []
                for k, (a, rows) in enumerate(sorted(per_area.items())):
                    c = pulp.LpVariable(f"c_{tag}_{j}_{k}", cat="Binary")
                    q = pulp.LpVariable(f"q_{tag}_{j}_{k}", lowBound=0)
                    prob += q <= pulp.lpSum(p * x[i, j] for i, p in rows)
                    prob += q <= sum(p for _, p in rows) * c
                    cs.append(c)
                    expr.append(-w * q)
                prob += pulp.lpSum(cs) <= 1
        elif t is Objective.SPLIT_AREAS:
            mem_rows = inst.membership
            idx = inst.index
            area_units: dict[str, list[int]] = {}
            for u, a in zip(mem_rows["unit"], mem_rows["area"]):
                if idx[u] in set(d.units):
                    area_units.setdefault(a, []).append(idx[u])
            aidx = {a: k for k, a in enumerate(inst.area_codes)}
            for a, us in sorted(area_units.items()):
                if len(us) < 2 or aidx[a] in fixed_split:
                    continue
                touch = []
                for j in roots:
                    mem = [i for i in us if (i, j) in x]
                    if not mem:
                        continue
                    t_ = pulp.LpVariable(f"t_{tag}_{aidx[a]}_{j}", cat="Binary")
                    for i in mem:
                        prob += t_ >= x[i, j]
                    touch.append(t_)
                sp = pulp.LpVariable(f"split_{tag}_{aidx[a]}", cat="Binary")
                prob += (len(touch) - 1) * sp >= pulp.lpSum(touch) - 1
                expr.append(w * sp)
    return pulp.lpSum(expr)


def add_compact_limits(prob, inst: Instance, x, members, d: CompactData, limits: dict[str, float],
                        fixed: Sequence[int]):
    """Limits on the totals in the compact model (the block holds every unit not
    locked alone, the units in ``fixed``). Each term's min-form expression ``e``
    (minus groups formed, people kept by their baseline group, people kept in
    their group's main HWB) gives the total: merges = n_baseline - n_fixed + e;
    noncoterminous = pop(block) + e (the fixed units' share is in the rhs);
    moved = pop(block) + e, or with a baseline grouping pop(block) + pop(fixed)
    + e, where e counts the fixed units' kept people too."""
    pop_block = int(inst.population[d.units].sum())
    singleton = inst.singleton_baseline
    for k, eps in sorted(limits.items()):
        e = compact_objective(prob, inst, x, members, d, [(Objective(k), 1.0)], set(), f"lim_{k}", fixed)
        if k == "merges":
            const = inst.n_baseline_groups - len(fixed)
        elif k == "moved" and not singleton:
            const = pop_block + int(inst.population[list(fixed)].sum())
        else:
            const = pop_block
        prob += e + const <= eps, f"limit_{k}"


def solve_compact(inst: Instance, block: Block, scenario: Scenario, options: SolverOptions, deadline, fixed_split,
                  limits: dict[str, float] | None = None, fixed: Sequence[int] = (), symmetry: bool = True,
                  *, run) -> BlockResult:
    """The compact model on a block, objective stage by stage, with separator-cut rounds."""
    t0 = time.perf_counter()
    idx = inst.index
    d = CompactData(
        units=block.units,
        pop=inst.population,
        nb=inst.neighbours,
        floor=scenario.floor_population,
        ceiling=scenario.ceiling,
        max_units=scenario.max_units,
        main_area=inst.main_area_index,
        mode=scenario.coterminosity.value,
        together=[(idx[a], idx[b]) for a, b in sorted(scenario.together) if idx[a] in set(block.units)],
        apart=[(idx[a], idx[b]) for a, b in sorted(scenario.apart) if idx[a] in set(block.units)],
        contiguity=scenario.contiguity,
        # aligned: an HWB holding a unit locked alone can never be merged whole
        must_internal={int(inst.main_area_index[idx[c]]) for c in scenario.alone},
        symmetry=symmetry,
    )
    prob, x, members, _ = build_compact(d, name="compact")
    start_note = ""
    if options.warm_start:
        start = greedy_merge(inst, scenario, block.units)
        start_note = "; warm start: " + ("greedy plan" if start is not None and set_compact_start(x, start, inst.population)
                                         else "none (the greedy heuristic found no plan)")
    if not inst.singleton_baseline:
        here = {inst.baseline_codes[i] for i in block.units}
        fixed_units = [u for u in fixed if inst.baseline_codes[u] in here]
    else:
        fixed_units = []
    if limits:
        add_compact_limits(prob, inst, x, members, d, limits, list(fixed))
    plan = stage_plan(scenario, inst)
    stages = plan.stages
    groups, detail, outs = None, "", []
    integral_stage = [all(t in (Objective.MERGES, Objective.SPLIT_AREAS) or float(w) == 0 for t, w in st)
                      or all(float(w).is_integer() for _, w in st) for st in stages]
    cuts_total = 0
    for si, stage in enumerate(stages):
        prob.setObjective(compact_objective(prob, inst, x, members, d, stage, fixed_split, f"s{si}", fixed_units))
        rounds = 0
        stage_out = None
        while True:
            out = run(prob, options, time_left(deadline), integral=integral_stage[si])
            detail = out.detail
            if out.status is Status.INFEASIBLE:
                if si == 0:
                    return BlockResult(None, Status.INFEASIBLE, None, None, "compact", time.perf_counter() - t0, detail,
                                        len(prob.variables()), len(prob.constraints))
                break
            if out.objective is None:
                if si == 0:
                    return BlockResult(None, Status.NO_SOLUTION, None, out.bound, "compact", time.perf_counter() - t0, detail,
                                        len(prob.variables()), len(prob.constraints))
                break
            cur: dict[int, list[int]] = {}
            for (i, j), v in x.items():
                if v.varValue is not None and v.varValue > 0.5:
                    cur.setdefault(j, []).append(i)
            added = add_separator_cuts(prob, x, d, cur, cuts_total) if d.contiguity else 0
            cuts_total += added
            rounds += 1
            if added == 0:
                groups = [sorted(g) for _, g in sorted(cur.items())]
                stage_out = (out.objective, out.bound, out.status)
                outs.append(stage_out)
                break
            if deadline is not None and time.perf_counter() > deadline:
                if si == 0:
                    return BlockResult(None, Status.NO_SOLUTION, None, out.bound, "compact", time.perf_counter() - t0,
                                        f"time limit during cut rounds ({rounds} rounds)", len(prob.variables()), len(prob.constraints))
                break
        if stage_out is None:
            break  # this stage left no plan: keep the previous stage's
        if si + 1 < len(stages):
            prob += prob.objective <= stage_cap(stage_out[0], integral_stage[si]), f"lex_{si}"
    value, bound, status = plan.summarise(outs)
    return BlockResult(groups, status, value, bound, "compact", time.perf_counter() - t0,
                        f"{detail}; {cuts_total} separator cuts{start_note}", len(prob.variables()), len(prob.constraints))


class Compact(Formulation):
    """The compact assignment model; the last resort, exact for every scenario."""

    name = "compact"
    requires = "every scenario"

    def why_not_exact(self, instance, scenario):
        return None

    def solve_block(self, instance, block, scenario, ctx: SolveContext) -> BlockResult:
        if ctx.deadline is not None and time.perf_counter() >= ctx.deadline:
            return BlockResult(None, Status.NO_SOLUTION, None, None, "none", 0.0,
                               "time limit reached before a model could be solved")
        return solve_compact(instance, block, scenario, ctx.options, ctx.deadline, ctx.fixed_split, ctx.limits,
                             ctx.fixed, ctx.symmetry, run=ctx.run)


COMPACT = Compact()
