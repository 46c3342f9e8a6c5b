"""The labelled formulation: boundary realignment from a baseline grouping.

Exact for the ``moved`` objective alone with a baseline grouping (e.g. LSOAs
regrouped from their 2013 CCGs), no ceiling, contiguity on and coterminosity
``off`` or ``nested``. Each resulting group continues one baseline group (its
*label*). Without pair locks a block goes to the realign engine
(:mod:`ccgmerge.engine.formulations.realign`: owner sets, bounds, heuristics
and an exact search). In ``off`` mode without locks, a block the engine
declines (more than :data:`~ccgmerge.engine.formulations.realign.MAX_LABELS`
baseline groups, or components joined only by a shared baseline group) goes
to :func:`solve_by_windows`: the aligned plan of the unions search as a start,
the window search and its bounds (:mod:`ccgmerge.engine.formulations.windows`),
then on a small block the labelled model cut off at that plan. Otherwise the
labelled model :func:`build_labelled` with separator cuts in rounds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pulp

from ccgmerge.engine.formulations import realign, windows
from ccgmerge.engine.formulations.base import (Block, BlockResult, Formulation, SolveContext, moved_why_not_exact,
                                               time_left)
from ccgmerge.engine.formulations.unions import solve_unions
from ccgmerge.engine.backends import SolverOptions
from ccgmerge.engine.subsets import CandidateLimitError, connected_pieces
from ccgmerge.instance import Instance
from ccgmerge.plan import Status
from ccgmerge.scenario import Coterminosity, Scenario

__all__ = ["LabelledData", "build_labelled", "add_label_separator_cuts", "solve_labelled", "cut_rounds", "aligned_incumbent", "solve_by_windows",
           "Labelled", "LABELLED", "INCUMBENT_SHARE", "INCUMBENT_MAX_HWBS", "LABELLED_MODEL_MAX_PAIRS", "WINDOW_TIME_SHARE"]


@dataclass
class LabelledData:
    """Inputs of the labelled model: units of a block, their baseline label
    (index into ``labels``), populations, adjacency, floor and pair locks."""

    units: list[int]
    labels: list[str]
    base: dict[int, int]
    pop: np.ndarray
    nb: Sequence[Sequence[int]]
    floor: int
    together: list[tuple[int, int]] = field(default_factory=list)
    apart: list[tuple[int, int]] = field(default_factory=list)
    piece: dict[int, int] | None = None  # nested mode: unit -> HWB piece


def build_labelled(d: LabelledData, name: str = "labelled"):
    """Each resulting group continues one baseline group (its *label*);
    ``x[i, l] = 1`` when unit i ends in the group labelled l::

        min  Σ_i pop_i (1 - x[i, base(i)])              people moved
        s.t. Σ_l x[i, l] = 1                            (add_label_assignment)
             x[i, l] <= u_l,  Σ_i pop_i x[i, l] >= floor * u_l
             x[i, l] <= Σ_{s ∈ N(i)} x[s, l]           (pop_i < floor: a member has a member neighbour)
             pair locks; separator cuts added in rounds (add_label_separator_cuts)

    Labels are the baseline groups plus one new label per connected component of
    the block. Exact for the ``moved`` objective without a ceiling: a group that
    continues no baseline group has moved all its people, and merging it into a
    neighbour in its component moves no one more, so one such group per
    component (when the component has no other) is all a plan needs.
    Returns (problem, x, u)."""
    prob = pulp.LpProblem(name, pulp.LpMinimize)
    L = range(len(d.labels))
    x = {(i, l): pulp.LpVariable(f"x_{i}_{l}", cat="Binary") for i in sorted(d.units) for l in L}
    u = [pulp.LpVariable(f"u_{l}", cat="Binary") for l in L]
    prob += pulp.lpSum(-int(d.pop[i]) * x[i, d.base[i]] for i in d.units)
    for i in sorted(d.units):
        prob += pulp.lpSum(x[i, l] for l in L) == 1, f"assign_{i}"
    inside = set(d.units)
    for l in L:
        prob += pulp.lpSum(int(d.pop[i]) * x[i, l] for i in d.units) >= d.floor * u[l], f"floor_{l}"
        for i in sorted(d.units):
            prob += x[i, l] <= u[l], f"used_{i}_{l}"
            if d.pop[i] < d.floor:  # i's group has another member, so i has a neighbour in it
                nbs = [x[s, l] for s in d.nb[i] if s in inside]
                prob += x[i, l] <= pulp.lpSum(nbs), f"nbcut_{i}_{l}"
    for a, b in d.together:
        for l in L:
            prob += x[a, l] == x[b, l], f"together_{a}_{b}_{l}"
    for a, b in d.apart:
        for l in L:
            prob += x[a, l] + x[b, l] <= 1, f"apart_{a}_{b}_{l}"
    if d.piece is not None and len(set(d.piece.values())) > 1:
        # nested: each label's group lies in one HWB piece, x[i, l] <= p[l, piece(i)], Σ_P p[l, P] <= 1
        pieces = sorted(set(d.piece.values()))
        for l in L:
            p = {P: pulp.LpVariable(f"p_{l}_{P}", cat="Binary") for P in pieces}
            prob += pulp.lpSum(p.values()) <= 1, f"onepiece_{l}"
            for i in sorted(d.units):
                prob += x[i, l] <= p[d.piece[i]], f"inpiece_{i}_{l}"
    return prob, x, u


def add_label_separator_cuts(prob, x, d: LabelledData, groups: dict[int, list[int]], round_no: int) -> int:
    """For a label whose members fall in several pieces, keep the piece that
    retains most baseline people (holding unit k) and cut every other piece T off::

        x[i, l] + x[k, l] - 1 <= Σ_{s ∈ N(T)} x[s, l]   for every i in T.

    Returns the number of cuts added."""
    added = 0
    for l, mem in groups.items():
        comps = connected_pieces(d.nb, mem)
        if len(comps) <= 1:
            continue
        keep = max(comps, key=lambda c: (sum(int(d.pop[i]) for i in c if d.base[i] == l), len(c), -c[0]))
        k = max(keep, key=lambda i: (d.base[i] == l, int(d.pop[i]), -i))
        for comp in comps:
            if comp is keep:
                continue
            boundary = sorted({w for v in comp for w in d.nb[v] if (w, l) in x} - set(comp))
            for i in comp:
                prob += x[i, l] + x[k, l] - 1 <= pulp.lpSum(x[s, l] for s in boundary), f"lsep_{round_no}_{added}"
                added += 1
    return added


#: Share of the time left that an off-mode block the realign engine cannot take gives the
#: unions search for an aligned plan, before the labelled model.
INCUMBENT_SHARE = 0.3

#: Most HWBs in a block for which the window search starts from the aligned plan (beyond, the
#: structures of whole-HWB unions are too many to search in time: the wholesale plan).
INCUMBENT_MAX_HWBS = 16


def aligned_incumbent(inst: Instance, block: Block, scenario: Scenario, options: SolverOptions, deadline,
                      run) -> BlockResult | None:
    """The best aligned plan of the block from :func:`~ccgmerge.engine.formulations.unions.solve_unions`
    in at most :data:`INCUMBENT_SHARE` of the time left (an aligned plan is a plan in ``off`` mode too),
    or None."""
    left = time_left(deadline)
    stop = None if left is None else time.perf_counter() + INCUMBENT_SHARE * left
    try:
        res = solve_unions(inst, block, scenario.replace(coterminosity="aligned"), options, stop, run)
    except CandidateLimitError:
        return None
    return res if res.groups is not None else None


def solve_labelled(inst: Instance, block: Block, scenario: Scenario, options: SolverOptions, deadline,
                   run) -> BlockResult:
    """The realign engine on a block without pair locks; in ``off`` mode without locks, a block the
    engine declines goes to :func:`solve_by_windows`; else the labelled model with cut rounds."""
    t0 = time.perf_counter()
    idx = inst.index
    units = block.units
    labels = sorted({inst.baseline_codes[i] for i in units})
    lab = {c: k for k, c in enumerate(labels)}
    # one extra label per component (nested: per HWB piece): it may need a group that
    # continues no baseline group; with two, one could merge into a neighbour in the
    # same component (piece) moving no one more
    n_new = len(connected_pieces(inst.neighbours, units))
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
            for k, pc in enumerate(connected_pieces(inst.neighbours, by_area[a])):
                n_new += 1
                for i in pc:
                    piece[i] = a * 1000 + k
    if not scenario.together and not scenario.apart:
        rd = realign.block_data(units, {i: lab[inst.baseline_codes[i]] for i in units}, len(lab), inst.population,
                                inst.neighbours, scenario.floor_population, piece)
        if rd is not None:
            rr = realign.solve_realign(rd, run, options, deadline)
            return BlockResult(rr.groups, rr.status, rr.value, rr.bound, "realign", time.perf_counter() - t0, rr.detail,
                                rr.n_vars, rr.n_cons)
        if scenario.coterminosity is Coterminosity.OFF and not scenario.alone:
            # more baseline groups than the engine takes, or a block in several components (joined
            # by a baseline group with people in each)
            return solve_by_windows(inst, block, scenario, options, deadline, run)
    labels = labels + [f"(new group {k + 1})" for k in range(n_new)]
    d = LabelledData(
        units=list(units), labels=labels, base={i: lab[inst.baseline_codes[i]] for i in units}, pop=inst.population,
        nb=inst.neighbours, floor=scenario.floor_population,
        together=[(idx[a], idx[b]) for a, b in sorted(scenario.together) if idx[a] in inside],
        apart=[(idx[a], idx[b]) for a, b in sorted(scenario.apart) if idx[a] in inside],
        piece=piece,
    )
    prob, x, _ = build_labelled(d)
    groups, out, note = cut_rounds(prob, x, d, options, deadline, run)
    if groups is not None:
        return BlockResult(groups, out.status, out.objective, out.bound, "labelled", time.perf_counter() - t0, note,
                           len(prob.variables()), len(prob.constraints))
    if out.status is Status.INFEASIBLE:
        return BlockResult(None, Status.INFEASIBLE, None, None, "labelled", time.perf_counter() - t0, note,
                           len(prob.variables()), len(prob.constraints))
    return BlockResult(None, Status.NO_SOLUTION, None, out.bound, "labelled", time.perf_counter() - t0, note,
                       len(prob.variables()), len(prob.constraints))


def cut_rounds(prob, x, d: LabelledData, options: SolverOptions, deadline, run):
    """The labelled model solved in rounds of separator cuts until no group is in pieces:
    (groups or None, the last solver outcome, a note)."""
    cuts, rounds = 0, 0
    while True:
        out = run(prob, options, time_left(deadline), integral=True)
        if out.status is Status.INFEASIBLE or out.objective is None:
            return None, out, out.detail
        cur: dict[int, list[int]] = {}
        for (i, l), v in x.items():
            if v.varValue is not None and v.varValue > 0.5:
                cur.setdefault(l, []).append(i)
        added = add_label_separator_cuts(prob, x, d, cur, rounds)
        cuts += added
        rounds += 1
        if added == 0:
            return [sorted(g) for _, g in sorted(cur.items())], out, f"{out.detail}; {rounds} rounds, {cuts} separator cuts"
        if deadline is not None and time.perf_counter() > deadline:
            return None, out, f"time limit during cut rounds ({rounds} rounds)"


#: Most unit-label pairs for which the labelled model is tried after the window search.
LABELLED_MODEL_MAX_PAIRS = 100_000


#: Share of the time left after the aligned plan that the window search takes (the cluster bound
#: takes the rest, or on a small block half of it, the labelled model the other half).
WINDOW_TIME_SHARE = 0.6


def solve_by_windows(inst: Instance, block: Block, scenario: Scenario, options: SolverOptions, deadline,
                     run) -> BlockResult:
    """An off-mode block the realign engine does not take (more baseline groups than it takes whole, or
    components joined only by sharing a baseline group): the
    aligned plan of :func:`aligned_incumbent` (or the wholesale plan) improved by the window
    search, then the cluster bound (both :mod:`~ccgmerge.engine.formulations.windows`); on a
    block small enough (:data:`LABELLED_MODEL_MAX_PAIRS`), the labelled model cut off at the plan
    may prove more. Values on the labelled model's scale (moved - total)."""
    t0 = time.perf_counter()
    units = block.units
    labels = sorted({inst.baseline_codes[i] for i in units})
    lab = {c: k for k, c in enumerate(labels)}
    base = {i: lab[inst.baseline_codes[i]] for i in units}
    pop = inst.population
    F = scenario.floor_population
    total = int(pop[list(units)].sum())
    n_hwbs = len({int(inst.main_area_index[i]) for i in units})
    inc = aligned_incumbent(inst, block, scenario, options, deadline, run) if n_hwbs <= INCUMBENT_MAX_HWBS else None
    start = None if inc is None else windows.owned_plan(inc.groups, base, pop)
    small = len(units) * (len(labels) + 2) <= LABELLED_MODEL_MAX_PAIRS
    left = time_left(deadline)
    stop = None if left is None else time.perf_counter() + WINDOW_TIME_SHARE * left
    plan, log = windows.improve_by_windows(units, base, len(labels), pop, inst.neighbours, F, start, run, options, stop)
    note = windows.window_note(log) + ("; from the aligned plan" if inc is not None else "; from the wholesale plan")
    if plan is None:
        return BlockResult(None, Status.NO_SOLUTION, None, None, "labelled", time.perf_counter() - t0, note)
    left = time_left(deadline)
    stop = None if left is None else time.perf_counter() + (0.5 if small else 1.0) * left
    counted = windows.count_bound(units, base, pop, F, run, options, stop)
    clustered, clog = windows.cluster_bound(units, base, len(labels), pop, inst.neighbours, F, run, options, stop)
    lb = max(counted, clustered)
    note += (f"; bound {lb:,.0f}: the larger of the counting bound {counted:,.0f} and the cluster bound "
             f"{clustered:,.0f} ({len(clog)} clusters of at most {windows.CLUSTER_LABELS} baseline groups)")
    groups = [g for _, g in sorted(plan.items())]
    moved = log["moved"]

    def result(status, value, bound, detail, prob=None, groups=groups):
        return BlockResult(groups, status, value, bound, "labelled", time.perf_counter() - t0, detail,
                           0 if prob is None else len(prob.variables()), 0 if prob is None else len(prob.constraints))

    status = Status.OPTIMAL if lb >= moved else Status.FEASIBLE
    if status is Status.OPTIMAL or not small or (deadline is not None and time.perf_counter() >= deadline):
        return result(status, moved - total, min(lb, moved) - total, note)
    n_new = len(connected_pieces(inst.neighbours, units))  # one new label per component, as in solve_labelled
    d = LabelledData(units=list(units), labels=labels + [f"(new group {k + 1})" for k in range(n_new)], base=base, pop=pop,
                     nb=inst.neighbours, floor=F)
    prob, x, _ = build_labelled(d)
    prob += prob.objective <= moved - total, "windows_cutoff"
    found, out, mip_note = cut_rounds(prob, x, d, options, deadline, run)
    bound = max(lb - total, out.bound) if out.bound is not None and out.status is not Status.INFEASIBLE else lb - total
    if found is None:  # the windows' plan stands; the model's bound holds (it relaxes connectivity)
        return result(Status.FEASIBLE, moved - total, min(bound, moved - total),
                      f"{note}; the labelled model: {mip_note}", prob)
    value = float(out.objective)
    st = Status.OPTIMAL if bound >= value - 1e-9 else Status.FEASIBLE
    return result(st, value, min(bound, value), f"{note}; the labelled model: {mip_note}", prob, found)


class Labelled(Formulation):
    """Boundary realignment from a baseline grouping (population moved)."""

    name = "labelled"
    requires = ("the 'moved' objective alone with a baseline grouping, no ceiling, contiguity on and coterminosity "
                "off/nested")

    def why_not_exact(self, instance, scenario):
        reason = moved_why_not_exact(instance, scenario)
        if reason:
            return reason
        # a unit locked alone may continue its baseline group instead of the label's group,
        # which the labelled model cannot see (the compact model can)
        base = instance.baseline_codes
        alone = {instance.index[c] for c in scenario.alone if c in instance.index}
        if any(base[i] == base[u] for u in alone for i in range(instance.n_units) if i not in alone):
            return "a unit locked alone shares its baseline group"
        if scenario.coterminosity not in (Coterminosity.OFF, Coterminosity.NESTED):
            return f"coterminosity {scenario.coterminosity.value}"
        return None

    def solve_block(self, instance, block, scenario, ctx: SolveContext) -> BlockResult:
        return solve_labelled(instance, block, scenario, ctx.options, ctx.deadline, ctx.run)


LABELLED = Labelled()
