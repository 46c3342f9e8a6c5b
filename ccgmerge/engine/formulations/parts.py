"""Fewest split HWBs in ``penalised`` mode, bounded by its parts.

In ``penalised`` mode with the ``split_areas`` objective (weight ``w``) and
penalty ``p`` per non-coterminous person, the objective of a plan is::

    w · split_areas + p · noncoterminous

Its minimum is at least the sum of the parts' minima under the same rules
(``penalised`` mode's rules are ``off`` mode's): the fewest split HWBs, one
group per block (:class:`~ccgmerge.engine.formulations.trivial.Coarsest`), and
the fewest non-coterminous people, by the partition model
(:mod:`~ccgmerge.engine.formulations.partition`). The plan returned is the
better of the latter's plan and the one group per block, so the gap is at
most ``w`` times the split HWBs the first has beyond the fewest: a handful
of HWBs against millions of people at ``p = 1``.

The result is proven optimal when the two meet; otherwise, under a time
limit, it is a plan with that bound (status feasible), and without one the
block goes on to the compact model, which alone is exact for this objective.
"""

from __future__ import annotations

import time

from ccgmerge.engine.formulations.base import BlockResult, Formulation, SolveContext
from ccgmerge.engine.formulations.partition import PARTITION
from ccgmerge.engine.formulations.trivial import COARSEST
from ccgmerge.engine.subsets import CandidateLimitError
from ccgmerge.metrics import plan_metrics
from ccgmerge.plan import Status
from ccgmerge.scenario import Coterminosity, Objective

__all__ = ["SplitByParts", "SPLIT_BY_PARTS"]


class SplitByParts(Formulation):
    """``split_areas`` in penalised mode: a plan and a bound from its two parts; reported as ``partition``."""

    name = "partition"
    requires = "the split_areas objective alone (one weight) in penalised mode, under the partition model's conditions"

    def _parts(self, scenario):
        return (scenario.replace(coterminosity="off", objective="noncoterminous"),
                scenario.replace(coterminosity="off", objective="split_areas"))

    def why_not_exact(self, instance, scenario):
        terms = {t for t, w in scenario.objective_terms if w > 0}
        if scenario.coterminosity is not Coterminosity.PENALISED or terms != {Objective.SPLIT_AREAS}:
            return "not the split_areas objective alone in penalised mode"
        if scenario.lexicographic or scenario.limits:
            return "a lexicographic objective or limits"
        noncot, split = self._parts(scenario)
        return PARTITION.why_not_exact(instance, noncot) or COARSEST.why_not_exact(instance, split)

    def accepts(self, instance, block, scenario, forced):
        noncot, split = self._parts(scenario)
        return PARTITION.accepts(instance, block, noncot, forced) and COARSEST.accepts(instance, block, split, forced)

    def solve_block(self, instance, block, scenario, ctx: SolveContext) -> BlockResult:
        t0 = time.perf_counter()
        noncot, _ = self._parts(scenario)
        res = PARTITION.solve_block(instance, block, noncot, ctx)
        w = scenario.objective_terms[0][1]
        p = scenario.penalty_weight

        def value(groups):
            m = plan_metrics(instance, groups, scenario)
            return w * m["split_areas"] + p * m["noncoterminous"], m

        one = [list(block.units)]
        v_one, m_one = value(one)
        if res.groups is None or res.bound is None:
            return BlockResult(one, Status.FEASIBLE, v_one, None, "partition", time.perf_counter() - t0,
                               f"split by parts: no bound on the non-coterminous part ({res.detail})")
        v_n, m_n = value(res.groups)
        noncot_bound = m_n["noncoterminous"] - (res.value - res.bound)  # the part's gap, on people
        bound = w * m_one["split_areas"] + p * noncot_bound
        groups, v = (res.groups, v_n) if v_n <= v_one else (one, v_one)
        status = Status.OPTIMAL if bound >= v - 1e-9 else Status.FEASIBLE
        if status is not Status.OPTIMAL and ctx.deadline is None:
            raise CandidateLimitError("split by parts: the parts do not meet; without a time limit the compact "
                                      "model proves the optimum")
        return BlockResult(groups, status, v, min(bound, v), "partition", time.perf_counter() - t0,
                           f"split by parts: fewest split HWBs {m_one['split_areas']} (one group per block) + "
                           f"fewest non-coterminous people {noncot_bound:,.0f} ({res.detail})", res.n_vars, res.n_cons)


SPLIT_BY_PARTS = SplitByParts()
