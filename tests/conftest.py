"""Shared fixtures.

Real-data fixtures (``data_path``, ``ccg2013``, ``lsoa2013``) find the data
folder with :func:`ccgmerge.data.data_dir` (``CCGMERGE_DATA`` or
``../shared/data``). When it is absent:

* on a developer machine (environment variable ``CI`` unset, empty, ``0`` or
  ``false``) the tests that need it are **skipped**;
* in CI (``CI`` set to anything else) they **fail** loudly, so a broken data
  checkout cannot pass silently.
"""

from __future__ import annotations

import os
import warnings

import pytest

from ccgmerge.data import data_dir, load_ccg2013, load_lsoa2013
from ccgmerge.errors import DataNotFoundError


def in_ci() -> bool:
    """True when the ``CI`` environment variable is set (and not 0/false/no)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_real_data(path=None):
    """The real data folder, or skip (locally) / fail (in CI) when it is missing."""
    try:
        return data_dir(path)
    except DataNotFoundError as exc:
        if in_ci():
            pytest.fail(f"CI is set but the real data is missing: {exc}", pytrace=False)
        pytest.skip(f"real data not available ({exc})")


@pytest.fixture(scope="session")
def data_path():
    """Path of the real data folder (skip locally / fail in CI when absent)."""
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
