"""Benchmarks for ccgmerge (not part of the installed package).

See ``benchmarks/README.md``; the suite is :mod:`benchmarks.suite`.
"""
