"""A 252-scenario sweep over the real 2013 CCGs, on 2 worker processes.

Usage::

    python benchmarks/bench_sweep.py                      # 252 runs, 2 workers, temp folder
    python benchmarks/bench_sweep.py --out sweep-out --workers 4 --time-limit 60
    python benchmarks/bench_sweep.py --quick              # 18 runs (smoke)

Grid: allowance per head GBP 20..40 in steps of 1 (21 values) x
coterminosity off / nested / aligned x quality premium GBP 0 / 1 / 2 / 3 per
head, fewest merges, CBC. Prints the total wall time, the runs per status,
per-mode solve times, then runs the same sweep again into the same folder
to show that a rerun resumes (solves nothing). Exits non-zero when a run
ends in ``error`` or a plan fails the solver-free check.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings

from ccgmerge.data import load_ccg2013
from ccgmerge.analysis.sweep import RunOptions, grid, run_sweep


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="output folder (default: a temporary folder, removed afterwards)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds per run")
    ap.add_argument("--solver", default="cbc", choices=["cbc", "highs"])
    ap.add_argument("--quick", action="store_true", help="allowance 20..40 in steps of 10, premium 0/2 (18 runs)")
    ap.add_argument("--progress", default="auto", choices=["auto", "bar", "log", "off"])
    args = ap.parse_args(argv)

    allowances = list(range(20, 41, 10 if args.quick else 1))
    premiums = [0, 2] if args.quick else [0, 1, 2, 3]
    scenarios = grid(allowance_per_head=allowances, coterminosity=["off", "nested", "aligned"],
                     quality_premium_per_head=premiums)
    options = RunOptions(solver=args.solver, time_limit=args.time_limit)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inst = load_ccg2013()
    out = args.out or tempfile.mkdtemp(prefix="ccgmerge-bench-sweep-")
    print(f"{len(scenarios)} scenarios over {inst!r}")
    print(f"workers {args.workers}, {args.solver}, time limit {args.time_limit:g} s; python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs; output {out}", flush=True)
    try:
        t0 = time.perf_counter()
        res = run_sweep(inst, scenarios, out, options=options, workers=args.workers,
                        progress=None if args.progress == "auto" else args.progress)
        wall = time.perf_counter() - t0
        t = res.table
        print(f"\ntotal wall time: {wall:.1f} s for {len(t)} runs ({res.computed} solved, {res.skipped} already done)")
        print("runs per status: " + ", ".join(f"{k} {v}" for k, v in res.status_counts.items()))
        solved = t[t["status"].isin(["optimal", "feasible"])]
        by_mode = t.groupby("coterminosity")["wall_time"].agg(["count", "mean", "max", "sum"]).round(2)
        print("solve seconds per coterminosity mode:\n" + by_mode.to_string())
        print(f"sum of solve times {t['wall_time'].sum():.1f} s; speed-up over serial {t['wall_time'].sum() / wall:.2f}x")
        curve = solved[(solved["quality_premium_per_head"] == 0)].pivot(
            index="allowance_per_head", columns="coterminosity", values="groups")
        print("groups (premium 0) by allowance per head:\n" + curve.to_string())

        t1 = time.perf_counter()
        again = run_sweep(inst, scenarios, out, options=options, workers=args.workers, progress="off")
        print(f"\nrerun (resume): {again.computed} solved, {again.skipped} skipped, {time.perf_counter() - t1:.1f} s")

        bad_check = solved[solved["checked"] != True]  # noqa: E712
        if res.errors or len(bad_check) or again.computed:
            print(f"FAILED: {len(res.errors)} errors, {len(bad_check)} unchecked plans, {again.computed} recomputed",
                  file=sys.stderr)
            return 1
        return 0
    finally:
        if not args.out:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
