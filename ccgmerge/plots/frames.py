"""A plan as tables and GeoDataFrames: the numbered key of its groups (shared
by the maps and the HTML report), which baseline group each group
continues and which units moved, :func:`plan_geodataframe` and
:func:`explore` (an interactive folium map in a notebook).

Groups are numbered for the reader: merged groups first, from north to south
(by the population-weighted northing of their units), then the units left
alone, also north to south; so the number written on a map says roughly
where to look, and the key lists the groups in the same order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ccgmerge.metrics import continuations
from ccgmerge.metrics import moved_units as metrics_moved_units
from ccgmerge.plan import baseline_names as plan_baseline_names
from ccgmerge.plan import names_by_code
from ccgmerge.plots.style import group_colours

__all__ = ["unit_word", "unit_xy", "continuing_baseline", "moved_units", "baseline_names", "short_name", "group_key", "plan_geodataframe", "dissolve", "explore"]

_COORDS = (("pop_centroid_x_bng", "pop_centroid_y_bng"), ("x_bng", "y_bng"), ("pop_centroid_lon", "pop_centroid_lat"),
           ("lon", "lat"), ("x", "y"))


def short_name(name, width: int = 30) -> str:
    """A unit's name without "NHS " and " CCG", cut to ``width`` characters.

    >>> short_name("NHS West Kent CCG")
    'West Kent'
    """
    s = str(name)
    if s.startswith("NHS "):
        s = s[4:]
    for suf in (" CCG", " Clinical Commissioning Group"):
        if s.endswith(suf):
            s = s[: -len(suf)]
    return s if len(s) <= width else s[: width - 1] + "\u2026"


def unit_xy(inst) -> np.ndarray | None:
    """(n, 2) unit coordinates from the first complete pair of known columns
    (BNG population centroids, BNG points, lon/lat, x/y), or None."""
    u = inst.units
    for cx, cy in _COORDS:
        if cx in u.columns and cy in u.columns and u[[cx, cy]].notna().all().all():
            return u.loc[list(inst.unit_codes), [cx, cy]].to_numpy(dtype=float)
    return None


def unit_word(inst) -> str:
    """What the units are, for text: "LSOAs", "CCGs" (ONS codes E38…) or "units"."""
    from ccgmerge.plots.geometry import is_lsoa_instance

    if is_lsoa_instance(inst):
        return "LSOAs"
    ons = inst.units["ons_code"].astype(str) if "ons_code" in inst.units.columns else None
    return "CCGs" if ons is not None and ons.str.startswith("E38").all() else "units"


def continuing_baseline(plan) -> list[str | None]:
    """The baseline group each group of ``plan`` continues (None: a new group).

    :func:`ccgmerge.metrics.continuations`, as in the ``moved`` metric: a maximum-weight
    matching of groups to baseline groups, weighted by the people they share,
    so at most one group continues each baseline group. Without a baseline
    (every unit its own) a group continues its largest member."""
    plan.require_groups()
    return continuations(plan.instance, plan.groups)


def moved_units(plan, cont: list[str | None] | None = None) -> np.ndarray:
    """Boolean per unit (``instance.unit_codes`` order): the unit's group does
    not continue the unit's baseline group (its people count as moved);
    :func:`ccgmerge.metrics.moved_units` (``plan.csv``'s ``moved``)."""
    plan.require_groups()
    return metrics_moved_units(plan.instance, plan.groups, cont)


def baseline_names(inst) -> dict[str, str]:
    """Names of the baseline groups: :func:`ccgmerge.plan.baseline_names` (the
    2013 CCG names for an LSOA instance, else the units' names)."""
    return plan_baseline_names(inst)


def group_key(plan) -> pd.DataFrame:
    """One row per group of ``plan``, numbered as on the maps and in the report.

    Built on :attr:`ccgmerge.plan.Plan.groups_table` (one set of names, people
    moved and HWBs for the CSV files, the maps and the report). Columns:
    ``number``; ``position`` (index into ``plan.groups``); ``group``
    (:meth:`~ccgmerge.plan.Plan.group_ids`); ``name`` (the baseline group it
    continues: for CCG plans the name of its largest CCG, for LSOA plans the
    2013 CCG it continues, "new group" when it continues none) and ``label``
    (the name, short); ``continues``; ``n_units``; ``members`` (codes);
    ``member_names`` (short names of the member units, most people first, or
    for a plan with a baseline the baseline groups its people come from,
    with their people); ``population``; ``allowance``, ``cost`` and
    ``margin`` (GBP); ``hwbs`` (names of the HWBs with people in it, most
    people first); ``moved`` (people whose baseline group it does not
    continue); ``merged``; ``coterminous``, ``hwb_fit`` and
    ``noncoterminous`` (as in ``groups_table``); ``colour``
    (:func:`~ccgmerge.plots.style.group_colours`).
    """
    plan.require_groups()
    inst, groups = plan.instance, plan.groups
    pop = inst.population
    position = {gid: k for k, gid in enumerate(plan.group_ids())}
    table = plan.groups_table
    table = table.assign(position=table["group"].map(position)).sort_values("position").reset_index(drop=True)
    bnames = baseline_names(inst)
    unames = names_by_code(inst.units)
    xy = unit_xy(inst)
    word = unit_word(inst)
    colours = group_colours(plan)
    member_names, north = [], []
    for k, g in enumerate(groups):
        if inst.singleton_baseline:
            member_names.append("; ".join(short_name(unames.get(inst.unit_codes[i], inst.unit_codes[i]), 60)
                                          for i in sorted(g, key=lambda i: (-pop[i], i))))
        else:
            by = pd.Series(pop[list(g)], index=[inst.baseline_codes[i] for i in g]).groupby(level=0).sum()
            by = by.sort_values(ascending=False, kind="stable")
            member_names.append(f"{len(g)} {word} from " + "; ".join(
                f"{short_name(bnames.get(b, b), 60)} ({v:,})" for b, v in by.items()))
        north.append(float(np.average(xy[list(g), 1], weights=np.maximum(pop[list(g)], 1))) if xy is not None else 0.0)
    key = pd.DataFrame({
        "position": table["position"], "group": table["group"], "name": table["name"],
        "label": table["name"].map(lambda s: short_name(s, 36)), "continues": table["continues"],
        "n_units": table["n_units"], "members": table["members"], "member_names": member_names,
        "population": table["population"], "allowance": table["allowance"], "cost": table["cost"],
        "margin": table["margin"], "hwbs": table["hwb_names"].str.replace(";", "; ", regex=False),
        "moved": table["moved"], "merged": table["merged"], "coterminous": table["coterminous"],
        "hwb_fit": table["hwb_fit"], "noncoterminous": table["noncoterminous"], "colour": colours,
        "_north": north})
    key = key.sort_values(["merged", "_north", "population", "group"], ascending=[False, False, False, True],
                          kind="stable")
    key.insert(0, "number", np.arange(1, len(key) + 1))
    return key.drop(columns=["_north"]).reset_index(drop=True)


def _unit_frame(plan, boundaries, key, gpd):
    from ccgmerge.errors import format_items
    from ccgmerge.plots.geometry import default_unit_source, load_frame

    inst = plan.instance
    if boundaries is None:
        boundaries, default_key = default_unit_source(inst)
        key = key or default_key
        if boundaries is None:
            raise FileNotFoundError(f"no boundary file for the units of {inst.name!r}: pass boundaries=")
    key = key or "ccg_code"
    frame = load_frame(boundaries, key, gpd, codes=inst.unit_codes)
    frame = frame[frame[key].astype(str).isin(set(inst.unit_codes))]
    missing = set(inst.unit_codes) - set(frame[key].astype(str))
    if missing:
        raise ValueError(f"boundaries lack {len(missing)} unit(s) of {inst.name!r}: {format_items(sorted(missing))}.")
    return frame.drop_duplicates(key).set_index(frame.drop_duplicates(key)[key].astype(str)).loc[list(inst.unit_codes)]


def plan_geodataframe(plan, boundaries=None, *, key: str | None = None, crs=27700, units: bool = False):
    """The plan as a GeoDataFrame: one row per group (:func:`group_key`'s
    columns, the group's units dissolved into one geometry), or with
    ``units=True`` one row per unit (``unit``, ``unit_name``, ``baseline``,
    ``moved`` and its group's key columns).

    ``boundaries`` (a file or GeoDataFrame with a ``key`` column) defaults to
    the real 2013 CCG or 2011 LSOA boundaries; ``crs`` is the output's
    (default British National Grid; 4326 for lon/lat). Needs geopandas.
    """
    from ccgmerge.plots.geometry import geopandas_or_none

    gpd = geopandas_or_none()
    if gpd is None:
        raise ImportError('plan_geodataframe needs geopandas: pip install "ccgmerge[maps]"')
    inst = plan.instance
    frame = _unit_frame(plan, boundaries, key, gpd)
    table = group_key(plan)
    number = np.empty(inst.n_units, dtype=np.int64)
    for pos, n in zip(table["position"], table["number"]):
        number[list(plan.groups[pos])] = n
    units_gdf = gpd.GeoDataFrame({"unit": list(inst.unit_codes), "number": number}, geometry=list(frame.geometry),
                                 crs=frame.crs)
    if units:
        names = names_by_code(inst.units)
        units_gdf.insert(1, "unit_name", [names.get(c, c) for c in inst.unit_codes])
        units_gdf.insert(2, "baseline", list(inst.baseline_codes))
        units_gdf.insert(3, "moved", moved_units(plan))
        out = units_gdf.merge(table.drop(columns=["position"]).rename(columns={"moved": "group_moved"}), on="number",
                              how="left")
        return gpd.GeoDataFrame(out, geometry="geometry", crs=frame.crs).to_crs(crs)
    shapes = dissolve(units_gdf, "number")
    shapes["geometry"] = shapes.geometry.buffer(0)
    out = table.merge(shapes[["geometry"]], left_on="number", right_index=True, how="left")
    return gpd.GeoDataFrame(out, geometry="geometry", crs=frame.crs).to_crs(crs)


def dissolve(gdf, by: str):
    """``gdf`` dissolved by the column ``by`` (a fast coverage union when the
    polygons form a clean coverage, as the LSOA file does; else a plain union)."""
    try:
        return gdf.dissolve(by=by, method="coverage")
    except Exception:  # noqa: BLE001 - GEOS refuses overlapping inputs; older geopandas lack method=
        return gdf.dissolve(by=by)


def explore(plan, boundaries=None, **kw):
    """An interactive folium map of ``plan`` in a notebook
    (:meth:`geopandas.GeoDataFrame.explore` on :func:`plan_geodataframe`):
    groups in their map colours, a tooltip per group (number, name, members,
    population, allowance and margin, HWBs, people moved). Keyword arguments
    go to ``explore`` (``tiles=None`` for no background tiles). Needs
    geopandas, folium and mapclassify (``pip install "ccgmerge[report]"``)."""
    for mod in ("folium", "mapclassify"):
        try:
            __import__(mod)
        except ImportError as exc:
            raise ImportError(f'explore needs {mod}: pip install "ccgmerge[report]"') from exc
    gdf = plan_geodataframe(plan, boundaries, crs=4326)
    shown = gdf.assign(allowance=gdf["allowance"].map("\u00a3{:,.0f}".format),
                       margin=gdf["margin"].map("\u00a3{:,.0f}".format))
    kw.setdefault("color", shown["colour"].tolist())
    kw.setdefault("tooltip", ["number", "name", "member_names", "population", "allowance", "margin", "hwbs", "moved"])
    kw.setdefault("style_kwds", {"weight": 1, "color": "#333333", "fillOpacity": 0.75})
    return shown.drop(columns=["colour"]).explore(**kw)
