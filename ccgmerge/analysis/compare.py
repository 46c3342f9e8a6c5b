"""Compare merger plans with each other and with the NHS's real configurations.

Three tools:

* :func:`compare_assignments` measures how alike two groupings of the same
  units are (adjusted Rand index, pair-counting precision/recall/F1, and a
  population-weighted "same merge partners" share);
* :func:`configuration_plan` evaluates a real later configuration (CCGs of
  2015-2021, Sub-ICB locations, STPs, ICBs; see
  :func:`ccgmerge.data.load_configuration`) as if it were a plan: the same
  checker verdict and metrics under a :class:`~ccgmerge.scenario.Scenario`;
* :func:`compare_with_history` puts a plan next to every real configuration in
  one table, so one can see how far the NHS's actual mergers were from the
  optimum -- and which rules they break.

Pair counting
-------------
Two groupings ``a`` and ``b`` of ``n`` units are compared over the
``n (n - 1) / 2`` unordered pairs of units. A pair is *together* under a
grouping when both units share a group. With

* ``pairs_both``: pairs together under both ``a`` and ``b``,
* ``pairs_a`` / ``pairs_b``: pairs together under ``a`` / ``b``,

precision is ``pairs_both / pairs_a`` (the share of ``a``'s merges that ``b``
also made), recall is ``pairs_both / pairs_b`` (the share of ``b``'s merges
that ``a`` also made), and F1 their harmonic mean. ``a`` is the "prediction"
(usually a plan) and ``b`` the "reference" (usually a real configuration).
When a grouping puts no pair together (every unit alone) the ratio is 0/0;
it is then taken as 1 (no merges claimed, none wrong), and F1 of two
all-singleton groupings is 1.

The adjusted Rand index (Hubert & Arabie 1985) is the Rand index corrected
for chance: 1 for identical groupings, about 0 for unrelated ones (it can be
negative). It is computed from the contingency table ``n_ij`` (units in group
``i`` of ``a`` and group ``j`` of ``b``) with row sums ``a_i`` and column sums
``b_j``::

    index    = sum_ij C(n_ij, 2)              (= pairs_both)
    expected = sum_i C(a_i, 2) * sum_j C(b_j, 2) / C(n, 2)
    maximum  = (sum_i C(a_i, 2) + sum_j C(b_j, 2)) / 2
    ARI      = (index - expected) / (maximum - expected)

and is defined as 1 when ``maximum == expected`` (which happens only when
both groupings are all singletons or both are a single group, so they are
identical).

Example: units ``A..F``; ``a = {A,B,C} {D,E} {F}``, ``b = {A,B} {C,D} {E,F}``.
Pairs together: ``a`` 4 (AB AC BC DE), ``b`` 3 (AB CD EF), both 1 (AB), out of
15. ``expected = 4 * 3 / 15 = 0.8``, ``maximum = 3.5``, so
``ARI = (1 - 0.8) / (3.5 - 0.8) = 2/27``; precision ``1/4``, recall ``1/3``.

>>> import pandas as pd
>>> from ccgmerge.instance import Instance
>>> codes = list("ABCDEF")
>>> units = pd.DataFrame({"code": codes, "population": [10] * 6})
>>> areas = pd.DataFrame({"code": ["X"], "population": [60]})
>>> member = pd.DataFrame({"unit": codes, "area": ["X"] * 6, "population": [10] * 6})
>>> inst = Instance.from_frames(units, areas, member, [("A", "B"), ("B", "C"), ("C", "D"), ("D", "E"), ("E", "F")])
>>> c = compare_assignments(inst, dict(zip(codes, "xxxyyz")), dict(zip(codes, "ppqqrr")))
>>> round(c.ari, 6), c.precision, round(c.recall, 6)
(0.074074, 0.25, 0.333333)
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ccgmerge.check import check_plan
from ccgmerge.errors import ValidationError, format_items
from ccgmerge.instance import Instance
from ccgmerge.metrics import groups_from_assignment, objective_value, plan_metrics
from ccgmerge.plan import Plan, Status
from ccgmerge.scenario import Scenario

__all__ = ["Comparison", "compare_assignments", "configuration_plan", "compare_with_history"]


@dataclass(frozen=True)
class Comparison:
    """How alike two groupings ``a`` and ``b`` of the same units are.

    Attributes
    ----------
    n_units : number of units compared
    groups_a, groups_b : number of groups in each grouping
    pairs_a, pairs_b, pairs_both : unit pairs sharing a group under ``a``, under
        ``b``, under both (see the module docstring)
    ari : adjusted Rand index (1 = identical; ~0 = chance agreement)
    rand : the plain Rand index (share of all pairs on which ``a`` and ``b`` agree)
    precision, recall, f1 : pair-counting scores, ``a`` as prediction, ``b`` as reference
    partner_agreement : population-weighted mean, over units, of the Jaccard
        similarity of the unit's merge partners under ``a`` and under ``b``
        (partners = the *other* units in its group; a unit alone under both has
        similarity 1). Reads as "the share of the population whose merge
        partners match", with partial credit for partial overlap.
    exact_partner_share : share of the population whose merge partners are
        exactly the same under ``a`` and ``b`` (the units whose group is
        identical in both)
    """

    n_units: int
    groups_a: int
    groups_b: int
    pairs_a: int
    pairs_b: int
    pairs_both: int
    ari: float
    rand: float
    precision: float
    recall: float
    f1: float
    partner_agreement: float
    exact_partner_share: float

    def to_dict(self) -> dict:
        """Plain dict of the figures (JSON-safe)."""
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"{self.n_units} units: {self.groups_a} vs {self.groups_b} groups; ARI {self.ari:.3f}; "
            f"pairs precision {self.precision:.3f}, recall {self.recall:.3f}, F1 {self.f1:.3f}; "
            f"partner agreement {self.partner_agreement:.1%} of people (exact {self.exact_partner_share:.1%})"
        )


# --------------------------------------------------------------------------- helpers
def _as_assignment(inst: Instance, grouping, what: str) -> np.ndarray:
    """Integer group labels, one per unit in instance order, from a Plan, a
    Series or a mapping unit code -> label."""
    if isinstance(grouping, Plan):
        grouping = grouping.assignment
    if isinstance(grouping, pd.DataFrame):
        raise ValidationError(f"{what}: give a Series or mapping unit code -> group, not a DataFrame.")
    s = pd.Series(grouping) if not isinstance(grouping, pd.Series) else grouping.copy()
    s.index = s.index.map(str)
    if s.index.has_duplicates:
        dup = sorted(set(s.index[s.index.duplicated()]))
        raise ValidationError(f"{what}: units listed twice: {format_items(dup)}.", items=dup)
    unknown = sorted(set(s.index) - set(inst.unit_codes))
    if unknown:
        raise ValidationError(
            f"{what}: {len(unknown)} unit code(s) not in instance {inst.name!r}: {format_items(unknown)}.", items=unknown
        )
    missing = [c for c in inst.unit_codes if c not in s.index]
    if missing:
        raise ValidationError(
            f"{what}: {len(missing)} unit(s) of {inst.name!r} have no group: {format_items(missing)}; "
            "give every unit a group label.",
            items=missing,
        )
    s = s.reindex(list(inst.unit_codes))
    if s.isna().any():
        bad = s.index[s.isna()].tolist()
        raise ValidationError(f"{what}: missing group label for {format_items(bad)}.", items=bad)
    codes, _ = pd.factorize(s.astype(str), sort=True)
    return codes.astype(np.int64)


def _pairs(counts: np.ndarray) -> int:
    c = counts.astype(object)  # Python ints: exact for any size
    return int(sum(x * (x - 1) // 2 for x in c))


# --------------------------------------------------------------------------- compare
def compare_assignments(inst: Instance, a, b) -> Comparison:
    """Compare two groupings of ``inst``'s units.

    Parameters
    ----------
    inst : Instance
        Supplies the unit list and the populations used for weighting.
    a, b : Plan, Series or mapping unit code -> group label
        Every unit of ``inst`` must have a label in each. Labels are only
        compared for equality, so renaming groups changes nothing. ``a`` is
        treated as the prediction and ``b`` as the reference for precision and
        recall; every other figure is symmetric.

    Returns
    -------
    Comparison
        See the module docstring for the definitions.
    """
    la = _as_assignment(inst, a, "a")
    lb = _as_assignment(inst, b, "b")
    n = inst.n_units
    ka, kb = int(la.max()) + 1 if n else 0, int(lb.max()) + 1 if n else 0
    table = np.zeros((ka, kb), dtype=np.int64)
    np.add.at(table, (la, lb), 1)
    size_a, size_b = table.sum(axis=1), table.sum(axis=0)
    pairs_a, pairs_b, both = _pairs(size_a), _pairs(size_b), _pairs(table.ravel())
    total = n * (n - 1) // 2

    # adjusted Rand index (pair-confusion form, exact rationals)
    if total == 0 or (pairs_a == both and pairs_b == both):  # identical pair sets (incl. trivial cases)
        ari = 1.0
    else:
        expected = pairs_a * pairs_b / total
        maximum = (pairs_a + pairs_b) / 2
        ari = 1.0 if maximum == expected else float((both - expected) / (maximum - expected))
    rand = 1.0 if total == 0 else (total - pairs_a - pairs_b + 2 * both) / total

    precision = both / pairs_a if pairs_a else 1.0
    recall = both / pairs_b if pairs_b else 1.0
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)

    # per-unit partner sets (excluding the unit itself)
    inter = table[la, lb] - 1
    sa, sb = size_a[la] - 1, size_b[lb] - 1
    union = sa + sb - inter
    jac = np.where(union == 0, 1.0, inter / np.maximum(union, 1))
    exact = (sa == inter) & (sb == inter)
    pop = inst.population.astype(float)
    wsum = pop.sum()
    if wsum > 0:
        agree, exact_share = float(pop @ jac / wsum), float(pop[exact].sum() / wsum)
    else:  # all-zero populations: weight units equally
        agree, exact_share = float(jac.mean()) if n else 1.0, float(exact.mean()) if n else 1.0
    return Comparison(
        n_units=n, groups_a=ka, groups_b=kb, pairs_a=pairs_a, pairs_b=pairs_b, pairs_both=both,
        ari=ari, rand=float(rand), precision=float(precision), recall=float(recall), f1=float(f1),
        partner_agreement=agree, exact_partner_share=exact_share,
    )


# --------------------------------------------------------------------------- real configurations
def configuration_plan(
    inst: Instance,
    name_or_series: str | pd.Series | Mapping,
    scenario: Scenario | None = None,
    *,
    data: str | os.PathLike | None = None,
) -> Plan:
    """A real configuration evaluated as a plan under ``scenario``.

    Parameters
    ----------
    inst : Instance
        The units the configuration groups; for a named configuration, the 211
        CCGs of 2013 (:func:`ccgmerge.data.load_ccg2013`).
    name_or_series : str, Series or mapping unit code -> group label
        A name from :func:`ccgmerge.data.configuration_names` (``"ccg21"``,
        ``"icb22"`` ...) or any grouping of the instance's units.
    scenario : Scenario, default ``Scenario()``
        The rules it is checked against and the metrics' settings.
    data : path, optional
        Data folder for a named configuration.

    Returns
    -------
    Plan
        ``status`` is always ``Status.FEASIBLE``, meaning only *a partition
        exists and has been evaluated*: whether it meets the scenario's rules is
        in ``plan.verdict`` (and ``plan.ok``), which lists every violation --
        groups below the floor, groups not connected in the adjacency graph,
        HWB (coterminosity) breaches. ``objective`` is the scenario's
        objective for this partition; ``bound`` is None (nothing is proven);
        ``formulation`` is ``"real configuration <name>"``; ``solver`` is empty.

    Notes
    -----
    A named configuration maps each 2013 CCG to its main successor, so the few
    CCGs later split between successors are approximated (see
    :func:`~ccgmerge.data.load_configuration`). The adjacency graph does not
    join units across tidal water (PROVENANCE.md, "Known caveats"): from 2015
    on, Newcastle Gateshead CCG (13T = 00F Gateshead + 00G + 00H, joined across
    the Tyne) is reported as disconnected unless the Tyne crossings are added
    with :meth:`Instance.with_edges`.

    Examples
    --------
    >>> from ccgmerge.data import load_ccg2013
    >>> p = configuration_plan(load_ccg2013(), "ccg21")   # doctest: +SKIP
    >>> p.metrics["groups"], p.ok                          # doctest: +SKIP
    (106, False)
    """
    t0 = time.perf_counter()
    scenario = scenario or Scenario()
    if isinstance(name_or_series, str):
        from ccgmerge.data import load_configuration

        name = name_or_series
        series = load_configuration(name, data)
    else:
        series = name_or_series
        name = str(getattr(series, "name", None) or "custom")
    labels = _as_assignment(inst, series, f"configuration {name}")
    assignment = pd.Series(labels, index=list(inst.unit_codes))
    groups = groups_from_assignment(inst, assignment)
    verdict = check_plan(inst, groups, scenario)
    return Plan(
        inst,
        scenario,
        Status.FEASIBLE,
        tuple(tuple(int(i) for i in g) for g in groups),
        objective=objective_value(inst, groups, scenario),
        bound=None,
        verdict=verdict,
        solver="",
        formulation=f"real configuration {name}",
        wall_time=time.perf_counter() - t0,
    )


_LEVEL = {"ccg": "CCG", "sub_icb": "Sub-ICB", "stp": "STP", "icb": "ICB"}


def _level(name: str) -> str:
    base = name.rstrip("0123456789")
    return _LEVEL.get(base, "custom")


def _why(verdict) -> str:
    if verdict.ok:
        return "meets every rule"
    counts: dict[str, int] = {}
    for v in verdict.violations:
        counts[v.rule] = counts.get(v.rule, 0) + 1
    words = {"floor": "below floor", "connected": "disconnected", "ceiling": "above ceiling",
             "max_units": "too many units", "nested": "span several HWBs", "aligned": "split an HWB",
             "partition": "partition errors", "alone": "lock 'alone' broken", "together": "lock 'together' broken",
             "apart": "lock 'apart' broken"}
    return "; ".join(f"{k} {words.get(r, r)}" for r, k in counts.items())


def compare_with_history(
    inst: Instance,
    plan: Plan,
    names: Iterable[str] | None = None,
    *,
    data: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """One row per real configuration: agreement with ``plan``, the
    configuration's own metrics and verdict under ``plan.scenario``, and the
    plan's metrics for reference.

    Parameters
    ----------
    inst : Instance
        The 211 CCGs of 2013 (the units of ``plan`` and of the configurations).
    plan : Plan
        A plan with groups (for example ``solve(inst, Scenario())``).
    names : iterable of str, optional
        Configurations (default: all of :func:`ccgmerge.data.configuration_names`).
        A ``pd.Series`` grouping may be given instead of a name; its ``name``
        labels the row.
    data : path, optional
        Data folder.

    Returns
    -------
    DataFrame indexed by ``configuration`` with columns

    * ``level`` (CCG, Sub-ICB, STP, ICB);
    * agreement with the plan (plan as ``a``, configuration as ``b``; see
      :class:`Comparison`): ``ari``, ``rand``, ``precision`` (share of the
      plan's merged pairs that the NHS also merged), ``recall`` (share of the
      NHS's merged pairs that the plan also merged), ``f1``,
      ``partner_agreement``, ``exact_partner_share``;
    * the configuration under ``plan.scenario``: ``groups``, ``merges``,
      ``moved``, ``noncoterminous``, ``split_areas``, ``coterminous_groups``,
      ``min_group_population``, ``max_group_population``, ``objective``;
    * its verdict: ``ok``, ``violations`` (total), ``below_floor``,
      ``disconnected``, ``hwb_violations`` (nested/aligned),
      ``other_violations``, ``why`` (a short summary);
    * the plan for reference: ``plan_groups``, ``plan_merges``, ``plan_moved``,
      ``plan_noncoterminous``, ``plan_split_areas``, ``plan_objective``;
      ``extra_merges`` = ``merges - plan_merges`` (how many more merges than
      the optimum needed).
    """
    plan.require_groups()
    from ccgmerge.data import configuration_names

    names = list(configuration_names() if names is None else names)
    pm = plan_metrics(inst, plan.groups, plan.scenario)
    p_obj = plan.objective if plan.objective is not None else objective_value(inst, plan.groups, plan.scenario, pm)
    rows = []
    for item in names:
        cp = configuration_plan(inst, item, plan.scenario, data=data)
        name = cp.formulation.removeprefix("real configuration ")
        cmp_ = compare_assignments(inst, plan, cp)
        m = plan_metrics(inst, cp.groups, plan.scenario)
        rules = [v.rule for v in cp.verdict.violations]
        row = {"configuration": name, "level": _level(name) if isinstance(item, str) else "custom"}
        row.update({k: getattr(cmp_, k) for k in ("ari", "rand", "precision", "recall", "f1",
                                                   "partner_agreement", "exact_partner_share")})
        row.update({k: m[k] for k in ("groups", "merges", "moved", "noncoterminous", "split_areas",
                                      "coterminous_groups", "min_group_population", "max_group_population")})
        row["objective"] = cp.objective
        n_floor, n_conn = rules.count("floor"), rules.count("connected")
        n_hwb = rules.count("nested") + rules.count("aligned")
        row.update(ok=cp.verdict.ok, violations=len(rules), below_floor=n_floor, disconnected=n_conn,
                   hwb_violations=n_hwb, other_violations=len(rules) - n_floor - n_conn - n_hwb, why=_why(cp.verdict))
        row.update(plan_groups=pm["groups"], plan_merges=pm["merges"], plan_moved=pm["moved"],
                   plan_noncoterminous=pm["noncoterminous"], plan_split_areas=pm["split_areas"], plan_objective=p_obj)
        row["extra_merges"] = m["merges"] - pm["merges"]
        rows.append(row)
    return pd.DataFrame(rows).set_index("configuration")
