"""Pictures and reports of plans and sweeps (optional extras).

Install ``pip install "ccgmerge[maps]"`` (matplotlib, and geopandas for
reading the boundary files; without geopandas the GeoJSON is read with
:mod:`json` and drawn with matplotlib alone) and, for :func:`explore`,
``pip install "ccgmerge[report]"`` (folium, mapclassify). The HTML reports
need nothing more than matplotlib (and geopandas for real boundaries): they
inline a copy of Leaflet shipped with ccgmerge.

Every picture function

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
    the plan in British National Grid on the 2013 CCG boundaries (or, for LSOA
    plans, the 2011 LSOA polygons, moved LSOAs hatched), every group coloured
    (neighbours differ) and numbered, a key naming every group, HWB outlines,
    a labelled London inset and the data attribution; a network drawing at
    the units' coordinates when there are no boundaries (synthetic instances).
:func:`plot_allowance_curve` (:mod:`~ccgmerge.plots.charts`)
    a metric (groups) against the allowance per head in pounds, one line per
    coterminosity mode, runs without a plan summarised per mode.
:func:`plot_pareto` (:mod:`~ccgmerge.plots.charts`)
    two objectives against each other with the non-dominated front.
:func:`plot_group_populations` (:mod:`~ccgmerge.plots.charts`)
    every group's population, sorted, against the floor.
:func:`group_key`, :func:`plan_geodataframe`, :func:`explore` (:mod:`~ccgmerge.plots.frames`)
    the numbered table of a plan's groups (as on the maps), the plan as a
    GeoDataFrame, and an interactive folium map in a notebook.
:func:`plan_report`, :func:`sweep_report` (:mod:`~ccgmerge.plots.report`)
    one self-contained HTML file (opens offline) with an interactive map, the
    metrics, the checker's verdict and the groups; for a sweep, the allowance
    curve and a map per chosen run.
:func:`group_colours`, :data:`PALETTE`, :data:`MODE_COLOURS`, :data:`UNMERGED_COLOUR` (:mod:`~ccgmerge.plots.style`)
    the deterministic colouring shared by the maps, charts and reports.
"""

# pareto_front and LONDON_BOX are public too, though not in __all__ (as before the split)
from ccgmerge.plots.charts import pareto_front, plot_allowance_curve, plot_group_populations, plot_pareto  # noqa: F401
from ccgmerge.plots.frames import explore, group_key, plan_geodataframe
from ccgmerge.plots.maps import LONDON_BOX, plot_plan_map  # noqa: F401
from ccgmerge.plots.report import plan_report, sweep_report
from ccgmerge.plots.style import MODE_COLOURS, PALETTE, UNMERGED_COLOUR, group_colours

__all__ = ["plot_plan_map", "plot_allowance_curve", "plot_pareto", "plot_group_populations", "group_colours",
           "PALETTE", "MODE_COLOURS", "UNMERGED_COLOUR", "group_key", "plan_geodataframe", "explore", "plan_report",
           "sweep_report"]
