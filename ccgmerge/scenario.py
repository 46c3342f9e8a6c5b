"""The rules of a merger problem: a frozen :class:`Scenario`.

Viability
    A CCG receives ``allowance_per_head + quality_premium_per_head`` per
    resident and must pay ``fixed_cost + cost_per_head * population``. The
    population floor is the smallest population whose allowance covers the
    cost::

        floor = ceil(fixed_cost / (allowance_per_head + quality_premium_per_head - cost_per_head))

    100,000 at the defaults (GBP 2.5m / GBP 25 per head, the 2012/13 NHS
    Operating Framework). A ``floor`` given directly overrides the formula.

Coterminosity (``coterminosity=``)
    ``"off"``
        no rule.
    ``"nested"``
        hard: every group lies within one HWB. Each unit counts wholly in its
        *main* HWB (the one holding most of its people), so a straddling unit
        (28 of the 2013 CCGs) may only join units whose main HWB is the same
        as its own; the people it has in other HWBs are reported as
        non-coterminous population, never hidden.
    ``"aligned"``
        hard: every group either lies within one HWB or is a union of whole
        HWBs (every unit whose main HWB it touches), so no HWB is split by a
        group that crosses its boundary.
    ``"penalised"``
        soft: each person living outside their group's main HWB adds
        ``penalty_weight`` to the objective.

Objective (``objective=``), all minimised ("disruption")
    ``"merges"``
        baseline groups minus resulting groups (fewest merges = most CCGs);
    ``"moved"``
        people whose unit does not continue in its baseline group's
        organisation. Each resulting group continues exactly one baseline
        group, the one contributing most people (for the default baseline of
        every unit alone: its largest member); everyone else in the group
        has moved (been absorbed). This is Σ_g (pop(g) - max_b pop(g ∩ b)),
        with each baseline group continuing in at most one resulting group;
    ``"noncoterminous"``
        people living outside their group's main HWB: Σ_g (pop(g) - max_h pop(g ∩ h));
    ``"split_areas"``
        HWBs whose people are divided between two or more groups.

    Give one name, a tuple of names (lexicographic: the first is optimised,
    then the second with the first held at its optimum, ...), or a mapping
    name -> weight (weighted sum).

Limits (``limits=``)
    Upper bounds on the plan's ``merges``, ``moved`` or ``noncoterminous``
    total, as a mapping name -> bound: hard rules, checked by the checker.
    ``Scenario(objective="merges", limits={"noncoterminous": 50_000})`` is one
    step of the epsilon-constraint method (:func:`ccgmerge.analysis.pareto.pareto_frontier`).

Examples
--------
>>> Scenario().floor_population
100000
>>> Scenario(allowance_per_head=30).floor_population
83334
>>> Scenario(floor=150_000, coterminosity="nested").describe()
'floor 150,000; coterminosity nested; objective merges'
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from enum import Enum

from ccgmerge.errors import ScenarioError

__all__ = ["Scenario", "Coterminosity", "Objective", "as_scenario"]


class Coterminosity(str, Enum):
    OFF = "off"
    NESTED = "nested"
    ALIGNED = "aligned"
    PENALISED = "penalised"


class Objective(str, Enum):
    MERGES = "merges"
    MOVED = "moved"
    NONCOTERMINOUS = "noncoterminous"
    SPLIT_AREAS = "split_areas"


def _pairs(value, name: str) -> frozenset[tuple[str, str]]:
    out = set()
    for p in value or ():
        if isinstance(p, str) or len(p) != 2:
            raise ScenarioError(f"{name}: each entry must be a pair of unit codes, got {p!r}.")
        a, b = str(p[0]), str(p[1])
        if a == b:
            raise ScenarioError(f"{name}: pair ({a}, {b}) names the same unit twice.")
        out.add((a, b) if a < b else (b, a))
    return frozenset(out)


LIMIT_TERMS = ("merges", "moved", "noncoterminous")


def _limits(value) -> tuple[tuple[str, float], ...]:
    items = value.items() if isinstance(value, Mapping) else (value or ())
    out = {}
    for item in items:
        if isinstance(item, str) or len(item) != 2:
            raise ScenarioError(f"limits: each entry must be a (name, bound) pair, got {item!r}.")
        k, v = item
        if k not in LIMIT_TERMS:
            raise ScenarioError(f"limits: {k!r} cannot be limited; allowed names: {list(LIMIT_TERMS)}.")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ScenarioError(f"limits[{k!r}]={v!r}: must be a finite, non-negative number (leave the limit "
                                "out for no bound).")
        if k in out:
            raise ScenarioError(f"limits: {k!r} given twice.")
        out[k] = float(v)
    return tuple(sorted(out.items()))


@dataclass(frozen=True)
class Scenario:
    """Rules of one merger problem (immutable; see the module docstring).

    Parameters
    ----------
    allowance_per_head, quality_premium_per_head, fixed_cost, cost_per_head : float
        Viability economics in GBP. ``floor`` overrides them.
    floor : float, optional
        Population floor given directly.
    ceiling : float, optional
        Largest population a group may have.
    max_units : int, optional
        Largest number of units a group may have.
    contiguity : bool
        Groups must be connected in the adjacency graph (default True).
    coterminosity : {"off", "nested", "aligned", "penalised"}
    penalty_weight : float
        Objective weight per non-coterminous person in ``penalised`` mode.
    objective : str, tuple of str, or mapping str -> float
    alone : iterable of unit codes that must stay on their own
    together : iterable of pairs of units that must share a group
    apart : iterable of pairs of units that must not share a group
    coterminous_threshold : float
        Both shares a group needs to count as coterminous with an HWB (0.99).
    limits : mapping str -> float
        Upper bounds on the totals ``merges``, ``moved``, ``noncoterminous``
        (stored as sorted ``(name, bound)`` pairs).
    """

    allowance_per_head: float = 25.0
    quality_premium_per_head: float = 0.0
    fixed_cost: float = 2_500_000.0
    cost_per_head: float = 0.0
    floor: float | None = None
    ceiling: float | None = None
    max_units: int | None = None
    contiguity: bool = True
    coterminosity: Coterminosity | str = Coterminosity.OFF
    penalty_weight: float = 1.0
    objective: str | tuple | Mapping = "merges"
    alone: frozenset[str] = field(default_factory=frozenset)
    together: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    apart: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    coterminous_threshold: float = 0.99
    limits: tuple[tuple[str, float], ...] | Mapping = ()

    def __post_init__(self):
        try:
            cot = Coterminosity(self.coterminosity)
        except ValueError:
            raise ScenarioError(
                f"coterminosity={self.coterminosity!r}; allowed: {[c.value for c in Coterminosity]}."
            ) from None
        object.__setattr__(self, "coterminosity", cot)
        for name in ("allowance_per_head", "quality_premium_per_head", "fixed_cost", "cost_per_head", "penalty_weight"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ScenarioError(f"{name}={v!r}: must be a finite, non-negative number.")
        if self.floor is not None and (not isinstance(self.floor, (int, float)) or not math.isfinite(self.floor)
                                       or self.floor < 0):
            raise ScenarioError(f"floor={self.floor!r}: must be a finite, non-negative number.")
        if self.floor is None and self.allowance_per_head + self.quality_premium_per_head - self.cost_per_head <= 0:
            raise ScenarioError(
                "allowance_per_head + quality_premium_per_head - cost_per_head must be positive: "
                f"{self.allowance_per_head} + {self.quality_premium_per_head} - {self.cost_per_head} leaves no "
                "money per head for the fixed cost, so no population is viable."
            )
        if self.ceiling is not None and (not isinstance(self.ceiling, (int, float)) or not math.isfinite(self.ceiling)
                                         or self.ceiling <= 0):
            raise ScenarioError(f"ceiling={self.ceiling!r}: must be a finite, positive number (None for no ceiling).")
        if self.ceiling is not None and self.ceiling < self.floor_population:
            raise ScenarioError(f"ceiling {self.ceiling:,} is below the floor {self.floor_population:,}.")
        if self.max_units is not None and (not isinstance(self.max_units, int) or self.max_units < 1):
            raise ScenarioError(f"max_units={self.max_units!r}: must be a positive whole number.")
        if not 0 < self.coterminous_threshold <= 1:
            raise ScenarioError(f"coterminous_threshold={self.coterminous_threshold!r}: must be in (0, 1].")
        object.__setattr__(self, "alone", frozenset(str(c) for c in (self.alone or ())))
        object.__setattr__(self, "together", _pairs(self.together, "together"))
        object.__setattr__(self, "apart", _pairs(self.apart, "apart"))
        clash = self.together & self.apart
        if clash:
            raise ScenarioError(f"pairs both together and apart: {sorted(clash)}.")
        self.objective_terms  # validate
        object.__setattr__(self, "limits", _limits(self.limits))

    # ------------------------------------------------------------------
    @property
    def floor_population(self) -> int:
        """The population floor (whole people)."""
        if self.floor is not None:
            return int(math.ceil(self.floor))
        per_head = self.allowance_per_head + self.quality_premium_per_head - self.cost_per_head
        return int(math.ceil(self.fixed_cost / per_head - 1e-9))

    @property
    def objective_terms(self) -> tuple[tuple[Objective, float], ...]:
        """Objective as ((term, weight), ...) in priority order."""
        obj = self.objective
        allowed = [o.value for o in Objective]
        try:
            if isinstance(obj, (str, Objective)):
                return ((Objective(obj), 1.0),)
            if isinstance(obj, Mapping):
                terms = tuple((Objective(k), float(v)) for k, v in obj.items())
                if not terms or any(not math.isfinite(w) or w < 0 for _, w in terms):
                    raise ScenarioError(f"objective weights must be finite, non-negative numbers and at least one "
                                        f"given: {dict(obj)}")
                return terms
            terms = tuple((Objective(k), 1.0) for k in obj)
            if not terms:
                raise ValueError
            return terms
        except ScenarioError:
            raise
        except (ValueError, TypeError):
            raise ScenarioError(f"objective={obj!r}; allowed names: {allowed} (one, a tuple, or a name->weight mapping).") from None

    @property
    def lexicographic(self) -> bool:
        return isinstance(self.objective, (tuple, list)) and len(self.objective) > 1

    def allowance(self, population: float) -> float:
        """Running-cost allowance (GBP) of a group of ``population`` people."""
        return population * (self.allowance_per_head + self.quality_premium_per_head)

    def cost(self, population: float) -> float:
        """Cost (GBP) of running a group of ``population`` people."""
        return self.fixed_cost + population * self.cost_per_head

    def replace(self, **changes) -> "Scenario":
        """A copy with some parameters changed."""
        return replace(self, **changes)

    def describe(self) -> str:
        parts = [f"floor {self.floor_population:,}"]
        if self.ceiling:
            parts.append(f"ceiling {self.ceiling:,.0f}")
        if self.max_units:
            parts.append(f"at most {self.max_units} units")
        parts.append(f"coterminosity {self.coterminosity.value}")
        terms = self.objective_terms
        if len(terms) == 1:
            parts.append(f"objective {terms[0][0].value}")
        elif self.lexicographic:
            parts.append("objective " + " > ".join(t.value for t, _ in terms))
        else:
            parts.append("objective " + " + ".join(f"{w:g}*{t.value}" for t, w in terms))
        for k, v in self.limits:
            parts.append(f"{k} <= {v:,.0f}")
        return "; ".join(parts)

    def to_dict(self) -> dict:
        """JSON-safe dict of the parameters (and the derived floor)."""
        d = asdict(self)
        d["coterminosity"] = self.coterminosity.value
        obj = self.objective
        d["objective"] = obj if isinstance(obj, str) else (dict(obj) if isinstance(obj, Mapping) else list(obj))
        if isinstance(obj, Objective):
            d["objective"] = obj.value
        d["alone"] = sorted(self.alone)
        d["together"] = [list(p) for p in sorted(self.together)]
        d["apart"] = [list(p) for p in sorted(self.apart)]
        d["limits"] = dict(self.limits)
        d["floor_population"] = self.floor_population
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> "Scenario":
        """Inverse of :meth:`to_dict` (unknown keys are an error naming them)."""
        d = dict(d)
        d.pop("floor_population", None)
        known = set(cls.__dataclass_fields__)
        unknown = sorted((k for k in d if k not in known), key=str)
        if unknown:
            hints = [f"{close[0]!r} for {k!r}" for k in unknown
                     for close in [difflib.get_close_matches(str(k), sorted(known), n=1)] if close]
            raise ScenarioError(f"unknown scenario keys {unknown}"
                                + (f" (did you mean {', '.join(hints)}?)" if hints else "")
                                + f"; allowed: {sorted(known)}.")
        if isinstance(d.get("objective"), list):
            d["objective"] = tuple(d["objective"])
        for k in ("together", "apart"):
            if k in d:
                d[k] = [tuple(p) for p in d[k]]
        return cls(**d)


def as_scenario(value) -> Scenario:
    """``value`` as a :class:`Scenario`: a Scenario as it is, None as ``Scenario()``, a mapping of
    parameters as ``Scenario.from_dict(value)`` (``{"floor": 250_000}``; unknown keys are an error naming
    them, the closest parameter and every allowed one). A ``floor_population`` key is read as ``floor``
    when ``floor`` is not given (and must agree with the derived floor when it is).

    >>> as_scenario({"floor": 250_000, "coterminosity": "aligned"}).describe()
    'floor 250,000; coterminosity aligned; objective merges'
    >>> as_scenario({"flor": 250_000})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ccgmerge.errors.ScenarioError: unknown scenario keys ['flor'] (did you mean 'floor' for 'flor'?); allowed: [...].
    """
    if value is None:
        return Scenario()
    if isinstance(value, Scenario):
        return value
    if isinstance(value, Mapping):
        d = dict(value)
        derived = d.get("floor_population")
        if derived is not None and d.get("floor") is None and set(d) & _ECONOMICS == set():
            d["floor"] = derived
        sc = Scenario.from_dict(d)
        if derived is not None and derived != sc.floor_population:
            raise ScenarioError(f"floor_population={derived!r} disagrees with the floor the other parameters give "
                                f"({sc.floor_population:,}); floor_population is derived: give floor={derived!r} "
                                "instead.")
        return sc
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ScenarioError(f"scenario={value!r}: give a Scenario or a dict of its parameters, for example "
                            f"Scenario(floor={value!r}) or {{'floor': {value!r}}}.")
    raise ScenarioError(f"scenario must be a ccgmerge.Scenario, a dict of its parameters (such as "
                        f"{{'floor': 250000}}) or None, got {type(value).__name__}.")


_ECONOMICS = {"allowance_per_head", "quality_premium_per_head", "fixed_cost", "cost_per_head"}
