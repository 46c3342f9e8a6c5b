"""Pictures: files written, sizes, map with real boundaries, fallbacks."""

from __future__ import annotations

import struct
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

import conftest  # noqa: E402
from ccgmerge.analysis.compare import configuration_plan  # noqa: E402
from ccgmerge.engine.solve import solve  # noqa: E402
from ccgmerge.plots import frames, maps, style  # noqa: E402
from ccgmerge.plots import (  # noqa: E402
    MODE_COLOURS,
    PALETTE,
    UNMERGED_COLOUR,
    explore,
    group_colours,
    group_key,
    plan_geodataframe,
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
    # issue 16: runs without a plan are summarised per mode, not listed one by one
    assert "aligned: no plan at 1 allowance" in labels
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
    # issue 16: 11 inches wide as before, but no longer 10 tall: the default height is trimmed to the map and its key
    width, height = png_size(tmp_path / "map.png")
    assert width == 440 and 280 <= height < 400
    assert (tmp_path / "map.png").stat().st_size > 20_000
    main = fig.axes[0]
    assert main.get_aspect() == 1.0  # issue 16: British National Grid (metres both ways), no longer lon/lat stretched
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
    width, height = png_size(tmp_path / "json.png")  # issue 16: the height is trimmed (see test_real_map)
    assert width == 440 and 280 <= height < 400
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


# --------------------------------------------------------------------------- issue 16: readable maps
def _map_numbers(fig) -> list[int]:
    """The group numbers written on the map and its inset (annotations that start with a number)."""
    out = []
    axes = [fig.axes[0], *fig.axes[0].child_axes]
    for ax in axes:
        for t in ax.texts:
            head = t.get_text().split(" ")[0]
            if head.isdigit() and not t.get_text().endswith(" km"):  # not the scale bar
                out.append(int(head))
    return out


def test_real_map_numbers_and_keys_every_group(tmp_path, real_plan, ccg2013_boundaries, hwb2013_boundaries):
    fig = plot_plan_map(real_plan, tmp_path / "map.png", dpi=40)
    n = len(real_plan.groups)
    assert sorted(_map_numbers(fig)) == list(range(1, n + 1))  # every group has its number on the map, once
    inset = fig.axes[0].child_axes[0]
    assert "London" in inset.get_title(loc="left")
    assert sum(t.get_text().isdigit() for t in inset.texts) >= 10  # London's groups are numbered in the inset
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    numbered = [t for t in texts if t.replace("\u2007", " ").strip().split(" ")[0].isdigit()]
    assert len(numbered) == n  # the key covers every group, not only the largest
    assert any("Contains OS data" in t.get_text() and "OGL v3.0" in t.get_text() for t in fig.axes[0].texts)
    key = pd.read_csv(tmp_path / "map-key.csv")
    assert list(key["number"]) == list(range(1, n + 1)) and key["population"].sum() == real_plan.instance.total_population
    title = fig.axes[0].get_title(loc="left")
    assert "211 CCGs merged into 101 groups" in title and "at least 300,000 people" in title


def test_neighbouring_groups_differ_in_colour_on_the_map(real_plan):
    key = group_key(real_plan)
    colour = dict(zip(key["position"], key["colour"]))
    gid = np.empty(real_plan.instance.n_units, int)
    for k, g in enumerate(real_plan.groups):
        gid[list(g)] = k
    for i, j in real_plan.instance.edges:
        a, b = gid[i], gid[j]
        if a != b and len(real_plan.groups[a]) > 1 and len(real_plan.groups[b]) > 1:
            assert colour[a] != colour[b]


def test_group_key(real_plan, synthetic_plan):
    for plan in (real_plan, synthetic_plan):
        key = group_key(plan)
        assert list(key["number"]) == list(range(1, len(plan.groups) + 1))
        assert sorted(key["position"]) == list(range(len(plan.groups)))
        merged = key["merged"].to_numpy()
        assert not (~merged[:-1] & merged[1:]).any()  # merged groups first
        assert key["moved"].sum() == plan.metrics["moved"]
    key = group_key(real_plan)
    west_kent = key[key["members"].str.contains("99J")].iloc[0]
    assert west_kent["name"] == "NHS West Kent" and west_kent["allowance"] == 25 * west_kent["population"]
    assert (key["margin"] == key["allowance"] - key["cost"]).all()


def test_lonlat_to_bng_matches_pyproj():
    pyproj = pytest.importorskip("pyproj")
    from ccgmerge.plots.geometry import lonlat_to_bng

    lon, lat = np.array([-5.7, -1.5, 1.75, -2.9, 0.0]), np.array([50.06, 53.0, 52.5, 55.8, 51.5])
    e, n = lonlat_to_bng(lon, lat)
    ee, nn = pyproj.Transformer.from_crs(4326, 27700, always_xy=True).transform(lon, lat)
    assert np.abs(e - ee).max() < 1 and np.abs(n - nn).max() < 1


@pytest.fixture(scope="module")
def kent_plan(data_path):
    """The 902 LSOAs of Kent in their 2013 CCGs, with a few border LSOAs moved to a neighbouring CCG's group
    (each move keeps both groups connected): an LSOA plan with a baseline, without a 30 s solve."""
    from ccgmerge.data import load_lsoa2013
    from plans import moved_border_plan

    inst = load_lsoa2013(data_path, hwbs=["E10000016"])
    plan = moved_border_plan(inst, 12, Scenario(floor=1, objective="moved"))
    assert plan.ok and plan.metrics["moved"] > 0
    return plan


def test_lsoa_map_on_polygons_with_moved_lsoas(tmp_path, kent_plan):
    conftest.require_geometry("lsoa11_boundaries.gpkg")
    if maps.geopandas_or_none() is None:
        pytest.skip("LSOA polygons are read with geopandas")
    fig = plot_plan_map(kent_plan, tmp_path / "kent.png", dpi=40)
    paths = _collections(fig, "PathCollection")
    assert len(paths[0].get_paths()) == 902  # drawn on the LSOA polygons, not as a spring layout
    assert fig.axes[0].get_aspect() == 1.0 and fig.axes[0].get_xlim()[0] > 500_000  # BNG metres (Kent)
    moved = int(frames.moved_units(kent_plan).sum())
    hatched = [c for c in paths if c.get_hatch()]
    assert len(hatched) == 1 and len(hatched[0].get_paths()) == moved
    key = group_key(kent_plan)
    words = [t.get_text() for t in fig.axes[0].texts]
    for _, r in key.iterrows():  # each group named on the map by the 2013 CCG it continues
        assert any(w.startswith(f"{r['number']} ") and r["label"] in w for w in words)
    assert "NHS West Kent" in set(key["name"])
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(t.startswith(f"moved LSOAs ({moved})") for t in legend) and "2013 CCG boundary" in legend
    assert key["moved"].sum() == kent_plan.metrics["moved"]


def test_plan_geodataframe(real_plan, ccg2013_boundaries):
    if maps.geopandas_or_none() is None:
        pytest.skip("needs geopandas")
    gdf = plan_geodataframe(real_plan)
    assert len(gdf) == len(real_plan.groups) and gdf.crs.to_epsg() == 27700
    assert gdf.geometry.notna().all() and {"number", "name", "population", "margin", "hwbs", "moved"} <= set(gdf.columns)
    units = plan_geodataframe(real_plan, units=True, crs=4326)
    assert len(units) == real_plan.instance.n_units and units.crs.to_epsg() == 4326
    assert units.groupby("number")["unit"].count().sum() == 211


def test_explore(real_plan, ccg2013_boundaries):
    pytest.importorskip("folium")
    pytest.importorskip("mapclassify")
    if maps.geopandas_or_none() is None:
        pytest.skip("needs geopandas")
    m = explore(real_plan, tiles=None)
    html = m.get_root().render()
    assert "North Tyneside" in html and html.count('"number":') >= len(real_plan.groups)


# --------------------------------------------------------------------------- issue 16: charts
@pytest.fixture
def nested_sweep():
    rows = []
    for cot in ("off", "aligned", "nested"):
        for a in (10, 15, 20, 25, 30, 35):
            groups = np.nan if cot == "nested" or (cot == "aligned" and a == 10) else 100 + 3 * a - (5 if cot == "aligned" else 0)
            rows.append({"allowance_per_head": a, "coterminosity": cot, "groups": groups,
                         "floor_population": int(2_500_000 / a), "merges": 211 - groups,
                         "noncoterminous": np.nan if groups != groups else 3_000_000 - 10_000 * a})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("y", ["groups", "merges", "noncoterminous"])
def test_allowance_curve_infeasible_mode_keeps_axes_and_legend(tmp_path, nested_sweep, y):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "constrained_layout not applied" was the squeezed strip
        fig = plot_allowance_curve(nested_sweep, y=y, path=tmp_path / "c.png", dpi=60)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["aligned", "off", "aligned: no plan at 1 allowance", "nested: no plan at 6 allowances"]
    pos = ax.get_position()
    assert pos.width > 0.5 and pos.height > 0.5  # not squeezed into a strip
    assert ax.get_xlabel() == "allowance per head (\u00a3)"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["\u00a310", "\u00a315", "\u00a320", "\u00a325", "\u00a330",
                                                            "\u00a335"]


def test_allowance_curve_ticks_never_overlap(tmp_path):
    xs = np.round(np.arange(8, 40.01, 0.5), 2)
    df = pd.DataFrame({"allowance_per_head": np.tile(xs, 2), "coterminosity": ["off"] * len(xs) + ["aligned"] * len(xs),
                       "groups": np.r_[np.linspace(90, 211, len(xs)), np.linspace(85, 205, len(xs))],
                       "floor_population": np.tile((2_500_000 / xs).astype(int), 2)})
    fig = plot_allowance_curve(df, path=tmp_path / "many.png", dpi=80)
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    for axis in [ax.xaxis, *(c.xaxis for c in ax.child_axes)]:
        boxes = [t.get_window_extent(renderer) for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
        boxes = [b for b in boxes if ax.bbox.x0 - 5 <= (b.x0 + b.x1) / 2 <= ax.bbox.x1 + 5]
        assert len(boxes) >= 3
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_one_colour_per_mode_in_every_chart(nested_sweep, sweep_table):
    from matplotlib.colors import to_hex

    def colours(fig):
        ax = fig.axes[0]
        out = {}
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if hasattr(h, "get_facecolor"):  # scatter
                c = h.get_facecolor() if len(h.get_facecolor()) else h.get_edgecolor()
                c = c[0]
            else:
                c = h.get_color()
            out[lab.split(":")[0].replace(" plans", "")] = to_hex(c)
        return out

    a = colours(plot_allowance_curve(nested_sweep))
    b = colours(plot_allowance_curve(sweep_table[sweep_table.coterminosity == "aligned"]))
    c = colours(plot_pareto(nested_sweep.dropna()))
    assert a["aligned"] == b["aligned"] == c["aligned"] == MODE_COLOURS["aligned"]
    assert a["off"] == c["off"] == MODE_COLOURS["off"] and a["nested"] == MODE_COLOURS["nested"]
    assert len(set(MODE_COLOURS.values())) == len(MODE_COLOURS)


# --------------------------------------------------------------------------- the title never runs into the key
def _title_and_key(fig):
    """Window extents of the map's title, the key's heading and the whole key, with the layout drawn."""
    from matplotlib.text import Text

    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    title = next(c for c in ax.get_children()
                 if isinstance(c, Text) and c.get_text() and c.get_text() == ax.get_title(loc="left"))
    key = fig.legends[0]
    return (title.get_window_extent(renderer), key.get_title().get_window_extent(renderer),
            key.get_window_extent(renderer))


def _assert_apart(fig):
    title, heading, key = _title_and_key(fig)
    assert "groups, numbered north to south" in fig.legends[0].get_title().get_text()
    assert title.width > 0 and heading.width > 0
    assert not title.overlaps(heading), (title, heading)
    assert not title.overlaps(key), (title, key)
    assert title.x1 <= fig.bbox.x1 and title.y1 <= fig.bbox.y1 + 1  # inside the picture, not cut off


def test_map_title_never_runs_into_the_key_england_150k_aligned(tmp_path, ccg2013, ccg2013_boundaries,
                                                                hwb2013_boundaries):
    """England 2013 at 150,000, aligned: the title's second line ran into the key's heading."""
    plan = solve(ccg2013, Scenario(floor=150_000, coterminosity="aligned"))
    fig = plot_plan_map(plan, tmp_path / "m.png", dpi=40)
    _assert_apart(fig)
    title = fig.axes[0].get_title(loc="left")
    assert "211 CCGs merged into" in title and "at least 150,000 people" in title.replace("\n", " ")


def test_long_given_title_never_runs_into_the_key(tmp_path, synthetic_plan):
    """A long two-line title given by the caller is wrapped to end left of the key, measured with the renderer."""
    long = ("A deliberately long first line of a title that would run far across the key beside the map " * 2
            + "\nand a second line that is just as long, to run into the key's heading as well " * 2)
    fig = plot_plan_map(synthetic_plan, tmp_path / "t.png", dpi=40, title=long)
    _assert_apart(fig)
    assert fig.axes[0].get_title(loc="left").split() == long.split()  # rewrapped, no word lost


def test_plan_to_geodataframe_and_explore_delegate_to_the_pictures():
    """``plan.to_geodataframe()`` and ``plan.explore()`` (for notebooks) give what
    ``ccgmerge.plots`` gives: one row per group in British National Grid, a Leaflet map."""
    from ccgmerge import Scenario, load_ccg2013, solve
    from ccgmerge.plots import plan_geodataframe

    plan = solve(load_ccg2013(), Scenario(floor=300_000, coterminosity="aligned"))
    gdf = plan.to_geodataframe()
    assert len(gdf) == len(plan.groups) == 101 and gdf.crs.to_epsg() == 27700
    assert gdf.drop(columns="geometry").equals(plan_geodataframe(plan).drop(columns="geometry"))
    html = plan.explore(tiles=None).get_root().render()
    assert "L.map" in html and "NHS West Kent" in html
