"""The instance the input options describe: built-in datasets, your own CSV
files with a column mapping (``--units-columns CCG_CODE=code,POP=population``),
areas implied by the membership when ``--areas-csv`` is left out, and names
accepted where codes are expected (``--hwb Kent``, ``--alone Darlington``:
:func:`ccgmerge.data.names.resolve_codes`).

Examples
--------
>>> parse_columns("units", "CCG_CODE=code, POP=population")
{'CCG_CODE': 'code', 'POP': 'population'}
>>> parse_columns("membership", "unit=CCG")   # the other way round is understood too
{'CCG': 'unit'}
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pandas as pd

from ccgmerge import data as _data
from ccgmerge.cli.common import FALLBACK_SEED, FALLBACK_UNITS, UsageError
from ccgmerge.data.names import resolve_codes
from ccgmerge.errors import ValidationError
from ccgmerge.instance import Instance

__all__ = ["COLUMNS", "TABLES", "parse_columns", "implied_areas", "load_instance", "unit_codes", "resolve_unit_options"]

#: The tables of your own instance, in order.
TABLES = ("units", "areas", "membership", "adjacency", "baseline")
#: The columns ccgmerge reads from each table (the first ones are required).
COLUMNS = {
    "units": ("code", "population", "name"),
    "areas": ("code", "population", "name"),
    "membership": ("unit", "area", "population"),
    "adjacency": ("a", "b", "kind"),
    "baseline": ("unit", "group"),
}
#: Required columns per table.
REQUIRED = {"units": 2, "areas": 2, "membership": 3, "adjacency": 2, "baseline": 2}


def parse_columns(table: str, text: str) -> dict[str, str]:
    """``--TABLE-columns YOUR=CANONICAL[,YOUR=CANONICAL...]`` as the mapping
    :func:`ccgmerge.data.from_csv` takes (your column -> ccgmerge's column).
    A pair written the other way round (``code=CCG_CODE``) is understood when
    only its left side is one of ccgmerge's column names for the table."""
    option = f"--{table}-columns"
    known = COLUMNS[table]
    example = f"{'CCG_CODE' if table == 'units' else 'YOUR_COLUMN'}={known[0]}"
    out: dict[str, str] = {}
    pairs = [p.strip() for p in str(text).split(",") if p.strip()]
    if not pairs:
        raise UsageError(f"{option} {text!r}: give YOUR_COLUMN=COLUMN pairs separated by commas, e.g. {example}; "
                         f"the columns of the {table} table are {', '.join(known)}.")
    for pair in pairs:
        left, eq, right = (s.strip() for s in pair.partition("="))
        if not eq or not left or not right:
            raise UsageError(f"{option} {pair!r}: write YOUR_COLUMN=COLUMN, e.g. {example} (the columns of the "
                             f"{table} table are {', '.join(known)}).")
        if right in known:
            yours, ours = left, right
        elif left in known:
            yours, ours = right, left
        else:
            raise UsageError(f"{option} {pair!r}: neither {left!r} nor {right!r} is a column of the {table} table "
                             f"({', '.join(known)}); write YOUR_COLUMN=COLUMN, e.g. {example}.")
        if yours in out:
            raise UsageError(f"{option}: column {yours!r} is mapped twice ({yours}={out[yours]} and {yours}={ours}).")
        if ours in out.values():
            raise UsageError(f"{option}: several columns are mapped to {ours!r}; map one column to each.")
        out[yours] = ours
    return out


def unit_codes(inst: Instance, values, option: str) -> list[str]:
    """Unit codes for ``values``: codes, or unit names when the units have names
    (:func:`ccgmerge.data.names.resolve_codes`; for the 2013 CCGs ONS codes too)."""
    units = inst.units.reset_index()
    listing = "'ccgmerge datasets --ccgs'" if "ons_code" in units.columns else ""
    out = resolve_codes(values, units, what=option, noun="unit", aliases=["ons_code"], keep_unknown=True)
    codes = set(units["code"].astype(str))
    unknown = [v for v in out if v not in codes]
    if unknown:
        names = units["name"].astype(str).tolist() if "name" in units.columns else []
        close = [n for v in unknown for n in difflib.get_close_matches(v, names + sorted(codes), n=2, cutoff=0.75)]
        raise ValidationError(
            f"{option}: {', '.join(map(repr, unknown))} {'is' if len(unknown) == 1 else 'are'} not in the instance "
            "(no unit has that code or name)"
            + (f"; did you mean {' or '.join(dict.fromkeys(close))}?" if close else ".")
            + (f" {listing} lists them." if listing else ""), items=unknown)
    return out


def implied_areas(membership, columns: dict[str, str]) -> pd.DataFrame:
    """The areas a membership file implies: one per area code, its population the
    sum of its membership rows. Rows this cannot read are left to
    :func:`ccgmerge.data.from_csv`, whose messages name the file and line."""
    try:
        m = pd.read_csv(membership, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except Exception:  # unreadable: from_csv says why
        return pd.DataFrame({"code": pd.Series(dtype=str), "population": pd.Series(dtype=float)})
    m = m.rename(columns=columns)
    if "area" not in m.columns or "population" not in m.columns:
        return pd.DataFrame({"code": pd.Series(dtype=str), "population": pd.Series(dtype=float)})
    area = m["area"].astype(str).str.strip()
    people = pd.to_numeric(m["population"].astype(str).str.replace(",", "").str.strip(), errors="coerce")
    keep = area.ne("")
    sums = people[keep].fillna(0).groupby(area[keep], sort=False).sum()
    return pd.DataFrame({"code": sums.index.astype(str), "population": sums.to_numpy()})


def _csv_hint(exc: ValidationError) -> ValidationError:
    """A missing required column: add how to map it on the command line."""
    msg = str(exc)
    table = msg.split(" ", 1)[0]
    if table in TABLES and "required column" in msg and exc.items:
        pairs = ",".join(f"YOUR_COLUMN={c}" for c in exc.items)
        msg += f" On the command line: --{table}-columns {pairs}."
    elif table in TABLES and "mapped column" in msg:
        msg += (f" Check --{table}-columns: in each YOUR_COLUMN=COLUMN pair, YOUR_COLUMN is spelt as in the "
                "file's header (upper and lower case matter).")
    return ValidationError(msg, items=exc.items)


def check_input_args(a) -> str:
    """The input kind the options describe (a dataset name or "csv"), or a UsageError."""
    own = {t: getattr(a, f"{t}_csv") for t in TABLES}
    mapped = {t: getattr(a, f"{t}_columns") for t in TABLES}
    needed = ("units", "membership", "adjacency")
    if any(own.values()):
        if not all(own[t] for t in needed):
            raise UsageError("give --units-csv, --membership-csv and --adjacency-csv (--areas-csv and --baseline-csv "
                             "are optional: without --areas-csv the areas are the ones the membership names).")
        if a.dataset is not None:
            raise UsageError("--dataset cannot be combined with --units-csv ... (your own tables).")
        dataset = "csv"
    else:
        dataset = a.dataset or "ccg2013"
    for t, m in mapped.items():
        if m is not None and not own[t]:
            raise UsageError(f"--{t}-columns maps the columns of --{t}-csv; give --{t}-csv too.")
    if (a.hwb or a.nhs_area) and dataset != "lsoa2013":
        raise UsageError("--hwb and --nhs-area apply only to --dataset lsoa2013.")
    if (a.units is not None or a.seed is not None) and dataset != "synthetic":
        raise UsageError("--units and --seed apply only to --dataset synthetic.")
    if a.data is not None and dataset not in ("ccg2013", "lsoa2013"):
        raise UsageError("--data applies only to --dataset ccg2013 or lsoa2013.")
    if (a.crossings is not None or a.min_shared_boundary is not None) and dataset not in ("ccg2013", "lsoa2013"):
        raise UsageError("--crossings and --min-shared-boundary apply only to --dataset ccg2013 or lsoa2013 "
                         "(edit your own adjacency CSV, or use ccgmerge.data.from_geodataframe).")
    return dataset


def _from_csv(a) -> Instance:
    columns = {t: parse_columns(t, getattr(a, f"{t}_columns")) for t in TABLES
               if getattr(a, f"{t}_columns") is not None}
    areas = a.areas_csv
    if areas is None:
        areas = implied_areas(a.membership_csv, columns.get("membership", {}))
        columns.pop("areas", None)
    try:
        return _data.from_csv(a.units_csv, areas, a.membership_csv, a.adjacency_csv, columns=columns,
                              baseline=a.baseline_csv, name=Path(a.units_csv).stem)
    except ValidationError as exc:
        raise _csv_hint(exc) from None


def resolve_unit_options(a, inst: Instance) -> None:
    """``--alone``, ``--together``, ``--apart``, ``--add-edge`` and ``--remove-edge`` given by name: codes."""
    codes = set(map(str, inst.units.index))
    if all(str(v) in codes for v in a.alone) and all(str(v) in codes for p in a.together + a.apart for v in p):
        return
    a.alone = unit_codes(inst, a.alone, "--alone") if a.alone else []
    a.together = [unit_codes(inst, p, "--together") for p in a.together]
    a.apart = [unit_codes(inst, p, "--apart") for p in a.apart]


def load_instance(a) -> Instance:
    """The instance the input options describe (a missing data folder is a DataNotFoundError)."""
    dataset = check_input_args(a)
    if dataset == "csv":
        inst = _from_csv(a)
    elif dataset == "synthetic":
        from ccgmerge.data.synthetic import generate

        inst = generate(a.units if a.units is not None else FALLBACK_UNITS,
                        seed=a.seed if a.seed is not None else FALLBACK_SEED)
    else:
        folder = _data.data_dir(a.data)  # --data, else CCGMERGE_DATA, ..., else the packaged tables
        edges = {"crossings": a.crossings, "min_shared_boundary_m": a.min_shared_boundary}
        if dataset == "ccg2013":
            inst = _data.load_ccg2013(folder, **edges)
        else:
            hwbs = None
            if a.hwb:
                hwbs = resolve_codes(a.hwb, _data.list_hwbs(folder), what="--hwb", noun="HWB",
                                     listing="'ccgmerge datasets --hwbs'")
            if a.nhs_area:
                areas = _data.list_nhs_areas(folder)
                codes = resolve_codes(a.nhs_area, areas, what="--nhs-area", noun="NHS region or area team",
                                      listing="'ccgmerge datasets --nhs-areas'")
                held = [h for c in codes for h in areas.loc[areas["code"] == c, "hwbs"].iloc[0]]
                hwbs = list(dict.fromkeys((hwbs or []) + held))
            inst = _data.load_lsoa2013(folder, hwbs=hwbs, **edges)
    if a.add_edge or a.remove_edge:
        edit = {"add": [tuple(unit_codes(inst, p, "--add-edge")) for p in a.add_edge],
                "remove": [tuple(unit_codes(inst, p, "--remove-edge")) for p in a.remove_edge]}
        inst = inst.with_edges(**edit)
    return inst
