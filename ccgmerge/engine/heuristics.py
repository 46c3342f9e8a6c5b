"""A fast greedy merger heuristic: a feasible plan to warm-start the exact models.

:func:`greedy_merge` starts from every unit on its own and repeatedly merges
the smallest group below the floor into its smallest admissible neighbouring
group, until every group reaches the floor. Admissible: the union stays under
the ceiling and the unit cap, keeps one main HWB in ``nested`` mode, and
joins no ``apart`` pair or unit locked alone. Groups stay connected because
only neighbours merge. It proves nothing: it may fail (None) where a plan
exists, and its plan is usually not optimal.

Example: a path ``0 - 1 - 2 - 3`` with populations 60, 50, 70, 40 and floor
100 (unit 3, the smallest, joins 2; then unit 1 joins unit 0):

>>> import pandas as pd
>>> from ccgmerge import Instance, Scenario
>>> inst = Instance.from_frames(
...     pd.DataFrame({"code": list("ABCD"), "population": [60, 50, 70, 40]}),
...     pd.DataFrame({"code": ["H"], "population": [220]}),
...     pd.DataFrame({"unit": list("ABCD"), "area": ["H"] * 4, "population": [60, 50, 70, 40]}),
...     pd.DataFrame({"a": ["A", "B", "C"], "b": ["B", "C", "D"]}), warn=False)
>>> greedy_merge(inst, Scenario(floor=100))
[[0, 1], [2, 3]]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ccgmerge.instance import Instance
from ccgmerge.scenario import Coterminosity, Scenario

__all__ = ["greedy_merge", "aligned_greedy_merge", "merge_until_viable"]


def merge_until_viable(groups: Sequence[Sequence[int]], nb, pop, floor: float,
                       admissible: Callable[[list[int], list[int]], bool] | None = None) -> list[list[int]] | None:
    """Merge the smallest group below ``floor`` into its least populous
    admissible neighbouring group (ties: smallest member), until every group
    reaches the floor; None when a group below the floor has no admissible
    neighbour. ``groups`` must be disjoint; ``nb[u]`` lists u's neighbours
    (those outside every group are ignored). Returns groups sorted, ordered by
    their smallest member."""
    members = {min(g): sorted(g) for g in groups}
    group = {u: k for k, g in members.items() for u in g}
    gpop = {k: int(sum(pop[u] for u in g)) for k, g in members.items()}
    while True:
        short = [g for g in members if gpop[g] < floor]
        if not short:
            break
        g = min(short, key=lambda k: (gpop[k], k))
        options = {group[v] for u in members[g] for v in nb[u] if v in group and group[v] != g}
        best = next((h for h in sorted(options, key=lambda k: (gpop[k], k))
                     if admissible is None or admissible(members[g], members[h])), None)
        if best is None:
            return None
        keep, drop = min(g, best), max(g, best)
        for u in members[drop]:
            group[u] = keep
        members[keep] = sorted(members[keep] + members.pop(drop))
        gpop[keep] += gpop.pop(drop)
    return sorted(members.values(), key=lambda m: m[0])


def greedy_merge(inst: Instance, scenario: Scenario, units: Sequence[int] | None = None) -> list[list[int]] | None:
    """A plan (sorted groups of unit positions) meeting the floor, contiguity,
    ceiling, unit cap, ``nested`` mode and alone/apart locks over ``units``
    (default all), or None when the greedy rule gets stuck. ``aligned`` mode and
    ``together`` locks are not handled (None)."""
    if scenario.coterminosity is Coterminosity.ALIGNED or scenario.together:
        return None
    units = sorted(range(inst.n_units) if units is None else units)
    pop = inst.population
    if scenario.ceiling is not None and any(int(pop[u]) > scenario.ceiling for u in units):
        return None  # a unit above the ceiling on its own: no plan at all
    main = inst.main_area_index
    alone = {inst.index[c] for c in scenario.alone if c in inst.index}
    apart = {(inst.index[a], inst.index[b]) for a, b in scenario.apart if a in inst.index and b in inst.index}
    apart |= {(b, a) for a, b in apart}

    def admissible(g: list[int], h: list[int]) -> bool:
        if any(u in alone for u in g) or any(u in alone for u in h):
            return False
        if scenario.ceiling is not None and int(pop[g].sum() + pop[h].sum()) > scenario.ceiling:
            return False
        if scenario.max_units is not None and len(g) + len(h) > scenario.max_units:
            return False
        if scenario.coterminosity is Coterminosity.NESTED and main[g[0]] != main[h[0]]:
            return False
        return not (apart and any((u, v) in apart for u in g for v in h))

    return merge_until_viable([[u] for u in units], inst.neighbours, pop, scenario.floor_population, admissible)


def aligned_greedy_merge(inst: Instance, scenario: Scenario, units: Sequence[int] | None = None) -> list[list[int]] | None:
    """A plan in ``aligned`` mode, or None when the greedy rule gets stuck.

    It starts from the connected pieces of each baseline group inside each main
    HWB (so that few people move; units locked alone, and seeds that would break
    the ceiling, the unit cap or an ``apart`` lock, start on their own; if that
    gets stuck, from the connected pieces of each HWB) and merges
    the smallest group below the floor into its smallest admissible neighbour, as
    :func:`greedy_merge` does. A merge is admissible when the union lies in one
    main HWB or holds every unit of each main HWB it touches (a union of whole
    HWBs, the ``aligned`` rule), besides the rules :func:`greedy_merge` applies.
    When both get stuck and there are no ``alone`` or ``apart`` locks, each HWB starts whole
    and the smallest group below the floor or not connected joins its smallest neighbour.
    ``together`` locks are not handled (None).

    Two HWBs ``X = {A, B}`` and ``Y = {C}`` on the path ``A - B - C``, floor 100:
    ``C`` (70) can only join the whole of ``X``.

    >>> import pandas as pd
    >>> from ccgmerge import Instance, Scenario
    >>> inst = Instance.from_frames(
    ...     pd.DataFrame({"code": list("ABC"), "population": [60, 50, 70]}), None,
    ...     pd.DataFrame({"unit": list("ABC"), "area": ["X", "X", "Y"], "population": [60, 50, 70]}),
    ...     pd.DataFrame({"a": ["A", "B"], "b": ["B", "C"]}), warn=False)
    >>> aligned_greedy_merge(inst, Scenario(floor=100, coterminosity="aligned"))
    [[0, 1, 2]]
    """
    from collections import Counter

    from ccgmerge.engine.subsets import connected_pieces

    if scenario.together:
        return None
    units = sorted(range(inst.n_units) if units is None else units)
    pop = inst.population
    if scenario.ceiling is not None and any(int(pop[u]) > scenario.ceiling for u in units):
        return None
    main = inst.main_area_index
    whole = Counter(int(main[u]) for u in range(inst.n_units))
    alone = {inst.index[c] for c in scenario.alone if c in inst.index}
    apart = {(inst.index[a], inst.index[b]) for a, b in scenario.apart if a in inst.index and b in inst.index}
    apart |= {(b, a) for a, b in apart}

    def fits(g: list[int]) -> bool:
        if scenario.ceiling is not None and int(pop[g].sum()) > scenario.ceiling:
            return False
        if scenario.max_units is not None and len(g) > scenario.max_units:
            return False
        if any(u in alone for u in g) and len(g) > 1:
            return False
        return not (apart and any((u, v) in apart for u in g for v in g))

    def admissible(g: list[int], h: list[int]) -> bool:
        gh = g + h
        if not fits(gh):
            return False
        areas = Counter(int(main[u]) for u in gh)
        return len(areas) == 1 or all(n == whole[a] for a, n in areas.items())

    def seeded(key) -> list[list[int]] | None:
        seeds: dict[tuple, list[int]] = {}
        for u in units:
            seeds.setdefault(key(u), []).append(u)
        start: list[list[int]] = []
        for members in seeds.values():
            for piece in connected_pieces(inst.neighbours, members):
                start += [sorted(piece)] if fits(sorted(piece)) else [[u] for u in piece]
        return merge_until_viable(start, inst.neighbours, pop, scenario.floor_population, admissible)

    def whole_hwbs() -> list[list[int]] | None:
        # each HWB whole (its pieces together, connected or not); the smallest group that is below
        # the floor or not connected joins its smallest neighbour, until every group is viable
        by: dict[int, list[int]] = {}
        for u in units:
            by.setdefault(int(main[u]), []).append(u)
        groups = sorted(sorted(g) for g in by.values())
        inside = set(units)
        while True:
            bad = [g for g in groups if int(pop[g].sum()) < scenario.floor_population
                   or len(connected_pieces(inst.neighbours, g)) > 1]
            if not bad:
                return groups if all(fits(g) for g in groups) else None
            g = min(bad, key=lambda g: (int(pop[g].sum()), g[0]))
            touch = {v for u in g for v in inst.neighbours[u] if v in inside} - set(g)
            nbrs = [h for h in groups if touch.intersection(h)]
            if not nbrs:
                return None
            h = min(nbrs, key=lambda h: (int(pop[h].sum()), h[0]))
            groups = sorted([x for x in groups if x is not g and x is not h] + [sorted(g + h)])

    # first the baseline groups' pieces inside each HWB; when that gets stuck (a small HWB whose
    # neighbours are already split into viable groups), the HWBs' own pieces, which merge whole;
    # last, whole HWBs merged whole
    return (seeded(lambda u: (inst.baseline_codes[u], int(main[u])))
            or seeded(lambda u: int(main[u])) or (None if apart or alone else whole_hwbs()))
