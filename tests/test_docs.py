"""README.md and docs/*.md stay true: every code block runs and prints what the page shows
(scripts/docblocks.py), the install commands are the ones CI runs, and the benchmark figures in
benchmarks/README.md are generated from the committed suite results (benchmarks/figures.py)."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


docblocks = _load("docblocks", ROOT / "scripts" / "docblocks.py")
figures = _load("benchmark_figures", ROOT / "benchmarks" / "figures.py")


def _env() -> dict:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONWARNINGS"] = "ignore::DeprecationWarning"
    return env


@pytest.mark.parametrize("path", DOCS, ids=[p.relative_to(ROOT).as_posix() for p in DOCS])
def test_code_blocks_print_what_the_page_shows(path, tmp_path):
    result = docblocks.run_document(path, workdir=tmp_path, env=_env())
    assert not result.mismatches, "\n\n".join(str(m) for m in result.mismatches) + (
        f"\n\n(after a deliberate change: python scripts/docblocks.py --update {path.relative_to(ROOT)})")


def test_readme_runs_examples_of_every_kind():
    blocks = docblocks.parse_blocks((ROOT / "README.md").read_text())
    kinds = {b.kind for b in blocks}
    assert {"install", "console", "python", "text", "tree"} <= kinds
    assert sum(b.kind in ("console", "python") for b in blocks) >= 5


def test_install_block_is_what_ci_runs():
    """The first block of README (install + main job, then the tests) is what .ci/run runs, word for word."""
    blocks = docblocks.parse_blocks((ROOT / "README.md").read_text())
    assert blocks[0].kind == "install"
    ci = (ROOT / ".ci" / "run").read_text()
    ci_lines = [ln.strip() for ln in ci.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    commands = [c.strip() for ln in blocks[0].body.splitlines() for c in ln.split("&&") if c.strip()]
    assert commands, "README's install block is empty"
    for cmd in commands:
        words = shlex.split(cmd)
        if words[:2] == ["pip", "install"]:
            # CI spells it `python -m pip install --quiet ...`; the package spec must be the same
            spec = words[-1]
            assert any("pip install" in ln and shlex.split(ln)[-1] == spec for ln in ci_lines), cmd
        elif words[:2] == ["ccgmerge", "solve"]:
            assert any(ln.startswith('ccgmerge solve --out') for ln in ci_lines), cmd
        else:
            assert cmd in ci_lines, f"README's {cmd!r} is not run by .ci/run"


def test_docblocks_catches_a_stale_output(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```console\n$ echo 41\n42\n```\n\n```python\nprint(6 * 7)\n```\n\n```text\n41\n```\n")
    result = docblocks.run_document(page, workdir=tmp_path)
    assert [m.line for m in result.mismatches] == [2, 6]
    assert docblocks.update_document(page) == 2
    assert docblocks.run_document(page, workdir=tmp_path).mismatches == []
    assert "$ echo 41\n41\n" in page.read_text() and "```text\n42\n```" in page.read_text()


def test_docblocks_refuses_a_block_it_cannot_check():
    with pytest.raises(ValueError, match="info string ''"):
        docblocks.parse_blocks("```\nls\n```\n")
    with pytest.raises(ValueError, match="needs file=NAME"):
        docblocks.parse_blocks("```toml\na = 1\n```\n")


def test_ellipsis_stands_for_figures_that_vary(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```console\n$ echo solved in 1.234 s\nsolved in ... s\n```\n")
    assert docblocks.run_document(page, workdir=tmp_path).mismatches == []


def test_benchmark_readme_figures_come_from_the_suite_results():
    assert figures.FIGURES_CSV.is_file(), "benchmarks/figures/results.csv is missing: run python -m benchmarks.figures publish"
    rows = figures.read_rows(figures.FIGURES_CSV)
    assert rows and {"case", "status", "objective", "bound"} <= set(rows[0])
    assert figures.check() == []


def test_benchmark_figures_check_notices_a_hand_edit(tmp_path):
    readme = tmp_path / "README.md"
    text = (ROOT / "benchmarks" / "README.md").read_text()
    readme.write_text(text)
    assert figures.check(readme) == []
    section = figures.readme_section(text)
    edited = re.sub(r"\| optimal \|", "| feasible |", section, count=1)
    assert edited != section
    readme.write_text(text.replace(section, edited))
    assert figures.check(readme)
