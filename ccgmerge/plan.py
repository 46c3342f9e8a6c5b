"""Results: the :class:`Plan`, its :class:`Status`, the checker's
:class:`Verdict` and an :class:`Infeasibility` explanation. The metrics every
plan reports are computed by :mod:`ccgmerge.metrics`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import numpy as np
import pandas as pd

from ccgmerge.instance import Instance
from ccgmerge.metrics import area_overlaps, plan_metrics
from ccgmerge.output import atomic_write, csv_safe
from ccgmerge.rules import Violation
from ccgmerge.scenario import Scenario

__all__ = ["Status", "Verdict", "Infeasibility", "Plan"]


class Status(str, Enum):
    """Outcome of a solve, in ccgmerge's own terms."""

    OPTIMAL = "optimal"  #: proven optimal (gap within tolerance) and checked
    FEASIBLE = "feasible"  #: a checked plan with a gap > 0 (time limit or gap tolerance)
    INFEASIBLE = "infeasible"  #: proven that no plan meets the rules (see ``infeasibility``)
    NO_SOLUTION = "no_solution"  #: no plan found within the limits (nothing proven)


@dataclass(frozen=True)
class Verdict:
    """The solver-free checker's verdict on a plan."""

    ok: bool
    violations: tuple[Violation, ...] = ()
    rules_checked: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.ok:
            return f"checked: OK ({', '.join(self.rules_checked)})"
        return "checked: FAILED\n" + "\n".join(f"  {v}" for v in self.violations)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "rules_checked": list(self.rules_checked),
            "violations": [{"rule": v.rule, "units": list(v.units), "message": v.message} for v in self.violations],
        }


@dataclass(frozen=True)
class Infeasibility:
    """Why no plan exists: a proof found before (or by) solving.

    ``units`` and ``areas`` name the blockers; ``suggestion`` says which
    relaxation would help.
    """

    reason: str
    units: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    details: tuple[dict, ...] = ()
    suggestion: str = ""
    proven_by: str = "preprocessing"

    def __str__(self) -> str:
        s = self.reason
        if self.suggestion:
            s += f" Suggestion: {self.suggestion}"
        return s

    def to_dict(self) -> dict:
        return {
            "reason": self.reason,
            "units": list(self.units),
            "areas": list(self.areas),
            "details": [dict(d) for d in self.details],
            "suggestion": self.suggestion,
            "proven_by": self.proven_by,
        }


@dataclass(frozen=True)
class Plan:
    """A merger plan and everything known about it.

    Attributes
    ----------
    status : Status
    groups : tuple of tuples of unit positions, or None when there is no plan
    objective, bound, gap : the objective value, the proven bound (a lower bound:
        every objective is minimised) and the relative gap
    verdict : the solver-free checker's verdict (always present with a plan)
    infeasibility : the explanation when ``status`` is INFEASIBLE
    solver : solver name and version; ``formulation``: which model proved it
    wall_time : seconds, from preprocessing to the checked plan
    """

    instance: Instance = field(repr=False)
    scenario: Scenario
    status: Status
    groups: tuple[tuple[int, ...], ...] | None
    objective: float | None = None
    bound: float | None = None
    verdict: Verdict | None = None
    infeasibility: Infeasibility | None = None
    solver: str = ""
    formulation: str = ""
    wall_time: float = 0.0
    subproblems: tuple[dict, ...] = ()
    log: tuple[str, ...] = ()

    @property
    def gap(self) -> float | None:
        """Relative gap |objective - bound| / max(1, |objective|); 0 when optimal."""
        if self.objective is None or self.bound is None:
            return None
        return abs(self.objective - self.bound) / max(1.0, abs(self.objective))

    @property
    def ok(self) -> bool:
        """A plan exists and the checker accepted it."""
        return self.groups is not None and self.verdict is not None and self.verdict.ok

    # --------------------------------------------------------------- tables
    def require_groups(self) -> None:
        """Raise ValueError unless the plan has groups (a plan was found)."""
        if self.groups is None:
            raise ValueError(f"no plan: status {self.status.value}" + (f" ({self.infeasibility})" if self.infeasibility else ""))

    def group_ids(self) -> list[str]:
        """A readable id per group: its largest member's code (ties: smallest code)."""
        self.require_groups()
        pop, codes = self.instance.population, self.instance.unit_codes
        return [codes[max(g, key=lambda i: (pop[i], -i))] for g in self.groups]

    @property
    def assignment(self) -> pd.Series:
        """Unit code -> group id."""
        self.require_groups()
        out = {}
        for gid, g in zip(self.group_ids(), self.groups):
            for i in g:
                out[self.instance.unit_codes[i]] = gid
        s = pd.Series(out, name="group").sort_index()
        s.index.name = "unit"
        return s

    @property
    def metrics(self) -> dict:
        """Solver-free metrics plus objective, bound, gap, time and solver."""
        m = plan_metrics(self.instance, self.groups, self.scenario) if self.groups is not None else {}
        m.update(
            status=self.status.value,
            objective=self.objective,
            bound=self.bound,
            gap=self.gap,
            wall_time=round(self.wall_time, 4),
            solver=self.solver,
            formulation=self.formulation,
            checked=None if self.verdict is None else self.verdict.ok,
            floor=self.scenario.floor_population,
        )
        return m

    @property
    def groups_table(self) -> pd.DataFrame:
        """One row per group: id, members, population, allowance, cost, margin,
        main HWB and both coterminosity shares, flags."""
        self.require_groups()
        inst, sc = self.instance, self.scenario
        ov = area_overlaps(inst, self.groups)
        best = ov.sort_values(["group", "population", "area"], ascending=[True, False, True]).drop_duplicates("group").set_index("group")
        apop = inst.areas["population"]
        anames = inst.areas["name"]
        rows = []
        for k, (gid, g) in enumerate(zip(self.group_ids(), self.groups)):
            p = inst.group_population(g)
            area = best.loc[k, "area"]
            in_area = int(best.loc[k, "population"])
            sg, sa = in_area / max(p, 1), in_area / max(int(apop[area]), 1)
            rows.append(
                {
                    "group": gid,
                    "n_units": len(g),
                    "members": ";".join(inst.unit_codes[i] for i in g),
                    "population": p,
                    "allowance": sc.allowance(p),
                    "cost": sc.cost(p),
                    "margin": sc.allowance(p) - sc.cost(p),
                    "main_area": area,
                    "main_area_name": anames[area],
                    "share_in_main_area": round(sg, 6),
                    "share_of_main_area": round(sa, 6),
                    "coterminous": bool(sg >= sc.coterminous_threshold and sa >= sc.coterminous_threshold),
                    "viable": p >= sc.floor_population,
                    "merged": len(g) > 1,
                }
            )
        return pd.DataFrame(rows).sort_values("group").reset_index(drop=True)

    # --------------------------------------------------------------- export
    def to_dict(self) -> dict:
        """JSON-safe summary: scenario, status, metrics, verdict, infeasibility,
        subproblems, instance fingerprint, and the assignment."""
        d = {
            "instance": {"name": self.instance.name, "fingerprint": self.instance.fingerprint,
                         "n_units": self.instance.n_units, "population": self.instance.total_population},
            "scenario": self.scenario.to_dict(),
            "status": self.status.value,
            "metrics": _jsonable(self.metrics),
            "verdict": None if self.verdict is None else self.verdict.to_dict(),
            "infeasibility": None if self.infeasibility is None else self.infeasibility.to_dict(),
            "subproblems": [_jsonable(s) for s in self.subproblems],
        }
        if self.groups is not None:
            d["assignment"] = self.assignment.to_dict()
        return d

    def to_json(self, path: str | Path | None = None) -> str:
        """The JSON summary (:meth:`to_dict`); written to ``path`` atomically when given
        (a temporary file, synced, then renamed: a full disk never leaves it cut short)."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True)
        if path is not None:
            atomic_write(path, text)
        return text

    def to_csv(self, path: str | Path) -> None:
        """Write a row per unit: unit, group (atomically, like :meth:`to_json`).

        Text cells that a spreadsheet would run as a formula (starting with
        ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, and not a plain
        number) are written with a leading ``'`` (:func:`ccgmerge.output.csv_safe`).
        """
        atomic_write(path, csv_safe(self.assignment.reset_index()).to_csv(index=False))

    def groups_to_csv(self, path: str | Path) -> None:
        """Write :attr:`groups_table` (one row per group) atomically.

        As in :meth:`to_csv`, text cells (group ids, members, HWB codes and
        names) that a spreadsheet would run as a formula get a leading ``'``;
        numbers (a negative ``margin``) are written as they are.
        """
        atomic_write(path, csv_safe(self.groups_table).to_csv(index=False))

    def __str__(self) -> str:
        lines = [f"Plan for {self.instance.name}: {self.scenario.describe()}", f"status: {self.status.value}"]
        if self.infeasibility is not None:
            lines.append(f"why: {self.infeasibility}")
        if self.groups is not None:
            m = self.metrics
            lines.append(
                f"groups: {m['groups']} (merges {m['merges']}); population moved {m['moved']:,}; "
                f"non-coterminous {m['noncoterminous']:,}; HWBs split {m['split_areas']}; "
                f"coterminous groups {m['coterminous_groups']}"
            )
            g = "n/a" if self.gap is None else f"{self.gap:.2%}"
            lines.append(f"objective {self.objective}, bound {self.bound}, gap {g}; {self.wall_time:.2f} s with {self.solver} ({self.formulation})")
            lines.append(str(self.verdict))
        return "\n".join(lines)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(obj, Enum):
        return obj.value
    return obj
