"""All solver-specific code: building a PuLP solver, running it, and reading
back an honest status and bound.

A solver's own "Optimal" is never taken on trust. PuLP can report a run
stopped by its time limit as optimal (coin-or/pulp issues 711 and 649), so
:func:`run` reads the solution status and the dual bound itself:

* CBC (``"cbc"``, bundled with PuLP, the default): the log's ``Result -``
  line, ``Objective value``, and the last ``best possible`` / ``Lower bound``;
* HiGHS (``"highs"``, through highspy): the model status, ``objective_function_value``
  and ``mip_dual_bound``;
* any other PuLP solver object: PuLP's ``sol_status``; optimality is accepted
  only with ``LpSolutionOptimal`` and the bound is then the objective.

Every problem ccgmerge builds is a minimisation; a status is OPTIMAL only when
the bound meets the objective (for integral objectives, after rounding the
bound up).
"""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import types
from contextlib import contextmanager
from dataclasses import dataclass

import pulp
from pulp.apis import coin_api

from ccgmerge.errors import ScenarioError
from ccgmerge.plan import Status

__all__ = ["SolverOptions", "SolveOutcome", "make_solver", "run", "solver_version", "overrun_grace"]


def overrun_grace(time_limit: float) -> float:
    """Seconds CBC may run past its time limit before ccgmerge stops it.

    CBC checks its ``-sec`` limit only between phases: a large root LP or a
    long pre-processing can overrun it by minutes (seen on a 600-LSOA compact
    model in ``penalised`` mode, still running 90 s into a 30 s limit).
    :func:`run` therefore kills CBC ``max(5, 10%)`` past the limit.

    >>> overrun_grace(30), overrun_grace(600)
    (5.0, 60.0)
    """
    return max(5.0, 0.1 * float(time_limit))


_WATCH_LOCK = threading.Lock()
_WATCH_USERS = [0]
_WATCH_LOCAL = threading.local()


def _parent_death_signal():
    """A ``preexec_fn`` that asks Linux to kill the child (CBC) when the thread
    that started it dies, or None where that is not available.

    Without it a CBC process outlives a Python killed by a signal (``timeout``,
    a cancelled batch job) and runs on for hours. The libc function is
    resolved here, once; the child (between fork and exec) makes the
    ``prctl`` call and then exits at once if its parent already died before
    it (the signal would never come). CPython warns that any ``preexec_fn``
    runs Python code in the child of a possibly threaded process; this one
    only calls prctl and getppid. It also makes ``subprocess`` fork rather
    than vfork, a small cost per CBC start."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl
        return None
    prctl.restype = ctypes.c_int
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    PR_SET_PDEATHSIG = 1
    kill = int(signal.SIGKILL)

    def preexec():
        parent = _PARENT[0]
        prctl(PR_SET_PDEATHSIG, kill, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


_PARENT = [os.getpid()]
_PREEXEC = _parent_death_signal()


def _recording_popen(*args, **kwargs):
    if _PREEXEC is not None and kwargs.get("preexec_fn") is None:
        _PARENT[0] = os.getpid()  # this process (after a fork of ours, not the one that imported us)
        try:
            return _watched(subprocess.Popen(*args, **dict(kwargs, preexec_fn=_PREEXEC)))
        except RuntimeError:  # preexec_fn is not allowed (a subinterpreter): start CBC without it
            pass
    return _watched(subprocess.Popen(*args, **kwargs))


def _watched(proc):
    """Start the calling thread's watchdog timer, if any, for ``proc``."""
    watch = getattr(_WATCH_LOCAL, "watch", None)
    if watch is not None and watch["seconds"] is not None:
        def fire():
            if proc.poll() is None:
                proc.kill()
                watch["killed"].append(proc)

        timer = threading.Timer(watch["seconds"], fire)
        timer.daemon = True
        watch["timers"].append(timer)
        timer.start()
    return proc


@contextmanager
def _cbc_watchdog(seconds: float | None):
    """Kill the CBC process PuLP starts (on this thread) if it is still running
    ``seconds`` after it started (never, for None), and on Linux when the
    Python thread that started it dies (:func:`_parent_death_signal`).

    PuLP's CBC interface waits on ``subprocess.Popen(...).wait()`` with no
    timeout. While any watchdog is active its module sees a copy of
    :mod:`subprocess` whose ``Popen`` starts a timer for each process, on
    behalf of the thread that started it (a reference count restores the real
    module after the last watchdog ends, so solves on several threads are
    safe). The clock starts with the process, not before PuLP writes the
    model file, which can take seconds. Yields a list that holds the
    processes it killed.
    """
    if getattr(coin_api, "subprocess", None) is None:
        yield []
        return
    watch = {"seconds": None if seconds is None else float(seconds), "timers": [], "killed": []}
    _WATCH_LOCAL.watch = watch
    with _WATCH_LOCK:
        if _WATCH_USERS[0] == 0:
            shim = types.SimpleNamespace(**{k: getattr(subprocess, k) for k in dir(subprocess) if not k.startswith("__")})
            shim.Popen = _recording_popen
            coin_api.subprocess = shim
        _WATCH_USERS[0] += 1
    try:
        yield watch["killed"]
    finally:
        for timer in watch["timers"]:
            timer.cancel()
        _WATCH_LOCAL.watch = None
        with _WATCH_LOCK:
            _WATCH_USERS[0] -= 1
            if _WATCH_USERS[0] == 0:
                coin_api.subprocess = subprocess


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
        start (CBC; PuLP's HiGHS interface takes no start, so it is ignored there)
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


def solver_version(options: SolverOptions) -> str:
    """Name and version of the solver, e.g. ``cbc 2.10.3`` or ``highs 1.16.0``."""
    name = options.name
    if name == "cbc":
        return "cbc 2.10 (PuLP bundled)" if not isinstance(options.solver, pulp.LpSolver) else name
    if name == "highs":
        try:
            import highspy

            h = highspy.Highs()
            return f"highs {h.version()}"
        except Exception:  # pragma: no cover - highspy missing
            return "highs"
    return name


def make_solver(options: SolverOptions, time_limit: float | None, log_path: str | None = None):
    """A PuLP solver object for ``options`` with the given time limit."""
    s = options.solver
    if not isinstance(s, str):
        return s
    if s.lower() == "cbc":
        # "-threads 1" switches CBC 2.10 to its threaded search with one worker; a search
        # that ends before the worker starts then waits 10 s for it ("Thread 0 used 0
        # times, waiting to start 10.00013"). One thread is CBC's plain serial mode.
        kw = dict(msg=options.msg, threads=options.threads if options.threads > 1 else None, logPath=log_path,
                  warmStart=options.warm_start)
        if time_limit is not None:
            kw["timeLimit"] = max(1, math.ceil(time_limit))
        if options.gap > 0:
            kw["gapRel"] = options.gap
        return pulp.PULP_CBC_CMD(**kw)
    if not pulp.HiGHS().available():
        raise ScenarioError("solver='highs' needs highspy: pip install 'ccgmerge[highs]' (or pip install highspy).")
    kw = dict(msg=options.msg, threads=options.threads, mip_rel_gap=options.gap if options.gap > 0 else 1e-9,
              random_seed=0)
    if not options.msg:
        kw["output_flag"] = False
    if time_limit is not None:
        kw["timeLimit"] = float(time_limit)
    return pulp.HiGHS(**kw)


_NUM = r"(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)"


def _parse_cbc_log(text: str) -> tuple[str, float | None, float | None]:
    result = ""
    m = re.findall(r"^Result - (.*)$", text, flags=re.M)
    if m:
        result = m[-1].strip()
    obj = re.findall(r"^Objective value:\s+" + _NUM, text, flags=re.M | re.I)
    lb = re.findall(r"^Lower bound:\s+" + _NUM, text, flags=re.M | re.I)
    bp = re.findall(r"best possible " + _NUM, text, flags=re.I)
    bound = float(lb[-1]) if lb else (float(bp[-1]) if bp else None)
    return result, (float(obj[-1]) if obj else None), bound


def run(prob: pulp.LpProblem, options: SolverOptions, time_limit: float | None = None, integral: bool = False) -> SolveOutcome:
    """Solve ``prob`` (a minimisation) and return an honest outcome.

    ``integral``: the objective takes only whole values, so a bound may be
    rounded up before comparing it with the objective.
    """
    if prob.sense != pulp.LpMinimize:
        raise ValueError("ccgmerge builds minimisation problems only")
    t0 = time.perf_counter()
    name = options.name
    log_path = None
    if name == "cbc" and isinstance(options.solver, str):
        fd, log_path = tempfile.mkstemp(prefix="ccgmerge-cbc-", suffix=".log")
        os.close(fd)
    solver = make_solver(options, time_limit, log_path)
    hard = None
    if log_path is not None and time_limit is not None:
        hard = max(1, math.ceil(time_limit)) + overrun_grace(time_limit)
    try:
        with _cbc_watchdog(hard) as killed:  # also for hard=None: CBC dies with its Python
            prob.solve(solver)
    except pulp.PulpSolverError as exc:
        secs = time.perf_counter() - t0
        if killed:
            return SolveOutcome(Status.NO_SOLUTION, None, None, secs, name,
                                f"stopped by ccgmerge after {secs:.0f} s: CBC overran its {time_limit:.0f} s time limit")
        return SolveOutcome(Status.NO_SOLUTION, None, None, secs, name, f"solver error: {exc}")
    finally:
        text = ""
        if log_path is not None:
            try:
                with open(log_path) as fh:
                    text = fh.read()
            finally:
                os.unlink(log_path)
    secs = time.perf_counter() - t0

    constant_objective = prob.objective is None or all(v.name == "__dummy" for v in prob.objective.keys())
    objective = pulp.value(prob.objective) if prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible) else None
    if constant_objective and prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        objective = float(prob.objective.constant) if prob.objective is not None else 0.0
    bound = None
    detail = pulp.LpStatus.get(prob.status, str(prob.status))
    if prob.status == pulp.LpStatusInfeasible or prob.sol_status == pulp.LpSolutionInfeasible:
        if name == "cbc" and isinstance(options.solver, str):
            # CBC stopped by its time limit before finding a solution can be reported as
            # infeasible; only its own proof counts
            proven = re.search(r"problem is infeasible|proven infeasible|pre-processing says infeasible|integer infeasible|relaxation infeasible|relaxation is infeasible", text, flags=re.I)
            # CBC cut short by its time limit in pre-processing says "Pre-processing says
            # infeasible" of a feasible problem: a verdict reached at the limit proves nothing
            at_limit = time_limit is not None and secs >= 0.9 * max(1, math.ceil(time_limit))
            if not proven or at_limit or re.search(r"stopped on time", text, flags=re.I):
                return SolveOutcome(Status.NO_SOLUTION, None, None, secs, name, "stopped without a solution or a proof")
        return SolveOutcome(Status.INFEASIBLE, None, None, secs, name, detail)
    if name == "cbc" and isinstance(options.solver, str):
        result, obj_log, bound = _parse_cbc_log(text)
        detail = result or detail
        if result.lower().startswith("optimal") and options.gap == 0:
            bound = objective
        elif result.lower().startswith("optimal") and bound is None:
            bound = objective
        if "infeasible" in result.lower():
            return SolveOutcome(Status.INFEASIBLE, None, None, secs, name, detail)
        if prob.sol_status not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
            objective = None
        if prob.objective is not None and not prob.objective.keys():
            bound = objective
        # CBC's log bound excludes the objective's constant term
        if bound is not None and objective is not None and prob.objective is not None and not result.lower().startswith("optimal"):
            bound = bound + float(prob.objective.constant or 0)
    elif name == "highs" and isinstance(options.solver, str):
        h = getattr(prob, "solverModel", None)
        if h is not None:
            info = h.getInfo()
            detail = h.modelStatusToString(h.getModelStatus())
            if objective is not None:
                db = getattr(info, "mip_dual_bound", None)
                bound = float(db) if db is not None and math.isfinite(db) else None
                # PuLP does not pass the objective's constant to HiGHS: its bound (like its
                # objective) leaves it out, so add back what separates the two objectives
                ofv = getattr(info, "objective_function_value", None)
                if bound is not None and ofv is not None and math.isfinite(ofv):
                    bound += objective - float(ofv)
                if bound is None and detail.lower() == "optimal":
                    bound = objective
            if detail.lower() == "infeasible":
                return SolveOutcome(Status.INFEASIBLE, None, None, secs, name, detail)
    else:
        if prob.sol_status == pulp.LpSolutionOptimal:
            bound = objective
    if objective is None:
        return SolveOutcome(Status.NO_SOLUTION, None, bound, secs, name, detail)
    if bound is not None and integral:
        bound = math.ceil(bound - 1e-6)
    if bound is not None and bound > objective:
        bound = objective
    optimal = bound is not None and abs(objective - bound) <= 1e-6 * max(1.0, abs(objective))
    return SolveOutcome(Status.OPTIMAL if optimal else Status.FEASIBLE, float(objective), None if bound is None else float(bound), secs, name, detail)
