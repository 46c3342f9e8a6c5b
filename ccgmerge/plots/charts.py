"""Charts of sweeps and plans: a metric against the allowance per head, the
Pareto front of two minimised metrics, and every group's population against
the floor."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ccgmerge.plots.style import (
    MODE_COLOURS,
    VIOLATION_COLOUR,
    format_population,
    mode_style,
    money_formatter,
    new_figure,
    save_figure,
)

__all__ = ["plot_allowance_curve", "pareto_front", "plot_pareto", "plot_group_populations"]

_FRONT = "#222222"
_UNITS_COLOURS = {1: "#bdbdbd", 2: "#9ecae1", 3: "#4292c6", 4: "#2171b5", 5: "#08306b"}  # by number of units


# --------------------------------------------------------------------------- sweeps
_COUNTS = ("groups", "merges", "split_areas", "coterminous_groups", "extra_merges", "violations")
_PEOPLE = ("moved", "noncoterminous", "population", "min_group_population", "max_group_population")



def _require_columns(df: pd.DataFrame, *cols: str) -> None:
    """KeyError naming the first of ``cols`` that ``df`` lacks, and the columns it has."""
    for col in cols:
        if col not in df.columns:
            raise KeyError(f"column {col!r} not in the table (columns: {list(df.columns)})")

def _text(s: pd.Series) -> pd.Series:
    """Values as text; enums by their value ("aligned", not "Coterminosity.ALIGNED")."""
    return s.map(lambda v: str(getattr(v, "value", v)))


def _pop_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: format_population(v) if v else "0")


def _x_words(x: str) -> tuple[str, str]:
    """(axis label, plural noun) for an x column."""
    if x == "allowance_per_head":
        return "allowance per head (\u00a3)", "allowances"
    if x == "year":
        return "year", "years"
    return x.replace("_", " "), f"{x.replace('_', ' ')} values"


def _x_ticks(ax, x: str, xs: np.ndarray) -> list:
    """Ticks on the x axis: every value when few, else at most 8 (never overlapping); pounds for allowances.
    Returns the values the top axis may label."""
    from matplotlib.ticker import MaxNLocator

    if 1 < len(xs) <= 8:
        ax.set_xticks(xs)
        shown = list(xs)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=x == "year"))
        shown = list(xs[np.linspace(0, len(xs) - 1, min(len(xs), 7)).round().astype(int)]) if len(xs) else []
    if x == "allowance_per_head":
        ax.xaxis.set_major_formatter(money_formatter(per_head=True))
    elif x == "year":
        ax.xaxis.set_major_formatter("{x:.0f}")
    return shown


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
    head, in pounds), one line per value of ``hue`` (default: coterminosity mode).

    Parameters
    ----------
    df : DataFrame
        One row per solved scenario (for example from a sweep). Rows whose
        ``y`` is missing (no plan: infeasible) are marked with crosses in the
        line's colour along the bottom of the chart, one row of crosses and
        one legend entry per line ("nested: no plan at 6 allowances").
        ``hue`` may be None or a column absent from ``df`` for a single line.
        Coterminosity modes keep their colour and marker in every chart
        (:data:`~ccgmerge.plots.style.MODE_COLOURS`).
    floor : column with the population floor (``"auto"``: ``floor_population``
        or ``floor`` when present), shown as a second x axis on top; None hides it.
    ax, path, svg, dpi, figsize, title : as elsewhere in this module

    Returns
    -------
    matplotlib.figure.Figure
    """
    _require_columns(df, x, y)
    from matplotlib.ticker import MaxNLocator

    fig, ax = new_figure(ax, figsize)
    ok = pd.to_numeric(df[y], errors="coerce").notna()
    d = df[ok].copy()
    use_hue = hue is not None and hue in df.columns
    hue_of = _text(df[hue]) if use_hue else pd.Series("", index=df.index)
    keys = sorted(hue_of.unique()) if use_hue else [""]
    xlabel, xnoun = _x_words(x)
    failing = []
    others = 0
    for k, val in enumerate(keys):
        colour, marker, line = mode_style(val, others)
        others += val not in MODE_COLOURS
        part = d[hue_of[ok] == val].sort_values(x)
        if len(part):
            # later lines are drawn thinner with hollow markers so coinciding lines stay visible
            ax.plot(part[x], part[y], marker=marker, ls=line, color=colour,
                    lw=2.4 - 0.5 * (k % 3), ms=8 - 1.5 * (k % 3), mfc=colour if k == 0 else "white", mew=1.3,
                    label=val or None, zorder=3 + k)
        bad = df[(~ok) & (hue_of == val)]
        if len(bad):
            failing.append((val, colour, bad[x].to_numpy(dtype=float)))
    if failing:  # a free band under the lines, one row of crosses per line
        band = 0.07 * len(failing)
        if ok.any():
            y0, y1 = ax.get_ylim()
            ax.set_ylim(y0 - band / (1 - band) * (y1 - y0), y1)
        for j, (val, colour, fx) in enumerate(failing):
            n = len(np.unique(fx))
            ax.plot(fx, np.full_like(fx, 0.035 + 0.07 * j), ls="none", marker="x", color=colour, ms=7, mew=1.8,
                    transform=ax.get_xaxis_transform(), clip_on=False, zorder=6,
                    label=f"{val + ': ' if val else ''}no plan at {n} {xnoun if n != 1 else xnoun[:-1]}")
    xs = np.sort(df[x].dropna().unique())
    shown = _x_ticks(ax, x, xs)
    if y in _COUNTS:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if not ok.any():
        ax.set_yticks([])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(y.replace("_", " "))
    ax.grid(True, color="#e5e5e5", lw=0.6)
    ax.set_axisbelow(True)
    if y in _PEOPLE:
        ax.yaxis.set_major_formatter(_pop_formatter())
    if ax.get_legend_handles_labels()[0]:  # beside the axes, so it hides no line whatever y is
        ax.legend(title=hue if use_hue else None, fontsize=8, title_fontsize=9, frameon=False, loc="upper left",
                  bbox_to_anchor=(1.01, 1.0))
    fcol = None
    if floor == "auto":
        fcol = next((c for c in ("floor_population", "floor") if c in df.columns), None)
    elif floor is not None:
        fcol = floor
    if fcol is not None and len(df):
        pairs = df[[x, fcol]].dropna().drop_duplicates().sort_values(x)
        if len(pairs) and pairs[x].is_unique:
            pairs = pairs[pairs[x].isin(shown)]
            top = ax.secondary_xaxis("top")
            top.set_xticks(pairs[x].to_list(), [format_population(v) for v in pairs[fcol]])
            top.set_xlabel("population floor", fontsize=9)
            top.tick_params(labelsize=8)
    ax.set_title(title if title is not None else f"{y.replace('_', ' ')} by {xlabel}", fontsize=10, loc="left")
    save_figure(fig, path, svg, dpi)
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
    hue: str | None = "coterminosity",
    ax=None,
    svg: bool = False,
    dpi: float = 150,
    figsize=(7, 5),
    title: str | None = None,
):
    """Trade-off between two minimised metrics: every row as a point (in its
    coterminosity mode's colour when the ``hue`` column is there, see
    :data:`~ccgmerge.plots.style.MODE_COLOURS`; else grey), the non-dominated
    rows (see :func:`pareto_front`) joined as a dark staircase and optionally
    labelled by the ``label`` column.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _require_columns(df, x, y)
    fig, ax = new_figure(ax, figsize)
    d = df.dropna(subset=[x, y])
    front = pareto_front(d, x, y)
    if hue is not None and hue in d.columns:
        vals = _text(d[hue])
        for k, val in enumerate(sorted(vals.unique())):
            colour, marker, _ = mode_style(val, k)
            part = d[vals == val]
            ax.scatter(part[x], part[y], s=24, color=colour, marker=marker, alpha=0.75, zorder=2, label=f"{val} plans")
    else:
        ax.scatter(d[x], d[y], s=22, color="#b0b0b0", zorder=2, label="all plans")
    ax.step(front[x], front[y], where="post", color=_FRONT, lw=1.4, zorder=3)
    ax.scatter(front[x], front[y], s=46, facecolors="none", edgecolors=_FRONT, lw=1.3, zorder=4, label="Pareto front")
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
    save_figure(fig, path, svg, dpi)
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
    fig, ax = new_figure(ax, figsize)
    inst, sc = plan.instance, plan.scenario
    pops = np.array([inst.group_population(g) for g in plan.groups], dtype=float)
    sizes = np.array([len(g) for g in plan.groups])
    order = np.lexsort((np.arange(len(pops)), -pops))
    pops, sizes = pops[order], sizes[order]
    colour = [_UNITS_COLOURS[min(int(s), 5)] for s in sizes]
    f = sc.floor_population
    below = pops < f
    xs = np.arange(len(pops))
    ax.bar(xs, pops, width=0.85, color=colour, edgecolor=[VIOLATION_COLOUR if b else "none" for b in below],
           linewidth=[1.0 if b else 0 for b in below])
    ax.axhline(f, color=VIOLATION_COLOUR, lw=1.2, ls="--", zorder=3)
    ax.annotate(f"floor {f:,}", (1.0, f), xycoords=("axes fraction", "data"), xytext=(-4, 4),
                textcoords="offset points", ha="right", va="bottom", color=VIOLATION_COLOUR, fontsize=8)
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
        handles.append(Patch(facecolor="white", edgecolor=VIOLATION_COLOUR, label=f"below floor ({int(below.sum())})"))
    ax.legend(handles=handles, fontsize=8, frameon=False, loc="upper right", bbox_to_anchor=(1.0, 0.9))
    if title is None:
        what = plan.formulation if plan.formulation.startswith("real configuration") else "plan"
        title = (f"{inst.name}: group populations of the {what}\n{sc.describe()}; {len(pops)} groups, "
                 f"smallest {format_population(pops.min())}, largest {format_population(pops.max())}")
    ax.set_title(title, fontsize=10, loc="left")
    save_figure(fig, path, svg, dpi)
    return fig
