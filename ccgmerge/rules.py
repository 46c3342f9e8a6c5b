"""The rules as small named functions that need no solver.

Each rule takes an :class:`~ccgmerge.instance.Instance`, the groups of a plan
(a list of sorted lists of unit *positions*), and the
:class:`~ccgmerge.scenario.Scenario`, and returns a list of
:class:`Violation` (empty when the rule holds). The checker
(:func:`ccgmerge.check.check_plan`), the optimiser's tests and the brute-force
reference all use these same functions.

Example: a path of four units with a floor of 100::

    A(60) -- B(50) -- C(70) -- D(40)

>>> import pandas as pd
>>> from ccgmerge.instance import Instance
>>> from ccgmerge.scenario import Scenario
>>> u = pd.DataFrame({"code": list("ABCD"), "population": [60, 50, 70, 40]})
>>> a = pd.DataFrame({"code": ["X"], "population": [220]})
>>> m = pd.DataFrame({"unit": list("ABCD"), "area": ["X"] * 4, "population": [60, 50, 70, 40]})
>>> inst = Instance.from_frames(u, a, m, [("A", "B"), ("B", "C"), ("C", "D")])
>>> s = Scenario(floor=100)
>>> floor_met(inst, [[0, 1], [2, 3]], s)
[]
>>> [v.rule for v in groups_connected(inst, [[0, 2], [1, 3]], s)]
['connected', 'connected']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scipy.sparse.csgraph import connected_components

from ccgmerge.instance import Instance
from ccgmerge.metrics import plan_metrics
from ccgmerge.scenario import Coterminosity, Scenario

__all__ = [
    "Violation",
    "partition_ok",
    "groups_connected",
    "floor_met",
    "ceiling_met",
    "nested_ok",
    "aligned_ok",
    "locks_ok",
    "RULES",
    "is_connected_set",
]


@dataclass(frozen=True)
class Violation:
    """One broken rule: which rule, which group (by its members' codes), why."""

    rule: str
    units: tuple[str, ...]
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.message}"


Groups = Sequence[Sequence[int]]


def _codes(inst: Instance, members) -> tuple[str, ...]:
    return tuple(inst.unit_codes[i] for i in members)


def _label(inst: Instance, members) -> str:
    codes = _codes(inst, members)
    return "{" + ", ".join(codes[:6]) + (", ..." if len(codes) > 6 else "") + "}"


def is_connected_set(inst: Instance, members: Sequence[int]) -> bool:
    """True when ``members`` induce a connected subgraph of the adjacency graph.

    Computed with :func:`scipy.sparse.csgraph.connected_components` on the
    induced submatrix of :attr:`~ccgmerge.instance.Instance.adjacency_matrix`,
    independently of the optimiser's own graph code
    (:func:`ccgmerge.engine.subsets.connected_pieces`), so that a bug there
    cannot hide in the checker too. An empty set counts as connected.
    """
    idx = np.unique(np.asarray(list(members), dtype=np.int64))
    if len(idx) <= 1:
        return True
    n_pieces, _ = connected_components(inst.adjacency_matrix[idx][:, idx], directed=False)
    return n_pieces == 1


def partition_ok(inst: Instance, groups: Groups, scenario: Scenario | None = None) -> list[Violation]:
    """Every unit in exactly one group, and no empty groups."""
    out = []
    count = np.zeros(inst.n_units, dtype=np.int64)
    for g in groups:
        if len(g) == 0:
            out.append(Violation("partition", (), "an empty group"))
        for i in g:
            if not 0 <= int(i) < inst.n_units:
                out.append(Violation("partition", (str(i),), f"unknown unit position {i}"))
                continue
            count[int(i)] += 1
    missing = [inst.unit_codes[i] for i in np.flatnonzero(count == 0)]
    twice = [inst.unit_codes[i] for i in np.flatnonzero(count > 1)]
    if missing:
        out.append(Violation("partition", tuple(missing), f"units in no group: {', '.join(missing[:10])}"))
    if twice:
        out.append(Violation("partition", tuple(twice), f"units in more than one group: {', '.join(twice[:10])}"))
    return out


def groups_connected(inst: Instance, groups: Groups, scenario: Scenario | None = None) -> list[Violation]:
    """Every group induces a connected subgraph (skipped when contiguity is off)."""
    if scenario is not None and not scenario.contiguity:
        return []
    return [
        Violation("connected", _codes(inst, g), f"group {_label(inst, g)} is not connected in the adjacency graph")
        for g in groups
        if not is_connected_set(inst, g)
    ]


def floor_met(inst: Instance, groups: Groups, scenario: Scenario) -> list[Violation]:
    """Every group's population is at least the floor (a unit locked alone is exempt
    only if the floor is met anyway: locks do not waive viability)."""
    f = scenario.floor_population
    out = []
    for g in groups:
        p = inst.group_population(g)
        if p < f:
            out.append(Violation("floor", _codes(inst, g), f"group {_label(inst, g)} has {p:,} people, below the floor {f:,}"))
    return out


def ceiling_met(inst: Instance, groups: Groups, scenario: Scenario) -> list[Violation]:
    """Population ceiling and the largest number of units per group."""
    out = []
    for g in groups:
        p = inst.group_population(g)
        if scenario.ceiling is not None and p > scenario.ceiling:
            out.append(Violation("ceiling", _codes(inst, g), f"group {_label(inst, g)} has {p:,} people, above the ceiling {scenario.ceiling:,.0f}"))
        if scenario.max_units is not None and len(g) > scenario.max_units:
            out.append(Violation("max_units", _codes(inst, g), f"group {_label(inst, g)} has {len(g)} units, above {scenario.max_units}"))
    return out


def nested_ok(inst: Instance, groups: Groups, scenario: Scenario) -> list[Violation]:
    """In ``nested`` mode, every group's units share one main HWB."""
    if scenario.coterminosity is not Coterminosity.NESTED:
        return []
    main = inst.main_area_index
    out = []
    for g in groups:
        areas = sorted({inst.area_codes[main[i]] for i in g})
        if len(areas) > 1:
            out.append(Violation("nested", _codes(inst, g), f"group {_label(inst, g)} spans main HWBs {', '.join(areas)}"))
    return out


def aligned_ok(inst: Instance, groups: Groups, scenario: Scenario) -> list[Violation]:
    """In ``aligned`` mode, a group spanning several main HWBs holds every unit of each."""
    if scenario.coterminosity is not Coterminosity.ALIGNED:
        return []
    main = inst.main_area_index
    area_units: dict[int, set[int]] = {}
    for i, a in enumerate(main):
        area_units.setdefault(int(a), set()).add(i)
    out = []
    for g in groups:
        areas = {int(main[i]) for i in g}
        if len(areas) <= 1:
            continue
        gs = set(int(i) for i in g)
        for a in sorted(areas):
            missing = sorted(area_units[a] - gs)
            if missing:
                out.append(
                    Violation(
                        "aligned",
                        _codes(inst, g),
                        f"group {_label(inst, g)} crosses HWB boundaries but leaves out units "
                        f"{', '.join(inst.unit_codes[i] for i in missing[:6])} of HWB {inst.area_codes[a]}",
                    )
                )
    return out


def locks_ok(inst: Instance, groups: Groups, scenario: Scenario) -> list[Violation]:
    """Units locked alone are alone; ``together`` pairs share a group; ``apart`` pairs do not."""
    out = []
    where = {}
    for k, g in enumerate(groups):
        for i in g:
            where[inst.unit_codes[i]] = k
    for c in sorted(scenario.alone):
        if c in where and len(groups[where[c]]) > 1:
            out.append(Violation("alone", (c,), f"unit {c} must stay alone but is grouped with {_label(inst, groups[where[c]])}"))
    for a, b in sorted(scenario.together):
        if a in where and b in where and where[a] != where[b]:
            out.append(Violation("together", (a, b), f"units {a} and {b} must share a group"))
    for a, b in sorted(scenario.apart):
        if a in where and b in where and where[a] == where[b]:
            out.append(Violation("apart", (a, b), f"units {a} and {b} must not share a group"))
    return out


def limits_met(inst: Instance, groups: Groups, scenario: Scenario) -> list[Violation]:
    """The plan's totals respect ``scenario.limits`` (e.g. noncoterminous <= epsilon)."""
    if not scenario.limits:
        return []
    m = plan_metrics(inst, groups, scenario)
    return [Violation("limit", (), f"{k} is {m[k]:,} above its limit {v:,.0f}")
            for k, v in scenario.limits if m[k] > v + 1e-9]


#: All rules, in the order the checker applies them.
RULES = (partition_ok, groups_connected, floor_met, ceiling_met, nested_ok, aligned_ok, locks_ok, limits_met)
