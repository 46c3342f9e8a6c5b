"""What to relax when the solver proves a block infeasible.

Preprocessing (:mod:`ccgmerge.engine.preprocess`) names the blockers of the
cheap proofs itself. When only the solver can prove that no plan exists,
:func:`infeasibility_suggestion` says which of the rules *in force* could be
the cause (never a rule the scenario does not use) and, for ``max_units``,
names the units that cannot reach the floor with so few units and how many
units they need at least.

Examples
--------
>>> import pandas as pd
>>> from ccgmerge.instance import Instance
>>> from ccgmerge.scenario import Scenario
>>> units = pd.DataFrame({"code": ["A", "B", "C"], "population": [60, 50, 70]})
>>> areas = pd.DataFrame({"code": ["X"], "population": [180]})
>>> mem = pd.DataFrame({"unit": ["A", "B", "C"], "area": "X", "population": [60, 50, 70]})
>>> inst = Instance.from_frames(units, areas, mem, [("A", "B"), ("B", "C")])
>>> infeasibility_suggestion(Scenario(floor=100, max_units=1, contiguity=False), inst)  # doctest: +NORMALIZE_WHITESPACE
'max_units=1 (--max-units 1) is too small: units A (60 people), B (50 people), C (70 people) cannot reach
 the floor of 100 with at most 1 unit each (they need groups of at least 2 units); raise max_units
 (--max-units) to 2 or more, or lower the floor.'
>>> infeasibility_suggestion(Scenario(floor=100, ceiling=110), inst)
'relax the ceiling 110 (--ceiling) or contiguity (--no-contiguity lets groups be disconnected).'
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from ccgmerge.errors import format_items
from ccgmerge.instance import Instance
from ccgmerge.scenario import Coterminosity, Scenario

__all__ = ["infeasibility_suggestion", "units_short_of_floor"]


#: Units whose least group size is worked out in full (the others are only tested against max_units).
MAX_EXPLAINED = 200


def _positions(instance: Instance, units) -> list[int]:
    if units is None:
        return list(range(instance.n_units))
    index = instance.index
    return sorted({index[u] if isinstance(u, str) else int(u) for u in units})


def _least_size(instance: Instance, scenario: Scenario, u: int, allowed: set[int], upto: int) -> int | None:
    """The smallest k <= ``upto`` for which unit ``u`` might reach the floor in a group of
    k units, or None when no such k exists.

    An optimistic bound: u's population plus the k - 1 largest populations among the
    units it could be grouped with (within k - 1 steps in the adjacency graph when
    groups must be contiguous; in nested mode only units with u's main HWB, along
    paths inside it; never units locked alone). While this bound stays below the
    floor, no group of k units holds u and reaches the floor.
    """
    pop, floor = instance.population, scenario.floor_population
    own = int(pop[u])
    if own >= floor:
        return 1
    if not scenario.contiguity:
        found = sorted((int(pop[v]) for v in allowed if v != u), reverse=True)
        frontier: list[int] = []
    else:
        found, frontier, seen = [], [u], {u}
    for k in range(2, upto + 1):
        if frontier:  # one more step of breadth-first search: units within k - 1 steps
            layer = []
            for w in frontier:
                for v in instance.neighbours[w]:
                    if v in allowed and v not in seen:
                        seen.add(v)
                        layer.append(v)
            frontier = layer
            found.extend(int(pop[v]) for v in layer)
        if own + sum(heapq.nlargest(k - 1, found)) >= floor:
            return k
        if not frontier and len(found) <= k - 1:
            return None  # every reachable unit is already counted
    return None


def units_short_of_floor(scenario: Scenario, instance: Instance, units=None) -> list[tuple[str, int, int | None]]:
    """Units (of ``units``, default all) that cannot reach the floor in a group of at
    most ``scenario.max_units`` units: ``(code, population, least group size)``, the
    size being a lower bound (None: no group the other rules allow reaches the floor;
    0: not worked out, beyond the first :data:`MAX_EXPLAINED` units)."""
    k = scenario.max_units
    if k is None:
        return []
    index = instance.index
    locked = {index[c] for c in scenario.alone if c in index}
    main = instance.main_area_index
    nested = scenario.coterminosity is Coterminosity.NESTED
    everyone = set(range(instance.n_units)) - locked
    by_area: dict[int, set[int]] = {}
    if nested:
        for v in everyone:
            by_area.setdefault(int(main[v]), set()).add(v)
    out = []
    for u in _positions(instance, units):
        if u in locked:
            continue
        allowed = by_area[int(main[u])] if nested else everyone
        if _least_size(instance, scenario, u, allowed, k) is not None:
            continue
        need = _least_size(instance, scenario, u, allowed, len(allowed)) if len(out) < MAX_EXPLAINED else 0
        out.append((instance.unit_codes[u], int(instance.population[u]), need))
    return out


def infeasibility_suggestion(scenario: Scenario, instance: Instance, units: Iterable | None = None) -> str:
    """What to relax when no plan meets the rules among ``units`` (positions or codes
    of the infeasible block; default every unit).

    Names only the rules in force: ``max_units`` with its value (and, when some of
    ``units`` cannot reach the floor with that many units, those units and the
    group size they need at least), the ceiling, the locks, the coterminosity mode
    (nested or aligned), the limits and contiguity. Options are given with their
    command-line spelling, e.g. ``max_units=1 (--max-units 1)``.
    """
    floor = scenario.floor_population
    rules = []
    if scenario.ceiling is not None:
        rules.append(f"the ceiling {scenario.ceiling:,.0f} (--ceiling)")
    locks = [f"{len(v)} {name}" for name, v in (("alone", scenario.alone), ("together", scenario.together),
                                                 ("apart", scenario.apart)) if v]
    if locks:
        rules.append(f"the locks ({', '.join(locks)}: --alone, --together, --apart)")
    if scenario.coterminosity in (Coterminosity.NESTED, Coterminosity.ALIGNED):
        rules.append(f"the coterminosity mode {scenario.coterminosity.value!r} (--coterminosity)")
    if scenario.limits:
        rules.append("the limits " + ", ".join(f"{k} <= {v:,.0f}" for k, v in scenario.limits) + " (--limit)")
    if scenario.contiguity:
        rules.append("contiguity (--no-contiguity lets groups be disconnected)")
    short = units_short_of_floor(scenario, instance, units)
    k = scenario.max_units
    if short:
        one = len(short) == 1
        who = f"unit{'' if one else 's'} {format_items(f'{c} ({p:,} people)' for c, p, _ in short)}"
        sizes = [n for _, _, n in short if n]
        if not sizes:  # max_units is not what stops them
            return (f"{who} cannot reach the floor of {floor:,} in any group the rules allow; relax "
                    + _join([f"max_units={k} (--max-units {k})"] + rules, "or") + ", or lower the floor.")
        text = (f"max_units={k} (--max-units {k}) is too small: {who} cannot reach the floor of {floor:,} "
                f"with at most {k} unit{'' if k == 1 else 's'}{'' if one else ' each'} "
                f"({'it needs a group' if one else 'they need groups'} of at least {max(sizes)} units); "
                f"raise max_units (--max-units) to {max(sizes)} or more, or lower the floor.")
        nowhere = [c for c, _, n in short if n is None]
        if nowhere:
            text += (f" {format_items(nowhere)} cannot reach the floor in any group the other rules allow, "
                     "whatever max_units is.")
        if rules:
            text += " Other rules in force: " + _join(rules, "and") + "."
        return text
    if k is not None:
        rules.insert(0, f"max_units={k} (--max-units {k})")
    if not rules:
        return "lower the floor."
    return "relax " + _join(rules, "or") + "."


def _join(items: list[str], word: str) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" {word} " + items[-1]
