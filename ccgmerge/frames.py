"""What :meth:`Instance.from_frames <ccgmerge.instance.Instance.from_frames>` accepts, turned into its canonical tables.

* **Tables indexed by code.** :attr:`Instance.units` and :attr:`Instance.areas`
  come back indexed by ``code``; :func:`code_column` turns such a table (index
  named ``code``, no ``code`` column) back into one with a ``code`` column, so
  ``Instance.from_frames(inst.units, inst.areas, inst.membership, inst.adjacency,
  baseline=inst.baseline)`` rebuilds ``inst``.
* **Adjacency from a graph.** :func:`adjacency_table` accepts, besides a table
  with columns ``a`` and ``b`` or an iterable of pairs, a networkx graph (edge
  attributes become columns, ``kind`` among them), a libpysal ``W``
  (``libpysal.weights``) or a libpysal ``Graph`` (``libpysal.graph``). Graph
  ids are matched to the unit codes, or else to the labels of the units
  table's index (``Queen.from_dataframe(gdf)`` numbers units by ``gdf``'s
  index). Directed graphs and asymmetric weights are read as undirected (a
  pair is an edge when either direction is); zero weights are no edge
  (libpysal ``Graph`` stores an isolated unit as a zero-weight self-loop).
  Self-loops and ids that are not units are errors naming them.

Examples
--------
>>> import networkx as nx, pandas as pd
>>> units = pd.DataFrame({"code": ["A", "B", "C"], "population": [1, 2, 3]})
>>> adjacency_table(nx.Graph([("B", "A"), ("B", "C")]), units)
   a  b      kind
0  A  B  boundary
1  B  C  boundary
>>> adjacency_table(nx.Graph([(0, 1), (1, 2)]), units)[["a", "b"]].values.tolist()  # ids = the units' index labels
[['A', 'B'], ['B', 'C']]
>>> adjacency_table(nx.Graph([("A", "Z")]), units)
Traceback (most recent call last):
...
ccgmerge.errors.ValidationError: adjacency graph (networkx Graph) has nodes that are not units: Z; every node must be a unit code (or a label of the units table's index). Relabel the nodes (networkx.relabel_nodes) or add the units.
>>> code_column(pd.DataFrame({"population": [1]}, index=pd.Index(["A"], name="code"))).columns.tolist()
['code', 'population']
"""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx
import numpy as np
import pandas as pd

from ccgmerge.errors import ValidationError, format_items

__all__ = ["code_column", "adjacency_table", "graph_kind"]


def code_column(df: pd.DataFrame, what: str = "units") -> pd.DataFrame:
    """``df`` with its ``code`` column; a table indexed by ``code`` (as :attr:`Instance.units` and
    :attr:`Instance.areas` are) has the index moved into a column. A table with neither, whose index holds
    labels rather than row numbers, gets an error saying how to name it."""
    if not isinstance(df, pd.DataFrame) or "code" in df.columns:
        return df
    if df.index.name == "code":
        return df.reset_index()
    if not isinstance(df.index, pd.RangeIndex) and df.index.nlevels == 1 and len(df):
        label = f"named {df.index.name!r}" if df.index.name is not None else "unnamed"
        raise ValidationError(
            f"{what}: column 'code' is missing (columns are {list(df.columns)}) and the index ({label}, first "
            f"label {df.index[0]!r}) is not named 'code'; put the codes in a 'code' column "
            f"({what}.rename_axis('code').reset_index()) or name the index 'code'.",
            items=["code"],
        )
    return df


def graph_kind(obj) -> str | None:
    """``"networkx"``, ``"W"`` (libpysal.weights), ``"Graph"`` (libpysal.graph) or None, without importing libpysal.

    >>> graph_kind(nx.path_graph(3)), graph_kind([("A", "B")])
    ('networkx', None)
    """
    if isinstance(obj, nx.Graph):
        return "networkx"
    module = type(obj).__module__ or ""
    if module.startswith("libpysal.weights") and hasattr(obj, "neighbors"):
        return "W"
    if module.startswith("libpysal.graph") and isinstance(getattr(obj, "adjacency", None), pd.Series):
        return "Graph"
    return None


def _networkx_rows(g: nx.Graph) -> tuple[list, list, pd.DataFrame]:
    if g.is_directed() or g.is_multigraph():
        g = nx.Graph(g.to_undirected() if g.is_directed() else g)
    rows = list(g.edges(data=True))
    a = [u for u, _, _ in rows]
    b = [v for _, v, _ in rows]
    attrs = pd.DataFrame([d for _, _, d in rows], index=range(len(rows)))
    scalar = [c for c in attrs.columns
              if attrs[c].map(lambda x: x is None or np.isscalar(x)).all() and c not in ("a", "b")]
    return a, b, attrs[scalar]


def _libpysal_rows(obj, kind: str) -> tuple[list, list, pd.DataFrame]:
    if kind == "W":
        pairs = [(i, j, w) for i, nbs in obj.neighbors.items() for j, w in zip(nbs, obj.weights.get(i, [1] * len(nbs)))]
    else:
        adj = obj.adjacency
        pairs = list(zip(adj.index.get_level_values(0), adj.index.get_level_values(1), adj.to_numpy()))
    pairs = [(i, j) for i, j, w in pairs if w != 0]  # zero weight: no edge (Graph's isolates are (i, i, 0))
    return [i for i, _ in pairs], [j for _, j in pairs], pd.DataFrame(index=range(len(pairs)))


def adjacency_table(adjacency, units: pd.DataFrame) -> pd.DataFrame:
    """The adjacency as a table with columns ``a`` and ``b`` (unit codes) and any others.

    ``adjacency`` is a DataFrame (returned as it is), a networkx graph, a libpysal ``W`` or ``Graph``, or an
    iterable of pairs of unit codes. ``units`` is the units table (``code`` column) the graph's ids are
    matched against.

    Raises
    ------
    ValidationError
        For a graph node that is not a unit (naming it), a self-loop (naming the unit), or something that is
        not an adjacency at all (naming its type).
    """
    if isinstance(adjacency, pd.DataFrame):
        return adjacency
    kind = graph_kind(adjacency)
    if kind is None:
        if isinstance(adjacency, (str, bytes)) or not isinstance(adjacency, Iterable):
            raise ValidationError(
                f"adjacency: expected a DataFrame with columns a and b, a networkx graph, a libpysal W or Graph, "
                f"or pairs of unit codes; got {type(adjacency).__name__}.", items=["adjacency"])
        rows = list(adjacency)
        bad = [p for p in rows if isinstance(p, (str, bytes)) or not isinstance(p, Iterable) or len(tuple(p)) != 2]
        if bad:
            raise ValidationError(f"adjacency: each pair must hold two unit codes, got {bad[0]!r}.", items=bad[:1])
        return pd.DataFrame([tuple(p) for p in rows], columns=["a", "b"])
    label = {"networkx": f"networkx {type(adjacency).__name__}", "W": "libpysal W", "Graph": "libpysal Graph"}[kind]
    a, b, attrs = _networkx_rows(adjacency) if kind == "networkx" else _libpysal_rows(adjacency, kind)
    ids = list(adjacency.nodes) if kind == "networkx" else list(a) + list(b)
    codes = [] if not isinstance(units, pd.DataFrame) or "code" not in units.columns else \
        [str(c).strip() for c in units["code"].tolist()]
    known = set(codes)
    if all(str(i).strip() in known for i in ids):
        to_code = {i: str(i).strip() for i in ids}
    elif codes and all(i in units.index for i in ids) and units.index.is_unique:
        to_code = dict(zip(units.index, codes))  # ids are the units table's index labels
    else:
        stray = sorted({i for i in ids if str(i).strip() not in known}, key=str)
        raise ValidationError(
            f"adjacency graph ({label}) has nodes that are not units: {format_items(stray)}; every node must be a "
            "unit code (or a label of the units table's index). "
            + ("Relabel the nodes (networkx.relabel_nodes) or add the units." if kind == "networkx" else
               "Build the weights from the units table (ids = its codes or its index) or add the units."),
            items=stray,
        )
    ca = [to_code[i] for i in a]
    cb = [to_code[j] for j in b]
    loops = sorted({x for x, y in zip(ca, cb) if x == y})
    if loops:
        fix = ("G.remove_edges_from(networkx.selfloop_edges(G))" if kind == "networkx"
               else "build the weights without the diagonal")
        raise ValidationError(
            f"adjacency graph ({label}) has self-loops at units {format_items(loops)}; a unit is not its own "
            f"neighbour: {fix}.", items=loops)
    e = pd.DataFrame({"a": ca, "b": cb})
    for col in attrs.columns:
        e[col] = attrs[col].to_numpy()
    lo = np.where(e["a"].to_numpy() <= e["b"].to_numpy(), e["a"], e["b"])
    hi = np.where(e["a"].to_numpy() <= e["b"].to_numpy(), e["b"], e["a"])
    e["a"], e["b"] = lo, hi
    e = e.drop_duplicates(["a", "b"]).sort_values(["a", "b"], kind="stable").reset_index(drop=True)
    if "kind" in e.columns:
        e["kind"] = e["kind"].where(e["kind"].notna(), "boundary")
    else:
        e["kind"] = "boundary"
    return e


def implied_areas(membership: pd.DataFrame) -> pd.DataFrame:
    """The areas a membership table (columns ``unit``, ``area``, ``population``) implies: one row per area
    code (``code``, ``population`` = the sum of its rows). Rows whose population is not a number count as 0
    here; the membership's own check names them.

    >>> implied_areas(pd.DataFrame({"unit": ["A", "B", "B"], "area": ["X", "X", "Y"], "population": [5, 3, 2]}))
      code  population
    0    X           8
    1    Y           2
    """
    area = membership["area"].map(lambda c: str(c).strip() if pd.notna(c) else c)
    people = pd.to_numeric(membership["population"], errors="coerce").fillna(0)
    out = people.groupby(area.to_numpy(), sort=True).sum()
    return pd.DataFrame({"code": out.index.astype(str), "population": out.to_numpy()})
