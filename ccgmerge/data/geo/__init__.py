"""Instances from geometry: adjacency and membership built from polygons.

Needs the optional ``geo`` extra (``pip install "ccgmerge[geo]"``: geopandas,
libpysal, shapely); importing :mod:`ccgmerge` never imports them, and a
function here that needs a missing one raises :class:`ImportError` saying how
to install it.

* :func:`adjacency_from_polygons` -- the edges between unit polygons, each with
  its kind and measure (columns ``a, b, kind, shared_m, gap_m``):

  ``boundary``
      the two polygons share a boundary of length ``shared_m`` at least
      ``min_shared_boundary_m`` (libpysal contiguity, shapely lengths);
  ``corner``
      they touch at a point, or along less than ``min_shared_boundary_m``; kept
      only with ``contiguity="queen"``;
  ``water``
      with ``crossings=METRES``: they do not touch, their gap ``gap_m`` is at
      most ``crossings``, and the shortest line between them runs over no other
      polygon (:func:`water_crossings`);
  ``island``
      with ``islands="nearest"``: each connected piece of the graph other than
      the largest is joined to the nearest unit of the largest (``gap_m``).

* :func:`membership_from_geometry` -- people of each unit in each area, by a
  point per unit (a population-weighted centroid, or an interior point) or by
  area overlay.
* :func:`from_geodataframe` -- both, as an :class:`~ccgmerge.instance.Instance`.

Geometry must be in a projected CRS in metres (for England, British National
Grid, EPSG:27700), and the unit polygons should form a coverage (no overlaps;
``shapely.coverage_clean`` repairs small ones). A water gap is geometric
evidence of a bridge, tunnel or ferry, not a confirmed road.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> g = gpd.GeoDataFrame({"code": ["N", "S", "E"], "population": [60, 50, 40], "hwb": ["X", "X", "Y"]},
...                      geometry=[box(0, 60, 100, 100), box(0, 0, 100, 40), box(100, 60, 140, 100)],
...                      crs="EPSG:27700")
>>> adjacency_from_polygons(g, islands=None)[["a", "b", "kind", "shared_m"]].to_dict("records")
[{'a': 'E', 'b': 'N', 'kind': 'boundary', 'shared_m': 40.0}]
>>> inst = from_geodataframe(g, areas="hwb", crossings=25, instance_name="river")
>>> print(inst.adjacency[["a", "b", "kind", "gap_m"]].to_string(index=False))
a b     kind  gap_m
E N boundary    0.0
E S    water   20.0
N S    water   20.0
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ccgmerge.data.geo.adjacency import EDGE_KINDS, MAX_LAND_SHARE, adjacency_from_polygons, water_crossings
from ccgmerge.data.geo.base import check_crs, require_geo, unit_codes
from ccgmerge.data.geo.membership import membership_from_geometry
from ccgmerge.errors import ValidationError
from ccgmerge.instance import Instance

__all__ = [
    "EDGE_KINDS",
    "MAX_LAND_SHARE",
    "adjacency_from_polygons",
    "water_crossings",
    "membership_from_geometry",
    "from_geodataframe",
]


def from_geodataframe(units_gdf, *, population: str = "population", code: str | None = "code",
                      name: str | None = None, areas=None, area_code: str = "code", area_name: str | None = None,
                      membership: str = "point", points=None, min_share: float = 0.01, contiguity: str = "rook",
                      min_shared_boundary_m: float = 0.0, tolerance_m: float = 0.0, crossings: float | None = None,
                      max_land_share: float = MAX_LAND_SHARE, land=None, islands: str | None = "nearest",
                      baseline: str | Mapping | pd.Series | None = None, instance_name: str = "instance",
                      warn: bool = True) -> Instance:
    """An :class:`~ccgmerge.instance.Instance` from unit polygons: adjacency and membership from geometry.

    Parameters
    ----------
    units_gdf : geopandas.GeoDataFrame
        Unit polygons (a coverage) in a projected CRS in metres, with population and code columns. Other
        non-geometry columns are kept as extra unit columns.
    population, code, name : str
        Columns of population, unit code (None: the index) and unit name (optional).
    areas : GeoDataFrame, str or None
        The higher areas (HWBs): a GeoDataFrame of area polygons (codes in ``area_code``, names in ``area_name``),
        or the name of a column of ``units_gdf`` holding each unit's area code. None: one area, ``ALL``.
        An area's population is the people the membership places in it.
    membership, points, min_share
        How people are placed in area polygons (see :func:`membership_from_geometry`); unused when ``areas`` is
        a column.
    contiguity, min_shared_boundary_m, tolerance_m, crossings, max_land_share, land, islands
        The adjacency (see :func:`adjacency_from_polygons`); edges keep their ``kind``, ``shared_m`` and ``gap_m``.
    baseline : str, mapping or Series, optional
        A column of ``units_gdf`` holding each unit's baseline group, or a mapping unit code -> group.
    instance_name : str
        The instance's name.
    warn : bool
        Passed to :meth:`Instance.from_frames`.
    """
    geopandas, _, _ = require_geo()
    if not isinstance(units_gdf, geopandas.GeoDataFrame):
        raise ValidationError("units_gdf must be a geopandas.GeoDataFrame.", items=["units_gdf"])
    check_crs(units_gdf, "units_gdf")
    codes = unit_codes(units_gdf, code, "units_gdf")
    for col, what in ((population, "population"), (name, "name")):
        if col is not None and col not in units_gdf.columns:
            raise ValidationError(f"units_gdf has no {what} column {col!r}.", items=[col])
    geom_col = units_gdf.geometry.name
    units = pd.DataFrame({"code": codes, "population": units_gdf[population].to_numpy()})
    if name is not None:
        units["name"] = units_gdf[name].astype(str).to_numpy()
    used = {code, population, name, geom_col, "code", "population", "name"}
    for col in units_gdf.columns:
        if col not in used:
            units[col] = units_gdf[col].to_numpy()
    if areas is None:
        mem = pd.DataFrame({"unit": codes, "area": "ALL", "population": units["population"]})
    elif isinstance(areas, str):
        if areas not in units_gdf.columns:
            raise ValidationError(f"areas: units_gdf has no column {areas!r}.", items=[areas])
        mem = pd.DataFrame({"unit": codes, "area": units_gdf[areas].astype(str).str.strip().to_numpy(),
                            "population": units["population"]})
    else:
        mem = membership_from_geometry(units_gdf, areas, code=code, population=population, area_code=area_code,
                                       method=membership, points=points, min_share=min_share)
    area_tab = mem.groupby("area", sort=True)["population"].sum().rename_axis("code").reset_index()
    if areas is not None and not isinstance(areas, str) and area_name is not None:
        names = pd.Series(areas[area_name].astype(str).to_numpy(), index=unit_codes(areas, area_code, "areas"))
        area_tab["name"] = area_tab["code"].map(names)
    edges = adjacency_from_polygons(units_gdf, code=code, contiguity=contiguity,
                                    min_shared_boundary_m=min_shared_boundary_m, tolerance_m=tolerance_m,
                                    crossings=crossings, max_land_share=max_land_share, land=land, islands=islands)
    base = None
    if isinstance(baseline, str):
        if baseline not in units_gdf.columns:
            raise ValidationError(f"baseline: units_gdf has no column {baseline!r}.", items=[baseline])
        base = pd.Series(units_gdf[baseline].astype(str).to_numpy(), index=codes)
    elif baseline is not None:
        base = pd.Series(baseline)
    return Instance.from_frames(units, area_tab, mem, edges, baseline=base, name=instance_name, warn=warn)
