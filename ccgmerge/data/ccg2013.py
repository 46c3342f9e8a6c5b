"""The 211 CCGs of April 2013 and the 152 HWBs, from the real data."""

from __future__ import annotations

import os

import pandas as pd

from ccgmerge.data.paths import data_dir, read_data_file
from ccgmerge.instance import Instance

__all__ = ["load_ccg2013"]


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
    u = read_data_file(d, "ccg2013_units.csv", dtype={"ccg_code": str})
    units = u.rename(columns={"ccg_code": "code", "ccg_name": "name"})
    keep = ["code", "name", "population", "ons_code", "area_team_code", "area_team_name", "region_code",
            "region_name", "gp_registered_2013q2", "n_practices_2013q2", "area_km2", "pop_centroid_x_bng",
            "pop_centroid_y_bng", "pop_centroid_lon", "pop_centroid_lat"]
    units = units[[c for c in keep if c in units.columns]]
    h = read_data_file(d, "hwb2013_units.csv")
    areas = h.rename(columns={"hwb_code": "code", "hwb_name": "name"})[["code", "name", "population", "hwb_type"]]
    m = read_data_file(d, "ccg2013_hwb_membership.csv", dtype={"ccg_code": str})
    membership = m.rename(columns={"ccg_code": "unit", "hwb_code": "area"})[["unit", "area", "population"]]
    e = read_data_file(d, "ccg2013_adjacency.csv", dtype={"ccg_a": str, "ccg_b": str})
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
