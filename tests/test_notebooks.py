"""Execute every notebook in notebooks/ (no outputs are committed; they are
run here, in a temporary folder, and any cell error fails the test)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

from ccgmerge.data import has_real_data  # noqa: E402

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
SYNTHETIC_ONLY = {"01_quickstart_synthetic.ipynb"}


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    if path.name not in SYNTHETIC_ONLY and not has_real_data():
        if _ci():
            pytest.fail("real data folder ../shared/data is missing in CI")
        pytest.skip("real data folder absent and CI unset")
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{path.name} has committed outputs"
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    pngs = sorted(tmp_path.glob("*.png"))
    # notebooks that draw pictures write them as PNG files
    draws = any("plot_" in "".join(c.source) for c in nb.cells if c.cell_type == "code")
    if draws:
        assert pngs and all(p.stat().st_size > 1000 for p in pngs), f"{path.name} wrote no PNG"


def test_there_are_notebooks():
    names = {p.name for p in NOTEBOOKS}
    assert {"01_quickstart_synthetic.ipynb", "02_england_2013.ipynb", "04_what_really_happened.ipynb"} <= names
