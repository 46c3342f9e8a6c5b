"""LSOA-level loaders: the 32,844 LSOAs (2011) with their 2013 CCGs, and the
NHS organisations of later years rebuilt from their LSOAs."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ccgmerge.data.ccg2013 import adjacency_options
from ccgmerge.data.names import resolve_ccgs, resolve_codes
from ccgmerge.data.paths import data_dir, read_data_file
from ccgmerge.errors import ValidationError, format_items
from ccgmerge.instance import Instance

__all__ = ["load_lsoa2013", "lsoa_unit_levels", "load_lsoa_units"]

_EDGE_KIND = {"boundary": "boundary", "bridge_nearest": "bridge"}


def _hwb_areas(d: Path) -> pd.DataFrame:
    h = read_data_file(d, "hwb2013_units.csv", dtype={"hwb_code": str})
    return h.rename(columns={"hwb_code": "code", "hwb_name": "name"})[["code", "name", "population", "hwb_type"]]


def _lsoa_adjacency(d: Path, bridges: bool) -> pd.DataFrame:
    e = read_data_file(
        d,
        "lsoa11_adjacency.csv.gz",
        dtype={"lsoa11_a": str, "lsoa11_b": str, "edge_type": str, "ccg13_a": str, "ccg13_b": str},
    )
    if not bridges:
        e = e[e["edge_type"] != "bridge_nearest"]
    return e


def _with_water(d: Path, e: pd.DataFrame, crossings: float) -> pd.DataFrame:
    """``e`` (rows of ``lsoa11_adjacency.csv.gz``) and the water crossings up to ``crossings`` metres that are not
    already edges, as rows of edge_type ``water`` (distance_m = the gap)."""
    w = read_data_file(d, "lsoa11_water_crossings.csv.gz", dtype={"lsoa11_a": str, "lsoa11_b": str,
                                                                  "ccg13_a": str, "ccg13_b": str})
    w = w[w["distance_m"] <= crossings]
    have = pd.MultiIndex.from_arrays([e["lsoa11_a"], e["lsoa11_b"]])
    w = w[~pd.MultiIndex.from_arrays([w["lsoa11_a"], w["lsoa11_b"]]).isin(have)]
    water = pd.DataFrame({"lsoa11_a": w["lsoa11_a"], "lsoa11_b": w["lsoa11_b"], "edge_type": "water",
                          "shared_boundary_m": 0.0, "point_contact": False, "distance_m": w["distance_m"],
                          "ccg13_a": w["ccg13_a"], "ccg13_b": w["ccg13_b"]})
    return pd.concat([e, water], ignore_index=True)


def _as_codes(values: Iterable[str] | str, what: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    codes = [str(v).strip() for v in values]
    if not codes:
        raise ValidationError(f"{what}: give at least one code.", items=[])
    return codes


def load_lsoa2013(
    data: str | os.PathLike | None = None,
    *,
    hwbs: Iterable[str] | str | None = None,
    ccgs: Iterable[str] | str | None = None,
    bridges: bool = True,
    warn: bool = True,
    crossings: float | None = None,
    min_shared_boundary_m: float | None = None,
) -> Instance:
    """The 32,844 LSOAs (2011) of England as units, with the 2013 CCGs as baseline.

    Parameters
    ----------
    data : path, optional
        Data folder (default: :func:`data_dir`).
    hwbs : list of str, optional
        Keep only the LSOAs of these HWBs: GSS codes such as ``"E10000002"``
        or names such as ``"Kent"`` (see :func:`~ccgmerge.data.names.resolve_hwbs`;
        :func:`~ccgmerge.data.names.list_hwbs` lists them).
    ccgs : list of str, optional
        Keep only the LSOAs of these 2013 CCGs: ODS codes such as ``"00C"``,
        ONS codes or names such as ``"Darlington"`` (see
        :func:`~ccgmerge.data.names.resolve_ccgs`).
        With both ``hwbs`` and ``ccgs``, an LSOA must match both.
    bridges : bool
        Keep the six ``bridge_nearest`` edges that join the islands (Isle of
        Wight, Canvey, Hayling, Walney, three Northumberland LSOAs, Isles of
        Scilly) to the mainland (default). Without them the graph has 7
        components.
    warn : bool
        Passed to :meth:`Instance.from_frames`.
    crossings : float, optional
        Metres. LSOA pairs of ``lsoa11_water_crossings.csv.gz`` (736 pairs
        across tidal water, up to 3 km) whose gap is at most this, with both
        LSOAs kept, become edges of kind ``water`` (``distance_m`` and
        ``gap_m`` hold the gap): 376 pairs at 250 m, 467 at 500 m, 566 at
        1,000 m, 699 at 2,500 m. Pairs that are already ``bridge`` edges
        stay bridges. At 500 m every HWB whose LSOAs were cut by water
        (Halton, Medway, North Lincolnshire, Cambridgeshire, Norfolk, North
        Yorkshire, Hull, Sunderland) is connected. Default None: no water
        edges. A gap is evidence of a crossing, not a confirmed road.
    min_shared_boundary_m : float, optional
        Drop ``boundary`` edges whose shared boundary is shorter than this
        (10 drops the 1,782 ``point_contact`` edges). Default None: keep
        every boundary edge.

    Returns
    -------
    Instance
        Units: ``code`` (lsoa11_code), ``name``, ``population``
        (mid-2012), ``lad13_code``, ``ccg13_code``, ``x_bng``, ``y_bng``.
        Areas: the HWBs holding at least one kept LSOA, with their full
        (England-wide) populations, as :meth:`Instance.subset` does. Each LSOA
        lies wholly in one HWB. Adjacency kinds are ``boundary`` and
        ``bridge`` (and ``water`` with ``crossings``, which adds a ``gap_m``
        column), with ``shared_boundary_m``, ``point_contact`` and
        ``distance_m``. Baseline: ``ccg13_code``.

    Raises
    ------
    ValidationError
        If ``hwbs`` or ``ccgs`` name unknown codes or names (the message
        lists the closest), an ambiguous name (listing its matches), or the
        two together keep no LSOA; for a negative, NaN or infinite ``crossings`` or
        ``min_shared_boundary_m``.

    Examples
    --------
    >>> inst = load_lsoa2013()
    >>> inst.n_units, inst.baseline.nunique()
    (32844, 211)
    >>> load_lsoa2013(ccgs=["00C"]).n_units
    65
    >>> load_lsoa2013(hwbs=["Hartlepool"]).area_codes
    ('E06000001',)
    >>> load_lsoa2013(hwbs=["E06000006"], crossings=500).is_connected()  # Halton: Runcorn and Widnes
    True
    """
    crossings, min_shared = adjacency_options(crossings, min_shared_boundary_m)
    d = data_dir(data)
    lk = read_data_file(
        d,
        "lsoa11_ccg13_hwb_lookup.csv.gz",
        usecols=["lsoa11_code", "lsoa11_name", "lad13_code", "hwb_code", "ccg13_code", "population_mid2012",
                 "x_bng", "y_bng"],
        dtype={"lsoa11_code": str, "lsoa11_name": str, "lad13_code": str, "hwb_code": str, "ccg13_code": str},
    )
    areas = _hwb_areas(d)
    e = _lsoa_adjacency(d, bridges)
    if min_shared is not None:
        e = e[(e["edge_type"] != "boundary").to_numpy() | (e["shared_boundary_m"] >= min_shared).to_numpy()]
    if crossings is not None:
        e = _with_water(d, e, crossings)
    label = "England LSOAs 2011 (2013 CCG baseline)"
    keep = None
    parts = []
    if hwbs is not None:
        want = list(dict.fromkeys(resolve_codes(_as_codes(hwbs, "hwbs"), areas, what="hwbs", noun="HWB",
                                                listing="ccgmerge.data.list_hwbs()")))
        keep = lk["hwb_code"].isin(want).to_numpy()
        parts.append(f"HWBs {format_items(want, 4)}")
    if ccgs is not None:
        want = list(dict.fromkeys(resolve_ccgs(_as_codes(ccgs, "ccgs"), d)))
        k = lk["ccg13_code"].isin(want).to_numpy()
        keep = k if keep is None else keep & k
        parts.append(f"CCGs {format_items(want, 4)}")
    if keep is not None:
        if not keep.any():
            raise ValidationError("hwbs and ccgs together keep no LSOA; the CCGs lie outside the HWBs.")
        lk = lk[keep]
        ks = set(lk["lsoa11_code"])
        e = e[e["lsoa11_a"].isin(ks).to_numpy() & e["lsoa11_b"].isin(ks).to_numpy()]
        areas = areas[areas["code"].isin(set(lk["hwb_code"]))]
        label += ": " + "; ".join(parts)
    units = pd.DataFrame(
        {
            "code": lk["lsoa11_code"].to_numpy(),
            "name": lk["lsoa11_name"].to_numpy(),
            "population": lk["population_mid2012"].to_numpy(),
            "lad13_code": lk["lad13_code"].to_numpy(),
            "ccg13_code": lk["ccg13_code"].to_numpy(),
            "x_bng": lk["x_bng"].to_numpy(),
            "y_bng": lk["y_bng"].to_numpy(),
        }
    )
    membership = pd.DataFrame(
        {"unit": units["code"], "area": lk["hwb_code"].to_numpy(), "population": units["population"]}
    )
    adjacency = pd.DataFrame(
        {
            "a": e["lsoa11_a"].to_numpy(),
            "b": e["lsoa11_b"].to_numpy(),
            "kind": e["edge_type"].map(_EDGE_KIND).fillna(e["edge_type"]).to_numpy(),
            "shared_boundary_m": e["shared_boundary_m"].to_numpy(),
            "point_contact": e["point_contact"].to_numpy(),
            "distance_m": e["distance_m"].to_numpy(),
        }
    )
    if crossings is not None:
        adjacency["gap_m"] = np.where(adjacency["kind"] == "boundary", 0.0, adjacency["distance_m"])
    baseline = pd.Series(units["ccg13_code"].to_numpy(), index=units["code"].to_numpy())
    return Instance.from_frames(units, areas, membership, adjacency, baseline=baseline, name=label, warn=warn)


_LEVEL_RE = re.compile(r"^(ccg|stp|icb|sicbl)(\d\d)_ons$")
_ORG_LEVEL = {"ccg": "ccg", "stp": "stp", "icb": "icb", "sicbl": "sub_icb"}
_LEVEL_LABEL = {"ccg": "CCGs", "stp": "STPs", "icb": "ICBs", "sicbl": "Sub-ICB locations"}


def lsoa_unit_levels(data: str | os.PathLike | None = None) -> list[str]:
    """The ``level`` values :func:`load_lsoa_units` accepts (the year columns of
    ``lsoa11_nhs_history.csv.gz``).

    Examples
    --------
    >>> lsoa_unit_levels()[:3]
    ['ccg13_ons', 'ccg15_ons', 'ccg16_ons']
    """
    cols = read_data_file(data_dir(data), "lsoa11_nhs_history.csv.gz", nrows=0).columns
    return [c for c in cols if _LEVEL_RE.match(c)]


def load_lsoa_units(
    level: str,
    data: str | os.PathLike | None = None,
    warn: bool = True,
    *,
    bridges: bool = True,
) -> Instance:
    """The NHS organisations of one year, rebuilt from their LSOAs.

    Parameters
    ----------
    level : str
        A column of ``lsoa11_nhs_history.csv.gz``: ``"ccg13_ons"``,
        ``"ccg15_ons"`` ... ``"ccg21_ons"``, ``"sicbl22_ons"`` (Sub-ICB
        locations, July 2022), ``"stp17_ons"`` ... ``"stp21_ons"`` or
        ``"icb22_ons"``. The ``_ons`` suffix may be left off
        (``"icb22"``). See :func:`lsoa_unit_levels`.
    data : path, optional
        Data folder (default: :func:`data_dir`).
    warn : bool
        Passed to :meth:`Instance.from_frames`.
    bridges : bool
        Count the six LSOA ``bridge_nearest`` edges (default).

    Returns
    -------
    Instance
        Units are keyed by ONS (GSS) code, with ``name``, ``ods_code`` and
        ``parent_code`` from ``nhs_orgs_by_year.csv`` where available, and
        ``n_lsoa``. Unit population is the sum of the LSOAs' mid-2012
        populations; membership is that population by HWB (2013 HWBs); two
        units are adjacent when at least one LSOA adjacency edge joins them:
        kind ``boundary`` if any boundary edge does, else ``bridge``
        (columns ``n_lsoa_pairs`` = boundary LSOA pairs, ``shared_boundary_km``).
        Baseline: every unit alone.

    Raises
    ------
    ValidationError
        For an unknown level (the message lists the allowed ones).

    Examples
    --------
    >>> icb = load_lsoa_units("icb22_ons")
    >>> icb.n_units, icb.total_population
    (42, 53434130)
    """
    d = data_dir(data)
    lev = str(level).strip()
    if not lev.endswith("_ons"):
        lev += "_ons"
    allowed = lsoa_unit_levels(d)
    if lev not in allowed:
        raise ValidationError(
            f"unknown level {level!r}; choose one of {', '.join(allowed)}.", items=[level]
        )
    kind, yy = _LEVEL_RE.match(lev).groups()
    year = 2000 + int(yy)
    hist = read_data_file(d, "lsoa11_nhs_history.csv.gz", usecols=["lsoa11_code", lev], dtype=str)
    lk = read_data_file(
        d,
        "lsoa11_ccg13_hwb_lookup.csv.gz",
        usecols=["lsoa11_code", "hwb_code", "population_mid2012"],
        dtype={"lsoa11_code": str, "hwb_code": str},
    )
    lk = lk.merge(hist, on="lsoa11_code", how="left", validate="one_to_one")
    if lk[lev].isna().any():
        bad = lk.loc[lk[lev].isna(), "lsoa11_code"].tolist()
        raise ValidationError(f"{lev}: no unit for LSOAs {format_items(bad)}.", items=bad)
    unit_of = dict(zip(lk["lsoa11_code"].tolist(), lk[lev].tolist()))

    agg = lk.groupby(lev, sort=True).agg(population=("population_mid2012", "sum"), n_lsoa=("lsoa11_code", "size"))
    units = agg.reset_index().rename(columns={lev: "code"})
    orgs = read_data_file(d, "nhs_orgs_by_year.csv", dtype={"ons_code": str, "ods_code": str, "name": str,
                                                      "parent_code": str, "level": str})
    orgs = orgs[(orgs["year"] == year) & (orgs["level"] == _ORG_LEVEL[kind])].drop_duplicates("ons_code")
    orgs = orgs.set_index("ons_code")
    units.insert(1, "name", units["code"].map(orgs["name"]))
    units["ods_code"] = units["code"].map(orgs["ods_code"])
    units["parent_code"] = units["code"].map(orgs["parent_code"])

    membership = (
        lk.groupby([lev, "hwb_code"], sort=True)["population_mid2012"].sum().reset_index()
        .rename(columns={lev: "unit", "hwb_code": "area", "population_mid2012": "population"})
    )
    areas = _hwb_areas(d)
    areas = areas[areas["code"].isin(set(membership["area"]))]

    e = _lsoa_adjacency(d, bridges)
    ua = e["lsoa11_a"].map(unit_of).to_numpy(dtype=object)
    ub = e["lsoa11_b"].map(unit_of).to_numpy(dtype=object)
    cross = ua != ub
    swap = ua > ub
    pairs = pd.DataFrame(
        {
            "a": np.where(swap, ub, ua)[cross],
            "b": np.where(swap, ua, ub)[cross],
            "boundary": (e["edge_type"].to_numpy() == "boundary")[cross],
            "shared_km": e["shared_boundary_m"].to_numpy(dtype=float)[cross] / 1000.0,
        }
    )
    pairs["shared_km"] = np.where(pairs["boundary"], pairs["shared_km"], 0.0)
    g = pairs.groupby(["a", "b"], sort=True).agg(
        n_lsoa_pairs=("boundary", "sum"), shared_boundary_km=("shared_km", "sum")
    ).reset_index()
    g.insert(2, "kind", np.where(g["n_lsoa_pairs"] > 0, "boundary", "bridge"))
    g["n_lsoa_pairs"] = g["n_lsoa_pairs"].astype(np.int64)
    g["shared_boundary_km"] = g["shared_boundary_km"].round(3)

    label = f"England {_LEVEL_LABEL[kind]} {year} (from LSOAs)"
    return Instance.from_frames(units, areas, membership, g, name=label, warn=warn)
