"""The HiGHS worker: a child process that solves MPS files with highspy.

Run as a script (``python highs_worker.py``) by :mod:`ccgmerge.engine.backends.highs`,
never imported by ccgmerge itself (it imports nothing of ccgmerge, so it
starts in a few tenths of a second). It reads one job per line on stdin, a
JSON object::

    {"mps": path, "result": path, "options": {HiGHS option: value},
     "time_limit": seconds or null, "sent": time.monotonic() when sent}

solves the model and writes a JSON answer to ``result`` (written to
``result + ".part"`` and renamed, so the parent never reads half of it)::

    {"run": "ok" | "warning" | "error", "model_status": "Optimal", "infeasible": false, "has_solution": true,
     "objective": ..., "bound": ..., "names": [...], "values": [...]}

or ``{"error": "..."}``. Each solve starts with
``Highs.resetGlobalScheduler(True)``: HiGHS keeps one thread scheduler per
process, and a solve asking for a different number of threads than the
first one otherwise fails ("Not Set"). The worker ignores SIGINT (the parent
kills it on Ctrl-C) and exits when stdin closes or its parent dies.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time


def _watch_parent(parent: int) -> None:
    """Exit as soon as the parent process is gone (also in the middle of a solve)."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


def solve(job: dict) -> dict:
    """Solve one job (see the module docstring)."""
    try:
        import highspy
    except Exception as exc:  # highspy missing or broken in this interpreter
        return {"error": f"cannot import highspy in {sys.executable}: {exc}"}
    highspy.Highs.resetGlobalScheduler(True)
    h = highspy.Highs()
    for key, value in job.get("options", {}).items():
        if h.setOptionValue(key, value) == highspy.HighsStatus.kError:
            return {"error": f"HiGHS rejects the option {key}={value!r}"}
    if job.get("time_limit") is not None:
        left = float(job["time_limit"]) - max(0.0, time.monotonic() - float(job.get("sent", time.monotonic())))
        h.setOptionValue("time_limit", max(0.01, left))
    if h.readModel(job["mps"]) == highspy.HighsStatus.kError:
        return {"error": f"HiGHS could not read the model file {job['mps']}"}
    status = h.run()
    run = {highspy.HighsStatus.kOk: "ok", highspy.HighsStatus.kWarning: "warning"}.get(status, "error")
    info = h.getInfo()
    has_solution = int(info.primal_solution_status) == 2  # kSolutionStatusFeasible
    ms = h.getModelStatus()
    # every ccgmerge model is bounded: "infeasible or unbounded" means infeasible (as PuLP reads it)
    infeasible = ms in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible)
    out = {"run": run, "model_status": h.modelStatusToString(ms), "infeasible": infeasible, "has_solution": has_solution,
           "objective": float(info.objective_function_value) if has_solution else None,
           "bound": float(info.mip_dual_bound)}
    if has_solution:
        out["names"] = list(h.getLp().col_names_)
        out["values"] = [float(v) for v in h.getSolution().col_value]
    return out


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        try:
            answer = solve(job)
        except Exception as exc:  # report, do not die: the parent reads the reason
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        part = job["result"] + ".part"
        with open(part, "w") as fh:
            json.dump(answer, fh)
        os.replace(part, job["result"])


if __name__ == "__main__":
    if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]  # this folder holds modules named like third-party ones (cbc, highs): never import them
    main()
