"""Comparison of plans with each other and with the real NHS configurations."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from ccgmerge.analysis.compare import Comparison, compare_assignments, compare_with_history, configuration_plan
from ccgmerge.data import configuration_names, load_configuration
from ccgmerge.errors import ValidationError
from ccgmerge.instance import Instance
from ccgmerge.engine.solve import solve
from ccgmerge.plan import Plan, Status
from ccgmerge.scenario import Scenario
from ccgmerge.data.synthetic import generate


def path_instance(pops):
    """Units A, B, C ... on a path, one area."""
    codes = [chr(ord("A") + i) for i in range(len(pops))]
    units = pd.DataFrame({"code": codes, "population": pops})
    areas = pd.DataFrame({"code": ["X"], "population": [sum(pops)]})
    member = pd.DataFrame({"unit": codes, "area": ["X"] * len(codes), "population": pops})
    return Instance.from_frames(units, areas, member, list(zip(codes, codes[1:]))), codes


def brute(codes, pops, a, b):
    """Pair counting by enumerating every pair; ARI by the pair-confusion formula."""
    tp = fp = fn = tn = 0
    for i, j in itertools.combinations(range(len(codes)), 2):
        sa, sb = a[codes[i]] == a[codes[j]], b[codes[i]] == b[codes[j]]
        tp += sa and sb
        fp += sa and not sb
        fn += sb and not sa
        tn += not sa and not sb
    den = (tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)
    ari = 1.0 if fn == fp == 0 else float(Fraction(2 * (tp * tn - fn * fp), den))
    part = []
    for c in codes:
        pa = {d for d in codes if d != c and a[d] == a[c]}
        pb = {d for d in codes if d != c and b[d] == b[c]}
        part.append(1.0 if not (pa | pb) else len(pa & pb) / len(pa | pb))
    w = np.asarray(pops, float)
    return {"ari": ari, "pairs_a": tp + fp, "pairs_b": tp + fn, "pairs_both": tp, "rand": (tp + tn) / (tp + fp + fn + tn),
            "partner_agreement": float(w @ np.array(part) / w.sum())}


# --------------------------------------------------------------------------- hand example
A_LAB = dict(zip("ABCDEF", "xxxyyz"))  # {A,B,C} {D,E} {F}
B_LAB = dict(zip("ABCDEF", "ppqqrr"))  # {A,B} {C,D} {E,F}


def test_hand_example_equal_populations():
    inst, _ = path_instance([10] * 6)
    c = compare_assignments(inst, A_LAB, B_LAB)
    assert isinstance(c, Comparison)
    # pairs: a has AB AC BC DE (4), b has AB CD EF (3), both AB (1); 15 pairs in all
    assert (c.pairs_a, c.pairs_b, c.pairs_both) == (4, 3, 1)
    # expected = 4*3/15 = 0.8, max = 3.5 -> ARI = 0.2 / 2.7 = 2/27
    assert c.ari == pytest.approx(2 / 27)
    assert c.rand == pytest.approx(10 / 15)
    assert c.precision == pytest.approx(1 / 4)
    assert c.recall == pytest.approx(1 / 3)
    assert c.f1 == pytest.approx(2 / 7)
    # partner Jaccard: A 1/2, B 1/2, C 0/3, D 0/2, E 0/2, F 0/1 -> mean 1/6
    assert c.partner_agreement == pytest.approx(1 / 6)
    assert c.exact_partner_share == 0.0
    assert (c.groups_a, c.groups_b, c.n_units) == (3, 3, 6)
    d = c.to_dict()
    assert d["ari"] == c.ari and set(d) == set(Comparison.__dataclass_fields__)


def test_hand_example_population_weighted():
    inst, _ = path_instance([40, 10, 10, 10, 10, 10])
    c = compare_assignments(inst, A_LAB, B_LAB)
    # A weighs 40: (40 * 1/2 + 10 * 1/2) / 90
    assert c.partner_agreement == pytest.approx(25 / 90)
    assert c.ari == pytest.approx(2 / 27)  # pair counting ignores population


def test_exact_partner_share_counts_identical_groups():
    inst, _ = path_instance([10, 20, 30, 40])
    a = dict(zip("ABCD", [1, 1, 2, 3]))  # {A,B} {C} {D}
    b = dict(zip("ABCD", [1, 1, 2, 2]))  # {A,B} {C,D}
    c = compare_assignments(inst, a, b)
    assert c.exact_partner_share == pytest.approx(30 / 100)  # A and B
    assert c.partner_agreement == pytest.approx(30 / 100)  # C, D: 0/1
    assert c.precision == 1.0 and c.recall == 0.5


def test_identical_and_trivial_groupings():
    inst, codes = path_instance([5, 6, 7, 8, 9])
    a = dict(zip(codes, [0, 0, 1, 1, 2]))
    c = compare_assignments(inst, a, a)
    assert (c.ari, c.rand, c.precision, c.recall, c.f1, c.partner_agreement, c.exact_partner_share) == (1, 1, 1, 1, 1, 1, 1)
    alone = {x: x for x in codes}
    c = compare_assignments(inst, alone, alone)
    assert c.ari == 1.0 and c.f1 == 1.0 and c.partner_agreement == 1.0
    one = {x: "all" for x in codes}
    assert compare_assignments(inst, one, one).ari == 1.0
    c = compare_assignments(inst, alone, one)
    assert c.ari == 0.0 and c.precision == 1.0 and c.recall == 0.0 and c.f1 == 0.0
    assert c.partner_agreement == 0.0


def test_symmetry_and_label_renaming():
    inst, codes = path_instance([1, 2, 3, 4, 5, 6, 7, 8])
    rng = np.random.default_rng(7)
    for _ in range(25):
        a = dict(zip(codes, rng.integers(0, 4, len(codes)).tolist()))
        b = dict(zip(codes, rng.integers(0, 3, len(codes)).tolist()))
        ab, ba = compare_assignments(inst, a, b), compare_assignments(inst, b, a)
        assert ab.ari == pytest.approx(ba.ari)
        assert ab.rand == pytest.approx(ba.rand)
        assert (ab.precision, ab.recall) == pytest.approx((ba.recall, ba.precision))
        assert ab.partner_agreement == pytest.approx(ba.partner_agreement)
        renamed = {k: f"group-{v * 7 + 3}" for k, v in a.items()}
        r = compare_assignments(inst, renamed, pd.Series(b))
        assert r.to_dict() == pytest.approx(ab.to_dict())


def test_matches_brute_force_pair_enumeration():
    inst, codes = path_instance([3, 1, 4, 1, 5, 9, 2, 6, 5])
    rng = np.random.default_rng(11)
    for _ in range(40):
        a = dict(zip(codes, rng.integers(0, rng.integers(1, 6), len(codes)).tolist()))
        b = dict(zip(codes, rng.integers(0, rng.integers(1, 6), len(codes)).tolist()))
        c = compare_assignments(inst, a, b)
        ref = brute(codes, inst.population.tolist(), a, b)
        for k, v in ref.items():
            assert getattr(c, k) == pytest.approx(v), k


def test_input_validation():
    inst, codes = path_instance([1, 2, 3])
    good = dict(zip(codes, "xyz"))
    with pytest.raises(ValidationError, match="have no group"):
        compare_assignments(inst, {"A": 1, "B": 1}, good)
    with pytest.raises(ValidationError, match="not in instance"):
        compare_assignments(inst, {**good, "Q": 1}, good)
    with pytest.raises(ValidationError, match="missing group label"):
        compare_assignments(inst, good, {"A": 1, "B": None, "C": 2})


def test_plans_are_accepted_and_configuration_plan_on_synthetic():
    inst = generate(30, seed=4)
    sc = Scenario(floor=400_000)
    plan = solve(inst, sc)
    c = compare_assignments(inst, plan, plan.assignment)
    assert c.ari == 1.0 and c.groups_a == len(plan.groups)
    # a custom grouping evaluated as a plan: every unit alone breaks the floor
    alone = pd.Series({u: u for u in inst.unit_codes}, name="alone")
    cp = configuration_plan(inst, alone, sc)
    assert isinstance(cp, Plan) and cp.status is Status.FEASIBLE and not cp.ok
    assert cp.formulation == "real configuration alone"
    below = [u for u in inst.unit_codes if inst.population[inst.index[u]] < 400_000]
    assert sum(v.rule == "floor" for v in cp.verdict.violations) == len(below)
    assert cp.objective == 0.0 and cp.bound is None
    same = configuration_plan(inst, plan.assignment.rename("same"), sc)
    assert same.ok and same.metrics["groups"] == plan.metrics["groups"]


# --------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def optimum_100k(ccg2013):
    plan = solve(ccg2013, Scenario())
    assert plan.status is Status.OPTIMAL and plan.ok
    return plan


def test_optimum_vs_ccg21_and_icb22(ccg2013, optimum_100k):
    plan = optimum_100k
    assert plan.metrics["groups"] == 205  # 6 merges lift the 6 CCGs below 100k
    for name, n_groups in (("ccg21", 106), ("icb22", 42)):
        cfg = load_configuration(name)
        c = compare_assignments(ccg2013, plan, cfg)
        assert (c.groups_a, c.groups_b, c.n_units) == (205, n_groups, 211)
        assert c.pairs_a == 6  # six pairs merged
        assert c.precision == pytest.approx(c.pairs_both / 6)
        # the minimal plan barely resembles the NHS's large mergers
        assert -0.05 < c.ari < 0.1
        assert c.recall < 0.05
        assert 0 < c.partner_agreement < 0.5
        assert c.exact_partner_share <= c.partner_agreement
        # symmetric figures do not depend on the order
        assert compare_assignments(ccg2013, cfg, plan).ari == pytest.approx(c.ari)


def test_real_ccg21_verdict(ccg2013):
    cp = configuration_plan(ccg2013, "ccg21", Scenario())
    assert cp.formulation == "real configuration ccg21" and cp.status is Status.FEASIBLE
    m = cp.metrics
    assert m["groups"] == 106 and m["merges"] == 105
    assert m["min_group_population"] >= 100_000  # every 2021 CCG meets the 100k floor
    # the only breach: Newcastle Gateshead (13T) straddles the Tyne, which the
    # coastline-clipped adjacency does not cross (PROVENANCE.md, Known caveats)
    assert not cp.ok
    assert [(v.rule, v.units) for v in cp.verdict.violations] == [("connected", ("00F", "00G", "00H"))]
    tyne = ccg2013.with_edges(add=[("00F", "00G"), ("00F", "00H")], kind="bridge")
    assert configuration_plan(tyne, "ccg21", Scenario()).ok
    # stricter floors show where the 2021 CCGs would fail
    cp300 = configuration_plan(ccg2013, "ccg21", Scenario(floor=300_000))
    below = [v for v in cp300.verdict.violations if v.rule == "floor"]
    assert len(below) == sum(1 for g in cp300.groups if ccg2013.group_population(g) < 300_000) > 0


def test_compare_with_history(ccg2013, optimum_100k):
    df = compare_with_history(ccg2013, optimum_100k)
    assert list(df.index) == configuration_names()
    for col in ("level", "ari", "precision", "recall", "f1", "partner_agreement", "groups", "merges", "moved",
                "noncoterminous", "split_areas", "ok", "violations", "below_floor", "disconnected", "why",
                "plan_groups", "plan_merges", "extra_merges"):
        assert col in df.columns, col
    assert (df["plan_groups"] == 205).all() and (df["plan_merges"] == 6).all()
    assert df.loc["ccg21", "groups"] == 106 and df.loc["icb22", "groups"] == 42
    assert df.loc["ccg15", "below_floor"] == 6  # the six CCGs under 100k were still separate in 2015
    assert df.loc["ccg15", "disconnected"] == 1  # 13T across the Tyne
    assert df.loc["ccg21", "why"] == "1 disconnected"
    assert df.loc[["stp17", "stp21", "icb22"], "ok"].all()
    assert (df["extra_merges"] == df["merges"] - 6).all()
    assert df.loc["icb22", "level"] == "ICB" and df.loc["sub_icb22", "level"] == "Sub-ICB"
    assert df["ari"].between(-1, 1).all()
    # a subset, and a custom series
    sub = compare_with_history(ccg2013, optimum_100k, names=["icb22", optimum_100k.assignment.rename("itself")])
    assert list(sub.index) == ["icb22", "itself"]
    assert sub.loc["itself", "ari"] == 1.0 and sub.loc["itself", "ok"] and sub.loc["itself", "level"] == "custom"
    assert math.isclose(sub.loc["icb22", "ari"], df.loc["icb22", "ari"])
