"""What every backend shares: the options, the outcome, the time budget and the
rules that turn what a solver said into an honest status and bound.

Time budget
-----------
A solve given ``time_limit`` seconds must end within ``time_limit +
overrun_grace(time_limit)`` (max(2 s, 5%)). Inside that slack a solver still
running is killed at :func:`kill_time` (half the slack past its limit), which
leaves the other half for reading its answer, the greedy fallback and the
checker.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
from dataclasses import dataclass

import pulp

from ccgmerge.errors import ScenarioError
from ccgmerge.plan import Status
from ccgmerge.processes import PR_SET_PDEATHSIG, libc_prctl

__all__ = ["SolverOptions", "SolveOutcome", "overrun_grace", "kill_time", "KILL_SHARE", "finish", "objective_value",
           "pulp_outcome", "stopped", "start_process", "signal_name"]

#: Share of :func:`overrun_grace` a solver may run past its time limit before it is killed.
KILL_SHARE = 0.5


def overrun_grace(time_limit: float) -> float:
    """Seconds a whole solve may take past its time limit: max(2 s, 5%).

    Solvers check their limits only now and then (CBC between phases; HiGHS
    spent 115 s in presolve with 2 s left), so ccgmerge kills a solver still
    running ``KILL_SHARE`` of this slack past the limit (:func:`kill_time`)
    and uses the rest for reading its answer and checking the plan.

    >>> overrun_grace(10), overrun_grace(600)
    (2.0, 30.0)
    """
    return max(2.0, 0.05 * float(time_limit))


def kill_time(soft_at: float, time_limit: float) -> float:
    """When to kill a solver whose limit ends at ``soft_at`` (``time.perf_counter()``
    seconds) after a limit of ``time_limit`` seconds.

    >>> kill_time(100.0, 10.0)
    101.0
    """
    return soft_at + KILL_SHARE * overrun_grace(time_limit)


@dataclass(frozen=True)
class SolverOptions:
    """How to solve.

    Parameters
    ----------
    solver : "cbc", "highs", or a PuLP solver object
    time_limit : seconds for the whole solve (shared by its subproblems), or None
    gap : relative gap at which a solver may stop (0: prove optimality)
    threads : solver threads (1 keeps CBC deterministic)
    msg : show the solver's log
    warm_start : pass the variables' initial values to the solver as a MIP
        start (CBC; HiGHS is given no start, so it is ignored there)
    """

    solver: object = "cbc"
    time_limit: float | None = None
    gap: float = 0.0
    threads: int = 1
    msg: bool = False
    warm_start: bool = False

    def __post_init__(self):
        if isinstance(self.solver, str) and self.solver.lower() not in ("cbc", "highs"):
            raise ScenarioError(f"solver={self.solver!r}; allowed: 'cbc', 'highs', or a PuLP solver object.")
        if self.time_limit is not None and self.time_limit <= 0:
            raise ScenarioError(f"time_limit={self.time_limit!r}: must be positive seconds or None.")
        if not 0 <= self.gap < 1:
            raise ScenarioError(f"gap={self.gap!r}: must be in [0, 1).")
        if not isinstance(self.threads, int) or self.threads < 1:
            raise ScenarioError(f"threads={self.threads!r}: must be a positive whole number.")

    @property
    def name(self) -> str:
        if isinstance(self.solver, str):
            return self.solver.lower()
        return getattr(self.solver, "name", type(self.solver).__name__)


@dataclass(frozen=True)
class SolveOutcome:
    status: Status
    objective: float | None
    bound: float | None
    seconds: float
    solver: str
    detail: str = ""


def stopped(secs: float, name: str, detail: str, bound: float | None = None) -> SolveOutcome:
    """A run that ended without a plan (time limit, killed): NO_SOLUTION."""
    return SolveOutcome(Status.NO_SOLUTION, None, bound, secs, name, detail)


def objective_value(prob: pulp.LpProblem) -> float | None:
    """The objective of the solution PuLP holds (its constant included), None without one."""
    if prob.sol_status not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        return None
    if prob.objective is None or all(v.name == "__dummy" for v in prob.objective.keys()):
        return float(prob.objective.constant) if prob.objective is not None else 0.0
    return pulp.value(prob.objective)


def finish(objective: float | None, bound: float | None, integral: bool, secs: float, name: str,
           detail: str) -> SolveOutcome:
    """The status of a minimisation from its objective and bound: OPTIMAL only when
    the bound (rounded up for an ``integral`` objective) meets the objective."""
    if objective is None:
        return SolveOutcome(Status.NO_SOLUTION, None, bound, secs, name, detail)
    if bound is not None and integral:
        bound = math.ceil(bound - 1e-6)
    if bound is not None and bound > objective:
        bound = objective
    optimal = bound is not None and abs(objective - bound) <= 1e-6 * max(1.0, abs(objective))
    return SolveOutcome(Status.OPTIMAL if optimal else Status.FEASIBLE, float(objective),
                        None if bound is None else float(bound), secs, name, detail)


def pulp_outcome(prob: pulp.LpProblem, integral: bool, secs: float, name: str) -> SolveOutcome:
    """Any other PuLP solver: its ``sol_status``; optimal only with ``LpSolutionOptimal``
    (the bound is then the objective), infeasible only with PuLP's infeasible status."""
    detail = pulp.LpStatus.get(prob.status, str(prob.status))
    if prob.status == pulp.LpStatusInfeasible or prob.sol_status == pulp.LpSolutionInfeasible:
        return SolveOutcome(Status.INFEASIBLE, None, None, secs, name, detail)
    objective = objective_value(prob)
    bound = objective if prob.sol_status == pulp.LpSolutionOptimal else None
    return finish(objective, bound, integral, secs, name, detail)


def _parent_death_signal():
    """A ``preexec_fn`` that asks Linux to kill the child (CBC, the HiGHS worker)
    when the thread that started it dies, or None where that is not available.

    Without it a CBC process outlives a Python killed by a signal (``timeout``,
    a cancelled batch job) and runs on for hours. The libc function is
    resolved here, once; the child (between fork and exec) makes the
    ``prctl`` call and then exits at once if its parent already died before
    it (the signal would never come). CPython warns that any ``preexec_fn``
    runs Python code in the child of a possibly threaded process; this one
    only calls prctl and getppid. It also makes ``subprocess`` fork rather
    than vfork, a small cost per solver start."""
    prctl = libc_prctl()
    if prctl is None:
        return None
    kill = int(signal.SIGKILL)

    def preexec():
        parent = _PARENT[0]
        prctl(PR_SET_PDEATHSIG, kill, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


_PARENT = [os.getpid()]
_PREEXEC = _parent_death_signal()


def start_process(popen, args, kwargs) -> subprocess.Popen:
    """``popen(*args, **kwargs)`` (the real :class:`subprocess.Popen`), the child
    dying with the thread that starts it where Linux allows it."""
    if _PREEXEC is not None and kwargs.get("preexec_fn") is None:
        _PARENT[0] = os.getpid()  # this process (after a fork of ours, not the one that imported us)
        try:
            return popen(*args, **dict(kwargs, preexec_fn=_PREEXEC))
        except RuntimeError:  # preexec_fn is not allowed (a subinterpreter): start it without
            pass
    return popen(*args, **kwargs)


def signal_name(returncode: int) -> str:
    """``-11`` -> ``'signal 11 (SIGSEGV)'``.

    >>> signal_name(-9)
    'signal 9 (SIGKILL)'
    """
    try:
        return f"signal {-returncode} ({signal.Signals(-returncode).name})"
    except ValueError:
        return f"signal {-returncode}"
