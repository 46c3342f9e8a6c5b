"""The ccgmerge benchmark suite: named cases x solver variants, each run in a
fresh subprocess, with one JSON per run, a CSV, a printed table, the targets
and a scaling plot.

Usage (from the repository root)::

    python -m benchmarks.suite --list                      # the registry
    python -m benchmarks.suite --quick                     # the CI subset (< 5 min)
    python -m benchmarks.suite --family real_ccg2013 --variants cbc highs
    python -m benchmarks.suite --case lsoa-kent-moved-250k --time-limit 300
    python -m benchmarks.suite --family synthetic --variants formulations
    python -m benchmarks.suite --all --out benchmarks/results/all
    python -m benchmarks.suite --report benchmarks/results/all   # re-print from the JSONs

``python benchmarks/suite.py ...`` works too. See ``benchmarks/README.md``.

Every run is a child interpreter (``--child``): it builds the instance, solves
it and writes its figures as JSON; the parent kills it (its whole process
group, so CBC too) at the time limit plus a margin. The cases of a group
(the 152 HWBs of ``england_lsoa_100k``) share one child (``--batch-child``,
:mod:`benchmarks.batch`): imports and tables once, each case with its own
time limit, record and per-case kill; ``--isolate`` gives each its own child. Peak memory is the
child's own ``ru_maxrss`` (HiGHS runs in process) and, separately, the
largest of its waited-for children (the CBC binary).
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import functools
import json
import math
import os
import platform
import re
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from itertools import product
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # ``python benchmarks/suite.py`` without an install
    sys.path.insert(0, str(ROOT))

__all__ = [
    "Case", "Variant", "registry", "select", "parse_variants", "run", "run_case", "write_outputs",
    "load_results", "format_table", "evaluate_targets", "england_summary", "plot_scaling", "main",
]

# ---------------------------------------------------------------------------
# constants
# ---------------------------------------------------------------------------
FAMILIES = ("real_ccg2013", "real_lsoa", "real_lsoa_england", "real_area_team", "real_region", "real_england",
            "real_icb2022", "synthetic", "peer_spopt")
CCG_FLOORS = (100_000, 150_000, 200_000, 300_000, 500_000, 1_000_000)
CCG_MODES = ("off", "nested", "aligned", "penalised")
CCG_OBJECTIVES = ("merges", "moved", "noncoterminous", "split_areas")
SYNTH_SIZES = (100, 300, 1000, 3000, 10000)
#: Synthetic floors: 180,000 leaves about a third of the units below it
#: (lognormal median 220k, sigma 0.427: 31.5-34.3% for sizes 100-10,000 at
#: seed 0); 300,000 leaves about three quarters below it.
SYNTH_FLOORS = {"third": 180_000, "high": 300_000}
#: real_lsoa: one HWB's LSOAs regrouped, the 2013 CCGs as baseline.
LSOA_HWBS = {
    "manchester": ("E08000003", "Manchester (small: 282 LSOAs, 3 CCGs, 510k)"),
    "nottinghamshire": ("E10000024", "Nottinghamshire (middle: 497 LSOAs, 6 CCGs, 788k)"),
    "kent": ("E10000016", "Kent (largest: 902 LSOAs, 7 CCGs, 1.48m)"),
}
DEFAULT_TIME_LIMIT = 120.0
#: real_area_team: the 2013 area teams with at most this many CCGs (24 of 25; London has 32).
AREA_TEAM_MAX_CCGS = 12
AREA_MODES = ("off", "nested", "aligned")
#: real_region: the three 2013 commissioning regions of the issue (London is an area team too large for it).
REGIONS = ("E40000001", "E40000002", "E40000004")
#: real_region: the modes each region is solved in
REGION_MODES = ("off", "aligned")
#: Per HWB in real_lsoa_england: 152 HWBs within the 30-minute target.
ENGLAND_TIME_LIMIT = 30.0
DEFAULT_MARGIN = 60.0
DEFAULT_MEMORY_MIB = 16_384
DEFAULT_OUT = ROOT / "benchmarks" / "results"


def _freeze(v):
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(x) for x in v)
    return v


def _kw(**d) -> tuple:
    """Keyword arguments as a sorted tuple of pairs (hashable, serialisable)."""
    return tuple(sorted((k, _freeze(v)) for k, v in d.items()))


def _floor_label(f: int) -> str:
    return f"{f // 1_000_000}m" if f % 1_000_000 == 0 else f"{f // 1000}k"


# ---------------------------------------------------------------------------
# specs
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One benchmark case: how to build the instance, the scenario, the seed.

    ``builder`` names a function of :data:`BUILDERS` and ``builder_kwargs``
    its keyword arguments (pairs), so a case pickles and serialises to JSON.
    ``runner`` is ``"solve"`` (one solve), ``"hwb_attach"`` (nested; if that is
    infeasible, the HWB's pieces below the floor are attached to a
    neighbouring HWB: see :func:`_run_attach`) or ``"spopt"`` (spopt's
    MaxPHeuristic beside ccgmerge, same instance).
    """

    name: str
    family: str
    builder: str
    builder_kwargs: tuple = ()
    scenario: tuple = ()
    seed: int = 0
    time_limit: float = DEFAULT_TIME_LIMIT
    runner: str = "solve"
    runner_kwargs: tuple = ()
    slow: bool = False
    quick: bool = False
    group: str = ""
    description: str = ""

    @property
    def kwargs(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.builder_kwargs}

    @property
    def scenario_kwargs(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.scenario}

    @property
    def options(self) -> dict:
        return dict(self.runner_kwargs)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["builder_kwargs"] = self.kwargs
        d["scenario"] = self.scenario_kwargs
        d["runner_kwargs"] = self.options
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Case":
        d = dict(d)
        d["builder_kwargs"] = _kw(**d.get("builder_kwargs", {}))
        d["scenario"] = _kw(**d.get("scenario", {}))
        d["runner_kwargs"] = _kw(**d.get("runner_kwargs", {}))
        return cls(**d)


@dataclass(frozen=True)
class Variant:
    """How to solve: solver, formulation, decomposition, symmetry breaking, warm start, threads.

    Written ``SOLVER[-FORMULATION][-nodecomp][-nosym][-cold][-tN]``: ``cbc``,
    ``highs-packing``, ``cbc-compact-nodecomp-t2``, ``cbc-compact-nosym-cold``.
    """

    solver: str = "cbc"
    formulation: str = "auto"
    decompose: bool = True
    threads: int = 1
    symmetry: bool = True
    warm_start: bool = True

    @property
    def name(self) -> str:
        s = self.solver + ("" if self.formulation == "auto" else f"-{self.formulation}")
        s += "" if self.decompose else "-nodecomp"
        s += "" if self.symmetry else "-nosym"
        s += "" if self.warm_start else "-cold"
        s += "" if self.threads == 1 else f"-t{self.threads}"
        return s

    @classmethod
    def parse(cls, text: str) -> "Variant":
        parts = [p for p in text.strip().lower().split("-") if p]
        if not parts or parts[0] not in ("cbc", "highs"):
            raise ValueError(f"variant {text!r}: must start with cbc or highs (e.g. cbc, highs-packing, cbc-nodecomp-t2)")
        kw: dict[str, Any] = {"solver": parts[0]}
        for p in parts[1:]:
            if p in ("auto", "packing", "partition", "labelled", "compact"):
                kw["formulation"] = p
            elif p in ("nodecomp", "nodecompose"):
                kw["decompose"] = False
            elif p in ("decomp", "decompose"):
                kw["decompose"] = True
            elif p == "nosym":
                kw["symmetry"] = False
            elif p == "warm":
                kw["warm_start"] = True
            elif p == "cold":
                kw["warm_start"] = False
            elif re.fullmatch(r"t\d+", p):
                kw["threads"] = int(p[1:])
            else:
                raise ValueError(f"variant {text!r}: unknown part {p!r} (formulation auto/packing/partition/labelled/compact, nodecomp, nosym, cold, tN)")
        return cls(**kw)


#: Named variant sets for ``--variants``.
VARIANT_SETS: dict[str, list[str]] = {
    "default": ["cbc"],
    "solvers": ["cbc", "highs"],
    "formulations": ["cbc-auto", "cbc-packing", "cbc-partition", "cbc-labelled", "cbc-compact"],
    "decompose": ["cbc", "cbc-nodecomp"],
    "symmetry": ["cbc-compact", "cbc-compact-nosym"],
    "warmstart": ["cbc", "cbc-cold", "cbc-compact", "cbc-compact-cold"],
    "threads": ["cbc-t1", "cbc-t2", "highs-t1", "highs-t2"],
    "matrix": [Variant(s, f, d, t).name for s, f, d, t in product(
        ("cbc", "highs"), ("auto", "packing", "partition", "labelled", "compact"), (True, False), (1, 2))],
}


def parse_variants(items: list[str] | None) -> list[Variant]:
    """Variant names or set names (:data:`VARIANT_SETS`) -> unique variants, in order."""
    out: list[Variant] = []
    for it in items or ["default"]:
        for name in VARIANT_SETS.get(it, [it]):
            v = Variant.parse(name)
            if v not in out:
                out.append(v)
    return out


# ---------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------
def _nhs_areas() -> list[tuple[str, str, str, int, int]]:
    """(code, name, level, CCGs, HWBs) of the 2013 regions and area teams (empty without the data)."""
    try:
        from ccgmerge.data import list_nhs_areas

        a = list_nhs_areas()
    except Exception:
        return []
    return [(r.code, r.name, r.level, int(r.n_ccg), int(r.n_hwb)) for r in a.itertuples()]


def _hwb_codes() -> list[tuple[str, str, int]]:
    """(code, name, population) of the 152 HWBs, from the data folder (empty if absent)."""
    try:
        from ccgmerge.data import data_dir

        path = data_dir() / "hwb2013_units.csv"
    except Exception:
        return []
    with open(path, newline="") as fh:
        return [(r["hwb_code"], r["hwb_name"], int(r["population"])) for r in csv.DictReader(fh)]


_REGISTRY: dict[str, Case] | None = None


def registry() -> dict[str, Case]:
    """All cases by name (built once)."""
    global _REGISTRY
    if _REGISTRY is not None:
        return _REGISTRY
    cases: list[Case] = []
    # real_ccg2013: 6 floors x 4 modes x 4 objectives
    for obj in CCG_OBJECTIVES:
        for mode in CCG_MODES:
            for f in CCG_FLOORS:
                quick = obj == "merges" and mode in ("off", "aligned") and f in (100_000, 300_000)
                cases.append(Case(
                    name=f"ccg2013-{obj}-{mode}-{_floor_label(f)}", family="real_ccg2013", builder="ccg2013",
                    scenario=_kw(floor=f, coterminosity=mode, objective=obj), quick=quick, time_limit=60.0,
                    description=f"211 CCGs of 2013, floor {f:,}, coterminosity {mode}, objective {obj}"))
    # real_lsoa: one HWB's LSOAs, 2013 CCGs as baseline, moved, 250k
    for key, (code, desc) in LSOA_HWBS.items():
        cases.append(Case(
            name=f"lsoa-{key}-moved-250k", family="real_lsoa", builder="lsoa2013", builder_kwargs=_kw(hwbs=[code]),
            scenario=_kw(floor=250_000, coterminosity="off", objective="moved"),
            time_limit=300.0 if key == "kent" else DEFAULT_TIME_LIMIT,
            description=f"LSOAs of {desc} regrouped; baseline 2013 CCGs; floor 250,000; objective moved"))
    # real_lsoa_england: every HWB on its own at 100k, nested, moved; HWB pieces
    # below the floor attached to a neighbouring HWB when nested is infeasible
    for code, name, pop in _hwb_codes():
        cases.append(Case(
            name=f"england_lsoa_100k/{code}", family="real_lsoa_england", builder="lsoa2013", builder_kwargs=_kw(hwbs=[code]),
            scenario=_kw(floor=100_000, coterminosity="nested", objective="moved"), runner="hwb_attach",
            time_limit=ENGLAND_TIME_LIMIT, slow=True, group="england_lsoa_100k",
            description=f"LSOAs of HWB {code} {name} (pop {pop:,}) at floor 100,000, nested, moved; "
                        "if infeasible, its pieces below the floor attached to a neighbouring HWB"))
    # real_area_team / real_region / real_england: LSOAs of every HWB holding people of a 2013
    # area team's or region's CCGs (or all of England), 250k, moved
    for code, name, level, n_ccg, n_hwb in _nhs_areas():
        if level == "area_team" and n_ccg <= AREA_TEAM_MAX_CCGS:
            for mode in AREA_MODES:
                cases.append(Case(
                    name=f"area-{code}-moved-{mode}-250k", family="real_area_team", builder="lsoa_area",
                    builder_kwargs=_kw(area=code), scenario=_kw(floor=250_000, coterminosity=mode, objective="moved"),
                    time_limit=60.0, group=f"area_team_{mode}",
                    description=f"LSOAs of the {n_hwb} HWBs of area team {name} ({n_ccg} CCGs), floor 250,000, "
                                f"coterminosity {mode}, moved"))
        if level == "region" and code in REGIONS:
            for mode in REGION_MODES:
                cases.append(Case(
                    name=f"region-{code}-moved-{mode}-250k", family="real_region", builder="lsoa_area",
                    builder_kwargs=_kw(area=code), scenario=_kw(floor=250_000, coterminosity=mode, objective="moved"),
                    time_limit=600.0, description=f"LSOAs of the {n_hwb} HWBs of region {name} ({n_ccg} CCGs), "
                                                  f"floor 250,000, coterminosity {mode}, moved"))
    for mode in ("off", "aligned"):
        cases.append(Case(
            name=f"england-lsoa-moved-{mode}-250k", family="real_england", builder="lsoa2013",
            scenario=_kw(floor=250_000, coterminosity=mode, objective="moved"), time_limit=1800.0, slow=True,
            description=f"All 32,844 LSOAs of England, floor 250,000, coterminosity {mode}, moved"))
    # real_icb2022
    for mode in ("off", "aligned"):
        cases.append(Case(
            name=f"icb2022-merges-{mode}-1m", family="real_icb2022", builder="lsoa_units", builder_kwargs=_kw(level="icb22_ons"),
            scenario=_kw(floor=1_000_000, coterminosity=mode, objective="merges"),
            description=f"42 ICBs of 2022 (from LSOAs), floor 1,000,000, coterminosity {mode}, merges"))
    # synthetic
    for n in SYNTH_SIZES:
        for label, f in SYNTH_FLOORS.items():
            cases.append(Case(
                name=f"synthetic-{n}-{_floor_label(f)}", family="synthetic", builder="synthetic",
                builder_kwargs=_kw(n_units=n), scenario=_kw(floor=f, coterminosity="off", objective="merges"), seed=0,
                time_limit=300.0 if n >= 3000 else DEFAULT_TIME_LIMIT,
                quick=(n == 100 and label == "third"), slow=n >= 10000,
                description=f"synthetic CCG-like, {n} units, seed 0, floor {f:,} "
                            f"({'about a third' if label == 'third' else 'about three quarters'} of units below), merges"))
    # peer: spopt MaxPHeuristic on what it can express (off + merges = max-p)
    for f in CCG_FLOORS:
        cases.append(Case(
            name=f"spopt-ccg2013-off-{_floor_label(f)}", family="peer_spopt", builder="ccg2013",
            scenario=_kw(floor=f, coterminosity="off", objective="merges"), seed=0, runner="spopt",
            runner_kwargs=_kw(top_n=2, max_iterations_construction=99, max_iterations_sa=10), time_limit=600.0,
            description=f"spopt MaxPHeuristic vs ccgmerge, 211 CCGs, threshold = floor {f:,}"))
    _REGISTRY = {c.name: c for c in cases}
    return _REGISTRY


def select(names=None, families=None, *, all_cases=False, quick=False, slow=False) -> list[Case]:
    """Cases by exact name, group name or glob (``names``), by family, all
    (``all_cases``; slow ones only with ``slow``) or the quick subset."""
    reg = registry()
    picked: list[Case] = []

    def add(c):
        if c not in picked:
            picked.append(c)

    for n in names or []:
        hits = [c for c in reg.values() if c.name == n or c.group == n or fnmatch.fnmatchcase(c.name, n)]
        if not hits:
            raise SystemExit(f"no case matches {n!r}; see --list")
        for c in hits:
            add(c)
    for fam in families or []:
        if fam not in FAMILIES:
            raise SystemExit(f"unknown family {fam!r}; families: {', '.join(FAMILIES)}")
        for c in reg.values():
            if c.family == fam and (slow or not c.slow or fam == "real_lsoa_england"):
                add(c)
    if all_cases:
        for c in reg.values():
            if slow or not c.slow:
                add(c)
    if quick:
        for c in reg.values():
            if c.quick:
                add(c)
    return picked


# ---------------------------------------------------------------------------
# child side: build, solve, measure
# ---------------------------------------------------------------------------
def _peak_mib(who) -> float:
    """ru_maxrss in MiB. On Linux this survives fork and exec (the kernel keeps
    the pre-exec high-water mark), so it is only a fallback for :func:`_hwm_mib`."""
    import resource

    rss = resource.getrusage(who).ru_maxrss
    return round(rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024, 1)


def _hwm_mib(pid: int | str = "self") -> float | None:
    """VmHWM (peak resident set of this process image, reset at exec) in MiB."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        return None
    return None


class _DescendantPeak:
    """Samples VmHWM of this process's descendants (the CBC binary) every
    ``interval`` seconds in a thread; VmHWM only grows, so the last sample of a
    process is its peak up to ``interval`` before it exits."""

    def __init__(self, interval: float = 0.05):
        import threading

        self.interval = interval
        self.peak: float | None = None
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _children(self, pid: int) -> list[int]:
        out = []
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as fh:
                    out += [int(x) for x in fh.read().split()]
        except OSError:
            pass
        return out

    def _loop(self):
        me = os.getpid()
        while not self._stop.wait(self.interval):
            todo, seen = self._children(me), set()
            while todo:
                p = todo.pop()
                if p in seen:
                    continue
                seen.add(p)
                h = _hwm_mib(p)
                if h is not None:
                    self.seen[p] = max(self.seen.get(p, 0.0), h)
                todo += self._children(p)
            if self.seen:
                self.peak = max(self.seen.values())

    def __enter__(self):
        if os.path.exists("/proc/self/status"):
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=1)


def build_instance(builder: str, kwargs: dict, seed: int = 0):
    """Build an instance from a builder name and keyword arguments."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if builder == "ccg2013":
            from ccgmerge.data import load_ccg2013

            return load_ccg2013(warn=False, **kwargs)
        if builder == "lsoa2013":
            from ccgmerge.data import load_lsoa2013

            return load_lsoa2013(warn=False, **kwargs)
        if builder == "lsoa_area":
            from ccgmerge.data import load_lsoa2013, nhs_area_hwbs

            return load_lsoa2013(hwbs=nhs_area_hwbs(kwargs["area"]), warn=False)
        if builder == "lsoa_units":
            from ccgmerge.data import load_lsoa_units

            return load_lsoa_units(kwargs["level"], warn=False)
        if builder == "synthetic":
            from ccgmerge.data.synthetic import generate

            kw = dict(kwargs)
            n = kw.pop("n_units")
            return generate(n, seed=seed, **kw)
    raise ValueError(f"unknown builder {builder!r}; known: {', '.join(BUILDERS)}")


BUILDERS = ("ccg2013", "lsoa2013", "lsoa_area", "lsoa_units", "synthetic")

_NUM = r"([0-9]+(?:\.[0-9]+)?)"


def _instance_figures(inst, scenario) -> dict:
    pop = inst.population
    return {
        "instance": inst.name,
        "fingerprint": inst.fingerprint,
        "n_units": int(inst.n_units),
        "n_edges": int(len(inst.adjacency)),
        "n_areas": int(inst.n_areas),
        "n_baseline_groups": int(inst.baseline.nunique()),
        "population": int(inst.total_population),
        "floor": int(scenario.floor_population),
        "units_below_floor": int((pop < scenario.floor_population).sum()),
        "share_below_floor": round(float((pop < scenario.floor_population).mean()), 4),
    }


def _plan_figures(plan, solve_wall: float) -> dict:
    subs = [dict(s) for s in plan.subproblems]
    solved = [s for s in subs if "status" in s]
    build = sum(float(s.get("build_seconds") or 0) for s in solved)
    solver = sum(float(s.get("solver_seconds") or 0) for s in solved)
    enum = sum(float(m.group(1)) for s in solved for m in [re.search(r"enumeration " + _NUM + " s", s.get("detail", ""))] if m)
    cands = sum(int(m.group(1)) for s in solved for m in [re.search(r"(\d+) candidates", s.get("detail", ""))] if m)
    cuts = sum(int(m.group(1)) for s in solved for m in [re.search(r"(\d+) separator cuts", s.get("detail", ""))] if m)
    biggest = max(solved, key=lambda s: (s.get("variables") or 0, s.get("n_units") or 0), default={})
    d = {
        "status": plan.status.value,
        "objective": plan.objective,
        "bound": plan.bound,
        "gap": plan.gap,
        "bound_source": plan.bound_source(),
        "bound_detail": "; ".join(s.get("detail", "") for s in solved if s.get("status") != "optimal")[:1000],
        "checked": None if plan.verdict is None else bool(plan.verdict.ok),
        "violations": [] if plan.verdict is None else [str(v) for v in plan.verdict.violations][:20],
        "formulation": plan.formulation,
        "solver_name": plan.solver,
        "solve_wall": round(solve_wall, 4),
        "build_seconds": round(build, 4),
        "solver_seconds": round(solver, 4),
        "other_seconds": round(max(0.0, solve_wall - build - solver), 4),
        "enumeration_seconds": round(enum, 4),
        "candidates": cands,
        "separator_cuts": cuts,
        "variables": sum(int(s.get("variables") or 0) for s in solved),
        "constraints": sum(int(s.get("constraints") or 0) for s in solved),
        "n_blocks": len(solved),
        "largest_block_units": biggest.get("n_units"),
        "largest_block_variables": biggest.get("variables"),
        "block_formulations": sorted({s.get("formulation") for s in solved if s.get("formulation")}),
        "notes": [s["note"] for s in subs if "note" in s],
        "subproblems": subs,
        "infeasibility": None if plan.infeasibility is None else str(plan.infeasibility)[:2000],
        "infeasible_proven_by": None if plan.infeasibility is None else plan.infeasibility.proven_by,
    }
    if plan.groups is not None:
        m = plan.metrics
        d.update(groups=int(m["groups"]), merges=int(m["merges"]), moved=int(m["moved"]),
                 noncoterminous=int(m["noncoterminous"]), split_areas=int(m["split_areas"]),
                 min_group_population=int(m["min_group_population"]))
    else:
        d.update(groups=None, merges=None, moved=None, noncoterminous=None, split_areas=None, min_group_population=None)
    return d


def _solve(inst, scenario, variant: "Variant", time_limit):
    from ccgmerge.engine.solve import solve

    t0 = time.perf_counter()
    plan = solve(inst, scenario, solver=variant.solver, time_limit=time_limit, threads=variant.threads,
                 formulation=variant.formulation, decompose=variant.decompose, symmetry=variant.symmetry,
                 warm_start=variant.warm_start)
    return plan, time.perf_counter() - t0


@functools.lru_cache(maxsize=1)
def _lsoa_hwb_graph():
    """(LSOA -> HWB, LSOA -> adjacent LSOAs) from the data files (read once per process)."""
    import pandas as pd

    from ccgmerge.data import data_dir

    d = data_dir()
    lk = pd.read_csv(d / "lsoa11_ccg13_hwb_lookup.csv.gz", usecols=["lsoa11_code", "hwb_code"], dtype=str)
    e = pd.read_csv(d / "lsoa11_adjacency.csv.gz", usecols=["lsoa11_a", "lsoa11_b"], dtype=str)
    nb: dict[str, set] = {}
    for a, b in zip(e["lsoa11_a"], e["lsoa11_b"]):
        nb.setdefault(a, set()).add(b)
        nb.setdefault(b, set()).add(a)
    return dict(zip(lk["lsoa11_code"], lk["hwb_code"])), nb


def _run_attach(inst, scenario, variant: "Variant", deadline, loader=None) -> dict:
    """Nested mode for an HWB whose connected pieces do not all reach the floor.

    The HWB's pieces that reach the floor are solved in ``nested`` mode as
    they are (sub-solve ``own``). Each piece ``P`` below the floor (a small
    unitary authority, or land cut off by an estuary the adjacency cannot
    cross) must join people of another HWB: for every HWB ``h'`` that ``P``
    touches, ``h'`` is solved alone and with ``P`` attached (``P``'s LSOAs
    counted as ``h'``'s for nesting), both ``nested`` and ``moved``; the
    attachment adding the fewest people moved plus non-coterminous people
    (``P``'s own, as ``penalised`` mode with weight 1 would count them) is
    kept. The attached plan is re-checked on the true HWB membership in
    ``penalised`` mode. Every sub-solve's status, objective, bound and gap
    is recorded; the case's objective and bound add the own and the chosen
    attached sub-solves (a bound for this restricted problem, not for
    ``penalised`` mode on the HWB and all its neighbours, which the compact
    model cannot bound usefully at LSOA scale: on Hartlepool and
    Stockton-on-Tees, 178 LSOAs, HiGHS's bound after 60 s was -36.8m).
    ``loader(hwbs)`` builds the instance of an HWB with a neighbour (default
    ``load_lsoa2013(hwbs=..., warn=False)``; the batch runner passes one that
    reuses the tables it loaded once).
    """
    from ccgmerge.check import check_plan
    from ccgmerge.engine.subsets import connected_pieces
    from ccgmerge.data import load_lsoa2013
    from ccgmerge.metrics import objective_value

    h = str(inst.membership["area"].iloc[0])
    floor = scenario.floor_population
    pop = inst.population
    pieces = connected_pieces(inst.neighbours, range(inst.n_units))
    small = [p for p in pieces if int(pop[p].sum()) < floor]
    own_units = [inst.unit_codes[i] for p in pieces if int(pop[p].sum()) >= floor for i in p]
    hwb_of, lsoa_nb = _lsoa_hwb_graph()
    subs: list[dict] = []

    def left(share: int) -> float | None:
        if deadline is None:
            return None
        return max(1.0, (deadline - time.perf_counter()) / max(1, share))

    def fig(tag, plan, wall, **extra):
        d = {"sub": tag, "status": plan.status.value, "objective": plan.objective, "bound": plan.bound, "gap": plan.gap,
             "checked": None if plan.verdict is None else bool(plan.verdict.ok), "wall": round(wall, 3),
             "n_units": plan.instance.n_units}
        d.update(extra)
        subs.append(d)
        return d

    # the HWBs each piece below the floor touches
    nears = [sorted({hwb_of[c2] for i in p for c2 in lsoa_nb.get(inst.unit_codes[i], ())} - {h}) for p in small]
    todo = 1 + 2 * sum(len(near) for near in nears)
    total_obj, total_bound, statuses, noncot = 0.0, 0.0, [], 0
    if own_units:
        plan, wall = _solve(inst.subset(own_units, warn=False), scenario, variant, left(todo))
        todo -= 1
        d = fig("own", plan, wall)
        statuses.append(d["status"])
        total_obj += plan.objective or 0.0
        total_bound += plan.bound if plan.bound is not None else float("nan")
    for k, (p, near) in enumerate(zip(small, nears)):
        codes = [inst.unit_codes[i] for i in p]
        ppop = int(pop[p].sum())
        best = None
        for h2 in near:
            both = loader([h, h2]) if loader is not None else load_lsoa2013(hwbs=[h, h2], warn=False)
            theirs = sorted(set(both.membership.loc[both.membership["area"] == h2, "unit"]))
            alone_inst = both.subset(theirs, warn=False)
            alone, w1 = _solve(alone_inst, scenario, variant, left(todo))
            todo -= 1
            fig(f"piece{k + 1}:{h2}:alone", alone, w1)
            union = both.subset(theirs + codes, warn=False)
            mem = union.membership.copy()
            mem.loc[mem["unit"].isin(set(codes)), "area"] = h2
            areas = union.areas
            areas.loc[h2, "population"] = int(areas.loc[h2, "population"]) + ppop
            attached_inst = union.with_membership(mem, areas, warn=False)
            att, w2 = _solve(attached_inst, scenario, variant, left(todo))
            todo -= 1
            extra = {}
            if att.groups is not None:
                sc_pen = scenario.replace(coterminosity="penalised")
                groups = [list(g) for g in att.groups]
                verdict = check_plan(union, groups, sc_pen)
                extra = {"penalised_objective": objective_value(union, groups, sc_pen), "penalised_checked": bool(verdict.ok),
                         "piece_population": ppop}
            d = fig(f"piece{k + 1}:{h2}:attached", att, w2, **extra)
            if att.objective is None or alone.objective is None or not extra.get("penalised_checked"):
                continue
            cost = att.objective - alone.objective + ppop
            if best is None or cost < best[0]:
                best = (cost, d, h2)
        if best is None:
            statuses.append("no_solution")
            subs.append({"sub": f"piece{k + 1}", "status": "no_solution", "piece_population": ppop, "touches": near})
            continue
        _, d, h2 = best
        d["chosen"] = True
        statuses.append(d["status"])
        noncot += ppop
        total_obj += d["objective"]
        total_bound += d["bound"] if d["bound"] is not None else float("nan")
    order = ["error", "no_solution", "feasible", "optimal"]
    status = min(statuses, key=lambda s: order.index(s) if s in order else 0) if statuses else "no_solution"
    ok_bound = total_bound == total_bound  # not NaN
    gap = None
    if status in ("optimal", "feasible") and ok_bound:
        gap = 0.0 if total_obj == total_bound else (total_obj - total_bound) / max(1.0, abs(total_obj))
    return {"status": status, "objective": total_obj if status in ("optimal", "feasible") else None,
            "bound": total_bound if ok_bound and status in ("optimal", "feasible") else None, "gap": gap,
            "checked": all(s.get("checked") is not False and s.get("penalised_checked", True) for s in subs
                           if s.get("chosen") or s["sub"] == "own"),
            "attach_noncoterminous": noncot, "attach_subsolves": subs,
            "orphan_pieces": [{"population": int(pop[p].sum()), "units": len(p)} for p in small]}


def _run_spopt(inst, case: Case, scenario) -> dict:
    """spopt's MaxPHeuristic on the same graph and populations; its plan checked by ccgmerge."""
    import random

    import numpy as np

    from ccgmerge.check import check_plan
    from ccgmerge.data import geometry_file

    out: dict[str, Any] = {"peer": "spopt.MaxPHeuristic"}
    try:
        import geopandas as gpd
        import libpysal
        import spopt
        from spopt.region import MaxPHeuristic
    except Exception as exc:  # pragma: no cover - optional dependency
        out.update(peer_status="unavailable", peer_error=f"{type(exc).__name__}: {exc}")
        return out
    out["peer_version"] = f"spopt {spopt.__version__}, libpysal {libpysal.__version__}, geopandas {gpd.__version__}"
    gdf = gpd.read_file(geometry_file("ccg2013_boundaries.geojson"))
    gdf = gdf.set_index("ccg_code").loc[list(inst.unit_codes)].reset_index()
    gdf["population"] = np.asarray(inst.population, dtype=float)
    units = inst.units.loc[list(inst.unit_codes)]
    attrs = ["pop_centroid_x_bng", "pop_centroid_y_bng"]
    for a in attrs:
        gdf[a] = units[a].to_numpy(dtype=float)
    w = libpysal.weights.W({i: list(inst.neighbours[i]) for i in range(inst.n_units)}, silence_warnings=True)
    opts = case.options
    np.random.seed(case.seed)
    random.seed(case.seed)
    t0 = time.perf_counter()
    model = MaxPHeuristic(gdf, w, attrs, "population", float(scenario.floor_population), top_n=int(opts.get("top_n", 2)),
                          max_iterations_construction=int(opts.get("max_iterations_construction", 99)),
                          max_iterations_sa=int(opts.get("max_iterations_sa", 10)), verbose=False)
    model.solve()
    secs = time.perf_counter() - t0
    labels = np.asarray(model.labels_)
    by: dict[Any, list[int]] = {}
    for i, lab in enumerate(labels.tolist()):
        by.setdefault(lab, []).append(i)
    groups = sorted((sorted(g) for g in by.values()), key=lambda g: g[0])
    verdict = check_plan(inst, groups, scenario)
    out.update(peer_status="ok", peer_p=int(model.p), peer_groups=len(groups), peer_seconds=round(secs, 4),
               peer_checked=bool(verdict.ok), peer_violations=[str(v) for v in verdict.violations][:10],
               peer_unlabelled=int(sum(1 for x in labels.tolist() if x in (0, -1, None))))
    return out


def code_version() -> dict:
    """The optimiser code a run used: git HEAD and a hash of every ccgmerge/**/*.py as
    they are on disk (others may be editing them; ``dirty`` says so)."""
    import hashlib

    h = hashlib.sha256()
    for p in sorted((ROOT / "ccgmerge").rglob("*.py")):
        h.update(p.relative_to(ROOT / "ccgmerge").as_posix().encode() + b"\0" + p.read_bytes())
    out = {"ccgmerge_sha256": h.hexdigest()[:16], "git_head": None, "dirty": None}
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        out["git_head"] = head.stdout.strip() or None
        st = subprocess.run(["git", "status", "--porcelain", "--", "ccgmerge"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        out["dirty"] = bool(st.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def _execute_case(case: Case, variant: Variant, time_limit, rec: dict, dump, build=None, loader=None) -> None:
    """Build ``case``'s instance, solve it (and run its runner), adding the figures to ``rec``.

    ``dump()`` checkpoints ``rec``. ``build(builder, kwargs, seed)`` (default
    :func:`build_instance`) and ``loader(hwbs)`` (for :func:`_run_attach`) let
    the batch runner build instances from tables it loaded once."""
    from ccgmerge.scenario import Scenario

    t0 = time.perf_counter()
    inst = (build or build_instance)(case.builder, case.kwargs, case.seed)
    rec["load_seconds"] = round(time.perf_counter() - t0, 3)
    scenario = Scenario(**case.scenario_kwargs)
    rec.update(_instance_figures(inst, scenario))
    dump()
    plan, wall = _solve(inst, scenario, variant, time_limit)
    rec.update(_plan_figures(plan, wall))
    dump()
    if case.runner == "spopt":  # after ccgmerge, so a peer killed at the limit leaves ccgmerge's figures
        rec.update(_run_spopt(inst, case, scenario))
    if case.runner == "hwb_attach":
        rec["stage"] = "nested"
        if plan.status.value == "infeasible":
            rec["nested"] = {k: rec[k] for k in ("status", "infeasibility", "solve_wall")}
            dump()
            deadline = None if time_limit is None else t0 + time_limit
            rec.update(_run_attach(inst, scenario, variant, deadline, loader=loader))
            rec["stage"] = "attached"


def _record_error(rec: dict, exc: BaseException) -> None:
    from ccgmerge.errors import ScenarioError

    if isinstance(exc, ScenarioError) and "formulation=" in str(exc):
        rec.update(status="n/a", error=str(exc))
    else:
        rec.update(status="error", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()[-4000:])


def child_main(spec: dict, out_path: str) -> int:
    """Run one case/variant in this process and write its record to ``out_path``."""
    t_start = time.perf_counter()
    case = Case.from_dict(spec["case"])
    variant = Variant(**spec["variant"])
    time_limit = spec.get("time_limit")
    mem = spec.get("memory_mib")
    if mem:
        import resource

        lim = int(mem) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    rec: dict[str, Any] = {"case": case.name, "variant": variant.name, "code": code_version(),
                           "loadavg_start": round(os.getloadavg()[0], 2)}
    sampler = _DescendantPeak().__enter__()

    def dump():
        """Checkpoint: a run killed later still leaves what it had measured."""
        part = dict(rec, partial=True, peak_mib=_hwm_mib(), peak_children_mib=sampler.peak,
                    child_wall=round(time.perf_counter() - t_start, 3))
        tmp = Path(out_path + ".tmp")
        tmp.write_text(json.dumps(part, indent=1, default=str))
        os.replace(tmp, out_path)

    try:
        from ccgmerge.scenario import Scenario  # noqa: F401

        rec["import_seconds"] = round(time.perf_counter() - t_start, 3)
        _execute_case(case, variant, time_limit, rec, dump)
    except Exception as exc:
        _record_error(rec, exc)
    finally:
        sampler.__exit__()
    rec["peak_mib"] = _hwm_mib() or _peak_mib(__import__("resource").RUSAGE_SELF)
    rec["peak_children_mib"] = sampler.peak
    rec["peak_children_processes"] = len(sampler.seen)
    rec["child_wall"] = round(time.perf_counter() - t_start, 3)
    rec["loadavg_end"] = round(os.getloadavg()[0], 2)
    rec["partial"] = False
    tmp = Path(out_path + ".tmp")
    tmp.write_text(json.dumps(rec, indent=1, default=str))
    os.replace(tmp, out_path)
    return 0


# ---------------------------------------------------------------------------
# parent side
# ---------------------------------------------------------------------------
def _versions() -> dict:
    from importlib import metadata

    v = {"python": platform.python_version(), "platform": platform.platform(), "machine": platform.machine(),
         "cpu_count": os.cpu_count()}
    for dist in ("pulp", "highspy", "numpy", "pandas", "networkx", "scipy", "spopt", "libpysal", "geopandas"):
        try:
            v[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            v[dist] = None
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    v["cpu"] = cpu
    return v


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def run_case(case: Case, variant: Variant, out_dir: str | Path, *, time_limit: float | None = None,
             margin: float = DEFAULT_MARGIN, memory_mib: int | None = DEFAULT_MEMORY_MIB) -> dict:
    """Run one case with one variant in a fresh subprocess; write and return its record."""
    out_dir = Path(out_dir)
    runs = out_dir / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    tl = float(time_limit if time_limit is not None else case.time_limit)
    path = runs / f"{_safe(case.name)}__{variant.name}.json"
    tmp = runs / f".{path.name}.child"
    if tmp.exists():
        tmp.unlink()
    spec = {"case": case.to_dict(), "variant": asdict(variant), "time_limit": tl, "memory_mib": memory_mib}
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [sys.executable, "-m", "benchmarks.suite", "--child", json.dumps(spec), "--child-out", str(tmp)]
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    killed = False
    try:
        _, err = proc.communicate(timeout=tl + margin)
    except subprocess.TimeoutExpired:
        killed = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _, err = proc.communicate()
    wall = time.perf_counter() - t0
    if tmp.exists():
        rec = json.loads(tmp.read_text())
        tmp.unlink()
        if killed and rec.get("partial"):
            what = f"killed after {wall:.0f} s (time limit {tl:.0f} s + margin {margin:.0f} s)"
            if case.runner == "spopt" and rec.get("solve_wall") is not None:
                rec.update(peer_status="killed", peer_error=what)  # ccgmerge finished; the peer did not
            else:
                rec.update(status="killed", error=what + (f"; stage {rec['stage']}" if rec.get("stage") else ""))
    else:
        rec = {"case": case.name, "variant": variant.name,
               "status": "killed" if killed else "error",
               "error": (f"killed after {wall:.0f} s (time limit {tl:.0f} s + margin {margin:.0f} s)" if killed
                         else f"child exited {proc.returncode}: {(err or '')[-2000:]}")}
    rec.update(family=case.family, case_spec=case.to_dict(), variant_spec=asdict(variant), time_limit=tl,
               process_wall=round(wall, 3), returncode=proc.returncode, killed=killed, started=started,
               runner_mode="isolated")
    if not killed and rec.get("status") == "error" and err:
        rec.setdefault("stderr_tail", err[-2000:])
    rec["versions"] = _VERSIONS_CACHE.setdefault("v", _versions())
    path.write_text(json.dumps(rec, indent=1, default=str))
    return rec


_VERSIONS_CACHE: dict = {}


def run(cases: list[Case], variants: list[Variant], out_dir: str | Path = DEFAULT_OUT, *, time_limit: float | None = None,
        margin: float = DEFAULT_MARGIN, memory_mib: int | None = DEFAULT_MEMORY_MIB, resume: bool = False,
        quiet: bool = False, write: bool = True, isolate: bool = False) -> list[dict]:
    """Run every case with every variant (sequentially: 2 cores, honest timings).

    Peer cases run with the first variant only. Cases of a group
    (``england_lsoa_100k``) run together in one child process per variant
    (:func:`benchmarks.batch.run_batch`: imports and tables loaded once, each
    case with its own limit and record) unless ``isolate``; every other case,
    and every case with ``isolate``, runs in a fresh subprocess. Returns the
    records and, with ``write``, writes the CSV, the table, the targets and
    the scaling plot for every record in ``out_dir`` (earlier runs there included).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = []
    todo = [(c, v) for c in cases for v in (variants[:1] if c.runner == "spopt" else variants)]
    t_all = time.perf_counter()
    pending = []
    for k, (c, v) in enumerate(todo, 1):
        path = out_dir / "runs" / f"{_safe(c.name)}__{v.name}.json"
        if resume and path.exists():
            rec = json.loads(path.read_text())
            if rec.get("status") not in ("error", "killed"):
                records.append(rec)
                if not quiet:
                    print(f"[{k}/{len(todo)}] {c.name} {v.name}: kept earlier result ({rec.get('status')})", flush=True)
                continue
        pending.append((k, c, v))
    batches: dict[tuple, list] = {}
    if not isolate:
        for k, c, v in pending:
            if c.group and c.runner != "spopt":
                batches.setdefault((c.group, v), []).append((k, c))
        batches = {key: items for key, items in batches.items() if len(items) > 1}
    done_batches = set()
    for k, c, v in pending:
        key = (c.group, v)
        if key in batches:
            if key in done_batches:
                continue
            done_batches.add(key)
            from benchmarks.batch import run_batch

            items = batches[key]
            count = iter([kk for kk, _ in items])

            def show(rec):
                if not quiet:
                    print(f"[{next(count)}/{len(todo)}] {_progress_line(rec)}", flush=True)

            if not quiet:
                print(f"{c.group} {v.name}: {len(items)} cases in one batch process (--isolate: one process each)", flush=True)
            recs = run_batch([cc for _, cc in items], v, out_dir, time_limit=time_limit, margin=margin,
                             memory_mib=memory_mib, on_record=show)
            records.extend(recs)
            if not quiet:
                b = recs[0].get("batch") or {}
                print(f"{c.group} {v.name}: {len(recs)} cases, batch process {b.get('wall_seconds', 0):.1f} s, "
                      f"whole group {b.get('group_wall_seconds', 0):.1f} s" + (f"; {b['died']}" if b.get("died") else ""),
                      flush=True)
            continue
        rec = run_case(c, v, out_dir, time_limit=time_limit, margin=margin, memory_mib=memory_mib)
        records.append(rec)
        if not quiet:
            print(f"[{k}/{len(todo)}] {_progress_line(rec)}", flush=True)
    if not quiet:
        print(f"{len(todo)} runs in {time.perf_counter() - t_all:.1f} s", flush=True)
    if write:
        write_outputs(out_dir, quiet=quiet)
    return records


def _progress_line(r: dict) -> str:
    s = f"{r['case']} {r['variant']}: {r.get('status')}"
    if r.get("objective") is not None:
        s += f" obj {_num(r['objective'])} bound {_num(r.get('bound'))}"
    if r.get("solve_wall") is not None:
        s += f" solve {r['solve_wall']:.2f} s"
    s += f" (process {r.get('process_wall', 0):.1f} s, {r.get('peak_mib', '?')} MiB)"
    if r.get("peer_p") is not None:
        s += f"; spopt p={r['peer_p']} in {r['peer_seconds']:.2f} s vs ccgmerge {r.get('groups')}"
    if r.get("error"):
        s += f" -- {r['error'][:200]}"
    return s


# ---------------------------------------------------------------------------
# outputs
# ---------------------------------------------------------------------------
CSV_COLUMNS = [
    "case", "family", "variant", "status", "checked", "objective", "bound", "gap", "groups", "merges", "moved",
    "n_units", "n_edges", "floor", "units_below_floor", "share_below_floor", "build_seconds", "solver_seconds",
    "other_seconds", "enumeration_seconds", "solve_wall", "load_seconds", "process_wall", "peak_mib",
    "peak_children_mib", "variables", "constraints", "n_blocks", "largest_block_units", "largest_block_variables",
    "candidates", "separator_cuts", "formulation", "solver_name", "time_limit", "killed", "stage", "runner_mode",
    "peer_p", "peer_seconds", "peer_checked", "seed", "ccgmerge_sha256", "git_head", "loadavg_start", "loadavg_end", "error",
    "bound_source", "bound_detail",
]


def load_results(out_dir: str | Path) -> list[dict]:
    """Every run record under ``out_dir/runs``, sorted by family then registry order."""
    order = {n: k for k, n in enumerate(registry())}
    fam = {f: k for k, f in enumerate(FAMILIES)}
    recs = []
    for p in sorted((Path(out_dir) / "runs").glob("*.json")):
        try:
            recs.append(json.loads(p.read_text()))
        except json.JSONDecodeError:
            continue
    vorder = {v: k for k, v in enumerate(VARIANT_SETS["matrix"])}
    recs.sort(key=lambda r: (fam.get(r.get("family"), 99), order.get(r["case"], 10**6), r["case"], vorder.get(r["variant"], 999), r["variant"]))
    return recs


def _num(x, digits=4) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "NO"
    if isinstance(x, float):
        if math.isnan(x):
            return "-"
        if x.is_integer():
            return f"{int(x):,}"
        return f"{x:.{digits}g}" if abs(x) < 1000 else f"{x:,.0f}"
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


def _gap(x) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def _secs(x) -> str:
    return "-" if x is None else f"{x:.2f}"


TABLE_COLUMNS = [
    ("case", lambda r: r["case"]), ("variant", lambda r: r["variant"]), ("status", lambda r: r.get("status", "?")),
    ("chk", lambda r: "-" if r.get("checked") is None else ("ok" if r["checked"] else "FAIL")),
    ("objective", lambda r: _num(r.get("objective"))), ("bound", lambda r: _num(r.get("bound"))),
    ("gap", lambda r: _gap(r.get("gap"))), ("groups", lambda r: _num(r.get("groups"))),
    ("build_s", lambda r: _secs(r.get("build_seconds"))), ("solver_s", lambda r: _secs(r.get("solver_seconds"))),
    ("solve_s", lambda r: _secs(r.get("solve_wall"))), ("proc_s", lambda r: _secs(r.get("process_wall"))),
    ("MiB", lambda r: _num(r.get("peak_mib"))), ("cbcMiB", lambda r: _num(r.get("peak_children_mib"))),
    ("vars", lambda r: _num(r.get("variables"))), ("cons", lambda r: _num(r.get("constraints"))),
    ("formulation", lambda r: r.get("formulation") or "-"),
    ("load", lambda r: "-" if r.get("loadavg_end") is None else f"{max(r.get('loadavg_start') or 0, r['loadavg_end']):.1f}"),
]


def format_table(records: list[dict], columns=None) -> str:
    """A fixed-width text table of ``records``."""
    columns = columns or TABLE_COLUMNS
    rows = [[h for h, _ in columns]] + [[str(f(r)) for _, f in columns] for r in records]
    widths = [max(len(row[k]) for row in rows) for k in range(len(columns))]
    right = {k for k, (h, _) in enumerate(columns) if h not in ("case", "variant", "status", "formulation", "chk")}
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join(c.rjust(widths[k]) if k in right else c.ljust(widths[k]) for k, c in enumerate(row)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_peer_table(records: list[dict]) -> str:
    cols = [
        ("case", lambda r: r["case"]), ("floor", lambda r: _num(r.get("floor"))),
        ("spopt_p", lambda r: _num(r.get("peer_p"))), ("spopt_s", lambda r: _secs(r.get("peer_seconds"))),
        ("spopt_chk", lambda r: "-" if r.get("peer_checked") is None else ("ok" if r["peer_checked"] else "FAIL")),
        ("ccgmerge_groups", lambda r: _num(r.get("groups"))), ("status", lambda r: r.get("status", "?")),
        ("bound_groups", lambda r: _num(None if r.get("bound") is None or r.get("n_baseline_groups") is None
                                        else r["n_baseline_groups"] - math.ceil(r["bound"] - 1e-6))),
        ("ccgmerge_s", lambda r: _secs(r.get("solve_wall"))), ("variant", lambda r: r["variant"]),
        ("extra_groups", lambda r: _num(None if r.get("peer_p") is None or r.get("groups") is None else r["groups"] - r["peer_p"])),
    ]
    return format_table(records, cols)


def _targets_for(r: dict) -> list[tuple[str, bool, str]]:
    out = []
    st = r.get("status")
    wall = r.get("solve_wall")
    fam = r.get("family")
    spec = r.get("case_spec", {})
    sc = spec.get("scenario", {})
    if fam == "real_ccg2013" and r.get("variant", "").startswith("cbc") and (sc.get("floor") or 0) <= 500_000:
        ok = st in ("optimal", "infeasible") and wall is not None and wall < 2.0 and (st == "infeasible" or r.get("checked"))
        out.append(("real CCG <=500k proven optimal < 2 s (CBC)", ok, f"{st}, {_secs(wall)} s"))
    if fam == "peer_spopt" and r.get("peer_p") is not None:
        ok = r.get("groups") is not None and r["groups"] >= r["peer_p"]
        out.append(("never fewer groups than spopt", ok, f"ccgmerge {r.get('groups')} ({st}) vs spopt {r['peer_p']}"))
    if r["case"] == "lsoa-kent-moved-250k":
        ok = st == "optimal" and wall is not None and wall < 60 and bool(r.get("checked"))
        out.append(("Kent moved 250k proven optimal < 60 s", ok, f"{st}, {_secs(wall)} s, gap {_gap(r.get('gap'))}"))
    if r["case"] == "synthetic-1000-180k":
        ok = bool(r.get("checked")) and wall is not None and wall <= 60
        out.append(("synthetic 1000 (1/3 below) checked plan <= 60 s", ok, f"{st}, {_secs(wall)} s, gap {_gap(r.get('gap'))}"))
    return out


def _group_wall(rs: list[dict]) -> tuple[float, dict]:
    """Wall clock of the runs ``rs``: each batch's whole wall as its parent saw
    it (batch process and any isolated reruns), plus the process wall of
    every isolated run outside a batch. Returns (seconds, runs by mode)."""
    batches: dict[str, float] = {}
    wall, modes = 0.0, {}
    for r in rs:
        b = r.get("batch") or {}
        mode = "batch" if b.get("id") and not b.get("fallback") else (r.get("runner_mode") or "isolated")
        modes[mode] = modes.get(mode, 0) + 1
        if b.get("id"):
            batches[b["id"]] = float(b.get("group_wall_seconds") or b.get("wall_seconds") or 0)
        else:
            wall += r.get("process_wall") or 0
    return wall + sum(batches.values()), modes


def england_summary(records: list[dict]) -> dict | None:
    """The real_lsoa_england runs of one variant taken together: HWBs run,
    total wall (``wall_seconds``: the batch process's wall clock as the parent
    saw it, reruns included; for isolated runs, their process walls summed),
    statuses, HWBs proven (optimal or infeasible), the HWBs not proven
    optimal with their gaps, and the HWBs whose pieces were attached."""
    rs = [r for r in records if r.get("family") == "real_lsoa_england"]
    if not rs:
        return None
    by_status: dict[str, int] = {}
    for r in rs:
        by_status[r.get("status")] = by_status.get(r.get("status"), 0) + 1
    open_ = sorted(((r["case"].split("/")[-1], r.get("status"), r.get("gap"), r.get("objective"), r.get("bound"))
                    for r in rs if r.get("status") != "optimal"), key=lambda t: -(t[2] or 0))
    attached = [r["case"].split("/")[-1] for r in rs if r.get("stage") == "attached"]
    wall, modes = _group_wall(rs)
    return {"hwbs": len(rs), "expected": len(_hwb_codes()), "wall_seconds": round(wall, 1),
            "process_wall_sum": round(sum(r.get("process_wall") or 0 for r in rs), 1), "runner": modes,
            "proven": sum(1 for r in rs if r.get("status") in ("optimal", "infeasible")),
            "import_seconds": round(sum(r.get("import_seconds") or 0 for r in rs), 1),
            "load_seconds": round(sum(r.get("load_seconds") or 0 for r in rs), 1),
            "solve_seconds": round(sum(r.get("solve_wall") or 0 for r in rs), 1),
            "attach_seconds": round(sum(s.get("wall") or 0 for r in rs for s in r.get("attach_subsolves") or []), 1),
            "by_status": by_status, "gap_reported": sum(1 for r in rs if r.get("gap") is not None),
            "not_optimal": open_, "attached": attached,
            "load_max": max((max(r.get("loadavg_start") or 0, r.get("loadavg_end") or 0) for r in rs), default=None)}


def format_england(summary: dict) -> str:
    runner = ", ".join(f"{n} {m}" for m, n in sorted((summary.get("runner") or {}).items()))
    lines = [f"{summary['hwbs']} of {summary['expected']} HWBs in {summary['wall_seconds']:,.1f} s wall ({runner}; "
             f"max load {summary['load_max']}); {summary.get('proven', '?')} proven; statuses {summary['by_status']}; "
             f"gap reported for {summary['gap_reported']}",
             f"time: imports {summary.get('import_seconds', 0):.1f} s, loading {summary.get('load_seconds', 0):.1f} s, "
             f"solves {summary.get('solve_seconds', 0):.1f} s, attach sub-solves {summary.get('attach_seconds', 0):.1f} s; "
             f"process walls summed {summary.get('process_wall_sum', 0):.1f} s",
             f"HWBs with pieces below the floor, attached to a neighbour: {', '.join(summary['attached']) or 'none'}"]
    for code, st, gap, obj, bound in summary["not_optimal"]:
        lines.append(f"  {code}: {st}, moved {_num(obj)}, bound {_num(bound)}, gap {_gap(gap)}")
    return "\n".join(lines)


def evaluate_targets(records: list[dict]) -> list[dict]:
    """The issue's targets, judged on whichever runs are present."""
    rows = [{"target": t, "case": r["case"], "variant": r["variant"], "met": ok, "detail": d}
            for r in records for t, ok, d in _targets_for(r)]
    for var in sorted({r["variant"] for r in records if r.get("family") == "real_lsoa_england"}):
        e = england_summary([r for r in records if r["variant"] == var])
        ok = e["hwbs"] == e["expected"] and e["wall_seconds"] < 1800 and e["gap_reported"] == e["hwbs"]
        rows.append({"target": "England LSOAs 100k HWB by HWB < 30 min, every gap reported", "case": "england_lsoa_100k",
                     "variant": var, "met": ok,
                     "detail": f"{e['hwbs']}/{e['expected']} HWBs, {e['wall_seconds']:,.0f} s, gap reported for {e['gap_reported']}"})
        ok = e["hwbs"] == e["expected"] and e["wall_seconds"] < 120 and e["proven"] == e["hwbs"]
        rows.append({"target": "England LSOAs 100k HWB by HWB < 2 min, every HWB proven (issue 14)",
                     "case": "england_lsoa_100k", "variant": var, "met": ok,
                     "detail": f"{e['proven']}/{e['expected']} HWBs proven, {e['wall_seconds']:,.1f} s wall "
                               f"({', '.join(f'{n} {m}' for m, n in sorted(e['runner'].items()))})"})
    return rows


def format_targets(rows: list[dict]) -> str:
    if not rows:
        return "(no run bears on a target)"
    cols = [("target", lambda t: t["target"]), ("case", lambda t: t["case"]), ("variant", lambda t: t["variant"]),
            ("met", lambda t: "yes" if t["met"] else "NO"), ("detail", lambda t: t["detail"])]
    return format_table(rows, cols)


def plot_scaling(records: list[dict], path: str | Path) -> Path | None:
    """Solve time and peak memory against number of units for the synthetic family."""
    syn = [r for r in records if r.get("family") == "synthetic" and r.get("n_units")]
    if not syn:
        return None
    try:
        import matplotlib
    except ImportError:  # pip install 'ccgmerge[bench]'
        print("matplotlib is not installed: no scaling plot", file=sys.stderr)
        return None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5))
    series: dict[tuple, list[dict]] = {}
    for r in syn:
        series.setdefault((r.get("floor"), r["variant"]), []).append(r)
    markers = {"optimal": "o", "feasible": "s", "no_solution": "x", "killed": "X", "error": "X", "infeasible": "d"}
    for (floor, var), rs in sorted(series.items(), key=lambda kv: (kv[0][0] or 0, kv[0][1])):
        rs = sorted(rs, key=lambda r: r["n_units"])
        xs = [r["n_units"] for r in rs]
        ys = [r.get("solve_wall") if r.get("solve_wall") is not None else r.get("process_wall") for r in rs]
        label = f"floor {_floor_label(int(floor))} {var}" if floor else var
        line, = ax1.plot(xs, ys, "-", alpha=0.7, label=label)
        for x, y, r in zip(xs, ys, rs):
            st = r.get("status")
            ax1.plot([x], [y], markers.get(st, "o"), color=line.get_color(),
                     mfc=line.get_color() if st == "optimal" else "none", ms=8)
            if st in ("feasible",) and r.get("gap") is not None:
                ax1.annotate(f"gap {r['gap']:.2%} ({_num(r.get('objective'))} vs bound {_num(r.get('bound'))})", (x, y),
                             textcoords="offset points", xytext=(-150, -14), fontsize=7)
            if st in ("killed", "no_solution", "error"):
                ax1.annotate(st, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax2.plot(xs, [r.get("peak_mib") for r in rs], "o-", color=line.get_color(), label=f"{label}: Python process")
        cbc = [(x, r.get("peak_children_mib")) for x, r in zip(xs, rs) if r.get("peak_children_mib")]
        if cbc:
            ax2.plot([c[0] for c in cbc], [c[1] for c in cbc], "^--", color=line.get_color(), alpha=0.7,
                     label=f"{label}: CBC binary")
    limits = sorted({r.get("time_limit") for r in syn if r.get("time_limit")})
    for tl in limits:
        ax1.axhline(tl, color="grey", ls=":", lw=1)
        ax1.annotate(f"time limit {tl:.0f} s", (min(r["n_units"] for r in syn), tl), fontsize=7, color="grey",
                     textcoords="offset points", xytext=(0, 3))
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_xlabel("number of units (synthetic, CCG-like populations, seed 0)")
        ax.grid(True, which="both", alpha=0.3)
    ax1.set_yscale("log")
    ax1.set_ylabel("solve wall time (s): build + solver + checks")
    ax1.set_title("Solve time vs size (filled = proven optimal, hollow square = gap, x = no plan)")
    ax2.set_ylabel("peak resident memory, VmHWM (MiB)")
    ax2.set_yscale("log")
    ax2.legend(fontsize=7)
    ax2.set_title("Peak memory vs size")
    ax1.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_outputs(out_dir: str | Path, *, quiet: bool = False) -> dict:
    """results.csv, results.txt (tables + targets), summary.json and scaling.png from the JSONs in ``out_dir``."""
    out_dir = Path(out_dir)
    recs = load_results(out_dir)
    with open(out_dir / "results.csv", "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        wr.writeheader()
        for r in recs:
            row = {k: r.get(k) for k in CSV_COLUMNS}
            row["seed"] = r.get("case_spec", {}).get("seed")
            row["ccgmerge_sha256"] = (r.get("code") or {}).get("ccgmerge_sha256")
            row["git_head"] = (r.get("code") or {}).get("git_head")
            wr.writerow(row)
    parts = []
    for fam in FAMILIES + ("other",):
        rs = [r for r in recs if (r.get("family") if r.get("family") in FAMILIES else "other") == fam]
        if not rs:
            continue
        parts.append(f"== {fam} ({len(rs)} runs) ==\n{format_table(rs)}")
        if fam == "real_lsoa_england":
            for var in sorted({r["variant"] for r in rs}):
                parts.append(f"== england_lsoa_100k summary ({var}) ==\n"
                             + format_england(england_summary([r for r in rs if r["variant"] == var])))
        if fam == "peer_spopt":
            parts.append(f"== peer: spopt MaxPHeuristic vs ccgmerge (same instance, same machine) ==\n{format_peer_table(rs)}")
    targets = evaluate_targets(recs)
    parts.append("== targets ==\n" + format_targets(targets))
    codes: dict[str, int] = {}
    for r in recs:
        c = r.get("code") or {}
        key = f"{c.get('ccgmerge_sha256', '?')} (git {c.get('git_head', '?')}{', dirty' if c.get('dirty') else ''})"
        codes[key] = codes.get(key, 0) + 1
    loads = [max(r.get("loadavg_start") or 0, r.get("loadavg_end") or 0) for r in recs if r.get("loadavg_end") is not None]
    parts.append("== provenance ==\nccgmerge code (sha256 of ccgmerge/**/*.py): " + "; ".join(f"{k}: {n} runs" for k, n in codes.items())
                 + (f"\n1-minute load average during runs: median {sorted(loads)[len(loads) // 2]:.1f}, max {max(loads):.1f} "
                    f"on {os.cpu_count()} cores (a load above 1 means other work shared the machine)" if loads else ""))
    text = "\n\n".join(parts)
    (out_dir / "results.txt").write_text(text + "\n")
    png = plot_scaling(recs, out_dir / "scaling.png")
    summary = {"versions": _versions(), "n_runs": len(recs), "targets": targets,
               "scaling_png": None if png is None else str(png), "written": time.strftime("%Y-%m-%dT%H:%M:%S")}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    if not quiet:
        print(text)
        print(f"\nwrote {out_dir / 'results.csv'}, {out_dir / 'results.txt'}, {out_dir / 'summary.json'}"
              + (f", {png}" if png else "") + f" and {len(recs)} JSON files under {out_dir / 'runs'}")
    return {"records": recs, "targets": targets, "png": png}


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.suite", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="variant sets: " + "; ".join(f"{k} = {' '.join(v) if k != 'matrix' else '(all 32 combinations)'}"
                                                                     for k, v in VARIANT_SETS.items()))
    ap.add_argument("--case", action="append", default=[], metavar="NAME",
                    help="a case name, a group (england_lsoa_100k) or a glob (ccg2013-merges-*); repeatable")
    ap.add_argument("--family", action="append", default=[], metavar="NAME", help=f"one of {', '.join(FAMILIES)}; repeatable")
    ap.add_argument("--all", action="store_true", help="every case except the slow ones (add --slow for those)")
    ap.add_argument("--slow", action="store_true", help="with --all/--family: include cases marked slow")
    ap.add_argument("--quick", action="store_true", help="the CI subset (< 5 minutes)")
    ap.add_argument("--variants", nargs="+", default=None, metavar="V",
                    help="variants (cbc, highs-packing, cbc-nodecomp-t2, ...) or sets (default, solvers, formulations, decompose, symmetry, warmstart, threads, matrix)")
    ap.add_argument("--time-limit", type=float, default=None, metavar="SECONDS", help="per case (default: the case's own, mostly 120 s)")
    ap.add_argument("--margin", type=float, default=DEFAULT_MARGIN, help="seconds past the time limit before the run is killed")
    ap.add_argument("--memory-mib", type=int, default=DEFAULT_MEMORY_MIB, help="address-space limit per run (0: none)")
    ap.add_argument("--out", default=str(DEFAULT_OUT), metavar="DIR", help="results directory (default benchmarks/results)")
    ap.add_argument("--resume", action="store_true", help="keep earlier results found in --out (not errors or kills)")
    ap.add_argument("--isolate", action="store_true",
                    help="run every case in its own subprocess (default: the cases of a group, england_lsoa_100k, share one)")
    ap.add_argument("--list", action="store_true", help="list the selected cases (or all) and exit")
    ap.add_argument("--report", metavar="DIR", default=None, help="print tables, targets and the plot from the JSONs in DIR")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-out", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--batch-child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child is not None:
        return child_main(json.loads(a.child), a.child_out)
    if a.batch_child is not None:
        from benchmarks.batch import batch_child_main

        return batch_child_main(a.batch_child, a.child_out)
    if a.report:
        write_outputs(a.report)
        return 0
    cases = select(a.case, a.family, all_cases=a.all, quick=a.quick, slow=a.slow)
    if a.list:
        for c in cases or list(registry().values()):
            flags = ",".join(f for f, on in (("quick", c.quick), ("slow", c.slow)) if on)
            print(f"{c.family:18} {c.name:34} {flags:10} tl={c.time_limit:g}s  {c.description}")
        return 0
    if not cases:
        ap.error("choose cases: --case, --family, --all or --quick (see --list)")
    variants = parse_variants(a.variants)
    recs = run(cases, variants, a.out, time_limit=a.time_limit, margin=a.margin, memory_mib=a.memory_mib or None,
               resume=a.resume, isolate=a.isolate)
    bad = [r for r in recs if r.get("checked") is False or r.get("status") in ("error",)]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
