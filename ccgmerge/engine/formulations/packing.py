"""The packing formulation: inclusion-minimal viable groups, packed.

Exact for the objectives ``merges`` and ``moved`` (every unit its own baseline
group) without ceilings, unit limits, pair locks or limits, contiguity on, in
coterminosity modes ``off`` and ``nested`` (``aligned`` has its own search in
:mod:`ccgmerge.engine.formulations.aligned`, built on this model). With ``C``
the inclusion-minimal connected candidate groups reaching the floor
(:func:`ccgmerge.engine.subsets.minimal_sets`), binary ``y_S`` for ``S`` in ``C``::

    max  Σ_S value(S) y_S                          value = w_merges + w_moved * pop(root(S))
    s.t. Σ_{S ∋ u} y_S <= 1          for every unit u   (add_packing_rows)

Every unit left out touches a chosen group (each block is connected and
reaches the floor) and is absorbed into it (:func:`absorb`), which keeps
groups connected, viable, and never lowers the value; any plan contains one
candidate per group, so the packing optimum is the plan optimum. In
``aligned`` mode HWBs either stay *internal* (``s_h = 1``: packed with
candidates inside the HWB) or join a union of whole HWBs (HWB-level
candidates ``z_C``), and every connected set ``K`` of HWBs below the floor
must not be left as a whole component of non-internal HWBs
(:func:`add_aligned_absorption`).

All problems are minimisations (of disruption): the model minimises
``-Σ value * y``.

Examples
--------
>>> import ccgmerge.data.synthetic as syn
>>> from ccgmerge.scenario import Scenario
>>> PACKING.why_not_exact(syn.generate(20, seed=2), Scenario(floor=300_000, ceiling=900_000))
'a ceiling, a unit limit or pair locks'
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulp

from ccgmerge.engine.formulations.base import (Block, BlockResult, Formulation, SolveContext, objective_names,
                                               objective_stages, stage_cap, time_left, too_late_to_build)
from ccgmerge.engine.backends import SolverOptions
from ccgmerge.engine.subsets import CandidateLimitError, minimal_sets
from ccgmerge.instance import Instance
from ccgmerge.plan import Status
from ccgmerge.scenario import Coterminosity, Objective, Scenario

__all__ = ["PackingData", "add_packing_rows", "add_aligned_absorption", "build_packing", "absorb", "complete",
           "PackingStages", "packing_stages", "solve_packing", "packing_why_not_exact", "PackingFamily", "Packing",
           "PACKING"]


@dataclass
class PackingData:
    """Inputs of a packing model over one block of units.

    ``cands``: unit-level candidates (frozen sets of unit positions) with
    ``values``; in aligned mode ``cand_area[k]`` is the HWB (block-local id)
    holding candidate k, ``area_cands`` the HWB-level candidates (tuples of
    HWB ids) with ``area_values``, ``below`` the connected HWB sets below
    the floor, ``area_nb`` HWB adjacency, ``internal_ok[h]`` whether HWB h can
    be split internally, ``must_internal`` HWBs that may not be merged whole.
    """

    units: list[int]
    cands: list[tuple[int, ...]]
    values: list[float]
    aligned: bool = False
    n_areas: int = 0
    cand_area: list[int] = field(default_factory=list)
    area_units: list[list[int]] = field(default_factory=list)
    area_cands: list[tuple[int, ...]] = field(default_factory=list)
    area_values: list[float] = field(default_factory=list)
    below: list[tuple[int, ...]] = field(default_factory=list)
    area_nb: list[list[int]] = field(default_factory=list)
    internal_ok: list[bool] = field(default_factory=list)
    must_internal: set[int] = field(default_factory=set)


def add_packing_rows(prob, y, data: PackingData, s=None, z=None):
    """Each unit in at most one chosen group:

    Σ_{S ∋ u} y_S <= 1, or in aligned mode Σ_{S ∋ u} y_S <= s_h(u) and
    Σ_{C ∋ h} z_C <= 1 - s_h.
    """
    rows: dict[int, list] = {}
    for k, S in enumerate(data.cands):
        for u in S:
            rows.setdefault(u, []).append(y[k])
    for u in sorted(rows):
        if data.aligned:
            continue
        if len(rows[u]) > 1:
            prob += pulp.lpSum(rows[u]) <= 1, f"pack_{u}"
    if data.aligned:
        unit_area = {u: h for h, us in enumerate(data.area_units) for u in us}
        for u in sorted(rows):
            prob += pulp.lpSum(rows[u]) <= s[unit_area[u]], f"pack_{u}"
        arows: dict[int, list] = {}
        for k, C in enumerate(data.area_cands):
            for h in C:
                arows.setdefault(h, []).append(z[k])
        for h in range(data.n_areas):
            prob += pulp.lpSum(arows.get(h, [])) + s[h] <= 1, f"area_pack_{h}"


def add_aligned_absorption(prob, s, data: PackingData):
    """No connected set K of HWBs below the floor may be a whole component of
    the non-internal HWBs (it could join no group):

    Σ_{h ∈ K} (1 - s_h) - (|K| - 1) <= Σ_{h' ∈ N(K)} (1 - s_h').
    """
    for k, K in enumerate(data.below):
        Ks = set(K)
        nbh = sorted({v for h in K for v in data.area_nb[h]} - Ks)
        prob += (
            pulp.lpSum(1 - s[h] for h in K) - (len(K) - 1) <= pulp.lpSum(1 - s[h] for h in nbh),
            f"absorb_{k}",
        )


def build_packing(data: PackingData, name: str = "packing"):
    """The packing model; returns (problem, y, s, z). Objective: minimise
    -Σ value * y (values are the retained value of each group)."""
    prob = pulp.LpProblem(name, pulp.LpMinimize)
    y = [pulp.LpVariable(f"y_{k}", cat="Binary") for k in range(len(data.cands))]
    s = z = None
    obj = [-v * y[k] for k, v in enumerate(data.values)]
    if data.aligned:
        s = []
        for h in range(data.n_areas):
            if not data.internal_ok[h]:
                s.append(0)
            elif h in data.must_internal:
                s.append(1)
            else:
                s.append(pulp.LpVariable(f"s_{h}", cat="Binary"))
        z = [pulp.LpVariable(f"z_{k}", cat="Binary") for k in range(len(data.area_cands))]
        obj += [-v * z[k] for k, v in enumerate(data.area_values)]
        add_aligned_absorption(prob, s, data)
    prob += pulp.lpSum(obj)
    add_packing_rows(prob, y, data, s, z)
    return prob, y, s, z


def absorb(inst: Instance, groups: list[list[int]], units: Sequence[int]) -> list[list[int]] | None:
    """Assign every unit of ``units`` not in a group to an adjacent group (BFS,
    deterministic). Returns None if some unit cannot be reached."""
    owner = {}
    for k, g in enumerate(groups):
        for i in g:
            owner[i] = k
    inside = set(units)
    frontier = sorted(owner)
    while frontier:
        nxt = []
        for v in frontier:
            for w in inst.neighbours[v]:
                if w in inside and w not in owner:
                    owner[w] = owner[v]
                    groups[owner[v]].append(w)
                    nxt.append(w)
        frontier = sorted(nxt)
    if any(u not in owner for u in units):
        return None
    return [sorted(g) for g in groups]


def complete(inst, groups, units, data: PackingData, F):
    """Greedy repair: add non-conflicting candidates until absorption reaches every unit."""
    used = {i for g in groups for i in g}
    for S in data.cands:
        if not used.intersection(S):
            groups.append(sorted(S))
            used.update(S)
    return absorb(inst, groups, units)


def _values(inst: Instance, stage, members_root) -> float:
    val = 0.0
    for t, w in stage:
        if t is Objective.MERGES:
            val += w
        elif t is Objective.MOVED:
            val += w * float(inst.population[members_root])
    return val


@dataclass
class PackingStages:
    """The packing model solved stage by stage: min-form optimum of each stage
    solved (``values``), the first stage's solver bound, the chosen candidates."""

    status: Status
    values: list[float]
    bound: float | None
    chosen_y: list[int]
    chosen_z: list[int]
    internal: list[int]
    detail: str = ""
    n_vars: int = 0
    n_cons: int = 0


def packing_stages(inst: Instance, data: PackingData, stages, options: SolverOptions, deadline, key, run) -> PackingStages:
    """Solve the packing model of ``data`` for each objective stage in turn, each
    later stage holding the earlier optima."""

    def root_of(S):
        return max(S, key=lambda i: key[i])

    res = PackingStages(Status.OPTIMAL, [], None, [], [], [])
    area_roots = [root_of([i for h in C for i in data.area_units[h]]) for C in data.area_cands]
    prob_constraints = []
    for si, stage in enumerate(stages):
        data.values = [_values(inst, stage, root_of(S)) for S in data.cands]
        data.area_values = [_values(inst, stage, r) for r in area_roots]
        if too_late_to_build(deadline, sum(len(S) + 1 for S in data.cands) + sum(len(C) + 1 for C in data.area_cands)):
            if si == 0:
                res.status, res.detail = Status.NO_SOLUTION, "too little time left to build the model"
                return res
            break  # keep the previous stage's plan
        prob, y, s, z = build_packing(data, name=f"packing_{si}")
        for expr, rhs in prob_constraints:
            prob += expr(y, z) <= rhs
        res.n_vars, res.n_cons = len(prob.variables()), len(prob.constraints)
        integral = all(float(v).is_integer() for v in data.values + data.area_values)
        out = run(prob, options, time_left(deadline), integral=integral)
        res.detail = out.detail
        if out.status is Status.INFEASIBLE:
            res.status = Status.INFEASIBLE
            return res
        if out.objective is None:
            if si == 0:
                res.status, res.bound = Status.NO_SOLUTION, out.bound
                return res
            break  # keep the previous stage's plan
        res.chosen_y = [k for k, v in enumerate(y) if v.varValue is not None and v.varValue > 0.5]
        res.chosen_z = [k for k, v in enumerate(z or []) if v.varValue is not None and v.varValue > 0.5]
        res.internal = [h for h in range(data.n_areas) if (s[h] if isinstance(s[h], int) else round(s[h].varValue or 0)) == 1] if data.aligned else []
        res.values.append(out.objective)
        if si == 0:
            res.bound, res.status = out.bound, out.status
        elif out.status is not Status.OPTIMAL and res.status is Status.OPTIMAL:
            res.status = Status.FEASIBLE
        if si + 1 < len(stages):
            vals, avals = list(data.values), list(data.area_values)
            target = stage_cap(out.objective, integral)

            def expr(y, z, vals=vals, avals=avals):
                return pulp.lpSum(-v * y[k] for k, v in enumerate(vals)) + pulp.lpSum(-v * z[k] for k, v in enumerate(avals))
            prob_constraints.append((expr, target))
    return res


def solve_packing(inst: Instance, block: Block, scenario: Scenario, options: SolverOptions, deadline, limit,
                  run) -> BlockResult:
    """The packing model on a block (modes off and nested); raises CandidateLimitError when
    the candidates are too many or the enumeration reaches the deadline."""
    t0 = time.perf_counter()
    F = scenario.floor_population
    units = block.units
    key = [(int(p), -i) for i, p in enumerate(inst.population)]
    data = PackingData(units=units, cands=minimal_sets(inst.neighbours, inst.population.tolist(), F, nodes=units, limit=limit,
                                                                   deadline=deadline),
                       values=[])
    t_enum = time.perf_counter() - t0
    r = packing_stages(inst, data, objective_stages(scenario), options, deadline, key, run)
    if not r.values:
        status = Status.INFEASIBLE if r.status is Status.INFEASIBLE else Status.NO_SOLUTION
        return BlockResult(None, status, None, r.bound, "packing", time.perf_counter() - t0, r.detail, r.n_vars, r.n_cons)
    # build the partition
    groups = [sorted(data.cands[k]) for k in r.chosen_y]
    full = absorb(inst, groups, units)
    if full is None:  # only with a non-optimal packing that left a piece uncovered
        full = complete(inst, groups, units, data, F)
    if full is None:
        raise CandidateLimitError("the packing solution could not be completed into a plan")
    return BlockResult(full, r.status, r.values[0], r.bound, "packing", time.perf_counter() - t0,
                        f"{r.detail}; {len(data.cands)} candidates, enumeration {t_enum:.2f} s", r.n_vars, r.n_cons)


def packing_why_not_exact(inst: Instance, scenario: Scenario) -> str | None:
    """None when the packing model (with its aligned search) is exact for the
    scenario; else the reason, in words."""
    names = objective_names(scenario)
    if not names <= {Objective.MERGES, Objective.MOVED}:
        return "objective terms other than merges and moved"
    if Objective.MOVED in names and not inst.singleton_baseline:
        return "the moved objective with a baseline grouping"
    if scenario.ceiling is not None or scenario.max_units is not None or scenario.together or scenario.apart:
        return "a ceiling, a unit limit or pair locks"
    if not scenario.contiguity or scenario.limits:
        return "contiguity off, or limits"
    if scenario.coterminosity not in (Coterminosity.OFF, Coterminosity.NESTED, Coterminosity.ALIGNED):
        return f"coterminosity {scenario.coterminosity.value}"
    return None


class PackingFamily(Formulation):
    """What the packing formulation and its shortcut and aligned variants share: the
    name users select them by and when they are exact (:func:`packing_why_not_exact`)."""

    name = "packing"
    requires = ("objectives merges/moved (every unit its own baseline), no ceiling, no together/apart locks, "
                "contiguity on and coterminosity off/nested/aligned")

    def why_not_exact(self, instance, scenario):
        return packing_why_not_exact(instance, scenario)


class Packing(PackingFamily):
    """Set packing over inclusion-minimal viable groups (modes off and nested)."""

    def accepts(self, instance, block, scenario, forced):
        return scenario.coterminosity is not Coterminosity.ALIGNED

    def solve_block(self, instance, block, scenario, ctx: SolveContext) -> BlockResult:
        return solve_packing(instance, block, scenario, ctx.options, ctx.deadline, ctx.candidate_limit, ctx.run)


PACKING = Packing()
