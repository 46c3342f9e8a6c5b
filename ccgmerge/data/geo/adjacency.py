"""Adjacency from unit polygons: contacts (libpysal), water crossings and islands (shapely)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ccgmerge.data.geo.base import check_choice, check_crs, check_metres, require_geo, unit_codes, unit_polygons
from ccgmerge.errors import ValidationError

__all__ = ["EDGE_KINDS", "MAX_LAND_SHARE", "adjacency_from_polygons", "water_crossings"]

#: The edge kinds :func:`adjacency_from_polygons` writes.
EDGE_KINDS = ("boundary", "corner", "water", "island")
#: Default share of a water gap's shortest line allowed over other polygons (as in the shipped crossing files:
#: more than 80% over water).
MAX_LAND_SHARE = 0.2
_COLUMNS = ["a", "b", "kind", "shared_m", "gap_m"]


def _empty_edges() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object if c in ("a", "b", "kind") else float) for c in _COLUMNS})


def _contacts(geoms: np.ndarray, tolerance_m: float) -> pd.DataFrame:
    """Touching pairs (libpysal queen contiguity, shared perimeter by shapely) and, with a tolerance, the pairs
    closer than it: columns i, j (i < j), shared (metres)."""
    geopandas, shapely, Graph = require_geo()
    try:
        g = Graph.build_contiguity(geopandas.GeoSeries(geoms), rook=False, strict=True, by_perimeter=True)
    except ValueError as exc:
        raise ValidationError(f"unit polygons overlap ({exc}); contiguity needs a coverage: repair with "
                              "shapely.coverage_clean.") from exc
    adj = g.adjacency.reset_index()
    adj.columns = ["i", "j", "shared"]
    adj = adj[adj["i"] < adj["j"]]
    if tolerance_m > 0:
        tree = shapely.STRtree(geoms)
        i, j = tree.query(geoms, predicate="dwithin", distance=tolerance_m)
        near = pd.DataFrame({"i": i, "j": j})
        near = near[near["i"] < near["j"]].merge(adj[["i", "j"]], how="left", indicator=True)
        near = near[near["_merge"] == "left_only"][["i", "j"]]
        if len(near):  # the boundary of each lying within the tolerance of the other, averaged both ways
            a, b = geoms[near["i"].to_numpy()], geoms[near["j"].to_numpy()]
            la = shapely.length(shapely.intersection(shapely.boundary(a), shapely.buffer(b, tolerance_m)))
            lb = shapely.length(shapely.intersection(shapely.boundary(b), shapely.buffer(a, tolerance_m)))
            adj = pd.concat([adj, near.assign(shared=(la + lb) / 2)], ignore_index=True)
    return adj.reset_index(drop=True)


def _water(geoms: np.ndarray, max_gap: float, exclude: set, max_land_share: float, land,
           chunk: int = 20_000) -> pd.DataFrame:
    """Columns i, j (i < j), gap, land_share: non-touching pairs at most ``max_gap`` apart whose shortest line runs
    over other polygons (and ``land``) for at most ``max_land_share`` of its length (pairs taken ``chunk`` at a
    time, to bound memory)."""
    _, shapely, _ = require_geo()
    i, j = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=max_gap)
    keep = i < j
    if exclude:
        keep &= np.array([(a, b) not in exclude for a, b in zip(i.tolist(), j.tolist())], dtype=bool)
    i, j = i[keep], j[keep]
    obstacles = geoms if land is None else np.concatenate([geoms, np.asarray(land, dtype=object)])
    tree = shapely.STRtree(obstacles)
    out = []
    for k in range(0, len(i), chunk):
        ci, cj = i[k:k + chunk], j[k:k + chunk]
        gap = shapely.distance(geoms[ci], geoms[cj])
        ci, cj, gap = ci[gap > 0], cj[gap > 0], gap[gap > 0]
        lines = shapely.shortest_line(geoms[ci], geoms[cj])
        li, pj = tree.query(lines, predicate="intersects")
        third = (pj != ci[li]) & (pj != cj[li])
        li, pj = li[third], pj[third]
        over = shapely.length(shapely.intersection(lines[li], obstacles[pj]))
        land = np.bincount(li, weights=over, minlength=len(lines)) - _along_edges(lines, li, obstacles[pj], over)
        share = land / gap
        ok = share <= max_land_share + 1e-9
        out.append(pd.DataFrame({"i": ci[ok], "j": cj[ok], "gap": gap[ok], "land_share": share[ok]}))
    if not out:
        return pd.DataFrame({"i": [], "j": [], "gap": [], "land_share": []})
    return pd.concat(out, ignore_index=True)


def _along_edges(lines: np.ndarray, li: np.ndarray, polys: np.ndarray, over: np.ndarray) -> np.ndarray:
    """Per line, the length running along polygon edges (counted once however many polygons share the edge).

    The closed intersections ``over`` count a stretch along a coast once and a stretch along an edge between
    two polygons twice; less this length, a coast stretch (beside the water) counts 0 and a shared edge (land
    on both sides) once."""
    _, shapely, _ = require_geo()
    out = np.zeros(len(lines))
    rows = np.flatnonzero(over > 0)
    if not len(rows):
        return out
    bits = shapely.intersection(lines[li[rows]], shapely.boundary(polys[rows]))
    has = shapely.length(bits) > 0
    rows, bits = rows[has], bits[has]
    order = np.argsort(li[rows], kind="stable")
    ids, starts = np.unique(li[rows][order], return_index=True)
    for line, group in zip(ids, np.split(bits[order], starts[1:])):
        out[line] = shapely.length(shapely.union_all(group))
    return out


def water_crossings(gdf, max_gap: float, *, code: str | None = "code", max_land_share: float = MAX_LAND_SHARE,
                    land=None) -> pd.DataFrame:
    """Pairs of polygons that do not touch, lie at most ``max_gap`` metres apart, and whose gap runs over no
    other polygon.

    The gap is the shortest line between the two (``shapely.shortest_line``); "over" a polygon means through
    its interior (a stretch along its edge, such as a quay beside the water, does not count).

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Unit polygons in a projected CRS in metres.
    max_gap : float
        The largest gap, in metres.
    code : str or None
        Column of unit codes (None: the index).
    max_land_share : float
        Share of the gap's shortest line that may run over other polygons of ``gdf`` or ``land`` (default 0.2,
        the rule of the shipped crossing files: more than 80% over water).
    land : GeoSeries or GeoDataFrame, optional
        More land that a gap may not cross (for example the neighbouring country), same CRS.

    Returns
    -------
    DataFrame
        Columns ``a``, ``b`` (``a < b``), ``gap_m``, ``land_share``, sorted by (a, b).
    """
    check_crs(gdf, "units_gdf")
    max_gap = check_metres(max_gap, "max_gap")
    share = check_metres(max_land_share, "max_land_share")
    codes = unit_codes(gdf, code, "units_gdf")
    geoms = unit_polygons(gdf, codes, "units_gdf")
    if land is not None:
        check_crs(land, "land")
        land = np.asarray(land.geometry.values, dtype=object)
    w = _water(geoms, max_gap, set(), share, land)
    return _named(w, codes, gap="gap_m")[["a", "b", "gap_m", "land_share"]]


def _named(df: pd.DataFrame, codes: np.ndarray, **rename) -> pd.DataFrame:
    """``df`` with its position columns i, j replaced by codes a < b, sorted."""
    a, b = codes[df["i"].to_numpy(dtype=int)], codes[df["j"].to_numpy(dtype=int)]
    swap = a > b
    out = df.drop(columns=["i", "j"]).rename(columns=rename)
    out.insert(0, "b", np.where(swap, a, b))
    out.insert(0, "a", np.where(swap, b, a))
    return out.sort_values(["a", "b"], kind="stable").reset_index(drop=True)


def _islands(geoms: np.ndarray, pairs: pd.DataFrame) -> pd.DataFrame:
    """Edges (i, j, gap) joining every connected piece but the largest to its nearest unit in the largest."""
    _, shapely, _ = require_geo()
    n = len(geoms)
    m = coo_matrix((np.ones(len(pairs)), (pairs["i"].to_numpy(dtype=int), pairs["j"].to_numpy(dtype=int))),
                   shape=(n, n))
    k, labels = connected_components(m, directed=False)
    if k <= 1:
        return pd.DataFrame({"i": [], "j": [], "gap": []})
    main = int(np.argmax(np.bincount(labels)))
    mainland = np.flatnonzero(labels == main)
    tree = shapely.STRtree(geoms[mainland])
    rows = []
    for piece in range(k):
        if piece == main:
            continue
        members = np.flatnonzero(labels == piece)
        (src, dst), dist = tree.query_nearest(geoms[members], return_distance=True, all_matches=False)
        best = int(np.argmin(dist))
        a, b = int(members[src[best]]), int(mainland[dst[best]])
        rows.append((min(a, b), max(a, b), float(dist[best])))
    return pd.DataFrame(rows, columns=["i", "j", "gap"])


def adjacency_from_polygons(gdf, *, code: str | None = "code", contiguity: str = "rook",
                            min_shared_boundary_m: float = 0.0, tolerance_m: float = 0.0,
                            crossings: float | None = None, max_land_share: float = MAX_LAND_SHARE, land=None,
                            islands: str | None = "nearest") -> pd.DataFrame:
    """The adjacency edges between unit polygons, each with its kind and measure.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Unit polygons (a coverage) in a projected CRS in metres.
    code : str or None
        Column of unit codes (None: the index).
    contiguity : {"rook", "queen"}
        ``rook``: units sharing a boundary of at least ``min_shared_boundary_m`` (and more than 0 m).
        ``queen``: also the other contacts (a corner, or a boundary shorter than the minimum), as kind ``corner``.
    min_shared_boundary_m : float
        Shortest shared boundary, in metres, for a ``boundary`` edge (default 0: any length above 0).
    tolerance_m : float
        Count polygons closer than this as touching (default 0: exact contact). For such a pair ``shared_m`` is the
        length of each boundary lying within the tolerance of the other, averaged both ways (as in the shipped
        ``lsoa11_adjacency.csv.gz``, built at 2 m).
    crossings : float, optional
        Add ``water`` edges for gaps of at most this many metres (see :func:`water_crossings`).
    max_land_share, land
        As for :func:`water_crossings`.
    islands : {"nearest", None}
        ``nearest`` (default): join each connected piece but the largest to its nearest unit in the largest by an
        ``island`` edge, so the graph is connected. None: leave the pieces apart.

    Returns
    -------
    DataFrame
        Columns ``a``, ``b`` (codes, ``a < b``), ``kind`` (see :data:`EDGE_KINDS`), ``shared_m`` (shared boundary,
        0 for water and island edges) and ``gap_m`` (0 for contacts), sorted by (a, b).
    """
    check_crs(gdf, "units_gdf")
    check_choice(contiguity, "contiguity", ("rook", "queen"))
    check_choice(islands, "islands", ("nearest", None))
    min_shared = check_metres(min_shared_boundary_m, "min_shared_boundary_m")
    tol = check_metres(tolerance_m, "tolerance_m")
    crossings = check_metres(crossings, "crossings", allow_none=True)
    share = check_metres(max_land_share, "max_land_share")
    codes = unit_codes(gdf, code, "units_gdf")
    geoms = unit_polygons(gdf, codes, "units_gdf")
    if land is not None:
        check_crs(land, "land")
        land = np.asarray(land.geometry.values, dtype=object)
    touch = _contacts(geoms, tol)
    touch["kind"] = np.where((touch["shared"] > 0) & (touch["shared"] >= min_shared), "boundary", "corner")
    if contiguity == "rook":
        touch = touch[touch["kind"] == "boundary"]
    parts = [touch.assign(gap=0.0)]
    if crossings is not None:
        exclude = set(zip(touch["i"].tolist(), touch["j"].tolist()))
        w = _water(geoms, crossings, exclude, share, land)
        parts.append(w.assign(kind="water", shared=0.0)[["i", "j", "kind", "shared", "gap"]])
    if islands == "nearest":
        parts.append(_islands(geoms, pd.concat(parts, ignore_index=True)).assign(kind="island", shared=0.0))
    parts = [p[["i", "j", "kind", "shared", "gap"]] for p in parts if len(p)]
    if not parts:
        return _empty_edges()
    edges = pd.concat(parts, ignore_index=True)
    out = _named(edges, codes, shared="shared_m", gap="gap_m")
    out[["shared_m", "gap_m"]] = out[["shared_m", "gap_m"]].astype(float).round(3)
    return out[_COLUMNS]
