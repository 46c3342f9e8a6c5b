"""Runs of a sweep: scenario grids, inflation years, run options and run keys.

A sweep is a list of :class:`Run` objects over ONE instance. Each run is a
:class:`~ccgmerge.scenario.Scenario` with the solver options of
:class:`RunOptions` (and, for population-growth scenarios, a population
factor). Build the list with :func:`grid` (a cartesian product over any
scenario parameters) and/or :func:`inflation_scenarios` (real-terms erosion
year by year).

A run's key (:func:`scenario_key`) is a stable hash of the scenario's
parameters (``Scenario.to_dict()``), the run options and the fingerprint of the
instance it is solved on (after any population factor); it names the run's
result file ``runs/<key>.json`` (:mod:`ccgmerge.analysis.sweep.store`). Runs
that appear twice in one sweep (the same key) are solved once. :func:`canon`
and :func:`dumps` give the canonical JSON that keys and result files use.

Examples
--------
>>> scenarios = grid(allowance_per_head=[25, 30, 35], coterminosity=["off", "aligned"])
>>> len(scenarios), scenarios[1].describe()
(6, 'floor 100,000; coterminosity aligned; objective merges')
>>> [s.floor_population for s in scenarios[::2]]
[100000, 83334, 71429]
>>> scenario_key(Scenario(allowance_per_head=30), RunOptions(), "abc") == \\
...     scenario_key(Scenario(allowance_per_head=30.0), RunOptions(time_limit=None), "abc")
True
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from enum import Enum

import numpy as np

from ccgmerge.errors import ScenarioError
from ccgmerge.scenario import Scenario

__all__ = ["RunOptions", "Run", "grid", "inflation_scenarios", "scenario_key", "run_labels"]

_FORMULATIONS = ("auto", "packing", "partition", "labelled", "compact")
_SOLVERS = ("cbc", "highs")
SCENARIO_FIELDS = tuple(f.name for f in fields(Scenario))
"""Names of the :class:`~ccgmerge.scenario.Scenario` parameters, in order."""
_RESERVED_TAGS = {"key", "status", "message", "json", "population_factor", "instance_fingerprint"}


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------
def canon(v):
    """JSON-safe, canonical form (30 and 30.0 are the same number)."""
    if isinstance(v, Enum):
        return canon(v.value)
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f) or math.isinf(f):
            return None
        return int(f) if f.is_integer() and abs(f) < 2**53 else f
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, Mapping):
        return {str(k): canon(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset, np.ndarray)):
        return [canon(x) for x in v]
    return str(v)


def dumps(obj) -> str:
    """Canonical JSON text of ``obj`` (:func:`canon`, keys sorted, indent 1)."""
    return json.dumps(canon(obj), indent=1, sort_keys=True, allow_nan=False)


def is_number(v) -> bool:
    """True for an int or float (numpy ones too); False for a bool."""
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


# ---------------------------------------------------------------------------
# run options and runs
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class RunOptions:
    """How each run of a sweep is solved (the arguments of :func:`ccgmerge.engine.solve.solve`).

    Parameters
    ----------
    solver : {"cbc", "highs"}
        Solver name (a name, not an object: results are keyed by it).
    time_limit : float, optional
        Seconds per run (shared by its subproblems); None for no limit.
    gap : float
        Relative gap at which the solver may stop (0 proves optimality).
    formulation : {"auto", "packing", "partition", "labelled", "compact"}
    threads : int
        Solver threads per run (keep 1 when running several workers).

    >>> RunOptions(solver="highs", time_limit=60).to_dict()
    {'formulation': 'auto', 'gap': 0, 'solver': 'highs', 'threads': 1, 'time_limit': 60}
    >>> RunOptions(formulation="fast")
    Traceback (most recent call last):
    ...
    ccgmerge.errors.ScenarioError: formulation='fast'; allowed: ['auto', 'packing', 'partition', 'labelled', 'compact'].
    """

    solver: str = "cbc"
    time_limit: float | None = None
    gap: float = 0.0
    formulation: str = "auto"
    threads: int = 1

    def __post_init__(self):
        if not isinstance(self.solver, str) or self.solver.lower() not in _SOLVERS:
            raise ScenarioError(f"solver={self.solver!r}; allowed: {list(_SOLVERS)}.")
        object.__setattr__(self, "solver", self.solver.lower())
        if self.time_limit is not None and (not is_number(self.time_limit) or not self.time_limit > 0):
            raise ScenarioError(f"time_limit={self.time_limit!r}: must be a positive number of seconds (or absent for no limit).")
        if not is_number(self.gap) or not 0 <= self.gap < 1:
            raise ScenarioError(f"gap={self.gap!r}: must be a number in [0, 1).")
        if self.formulation not in _FORMULATIONS:
            raise ScenarioError(f"formulation={self.formulation!r}; allowed: {list(_FORMULATIONS)}.")
        if not isinstance(self.threads, (int, np.integer)) or isinstance(self.threads, bool) or self.threads < 1:
            raise ScenarioError(f"threads={self.threads!r}: must be a positive whole number.")

    def to_dict(self) -> dict:
        """Canonical, JSON-safe dict (keys sorted)."""
        return {k: canon(v) for k, v in sorted(asdict(self).items())}

    @classmethod
    def from_dict(cls, d: Mapping) -> "RunOptions":
        """Inverse of :meth:`to_dict`; unknown keys are an error naming them."""
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise ScenarioError(f"unknown run option(s) {unknown}; allowed: {known}.")
        return cls(**dict(d))

    def solve_kwargs(self) -> dict:
        return {"solver": self.solver, "time_limit": self.time_limit, "gap": float(self.gap),
                "threads": int(self.threads), "formulation": self.formulation}


@dataclass(frozen=True)
class Run:
    """One run of a sweep: a scenario, optional per-run options, a population
    factor for the instance (1.0: as given; see :func:`inflation_scenarios`)
    and free-form ``tags`` (e.g. ``{"year": 2016}``) that become columns of
    ``results.csv`` but are not part of the run's key.
    """

    scenario: Scenario
    options: RunOptions | None = None
    population_factor: float = 1.0
    tags: Mapping = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.scenario, Scenario):
            raise ScenarioError(f"Run.scenario must be a Scenario, got {type(self.scenario).__name__}.")
        if self.options is not None and not isinstance(self.options, RunOptions):
            raise ScenarioError(f"Run.options must be RunOptions or None, got {type(self.options).__name__}.")
        pf = self.population_factor
        if not is_number(pf) or not math.isfinite(pf) or pf <= 0:
            raise ScenarioError(f"population_factor={pf!r}: must be a positive number.")
        object.__setattr__(self, "population_factor", float(pf))
        tags = dict(self.tags or {})
        bad = sorted(set(tags) & (_RESERVED_TAGS | set(SCENARIO_FIELDS)))
        if bad:
            raise ScenarioError(f"tags {bad} clash with result columns; rename them.")
        object.__setattr__(self, "tags", canon(tags))


def scenario_key(scenario: Scenario, options: RunOptions, fingerprint: str) -> str:
    """Stable key of a run: a SHA-256 (first 20 hex digits) of the canonical JSON
    of ``scenario.to_dict()``, ``options.to_dict()`` and the fingerprint of the
    instance the run is solved on."""
    payload = json.dumps(
        {"scenario": canon(scenario.to_dict()), "options": options.to_dict(), "instance": str(fingerprint)},
        sort_keys=True, separators=(",", ":"), allow_nan=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def _label_value(v) -> str:
    if isinstance(v, list):
        return ",".join(_label_value(x) for x in v)
    if isinstance(v, dict):
        return ",".join(f"{k}={_label_value(x)}" for k, x in v.items())
    v = canon(v)
    if isinstance(v, float):
        return f"{v:.10g}"
    return "none" if v is None else str(v)


def run_labels(entries: Sequence[Mapping], width: int = 100) -> dict[str, str]:
    """A readable label per run key: what tells the runs of a sweep apart.

    ``entries`` are manifest entries (``key``, ``scenario`` and ``options`` as
    canonical dicts, ``tags``, ``population_factor``). A run's label lists its
    tags, then the scenario parameters and options whose value differs between
    the runs, then its population factor when that differs, as ``name=value``
    pairs; a sweep of one run gets its scenario's short description.

    >>> from ccgmerge.scenario import Scenario
    >>> es = [{"key": k, "scenario": canon(Scenario(floor=f, coterminosity=m).to_dict()),
    ...        "options": RunOptions().to_dict(), "tags": {}, "population_factor": 1.0}
    ...       for k, (f, m) in zip("ab", [(250_000, "aligned"), (300_000, "aligned")])]
    >>> run_labels(es)
    {'a': 'floor=250000', 'b': 'floor=300000'}
    """
    entries = list(entries)
    derived = {"floor_population"}

    def varying(part: str) -> list[str]:
        names: list[str] = []
        for e in entries:
            for k in e.get(part) or {}:
                if k not in names and k not in derived:
                    names.append(k)
        return [k for k in names if len({json.dumps((e.get(part) or {}).get(k), sort_keys=True)
                                         for e in entries}) > 1]

    scen, opts = varying("scenario"), varying("options")
    factor = len({e.get("population_factor", 1.0) for e in entries}) > 1
    out = {}
    for e in entries:
        bits = [f"{k}={_label_value(v)}" for k, v in (e.get("tags") or {}).items()]
        bits += [f"{k}={_label_value(e['scenario'].get(k))}" for k in scen]
        bits += [f"{k}={_label_value(e['options'].get(k))}" for k in opts]
        if factor:
            bits.append(f"population x{float(e.get('population_factor', 1.0)):g}")
        if not bits:
            try:
                bits = [Scenario.from_dict(e["scenario"]).describe()]
            except Exception:  # a label is never worth an error
                bits = [str(e["key"])]
        text = " ".join(bits)
        out[e["key"]] = text if len(text) <= width else text[:width - 3] + "..."
    return out


def _as_axis(key: str, value) -> list:
    if isinstance(value, (list, tuple, range, np.ndarray)) and not isinstance(value, str):
        vals = [v.item() if isinstance(v, np.generic) else v for v in value]
        if not vals:
            raise ScenarioError(f"grid axis {key} is empty; give at least one value.")
        return vals
    return [value.item() if isinstance(value, np.generic) else value]


def grid(base: Scenario | None = None, /, **axes) -> list[Scenario]:
    """Scenarios for every combination of the given parameter values.

    Parameters
    ----------
    base : Scenario, optional
        Values of the parameters that are not axes (default ``Scenario()``).
    **axes
        Scenario parameter name -> list of values (a scalar is one value).
        The last axis varies fastest. For a lexicographic objective wrap the
        tuple in a list: ``objective=[("merges", "moved")]``.

    Raises
    ------
    ScenarioError
        Naming the axis (and the allowed names) for an unknown parameter or
        a bad value; every combination is constructed, so cross-parameter
        errors (a ceiling below the floor) are raised here, not mid-sweep.

    >>> [s.floor_population for s in grid(allowance_per_head=[25, 50])]
    [100000, 50000]
    >>> grid(allowance=[25])
    Traceback (most recent call last):
    ...
    ccgmerge.errors.ScenarioError: unknown scenario parameter 'allowance'; allowed: allowance_per_head, quality_premium_per_head, fixed_cost, cost_per_head, floor, ceiling, max_units, contiguity, coterminosity, penalty_weight, objective, alone, together, apart, coterminous_threshold, limits.
    """
    base = base if base is not None else Scenario()
    if not isinstance(base, Scenario):
        raise ScenarioError(f"grid: base must be a Scenario, got {type(base).__name__}.")
    names = list(axes)
    for k in names:
        if k not in SCENARIO_FIELDS:
            raise ScenarioError(f"unknown scenario parameter {k!r}; allowed: {', '.join(SCENARIO_FIELDS)}.")
    values = [_as_axis(k, axes[k]) for k in names]
    out = []
    for combo in itertools.product(*values):
        changes = dict(zip(names, combo))
        try:
            out.append(base.replace(**changes))
        except ScenarioError as exc:
            # blame one axis when its value is wrong on its own (Scenario's
            # messages for a single parameter start with "name=")
            for k, v in changes.items():
                try:
                    base.replace(**{k: v})
                except ScenarioError as single:
                    if str(single).startswith(f"{k}="):
                        raise ScenarioError(f"grid axis {k}: {single}") from None
            raise ScenarioError(f"grid combination {changes}: {exc}") from None
    return out


def inflation_scenarios(
    base: Scenario,
    rates: Sequence[float],
    start_year: int,
    population_growth: Sequence[float] | None = None,
    *,
    options: RunOptions | None = None,
) -> list[Run]:
    """Real-terms erosion of a nominal allowance, year by year.

    The allowance per head (and the quality premium and ``cost_per_head``)
    stay at their nominal values while the fixed management cost grows with
    cumulative inflation, so the population floor rises year on year.

    For ``n = len(rates)`` the result has ``n + 1`` runs, for the years
    ``start_year, start_year + 1, ..., start_year + n``. Year
    ``start_year + k`` has the price index ``I_k = (1 + rates[0]) * ... *
    (1 + rates[k-1])`` (``I_0 = 1``: ``rates[i]`` is the inflation from year
    ``start_year + i`` to the next) and the scenario
    ``base.replace(fixed_cost=round(base.fixed_cost * I_k, 2))``, whose floor is
    ``ceil(fixed_cost_k / (allowance + premium - cost_per_head))``.

    ``population_growth``, if given, must have the same length as ``rates``:
    ``population_growth[i]`` is the relative growth of every unit's
    population from year ``start_year + i`` to the next. Year ``start_year +
    k`` is then solved on ``instance.with_populations(P_k)`` with ``P_k = (1 +
    g[0]) * ... * (1 + g[k-1])``: every unit (and its people in each area)
    scaled by the same factor and rounded to whole people. The factor is the
    run's ``population_factor`` (a column of the results), not part of the
    scenario.

    ccgmerge ships no inflation or population figures: supply your own.

    Returns
    -------
    list of Run
        With tags ``year`` and ``price_index``.

    Raises
    ------
    ScenarioError
        If ``base`` fixes ``floor`` directly (inflation would not move it), a
        rate is not a number above -1, or the lengths differ.

    Examples
    --------
    The rates below are made up for illustration only; they are not
    official or historical figures.

    >>> runs = inflation_scenarios(Scenario(allowance_per_head=25), rates=[0.02, 0.03], start_year=2013)
    >>> [(r.tags["year"], r.scenario.fixed_cost, r.scenario.floor_population) for r in runs]
    [(2013, 2500000.0, 100000), (2014, 2550000.0, 102000), (2015, 2626500.0, 105060)]
    >>> grown = inflation_scenarios(Scenario(), [0.02], 2013, population_growth=[0.01])
    >>> [r.population_factor for r in grown]
    [1.0, 1.01]
    """
    if not isinstance(base, Scenario):
        raise ScenarioError(f"inflation_scenarios: base must be a Scenario, got {type(base).__name__}.")
    if base.floor is not None:
        raise ScenarioError(
            f"inflation: the base scenario gives floor={base.floor!r} directly, which inflation cannot move; "
            "give allowance_per_head / fixed_cost instead."
        )
    if isinstance(start_year, bool) or not isinstance(start_year, (int, np.integer)):
        raise ScenarioError(f"inflation start_year={start_year!r}: must be a whole year, e.g. 2013.")
    if isinstance(rates, (str, bytes)) or not isinstance(rates, Iterable):
        raise ScenarioError(f"inflation rates={rates!r}: must be a list of annual rates, e.g. [0.02, 0.03].")
    rates = list(rates)
    for i, r in enumerate(rates):
        if not is_number(r) or not math.isfinite(r) or r <= -1:
            raise ScenarioError(f"inflation rates[{i}]={r!r}: must be a number above -1 (0.02 means 2%).")
    growth = None
    if population_growth is not None:
        if isinstance(population_growth, (str, bytes)) or not isinstance(population_growth, Iterable):
            raise ScenarioError(f"inflation population_growth={population_growth!r}: must be a list of annual rates.")
        growth = list(population_growth)
        if len(growth) != len(rates):
            raise ScenarioError(
                f"inflation population_growth has {len(growth)} values but rates has {len(rates)}; give one per year step."
            )
        for i, g in enumerate(growth):
            if not is_number(g) or not math.isfinite(g) or g <= -1:
                raise ScenarioError(f"inflation population_growth[{i}]={g!r}: must be a number above -1.")
    runs = []
    index, factor = 1.0, 1.0
    for k in range(len(rates) + 1):
        if k:
            index *= 1.0 + float(rates[k - 1])
            if growth is not None:
                factor *= 1.0 + float(growth[k - 1])
        sc = base.replace(fixed_cost=round(base.fixed_cost * index, 2))
        runs.append(Run(sc, options=options, population_factor=round(factor, 12),
                        tags={"year": int(start_year) + k, "price_index": round(index, 12)}))
    return runs
