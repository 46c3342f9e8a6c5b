"""Outputs with names (issue 16, item 5): ``groups.csv``, ``plan.csv`` and ``summary.json``.

* ``Plan.groups_table`` (``groups.csv``): every group named after the baseline
  organisation it continues, its members' and HWBs' names, its non-coterminous
  people and people moved (summing to the plan's metrics), and a documented
  ``coterminous`` rule under which a union of whole HWBs is coterminous.
* ``Plan.units_table`` (``plan.csv``): each unit's group, names, baseline
  group and a ``moved`` flag consistent with the ``moved`` metric.
* ``summary.json``: the bound, and each block's value and bound, on the
  objective's scale, each saying where it comes from.

The tiny instance of the coterminosity tests, three HWBs and no unit
straddling two of them::

    A(60) -- B(40) -- C(50) -- D(30)        HWB X = {A, B}   Y = {C}   Z = {D}
"""

from __future__ import annotations

import json
import pandas as pd
import pytest

from ccgmerge.engine.formulations import FORMULATIONS
from ccgmerge.engine.formulations.base import BlockResult
from ccgmerge.engine.solve import solve
from ccgmerge.instance import Instance
from ccgmerge.metrics import HWB_FIT, continuations, group_measures, plan_metrics
from ccgmerge.plan import GROUP_COLUMNS, UNIT_COLUMNS, Plan, Status, names_by_code
from ccgmerge.rules import aligned_ok
from ccgmerge.scenario import Scenario
from ccgmerge.data.synthetic import generate
from plans import moved_border_plan, plan_of


# --------------------------------------------------------------------------- helpers
def by_code(frame: pd.DataFrame, column: str) -> dict:
    """``column`` of a units or areas table by code (its ``code`` column, else its index)."""
    keys = frame["code"] if "code" in frame.columns else frame.index
    return dict(zip(map(str, keys), frame[column]))


def line() -> Instance:
    """The tiny instance drawn in the module docstring."""
    units = pd.DataFrame({"code": list("ABCD"), "name": ["Ash", "Beech", "Cedar", "Damson"],
                          "population": [60, 40, 50, 30]})
    areas = pd.DataFrame({"code": list("XYZ"), "name": ["Xshire", "Yborough", "Zton"], "population": [100, 50, 30]})
    membership = pd.DataFrame({"unit": list("ABCD"), "area": list("XXYZ"), "population": [60, 40, 50, 30]})
    return Instance.from_frames(units, areas, membership, [("A", "B"), ("B", "C"), ("C", "D")], warn=False)


def set_partitions(items):
    """Every partition of ``items`` into non-empty blocks."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in set_partitions(rest):
        for k in range(len(part)):
            yield part[:k] + [[first] + part[k]] + part[k + 1:]
        yield [[first]] + part


def check_table_against_plan(plan: Plan) -> pd.DataFrame:
    """The groups table's columns and totals, checked against the plan's metrics; returns the table."""
    t = plan.groups_table
    m = plan.metrics
    assert list(t.columns) == list(GROUP_COLUMNS)
    assert len(t) == m["groups"] and t["group"].is_unique
    assert t["noncoterminous"].sum() == m["noncoterminous"]
    assert t["moved"].sum() == m["moved"]
    assert t["coterminous"].sum() == m["coterminous_groups"]
    assert t["population"].sum() == plan.instance.total_population
    assert set(t["hwb_fit"]) <= set(HWB_FIT)
    assert (t["coterminous"] == (t["hwb_fit"] != "crosses HWBs")).all()
    for _, r in t.iterrows():
        assert len(r["hwbs"].split(";")) == len(r["hwb_names"].split(";"))
        assert len(r["members"].split(";")) == len(r["member_names"].split(";")) == r["n_units"]
        assert r["hwbs"].split(";")[0] == r["main_area"]
    return t


# --------------------------------------------------------------------------- documentation
def test_every_column_is_documented_in_order():
    """The docstrings' column tables list exactly the columns written, in their order."""
    for doc, columns in ((Plan.groups_table.__doc__, GROUP_COLUMNS), (Plan.units_table.__doc__, UNIT_COLUMNS)):
        lines = doc.splitlines()
        indent = next(len(ln) - len(ln.lstrip()) for ln in lines if ln.strip().startswith("===="))
        rows = [ln.split()[0] for ln in lines if ln.startswith(" " * indent + "``")]  # not continuation lines
        assert [r.strip("`") for r in rows] == list(columns)
        assert all(columns.values())


# --------------------------------------------------------------------------- the coterminous rule
def test_union_of_whole_hwbs_is_coterminous_on_the_drawn_instance():
    inst = line()
    sc = Scenario(floor=1, coterminosity="aligned")
    plan = plan_of(inst, ["ABC", "D"], sc)  # X and Y whole, then Z whole
    t = check_table_against_plan(plan).set_index("group")
    assert t.loc["A", "hwb_fit"] == "whole HWBs" and t.loc["A", "coterminous"]
    assert t.loc["A", "share_in_main_area"] == pytest.approx(100 / 150)  # the old 99%-both-ways rule said False
    assert t.loc["A", "noncoterminous"] == 50  # the optimiser's count: Y's people live outside the main HWB X
    assert t.loc["A", "hwbs"] == "X;Y" and t.loc["A", "hwb_names"] == "Xshire;Yborough"
    assert t.loc["D", "hwb_fit"] == "one whole HWB" and t.loc["D", "coterminous"]
    assert plan.metrics["coterminous_groups"] == 2
    # A alone lies within X, which B shares; B, C, D cut X: it crosses
    t = plan_of(inst, ["A", "BCD"], Scenario(floor=1)).groups_table.set_index("group")
    assert t.loc["A", "hwb_fit"] == "within one HWB" and t.loc["A", "coterminous"]
    assert t.loc["C", "hwb_fit"] == "crosses HWBs" and not t.loc["C", "coterminous"]


def test_coterminous_agrees_with_the_aligned_rule_when_no_unit_straddles():
    """On the drawn instance (no unit in two HWBs) a group is coterminous exactly when the
    aligned rule accepts it, for every group of every partition."""
    inst = line()
    sc = Scenario(floor=1, coterminosity="aligned", contiguity=False)
    seen = set()
    for part in set_partitions(list(range(inst.n_units))):
        flags = group_measures(inst, part, sc.coterminous_threshold)["coterminous"].tolist()
        for g, flag in zip(part, flags):
            assert flag == (aligned_ok(inst, [g], sc) == []), [inst.unit_codes[i] for i in g]
            seen.add(flag)
    assert seen == {True, False}


def test_groups_table_recomputes_the_rule_independently(ccg2013):
    """The rule, recomputed from the membership table for every group of a real plan."""
    plan = solve(ccg2013, Scenario(floor=300_000, coterminosity="aligned"))
    t = check_table_against_plan(plan)
    m = ccg2013.membership
    apop = by_code(ccg2013.areas, "population")
    where = dict(zip(t["group"], range(len(t))))
    unit_group = {u: where[g] for u, g in plan.assignment.items()}
    people = m.assign(k=m["unit"].map(unit_group)).groupby(["k", "area"])["population"].sum()
    for k, r in t.iterrows():
        x = people.loc[k]
        p = r["population"]
        whole = [a for a, v in x.items() if v >= 0.99 * apop[a]]
        main = sorted(x.index, key=lambda a: (-x[a], a))[0]
        if main in whole and x[main] >= 0.99 * p:
            fit = "one whole HWB"
        elif len(whole) >= 2 and x[whole].sum() >= 0.99 * p:
            fit = "whole HWBs"
        elif x.max() >= 0.99 * p:
            fit = "within one HWB"
        else:
            fit = "crosses HWBs"
        assert r["hwb_fit"] == fit, r["group"]
        assert r["noncoterminous"] == p - x.max()


# --------------------------------------------------------------------------- groups.csv on the 211 CCGs
@pytest.fixture(scope="module")
def aligned_300k(ccg2013):
    plan = solve(ccg2013, Scenario(floor=300_000, coterminosity="aligned"))
    assert plan.status is Status.OPTIMAL
    return plan


def test_groups_csv_names_the_groups_of_the_real_ccgs(aligned_300k, tmp_path):
    aligned_300k.groups_to_csv(tmp_path / "groups.csv")
    t = pd.read_csv(tmp_path / "groups.csv", dtype={"group": str, "continues": str, "main_area": str})
    assert list(t.columns) == list(GROUP_COLUMNS)
    inst = aligned_300k.instance
    names = names_by_code(inst.units)
    pop = dict(zip(inst.unit_codes, inst.population))
    for _, r in t.iterrows():
        members = r["members"].split(";")
        assert r["continues"] == r["group"] and pop[r["group"]] == max(pop[c] for c in members)  # the largest CCG
        assert r["name"] == names[r["continues"]]
        assert r["member_names"].split(";") == [names[c] for c in members]
        assert r["from_baseline"].split(";")[0] == f"{r['name']} ({r['continues']}): {pop[r['continues']]}"
    manchester = t[t["hwb_names"] == "Manchester"]
    assert len(manchester) == 1
    row = manchester.iloc[0]
    assert row["name"] == "NHS Central Manchester" and row["hwb_fit"] == "one whole HWB" and row["coterminous"]
    assert set(row["member_names"].split(";")) == {"NHS Central Manchester", "NHS North Manchester",
                                                   "NHS South Manchester"}
    unions = t[t["hwb_fit"] == "whole HWBs"]
    assert len(unions) >= 10 and unions["coterminous"].all()  # 99% both ways called every one of them False
    assert (unions["noncoterminous"] > 0).all()
    gateshead = t.set_index("group").loc["00F"]
    assert (gateshead["name"], gateshead["hwb_names"]) == ("NHS Gateshead", "Gateshead;South Tyneside")
    assert t["coterminous"].sum() == aligned_300k.metrics["coterminous_groups"]
    assert t["moved"].sum() == aligned_300k.metrics["moved"]
    assert t["noncoterminous"].sum() == aligned_300k.metrics["noncoterminous"]
    assert (t["margin"] == t["allowance"] - t["cost"]).all()


def test_plan_csv_of_the_real_ccgs(aligned_300k, tmp_path):
    aligned_300k.to_csv(tmp_path / "plan.csv")
    p = pd.read_csv(tmp_path / "plan.csv", dtype={"unit": str, "group": str, "baseline": str})
    assert list(p.columns) == list(UNIT_COLUMNS) and list(p.columns[:2]) == ["unit", "group"]
    assert dict(zip(p["unit"], p["group"])) == aligned_300k.assignment.to_dict()
    assert (p["baseline"] == p["unit"]).all() and (p["baseline_name"] == p["unit_name"]).all()
    pop = dict(zip(aligned_300k.instance.unit_codes, aligned_300k.instance.population))
    assert sum(pop[u] for u in p.loc[p["moved"], "unit"]) == aligned_300k.metrics["moved"]
    t = aligned_300k.groups_table.set_index("group")
    assert (p["group_name"] == t["name"].reindex(p["group"]).to_numpy()).all()


# --------------------------------------------------------------------------- LSOA plans
@pytest.fixture(scope="module")
def kent(data_path):
    from ccgmerge.data import load_lsoa2013

    return load_lsoa2013(data_path, hwbs=["E10000016"], warn=False)


def test_lsoa_plan_csv_has_baselines_and_moved_flags(kent, tmp_path):
    plan = moved_border_plan(kent, 12, Scenario(floor=1, objective="moved"))
    plan.to_csv(tmp_path / "plan.csv")
    p = pd.read_csv(tmp_path / "plan.csv", dtype=str)
    assert list(p.columns) == list(UNIT_COLUMNS) and len(p) == kent.n_units == 902
    assert (p["baseline"] == pd.Series(kent.baseline_codes)).all()
    moved = p["moved"] == "True"
    assert moved.sum() == 12
    pop = dict(zip(kent.unit_codes, kent.population))
    assert sum(pop[u] for u in p.loc[moved, "unit"]) == plan.metrics["moved"] > 0
    # a unit stays exactly when its group continues its 2013 CCG
    t = plan.groups_table.set_index("group")
    assert (~moved == (t["continues"].reindex(p["group"]).to_numpy() == p["baseline"])).all()
    assert set(p["baseline_name"]) >= {"NHS West Kent", "NHS Thanet"}
    assert (p.loc[~moved, "group_name"] == p.loc[~moved, "baseline_name"]).all()
    assert p["unit_name"].str.match(r"^[A-Z][A-Za-z ,.'-]+ \d{3}[A-Z]$").all()  # "Ashford 006A"


def test_lsoa_groups_are_named_by_the_ccg_they_continue(kent):
    plan = moved_border_plan(kent, 12, Scenario(floor=1, objective="moved"))
    t = check_table_against_plan(plan)
    ccg_names = {"09C": "NHS Ashford", "99J": "NHS West Kent", "10E": "NHS Thanet"}
    for _, r in t.iterrows():
        assert r["continues"] in set(kent.baseline_codes)
        if r["continues"] in ccg_names:
            assert r["name"] == ccg_names[r["continues"]]
        assert not r["name"].startswith("E01")  # never an LSOA code
        assert r["from_baseline"].startswith(f"{r['name']} ({r['continues']}): ")
        assert r["n_units"] > 50 and len(r["members"].split(";")) == r["n_units"]
    assert continuations(kent, plan.groups) == [None if c == "" else c for c in
                                                t.set_index("group")["continues"].reindex(plan.group_ids())]
    # a group that merges two CCGs continues the one whose people it keeps most of, and is named after it
    where = {i: k for k, g in enumerate(plan.groups) for i in g}
    a, b = next((where[i], where[j]) for i, j in kent.edges if where[i] != where[j])
    merged = [list(plan.groups[a]) + list(plan.groups[b])] + [list(g) for k, g in enumerate(plan.groups)
                                                              if k not in (a, b)]
    merged_plan = plan_of(kent, merged, Scenario(floor=1, objective="moved"))
    t = check_table_against_plan(merged_plan)
    assert (t["name"] != "new group").all() and len(t) == len(plan.groups) - 1
    row = t[t["n_units"] == len(merged[0])].iloc[0]
    assert row["continues"] in {kent.baseline_codes[i] for i in merged[0]} and len(row["from_baseline"].split(";")) >= 2


# --------------------------------------------------------------------------- summary.json: bounds
def check_bounds(plan: Plan, additive: bool = True) -> dict:
    """summary.json's bound and every block's on the objective's scale; returns the summary."""
    d = json.loads(plan.to_json())
    m = d["metrics"]
    assert m["objective"] == plan.objective and m["bound"] == plan.bound and m["bound_source"]
    assert m["bound"] is not None and m["bound"] <= m["objective"] + 1e-6
    values = []
    for block in d["subproblems"]:
        if "value" not in block:
            continue  # a note, not a block
        assert block["bound"] is not None and block["bound"] <= block["value"] + 1e-6 and block["bound_source"]
        assert block["model_value"] - block["model_bound"] == pytest.approx(block["value"] - block["bound"])
        values.append(block["value"])
    if additive:  # the blocks' shares add up to the objective
        assert sum(values) == pytest.approx(m["objective"])
    return d


@pytest.mark.parametrize("scenario", [
    Scenario(),
    Scenario(coterminosity="penalised"),
    Scenario(objective="moved"),
    Scenario(floor=300_000, coterminosity="aligned"),
], ids=["merges", "penalised", "moved", "aligned-300k"])
def test_summary_bound_on_the_objective_scale_real(ccg2013, scenario):
    plan = solve(ccg2013, scenario)
    d = check_bounds(plan)
    assert plan.status is Status.OPTIMAL and d["metrics"]["bound"] == d["metrics"]["objective"]
    assert all(b["value"] >= 0 for b in d["subproblems"] if "value" in b)  # was -205 beside an objective of 6


@pytest.mark.parametrize("mode", ["nested", "off", "penalised"])
def test_summary_bound_on_the_objective_scale_many_blocks(mode):
    inst = generate(80, seed=2)
    plan = solve(inst, Scenario(floor=100_000, coterminosity=mode))
    if plan.groups is None:
        pytest.fail(f"{mode}: {plan.status.value} {plan.infeasibility}")
    d = check_bounds(plan)
    if mode == "nested":  # one block per HWB piece, some of them merging units
        assert len([b for b in d["subproblems"] if "value" in b]) > 10 and plan.metrics["merges"] > 0


def test_block_gap_is_carried_to_the_plan_bound(ccg2013, monkeypatch):
    """A block proven only to within 2 merges: its bound and the plan's are the objective less 2."""

    def loosen(real):
        def loose(*args, **kw):
            res = real(*args, **kw)
            return BlockResult(res.groups, Status.FEASIBLE, res.value, res.bound - 2, res.formulation, res.seconds,
                               res.detail, res.n_vars, res.n_cons)
        return loose

    for f in FORMULATIONS:
        monkeypatch.setattr(f, "solve_block", loosen(f.solve_block))
    plan = solve(ccg2013, Scenario())
    assert plan.status is Status.FEASIBLE and plan.bound == plan.objective - 2
    d = check_bounds(plan)
    assert "gaps" in d["metrics"]["bound_source"]
    block = d["subproblems"][0]
    assert (block["value"], block["bound"]) == (plan.objective, plan.objective - 2)


def test_plan_metrics_of_a_block_are_its_share():
    """plan_metrics on the groups of part of the units: that part's share (merges, moved, noncoterminous)."""
    inst = generate(40, seed=5)
    plan = solve(inst, Scenario(floor=200_000))
    groups = [list(g) for g in plan.groups]
    whole = plan_metrics(inst, groups)
    assert len(groups) >= 3
    for cut in [(0,), (1, 2), tuple(range(0, len(groups), 2))]:
        part = [groups[k] for k in cut]
        rest = [g for k, g in enumerate(groups) if k not in cut]
        a, b = plan_metrics(inst, part), plan_metrics(inst, rest)
        for key in ("merges", "moved", "noncoterminous", "groups", "coterminous_groups"):
            assert a[key] + b[key] == whole[key], key
