"""Tests of the exact least-moved regrouping (ccgmerge.engine.formulations.realign).

Differential: on tiny instances with a random baseline grouping, ``solve``
with objective ``moved`` (coterminosity off or nested, no locks or caps) runs
the realign path for connected blocks and must match brute force. The
bounds it relies on (label_cost, the path bound of restrict) are checked
against every feasible partition of tiny instances.
"""

from __future__ import annotations

import itertools
import random

from hypothesis import given
from hypothesis import strategies as st

from brute import brute_force
from ccgmerge.engine.formulations import realign
from ccgmerge.engine.solve import solve
from ccgmerge.plan import Status
from ccgmerge.scenario import Scenario
from ccgmerge.engine.backends import SolverOptions, run
from test_optimise import assert_matches_brute, cases, hsettings


def _floor(draw, case):
    total = sum(case.pops)
    return draw(st.one_of(st.integers(1, max(1, total // 3)), st.integers(1, total)))


@hsettings(60)
@given(data=st.data())
def test_realign_matches_brute_force(data):
    case = data.draw(cases(baseline=True, min_units=4, max_units=8), label="case")
    floor = _floor(data.draw, case)
    mode = data.draw(st.sampled_from(["off", "nested"]), label="mode")
    plan = assert_matches_brute(case.inst, Scenario(floor=floor, coterminosity=mode, objective="moved"))
    if plan.status is Status.OPTIMAL and len(set(case.inst.baseline)) > 1:
        assert {s["formulation"] for s in plan.subproblems} <= {"realign", "labelled"}


def _draw_block(data, max_units):
    """A drawn case, its floor and its block data (None when block_data declines it)."""
    case = data.draw(cases(baseline=True, min_units=4, max_units=max_units), label="case")
    floor = _floor(data.draw, case)
    return case, floor, _data(case, floor)


def _data(case, floor):
    inst = case.inst
    labs = sorted(set(inst.baseline_codes))
    lab = {c: k for k, c in enumerate(labs)}
    units = list(range(inst.n_units))
    return realign.block_data(units, {i: lab[inst.baseline_codes[i]] for i in units}, len(labs), inst.population,
                              inst.neighbours, floor)


def _labelled_moves(d, groups):
    """Every assignment of distinct labels to the groups, each group holding a unit
    of its label: (labels, paid people per group, moved)."""
    total = sum(int(d.pop[i]) for i in d.units)
    for labels in itertools.permutations(range(d.n_labels), len(groups)):
        if not all(any(d.base[i] == l for i in g) for l, g in zip(labels, groups)):
            continue
        kept = sum(int(d.pop[i]) for l, g in zip(labels, groups) for i in g if d.base[i] == l)
        yield labels, total - kept


def _labelled_plans(case, floor, d):
    """Every feasible partition (brute force) under every labelling of
    :func:`_labelled_moves`: (groups, labels, S, U(S), moved)."""
    b = brute_force(case.inst, Scenario(floor=floor, objective="moved"))
    lp = d.label_pop()
    for groups in b.feasible:
        for labels, moved in _labelled_moves(d, groups):
            S = tuple(sorted(labels))
            yield groups, labels, S, sum(lp) - sum(lp[l] for l in S), moved


def _best_by_owner_set(case, floor, d) -> dict[tuple[int, ...], int]:
    """The least people moved by a plan of each owner set S (brute force)."""
    best: dict[tuple[int, ...], int] = {}
    for _, _, S, _, moved in _labelled_plans(case, floor, d):
        best[S] = min(best.get(S, moved), moved)
    return best


@hsettings(40)
@given(data=st.data())
def test_bounds_hold_on_every_partition(data):
    """moved >= U(S) + owner_set_cost(S) >= U(S) + Σ c_l, and a unit in a foreign group l forces moved >=
    U(S) + d_l(i) + Σ_{l' != l} c_l' (the inequality restrict() relies on)."""
    case, floor, d = _draw_block(data, 7)
    if d is None:
        return
    for groups, labels, S, U, moved in _labelled_plans(case, floor, d):
        costs = {l: realign.label_cost(d, S, l) for l in S}
        joint = realign.owner_set_cost(d, S)
        assert joint >= sum(costs.values())
        assert moved >= U + joint, (groups, labels, costs, joint)
        for l, g in zip(labels, groups):
            dist = realign.label_distances(d, S, l)
            for i in g:
                if d.base[i] != l:
                    assert moved >= U + dist[i] + sum(costs.values()) - costs[l], (groups, labels, i)


@hsettings(40)
@given(data=st.data())
def test_pool_bound_holds_on_every_partition(data):
    """moved >= pool_bound(S) for every labelled partition whose labels are S
    (each group holding a unit of its label), and it is at least U(S) + Σ c_l."""
    case, floor, d = _draw_block(data, 7)
    if d is None:
        return
    best = _best_by_owner_set(case, floor, d)
    opts = SolverOptions()
    for _, U, S in realign.owner_sets(d):
        pb = realign.pool_bound(d, S, U, run, opts, None)
        costs = {l: realign.label_cost(d, S, l) for l in S}
        assert pb >= U
        if S in best:
            assert best[S] >= pb, (S, best[S], pb)
        assert pb >= U + sum(costs.values()) - 1e-6 * max(1, pb), (S, pb, costs)


def test_realign_small_chain():
    # B0 = {0, 1}, B1 = {2}, B2 = {3, 4} on a path, pops 3, 3, 2, 3, 3, floor 6:
    # two groups; the best keeps B0 and B2 whole and moves unit 2 (2 people)
    from test_optimise import build
    inst = build([3, 3, 2, 3, 3], [(0, 1), (1, 2), (2, 3), (3, 4)], [(i, "H0", p) for i, p in enumerate([3, 3, 2, 3, 3])],
                 baseline={"U0": "B0", "U1": "B0", "U2": "B1", "U3": "B2", "U4": "B2"})
    plan = solve(inst, Scenario(floor=6, objective="moved"))
    assert plan.status is Status.OPTIMAL and plan.objective == 2
    assert plan.formulation == "realign"


def test_owner_set_cost_sees_a_split_label():
    """A baseline group in two pieces keeps a corridor or leaves a piece::

        A0 (10) -- B1 (10) -- A2 (10)        floor 5

    With owners {A, B}, A's group holding both pieces takes B1 (10 paid) and
    otherwise one piece of A (10 people) is moved: label_cost sees neither
    (0 + 0), owner_set_cost sees 10, and the optimum moves 10."""
    from test_optimise import build
    inst = build([10, 10, 10], [(0, 1), (1, 2)], [(i, "H0", 10) for i in range(3)],
                 baseline={"U0": "A", "U1": "B", "U2": "A"})
    d = realign.block_data([0, 1, 2], {0: 0, 1: 1, 2: 0}, 2, inst.population, inst.neighbours, 5)
    S = (0, 1)
    assert realign.label_cost(d, S, 0) + realign.label_cost(d, S, 1) == 0
    assert realign.owner_set_cost(d, S) == 10
    plan = solve(inst, Scenario(floor=5, objective="moved"))
    assert plan.status is Status.OPTIMAL and plan.objective == 10 and plan.bound == 10


def _valid(d, groups):
    return all(sum(int(d.pop[i]) for i in g) >= d.floor and realign.is_connected(d, g) for g in groups.values())


@hsettings(40)
@given(data=st.data())
def test_heuristic_plan_is_a_plan_of_its_owner_set(data):
    """heuristic_plan returns groups partitioning the block, keyed by the
    owner set's labels, connected and at the floor, moving no fewer people
    than the brute-force optimum, nor (when each group holds a unit of its
    label) than the best labelled partition whose labels are S."""
    case, floor, d = _draw_block(data, 7)
    if d is None:
        return
    b = brute_force(case.inst, Scenario(floor=floor, objective="moved"))
    for _, _, S in realign.owner_sets(d):
        plan = realign.heuristic_plan(d, S)
        best = min((moved for groups in b.feasible for labels, moved in _labelled_moves(d, groups)
                    if tuple(sorted(labels)) == S), default=None)
        if plan is None:
            continue
        assert sorted(plan) == list(S)
        assert sorted(i for g in plan.values() for i in g) == d.units
        assert _valid(d, plan)
        assert realign.moved_of(d, plan) >= b.value
        if all(any(d.base[i] == l for i in g) for l, g in plan.items()):
            assert best is not None and realign.moved_of(d, plan) >= best


@hsettings(40)
@given(data=st.data())
def test_grow_and_improve(data):
    """grow_plan labels every unit with a label of S, each group connected;
    improve_plan keeps that and never worsens (people short, people moved)."""
    case, floor, d = _draw_block(data, 8)
    if d is None:
        return
    sets = realign.owner_sets(d)
    _, _, S = sets[data.draw(st.integers(0, len(sets) - 1), label="set")]

    def score(lab):
        groups = {l: [i for i in d.units if lab[i] == l] for l in S}
        assert all(g and realign.is_connected(d, g) for g in groups.values())
        return sum(max(0, d.floor - sum(int(d.pop[i]) for i in g)) for g in groups.values()), realign.moved_of(d, groups)

    lab = realign.grow_plan(d, S)
    if lab is None:
        return
    assert sorted(lab) == d.units and set(lab.values()) <= set(S)
    before = score(lab)
    assert score(realign.improve_plan(d, S, lab)) <= before


@hsettings(40)
@given(data=st.data())
def test_label_tree_joins_its_components(data):
    """label_tree's components and paid units form one connected set (and so
    does its corridor, ``whole=False``); the paid
    units are of other owned baseline groups and cost at least the largest
    pairwise distance between the components (label_cost's bound on ST(Q))."""
    case = data.draw(cases(baseline=True, min_units=4, max_units=8), label="case")
    d = _data(case, 1)
    if d is None:
        return
    sets = realign.owner_sets(d)
    _, _, S = sets[data.draw(st.integers(0, len(sets) - 1), label="set")]
    l = data.draw(st.sampled_from(S), label="label")
    options, comps = realign.label_candidates(d, S, l)
    for _, Q in options:
        units, paid = realign.label_tree(d, S, l, Q, comps)
        if len(Q) < 2:
            assert (units, paid) == ([], [])
            continue
        assert realign.is_connected(d, units + paid)
        assert all(d.base[i] in S and d.base[i] != l for i in paid)
        free, _ = realign.free_components(d, S, l)
        dist = [realign.dijkstra(d, comps[q], lambda v: 0 if v in free else int(d.pop[v])) for q in Q]
        far = max(min(dist[a].get(i, float("inf")) for i in comps[Q[b]]) for a in range(len(Q)) for b in range(len(Q)))
        assert sum(int(d.pop[i]) for i in paid) >= far
        # the corridor only (whole=False): connected, touching every component of Q, paid as above
        cunits, cpaid = realign.label_tree(d, S, l, Q, comps, whole=False)
        assert realign.is_connected(d, cunits + cpaid)
        assert all(set(cunits) & set(comps[q]) for q in Q)
        assert all(d.base[i] in S and d.base[i] != l for i in cpaid)
        assert sum(int(d.pop[i]) for i in cpaid) >= far


@hsettings(30)
@given(data=st.data())
def test_search_plan_keeps_a_plan_and_never_worsens(data):
    """search_plan from a heuristic plan returns a plan of the same owner set
    (partition, connected, floor) moving no more people, and is deterministic;
    perturb_plan keeps every group connected."""
    import random

    case, floor, d = _draw_block(data, 8)
    if d is None:
        return
    for _, _, S in realign.owner_sets(d)[:3]:
        plan = realign.heuristic_plan(d, S)
        if plan is None:
            continue
        lab = {i: l for l, g in plan.items() for i in g}
        kicked = realign.perturb_plan(d, S, lab, random.Random(1), 3)
        assert sorted(kicked) == d.units
        assert all(realign.is_connected(d, [i for i in d.units if kicked[i] == l]) for l in set(kicked.values()))
        out = realign.search_plan(d, S, plan, patience=20)
        assert sorted(out) == list(S) and sorted(i for g in out.values() for i in g) == d.units
        assert _valid(d, out) and realign.moved_of(d, out) <= realign.moved_of(d, plan)
        assert realign.search_plan(d, S, plan, patience=20) == out


def test_realign_chosen_root_may_feed_every_member():
    # a star: centre U0 and leaves U1, U4 (pop 3) of B0, leaves U2, U3, U5-U7 of B1; floor 1.
    # The best plan puts all but U4 in B1's group (moving U0 and U1: 2 people). B1 has no
    # fixed unit, so its root is chosen; its group holds every node allowed B1, and the
    # root's flow must reach all of them (the flow once allowed one fewer: "optimal" 4)
    from test_optimise import build
    pops = [1, 1, 1, 1, 3, 1, 1, 1]
    inst = build(pops, [(0, j) for j in range(1, 8)], [(i, "H0", p) for i, p in enumerate(pops)],
                 baseline={f"U{i}": ("B0" if i in (0, 1, 4) else "B1") for i in range(8)})
    plan = solve(inst, Scenario(floor=1, objective="moved"))
    assert plan.status is Status.OPTIMAL and plan.objective == 2
    assert sorted(map(sorted, plan.groups)) == [[0, 1, 2, 3, 5, 6, 7], [4]]


def test_heuristic_stops_at_a_past_deadline():
    """With a deadline already past, improve_plan makes no move (here some
    grown or kicked labels have an improving one), search_plan returns its start, and
    heuristic_plan returns a valid plan or None."""
    from test_optimise import build
    pops = [3, 3, 2, 3, 3, 1, 4]
    inst = build(pops, [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (0, 6)], [(i, "H0", p) for i, p in enumerate(pops)])
    d = realign.block_data(list(range(7)), {i: [0, 0, 1, 2, 2, 1, 1][i] for i in range(7)}, 3, inst.population,
                           inst.neighbours, 6)
    moved_any = False
    for _, _, S in realign.owner_sets(d):
        lab = realign.grow_plan(d, S)
        if lab is not None:
            for start in [lab] + [realign.perturb_plan(d, S, lab, random.Random(k), 3) for k in range(5)]:
                assert realign.improve_plan(d, S, start, deadline=0.0) == start
                moved_any |= realign.improve_plan(d, S, start) != start
        plan = realign.heuristic_plan(d, S, deadline=0.0)
        if plan is not None:
            assert _valid(d, plan)
            assert realign.search_plan(d, S, plan, deadline=0.0) == plan
    assert moved_any


def test_manchester_corridor_is_found_and_proven(data_path):
    """Real data: Manchester's LSOAs at 250,000, least moved. North Manchester
    (01M) reaches the floor only through a corridor of Central (00W) to South
    (01N, moved wholly); the corridor cuts Central in two, and Central's
    pieces rejoin through South. The heuristic must grow Central round the
    corridor (its other piece reserved for it): the plan then meets the
    owner-set bound, 161,260 + 7,063 = 168,323, and is proven at once
    (before: 178,375 against 168,323 after 60 s)."""
    from ccgmerge.data import load_lsoa2013
    plan = solve(load_lsoa2013(data_path, hwbs=["E08000003"]), Scenario(floor=250_000, objective="moved"), time_limit=60)
    assert plan.status is Status.OPTIMAL and plan.ok
    assert plan.objective == plan.bound == 168_323
    # the heuristic meets the bound: no restricted model is needed
    assert plan.subproblems[0]["detail"].startswith("realign") and "0 restricted solves" in plan.subproblems[0]["detail"]


@hsettings(40)
@given(data=st.data())
def test_connector_cost_holds_on_every_partition(data):
    """For every labelled partition of a tiny instance (labels S) and every
    label l: moved - U(S) >= connector_cost(S, l, budget), which never
    exceeds the budget (plans moving U(S) + budget or more are not its
    concern) and is at least owner_set_cost when the budget allows."""
    case, floor, d = _draw_block(data, 7)
    if d is None:
        return
    total = sum(d.label_pop())
    budget = data.draw(st.sampled_from([total + 1, max(1, total // 4), max(1, total // 10)]), label="budget")
    cache = {}
    for _, _, S, U, moved in _labelled_plans(case, floor, d):
        for l in S:
            if (S, l) not in cache:
                cache[S, l] = realign.connector_cost(d, S, l, budget)
            cc = cache[S, l]
            if cc is None:
                continue
            assert cc <= budget
            assert moved - U >= cc, (S, l, moved, U, cc, budget)


@hsettings(40)
@given(data=st.data())
def test_search_restriction_matches_brute_force(data):
    """search_restriction on the restricted model of every owner set S, with
    the cutoff U(S) + s - 1: it finds a plan exactly when brute force has a
    plan of S moving fewer than U(S) + s people, and what it finds is one
    (a partition into connected groups at the floor, each holding its label,
    moving no more than the cutoff)."""
    case, floor, d = _draw_block(data, 7)
    if d is None:
        return
    best = _best_by_owner_set(case, floor, d)
    total = sum(d.label_pop())
    for _, U, S in realign.owner_sets(d):
        costs = {l: realign.label_cost(d, S, l) for l in S}
        slack = data.draw(st.sampled_from([1, max(1, total // 5), total + 1]), label="slack")
        exists = best.get(S, float("inf")) <= U + slack - 1
        r = realign.restrict(d, S, U, slack, costs)
        if r is None:
            assert not exists, (S, slack)
            continue
        status, groups, _ = realign.search_restriction(r, d.floor, U + slack - 1)
        assert status == ("found" if exists else "none"), (S, slack, best.get(S))
        if groups is not None:
            assert sorted(groups) == list(S)
            assert sorted(i for g in groups.values() for i in g) == sorted(d.units)
            assert _valid(d, groups) and all(any(d.base[i] == l for i in g) for l, g in groups.items())
            assert best[S] <= realign.moved_of(d, groups) <= U + slack - 1


@hsettings(30)
@given(data=st.data())
def test_connector_branches_cover_every_plan(data):
    """The branching search_branches relies on: for every labelled plan of a
    tiny instance moving fewer than U(S) + budget people and every complete
    entry of connector_branches (pool_bound on the branches), either l's
    group does not hold units of both components A and B and moved - U(S)
    >= ``other``, or its paid units contain a listed connector C with
    moved - U(S) >= C's bound."""
    case, floor, d = _draw_block(data, 7)
    if d is None:
        return
    total = sum(d.label_pop())
    budget = data.draw(st.sampled_from([total + 1, max(1, total // 4)]), label="budget")
    opts = SolverOptions()
    cache = {}
    for groups, labels, S, U, moved in _labelled_plans(case, floor, d):
        if moved - U >= budget:
            continue
        for l, g in zip(labels, groups):
            if (S, l) not in cache:
                pool = (lambda S_: lambda d_, o_: realign.pool_bound(d_, S_, 0, run, opts, None, o_))(S)
                cache[S, l] = (realign.connector_branches(d, S, l, budget, pool=pool), realign.label_candidates(d, S, l)[1])
            entries, comps = cache[S, l]
            paid = {i for i in g if d.base[i] in S and d.base[i] != l}
            for e in entries:
                if not e["complete"]:
                    continue
                both = set(comps[e["A"]]) & set(g) and set(comps[e["B"]]) & set(g)
                if not both:
                    assert moved - U >= e["other"], (S, l, e, moved, U)
                else:
                    assert any(set(C) <= paid and moved - U >= b for b, C in e["connectors"]), (S, l, e, moved, U, paid)


def test_kent_is_proven_optimal(data_path):
    """Real data: Kent's 902 LSOAs at 250,000, least moved (the issue's
    named target: proven optimal in under 60 s). Thanet reaches the floor
    only through a corridor of Canterbury & Coastal to the Ashford and Swale
    pools; no flow model proved the pools' split. The connector branches
    with pool_bound bound every plan at 235,554, and the branch searches
    find a plan there (the heuristic's best was 237,804). Run without a time
    limit, so the result does not depend on the machine's speed (about 30 s;
    the 60 s figure is the benchmark suite's)."""
    from ccgmerge.data import load_lsoa2013
    plan = solve(load_lsoa2013(data_path, hwbs=["E10000016"]), Scenario(floor=250_000, objective="moved"))
    assert plan.status is Status.OPTIMAL and plan.ok
    assert plan.objective == plan.bound == 235_554
