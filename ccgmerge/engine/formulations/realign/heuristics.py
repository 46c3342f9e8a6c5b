"""Primal plans of one owner set: region growing, local search and iterated local search.

The best plan ``UB`` sets every slack of the exact phase, so it is sought
first (:func:`heuristic_plan`, :func:`search_plan`): for each owner set
whose bound is below it, best bounds first, groups grow from their baseline
groups (and from the paid paths and free components of their bound,
:func:`ccgmerge.engine.formulations.realign.bounds.label_tree`,
:func:`grow_plan`), a local search moves boundary units
(:func:`improve_plan`), and an iterated local search kicks
(:func:`perturb_plan`) and repeats it. These plans prove nothing; the exact
phase does.
"""

from __future__ import annotations

import bisect
import itertools
import random
import time
from collections.abc import Sequence

import numpy as np

from ccgmerge.engine.subsets import connected_pieces
from ccgmerge.engine.formulations.realign.data import RealignData, is_connected, moved_of
from ccgmerge.engine.formulations.realign.bounds import label_candidates, label_tree, own_components

__all__ = ["grow_plan", "improve_plan", "TREE_OPTIONS", "heuristic_plan", "perturb_plan", "PERTURB_SIZE",
           "PATIENCE", "search_plan", "FIT_SIZE", "FIT_EDGE", "FIT_MAX_PAIRS", "FIT_MAX_CHECKS",
           "fit_plan"]


def _unit_cost(d: RealignData, owned: set[int], i: int, l: int) -> int:
    """People moved by putting unit i in the group labelled l (owned labels only)."""
    b = d.base[i]
    return int(d.pop[i]) if b in owned and b != l else 0


def grow_plan(d: RealignData, S: Sequence[int], claims: dict[int, int] | None = None) -> dict[int, int] | None:
    """Labels for every unit from seeded region growing (a plan of S that may miss the floor).

    Label l's seed is the connected piece of its own units and the units
    ``claims`` gives it (its own units claimed by another label excluded)
    holding the most people of l; its other own units are *reserved* for it.
    The unlabelled units are then handed out one at a time: the least
    populous group below the floor (then the least populous group) with an
    unlabelled neighbour not reserved for another label takes the one it
    costs least to move, nearest (in steps) to its reserved units, then of
    smallest position. A label split by another's corridor so grows round
    it to its other pieces. When no group can grow, the reservations lapse.
    None when a label has no seed."""
    owned = set(S)
    claims = claims or {}
    lab: dict[int, int] = {}
    for l in S:
        mine = [i for i in d.units if claims.get(i, l if d.base[i] == l else None) == l]
        pcs = [p for p in connected_pieces(d.nb, [i for i in mine if i not in lab]) if any(d.base[i] == l for i in p)]
        if not pcs:
            return None
        seed = max(pcs, key=lambda p: (sum(int(d.pop[i]) for i in p if d.base[i] == l), -p[0]))
        for i in seed:
            lab[i] = l
    reserved = {i: d.base[i] for i in d.units
                if i not in lab and d.base[i] in owned and claims.get(i, d.base[i]) == d.base[i]}
    hop: dict[int, dict[int, int]] = {}
    for l in S:
        src = [i for i, m in reserved.items() if m == l]
        hop[l] = {i: 0 for i in src}
        queue = list(src)
        for v in queue:  # breadth-first steps from l's reserved units
            for u in d.nb[v]:
                if u not in hop[l]:
                    hop[l][u] = hop[l][v] + 1
                    queue.append(u)
    gpop = {l: 0 for l in S}
    front: dict[int, set[int]] = {l: set() for l in S}

    def open_to(u, l):
        return u not in lab and reserved.get(u, l) == l

    for i, l in lab.items():
        gpop[l] += int(d.pop[i])
        front[l].update(u for u in d.nb[i] if open_to(u, l))
    left = len(d.units) - len(lab)
    while left:
        if not any(front.values()):
            if not reserved:
                break
            reserved = {}
            for i, l in lab.items():
                front[l].update(u for u in d.nb[i] if open_to(u, l))
            continue
        l = min((l for l in S if front[l]), key=lambda l: (gpop[l] >= d.floor, gpop[l], l))
        u = min(front[l], key=lambda u: (_unit_cost(d, owned, u, l), hop[l].get(u, len(d.units)), u))
        lab[u] = l
        reserved.pop(u, None)
        gpop[l] += int(d.pop[u])
        left -= 1
        for m in S:
            front[m].discard(u)
        front[l].update(v for v in d.nb[u] if open_to(v, l))
    return lab


def _groups_of(d: RealignData, S: Sequence[int], lab: dict[int, int]) -> dict[int, list[int]]:
    """The groups of a labelling, keyed by the labels S (units in order; units of other labels left out)."""
    out: dict[int, list[int]] = {l: [] for l in S}
    for i in d.units:
        g = out.get(lab[i])
        if g is not None:
            g.append(i)
    return out


def _splits(d: RealignData, members: set[int], u: int) -> bool:
    """Whether removing u from the connected set ``members`` disconnects it or empties it.

    Breadth first from one neighbour of u in ``members``, stopping as soon as
    it meets the others: they usually lie round u, so only a small ball is
    searched (a depth-first walk could cross the whole group first)."""
    rest = [v for v in d.nb[u] if v in members]
    if not rest:
        return True
    need = set(rest[1:])
    if not need:
        return False
    seen = {u, rest[0]}
    queue = [rest[0]]
    nb = d.nb
    for v in queue:
        for w in nb[v]:
            if w not in seen and w in members:
                seen.add(w)
                if w in need:
                    need.discard(w)
                    if not need:
                        return False
                queue.append(w)
    return True


def improve_plan(d: RealignData, S: Sequence[int], lab: dict[int, int], deadline: float | None = None) -> dict[int, int]:
    """Local search from connected groups, on (people short of the floor,
    people moved) lexicographically. A single move takes one boundary unit
    to a neighbouring group; a pair move takes a unit u from group b to a
    neighbouring group where it costs less and refills b with a unit v from
    a neighbouring group a. A move is made when it lowers the pair and
    leaves every group connected and not empty; single moves are tried
    first (units in position order), until no move helps or ``deadline``
    (``time.perf_counter()``) passes."""
    owned = set(S)
    lab = dict(lab)
    mem: dict[int, set[int]] = {l: set() for l in S}
    for i, l in lab.items():
        mem[l].add(i)
    gpop = {l: sum(int(d.pop[i]) for i in mem[l]) for l in S}

    def short(p):
        return max(0, d.floor - p)

    def cost(i, l):
        return _unit_cost(d, owned, i, l)

    # single moves on the block's arrays: every (unit, neighbouring group) from the edges
    g = d.graph()
    src, dst = g.rows.astype(np.int64), g.indices.astype(np.int64)
    L = np.fromiter((lab[i] for i in g.unit_list), dtype=np.int64, count=len(g.unit_list))
    base = d.base_array()
    paid_any = np.isin(base, list(owned))  # moved unless in its own label's group
    popl = g.pop
    width = max([max(S, default=0), int(L.max(initial=0))]) + 1
    garr = np.zeros(width, dtype=np.int64)
    for l, p in gpop.items():
        garr[l] = p

    def apply(u, b):
        a = lab[u]
        lab[u] = b
        mem[a].discard(u)
        mem[b].add(u)
        gpop[a] -= int(d.pop[u])
        gpop[b] += int(d.pop[u])
        k = g.pos[u]
        L[k] = b
        garr[a] -= popl[k]
        garr[b] += popl[k]

    def single() -> bool:
        # the move fixing shortage at least cost per person, else saving most moved people:
        # candidates (0, cost / people fixed, -people fixed), (1, cost saved) or (2, balance)
        # with the unit and the group, in that order (as tuples of Python numbers would sort)
        m = L[src] != L[dst]
        pairs = np.unique(src[m] * width + L[dst[m]])
        u, b = pairs // width, pairs % width
        a = L[u]
        pu = popl[u]
        ga, gb = garr[a], garr[b]
        fl = d.floor
        dshort = (np.maximum(0, fl - (ga - pu)) - np.maximum(0, fl - ga)
                  + np.maximum(0, fl - (gb + pu)) - np.maximum(0, fl - gb))
        own_u = paid_any[u]
        dcost = np.where(own_u & (base[u] != b), pu, 0) - np.where(own_u & (base[u] != a), pu, 0)
        c0 = dshort < 0
        c1 = (dshort == 0) & (dcost < 0)
        c2 = (dshort == 0) & (dcost == 0) & (ga - gb > 2 * pu)
        cat = np.where(c0, 0, np.where(c1, 1, np.where(c2, 2, 3)))
        val = np.where(c0, dcost / np.where(c0, -dshort, 1), np.where(c1, dcost, gb - ga).astype(np.float64))
        keep = cat < 3
        order = np.lexsort((b[keep], u[keep], np.where(c0, dshort, 0)[keep], val[keep], cat[keep]))
        units = g.unit_list
        for k, l in zip(u[keep][order].tolist(), b[keep][order].tolist()):
            i = units[k]
            if not _splits(d, mem[lab[i]], i):
                apply(i, l)
                return True
        return False

    def pair() -> bool:
        for u in d.units:
            b, pu = lab[u], int(d.pop[u])
            for c in sorted({lab[w] for w in d.nb[u]} - {b}):
                gain = cost(u, b) - cost(u, c)
                if gain <= 0 or _splits(d, mem[b], u):
                    continue
                rest = mem[b] - {u}
                for v in sorted({w for x in rest for w in d.nb[x]} - mem[b]):
                    a, pv = lab[v], int(d.pop[v])
                    if v == u or cost(v, b) - cost(v, a) >= gain:
                        continue
                    delta = {b: pv - pu, c: pu, a: -pv}
                    if a == c:
                        delta[c] = pu - pv
                    dshort = sum(short(gpop[g] + x) - short(gpop[g]) for g, x in delta.items())
                    dcost = gain - (cost(v, b) - cost(v, a))
                    if (dshort, -dcost) >= (0, 0):
                        continue
                    src = mem[a] | {u} if a == c else mem[a]
                    if _splits(d, src, v):
                        continue
                    apply(u, c)
                    apply(v, b)
                    return True
        return False

    while (deadline is None or time.perf_counter() < deadline) and (single() or pair()):
        pass
    return lab


#: Candidates of label_cost tried as seeds by heuristic_plan for the label paying most.
TREE_OPTIONS = 4


def heuristic_plan(d: RealignData, S: Sequence[int], deadline: float | None = None,
                   options: dict | None = None) -> dict[int, list[int]] | None:
    """A plan of owner set S (groups keyed by label, each connected and at the
    floor), or None if none was found: :func:`grow_plan` then
    :func:`improve_plan`, from plain seeds and from seeds where each label with
    a positive :func:`label_cost` (largest first) claims the free components
    and paid paths of its bound (:func:`label_tree`; also with only the
    corridors: the paths and the label's own component), a label split into
    several free components those of its best candidate joining them; the
    plan moving fewest.
    Local searches stop at ``deadline`` (``time.perf_counter()``);
    ``options``: label_candidates per label, if known."""
    S = tuple(S)
    owned = set(S)
    options = options if options is not None else {l: label_candidates(d, S, l) for l in S}
    # each label's candidates, best first; a label whose own units lie in several free
    # components first tries the best candidate joining them all (a corridor)
    ranked: dict[int, list[tuple[float, tuple[int, ...]]]] = {}
    for l in S:
        opts, comps = options[l]
        mine = own_components(d, l, comps)
        join = [o for o in opts if len(mine) > 1 and mine <= set(o[1]) and o[0] < float("inf")]
        ranked[l] = join[:1] + [o for o in opts if o not in join[:1]]
    paying = sorted((l for l in S if ranked[l][0][0] > 0), key=lambda l: (-ranked[l][0][0], l))
    # claims: each paying label takes its best candidate; the first also tries its next ones
    variants: list[dict[int, int]] = [{}]
    # (candidate of the first paying label, whole components or corridors only)
    tries = [(first, whole) for first in range(min(TREE_OPTIONS, len(ranked[paying[0]]))) for whole in (True, False)] if paying else []
    for first, whole in tries:
        claims: dict[int, int] = {}
        for l in paying:
            _, Q = ranked[l][first] if l == paying[0] else ranked[l][0]
            units, paid = label_tree(d, S, l, Q, options[l][1], whole)
            for i in units + paid:
                if i not in claims and (d.base[i] == l or d.base[i] not in owned or i in paid):
                    claims[i] = l
        variants.append(claims)
    best = None
    for claims in variants:
        lab = grow_plan(d, S, claims)
        if lab is None:
            continue
        lab = improve_plan(d, S, lab, deadline)
        groups = _groups_of(d, S, lab)
        if not all(sum(int(d.pop[i]) for i in g) >= d.floor and is_connected(d, g) for g in groups.values()):
            continue
        val = moved_of(d, groups)
        if best is None or val < best[0]:
            best = (val, groups)
    return None if best is None else best[1]


def perturb_plan(d: RealignData, S: Sequence[int], lab: dict[int, int], rng: random.Random, size: int) -> dict[int, int]:
    """A random kick for :func:`search_plan`: a unit u on a group boundary
    (chosen with ``rng``) and a neighbouring group b; up to ``size`` units of
    u's group, in breadth-first order from u, move to b when they touch b and
    their group stays connected. Returns new labels (may miss the floor)."""
    lab = dict(lab)
    border = [i for i in d.units if any(lab[j] != lab[i] for j in d.nb[i])]
    if not border:
        return lab
    u = rng.choice(border)
    a = lab[u]
    b = rng.choice(sorted({lab[j] for j in d.nb[u]} - {a}))
    mem = {i for i in d.units if lab[i] == a}
    ball, seen, k = [u], {u}, 0
    while k < len(ball) and len(ball) < size:
        for j in d.nb[ball[k]]:
            if j not in seen and lab[j] == a:
                seen.add(j)
                ball.append(j)
        k += 1
    for v in ball[:size]:
        if any(lab[j] == b for j in d.nb[v]) and not _splits(d, mem, v):
            lab[v] = b
            mem.discard(v)
    return lab


#: search_plan: most units moved by one kick, and kicks in a row without a better plan before it stops.
PERTURB_SIZE = 8
PATIENCE = 150


def search_plan(d: RealignData, S: Sequence[int], groups: dict[int, list[int]], seed: int = 0,
                deadline: float | None = None, patience: int = PATIENCE) -> dict[int, list[int]]:
    """Iterated local search from a plan of S (groups keyed by label, connected,
    at the floor): kick (:func:`perturb_plan`, 1 to PERTURB_SIZE units, from a
    ``random.Random(seed)``), repair and descend (:func:`improve_plan`), and
    continue from the result if it is a plan moving no more people. Stops
    after ``patience`` kicks in a row without a plan moving fewer people, or
    at ``deadline`` (``time.perf_counter()``). Returns the best plan."""
    S = tuple(S)
    rng = random.Random(seed)
    cur = {i: l for l, g in groups.items() for i in g}
    best = moved_of(d, groups)
    out = groups
    idle = 0
    while idle < patience and (deadline is None or time.perf_counter() < deadline):
        lab = improve_plan(d, S, perturb_plan(d, S, cur, rng, rng.randint(1, PERTURB_SIZE)), deadline)
        cand = _groups_of(d, S, lab)
        idle += 1
        if not all(g and sum(int(d.pop[i]) for i in g) >= d.floor and is_connected(d, g) for g in cand.values()):
            continue
        val = moved_of(d, cand)
        if val <= best:
            if val < best:
                idle = 0
                out = cand
            best, cur = val, lab
    return out


#: fit_plan: most units each side of a swap gives (so a swap trades up to 3 for 3), sets of
#: more than 2 only from a side of at most FIT_EDGE units touching the other group, and most
#: (A, B) pairs it weighs for two groups in one pass (counted, not timed: deterministic).
FIT_SIZE = 3
FIT_EDGE = 40
FIT_MAX_PAIRS = 500_000
#: fit_plan: most swaps of one pass whose groups it checks for connectedness, best first.
FIT_MAX_CHECKS = 2_000


def _sides(d: RealignData, owned: set[int], lab: dict[int, int], mem: set[int], a: int, b: int
           ) -> list[tuple[int, int, tuple[int, ...]]]:
    """The sets of up to FIT_SIZE units of group a touching group b, as
    (people, change in people moved if they join b, units), by people."""
    edge = [i for i in sorted(mem) if any(lab[j] == b for j in d.nb[i])]
    out = [(0, 0, ())]
    for k in range(1, (FIT_SIZE if len(edge) <= FIT_EDGE else min(FIT_SIZE, 2)) + 1):
        for A in itertools.combinations(edge, k):
            out.append((sum(int(d.pop[i]) for i in A),
                        sum(_unit_cost(d, owned, i, b) - _unit_cost(d, owned, i, a) for i in A), A))
    out.sort()
    return out


def fit_plan(d: RealignData, S: Sequence[int], groups: dict[int, list[int]], deadline: float | None = None
             ) -> dict[int, list[int]]:
    """Exact-fit swaps from a plan of S (groups keyed by label, connected, at
    the floor): two neighbouring groups a and b trade a set A of up to
    FIT_SIZE units of a touching b for a set B of up to FIT_SIZE units of b
    touching a (sets of more than two only from a side of at most FIT_EDGE
    units), when that moves fewer people and both groups stay connected
    and at the floor. The swap moving fewest people is made (ties: labels,
    then units, in order), until none helps, ``deadline``
    (``time.perf_counter()``) passes, or a pass checks FIT_MAX_CHECKS swaps
    without a connected one (each two groups weigh at most FIT_MAX_PAIRS
    pairs a pass).

    A group just above the floor that pays for its last people can only
    shed them by an exact fit: Northamptonshire's Corby group at a 100,000
    floor holds 21,180 people of Nene (the bound is 21,179); no single move
    nor swap of one unit for one fits, two for two does. Returns the plan
    moving fewest (the input if no swap helps)."""
    S = tuple(S)
    owned = set(S)
    lab = {i: l for l, g in groups.items() for i in g}
    mem = {l: set(g) for l, g in groups.items()}
    gpop = {l: sum(int(d.pop[i]) for i in g) for l, g in mem.items()}
    while deadline is None or time.perf_counter() < deadline:
        cands = []
        for a in sorted(mem):
            for b in sorted({lab[j] for i in mem[a] for j in d.nb[i]} - {a}):
                if b < a:
                    continue
                sa, sb = _sides(d, owned, lab, mem[a], a, b), _sides(d, owned, lab, mem[b], b, a)
                pops = [p for p, _, _ in sb]
                by_g = sorted(sb, key=lambda e: (e[1], e[0], e[2]))
                gains = [g for _, g, _ in by_g]
                ea, eb = gpop[a] - d.floor, gpop[b] - d.floor
                weighed = 0
                for pA, gA, A in sa:
                    # a keeps the floor: pB >= pA - ea; b keeps it: pB <= pA + eb; fewer moved:
                    # gB < -gA. Scan the shorter of the two ranges, test the other condition
                    lo, hi = bisect.bisect_left(pops, pA - ea), bisect.bisect_right(pops, pA + eb)
                    k = bisect.bisect_left(gains, -gA)
                    scan = sb[lo:hi] if hi - lo <= k else by_g[:k]
                    weighed += len(scan)
                    if weighed > FIT_MAX_PAIRS:
                        break
                    for pB, gB, B in scan:
                        if gA + gB < 0 and pA - ea <= pB <= pA + eb and (A or B):
                            cands.append((gA + gB, a, b, A, B))
        cands.sort()
        for _, a, b, A, B in cands[:FIT_MAX_CHECKS]:
            if deadline is not None and time.perf_counter() >= deadline:
                break
            na, nb_ = (mem[a] - set(A)) | set(B), (mem[b] - set(B)) | set(A)
            if na and nb_ and is_connected(d, sorted(na)) and is_connected(d, sorted(nb_)):
                mem[a], mem[b] = na, nb_
                for i in A:
                    lab[i] = b
                for j in B:
                    lab[j] = a
                gpop[a], gpop[b] = sum(int(d.pop[i]) for i in na), sum(int(d.pop[i]) for i in nb_)
                break
        else:
            break
    return {l: sorted(g) for l, g in mem.items()}
