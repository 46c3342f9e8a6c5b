"""A first look at an instance: what the population floor and the HWB rules
will have to deal with.

:func:`summarize` answers, before any optimisation:

* which units are below the floor, and by how much (``units_below``);
* which units straddle several areas (HWBs) (``straddling``);
* which areas cannot reach the floor with their own units: counting each
  unit in its main area, the units total less than the floor, or they fall
  into pieces that are not connected inside the area and a piece is below the
  floor (``areas_short``). Under strict coterminosity such an area can only be
  fixed by crossing its boundary;
* the connected components of the adjacency graph (``components``);
* totals: units, areas, population, edges (by kind), coterminous units.

Examples
--------
Four units on a path ``A - B - C - D``; ``B`` straddles ``X`` and ``Y``; ``D``
is alone in ``Z``:

>>> import pandas as pd
>>> from ccgmerge.instance import Instance
>>> units = pd.DataFrame({"code": ["A", "B", "C", "D"], "population": [60, 50, 120, 30]})
>>> areas = pd.DataFrame({"code": ["X", "Y", "Z"], "population": [100, 130, 30]})
>>> membership = pd.DataFrame({"unit": ["A", "B", "B", "C", "D"], "area": ["X", "X", "Y", "Y", "Z"],
...                            "population": [60, 40, 10, 120, 30]})
>>> adjacency = pd.DataFrame({"a": ["A", "B", "C"], "b": ["B", "C", "D"]})
>>> inst = Instance.from_frames(units, areas, membership, adjacency, name="toy")
>>> s = summarize(inst, floor=100)
>>> s.units_below[["code", "population", "shortfall"]].to_dict("list")
{'code': ['D', 'B', 'A'], 'population': [30, 50, 60], 'shortfall': [70, 50, 40]}
>>> s.straddling[["code", "n_areas", "main_area", "main_share"]].to_dict("records")
[{'code': 'B', 'n_areas': 2, 'main_area': 'X', 'main_share': 0.8}]
>>> s.areas_short[["code", "population", "reason"]].to_dict("records")
[{'code': 'Z', 'population': 30, 'reason': 'its units total 30, below the floor of 100'}]
>>> print(s)  # doctest: +NORMALIZE_WHITESPACE
Instance 'toy': 4 units, 3 areas, population 260
Adjacency: 3 edges (3 boundary); 1 component; 0 isolated units
Coterminous units (>= 99% each way): 1
Floor 100: 3 units below
  D (D): 30, short by 70 [main area Z]
  B (B): 50, short by 50 [main area X]
  A (A): 60, short by 40 [main area X]
Straddling units (people in more than one area): 1
  B (B): 50 in 2 areas, 80.0% in X
Areas that cannot reach the floor on their own: 1
  Z (Z): its units total 30, below the floor of 100
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ccgmerge.errors import ScenarioError
from ccgmerge.instance import Instance

__all__ = ["InstanceSummary", "summarize"]

#: Rows listed per table in the text report.
REPORT_ROWS = 10


@dataclass(frozen=True, eq=False)
class InstanceSummary:
    """What :func:`summarize` found (see the module docstring).

    Attributes
    ----------
    name : str
        The instance's label.
    floor : int or float
        The population floor used.
    n_units, n_areas, total_population, n_edges, n_coterminous : int
        Totals; ``n_coterminous`` counts :meth:`Instance.coterminous_units`
        (at least 99% of the unit in one area and 99% of the area in it).
    edge_kinds : dict
        Number of adjacency edges of each kind (``boundary``, ``bridge`` ...).
    n_isolated : int
        Units with no neighbour.
    units_below : DataFrame
        code, name, population, main_area, shortfall (floor - population);
        smallest first.
    straddling : DataFrame
        code, name, population, n_areas, main_area, main_share; units with
        people in more than one area, lowest main share first.
    areas_short : DataFrame
        code, name, population (of the units counted in the area), n_units,
        area_population (the area's own population), n_pieces (connected
        pieces of those units inside the area), smallest_piece (population)
        and reason; areas whose units cannot reach the floor on their own.
    components : DataFrame
        component (0 = largest), n_units, population, below_floor,
        first_unit.
    """

    name: str
    floor: float
    n_units: int
    n_areas: int
    total_population: int
    n_edges: int
    n_coterminous: int
    edge_kinds: dict = field(repr=False)
    n_isolated: int
    units_below: pd.DataFrame = field(repr=False)
    straddling: pd.DataFrame = field(repr=False)
    areas_short: pd.DataFrame = field(repr=False)
    components: pd.DataFrame = field(repr=False)

    @property
    def n_components(self) -> int:
        return len(self.components)

    def __str__(self) -> str:
        lines = [
            f"Instance {self.name!r}: {self.n_units:,} units, {self.n_areas:,} areas, "
            f"population {self.total_population:,}"
        ]
        kinds = ", ".join(f"{n:,} {k}" for k, n in self.edge_kinds.items())
        lines.append(
            f"Adjacency: {self.n_edges:,} edges{f' ({kinds})' if kinds else ''}; "
            f"{self.n_components:,} component{'s' if self.n_components != 1 else ''}; "
            f"{self.n_isolated:,} isolated unit{'s' if self.n_isolated != 1 else ''}"
        )
        lines.append(f"Coterminous units (>= 99% each way): {self.n_coterminous:,}")
        fl = _fmt_num(self.floor)
        lines.append(f"Floor {fl}: {len(self.units_below):,} unit{'s' if len(self.units_below) != 1 else ''} below")
        for r in self.units_below.head(REPORT_ROWS).itertuples():
            lines.append(f"  {r.name} ({r.code}): {r.population:,}, short by {_fmt_num(r.shortfall)} "
                         f"[main area {r.main_area}]")
        _more(lines, self.units_below)
        lines.append(f"Straddling units (people in more than one area): {len(self.straddling):,}")
        for r in self.straddling.head(REPORT_ROWS).itertuples():
            lines.append(f"  {r.name} ({r.code}): {r.population:,} in {r.n_areas} areas, "
                         f"{100 * r.main_share:.1f}% in {r.main_area}")
        _more(lines, self.straddling)
        lines.append(f"Areas that cannot reach the floor on their own: {len(self.areas_short):,}")
        for r in self.areas_short.head(REPORT_ROWS).itertuples():
            lines.append(f"  {r.name} ({r.code}): {r.reason}")
        _more(lines, self.areas_short)
        if self.n_components > 1:
            lines.append("Components:")
            for r in self.components.head(REPORT_ROWS).itertuples():
                below = ", below the floor" if r.below_floor else ""
                lines.append(f"  {r.component}: {r.n_units:,} units from {r.first_unit}, "
                             f"population {r.population:,}{below}")
            _more(lines, self.components)
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """The summary as plain Python (JSON-safe) values.

        >>> import json
        >>> import pandas as pd
        >>> inst = Instance.from_frames(
        ...     pd.DataFrame({"code": ["A", "B"], "population": [80_000, 150_000]}),
        ...     pd.DataFrame({"code": ["X"], "population": [230_000]}),
        ...     pd.DataFrame({"unit": ["A", "B"], "area": ["X", "X"], "population": [80_000, 150_000]}),
        ...     [("A", "B")])
        >>> d = summarize(inst).to_dict()
        >>> d["units_below"]
        [{'code': 'A', 'name': 'A', 'population': 80000, 'main_area': 'X', 'shortfall': 20000}]
        >>> sorted(d)[:4]
        ['areas_short', 'components', 'edge_kinds', 'floor']
        >>> json.loads(json.dumps(d)) == d
        True
        """
        return {
            "name": self.name,
            "floor": _plain(self.floor),
            "n_units": self.n_units,
            "n_areas": self.n_areas,
            "total_population": self.total_population,
            "n_edges": self.n_edges,
            "edge_kinds": {str(k): int(v) for k, v in self.edge_kinds.items()},
            "n_isolated": self.n_isolated,
            "n_components": self.n_components,
            "n_coterminous": self.n_coterminous,
            "units_below": _records(self.units_below),
            "straddling": _records(self.straddling),
            "areas_short": _records(self.areas_short),
            "components": _records(self.components),
        }


def _fmt_num(x) -> str:
    x = float(x)
    return f"{int(x):,}" if x.is_integer() else f"{x:,.2f}"


def _more(lines: list[str], df: pd.DataFrame) -> None:
    if len(df) > REPORT_ROWS:
        lines.append(f"  ... and {len(df) - REPORT_ROWS:,} more")


def _plain(v):
    """A JSON-safe Python value (NaN and NA become None)."""
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        f = float(v)
        return f if math.isfinite(f) else None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return str(v)


def _records(df: pd.DataFrame) -> list[dict]:
    return [{str(k): _plain(v) for k, v in row.items()} for row in df.to_dict("records")]


def summarize(instance: Instance, floor: float = 100_000) -> InstanceSummary:
    """Summarise an instance against a population floor.

    Parameters
    ----------
    instance : Instance
        The instance.
    floor : number
        The population floor (default 100,000, the usual CCG viability
        figure).

    Returns
    -------
    InstanceSummary
        See :class:`InstanceSummary`; ``print()`` it for a report.

    Raises
    ------
    ScenarioError
        If ``floor`` is not a finite number >= 0.
    """
    if isinstance(floor, bool) or not isinstance(floor, numbers.Real) or not math.isfinite(float(floor)) \
            or float(floor) < 0:
        raise ScenarioError(f"floor must be a finite number >= 0, got {floor!r}.")
    inst = instance
    codes = list(inst.unit_codes)
    pop = np.asarray(inst.population, dtype=np.int64)
    names = inst.units["name"].reindex(codes).to_numpy()
    main = inst.main_area_table()
    area_names = inst.areas["name"]
    area_pop = inst.areas["population"]

    # units below the floor
    below = pop < floor
    units_below = pd.DataFrame(
        {
            "code": np.array(codes, dtype=object)[below],
            "name": names[below],
            "population": pop[below],
            "main_area": main["main_area"].to_numpy()[below],
            "shortfall": (floor - pop[below]),
        }
    )
    if len(units_below):
        sf = units_below["shortfall"].to_numpy(dtype=float)
        if np.all(sf == np.round(sf)):
            units_below["shortfall"] = sf.astype(np.int64)
    else:
        units_below["shortfall"] = units_below["shortfall"].astype(np.int64)
    units_below = units_below.sort_values(["population", "code"], kind="stable").reset_index(drop=True)

    # straddling units
    strad = inst.straddling_units()
    t = main.reindex(strad)
    straddling = pd.DataFrame(
        {
            "code": strad,
            "name": [names[inst.index[c]] for c in strad],
            "population": [int(pop[inst.index[c]]) for c in strad],
            "n_areas": t["n_areas"].astype(np.int64).to_numpy() if len(strad) else np.array([], dtype=np.int64),
            "main_area": t["main_area"].to_numpy(),
            "main_share": t["main_share"].astype(float).to_numpy(),
        }
    )
    straddling = straddling.sort_values(["main_share", "code"], kind="stable").reset_index(drop=True)

    # areas: pieces of the units counted in their main area, connected inside it
    n = inst.n_units
    ma = np.asarray(inst.main_area_index)
    e = inst.edges
    inside = ma[e[:, 0]] == ma[e[:, 1]] if len(e) else np.zeros(0, dtype=bool)
    ei = e[inside]
    g = sp.coo_matrix((np.ones(len(ei), dtype=np.int8), (ei[:, 0], ei[:, 1])), shape=(n, n))
    _, piece = connected_components(g, directed=False) if n else (0, np.zeros(0, dtype=np.int64))
    pieces = pd.DataFrame({"area": ma, "piece": piece, "population": pop})
    ppop = pieces.groupby(["area", "piece"])["population"].sum().reset_index()
    per_area = ppop.groupby("area").agg(n_pieces=("piece", "size"), smallest_piece=("population", "min"),
                                        population=("population", "sum"))
    n_units_area = pd.Series(ma).value_counts()
    rows = []
    for k, acode in enumerate(inst.area_codes):
        nu = int(n_units_area.get(k, 0))
        if nu == 0:
            p, npieces, smallest = 0, 0, 0
            reason = "no unit has most of its people here"
        else:
            p = int(per_area.at[k, "population"])
            npieces = int(per_area.at[k, "n_pieces"])
            smallest = int(per_area.at[k, "smallest_piece"])
            if p < floor:
                reason = f"its units total {p:,}, below the floor of {_fmt_num(floor)}"
            elif npieces > 1 and smallest < floor:
                reason = (f"its units fall into {npieces} pieces not connected inside the area; "
                          f"the smallest has {smallest:,} people, below the floor of {_fmt_num(floor)}")
            else:
                continue
        rows.append({"code": acode, "name": str(area_names[acode]), "population": p, "n_units": nu,
                     "area_population": int(area_pop[acode]), "n_pieces": npieces,
                     "smallest_piece": smallest, "reason": reason})
    cols = ["code", "name", "population", "n_units", "area_population", "n_pieces", "smallest_piece", "reason"]
    areas_short = pd.DataFrame(rows, columns=cols)
    for c in ("population", "n_units", "area_population", "n_pieces", "smallest_piece"):
        areas_short[c] = areas_short[c].astype(np.int64)

    # components of the adjacency graph
    comps = inst.components()
    cpop = [int(pop[inst.positions(c)].sum()) for c in comps]
    components = pd.DataFrame(
        {
            "component": np.arange(len(comps), dtype=np.int64),
            "n_units": np.array([len(c) for c in comps], dtype=np.int64),
            "population": np.array(cpop, dtype=np.int64),
            "below_floor": np.array([p < floor for p in cpop], dtype=bool),
            "first_unit": [c[0] for c in comps],
        }
    )

    kinds = inst.adjacency["kind"].value_counts()
    return InstanceSummary(
        name=inst.name,
        floor=floor,
        n_units=inst.n_units,
        n_areas=inst.n_areas,
        total_population=inst.total_population,
        n_edges=len(e),
        n_coterminous=len(inst.coterminous_units()),
        edge_kinds={str(k): int(v) for k, v in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))},
        n_isolated=len(inst.isolated_units()),
        units_below=units_below,
        straddling=straddling,
        areas_short=areas_short,
        components=components,
    )
