"""``python -m ccgmerge ...``: the same command line as ``ccgmerge ...``."""

from ccgmerge.cli import main

if __name__ == "__main__":  # guarded: pytest --doctest-modules imports this module
    raise SystemExit(main())
