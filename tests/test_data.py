"""The real England data and the loaders of :mod:`ccgmerge.data`.

Every figure asserted here is documented in PROVENANCE.md / build_qa.json or
cross-checked between two files of the data folder. The tables ship with the
package, so these tests never skip; only the optional geometry may be absent
(skip locally, fail when ``CI`` is set; see ``tests/conftest.py``).
"""

from __future__ import annotations

import json
import re
import warnings

import networkx as nx
import numpy as np
import pandas as pd
import pytest

import conftest
from ccgmerge.data import (
    configuration_names,
    data_dir,
    data_locations,
    from_csv,
    from_folder,
    load_ccg2013,
    load_configuration,
    load_lsoa2013,
    load_lsoa_units,
    lsoa_unit_levels,
    to_csv,
)
from ccgmerge.data import paths
from ccgmerge.data.paths import GEOMETRY_FILES, geometry_file, has_real_data, packaged_data_dir
from ccgmerge.errors import DataNotFoundError, InstanceWarning, ValidationError

ENGLAND = 53_434_130

# Configuration name -> (year, level) in nhs_orgs_by_year.csv, and the number of
# organisations PROVENANCE.md gives.
CONFIGS = {
    "ccg15": (2015, "ccg", 209),
    "ccg16": (2016, "ccg", 209),
    "ccg17": (2017, "ccg", 207),
    "ccg18": (2018, "ccg", 195),
    "ccg19": (2019, "ccg", 191),
    "ccg20": (2020, "ccg", 135),
    "ccg21": (2021, "ccg", 106),
    "sub_icb22": (2022, "sub_icb", 106),
    "stp17": (2017, "stp", 44),
    "stp21": (2021, "stp", 42),
    "icb22": (2022, "icb", 42),
}


@pytest.fixture(scope="module")
def orgs(data_path):
    return pd.read_csv(data_path / "nhs_orgs_by_year.csv", dtype=str).astype({"year": int})


@pytest.fixture(scope="module")
def ccg_units(data_path):
    return pd.read_csv(data_path / "ccg2013_units.csv", dtype={"ccg_code": str})


# ------------------------------------------------------------- data folder
def test_default_data_folder_ends_with_the_packaged_tables(monkeypatch, tmp_path):
    monkeypatch.setenv("CCGMERGE_DATA", "")  # empty counts as unset
    monkeypatch.chdir(tmp_path)
    places = data_locations()
    assert places[-1] == packaged_data_dir() and places[:-1] == paths.shared_data_locations()
    assert data_dir() in places and has_real_data()
    # with no ../shared/data anywhere the packaged tables are used
    monkeypatch.setattr(paths, "shared_data_locations", lambda: [])
    assert data_locations() == [packaged_data_dir()]
    assert data_dir() == packaged_data_dir() and has_real_data()
    assert load_ccg2013().n_units == 211


def test_missing_data_folder_is_an_error_never_a_skip(tmp_path, monkeypatch):
    nowhere = tmp_path / "nowhere"
    monkeypatch.setenv("CCGMERGE_DATA", str(nowhere))
    assert data_locations() == [nowhere]  # no silent switch to another folder
    with pytest.raises(DataNotFoundError, match="nowhere") as info:
        data_dir()
    assert "CCGMERGE_DATA" in str(info.value) and str(packaged_data_dir()) in str(info.value)
    assert not has_real_data()
    with pytest.raises(DataNotFoundError, match="nowhere.*--data"):
        data_dir(nowhere)
    # the tables ship with the package: a missing folder fails the tests, locally and in CI
    for ci in ("", "true"):
        monkeypatch.setenv("CI", ci)
        with pytest.raises(pytest.fail.Exception, match="nowhere"):
            conftest.require_real_data()


def test_geometry_file_places_and_error(tmp_path, monkeypatch):
    name = "ccg2013_boundaries.geojson"
    assert name in GEOMETRY_FILES
    (tmp_path / "geo").mkdir()
    (tmp_path / "geo" / name).write_text("{}")
    assert geometry_file(name, tmp_path / "geo") == (tmp_path / "geo" / name).resolve()
    monkeypatch.setenv("CCGMERGE_DATA", str(tmp_path / "geo"))
    assert geometry_file(name) == (tmp_path / "geo" / name).resolve()
    # missing everywhere: the message names the file, every place and the fixes
    monkeypatch.setenv("CCGMERGE_DATA", str(tmp_path / "empty"))
    monkeypatch.setattr(paths, "shared_data_locations", lambda: [tmp_path / "shared"])
    with pytest.raises(DataNotFoundError) as info:
        geometry_file(name)
    msg = str(info.value)
    assert name in msg and str(tmp_path / "empty") in msg and str(tmp_path / "shared") in msg
    assert "set CCGMERGE_DATA" in msg and "data=" in msg
    expected = f"lsoa11_boundaries.gpkg not found; looked in {tmp_path / 'geo'}."
    with pytest.raises(DataNotFoundError, match=re.escape(expected)):
        geometry_file("lsoa11_boundaries.gpkg", tmp_path / "geo")
    # tests that need it: skipped locally with that reason, failed in CI
    monkeypatch.setenv("CI", "0")
    with pytest.raises(pytest.skip.Exception, match=f"{name} not found; looked in"):
        conftest.require_geometry(name)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=f"CI is set.*{name}"):
        conftest.require_geometry(name)


# -------------------------------------------------------------- CCGs 2013
def test_ccg2013_headline_figures(ccg2013):
    assert ccg2013.n_units == 211
    assert ccg2013.n_areas == 152
    assert ccg2013.total_population == ENGLAND
    assert ccg2013.areas["population"].sum() == ENGLAND


def test_ccg2013_six_below_100k(ccg2013):
    below = ccg2013.units_below(100_000)
    assert len(below) == 6
    names = ccg2013.units.loc[below, "name"].tolist()
    for part in ("Corby", "Bradford City", "Surrey Heath", "Erewash", "Wyre Forest", "Reading"):
        assert any(part in n for n in names), (part, names)
    assert ccg2013.units["population"].min() == 63_073  # Corby


def test_ccg2013_straddling_and_coterminous(ccg2013):
    assert len(ccg2013.straddling_units()) == 28
    assert len(ccg2013.straddling_units(min_share=0.01)) == 27
    assert len(ccg2013.straddling_units(min_share=0.05)) == 20
    assert len(ccg2013.coterminous_units()) == 87
    assert "07T" in ccg2013.straddling_units()  # City & Hackney: Hackney + City of London


def test_ccg2013_agrees_with_its_own_columns(ccg2013, ccg_units):
    u = ccg_units.set_index("ccg_code")
    t = ccg2013.main_area_table()
    assert (t["main_area"] == u["main_hwb_code"].reindex(t.index)).all()
    assert np.allclose(t["main_share"], u["main_hwb_share"].reindex(t.index), atol=1e-6)
    assert (t["n_areas"] == u["n_hwb"].reindex(t.index)).all()
    deg = pd.Series([len(nb) for nb in ccg2013.neighbours], index=list(ccg2013.unit_codes))
    boundary_only = load_ccg2013(bridges=False, warn=False)
    deg_b = pd.Series([len(nb) for nb in boundary_only.neighbours], index=list(ccg2013.unit_codes))
    assert (deg_b == u["degree"].reindex(deg_b.index)).all()
    assert (deg - deg_b).sum() == 4  # two bridge edges


def test_ccg2013_adjacency_connected_with_bridges(ccg2013):
    kinds = ccg2013.adjacency["kind"].value_counts().to_dict()
    assert kinds == {"boundary": 529, "bridge": 2}
    assert ccg2013.is_connected() and ccg2013.isolated_units() == []
    bridges = ccg2013.adjacency.query("kind == 'bridge'")[["a", "b"]].values.tolist()
    assert sorted(bridges) == [["10L", "10R"], ["10L", "11A"]]


def test_ccg2013_without_bridges_isle_of_wight_isolated(data_path):
    with pytest.warns(InstanceWarning, match="10L"):
        inst = load_ccg2013(data_path, bridges=False)
    comps = inst.components()
    assert len(comps) == 2 and comps[1] == ["10L"]
    assert inst.isolated_units() == ["10L"]


def test_ccg2013_boundaries_cover_the_211_ccgs(ccg2013_boundaries, ccg2013):
    """The optional geometry (skips locally, fails in CI, when absent) matches the tables."""
    features = json.loads(ccg2013_boundaries.read_text())["features"]
    codes = {f["properties"]["ccg_code"]: f["properties"]["population"] for f in features}
    assert len(features) == 211 and set(codes) == set(ccg2013.unit_codes)
    assert all(codes[c] == ccg2013.units.loc[c, "population"] for c in ccg2013.unit_codes)


def test_hwb2013_boundaries_cover_the_152_hwbs(hwb2013_boundaries, ccg2013):
    features = json.loads(hwb2013_boundaries.read_text())["features"]
    assert sorted(f["properties"]["hwb_code"] for f in features) == sorted(ccg2013.area_codes)


# ------------------------------------------------------------------ LSOAs
def test_lsoa2013_headline(lsoa2013):
    assert lsoa2013.n_units == 32_844
    assert lsoa2013.n_areas == 152
    assert lsoa2013.total_population == ENGLAND
    assert lsoa2013.baseline.nunique() == 211
    assert lsoa2013.straddling_units() == []  # each LSOA lies wholly in one HWB
    assert lsoa2013.is_connected()
    assert lsoa2013.adjacency["kind"].value_counts().to_dict() == {"boundary": 96_287, "bridge": 6}
    assert list(lsoa2013.units.columns[:6]) == ["name", "population", "lad13_code", "ccg13_code", "x_bng",
                                                "y_bng"]
    assert (lsoa2013.baseline == lsoa2013.units["ccg13_code"]).all()


def test_lsoa_population_of_each_ccg_equals_ccg_population(lsoa2013, ccg2013):
    by_ccg = lsoa2013.units.groupby("ccg13_code")["population"].sum()
    ccg = ccg2013.units["population"]
    assert by_ccg.index.sort_values().tolist() == sorted(ccg.index)
    assert (by_ccg.reindex(ccg.index) == ccg).all()
    # and the CCG x HWB membership is the LSOA membership summed
    mem = lsoa2013.membership.assign(ccg=lambda m: m["unit"].map(lsoa2013.units["ccg13_code"]))
    lsoa_mem = mem.groupby(["ccg", "area"])["population"].sum()
    ccg_mem = ccg2013.membership.set_index(["unit", "area"])["population"]
    assert lsoa_mem.rename_axis(["unit", "area"]).sort_index().equals(ccg_mem.sort_index())


def test_lsoa_without_bridges_has_seven_components(data_path):
    with pytest.warns(InstanceWarning):
        inst = load_lsoa2013(data_path, bridges=False)
    assert [len(c) for c in inst.components()] == [32_708, 89, 25, 11, 7, 3, 1]
    assert inst.isolated_units() == ["E01019077"]  # Isles of Scilly


def test_lsoa_subsets(data_path, lsoa2013):
    darlington = load_lsoa2013(data_path, ccgs=["00C"])
    assert darlington.n_units == 65
    assert darlington.total_population == 105_248
    assert darlington.area_codes == ("E06000005",)
    assert set(darlington.baseline) == {"00C"}
    # an HWB shared by several CCGs; areas keep their full population
    surrey = load_lsoa2013(data_path, hwbs="E10000030", warn=False)
    assert set(surrey.area_codes) == {"E10000030"}
    assert surrey.total_population == surrey.areas.loc["E10000030", "population"]
    assert surrey.baseline.nunique() > 1
    both = load_lsoa2013(data_path, hwbs=["E06000005", "E06000047"], ccgs=["00C", "00D", "03V"], warn=False)
    assert set(both.baseline) == {"00C", "00D"}
    # same as Instance.subset of the whole
    codes = [c for c, b in zip(lsoa2013.unit_codes, lsoa2013.baseline) if b == "00C"]
    assert lsoa2013.subset(codes, warn=False).fingerprint == darlington.fingerprint


def test_lsoa_subset_errors(data_path):
    with pytest.raises(ValidationError, match="unknown HWB codes E99") as info:
        load_lsoa2013(data_path, hwbs=["E06000005", "E99"])
    assert info.value.items == ("E99",)
    with pytest.raises(ValidationError, match="unknown 2013 CCG codes ZZZ"):
        load_lsoa2013(data_path, ccgs=["ZZZ"])
    with pytest.raises(ValidationError, match="keep no LSOA"):
        load_lsoa2013(data_path, hwbs=["E06000005"], ccgs=["03V"])


# ------------------------------------------------- water crossings and corner contacts
#: the 20 CCG pairs of ccg2013_water_crossings.csv with a gap of at most 500 m (PROVENANCE.md)
WATER_500 = {("01E", "02G"), ("00F", "00H"), ("00F", "00G"), ("08C", "08P"), ("07G", "99F"), ("08C", "08X"),
             ("08X", "09A"), ("07T", "08Q"), ("00G", "00N"), ("08K", "09A"), ("08X", "08Y"), ("00N", "99C"),
             ("08Q", "08V"), ("07T", "08K"), ("08A", "08V"), ("08Q", "09A"), ("08L", "08V"), ("02G", "02M"),
             ("08A", "08M"), ("07L", "08A")}


def test_ccg2013_defaults_unchanged(data_path, ccg2013):
    inst = load_ccg2013(data_path, crossings=None, min_shared_boundary_m=None)
    assert inst.fingerprint == ccg2013.fingerprint
    assert list(inst.adjacency.columns) == list(ccg2013.adjacency.columns) and "gap_m" not in inst.adjacency


def test_ccg2013_crossings_500_add_the_20_water_edges(data_path, ccg2013):
    inst = load_ccg2013(data_path, crossings=500)
    adj = inst.adjacency
    water = adj[adj["kind"] == "water"]
    assert set(zip(water["a"], water["b"])) == WATER_500
    assert water["gap_m"].max() <= 500 and water["gap_m"].min() == 16.5
    assert water.set_index(["a", "b"]).loc[("00F", "00H"), "gap_m"] == 93.1  # the Tyne
    assert len(adj) == 531 + 20 and (adj.loc[adj["kind"] == "boundary", "gap_m"] == 0).all()
    assert sorted(adj.loc[adj["kind"] == "bridge", "gap_m"]) == pytest.approx([1206.0, 1916.0])  # Isle of Wight
    tyne = ["00F", "00G", "00H"]
    assert not nx.is_connected(ccg2013.adjacency_graph().subgraph(tyne))
    assert nx.is_connected(inst.adjacency_graph().subgraph(tyne))
    assert (load_ccg2013(data_path, crossings=2500).adjacency["kind"] == "water").sum() == 33
    assert (load_ccg2013(data_path, crossings=0).adjacency["kind"] == "water").sum() == 0


def test_ccg2013_min_shared_boundary_drops_the_point_contacts(data_path, ccg2013):
    inst = load_ccg2013(data_path, min_shared_boundary_m=10)
    gone = set(zip(ccg2013.adjacency["a"], ccg2013.adjacency["b"])) - set(zip(inst.adjacency["a"], inst.adjacency["b"]))
    assert gone == {("01Y", "03N"), ("02P", "04J")}  # the two 4 m tripoint contacts
    assert inst.is_connected() and (inst.adjacency["kind"] == "bridge").sum() == 2
    assert load_ccg2013(data_path, min_shared_boundary_m=0).fingerprint == ccg2013.fingerprint


def test_lsoa2013_crossings(data_path, lsoa2013):
    inst = load_lsoa2013(data_path, crossings=500)
    kinds = inst.adjacency["kind"].value_counts().to_dict()
    # 467 file rows at <= 500 m; 4 of them (Berwick, Canvey, Walney, Hayling) are already bridge edges
    assert kinds == {"boundary": 96_287, "water": 463, "bridge": 6}
    water = inst.adjacency[inst.adjacency["kind"] == "water"]
    assert (water["gap_m"] == water["distance_m"]).all() and water["gap_m"].max() <= 500
    assert load_lsoa2013(data_path, crossings=None).fingerprint == lsoa2013.fingerprint
    # the Tyne: Newcastle and Gateshead's LSOAs in one piece only with the crossings
    tyne = ["E08000021", "E08000037"]
    with pytest.warns(InstanceWarning):
        assert len(load_lsoa2013(data_path, hwbs=tyne).components()) == 2
    assert load_lsoa2013(data_path, hwbs=tyne, crossings=500).is_connected()


@pytest.mark.parametrize("hwb, pieces_250", [("E06000006", 2), ("E06000035", 1), ("E06000013", 1)])
def test_lsoa2013_crossings_reconnect_cut_hwbs(data_path, hwb, pieces_250):
    with pytest.warns(InstanceWarning):
        assert len(load_lsoa2013(data_path, hwbs=[hwb]).components()) == 2
    assert len(load_lsoa2013(data_path, hwbs=[hwb], crossings=250, warn=False).components()) == pieces_250
    assert load_lsoa2013(data_path, hwbs=[hwb], crossings=500).is_connected()


def test_lsoa2013_min_shared_boundary_drops_the_point_contacts(data_path, lsoa2013):
    inst = load_lsoa2013(data_path, min_shared_boundary_m=10)
    adj = lsoa2013.adjacency
    assert len(inst.adjacency) == len(adj) - 1_782 == len(adj) - int(adj["point_contact"].sum())
    assert not inst.adjacency["point_contact"].any() and inst.is_connected()


@pytest.mark.parametrize("bad", [-1, -0.1, float("nan"), float("inf"), "500", True])
@pytest.mark.parametrize("arg", ["crossings", "min_shared_boundary_m"])
def test_adjacency_options_are_validated(data_path, arg, bad):
    for loader, kw in ((load_ccg2013, {}), (load_lsoa2013, {"hwbs": ["E06000006"]})):
        with pytest.raises(ValidationError, match=arg) as info:
            loader(data_path, **kw, **{arg: bad})
        assert info.value.items == (arg,)


# --------------------------------------------------------- configurations
def test_configuration_names_and_bad_name():
    assert configuration_names() == list(CONFIGS)
    with pytest.raises(ValueError) as info:
        load_configuration("ccg2099")
    for name in CONFIGS:
        assert name in str(info.value)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_configuration_counts_agree_with_orgs_file(name, data_path, orgs):
    year, level, expected = CONFIGS[name]
    cfg = load_configuration(name, data_path)
    assert cfg.name == name and cfg.index.name == "ccg_code"
    assert len(cfg) == 211 and cfg.index.is_unique and cfg.notna().all()
    assert cfg.nunique() == expected
    official = set(orgs.loc[(orgs["year"] == year) & (orgs["level"] == level), "ons_code"])
    assert len(official) == expected
    # every organisation of that year is the main successor of some 2013 CCG
    assert set(cfg) == official


def test_configuration_is_the_main_lsoa_successor(data_path, lsoa2013):
    hist = pd.read_csv(data_path / "lsoa11_nhs_history.csv.gz", dtype=str).set_index("lsoa11_code")
    units = lsoa2013.units.join(hist)
    column = {"sub_icb22": "sicbl22_ons"}
    for name in CONFIGS:
        col = column.get(name, f"{name}_ons")
        overlap = units.groupby(["ccg13_code", col])["population"].sum().reset_index()
        main = overlap.sort_values("population", ascending=False).drop_duplicates("ccg13_code")
        main = main.set_index("ccg13_code")[col].sort_index()
        cfg = load_configuration(name, data_path)
        assert (main.reindex(cfg.index) == cfg).all(), name


def test_split_ccgs_documented(data_path):
    s = pd.read_csv(data_path / "ccg2013_successors.csv", dtype={"ccg_code": str}).set_index("ccg_code")
    shares = s[[f"{n}_share" for n in CONFIGS]]
    split_2021 = sorted(shares.index[shares["ccg21_share"] < 0.99])
    assert split_2021 == ["01H", "01K"]  # as PROVENANCE.md says
    # the main successor takes the whole CCG: these are the approximations load_configuration makes
    assert round(shares.loc["01H", "ccg21_share"], 2) == 0.63
    assert round(shares.loc["01K", "ccg21_share"], 2) == 0.88
    assert (shares.min(axis=1) >= 0.5).all()  # a main successor always holds a majority


# --------------------------------------------------- units of later years
@pytest.mark.parametrize(
    "level, year, kind, n",
    [("icb22_ons", 2022, "icb", 42), ("ccg21_ons", 2021, "ccg", 106), ("stp21", 2021, "stp", 42),
     ("sicbl22_ons", 2022, "sub_icb", 106), ("ccg17_ons", 2017, "ccg", 207)],
)
def test_load_lsoa_units_counts_and_names(level, year, kind, n, data_path, orgs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # connected: no InstanceWarning
        inst = load_lsoa_units(level, data_path)
    assert inst.n_units == n
    assert inst.total_population == ENGLAND
    official = orgs[(orgs["year"] == year) & (orgs["level"] == kind)].set_index("ons_code")
    assert set(inst.unit_codes) == set(official.index)
    assert (inst.units["name"] == official["name"].reindex(inst.unit_codes)).all()
    assert (inst.units["population"] == official["population_mid2012"].astype(int).reindex(inst.unit_codes)).all()
    assert (inst.units["n_lsoa"] == official["n_lsoa"].astype(int).reindex(inst.unit_codes)).all()
    assert inst.is_connected()


def test_every_level_loads(data_path, orgs):
    levels = lsoa_unit_levels(data_path)
    assert levels[0] == "ccg13_ons" and "icb22_ons" in levels and len(levels) == 15
    counts = orgs.groupby(["year", "level"]).size()
    kind = {"ccg": "ccg", "stp": "stp", "icb": "icb", "sicbl": "sub_icb"}
    for level in levels:
        inst = load_lsoa_units(level, data_path, warn=False)
        prefix, yy = level[:-6], int(level[-6:-4])
        assert inst.n_units == counts[(2000 + yy, kind[prefix])], level
        assert inst.total_population == ENGLAND


def test_lsoa_units_2013_reproduce_the_ccg_graph(data_path, ccg2013, ccg_units):
    inst = load_lsoa_units("ccg13_ons", data_path)
    ods = inst.units["ods_code"]
    assert sorted(ods) == sorted(ccg2013.unit_codes)
    # populations and membership agree with the CCG tables
    pop = inst.units["population"].rename(index=ods)
    assert (pop.reindex(ccg2013.unit_codes) == ccg2013.population).all()
    mem = inst.membership.assign(unit=lambda m: m["unit"].map(ods)).set_index(["unit", "area"])["population"]
    assert mem.sort_index().equals(ccg2013.membership.set_index(["unit", "area"])["population"].sort_index())
    # the 529 boundary edges are those of ccg2013_adjacency.csv
    e = inst.adjacency.assign(a=lambda d: d["a"].map(ods), b=lambda d: d["b"].map(ods))
    e[["a", "b"]] = np.sort(e[["a", "b"]].to_numpy(), axis=1)
    mine = set(map(tuple, e.loc[e["kind"] == "boundary", ["a", "b"]].to_numpy()))
    theirs = ccg2013.adjacency
    assert mine == set(map(tuple, theirs.loc[theirs["kind"] == "boundary", ["a", "b"]].to_numpy()))
    pairs = pd.read_csv(data_path / "ccg2013_adjacency.csv", dtype={"ccg_a": str, "ccg_b": str})
    pairs = pairs[pairs["edge_type"] == "boundary"].set_index(["ccg_a", "ccg_b"])["n_lsoa_pairs"]
    got = e[e["kind"] == "boundary"].set_index(["a", "b"])["n_lsoa_pairs"]
    assert (got.reindex(pairs.index) == pairs).all()
    # LSOA bridges: only the Isle of Wight one crosses CCGs (10L-11A); the CCG file adds 10L-10R
    assert e.loc[e["kind"] == "bridge", ["a", "b"]].values.tolist() == [["10L", "11A"]]


def test_load_lsoa_units_bad_level(data_path):
    with pytest.raises(ValidationError) as info:
        load_lsoa_units("icb23_ons", data_path)
    assert "icb23_ons" in str(info.value) and "icb22_ons" in str(info.value) and "ccg13_ons" in str(info.value)


# --------------------------------------------------------- user CSV files
def test_from_csv_real_files_with_column_mapping(data_path, ccg2013):
    inst = from_csv(
        data_path / "ccg2013_units.csv",
        data_path / "hwb2013_units.csv",
        data_path / "ccg2013_hwb_membership.csv",
        data_path / "ccg2013_adjacency.csv",
        columns={
            "units": {"ccg_code": "code", "ccg_name": "name"},
            "areas": {"hwb_code": "code", "hwb_name": "name"},
            "membership": {"ccg_code": "unit", "hwb_code": "area", "ccg_name": "unit_name"},
            "adjacency": {"ccg_a": "a", "ccg_b": "b", "edge_type": "kind"},
        },
        name="from files",
    )
    assert inst.fingerprint == ccg2013.fingerprint
    assert "00C" in inst.unit_codes  # leading zeros kept
    assert inst.units.loc["03V", "name"] == ccg2013.units.loc["03V", "name"]


def test_to_csv_from_csv_round_trip_with_renamed_columns(ccg2013, tmp_path):
    paths = to_csv(ccg2013, tmp_path / "canonical")
    assert sorted(p.name for p in paths.values()) == [
        "adjacency.csv", "areas.csv", "baseline.csv", "membership.csv", "units.csv"]
    assert from_folder(tmp_path / "canonical").fingerprint == ccg2013.fingerprint
    # rename every column as a user's own files might name them, then map them back
    renames = {
        "units": {"code": "CCG Code", "name": "CCG Name", "population": "Pop 2012"},
        "areas": {"code": "HWB", "name": "HWB name", "population": "residents"},
        "membership": {"unit": "ccg", "area": "hwb", "population": "people"},
        "adjacency": {"a": "from", "b": "to", "kind": "type"},
        "baseline": {"unit": "ccg", "group": "cluster"},
    }
    files = {}
    for table, mapping in renames.items():
        df = pd.read_csv(paths[table], dtype=str).rename(columns=mapping)
        files[table] = tmp_path / f"my_{table}.csv"
        df.to_csv(files[table], index=False)
    columns = {t: {v: k for k, v in m.items()} for t, m in renames.items()}
    grouped = ccg2013.with_baseline(load_configuration("icb22").rename(None))
    to_csv(grouped, tmp_path / "grouped")
    b = pd.read_csv(tmp_path / "grouped" / "baseline.csv", dtype=str).rename(columns=renames["baseline"])
    b.to_csv(files["baseline"], index=False)
    back = from_csv(files["units"], files["areas"], files["membership"], files["adjacency"],
                    columns=columns, baseline=files["baseline"])
    assert back.fingerprint == grouped.fingerprint
    assert back.baseline.nunique() == 42
    assert back.units.loc["00C", "region_code"] == ccg2013.units.loc["00C", "region_code"]


def test_from_csv_missing_mapped_column(data_path):
    units_file = data_path / "ccg2013_units.csv"
    with pytest.raises(ValidationError) as info:
        from_csv(
            units_file,
            data_path / "hwb2013_units.csv",
            data_path / "ccg2013_hwb_membership.csv",
            data_path / "ccg2013_adjacency.csv",
            columns={"units": {"ccg_cod": "code"}},
        )
    msg = str(info.value)
    assert str(units_file) in msg and "'ccg_cod'" in msg
    assert "ccg_code" in msg and "population" in msg  # lists the columns present
    assert info.value.items == ("ccg_cod",)


def test_from_csv_required_column_not_mapped(data_path):
    with pytest.raises(ValidationError) as info:
        from_csv(
            data_path / "ccg2013_units.csv",
            data_path / "hwb2013_units.csv",
            data_path / "ccg2013_hwb_membership.csv",
            data_path / "ccg2013_adjacency.csv",
            columns={"units": {"ccg_code": "code"}, "areas": {"hwb_code": "code"},
                     "membership": {"ccg_code": "unit", "hwb_code": "area"}},
        )
    msg = str(info.value)
    assert "adjacency file" in msg and "ccg2013_adjacency.csv" in msg and "'a'" in msg and "ccg_a" in msg
    assert info.value.items == ("a", "b")


def test_from_csv_errors_without_data(tmp_path):
    u = pd.DataFrame({"id": ["A", "B"], "population": [1, 2]})
    a = pd.DataFrame({"code": ["X"], "population": [3]})
    m = pd.DataFrame({"unit": ["A", "B"], "area": ["X", "X"], "population": [1, 2]})
    e = pd.DataFrame({"a": ["A"], "b": ["B"]})
    inst = from_csv(u, a, m, e, columns={"units": {"id": "code"}})
    assert inst.unit_codes == ("A", "B")
    with pytest.raises(ValidationError, match="unknown table names unitz"):
        from_csv(u, a, m, e, columns={"unitz": {"id": "code"}})
    with pytest.raises(ValidationError, match="required column 'code' missing"):
        from_csv(u, a, m, e)
    with pytest.raises(ValidationError, match="does not exist"):
        from_csv(tmp_path / "none.csv", a, m, e)
    with pytest.raises(ValidationError, match="already has"):
        from_csv(u.assign(code="x"), a, m, e, columns={"units": {"id": "code"}})
    with pytest.raises(ValidationError, match="several columns are mapped to 'code'|several columns"):
        from_csv(u.assign(other=["C", "D"]), a, m, e, columns={"units": {"id": "code", "other": "code"}})
    with pytest.raises(ValidationError, match="expected a file path or a pandas DataFrame"):
        from_csv([1, 2], a, m, e)
    # validation errors of the instance still name the culprit
    with pytest.raises(ValidationError, match="unknown units: row 0: Q"):
        from_csv(u, a, m, pd.DataFrame({"a": ["Q"], "b": ["B"]}), columns={"units": {"id": "code"}})
    # baseline as a mapping, and codes that look like numbers stay text
    path = tmp_path / "u.csv"
    pd.DataFrame({"code": ["001", "002"], "population": [1, 2]}).to_csv(path, index=False)
    mm = pd.DataFrame({"unit": ["001", "002"], "area": ["X", "X"], "population": [1, 2]})
    inst = from_csv(path, a, mm, pd.DataFrame({"a": ["001"], "b": ["002"]}), baseline={"001": "g", "002": "g"})
    assert inst.unit_codes == ("001", "002") and set(inst.baseline) == {"g"}


def test_summary_json_of_real_instance(ccg2013):
    from ccgmerge.analysis.summary import summarize

    d = summarize(ccg2013).to_dict()
    assert json.loads(json.dumps(d)) == d
