"""Pictures: files written, sizes, map with real boundaries, fallbacks."""

from __future__ import annotations

import struct
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from ccgmerge.analysis.compare import configuration_plan  # noqa: E402
from ccgmerge.engine.solve import solve  # noqa: E402
from ccgmerge.plots import maps, style  # noqa: E402
from ccgmerge.plots import (  # noqa: E402
    PALETTE,
    UNMERGED_COLOUR,
    group_colours,
    pareto_front,
    plot_allowance_curve,
    plot_group_populations,
    plot_pareto,
    plot_plan_map,
)
from ccgmerge.scenario import Scenario  # noqa: E402
from ccgmerge.data.synthetic import generate  # noqa: E402


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def synthetic_plan():
    inst = generate(40, seed=5)
    plan = solve(inst, Scenario(floor=450_000))
    assert plan.ok
    return plan


@pytest.fixture(scope="module")
def real_plan(ccg2013):
    plan = solve(ccg2013, Scenario(floor=300_000, coterminosity="aligned"))
    assert plan.ok
    return plan


@pytest.fixture
def sweep_table():
    rows = []
    for cot in ("off", "aligned"):
        for a in (20, 25, 30, 35, 40):
            groups = np.nan if (cot == "aligned" and a == 20) else 200 - (40 - a) - (3 if cot == "aligned" else 0)
            rows.append({"allowance_per_head": a, "coterminosity": cot, "groups": groups,
                         "floor_population": int(2_500_000 / a), "merges": 211 - groups if groups == groups else np.nan,
                         "noncoterminous": 3_000_000 - 10_000 * a + (0 if cot == "aligned" else 50_000)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- files and sizes
def test_group_populations_png_and_svg(tmp_path, synthetic_plan):
    fig = plot_group_populations(synthetic_plan, tmp_path / "sizes.png", dpi=100, figsize=(8, 4))
    assert png_size(tmp_path / "sizes.png") == (800, 400)
    assert (tmp_path / "sizes.png").stat().st_size > 5_000
    assert not (tmp_path / "sizes.svg").exists()
    assert fig.axes and len(fig.axes[0].patches) >= len(synthetic_plan.groups)
    plot_group_populations(synthetic_plan, tmp_path / "sub" / "sizes.svg", dpi=50, figsize=(8, 4))
    assert png_size(tmp_path / "sub" / "sizes.png") == (400, 200)
    svg = (tmp_path / "sub" / "sizes.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    plot_group_populations(synthetic_plan, tmp_path / "again", svg=True, dpi=50, figsize=(8, 4))
    assert (tmp_path / "again.png").is_file() and (tmp_path / "again.svg").is_file()


def test_outputs_are_deterministic(tmp_path, synthetic_plan):
    plot_group_populations(synthetic_plan, tmp_path / "a.svg", dpi=60)
    plot_group_populations(synthetic_plan, tmp_path / "b.svg", dpi=60)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert (tmp_path / "a.svg").read_text() == (tmp_path / "b.svg").read_text()


def test_no_path_writes_nothing(tmp_path, synthetic_plan, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fig = plot_group_populations(synthetic_plan)
    assert list(tmp_path.iterdir()) == []
    assert fig.get_size_inches().tolist() == [10, 4.5]


def test_allowance_curve(tmp_path, sweep_table):
    fig = plot_allowance_curve(sweep_table, path=tmp_path / "curve.png", dpi=80)
    assert png_size(tmp_path / "curve.png") == (640, 400)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["aligned", "off"]
    assert any("no plan" in t and "aligned at allowance per head 20" in t for t in labels)
    assert [round(t) for t in ax.get_xticks()] == [20, 25, 30, 35, 40]
    # a single line without hue, and an error naming a missing column
    fig = plot_allowance_curve(sweep_table[sweep_table.coterminosity == "off"], hue=None)
    assert fig.axes[0].get_legend() is None
    with pytest.raises(KeyError, match="nope"):
        plot_allowance_curve(sweep_table, y="nope")


def test_pareto(tmp_path, sweep_table):
    front = pareto_front(pd.DataFrame({"a": [3, 1, 2, 2, 4], "b": [1, 5, 3, 2, 0]}), "a", "b")
    assert list(zip(front["a"], front["b"])) == [(1, 5), (2, 2), (3, 1), (4, 0)]
    fig = plot_pareto(sweep_table, tmp_path / "p.png", label="coterminosity", dpi=60)
    assert png_size(tmp_path / "p.png") == (420, 300)
    assert fig.axes[0].get_xlabel() == "merges"


def test_ax_argument_draws_into_given_axes(synthetic_plan):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 5))
    a1, a2 = fig.subplots(1, 2)
    assert plot_group_populations(synthetic_plan, ax=a1) is fig
    assert plot_plan_map(synthetic_plan, ax=a2) is fig
    assert len(fig.axes) == 2


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install "ccgmerge\[maps\]"'):
        style.require_matplotlib()


# --------------------------------------------------------------------------- colours
@pytest.mark.parametrize("which", ["synthetic_plan", "real_plan"])
def test_group_colours(which, request):
    for plan in (request.getfixturevalue(which),):
        col = group_colours(plan)
        assert col == group_colours(plan)  # deterministic
        gid = np.empty(plan.instance.n_units, int)
        for k, g in enumerate(plan.groups):
            gid[list(g)] = k
            assert (col[k] == UNMERGED_COLOUR) == (len(g) == 1)
            assert len(g) == 1 or col[k] in PALETTE
        for i, j in plan.instance.edges:
            a, b = gid[i], gid[j]
            if a != b and len(plan.groups[a]) > 1 and len(plan.groups[b]) > 1:
                assert col[a] != col[b], "neighbouring merged groups share a colour"


# --------------------------------------------------------------------------- maps
def _collections(fig, kind):
    return [c for ax in fig.axes for c in ax.collections if type(c).__name__ == kind]


def test_network_fallback_on_synthetic(tmp_path, synthetic_plan):
    fig = plot_plan_map(synthetic_plan, tmp_path / "net.png", dpi=50, figsize=(8, 6))
    assert png_size(tmp_path / "net.png") == (400, 300)
    assert len(_collections(fig, "LineCollection")) == 2  # edges between and inside groups
    ax = fig.axes[0]
    assert ax.get_aspect() == 1.0
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(t.startswith("unmerged") for t in texts) and "HWB boundary" not in texts


def test_real_map(tmp_path, real_plan, ccg2013_boundaries, hwb2013_boundaries):
    """With geopandas when installed, else the json fallback: same checks."""
    fig = plot_plan_map(real_plan, tmp_path / "map.png", dpi=40)
    assert png_size(tmp_path / "map.png") == (440, 400)
    assert (tmp_path / "map.png").stat().st_size > 20_000
    main = fig.axes[0]
    assert main.get_aspect() == pytest.approx(1 / np.cos(np.radians(52.85)), rel=0.01)  # lon stretched
    paths = _collections(fig, "PathCollection")
    assert len(paths[0].get_paths()) == 211  # units
    assert len(paths[1].get_paths()) == 152  # HWB outlines
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "HWB boundary" in texts and any("West Kent" in t for t in texts)
    assert len(fig.axes[0].child_axes) == 1  # London inset
    assert "101 groups" in main.get_title(loc="left")


def test_real_map_json_fallback(tmp_path, real_plan, monkeypatch, ccg2013_boundaries, hwb2013_boundaries):
    from matplotlib.image import imread

    with monkeypatch.context() as m:
        m.setattr(maps, "geopandas_or_none", lambda: None)
        fig = plot_plan_map(real_plan, tmp_path / "json.png", dpi=40)
    paths = _collections(fig, "PathCollection")
    assert [len(p.get_paths()) for p in paths[:2]] == [211, 152]
    assert png_size(tmp_path / "json.png") == (440, 400)
    if maps.geopandas_or_none() is None:
        return
    plot_plan_map(real_plan, tmp_path / "gpd.png", dpi=40)
    a, b = imread(tmp_path / "gpd.png"), imread(tmp_path / "json.png")
    assert a.shape == b.shape
    assert np.abs(a - b).mean() < 0.01  # the same picture, read two ways


def test_real_configuration_map_marks_rule_breakers(tmp_path, ccg2013, ccg2013_boundaries, hwb2013_boundaries):
    cp = configuration_plan(ccg2013, "ccg21")
    fig = plot_plan_map(cp, tmp_path / "ccg21.png", dpi=30, london_inset=False)
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "breaks a rule (1 group)" in texts
    red = _collections(fig, "PathCollection")[2]
    assert len(red.get_paths()) == 3  # 00F, 00G, 00H
    assert not fig.axes[0].child_axes
    assert "real configuration ccg21" in fig.axes[0].get_title(loc="left")


def test_missing_boundary_file_falls_back_to_network(tmp_path, real_plan, monkeypatch):
    monkeypatch.setattr(maps, "default_boundary_file", lambda name: None)
    fig = plot_plan_map(real_plan, tmp_path / "net.png", dpi=30)
    assert len(_collections(fig, "LineCollection")) == 2
    # nodes at the population centroids (lon/lat): aspect 1/cos(latitude)
    assert 1.5 < fig.axes[0].get_aspect() < 1.8


def test_explicit_boundaries_must_cover_units(synthetic_plan, ccg2013_boundaries):
    with pytest.raises(ValueError, match="boundaries lack 40 unit"):
        plot_plan_map(synthetic_plan, boundaries=ccg2013_boundaries)
