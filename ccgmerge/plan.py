"""Results: the :class:`Plan`, its :class:`Status`, the checker's
:class:`Verdict` and an :class:`Infeasibility` explanation. The metrics every
plan reports are computed by :mod:`ccgmerge.metrics`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ccgmerge.instance import Instance
from ccgmerge.metrics import group_index, group_measures, moved_units, plan_metrics
from ccgmerge.output import atomic_write, csv_safe
from ccgmerge.rules import Violation
from ccgmerge.scenario import Scenario

__all__ = ["Status", "Verdict", "Infeasibility", "Plan", "GROUP_COLUMNS", "UNIT_COLUMNS", "baseline_names", "names_by_code"]

#: The columns of :attr:`Plan.groups_table` (``groups.csv``), in order, with their meanings.
GROUP_COLUMNS = {
    "group": "the group's id: its largest member's code (as in plan.csv)",
    "name": "name of the baseline organisation it continues ('new group' if none)",
    "continues": "code of the baseline group it continues (empty for a new group)",
    "n_units": "number of member units",
    "population": "its people",
    "allowance": "running-cost allowance, GBP",
    "cost": "management cost, GBP",
    "margin": "allowance - cost, GBP",
    "viable": "population at least the floor",
    "merged": "more than one unit",
    "coterminous": "its boundary follows HWB boundaries (hwb_fit is not 'crosses HWBs')",
    "hwb_fit": "'one whole HWB', 'whole HWBs', 'within one HWB' or 'crosses HWBs'",
    "noncoterminous": "its people outside its main HWB (sums to the noncoterminous metric)",
    "moved": "its people whose baseline group it does not continue (sums to the moved metric)",
    "main_area": "code of the HWB holding most of its people",
    "main_area_name": "that HWB's name",
    "share_in_main_area": "share of its people living in main_area",
    "share_of_main_area": "share of main_area's people living in it",
    "hwbs": "codes of the HWBs with people in it, most people first",
    "hwb_names": "their names, same order",
    "members": "member unit codes",
    "member_names": "member unit names, same order",
    "from_baseline": "baseline groups its people come from, most first: 'name (code): people'",
}

#: The columns of :attr:`Plan.units_table` (``plan.csv``), in order, with their meanings.
UNIT_COLUMNS = {
    "unit": "the unit's code",
    "group": "its group's id (group in groups.csv)",
    "unit_name": "the unit's name",
    "group_name": "its group's name (name in groups.csv)",
    "baseline": "code of its baseline group (LSOAs: the 2013 CCG; CCGs: itself)",
    "baseline_name": "that baseline group's name",
    "moved": "True when its group does not continue its baseline group (counted in moved)",
}


def names_by_code(frame: pd.DataFrame) -> dict[str, str]:
    """Code -> name from a units or areas table (keyed by its ``code`` column, else its index)."""
    if "name" not in frame.columns:
        return {}
    keys = frame["code"] if "code" in frame.columns else frame.index
    return dict(zip(map(str, keys), frame["name"].astype(str)))


@lru_cache(maxsize=1)
def _ccg2013_names() -> dict[str, str]:
    from ccgmerge.data.paths import packaged_data_dir, read_data_file

    try:
        t = read_data_file(packaged_data_dir(), "ccg2013_units.csv", dtype={"ccg_code": str})
        return dict(zip(t["ccg_code"].astype(str), t["ccg_name"].astype(str)))
    except Exception:  # noqa: BLE001 - names are a nicety; codes do
        return {}


def baseline_names(inst: Instance) -> dict[str, str]:
    """Names of ``inst``'s baseline groups, by code.

    Without a baseline (every unit its own) the units' names; otherwise the
    2013 CCG names for baseline codes that are 2013 CCG codes (the LSOA
    instances' baseline). Codes without a name are left out (callers show the code).
    """
    if inst.singleton_baseline:
        names = names_by_code(inst.units)
        return {b: names[c] for c, b in zip(inst.unit_codes, inst.baseline_codes) if c in names}
    ccg = _ccg2013_names()
    return {b: ccg[b] for b in set(inst.baseline_codes) if b in ccg}


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

    def bound_source(self) -> str:
        """Where :attr:`bound` comes from, in words.

        The bound is a lower bound on :attr:`objective`, on the same scale:
        the objective when every block's model proved its optimum, else the
        objective minus the sum of the blocks' gaps (each block's value minus
        the bound its model proved; see ``subproblems``, whose ``value`` and
        ``bound`` are each block's share of the objective and
        ``model_value``/``model_bound`` the model's own numbers).
        """
        if self.bound is None:
            if self.groups is None:
                return "none: no plan"
            return "none: a block has no proven bound (a plan from the greedy heuristic or a solver stopped early)"
        if self.status is Status.OPTIMAL:
            return "proven optimal: every block's model proved its optimum, so the bound is the objective"
        return "the objective minus the blocks' gaps (each block's value minus the bound its model proved)"

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
        """Solver-free metrics plus objective, bound (and ``bound_source``:
        where it comes from, :meth:`bound_source`), gap, time and solver.
        ``objective`` and ``bound`` are on the same scale."""
        m = plan_metrics(self.instance, self.groups, self.scenario) if self.groups is not None else {}
        m.update(
            status=self.status.value,
            objective=self.objective,
            bound=self.bound,
            bound_source=self.bound_source(),
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
        """One row per group, named after the baseline organisation it continues (``groups.csv``).

        Rows are sorted by ``group``. Columns, in order (also :data:`GROUP_COLUMNS`):

        ======================  ==========================================================================
        column                  meaning
        ======================  ==========================================================================
        ``group``               the group's id: its largest member's code (as in ``plan.csv``)
        ``name``                the name of the baseline organisation it continues (for the 211 CCGs:
                                its largest CCG; for LSOAs: the 2013 CCG whose people it keeps, by
                                :func:`~ccgmerge.metrics.continuations`); ``"new group"`` if none
        ``continues``           that baseline group's code (empty for a new group)
        ``n_units``             number of member units
        ``population``          its people
        ``allowance``           running-cost allowance in GBP (``Scenario.allowance``)
        ``cost``                management cost in GBP (``Scenario.cost``)
        ``margin``              ``allowance - cost`` in GBP (negative: not viable)
        ``viable``              ``population`` is at least the floor
        ``merged``              it has more than one unit
        ``coterminous``         its boundary follows HWB boundaries: ``hwb_fit`` is not
                                ``"crosses HWBs"`` (the rule: :func:`~ccgmerge.metrics.group_measures`)
        ``hwb_fit``             ``"one whole HWB"``, ``"whole HWBs"`` (a union of whole HWBs),
                                ``"within one HWB"`` or ``"crosses HWBs"``, each to within
                                ``Scenario.coterminous_threshold`` (99%) of the people
        ``noncoterminous``      its people living outside its main HWB; summed over groups, the
                                plan's ``noncoterminous`` metric (a union of whole HWBs has some)
        ``moved``               its people whose baseline group it does not continue; summed, the
                                plan's ``moved`` metric
        ``main_area``           code of the HWB holding most of its people
        ``main_area_name``      that HWB's name
        ``share_in_main_area``  share of its people living in ``main_area``
        ``share_of_main_area``  share of ``main_area``'s people living in it
        ``hwbs``                codes of every HWB with people in it, most people first, ``;``-separated
        ``hwb_names``           their names, in the same order, ``;``-separated
        ``members``             member unit codes, ``;``-separated
        ``member_names``        member unit names, in the same order, ``;``-separated
        ``from_baseline``       the baseline groups its people come from, most first:
                                ``name (code): people`` for each, ``;``-separated
        ======================  ==========================================================================

        Returns
        -------
        pandas.DataFrame

        Raises
        ------
        ValueError
            When the plan has no groups.
        """
        self.require_groups()
        inst, sc, groups = self.instance, self.scenario, self.groups
        t = group_measures(inst, groups, sc.coterminous_threshold)
        codes, pop, base = inst.unit_codes, inst.population, inst.baseline_codes
        unames = names_by_code(inst.units)
        anames = names_by_code(inst.areas)
        bnames = baseline_names(inst)
        rows = []
        for k, (gid, g) in enumerate(zip(self.group_ids(), groups)):
            r = t.iloc[k]
            p = int(r["population"])
            people: dict[str, int] = {}
            for i in sorted(g, key=lambda i: (-pop[i], i)):
                people[base[i]] = people.get(base[i], 0) + int(pop[i])
            order = sorted(people, key=lambda b: (-people[b], b))
            cont = r["continues"]
            rows.append({
                "group": gid,
                "name": bnames.get(cont, cont) if cont is not None else "new group",
                "continues": cont or "",
                "n_units": len(g),
                "population": p,
                "allowance": sc.allowance(p),
                "cost": sc.cost(p),
                "margin": sc.allowance(p) - sc.cost(p),
                "viable": p >= sc.floor_population,
                "merged": len(g) > 1,
                "coterminous": bool(r["coterminous"]),
                "hwb_fit": r["hwb_fit"],
                "noncoterminous": int(r["noncoterminous"]),
                "moved": int(r["moved"]),
                "main_area": r["main_area"],
                "main_area_name": anames.get(r["main_area"], r["main_area"]),
                "share_in_main_area": round(float(r["share_in_main_area"]), 6),
                "share_of_main_area": round(float(r["share_of_main_area"]), 6),
                "hwbs": ";".join(r["areas"]),
                "hwb_names": ";".join(anames.get(a, a) for a in r["areas"]),
                "members": ";".join(codes[i] for i in g),
                "member_names": ";".join(unames.get(codes[i], codes[i]) for i in g),
                "from_baseline": ";".join(f"{bnames.get(b, b)} ({b}): {people[b]}" for b in order),
            })
        return pd.DataFrame(rows, columns=list(GROUP_COLUMNS)).sort_values("group").reset_index(drop=True)

    @property
    def units_table(self) -> pd.DataFrame:
        """One row per unit, in ``instance.unit_codes`` order (``plan.csv``).

        Columns, in order (also :data:`UNIT_COLUMNS`):

        ==================  ==============================================================================
        column              meaning
        ==================  ==============================================================================
        ``unit``            the unit's code
        ``group``           its group's id (:meth:`group_ids`; ``group`` in ``groups.csv``)
        ``unit_name``       the unit's name (its code when the instance has no names)
        ``group_name``      its group's ``name`` in :attr:`groups_table`
        ``baseline``        code of the unit's baseline group (for LSOAs its 2013 CCG; for the 211
                            CCGs, with no other baseline, the unit itself)
        ``baseline_name``   that baseline group's name
        ``moved``           True when its group does not continue its baseline group: its people
                            count in the ``moved`` metric (:func:`~ccgmerge.metrics.moved_units`)
        ==================  ==============================================================================

        The first two columns are those ``plan.csv`` always had.

        Returns
        -------
        pandas.DataFrame

        Raises
        ------
        ValueError
            When the plan has no groups.
        """
        self.require_groups()
        inst = self.instance
        table = self.groups_table.set_index("group")
        gids = self.group_ids()
        gid = group_index(inst, self.groups)
        group = [gids[k] for k in gid]
        unames = names_by_code(inst.units)
        bnames = baseline_names(inst)
        return pd.DataFrame({
            "unit": list(inst.unit_codes),
            "group": group,
            "unit_name": [unames.get(c, c) for c in inst.unit_codes],
            "group_name": table["name"].reindex(group).to_numpy(),
            "baseline": list(inst.baseline_codes),
            "baseline_name": [bnames.get(b, b) for b in inst.baseline_codes],
            "moved": moved_units(inst, self.groups),
        }, columns=list(UNIT_COLUMNS))

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
            "subproblems": [_jsonable(_with_bound_source(s)) for s in self.subproblems],
        }
        if self.groups is not None:
            d["assignment"] = self.assignment.to_dict()
        return d

    # The two methods below are the only places a base module reaches the pictures layer: thin,
    # lazy delegations (as pandas' DataFrame.plot delegates to pandas.plotting), so that
    # ``plan.explore()`` works in a notebook; tests/test_architecture.py allows exactly these.
    def to_geodataframe(self, boundaries=None, **kw):
        """The plan as a GeoDataFrame in British National Grid: one row per group, or per unit
        with ``units=True`` (:func:`ccgmerge.plots.plan_geodataframe`; needs geopandas and the
        boundary files)."""
        from ccgmerge.plots import plan_geodataframe

        return plan_geodataframe(self, boundaries, **kw)

    def explore(self, boundaries=None, **kw):
        """An interactive folium map of the plan for a notebook, a tooltip per group
        (:func:`ccgmerge.plots.explore`; ``pip install "ccgmerge[report]"``)."""
        from ccgmerge.plots import explore

        return explore(self, boundaries, **kw)

    def to_json(self, path: str | Path | None = None) -> str:
        """The JSON summary (:meth:`to_dict`); written to ``path`` atomically when given
        (a temporary file, synced, then renamed: a full disk never leaves it cut short)."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True)
        if path is not None:
            atomic_write(path, text)
        return text

    def to_csv(self, path: str | Path) -> None:
        """Write :attr:`units_table` (a row per unit: unit, group, names, baseline,
        moved) atomically, like :meth:`to_json`.

        Text cells that a spreadsheet would run as a formula (starting with
        ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, and not a plain
        number) are written with a leading ``'`` (:func:`ccgmerge.output.csv_safe`).
        """
        atomic_write(path, csv_safe(self.units_table).to_csv(index=False))

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


def _with_bound_source(report: dict) -> dict:
    """A block's report with ``bound_source``: where its ``bound`` comes from."""
    if "bound_source" in report or "status" not in report:  # notes carry no status
        return report
    if report.get("bound") is None:
        src = "none: no bound proven for this block"
        if report.get("model_bound") is not None:
            src += f" (its {report.get('formulation')} model's bound {report['model_bound']} has no plan to measure from)"
    else:
        src = (f"the {report.get('formulation')} model's proven bound, on the objective's scale: the block's share of "
               "the objective (value) minus the model's gap (model_value - model_bound)")
    return {**report, "bound_source": src}


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
