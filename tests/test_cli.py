"""Tests of the ``ccgmerge`` command line (:mod:`ccgmerge.cli`).

Most tests call :func:`ccgmerge.cli.main` in-process and read the exit code,
stdout/stderr and the files written by ``--out``. One test runs
``python -m ccgmerge`` in a subprocess. The real tables ship with the
package, so the real-data tests never skip (see ``tests/conftest.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import conftest
import ccgmerge.engine.solve
from ccgmerge.check import check_plan
from ccgmerge.cli import build_parser, main, parse_objective
from ccgmerge.data import load_ccg2013, to_csv
from ccgmerge.data import paths
from ccgmerge.errors import ScenarioError
from ccgmerge.plan import GROUP_COLUMNS, UNIT_COLUMNS, Plan, Status
from ccgmerge.scenario import Scenario
from ccgmerge.data.synthetic import generate

ROOT = Path(__file__).resolve().parent.parent
SYN = ["--dataset", "synthetic", "--units", "30", "--seed", "1", "--floor", "250000"]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def read_outputs(folder: Path):
    plan = pd.read_csv(folder / "plan.csv", dtype=str)
    groups = pd.read_csv(folder / "groups.csv", dtype={"group": str, "members": str, "main_area": str})
    summary = json.loads((folder / "summary.json").read_text())
    return plan, groups, summary


def check_outputs(folder: Path, n_units: int, total_population: int | None = None):
    plan, groups, summary = read_outputs(folder)
    # plan.csv was ["unit", "group"]; it now also names each unit, its group and its baseline group and says
    # whether the unit moved (issue 16, item 5: outputs with names). A deliberate change: "unit" and "group"
    # stay the first two columns, so readers of the two-column file keep working.
    assert list(plan.columns) == list(UNIT_COLUMNS)
    assert list(plan.columns[:2]) == ["unit", "group"]
    assert len(plan) == n_units and plan["unit"].is_unique
    assert list(groups.columns) == list(GROUP_COLUMNS)  # every column documented in Plan.groups_table
    m = summary["metrics"]
    assert groups["moved"].sum() == m["moved"] and groups["noncoterminous"].sum() == m["noncoterminous"]
    assert groups["coterminous"].sum() == m["coterminous_groups"]
    assert dict(zip(plan["group"], plan["group_name"])) == dict(zip(groups["group"], groups["name"].astype(str)))
    moved = plan.loc[plan["moved"] == "True", "unit"]
    stayed = plan.loc[plan["moved"] == "False", "unit"]
    assert len(moved) + len(stayed) == n_units
    continued = dict(zip(groups["group"], groups["continues"].fillna("").astype(str)))
    assert (plan["moved"] == "True").tolist() == [continued[g] != b for g, b in zip(plan["group"], plan["baseline"])]
    # the bound is on the objective's scale, and so is each block's value and bound
    if m["bound"] is not None:
        assert m["bound"] <= m["objective"] + 1e-6 and m["bound_source"]
    for block in summary["subproblems"]:
        if block.get("bound") is not None:
            assert block["bound"] <= block["value"] + 1e-6 and block["bound_source"]
    assert len(groups) == summary["metrics"]["groups"] == plan["group"].nunique()
    assert set(groups["group"]) == set(plan["group"])
    assert groups["n_units"].sum() == n_units
    assert groups["viable"].all()
    assert (groups["population"] >= summary["scenario"]["floor_population"]).all()
    if total_population is not None:
        assert groups["population"].sum() == total_population == summary["instance"]["population"]
    # the members column and plan.csv describe the same partition
    members = {u: g for g, ms in zip(groups["group"], groups["members"]) for u in ms.split(";")}
    assert members == dict(zip(plan["unit"], plan["group"]))
    assert summary["status"] in ("optimal", "feasible")
    assert summary["verdict"]["ok"] is True
    assert summary["assignment"] == dict(zip(plan["unit"], plan["group"]))
    return plan, groups, summary


# --------------------------------------------------------------------------- synthetic
def test_solve_synthetic_writes_outputs(tmp_path, capsys):
    code, out, err = run(capsys, "solve", *SYN, "--out", tmp_path / "out")
    assert code == 0, err
    assert "status: optimal" in out and "checked: OK" in out
    assert "merged groups:" in out
    inst = generate(30, seed=1)
    plan, groups, summary = check_outputs(tmp_path / "out", 30, inst.total_population)
    assert summary["instance"]["fingerprint"] == inst.fingerprint
    assert summary["scenario"]["floor_population"] == 250_000
    # the printed table lists exactly the merged groups
    assert f"merged groups: {int(groups['merged'].sum())}" in out


def test_solve_matches_library(tmp_path, capsys):
    inst = generate(30, seed=1)
    plan = ccgmerge.engine.solve.solve(inst, Scenario(floor=250_000))
    code, _, _ = run(capsys, "solve", *SYN, "--out", tmp_path)
    assert code == 0
    got = pd.read_csv(tmp_path / "plan.csv", dtype=str).set_index("unit")["group"]
    assert got.to_dict() == plan.assignment.to_dict()


def test_economics_options_set_the_floor(tmp_path, capsys):
    # GBP 2.5m / (20 + 5 - 0) = 100,000; GBP 3m / (25 - 5) = 150,000
    code, out, _ = run(capsys, "solve", "--dataset", "synthetic", "--units", "30", "--allowance", "20",
                       "--premium", "5", "--out", tmp_path / "a")
    assert code == 0 and "floor 100,000" in out
    code, out, _ = run(capsys, "solve", "--dataset", "synthetic", "--units", "30", "--fixed-cost", "3000000",
                       "--cost-per-head", "5", "--out", tmp_path / "b")
    assert code == 0 and "floor 150,000" in out
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["scenario"]["floor_population"] == 150_000


def test_scenario_options_reach_the_scenario(tmp_path, capsys):
    inst = generate(30, seed=1)
    a, b = inst.adjacency[["a", "b"]].iloc[0]
    code, out, err = run(capsys, "solve", *SYN, "--coterminosity", "aligned", "--objective", "merges",
                         "--ceiling", "2000000", "--max-units", "4", "--apart", a, b, "--out", tmp_path)
    assert code == 0, err
    sc = json.loads((tmp_path / "summary.json").read_text())["scenario"]
    assert sc["coterminosity"] == "aligned" and sc["apart"] == [sorted([a, b])]
    assert (sc["ceiling"], sc["max_units"]) == (2_000_000, 4)
    plan, groups, _ = check_outputs(tmp_path, 30)
    assert plan.set_index("unit")["group"][a] != plan.set_index("unit")["group"][b]
    assert groups["n_units"].max() <= 4 and groups["population"].max() <= 2_000_000


def test_alone_lock(tmp_path, capsys):
    inst = generate(30, seed=1)
    alone = inst.unit_codes[int(inst.population.argmax())]
    code, out, err = run(capsys, "solve", *SYN, "--alone", alone, "--out", tmp_path)
    assert code == 0, err
    assert json.loads((tmp_path / "summary.json").read_text())["scenario"]["alone"] == [alone]
    plan = pd.read_csv(tmp_path / "plan.csv", dtype=str).set_index("unit")["group"]
    assert (plan == plan[alone]).sum() == 1


def test_limits(tmp_path, capsys):
    """--limit reaches the scenario and binds: the least-merges plan under a
    tighter non-coterminous limit than the unconstrained optimum's."""
    code, out, err = run(capsys, "solve", *SYN, "--out", tmp_path / "free")
    assert code == 0, err
    free = json.loads((tmp_path / "free" / "summary.json").read_text())["metrics"]
    eps = free["noncoterminous"] - 1
    code, out, err = run(capsys, "solve", *SYN, "--limit", "noncoterminous", f"{eps:,}", "--out", tmp_path / "lim")
    sc = json.loads((tmp_path / "lim" / "summary.json").read_text())
    assert sc["scenario"]["limits"] == {"noncoterminous": eps}
    if code == 0:
        assert sc["metrics"]["noncoterminous"] <= eps and sc["metrics"]["merges"] >= free["merges"]
    else:
        assert code == 2 and "infeasible" in out.lower()
    code, out, err = run(capsys, "solve", *SYN, "--limit", "noncot", "5")
    assert code == 1 and "'noncot' cannot be limited" in err


def test_weighted_and_lexicographic_objectives(tmp_path, capsys):
    code, out, _ = run(capsys, "solve", "--dataset", "synthetic", "--units", "12", "--seed", "4", "--floor", "300000",
                       "--objective", "merges,moved", "--out", tmp_path / "lex")
    assert code == 0 and "objective merges > moved" in out
    code, out, _ = run(capsys, "solve", "--dataset", "synthetic", "--units", "12", "--seed", "4", "--floor", "300000",
                       "--objective", "merges=1,moved=0.000001", "--out", tmp_path / "w")
    assert code == 0 and "objective 1*merges + 1e-06*moved" in out


def test_parse_objective():
    assert parse_objective("moved") == "moved"
    assert parse_objective("merges, moved") == ("merges", "moved")
    assert parse_objective("merges=2,split_areas=0.5") == {"merges": 2.0, "split_areas": 0.5}
    for bad in ("", "merges=1,moved", "merges=x"):
        with pytest.raises(ScenarioError):
            parse_objective(bad)


def test_subprocess_python_m(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "ccgmerge", "solve", *SYN, "--out", str(tmp_path)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "status: optimal" in r.stdout
    check_outputs(tmp_path, 30)
    r = subprocess.run([sys.executable, "-m", "ccgmerge", "solve", "--floor", "many"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 1
    assert "--floor must be a number" in r.stderr and "Traceback" not in r.stderr


def test_summary_synthetic(capsys):
    code, out, _ = run(capsys, "summary", "--dataset", "synthetic", "--units", "40", "--seed", "2", "--floor", "150000")
    assert code == 0
    assert "Instance 'synthetic-ccg-40-s2': 40 units" in out
    assert "Floor 150,000:" in out
    code, out, _ = run(capsys, "summary", "--dataset", "synthetic", "--units", "40", "--allowance", "20")
    assert code == 0 and "Floor 125,000:" in out


# --------------------------------------------------------------------------- own CSV files
@pytest.fixture
def csv_folder(tmp_path):
    to_csv(generate(30, seed=1), tmp_path / "tables")
    return tmp_path / "tables"


def csv_args(folder: Path, **override):
    files = {t: folder / f"{t}.csv" for t in ("units", "areas", "membership", "adjacency")}
    files.update(override)
    return [x for t in ("units", "areas", "membership", "adjacency") for x in (f"--{t}-csv", files[t])]


def test_solve_from_csv_files(csv_folder, tmp_path, capsys):
    code, out, err = run(capsys, "solve", *csv_args(csv_folder), "--floor", "250000", "--out", tmp_path / "csv")
    assert code == 0, err
    code, _, _ = run(capsys, "solve", *SYN, "--out", tmp_path / "syn")
    a = pd.read_csv(tmp_path / "csv" / "plan.csv", dtype=str)
    b = pd.read_csv(tmp_path / "syn" / "plan.csv", dtype=str)
    pd.testing.assert_frame_equal(a, b)
    check_outputs(tmp_path / "csv", 30)


def test_bad_csv_is_exit_1(csv_folder, tmp_path, capsys):
    bad = tmp_path / "bad_units.csv"
    pd.read_csv(csv_folder / "units.csv").rename(columns={"population": "pop"}).to_csv(bad, index=False)
    code, out, err = run(capsys, "solve", *csv_args(csv_folder, units=bad))
    assert code == 1
    assert "required column 'population' missing" in err and "bad_units.csv" in err
    code, _, err = run(capsys, "solve", *csv_args(csv_folder, adjacency=tmp_path / "nope.csv"))
    assert code == 1 and "does not exist" in err
    # a membership row for an unknown unit: a ValidationError naming it
    m = pd.read_csv(csv_folder / "membership.csv", dtype=str)
    m.loc[0, "unit"] = "ZZZ"
    m.to_csv(tmp_path / "m.csv", index=False)
    code, _, err = run(capsys, "solve", *csv_args(csv_folder, membership=tmp_path / "m.csv"))
    assert code == 1 and "ZZZ" in err


def test_incomplete_csv_set_is_exit_1(csv_folder, capsys):
    code, _, err = run(capsys, "solve", "--units-csv", csv_folder / "units.csv")
    assert code == 1 and "give --units-csv, --membership-csv and --adjacency-csv" in err
    code, _, err = run(capsys, "solve", "--dataset", "synthetic", *csv_args(csv_folder))
    assert code == 1 and "--dataset cannot be combined" in err


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "argv, message",
    [
        (["--floor", "abc"], "--floor must be a number"),
        (["--floor", "-5"], "--floor must be >= 0"),
        (["--threads", "0"], "--threads must be >= 1"),
        (["--time-limit", "0"], "--time-limit must be > 0"),
        (["--coterminosity", "sideways"], "invalid choice: 'sideways'"),
        (["--solver", "gurobi"], "invalid choice: 'gurobi'"),
        (["--objective", "cheapest"], "allowed names"),
        (["--objective", "merges=1,moved"], "not both"),
        (["--ceiling", "50000"], "below the floor"),
        (["--gap", "1.5"], "gap=1.5"),
        (["--together", "U00001", "U00002", "--apart", "U00001", "U00002"], "both together and apart"),
        (["--alone", "NOPE"], "NOPE"),
        (["--remove-edge", "U00001", "U00030"], "cannot remove edges"),
        (["--hwb", "E06000005"], "--hwb and --nhs-area apply only to --dataset lsoa2013"),
        (["--units", "ten"], "--units must be a whole number"),
        (["--bogus-option"], "unrecognized arguments"),
        (["--progress", "-1"], "--progress must be >= 0"),
        (["--progress", "soon"], "--progress must be a number"),
    ],
)
def test_bad_option_is_exit_1(argv, message, capsys):
    base = ["--dataset", "synthetic", "--units", "30"] if "--units" not in argv else ["--dataset", "synthetic"]
    code, out, err = run(capsys, "solve", *base, *argv)
    assert code == 1
    assert message in err
    assert err.startswith("error:")


def test_usage(capsys):
    assert run(capsys, )[0] == 1
    code, out, _ = run(capsys, "solve", "--help")
    assert code == 0 and "--coterminosity" in out and "--out DIR" in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and "ccgmerge" in out
    assert {"solve", "summary"} <= set(build_parser()._subparsers._group_actions[0].choices)


def test_out_must_be_a_folder(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    code, _, err = run(capsys, "solve", *SYN, "--out", f)
    assert code == 1 and "not a folder" in err


# --------------------------------------------------------------------------- exit codes 3 and 4
def test_no_solution_is_exit_3(monkeypatch, tmp_path, capsys):
    def fake(instance, scenario, **kw):
        return Plan(instance, scenario, Status.NO_SOLUTION, None, bound=3.0, solver="fake")

    monkeypatch.setattr(ccgmerge.engine.solve, "solve", fake)
    code, out, _ = run(capsys, "solve", *SYN, "--time-limit", "1", "--out", tmp_path)
    assert code == 3
    assert "status: no_solution" in out and "no plan found within the limits" in out
    assert not (tmp_path / "plan.csv").exists()
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "no_solution"


def test_checker_failure_is_exit_4(monkeypatch, capsys):
    def fake(instance, scenario, **kw):
        groups = tuple((i,) for i in range(instance.n_units))  # every unit alone: below the floor
        return Plan(instance, scenario, Status.OPTIMAL, groups, objective=0.0, bound=0.0,
                    verdict=check_plan(instance, groups, scenario), solver="fake")

    monkeypatch.setattr(ccgmerge.engine.solve, "solve", fake)
    code, out, err = run(capsys, "solve", *SYN)
    assert code == 4
    assert "checked: FAILED" in out and "checker rejected" in err


# --------------------------------------------------------------------------- data folder
def test_default_is_the_packaged_real_data_without_a_data_folder(monkeypatch, tmp_path, capsys):
    """No CCGMERGE_DATA, no ../shared/data: the tables shipped with ccgmerge, never a synthetic instance."""
    monkeypatch.delenv("CCGMERGE_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(paths, "shared_data_locations", lambda: [])
    code, out, err = run(capsys, "solve", "--out", tmp_path / "out")
    assert code == 0, err
    assert "notice" not in err and "synthetic" not in out + err
    assert "England CCGs 2013" in out and "status: optimal" in out
    _, _, summary = check_outputs(tmp_path / "out", 211, 53_434_130)
    assert summary["instance"]["fingerprint"] == load_ccg2013(paths.packaged_data_dir()).fingerprint
    code, out, err = run(capsys, "summary")
    assert code == 0 and "synthetic" not in out + err
    assert "Instance 'England CCGs 2013': 211 units, 152 areas, population 53,434,130" in out


def test_subprocess_default_is_real_from_another_folder(tmp_path):
    """``python -m ccgmerge solve`` run elsewhere with CCGMERGE_DATA unset solves the real 211 CCGs."""
    env = {k: v for k, v in os.environ.items() if k != "CCGMERGE_DATA"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
    (tmp_path / "x" / "y").mkdir(parents=True)
    r = subprocess.run([sys.executable, "-m", "ccgmerge", "solve", "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, env=env, cwd=tmp_path / "x" / "y", timeout=300)
    assert r.returncode == 0, r.stderr
    assert "'England CCGs 2013': 211 units" in r.stdout and "synthetic" not in r.stdout + r.stderr
    check_outputs(tmp_path / "out", 211, 53_434_130)


def test_missing_data_folder_in_environment_is_exit_1(monkeypatch, tmp_path, capsys):
    missing = tmp_path / "no-such-folder"
    monkeypatch.setenv("CCGMERGE_DATA", str(missing))
    for command in ("solve", "summary"):
        code, out, err = run(capsys, command, *(["--out", tmp_path / "out"] if command == "solve" else []))
        assert code == 1
        assert f"real data not found: no ccg2013_units.csv in {missing}, the folder named by CCGMERGE_DATA" in err
        assert "unset it to use the tables shipped with ccgmerge" in err
        assert "synthetic" not in out + err
    assert not (tmp_path / "out").exists()


def test_explicit_missing_data_is_exit_1(monkeypatch, tmp_path, capsys):
    code, out, err = run(capsys, "solve", "--data", tmp_path / "nowhere")
    assert code == 1
    assert "real data not found" in err and "nowhere" in err
    assert "synthetic" not in out + err
    # lsoa2013 too
    monkeypatch.setenv("CCGMERGE_DATA", str(tmp_path / "nowhere"))
    code, _, err = run(capsys, "solve", "--dataset", "lsoa2013", "--hwb", "E06000053")
    assert code == 1 and "real data not found" in err


def test_data_option_rejected_for_synthetic(tmp_path, capsys):
    code, _, err = run(capsys, "solve", "--dataset", "synthetic", "--data", tmp_path)
    assert code == 1 and "--data applies only" in err


# --------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def real_data():
    return conftest.require_real_data()


def test_solve_real_default(real_data, tmp_path, capsys):
    code, out, err = run(capsys, "solve", "--out", tmp_path)
    assert code == 0, err
    assert "notice" not in err
    assert "England CCGs 2013" in out and "status: optimal" in out
    plan, groups, summary = check_outputs(tmp_path, 211, 53_434_130)
    assert summary["scenario"]["floor_population"] == 100_000
    assert summary["metrics"]["merges"] == 211 - len(groups)
    assert plan["unit"].str.len().eq(3).all()  # ODS codes keep their leading zeros
    assert "00C" in set(plan["unit"])


def test_solve_real_with_data_option(real_data, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CCGMERGE_DATA", str(tmp_path / "missing"))  # --data wins over the variable
    code, out, _ = run(capsys, "solve", "--data", real_data, "--coterminosity", "aligned", "--floor", "150000",
                       "--out", tmp_path / "out")
    assert code == 0 and "coterminosity aligned" in out
    _, groups, summary = check_outputs(tmp_path / "out", 211, 53_434_130)
    assert summary["scenario"]["coterminosity"] == "aligned"


def test_nested_150k_is_infeasible_exit_2(real_data, tmp_path, capsys):
    code, out, err = run(capsys, "solve", "--coterminosity", "nested", "--floor", "150000", "--out", tmp_path)
    assert code == 2
    assert "status: infeasible" in out
    assert "E06000005" in out and "Darlington" in out  # the blocking HWB is named
    assert "blocking areas" in out and "blocking units" in out and "suggestion:" in out
    assert not (tmp_path / "plan.csv").exists()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "infeasible"
    assert "E06000005" in summary["infeasibility"]["areas"]


def test_real_edges(real_data, tmp_path, capsys):
    # the Tyne: Gateshead (00F) and Newcastle North & East (00G) are not adjacent in the boundary data
    code, out, _ = run(capsys, "solve", "--add-edge", "00F", "00G", "--remove-edge", "10L", "11A", "--out", tmp_path)
    assert code == 0
    assert "531 adjacency edges" in out
    check_outputs(tmp_path, 211, 53_434_130)
    code, _, err = run(capsys, "solve", "--add-edge", "00C", "00K")
    assert code == 1 and "already in the adjacency" in err
    code, _, err = run(capsys, "solve", "--add-edge", "00F", "00F2")
    assert code == 1 and "00F2" in err


def test_summary_real(real_data, capsys):
    code, out, _ = run(capsys, "summary", "--floor", "150000")
    assert code == 0
    assert "Instance 'England CCGs 2013': 211 units, 152 areas, population 53,434,130" in out
    assert "Floor 150,000: 38 units below" in out


def test_lsoa2013_hwb(real_data, tmp_path, capsys):
    code, out, err = run(capsys, "solve", "--dataset", "lsoa2013", "--hwb", "E06000053", "--floor", "1000",
                         "--out", tmp_path)
    assert code == 0
    assert "isolated units" in err  # the InstanceWarning, as one plain line
    plan, _, _ = check_outputs(tmp_path, 1)
    assert plan["unit"].tolist() == ["E01019077"]
    code, _, err = run(capsys, "solve", "--dataset", "lsoa2013", "--hwb", "E99999999")
    assert code == 1 and "E99999999" in err


def test_sweep_command_runs_and_resumes(tmp_path, capsys):
    from ccgmerge.cli import main as cli_main

    cfg = tmp_path / "sweep.toml"
    cfg.write_text('[instance]\ndataset = "synthetic"\nunits = 30\nseed = 3\n'
                   '[grid]\nfloor = [300000, 500000]\ncoterminosity = ["off", "aligned"]\n'
                   '[options]\nsolver = "cbc"\ntime_limit = 30\n')
    out = tmp_path / "out"
    assert cli_main(["sweep", str(cfg), "--out", str(out), "--workers", "1"]) == 0
    runs = sorted((out / "runs").glob("*.json"))
    assert len(runs) == 4
    mtimes = [r.stat().st_mtime_ns for r in runs]
    assert cli_main(["sweep", str(cfg), "--out", str(out), "--workers", "1"]) == 0
    assert [r.stat().st_mtime_ns for r in runs] == mtimes  # nothing recomputed
    import pandas as pd

    df = pd.read_csv(out / "results.csv")
    assert len(df) == 4 and set(df["status"]) == {"optimal"}


def test_sweep_bad_config_names_key(tmp_path, capsys):
    from ccgmerge.cli import main as cli_main

    cfg = tmp_path / "bad.toml"
    cfg.write_text('[instance]\ndataset = "synthetic"\n[grid]\nfloorz = [1]\n')
    assert cli_main(["sweep", str(cfg), "--out", str(tmp_path / "o")]) == 1
    assert "floorz" in capsys.readouterr().err


# --------------------------------------------------------------------------- issue 16.6: column mapping, implied areas
def _renamed_tables(folder: Path, out: Path) -> dict[str, Path]:
    """The canonical tables of ``folder`` with the column names a user's export might have."""
    out.mkdir()
    renames = {"units": {"code": "CCG_CODE", "population": "POP"},
               "membership": {"unit": "CCG", "area": "HWB", "population": "PEOPLE"},
               "adjacency": {"a": "from", "b": "to"},
               "areas": {"code": "HWB_CODE", "population": "POP"}}
    files = {}
    for t, cols in renames.items():
        files[t] = out / (f"{t}.csv.gz" if t == "membership" else f"{t}.csv")
        pd.read_csv(folder / f"{t}.csv", dtype=str).rename(columns=cols).to_csv(files[t], index=False)
    return files


def test_column_mapping_reaches_the_instance(csv_folder, tmp_path, capsys):
    files = _renamed_tables(csv_folder, tmp_path / "mine")
    code, _, err = run(capsys, "solve", *csv_args(csv_folder), "--floor", "250000", "--out", tmp_path / "ref")
    assert code == 0, err
    code, out, err = run(capsys, "solve", "--units-csv", files["units"], "--areas-csv", files["areas"],
                         "--membership-csv", files["membership"], "--adjacency-csv", files["adjacency"],
                         "--units-columns", "CCG_CODE=code,POP=population",
                         "--areas-columns", "code=HWB_CODE, population=POP",  # the other way round works too
                         "--membership-columns", "CCG=unit,HWB=area,PEOPLE=population",
                         "--adjacency-columns", "from=a,to=b", "--floor", "250000", "--out", tmp_path / "mapped")
    assert code == 0, err
    ref, _, ref_summary = read_outputs(tmp_path / "ref")
    got, _, summary = read_outputs(tmp_path / "mapped")
    pd.testing.assert_frame_equal(got, ref)
    assert summary["instance"]["fingerprint"] == ref_summary["instance"]["fingerprint"]


def test_column_mapping_errors_name_the_file_and_column(csv_folder, tmp_path, capsys):
    files = _renamed_tables(csv_folder, tmp_path / "mine")
    own = ["--units-csv", files["units"], "--membership-csv", files["membership"], "--adjacency-csv",
           files["adjacency"], "--membership-columns", "CCG=unit,HWB=area,PEOPLE=population",
           "--adjacency-columns", "from=a,to=b"]
    # a required column left unmapped: the file, the column, and the option that maps it
    code, _, err = run(capsys, "solve", *own, "--units-columns", "CCG_CODE=code")
    assert code == 1 and "units.csv" in err and "required column 'population' missing" in err
    assert "--units-columns YOUR_COLUMN=population" in err and "'POP'" in err
    # a mapped column the file does not have
    code, _, err = run(capsys, "solve", *own, "--units-columns", "CCG=code,POP=population")
    assert code == 1 and "mapped column 'CCG' missing" in err and "units.csv" in err and "'CCG_CODE'" in err
    # a pair naming no column ccgmerge knows
    code, _, err = run(capsys, "solve", *own, "--units-columns", "CCG_CODE=ccg,POP=population")
    assert code == 1 and err.startswith("error: --units-columns 'CCG_CODE=ccg'")
    assert "neither 'CCG_CODE' nor 'ccg' is a column of the units table (code, population, name)" in err
    code, _, err = run(capsys, "solve", *own, "--units-columns", "CCG_CODE")
    assert code == 1 and "write YOUR_COLUMN=COLUMN" in err
    code, _, err = run(capsys, "solve", *own, "--units-columns", "CCG_CODE=code,POP=code")
    assert code == 1 and "several columns are mapped to 'code'" in err
    # a mapping without its table
    code, _, err = run(capsys, "solve", *own, "--units-columns", "CCG_CODE=code,POP=population",
                       "--baseline-columns", "ccg=unit")
    assert code == 1 and "--baseline-columns maps the columns of --baseline-csv" in err


def test_areas_implied_by_the_membership(csv_folder, tmp_path, capsys):
    code, out, err = run(capsys, "solve", "--units-csv", csv_folder / "units.csv", "--membership-csv",
                         csv_folder / "membership.csv", "--adjacency-csv", csv_folder / "adjacency.csv",
                         "--floor", "250000", "--coterminosity", "aligned", "--out", tmp_path / "implied")
    assert code == 0, err
    membership = pd.read_csv(csv_folder / "membership.csv", dtype={"area": str})
    n_areas = membership["area"].nunique()
    assert f"{n_areas} areas" in out
    code, _, err = run(capsys, "solve", *csv_args(csv_folder), "--floor", "250000", "--coterminosity", "aligned",
                       "--out", tmp_path / "given")
    assert code == 0, err
    implied, _, s1 = read_outputs(tmp_path / "implied")
    given, _, s2 = read_outputs(tmp_path / "given")
    # the synthetic areas hold exactly their members' people: the same instance, the same plan
    areas = pd.read_csv(csv_folder / "areas.csv", dtype={"code": str}).set_index("code")["population"]
    assert areas.to_dict() == membership.groupby("area")["population"].sum().to_dict()
    pd.testing.assert_frame_equal(implied, given)
    same = lambda m: {k: v for k, v in m.items() if "time" not in k}  # noqa: E731
    assert same(s1["metrics"]) == same(s2["metrics"]) and s1["instance"]["population"] == s2["instance"]["population"]
    # --help says so
    code, out, _ = run(capsys, "solve", "--help")
    assert code == 0 and "Without --areas-csv the areas are the ones the membership names" in " ".join(out.split())


def test_implied_areas_bad_membership_is_named(csv_folder, tmp_path, capsys):
    m = pd.read_csv(csv_folder / "membership.csv", dtype=str)
    m.loc[2, "population"] = "lots"
    m.to_csv(tmp_path / "m.csv", index=False)
    code, _, err = run(capsys, "solve", "--units-csv", csv_folder / "units.csv", "--membership-csv",
                       tmp_path / "m.csv", "--adjacency-csv", csv_folder / "adjacency.csv")
    assert code == 1 and "m.csv" in err and "line 4" in err and "lots" in err


# --------------------------------------------------------------------------- issue 16.6: datasets, names for codes
def test_datasets_lists_datasets_configurations_and_counts(real_data, capsys):
    code, out, err = run(capsys, "datasets")
    assert code == 0, err
    for name in ("ccg2013", "lsoa2013", "synthetic", "--dataset lsoa2013 --hwb NAME"):
        assert name in out
    assert "icb22      ICBs, July 2022: 42 groups" in out and "ccg21" in out and "sub_icb22" in out
    assert "HWBs: 152" in out and "CCGs of 2013: 211" in out
    code, out, _ = run(capsys, "datasets", "--configurations")
    assert code == 0 and len(out.strip().splitlines()) == 11


def test_datasets_hwbs_and_ccgs(real_data, capsys):
    code, out, _ = run(capsys, "datasets", "--hwbs")
    rows = out.strip().splitlines()
    assert code == 0 and len(rows) == 1 + 152 and rows[0].split()[:2] == ["code", "name"]
    assert any(r.split()[:2] == ["E10000016", "Kent"] for r in rows)
    code, out, _ = run(capsys, "datasets", "--hwbs", "york")
    names = {r.split()[0] for r in out.strip().splitlines()[1:]}
    assert code == 0 and names == {"E06000011", "E06000014", "E10000023"}  # East Riding, York, North Yorkshire
    code, out, _ = run(capsys, "datasets", "--ccgs", "leeds")
    assert code == 0 and {r.split()[0] for r in out.strip().splitlines()[1:]} == {"02V", "03C", "03G"}
    code, _, err = run(capsys, "datasets", "--hwbs", "Atlantis")
    assert code == 1 and "'Atlantis': no HWB code or name contains it" in err


def test_hwb_by_name(real_data, tmp_path, capsys):
    code, out, err = run(capsys, "solve", "--dataset", "lsoa2013", "--hwb", "hartlepool", "--floor", "30000",
                         "--objective", "moved", "--out", tmp_path / "name")
    assert code == 0, err
    assert "58 units" in out and "E06000001" in out
    code, _, _ = run(capsys, "solve", "--dataset", "lsoa2013", "--hwb", "E06000001", "--floor", "30000",
                     "--objective", "moved", "--out", tmp_path / "code")
    assert code == 0
    a, _, sa = read_outputs(tmp_path / "name")
    b, _, sb = read_outputs(tmp_path / "code")
    pd.testing.assert_frame_equal(a, b)
    assert sa["instance"]["fingerprint"] == sb["instance"]["fingerprint"]


def test_nhs_area_selects_the_hwbs_of_its_ccgs(real_data, tmp_path, capsys):
    """--nhs-area: the LSOAs of every HWB holding people of the area team's CCGs (Durham,
    Darlington and Tees: six HWBs, 741 LSOAs), here solved in aligned mode and proven."""
    code, out, err = run(capsys, "solve", "--dataset", "lsoa2013", "--nhs-area", "Durham, Darlington and Tees",
                         "--floor", "250000", "--objective", "moved", "--coterminosity", "aligned",
                         "--out", tmp_path / "dd")
    assert code == 0, err
    assert "741 units, 6 areas" in out and "status: optimal" in out and "population moved 115,303" in out
    plan, groups, _ = read_outputs(tmp_path / "dd")
    assert len(groups) == 4 and len(plan) == 741
    code, out, _ = run(capsys, "datasets", "--nhs-areas", "E40")
    rows = out.strip().splitlines()
    assert code == 0 and len(rows) == 1 + 4 and "South of England" in out
    code, _, err = run(capsys, "solve", "--dataset", "lsoa2013", "--nhs-area", "Atlantis")
    assert code == 1 and "unknown NHS region or area team codes Atlantis" in err and "--nhs-areas" in err
    code, _, err = run(capsys, "solve", "--nhs-area", "E39000002")
    assert code == 1 and "apply only to --dataset lsoa2013" in err


def test_unknown_or_ambiguous_hwb_gets_a_hint(real_data, capsys):
    code, out, err = run(capsys, "solve", "--dataset", "lsoa2013", "--hwb", "Kentt")
    assert code == 1 and not out
    assert "Kentt" in err and "did you mean Kent (E10000016)" in err and "ccgmerge datasets --hwbs" in err
    code, _, err = run(capsys, "solve", "--dataset", "lsoa2013", "--hwb", "Kingston")
    assert code == 1
    assert "Kingston upon Hull, City of (E06000010)" in err and "Kingston upon Thames (E09000021)" in err


def test_units_by_name_in_locks(real_data, tmp_path, capsys):
    code, out, err = run(capsys, "solve", "--alone", "Darlington", "--together", "NHS Leeds North", "03C",
                         "--floor", "100000", "--out", tmp_path)
    assert code == 0, err
    sc = json.loads((tmp_path / "summary.json").read_text())["scenario"]
    assert sc["alone"] == ["00C"] and sc["together"] == [["02V", "03C"]]
    code, _, err = run(capsys, "solve", "--alone", "Leeds")
    assert code == 1 and "'Leeds' matches 3 units" in err and "NHS Leeds West (03C)" in err
    code, _, err = run(capsys, "solve", "--alone", "Darlingtn")
    assert code == 1 and "'Darlingtn' is not in the instance" in err and "did you mean NHS Darlington?" in err
    assert "ccgmerge datasets --ccgs" in err


# --------------------------------------------------------------------------- issue 16.6: --verbose, progress lines
def _slow_solve(delay: float, calls: list):
    """A stand-in for the engine's solve that reports two blocks, sleeps, then solves for real."""
    real = ccgmerge.engine.solve.solve

    def fake(instance, scenario, progress=None, msg=False, **kw):
        calls.append({"msg": msg, "progress": progress})
        plan = real(instance, scenario, **kw)
        for k in (1, 2):
            if progress is not None:
                progress({"event": "start", "block": k, "blocks": 2, "label": f"component B{k}", "units": 15,
                          "elapsed": 0.0})
            time.sleep(delay / 2)
            if progress is not None:
                progress({"event": "done", "block": k, "blocks": 2, "label": f"component B{k}", "units": 15,
                          "elapsed": 0.0, "status": "optimal", "value": 10.0, "bound": 9.0, "groups": 5})
        return plan

    return fake


def test_progress_lines_on_long_solves_only(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(ccgmerge.engine.solve, "solve", _slow_solve(1.2, calls))
    code, out, err = run(capsys, "solve", *SYN, "--progress", "0.25")
    assert code == 0 and calls[-1]["msg"] is False
    lines = [x for x in err.splitlines() if x.startswith("solving")]
    assert len(lines) >= 3, err
    assert any(x.startswith("solving: block 1/2 (component B1: 15 units)") for x in lines)
    assert any("block 2/2" in x and "1 block done: 5 groups, best 10, bound 9" in x for x in lines), lines
    assert "solving" not in out  # progress goes to stderr, the plan to stdout
    # a short solve (under the default 5 s) prints no progress line
    code, out, err = run(capsys, "solve", *SYN)
    assert code == 0 and "solving" not in err and "merged groups" in out
    # --quiet: no progress, no instance line, no table
    code, out, err = run(capsys, "solve", *SYN, "--progress", "0.25", "--quiet")
    assert code == 0 and "solving" not in err
    assert "status: optimal" in out and "Instance(" not in out and "merged groups" not in out


def test_verbose_prints_every_block_and_asks_for_the_solver_log(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(ccgmerge.engine.solve, "solve", _slow_solve(0.0, calls))
    code, _, err = run(capsys, "solve", *SYN, "--verbose")
    assert code == 0 and calls[-1]["msg"] is True
    lines = [x for x in err.splitlines() if x.startswith("solving")]
    assert len(lines) == 4  # start and end of each of the two blocks, nothing periodic
    assert lines[1].startswith("solving: finished 1/2 (component B1: 15 units) optimal")
    assert lines[3].endswith("2 blocks done: 10 groups, best 20, bound 18")
    code, _, err = run(capsys, "solve", *SYN, "--verbose", "--quiet")
    assert code == 1 and "--quiet and --verbose cannot be combined" in err


def test_verbose_shows_the_cbc_log(capsys, recwarn):
    """CBC writes its log to ccgmerge's log file (the engine reads the outcome
    from it); --verbose copies it to stdout, with no PuLP warning about
    logPath; a normal solve prints none of it."""
    code, out, err = run(capsys, "solve", *SYN, "--verbose")
    assert code == 0, err
    assert "Cbc0001I" in out and "Result - Optimal solution found" in out
    assert out.index("Result - Optimal solution found") < out.index("status: optimal")  # the log, then the plan
    assert not [w for w in recwarn if "logPath" in str(w.message)]
    code, out, err = run(capsys, "solve", *SYN)
    assert code == 0, err
    assert "Cbc0" not in out + err and "Result - " not in out + err and "Welcome to the CBC" not in out + err


def test_engine_reports_each_block(capsys):
    events = []
    inst = generate(30, seed=1)
    plan = ccgmerge.engine.solve.solve(inst, Scenario(floor=250_000), progress=events.append)
    starts = [e for e in events if e["event"] == "start"]
    done = [e for e in events if e["event"] == "done"]
    assert starts and len(starts) == len(done) == starts[0]["blocks"]
    assert [e["block"] for e in done] == list(range(1, len(done) + 1))
    assert sum(e["units"] for e in done) == inst.n_units
    assert sum(e["groups"] for e in done) == len(plan.groups)
    assert all(e["status"] == "optimal" for e in done) and plan.status is Status.OPTIMAL
    # value and bound on the objective's scale: the blocks' shares add up to the plan's objective
    assert sum(e["value"] for e in done) == pytest.approx(plan.objective)
    assert sum(e["bound"] for e in done) == pytest.approx(plan.bound)


def test_verbose_shows_the_highs_log(tmp_path):
    pytest.importorskip("highspy")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "ccgmerge", "solve", *SYN, "--solver", "highs", "--verbose"],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "HiGHS" in done.stdout + done.stderr and "solving: finished" in done.stderr
    assert "logPath" not in done.stderr
