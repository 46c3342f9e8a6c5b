"""Preprocessing: cheap proofs of infeasibility, and independent blocks.

:func:`preprocess` proves infeasibility where it is cheap, naming the
blockers: a unit locked alone below the floor, a unit above the ceiling, a
component (or, in ``nested`` mode, an HWB's connected piece) whose whole
population is below the floor, lock pairs that cannot be honoured; in
``aligned`` mode, an HWB that lies in several components with a piece below
the floor. It then
splits the instance into independent blocks: connected components, and in
``nested`` mode each HWB's connected pieces. Blocks that share a baseline
group are kept together when the objective needs the baseline; in
``aligned`` mode, blocks that share an HWB.

Examples
--------
>>> import ccgmerge.data.synthetic as syn
>>> from ccgmerge.scenario import Scenario
>>> blocks, fixed, why = preprocess(syn.generate(20, seed=2), Scenario(floor=400_000))
>>> len(blocks), fixed, why is None
(1, [], True)
"""

from __future__ import annotations

from ccgmerge.engine.formulations.base import Block
from ccgmerge.engine.subsets import connected_pieces
from ccgmerge.errors import ScenarioError
from ccgmerge.instance import Instance
from ccgmerge.plan import Infeasibility
from ccgmerge.scenario import Coterminosity, Objective, Scenario

__all__ = ["Block", "preprocess", "merge_blocks"]


def merge_blocks(blocks: list[Block], key) -> list[Block]:
    """Union of the blocks whose units share a ``key`` value (union-find, deterministic)."""
    if len(blocks) <= 1:
        return blocks
    parent = list(range(len(blocks)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first: dict = {}
    for k, b in enumerate(blocks):
        for i in b.units:
            g = key(i)
            if g in first:
                ra, rb = find(first[g]), find(k)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
            else:
                first[g] = k
    merged: dict[int, Block] = {}
    for k, b in enumerate(blocks):
        r = find(k)
        if r in merged:
            merged[r] = Block(sorted(merged[r].units + b.units), merged[r].label + " + " + b.label)
        else:
            merged[r] = Block(list(b.units), b.label)
    return [merged[k] for k in sorted(merged)]


def _split_hwbs(inst: Instance, comps: list[list[int]], F: int) -> Infeasibility | None:
    """Aligned mode: an HWB whose units lie in several components of the adjacency graph is in no
    union of whole HWBs (a union is connected and holds all of it), so every connected piece of it
    must reach the floor on its own; the HWBs with a piece that does not, or None."""
    main = inst.main_area_index
    pop = inst.population
    comp_of = {i: k for k, c in enumerate(comps) for i in c}
    by_area: dict[int, list[int]] = {}
    for i in comp_of:
        by_area.setdefault(int(main[i]), []).append(i)
    blockers = []
    for a in sorted(by_area):
        if len({comp_of[i] for i in by_area[a]}) < 2:
            continue
        pieces = connected_pieces(inst.neighbours, sorted(by_area[a]))
        small = [(p, int(pop[p].sum())) for p in pieces if int(pop[p].sum()) < F]
        if small:
            code = inst.area_codes[a]
            blockers.append({"area": code, "area_name": str(inst.areas.loc[code, "name"]), "units": [inst.unit_codes[i] for p, _ in small for i in p],
                             "population": min(n for _, n in small), "pieces": [n for _, n in small]})
    if not blockers:
        return None
    text = "; ".join(f"{b['area']} {b['area_name']} (pieces of {', '.join(f'{n:,}' for n in b['pieces'])})" for b in blockers)
    worst = min(b["population"] for b in blockers)
    return Infeasibility(
        f"aligned mode: {len(blockers)} HWB(s) lie in several components of the adjacency graph, so no union of whole "
        f"HWBs can hold them, and a piece of each holds fewer than {F:,} people: {text}.",
        units=tuple(c for b in blockers for c in b["units"]), areas=tuple(b["area"] for b in blockers), details=tuple(blockers),
        suggestion=f"add adjacency edges joining their parts (Instance.with_edges; water crossings: load_lsoa2013(crossings=...)), "
                   f"use coterminosity='penalised' or 'off', or lower the floor to {worst:,} or less.")


def preprocess(inst: Instance, scenario: Scenario) -> tuple[list[Block], list[list[int]], Infeasibility | None]:
    """Blocks to solve, fixed groups (units locked alone), or a proof of infeasibility."""
    F = scenario.floor_population
    pop = inst.population
    codes = inst.unit_codes
    unknown = sorted(({c for c in scenario.alone} | {c for p in scenario.together | scenario.apart for c in p}) - set(codes))
    if unknown:
        raise ScenarioError(f"locks name units that are not in the instance: {', '.join(unknown)}.")
    alone = sorted(inst.index[c] for c in scenario.alone)
    fixed = [[i] for i in alone]
    small = [codes[i] for i in alone if pop[i] < F]
    if small:
        return [], fixed, Infeasibility(
            f"units locked alone are below the floor {F:,}: " + ", ".join(f"{c} ({pop[inst.index[c]]:,})" for c in small) + ".",
            units=tuple(small),
            suggestion="unlock them or lower the floor.",
        )
    if scenario.ceiling is not None:
        big = [i for i in range(inst.n_units) if pop[i] > scenario.ceiling]
        if big:
            return [], fixed, Infeasibility(
                f"units above the ceiling {scenario.ceiling:,.0f} on their own: " + ", ".join(f"{codes[i]} ({pop[i]:,})" for i in big) + ".",
                units=tuple(codes[i] for i in big),
                suggestion="raise the ceiling above the largest unit.",
            )
    for a, b in sorted(scenario.together):
        if a in scenario.alone or b in scenario.alone:
            return [], fixed, Infeasibility(f"pair ({a}, {b}) must be together but one of them is locked alone.", units=(a, b))
    rest = [i for i in range(inst.n_units) if i not in set(alone)]
    if not rest:
        return [], fixed, None
    mode = scenario.coterminosity
    main = inst.main_area_index
    if scenario.contiguity:
        comps = connected_pieces(inst.neighbours, rest)
    else:
        comps = [rest]
    blocks: list[Block] = []
    blockers: list[dict] = []
    for comp in comps:
        if mode is Coterminosity.NESTED:
            by_area: dict[int, list[int]] = {}
            for i in comp:
                by_area.setdefault(int(main[i]), []).append(i)
            for a in sorted(by_area):
                pieces = connected_pieces(inst.neighbours, by_area[a]) if scenario.contiguity else [by_area[a]]
                for piece in pieces:
                    p = int(pop[piece].sum())
                    label = f"HWB {inst.area_codes[a]}" + (f" piece {codes[piece[0]]}" if len(pieces) > 1 else "")
                    if p < F:
                        blockers.append({"area": inst.area_codes[a], "area_name": str(inst.areas.loc[inst.area_codes[a], "name"]),
                                         "units": [codes[i] for i in piece], "population": p, "shortfall": F - p})
                    blocks.append(Block(piece, label))
        else:
            p = int(pop[comp].sum())
            if p < F:
                blockers.append({"area": None, "units": [codes[i] for i in comp], "population": p, "shortfall": F - p})
            blocks.append(Block(comp, f"component {codes[comp[0]]}"))
    if blockers:
        if mode is Coterminosity.NESTED:
            worst = min(b["population"] for b in blockers)
            text = "; ".join(f"{b['area']} {b['area_name']} ({', '.join(b['units'][:4])}{'...' if len(b['units']) > 4 else ''}: {b['population']:,})" for b in blockers[:12])
            reason = (f"nested mode: {len(blockers)} HWB piece(s) hold fewer than {F:,} people, so no viable CCG fits inside them: "
                      f"{text}{' ...' if len(blockers) > 12 else ''}.")
            sugg = f"use coterminosity='aligned' (whole HWBs may merge) or lower the floor to {worst:,} or less."
            areas = tuple(sorted({b['area'] for b in blockers}))
        else:
            worst = min(b["population"] for b in blockers)
            text = "; ".join(f"{', '.join(b['units'][:4])}{'...' if len(b['units']) > 4 else ''} ({b['population']:,})" for b in blockers)
            reason = f"{len(blockers)} connected component(s) of the adjacency graph hold fewer than {F:,} people: {text}."
            sugg = f"add adjacency edges (Instance.with_edges) to join them to a neighbour, or lower the floor to {worst:,} or less."
            areas = ()
        return blocks, fixed, Infeasibility(reason, units=tuple(c for b in blockers for c in b["units"]), areas=areas,
                                            details=tuple(blockers), suggestion=sugg)
    if mode is Coterminosity.ALIGNED and scenario.contiguity and len(comps) > 1:
        why = _split_hwbs(inst, comps, F)
        if why is not None:
            return blocks, fixed, why
    # together pairs must lie in one block
    where = {i: k for k, b in enumerate(blocks) for i in b.units}
    for a, b in sorted(scenario.together):
        ia, ib = inst.index[a], inst.index[b]
        if where[ia] != where[ib]:
            return blocks, fixed, Infeasibility(
                f"units {a} and {b} must be together but lie in different {'HWB pieces' if mode is Coterminosity.NESTED else 'components'}.",
                units=(a, b), suggestion="drop the lock or add an adjacency edge.")
    # blocks sharing a baseline group stay together when the objective uses the baseline;
    # in aligned mode, blocks sharing an HWB stay together (a group may need all of it)
    needs_base = any(t is Objective.MOVED for t, _ in scenario.objective_terms) and not inst.singleton_baseline
    if needs_base:
        blocks = merge_blocks(blocks, lambda i: inst.baseline_codes[i])
    if mode is Coterminosity.ALIGNED:
        blocks = merge_blocks(blocks, lambda i: int(main[i]))
    return blocks, fixed, None
