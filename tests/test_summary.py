"""Tests of :func:`ccgmerge.analysis.summary.summarize`."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from ccgmerge.data import load_ccg2013
from ccgmerge.errors import ScenarioError
from ccgmerge.instance import Instance
from ccgmerge.analysis.summary import InstanceSummary, summarize


def toy(adjacency=None, warn=False):
    """Units A..F. Area X: A, B (B straddles X/Y); Y: C, D; Z: E, F, where E and F
    are not joined inside Z (E touches D only).

        A - B - C - D - E      F - C
    """
    units = pd.DataFrame({"code": list("ABCDEF"), "name": ["a", "b", "c", "d", "e", "f"],
                          "population": [60, 50, 120, 30, 70, 90]})
    areas = pd.DataFrame({"code": ["X", "Y", "Z", "W"], "name": ["Ex", "Why", "Zed", "Dub"],
                          "population": [100, 160, 160, 5]})
    membership = pd.DataFrame({"unit": ["A", "B", "B", "C", "D", "E", "F"],
                               "area": ["X", "X", "Y", "Y", "Y", "Z", "Z"],
                               "population": [60, 40, 10, 120, 30, 70, 90]})
    if adjacency is None:
        adjacency = pd.DataFrame({"a": ["A", "B", "C", "D", "C"], "b": ["B", "C", "D", "E", "F"],
                                  "kind": ["boundary", "boundary", "boundary", "bridge", "boundary"]})
    return Instance.from_frames(units, areas, membership, adjacency, name="toy", warn=warn)


def test_tables_and_totals():
    s = summarize(toy(), floor=100)
    assert isinstance(s, InstanceSummary)
    assert (s.n_units, s.n_areas, s.total_population, s.n_edges) == (6, 4, 420, 5)
    assert s.edge_kinds == {"boundary": 4, "bridge": 1}
    assert s.n_isolated == 0 and s.n_components == 1
    assert s.floor == 100
    assert s.units_below.to_dict("list") == {
        "code": ["D", "B", "A", "E", "F"], "name": ["d", "b", "a", "e", "f"],
        "population": [30, 50, 60, 70, 90], "main_area": ["Y", "X", "X", "Z", "Z"],
        "shortfall": [70, 50, 40, 30, 10],
    }
    assert s.straddling.to_dict("records") == [
        {"code": "B", "name": "b", "population": 50, "n_areas": 2, "main_area": "X", "main_share": 0.8}]
    assert s.n_coterminous == len(toy().coterminous_units())


def test_areas_short_reasons():
    s = summarize(toy(), floor=100)
    short = s.areas_short.set_index("code")
    assert list(short.index) == ["W", "Z"]
    # W: no unit is counted in it
    assert short.loc["W", "n_units"] == 0 and short.loc["W", "population"] == 0
    assert "no unit" in short.loc["W", "reason"]
    # Z: 160 people in total, but E and F are not connected inside Z and both are below 100
    assert short.loc["Z", "population"] == 160 and short.loc["Z", "n_pieces"] == 2
    assert short.loc["Z", "smallest_piece"] == 70
    assert "not connected" in short.loc["Z", "reason"]
    assert short.loc["Z", "area_population"] == 160
    # X (A+B = 110) and Y (C+D = 150) can reach 100 on their own
    assert "X" not in short.index and "Y" not in short.index


def test_area_total_below_floor_and_connected_pieces_above_floor():
    s = summarize(toy(), floor=150)
    short = s.areas_short.set_index("code")["reason"]
    assert "total 110" in short["X"]  # A + B (B counted in X, its main area)
    assert "Y" not in short  # C + D = 150, connected
    # with an edge E-F the two pieces of Z join
    joined = toy(adjacency=pd.DataFrame({"a": list("ABCDE"), "b": list("BCDEF")}))
    assert "Z" not in set(summarize(joined, floor=100).areas_short["code"])
    # floor 0: nothing is short except the empty area
    assert summarize(toy(), floor=0).areas_short["code"].tolist() == ["W"]


def test_components_table():
    inst = toy(adjacency=pd.DataFrame({"a": ["A", "C"], "b": ["B", "D"]}))
    s = summarize(inst, floor=100)
    assert s.n_isolated == 2
    assert s.components.to_dict("list") == {
        "component": [0, 1, 2, 3], "n_units": [2, 2, 1, 1], "population": [110, 150, 70, 90],
        "below_floor": [False, False, True, True], "first_unit": ["A", "C", "E", "F"],
    }
    text = str(s)
    assert "4 components" in text and "Components:" in text and "2: 1 units from E" in text


def test_str_and_to_dict():
    s = summarize(toy(), floor=100)
    text = str(s)
    lines = text.splitlines()
    assert lines[0] == "Instance 'toy': 6 units, 4 areas, population 420"
    assert lines[1] == "Adjacency: 5 edges (4 boundary, 1 bridge); 1 component; 0 isolated units"
    assert "Floor 100: 5 units below" in text
    assert "  d (D): 30, short by 70 [main area Y]" in text
    assert "Straddling units (people in more than one area): 1" in text
    assert "Areas that cannot reach the floor on their own: 2" in text
    d = s.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["units_below"][0] == {"code": "D", "name": "d", "population": 30, "main_area": "Y", "shortfall": 70}
    assert d["n_components"] == 1 and d["edge_kinds"] == {"boundary": 4, "bridge": 1}


def test_fractional_floor_and_long_lists():
    s = summarize(toy(), floor=100.5)
    assert s.units_below["shortfall"].tolist() == [70.5, 50.5, 40.5, 30.5, 10.5]
    assert "Floor 100.50" in str(s)
    json.dumps(s.to_dict())


def test_frozen_and_bad_floor():
    s = summarize(toy())
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.floor = 5
    for bad in (-1, float("nan"), float("inf"), "100k", None, True):
        with pytest.raises(ScenarioError, match="floor"):
            summarize(toy(), floor=bad)


# ------------------------------------------------------------------ real data
def test_real_ccg2013(ccg2013):
    s = summarize(ccg2013)
    assert (s.n_units, s.n_areas, s.total_population) == (211, 152, 53_434_130)
    assert s.n_edges == 531 and s.edge_kinds == {"boundary": 529, "bridge": 2}
    assert len(s.units_below) == 6 and s.units_below["code"].iloc[0] == "03V"  # Corby
    assert s.units_below["shortfall"].iloc[0] == 100_000 - 63_073
    assert len(s.straddling) == 28 and s.n_coterminous == 87
    assert s.n_components == 1 and not s.components["below_floor"].any()
    short = s.areas_short.set_index("code")
    # small HWBs whose people sit in a neighbouring HWB's CCG
    for hwb in ("E06000053", "E09000001", "E06000017"):  # Isles of Scilly, City of London, Rutland
        assert short.loc[hwb, "n_units"] == 0
    assert "... and" in str(s)


def test_real_ccg2013_without_bridges(data_path):
    s = summarize(load_ccg2013(data_path, bridges=False, warn=False))
    assert s.n_components == 2 and s.n_isolated == 1
    assert s.components["first_unit"].tolist() == ["00C", "10L"]
    assert s.components["population"].sum() == 53_434_130


def test_real_lsoa2013(lsoa2013):
    s = summarize(lsoa2013, floor=100_000)
    assert s.n_units == 32_844 and len(s.units_below) == 32_844 and len(s.straddling) == 0
    assert s.n_components == 1 and s.edge_kinds == {"boundary": 96_287, "bridge": 6}
    short = s.areas_short.set_index("code")
    totals = set(short.index[short["reason"].str.contains("total")])
    # Hartlepool, Rutland, Isles of Scilly, City of London are below 100k on their own
    assert totals == {"E06000001", "E06000017", "E06000053", "E09000001"}
    # estuaries split Halton (Runcorn / Widnes, the Mersey) and Medway at LSOA level
    for hwb in ("E06000006", "E06000035"):
        assert short.loc[hwb, "n_pieces"] == 2 and "not connected" in short.loc[hwb, "reason"]
