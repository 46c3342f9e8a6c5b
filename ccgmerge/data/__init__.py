"""Loaders for the real England data in ``../shared/data`` and for users' own tables.

The data folder is found, in order, from the ``data_dir`` argument, the
``CCGMERGE_DATA`` environment variable, and ``../shared/data`` beside the
project's root (the layout used on every development machine and in CI).
The files are read in place and never copied into the project; see
``PROVENANCE.md`` in that folder for what each file is.

Loaders
-------
* :func:`load_ccg2013` -- the 211 CCGs of April 2013 and the 152 HWBs;
* :func:`load_lsoa2013` -- the 32,844 LSOAs (2011) with their 2013 CCG as the
  baseline grouping, optionally restricted to some HWBs or CCGs;
* :func:`load_lsoa_units` -- the organisations of a later year (CCGs 2015-21,
  STPs, Sub-ICB locations, ICBs 2022) rebuilt from their LSOAs;
* :func:`load_configuration` -- a later official configuration as a grouping
  of the 2013 CCGs (for comparing plans with what actually happened);
* :func:`from_csv` / :func:`to_csv` / :func:`from_folder` -- users' own
  tables, with a column mapping.

Examples
--------
>>> from ccgmerge.data import load_ccg2013, load_configuration
>>> inst = load_ccg2013()
>>> inst
Instance('England CCGs 2013': 211 units, 152 areas, 531 adjacency edges, population 53,434,130)
>>> load_configuration("icb22").nunique()
42
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ccgmerge.errors import DataNotFoundError, ValidationError, format_items
from ccgmerge.instance import Instance

__all__ = [
    "data_dir",
    "has_real_data",
    "load_ccg2013",
    "load_lsoa2013",
    "load_lsoa_units",
    "load_configuration",
    "configuration_names",
    "lsoa_unit_levels",
    "from_csv",
    "from_folder",
    "to_csv",
    "data_locations",
]

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


# --------------------------------------------------------------------------- LSOAs
_EDGE_KIND = {"boundary": "boundary", "bridge_nearest": "bridge"}


def _hwb_areas(d: Path) -> pd.DataFrame:
    h = _read(d, "hwb2013_units.csv", dtype={"hwb_code": str})
    return h.rename(columns={"hwb_code": "code", "hwb_name": "name"})[["code", "name", "population", "hwb_type"]]


def _lsoa_adjacency(d: Path, bridges: bool) -> pd.DataFrame:
    e = _read(
        d,
        "lsoa11_adjacency.csv.gz",
        dtype={"lsoa11_a": str, "lsoa11_b": str, "edge_type": str, "ccg13_a": str, "ccg13_b": str},
    )
    if not bridges:
        e = e[e["edge_type"] != "bridge_nearest"]
    return e


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
) -> Instance:
    """The 32,844 LSOAs (2011) of England as units, with the 2013 CCGs as baseline.

    Parameters
    ----------
    data : path, optional
        Data folder (default: :func:`data_dir`).
    hwbs : list of str, optional
        Keep only the LSOAs of these HWBs (GSS codes such as ``"E10000002"``).
    ccgs : list of str, optional
        Keep only the LSOAs of these 2013 CCGs (ODS codes such as ``"00C"``).
        With both ``hwbs`` and ``ccgs``, an LSOA must match both.
    bridges : bool
        Keep the six ``bridge_nearest`` edges that join the islands (Isle of
        Wight, Canvey, Hayling, Walney, three Northumberland LSOAs, Isles of
        Scilly) to the mainland (default). Without them the graph has 7
        components.
    warn : bool
        Passed to :meth:`Instance.from_frames`.

    Returns
    -------
    Instance
        Units: ``code`` (lsoa11_code), ``name``, ``population``
        (mid-2012), ``lad13_code``, ``ccg13_code``, ``x_bng``, ``y_bng``.
        Areas: the HWBs holding at least one kept LSOA, with their full
        (England-wide) populations, as :meth:`Instance.subset` does. Each LSOA
        lies wholly in one HWB. Adjacency kinds are ``boundary`` and
        ``bridge``, with ``shared_boundary_m``, ``point_contact`` and
        ``distance_m``. Baseline: ``ccg13_code``.

    Raises
    ------
    ValidationError
        If ``hwbs`` or ``ccgs`` name unknown codes, or the two together keep
        no LSOA.

    Examples
    --------
    >>> inst = load_lsoa2013()
    >>> inst.n_units, inst.baseline.nunique()
    (32844, 211)
    >>> load_lsoa2013(ccgs=["00C"]).n_units
    65
    """
    d = data_dir(data)
    lk = _read(
        d,
        "lsoa11_ccg13_hwb_lookup.csv.gz",
        usecols=["lsoa11_code", "lsoa11_name", "lad13_code", "hwb_code", "ccg13_code", "population_mid2012",
                 "x_bng", "y_bng"],
        dtype={"lsoa11_code": str, "lsoa11_name": str, "lad13_code": str, "hwb_code": str, "ccg13_code": str},
    )
    areas = _hwb_areas(d)
    e = _lsoa_adjacency(d, bridges)
    label = "England LSOAs 2011 (2013 CCG baseline)"
    keep = None
    parts = []
    if hwbs is not None:
        want = _as_codes(hwbs, "hwbs")
        unknown = [c for c in want if c not in set(areas["code"])]
        if unknown:
            raise ValidationError(f"hwbs: unknown HWB codes {format_items(unknown)}.", items=unknown)
        keep = lk["hwb_code"].isin(want).to_numpy()
        parts.append(f"HWBs {format_items(want, 4)}")
    if ccgs is not None:
        want = _as_codes(ccgs, "ccgs")
        known = set(lk["ccg13_code"])
        unknown = [c for c in want if c not in known]
        if unknown:
            raise ValidationError(f"ccgs: unknown 2013 CCG codes {format_items(unknown)}.", items=unknown)
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
    cols = _read(data_dir(data), "lsoa11_nhs_history.csv.gz", nrows=0).columns
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
    hist = _read(d, "lsoa11_nhs_history.csv.gz", usecols=["lsoa11_code", lev], dtype=str)
    lk = _read(
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
    orgs = _read(d, "nhs_orgs_by_year.csv", dtype={"ons_code": str, "ods_code": str, "name": str,
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


# -------------------------------------------------------------- configurations
_CONFIGURATIONS = (
    "ccg15", "ccg16", "ccg17", "ccg18", "ccg19", "ccg20", "ccg21", "sub_icb22", "stp17", "stp21", "icb22",
)


def configuration_names() -> list[str]:
    """Names accepted by :func:`load_configuration`.

    >>> configuration_names()
    ['ccg15', 'ccg16', 'ccg17', 'ccg18', 'ccg19', 'ccg20', 'ccg21', 'sub_icb22', 'stp17', 'stp21', 'icb22']
    """
    return list(_CONFIGURATIONS)


def load_configuration(name: str, data: str | os.PathLike | None = None) -> pd.Series:
    """A later official configuration as a grouping of the 211 CCGs of 2013.

    Each 2013 CCG is mapped to its **main successor**: the later unit that
    received most of its mid-2012 population (``ccg2013_successors.csv``).
    Successors are given by ONS (GSS) code because the ODS code is blank for
    STPs.

    Parameters
    ----------
    name : str
        One of :func:`configuration_names`: ``ccg15`` (July 2015),
        ``ccg16`` ... ``ccg21`` (April of each year), ``sub_icb22`` (Sub-ICB
        locations, July 2022), ``stp17``, ``stp21`` or ``icb22``.
    data : path, optional
        Data folder (default: :func:`data_dir`).

    Returns
    -------
    Series
        Indexed by ``ccg_code`` (the 211 ODS codes of 2013), values the
        successor's ONS code, named ``name``. Pass it to
        :meth:`Instance.with_baseline` or compare it with a plan.

    Raises
    ------
    ValidationError
        (a ``ValueError``) for an unknown name; the message lists the allowed
        names.

    Notes
    -----
    A few 2013 CCGs were later split by boundary changes; they are put whole
    into their main successor, so the grouping is an approximation for them.
    PROVENANCE.md names the two split in 2021: Cumbria (01H, 63% to its main
    successor, already from 2017) and Lancashire North (01K, 88%, from 2018).
    The successor table shows a few smaller or earlier partial moves too:
    Guildford & Waverley (09N, 97% in 2015-19, stp17), South Norfolk (06Y,
    94% in 2017-19), Greater Preston (01E, 99.2% from 2018) and, with the
    2022 Sub-ICB/ICB boundaries, Sandwell & West Birmingham (05L, 66%),
    Tameside & Glossop (01Y, 87%) and Cambridgeshire & Peterborough (06H,
    98%). The ``<name>_share`` columns of ``ccg2013_successors.csv`` give the
    exact figures. For the exact later units, use :func:`load_lsoa_units`.

    Examples
    --------
    >>> cfg = load_configuration("icb22")
    >>> len(cfg), cfg.nunique()
    (211, 42)
    >>> load_configuration("ccg14")
    Traceback (most recent call last):
    ...
    ccgmerge.errors.ValidationError: unknown configuration 'ccg14'; choose one of ccg15, ccg16, ccg17, ccg18, ccg19, ccg20, ccg21, sub_icb22, stp17, stp21, icb22.
    """
    key = str(name).strip()
    if key not in _CONFIGURATIONS:
        raise ValidationError(
            f"unknown configuration {name!r}; choose one of {', '.join(_CONFIGURATIONS)}.", items=[name]
        )
    d = data_dir(data)
    s = _read(d, "ccg2013_successors.csv", dtype=str)
    col = f"{key}_ons"
    if col not in s.columns:
        raise DataNotFoundError(f"column {col} is missing from {d / 'ccg2013_successors.csv'}.")
    out = pd.Series(s[col].str.strip().to_numpy(), index=pd.Index(s["ccg_code"].str.strip(), name="ccg_code"),
                    name=key).sort_index()
    if out.isna().any():
        bad = out.index[out.isna()].tolist()
        raise ValidationError(f"{key}: no successor for 2013 CCGs {format_items(bad)}.", items=bad)
    return out


# ------------------------------------------------------------------ user tables
_TABLES = ("units", "areas", "membership", "adjacency", "baseline")
_REQUIRED = {
    "units": ("code", "population"),
    "areas": ("code", "population"),
    "membership": ("unit", "area", "population"),
    "adjacency": ("a", "b"),
    "baseline": ("unit", "group"),
}
_TEXT = {
    "units": ("code", "name"),
    "areas": ("code", "name"),
    "membership": ("unit", "area"),
    "adjacency": ("a", "b", "kind"),
    "baseline": ("unit", "group"),
}


def _table(source, table: str, mapping: Mapping[str, str]) -> pd.DataFrame:
    """Read one table (path or DataFrame), check and apply the column mapping."""
    mapping = {str(k): str(v) for k, v in dict(mapping).items()}
    if isinstance(source, pd.DataFrame):
        df = source.copy()
        label = f"{table} table (DataFrame)"
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        label = f"{table} file {str(path)!r}"
        if not path.is_file():
            raise ValidationError(f"{label} does not exist.", items=[str(path)])
        try:
            header = pd.read_csv(path, nrows=0).columns
        except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise ValidationError(f"{label} cannot be read as CSV: {exc}", items=[str(path)]) from None
        text = {src for src, dst in mapping.items() if dst in _TEXT[table]}
        text |= {c for c in _TEXT[table] if c in header and c not in mapping}
        df = pd.read_csv(path, dtype={c: str for c in text if c in header})
    else:
        raise ValidationError(
            f"{table}: expected a file path or a pandas DataFrame, got {type(source).__name__}.", items=[table]
        )
    present = [str(c) for c in df.columns]
    missing = [src for src in mapping if src not in present]
    if missing:
        raise ValidationError(
            f"{label}: mapped column{'s' if len(missing) > 1 else ''} {format_items(repr(m) for m in missing)} "
            f"missing; columns present are {present}.",
            items=missing,
        )
    targets = list(mapping.values())
    twice = sorted({t for t in targets if targets.count(t) > 1})
    if twice:
        raise ValidationError(f"{label}: several columns are mapped to {format_items(twice)}.", items=twice)
    clash = [dst for src, dst in mapping.items() if dst in present and dst not in mapping and dst != src]
    if clash:
        raise ValidationError(
            f"{label}: the mapping renames a column to {format_items(repr(c) for c in clash)}, which the table "
            "already has; drop or map that column too.",
            items=clash,
        )
    df = df.rename(columns=mapping)
    need = [c for c in _REQUIRED[table] if c not in df.columns]
    if need:
        raise ValidationError(
            f"{label}: required column{'s' if len(need) > 1 else ''} {format_items(repr(c) for c in need)} "
            f"missing; columns present are {present}. Map your columns with "
            f"columns={{{table!r}: {{'your_column': {need[0]!r}}}}}.",
            items=need,
        )
    return df


def from_csv(
    units,
    areas,
    membership,
    adjacency,
    *,
    columns: Mapping[str, Mapping[str, str]] | None = None,
    baseline=None,
    name: str = "instance",
    warn: bool = True,
) -> Instance:
    """Build an instance from your own tables (CSV files or DataFrames).

    Parameters
    ----------
    units, areas, membership, adjacency : path or DataFrame
        The four tables. Canonical columns are: units ``code``,
        ``population`` [, ``name``, any extra columns]; areas ``code``,
        ``population`` [, ``name``]; membership ``unit``, ``area``,
        ``population``; adjacency ``a``, ``b`` [, ``kind``, extra columns].
        Code columns are read as text, so ``"00C"`` keeps its zeros.
    columns : dict, optional
        Per table, a mapping from your column names to the canonical ones,
        for example ``{"units": {"ccg_code": "code", "pop": "population"},
        "membership": {"ccg": "unit", "hwb": "area", "pop": "population"}}``.
        Keys are ``units``, ``areas``, ``membership``, ``adjacency`` and
        ``baseline``.
    baseline : path, DataFrame, Series or mapping, optional
        The baseline grouping: a table with columns ``unit`` and ``group``
        (mappable), or a Series / dict from unit code to group code.
    name : str
        Instance label.
    warn : bool
        Passed to :meth:`Instance.from_frames`.

    Raises
    ------
    ValidationError
        When a mapped or required column is missing (naming the file, the
        column and the columns present), and for every check of
        :func:`ccgmerge.instance.validate_tables`.

    Examples
    --------
    >>> import pandas as pd
    >>> units = pd.DataFrame({"ccg": ["A", "B"], "pop": [40, 70]})
    >>> areas = pd.DataFrame({"hwb": ["X"], "pop": [110]})
    >>> members = pd.DataFrame({"ccg": ["A", "B"], "hwb": ["X", "X"], "pop": [40, 70]})
    >>> edges = pd.DataFrame({"from": ["A"], "to": ["B"]})
    >>> cols = {"units": {"ccg": "code", "pop": "population"},
    ...         "areas": {"hwb": "code", "pop": "population"},
    ...         "membership": {"ccg": "unit", "hwb": "area", "pop": "population"},
    ...         "adjacency": {"from": "a", "to": "b"}}
    >>> from_csv(units, areas, members, edges, columns=cols, name="two")
    Instance('two': 2 units, 1 areas, 1 adjacency edges, population 110)
    >>> from_csv(units, areas, members, edges, columns={"units": {"ccg_code": "code"}})
    Traceback (most recent call last):
    ...
    ccgmerge.errors.ValidationError: units table (DataFrame): mapped column 'ccg_code' missing; columns present are ['ccg', 'pop'].
    """
    columns = dict(columns or {})
    unknown = [k for k in columns if k not in _TABLES]
    if unknown:
        raise ValidationError(
            f"columns: unknown table names {format_items(unknown)}; use {', '.join(_TABLES)}.", items=unknown
        )
    frames = {
        t: _table(src, t, columns.get(t, {}))
        for t, src in zip(_TABLES[:4], (units, areas, membership, adjacency))
    }
    base = None
    if baseline is not None:
        if isinstance(baseline, (pd.DataFrame, str, os.PathLike)):
            b = _table(baseline, "baseline", columns.get("baseline", {}))
            base = pd.Series(b["group"].to_numpy(), index=b["unit"].astype(str).to_numpy())
        elif isinstance(baseline, (pd.Series, Mapping)):
            base = pd.Series(baseline)
        else:
            raise ValidationError(
                f"baseline: expected a path, DataFrame, Series or mapping, got {type(baseline).__name__}.",
                items=["baseline"],
            )
    return Instance.from_frames(
        frames["units"], frames["areas"], frames["membership"], frames["adjacency"],
        baseline=base, name=name, warn=warn,
    )


def to_csv(instance: Instance, folder: str | os.PathLike) -> dict[str, Path]:
    """Write an instance's canonical tables to ``folder`` (created if needed).

    Files: ``units.csv``, ``areas.csv``, ``membership.csv``,
    ``adjacency.csv`` and ``baseline.csv`` (columns ``unit``, ``group``).
    :func:`from_folder` (or :func:`from_csv` on the files) reads them back
    into an instance with the same :attr:`Instance.fingerprint`.

    Returns
    -------
    dict
        Table name to the path written.

    Examples
    --------
    >>> import pandas as pd, tempfile
    >>> inst = from_csv(pd.DataFrame({"code": ["A", "B"], "population": [1, 2]}),
    ...                 pd.DataFrame({"code": ["X"], "population": [3]}),
    ...                 pd.DataFrame({"unit": ["A", "B"], "area": ["X", "X"], "population": [1, 2]}),
    ...                 pd.DataFrame({"a": ["A"], "b": ["B"]}))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = to_csv(inst, tmp)
    ...     back = from_folder(tmp)
    >>> sorted(paths), back.fingerprint == inst.fingerprint
    (['adjacency', 'areas', 'baseline', 'membership', 'units'], True)
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    tables = {
        "units": instance.units.reset_index(),
        "areas": instance.areas.reset_index(),
        "membership": instance.membership,
        "adjacency": instance.adjacency,
        "baseline": instance.baseline.rename("group").rename_axis("unit").reset_index(),
    }
    paths = {}
    for t, df in tables.items():
        p = out / f"{t}.csv"
        df.to_csv(p, index=False)
        paths[t] = p
    return paths


def from_folder(folder: str | os.PathLike, *, name: str | None = None, warn: bool = True) -> Instance:
    """Read the tables :func:`to_csv` wrote (``baseline.csv`` is optional).

    Parameters
    ----------
    folder : path
        Folder holding ``units.csv``, ``areas.csv``, ``membership.csv``,
        ``adjacency.csv`` and optionally ``baseline.csv``.
    name : str, optional
        Instance label (default: the folder's name).
    """
    f = Path(folder)
    base = f / "baseline.csv"
    return from_csv(
        f / "units.csv", f / "areas.csv", f / "membership.csv", f / "adjacency.csv",
        baseline=base if base.is_file() else None, name=name or f.name, warn=warn,
    )
