"""The real tables shipped inside the package (``ccgmerge/data/real``) and ``scripts/sync_data.py``.

The packaged copies must be byte-for-byte identical to the data folder
``../shared/data``. That comparison needs the folder: it is skipped on a
developer machine without it (the reason names the folder) and fails in CI
(``CI`` set), where the folder is always present; see ``tests/conftest.py``.
The other tests need only the package.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import conftest
from ccgmerge.data import load_ccg2013, load_lsoa2013
from ccgmerge.data.paths import GEOMETRY_FILES, LICENCE_FILE, PACKAGED_FILES, packaged_data_dir

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "sync_data.py"
SOURCE = ROOT.parent / "shared" / "data"


def _load_script():
    spec = importlib.util.spec_from_file_location("sync_data", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sync_data = _load_script()


@pytest.fixture(scope="module")
def source():
    """The data folder ../shared/data (skip locally / fail in CI when absent)."""
    if not (SOURCE / "ccg2013_units.csv").is_file():
        conftest.skip_or_fail(f"the data folder {SOURCE} (../shared/data beside the repository) is absent, "
                              "so the packaged copies cannot be compared with it")
    return SOURCE


@pytest.fixture
def fake_source(tmp_path):
    """A writable stand-in for the data folder: a copy of the packaged files."""
    src = tmp_path / "source"
    src.mkdir()
    for name in PACKAGED_FILES:
        shutil.copyfile(packaged_data_dir() / name, src / name)
    return src


# --------------------------------------------------------------------------- the packaged folder
def test_packaged_copies_are_identical_to_the_data_folder(source):
    assert sync_data.check(source, packaged_data_dir()) == []
    r = subprocess.run([sys.executable, str(SCRIPT), "--check", "--source", str(source)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"OK: {len(PACKAGED_FILES)} packaged files" in r.stdout


def test_packaged_folder_holds_exactly_the_tables_and_licence():
    names = {p.name for p in packaged_data_dir().iterdir()}
    assert names == set(PACKAGED_FILES) | {LICENCE_FILE}
    assert not names & set(GEOMETRY_FILES)
    assert "gp_practice_list_sizes_2013q2.csv" not in names
    licence = (packaged_data_dir() / LICENCE_FILE).read_text()
    provenance = (packaged_data_dir() / "PROVENANCE.md").read_text()
    attribution = provenance[provenance.index("Attribution (OGL):"):provenance.index("## Conventions")].strip()
    assert attribution in licence and "Open Government Licence v3.0" in licence
    for name in PACKAGED_FILES:
        assert f"`{name}`" in licence, name


def test_packaged_tables_load_the_real_instances():
    inst = load_ccg2013(packaged_data_dir())
    assert repr(inst) == ("Instance('England CCGs 2013': 211 units, 152 areas, 531 adjacency edges, "
                          "population 53,434,130)")
    lsoa = load_lsoa2013(packaged_data_dir(), ccgs=["00C"])
    assert (lsoa.n_units, lsoa.total_population) == (65, 105_248)


# --------------------------------------------------------------------------- the script
def test_check_names_every_changed_missing_or_unexpected_file(fake_source, tmp_path, capsys):
    dest = tmp_path / "package"
    shutil.copytree(packaged_data_dir(), dest)
    assert sync_data.check(fake_source, dest) == []
    with open(dest / "ccg2013_units.csv", "a") as f:
        f.write("\n")
    (dest / "lsoa11_adjacency.csv.gz").unlink()
    (dest / "stray.csv").write_text("x\n")
    (fake_source / "hwb2013_units.csv").unlink()
    problems = sync_data.check(fake_source, dest)
    assert [p.split(":")[0] for p in problems] == [
        "ccg2013_units.csv", "hwb2013_units.csv", "lsoa11_adjacency.csv.gz", "stray.csv"]
    assert "differs" in problems[0] and "missing from the source" in problems[1]
    assert "missing from the package" in problems[2] and "unexpected" in problems[3]
    assert sync_data.main(["--check", "--source", str(fake_source), "--dest", str(dest)]) == 1
    err = capsys.readouterr().err
    for name in ("ccg2013_units.csv", "hwb2013_units.csv", "lsoa11_adjacency.csv.gz", "stray.csv"):
        assert name in err
    assert "4 packaged file(s) out of sync" in err


def test_sync_copies_then_check_passes(fake_source, tmp_path, capsys):
    dest = tmp_path / "package"
    dest.mkdir()
    shutil.copyfile(packaged_data_dir() / LICENCE_FILE, dest / LICENCE_FILE)
    for name in PACKAGED_FILES:
        (fake_source / name).chmod(0o444)  # the shared data folder is read-only
    assert sync_data.main(["--source", str(fake_source), "--dest", str(dest)]) == 0
    assert f"copied {len(PACKAGED_FILES)} file(s)" in capsys.readouterr().out
    assert sync_data.check(fake_source, dest) == []
    (dest / "nhs_orgs_by_year.csv").write_text("stale\n")
    (dest / "nhs_orgs_by_year.csv").chmod(0o444)
    assert sync_data.sync(fake_source, dest) == ["nhs_orgs_by_year.csv"]  # only what differs
    assert sync_data.check(fake_source, dest) == []


def test_script_errors(tmp_path, capsys):
    assert sync_data.main(["--check", "--source", str(tmp_path / "nowhere")]) == 1
    assert f"source folder {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err
    (tmp_path / "partial").mkdir()
    assert sync_data.main(["--source", str(tmp_path / "partial"), "--dest", str(tmp_path / "d")]) == 1
    assert "missing from the source" in capsys.readouterr().err and not (tmp_path / "d").exists()
