"""Tests of fewest split HWBs in penalised mode bounded by its parts
(ccgmerge.engine.formulations.parts): the bound never exceeds the brute-force
optimum, the plan is never better than it, and on the 211 CCGs the bound is the
sum of the two parts' optima."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from brute import brute_force
from ccgmerge.engine.formulations.parts import SPLIT_BY_PARTS
from ccgmerge.engine.solve import solve
from ccgmerge.plan import Status
from ccgmerge.scenario import Scenario
from test_optimise import cases, hsettings
from test_realign import _floor


@hsettings(60)
@given(data=st.data())
def test_split_by_parts_brackets_the_brute_force_optimum(data):
    case = data.draw(cases(min_units=3, max_units=8), label="case")
    floor = _floor(data.draw, case)
    weight = data.draw(st.sampled_from([0.01, 1.0, 5.0]), label="penalty")
    sc = Scenario(floor=floor, coterminosity="penalised", objective="split_areas", penalty_weight=weight)
    b = brute_force(case.inst, sc)
    plan = solve(case.inst, sc, time_limit=60)  # under a time limit the parts' result stands
    if not b.is_feasible:
        assert plan.status is Status.INFEASIBLE
        return
    best = b.stages[0]
    assert plan.ok and plan.objective >= best - 1e-9
    assert plan.bound is not None and plan.bound <= best + 1e-9, (plan.bound, best, plan.subproblems)
    if plan.status is Status.OPTIMAL:
        assert abs(plan.objective - best) <= 1e-9


def test_split_areas_penalised_on_the_ccgs_gets_the_sum_of_its_parts(ccg2013):
    """211 CCGs at 100,000: was a greedy plan (2,694,391) with no bound; now the
    partition model's least non-coterminous plan, bounded by 0 split HWBs plus
    the least non-coterminous people (2,441,950, the noncoterminous-off optimum)."""
    sc = Scenario(floor=100_000, coterminosity="penalised", objective="split_areas")
    assert SPLIT_BY_PARTS.why_not_exact(ccg2013, sc) is None
    plan = solve(ccg2013, sc, time_limit=60)
    assert plan.ok and plan.bound == 2_441_950
    off = solve(ccg2013, Scenario(floor=100_000, objective="noncoterminous"))
    assert off.status is Status.OPTIMAL and off.objective == plan.bound
    assert plan.bound <= plan.objective <= plan.bound + 152  # at most every HWB split beyond the fewest (0)
