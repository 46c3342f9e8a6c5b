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
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from ccgmerge import data as _data
from ccgmerge.errors import CCGMergeError, ScenarioError, SolverError
from ccgmerge.instance import Instance
from ccgmerge.output import prepare_folder, remove_created, replace_files
from ccgmerge.scenario import Coterminosity, Objective, Scenario

__all__ = ["main", "build_parser", "parse_objective"]

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_INFEASIBLE = 2
EXIT_NO_SOLUTION = 3
EXIT_CHECK_FAILED = 4
EXIT_SOLVER_FAILED = 5

#: Units and seed of ``--dataset synthetic`` when ``--units`` / ``--seed`` are not given.
FALLBACK_UNITS = 211
FALLBACK_SEED = 0
#: Merged groups listed in the printed table (all of them are in groups.csv).
TABLE_ROWS = 25
#: Largest population floor or ceiling accepted (more people than live on Earth).
MAX_PEOPLE = 10_000_000_000
#: Longest --time-limit accepted (about three years; far longer ones overflow the solver's timer).
MAX_SECONDS = 100_000_000
#: The files ``solve --out`` writes; a run replaces all of them as one set.
OUT_FILES = ("plan.csv", "groups.csv", "summary.json")


class UsageError(Exception):
    """A command-line usage error (exit code 1, message without traceback)."""

    def __init__(self, message: str, prog: str | None = None):
        self.prog = prog
        super().__init__(message)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise :class:`UsageError` (exit 1, not
    argparse's 2, which ``solve`` uses for "infeasible")."""

    def error(self, message):  # noqa: D401 - argparse API
        raise UsageError(f"{self.prog}: {message}", prog=self.prog)


# --------------------------------------------------------------------------- parsing helpers

def _limits_arg(items) -> dict:
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


def _number(kind, what: str, minimum=None, strict=False, maximum=None):
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


# --------------------------------------------------------------------------- parser
def _input_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("input (a built-in dataset, or your own four CSV files)")
    g.add_argument("--dataset", choices=["ccg2013", "lsoa2013", "synthetic"], default=None,
                   help="built-in instance (default ccg2013: the 211 CCGs of April 2013, shipped with ccgmerge)")
    g.add_argument("--hwb", action="append", metavar="CODE",
                   help="lsoa2013 only: keep the LSOAs of this HWB (GSS code, e.g. E06000005); repeatable")
    g.add_argument("--units", type=_number(int, "--units", 1), metavar="N",
                   help=f"synthetic only: number of units (default {FALLBACK_UNITS})")
    g.add_argument("--seed", type=_number(int, "--seed", 0), metavar="S",
                   help=f"synthetic only: random seed (default {FALLBACK_SEED})")
    g.add_argument("--data", metavar="DIR",
                   help="real data folder (default: $CCGMERGE_DATA, else ../shared/data, else the tables shipped "
                        "with ccgmerge); must exist")
    g.add_argument("--units-csv", metavar="FILE", help="units table: code, population [, name, ...]")
    g.add_argument("--areas-csv", metavar="FILE", help="areas (HWBs) table: code, population [, name]")
    g.add_argument("--membership-csv", metavar="FILE", help="membership table: unit, area, population")
    g.add_argument("--adjacency-csv", metavar="FILE", help="adjacency table: a, b [, kind]")
    g.add_argument("--baseline-csv", metavar="FILE",
                   help="optional baseline grouping: unit, group (default: every unit alone)")
    g.add_argument("--add-edge", nargs=2, action="append", metavar=("A", "B"), default=[],
                   help="add an adjacency edge between units A and B; repeatable")
    g.add_argument("--remove-edge", nargs=2, action="append", metavar=("A", "B"), default=[],
                   help="remove the adjacency edge between units A and B; repeatable")
    g.add_argument("--crossings", type=_number(float, "--crossings", 0), default=None, metavar="METRES",
                   help="ccg2013/lsoa2013: join units whose gap across tidal water is at most METRES by a 'water' "
                        "edge, from the shipped crossing tables (500 joins Newcastle and Gateshead across the Tyne "
                        "and every HWB cut by a river); default none. A gap is evidence of a bridge, not a road")
    g.add_argument("--min-shared-boundary", type=_number(float, "--min-shared-boundary", 0), default=None,
                   metavar="METRES",
                   help="ccg2013/lsoa2013: drop boundary edges whose shared boundary is shorter than METRES (10 drops "
                        "the corner contacts: 2 CCG pairs, 1,782 LSOA pairs); default none (keep them)")


def _economics_options(g) -> None:
    g.add_argument("--allowance", type=_number(float, "--allowance", 0), default=25.0, metavar="GBP",
                   help="running-cost allowance per head (default 25)")
    g.add_argument("--premium", type=_number(float, "--premium", 0), default=0.0, metavar="GBP",
                   help="quality premium per head (default 0)")
    g.add_argument("--fixed-cost", type=_number(float, "--fixed-cost", 0), default=2_500_000.0, metavar="GBP",
                   help="fixed management cost of a CCG (default 2,500,000)")
    g.add_argument("--cost-per-head", type=_number(float, "--cost-per-head", 0), default=0.0, metavar="GBP",
                   help="running cost per head (default 0)")
    g.add_argument("--floor", type=_number(float, "--floor", 0, maximum=MAX_PEOPLE), default=None, metavar="PEOPLE",
                   help="population floor given directly (overrides the economics; default: "
                        "fixed-cost / (allowance + premium - cost-per-head) = 100,000)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (subcommands ``solve`` and ``summary``)."""
    parser = _Parser(prog="ccgmerge", description="Exact, verified merger plans for NHS Clinical Commissioning Groups.")
    from ccgmerge import __version__

    parser.add_argument("--version", action="version", version=f"ccgmerge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    # ---- solve
    s = sub.add_parser("solve", help="optimise a merger plan", description="Optimise and check a merger plan.")
    _input_options(s)
    g = s.add_argument_group("scenario")
    _economics_options(g)
    g.add_argument("--ceiling", type=_number(float, "--ceiling", 0, strict=True, maximum=MAX_PEOPLE), metavar="PEOPLE",
                   help="largest population a group may have")
    g.add_argument("--max-units", type=_number(int, "--max-units", 1), metavar="N",
                   help="largest number of units in a group")
    g.add_argument("--coterminosity", choices=[c.value for c in Coterminosity], default="off",
                   help="HWB rule: off (none), nested (every group inside one HWB), aligned (inside one HWB or a "
                        "union of whole HWBs), penalised (soft, --penalty-weight per person outside the group's "
                        "main HWB); default off")
    g.add_argument("--penalty-weight", type=_number(float, "--penalty-weight", 0), default=1.0, metavar="W",
                   help="objective weight per non-coterminous person in penalised mode (default 1)")
    g.add_argument("--objective", default="merges", metavar="SPEC",
                   help="name (merges, moved, noncoterminous, split_areas); a comma list for a lexicographic "
                        "objective (merges,moved); or name=weight pairs for a weighted sum (merges=1,moved=1e-6)")
    g.add_argument("--no-contiguity", action="store_true",
                   help="let groups be disconnected in the adjacency graph")
    g.add_argument("--alone", action="append", default=[], metavar="CODE",
                   help="unit that must stay on its own; repeatable")
    g.add_argument("--together", nargs=2, action="append", default=[], metavar=("A", "B"),
                   help="units that must share a group; repeatable")
    g.add_argument("--apart", nargs=2, action="append", default=[], metavar=("A", "B"),
                   help="units that must not share a group; repeatable")
    g.add_argument("--limit", nargs=2, action="append", default=[], metavar=("TERM", "MAX"),
                   help="upper bound on the plan's merges, moved or noncoterminous total; repeatable")
    g = s.add_argument_group("solver")
    g.add_argument("--solver", choices=["cbc", "highs"], default="cbc", help="MIP solver (default cbc)")
    g.add_argument("--time-limit", type=_number(float, "--time-limit", 0, strict=True, maximum=MAX_SECONDS), metavar="SECONDS",
                   help="limit for the whole solve (default none)")
    g.add_argument("--gap", type=_number(float, "--gap", 0), default=0.0, metavar="REL",
                   help="relative gap at which to stop (default 0: prove optimality)")
    g.add_argument("--threads", type=_number(int, "--threads", 1), default=1, metavar="N",
                   help="solver threads (default 1)")
    g.add_argument("--formulation", choices=["auto", "packing", "partition", "labelled", "compact"], default="auto",
                   help="model (default auto)")
    g = s.add_argument_group("output")
    g.add_argument("--out", metavar="DIR",
                   help="write plan.csv (unit,group), groups.csv and summary.json here (created if needed, checked "
                        "before the solve; the previous run's files are replaced as one set)")
    g.add_argument("--report", metavar="FILE.html",
                   help="also write the plan as one self-contained HTML file that opens offline in a browser: an "
                        "interactive map (hover a group for its members, population, allowance and margin), the "
                        "groups, the metrics and the checker's verdict")
    s.set_defaults(func=_cmd_solve)

    # ---- summary
    m = sub.add_parser("summary", help="summarise an instance against a floor",
                       description="What the population floor and the HWB rules will have to deal with.")
    _input_options(m)
    _economics_options(m.add_argument_group("floor"))
    m.set_defaults(func=_cmd_summary)

    # ---- sweep
    w = sub.add_parser("sweep", help="run a grid of scenarios from a TOML file",
                       description="Run every scenario of CONFIG.toml over one instance, in parallel; each result is "
                                   "written to OUT/runs/ as soon as it finishes, so rerunning resumes (a result "
                                   "file that is not a valid record of its run is named and recomputed). One sweep "
                                   "at a time per DIR (a lock, OUT/.lock.json).",
                       epilog="exit codes: 0 every run solved without error; 1 some run ended in error (or its "
                              "worker died), or bad input; 75 DIR is in use by another sweep (its PID is named); "
                              "130 interrupted by Ctrl-C, 143 by SIGTERM (finished runs are kept, results.csv is "
                              "written: rerun the same command to resume).")
    w.add_argument("config", metavar="CONFIG.toml", help="sweep description (see ccgmerge.analysis.sweep.read_config)")
    w.add_argument("--out", required=True, metavar="DIR", help="results folder (created if needed)")
    w.add_argument("--workers", type=_number(int, "--workers", 1), default=None, metavar="N",
                   help="worker processes (default: the number of CPUs)")
    w.add_argument("--retry-errors", action="store_true", help="re-solve runs saved with status error")
    w.add_argument("--report", nargs="?", const="", default=None, metavar="FILE.html",
                   help="also write one self-contained HTML file (the allowance curve, the results and a map per "
                        "chosen run) that opens offline; default DIR/report.html")
    w.set_defaults(func=_cmd_sweep)
    return parser


# --------------------------------------------------------------------------- instance
def _say(text: str, stream=None) -> None:
    print(text, file=stream or sys.stdout)


def _check_input_args(a) -> str:
    csvs = [a.units_csv, a.areas_csv, a.membership_csv, a.adjacency_csv]
    if any(csvs) or a.baseline_csv:
        if not all(csvs):
            raise UsageError("give all four of --units-csv, --areas-csv, --membership-csv and --adjacency-csv "
                             "(--baseline-csv is optional).")
        if a.dataset is not None:
            raise UsageError("--dataset cannot be combined with --units-csv ... (your own tables).")
        dataset = "csv"
    else:
        dataset = a.dataset or "ccg2013"
    if a.hwb and dataset != "lsoa2013":
        raise UsageError("--hwb applies only to --dataset lsoa2013.")
    if (a.units is not None or a.seed is not None) and dataset != "synthetic":
        raise UsageError("--units and --seed apply only to --dataset synthetic.")
    if a.data is not None and dataset not in ("ccg2013", "lsoa2013"):
        raise UsageError("--data applies only to --dataset ccg2013 or lsoa2013.")
    if (a.crossings is not None or a.min_shared_boundary is not None) and dataset not in ("ccg2013", "lsoa2013"):
        raise UsageError("--crossings and --min-shared-boundary apply only to --dataset ccg2013 or lsoa2013 "
                         "(edit your own adjacency CSV, or use ccgmerge.data.from_geodataframe).")
    return dataset


def load_instance(a) -> Instance:
    """The instance the input options describe (a missing data folder is a DataNotFoundError)."""
    dataset = _check_input_args(a)
    if dataset == "csv":
        inst = _data.from_csv(a.units_csv, a.areas_csv, a.membership_csv, a.adjacency_csv,
                              baseline=a.baseline_csv, name=Path(a.units_csv).stem)
    elif dataset == "synthetic":
        from ccgmerge.data.synthetic import generate

        inst = generate(a.units if a.units is not None else FALLBACK_UNITS,
                        seed=a.seed if a.seed is not None else FALLBACK_SEED)
    else:
        folder = _data.data_dir(a.data)  # --data, else CCGMERGE_DATA, ..., else the packaged tables
        edges = {"crossings": a.crossings, "min_shared_boundary_m": a.min_shared_boundary}
        if dataset == "ccg2013":
            inst = _data.load_ccg2013(folder, **edges)
        else:
            inst = _data.load_lsoa2013(folder, hwbs=a.hwb, **edges)
    if a.add_edge or a.remove_edge:
        inst = inst.with_edges(add=[tuple(p) for p in a.add_edge], remove=[tuple(p) for p in a.remove_edge])
    return inst


def _economics(a, **extra) -> Scenario:
    sc = Scenario(allowance_per_head=a.allowance, quality_premium_per_head=a.premium, fixed_cost=a.fixed_cost,
                  cost_per_head=a.cost_per_head, floor=a.floor, **extra)
    if sc.floor_population > MAX_PEOPLE:  # only the economics can get here: --floor has a maximum
        raise UsageError(f"--fixed-cost {a.fixed_cost:g} / (--allowance {a.allowance:g} + --premium {a.premium:g} - "
                         f"--cost-per-head {a.cost_per_head:g}) gives a population floor of {sc.floor_population:.3g}"
                         f", more than {MAX_PEOPLE:,} people; check those options or give --floor.")
    return sc


# --------------------------------------------------------------------------- commands
def _merged_table(plan) -> str:
    t = plan.groups_table
    merged = t[t["merged"]].sort_values(["population", "group"], ascending=[False, True])
    if merged.empty:
        return "merged groups: none (every unit stays on its own)"
    cols = ["group", "n_units", "population", "main_area", "main_area_name", "coterminous", "members"]
    show = merged[cols].head(TABLE_ROWS).copy()
    show["main_area_name"] = show["main_area_name"].astype(str).map(lambda s: s if len(s) <= 24 else s[:21] + "...")
    show["population"] = show["population"].map("{:,}".format)
    show["members"] = show["members"].map(lambda s: s if len(s) <= 48 else s[:45] + "...")
    lines = [f"merged groups: {len(merged)} (largest first)", show.to_string(index=False)]
    if len(merged) > TABLE_ROWS:
        lines.append(f"... and {len(merged) - TABLE_ROWS} more (all groups are in groups.csv with --out)")
    return "\n".join(lines)


def _write_outputs(plan, out: Path) -> list[Path]:
    """Replace the previous run's files with this run's, as one set (:func:`ccgmerge.output.replace_files`)."""
    writers = {"plan.csv": plan.to_csv, "groups.csv": plan.groups_to_csv} if plan.groups is not None else {}
    writers["summary.json"] = plan.to_json
    return replace_files(out, writers, stale=OUT_FILES)


def _cmd_solve(a) -> int:
    from ccgmerge.engine.solve import solve

    if a.out is not None and Path(a.out).exists() and not Path(a.out).is_dir():
        raise UsageError(f"--out {a.out}: exists and is not a folder.")
    if a.report is not None and Path(a.report).is_dir():
        raise UsageError(f"--report {a.report}: is a folder; give a file name such as report.html.")
    inst = load_instance(a)
    scenario = _economics(
        a,
        ceiling=a.ceiling,
        max_units=a.max_units,
        contiguity=not a.no_contiguity,
        coterminosity=a.coterminosity,
        penalty_weight=a.penalty_weight,
        objective=parse_objective(a.objective),
        alone=a.alone,
        together=[tuple(p) for p in a.together],
        apart=[tuple(p) for p in a.apart],
        limits=_limits_arg(a.limit),
    )
    out = None if a.out is None else Path(a.out)
    created = None if out is None else prepare_folder(out)  # an unwritable --out fails now, not after the solve
    try:
        _say(repr(inst))
        plan = solve(inst, scenario, solver=a.solver, time_limit=a.time_limit, gap=a.gap, threads=a.threads,
                     formulation=a.formulation)
        code = _report(plan)
        if out is not None:
            _say("wrote " + ", ".join(str(f) for f in _write_outputs(plan, out)))
        if a.report is not None:
            from ccgmerge.plots.report import plan_report

            _say(f"wrote {plan_report(plan, a.report)}")
    except BaseException:
        remove_created(out, created)  # the folders prepare_folder made, if still empty
        raise
    return code


def _report(plan) -> int:
    """Print the outcome of a solve; return the exit code."""
    from ccgmerge.plan import Status

    _say(str(plan))
    if plan.status is Status.INFEASIBLE:
        inf = plan.infeasibility
        if inf is not None:
            if inf.areas:
                _say(f"blocking areas ({len(inf.areas)}): {', '.join(inf.areas)}")
            if inf.units:
                _say(f"blocking units ({len(inf.units)}): {', '.join(inf.units)}")
            if inf.suggestion:
                _say(f"suggestion: {inf.suggestion}")
        return EXIT_INFEASIBLE
    if plan.status is Status.NO_SOLUTION:
        bound = "" if plan.bound is None else f" (best bound {plan.bound})"
        _say(f"no plan found within the limits{bound}; raise --time-limit or --gap.")
        return EXIT_NO_SOLUTION
    _say("\n" + _merged_table(plan))
    if not plan.ok:
        _say("error: the checker rejected the plan (see the violations above).", sys.stderr)
    return EXIT_OK if plan.ok else EXIT_CHECK_FAILED


def _cmd_summary(a) -> int:
    from ccgmerge.analysis.summary import summarize

    inst = load_instance(a)
    floor = _economics(a).floor_population
    _say(str(summarize(inst, floor)))
    return EXIT_OK


def _cmd_sweep(a) -> int:
    import signal

    from ccgmerge.analysis.sweep import SweepInterrupted, SweepLocked, sweep_from_config

    signals = []

    def on_term(signum, frame):  # SIGTERM stops the sweep like Ctrl-C: finished runs kept, workers killed
        if not signals:
            signals.append(signum)
            raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread
        previous = None
    try:
        result = sweep_from_config(a.config, a.out, workers=a.workers, retry_errors=a.retry_errors)
    except SweepLocked as exc:
        _say(f"error: {exc}", sys.stderr)
        return 75
    except SweepInterrupted as exc:
        _say(str(exc), sys.stderr)
        return 128 + int(signals[0] if signals else signal.SIGINT)
    except KeyboardInterrupt:
        _say(f"interrupted; runs finished so far are kept in {Path(a.out) / 'runs'}: rerun the same command to "
             "resume.", sys.stderr)
        return 128 + int(signals[0] if signals else signal.SIGINT)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    _say(result.summary())
    if a.report is not None:
        from ccgmerge.plots.report import sweep_report

        _say(f"wrote {sweep_report(a.out, a.report or None)}")
    return result.exit_code


# --------------------------------------------------------------------------- main
def _show_warning(message, category, filename, lineno, file=None, line=None):
    _say(f"warning: {message}", sys.stderr)


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
        _say(f"error: {exc}", sys.stderr)
        prog = exc.prog or ("ccgmerge" if args is None else f"ccgmerge {args.command}")
        _say(f"run '{prog} --help' for the options.", sys.stderr)
        return EXIT_BAD_INPUT
    except SolverError as exc:  # the solver cannot run, crashed or contradicted itself
        _say(f"error: the solver failed: {exc}", sys.stderr)
        return EXIT_SOLVER_FAILED
    except CCGMergeError as exc:
        # ValidationError, ScenarioError, DataNotFoundError: a message, never a traceback.
        _say(f"error: {exc}", sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # output piped into head & co.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_BAD_INPUT
    except OSError as exc:  # e.g. --out not writable
        _say(f"error: {exc}", sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        _say("interrupted", sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
