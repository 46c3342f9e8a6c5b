"""Lower bounds on each objective term that need no model of the plan, for a block left with a
heuristic plan only (so that every plan carries a bound, however weak, and says where it comes from).

For a block of ``n`` units with ``T`` people, floor ``F`` and so at most ``K = min(⌊T / F⌋, n)`` groups:

* ``merges`` = (baseline groups) - (groups) >= ``n_base - K`` (negative when a baseline group
  may be split);
* ``moved`` >= :func:`counting_bound` over the baseline groups: a baseline group no group
  continues moves whole, and the group continuing ``b`` holds at least ``F - pop(b)`` people of
  other baseline groups;
* ``noncoterminous`` >= :func:`counting_bound` over the HWBs: people of an HWB that is the main HWB
  of no group all live outside their group's main HWB, and the groups whose main HWB is ``h`` hold
  at least ``F`` people each, at most ``pop(h)`` of them from ``h``;
* ``split_areas`` >= 0.

The objective's bound is ``Σ_t w_t bound_t`` (a lexicographic objective: its first term), plus
``penalty_weight × bound_noncoterminous`` in ``penalised`` mode, as
:func:`ccgmerge.metrics.objective_value` adds them up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ccgmerge.instance import Instance
from ccgmerge.scenario import Coterminosity, Objective, Scenario

__all__ = ["LAMBDA_STEPS", "counting_bound", "term_bounds", "objective_bound"]

#: values of the multiplier tried in :func:`counting_bound`
LAMBDA_STEPS = 200


def counting_bound(people: Mapping, floor: float, max_owned: int) -> float:
    """A lower bound on ``min over sets S of at most max_owned labels of
    max(Σ_{l ∉ S} people[l], Σ_{l ∈ S} max(0, floor - people[l]))``, by the weights
    ``λ`` and ``1 - λ`` (``0 <= λ <= 1``) of the two terms, each giving::

        λ T + Σ of the at most max_owned most negative ((1 - λ) fill_l - λ people_l)

    The largest over a grid of ``λ`` is returned (each is a bound; no solver).

    >>> counting_bound({"a": 5, "b": 5, "c": 9}, 10, 1)  # own c: max(10, 1); own a: max(14, 5)
    10.0
    >>> counting_bound({"a": 40}, 10, 4)
    0.0
    """
    vals = [(float(p), max(0.0, float(floor) - float(p))) for _, p in sorted(people.items(), key=lambda e: str(e[0]))]
    total = sum(p for p, _ in vals)
    if not vals:
        return 0.0
    p = np.array([v[0] for v in vals])
    f = np.array([v[1] for v in vals])
    k = max(0, min(int(max_owned), len(vals)))
    best = 0.0
    for lam in np.linspace(0.0, 1.0, LAMBDA_STEPS + 1):
        terms = np.sort(np.minimum(0.0, (1.0 - lam) * f - lam * p))[:k]
        best = max(best, float(lam * total + terms.sum()))
    return float(np.floor(best + 1e-9))


def term_bounds(inst: Instance, units: Sequence[int], scenario: Scenario) -> dict[str, float]:
    """The bound of each term (module docstring) for the block of ``units``."""
    pop = inst.population
    total = int(sum(int(pop[i]) for i in units))
    floor = float(scenario.floor_population)
    k = min(total // int(floor), len(units)) if floor >= 1 else len(units)
    base: dict[str, int] = {}
    for i in units:
        base[inst.baseline_codes[i]] = base.get(inst.baseline_codes[i], 0) + int(pop[i])
    hwb: dict[int, int] = {}
    rows = inst.unit_area_people
    for i in units:
        for a, p in rows[i]:
            hwb[a] = hwb.get(a, 0) + int(p)
    return {
        "merges": float(len(base) - k),  # negative when baseline groups may be split
        "moved": counting_bound(base, floor, k),
        "noncoterminous": counting_bound(hwb, floor, k),
        "split_areas": 0.0,
    }


def objective_bound(inst: Instance, units: Sequence[int], scenario: Scenario) -> tuple[float, str] | None:
    """The objective's bound for the block of ``units`` and where it comes from, or None when a
    term has a negative weight.

    >>> import ccgmerge.data.synthetic as syn
    >>> inst = syn.generate(20, seed=2)
    >>> b, why = objective_bound(inst, range(20), Scenario(floor=400_000))
    >>> b >= 0 and why.startswith("term bounds")
    True
    """
    terms = scenario.objective_terms[:1] if scenario.lexicographic else scenario.objective_terms
    if any(w < 0 for _, w in terms):
        return None
    tb = term_bounds(inst, list(units), scenario)
    val = sum(w * tb[t.value] for t, w in terms)
    parts = [f"{t.value} >= {tb[t.value]:,.0f}" for t, _ in terms]
    if scenario.coterminosity is Coterminosity.PENALISED:
        val += scenario.penalty_weight * tb[Objective.NONCOTERMINOUS.value]
        parts.append(f"penalty {scenario.penalty_weight:g} x noncoterminous >= {tb['noncoterminous']:,.0f}")
    return float(val), "term bounds (no model): " + "; ".join(dict.fromkeys(parts))
