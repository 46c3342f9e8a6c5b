"""The optimiser: preprocessing, decomposition, formulation choice, solve, check.

:func:`solve` is the one entry point::

    plan = solve(instance, Scenario(floor=150_000, coterminosity="nested"))

1. **Preprocessing** proves infeasibility where it is cheap, naming the
   blockers: a unit locked alone below the floor, a unit above the ceiling,
   a component (or, in ``nested`` mode, an HWB's connected piece) whose whole
   population is below the floor, lock pairs that cannot be honoured.
2. **Decomposition** into independent blocks: connected components, and in
   ``nested`` mode each HWB's connected pieces. Blocks that share a baseline
   group are kept together when the objective needs the baseline.
3. **Formulation** per block (``formulation="auto"``): the packing model of
   :mod:`ccgmerge.engine.formulations.model` when it is exact (objectives ``merges``/``moved``
   with every unit its own baseline, no ceiling, no pair locks or limits,
   contiguity on); else the partition model over unsplittable groups when
   it is exact (objectives and limits on ``merges``/``noncoterminous``/
   ``moved`` with every unit its own baseline, modes off/nested/penalised,
   no together locks) and its candidates are few enough; else the labelled
   model (``moved`` from a baseline grouping); else the compact assignment
   model with separator cuts. Limits (``Scenario.limits``) bound plan
   totals, so a scenario with limits is solved as one block.
4. **Solve** with the chosen solver (:mod:`ccgmerge.engine.backends`), reading an
   honest status and bound.
5. **Check** the assembled plan with :func:`ccgmerge.check.check_plan`.

Examples
--------
>>> import ccgmerge.data.synthetic as syn
>>> inst = syn.generate(20, seed=2)
>>> plan = solve(inst, Scenario(floor=400_000))
>>> plan.status.value, plan.verdict.ok
('optimal', True)
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pulp

from ccgmerge.engine import subsets as cand
from ccgmerge.engine.formulations import realign
from ccgmerge.check import check_plan
from ccgmerge.errors import ScenarioError
from ccgmerge.instance import Instance
from ccgmerge.engine.heuristics import greedy_merge
from ccgmerge.engine.formulations.model import (CompactData, LabelledData, PackingData, PartitionData, add_label_separator_cuts, add_separator_cuts,
                    build_compact, build_labelled, build_packing, build_partition, partition_objective, set_compact_start)
from ccgmerge.plan import Infeasibility, Plan, Status, objective_value, plan_metrics
from ccgmerge.rules import aligned_ok, floor_met, groups_connected
from ccgmerge.scenario import Coterminosity, Objective, Scenario
from ccgmerge.engine.backends import SolverOptions, solver_version
from ccgmerge.engine.backends import run as _run

_SOLVER_CLOCK = [0.0]


def run(prob, options, time_limit=None, integral=False):
    """solvers.run, adding its wall time to the solver clock (build vs solve split)."""
    out = _run(prob, options, time_limit, integral)
    _SOLVER_CLOCK[0] += out.seconds
    return out

__all__ = ["solve", "preprocess", "Block"]

_WORST = [Status.INFEASIBLE, Status.NO_SOLUTION, Status.FEASIBLE, Status.OPTIMAL]


@dataclass
class Block:
    """An independent subproblem: a set of unit positions (sorted)."""

    units: list[int]
    label: str


@dataclass
class _BlockResult:
    groups: list[list[int]] | None
    status: Status
    value: float | None  # min-form objective of the block (primary stage)
    bound: float | None
    formulation: str
    seconds: float
    detail: str = ""
    n_vars: int = 0
    n_cons: int = 0
    solver_seconds: float = 0.0


# ---------------------------------------------------------------------------
# preprocessing
# ---------------------------------------------------------------------------
def _pieces(inst: Instance, units: Sequence[int]) -> list[list[int]]:
    return cand.connected_pieces(inst.neighbours, units)


def _merge_blocks(blocks: list[Block], key) -> list[Block]:
    """Union of the blocks whose units share a ``key`` value (union-find, deterministic)."""
    if len(blocks) <= 1:
        return blocks
    parent = list(range(len(blocks)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first: dict = {}
    for k, b in enumerate(blocks):
        for i in b.units:
            g = key(i)
            if g in first:
                ra, rb = find(first[g]), find(k)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
            else:
                first[g] = k
    merged: dict[int, Block] = {}
    for k, b in enumerate(blocks):
        r = find(k)
        if r in merged:
            merged[r] = Block(sorted(merged[r].units + b.units), merged[r].label + " + " + b.label)
        else:
            merged[r] = Block(list(b.units), b.label)
    return [merged[k] for k in sorted(merged)]


def preprocess(inst: Instance, scenario: Scenario) -> tuple[list[Block], list[list[int]], Infeasibility | None]:
    """Blocks to solve, fixed groups (units locked alone), or a proof of infeasibility."""
    F = scenario.floor_population
    pop = inst.population
    codes = inst.unit_codes
    unknown = sorted(({c for c in scenario.alone} | {c for p in scenario.together | scenario.apart for c in p}) - set(codes))
    if unknown:
        raise ScenarioError(f"locks name units that are not in the instance: {', '.join(unknown)}.")
    alone = sorted(inst.index[c] for c in scenario.alone)
    fixed = [[i] for i in alone]
    small = [codes[i] for i in alone if pop[i] < F]
    if small:
        return [], fixed, Infeasibility(
            f"units locked alone are below the floor {F:,}: " + ", ".join(f"{c} ({pop[inst.index[c]]:,})" for c in small) + ".",
            units=tuple(small),
            suggestion="unlock them or lower the floor.",
        )
    if scenario.ceiling is not None:
        big = [i for i in range(inst.n_units) if pop[i] > scenario.ceiling]
        if big:
            return [], fixed, Infeasibility(
                f"units above the ceiling {scenario.ceiling:,.0f} on their own: " + ", ".join(f"{codes[i]} ({pop[i]:,})" for i in big) + ".",
                units=tuple(codes[i] for i in big),
                suggestion="raise the ceiling above the largest unit.",
            )
    for a, b in sorted(scenario.together):
        if a in scenario.alone or b in scenario.alone:
            return [], fixed, Infeasibility(f"pair ({a}, {b}) must be together but one of them is locked alone.", units=(a, b))
    rest = [i for i in range(inst.n_units) if i not in set(alone)]
    if not rest:
        return [], fixed, None
    mode = scenario.coterminosity
    main = inst.main_area_index
    if scenario.contiguity:
        comps = _pieces(inst, rest)
    else:
        comps = [rest]
    blocks: list[Block] = []
    blockers: list[dict] = []
    for comp in comps:
        if mode is Coterminosity.NESTED:
            by_area: dict[int, list[int]] = {}
            for i in comp:
                by_area.setdefault(int(main[i]), []).append(i)
            for a in sorted(by_area):
                pieces = _pieces(inst, by_area[a]) if scenario.contiguity else [by_area[a]]
                for piece in pieces:
                    p = int(pop[piece].sum())
                    label = f"HWB {inst.area_codes[a]}" + (f" piece {codes[piece[0]]}" if len(pieces) > 1 else "")
                    if p < F:
                        blockers.append({"area": inst.area_codes[a], "area_name": str(inst.areas.loc[inst.area_codes[a], "name"]),
                                         "units": [codes[i] for i in piece], "population": p, "shortfall": F - p})
                    blocks.append(Block(piece, label))
        else:
            p = int(pop[comp].sum())
            if p < F:
                blockers.append({"area": None, "units": [codes[i] for i in comp], "population": p, "shortfall": F - p})
            blocks.append(Block(comp, f"component {codes[comp[0]]}"))
    if blockers:
        if mode is Coterminosity.NESTED:
            worst = min(b["population"] for b in blockers)
            text = "; ".join(f"{b['area']} {b['area_name']} ({', '.join(b['units'][:4])}{'...' if len(b['units']) > 4 else ''}: {b['population']:,})" for b in blockers[:12])
            reason = (f"nested mode: {len(blockers)} HWB piece(s) hold fewer than {F:,} people, so no viable CCG fits inside them: "
                      f"{text}{' ...' if len(blockers) > 12 else ''}.")
            sugg = f"use coterminosity='aligned' (whole HWBs may merge) or lower the floor to {worst:,} or less."
            areas = tuple(sorted({b['area'] for b in blockers}))
        else:
            worst = min(b["population"] for b in blockers)
            text = "; ".join(f"{', '.join(b['units'][:4])}{'...' if len(b['units']) > 4 else ''} ({b['population']:,})" for b in blockers)
            reason = f"{len(blockers)} connected component(s) of the adjacency graph hold fewer than {F:,} people: {text}."
            sugg = f"add adjacency edges (Instance.with_edges) to join them to a neighbour, or lower the floor to {worst:,} or less."
            areas = ()
        return blocks, fixed, Infeasibility(reason, units=tuple(c for b in blockers for c in b["units"]), areas=areas,
                                            details=tuple(blockers), suggestion=sugg)
    # together pairs must lie in one block
    where = {i: k for k, b in enumerate(blocks) for i in b.units}
    for a, b in sorted(scenario.together):
        ia, ib = inst.index[a], inst.index[b]
        if where[ia] != where[ib]:
            return blocks, fixed, Infeasibility(
                f"units {a} and {b} must be together but lie in different {'HWB pieces' if mode is Coterminosity.NESTED else 'components'}.",
                units=(a, b), suggestion="drop the lock or add an adjacency edge.")
    # blocks sharing a baseline group stay together when the objective uses the baseline;
    # in aligned mode, blocks sharing an HWB stay together (a group may need all of it)
    needs_base = any(t is Objective.MOVED for t, _ in scenario.objective_terms) and not inst.singleton_baseline
    if needs_base:
        blocks = _merge_blocks(blocks, lambda i: inst.baseline_codes[i])
    if mode is Coterminosity.ALIGNED:
        blocks = _merge_blocks(blocks, lambda i: int(main[i]))
    return blocks, fixed, None


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def _terms(scenario: Scenario) -> list[list[tuple[Objective, float]]]:
    """Objective stages: one stage (weighted) or one per lexicographic term.
    Penalised mode adds the non-coterminous penalty to the first stage."""
    terms = scenario.objective_terms
    stages = [[t] for t in terms] if scenario.lexicographic else [list(terms)]
    if scenario.coterminosity is Coterminosity.PENALISED and scenario.penalty_weight > 0:
        first = dict(stages[0])
        first[Objective.NONCOTERMINOUS] = first.get(Objective.NONCOTERMINOUS, 0.0) + scenario.penalty_weight
        stages[0] = list(first.items())
    return stages


def _packing_exact(inst: Instance, scenario: Scenario) -> bool:
    names = {t for stage in _terms(scenario) for t, w in stage if w > 0}
    if not names <= {Objective.MERGES, Objective.MOVED}:
        return False
    if Objective.MOVED in names and not inst.singleton_baseline:
        return False
    if scenario.ceiling is not None or scenario.max_units is not None or scenario.together or scenario.apart:
        return False
    if not scenario.contiguity or scenario.limits:
        return False
    return scenario.coterminosity in (Coterminosity.OFF, Coterminosity.NESTED, Coterminosity.ALIGNED)


def _partition_exact(inst: Instance, scenario: Scenario) -> bool:
    names = {t for stage in _terms(scenario) for t, w in stage if w > 0} | {Objective(k) for k, _ in scenario.limits}
    if not names <= {Objective.MERGES, Objective.MOVED, Objective.NONCOTERMINOUS}:
        return False
    if Objective.MOVED in names and not inst.singleton_baseline:
        return False
    if scenario.together or not scenario.contiguity:
        return False
    return scenario.coterminosity in (Coterminosity.OFF, Coterminosity.NESTED, Coterminosity.PENALISED)


def _labelled_exact(inst: Instance, scenario: Scenario) -> bool:
    names = {t for stage in _terms(scenario) for t, w in stage if w > 0}
    if names != {Objective.MOVED} or inst.singleton_baseline:
        return False
    if scenario.ceiling is not None or scenario.max_units is not None or not scenario.contiguity or scenario.limits:
        return False
    # a unit locked alone may continue its baseline group instead of the label's group,
    # which the labelled model cannot see (the compact model can)
    base = inst.baseline_codes
    alone = {inst.index[c] for c in scenario.alone if c in inst.index}
    if any(base[i] == base[u] for u in alone for i in range(inst.n_units) if i not in alone):
        return False
    return scenario.coterminosity in (Coterminosity.OFF, Coterminosity.NESTED)


def _solve_labelled(inst: Instance, block: Block, scenario: Scenario, options: SolverOptions, deadline) -> _BlockResult:
    t0 = time.perf_counter()
    idx = inst.index
    units = block.units
    labels = sorted({inst.baseline_codes[i] for i in units})
    lab = {c: k for k, c in enumerate(labels)}
    # one extra label per component (nested: per HWB piece): it may need a group that
    # continues no baseline group; with two, one could merge into a neighbour in the
    # same component (piece) moving no one more
    n_new = len(_pieces(inst, units))
    inside = set(units)
    piece = None
    if scenario.coterminosity is Coterminosity.NESTED:
        main = inst.main_area_index
        by_area: dict[int, list[int]] = {}
        for i in units:
            by_area.setdefault(int(main[i]), []).append(i)
        piece = {}
        n_new = 0
        for a in sorted(by_area):
            for k, pc in enumerate(_pieces(inst, by_area[a])):
                n_new += 1
                for i in pc:
                    piece[i] = a * 1000 + k
    if not scenario.together and not scenario.apart:
        rd = realign.block_data(units, {i: lab[inst.baseline_codes[i]] for i in units}, len(lab), inst.population,
                                inst.neighbours, scenario.floor_population, piece)
        if rd is not None:
            rr = realign.solve_realign(rd, run, options, deadline)
            return _BlockResult(rr.groups, rr.status, rr.value, rr.bound, "realign", time.perf_counter() - t0, rr.detail,
                                rr.n_vars, rr.n_cons)
    labels = labels + [f"(new group {k + 1})" for k in range(n_new)]
    d = LabelledData(
        units=list(units), labels=labels, base={i: lab[inst.baseline_codes[i]] for i in units}, pop=inst.population,
        nb=inst.neighbours, floor=scenario.floor_population,
        together=[(idx[a], idx[b]) for a, b in sorted(scenario.together) if idx[a] in inside],
        apart=[(idx[a], idx[b]) for a, b in sorted(scenario.apart) if idx[a] in inside],
        piece=piece,
    )
    prob, x, _ = build_labelled(d)
    cuts, rounds = 0, 0
    while True:
        left = None if deadline is None else max(1.0, deadline - time.perf_counter())
        out = run(prob, options, left, integral=True)
        if out.status is Status.INFEASIBLE:
            return _BlockResult(None, Status.INFEASIBLE, None, None, "labelled", time.perf_counter() - t0, out.detail,
                                len(prob.variables()), len(prob.constraints))
        if out.objective is None:
            return _BlockResult(None, Status.NO_SOLUTION, None, out.bound, "labelled", time.perf_counter() - t0, out.detail,
                                len(prob.variables()), len(prob.constraints))
        cur: dict[int, list[int]] = {}
        for (i, l), v in x.items():
            if v.varValue is not None and v.varValue > 0.5:
                cur.setdefault(l, []).append(i)
        added = add_label_separator_cuts(prob, x, d, cur, rounds)
        cuts += added
        rounds += 1
        if added == 0:
            groups = [sorted(g) for _, g in sorted(cur.items())]
            return _BlockResult(groups, out.status, out.objective, out.bound, "labelled", time.perf_counter() - t0,
                                f"{out.detail}; {rounds} rounds, {cuts} separator cuts", len(prob.variables()), len(prob.constraints))
        if deadline is not None and time.perf_counter() > deadline:
            return _BlockResult(None, Status.NO_SOLUTION, None, out.bound, "labelled", time.perf_counter() - t0,
                                f"time limit during cut rounds ({rounds} rounds)", len(prob.variables()), len(prob.constraints))


def _absorb(inst: Instance, groups: list[list[int]], units: Sequence[int]) -> list[list[int]] | None:
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


# ---------------------------------------------------------------------------
# packing path
# ---------------------------------------------------------------------------
def _values(inst: Instance, stage, members_root) -> float:
    val = 0.0
    for t, w in stage:
        if t is Objective.MERGES:
            val += w
        elif t is Objective.MOVED:
            val += w * float(inst.population[members_root])
    return val


@dataclass
class _Stages:
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


def _packing_stages(inst: Instance, data: PackingData, stages, options: SolverOptions, deadline, key) -> _Stages:
    """Solve the packing model of ``data`` for each objective stage in turn, each
    later stage holding the earlier optima."""

    def root_of(S):
        return max(S, key=lambda i: key[i])

    res = _Stages(Status.OPTIMAL, [], None, [], [], [])
    area_roots = [root_of([i for h in C for i in data.area_units[h]]) for C in data.area_cands]
    prob_constraints = []
    for si, stage in enumerate(stages):
        data.values = [_values(inst, stage, root_of(S)) for S in data.cands]
        data.area_values = [_values(inst, stage, r) for r in area_roots]
        prob, y, s, z = build_packing(data, name=f"packing_{si}")
        for expr, rhs in prob_constraints:
            prob += expr(y, z) <= rhs
        res.n_vars, res.n_cons = len(prob.variables()), len(prob.constraints)
        left = None if deadline is None else max(1.0, deadline - time.perf_counter())
        out = run(prob, options, left, integral=all(float(v).is_integer() for v in data.values + data.area_values))
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
            target = out.objective + 1e-6 * max(1.0, abs(out.objective))

            def expr(y, z, vals=vals, avals=avals):
                return pulp.lpSum(-v * y[k] for k, v in enumerate(vals)) + pulp.lpSum(-v * z[k] for k, v in enumerate(avals))
            prob_constraints.append((expr, target))
    return res


def _solve_packing(inst: Instance, block: Block, scenario: Scenario, options: SolverOptions, deadline, limit) -> _BlockResult:
    if scenario.coterminosity is Coterminosity.ALIGNED:
        return _solve_aligned(inst, block, scenario, options, deadline, limit)
    t0 = time.perf_counter()
    F = scenario.floor_population
    units = block.units
    key = [(int(p), -i) for i, p in enumerate(inst.population)]
    data = PackingData(units=units, cands=cand.minimal_sets(inst.neighbours, inst.population.tolist(), F, nodes=units, limit=limit,
                                                                   deadline=deadline),
                       values=[])
    t_enum = time.perf_counter() - t0
    r = _packing_stages(inst, data, _terms(scenario), options, deadline, key)
    if not r.values:
        status = Status.INFEASIBLE if r.status is Status.INFEASIBLE else Status.NO_SOLUTION
        return _BlockResult(None, status, None, r.bound, "packing", time.perf_counter() - t0, r.detail, r.n_vars, r.n_cons)
    # build the partition
    groups = [sorted(data.cands[k]) for k in r.chosen_y]
    full = _absorb(inst, groups, units)
    if full is None:  # only with a non-optimal packing that left a piece uncovered
        full = _complete(inst, groups, units, data, F)
    if full is None:
        raise cand.CandidateLimitError("the packing solution could not be completed into a plan")
    return _BlockResult(full, r.status, r.values[0], r.bound, "packing", time.perf_counter() - t0,
                        f"{r.detail}; {len(data.cands)} candidates, enumeration {t_enum:.2f} s", r.n_vars, r.n_cons)


# ---------------------------------------------------------------------------
# aligned mode: packing inside HWBs and over unions of whole HWBs, with a search
# over the unions that hold the HWBs in several pieces
# ---------------------------------------------------------------------------
#: most nodes of the split-HWB search before the block goes to the compact model
_ALIGNED_NODE_LIMIT = 2000


@dataclass
class _AlignedBlock:
    """What the nodes of one aligned block share (HWBs by block-local id)."""

    areas: list[int]  # global HWB index of each local HWB
    area_units: list[list[int]]
    pieces: list[list[list[int]]]  # connected pieces of each HWB's units
    internal_ok: list[bool]  # every piece reaches the floor: the HWB may be divided internally
    area_nb: list[list[int]]
    unit_area: dict[int, int]
    split: list[int]  # HWBs in several pieces
    cands: dict[int, list[tuple[int, ...]]]  # minimal groups inside each HWB (filled on demand)


@dataclass(frozen=True)
class _Node:
    """A node of the split-HWB search: ``cores`` are sets of HWBs each known to lie
    whole in one union group (so never divided internally), ``internal`` split
    HWBs known to be divided internally. Split HWBs in neither are free."""

    cores: frozenset[frozenset[int]]
    internal: frozenset[int]


@dataclass
class _NodeResult:
    stages: _Stages
    groups: list[list[int]] | None  # the model's plan when it meets every rule
    noninternal: set[int]  # free split HWBs the model merged whole
    n_cands: int


def _aligned_block(inst: Instance, block: Block, F: int, area_of: np.ndarray | None = None) -> _AlignedBlock:
    main = inst.main_area_index if area_of is None else area_of
    areas = sorted({int(main[i]) for i in block.units})
    local = {a: k for k, a in enumerate(areas)}
    area_units: list[list[int]] = [[] for _ in areas]
    for i in block.units:
        area_units[local[int(main[i])]].append(i)
    counts = np.bincount(np.asarray(main, dtype=np.int64), minlength=max(areas) + 1)
    for a, us in zip(areas, area_units):  # precondition: every HWB wholly in this block
        if len(us) != counts[a]:
            raise cand.CandidateLimitError(f"HWB {inst.area_codes[a] if a < inst.n_areas else a} is split across components")
    unit_area = {i: h for h, us in enumerate(area_units) for i in us}
    pop = inst.population
    pieces = [_pieces(inst, us) for us in area_units]
    anb: list[set[int]] = [set() for _ in areas]
    for i in block.units:
        for j in inst.neighbours[i]:
            if unit_area[i] != unit_area[j]:
                anb[unit_area[i]].add(unit_area[j])
    return _AlignedBlock(areas, area_units, pieces, [all(int(pop[p].sum()) >= F for p in ps) for ps in pieces],
                         [sorted(s) for s in anb], unit_area, [h for h, ps in enumerate(pieces) if len(ps) > 1], {})


def _aligned_node_data(inst: Instance, ab: _AlignedBlock, node: _Node, F: int, limit, rooted: bool, key) -> PackingData:
    """The packing model of a node: each core becomes one HWB that may only join
    a union whole; split HWBs (cores included) count as connected at HWB level,
    which relaxes the node unless every core is connected unit by unit and every
    free split HWB stays internal."""
    w = inst.population.tolist()
    incore = {h for c in node.cores for h in c}
    supers = sorted([tuple(sorted(c)) for c in node.cores] + [(h,) for h in range(len(ab.areas)) if h not in incore])
    sid = {h: k for k, t in enumerate(supers) for h in t}
    data = PackingData(units=[i for us in ab.area_units for i in us], cands=[], values=[], aligned=True, n_areas=len(supers))
    data.area_units = [sorted(i for h in t for i in ab.area_units[h]) for t in supers]
    data.internal_ok = [t[0] not in incore and ab.internal_ok[t[0]] for t in supers]
    data.must_internal = {sid[h] for h in node.internal}
    for k, t in enumerate(supers):
        if data.internal_ok[k]:
            h = t[0]
            if h not in ab.cands:
                ab.cands[h] = cand.minimal_sets(inst.neighbours, w, F, nodes=ab.area_units[h], limit=limit)
            data.cands += ab.cands[h]
            data.cand_area += [k] * len(ab.cands[h])
    data.area_nb = [sorted({sid[b] for h in t for b in ab.area_nb[h]} - {k}) for k, t in enumerate(supers)]
    apop = [int(inst.population[us].sum()) for us in data.area_units]
    if rooted:
        amax = [max(us, key=lambda i: key[i]) for us in data.area_units]
        data.area_cands = [S for _, S in cand.rooted_sets(data.area_nb, apop, F, limit=limit, key=[key[r] for r in amax])]
    else:
        data.area_cands = cand.minimal_sets(data.area_nb, apop, F, limit=limit)
    data.below = [S for S, _ in cand.connected_subsets_below(data.area_nb, apop, F, limit=limit)]
    return data


def _aligned_plan_ok(inst: Instance, groups: list[list[int]], units: Sequence[int], scenario: Scenario) -> bool:
    if sorted(i for g in groups for i in g) != sorted(units):
        return False
    return not (groups_connected(inst, groups, scenario) or floor_met(inst, groups, scenario) or aligned_ok(inst, groups, scenario))


def _aligned_node(inst, ab: _AlignedBlock, block: Block, node: _Node, scenario, options, deadline, limit, key) -> _NodeResult:
    F = scenario.floor_population
    stages = _terms(scenario)
    rooted = any(t is Objective.MOVED and w > 0 for st in stages for t, w in st)
    data = _aligned_node_data(inst, ab, node, F, limit, rooted, key)
    r = _packing_stages(inst, data, stages, options, deadline, key)
    groups, noninternal = None, set()
    if r.values:
        full = _assemble_aligned(inst, data, r.chosen_y, r.chosen_z, r.internal, F)
        if full is not None and _aligned_plan_ok(inst, full, block.units, scenario):
            groups = full
        internal = {ab.unit_area[data.area_units[k][0]] for k in r.internal}  # cores are never internal
        incore = {h for c in node.cores for h in c}
        noninternal = {h for h in ab.split if h not in incore and h not in node.internal and h not in internal}
    return _NodeResult(r, groups, noninternal, len(data.cands) + len(data.area_cands))


def _aligned_children(inst: Instance, ab: _AlignedBlock, node: _Node, noninternal: set[int]) -> list[_Node] | None:
    """Nodes covering every plan of ``node``, branching on one disconnected core (or
    free split HWB the model merged whole) and its piece Q with the fewest
    neighbouring HWBs: a connected union holding the core also holds an HWB
    next to Q (or, for a free split HWB, the HWB stays internal). None when
    nothing is disconnected."""
    best = None
    options = [(c, False) for c in sorted(node.cores, key=sorted)] + [(frozenset({h}), True) for h in sorted(noninternal)]
    for core, free in options:
        ps = _pieces(inst, [i for h in sorted(core) for i in ab.area_units[h]])
        if len(ps) <= 1:
            continue
        for Q in ps:
            nbrs = sorted({ab.unit_area[j] for i in Q for j in inst.neighbours[i] if j in ab.unit_area} - core - node.internal)
            if best is None or len(nbrs) < len(best[2]):
                best = (core, free, nbrs)
    if best is None:
        return None
    core, free, nbrs = best
    out = [_Node(node.cores - {core}, node.internal | core)] if free else []
    for b in nbrs:
        grown = set(core) | {b}
        rest = set()
        for c in node.cores - {core}:
            if b in c:
                grown |= c
            else:
                rest.add(c)
        out.append(_Node(frozenset(rest | {frozenset(grown)}), node.internal))
    # first the nodes whose cores are all connected: their models are exact
    return sorted(out, key=lambda n: any(len(_pieces(inst, [i for h in c for i in ab.area_units[h]])) > 1 for c in n.cores))


def _piece_relaxation(inst, ab: _AlignedBlock, block: Block, scenario, options, deadline, limit, key) -> _NodeResult:
    """The packing model with each piece of a split HWB taken as an HWB of its own."""
    piece_of = np.array(inst.main_area_index, dtype=np.int64)
    extra = max(inst.n_areas, int(piece_of.max()) + 1)
    for h in ab.split:
        for p in ab.pieces[h][1:]:
            piece_of[p] = extra
            extra += 1
    pab = _aligned_block(inst, block, scenario.floor_population, area_of=piece_of)
    return _aligned_node(inst, pab, block, _Node(frozenset(), frozenset()), scenario, options, deadline, limit, key)


def _lex_cmp(a: Sequence[float], b: Sequence[float]) -> int:
    for x, y in zip(a, b):
        tol = 1e-6 * max(1.0, abs(x), abs(y))
        if x < y - tol:
            return -1
        if x > y + tol:
            return 1
    return 0


def _solve_aligned(inst: Instance, block: Block, scenario: Scenario, options: SolverOptions, deadline, limit) -> _BlockResult:
    """Aligned mode, exact also when HWBs lie in several pieces.

    A union holding such an HWB must hold HWBs joining its pieces. Each node of a
    best-first search fixes sets of HWBs (cores) that lie whole in one union and
    solves the packing model with every core as one HWB counted as connected:
    a relaxation of the node (an upper bound on what it retains), exact when its
    plan meets every rule. Otherwise the node branches on a disconnected core:
    the union holding it also holds an HWB next to one of its pieces. Nodes whose
    bound is no better than the best plan are pruned, so the best plan is optimal
    when the search ends.
    """
    t0 = time.perf_counter()
    F = scenario.floor_population
    stages = _terms(scenario)
    key = [(int(p), -i) for i, p in enumerate(inst.population)]
    ab = _aligned_block(inst, block, F)
    root = _Node(frozenset(frozenset({h}) for h in ab.split if not ab.internal_ok[h]), frozenset())
    best: _NodeResult | None = None
    proven = True
    open_bounds: list[float] = []  # first-stage bounds of nodes left unsolved
    heap: list = []
    seen = {root}
    count = [0]

    def visit(node: _Node) -> _NodeResult:
        nonlocal best, proven
        rec = _aligned_node(inst, ab, block, node, scenario, options, deadline, limit, key)
        r = rec.stages
        exact = r.status is Status.OPTIMAL and len(r.values) == len(stages)
        if not r.values:
            if r.status is not Status.INFEASIBLE:  # stopped without a plan: the node stays open
                proven = False
                open_bounds.append(-np.inf if r.bound is None else r.bound)
            return rec
        if rec.groups is not None and (best is None or _lex_cmp(r.values, best.stages.values) < 0):
            best = rec
        if not exact:
            proven = False
            open_bounds.append(-np.inf if r.bound is None else r.bound)
        elif rec.groups is None:
            heapq.heappush(heap, (tuple(r.values), count[0], node, rec))
            count[0] += 1
        return rec

    first = visit(root)
    nodes = 1
    floor_vals = None  # lex optimum of the piece relaxation (None: not solved yet / unknown)
    pieces_tried = False
    while heap:
        vals, _, node, rec = heapq.heappop(heap)
        if best is not None and _lex_cmp(vals, best.stages.values) < 0 and not pieces_tried:
            # Before solving more nodes, a second relaxation taking each piece of a split
            # HWB as an HWB of its own: its optimum bounds every plan, and its plan may
            # meet every rule.
            pieces_tried = True
            nodes += 1
            prec = _piece_relaxation(inst, ab, block, scenario, options, deadline, limit, key)
            if prec.stages.status is Status.OPTIMAL and len(prec.stages.values) == len(stages):
                floor_vals = prec.stages.values
                if prec.groups is not None and _lex_cmp(floor_vals, best.stages.values) < 0:
                    best = prec
        if best is not None and (_lex_cmp(vals, best.stages.values) >= 0
                                 or (floor_vals is not None and _lex_cmp(best.stages.values, floor_vals) <= 0)):
            heap.clear()  # every open node is no better than the best plan
            break
        if deadline is not None and time.perf_counter() > deadline:
            proven = False
            open_bounds += [vals[0]] + [e[0][0] for e in heap]
            break
        if rec is None:  # a child waiting with its parent's bound: solve it now
            nodes += 1
            visit(node)
            continue
        children = _aligned_children(inst, ab, node, rec.noninternal)
        if children is None:
            raise cand.CandidateLimitError("the aligned packing solution could not be completed into a plan")
        for child in children:
            if child not in seen:
                seen.add(child)
                if len(seen) > _ALIGNED_NODE_LIMIT:
                    raise cand.CandidateLimitError(f"more than {_ALIGNED_NODE_LIMIT} nodes in the split-HWB search")
                heapq.heappush(heap, (vals, count[0], child, None))
                count[0] += 1
    secs = time.perf_counter() - t0
    r0 = first.stages
    detail = (f"{r0.detail}; {first.n_cands} candidates" + (f"; split-HWB search {nodes} nodes" if ab.split else ""))
    if best is None:
        if proven:
            return _BlockResult(None, Status.INFEASIBLE, None, None, "packing", secs, detail, r0.n_vars, r0.n_cons)
        return _BlockResult(None, Status.NO_SOLUTION, None, min(open_bounds, default=None), "packing", secs, detail,
                            r0.n_vars, r0.n_cons)
    value = best.stages.values[0]
    bound = min([value] + open_bounds)
    status = Status.OPTIMAL if proven else Status.FEASIBLE
    return _BlockResult(best.groups, status, value, None if bound == -np.inf else bound, "packing", secs, detail,
                        r0.n_vars, r0.n_cons)


def _is_connected_units(inst: Instance, members) -> bool:
    return len(_pieces(inst, members)) <= 1


def _complete(inst, groups, units, data: PackingData, F):
    """Greedy repair: add non-conflicting candidates until absorption reaches every unit."""
    used = {i for g in groups for i in g}
    for S in data.cands:
        if not used.intersection(S):
            groups.append(sorted(S))
            used.update(S)
    return _absorb(inst, groups, units)


def _assemble_aligned(inst, data: PackingData, chosen_y, chosen_z, internal, F):
    groups: list[list[int]] = []
    internal = set(internal)
    by_area: dict[int, list[list[int]]] = {h: [] for h in internal}
    for k in chosen_y:
        by_area.setdefault(data.cand_area[k], []).append(sorted(data.cands[k]))
    for h in sorted(internal):
        gs = by_area.get(h, [])
        if not gs:  # an internal HWB with no group: take its first candidate
            gs = [sorted(data.cands[k]) for k in range(len(data.cands)) if data.cand_area[k] == h][:1]
        full = _absorb(inst, [list(g) for g in gs], data.area_units[h])
        if full is None:  # a piece of the HWB left without a group: add its candidates
            used = {i for g in gs for i in g}
            for k in range(len(data.cands)):
                if data.cand_area[k] == h and not used.intersection(data.cands[k]):
                    gs.append(sorted(data.cands[k]))
                    used.update(data.cands[k])
            full = _absorb(inst, [list(g) for g in gs], data.area_units[h])
        if full is None:
            return None
        groups += full
    # non-internal HWBs: whole-HWB groups, then absorb leftover HWBs at HWB level
    owner: dict[int, int] = {}
    hgroups: list[list[int]] = []
    for k in chosen_z:
        hgroups.append(list(data.area_cands[k]))
        for h in data.area_cands[k]:
            owner[h] = len(hgroups) - 1
    rest = [h for h in range(data.n_areas) if h not in internal]

    def units_of(hs):
        return [i for h in hs for i in data.area_units[h]]

    while True:
        progress = True
        while progress:  # attach a leftover HWB to an adjacent group if the union stays connected
            progress = False
            for b in rest:
                if b in owner:
                    continue
                for g in sorted({owner[a] for a in data.area_nb[b] if a in owner}):
                    if _is_connected_units(inst, units_of(hgroups[g] + [b])):
                        owner[b] = g
                        hgroups[g].append(b)
                        progress = True
                        break
        left = [h for h in rest if h not in owner]
        if not left:
            break
        # a non-internal piece with no group (only after a non-optimal solve): add a candidate in it
        added = False
        for C in data.area_cands:
            if all(h in left for h in C):
                hgroups.append(list(C))
                for h in C:
                    owner[h] = len(hgroups) - 1
                added = True
                break
        if not added:
            return None
    for hs in hgroups:
        groups.append(sorted(i for h in hs for i in data.area_units[h]))
    return groups


# ---------------------------------------------------------------------------
# partition path
# ---------------------------------------------------------------------------
def _group_noncot(unit_areas, members) -> int:
    per: dict[int, int] = {}
    total = 0
    for i in members:
        for a, p in unit_areas[i]:
            per[a] = per.get(a, 0) + p
            total += p
    return total - max(per.values(), default=0)


def _greedy_fallback(inst: Instance, block: Block, scenario: Scenario, res: _BlockResult) -> _BlockResult:
    """When the models end without a plan (time limit), the greedy heuristic's
    plan for the block, if it finds one: status FEASIBLE, the solver's bound
    (if any) kept. The assembled plan is checked like any other, so a greedy
    plan that breaks a rule the heuristic does not handle (limits) leaves the
    plan without a passing verdict, hence NO_SOLUTION."""
    groups = greedy_merge(inst, scenario, block.units)
    if groups is None:
        return res
    return _BlockResult(groups, Status.FEASIBLE, None, None, res.formulation + "+greedy", res.seconds,
                        f"{res.detail}; no plan from the model within the time limit: greedy heuristic's plan, "
                        "bound unknown", res.n_vars, res.n_cons)


def _partition_worthwhile(inst: Instance, block: Block, scenario: Scenario) -> bool:
    """Candidates of more than about a dozen units explode: leave those blocks to other models."""
    med = float(np.median(inst.population[block.units]))
    return scenario.floor_population <= 12 * max(med, 1.0)


def _solve_partition(inst: Instance, block: Block, scenario: Scenario, options: SolverOptions, deadline, limit,
                     limits: dict[str, float]) -> _BlockResult:
    """Set partitioning over unsplittable groups (model.build_partition); ``limits``
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

    cands = cand.unsplittable_sets(inst.neighbours, w, F, nodes=block.units, limit=limit, prune=prune, deadline=deadline)
    ua = inst.unit_area_people
    costs = {
        "merges": [len(G) - 1 for G in cands],
        "moved": [int(sum(w[i] for i in G) - max(w[i] for i in G)) for G in cands],
        "noncoterminous": [_group_noncot(ua, G) for G in cands],
    }
    data = PartitionData(units=list(block.units), cands=cands, costs=costs)
    prob, x = build_partition(data, limits)
    start_note = ""
    if options.warm_start:
        start = greedy_merge(inst, scenario, block.units)
        pos = {G: k for k, G in enumerate(cands)}
        chosen = None
        if start is not None:
            chosen = [pos.get(P) for g in start for P in cand.refine_unsplittable(g, inst.neighbours, w, F)]
        if chosen is not None and None not in chosen:
            on = set(chosen)
            for k, v in enumerate(x):
                v.setInitialValue(1 if k in on else 0)
            start_note = "; warm start: greedy plan"
        else:
            start_note = "; warm start: none (the greedy heuristic found no plan)"
    stages = _terms(scenario)
    status, value, bound, groups, detail = Status.OPTIMAL, None, None, None, ""
    for si, stage in enumerate(stages):
        st = {t.value: float(wt) for t, wt in stage if wt}
        expr = partition_objective(x, data, st)
        prob.setObjective(expr)
        left = None if deadline is None else max(1.0, deadline - time.perf_counter())
        out = run(prob, options, left, integral=all(v.is_integer() for v in st.values()))
        detail = out.detail
        if out.status is Status.INFEASIBLE and si == 0:
            return _BlockResult(None, Status.INFEASIBLE, None, None, "partition", time.perf_counter() - t0,
                                f"{detail}; {len(cands)} candidates", len(prob.variables()), len(prob.constraints))
        if out.objective is None:
            if si == 0:
                return _BlockResult(None, Status.NO_SOLUTION, None, out.bound, "partition", time.perf_counter() - t0,
                                    f"{detail}; {len(cands)} candidates", len(prob.variables()), len(prob.constraints))
            break
        groups = [list(G) for k, G in enumerate(cands) if x[k].varValue is not None and x[k].varValue > 0.5]
        if si == 0:
            value, bound, status = out.objective, out.bound, out.status
        elif out.status is not Status.OPTIMAL and status is Status.OPTIMAL:
            status = Status.FEASIBLE
        if si + 1 < len(stages):
            prob += expr <= out.objective + 1e-6 * max(1.0, abs(out.objective)), f"lex_{si}"
    return _BlockResult(groups, status, value, bound, "partition", time.perf_counter() - t0,
                        f"{detail}; {len(cands)} candidates{start_note}", len(prob.variables()), len(prob.constraints))


def _limit_rhs(inst: Instance, scenario: Scenario, fixed: list[list[int]]) -> dict[str, float]:
    """Right-hand sides of the limits for the one block holding every unit not locked alone,
    in the block's own terms: merges within the block (every unit its own
    baseline) or groups formed, noncoterminous and moved people of the block."""
    ua = inst.unit_area_people
    rhs = {}
    for k, eps in scenario.limits:
        if k == "noncoterminous":
            rhs[k] = eps - sum(_group_noncot(ua, g) for g in fixed)
        else:
            rhs[k] = eps
    return rhs


# ---------------------------------------------------------------------------
# compact path
# ---------------------------------------------------------------------------
def _compact_objective(prob, inst: Instance, x, members, d: CompactData, stage, fixed_split: set[int], tag: str,
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


def _add_compact_limits(prob, inst: Instance, x, members, d: CompactData, limits: dict[str, float],
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
        e = _compact_objective(prob, inst, x, members, d, [(Objective(k), 1.0)], set(), f"lim_{k}", fixed)
        if k == "merges":
            const = inst.n_baseline_groups - len(fixed)
        elif k == "moved" and not singleton:
            const = pop_block + int(inst.population[list(fixed)].sum())
        else:
            const = pop_block
        prob += e + const <= eps, f"limit_{k}"


def _solve_compact(inst: Instance, block: Block, scenario: Scenario, options: SolverOptions, deadline, fixed_split,
                   limits: dict[str, float] | None = None, fixed: Sequence[int] = (), symmetry: bool = True) -> _BlockResult:
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
        _add_compact_limits(prob, inst, x, members, d, limits, list(fixed))
    stages = _terms(scenario)
    status, value, bound, groups, detail = Status.OPTIMAL, None, None, None, ""
    integral_stage = [all(t in (Objective.MERGES, Objective.SPLIT_AREAS) or float(w) == 0 for t, w in st)
                      or all(float(w).is_integer() for _, w in st) for st in stages]
    cuts_total = 0
    for si, stage in enumerate(stages):
        prob.setObjective(_compact_objective(prob, inst, x, members, d, stage, fixed_split, f"s{si}", fixed_units))
        rounds = 0
        while True:
            left = None if deadline is None else max(1.0, deadline - time.perf_counter())
            out = run(prob, options, left, integral=integral_stage[si])
            detail = out.detail
            if out.status is Status.INFEASIBLE:
                if si == 0:
                    return _BlockResult(None, Status.INFEASIBLE, None, None, "compact", time.perf_counter() - t0, detail,
                                        len(prob.variables()), len(prob.constraints))
                break
            if out.objective is None:
                if si == 0:
                    return _BlockResult(None, Status.NO_SOLUTION, None, out.bound, "compact", time.perf_counter() - t0, detail,
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
                if si == 0:
                    value, bound, status = out.objective, out.bound, out.status
                elif out.status is not Status.OPTIMAL and status is Status.OPTIMAL:
                    status = Status.FEASIBLE
                break
            if deadline is not None and time.perf_counter() > deadline:
                if si == 0:
                    return _BlockResult(None, Status.NO_SOLUTION, None, out.bound, "compact", time.perf_counter() - t0,
                                        f"time limit during cut rounds ({rounds} rounds)", len(prob.variables()), len(prob.constraints))
                break
        if si + 1 < len(stages) and groups is not None:
            expr = prob.objective
            prob += expr <= out.objective + 1e-6 * max(1.0, abs(out.objective)), f"lex_{si}"
    return _BlockResult(groups, status, value, bound, "compact", time.perf_counter() - t0,
                        f"{detail}; {cuts_total} separator cuts{start_note}", len(prob.variables()), len(prob.constraints))


# ---------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------
def solve(
    instance: Instance,
    scenario: Scenario | None = None,
    *,
    solver="cbc",
    time_limit: float | None = None,
    gap: float = 0.0,
    threads: int = 1,
    msg: bool = False,
    formulation: str = "auto",
    decompose: bool = True,
    candidate_limit: int = 300_000,
    symmetry: bool = True,
    warm_start: bool = True,
) -> Plan:
    """Find an optimal merger plan for ``instance`` under ``scenario``.

    Parameters
    ----------
    instance : Instance
    scenario : Scenario, default ``Scenario()`` (GBP 25 per head, floor 100,000)
    solver : "cbc" (default), "highs", or a PuLP solver object
    time_limit : seconds for the whole solve, or None
    gap : relative gap at which the solver may stop (0 = prove optimality)
    threads : solver threads
    formulation : "auto", "packing", "partition", "labelled" or "compact"
    decompose : solve independent blocks separately (default True)
    candidate_limit : most candidate groups the packing model may enumerate per
        block before falling back to the compact model
    symmetry : break symmetry in the compact model (a group's root is its largest
        member; default True). False is for benchmarking only.
    warm_start : give the compact and partition models a MIP start from the
        greedy heuristic (:func:`ccgmerge.engine.heuristics.greedy_merge`, its groups
        split into unsplittable parts for the partition model; CBC only;
        default True: on the 211 CCGs at a 500,000 floor in penalised mode
        CBC finds no plan in 60 s without it)

    Returns
    -------
    Plan
        Always checked: ``plan.verdict`` is the solver-free checker's verdict.
    """
    t0 = time.perf_counter()
    scenario = scenario or Scenario()
    options = SolverOptions(solver=solver, time_limit=time_limit, gap=gap, threads=threads, msg=msg, warm_start=warm_start)
    if formulation not in ("auto", "packing", "partition", "labelled", "compact"):
        raise ScenarioError(f"formulation={formulation!r}; allowed: 'auto', 'packing', 'partition', 'labelled', 'compact'.")
    deadline = None if time_limit is None else t0 + time_limit
    blocks, fixed, infeasible = preprocess(instance, scenario)
    sname = solver_version(options)
    if infeasible is not None:
        return Plan(instance, scenario, Status.INFEASIBLE, None, infeasibility=infeasible, solver=sname,
                    formulation="preprocessing", wall_time=time.perf_counter() - t0)
    if (not decompose or scenario.limits) and len(blocks) > 1:
        # limits bound plan totals, which couple the blocks
        blocks = [Block(sorted(i for b in blocks for i in b.units), "all")]
    packing_ok = _packing_exact(instance, scenario)
    partition_ok = _partition_exact(instance, scenario)
    labelled_ok = _labelled_exact(instance, scenario)
    limits = _limit_rhs(instance, scenario, fixed) if scenario.limits and blocks else {}
    if formulation == "partition" and not partition_ok:
        raise ScenarioError("formulation='partition' is exact only for objectives and limits on merges/noncoterminous/moved "
                            "(moved: every unit its own baseline), no together locks, contiguity on and coterminosity "
                            "off/nested/penalised; use 'auto'.")
    if formulation == "labelled" and not labelled_ok:
        raise ScenarioError("formulation='labelled' is exact only for the 'moved' objective alone with a baseline grouping, "
                            "no ceiling, contiguity on and coterminosity off/nested; use 'auto'.")
    if formulation == "packing" and not packing_ok:
        raise ScenarioError("formulation='packing' is exact only for objectives merges/moved (every unit its own baseline), "
                            "no ceiling, no together/apart locks, contiguity on and coterminosity off/nested/aligned; use 'auto'.")
    # areas whose people lie in several blocks are split whatever the blocks do
    where = {i: k for k, b in enumerate(blocks) for i in b.units}
    for g in fixed:
        where[g[0]] = -1 - g[0]
    aidx = {a: k for k, a in enumerate(instance.area_codes)}
    touch: dict[int, set] = {}
    membership = instance.membership
    for u, a in zip(membership["unit"], membership["area"]):
        touch.setdefault(aidx[a], set()).add(where[instance.index[u]])
    fixed_split = {a for a, ks in touch.items() if len(ks) > 1}

    results: list[_BlockResult] = []
    reports = []
    for b in blocks:
        use_packing = packing_ok and formulation in ("auto", "packing")
        res = None
        clock0 = _SOLVER_CLOCK[0]
        bpop = int(instance.population[b.units].sum())
        if (use_packing and scenario.coterminosity is not Coterminosity.ALIGNED and bpop < 2 * scenario.floor_population
                and len(_pieces(instance, b.units)) == 1):
            # a connected block below twice the floor can only be one group
            res = _BlockResult([list(b.units)], Status.OPTIMAL, 0.0, 0.0, "trivial", 0.0, "block below twice the floor")
        elif use_packing and int(instance.population[b.units].min()) >= scenario.floor_population:
            # every unit reaches the floor: each alone keeps every unit's group (most groups,
            # no one moved), in every mode
            res = _BlockResult([[i] for i in b.units], Status.OPTIMAL, 0.0, 0.0, "trivial", 0.0, "every unit reaches the floor")
        elif use_packing:
            try:
                res = _solve_packing(instance, b, scenario, options, deadline, candidate_limit)
            except cand.CandidateLimitError as exc:
                if formulation == "packing":
                    raise
                reports.append({"block": b.label, "note": f"packing skipped: {exc}"})
        if (res is None and partition_ok and (formulation == "partition"
                                              or (formulation == "auto" and _partition_worthwhile(instance, b, scenario)))):
            try:
                res = _solve_partition(instance, b, scenario, options, deadline, candidate_limit, limits)
            except cand.CandidateLimitError as exc:
                if formulation == "partition":
                    raise
                reports.append({"block": b.label, "note": f"partition skipped: {exc}"})
        if res is None and labelled_ok and formulation in ("auto", "labelled"):
            res = _solve_labelled(instance, b, scenario, options, deadline)
        if res is None and deadline is not None and time.perf_counter() >= deadline:
            res = _BlockResult(None, Status.NO_SOLUTION, None, None, "none", 0.0,
                               "time limit reached before a model could be solved")
        if res is None:
            res = _solve_compact(instance, b, scenario, options, deadline, fixed_split, limits, [g[0] for g in fixed],
                                 symmetry)
        if res.groups is None and res.status is Status.NO_SOLUTION:
            res = _greedy_fallback(instance, b, scenario, res)
        res.solver_seconds = _SOLVER_CLOCK[0] - clock0
        results.append(res)
        reports.append({"block": b.label, "n_units": len(b.units), "status": res.status.value, "value": res.value,
                        "bound": res.bound, "formulation": res.formulation, "seconds": round(res.seconds, 4),
                        "solver_seconds": round(res.solver_seconds, 4), "build_seconds": round(max(0.0, res.seconds - res.solver_seconds), 4),
                        "variables": res.n_vars, "constraints": res.n_cons, "detail": res.detail})
    wall = time.perf_counter() - t0
    forms = sorted({r.formulation for r in results})
    form = "+".join(forms) or "none"
    worst = min((r.status for r in results), key=_WORST.index, default=Status.OPTIMAL)
    if worst is Status.INFEASIBLE:
        bad = [b for b, r in zip(blocks, results) if r.status is Status.INFEASIBLE]
        inf = Infeasibility(
            "the solver proved that no plan meets the rules in " + "; ".join(b.label for b in bad) + ".",
            units=tuple(instance.unit_codes[i] for b in bad for i in b.units),
            suggestion="relax the ceiling, the locks or the coterminosity mode.",
            proven_by="solver",
        )
        return Plan(instance, scenario, Status.INFEASIBLE, None, infeasibility=inf, solver=sname, formulation=form,
                    wall_time=wall, subproblems=tuple(reports))
    if any(r.groups is None for r in results):
        return Plan(instance, scenario, Status.NO_SOLUTION, None, solver=sname, formulation=form, wall_time=wall,
                    subproblems=tuple(reports))
    groups = [list(g) for g in fixed] + [g for r in results for g in r.groups]
    groups = sorted((sorted(g) for g in groups), key=lambda g: g[0])
    verdict = check_plan(instance, groups, scenario)
    metrics = plan_metrics(instance, groups, scenario)
    objective = objective_value(instance, groups, scenario, metrics)
    total_gap = sum((r.value - r.bound) for r in results if r.value is not None and r.bound is not None)
    unknown = any(r.bound is None for r in results)
    bound = None if unknown else objective - max(0.0, total_gap)
    status = worst
    if not verdict.ok:
        status = Status.NO_SOLUTION
    elif status is Status.OPTIMAL and bound is not None and abs(objective - bound) > 1e-6 * max(1.0, abs(objective)):
        status = Status.FEASIBLE
    elif status is Status.OPTIMAL and bound is not None:
        bound = objective
    return Plan(instance, scenario, status, tuple(tuple(g) for g in groups), objective=objective, bound=bound,
                verdict=verdict, solver=sname, formulation=form, wall_time=time.perf_counter() - t0,
                subproblems=tuple(reports))
