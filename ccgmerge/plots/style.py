"""Shared look of the pictures: palette and colours, number formatting, and
the figure/save plumbing (Agg canvas, PNG and optional SVG output)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["PALETTE", "UNMERGED_COLOUR", "VIOLATION_COLOUR", "MODE_COLOURS", "MODE_MARKERS", "MODE_LINES", "ATTRIBUTION",
           "mode_style", "group_colours", "require_matplotlib", "new_figure", "save_figure", "format_population",
           "format_money", "money_formatter"]

_INSTALL = 'plotting needs matplotlib (and geopandas for maps): pip install "ccgmerge[maps]"'

#: Colours given to merged groups (qualitative, well separated, no greys).
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
    "#fdbf6f", "#b2df8a", "#a6cee3", "#cab2d6", "#fb9a99",
)
#: Colour of units left on their own.
UNMERGED_COLOUR = "#dcdcdc"
#: Colour marking groups that break a rule (and the floor line).
VIOLATION_COLOUR = "#c00000"
#: One colour per coterminosity mode, used by every chart (and the reports), so a mode looks the same everywhere.
MODE_COLOURS = {"off": "#4d4d4d", "nested": "#d95f02", "aligned": "#1b9e77", "penalised": "#7570b3"}
#: One marker per coterminosity mode (with :data:`MODE_COLOURS`).
MODE_MARKERS = {"off": "o", "nested": "s", "aligned": "D", "penalised": "^"}
#: One line style per coterminosity mode.
MODE_LINES = {"off": ":", "nested": "--", "aligned": "-", "penalised": "-."}
_OTHER_COLOURS = ("#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#1f78b4", "#666666")
#: Attribution written on every map drawn on the real boundaries.
ATTRIBUTION = "Contains OS data \u00a9 Crown copyright and database right; ONS/NHS data, OGL v3.0"


def mode_style(value, k: int = 0) -> tuple[str, str, str]:
    """(colour, marker, line style) of a line: a coterminosity mode's own
    (:data:`MODE_COLOURS`, :data:`MODE_MARKERS`, :data:`MODE_LINES`), else the
    ``k``-th of a fixed list of other looks, so any hue value gets a stable one.

    >>> mode_style("aligned")
    ('#1b9e77', 'D', '-')
    """
    v = str(getattr(value, "value", value))
    if v in MODE_COLOURS:
        return MODE_COLOURS[v], MODE_MARKERS[v], MODE_LINES[v]
    return _OTHER_COLOURS[k % len(_OTHER_COLOURS)], "vP*X<>"[k % 6], ("-", "--", "-.", ":")[k % 4]


# --------------------------------------------------------------------------- matplotlib plumbing
def require_matplotlib():
    """Import and return matplotlib; raise an ImportError naming the ``maps`` extra when it is missing."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(_INSTALL) from exc
    return matplotlib


def new_figure(ax, figsize):
    """(fig, ax): ``ax``'s figure, or a new constrained-layout Figure on an Agg canvas."""
    require_matplotlib()
    if ax is not None:
        return ax.figure, ax
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def save_figure(fig, path, svg: bool, dpi: float) -> list[Path]:
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


def format_population(p: float) -> str:
    """A population as ``1.23m`` or ``456k``."""
    return f"{p / 1e6:.2f}m" if p >= 1e6 else f"{p / 1e3:,.0f}k"


def format_money(v: float, per_head: bool = False) -> str:
    """Pounds: ``£25`` or ``£25.50`` per head; else ``£1.23m``, ``£456k``, ``-£12k``, ``£950``.

    >>> format_money(25, per_head=True), format_money(2_500_000), format_money(-12_345)
    ('£25', '£2.50m', '-£12k')
    """
    sign, a = ("-" if v < 0 else ""), abs(float(v))
    if per_head:
        return f"{sign}\u00a3{a:,.2f}".replace(".00", "")
    if a >= 1e6:
        return f"{sign}\u00a3{a / 1e6:,.2f}m"
    return f"{sign}\u00a3{a / 1e3:,.0f}k" if a >= 1e4 else f"{sign}\u00a3{a:,.0f}"


def money_formatter(per_head: bool = True):
    """A matplotlib tick formatter writing pounds (:func:`format_money`)."""
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: format_money(v, per_head))


# --------------------------------------------------------------------------- colours
def group_colours(plan) -> list[str]:
    """A colour per group of ``plan`` (in ``plan.groups`` order).

    Units alone get :data:`UNMERGED_COLOUR`. Merged groups are coloured from
    :data:`PALETTE` by a DSatur colouring of the graph of neighbouring merged
    groups: the group with the most differently coloured neighbours goes next
    (ties: more neighbours, more people, first member), and takes the
    least-used colour that no neighbour has, preferring one that no
    neighbour's neighbour has either. Neighbours therefore always differ
    (DSatur needs at most one colour more than the largest number of
    neighbours, far fewer than the palette on a map), colours are spread
    evenly, and the result depends only on the plan.
    """
    plan.require_groups()
    inst, groups = plan.instance, plan.groups
    gid = np.empty(inst.n_units, dtype=np.int64)
    for k, g in enumerate(groups):
        gid[list(g)] = k
    merged = {k for k, g in enumerate(groups) if len(g) > 1}
    nbrs: dict[int, set[int]] = {k: set() for k in merged}
    e = inst.edges
    if len(e):
        ga, gb = gid[e[:, 0]], gid[e[:, 1]]
        for x, y in zip(ga[ga != gb].tolist(), gb[ga != gb].tolist()):
            if x in merged and y in merged:
                nbrs[x].add(y)
                nbrs[y].add(x)
    pops = {k: inst.group_population(groups[k]) for k in merged}
    colour: dict[int, int] = {}
    used = [0] * len(PALETTE)
    todo = set(merged)
    while todo:
        k = max(todo, key=lambda k: (len({colour[j] for j in nbrs[k] if j in colour}), len(nbrs[k]), pops[k],
                                     -groups[k][0]))
        todo.discard(k)
        banned = {colour[j] for j in nbrs[k] if j in colour}
        near = {colour[j2] for j in nbrs[k] for j2 in nbrs[j] if j2 in colour and j2 != k}
        choices = [c for c in range(len(PALETTE)) if c not in banned and c not in near] or \
                  [c for c in range(len(PALETTE)) if c not in banned] or list(range(len(PALETTE)))
        c = min(choices, key=lambda c: (used[c], c))
        colour[k] = c
        used[c] += 1
    return [PALETTE[colour[k]] if k in colour else UNMERGED_COLOUR for k in range(len(groups))]
