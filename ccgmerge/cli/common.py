"""What every ``ccgmerge`` command shares: exit codes, limits, the usage error,
printing, and the parsers of option values.

Examples
--------
>>> parse_objective("merges")
'merges'
>>> parse_objective("merges,moved")
('merges', 'moved')
>>> parse_objective("merges=1, noncoterminous=0.001")
{'merges': 1.0, 'noncoterminous': 0.001}
"""

from __future__ import annotations

import argparse
import math
import sys

from ccgmerge.errors import ScenarioError
from ccgmerge.scenario import Objective

__all__ = ["UsageError", "say", "number", "parse_objective", "limits_arg", "EXIT_OK", "EXIT_BAD_INPUT",
           "EXIT_INFEASIBLE", "EXIT_NO_SOLUTION", "EXIT_CHECK_FAILED", "EXIT_SOLVER_FAILED"]

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_INFEASIBLE = 2
EXIT_NO_SOLUTION = 3
EXIT_CHECK_FAILED = 4
EXIT_SOLVER_FAILED = 5

#: Units and seed of ``--dataset synthetic`` when ``--units`` / ``--seed`` are not given.
FALLBACK_UNITS = 211
FALLBACK_SEED = 0
#: Largest population floor or ceiling accepted (more people than live on Earth).
MAX_PEOPLE = 10_000_000_000
#: Longest --time-limit accepted (about three years; far longer ones overflow the solver's timer).
MAX_SECONDS = 100_000_000


class UsageError(Exception):
    """A command-line usage error (exit code 1, message without traceback)."""

    def __init__(self, message: str, prog: str | None = None):
        self.prog = prog
        super().__init__(message)


def say(text: str, stream=None) -> None:
    """Print a line to stdout (or ``stream``)."""
    print(text, file=stream or sys.stdout, flush=stream is not None)


def limits_arg(items) -> dict:
    """``--limit TERM MAX`` pairs as a dict of finite numbers."""
    out = {}
    for term, value in items:
        try:
            out[term] = float(value.replace(",", "").replace("_", ""))
        except ValueError:
            raise ScenarioError(f"--limit {term} {value}: {value!r} is not a number.") from None
        if not math.isfinite(out[term]):
            raise ScenarioError(f"--limit {term} {value}: the bound must be a finite number; leave the --limit out "
                                "for no bound.")
    return out


def number(kind, what: str, minimum=None, strict=False, maximum=None):
    """An argparse ``type=`` that reads an int or a finite float within bounds, naming the option."""
    def conv(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a {'whole ' if kind is int else ''}number, got {text!r}") from None
        if kind is float and not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"{what} must be a finite number, got {text!r} (leave the option out "
                                             "for its default)")
        if minimum is not None and (v <= minimum if strict else v < minimum):
            raise argparse.ArgumentTypeError(f"{what} must be {'>' if strict else '>='} {minimum}, got {text!r}")
        if maximum is not None and v > maximum:
            raise argparse.ArgumentTypeError(f"{what} must be at most {maximum:,}, got {text!r}")
        return v

    conv.__name__ = what  # argparse uses it in "invalid <name> value"
    return conv


def parse_objective(text: str):
    """``--objective`` value: ``name`` | ``a,b,c`` (lexicographic) |
    ``a=w,b=w`` (weighted sum). Names are checked by :class:`Scenario`."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if not parts:
        raise ScenarioError(f"--objective {text!r}: give one or more of {', '.join(o.value for o in Objective)}.")
    weighted = ["=" in p for p in parts]
    if any(weighted) and not all(weighted):
        raise ScenarioError(f"--objective {text!r}: use either a comma list of names (lexicographic) "
                            "or name=weight pairs (weighted), not both.")
    if all(weighted):
        out = {}
        for p in parts:
            name, _, w = p.partition("=")
            try:
                out[name.strip()] = float(w)
            except ValueError:
                raise ScenarioError(f"--objective: weight of {name.strip()!r} must be a number, got {w.strip()!r}.") from None
            if not math.isfinite(out[name.strip()]):
                raise ScenarioError(f"--objective {text!r}: weight of {name.strip()!r} must be a finite number, "
                                    f"got {w.strip()!r}.")
        return out
    return parts[0] if len(parts) == 1 else tuple(parts)
