"""The ``ccgmerge`` command line.

Subcommands
-----------
``ccgmerge solve``
    Build an instance (real 2013 CCGs by default), solve a scenario, print the
    plan's summary and its merged groups, optionally write ``plan.csv``,
    ``groups.csv`` and ``summary.json`` to ``--out DIR`` (checked before the
    solve; the set is replaced atomically, see :mod:`ccgmerge.output`).
``ccgmerge summary``
    Print :func:`ccgmerge.analysis.summary.summarize` for an instance and a floor.
``ccgmerge sweep``
    Run a TOML grid of scenarios (:func:`ccgmerge.analysis.sweep.sweep_from_config`),
    on local worker processes or on a dask scheduler (``--scheduler ADDRESS``).
``ccgmerge datasets``
    List the built-in datasets, the HWBs (``--hwbs``), the CCGs (``--ccgs``)
    and the later configurations.

Modules
-------
:mod:`~ccgmerge.cli.common` (exit codes, option values),
:mod:`~ccgmerge.cli.parser` (the options),
:mod:`~ccgmerge.cli.inputs` (the instance: datasets, CSV files and column
mappings, implied areas, names for codes),
:mod:`~ccgmerge.cli.commands` (``solve``, ``summary``, progress lines),
:mod:`~ccgmerge.cli.sweep` and :mod:`~ccgmerge.cli.datasets`.

Exit codes (``solve``)
----------------------
0 a plan (optimal or feasible) that the checker accepted;
1 bad input (an option value, a CSV file, a missing data folder), or the
  message of a :class:`~ccgmerge.errors.CCGMergeError`;
2 proven infeasible (the explanation is printed);
3 no plan found within the limits;
4 the solver-free checker rejected the plan;
5 the solver failed (it could not run, crashed, or contradicted itself: a
  :class:`~ccgmerge.errors.SolverError`; the message names the cause).

Input
-----
``--dataset ccg2013`` (the default) reads the real tables
(:func:`ccgmerge.data.data_dir`: ``--data DIR``, else ``CCGMERGE_DATA``, else
``../shared/data``, else the copy shipped inside the package), so the
README's first command solves the real 211 CCGs on any machine. ``--data DIR``
or ``CCGMERGE_DATA`` naming a missing folder is an error (exit 1, naming it).
``--dataset synthetic`` generates a seeded instance instead.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence

from ccgmerge.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_CHECK_FAILED,
    EXIT_INFEASIBLE,
    EXIT_NO_SOLUTION,
    EXIT_OK,
    EXIT_SOLVER_FAILED,
    UsageError,
    parse_objective,
    say,
)
from ccgmerge.cli.inputs import load_instance
from ccgmerge.cli.parser import build_parser
from ccgmerge.errors import CCGMergeError, SolverError

__all__ = ["main", "build_parser", "parse_objective", "load_instance", "UsageError", "EXIT_OK", "EXIT_BAD_INPUT",
           "EXIT_INFEASIBLE", "EXIT_NO_SOLUTION", "EXIT_CHECK_FAILED", "EXIT_SOLVER_FAILED"]


# --------------------------------------------------------------------------- main
def _show_warning(message, category, filename, lineno, file=None, line=None):
    say(f"warning: {message}", sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see the module docstring)."""
    parser = build_parser()
    args = None
    try:
        try:
            args = parser.parse_args(list(argv) if argv is not None else None)
        except SystemExit as exc:  # --help / --version
            return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_BAD_INPUT
        with warnings.catch_warnings():
            # InstanceWarnings (isolated units, several components) as one plain line each
            warnings.showwarning = _show_warning
            return args.func(args)
    except UsageError as exc:
        say(f"error: {exc}", sys.stderr)
        prog = exc.prog or ("ccgmerge" if args is None else f"ccgmerge {args.command}")
        say(f"run '{prog} --help' for the options.", sys.stderr)
        return EXIT_BAD_INPUT
    except SolverError as exc:  # the solver cannot run, crashed or contradicted itself
        say(f"error: the solver failed: {exc}", sys.stderr)
        return EXIT_SOLVER_FAILED
    except CCGMergeError as exc:
        # ValidationError, ScenarioError, DataNotFoundError: a message, never a traceback.
        say(f"error: {exc}", sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # output piped into head & co.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_BAD_INPUT
    except OSError as exc:  # e.g. --out not writable
        say(f"error: {exc}", sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        say("interrupted", sys.stderr)
        return 130


