"""The orchestration: from an instance and a scenario to a checked plan.

:func:`solve` is the one entry point::

    plan = solve(instance, Scenario(floor=150_000, coterminosity="nested"))

1. **Preprocessing** (:mod:`ccgmerge.engine.preprocess`) proves infeasibility
   where it is cheap, naming the blockers, and splits the instance into
   independent blocks. Limits (``Scenario.limits``) bound plan totals, so a
   scenario with limits is solved as one block.
2. **Formulation** per block: the first entry of
   :data:`ccgmerge.engine.formulations.FORMULATIONS` that is exact for the
   scenario, accepts the block and returns a result (``formulation="auto"``;
   a named formulation restricts the list to it and must be exact).
3. **Solve** with the chosen solver (:mod:`ccgmerge.engine.backends`), reading
   an honest status and bound; a block the models leave without a plan gets
   the greedy heuristic's plan (:mod:`ccgmerge.engine.heuristics`) with a bound that needs no model (:mod:`ccgmerge.engine.term_bounds`).
4. **Check** the assembled plan with :func:`ccgmerge.check.check_plan`.

Examples
--------
>>> import ccgmerge.data.synthetic as syn
>>> inst = syn.generate(20, seed=2)
>>> plan = solve(inst, Scenario(floor=400_000))
>>> plan.status.value, plan.verdict.ok
('optimal', True)
"""

from __future__ import annotations

import time

from ccgmerge.check import check_plan
from ccgmerge.engine.backends import SolverOptions, kill_time, solver_version
from ccgmerge.engine.formulations import FORMULATIONS, NAMES
from ccgmerge.engine.formulations.base import Block, BlockResult, SolveContext, limit_rhs
from ccgmerge.engine.explain import infeasibility_suggestion
from ccgmerge.engine.heuristics import aligned_greedy_merge, greedy_merge
from ccgmerge.engine.preprocess import preprocess
from ccgmerge.engine.subsets import CandidateLimitError
from ccgmerge.engine.term_bounds import objective_bound
from ccgmerge.errors import ScenarioError, SolverError
from ccgmerge.instance import Instance
from ccgmerge.metrics import objective_value, plan_metrics
from ccgmerge.plan import Infeasibility, Plan, Status
from ccgmerge.rules import RULES, limits_met, partition_ok
from ccgmerge.scenario import Coterminosity, Scenario

__all__ = ["solve"]

_WORST = [Status.INFEASIBLE, Status.NO_SOLUTION, Status.FEASIBLE, Status.OPTIMAL]


def _greedy_fallback(inst: Instance, block: Block, scenario: Scenario, res: BlockResult, timed: bool) -> BlockResult:
    """When the models end without a plan (time limit), the greedy heuristic's
    plan for the block, if it finds one: status FEASIBLE, with the bound of
    :func:`ccgmerge.engine.term_bounds.objective_bound` (on the objective's scale; the value is the
    plan's objective). The assembled plan is checked like any other, so a greedy
    plan that breaks a rule the heuristic does not handle (limits) leaves the
    plan without a passing verdict, hence NO_SOLUTION."""
    aligned = scenario.coterminosity is Coterminosity.ALIGNED
    groups = (aligned_greedy_merge if aligned else greedy_merge)(inst, scenario, block.units)
    if groups is None:
        return res
    why = "within the time limit" if timed else "(the solver stopped without one)"
    value = objective_value(inst, groups, scenario)
    lb = objective_bound(inst, block.units, scenario)  # a model's bound is on its own scale: not used
    note = "bound unknown" if lb is None else f"bound {min(lb[0], value):,.0f} from {lb[1]}"
    return BlockResult(groups, Status.FEASIBLE, value, None if lb is None else min(lb[0], value),
                       res.formulation + "+greedy", res.seconds,
                       f"{res.detail}; no plan from the model {why}: greedy heuristic's plan, {note}",
                       res.n_vars, res.n_cons)


def _block_plan_ok(instance: Instance, scenario: Scenario, block: Block, groups: list[list[int]],
                   fixed: list[list[int]]) -> bool:
    """Whether ``groups`` (a plan of ``block`` alone) passes every rule. With
    limits (which bound plan totals) the block holds every unit not locked
    alone, so the whole plan is checked; otherwise the rules that judge
    groups one by one (or pairs of units) are applied to the block's groups."""
    if sorted(i for g in groups for i in g) != sorted(block.units):
        return False
    if scenario.limits:
        return check_plan(instance, [list(g) for g in fixed] + groups, scenario).ok
    per_group = [r for r in RULES if r not in (partition_ok, limits_met)]
    return not any(rule(instance, groups, scenario) for rule in per_group)


def _contradiction(instance: Instance, b: Block, scenario: Scenario, ctx: SolveContext, res: BlockResult) -> None:
    """A solver's "infeasible" is not taken on trust: when the greedy heuristic
    finds a plan for the block that passes every rule, the verdict is a
    solver failure (:class:`~ccgmerge.errors.SolverError`), never a proof."""
    groups = greedy_merge(instance, scenario, b.units)
    if groups is None or not _block_plan_ok(instance, scenario, b, groups, [[u] for u in ctx.fixed]):
        return
    name = ctx.options.name
    raise SolverError(
        f"the solver {name} reported {b.label} ({len(b.units)} units) infeasible with the {res.formulation} model, "
        f"but the greedy heuristic's plan for it ({len(groups)} groups) passes every rule: the solver failed "
        f"({res.detail}). Try solver='highs' (or 'cbc'), or a smaller penalty_weight.",
        solver=name, cause="infeasible verdict on a feasible block")


def _fixed_split(instance: Instance, blocks: list[Block], fixed: list[list[int]]) -> set[int]:
    """HWBs whose people lie in several blocks (or in a unit locked alone): split whatever the blocks do."""
    where = {i: k for k, b in enumerate(blocks) for i in b.units}
    for g in fixed:
        where[g[0]] = -1 - g[0]
    aidx = {a: k for k, a in enumerate(instance.area_codes)}
    touch: dict[int, set] = {}
    membership = instance.membership
    for u, a in zip(membership["unit"], membership["area"]):
        touch.setdefault(aidx[a], set()).add(where[instance.index[u]])
    return {a for a, ks in touch.items() if len(ks) > 1}


def _solve_block(instance: Instance, b: Block, scenario: Scenario, ctx: SolveContext, formulation: str,
                 exact: dict[int, bool], reports: list[dict]) -> BlockResult:
    """The first formulation that is exact, accepts the block and solves it (see the module docstring)."""
    forced = formulation != "auto"
    res = None
    for k, f in enumerate(FORMULATIONS):
        if not exact[k] or (forced and f.name != formulation) or not f.accepts(instance, b, scenario, forced):
            continue
        try:
            res = f.solve_block(instance, b, scenario, ctx)
        except CandidateLimitError as exc:
            if forced and ctx.time_left() == 0:
                # the forced model ran out of time while enumerating: no plan from it, so the
                # greedy fallback below gives a checked plan with the term bounds
                res = BlockResult(None, Status.NO_SOLUTION, None, None, f.name, 0.0, str(exc))
                break
            if forced:
                raise
            reports.append({"block": b.label, "note": f"{f.name} skipped: {exc}"})
            continue
        break
    if res is None:  # a forced formulation that accepts no block: the compact model, as before
        res = FORMULATIONS[-1].solve_block(instance, b, scenario, ctx)
    if res.status is Status.INFEASIBLE:
        _contradiction(instance, b, scenario, ctx, res)
    if res.groups is None and res.status is Status.NO_SOLUTION:
        res = _greedy_fallback(instance, b, scenario, res, ctx.deadline is not None)
    return res


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
    progress=None,
) -> Plan:
    """Find an optimal merger plan for ``instance`` under ``scenario``.

    Parameters
    ----------
    instance : Instance
    scenario : Scenario, default ``Scenario()`` (GBP 25 per head, floor 100,000)
    solver : "cbc" (default), "highs", or a PuLP solver object
    time_limit : seconds for the whole solve, or None. The solve returns within
        ``time_limit + max(2 s, 5%)`` (:func:`ccgmerge.engine.backends.overrun_grace`):
        no solver starts after the limit and one still running half-way
        through that slack is killed (its temporary files removed).
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
    progress : callable, optional
        Called with a dict before and after each block: ``event`` ("start" or
        "done"), ``block`` (1-based), ``blocks``, ``label``, ``units``,
        ``elapsed`` (seconds since the solve began) and, after a block, its
        ``status``, ``groups`` (how many, None without a plan), ``value`` and
        ``bound`` (the block's share of the objective and a proven lower
        bound on it, as in ``plan.subproblems``; None when unknown).

    Returns
    -------
    Plan
        Always checked: ``plan.verdict`` is the solver-free checker's verdict.

    Raises
    ------
    SolverError
        The solver cannot run (a missing binary), fails (an error exit, a
        crash) or contradicts itself ("infeasible" for a block the greedy
        heuristic solves within the rules).
    KeyboardInterrupt
        On Ctrl-C, after stopping the solver process.
    """
    t0 = time.perf_counter()
    from ccgmerge.inputs import coerce_inputs  # a clear error for a GeoDataFrame, a graph, ...; dicts as Scenarios
    instance, scenario = coerce_inputs(instance, scenario)
    scenario = scenario or Scenario()
    options = SolverOptions(solver=solver, time_limit=time_limit, gap=gap, threads=threads, msg=msg, warm_start=warm_start)
    if formulation not in NAMES:
        raise ScenarioError(f"formulation={formulation!r}; allowed: 'auto', 'packing', 'partition', 'labelled', 'compact'.")
    deadline = None if time_limit is None else t0 + time_limit
    # a solver still running half-way through the slack is killed; the rest of the slack
    # is for reading its answer, the greedy fallback and the checker
    hard = None if time_limit is None else kill_time(deadline, time_limit)
    blocks, fixed, infeasible = preprocess(instance, scenario)
    sname = solver_version(options)
    if infeasible is not None:
        return Plan(instance, scenario, Status.INFEASIBLE, None, infeasibility=infeasible, solver=sname,
                    formulation="preprocessing", wall_time=time.perf_counter() - t0)
    if (not decompose or scenario.limits) and len(blocks) > 1:
        # limits bound plan totals, which couple the blocks
        blocks = [Block(sorted(i for b in blocks for i in b.units), "all")]
    exact = {k: f.why_not_exact(instance, scenario) is None for k, f in enumerate(FORMULATIONS)}
    if formulation != "auto" and not any(exact[k] for k, f in enumerate(FORMULATIONS) if f.name == formulation):
        requires = next(f.requires for f in FORMULATIONS if f.name == formulation)
        raise ScenarioError(f"formulation={formulation!r} is exact only for {requires}; use 'auto'.")
    ctx = SolveContext(options, deadline, hard, candidate_limit,
                       limits=limit_rhs(instance, scenario, fixed) if scenario.limits and blocks else {},
                       fixed_split=_fixed_split(instance, blocks, fixed), fixed=[g[0] for g in fixed], symmetry=symmetry)

    results: list[BlockResult] = []
    reports: list[dict] = []
    for k, b in enumerate(blocks, 1):
        clock0 = ctx.solver_seconds
        tell = {"block": k, "blocks": len(blocks), "label": b.label, "units": len(b.units)}
        if progress is not None:
            progress({"event": "start", **tell, "elapsed": time.perf_counter() - t0})
        res = _solve_block(instance, b, scenario, ctx, formulation, exact, reports)
        res.solver_seconds = ctx.solver_seconds - clock0
        results.append(res)
        # value and bound on the objective's scale (the block's share); the model's own numbers kept beside them
        share = None if res.groups is None or res.value is None else objective_value(instance, res.groups, scenario)
        reports.append({"block": b.label, "n_units": len(b.units), "status": res.status.value, "value": share,
                        "bound": None if share is None or res.bound is None else share - max(0.0, res.value - res.bound),
                        "model_value": res.value, "model_bound": res.bound, "formulation": res.formulation, "seconds": round(res.seconds, 4),
                        "solver_seconds": round(res.solver_seconds, 4), "build_seconds": round(max(0.0, res.seconds - res.solver_seconds), 4),
                        "variables": res.n_vars, "constraints": res.n_cons, "detail": res.detail})
        if progress is not None:
            progress({"event": "done", **tell, "elapsed": time.perf_counter() - t0, "status": res.status.value,
                      "value": reports[-1]["value"], "bound": reports[-1]["bound"],
                      "groups": None if res.groups is None else len(res.groups)})
    wall = time.perf_counter() - t0
    forms = sorted({r.formulation for r in results})
    form = "+".join(forms) or "none"
    worst = min((r.status for r in results), key=_WORST.index, default=Status.OPTIMAL)
    if worst is Status.INFEASIBLE:
        bad = [b for b, r in zip(blocks, results) if r.status is Status.INFEASIBLE]
        inf = Infeasibility(
            "the solver proved that no plan meets the rules in " + "; ".join(b.label for b in bad) + ".",
            units=tuple(instance.unit_codes[i] for b in bad for i in b.units),
            suggestion=infeasibility_suggestion(scenario, instance, [i for b in bad for i in b.units]),
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
    total_gap = sum(max(0.0, r.value - r.bound) for r in results if r.value is not None and r.bound is not None)
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
