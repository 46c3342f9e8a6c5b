"""Copy the small real tables into the package, or check that the copies are identical.

The files of :data:`ccgmerge.data.paths.PACKAGED_FILES` are copied from the
data folder (default ``../shared/data`` beside this repository, or
``--source DIR``) into ``ccgmerge/data/real/`` (or ``--dest DIR``).
``LICENCE-DATA.md`` is written by hand and never copied.

Usage::

    python scripts/sync_data.py              # copy the files that differ
    python scripts/sync_data.py --check      # compare (sha256); exit 1 naming each file that differs

Exit codes: 0 in sync (or copied); 1 a file differs, is missing or is
unexpected (``--check``), or the source folder is missing.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import stat
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the package this script syncs into, not another install

from ccgmerge.data.paths import LICENCE_FILE, PACKAGED_FILES  # noqa: E402

#: Default source and destination folders.
DEFAULT_SOURCE = ROOT.parent / "shared" / "data"
DEFAULT_DEST = ROOT / "ccgmerge" / "data" / "real"


def sha256(path: Path) -> str:
    """The sha256 hex digest of the file ``path``.

    Parameters
    ----------
    path : Path

    Returns
    -------
    str
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check(source: Path = DEFAULT_SOURCE, dest: Path = DEFAULT_DEST) -> list[str]:
    """Compare the packaged copies in ``dest`` with the originals in ``source``.

    Parameters
    ----------
    source : Path
        The data folder (e.g. ``../shared/data``).
    dest : Path
        The packaged folder (``ccgmerge/data/real``).

    Returns
    -------
    list of str
        One line per problem, each starting with the file's name: missing
        from the source or the package, different content (both digests),
        or an unexpected file in the package. Empty when in sync.
    """
    source, dest = Path(source), Path(dest)
    problems = []
    for name in PACKAGED_FILES:
        s, d = source / name, dest / name
        if not s.is_file():
            problems.append(f"{name}: missing from the source {source}")
        elif not d.is_file():
            problems.append(f"{name}: missing from the package {dest}")
        elif (hs := sha256(s)) != (hd := sha256(d)):
            problems.append(f"{name}: differs (source sha256 {hs[:12]}..., package sha256 {hd[:12]}...)")
    if not (dest / LICENCE_FILE).is_file():
        problems.append(f"{LICENCE_FILE}: missing from the package {dest} (written by hand, not copied)")
    if dest.is_dir():
        known = set(PACKAGED_FILES) | {LICENCE_FILE}
        problems += [f"{p.name}: unexpected in the package {dest} (not in PACKAGED_FILES)"
                     for p in sorted(dest.iterdir()) if p.name not in known]
    return problems


def sync(source: Path = DEFAULT_SOURCE, dest: Path = DEFAULT_DEST) -> list[str]:
    """Copy each file of ``PACKAGED_FILES`` that is missing or differs from ``source`` to ``dest``.

    Parameters
    ----------
    source, dest : Path
        As for :func:`check`; ``dest`` is created if needed.

    Returns
    -------
    list of str
        The names of the files copied.

    Raises
    ------
    FileNotFoundError
        If a file is missing from ``source`` (names it).
    """
    source, dest = Path(source), Path(dest)
    missing = [n for n in PACKAGED_FILES if not (source / n).is_file()]
    if missing:
        raise FileNotFoundError(f"missing from the source {source}: {', '.join(missing)}")
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in PACKAGED_FILES:
        s, d = source / name, dest / name
        if d.is_file() and sha256(s) == sha256(d):
            continue
        if d.exists():
            d.chmod(d.stat().st_mode | stat.S_IWUSR)
        shutil.copyfile(s, d)  # content only: the source files are read-only, the copies must not be
        copied.append(name)
    return copied


def main(argv: list[str] | None = None) -> int:
    """Command line: copy (default) or ``--check``; returns the exit code."""
    p = argparse.ArgumentParser(prog="sync_data.py", description=__doc__.splitlines()[0])
    p.add_argument("--source", type=Path, default=DEFAULT_SOURCE, metavar="DIR",
                   help=f"data folder to copy from (default {DEFAULT_SOURCE})")
    p.add_argument("--dest", type=Path, default=DEFAULT_DEST, metavar="DIR",
                   help=f"packaged folder (default {DEFAULT_DEST})")
    p.add_argument("--check", action="store_true", help="compare byte for byte (sha256); copy nothing")
    a = p.parse_args(argv)
    if not a.source.is_dir():
        print(f"error: source folder {a.source} does not exist; pass --source DIR (the folder holding "
              f"{PACKAGED_FILES[0]} and PROVENANCE.md).", file=sys.stderr)
        return 1
    if a.check:
        problems = check(a.source, a.dest)
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            fix = " ".join([f"python {os.path.relpath(__file__)}"]
                           + ([f"--source {a.source}"] if a.source != DEFAULT_SOURCE else [])
                           + ([f"--dest {a.dest}"] if a.dest != DEFAULT_DEST else []))
            print(f"error: {len(problems)} packaged file(s) out of sync with {a.source}; run {fix} to copy them "
                  f"(remove unexpected files by hand).", file=sys.stderr)
            return 1
        print(f"OK: {len(PACKAGED_FILES)} packaged files in {a.dest} are identical to {a.source}")
        return 0
    try:
        copied = sync(a.source, a.dest)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"copied {len(copied)} file(s) to {a.dest}" + (": " + ", ".join(copied) if copied else " (all in sync)"))
    left = check(a.source, a.dest)
    for line in left:
        print(f"note: {line}", file=sys.stderr)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
