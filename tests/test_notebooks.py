"""Execute every notebook in notebooks/ and check what a reader would see.

No outputs are committed; each notebook is run here, in a temporary folder, in a fresh
Jupyter kernel, and the executed copy is checked:

* no cell fails, and no cell writes a warning or a traceback to stderr;
* no notebook switches warnings off wholesale (a filter must name its warning);
* every code cell that draws (a ``plot_*`` function, ``plt.subplots``, a ``Figure``) shows an
  inline ``image/png``, and every ``explore(...)`` cell an interactive ``text/html`` map;
* every picture sits in a story: markdown just before it and just after it;
* each notebook shows the specific things it promises (03 the years 2013-2021 of its inflation
  runs, solved and drawn; 04 a focused table whose every column is explained in words; 05 a
  setting chosen from the benchmark suite's measured runs).
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

from ccgmerge.data import has_real_data  # noqa: E402

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
SYNTHETIC_ONLY = {"01_quickstart_synthetic.ipynb"}

#: a code cell that draws a picture
DRAWS = re.compile(r"\bplot_\w+\(|\bplt\.subplots\(|\bFigure\(")
#: a code cell that draws an interactive map
EXPLORES = re.compile(r"\bexplore\(")
#: stderr text that means a warning or an exception reached the reader
WARNING_TEXT = re.compile(r"\w*Warning\b|Traceback \(most recent call last\)|\bwarn\(")
#: a warnings filter call and its arguments
FILTER_CALL = re.compile(r"\b(?:simplefilter|filterwarnings)\(([^)]*)\)")


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


# --------------------------------------------------------------------------- reading an executed notebook
def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _cell(nb, cell_id: str):
    hits = [c for c in nb.cells if c.get("id") == cell_id]
    assert len(hits) == 1, f"no single cell with id {cell_id!r}"
    return hits[0]


def _text(cell, *, streams=("stdout",)) -> str:
    """Everything a cell printed on ``streams`` and the text/plain of its results."""
    parts = []
    for o in cell.get("outputs", []):
        if o.output_type == "stream" and o.name in streams:
            parts.append(o.text)
        elif o.output_type in ("execute_result", "display_data"):
            parts.append(o.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def _html(cell) -> str:
    return "\n".join(o.get("data", {}).get("text/html", "") for o in cell.get("outputs", [])
                     if o.output_type in ("execute_result", "display_data"))


def _pngs(cell) -> list[bytes]:
    return [base64.b64decode(o["data"]["image/png"]) for o in cell.get("outputs", [])
            if o.output_type in ("execute_result", "display_data") and "image/png" in o.get("data", {})]


def _markdown_near(nb, cell, before: bool, within: int = 2) -> bool:
    k = nb.cells.index(cell)
    near = nb.cells[max(0, k - within):k] if before else nb.cells[k + 1:k + 1 + within]
    return any(c.cell_type == "markdown" and c.source.strip() for c in near)


# --------------------------------------------------------------------------- what each notebook promises
def _check_01(nb):
    assert "status: optimal" in _text(_cell(nb, "solve"))
    table = _text(_cell(nb, "aligned"))
    assert "off" in table and "aligned" in table and "noncoterminous" in table
    for cid in ("pop-chart", "map-off", "map-aligned"):
        assert _pngs(_cell(nb, cid)), cid


def _check_02(nb):
    assert "optimal" in _text(_cell(nb, "merge")) and "merges 6" in _text(_cell(nb, "merge"))
    assert _text(_cell(nb, "nested")).startswith("infeasible")
    assert _pngs(_cell(nb, "map"))
    html = _html(_cell(nb, "explore"))
    assert "leaflet" in html.lower(), "explore() showed no interactive map"
    tyne = _cell(nb, "tyne")
    assert "crossings=500: 301 LSOAs in 1 connected piece" in _text(tyne)
    assert _pngs(tyne)


def _check_03(nb):
    years = _text(_cell(nb, "inflation-runs"))
    assert "None" not in years
    shown = {int(y) for y in re.findall(r"\b(20[12]\d)\b", years)}
    assert shown == set(range(2013, 2022)), f"inflation years shown: {sorted(shown)}"
    solved = _text(_cell(nb, "inflation-solve"))
    assert "statuses: optimal 18" in solved, solved
    assert {int(y) for y in re.findall(r"\b(20[12]\d)\b", solved)} == set(range(2013, 2022))
    for cid in ("curve", "inflation-chart", "pareto-chart"):
        assert _pngs(_cell(nb, cid)), cid


def _check_04(nb):
    focused = _cell(nb, "focused")
    plain = _text(focused)
    assert "..." not in plain and "\u2026" not in plain, "the focused table is truncated"
    columns = re.findall(r"<th>([a-z_]+)</th>", _html(focused))
    assert {"ari", "precision", "recall", "partner_agreement"} <= set(columns), columns
    assert len(set(columns)) <= 12, f"not a focused table: {columns}"
    words = _cell(nb, "metrics-md").source
    assert "adjusted Rand index" in words
    for col in set(columns) - {"configuration"}:
        assert f"**{col}**" in words, f"column {col!r} of the table is not explained in the markdown"
    assert "closest optimal plan is" in _text(_cell(nb, "scan"))
    for cid in ("scan-chart", "map-2021", "map-best"):
        assert _pngs(_cell(nb, cid)), cid


def _check_05(nb):
    statuses = _text(_cell(nb, "run"))
    assert "optimal" in statuses
    m = re.search(r"Recommended setting: (\S+) \((\d+)/(\d+) cases proven optimal", _text(_cell(nb, "rank")))
    assert m, _text(_cell(nb, "rank"))
    assert int(m.group(2)) == int(m.group(3)) >= 3, "the recommended setting did not prove every case"
    assert _pngs(_cell(nb, "chart"))


CHECKS = {
    "01_quickstart_synthetic.ipynb": _check_01,
    "02_england_2013.ipynb": _check_02,
    "03_allowance_and_inflation_sweep.ipynb": _check_03,
    "04_what_really_happened.ipynb": _check_04,
    "05_solver_tuning.ipynb": _check_05,
}


# --------------------------------------------------------------------------- tests
def test_there_are_notebooks():
    assert {p.name for p in NOTEBOOKS} == set(CHECKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_source(path):
    """Committed without outputs, and with no blanket warning filter."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for c in _code_cells(nb):
        assert not c.get("outputs") and c.get("execution_count") is None, f"{path.name} has committed outputs"
        for args in FILTER_CALL.findall(c.source):
            if "ignore" in args:
                assert re.search(r"category|message|Warning", args), (
                    f"{path.name}: a blanket warnings filter ({args.strip()}); name the warning and say why")
    assert "%matplotlib inline" in _code_cells(nb)[0].source, f"{path.name}: the first cell must engage the inline backend"
    assert sum(c.cell_type == "markdown" for c in nb.cells) >= 4, f"{path.name} has too little story"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_and_shows_its_pictures(path, tmp_path):
    if path.name not in SYNTHETIC_ONLY and not has_real_data():
        if _ci():
            pytest.fail("real data folder ../shared/data is missing in CI")
        pytest.skip("real data folder absent and CI unset")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()

    drawing = 0
    for c in _code_cells(nb):
        first = c.source.strip().splitlines()[0] if c.source.strip() else ""
        assert not [o for o in c.outputs if o.output_type == "error"], f"{path.name}: cell {first!r} failed"
        err = _text(c, streams=("stderr",))
        assert not WARNING_TEXT.search(err), f"{path.name}: cell {first!r} wrote a warning:\n{err[:2000]}"
        if DRAWS.search(c.source):
            drawing += 1
            pngs = _pngs(c)
            assert pngs, f"{path.name}: cell {first!r} draws but shows no inline image"
            assert all(p.startswith(b"\x89PNG") and len(p) > 10_000 for p in pngs), f"{path.name}: {first!r}: empty image"
            assert not any("<Figure size" in o.get("data", {}).get("text/plain", "") and "image/png" not in o.get("data", {})
                           for o in c.outputs if o.output_type in ("execute_result", "display_data"))
        if EXPLORES.search(c.source):
            drawing += 1
            assert "leaflet" in _html(c).lower(), f"{path.name}: cell {first!r} shows no interactive map"
        if DRAWS.search(c.source) or EXPLORES.search(c.source):
            assert _markdown_near(nb, c, before=True) and _markdown_near(nb, c, before=False), (
                f"{path.name}: the picture of cell {first!r} has no words around it")
    assert drawing, f"{path.name} shows no picture"
    CHECKS[path.name](nb)
