"""Plans built without a solve, shared by the output and picture tests."""

from __future__ import annotations

import networkx as nx
import numpy as np

from ccgmerge.check import check_plan
from ccgmerge.instance import Instance
from ccgmerge.plan import Plan, Status
from ccgmerge.scenario import Scenario


def plan_of(inst: Instance, groups, scenario: Scenario) -> Plan:
    """A checked plan with the given groups (no solve)."""
    groups = tuple(tuple(inst.positions(list(g))) if isinstance(g, str) else tuple(g) for g in groups)
    verdict = check_plan(inst, [list(g) for g in groups], scenario)
    assert verdict.ok, verdict
    return Plan(inst, scenario, Status.FEASIBLE, groups, verdict=verdict, formulation="test")


def moved_border_plan(inst: Instance, n_moves: int, scenario: Scenario) -> Plan:
    """The units in their baseline groups with ``n_moves`` border units moved to a neighbouring
    group (each move keeping both groups connected): an LSOA plan with a baseline, without a solve."""
    base = np.array(inst.baseline_codes)
    label = base.copy()
    g = inst.adjacency_graph()
    codes = list(inst.unit_codes)
    moved = 0
    for a, b in inst.edges:
        if moved == n_moves:
            break
        if label[a] != label[b] and label[a] == base[a] and label[b] == base[b]:
            rest = [codes[i] for i in np.flatnonzero(label == label[a]) if i != a]
            if rest and nx.is_connected(g.subgraph(rest)):
                label[a] = label[b]
                moved += 1
    groups = [tuple(int(i) for i in np.flatnonzero(label == c)) for c in sorted(set(label))]
    return plan_of(inst, groups, scenario)
