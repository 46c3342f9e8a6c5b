"""Time limits: how far past ``time_limit`` a solve ends, per backend.

Runs the slowest cases of the benchmark suite (:mod:`benchmarks.suite`) at
short time limits with each backend (CBC, HiGHS, a ``pulp.HiGHS`` object, a
``pulp.PULP_CBC_CMD`` object), each run in a fresh child interpreter with
``TMPDIR`` pointing at a fresh, empty folder. A run's *overrun* is its solve
wall time minus the limit; ccgmerge promises at most
``overrun_grace(limit)`` = max(2 s, 5%). It also checks that the folder is
empty when the solve returns.

Usage (from the repository root)::

    python -m benchmarks.bench_time_limits                       # default cases, limits 5 10 30
    python -m benchmarks.bench_time_limits --limits 5 10 --backends cbc highs
    python -m benchmarks.bench_time_limits --case ccg2013-merges-penalised-500k --limits 3 7

It prints one line per run and, at the end, the worst overrun per backend;
it exits 1 if any run broke the promise or left files behind.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: The slowest cases of the suite at their own limits (CBC finds no plan, or does not
#: prove one, within 60-300 s; HiGHS overran its limit by minutes on the first).
DEFAULT_CASES = (
    "ccg2013-merges-penalised-500k",
    "ccg2013-moved-penalised-1m",
    "ccg2013-merges-off-1m",
    "ccg2013-merges-aligned-1m",
    "lsoa-kent-moved-250k",
    "synthetic-3000-300k",
)
BACKENDS = ("cbc", "highs", "pulp.HiGHS", "pulp.PULP_CBC_CMD")
DEFAULT_LIMITS = (5.0, 10.0, 30.0)


def _solver(backend: str):
    import pulp

    if backend == "pulp.HiGHS":
        return pulp.HiGHS(msg=False)
    if backend == "pulp.PULP_CBC_CMD":
        return pulp.PULP_CBC_CMD(msg=False)
    return backend


def child(case_name: str, backend: str, limit: float) -> dict:
    """One solve in this process; TMPDIR is already a fresh folder."""
    from benchmarks.suite import build_instance, registry

    from ccgmerge import Scenario, solve
    from ccgmerge.errors import SolverError

    case = registry()[case_name]
    inst = build_instance(case.builder, case.kwargs, case.seed)
    scenario = Scenario(**case.scenario_kwargs)
    solver = _solver(backend)
    t0 = time.perf_counter()
    try:
        plan = solve(inst, scenario, solver=solver, time_limit=limit)
        status, detail = plan.status.value, plan.formulation
    except SolverError as exc:
        status, detail = "solver_error", str(exc)
    wall = time.perf_counter() - t0
    left = sorted(os.listdir(tempfile.gettempdir()))
    return {"case": case_name, "backend": backend, "limit": limit, "wall": wall, "status": status, "detail": detail,
            "left": left}


def run_one(case_name: str, backend: str, limit: float) -> dict:
    """Run :func:`child` in a fresh interpreter with a fresh TMPDIR."""
    from ccgmerge.engine.backends import overrun_grace

    with tempfile.TemporaryDirectory(prefix="bench-tl-") as work:
        tmp = Path(work) / "tmp"
        tmp.mkdir()
        out = Path(work) / "out.json"
        env = dict(os.environ, TMPDIR=str(tmp), PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        env.pop("TMP", None)
        cmd = [sys.executable, "-m", "benchmarks.bench_time_limits", "--child", case_name, backend, str(limit), str(out)]
        proc = subprocess.run(cmd, cwd=str(ROOT), env=env, capture_output=True, text=True,
                              timeout=limit + 600)
        if not out.exists():
            return {"case": case_name, "backend": backend, "limit": limit, "wall": float("nan"), "status": "crashed",
                    "detail": proc.stderr.strip().splitlines()[-1:] or "", "left": [], "ok": False}
        rec = json.loads(out.read_text())
        time.sleep(0.2)  # let a killed solver's files (if any) show up
        rec["left_after_exit"] = sorted(os.listdir(tmp))
    rec["overrun"] = rec["wall"] - limit
    rec["allowed"] = overrun_grace(limit)
    rec["ok"] = rec["overrun"] <= rec["allowed"] and not rec["left"] and not rec["left_after_exit"]
    return rec


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", action="append", help="suite case name (repeatable; default: the slowest cases)")
    ap.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    ap.add_argument("--limits", nargs="+", type=float, default=list(DEFAULT_LIMITS))
    ap.add_argument("--json", help="write every record to this file")
    ap.add_argument("--child", nargs=4, metavar=("CASE", "BACKEND", "LIMIT", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        case_name, backend, limit, out = args.child
        rec = child(case_name, backend, float(limit))
        Path(out).write_text(json.dumps(rec))
        return 0
    cases = args.case or list(DEFAULT_CASES)
    records = []
    worst: dict[str, dict] = {}
    for case_name in cases:
        for limit in args.limits:
            for backend in args.backends:
                rec = run_one(case_name, backend, limit)
                records.append(rec)
                flag = "ok" if rec["ok"] else "FAIL"
                print(f"{flag:4} {case_name:32} {backend:18} limit {limit:5.1f} s  wall {rec['wall']:7.2f} s  "
                      f"overrun {rec.get('overrun', float('nan')):+6.2f} s (allowed {rec.get('allowed', 0):.1f})  "
                      f"{rec['status']:12} {str(rec['detail'])[:60]}"
                      + (f"  LEFT {rec['left'] + rec.get('left_after_exit', [])}" if rec.get("left") or rec.get("left_after_exit") else ""),
                      flush=True)
                if backend not in worst or rec.get("overrun", float("-inf")) > worst[backend].get("overrun", float("-inf")):
                    worst[backend] = rec
    print("\nworst overrun per backend (wall - limit; allowed max(2 s, 5%)):")
    for backend, rec in worst.items():
        print(f"  {backend:18} {rec['overrun']:+6.2f} s  ({rec['case']}, limit {rec['limit']:g} s, wall {rec['wall']:.2f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))
    return 0 if all(r["ok"] for r in records) else 1


if __name__ == "__main__":
    raise SystemExit(main())
