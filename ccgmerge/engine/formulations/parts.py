"""Fewest split HWBs in ``penalised`` mode: unsplittable parts glued into groups.

In ``penalised`` mode with the ``split_areas`` objective (weight ``w``) and
penalty ``p`` per non-coterminous person, the objective of a plan is::

    w · split_areas + p · noncoterminous

Unlike the partition model's objectives, ``split_areas`` is not
superadditive: cutting a group in two may split an HWB it held whole. So an
optimal plan may use groups that are *splittable*, and the partition model's
candidates (unsplittable viable groups) do not describe it. They do describe
its parts: cut every group of any plan into unsplittable parts (each a
candidate); the group is then a *class* of parts glued together.

**The glue model** (:func:`build_glue`) chooses the parts and, for each HWB,
whether it is whole in one class or split. Each chosen part ``G`` is costed
against a *reference* HWB (its class's main HWB): one of its own HWBs ``a``
(``y_Ga``) or none of them (``y_G⊥``, costing all its people)::

    min  p · Σ_{G,a} (pop(G) - pop(G ∩ a)) y_Ga  +  p · Σ_G pop(G) y_G⊥  +  w · Σ_h s_h
    s.t. Σ_{G ∋ u} x_G = 1                                   every unit u          (add_partition_rows)
         Σ_{a ∈ G} y_Ga + y_G⊥ = x_G                         every candidate G     (define_references)
         Σ_{r ∈ A_h ∪ {⊥_h}} z_hr + s_h = 1                  every HWB h           (define_whole_or_split)
         Σ_{G ∋ u, G partial on h, a ∈ G} y_Ga <= z_ha + s_h  every h, u ∈ U_h, a ∈ A_h   (define_links)
         y_G⊥ <= Σ_{r ∈ A_h ∪ {⊥_h}, r ∉ G} z_hr + s_h       every h, G partial on h

with ``x, z`` binary, ``y, s`` in [0, 1]; ``U_h`` the units with people of
``h``, ``G`` *partial on h* when it holds some but not all of ``U_h``,
``A_h`` the HWBs with people in a candidate partial on ``h`` and ``⊥_h`` a
reference outside ``A_h``. A part partial on no HWB takes its cheapest
reference, ``p`` times its non-coterminous people, with no ``y``.

**Why it bounds every plan.** Take any plan and cut its groups into parts;
cost each part against its class's main HWB ``h*`` (``y_Gh* = 1``, or
``y_G⊥ = 1`` when the part has no people of ``h*``): the parts' costs add up
to the class's non-coterminous people, ``pop(C) - pop(C ∩ h*)``. An HWB
whole in class ``C`` gets ``z_{h,h*} = 1`` (``z_{h,⊥_h}`` when ``h*`` is not
in ``A_h``); every part partial on it lies in ``C`` and so has the reference
``h*``, which meets both links. A split HWB gets ``s_h = 1``. This is a
solution of the model with the plan's objective, so the model's optimum (or
its proven bound) is a lower bound.

**The plan.** The chosen parts, glued: the parts holding people of each HWB
the model keeps whole join one group (a union-find). The glued plan is
checked (connected, ceiling, locks) and costed by
:func:`~ccgmerge.metrics.plan_metrics`; the better of it, the parts unglued
and one group per block is returned. It is proven optimal when it meets the
bound.

A block whose model would exceed :data:`MAX_GLUE_VARIABLES` falls back to
the bound by parts (:func:`split_by_parts`): fewest split HWBs (none, with
one group per block) plus the fewest non-coterminous people, from the
partition model.

Examples
--------
Two CCGs of one HWB, each viable: the least non-coterminous plan keeps them
apart (the HWB split); glued, they make one group and no HWB is split::

    U0 (H0, 6) -- U1 (H0, 6)        floor 5

>>> import pandas as pd
>>> from ccgmerge.instance import Instance
>>> from ccgmerge.engine.solve import solve
>>> from ccgmerge.scenario import Scenario
>>> units = pd.DataFrame({"code": ["U0", "U1"], "population": [6, 6]})
>>> member = pd.DataFrame({"unit": ["U0", "U1"], "area": ["H0", "H0"], "population": [6, 6]})
>>> areas = pd.DataFrame({"code": ["H0"], "population": [12]})
>>> inst = Instance.from_frames(units, areas, member, [("U0", "U1")], warn=False)
>>> plan = solve(inst, Scenario(floor=5, coterminosity="penalised", objective="split_areas"))
>>> plan.status.value, plan.groups, plan.objective
('optimal', ((0, 1),), 0.0)
>>> plan.subproblems[0]["detail"].split("; ")[:2]
['glue model: Optimal solution found', '2 candidate parts, 1 HWBs whole across parts']
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import pulp
from networkx.utils import UnionFind

from ccgmerge.engine.formulations.base import BlockResult, Formulation, SolveContext, time_left, too_late_to_build
from ccgmerge.engine.formulations.partition import (PARTITION, PartitionData, add_partition_rows, build_partition,
                                                    candidate_prune, partition_objective)
from ccgmerge.engine.formulations.trivial import COARSEST
from ccgmerge.engine.splits import unsplittable_sets
from ccgmerge.engine.subsets import CandidateLimitError
from ccgmerge.metrics import plan_metrics
from ccgmerge.plan import Status
from ccgmerge.rules import ceiling_met, groups_connected, locks_ok
from ccgmerge.scenario import Coterminosity, Objective

__all__ = ["GlueData", "glue_data", "define_references", "define_whole_or_split", "define_links",
           "build_glue", "glue_groups", "glue_start", "split_by_glue", "split_by_parts", "SplitByParts", "SPLIT_BY_PARTS", "MAX_GLUE_CANDIDATES",
           "MAX_GLUE_VARIABLES"]

#: the key of ``⊥_h`` (a class reference outside ``A_h``) among an HWB's references
NONE = -1

#: most candidate parts, and variables (x, y and z), of a glue model; a larger block is bounded by parts
MAX_GLUE_CANDIDATES = 12_000
MAX_GLUE_VARIABLES = 60_000


@dataclass
class GlueData:
    """The glue model's inputs over one block.

    ``cands`` are the candidate parts (sorted tuples of unit positions);
    ``refs[k]`` maps each HWB with people in part ``k`` to the part's cost
    against it, ``pop(G) - pop(G ∩ a)``, and ``none_cost[k]`` is ``pop(G)``;
    ``hwb_units[h]`` are the block's units with people of HWB ``h`` (HWBs with
    two or more only); ``partial[h]`` the parts partial on ``h``.
    """

    units: list[int]
    cands: list[tuple[int, ...]]
    refs: list[dict[int, int]]
    none_cost: list[int]
    hwb_units: dict[int, list[int]]
    partial: dict[int, list[int]]

    def n_variables(self) -> int:
        """x, y (with ⊥, for the parts partial on some HWB) and z variables of the model."""
        n_z = sum(len({a for k in ks for a in self.refs[k]}) + 1 for ks in self.partial.values())
        linked = {k for ks in self.partial.values() for k in ks}
        return len(self.cands) + sum(len(self.refs[k]) + 1 for k in linked) + n_z


def glue_data(unit_areas, units: Sequence[int], cands: Sequence[tuple[int, ...]],
              fixed_split: set[int] | frozenset[int] = frozenset()) -> GlueData:
    """The :class:`GlueData` of candidate parts ``cands`` over ``units``
    (``unit_areas``: :attr:`ccgmerge.instance.Instance.unit_area_people`).
    HWBs in ``fixed_split`` (people in other blocks too: split whatever the
    block does, and counted once for the whole plan) get no ``s_h``.

    >>> ua = [((0, 6),), ((0, 4), (1, 2)), ((1, 5),)]   # U1 straddles H0 and H1
    >>> d = glue_data(ua, [0, 1, 2], [(0, 1), (1, 2)])
    >>> d.refs, d.none_cost, d.hwb_units, d.partial
    ([{0: 2, 1: 10}, {0: 7, 1: 4}], [12, 11], {0: [0, 1], 1: [1, 2]}, {0: [1], 1: [0]})
    """
    hwb_units: dict[int, list[int]] = {}
    for u in sorted(units):
        for a, p in unit_areas[u]:
            if p > 0:
                hwb_units.setdefault(a, []).append(u)
    hwb_units = {h: us for h, us in sorted(hwb_units.items()) if len(us) > 1 and h not in fixed_split}
    refs, none_cost = [], []
    partial: dict[int, list[int]] = {h: [] for h in hwb_units}
    for k, G in enumerate(cands):
        per: dict[int, int] = {}
        for u in G:
            for a, p in unit_areas[u]:
                if p > 0:
                    per[a] = per.get(a, 0) + p
        total = sum(per.values())
        refs.append({a: total - per[a] for a in sorted(per)})
        none_cost.append(total)
        members = set(G)
        for h in per:
            us = hwb_units.get(h)
            if us is not None and not members.issuperset(us):
                partial[h].append(k)
    return GlueData(list(units), list(cands), refs, none_cost, hwb_units, {h: ks for h, ks in partial.items() if ks})


def define_references(prob, x, y, y_none, data: GlueData):
    """Each chosen part partial on some HWB costed against one reference HWB or
    none: Σ_a y_Ga + y_G⊥ = x_G. (A part partial on none takes its cheapest
    reference, its non-coterminous people, in the objective: no y.)"""
    for k in sorted(y):
        prob += pulp.lpSum(y[k].values()) + y_none[k] == x[k], f"ref_{k}"


def define_whole_or_split(prob, z, s, data: GlueData):
    """Each HWB whole (with one reference ``a`` for its class) or split: Σ_{a ∈ A_h} z_ha + s_h = 1."""
    for h in sorted(z):
        prob += pulp.lpSum(z[h].values()) + s[h] == 1, f"whole_{h}"


def define_links(prob, y, y_none, z, s, data: GlueData):
    """A part partial on a whole HWB takes its class's reference. With one of its own HWBs::

        Σ_{G ∋ u, G partial on h, a ∈ G} y_Ga <= z_ha + s_h      every h, u ∈ U_h, a ∈ A_h

    and with none of them (``⊥``), the class's reference is not one of them::

        y_G⊥ <= Σ_{r ∈ A_h ∪ {⊥_h}, r ∉ G} z_hr + s_h          every h, G partial on h
    """
    for h, ks in sorted(data.partial.items()):
        for u in data.hwb_units[h]:
            holding = [k for k in ks if u in data.cands[k]]
            for a in sorted(r for r in z[h] if r != NONE):
                terms = [y[k][a] for k in holding if a in y[k]]
                if terms:
                    prob += pulp.lpSum(terms) <= z[h][a] + s[h], f"link_{h}_{u}_{a}"
        for k in ks:
            others = [v for r, v in sorted(z[h].items()) if r not in data.refs[k]]
            prob += y_none[k] <= pulp.lpSum(others) + s[h], f"none_{h}_{k}"


def build_glue(data: GlueData, split_weight: float, penalty: float):
    """The glue model (see the module docstring); returns (problem, x, s, z)."""
    prob = pulp.LpProblem("glue", pulp.LpMinimize)
    x = [pulp.LpVariable(f"x_{k}", cat="Binary") for k in range(len(data.cands))]
    linked = sorted({k for ks in data.partial.values() for k in ks})
    y = {k: {a: pulp.LpVariable(f"y_{k}_{a}", 0, 1) for a in data.refs[k]} for k in linked}
    y_none = {k: pulp.LpVariable(f"yn_{k}", 0, 1) for k in linked}
    z = {h: {a: pulp.LpVariable(f"z_{h}_{a}" if a != NONE else f"z_{h}_none", cat="Binary")
             for a in sorted({a for k in ks for a in data.refs[k]}) + [NONE]}
         for h, ks in data.partial.items()}
    s = {h: pulp.LpVariable(f"s_{h}", 0, 1) for h in z}
    add_partition_rows(prob, x, data)
    define_references(prob, x, y, y_none, data)
    define_whole_or_split(prob, z, s, data)
    define_links(prob, y, y_none, z, s, data)
    free = [k for k in range(len(data.cands)) if k not in y]
    prob.setObjective(pulp.lpSum(penalty * c * y[k][a] for k in linked for a, c in data.refs[k].items() if c)
                      + pulp.lpSum(penalty * data.none_cost[k] * y_none[k] for k in linked)
                      + pulp.lpSum(penalty * min(data.refs[k].values()) * x[k] for k in free
                                   if min(data.refs[k].values()))
                      + pulp.lpSum(split_weight * v for _, v in sorted(s.items())))
    return prob, x, s, z


def glue_groups(cands: Sequence[tuple[int, ...]], picked: Sequence[int], whole: Sequence[Sequence[int]]) -> list[list[int]]:
    """The picked parts, those holding any unit of each set in ``whole`` (the
    units of an HWB kept whole) joined into one group.

    >>> glue_groups([(0, 1), (2,), (3, 4)], [0, 1, 2], [[1, 2]])
    [[0, 1, 2], [3, 4]]
    """
    joined = UnionFind(range(len(picked)))
    part_of = {u: i for i, k in enumerate(picked) for u in cands[k]}
    for us in whole:
        joined.union(*sorted({part_of[u] for u in us}))
    groups = [[u for i in members for u in cands[picked[i]]] for members in joined.to_sets()]
    return sorted(sorted(g) for g in groups)


def _plan_value(instance, groups, scenario, w, p, fixed_split=frozenset()):
    """A block plan's objective, without the HWBs split by other blocks (counted once for the whole plan)."""
    m = plan_metrics(instance, groups, scenario)
    if fixed_split:
        ua = instance.unit_area_people
        holders = [{h for u in g for h, q in ua[u] if q > 0} & set(fixed_split) for g in groups]
        split_here = sum(1 for h in set().union(*holders) if sum(h in x for x in holders) > 1)
        m = dict(m, split_areas=m["split_areas"] - split_here)
    return w * m["split_areas"] + p * m["noncoterminous"], m


def split_by_parts(instance, block, scenario, ctx: SolveContext) -> BlockResult:
    """The bound by parts: fewest split HWBs (0: one group per block) plus the
    fewest non-coterminous people (the partition model); the better of the
    latter's plan and one group per block."""
    t0 = time.perf_counter()
    noncot = scenario.replace(coterminosity="off", objective="noncoterminous")
    res = PARTITION.solve_block(instance, block, noncot, ctx)
    w, p = scenario.objective_terms[0][1], scenario.penalty_weight
    one = [list(block.units)]
    v_one, m_one = _plan_value(instance, one, scenario, w, p, ctx.fixed_split)
    if res.groups is None or res.bound is None:
        return BlockResult(one, Status.FEASIBLE, v_one, None, "partition", time.perf_counter() - t0,
                           f"split by parts: no bound on the non-coterminous part ({res.detail})")
    v_n, m_n = _plan_value(instance, res.groups, scenario, w, p, ctx.fixed_split)
    noncot_bound = m_n["noncoterminous"] - (res.value - res.bound)  # the part's gap, on people
    bound = w * m_one["split_areas"] + p * noncot_bound
    groups, v = (res.groups, v_n) if v_n <= v_one else (one, v_one)
    status = Status.OPTIMAL if bound >= v - 1e-9 else Status.FEASIBLE
    return BlockResult(groups, status, v, min(bound, v), "partition", time.perf_counter() - t0,
                       f"split by parts: fewest split HWBs {m_one['split_areas']} (one group per block) + "
                       f"fewest non-coterminous people {noncot_bound:,.0f} ({res.detail})", res.n_vars, res.n_cons)


def glue_start(data: GlueData, prob, x, ctx: SolveContext, integral: bool) -> str:
    """Give the glue model a start: the least non-coterminous parts (the
    partition model over the same candidates), glued as well as the glue
    model can with those parts fixed. Returns what the start is, in words.

    A start only speeds the proof: the 211 CCGs at 300,000 took 12 s from
    cold and 3 s from the optimum (the least non-coterminous parts, glued).
    """
    pdata = PartitionData(units=data.units, cands=data.cands,
                          costs={"noncoterminous": [min(r.values()) for r in data.refs]})
    pprob, px = build_partition(pdata, name="glue_start")
    pprob.setObjective(partition_objective(px, pdata, {"noncoterminous": 1.0}))
    first = ctx.run(pprob, ctx.options, time_left(ctx.deadline), integral=True)
    if first.objective is None:
        return f"none (the least non-coterminous parts: {first.detail})"
    on = {k for k, v in enumerate(px) if v.varValue is not None and v.varValue > 0.5}
    for k, v in enumerate(x):
        v.lowBound = v.upBound = 1 if k in on else 0
    fixed = ctx.run(prob, ctx.options, time_left(ctx.deadline), integral=integral)
    for v in x:
        v.lowBound, v.upBound = 0, 1
    if fixed.objective is None:
        return f"none (gluing the least non-coterminous parts: {fixed.detail})"
    for v in prob.variables():
        if v.varValue is not None:
            v.setInitialValue(v.varValue)
    return f"the least non-coterminous parts ({first.objective:,.0f} people), glued ({fixed.objective:,.0f})"


def split_by_glue(instance, block, scenario, ctx: SolveContext, cands) -> BlockResult | None:
    """The glue model over ``cands`` (see the module docstring); None when it found no plan."""
    t0 = time.perf_counter()
    w, p = scenario.objective_terms[0][1], scenario.penalty_weight
    data = glue_data(instance.unit_area_people, block.units, cands, ctx.fixed_split)
    prob, x, s, z = build_glue(data, w, p)
    integral = float(w).is_integer() and float(p).is_integer()
    start = glue_start(data, prob, x, ctx, integral) if ctx.options.warm_start else "none"
    out = ctx.run(prob, ctx.options, time_left(ctx.deadline), integral=integral)
    if out.objective is None or out.bound is None:
        return None
    picked = [k for k in range(len(cands)) if x[k].varValue is not None and x[k].varValue > 0.5]
    whole = [data.hwb_units[h] for h in sorted(s) if s[h].varValue is not None and s[h].varValue < 0.5]
    options = [[list(cands[k]) for k in picked], [list(block.units)]]
    glued = glue_groups(cands, picked, whole)
    broken = groups_connected(instance, glued) + ceiling_met(instance, glued, scenario) + locks_ok(instance, glued,
                                                                                                  scenario)
    if not broken:
        options.insert(0, glued)
    best, v = None, None
    for groups in options:
        val, _ = _plan_value(instance, groups, scenario, w, p, ctx.fixed_split)
        if v is None or val < v - 1e-9:
            best, v = groups, val
    bound = min(out.bound, v)
    status = Status.OPTIMAL if bound >= v - 1e-9 else Status.FEASIBLE
    return BlockResult(best, status, v, bound, "partition", time.perf_counter() - t0,
                       f"glue model: {out.detail}; {len(cands)} candidate parts, {len(whole)} HWBs whole across "
                       f"parts{'' if not broken else '; the glued plan breaks a rule: the parts unglued'}; "
                       f"warm start: {start}",
                       len(prob.variables()), len(prob.constraints))


class SplitByParts(Formulation):
    """``split_areas`` in penalised mode: unsplittable parts glued into groups (the glue model); reported as
    ``partition``."""

    name = "partition"
    requires = "the split_areas objective alone (one weight) in penalised mode, under the partition model's conditions"

    def _parts(self, scenario):
        return (scenario.replace(coterminosity="off", objective="noncoterminous"),
                scenario.replace(coterminosity="off", objective="split_areas"))

    def why_not_exact(self, instance, scenario):
        terms = {t for t, w in scenario.objective_terms if w > 0}
        if scenario.coterminosity is not Coterminosity.PENALISED or terms != {Objective.SPLIT_AREAS}:
            return "not the split_areas objective alone in penalised mode"
        if scenario.lexicographic or scenario.limits:
            return "a lexicographic objective or limits"
        noncot, split = self._parts(scenario)
        return PARTITION.why_not_exact(instance, noncot) or COARSEST.why_not_exact(instance, split)

    def accepts(self, instance, block, scenario, forced):
        noncot, split = self._parts(scenario)
        return PARTITION.accepts(instance, block, noncot, forced) and COARSEST.accepts(instance, block, split, forced)

    def solve_block(self, instance, block, scenario, ctx: SolveContext) -> BlockResult:
        noncot, _ = self._parts(scenario)
        limit = MAX_GLUE_CANDIDATES if ctx.candidate_limit is None else min(ctx.candidate_limit, MAX_GLUE_CANDIDATES)
        res = None
        try:
            cands = unsplittable_sets(instance.neighbours, instance.population.tolist(), scenario.floor_population,
                                      nodes=block.units, limit=limit, prune=candidate_prune(instance, noncot),
                                      deadline=ctx.deadline)
        except CandidateLimitError:
            if ctx.deadline is not None and time.perf_counter() > ctx.deadline:
                raise
            cands = []  # too many parts for the glue model: bounded by parts
        size = glue_data(instance.unit_area_people, block.units, cands).n_variables() if cands else 0
        if cands and size <= MAX_GLUE_VARIABLES and not too_late_to_build(ctx.deadline, 4 * size):
            res = split_by_glue(instance, block, scenario, ctx, cands)
        if res is None:
            res = split_by_parts(instance, block, scenario, ctx)
        if res.status is not Status.OPTIMAL and ctx.deadline is None:
            raise CandidateLimitError("split_areas in penalised mode: the plan does not meet the bound; without a "
                                      "time limit the compact model proves the optimum")
        return res


SPLIT_BY_PARTS = SplitByParts()
