"""What makes a map readable: the group numbers (and names) written on it,
the key naming every group, a title in plain words, a scale bar, and the key
written as CSV beside the picture."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np

from ccgmerge.plots.frames import short_name
from ccgmerge.plots.style import UNMERGED_COLOUR, VIOLATION_COLOUR, format_population

__all__ = ["label_groups", "declutter", "fit_title", "draw_key", "map_title", "scale_bar", "write_key_csv", "plain_rules"]

_FIG_SPACE = "\u2007"  # as wide as a digit: numbers in the key line up


def label_groups(ax, plan, number: dict, points: np.ndarray, offset=(0, 0), inside=None, outside=None, table=None,
                 big: bool = False) -> list:
    """Write each group's number at its label point (``points[k]`` for the
    group at position ``k``); with ``table`` (:func:`~ccgmerge.plots.frames.group_key`)
    its short name too. Merged groups in bold on a white box, units alone
    smaller in grey. Only points inside the box ``inside`` / outside the box
    ``outside`` (x0, y0, x1, y1) are written. Returns the labels, most
    important (most people, merged first) first, for :func:`declutter`."""
    labels = dict(zip(table["position"], table["label"])) if table is not None else {}
    pop = plan.instance.population

    def within(x, y, box):
        return box[0] <= x <= box[2] and box[1] <= y <= box[3]

    out = []
    order = sorted(range(len(plan.groups)), key=lambda k: (len(plan.groups[k]) == 1, -int(pop[list(plan.groups[k])].sum()), k))
    lead = {"arrowstyle": "-", "lw": 0.5, "color": "#333333", "shrinkA": 0, "shrinkB": 0}
    for k in order:
        g = plan.groups[k]
        x, y = points[k]
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        if (inside is not None and not within(x, y, inside)) or (outside is not None and within(x, y, outside)):
            continue
        text = str(number[k]) + (f" {labels[k]}" if k in labels else "")
        if len(g) > 1 or k in labels:
            ann = ax.annotate(text, (x, y), xytext=offset, textcoords="offset points", ha="center", va="center",
                              fontsize=(7.5 if big or k in labels else 6.5), fontweight="bold", zorder=6,
                              arrowprops=lead, bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "#333333",
                                                     "lw": 0.4, "alpha": 0.9})
        else:
            ann = ax.annotate(text, (x, y), xytext=offset, textcoords="offset points", ha="center", va="center",
                              fontsize=(6.5 if big else 5.4), color="#202020", zorder=6, arrowprops=lead,
                              bbox={"boxstyle": "round,pad=0.08", "fc": "white", "ec": "none", "alpha": 0.75})
        ann.set_in_layout(False)  # labels near the edge must not shrink the map
        out.append(ann)
    return out


def _renderer(fig):
    if hasattr(fig.canvas, "get_renderer"):
        return fig.canvas.get_renderer()
    from matplotlib.backends.backend_agg import RendererAgg  # a Figure without an Agg canvas (pyplot-free code)

    return RendererAgg(int(fig.bbox.width), int(fig.bbox.height), fig.dpi)


def fit_title(fig, title, wrap, pad: float = 8.0, tries: int = 6) -> None:
    """Wrap the title (a Text) narrower until, with the layout drawn, it ends
    ``pad`` points left of any key (legend) beside it and inside the figure,
    so title and key never overlap. ``wrap(width)``: the title's text wrapped
    to ``width`` characters. Measured with the renderer, not guessed from
    character counts: the map's left edge moves with its aspect."""
    renderer = _renderer(fig)
    legends = list(fig.legends) + [a.get_legend() for a in fig.axes if a.get_legend() is not None]
    gap = pad * fig.dpi / 72
    for _ in range(tries):
        fig.draw_without_rendering()  # the layout, with the title as it now is
        box = title.get_window_extent(renderer)
        right = fig.bbox.x1
        for leg in legends:
            lb = leg.get_window_extent(renderer)
            if lb.x1 > box.x0 and lb.y1 > box.y0 and lb.y0 < box.y1:  # beside the title, not under it
                right = min(right, lb.x0)
        if box.x1 <= right - gap or box.width <= 0:
            return
        chars = max(len(line) for line in title.get_text().split("\n"))
        width = min(chars - 1, int(chars * (right - gap - box.x0) / box.width))
        if width < 20:
            return
        title.set_text(wrap(width))


_RINGS = [(0.0, 0.0)] + [(r * math.cos(a), r * math.sin(a)) for r in (7, 10, 14, 19)
                         for a in np.radians([90, 270, 0, 180, 45, 135, 225, 315])]


def declutter(fig, labels: list) -> int:
    """Move labels (most important first) that would overlap an already placed
    label of the same axes to the nearest free spot around their point (up to
    19 points away, joined to it by a thin leader line). Returns how many moved."""
    if not labels:
        return 0
    fig.draw_without_rendering()  # runs the layout, so the labels' boxes are final
    renderer = _renderer(fig)
    scale = fig.dpi / 72
    placed: dict = {}
    moved = 0
    for ann in labels:
        box = ann.get_bbox_patch().get_window_extent(renderer) if ann.get_bbox_patch() else ann.get_window_extent(renderer)
        taken = placed.setdefault(ann.axes, [])
        best = None
        for dx, dy in _RINGS:
            cand = box.translated(dx * scale, dy * scale)
            if not any(cand.overlaps(b) for b in taken):
                best = (dx, dy, cand)
                break
        if best is None:
            best = (0.0, 0.0, box)
        dx, dy, cand = best
        if dx or dy:
            x0, y0 = ann.xyann
            ann.xyann = (x0 + dx, y0 + dy)
            moved += 1
        taken.append(cand)
    return moved


def _entry(row, singleton: bool, width: int) -> str:
    n = f"{int(row['number']):>3}".replace(" ", _FIG_SPACE)
    label = short_name(row["name"], width)
    if singleton and row["merged"]:
        label = f"{short_name(row['name'], width - 2)} +{int(row['n_units']) - 1}"
    text = f"{n}  {label}  {format_population(row['population'])}"
    if not singleton and row["moved"]:
        text += f", {int(row['moved']):,} moved in"
    return text


def draw_key(fig, ax, plan, table, bad: set[int], extra=(), *, own: bool = True, top: int | None = None,
             below: bool = False):
    """The key: symbols (units alone, outlines, rule breakers), then every
    group (at most ``top``) as its colour, number, name and population, in as
    many columns as the figure's height needs. A figure legend right of the
    map for a new figure (``own``; under it when ``below``), else a legend beside ``ax``."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    singleton = plan.instance.singleton_baseline
    symbols = []
    alone = int((~table["merged"]).sum())
    if alone:
        symbols.append(Patch(facecolor=UNMERGED_COLOUR, edgecolor="white",
                             label=f"unmerged ({alone} unit{'s' * (alone != 1)}, grey numbers)"))
    symbols.extend(extra)
    if bad:
        symbols.append(Line2D([], [], color=VIOLATION_COLOUR, lw=1.6,
                              label=f"breaks a rule ({len(bad)} group{'s' * (len(bad) != 1)})"))
    rows = table if top is None else table.head(max(int(top), 0))
    width = 40 if len(table) <= 30 else 24
    groups = [Patch(facecolor=r["colour"], edgecolor="white", label=_entry(r, singleton, width)) for _, r in rows.iterrows()]
    w_in, h_in = fig.get_size_inches()
    blank = Patch(facecolor="none", edgecolor="none", label="")
    for fontsize in (6.5, 6.0, 5.5, 5.0, 4.5):  # the largest type at which the key fits beside (or under) the map
        chars = max(len(h.get_label()) for h in symbols + groups) if symbols or groups else 10
        col_in = (fontsize * (0.56 * chars + 3.0)) / 72  # one column: swatch, gaps and text
        max_cols = max(1, int((w_in if below else 0.5 * w_in) / col_in))
        if below:
            per_col = max(len(symbols), 4, math.ceil(len(groups) / max(max_cols - 1, 1)))
        else:
            per_col = max(int((h_in * 72 - 90) / (fontsize * 1.62)), 8)
        if math.ceil((len(symbols) + len(groups)) / per_col) + below <= max_cols:
            break
    else:  # still too many: the key lists what fits, the CSV has them all
        keep = max(per_col * max_cols - len(symbols) - 1 - per_col * below, 1)
        groups = groups[:keep]
    if len(groups) < len(table):
        groups.append(Patch(facecolor="white", edgecolor="none",
                            label=f"{_FIG_SPACE * 4} ... {len(table) - len(groups)} more groups: see the key CSV"))
    if below:  # symbols in the first column, groups in the next ones
        handles = symbols + [blank] * (per_col - len(symbols)) * bool(symbols) + groups
        ncols = math.ceil(len(handles) / per_col)
        handles += [blank] * (ncols * per_col - len(handles))  # the legend splits entries evenly over columns
    else:
        handles = symbols + groups
        ncols = max(1, math.ceil(len(handles) / per_col))
    kw = dict(handles=handles, fontsize=fontsize, frameon=False, ncols=ncols, handlelength=1.3, handleheight=0.9,
              labelspacing=0.3, columnspacing=0.9, handletextpad=0.5, alignment="left",
              title="groups, numbered north to south as on the map", title_fontsize=fontsize + 1.5)
    if own:  # constrained layout reserves room for a figure legend placed outside
        return fig.legend(loc="outside lower left" if below else "outside right upper", **kw)
    return ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), **kw)


_COTERMINOSITY = {
    "off": "",
    "nested": "each group lies inside one HWB",
    "aligned": "each group lies inside one HWB or is made of whole HWBs",
    "penalised": "people outside their group's main HWB are penalised",
}
_OBJECTIVE = {"merges": "as few merges as possible", "moved": "as few people moved as possible",
              "noncoterminous": "as few people outside their group's main HWB as possible",
              "split_areas": "as few HWBs split as possible"}


def plain_rules(sc) -> str:
    """The scenario's rules in words."""
    parts = [f"every group has at least {sc.floor_population:,} people"]
    if sc.ceiling:
        parts.append(f"at most {sc.ceiling:,.0f}")
    if sc.max_units:
        parts.append(f"at most {sc.max_units} units a group")
    if not sc.contiguity:
        parts.append("groups need not be connected")
    cot = _COTERMINOSITY.get(sc.coterminosity.value, sc.coterminosity.value)
    if cot:
        parts.append(f"{cot} ({sc.coterminosity.value})")
    terms = [t.value for t, _ in sc.objective_terms]
    goal = ", then ".join(_OBJECTIVE.get(t, t) for t in terms) if sc.lexicographic or len(terms) == 1 else \
        "best weighted sum of " + " and ".join(terms)
    return "; ".join(parts) + f"; {goal}"


def map_title(plan, word: str, width: int = 88) -> str:
    """A title in plain words: what was grouped into how many groups, the rules, and the verdict."""
    inst, sc = plan.instance, plan.scenario
    n, merged = len(plan.groups), sum(1 for g in plan.groups if len(g) > 1)
    m = plan.metrics
    if inst.singleton_baseline:
        what = (f"{inst.name}: {plan.formulation}" if plan.formulation.startswith("real configuration")
                else f"{inst.name}: {inst.n_units} {word} merged into")
        head = f"{what} {n} groups ({merged} merged, {n - merged} left alone)"
    else:
        names = inst.areas["name"].astype(str).tolist() if "name" in inst.areas.columns else []
        place = f"{inst.n_units} {word} of {', '.join(names)}" if 0 < len(names) <= 3 else \
            f"{inst.name}: {inst.n_units} {word}"
        head = (f"{place}, regrouped from {inst.n_baseline_groups} baseline groups (2013 CCGs) into {n} groups; "
                f"{m['moved']:,} people moved")
    rules = "Rules: " + plain_rules(sc) + "."
    if plan.formulation.startswith("real configuration"):
        status = "The real configuration, checked against these rules:"
    else:
        status = {"optimal": "Proven optimal", "feasible": "Best plan found (not proven optimal)"}.get(
            plan.status.value, plan.status.value) + ";"
    v = plan.verdict
    verdict = "" if v is None else ("every rule met." if v.ok else
                                    f"{len(v.violations)} rule violation{'s' * (len(v.violations) != 1)} "
                                    "(outlined in red).")
    lines = [head, rules, f"{status} {verdict}".strip()]
    return "\n".join(textwrap.fill(t, width) for t in lines)


def scale_bar(ax) -> None:
    """A scale bar (km) in the lower left corner of a map in metres."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    target = (x1 - x0) / 5
    step = 10 ** math.floor(math.log10(target))
    length = max(m * step for m in (1, 2, 5) if m * step <= target)
    xs, y = x0 + 0.03 * (x1 - x0), y0 + 0.03 * (y1 - y0)
    ax.plot([xs, xs + length], [y, y], color="#222222", lw=2.2, solid_capstyle="butt", zorder=7)
    ax.plot([xs, xs + length / 2], [y, y], color="white", lw=1.0, solid_capstyle="butt", zorder=8)
    ax.annotate(f"{length / 1000:g} km", (xs + length / 2, y), xytext=(0, 4), textcoords="offset points",
                ha="center", va="bottom", fontsize=7, color="#222222", zorder=8)


def write_key_csv(table, png: Path) -> Path:
    """Write the key beside the picture as ``<name>-key.csv``; return its path."""
    from ccgmerge.output import atomic_write, csv_safe

    out = Path(png).with_name(Path(png).stem + "-key.csv")
    cols = ["number", "name", "group", "continues", "n_units", "members", "member_names", "population", "allowance",
            "cost", "margin", "hwbs", "moved", "merged", "colour"]
    atomic_write(out, csv_safe(table[cols]).to_csv(index=False))
    return out
