"""Loaders for the real England data and for users' own tables.

The real tables ship inside the package (``ccgmerge/data/real/``, with
``PROVENANCE.md`` saying what each file is and ``LICENCE-DATA.md`` the OGL
v3.0 attribution). The folder read is, in order, the ``data`` argument, the
``CCGMERGE_DATA`` environment variable, ``../shared/data`` beside the
project's root or the working folder, and the packaged tables (always
present); see :mod:`ccgmerge.data.paths`. The large geometry is not packaged:
:func:`geometry_file` finds it in a data folder.

Loaders
-------
All are importable from this package; each lives in a submodule:

* :func:`load_ccg2013` (:mod:`~ccgmerge.data.ccg2013`) -- the 211 CCGs of
  April 2013 and the 152 HWBs;
* :func:`load_lsoa2013` (:mod:`~ccgmerge.data.lsoa`) -- the 32,844 LSOAs (2011)
  with their 2013 CCG as the baseline grouping, optionally restricted to some
  HWBs or CCGs;
* :func:`load_lsoa_units` (:mod:`~ccgmerge.data.lsoa`) -- the organisations of
  a later year (CCGs 2015-21, STPs, Sub-ICB locations, ICBs 2022) rebuilt
  from their LSOAs;
* :func:`load_configuration` (:mod:`~ccgmerge.data.configurations`) -- a later
  official configuration as a grouping of the 2013 CCGs (for comparing plans
  with what actually happened);
* :func:`from_csv` / :func:`to_csv` / :func:`from_folder`
  (:mod:`~ccgmerge.data.tables`) -- users' own tables, with a column mapping;
* :func:`from_geodataframe` (:mod:`~ccgmerge.data.geo`) -- an instance from
  unit polygons: adjacency (rook or queen contiguity, water crossings,
  islands) and membership from geometry; needs the optional ``geo`` extra
  (``pip install "ccgmerge[geo]"``), imported only when called;
* :func:`list_datasets` / :func:`list_configurations` (:mod:`~ccgmerge.data.catalogue`)
  and :func:`list_hwbs` / :func:`list_ccgs` (:mod:`~ccgmerge.data.names`) --
  what there is, as tables; :func:`resolve_hwbs` / :func:`resolve_ccgs` turn
  names (``"Kent"``) into codes, as the loaders' ``hwbs=`` and ``ccgs=`` do;
* :func:`data_dir` / :func:`data_locations` / :func:`has_real_data` /
  :func:`packaged_data_dir` / :func:`geometry_file`
  (:mod:`~ccgmerge.data.paths`) -- where the data folder and the geometry are;
* :mod:`ccgmerge.data.synthetic` -- seeded synthetic instances.

Examples
--------
>>> from ccgmerge.data import load_ccg2013, load_configuration
>>> inst = load_ccg2013()
>>> inst
Instance('England CCGs 2013': 211 units, 152 areas, 531 adjacency edges, population 53,434,130)
>>> load_configuration("icb22").nunique()
42
"""

from ccgmerge.data.catalogue import list_configurations, list_datasets
from ccgmerge.data.ccg2013 import load_ccg2013
from ccgmerge.data.configurations import configuration_names, load_configuration
from ccgmerge.data.geo import from_geodataframe
from ccgmerge.data.lsoa import load_lsoa2013, load_lsoa_units, lsoa_unit_levels
from ccgmerge.data.names import list_ccgs, list_hwbs, list_nhs_areas, nhs_area_hwbs, resolve_ccgs, resolve_hwbs
from ccgmerge.data.paths import data_dir, data_locations, geometry_file, has_real_data, packaged_data_dir
from ccgmerge.data.tables import from_csv, from_folder, to_csv

__all__ = [
    "data_dir",
    "has_real_data",
    "load_ccg2013",
    "load_lsoa2013",
    "load_lsoa_units",
    "load_configuration",
    "configuration_names",
    "lsoa_unit_levels",
    "from_csv",
    "from_folder",
    "from_geodataframe",
    "to_csv",
    "data_locations",
    "geometry_file",
    "packaged_data_dir",
    "list_datasets",
    "list_configurations",
    "list_hwbs",
    "list_ccgs",
    "resolve_hwbs",
    "list_nhs_areas",
    "nhs_area_hwbs",
    "resolve_ccgs",
]
