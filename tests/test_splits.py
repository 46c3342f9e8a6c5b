"""Brute-force tests of the bitset splittability engine (ccgmerge.engine.splits),
the aligned partition candidates and the coarsest-plan shortcut for split HWBs."""

from __future__ import annotations

import itertools

from hypothesis import assume, given
from hypothesis import strategies as st

from brute import brute_force
from test_optimise import assert_matches_brute, cases, hsettings
from ccgmerge.engine.formulations.partition import aligned_unsplittable_sets
from ccgmerge.engine.solve import solve
from ccgmerge.engine.splits import find_split, refine_unsplittable, unsplittable_sets
from ccgmerge.engine.subsets import CandidateLimitError, connected_pieces
from ccgmerge.plan import Status
from ccgmerge.scenario import Scenario


def _split_brute(nb, w, floor, S):
    S = list(S)
    for k in range(1, len(S)):
        for A in itertools.combinations(S, k):
            B = [v for v in S if v not in A]
            if (sum(w[v] for v in A) >= floor and sum(w[v] for v in B) >= floor
                    and len(connected_pieces(nb, A)) == 1 and len(connected_pieces(nb, B)) == 1):
                return True
    return False


@hsettings(60)
@given(data=st.data())
def test_bitset_split_and_enumeration_match_brute_force(data):
    """find_split finds a split exactly when one exists (and its parts are one);
    unsplittable_sets lists exactly the unsplittable connected viable sets;
    refine_unsplittable returns unsplittable parts covering the set."""
    case = data.draw(cases(min_units=2), label="case")
    inst = case.inst
    nb, w = inst.neighbours, inst.population.tolist()
    floor = data.draw(st.integers(1, sum(w)), label="floor")
    want = []
    for k in range(1, inst.n_units + 1):
        for S in itertools.combinations(range(inst.n_units), k):
            if len(connected_pieces(nb, S)) != 1 or sum(w[i] for i in S) < floor:
                continue
            got = find_split(list(S), nb, w, floor)
            assert (got is not None) == _split_brute(nb, w, floor, S), S
            if got is not None:
                A, B = got
                assert sorted(A + B) == list(S) and S[0] in A
                for part in (A, B):
                    assert len(connected_pieces(nb, part)) == 1 and sum(w[i] for i in part) >= floor
                parts = refine_unsplittable(list(S), nb, w, floor)
                assert sorted(i for p in parts for i in p) == list(S)
                assert all(not _split_brute(nb, w, floor, p) for p in parts)
            else:
                want.append(S)
    assert unsplittable_sets(nb, w, floor) == sorted(want)


def _aligned_group(inst, g) -> bool:
    main = inst.main_area_index
    areas = {int(main[i]) for i in g}
    return len(areas) == 1 or all(int(main[j]) not in areas or j in set(g) for j in range(inst.n_units))


@hsettings(40)
@given(data=st.data())
def test_aligned_candidates_refine_every_aligned_group(data):
    """Every connected viable aligned group holds an aligned candidate (the
    refinement the partition model relies on), and every candidate that is
    not flagged as a relaxation is itself a connected viable aligned group."""
    case = data.draw(cases(min_units=2, max_units=7), label="case")
    inst = case.inst
    nb, w = inst.neighbours, inst.population.tolist()
    floor = data.draw(st.integers(1, sum(w)), label="floor")
    units = list(range(inst.n_units))
    cands, invalid = aligned_unsplittable_sets(nb, w, floor, units, inst.main_area_index)
    cset = set(cands)
    for k, G in enumerate(cands):
        assert sum(w[i] for i in G) >= floor
        if k not in invalid:
            assert len(connected_pieces(nb, G)) == 1 and _aligned_group(inst, G), G
    for r in range(1, inst.n_units + 1):
        for S in itertools.combinations(units, r):
            if sum(w[i] for i in S) >= floor and len(connected_pieces(nb, S)) == 1 and _aligned_group(inst, S):
                assert any(set(G) <= set(S) for G in cset), S


@hsettings(40)
@given(data=st.data(), objective=st.sampled_from(["noncoterminous", "merges", "moved"]))
def test_aligned_partition_matches_brute_force(data, objective):
    """The partition model in aligned mode (forced): optimal plans equal brute
    force; a FEASIBLE answer (a relaxation that was not tight) never has a
    bound above the brute-force optimum nor a plan below it."""
    case = data.draw(cases(), label="case")
    inst = case.inst
    assume(len(inst.components()) == 1)
    floor = data.draw(st.integers(1, max(1, sum(case.pops) // 2)), label="floor")
    sc = Scenario(floor=floor, coterminosity="aligned", objective=objective)
    b = brute_force(inst, sc)
    try:
        plan = solve(inst, sc, formulation="partition")
    except CandidateLimitError:  # the relaxation was not tight: the model steps aside
        return
    if not b.is_feasible:
        assert plan.status is Status.INFEASIBLE
        return
    if plan.status is Status.OPTIMAL:
        assert_matches_brute(inst, sc, formulation="partition")
    else:  # the relaxation was not tight: a plan no better than the optimum, or none; a bound never above it
        assert plan.status in (Status.FEASIBLE, Status.NO_SOLUTION)
        assert plan.bound is None or plan.bound <= b.value + 1e-6
        assert plan.objective is None or plan.objective >= b.value - 1e-6
        sub = [s_ for s_ in plan.subproblems if s_.get("model_bound") is not None]
        assert all(s_["model_bound"] <= b.stages[0] + 1e-6 for s_ in sub if len(plan.subproblems) == 1)


@hsettings(40)
@given(data=st.data(), mode=st.sampled_from(["off", "nested", "aligned"]))
def test_split_areas_coarsest_matches_brute_force(data, mode):
    """Fewest split HWBs alone: the one-group-per-block plan equals brute force."""
    case = data.draw(cases(), label="case")
    floor = data.draw(st.integers(1, max(1, sum(case.pops) // 2)), label="floor")
    sc = Scenario(floor=floor, coterminosity=mode, objective="split_areas")
    inst = case.inst
    assume(mode != "aligned" or len(inst.components()) == 1)
    assert_matches_brute(inst, sc)
