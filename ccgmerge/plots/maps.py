"""Maps of plans in British National Grid: every group coloured (neighbours
differ) and numbered, a key naming every group, HWB outlines, a labelled
London inset, a scale bar and the data attribution. CCG plans are drawn on
the 2013 CCG boundaries, LSOA plans on the 2011 LSOA polygons (moved LSOAs
hatched, 2013 CCG boundaries dashed, each group named by the CCG it
continues); without boundaries (synthetic instances) the plan is drawn as a
network at the units' coordinates."""

from __future__ import annotations

import math
import textwrap

import numpy as np

from ccgmerge.plots.frames import dissolve, group_key, unit_word
from ccgmerge.plots.geometry import (
    HWB_BOUNDARIES,
    codes_of,
    default_boundary_file,
    default_unit_source,
    geopandas_or_none,
    is_lsoa_instance,
    lonlat_to_bng,
    shapely_path,
)
from ccgmerge.plots.mapkey import declutter, draw_key, fit_title, label_groups, map_title, scale_bar, write_key_csv
from ccgmerge.plots.style import ATTRIBUTION, VIOLATION_COLOUR, new_figure, require_matplotlib, save_figure

__all__ = ["plot_plan_map", "LONDON_BOX", "LONDON_BOX_BNG", "default_boundary_file", "geopandas_or_none"]

_HWB_COLOUR = "#222222"
#: Longitude/latitude box of the London inset (x0, y0, x1, y1).
LONDON_BOX = (-0.53, 51.27, 0.35, 51.70)
_lx, _ly = lonlat_to_bng([LONDON_BOX[0], LONDON_BOX[2], LONDON_BOX[0], LONDON_BOX[2]],
                         [LONDON_BOX[1], LONDON_BOX[1], LONDON_BOX[3], LONDON_BOX[3]])
#: The London inset's box in British National Grid metres (x0, y0, x1, y1).
LONDON_BOX_BNG = (round(float(_lx.min()), -3), round(float(_ly.min()), -3), round(float(_lx.max()), -3),
                  round(float(_ly.max()), -3))


def _bad_groups(plan) -> set[int]:
    """Positions of groups named by a violation in the verdict."""
    if plan.verdict is None or plan.verdict.ok:
        return set()
    where = {plan.instance.unit_codes[i]: k for k, g in enumerate(plan.groups) for i in g}
    return {where[v.units[0]] for v in plan.verdict.violations
            if v.rule in ("floor", "connected", "ceiling", "nested", "aligned") and v.units and v.units[0] in where}


# --------------------------------------------------------------------------- map
def plot_plan_map(
    plan,
    path=None,
    boundaries=None,
    hwb_boundaries=None,
    ax=None,
    *,
    key: str | None = None,
    legend_top: int | None = None,
    svg: bool = False,
    dpi: float = 150,
    figsize=None,
    title: str | None = None,
    london_inset=True,
    names: bool | None = None,
    attribution: str | bool = True,
):
    """Map of ``plan`` in British National Grid, every group coloured and numbered.

    Parameters
    ----------
    plan : Plan
        A plan with groups (a solved plan or :func:`ccgmerge.analysis.compare.configuration_plan`).
    path : str or Path, optional
        Write a PNG there (and an SVG, see :mod:`ccgmerge.plots`), and the key
        as CSV beside it (``<name>-key.csv``: number, name, members, population, ...).
    boundaries : path, GeoJSON dict or GeoDataFrame, optional
        Unit polygons with a ``key`` column (default: the real 2013 CCG
        boundaries, or for an LSOA plan the 2011 LSOA GeoPackage, found by
        :func:`ccgmerge.data.geometry_file`). When the default file is missing
        or does not cover the units (a synthetic instance) the plan is drawn as
        a network at the units' coordinates. Boundaries given explicitly must
        cover every unit.
    hwb_boundaries : path, GeoJSON dict, GeoDataFrame or False, optional
        HWB polygons drawn as dark lines (default: the real 2013 HWBs of the
        plan's areas when the unit boundaries are the real ones; False: none).
    ax : matplotlib Axes, optional
        Draw into it instead of a new figure (the key is then a legend beside it).
    key : the boundaries' unit-code column (default ``ccg_code``, ``lsoa11_code`` for LSOAs)
    legend_top : the key lists at most this many groups (default: all)
    names : write each group's name beside its number on the map (default: for
        plans with a baseline, such as LSOA plans, of at most 30 groups)
    attribution : the data attribution under the map (True: :data:`~ccgmerge.plots.style.ATTRIBUTION`
        on real boundaries; a string; False: none)
    figsize : inches (default: 11 wide and as tall as the map and its key need, the key
        beside the map, or under it for a map wider than tall)
    svg, dpi, title : output options (``title`` replaces the default)
    london_inset : bool or [x0, y0, width, height] in axes fractions
        London (:data:`LONDON_BOX_BNG`) enlarged and labelled in an inset over
        the North Sea (only when the map covers London).

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    The numbers are :func:`ccgmerge.plots.frames.group_key`'s: merged groups
    from north to south, then units left alone (grey). Colours come from
    :func:`~ccgmerge.plots.style.group_colours` (neighbouring groups differ).
    Groups named by a violation of the plan's verdict are outlined in dark
    red. With geopandas the files are read and reprojected with it; without,
    the GeoJSON is read with :mod:`json` and projected with
    :func:`ccgmerge.plots.geometry.lonlat_to_bng`.
    """
    require_matplotlib()
    plan.require_groups()
    inst = plan.instance
    explicit = boundaries is not None
    gpd = geopandas_or_none()
    source, default_key = (boundaries, None) if explicit else default_unit_source(inst, default_boundary_file)
    key = key or default_key or "ccg_code"
    frame = None
    if source is not None and (gpd is not None or not str(source).lower().endswith(".gpkg")):
        from ccgmerge.plots.geometry import load_frame

        frame = load_frame(source, key, gpd, codes=inst.unit_codes)
        missing = set(inst.unit_codes) - codes_of(frame, key)
        if missing:
            if explicit:
                from ccgmerge.errors import format_items

                raise ValueError(f"boundaries lack {len(missing)} unit(s) of {inst.name!r}: {format_items(sorted(missing))}.")
            frame = None  # default file, other units (synthetic): network drawing
    table = group_key(plan)
    number = {int(p): int(n) for p, n in zip(table["position"], table["number"])}
    colours = dict(zip(table["position"], table["colour"]))
    own = ax is None
    fig, ax = new_figure(ax, figsize or (11, 10))
    bad = _bad_groups(plan)
    gid = np.empty(inst.n_units, dtype=np.int64)
    for k, g in enumerate(plan.groups):
        gid[list(g)] = k
    lsoa = is_lsoa_instance(inst)
    extra, labels = [], []
    inset_box = None
    if frame is None:
        points = _draw_network(ax, plan, colours, bad, gid)
        layers = None
    else:
        if hwb_boundaries is None and not explicit:
            hwb_boundaries = default_boundary_file(HWB_BOUNDARIES)
        hwb = None
        if hwb_boundaries is not None and hwb_boundaries is not False:
            from ccgmerge.plots.geometry import load_frame

            hwb = load_frame(hwb_boundaries, "hwb_code", gpd)
        layers = _polygon_layers(frame, key, plan, colours, bad, gid, hwb, gpd)
        points = layers["label_at"]
        _draw_layers(ax, layers, lsoa=lsoa)
        extra = _extra_handles(layers, plan, lsoa)
        if london_inset and _contains(ax, LONDON_BOX_BNG):
            inset_box = LONDON_BOX_BNG
            rect = list(london_inset) if isinstance(london_inset, (tuple, list)) else [0.70, 0.72, 0.30, 0.27]
            inset = ax.inset_axes(rect)
            _draw_layers(inset, layers, extent=inset_box, lw_scale=1.6, lsoa=lsoa)
            inset.set_axis_on()
            inset.set_xticks([])
            inset.set_yticks([])
            for sp in inset.spines.values():
                sp.set_edgecolor("#555555")
                sp.set_linewidth(0.8)
            inset.set_title("London (enlarged)", fontsize=8, loc="left", pad=2)
            ind = ax.indicate_inset(bounds=(inset_box[0], inset_box[1], inset_box[2] - inset_box[0],
                                            inset_box[3] - inset_box[1]), inset_ax=inset, edgecolor="#555555",
                                    linewidth=0.8, alpha=1.0)
            for c in (ind[1] if isinstance(ind, tuple) else getattr(ind, "connectors", ())) or ():
                c.set_visible(False)  # the box and the title say enough; long connectors cross the map
            labels += label_groups(inset, plan, number, points, inside=inset_box, big=True)
        scale_bar(ax)
    if names is None:
        names = frame is not None and not inst.singleton_baseline and len(plan.groups) <= 30
    labels += label_groups(ax, plan, number, points, outside=inset_box, table=table if names else None,
                           offset=(0, 9) if frame is None else (0, 0))
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    below = own and figsize is None and frame is not None and (y1 - y0) < 0.8 * (x1 - x0)
    if below:  # a wide map: full width, the key under it
        n_rows = max(len(extra) + 1, 4, math.ceil(len(table) / 3))
        fig.set_size_inches(11, round(10.6 * (y1 - y0) / (x1 - x0) + 0.8 + 0.135 * n_rows, 1))
    draw_key(fig, ax, plan, table, bad, extra, own=own, top=legend_top, below=below)
    text = ATTRIBUTION if attribution is True and frame is not None else (attribution or None)
    if isinstance(text, str):  # in the map's lower right corner (the sea, for England), never squeezing the map
        text = text + ("; British National Grid" if frame is not None else "")
        ax.annotate("\n".join(textwrap.wrap(text, 58)), (1.0, 0.0), xycoords="axes fraction", xytext=(-2, 2),
                    textcoords="offset points", ha="right", va="bottom", fontsize=6, color="#444444", zorder=9,
                    bbox={"boxstyle": "square,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.7}).set_in_layout(False)
    if title is None:  # wrapped to the map's share of the width (a title wider than the map squeezes it)
        share = 0.98 if below or not own else 0.57
        title = map_title(plan, unit_word(inst), max(36, int(fig.get_size_inches()[0] * share * 72 / 5.5)))

        def wrap(width):
            return map_title(plan, unit_word(inst), width)
    else:
        def wrap(width, given=title):
            return "\n".join(textwrap.fill(line, width) for line in given.split("\n"))
    heading = ax.set_title(title, fontsize=10, loc="left")
    declutter(fig, labels)
    if own and figsize is None and frame is not None and not below:
        _trim_height(fig, ax)
    fit_title(fig, heading, wrap)  # measured: the title ends left of the key beside it
    written = save_figure(fig, path, svg, dpi)
    if written:
        write_key_csv(table, written[0])
    return fig


def _trim_height(fig, ax) -> None:
    """Cut the empty band that a map narrower than its room leaves (the map keeps its size: it is limited by the
    width), keeping room for the key. Needs the layout drawn (:func:`declutter` draws it)."""
    if not fig.legends:
        return
    w, h = fig.get_size_inches()
    free = (ax.get_position(original=True).height - ax.get_position(original=False).height) * h
    key_h = fig.legends[0].get_window_extent().height / fig.dpi
    new_h = max(h - free + 0.15, key_h + 0.35, 4.0)
    if new_h < h - 0.2:
        fig.set_size_inches(w, round(new_h, 1))


# --------------------------------------------------------------------------- polygons
def _contains(ax, box) -> bool:
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    return x0 <= box[0] and box[2] <= x1 and y0 <= box[1] and box[3] <= y1


def _polygon_layers(frame, key, plan, colours, bad, gid, hwb, gpd) -> dict:
    """Paths (BNG) and colours to draw: units, HWB outlines, rule breakers; for
    plans with a baseline, group and baseline outlines and the moved units;
    and a label point per group."""
    from ccgmerge.plots.frames import baseline_names, continuing_baseline, moved_units, short_name

    inst = plan.instance
    codes = list(inst.unit_codes)
    out = {"group_lines": [], "base_lines": [], "moved": [], "former": []}
    if isinstance(frame, dict):  # json fallback
        paths = [frame[c] for c in codes]
        label_at = _largest_member_points(plan, paths)
    else:
        f = frame[frame[key].astype(str).isin(set(codes))].drop_duplicates(key)
        geom = dict(zip(f[key].astype(str), f.geometry))
        paths = [shapely_path(geom[c]) for c in codes]
        units = gpd.GeoDataFrame({"group": gid, "base": list(inst.baseline_codes)},
                                 geometry=[geom[c] for c in codes], crs=f.crs)
        shapes = dissolve(units[["group", "geometry"]], "group").geometry
        label_at = np.full((len(plan.groups), 2), np.nan)
        for k, pt in shapes.representative_point().items():
            label_at[int(k)] = (pt.x, pt.y)
        if not inst.singleton_baseline:
            out["group_lines"] = [p for p in map(shapely_path, shapes) if p is not None]
            base = dissolve(units[["base", "geometry"]], "base").geometry
            out["base_lines"] = [p for p in map(shapely_path, base) if p is not None]
            gone = set(inst.baseline_codes) - set(continuing_baseline(plan))
            names = baseline_names(inst)
            out["former"] = [(short_name(names.get(b, b), 30), pt.x, pt.y)
                             for b, pt in base.representative_point().items() if b in gone]
            moved = moved_units(plan)
            out["moved"] = [p for p, m in zip(paths, moved) if m and p is not None]
    hpaths = []
    if hwb is not None:
        if isinstance(hwb, dict):
            keep = set(inst.area_codes) if set(inst.area_codes) & set(hwb) else set(hwb)
            hpaths = [p for c, p in hwb.items() if c in keep]
        else:
            h = hwb[hwb["hwb_code"].astype(str).isin(set(inst.area_codes))] if "hwb_code" in hwb.columns else hwb
            hpaths = [p for p in (shapely_path(g) for g in (h if len(h) else hwb).geometry) if p is not None]
    out.update(paths=paths, face=[colours[gid[i]] for i in range(len(codes))], hwb=hpaths,
               bad=[p for i, p in enumerate(paths) if gid[i] in bad], label_at=label_at)
    return out


def _largest_member_points(plan, paths) -> np.ndarray:
    """A label point per group without geopandas: its largest member's BNG
    population centroid when known, else the centre of its polygon's box."""
    inst = plan.instance
    u = inst.units
    have = all(c in u.columns for c in ("pop_centroid_x_bng", "pop_centroid_y_bng"))
    pts = np.full((len(plan.groups), 2), np.nan)
    for k, g in enumerate(plan.groups):
        lead = max(g, key=lambda i: (inst.population[i], -i))
        if have:
            pts[k] = u.loc[inst.unit_codes[lead], ["pop_centroid_x_bng", "pop_centroid_y_bng"]].to_numpy(dtype=float)
        else:
            v = paths[lead].vertices
            pts[k] = (v.min(axis=0) + v.max(axis=0)) / 2
    return pts


def _draw_layers(ax, layers: dict, extent=None, lw_scale: float = 1.0, lsoa: bool = False) -> None:
    """Draw the layers and set limits (``extent`` or all units), equal aspect (BNG metres)."""
    from matplotlib.collections import PathCollection

    paths = layers["paths"]
    edge = "face" if lsoa else "white"
    ax.add_collection(PathCollection(paths, facecolors=layers["face"], edgecolors=edge,
                                     linewidths=(0.1 if lsoa else 0.25) * lw_scale, zorder=1))
    if layers["hwb"]:
        ax.add_collection(PathCollection(layers["hwb"], facecolors="none", edgecolors=_HWB_COLOUR,
                                         linewidths=(1.2 if lsoa else 0.45) * lw_scale, zorder=4))
    if layers["bad"]:
        ax.add_collection(PathCollection(layers["bad"], facecolors="none", edgecolors=VIOLATION_COLOUR,
                                         linewidths=1.3, zorder=5))
    if layers["moved"]:
        hatched = PathCollection(layers["moved"], facecolors="none", edgecolors="#1a1a1a", hatch="////",
                                 linewidths=0.15, zorder=2)
        if hasattr(hatched, "set_hatch_linewidth"):  # matplotlib >= 3.10
            hatched.set_hatch_linewidth(0.6)
        ax.add_collection(hatched)
    if layers["base_lines"]:
        ax.add_collection(PathCollection(layers["base_lines"], facecolors="none", edgecolors="#303030",
                                         linewidths=0.9 * lw_scale, linestyles=(0, (3, 2)), zorder=3))
    if layers["group_lines"]:
        ax.add_collection(PathCollection(layers["group_lines"], facecolors="none", edgecolors="white",
                                         linewidths=1.6 * lw_scale, zorder=2.5))
    for name, x, y in layers["former"]:  # 2013 CCGs that no group continues
        ax.annotate(f"{name}: 2013 CCG, not continued", (x, y), ha="center", va="center", fontsize=7,
                    fontstyle="italic", color="#111111", zorder=5, annotation_clip=True,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "#555555", "lw": 0.3, "alpha": 0.85}
                    ).set_in_layout(False)
    if extent is None:
        allv = np.concatenate([p.vertices for p in paths])
        (x0, y0), (x1, y1) = allv.min(axis=0), allv.max(axis=0)
        pad = 0.02 * max(x1 - x0, y1 - y0)
        x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    else:
        x0, y0, x1, y1 = extent
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_axis_off()


def _extra_handles(layers: dict, plan, lsoa: bool) -> list:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    out = []
    if layers["moved"]:
        n = len(layers["moved"])
        out.append(Patch(facecolor="white", edgecolor="#1a1a1a", hatch="/////", lw=0.3,
                         label=f"moved {unit_word(plan.instance)} ({n}): not in the group continuing their 2013 CCG"))
    if layers["base_lines"]:
        out.append(Line2D([], [], color="#303030", lw=0.9, ls=(0, (3, 2)), label="2013 CCG boundary"))
    if layers["hwb"]:
        out.append(Line2D([], [], color=_HWB_COLOUR, lw=1.2 if lsoa else 0.8, label="HWB boundary"))
    return out


# --------------------------------------------------------------------------- network fallback
def _unit_points(inst) -> tuple[np.ndarray, bool]:
    """(n, 2) positions of the units and whether they are lon/lat: population
    centroids (``pop_centroid_lon/lat``), ``lon/lat``, ``x/y``, BNG points
    (``x_bng/y_bng``), else a seeded spring layout."""
    u = inst.units
    for cx, cy, geo in (("pop_centroid_lon", "pop_centroid_lat", True), ("lon", "lat", True), ("x", "y", False),
                        ("x_bng", "y_bng", False), ("pop_centroid_x_bng", "pop_centroid_y_bng", False)):
        if cx in u.columns and cy in u.columns and u[[cx, cy]].notna().all().all():
            return u.loc[list(inst.unit_codes), [cx, cy]].to_numpy(dtype=float), geo
    import networkx as nx

    lay = nx.spring_layout(inst.adjacency_graph(), seed=0)
    return np.array([lay[c] for c in inst.unit_codes], dtype=float), False


def _draw_network(ax, plan, colours, bad, gid) -> np.ndarray:
    """Network fallback: nodes at unit coordinates, coloured by group; edges
    inside a group drawn thick in its colour. Returns a label point per group
    (its largest member's node)."""
    from matplotlib.collections import LineCollection

    inst = plan.instance
    pos, geographic = _unit_points(inst)
    e = inst.edges
    if len(e):
        inside = gid[e[:, 0]] == gid[e[:, 1]]
        segs = pos[e]
        ax.add_collection(LineCollection(segs[~inside], colors="#b0b0b0", linewidths=0.6, zorder=1))
        ax.add_collection(LineCollection(segs[inside], colors=[colours[k] for k in gid[e[inside, 0]]],
                                         linewidths=2.6, zorder=2))
    pop = inst.population.astype(float)
    size = 12 + 140 * np.sqrt(pop / max(pop.max(), 1))
    edge = [VIOLATION_COLOUR if k in bad else "#404040" for k in gid]
    lw = [1.4 if k in bad else 0.5 for k in gid]
    ax.scatter(pos[:, 0], pos[:, 1], s=size, c=[colours[k] for k in gid], edgecolors=edge, linewidths=lw, zorder=3)
    if geographic:
        ax.set_aspect(1.0 / math.cos(math.radians(float(np.mean(pos[:, 1])))))
    else:
        ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_visible(False)
    ax.margins(0.03)
    lead = [max(g, key=lambda i: (pop[i], -i)) for g in plan.groups]
    return pos[lead]

