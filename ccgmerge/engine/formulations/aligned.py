"""Aligned mode: packing inside HWBs and over unions of whole HWBs, with a
search over the unions that hold HWBs lying in several pieces.

Every group either lies within one HWB or is a union of whole HWBs. The
packing model of :mod:`ccgmerge.engine.formulations.packing` handles both
kinds at once (HWBs *internal* or joined whole); when an HWB's units fall in
several connected pieces, a union holding it must also hold HWBs that join
its pieces, which the model (counting HWBs as connected at HWB level) does
not see. :func:`solve_aligned` runs a best-first search whose nodes fix sets
of HWBs (*cores*) that lie whole in one union; see its docstring.
Exact under the same conditions as the packing model
(:func:`~ccgmerge.engine.formulations.packing.packing_why_not_exact`).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ccgmerge.engine.formulations.base import Block, BlockResult, SolveContext, objective_stages
from ccgmerge.engine.formulations.packing import PackingData, PackingFamily, PackingStages, absorb, packing_stages
from ccgmerge.engine.backends import SolverOptions
from ccgmerge.engine.subsets import (CandidateLimitError, connected_pieces, connected_subsets_below, minimal_sets,
                                     rooted_sets)
from ccgmerge.instance import Instance
from ccgmerge.plan import Status
from ccgmerge.rules import aligned_ok, floor_met, groups_connected
from ccgmerge.scenario import Coterminosity, Objective, Scenario

__all__ = ["solve_aligned", "Aligned", "ALIGNED"]


#: most nodes of the split-HWB search before the block goes to the compact model
_ALIGNED_NODE_LIMIT = 2000


@dataclass
class _AlignedBlock:
    """What the nodes of one aligned block share (HWBs by block-local id)."""

    areas: list[int]  # global HWB index of each local HWB
    area_units: list[list[int]]
    pieces: list[list[list[int]]]  # connected pieces of each HWB's units
    internal_ok: list[bool]  # every piece reaches the floor: the HWB may be divided internally
    area_nb: list[list[int]]
    unit_area: dict[int, int]
    split: list[int]  # HWBs in several pieces
    cands: dict[int, list[tuple[int, ...]]]  # minimal groups inside each HWB (filled on demand)


@dataclass(frozen=True)
class _Node:
    """A node of the split-HWB search: ``cores`` are sets of HWBs each known to lie
    whole in one union group (so never divided internally), ``internal`` split
    HWBs known to be divided internally. Split HWBs in neither are free."""

    cores: frozenset[frozenset[int]]
    internal: frozenset[int]


@dataclass
class _NodeResult:
    stages: PackingStages
    groups: list[list[int]] | None  # the model's plan when it meets every rule
    noninternal: set[int]  # free split HWBs the model merged whole
    n_cands: int


def _aligned_block(inst: Instance, block: Block, F: int, area_of: np.ndarray | None = None) -> _AlignedBlock:
    main = inst.main_area_index if area_of is None else area_of
    areas = sorted({int(main[i]) for i in block.units})
    local = {a: k for k, a in enumerate(areas)}
    area_units: list[list[int]] = [[] for _ in areas]
    for i in block.units:
        area_units[local[int(main[i])]].append(i)
    counts = np.bincount(np.asarray(main, dtype=np.int64), minlength=max(areas) + 1)
    for a, us in zip(areas, area_units):  # precondition: every HWB wholly in this block
        if len(us) != counts[a]:
            raise CandidateLimitError(f"HWB {inst.area_codes[a] if a < inst.n_areas else a} is split across components")
    unit_area = {i: h for h, us in enumerate(area_units) for i in us}
    pop = inst.population
    pieces = [connected_pieces(inst.neighbours, us) for us in area_units]
    anb: list[set[int]] = [set() for _ in areas]
    for i in block.units:
        for j in inst.neighbours[i]:
            if unit_area[i] != unit_area[j]:
                anb[unit_area[i]].add(unit_area[j])
    return _AlignedBlock(areas, area_units, pieces, [all(int(pop[p].sum()) >= F for p in ps) for ps in pieces],
                         [sorted(s) for s in anb], unit_area, [h for h, ps in enumerate(pieces) if len(ps) > 1], {})


def _aligned_node_data(inst: Instance, ab: _AlignedBlock, node: _Node, F: int, limit, rooted: bool, key) -> PackingData:
    """The packing model of a node: each core becomes one HWB that may only join
    a union whole; split HWBs (cores included) count as connected at HWB level,
    which relaxes the node unless every core is connected unit by unit and every
    free split HWB stays internal."""
    w = inst.population.tolist()
    incore = {h for c in node.cores for h in c}
    supers = sorted([tuple(sorted(c)) for c in node.cores] + [(h,) for h in range(len(ab.areas)) if h not in incore])
    sid = {h: k for k, t in enumerate(supers) for h in t}
    data = PackingData(units=[i for us in ab.area_units for i in us], cands=[], values=[], aligned=True, n_areas=len(supers))
    data.area_units = [sorted(i for h in t for i in ab.area_units[h]) for t in supers]
    data.internal_ok = [t[0] not in incore and ab.internal_ok[t[0]] for t in supers]
    data.must_internal = {sid[h] for h in node.internal}
    for k, t in enumerate(supers):
        if data.internal_ok[k]:
            h = t[0]
            if h not in ab.cands:
                ab.cands[h] = minimal_sets(inst.neighbours, w, F, nodes=ab.area_units[h], limit=limit)
            data.cands += ab.cands[h]
            data.cand_area += [k] * len(ab.cands[h])
    data.area_nb = [sorted({sid[b] for h in t for b in ab.area_nb[h]} - {k}) for k, t in enumerate(supers)]
    apop = [int(inst.population[us].sum()) for us in data.area_units]
    if rooted:
        amax = [max(us, key=lambda i: key[i]) for us in data.area_units]
        data.area_cands = [S for _, S in rooted_sets(data.area_nb, apop, F, limit=limit, key=[key[r] for r in amax])]
    else:
        data.area_cands = minimal_sets(data.area_nb, apop, F, limit=limit)
    data.below = [S for S, _ in connected_subsets_below(data.area_nb, apop, F, limit=limit)]
    return data


def _aligned_plan_ok(inst: Instance, groups: list[list[int]], units: Sequence[int], scenario: Scenario) -> bool:
    if sorted(i for g in groups for i in g) != sorted(units):
        return False
    return not (groups_connected(inst, groups, scenario) or floor_met(inst, groups, scenario) or aligned_ok(inst, groups, scenario))


def _aligned_node(inst, ab: _AlignedBlock, block: Block, node: _Node, scenario, options, deadline, limit, key,
                  run) -> _NodeResult:
    F = scenario.floor_population
    stages = objective_stages(scenario)
    rooted = any(t is Objective.MOVED and w > 0 for st in stages for t, w in st)
    data = _aligned_node_data(inst, ab, node, F, limit, rooted, key)
    r = packing_stages(inst, data, stages, options, deadline, key, run)
    groups, noninternal = None, set()
    if r.values:
        full = _assemble_aligned(inst, data, r.chosen_y, r.chosen_z, r.internal, F)
        if full is not None and _aligned_plan_ok(inst, full, block.units, scenario):
            groups = full
        internal = {ab.unit_area[data.area_units[k][0]] for k in r.internal}  # cores are never internal
        incore = {h for c in node.cores for h in c}
        noninternal = {h for h in ab.split if h not in incore and h not in node.internal and h not in internal}
    return _NodeResult(r, groups, noninternal, len(data.cands) + len(data.area_cands))


def _aligned_children(inst: Instance, ab: _AlignedBlock, node: _Node, noninternal: set[int]) -> list[_Node] | None:
    """Nodes covering every plan of ``node``, branching on one disconnected core (or
    free split HWB the model merged whole) and its piece Q with the fewest
    neighbouring HWBs: a connected union holding the core also holds an HWB
    next to Q (or, for a free split HWB, the HWB stays internal). None when
    nothing is disconnected."""
    best = None
    options = [(c, False) for c in sorted(node.cores, key=sorted)] + [(frozenset({h}), True) for h in sorted(noninternal)]
    for core, free in options:
        ps = connected_pieces(inst.neighbours, [i for h in sorted(core) for i in ab.area_units[h]])
        if len(ps) <= 1:
            continue
        for Q in ps:
            nbrs = sorted({ab.unit_area[j] for i in Q for j in inst.neighbours[i] if j in ab.unit_area} - core - node.internal)
            if best is None or len(nbrs) < len(best[2]):
                best = (core, free, nbrs)
    if best is None:
        return None
    core, free, nbrs = best
    out = [_Node(node.cores - {core}, node.internal | core)] if free else []
    for b in nbrs:
        grown = set(core) | {b}
        rest = set()
        for c in node.cores - {core}:
            if b in c:
                grown |= c
            else:
                rest.add(c)
        out.append(_Node(frozenset(rest | {frozenset(grown)}), node.internal))
    # first the nodes whose cores are all connected: their models are exact
    return sorted(out, key=lambda n: any(len(connected_pieces(inst.neighbours, [i for h in c for i in ab.area_units[h]])) > 1 for c in n.cores))


def _piece_relaxation(inst, ab: _AlignedBlock, block: Block, scenario, options, deadline, limit, key, run) -> _NodeResult:
    """The packing model with each piece of a split HWB taken as an HWB of its own."""
    piece_of = np.array(inst.main_area_index, dtype=np.int64)
    extra = max(inst.n_areas, int(piece_of.max()) + 1)
    for h in ab.split:
        for p in ab.pieces[h][1:]:
            piece_of[p] = extra
            extra += 1
    pab = _aligned_block(inst, block, scenario.floor_population, area_of=piece_of)
    return _aligned_node(inst, pab, block, _Node(frozenset(), frozenset()), scenario, options, deadline, limit, key, run)


def _lex_cmp(a: Sequence[float], b: Sequence[float]) -> int:
    for x, y in zip(a, b):
        tol = 1e-6 * max(1.0, abs(x), abs(y))
        if x < y - tol:
            return -1
        if x > y + tol:
            return 1
    return 0


def solve_aligned(inst: Instance, block: Block, scenario: Scenario, options: SolverOptions, deadline, limit,
                  run) -> BlockResult:
    """Aligned mode, exact also when HWBs lie in several pieces.

    A union holding such an HWB must hold HWBs joining its pieces. Each node of a
    best-first search fixes sets of HWBs (cores) that lie whole in one union and
    solves the packing model with every core as one HWB counted as connected:
    a relaxation of the node (an upper bound on what it retains), exact when its
    plan meets every rule. Otherwise the node branches on a disconnected core:
    the union holding it also holds an HWB next to one of its pieces. Nodes whose
    bound is no better than the best plan are pruned, so the best plan is optimal
    when the search ends.
    """
    t0 = time.perf_counter()
    F = scenario.floor_population
    stages = objective_stages(scenario)
    key = [(int(p), -i) for i, p in enumerate(inst.population)]
    ab = _aligned_block(inst, block, F)
    root = _Node(frozenset(frozenset({h}) for h in ab.split if not ab.internal_ok[h]), frozenset())
    best: _NodeResult | None = None
    proven = True
    open_bounds: list[float] = []  # first-stage bounds of nodes left unsolved
    heap: list = []
    seen = {root}
    count = [0]

    def visit(node: _Node) -> _NodeResult:
        nonlocal best, proven
        rec = _aligned_node(inst, ab, block, node, scenario, options, deadline, limit, key, run)
        r = rec.stages
        exact = r.status is Status.OPTIMAL and len(r.values) == len(stages)
        if not r.values:
            if r.status is not Status.INFEASIBLE:  # stopped without a plan: the node stays open
                proven = False
                open_bounds.append(-np.inf if r.bound is None else r.bound)
            return rec
        if rec.groups is not None and (best is None or _lex_cmp(r.values, best.stages.values) < 0):
            best = rec
        if not exact:
            proven = False
            open_bounds.append(-np.inf if r.bound is None else r.bound)
        elif rec.groups is None:
            heapq.heappush(heap, (tuple(r.values), count[0], node, rec))
            count[0] += 1
        return rec

    first = visit(root)
    nodes = 1
    floor_vals = None  # lex optimum of the piece relaxation (None: not solved yet / unknown)
    pieces_tried = False
    while heap:
        vals, _, node, rec = heapq.heappop(heap)
        if best is not None and _lex_cmp(vals, best.stages.values) < 0 and not pieces_tried:
            # Before solving more nodes, a second relaxation taking each piece of a split
            # HWB as an HWB of its own: its optimum bounds every plan, and its plan may
            # meet every rule.
            pieces_tried = True
            nodes += 1
            prec = _piece_relaxation(inst, ab, block, scenario, options, deadline, limit, key, run)
            if prec.stages.status is Status.OPTIMAL and len(prec.stages.values) == len(stages):
                floor_vals = prec.stages.values
                if prec.groups is not None and _lex_cmp(floor_vals, best.stages.values) < 0:
                    best = prec
        if best is not None and (_lex_cmp(vals, best.stages.values) >= 0
                                 or (floor_vals is not None and _lex_cmp(best.stages.values, floor_vals) <= 0)):
            heap.clear()  # every open node is no better than the best plan
            break
        if deadline is not None and time.perf_counter() > deadline:
            proven = False
            open_bounds += [vals[0]] + [e[0][0] for e in heap]
            break
        if rec is None:  # a child waiting with its parent's bound: solve it now
            nodes += 1
            visit(node)
            continue
        children = _aligned_children(inst, ab, node, rec.noninternal)
        if children is None:
            raise CandidateLimitError("the aligned packing solution could not be completed into a plan")
        for child in children:
            if child not in seen:
                seen.add(child)
                if len(seen) > _ALIGNED_NODE_LIMIT:
                    raise CandidateLimitError(f"more than {_ALIGNED_NODE_LIMIT} nodes in the split-HWB search")
                heapq.heappush(heap, (vals, count[0], child, None))
                count[0] += 1
    secs = time.perf_counter() - t0
    r0 = first.stages
    detail = (f"{r0.detail}; {first.n_cands} candidates" + (f"; split-HWB search {nodes} nodes" if ab.split else ""))
    if best is None:
        if proven:
            return BlockResult(None, Status.INFEASIBLE, None, None, "packing", secs, detail, r0.n_vars, r0.n_cons)
        return BlockResult(None, Status.NO_SOLUTION, None, min(open_bounds, default=None), "packing", secs, detail,
                            r0.n_vars, r0.n_cons)
    value = best.stages.values[0]
    bound = min([value] + open_bounds)
    status = Status.OPTIMAL if proven else Status.FEASIBLE
    return BlockResult(best.groups, status, value, None if bound == -np.inf else bound, "packing", secs, detail,
                        r0.n_vars, r0.n_cons)


def _is_connected_units(inst: Instance, members) -> bool:
    return len(connected_pieces(inst.neighbours, members)) <= 1


def _assemble_aligned(inst, data: PackingData, chosen_y, chosen_z, internal, F):
    groups: list[list[int]] = []
    internal = set(internal)
    by_area: dict[int, list[list[int]]] = {h: [] for h in internal}
    for k in chosen_y:
        by_area.setdefault(data.cand_area[k], []).append(sorted(data.cands[k]))
    for h in sorted(internal):
        gs = by_area.get(h, [])
        if not gs:  # an internal HWB with no group: take its first candidate
            gs = [sorted(data.cands[k]) for k in range(len(data.cands)) if data.cand_area[k] == h][:1]
        full = absorb(inst, [list(g) for g in gs], data.area_units[h])
        if full is None:  # a piece of the HWB left without a group: add its candidates
            used = {i for g in gs for i in g}
            for k in range(len(data.cands)):
                if data.cand_area[k] == h and not used.intersection(data.cands[k]):
                    gs.append(sorted(data.cands[k]))
                    used.update(data.cands[k])
            full = absorb(inst, [list(g) for g in gs], data.area_units[h])
        if full is None:
            return None
        groups += full
    # non-internal HWBs: whole-HWB groups, then absorb leftover HWBs at HWB level
    owner: dict[int, int] = {}
    hgroups: list[list[int]] = []
    for k in chosen_z:
        hgroups.append(list(data.area_cands[k]))
        for h in data.area_cands[k]:
            owner[h] = len(hgroups) - 1
    rest = [h for h in range(data.n_areas) if h not in internal]

    def units_of(hs):
        return [i for h in hs for i in data.area_units[h]]

    while True:
        progress = True
        while progress:  # attach a leftover HWB to an adjacent group if the union stays connected
            progress = False
            for b in rest:
                if b in owner:
                    continue
                for g in sorted({owner[a] for a in data.area_nb[b] if a in owner}):
                    if _is_connected_units(inst, units_of(hgroups[g] + [b])):
                        owner[b] = g
                        hgroups[g].append(b)
                        progress = True
                        break
        left = [h for h in rest if h not in owner]
        if not left:
            break
        # a non-internal piece with no group (only after a non-optimal solve): add a candidate in it
        added = False
        for C in data.area_cands:
            if all(h in left for h in C):
                hgroups.append(list(C))
                for h in C:
                    owner[h] = len(hgroups) - 1
                added = True
                break
        if not added:
            return None
    for hs in hgroups:
        groups.append(sorted(i for h in hs for i in data.area_units[h]))
    return groups


class Aligned(PackingFamily):
    """Aligned mode's packing model with its split-HWB search; reported as ``packing``."""

    def accepts(self, instance, block, scenario, forced):
        return scenario.coterminosity is Coterminosity.ALIGNED

    def solve_block(self, instance, block, scenario, ctx: SolveContext) -> BlockResult:
        return solve_aligned(instance, block, scenario, ctx.options, ctx.deadline, ctx.candidate_limit, ctx.run)


ALIGNED = Aligned()
