"""Viability against the allowance per head: per unit, and across a sweep.

:func:`viability_allowance` gives, for each unit of an instance, the allowance
per head below which it is not viable on its own; :func:`allowance_curve`
reads a sweep's results table (:func:`~ccgmerge.analysis.sweep.load_results`)
as the number of groups against the allowance per head (or the year).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ccgmerge.analysis.sweep.scenarios import SCENARIO_FIELDS
from ccgmerge.errors import ScenarioError
from ccgmerge.instance import Instance
from ccgmerge.scenario import Scenario

__all__ = ["viability_allowance", "allowance_curve"]


def viability_allowance(instance: Instance, scenario: Scenario | None = None) -> pd.DataFrame:
    """Per unit, the allowance per head below which it is not viable on its own.

    ``break_even_allowance = fixed_cost / population + cost_per_head -
    quality_premium_per_head`` (GBP per head): with an allowance per head at
    or above it the unit's allowance covers its cost. Also: ``headroom``
    (the scenario's allowance minus it), ``margin`` (allowance minus cost at
    the scenario's values, GBP) and ``viable_alone`` (population at or above
    the scenario's floor, the rule the optimiser applies, which a ``floor``
    given directly overrides). Sorted most at risk first.

    >>> import ccgmerge.data.synthetic as syn
    >>> inst = syn.generate(10, seed=1)
    >>> t = viability_allowance(inst, Scenario())
    >>> row = t.iloc[0]
    >>> bool(round(row.break_even_allowance, 4) == round(2_500_000 / row.population, 4))
    True
    """
    sc = scenario or Scenario()
    pop = instance.population.astype(float)
    with np.errstate(divide="ignore"):
        be = np.where(pop > 0, sc.fixed_cost / np.where(pop > 0, pop, 1.0), np.inf) + sc.cost_per_head - sc.quality_premium_per_head
    units = instance.units
    df = pd.DataFrame({
        "unit": list(instance.unit_codes),
        "name": units["name"].reindex(list(instance.unit_codes)).astype(str).to_numpy() if "name" in units else list(instance.unit_codes),
        "population": instance.population.astype(np.int64),
        "main_area": instance.main_area().reindex(list(instance.unit_codes)).to_numpy(),
        "break_even_allowance": be,
        "allowance_per_head": float(sc.allowance_per_head),
    })
    df["headroom"] = df["allowance_per_head"] - df["break_even_allowance"]
    df["margin"] = pop * (sc.allowance_per_head + sc.quality_premium_per_head) - (sc.fixed_cost + sc.cost_per_head * pop)
    df["viable_alone"] = df["population"] >= sc.floor_population
    return df.sort_values(["break_even_allowance", "unit"], ascending=[False, True]).reset_index(drop=True)


_DERIVED = {"floor_population", "price_index", "fixed_cost", "population_factor", "instance_fingerprint", "key"}


def allowance_curve(results: pd.DataFrame, x: str | None = None, by: Sequence[str] | None = None) -> pd.DataFrame:
    """Number of groups against the allowance per head (or the year).

    Parameters
    ----------
    results : DataFrame
        A results table (:func:`~ccgmerge.analysis.sweep.load_results`, ``results.csv`` or
        ``SweepResult.table``).
    x : str, optional
        ``"year"`` when the table has a year column (an inflation sweep), else
        ``"allowance_per_head"``.
    by : list of str, optional
        Columns that separate the curves; default every other scenario
        parameter or option that varies (``coterminosity``, ...), leaving out
        those derived from ``x`` (the floor; with years the fixed cost, price
        index and population factor).

    Returns
    -------
    DataFrame
        Columns ``by + [x, "floor_population", "status", "groups", "merges"]``,
        sorted; ``groups`` is empty where the run has no plan.
    """
    df = results.copy()
    if x is None:
        x = "year" if "year" in df.columns and df["year"].notna().any() else "allowance_per_head"
    if x not in df.columns:
        raise ScenarioError(f"allowance_curve: column {x!r} not in the results; columns: {list(df.columns)}.")
    if by is None:
        cand = [c for c in df.columns if c in SCENARIO_FIELDS or c.startswith("opt_")]
        skip = set(_DERIVED) | {x}
        if x != "year":
            skip -= {"fixed_cost"}
        by = [c for c in cand if c not in skip and df[c].astype(str).nunique(dropna=False) > 1]
    keep = list(by) + [x] + [c for c in ("floor_population", "status", "groups", "merges") if c in df.columns]
    out = df[keep].sort_values(list(by) + [x], kind="stable").reset_index(drop=True)
    return out
