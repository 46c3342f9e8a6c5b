"""Shared checks of :mod:`ccgmerge.data.geo`: the optional libraries, metres, CRS, codes and polygons."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ccgmerge.errors import ValidationError, format_items

__all__ = ["INSTALL", "require_geo", "check_metres", "check_choice", "check_crs", "unit_codes", "unit_polygons"]

#: How to install the optional libraries.
INSTALL = 'pip install "ccgmerge[geo]"'


def require_geo():
    """(geopandas, shapely, libpysal.graph.Graph), or ImportError naming the extra."""
    try:
        import geopandas
        import shapely
        from libpysal.graph import Graph
    except ImportError as exc:
        raise ImportError(f"building instances from geometry needs geopandas, libpysal and shapely, the optional "
                          f"'geo' extra ({exc}); install them with: {INSTALL}") from exc
    return geopandas, shapely, Graph


def check_metres(value, what: str, *, allow_none: bool = False):
    """``value`` as a finite float >= 0 (None passes when ``allow_none``), else ValidationError naming ``what``."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValidationError(f"{what} must be a number of metres, got {value!r}.", items=[what])
    v = float(value)
    if not math.isfinite(v) or v < 0:
        raise ValidationError(f"{what} must be a finite number of metres >= 0, got {value!r}.", items=[what])
    return v


def check_choice(value, what: str, allowed: tuple) -> None:
    if value not in allowed:
        raise ValidationError(f"{what} must be one of {', '.join(map(repr, allowed))}, got {value!r}.", items=[what])


def check_crs(gdf, what: str) -> None:
    """A projected CRS in metres, else ValidationError naming the CRS found."""
    crs = getattr(gdf, "crs", None)
    if crs is None:
        raise ValidationError(f"{what} has no CRS; set a projected CRS in metres (for England EPSG:27700, British "
                              f"National Grid) with .set_crs(...) or .to_crs(...).", items=[what])
    units = {(a.unit_name or "").lower() for a in crs.axis_info}
    if not crs.is_projected or not units <= {"metre", "meter", "metres", "meters"}:
        raise ValidationError(
            f"{what} is in CRS {crs.to_string()} ({crs.name}), which is not projected in metres; lengths and gaps "
            f"need metres: reproject with .to_crs(27700) (British National Grid) or another metric CRS.", items=[what])


def unit_codes(gdf, code: str | None, what: str) -> np.ndarray:
    """The unit codes (column ``code``, or the index when None), as unique strings."""
    if code is None:
        vals = gdf.index
    elif code not in gdf.columns:
        raise ValidationError(f"{what} has no column {code!r} (columns: {', '.join(map(str, gdf.columns))}).",
                              items=[code])
    else:
        vals = gdf[code]
    out = np.array([str(v).strip() for v in vals], dtype=object)
    dup = sorted(pd.Series(out)[pd.Series(out).duplicated()].unique())
    if dup:
        raise ValidationError(f"{what}: duplicate codes {format_items(dup)}.", items=dup)
    return out


def unit_polygons(gdf, codes: np.ndarray, what: str) -> np.ndarray:
    """The geometry as a shapely array; ValidationError for missing, empty, invalid or non-areal shapes."""
    _, shapely, _ = require_geo()
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    ok = ~shapely.is_missing(geoms) & np.isin(shapely.get_type_id(geoms), (3, 6))
    ok[ok] &= ~shapely.is_empty(geoms[ok]) & shapely.is_valid(geoms[ok])
    bad = codes[~ok].tolist()
    if bad:
        raise ValidationError(f"{what}: units {format_items(bad)} have no valid Polygon/MultiPolygon geometry "
                              f"(repair with shapely.make_valid).", items=bad)
    return geoms
