"""Sweeps described in a TOML file: :func:`read_config` and :func:`sweep_from_config`.

:func:`sweep_from_config` is the ``ccgmerge sweep`` command: it reads the file
with :func:`read_config`, which validates every table and key and constructs
every scenario before anything is solved (a bad file raises
:class:`~ccgmerge.errors.ScenarioError` naming the file, table and key), then
runs the sweep with :func:`~ccgmerge.analysis.sweep.runner.run_sweep`.
"""

from __future__ import annotations

import math
import tomllib
import warnings
from dataclasses import dataclass, fields
from pathlib import Path

from ccgmerge import data as _data
from ccgmerge.analysis.sweep.runner import SweepResult, run_sweep
from ccgmerge.analysis.sweep.scenarios import SCENARIO_FIELDS, Run, RunOptions, grid, inflation_scenarios, is_number
from ccgmerge.errors import ScenarioError
from ccgmerge.instance import Instance
from ccgmerge.scenario import Coterminosity, Objective, Scenario

__all__ = ["SweepConfig", "read_config", "sweep_from_config"]

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
        if not is_number(v):
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
        if isinstance(v, dict) and any(not is_number(w) for w in v.values()):
            raise _bad(path, table, key, f"{v!r}: weights must be numbers.")
    elif key == "alone":
        if not isinstance(v, list) or any(not isinstance(c, str) for c in v):
            raise _bad(path, table, key, f"{v!r} is not a list of unit codes.")
    elif key in ("together", "apart"):
        if not isinstance(v, list) or any(not isinstance(p, list) or len(p) != 2 or not all(isinstance(c, str) for c in p)
                                          for p in v):
            raise _bad(path, table, key, f"{v!r} is not a list of [unit, unit] pairs.")


_NO_VALUE = {"time_limit": "for no time limit", "ceiling": "for no ceiling", "max_units": "for no limit"}


def _check_finite(path, cfg: dict) -> None:
    """TOML's ``inf`` and ``nan`` are floats that JSON cannot hold (they would become
    ``null``, i.e. silently "no value"): an error naming the file, table and key."""

    def walk(v, table: str, key: str, base: str, in_list: bool):
        if isinstance(v, float) and not math.isfinite(v):
            word = "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
            fix = f"remove it from the list, or leave {base} out" if in_list else f"leave {base} out"
            raise _bad(path, table, key, f"{word} is not a finite number (TOML's inf and nan cannot be used: they "
                                         f"would silently mean 'no value'); write a number, or {fix} "
                                         f"{_NO_VALUE.get(base, 'to use its default')}.")
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, table, f"{key}.{k}", base, in_list)
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, table, f"{key}[{i}]", base, True)

    for t, body in cfg.items():
        for k, v in body.items():
            walk(v, t, k, k, False)


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
        for any unknown key, bad type or bad value (``inf`` and ``nan``
        included); every scenario is constructed here, before any solving.
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
    _check_finite(path, cfg)

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
        if k not in SCENARIO_FIELDS:
            raise _bad(path, "scenario", k, f"unknown parameter; allowed keys: {list(SCENARIO_FIELDS)}.")
        _check_param(path, "scenario", k, v)
    try:
        base = Scenario(**{k: _scenario_value(k, v) for k, v in base_spec.items()})
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: [scenario]: {exc}") from None

    # grid
    axes = {}
    for k, v in cfg.get("grid", {}).items():
        if k not in SCENARIO_FIELDS:
            raise _bad(path, "grid", k, f"unknown parameter; allowed keys: {list(SCENARIO_FIELDS)}.")
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
        from ccgmerge.engine.formulations import why_not_exact

        for r in runs:
            if why_not_exact("packing", instance, r.scenario) is not None:
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
