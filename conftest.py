"""Root pytest configuration.

The real tables ship inside the package (``ccgmerge/data/real``), so the
doctests that read them always run: they are never skipped. A wrong
``CCGMERGE_DATA`` (a folder without ``ccg2013_units.csv``) makes them fail
with a message naming the folder. The header of the test report says which
data folder and which optional geometry files the run uses.
"""

from ccgmerge.data.paths import GEOMETRY_FILES, data_dir, geometry_file
from ccgmerge.errors import DataNotFoundError


def pytest_report_header(config):
    try:
        tables = str(data_dir())
    except DataNotFoundError as exc:
        tables = f"MISSING ({exc})"
    found = []
    for name in GEOMETRY_FILES:
        try:
            geometry_file(name)
            found.append(name)
        except DataNotFoundError:
            pass
    return [f"ccgmerge real tables: {tables}",
            f"ccgmerge geometry found: {', '.join(found) or 'none (tests that need them skip locally, fail in CI)'}"]
