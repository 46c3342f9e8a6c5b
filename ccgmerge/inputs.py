"""What :func:`ccgmerge.solve` accepts: an :class:`~ccgmerge.instance.Instance` and a scenario.

:func:`coerce_inputs` is the first thing ``solve`` does. The scenario may be a
:class:`~ccgmerge.scenario.Scenario`, None (the defaults) or a dict of its
parameters (``{"floor": 250_000}``, read by :func:`~ccgmerge.scenario.as_scenario`:
unknown keys are a :class:`~ccgmerge.errors.ScenarioError` naming them, the
nearest parameter and all allowed ones). The instance must be an ``Instance``;
anything else is a :class:`~ccgmerge.errors.ValidationError` that says how to
build one from what was given:

* a GeoDataFrame: ``ccgmerge.data.from_geodataframe(gdf, population=..., code=..., areas=...)``;
* a DataFrame: ``Instance.from_frames(units, areas, membership, adjacency)`` or ``ccgmerge.from_csv``;
* a networkx graph or a libpysal ``W`` / ``Graph``: it is only the adjacency, passed as
  ``Instance.from_frames(units, areas, membership, adjacency=G)``;
* a string: a dataset name (``"ccg2013"``), an HWB (``"Kent"``: ``load_lsoa2013(hwbs=["Kent"])``)
  or a folder of tables (``from_folder``);
* a :class:`~ccgmerge.plan.Plan`: its ``plan.instance``; the two arguments swapped: says so.

Unit names are accepted in the scenario's locks (``alone``, ``together``, ``apart``) where they name one
unit (:func:`lock_codes`): ``Scenario(alone=["Darlington"])`` on the 2013 CCGs locks ``00C``.

Examples
--------
>>> import ccgmerge.data.synthetic as syn
>>> inst, sc = coerce_inputs(syn.generate(10, seed=1), {"floor": 300_000})
>>> sc.floor_population
300000
>>> coerce_inputs({"floor": 300_000}, inst)
Traceback (most recent call last):
...
ccgmerge.errors.ValidationError: solve(instance, scenario) got the scenario first: the arguments are swapped; call solve(instance, scenario).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ccgmerge.errors import CCGMergeError, ScenarioError, ValidationError
from ccgmerge.frames import graph_kind
from ccgmerge.instance import Instance
from ccgmerge.plan import Plan
from ccgmerge.scenario import Scenario, as_scenario

__all__ = ["coerce_inputs", "instance_hint", "lock_codes"]

_GRAPH_HINT = (
    "a graph holds only the adjacency; solve needs the units' populations and HWB membership too. Build the "
    "instance with Instance.from_frames(units, areas, membership, adjacency=G): units has columns code and "
    "population, areas code and population, membership unit, area and population; G's nodes are unit codes "
    "(or labels of the units table's index)"
)


def _string_hint(text: str) -> str:
    """How to get an instance from a string (a dataset name, an HWB name or code, a folder)."""
    from ccgmerge.data.catalogue import dataset_call  # lazy: the data tables are read only here
    from ccgmerge.data.names import resolve_hwbs

    key = text.strip()
    if dataset_call(key):
        return f"load the dataset first: ccgmerge.data.{dataset_call(key)}"
    if key and Path(key).is_dir():
        return f"read the folder of tables first: ccgmerge.from_folder({key!r})"
    try:
        code = resolve_hwbs([key])[0]
    except CCGMergeError:  # not an HWB (or no data): the general hint
        code = None
    if code is not None:
        return (f"{key!r} is the HWB {code}: load its LSOAs with ccgmerge.load_lsoa2013(hwbs=[{key!r}]) "
                "(or all 211 CCGs with ccgmerge.load_ccg2013())")
    return ("load an instance first: ccgmerge.load_ccg2013() (211 CCGs), ccgmerge.load_lsoa2013(hwbs=[...]) "
            "(the LSOAs of some HWBs) or ccgmerge.from_csv(...); ccgmerge.data.list_datasets() lists the datasets")


def instance_hint(obj) -> str:
    """Why ``obj`` is not an :class:`Instance`, and how to build one from it (one sentence, for messages).

    >>> import networkx as nx
    >>> instance_hint(nx.path_graph(3)).split(";")[0]
    'got a networkx Graph: a graph holds only the adjacency'
    """
    kind = graph_kind(obj)
    if kind is not None:
        name = {"networkx": f"networkx {type(obj).__name__}", "W": "libpysal W", "Graph": "libpysal Graph"}[kind]
        return f"got a {name}: {_GRAPH_HINT}"
    if type(obj).__module__.startswith("geopandas") and isinstance(obj, pd.DataFrame):
        return ("got a GeoDataFrame: build the instance from the polygons with ccgmerge.data.from_geodataframe(gdf, "
                "population='population', code='code', areas=<area polygons or a column of area codes>) (the geo "
                "extra), or from tables with Instance.from_frames(units, areas, membership, adjacency)")
    if isinstance(obj, pd.DataFrame):
        return ("got a DataFrame: one table is not an instance; build one from the four tables with "
                "Instance.from_frames(units, areas, membership, adjacency) or ccgmerge.from_csv(units, areas, "
                "membership, adjacency, columns={...}) to map your column names (polygons: "
                "ccgmerge.data.from_geodataframe)")
    if isinstance(obj, Plan):
        return "got a Plan: pass plan.instance to solve it again"
    if isinstance(obj, str):
        return f"got the string {obj!r}: {_string_hint(obj)}"
    if isinstance(obj, os.PathLike):
        return f"got a path: read the tables first with ccgmerge.from_folder({os.fspath(obj)!r}) or ccgmerge.from_csv"
    return (f"got {type(obj).__name__}: build one with ccgmerge.load_ccg2013(), ccgmerge.load_lsoa2013(), "
            "Instance.from_frames(...), ccgmerge.from_csv(...) or ccgmerge.data.from_geodataframe(...)")


def coerce_inputs(instance, scenario=None) -> tuple[Instance, Scenario]:
    """``(instance, scenario)`` checked: the instance an :class:`Instance`, the scenario a :class:`Scenario`
    (None and dicts of parameters accepted).

    Raises
    ------
    ValidationError
        When ``instance`` is not an Instance; the message says what was given and how to build an instance
        from it (``items`` holds the type's name).
    ScenarioError
        When ``scenario`` is neither a Scenario, None nor a dict of valid parameters.
    """
    if isinstance(instance, (Scenario, Mapping)) and isinstance(scenario, Instance):
        raise ValidationError("solve(instance, scenario) got the scenario first: the arguments are swapped; call "
                              "solve(instance, scenario).", items=["instance"])
    if not isinstance(instance, Instance):
        raise ValidationError(f"solve needs a ccgmerge.Instance as its first argument; {instance_hint(instance)}.",
                              items=[type(instance).__name__])
    return instance, lock_codes(instance, as_scenario(scenario))


def lock_codes(instance: Instance, scenario: Scenario) -> Scenario:
    """``scenario`` with unit names in ``alone``, ``together`` and ``apart`` replaced by their codes (a name
    that matches one unit of ``instance``, as :func:`ccgmerge.data.names.resolve_codes` matches). Codes stay;
    unknown values stay for the solver's check to name; an ambiguous name is a ScenarioError listing its
    matches.

    >>> import ccgmerge.data.synthetic as syn
    >>> inst = syn.generate(10, seed=1)
    >>> lock_codes(inst, Scenario(alone=["unit 00003"], apart=[("U00001", "Unit 00002")])).alone
    frozenset({'U00003'})
    """
    values = sorted(set(scenario.alone) | {c for p in scenario.together | scenario.apart for c in p})
    names = [v for v in values if v not in instance.index]
    if not names:
        return scenario
    from ccgmerge.data.names import resolve_codes  # lazy: only when a lock is not a code

    table = instance.units.reset_index()[["code", "name"]]
    try:
        codes = resolve_codes(names, table, what="locks", noun="unit", keep_unknown=True)
    except ValidationError as exc:
        raise ScenarioError(str(exc)) from None
    to_code = dict(zip(names, codes))
    pair = lambda p: (to_code.get(p[0], p[0]), to_code.get(p[1], p[1]))  # noqa: E731
    return scenario.replace(alone=[to_code.get(c, c) for c in scenario.alone],
                            together=[pair(p) for p in scenario.together], apart=[pair(p) for p in scenario.apart])
