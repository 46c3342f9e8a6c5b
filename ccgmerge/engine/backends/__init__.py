"""All solver-specific code: building a PuLP solver, running it within the
time limit, and reading back an honest status and bound.

A solver's own "Optimal" is never taken on trust. PuLP can report a run
stopped by its time limit as optimal (coin-or/pulp issues 711 and 649), so
:func:`run` reads the solution status and the dual bound itself:

* CBC (``"cbc"``, bundled with PuLP, the default; :mod:`.cbc`; its log goes
  to a file, copied to stdout as it grows when ``msg`` is true): the log's
  ``Result -`` line, ``Objective value``, and the last ``best possible`` /
  ``Lower bound``;
* HiGHS (``"highs"``, through highspy, in a worker process; :mod:`.highs`):
  the model status, objective and ``mip_dual_bound``;
* any other PuLP solver object: PuLP's ``sol_status``; optimality is accepted
  only with ``LpSolutionOptimal`` and the bound is then the objective.
  A ``pulp.HiGHS`` object runs in the HiGHS worker with its own options;
  command-line solvers (``pulp.COIN_CMD``, ...) are watched like CBC; others
  run on a thread (:mod:`.inprocess`).

Nor is a solver's failure taken for an answer: a binary that is missing,
exits with an error or crashes raises :class:`~ccgmerge.errors.SolverError`.

Every run ends within its time limit plus half of
:func:`overrun_grace` (a solver still running then is killed), removes its
temporary files (model, MIP start, solution, log) whatever happens, and
stops its solver on Ctrl-C before re-raising KeyboardInterrupt.

Every problem ccgmerge builds is a minimisation; a status is OPTIMAL only when
the bound meets the objective (for integral objectives, after rounding the
bound up).
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import sys
import tempfile
import time

import pulp
from pulp.apis import coin_api

from ccgmerge.engine.backends.cbc import LogEcho, Watch, cbc_outcome, run_command
from ccgmerge.engine.backends.common import (SolveOutcome, SolverOptions, kill_time, overrun_grace, pulp_outcome,
                                             stopped)
from ccgmerge.engine.backends.highs import highs_options, run_highs
from ccgmerge.engine.backends.inprocess import run_in_thread
from ccgmerge.errors import ScenarioError

__all__ = ["SolverOptions", "SolveOutcome", "make_solver", "run", "solver_version", "overrun_grace", "kill_time"]


def solver_version(options: SolverOptions) -> str:
    """Name and version of the solver, e.g. ``cbc 2.10.3`` or ``highs 1.16.0``."""
    name = options.name
    if name == "cbc":
        return "cbc 2.10 (PuLP bundled)" if not isinstance(options.solver, pulp.LpSolver) else name
    if name == "highs":
        try:
            import highspy

            return f"highs {highspy.Highs().version()}"
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
        # with a log file, PuLP sends CBC's output there only (and warns that msg is ignored):
        # run() copies the file to stdout instead (cbc.LogEcho)
        kw = dict(msg=options.msg and log_path is None, threads=options.threads if options.threads > 1 else None,
                  logPath=log_path, warmStart=options.warm_start)
        if time_limit is not None:
            kw["timeLimit"] = max(0.01, round(time_limit, 2))  # set again to the time left when CBC starts
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


def _read(path: str) -> str:
    try:
        with open(path, errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def run(prob: pulp.LpProblem, options: SolverOptions, time_limit: float | None = None, integral: bool = False, *,
        kill_at: float | None = None) -> SolveOutcome:
    """Solve ``prob`` (a minimisation) within ``time_limit`` seconds and return an honest outcome.

    ``integral``: the objective takes only whole values, so a bound may be
    rounded up before comparing it with the objective. ``kill_at`` (a
    ``time.perf_counter()`` value): stop the solver then at the latest; by
    default :func:`kill_time` after the limit. A limit of zero or less starts
    nothing (NO_SOLUTION). Raises :class:`~ccgmerge.errors.SolverError` when
    the solver cannot run or fails.
    """
    if prob.sense != pulp.LpMinimize:
        raise ValueError("ccgmerge builds minimisation problems only")
    t0 = time.perf_counter()
    name = options.name
    if time_limit is not None and time_limit <= 0:
        return stopped(0.0, name, "time limit reached before the solver started")
    soft_at = None if time_limit is None else t0 + time_limit
    if soft_at is not None:
        k = kill_time(soft_at, time_limit)
        kill_at = k if kill_at is None else min(kill_at, k)
    folder = tempfile.mkdtemp(prefix="ccgmerge-")
    try:
        if isinstance(options.solver, str) and name == "cbc":
            log_path = os.path.join(folder, "cbc.log")
            solver = make_solver(options, time_limit, log_path)
            if hasattr(solver, "tmpDir"):
                solver.tmpDir = folder
            watch = Watch(soft_at, kill_at, set_sec=True)
            with LogEcho(log_path) if options.msg else contextlib.nullcontext():
                out = run_command(prob, solver, "cbc", watch, coin_api, lambda: _read(log_path))
            if out is not None:
                return out
            proc, started, sec = watch.procs[-1] if watch.procs else (None, t0, None)
            return cbc_outcome(prob, _read(log_path), sec if sec is not None else time_limit,
                               time.perf_counter() - started, integral, time.perf_counter() - t0, options.gap)
        solver = make_solver(options, time_limit)
        hs = highs_options(solver)
        if hs is not None:
            opts, own = hs
            if own is not None and (soft_at is None or t0 + own < soft_at):
                soft_at = t0 + own
                kill_at = kill_time(soft_at, own) if kill_at is None else min(kill_at, kill_time(soft_at, own))
            return run_highs(prob, opts, bool(solver.msg), soft_at, kill_at, integral, name, folder)
        solver = copy.copy(solver)  # never change the caller's object
        if time_limit is not None and hasattr(solver, "timeLimit"):
            solver.timeLimit = time_limit if solver.timeLimit is None else min(solver.timeLimit, time_limit)
        if isinstance(solver, pulp.LpSolver_CMD):
            if not solver.keepFiles:
                solver.tmpDir = folder
            module = sys.modules.get(type(solver).__module__)
            out = run_command(prob, solver, name, Watch(soft_at, kill_at, set_sec=module is coin_api), module)
        else:
            out = run_in_thread(prob, solver, name, kill_at)
        if out is not None:
            return out
        return pulp_outcome(prob, integral, time.perf_counter() - t0, name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
