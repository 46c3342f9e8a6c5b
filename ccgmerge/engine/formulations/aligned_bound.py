"""A lower bound on the people moved in ``aligned`` mode, cluster by cluster of HWBs.

Every person lives in one HWB ``h``, and in any aligned plan ``h`` is

* *internal*: divided inside its connected pieces, which moves at least
  ``inside(h) = Σ_{pieces P of h} bound_P`` of its people (the realign
  engine's bound on ``P`` with every baseline group ownable; a plan may
  forbid some, which never moves fewer); only when every piece reaches the
  floor;
* in a union ``U`` of whole HWBs continuing one baseline group ``b``, which
  moves ``Σ_{h ∈ U} (pop(h) - pop(h ∩ b))`` people, at least
  ``whole(h) = pop(h) - max_b pop(h ∩ b)`` of them in ``h``.

Cut the HWBs into clusters ``C``. People moved add up over clusters, and
within ``C`` every HWB is internal, in a union inside ``C`` (connected,
reaching the floor, costing at least ``pop(U) - max_b pop(U ∩ b)``), or in a
union reaching outside ``C``: *external*, costing at least ``whole(h)``. A
union is connected, so every connected set of external HWBs of ``C`` holds an
HWB with a neighbour outside ``C`` (a *boundary* HWB). Hence::

    moved >= Σ_C min over such assignments of C's HWBs of the summed costs

An HWB that cannot be internal and touches one other HWB only (Medway,
Southampton) is in a union with that *host* (:func:`pendant_hosts`): the host
is never internal, and when external the two cost at least
``pop(h ∪ p) - max_b pop((h ∪ p) ∩ b)``, one baseline group for both. The
minimum is found by a depth-first search (:func:`cluster_bound`; past
:data:`MAX_STEPS` steps the cluster counts ``Σ_h min(inside(h), whole(h))``,
which also holds). The clusters are those of
:func:`~ccgmerge.engine.formulations.hwb_windows.start_clusters` at most
:data:`BOUND_HWBS` HWBs each (they keep HWBs that need a neighbour together).

Example: Medway (two pieces, one below the floor) touches only Kent, so
Medway is never internal, and it can be in a union only with Kent; with the
two as one cluster, Kent is either external (Medway too) or in the union
``{Kent, Medway}``: the cluster costs at least ``whole(Kent)``, not
``inside(Kent)``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ccgmerge.engine.formulations import realign
from ccgmerge.engine.formulations.unions import UnionsData, union_sets
from ccgmerge.engine.subsets import CandidateLimitError
from ccgmerge.plan import Status

__all__ = ["BOUND_HWBS", "MAX_STEPS", "MAX_CLUSTER_HWBS", "inside_bounds", "whole_costs", "pendant_hosts", "cluster_bound", "keeper_donor_bound", "aligned_bound"]

#: most HWBs of a bound cluster (more when an HWB cannot be planned otherwise)
BOUND_HWBS = 8
#: most search steps per cluster
MAX_STEPS = 200_000
#: most HWBs a cluster may have to be searched (a larger one counts the per-HWB sum)
MAX_CLUSTER_HWBS = 12


def whole_costs(d: UnionsData) -> list[int]:
    """``whole(h) = pop(h) - max_b pop(h ∩ b)`` for each local HWB."""
    return [d.area_pop[a] - max(d.label_people(d.areas[a]).values()) for a in range(len(d.areas))]


def inside_bounds(d: UnionsData, run, options, deadline: float | None, shared: dict,
                  whole: list[int] | None = None) -> tuple[list[float | None], dict]:
    """``inside(h)`` for each local HWB (None when a piece is below the floor), and a log
    (``runs``, ``unproven``, ``skipped``: pieces the time limit or the label limit left at 0).
    An HWB with ``whole(h) = 0`` is not run (0 is its bound either way). Proven runs are
    read from and kept in ``shared``, keyed as :mod:`~ccgmerge.engine.formulations.unions` keys them."""
    whole = whole_costs(d) if whole is None else whole
    log = {"runs": 0, "unproven": 0, "skipped": 0}
    out: list[float | None] = []
    todo = sum(len(d.area_pieces[a]) for a in range(len(d.areas)) if d.internal_ok[a] and whole[a] > 0)
    for a in range(len(d.areas)):
        if not d.internal_ok[a]:
            out.append(None)
            continue
        if whole[a] == 0:
            out.append(0.0)
            continue
        total = 0.0
        for q in d.area_pieces[a]:
            todo -= 1
            units = d.pieces[q]
            key = (tuple(units), frozenset())
            if key in shared:
                total += shared[key][1]
                continue
            now = time.perf_counter()
            rd = realign.block_data(units, d.base, d.n_labels, d.pop, d.nb, d.floor, None, frozenset())
            if rd is None or (deadline is not None and now >= deadline):
                log["skipped"] += 1
                continue
            stop = None if deadline is None else now + max(1.0, (deadline - now) / (1 + todo))
            rr = realign.solve_realign(rd, run, options, stop)
            log["runs"] += 1
            total += float(rr.bound) if rr.bound is not None else 0.0
            if rr.status is Status.OPTIMAL and rr.groups is not None:
                shared[key] = (float(rr.value), float(rr.bound), rr.groups, rr.status)
            else:
                log["unproven"] += 1
        out.append(total)
    return out, log


def pendant_hosts(d: UnionsData, cluster) -> dict[int, int]:
    """HWBs of ``cluster`` that must share a union with one other: an HWB that cannot be internal
    and touches one HWB of the block only (its *host*, followed to one that is not such an HWB
    itself), when that host is in the cluster.

    >>> import numpy as np
    >>> d = UnionsData([[0], [1], [2]], [[0], [1], [2]], [[0], [1], [2]], [False, True, True],
    ...                [{1}, {0, 2}, {1}], [6, 20, 30], {0: 0, 1: 1, 2: 2}, 3, np.array([6, 20, 30]),
    ...                ((1,), (0, 2), (1,)), 10, True)
    >>> pendant_hosts(d, [0, 1]), pendant_hosts(d, [0, 2])
    ({0: 1}, {})
    """
    cset = set(cluster)
    out: dict[int, int] = {}
    for a in sorted(cset):
        h, seen = a, {a}
        while not d.internal_ok[h] and len(d.area_nb[h]) == 1:
            (nxt,) = d.area_nb[h]
            if nxt in seen:  # two such HWBs touching only each other: the lower hosts
                h = min(seen)
                break
            h = nxt
            seen.add(h)
        if h != a and h in cset and all(b in cset for b in seen):
            out[a] = h
    return out


def cluster_bound(d: UnionsData, cluster, inside: list[float | None], whole: list[int],
                  max_steps: int = MAX_STEPS, deadline: float | None = None) -> tuple[float, bool]:
    """The bound of the module docstring on the people of the HWBs ``cluster`` (local indices of ``d``),
    and whether the search finished (else the per-HWB sum, also a bound).

    Medway-like: HWB 0 (below the floor) touches only HWB 1, which touches HWB 2 outside the cluster::

        0(6) - 1(20) | 2(30)      floor 10; whole = [0, 8, 0], inside = [None, 3, 0]

    >>> import numpy as np
    >>> d = UnionsData([[0], [1, 2], [3]], [[0], [1, 2], [3]], [[0], [1], [2]], [False, True, True],
    ...                [{1}, {0, 2}, {1}], [6, 20, 30], {0: 0, 1: 1, 2: 2, 3: 3}, 4, np.array([6, 12, 8, 30]),
    ...                ((1,), (0, 2), (1, 3), (2,)), 10, True)
    >>> cluster_bound(d, [0, 1], [None, 3.0, 0.0], [0, 8, 0])  # per HWB: 0 + min(8, 3); 0 pendant on 1: 26 - 12
    (14.0, True)
    """
    cl = sorted(cluster)
    if len(cl) > MAX_CLUSTER_HWBS:
        return float(sum(min(whole[a], inside[a]) if inside[a] is not None else whole[a] for a in cl)), False
    cset = set(cl)
    boundary = {a for a in cl if d.area_nb[a] - cset}
    host = pendant_hosts(d, cl)
    tied: dict[int, list[int]] = {a: [a] for a in cl if a not in host}
    for a in sorted(host):
        tied[host[a]].append(a)
    roots = tuple(sorted(tied))

    def people_cost(hwbs) -> float:
        lp = d.label_people([i for b in hwbs for i in d.areas[b]])
        return float(sum(lp.values()) - max(lp.values()))

    ext_cost = {r: float(whole[r]) if len(tied[r]) == 1 else people_cost(tied[r]) for r in roots}
    can_inside = {r: len(tied[r]) == 1 and inside[r] is not None for r in roots}
    opt = {r: min(ext_cost[r], inside[r]) if can_inside[r] else ext_cost[r] for r in roots}
    fallback = float(sum(min(whole[a], inside[a]) if inside[a] is not None else whole[a] for a in cl))
    best = [float("inf")]
    steps = [0]
    ucost: dict[tuple[int, ...], float] = {}
    memo: dict[tuple[int, frozenset[int]], list[tuple[int, ...]]] = {}

    def external_ok(ext: frozenset[int]) -> bool:
        seen: set[int] = set()
        for a in sorted(ext):
            if a in seen:
                continue
            comp, stack = {a}, [a]
            while stack:
                x = stack.pop()
                for y in d.area_nb[x]:
                    if y in ext and y not in comp:
                        comp.add(y)
                        stack.append(y)
            if not comp & boundary:
                return False
            seen |= comp
        return True

    def rec(rest: tuple[int, ...], ext: frozenset[int], cost: float) -> None:
        steps[0] += 1
        if steps[0] > max_steps or (deadline is not None and steps[0] % 1024 == 0 and time.perf_counter() > deadline):
            raise CandidateLimitError("bound search: step limit")
        if cost + sum(opt[r] for r in rest) >= best[0]:
            return
        if not rest:
            if external_ok(ext):
                best[0] = cost
            return
        r, tail = rest[0], rest[1:]
        if can_inside[r]:
            rec(tail, ext, cost + inside[r])
        if boundary:
            rec(tail, ext | {r}, cost + ext_cost[r])
        if d.unions_allowed:
            free = frozenset({b for t in tail for b in tied[t]} | set(tied[r][1:]))
            if (r, free) not in memo:
                memo[r, free] = union_sets(d, r, set(free), deadline=deadline)
            for u in memo[r, free]:
                us = set(u)
                if any(set(tied[t]) & us and not set(tied[t]) <= us for t in (r,) + tail):
                    continue  # a union holds an HWB's pendants with it
                if u not in ucost:
                    ucost[u] = people_cost(u)
                rec(tuple(t for t in tail if t not in us), ext, cost + ucost[u])

    try:
        rec(roots, frozenset(), 0.0)
    except CandidateLimitError:
        return fallback, False
    if best[0] == float("inf"):  # no assignment (an infeasible cluster): the per-HWB sum
        return fallback, False
    return max(best[0], fallback), True


def keeper_donor_bound(d: UnionsData, inside: list[float | None], whole: list[int], run, options,
                       deadline: float | None, cuts: Sequence[tuple[Sequence[int], float]] = ()) -> float:
    """A lower bound on the people moved over the whole block, by roles.

    Pendants join their hosts (:func:`pendant_hosts`) as one *node* ``x``; ``best(x)``
    is the baseline group with most people in ``x``. In a plan, each node is internal
    (cost ``inside(x)``; single HWBs whose pieces reach the floor only), a *keeper* (in
    the union continuing ``best(x)``: cost ``pop(x) - pop(x ∩ best(x))``) or a *donor*
    (in a union continuing another group ``b``: cost ``pop(x) - pop(x ∩ b)``, at least
    ``pop(x) - second(x)``, the people of its second-largest group kept at most). The
    union continuing ``b`` holds every keeper ``B_b = {x: best(x) = b}`` that is in a
    union, reaches the floor and has two HWBs (``|x|`` in node ``x``). Its donors adjacent to
    a keeper are ``f_yb``; when they and the keepers fall short of the floor, one of them
    (``c_yb``) has a neighbour in the union adjacent to no keeper (``g_zb``); a donor is in
    one union. ``m_x`` is at least the people of ``x`` moved, so a lower bound ``L`` on the
    people moved in a set of HWBs (``cuts``, such as :func:`cluster_bound`) holds::

        min  Σ_x m_x
        s.t. m_x >= inside(x) i_x + keep(x) k_x + donor(x) n_x
                    + Σ_b (second(x) - pop(x ∩ b)) (f_xb + c_xb + g_xb)
             i_x + k_x + n_x = 1,  k_x <= o_b (x ∈ B_b),  Σ_b (f_xb + c_xb + g_xb) <= n_x
             Σ_{x ∈ B_b} pop(x) k_x + Σ_{y ∈ N(B_b)} (pop(y) f_yb + floor c_yb) >= floor o_b
             Σ_{x ∈ B_b} |x| k_x + Σ_{y ∈ N(B_b)} (f_yb + c_yb) >= 2 o_b
             c_yb <= Σ_{z ∈ N(y) - B_b} g_zb
             Σ_{x ⊂ C} m_x >= L_C  for each cut (C, L_C) whose nodes lie inside C

    solved as a small integer programme (one node per HWB); a solver that ends early
    gives its bound, none gives 0.

    Two HWBs, each its own baseline group below the floor of 10: one must give up its people.

    >>> import numpy as np
    >>> from ccgmerge.engine.backends import SolverOptions, run
    >>> d = UnionsData([[0], [1]], [[0], [1]], [[0], [1]], [False, False], [{1}, {0}], [6, 7],
    ...                {0: 0, 1: 1}, 2, np.array([6, 7]), ((1,), (0,)), 10, True)
    >>> keeper_donor_bound(d, [None, None], [0, 0], run, SolverOptions(), None)
    6.0
    >>> keeper_donor_bound(d, [None, None], [0, 0], run, SolverOptions(), None, cuts=[([0, 1], 6.5)])
    6.5
    """
    import pulp

    everything = list(range(len(d.areas)))
    host = pendant_hosts(d, everything)
    tied: dict[int, list[int]] = {a: [a] for a in everything if a not in host}
    for a in sorted(host):
        tied[host[a]].append(a)
    nodes = sorted(tied)
    node_of = {a: r for r in nodes for a in tied[r]}
    pop, best, keep, give, second, people = {}, {}, {}, {}, {}, {}
    for r in nodes:
        lp = people[r] = d.label_people([i for a in tied[r] for i in d.areas[a]])
        ranked = sorted(lp.items(), key=lambda e: (-e[1], e[0]))
        pop[r] = sum(lp.values())
        best[r] = ranked[0][0]
        keep[r] = pop[r] - ranked[0][1]
        second[r] = ranked[1][1] if len(ranked) > 1 else 0
        give[r] = pop[r] - second[r]
    nbr = {r: sorted({node_of[b] for a in tied[r] for b in d.area_nb[a]} - {r}) for r in nodes}
    keepers: dict[int, list[int]] = {}
    for r in nodes:
        keepers.setdefault(best[r], []).append(r)
    prob = pulp.LpProblem("keeper_donor_bound", pulp.LpMinimize)
    k = {r: pulp.LpVariable(f"k_{r}", cat="Binary") for r in nodes}
    n = {r: pulp.LpVariable(f"n_{r}", cat="Binary") for r in nodes}
    m = {r: pulp.LpVariable(f"m_{r}", lowBound=0) for r in nodes}
    inner = {r: pulp.LpVariable(f"i_{r}", cat="Binary") for r in nodes if len(tied[r]) == 1 and inside[r] is not None}
    o = {b: pulp.LpVariable(f"o_{b}", cat="Binary") for b in sorted(keepers)}
    near = {b: sorted({y for x in xs for y in nbr[x]} - set(xs)) for b, xs in keepers.items()}
    f = {(y, b): pulp.LpVariable(f"f_{y}_{b}", cat="Binary") for b in sorted(keepers) for y in near[b]}
    c = {(y, b): pulp.LpVariable(f"c_{y}_{b}", cat="Binary") for b in sorted(keepers) for y in near[b]}
    g = {(z, b): pulp.LpVariable(f"g_{z}_{b}", cat="Binary") for b in sorted(keepers)
         for z in sorted({z for y in near[b] for z in nbr[y]} - set(keepers[b]))}
    role: dict[int, list] = {r: [] for r in nodes}  # (b, variable) of every donor role of each node
    for (y, b), v in [*f.items(), *c.items(), *g.items()]:
        role[y].append((b, v))
    prob += pulp.lpSum(m.values())
    for r in nodes:
        prob += k[r] + n[r] + (inner[r] if r in inner else 0) == 1, f"role_{r}"
        prob += k[r] <= o[best[r]], f"keeps_{r}"
        extra = [(second[r] - people[r].get(b, 0)) * v for b, v in role[r]]
        prob += (m[r] >= (inside[r] * inner[r] if r in inner else 0) + keep[r] * k[r] + give[r] * n[r]
                 + pulp.lpSum(extra)), f"moved_{r}"
        prob += pulp.lpSum(v for _, v in role[r]) <= n[r], f"one_union_{r}"
    for b, xs in sorted(keepers.items()):
        fs = [f[y, b] for y in near[b]]
        cs = [c[y, b] for y in near[b]]
        prob += (pulp.lpSum(pop[x] * k[x] for x in xs) + pulp.lpSum(pop[y] * f[y, b] for y in near[b])
                 + d.floor * pulp.lpSum(cs) >= d.floor * o[b]), f"floor_{b}"
        prob += pulp.lpSum(len(tied[x]) * k[x] for x in xs) + pulp.lpSum(fs) + pulp.lpSum(cs) >= 2 * o[b], f"two_{b}"
        for y in near[b]:
            prob += c[y, b] <= pulp.lpSum(g[z, b] for z in nbr[y] if (z, b) in g), f"chain_{y}_{b}"
    for j, (hwbs, lb) in enumerate(cuts):
        cs = set(hwbs)
        inside_c = {node_of[a] for a in cs}
        if all(set(tied[r]) <= cs for r in inside_c):
            prob += pulp.lpSum(m[r] for r in sorted(inside_c)) >= lb, f"cut_{j}"
    left = None if deadline is None else max(1.0, deadline - time.perf_counter())
    out = run(prob, options, left)
    if out.status is Status.OPTIMAL and out.objective is not None:
        return float(out.objective)
    return float(out.bound) if out.bound is not None else 0.0


def aligned_bound(d: UnionsData, clusters, run, options, deadline: float | None, shared: dict) -> tuple[float, dict]:
    """The larger of ``Σ_C cluster_bound(C)`` over ``clusters`` (a partition of ``d``'s HWBs) and
    :func:`keeper_donor_bound` with each cluster's bound as a cut, and a log (that of :func:`inside_bounds`, plus ``clusters``, ``cut``:
    clusters whose search was cut short, ``by_clusters`` and ``by_roles``: the two bounds)."""
    whole = whole_costs(d)
    inside, log = inside_bounds(d, run, options, deadline, shared, whole)
    total, cut, cuts = 0.0, 0, []
    for c in clusters:
        # union_sets reads only this cluster's HWBs (free = the cluster's), so d serves whole
        b, done = cluster_bound(d, c, inside, whole, deadline=None if deadline is None else deadline + 1.0)
        total += b
        cut += not done
        cuts.append((c, b))
    roles = keeper_donor_bound(d, inside, whole, run, options, deadline, cuts)
    return max(total, roles), {**log, "clusters": len(clusters), "cut": cut, "by_clusters": total, "by_roles": roles}
