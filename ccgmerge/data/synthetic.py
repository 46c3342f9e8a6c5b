"""Seeded synthetic instances that look like England's CCGs or LSOAs.

:func:`generate` builds an :class:`~ccgmerge.instance.Instance` from random
points in the unit square:

* **adjacency** is the Delaunay triangulation of the points (a planar graph,
  like the "shares a boundary" graph of real areas), with the long, skinny
  triangles along the outer edge peeled off; the graph is always connected;
* **areas** (Health and Wellbeing Boards) are the Voronoi cells of randomly
  chosen seed units, repaired so that every area's units are contiguous;
* a share of the units on an area boundary **straddle** two areas;
* **populations** follow a clipped lognormal fitted to the real 2013 CCG or
  2011 LSOA distributions;
* an optional **baseline** grouping puts the units into contiguous groups of
  about a given size inside each area (LSOAs into CCGs, say).

Everything is drawn from one :func:`numpy.random.default_rng` stream seeded
with ``seed``, and every decision is made in a fixed order (sorted arrays, no
set or hash iteration), so the same arguments give the same instance -- the
same :attr:`Instance.fingerprint` -- on every machine. (NumPy does not promise
that its ``Generator`` distributions never change between releases; the
fingerprint is stable for a given NumPy version line.)

The generator scales to 50,000 units (the size of an LSOA-level England
instance) in a few seconds; see ``benchmarks/bench_synthetic.py``.
"""

from __future__ import annotations

import heapq
import numbers
from collections import deque

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import Delaunay, cKDTree

from ccgmerge.errors import ValidationError
from ccgmerge.instance import Instance

__all__ = ["generate", "POPULATION_MODELS", "MIN_UNITS", "MAX_UNITS"]

#: Smallest and largest number of units :func:`generate` accepts.
MIN_UNITS = 10
MAX_UNITS = 50_000

#: Population models: lognormal ``median`` and ``sigma`` (fitted to the real
#: quartiles), clip bounds ``low``/``high`` (the real minimum and maximum), and
#: ``units_per_area``, the default ratio of units to areas (HWBs).
#:
#: * ``"ccg"``: the 211 CCGs of April 2013 -- quartiles 167k / 220k / 297k,
#:   range 63k-870k; 211 CCGs / 152 HWBs ~ 1.4.
#: * ``"lsoa"``: the 32,844 LSOAs of 2011 -- quartiles 1,437 / 1,572 / 1,750,
#:   range 934-7,976; 32,844 LSOAs / 152 HWBs ~ 216.
POPULATION_MODELS: dict[str, dict[str, float]] = {
    # sigma = mean(log(Q3/median), log(median/Q1)) / 0.6745
    "ccg": {"median": 220_000.0, "sigma": 0.427, "low": 63_000, "high": 870_000, "units_per_area": 1.4},
    "lsoa": {"median": 1_570.0, "sigma": 0.146, "low": 934, "high": 7_976, "units_per_area": 216.0},
}

#: Hull edges longer than this many times the median edge length are peeled.
_LONG_EDGE = 3.0
#: Range of the share of a straddling unit's people living in its second area.
_STRADDLE_SHARE = (0.02, 0.45)


def _bad(param: str, message: str) -> ValidationError:
    return ValidationError(f"generate(): {param} {message}", items=[param])


def _is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _check_args(n_units, seed, population, n_areas, straddle_fraction, baseline_group_size) -> None:
    if not _is_int(n_units) or not MIN_UNITS <= n_units <= MAX_UNITS:
        raise _bad("n_units", f"must be a whole number from {MIN_UNITS} to {MAX_UNITS:,}, got {n_units!r}.")
    if not _is_int(seed) or seed < 0:
        raise _bad("seed", f"must be a whole number >= 0, got {seed!r}.")
    if population not in POPULATION_MODELS:
        raise _bad("population", f"must be one of {sorted(POPULATION_MODELS)}, got {population!r}.")
    if n_areas is not None and (not _is_int(n_areas) or not 1 <= n_areas <= n_units):
        raise _bad("n_areas", f"must be a whole number from 1 to n_units ({n_units}), got {n_areas!r}.")
    if (
        not isinstance(straddle_fraction, numbers.Real)
        or isinstance(straddle_fraction, bool)
        or not 0.0 <= float(straddle_fraction) <= 1.0
    ):
        raise _bad("straddle_fraction", f"must be a number from 0 to 1, got {straddle_fraction!r}.")
    if baseline_group_size is not None and (not _is_int(baseline_group_size) or baseline_group_size < 1):
        raise _bad("baseline_group_size", f"must be a whole number >= 1 or None, got {baseline_group_size!r}.")


# ---------------------------------------------------------------- geometry
def _csr(n: int, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR neighbour lists (indptr, indices; each list sorted) of an undirected
    edge array."""
    src = np.concatenate([edges[:, 0], edges[:, 1]])
    dst = np.concatenate([edges[:, 1], edges[:, 0]])
    order = np.lexsort((dst, src))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return indptr, dst[order]


def _components(n: int, edges: np.ndarray) -> tuple[int, np.ndarray]:
    g = coo_matrix((np.ones(len(edges), dtype=np.int8), (edges[:, 0], edges[:, 1])), shape=(n, n))
    return connected_components(g, directed=False)


def _planar_adjacency(pts: np.ndarray) -> np.ndarray:
    """Delaunay edges (sorted (m, 2) array, i < j) with long boundary
    triangles peeled off, kept connected."""
    n = len(pts)
    tri = Delaunay(pts).simplices.astype(np.int64)
    # the three sides of every triangle, as sorted vertex pairs
    sides = np.stack([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]], axis=1).reshape(-1, 2)
    sides.sort(axis=1)
    key = sides[:, 0] * n + sides[:, 1]
    ukey, tri_edge = np.unique(key, return_inverse=True)
    tri_edge = tri_edge.reshape(-1, 3)
    edges = np.stack([ukey // n, ukey % n], axis=1)
    length = np.hypot(*(pts[edges[:, 0]] - pts[edges[:, 1]]).T)
    long_edge = length > _LONG_EDGE * np.median(length)

    # peel: drop triangles that have a long side on the current outer boundary
    alive = np.ones(len(tri), dtype=bool)
    while True:
        count = np.bincount(tri_edge[alive].ravel(), minlength=len(edges))
        kill = alive & ((count == 1) & long_edge)[tri_edge].any(axis=1)
        if not kill.any():
            break
        alive &= ~kill
    keep = np.bincount(tri_edge[alive].ravel(), minlength=len(edges)) > 0

    # restore connectivity with the shortest dropped edges (Kruskal on components)
    ncomp, lab = _components(n, edges[keep])
    if ncomp > 1:
        dropped = np.flatnonzero(~keep)
        dropped = dropped[np.lexsort((edges[dropped, 1], edges[dropped, 0], length[dropped]))]
        parent = list(range(ncomp))

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for e in dropped.tolist():
            ra, rb = find(int(lab[edges[e, 0]])), find(int(lab[edges[e, 1]]))
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
                keep[e] = True
                ncomp -= 1
                if ncomp == 1:
                    break
    return edges[keep]


# ------------------------------------------------------------------- areas
def _contiguous_areas(
    pts: np.ndarray, edges: np.ndarray, indptr: np.ndarray, indices: np.ndarray, seeds: np.ndarray
) -> np.ndarray:
    """Nearest-seed (Voronoi) areas, with every piece of an area that is cut off
    from its seed handed to an adjacent area, so every area is contiguous and
    keeps its seed."""
    n, k = len(pts), len(seeds)
    area = cKDTree(pts[seeds]).query(pts)[1].astype(np.int64)
    area[seeds] = np.arange(k)
    same = area[edges[:, 0]] == area[edges[:, 1]]
    _, piece = _components(n, edges[same])
    settled = np.isin(piece, piece[seeds])
    if settled.all():
        return area
    members: dict[int, list[int]] = {}
    for u in np.flatnonzero(~settled).tolist():  # ascending, so pieces are in first-unit order
        members.setdefault(int(piece[u]), []).append(u)
    pending = list(members.values())
    ip, ix = indptr.tolist(), indices.tolist()
    while pending:
        left = []
        for units in pending:
            votes: dict[int, int] = {}
            for u in units:
                for v in ix[ip[u]: ip[u + 1]]:
                    if settled[v]:
                        votes[int(area[v])] = votes.get(int(area[v]), 0) + 1
            if not votes:
                left.append(units)
                continue
            best = min(votes, key=lambda a: (-votes[a], a))
            area[units] = best
            settled[units] = True
        if len(left) == len(pending):  # cannot happen on a connected graph
            raise RuntimeError("synthetic: adjacency graph is not connected")
        pending = left
    return area


def _baseline_groups(
    area: np.ndarray, n_areas: int, indptr: np.ndarray, indices: np.ndarray, size: int, rng: np.random.Generator
) -> np.ndarray:
    """Contiguous groups of about ``size`` units inside each area: random seeds,
    then balanced breadth-first growth (the smallest group grows next)."""
    n = len(area)
    per_area = np.bincount(area, minlength=n_areas)
    n_groups = np.maximum(1, np.rint(per_area / size)).astype(np.int64)
    key = rng.random(n)
    order = np.lexsort((np.arange(n), key, area))  # by area, then random key
    start = np.concatenate([[0], np.cumsum(per_area)[:-1]])
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - start[area[order]]
    is_seed = rank < n_groups[area]
    seeds = order[is_seed[order]]  # group id = position: by area, then rank
    group = np.full(n, -1, dtype=np.int64)
    group[seeds] = np.arange(len(seeds))

    ip, ix, ar = indptr.tolist(), indices.tolist(), area.tolist()
    g = group.tolist()
    frontier = []
    for gid, s in enumerate(seeds.tolist()):
        frontier.append(deque(v for v in ix[ip[s]: ip[s + 1]] if ar[v] == ar[s]))
    heap = [(1, gid) for gid in range(len(seeds))]
    heapq.heapify(heap)
    while heap:
        sz, gid = heapq.heappop(heap)
        f = frontier[gid]
        while f and g[f[0]] != -1:
            f.popleft()
        if not f:
            continue  # boxed in: this group is finished
        u = f.popleft()
        g[u] = gid
        f.extend(v for v in ix[ip[u]: ip[u + 1]] if g[v] == -1 and ar[v] == ar[u])
        heapq.heappush(heap, (sz + 1, gid))
    group = np.asarray(g, dtype=np.int64)
    if (group < 0).any():  # cannot happen: areas are contiguous
        raise RuntimeError("synthetic: baseline growth left units unassigned")
    return group


# --------------------------------------------------------------- generate
def generate(
    n_units: int,
    seed: int = 0,
    *,
    population: str = "ccg",
    n_areas: int | None = None,
    straddle_fraction: float = 0.1,
    baseline_group_size: int | None = None,
    name: str | None = None,
) -> Instance:
    """A random, reproducible instance shaped like England's CCGs or LSOAs.

    Parameters
    ----------
    n_units : int
        Number of units, from 10 to 50,000.
    seed : int, default 0
        Seed of the one random stream everything is drawn from
        (:func:`numpy.random.default_rng`). The same arguments always give
        the same instance (the same :attr:`Instance.fingerprint`).
    population : {"ccg", "lsoa"}, default "ccg"
        Population model (see :data:`POPULATION_MODELS`): ``"ccg"`` draws
        unit populations like the 211 CCGs of 2013 (median ~220,000, clipped
        to 63,000-870,000); ``"lsoa"`` like the 2011 LSOAs (median ~1,570,
        clipped to 934-7,976). It also sets the default number of areas.
    n_areas : int, optional
        Number of areas (HWBs), from 1 to ``n_units``. Default
        ``round(n_units / 1.4)`` for ``"ccg"`` (211 CCGs / 152 HWBs) and
        ``round(n_units / 216)`` for ``"lsoa"`` (32,844 LSOAs / 152 HWBs),
        at least 1.
    straddle_fraction : float, default 0.1
        Share (0 to 1) of the units touching another area that straddle: a
        share drawn uniformly from [0.02, 0.45] of their people lives in one
        neighbouring area, the rest in their main area.
    baseline_group_size : int, optional
        If given, the baseline grouping puts the units into contiguous groups
        of about this many units inside each area (codes ``B0001`` ...).
        Default: every unit is its own baseline group.
    name : str, optional
        Instance name; default ``"synthetic-<population>-<n_units>-s<seed>"``.

    Returns
    -------
    Instance
        Units ``U00001`` ... (zero-padded, so code order is numeric order)
        with extra columns ``x`` and ``y`` (position in the unit square);
        areas ``A0001`` ...; ``boundary`` adjacency edges. The adjacency
        graph is planar and connected, every area has at least one unit and
        its units (by main area) are contiguous, membership rows add up
        exactly to unit populations and area populations are the sums of
        their membership.

    Raises
    ------
    ValidationError
        If a parameter is out of range; the message and ``.items`` name it.

    Notes
    -----
    Adjacency is the Delaunay triangulation of uniform random points, minus
    the triangles on the outer edge whose boundary side is more than three
    times the median edge length (repeatedly, so the slivers a convex hull
    leaves are peeled away); if that disconnects the graph the shortest
    dropped edges are put back. Areas are the Voronoi cells of ``n_areas``
    randomly chosen seed units; any piece of a cell that is not connected to
    its seed is handed whole to the adjacent area it shares most edges with.

    Examples
    --------
    >>> inst = generate(30, seed=1)
    >>> inst.n_units, inst.is_connected()
    (30, True)
    >>> inst.unit_codes[:3]
    ('U00001', 'U00002', 'U00003')
    >>> generate(30, seed=1).fingerprint == inst.fingerprint
    True
    >>> generate(30, seed=2).fingerprint == inst.fingerprint
    False

    LSOA-sized units grouped into baseline "CCGs" of about 100 LSOAs:

    >>> lsoa = generate(2000, seed=3, population="lsoa", baseline_group_size=100)
    >>> lsoa.n_areas
    9
    >>> int(lsoa.population.min()) >= 934, int(lsoa.population.max()) <= 7976
    (True, True)
    >>> 15 <= lsoa.baseline.nunique() <= 25
    True
    >>> generate(5)
    Traceback (most recent call last):
    ...
    ccgmerge.errors.ValidationError: generate(): n_units must be a whole number from 10 to 50,000, got 5.
    """
    _check_args(n_units, seed, population, n_areas, straddle_fraction, baseline_group_size)
    n = int(n_units)
    model = POPULATION_MODELS[population]
    if n_areas is None:
        n_areas = max(1, int(round(n / model["units_per_area"])))
    k = int(n_areas)
    rng = np.random.default_rng(int(seed))

    # geometry and adjacency
    pts = rng.random((n, 2))
    edges = _planar_adjacency(pts)
    indptr, indices = _csr(n, edges)

    # areas: Voronoi cells of seed units, repaired to be contiguous
    area_seeds = rng.choice(n, size=k, replace=False)
    area = _contiguous_areas(pts, edges, indptr, indices, area_seeds)

    # populations: clipped lognormal, whole people
    pop = rng.lognormal(np.log(model["median"]), model["sigma"], size=n)
    pop = np.clip(np.rint(pop), model["low"], model["high"]).astype(np.int64)

    # straddling units: a share of the units that touch another area
    cross = area[edges[:, 0]] != area[edges[:, 1]]
    ce = edges[cross]
    # distinct (unit, other area) pairs, sorted by unit then area
    pair = np.unique(
        np.concatenate([ce[:, 0] * k + area[ce[:, 1]], ce[:, 1] * k + area[ce[:, 0]]])
    )
    pu, pa = pair // k, pair % k
    candidates = np.unique(pu)
    n_straddle = int(round(float(straddle_fraction) * len(candidates)))
    chosen = np.sort(rng.choice(candidates, size=n_straddle, replace=False)) if n_straddle else candidates[:0]
    pick = rng.random(n_straddle)
    share = rng.uniform(*_STRADDLE_SHARE, size=n_straddle)
    first = np.searchsorted(pu, chosen, side="left")
    n_other = np.searchsorted(pu, chosen, side="right") - first
    other = pa[first + np.minimum((pick * n_other).astype(np.int64), n_other - 1)]
    moved = np.maximum(1, np.rint(share * pop[chosen]).astype(np.int64))

    main_pop = pop.copy()
    main_pop[chosen] -= moved
    m_unit = np.concatenate([np.arange(n), chosen])
    m_area = np.concatenate([area, other])
    m_pop = np.concatenate([main_pop, moved])
    order = np.lexsort((m_area, m_unit))
    m_unit, m_area, m_pop = m_unit[order], m_area[order], m_pop[order]
    area_pop = np.bincount(m_area, weights=m_pop, minlength=k).astype(np.int64)

    # codes and tables
    uw, aw = max(5, len(str(n))), max(4, len(str(k)))
    ucode = np.array([f"U{i:0{uw}d}" for i in range(1, n + 1)], dtype=object)
    acode = np.array([f"A{i:0{aw}d}" for i in range(1, k + 1)], dtype=object)
    units = pd.DataFrame(
        {
            "code": ucode,
            "name": [f"Unit {i:0{uw}d}" for i in range(1, n + 1)],
            "population": pop,
            "x": pts[:, 0],
            "y": pts[:, 1],
        }
    )
    areas = pd.DataFrame(
        {"code": acode, "name": [f"Area {i:0{aw}d}" for i in range(1, k + 1)], "population": area_pop}
    )
    membership = pd.DataFrame({"unit": ucode[m_unit], "area": acode[m_area], "population": m_pop})
    adjacency = pd.DataFrame({"a": ucode[edges[:, 0]], "b": ucode[edges[:, 1]], "kind": "boundary"})

    baseline = None
    if baseline_group_size is not None:
        group = _baseline_groups(area, k, indptr, indices, int(baseline_group_size), rng)
        gw = max(4, len(str(int(group.max()) + 1)))
        gcode = np.array([f"B{i:0{gw}d}" for i in range(1, int(group.max()) + 2)], dtype=object)
        baseline = pd.Series(gcode[group], index=ucode)

    if name is None:
        name = f"synthetic-{population}-{n}-s{int(seed)}"
    return Instance.from_frames(units, areas, membership, adjacency, baseline=baseline, name=name)
