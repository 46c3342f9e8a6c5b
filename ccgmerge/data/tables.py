"""Users' own tables: instances from CSV files or DataFrames with a column
mapping, and an instance's canonical tables written back to CSV."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import os
import stat
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ccgmerge.errors import ValidationError, format_items
from ccgmerge.frames import implied_areas
from ccgmerge.instance import Instance
from ccgmerge.tables import TableSource, validate_tables

__all__ = ["from_csv", "to_csv", "from_folder", "implied_areas"]

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
_COMPRESSED = {".gz": gzip.decompress, ".bz2": bz2.decompress, ".xz": lzma.decompress}


def _file_bytes(path: Path, label: str) -> bytes:
    """The bytes of a CSV file (decompressed for .gz, .bz2, .xz, .zip), or a
    ValidationError saying why it cannot be read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ValidationError(f"{label} does not exist; check the path.", items=[str(path)]) from None
    except OSError as exc:
        raise ValidationError(f"{label} cannot be read: {exc.strerror or exc}.", items=[str(path)]) from None
    if stat.S_ISDIR(mode):
        raise ValidationError(f"{label} is a folder, not a CSV file; give the path of the CSV file inside it.",
                              items=[str(path)])
    if not stat.S_ISREG(mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        raise ValidationError(f"{label} is {kind}, not a regular file; save the table to a file and give the path "
                              "of that file.", items=[str(path)])
    try:
        data = path.read_bytes()
        suffix = path.suffix.lower()
        if suffix in _COMPRESSED:
            data = _COMPRESSED[suffix](data)
        elif suffix == ".zip":
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                names = [n for n in z.namelist() if not n.endswith("/")]
                if len(names) != 1:
                    raise ValidationError(f"{label}: a .zip must hold exactly one CSV file, it holds {len(names)}.",
                                          items=[str(path)])
                data = z.read(names[0])
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile) as exc:
        raise ValidationError(f"{label} cannot be read: {getattr(exc, 'strerror', None) or exc}.",
                              items=[str(path)]) from None
    return data


def _decode(data: bytes, label: str, path: Path) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ValidationError(f"{label} is saved as UTF-16; save it as UTF-8 (in Excel: Save As 'CSV UTF-8 (Comma "
                              "delimited)').", items=[str(path)])
    if data[:4] == b"PK\x03\x04" or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ValidationError(f"{label} looks like an Excel workbook, not a CSV file; save it as "
                              "'CSV UTF-8 (Comma delimited)'.", items=[str(path)])
    try:
        return data.decode("utf-8-sig")  # a byte-order mark (Excel's 'CSV UTF-8') is fine
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = data[exc.start:exc.start + 1]
        guess = byte.decode("cp1252", errors="replace")
        raise ValidationError(
            f"{label}, line {line}, character {col}: byte 0x{byte.hex()} is not UTF-8 (in Windows-1252 it would be "
            f"{guess!r}); save the file as UTF-8 (in Excel: Save As 'CSV UTF-8 (Comma delimited)'; in LibreOffice: "
            "character set 'Unicode (UTF-8)').",
            items=[line],
        ) from None


def _records(text: str, label: str, table: str) -> tuple[list[str], int, list[int]]:
    """The header, its line and the file line (header = line 1) of every data row, as pandas
    reads them (blank lines skipped); a ValidationError for an empty file, a file
    that is not comma-separated, or a row with more fields than the header."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header, header_line, lines, prev = None, 0, [], 0
    try:
        for rec in reader:
            start, prev = prev + 1, reader.line_num
            if not rec or (len(rec) == 1 and not rec[0].strip()):
                continue
            if header is None:
                header, header_line = rec, start
                raw = rec[0] if len(rec) == 1 else ""  # one field: no comma in the header
                if raw:
                    seps = {";": "';'", "\t": "tab", "|": "'|'"}
                    found = max(seps, key=raw.count)
                    if raw.count(found):
                        raise ValidationError(
                            f"{label}, line {start}: the file looks {seps[found]}-separated (header {raw.strip()!r}); "
                            "ccgmerge reads comma-separated CSV. Convert it (in Excel: Save As 'CSV UTF-8 (Comma "
                            "delimited)'), or from Python read it with pandas.read_csv(path, sep="
                            f"{found!r}) and pass the DataFrame to ccgmerge.data.from_csv.",
                            items=[start],
                        )
                continue
            if len(rec) > len(header):
                extra = rec[len(header):]
                fix = ("remove the trailing comma(s)" if not any(x.strip() for x in extra) else
                       "quote names that contain commas (\"Leeds, North\") or remove the extra fields")
                raise ValidationError(
                    f"{label}, line {start}: {len(rec)} fields where the header (line {header_line}) has "
                    f"{len(header)} ({', '.join(header)}); {fix}.",
                    items=[start],
                )
            lines.append(start)
        swallowed = lines and any("\n" in f or "\r" in f for f in rec)  # the last record ran to the end
        if swallowed and "".join(text.splitlines()[lines[-1] - 1:]).count('"') % 2 == 1:
            raise ValidationError(f"{label}, line {lines[-1]}: a quote (\") opened on this line is never closed, so "
                                  "the rest of the file reads as one field; close the quote (a quote inside a "
                                  "quoted name is written twice: \"\").", items=[lines[-1]])
    except csv.Error as exc:
        raise ValidationError(f"{label}, line {reader.line_num}: {exc}; check the quotes on that line "
                              "(a field that contains a quote must be quoted, with the quote doubled).",
                              items=[reader.line_num]) from None
    if header is None:
        need = ", ".join(_REQUIRED[table])
        raise ValidationError(f"{label} is empty; it needs a header line ({need}, ...) and one line per row.",
                              items=[label])
    return header, header_line, lines


def _read_file(path: Path, table: str, mapping: Mapping[str, str]) -> tuple[pd.DataFrame, TableSource]:
    label = f"{table} file {str(path)!r}"
    text = _decode(_file_bytes(path, label), label, path)
    header, header_line, lines = _records(text, label, table)
    textcols = {src for src, dst in mapping.items() if dst in _TEXT[table]}
    textcols |= {c for c in _TEXT[table] if c in header and c not in mapping}
    try:
        df = pd.read_csv(io.StringIO(text), dtype={c: str for c in textcols if c in header})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise ValidationError(f"{label} cannot be read as CSV: {exc}; check the line it names "
                              "(quote names that contain commas).", items=[str(path)]) from None
    return df, TableSource(label, tuple(lines) if len(lines) == len(df) else None, header_line)


def _table(source, table: str, mapping: Mapping[str, str]) -> tuple[pd.DataFrame, TableSource]:
    """Read one table (path or DataFrame), check and apply the column mapping;
    also return where it came from (for messages)."""
    mapping = {str(k): str(v) for k, v in dict(mapping).items()}
    if isinstance(source, pd.DataFrame):
        df = source.copy()
        label = f"{table} table (DataFrame)"
        where = TableSource(table)
    elif isinstance(source, (str, os.PathLike)):
        df, where = _read_file(Path(source), table, mapping)
        label = where.label
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
            f"missing; columns present are {present}. "
            + (f"Rename your column in the header (line {where.header_line}), or from Python map it with "
               if where.is_file else "Map your columns with ")
            + f"columns={{{table!r}: {{'your_column': {need[0]!r}}}}}.",
            items=need,
        )
    return df, where


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
        ``areas=None``: the areas the membership implies
        (:func:`implied_areas`: each area's population is the people its
        membership rows place in it, so every unit is wholly counted; give
        the areas table when an area has people outside your units).
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
        When a file cannot be read as comma-separated UTF-8 CSV (a folder, a
        FIFO, an empty file, a ``;``- or tab-separated file, a byte that is not
        UTF-8, a row with more fields than the header: the message names the
        file, the line and the fix), when a mapped or required column is missing
        (naming the file, the column and the columns present), and for every
        check of :func:`ccgmerge.tables.validate_tables`. Rows of a file are
        named by their line as a text editor counts them (the header is line 1).

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
    read = {
        t: _table(src, t, columns.get(t, {}))
        for t, src in zip(_TABLES[:4], (units, areas, membership, adjacency)) if not (t == "areas" and areas is None)
    }
    if areas is None:
        read["areas"] = (implied_areas(read["membership"][0]), TableSource("areas (implied by the membership)"))
    frames = {t: df for t, (df, _) in read.items()}
    sources = {t: where for t, (_, where) in read.items()}
    base = None
    if baseline is not None:
        if isinstance(baseline, (pd.DataFrame, str, os.PathLike)):
            b, sources["baseline"] = _table(baseline, "baseline", columns.get("baseline", {}))
            base = pd.Series(b["group"].to_numpy(), index=b["unit"].astype(str).to_numpy())
        elif isinstance(baseline, (pd.Series, Mapping)):
            base = pd.Series(baseline)
        else:
            raise ValidationError(
                f"baseline: expected a path, DataFrame, Series or mapping, got {type(baseline).__name__}.",
                items=["baseline"],
            )
    if any(w.is_file for w in sources.values()):
        # the instance validates the tables too; here the messages name the files and their lines
        validate_tables(frames["units"], frames["areas"], frames["membership"], frames["adjacency"], base,
                        sources=sources)
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
