"""Running a sweep: :func:`run_sweep`, its workers, executors and dask.

:func:`run_sweep` writes the instance and the manifest into the output folder
(:mod:`ccgmerge.analysis.sweep.store`), skips the runs whose result already
exists (resume) and solves the others on an executor: by default a
``ProcessPoolExecutor``, or any ``concurrent.futures.Executor``, or a
``dask.distributed.Client``. The worker function :func:`_execute` solves one
run; process workers load the instance from its CSV copy once per process (a
small per-process cache), a dask client gets it scattered once to every
worker, and other executors get the object itself.

Statuses in the results: the plan's own status (``optimal``, ``feasible``,
``infeasible``, ``no_solution``), or ``error`` when the run raised (the
exception is recorded in ``message`` and ``traceback``; the other runs go on).
A run stopped by its ``time_limit`` is not an exception: it keeps the plan's
honest status (``feasible`` with its gap, or ``no_solution``) and a
``message`` saying that the time limit was reached. A run whose worker died
(for example a killed process) is reported as ``error`` in the returned table
but is *not* written to ``runs/``, so the next run of the sweep computes it.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as _dt
import os
import socket
import threading
import time
import traceback
import warnings
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ccgmerge import data as _data
from ccgmerge.analysis.sweep.progress import Progress
from ccgmerge.analysis.sweep.scenarios import Run, RunOptions, canon, dumps, scenario_key
from ccgmerge.analysis.sweep.store import (
    MANIFEST_FORMAT,
    RECORD_FORMAT,
    atomic_write,
    clean_tmp,
    load_results,
    read_records,
    write_instance,
)
from ccgmerge.errors import CCGMergeError, ScenarioError
from ccgmerge.instance import Instance
from ccgmerge.scenario import Scenario

__all__ = ["SweepResult", "run_sweep"]


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


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
    return canon(rec)


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
        Output folder (created); see :mod:`ccgmerge.analysis.sweep.store` for its layout.
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
    clean_tmp(out)
    inst_dir, round_trip = write_instance(instance, out)
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
    manifest = {"format": MANIFEST_FORMAT, "created": _now(),
                "instance": {"name": instance.name, "fingerprint": base_fp, "folder": "instance"},
                "n_runs": len(runs), "n_unique": len(tasks), "runs": manifest_runs}
    atomic_write(out / "sweep.json", dumps(manifest))

    existing = read_records(out)
    todo = [t for k, t in tasks.items()
            if k not in existing or (retry_errors and existing[k].get("status") == "error")]
    skipped = len(tasks) - len(todo)
    prog = Progress(progress, total=len(tasks), skipped=skipped)
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
                        atomic_write(out / "runs" / f"{task['key']}.json", dumps(rec))
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
    atomic_write(out / "results.csv", table.to_csv(index=False))
    res = SweepResult(out, table, n_runs=len(runs), n_unique=len(tasks), computed=computed, skipped=skipped,
                      lost=lost, wall_time=time.perf_counter() - t0)
    prog.log(f"done in {res.wall_time:.1f} s: " + ", ".join(f"{k} {v}" for k, v in res.status_counts.items()))
    return res
