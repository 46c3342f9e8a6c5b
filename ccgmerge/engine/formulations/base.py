"""What every formulation shares: the interface, the solve context and the block result.

A formulation is one exact model of ccgmerge (with its candidates, its model
builder and its driver in one module). :func:`ccgmerge.engine.solve.solve`
walks the ordered list :data:`ccgmerge.engine.formulations.FORMULATIONS` and,
for each block, uses the first formulation that

1. is exact for the instance and scenario (:meth:`Formulation.why_not_exact`
   returns ``None``; otherwise it says why not, in words),
2. accepts the block (:meth:`Formulation.accepts`: a shortcut that applies,
   or a model whose candidates are few enough), and
3. returns a :class:`BlockResult` from :meth:`Formulation.solve_block` without
   raising :class:`~ccgmerge.engine.subsets.CandidateLimitError` (too many
   candidates, or the enumeration reached the deadline).

Adding a formulation means adding one module with a :class:`Formulation`
subclass and one entry in that list.

Examples
--------
>>> from ccgmerge.scenario import Scenario
>>> [t.value for stage in objective_stages(Scenario(objective=("merges", "moved"))) for t, _ in stage]
['merges', 'moved']
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from ccgmerge.engine import backends
from ccgmerge.engine.backends import SolveOutcome, SolverOptions
from ccgmerge.instance import Instance
from ccgmerge.plan import Status
from ccgmerge.scenario import Coterminosity, Objective, Scenario

__all__ = ["Block", "BlockResult", "SolveContext", "Formulation", "objective_stages", "group_noncoterminous",
           "limit_rhs", "objective_names", "time_left", "StagePlan", "stage_plan", "lexicographic_penalty", "stage_cap",
           "model_nonzeros", "too_late_to_build", "moved_why_not_exact", "BUILD_SECONDS_PER_NONZERO",
           "WRITE_SECONDS_PER_NONZERO"]


@dataclass
class Block:
    """An independent subproblem: a set of unit positions (sorted)."""

    units: list[int]
    label: str


@dataclass
class BlockResult:
    """What a formulation found for one block.

    ``groups`` are lists of unit positions (None: no plan); ``value`` is the
    block's min-form objective of the primary stage and ``bound`` a proven
    lower bound on it (None: unknown); ``formulation`` names what produced
    the plan; ``n_vars``/``n_cons`` the size of the model solved;
    ``solver_seconds`` the time spent inside solvers (set by the caller).
    """

    groups: list[list[int]] | None
    status: Status
    value: float | None
    bound: float | None
    formulation: str
    seconds: float
    detail: str = ""
    n_vars: int = 0
    n_cons: int = 0
    solver_seconds: float = 0.0


@dataclass
class SolveContext:
    """Everything a formulation needs besides the instance, block and scenario.

    Attributes
    ----------
    options : SolverOptions
        The solver and its settings.
    deadline : float or None
        A ``time.perf_counter()`` value: the end of the time limit. No solver
        starts after it, and each is given only the time left before it.
    hard_deadline : float or None
        A ``time.perf_counter()`` value at which a solver still running is
        killed (between the deadline and the deadline plus
        :func:`ccgmerge.engine.backends.overrun_grace`).
    candidate_limit : int
        Most candidate groups a formulation may enumerate per block.
    limits : dict
        Right-hand sides of the scenario's limits for the block (see :func:`limit_rhs`).
    fixed_split : set of int
        HWBs whose people lie in several blocks (split whatever the block does).
    fixed : list of int
        Units locked alone (outside every block).
    symmetry : bool
        Break symmetry in the compact model.
    solver_seconds : float
        Wall time spent in solvers so far (grows with each :meth:`run`).
    """

    options: SolverOptions
    deadline: float | None = None
    hard_deadline: float | None = None
    candidate_limit: int | None = 300_000
    limits: dict[str, float] = field(default_factory=dict)
    fixed_split: set[int] = field(default_factory=set)
    fixed: list[int] = field(default_factory=list)
    symmetry: bool = True
    solver_seconds: float = 0.0

    def run(self, prob, options: SolverOptions, time_limit: float | None = None, integral: bool = False) -> SolveOutcome:
        """:func:`ccgmerge.engine.backends.run` with at most the time left before
        :attr:`deadline` (nothing runs after it: NO_SOLUTION) and killed at
        :attr:`hard_deadline`; adds its wall time to :attr:`solver_seconds`."""
        if self.deadline is not None:
            left = self.deadline - time.perf_counter()
            time_limit = left if time_limit is None else min(time_limit, left)
            if time_limit <= 0:
                return SolveOutcome(Status.NO_SOLUTION, None, None, 0.0, options.name,
                                    "time limit reached before the solver started")
            if time_limit < WRITE_SECONDS_PER_NONZERO * model_nonzeros(prob):
                return SolveOutcome(Status.NO_SOLUTION, None, None, 0.0, options.name,
                                    f"too little time left ({time_limit:.1f} s) to write the model for the solver")
        if self.hard_deadline is not None:
            out = backends.run(prob, options, time_limit, integral, kill_at=self.hard_deadline)
        else:
            out = backends.run(prob, options, time_limit, integral)
        self.solver_seconds += out.seconds
        return out

    def time_left(self) -> float | None:
        """Seconds left before the deadline (0 once it has passed), None without one."""
        return time_left(self.deadline)


#: Seconds per nonzero that building a PuLP model takes, and writing it for the solver
#: (MPS): 4 and 3 microseconds on the 211 CCGs' partition model (penalised, floor
#: 500,000: 80,000 columns, 544,000 nonzeros), with half again for slower machines.
#: A model that cannot be built and written before the deadline is not started: the
#: solve must end within its limit plus max(2 s, 5%).
BUILD_SECONDS_PER_NONZERO = 6e-6
WRITE_SECONDS_PER_NONZERO = 4.5e-6


def model_nonzeros(prob) -> int:
    """Nonzeros of a PuLP model (constraint coefficients and the objective's)."""
    return sum(len(c) for c in prob.constraints.values()) + (len(prob.objective) if prob.objective is not None else 0)


def too_late_to_build(deadline: float | None, nonzeros: int) -> bool:
    """True when a model of ``nonzeros`` cannot be built and written before ``deadline``."""
    left = time_left(deadline)
    return left is not None and left < (BUILD_SECONDS_PER_NONZERO + WRITE_SECONDS_PER_NONZERO) * nonzeros


def time_left(deadline: float | None) -> float | None:
    """Seconds left before ``deadline`` (a ``time.perf_counter()`` value; 0 once it
    has passed), None without one. A solver is never started with 0 s."""
    return None if deadline is None else max(0.0, deadline - time.perf_counter())


class Formulation:
    """One exact formulation behind the interface :func:`ccgmerge.engine.solve.solve` uses.

    Subclasses set :attr:`name` (what ``solve(formulation=...)`` calls it) and
    :attr:`requires` (when it is exact, in words), and implement
    :meth:`why_not_exact` and :meth:`solve_block`.
    """

    name: str = ""
    requires: str = ""

    def why_not_exact(self, instance: Instance, scenario: Scenario) -> str | None:
        """None when the formulation is exact for this scenario; else the reason, in words."""
        raise NotImplementedError

    def accepts(self, instance: Instance, block: Block, scenario: Scenario, forced: bool) -> bool:
        """Whether to try this (exact) formulation on ``block``; ``forced`` when the user named it."""
        return True

    def solve_block(self, instance: Instance, block: Block, scenario: Scenario, ctx: SolveContext) -> BlockResult:
        """Solve ``block`` before ``ctx.deadline``; may raise CandidateLimitError to step aside."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<formulation {self.name}: {type(self).__name__}>"


def _weighted_stages(scenario: Scenario) -> list[list[tuple[Objective, float]]]:
    terms = scenario.objective_terms
    stages = [[t] for t in terms] if scenario.lexicographic else [list(terms)]
    if scenario.coterminosity is Coterminosity.PENALISED and scenario.penalty_weight > 0:
        first = dict(stages[0])
        first[Objective.NONCOTERMINOUS] = first.get(Objective.NONCOTERMINOUS, 0.0) + scenario.penalty_weight
        stages[0] = list(first.items())
    return stages


def _spread(term: Objective, instance: Instance) -> float:
    """An upper bound on how much ``term`` can differ between two plans of a block."""
    if term is Objective.MERGES:  # a block of n units has 1 to n groups
        return float(max(0, instance.n_units - 1))
    if term is Objective.SPLIT_AREAS:
        return float(instance.n_areas)
    return float(instance.total_population)  # moved, noncoterminous: 0 to everyone


def lexicographic_penalty(scenario: Scenario, instance: Instance | None) -> tuple[float, float] | None:
    """``(w, U)`` when the first stage's weighted sum is a lexicographic objective in
    disguise, else None.

    The first stage minimises ``w * N + R``: ``N`` the non-coterminous people
    (``w``: the penalty weight plus the objective's own weight on them),
    ``R`` the other terms of the stage, whose values over the plans of a block
    lie in an interval of length at most ``U`` (:func:`_spread`: merges
    ``n - 1``, split HWBs ``n_areas``, moved people the total population,
    times their weights). ``N`` counts people, so it is a whole number. If
    ``w > U``, then for any plans ``P`` and ``Q`` with ``N(P) < N(Q)``,
    ``N(Q) >= N(P) + 1`` and::

        w N(Q) + R(Q) >= w N(P) + w + R(Q) > w N(P) + U + R(Q) >= w N(P) + R(P)

    so every plan minimising ``w N + R`` minimises ``N`` first, and among
    those ``R``: the weighted stage has the same optimal plans and value as
    the two stages "``N``, then ``R``" (objective ``w N* + R*``). Solved that
    way, no coefficient is multiplied by a huge weight (CBC "proved" a
    feasible model infeasible at weight 1e10, objective 1e16).

    >>> import ccgmerge.data.synthetic as syn
    >>> inst = syn.generate(30, seed=1)
    >>> lexicographic_penalty(Scenario(coterminosity="penalised", penalty_weight=1e10), inst)
    (10000000000.0, 29.0)
    >>> lexicographic_penalty(Scenario(coterminosity="penalised", penalty_weight=29), inst) is None
    True
    """
    if instance is None or scenario.coterminosity is not Coterminosity.PENALISED or scenario.penalty_weight <= 0:
        return None
    first = dict(_weighted_stages(scenario)[0])
    w = float(first[Objective.NONCOTERMINOUS])
    spread = sum(float(wt) * _spread(t, instance) for t, wt in first.items()
                 if t is not Objective.NONCOTERMINOUS and wt > 0)
    return (w, spread) if w > spread else None


@dataclass(frozen=True)
class StagePlan:
    """The stages a formulation solves, in order, and how to report them.

    ``weight``/``spread``: set when the first (weighted) stage is solved as
    "non-coterminous people" (weight 1) then, if ``rest``, the stage's other
    terms (:func:`lexicographic_penalty`); ``primary``: the number of leading
    stages that make up the objective reported as the block's value (1, or
    2 for such a split).
    """

    stages: list
    weight: float | None = None
    spread: float = 0.0
    rest: bool = False

    @property
    def primary(self) -> int:
        return 2 if self.weight is not None and self.rest else 1

    def summarise(self, outs: Sequence) -> tuple[float, float | None, Status]:
        """The block's ``(value, bound, status)`` from each stage's ``(objective,
        bound, status)`` (None: the stage left no plan). ``outs[0]`` must hold
        a plan. For a split first stage the value is ``w v0 + v1``; its bound is
        ``w v0 + b1`` when the first part is proven (else ``w b0`` plus the
        least the rest can be, ``v1 - U``). A later stage's non-optimal plan
        makes the status FEASIBLE."""
        v0, b0, status = outs[0]
        value, bound = v0, b0
        if self.weight is not None and not self.rest:  # the penalty alone: N weighted
            value, bound = self.weight * v0, None if b0 is None else self.weight * b0
        elif self.primary == 2:
            w = self.weight
            o1 = outs[1] if len(outs) > 1 else None
            v1 = o1[0] if o1 is not None else 0.0
            value = w * v0 + v1
            if b0 is None:
                bound = None
            elif status is Status.OPTIMAL and o1 is not None and o1[1] is not None:
                bound = value - max(0.0, v1 - o1[1])
            else:
                bound = value - (w * max(0.0, v0 - b0) + self.spread)
            ok = status is Status.OPTIMAL and o1 is not None and o1[2] is Status.OPTIMAL
            status = Status.OPTIMAL if ok else Status.FEASIBLE
        for o in outs[self.primary:]:
            if o is not None and o[2] is not Status.OPTIMAL and status is Status.OPTIMAL:
                status = Status.FEASIBLE
        return value, bound, status


def stage_plan(scenario: Scenario, instance: Instance | None = None) -> StagePlan:
    """The objective stages (see :func:`objective_stages`) with how to report them."""
    stages = _weighted_stages(scenario)
    lex = lexicographic_penalty(scenario, instance)
    if lex is None:
        return StagePlan(stages)
    rest = [(t, wt) for t, wt in stages[0] if t is not Objective.NONCOTERMINOUS and wt > 0]
    split = [[(Objective.NONCOTERMINOUS, 1.0)]] + ([rest] if rest else [])
    return StagePlan(split + stages[1:], lex[0], lex[1], bool(rest))


def objective_stages(scenario: Scenario, instance: Instance | None = None) -> list[list[tuple[Objective, float]]]:
    """Objective stages: one stage (weighted) or one per lexicographic term.
    Penalised mode adds the non-coterminous penalty to the first stage; given
    the ``instance``, a first stage whose penalty outweighs everything else is
    split into "non-coterminous people" and the rest
    (:func:`lexicographic_penalty`)."""
    return stage_plan(scenario, instance).stages


def stage_cap(objective: float, integral: bool) -> float:
    """Right-hand side that holds a later stage to a stage's optimum ``objective``:
    half a unit above it for a whole-valued objective (the next value is
    excluded), else a relative 1e-6.

    >>> stage_cap(1_097_463.0, True), stage_cap(2.5, False)
    (1097463.5, 2.5000025)
    """
    if integral and abs(objective) < 1e9:
        return objective + 0.5
    return objective + 1e-6 * max(1.0, abs(objective))


def objective_names(scenario: Scenario) -> set[Objective]:
    """The objective terms with a positive weight in any stage."""
    return {t for stage in objective_stages(scenario) for t, w in stage if w > 0}


def group_noncoterminous(unit_areas, members: Sequence[int]) -> int:
    """People of ``members`` living outside the group's main HWB (``unit_areas``:
    :attr:`ccgmerge.instance.Instance.unit_area_people`)."""
    per: dict[int, int] = {}
    total = 0
    for i in members:
        for a, p in unit_areas[i]:
            per[a] = per.get(a, 0) + p
            total += p
    return total - max(per.values(), default=0)


def limit_rhs(inst: Instance, scenario: Scenario, fixed: list[list[int]]) -> dict[str, float]:
    """Right-hand sides of the limits for the one block holding every unit not locked alone,
    in the block's own terms: merges within the block (every unit its own
    baseline) or groups formed, noncoterminous and moved people of the block."""
    ua = inst.unit_area_people
    rhs = {}
    for k, eps in scenario.limits:
        if k == "noncoterminous":
            rhs[k] = eps - sum(group_noncoterminous(ua, g) for g in fixed)
        else:
            rhs[k] = eps
    return rhs


def moved_why_not_exact(instance: Instance, scenario: Scenario) -> str | None:
    """What the realign-based formulations need beyond the mode: the ``moved`` objective alone with a
    baseline grouping, no ceiling, unit limit or limits, contiguity on (None when met)."""
    if objective_names(scenario) != {Objective.MOVED} or instance.singleton_baseline:
        return "an objective other than moved alone, or no baseline grouping"
    if scenario.ceiling is not None or scenario.max_units is not None or not scenario.contiguity or scenario.limits:
        return "a ceiling, a unit limit, contiguity off, or limits"
    return None
