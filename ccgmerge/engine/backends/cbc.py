"""Command-line solvers: CBC (bundled with PuLP, the default) and any other
PuLP ``LpSolver_CMD`` object (``pulp.COIN_CMD``, ``pulp.PULP_CBC_CMD``,
``pulp.GLPK_CMD``, ...).

PuLP writes the model to files, starts the binary, waits on it with no
timeout and removes its files only after a clean exit. :func:`run_command`
wraps one such solve:

* the files go to a fresh folder (the solver's ``tmpDir``), which the caller
  removes whatever happens (:func:`ccgmerge.engine.backends.run`);
* while it runs, the solver's PuLP module sees a copy of :mod:`subprocess`
  whose ``Popen`` records each process it starts for the calling thread
  (a reference count restores the real module after the last solve ends, so
  solves on several threads are safe), and:

  - starts no process once the time limit has passed (writing a large model
    can take seconds), and sets CBC's ``-sec`` to the time actually left when
    CBC starts;
  - kills the process at ``kill_at`` (CBC checks its limit only between
    phases: a 600-LSOA compact model ran 90 s into a 30 s limit);
  - on Linux, kills it when the Python thread that started it dies;

* with ``msg=True``, CBC still writes its log to ccgmerge's log file (which
  the outcome is read from) and :class:`LogEcho` copies it to stdout as it
  grows; the copy stops with the solve, before its files are removed;
* Ctrl-C (KeyboardInterrupt) kills the process before it propagates;
* a binary that is missing, exits with an error or dies of a signal is a
  :class:`~ccgmerge.errors.SolverError` naming the binary and the cause, not
  a run "stopped without a plan". One exception: CBC 2.10 can crash
  (SIGSEGV) when its time limit strikes while it is still pre-processing a
  model with a MIP start (seen on the 211 CCGs, penalised, floor 500,000,
  ``-sec 1``); a crash after the process has used its whole time limit is
  taken as the stop it was about to make.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import types
from contextlib import contextmanager
from dataclasses import dataclass, field

import pulp

from ccgmerge.engine.backends.common import SolveOutcome, finish, objective_value, signal_name, start_process, stopped
from ccgmerge.errors import SolverError
from ccgmerge.plan import Status

__all__ = ["TooLate", "Watch", "LogEcho", "watching", "run_command", "parse_cbc_log", "cbc_outcome", "log_tail"]


class TooLate(Exception):
    """Raised into PuLP instead of starting a solver after the time limit."""


@dataclass
class Watch:
    """The processes one solve starts, and when to stop them.

    ``soft_at``: no process starts at or after it, and CBC's ``-sec`` is the
    time left until it; ``kill_at``: a process still running then is killed
    (``time.perf_counter()`` values; None: never).
    """

    soft_at: float | None = None
    kill_at: float | None = None
    set_sec: bool = False
    procs: list = field(default_factory=list)  # (process, start time, -sec given)
    killed: list = field(default_factory=list)
    timers: list = field(default_factory=list)
    too_late: bool = False

    def prepare(self, args: tuple) -> tuple[tuple, float | None]:
        """The arguments to start the process with, and the ``-sec`` given to it."""
        now = time.perf_counter()
        if (self.soft_at is not None and now >= self.soft_at) or (self.kill_at is not None and now >= self.kill_at):
            self.too_late = True
            raise TooLate("the time limit passed before the solver could start")
        sec = None
        if self.set_sec and args and isinstance(args[0], (list, tuple)) and "-sec" in args[0]:
            cmd = list(args[0])
            k = cmd.index("-sec")
            if k + 1 < len(cmd):
                sec = round(max(0.01, self.soft_at - now), 2) if self.soft_at is not None else float(cmd[k + 1])
                cmd[k + 1] = f"{sec:g}"
                args = (cmd,) + tuple(args[1:])
        return args, sec

    def started(self, proc, sec: float | None) -> None:
        now = time.perf_counter()
        self.procs.append((proc, now, sec))
        if self.kill_at is not None:
            def fire():
                if proc.poll() is None:
                    proc.kill()
                    self.killed.append(proc)

            timer = threading.Timer(max(0.0, self.kill_at - now), fire)
            timer.daemon = True
            self.timers.append(timer)
            timer.start()

    def stop(self) -> None:
        """Cancel the timers and kill whatever still runs (an interrupted solve)."""
        for timer in self.timers:
            timer.cancel()
        for proc, _, _ in self.procs:
            if proc.poll() is None:
                proc.kill()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:  # pragma: no cover - a process that ignores SIGKILL
                    pass


class LogEcho:
    """Copy a solver's log file to ``stream`` (default: ``sys.stdout`` when
    started) as it grows, on a daemon thread, polling every ``every`` seconds.

    Use as a context manager around the solve: leaving it copies what is left
    and stops the thread, waiting at most ``wait`` seconds for it (a blocked
    stream never holds up the solve; the thread keeps no file open while it
    writes). A file that is missing, shrinks (opened again) or cannot be read
    is taken as it comes; a stream that fails ends the copy, not the solve.
    """

    def __init__(self, path: str, stream=None, every: float = 0.1, wait: float = 1.0):
        self.path, self.stream, self.every, self.wait = path, stream, every, wait
        self.pos = 0
        self.done = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self) -> "LogEcho":
        if self.stream is None:
            self.stream = sys.stdout
        self.thread = threading.Thread(target=self._loop, name="ccgmerge-cbc-log", daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        if self.thread is not None:
            self.thread.join(self.wait)

    def _loop(self) -> None:
        try:
            while not self.done.wait(self.every):
                self.pump()
            self.pump()
        except Exception:  # the copy is a courtesy: a closed or broken stream ends it
            pass

    def pump(self) -> None:
        """Write what the log gained since the last call."""
        try:
            if os.path.getsize(self.path) < self.pos:
                self.pos = 0  # the file was opened again for writing
            with open(self.path, "rb") as fh:
                fh.seek(self.pos)
                data = fh.read()
        except OSError:
            return
        if data:
            self.pos += len(data)
            self.stream.write(data.decode("utf-8", errors="replace"))
            self.stream.flush()


_LOCK = threading.Lock()
_USERS: dict = {}
_LOCAL = threading.local()


def _recording_popen(*args, **kwargs):
    watch = getattr(_LOCAL, "watch", None)
    sec = None
    if watch is not None:
        args, sec = watch.prepare(args)
    proc = start_process(subprocess.Popen, args, kwargs)
    if watch is not None:
        watch.started(proc, sec)
    return proc


@contextmanager
def watching(module, watch: Watch):
    """Let ``watch`` see and stop the processes ``module`` (a PuLP solver
    module using :mod:`subprocess`) starts on this thread."""
    real = getattr(module, "subprocess", None) if module is not None else None
    if real is None:
        yield watch
        return
    _LOCAL.watch = watch
    with _LOCK:
        if _USERS.get(module, 0) == 0:
            shim = types.SimpleNamespace(**{k: getattr(subprocess, k) for k in dir(subprocess) if not k.startswith("__")})
            shim.Popen = _recording_popen
            module.subprocess = shim
        _USERS[module] = _USERS.get(module, 0) + 1
    try:
        yield watch
    finally:
        watch.stop()
        _LOCAL.watch = None
        with _LOCK:
            _USERS[module] -= 1
            if _USERS[module] == 0:
                module.subprocess = subprocess
                del _USERS[module]


def log_tail(text: str, lines: int = 3) -> str:
    """The last non-empty lines of a solver log, for an error message.

    >>> log_tail("a\\n\\nb\\nc\\n", 2)
    'b | c'
    """
    kept = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return " | ".join(kept[-lines:])


def run_command(prob: pulp.LpProblem, solver, label: str, watch: Watch, module, read_log=lambda: "") -> SolveOutcome | None:
    """Solve ``prob`` with the command-line ``solver`` under ``watch``: None when the
    solver ended normally (PuLP then holds its answer), a NO_SOLUTION outcome
    when ccgmerge stopped it, or a :class:`SolverError` when it failed."""
    t0 = time.perf_counter()
    try:
        with watching(module, watch):
            prob.solve(solver)
        return None
    except TooLate:
        return stopped(time.perf_counter() - t0, label, "time limit reached before the solver started")
    except pulp.PulpSolverError as exc:
        secs = time.perf_counter() - t0
        if watch.killed:
            return stopped(secs, label, f"stopped by ccgmerge after {secs:.0f} s: {label} overran its time limit")
        path = getattr(solver, "path", None) or label
        if not watch.procs:
            raise SolverError(
                f"the solver {label} could not be started: {path} is missing or not executable ({exc}). "
                "Reinstall PuLP (pip install --force-reinstall pulp, which bundles CBC), pass solver='highs', "
                "or pass a working pulp.COIN_CMD(path=...).", solver=label, cause=f"cannot execute {path}") from None
        proc, started, sec = watch.procs[-1]
        rc = proc.poll()
        ran = time.perf_counter() - started
        tail = log_tail(read_log())
        tail = f"; its last output: {tail}" if tail else ""
        if rc is not None and rc < 0 and sec is not None and ran >= 0.9 * sec:
            return stopped(secs, label, f"{label} crashed ({signal_name(rc)}) when it stopped at its time limit "
                                        f"({sec:g} s)")
        if rc is not None and rc < 0:
            cause = f"killed by {signal_name(rc)}"
        elif rc:
            cause = f"exit code {rc}"
        else:
            cause = "no solution file"
        raise SolverError(
            f"the solver {label} ({path}) failed after {ran:.1f} s: {cause}{tail}. Run with msg=True to see "
            "its output, check the installation (pip install --force-reinstall pulp), or try solver='highs'.",
            solver=label, cause=cause) from None


_NUM = r"(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)"


def parse_cbc_log(text: str) -> tuple[str, float | None, float | None]:
    """CBC's ``Result -`` line, objective and last bound (``Lower bound`` or ``best possible``)."""
    result = ""
    m = re.findall(r"^Result - (.*)$", text, flags=re.M)
    if m:
        result = m[-1].strip()
    obj = re.findall(r"^Objective value:\s+" + _NUM, text, flags=re.M | re.I)
    lb = re.findall(r"^Lower bound:\s+" + _NUM, text, flags=re.M | re.I)
    bp = re.findall(r"best possible " + _NUM, text, flags=re.I)
    bound = float(lb[-1]) if lb else (float(bp[-1]) if bp else None)
    return result, (float(obj[-1]) if obj else None), bound


_PROOF = re.compile(r"problem is infeasible|proven infeasible|pre-processing says infeasible|integer infeasible|"
                    r"relaxation infeasible|relaxation is infeasible", flags=re.I)


def cbc_outcome(prob: pulp.LpProblem, text: str, time_limit: float | None, ran: float, integral: bool, secs: float,
                gap: float) -> SolveOutcome:
    """The outcome of a CBC run from PuLP's status and CBC's log ``text`` (``ran``:
    seconds CBC itself ran, against its ``time_limit``)."""
    name = "cbc"
    detail = pulp.LpStatus.get(prob.status, str(prob.status))
    if prob.status == pulp.LpStatusInfeasible or prob.sol_status == pulp.LpSolutionInfeasible:
        # CBC stopped by its time limit before finding a solution can be reported as
        # infeasible; only its own proof counts. CBC cut short by its time limit in
        # pre-processing says "Pre-processing says infeasible" of a feasible problem:
        # a verdict reached at the limit proves nothing
        at_limit = time_limit is not None and ran >= 0.9 * time_limit
        if not _PROOF.search(text) or at_limit or re.search(r"stopped on time", text, flags=re.I):
            return stopped(secs, name, "stopped without a solution or a proof")
        return SolveOutcome(Status.INFEASIBLE, None, None, secs, name, detail)
    objective = objective_value(prob)
    result, _, bound = parse_cbc_log(text)
    detail = result or detail
    optimal = result.lower().startswith("optimal")
    if optimal and (gap == 0 or bound is None):
        bound = objective
    if "infeasible" in result.lower():
        return SolveOutcome(Status.INFEASIBLE, None, None, secs, name, detail)
    if prob.objective is not None and not prob.objective.keys():
        bound = objective
    # CBC's log bound excludes the objective's constant term
    if bound is not None and objective is not None and prob.objective is not None and not optimal:
        bound = bound + float(prob.objective.constant or 0)
    return finish(objective, bound, integral, secs, name, detail)
