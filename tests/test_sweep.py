"""Scenario sweeps (ccgmerge.analysis.sweep): grid and inflation scenarios, parallel
runs on process pools and dask, resume after a hard kill, failing runs,
config validation, and the analyses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import conftest
from ccgmerge import generate
from ccgmerge.errors import ScenarioError
from ccgmerge.scenario import Scenario
from ccgmerge.analysis.pareto import pareto_frontier
from ccgmerge.analysis.sweep import (
    Run,
    RunOptions,
    grid,
    inflation_scenarios,
    load_plan,
    load_results,
    read_config,
    run_sweep,
    scenario_key,
    sweep_from_config,
)
from ccgmerge.analysis.viability import allowance_curve, viability_allowance

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def inst():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return generate(30, seed=7)


@pytest.fixture(scope="module")
def median(inst):
    return float(np.median(inst.population))


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _no_pickles(folder: Path):
    """Only CSV and JSON files, none of them a pickle."""
    files = [p for p in Path(folder).rglob("*") if p.is_file()]
    assert files
    for p in files:
        assert p.suffix in (".csv", ".json"), p
        assert not p.read_bytes().startswith(b"\x80"), p  # pickle protocol 2+ header


def _result_files(out: Path) -> list[Path]:
    runs = Path(out) / "runs"
    return sorted(p for p in runs.glob("*.json") if not p.name.startswith(".")) if runs.is_dir() else []


# --------------------------------------------------------------------- grid
def test_grid_is_cartesian_and_validates():
    scs = grid(allowance_per_head=[25, 30, 35], coterminosity=["off", "aligned"])
    assert len(scs) == 6
    assert [(s.allowance_per_head, s.coterminosity.value) for s in scs[:2]] == [(25, "off"), (25, "aligned")]
    assert grid(Scenario(fixed_cost=1e6), floor=[5, 6])[1].fixed_cost == 1e6
    with pytest.raises(ScenarioError, match=r"coterminosity.*sideways.*aligned"):
        grid(coterminosity=["off", "sideways"])
    with pytest.raises(ScenarioError, match=r"unknown scenario parameter 'allowance'.*allowance_per_head"):
        grid(allowance=[25])
    # a ceiling below the floor is a cross-parameter error named by the combination
    with pytest.raises(ScenarioError, match=r"grid combination.*ceiling"):
        grid(floor=[100, 300], ceiling=[200])


def test_scenario_key_is_stable():
    a = scenario_key(Scenario(allowance_per_head=30), RunOptions(time_limit=60), "f1")
    assert a == scenario_key(Scenario(allowance_per_head=30.0), RunOptions(time_limit=60.0), "f1")
    assert a != scenario_key(Scenario(allowance_per_head=30), RunOptions(time_limit=61), "f1")
    assert a != scenario_key(Scenario(allowance_per_head=30), RunOptions(time_limit=60), "f2")
    assert len(a) == 20 and int(a, 16) >= 0


# ---------------------------------------------------------------- inflation
def test_inflation_floors_rise_monotonically():
    rates = [0.021, 0.015, 0.03, 0.005, 0.02]  # made-up illustrative rates
    runs = inflation_scenarios(Scenario(allowance_per_head=25, quality_premium_per_head=1), rates, start_year=2013)
    assert [r.tags["year"] for r in runs] == list(range(2013, 2019))
    floors = [r.scenario.floor_population for r in runs]
    assert all(b > a for a, b in zip(floors, floors[1:]))
    assert all(r.scenario.allowance_per_head == 25 for r in runs)  # the allowance stays nominal
    assert runs[-1].scenario.fixed_cost == pytest.approx(2_500_000 * np.prod([1 + r for r in rates]), abs=0.01)
    assert all(r.population_factor == 1.0 for r in runs)
    grown = inflation_scenarios(Scenario(), [0.02, 0.02], 2013, population_growth=[0.01, 0.02])
    assert [r.population_factor for r in grown] == [1.0, 1.01, pytest.approx(1.0302)]
    with pytest.raises(ScenarioError, match="population_growth"):
        inflation_scenarios(Scenario(), [0.02], 2013, population_growth=[0.01, 0.02])
    with pytest.raises(ScenarioError, match="floor"):
        inflation_scenarios(Scenario(floor=100_000), [0.02], 2013)
    with pytest.raises(ScenarioError, match=r"rates\[1\]"):
        inflation_scenarios(Scenario(), [0.02, -1.5], 2013)


def test_inflation_sweep_with_population_growth(inst, tmp_path):
    runs = inflation_scenarios(Scenario(allowance_per_head=12, coterminosity="aligned"), [0.05, 0.05], 2013,
                               population_growth=[0.0, 0.1])
    with ThreadPoolExecutor(2) as ex:  # an in-memory executor gets the instance object itself
        res = run_sweep(inst, runs, tmp_path, executor=ex, progress=False)
    t = res.table
    assert list(t["year"]) == [2013, 2014, 2015]
    assert list(t["population_factor"]) == [1.0, 1.0, 1.1]
    assert t["floor_population"].is_monotonic_increasing
    assert t["instance_fingerprint"].nunique() == 2  # the grown instance is another instance
    assert set(t["status"]) == {"optimal"}
    curve = allowance_curve(t)
    assert list(curve.columns) == ["year", "floor_population", "status", "groups", "merges"]
    grown = load_plan(tmp_path, t["key"].iloc[2])  # rebuilt on the grown instance and re-checked
    assert grown.verdict.ok and grown.instance.total_population > inst.total_population


# ------------------------------------------------------ grid on a process pool
def test_grid_sweep_on_process_pool(inst, median, tmp_path):
    floors = [round(f * median) for f in (0.6, 0.8, 1.0, 1.2)]
    scs = grid(floor=floors, coterminosity=["off", "aligned", "nested"])
    with ProcessPoolExecutor(2) as ex:
        res = run_sweep(inst, scs, tmp_path, executor=ex, options=RunOptions(time_limit=30), progress=False)
    assert res.exit_code == 0 and res.computed == 12 and res.skipped == 0
    df, recs = load_results(tmp_path)
    assert df.shape[0] == 12 and len(recs) == 12
    for col in ("key", "floor", "coterminosity", "floor_population", "opt_solver", "opt_time_limit", "status",
                "groups", "merges", "noncoterminous", "objective_value", "gap", "wall_time", "solver", "checked", "json"):
        assert col in df.columns, col
    csv = pd.read_csv(tmp_path / "results.csv")
    assert csv.shape == df.shape and list(csv.columns) == list(df.columns)
    assert list(df["floor"]) == [f for f in floors for _ in range(3)]
    assert set(df["status"]) <= {"optimal", "infeasible"}
    solved = df[df["status"] == "optimal"]
    assert len(solved) >= 8 and solved["checked"].all() and (solved["gap"] == 0).all()
    # fewer groups as the floor rises, per mode
    for _, g in solved.groupby("coterminosity"):
        assert g.sort_values("floor")["groups"].is_monotonic_decreasing
    rec = recs[solved["key"].iloc[0]]
    assert rec["scenario"]["floor"] == solved["floor"].iloc[0]
    assert rec["instance"]["fingerprint"] == inst.fingerprint
    assert rec["solver"].startswith("cbc") and rec["status"] == "optimal"
    assert set(rec["assignment"]) == set(inst.unit_codes)
    plan = load_plan(tmp_path, rec["key"])
    assert plan.verdict.ok and len(plan.groups) == rec["metrics"]["groups"]
    infeasible = df[df["status"] == "infeasible"]
    assert (infeasible["coterminosity"] == "nested").all() and infeasible["message"].str.contains("nested").all()
    # rerunning recomputes nothing
    res2 = run_sweep(inst, scs, tmp_path, workers=2, options=RunOptions(time_limit=30), progress=False)
    assert res2.computed == 0 and res2.skipped == 12
    _no_pickles(tmp_path)


def test_failing_and_timed_out_runs_are_recorded(inst, median, tmp_path, capsys):
    runs = [
        Run(Scenario(floor=median)),
        # formulation 'packing' cannot solve a non-coterminosity objective: solve raises
        Run(Scenario(floor=median, objective="noncoterminous"), options=RunOptions(formulation="packing")),
        Run(Scenario(floor=1.2 * median, coterminosity="nested")),  # infeasible (proved, not an error)
        # the compact model needs far more than 1 s here: the time limit stops it
        Run(Scenario(floor=1.2 * median, coterminosity="penalised"), options=RunOptions(time_limit=1, formulation="compact")),
        Run(Scenario(floor=0.8 * median, coterminosity="aligned")),
    ]
    res = run_sweep(inst, runs, tmp_path, workers=2, progress="log")
    st = dict(zip(res.table.index, res.table["status"]))
    assert st[0] == "optimal" and st[4] == "optimal"
    assert st[1] == "error" and "formulation='packing'" in res.table.loc[1, "message"]
    assert st[2] == "infeasible"
    assert st[3] in ("no_solution", "feasible") and "time limit" in res.table.loc[3, "message"]
    assert res.exit_code == 1 and len(res.errors) == 1
    rec = json.loads((tmp_path / res.table.loc[1, "json"]).read_text())
    assert rec["status"] == "error" and rec["error_type"] == "ScenarioError" and "Traceback" in rec["traceback"]
    err = capsys.readouterr().err
    assert "[5/5]" in err and "error" in err
    # errors are results too: not recomputed unless asked
    again = run_sweep(inst, runs, tmp_path, workers=2, progress=False)
    assert again.computed == 0
    retried = run_sweep(inst, runs, tmp_path, workers=1, progress=False, retry_errors=True)
    assert retried.computed == 1 and retried.exit_code == 1
    _no_pickles(tmp_path)


# ------------------------------------------------------------------- resume
CONFIG = """
[instance]
dataset = "synthetic"
units = 30
seed = 7

[grid]
floor = {floors}
coterminosity = ["off", "aligned"]

[options]
solver = "cbc"
time_limit = 30
"""

SCRIPT = ("import json, sys; from ccgmerge.analysis.sweep import sweep_from_config; "
          "r = sweep_from_config(sys.argv[1], sys.argv[2], workers=2, progress='log'); "
          "print(json.dumps(r.to_dict())); sys.exit(r.exit_code)")


def test_resume_after_sigkill(median, tmp_path):
    floors = [round(median * (0.6 + 0.025 * i)) for i in range(30)]
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(CONFIG.format(floors=json.dumps(floors)))
    out = tmp_path / "out"
    expected = {scenario_key(r.scenario, RunOptions(time_limit=30), read_config(cfg).instance.fingerprint)
                for r in read_config(cfg).runs}
    assert len(expected) == 60

    cmd = [sys.executable, "-c", SCRIPT, str(cfg), str(out)]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None and len(_result_files(out)) < 3:
            time.sleep(0.01)
        assert proc.poll() is None, "the sweep finished before it could be killed"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the parent and its workers
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in _result_files(out)}
    assert 3 <= len(before) < len(expected)
    for p in _result_files(out):  # every file there is complete (atomic writes)
        assert json.loads(p.read_text())["key"] == p.stem

    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["skipped"] == len(before)
    assert summary["computed"] == len(expected) - len(before)  # nothing computed twice
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in _result_files(out)}
    assert set(after) == {f"{k}.json" for k in expected}  # nothing lost
    assert all(after[name] == sig for name, sig in before.items())  # earlier results untouched
    assert f"{len(before)} already done" in done.stderr
    df, recs = load_results(out)
    assert len(df) == 60 and set(df["status"]) <= {"optimal", "infeasible"} and len(recs) == 60
    assert not [p for p in out.rglob("*") if p.name.startswith(".tmp-")]
    _no_pickles(out)


# --------------------------------------------------------------------- dask
def test_dask_client(inst, median, tmp_path, monkeypatch):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        if conftest.in_ci():
            pytest.fail("CI is set but dask[distributed] is missing: it is in the dev extra", pytrace=False)
        pytest.skip("dask[distributed] not installed")
    monkeypatch.setenv("PYTHONPATH", _env()["PYTHONPATH"])
    scs = grid(floor=[0.8 * median, median, 1.2 * median], coterminosity=["off", "aligned"])
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        res = run_sweep(inst, scs, tmp_path, executor=client, progress=False)
        hosts = {json.loads(p.read_text())["pid"] for p in _result_files(tmp_path)}
    assert res.computed == 6 and res.exit_code == 0
    assert set(res.table["status"]) == {"optimal"} and res.table["checked"].all()
    assert os.getpid() not in hosts  # solved in the cluster's worker processes
    ref = run_sweep(inst, scs, tmp_path / "ref", workers=2, progress=False)
    assert list(ref.table["key"]) == list(res.table["key"])
    assert list(ref.table["groups"]) == list(res.table["groups"])
    _no_pickles(tmp_path)


# ------------------------------------------------------------------- config
GOOD = """
[instance]
dataset = "synthetic"
units = 12
seed = 3
"""


@pytest.mark.parametrize(
    "text, needles",
    [
        ("[grids]\nfloor = [1]\n", ["grids", "allowed tables"]),
        ("[grid]\ncoterminosity = ['off', 'sideways']\n", ["[grid] coterminosity", "sideways", "'aligned'", "'nested'"]),
        ("[grid]\nallowance = [25]\n", ["[grid] allowance", "allowed keys", "allowance_per_head"]),
        ("[grid]\nallowance_per_head = ['thirty']\n", ["[grid] allowance_per_head", "not a number"]),
        ("[grid]\ncontiguity = ['yes']\n", ["[grid] contiguity", "true or false"]),
        ("[grid]\nobjective = ['fewest']\n", ["[grid] objective", "fewest", "'merges'"]),
        ("[grid]\nfloor = []\n", ["[grid] floor", "empty"]),
        ("[scenario]\nceiling = 10\n", ["ceiling", "below the floor"]),
        ("[options]\nsolver = 'gurobi'\n", ["[options] solver", "gurobi", "'cbc'"]),
        ("[options]\ntime_limt = 60\n", ["[options] time_limt", "allowed keys", "time_limit"]),
        ("[options]\ntime_limit = -5\n", ["[options] time_limit", "positive"]),
        ("[options]\nformulation = 'packing'\n[grid]\nobjective = ['merges', 'noncoterminous']\n",
         ["[options] formulation", "packing", "'compact'"]),
        ("[sweep]\nworkers = 0\n", ["[sweep] workers", "positive"]),
        ("[inflation]\nrates = [0.02]\n", ["[inflation] start_year", "missing"]),
        ("[inflation]\nrates = [0.02]\nstart_year = 2013\nrate = 1\n", ["[inflation] rate", "allowed keys"]),
        ("[inflation]\nrates = 0.02\nstart_year = 2013\n", ["rates", "list"]),
        ("[scenario]\nfloor = 100000\n[inflation]\nrates = [0.02]\nstart_year = 2013\n", ["[inflation]", "floor"]),
        ("[instance]\ndataset = 'ccg2099'\n", ["[instance] dataset", "ccg2099", "'synthetic'"]),
        ("[instance]\ndataset = 'synthetic'\n", ["[instance] units", "missing"]),
        ("[instance]\ndataset = 'synthetic'\nunits = 12\ncolour = 1\n", ["[instance] colour", "allowed keys"]),
        ("[instance]\ndataset = 'csv'\npath = 'nowhere'\n", ["[instance] path", "not a folder"]),
        ("[grid\n", ["not valid TOML"]),
    ],
)
def test_bad_config_names_the_key(tmp_path, text, needles):
    cfg = tmp_path / "bad.toml"
    body = text if text.startswith("[instance]") else GOOD + text
    cfg.write_text(body)
    out = tmp_path / "out"
    with pytest.raises(ScenarioError) as info:
        sweep_from_config(cfg, out)
    msg = str(info.value)
    for n in needles:
        assert n in msg, (n, msg)
    assert not out.exists()  # nothing was started


def test_config_with_inflation_and_csv_instance(inst, tmp_path):
    from ccgmerge.data import to_csv

    to_csv(inst, tmp_path / "tables")
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(textwrap.dedent("""
        [instance]
        dataset = "csv"
        path = "tables"
        [scenario]
        fixed_cost = 2000000
        [grid]
        allowance_per_head = [10, 14]
        coterminosity = "aligned"
        [options]
        time_limit = 30
        [inflation]
        rates = [0.1, 0.1]     # made up for the test
        start_year = 2020
        [sweep]
        workers = 2
        """))
    c = read_config(cfg)
    assert c.instance.fingerprint == inst.fingerprint and c.workers == 2 and len(c.runs) == 6
    res = sweep_from_config(cfg, tmp_path / "out", progress=False)
    assert res.exit_code == 0 and res.n_runs == 6
    t = res.table
    assert list(t["year"]) == [2020, 2021, 2022] * 2
    for _, g in t.groupby("allowance_per_head"):
        assert g["floor_population"].is_monotonic_increasing and g["groups"].is_monotonic_decreasing
    curve = allowance_curve(t)
    assert list(curve.columns[:2]) == ["allowance_per_head", "year"]
    _no_pickles(tmp_path / "out")


def test_config_on_real_ccgs(tmp_path):
    data = conftest.require_real_data()
    cfg = tmp_path / "real.toml"
    cfg.write_text(f'[instance]\ndataset = "ccg2013"\ndata = "{data}"\n[grid]\nallowance_per_head = [25, 40]\n'
                   '[options]\ntime_limit = 60\n')
    res = sweep_from_config(cfg, tmp_path / "out", workers=2, progress=False)
    assert res.exit_code == 0
    assert list(res.table["groups"]) == [205, 211] and set(res.table["status"]) == {"optimal"}


# ----------------------------------------------------------------- analyses
def test_viability_allowance(inst):
    sc = Scenario(allowance_per_head=12, quality_premium_per_head=1, cost_per_head=0.5)
    t = viability_allowance(inst, sc)
    assert len(t) == inst.n_units and t["break_even_allowance"].is_monotonic_decreasing
    expect = 2_500_000 / t["population"] + 0.5 - 1
    assert np.allclose(t["break_even_allowance"], expect)
    # viable on its own exactly when the scenario's allowance reaches the break-even one
    assert (t["viable_alone"] == (t["headroom"] >= -1e-9)).all()
    assert (t["viable_alone"] == (t["margin"] >= -1e-3)).all()


def test_pareto_frontier_points_are_checked():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small = generate(12, seed=6, n_areas=4)
    floor = float(np.median(small.population))
    table, plans = pareto_frontier(small, Scenario(floor=floor), method="weighted", return_plans=True)
    assert len(table) >= 3 and table["checked"].all() and table["efficient"].all()
    assert all(p.verdict.ok for p in plans)
    assert table["merges"].is_monotonic_increasing and table["noncoterminous"].is_monotonic_decreasing
    assert set(table["method"]) == {"lexicographic", "weighted"}
    # the epsilon-constraint method finds every efficient point, so at least the weighted ones
    eps, eplans = pareto_frontier(small, Scenario(floor=floor), return_plans=True)
    assert set(eps["method"]) == {"epsilon"} and eps["efficient"].all() and all(p.verdict.ok for p in eplans)
    assert set(zip(table["merges"], table["noncoterminous"])) <= set(zip(eps["merges"], eps["noncoterminous"]))
    assert all(p.scenario.limits == (("noncoterminous", float(n)),) for p, n in zip(eplans[:-1], eps["limit"][:-1])
               if n == n)
    with pytest.warns(UserWarning, match="max_points"):
        pareto_frontier(small, Scenario(floor=floor), max_points=2)
    with pytest.raises(ScenarioError, match="penalised"):
        pareto_frontier(small, Scenario(floor=floor, coterminosity="penalised"))


# ------------------------------------------------- issue 16.6: readable runs, futures, dask schedulers
def _dask():
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        if conftest.in_ci():
            pytest.fail("CI is set but dask[distributed] is missing: it is in the dev extra", pytrace=False)
        pytest.skip("dask[distributed] not installed")
    return Client, LocalCluster


def test_run_labels_name_what_sets_runs_apart(inst, tmp_path):
    from ccgmerge.analysis.sweep import run_labels

    def entries(runs):
        return [{"key": str(i), "scenario": r.scenario.to_dict(), "options": (r.options or RunOptions()).to_dict(),
                 "tags": dict(r.tags), "population_factor": r.population_factor} for i, r in enumerate(runs)]

    runs = [Run(s) for s in grid(floor=[250_000, 300_000], coterminosity=["off", "aligned"])]
    assert list(run_labels(entries(runs)).values()) == [
        "floor=250000 coterminosity=off", "floor=250000 coterminosity=aligned",
        "floor=300000 coterminosity=off", "floor=300000 coterminosity=aligned"]
    infl = inflation_scenarios(Scenario(), [0.02], 2013, population_growth=[0.01])
    labels = list(run_labels(entries(infl)).values())
    assert labels[0].startswith("year=2013 price_index=1 fixed_cost=2500000")
    assert labels[1].startswith("year=2014 price_index=1.02 fixed_cost=2550000") and "population x1.01" in labels[1]
    objective = [Run(Scenario(objective=o)) for o in ["merges", ("merges", "moved")]]
    assert list(run_labels(entries(objective)).values()) == ["objective=merges", "objective=merges,moved"]
    assert list(run_labels(entries([Run(Scenario(floor=250_000))])).values()) == [
        Scenario(floor=250_000).describe()]


def test_log_lines_name_the_scenario(inst, median, tmp_path, capsys):
    scs = grid(floor=[round(median), round(1.2 * median)], coterminosity=["off", "aligned"])
    with ThreadPoolExecutor(2) as ex:
        res = run_sweep(inst, scs, tmp_path, executor=ex, progress="log")
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.startswith("sweep: [")]
    assert len(lines) == 4
    for key in res.table["key"]:
        assert key not in err  # no 20-digit hashes: the first 8 digits at most
        assert any(f"({key[:8]}): optimal" in x for x in lines)
    for floor in (round(median), round(1.2 * median)):
        for mode in ("off", "aligned"):
            assert sum(f"] floor={floor} coterminosity={mode} (" in x for x in lines) == 1, lines


def test_submit_sweep_returns_futures_at_once(inst, median, tmp_path):
    from concurrent.futures import Future

    from ccgmerge.analysis.sweep import SweepHandle, submit_sweep

    scs = grid(floor=[0.8 * median, median, 1.2 * median], coterminosity=["off", "aligned"])
    handle = submit_sweep(inst, scs, tmp_path, workers=2, progress=False)
    assert isinstance(handle, SweepHandle) and len(handle.futures) == 6
    assert all(isinstance(f, Future) for f in handle.futures.values())
    assert set(handle.labels) == set(handle.futures)
    res = handle.result(timeout=120)
    assert handle.done() and res.computed == 6 and res.exit_code == 0 and not res.interrupted
    for key, fut in handle.futures.items():
        rec = fut.result(timeout=0)
        assert rec["key"] == key and rec["status"] == "optimal"
        assert json.loads((tmp_path / "runs" / f"{key}.json").read_text())["assignment"] == rec["assignment"]
    assert len(pd.read_csv(tmp_path / "results.csv")) == 6
    # the same with wait=False, on an executor: concurrent.futures futures of that executor
    with ThreadPoolExecutor(2) as ex:
        again = run_sweep(inst, scs, tmp_path / "threads", executor=ex, progress=False, wait=False)
        assert again.result(timeout=120).computed == 6
    assert {f.result()["assignment"] == handle.futures[k].result()["assignment"]
            for k, f in again.futures.items()} == {True}


def test_cancel_keeps_finished_runs_and_resume_solves_the_rest(inst, median, tmp_path):
    from ccgmerge.analysis.sweep import SweepLocked, submit_sweep

    scs = grid(floor=[round(median * (0.6 + 0.05 * i)) for i in range(10)], coterminosity=["off", "aligned"])
    handle = submit_sweep(inst, scs, tmp_path, workers=1, progress=False)
    with pytest.raises(SweepLocked):  # the folder stays locked while the sweep runs
        run_sweep(inst, scs, tmp_path, workers=1, progress=False)
    handle.cancel()
    res = handle.result(timeout=60)
    assert res.interrupted and res.computed < 20
    stopped = [f for f in handle.futures.values() if f.exception(timeout=0) is not None]
    assert len(stopped) == 20 - res.computed
    kept = len(_result_files(tmp_path))
    assert kept == res.computed
    rest = run_sweep(inst, scs, tmp_path, workers=2, progress=False)
    assert rest.skipped == kept and rest.computed == 20 - kept and rest.exit_code == 0


def test_dask_futures_have_readable_keys(inst, median, tmp_path):
    Client, LocalCluster = _dask()
    from ccgmerge.analysis.sweep import submit_sweep

    scs = grid(floor=[round(median), round(1.2 * median)], coterminosity=["off", "aligned"])
    with LocalCluster(n_workers=1, processes=False, threads_per_worker=2, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        handle = submit_sweep(inst, scs, tmp_path, executor=client, progress=False)
        keys = {k: f.key for k, f in handle.futures.items()}
        res = handle.result(timeout=120)
        records = client.gather(list(handle.futures.values()))
    assert res.computed == 4 and res.exit_code == 0
    for run_key, dask_key in keys.items():
        assert dask_key.startswith(f"ccgmerge-run {handle.labels[run_key]} ({run_key[:8]}, ")
        assert "_execute" not in dask_key
    assert {r["key"] for r in records} == set(keys)


def test_cli_sweep_on_a_dask_scheduler(tmp_path, capsys):
    Client, LocalCluster = _dask()
    from ccgmerge.cli import main

    cfg = tmp_path / "sweep.toml"
    cfg.write_text('[instance]\ndataset = "synthetic"\nunits = 30\nseed = 3\n'
                   '[grid]\nfloor = [300000, 500000]\ncoterminosity = ["off", "aligned"]\n')
    with LocalCluster(n_workers=1, processes=False, threads_per_worker=2, dashboard_address=None) as cluster:
        code = main(["sweep", str(cfg), "--out", str(tmp_path / "out"), "--scheduler", cluster.scheduler_address])
        assert cluster.scheduler_info["workers"]  # the cluster outlives the command's client
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"on the dask scheduler at {cluster.scheduler_address}" in err
    assert "Client" in err and "floor=300000 coterminosity=aligned (" in err
    df = pd.read_csv(tmp_path / "out" / "results.csv")
    assert len(df) == 4 and set(df["status"]) == {"optimal"}
    recs = [json.loads(p.read_text()) for p in _result_files(tmp_path / "out")]
    assert {r["pid"] for r in recs} == {os.getpid()}  # solved by the in-process cluster's threads


def test_cli_scheduler_errors(tmp_path, capsys, monkeypatch):
    _dask()
    import ccgmerge.cli.sweep
    from ccgmerge.cli import main

    cfg = tmp_path / "sweep.toml"
    cfg.write_text('[instance]\ndataset = "synthetic"\nunits = 12\nseed = 3\n[grid]\nfloor = [300000]\n')
    monkeypatch.setattr(ccgmerge.cli.sweep, "CONNECT_TIMEOUT", 1)
    assert main(["sweep", str(cfg), "--out", str(tmp_path / "o"), "--scheduler", "tcp://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --scheduler tcp://127.0.0.1:9: cannot reach a dask scheduler there") and \
        "Traceback" not in err
    assert not (tmp_path / "o").exists()
    assert main(["sweep", str(cfg), "--out", str(tmp_path / "o"), "--scheduler", "tcp://127.0.0.1:9",
                 "--workers", "2"]) == 1
    assert "leave --workers out" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('[grid]\nfloorz = [1]\n')
    assert main(["sweep", str(bad), "--out", str(tmp_path / "o"), "--scheduler", "tcp://127.0.0.1:9"]) == 1
    assert "floorz" in capsys.readouterr().err  # the file is checked before any connection
