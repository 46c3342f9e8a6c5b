"""Scenario sweeps: many scenarios over one instance, in parallel, resumable.

A *sweep* is a list of runs over ONE instance. Each run is a
:class:`~ccgmerge.scenario.Scenario` with the solver options of
:class:`RunOptions` (and, for population-growth scenarios, a population
factor). Build the list with :func:`grid` (a cartesian product over any
scenario parameters) and/or :func:`inflation_scenarios` (real-terms erosion
year by year), then run it with :func:`run_sweep`, or describe the whole sweep
in a TOML file and call :func:`sweep_from_config` (the ``ccgmerge sweep``
command).

Output folder (plain CSV and JSON only; nothing is ever pickled)::

    out_dir/
      instance/      the instance's tables (ccgmerge.data.to_csv) + instance.json,
                     written once; process workers load it once per process
      runs/<key>.json one result per distinct run, written atomically as soon as
                     it finishes (temporary file in runs/, then os.replace)
      sweep.json     the manifest: every run of the latest sweep, in order, with
                     its key, tags (e.g. year), scenario and options
      results.csv    one tidy row per run (written at the end of the sweep)

``<key>`` (:func:`scenario_key`) is a stable hash of the scenario's
parameters (``Scenario.to_dict()``), the run options and the fingerprint of the
instance it is solved on (after any population factor). Running a sweep again
into the same folder *resumes* it: runs whose JSON exists are skipped, nothing
finished is recomputed or lost. Runs that appear twice in one sweep (the same
key) are solved once.

Statuses in the results: the plan's own status (``optimal``, ``feasible``,
``infeasible``, ``no_solution``), or ``error`` when the run raised (the
exception is recorded in ``message`` and ``traceback``; the other runs go on).
A run stopped by its ``time_limit`` is not an exception: it keeps the plan's
honest status (``feasible`` with its gap, or ``no_solution``) and a
``message`` saying that the time limit was reached. A run whose worker died
(for example a killed process) is reported as ``error`` in the returned table
but is *not* written to ``runs/``, so the next run of the sweep computes it.

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

import concurrent.futures as cf
import datetime as _dt
import hashlib
import itertools
import json
import math
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import tomllib
import traceback
import warnings
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from pathlib import Path

import numpy as np
import pandas as pd

from ccgmerge import data as _data
from ccgmerge.errors import CCGMergeError, ScenarioError
from ccgmerge.instance import Instance
from ccgmerge.plan import Status
from ccgmerge.scenario import Coterminosity, Objective, Scenario

__all__ = [
    "RunOptions",
    "Run",
    "SweepConfig",
    "SweepResult",
    "grid",
    "inflation_scenarios",
    "scenario_key",
    "run_sweep",
    "load_results",
    "load_plan",
    "read_config",
    "sweep_from_config",
    "viability_allowance",
    "allowance_curve",
    "pareto_frontier",
]

RECORD_FORMAT = "ccgmerge-sweep-run/1"
MANIFEST_FORMAT = "ccgmerge-sweep/1"
_TMP_PREFIX = ".tmp-"
_FORMULATIONS = ("auto", "packing", "partition", "labelled", "compact")
_SOLVERS = ("cbc", "highs")
_SCENARIO_FIELDS = tuple(f.name for f in fields(Scenario))
_RESERVED_TAGS = {"key", "status", "message", "json", "population_factor", "instance_fingerprint"}


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------
def _canon(v):
    """JSON-safe, canonical form (30 and 30.0 are the same number)."""
    if isinstance(v, Enum):
        return _canon(v.value)
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
        return {str(k): _canon(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset, np.ndarray)):
        return [_canon(x) for x in v]
    return str(v)


def _dumps(obj) -> str:
    return json.dumps(_canon(obj), indent=1, sort_keys=True, allow_nan=False)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a temporary file in the same
    folder, flushed and synced, then ``os.replace``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TMP_PREFIX, suffix=path.suffix + ".part")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


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
        if self.time_limit is not None and (not _is_number(self.time_limit) or not self.time_limit > 0):
            raise ScenarioError(f"time_limit={self.time_limit!r}: must be a positive number of seconds (or absent for no limit).")
        if not _is_number(self.gap) or not 0 <= self.gap < 1:
            raise ScenarioError(f"gap={self.gap!r}: must be a number in [0, 1).")
        if self.formulation not in _FORMULATIONS:
            raise ScenarioError(f"formulation={self.formulation!r}; allowed: {list(_FORMULATIONS)}.")
        if not isinstance(self.threads, (int, np.integer)) or isinstance(self.threads, bool) or self.threads < 1:
            raise ScenarioError(f"threads={self.threads!r}: must be a positive whole number.")

    def to_dict(self) -> dict:
        """Canonical, JSON-safe dict (keys sorted)."""
        return {k: _canon(v) for k, v in sorted(asdict(self).items())}

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
        if not _is_number(pf) or not math.isfinite(pf) or pf <= 0:
            raise ScenarioError(f"population_factor={pf!r}: must be a positive number.")
        object.__setattr__(self, "population_factor", float(pf))
        tags = dict(self.tags or {})
        bad = sorted(set(tags) & (_RESERVED_TAGS | set(_SCENARIO_FIELDS)))
        if bad:
            raise ScenarioError(f"tags {bad} clash with result columns; rename them.")
        object.__setattr__(self, "tags", _canon(tags))


def scenario_key(scenario: Scenario, options: RunOptions, fingerprint: str) -> str:
    """Stable key of a run: a SHA-256 (first 20 hex digits) of the canonical JSON
    of ``scenario.to_dict()``, ``options.to_dict()`` and the fingerprint of the
    instance the run is solved on."""
    payload = json.dumps(
        {"scenario": _canon(scenario.to_dict()), "options": options.to_dict(), "instance": str(fingerprint)},
        sort_keys=True, separators=(",", ":"), allow_nan=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


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
        if k not in _SCENARIO_FIELDS:
            raise ScenarioError(f"unknown scenario parameter {k!r}; allowed: {', '.join(_SCENARIO_FIELDS)}.")
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
        if not _is_number(r) or not math.isfinite(r) or r <= -1:
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
            if not _is_number(g) or not math.isfinite(g) or g <= -1:
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


def _as_runs(scenarios) -> list[Run]:
    out = []
    for i, s in enumerate(scenarios):
        if isinstance(s, Run):
            out.append(s)
        elif isinstance(s, Scenario):
            out.append(Run(s))
        elif isinstance(s, tuple) and len(s) == 2 and isinstance(s[0], Scenario):
            out.append(Run(s[0], options=s[1]))
        else:
            raise ScenarioError(f"scenarios[{i}] is a {type(s).__name__}; expected a Scenario, a Run or (Scenario, RunOptions).")
    return out


# ---------------------------------------------------------------------------
# worker side
# ---------------------------------------------------------------------------
_CACHE_SIZE = 16
_INSTANCES: "OrderedDict[str, Instance]" = OrderedDict()  # per process: fingerprint -> Instance
_LOCK = threading.Lock()


def _cache_get(key: str):
    with _LOCK:
        inst = _INSTANCES.get(key)
        if inst is not None:
            _INSTANCES.move_to_end(key)
        return inst


def _cache_put(key: str, inst: Instance) -> None:
    with _LOCK:
        _INSTANCES[key] = inst
        _INSTANCES.move_to_end(key)
        while len(_INSTANCES) > _CACHE_SIZE:
            _INSTANCES.popitem(last=False)


def _worker_instance(source, factor: float, expected: str) -> Instance:
    """The instance of a run, loaded (from CSV) or derived at most once per process."""
    if isinstance(source, Instance):
        base = source
        if _cache_get(base.fingerprint) is None:
            _cache_put(base.fingerprint, base)
    else:
        _, folder, fp, name = source
        base = _cache_get(fp)
        if base is None:
            base = _data.from_folder(folder, name=name, warn=False)
            if base.fingerprint != fp:
                raise CCGMergeError(f"instance in {folder} has fingerprint {base.fingerprint}, expected {fp}; "
                                    "the output folder was changed during the sweep.")
            _cache_put(fp, base)
    if factor == 1.0:
        inst = base
    else:
        ckey = f"{base.fingerprint}*{factor!r}"
        inst = _cache_get(ckey)
        if inst is None:
            inst = base.with_populations(factor, name=f"{base.name} (population x{factor:g})")
            _cache_put(ckey, inst)
    if inst.fingerprint != expected:
        raise CCGMergeError(f"instance fingerprint {inst.fingerprint} differs from the planned {expected}.")
    return inst


def _execute(task: dict, source) -> dict:
    """Solve one run and return its JSON-safe record (never raises)."""
    import ccgmerge
    from ccgmerge.engine.solve import solve

    rec = {
        "format": RECORD_FORMAT,
        "key": task["key"],
        "scenario": task["scenario"],
        "options": task["options"],
        "instance": {"fingerprint": task["fingerprint"], "base_fingerprint": task["base_fingerprint"],
                     "population_factor": task["population_factor"]},
        "ccgmerge_version": getattr(ccgmerge, "__version__", "unknown"),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started_at": _now(),
        "message": None,
    }
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            inst = _worker_instance(source, float(task["population_factor"]), task["fingerprint"])
            scenario = Scenario.from_dict(task["scenario"])
            options = RunOptions.from_dict(task["options"])
            t1 = time.perf_counter()
            plan = solve(inst, scenario, **options.solve_kwargs())
            wall = time.perf_counter() - t1
        d = plan.to_dict()
        d["instance"] = {**d["instance"], **rec["instance"]}
        d["scenario"] = task["scenario"]
        rec.update(d)
        rec.update(status=plan.status.value, solver=plan.solver, formulation=plan.formulation, gap=plan.gap,
                   wall_time=wall, solve_time=plan.wall_time)
        rec.setdefault("assignment", None)
        tl = options.time_limit
        if tl is not None and plan.status.value in ("feasible", "no_solution"):
            rec["message"] = (f"time limit of {tl:g} s reached" +
                              (" before any plan was found" if plan.groups is None else f"; gap {plan.gap}"))
        elif plan.infeasibility is not None:
            rec["message"] = str(plan.infeasibility)
    except Exception as exc:  # recorded, never stops the sweep
        rec.update(status="error", message=f"{type(exc).__name__}: {exc}", error_type=type(exc).__name__,
                   traceback="".join(traceback.format_exception(exc))[-4000:], assignment=None,
                   solver=task["options"].get("solver"), gap=None, wall_time=time.perf_counter() - t0, metrics={})
    rec["finished_at"] = _now()
    return _canon(rec)


# ---------------------------------------------------------------------------
# parent side: progress
# ---------------------------------------------------------------------------
class _Progress:
    """A tqdm bar (stderr is a terminal), plain log lines, a callback, or nothing."""

    def __init__(self, progress, total: int, skipped: int, stream=None):
        self.stream = stream or sys.stderr
        self.total, self.done = total, skipped
        self.callback = progress if callable(progress) and not isinstance(progress, bool) else None
        mode = progress
        if self.callback is not None:
            mode = "callback"
        elif progress is None or progress == "auto":
            isatty = getattr(self.stream, "isatty", lambda: False)
            mode = "bar" if isatty() else "log"
        elif progress is True:
            mode = "bar"
        elif progress is False or progress in ("off", "none", "quiet"):
            mode = "off"
        elif progress not in ("bar", "log"):
            raise ScenarioError(f"progress={progress!r}; allowed: None (auto), True, False, 'bar', 'log', 'off', or a callable.")
        self.bar = None
        if mode == "bar":
            try:
                from tqdm.auto import tqdm
            except ImportError:
                mode = "log"
            else:
                self.bar = tqdm(total=total, initial=skipped, file=self.stream, unit="run", desc="sweep", dynamic_ncols=True)
        self.mode = mode
        self.counts: Counter = Counter()

    def log(self, text: str) -> None:
        if self.mode == "log":
            print(f"sweep: {text}", file=self.stream, flush=True)
        elif self.mode == "bar" and self.bar is not None:
            self.bar.write(f"sweep: {text}", file=self.stream)

    def update(self, rec: dict) -> None:
        self.done += 1
        status = rec.get("status", "?")
        self.counts[status] += 1
        if self.mode == "bar":
            self.bar.update(1)
            self.bar.set_postfix(dict(sorted(self.counts.items())), refresh=False)
        elif self.mode == "log":
            m = rec.get("metrics") or {}
            what = f"{m['groups']} groups" if m.get("groups") is not None else (rec.get("message") or "")
            wall = rec.get("wall_time")
            wall = f" ({wall:.2f} s)" if isinstance(wall, (int, float)) else ""
            print(f"sweep: [{self.done}/{self.total}] {rec.get('key')} {status}: {what[:160]}{wall}", file=self.stream, flush=True)
        elif self.mode == "callback":
            self.callback(rec)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# ---------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------
@dataclass
class SweepResult:
    """What :func:`run_sweep` / :func:`sweep_from_config` did.

    ``table`` is the results table (one row per run, as in ``results.csv``);
    ``computed`` counts the runs solved now and ``skipped`` those whose result
    file already existed (resume). ``exit_code`` is 0 when no run ended in
    ``error``, else 1.
    """

    out_dir: Path
    table: pd.DataFrame = field(repr=False)
    n_runs: int = 0
    n_unique: int = 0
    computed: int = 0
    skipped: int = 0
    lost: dict = field(default_factory=dict)
    wall_time: float = 0.0

    @property
    def results_csv(self) -> Path:
        return Path(self.out_dir) / "results.csv"

    @property
    def status_counts(self) -> dict:
        """Runs per status (rows of the table)."""
        if self.table.empty:
            return {}
        return {str(k): int(v) for k, v in self.table["status"].value_counts().sort_index().items()}

    @property
    def errors(self) -> list[tuple[str, str]]:
        """(key, message) of every run that ended in ``error``."""
        if self.table.empty:
            return []
        bad = self.table[self.table["status"] == "error"].drop_duplicates("key")
        return [(str(k), str(m)) for k, m in zip(bad["key"], bad["message"])]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_dict(self) -> dict:
        return {"out_dir": str(self.out_dir), "results_csv": str(self.results_csv), "n_runs": self.n_runs,
                "n_unique": self.n_unique, "computed": self.computed, "skipped": self.skipped,
                "status_counts": self.status_counts, "errors": [list(e) for e in self.errors],
                "wall_time": round(self.wall_time, 3), "exit_code": self.exit_code}

    def summary(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.status_counts.items()) or "none"
        lines = [f"sweep: {self.n_runs} runs ({self.n_unique} distinct): {self.computed} solved now, "
                 f"{self.skipped} already done; {self.wall_time:.1f} s",
                 f"statuses: {counts}",
                 f"results: {self.results_csv}"]
        for k, m in self.errors[:10]:
            lines.append(f"error {k}: {m[:300]}")
        if len(self.errors) > 10:
            lines.append(f"... and {len(self.errors) - 10} more errors")
        return "\n".join(lines)


_METRIC_COLUMNS = ["groups", "merges", "moved", "noncoterminous", "split_areas", "coterminous_groups",
                   "min_group_population", "max_group_population"]


def _flat(v):
    if isinstance(v, (list, dict)):
        return json.dumps(v, sort_keys=True)
    return v


def _row(run: dict, rec: dict | None) -> dict:
    """One tidy results row from a manifest entry and its record (or None: pending)."""
    row = {"key": run["key"]}
    row.update(run.get("tags") or {})
    scen = run.get("scenario") or {}
    for k in [*_SCENARIO_FIELDS, "floor_population", *sorted(scen)]:
        if k in scen and k not in row:
            row[k] = _flat(scen[k])
    for k, v in (run.get("options") or {}).items():
        row[f"opt_{k}"] = v
    row["instance_fingerprint"] = run.get("fingerprint")
    row["population_factor"] = run.get("population_factor", 1.0)
    if rec is None:
        row.update(status="pending", message=None)
        return row
    m = rec.get("metrics") or {}
    row["status"] = rec.get("status")
    row["message"] = rec.get("message")
    for c in _METRIC_COLUMNS:
        row[c] = m.get(c)
    row["objective_value"] = m.get("objective")
    row["bound"] = m.get("bound")
    row["gap"] = rec.get("gap")
    row["wall_time"] = rec.get("wall_time")
    row["solve_time"] = rec.get("solve_time")
    row["solver"] = rec.get("solver")
    row["formulation"] = rec.get("formulation")
    row["checked"] = m.get("checked")
    row["json"] = f"runs/{run['key']}.json"
    return row


def _read_records(out: Path) -> dict[str, dict]:
    recs = {}
    runs_dir = out / "runs"
    if runs_dir.is_dir():
        for p in sorted(runs_dir.glob("*.json")):
            if p.name.startswith(_TMP_PREFIX):
                continue
            try:
                recs[p.stem] = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # unreadable: treated as missing (recomputed on resume)
    return recs


def load_results(out_dir) -> tuple[pd.DataFrame, dict[str, dict]]:
    """Read a sweep's results from its folder.

    Returns
    -------
    (DataFrame, dict)
        The tidy table (one row per run of the latest sweep, in order, as in
        ``results.csv``; runs without a result file yet have status
        ``pending``), and every result record in ``runs/`` by key (each a
        superset of :meth:`ccgmerge.plan.Plan.to_dict`, with the assignment
        unit -> group when there is a plan). Without a manifest, one row per
        result file.
    """
    out = Path(out_dir)
    recs = _read_records(out)
    man = out / "sweep.json"
    if man.is_file():
        runs = json.loads(man.read_text(encoding="utf-8"))["runs"]
    else:
        runs = [{"key": k, "tags": {}, "scenario": r.get("scenario"), "options": r.get("options"),
                 "fingerprint": (r.get("instance") or {}).get("fingerprint"),
                 "population_factor": (r.get("instance") or {}).get("population_factor", 1.0)} for k, r in recs.items()]
    df = pd.DataFrame([_row(r, recs.get(r["key"])) for r in runs])
    return df, recs


def load_plan(out_dir, key: str, instance: Instance | None = None):
    """Rebuild the :class:`~ccgmerge.plan.Plan` of one run from its JSON record
    (groups from the assignment; the verdict is re-checked now, solver-free).

    ``instance`` defaults to the one saved in ``out_dir/instance`` (with the
    run's population factor applied)."""
    from ccgmerge.check import check_plan
    from ccgmerge.plan import Infeasibility, Plan, Status, groups_from_assignment

    out = Path(out_dir)
    rec = json.loads((out / "runs" / f"{key}.json").read_text(encoding="utf-8"))
    if rec.get("status") == "error":
        raise CCGMergeError(f"run {key} ended in error: {rec.get('message')}")
    info = rec.get("instance") or {}
    if instance is None:
        meta = json.loads((out / "instance" / "instance.json").read_text(encoding="utf-8"))
        instance = _data.from_folder(out / "instance", name=meta.get("name"), warn=False)
        factor = float(info.get("population_factor", 1.0))
        if factor != 1.0:
            instance = instance.with_populations(factor)
    if info.get("fingerprint") and instance.fingerprint != info["fingerprint"]:
        raise CCGMergeError(f"instance fingerprint {instance.fingerprint} differs from the run's {info['fingerprint']}.")
    scenario = Scenario.from_dict(rec["scenario"])
    m = rec.get("metrics") or {}
    groups = verdict = None
    if rec.get("assignment"):
        groups = tuple(tuple(g) for g in groups_from_assignment(instance, rec["assignment"]))
        verdict = check_plan(instance, [list(g) for g in groups], scenario)
    inf = rec.get("infeasibility")
    infeas = None
    if inf:
        infeas = Infeasibility(inf["reason"], units=tuple(inf.get("units", ())), areas=tuple(inf.get("areas", ())),
                               details=tuple(inf.get("details", ())), suggestion=inf.get("suggestion", ""),
                               proven_by=inf.get("proven_by", "preprocessing"))
    return Plan(instance, scenario, Status(rec["status"]), groups, objective=m.get("objective"), bound=m.get("bound"),
                verdict=verdict, infeasibility=infeas, solver=rec.get("solver") or "", formulation=rec.get("formulation") or "",
                wall_time=float(rec.get("solve_time") or 0.0), subproblems=tuple(rec.get("subproblems") or ()))


# ---------------------------------------------------------------------------
# run_sweep
# ---------------------------------------------------------------------------
def _is_dask_client(executor) -> bool:
    mod = type(executor).__module__ or ""
    if not mod.startswith("distributed"):
        return False
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover
        return False
    return isinstance(executor, Client)


def _clean_tmp(out: Path) -> None:
    """Remove temporary files/folders left by an interrupted sweep."""
    for folder in (out, out / "runs"):
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if p.name.startswith(_TMP_PREFIX):
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    try:
                        p.unlink()
                    except OSError:
                        pass


def _write_instance(instance: Instance, out: Path) -> tuple[Path, bool]:
    """Write the instance once to ``out/instance`` (atomically: a temporary
    folder renamed). Returns the folder and whether it round-trips exactly."""
    folder = out / "instance"
    meta_path = folder / "instance.json"
    fp = instance.fingerprint
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("fingerprint") != fp:
            raise ScenarioError(
                f"{out} already holds a sweep over another instance ({meta.get('name')!r}, fingerprint "
                f"{meta.get('fingerprint')}); this one is {instance.name!r} ({fp}). Use another output folder."
            )
        return folder, bool(meta.get("round_trip", True))
    tmp = Path(tempfile.mkdtemp(dir=out, prefix=_TMP_PREFIX + "instance-"))
    os.chmod(tmp, 0o777 & ~_UMASK)
    _data.to_csv(instance, tmp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = _data.from_folder(tmp, name=instance.name, warn=False)
    ok = back.fingerprint == fp
    meta = {"format": MANIFEST_FORMAT, "name": instance.name, "fingerprint": fp, "n_units": instance.n_units,
            "population": instance.total_population, "round_trip": ok}
    (tmp / "instance.json").write_text(_dumps(meta), encoding="utf-8")
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(tmp, folder)
    if not ok:
        warnings.warn(f"instance {instance.name!r} does not round-trip through CSV exactly; workers get it in memory.",
                      stacklevel=3)
    return folder, ok


def run_sweep(
    instance: Instance,
    scenarios: Iterable,
    out_dir,
    *,
    options: RunOptions | None = None,
    executor=None,
    workers: int | None = None,
    progress=None,
    retry_errors: bool = False,
) -> SweepResult:
    """Solve every run of a sweep over ``instance``, in parallel, resumably.

    Parameters
    ----------
    instance : Instance
    scenarios : iterable of Scenario, Run or (Scenario, RunOptions)
    out_dir : path
        Output folder (created); see the module docstring for its layout.
    options : RunOptions
        Default options for runs that do not carry their own.
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Where to run. Default: a ``ProcessPoolExecutor`` with ``workers``
        processes (default ``os.cpu_count()``), shut down at the end. A
        process pool (yours or the default) gets the instance through its
        CSV copy in ``out_dir/instance``, loaded once per worker process; a
        dask client gets it scattered once to every worker; any other
        executor (threads, ...) gets the object itself. An executor you pass
        is not shut down.
    workers : int, optional
        Processes of the default pool (ignored when ``executor`` is given).
    progress : None, bool, "bar", "log", "off" or callable
        None: a tqdm bar on stderr when it is a terminal, plain log lines
        otherwise. A callable is called with each finished record.
    retry_errors : bool
        Also recompute runs whose existing result has status ``error``.

    Returns
    -------
    SweepResult
        Also writes ``results.csv`` (one row per run) and ``sweep.json``.
    """
    t0 = time.perf_counter()
    options = options or RunOptions()
    if not isinstance(options, RunOptions):
        raise ScenarioError(f"options must be RunOptions, got {type(options).__name__}.")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ScenarioError(f"workers={workers!r}: must be a positive whole number.")
    runs = _as_runs(scenarios)
    out = Path(out_dir)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    _clean_tmp(out)
    inst_dir, round_trip = _write_instance(instance, out)
    base_fp = instance.fingerprint

    fps: dict[float, str] = {1.0: base_fp}
    for r in runs:
        if r.population_factor not in fps:
            fps[r.population_factor] = instance.with_populations(r.population_factor).fingerprint
    manifest_runs, tasks = [], {}
    for r in runs:
        opts = r.options or options
        fp = fps[r.population_factor]
        key = scenario_key(r.scenario, opts, fp)
        entry = {"key": key, "tags": dict(r.tags), "scenario": _canon(r.scenario.to_dict()), "options": opts.to_dict(),
                 "fingerprint": fp, "population_factor": r.population_factor}
        manifest_runs.append(entry)
        if key not in tasks:
            tasks[key] = {"key": key, "scenario": entry["scenario"], "options": entry["options"], "fingerprint": fp,
                          "base_fingerprint": base_fp, "population_factor": r.population_factor}
    manifest = {"format": MANIFEST_FORMAT, "created": _now(),
                "instance": {"name": instance.name, "fingerprint": base_fp, "folder": "instance"},
                "n_runs": len(runs), "n_unique": len(tasks), "runs": manifest_runs}
    _atomic_write(out / "sweep.json", _dumps(manifest))

    existing = _read_records(out)
    todo = [t for k, t in tasks.items()
            if k not in existing or (retry_errors and existing[k].get("status") == "error")]
    skipped = len(tasks) - len(todo)
    prog = _Progress(progress, total=len(tasks), skipped=skipped)
    lost: dict[str, str] = {}
    computed = 0
    futs: dict = {}
    try:
        if todo:
            own = None
            ex = executor
            if ex is None:
                n = min(workers or os.cpu_count() or 1, len(todo))
                ex = own = cf.ProcessPoolExecutor(max_workers=n)
                where = f"{n} worker processes"
            else:
                where = type(ex).__name__
            prog.log(f"{len(tasks)} distinct runs ({len(runs)} in all) on {instance.name!r}: {skipped} already done, "
                     f"{len(todo)} to solve on {where}; results in {out}")
            clean = False
            try:
                if _is_dask_client(ex):
                    from distributed import as_completed as _dask_as_completed

                    src = ex.scatter(instance, broadcast=True, hash=False)
                    futs = {ex.submit(_execute, t, src, pure=False): t for t in todo}
                    iterator = _dask_as_completed(list(futs))
                else:
                    if isinstance(ex, cf.ProcessPoolExecutor) and round_trip:
                        src = ("csv", str(inst_dir.resolve()), base_fp, instance.name)
                    else:
                        src = instance
                    futs = {ex.submit(_execute, t, src): t for t in todo}
                    iterator = cf.as_completed(futs)
                for fut in iterator:
                    task = futs[fut]
                    try:
                        rec = fut.result()
                    except Exception as exc:  # the worker itself failed: report, do not persist
                        msg = f"worker failed ({type(exc).__name__}: {exc}); not recorded, rerun the sweep to retry"
                        lost[task["key"]] = msg
                        rec = {"key": task["key"], "status": "error", "message": msg}
                    else:
                        _atomic_write(out / "runs" / f"{task['key']}.json", _dumps(rec))
                        computed += 1
                    prog.update(rec)
                clean = True
            finally:
                if not clean:
                    for f in futs:
                        try:
                            f.cancel()
                        except Exception:
                            pass
                if own is not None:
                    own.shutdown(wait=clean, cancel_futures=True)
        else:
            prog.log(f"all {len(tasks)} distinct runs already done in {out}")
    finally:
        prog.close()
    table, _ = load_results(out)
    for k, msg in lost.items():
        sel = table["key"] == k
        table.loc[sel, "status"] = "error"
        table.loc[sel, "message"] = msg
    _atomic_write(out / "results.csv", table.to_csv(index=False))
    res = SweepResult(out, table, n_runs=len(runs), n_unique=len(tasks), computed=computed, skipped=skipped,
                      lost=lost, wall_time=time.perf_counter() - t0)
    prog.log(f"done in {res.wall_time:.1f} s: " + ", ".join(f"{k} {v}" for k, v in res.status_counts.items()))
    return res


# ---------------------------------------------------------------------------
# configuration files
# ---------------------------------------------------------------------------
_NUMERIC = {"allowance_per_head", "quality_premium_per_head", "fixed_cost", "cost_per_head", "penalty_weight",
            "coterminous_threshold", "floor", "ceiling"}
_TABLES = {
    "instance": "the instance: dataset = 'ccg2013' | 'synthetic' | 'csv'",
    "scenario": "fixed scenario parameters",
    "grid": "scenario parameter -> list of values",
    "options": "solver options",
    "inflation": "rates, start_year, population_growth",
    "sweep": "workers",
}
_INSTANCE_KEYS = {
    "ccg2013": {"dataset", "data", "bridges"},
    "synthetic": {"dataset", "units", "seed", "population", "n_areas", "straddle_fraction", "baseline_group_size", "name"},
    "csv": {"dataset", "path", "name"},
}


@dataclass
class SweepConfig:
    """A sweep read from a TOML file by :func:`read_config` (validated)."""

    path: Path
    instance: Instance
    runs: list[Run]
    options: RunOptions
    workers: int | None = None


def _bad(path, table: str, key: str, msg: str) -> ScenarioError:
    loc = f"[{table}] {key}" if key else f"[{table}]"
    return ScenarioError(f"{path}: {loc}: {msg}")


def _check_param(path, table: str, key: str, v) -> None:
    """Type checks TOML values before Scenario sees them."""
    if key in _NUMERIC:
        if not _is_number(v):
            raise _bad(path, table, key, f"{v!r} is not a number.")
    elif key == "max_units":
        if isinstance(v, bool) or not isinstance(v, int):
            raise _bad(path, table, key, f"{v!r} is not a whole number.")
    elif key == "contiguity":
        if not isinstance(v, bool):
            raise _bad(path, table, key, f"{v!r} is not true or false.")
    elif key == "coterminosity":
        allowed = [c.value for c in Coterminosity]
        if v not in allowed:
            raise _bad(path, table, key, f"{v!r} is not allowed; allowed values: {allowed}.")
    elif key == "objective":
        allowed = [o.value for o in Objective]
        names = [v] if isinstance(v, str) else (list(v) if isinstance(v, (list, dict)) else None)
        if not names or any(not isinstance(n, str) or n not in allowed for n in names):
            raise _bad(path, table, key, f"{v!r} is not allowed; allowed values: {allowed} (one name, a list of names "
                                         "for a lexicographic objective, or a table name = weight).")
        if isinstance(v, dict) and any(not _is_number(w) for w in v.values()):
            raise _bad(path, table, key, f"{v!r}: weights must be numbers.")
    elif key == "alone":
        if not isinstance(v, list) or any(not isinstance(c, str) for c in v):
            raise _bad(path, table, key, f"{v!r} is not a list of unit codes.")
    elif key in ("together", "apart"):
        if not isinstance(v, list) or any(not isinstance(p, list) or len(p) != 2 or not all(isinstance(c, str) for c in p)
                                          for p in v):
            raise _bad(path, table, key, f"{v!r} is not a list of [unit, unit] pairs.")


def _scenario_value(key: str, v):
    if key == "objective" and isinstance(v, list):
        return tuple(v) if len(v) > 1 else v[0]
    if key in ("together", "apart"):
        return [tuple(p) for p in v]
    return v


def _load_config_instance(path: Path, spec: dict) -> Instance:
    if not isinstance(spec, dict):
        raise _bad(path, "instance", "", "must be a table.")
    ds = spec.get("dataset", "ccg2013")
    if ds not in _INSTANCE_KEYS:
        raise _bad(path, "instance", "dataset", f"{ds!r} is not allowed; allowed values: {sorted(_INSTANCE_KEYS)}.")
    unknown = sorted(set(spec) - _INSTANCE_KEYS[ds])
    if unknown:
        raise _bad(path, "instance", unknown[0], f"unknown key for dataset {ds!r}; allowed keys: {sorted(_INSTANCE_KEYS[ds])}.")

    def rel(p):
        if not isinstance(p, str):
            raise ScenarioError(f"{path}: [instance] path {p!r} must be a string.")
        q = Path(p).expanduser()
        return q if q.is_absolute() else (path.parent / q)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if ds == "ccg2013":
            bridges = spec.get("bridges", True)
            if not isinstance(bridges, bool):
                raise _bad(path, "instance", "bridges", f"{bridges!r} is not true or false.")
            return _data.load_ccg2013(rel(spec["data"]) if "data" in spec else None, bridges=bridges, warn=False)
        if ds == "synthetic":
            if "units" not in spec:
                raise _bad(path, "instance", "units", "missing: dataset 'synthetic' needs units = <number of units>.")
            from ccgmerge.errors import ValidationError
            from ccgmerge.data.synthetic import generate

            kw = {k: spec[k] for k in ("seed", "population", "n_areas", "straddle_fraction", "baseline_group_size", "name")
                  if k in spec}
            try:
                return generate(spec["units"], **kw)
            except ValidationError as exc:
                raise ScenarioError(f"{path}: [instance]: {exc}") from None
        if "path" not in spec:
            raise _bad(path, "instance", "path", "missing: dataset 'csv' needs path = <folder with units.csv, ...>.")
        folder = rel(spec["path"])
        if not folder.is_dir():
            raise _bad(path, "instance", "path", f"{str(folder)!r} is not a folder.")
        return _data.from_folder(folder, name=spec.get("name"), warn=False)


def read_config(path) -> SweepConfig:
    """Read and validate a sweep file (TOML); nothing is solved.

    Tables: ``[instance]`` (``dataset = "ccg2013"`` [``data``, ``bridges``];
    ``"synthetic"`` with ``units``, ``seed`` [...]; or ``"csv"`` with ``path``
    to a folder written by :func:`ccgmerge.data.to_csv`; relative paths are
    relative to the file), ``[scenario]`` (fixed scenario parameters),
    ``[grid]`` (parameter -> list of values), ``[options]`` (``solver``,
    ``time_limit``, ``gap``, ``formulation``, ``threads``), ``[inflation]``
    (``rates``, ``start_year``, optional ``population_growth``: every grid
    scenario is expanded year by year with :func:`inflation_scenarios`) and
    ``[sweep]`` (``workers``).

    Raises
    ------
    ScenarioError
        Naming the file, the table and key, and the allowed keys or values,
        for any unknown key, bad type or bad value; every scenario is
        constructed here, before any solving.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"sweep config {str(path)!r} cannot be read: {exc.strerror or exc}.") from None
    try:
        cfg = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}.") from None
    unknown = sorted(set(cfg) - set(_TABLES))
    if unknown:
        raise ScenarioError(f"{path}: unknown table or key {unknown[0]!r}; allowed tables: {sorted(_TABLES)}.")
    for t in cfg:
        if not isinstance(cfg[t], dict):
            raise ScenarioError(f"{path}: {t!r} must be a table [{t}], got {cfg[t]!r}.")

    # options
    opt = dict(cfg.get("options", {}))
    known_opts = [f.name for f in fields(RunOptions)]
    for k in opt:
        if k not in known_opts:
            raise _bad(path, "options", k, f"unknown key; allowed keys: {known_opts}.")
    try:
        options = RunOptions(**opt)
    except ScenarioError as exc:
        key = next((k for k in opt if str(exc).startswith(f"{k}=")), "")
        raise _bad(path, "options", key, str(exc)) from None
    if options.solver == "highs":
        import pulp

        if not pulp.HiGHS().available():
            raise _bad(path, "options", "solver", "'highs' needs highspy: pip install 'ccgmerge[highs]'; or use 'cbc'.")

    # sweep
    sw = cfg.get("sweep", {})
    for k in sw:
        if k != "workers":
            raise _bad(path, "sweep", k, "unknown key; allowed keys: ['workers'].")
    workers = sw.get("workers")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise _bad(path, "sweep", "workers", f"{workers!r} is not a positive whole number.")

    # base scenario
    base_spec = cfg.get("scenario", {})
    for k, v in base_spec.items():
        if k not in _SCENARIO_FIELDS:
            raise _bad(path, "scenario", k, f"unknown parameter; allowed keys: {list(_SCENARIO_FIELDS)}.")
        _check_param(path, "scenario", k, v)
    try:
        base = Scenario(**{k: _scenario_value(k, v) for k, v in base_spec.items()})
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: [scenario]: {exc}") from None

    # grid
    axes = {}
    for k, v in cfg.get("grid", {}).items():
        if k not in _SCENARIO_FIELDS:
            raise _bad(path, "grid", k, f"unknown parameter; allowed keys: {list(_SCENARIO_FIELDS)}.")
        if isinstance(v, list):
            if not v:
                raise _bad(path, "grid", k, "empty list; give at least one value.")
            vals = v
        else:
            vals = [v]
        for x in vals:
            _check_param(path, "grid", k, x)
        axes[k] = [_scenario_value(k, x) for x in vals]
    try:
        scenarios = grid(base, **axes)
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: [grid]: {exc}") from None

    # inflation
    infl = cfg.get("inflation")
    if infl is not None:
        allowed = ["rates", "start_year", "population_growth"]
        for k in infl:
            if k not in allowed:
                raise _bad(path, "inflation", k, f"unknown key; allowed keys: {allowed}.")
        for k in ("rates", "start_year"):
            if k not in infl:
                raise _bad(path, "inflation", k, "missing (the sweep ships no inflation figures: give your own).")
        runs = []
        for s in scenarios:
            try:
                runs.extend(inflation_scenarios(s, infl["rates"], infl["start_year"], infl.get("population_growth")))
            except ScenarioError as exc:
                raise ScenarioError(f"{path}: [inflation]: {exc}") from None
    else:
        runs = [Run(s) for s in scenarios]

    instance = _load_config_instance(path, cfg.get("instance", {}))

    if options.formulation == "packing":
        from ccgmerge.engine import solve as optimise

        exact = getattr(optimise, "_packing_exact", None)
        if exact is not None:
            for r in runs:
                if not exact(instance, r.scenario):
                    raise _bad(path, "options", "formulation",
                               f"'packing' cannot solve the scenario ({r.scenario.describe()}) exactly; allowed "
                               f"values here: ['auto', 'compact'].")
    return SweepConfig(path=path, instance=instance, runs=runs, options=options, workers=workers)


def sweep_from_config(path, out_dir, workers: int | None = None, progress=None, *, executor=None,
                      retry_errors: bool = False) -> SweepResult:
    """Read a TOML sweep file (:func:`read_config`) and run it into ``out_dir``.

    Everything the ``ccgmerge sweep`` command needs: the whole file is
    validated (and every scenario constructed) before anything is solved, so a
    bad file raises :class:`~ccgmerge.errors.ScenarioError` naming the key;
    then :func:`run_sweep` runs (resuming whatever ``out_dir`` already holds).
    ``workers`` overrides ``[sweep] workers``. Returns the
    :class:`SweepResult`: print ``result.summary()`` and exit with
    ``result.exit_code`` (0 unless some run ended in ``error``).

    Example file::

        [instance]
        dataset = "ccg2013"
        [grid]
        allowance_per_head = [25, 30, 35]
        coterminosity = ["off", "aligned"]
        [options]
        solver = "cbc"
        time_limit = 60
    """
    cfg = read_config(path)
    return run_sweep(cfg.instance, cfg.runs, out_dir, options=cfg.options, executor=executor,
                     workers=workers if workers is not None else cfg.workers, progress=progress,
                     retry_errors=retry_errors)


# ---------------------------------------------------------------------------
# analyses
# ---------------------------------------------------------------------------
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
        A results table (:func:`load_results`, ``results.csv`` or
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
        cand = [c for c in df.columns if c in _SCENARIO_FIELDS or c.startswith("opt_")]
        skip = set(_DERIVED) | {x}
        if x != "year":
            skip -= {"fixed_cost"}
        by = [c for c in cand if c not in skip and df[c].astype(str).nunique(dropna=False) > 1]
    keep = list(by) + [x] + [c for c in ("floor_population", "status", "groups", "merges") if c in df.columns]
    out = df[keep].sort_values(list(by) + [x], kind="stable").reset_index(drop=True)
    return out


def pareto_frontier(
    instance: Instance,
    base_scenario: Scenario | None = None,
    objective: str = "merges",
    weights: Sequence[float] | None = None,
    *,
    method: str = "epsilon",
    options: RunOptions | None = None,
    max_points: int = 25,
    return_plans: bool = False,
):
    """Trade-off between disruption (``objective``) and non-coterminous population.

    Both are minimised. With ``method="epsilon"`` (the default) this is the
    **epsilon-constraint** method: the first point minimises the objective
    (ties broken by the non-coterminous population, lexicographically); each
    next point minimises the objective again subject to ``noncoterminous <=
    n - 1`` (a hard limit, ``Scenario.limits``), where ``n`` is the previous
    point's non-coterminous population (people are whole, so a step of one
    person misses no efficient point), until the limit cannot be met. Every
    point is an exact lexicographic optimum under its limit, so with
    ``gap=0`` the rows are exactly the efficient (Pareto-optimal) points,
    supported or not, from the least-disruption end to the
    least-non-coterminous end.

    With ``method="weighted"`` the points are those of weighted sums
    ``objective + w * noncoterminous``, which find only the *supported*
    efficient points (the corners of the frontier's convex hull): the two
    lexicographic ends and, without ``weights``, the corners in between by the
    dichotomic (Aneja-Nair) method; with ``weights`` each weight once.

    Parameters
    ----------
    base_scenario : Scenario
        Floor, coterminosity (``off``, ``nested`` or ``aligned``; not
        ``penalised``, which already weights the term) and other rules.
    objective : {"merges", "moved", "split_areas"}
        ``split_areas`` only with ``method="weighted"`` (limits apply to
        merges, moved and noncoterminous).
    method : {"epsilon", "weighted"}
    options : RunOptions
        Solver options of every solve (``gap=0`` for exact points).
    max_points : int
        Most solves (ends included).

    Returns
    -------
    DataFrame
        One row per distinct point found (and per solve without a checked
        plan): ``method``, ``weight`` (weighted) or ``limit`` (epsilon, the
        bound on the non-coterminous population), the objective,
        ``noncoterminous``, ``groups``, ``status``, ``checked`` (the
        solver-free checker's verdict), ``efficient`` (not dominated by
        another row), sorted by the objective. With ``return_plans``,
        ``(DataFrame, list of Plan)`` in the same order.

    Examples
    --------
    >>> import ccgmerge.data.synthetic as syn
    >>> inst = syn.generate(12, seed=4)
    >>> t = pareto_frontier(inst, Scenario(floor=300_000))
    >>> bool(t["checked"].all()), bool(t["efficient"].all())
    (True, True)
    >>> bool(t["merges"].is_monotonic_increasing and t["noncoterminous"].is_monotonic_decreasing)
    True
    """
    from ccgmerge.engine.solve import solve

    base = base_scenario or Scenario()
    options = options or RunOptions()
    if method not in ("epsilon", "weighted"):
        raise ScenarioError(f"pareto_frontier method={method!r}; allowed: ['epsilon', 'weighted'].")
    allowed = ["merges", "moved"] if method == "epsilon" else ["merges", "moved", "split_areas"]
    if objective not in allowed:
        raise ScenarioError(f"pareto_frontier objective={objective!r} with method={method!r}; allowed: {allowed}.")
    if base.coterminosity is Coterminosity.PENALISED:
        raise ScenarioError("pareto_frontier: base coterminosity 'penalised' already weights the non-coterminous "
                            "population; use 'off', 'nested' or 'aligned'.")
    if any(k == "noncoterminous" for k, _ in base.limits):
        raise ScenarioError("pareto_frontier: base_scenario already limits 'noncoterminous'; drop that limit.")
    kw = options.solve_kwargs()
    rows: list[dict] = []
    plans: list = []
    seen: set = set()
    solves = 0

    def run(obj, method, weight, limit=None):
        nonlocal solves
        solves += 1
        sc = base.replace(objective=obj)
        if limit is not None:
            sc = sc.replace(limits={**dict(base.limits), "noncoterminous": limit})
        plan = solve(instance, sc, **kw)
        m = plan.metrics
        row = {"method": method, "weight": weight, "limit": limit, objective: m.get(objective),
               "noncoterminous": m.get("noncoterminous"), "groups": m.get("groups"), "status": plan.status.value,
               "checked": plan.ok, "gap": plan.gap, "wall_time": round(plan.wall_time, 4)}
        if not plan.ok:
            if plan.status is not Status.INFEASIBLE or limit is None:
                rows.append(row)
                plans.append(plan)
            return None, plan
        point = (row[objective], row["noncoterminous"])
        if point not in seen:  # a weight on a segment may return one of its ends again
            seen.add(point)
            rows.append(row)
            plans.append(plan)
        return row, plan

    a, _ = run((objective, "noncoterminous"), "lexicographic" if method == "weighted" else "epsilon", None)
    if method == "epsilon":
        cur = a
        while cur is not None and solves < max_points:
            limit = cur["noncoterminous"] - 1
            if limit < 0:
                break
            nxt, plan = run((objective, "noncoterminous"), "epsilon", None, limit)
            if nxt is None or plan.status is not Status.OPTIMAL:
                break
            cur = nxt
        else:
            if cur is not None and solves >= max_points:
                warnings.warn(f"pareto_frontier stopped after max_points={max_points} solves with the frontier "
                              f"unfinished (last point: noncoterminous {cur['noncoterminous']:,}); raise max_points "
                              "for the rest.", stacklevel=2)
    else:
        b, _ = run(("noncoterminous", objective), "lexicographic", None)
        if a is not None and b is not None and (a[objective], a["noncoterminous"]) != (b[objective], b["noncoterminous"]):
            if weights is not None:
                for w in weights:
                    if not _is_number(w) or w < 0:
                        raise ScenarioError(f"pareto_frontier weights: {w!r} is not a non-negative number.")
                    run({objective: 1.0, "noncoterminous": float(w)}, "weighted", float(w))
            else:
                stack = [(a, b)]
                while stack and solves < max_points:
                    p, q = stack.pop()
                    dn = p["noncoterminous"] - q["noncoterminous"]
                    df_ = q[objective] - p[objective]
                    if dn <= 0 or df_ <= 0:
                        continue
                    w = df_ / dn
                    r, _ = run({objective: 1.0, "noncoterminous": w}, "weighted", w)
                    if r is None:
                        continue
                    line = p[objective] + w * p["noncoterminous"]
                    val = r[objective] + w * r["noncoterminous"]
                    if val < line - 1e-7 * max(1.0, abs(line)):
                        stack.append((r, q))
                        stack.append((p, r))
    table = pd.DataFrame(rows)
    pts = [(r[objective], r["noncoterminous"]) if r["checked"] else None for r in rows]

    def dominated(i):
        if pts[i] is None:
            return True
        return any(j != i and pts[j] is not None and pts[j][0] <= pts[i][0] and pts[j][1] <= pts[i][1] and pts[j] != pts[i]
                   for j in range(len(pts)))

    table["efficient"] = [not dominated(i) for i in range(len(rows))]
    order = table.sort_values([objective, "noncoterminous"], kind="stable").index
    table = table.loc[order].reset_index(drop=True)
    if return_plans:
        return table, [plans[i] for i in order]
    return table
