"""What there is to solve: the datasets and the later official configurations, as tables.

:func:`list_datasets` lists the instances ccgmerge can build (with the Python
call and the command-line option for each), :func:`list_configurations` the
later configurations a plan can be compared with; :func:`~ccgmerge.data.names.list_hwbs`
and :func:`~ccgmerge.data.names.list_ccgs` list the HWBs and 2013 CCGs whose
codes or names the loaders accept.

Examples
--------
>>> ds = list_datasets()
>>> ds.loc[ds["dataset"] == "ccg2013", ["units", "areas", "python"]].values.tolist()
[[211, 152, 'load_ccg2013()']]
>>> int(list_configurations().set_index("name").loc["icb22", "n_groups"])
42
"""

from __future__ import annotations

import os
import re

import pandas as pd

from ccgmerge.data.configurations import configuration_names
from ccgmerge.data.lsoa import lsoa_unit_levels
from ccgmerge.data.paths import data_dir, read_data_file

__all__ = ["list_datasets", "list_configurations", "dataset_call"]

_KINDS = {"ccg": "CCGs", "stp": "STPs", "icb": "ICBs", "sicbl": "Sub-ICB locations", "sub_icb": "Sub-ICB locations"}
_MONTH = {"ccg15": "July 2015", "sicbl22": "July 2022", "sub_icb22": "July 2022", "icb22": "July 2022"}


def _describe(key: str) -> str:
    """``"ICBs, July 2022"`` for ``icb22``, ``"CCGs, April 2018"`` for ``ccg18``."""
    kind, yy = re.match(r"^([a-z_]+?)(\d\d)$", key).groups()
    when = _MONTH.get(key, f"April 20{yy}" if kind == "ccg" else f"20{yy}")
    return f"{_KINDS.get(kind, kind)}, {when}"


def dataset_call(name: str) -> str | None:
    """The Python call that builds dataset ``name`` (as :func:`list_datasets` names it), or None.

    >>> dataset_call("lsoa2013"), dataset_call("icb22"), dataset_call("kent")
    ('load_lsoa2013(hwbs=[...])', "load_lsoa_units('icb22')", None)
    """
    key = str(name).strip().lower()
    fixed = {"ccg2013": "load_ccg2013()", "lsoa2013": "load_lsoa2013(hwbs=[...])",
             "synthetic": "generate(50, seed=0)"}
    if key in fixed:
        return fixed[key]
    if re.fullmatch(r"(ccg|stp|icb|sicbl)\d\d", key) and key != "ccg13":
        return f"load_lsoa_units({key!r})"
    return None


def list_datasets(data: str | os.PathLike | None = None) -> pd.DataFrame:
    """The instances ccgmerge builds, one row each.

    Columns: ``dataset`` (its name), ``description``, ``units`` and ``areas`` (counts; empty for the
    synthetic generator, whose size you choose), ``python`` (the call, importable from ``ccgmerge.data``)
    and ``cli`` (the ``ccgmerge solve`` options, empty when the command line does not offer it). Rows:
    ``ccg2013``, ``lsoa2013``, the later years' organisations rebuilt from their LSOAs (``ccg15`` ...
    ``icb22``, :func:`~ccgmerge.data.lsoa.load_lsoa_units`) and ``synthetic``.
    """
    d = data_dir(data)
    hwb = read_data_file(d, "hwb2013_units.csv", dtype={"hwb_code": str})
    n_ccg = len(read_data_file(d, "ccg2013_units.csv", usecols=["ccg_code"]))
    n_lsoa = int(hwb["n_lsoa"].sum()) if "n_lsoa" in hwb.columns else pd.NA
    rows = [
        ("ccg2013", f"The {n_ccg} CCGs of April 2013, with the {len(hwb)} HWBs as areas", n_ccg, len(hwb),
         "--dataset ccg2013"),
        ("lsoa2013", f"The {n_lsoa:,} LSOAs (2011), their 2013 CCG as the baseline; restrict with hwbs= or ccgs= "
                     "(codes or names)", n_lsoa, len(hwb), "--dataset lsoa2013 --hwb NAME"),
    ]
    levels = [lv for lv in lsoa_unit_levels(d) if lv != "ccg13_ons"]
    hist = read_data_file(d, "lsoa11_nhs_history.csv.gz", usecols=levels, dtype=str)
    for lv in levels:
        key = lv[: -len("_ons")]
        rows.append((key, f"{_describe(key)}, rebuilt from their LSOAs", int(hist[lv].nunique()), len(hwb), ""))
    rows.append(("synthetic", "Seeded synthetic instances (CCG-like populations on a planar graph)", pd.NA, pd.NA,
                 "--dataset synthetic --units N --seed S"))
    out = pd.DataFrame(rows, columns=["dataset", "description", "units", "areas", "cli"])
    out.insert(4, "python", [dataset_call(k) for k in out["dataset"]])
    out["units"] = out["units"].astype("Int64")
    out["areas"] = out["areas"].astype("Int64")
    return out


def list_configurations(data: str | os.PathLike | None = None) -> pd.DataFrame:
    """The later official configurations :func:`~ccgmerge.data.configurations.load_configuration` accepts.

    Columns: ``name`` (to pass to ``load_configuration``), ``description``, ``n_groups`` (organisations the
    211 CCGs of 2013 fall into, each CCG put in its main successor) and ``lsoa_units`` (the exact later units,
    ``load_lsoa_units(...)``).
    """
    d = data_dir(data)
    s = read_data_file(d, "ccg2013_successors.csv", dtype=str)
    levels = set(lsoa_unit_levels(d))
    rows = []
    for name in configuration_names():
        col = f"{name}_ons"
        n = int(s[col].nunique()) if col in s.columns else pd.NA
        level = f"{name.replace('sub_icb', 'sicbl')}_ons"
        rows.append((name, _describe(name), n, f"load_lsoa_units({level[:-4]!r})" if level in levels else ""))
    out = pd.DataFrame(rows, columns=["name", "description", "n_groups", "lsoa_units"])
    out["n_groups"] = out["n_groups"].astype("Int64")
    return out
