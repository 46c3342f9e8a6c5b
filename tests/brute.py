"""Brute-force reference optimiser for tiny instances (n <= 8 units).

Enumerates every set partition of the units (restricted-growth strings; the
Bell numbers 1, 1, 2, 5, 15, 52, 203, 877, 4140), keeps those the
solver-free checker :func:`ccgmerge.check.check_plan` accepts (it applies
every rule: partition, contiguity, floor, ceiling/max_units, nested, aligned,
locks), and scores each with the library's own solver-free metrics
(:func:`ccgmerge.metrics.objective_value`, fed with the partition's metrics).

Metrics: :func:`ccgmerge.metrics.plan_metrics` costs a few milliseconds (pandas),
too slow for thousands of partitions, so brute force computes the five
objective terms with a small pure-Python re-implementation of the
definitions (:func:`fast_metrics`; "moved" by an exact maximum-weight
assignment of groups to baseline groups) and passes them to
``objective_value``. Every brute-force optimum is then re-scored with
``plan_metrics`` itself and the two must agree (an AssertionError names the
partition otherwise), so the reference never silently departs from the
library's definitions.

Two scores are kept per feasible partition:

* ``value``: :func:`ccgmerge.metrics.objective_value` (what ``Plan.objective``
  reports);
* ``stages``: the tuple the optimiser minimises lexicographically, one entry
  per stage: a single weighted stage, or one stage per term of a
  lexicographic objective; in ``penalised`` mode ``penalty_weight *
  noncoterminous`` is added to the first stage (the Scenario docstring: "each
  person living outside their group's main HWB adds penalty_weight to the
  objective"; cf. ``ccgmerge.engine.formulations.base.objective_stages``).

To save time, only partitions whose groups are all connected (when contiguity
is on) and all reach the floor are passed to the checker: both are necessary
conditions the checker applies itself (``groups_connected``, ``floor_met``);
the connectivity prefilter is asserted equal to
:func:`ccgmerge.rules.is_connected_set` and a sample of the partitions the
floor prefilter drops is confirmed rejected by the checker. Metrics are cached per instance fingerprint and partition, so running
many scenarios on one instance is cheap.

>>> [len(set_partitions(n)) for n in range(9)]
[1, 1, 2, 5, 15, 52, 203, 877, 4140]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.optimize import linear_sum_assignment

from ccgmerge.check import check_plan
from ccgmerge.instance import Instance
from ccgmerge.metrics import objective_value, plan_metrics
from ccgmerge.rules import is_connected_set
from ccgmerge.scenario import Coterminosity, Objective, Scenario

__all__ = [
    "BELL",
    "MAX_UNITS",
    "TOL",
    "set_partitions",
    "stage_values",
    "lex_min",
    "BruteResult",
    "brute_force",
    "brute_optimum",
    "metrics_of",
    "fast_metrics",
]

TERMS = ("groups", "merges", "moved", "noncoterminous", "split_areas")

BELL = (1, 1, 2, 5, 15, 52, 203, 877, 4140)
MAX_UNITS = 8
TOL = 1e-6

Partition = tuple[tuple[int, ...], ...]


@lru_cache(maxsize=None)
def set_partitions(n: int) -> tuple[Partition, ...]:
    """All set partitions of ``range(n)`` as tuples of sorted groups, groups
    ordered by their first member (restricted-growth strings)."""
    if not 0 <= n <= MAX_UNITS:
        raise ValueError(f"brute force handles 0..{MAX_UNITS} units, got {n}")
    out: list[Partition] = []
    a = [0] * n

    def rec(i: int, m: int) -> None:  # m = largest label used so far
        if i == n:
            groups: list[list[int]] = [[] for _ in range(m + 1)]
            for u, lab in enumerate(a):
                groups[lab].append(u)
            out.append(tuple(tuple(g) for g in groups))
            return
        for lab in range(m + 2):
            a[i] = lab
            rec(i + 1, max(m, lab))

    if n == 0:
        return ((),)
    a[0] = 0
    rec(1, 0)
    return tuple(out)


# ---------------------------------------------------------------- caches
_CONNECTED: dict[str, tuple[Partition, ...]] = {}
_METRICS: dict[tuple[str, float], dict[Partition, dict]] = {}
_CACHE_INSTANCES = 64


def _trim(cache: dict) -> None:
    while len(cache) > _CACHE_INSTANCES:
        cache.pop(next(iter(cache)))


@lru_cache(maxsize=None)
def _partition_masks(n: int) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(sum(1 << i for i in g) for g in p) for p in set_partitions(n))


def _connected_masks(inst: Instance) -> list[bool]:
    """conn[mask]: the units of ``mask`` induce a connected subgraph."""
    n = inst.n_units
    nbm = [sum(1 << j for j in inst.neighbours[i]) for i in range(n)]
    conn = [False] * (1 << n)
    for mask in range(1, 1 << n):
        start = mask & -mask
        seen = start
        frontier = start
        while frontier:
            low = frontier & -frontier
            frontier ^= low
            new = nbm[low.bit_length() - 1] & mask & ~seen
            seen |= new
            frontier |= new
        conn[mask] = seen == mask
    return conn


def _connected_partitions(inst: Instance) -> tuple[Partition, ...]:
    """The partitions whose groups are all connected (same rule as
    :func:`ccgmerge.rules.is_connected_set`, on bitmasks; checked against it
    for every partition kept)."""
    key = inst.fingerprint
    if key not in _CONNECTED:
        conn = _connected_masks(inst)
        keep = tuple(p for p, masks in zip(set_partitions(inst.n_units), _partition_masks(inst.n_units))
                     if all(conn[m] for m in masks))
        assert all(is_connected_set(inst, g) for p in keep for g in p)
        _CONNECTED[key] = keep
        _trim(_CONNECTED)
    return _CONNECTED[key]


def metrics_of(inst: Instance, groups, scenario: Scenario | None = None) -> dict:
    """:func:`plan_metrics` of a partition, cached (groups normalised)."""
    p: Partition = tuple(sorted((tuple(sorted(int(i) for i in g)) for g in groups), key=lambda g: g[0]))
    thr = scenario.coterminous_threshold if scenario is not None else 0.99
    key = (inst.fingerprint, thr)
    cache = _METRICS.setdefault(key, {})
    _trim(_METRICS)
    if p not in cache:
        cache[p] = plan_metrics(inst, [list(g) for g in p], scenario)
    return cache[p]


@dataclass(frozen=True)
class _Facts:
    pop: tuple[int, ...]
    rows: tuple[tuple[tuple[int, int], ...], ...]  # unit -> ((area, people), ...)
    base: tuple[int, ...]  # unit -> baseline group id
    n_base: int
    n_areas: int


_FACTS: dict[str, _Facts] = {}


def _facts(inst: Instance) -> _Facts:
    key = inst.fingerprint
    if key not in _FACTS:
        aidx = {a: k for k, a in enumerate(inst.area_codes)}
        rows: list[list[tuple[int, int]]] = [[] for _ in range(inst.n_units)]
        m = inst.membership
        for u, a, p in zip(m["unit"], m["area"], m["population"]):
            rows[inst.index[str(u)]].append((aidx[str(a)], int(p)))
        labels = {b: k for k, b in enumerate(sorted(set(inst.baseline)))}
        _FACTS[key] = _Facts(
            pop=tuple(int(p) for p in inst.population),
            rows=tuple(tuple(r) for r in rows),
            base=tuple(labels[b] for b in inst.baseline),
            n_base=len(labels),
            n_areas=inst.n_areas,
        )
        _trim(_FACTS)
    return _FACTS[key]


def fast_metrics(inst: Instance, groups) -> dict:
    """groups, merges, moved, noncoterminous and split_areas of a partition,
    straight from the definitions in :mod:`ccgmerge.plan` (no pandas)."""
    f = _facts(inst)
    noncot = 0
    touched: list[set[int]] = [set() for _ in range(f.n_areas)]
    weight = np.zeros((len(groups), f.n_base), dtype=np.int64)
    for k, g in enumerate(groups):
        per_area: dict[int, int] = {}
        for i in g:
            for a, p in f.rows[i]:
                per_area[a] = per_area.get(a, 0) + p
                touched[a].add(k)
            weight[k, f.base[i]] += f.pop[i]
        noncot += sum(f.pop[i] for i in g) - max(per_area.values(), default=0)
    rows, cols = linear_sum_assignment(weight, maximize=True)
    kept = int(weight[rows, cols].sum())
    return {
        "groups": len(groups),
        "merges": f.n_base - len(groups),
        "moved": sum(f.pop) - kept,
        "noncoterminous": int(noncot),
        "split_areas": sum(1 for t in touched if len(t) > 1),
    }


# ---------------------------------------------------------------- scoring
def stage_values(scenario: Scenario, metrics: dict) -> tuple[float, ...]:
    """The optimiser's minimised tuple for a partition with ``metrics``."""
    terms = scenario.objective_terms
    stages = [[t] for t in terms] if scenario.lexicographic else [list(terms)]
    if scenario.coterminosity is Coterminosity.PENALISED and scenario.penalty_weight > 0:
        stages[0] = stages[0] + [(Objective.NONCOTERMINOUS, scenario.penalty_weight)]
    return tuple(float(sum(w * metrics[t.value] for t, w in st)) for st in stages)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOL * max(1.0, abs(a), abs(b))


def lex_min(items, key):
    """Items whose ``key`` tuple is lexicographically minimal (stage by stage,
    each within a relative tolerance of ``TOL``)."""
    items = list(items)
    if not items:
        return []
    k = len(key(items[0]))
    for s in range(k):
        best = min(key(it)[s] for it in items)
        items = [it for it in items if _close(key(it)[s], best)]
    return items


@dataclass
class BruteResult:
    """What brute force found for one (instance, scenario)."""

    n_partitions: int
    feasible: list[Partition] = field(default_factory=list)
    #: min of objective_value over feasible partitions (None: none feasible)
    value: float | None = None
    #: lexicographically minimal stage tuple (None: none feasible)
    stages: tuple[float, ...] | None = None
    #: the feasible partitions attaining ``stages``
    optimal: list[Partition] = field(default_factory=list)

    @property
    def is_feasible(self) -> bool:
        return bool(self.feasible)


def brute_force(inst: Instance, scenario: Scenario) -> BruteResult:
    """Enumerate, check and score every partition of ``inst``'s units."""
    n = inst.n_units
    if n > MAX_UNITS:
        raise ValueError(f"brute force handles at most {MAX_UNITS} units, got {n}")
    parts = _connected_partitions(inst) if scenario.contiguity else set_partitions(n)
    # the floor is a necessary condition (rules.floor_met); filter on it first to
    # save checker calls, and confirm on a sample that the checker agrees
    pop = _facts(inst).pop
    F = scenario.floor_population
    viable = [all(sum(pop[i] for i in g) >= F for g in p) for p in parts]
    for k in range(0, len(parts), 17):
        if not viable[k]:
            assert not check_plan(inst, parts[k], scenario).ok, parts[k]
    feasible = [p for p, ok in zip(parts, viable) if ok and check_plan(inst, p, scenario).ok]
    res = BruteResult(n_partitions=len(set_partitions(n)), feasible=feasible)
    if not feasible:
        return res
    scored = []
    for p in feasible:
        m = fast_metrics(inst, p)
        scored.append((p, objective_value(inst, p, scenario, m), stage_values(scenario, m)))
    res.value = min(v for _, v, _ in scored)
    best = lex_min(scored, key=lambda t: t[2])
    res.stages = best[0][2]
    res.optimal = [p for p, _, _ in best]
    # the reference must agree with the library's own metrics where it matters
    for p in {res.optimal[0], min(scored, key=lambda t: t[1])[0]}:
        fast, slow = fast_metrics(inst, p), metrics_of(inst, p, scenario)
        bad = {t: (fast[t], slow[t]) for t in TERMS if fast[t] != slow[t]}
        assert not bad, f"brute.fast_metrics disagrees with plan_metrics on {p}: {bad} (fast, plan_metrics)"
    return res


def brute_optimum(inst: Instance, scenario: Scenario) -> float | None:
    """The optimum :func:`objective_value` over all feasible partitions, or
    None when no partition is feasible."""
    return brute_force(inst, scenario).value
