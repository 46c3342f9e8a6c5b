"""Benchmark :func:`ccgmerge.data.synthetic.generate`: time and peak memory per size.

Each size runs in a fresh Python subprocess, so its peak resident memory
(``ru_maxrss`` of the child, measured inside it) is not inflated by earlier,
larger runs. The time covers ``generate`` only -- geometry, areas, tables and
the full ``Instance`` validation -- not interpreter start-up or imports.

Usage::

    python benchmarks/bench_synthetic.py [--sizes 1000 10000 50000]
        [--population ccg|lsoa] [--seed 0] [--baseline-group-size K]
        [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _peak_mib() -> float:
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def child(n: int, seed: int, population: str, group: int | None) -> dict:
    """Run one generation in this process and return its figures."""
    t0 = time.perf_counter()
    import numpy
    import pandas
    import scipy

    from ccgmerge.data.synthetic import generate

    t_import = time.perf_counter() - t0
    mib_before = _peak_mib()
    t0 = time.perf_counter()
    inst = generate(n, seed, population=population, baseline_group_size=group)
    seconds = time.perf_counter() - t0
    return {
        "n_units": inst.n_units,
        "population": population,
        "seed": seed,
        "baseline_group_size": group,
        "seconds": round(seconds, 3),
        "import_seconds": round(t_import, 3),
        "peak_mib": round(_peak_mib(), 1),
        "peak_mib_after_imports": round(mib_before, 1),
        "n_edges": int(len(inst.adjacency)),
        "n_areas": inst.n_areas,
        "n_straddling": len(inst.straddling_units()),
        "n_baseline_groups": int(inst.baseline.nunique()),
        "fingerprint": inst.fingerprint,
        "versions": {
            "python": platform.python_version(),
            "numpy": numpy.__version__,
            "pandas": pandas.__version__,
            "scipy": scipy.__version__,
        },
    }


def run_one(n: int, seed: int, population: str, group: int | None) -> dict:
    """Run :func:`child` in a fresh interpreter and parse its JSON line."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(n), "--seed", str(seed),
           "--population", population]
    if group is not None:
        cmd += ["--baseline-group-size", str(group)]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"size {n} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    p.add_argument("--population", choices=["ccg", "lsoa"], default="ccg")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--baseline-group-size", type=int, default=None)
    p.add_argument("--out", type=Path, default=None, help="write the results here as JSON")
    p.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.child is not None:
        print(json.dumps(child(args.child, args.seed, args.population, args.baseline_group_size)))
        return 0

    rows = []
    header = f"{'n_units':>8} {'seconds':>8} {'peak MiB':>9} {'n_edges':>8} {'n_areas':>8}  fingerprint"
    print(f"population={args.population} seed={args.seed} baseline_group_size={args.baseline_group_size}")
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        r = run_one(n, args.seed, args.population, args.baseline_group_size)
        rows.append(r)
        print(f"{r['n_units']:>8} {r['seconds']:>8.2f} {r['peak_mib']:>9.1f} {r['n_edges']:>8} "
              f"{r['n_areas']:>8}  {r['fingerprint']}", flush=True)
    if args.out is not None:
        payload = {"benchmark": "ccgmerge.data.synthetic.generate", "platform": platform.platform(),
                   "machine": platform.machine(), "cpu_count": os.cpu_count(), "results": rows}
        args.out.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
