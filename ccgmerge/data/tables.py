"""Users' own tables: instances from CSV files or DataFrames with a column
mapping, and an instance's canonical tables written back to CSV."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ccgmerge.errors import ValidationError, format_items
from ccgmerge.instance import Instance

__all__ = ["from_csv", "to_csv", "from_folder"]

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
        :func:`ccgmerge.tables.validate_tables`.

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
