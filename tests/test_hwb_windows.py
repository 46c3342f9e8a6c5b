"""Tests of least-moved regrouping in aligned mode at scale (ccgmerge.engine.formulations.hwb_windows)
and of its bound (ccgmerge.engine.formulations.aligned_bound).

Differential, on tiny instances of 2-5 HWBs (one unit or a few each) with a random baseline
grouping, against brute force over every partition the checker accepts:

* every bound (cluster by cluster, for any cut of the HWBs into clusters; by roles, alone
  and with the clusters' bounds as cuts) never exceeds the optimum;
* the window search's plan passes the checker, moves what it says, never fewer than the
  optimum, and its bound never exceeds the optimum; with start clusters and windows of one
  HWB it still finds a plan;
* through ``solve`` with the window path forced for every aligned block.

Real data: the Durham, Darlington and Tees area team (6 HWBs), which the unions search
proves optimal (115,303 moved), planned by windows instead: the two methods must bracket.
"""

from __future__ import annotations

import pytest

from hypothesis import given
from hypothesis import strategies as st

from brute import brute_force
from ccgmerge.check import check_plan
from ccgmerge.engine.backends import SolverOptions, run
from ccgmerge.engine.formulations import aligned_bound as ab
from ccgmerge.engine.formulations import hwb_windows as hw
from ccgmerge.engine.formulations.base import Block
from ccgmerge.engine.formulations.unions import unions_data
from ccgmerge.engine.solve import solve
from ccgmerge.metrics import plan_metrics
from ccgmerge.plan import Status
from ccgmerge.scenario import Scenario
from test_optimise import Case, hsettings, tree_edges


@st.composite
def hwb_cases(draw, max_units: int = 8) -> Case:
    """2-5 HWBs, each holding one or more of 3-8 units, joined by a random spanning tree of
    units plus a few extra edges; populations 1-100; baseline groups that often span HWBs."""
    n = draw(st.integers(3, max_units))
    k = draw(st.integers(2, min(5, n)))
    pops = draw(st.lists(st.integers(1, 100), min_size=n, max_size=n))
    area = list(range(k)) + draw(st.lists(st.integers(0, k - 1), min_size=n - k, max_size=n - k))
    edges, _ = tree_edges(draw, n)
    labels = draw(st.lists(st.integers(0, max(1, n // 2)), min_size=n, max_size=n))
    membership = [(i, f"H{area[i]}", p) for i, p in enumerate(pops)]
    return Case(pops, sorted(edges), membership, {f"U{i}": f"B{lab}" for i, lab in enumerate(labels)})


def _floor(draw, case: Case) -> int:
    total = sum(case.pops)
    return draw(st.one_of(st.integers(1, max(1, total // 3)), st.integers(1, total)), label="floor")


def _draw(data) -> tuple[Case, Scenario, float | None]:
    """A case, its aligned least-moved scenario and brute force's optimum (None: infeasible)."""
    case = data.draw(hwb_cases(), label="case")
    sc = Scenario(floor=_floor(data.draw, case), coterminosity="aligned", objective="moved")
    return case, sc, brute_force(case.inst, sc).value


def _cut(draw, n: int) -> list[tuple[int, ...]]:
    """A random cut of HWBs 0..n-1 into clusters."""
    tags = draw(st.lists(st.integers(0, n - 1), min_size=n, max_size=n), label="clusters")
    out: dict[int, list[int]] = {}
    for a, t in enumerate(tags):
        out.setdefault(t, []).append(a)
    return [tuple(c) for c in out.values()]


@hsettings(120)
@given(data=st.data())
def test_aligned_bounds_never_exceed_brute_force(data):
    case, sc, best = _draw(data)
    d = unions_data(case.inst, Block(list(range(case.inst.n_units)), "all"), sc)
    whole = ab.whole_costs(d)
    inside, _ = ab.inside_bounds(d, run, SolverOptions(), None, {}, whole)
    clusters = _cut(data.draw, len(d.areas))
    by_clusters = [ab.cluster_bound(d, c, inside, whole) for c in clusters]
    by_roles = ab.keeper_donor_bound(d, inside, whole, run, SolverOptions(), None)
    cuts = [(c, b) for c, (b, _) in zip(clusters, by_clusters)]
    with_cuts = ab.keeper_donor_bound(d, inside, whole, run, SolverOptions(), None, cuts)
    total, log = ab.aligned_bound(d, clusters, run, SolverOptions(), None, {})
    assert total == pytest.approx(max(sum(b for b, _ in by_clusters), with_cuts))
    # the cuts only add constraints: never weaker than either bound alone
    assert with_cuts >= max(by_roles, sum(b for b, _ in by_clusters)) - 1e-6
    if best is None:
        return
    assert sum(b for b, _ in by_clusters) <= best + 1e-6, (by_clusters, best, clusters)
    assert by_roles <= best + 1e-6, (by_roles, best)
    assert with_cuts <= best + 1e-6, (with_cuts, best, cuts)
    # the per-HWB sum (every cluster a single HWB) is a bound too, never above the clusters' bound
    singles = sum(ab.cluster_bound(d, (a,), inside, whole)[0] for a in range(len(d.areas)))
    assert singles <= best + 1e-6


def _check_result(case: Case, sc: Scenario, res, best: float | None):
    """The window search's result against brute force: a checked plan moving what it says,
    never fewer than the optimum, with a bound never above it."""
    if best is None:
        assert res.groups is None
        return
    assert res.groups is not None
    assert check_plan(case.inst, res.groups, sc).ok
    assert plan_metrics(case.inst, res.groups, sc)["moved"] == res.value
    assert best - 1e-6 <= res.value
    assert res.bound is not None and res.bound <= best + 1e-6, (res.bound, best, res.detail)
    if res.status is Status.OPTIMAL:
        assert res.value == best


@hsettings(100)
@given(data=st.data())
def test_windows_bracket_brute_force(data):
    case, sc, best = _draw(data)
    size = data.draw(st.integers(1, 4), label="start and window HWBs")
    res = hw.solve_aligned_at_scale(case.inst, Block(list(range(case.inst.n_units)), "all"), sc, SolverOptions(), None,
                                    run, start_hwbs=size, window_hwbs=size)
    _check_result(case, sc, res, best)


@hsettings(60)
@given(data=st.data())
def test_solve_with_the_window_path_forced(data):
    case, sc, best = _draw(data)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hw, "DIRECT_MAX_HWBS", 0)  # every aligned block planned by windows
        plan = solve(case.inst, sc)
    if best is None:
        assert plan.status in (Status.INFEASIBLE, Status.NO_SOLUTION)
        return
    assert plan.verdict.ok and plan.objective >= best - 1e-6 and plan.bound <= best + 1e-6
    assert plan.status is not Status.OPTIMAL or plan.objective == best
    blocks = [s for s in plan.subproblems if "aligned windows" in (s.get("detail") or "")]
    assert blocks or plan.formulation != "labelled", plan.subproblems


def test_start_clusters_keep_an_hwb_with_the_only_neighbour_it_can_join():
    """Medway-like: HWB 0 (below the floor) touches only HWB 1; HWB 2 can stand alone."""
    import numpy as np

    from ccgmerge.engine.formulations.unions import UnionsData

    d = UnionsData([[0], [1], [2]], [[0], [1], [2]], [[0], [1], [2]], [False, True, True],
                   [{1}, {0, 2}, {1}], [6, 20, 30], {0: 0, 1: 1, 2: 2}, 3, np.array([6, 20, 30]),
                   ((1,), (0, 2), (1,)), 10, True)
    assert hw.start_clusters(d, size=1) == [(0, 1), (2,)]
    assert ab.pendant_hosts(d, [0, 1, 2]) == {0: 1}
    # one baseline group for HWBs 0 and 1 together: 26 - 20 moved at least, not 0
    inside = [None, 0.0, 0.0]
    assert ab.cluster_bound(d, (0, 1), inside, [0, 0, 0]) == (6.0, True)


def test_durham_by_windows_brackets_the_unions_search(data_path, monkeypatch):
    """Real data: Durham, Darlington and Tees (6 HWBs, 741 LSOAs) at 250,000, aligned, least
    moved. The unions search proves 115,303; planned by windows (start clusters and windows of
    at most 2 HWBs) the plan moves at least that and the bound is at most that."""
    from ccgmerge.data import load_lsoa2013, nhs_area_hwbs

    inst = load_lsoa2013(data_path, hwbs=nhs_area_hwbs("E39000002"))
    sc = Scenario(floor=250_000, coterminosity="aligned", objective="moved")
    direct = solve(inst, sc, time_limit=120)
    assert direct.status is Status.OPTIMAL and direct.objective == 115_303
    res = hw.solve_aligned_at_scale(inst, Block(list(range(inst.n_units)), "all"), sc, SolverOptions(), None, run,
                                    start_hwbs=2, window_hwbs=2)
    assert check_plan(inst, res.groups, sc).ok
    assert res.value >= 115_303 and res.bound <= 115_303, res.detail
    monkeypatch.setattr(hw, "DIRECT_MAX_HWBS", 0)
    plan = solve(inst, sc, time_limit=60)
    assert plan.verdict.ok and plan.objective >= 115_303 and plan.bound <= 115_303
    assert "aligned windows" in plan.subproblems[0]["detail"]


def test_roles_bound_allows_a_union_reaching_past_its_adjacent_donors():
    """A ring ``A(100) - B(10) - C(10) - D(10) - A``, each HWB its own baseline group, floor 125:
    the one plan is the union of all four continuing A's group (30 moved). A and its adjacent
    donors B and D fall short of the floor, so the union reaches C through one of them (the chain
    variables); without them the roles bound would claim 130."""
    from test_optimise import build

    inst = build([100, 10, 10, 10], [(0, 1), (1, 2), (2, 3), (0, 3)],
                 [(0, "W", 100), (1, "X", 10), (2, "Y", 10), (3, "Z", 10)],
                 baseline={"U0": "a", "U1": "b", "U2": "c", "U3": "d"})
    sc = Scenario(floor=125, coterminosity="aligned", objective="moved")
    assert brute_force(inst, sc).value == 30
    d = unions_data(inst, Block([0, 1, 2, 3], "all"), sc)
    whole = ab.whole_costs(d)
    inside, _ = ab.inside_bounds(d, run, SolverOptions(), None, {}, whole)
    assert ab.pendant_hosts(d, [0, 1, 2, 3]) == {}
    assert ab.keeper_donor_bound(d, inside, whole, run, SolverOptions(), None) == 30


def test_an_hwb_across_components_with_a_small_piece_is_proven_infeasible_in_aligned_mode():
    """``A(60) - B(80)`` and ``C(30) - D(90)`` (two components), HWB X = {A, C}, Y = {B}, Z = {D},
    floor 100: X can be in no union (it is not connected through any), and its piece C is below the
    floor, so aligned mode is infeasible; preprocessing says so, naming X, and brute force agrees
    (the North of England region's North Lincolnshire, split by the Humber, is such a case)."""
    from test_optimise import build

    inst = build([60, 80, 30, 90], [(0, 1), (2, 3)], [(0, "X", 60), (1, "Y", 80), (2, "X", 30), (3, "Z", 90)])
    sc = Scenario(floor=100, coterminosity="aligned")
    assert brute_force(inst, sc).value is None
    plan = solve(inst, sc)
    assert plan.status is Status.INFEASIBLE and plan.formulation == "preprocessing"
    assert "X" in plan.infeasibility.areas and "30" in plan.infeasibility.reason
    # off mode is feasible: the rule is aligned mode's alone
    assert solve(inst, sc.replace(coterminosity="off")).status is Status.OPTIMAL
