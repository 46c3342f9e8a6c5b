"""Tests of the optimiser (ccgmerge.optimise.solve).

The core is a differential test against brute force (tests/brute.py): on
random instances of 3-8 units, every objective, every coterminosity mode and
optional ceilings, unit caps and locks, ``solve`` must be INFEASIBLE exactly
when no partition passes the checker, and otherwise OPTIMAL with the
brute-force optimum, a verdict that is OK and a plan the checker accepts.

A failing example prints a :class:`Case` whose ``repr`` is Python code that
rebuilds the instance, plus the scenario, so every failure is a reproducer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from brute import brute_force, lex_min, metrics_of, stage_values
from ccgmerge.check import check_plan
from ccgmerge.errors import ScenarioError
from ccgmerge.instance import Instance
from ccgmerge.optimise import solve
from ccgmerge.plan import Status, objective_value
from ccgmerge.scenario import Scenario

MODES = ("off", "nested", "aligned", "penalised")
OBJECTIVES = (
    "merges",
    "moved",
    "noncoterminous",
    "split_areas",
    {"merges": 1.0, "moved": 0.01, "split_areas": 0.5},
    ("merges", "moved"),
)
OBJ_IDS = ("merges", "moved", "noncoterminous", "split_areas", "weighted", "lex_merges_moved")
TOL = 1e-6


def close(a: float, b: float) -> bool:
    return abs(a - b) <= TOL * max(1.0, abs(a), abs(b))


# ---------------------------------------------------------------------------
# random tiny instances
# ---------------------------------------------------------------------------
@dataclass
class Case:
    """The four tables (and baseline) of a tiny instance; ``repr`` is code."""

    pops: list[int]
    edges: list[tuple[int, int]]
    membership: list[tuple[int, str, int]]  # (unit position, area code, people)
    baseline: dict[str, str] | None = None
    inst: Instance = field(init=False, repr=False)

    def __post_init__(self):
        self.inst = build(self.pops, self.edges, self.membership, self.baseline)

    @property
    def codes(self) -> list[str]:
        return [f"U{i}" for i in range(len(self.pops))]

    def __repr__(self) -> str:
        return code_for(self.inst)


def build(pops, edges, membership, baseline=None, codes=None, area_map=None) -> Instance:
    codes = codes or [f"U{i}" for i in range(len(pops))]
    area_map = area_map or {}
    units = pd.DataFrame({"code": codes, "population": pops})
    mem = pd.DataFrame(
        {"unit": [codes[i] for i, _, _ in membership], "area": [area_map.get(a, a) for _, a, _ in membership],
         "population": [p for _, _, p in membership]}
    )
    apop = mem.groupby("area")["population"].sum()
    areas = pd.DataFrame({"code": list(apop.index), "population": apop.to_numpy()})
    adj = pd.DataFrame({"a": [codes[i] for i, _ in edges], "b": [codes[j] for _, j in edges]})
    return Instance.from_frames(units, areas, mem, adj, baseline=baseline, warn=False, name="tiny")


def code_for(inst: Instance) -> str:
    """Python code rebuilding ``inst`` (a reproducer)."""
    u = inst.units.reset_index()[["code", "population"]]
    m = inst.membership[["unit", "area", "population"]]
    a = inst.areas.reset_index()[["code", "population"]]
    e = inst.adjacency[["a", "b"]]
    base = inst.baseline
    lines = [
        "Instance.from_frames(",
        f"    pd.DataFrame({{'code': {list(u['code'])}, 'population': {[int(x) for x in u['population']]}}}),",
        f"    pd.DataFrame({{'code': {list(a['code'])}, 'population': {[int(x) for x in a['population']]}}}),",
        f"    pd.DataFrame({{'unit': {list(m['unit'])}, 'area': {list(m['area'])}, 'population': {[int(x) for x in m['population']]}}}),",
        f"    pd.DataFrame({{'a': {list(e['a'])}, 'b': {list(e['b'])}}}),",
    ]
    if list(base.to_numpy()) != list(base.index):
        lines.append(f"    baseline={dict(base)},")
    lines.append("    warn=False)")
    return "\n".join(lines)


@st.composite
def cases(draw, min_units: int = 3, max_units: int = 8, baseline: bool | None = False) -> Case:
    """Random tiny instances: a random spanning tree plus a few extra edges
    (sometimes with edges dropped, so possibly disconnected); 1-3 areas with
    some units straddling two; populations 1-100; optionally a random
    baseline grouping (``baseline=None``: sometimes)."""
    n = draw(st.integers(min_units, max_units))
    pops = draw(st.lists(st.integers(1, 100), min_size=n, max_size=n))
    order = draw(st.permutations(range(n)))
    edges = set()
    for k in range(1, n):
        parent = order[draw(st.integers(0, k - 1))]
        edges.add(tuple(sorted((order[k], parent))))
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    edges |= set(draw(st.lists(st.sampled_from(pairs), max_size=3)))
    if draw(st.integers(0, 4)) == 0:  # sometimes disconnected
        drop = draw(st.lists(st.sampled_from(sorted(edges)), min_size=1, max_size=2))
        edges -= set(drop)
    k = draw(st.integers(1, 3))
    areas = [f"H{a}" for a in range(k)]
    membership = []
    for i, p in enumerate(pops):
        a = draw(st.integers(0, k - 1))
        if k > 1 and p >= 2 and draw(st.integers(0, 3)) == 0:  # straddles two areas
            b = draw(st.sampled_from([x for x in range(k) if x != a]))
            part = draw(st.integers(1, p - 1))
            membership += [(i, areas[a], p - part), (i, areas[b], part)]
        else:
            membership.append((i, areas[a], p))
    base = None
    if baseline is None:
        baseline = draw(st.booleans())
    if baseline:
        labels = draw(st.lists(st.integers(0, max(1, n // 2)), min_size=n, max_size=n))
        base = {f"U{i}": f"B{lab}" for i, lab in enumerate(labels)}
    return Case(pops, sorted(edges), membership, base)


@st.composite
def constraints(draw, case: Case, locks: bool = True, caps: bool = True, alone: bool | None = False) -> dict:
    """Floor (sometimes above what some component can reach), optional
    ceiling, max_units and together/apart locks; ``alone``: False (none),
    None (sometimes), True (always one or two units locked alone).

    ``alone`` is False by default only because of a known bug (every alone
    lock makes solve() raise ScenarioError, see test_alone_locks_match_brute_force);
    make it None once that is fixed."""
    total = sum(case.pops)
    floor = draw(st.one_of(st.integers(1, max(1, total // 3)), st.integers(1, total + 10)))
    out: dict = {"floor": floor}
    if caps and draw(st.booleans()):
        out["ceiling"] = floor + draw(st.integers(0, total))
    if caps and draw(st.booleans()):
        out["max_units"] = draw(st.integers(1, 4))
    codes = case.codes
    if alone is None:
        alone = draw(st.booleans())
    if alone:
        out["alone"] = frozenset(draw(st.lists(st.sampled_from(codes), min_size=1, max_size=2)))
    if locks and draw(st.booleans()):
        pairs = [(a, b) for i, a in enumerate(codes) for b in codes[i + 1:]]
        together = set(draw(st.lists(st.sampled_from(pairs), max_size=2)))
        apart = set(draw(st.lists(st.sampled_from(pairs), max_size=2))) - together
        out["together"] = frozenset(together)
        out["apart"] = frozenset(apart)
    return out


# ---------------------------------------------------------------------------
# the differential check
# ---------------------------------------------------------------------------
def reproducer(inst: Instance, scenario: Scenario, kw: dict) -> str:
    return f"\ninst = {code_for(inst)}\nscenario = {scenario!r}\nsolve(inst, scenario, **{kw!r})"


def assert_matches_brute(inst: Instance, scenario: Scenario, **kw):
    """solve() agrees with brute force; returns the plan."""
    b = brute_force(inst, scenario)
    plan = solve(inst, scenario, **kw)
    ctx = reproducer(inst, scenario, kw)
    if not b.is_feasible:
        assert plan.status is Status.INFEASIBLE, f"brute force: no feasible partition; solve: {plan.status.value} {plan.groups}{ctx}"
        assert plan.groups is None and plan.infeasibility is not None, ctx
        return plan
    assert plan.status is Status.OPTIMAL, (
        f"brute force: {len(b.feasible)} feasible partitions, optimum {b.stages} e.g. {b.optimal[0]}; "
        f"solve: {plan.status.value} ({plan.infeasibility}; {[s.get('detail') for s in plan.subproblems]}){ctx}"
    )
    assert plan.verdict is not None and plan.verdict.ok, f"{plan.verdict}{ctx}"
    verdict = check_plan(inst, plan.groups, scenario)
    assert verdict.ok, f"{verdict}{ctx}"
    m = metrics_of(inst, plan.groups, scenario)
    got = stage_values(scenario, m)
    assert len(got) == len(b.stages)
    for s, (g, want) in enumerate(zip(got, b.stages)):
        assert close(g, want), (
            f"stage {s}: plan {plan.groups} scores {got}, brute-force optimum {b.stages} "
            f"(e.g. {b.optimal[0]}){ctx}"
        )
    assert close(plan.objective, objective_value(inst, plan.groups, scenario)), ctx
    assert close(plan.objective, b.value), (
        f"plan.objective {plan.objective} but brute-force min objective_value {b.value}; plan {plan.groups} "
        f"stages {got}{ctx}"
    )
    assert plan.gap is not None and plan.gap <= 1e-6, f"gap {plan.gap}{ctx}"
    return plan


def scenario_of(opts: dict, **more) -> Scenario:
    return Scenario(**opts, **more)


SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---------------------------------------------------------------------------
# every objective x every mode, both formulations (CBC)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("formulation", ["auto", "compact"])
@pytest.mark.parametrize("objective", OBJECTIVES, ids=OBJ_IDS)
@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=12, **SETTINGS)
@given(data=st.data())
def test_solve_matches_brute_force(mode, objective, formulation, data):
    case = data.draw(cases(baseline=None if objective in ("moved", OBJECTIVES[4], OBJECTIVES[5]) else False), label="case")
    opts = data.draw(constraints(case), label="constraints")
    assert_matches_brute(case.inst, scenario_of(opts, coterminosity=mode, objective=objective), formulation=formulation)


@st.composite
def objectives(draw):
    names = ["merges", "moved", "noncoterminous", "split_areas"]
    kind = draw(st.sampled_from(["one", "weighted", "lex"]))
    if kind == "one":
        return draw(st.sampled_from(names))
    chosen = draw(st.lists(st.sampled_from(names), min_size=2, max_size=3, unique=True))
    if kind == "lex":
        return tuple(chosen)
    return {c: draw(st.sampled_from([0.0, 0.01, 0.5, 1.0, 3.0])) for c in chosen} | {chosen[0]: 1.0}


@pytest.mark.parametrize("formulation", ["auto", "compact"])
@settings(max_examples=60, **SETTINGS)
@given(data=st.data())
def test_solve_matches_brute_force_mixed(formulation, data):
    """Random objectives (weights, lexicographic orders of 2-3 terms), modes,
    penalty weights, baselines and constraints together."""
    case = data.draw(cases(baseline=None), label="case")
    opts = data.draw(constraints(case), label="constraints")
    mode = data.draw(st.sampled_from(MODES), label="mode")
    pw = data.draw(st.sampled_from([0.0, 0.5, 1.0, 2.0]), label="penalty_weight")
    sc = scenario_of(opts, coterminosity=mode, objective=data.draw(objectives(), label="objective"), penalty_weight=pw)
    assert_matches_brute(case.inst, sc, formulation=formulation)


@settings(max_examples=30, **SETTINGS)
@given(data=st.data())
def test_moved_with_random_baseline(data):
    """'moved' with a random (non-singleton, not necessarily contiguous)
    baseline grouping: a maximum-weight matching of groups to baseline groups."""
    case = data.draw(cases(baseline=True), label="case")
    opts = data.draw(constraints(case, locks=False), label="constraints")
    mode = data.draw(st.sampled_from(MODES), label="mode")
    form = data.draw(st.sampled_from(["auto", "compact"]), label="formulation")
    assert_matches_brute(case.inst, scenario_of(opts, coterminosity=mode, objective="moved"), formulation=form)


@pytest.mark.xfail(strict=True, reason="BUG optimise.preprocess: `alone | pairs - codes` parses as "
                   "`alone | (pairs - codes)`, so every unit locked alone is reported unknown (ScenarioError)")
@settings(max_examples=25, **SETTINGS)
@given(data=st.data())
def test_alone_locks_match_brute_force(data):
    case = data.draw(cases(baseline=None), label="case")
    opts = data.draw(constraints(case, alone=True), label="constraints")
    mode = data.draw(st.sampled_from(MODES), label="mode")
    obj = data.draw(objectives(), label="objective")
    form = data.draw(st.sampled_from(["auto", "compact"]), label="formulation")
    assert_matches_brute(case.inst, scenario_of(opts, coterminosity=mode, objective=obj), formulation=form)


@settings(max_examples=15, **SETTINGS)
@given(data=st.data())
def test_no_contiguity_matches_brute_force(data):
    case = data.draw(cases(max_units=6, baseline=None), label="case")
    opts = data.draw(constraints(case), label="constraints")
    mode = data.draw(st.sampled_from(MODES), label="mode")
    obj = data.draw(objectives(), label="objective")
    assert_matches_brute(case.inst, scenario_of(opts, coterminosity=mode, objective=obj, contiguity=False))


# ---------------------------------------------------------------------------
# HiGHS on a subset
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "mode,objective",
    [("off", "merges"), ("nested", "moved"), ("aligned", "merges"), ("penalised", "split_areas"),
     ("off", ("merges", "moved")), ("aligned", OBJECTIVES[4]), ("nested", "noncoterminous")],
    ids=["off-merges", "nested-moved", "aligned-merges", "penalised-split", "off-lex", "aligned-weighted", "nested-noncot"],
)
@settings(max_examples=10, **SETTINGS)
@given(data=st.data())
def test_highs_matches_brute_force(mode, objective, data):
    case = data.draw(cases(baseline=None), label="case")
    opts = data.draw(constraints(case), label="constraints")
    form = data.draw(st.sampled_from(["auto", "compact"]), label="formulation")
    assert_matches_brute(case.inst, scenario_of(opts, coterminosity=mode, objective=objective), solver="highs",
                         formulation=form)


# ---------------------------------------------------------------------------
# invariances
# ---------------------------------------------------------------------------
def relabel(case: Case, perm: list[int], prefix: str) -> tuple[Instance, dict[str, str]]:
    """The same instance with unit i renamed ``{prefix}{perm[i]}`` (so unit
    positions, root keys and tie-breaks change) and areas renamed too."""
    codes = [f"{prefix}{perm[i]}" for i in range(len(case.pops))]
    rename = dict(zip(case.codes, codes))
    base = None if case.baseline is None else {rename[c]: "G" + g for c, g in case.baseline.items()}
    areas = {a: f"A{9 - int(a[1:])}" for _, a, _ in case.membership}
    return build(case.pops, case.edges, case.membership, base, codes=codes, area_map=areas), rename


@settings(max_examples=25, **SETTINGS)
@given(data=st.data())
def test_relabelling_invariance(data):
    case = data.draw(cases(baseline=None), label="case")
    opts = data.draw(constraints(case), label="constraints")
    mode = data.draw(st.sampled_from(MODES), label="mode")
    obj = data.draw(objectives(), label="objective")
    form = data.draw(st.sampled_from(["auto", "compact"]), label="formulation")
    perm = data.draw(st.permutations(range(len(case.pops))), label="perm")
    prefix = data.draw(st.sampled_from(["V", "a", "Z_"]), label="prefix")
    sc = scenario_of(opts, coterminosity=mode, objective=obj)
    inst2, rename = relabel(case, list(perm), prefix)
    sc2 = sc.replace(
        alone=frozenset(rename[c] for c in sc.alone),
        together=frozenset((rename[a], rename[b]) for a, b in sc.together),
        apart=frozenset((rename[a], rename[b]) for a, b in sc.apart),
    )
    p1 = solve(case.inst, sc, formulation=form)
    p2 = solve(inst2, sc2, formulation=form)
    ctx = reproducer(case.inst, sc, {"formulation": form}) + f"\nrenamed: {rename}"
    assert p1.status is p2.status, ctx
    if p1.status is Status.OPTIMAL:
        assert close(p1.objective, p2.objective), ctx
        assert stage_values(sc, metrics_of(case.inst, p1.groups, sc)) == pytest.approx(
            stage_values(sc2, metrics_of(inst2, p2.groups, sc2))), ctx


@settings(max_examples=15, **SETTINGS)
@given(data=st.data())
def test_determinism(data):
    case = data.draw(cases(baseline=None), label="case")
    opts = data.draw(constraints(case), label="constraints")
    mode = data.draw(st.sampled_from(MODES), label="mode")
    obj = data.draw(objectives(), label="objective")
    form = data.draw(st.sampled_from(["auto", "compact"]), label="formulation")
    sc = scenario_of(opts, coterminosity=mode, objective=obj)
    p1 = solve(case.inst, sc, formulation=form)
    p2 = solve(case.inst, sc, formulation=form)
    assert p1.status is p2.status
    assert p1.groups == p2.groups
    if p1.groups is not None:
        assert p1.assignment.equals(p2.assignment)
        assert p1.objective == p2.objective


def test_determinism_synthetic():
    import ccgmerge.synthetic as syn

    inst = syn.generate(30, seed=5)
    for sc in (Scenario(floor=400_000), Scenario(floor=400_000, coterminosity="aligned", objective=("merges", "moved"))):
        a, b = solve(inst, sc), solve(inst, sc)
        assert a.status is Status.OPTIMAL and a.groups == b.groups
        assert a.assignment.to_dict() == b.assignment.to_dict()


# ---------------------------------------------------------------------------
# infeasibility explanations
# ---------------------------------------------------------------------------
def _tiny(pops, edges, areas):
    """Units U0.. with one area each (``areas[i]``)."""
    return build(pops, edges, [(i, a, p) for i, (a, p) in enumerate(zip(areas, pops))])


def test_component_below_floor_is_named():
    # U0-U1-U2 (300 people) and an island U3-U4 (30 people)
    inst = _tiny([100, 100, 100, 10, 20], [(0, 1), (1, 2), (3, 4)], ["H0"] * 5)
    plan = solve(inst, Scenario(floor=50))
    assert plan.status is Status.INFEASIBLE and plan.groups is None
    assert set(plan.infeasibility.units) == {"U3", "U4"}
    assert "U3" in plan.infeasibility.reason and "30" in plan.infeasibility.reason
    assert brute_force(inst, Scenario(floor=50)).value is None


def test_nested_names_blocking_hwbs():
    # H0 = U0, U1 (100 + 100); H1 = U2 (40) and H2 = U3 (45) are too small alone
    inst = _tiny([100, 100, 40, 45], [(0, 1), (1, 2), (2, 3)], ["H0", "H0", "H1", "H2"])
    sc = Scenario(floor=80, coterminosity="nested")
    plan = solve(inst, sc)
    assert plan.status is Status.INFEASIBLE
    assert set(plan.infeasibility.areas) == {"H1", "H2"}
    assert {"U2", "U3"} <= set(plan.infeasibility.units) and "U0" not in plan.infeasibility.units
    assert brute_force(inst, sc).value is None
    # aligned mode (whole HWBs may merge) is feasible, and off too
    for mode in ("aligned", "off"):
        assert_matches_brute(inst, sc.replace(coterminosity=mode))


def test_nested_names_disconnected_hwb_piece():
    # H0's units U0 and U2 are not adjacent inside H0: U0 (30) is a piece below the floor
    inst = _tiny([30, 100, 100], [(0, 1), (1, 2)], ["H0", "H1", "H0"])
    sc = Scenario(floor=80, coterminosity="nested")
    plan = solve(inst, sc)
    assert plan.status is Status.INFEASIBLE
    assert plan.infeasibility.areas == ("H0",)
    assert "U0" in plan.infeasibility.units
    assert brute_force(inst, sc).value is None


@pytest.mark.xfail(strict=True, raises=ScenarioError, reason="BUG optimise.preprocess: every unit locked alone is "
                   "reported unknown (operator precedence in `alone | pairs - codes`)")
def test_unit_locked_alone_below_floor_is_named():
    inst = _tiny([100, 30, 100], [(0, 1), (1, 2)], ["H0"] * 3)
    sc = Scenario(floor=80, alone={"U1"})
    plan = solve(inst, sc)
    assert plan.status is Status.INFEASIBLE
    assert plan.infeasibility.units == ("U1",)
    assert "U1" in plan.infeasibility.reason
    assert brute_force(inst, sc).value is None


def test_unit_above_ceiling_is_named():
    inst = _tiny([100, 300, 100], [(0, 1), (1, 2)], ["H0"] * 3)
    sc = Scenario(floor=80, ceiling=250)
    plan = solve(inst, sc)
    assert plan.status is Status.INFEASIBLE
    assert plan.infeasibility.units == ("U1",)
    assert brute_force(inst, sc).value is None


def test_infeasible_proven_by_solver():
    # a path 60-60-60 with floor 100 and ceiling 110: no preprocessing proof, but infeasible
    inst = _tiny([60, 60, 60], [(0, 1), (1, 2)], ["H0"] * 3)
    sc = Scenario(floor=100, ceiling=110)
    assert brute_force(inst, sc).value is None
    for form in ("auto", "compact"):
        plan = solve(inst, sc, formulation=form)
        assert plan.status is Status.INFEASIBLE and plan.infeasibility is not None
        assert set(plan.infeasibility.units) == {"U0", "U1", "U2"}


# ---------------------------------------------------------------------------
# real data: the 211 CCGs of 2013
# ---------------------------------------------------------------------------
FLOORS = (100_000, 150_000, 200_000, 300_000, 500_000)


@pytest.mark.parametrize("mode", ["off", "nested", "aligned"])
@pytest.mark.parametrize("floor", FLOORS)
def test_real_fewest_merges(ccg2013, floor, mode):
    sc = Scenario(floor=floor, coterminosity=mode, objective="merges")
    t0 = time.perf_counter()
    plan = solve(ccg2013, sc, time_limit=120)
    secs = time.perf_counter() - t0
    if mode == "nested" and floor >= 150_000 and plan.status is Status.INFEASIBLE:
        assert plan.groups is None
        assert plan.infeasibility.areas, plan.infeasibility
        assert set(plan.infeasibility.areas) <= set(ccg2013.area_codes)
        return
    assert plan.status is Status.OPTIMAL, (plan.status, plan.infeasibility, secs)
    assert plan.verdict.ok, plan.verdict
    assert check_plan(ccg2013, plan.groups, sc).ok
    assert plan.metrics["min_group_population"] >= floor
    assert plan.objective == plan.metrics["merges"]


@pytest.mark.parametrize("mode", ["off", "aligned"])
@pytest.mark.parametrize("floor", FLOORS[:4])
def test_real_cbc_and_highs_agree(ccg2013, floor, mode):
    sc = Scenario(floor=floor, coterminosity=mode, objective="merges")
    cbc = solve(ccg2013, sc, time_limit=120)
    highs = solve(ccg2013, sc, solver="highs", time_limit=120)
    assert cbc.status is Status.OPTIMAL and highs.status is Status.OPTIMAL
    assert cbc.verdict.ok and highs.verdict.ok
    assert cbc.objective == highs.objective
