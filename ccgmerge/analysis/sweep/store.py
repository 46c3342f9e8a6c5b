"""The output folder of a sweep: atomic writes, run records, results, resume.

Output folder (plain CSV and JSON only; nothing is ever pickled)::

    out_dir/
      instance/      the instance's tables (ccgmerge.data.to_csv) + instance.json,
                     written once; process workers load it once per process
      runs/<key>.json one result per distinct run, written atomically as soon as
                     it finishes (temporary file in runs/, then os.replace)
      sweep.json     the manifest: every run of the latest sweep, in order, with
                     its key, tags (e.g. year), scenario and options
      results.csv    one tidy row per run of the latest sweep, rebuilt from the
                     valid records on disk at the end of every sweep (also an
                     interrupted one), written atomically
      .lock.json     who holds the folder (lock.py)

``<key>`` is :func:`~ccgmerge.analysis.sweep.scenarios.scenario_key`. Running
a sweep again into the same folder *resumes* it: runs whose JSON exists are
skipped, nothing finished is recomputed or lost. Every record is checked by
:func:`validate_record` before it is trusted (a JSON object in the run-record
format, written for this run: the key inside it is the file's name, its
scenario, options and instance give that key again, and the instance is the
sweep's); a record that fails is named, with the reason, and recomputed.
Temporary files (names starting ``.tmp-<pid>-``) left by a sweep that died are
removed by :func:`clean_tmp` (only those of dead processes).
:func:`load_results` reads the table and the records back, :func:`load_plan`
rebuilds one run's plan. A sweep holds ``.lock.json``
(:mod:`ccgmerge.analysis.sweep.lock`) while it runs.
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
from ccgmerge.analysis.sweep.scenarios import SCENARIO_FIELDS, RunOptions, dumps, scenario_key
from ccgmerge.errors import CCGMergeError, ScenarioError
from ccgmerge.instance import Instance
from ccgmerge.output import atomic_write as write_atomically
from ccgmerge.scenario import Scenario

__all__ = ["load_results", "load_plan", "validate_record"]

RECORD_FORMAT = "ccgmerge-sweep-run/1"
"""Format tag of a run record (``runs/<key>.json``)."""
MANIFEST_FORMAT = "ccgmerge-sweep/1"
"""Format tag of the manifest (``sweep.json``) and of ``instance/instance.json``."""
_TMP_PREFIX = ".tmp-"
STATUSES = ("optimal", "feasible", "infeasible", "no_solution", "error")
"""The statuses a run record may have."""


def tmp_prefix() -> str:
    """Prefix of this process's temporary files: ``.tmp-<pid>-`` (so a cleanup can tell
    whose they are)."""
    return f"{_TMP_PREFIX}{os.getpid()}-"


# ---------------------------------------------------------------------------
# atomic writes
# ---------------------------------------------------------------------------
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (:func:`ccgmerge.output.atomic_write`),
    the temporary file named after this process (:func:`tmp_prefix`)."""
    write_atomically(path, text, prefix=tmp_prefix())


# ---------------------------------------------------------------------------
# the instance and temporary files
# ---------------------------------------------------------------------------
def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process
        return True
    return True


def tmp_owner(name: str) -> int | None:
    """The PID in a temporary file's name (``.tmp-<pid>-...``), or None (an older layout)."""
    head = name[len(_TMP_PREFIX):].split("-", 1)[0]
    return int(head) if head.isdigit() else None


def clean_tmp(out: Path) -> list[Path]:
    """Remove the temporary files and folders left in ``out`` and ``out/runs`` by
    sweeps that died, and return them. Called with the folder's lock held. A
    file is removed only when the process named in it (``.tmp-<pid>-``) is this
    one or a dead one, never another live process's file in flight."""
    removed = []
    me = os.getpid()
    for folder in (out, out / "runs"):
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if not p.name.startswith(_TMP_PREFIX):
                continue
            pid = tmp_owner(p.name)
            if pid is not None and pid != me and _pid_alive(pid):
                continue
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                try:
                    p.unlink()
                except OSError:
                    continue
            removed.append(p)
    return removed


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
    tmp = Path(tempfile.mkdtemp(dir=out, prefix=tmp_prefix() + "instance-"))
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


def _kind(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true/false"
    return {list: "a list", str: "a string", int: "a number", float: "a number", dict: "a table"}.get(
        type(v), type(v).__name__)


def _is_num(v) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def _check_fields(rec: dict) -> str | None:
    """Why the fields that the results table and load_plan read are unusable (None: fine)."""
    m = rec.get("metrics")
    if not isinstance(m, dict):
        return f"its metrics are {_kind(m)}, not a table"
    for c in (*_METRIC_COLUMNS, "objective", "bound"):
        if not _is_num(m.get(c)):
            return f"metric {c!r} is {m.get(c)!r}, not a number"
    if m.get("checked") is not None and not isinstance(m.get("checked"), bool):
        return f"metric 'checked' is {m.get('checked')!r}, not true/false"
    for k in ("gap", "wall_time", "solve_time"):
        if not _is_num(rec.get(k)):
            return f"{k!r} is {rec.get(k)!r}, not a number"
    for k in ("message", "solver", "formulation"):
        if rec.get(k) is not None and not isinstance(rec.get(k), str):
            return f"{k!r} is {_kind(rec.get(k))}, not text"
    for k, t in (("assignment", dict), ("infeasibility", dict), ("subproblems", list)):
        if rec.get(k) is not None and not isinstance(rec.get(k), t):
            return f"{k!r} is {_kind(rec.get(k))}"
    return None


def validate_record(path, key: str | None = None, fingerprint: str | None = None) -> dict | str:
    """The run record in ``path`` if it can be trusted as the result of run ``key``
    on the instance with ``fingerprint``, else the reason why not (a string).

    Checked: the file is a JSON object in the run-record format
    (:data:`RECORD_FORMAT`) with a known status and usable fields; the key inside
    it is ``key`` (by default the file's name) and so is the file's name (not a
    copy of another run's record); its instance fingerprint is ``fingerprint``
    (when given); and its scenario, options and fingerprint give ``key`` again
    (:func:`~ccgmerge.analysis.sweep.scenarios.scenario_key`: not edited).

    >>> import json, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "abc.json"
    >>> _ = p.write_text(json.dumps([1]))
    >>> validate_record(p)
    'not a ccgmerge run record (a list)'
    """
    path = Path(path)
    key = path.stem if key is None else str(key)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return "missing"
    except UnicodeDecodeError:
        return "not a ccgmerge run record (not UTF-8 text)"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    try:
        rec = json.loads(text)
    except ValueError as exc:
        return f"not valid JSON ({exc})"
    if not isinstance(rec, dict):
        return f"not a ccgmerge run record ({_kind(rec)})"
    if rec.get("format") != RECORD_FORMAT:
        what = "no format tag" if "format" not in rec else f"format {rec.get('format')!r}"
        return f"not a ccgmerge run record ({what}; expected {RECORD_FORMAT!r})"
    if path.stem != key:
        return f"the file is named for run {path.stem}, not {key}"
    if rec.get("key") != key:
        return f"holds the record of another run ({rec.get('key')!r}), not of {key} (copied or renamed)"
    if rec.get("status") not in STATUSES:
        return f"status {rec.get('status')!r} is not one of {list(STATUSES)}"
    inst = rec.get("instance")
    fp = inst.get("fingerprint") if isinstance(inst, dict) else None
    if not isinstance(fp, str):
        return "it names no instance fingerprint"
    if fingerprint is not None and fp != fingerprint:
        return f"solved on another instance (fingerprint {fp}; this run's instance is {fingerprint})"
    scen, opts = rec.get("scenario"), rec.get("options")
    if not isinstance(scen, dict) or not isinstance(opts, dict):
        return "its scenario or options are missing"
    try:
        again = scenario_key(Scenario.from_dict(scen), RunOptions.from_dict(opts), fp)
    except (CCGMergeError, TypeError, ValueError, KeyError, AttributeError) as exc:
        return f"its scenario or options are not valid ({exc})"
    if again != key:
        return f"its scenario, options and instance are those of run {again}, not of {key} (edited or foreign)"
    return _check_fields(rec) or rec


def scan_records(out: Path, expected: dict[str, str | None] | None = None) -> tuple[dict[str, dict], dict[str, str]]:
    """Every run record in ``out/runs``, validated (:func:`validate_record`).

    ``expected`` maps keys to the instance fingerprint their runs must have
    (None: any). Returns the valid records by key, and the reasons by key for
    the others (temporary files are skipped)."""
    expected = expected or {}
    good, bad = {}, {}
    runs_dir = Path(out) / "runs"
    if runs_dir.is_dir():
        for p in sorted(runs_dir.glob("*.json")):
            if p.name.startswith(_TMP_PREFIX):
                continue
            got = validate_record(p, p.stem, expected.get(p.stem))
            if isinstance(got, dict):
                good[p.stem] = got
            elif got != "missing":  # removed meanwhile
                bad[p.stem] = got
    return good, bad


def read_records(out: Path) -> dict[str, dict]:
    """Every valid result record in ``out/runs``, by key (:func:`scan_records`)."""
    return scan_records(out)[0]


def record_problem(key: str, reason: str, then: str) -> str:
    """``runs/<key>.json: <reason>; <then>``: the message about a record that is not trusted."""
    return f"runs/{key}.json: {reason}; {then}"


def read_manifest(out: Path) -> list[dict] | None:
    """The runs of the latest sweep in ``out`` (``sweep.json``), or None when there is none."""
    man = Path(out) / "sweep.json"
    if not man.is_file():
        return None
    try:
        d = json.loads(man.read_text(encoding="utf-8"))
        runs = d["runs"]
        if not isinstance(runs, list) or not all(isinstance(r, dict) and isinstance(r.get("key"), str) for r in runs):
            raise ValueError("runs")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CCGMergeError(f"{man}: not a ccgmerge sweep manifest ({exc}); rerun the sweep to rewrite it.") from None
    return runs


def load_results(out_dir) -> tuple[pd.DataFrame, dict[str, dict]]:
    """Read a sweep's results from its folder.

    Returns
    -------
    (DataFrame, dict)
        The tidy table (one row per run of the latest sweep, in order, as in
        ``results.csv``; runs without a result file yet have status
        ``pending``, and so do runs whose record fails
        :func:`validate_record`, with the reason in ``message``), and every
        valid result record in ``runs/`` by key (each a superset of
        :meth:`ccgmerge.plan.Plan.to_dict`, with the assignment unit -> group
        when there is a plan). Without a manifest, one row per valid result
        file.
    """
    out = Path(out_dir)
    runs = read_manifest(out)
    expected = {r["key"]: r.get("fingerprint") for r in runs} if runs is not None else None
    recs, bad = scan_records(out, expected)
    if runs is None:
        runs = [{"key": k, "tags": {}, "scenario": r.get("scenario"), "options": r.get("options"),
                 "fingerprint": (r.get("instance") or {}).get("fingerprint"),
                 "population_factor": (r.get("instance") or {}).get("population_factor", 1.0)} for k, r in recs.items()]
    rows = []
    for r in runs:
        row = _row(r, recs.get(r["key"]))
        if r["key"] in bad:
            row["message"] = record_problem(r["key"], bad[r["key"]], "ignored; the next run of the sweep recomputes it")
        rows.append(row)
    return pd.DataFrame(rows), recs


def load_plan(out_dir, key: str, instance: Instance | None = None):
    """Rebuild the :class:`~ccgmerge.plan.Plan` of one run from its JSON record
    (groups from the assignment; the verdict is re-checked now, solver-free).

    ``instance`` defaults to the one saved in ``out_dir/instance`` (with the
    run's population factor applied)."""
    from ccgmerge.check import check_plan
    from ccgmerge.metrics import groups_from_assignment
    from ccgmerge.plan import Infeasibility, Plan, Status

    out = Path(out_dir)
    rec = validate_record(out / "runs" / f"{key}.json", key)
    if isinstance(rec, str):
        raise CCGMergeError(f"{out / 'runs' / f'{key}.json'}: {rec}.")
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
