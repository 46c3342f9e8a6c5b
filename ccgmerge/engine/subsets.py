"""Enumeration of connected unit sets: the candidates of the packing and aligned formulations.

A *candidate* is a connected set of nodes whose weight reaches the floor and
that is inclusion-minimal: no connected proper subset reaches the floor. For a
connected set ``S`` this holds exactly when removing any non-cut node drops it
below the floor (every connected proper subset of ``S`` lies inside ``S - w``
for some non-cut node ``w``).

A *rooted* candidate has a designated root, the node of largest key in the
set (largest population, ties to the smallest position), and is minimal among
the sets with that root: removing any non-cut node other than the root drops
it below the floor.

Sets are enumerated with the ESU scheme (Wernicke 2006), which visits every
connected set once; branches stop as soon as the floor is reached, so only
connected sets *below* the floor are ever extended.

Example: a path ``0 - 1 - 2 - 3`` with weights 60, 50, 70, 40 and floor 100:

>>> nb = [[1], [0, 2], [1, 3], [2]]
>>> w = [60, 50, 70, 40]
>>> sorted(minimal_sets(nb, w, 100))
[(0, 1), (1, 2), (2, 3)]
>>> sorted(rooted_sets(nb, w, 100))
[(0, (0, 1)), (2, (1, 2)), (2, (2, 3))]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

import numpy as np

__all__ = ["minimal_sets", "rooted_sets", "CandidateLimitError", "connected_subsets_below", "connected_pieces",
           "check_deadline"]


class CandidateLimitError(RuntimeError):
    """More candidates than the limit allows (the caller falls back to a compact model)."""


def connected_pieces(nb: Sequence[Sequence[int]], members: Iterable[int]) -> list[list[int]]:
    """The connected pieces of the subgraph induced by ``members`` (each sorted,
    ordered by their smallest node).

    >>> connected_pieces([[1], [0], [3], [2]], [0, 1, 3])
    [[0, 1], [3]]
    """
    inside = set(members)
    seen: set[int] = set()
    out = []
    for s in sorted(inside):
        if s in seen:
            continue
        comp, stack = [], [s]
        seen.add(s)
        while stack:
            v = stack.pop()
            comp.append(v)
            for w in nb[v]:
                if w in inside and w not in seen:
                    seen.add(w)
                    stack.append(w)
        out.append(sorted(comp))
    return out


def _connected(members: Sequence[int], nb: Sequence[Sequence[int]], skip: int) -> bool:
    return len(connected_pieces(nb, [v for v in members if v != skip])) <= 1


def _is_minimal(members, total, weight, floor, nb, root=None) -> bool:
    removable = [v for v in members if v != root]
    if not removable:
        return True
    if total - min(weight[v] for v in removable) < floor:
        return True
    for v in removable:
        if total - weight[v] >= floor and _connected(members, nb, v):
            return False
    return True


def check_deadline(deadline: float | None, explored: int) -> None:
    """Raise CandidateLimitError once ``deadline`` (a ``time.perf_counter()``
    value) has passed; checked at the first set explored and every 1,024 after."""
    if deadline is not None and explored % 1024 == 1 and time.perf_counter() > deadline:
        raise CandidateLimitError(f"enumeration stopped by the time limit after {explored:,} connected sets explored")


def _esu(start: int | Sequence[int], allowed: Callable[[int], bool], nb, weight, floor, emit, below=None, limit=None,
         counter=None, valid=None, deadline=None):
    """Enumerate connected sets containing ``start`` (a node, or a connected seed set)
    over allowed nodes; emit the ones that reach the floor (not extended further).
    With ``valid``, a set that reaches the floor but is not valid is extended
    instead of emitted."""
    seed = [start] if isinstance(start, (int, np.integer)) else sorted(set(start))
    if counter is None and deadline is not None:
        counter = [0, 0]
    w0 = sum(weight[v] for v in seed)
    if w0 >= floor and (valid is None or valid(list(seed))):
        emit(list(seed), w0)
        return
    if below is not None and w0 < floor:
        below(tuple(seed), w0)
    closed = set(seed) | {u for v in seed for u in nb[v]}
    ext = [u for u in sorted({u for v in seed for u in nb[v]} - set(seed)) if allowed(u)]
    stack = [(list(seed), ext, w0, closed)]
    while stack:
        sub, ext, total, closed = stack.pop()
        while ext:
            w = ext.pop()
            t = total + weight[w]
            newsub = sub + [w]
            if counter is not None:
                counter[1] += 1
                if limit is not None and counter[1] > 20 * limit:
                    raise CandidateLimitError(f"more than {20 * limit:,} connected sets explored")
                check_deadline(deadline, counter[1])
            if t >= floor and (valid is None or valid(newsub)):
                emit(newsub, t)
                if counter is not None:
                    counter[0] += 1
                    if limit is not None and counter[0] > limit:
                        raise CandidateLimitError(f"more than {limit:,} candidate groups")
                continue
            if below is not None and t < floor:
                below(tuple(sorted(newsub)), t)
            new_ext = ext + [u for u in nb[w] if u not in closed and allowed(u)]
            stack.append((newsub, new_ext, t, closed | set(nb[w])))
            # ESU: later siblings must not re-add w
    return


def minimal_sets(nb: Sequence[Sequence[int]], weight: Sequence[float], floor: float,
                 nodes: Iterable[int] | None = None, limit: int | None = None,
                 below: Callable | None = None, valid: Callable | None = None,
                 deadline: float | None = None) -> list[tuple[int, ...]]:
    """All inclusion-minimal connected node sets of weight >= ``floor`` (sorted tuples).

    ``nodes`` restricts the graph to a subset; ``below(set, weight)``, if given, is
    called for every connected set below the floor. ``valid(set)``, if given, is an
    extra condition a candidate must meet (sets that fail it are extended); the
    minimality filter is then off, so every valid set found first on its ESU
    branch is returned (each valid set contains one of them). Past
    ``deadline`` (a ``time.perf_counter()`` value) it raises
    :class:`CandidateLimitError`.
    """
    nodes = sorted(range(len(nb)) if nodes is None else set(nodes))
    inside = set(nodes)
    out: list[tuple[int, ...]] = []
    counter = [0, 0]
    for v in nodes:
        def emit(members, total, v=v):
            if valid is not None or _is_minimal(members, total, weight, floor, nb):
                out.append(tuple(sorted(members)))

        _esu(v, lambda u, v=v: u > v and u in inside, nb, weight, floor, emit, below=below, limit=limit, counter=counter,
             valid=valid, deadline=deadline)
    return out


def rooted_sets(nb: Sequence[Sequence[int]], weight: Sequence[float], floor: float,
                nodes: Iterable[int] | None = None, limit: int | None = None,
                key: Sequence | None = None, valid: Callable | None = None) -> list[tuple[int, tuple[int, ...]]]:
    """All (root, set) pairs: connected sets of weight >= ``floor`` whose root is
    their node of largest ``key`` (default: (weight, -position)) and that are
    minimal among sets with that root."""
    nodes = sorted(range(len(nb)) if nodes is None else set(nodes))
    inside = set(nodes)
    if key is None:
        key = [(weight[i], -i) for i in range(len(nb))]
    out: list[tuple[int, tuple[int, ...]]] = []
    counter = [0, 0]
    for r in nodes:
        def emit(members, total, r=r):
            if valid is not None or _is_minimal(members, total, weight, floor, nb, root=r):
                out.append((r, tuple(sorted(members))))

        kr = key[r]
        _esu(r, lambda u, kr=kr: u in inside and key[u] < kr, nb, weight, floor, emit, limit=limit, counter=counter,
             valid=valid)
    return out


def connected_subsets_below(nb, weight, floor, nodes=None, limit=None) -> list[tuple[tuple[int, ...], float]]:
    """Every connected node set of weight below ``floor`` (with its weight)."""
    found: list = []
    minimal_sets(nb, weight, floor, nodes=nodes, limit=limit, below=lambda s, w: found.append((s, w)))
    return found
