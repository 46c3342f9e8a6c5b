"""HiGHS, solved in a worker process (:mod:`ccgmerge.engine.backends.highs_worker`).

HiGHS in the Python process (PuLP's ``HiGHS`` interface) cannot be stopped:
it checks its time limit rarely (115 s in presolve with 2 s left), does not
return to Python for Ctrl-C (a SIGINT took effect 56 s later) and ignores
``cancelSolve`` in presolve; and its process-wide thread scheduler makes a
solve fail ("Not Set") after another solve asked for a different number of
threads. So ccgmerge writes the model as MPS and hands it to a worker
process that solves it with highspy and writes back the status, objective,
dual bound and solution. The worker is killed at ``kill_at`` or on Ctrl-C
(the call then returns NO_SOLUTION, or re-raises KeyboardInterrupt) and is
otherwise kept for the next solve, so a search that solves hundreds of small
models pays its start (about 0.3 s) once. A worker belongs to the process that
started it (a fork never uses its parent's) and exits with it.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import subprocess
import sys
import threading
import time

import pulp

from ccgmerge.engine.backends.common import SolveOutcome, finish, objective_value, signal_name, stopped
from ccgmerge.errors import SolverError
from ccgmerge.plan import Status

__all__ = ["WORKER", "highs_options", "run_highs", "stop_workers"]

#: The worker script, run by path so that it imports nothing of ccgmerge.
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "highs_worker.py")
_ERRORS = ("not set", "load error", "model error", "presolve error", "solve error", "postsolve error")

_POOL: list = []
_POOL_LOCK = threading.Lock()


class Worker:
    """One worker process; ``msg``: its output goes to the terminal."""

    def __init__(self, msg: bool):
        self.msg = msg
        self.owner = os.getpid()
        quiet = None if msg else subprocess.DEVNULL
        self.proc = subprocess.Popen([sys.executable, WORKER], stdin=subprocess.PIPE, stdout=quiet, stderr=quiet,
                                     text=True)

    def alive(self) -> bool:
        return self.owner == os.getpid() and self.proc.poll() is None

    def send(self, job: dict) -> None:
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        if self.owner != os.getpid():
            return
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a process that ignores SIGKILL
            pass
        for fh in (self.proc.stdin,):
            try:
                fh.close()
            except OSError:
                pass


def _new_worker(msg: bool) -> Worker:
    try:
        return Worker(msg)
    except OSError as exc:
        raise SolverError(f"the solver highs could not start its worker process ({sys.executable} {WORKER}): {exc}. "
                          "Try solver='cbc'.", solver="highs", cause=str(exc)) from None


def _checkout(msg: bool) -> Worker:
    with _POOL_LOCK:
        keep = [w for w in _POOL if w.alive()]
        _POOL[:] = keep
        for k, w in enumerate(_POOL):
            if w.msg == msg:
                return _POOL.pop(k)
    return _new_worker(msg)


def _checkin(w: Worker) -> None:
    with _POOL_LOCK:
        if w.alive():
            _POOL.append(w)


def stop_workers() -> None:
    """Stop the idle workers of this process (also run at exit)."""
    with _POOL_LOCK:
        idle, _POOL[:] = list(_POOL), []
    for w in idle:
        w.kill()


atexit.register(stop_workers)


def highs_options(solver) -> tuple[dict, float | None] | None:
    """The HiGHS options and time limit of a ``pulp.HiGHS`` object, or None when
    the worker cannot take its place (callbacks, ``mip=False``, another solver)."""
    if not isinstance(solver, pulp.HiGHS) or not solver.available():
        return None
    if getattr(solver, "callbackTuple", None) or getattr(solver, "callbacksToActivate", None) or not solver.mip:
        return None
    opts: dict = {}
    if not solver.msg:
        opts["output_flag"] = False
    if getattr(solver, "gapRel", None) is not None:
        opts["mip_rel_gap"] = float(solver.gapRel)
    if getattr(solver, "gapAbs", None) is not None:
        opts["mip_abs_gap"] = float(solver.gapAbs)
    if getattr(solver, "threads", None) is not None:
        opts["threads"] = int(solver.threads)
    opts.update(solver.optionsDict)
    return opts, solver.timeLimit


_KILLED = "killed"


def _wait(w: Worker, result: str, kill_at: float | None) -> int | str | None:
    """Wait for ``result``: None when it is there, the worker's exit code if it died,
    ``"killed"`` after killing it at ``kill_at``."""
    delay = 0.001
    while not os.path.exists(result):
        rc = w.proc.poll()
        if rc is not None:
            return rc
        if kill_at is not None and time.perf_counter() >= kill_at:
            w.kill()
            return _KILLED
        try:
            w.proc.wait(delay if kill_at is None else max(0.0, min(delay, kill_at - time.perf_counter())))
        except subprocess.TimeoutExpired:
            pass
        delay = min(0.05, 2 * delay)
    return None


def run_highs(prob: pulp.LpProblem, opts: dict, msg: bool, soft_at: float | None, kill_at: float | None,
              integral: bool, label: str, folder: str) -> SolveOutcome:
    """Solve ``prob`` with HiGHS ``opts`` in a worker; the model and answer files go to ``folder``."""
    t0 = time.perf_counter()
    mps, result = os.path.join(folder, "model.mps"), os.path.join(folder, "result.json")
    vs, var_names, _, _ = prob.writeMPS(mps, rename=1)
    now = time.perf_counter()
    if (soft_at is not None and now >= soft_at) or (kill_at is not None and now >= kill_at):
        return stopped(now - t0, label, "time limit reached before the solver started")
    job = {"mps": mps, "result": result, "options": opts, "time_limit": None if soft_at is None else soft_at - now}
    done = False
    w = _checkout(msg)
    try:
        try:
            w.send(dict(job, sent=time.monotonic()))
        except OSError:  # an idle worker that died (a broken pipe): one fresh try
            w.kill()
            w = _new_worker(msg)
            w.send(dict(job, sent=time.monotonic()))
        rc = _wait(w, result, kill_at)
        secs = time.perf_counter() - t0
        if rc == _KILLED:
            return stopped(secs, label, f"stopped by ccgmerge after {secs:.0f} s: {label} overran its time limit")
        if rc is not None:
            cause = signal_name(rc) if rc < 0 else f"exit code {rc}"
            raise SolverError(f"the solver {label} failed: its worker process ({sys.executable} {WORKER}) ended with "
                              f"{cause} after {secs:.1f} s. Run with msg=True to see its output, check highspy "
                              "(pip install --force-reinstall highspy), or try solver='cbc'.", solver=label,
                              cause=cause)
        with open(result) as fh:
            answer = json.load(fh)
        done = True
    finally:
        if done:
            _checkin(w)
        else:  # killed, failed or interrupted (KeyboardInterrupt): never reuse it
            w.kill()
    return _outcome(prob, answer, vs, var_names, integral, time.perf_counter() - t0, label)


def _outcome(prob, answer: dict, vs, var_names: dict, integral: bool, secs: float, label: str) -> SolveOutcome:
    if "error" in answer:
        raise SolverError(f"the solver {label} failed: {answer['error']}. Check highspy "
                          "(pip install --force-reinstall highspy) or try solver='cbc'.", solver=label,
                          cause=answer["error"])
    detail = answer.get("model_status", "")
    if answer.get("infeasible"):
        prob.assignStatus(pulp.LpStatusInfeasible, pulp.LpSolutionInfeasible)
        return SolveOutcome(Status.INFEASIBLE, None, None, secs, label, detail)
    if answer.get("run") == "error" or detail.lower() in _ERRORS:
        raise SolverError(f"the solver {label} failed: HiGHS ended with model status {detail!r}. Run with msg=True "
                          "to see its log, or try solver='cbc'.", solver=label, cause=f"model status {detail}")
    if not answer.get("has_solution"):
        prob.assignStatus(pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound)
        return stopped(secs, label, detail)
    by_name = dict(zip(answer["names"], answer["values"]))
    for v in vs:
        if v.name != "__dummy":
            v.varValue = by_name.get(var_names[v.name], 0.0)
    optimal = detail.lower() == "optimal"
    prob.assignStatus(pulp.LpStatusOptimal if optimal else pulp.LpStatusNotSolved,
                      pulp.LpSolutionOptimal if optimal else pulp.LpSolutionIntegerFeasible)
    objective = objective_value(prob)
    bound = answer.get("bound")
    bound = float(bound) if bound is not None and math.isfinite(bound) else None
    # the MPS file has no objective constant: HiGHS's bound (like its objective) leaves it
    # out, so add back what separates the two objectives
    ofv = answer.get("objective")
    if bound is not None and ofv is not None and math.isfinite(ofv):
        bound += objective - float(ofv)
    if bound is None and optimal:
        bound = objective
    return finish(objective, bound, integral, secs, label, detail)
