"""The solver-free feasibility checker.

:func:`check_plan` applies every rule of :mod:`ccgmerge.rules` to a partition
and returns a :class:`~ccgmerge.plan.Verdict`. The optimiser runs it on every
plan it returns, so the verdict travels with the result; users can run it on
any plan of their own (for example a real NHS configuration).

>>> import ccgmerge.data.synthetic as syn
>>> from ccgmerge.scenario import Scenario
>>> inst = syn.generate(10, seed=0)
>>> v = check_plan(inst, [list(range(inst.n_units))], Scenario(floor=1))
>>> v.ok
True
>>> check_plan(inst, [[0]], Scenario(floor=1)).ok   # units missing
False
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from ccgmerge.instance import Instance
from ccgmerge.metrics import groups_from_assignment
from ccgmerge.plan import Verdict
from ccgmerge.rules import RULES
from ccgmerge.scenario import Scenario

__all__ = ["check_plan", "check_assignment"]


def check_plan(inst: Instance, groups: Sequence[Sequence[int]], scenario: Scenario) -> Verdict:
    """Check a partition (groups of unit positions) against every rule."""
    groups = [list(map(int, g)) for g in groups]
    violations = []
    partition = RULES[0](inst, groups, scenario)
    violations += partition
    if not partition:  # other rules assume a partition
        for rule in RULES[1:]:
            violations += rule(inst, groups, scenario)
    return Verdict(ok=not violations, violations=tuple(violations), rules_checked=tuple(r.__name__ for r in RULES))


def check_assignment(inst: Instance, assignment: Mapping[str, str] | pd.Series, scenario: Scenario) -> Verdict:
    """Check a plan given as unit code -> group label."""
    return check_plan(inst, groups_from_assignment(inst, assignment), scenario)
