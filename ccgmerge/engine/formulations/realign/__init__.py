"""Least-population-moved regrouping of a block of units from a baseline
grouping ("realignment"), exact, by owner sets and bounded restrictions.

The objective ``moved`` is ``total - Σ_g kept(g)`` where each resulting group
``g`` continues (is *owned by*) at most one baseline group ``b(g)`` and keeps
``kept(g) = pop(g ∩ b(g))`` (see :mod:`ccgmerge.scenario`). This package solves
it for one block that is connected in its adjacency graph (in ``nested`` mode
the graph has no edge between different HWB pieces), without pair locks or a
ceiling. Four facts make it exact:

1. **Every group may be assumed owned and to keep someone**, so a plan is
   given by its *owner set* ``S`` of labels, and the baseline groups outside
   ``S`` move wholly: ``U(S) = Σ_{b ∉ S} pop(b)`` (:mod:`.data`).

2. **Owner sets are enumerated**, ``|S| <= total // floor``, in order of a
   bound ``LB(S)``; a set with ``LB(S) >= UB`` (the best plan found) is
   skipped. The bound is raised by the people of other owned groups that
   each label's group must hold (:mod:`.bounds`), by the connector a label
   joining its free components must hold (:mod:`.connectors`) and by the
   pools shared among all labels (:func:`pool_bound`).

3. **Path bound.** A unit in the group labelled ``l`` that is not of
   baseline ``l`` is joined to a unit of ``l`` by a path of moved units
   (``d_l(i)``, :func:`label_distances`), so only the units near enough to
   ``l`` may take label ``l`` (:func:`restrict`, :mod:`.model`).

4. **Roots.** A fixed unit of owned baseline ``b`` lies in ``b``'s group, so
   it roots ``b``'s single-commodity flow (:mod:`.model`).

For each owner set, restricted models with growing slack prove its optimum
(:mod:`.solve`). Before them, a set whose bound is still below UB is
searched branch by branch, one branch per connector (:mod:`.search`). The
best plan ``UB`` sets every slack, so it is sought first
(:mod:`.heuristics`); those plans prove nothing, the exact phase does.

Modules, each importing only those above it:

=================  ==========================================================
:mod:`.data`       block data, restrictions, results, owner sets, plan checks
:mod:`.bounds`     path distances, label costs, owner-set and pool bounds
:mod:`.connectors` connector bounds and branches
:mod:`.heuristics` primal plans: region growing, local and iterated search, exact-fit swaps
:mod:`.model`      the restriction and its flow model
:mod:`.search`     the propagating depth-first search and branch searches
:mod:`.solve`      the driver, :func:`solve_realign`
=================  ==========================================================
"""

from __future__ import annotations

from ccgmerge.engine.formulations.realign.data import (MAX_LABELS, BlockGraph, RealignData, RealignResult, Restriction,
                                                       block_data, checked_moved, is_connected, moved_of, owner_sets,
                                                       wholesale_plan)
from ccgmerge.engine.formulations.realign.bounds import (MAX_FREE_COMPONENTS, MAX_FRONTIER, MAX_POOL_OPTIONS, dijkstra,
                                                         distances_dict, free_components, free_mask, label_candidates,
                                                         label_cost, label_distances, label_tree, node_distances,
                                                         node_distances_from,
                                                         own_components, own_people, owner_set_cost, pool_bound)
from ccgmerge.engine.formulations.realign.connectors import (MAX_CONNECTOR_STATES, MAX_CONNECTORS, connector_branches,
                                                             connector_cost, give)
from ccgmerge.engine.formulations.realign.heuristics import (FIT_EDGE, FIT_MAX_CHECKS, FIT_MAX_PAIRS, FIT_SIZE,
                                                             PATIENCE, PERTURB_SIZE, TREE_OPTIONS, fit_plan,
                                                             grow_plan, heuristic_plan, improve_plan, perturb_plan,
                                                             search_plan)
from ccgmerge.engine.formulations.realign.model import (add_realign_assignment, add_realign_flow, add_realign_floor,
                                                        add_realign_neighbour_cuts, add_realign_path_costs,
                                                        build_realign, read_groups, restrict)
from ccgmerge.engine.formulations.realign.search import (MAX_CUT, SEARCH_MAX_NODES, SEARCH_MAX_TOTAL, SEARCH_SLICE,
                                                         search_branches, search_restriction)
from ccgmerge.engine.formulations.realign.solve import HEURISTIC_SHARE, POOL_SHARE, SEARCH_SHARE, solve_realign

__all__ = [
    # the old module's __all__
    "RealignData", "RealignResult", "block_data", "owner_sets", "label_distances", "label_cost", "owner_set_cost",
    "connector_cost", "connector_branches", "search_restriction", "search_branches", "label_tree", "grow_plan",
    "improve_plan", "heuristic_plan", "perturb_plan", "search_plan", "pool_bound", "restrict", "build_realign",
    "solve_realign", "MAX_LABELS",
    # its other public names
    "Restriction", "moved_of", "wholesale_plan", "add_realign_assignment", "add_realign_floor",
    "add_realign_neighbour_cuts", "add_realign_path_costs", "add_realign_flow",
    "MAX_FREE_COMPONENTS", "MAX_FRONTIER", "MAX_POOL_OPTIONS", "MAX_CONNECTOR_STATES", "MAX_CONNECTORS",
    "TREE_OPTIONS", "PERTURB_SIZE", "PATIENCE", "MAX_CUT", "SEARCH_SLICE", "SEARCH_MAX_NODES", "SEARCH_MAX_TOTAL",
    "HEURISTIC_SHARE", "POOL_SHARE", "SEARCH_SHARE",
    # helpers shared between the submodules (private in the old module)
    "free_components", "dijkstra", "label_candidates", "own_people", "own_components", "give", "is_connected",
    "checked_moved", "read_groups",
    # compact arrays (scipy.sparse.csgraph) and the exact-fit swaps
    "BlockGraph", "node_distances", "node_distances_from", "distances_dict", "free_mask", "fit_plan", "FIT_SIZE",
    "FIT_EDGE", "FIT_MAX_PAIRS", "FIT_MAX_CHECKS",
]
