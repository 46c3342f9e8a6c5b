"""Objective, bound and gap against the time limit for a large case: the same case solved
afresh at each limit (one subprocess each, through the suite's ``run_case``), a CSV and a picture.

    python -m benchmarks.gap_time --case region-E40000004-moved-off-250k --limits 30 60 120 240 \\
        --out benchmarks/results/gap_time

writes ``OUT/gap_time.csv`` (case, limit, status, objective, bound, gap, solve wall, peak MiB) and
``OUT/gap_time.png`` (objective and bound against the limit, and the gap). Each run starts from
nothing, so a point is what a user asking for that limit gets.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.suite import Variant, registry, run_case  # noqa: E402

FIELDS = ["case", "limit", "status", "checked", "objective", "bound", "gap", "solve_wall", "peak_mib"]


def run(cases: list[str], limits: list[float], out: Path) -> list[dict]:
    """Each case at each limit; the rows of ``gap_time.csv``."""
    reg = registry()
    rows = []
    for name in cases:
        if name not in reg:
            raise SystemExit(f"unknown case {name!r}; python -m benchmarks.suite --list")
        for tl in limits:
            rec = run_case(reg[name], Variant(), out / f"t{tl:g}", time_limit=tl)
            rows.append({"case": name, "limit": tl, **{k: rec.get(k) for k in FIELDS[2:]}})
            print(f"{name} at {tl:g} s: {rec.get('status')} objective {rec.get('objective')} bound {rec.get('bound')} "
                  f"gap {rec.get('gap')}", flush=True)
    with open(out / "gap_time.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    return rows


def plot(rows: list[dict], path: Path) -> Path | None:
    """Objective and bound (left) and gap (right) against the time limit, one line per case."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for case in sorted({r["case"] for r in rows}):
        rs = [r for r in rows if r["case"] == case and r.get("objective") is not None]
        t = [r["limit"] for r in rs]
        a.plot(t, [r["objective"] for r in rs], "o-", label=f"{case}: plan")
        a.plot(t, [r["bound"] if r["bound"] is not None else float("nan") for r in rs], "s--", label=f"{case}: bound")
        b.plot(t, [100 * r["gap"] if r["gap"] is not None else float("nan") for r in rs], "o-", label=case)
    a.set(xlabel="time limit (s)", ylabel="people moved", title="checked plan and proven bound")
    b.set(xlabel="time limit (s)", ylabel="gap (%)", title="proven gap")
    a.legend(fontsize=7)
    b.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", required=True)
    ap.add_argument("--limits", nargs="+", type=float, default=[30, 60, 120, 240])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gap_time")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    rows = run(a.case, a.limits, a.out)
    png = plot(rows, a.out / "gap_time.png")
    print(f"wrote {a.out / 'gap_time.csv'}" + (f" and {png}" if png else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
