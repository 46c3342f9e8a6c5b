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
           "limit_rhs", "objective_names"]


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
        A ``time.perf_counter()`` value by which the whole solve must end.
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
    candidate_limit: int | None = 300_000
    limits: dict[str, float] = field(default_factory=dict)
    fixed_split: set[int] = field(default_factory=set)
    fixed: list[int] = field(default_factory=list)
    symmetry: bool = True
    solver_seconds: float = 0.0

    def run(self, prob, options: SolverOptions, time_limit: float | None = None, integral: bool = False) -> SolveOutcome:
        """:func:`ccgmerge.engine.backends.run`, adding its wall time to :attr:`solver_seconds`."""
        out = backends.run(prob, options, time_limit, integral)
        self.solver_seconds += out.seconds
        return out

    def time_left(self) -> float | None:
        """Seconds a solver may take now: at least 1 s, None without a deadline."""
        return None if self.deadline is None else max(1.0, self.deadline - time.perf_counter())


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


def objective_stages(scenario: Scenario) -> list[list[tuple[Objective, float]]]:
    """Objective stages: one stage (weighted) or one per lexicographic term.
    Penalised mode adds the non-coterminous penalty to the first stage."""
    terms = scenario.objective_terms
    stages = [[t] for t in terms] if scenario.lexicographic else [list(terms)]
    if scenario.coterminosity is Coterminosity.PENALISED and scenario.penalty_weight > 0:
        first = dict(stages[0])
        first[Objective.NONCOTERMINOUS] = first.get(Objective.NONCOTERMINOUS, 0.0) + scenario.penalty_weight
        stages[0] = list(first.items())
    return stages


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
