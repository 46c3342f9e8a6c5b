"""Tests of least-moved regrouping in aligned and nested mode by unions of whole
HWBs over the realign engine (ccgmerge.engine.formulations.unions).

Differential: on tiny instances with a random baseline grouping and 1-3 HWBs,
``solve`` with objective ``moved`` in aligned or nested mode must match brute
force; the realign engine's new ``unownable`` labels are checked the same way
(a piece that may not continue some labels). Real data: the Durham,
Darlington and Tees area team at 250,000, which had no plan before.
"""

from __future__ import annotations

import itertools

import pytest

from hypothesis import given
from hypothesis import strategies as st

from brute import brute_force
from ccgmerge.engine.backends import SolverOptions, run
from ccgmerge.engine.formulations import realign
from ccgmerge.engine.formulations.hwb_windows import UNIONS
from ccgmerge.engine.formulations.unions import structures, unions_data
from ccgmerge.engine.formulations.base import Block
from ccgmerge.engine.subsets import connected_pieces
from ccgmerge.engine.solve import solve
from ccgmerge.plan import Status
from ccgmerge.scenario import Scenario
from test_optimise import assert_matches_brute, cases, hsettings
from test_realign import _floor


@hsettings(80)
@given(data=st.data())
def test_unions_match_brute_force(data):
    case = data.draw(cases(baseline=True, min_units=4, max_units=8), label="case")
    floor = _floor(data.draw, case)
    mode = data.draw(st.sampled_from(["aligned", "nested"]), label="mode")
    sc = Scenario(floor=floor, coterminosity=mode, objective="moved")
    plan = assert_matches_brute(case.inst, sc)
    if plan.status is Status.OPTIMAL and mode == "aligned" and len(set(case.inst.baseline)) > 1:
        assert any("unions:" in (s.get("detail") or "") for s in plan.subproblems), plan.subproblems


@hsettings(60)
@given(data=st.data())
def test_unownable_labels_match_brute_force(data):
    """The realign engine with some labels unownable: the least moved over every
    feasible partition and every labelling that gives no group an unownable label."""
    case = data.draw(cases(baseline=True, min_units=4, max_units=7), label="case")
    floor = _floor(data.draw, case)
    inst = case.inst
    labs = sorted(set(inst.baseline_codes))
    lab = {c: k for k, c in enumerate(labs)}
    units = list(range(inst.n_units))
    forbidden = frozenset(data.draw(st.sets(st.sampled_from(range(len(labs))), max_size=len(labs)), label="forbidden"))
    d = realign.block_data(units, {i: lab[inst.baseline_codes[i]] for i in units}, len(labs), inst.population,
                           inst.neighbours, floor, None, forbidden)
    b = brute_force(inst, Scenario(floor=floor, objective="moved"))
    if d is None or not b.is_feasible:
        return
    total = int(inst.population.sum())
    best = None
    for groups in b.feasible:
        for k in range(len(groups) + 1):
            for owned in itertools.combinations(range(len(groups)), k):
                for labels in itertools.permutations(sorted(set(range(len(labs))) - forbidden), k):
                    kept = sum(int(inst.population[i]) for g, l in zip((groups[o] for o in owned), labels)
                               for i in g if d.base[i] == l)
                    best = total - kept if best is None else min(best, total - kept)
    rr = realign.solve_realign(d, run, SolverOptions(), None)
    assert rr.status is Status.OPTIMAL
    assert rr.value == best, (rr.value, best, forbidden)
    for g in rr.groups:
        assert realign.is_connected(d, g) and int(inst.population[g].sum()) >= floor


def test_structures_need_every_small_hwb_in_a_union():
    """Three HWBs in a row, A(6) - B(20) - C(5), floor 10: only {A, B, C}."""
    from ccgmerge.instance import Instance
    import pandas as pd

    units = pd.DataFrame({"code": ["a", "b", "c"], "population": [6, 20, 5]})
    inst = Instance.from_frames(units, None, pd.DataFrame({"unit": ["a", "b", "c"], "area": ["A", "B", "C"],
                                                           "population": [6, 20, 5]}),
                                pd.DataFrame({"a": ["a", "b"], "b": ["b", "c"]}), baseline={"a": "x", "b": "x", "c": "z"},
                                warn=False)
    sc = Scenario(floor=10, coterminosity="aligned", objective="moved")
    d = unions_data(inst, Block([0, 1, 2], "all"), sc)
    assert structures(d) == [((0, 1, 2),)]
    plan = solve(inst, sc)
    assert plan.status is Status.OPTIMAL and plan.objective == 5 and len(plan.groups) == 1


def test_durham_darlington_and_tees_aligned_is_proven(data_path):
    """Real data: the six HWBs of the 2013 Durham, Darlington and Tees area team
    (741 LSOAs) at 250,000, aligned, least moved: no plan before this module,
    then a greedy plan moving 345,193; now proven optimal."""
    from ccgmerge.data import load_lsoa2013, nhs_area_hwbs

    inst = load_lsoa2013(data_path, hwbs=nhs_area_hwbs("Durham, Darlington and Tees", data_path), warn=False)
    plan = solve(inst, Scenario(floor=250_000, coterminosity="aligned", objective="moved"))
    assert plan.status is Status.OPTIMAL and plan.ok
    assert plan.objective == plan.bound == 115_303
    assert UNIONS.why_not_exact(inst, Scenario(floor=250_000, coterminosity="aligned", objective="moved")) is None


@pytest.fixture(scope="module")
def declining_realign():
    """solve_labelled sees a realign engine that declines every block, so an off-mode block goes
    to solve_by_windows (which, like unions, keeps the real engine for its windows)."""
    import types

    import ccgmerge.engine.formulations.labelled as labelled

    mp = pytest.MonkeyPatch()
    mp.setattr(labelled, "realign", types.SimpleNamespace(block_data=lambda *a, **k: None))
    yield
    mp.undo()


@hsettings(40)
@given(data=st.data())
def test_solve_by_windows_brackets_the_brute_force_optimum(data, declining_realign):
    """Off mode through solve_by_windows under a time limit (windows, counting and cluster
    bounds, the labelled model cut off at the plan): a checked plan never better than brute
    force, a bound never above it, OPTIMAL only at the optimum."""
    case = data.draw(cases(baseline=True, min_units=4, max_units=8), label="case")
    floor = _floor(data.draw, case)
    sc = Scenario(floor=floor, coterminosity="off", objective="moved")
    b = brute_force(case.inst, sc)
    plan = solve(case.inst, sc, time_limit=30)
    if not b.is_feasible:
        assert plan.status is Status.INFEASIBLE
        return
    assert plan.ok and plan.groups is not None
    best = b.stages[0]
    assert plan.objective >= best - 1e-9
    assert plan.bound is None or plan.bound <= best + 1e-9, (plan.bound, best, plan.subproblems)
    if plan.status is Status.OPTIMAL:
        assert abs(plan.objective - best) <= 1e-9


@hsettings(40)
@given(data=st.data())
def test_solve_by_windows_without_a_time_limit_matches_brute_force(data, declining_realign):
    """Off mode on a block the realign engine declines (as a block of more than
    MAX_LABELS baseline groups, or in several components, is): solve_by_windows --
    the window search, the bounds, then the labelled model in rounds of separator
    cuts, cut off at the window plan -- finds the brute-force optimum."""
    case = data.draw(cases(baseline=True, min_units=4, max_units=7), label="case")
    floor = _floor(data.draw, case)
    assert_matches_brute(case.inst, Scenario(floor=floor, coterminosity="off", objective="moved"))


def test_aligned_incumbent_is_an_off_plan(data_path):
    """Thames Valley's ten HWBs (18 baseline groups: more than the realign engine
    takes whole) in off mode: the aligned incumbent is a plan there too."""
    from ccgmerge.check import check_plan
    from ccgmerge.data import load_lsoa2013, nhs_area_hwbs
    from ccgmerge.engine.formulations.labelled import aligned_incumbent

    inst = load_lsoa2013(data_path, hwbs=nhs_area_hwbs("E39000024", data_path), warn=False)
    sc = Scenario(floor=250_000, coterminosity="off", objective="moved")
    res = aligned_incumbent(inst, Block(list(range(inst.n_units)), "all"), sc, SolverOptions(), None, run)
    assert res is not None and check_plan(inst, res.groups, sc).ok
    assert res.value == 702_608


@hsettings(60)
@given(data=st.data())
def test_window_search_and_cluster_bound_bracket_the_brute_force_optimum(data):
    """On tiny instances, clusters of one or two labels: the cluster bound never
    exceeds the brute-force optimum, and the window search (windows of one or two
    labels) returns a plan meeting the floor, connected, never worse than its start."""
    from ccgmerge.engine.formulations import windows as win
    from ccgmerge.metrics import plan_metrics

    case = data.draw(cases(baseline=True, min_units=4, max_units=8), label="case")
    floor = _floor(data.draw, case)
    inst = case.inst
    size = data.draw(st.integers(1, 2), label="size")
    b = brute_force(inst, Scenario(floor=floor, objective="moved"))
    units = list(range(inst.n_units))
    if not b.is_feasible or len(connected_pieces(inst.neighbours, units)) != 1:
        return
    labs = sorted(set(inst.baseline_codes))
    base = {i: labs.index(inst.baseline_codes[i]) for i in units}
    best = b.stages[0]
    bound, log = win.cluster_bound(units, base, len(labs), inst.population, inst.neighbours, floor, run,
                                   SolverOptions(), None, size=size)
    assert bound <= best + 1e-9, (bound, best, log)
    plan, wlog = win.improve_by_windows(units, base, len(labs), inst.population, inst.neighbours, floor, None, run,
                                        SolverOptions(), None, size=size)
    assert plan is not None
    groups = list(plan.values())
    assert sorted(i for g in groups for i in g) == units
    for g in groups:
        assert len(connected_pieces(inst.neighbours, g)) == 1 and int(inst.population[g].sum()) >= floor
    assert wlog["moved"] <= wlog["start"]
    assert plan_metrics(inst, groups)["moved"] <= wlog["moved"] and wlog["moved"] >= best


@hsettings(60)
@given(data=st.data())
def test_count_bound_never_exceeds_the_brute_force_optimum(data):
    from ccgmerge.engine.formulations import windows as win

    case = data.draw(cases(baseline=True, min_units=3, max_units=8), label="case")
    floor = _floor(data.draw, case)
    inst = case.inst
    b = brute_force(inst, Scenario(floor=floor, objective="moved"))
    if not b.is_feasible:
        return
    labs = sorted(set(inst.baseline_codes))
    base = {i: labs.index(inst.baseline_codes[i]) for i in range(inst.n_units)}
    bound = win.count_bound(list(range(inst.n_units)), base, inst.population, floor, run, SolverOptions(), None)
    assert bound <= b.stages[0] + 1e-9, (bound, b.stages)
