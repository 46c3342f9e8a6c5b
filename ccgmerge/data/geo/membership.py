"""Membership from geometry: the people of each unit in each area, by point or by overlay."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ccgmerge.data.geo.base import check_choice, check_crs, require_geo, unit_codes
from ccgmerge.errors import ValidationError, format_items

__all__ = ["membership_from_geometry"]


def _points(gdf, points, codes):
    """One point per unit: the given GeoSeries, the (x, y) columns, or an interior point of the polygon."""
    geopandas, shapely, _ = require_geo()
    if points is None:
        return geopandas.GeoSeries(gdf.geometry.representative_point().values, crs=gdf.crs)
    if isinstance(points, (tuple, list)) and len(points) == 2 and all(isinstance(p, str) for p in points):
        missing = [p for p in points if p not in gdf.columns]
        if missing:
            raise ValidationError(f"points: units_gdf has no columns {format_items(missing)}.", items=missing)
        return geopandas.GeoSeries(geopandas.points_from_xy(gdf[points[0]], gdf[points[1]]), crs=gdf.crs)
    if len(points) != len(codes):
        raise ValidationError("points must hold one point per unit (or name two columns x, y).", items=["points"])
    return geopandas.GeoSeries(np.asarray(points.values if hasattr(points, "values") else points, dtype=object),
                               crs=gdf.crs)


def _whole(units: np.ndarray, areas: np.ndarray, share: np.ndarray, pop: pd.Series) -> pd.DataFrame:
    """Membership with whole people: each unit's population split by ``share`` (largest remainder)."""
    df = pd.DataFrame({"unit": units, "area": areas, "share": share})
    df["share"] /= df.groupby("unit")["share"].transform("sum")
    raw = df["share"] * df["unit"].map(pop).to_numpy(dtype=float)
    df["population"] = np.floor(raw).astype(np.int64)
    df["rest"] = raw - df["population"]
    short = (df["unit"].map(pop) - df.groupby("unit")["population"].transform("sum")).astype(int)
    df["rank"] = df.sort_values(["rest", "area"], ascending=[False, True]).groupby("unit").cumcount()
    df.loc[df["rank"] < short, "population"] += 1
    return df[["unit", "area", "population"]].sort_values(["unit", "area"]).reset_index(drop=True)


def membership_from_geometry(units_gdf, areas_gdf, *, code: str | None = "code", population: str = "population",
                             area_code: str = "code", method: str = "point", points=None,
                             min_share: float = 0.01) -> pd.DataFrame:
    """How many people of each unit live in each area, from geometry.

    Parameters
    ----------
    units_gdf, areas_gdf : geopandas.GeoDataFrame
        Unit and area polygons in the same projected CRS in metres.
    code, population : str
        Columns of ``units_gdf``: unit codes (None: the index) and populations.
    area_code : str
        Column of area codes in ``areas_gdf``.
    method : {"point", "overlay"}
        ``point``: all of a unit's people in the area holding its point (a unit whose point lies in no area goes
        to the nearest area). ``overlay``: people split by the share of the unit's area in each area
        (``geopandas.overlay``), pieces below ``min_share`` dropped, whole people by largest remainder.
    points : GeoSeries or (x_column, y_column), optional
        ``point`` method: one point per unit, e.g. a population-weighted centroid. Default: an interior point
        of each polygon (``representative_point``).
    min_share : float
        ``overlay``: smallest share of a unit's area that counts (default 0.01, so slivers from boundaries that
        do not quite match are ignored).

    Returns
    -------
    DataFrame
        Columns ``unit``, ``area``, ``population`` (whole numbers adding up to each unit's population).
    """
    geopandas, shapely, _ = require_geo()
    check_choice(method, "membership", ("point", "overlay"))
    check_crs(units_gdf, "units_gdf")
    check_crs(areas_gdf, "areas")
    if units_gdf.crs != areas_gdf.crs:
        raise ValidationError(f"areas are in CRS {areas_gdf.crs.to_string()}, units in {units_gdf.crs.to_string()}; "
                              "reproject one with .to_crs(...).", items=["areas"])
    codes = unit_codes(units_gdf, code, "units_gdf")
    acodes = unit_codes(areas_gdf, area_code, "areas")
    if population not in units_gdf.columns:
        raise ValidationError(f"units_gdf has no population column {population!r}.", items=[population])
    pop = pd.Series(pd.to_numeric(units_gdf[population]).to_numpy(), index=codes)
    ageoms = geopandas.GeoSeries(np.asarray(areas_gdf.geometry.values, dtype=object), crs=areas_gdf.crs)
    where = np.full(len(codes), -1)
    units, areas, share = [], [], []
    if method == "overlay":
        ugeo = geopandas.GeoDataFrame({"_u": np.arange(len(codes))}, geometry=np.asarray(units_gdf.geometry.values),
                                      crs=units_gdf.crs)
        agdf = geopandas.GeoDataFrame({"_a": np.arange(len(acodes))}, geometry=ageoms.values, crs=areas_gdf.crs)
        ov = geopandas.overlay(ugeo, agdf, how="intersection", keep_geom_type=True)
        ov["share"] = ov.geometry.area.to_numpy() / ugeo.geometry.area.to_numpy()[ov["_u"].to_numpy()]
        ov = ov[ov["share"] >= min_share]
        units += codes[ov["_u"].to_numpy()].tolist()
        areas += acodes[ov["_a"].to_numpy()].tolist()
        share += ov["share"].tolist()
        where[np.unique(ov["_u"].to_numpy())] = 0
    else:
        pts = _points(units_gdf, points, codes)
        pi, ai = shapely.STRtree(ageoms.values).query(np.asarray(pts.values), predicate="intersects")
        first = pd.DataFrame({"p": pi, "a": ai}).assign(code=acodes[ai]).sort_values(["p", "code"])
        first = first.drop_duplicates("p")
        where[first["p"].to_numpy()] = first["a"].to_numpy()
        hit = where >= 0
        units += codes[hit].tolist()
        areas += acodes[where[hit]].tolist()
        share += [1.0] * int(hit.sum())
    lost = np.flatnonzero(where < 0)
    if len(lost):  # in no area: the nearest one
        src, dst = shapely.STRtree(ageoms.values).query_nearest(np.asarray(units_gdf.geometry.values)[lost],
                                                                all_matches=False)
        units += codes[lost[src]].tolist()
        areas += acodes[dst].tolist()
        share += [1.0] * len(src)
    return _whole(np.array(units, dtype=object), np.array(areas, dtype=object), np.array(share, dtype=float), pop)
