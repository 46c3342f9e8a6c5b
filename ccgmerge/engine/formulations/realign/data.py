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
a quick first plan.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ccgmerge.engine.subsets import connected_pieces
from ccgmerge.engine.heuristics import merge_until_viable
from ccgmerge.plan import Status

__all__ = ["MAX_LABELS", "RealignData", "Restriction", "RealignResult", "block_data", "owner_sets", "moved_of",
           "is_connected", "checked_moved", "wholesale_plan"]


#: Most baseline groups in one block for owner-set enumeration (2^16 sets).
MAX_LABELS = 16


@dataclass
class RealignData:
    """One block: ``units`` (global positions, sorted), ``base[i]`` the label
    index of each unit's baseline group (0..n_labels-1), populations, the
    block's adjacency ``nb[i]`` (within the block; in nested mode within one
    HWB piece) and the floor."""

    units: list[int]
    base: dict[int, int]
    n_labels: int
    pop: np.ndarray
    nb: dict[int, list[int]]
    floor: int

    def label_pop(self) -> list[int]:
        out = [0] * self.n_labels
        for i in self.units:
            out[self.base[i]] += int(self.pop[i])
        return out


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


def block_data(units: Sequence[int], base: dict[int, int], n_labels: int, pop: np.ndarray, nb: Sequence[Sequence[int]],
               floor: int, piece: dict[int, int] | None = None) -> RealignData | None:
    """The block as RealignData (edges inside the block, and in nested mode
    inside one HWB piece), or None when this module does not apply: the block
    is not connected in that graph, or has more than MAX_LABELS baseline groups."""
    inside = set(units)
    adj = {i: [j for j in nb[i] if j in inside and (piece is None or piece[i] == piece[j])] for i in units}
    if not units or len({base[i] for i in units}) > MAX_LABELS:
        return None
    if len(connected_pieces(adj, units)) != 1:
        return None
    return RealignData(sorted(units), dict(base), n_labels, pop, adj, int(floor))


def owner_sets(d: RealignData) -> list[tuple[int, int, tuple[int, ...]]]:
    """Every owner set S with 1 <= |S| <= total // floor, as (LB(S), U(S), S), best first::

        U(S) = Σ_{b ∉ S} pop(b),   LB(S) = max(U(S), Σ_{b ∈ S} max(0, floor - pop(b)))"""
    lp = d.label_pop()
    total = sum(lp)
    L = [l for l in range(d.n_labels) if lp[l] > 0]
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
    """Whether the units ``g`` are connected in the block."""
    return len(connected_pieces(d.nb, g)) == 1


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
    used: set[int] = set()
    for p, l, k in sorted(kept, key=lambda e: (-e[0], e[1], e[2])):
        if k not in owner and l not in used:
            owner[k] = l
            used.add(l)
    return {owner.get(k, -1 - k): g for k, g in enumerate(groups)}
