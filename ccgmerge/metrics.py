"""Solver-free metrics of a plan, and the scenario's objective value.

Metrics (for groups ``g`` of a plan, baseline groups ``b``, HWBs ``h``):

* ``groups``: number of resulting groups; ``merges`` = baseline groups - groups;
* ``moved``: Σ_g pop(g) - Σ_g pop(g ∩ cont(g)) where ``cont`` matches each group to
  the baseline group it continues, at most one group per baseline group,
  maximising the people who stay (a maximum-weight matching; with every unit
  its own baseline group this is each group's largest member);
* ``noncoterminous``: Σ_g (pop(g) - max_h pop(g ∩ h)), people living outside
  their group's main HWB (membership, not main-HWB counting);
* ``split_areas``: HWBs whose people live in two or more groups;
* ``coterminous_groups``: groups whose boundary follows HWB boundaries
  (:func:`group_measures`: a group inside one HWB, one whole HWB, or a union
  of whole HWBs, each to within ``Scenario.coterminous_threshold`` of the people).

Every metric is computed on the units the groups cover, so the metrics of
the groups of one block of a solve (a part of the units) are that block's
share of the plan's (merges count the baseline groups of the covered units).
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np
import pandas as pd

from ccgmerge.instance import Instance
from ccgmerge.scenario import Coterminosity, Scenario

__all__ = ["Groups", "groups_from_assignment", "continuations", "group_index", "moved_units", "area_overlaps",
           "group_measures", "HWB_FIT", "plan_metrics", "objective_value"]


Groups = Sequence[Sequence[int]]

#: The values of :func:`group_measures`' ``hwb_fit``, in the order they are tested.
HWB_FIT = ("one whole HWB", "whole HWBs", "within one HWB", "crosses HWBs")


def groups_from_assignment(inst: Instance, assignment) -> list[list[int]]:
    """Groups (lists of positions, sorted; groups sorted by first member) from a
    mapping unit code -> group label. Unknown codes raise ValidationError."""
    s = pd.Series(assignment)
    s.index = s.index.map(str)
    pos = inst.positions(s.index)
    by: dict = {}
    for p, lab in zip(pos, s.to_numpy()):
        by.setdefault(lab, []).append(p)
    return sorted((sorted(g) for g in by.values()), key=lambda g: g[0])


def continuations(inst: Instance, groups: Groups) -> list[str | None]:
    """The baseline group each group continues (None: a new group).

    A maximum-weight matching of groups to baseline groups, weighted by the
    people they share, so at most one group continues each baseline group.
    Without a baseline (every unit its own) a group continues its largest
    member (ties: the smallest position).

    >>> import ccgmerge.data.synthetic as syn
    >>> inst = syn.generate(10, seed=3)
    >>> continuations(inst, [[0, 1]]) == [inst.unit_codes[max((0, 1), key=lambda i: (inst.population[i], -i))]]
    True
    """
    pop, base = inst.population, inst.baseline_codes
    if inst.singleton_baseline:
        return [base[max(g, key=lambda i: (pop[i], -i))] for g in groups]
    g = nx.Graph()
    for k, members in enumerate(groups):
        overlap: dict[str, int] = {}
        for i in members:
            overlap[base[i]] = overlap.get(base[i], 0) + int(pop[i])
        for b, w in overlap.items():
            g.add_edge(("g", k), ("b", b), weight=w)
    out: list[str | None] = [None] * len(groups)
    for a, b in nx.max_weight_matching(g):
        (_, k), (_, code) = (a, b) if a[0] == "g" else (b, a)
        out[k] = code
    return out


def group_index(inst: Instance, groups: Groups) -> np.ndarray:
    """Per unit (``inst.unit_codes`` order) the index of its group in ``groups``; -1 for a unit in none."""
    gid = np.full(inst.n_units, -1, dtype=np.int64)
    for k, g in enumerate(groups):
        gid[list(g)] = k
    return gid


def moved_units(inst: Instance, groups: Groups, cont: Sequence[str | None] | None = None) -> np.ndarray:
    """Boolean per unit (``inst.unit_codes`` order): the unit's group does not
    continue the unit's baseline group, so its people count as ``moved``
    (``cont``: :func:`continuations`, computed when not given). Units in no
    group are False.

    >>> import ccgmerge.data.synthetic as syn
    >>> inst = syn.generate(10, seed=3)
    >>> groups = [[i] for i in range(2, 10)] + [[0, 1]]
    >>> int(inst.population[moved_units(inst, groups)].sum()) == plan_metrics(inst, groups)["moved"]
    True
    """
    cont = continuations(inst, groups) if cont is None else cont
    base = inst.baseline_codes
    out = np.zeros(inst.n_units, dtype=bool)
    for k, g in enumerate(groups):
        for i in g:
            out[i] = base[i] != cont[k]
    return out


def area_overlaps(inst: Instance, groups: Groups) -> pd.DataFrame:
    """People of each (group, HWB) pair with any: columns group (index into
    ``groups``), area, population; units in no group are left out."""
    gid = group_index(inst, groups)
    m = inst.membership
    idx = inst.index
    rows = pd.DataFrame({"group": gid[[idx[u] for u in m["unit"]]], "area": m["area"].to_numpy(), "population": m["population"].to_numpy()})
    rows = rows[rows["group"] >= 0]
    return rows.groupby(["group", "area"], sort=True)["population"].sum().reset_index()


def group_measures(inst: Instance, groups: Groups, threshold: float = 0.99) -> pd.DataFrame:
    """Per group (row ``k`` for ``groups[k]``): how it sits on the HWBs, and its people counted by the metrics.

    Columns: ``population``; ``main_area`` (the HWB holding most of its
    people; ties: the smallest code), ``in_main_area`` (its people there),
    ``share_in_main_area`` (of the group's people) and ``share_of_main_area``
    (of that HWB's people); ``areas`` (the HWBs with people in it, most
    people first); ``whole_areas`` (the HWBs of which it holds at least
    ``threshold`` of the people); ``noncoterminous`` (people outside its
    main HWB: the ``noncoterminous`` metric and the penalised mode's
    penalty, summed over groups); ``moved`` (people whose baseline group it
    does not continue: summed, the ``moved`` metric); ``hwb_fit`` and
    ``coterminous``.

    **The coterminous rule.** With ``t = threshold`` (``Scenario.coterminous_threshold``,
    0.99), a group's ``hwb_fit`` is the first of :data:`HWB_FIT` that holds:

    * ``"one whole HWB"``: it holds at least ``t`` of one HWB's people, and at
      least ``t`` of its own people live there;
    * ``"whole HWBs"``: at least ``t`` of its people live in HWBs of which it
      holds at least ``t`` of the people (a union of whole HWBs, as
      ``aligned`` mode allows);
    * ``"within one HWB"``: at least ``t`` of its people live in one HWB that
      it shares with other groups (``nested`` mode's groups);
    * ``"crosses HWBs"``: none of these.

    ``coterminous`` is True for the first three: the group's boundary
    follows HWB boundaries (it never cuts across one). This is the ``aligned``
    rule (:func:`ccgmerge.rules.aligned_ok`) counted in people rather than by
    each unit's main HWB, so a group the aligned rule accepts is coterminous
    unless its own units straddle HWB boundaries by more than ``1 - t`` of
    its people. A union of whole HWBs is coterminous yet has
    ``noncoterminous`` people (those outside its main HWB): that count is
    the optimiser's, unchanged.

    Example: HWB X holds units A and B, HWB Y holds C, and D straddles Y (20
    people) and Z (80 people)::

        A(60) -- B(40) -- C(50) -- D(100)        X = {A, B}, Y = {C, 20 of D}, Z = {80 of D}

    >>> from ccgmerge.instance import Instance
    >>> u = pd.DataFrame({"code": list("ABCD"), "population": [60, 40, 50, 100]})
    >>> a = pd.DataFrame({"code": list("XYZ"), "population": [100, 70, 80]})
    >>> m = pd.DataFrame({"unit": list("ABCDD"), "area": list("XXYYZ"), "population": [60, 40, 50, 20, 80]})
    >>> inst = Instance.from_frames(u, a, m, [("A", "B"), ("B", "C"), ("C", "D")], warn=False)
    >>> t = group_measures(inst, [[0], [1, 2], [3]])
    >>> t[["hwb_fit", "coterminous", "noncoterminous"]].values.tolist()
    [['within one HWB', True, 0], ['crosses HWBs', False, 40], ['crosses HWBs', False, 20]]
    >>> group_measures(inst, [[0, 1, 2], [3]])[["hwb_fit", "coterminous", "noncoterminous"]].values.tolist()
    [['crosses HWBs', False, 50], ['crosses HWBs', False, 20]]
    >>> group_measures(inst, [[0, 1], [2, 3]])["hwb_fit"].tolist()
    ['one whole HWB', 'whole HWBs']
    """
    n = len(groups)
    gpop = np.array([inst.group_population(g) for g in groups], dtype=np.int64)
    ov = area_overlaps(inst, groups)
    ov = ov.sort_values(["group", "population", "area"], ascending=[True, False, True], kind="stable")
    apop = inst.areas["population"]
    ov["whole"] = ov["population"] >= threshold * ov["area"].map(apop).clip(lower=1).to_numpy()
    best = ov.drop_duplicates("group").set_index("group").reindex(range(n))
    in_main = best["population"].fillna(0).to_numpy(dtype=np.int64)
    main = best["area"].to_numpy(dtype=object)
    in_whole = ov[ov["whole"]].groupby("group")["population"].sum().reindex(range(n), fill_value=0).to_numpy()
    areas = ov.groupby("group")["area"].agg(tuple).reindex(range(n))
    whole = ov[ov["whole"]].groupby("group")["area"].agg(tuple).reindex(range(n))
    n_whole = np.array([len(w) if isinstance(w, tuple) else 0 for w in whole], dtype=np.int64)
    main_whole = best["whole"].eq(True).to_numpy(dtype=bool)
    size = np.maximum(gpop, 1)
    fit = np.where(main_whole & (in_main >= threshold * size), HWB_FIT[0],
                   np.where((n_whole >= 2) & (in_whole >= threshold * size), HWB_FIT[1],
                            np.where(in_main >= threshold * size, HWB_FIT[2], HWB_FIT[3])))
    cont = continuations(inst, groups)
    moved = moved_units(inst, groups, cont)
    pop = inst.population
    share_of = in_main / np.maximum(np.array([apop.get(a, 0) if a is not None else 0 for a in main], dtype=float), 1)
    return pd.DataFrame({
        "population": gpop,
        "main_area": main,
        "in_main_area": in_main,
        "share_in_main_area": in_main / size,
        "share_of_main_area": share_of,
        "areas": [a if isinstance(a, tuple) else () for a in areas],
        "whole_areas": [w if isinstance(w, tuple) else () for w in whole],
        "noncoterminous": gpop - in_main,
        "moved": np.array([int(pop[list(g)][moved[list(g)]].sum()) for g in groups], dtype=np.int64),
        "continues": cont,
        "hwb_fit": fit,
        "coterminous": fit != HWB_FIT[3],
    })


def plan_metrics(inst: Instance, groups: Groups, scenario: Scenario | None = None) -> dict:
    """Solver-free metrics of a partition (see the module docstring).

    ``groups`` may cover a part of the units (a block of a solve): the
    metrics are then that part's share (merges: the covered units' baseline
    groups minus the groups).

    >>> import ccgmerge.data.synthetic as syn
    >>> inst = syn.generate(10, seed=3)
    >>> m = plan_metrics(inst, [[i] for i in range(inst.n_units)])
    >>> m["groups"], m["merges"], m["moved"]
    (10, 0, 0)
    """
    thr = scenario.coterminous_threshold if scenario is not None else 0.99
    t = group_measures(inst, groups, thr)
    ov = area_overlaps(inst, groups)
    split = int((ov.groupby("area")["group"].nunique() > 1).sum())
    covered = [i for g in groups for i in g]
    n_base = len({inst.baseline_codes[i] for i in covered}) if len(covered) < inst.n_units else inst.n_baseline_groups
    gpop = t["population"].to_numpy()
    return {
        "groups": len(groups),
        "merges": n_base - len(groups),
        "moved": int(t["moved"].sum()),
        "noncoterminous": int(t["noncoterminous"].sum()),
        "split_areas": split,
        "coterminous_groups": int(t["coterminous"].sum()),
        "min_group_population": int(gpop.min()) if len(gpop) else 0,
        "max_group_population": int(gpop.max()) if len(gpop) else 0,
    }


def objective_value(inst: Instance, groups: Groups, scenario: Scenario, metrics: dict | None = None) -> float:
    """The scenario's objective for a partition (weighted sum of its terms; for a
    lexicographic objective, the first term), plus the penalised-mode penalty.
    For groups covering a part of the units (a block), that part's share."""
    m = metrics or plan_metrics(inst, groups, scenario)
    terms = scenario.objective_terms[:1] if scenario.lexicographic else scenario.objective_terms
    val = sum(w * m[t.value] for t, w in terms)
    if scenario.coterminosity is Coterminosity.PENALISED:
        val += scenario.penalty_weight * m["noncoterminous"]
    return float(val)
