"""Interop as the ecosystem expects (issue 16, item 6, the Python side).

1. ``solve`` given a GeoDataFrame, a DataFrame, a graph, a string or a Plan
   says how to build an Instance; a dict (or None) is a Scenario.
2. ``Instance.from_frames(inst.units, inst.areas, inst.membership, inst.adjacency,
   baseline=inst.baseline)`` rebuilds ``inst`` (and ``inst.to_frames()``).
3. The adjacency may be a networkx graph, a libpysal ``W`` or a libpysal ``Graph``.
4. Names where codes are expected (``hwbs=["Kent"]``), with close matches for
   unknown names; ``list_datasets``, ``list_hwbs``, ``list_ccgs``,
   ``list_configurations``.
"""

from __future__ import annotations

import warnings

import networkx as nx
import pandas as pd
import pytest

import ccgmerge
from ccgmerge import Instance, Scenario, ScenarioError, ValidationError, solve
from ccgmerge.data import (
    configuration_names,
    list_ccgs,
    list_configurations,
    list_datasets,
    list_hwbs,
    load_lsoa2013,
    resolve_ccgs,
    resolve_hwbs,
)
from ccgmerge.data.synthetic import generate
from ccgmerge.inputs import coerce_inputs


def small():
    return generate(12, seed=4)


# A - B - C - D in a row; B straddles X and Y
def tables():
    units = pd.DataFrame({"code": ["A", "B", "C", "D"], "population": [50, 70, 90, 40]})
    areas = pd.DataFrame({"code": ["X", "Y"], "population": [110, 140]})
    membership = pd.DataFrame({"unit": ["A", "B", "B", "C", "D"], "area": ["X", "X", "Y", "Y", "Y"],
                               "population": [50, 60, 10, 90, 40]})
    return units, areas, membership


def pairs(inst):
    return sorted(zip(inst.adjacency["a"], inst.adjacency["b"]))


# --------------------------------------------------------------- 1. solve's inputs
def test_solve_geodataframe_says_from_geodataframe():
    gpd = pytest.importorskip("geopandas")
    from shapely.geometry import box

    gdf = gpd.GeoDataFrame({"code": ["A"], "population": [1]}, geometry=[box(0, 0, 1, 1)], crs=27700)
    with pytest.raises(ValidationError) as info:
        solve(gdf)
    msg = str(info.value)
    assert "got a GeoDataFrame" in msg and "ccgmerge.data.from_geodataframe(gdf" in msg
    assert "Instance.from_frames(units, areas, membership, adjacency)" in msg
    assert info.value.items == ("GeoDataFrame",)


def test_solve_dataframe_says_from_frames_or_from_csv():
    units, _, _ = tables()
    with pytest.raises(ValidationError, match=r"got a DataFrame: one table is not an instance") as info:
        solve(units, Scenario())
    assert "Instance.from_frames(units, areas, membership, adjacency)" in str(info.value)
    assert "from_csv" in str(info.value)


@pytest.mark.parametrize("graph", [nx.path_graph(3), nx.DiGraph([(1, 2)])])
def test_solve_networkx_graph_says_how_to_use_it_as_adjacency(graph):
    with pytest.raises(ValidationError) as info:
        solve(graph)
    msg = str(info.value)
    assert f"got a networkx {type(graph).__name__}: a graph holds only the adjacency" in msg
    assert "Instance.from_frames(units, areas, membership, adjacency=G)" in msg


def test_solve_libpysal_weights_say_how_to_use_them_as_adjacency():
    pytest.importorskip("libpysal")
    from libpysal.graph import Graph
    from libpysal.weights import W

    w = W({"A": ["B"], "B": ["A"]}, silence_warnings=True)
    with pytest.raises(ValidationError, match=r"got a libpysal W: a graph holds only the adjacency.*adjacency=G"):
        solve(w)
    with pytest.raises(ValidationError, match=r"got a libpysal Graph: .*adjacency=G"):
        solve(Graph.from_W(w))


def test_solve_string_names_the_loader():
    with pytest.raises(ValidationError) as info:
        solve("Kent")
    msg = str(info.value)
    assert "got the string 'Kent'" in msg and "HWB E10000016" in msg
    assert "ccgmerge.load_lsoa2013(hwbs=['Kent'])" in msg
    with pytest.raises(ValidationError, match=r"ccgmerge\.data\.load_ccg2013\(\)"):
        solve("ccg2013")
    with pytest.raises(ValidationError, match=r"load_lsoa_units\('icb22'\)"):
        solve("icb22")
    with pytest.raises(ValidationError, match=r"list_datasets\(\) lists the datasets"):
        solve("no such thing")


def test_solve_plan_swapped_arguments_and_other_types():
    inst = small()
    plan = solve(inst, Scenario(floor=300_000))
    with pytest.raises(ValidationError, match=r"got a Plan: pass plan\.instance"):
        solve(plan)
    with pytest.raises(ValidationError, match="arguments are swapped"):
        solve(Scenario(), inst)
    with pytest.raises(ValidationError, match="arguments are swapped"):
        solve({"floor": 1}, inst)
    with pytest.raises(ValidationError, match=r"solve needs a ccgmerge\.Instance.*got int") as info:
        solve(5)
    assert info.value.items == ("int",)


def test_solve_accepts_a_dict_or_none_as_the_scenario():
    inst = small()
    by_dict = solve(inst, {"floor": 300_000, "coterminosity": "aligned"})
    by_scenario = solve(inst, Scenario(floor=300_000, coterminosity="aligned"))
    assert by_dict.scenario == by_scenario.scenario
    assert by_dict.groups == by_scenario.groups and by_dict.objective == by_scenario.objective
    assert solve(inst).scenario == solve(inst, None).scenario == Scenario()
    # a dict written by Scenario.to_dict() reads back as the same scenario
    sc = Scenario(allowance_per_head=30, objective=("merges", "moved"), together=[("U0", "U1")])
    assert coerce_inputs(inst, sc.to_dict())[1] == sc
    # floor_population, the derived key, is read as the floor when nothing else sets one
    assert coerce_inputs(inst, {"floor_population": 250_000})[1].floor_population == 250_000


def test_solve_dict_with_unknown_keys_names_them_and_the_allowed_ones():
    with pytest.raises(ScenarioError) as info:
        solve(small(), {"flor": 250_000, "coterminosity": "aligned"})
    msg = str(info.value)
    assert "unknown scenario keys ['flor']" in msg and "did you mean 'floor' for 'flor'" in msg
    assert "allowed: ['allowance_per_head'" in msg and "'floor'" in msg
    with pytest.raises(ScenarioError, match=r"floor_population=1 disagrees .*give floor=1"):
        coerce_inputs(small(), {"allowance_per_head": 30, "floor_population": 1})


def test_solve_number_or_string_scenario_is_a_clear_error():
    with pytest.raises(ScenarioError, match=r"Scenario\(floor=250000\) or \{'floor': 250000\}"):
        solve(small(), 250000)
    with pytest.raises(ScenarioError, match=r"scenario must be a ccgmerge\.Scenario, a dict .* got str"):
        solve(small(), "aligned")


# ------------------------------------------------------------- 2. symmetric from_frames
def test_from_frames_takes_the_accessors_back_ccg2013(ccg2013):
    inst = ccg2013
    back = Instance.from_frames(inst.units, inst.areas, inst.membership, inst.adjacency, baseline=inst.baseline,
                                name=inst.name)
    assert back.fingerprint == inst.fingerprint
    assert back.units.equals(inst.units) and back.areas.equals(inst.areas)
    assert back.adjacency.equals(inst.adjacency) and back.membership.equals(inst.membership)
    sc = Scenario(floor=250_000, coterminosity="aligned")
    a, b = solve(inst, sc), solve(back, sc)
    assert a.status.value == b.status.value == "optimal"
    assert a.assignment.equals(b.assignment) and a.groups == b.groups and a.objective == b.objective == 89
    again = Instance.from_frames(**inst.to_frames())
    assert again.fingerprint == inst.fingerprint and again.name == inst.name


def test_from_frames_round_trip_lsoa(data_path):
    inst = load_lsoa2013(data_path, hwbs=["Manchester"])
    back = Instance.from_frames(inst.units, inst.areas, inst.membership, inst.adjacency, baseline=inst.baseline)
    assert back.fingerprint == inst.fingerprint
    assert back.baseline.equals(inst.baseline) and back.units.equals(inst.units)
    sc = {"floor": 250_000, "objective": "moved"}
    a, b = solve(inst, sc), solve(back, sc)
    assert a.status.value == b.status.value == "optimal"
    assert a.assignment.equals(b.assignment) and a.groups == b.groups and a.objective == b.objective


def test_from_frames_index_not_named_code_says_how_to_fix():
    units, areas, membership = tables()
    with pytest.raises(ValidationError) as info:
        Instance.from_frames(units.set_index("code").rename_axis("ccg"), areas, membership, [("A", "B")])
    msg = str(info.value)
    assert "units: column 'code' is missing" in msg and "index (named 'ccg', first label 'A')" in msg
    assert "rename_axis('code')" in msg
    with pytest.raises(ValidationError, match=r"membership must be a pandas DataFrame, got dict"):
        Instance.from_frames(units, areas, {"unit": ["A"]}, [])


# ------------------------------------------------------------------ 3. graphs as adjacency
def test_networkx_adjacency_real(ccg2013):
    inst = ccg2013
    g = inst.adjacency_graph()
    back = Instance.from_frames(inst.units, inst.areas, inst.membership, g, baseline=inst.baseline)
    assert back.fingerprint == inst.fingerprint
    assert back.adjacency["kind"].value_counts().to_dict() == inst.adjacency["kind"].value_counts().to_dict()


def test_networkx_adjacency_ids_attributes_and_direction():
    units, areas, membership = tables()
    g = nx.Graph()
    g.add_edge("B", "A", kind="bridge", gap_m=120.0)
    g.add_edge("C", "B")
    g.add_edge("D", "C")
    inst = Instance.from_frames(units, areas, membership, g)
    assert pairs(inst) == [("A", "B"), ("B", "C"), ("C", "D")]
    assert inst.adjacency.set_index(["a", "b"])["kind"].to_dict() == {
        ("A", "B"): "bridge", ("B", "C"): "boundary", ("C", "D"): "boundary"}
    assert inst.adjacency["gap_m"].iloc[0] == 120.0
    # integer ids are the labels of the units table's index (as a GeoDataFrame's rows are numbered)
    by_position = Instance.from_frames(units, areas, membership, nx.path_graph(4))
    assert pairs(by_position) == pairs(inst)
    # a directed graph (both directions, or one) and a multigraph give each pair once
    d = nx.DiGraph([("A", "B"), ("B", "A"), ("B", "C"), ("D", "C")])
    assert pairs(Instance.from_frames(units, areas, membership, d)) == pairs(inst)
    m = nx.MultiGraph([("A", "B"), ("A", "B"), ("B", "C"), ("C", "D")])
    assert pairs(Instance.from_frames(units, areas, membership, m)) == pairs(inst)


def test_networkx_adjacency_errors_name_the_culprit():
    units, areas, membership = tables()
    with pytest.raises(ValidationError) as info:
        Instance.from_frames(units, areas, membership, nx.Graph([("A", "B"), ("B", "Z9")]))
    assert "has nodes that are not units: Z9" in str(info.value) and "networkx.relabel_nodes" in str(info.value)
    assert info.value.items == ("Z9",)
    g = nx.Graph([("A", "B")])
    g.add_node("Q")  # an isolated node that is no unit is an error too
    with pytest.raises(ValidationError, match="not units: Q"):
        Instance.from_frames(units, areas, membership, g)
    with pytest.raises(ValidationError) as info:
        Instance.from_frames(units, areas, membership, nx.Graph([("A", "B"), ("C", "C")]))
    assert "self-loops at units C" in str(info.value) and "selfloop_edges" in str(info.value)
    assert info.value.items == ("C",)
    with pytest.raises(ValidationError, match="expected a DataFrame with columns a and b, a networkx graph"):
        Instance.from_frames(units, areas, membership, 5)
    with pytest.raises(ValidationError, match="each pair must hold two unit codes, got 'AB'"):
        Instance.from_frames(units, areas, membership, ["AB"])


def test_libpysal_w_and_graph_as_adjacency():
    pytest.importorskip("libpysal")
    from libpysal.graph import Graph
    from libpysal.weights import W

    units, areas, membership = tables()
    want = [("A", "B"), ("B", "C"), ("C", "D")]
    w = W({"A": ["B"], "B": ["A", "C"], "C": ["B", "D"], "D": ["C"]}, silence_warnings=True)
    assert pairs(Instance.from_frames(units, areas, membership, w)) == want
    assert pairs(Instance.from_frames(units, areas, membership, Graph.from_W(w))) == want
    # an asymmetric W (k nearest neighbours) counts a pair once, either way round
    knn = W({"A": ["B"], "B": ["C"], "C": ["D"], "D": ["C"]}, silence_warnings=True)
    assert pairs(Instance.from_frames(units, areas, membership, knn)) == want
    # Graph keeps an isolated unit as a zero-weight self-loop: no edge, no error
    iso = Graph.from_W(W({"A": ["B"], "B": ["A"], "C": [], "D": []}, silence_warnings=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert pairs(Instance.from_frames(units, areas, membership, iso, warn=False)) == [("A", "B")]
    # integer ids are the units table's index labels
    wi = W({0: [1], 1: [0, 2], 2: [1, 3], 3: [2]}, silence_warnings=True)
    assert pairs(Instance.from_frames(units, areas, membership, wi)) == want


def test_libpysal_errors_name_the_culprit():
    pytest.importorskip("libpysal")
    from libpysal.graph import Graph
    from libpysal.weights import W

    units, areas, membership = tables()
    w = W({"A": ["B"], "B": ["A", "E1"], "E1": ["B"]}, silence_warnings=True)
    with pytest.raises(ValidationError) as info:
        Instance.from_frames(units, areas, membership, w)
    assert "adjacency graph (libpysal W) has nodes that are not units: E1" in str(info.value)
    assert info.value.items == ("E1",)
    loop = Graph.from_arrays(["A", "B", "B"], ["B", "A", "B"], [1, 1, 1])
    with pytest.raises(ValidationError, match=r"\(libpysal Graph\) has self-loops at units B"):
        Instance.from_frames(units, areas, membership, loop)


def test_libpysal_contiguity_from_polygons():
    gpd = pytest.importorskip("geopandas")
    pytest.importorskip("libpysal")
    from libpysal.graph import Graph
    from libpysal.weights import Rook
    from shapely.geometry import box

    # four squares in a row, numbered by the GeoDataFrame's default index
    gdf = gpd.GeoDataFrame({"code": ["A", "B", "C", "D"], "population": [50, 70, 90, 40]},
                           geometry=[box(i, 0, i + 1, 1) for i in range(4)], crs=27700)
    _, areas, membership = tables()
    units = pd.DataFrame(gdf.drop(columns="geometry"))
    rook = Rook.from_dataframe(gdf, use_index=True, silence_warnings=True)
    assert pairs(Instance.from_frames(units, areas, membership, rook)) == [("A", "B"), ("B", "C"), ("C", "D")]
    graph = Graph.build_contiguity(gdf, rook=True)
    assert pairs(Instance.from_frames(units, areas, membership, graph)) == [("A", "B"), ("B", "C"), ("C", "D")]


# ------------------------------------------------------------------------ 4. names
def test_hwb_names_resolve_to_codes(data_path):
    assert resolve_hwbs(["Kent"]) == ["E10000016"]
    assert resolve_hwbs(["kent", "Bristol", "Hull", "Brighton & Hove", "e06000005"], data_path) == [
        "E10000016", "E06000023", "E06000010", "E06000043", "E06000005"]
    assert resolve_ccgs(["Darlington", "NHS Darlington CCG", "E38000042", "00c"], data_path) == ["00C"] * 4
    by_name = load_lsoa2013(data_path, hwbs="Hartlepool")
    by_code = load_lsoa2013(data_path, hwbs=["E06000001"])
    assert by_name.fingerprint == by_code.fingerprint and by_name.area_codes == ("E06000001",)
    assert load_lsoa2013(data_path, ccgs=["Darlington"]).n_units == 65
    # a name and its code together keep the HWB once
    assert load_lsoa2013(data_path, hwbs=["Hartlepool", "E06000001"]).fingerprint == by_code.fingerprint


def test_unknown_and_ambiguous_names_list_the_candidates(data_path):
    with pytest.raises(ValidationError) as info:
        load_lsoa2013(data_path, hwbs=["Kentt"])
    msg = str(info.value)
    assert msg.startswith("hwbs: unknown HWB codes Kentt (no HWB has that code or name); did you mean Kent (E10000016)")
    assert "ccgmerge.data.list_hwbs() lists all 152" in msg and info.value.items == ("Kentt",)
    with pytest.raises(ValidationError) as info:
        resolve_hwbs(["Kingston"], data_path)
    assert str(info.value) == ("hwbs: 'Kingston' matches 2 HWBs: Kingston upon Hull, City of (E06000010), Kingston "
                               "upon Thames (E09000021); give the code or more of the name.")
    with pytest.raises(ValidationError, match=r"'Newcastle' matches 2 2013 CCGs: NHS Newcastle North and East "
                                              r"\(00G\), NHS Newcastle West \(00H\)"):
        load_lsoa2013(data_path, ccgs=["Newcastle"])
    with pytest.raises(ValidationError, match=r"unknown 2013 CCG codes ZZZ \(no 2013 CCG has that code or name\)"):
        resolve_ccgs("ZZZ", data_path)
    with pytest.raises(ValidationError, match="give at least one code or name"):
        resolve_hwbs([], data_path)


def test_listings(data_path):
    ds = list_datasets(data_path)
    assert list(ds.columns) == ["dataset", "description", "units", "areas", "python", "cli"]
    rows = ds.set_index("dataset")
    assert rows.loc["ccg2013", "units"] == 211 and rows.loc["ccg2013", "areas"] == 152
    assert rows.loc["lsoa2013", "units"] == 32_844 and rows.loc["lsoa2013", "cli"].startswith("--dataset lsoa2013")
    assert rows.loc["icb22", "units"] == 42 and rows.loc["icb22", "python"] == "load_lsoa_units('icb22')"
    assert pd.isna(rows.loc["synthetic", "units"])
    # every python call listed runs from ccgmerge.data (the cheap ones here)
    assert ccgmerge.data.load_lsoa_units("icb22", data_path).n_units == 42

    hwbs = list_hwbs(data_path)
    assert len(hwbs) == 152 and list(hwbs.columns[:4]) == ["code", "name", "type", "population"]
    assert hwbs.set_index("name").loc["Kent", "code"] == "E10000016"
    ccgs = list_ccgs(data_path)
    assert len(ccgs) == 211 and ccgs.set_index("code").loc["00C", "name"] == "NHS Darlington"

    cfg = list_configurations(data_path)
    assert cfg["name"].tolist() == configuration_names()
    assert cfg.set_index("name").loc["icb22", "n_groups"] == 42
    assert cfg.set_index("name").loc["sub_icb22", "lsoa_units"] == "load_lsoa_units('sicbl22')"
    assert cfg.set_index("name").loc["ccg15", "description"] == "CCGs, July 2015"


def test_unit_names_in_locks(ccg2013):
    sc = coerce_inputs(ccg2013, {"alone": ["NHS Darlington"], "together": [("Hull", "East Riding of Yorkshire")],
                                 "apart": [("00D", "North Durham")]})[1]
    assert sc.alone == frozenset({"00C"})
    assert sc.together == frozenset({("02Y", "03F")}) and sc.apart == frozenset({("00D", "00J")})
    north_east = ccg2013.subset(ccg2013.units.index[ccg2013.units["region_code"] == ccg2013.units.loc["00C", "region_code"]],
                                warn=False)
    plan = solve(north_east, {"floor": 100_000, "together": [("Darlington", "00D")], "apart": [("00D", "North Durham")]})
    assert plan.ok and plan.scenario.together == frozenset({("00C", "00D")})
    groups = plan.assignment
    assert groups["00C"] == groups["00D"] and groups["00D"] != groups["00J"]
    with pytest.raises(ScenarioError, match=r"locks: 'Durham' matches 2 units: NHS Durham Dales, Easington and "
                                            r"Sedgefield \(00D\), NHS North Durham \(00J\)"):
        solve(ccg2013, {"alone": ["Durham"]})
    with pytest.raises(ScenarioError, match="locks name units that are not in the instance: Nowhere"):
        solve(ccg2013, Scenario(alone=["Nowhere"]))


def test_resolve_codes_takes_a_mapping():
    from ccgmerge.data.names import resolve_codes

    names = {"E1": "Kent", "E2": "City of York", "E3": "North Yorkshire"}
    assert resolve_codes(["york", "e1", "North Yorkshire"], names, what="--hwb", noun="HWB") == ["E2", "E1", "E3"]
    assert resolve_codes(["zzz"], names, what="--hwb", noun="HWB", keep_unknown=True) == ["zzz"]
    with pytest.raises(ValidationError, match=r"--hwb: unknown HWB codes Kentish \(no HWB has that code or name\); "
                                              r"did you mean Kent \(E1\) for 'Kentish'\?"):
        resolve_codes(["Kentish"], names, what="--hwb", noun="HWB")


def test_from_csv_implies_the_areas_from_the_membership(tmp_path):
    units, areas, membership = tables()
    (tmp_path / "m.csv").write_text("ccg,hwb,people\nA,X,50\nB,X,60\nB,Y,10\nC,Y,90\nD,Y,40\n")
    inst = ccgmerge.from_csv(units, None, tmp_path / "m.csv", pd.DataFrame({"a": ["A", "B", "C"], "b": ["B", "C", "D"]}),
                             columns={"membership": {"ccg": "unit", "hwb": "area", "people": "population"}})
    assert inst.areas["population"].to_dict() == {"X": 110, "Y": 140}
    (tmp_path / "bad.csv").write_text("unit,area,population\nA,X,50\nB,X,sixty\n")
    with pytest.raises(ValidationError, match=r"membership file .*bad\.csv.*population is missing or not a number "
                                              r"for line 3 \(B, X\): value 'sixty'"):
        ccgmerge.from_csv(units, None, tmp_path / "bad.csv", pd.DataFrame({"a": ["A"], "b": ["B"]}))
