"""Self-contained HTML reports: one file that opens offline in any browser and
can be shared as it is.

:func:`plan_report` shows a plan: an interactive map (hover a group for its
number, name, members, population, allowance and margin in pounds, HWBs and
people moved; hover a table row to find its group), the metrics, the
solver-free checker's verdict and the table of every group.
:func:`sweep_report` shows a sweep's folder: the allowance curve, the results
table and a map of each chosen scenario.

Everything is inlined: Leaflet's script and style (vendored with ccgmerge, see
``ccgmerge/plots/vendor/README.md``), the GeoJSON, the pictures (base64 PNG).
The page fetches nothing; there are no background tiles. Each map's element
carries ``data-groups`` (the plan's number of groups) and, once drawn,
``data-rendered-groups`` (the groups drawn), so a test can compare them.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import pandas as pd

from ccgmerge.plots.frames import group_key
from ccgmerge.plots.mapkey import map_title, plain_rules
from ccgmerge.plots.style import ATTRIBUTION, format_money
from ccgmerge.plots.webmap import MAP_CSS, MAP_SCRIPT, leaflet_assets, map_payload, script_json

__all__ = ["plan_report", "sweep_report"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1a1a1a;background:#fafafa}
main{max-width:1200px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:16px;margin:22px 0 6px}.rules{color:#333;margin:2px 0}
.verdict{display:inline-block;padding:3px 10px;border-radius:4px;font-weight:600;margin:6px 0}
.verdict.ok{background:#e3f4e8;color:#14632f;border:1px solid #9fd3ae}
.verdict.failed{background:#fbe5e5;color:#8a1010;border:1px solid #e4a3a3}
table{border-collapse:collapse;background:#fff;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f0f0f0;cursor:pointer;white-space:nowrap}td.n{text-align:right;white-space:nowrap}
tr.hl td{background:#fff4c2}.swatch{display:inline-block;width:12px;height:12px;border:1px solid #666;
vertical-align:-2px;margin-right:4px}.note{color:#555;font-size:12.5px;margin:6px 0}
.metrics td:first-child{color:#444}.chart{max-width:100%;border:1px solid #ddd;background:#fff}
details{margin:10px 0}summary{cursor:pointer;font-weight:600}
"""

_SORT_SCRIPT = r"""
document.querySelectorAll("table.sortable th").forEach(function(th,i){th.addEventListener("click",function(){
  var tb=th.closest("table").tBodies[0],rows=Array.from(tb.rows),dir=th.dataset.dir==="1"?-1:1;th.dataset.dir=dir;
  rows.sort(function(a,b){var x=a.cells[i].dataset.v||a.cells[i].textContent,y=b.cells[i].dataset.v||b.cells[i].textContent;
    var nx=parseFloat(x),ny=parseFloat(y);return (isNaN(nx)||isNaN(ny)?x.localeCompare(y):nx-ny)*dir;});
  rows.forEach(function(r){tb.appendChild(r);});});});
document.querySelectorAll("tr[data-group]").forEach(function(tr){var t=tr.closest("table").dataset.map;
  tr.addEventListener("mouseenter",function(){ccgmHighlight(t,tr.dataset.group,true);});
  tr.addEventListener("mouseleave",function(){ccgmHighlight(t,tr.dataset.group,false);});});
"""

_HATCH = ('<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs><pattern id="ccgm-hatch" '
          'width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" '
          'fill="none"/><line x1="0" y1="0" x2="0" y2="6" stroke="#111" stroke-width="1.6"/></pattern></defs></svg>')


def _e(v) -> str:
    return html.escape(str(v), quote=True)


def _num(v, money: bool = False) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return '<td class="n"></td>'
    shown = format_money(v) if money else (f"{v:,.0f}" if abs(v) >= 1000 or float(v).is_integer() else f"{v:,.4g}")
    return f'<td class="n" data-v="{float(v)}">{_e(shown)}</td>'


def _verdict_html(plan) -> str:
    v = plan.verdict
    if v is None:
        return '<p class="verdict failed">not checked: no plan</p>'
    if v.ok:
        return (f'<p class="verdict ok">Checked: every rule met</p><p class="note">The solver-free checker tested: '
                f'{_e(", ".join(v.rules_checked))}.</p>')
    items = "".join(f"<li><b>{_e(x.rule)}</b>: {_e(x.message)}</li>" for x in v.violations)
    return f'<p class="verdict failed">Checked: {len(v.violations)} rule violation(s)</p><ul>{items}</ul>'


def _metrics_html(plan) -> str:
    m, sc = plan.metrics, plan.scenario
    rows = [("status", plan.status.value), ("groups", m.get("groups")), ("merges", m.get("merges")),
            ("people moved", m.get("moved")), ("people outside their group's main HWB", m.get("noncoterminous")),
            ("HWBs split between groups", m.get("split_areas")), ("coterminous groups", m.get("coterminous_groups")),
            ("smallest group (people)", m.get("min_group_population")),
            ("largest group (people)", m.get("max_group_population")), ("population floor", sc.floor_population),
            ("allowance per head", format_money(sc.allowance_per_head + sc.quality_premium_per_head, per_head=True)),
            ("fixed cost of a group", format_money(sc.fixed_cost)),
            ("objective", m.get("objective")), ("proven bound", m.get("bound")),
            ("gap", None if plan.gap is None else f"{plan.gap:.2%}"), ("solver", f"{plan.solver} ({plan.formulation})"),
            ("time", f"{plan.wall_time:.2f} s")]
    if plan.groups is not None:
        t = group_key(plan)
        rows[10:10] = [("total allowance", format_money(t["allowance"].sum())),
                       ("total margin (allowance - cost)", format_money(t["margin"].sum()))]
    body = "".join(f"<tr><td>{_e(k)}</td>" + (_num(v) if isinstance(v, (int, float)) and not isinstance(v, bool)
                                              else f"<td>{_e('' if v is None else v)}</td>") + "</tr>" for k, v in rows)
    return f'<table class="metrics">{body}</table>'


def _groups_html(table: pd.DataFrame, map_id: str) -> str:
    head = ["No.", "group", "members", "population", "allowance", "margin", "HWBs", "people moved"]
    rows = []
    for _, r in table.iterrows():
        rows.append(f'<tr data-group="{int(r["number"])}">{_num(r["number"])}<td><span class="swatch" style="background:'
                    f'{_e(r["colour"])}"></span>{_e(r["name"])}</td><td>{_e(r["member_names"])}</td>'
                    f'{_num(r["population"])}{_num(r["allowance"], True)}{_num(r["margin"], True)}<td>{_e(r["hwbs"])}'
                    f'</td>{_num(r["moved"])}</tr>')
    return (f'<table class="groups sortable" data-map="{_e(map_id)}"><thead><tr>'
            + "".join(f"<th>{h}</th>" for h in head) + f"</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _plan_section(plan, map_id: str, boundaries=None, level: int = 2, fold: bool = False) -> tuple[str, str]:
    """(HTML, script) of one plan: verdict, map, metrics, groups (folded away with ``fold``, as in a
    sweep's page, whose maps also leave out the unit outlines to keep the file small)."""
    from ccgmerge.plots.frames import unit_word

    h = f"h{level}"
    if plan.groups is None:
        why = f"<p>{_e(plan.infeasibility)}</p>" if plan.infeasibility is not None else ""
        return (f'<p class="verdict failed">No plan: {_e(plan.status.value)}</p>{why}'
                f'<div id="{_e(map_id)}" data-groups="0" hidden></div>{_metrics_html(plan)}', "")
    payload = map_payload(plan, boundaries, outlines=not fold)
    table = group_key(plan)
    notes = ["Hover a group for its members, population, allowance and margin; hover a row of the table to find it "
             "on the map; zoom in (scroll, or +) for the numbers of small groups. Numbers as on the printed maps: "
             "merged groups north to south, then units left alone (grey)."]
    if payload.get("moved"):
        notes.append(f"Hatched: the {payload['moved_units']} moved {unit_word(plan.instance)} (not in the group that "
                     "continues their 2013 CCG); dashed: 2013 CCG boundaries.")
    if payload["kind"] == "network":
        notes.append("No boundaries for these units: each unit is a circle at its coordinates, lines join units of "
                     "one group.")
    html_ = (f'{_verdict_html(plan)}<div id="{_e(map_id)}" class="ccgm-map" data-groups="{len(plan.groups)}" '
             f'role="img" aria-label="map of the {len(plan.groups)} groups"></div>'
             + "".join(f'<p class="note">{_e(n)}</p>' for n in notes)
             + f"<{h}>Metrics</{h}>{_metrics_html(plan)}"
             + (f"<details><summary>Groups ({len(table)})</summary>{_groups_html(table, map_id)}</details>" if fold else
                f"<{h}>Groups ({len(table)})</{h}>{_groups_html(table, map_id)}"))
    return html_, f"ccgmergeMap({script_json(map_id)}, {script_json(payload)});"


def _page(title: str, body: str, scripts: list[str]) -> str:
    from ccgmerge import __version__

    js, css = leaflet_assets()
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width,initial-scale=1"><meta name="generator" content="ccgmerge {__version__}">'
            f"<title>{_e(title)}</title><style>{css}</style><style>{MAP_CSS}{_CSS}</style>"
            f"<script>{js}</script><script>{MAP_SCRIPT}</script></head><body>{_HATCH}<main>{body}"
            f'<p class="note">{_e(ATTRIBUTION)}. Made with ccgmerge {__version__}; map drawn with Leaflet (BSD-2-Clause).'
            f"</p></main><script>{''.join(scripts)}{_SORT_SCRIPT}</script></body></html>\n")


def _write(path, text: str) -> Path:
    from ccgmerge.output import atomic_write

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(p, text)
    return p


def plan_report(plan, path, *, boundaries=None, title: str | None = None) -> Path:
    """Write ``plan`` as one self-contained HTML file at ``path`` (see the module docstring); return its path.

    ``boundaries`` as for :func:`~ccgmerge.plots.maps.plot_plan_map` (default: the real CCG or LSOA
    boundaries when found, else the units drawn as a network). A plan without groups (infeasible, no
    solution) gives a page with its status and explanation."""
    from ccgmerge.plots.frames import unit_word

    if plan.groups is not None:
        head, rules, status = map_title(plan, unit_word(plan.instance), width=10_000).split("\n")
    else:
        head = f"{plan.instance.name}: no plan ({plan.status.value})"
        rules, status = "Rules: " + plain_rules(plan.scenario) + ".", ""
    section, script = _plan_section(plan, "map-plan", boundaries)
    body = (f"<h1>{_e(title or head)}</h1><p class=\"rules\">{_e(rules)}</p><p class=\"rules\">{_e(status)}</p>"
            f"{section}")
    return _write(path, _page(title or head, body, [script]))


# --------------------------------------------------------------------------- sweeps
def _png_base64(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _chosen(table: pd.DataFrame, x: str, hue: str | None, max_maps: int) -> list[str]:
    """Default scenarios to map: per line (``hue`` value), the run with a plan at the lowest ``x`` (the
    strictest floor that still has a plan) and the run at the highest ``x``."""
    have = table[pd.to_numeric(table.get("groups"), errors="coerce").notna()] if "groups" in table else table[:0]
    keys: list[str] = []
    parts = have.groupby(have[hue].astype(str), sort=True) if hue else [("", have)]
    for _, part in parts:
        part = part.sort_values(x, kind="stable")
        for k in (part["key"].iloc[0], part["key"].iloc[-1]) if len(part) else ():
            if k not in keys:
                keys.append(k)
    return keys[:max_maps]


def sweep_report(out_dir, path=None, *, keys=None, max_maps: int = 6, boundaries=None, title: str | None = None) -> Path:
    """Write a sweep's results (its folder ``out_dir``) as one self-contained HTML file.

    The page has the allowance curve (groups against the allowance per head, or
    the year, one line per coterminosity mode), the results table and, for
    each chosen run, the plan's map, metrics, verdict and groups. ``keys``
    chooses the runs (default: per mode, the lowest and the highest allowance
    with a plan; at most ``max_maps``). ``path`` defaults to
    ``out_dir/report.html``. Returns the path written."""
    from ccgmerge.analysis.sweep import load_plan, load_results
    from ccgmerge.plots.charts import plot_allowance_curve

    out = Path(out_dir)
    table, _ = load_results(out)
    path = out / "report.html" if path is None else path
    x = "year" if "year" in table.columns and table["year"].notna().any() else "allowance_per_head"
    hue = "coterminosity" if "coterminosity" in table.columns and table["coterminosity"].nunique() > 1 else None
    body = [f"<h1>{_e(title or f'Sweep {out.name}: {len(table)} runs')}</h1>"]
    if len(table) and x in table.columns and "groups" in table.columns:
        fig = plot_allowance_curve(table, x=x, hue=hue or "coterminosity", figsize=(9, 5))
        body.append(f'<h2>Groups against the {"year" if x == "year" else "allowance per head"}</h2>'
                    f'<img class="chart" alt="allowance curve" src="data:image/png;base64,{_png_base64(fig)}">')
    cols = [c for c in ("key", x, "floor_population", "coterminosity", "objective", "status", "groups", "merges",
                        "moved", "noncoterminous", "gap", "wall_time") if c in table.columns]
    rows = "".join("<tr>" + "".join(_num(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else
                                    f"<td>{_e('' if v is None or v != v else v)}</td>" for v in r) + "</tr>"
                   for r in table[cols].itertuples(index=False))
    body.append(f'<h2>Results ({len(table)} runs)</h2><table class="sortable"><thead><tr>'
                + "".join(f"<th>{_e(c.replace('_', ' '))}</th>" for c in cols) + f"</tr></thead><tbody>{rows}</tbody></table>")
    chosen = list(keys) if keys is not None else _chosen(table, x, hue, max_maps)
    scripts = []
    by_key = table.set_index("key") if len(table) else None
    for n, key in enumerate(chosen, 1):
        plan = load_plan(out, key)
        what = ", ".join(f"{c.replace('_', ' ')} {by_key.loc[key, c]}" for c in (x, "coterminosity")
                         if by_key is not None and key in by_key.index and c in by_key.columns)
        section, script = _plan_section(plan, f"map-{n}", boundaries, level=3, fold=True)
        body.append(f"<h2>Run {_e(key)}{': ' + _e(what) if what else ''}</h2>"
                    f'<p class="rules">Rules: {_e(plain_rules(plan.scenario))}.</p>{section}')
        scripts.append(script)
    return _write(path, _page(title or f"Sweep {out.name}", "".join(body), scripts))
