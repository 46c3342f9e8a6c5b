"""The exact formulations, one module each, behind one interface (:mod:`.base`).

:data:`FORMULATIONS` is the order in which :func:`ccgmerge.engine.solve.solve`
tries them on each block; the first that is exact, accepts the block and
returns a result wins:

========================  ===============  ==================================================
module                    name             what it solves
========================  ===============  ==================================================
:mod:`.trivial`           packing          blocks whose optimum needs no model
:mod:`.aligned`           packing          aligned mode: packing with a split-HWB search
:mod:`.packing`           packing          minimal viable groups, packed (off, nested)
:mod:`.partition`         partition        set partitioning over unsplittable groups
:mod:`.parts`             partition        split_areas in penalised mode: parts glued into groups
:mod:`.hwb_windows`       labelled         aligned/nested: HWB unions (:mod:`.unions`), windows
:mod:`.labelled`          labelled         realignment from a baseline (the realign engine)
:mod:`.trivial`           trivial          fewest split HWBs: one group per block
:mod:`.compact`           compact          the assignment model, exact for everything
========================  ===============  ==================================================

``name`` is what ``solve(formulation=...)`` selects.

Examples
--------
>>> [f.name for f in FORMULATIONS]
['packing', 'packing', 'packing', 'partition', 'partition', 'labelled', 'labelled', 'trivial', 'compact']
>>> import ccgmerge.data.synthetic as syn
>>> from ccgmerge.scenario import Scenario
>>> why_not_exact("labelled", syn.generate(20, seed=2), Scenario(floor=300_000))
'an objective other than moved alone, or no baseline grouping'
"""

from __future__ import annotations

from ccgmerge.engine.formulations.aligned import ALIGNED
from ccgmerge.engine.formulations.base import Formulation
from ccgmerge.engine.formulations.compact import COMPACT
from ccgmerge.engine.formulations.labelled import LABELLED
from ccgmerge.engine.formulations.packing import PACKING
from ccgmerge.engine.formulations.partition import PARTITION
from ccgmerge.engine.formulations.parts import SPLIT_BY_PARTS
from ccgmerge.engine.formulations.trivial import COARSEST, TRIVIAL
from ccgmerge.engine.formulations.hwb_windows import UNIONS
from ccgmerge.instance import Instance
from ccgmerge.scenario import Scenario

__all__ = ["FORMULATIONS", "NAMES", "why_not_exact", "Formulation"]

#: the formulations in the order they are tried on each block
FORMULATIONS: tuple[Formulation, ...] = (TRIVIAL, ALIGNED, PACKING, PARTITION, SPLIT_BY_PARTS, UNIONS, LABELLED, COARSEST, COMPACT)

#: what ``solve(formulation=...)`` accepts
NAMES: tuple[str, ...] = ("auto", "packing", "partition", "labelled", "compact")


def why_not_exact(name: str, instance: Instance, scenario: Scenario) -> str | None:
    """None when the formulation called ``name`` is exact for the scenario; else why not.

    For a name shared by several entries (``packing``, ``labelled``), None when any of them is exact,
    else their reasons.
    """
    reasons = [f.why_not_exact(instance, scenario) for f in FORMULATIONS if f.name == name]
    if reasons:
        return None if None in reasons else "; ".join(dict.fromkeys(reasons))
    raise ValueError(f"unknown formulation {name!r}; known: {', '.join(NAMES[1:])}.")
