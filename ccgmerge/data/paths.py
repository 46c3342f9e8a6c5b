"""Where the real data lives: the data folder and reading its files.

The data folder is found, in order, from the ``data_dir`` argument, the
``CCGMERGE_DATA`` environment variable, and ``../shared/data`` beside the
project's root (the layout used on every development machine and in CI).
The files are read in place and never copied into the project.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ccgmerge.errors import DataNotFoundError

__all__ = ["data_locations", "data_dir", "has_real_data", "read_data_file"]

_PROJECT_ROOT = Path(__file__).resolve().parents[2]


def data_locations() -> list[Path]:
    """Where :func:`data_dir` looks when no folder is given: ``CCGMERGE_DATA``
    if set, else ``../shared/data`` beside the project root and beside the
    working folder (resolved, without repeats)."""
    env = os.environ.get("CCGMERGE_DATA")
    if env:
        return [Path(env)]
    out: list[Path] = []
    for c in (_PROJECT_ROOT.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"):
        c = c.resolve()
        if c not in out:
            out.append(c)
    return out


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The folder holding the real data.

    Raises
    ------
    DataNotFoundError
        If no candidate folder exists; the message lists where it looked.
    """
    candidates = [Path(path)] if path is not None else data_locations()
    for c in candidates:
        if (c / "ccg2013_units.csv").is_file():
            return c.resolve()
    raise DataNotFoundError(
        "real data not found; looked in " + ", ".join(str(c) for c in candidates)
        + ". Set CCGMERGE_DATA to the folder holding ccg2013_units.csv, or pass data_dir=."
    )


def has_real_data(path: str | os.PathLike | None = None) -> bool:
    """True when :func:`data_dir` finds the real data."""
    try:
        data_dir(path)
    except DataNotFoundError:
        return False
    return True


def read_data_file(path: Path, name: str, **kw) -> pd.DataFrame:
    """The CSV file ``name`` of the data folder ``path``, read with :func:`pandas.read_csv` (``kw``)."""
    f = path / name
    if not f.is_file():
        raise DataNotFoundError(f"{f} is missing from the data folder {path}; see PROVENANCE.md.")
    return pd.read_csv(f, **kw)
