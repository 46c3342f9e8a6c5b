"""The exact propagating depth-first search on a restricted model, and the branch searches.

:func:`search_restriction` looks for a plan of a restricted model within a
cutoff, narrowing label domains by propagation (people moved, own unit,
reach, articulation) and branching one node's label at a time. Flow models
are weak where two groups link their pieces through one free region (Kent:
Thanet's corridor and Canterbury's two pieces in a corner of Ashford); the
search branches on that region's least vertex cut first.

:func:`search_branches` runs it on each connector branch of a label
(:func:`ccgmerge.engine.formulations.realign.connectors.connector_branches`):
on the branch's restricted model, the connector C given to the label. When
the branch without both components is bounded at UB, the branches cover
every better plan and closing them all proves the owner set; otherwise the
search only looks for better plans.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ccgmerge.engine.formulations.realign.data import RealignData, Restriction, checked_moved
from ccgmerge.engine.formulations.realign.bounds import label_candidates
from ccgmerge.engine.formulations.realign.connectors import give
from ccgmerge.engine.formulations.realign.model import restrict

__all__ = ["MAX_CUT", "search_restriction", "SEARCH_SLICE", "SEARCH_MAX_NODES", "SEARCH_MAX_TOTAL",
           "search_branches"]


class _Wipeout(Exception):
    """A label's domain graph cannot hold its group."""


class _Static:
    """What the search reads of a restriction at every node, computed once:
    for each label the adjacency lists of the nodes allowing it (domains only
    narrow, so a node outside ``allowed`` never joins a label's domain
    graph), and the paid nodes (free nodes of owned baseline groups, with
    their baseline)."""

    def __init__(self, r: Restriction):
        n = len(r.nodes)
        owned = set(r.S)
        self.owned = owned
        self.paid = [(k, r.nbase[k]) for k in range(n) if r.fixed[k] is None and r.nbase[k] in owned]
        self.adj_of = {l: [[u for u in r.adj[v] if l in r.allowed[u]] for v in range(n)] for l in r.S}
        self.members = {l: [k for k in range(n) if l in r.allowed[k]] for l in r.S}


def _propagate(r: Restriction, floor: int, cutoff: float, dom: list, dirty: set[int] | None = None,
               static: _Static | None = None) -> None:
    """Narrow the domains ``dom`` (a frozenset of labels per node) in place to a
    fixpoint, or raise _Wipeout. Rules, each valid for every plan the domains
    still hold:

    * **people moved**: ``constant + Σ_k min_{l ∈ dom(k)} cost(k, l) <= cutoff``;
    * **own unit**: label l's group holds its root, or (with none fixed) one
      of its candidate roots, ``cands[l]``;
    * **reach**: label l's group is connected and holds its anchor (its root,
      or a node already decided for l), so a node that no path of nodes
      allowing l joins to the anchor cannot be l's; a decided node of l so
      cut off, or a reach below the floor, is a wipeout;
    * **articulation**: a node whose removal from l's domain graph cuts a
      decided node of l off the anchor, or leaves less than the floor
      reachable, is l's (Tarjan's low-points, one depth-first pass per label).

    Only the labels in ``dirty`` (default: all) are checked at first; a
    domain that changes makes its labels dirty again. ``static``: the
    restriction's :class:`_Static`, if the caller keeps one.
    """
    st = static if static is not None else _Static(r)
    n = len(dom)
    npop = r.npop
    paid = st.paid  # moved unless kept by their own label
    todo = set(r.S) if dirty is None else set(dirty) & st.owned
    if r.constant + sum(npop[k] for k, b in paid if b not in dom[k]) > cutoff:
        raise _Wipeout
    while todo:
        l = min(todo)
        todo.discard(l)
        change = False
        rt = r.roots[l]
        if rt is None:
            if not any(l in dom[k] for k in r.cands[l]):  # the group holds a unit of l
                raise _Wipeout
            only = frozenset((l,))
            rt = next((k for k in range(n) if dom[k] == only), None)
            if rt is None:
                if sum(npop[k] for k in range(n) if l in dom[k]) < floor:
                    raise _Wipeout
                continue
        # Tarjan's low-points over the nodes allowing l, from the anchor
        adj = st.adj_of[l]
        disc = [-1] * n
        low = [0] * n
        parent = [-1] * n
        sub_pop = [0] * n
        sub_must = [0] * n
        disc[rt] = 0
        sub_pop[rt] = npop[rt]
        sub_must[rt] = 1
        order = [rt]
        its = [None] * n  # each open node's place in its neighbour list
        v, it = rt, iter(adj[rt])
        while True:
            for u in it:
                du = disc[u]
                if du < 0:
                    if l not in dom[u]:
                        continue
                    disc[u] = low[u] = len(order)
                    parent[u] = v
                    sub_pop[u] = npop[u]
                    if len(dom[u]) == 1:
                        sub_must[u] = 1
                    order.append(u)
                    its[v] = it
                    v, it = u, iter(adj[u])
                    break
                if du < low[v] and u != parent[v]:
                    low[v] = du
            else:
                p = parent[v]
                if p < 0:
                    break
                if low[v] < low[p]:
                    low[p] = low[v]
                sub_pop[p] += sub_pop[v]
                sub_must[p] += sub_must[v]
                v, it = p, its[p]
        total = sub_pop[rt]
        if total < floor:
            raise _Wipeout
        if len(order) < n:
            for k in st.members[l]:
                if disc[k] < 0 and l in dom[k]:
                    if len(dom[k]) == 1:
                        raise _Wipeout
                    todo |= dom[k]
                    dom[k] = dom[k] - {l}
                    change = True
        cut_pop: dict[int, int] = {}
        cut_must: dict[int, int] = {}
        for v in order[1:]:
            p = parent[v]
            if low[v] >= disc[p] and p != rt:  # removing p cuts v's subtree off the anchor
                cut_pop[p] = cut_pop.get(p, 0) + sub_pop[v]
                cut_must[p] = cut_must.get(p, 0) + sub_must[v]
        for v in sorted(cut_pop):
            if len(dom[v]) > 1 and (cut_must[v] > 0 or total - npop[v] - cut_pop[v] < floor):
                todo |= dom[v]
                dom[v] = frozenset((l,))
                change = True
        # l's own changes leave its graph and its reach as they were, and fix, in one pass,
        # every node separating two decided nodes of l (or the anchor's side from the
        # floor), whatever the anchor: checking l again would change nothing, bar its own-unit
        # rule (a candidate root it can no longer reach), checked here; so l is checked again
        # only when another label's pass changes a node allowing l
        todo.discard(l)
        if change and r.roots[l] is None and not any(l in dom[k] for k in r.cands[l]):
            raise _Wipeout
        if change and r.constant + sum(npop[k] for k, b in paid if b not in dom[k]) > cutoff:
            raise _Wipeout


#: Largest vertex cut _branch_node branches on (a wider link is no bottleneck).
MAX_CUT = 8


def _vertex_cut(adj: Sequence[Sequence[int]], allowed: Sequence[int], open_: set[int], src: Sequence[int],
                dst: Sequence[int], limit: int = MAX_CUT) -> list[int]:
    """A least set of ``open_`` nodes whose removal separates ``src`` from ``dst``
    in the graph on ``allowed`` (other nodes cannot be removed): augmenting
    paths on the split graph (node v as in-copy 2v -> out-copy 2v + 1, of
    capacity one when open, else unbounded; edges unbounded). Empty when the
    cut would exceed ``limit`` (at most MAX_CUT) nodes (or none exists).

    The residual graph is never built: a search step reads it from the flow
    (``through[v]``, the paths crossing v, and ``into[u]``, the paths entering
    u from each neighbour). The cut is the set of open nodes whose in-copy
    the last (failed) search reaches and whose out-copy it does not: the
    source side of the least minimum cut, the same for every maximum flow.

    >>> adj = [[1, 2], [0, 3], [0, 3], [1, 2, 4], [3]]   # a square 0-1-3-2 and a tail 3-4
    >>> _vertex_cut(adj, range(5), {1, 2, 3}, [0], [4])
    [3]
    >>> _vertex_cut(adj, range(5), {1, 2}, [0], [4])
    [1, 2]
    >>> _vertex_cut(adj, range(5), {1, 2}, [0], [4], limit=1)
    []
    """
    n = len(adj)
    ok = [False] * n
    for v in allowed:
        ok[v] = True
    opn = [False] * n
    for v in open_:
        opn[v] = ok[v]
    sink = [False] * n
    for v in dst:
        sink[v] = ok[v]
    starts = [2 * v for v in sorted(set(src)) if ok[v]]
    through = [0] * n
    into: dict[int, dict[int, int]] = {}
    limit = min(limit, MAX_CUT)
    value = 0
    while True:
        prev = [-2] * (2 * n)
        for a in starts:
            prev[a] = -1
        queue = list(starts)
        end = -1
        for a in queue:
            v = a >> 1
            if a & 1 == 0:  # in-copy of v
                if prev[a + 1] == -2 and not (opn[v] and through[v]):
                    prev[a + 1] = a
                    queue.append(a + 1)
                back = into.get(v)
                if back:
                    for u in back:  # undo a path's step u -> v
                        b = 2 * u + 1
                        if prev[b] == -2:
                            prev[b] = a
                            queue.append(b)
            else:  # out-copy of v
                if sink[v]:
                    end = a
                    break
                if through[v] and prev[a - 1] == -2:  # undo a path's crossing of v
                    prev[a - 1] = a
                    queue.append(a - 1)
                for u in adj[v]:
                    b = 2 * u
                    if ok[u] and prev[b] == -2:
                        prev[b] = a
                        queue.append(b)
        if end < 0:
            break
        value += 1
        if value > limit:
            return []
        b = end
        while prev[b] != -1:
            a = prev[b]
            va, vb = a >> 1, b >> 1
            if va == vb:
                through[va] += 1 if a & 1 == 0 else -1
            elif a & 1:  # out-copy of va -> in-copy of vb: a step along an edge
                e = into.setdefault(vb, {})
                e[va] = e.get(va, 0) + 1
            else:  # in-copy of va -> out-copy of vb: undoes a step vb -> va
                e = into[va]
                if e[vb] == 1:
                    del e[vb]
                else:
                    e[vb] -= 1
            b = a
    return [v for v in range(n) if opn[v] and prev[2 * v] != -2 and prev[2 * v + 1] == -2]


def _branch_node(r: Restriction, floor: int, dom: list, cost: list[dict[int, int]]) -> tuple[int, int] | None:
    """(node, label to try first) for the next branch, or None when every
    domain is decided. A label whose decided nodes lie in pieces comes first:
    branch on a node of a least vertex cut between its smallest piece and the
    anchor's piece (the bottleneck its link must cross, contested by other
    labels), trying l there first. Otherwise the label furthest below the
    floor grows by a neighbour of its decided nodes, cheapest first.

    The labels are ranked by (cut size, -people of the small piece, label):
    a label's cut search stops once its size could no longer win."""
    n = len(dom)
    decided: dict[int, list[int]] = {l: [] for l in r.S}
    open_ = set()
    for k in range(n):
        if len(dom[k]) == 1:
            decided[next(iter(dom[k]))].append(k)
        else:
            open_.add(k)
    best = None
    for l in r.S:
        mine = decided[l]
        if not mine:
            continue
        mset = set(mine)
        pieces = []  # as connected_pieces gives them: each sorted, by smallest node (mine is sorted)
        seen: set[int] = set()
        for s0 in mine:
            if s0 in seen:
                continue
            seen.add(s0)
            comp, stack = [s0], [s0]
            while stack:
                for w in r.adj[stack.pop()]:
                    if w in mset and w not in seen:
                        seen.add(w)
                        comp.append(w)
                        stack.append(w)
            pieces.append(sorted(comp))
        if len(pieces) < 2:
            continue
        anchor = r.roots[l] if r.roots[l] is not None else mine[0]
        home = next(p for p in pieces if anchor in p)
        small = min((p for p in pieces if p is not home), key=lambda p: (sum(r.npop[k] for k in p), p[0]))
        tie = (-sum(r.npop[k] for k in small), l)
        limit = MAX_CUT if best is None else best[0][0] - (0 if tie < best[0][1:] else 1)
        if limit < 1:
            continue
        cut = _vertex_cut(r.adj, [v for v in range(n) if l in dom[v]], open_, small, home, limit)
        if cut:
            key = (len(cut),) + tie
            if best is None or key < best[0]:
                best = (key, max(cut, key=lambda v: (r.npop[v], -v)), l)
    if best is not None:
        return best[1], best[2]
    held = {l: sum(r.npop[k] for k in decided[l]) for l in r.S}
    for l in sorted(r.S, key=lambda l: (held[l] - floor, l)):
        if held[l] >= floor:
            continue
        front = sorted({u for v in decided[l] for u in r.adj[v] if len(dom[u]) > 1 and l in dom[u]},
                       key=lambda u: (cost[u][l], len(dom[u]), u))
        if front:
            return front[0], l
    for k in range(n):
        if len(dom[k]) > 1:
            return k, min(dom[k], key=lambda l: (cost[k][l], l))
    return None


def search_restriction(r: Restriction, floor: int, cutoff: float, deadline: float | None = None,
                       force: dict[int, int] | None = None) -> tuple[str, dict[int, list[int]] | None, int]:
    """Exact depth-first search for a plan of a restricted model moving at most
    ``cutoff`` people: ``("found", groups, nodes)``, ``("none", None, nodes)``
    when the search is complete and there is none, or ``("stopped", None,
    nodes)`` at the deadline (``time.perf_counter()``).

    Each node of the search narrows the label domains by :func:`_propagate`
    and branches (:func:`_branch_node`) on one node's label. A complete
    assignment that survives propagation is a plan: every group is connected
    (reach), reaches the floor and the people moved are within the cutoff.
    ``force``: node -> label fixed at the start (a branch of the caller's).

    Flow models are weak where two groups must link their pieces through the
    same free region (the planar crossing their relaxations cannot see);
    branching on the least vertex cut of each link decides that region
    first, and the articulation rule then forces the rest. Deterministic:
    nodes and labels are taken in a fixed order.

    Examples
    --------
    A path a - b - c - d of 5, 1, 1 and 5 people; baseline groups 0 = {a, b, c}
    and 1 = {d}; floor 6. Group 1 must take c: one person moved.

    >>> import numpy as np
    >>> nb = {0: [1], 1: [0, 2], 2: [1, 3], 3: [2]}
    >>> d = RealignData([0, 1, 2, 3], {0: 0, 1: 0, 2: 0, 3: 1}, 2, np.array([5, 1, 1, 5]), nb, 6)
    >>> r = restrict(d, (0, 1), 0, 10, {0: 0, 1: 0})
    >>> search_restriction(r, 6, 0)[0]
    'none'
    >>> search_restriction(r, 6, 1)[:2]
    ('found', {0: [0, 1], 1: [2, 3]})
    """
    s = _Search(r, floor, force)
    status, groups = s.run(cutoff, deadline)
    return status, groups, s.count


class _Search:
    """The resumable state of :func:`search_restriction`: a stack of domain
    lists. ``run`` may be called again with a lower cutoff (after a plan is
    found, or a better one elsewhere): what was cut off before stays cut off."""

    def __init__(self, r: Restriction, floor: int, force: dict[int, int] | None = None):
        n = len(r.nodes)
        owned = set(r.S)
        self.r, self.floor, self.count = r, floor, 0
        self.static = _Static(r)
        self.cost = [{l: (r.npop[k] if r.fixed[k] is None and r.nbase[k] in owned and r.nbase[k] != l else 0)
                      for l in r.allowed[k]} for k in range(n)]
        dom0 = [frozenset(r.allowed[k]) if r.fixed[k] is None else frozenset((r.fixed[k],)) for k in range(n)]
        self.stack: list[tuple[list, set[int] | None]] = [(dom0, None)]  # (domains, labels to check)
        for k, l in sorted((force or {}).items()):
            if l not in dom0[k]:
                self.stack = []
                break
            dom0[k] = frozenset((l,))

    def run(self, cutoff: float, deadline: float | None = None, max_nodes: int | None = None
            ) -> tuple[str, dict[int, list[int]] | None]:
        r, cost = self.r, self.cost
        stop = None if max_nodes is None else self.count + max_nodes
        while self.stack:
            if (deadline is not None and time.perf_counter() >= deadline) or (stop is not None and self.count >= stop):
                return "stopped", None
            dom, dirty = self.stack.pop()
            self.count += 1
            try:
                _propagate(r, self.floor, cutoff, dom, dirty, self.static)
            except _Wipeout:
                continue
            pick = _branch_node(r, self.floor, dom, cost)
            if pick is None:
                groups: dict[int, list[int]] = {l: [] for l in r.S}
                for k in range(len(dom)):
                    groups[next(iter(dom[k]))].extend(r.nodes[k])
                return "found", {l: sorted(g) for l, g in groups.items()}
            k, first = pick
            for l in sorted(dom[k], key=lambda l: (l == first, -cost[k][l], -l)):  # the first choice is popped first
                d2 = list(dom)
                d2[k] = frozenset((l,))
                self.stack.append((d2, set(dom[k])))
        return "none", None


#: search_branches: the first slice of each branch (search nodes, doubling each round) and
#: the most nodes a branch is given in all (slices count nodes, not seconds, so that a solve
#: without a time limit is deterministic).
SEARCH_SLICE = 100
SEARCH_MAX_NODES = 25_600
SEARCH_MAX_TOTAL = 100_000  # all branches of one owner set together


def search_branches(d: RealignData, S: tuple[int, ...], U: int, l: int, connectors: list[tuple[float, tuple[int, ...]]],
                    best: tuple[int, dict[int, list[int]]], deadline: float | None,
                    log: list[dict] | None = None) -> tuple[tuple[int, dict[int, list[int]]], float]:
    """Search every connector branch of label l for a plan moving fewer people
    than ``best`` (value, plan): in branch C, l's group holds C, so the block
    with C given to l (:func:`give`) holds the branch's plans with pop(C)
    fewer moved; its restricted model, C's nodes forced to l, is searched
    (:func:`search_restriction`) with the cutoff ``UB - 1 - pop(C)``. The
    branches take turns, the slices (search nodes) doubling from
    SEARCH_SLICE, so a branch that finds a plan lowers every cutoff (and the
    searches restart on the smaller restrictions). A branch still open after
    SEARCH_MAX_NODES nodes (SEARCH_MAX_TOTAL for all), or at the deadline,
    stays open with its bound.
    Returns the best (value, plan) and
    the least bound ``U + b`` of the branches left open (``inf`` when every
    branch is closed: no plan of these branches beats the best)."""
    tasks = []
    for b, C in connectors:
        pc = sum(int(d.pop[i]) for i in C)
        tasks.append({"bound": b, "C": C, "pc": pc, "search": None, "open": True})
    slice_ = SEARCH_SLICE
    given = 0  # nodes each branch has been given so far
    spent = 0  # nodes searched in all
    while any(t["open"] for t in tasks) and given < SEARCH_MAX_NODES and spent < SEARCH_MAX_TOTAL:
        if deadline is not None and time.perf_counter() >= deadline:
            break
        slice_ = min(slice_, SEARCH_MAX_NODES - given)
        given += slice_
        for t in tasks:
            if not t["open"]:
                continue
            if U + t["bound"] >= best[0]:
                t["open"] = False
                continue
            if t["search"] is None:
                if "block" not in t:  # C given to l, and its label costs (the same at every cutoff)
                    t["block"] = give(d, t["C"], l)
                    t["costs"] = {m: label_candidates(t["block"], S, m)[0][0][0] for m in S}
                r = restrict(t["block"], S, U, best[0] - U - t["pc"], t["costs"])
                if r is None:
                    t["open"] = False
                    continue
                Cs = set(t["C"])
                t["search"] = _Search(r, d.floor, {k: l for k, nd in enumerate(r.nodes) if Cs.intersection(nd)})
            before = t["search"].count
            status, groups = t["search"].run(best[0] - 1 - t["pc"], deadline, slice_)
            spent += t["search"].count - before
            if status == "found":
                val = checked_moved(d, groups, S, "the branch search")
                if log is not None:
                    log.append({"owners": S, "branch": l, "connector": t["pc"], "found": val, "nodes": t["search"].count})
                if val < best[0]:
                    best = (val, groups)
                    for t2 in tasks:  # restart on the smaller restrictions of the new cutoff
                        t2["search"] = None
            elif status == "none":
                t["open"] = False
                if log is not None:
                    log.append({"owners": S, "branch": l, "connector": t["pc"], "closed": t["search"].count})
            if deadline is not None and time.perf_counter() >= deadline:
                break
        slice_ *= 2
    left = [U + t["bound"] for t in tasks if t["open"] and U + t["bound"] < best[0]]
    return best, min(left) if left else float("inf")
