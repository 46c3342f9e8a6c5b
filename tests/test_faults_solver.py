"""Solver faults (issue 13, items 1-4): what ccgmerge does when a solver is
wrong, broken, slow or interrupted.

1. A solver's "infeasible" is not taken on trust: a huge penalty weight is
   solved as lexicographic stages (same optimum, checked against brute
   force), and "infeasible" for a block the greedy heuristic solves within
   the rules is a :class:`~ccgmerge.errors.SolverError`.
2. A CBC binary that is missing, exits non-zero, crashes or is killed is a
   SolverError naming the cause (CLI exit 5), never a greedy plan with exit 0;
   one that hangs is killed at the time limit.
3. HiGHS and PuLP solver objects honour the time limit and Ctrl-C; a
   ``pulp.HiGHS()`` solve does not break later ``solver="highs"`` solves.
4. Every solve ends within ``time_limit + max(2 s, 5%)`` and leaves nothing
   in ``$TMPDIR``, also when a solver is killed.

Fake solvers are shell scripts put in place of CBC through
``pulp.PULP_CBC_CMD`` (as in tests/test_optimise.py), or of the HiGHS worker
through ``ccgmerge.engine.backends.highs.WORKER``. The slow cases come from
the benchmark suite; ``benchmarks/bench_time_limits.py`` runs more of them
at more limits.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pulp
import pytest

from brute import brute_force
from ccgmerge import Scenario, Status, generate, load_ccg2013, load_lsoa2013, solve
from ccgmerge.engine import backends
from ccgmerge.errors import CCGMergeError
from ccgmerge.metrics import objective_value, plan_metrics

SolverError = getattr(__import__("ccgmerge.errors", fromlist=["x"]), "SolverError", CCGMergeError)
#: The folder holding the ccgmerge under test (for child interpreters).
ROOT = Path(__import__("ccgmerge").__file__).resolve().parent.parent
LINUX = sys.platform.startswith("linux")


def grace(limit: float) -> float:
    """The promise: a solve ends within ``limit + max(2 s, 5%)``."""
    return max(2.0, 0.05 * limit)


@pytest.fixture
def tmpdir_env(tmp_path, monkeypatch):
    """A fresh, empty temporary folder for the solvers' files."""
    d = tmp_path / "tmp"
    d.mkdir()
    monkeypatch.setenv("TMPDIR", str(d))
    monkeypatch.delenv("TMP", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


def fake_cbc(tmp_path: Path, monkeypatch, body: str) -> Path:
    """A shell script in place of CBC (``pulp.PULP_CBC_CMD``), outside TMPDIR."""
    path = tmp_path / "bin" / "cbc"
    path.parent.mkdir(exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(pulp, "PULP_CBC_CMD", lambda **kw: pulp.COIN_CMD(path=str(path), **kw))
    return path


def small():
    return generate(30, seed=1), Scenario(floor=300_000, coterminosity="penalised")


# ---------------------------------------------------------------------------
# 1. "proven infeasible" that is false
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("seed,floor", [(1, 200_000), (1, 300_000), (2, 200_000), (2, 300_000), (3, 200_000),
                                        (3, 300_000)])
def test_huge_penalty_weight_is_optimal_not_infeasible(seed, floor):
    """At penalty_weight=1e10 CBC "proved" 5 of these 6 feasible scenarios
    infeasible (objective coefficients near 1e16). Solved lexicographically,
    CBC and HiGHS agree on the optimum, reported in the weighted units."""
    inst = generate(30, seed=seed)
    sc = Scenario(floor=floor, coterminosity="penalised", penalty_weight=1e10)
    cbc = solve(inst, sc)
    highs = solve(inst, sc, solver="highs")
    assert cbc.status is Status.OPTIMAL and highs.status is Status.OPTIMAL, (cbc.status, highs.status)
    assert cbc.objective == pytest.approx(highs.objective, rel=1e-12)
    m = plan_metrics(inst, cbc.groups, sc)
    assert cbc.objective == pytest.approx(1e10 * m["noncoterminous"] + m["merges"], rel=1e-12)
    assert cbc.bound == pytest.approx(cbc.objective, rel=1e-12)


def _tiny(seed: int):
    """Seven units on a path with chords, three HWBs, some units split between two."""
    import random

    import pandas as pd

    from ccgmerge.instance import Instance

    rng = random.Random(seed)
    n = 7
    pops = [rng.randrange(40, 160) * 1000 for _ in range(n)]
    main = [0, 0, 1, 1, 1, 2, 2]
    rows = []
    for i, p in enumerate(pops):
        other = main[i] + rng.choice((-1, 1))
        if 0 <= other <= 2 and rng.random() < 0.5:
            part = rng.randrange(5, 35) * p // 100
            rows += [(f"U{i}", f"A{main[i]}", p - part), (f"U{i}", f"A{other}", part)]
        else:
            rows.append((f"U{i}", f"A{main[i]}", p))
    membership = pd.DataFrame(rows, columns=["unit", "area", "population"])
    areas = membership.groupby("area", as_index=False)["population"].sum().rename(columns={"area": "code"})
    edges = [(f"U{i}", f"U{i + 1}") for i in range(n - 1)]
    edges += [(f"U{a}", f"U{b}") for a, b in ((0, 2), (2, 5), (3, 6)) if rng.random() < 0.5]
    units = pd.DataFrame({"code": [f"U{i}" for i in range(n)], "population": pops})
    inst = Instance.from_frames(units, areas, membership, edges, warn=False)
    return inst, float(sorted(pops)[3]) * 1.6


@pytest.mark.parametrize("objective", ["merges", "moved", {"merges": 1.0, "split_areas": 0.5}, ("merges", "moved")],
                         ids=["merges", "moved", "weighted", "lex"])
@pytest.mark.parametrize("formulation", ["auto", "compact"])
def test_lexicographic_penalty_keeps_the_brute_force_optimum(objective, formulation):
    """A penalty weight above the spread of the other terms is solved as two
    stages (non-coterminous people, then the rest); just below it, weighted.
    Either way the optimum is brute force's."""
    from ccgmerge.engine.formulations.base import lexicographic_penalty, objective_stages

    for seed in (0, 1, 2):
        inst, floor = _tiny(seed)
        base = Scenario(floor=floor, coterminosity="penalised", objective=objective)
        spread = lexicographic_penalty(base.replace(penalty_weight=1e12), inst)[1]
        for w in (spread, spread + 1.0, 1e10):
            sc = base.replace(penalty_weight=w)
            split = lexicographic_penalty(sc, inst) is not None
            assert split == (w > spread)
            assert len(objective_stages(sc, inst)) == len(objective_stages(sc)) + split
            b = brute_force(inst, sc)
            plan = solve(inst, sc, formulation=formulation)
            if not b.is_feasible:
                assert plan.status is Status.INFEASIBLE
                continue
            assert plan.status is Status.OPTIMAL, (seed, w, plan.subproblems)
            assert plan.objective == pytest.approx(b.value, rel=1e-9), (seed, w)
            assert plan.objective == pytest.approx(objective_value(inst, plan.groups, sc), rel=1e-12)
            assert plan.bound == pytest.approx(plan.objective, rel=1e-9)


def test_stage_plan_reports_the_weighted_value_and_an_honest_bound():
    """Split stages report ``w v0 + v1``; a first stage not proven leaves a
    bound of ``w b0`` plus the least the rest can be."""
    from ccgmerge.engine.formulations.base import StagePlan

    sp = StagePlan([["noncot"], ["rest"]], weight=100.0, spread=7.0, rest=True)
    assert sp.summarise([(5.0, 5.0, Status.OPTIMAL), (3.0, 3.0, Status.OPTIMAL)]) == (503.0, 503.0, Status.OPTIMAL)
    assert sp.summarise([(5.0, 5.0, Status.OPTIMAL), (3.0, 2.0, Status.FEASIBLE)]) == (503.0, 502.0, Status.FEASIBLE)
    assert sp.summarise([(5.0, 5.0, Status.OPTIMAL)]) == (500.0, 493.0, Status.FEASIBLE)
    assert sp.summarise([(5.0, 4.0, Status.FEASIBLE), (3.0, 3.0, Status.OPTIMAL)]) == (503.0, 396.0, Status.FEASIBLE)
    assert sp.summarise([(5.0, None, Status.FEASIBLE)]) == (500.0, None, Status.FEASIBLE)


def test_infeasible_verdict_on_a_block_with_a_valid_plan_is_a_solver_error(monkeypatch):
    """A solver that says "infeasible" where the greedy heuristic finds a plan the
    rules accept has failed: SolverError, never a proof (nor CLI exit 2)."""
    from ccgmerge.engine.backends import SolveOutcome

    monkeypatch.setattr(backends, "run", lambda *a, **k: SolveOutcome(Status.INFEASIBLE, None, None, 0.0, "cbc",
                                                                       "Problem is infeasible"))
    inst, sc = small()
    with pytest.raises(SolverError, match="infeasible.*greedy heuristic's plan"):
        solve(inst, sc)
    # a block that is infeasible (the greedy heuristic finds nothing) is still INFEASIBLE
    monkeypatch.undo()
    plan = solve(generate(12, seed=3), Scenario(floor=1e9))
    assert plan.status is Status.INFEASIBLE


# ---------------------------------------------------------------------------
# 2. a missing or crashing CBC
# ---------------------------------------------------------------------------
FAULTS = {
    "missing": None,
    "exit 1": 'echo "fake cbc: broken model"\nexit 1',
    "segfault": "kill -SEGV $$",
    "killed": "kill -KILL $$",
    "no solution": "exit 0",
}


@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
def test_broken_cbc_is_a_solver_error(fault, tmp_path, monkeypatch, tmpdir_env):
    """Each broken CBC raises SolverError naming the cause, not a greedy plan
    reported FEASIBLE "within the time limit"; its files are removed."""
    if FAULTS[fault] is None:
        missing = tmp_path / "no" / "cbc"
        monkeypatch.setattr(pulp, "PULP_CBC_CMD", lambda **kw: pulp.COIN_CMD(path=str(missing), **kw))
        cause = str(missing)
    else:
        fake_cbc(tmp_path, monkeypatch, FAULTS[fault])
        cause = {"exit 1": "exit code 1.*fake cbc: broken model", "segfault": "SIGSEGV", "killed": "SIGKILL",
                 "no solution": "no solution file"}[fault]
    inst, sc = small()
    for limit in (None, 60):
        with pytest.raises(SolverError, match=cause) as err:
            solve(inst, sc, time_limit=limit)
        assert err.value.solver == "cbc"
        assert os.listdir(tmpdir_env) == []


def test_broken_cbc_is_exit_code_5_on_the_command_line(tmp_path, monkeypatch, tmpdir_env, capsys):
    """``ccgmerge solve`` reports a missing CBC as "the solver failed", exit 5,
    with the path and no traceback, and writes no plan files."""
    from ccgmerge.cli import main

    missing = tmp_path / "no" / "cbc"
    monkeypatch.setattr(pulp, "PULP_CBC_CMD", lambda **kw: pulp.COIN_CMD(path=str(missing), **kw))
    out = tmp_path / "out"
    code = main(["solve", "--dataset", "synthetic", "--units", "30", "--seed", "1", "--floor", "300000",
                 "--coterminosity", "penalised", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 5
    assert "the solver failed" in err and str(missing) in err and "Traceback" not in err
    assert not (out / "summary.json").exists()


def test_cbc_that_hangs_is_killed_at_the_limit(tmp_path, monkeypatch, tmpdir_env):
    """A CBC that never returns is killed within the promise; the plan is the
    greedy one (FEASIBLE, with the term bounds' bound) and its files are gone."""
    fake_cbc(tmp_path, monkeypatch, "exec sleep 600")
    inst, sc = small()
    t0 = time.perf_counter()
    plan = solve(inst, sc, time_limit=2)
    wall = time.perf_counter() - t0
    assert wall <= 2 + grace(2)
    assert plan.status is Status.FEASIBLE and plan.verdict.ok
    assert plan.bound is not None and plan.bound <= plan.objective
    assert "overran" in plan.subproblems[-1]["detail"] and "term bounds" in plan.subproblems[-1]["detail"]
    assert os.listdir(tmpdir_env) == []


def test_cbc_log_shown_with_msg_keeps_the_limit_and_removes_its_files(tmp_path, monkeypatch, tmpdir_env, capsys):
    """With msg=True, CBC's log (written to ccgmerge's log file) is copied to
    stdout while it runs; a CBC that then hangs is still killed within the
    promise and its files, log included, are gone."""
    fake_cbc(tmp_path, monkeypatch, 'echo "Cbc0001I fake cbc started"\nexec sleep 600')
    inst, sc = small()
    t0 = time.perf_counter()
    plan = solve(inst, sc, time_limit=2, msg=True)
    wall = time.perf_counter() - t0
    assert wall <= 2 + grace(2)
    assert plan.status is Status.FEASIBLE and "overran" in plan.subproblems[-1]["detail"]
    assert "Cbc0001I fake cbc started" in capsys.readouterr().out
    assert os.listdir(tmpdir_env) == []
    plan = solve(inst, sc, time_limit=2)  # msg=False: nothing printed
    assert "fake cbc" not in capsys.readouterr().out


def test_cbc_crash_at_its_own_time_limit_is_a_stop_not_an_error(tmp_path, monkeypatch, tmpdir_env):
    """CBC 2.10 can segfault when its limit strikes while pre-processing a model
    with a MIP start (the 211 CCGs, penalised, 500k, ``-sec 1``). A crash after
    CBC used its whole ``-sec`` is taken as the stop it was making."""
    fake_cbc(tmp_path, monkeypatch, 'while [ "$1" != "-sec" ] && [ $# -gt 0 ]; do shift; done\n'
                                    'sleep "$2"\nkill -SEGV $$')
    inst, sc = small()
    plan = solve(inst, sc, time_limit=1.5)
    assert plan.status is Status.FEASIBLE and "greedy" in plan.formulation
    assert "SIGSEGV" in plan.subproblems[-1]["detail"]
    assert os.listdir(tmpdir_env) == []


def _fake_worker(tmp_path: Path, monkeypatch, body: str) -> None:
    from ccgmerge.engine.backends import highs

    script = tmp_path / "worker.py"
    script.write_text(body)
    highs.stop_workers()
    monkeypatch.setattr(highs, "WORKER", str(script))


def test_broken_highs_worker_is_a_solver_error(tmp_path, monkeypatch, tmpdir_env):
    from ccgmerge.engine.backends import highs

    _fake_worker(tmp_path, monkeypatch, "import sys\nsys.exit(3)\n")
    inst, sc = small()
    try:
        with pytest.raises(SolverError, match="exit code 3"):
            solve(inst, sc, solver="highs")
    finally:
        highs.stop_workers()
    assert os.listdir(tmpdir_env) == []


def test_hanging_highs_worker_is_killed_at_the_limit(tmp_path, monkeypatch, tmpdir_env):
    from ccgmerge.engine.backends import highs

    _fake_worker(tmp_path, monkeypatch, "import time\ntime.sleep(600)\n")
    inst, sc = small()
    t0 = time.perf_counter()
    try:
        plan = solve(inst, sc, solver="highs", time_limit=2)
    finally:
        highs.stop_workers()
    assert time.perf_counter() - t0 <= 2 + grace(2)
    assert plan.status is Status.FEASIBLE and "overran" in plan.subproblems[-1]["detail"]
    assert os.listdir(tmpdir_env) == []


def test_unavailable_solver_object_is_a_solver_error():
    class Broken(pulp.LpSolver):
        name = "BROKEN"

        def actualSolve(self, lp, **kw):
            raise pulp.PulpSolverError("BROKEN: Not Available")

    inst, sc = small()
    with pytest.raises(SolverError, match="BROKEN: Not Available"):
        solve(inst, sc, solver=Broken())


# ---------------------------------------------------------------------------
# 3. HiGHS and solver objects: the time limit, the thread scheduler
# ---------------------------------------------------------------------------
def test_highs_after_a_pulp_highs_object_still_solves():
    """HiGHS's process-wide thread scheduler made every ``solver="highs"`` solve
    (one thread) fail after a ``pulp.HiGHS()`` one (default threads)."""
    inst, sc = generate(20, seed=2), Scenario(floor=400_000)
    assert solve(inst, sc, solver=pulp.HiGHS(msg=False)).status is Status.OPTIMAL
    plan = solve(inst, sc, solver="highs")
    assert plan.status is Status.OPTIMAL, plan.subproblems
    assert solve(inst, sc, solver=pulp.HiGHS(msg=False, threads=2)).status is Status.OPTIMAL


def test_no_solver_starts_after_the_deadline(monkeypatch):
    """Each stage gets the time left, never "at least 1 s" after the deadline."""
    import pulp as lp

    from ccgmerge.engine.formulations.base import SolveContext, time_left

    called = []
    monkeypatch.setattr(backends, "run", lambda *a, **k: called.append(a) or None)
    ctx = SolveContext(backends.SolverOptions(), deadline=time.perf_counter() - 0.5)
    prob = lp.LpProblem("p", lp.LpMinimize)
    prob += lp.LpVariable("x", 0, 1)
    out = ctx.run(prob, ctx.options, 30.0)
    assert out.status is Status.NO_SOLUTION and called == []
    assert time_left(ctx.deadline) == 0 and ctx.time_left() == 0


# ---------------------------------------------------------------------------
# 4. the whole solve within its limit, with every backend; nothing left in TMPDIR
# ---------------------------------------------------------------------------
#: Slow cases of the benchmark suite (benchmarks/suite.py) and their limits: at 5 s CBC and
#: HiGHS are still searching the 211 CCGs at 1,000,000 and the realign engine is still
#: working on Kent; the issue's case (penalised, 500,000, 10 s) kept HiGHS in presolve for 115 s.
SLOW_CASES = {
    "ccg2013-merges-off-1m": (lambda: load_ccg2013(warn=False), dict(floor=1_000_000), 5.0),
    "lsoa-kent-moved-250k": (lambda: load_lsoa2013(hwbs=["E10000016"], warn=False),
                             dict(floor=250_000, objective="moved"), 5.0),
    "ccg2013-merges-penalised-500k": (lambda: load_ccg2013(warn=False), dict(floor=500_000, coterminosity="penalised"),
                                      10.0),
}
BACKENDS = {"cbc": lambda: "cbc", "highs": lambda: "highs", "pulp.HiGHS": lambda: pulp.HiGHS(msg=False)}


@pytest.fixture(scope="module")
def slow_instances():
    return {name: build() for name, (build, _, _) in SLOW_CASES.items()}


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_time_limit_holds_on_the_slowest_cases(backend, slow_instances, tmpdir_env):
    """Within ``limit + max(2 s, 5%)`` with CBC, HiGHS (which took 136 s with
    10) and a PuLP solver object (which ignored the limit); TMPDIR empty."""
    for name, (_, kw, limit) in SLOW_CASES.items():
        t0 = time.perf_counter()
        plan = solve(slow_instances[name], Scenario(**kw), solver=BACKENDS[backend](), time_limit=limit)
        wall = time.perf_counter() - t0
        assert wall <= limit + grace(limit), (name, backend, wall, plan.subproblems)
        assert plan.status in (Status.OPTIMAL, Status.FEASIBLE), (name, plan.status)
        assert os.listdir(tmpdir_env) == [], (name, os.listdir(tmpdir_env))


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not LINUX, reason="reads /proc")
@pytest.mark.parametrize("backend", ["cbc", "highs"])
def test_ctrl_c_stops_a_long_solve_within_2_s(backend, tmp_path):
    """SIGINT to a Python solving the 211 CCGs at 1,000,000 (no time limit: CBC
    and HiGHS run for minutes) ends it within 2 s, with its solver process
    and its files."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    script = ("import sys\nfrom ccgmerge import Scenario, load_ccg2013, solve\n"
              "inst = load_ccg2013(warn=False)\nprint('ready', flush=True)\n"
              "solve(inst, Scenario(floor=1_000_000), solver=sys.argv[1])\n")
    env = dict(os.environ, TMPDIR=str(tmp), PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.pop("TMP", None)
    proc = subprocess.Popen([sys.executable, "-c", script, backend], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        solver_pid = None
        t0 = time.perf_counter()
        while solver_pid is None and time.perf_counter() - t0 < 30:
            solver_pid = next((c for c in _children(proc.pid) if "cbc" in _cmdline(c) or "highs" in _cmdline(c)), None)
            time.sleep(0.05)
        time.sleep(1.0)  # well into the solve
        assert proc.poll() is None, proc.stderr.read()
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        took = time.perf_counter() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert took <= 2.0, f"Ctrl-C took {took:.1f} s"
    assert "KeyboardInterrupt" in proc.stderr.read()
    if solver_pid is not None:
        t0 = time.perf_counter()
        while _alive(solver_pid) and time.perf_counter() - t0 < 2:
            time.sleep(0.05)
        assert not _alive(solver_pid), "the solver outlived the interrupted Python"
    assert os.listdir(tmp) == []
