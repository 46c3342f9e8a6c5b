"""Loaders for the real England data in ``../shared/data`` and for users' own tables.

The data folder is found, in order, from the ``data_dir`` argument, the
``CCGMERGE_DATA`` environment variable, and ``../shared/data`` beside the
project's root (the layout used on every development machine and in CI).
The files are read in place and never copied into the project; see
``PROVENANCE.md`` in that folder for what each file is.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .errors import DataNotFoundError
from .instance import Instance

__all__ = ["data_dir", "has_real_data", "load_ccg2013"]

_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The folder holding the real data.

    Raises
    ------
    DataNotFoundError
        If no candidate folder exists; the message lists where it looked.
    """
    candidates = []
    if path is not None:
        candidates.append(Path(path))
    elif os.environ.get("CCGMERGE_DATA"):
        candidates.append(Path(os.environ["CCGMERGE_DATA"]))
    else:
        candidates += [_PROJECT_ROOT.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
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


def _read(path: Path, name: str, **kw) -> pd.DataFrame:
    f = path / name
    if not f.is_file():
        raise DataNotFoundError(f"{f} is missing from the data folder {path}; see PROVENANCE.md.")
    return pd.read_csv(f, **kw)


def load_ccg2013(data: str | os.PathLike | None = None, *, bridges: bool = True, warn: bool = True) -> Instance:
    """The 211 CCGs of April 2013, the 152 HWBs, membership and adjacency.

    Parameters
    ----------
    data : path, optional
        Data folder (default: :func:`data_dir`).
    bridges : bool
        Keep the two ``bridge_nearest`` edges joining the Isle of Wight (10L)
        to the mainland (default). Without them the graph has 2 components.

    Units carry the extra columns of ``ccg2013_units.csv`` (ons_code,
    region_code/name, area_team_code/name, gp_registered_2013q2, centroids
    ...). Adjacency edges are of kind ``boundary`` or ``bridge``.
    """
    d = data_dir(data)
    u = _read(d, "ccg2013_units.csv", dtype={"ccg_code": str})
    units = u.rename(columns={"ccg_code": "code", "ccg_name": "name"})
    keep = ["code", "name", "population", "ons_code", "area_team_code", "area_team_name", "region_code",
            "region_name", "gp_registered_2013q2", "n_practices_2013q2", "area_km2", "pop_centroid_x_bng",
            "pop_centroid_y_bng", "pop_centroid_lon", "pop_centroid_lat"]
    units = units[[c for c in keep if c in units.columns]]
    h = _read(d, "hwb2013_units.csv")
    areas = h.rename(columns={"hwb_code": "code", "hwb_name": "name"})[["code", "name", "population", "hwb_type"]]
    m = _read(d, "ccg2013_hwb_membership.csv", dtype={"ccg_code": str})
    membership = m.rename(columns={"ccg_code": "unit", "hwb_code": "area"})[["unit", "area", "population"]]
    e = _read(d, "ccg2013_adjacency.csv", dtype={"ccg_a": str, "ccg_b": str})
    if not bridges:
        e = e[e["edge_type"] != "bridge_nearest"]
    adjacency = pd.DataFrame(
        {
            "a": e["ccg_a"],
            "b": e["ccg_b"],
            "kind": e["edge_type"].map({"boundary": "boundary", "bridge_nearest": "bridge"}).fillna(e["edge_type"]),
            "shared_boundary_km": e["shared_boundary_km"],
        }
    )
    return Instance.from_frames(units, areas, membership, adjacency, name="England CCGs 2013", warn=warn)
