"""The restricted model of one owner set: the restriction and its flow model.

By the path bound (:mod:`ccgmerge.engine.formulations.realign.bounds`),
every plan of S moving fewer than ``U(S) + s`` people has ``x[i, l] = 0``
whenever ``d_l(i) >= s - Σ_{l' != l} c_l'`` (:func:`restrict`), and
satisfies :func:`add_realign_path_costs`. Units left with one label are
*fixed*; the fixed units of one label that touch are contracted into one
node.

**Roots.** A fixed unit of owned baseline ``b`` lies in ``b``'s group, so it
roots ``b``'s single-commodity flow (:func:`add_realign_flow`); a label with
no fixed unit chooses its root among its own baseline's units.
:func:`build_realign` assembles the model, one ``add_realign_*`` function
per constraint family, and :func:`read_groups` reads a solution's groups.
"""

from __future__ import annotations

import time

import pulp

from ccgmerge.engine.formulations.realign.data import RealignData, Restriction
from ccgmerge.engine.formulations.realign.bounds import label_distances

__all__ = ["BuildStopped", "restrict", "add_realign_assignment", "add_realign_floor", "add_realign_neighbour_cuts",
           "add_realign_path_costs", "add_realign_flow", "build_realign", "read_groups"]


def restrict(d: RealignData, S: tuple[int, ...], U: int, slack: float, costs: dict[int, float]) -> Restriction | None:
    """The restricted model of owner set S holding every plan of S that moves
    fewer than U + slack people: x[i, l] is allowed when base(i) = l or

        d_l(i) < slack - Σ_{l' ∈ S - {l}} c_l'

    (moving i into l's group costs at least d_l(i) there and every other group
    its c_l'). None when some unit is left with no label."""
    total_c = sum(costs.values())
    owned = set(S)
    labels: dict[int, tuple[int, ...]] = {}
    dist = {l: label_distances(d, S, l) for l in S}
    for i in d.units:
        b = d.base[i]
        al = tuple(l for l in S if l == b or dist[l].get(i, float("inf")) < slack - (total_c - costs[l]))
        if not al:
            return None
        labels[i] = al
    # contract touching units fixed to the same label
    node_of: dict[int, int] = {}
    nodes: list[list[int]] = []
    fixed: list[int | None] = []
    for i in d.units:
        if i in node_of:
            continue
        k = len(nodes)
        if len(labels[i]) == 1:
            l = labels[i][0]
            comp, stack = [i], [i]
            node_of[i] = k
            while stack:
                v = stack.pop()
                for u in d.nb[v]:
                    if u not in node_of and labels[u] == (l,):
                        node_of[u] = k
                        comp.append(u)
                        stack.append(u)
            nodes.append(sorted(comp))
            fixed.append(l)
        else:
            node_of[i] = k
            nodes.append([i])
            fixed.append(None)
    adj = [set() for _ in nodes]
    for i in d.units:
        for u in d.nb[i]:
            a, b = node_of[i], node_of[u]
            if a != b:
                adj[a].add(b)
    npop = [int(sum(int(d.pop[i]) for i in n)) for n in nodes]
    nbase = [d.base[n[0]] if fixed[k] is None else None for k, n in enumerate(nodes)]
    allowed = [labels[n[0]] for n in nodes]
    constant = U + sum(int(d.pop[i]) for k, n in enumerate(nodes) if fixed[k] is not None
                       for i in n if d.base[i] in owned and d.base[i] != fixed[k])
    roots: dict[int, int | None] = {}
    cands: dict[int, list[int]] = {}
    for l in S:
        fx = [k for k in range(len(nodes)) if fixed[k] == l and any(d.base[i] == l for i in nodes[k])]
        roots[l] = max(fx, key=lambda k: (npop[k], -k)) if fx else None
        cands[l] = [] if fx else [k for k in range(len(nodes)) if fixed[k] is None and nbase[k] == l]
    return Restriction(S, slack, nodes, fixed, allowed, npop, nbase, [sorted(a) for a in adj], roots, cands, constant,
                       dist, dict(costs))


def _members(r: Restriction, l: int) -> list[int]:
    return [k for k in range(len(r.nodes)) if l in r.allowed[k]]


def add_realign_assignment(prob, x, r: Restriction):
    """Every free node takes one label: Σ_{l ∈ allowed(k)} x[k, l] = 1."""
    for k in range(len(r.nodes)):
        if r.fixed[k] is None:
            prob += pulp.lpSum(x[k, l] for l in r.allowed[k]) == 1, f"assign_{k}"


def add_realign_floor(prob, x, r: Restriction, floor: int):
    """Every owned label's group reaches the floor: Σ_k pop_k x[k, l] >= floor."""
    for l in r.S:
        prob += pulp.lpSum(r.npop[k] * x[k, l] for k in _members(r, l)) >= floor, f"floor_{l}"


def add_realign_neighbour_cuts(prob, x, r: Restriction, floor: int):
    """A free node below the floor that is not a root candidate has a member
    neighbour in its group: x[k, l] <= Σ_{s ∈ N(k)} x[s, l]."""
    for k in range(len(r.nodes)):
        if r.fixed[k] is not None or r.npop[k] >= floor:
            continue
        for l in r.allowed[k]:
            if k in r.cands[l]:
                continue
            prob += x[k, l] <= pulp.lpSum(x[s, l] for s in r.adj[k] if l in r.allowed[s]), f"nb_{k}_{l}"


class BuildStopped(Exception):
    """The time limit passed while a restricted model was being built (checked per label)."""


def _check(deadline: float | None) -> None:
    if deadline is not None and time.perf_counter() > deadline:
        raise BuildStopped("the time limit passed while building the restricted model")


def add_realign_path_costs(prob, x, r: Restriction, dist: dict[int, dict[int, float]], costs: dict[int, float],
                           deadline: float | None = None):
    """The paid people of label l's group (those of other owned baseline groups),
    P_l = Σ_{k: nbase(k) ∈ S - {l}} pop_k x[k, l], cover its bound and the path
    from each member to a unit of l (label_cost, label_distances)::

        P_l >= c_l,   P_l >= d_l(k) x[k, l]   for every free node k allowed l."""
    owned = set(r.S)
    for l in r.S:
        _check(deadline)
        paid = [r.npop[k] * x[k, l] for k in _members(r, l) if r.fixed[k] is None and r.nbase[k] in owned and r.nbase[k] != l]
        P = pulp.lpSum(paid)
        if costs.get(l, 0) > 0:
            prob += P >= costs[l], f"paid_{l}"
        for k in _members(r, l):
            if r.fixed[k] is not None:
                continue
            dk = min(dist[l].get(i, float("inf")) for i in r.nodes[k])
            if dk > costs.get(l, 0) and dk < float("inf"):
                prob += P >= dk * x[k, l], f"path_{k}_{l}"


def add_realign_flow(prob, x, r: Restriction, deadline: float | None = None):
    """Single-commodity flow per label l from its root over the nodes allowed
    l (M_l = their number less one): f[a, b, l] <= M_l x[b, l]; for a fixed root,
    inflow - outflow = x[k, l] at every other node; for a chosen root,
    Σ_k ρ[k, l] = 1, ρ[k, l] <= x[k, l] and inflow - outflow >= x[k, l] - (M_l + 1) ρ[k, l]
    (the root's own unit and one for each of up to M_l other members)."""
    rho = {}
    for l in r.S:
        _check(deadline)
        mem = _members(r, l)
        ms = set(mem)
        M = max(1, len(mem) - 1)
        fin: dict[int, list] = {k: [] for k in mem}
        fout: dict[int, list] = {k: [] for k in mem}
        root = r.roots[l]
        for a in mem:
            for b in r.adj[a]:
                if b not in ms or b == root:
                    continue
                f = pulp.LpVariable(f"f_{a}_{b}_{l}", lowBound=0, upBound=M)
                fin[b].append(f)
                fout[a].append(f)
                if r.fixed[b] is None:
                    prob += f <= M * x[b, l], f"cap_{a}_{b}_{l}"
        if root is not None:
            for k in mem:
                if k != root:
                    prob += pulp.lpSum(fin[k]) - pulp.lpSum(fout[k]) == x[k, l], f"bal_{k}_{l}"
        else:
            cs = set(r.cands[l])
            for k in r.cands[l]:
                rho[k, l] = pulp.LpVariable(f"rho_{k}_{l}", cat="Binary")
                prob += rho[k, l] <= x[k, l], f"rootin_{k}_{l}"
            prob += pulp.lpSum(rho[k, l] for k in r.cands[l]) == 1, f"oneroot_{l}"
            for k in mem:
                # a chosen root sends a unit to each other member of its group (up to
                # len(mem) - 1) and keeps its own: its outflow may reach len(mem) - 1
                rhs = x[k, l] - len(mem) * rho[k, l] if k in cs else x[k, l]
                prob += pulp.lpSum(fin[k]) - pulp.lpSum(fout[k]) >= rhs, f"bal_{k}_{l}"
    return rho


def build_realign(r: Restriction, floor: int, name: str = "realign", deadline: float | None = None):
    """The restricted model of one owner set; returns (problem, x)::

        min  constant + Σ_{free k} pop_k (1 - x[k, base(k)])    people moved
        s.t. add_realign_assignment, add_realign_floor, add_realign_neighbour_cuts,
             add_realign_path_costs, add_realign_flow

    ``x[k, l]`` is the constant 1 for a node fixed to l. Past ``deadline`` (checked
    between families and per label in the largest): :class:`BuildStopped`."""
    prob = pulp.LpProblem(name, pulp.LpMinimize)
    x: dict[tuple[int, int], object] = {}
    for k in range(len(r.nodes)):
        if r.fixed[k] is not None:
            x[k, r.fixed[k]] = 1
        else:
            for l in r.allowed[k]:
                x[k, l] = pulp.LpVariable(f"x_{k}_{l}", cat="Binary")
    owned = set(r.S)
    obj = [r.npop[k] * (1 - x.get((k, r.nbase[k]), 0)) for k in range(len(r.nodes))
           if r.fixed[k] is None and r.nbase[k] in owned]
    prob += pulp.lpSum(obj) + r.constant
    _check(deadline)
    add_realign_assignment(prob, x, r)
    add_realign_floor(prob, x, r, floor)
    add_realign_neighbour_cuts(prob, x, r, floor)
    _check(deadline)
    add_realign_path_costs(prob, x, r, r.dist, r.costs, deadline)
    add_realign_flow(prob, x, r, deadline)
    return prob, x


def read_groups(r: Restriction, x) -> dict[int, list[int]]:
    """The groups (sorted units per label) of a solved restricted model, from its ``x``."""
    groups: dict[int, list[int]] = {l: [] for l in r.S}
    for (k, l), v in x.items():
        val = v if isinstance(v, int) else v.varValue
        if val is not None and val > 0.5:
            groups[l].extend(r.nodes[k])
    return {l: sorted(g) for l, g in groups.items()}
