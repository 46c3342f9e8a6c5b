"""Pictures of plans and sweeps (matplotlib; optional).

Install the extra with ``pip install "ccgmerge[maps]"`` (matplotlib, and
geopandas for reading the boundary files; without geopandas the GeoJSON is
read with :mod:`json` and drawn with matplotlib alone).

Every function

* builds a new :class:`matplotlib.figure.Figure` on the Agg canvas (pyplot is
  never imported, so no global backend or figure state is touched) unless an
  ``ax`` is given to draw into;
* writes a PNG when ``path`` is given (``path`` with its suffix replaced by
  ``.png``) and also an SVG when ``path`` ends in ``.svg`` or ``svg=True``;
* returns the Figure;
* uses fixed palettes and a deterministic colouring, so the same plan gives the
  same picture.

Functions
---------
:func:`plot_plan_map`
    the plan on the 2013 CCG boundaries, one colour per merged group, HWB
    boundaries on top; falls back to a network drawing at the units'
    coordinates when there are no boundaries (synthetic instances).
:func:`plot_allowance_curve`
    a metric (groups) against the allowance per head, one line per
    coterminosity mode.
:func:`plot_pareto`
    two objectives against each other with the non-dominated front.
:func:`plot_group_populations`
    every group's population, sorted, against the floor.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["plot_plan_map", "plot_allowance_curve", "plot_pareto", "plot_group_populations", "group_colours",
           "PALETTE", "UNMERGED_COLOUR"]

_INSTALL = 'plotting needs matplotlib (and geopandas for maps): pip install "ccgmerge[maps]"'

#: Colours given to merged groups (qualitative, well separated, no greys).
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
    "#fdbf6f", "#b2df8a", "#a6cee3", "#cab2d6", "#fb9a99",
)
#: Colour of units left on their own.
UNMERGED_COLOUR = "#dcdcdc"
_VIOLATION_COLOUR = "#c00000"
_HWB_COLOUR = "#222222"
_UNITS_COLOURS = {1: "#bdbdbd", 2: "#9ecae1", 3: "#4292c6", 4: "#2171b5", 5: "#08306b"}  # by number of units


# --------------------------------------------------------------------------- matplotlib plumbing
def _require_matplotlib():
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(_INSTALL) from exc
    return matplotlib


def _figure(ax, figsize):
    """(fig, ax): ``ax``'s figure, or a new constrained-layout Figure on an Agg canvas."""
    _require_matplotlib()
    if ax is not None:
        return ax.figure, ax
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _save(fig, path, svg: bool, dpi: float) -> list[Path]:
    """Write ``path``.png (and .svg when asked); return the files written."""
    if path is None:
        return []
    import matplotlib

    p = Path(os.fspath(path))
    p.parent.mkdir(parents=True, exist_ok=True)
    written = [p.with_suffix(".png")]
    fig.savefig(written[0], dpi=dpi, format="png", metadata={"Software": None})
    if svg or p.suffix.lower() == ".svg":
        written.append(p.with_suffix(".svg"))
        with matplotlib.rc_context({"svg.hashsalt": "ccgmerge", "svg.fonttype": "none"}):
            fig.savefig(written[1], format="svg", metadata={"Date": None})
    return written


def _short_name(name: str, width: int = 30) -> str:
    s = str(name)
    for pre in ("NHS ",):
        if s.startswith(pre):
            s = s[len(pre):]
    for suf in (" CCG", " Clinical Commissioning Group"):
        if s.endswith(suf):
            s = s[: -len(suf)]
    return s if len(s) <= width else s[: width - 1] + "\u2026"


def _fmt_pop(p: float) -> str:
    return f"{p / 1e6:.2f}m" if p >= 1e6 else f"{p / 1e3:,.0f}k"


# --------------------------------------------------------------------------- colours
def group_colours(plan) -> list[str]:
    """A colour per group of ``plan`` (in ``plan.groups`` order).

    Units alone get :data:`UNMERGED_COLOUR`. Merged groups are coloured greedily
    from :data:`PALETTE` in order of decreasing population: each takes the
    least-used colour not used by a neighbouring merged group (ties: palette
    order), so neighbours always differ and colours are spread evenly. The
    result depends only on the plan.
    """
    plan.require_groups()
    inst, groups = plan.instance, plan.groups
    gid = np.empty(inst.n_units, dtype=np.int64)
    for k, g in enumerate(groups):
        gid[list(g)] = k
    nbrs: dict[int, set[int]] = {k: set() for k in range(len(groups))}
    e = inst.edges
    if len(e):
        ga, gb = gid[e[:, 0]], gid[e[:, 1]]
        for x, y in zip(ga[ga != gb].tolist(), gb[ga != gb].tolist()):
            nbrs[x].add(y)
            nbrs[y].add(x)
    pops = [inst.group_population(g) for g in groups]
    order = sorted((k for k, g in enumerate(groups) if len(g) > 1), key=lambda k: (-pops[k], groups[k][0]))
    colour: dict[int, int] = {}
    used = [0] * len(PALETTE)
    for k in order:
        banned = {colour[j] for j in nbrs[k] if j in colour}
        # also avoid neighbours-of-neighbours when possible, for a livelier map
        near = {colour[j2] for j in nbrs[k] for j2 in nbrs[j] if j2 in colour and j2 != k}
        choices = [c for c in range(len(PALETTE)) if c not in banned and c not in near] or \
                  [c for c in range(len(PALETTE)) if c not in banned] or list(range(len(PALETTE)))
        c = min(choices, key=lambda c: (used[c], c))
        colour[k] = c
        used[c] += 1
    return [PALETTE[colour[k]] if k in colour else UNMERGED_COLOUR for k in range(len(groups))]


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
        label = f"{n:>2}  {_short_name(names.get(lead, lead))} +{len(groups[k]) - 1} ({_fmt_pop(inst.group_population(groups[k]))})"
        handles.append(Patch(facecolor=colours[k], edgecolor="white", label=label))
    n_merged = sum(1 for g in groups if len(g) > 1)
    if n_merged > len(shown):
        handles.append(Patch(facecolor="white", edgecolor="none", label=f"      ... {n_merged - len(shown)} more merged groups"))
    n_alone = sum(1 for g in groups if len(g) == 1)
    handles.append(Patch(facecolor=UNMERGED_COLOUR, edgecolor="white", label=f"unmerged ({n_alone} unit{'s' * (n_alone != 1)})"))
    handles.extend(extra_lines)
    if bad:
        handles.append(Line2D([], [], color=_VIOLATION_COLOUR, lw=1.6,
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
def _default_file(name: str) -> Path | None:
    from ccgmerge.data import data_dir
    from ccgmerge.errors import DataNotFoundError

    try:
        f = data_dir() / name
    except DataNotFoundError:
        return None
    return f if f.is_file() else None


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


def _geopandas():
    try:
        import geopandas
    except ImportError:
        return None
    return geopandas


def _load_frame(source, key: str):
    """A GeoDataFrame (geopandas) or a {code: Path} dict (fallback)."""
    gpd = _geopandas()
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
        ``ccg2013_boundaries.geojson`` in :func:`ccgmerge.data.data_dir`).
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
    Merged groups take colours from :data:`PALETTE` (see :func:`group_colours`),
    units left alone are light grey, thin white lines separate the units of a
    group, and groups named by a violation of the plan's verdict (below the
    floor, not connected, ...) are outlined in dark red. Longitude is
    stretched by ``1 / cos(latitude)`` so England keeps its shape. With
    geopandas installed the files are read with it; otherwise the GeoJSON is
    parsed with :mod:`json` and drawn with matplotlib's PathCollection.
    """
    _require_matplotlib()
    plan.require_groups()
    inst = plan.instance
    explicit = boundaries is not None
    source = boundaries if explicit else _default_file("ccg2013_boundaries.geojson")
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
    fig, ax = _figure(ax, figsize)
    colours = group_colours(plan)
    bad = _bad_groups(plan)
    gid = {inst.unit_codes[i]: k for k, g in enumerate(plan.groups) for i in g}
    extra = []
    if frame is None:
        points = _draw_network(ax, plan, colours, bad, gid)
    else:
        from matplotlib.lines import Line2D

        if hwb_boundaries is None and not explicit:
            hwb_boundaries = _default_file("hwb2013_boundaries.geojson")
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
    _save(fig, path, svg, dpi)
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
        ax.add_collection(PathCollection(layers["bad"], facecolors="none", edgecolors=_VIOLATION_COLOUR,
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
    edge = [_VIOLATION_COLOUR if k in bad else "#404040" for k in g]
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


# --------------------------------------------------------------------------- sweeps
_COUNTS = ("groups", "merges", "split_areas", "coterminous_groups", "extra_merges", "violations")
_PEOPLE = ("moved", "noncoterminous", "population", "min_group_population", "max_group_population")


def _text(s: pd.Series) -> pd.Series:
    """Values as text; enums by their value ("aligned", not "Coterminosity.ALIGNED")."""
    return s.map(lambda v: str(getattr(v, "value", v)))


def _pop_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: _fmt_pop(v) if v else "0")


def plot_allowance_curve(
    df: pd.DataFrame,
    x: str = "allowance_per_head",
    y: str = "groups",
    hue: str | None = "coterminosity",
    path=None,
    *,
    floor: str | None = "auto",
    ax=None,
    svg: bool = False,
    dpi: float = 150,
    figsize=(8, 5),
    title: str | None = None,
):
    """``y`` (default: number of groups) against ``x`` (default: allowance per
    head), one line per value of ``hue`` (default: coterminosity mode).

    Parameters
    ----------
    df : DataFrame
        One row per solved scenario (for example from a sweep). Rows whose
        ``y`` is missing (no plan: infeasible) are marked with a red cross on
        the x axis and named in the legend. ``hue`` may be None or a column
        absent from ``df`` for a single line.
    floor : column with the population floor (``"auto"``: ``floor_population``
        or ``floor`` when present), shown as a second x axis on top; None hides it.
    ax, path, svg, dpi, figsize, title : as elsewhere in this module

    Returns
    -------
    matplotlib.figure.Figure
    """
    for col in (x, y):
        if col not in df.columns:
            raise KeyError(f"column {col!r} not in the table (columns: {list(df.columns)})")
    from matplotlib.ticker import MaxNLocator

    fig, ax = _figure(ax, figsize)
    ok = pd.to_numeric(df[y], errors="coerce").notna()
    d, failed = df[ok].copy(), df[~ok]
    use_hue = hue is not None and hue in df.columns
    hue_of = _text(df[hue]) if use_hue else None
    keys = sorted(hue_of.unique()) if use_hue else [None]
    markers, styles = "osD^vP*X", ("-", "--", ":", "-.")
    for k, val in enumerate(keys):
        part = d if val is None else d[hue_of[ok] == val]
        part = part.sort_values(x)
        colour = PALETTE[k % len(PALETTE)]
        # later lines are drawn thinner with hollow markers so coinciding lines stay visible
        ax.plot(part[x], part[y], marker=markers[k % len(markers)], ls=styles[k % len(styles)], color=colour,
                lw=2.4 - 0.5 * (k % 3), ms=8 - 1.5 * (k % 3), mfc=colour if k == 0 else "white", mew=1.3,
                label=None if val is None else f"{val}", zorder=3 + k)
    if len(failed):
        fx = failed[x].to_numpy(dtype=float)
        ax.plot(fx, np.zeros_like(fx), ls="none", marker="x", color=_VIOLATION_COLOUR, ms=8, mew=1.8,
                transform=ax.get_xaxis_transform(), clip_on=False, zorder=6,
                label="no plan (infeasible)" + ("" if not use_hue else ": " + ", ".join(
                    f"{v} at {x.replace('_', ' ')} {xv:g}" for v, xv in zip(hue_of[~ok], fx))))
    xs = np.sort(df[x].dropna().unique())
    if 1 < len(xs) <= 12:
        ax.set_xticks(xs)
    if y in _COUNTS:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel(y.replace("_", " "))
    ax.grid(True, color="#e5e5e5", lw=0.6)
    ax.set_axisbelow(True)
    if y in _PEOPLE:
        ax.yaxis.set_major_formatter(_pop_formatter())
    if use_hue or len(failed):
        ax.legend(title=hue if use_hue else None, fontsize=8, title_fontsize=9, frameon=False)
    fcol = None
    if floor == "auto":
        fcol = next((c for c in ("floor_population", "floor") if c in df.columns), None)
    elif floor is not None:
        fcol = floor
    if fcol is not None and len(df):
        pairs = df[[x, fcol]].dropna().drop_duplicates().sort_values(x)
        if len(pairs) and pairs[x].is_unique:
            top = ax.secondary_xaxis("top")
            top.set_xticks(pairs[x].to_list(), [_fmt_pop(v) for v in pairs[fcol]])
            top.set_xlabel("population floor", fontsize=9)
            top.tick_params(labelsize=8)
    ax.set_title(title if title is not None else f"{y.replace('_', ' ')} by {x.replace('_', ' ')}", fontsize=10,
                 loc="left")
    _save(fig, path, svg, dpi)
    return fig


def pareto_front(df: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Rows of ``df`` not dominated when minimising both ``x`` and ``y``
    (sorted by ``x``; of duplicates the first is kept).

    >>> pareto_front(pd.DataFrame({"a": [1, 2, 3, 2], "b": [5, 3, 4, 6]}), "a", "b")
       a  b
    0  1  5
    1  2  3
    """
    d = df.dropna(subset=[x, y]).sort_values([x, y], kind="stable")
    keep, best = [], math.inf
    for idx, v in zip(d.index, d[y].to_numpy(dtype=float)):
        if v < best:
            keep.append(idx)
            best = v
    return d.loc[keep]


def plot_pareto(
    df: pd.DataFrame,
    path=None,
    *,
    x: str = "merges",
    y: str = "noncoterminous",
    label: str | None = None,
    ax=None,
    svg: bool = False,
    dpi: float = 150,
    figsize=(7, 5),
    title: str | None = None,
):
    """Trade-off between two minimised metrics: every row as a grey point, the
    non-dominated rows (see :func:`pareto_front`) joined as a staircase and
    optionally labelled by the ``label`` column.

    Returns
    -------
    matplotlib.figure.Figure
    """
    for col in (x, y):
        if col not in df.columns:
            raise KeyError(f"column {col!r} not in the table (columns: {list(df.columns)})")
    fig, ax = _figure(ax, figsize)
    d = df.dropna(subset=[x, y])
    front = pareto_front(d, x, y)
    ax.scatter(d[x], d[y], s=22, color="#b0b0b0", zorder=2, label="all plans")
    ax.step(front[x], front[y], where="post", color=PALETTE[0], lw=1.4, zorder=3)
    ax.scatter(front[x], front[y], s=36, color=PALETTE[0], zorder=4, label="Pareto front")
    if label is not None and label in front.columns:
        for _, r in front.iterrows():
            ax.annotate(str(r[label]), (r[x], r[y]), textcoords="offset points", xytext=(5, 4), fontsize=7)
    from matplotlib.ticker import MaxNLocator

    for col, axis in ((x, ax.xaxis), (y, ax.yaxis)):
        if col in _PEOPLE:
            axis.set_major_formatter(_pop_formatter())
        elif col in _COUNTS:
            axis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel(y.replace("_", " "))
    ax.grid(True, color="#e5e5e5", lw=0.6)
    ax.set_axisbelow(True)
    ax.legend(fontsize=8, frameon=False)
    ax.set_title(title if title is not None else f"{y.replace('_', ' ')} vs {x.replace('_', ' ')}", fontsize=10,
                 loc="left")
    _save(fig, path, svg, dpi)
    return fig


# --------------------------------------------------------------------------- group sizes
def plot_group_populations(
    plan,
    path=None,
    *,
    ax=None,
    svg: bool = False,
    dpi: float = 150,
    figsize=(10, 4.5),
    title: str | None = None,
):
    """Every group's population as a bar, largest first, coloured by its number
    of units (grey = a unit alone), with the floor (and any ceiling) as a line.
    Groups below the floor are outlined in dark red.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.patches import Patch

    plan.require_groups()
    fig, ax = _figure(ax, figsize)
    inst, sc = plan.instance, plan.scenario
    pops = np.array([inst.group_population(g) for g in plan.groups], dtype=float)
    sizes = np.array([len(g) for g in plan.groups])
    order = np.lexsort((np.arange(len(pops)), -pops))
    pops, sizes = pops[order], sizes[order]
    colour = [_UNITS_COLOURS[min(int(s), 5)] for s in sizes]
    f = sc.floor_population
    below = pops < f
    xs = np.arange(len(pops))
    ax.bar(xs, pops, width=0.85, color=colour, edgecolor=[_VIOLATION_COLOUR if b else "none" for b in below],
           linewidth=[1.0 if b else 0 for b in below])
    ax.axhline(f, color=_VIOLATION_COLOUR, lw=1.2, ls="--", zorder=3)
    ax.annotate(f"floor {f:,}", (1.0, f), xycoords=("axes fraction", "data"), xytext=(-4, 4),
                textcoords="offset points", ha="right", va="bottom", color=_VIOLATION_COLOUR, fontsize=8)
    if sc.ceiling:
        ax.axhline(sc.ceiling, color="#555555", lw=1.0, ls=":", zorder=3)
        ax.annotate(f"ceiling {sc.ceiling:,.0f}", (1.0, sc.ceiling), xycoords=("axes fraction", "data"),
                    xytext=(-4, 4), textcoords="offset points", ha="right", va="bottom", fontsize=8)
    ax.yaxis.set_major_formatter(_pop_formatter())
    ax.set_xlim(-1, len(pops))
    ax.set_xlabel("groups, largest first")
    ax.set_ylabel("population")
    ax.grid(True, axis="y", color="#e5e5e5", lw=0.6)
    ax.set_axisbelow(True)
    present = sorted({min(int(s), 5) for s in sizes})
    handles = [Patch(color=_UNITS_COLOURS[s], label="1 unit (alone)" if s == 1 else (f"{s} units" if s < 5 else "5+ units"))
               for s in present]
    if below.any():
        handles.append(Patch(facecolor="white", edgecolor=_VIOLATION_COLOUR, label=f"below floor ({int(below.sum())})"))
    ax.legend(handles=handles, fontsize=8, frameon=False, loc="upper right", bbox_to_anchor=(1.0, 0.9))
    if title is None:
        what = plan.formulation if plan.formulation.startswith("real configuration") else "plan"
        title = (f"{inst.name}: group populations of the {what}\n{sc.describe()}; {len(pops)} groups, "
                 f"smallest {_fmt_pop(pops.min())}, largest {_fmt_pop(pops.max())}")
    ax.set_title(title, fontsize=10, loc="left")
    _save(fig, path, svg, dpi)
    return fig
