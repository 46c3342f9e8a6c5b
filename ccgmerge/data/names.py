"""Names where codes are expected: HWBs and 2013 CCGs by code or by name.

:func:`resolve_hwbs` and :func:`resolve_ccgs` turn what a person types
(``"Kent"``, ``"Bristol"``, ``"NHS Darlington CCG"``, ``"e10000016"``) into
codes, and :func:`list_hwbs` / :func:`list_ccgs` show what there is. A value
is matched, in order, to

1. a code (any letter case; for CCGs the ODS code ``00C`` or the ONS code
   ``E38000042``);
2. a name, ignoring letter case, punctuation, ``&``/``and``, a leading
   ``NHS`` and a trailing ``CCG``;
3. the one name that holds all its words (``"Hull"`` is "Kingston upon Hull,
   City of"; ``"Bristol"`` is "Bristol, City of").

A value that matches several is ambiguous and one that matches none is
unknown: both are a :class:`~ccgmerge.errors.ValidationError` listing the
candidates (or the closest names, by :func:`difflib.get_close_matches`) with
their codes; ``items`` holds the values.

Examples
--------
>>> resolve_hwbs(["Kent", "Bristol", "e06000005"])
['E10000016', 'E06000023', 'E06000005']
>>> resolve_ccgs("NHS Darlington CCG")
['00C']
>>> resolve_hwbs(["Kingston"])
Traceback (most recent call last):
...
ccgmerge.errors.ValidationError: hwbs: 'Kingston' matches 2 HWBs: Kingston upon Hull, City of (E06000010), Kingston upon Thames (E09000021); give the code or more of the name.
>>> resolve_hwbs(["Kentt"])
Traceback (most recent call last):
...
ccgmerge.errors.ValidationError: hwbs: unknown HWB codes Kentt (no HWB has that code or name); did you mean Kent (E10000016) or Brent (E09000005) for 'Kentt'? ccgmerge.data.list_hwbs() lists all 152.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping

import pandas as pd

from ccgmerge.data.paths import data_dir, read_data_file
from ccgmerge.errors import ValidationError, format_items

__all__ = ["resolve_hwbs", "resolve_ccgs", "list_hwbs", "list_ccgs", "resolve_codes", "list_nhs_areas", "nhs_area_hwbs"]


def list_hwbs(data: str | os.PathLike | None = None) -> pd.DataFrame:
    """The 152 Health and Wellbeing Boards of 2013 (the areas of the real instances).

    Columns: ``code`` (GSS), ``name``, ``type`` (county, unitary authority, ...), ``population``
    (mid-2012), ``n_lsoa`` and ``n_ccg`` (2013 CCGs with people in it).

    >>> hwbs = list_hwbs()
    >>> len(hwbs), hwbs.loc[hwbs["name"] == "Kent", "code"].item()
    (152, 'E10000016')
    """
    h = read_data_file(data_dir(data), "hwb2013_units.csv", dtype={"hwb_code": str, "hwb_name": str})
    h = h.rename(columns={"hwb_code": "code", "hwb_name": "name", "hwb_type": "type"})
    cols = [c for c in ("code", "name", "type", "population", "n_lsoa", "n_ccg") if c in h.columns]
    return h[cols].sort_values("code", kind="stable").reset_index(drop=True)


def list_ccgs(data: str | os.PathLike | None = None) -> pd.DataFrame:
    """The 211 CCGs of April 2013.

    Columns: ``code`` (ODS), ``name``, ``ons_code``, ``region_name``, ``population`` (mid-2012),
    ``main_hwb_code`` and ``main_hwb_name`` (the HWB holding most of its people).

    >>> ccgs = list_ccgs()
    >>> len(ccgs), ccgs.loc[ccgs["code"] == "00C", "name"].item()
    (211, 'NHS Darlington')
    """
    u = read_data_file(data_dir(data), "ccg2013_units.csv", dtype={"ccg_code": str, "ons_code": str})
    u = u.rename(columns={"ccg_code": "code", "ccg_name": "name"})
    cols = [c for c in ("code", "name", "ons_code", "region_name", "population", "main_hwb_code", "main_hwb_name")
            if c in u.columns]
    return u[cols].sort_values("code", kind="stable").reset_index(drop=True)


def _words(text: str) -> list[str]:
    """Lower-case words of a code or a name: punctuation dropped, ``&`` read as ``and``, a leading ``NHS`` and
    a trailing ``CCG`` (or "clinical commissioning group") dropped."""
    w = re.sub(r"[^0-9a-z]+", " ", str(text).casefold().replace("&", " and ")).split()
    if w[:1] == ["nhs"]:
        w = w[1:]
    if w[-3:] == ["clinical", "commissioning", "group"]:
        w = w[:-3]
    elif w[-1:] == ["ccg"]:
        w = w[:-1]
    return w


def resolve_codes(values: Iterable[str] | str, table: pd.DataFrame | Mapping[str, str], *, what: str, noun: str,
                  aliases: Iterable[str] = (), listing: str = "", keep_unknown: bool = False) -> list[str]:
    """``values`` (codes or names) as codes of ``table`` (columns ``code``, ``name`` and the ``aliases``
    columns, other codes of the same rows; or a mapping code -> name), in the order given; see the module
    docstring for the matching.

    ``what`` names the argument in messages (``"hwbs"``), ``noun`` the things (``"HWB"``), ``listing`` the
    call that lists them all; ``keep_unknown=True`` returns unknown values as they are (for a later check
    to name) instead of raising.

    Raises
    ------
    ValidationError
        For no value, an unknown value (``unknown {noun} codes ...``, with the closest names) or an ambiguous
        one (naming every match with its code); ``items`` holds the values.

    Examples
    --------
    >>> resolve_codes(["york", "E1"], {"E1": "Kent", "E2": "City of York"}, what="--hwb", noun="HWB")
    ['E2', 'E1']
    """
    if isinstance(table, Mapping):
        table = pd.DataFrame({"code": list(table), "name": list(table.values())})
    if isinstance(values, str):
        values = [values]
    given = [str(v).strip() for v in values]
    if not given:
        raise ValidationError(f"{what}: give at least one code or name.", items=[])
    codes = table["code"].astype(str).str.strip().tolist()
    names = table["name"].astype(str).tolist() if "name" in table.columns else codes
    by_code = {c.casefold(): c for c in codes}
    for col in aliases:
        if col in table.columns:
            by_code.update({str(a).strip().casefold(): c for a, c in zip(table[col], codes) if pd.notna(a)})
    words = [_words(n) for n in names]
    by_name: dict[str, list[int]] = {}
    for i, w in enumerate(words):
        by_name.setdefault(" ".join(w), []).append(i)
    label = lambda i: f"{names[i]} ({codes[i]})"  # noqa: E731
    out, unknown, ambiguous = [], [], []
    for v in given:
        if v.casefold() in by_code:
            out.append(by_code[v.casefold()])
            continue
        q = _words(v)
        hits = by_name.get(" ".join(q)) or ([i for i, w in enumerate(words) if set(q) <= set(w)] if q else [])
        if len(hits) == 1:
            out.append(codes[hits[0]])
        elif hits:
            ambiguous.append((v, hits))
        elif keep_unknown:
            out.append(v)
        else:
            unknown.append(v)
    if ambiguous:
        v, hits = ambiguous[0]
        raise ValidationError(
            f"{what}: {v!r} matches {len(hits)} {noun}s: {format_items((label(i) for i in hits), 8)}; give the code "
            "or more of the name.", items=[a for a, _ in ambiguous])
    if unknown:
        keys = {" ".join(w): i for i, w in enumerate(words)}
        hints = []
        for v in unknown:
            close = difflib.get_close_matches(" ".join(_words(v)), list(keys), n=3, cutoff=0.6)
            close += [c for c in difflib.get_close_matches(v, codes, n=2, cutoff=0.8)]
            shown = list(dict.fromkeys(label(keys[c]) if c in keys else label(codes.index(c)) for c in close))
            if shown:
                hints.append(f"{' or '.join(shown)} for {v!r}")
        raise ValidationError(
            f"{what}: unknown {noun} codes {format_items(unknown)} (no {noun} has that code or name)"
            + (f"; did you mean {'; '.join(hints)}?" if hints else ".")
            + (f" {listing} lists all {len(codes)}." if listing else ""),
            items=unknown)
    return out


def resolve_hwbs(values: Iterable[str] | str, data: str | os.PathLike | None = None) -> list[str]:
    """HWB codes (GSS, such as ``E10000016``) for codes or names (``"Kent"``), in the order given.

    Raises
    ------
    ValidationError
        ``unknown HWB codes ...`` with the closest names, or an ambiguous name with every match.

    >>> resolve_hwbs("hull")
    ['E06000010']
    """
    return resolve_codes(values, list_hwbs(data), what="hwbs", noun="HWB", listing="ccgmerge.data.list_hwbs()")


def resolve_ccgs(values: Iterable[str] | str, data: str | os.PathLike | None = None) -> list[str]:
    """2013 CCG codes (ODS, such as ``00C``) for ODS codes, ONS codes (``E38000042``) or names
    (``"Darlington"``, ``"NHS Darlington CCG"``), in the order given.

    Raises
    ------
    ValidationError
        ``unknown 2013 CCG codes ...`` with the closest names, or an ambiguous name with every match.

    >>> resolve_ccgs(["darlington", "E38000042"])
    ['00C', '00C']
    """
    return resolve_codes(values, list_ccgs(data), what="ccgs", noun="2013 CCG", aliases=["ons_code"],
                         listing="ccgmerge.data.list_ccgs()")


def list_nhs_areas(data: str | os.PathLike | None = None) -> pd.DataFrame:
    """The 2013 NHS commissioning regions (4) and area teams (25), with the HWBs that hold their people.

    Columns: ``code`` (E40 region, E39 area team), ``name``, ``level`` (``region`` or ``area_team``),
    ``n_ccg`` (its 2013 CCGs), ``population`` (theirs, mid-2012), ``hwbs`` (sorted codes of every HWB holding people of those CCGs,
    from ``ccg2013_hwb_membership.csv``) and ``n_hwb``. Loading the LSOAs of ``hwbs`` gives the
    benchmark suite's regional instances.

    >>> areas = list_nhs_areas().set_index("code")
    >>> row = areas.loc["E39000002"]
    >>> row["name"], int(row["n_ccg"]), int(row["n_hwb"])
    ('Durham, Darlington and Tees', 5, 6)
    >>> int(areas.loc["E40000004", "n_hwb"]), int((areas["level"] == "area_team").sum())
    (34, 25)
    """
    d = data_dir(data)
    u = read_data_file(d, "ccg2013_units.csv", dtype=str)
    m = read_data_file(d, "ccg2013_hwb_membership.csv", dtype=str)
    hwbs_of = m.groupby("ccg_code")["hwb_code"].apply(set).to_dict()
    rows = []
    for level, key in (("region", "region"), ("area_team", "area_team")):
        for code, g in u.groupby(f"{key}_code", sort=True):
            held = sorted(set().union(*(hwbs_of.get(c, set()) for c in g["ccg_code"])))
            rows.append((code, g[f"{key}_name"].iloc[0], level, len(g), int(g["population"].astype(int).sum()), held,
                         len(held)))
    return pd.DataFrame(rows, columns=["code", "name", "level", "n_ccg", "population", "hwbs", "n_hwb"])


def nhs_area_hwbs(area: str, data: str | os.PathLike | None = None) -> list[str]:
    """The HWB codes holding people of a 2013 NHS region or area team (code or name): what
    ``load_lsoa2013(hwbs=...)`` takes to regroup that area's LSOAs.

    Raises
    ------
    ValidationError
        An unknown or ambiguous region or area team, with the closest names.

    >>> nhs_area_hwbs("Durham, Darlington and Tees")
    ['E06000001', 'E06000002', 'E06000003', 'E06000004', 'E06000005', 'E06000047']
    """
    areas = list_nhs_areas(data)
    code = resolve_codes(area, areas, what="area", noun="NHS region or area team",
                         listing="ccgmerge.data.names.list_nhs_areas()")[0]
    return list(areas.loc[areas["code"] == code, "hwbs"].iloc[0])
