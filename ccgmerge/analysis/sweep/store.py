"""The output folder of a sweep: atomic writes, run records, results, resume.

Output folder (plain CSV and JSON only; nothing is ever pickled)::

    out_dir/
      instance/      the instance's tables (ccgmerge.data.to_csv) + instance.json,
                     written once; process workers load it once per process
      runs/<key>.json one result per distinct run, written atomically as soon as
                     it finishes (temporary file in runs/, then os.replace)
      sweep.json     the manifest: every run of the latest sweep, in order, with
                     its key, tags (e.g. year), scenario and options
      results.csv    one tidy row per run (written at the end of the sweep)

``<key>`` is :func:`~ccgmerge.analysis.sweep.scenarios.scenario_key`. Running
a sweep again into the same folder *resumes* it: runs whose JSON exists are
skipped, nothing finished is recomputed or lost. Temporary files left by an
interrupted sweep (names starting ``.tmp-``) are removed by :func:`clean_tmp`.
:func:`load_results` reads the table and the records back, :func:`load_plan`
rebuilds one run's plan.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import pandas as pd

from ccgmerge import data as _data
from ccgmerge.analysis.sweep.scenarios import SCENARIO_FIELDS, dumps
from ccgmerge.errors import CCGMergeError, ScenarioError
from ccgmerge.instance import Instance
from ccgmerge.scenario import Scenario

__all__ = ["load_results", "load_plan"]

RECORD_FORMAT = "ccgmerge-sweep-run/1"
"""Format tag of a run record (``runs/<key>.json``)."""
MANIFEST_FORMAT = "ccgmerge-sweep/1"
"""Format tag of the manifest (``sweep.json``) and of ``instance/instance.json``."""
_TMP_PREFIX = ".tmp-"


# ---------------------------------------------------------------------------
# atomic writes
# ---------------------------------------------------------------------------
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def atomic_write(path: Path, text: str) -> None:
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


# ---------------------------------------------------------------------------
# the instance and temporary files
# ---------------------------------------------------------------------------
def clean_tmp(out: Path) -> None:
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


def write_instance(instance: Instance, out: Path) -> tuple[Path, bool]:
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
    (tmp / "instance.json").write_text(dumps(meta), encoding="utf-8")
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(tmp, folder)
    if not ok:
        warnings.warn(f"instance {instance.name!r} does not round-trip through CSV exactly; workers get it in memory.",
                      stacklevel=3)
    return folder, ok


# ---------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------
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
    for k in [*SCENARIO_FIELDS, "floor_population", *sorted(scen)]:
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


def read_records(out: Path) -> dict[str, dict]:
    """Every readable result record in ``out/runs``, by key (temporary files skipped)."""
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
    recs = read_records(out)
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
    from ccgmerge.metrics import groups_from_assignment
    from ccgmerge.plan import Infeasibility, Plan, Status

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
