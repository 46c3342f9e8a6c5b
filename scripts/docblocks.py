"""Run the code blocks of a Markdown file and compare what they print with what the file shows.

Used by ``tests/test_docs.py`` (README.md and docs/*.md) and by hand to refresh a document after
a deliberate change::

    python scripts/docblocks.py README.md            # report differences, exit 1 if any
    python scripts/docblocks.py --update README.md   # rewrite the shown outputs from a real run

How a block is treated depends on its info string (the word after the opening fence):

``console``
    Lines starting with ``$ `` are shell commands (a line ending in ``\\`` continues on the
    next); the lines after a command, up to the next ``$ ``, are its expected output (stdout
    and stderr together). Commands run with ``bash`` in one working folder per document, in order.
``python``
    Executed in one namespace per document, in order. If the next block is a ``text`` block,
    that block is the expected standard output; otherwise the block must print nothing.
``toml file=NAME``, ``csv file=NAME``
    Written to ``NAME`` in the working folder (for later commands to read).
``install``
    The install and test commands at the top of README. They are not run here (the test
    suite cannot reinstall itself or run itself); ``tests/test_docs.py`` checks instead that
    ``.ci/run`` runs each of them, so CI runs them on a clean clone.
``tree``
    A drawing, not code: README's project layout, checked by ``tests/test_architecture.py``.

Any other fence (including one with no info string) is an error, so a new block cannot slip
in unchecked. In expected output, ``...`` matches any text (doctest's ELLIPSIS), so figures
that change from run to run are written as ``...``; durations in seconds (``0.21 s``) are never
compared, and differences in whitespace are ignored.
"""

from __future__ import annotations

import argparse
import contextlib
import doctest
import io
import os
import re
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^```(.*)$")
RUN_KINDS = {"console", "python"}
STATIC_KINDS = {"install", "tree", "text"}
FILE_KINDS = {"toml", "csv"}
CHECKER = doctest.OutputChecker()
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
#: figures that change from run to run: durations in seconds, never compared and written ``... s`` by --update
VOLATILE = re.compile(r"(?<![\w.])\d+(?:\.\d+)? s\b")


@dataclass
class Block:
    """One fenced block: its kind, options (``file=NAME``), body and 1-based line span."""

    kind: str
    options: dict
    body: str
    start: int  # line of the opening fence
    end: int  # line of the closing fence


@dataclass
class Mismatch:
    """A command or Python block whose output differs from what the document shows."""

    line: int
    source: str
    want: str
    got: str
    kind: str = "console"

    def __str__(self) -> str:
        return f"line {self.line}: {self.source.strip()[:80]}\n--- shown\n{self.want}--- printed\n{self.got}"


@dataclass
class Result:
    mismatches: list[Mismatch] = field(default_factory=list)
    ran: int = 0


def parse_blocks(text: str, name: str = "<doc>") -> list[Block]:
    """Every fenced block of ``text``; an unknown or missing info string is a ValueError."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        info = m.group(1).split()
        j = i + 1
        while j < len(lines) and lines[j].rstrip() != "```":
            j += 1
        if j == len(lines):
            raise ValueError(f"{name}: the block opened on line {i + 1} is never closed")
        kind = info[0] if info else ""
        options = dict(o.split("=", 1) for o in info[1:] if "=" in o)
        if kind not in RUN_KINDS | STATIC_KINDS | FILE_KINDS:
            raise ValueError(f"{name}: the block on line {i + 1} has info string {kind!r}; use one of "
                             f"{sorted(RUN_KINDS | STATIC_KINDS | FILE_KINDS)} (see scripts/docblocks.py)")
        if kind in FILE_KINDS and "file" not in options:
            raise ValueError(f"{name}: the {kind} block on line {i + 1} needs file=NAME")
        blocks.append(Block(kind, options, "\n".join(lines[i + 1:j]) + ("\n" if j > i + 1 else ""), i + 1, j + 1))
        i = j + 1
    return blocks


def _same(want: str, got: str) -> bool:
    """Whether ``got`` is what ``want`` shows: ``...`` matches anything and durations in seconds
    (``0.21 s``) are not compared."""
    return CHECKER.check_output(VOLATILE.sub("... s", want), VOLATILE.sub("... s", got), FLAGS)


def _console_steps(block: Block) -> list[tuple[int, str, str]]:
    """(line, command, expected output) for each ``$`` command of a console block."""
    steps, cmd, want, line, cont = [], None, [], 0, False
    for k, raw in enumerate(block.body.splitlines()):
        if cont:
            cmd += "\n" + raw
            cont = raw.endswith("\\")
            continue
        if raw.startswith("$ "):
            if cmd is not None:
                steps.append((line, cmd, "".join(w + "\n" for w in want)))
            cmd, want, line = raw[2:], [], block.start + 1 + k
            cont = raw.endswith("\\")
        elif cmd is None:
            raise ValueError(f"line {block.start + 1 + k}: a console block must start with a '$ ' command")
        else:
            want.append(raw)
    if cmd is not None:
        steps.append((line, cmd, "".join(w + "\n" for w in want)))
    return steps


def run_document(path: Path, workdir: Path | None = None, env: dict | None = None, timeout: float = 600) -> Result:
    """Run every runnable block of the Markdown file ``path``; see the module docstring."""
    text = Path(path).read_text(encoding="utf-8")
    blocks = parse_blocks(text, str(path))
    result = Result()
    own = tempfile.TemporaryDirectory(prefix="docblocks-") if workdir is None else contextlib.nullcontext(workdir)
    with own as wd:
        wd = Path(wd)
        namespace: dict = {"__name__": "__docblocks__"}
        run_env = dict(os.environ if env is None else env)
        run_env.setdefault("COLUMNS", "100")
        for n, b in enumerate(blocks):
            if b.kind in FILE_KINDS:
                (wd / b.options["file"]).write_text(b.body, encoding="utf-8")
            elif b.kind == "console":
                for line, cmd, want in _console_steps(b):
                    p = subprocess.run(["bash", "-c", cmd], cwd=wd, env=run_env, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True, timeout=timeout)
                    result.ran += 1
                    got = p.stdout
                    if not _same(want, got):
                        result.mismatches.append(Mismatch(line, cmd, want, got))
            elif b.kind == "python":
                out = io.StringIO()
                cwd = os.getcwd()
                try:
                    os.chdir(wd)
                    with contextlib.redirect_stdout(out):
                        exec(compile(b.body, f"{path}:{b.start}", "exec"), namespace)
                except Exception:  # noqa: BLE001 - a failing example is a mismatch, reported with its traceback
                    out.write(traceback.format_exc())
                finally:
                    os.chdir(cwd)
                result.ran += 1
                nxt = blocks[n + 1] if n + 1 < len(blocks) and blocks[n + 1].kind == "text" else None
                want = nxt.body if nxt else ""
                if not _same(want, out.getvalue()):
                    result.mismatches.append(Mismatch(b.start, b.body, want, out.getvalue(), "python"))
    return result


def update_document(path: Path) -> int:
    """Rewrite the expected outputs in ``path`` with what a real run prints; returns how many changed.

    Lines of the old expected output that contain ``...`` are kept as patterns where they still
    match, so hand-written ellipses for seconds and versions survive an update.
    """
    result = run_document(path)
    lines = Path(path).read_text(encoding="utf-8").splitlines(keepends=True)
    changed = 0
    for m in sorted(result.mismatches, key=lambda m: -m.line):
        if m.kind == "python":
            # a python block: its output is the next block, which must be a text block
            blocks = parse_blocks("".join(lines))
            k = next(i for i, b in enumerate(blocks) if b.start == m.line)
            nxt = blocks[k + 1] if k + 1 < len(blocks) else None
            if nxt is None or nxt.kind != "text":
                print(f"{path}: line {m.line}: add a text block after this python block for its output")
                continue
            lines[nxt.start:nxt.end - 1] = _merge(nxt.body, m.got).splitlines(keepends=True)
        else:
            first = m.line  # the $ line
            k = first - 1
            while lines[k].rstrip().endswith("\\"):
                k += 1
            e = k + 1
            while e < len(lines) and not lines[e].startswith("$ ") and lines[e].rstrip() != "```":
                e += 1
            lines[k + 1:e] = _merge("".join(lines[k + 1:e]), m.got).splitlines(keepends=True)
        changed += 1
    Path(path).write_text("".join(lines), encoding="utf-8")
    return changed


def _merge(old: str, new: str) -> str:
    """``new`` with its durations written ``... s``, keeping each old line that holds ``...`` where
    it matches the new line in its place."""
    old_lines = old.splitlines()
    new_lines = [VOLATILE.sub("... s", line) for line in new.splitlines()]
    out = []
    for k, line in enumerate(new_lines):
        keep = k < len(old_lines) and "..." in old_lines[k] and _same(old_lines[k] + "\n", line + "\n")
        out.append(old_lines[k] if keep else line)
    return "".join(x + "\n" for x in out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--update", action="store_true", help="rewrite the shown outputs from a real run")
    a = ap.parse_args(argv)
    bad = 0
    for f in a.files:
        if a.update:
            print(f"{f}: {update_document(f)} output(s) rewritten")
            continue
        r = run_document(f)
        for m in r.mismatches:
            print(f"{f}: {m}")
        print(f"{f}: {r.ran} block(s) run, {len(r.mismatches)} differ")
        bad += len(r.mismatches)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
