"""The instance model: units, higher areas, membership and adjacency.

An :class:`Instance` holds one merger problem:

* **units** (for example the 211 CCGs of April 2013, or 32,844 LSOAs): code,
  name, population and any extra columns (GP list size, region, ...);
* **areas**, the higher areas that coterminosity is measured against (Health
  and Wellbeing Boards): code, name, population;
* **membership**: how many people of each unit live in each area;
* **adjacency**: pairs of neighbouring units with an edge kind (``boundary``,
  ``bridge``, ``manual`` ...);
* an optional **baseline** grouping of the units (for example each LSOA's 2013
  CCG) that disruption is measured from. By default every unit is its own
  baseline group.

Everything is validated when the instance is built (see
:func:`ccgmerge.tables.validate_tables`); an instance is immutable, and
derived facts (main area, straddling units, components) are computed from the
tables, never stored twice.

Examples
--------
A tiny instance: three units in a path ``A - B - C``; ``B`` straddles two
areas::

    A --- B --- C
    |     |\\    |
    X     X Y   Y

>>> import pandas as pd
>>> units = pd.DataFrame({"code": ["A", "B", "C"], "population": [50, 70, 90]})
>>> areas = pd.DataFrame({"code": ["X", "Y"], "population": [110, 100]})
>>> membership = pd.DataFrame({"unit": ["A", "B", "B", "C"], "area": ["X", "X", "Y", "Y"],
...                            "population": [50, 60, 10, 90]})
>>> adjacency = pd.DataFrame({"a": ["A", "B"], "b": ["B", "C"]})
>>> inst = Instance.from_frames(units, areas, membership, adjacency, name="tiny")
>>> inst
Instance('tiny': 3 units, 2 areas, 2 adjacency edges, population 210)
>>> inst.main_area().to_dict()
{'A': 'X', 'B': 'X', 'C': 'Y'}
>>> inst.straddling_units()
['B']
>>> inst.with_edges(remove=[("B", "C")]).components()
[['A', 'B'], ['C']]
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ccgmerge.errors import InstanceWarning, ValidationError, format_items
from ccgmerge.frames import adjacency_table, code_column, implied_areas
from ccgmerge.tables import (
    MAX_POPULATION,
    MEMBERSHIP_TOLERANCE,
    canonical_tables,
    edited_adjacency,
    scaled_tables,
    validate_tables,
)

# validate_tables, MEMBERSHIP_TOLERANCE and MAX_POPULATION are defined in ccgmerge.tables and re-exported here.
__all__ = ["Instance", "validate_tables", "MEMBERSHIP_TOLERANCE", "MAX_POPULATION"]


@dataclass(frozen=True, eq=False)
class Instance:
    """An immutable, validated merger problem.

    Build one with :meth:`from_frames` (canonical column names), with the
    loaders in :mod:`ccgmerge.data`, or with :func:`ccgmerge.data.synthetic.generate`.
    Internally units are held in sorted code order; unit ``i`` of every array
    is ``unit_codes[i]``.

    Attributes
    ----------
    name : str
        A label for reports.
    unit_codes : tuple of str
        Unit codes in sorted order.
    """

    name: str
    _units: pd.DataFrame = field(repr=False)
    _areas: pd.DataFrame = field(repr=False)
    _membership: pd.DataFrame = field(repr=False)
    _adjacency: pd.DataFrame = field(repr=False)
    _baseline: tuple[str, ...] = field(repr=False)

    # ------------------------------------------------------------------ build
    @classmethod
    def from_frames(
        cls,
        units: pd.DataFrame,
        areas: pd.DataFrame,
        membership: pd.DataFrame,
        adjacency: pd.DataFrame | Iterable[tuple[str, str]],
        *,
        baseline: Mapping[str, str] | pd.Series | None = None,
        name: str = "instance",
        warn: bool = True,
    ) -> "Instance":
        """Validate the tables and build an instance.

        Parameters
        ----------
        units : DataFrame
            Columns ``code``, ``population`` and optionally ``name`` and any
            extra columns (kept as they are). A table indexed by ``code``
            (as :attr:`units` returns it) is accepted too, so
            ``Instance.from_frames(**inst.to_frames())`` rebuilds ``inst``.
        areas : DataFrame or None
            Columns ``code`` (or an index named ``code``), ``population``
            and optionally ``name``. None: the areas the membership implies,
            each with the people the membership puts in it
            (:func:`ccgmerge.frames.implied_areas`).
        membership : DataFrame
            Columns ``unit``, ``area``, ``population``.
        adjacency : DataFrame, graph or iterable of pairs
            Columns ``a``, ``b`` and optionally ``kind`` (default
            ``"boundary"``); or a networkx graph, a libpysal ``W`` or a
            libpysal ``Graph`` whose ids are unit codes or labels of the
            ``units`` index (see :mod:`ccgmerge.frames`).
        baseline : mapping or Series, optional
            Unit code to baseline group code. Default: every unit alone.
        name : str
            Label used in reports.
        warn : bool
            Emit an :class:`~ccgmerge.errors.InstanceWarning` when units are
            isolated or the adjacency graph has several components.

        Raises
        ------
        ValidationError
            Naming the offending units, areas, rows or columns.
        """
        if areas is None and isinstance(membership, pd.DataFrame) and {"area", "population"} <= set(membership.columns):
            areas = implied_areas(membership)
        for what, df in (("units", units), ("areas", areas), ("membership", membership)):
            if not isinstance(df, pd.DataFrame):
                raise ValidationError(f"{what} must be a pandas DataFrame, got {type(df).__name__}.", items=[what])
        units, areas = code_column(units, "units"), code_column(areas, "areas")
        adjacency = adjacency_table(adjacency, units)
        validate_tables(units, areas, membership, adjacency, baseline)
        u, a, m, e = canonical_tables(units, areas, membership, adjacency)
        codes = tuple(u["code"])
        if baseline is None:
            base = codes
        else:
            b = pd.Series(baseline)
            b.index = b.index.map(str)
            base = tuple(str(x) for x in b.reindex(list(codes)).tolist())
        inst = cls(name=name, _units=u, _areas=a, _membership=m, _adjacency=e, _baseline=base)
        if warn:
            inst._warn_structure()
        return inst

    def _warn_structure(self) -> None:
        iso = self.isolated_units()
        if iso:
            warnings.warn(
                f"{self.name}: isolated units with no neighbour: {format_items(iso)}. They can only "
                "stay alone unless you add adjacency edges (Instance.with_edges).",
                InstanceWarning,
                stacklevel=3,
            )
        comps = self.components()
        if len(comps) > 1:
            sizes = ", ".join(f"{len(c)} units from {c[0]}" for c in comps[:5])
            warnings.warn(
                f"{self.name}: adjacency graph has {len(comps)} components ({sizes}"
                f"{' ...' if len(comps) > 5 else ''}); groups cannot cross components.",
                InstanceWarning,
                stacklevel=3,
            )

    def __repr__(self) -> str:
        return (
            f"Instance({self.name!r}: {self.n_units} units, {self.n_areas} areas, "
            f"{len(self._adjacency)} adjacency edges, population {self.total_population:,})"
        )

    # ------------------------------------------------------------ properties
    @cached_property
    def unit_codes(self) -> tuple[str, ...]:
        return tuple(self._units["code"])

    @cached_property
    def area_codes(self) -> tuple[str, ...]:
        return tuple(self._areas["code"])

    @cached_property
    def index(self) -> dict[str, int]:
        """Unit code -> position in :attr:`unit_codes`."""
        return {c: i for i, c in enumerate(self.unit_codes)}

    @property
    def n_units(self) -> int:
        return len(self._units)

    @property
    def n_areas(self) -> int:
        return len(self._areas)

    @cached_property
    def population(self) -> np.ndarray:
        """Unit populations (int64, read-only), in :attr:`unit_codes` order."""
        p = self._units["population"].to_numpy(dtype=np.int64).copy()
        p.setflags(write=False)
        return p

    @property
    def total_population(self) -> int:
        return int(self.population.sum())

    @property
    def units(self) -> pd.DataFrame:
        """Units table (a copy), indexed by code; :meth:`from_frames` takes it back as it is."""
        return self._units.set_index("code")

    @property
    def areas(self) -> pd.DataFrame:
        """Areas (HWB) table (a copy), indexed by code; :meth:`from_frames` takes it back as it is."""
        return self._areas.set_index("code")

    @property
    def membership(self) -> pd.DataFrame:
        """Membership table (a copy): unit, area, population."""
        return self._membership.copy()

    @property
    def adjacency(self) -> pd.DataFrame:
        """Adjacency table (a copy): a, b (a < b), kind, and extra columns."""
        return self._adjacency.copy()

    def to_frames(self) -> dict:
        """The arguments of :meth:`from_frames` that rebuild this instance: ``units``, ``areas``,
        ``membership``, ``adjacency``, ``baseline`` and ``name`` (copies).

        >>> import ccgmerge.data.synthetic as syn
        >>> inst = syn.generate(12, seed=3)
        >>> Instance.from_frames(**inst.to_frames()).fingerprint == inst.fingerprint
        True
        """
        return {"units": self.units, "areas": self.areas, "membership": self.membership,
                "adjacency": self.adjacency, "baseline": self.baseline, "name": self.name}

    @property
    def baseline(self) -> pd.Series:
        """Baseline group of each unit (a copy), indexed by unit code."""
        return pd.Series(self._baseline, index=pd.Index(self.unit_codes, name="unit"), name="baseline")

    @property
    def baseline_codes(self) -> tuple[str, ...]:
        """Baseline group code of each unit, in :attr:`unit_codes` order."""
        return self._baseline

    @cached_property
    def n_baseline_groups(self) -> int:
        """Number of distinct baseline groups."""
        return len(set(self._baseline))

    @property
    def singleton_baseline(self) -> bool:
        """True when every unit is its own baseline group (no baseline given)."""
        return self.n_baseline_groups == self.n_units

    @cached_property
    def edges(self) -> np.ndarray:
        """Adjacency as an (m, 2) int array of unit positions, rows sorted."""
        codes = pd.Index(list(self.unit_codes))
        arr = np.column_stack(
            [codes.get_indexer(self._adjacency["a"].tolist()), codes.get_indexer(self._adjacency["b"].tolist())]
        ).astype(np.int64).reshape(-1, 2)
        arr.sort(axis=1)
        arr = arr[np.lexsort((arr[:, 1], arr[:, 0]))] if len(arr) else arr
        arr.setflags(write=False)
        return arr

    @cached_property
    def neighbours(self) -> tuple[tuple[int, ...], ...]:
        """Sorted neighbour positions of each unit."""
        if self.n_units == 0:
            return ()
        e = self.edges
        src = np.concatenate([e[:, 0], e[:, 1]])
        dst = np.concatenate([e[:, 1], e[:, 0]])
        order = np.lexsort((dst, src))
        cuts = np.searchsorted(src[order], np.arange(1, self.n_units))
        return tuple(tuple(x.tolist()) for x in np.split(dst[order], cuts))

    @cached_property
    def fingerprint(self) -> str:
        """A SHA-256 of the canonical tables: equal instances share it."""
        h = hashlib.sha256()
        for df in (self._units[["code", "population"]], self._areas[["code", "population"]],
                   self._membership, self._adjacency[["a", "b"]]):
            h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
        h.update("\x1f".join(self._baseline).encode())
        return h.hexdigest()[:16]

    # ---------------------------------------------------------------- graphs
    def adjacency_graph(self) -> nx.Graph:
        """Units-only networkx graph: nodes carry ``population`` and ``name``;
        edges carry ``kind``."""
        g = nx.Graph()
        for c, n, p in zip(self._units["code"], self._units["name"], self._units["population"]):
            g.add_node(c, population=int(p), name=n)
        for a, b, k in zip(self._adjacency["a"], self._adjacency["b"], self._adjacency["kind"]):
            g.add_edge(a, b, kind=k)
        return g

    def graph(self) -> nx.Graph:
        """The full graph: unit nodes (``kind='unit'``) with adjacency edges
        (``edge='adjacency'``, ``kind`` as given) and area nodes
        (``kind='area'``) joined to their units by membership edges
        (``edge='membership'``, ``population`` = people living in both).

        >>> import ccgmerge.data.synthetic as syn
        >>> g = syn.generate(12, seed=1).graph()
        >>> sorted({d["edge"] for *_, d in g.edges(data=True)})
        ['adjacency', 'membership']
        """
        g = self.adjacency_graph()
        nx.set_node_attributes(g, "unit", "kind")
        nx.set_edge_attributes(g, "adjacency", "edge")
        for c, n, p in zip(self._areas["code"], self._areas["name"], self._areas["population"]):
            g.add_node(c, kind="area", name=n, population=int(p))
        for u, a, p in zip(self._membership["unit"], self._membership["area"], self._membership["population"]):
            g.add_edge(u, a, edge="membership", kind="membership", population=int(p))
        return g

    # --------------------------------------------------------- derived facts
    @cached_property
    def _main(self) -> pd.DataFrame:
        m = self._membership
        # largest membership first; ties broken by area code (rows are sorted by unit, area)
        order = m.sort_values(["unit", "population", "area"], ascending=[True, False, True], kind="stable")
        top = order.drop_duplicates("unit").set_index("unit").reindex(list(self.unit_codes))
        upop = pd.Series(self.population, index=list(self.unit_codes))
        apop = self._areas.set_index("code")["population"]
        main_share = (top["population"] / upop.where(upop > 0)).fillna(1.0)
        share_of_area = (top["population"] / top["area"].map(apop).where(lambda s: s > 0)).fillna(1.0)
        n_areas = m.groupby("unit").size().reindex(list(self.unit_codes))
        return pd.DataFrame(
            {"main_area": top["area"], "main_share": main_share, "share_of_main_area": share_of_area, "n_areas": n_areas}
        )

    def main_area(self) -> pd.Series:
        """Each unit's main area: the one holding most of its people (ties by
        area code)."""
        return self._main["main_area"].copy()

    def main_area_table(self) -> pd.DataFrame:
        """main_area, main_share (share of the unit in its main area),
        share_of_main_area (share of the area's people in the unit) and
        n_areas for every unit."""
        return self._main.copy()

    @cached_property
    def unit_area_people(self) -> tuple[tuple[tuple[int, int], ...], ...]:
        """For each unit, its ``(area position, people)`` membership rows in area order."""
        aidx = {c: i for i, c in enumerate(self.area_codes)}
        out: list[list[tuple[int, int]]] = [[] for _ in range(self.n_units)]
        m = self._membership
        for u, a, p in zip(m["unit"], m["area"], m["population"]):
            out[self.index[u]].append((aidx[a], int(p)))
        return tuple(tuple(r) for r in out)

    @cached_property
    def main_area_index(self) -> np.ndarray:
        """Position (in :attr:`area_codes`) of each unit's main area."""
        aidx = {c: i for i, c in enumerate(self.area_codes)}
        arr = np.array([aidx[a] for a in self._main["main_area"]], dtype=np.int64)
        arr.setflags(write=False)
        return arr

    def straddling_units(self, min_share: float = 0.0) -> list[str]:
        """Units with more than ``min_share`` of their people outside their
        main area (``min_share=0``: any population in a second area)."""
        t = self._main
        return sorted(t.index[(t["n_areas"] > 1) & (1 - t["main_share"] > min_share)])

    def coterminous_units(self, threshold: float = 0.99) -> list[str]:
        """Units coterminous with one area: at least ``threshold`` of the unit
        lies in the area and at least ``threshold`` of the area in the unit."""
        t = self._main
        return sorted(t.index[(t["main_share"] >= threshold) & (t["share_of_main_area"] >= threshold)])

    def units_below(self, floor: float) -> list[str]:
        """Units whose population is below ``floor``."""
        return [c for c, p in zip(self.unit_codes, self.population) if p < floor]

    def isolated_units(self) -> list[str]:
        """Units with no adjacency edge."""
        return [c for c, nb in zip(self.unit_codes, self.neighbours) if not nb]

    @cached_property
    def adjacency_matrix(self) -> sp.csr_matrix:
        """Adjacency as a symmetric (n, n) CSR matrix of int8 ones, in :attr:`unit_codes` order."""
        n, e = self.n_units, self.edges
        ones = np.ones(2 * len(e), dtype=np.int8)
        rows = np.concatenate([e[:, 0], e[:, 1]])
        cols = np.concatenate([e[:, 1], e[:, 0]])
        return sp.csr_matrix((ones, (rows, cols)), shape=(n, n))

    @cached_property
    def _component_labels(self) -> np.ndarray:
        # label of each unit = smallest position in its connected component
        n = self.n_units
        if n == 0:
            lab = np.zeros(0, dtype=np.int64)
            lab.setflags(write=False)
            return lab
        e = self.edges
        g = sp.coo_matrix((np.ones(len(e), dtype=np.int8), (e[:, 0], e[:, 1])), shape=(n, n))
        _, comp = connected_components(g, directed=False)
        first = np.full(comp.max() + 1, n, dtype=np.int64)
        np.minimum.at(first, comp, np.arange(n, dtype=np.int64))
        lab = first[comp].astype(np.int64)
        lab.setflags(write=False)
        return lab

    def components(self) -> list[list[str]]:
        """Connected components of the adjacency graph (lists of codes, each
        sorted; largest first, then by first code)."""
        groups: dict[int, list[str]] = {}
        for c, lab in zip(self.unit_codes, self._component_labels):
            groups.setdefault(int(lab), []).append(c)
        return sorted(groups.values(), key=lambda g: (-len(g), g[0]))

    def is_connected(self) -> bool:
        return len(set(self._component_labels.tolist())) <= 1

    # ----------------------------------------------------------------- edits
    def _rebuild(self, *, units=None, areas=None, membership=None, adjacency=None, baseline=None, name=None, warn=True):
        adj = self._adjacency if adjacency is None else adjacency
        base = baseline if baseline is not None else pd.Series(self._baseline, index=list(self.unit_codes))
        u = self._units if units is None else units
        base = base[base.index.isin(u["code"])]
        return Instance.from_frames(
            u,
            self._areas if areas is None else areas,
            self._membership if membership is None else membership,
            adj,
            baseline=base,
            name=self.name if name is None else name,
            warn=warn,
        )

    def with_edges(
        self,
        add: Iterable[tuple[str, str]] = (),
        remove: Iterable[tuple[str, str]] = (),
        kind: str = "manual",
        warn: bool = True,
    ) -> "Instance":
        """A copy with adjacency edges added and/or removed.

        Use it for estuaries and bridges the boundary data cannot see (the
        Tyne between Gateshead and Newcastle, for example). Adding an edge
        that exists, or removing one that does not, is an error.

        >>> import ccgmerge.data.synthetic as syn
        >>> inst = syn.generate(10, seed=0)
        >>> a, b = inst.adjacency[["a", "b"]].iloc[0]
        >>> len(inst.with_edges(remove=[(a, b)]).adjacency) == len(inst.adjacency) - 1
        True
        """
        adj = edited_adjacency(self._adjacency, add, remove, kind)
        return self._rebuild(adjacency=adj, warn=warn)

    def subset(self, units: Iterable[str], name: str | None = None, warn: bool = True) -> "Instance":
        """The instance restricted to ``units`` (for example one NHS region).

        Areas keep their full population, so coterminosity shares stay those
        of the whole country; areas with no member unit are dropped; edges
        leaving the subset are dropped.
        """
        keep = [str(c) for c in units]
        unknown = [c for c in keep if c not in self.index]
        if unknown:
            raise ValidationError(f"subset names unknown units {format_items(unknown)}.", items=unknown)
        if not keep:
            raise ValidationError("subset of no units: give at least one unit code.")
        ks = set(keep)
        u = self._units[self._units["code"].isin(ks)]
        m = self._membership[self._membership["unit"].isin(ks)]
        a = self._areas[self._areas["code"].isin(set(m["area"]))]
        e = self._adjacency[self._adjacency["a"].isin(ks) & self._adjacency["b"].isin(ks)]
        return self._rebuild(units=u, areas=a, membership=m, adjacency=e, name=name or f"{self.name} (subset)", warn=warn)

    def with_baseline(self, baseline: Mapping[str, str] | pd.Series, name: str | None = None) -> "Instance":
        """A copy with a different baseline grouping (unit code -> group code)."""
        b = pd.Series(baseline)
        b.index = b.index.map(str)
        return self._rebuild(baseline=b.astype(str), name=name, warn=False)

    def with_membership(self, membership: pd.DataFrame, areas: pd.DataFrame | None = None, name: str | None = None,
                        warn: bool = True) -> "Instance":
        """A copy with a different unit-to-area membership (and area table).

        ``membership`` has the columns ``unit``, ``area`` and ``population``,
        as :attr:`membership`; ``areas`` (default: the current ones) is a
        table like :attr:`areas` (indexed by code, or with a ``code``
        column). Both are validated as in :meth:`from_frames`: every unit's
        rows sum to its population and no area holds fewer people than its
        rows place in it. Areas left with no member are dropped. Use it to
        count some units as another area's, for example a piece of an HWB cut
        off by an estuary attached to its neighbour (that area's population
        then grows by the piece's people).

        >>> import ccgmerge.data.synthetic as syn
        >>> inst = syn.generate(12, n_areas=2, seed=0)
        >>> first = inst.area_codes[0]
        >>> mem = inst.membership.assign(area=first).groupby(["unit", "area"], as_index=False)["population"].sum()
        >>> inst.with_membership(mem, inst.areas.assign(population=inst.total_population)).n_areas
        1
        """
        a = self._areas if areas is None else (areas.reset_index() if "code" not in areas.columns else areas.copy())
        m = membership.copy()
        used = set(m["area"].astype(str)) if "area" in m else set()
        a = a[a["code"].astype(str).isin(used)]
        return self._rebuild(areas=a, membership=m, name=name, warn=warn)

    def with_populations(self, population: Mapping[str, float] | pd.Series | float, name: str | None = None) -> "Instance":
        """A copy with unit populations replaced (or all scaled by a number),
        membership and area populations scaled in proportion and rounded.
        Useful for population-growth scenarios."""
        upop = pd.Series(self.population, index=list(self.unit_codes), dtype=float)
        if isinstance(population, (int, float)):
            new = upop * float(population)
        else:
            new = pd.Series(population, dtype=float)
            new.index = new.index.map(str)
            unknown = [c for c in new.index if c not in self.index]
            if unknown:
                raise ValidationError(f"populations given for unknown units {format_items(unknown)}.", items=unknown)
            new = upop.combine(new.reindex(upop.index), lambda o, n: o if math.isnan(n) else n)
        u, m, a = scaled_tables(self._units, self._membership, self._areas, upop, new)
        return self._rebuild(units=u, areas=a, membership=m, name=name, warn=False)

    # -------------------------------------------------------------- helpers
    def positions(self, codes: Iterable[str]) -> list[int]:
        """Positions of unit codes; unknown codes raise ValidationError."""
        out = []
        for c in codes:
            try:
                out.append(self.index[str(c)])
            except KeyError:
                raise ValidationError(f"unknown unit code {c!r}.", items=[c]) from None
        return out

    def group_population(self, members: Sequence[int]) -> int:
        return int(self.population[list(members)].sum())
