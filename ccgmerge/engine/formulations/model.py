"""PuLP model builders, one function per constraint family.

Two formulations:

**Packing** (:func:`build_packing`), exact for the objectives ``merges`` and
``moved`` (every unit its own baseline group) without ceilings or pair
locks. With ``C`` the inclusion-minimal connected candidate groups reaching
the floor (:mod:`ccgmerge.engine.subsets`), binary ``y_S`` for ``S`` in ``C``::

    max  Σ_S value(S) y_S                          value = w_merges + w_moved * pop(root(S))
    s.t. Σ_{S ∋ u} y_S <= 1          for every unit u   (add_packing_rows)

Every unit left out touches a chosen group (each block is connected and
reaches the floor) and is absorbed into it, which keeps groups connected,
viable, and never lowers the value; any plan contains one candidate per
group, so the packing optimum is the plan optimum. In ``aligned`` mode HWBs
either stay *internal* (``s_h = 1``: packed with candidates inside the HWB) or
join a union of whole HWBs (HWB-level candidates ``z_C``), and every connected
set ``K`` of HWBs below the floor must not be left as a whole component of
non-internal HWBs (add_aligned_absorption).

**Partition** (:func:`build_partition`), exact for objectives and limits on
``merges``, ``noncoterminous`` and ``moved`` (every unit its own baseline) with
coterminosity ``off``, ``nested`` or ``penalised``, ceilings and ``apart``
locks: a set-partitioning model over the *unsplittable* viable connected
groups (:func:`ccgmerge.engine.subsets.unsplittable_sets`), binary ``x_G``::

    min  Σ_G cost(G) x_G                   cost = Σ_t w_t c_t(G), additive over groups
    s.t. Σ_{G ∋ u} x_G = 1           for every unit u     (add_partition_rows)
         Σ_G c_t(G) x_G <= ε_t        for every limit t   (add_partition_limits)

with ``c_merges(G) = |G| - 1``, ``c_moved(G) = pop(G) - max_{u ∈ G} pop(u)``,
``c_noncoterminous(G) = pop(G) - max_h pop(G ∩ h)``. Splitting a group into
two connected viable parts keeps every rule and never raises any of these
terms (each is superadditive), so some optimal plan uses unsplittable groups
only.

**Compact** (:func:`build_compact`), exact for everything: the assignment
model of Hess et al. (1965) with ``x[i, j] = 1`` when unit ``i`` joins the
group whose *root* is ``j``; a group's root is its member of largest
population (ties: smallest position), which breaks symmetry. Contiguity is
imposed by separator cuts, added in rounds (:func:`add_separator_cuts`).

All problems are minimisations (of disruption).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pulp

from ccgmerge.engine.subsets import connected_pieces

__all__ = [
    "PartitionData",
    "build_partition",
    "PackingData",
    "build_packing",
    "CompactData",
    "build_compact",
    "add_separator_cuts",
]


# ---------------------------------------------------------------------------
# packing
# ---------------------------------------------------------------------------
@dataclass
class PackingData:
    """Inputs of a packing model over one block of units.

    ``cands``: unit-level candidates (frozen sets of unit positions) with
    ``values``; in aligned mode ``cand_area[k]`` is the HWB (block-local id)
    holding candidate k, ``area_cands`` the HWB-level candidates (tuples of
    HWB ids) with ``area_values``, ``below`` the connected HWB sets below
    the floor, ``area_nb`` HWB adjacency, ``internal_ok[h]`` whether HWB h can
    be split internally, ``must_internal`` HWBs that may not be merged whole.
    """

    units: list[int]
    cands: list[tuple[int, ...]]
    values: list[float]
    aligned: bool = False
    n_areas: int = 0
    cand_area: list[int] = field(default_factory=list)
    area_units: list[list[int]] = field(default_factory=list)
    area_cands: list[tuple[int, ...]] = field(default_factory=list)
    area_values: list[float] = field(default_factory=list)
    below: list[tuple[int, ...]] = field(default_factory=list)
    area_nb: list[list[int]] = field(default_factory=list)
    internal_ok: list[bool] = field(default_factory=list)
    must_internal: set[int] = field(default_factory=set)


def add_packing_rows(prob, y, data: PackingData, s=None, z=None):
    """Each unit in at most one chosen group:

    Σ_{S ∋ u} y_S <= 1, or in aligned mode Σ_{S ∋ u} y_S <= s_h(u) and
    Σ_{C ∋ h} z_C <= 1 - s_h.
    """
    rows: dict[int, list] = {}
    for k, S in enumerate(data.cands):
        for u in S:
            rows.setdefault(u, []).append(y[k])
    for u in sorted(rows):
        if data.aligned:
            continue
        if len(rows[u]) > 1:
            prob += pulp.lpSum(rows[u]) <= 1, f"pack_{u}"
    if data.aligned:
        unit_area = {u: h for h, us in enumerate(data.area_units) for u in us}
        for u in sorted(rows):
            prob += pulp.lpSum(rows[u]) <= s[unit_area[u]], f"pack_{u}"
        arows: dict[int, list] = {}
        for k, C in enumerate(data.area_cands):
            for h in C:
                arows.setdefault(h, []).append(z[k])
        for h in range(data.n_areas):
            prob += pulp.lpSum(arows.get(h, [])) + s[h] <= 1, f"area_pack_{h}"


def add_aligned_absorption(prob, s, data: PackingData):
    """No connected set K of HWBs below the floor may be a whole component of
    the non-internal HWBs (it could join no group):

    Σ_{h ∈ K} (1 - s_h) - (|K| - 1) <= Σ_{h' ∈ N(K)} (1 - s_h').
    """
    for k, K in enumerate(data.below):
        Ks = set(K)
        nbh = sorted({v for h in K for v in data.area_nb[h]} - Ks)
        prob += (
            pulp.lpSum(1 - s[h] for h in K) - (len(K) - 1) <= pulp.lpSum(1 - s[h] for h in nbh),
            f"absorb_{k}",
        )


def build_packing(data: PackingData, name: str = "packing"):
    """The packing model; returns (problem, y, s, z). Objective: minimise
    -Σ value * y (values are the retained value of each group)."""
    prob = pulp.LpProblem(name, pulp.LpMinimize)
    y = [pulp.LpVariable(f"y_{k}", cat="Binary") for k in range(len(data.cands))]
    s = z = None
    obj = [-v * y[k] for k, v in enumerate(data.values)]
    if data.aligned:
        s = []
        for h in range(data.n_areas):
            if not data.internal_ok[h]:
                s.append(0)
            elif h in data.must_internal:
                s.append(1)
            else:
                s.append(pulp.LpVariable(f"s_{h}", cat="Binary"))
        z = [pulp.LpVariable(f"z_{k}", cat="Binary") for k in range(len(data.area_cands))]
        obj += [-v * z[k] for k, v in enumerate(data.area_values)]
        add_aligned_absorption(prob, s, data)
    prob += pulp.lpSum(obj)
    add_packing_rows(prob, y, data, s, z)
    return prob, y, s, z


# ---------------------------------------------------------------------------
# partition
# ---------------------------------------------------------------------------
@dataclass
class PartitionData:
    """Inputs of a partition model over one block: candidate groups (sorted
    tuples of unit positions) and each one's per-term costs
    ``costs[term][k]`` (``term`` in ``merges``, ``moved``, ``noncoterminous``)."""

    units: list[int]
    cands: list[tuple[int, ...]]
    costs: dict[str, list[float]]


def add_partition_rows(prob, x, data: PartitionData):
    """Each unit in exactly one chosen group: Σ_{G ∋ u} x_G = 1."""
    rows: dict[int, list] = {u: [] for u in data.units}
    for k, G in enumerate(data.cands):
        for u in G:
            rows[u].append(x[k])
    for u in sorted(rows):
        prob += pulp.lpSum(rows[u]) == 1, f"part_{u}"


def add_partition_limits(prob, x, data: PartitionData, limits: dict[str, float]):
    """Limits on totals: Σ_G c_t(G) x_G <= ε_t for each limited term t."""
    for t, eps in sorted(limits.items()):
        prob += pulp.lpSum(c * x[k] for k, c in enumerate(data.costs[t]) if c) <= eps, f"limit_{t}"


def partition_objective(x, data: PartitionData, stage: dict[str, float]):
    """Σ_G (Σ_t w_t c_t(G)) x_G for one objective stage {term: weight}."""
    expr = []
    for k in range(len(data.cands)):
        c = sum(w * data.costs[t][k] for t, w in stage.items() if w)
        if c:
            expr.append(c * x[k])
    return pulp.lpSum(expr)


def build_partition(data: PartitionData, limits: dict[str, float] | None = None, name: str = "partition"):
    """The partition model without its objective; returns (problem, x)."""
    prob = pulp.LpProblem(name, pulp.LpMinimize)
    x = [pulp.LpVariable(f"x_{k}", cat="Binary") for k in range(len(data.cands))]
    add_partition_rows(prob, x, data)
    if limits:
        add_partition_limits(prob, x, data, limits)
    return prob, x


# ---------------------------------------------------------------------------
# compact (Hess) model
# ---------------------------------------------------------------------------
@dataclass
class CompactData:
    """Inputs of the compact model over one block (positions are global)."""

    units: list[int]
    pop: np.ndarray
    nb: Sequence[Sequence[int]]
    floor: int
    ceiling: float | None = None
    max_units: int | None = None
    main_area: np.ndarray | None = None  # global unit -> area index
    mode: str = "off"
    alone: set[int] = field(default_factory=set)
    together: list[tuple[int, int]] = field(default_factory=list)
    apart: list[tuple[int, int]] = field(default_factory=list)
    contiguity: bool = True
    must_internal: set[int] = field(default_factory=set)
    symmetry: bool = True  # root = largest member; False: any member may be the root


def _key(pop, i):
    return (int(pop[i]), -i)


def add_assignment(prob, x, d: CompactData):
    """Every unit joins exactly one group: Σ_j x[i, j] = 1."""
    by_unit: dict[int, list] = {}
    for (i, j), v in x.items():
        by_unit.setdefault(i, []).append(v)
    for i in d.units:
        prob += pulp.lpSum(by_unit[i]) == 1, f"assign_{i}"


def add_root_link(prob, x, d: CompactData):
    """Only open groups take members: x[i, j] <= x[j, j]."""
    for (i, j), v in x.items():
        if i != j:
            prob += v <= x[j, j], f"link_{i}_{j}"


def add_floor(prob, x, members, d: CompactData):
    """Open groups reach the floor: Σ_i pop_i x[i, j] >= floor * x[j, j]."""
    for j, mem in members.items():
        prob += pulp.lpSum(int(d.pop[i]) * x[i, j] for i in mem) >= d.floor * x[j, j], f"floor_{j}"


def add_ceiling(prob, x, members, d: CompactData):
    """Σ_i pop_i x[i, j] <= ceiling * x[j, j] and Σ_i x[i, j] <= max_units * x[j, j]."""
    for j, mem in members.items():
        if d.ceiling is not None:
            prob += pulp.lpSum(int(d.pop[i]) * x[i, j] for i in mem) <= d.ceiling * x[j, j], f"ceiling_{j}"
        if d.max_units is not None:
            prob += pulp.lpSum(x[i, j] for i in mem) <= d.max_units * x[j, j], f"maxunits_{j}"


def add_neighbour_cuts(prob, x, d: CompactData):
    """A non-root member has a neighbour in its group: x[i, j] <= Σ_{s ∈ N(i)} x[s, j]."""
    for (i, j), v in x.items():
        if i == j:
            continue
        terms = [x[s, j] for s in d.nb[i] if (s, j) in x]
        prob += v <= pulp.lpSum(terms), f"nbcut_{i}_{j}"


def add_aligned(prob, x, members, d: CompactData, area_units: dict[int, list[int]]):
    """Aligned HWBs: a group rooted in HWB a may take units of another HWB h only
    whole, v[h, j] = x[i, j] for all i in h, and then holds all of a:
    x[i, j] >= v[h, j] for i in a. HWBs in ``must_internal`` are never merged whole."""
    v = {}
    for j, mem in members.items():
        a = int(d.main_area[j])
        foreign = sorted({int(d.main_area[i]) for i in mem} - {a})
        for h in foreign:
            var = pulp.LpVariable(f"v_{h}_{j}", cat="Binary")
            v[h, j] = var
            hu = area_units[h]
            for i in hu:
                if (i, j) in x:
                    prob += x[i, j] == var, f"whole_{h}_{j}_{i}"
                else:
                    prob += var == 0, f"whole_{h}_{j}_{i}"
            if h in d.must_internal or a in d.must_internal:
                prob += var == 0, f"internal_{h}_{j}"
            for i in area_units[a]:
                if (i, j) in x:
                    prob += x[i, j] >= var, f"own_{h}_{j}_{i}"
                else:
                    prob += var == 0, f"own_{h}_{j}_{i}_none"
    return v


def add_locks(prob, x, d: CompactData):
    """Pairs kept together (x[a, j] = x[b, j]) or apart (x[a, j] + x[b, j] <= 1)."""
    roots = sorted({j for _, j in x})
    for a, b in d.together:
        for j in roots:
            xa, xb = x.get((a, j), 0), x.get((b, j), 0)
            if isinstance(xa, int) and isinstance(xb, int):
                continue
            prob += xa == xb, f"together_{a}_{b}_{j}"
    for a, b in d.apart:
        for j in roots:
            if (a, j) in x and (b, j) in x:
                prob += x[a, j] + x[b, j] <= 1, f"apart_{a}_{b}_{j}"


def compact_variables(d: CompactData) -> dict[tuple[int, int], pulp.LpVariable]:
    """x[i, j] for every unit i and every possible root j: j has a larger key than
    i (symmetry breaking: a group's root is its largest member; with
    ``d.symmetry`` off any member may be the root, so every plan has as many
    encodings as it has ways to pick roots), lies in i's block (and main HWB
    in nested mode), and i and j fit under the ceiling together. Built in
    sorted order."""
    x = {}
    units = sorted(d.units)
    pop = d.pop
    for j in units:
        if j in d.alone:
            x[j, j] = pulp.LpVariable(f"x_{j}_{j}", cat="Binary")
            continue
        x[j, j] = pulp.LpVariable(f"x_{j}_{j}", cat="Binary")
    for i in units:
        if i in d.alone:
            continue
        ki = _key(pop, i)
        for j in units:
            if j == i or j in d.alone or (d.symmetry and _key(pop, j) <= ki):
                continue
            if d.mode == "nested" and d.main_area[i] != d.main_area[j]:
                continue
            if d.ceiling is not None and pop[i] + pop[j] > d.ceiling:
                continue
            x[i, j] = pulp.LpVariable(f"x_{i}_{j}", cat="Binary")
    return x


def build_compact(d: CompactData, name: str = "compact"):
    """The compact model without objective; returns (problem, x, members, v)."""
    prob = pulp.LpProblem(name, pulp.LpMinimize)
    x = compact_variables(d)
    members: dict[int, list[int]] = {}
    for i, j in x:
        members.setdefault(j, []).append(i)
    for j in members:
        members[j].sort()
    add_assignment(prob, x, d)
    add_root_link(prob, x, d)
    add_floor(prob, x, members, d)
    add_ceiling(prob, x, members, d)
    if d.contiguity:
        add_neighbour_cuts(prob, x, d)
    v = {}
    if d.mode == "aligned":
        area_units: dict[int, list[int]] = {}
        for i in d.units:
            area_units.setdefault(int(d.main_area[i]), []).append(i)
        v = add_aligned(prob, x, members, d, area_units)
    add_locks(prob, x, d)
    return prob, x, members, v


def set_compact_start(x, groups: Sequence[Sequence[int]], pop) -> bool:
    """Initial values for a warm start: x[i, r] = 1 for the members i of each
    group with root r its largest member, every other x 0. False (and no
    values set) if some pair has no variable."""
    pairs = set()
    for g in groups:
        r = max(g, key=lambda i: _key(pop, i))
        pairs |= {(i, r) for i in g}
    if any(p not in x for p in pairs):
        return False
    for k, v in x.items():
        v.setInitialValue(1 if k in pairs else 0)
    return True


def add_separator_cuts(prob, x, d: CompactData, groups: dict[int, list[int]], round_no: int) -> int:
    """For each group whose members are not connected: every piece T not holding
    the root j is cut off from j by its neighbourhood N(T) (outside T), so

        x[i, j] <= Σ_{s ∈ N(T)} x[s, j]   for every i in T.

    Returns the number of cuts added."""
    added = 0
    for j, mem in groups.items():
        comps = connected_pieces(d.nb, mem)
        if len(comps) <= 1:
            continue
        for comp in comps:
            if j in comp:
                continue
            cs = set(comp)
            boundary = sorted({w for v in comp for w in d.nb[v]} - cs)
            terms = [x[s, j] for s in boundary if (s, j) in x]
            for i in comp:
                if (i, j) in x:
                    prob += x[i, j] <= pulp.lpSum(terms), f"sep_{round_no}_{added}"
                    added += 1
    return added


# ---------------------------------------------------------------------------
# labelled model (boundary realignment from a baseline grouping)
# ---------------------------------------------------------------------------
@dataclass
class LabelledData:
    """Inputs of the labelled model: units of a block, their baseline label
    (index into ``labels``), populations, adjacency, floor and pair locks."""

    units: list[int]
    labels: list[str]
    base: dict[int, int]
    pop: np.ndarray
    nb: Sequence[Sequence[int]]
    floor: int
    together: list[tuple[int, int]] = field(default_factory=list)
    apart: list[tuple[int, int]] = field(default_factory=list)
    piece: dict[int, int] | None = None  # nested mode: unit -> HWB piece


def build_labelled(d: LabelledData, name: str = "labelled"):
    """Each resulting group continues one baseline group (its *label*);
    ``x[i, l] = 1`` when unit i ends in the group labelled l::

        min  Σ_i pop_i (1 - x[i, base(i)])              people moved
        s.t. Σ_l x[i, l] = 1                            (add_label_assignment)
             x[i, l] <= u_l,  Σ_i pop_i x[i, l] >= floor * u_l
             x[i, l] <= Σ_{s ∈ N(i)} x[s, l]           (pop_i < floor: a member has a member neighbour)
             pair locks; separator cuts added in rounds (add_label_separator_cuts)

    Labels are the baseline groups plus one new label per connected component of
    the block. Exact for the ``moved`` objective without a ceiling: a group that
    continues no baseline group has moved all its people, and merging it into a
    neighbour in its component moves no one more, so one such group per
    component (when the component has no other) is all a plan needs.
    Returns (problem, x, u)."""
    prob = pulp.LpProblem(name, pulp.LpMinimize)
    L = range(len(d.labels))
    x = {(i, l): pulp.LpVariable(f"x_{i}_{l}", cat="Binary") for i in sorted(d.units) for l in L}
    u = [pulp.LpVariable(f"u_{l}", cat="Binary") for l in L]
    prob += pulp.lpSum(-int(d.pop[i]) * x[i, d.base[i]] for i in d.units)
    for i in sorted(d.units):
        prob += pulp.lpSum(x[i, l] for l in L) == 1, f"assign_{i}"
    inside = set(d.units)
    for l in L:
        prob += pulp.lpSum(int(d.pop[i]) * x[i, l] for i in d.units) >= d.floor * u[l], f"floor_{l}"
        for i in sorted(d.units):
            prob += x[i, l] <= u[l], f"used_{i}_{l}"
            if d.pop[i] < d.floor:  # i's group has another member, so i has a neighbour in it
                nbs = [x[s, l] for s in d.nb[i] if s in inside]
                prob += x[i, l] <= pulp.lpSum(nbs), f"nbcut_{i}_{l}"
    for a, b in d.together:
        for l in L:
            prob += x[a, l] == x[b, l], f"together_{a}_{b}_{l}"
    for a, b in d.apart:
        for l in L:
            prob += x[a, l] + x[b, l] <= 1, f"apart_{a}_{b}_{l}"
    if d.piece is not None and len(set(d.piece.values())) > 1:
        # nested: each label's group lies in one HWB piece, x[i, l] <= p[l, piece(i)], Σ_P p[l, P] <= 1
        pieces = sorted(set(d.piece.values()))
        for l in L:
            p = {P: pulp.LpVariable(f"p_{l}_{P}", cat="Binary") for P in pieces}
            prob += pulp.lpSum(p.values()) <= 1, f"onepiece_{l}"
            for i in sorted(d.units):
                prob += x[i, l] <= p[d.piece[i]], f"inpiece_{i}_{l}"
    return prob, x, u


def add_label_separator_cuts(prob, x, d: LabelledData, groups: dict[int, list[int]], round_no: int) -> int:
    """For a label whose members fall in several pieces, keep the piece that
    retains most baseline people (holding unit k) and cut every other piece T off::

        x[i, l] + x[k, l] - 1 <= Σ_{s ∈ N(T)} x[s, l]   for every i in T.

    Returns the number of cuts added."""
    added = 0
    for l, mem in groups.items():
        comps = connected_pieces(d.nb, mem)
        if len(comps) <= 1:
            continue
        keep = max(comps, key=lambda c: (sum(int(d.pop[i]) for i in c if d.base[i] == l), len(c), -c[0]))
        k = max(keep, key=lambda i: (d.base[i] == l, int(d.pop[i]), -i))
        for comp in comps:
            if comp is keep:
                continue
            boundary = sorted({w for v in comp for w in d.nb[v] if (w, l) in x} - set(comp))
            for i in comp:
                prob += x[i, l] + x[k, l] - 1 <= pulp.lpSum(x[s, l] for s in boundary), f"lsep_{round_no}_{added}"
                added += 1
    return added
