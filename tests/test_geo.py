"""Instances from geometry (ccgmerge.data.geo): drawn polygons with known edges, the
optional extra's import guard, and the real LSOA polygons against the shipped tables."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import pandas as pd
import pytest

import conftest
from ccgmerge.data import data_dir
from ccgmerge.errors import InstanceWarning, ValidationError

gpd = pytest.importorskip("geopandas", reason='needs the geo extra: pip install "ccgmerge[geo]"')
pytest.importorskip("libpysal")
from shapely.geometry import Polygon, box  # noqa: E402

from ccgmerge.data import from_geodataframe  # noqa: E402
from ccgmerge.data.geo import adjacency_from_polygons, membership_from_geometry, water_crossings  # noqa: E402

CRS = "EPSG:27700"


def gdf(shapes: dict, pop=None, crs=CRS, **cols):
    codes = list(shapes)
    return gpd.GeoDataFrame({"code": codes, "population": pop or [100] * len(codes), **cols},
                            geometry=list(shapes.values()), crs=crs)


def edges(df):
    """{(a, b): (kind, shared_m, gap_m)}"""
    return {(a, b): (k, s, g) for a, b, k, s, g in zip(df["a"], df["b"], df["kind"], df["shared_m"], df["gap_m"])}


# ---------------------------------------------------------------- a river between two banks
BANKS = {"N": box(0, 60, 100, 100), "S": box(0, 0, 100, 40)}  # a river 20 m wide between them


def test_river_no_rook_edge_without_crossings():
    assert edges(adjacency_from_polygons(gdf(BANKS), islands=None)) == {}


@pytest.mark.parametrize("crossings, expected", [(25, {("N", "S"): ("water", 0.0, 20.0)}), (20, {("N", "S"): ("water", 0.0, 20.0)}),
                                                 (19.9, {})])
def test_river_water_edge_when_crossings_reach_the_gap(crossings, expected):
    assert edges(adjacency_from_polygons(gdf(BANKS), crossings=crossings, islands=None)) == expected


def test_river_no_water_edge_across_a_third_polygon():
    # a long island in mid-river, 5 m from each bank: N-S's shortest line runs half its length over it
    shapes = {**BANKS, "M": box(-10, 45, 110, 55)}
    got = edges(adjacency_from_polygons(gdf(shapes), crossings=25, islands=None))
    assert got == {("M", "N"): ("water", 0.0, 5.0), ("M", "S"): ("water", 0.0, 5.0)}
    w = water_crossings(gdf(shapes), 25)
    assert list(zip(w["a"], w["b"])) == [("M", "N"), ("M", "S")] and (w["land_share"] == 0).all()
    # allowed when the share over land may reach 50%
    assert ("N", "S") in set(zip(*water_crossings(gdf(shapes), 25, max_land_share=0.5)[["a", "b"]].T.values))


def test_gap_along_a_third_polygons_edge_is_over_water():
    # the only shortest line A-B, (10, 0)-(30, 0), runs along C's top edge: beside C, not over it
    shapes = {"A": Polygon([(0, 0), (10, 0), (0, 10)]), "B": Polygon([(30, 0), (40, 0), (40, 10)]),
              "C": box(10, -20, 30, 0)}
    got = edges(adjacency_from_polygons(gdf(shapes), crossings=25, islands=None))
    assert got == {("A", "B"): ("water", 0.0, 20.0)}  # A-C and B-C touch at a corner only: no rook edge
    assert water_crossings(gdf(shapes), 25)["land_share"].tolist() == [0.0]


def test_gap_along_an_edge_between_two_polygons_is_over_land():
    # the same shortest line runs between C and D, along their shared edge: land on both sides
    shapes = {"A": Polygon([(0, 0), (10, 0), (0, 10)]), "B": Polygon([(30, 0), (40, 0), (40, 10)]),
              "C": box(10, 0, 30, 10), "D": box(10, -10, 30, 0)}
    got = edges(adjacency_from_polygons(gdf(shapes), crossings=25, islands=None))
    assert got == {("C", "D"): ("boundary", 20.0, 0.0)}
    assert water_crossings(gdf(shapes), 25, max_land_share=1)[["a", "b", "land_share"]].values.tolist() == [
        ["A", "B", 1.0]]


def test_river_with_islands_nearest_is_an_island_edge():
    got = edges(adjacency_from_polygons(gdf(BANKS)))
    assert got == {("N", "S"): ("island", 0.0, 20.0)}


# ---------------------------------------------------------------- corners and short boundaries
CORNER = {"A": box(0, 0, 10, 10), "B": box(10, 10, 20, 20), "C": box(10, 0, 20, 4), "D": box(10, 4, 20, 10)}


def test_corner_contact_only_with_queen():
    rook = edges(adjacency_from_polygons(gdf(CORNER), islands=None))
    assert rook == {("A", "C"): ("boundary", 4.0, 0.0), ("A", "D"): ("boundary", 6.0, 0.0),
                    ("B", "D"): ("boundary", 10.0, 0.0), ("C", "D"): ("boundary", 10.0, 0.0)}
    queen = edges(adjacency_from_polygons(gdf(CORNER), contiguity="queen", islands=None))
    assert queen == {**rook, ("A", "B"): ("corner", 0.0, 0.0)}


def test_minimum_shared_boundary():
    # A-C share 4 m, A-D 6 m
    rook = edges(adjacency_from_polygons(gdf(CORNER), min_shared_boundary_m=5, islands=None))
    assert set(rook) == {("A", "D"), ("B", "D"), ("C", "D")}
    queen = edges(adjacency_from_polygons(gdf(CORNER), contiguity="queen", min_shared_boundary_m=5, islands=None))
    assert queen[("A", "C")] == ("corner", 4.0, 0.0) and queen[("A", "B")] == ("corner", 0.0, 0.0)
    assert queen[("A", "D")] == ("boundary", 6.0, 0.0)


def test_tolerance_joins_near_misses():
    shapes = {"A": box(0, 0, 10, 10), "B": box(10.5, 0, 20, 10)}  # 0.5 m apart along 10 m
    assert edges(adjacency_from_polygons(gdf(shapes), islands=None)) == {}
    got = edges(adjacency_from_polygons(gdf(shapes), tolerance_m=1, islands=None))
    # each boundary within 1 m of the other: the facing side (10 m) and 0.5 m of the two sides beside it
    assert got == {("A", "B"): ("boundary", 11.0, 0.0)}


# ---------------------------------------------------------------- an island
ISLAND = {"A": box(0, 0, 10, 10), "B": box(10, 0, 20, 10), "I": box(50, 0, 55, 5), "J": box(0, 40, 5, 45)}


def test_island_joined_to_nearest_unit():
    got = edges(adjacency_from_polygons(gdf(ISLAND)))
    assert got == {("A", "B"): ("boundary", 10.0, 0.0), ("B", "I"): ("island", 0.0, 30.0),
                   ("A", "J"): ("island", 0.0, 30.0)}


def test_island_left_apart_without_islands():
    got = edges(adjacency_from_polygons(gdf(ISLAND), islands=None))
    assert got == {("A", "B"): ("boundary", 10.0, 0.0)}
    with pytest.warns(InstanceWarning):
        inst = from_geodataframe(gdf(ISLAND), islands=None)
    assert len(inst.components()) == 3


def test_water_before_islands():
    got = edges(adjacency_from_polygons(gdf(ISLAND), crossings=30))
    assert got[("B", "I")] == ("water", 0.0, 30.0) and got[("A", "J")] == ("water", 0.0, 30.0)


# ---------------------------------------------------------------- membership
UNITS = {"U1": box(0, 0, 10, 10), "U2": box(10, 0, 20, 10)}
AREAS = gpd.GeoDataFrame({"code": ["X", "Y"], "label": ["Ex", "Why"]},
                         geometry=[box(0, 0, 14, 10), box(14, 0, 20, 10)], crs=CRS)


def test_membership_by_point():
    units = gdf(UNITS, pop=[100, 101], px=[5, 13], py=[5, 5])
    m = membership_from_geometry(units, AREAS, points=("px", "py"))
    assert m.values.tolist() == [["U1", "X", 100], ["U2", "X", 101]]
    m = membership_from_geometry(units.assign(px=[5, 17]), AREAS, points=("px", "py"))
    assert m.values.tolist() == [["U1", "X", 100], ["U2", "Y", 101]]


def test_membership_by_point_outside_every_area_goes_to_the_nearest():
    units = gdf({"U1": box(0, 0, 10, 10), "U3": box(30, 0, 40, 10)}, pop=[5, 7])
    m = membership_from_geometry(units, AREAS)
    assert m.values.tolist() == [["U1", "X", 5], ["U3", "Y", 7]]


def test_membership_by_overlay_whole_people():
    m = membership_from_geometry(gdf(UNITS, pop=[100, 101]), AREAS, method="overlay")
    assert m.values.tolist() == [["U1", "X", 100], ["U2", "X", 40], ["U2", "Y", 61]]


def test_overlay_drops_slivers():
    areas = AREAS.set_geometry([box(0, 0, 10.05, 10), box(10.05, 0, 20, 10)])  # U2 has 0.5% in X
    units = gdf(UNITS, pop=[100, 1000])
    assert membership_from_geometry(units, areas, method="overlay").values.tolist() == [
        ["U1", "X", 100], ["U2", "Y", 1000]]
    assert membership_from_geometry(units, areas, method="overlay", min_share=0).values.tolist() == [
        ["U1", "X", 100], ["U2", "X", 5], ["U2", "Y", 995]]


def test_from_geodataframe_builds_an_instance():
    units = gdf(UNITS, pop=[100, 101], ccg=["G1", "G1"], lad=["L1", "L2"])
    inst = from_geodataframe(units, areas=AREAS, area_name="label", membership="overlay", baseline="ccg",
                             instance_name="two")
    assert inst.name == "two" and inst.unit_codes == ("U1", "U2")
    assert inst.areas["name"].to_dict() == {"X": "Ex", "Y": "Why"}
    assert inst.areas["population"].to_dict() == {"X": 140, "Y": 61}
    assert inst.baseline.to_dict() == {"U1": "G1", "U2": "G1"}
    assert inst.units["lad"].tolist() == ["L1", "L2"]
    assert inst.adjacency[["a", "b", "kind", "shared_m", "gap_m"]].values.tolist() == [["U1", "U2", "boundary", 10.0, 0.0]]
    by_column = from_geodataframe(units, areas="lad")
    assert by_column.membership.values.tolist() == [["U1", "L1", 100], ["U2", "L2", 101]]
    alone = from_geodataframe(units)
    assert alone.area_codes == ("ALL",) and alone.total_population == 201


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("crs, word", [(None, "no CRS"), ("EPSG:4326", "EPSG:4326")])
def test_crs_must_be_projected_metres(crs, word):
    with pytest.raises(ValidationError, match=word):
        adjacency_from_polygons(gdf(BANKS, crs=crs))
    with pytest.raises(ValidationError, match=word):
        from_geodataframe(gdf(BANKS, crs=crs))


def test_crs_in_feet_is_rejected():
    with pytest.raises(ValidationError, match="not projected in metres"):
        adjacency_from_polygons(gdf(BANKS, crs="EPSG:2263"))  # New York State Plane, US feet


@pytest.mark.parametrize("kw, name", [({"crossings": -1}, "crossings"), ({"crossings": math.nan}, "crossings"),
                                      ({"crossings": math.inf}, "crossings"), ({"crossings": "500"}, "crossings"),
                                      ({"min_shared_boundary_m": -0.5}, "min_shared_boundary_m"),
                                      ({"tolerance_m": math.nan}, "tolerance_m"),
                                      ({"contiguity": "bishop"}, "contiguity"), ({"islands": "all"}, "islands")])
def test_bad_arguments(kw, name):
    with pytest.raises(ValidationError, match=name) as err:
        adjacency_from_polygons(gdf(BANKS), **kw)
    assert err.value.items == (name,)


def test_invalid_and_duplicate_units():
    with pytest.raises(ValidationError, match="duplicate codes"):
        adjacency_from_polygons(gdf(BANKS).assign(code=["N", "N"]))
    bow = gpd.GeoSeries.from_wkt(["POLYGON ((0 0, 10 10, 10 0, 0 10, 0 0))"])[0]
    with pytest.raises(ValidationError, match="make_valid"):
        adjacency_from_polygons(gdf({"A": box(0, 0, 1, 1), "B": bow}))


def test_missing_extra_names_the_install(monkeypatch):
    for mod in ("libpysal", "libpysal.graph"):
        monkeypatch.setitem(sys.modules, mod, None)
    with pytest.raises(ImportError, match=r'pip install "ccgmerge\[geo\]"'):
        adjacency_from_polygons(gdf(BANKS))
    with pytest.raises(ImportError, match=r'pip install "ccgmerge\[geo\]"'):
        from_geodataframe(gdf(BANKS))


def test_importing_ccgmerge_does_not_import_the_geo_stack():
    code = ("import sys, ccgmerge, ccgmerge.data, ccgmerge.data.geo; "
            "print(sorted(m for m in ('geopandas', 'libpysal', 'shapely', 'pyogrio') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- the real LSOA polygons
HWBS = {"tyne": ["E08000021", "E08000037"], "halton": ["E06000006"], "kent_medway": ["E10000016", "E06000035"]}


@pytest.fixture(scope="module")
def lsoa_tables():
    d = data_dir()
    e = pd.read_csv(d / "lsoa11_adjacency.csv.gz", dtype=str)
    w = pd.read_csv(d / "lsoa11_water_crossings.csv.gz", dtype={"lsoa11_a": str, "lsoa11_b": str})
    return e, w


def _read(hwbs):
    f = conftest.require_geometry("lsoa11_boundaries.gpkg")
    where = "hwb_code IN (" + ",".join(f"'{h}'" for h in hwbs) + ")"
    return gpd.read_file(f, where=where)


@pytest.mark.parametrize("key", list(HWBS))
def test_real_polygons_recover_the_shipped_boundary_pairs(key, lsoa_tables):
    g = _read(HWBS[key])
    e, _ = lsoa_tables
    codes = set(g["lsoa11_code"])
    e = e[(e["edge_type"] == "boundary") & e["lsoa11_a"].isin(codes) & e["lsoa11_b"].isin(codes)]
    shipped = set(zip(e["lsoa11_a"], e["lsoa11_b"]))
    rook = adjacency_from_polygons(g, code="lsoa11_code", islands=None)
    queen = adjacency_from_polygons(g, code="lsoa11_code", contiguity="queen", islands=None)
    near = adjacency_from_polygons(g, code="lsoa11_code", contiguity="queen", tolerance_m=2, islands=None)
    got = {k: set(zip(x["a"], x["b"])) for k, x in (("rook", rook), ("queen", queen), ("near", near))}
    # never a pair the shipped table lacks; queen misses only pairs 0-2 m apart; at 2 m (as built) all of them
    assert got["rook"] <= got["queen"] <= shipped
    assert got["near"] == shipped
    assert len(got["queen"]) >= 0.99 * len(shipped)
    # every shipped point contact (< 10 m) is a corner or a short boundary; min_shared=10 drops them from rook
    pc = e[e["point_contact"] == "True"]
    assert set(zip(pc["lsoa11_a"], pc["lsoa11_b"])) & got["queen"] <= set(zip(queen["a"], queen["b"]))
    r10 = adjacency_from_polygons(g, code="lsoa11_code", min_shared_boundary_m=10, islands=None)
    assert (r10["shared_m"] >= 10).all()


@pytest.mark.parametrize("key", list(HWBS))
def test_real_polygons_recover_the_shipped_water_crossings(key, lsoa_tables):
    g = _read(HWBS[key])
    _, w = lsoa_tables
    codes = set(g["lsoa11_code"])
    w = w[w["lsoa11_a"].isin(codes) & w["lsoa11_b"].isin(codes)]
    # gaps on the 20 m-simplified polygons differ by up to 49 m from the shipped (unsimplified) ones
    found = water_crossings(g, 3050, code="lsoa11_code").set_index(["a", "b"])["gap_m"]
    shipped = w.set_index(["lsoa11_a", "lsoa11_b"])["distance_m"]
    assert len(shipped) > 0 and set(shipped.index) <= set(found.index)
    assert (found.reindex(shipped.index) - shipped).abs().max() < 50


def test_real_tyne_before_and_after():
    g = _read(HWBS["tyne"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InstanceWarning)
        before = from_geodataframe(g, code="lsoa11_code", population="population_mid2012", name="lsoa11_name",
                                   areas="hwb_code", baseline="ccg13_code", islands=None, contiguity="queen")
    after = from_geodataframe(g, code="lsoa11_code", population="population_mid2012", name="lsoa11_name",
                              areas="hwb_code", baseline="ccg13_code", islands=None, contiguity="queen", crossings=500)
    assert len(before.components()) == 2 and after.is_connected()
    hwb = dict(zip(g["lsoa11_code"], g["hwb_code"]))
    water = after.adjacency[after.adjacency["kind"] == "water"]
    across = water[water["a"].map(hwb) != water["b"].map(hwb)]
    assert across["gap_m"].min() == pytest.approx(93.1, abs=5)  # Gateshead 005C - Newcastle 021G, 93.1 m
    assert before.n_baseline_groups == 3 and before.total_population == after.total_population
