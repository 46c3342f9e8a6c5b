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
* ``coterminous_groups``: groups with at least 99% of their people in one HWB
  holding at least 99% of that HWB's people.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np
import pandas as pd

from ccgmerge.instance import Instance
from ccgmerge.scenario import Coterminosity, Scenario

__all__ = ["Groups", "groups_from_assignment", "continuations", "area_overlaps", "plan_metrics", "objective_value"]


Groups = Sequence[Sequence[int]]


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


def _moved(inst: Instance, groups: Groups) -> int:
    pop = inst.population
    if inst.singleton_baseline:  # every unit its own baseline group
        return int(sum(pop[list(g)].sum() - pop[list(g)].max() for g in groups if len(g)))
    base = inst.baseline_codes
    kept = sum(int(pop[i]) for c, g in zip(continuations(inst, groups), groups) for i in g if base[i] == c)
    return int(pop.sum() - kept)


def area_overlaps(inst: Instance, groups: Groups) -> pd.DataFrame:
    """People of each (group, HWB) pair with any: columns group (index into ``groups``), area, population."""
    gid = np.full(inst.n_units, -1, dtype=np.int64)
    for k, g in enumerate(groups):
        gid[list(g)] = k
    m = inst.membership
    idx = inst.index
    rows = pd.DataFrame({"group": gid[[idx[u] for u in m["unit"]]], "area": m["area"].to_numpy(), "population": m["population"].to_numpy()})
    return rows.groupby(["group", "area"], sort=True)["population"].sum().reset_index()


def plan_metrics(inst: Instance, groups: Groups, scenario: Scenario | None = None) -> dict:
    """Solver-free metrics of a partition (see the module docstring).

    >>> import ccgmerge.data.synthetic as syn
    >>> inst = syn.generate(10, seed=3)
    >>> m = plan_metrics(inst, [[i] for i in range(inst.n_units)])
    >>> m["groups"], m["merges"], m["moved"]
    (10, 0, 0)
    """
    thr = scenario.coterminous_threshold if scenario is not None else 0.99
    ov = area_overlaps(inst, groups)
    gpop = np.array([inst.group_population(g) for g in groups], dtype=np.int64)
    best = ov.sort_values(["group", "population", "area"], ascending=[True, False, True]).drop_duplicates("group")
    in_main = best.set_index("group")["population"].reindex(range(len(groups))).fillna(0).to_numpy()
    apop = inst.areas["population"]
    share_area = best["population"].to_numpy() / best["area"].map(apop).clip(lower=1).to_numpy()
    share_grp = best["population"].to_numpy() / np.maximum(gpop[best["group"].to_numpy()], 1)
    cot_groups = int(np.sum((share_area >= thr) & (share_grp >= thr)))
    split = int((ov.groupby("area")["group"].nunique() > 1).sum())
    n_base = inst.n_baseline_groups
    return {
        "groups": len(groups),
        "merges": n_base - len(groups),
        "moved": _moved(inst, groups),
        "noncoterminous": int(gpop.sum() - in_main.sum()),
        "split_areas": split,
        "coterminous_groups": cot_groups,
        "min_group_population": int(gpop.min()) if len(gpop) else 0,
        "max_group_population": int(gpop.max()) if len(gpop) else 0,
    }


def objective_value(inst: Instance, groups: Groups, scenario: Scenario, metrics: dict | None = None) -> float:
    """The scenario's objective for a partition (weighted sum of its terms; for a
    lexicographic objective, the first term), plus the penalised-mode penalty."""
    m = metrics or plan_metrics(inst, groups, scenario)
    terms = scenario.objective_terms[:1] if scenario.lexicographic else scenario.objective_terms
    val = sum(w * m[t.value] for t, w in terms)
    if scenario.coterminosity is Coterminosity.PENALISED:
        val += scenario.penalty_weight * m["noncoterminous"]
    return float(val)
