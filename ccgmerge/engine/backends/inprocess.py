"""PuLP solver objects that solve inside the Python process (``pulp.GUROBI``,
``pulp.CPLEX_PY``, ``pulp.HiGHS`` with callbacks, ...).

They cannot be killed, so :func:`run_in_thread` runs ``prob.solve`` on a
daemon thread and waits for it in small steps, which keeps Ctrl-C and the
deadline responsive. At ``kill_at`` it asks the solver to stop
(``cancelSolve`` on the solver's model, where the interface has one); a
solver that still runs is abandoned: the call returns NO_SOLUTION and the
thread finishes (or dies with the process) in the background.
"""

from __future__ import annotations

import threading
import time

import pulp

from ccgmerge.engine.backends.common import SolveOutcome, stopped
from ccgmerge.errors import SolverError

__all__ = ["run_in_thread"]


def _cancel(prob) -> None:
    model = getattr(prob, "solverModel", None)
    cancel = getattr(model, "cancelSolve", None)
    if callable(cancel):
        try:
            cancel()
        except Exception:  # pragma: no cover - best effort
            pass


def run_in_thread(prob: pulp.LpProblem, solver, label: str, kill_at: float | None) -> SolveOutcome | None:
    """``prob.solve(solver)`` on a thread: None when it ended (PuLP holds the answer),
    NO_SOLUTION when it was still running at ``kill_at``."""
    t0 = time.perf_counter()
    box: dict = {}

    def target():
        try:
            prob.solve(solver)
        except BaseException as exc:  # handed to the waiting thread
            box["error"] = exc

    th = threading.Thread(target=target, name=f"ccgmerge-{label}", daemon=True)
    th.start()
    try:
        while th.is_alive():
            if kill_at is not None and time.perf_counter() >= kill_at:
                _cancel(prob)
                th.join(0.2)
                if th.is_alive():
                    secs = time.perf_counter() - t0
                    return stopped(secs, label, f"stopped by ccgmerge after {secs:.0f} s: {label} overran its time "
                                                "limit (it cannot be killed; it finishes in the background)")
                break
            th.join(0.05 if kill_at is None else max(0.0, min(0.05, kill_at - time.perf_counter())))
    except KeyboardInterrupt:
        _cancel(prob)
        raise
    exc = box.get("error")
    if isinstance(exc, pulp.PulpSolverError):
        raise SolverError(f"the solver {label} failed: {exc}. Check its installation and licence, or use "
                          "solver='cbc' or 'highs'.", solver=label, cause=str(exc)) from None
    if exc is not None:
        raise exc
    return None
