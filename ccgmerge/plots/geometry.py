"""Boundaries for the maps and reports: finding the real files, reading them
(geopandas when installed, else :mod:`json` for GeoJSON), British National
Grid coordinates, and matplotlib paths.

Every frame this module hands out is in British National Grid (EPSG:27700,
metres). With geopandas the reprojection is pyproj's; the :mod:`json`
fallback projects with :func:`lonlat_to_bng` (the Ordnance Survey's Helmert
and transverse Mercator formulas, within a centimetre of pyproj's answer).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

__all__ = ["BNG", "CCG_BOUNDARIES", "HWB_BOUNDARIES", "LSOA_BOUNDARIES", "default_boundary_file",
           "geopandas_or_none", "lonlat_to_bng", "is_lsoa_instance", "default_unit_source", "load_frame",
           "codes_of", "shapely_path", "rings_to_path"]

#: EPSG code of British National Grid.
BNG = 27700
CCG_BOUNDARIES = "ccg2013_boundaries.geojson"
HWB_BOUNDARIES = "hwb2013_boundaries.geojson"
LSOA_BOUNDARIES = "lsoa11_boundaries.gpkg"
_LSOA_CODE = re.compile(r"^[EW]01\d{6}$")


def default_boundary_file(name: str) -> Path | None:
    """The optional geometry file ``name`` (:func:`ccgmerge.data.geometry_file`: ``CCGMERGE_DATA``,
    else ``../shared/data``), or None when it is not found (the map is then drawn as a network)."""
    from ccgmerge.data.paths import geometry_file
    from ccgmerge.errors import DataNotFoundError

    try:
        return geometry_file(name)
    except DataNotFoundError:
        return None


def geopandas_or_none():
    """The geopandas module, or None when it is not installed."""
    try:
        import geopandas
    except ImportError:
        return None
    return geopandas


def is_lsoa_instance(inst) -> bool:
    """True when every unit code is a 2011 LSOA code (``E01…``)."""
    return all(_LSOA_CODE.match(c) for c in inst.unit_codes)


def default_unit_source(inst, finder=default_boundary_file):
    """(file, key) of the real boundaries of ``inst``'s units: the LSOA
    GeoPackage for LSOA instances, else the 2013 CCG GeoJSON; (None, key) when
    ``finder`` does not find the file."""
    if is_lsoa_instance(inst):
        return finder(LSOA_BOUNDARIES), "lsoa11_code"
    return finder(CCG_BOUNDARIES), "ccg_code"


# --------------------------------------------------------------------------- projection
_AIRY = (6377563.396, 6356256.909)
_WGS84 = (6378137.000, 6356752.3142)
_HELMERT = (-446.448, 125.157, -542.060, 20.4894e-6, -0.1502, -0.2470, -0.8421)  # tx ty tz (m), s, rx ry rz (")


def lonlat_to_bng(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 longitude/latitude (degrees) to British National Grid easting and
    northing (metres): a Helmert shift to OSGB36, then the National Grid's
    transverse Mercator (Ordnance Survey, "A guide to coordinate systems in
    Great Britain"). Within a centimetre of pyproj's EPSG:27700.

    >>> e, n = lonlat_to_bng(-1.5, 53.0)
    >>> round(float(e), -1), round(float(n), -1)
    (433650.0, 344860.0)
    """
    lam, phi = np.radians(np.asarray(lon, dtype=float)), np.radians(np.asarray(lat, dtype=float))
    a, b = _WGS84
    e2 = 1 - b * b / (a * a)
    nu = a / np.sqrt(1 - e2 * np.sin(phi) ** 2)
    x, y, z = nu * np.cos(phi) * np.cos(lam), nu * np.cos(phi) * np.sin(lam), (1 - e2) * nu * np.sin(phi)
    tx, ty, tz, s, rx, ry, rz = _HELMERT
    rx, ry, rz = (np.radians(r / 3600) for r in (rx, ry, rz))
    x, y, z = (tx + (1 + s) * x - rz * y + ry * z, ty + rz * x + (1 + s) * y - rx * z,
               tz - ry * x + rx * y + (1 + s) * z)
    a, b = _AIRY
    e2 = 1 - b * b / (a * a)
    p = np.hypot(x, y)
    phi = np.arctan2(z, p * (1 - e2))
    for _ in range(6):
        nu = a / np.sqrt(1 - e2 * np.sin(phi) ** 2)
        phi = np.arctan2(z + e2 * nu * np.sin(phi), p)
    lam = np.arctan2(y, x)
    f0, phi0, lam0, e0, n0 = 0.9996012717, np.radians(49.0), np.radians(-2.0), 400000.0, -100000.0
    n = (a - b) / (a + b)
    sin, cos, tan = np.sin(phi), np.cos(phi), np.tan(phi)
    nu = a * f0 / np.sqrt(1 - e2 * sin ** 2)
    rho = a * f0 * (1 - e2) / (1 - e2 * sin ** 2) ** 1.5
    eta2 = nu / rho - 1
    dp, sp = phi - phi0, phi + phi0
    m = b * f0 * ((1 + n + 1.25 * n ** 2 + 1.25 * n ** 3) * dp - (3 * n + 3 * n ** 2 + 21 / 8 * n ** 3) * np.sin(dp) * np.cos(sp)
                  + (15 / 8 * n ** 2 + 15 / 8 * n ** 3) * np.sin(2 * dp) * np.cos(2 * sp)
                  - 35 / 24 * n ** 3 * np.sin(3 * dp) * np.cos(3 * sp))
    t2 = tan ** 2
    north = (m + n0 + nu / 2 * sin * cos * (lam - lam0) ** 2
             + nu / 24 * sin * cos ** 3 * (5 - t2 + 9 * eta2) * (lam - lam0) ** 4
             + nu / 720 * sin * cos ** 5 * (61 - 58 * t2 + t2 ** 2) * (lam - lam0) ** 6)
    east = (e0 + nu * cos * (lam - lam0) + nu / 6 * cos ** 3 * (nu / rho - t2) * (lam - lam0) ** 3
            + nu / 120 * cos ** 5 * (5 - 18 * t2 + t2 ** 2 + 14 * eta2 - 58 * t2 * eta2) * (lam - lam0) ** 5)
    return east, north


def _looks_lonlat(xy: np.ndarray) -> bool:
    return bool(len(xy)) and float(np.abs(xy[:, 0]).max()) <= 180 and float(np.abs(xy[:, 1]).max()) <= 90


# --------------------------------------------------------------------------- paths
def rings_to_path(rings):
    """(vertices, codes) lists of a compound matplotlib Path from polygon rings
    (first exterior, then holes), oriented exterior counter-clockwise and holes
    clockwise so holes stay empty."""
    from matplotlib.path import Path as MPath

    verts, codes = [], []
    for r, ring in enumerate(rings):
        xy = np.asarray(ring, dtype=float)[:, :2]
        if len(xy) < 3:
            continue
        area = 0.5 * np.sum(xy[:-1, 0] * xy[1:, 1] - xy[1:, 0] * xy[:-1, 1])
        if (r == 0) != (area > 0):
            xy = xy[::-1]
        verts.append(xy)
        c = np.full(len(xy), MPath.LINETO, dtype=np.uint8)
        c[0] = MPath.MOVETO
        c[-1] = MPath.CLOSEPOLY
        codes.append(c)
    return verts, codes


def _polygons_path(polys):
    from matplotlib.path import Path as MPath

    verts, codes = [], []
    for rings in polys:
        v, c = rings_to_path(rings)
        verts += v
        codes += c
    return MPath(np.concatenate(verts), np.concatenate(codes)) if verts else None


def shapely_path(geom):
    """matplotlib Path of a shapely (Multi)Polygon (None when empty)."""
    if geom is None or geom.is_empty:
        return None
    polys = list(geom.geoms) if hasattr(geom, "geoms") else [geom]
    return _polygons_path([[np.asarray(p.exterior.coords)] + [np.asarray(r.coords) for r in p.interiors]
                           for p in polys if p.geom_type == "Polygon"])


def _read_geojson(source, key: str) -> dict:
    """{code: matplotlib Path in BNG} from a GeoJSON path or parsed dict (no geopandas); lon/lat
    coordinates are projected with :func:`lonlat_to_bng`."""
    data = source if isinstance(source, dict) else json.loads(Path(source).read_text())
    out = {}
    for f in data.get("features", []):
        geom = f.get("geometry") or {}
        t = geom.get("type")
        polys = [geom["coordinates"]] if t == "Polygon" else geom["coordinates"] if t == "MultiPolygon" else []
        polys = [[np.asarray(r, dtype=float)[:, :2] for r in poly] for poly in polys]
        flat = np.concatenate([r for poly in polys for r in poly]) if polys else np.empty((0, 2))
        if _looks_lonlat(flat):
            polys = [[np.column_stack(lonlat_to_bng(r[:, 0], r[:, 1])) for r in poly] for poly in polys]
        p = _polygons_path(polys)
        if p is not None:
            out[str(f.get("properties", {}).get(key))] = p
    return out


def to_bng(frame):
    """``frame`` in British National Grid (a frame without a CRS is taken as
    lon/lat when its bounds fit, else as BNG already)."""
    if frame.crs is None:
        x0, y0, x1, y1 = frame.total_bounds
        frame = frame.set_crs(4326 if max(abs(x0), abs(x1)) <= 180 and max(abs(y0), abs(y1)) <= 90 else BNG)
    return frame if frame.crs.to_epsg() == BNG else frame.to_crs(BNG)


def load_frame(source, key: str, gpd, codes=None):
    """A GeoDataFrame in BNG (``gpd`` given) or a {code: Path in BNG} dict
    (``gpd`` None: GeoJSON read with :mod:`json`). ``codes`` limits a
    GeoPackage read to those codes (an SQL filter, when they are plain codes)."""
    if gpd is not None and isinstance(source, gpd.GeoDataFrame):
        return to_bng(source)
    if gpd is None:
        if isinstance(source, dict) or str(source).lower().endswith((".geojson", ".json")):
            return _read_geojson(source, key)
        raise ImportError(f"reading {Path(source).name} needs geopandas: pip install \"ccgmerge[maps]\"")
    kw = {}
    if codes is not None and str(source).lower().endswith(".gpkg") and re.fullmatch(r"\w+", key):
        codes = sorted(set(map(str, codes)))
        if len(codes) <= 5000 and all(re.fullmatch(r"[A-Za-z0-9]+", c) for c in codes):
            kw["where"] = f"{key} IN ({','.join(repr(c) for c in codes)})"
    if isinstance(source, dict):
        return to_bng(gpd.GeoDataFrame.from_features(source["features"], crs=4326))
    return to_bng(gpd.read_file(source, **kw))


def codes_of(frame, key: str) -> set[str]:
    """The unit codes a frame (GeoDataFrame or {code: Path}) covers."""
    if isinstance(frame, dict):
        return set(frame)
    return set(frame[key].astype(str))
