"""One exception hierarchy for ccgmerge.

Every error carries the offending items (unit codes, area codes, row numbers,
column names) in ``.items`` so that scripts can act on them, and its message
says how to fix the input.
"""

from __future__ import annotations

from collections.abc import Iterable


class CCGMergeError(Exception):
    """Base class of all ccgmerge errors."""


class ValidationError(CCGMergeError, ValueError):
    """Input data is inconsistent; ``items`` lists the culprits.

    Examples
    --------
    >>> err = ValidationError("duplicate unit codes", items=["00C"])
    >>> err.items
    ('00C',)
    """

    def __init__(self, message: str, items: Iterable = ()):
        self.items = tuple(items)
        super().__init__(message)


class ScenarioError(CCGMergeError, ValueError):
    """A scenario's parameters are invalid (names the parameter)."""


class InfeasibleError(CCGMergeError):
    """Raised by callers that ask for a plan where none can exist.

    ``explanation`` is an :class:`ccgmerge.plan.Infeasibility` with the
    blocking units and areas.
    """

    def __init__(self, message: str, explanation=None):
        self.explanation = explanation
        super().__init__(message)


class SolverError(CCGMergeError):
    """The solver could not run, crashed, or contradicted itself.

    Raised instead of a plan when the answer cannot be trusted: the CBC binary
    is missing or exits with an error or a signal, HiGHS fails, or a solver
    reports "infeasible" for a block that holds a plan the checker accepts.
    The message names the solver, the cause (path, exit code, signal) and what
    to do; ``solver`` and ``cause`` hold the first two for scripts. (A solver
    stopped by the time limit is not an error: that plan is FEASIBLE or
    NO_SOLUTION.)

    Examples
    --------
    >>> err = SolverError("cbc failed", solver="cbc", cause="exit code 1")
    >>> err.solver, err.cause
    ('cbc', 'exit code 1')
    """

    def __init__(self, message: str, solver: str = "", cause: str = ""):
        self.solver = solver
        self.cause = cause
        super().__init__(message)


class DataNotFoundError(CCGMergeError, FileNotFoundError):
    """The shared real-data folder (or one of its files) is missing."""


class InstanceWarning(UserWarning):
    """Something about an instance is legal but worth knowing (isolated units,
    several components)."""


def format_items(items, limit: int = 10) -> str:
    """Format a list of offending items for a message, eliding long lists.

    >>> format_items(["a", "b"])
    'a, b'
    >>> format_items(range(12), limit=3)
    '0, 1, 2 (and 9 more)'
    """
    items = list(items)
    shown = ", ".join(str(i) for i in items[:limit])
    if len(items) > limit:
        shown += f" (and {len(items) - limit} more)"
    return shown
