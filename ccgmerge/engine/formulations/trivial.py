"""Blocks whose optimum needs no model (under the packing formulation's conditions).

* A connected block with fewer than twice the floor's people can only be one
  group (modes ``off`` and ``nested``).
* A block where every unit reaches the floor keeps every unit alone: most
  groups and no one moved, in every mode.
* Fewest split HWBs (``split_areas`` the only objective term) in modes
  ``off``, ``nested`` and ``aligned`` without ceilings, unit limits, apart
  locks or limits: one group per block (:class:`Coarsest`). Merging two
  groups never splits an HWB that was whole, so the coarsest plan is
  optimal; it splits no HWB except those lying in several blocks, which
  every plan splits (a block is a connected component, an HWB's connected
  piece in nested mode, or a union of whole HWBs in aligned mode).

Examples
--------
>>> import ccgmerge.data.synthetic as syn
>>> from ccgmerge.scenario import Scenario
>>> from ccgmerge.engine.formulations.base import Block, SolveContext
>>> from ccgmerge.engine.backends import SolverOptions
>>> inst = syn.generate(12, seed=1)
>>> sc = Scenario(floor=1)
>>> block = Block(list(range(inst.n_units)), "all")
>>> TRIVIAL.accepts(inst, block, sc, forced=False)
True
>>> r = TRIVIAL.solve_block(inst, block, sc, SolveContext(SolverOptions()))
>>> len(r.groups), r.status.value, r.detail
(12, 'optimal', 'every unit reaches the floor')
"""

from __future__ import annotations

from ccgmerge.engine.formulations.base import Block, BlockResult, Formulation, SolveContext, objective_names
from ccgmerge.engine.formulations.packing import PackingFamily
from ccgmerge.engine.subsets import connected_pieces
from ccgmerge.instance import Instance
from ccgmerge.plan import Status
from ccgmerge.scenario import Coterminosity, Objective, Scenario

__all__ = ["Trivial", "TRIVIAL", "Coarsest", "COARSEST"]


def _one_group(instance: Instance, block: Block, scenario: Scenario) -> bool:
    """A connected block below twice the floor (not in aligned mode)."""
    bpop = int(instance.population[block.units].sum())
    return (scenario.coterminosity is not Coterminosity.ALIGNED and bpop < 2 * scenario.floor_population
            and len(connected_pieces(instance.neighbours, block.units)) == 1)


def _all_alone(instance: Instance, block: Block, scenario: Scenario) -> bool:
    """Every unit of the block reaches the floor on its own."""
    return int(instance.population[block.units].min()) >= scenario.floor_population


class Trivial(PackingFamily):
    """The two shortcuts; reported as ``trivial``, selected with ``formulation="packing"`` too."""

    def accepts(self, instance, block, scenario, forced):
        return _one_group(instance, block, scenario) or _all_alone(instance, block, scenario)

    def solve_block(self, instance, block, scenario, ctx: SolveContext) -> BlockResult:
        if _one_group(instance, block, scenario):
            return BlockResult([list(block.units)], Status.OPTIMAL, 0.0, 0.0, "trivial", 0.0, "block below twice the floor")
        return BlockResult([[i] for i in block.units], Status.OPTIMAL, 0.0, 0.0, "trivial", 0.0,
                           "every unit reaches the floor")


TRIVIAL = Trivial()


class Coarsest(Formulation):
    """Fewest split HWBs: one group per block (see the module docstring)."""

    name = "trivial"
    requires = ("the split_areas objective alone, coterminosity off/nested/aligned, no ceiling, unit limit, "
                "apart locks or limits")

    def why_not_exact(self, instance, scenario):
        if objective_names(scenario) != {Objective.SPLIT_AREAS}:
            return "an objective other than split_areas alone"
        if scenario.coterminosity not in (Coterminosity.OFF, Coterminosity.NESTED, Coterminosity.ALIGNED):
            return f"coterminosity {scenario.coterminosity.value}"
        if scenario.ceiling is not None or scenario.max_units is not None or scenario.apart or scenario.limits:
            return "a ceiling, a unit limit, apart locks or limits"
        return None

    def accepts(self, instance, block, scenario, forced):
        return (int(instance.population[block.units].sum()) >= scenario.floor_population
                and (not scenario.contiguity or len(connected_pieces(instance.neighbours, block.units)) == 1))

    def solve_block(self, instance, block, scenario, ctx: SolveContext) -> BlockResult:
        return BlockResult([list(block.units)], Status.OPTIMAL, 0.0, 0.0, "trivial", 0.0,
                           "one group per block: no HWB split inside it")


COARSEST = Coarsest()

