"""The tables of an instance: validation, canonical form and edits.

:func:`validate_tables` checks the four tables (and a baseline) before an
:class:`~ccgmerge.instance.Instance` is built and names the first problem
found; :func:`canonical_tables` puts the validated tables in the canonical
form the instance holds; :func:`edited_adjacency` and :func:`scaled_tables`
compute the tables of the instance's ``with_edges`` and ``with_populations``
copies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ccgmerge.errors import ValidationError, format_items

__all__ = ["validate_tables", "canonical_tables", "edited_adjacency", "scaled_tables", "MEMBERSHIP_TOLERANCE",
           "MAX_POPULATION", "TableSource"]

#: A unit's membership rows must add up to its population within this many
#: people, or this share of its population, whichever is larger.
MEMBERSHIP_TOLERANCE = (1.0, 1e-6)
#: No unit or area can hold more people than this (England holds ~56 million).
MAX_POPULATION = 100_000_000


@dataclass(frozen=True)
class TableSource:
    """Where a table came from, for messages: ``label`` (``"units"``, ``"units file 'u.csv'"``) and, for a
    file, the line of each data row as a text editor counts them (header = line 1); without ``lines`` a
    row is named by its 0-based position in the DataFrame (``row 0``).

    >>> TableSource("units file 'u.csv'", (2, 3, 5)).where([0, 2])
    'lines 2, 5'
    >>> TableSource("units").where([1])
    'row 1'
    """

    label: str
    lines: tuple[int, ...] | None = None
    header_line: int = 1

    @property
    def is_file(self) -> bool:
        return self.lines is not None

    def at(self, i: int) -> str:
        """``line N`` (a file) or ``row i`` (a DataFrame) for data row ``i``."""
        if self.lines is not None and 0 <= i < len(self.lines):
            return f"line {self.lines[i]}"
        return f"row {i}"

    def item(self, i: int) -> int:
        """The number a message shows for data row ``i`` (file line or row position)."""
        return self.lines[i] if self.lines is not None and 0 <= i < len(self.lines) else int(i)

    def where(self, rows) -> str:
        rows = [int(i) for i in rows]
        word = "line" if self.lines is not None else "row"
        return f"{word}{'s' if len(rows) > 1 else ''} {format_items(self.item(i) for i in rows)}"


def _files(*sources: TableSource) -> str:
    """`` (in units file 'u.csv' and ...)`` when some of the tables came from files."""
    if not any(s.is_file for s in sources):
        return ""
    return " (in " + " and ".join(s.label for s in sources) + ")"


def _population_column(df: pd.DataFrame, col: str, src: TableSource, key: str) -> np.ndarray:
    """Check a population column: present, numeric, whole, non-negative, not absurd."""
    if col not in df.columns:
        raise ValidationError(
            f"{src.label}: column {col!r} is missing (columns are {list(df.columns)}); "
            f"map your population column to {col!r}.",
            items=[col],
        )
    raw = df[col]
    keys = df[key].tolist()

    def value(i: int) -> str:
        x = raw.iloc[i]
        return "empty" if pd.isna(x) else f"value {str(x).strip()!r}"

    def named(mask) -> tuple[list, list[str]]:
        rows = np.flatnonzero(np.asarray(mask))
        items = [keys[i] for i in rows]
        if not src.is_file:
            shown = [str(k) for k in items]
        elif key == "key":  # membership keys already say where the row is
            shown = [f"{keys[i]}: {value(i)}" for i in rows]
        else:
            shown = [f"{keys[i]} ({src.at(i)}: {value(i)})" for i in rows]
        return items, shown

    values = pd.to_numeric(raw, errors="coerce")
    v = values.to_numpy(dtype=float)
    checks = (
        (values.isna().to_numpy(), f"{col} is missing or not a number for {{}}; give every row a whole, "
                                   "non-negative population (digits only, no thousands separators)."),
        (v < 0, f"negative {col} for {{}}; populations must be >= 0."),
        (np.abs(v - np.round(v)) > 1e-9, f"{col} is not a whole number of people for {{}}; round the figures "
                                         "before building the instance."),
        (v > MAX_POPULATION, f"{col} above {MAX_POPULATION:,} (more than England) for {{}}; check the units "
                             "of the column."),
    )
    for mask, text in checks:
        bad, shown = named(mask)
        if bad:
            raise ValidationError(f"{src.label}: " + text.replace("{}", format_items(shown)), items=bad)
    return np.round(v).astype(np.int64)


def _codes(df: pd.DataFrame, col: str, src: TableSource) -> list[str]:
    if col not in df.columns:
        raise ValidationError(
            f"{src.label}: column {col!r} is missing (columns are {list(df.columns)}).",
            items=[col],
        )
    s = df[col]
    missing = [int(i) for i in np.flatnonzero(s.isna().to_numpy())]
    if missing:
        raise ValidationError(
            f"{src.label}: {col} is empty in {src.where(missing)}; every row needs a code.",
            items=[src.item(i) for i in missing],
        )
    codes = [str(c).strip() for c in s.tolist()]
    blank = [i for i, c in enumerate(codes) if not c]
    if blank:
        raise ValidationError(
            f"{src.label}: {col} is blank in {src.where(blank)}.", items=[src.item(i) for i in blank]
        )
    return codes


def _duplicates(codes: list[str], src: TableSource) -> tuple[list[str], str]:
    """Codes listed more than once (first-seen order), and their text for a message."""
    seen: dict[str, list[int]] = {}
    for i, c in enumerate(codes):
        seen.setdefault(c, []).append(i)
    dup = [c for c, rows in seen.items() if len(rows) > 1]
    if not src.is_file:
        return dup, format_items(dup)
    return dup, format_items(f"{c} ({src.where(seen[c])})" for c in dup)


def validate_tables(
    units: pd.DataFrame,
    areas: pd.DataFrame,
    membership: pd.DataFrame,
    adjacency: pd.DataFrame,
    baseline: Mapping[str, str] | pd.Series | None = None,
    *,
    sources: Mapping[str, TableSource] | None = None,
) -> None:
    """Check the four tables of an instance and raise :class:`ValidationError`
    naming the first problem found.

    ``sources`` (optional) says where each table came from (keys ``units``,
    ``areas``, ``membership``, ``adjacency``, ``baseline``): messages then
    name the file and the file line of each culprit row (header = line 1)
    instead of the table and the row's 0-based position.

    Tables use the canonical columns: ``units`` (code, population, [name, ...]),
    ``areas`` (code, population, [name]), ``membership`` (unit, area,
    population), ``adjacency`` (a, b, [kind]).

    Checks, in order: units, areas and membership not empty; unit and area codes present and unique, unit and area
    codes disjoint; populations present, numeric, whole, >= 0 and at most
    :data:`MAX_POPULATION`; membership rows name known units and areas, each
    (unit, area) pair once, and every unit has at least one membership row; a
    unit's membership adds up to its population within
    :data:`MEMBERSHIP_TOLERANCE` (1 person or 1e-6 of the population, whichever
    is larger); an area's population is at least the membership placed in it;
    adjacency rows name known units, have no self-loops and no duplicate pairs
    (``(a, b)`` and ``(b, a)`` are the same pair); a baseline names every unit.

    Examples
    --------
    >>> import pandas as pd
    >>> u = pd.DataFrame({"code": ["A", "A"], "population": [1, 2]})
    >>> a = pd.DataFrame({"code": ["X"], "population": [3]})
    >>> m = pd.DataFrame({"unit": ["A"], "area": ["X"], "population": [1]})
    >>> e = pd.DataFrame({"a": [], "b": []})
    >>> validate_tables(u, a, m, e)
    Traceback (most recent call last):
    ...
    ccgmerge.errors.ValidationError: units: duplicate unit codes A; each unit must appear once (aggregate or rename the duplicates).
    """
    src = {t: TableSource(t) for t in ("units", "areas", "membership", "adjacency", "baseline")}
    src.update(sources or {})
    us, ars, ms, es = src["units"], src["areas"], src["membership"], src["adjacency"]
    for name, df, what in (("units", units, "unit"), ("areas", areas, "area (HWB)"),
                           ("membership", membership, "(unit, area) pair")):
        if len(df) == 0:
            head = f"{src[name].label} has a header but no data rows" if src[name].is_file else f"{name}: no rows"
            raise ValidationError(f"{head}; add one row per {what} (an instance needs at least one unit).",
                                  items=[name])
    ucodes = _codes(units, "code", us)
    dup, shown = _duplicates(ucodes, us)
    if dup:
        raise ValidationError(
            f"{us.label}: duplicate unit codes {shown}; each unit must appear once "
            "(aggregate or rename the duplicates).",
            items=sorted(dup),
        )
    acodes = _codes(areas, "code", ars)
    dup, shown = _duplicates(acodes, ars)
    if dup:
        raise ValidationError(
            f"{ars.label}: duplicate area (HWB) codes {shown}; each area must appear once.",
            items=dup,
        )
    both = sorted(set(ucodes) & set(acodes))
    if both:
        raise ValidationError(
            f"codes {format_items(both)} name both a unit and an area{_files(us, ars)}; unit and area codes "
            "must differ (prefix one of them).",
            items=both,
        )
    upop = _population_column(units.assign(code=ucodes), "population", us, "code")
    apop = _population_column(areas.assign(code=acodes), "population", ars, "code")

    mu = _codes(membership, "unit", ms)
    ma = _codes(membership, "area", ms)
    mem = membership.assign(unit=mu, area=ma).reset_index(drop=True)
    mpop = _population_column(mem.assign(key=[f"{ms.at(i)} ({u}, {a})" for i, (u, a) in enumerate(zip(mu, ma))]),
                              "population", ms, "key")
    uset, aset = set(ucodes), set(acodes)
    bad = [(i, u) for i, u in enumerate(mu) if u not in uset]
    if bad:
        raise ValidationError(
            f"{ms.label} names unknown units: {format_items(f'{ms.at(i)}: {u}' for i, u in bad)}; add them to "
            f"the units table{_files(us)} or remove the rows.",
            items=[u for _, u in bad],
        )
    bad = [(i, a) for i, a in enumerate(ma) if a not in aset]
    if bad:
        raise ValidationError(
            f"{ms.label} names unknown areas (HWBs): {format_items(f'{ms.at(i)}: {a}' for i, a in bad)}; add them "
            f"to the areas table{_files(ars)} or remove the rows.",
            items=[a for _, a in bad],
        )
    dup_rows = np.flatnonzero(pd.DataFrame({"u": mu, "a": ma}).duplicated().to_numpy())
    if len(dup_rows):
        dups = [(mu[i], ma[i]) for i in dup_rows]
        shown = dups if not ms.is_file else [f"{p} ({ms.at(i)})" for p, i in zip(dups, dup_rows)]
        raise ValidationError(
            f"{ms.label} lists the same (unit, area) pair twice: {format_items(shown)}; "
            "sum the rows first.",
            items=dups,
        )
    sums = pd.Series(mpop, index=mu).groupby(level=0).sum()
    no_area = [c for c in ucodes if c not in sums.index]
    if no_area:
        raise ValidationError(
            f"units with no area (HWB) membership: {format_items(no_area)}; every unit needs at "
            f"least one membership row{_files(ms)} saying where its people live.",
            items=no_area,
        )
    upop_s = pd.Series(upop, index=ucodes)
    diff = (sums.reindex(ucodes) - upop_s).abs()
    tol = np.maximum(MEMBERSHIP_TOLERANCE[0], MEMBERSHIP_TOLERANCE[1] * upop_s)
    bad = diff[diff > tol]
    if len(bad):
        detail = [f"{c} (membership {int(sums[c]):,} vs population {int(upop_s[c]):,})" for c in bad.index]
        raise ValidationError(
            f"membership does not add up to the unit's population for {format_items(detail)}{_files(ms, us)}; "
            "tolerance is 1 person or 1e-6 of the population. Fix the membership rows or the "
            "unit population.",
            items=list(bad.index),
        )
    asums = pd.Series(mpop, index=ma).groupby(level=0).sum()
    apop_s = pd.Series(apop, index=acodes)
    over = asums - apop_s.reindex(asums.index)
    over = over[over > np.maximum(MEMBERSHIP_TOLERANCE[0], MEMBERSHIP_TOLERANCE[1] * apop_s.reindex(over.index))]
    if len(over):
        detail = [f"{c} (membership {int(asums[c]):,} vs population {int(apop_s[c]):,})" for c in over.index]
        raise ValidationError(
            f"areas hold fewer people than the membership places in them: {format_items(detail)}{_files(ars, ms)}; "
            "an area's population must be at least the sum of its membership rows.",
            items=list(over.index),
        )

    if len(adjacency):
        ea = _codes(adjacency, "a", es)
        eb = _codes(adjacency, "b", es)
        bad = [(i, c) for i, (x, y) in enumerate(zip(ea, eb)) for c in (x, y) if c not in uset]
        if bad:
            raise ValidationError(
                f"{es.label} names unknown units: {format_items(f'{es.at(i)}: {c}' for i, c in bad)}; every edge "
                f"must join two units of the units table{_files(us)}.",
                items=[c for _, c in bad],
            )
        loops = [(i, x) for i, (x, y) in enumerate(zip(ea, eb)) if x == y]
        if loops:
            raise ValidationError(
                f"{es.label} has self-loops: {format_items(f'{es.at(i)}: {x}' for i, x in loops)}; remove them.",
                items=[x for _, x in loops],
            )
        xa, xb = np.array(ea, dtype=object), np.array(eb, dtype=object)
        swap = xa > xb
        keys = pd.DataFrame({"lo": np.where(swap, xb, xa), "hi": np.where(swap, xa, xb)})
        dup_rows = np.flatnonzero(keys.duplicated(keep="first").to_numpy())
        if len(dup_rows):
            i = int(dup_rows[0])
            key = (keys.at[i, "lo"], keys.at[i, "hi"])
            first = int(np.flatnonzero(((keys["lo"] == key[0]) & (keys["hi"] == key[1])).to_numpy())[0])
            raise ValidationError(
                f"{es.label} lists the pair {key[0]}-{key[1]} twice ({es.where([first, i]).replace(', ', ' and ')}); "
                "keep one row per pair.",
                items=[key],
            )
    if baseline is not None:
        b = pd.Series(baseline)
        b.index = b.index.map(str)
        bs = src["baseline"]
        if b.index.has_duplicates:
            dup, shown = _duplicates(list(b.index), bs)
            raise ValidationError(
                f"baseline grouping{_files(bs)} lists units {shown} more than once; give each unit "
                "one baseline group.",
                items=sorted(dup),
            )
        have = set(b.index[b.notna().to_numpy()])
        missing = [c for c in ucodes if c not in have]
        if missing:
            raise ValidationError(
                f"baseline grouping{_files(bs)} has no group for units {format_items(missing)}; give every "
                "unit a baseline group (its own code to leave it alone).",
                items=missing,
            )
        extra = [c for c in b.index if c not in uset]
        if extra:
            raise ValidationError(
                f"baseline grouping{_files(bs)} names unknown units {format_items(extra)}; add them to the "
                f"units table{_files(us)} or remove them from the baseline.", items=extra
            )


def _strip(s: pd.Series) -> pd.Series:
    """``s.map(lambda c: str(c).strip())``, without pandas' per-element overhead."""
    if len(s) == 0:
        return s.map(lambda c: str(c).strip())
    return pd.Series([str(c).strip() for c in s.tolist()], index=s.index)


def _canonical_units(units: pd.DataFrame) -> pd.DataFrame:
    u = units.copy()
    u["code"] = _strip(u["code"])
    u["population"] = np.round(pd.to_numeric(u["population"]).to_numpy(dtype=float)).astype(np.int64)
    if "name" not in u.columns:
        u["name"] = u["code"]
    u["name"] = u["name"].fillna(u["code"]).astype(str)
    cols = ["code", "name", "population"] + [c for c in u.columns if c not in ("code", "name", "population")]
    return u[cols].sort_values("code", kind="stable").reset_index(drop=True)


def canonical_tables(
    units: pd.DataFrame, areas: pd.DataFrame, membership: pd.DataFrame, adjacency: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The validated tables in canonical form (codes stripped, whole populations, names filled, rows
    sorted, each edge with ``a < b``): units, areas, membership, adjacency."""
    u = _canonical_units(units)
    a = areas.copy()
    a["code"] = _strip(a["code"])
    a["population"] = np.round(pd.to_numeric(a["population"]).to_numpy(dtype=float)).astype(np.int64)
    if "name" not in a.columns:
        a["name"] = a["code"]
    a["name"] = a["name"].fillna(a["code"]).astype(str)
    a = a[["code", "name", "population"] + [c for c in a.columns if c not in ("code", "name", "population")]]
    a = a.sort_values("code", kind="stable").reset_index(drop=True)
    m = pd.DataFrame(
        {
            "unit": _strip(membership["unit"]).to_numpy(),
            "area": _strip(membership["area"]).to_numpy(),
            "population": np.round(pd.to_numeric(membership["population"]).to_numpy(dtype=float)).astype(np.int64),
        }
    )
    m = m.sort_values(["unit", "area"], kind="stable").reset_index(drop=True)
    e = pd.DataFrame(
        {
            "a": _strip(adjacency["a"]).to_numpy() if len(adjacency) else np.array([], dtype=object),
            "b": _strip(adjacency["b"]).to_numpy() if len(adjacency) else np.array([], dtype=object),
        }
    )
    e["kind"] = adjacency["kind"].astype(str).to_numpy() if "kind" in adjacency.columns and len(adjacency) else "boundary"
    for extra in adjacency.columns:
        if extra not in ("a", "b", "kind") and len(adjacency):
            e[extra] = adjacency[extra].to_numpy()
    swap = e["a"] > e["b"]
    e.loc[swap, ["a", "b"]] = e.loc[swap, ["b", "a"]].to_numpy()
    e = e.sort_values(["a", "b"], kind="stable").reset_index(drop=True)
    return u, a, m, e


def edited_adjacency(
    adjacency: pd.DataFrame, add: Iterable[tuple[str, str]], remove: Iterable[tuple[str, str]], kind: str
) -> pd.DataFrame:
    """``adjacency`` with the edges ``remove`` dropped and ``add`` appended (of kind ``kind``).

    Adding an edge that exists, or removing one that does not, raises :class:`ValidationError`.
    """
    adj = adjacency.copy()
    keys = set(zip(adj["a"], adj["b"]))
    norm = lambda p: (str(p[0]), str(p[1])) if str(p[0]) < str(p[1]) else (str(p[1]), str(p[0]))  # noqa: E731
    rem = [norm(p) for p in remove]
    missing = [f"{a}-{b}" for a, b in rem if (a, b) not in keys]
    if missing:
        raise ValidationError(
            f"cannot remove edges that are not in the adjacency: {format_items(missing)}.", items=missing
        )
    if rem:
        drop = set(rem)
        adj = adj[[(a, b) not in drop for a, b in zip(adj["a"], adj["b"])]]
    new = [norm(p) for p in add]
    exists = [f"{a}-{b}" for a, b in new if (a, b) in keys and (a, b) not in set(rem)]
    if exists:
        raise ValidationError(
            f"cannot add edges that are already in the adjacency: {format_items(exists)}.", items=exists
        )
    if new:
        extra = pd.DataFrame({"a": [a for a, _ in new], "b": [b for _, b in new], "kind": kind})
        adj = pd.concat([adj, extra], ignore_index=True)
    return adj


def scaled_tables(
    units: pd.DataFrame, membership: pd.DataFrame, areas: pd.DataFrame, upop: pd.Series, new: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Units, membership and areas with the unit populations ``upop`` changed to ``new``:
    membership and area populations scaled in proportion and rounded."""
    ratio = (new / upop.where(upop > 0)).fillna(1.0)
    u = units.copy()
    u["population"] = np.round(new.reindex(u["code"]).to_numpy()).astype(np.int64)
    m = membership.copy()
    m["population"] = m["population"] * m["unit"].map(ratio).to_numpy()
    # round membership so each unit's rows add up exactly to its new population
    m["population"] = _round_within(m, u.set_index("code")["population"])
    a = areas.copy()
    delta = (m.groupby("area")["population"].sum() - membership.groupby("area")["population"].sum())
    a["population"] = (a["population"] + a["code"].map(delta).fillna(0)).round().astype(np.int64)
    return u, m, a


def _round_within(m: pd.DataFrame, target: pd.Series) -> np.ndarray:
    """Largest-remainder rounding of membership rows per unit to a target total."""
    out = np.floor(m["population"].to_numpy(dtype=float)).astype(np.int64)
    frac = m["population"].to_numpy(dtype=float) - out
    for unit, rows in m.groupby("unit").indices.items():
        short = int(target[unit] - out[rows].sum())
        if short > 0:
            order = rows[np.argsort(-frac[rows], kind="stable")][:short]
            out[order] += 1
    return out
