"""Loaders for the real England data in ``../shared/data`` and for users' own tables.

The data folder is found, in order, from the ``data_dir`` argument, the
``CCGMERGE_DATA`` environment variable, and ``../shared/data`` beside the
project's root (the layout used on every development machine and in CI).
The files are read in place and never copied into the project; see
``PROVENANCE.md`` in that folder for what each file is.

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
* :func:`data_dir` / :func:`data_locations` / :func:`has_real_data`
  (:mod:`~ccgmerge.data.paths`) -- where the data folder is;
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

from ccgmerge.data.ccg2013 import load_ccg2013
from ccgmerge.data.configurations import configuration_names, load_configuration
from ccgmerge.data.lsoa import load_lsoa2013, load_lsoa_units, lsoa_unit_levels
from ccgmerge.data.paths import data_dir, data_locations, has_real_data
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
    "to_csv",
    "data_locations",
]
