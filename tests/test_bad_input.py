"""Bad input through the command line (issue 13, items 9-11).

The heart of this file is a table-driven matrix (:data:`CASES`): each case is a
bad CSV file or a bad option value given to ``ccgmerge solve`` (or ``summary``)
in-process through :func:`ccgmerge.cli.main`. For every case it asserts

* the exit code (1 for bad input);
* that the message names the culprit: the file, its line as a text editor counts
  it (header = line 1), the column, key or value, and says how to fix it;
* that nothing is printed as a traceback (no "Traceback" on stdout or stderr);
* what is left in ``--out``: a folder holding a complete previous run is left
  byte for byte as it was, and a fresh ``--out`` folder is not created.

A few cases also run in a subprocess (``python -m ccgmerge``). The other tests
cover item 10 (``--out`` written as one set, atomically: a full disk, an
infeasible run after a feasible one, an unwritable folder found before the
solve, spreadsheet formula injection) and the item 11 infeasibility suggestion
(:func:`ccgmerge.engine.explain.infeasibility_suggestion`).

The imports fall back to the flat layout of older ccgmerge so that the file
can be run against an old checkout to show which tests fail there.
"""

from __future__ import annotations

import errno
import importlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from ccgmerge.cli import main
from ccgmerge.data import to_csv
from ccgmerge.plan import Plan
from ccgmerge.scenario import Scenario

try:
    from ccgmerge.data.synthetic import generate
except ImportError:  # older, flat layout
    from ccgmerge.synthetic import generate
import ccgmerge

# the module whose solve() the command line calls (ccgmerge.optimise in the older, flat layout)
SOLVE = importlib.import_module("ccgmerge.engine.solve" if (Path(ccgmerge.__file__).parent / "engine").is_dir()
                                else "ccgmerge.optimise")

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("units", "areas", "membership", "adjacency")
OUT_FILES = ("plan.csv", "groups.csv", "summary.json")
FLOOR = ["--floor", "250000"]


# --------------------------------------------------------------------------- fixtures and helpers
@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    """The four tables of a 10-unit synthetic instance (units.csv: U00001..U00010 on lines 2..11)."""
    folder = tmp_path_factory.mktemp("tables")
    to_csv(generate(10, seed=1), folder)
    return folder


@pytest.fixture(scope="module")
def previous(good, tmp_path_factory) -> Path:
    """An --out folder holding the complete result of an earlier, successful run."""
    out = tmp_path_factory.mktemp("previous") / "out"
    assert main(["solve", *csv_args(good), *FLOOR, "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(OUT_FILES)
    return out


def csv_args(folder: Path, **override) -> list[str]:
    files = {t: Path(folder) / f"{t}.csv" for t in TABLES}
    files.update(override)
    return [x for t in TABLES for x in (f"--{t}-csv", str(files[t]))]


def lines_of(folder: Path, table: str) -> list[str]:
    return (Path(folder) / f"{table}.csv").read_text().splitlines()


def write(tmp: Path, name: str, data: str | bytes) -> Path:
    p = tmp / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return p


def edited(good: Path, tmp: Path, table: str, line: int, new: str | None, name: str | None = None) -> Path:
    """``table``.csv with file line ``line`` (1 = header) replaced by ``new`` (None: deleted)."""
    rows = lines_of(good, table)
    if new is None:
        del rows[line - 1]
    else:
        rows[line - 1] = new
    return write(tmp, name or f"bad_{table}.csv", "\n".join(rows) + "\n")


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every entry of ``folder`` (hidden ones included) with its bytes."""
    return {p.name: (p.read_bytes() if p.is_file() else b"<dir>") for p in sorted(Path(folder).iterdir())}


def run(capsys, argv: list[str]) -> tuple[int | None, str, str]:
    """Exit code, stdout and stderr of ``ccgmerge ARGV`` run in-process; an exception escaping
    :func:`main` (which a real run would print as a traceback) is reported as one in stderr."""
    try:
        code = main([str(a) for a in argv])
    except Exception as exc:  # noqa: BLE001 - exactly what the matrix looks for
        out, err = capsys.readouterr()
        return None, out, err + f"Traceback (escaped main): {type(exc).__name__}: {exc}"
    out, err = capsys.readouterr()
    return code, out, err


# --------------------------------------------------------------------------- the matrix
@dataclass(frozen=True)
class Case:
    """One bad input: ``make(good, tmp)`` returns the arguments after the command."""

    id: str
    item: str  # the issue item it belongs to
    make: object
    names: tuple[str, ...]  # what the message must contain (file, line, column, key or value; the fix)
    code: int = 1
    command: str = "solve"
    subprocess: bool = False
    out: str = "unchanged"  # unchanged | replaced (a good run: the new complete set)
    tags: tuple = field(default=())


def _opt(*argv):
    return lambda good, tmp: [*csv_args(good), *argv]


def _csv(table, line, new, name=None):
    def make(good, tmp):
        return csv_args(good, **{table: edited(good, tmp, table, line, new, name)})
    return make


def _raw(table, data, name=None):
    def make(good, tmp):
        return csv_args(good, **{table: write(tmp, name or f"bad_{table}.csv", data)})
    return make


def _units_with(transform, name="bad_units.csv"):
    def make(good, tmp):
        return csv_args(good, units=write(tmp, name, transform((good / "units.csv").read_bytes())))
    return make


def _header_only(good, tmp):
    files = {t: write(tmp, f"empty_{t}.csv", lines_of(good, t)[0] + "\n") for t in TABLES}
    return csv_args(good, **files)


def _directory(good, tmp):
    (tmp / "units_dir").mkdir()
    return csv_args(good, units=tmp / "units_dir")


def _fifo(good, tmp):
    os.mkfifo(tmp / "units_fifo.csv")
    return csv_args(good, units=tmp / "units_fifo.csv")


def _separated(sep):
    def make(good, tmp):
        text = (good / "units.csv").read_text().replace(",", sep)
        return csv_args(good, units=write(tmp, "units_sep.csv", text))
    return make


def _missing(good, tmp):
    return csv_args(good, units=tmp / "no_such_units.csv")


def _latin1(data: bytes) -> bytes:
    return data.replace(b"Unit 00004", b"Unit \xe9 00004")  # file line 5


CASES = [
    # ---- item 9: tracebacks instead of messages
    Case("unquoted-comma-in-name", "9", _csv("units", 4, "U00003,Leeds, North,241392,0.3,0.4"),
         ("bad_units.csv", "line 4", "6 fields", "header (line 1) has 5", "quote names that contain commas"),
         subprocess=True),
    Case("row-with-extra-fields", "9", _csv("membership", 3, "U00002,A0002,241014,oops"),
         ("bad_membership.csv", "line 3", "4 fields", "remove the extra fields")),
    Case("non-utf8-after-header", "9", _units_with(_latin1),
         ("bad_units.csv", "line 5", "0xe9", "not UTF-8", "save the file as UTF-8"), subprocess=True),
    Case("floor-inf", "9", _opt("--floor", "inf"), ("--floor", "finite", "'inf'"), subprocess=True),
    Case("fixed-cost-inf", "9", _opt("--fixed-cost", "inf"), ("--fixed-cost", "finite", "'inf'")),
    Case("time-limit-inf", "9", _opt(*FLOOR, "--time-limit", "inf"), ("--time-limit", "finite", "'inf'")),
    Case("penalty-weight-inf", "9", _opt(*FLOOR, "--coterminosity", "penalised", "--penalty-weight", "inf"),
         ("--penalty-weight", "finite", "'inf'")),
    Case("objective-weight-nan", "9", _opt(*FLOOR, "--objective", "merges=nan"),
         ("--objective", "'merges'", "finite", "'nan'")),
    Case("limit-inf", "9", _opt(*FLOOR, "--limit", "merges", "inf"), ("--limit merges inf", "finite")),
    Case("summary-floor-1e300", "9", _opt("--floor", "1e300"), ("--floor", "at most", "'1e300'"),
         command="summary"),
    Case("empty-instance", "9", _header_only, ("empty_units.csv", "no data rows", "one row per unit")),
    # ---- item 11: unclear messages
    Case("directory-as-csv", "11", _directory, ("units_dir", "is a folder", "CSV file inside it")),
    Case("fifo-as-csv", "11", _fifo, ("units_fifo.csv", "FIFO", "regular file")),
    Case("semicolon-separated", "11", _separated(";"),
         ("units_sep.csv", "line 1", "';'-separated", "comma-separated", "Convert it", "sep=';'")),
    Case("tab-separated", "11", _separated("\t"), ("units_sep.csv", "line 1", "tab-separated", "Convert it")),
    Case("membership-line-numbers", "11", _csv("membership", 4, "ZZZ,A0006,241392"),
         ("bad_membership.csv", "line 4: ZZZ", "units table")),
    Case("adjacency-line-numbers", "11", _csv("adjacency", 3, "U00001,QQQ,boundary"),
         ("bad_adjacency.csv", "line 3: QQQ")),
    # ---- bad CSV files
    Case("missing-column", "csv", _raw("units", "code,name,pop\nU00001,x,1\n"),
         ("bad_units.csv", "required column 'population' missing", "'pop'")),
    Case("duplicate-code", "csv", _csv("units", 6, "U00002,Unit 00002,241014,0.1,0.9"),
         ("bad_units.csv", "duplicate unit codes", "U00002 (lines 3, 6)")),
    Case("negative-population", "csv", _csv("units", 4, "U00003,Unit 00003,-5,0.3,0.4"),
         ("bad_units.csv", "negative population", "U00003 (line 4", "'-5'")),
    Case("non-numeric-population", "csv", _csv("units", 5, "U00004,Unit 00004,12k,0.3,0.4"),
         ("bad_units.csv", "not a number", "U00004 (line 5", "'12k'")),
    Case("empty-population", "csv", _csv("units", 5, "U00004,Unit 00004,,0.3,0.4"),
         ("bad_units.csv", "not a number", "U00004 (line 5: empty)")),
    Case("membership-bad-population", "csv", _csv("membership", 7, "U00006,A0003,lots"),
         ("bad_membership.csv", "line 7 (U00006, A0003)", "'lots'")),
    Case("membership-unknown-area", "csv", _csv("membership", 2, "U00001,A9999,183709"),
         ("bad_membership.csv", "unknown areas", "line 2: A9999")),
    Case("adjacency-self-loop", "csv", _csv("adjacency", 2, "U00001,U00001,boundary"),
         ("bad_adjacency.csv", "self-loops", "line 2: U00001")),
    Case("adjacency-duplicate-pair", "csv", _csv("adjacency", 3, "U00002,U00001,boundary"),
         ("bad_adjacency.csv", "U00001-U00002 twice", "lines 2 and 3")),
    Case("membership-does-not-add-up", "csv", _csv("membership", 2, "U00001,A0004,183000"),
         ("U00001", "membership 183,000 vs population 183,709", "bad_membership.csv", "units.csv")),
    Case("empty-file", "csv", _raw("areas", b""), ("bad_areas.csv", "is empty", "header line (code, population")),
    Case("blank-lines-only", "csv", _raw("areas", "\n\n  \n"), ("bad_areas.csv", "is empty")),
    Case("header-only", "csv", _raw("membership", "unit,area,population\n"),
         ("bad_membership.csv", "no data rows")),
    Case("non-utf8-in-header", "csv", _raw("areas", b"code,n\xe4me,population\nA0001,x,1\n"),
         ("bad_areas.csv", "line 1", "0xe4", "UTF-8")),
    Case("utf16-file", "csv", _units_with(lambda b: b.decode().encode("utf-16")),
         ("bad_units.csv", "UTF-16", "save it as UTF-8")),
    Case("excel-workbook", "csv", _raw("units", b"PK\x03\x04rest-of-a-zip"), ("bad_units.csv", "Excel workbook")),
    Case("trailing-comma", "csv", _csv("areas", 3, "A0002,Area 0002,241014,"),
         ("bad_areas.csv", "line 3", "trailing comma")),
    Case("unclosed-quote", "csv", _csv("areas", 8, 'A0007,"Area 0007,468647'),
         ("bad_areas.csv", "line 8", "never closed")),
    Case("missing-file", "csv", _missing, ("no_such_units.csv", "does not exist")),
    Case("code-blank", "csv", _csv("units", 3, " ,Unit 00002,241014,0.1,0.9"),
         ("bad_units.csv", "code is blank in line 3")),
    Case("bom-is-fine", "csv", _units_with(lambda b: b"\xef\xbb\xbf" + b), (), code=0, out="replaced"),
    Case("crlf-and-quotes-are-fine", "csv",
         _units_with(lambda b: b.replace(b"Unit 00003", b'"Unit, 00003"').replace(b"\n", b"\r\n")), (),
         code=0, out="replaced"),
    # ---- bad option values
    Case("floor-negative", "opt", _opt("--floor", "-5"), ("--floor must be >= 0", "'-5'")),
    Case("floor-text", "opt", _opt("--floor", "lots"), ("--floor must be a number", "'lots'")),
    Case("floor-nan", "opt", _opt("--floor", "nan"), ("--floor", "finite", "'nan'")),
    Case("allowance-inf", "opt", _opt("--allowance", "inf"), ("--allowance", "finite")),
    Case("allowance-zero", "opt", _opt("--allowance", "0"), ("allowance_per_head", "no money per head")),
    Case("fixed-cost-1e300", "opt", _opt("--fixed-cost", "1e300"), ("--fixed-cost 1e+300", "population floor of 4e+298")),
    Case("ceiling-inf", "opt", _opt(*FLOOR, "--ceiling", "inf"), ("--ceiling", "finite")),
    Case("ceiling-below-floor", "opt", _opt(*FLOOR, "--ceiling", "1000"), ("ceiling 1,000", "below the floor")),
    Case("gap-nan", "opt", _opt(*FLOOR, "--gap", "nan"), ("--gap", "finite")),
    Case("gap-too-big", "opt", _opt(*FLOOR, "--gap", "1.5"), ("gap=1.5",)),
    Case("time-limit-nan", "opt", _opt(*FLOOR, "--time-limit", "nan"), ("--time-limit", "finite")),
    Case("time-limit-1e300", "opt", _opt(*FLOOR, "--time-limit", "1e300"), ("--time-limit must be at most", "'1e300'")),
    Case("time-limit-zero", "opt", _opt(*FLOOR, "--time-limit", "0"), ("--time-limit must be > 0",)),
    Case("threads-zero", "opt", _opt(*FLOOR, "--threads", "0"), ("--threads must be >= 1",)),
    Case("max-units-text", "opt", _opt(*FLOOR, "--max-units", "two"), ("--max-units must be a whole number",)),
    Case("penalty-weight-negative", "opt", _opt(*FLOOR, "--penalty-weight", "-1"), ("--penalty-weight must be >= 0",)),
    Case("objective-unknown", "opt", _opt(*FLOOR, "--objective", "cheapest"), ("cheapest", "allowed names")),
    Case("objective-weight-inf", "opt", _opt(*FLOOR, "--objective", "merges=1,moved=inf"), ("'moved'", "finite")),
    Case("limit-text", "opt", _opt(*FLOOR, "--limit", "merges", "lots"), ("--limit merges lots", "not a number")),
    Case("limit-unknown-term", "opt", _opt(*FLOOR, "--limit", "speed", "3"), ("'speed'", "cannot be limited")),
    Case("coterminosity-unknown", "opt", _opt(*FLOOR, "--coterminosity", "sideways"), ("invalid choice: 'sideways'",)),
    Case("alone-unknown-unit", "opt", _opt(*FLOOR, "--alone", "NOPE"), ("NOPE", "not in the instance")),
    Case("remove-missing-edge", "opt", _opt(*FLOOR, "--remove-edge", "U00001", "U00010"),
         ("cannot remove edges", "U00001-U00010")),
    Case("out-is-a-file", "opt", lambda good, tmp: [*csv_args(good), *FLOOR, "--out", str(write(tmp, "f", "x"))],
         ("not a folder",), out="n/a"),
    Case("out-under-a-file", "10", lambda good, tmp: [*csv_args(good), *FLOOR, "--out", str(write(tmp, "f", "x") / "o")],
         ("output folder", "f/o", "choose another --out"), out="n/a"),
    Case("summary-bad-csv", "opt", lambda good, tmp: csv_args(good, areas=write(tmp, "a.csv", "code;population\n")),
         ("a.csv", "';'-separated"), command="summary"),
]

TALLY = {"cases": 0, "clean": 0, "tracebacks": 0}


def _assert_case(case: Case, code: int, out: str, err: str) -> None:
    TALLY["cases"] += 1
    tb = "Traceback" in out + err
    TALLY["tracebacks"] += tb
    assert not tb, err
    assert code == case.code, (code, out, err)
    if case.code == 1:
        assert err.startswith("error: "), err
        missing = [n for n in case.names if n not in err]
        assert not missing, f"message lacks {missing}: {err}"
    TALLY["clean"] += 1


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_matrix(case: Case, good, previous, tmp_path, capsys):
    argv = [case.command, *case.make(good, tmp_path)]
    if case.command != "solve" or case.out == "n/a":
        code, out, err = run(capsys, argv)
        _assert_case(case, code, out, err)
        return
    # 1. an --out folder holding a complete previous run
    kept = tmp_path / "kept"
    shutil.copytree(previous, kept)
    before = snapshot(kept)
    code, out, err = run(capsys, [*argv, "--out", kept])
    _assert_case(case, code, out, err)
    after = snapshot(kept)
    if case.out == "unchanged":
        assert after == before, "--out changed by a run that failed"
    else:  # a good run: exactly the new complete set, nothing else
        assert sorted(after) == sorted(OUT_FILES)
        summary = json.loads(after["summary.json"])
        plan = pd.read_csv(kept / "plan.csv", dtype=str)
        assert summary["status"] == "optimal" and summary["assignment"] == dict(zip(plan["unit"], plan["group"]))
    # 2. a fresh --out folder: not created by a failed run
    fresh = tmp_path / "fresh" / "out"
    code, out, err = run(capsys, [*argv, "--out", fresh])
    assert "Traceback" not in out + err and code == case.code
    if case.code != 0:
        assert not fresh.exists() and not fresh.parent.exists()


@pytest.mark.parametrize("case", [c for c in CASES if c.subprocess], ids=[c.id for c in CASES if c.subprocess])
def test_bad_input_in_a_subprocess(case: Case, good, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)])))
    argv = [case.command, *case.make(good, tmp_path), "--out", str(tmp_path / "out")]
    res = subprocess.run([sys.executable, "-m", "ccgmerge", *argv], capture_output=True, text=True, env=env,
                         timeout=120)
    _assert_case(case, res.returncode, res.stdout, res.stderr)
    assert not (tmp_path / "out").exists()


def test_matrix_totals(capsys):
    """Runs after the matrix (file order): every case ran clean, none printed a traceback."""
    if TALLY["cases"]:
        with capsys.disabled():
            print(f"\nbad-input matrix: {TALLY['cases']} runs, {TALLY['clean']} clean messages, "
                  f"{TALLY['tracebacks']} tracebacks")
        assert TALLY["tracebacks"] == 0
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)


# --------------------------------------------------------------------------- item 10: --out
def _complete(folder: Path) -> dict:
    """The summary of a complete result set in ``folder`` (the three files agree)."""
    names = sorted(p.name for p in folder.iterdir())
    summary = json.loads((folder / "summary.json").read_text())
    if summary["status"] in ("optimal", "feasible"):
        assert names == sorted(OUT_FILES), names
        plan = pd.read_csv(folder / "plan.csv", dtype=str)
        groups = pd.read_csv(folder / "groups.csv", dtype=str)
        assert summary["assignment"] == dict(zip(plan["unit"], plan["group"]))
        assert len(groups) == summary["metrics"]["groups"]
    else:
        assert names == ["summary.json"], names
    return summary


def test_infeasible_run_removes_the_previous_plan(good, previous, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(previous, out)
    code, stdout, err = run(capsys, ["solve", *csv_args(good), "--floor", "9000000", "--out", out])
    assert code == 2 and "Traceback" not in stdout + err
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]  # no stale plan.csv / groups.csv
    assert _complete(out)["status"] == "infeasible"


def test_unwritable_out_is_found_before_the_solve(good, tmp_path, capsys, monkeypatch):
    calls = []
    real = SOLVE.solve
    monkeypatch.setattr(SOLVE, "solve", lambda *a, **k: calls.append(1) or real(*a, **k))
    blocker = write(tmp_path, "a_file", "x")
    code, out, err = run(capsys, ["solve", *csv_args(good), *FLOOR, "--out", blocker / "sub"])
    assert calls == [], "solved before finding that --out cannot be written"
    assert code == 1 and "Traceback" not in out + err
    assert "a_file/sub" in err and "--out" in err


def _enospc_after(n: int):
    """A Plan.to_json that writes ``n`` bytes of the summary, then fails as a full disk does."""
    def to_json(self, path=None):
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True)
        if path is not None:
            Path(path).write_text(text[:n])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return text
    return to_json


def test_full_disk_simulated_keeps_the_previous_run(good, previous, tmp_path, capsys, monkeypatch):
    """ENOSPC while summary.json is written (monkeypatched): --out keeps the complete previous run."""
    out = tmp_path / "out"
    shutil.copytree(previous, out)
    before = snapshot(out)
    monkeypatch.setattr(Plan, "to_json", _enospc_after(4096))
    code, stdout, err = run(capsys, ["solve", "--dataset", "synthetic", "--units", "40", *FLOOR, "--out", out])
    assert snapshot(out) == before, "a full disk left a mix of old and new files"
    assert code == 1 and "Traceback" not in stdout + err
    assert str(out) in err and ("No space left" in err or "disk is full" in err)
    monkeypatch.undo()
    code, _, _ = run(capsys, ["solve", "--dataset", "synthetic", "--units", "40", *FLOOR, "--out", out])
    assert code == 0 and _complete(out)["instance"]["n_units"] == 40


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB tmpfs (needs root); skipped where it cannot be mounted."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (the simulated full-disk test still runs)")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.decode(errors='replace').strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def _free(folder: Path) -> int:
    st = os.statvfs(folder)
    return st.f_bavail * st.f_frsize


def test_full_disk_on_a_real_tmpfs(good, small_disk, capsys):
    """A real ENOSPC: the previous run (10 units, 3 pages) stays complete when a larger run
    (150 units, 6 pages) meets a disk with one free page; with room, the new run is complete."""
    out = small_disk / "out"
    assert main(["solve", *csv_args(good), *FLOOR, "--out", str(out)]) == 0
    capsys.readouterr()
    before = snapshot(out)
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (_free(small_disk) - 4096))  # leave one page
    big = ["solve", "--dataset", "synthetic", "--units", "150", "--seed", "1", *FLOOR, "--out", out]
    code, stdout, err = run(capsys, big)
    assert snapshot(out) == before, "a full disk left a mix of old and new files"  # nothing else, no .tmp-*
    assert code == 1 and "Traceback" not in stdout + err
    assert str(out) in err and "disk is full" in err
    _complete(out)
    filler.unlink()
    code, _, _ = run(capsys, big)
    assert code == 0 and _complete(out)["instance"]["n_units"] == 150


def test_formula_injection_is_neutralised(good, tmp_path, capsys):
    """Names and codes that a spreadsheet would run as formulas are written with a leading '."""
    folder = tmp_path / "evil"
    shutil.copytree(good, folder)
    areas = pd.read_csv(folder / "areas.csv", dtype=str)
    areas["name"] = ['=HYPERLINK("http://x.example","click")', "+1+2", "@SUM(A1)", "-2+3", "\tTab", "Leeds",
                     "=cmd|' /C calc'!A0"]
    areas.to_csv(folder / "areas.csv", index=False)
    for t in TABLES:  # a unit code that starts with '='
        p = folder / f"{t}.csv"
        p.write_text(p.read_text().replace("U00001", "=U00001"))
    out = tmp_path / "out"
    code, stdout, err = run(capsys, ["solve", *csv_args(folder), "--floor", "50000", "--fixed-cost", "1e7", "--out", out])
    assert code == 0, err
    groups = pd.read_csv(out / "groups.csv", dtype=str, keep_default_na=False)
    plan = pd.read_csv(out / "plan.csv", dtype=str)
    cells = [c for df in (groups, plan) for col in df.columns for c in df[col] if isinstance(c, str)]
    numeric = {"population", "allowance", "cost", "margin", "n_units", "share_in_main_area", "share_of_main_area"}
    for df in (groups, plan):
        for col in set(df.columns) - numeric:
            bad = [c for c in df[col] if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
            assert not bad, (col, bad)
    assert "'=U00001" in set(plan["unit"])
    assert any(c.startswith("'=HYPERLINK(") for c in cells)
    margins = pd.to_numeric(groups["margin"])  # numbers are not touched, negative ones included
    assert (margins < 0).any() and not groups["margin"].str.startswith("'").any()


def test_replace_files_rolls_back_a_failed_switch(tmp_path, monkeypatch):
    from ccgmerge import output

    out = tmp_path / "out"
    out.mkdir()
    for name in OUT_FILES:
        (out / name).write_text(f"old {name}")
    before = snapshot(out)
    real, seen = os.replace, []

    def flaky(src, dst):
        seen.append(dst)
        if len(seen) == 2:
            raise OSError(errno.EIO, "I/O error", str(dst))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(output.OutputError, match="restored"):
        output.replace_files(out, {"summary.json": lambda p: p.write_text("new"),
                                   "plan.csv": lambda p: p.write_text("new")}, stale=OUT_FILES)
    monkeypatch.undo()
    assert snapshot(out) == before
    written = output.replace_files(out, {"summary.json": lambda p: p.write_text("new")}, stale=OUT_FILES)
    assert written == [out / "summary.json"] and snapshot(out) == {"summary.json": b"new"}


def test_csv_safe_leaves_numbers_alone():
    from ccgmerge.output import csv_safe

    df = pd.DataFrame({"name": ["=1+1", "+44 20", "-5", "+3.5e2", "@x", "\tx", "\rx", "ok", "-x"],
                       "n": [-1, 2, 3, 4, 5, 6, 7, 8, 9]})
    safe = csv_safe(df)
    assert safe["name"].tolist() == ["'=1+1", "'+44 20", "-5", "+3.5e2", "'@x", "'\tx", "'\rx", "ok", "'-x"]
    assert safe["n"].tolist() == df["n"].tolist()


# --------------------------------------------------------------------------- items 9 and 11: the library
@pytest.mark.parametrize("kw", [dict(floor=float("inf")), dict(fixed_cost=float("inf")),
                                dict(penalty_weight=float("inf")), dict(allowance_per_head=float("nan")),
                                dict(ceiling=float("nan")), dict(ceiling=float("inf")),
                                dict(objective={"merges": float("nan")}), dict(limits={"merges": float("inf")})])
def test_scenario_rejects_inf_and_nan(kw):
    from ccgmerge.errors import ScenarioError

    name = next(iter(kw))
    with pytest.raises(ScenarioError, match="finite") as info:
        Scenario(**kw)
    assert (name if name != "objective" else "objective weights") in str(info.value)


def test_infeasibility_suggestion_names_max_units_and_the_unit():
    from ccgmerge.engine.explain import infeasibility_suggestion

    inst = generate(30, seed=1)
    text = infeasibility_suggestion(Scenario(floor=250_000, max_units=1), inst)
    assert "max_units=1 (--max-units 1)" in text and "U00016 (84,143 people)" in text
    assert "at least 2 units" in text and "ceiling" not in text and "coterminosity" not in text
    text = infeasibility_suggestion(Scenario(floor=250_000, max_units=3, ceiling=900_000, coterminosity="aligned",
                                             apart=[("U00001", "U00002")]), inst, ["U00001", "U00002"])
    assert text.startswith("relax max_units=3 (--max-units 3), the ceiling 900,000 (--ceiling), the locks (1 apart")
    assert "'aligned'" in text
    assert infeasibility_suggestion(Scenario(floor=250_000, contiguity=False), inst) == "lower the floor."


def test_max_units_infeasibility_names_max_units_and_the_unit(tmp_path, capsys):
    code, out, err = run(capsys, ["solve", "--dataset", "synthetic", "--units", "30", "--seed", "1", *FLOOR,
                                  "--max-units", "1", "--out", tmp_path / "out"])
    assert code == 2 and "Traceback" not in out + err
    line = next(s for s in out.splitlines() if s.startswith("suggestion:"))
    assert "--max-units 1" in line and "U00016" in line and "coterminosity mode" not in line
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["summary.json"]


def test_empty_tables_in_the_library(good):
    from ccgmerge.errors import ValidationError
    from ccgmerge.instance import Instance

    units = pd.read_csv(good / "units.csv", dtype={"code": str})
    areas = pd.read_csv(good / "areas.csv", dtype={"code": str})
    member = pd.read_csv(good / "membership.csv", dtype={"unit": str, "area": str})
    with pytest.raises(ValidationError, match="units: no rows; add one row per unit"):
        Instance.from_frames(units.iloc[:0], areas.iloc[:0], member.iloc[:0], [])
    with pytest.raises(ValidationError, match="membership: no rows"):
        Instance.from_frames(units, areas, member.iloc[:0], [])


def test_compressed_and_mapped_files_still_read(good, tmp_path):
    import gzip

    from ccgmerge.data import from_csv

    gz = tmp_path / "units.csv.gz"
    gz.write_bytes(gzip.compress((good / "units.csv").read_bytes()))
    files = [good / f"{t}.csv" for t in TABLES]
    assert from_csv(gz, *files[1:]).fingerprint == from_csv(*files).fingerprint
    renamed = write(tmp_path, "u.csv", (good / "units.csv").read_text().replace("population", "pop", 1))
    inst = from_csv(renamed, *files[1:], columns={"units": {"pop": "population"}})
    assert inst.fingerprint == from_csv(*files).fingerprint
