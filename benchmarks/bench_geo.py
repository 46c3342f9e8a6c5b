"""Adjacency from geometry on all of England: ``ccgmerge.data.geo`` against the shipped tables.

Usage (from the repository root; needs the ``geo`` extra and ``lsoa11_boundaries.gpkg``)::

    python benchmarks/bench_geo.py                  # everything, about 6-8 minutes
    python benchmarks/bench_geo.py --max-gap 500    # water crossings up to 500 m only (about 1.5 minutes)
    python benchmarks/bench_geo.py --out geo.json

Reads the 32,844 LSOA polygons (``geometry_file("lsoa11_boundaries.gpkg")``: British National Grid,
coverage-simplified at 20 m) and reports:

* **contiguity**: the pairs ``adjacency_from_polygons`` finds (rook; queen; queen with a 2 m tolerance,
  the shipped build's) against the 96,287 ``boundary`` pairs of ``lsoa11_adjacency.csv.gz``: found,
  missed, extra, and how the shared lengths compare;
* **instance**: ``from_geodataframe`` (queen, 2 m, islands joined to the nearest unit, HWB column,
  2013 CCG baseline) against ``load_lsoa2013()``: same units, membership, baseline, boundary pairs, and
  its ``island`` edges against the six ``bridge_nearest`` edges;
* **water**: ``water_crossings`` up to ``--max-gap`` metres (default 3,050: the shipped files' 3,000 m
  plus the 49 m the simplification may move a gap) against the 736 pairs of
  ``lsoa11_water_crossings.csv.gz`` and the 35 CCG pairs of ``ccg2013_water_crossings.csv``, and the
  number of qualifying pairs per threshold beside the shipped build's (PROVENANCE.md).
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

import pandas as pd  # noqa: E402

from ccgmerge.data import data_dir, from_geodataframe, geometry_file, load_lsoa2013  # noqa: E402
from ccgmerge.data.geo import adjacency_from_polygons, water_crossings  # noqa: E402

#: Qualifying LSOA pairs per threshold in the shipped build (unsimplified polygons, Welsh land in the mask).
SHIPPED_QUALIFYING = {250: 767, 500: 1_140, 1_000: 1_508, 2_500: 2_309, 3_000: 2_593}


def _pairs(df, a="a", b="b") -> set:
    return set(zip(df[a], df[b]))


def contiguity(g, shipped: pd.DataFrame) -> dict:
    want = _pairs(shipped, "lsoa11_a", "lsoa11_b")
    length = shipped.set_index(["lsoa11_a", "lsoa11_b"])["shared_boundary_m"].rename_axis(["a", "b"])
    out = {}
    for label, kw in (("rook", {}), ("queen", {"contiguity": "queen"}),
                      ("queen, 2 m tolerance", {"contiguity": "queen", "tolerance_m": 2})):
        t0 = time.perf_counter()
        adj = adjacency_from_polygons(g, code="lsoa11_code", islands=None, **kw)
        wall = time.perf_counter() - t0
        got = _pairs(adj)
        diff = (adj.set_index(["a", "b"])["shared_m"] - length).dropna().abs()
        row = {"pairs": len(got), "shipped": len(want), "found": len(got & want), "missed": len(want - got),
               "extra": len(got - want), "recall": round(len(got & want) / len(want), 5),
               "corner": int((adj["kind"] == "corner").sum()), "shared_m_abs_diff_median": round(diff.median(), 2),
               "shared_m_abs_diff_p99": round(diff.quantile(0.99), 2), "wall_s": round(wall, 1)}
        out[label] = row
        print(f"[contiguity] {label:22} {row['pairs']:,} pairs ({row['corner']:,} corner): found {row['found']:,} of "
              f"{row['shipped']:,} shipped boundary pairs ({100 * row['recall']:.3f}%), missed {row['missed']}, "
              f"extra {row['extra']}; |shared_m - shipped| median {row['shared_m_abs_diff_median']} m, "
              f"p99 {row['shared_m_abs_diff_p99']} m; {wall:.1f} s", flush=True)
    return out


def instance(g) -> dict:
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mine = from_geodataframe(g, code="lsoa11_code", population="population_mid2012", name="lsoa11_name",
                                 areas="hwb_code", baseline="ccg13_code", contiguity="queen", tolerance_m=2,
                                 islands="nearest", instance_name="England LSOAs from geometry")
        ref = load_lsoa2013()
    wall = time.perf_counter() - t0
    adj, radj = mine.adjacency, ref.adjacency
    islands = _pairs(adj[adj["kind"] == "island"])
    bridges = _pairs(radj[radj["kind"] == "bridge"])
    row = {"units_equal": mine.unit_codes == ref.unit_codes,
           "population_equal": bool((mine.population == ref.population).all()),
           "membership_equal": mine.membership.reset_index(drop=True).equals(ref.membership.reset_index(drop=True)),
           "baseline_equal": mine.baseline_codes == ref.baseline_codes,
           "contacts_equal_shipped_boundary": _pairs(adj[adj["kind"] != "island"]) == _pairs(radj[radj["kind"] == "boundary"]),
           "island_edges": sorted(islands), "shipped_bridges": sorted(bridges), "islands_equal_bridges": islands == bridges,
           "connected": mine.is_connected(), "wall_s": round(wall, 1)}
    print(f"[instance] from_geodataframe vs load_lsoa2013: units {row['units_equal']}, population "
          f"{row['population_equal']}, membership {row['membership_equal']}, baseline {row['baseline_equal']}, "
          f"contacts = shipped boundary pairs {row['contacts_equal_shipped_boundary']}, island edges = shipped "
          f"bridges {row['islands_equal_bridges']} ({len(islands)} vs {len(bridges)}), connected {row['connected']}; "
          f"{wall:.1f} s", flush=True)
    if not row["islands_equal_bridges"]:
        print(f"    island edges {sorted(islands - bridges)} vs shipped bridges {sorted(bridges - islands)}")
    return row


def water(g, max_gap: float) -> dict:
    d = data_dir()
    lsoa = pd.read_csv(d / "lsoa11_water_crossings.csv.gz", dtype={"lsoa11_a": str, "lsoa11_b": str})
    ccg = pd.read_csv(d / "ccg2013_water_crossings.csv", dtype={"ccg_a": str, "ccg_b": str})
    ccg_adj = pd.read_csv(d / "ccg2013_adjacency.csv", dtype={"ccg_a": str, "ccg_b": str})
    t0 = time.perf_counter()
    w = water_crossings(g, max_gap, code="lsoa11_code")
    wall = time.perf_counter() - t0
    found = w.set_index(["a", "b"])["gap_m"]
    lim = max_gap - 50
    ship = lsoa[lsoa["distance_m"] <= lim].set_index(["lsoa11_a", "lsoa11_b"])["distance_m"]
    hit = ship.index.isin(found.index)
    gdiff = (found.reindex(ship.index[hit]) - ship[hit]).abs()
    out = {"max_gap": max_gap, "pairs": len(w), "wall_s": round(wall, 1), "shipped_rows_compared": len(ship),
           "shipped_rows_found": int(hit.sum()), "missed": [list(k) for k in ship.index[~hit]],
           "gap_abs_diff_max": round(float(gdiff.max()), 1) if len(gdiff) else None,
           "gap_abs_diff_p99": round(float(gdiff.quantile(0.99)), 2) if len(gdiff) else None}
    print(f"[water] {len(w):,} qualifying LSOA pairs up to {max_gap:,.0f} m in {wall:.0f} s; shipped rows up to "
          f"{lim:,.0f} m found: {out['shipped_rows_found']} of {len(ship)}; |gap - shipped| max "
          f"{out['gap_abs_diff_max']} m, p99 {out['gap_abs_diff_p99']} m", flush=True)
    counts = {}
    for t, n in SHIPPED_QUALIFYING.items():
        if t <= max_gap:
            counts[t] = {"ours": int((w["gap_m"] <= t).sum()), "shipped_build": n}
            print(f"    <= {t:>5,} m: {counts[t]['ours']:,} qualifying pairs here, {n:,} in the shipped build")
    out["qualifying_by_threshold"] = counts
    # CCG pairs: the shortest qualifying LSOA gap between two 2013 CCGs that are not already adjacent
    ccg_of = dict(zip(g["lsoa11_code"], g["ccg13_code"]))
    w = w.assign(ca=w["a"].map(ccg_of), cb=w["b"].map(ccg_of))
    w = w[w["ca"] != w["cb"]]
    lo, hi = w[["ca", "cb"]].min(axis=1), w[["ca", "cb"]].max(axis=1)
    by = w.assign(lo=lo, hi=hi).groupby(["lo", "hi"])["gap_m"].min()
    by = by[~by.index.isin(list(zip(ccg_adj["ccg_a"], ccg_adj["ccg_b"])))]
    ref = ccg[ccg["distance_m"] <= lim].set_index(["ccg_a", "ccg_b"])["distance_m"]
    mine = by[by <= lim]
    out["ccg"] = {"shipped": len(ref), "ours": len(mine), "common": len(set(ref.index) & set(mine.index)),
                  "missed": sorted(map(list, set(ref.index) - set(mine.index))),
                  "extra": sorted(map(list, set(mine.index) - set(ref.index)))}
    for t in (250, 500, 1000, 2500):
        if t <= lim:
            out["ccg"][f"<= {t}"] = {"ours": int((by <= t).sum()), "shipped": int((ccg["distance_m"] <= t).sum())}
    print(f"[water] CCG pairs up to {lim:,.0f} m: {out['ccg']['ours']} here, {out['ccg']['shipped']} shipped, "
          f"{out['ccg']['common']} in common; missed {out['ccg']['missed']}, extra {out['ccg']['extra']}; "
          + ", ".join(f"{k}: {v['ours']} vs {v['shipped']}" for k, v in out["ccg"].items() if k.startswith("<=")),
          flush=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-gap", type=float, default=3050.0, help="water crossings up to this (default 3,050 m)")
    ap.add_argument("--out", default=None, help="write the figures as JSON here")
    a = ap.parse_args(argv)
    import geopandas as gpd

    d = data_dir()
    t0 = time.perf_counter()
    g = gpd.read_file(geometry_file("lsoa11_boundaries.gpkg"))
    print(f"read {len(g):,} LSOA polygons in {time.perf_counter() - t0:.1f} s ({g.crs})", flush=True)
    shipped = pd.read_csv(d / "lsoa11_adjacency.csv.gz", dtype={"lsoa11_a": str, "lsoa11_b": str})
    res = {"contiguity": contiguity(g, shipped[shipped["edge_type"] == "boundary"]), "instance": instance(g),
           "water": water(g, a.max_gap)}
    print(f"total {time.perf_counter() - t0:.0f} s")
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
