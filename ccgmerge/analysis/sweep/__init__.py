"""Scenario sweeps: many scenarios over one instance, in parallel, resumable.

A *sweep* is a list of runs over ONE instance. Each run is a
:class:`~ccgmerge.scenario.Scenario` with the solver options of
:class:`RunOptions` (and, for population-growth scenarios, a population
factor). Build the list with :func:`grid` (a cartesian product over any
scenario parameters) and/or :func:`inflation_scenarios` (real-terms erosion
year by year), then run it with :func:`run_sweep` (or start it without waiting with
:func:`submit_sweep`, which returns a :class:`SweepHandle` with the runs'
futures), or describe the whole sweep
in a TOML file and call :func:`sweep_from_config` (the ``ccgmerge sweep``
command).

Every run's result is written to the output folder as JSON as soon as it
finishes (plain CSV and JSON only; nothing is ever pickled), keyed by a stable
hash of the run (:func:`scenario_key`); running a sweep again into the same
folder *resumes* it, and ``results.csv`` has one tidy row per run.

Modules
-------
:mod:`~ccgmerge.analysis.sweep.scenarios`
    :class:`RunOptions`, :class:`Run`, :func:`grid`, :func:`inflation_scenarios`,
    :func:`scenario_key` and the canonical JSON of keys and records.
:mod:`~ccgmerge.analysis.sweep.store`
    The output folder's layout, atomic writes, :func:`validate_record`,
    :func:`load_results`, :func:`load_plan`.
:mod:`~ccgmerge.analysis.sweep.lock`
    :class:`FolderLock`: one sweep at a time per folder (:class:`SweepLocked`).
:mod:`~ccgmerge.analysis.sweep.workers`
    The run function, the default :class:`WorkerPool`, whose worker
    processes die with the sweep, and the pool over any executor or dask
    client (tasks named after their runs).
:mod:`~ccgmerge.analysis.sweep.runner`
    :func:`run_sweep`, :func:`submit_sweep` and :class:`SweepHandle`, executors
    and dask, :class:`SweepResult`,
    :class:`SweepInterrupted`, the statuses of the results.
:mod:`~ccgmerge.analysis.sweep.progress`
    The progress bar (or log lines, or a callback).
:mod:`~ccgmerge.analysis.sweep.config`
    :class:`SweepConfig`, :func:`read_config`, :func:`sweep_from_config`.

The analyses of a sweep's results live beside this package:
:func:`~ccgmerge.analysis.viability.viability_allowance` and
:func:`~ccgmerge.analysis.viability.allowance_curve` in
:mod:`ccgmerge.analysis.viability`, and
:func:`~ccgmerge.analysis.pareto.pareto_frontier` in
:mod:`ccgmerge.analysis.pareto`.
"""

from __future__ import annotations

from ccgmerge.analysis.sweep.config import SweepConfig, read_config, sweep_from_config
from ccgmerge.analysis.sweep.lock import SweepLocked
from ccgmerge.analysis.sweep.runner import (
    RecordWarning,
    SweepHandle,
    SweepInterrupted,
    SweepResult,
    run_sweep,
    submit_sweep,
)
from ccgmerge.analysis.sweep.scenarios import Run, RunOptions, grid, inflation_scenarios, run_labels, scenario_key
# the record formats were public names of the old module too (not in __all__)
from ccgmerge.analysis.sweep.store import MANIFEST_FORMAT, RECORD_FORMAT, load_plan, load_results, validate_record

__all__ = [
    "RunOptions",
    "Run",
    "SweepConfig",
    "SweepResult",
    "SweepHandle",
    "SweepInterrupted",
    "SweepLocked",
    "RecordWarning",
    "grid",
    "inflation_scenarios",
    "scenario_key",
    "run_sweep",
    "submit_sweep",
    "run_labels",
    "load_results",
    "load_plan",
    "validate_record",
    "read_config",
    "sweep_from_config",
]
