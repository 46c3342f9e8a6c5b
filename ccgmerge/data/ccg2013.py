"""The 211 CCGs of April 2013 and the 152 HWBs, from the real data."""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd

from ccgmerge.data.paths import data_dir, read_data_file
from ccgmerge.errors import ValidationError
from ccgmerge.instance import Instance

__all__ = ["load_ccg2013", "adjacency_options"]


def adjacency_options(crossings, min_shared_boundary_m) -> tuple[float | None, float | None]:
    """``crossings`` and ``min_shared_boundary_m`` checked: None or a finite number of metres >= 0.

    Raises
    ------
    ValidationError
        Naming the argument (for a negative, NaN, infinite or non-numeric value).

    Examples
    --------
    >>> adjacency_options(500, None)
    (500.0, None)
    >>> adjacency_options(-1, None)
    Traceback (most recent call last):
    ...
    ccgmerge.errors.ValidationError: crossings must be None or a finite number of metres >= 0, got -1.
    """
    out = []
    for what, v in (("crossings", crossings), ("min_shared_boundary_m", min_shared_boundary_m)):
        if v is None:
            out.append(None)
            continue
        ok = not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating))
        if not ok or not math.isfinite(float(v)) or float(v) < 0:
            raise ValidationError(f"{what} must be None or a finite number of metres >= 0, got {v!r}.", items=[what])
        out.append(float(v))
    return out[0], out[1]


def load_ccg2013(
    data: str | os.PathLike | None = None,
    *,
    bridges: bool = True,
    warn: bool = True,
    crossings: float | None = None,
    min_shared_boundary_m: float | None = None,
) -> Instance:
    """The 211 CCGs of April 2013, the 152 HWBs, membership and adjacency.

    Parameters
    ----------
    data : path, optional
        Data folder (default: :func:`data_dir`).
    bridges : bool
        Keep the two ``bridge_nearest`` edges joining the Isle of Wight (10L)
        to the mainland (default). Without them the graph has 2 components.
    warn : bool
        Passed to :meth:`Instance.from_frames`.
    crossings : float, optional
        Metres. CCG pairs of ``ccg2013_water_crossings.csv`` whose shortest
        water gap is at most this become edges of kind ``water`` (with
        ``gap_m``): 13 pairs at 250 m, 20 at 500 m (Newcastle 00G/00H and
        Gateshead 00F across the Tyne among them), 26 at 1,000 m, 33 at
        2,500 m, 35 at 3,000 m. Default None: no water edges. A gap is
        evidence of a bridge, tunnel or ferry, not a confirmed road.
    min_shared_boundary_m : float, optional
        Drop ``boundary`` edges whose shared boundary is shorter than this
        (10 drops the two 4 m tripoint contacts 01Y-03N and 02P-04J, the
        ``point_contact`` edges). Default None: keep every boundary edge.

    Units carry the extra columns of ``ccg2013_units.csv`` (ons_code,
    region_code/name, area_team_code/name, gp_registered_2013q2, centroids
    ...). Adjacency edges are of kind ``boundary`` or ``bridge`` (and
    ``water`` with ``crossings``, when a ``gap_m`` column is added: the water
    gap, or the bridge's distance, 0 for boundary edges).

    Raises
    ------
    ValidationError
        For a negative, NaN or infinite ``crossings`` or ``min_shared_boundary_m``.

    Examples
    --------
    >>> inst = load_ccg2013(crossings=500)
    >>> int((inst.adjacency["kind"] == "water").sum())
    20
    >>> len(load_ccg2013(min_shared_boundary_m=10).adjacency)
    529
    """
    crossings, min_shared = adjacency_options(crossings, min_shared_boundary_m)
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
    if min_shared is not None:
        e = e[(e["edge_type"] != "boundary") | (e["shared_boundary_km"] * 1000.0 >= min_shared)]
    adjacency = pd.DataFrame(
        {
            "a": e["ccg_a"],
            "b": e["ccg_b"],
            "kind": e["edge_type"].map({"boundary": "boundary", "bridge_nearest": "bridge"}).fillna(e["edge_type"]),
            "shared_boundary_km": e["shared_boundary_km"],
        }
    )
    if crossings is not None:
        adjacency["gap_m"] = np.where(adjacency["kind"] == "bridge", e["distance_km"].to_numpy() * 1000.0, 0.0)
        w = read_data_file(d, "ccg2013_water_crossings.csv", dtype={"ccg_a": str, "ccg_b": str})
        w = w[w["distance_m"] <= crossings]
        have = set(zip(adjacency["a"], adjacency["b"]))
        w = w[np.array([(a, b) not in have for a, b in zip(w["ccg_a"], w["ccg_b"])], dtype=bool)]
        water = pd.DataFrame({"a": w["ccg_a"], "b": w["ccg_b"], "kind": "water", "shared_boundary_km": 0.0,
                              "gap_m": w["distance_m"]})
        adjacency = pd.concat([adjacency, water], ignore_index=True)
    return Instance.from_frames(units, areas, membership, adjacency, name="England CCGs 2013", warn=warn)
