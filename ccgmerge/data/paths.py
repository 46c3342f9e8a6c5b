"""Where the real data lives: the packaged tables, the data folder, the geometry.

The small real tables (the CSV files the loaders read, plus the water
crossings, ``PROVENANCE.md`` and ``LICENCE-DATA.md``) ship inside the package
in ``ccgmerge/data/real/`` (:data:`PACKAGED_FILES`), so a plain
``pip install`` can load the 211 CCGs of 2013 with no data folder anywhere.
``scripts/sync_data.py`` copies them from ``../shared/data`` and checks that
the copies are identical.

:func:`data_dir` with no argument looks, in order (:func:`data_locations`):

1. the folder in the ``CCGMERGE_DATA`` environment variable, if set and not
   empty (only that folder: a missing one is an error, never a silent switch);
2. ``../shared/data`` beside the project's root, then beside the working
   folder (the layout of the development machines and CI);
3. the packaged folder :func:`packaged_data_dir` (always present).

An explicit folder (``data_dir(path)``, ``--data DIR``) is the only place
looked in. The large geometry (:data:`GEOMETRY_FILES`) is not packaged:
:func:`geometry_file` finds it in a data folder or says where it looked.

Examples
--------
>>> packaged_data_dir().name
'real'
>>> data_locations()[-1] == packaged_data_dir() or "CCGMERGE_DATA" in os.environ
True
>>> (packaged_data_dir() / "ccg2013_units.csv").is_file()
True
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ccgmerge.errors import DataNotFoundError

__all__ = [
    "DATA_ENV",
    "GEOMETRY_FILES",
    "LICENCE_FILE",
    "PACKAGED_FILES",
    "data_dir",
    "data_locations",
    "geometry_file",
    "has_real_data",
    "packaged_data_dir",
    "read_data_file",
    "shared_data_locations",
]

#: The environment variable naming a data folder.
DATA_ENV = "CCGMERGE_DATA"

#: Files copied byte for byte from the data folder into :func:`packaged_data_dir`:
#: the tables the loaders read (ccg2013, lsoa, configurations), the other small
#: CCG tables, the water crossings, and the provenance notes.
PACKAGED_FILES = (
    "ccg2013_units.csv",
    "ccg2013_hwb_membership.csv",
    "ccg2013_lad_membership.csv",
    "ccg2013_adjacency.csv",
    "ccg2013_successors.csv",
    "ccg2013_successors_long.csv",
    "ccg2013_water_crossings.csv",
    "hwb2013_units.csv",
    "nhs_orgs_by_year.csv",
    "lsoa11_ccg13_hwb_lookup.csv.gz",
    "lsoa11_adjacency.csv.gz",
    "lsoa11_nhs_history.csv.gz",
    "lsoa11_water_crossings.csv.gz",
    "PROVENANCE.md",
)

#: The OGL v3.0 attribution written for the package (not copied from the data folder).
LICENCE_FILE = "LICENCE-DATA.md"

#: Large optional geometry, not packaged: found by :func:`geometry_file`.
GEOMETRY_FILES = ("ccg2013_boundaries.geojson", "hwb2013_boundaries.geojson", "lsoa11_boundaries.gpkg")

#: The file whose presence marks a data folder.
_MARKER = "ccg2013_units.csv"
_PACKAGED = Path(__file__).resolve().parent / "real"
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


def packaged_data_dir() -> Path:
    """The folder of real tables shipped inside the package (``ccgmerge/data/real``).

    Returns
    -------
    Path
        An absolute path; it holds :data:`PACKAGED_FILES` in any install of
        ccgmerge (wheel, sdist or editable).
    """
    return _PACKAGED


def _env_folder() -> Path | None:
    """The folder in ``CCGMERGE_DATA``, or None when it is unset or empty."""
    env = os.environ.get(DATA_ENV, "").strip()
    return Path(env) if env else None


def shared_data_locations() -> list[Path]:
    """``../shared/data`` beside the project root and beside the working folder.

    Returns
    -------
    list of Path
        Resolved, without repeats; the folders need not exist.
    """
    out: list[Path] = []
    for c in (_PROJECT_ROOT.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"):
        c = c.resolve()
        if c not in out:
            out.append(c)
    return out


def data_locations() -> list[Path]:
    """Where :func:`data_dir` looks when no folder is given, in order.

    Returns
    -------
    list of Path
        ``[CCGMERGE_DATA]`` when that variable is set (and not empty); else
        :func:`shared_data_locations` followed by :func:`packaged_data_dir`
        (always last).
    """
    env = _env_folder()
    if env is not None:
        return [env]
    return [*shared_data_locations(), packaged_data_dir()]


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The folder holding the real tables (the first of the places searched holding ``ccg2013_units.csv``).

    Parameters
    ----------
    path : str or PathLike, optional
        An explicit folder; it is then the only place looked in. Default: the
        places of :func:`data_locations` (ending with the packaged tables).

    Returns
    -------
    Path
        The resolved folder.

    Raises
    ------
    DataNotFoundError
        If no place searched holds ``ccg2013_units.csv`` (an explicit folder
        or ``CCGMERGE_DATA`` naming a missing folder); the message names every
        place looked in and how to fix it.
    """
    env = _env_folder()
    candidates = [Path(path)] if path is not None else data_locations()
    for c in candidates:
        if (c / _MARKER).is_file():
            return c.resolve()
    shipped = f"the tables shipped with ccgmerge ({packaged_data_dir()})"
    if path is not None:
        where = f"{path}, the folder given (--data DIR or data_dir=)"
        fix = f"Pass a folder holding {_MARKER}, or none to use {shipped}."
    elif env is not None:
        where = f"{env}, the folder named by {DATA_ENV}"
        fix = f"Point {DATA_ENV} at a folder holding {_MARKER}, or unset it to use {shipped}."
    else:
        where = ", ".join(str(c) for c in candidates)
        fix = (f"The tables shipped with ccgmerge ({packaged_data_dir()}) are missing: reinstall ccgmerge, "
               f"or set {DATA_ENV} to a folder holding {_MARKER}.")
    raise DataNotFoundError(f"real data not found: no {_MARKER} in {where}. {fix}")


def has_real_data(path: str | os.PathLike | None = None) -> bool:
    """True when :func:`data_dir` finds the real tables (always, unless a folder given is missing).

    Parameters
    ----------
    path : str or PathLike, optional
        As for :func:`data_dir`.

    Returns
    -------
    bool
    """
    try:
        data_dir(path)
    except DataNotFoundError:
        return False
    return True


def geometry_file(name: str, data: str | os.PathLike | None = None) -> Path:
    """The large geometry file ``name`` (not packaged), found in a data folder.

    Parameters
    ----------
    name : str
        A file name such as ``"ccg2013_boundaries.geojson"`` (see :data:`GEOMETRY_FILES`).
    data : str or PathLike, optional
        A folder holding it; then the only place looked in. Default:
        ``CCGMERGE_DATA`` (when set), then :func:`shared_data_locations`.

    Returns
    -------
    Path
        The resolved file.

    Raises
    ------
    DataNotFoundError
        If no place holds the file; the message names the file, every place
        looked in, and how to fix it.
    """
    if data is not None:
        places = [Path(data)]
    else:
        env = _env_folder()
        places = ([env] if env is not None else []) + [p for p in shared_data_locations() if p != env]
    for p in places:
        f = p / name
        if f.is_file():
            return f.resolve()
    raise DataNotFoundError(
        f"{name} not found; looked in " + ", ".join(str(p) for p in places)
        + f". The geometry ({', '.join(GEOMETRY_FILES)}) is too large to ship with ccgmerge: set {DATA_ENV} "
        f"to a folder holding {name} (e.g. the project's ../shared/data), or pass data=FOLDER."
    )


def read_data_file(path: Path, name: str, **kw) -> pd.DataFrame:
    """The CSV file ``name`` of the data folder ``path``, read with :func:`pandas.read_csv`.

    Parameters
    ----------
    path : Path
        A data folder (from :func:`data_dir`).
    name : str
        The file's name, e.g. ``"ccg2013_units.csv"``.
    **kw
        Passed to :func:`pandas.read_csv`.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    DataNotFoundError
        If the file is missing (names it and the folder).
    """
    f = path / name
    if not f.is_file():
        raise DataNotFoundError(
            f"{f} is missing from the data folder {path}; see PROVENANCE.md. Use a folder holding every "
            f"table (unset {DATA_ENV} for the tables shipped with ccgmerge, {packaged_data_dir()})."
        )
    return pd.read_csv(f, **kw)
