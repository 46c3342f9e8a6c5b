"""Lower bounds on the people an owner set's plans move, and the paths behind them.

Owner sets are tried in order of the bound ``LB(S) = max(U(S), Σ_{b ∈ S}
max(0, floor - pop(b)), U(S) + Σ_l c_l)``. ``c_l`` (:func:`label_cost`)
bounds the people of other owned baseline groups that l's group must hold,
from the free components it can join and the paid paths between them;
groups are disjoint, so these add up. The sum ``Σ_l c_l`` is then raised to
:func:`owner_set_cost`, which also counts the people of l left in free
components its group does not touch (a baseline group in pieces pays a
corridor or leaves a piece). Before its restricted models, a set is also
bounded by :func:`pool_bound`, the same candidates chosen for all labels at
once, the people of baseline groups outside S shared among them and each
label's kept people cut by the people other groups take from it.

**Path bound.** If unit ``i`` ends in the group labelled ``l`` and is not of
baseline ``l``, the group holds a path from ``i`` to a unit of ``l``; every
unit on it before that unit is moved, and those of owned baselines are not
counted in ``U(S)``. With ``d_l(i)`` (:func:`label_distances`) the least
such cost (node weights ``pop(v)`` for ``base(v) ∈ S - {l}``, 0 otherwise,
``i`` included, the endpoint not), a plan of S has ``moved >= U(S) +
max(c_l, d_l(i)) + Σ_{l' != l} c_l'``; the restricted model uses this
(:mod:`ccgmerge.engine.formulations.realign.model`).

:func:`label_tree` turns a candidate of :func:`label_cost` into a seed for
the primal heuristic: the free components and the paid paths joining them.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np
import pulp
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra as csgraph_dijkstra

from ccgmerge.engine.subsets import connected_pieces
from ccgmerge.engine.formulations.realign.data import RealignData
from ccgmerge.plan import Status

__all__ = ["label_distances", "free_components", "dijkstra", "node_distances", "node_distances_from", "distances_dict",
           "free_mask", "MAX_FREE_COMPONENTS", "label_cost",
           "label_candidates", "own_people", "own_components", "MAX_FRONTIER", "owner_set_cost", "label_tree",
           "MAX_POOL_OPTIONS", "pool_bound"]


def label_distances(d: RealignData, S: Sequence[int], l: int) -> dict[int, float]:
    """``d_l(i)``: least people of other owned baseline groups on a path inside the
    group from i to a unit of l (i counted, the unit of l not): a node costs
    pop(v) if base(v) ∈ S - {l}, 0 otherwise. Reached units only."""
    g = d.graph()
    base = d.base_array()
    paid = np.isin(base, [m for m in S if m != l])
    dist = node_distances(d, np.flatnonzero(base == l), np.where(paid, g.pop, 0))
    return distances_dict(d, dist)


def distances_dict(d: RealignData, dist: np.ndarray) -> dict[int, float]:
    """Finite local distances (:func:`node_distances`) as {global unit: distance}."""
    g = d.graph()
    reached = np.flatnonzero(np.isfinite(dist))
    return dict(zip(g.units[reached].tolist(), dist[reached].tolist()))


def free_mask(d: RealignData, S: Sequence[int], l: int) -> np.ndarray:
    """Whether each unit (local order) is free for label l: its own or of a baseline group outside S."""
    base = d.base_array()
    return (base == l) | ~np.isin(base, list(S))


def free_components(d: RealignData, S: Sequence[int], l: int) -> tuple[set[int], list[list[int]]]:
    """Label l's free units (its own and those of baseline groups outside S) and their connected pieces."""
    g = d.graph()
    mask = free_mask(d, S, l)
    return set(g.units[mask].tolist()), g.pieces(mask)


def node_distances(d: RealignData, sources, weight: np.ndarray) -> np.ndarray:
    """Least Σ weight[v] over a path from any source to each unit (local
    indices and weights, :meth:`RealignData.graph`; sources cost 0, the
    endpoint counted; ``inf`` where none), by
    :func:`scipy.sparse.csgraph.dijkstra` on the block's CSR adjacency. The
    same values as :func:`dijkstra` (sums of whole people are exact)."""
    return node_distances_from(d, [sources], weight)[0]


def node_distances_from(d: RealignData, source_sets, weight: np.ndarray) -> np.ndarray:
    """:func:`node_distances` for several sets of sources at once, one row
    each: one Dijkstra from a super-source per set, joined to its sources by
    arcs of weight 0 (so each source is at 0, as in :func:`dijkstra`)."""
    g = d.graph()
    n, k = len(g.unit_list), len(source_sets)
    sets = [np.asarray(s, dtype=np.int64) for s in source_sets]
    cols = np.concatenate([g.indices.astype(np.int64)] + sets)
    extra = np.cumsum([len(s) for s in sets], dtype=np.int64)
    indptr = np.concatenate([g.indptr.astype(np.int64), g.indptr[-1] + extra])
    w = np.asarray(weight, dtype=np.float64)
    data = np.concatenate([w[g.indices], np.zeros(len(cols) - len(g.indices))])
    m = csr_matrix((data, cols, indptr), shape=(n + k, n + k))
    return csgraph_dijkstra(m, directed=True, indices=np.arange(n, n + k))[:, :n]


def dijkstra(d: RealignData, sources: Sequence[int], cost: Callable[[int], int],
              pred: dict[int, int] | None = None) -> dict[int, float]:
    """Least Σ cost(v) over a path from any source to each unit (sources cost 0,
    the endpoint counted). ``pred``, if given, receives each reached unit's
    predecessor on a least path (none for sources)."""
    dist = {i: 0.0 for i in sources}
    heap = [(0.0, i) for i in sorted(dist)]
    heapq.heapify(heap)
    done = set()
    while heap:
        dv, v = heapq.heappop(heap)
        if v in done:
            continue
        done.add(v)
        for u in d.nb[v]:
            nd = dv + cost(u)
            if nd < dist.get(u, float("inf")):
                dist[u] = nd
                if pred is not None:
                    pred[u] = v
                heapq.heappush(heap, (nd, u))
    return dist


#: Most free components per label for which label_cost enumerates their subsets.
MAX_FREE_COMPONENTS = 12


def label_cost(d: RealignData, S: Sequence[int], l: int) -> float:
    """A lower bound c_l on the people of *other owned* baseline groups that the
    group labelled l must hold (its paid people)::

        c_l = min_Q max(ST(Q), floor - pop(Q), m(Q) if pop(Q) < floor)

    over the sets Q of free components (connected pieces of l's units and the
    units of baseline groups outside S) holding a unit of l, with ST(Q) the
    least paid population connecting them (exact for |Q| <= 3, else the
    largest pairwise distance) and m(Q) the least population of a paid unit
    touching Q. Valid: a group touching exactly the free components Q holds
    at least ST(Q) paid people and, reaching the floor, at least floor -
    pop(Q); then it holds a paid unit, and (being connected) one touching Q.
    Groups are disjoint, so moved >= U(S) + Σ_l c_l."""
    options, _ = label_candidates(d, S, l)
    return options[0][0]


def label_candidates(d: RealignData, S: Sequence[int], l: int) -> tuple[list[tuple[float, tuple[int, ...]]], list[list[int]]]:
    """Every candidate Q of label_cost as (its value in label_cost, Q),
    best first (Q as indices into the free components), and the components.
    ``[(0.0, ())]`` when there are too many components to enumerate."""
    g = d.graph()
    mask = free_mask(d, S, l)
    local = g.pieces_local(mask)
    comps = [g.units[c].tolist() for c in local]
    if len(comps) > MAX_FREE_COMPONENTS:
        return [(0.0, ())], comps
    base = d.base_array()
    cp = [int(g.pop[c].sum()) for c in local]
    has_l = [bool((base[c] == l).any()) for c in local]
    paid = np.where(mask, 0, g.pop)  # a unit's cost on a path: its people unless free
    inf = float("inf")
    dist = node_distances_from(d, local, paid)
    pair = [[float(dist[a][local[b]].min()) for b in range(len(comps))] for a in range(len(comps))]
    # the least paid unit touching each component: a group short of the floor holds one
    comp_id = np.full(len(g.unit_list), -1, dtype=np.int64)
    for q, c in enumerate(local):
        comp_id[c] = q
    e = (comp_id[g.rows] >= 0) & ~mask[g.indices]
    least_nb = np.full(len(local), np.inf)
    np.minimum.at(least_nb, comp_id[g.rows[e]], g.pop[g.indices[e]].astype(np.float64))
    touch = [int(x) if x < inf else inf for x in least_nb.tolist()]
    out = []
    for k in range(1, len(comps) + 1):
        for Q in itertools.combinations(range(len(comps)), k):
            if not any(has_l[q] for q in Q):
                continue
            short = d.floor - sum(cp[q] for q in Q)
            if k == 1:
                st = 0.0
            elif k == 3:
                a, b, c = Q
                st = float((dist[a] + dist[b] + dist[c] - 2 * paid).min())
            else:
                st = max(pair[a][b] for a, b in itertools.combinations(Q, 2))
            least = min(touch[q] for q in Q) if short > 0 else 0
            out.append((max(st, short, least, 0), Q))
    out.sort()
    return out or [(inf, ())], comps


def own_people(d: RealignData, l: int, comps: list[list[int]]) -> list[int]:
    """The people of baseline group l in each free component."""
    return [sum(int(d.pop[i]) for i in c if d.base[i] == l) for c in comps]


def own_components(d: RealignData, l: int, comps: list[list[int]]) -> set[int]:
    """The free components holding a unit of baseline group l."""
    return {q for q, c in enumerate(comps) if any(d.base[i] == l for i in c)}


#: Most (paid, dropped) pairs owner_set_cost keeps while combining labels.
MAX_FRONTIER = 4096


def owner_set_cost(d: RealignData, S: Sequence[int], options: dict | None = None, extra_out: float = 0.0) -> float:
    """A lower bound on the people of owned baseline groups that a plan of S
    moves (``moved - U(S)``), at least ``Σ_l c_l`` (:func:`label_cost`)::

        min over (Q_l)_{l ∈ S} of  max(Σ_l v_l(Q_l), Σ_l o_l(Q_l))

    with, for each owned label l and candidate Q of label_cost (the free
    components l's group touches), ``v_l(Q)`` its value there (the people of
    other owned groups l's group must hold) and ``o_l(Q)`` the people of l
    in its free components outside Q (they cannot be in l's group, so they
    are moved). Valid: each moved person of an owned group is counted once as
    held by another group (Σ_l paid_l) and once as left by its own
    (Σ_l out_l), both equal to ``moved - U(S)``, and paid_l >= v_l(Q_l),
    out_l >= o_l(Q_l) for the components Q_l l's group touches. A label split
    into pieces (an HWB boundary or an enclave apart) pays either a corridor
    or the people of the pieces it leaves, which Σ_l c_l alone misses.

    The minimum is taken over the Pareto frontier of (Σ v, Σ o), label by
    label; beyond MAX_FRONTIER pairs, ``max(min Σ v, min Σ o)`` (weaker,
    still valid) is returned. ``options``: label_candidates per label, if known;
    ``extra_out``: people known to be left besides (added to Σ o)."""
    opts = options if options is not None else {l: label_candidates(d, S, l) for l in S}
    per: list[list[tuple[float, float]]] = []
    for l in S:
        cand, comps = opts[l]
        if cand == [(0.0, ())]:  # too many components to enumerate: label_cost is 0 and nothing is dropped
            per.append([(0.0, 0.0)])
            continue
        own = own_people(d, l, comps)
        all_own = sum(own)
        pairs = sorted({(v, float(all_own - sum(own[q] for q in Q))) for v, Q in cand if v < float("inf")})
        if not pairs:
            return float("inf")
        per.append(_pareto(pairs))
    # beyond the caps: p[0][0] is the least v of each (sorted) list
    fallback = max(sum(p[0][0] for p in per), extra_out + sum(min(o for _, o in p) for p in per))
    front = [(0.0, float(extra_out))]
    for pairs in per:
        if len(front) * len(pairs) > MAX_FRONTIER * 16:
            return fallback
        front = _pareto(sorted({(a + v, b + o) for a, b in front for v, o in pairs}))
        if len(front) > MAX_FRONTIER:
            return fallback
    return min(max(a, b) for a, b in front)


def _pareto(pairs: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The pairs (sorted) that no other pair beats in both coordinates."""
    out: list[tuple[float, float]] = []
    for a, b in pairs:
        if not out or b < out[-1][1]:
            out.append((a, b))
    return out


def label_tree(d: RealignData, S: Sequence[int], l: int, Q: Sequence[int], comps: list[list[int]],
               whole: bool = True) -> tuple[list[int], list[int]]:
    """A plan for one candidate of label_cost: the units of the free components
    ``Q`` (indices into ``comps``, from :func:`label_candidates`) with free units
    on the joining paths, and the paid units joining them (least paid paths,
    added greedily from the component holding most of l's people: a Steiner
    heuristic), as two sorted lists; each path ends where it first enters its
    component. With ``whole=False`` the components other than that first one
    are left out and later paths start from what is kept, so the result is a
    connected *corridor*: the group may then take only part of them."""
    if len(Q) < 2:
        return [], []
    free, _ = free_components(d, S, l)
    home = max(Q, key=lambda q: (sum(int(d.pop[i]) for i in comps[q] if d.base[i] == l), -q))
    tree = set(comps[home])
    core = set(tree)
    paid: set[int] = set()
    todo = [q for q in Q if q != home]
    while todo:
        src = tree if whole else core
        pred: dict[int, int] = {}
        dist = dijkstra(d, sorted(src), lambda v: 0 if v in free else int(d.pop[v]), pred)
        q = min(todo, key=lambda q: (min(dist.get(i, float("inf")) for i in comps[q]), q))
        end = min(comps[q], key=lambda i: (dist.get(i, float("inf")), i))
        if end not in dist:
            break
        v, path = end, []
        while v not in src:
            path.append(v)
            v = pred[v]
        target = set(comps[q])
        k = len(path) - 1
        while k > 0 and path[k] not in target:  # the path enters component q at path[k]
            k -= 1
        for v in path[k:]:
            if v not in free:
                paid.add(v)
        tree.update(path[k:])
        tree |= target
        core.update(path[k:])
        todo.remove(q)
    return sorted((tree if whole else core) - paid), sorted(paid)


#: Most label_cost candidates of one label that pool_bound lets it choose among
#: (a label with more is given no candidate: any kept people, any pool).
MAX_POOL_OPTIONS = 256


def pool_bound(d: RealignData, S: Sequence[int], U: int, run: Callable, options, time_limit: float | None,
               label_options: dict | None = None) -> float:
    """A lower bound on the people moved by every plan of owner set S: the
    candidates of :func:`label_cost` chosen for all labels at once, sharing
    the *pools* (connected pieces of the units of baseline groups outside S)::

        U(S) + min Σ_l P_l
        s.t. Σ_Q z[l, Q] = 1,   P_l >= Σ_Q v_l(Q) z[l, Q]          one candidate Q per label
             K_l <= Σ_Q own_l(Q) z[l, Q],   K_l = pop(l) - Σ_{m != l} t[m, l],   P_l = Σ_{m != l} t[l, m]
             y[l, p] <= pop(p) Σ_{Q ∋ p} z[l, Q],   Σ_l y[l, p] <= pop(p)
             K_l + Σ_p y[l, p] + P_l >= floor

    rounded up (people are whole). ``v_l(Q)`` is the candidate's value in
    label_cost, ``own_l(Q)`` the people of l in its free components, and
    ``t[l, m]`` the people of owned baseline m in l's group (``t, y, K >= 0``).
    Valid: a plan of S gives each label the candidate Q of the free
    components its group touches; the group's own people (kept, ``K_l``) lie
    in them, its people of other owned groups (paid, ``P_l``) number at least
    v_l(Q), its people of pools come from the pools in them, and moved =
    U(S) + Σ_l P_l. A label with more than MAX_POOL_OPTIONS candidates (or
    too many free components) is given every pool, ``K_l <= pop(l)`` and
    ``P_l >= c_l``, so the bound is at least U(S) + Σ_l c_l.
    Solved by ``run`` (with gap 0: only a proven bound counts); returns U(S)
    + its proven bound, ``inf`` when it is infeasible (S has no plan) and
    ``U(S)`` when it proves nothing. ``label_options``: label_candidates per
    label, if known."""
    S = tuple(S)
    owned = set(S)
    lp = d.label_pop()
    pools = connected_pieces(d.nb, [i for i in d.units if d.base[i] not in owned])
    pool_of = {i: p for p, c in enumerate(pools) for i in c}
    ppop = [sum(int(d.pop[i]) for i in c) for c in pools]
    prob = pulp.LpProblem("pool_bound", pulp.LpMinimize)
    t = {(l, m): pulp.LpVariable(f"t_{l}_{m}", lowBound=0) for l in S for m in S if m != l}
    P = {l: pulp.lpSum(t[l, m] for m in S if m != l) for l in S}
    K = {l: lp[l] - pulp.lpSum(t[m, l] for m in S if m != l) for l in S}
    y: dict[tuple[int, int], object] = {}
    for l in S:
        opts, comps = label_options[l] if label_options is not None else label_candidates(d, S, l)
        opts = [(v, Q) for v, Q in opts if v < float("inf")]
        if not opts:
            return float("inf")
        prob += K[l] >= 0, f"kept0_{l}"
        if opts == [(0.0, ())] or len(opts) > MAX_POOL_OPTIONS:  # no candidates: every pool, K_l <= pop(l)
            prob += P[l] >= opts[0][0], f"paid_{l}"
            for p in range(len(pools)):
                y[l, p] = pulp.LpVariable(f"y_{l}_{p}", lowBound=0, upBound=ppop[p])
        else:
            comp_pools = [sorted({pool_of[i] for i in c if i in pool_of}) for c in comps]
            own = own_people(d, l, comps)
            z = {Q: pulp.LpVariable(f"z_{l}_{'_'.join(map(str, Q))}", cat="Binary") for _, Q in sorted(opts, key=lambda o: o[1])}
            prob += pulp.lpSum(z.values()) == 1, f"one_{l}"
            prob += P[l] >= pulp.lpSum(v * z[Q] for v, Q in opts), f"paid_{l}"
            prob += K[l] <= pulp.lpSum(sum(own[q] for q in Q) * z[Q] for _, Q in opts), f"kept_{l}"
            touch: dict[int, list] = {}
            for _, Q in sorted(opts, key=lambda o: o[1]):
                for p in sorted({p for q in Q for p in comp_pools[q]}):
                    touch.setdefault(p, []).append(z[Q])
            for p in sorted(touch):
                y[l, p] = pulp.LpVariable(f"y_{l}_{p}", lowBound=0, upBound=ppop[p])
                prob += y[l, p] <= ppop[p] * pulp.lpSum(touch[p]), f"touch_{l}_{p}"
        prob += K[l] + pulp.lpSum(v for (m, _), v in y.items() if m == l) + P[l] >= d.floor, f"floor_{l}"
    for p in range(len(pools)):
        ys = [y[l, p] for l in S if (l, p) in y]
        if ys:
            prob += pulp.lpSum(ys) <= ppop[p], f"pool_{p}"
    prob += pulp.lpSum(t.values())
    out = run(prob, dataclasses.replace(options, gap=0.0), time_limit, integral=False)
    if out.status is Status.INFEASIBLE:
        return float("inf")
    if out.bound is None:
        return float(U)
    return float(U + max(0, math.ceil(out.bound - 1e-6)))
