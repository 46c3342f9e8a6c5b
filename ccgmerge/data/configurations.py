"""Later official configurations (CCGs 2015-21, Sub-ICB locations, STPs,
ICBs) as groupings of the 211 CCGs of 2013."""

from __future__ import annotations

import os

import pandas as pd

from ccgmerge.data.paths import data_dir, read_data_file
from ccgmerge.errors import DataNotFoundError, ValidationError, format_items

__all__ = ["configuration_names", "load_configuration"]

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
    s = read_data_file(d, "ccg2013_successors.csv", dtype=str)
    col = f"{key}_ons"
    if col not in s.columns:
        raise DataNotFoundError(f"column {col} is missing from {d / 'ccg2013_successors.csv'}.")
    out = pd.Series(s[col].str.strip().to_numpy(), index=pd.Index(s["ccg_code"].str.strip(), name="ccg_code"),
                    name=key).sort_index()
    if out.isna().any():
        bad = out.index[out.isna()].tolist()
        raise ValidationError(f"{key}: no successor for 2013 CCGs {format_items(bad)}.", items=bad)
    return out
