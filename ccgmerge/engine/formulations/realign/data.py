"""The block, its owner sets and the checks of a plan.

A block (:class:`RealignData`) is a set of units connected in its adjacency
graph, each with the label of its baseline group. **Every group may be
assumed owned and to keep someone.** A group keeping no one can merge into
an adjacent group (the block is connected): the result is connected,
reaches the floor and keeps as much. So an optimal plan exists whose groups
carry distinct labels ``S`` (the *owner set*), the group labelled ``b``
holding at least one unit of ``b``; baseline groups outside ``S`` move
wholly: ``U(S) = Σ_{b ∉ S} pop(b)``.

Owner sets are enumerated (:func:`owner_sets`), ``|S| <= total // floor``,
in order of the bound ``LB(S) = max(U(S), Σ_{b ∈ S} max(0, floor - pop(b)))``,
raised later by :mod:`ccgmerge.engine.formulations.realign.bounds`.
:class:`Restriction` is the restricted model of one owner set (built by
:func:`ccgmerge.engine.formulations.realign.model.restrict`) and
:class:`RealignResult` the answer for a block; :func:`wholesale_plan` gives
a quick first plan. :class:`BlockGraph` holds a block's adjacency on compact
arrays (CSR, built once per block, :meth:`RealignData.graph`) for the
:mod:`scipy.sparse.csgraph` routines of the bounds.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from ccgmerge.engine.subsets import connected_pieces
from ccgmerge.engine.heuristics import merge_until_viable
from ccgmerge.plan import Status

__all__ = ["MAX_LABELS", "BlockGraph", "RealignData", "Restriction", "RealignResult", "block_data", "owner_sets",
           "moved_of", "is_connected", "checked_moved", "wholesale_plan"]


#: Most baseline groups in one block for owner-set enumeration (2^16 sets).
MAX_LABELS = 16


class BlockGraph:
    """A block's adjacency on compact arrays, built once per block: ``units``
    (sorted global positions), ``pos`` (global -> local index), the CSR
    adjacency ``indptr``/``indices`` over local indices (``indices`` sorted
    within each row) and ``pop`` (int64, local). Local order is global order,
    so sorting by either is the same."""

    def __init__(self, units: Sequence[int], nb, pop: np.ndarray):
        self.units = np.asarray(units, dtype=np.int64)
        self.unit_list = [int(i) for i in units]
        self.pos = {i: a for a, i in enumerate(self.unit_list)}
        pos = self.pos
        rows = [sorted(pos[j] for j in nb[i]) for i in self.unit_list]
        self.indptr = np.zeros(len(rows) + 1, dtype=np.int32)
        self.indptr[1:] = np.cumsum([len(r) for r in rows])
        self.indices = np.fromiter((j for r in rows for j in r), dtype=np.int32, count=int(self.indptr[-1]))
        self.rows = np.repeat(np.arange(len(rows), dtype=np.int32), np.diff(self.indptr))
        self.pop = np.asarray(pop, dtype=np.int64)[self.units] if len(rows) else np.zeros(0, dtype=np.int64)

    def weighted(self, weight: np.ndarray):
        """The CSR matrix whose arc v -> u weighs ``weight[u]`` (explicit zeros
        are arcs), for :mod:`scipy.sparse.csgraph`."""
        n = len(self.unit_list)
        return csr_matrix((np.asarray(weight, dtype=np.float64)[self.indices], self.indices, self.indptr), shape=(n, n))

    def pieces_local(self, mask: np.ndarray) -> list[np.ndarray]:
        """The connected pieces of the local nodes in ``mask`` as arrays of
        local indices, each sorted, ordered by their smallest node."""
        n = len(self.unit_list)
        keep = mask[self.rows] & mask[self.indices]
        g = csr_matrix((np.ones(int(keep.sum()), dtype=np.int8), (self.rows[keep], self.indices[keep])), shape=(n, n))
        _, comp = connected_components(g, directed=False)
        nodes = np.flatnonzero(mask)
        if not len(nodes):
            return []
        lab = comp[nodes]
        order = np.argsort(lab, kind="stable")
        cuts = np.flatnonzero(np.diff(lab[order])) + 1
        groups = np.split(nodes[order], cuts)
        groups.sort(key=lambda g: int(g[0]))
        return groups

    def pieces(self, mask: np.ndarray) -> list[list[int]]:
        """The connected pieces of the local nodes in ``mask``, as
        :func:`ccgmerge.engine.subsets.connected_pieces` gives them for the
        global units (each sorted, ordered by their smallest unit)."""
        return [self.units[c].tolist() for c in self.pieces_local(mask)]

    def without(self, drop: np.ndarray) -> "BlockGraph":
        """The graph of the units not in ``drop`` (a local mask), as if built
        from the adjacency without them."""
        keep = ~drop
        new = np.cumsum(keep) - 1
        e = keep[self.rows] & keep[self.indices]
        out = BlockGraph.__new__(BlockGraph)
        out.units = self.units[keep]
        out.unit_list = out.units.tolist()
        out.pos = {i: a for a, i in enumerate(out.unit_list)}
        out.rows = new[self.rows[e]].astype(np.int32)
        out.indices = new[self.indices[e]].astype(np.int32)
        out.indptr = np.zeros(len(out.unit_list) + 1, dtype=np.int32)
        out.indptr[1:] = np.cumsum(np.bincount(out.rows, minlength=len(out.unit_list)))
        out.pop = self.pop[keep]
        return out


@dataclass
class RealignData:
    """One block: ``units`` (global positions, sorted), ``base[i]`` the label
    index of each unit's baseline group (0..n_labels-1), populations, the
    block's adjacency ``nb[i]`` (within the block; in nested mode within one
    HWB piece) and the floor. ``cache`` holds the block's :class:`BlockGraph`
    once built (:meth:`graph`); a block with the same units and adjacency may
    share it. Labels in ``unownable`` own no group here (another part of the
    plan continues them): their people all count as moved."""

    units: list[int]
    base: dict[int, int]
    n_labels: int
    pop: np.ndarray
    nb: dict[int, list[int]]
    floor: int
    cache: dict = field(default_factory=dict, repr=False, compare=False)
    unownable: frozenset = frozenset()

    def label_pop(self) -> list[int]:
        out = [0] * self.n_labels
        for i in self.units:
            out[self.base[i]] += int(self.pop[i])
        return out

    def graph(self) -> BlockGraph:
        """The block's adjacency on compact arrays, built on first use."""
        g = self.cache.get("graph")
        if g is None:
            g = self.cache["graph"] = BlockGraph(self.units, self.nb, self.pop)
        return g

    def base_array(self) -> np.ndarray:
        """``base`` of each unit, in local order (int64), built on first use."""
        b = self.cache.get("base")
        if b is None:
            b = np.fromiter((self.base[i] for i in self.units), dtype=np.int64, count=len(self.units))
            self.cache["base"] = b
        return b


@dataclass
class Restriction:
    """The restricted model of one owner set: contracted nodes and their labels.

    ``nodes[k]``: the units of node k; ``fixed[k]``: its only label or None;
    ``allowed[k]``: its labels; ``roots[l]``: the root node of label l, or
    None (the root is chosen among ``cands[l]``)."""

    S: tuple[int, ...]
    slack: float
    nodes: list[list[int]]
    fixed: list[int | None]
    allowed: list[tuple[int, ...]]
    npop: list[int]
    nbase: list[int | None]
    adj: list[list[int]]
    roots: dict[int, int | None]
    cands: dict[int, list[int]]
    constant: int  # moved people fixed by the restriction (U(S) and fixed moves)
    dist: dict[int, dict[int, float]] = field(default_factory=dict)
    costs: dict[int, float] = field(default_factory=dict)


@dataclass
class RealignResult:
    groups: list[list[int]] | None
    status: Status
    value: float | None  # people moved
    bound: float | None
    detail: str
    n_vars: int = 0
    n_cons: int = 0
    log: list[dict] = field(default_factory=list)
    owners: list[int] | None = None  # the label each group continues (negative: none), in the order of groups


def block_data(units: Sequence[int], base: dict[int, int], n_labels: int, pop: np.ndarray, nb: Sequence[Sequence[int]],
               floor: int, piece: dict[int, int] | None = None, unownable: frozenset = frozenset()) -> RealignData | None:
    """The block as RealignData (edges inside the block, and in nested mode
    inside one HWB piece), or None when this module does not apply: the block
    is not connected in that graph, or has more than MAX_LABELS baseline groups
    that may own a group (labels in ``unownable`` may not)."""
    inside = set(units)
    adj = {i: [j for j in nb[i] if j in inside and (piece is None or piece[i] == piece[j])] for i in units}
    if not units or len({base[i] for i in units} - set(unownable)) > MAX_LABELS:
        return None
    if len(connected_pieces(adj, units)) != 1:
        return None
    return RealignData(sorted(units), dict(base), n_labels, pop, adj, int(floor), unownable=frozenset(unownable))


def owner_sets(d: RealignData) -> list[tuple[int, int, tuple[int, ...]]]:
    """Every owner set S with 1 <= |S| <= total // floor, as (LB(S), U(S), S), best first::

        U(S) = Σ_{b ∉ S} pop(b),   LB(S) = max(U(S), Σ_{b ∈ S} max(0, floor - pop(b)))"""
    lp = d.label_pop()
    total = sum(lp)
    L = [l for l in range(d.n_labels) if lp[l] > 0 and l not in d.unownable]
    kmax = len(L) if d.floor <= 0 else min(len(L), total // d.floor)
    out = []
    for k in range(1, kmax + 1):
        for S in itertools.combinations(L, k):
            U = total - sum(lp[l] for l in S)
            T = sum(max(0, d.floor - lp[l]) for l in S)
            out.append((max(U, T), U, S))
    out.sort()
    return out


def moved_of(d: RealignData, groups: dict[int, list[int]]) -> int:
    """People moved by labelled groups: total - Σ_l pop(g_l ∩ l)."""
    total = sum(int(d.pop[i]) for i in d.units)
    return total - sum(int(d.pop[i]) for l, g in groups.items() for i in g if d.base[i] == l)


def is_connected(d: RealignData, g: list[int]) -> bool:
    """Whether the units ``g`` are connected in the block (False when empty)."""
    if not g:
        return False
    inside = set(g)
    seen = {g[0]}
    stack = [g[0]]
    nb = d.nb
    while stack:
        for w in nb[stack.pop()]:
            if w in inside and w not in seen:
                seen.add(w)
                stack.append(w)
    return len(seen) == len(inside)


def checked_moved(d: RealignData, groups: dict[int, list[int]], S: Sequence[int], source: str) -> int:
    """People moved by a plan from ``source`` (a model or a search), after
    checking that its groups are connected and reach the floor."""
    if not all(is_connected(d, g) and sum(int(d.pop[i]) for i in g) >= d.floor for g in groups.values()):
        raise RuntimeError(f"realign: {source} returned an invalid plan for owners {tuple(S)}")
    return moved_of(d, groups)


def wholesale_plan(d: RealignData) -> dict[int, list[int]] | None:
    """A quick incumbent: baseline groups (their connected pieces) kept whole,
    merged by :func:`ccgmerge.engine.heuristics.merge_until_viable` (the smallest group
    below the floor into its least populous neighbour, so a merge moves at most
    the smaller one's people); owners are given greedily by people kept. Keys
    are owner labels (negative: a group keeping no one). None if the block
    cannot reach the floor."""
    pieces: list[list[int]] = []
    for l in range(d.n_labels):
        mem = [i for i in d.units if d.base[i] == l]
        pieces += connected_pieces(d.nb, mem) if mem else []
    groups = merge_until_viable(pieces, d.nb, d.pop, d.floor)
    if groups is None:
        return None
    kept = []
    for k, g in enumerate(groups):
        per: dict[int, int] = {}
        for i in g:
            per[d.base[i]] = per.get(d.base[i], 0) + int(d.pop[i])
        kept += [(p, l, k) for l, p in per.items()]
    owner: dict[int, int] = {}
    used: set[int] = set(d.unownable)
    for p, l, k in sorted(kept, key=lambda e: (-e[0], e[1], e[2])):
        if k not in owner and l not in used:
            owner[k] = l
            used.add(l)
    return {owner.get(k, -1 - k): g for k, g in enumerate(groups)}
