"""Maps of plans: the plan on the unit boundaries (GeoJSON, read with
geopandas when installed, else with :mod:`json`), HWB outlines on top and a
London inset, or a network drawing at the units' coordinates when there are
no boundaries (synthetic instances)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ccgmerge.plots.style import (
    UNMERGED_COLOUR,
    VIOLATION_COLOUR,
    format_population,
    group_colours,
    new_figure,
    require_matplotlib,
    save_figure,
)

__all__ = ["plot_plan_map", "LONDON_BOX", "default_boundary_file", "geopandas_or_none"]

_HWB_COLOUR = "#222222"


def _short_name(name: str, width: int = 30) -> str:
    s = str(name)
    for pre in ("NHS ",):
        if s.startswith(pre):
            s = s[len(pre):]
    for suf in (" CCG", " Clinical Commissioning Group"):
        if s.endswith(suf):
            s = s[: -len(suf)]
    return s if len(s) <= width else s[: width - 1] + "\u2026"


def _bad_groups(plan) -> set[int]:
    """Positions of groups named by a floor/connected violation in the verdict."""
    if plan.verdict is None or plan.verdict.ok:
        return set()
    inst = plan.instance
    where = {inst.unit_codes[i]: k for k, g in enumerate(plan.groups) for i in g}
    out = set()
    for v in plan.verdict.violations:
        if v.rule in ("floor", "connected", "ceiling", "nested", "aligned") and v.units and v.units[0] in where:
            out.add(where[v.units[0]])
    return out


def _top_merged(plan, top: int) -> list[int]:
    """Positions of the ``top`` most populous merged groups (ties: first member)."""
    inst, groups = plan.instance, plan.groups
    pops = [inst.group_population(g) for g in groups]
    merged = sorted((k for k, g in enumerate(groups) if len(g) > 1), key=lambda k: (-pops[k], groups[k][0]))
    return merged[:top] if top > 0 else []


def _legend_handles(plan, colours, top: int, bad: set[int], extra_lines=()):
    """Numbered entries for the largest merged groups (the numbers are also
    written on the map), then 'unmerged', extra lines and rule breakers."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    inst, groups = plan.instance, plan.groups
    names = inst.units["name"] if "name" in inst.units.columns else pd.Series(inst.unit_codes, index=inst.unit_codes)
    ids = plan.group_ids()
    shown = _top_merged(plan, top)
    handles = []
    for n, k in enumerate(shown, 1):
        lead = ids[k]
        label = f"{n:>2}  {_short_name(names.get(lead, lead))} +{len(groups[k]) - 1} ({format_population(inst.group_population(groups[k]))})"
        handles.append(Patch(facecolor=colours[k], edgecolor="white", label=label))
    n_merged = sum(1 for g in groups if len(g) > 1)
    if n_merged > len(shown):
        handles.append(Patch(facecolor="white", edgecolor="none", label=f"      ... {n_merged - len(shown)} more merged groups"))
    n_alone = sum(1 for g in groups if len(g) == 1)
    handles.append(Patch(facecolor=UNMERGED_COLOUR, edgecolor="white", label=f"unmerged ({n_alone} unit{'s' * (n_alone != 1)})"))
    handles.extend(extra_lines)
    if bad:
        handles.append(Line2D([], [], color=VIOLATION_COLOUR, lw=1.6,
                              label=f"breaks a rule ({len(bad)} group{'s' * (len(bad) != 1)})"))
    return handles


def _label_groups(ax, plan, shown: list[int], points: np.ndarray, offset=(0, 0), inside=None, outside=None) -> None:
    """Write the legend numbers at the largest member's point of each shown
    group (only points inside the box ``inside`` / outside the box ``outside``,
    boxes as (x0, y0, x1, y1))."""
    inst = plan.instance
    pop = inst.population

    def within(x, y, box):
        return box[0] <= x <= box[2] and box[1] <= y <= box[3]

    for n, k in enumerate(shown, 1):
        g = plan.groups[k]
        lead = max(g, key=lambda i: (pop[i], -i))
        x, y = points[lead]
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        if (inside is not None and not within(x, y, inside)) or (outside is not None and within(x, y, outside)):
            continue
        ax.annotate(str(n), (x, y), xytext=offset, textcoords="offset points", ha="center", va="center",
                    fontsize=6.5, fontweight="bold", zorder=5,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "#333333", "lw": 0.4, "alpha": 0.9})


def _title(plan) -> str:
    inst, sc = plan.instance, plan.scenario
    n = len(plan.groups)
    merged = sum(1 for g in plan.groups if len(g) > 1)
    what = plan.formulation if plan.formulation.startswith("real configuration") else f"plan ({plan.status.value})"
    nv = 0 if plan.verdict is None else len(plan.verdict.violations)
    verdict = "" if plan.verdict is None else ("checked OK" if plan.verdict.ok else f"{nv} rule violation{'s' * (nv != 1)}")
    return f"{inst.name}: {what}\n{sc.describe()}\n{n} groups, {merged} merged" + (f"; {verdict}" if verdict else "")


# --------------------------------------------------------------------------- geometry
def default_boundary_file(name: str) -> Path | None:
    """The optional geometry file ``name`` (:func:`ccgmerge.data.geometry_file`: ``CCGMERGE_DATA``,
    else ``../shared/data``), or None when it is not found (the map is then drawn as a network)."""
    from ccgmerge.data.paths import geometry_file
    from ccgmerge.errors import DataNotFoundError

    try:
        return geometry_file(name)
    except DataNotFoundError:
        return None


def _rings_to_path(rings):
    """A compound matplotlib Path from polygon rings (first exterior, then holes),
    oriented exterior counter-clockwise and holes clockwise so holes stay empty."""
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


def _geometry_path(geom: dict):
    from matplotlib.path import Path as MPath

    t = geom.get("type")
    polys = [geom["coordinates"]] if t == "Polygon" else geom["coordinates"] if t == "MultiPolygon" else []
    verts, codes = [], []
    for poly in polys:
        v, c = _rings_to_path(poly)
        verts += v
        codes += c
    if not verts:
        return None
    return MPath(np.concatenate(verts), np.concatenate(codes))


def _read_geojson(source, key: str) -> dict:
    """{code: matplotlib Path} from a GeoJSON path or parsed dict (no geopandas)."""
    data = source if isinstance(source, dict) else json.loads(Path(source).read_text())
    out = {}
    for f in data.get("features", []):
        code = str(f.get("properties", {}).get(key))
        p = _geometry_path(f.get("geometry") or {})
        if p is not None:
            out[code] = p
    return out


def geopandas_or_none():
    """The geopandas module, or None when it is not installed."""
    try:
        import geopandas
    except ImportError:
        return None
    return geopandas


def _load_frame(source, key: str):
    """A GeoDataFrame (geopandas) or a {code: Path} dict (fallback)."""
    gpd = geopandas_or_none()
    if gpd is not None and isinstance(source, gpd.GeoDataFrame):
        return source
    if gpd is not None and not isinstance(source, dict):
        return gpd.read_file(source)
    return _read_geojson(source, key)


def _codes_of(frame, key: str) -> set[str]:
    if isinstance(frame, dict):
        return set(frame)
    return set(frame[key].astype(str))


def _lonlat_aspect(ax, lat: float) -> None:
    ax.set_aspect(1.0 / math.cos(math.radians(lat)))


# --------------------------------------------------------------------------- map
def plot_plan_map(
    plan,
    path=None,
    boundaries=None,
    hwb_boundaries=None,
    ax=None,
    *,
    key: str = "ccg_code",
    legend_top: int = 12,
    svg: bool = False,
    dpi: float = 150,
    figsize=(11, 10),
    title: str | None = None,
    london_inset=True,
):
    """Map of ``plan``: units coloured by merged group, HWB boundaries on top.

    Parameters
    ----------
    plan : Plan
        A plan with groups (a solved plan or :func:`ccgmerge.analysis.compare.configuration_plan`).
    path : str or Path, optional
        Write a PNG there (and an SVG, see the module docstring).
    boundaries : path, GeoJSON dict or GeoDataFrame, optional
        Unit polygons with a ``key`` property (default: the real
        ``ccg2013_boundaries.geojson`` found by :func:`ccgmerge.data.geometry_file`).
        When the default file is missing or does not cover the plan's units
        (a synthetic instance), the plan is drawn as a network at the units'
        coordinates instead. Boundaries given explicitly must cover every unit.
    hwb_boundaries : path, GeoJSON dict, GeoDataFrame or False, optional
        HWB polygons drawn as thin dark lines (default: the real
        ``hwb2013_boundaries.geojson`` when the unit boundaries are the real
        ones; ``False`` draws none).
    ax : matplotlib Axes, optional
        Draw into it instead of a new figure.
    key : property holding the unit code (default ``ccg_code``)
    legend_top : how many merged groups (largest first) the legend names
    svg, dpi, figsize, title : output options (``title`` replaces the default)
    london_inset : bool or [x0, y0, width, height] in axes fractions
        Draw London (:data:`LONDON_BOX`) enlarged in an inset over the North
        Sea (default True; only when the map covers London).

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    Merged groups take colours from :data:`~ccgmerge.plots.style.PALETTE`
    (see :func:`group_colours`), units left alone are light grey, thin white
    lines separate the units of a group, and groups named by a violation of
    the plan's verdict (below the floor, not connected, ...) are outlined in
    dark red. Longitude is stretched by ``1 / cos(latitude)`` so England keeps
    its shape. With geopandas installed the files are read with it; otherwise
    the GeoJSON is parsed with :mod:`json` and drawn with matplotlib's
    PathCollection.
    """
    require_matplotlib()
    plan.require_groups()
    inst = plan.instance
    explicit = boundaries is not None
    source = boundaries if explicit else default_boundary_file("ccg2013_boundaries.geojson")
    frame = None
    if source is not None:
        frame = _load_frame(source, key)
        missing = set(inst.unit_codes) - _codes_of(frame, key)
        if missing:
            if explicit:
                from ccgmerge.errors import format_items

                raise ValueError(f"boundaries lack {len(missing)} unit(s) of {inst.name!r}: {format_items(sorted(missing))}.")
            frame = None  # default file, other units (synthetic): network drawing
    own = ax is None
    fig, ax = new_figure(ax, figsize)
    colours = group_colours(plan)
    bad = _bad_groups(plan)
    gid = {inst.unit_codes[i]: k for k, g in enumerate(plan.groups) for i in g}
    extra = []
    if frame is None:
        points = _draw_network(ax, plan, colours, bad, gid)
    else:
        from matplotlib.lines import Line2D

        if hwb_boundaries is None and not explicit:
            hwb_boundaries = default_boundary_file("hwb2013_boundaries.geojson")
        hwb = None if hwb_boundaries is None or hwb_boundaries is False else _load_frame(hwb_boundaries, "hwb_code")
        layers = _polygon_layers(frame, key, inst, colours, bad, gid, hwb)
        points = _draw_layers(ax, layers, inst)
        if hwb is not None:
            extra.append(Line2D([], [], color=_HWB_COLOUR, lw=0.8, label="HWB boundary"))
    shown = _top_merged(plan, legend_top)
    box = None
    if frame is not None and london_inset and _contains(ax, LONDON_BOX):
        box = LONDON_BOX
        inset = ax.inset_axes(list(london_inset) if isinstance(london_inset, (tuple, list)) else [0.72, 0.74, 0.28, 0.24])
        _draw_layers(inset, layers, inst, extent=box, lw_scale=2.0)
        inset.set_axis_on()
        inset.set_xticks([])
        inset.set_yticks([])
        for sp in inset.spines.values():
            sp.set_edgecolor("#555555")
            sp.set_linewidth(0.8)
        inset.set_title("London", fontsize=8, loc="left", pad=2)
        ind = ax.indicate_inset(bounds=(box[0], box[1], box[2] - box[0], box[3] - box[1]), inset_ax=inset,
                                edgecolor="#555555", linewidth=0.8, alpha=1.0)
        connectors = ind[1] if isinstance(ind, tuple) else getattr(ind, "connectors", ())
        for c in connectors or ():
            c.set_visible(False)  # the box and the title say enough; long connectors cross the map
        _label_groups(inset, plan, shown, points, inside=box)
    _label_groups(ax, plan, shown, points, (0, 9) if frame is None else (0, 0), outside=box)
    handles = _legend_handles(plan, colours, legend_top, bad, extra)
    kw = dict(handles=handles, fontsize=8, frameon=False, title="largest merged groups", title_fontsize=9,
              alignment="left")
    if own:  # constrained layout reserves room for a figure legend placed outside
        fig.legend(loc="outside right upper", **kw)
    else:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), **kw)
    ax.set_title(title if title is not None else _title(plan), fontsize=10, loc="left")
    save_figure(fig, path, svg, dpi)
    return fig


def _unit_points(inst, fallback: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
    """(n, 2) positions of the units and whether they are lon/lat: population
    centroids (``pop_centroid_lon/lat``), ``lon/lat`` or ``x/y`` columns, else
    ``fallback`` (or a seeded spring layout)."""
    u = inst.units
    for cx, cy, geo in (("pop_centroid_lon", "pop_centroid_lat", True), ("lon", "lat", True), ("x", "y", False)):
        if cx in u.columns and cy in u.columns and u[[cx, cy]].notna().all().all():
            return u.loc[list(inst.unit_codes), [cx, cy]].to_numpy(dtype=float), geo
    if fallback is not None:
        return fallback, True
    import networkx as nx

    lay = nx.spring_layout(inst.adjacency_graph(), seed=0)
    return np.array([lay[c] for c in inst.unit_codes], dtype=float), False


#: Longitude/latitude box of the London inset (x0, y0, x1, y1).
LONDON_BOX = (-0.53, 51.27, 0.35, 51.70)


def _contains(ax, box) -> bool:
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    return x0 <= box[0] and box[2] <= x1 and y0 <= box[1] and box[3] <= y1


def _polygon_layers(frame, key, inst, colours, bad, gid, hwb) -> dict:
    """Paths and colours to draw: units, HWB outlines, rule breakers."""
    codes = list(inst.unit_codes)
    if isinstance(frame, dict):  # json fallback
        paths = [frame[c] for c in codes]
    else:
        f = frame[frame[key].astype(str).isin(set(codes))]
        if f.crs is not None and not f.crs.is_geographic:
            f = f.to_crs(4326)
        geom = dict(zip(f[key].astype(str), f.geometry))
        paths = [_shapely_path(geom[c]) for c in codes]
    hpaths = []
    if hwb is not None:
        if isinstance(hwb, dict):
            hpaths = list(hwb.values())
        else:
            h = hwb.to_crs(4326) if hwb.crs is not None and not hwb.crs.is_geographic else hwb
            hpaths = [p for p in (_shapely_path(g) for g in h.geometry) if p is not None]
    return {
        "paths": paths,
        "face": [colours[gid[c]] for c in codes],
        "hwb": hpaths,
        "bad": [p for c, p in zip(codes, paths) if gid[c] in bad],
    }


def _draw_layers(ax, layers: dict, inst, extent=None, lw_scale: float = 1.0) -> np.ndarray:
    """Draw the layers, set limits (``extent`` or all units) and a lon/lat
    aspect; return a point per unit for labels."""
    from matplotlib.collections import PathCollection

    paths = layers["paths"]
    ax.add_collection(PathCollection(paths, facecolors=layers["face"], edgecolors="white",
                                     linewidths=0.25 * lw_scale, zorder=1))
    if layers["hwb"]:
        ax.add_collection(PathCollection(layers["hwb"], facecolors="none", edgecolors=_HWB_COLOUR,
                                         linewidths=0.45 * lw_scale, zorder=2))
    if layers["bad"]:
        ax.add_collection(PathCollection(layers["bad"], facecolors="none", edgecolors=VIOLATION_COLOUR,
                                         linewidths=1.3, zorder=3))
    if extent is None:
        allv = np.concatenate([p.vertices for p in paths])
        (x0, y0), (x1, y1) = allv.min(axis=0), allv.max(axis=0)
        pad = 0.02 * max(x1 - x0, y1 - y0)
        x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    else:
        x0, y0, x1, y1 = extent
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    _lonlat_aspect(ax, (y0 + y1) / 2)
    ax.set_axis_off()
    centre = np.array([(p.vertices.min(axis=0) + p.vertices.max(axis=0)) / 2 for p in paths])
    return _unit_points(inst, centre)[0]


def _shapely_path(geom):
    """matplotlib Path of a shapely (Multi)Polygon."""
    from matplotlib.path import Path as MPath

    if geom is None or geom.is_empty:
        return None
    polys = list(geom.geoms) if hasattr(geom, "geoms") else [geom]
    verts, codes = [], []
    for poly in polys:
        if poly.geom_type != "Polygon":
            continue
        v, c = _rings_to_path([np.asarray(poly.exterior.coords)] + [np.asarray(r.coords) for r in poly.interiors])
        verts += v
        codes += c
    return MPath(np.concatenate(verts), np.concatenate(codes)) if verts else None


def _draw_network(ax, plan, colours, bad, gid) -> np.ndarray:
    """Network fallback: nodes at unit coordinates, coloured by group; edges
    inside a group drawn thick in its colour. Returns the node positions."""
    from matplotlib.collections import LineCollection

    inst = plan.instance
    pos, geographic = _unit_points(inst)
    e = inst.edges
    g = np.array([gid[c] for c in inst.unit_codes])
    if len(e):
        inside = g[e[:, 0]] == g[e[:, 1]]
        segs = pos[e]
        ax.add_collection(LineCollection(segs[~inside], colors="#b0b0b0", linewidths=0.6, zorder=1))
        ax.add_collection(LineCollection(segs[inside], colors=[colours[k] for k in g[e[inside, 0]]],
                                         linewidths=2.6, zorder=2))
    pop = inst.population.astype(float)
    size = 12 + 140 * np.sqrt(pop / max(pop.max(), 1))
    edge = [VIOLATION_COLOUR if k in bad else "#404040" for k in g]
    lw = [1.4 if k in bad else 0.5 for k in g]
    ax.scatter(pos[:, 0], pos[:, 1], s=size, c=[colours[k] for k in g], edgecolors=edge, linewidths=lw, zorder=3)
    if geographic:
        _lonlat_aspect(ax, float(np.mean(pos[:, 1])))
    else:
        ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_visible(False)
    ax.margins(0.03)
    return pos
