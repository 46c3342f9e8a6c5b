"""Tests of the seeded synthetic instance generator (ccgmerge.data.synthetic)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ccgmerge.errors import ValidationError
from ccgmerge.data.synthetic import POPULATION_MODELS, _contiguous_areas, _csr, generate


# ----------------------------------------------------------------- helpers
def n_pieces(inst, labels) -> int:
    """Number of connected pieces of the unit groups given by ``labels`` (one
    label per unit, in unit_codes order): equal to the number of distinct
    labels exactly when every group is contiguous."""
    labels = np.asarray(labels)
    e = inst.edges
    same = e[labels[e[:, 0]] == labels[e[:, 1]]]
    g = coo_matrix((np.ones(len(same)), (same[:, 0], same[:, 1])), shape=(inst.n_units, inst.n_units))
    return connected_components(g, directed=False)[0]


def main_labels(inst) -> np.ndarray:
    return inst.main_area().reindex(list(inst.unit_codes)).to_numpy()


def boundary_units(inst) -> list[str]:
    """Units with a neighbour whose main area differs."""
    lab = main_labels(inst)
    e = inst.edges
    cross = e[lab[e[:, 0]] != lab[e[:, 1]]]
    return sorted(inst.unit_codes[i] for i in np.unique(cross))


def check_invariants(inst, n_units, population="ccg"):
    model = POPULATION_MODELS[population]
    assert inst.n_units == n_units
    # codes: fixed width, so sorted order is numeric order
    width = max(5, len(str(n_units)))
    assert inst.unit_codes == tuple(f"U{i:0{width}d}" for i in range(1, n_units + 1))
    assert all(re.fullmatch(r"A\d{4,}", a) for a in inst.area_codes)
    # adjacency: connected, no isolated units
    assert inst.is_connected()
    assert inst.isolated_units() == []
    # populations: whole, clipped
    assert inst.population.min() >= model["low"]
    assert inst.population.max() <= model["high"]
    # membership adds up exactly, per unit and per area
    m = inst.membership
    per_unit = m.groupby("unit")["population"].sum().reindex(list(inst.unit_codes))
    assert (per_unit.to_numpy() == inst.population).all()
    per_area = m.groupby("area")["population"].sum()
    assert per_area.to_dict() == inst.areas["population"].to_dict()
    assert (m["population"] > 0).all()
    assert m.groupby("unit").size().max() <= 2
    # every area has a unit (by main area) and every area is contiguous
    lab = main_labels(inst)
    assert set(lab) == set(inst.area_codes)
    assert n_pieces(inst, lab) == inst.n_areas
    # coordinates in the unit square
    xy = inst.units[["x", "y"]].to_numpy()
    assert ((xy >= 0) & (xy <= 1)).all()


# ------------------------------------------------------------- determinism
def test_same_seed_same_instance():
    a = generate(300, seed=7, baseline_group_size=3)
    b = generate(300, seed=7, baseline_group_size=3)
    assert a.fingerprint == b.fingerprint
    assert a.membership.equals(b.membership)
    assert a.adjacency.equals(b.adjacency)
    assert a.units.equals(b.units)
    assert (a.baseline == b.baseline).all()


def test_different_seeds_differ():
    prints = {generate(100, seed=s).fingerprint for s in range(5)}
    assert len(prints) == 5


def test_options_change_the_instance():
    base = generate(200, seed=1)
    assert generate(200, seed=1, straddle_fraction=0.5).fingerprint != base.fingerprint
    assert generate(200, seed=1, n_areas=20).fingerprint != base.fingerprint
    assert generate(200, seed=1, population="lsoa").fingerprint != base.fingerprint


def test_same_fingerprint_in_another_process():
    """No dependence on string hashing (PYTHONHASHSEED) or process state."""
    here = generate(500, seed=12, population="lsoa", n_areas=7, baseline_group_size=20).fingerprint
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONHASHSEED="12345", PYTHONPATH=str(root))
    code = ("from ccgmerge.data.synthetic import generate; print(generate(500, seed=12, population='lsoa', "
            "n_areas=7, baseline_group_size=20).fingerprint)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == here


def test_global_rng_untouched():
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    generate(50, seed=3)
    assert np.random.random() == before


# ----------------------------------------------------------- invariants
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(10, 400),
    seed=st.integers(0, 2**32 - 1),
    population=st.sampled_from(["ccg", "lsoa"]),
    straddle=st.floats(0.0, 1.0),
    group=st.one_of(st.none(), st.integers(1, 40)),
)
def test_invariants_property(n, seed, population, straddle, group):
    inst = generate(n, seed, population=population, straddle_fraction=straddle, baseline_group_size=group)
    check_invariants(inst, n, population)
    if group is None:
        assert inst.baseline.tolist() == list(inst.unit_codes)
    else:
        base = inst.baseline.to_numpy()
        assert n_pieces(inst, base) == len(set(base))


@settings(max_examples=15, deadline=None)
@given(n=st.integers(10, 200), seed=st.integers(0, 1000), frac=st.floats(0.0, 1.0))
def test_n_areas_property(n, seed, frac):
    k = max(1, int(round(frac * n)))
    inst = generate(n, seed, n_areas=k)
    assert inst.n_areas == k
    check_invariants(inst, n)


@pytest.mark.parametrize("n", [10, 11, 57, 2000])
def test_sizes(n):
    inst = generate(n, seed=n)
    check_invariants(inst, n)
    assert inst.n_areas == max(1, round(n / 1.4))


def test_default_areas_lsoa():
    assert generate(2000, seed=0, population="lsoa").n_areas == round(2000 / 216)
    assert generate(100, seed=0, population="lsoa").n_areas == 1


def test_extreme_area_counts():
    one = generate(50, seed=2, n_areas=1)
    assert one.n_areas == 1 and one.straddling_units() == []
    check_invariants(one, 50)
    every = generate(50, seed=2, n_areas=50, straddle_fraction=1.0)
    assert every.n_areas == 50
    check_invariants(every, 50)


def test_adjacency_planar_and_triangulation_sized():
    inst = generate(500, seed=4)
    assert nx.check_planarity(inst.adjacency_graph())[0]
    m = len(inst.adjacency)
    # a triangulation of n points has at most 3n - 6 edges; few are peeled
    assert 2.7 * 500 < m <= 3 * 500 - 6
    assert set(inst.adjacency["kind"]) == {"boundary"}


def test_stray_pieces_handed_to_adjacent_area():
    # seeds A=0, B=1, C=2; unit 4 is nearest A and unit 3 nearest C, but
    # neither touches its seed's area: 4 joins B (its only settled neighbour),
    # then 3, whose only neighbour is 4, follows it into B on the next round.
    pts = np.array([[0.0, 0], [10, 0], [20, 0], [19, 0], [1, 0]])
    edges = np.array([[0, 1], [1, 2], [1, 4], [3, 4]])
    indptr, indices = _csr(5, edges)
    area = _contiguous_areas(pts, edges, indptr, indices, np.array([0, 1, 2]))
    assert area.tolist() == [0, 1, 2, 1, 1]


# ------------------------------------------------------------ straddling
@pytest.mark.parametrize("frac", [0.0, 0.1, 0.5, 1.0])
def test_straddle_fraction(frac):
    inst = generate(2000, seed=5, population="lsoa", n_areas=40, straddle_fraction=frac)
    cand = boundary_units(inst)
    strad = inst.straddling_units()
    assert set(strad) <= set(cand)
    assert len(strad) == round(frac * len(cand))


def test_straddle_shares_and_neighbouring_area():
    inst = generate(1500, seed=6, straddle_fraction=0.5)
    t = inst.main_area_table()
    strad = inst.straddling_units()
    assert len(strad) > 100
    outside = 1 - t.loc[strad, "main_share"]
    # share drawn from [0.02, 0.45], then rounded to whole people
    assert outside.min() >= 0.02 - 1e-4 and outside.max() <= 0.45 + 1e-4
    assert outside.mean() == pytest.approx(0.235, abs=0.03)
    # the second area is the main area of some neighbour
    main = inst.main_area()
    m = inst.membership
    second = m[(m["unit"].isin(strad)) & (m["area"] != m["unit"].map(main))].set_index("unit")["area"]
    nb = inst.neighbours
    for code in strad:
        i = inst.index[code]
        assert second[code] in {main[inst.unit_codes[j]] for j in nb[i]}


# ----------------------------------------------------------- populations
def test_ccg_population_quantiles():
    pop = generate(2000, seed=8).population
    q1, q2, q3 = np.percentile(pop, [25, 50, 75])
    assert q1 == pytest.approx(167_000, rel=0.08)
    assert q2 == pytest.approx(220_000, rel=0.06)
    assert q3 == pytest.approx(297_000, rel=0.08)
    assert pop.dtype == np.int64


def test_lsoa_population_quantiles():
    pop = generate(2000, seed=9, population="lsoa").population
    q1, q2, q3 = np.percentile(pop, [25, 50, 75])
    assert q1 == pytest.approx(1437, rel=0.03)
    assert q2 == pytest.approx(1572, rel=0.03)
    assert q3 == pytest.approx(1750, rel=0.03)
    assert 934 <= pop.min() and pop.max() <= 7976


# --------------------------------------------------------------- baseline
def test_baseline_groups_contiguous_and_sized():
    size = 100
    inst = generate(2000, seed=10, population="lsoa", baseline_group_size=size)
    base = inst.baseline
    assert all(re.fullmatch(r"B\d{4,}", b) for b in base)
    # contiguous
    assert n_pieces(inst, base.to_numpy()) == base.nunique()
    # each group inside one area
    main = inst.main_area()
    assert (main.groupby(base).nunique() == 1).all()
    # about `size` units per group: round(units_in_area / size) groups per area
    per_area = main.value_counts()
    assert base.nunique() == sum(max(1, round(c / size)) for c in per_area)
    sizes = base.value_counts()
    assert sizes.mean() == pytest.approx(size, rel=0.15)
    assert sizes.median() == pytest.approx(size, rel=0.5)


def test_baseline_size_one_is_every_unit_alone():
    inst = generate(60, seed=11, baseline_group_size=1)
    assert inst.baseline.nunique() == 60


# ------------------------------------------------------------ bad inputs
@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"n_units": 9}, "n_units"),
        ({"n_units": 50_001}, "n_units"),
        ({"n_units": 0}, "n_units"),
        ({"n_units": 100.0}, "n_units"),
        ({"n_units": True}, "n_units"),
        ({"n_units": "100"}, "n_units"),
        ({"n_units": 100, "seed": -1}, "seed"),
        ({"n_units": 100, "population": "msoa"}, "population"),
        ({"n_units": 100, "n_areas": 0}, "n_areas"),
        ({"n_units": 100, "n_areas": 101}, "n_areas"),
        ({"n_units": 100, "straddle_fraction": -0.1}, "straddle_fraction"),
        ({"n_units": 100, "straddle_fraction": 1.5}, "straddle_fraction"),
        ({"n_units": 100, "baseline_group_size": 0}, "baseline_group_size"),
    ],
)
def test_bad_arguments_rejected(kwargs, param):
    with pytest.raises(ValidationError, match=param) as err:
        generate(**kwargs)
    assert err.value.items == (param,)
    assert isinstance(err.value, ValueError)


def test_name():
    assert generate(20, seed=3).name == "synthetic-ccg-20-s3"
    assert generate(20, seed=3, name="mine").name == "mine"
