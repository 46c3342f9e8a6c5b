"""Tests of the bounds that need no model (ccgmerge.engine.term_bounds) and of the aligned greedy
plan's last resort (whole HWBs merged whole).

Differential: on tiny random instances, for every objective term alone, a weighted and a
lexicographic objective and every coterminosity mode, the bound never exceeds brute force's
optimum; the counting bound never exceeds the minimum it relaxes, found by enumeration.
"""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from brute import brute_force
from ccgmerge.check import check_plan
from ccgmerge.engine.heuristics import aligned_greedy_merge
from ccgmerge.engine.term_bounds import counting_bound, objective_bound
from ccgmerge.scenario import Scenario
from test_optimise import build, cases, hsettings

OBJECTIVES = ["merges", "moved", "noncoterminous", "split_areas", {"moved": 1, "noncoterminous": 2},
              ("noncoterminous", "merges")]


@hsettings(120)
@given(data=st.data())
def test_objective_bound_never_exceeds_brute_force(data):
    case = data.draw(cases(baseline=None, min_units=3, max_units=8), label="case")
    total = sum(case.pops)
    floor = data.draw(st.integers(1, total), label="floor")
    mode = data.draw(st.sampled_from(["off", "nested", "aligned", "penalised"]), label="mode")
    objective = data.draw(st.sampled_from(OBJECTIVES), label="objective")
    sc = Scenario(floor=floor, coterminosity=mode, objective=objective)
    best = brute_force(case.inst, sc).value
    lb, why = objective_bound(case.inst, range(case.inst.n_units), sc)
    assert why.startswith("term bounds")
    if best is not None:
        assert lb <= best + 1e-6, (lb, best, why)


@hsettings(200)
@given(people=st.lists(st.integers(0, 60), min_size=1, max_size=7), floor=st.integers(1, 80),
       k=st.integers(0, 7))
def test_counting_bound_never_exceeds_the_minimum_it_relaxes(people, floor, k):
    labels = dict(enumerate(people))
    total = sum(people)
    best = min(max(total - sum(people[i] for i in S), sum(max(0, floor - people[i]) for i in S))
               for r in range(min(k, len(people)) + 1) for S in itertools.combinations(range(len(people)), r))
    assert counting_bound(labels, floor, k) <= best


def test_aligned_greedy_merges_whole_hwbs_when_both_seedings_get_stuck():
    """``A(60) - B(50) - C(60) - D(50)``, HWBs X = {A, C} (not connected alone) and Y = {B, D},
    floor 100: no group inside one HWB is connected and viable except through the other HWB, so
    the first two passes get stuck; whole HWBs merged give X + Y, one group."""
    inst = build([60, 50, 60, 50], [(0, 1), (1, 2), (2, 3)],
                 [(0, "X", 60), (1, "Y", 50), (2, "X", 60), (3, "Y", 50)])
    sc = Scenario(floor=100, coterminosity="aligned")
    plan = aligned_greedy_merge(inst, sc)
    assert plan == [[0, 1, 2, 3]] and check_plan(inst, plan, sc).ok
