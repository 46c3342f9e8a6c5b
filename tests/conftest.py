"""Shared fixtures.

The real tables ship with the package, so the real-data fixtures
(``data_path``, ``ccg2013``, ``lsoa2013``) never skip: :func:`require_real_data`
fails when :func:`ccgmerge.data.data_dir` finds nothing (only possible with a
``CCGMERGE_DATA`` naming a wrong folder, or a broken install).

Only the large optional geometry (``ccg2013_boundaries.geojson``,
``hwb2013_boundaries.geojson``, ``lsoa11_boundaries.gpkg``), which is not
packaged, may be absent. Tests that need it use :func:`require_geometry` (or
the fixtures ``ccg2013_boundaries`` / ``hwb2013_boundaries``):

* on a developer machine (environment variable ``CI`` unset, empty, ``0``,
  ``false`` or ``no``) they are **skipped**, the reason naming the missing file
  and every place looked in;
* in CI (``CI`` set to anything else) they **fail** loudly, so a broken data
  checkout cannot pass silently.
"""

from __future__ import annotations

import os
import warnings

import pytest

from ccgmerge.data import data_dir, geometry_file, load_ccg2013, load_lsoa2013
from ccgmerge.errors import DataNotFoundError


def in_ci() -> bool:
    """True when the ``CI`` environment variable is set (and not 0/false/no)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def skip_or_fail(reason: str):
    """Skip the test with ``reason`` on a developer machine; fail it in CI."""
    if in_ci():
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason)


def require_real_data(path=None):
    """The real tables' folder (:func:`ccgmerge.data.data_dir`); fails (never skips) when missing."""
    try:
        return data_dir(path)
    except DataNotFoundError as exc:
        pytest.fail(f"the real tables ship with ccgmerge, yet none were found: {exc}", pytrace=False)


def require_geometry(name: str, path=None):
    """The optional geometry file ``name`` (:func:`ccgmerge.data.geometry_file`),
    or skip (locally) / fail (in CI) naming the file and where it was looked for."""
    try:
        return geometry_file(name, path)
    except DataNotFoundError as exc:
        skip_or_fail(f"optional geometry missing: {exc}")


@pytest.fixture(scope="session")
def data_path():
    """Path of the real tables' folder (never skips)."""
    return require_real_data()


@pytest.fixture(scope="session")
def ccg2013(data_path):
    """The 211 CCGs of 2013 (session-scoped Instance)."""
    return load_ccg2013(data_path)


@pytest.fixture(scope="session")
def lsoa2013(data_path):
    """All 32,844 LSOAs with the 2013 CCG baseline (loaded once per session)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # England with bridges must be connected: no InstanceWarning
        return load_lsoa2013(data_path)


@pytest.fixture(scope="session")
def ccg2013_boundaries():
    """Path of ``ccg2013_boundaries.geojson`` (skip locally / fail in CI when absent)."""
    return require_geometry("ccg2013_boundaries.geojson")


@pytest.fixture(scope="session")
def hwb2013_boundaries():
    """Path of ``hwb2013_boundaries.geojson`` (skip locally / fail in CI when absent)."""
    return require_geometry("hwb2013_boundaries.geojson")
