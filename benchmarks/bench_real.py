"""Real 2013 CCGs, fewest merges: floors x coterminosity modes x solvers.

Usage::

    python benchmarks/bench_real.py                       # the full table (issue 3)
    python benchmarks/bench_real.py --quick               # 100k/150k, CBC only (CI smoke)
    python benchmarks/bench_real.py --out results.json --time-limit 60

Prints one row per case (groups, merges, status, objective, bound, gap, wall
seconds, checker verdict, formulation) and writes JSON with --out. Every plan
is checked by ccgmerge's solver-free checker; a failed check exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings

import pulp

from ccgmerge.data import load_ccg2013
from ccgmerge.engine.solve import solve
from ccgmerge.scenario import Scenario

FLOORS = [100_000, 150_000, 200_000, 300_000, 500_000]
MODES = ["off", "nested", "aligned"]
SOLVERS = ["cbc", "highs"]


def run(floors, modes, solvers, time_limit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inst = load_ccg2013()
    rows = []
    for solver in solvers:
        for mode in modes:
            for floor in floors:
                t0 = time.perf_counter()
                plan = solve(inst, Scenario(floor=floor, coterminosity=mode), solver=solver, time_limit=time_limit)
                wall = time.perf_counter() - t0
                row = {
                    "solver": solver,
                    "mode": mode,
                    "floor": floor,
                    "status": plan.status.value,
                    "groups": None if plan.groups is None else len(plan.groups),
                    "merges": None if plan.groups is None else plan.metrics["merges"],
                    "objective": plan.objective,
                    "bound": plan.bound,
                    "gap": plan.gap,
                    "wall_s": round(wall, 3),
                    "checked": None if plan.verdict is None else plan.verdict.ok,
                    "formulation": plan.formulation,
                    "blocking_areas": len(plan.infeasibility.areas) if plan.infeasibility else None,
                }
                rows.append(row)
                print(
                    f"{solver:6} {mode:8} {floor:>9,} {row['status']:12} groups={row['groups']!s:>4} merges={row['merges']!s:>4} "
                    f"obj={row['objective']!s:>6} bound={row['bound']!s:>6} wall={wall:6.2f}s checked={row['checked']} "
                    f"{row['formulation']}" + (f" blocking HWB pieces={row['blocking_areas']}" if row["blocking_areas"] else ""),
                    flush=True,
                )
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="100k and 150k floors, CBC only")
    ap.add_argument("--floors", type=int, nargs="*", default=None)
    ap.add_argument("--modes", nargs="*", default=MODES)
    ap.add_argument("--solvers", nargs="*", default=SOLVERS)
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    floors = a.floors or ([100_000, 150_000] if a.quick else FLOORS)
    solvers = ["cbc"] if a.quick else a.solvers
    t0 = time.perf_counter()
    rows = run(floors, a.modes, solvers, a.time_limit)
    total = time.perf_counter() - t0
    print(f"total wall time {total:.1f} s for {len(rows)} cases")
    if a.out:
        with open(a.out, "w") as fh:
            json.dump({"machine": platform.platform(), "python": sys.version.split()[0], "pulp": pulp.__version__,
                       "total_wall_s": round(total, 2), "rows": rows}, fh, indent=2)
    bad = [r for r in rows if r["checked"] is False]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
