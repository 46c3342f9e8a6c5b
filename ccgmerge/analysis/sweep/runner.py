"""Running a sweep: :func:`run_sweep`, executors and dask, :class:`SweepResult`.

:func:`run_sweep` locks the output folder (:mod:`~ccgmerge.analysis.sweep.lock`:
a second sweep into it stops at once with
:class:`~ccgmerge.analysis.sweep.lock.SweepLocked`), writes the instance and
the manifest into it (:mod:`ccgmerge.analysis.sweep.store`), skips the runs
whose result already exists and is valid
(:func:`~ccgmerge.analysis.sweep.store.validate_record`; an invalid one is
named in a warning and recomputed) and solves the others: by default on a
:class:`~ccgmerge.analysis.sweep.workers.WorkerPool` of worker processes that
die with the sweep, or on any ``concurrent.futures.Executor``, or on a
``dask.distributed.Client``. The worker function is
:func:`~ccgmerge.analysis.sweep.workers.execute_run`. Each record is written as
soon as its run finishes, and ``results.csv`` is rebuilt from the valid
records on disk at the end, also when the sweep is interrupted.

Statuses in the results: the plan's own status (``optimal``, ``feasible``,
``infeasible``, ``no_solution``), or ``error`` when the run raised (the
exception is recorded in ``message`` and ``traceback``; the other runs go on).
A run stopped by its ``time_limit`` is not an exception: it keeps the plan's
honest status (``feasible`` with its gap, or ``no_solution``) and a
``message`` saying that the time limit was reached. A run whose worker died
(for example a killed process) is reported as ``error`` in the returned table
but is *not* written to ``runs/``, so the next run of the sweep computes it;
with the default pool the dead worker is replaced and the other runs go on.

A ``KeyboardInterrupt`` (Ctrl-C) stops the sweep at once: the records already
finished are kept (written), the workers of the default pool are killed with
their solvers, ``results.csv`` is rebuilt, the lock is released, and
:class:`SweepInterrupted` (a ``KeyboardInterrupt``) is raised with a one-line
message saying what was kept.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ccgmerge.analysis.sweep.lock import FolderLock
from ccgmerge.analysis.sweep.progress import Progress
from ccgmerge.analysis.sweep.scenarios import Run, RunOptions, canon, dumps, scenario_key
from ccgmerge.analysis.sweep.store import (
    MANIFEST_FORMAT,
    atomic_write,
    clean_tmp,
    load_results,
    scan_records,
    write_instance,
)
from ccgmerge.analysis.sweep.workers import WorkerPool, execute_run, now
from ccgmerge.errors import ScenarioError
from ccgmerge.instance import Instance
from ccgmerge.scenario import Scenario

__all__ = ["SweepResult", "SweepInterrupted", "RecordWarning", "run_sweep"]


class RecordWarning(UserWarning):
    """A run record in ``runs/`` that cannot be trusted (it is recomputed)."""


class SweepInterrupted(KeyboardInterrupt):
    """A sweep stopped by Ctrl-C (or another ``KeyboardInterrupt``); ``result`` is
    the :class:`SweepResult` of what was kept, ``str()`` a one-line message."""

    def __init__(self, message: str, result: "SweepResult"):
        super().__init__(message)
        self.result = result


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
# results
# ---------------------------------------------------------------------------
@dataclass
class SweepResult:
    """What :func:`run_sweep` / :func:`sweep_from_config` did.

    ``table`` is the results table (one row per run, as in ``results.csv``);
    ``computed`` counts the runs solved now and ``skipped`` those whose result
    file already existed (resume); ``lost`` maps the runs whose worker died to
    the message. ``exit_code`` is 0 when no run ended in ``error``, else 1.
    """

    out_dir: Path
    table: pd.DataFrame = field(repr=False)
    n_runs: int = 0
    n_unique: int = 0
    computed: int = 0
    skipped: int = 0
    lost: dict = field(default_factory=dict)
    wall_time: float = 0.0
    interrupted: bool = False

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


# ---------------------------------------------------------------------------
# executors
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


class _Futures:
    """A ``concurrent.futures`` executor or a dask client, driven like a WorkerPool."""

    def __init__(self, ex, source, dask: bool):
        self.ex, self.source, self.dask = ex, source, dask
        self.futs: dict = {}
        self.seen: set = set()

    def run(self, todo):
        if self.dask:
            from distributed import as_completed as dask_as_completed

            self.futs = {self.ex.submit(execute_run, t, self.source, pure=False): t for t in todo}
            iterator = dask_as_completed(list(self.futs))
        else:
            self.futs = {self.ex.submit(execute_run, t, self.source): t for t in todo}
            iterator = cf.as_completed(self.futs)
        for fut in iterator:
            self.seen.add(fut)
            task = self.futs[fut]
            try:
                rec = fut.result()
            except Exception as exc:  # the worker itself failed: report, do not persist
                yield task, None, f"worker failed ({type(exc).__name__}: {exc}); not recorded, rerun the sweep to retry"
            else:
                yield task, rec, None

    def harvest(self):
        for fut, task in self.futs.items():
            if fut in self.seen:
                continue
            try:
                finished = fut.status == "finished" if self.dask else (fut.done() and not fut.cancelled()
                                                                       and fut.exception(timeout=0) is None)
                if finished:
                    yield task, fut.result()
            except Exception:
                continue

    def close(self, kill: bool) -> None:
        if kill:
            for f in self.futs:
                try:
                    f.cancel()
                except Exception:
                    pass


# ---------------------------------------------------------------------------
# run_sweep
# ---------------------------------------------------------------------------
def _plan_runs(instance: Instance, runs: list[Run], options: RunOptions) -> tuple[list[dict], dict[str, dict]]:
    """The manifest's entries (one per run) and the tasks (one per distinct key)."""
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
        entry = {"key": key, "tags": dict(r.tags), "scenario": canon(r.scenario.to_dict()), "options": opts.to_dict(),
                 "fingerprint": fp, "population_factor": r.population_factor}
        manifest_runs.append(entry)
        if key not in tasks:
            tasks[key] = {"key": key, "scenario": entry["scenario"], "options": entry["options"], "fingerprint": fp,
                          "base_fingerprint": base_fp, "population_factor": r.population_factor}
    return manifest_runs, tasks


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
        Output folder (created); see :mod:`ccgmerge.analysis.sweep.store` for its
        layout. It is locked while the sweep runs: a second sweep into it raises
        :class:`~ccgmerge.analysis.sweep.lock.SweepLocked` at once.
    options : RunOptions
        Default options for runs that do not carry their own.
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Where to run. Default: a :class:`~ccgmerge.analysis.sweep.workers.WorkerPool`
        of ``workers`` processes (default ``os.cpu_count()``) that die with this
        process, each getting the instance through its CSV copy in
        ``out_dir/instance``, loaded once per worker; a worker that dies costs
        only its run. A ``ProcessPoolExecutor`` you pass gets the CSV copy too;
        a dask client gets the instance scattered once to every worker; any
        other executor (threads, ...) gets the object itself. An executor you
        pass is not shut down.
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

    Raises
    ------
    SweepLocked
        ``out_dir`` is in use by another sweep (nothing was touched).
    SweepInterrupted
        On Ctrl-C: what had finished is kept, ``results.csv`` is up to date.
    """
    t0 = time.perf_counter()
    options = options or RunOptions()
    if not isinstance(options, RunOptions):
        raise ScenarioError(f"options must be RunOptions, got {type(options).__name__}.")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ScenarioError(f"workers={workers!r}: must be a positive whole number.")
    runs = _as_runs(scenarios)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with FolderLock(out):
        return _locked_sweep(instance, runs, out, options, executor, workers, progress, retry_errors, t0)


def _locked_sweep(instance, runs, out: Path, options, executor, workers, progress, retry_errors, t0) -> SweepResult:
    (out / "runs").mkdir(exist_ok=True)
    clean_tmp(out)
    inst_dir, round_trip = write_instance(instance, out)
    base_fp = instance.fingerprint
    manifest_runs, tasks = _plan_runs(instance, runs, options)
    manifest = {"format": MANIFEST_FORMAT, "created": now(),
                "instance": {"name": instance.name, "fingerprint": base_fp, "folder": "instance"},
                "n_runs": len(runs), "n_unique": len(tasks), "runs": manifest_runs}
    atomic_write(out / "sweep.json", dumps(manifest))

    existing, bad = scan_records(out, {k: t["fingerprint"] for k, t in tasks.items()})
    for k, reason in bad.items():
        if k in tasks:
            warnings.warn(f"{out / 'runs' / k}.json: {reason}; recomputing", RecordWarning, stacklevel=3)
    todo = [t for k, t in tasks.items()
            if k not in existing or (retry_errors and existing[k].get("status") == "error")]
    skipped = len(tasks) - len(todo)
    prog = Progress(progress, total=len(tasks), skipped=skipped)
    lost: dict[str, str] = {}
    computed = 0
    interrupted = False

    def handle(task, rec, msg):
        nonlocal computed
        if rec is None:
            lost[task["key"]] = msg
            rec = {"key": task["key"], "status": "error", "message": msg}
        else:
            atomic_write(out / "runs" / f"{task['key']}.json", dumps(rec))
            computed += 1
        prog.update(rec)

    try:
        if todo:
            if executor is None:
                n = min(workers or os.cpu_count() or 1, len(todo))
                src = ("csv", str(inst_dir.resolve()), base_fp, instance.name) if round_trip else instance
                where = f"{n} worker processes"
            else:
                n, where = 0, type(executor).__name__
                dask = _is_dask_client(executor)
                if dask:
                    src = executor.scatter(instance, broadcast=True, hash=False)
                elif isinstance(executor, cf.ProcessPoolExecutor) and round_trip:
                    src = ("csv", str(inst_dir.resolve()), base_fp, instance.name)
                else:
                    src = instance
            prog.log(f"{len(tasks)} distinct runs ({len(runs)} in all) on {instance.name!r}: {skipped} already done, "
                     f"{len(todo)} to solve on {where}; results in {out}")
            pool = current = None
            clean = False
            try:
                pool = WorkerPool(n, src) if executor is None else _Futures(executor, src, dask)
                for current in pool.run(todo):
                    handle(*current)
                    current = None
                clean = True
            except KeyboardInterrupt:
                interrupted = True
                if current is not None and current[1] is not None \
                        and not (out / "runs" / f"{current[0]['key']}.json").is_file():
                    handle(*current)  # the record being written when the interruption came
                for task, rec in (pool.harvest() if pool is not None else ()):  # finished, not yet written
                    handle(task, rec, None)
            finally:
                if pool is not None:
                    pool.close(kill=not clean)
        else:
            prog.log(f"all {len(tasks)} distinct runs already done in {out}")
    finally:
        prog.close()
    table, recs = load_results(out)
    for k, msg in lost.items():
        sel = table["key"] == k
        table.loc[sel, "status"] = "error"
        table.loc[sel, "message"] = msg
    atomic_write(out / "results.csv", table.to_csv(index=False))
    res = SweepResult(out, table, n_runs=len(runs), n_unique=len(tasks), computed=computed, skipped=skipped,
                      lost=lost, wall_time=time.perf_counter() - t0, interrupted=interrupted)
    if interrupted:
        done = sum(k in recs for k in tasks)
        raise SweepInterrupted(
            f"interrupted: {done} of {len(tasks)} distinct runs are done and kept in {out / 'runs'} ({computed} "
            f"solved now); the others were stopped. Rerun the same command to resume.", res) from None
    prog.log(f"done in {res.wall_time:.1f} s: " + ", ".join(f"{k} {v}" for k, v in res.status_counts.items()))
    return res
