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

import random
import time
from collections.abc import Sequence

from ccgmerge.engine.subsets import connected_pieces
from ccgmerge.engine.formulations.realign.data import RealignData, is_connected, moved_of
from ccgmerge.engine.formulations.realign.bounds import label_candidates, label_tree, own_components

__all__ = ["grow_plan", "improve_plan", "TREE_OPTIONS", "heuristic_plan", "perturb_plan", "PERTURB_SIZE",
           "PATIENCE", "search_plan"]


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


def _splits(d: RealignData, members: set[int], u: int) -> bool:
    """Whether removing u from the connected set ``members`` disconnects it or empties it."""
    rest = [v for v in d.nb[u] if v in members]
    if not rest:
        return True
    need = set(rest[1:])
    seen, stack = {u, rest[0]}, [rest[0]]
    while stack and need:
        v = stack.pop()
        for w in d.nb[v]:
            if w in members and w not in seen:
                seen.add(w)
                need.discard(w)
                stack.append(w)
    return bool(need)


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

    def apply(u, b):
        a = lab[u]
        lab[u] = b
        mem[a].discard(u)
        mem[b].add(u)
        gpop[a] -= int(d.pop[u])
        gpop[b] += int(d.pop[u])

    def single() -> bool:
        # the move fixing shortage at least cost per person, else saving most moved people
        cands = []
        for u in d.units:
            a, pu = lab[u], int(d.pop[u])
            for b in sorted({lab[v] for v in d.nb[u]} - {a}):
                dshort = short(gpop[a] - pu) - short(gpop[a]) + short(gpop[b] + pu) - short(gpop[b])
                dcost = cost(u, b) - cost(u, a)
                if dshort < 0:
                    cands.append((0, dcost / -dshort, dshort, u, b))
                elif dshort == 0 and dcost < 0:
                    cands.append((1, dcost, 0, u, b))
                elif dshort == 0 and dcost == 0 and gpop[a] - gpop[b] > 2 * pu:
                    cands.append((2, gpop[b] - gpop[a], 0, u, b))
        for *_, u, b in sorted(cands):
            if not _splits(d, mem[lab[u]], u):
                apply(u, b)
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
        groups = {l: sorted(i for i in d.units if lab[i] == l) for l in S}
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
        cand = {l: sorted(i for i in d.units if lab[i] == l) for l in S}
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
