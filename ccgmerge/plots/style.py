"""Shared look of the pictures: palette and colours, number formatting, and
the figure/save plumbing (Agg canvas, PNG and optional SVG output)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["PALETTE", "UNMERGED_COLOUR", "VIOLATION_COLOUR", "group_colours", "require_matplotlib", "new_figure",
           "save_figure", "format_population"]

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
