"""``ccgmerge datasets``: what there is to solve (datasets, HWBs, CCGs, later
configurations), from :func:`ccgmerge.data.list_datasets`,
:func:`~ccgmerge.data.list_hwbs`, :func:`~ccgmerge.data.list_ccgs` and
:func:`~ccgmerge.data.list_configurations`."""

from __future__ import annotations

import pandas as pd

from ccgmerge import data as _data
from ccgmerge.cli.common import EXIT_OK, UsageError, say

__all__ = ["cmd_datasets"]


def _filtered(df: pd.DataFrame, text: str | None, what: str, option: str) -> str:
    """``df`` as text, only the rows whose code or name contains ``text`` when given."""
    if text:
        key = text.casefold()
        df = df[df["code"].astype(str).str.casefold().str.contains(key, regex=False)
                | df["name"].astype(str).str.casefold().str.contains(key, regex=False)]
        if df.empty:
            raise UsageError(f"{option} {text!r}: no {what} code or name contains it; run 'ccgmerge datasets "
                             f"{option}' alone for all.")
    df = df.assign(population=df["population"].map("{:,}".format))
    return df.to_string(index=False)


def _configurations(folder) -> list[str]:
    cfg = _data.list_configurations(folder)
    return [f"  {n:<10} {d}" + ("" if pd.isna(g) else f": {int(g)} groups")
            for n, d, g in zip(cfg["name"], cfg["description"], cfg["n_groups"])]


def cmd_datasets(a) -> int:
    folder = _data.data_dir(a.data)
    if a.hwbs is not None:
        hwbs = _data.list_hwbs(folder)
        say(_filtered(hwbs[[c for c in ("code", "name", "type", "population", "n_ccg") if c in hwbs.columns]],
                      a.hwbs, "HWB", "--hwbs"))
        return EXIT_OK
    if a.ccgs is not None:
        ccgs = _data.list_ccgs(folder)
        cols = [c for c in ("code", "name", "population", "main_hwb_code", "main_hwb_name") if c in ccgs.columns]
        say(_filtered(ccgs[cols], a.ccgs, "CCG", "--ccgs"))
        return EXIT_OK
    if a.nhs_areas is not None:
        areas = _data.list_nhs_areas(folder)
        shown = areas[["code", "name", "level", "n_ccg", "population", "n_hwb"]]
        say(_filtered(shown, a.nhs_areas, "NHS region or area team", "--nhs-areas"))
        return EXIT_OK
    if a.configurations:
        say("\n".join(_configurations(folder)))
        return EXIT_OK
    ds = _data.list_datasets(folder)
    cli = ds[ds["cli"].astype(str).str.len() > 0]
    python = ds[ds["cli"].astype(str).str.len() == 0]
    lines = ["datasets (ccgmerge solve --dataset NAME):"]
    lines += [f"  {n:<10} {d}; {c}" for n, d, c in zip(cli["dataset"], cli["description"], cli["cli"])]
    if len(python):
        lines += [f"  from Python only, the later organisations rebuilt from their LSOAs "
                  f"(ccgmerge.data.load_lsoa_units): {', '.join(python['dataset'])}"]
    lines += ["", "configurations (the later official groupings of the 2013 CCGs, to compare plans with; "
                  "ccgmerge.data.load_configuration):"]
    lines += _configurations(folder)
    n_hwb = len(_data.list_hwbs(folder))
    n_ccg = len(_data.list_ccgs(folder))
    lines += ["",
              f"HWBs: {n_hwb}; list them with 'ccgmerge datasets --hwbs [TEXT]' (--hwb takes a code or a name)",
              f"CCGs of 2013: {n_ccg}; list them with 'ccgmerge datasets --ccgs [TEXT]' (--alone, --together and "
              "--apart take a code or a name)",
              f"data folder: {folder}"]
    say("\n".join(lines))
    return EXIT_OK
