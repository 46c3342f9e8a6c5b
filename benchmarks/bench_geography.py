"""What the adjacency options change on the real data (issue 15, item 4).

Usage (from the repository root)::

    python benchmarks/bench_geography.py                        # every section (about 15-25 min)
    python benchmarks/bench_geography.py --sections tyne pieces # the fast ones (seconds)
    python benchmarks/bench_geography.py --sections ccg --time-limit 60 --out geography.json

Sections:

``tyne``
    With and without ``crossings=500``: is Newcastle Gateshead (00F Gateshead + 00G + 00H) connected in
    ``load_ccg2013``, and does the real 2021 configuration (``configuration_plan(inst, "ccg21")``) pass the
    checker? Also the Newcastle + Gateshead LSOAs.
``pieces``
    At floor 100,000: the HWBs whose LSOAs (``load_lsoa2013(hwbs=[code])``) fall into connected pieces below
    the floor, for the default adjacency, ``crossings`` 250 and 500 m and ``min_shared_boundary_m=10``.
``attach``
    The ten HWBs of the default adjacency's ``pieces`` list, solved as ``benchmarks.suite``'s
    real_lsoa_england case does (floor 100,000, nested, moved, CBC, 30 s), with the default adjacency and
    with ``crossings=500``: an HWB whose solve is infeasible needs the suite's attach route (``_run_attach``).
``ccg``
    The real CCG table of ``bench_real.py`` (floors 100k-500k x modes off/nested/aligned, fewest merges,
    CBC): status and objective per cell for the default adjacency, ``crossings=500`` and
    ``min_shared_boundary_m=10``.
``kent``
    Kent's LSOAs (E10000016), floor 250,000, objective moved, 120 s: with and without corner contacts
    (``min_shared_boundary_m=10``).

Every plan is checked by the solver-free checker; a plan the checker rejects makes the script exit 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import networkx as nx  # noqa: E402

from ccgmerge.analysis.compare import configuration_plan  # noqa: E402
from ccgmerge.data import load_ccg2013, load_lsoa2013  # noqa: E402
from ccgmerge.engine.solve import solve  # noqa: E402
from ccgmerge.scenario import Scenario  # noqa: E402

SECTIONS = ("tyne", "pieces", "attach", "ccg", "kent")
FLOORS = [100_000, 150_000, 200_000, 300_000, 500_000]
MODES = ["off", "nested", "aligned"]
CCG_VARIANTS = {"default": {}, "crossings=500": {"crossings": 500}, "min_shared=10": {"min_shared_boundary_m": 10}}
PIECE_VARIANTS = {"default": {}, "crossings=250": {"crossings": 250}, "crossings=500": {"crossings": 500},
                  "min_shared=10": {"min_shared_boundary_m": 10}}
NEWCASTLE_GATESHEAD = ["00F", "00G", "00H"]
TYNE_HWBS = ["E08000021", "E08000037"]  # Newcastle upon Tyne, Gateshead
KENT = "E10000016"
BAD: list[str] = []


def _quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **kw)


def _connected(inst, codes) -> bool:
    return nx.is_connected(inst.adjacency_graph().subgraph(codes))


def tyne() -> dict:
    out = {}
    for label, kw in (("default", {}), ("crossings=500", {"crossings": 500})):
        inst = _quiet(load_ccg2013, **kw)
        plan = configuration_plan(inst, "ccg21")
        lsoa = _quiet(load_lsoa2013, hwbs=TYNE_HWBS, **kw)
        row = {"ccg_edges": len(inst.adjacency), "water_edges": int((inst.adjacency["kind"] == "water").sum()),
               "newcastle_gateshead_connected": _connected(inst, NEWCASTLE_GATESHEAD),
               "ccg21_passes_checker": bool(plan.verdict.ok),
               "ccg21_violations": [str(v) for v in plan.verdict.violations],
               "tyne_lsoa_pieces": len(lsoa.components()),
               "tyne_lsoa_water_edges": int((lsoa.adjacency["kind"] == "water").sum())}
        out[label] = row
        print(f"[tyne] {label:14} CCG edges {row['ccg_edges']} (water {row['water_edges']}); Newcastle Gateshead "
              f"connected: {row['newcastle_gateshead_connected']}; ccg21 passes the checker: "
              f"{row['ccg21_passes_checker']} {row['ccg21_violations'] or ''}; Newcastle+Gateshead LSOAs: "
              f"{row['tyne_lsoa_pieces']} piece(s), {row['tyne_lsoa_water_edges']} water edges", flush=True)
    return out


def _small_pieces(inst, floor):
    pop = dict(zip(inst.unit_codes, inst.population.tolist()))
    return sorted(sum(pop[c] for c in comp) for comp in inst.components() if sum(pop[c] for c in comp) < floor)


def pieces(floor: int = 100_000) -> dict:
    """HWBs with connected pieces below ``floor`` (candidates: those with a piece below it in any variant,
    found on the England instance; each then loaded on its own as the suite does)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    cands = set()
    for kw in PIECE_VARIANTS.values():
        eng = _quiet(load_lsoa2013, **kw)
        area = eng.main_area().reindex(list(eng.unit_codes)).to_numpy()
        e = eng.edges
        same = area[e[:, 0]] == area[e[:, 1]]
        m = coo_matrix(([1] * int(same.sum()), (e[same, 0], e[same, 1])), shape=(eng.n_units,) * 2)
        _, lab = connected_components(m, directed=False)
        tot: dict = {}
        for h, lb, p in zip(area, lab, eng.population.tolist()):
            tot[(h, lb)] = tot.get((h, lb), 0) + p
        cands |= {h for (h, _), p in tot.items() if p < floor}
    out = {}
    for label, kw in PIECE_VARIANTS.items():
        rows = {}
        for h in sorted(cands):
            inst = _quiet(load_lsoa2013, hwbs=[h], **kw)
            small = _small_pieces(inst, floor)
            if small:
                rows[h] = {"name": str(inst.areas.loc[h, "name"]), "pieces": len(inst.components()),
                           "below_floor": small}
        out[label] = rows
        print(f"[pieces] {label:14} {len(rows)} HWBs with pieces below {floor:,}: "
              + "; ".join(f"{h} {r['name']} {r['pieces']} pieces, below: {r['below_floor']}" for h, r in rows.items()),
              flush=True)
    return out


def attach(hwbs, time_limit: float = 30.0) -> dict:
    out: dict = {}
    sc = Scenario(floor=100_000, coterminosity="nested", objective="moved")
    for label, kw in (("default", {}), ("crossings=500", {"crossings": 500})):
        out[label] = {}
        for h in hwbs:
            inst = _quiet(load_lsoa2013, hwbs=[h], **kw)
            t0 = time.perf_counter()
            plan = solve(inst, sc, time_limit=time_limit)
            wall = time.perf_counter() - t0
            ok = None if plan.verdict is None else bool(plan.verdict.ok)
            if ok is False:
                BAD.append(f"attach {label} {h}")
            need = plan.status.value == "infeasible"
            out[label][h] = {"status": plan.status.value, "objective": plan.objective, "bound": plan.bound,
                             "checked": ok, "wall_s": round(wall, 2), "needs_attach": need}
            print(f"[attach] {label:14} {h} nested/moved 100k: {plan.status.value} obj={plan.objective} "
                  f"bound={plan.bound} checked={ok} {wall:.1f}s -> attach route needed: {need}", flush=True)
    return out


def ccg(time_limit: float) -> list[dict]:
    rows = []
    for label, kw in CCG_VARIANTS.items():
        inst = _quiet(load_ccg2013, **kw)
        for mode in MODES:
            for floor in FLOORS:
                t0 = time.perf_counter()
                plan = solve(inst, Scenario(floor=floor, coterminosity=mode), time_limit=time_limit)
                wall = time.perf_counter() - t0
                ok = None if plan.verdict is None else bool(plan.verdict.ok)
                if ok is False:
                    BAD.append(f"ccg {label} {mode} {floor}")
                rows.append({"adjacency": label, "mode": mode, "floor": floor, "status": plan.status.value,
                             "objective": plan.objective, "bound": plan.bound, "checked": ok, "wall_s": round(wall, 2)})
                print(f"[ccg] {label:14} {mode:8} {floor:>9,} {plan.status.value:11} obj={plan.objective!s:>6} "
                      f"bound={plan.bound!s:>6} checked={ok} {wall:6.1f}s", flush=True)
    return rows


def kent(time_limit: float) -> list[dict]:
    rows = []
    sc = Scenario(floor=250_000, coterminosity="off", objective="moved")
    for label, kw in (("with corner contacts", {}), ("without (min_shared=10)", {"min_shared_boundary_m": 10})):
        inst = _quiet(load_lsoa2013, hwbs=[KENT], **kw)
        t0 = time.perf_counter()
        plan = solve(inst, sc, time_limit=time_limit)
        wall = time.perf_counter() - t0
        ok = None if plan.verdict is None else bool(plan.verdict.ok)
        if ok is False:
            BAD.append(f"kent {label}")
        rows.append({"adjacency": label, "edges": len(inst.adjacency), "status": plan.status.value,
                     "objective": plan.objective, "bound": plan.bound, "gap": plan.gap, "checked": ok,
                     "wall_s": round(wall, 1)})
        print(f"[kent] {label:24} edges={len(inst.adjacency)} {plan.status.value} obj={plan.objective} "
              f"bound={plan.bound} gap={plan.gap} checked={ok} {wall:.1f}s", flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sections", nargs="*", choices=SECTIONS, default=list(SECTIONS))
    ap.add_argument("--time-limit", type=float, default=120.0, help="per CCG and Kent solve (default 120 s)")
    ap.add_argument("--attach-time-limit", type=float, default=30.0, help="per HWB in 'attach' (default 30 s)")
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    a = ap.parse_args(argv)
    res: dict = {}
    t0 = time.perf_counter()
    if "tyne" in a.sections:
        res["tyne"] = tyne()
    if "pieces" in a.sections or "attach" in a.sections:
        res["pieces"] = pieces()
    if "attach" in a.sections:
        res["attach"] = attach(sorted(res["pieces"]["default"]), a.attach_time_limit)
    if "ccg" in a.sections:
        res["ccg"] = ccg(a.time_limit)
    if "kent" in a.sections:
        res["kent"] = kent(a.time_limit)
    print(f"total {time.perf_counter() - t0:.0f} s")
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=1, default=str))
    if BAD:
        print("checker rejected: " + ", ".join(BAD))
    return 1 if BAD else 0


if __name__ == "__main__":
    raise SystemExit(main())
