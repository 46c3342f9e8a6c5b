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
import threading
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ccgmerge.analysis.sweep.lock import FolderLock
from ccgmerge.analysis.sweep.progress import Progress
from ccgmerge.analysis.sweep.scenarios import Run, RunOptions, canon, dumps, run_labels, scenario_key
from ccgmerge.analysis.sweep.store import (
    MANIFEST_FORMAT,
    atomic_write,
    clean_tmp,
    load_results,
    scan_records,
    write_instance,
)
from ccgmerge.analysis.sweep.workers import ExecutorPool, WorkerPool, is_dask_client, now
from ccgmerge.errors import ScenarioError
from ccgmerge.instance import Instance
from ccgmerge.scenario import Scenario

__all__ = ["SweepResult", "SweepInterrupted", "SweepHandle", "RecordWarning", "run_sweep", "submit_sweep"]


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
# run_sweep
# ---------------------------------------------------------------------------
def _plan_runs(instance: Instance, runs: list[Run], options: RunOptions) -> tuple[list[dict], dict[str, dict]]:
    """The manifest's entries (one per run) and the tasks (one per distinct key, with its
    readable ``label``: :func:`~ccgmerge.analysis.sweep.scenarios.run_labels`)."""
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
    labels = run_labels(manifest_runs)
    for k, t in tasks.items():
        t["label"] = labels[k]
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
    wait: bool = True,
):
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
        a dask client gets the instance scattered once to every worker, and each
        run is a task named after the run (``ccgmerge-run floor=250000
        coterminosity=aligned (3f2a9c1d, <token>)``); any other executor
        (threads, ...) gets the object itself. An executor you pass is not shut
        down.
    workers : int, optional
        Processes of the default pool (ignored when ``executor`` is given).
    progress : None, bool, "bar", "log", "off" or callable
        None: a tqdm bar on stderr when it is a terminal, plain log lines
        otherwise; each line names the run by what sets it apart
        (``floor=250000 coterminosity=aligned``, its tags). A callable is
        called with each finished record.
    retry_errors : bool
        Also recompute runs whose existing result has status ``error``.
    wait : bool
        True (default): return the :class:`SweepResult` when every run is
        done. False: return a :class:`SweepHandle` at once (the same as
        :func:`submit_sweep`), with the runs' futures; records are written as
        the runs finish, and ``handle.result()`` waits and returns the
        :class:`SweepResult`.

    Returns
    -------
    SweepResult, or SweepHandle with ``wait=False``
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
    lock = FolderLock(out).acquire()
    try:
        job = SweepJob(instance, runs, out, options, progress, retry_errors, t0)
        pool = job.open(executor, workers)
    except BaseException:
        lock.release()
        raise
    if not wait:
        return SweepHandle(job, pool, lock)
    try:
        try:
            interrupted = job.drive(pool)
        except BaseException:
            job.prog.close()
            raise
        return job.finish(interrupted, raise_interrupted=True)
    finally:
        lock.release()


def submit_sweep(instance: Instance, scenarios: Iterable, out_dir, **kwargs) -> "SweepHandle":
    """Start a sweep and return at once: :func:`run_sweep` with ``wait=False``.

    The returned :class:`SweepHandle` has ``futures`` (run key to its future:
    dask futures on a dask client, ``concurrent.futures`` futures otherwise),
    ``labels`` (run key to its readable label), ``done()``, ``cancel()`` and
    ``result()``. The folder stays locked until the sweep ends."""
    return run_sweep(instance, scenarios, out_dir, wait=False, **kwargs)


class SweepJob:
    """One sweep in a locked folder, from its manifest to ``results.csv``
    (used by :func:`run_sweep` and :class:`SweepHandle`)."""

    def __init__(self, instance: Instance, runs: list[Run], out: Path, options: RunOptions, progress,
                 retry_errors: bool, t0: float):
        self.instance, self.runs, self.out, self.t0 = instance, runs, out, t0
        (out / "runs").mkdir(exist_ok=True)
        clean_tmp(out)
        self.inst_dir, self.round_trip = write_instance(instance, out)
        manifest_runs, self.tasks = _plan_runs(instance, runs, options)
        manifest = {"format": MANIFEST_FORMAT, "created": now(),
                    "instance": {"name": instance.name, "fingerprint": instance.fingerprint, "folder": "instance"},
                    "n_runs": len(runs), "n_unique": len(self.tasks), "runs": manifest_runs}
        atomic_write(out / "sweep.json", dumps(manifest))
        existing, bad = scan_records(out, {k: t["fingerprint"] for k, t in self.tasks.items()})
        for k, reason in bad.items():
            if k in self.tasks:
                warnings.warn(f"{out / 'runs' / k}.json: {reason}; recomputing", RecordWarning, stacklevel=3)
        self.todo = [t for k, t in self.tasks.items()
                     if k not in existing or (retry_errors and existing[k].get("status") == "error")]
        self.labels = {k: t["label"] for k, t in self.tasks.items()}
        self.skipped = len(self.tasks) - len(self.todo)
        self.prog = Progress(progress, total=len(self.tasks), skipped=self.skipped)
        self.lost: dict[str, str] = {}
        self.computed = 0
        self.on_record = None  # called with (task, record) after each record is handled

    def open(self, executor, workers):
        """The pool that solves the runs still to do (None when there are none); tasks are submitted now."""
        inst, out, todo = self.instance, self.out, self.todo
        if not todo:
            self.prog.log(f"all {len(self.tasks)} distinct runs already done in {out}")
            return None
        csv_source = ("csv", str(self.inst_dir.resolve()), inst.fingerprint, inst.name)
        if executor is None:
            n = min(workers or os.cpu_count() or 1, len(todo))
            src = csv_source if self.round_trip else inst
            where = f"{n} worker process{'' if n == 1 else 'es'}"
        else:
            where = type(executor).__name__
            dask = is_dask_client(executor)
            if dask:
                src = executor.scatter(inst, broadcast=True, hash=False)
            elif isinstance(executor, cf.ProcessPoolExecutor) and self.round_trip:
                src = csv_source
            else:
                src = inst
        self.prog.log(f"{len(self.tasks)} distinct runs ({len(self.runs)} in all) on {inst.name!r}: {self.skipped} "
                      f"already done, {len(todo)} to solve on {where}; results in {out}")
        return WorkerPool(n, src) if executor is None else ExecutorPool(executor, src, todo, dask)

    def handle(self, task: dict, rec: dict | None, msg: str | None) -> None:
        if rec is None:
            self.lost[task["key"]] = msg
            rec = {"key": task["key"], "status": "error", "message": msg}
        else:
            atomic_write(self.out / "runs" / f"{task['key']}.json", dumps(rec))
            self.computed += 1
        self.prog.update(rec, label=task.get("label"))
        if self.on_record is not None:
            self.on_record(task, rec)

    def drive(self, pool, stop: threading.Event | None = None) -> bool:
        """Solve the runs on ``pool``, writing each record; True when interrupted (Ctrl-C or ``stop``)."""
        if pool is None:
            return False
        current = None
        clean = interrupted = False
        try:
            for current in pool.run(self.todo, stop):
                self.handle(*current)
                current = None
            interrupted = stop is not None and stop.is_set()
            clean = not interrupted
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if interrupted:
                if current is not None and current[1] is not None \
                        and not (self.out / "runs" / f"{current[0]['key']}.json").is_file():
                    self.handle(*current)  # the record being written when the interruption came
                for task, rec in pool.harvest():  # finished, not yet written
                    self.handle(task, rec, None)
            pool.close(kill=not clean)
        return interrupted

    def finish(self, interrupted: bool, raise_interrupted: bool) -> SweepResult:
        """Rebuild ``results.csv`` from the records on disk; the :class:`SweepResult`."""
        self.prog.close()
        out, tasks = self.out, self.tasks
        table, recs = load_results(out)
        for k, msg in self.lost.items():
            sel = table["key"] == k
            table.loc[sel, "status"] = "error"
            table.loc[sel, "message"] = msg
        atomic_write(out / "results.csv", table.to_csv(index=False))
        res = SweepResult(out, table, n_runs=len(self.runs), n_unique=len(tasks), computed=self.computed,
                          skipped=self.skipped, lost=self.lost, wall_time=time.perf_counter() - self.t0,
                          interrupted=interrupted)
        if interrupted:
            done = sum(k in recs for k in tasks)
            message = (f"interrupted: {done} of {len(tasks)} distinct runs are done and kept in {out / 'runs'} "
                       f"({self.computed} solved now); the others were stopped. Rerun the same command to resume.")
            if raise_interrupted:
                raise SweepInterrupted(message, res) from None
            self.prog.log(message)
            return res
        self.prog.log(f"done in {res.wall_time:.1f} s: " + ", ".join(f"{k} {v}" for k, v in res.status_counts.items()))
        return res


class SweepHandle:
    """A sweep running in the background: :func:`submit_sweep` or ``run_sweep(..., wait=False)``.

    Attributes
    ----------
    futures : dict
        Run key to the future of its record, for the runs being solved (not
        those already done in the folder): dask futures on a dask client,
        ``concurrent.futures.Future`` objects otherwise. A future may be done
        a moment before its record is written; :meth:`result` waits for both.
    labels : dict
        Run key to its readable label (``floor=250000 coterminosity=aligned``).
    out_dir : Path

    A background thread writes each record as its run finishes; the folder
    stays locked until the sweep ends. :meth:`cancel` stops it (finished runs
    are kept); :meth:`result` waits and returns the :class:`SweepResult`
    (``interrupted`` is True after :meth:`cancel`).
    """

    def __init__(self, job: SweepJob, pool, lock: FolderLock):
        self.job, self.out_dir, self.labels = job, job.out, dict(job.labels)
        self._pool, self._lock = pool, lock
        self._stop = threading.Event()
        self._result: SweepResult | None = None
        self._error: BaseException | None = None
        if isinstance(pool, ExecutorPool):
            self.futures = dict(pool.futures)
        else:  # the default pool: futures resolved here as records arrive
            self.futures = {t["key"]: cf.Future() for t in job.todo}
            for f in self.futures.values():
                f.set_running_or_notify_cancel()
            job.on_record = self._resolve
        self._thread = threading.Thread(target=self._main, name="ccgmerge-sweep", daemon=True)
        self._thread.start()

    def _resolve(self, task: dict, rec: dict) -> None:
        fut = self.futures.get(task["key"])
        if isinstance(fut, cf.Future) and not fut.done():
            fut.set_result(rec)

    def _main(self) -> None:
        try:
            interrupted = self.job.drive(self._pool, self._stop)
            self._result = self.job.finish(interrupted, raise_interrupted=False)
        except BaseException as exc:  # handed to result()
            self._error = exc
        finally:
            self._lock.release()
            for k, f in self.futures.items():  # the default pool's runs that never came back
                if isinstance(f, cf.Future) and not f.done():
                    f.set_exception(RuntimeError(f"run {self.labels.get(k, k)} was stopped before it finished"))

    def done(self) -> bool:
        """Whether the sweep has ended (every record written, ``results.csv`` rebuilt)."""
        return not self._thread.is_alive()

    def cancel(self) -> None:
        """Stop the sweep: runs not finished are cancelled (the default pool's workers killed)."""
        self._stop.set()

    def result(self, timeout: float | None = None) -> SweepResult:
        """Wait for the sweep to end and return its :class:`SweepResult` (TimeoutError after ``timeout`` s)."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the sweep into {self.out_dir} is still running after {timeout} s.")
        if self._error is not None:
            raise self._error
        return self._result

    def __repr__(self) -> str:
        state = "done" if self.done() else "running"
        return f"SweepHandle({str(self.out_dir)!r}: {len(self.futures)} runs submitted, {state})"
