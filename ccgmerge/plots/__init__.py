"""Pictures of plans and sweeps (matplotlib; optional).

Install the extra with ``pip install "ccgmerge[maps]"`` (matplotlib, and
geopandas for reading the boundary files; without geopandas the GeoJSON is
read with :mod:`json` and drawn with matplotlib alone).

Every function

* builds a new :class:`matplotlib.figure.Figure` on the Agg canvas (pyplot is
  never imported, so no global backend or figure state is touched) unless an
  ``ax`` is given to draw into;
* writes a PNG when ``path`` is given (``path`` with its suffix replaced by
  ``.png``) and also an SVG when ``path`` ends in ``.svg`` or ``svg=True``;
* returns the Figure;
* uses fixed palettes and a deterministic colouring, so the same plan gives the
  same picture.

Functions
---------
All are importable from this package; each lives in a submodule.

:func:`plot_plan_map` (:mod:`~ccgmerge.plots.maps`)
    the plan on the 2013 CCG boundaries, one colour per merged group, HWB
    boundaries on top; falls back to a network drawing at the units'
    coordinates when there are no boundaries (synthetic instances).
:func:`plot_allowance_curve` (:mod:`~ccgmerge.plots.charts`)
    a metric (groups) against the allowance per head, one line per
    coterminosity mode.
:func:`plot_pareto` (:mod:`~ccgmerge.plots.charts`)
    two objectives against each other with the non-dominated front.
:func:`plot_group_populations` (:mod:`~ccgmerge.plots.charts`)
    every group's population, sorted, against the floor.
:func:`group_colours`, :data:`PALETTE`, :data:`UNMERGED_COLOUR` (:mod:`~ccgmerge.plots.style`)
    the deterministic colouring shared by the maps and charts.
"""

# pareto_front and LONDON_BOX are public too, though not in __all__ (as before the split)
from ccgmerge.plots.charts import pareto_front, plot_allowance_curve, plot_group_populations, plot_pareto  # noqa: F401
from ccgmerge.plots.maps import LONDON_BOX, plot_plan_map  # noqa: F401
from ccgmerge.plots.style import PALETTE, UNMERGED_COLOUR, group_colours

__all__ = ["plot_plan_map", "plot_allowance_curve", "plot_pareto", "plot_group_populations", "group_colours",
           "PALETTE", "UNMERGED_COLOUR"]
