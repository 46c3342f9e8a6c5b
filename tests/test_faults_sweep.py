"""Fault injection for scenario sweeps (issue 13, items 5-8, and the sweep-config part of 9).

Real ``ccgmerge sweep`` processes are started on small TOML sweeps and hurt:
their parent killed (TERM, KILL, the whole process group) before any run
finished, mid-way, or while writing a record or ``results.csv``; one worker
killed mid-run; Ctrl-C (SIGINT to the CLI process); two sweeps started
together on one folder; run records corrupted or copied from elsewhere. After
each, no process of the sweep may survive, nothing finished may be lost, and a
rerun must complete the sweep with every row in ``results.csv``.

The sweeps run on ``generate(60, seed=7)`` with coterminosity "penalised":
floors up to 1.5 x the median solve in ~0.1 s ("fast" runs); floors from 2.6 x
run into the time limit ("slow" runs, ~limit seconds; with formulation
"compact" they run CBC). Kill moments are found by polling ``runs/`` and the
process tree in /proc, not by fixed sleeps.

To show a test failing on the code before the fixes, run it against a checkout
of that code (``PYTHONPATH=/old/checkout``): the subprocesses use the package
this module imported, and the old flat module ``ccgmerge.sweep`` is found too.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ccgmerge
from ccgmerge import generate
from ccgmerge.errors import CCGMergeError, ScenarioError
from ccgmerge.scenario import Scenario

# the package under test (an editable install of another checkout must not mix in its subpackages)
NEW_LAYOUT = (Path(ccgmerge.__file__).resolve().parent / "analysis" / "sweep").is_dir()
if NEW_LAYOUT:
    from ccgmerge.analysis.sweep import load_results, read_config, run_sweep, scenario_key
else:  # the flat module of the code before the layout change
    from ccgmerge.sweep import load_results, read_config, run_sweep, scenario_key


def _new_api(name: str):
    """A name of the hardened package (absent before: the test fails, it does not skip)."""
    if not NEW_LAYOUT:
        pytest.fail(f"{name} does not exist in {Path(ccgmerge.__file__).parent}")
    import importlib

    mod, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(mod), attr)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree in /proc")

ROOT = Path(ccgmerge.__file__).resolve().parent.parent  # the package under test, for the subprocesses

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    INST = generate(60, seed=7)
MEDIAN = float(np.median(INST.population))
FAST = (0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5)
SLOW = (2.6, 2.8, 3.0, 3.2, 3.4, 3.6, 3.8, 4.0)
SOLVED = {"optimal", "feasible"}
LIVE: list[tuple[int, int]] = []  # (pid, start time) of every process the tests saw, killed at teardown


# --------------------------------------------------------------------------- processes
def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _start_time(pid: int) -> int | None:
    st = _stat(pid)
    return int(st[19]) if st else None


def _alive(pid: int, started: int | None = None) -> bool:
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X") and (started is None or int(st[19]) == started)


def _tree(pid: int) -> list[int]:
    """Every descendant of ``pid`` (remembered for the teardown)."""
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = _stat(int(d))
            if st:
                kids.setdefault(int(st[1]), []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    LIVE.extend((p, _start_time(p)) for p in out)
    return out


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _survivors(procs: list[tuple[int, int]], timeout: float = 5.0) -> list[str]:
    """Those of ``procs`` still alive after ``timeout`` seconds, described."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [(p, s) for p, s in procs if _alive(p, s)]
        if not alive or time.monotonic() > deadline:
            return [f"{p} {_comm(p)} (parent {(_stat(p) or ['', '?'])[1]})" for p, _ in alive]
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def _no_leftovers():
    """Kill whatever a test started and left behind (by PID and start time)."""
    yield
    for pid, started in LIVE:
        if _alive(pid, started):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    LIVE.clear()


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


class Sweep:
    """A ``ccgmerge sweep CONFIG --out DIR`` process in a session of its own;
    ``pre`` is Python code run first in the same process (fault injection)."""

    def __init__(self, cfg: Path, out: Path, name: str = "sweep", pre: str = ""):
        self.out = Path(out)
        folder = Path(cfg).parent
        self.stdout_path, self.stderr_path = folder / f"{name}.out", folder / f"{name}.err"
        if pre:
            cmd = [sys.executable, "-c", pre + "\nimport sys\nfrom ccgmerge.cli import main\nsys.exit(main(sys.argv[1:]))"]
        else:
            cmd = [sys.executable, "-m", "ccgmerge"]
        with open(self.stdout_path, "w") as so, open(self.stderr_path, "w") as se:
            self.proc = subprocess.Popen(cmd + ["sweep", str(cfg), "--out", str(out)], env=_env(), stdout=so,
                                         stderr=se, start_new_session=True)
        LIVE.append((self.proc.pid, _start_time(self.proc.pid)))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.stdout_path.read_text() + self.stderr_path.read_text()

    def wait_for(self, what: str, cond, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            assert self.proc.poll() is None, f"the sweep ended (code {self.proc.returncode}) before {what}:\n{self.text()}"
            assert time.monotonic() < deadline, f"no {what} within {timeout} s:\n{self.text()}"
            time.sleep(0.02)

    def workers(self) -> list[int]:
        return [p for p in _tree(self.pid) if _stat(p) and int(_stat(p)[1]) == self.pid]

    def processes(self) -> list[tuple[int, int]]:
        return [(p, _start_time(p)) for p in [self.pid, *_tree(self.pid)]]

    def finish(self, timeout: float = 120.0) -> int:
        return self.proc.wait(timeout)

    def summary(self) -> dict:
        """``N solved now, M already done`` from the printed summary."""
        m = re.search(r"(\d+) solved now, (\d+) already done", self.stdout_path.read_text())
        assert m, self.text()
        return {"computed": int(m[1]), "skipped": int(m[2])}


def _config(folder: Path, fast: int = 0, slow: int = 0, limit: float = 2, workers: int = 2,
            formulation: str | None = None, name: str = "sweep.toml") -> Path:
    floors = [round(MEDIAN * f) for f in FAST[:fast]] + [round(MEDIAN * f) for f in SLOW[:slow]]
    form = f'formulation = "{formulation}"\n' if formulation else ""
    cfg = Path(folder) / name
    cfg.write_text(f'[instance]\ndataset = "synthetic"\nunits = 60\nseed = 7\n[scenario]\ncoterminosity = "penalised"\n'
                   f"[grid]\nfloor = {json.dumps(floors)}\n[options]\ntime_limit = {limit}\n{form}"
                   f"[sweep]\nworkers = {workers}\n")
    return cfg


def _keys(cfg: Path) -> set[str]:
    c = read_config(cfg)
    return {scenario_key(r.scenario, c.options, c.instance.fingerprint) for r in c.runs}


def _records(out: Path) -> dict[str, tuple[int, int]]:
    """Finished records in ``out/runs``: name -> (inode, mtime)."""
    runs = Path(out) / "runs"
    if not runs.is_dir():
        return {}
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in runs.glob("*.json") if not p.name.startswith(".")}


def _tmp_files(out: Path) -> list[Path]:
    return [p for p in Path(out).rglob(".tmp-*")]


def _assert_kept(out: Path, before: dict) -> None:
    """Every record present before is still there, untouched and whole."""
    after = _records(out)
    assert set(before) <= set(after), sorted(set(before) - set(after))
    for name in before:
        assert after[name] == before[name], name
        rec = json.loads((Path(out) / "runs" / name).read_text())
        assert rec["key"] == name[:-5]


def _assert_complete(out: Path, keys: set[str]) -> pd.DataFrame:
    """results.csv has every run, every one solved, and every record is whole."""
    csv = pd.read_csv(Path(out) / "results.csv")
    assert set(csv["key"]) == keys and len(csv) == len(keys)
    assert set(csv["status"]) <= SOLVED, csv[["key", "status", "message"]]
    assert set(_records(out)) == {f"{k}.json" for k in keys}
    assert not _tmp_files(out), _tmp_files(out)
    return csv


# --------------------------------------------------------------------------- item 5: kills of the parent
@pytest.mark.parametrize("sig, target, moment", [
    ("TERM", "parent", "before"),
    ("KILL", "parent", "before"),
    ("TERM", "parent", "midway"),
    ("KILL", "parent", "midway"),
    ("KILL", "group", "before"),
    ("KILL", "group", "midway"),
])
def test_workers_die_with_the_sweep(tmp_path, sig, target, moment):
    """Issue 13.5: after kill -TERM / -KILL of the sweep (or of its process group)
    no worker or CBC of it goes on; what had finished stays."""
    if moment == "before":  # every run slow and in CBC: kill while both workers run CBC, nothing finished
        cfg = _config(tmp_path, slow=4, limit=20, formulation="compact")
    else:  # two quick runs finish, then the slow ones are being solved
        cfg = _config(tmp_path, fast=2, slow=4, limit=2)
    out = tmp_path / "out"
    sw = Sweep(cfg, out)
    if moment == "before":
        sw.wait_for("two CBC processes", lambda: sum(_comm(p).startswith("cbc") for p in _tree(sw.pid)) >= 2)
        assert not _records(out)
    else:
        sw.wait_for("two finished runs", lambda: len(_records(out)) >= 2)
        sw.wait_for("busy workers", lambda: len(sw.workers()) >= 2)
    procs = sw.processes()
    assert len(procs) >= 3, procs
    before = _records(out)
    signum = getattr(signal, f"SIG{sig}")
    (os.killpg if target == "group" else os.kill)(sw.pid, signum)
    code = sw.finish(timeout=30)
    assert _survivors(procs) == [], f"processes of the sweep outlived it:\n{sw.text()}"
    _assert_kept(out, before)
    if sig == "TERM":  # stopped like Ctrl-C: results.csv has every run, finished or not
        assert code == 128 + signal.SIGTERM, sw.text()
        csv = pd.read_csv(out / "results.csv")
        assert len(csv) == len(_keys(cfg)) and set(csv["status"]) <= SOLVED | {"pending"}
    else:
        assert code == -signum
    if sig == "KILL" and target == "parent" and moment == "midway":  # a rerun loses and repeats nothing
        again = Sweep(cfg, out, name="again")
        assert again.finish() == 0, again.text()
        assert again.summary() == {"computed": len(_keys(cfg)) - len(before), "skipped": len(before)}
        _assert_kept(out, before)
        _assert_complete(out, _keys(cfg))


SLOW_REPLACE = """
import os, pathlib, time
_replace, _seen = os.replace, []
def _slow_replace(src, dst, *a, **k):
    name = os.path.basename(str(dst))
    if name.endswith(".json") and os.path.basename(os.path.dirname(str(dst))) == "runs":
        _seen.append(name)
    if {cond}:
        pathlib.Path({marker!r}).write_text(str(src))
        time.sleep(60)
    return _replace(src, dst, *a, **k)
os.replace = _slow_replace
"""


@pytest.mark.parametrize("moment", ["record", "results"])
def test_kill_while_writing(tmp_path, moment):
    """A KILL while the sweep writes its third record, or results.csv: nothing
    finished is lost, no half-written file is trusted, the rerun completes."""
    cfg = _config(tmp_path, fast=6)
    out, marker = tmp_path / "out", tmp_path / "writing"
    cond = "name == 'results.csv'" if moment == "results" else "len(_seen) == 3 and name.endswith('.json')"
    sw = Sweep(cfg, out, pre=SLOW_REPLACE.format(cond=cond, marker=str(marker)))
    sw.wait_for("the slowed write", marker.exists)
    procs = sw.processes()
    before = _records(out)
    os.kill(sw.pid, signal.SIGKILL)
    sw.finish(timeout=30)
    assert _survivors(procs) == []
    assert Path(marker.read_text()).exists()  # the temporary file the write was about to rename
    assert len(before) == (6 if moment == "results" else 2)
    assert not (out / "results.csv").exists()
    _assert_kept(out, before)
    again = Sweep(cfg, out, name="again")
    assert again.finish() == 0, again.text()
    assert again.summary() == {"computed": 6 - len(before), "skipped": len(before)}
    _assert_kept(out, before)
    _assert_complete(out, _keys(cfg))


# --------------------------------------------------------------------------- item 8: one worker killed, Ctrl-C
def test_one_killed_worker_costs_one_run(tmp_path):
    """Issue 13.8: a worker killed mid-run is reported for that run only; the
    others complete, and the rerun solves just that one."""
    cfg = _config(tmp_path, fast=2, slow=5, limit=2)
    out = tmp_path / "out"
    sw = Sweep(cfg, out)
    sw.wait_for("two finished runs", lambda: len(_records(out)) >= 2)
    sw.wait_for("busy workers", lambda: len(sw.workers()) >= 2)
    time.sleep(0.3)  # well inside a 2 s run
    victim = sw.workers()[0]
    victim_tree = [(p, _start_time(p)) for p in [victim, *_tree(victim)]]
    os.kill(victim, signal.SIGKILL)
    assert sw.finish(timeout=60) == 1, sw.text()
    assert _survivors(victim_tree) == []
    csv = pd.read_csv(out / "results.csv")
    errors = csv[csv["status"] == "error"]
    assert len(errors) == 1, csv[["key", "status", "message"]]
    assert "killed by SIGKILL" in errors["message"].iloc[0] and "rerun" in errors["message"].iloc[0]
    assert set(csv.loc[csv["status"] != "error", "status"]) <= SOLVED and len(csv) == 7
    assert f"{errors['key'].iloc[0]}.json" not in _records(out)  # not recorded: recomputed next time
    again = Sweep(cfg, out, name="again")
    assert again.finish() == 0, again.text()
    assert again.summary() == {"computed": 1, "skipped": 6}
    _assert_complete(out, _keys(cfg))


@pytest.mark.parametrize("target", ["process", "group"])
def test_ctrl_c_stops_at_once_and_keeps_finished_runs(tmp_path, target):
    """Issue 13.8: SIGINT to the CLI process (or to its process group, as a
    terminal's Ctrl-C does) ends it within seconds (code 130, one line), keeping
    every run finished before it; no worker survives."""
    cfg = _config(tmp_path, fast=2, slow=4, limit=20)
    out = tmp_path / "out"
    sw = Sweep(cfg, out)
    sw.wait_for("two finished runs", lambda: len(_records(out)) >= 2)
    sw.wait_for("busy workers", lambda: len(sw.workers()) >= 2)
    time.sleep(0.3)
    procs = sw.processes()
    before = _records(out)
    t0 = time.monotonic()
    (os.killpg if target == "group" else os.kill)(sw.pid, signal.SIGINT)
    try:
        code = sw.finish(timeout=60)
    finally:
        took = time.monotonic() - t0
    assert took < 5, f"Ctrl-C took {took:.1f} s"
    assert code == 130, sw.text()
    assert _survivors(procs) == []
    _assert_kept(out, before)
    last = sw.stderr_path.read_text().strip().splitlines()[-1]
    assert last.startswith("interrupted") and "resume" in last, sw.text()
    assert "Traceback" not in sw.text()
    csv = pd.read_csv(out / "results.csv")  # written on the way out, every run in it
    assert len(csv) == 6 and (csv["status"] != "pending").sum() == len(_records(out)) >= 2


# --------------------------------------------------------------------------- item 7: two sweeps, one folder
def test_two_sweeps_on_one_folder(tmp_path):
    """Issue 13.7: started together, one sweep runs and the other stops at once
    naming the folder and the holder's PID; nothing is lost, results.csv is whole."""
    cfg = _config(tmp_path, fast=2, slow=4, limit=2)
    out = tmp_path / "out"
    a, b = Sweep(cfg, out, name="a"), Sweep(cfg, out, name="b")
    codes = {a.finish(): a, b.finish(): b}
    assert sorted(codes) == [0, 75], a.text() + b.text()
    winner, loser = codes[0], codes[75]
    err = loser.stderr_path.read_text()
    assert str(out) in err and f"PID {winner.pid}" in err and "Traceback" not in err, err
    assert winner.summary() == {"computed": 6, "skipped": 0}
    _assert_complete(out, _keys(cfg))


def test_lock_names_holder_and_stale_lock_is_taken_over(tmp_path):
    SweepLocked = _new_api("ccgmerge.analysis.sweep.SweepLocked")
    FolderLock = _new_api("ccgmerge.analysis.sweep.lock.FolderLock")
    out = tmp_path / "out"
    out.mkdir()
    scs = [Scenario(floor=round(MEDIAN * f), coterminosity="penalised") for f in FAST[:2]]
    with FolderLock(out):
        with pytest.raises(SweepLocked, match=rf"{re.escape(str(out))} is in use .*PID {os.getpid()}"):
            run_sweep(INST, scs, out, progress=False)
        assert not (out / "runs").exists()  # nothing touched
    # a lock file left by a dead sweep (its PID gone) is taken over
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / ".lock.json").write_text(json.dumps({"pid": dead.pid, "host": "x", "started": "then"}))
    res = run_sweep(INST, scs, out, executor=ThreadPoolExecutor(1), progress=False)
    assert res.computed == 2 and json.loads((out / ".lock.json").read_text())["pid"] == os.getpid()


def test_cleanup_spares_live_sweeps_temporary_files(tmp_path):
    """The start-up cleanup removes temporary files of dead processes only."""
    out = tmp_path / "out"
    (out / "runs").mkdir(parents=True)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    LIVE.append((live.pid, _start_time(live.pid)))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    keep = [out / "runs" / f".tmp-{live.pid}-a.json.part", out / f".tmp-{live.pid}-instance-x"]
    gone = [out / "runs" / f".tmp-{dead.pid}-b.json.part", out / f".tmp-{dead.pid}-instance-y"]
    for p in keep + gone:
        p.mkdir() if "instance" in p.name else p.write_text("{}")
    scs = [Scenario(floor=round(MEDIAN * FAST[0]), coterminosity="penalised")]
    run_sweep(INST, scs, out, executor=ThreadPoolExecutor(1), progress=False)
    assert all(p.exists() for p in keep) and not any(p.exists() for p in gone)
    live.kill()
    live.wait()


# --------------------------------------------------------------------------- item 6: records not to be trusted
def _small_sweep(out: Path, n: int = 2):
    scs = [Scenario(floor=round(MEDIAN * f), coterminosity="penalised") for f in FAST[:n]]
    res = run_sweep(INST, scs, out, executor=ThreadPoolExecutor(1), progress=False)
    assert res.computed == n
    return scs, list(res.table["key"])


def _foreign_instance_record(tmp_path, scenario) -> dict:
    """The record of ``scenario`` solved on another instance."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = generate(30, seed=7)
    res = run_sweep(other, [scenario], tmp_path / "other", executor=ThreadPoolExecutor(1), progress=False)
    return json.loads((tmp_path / "other" / "runs" / f"{res.table['key'].iloc[0]}.json").read_text())


CORRUPT = {
    "list": ("[1]", r"not a ccgmerge run record \(a list\)"),
    "string": ('"x"', r"not a ccgmerge run record \(a string\)"),
    "metrics": ('{"metrics": "abc"}', r"not a ccgmerge run record \(no format tag"),
    "null": ("null", r"not a ccgmerge run record \(null\)"),
    "empty": ("{}", r"not a ccgmerge run record \(no format tag"),
    "truncated": ('{"format": "ccgmerge-sweep-run/1", "key"', r"not valid JSON"),
    "other_run": (None, r"holds the record of another run"),
    "other_instance": (None, r"solved on another instance"),
    "bad_metrics": (None, r"metric 'groups' is 'abc', not a number"),
}


@pytest.mark.parametrize("kind", list(CORRUPT))
def test_bad_record_is_named_and_recomputed(tmp_path, kind):
    """Issue 13.6: a record that is not this run's valid result is reported by
    file name and recomputed; the rerun neither crashes nor trusts it."""
    out = tmp_path / "out"
    scs, keys = _small_sweep(out)
    path = out / "runs" / f"{keys[0]}.json"
    good = json.loads(path.read_text())
    text, reason = CORRUPT[kind]
    if kind == "other_run":
        text = (out / "runs" / f"{keys[1]}.json").read_text()
    elif kind == "other_instance":
        rec = _foreign_instance_record(tmp_path, scs[0])
        rec["key"] = keys[0]  # placed under this run's name
        text = json.dumps(rec)
    elif kind == "bad_metrics":
        text = json.dumps({**good, "metrics": {**good["metrics"], "groups": "abc"}})
    path.write_text(text)
    with pytest.warns(UserWarning, match=re.escape(str(path)) + ": " + reason + ".*; recomputing"):
        res = run_sweep(INST, scs, out, executor=ThreadPoolExecutor(1), progress=False)
    assert res.computed == 1 and res.skipped == 1 and res.exit_code == 0
    again = json.loads(path.read_text())  # this run's result again
    assert again["key"] == keys[0] and again["scenario"] == good["scenario"]
    assert again["assignment"] == good["assignment"] and again["instance"] == good["instance"]
    df, recs = load_results(out)
    assert set(df["status"]) <= SOLVED and set(recs) == set(keys)


def test_cli_names_every_bad_record(tmp_path):
    """The same through ``ccgmerge sweep``: one warning line per bad file, then a whole sweep."""
    cfg = _config(tmp_path, fast=6)
    out = tmp_path / "out"
    assert Sweep(cfg, out, name="first").finish() == 0
    keys = sorted(_keys(cfg))
    bad = ["[1]", '"x"', '{"metrics": "abc"}', "null", "{}", (out / "runs" / f"{keys[0]}.json").read_text()]
    for k, text in zip(keys[1:], bad):
        (out / "runs" / f"{k}.json").write_text(text)
    again = Sweep(cfg, out, name="again")
    assert again.finish() == 0, again.text()
    err = again.stderr_path.read_text()
    for k in keys[1:]:
        assert re.search(rf"warning: .*runs/{k}\.json: .*; recomputing", err), err
    assert "Traceback" not in err
    assert again.summary() == {"computed": 5, "skipped": 1}
    _assert_complete(out, set(keys))


def test_validate_record():
    validate_record = _new_api("ccgmerge.analysis.sweep.validate_record")
    assert callable(validate_record)  # the reasons are checked above; a missing file:
    assert validate_record(Path("/nonexistent/abc.json"), "abc", None) == "missing"


# --------------------------------------------------------------------------- item 9: inf and nan in a config
@pytest.mark.parametrize("text, where, value, fix", [
    ("[scenario]\nfloor = inf\n", "[scenario] floor", "inf", "leave floor out"),
    ("[grid]\nfloor = [100000, nan]\n", "[grid] floor[1]", "nan", "remove it from the list"),
    ("[options]\ntime_limit = inf\n", "[options] time_limit", "inf", "for no time limit"),
    ("[scenario]\nceiling = +inf\n", "[scenario] ceiling", "inf", "for no ceiling"),
    ("[inflation]\nrates = [0.02, -inf]\nstart_year = 2013\n", "[inflation] rates[1]", "-inf", "remove it"),
])
def test_config_rejects_inf_and_nan(tmp_path, text, where, value, fix):
    """Issue 13.9: inf and nan in a sweep file are an error naming the file, key and value."""
    cfg = tmp_path / "inf.toml"
    cfg.write_text('[instance]\ndataset = "synthetic"\nunits = 12\nseed = 3\n' + text)
    with pytest.raises((ScenarioError, CCGMergeError)) as info:
        read_config(cfg)
    msg = str(info.value)
    assert str(cfg) in msg and where in msg and f"{value} is not a finite number" in msg and fix in msg, msg
