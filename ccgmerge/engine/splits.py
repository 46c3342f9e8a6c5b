"""Unsplittable viable groups on bitsets: the partition formulation's candidates.

A connected set of units reaching the floor is *splittable* when it falls into
two connected parts that both reach the floor. Unit sets are Python integers
used as bitsets (bit ``v`` for node ``v``), which makes the thousands of
connectivity tests of an enumeration a few integer operations each.

:func:`find_split` answers whether a set splits (with a witness);
:func:`unsplittable_sets` lists every connected viable set that does not
(ESU enumeration, Wernicke 2006, stopping at the first split: splittability is
inherited by connected supersets); :func:`refine_unsplittable` cuts a group
into unsplittable parts.

Examples
--------
>>> nb = [[1], [0, 2], [1, 3], [2]]             # path 0 - 1 - 2 - 3
>>> find_split([0, 1, 2, 3], nb, [60, 50, 70, 40], 100)
([0, 1], [2, 3])
>>> unsplittable_sets(nb, [60, 50, 70, 40], 100)
[(0, 1), (0, 1, 2), (1, 2), (1, 2, 3), (2, 3)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from ccgmerge.engine.subsets import CandidateLimitError, check_deadline

__all__ = ["BitGraph", "find_split", "is_splittable", "refine_unsplittable", "unsplittable_sets", "bits", "to_mask"]


def to_mask(members: Iterable[int]) -> int:
    """The bitset of ``members``."""
    m = 0
    for v in members:
        m |= 1 << int(v)
    return m


def bits(mask: int) -> list[int]:
    """The nodes of a bitset, ascending.

    >>> bits(0b10110)
    [1, 2, 4]
    """
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


class BitGraph:
    """A graph (neighbour lists) and node weights, with neighbourhoods as bitsets."""

    def __init__(self, nb: Sequence[Sequence[int]], weight: Sequence[float]):
        self.nbm = [to_mask(ns) for ns in nb]
        self.weight = list(weight)

    def total(self, mask: int) -> float:
        w = self.weight
        t = 0
        while mask:
            low = mask & -mask
            t += w[low.bit_length() - 1]
            mask ^= low
        return t

    def reach(self, start: int, mask: int) -> int:
        """The nodes of ``mask`` reachable from the nodes of ``start`` inside ``mask``."""
        nbm = self.nbm
        seen = start & mask
        frontier = seen
        while frontier:
            new = 0
            while frontier:
                low = frontier & -frontier
                new |= nbm[low.bit_length() - 1]
                frontier ^= low
            frontier = new & mask & ~seen
            seen |= frontier
        return seen

    def connected(self, mask: int) -> bool:
        return not mask or self.reach(mask & -mask, mask) == mask

    def pieces(self, mask: int) -> list[int]:
        """The connected pieces of ``mask`` (bitsets)."""
        out = []
        while mask:
            p = self.reach(mask & -mask, mask)
            out.append(p)
            mask &= ~p
        return out

    def tree_split(self, S: int, total: float, floor: float) -> int | None:
        """A part found by cutting one edge of a breadth-first spanning tree (tried
        from every root), or None: a fast sufficient test."""
        nbm, w = self.nbm, self.weight
        lo, hi = floor, total - floor
        roots = S
        while roots:
            rb = roots & -roots
            roots ^= rb
            r = rb.bit_length() - 1
            order, parent = [r], {r: -1}
            seen = rb
            k = 0
            while k < len(order):
                u = order[k]
                k += 1
                ch = nbm[u] & S & ~seen
                seen |= ch
                while ch:
                    low = ch & -ch
                    v = low.bit_length() - 1
                    parent[v] = u
                    order.append(v)
                    ch ^= low
            sub = {v: w[v] for v in order}
            sm = {v: 1 << v for v in order}
            for v in reversed(order[1:]):
                p = parent[v]
                if lo <= sub[v] <= hi:
                    return sm[v]
                sub[p] += sub[v]
                sm[p] |= sm[v]
        return None

    def hub_blocks(self, S: int, floor: float) -> bool:
        """True when some node ``v`` of ``S`` (tried: the heaviest) leaves only pieces
        below the floor: the part of a split without ``v`` lies in one piece of
        ``S - v``, so ``S`` has no split."""
        w = self.weight
        m, best, hub = S, -1.0, -1
        while m:
            low = m & -m
            v = low.bit_length() - 1
            if w[v] > best:
                best, hub = w[v], v
            m ^= low
        return all(self.total(p) < floor for p in self.pieces(S & ~(1 << hub)))

    def split(self, S: int, floor: float, total: float | None = None) -> int | None:
        """A part ``A`` of the connected set ``S`` with ``A`` and ``S - A`` connected
        and both reaching the floor (a bitset), or None when there is none."""
        if total is None:
            total = self.total(S)
        if total < 2 * floor or S & (S - 1) == 0:
            return None
        if self.hub_blocks(S, floor):
            return None
        A = self.tree_split(S, total, floor)
        if A is not None:
            return A
        # exhaustive: connected A holding the lowest node, weight <= total - floor (ESU);
        # once S - A falls into pieces, the other part lies in one piece, so A absorbs the rest
        nbm, w = self.nbm, self.weight
        cap = total - floor
        s0b = S & -S
        s0 = s0b.bit_length() - 1

        def look(nA, t):
            """(a split, or None; whether to extend nA)"""
            ps = self.pieces(S & ~nA)
            if len(ps) == 1:
                return (nA if t >= floor else None), True
            ws = [self.total(p) for p in ps]
            for p, wp in zip(ps, ws):
                if floor <= wp <= cap:
                    return S & ~p, False
            big = max(ws)
            return None, not (big < floor or t + (sum(ws) - big) > cap)

        if w[s0] > cap:
            return None
        found, go = look(s0b, w[s0])
        if found is not None or not go:
            return found
        stack = [(s0b, nbm[s0] & S & ~s0b, w[s0], s0b | nbm[s0])]
        while stack:
            A, ext, tot, closed = stack.pop()
            while ext:
                low = ext & -ext
                ext ^= low
                v = low.bit_length() - 1
                t = tot + w[v]
                if t > cap:
                    continue
                nA = A | low
                found, go = look(nA, t)
                if found is not None:
                    return found
                if go:
                    stack.append((nA, ext | (nbm[v] & S & ~closed), t, closed | nbm[v]))
        return None


def find_split(members: Sequence[int], nb, weight, floor, graph: BitGraph | None = None) -> tuple[list[int], list[int]] | None:
    """Two connected parts of the connected set ``members`` that both reach the
    floor (``(part holding the smallest member, rest)``, each sorted), or None.

    >>> nb = [[1], [0, 2], [1, 3], [2]]             # path 0 - 1 - 2 - 3
    >>> find_split([0, 1, 2], nb, [60, 50, 70], 100) is None
    True
    """
    g = graph or BitGraph(nb, weight)
    S = to_mask(members)
    A = g.split(S, floor)
    if A is None:
        return None
    B = S & ~A
    if not A & (S & -S):
        A, B = B, A
    return bits(A), bits(B)


def is_splittable(members: Sequence[int], nb, weight, floor) -> bool:
    """Whether the connected set ``members`` splits into two connected parts that
    both reach the floor."""
    return find_split(members, nb, weight, floor) is not None


def refine_unsplittable(members: Sequence[int], nb, weight, floor, graph: BitGraph | None = None) -> list[tuple[int, ...]]:
    """Split a connected set reaching the floor into unsplittable parts (each
    connected and reaching the floor), splitting while a split exists.

    >>> nb = [[1], [0, 2], [1, 3], [2]]             # path 0 - 1 - 2 - 3
    >>> refine_unsplittable([0, 1, 2, 3], nb, [60, 50, 70, 40], 100)
    [(0, 1), (2, 3)]
    """
    g = graph or BitGraph(nb, weight)
    out, todo = [], [to_mask(members)]
    while todo:
        S = todo.pop()
        A = g.split(S, floor)
        if A is None:
            out.append(tuple(bits(S)))
        else:
            todo += [A, S & ~A]
    return sorted(out)


def unsplittable_sets(nb: Sequence[Sequence[int]], weight: Sequence[float], floor: float,
                      nodes: Iterable[int] | None = None, limit: int | None = None,
                      prune: Callable | None = None, deadline: float | None = None,
                      graph: BitGraph | None = None) -> list[tuple[int, ...]]:
    """All connected sets reaching the floor that cannot be split into two
    connected parts both reaching the floor (sorted tuples, sorted).

    Splittability is inherited by connected supersets (attach each added piece
    to a part it touches), so ESU stops extending a set as soon as it splits.
    ``prune(members)``, if given, marks sets to drop together with all their
    supersets (above a ceiling, holding an ``apart`` pair, ...). Past
    ``deadline`` (a ``time.perf_counter()`` value) it raises
    :class:`~ccgmerge.engine.subsets.CandidateLimitError`.
    """
    g = graph or BitGraph(nb, weight)
    nbm, w = g.nbm, g.weight
    nodes = sorted(range(len(nb)) if nodes is None else set(nodes))
    inside = to_mask(nodes)
    out: list[tuple[int, ...]] = []
    explored = 0
    two_f = 2 * floor

    def keep(mask, tot) -> bool:
        if prune is not None and prune(bits(mask)):
            return False
        if tot >= floor:
            if tot >= two_f and g.split(mask, floor, tot) is not None:
                return False
            out.append(tuple(bits(mask)))
            if limit is not None and len(out) > limit:
                raise CandidateLimitError(f"more than {limit:,} candidate groups")
        return True

    for v in nodes:
        vb = 1 << v
        if not keep(vb, w[v]):
            continue
        allowed = inside & ~((vb << 1) - 1)  # nodes above v
        stack = [(vb, nbm[v] & allowed, w[v], vb | nbm[v])]
        while stack:
            sub, ext, tot, closed = stack.pop()
            while ext:
                low = ext & -ext
                ext ^= low
                u = low.bit_length() - 1
                explored += 1
                if limit is not None and explored > 20 * limit:
                    raise CandidateLimitError(f"more than {20 * limit:,} connected sets explored")
                check_deadline(deadline, explored)
                nsub = sub | low
                t = tot + w[u]
                if not keep(nsub, t):
                    continue
                stack.append((nsub, ext | (nbm[u] & allowed & ~closed), t, closed | nbm[u]))
    out.sort()
    return out
