"""The ``ccgmerge`` argument parser: commands ``solve``, ``summary``, ``sweep`` and ``datasets``."""

from __future__ import annotations

import argparse

from ccgmerge.cli.commands import cmd_solve, cmd_summary
from ccgmerge.cli.common import FALLBACK_SEED, FALLBACK_UNITS, MAX_PEOPLE, MAX_SECONDS, UsageError, number
from ccgmerge.cli.datasets import cmd_datasets
from ccgmerge.cli.inputs import COLUMNS
from ccgmerge.cli.sweep import cmd_sweep
from ccgmerge.scenario import Coterminosity

__all__ = ["Parser", "build_parser"]

#: Seconds between progress lines of a solve (``--progress``).
PROGRESS_EVERY = 5.0


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise :class:`UsageError` (exit 1, not
    argparse's 2, which ``solve`` uses for "infeasible")."""

    def error(self, message):  # noqa: D401 - argparse API
        raise UsageError(f"{self.prog}: {message}", prog=self.prog)


# --------------------------------------------------------------------------- parser
def _input_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "input (a built-in dataset, or your own CSV files)",
        "Your own tables: --units-csv, --membership-csv and --adjacency-csv, with --areas-csv and --baseline-csv "
        "optional. Without --areas-csv the areas are the ones the membership names, each with the population the "
        "membership places in it. Columns named otherwise are mapped with --TABLE-columns YOUR_COLUMN=COLUMN,... "
        "(e.g. --units-columns CCG_CODE=code,POP=population).")
    g.add_argument("--dataset", choices=["ccg2013", "lsoa2013", "synthetic"], default=None,
                   help="built-in instance (default ccg2013: the 211 CCGs of April 2013, shipped with ccgmerge); "
                        "'ccgmerge datasets' lists them")
    g.add_argument("--hwb", action="append", metavar="CODE|NAME",
                   help="lsoa2013 only: keep the LSOAs of this HWB, by GSS code (E10000016) or name (Kent; words that "
                        "only one HWB's name has, such as Hull, work too); repeatable. 'ccgmerge datasets --hwbs' "
                        "lists them")
    g.add_argument("--nhs-area", action="append", metavar="CODE|NAME",
                   help="lsoa2013 only: keep the LSOAs of every HWB holding people of a 2013 NHS commissioning region "
                        "(E40...) or area team (E39...), by code or name ('Durham, Darlington and Tees'); repeatable, "
                        "adds to --hwb. 'ccgmerge datasets --nhs-areas' lists them")
    g.add_argument("--units", type=number(int, "--units", 1), metavar="N",
                   help=f"synthetic only: number of units (default {FALLBACK_UNITS})")
    g.add_argument("--seed", type=number(int, "--seed", 0), metavar="S",
                   help=f"synthetic only: random seed (default {FALLBACK_SEED})")
    g.add_argument("--data", metavar="DIR",
                   help="real data folder (default: $CCGMERGE_DATA, else ../shared/data, else the tables shipped "
                        "with ccgmerge); must exist")
    g.add_argument("--units-csv", metavar="FILE", help="units table: code, population [, name, ...]")
    g.add_argument("--areas-csv", metavar="FILE",
                   help="areas (HWBs) table: code, population [, name]; default: the areas the membership names, "
                        "each with the sum of its membership rows as its population")
    g.add_argument("--membership-csv", metavar="FILE", help="membership table: unit, area, population")
    g.add_argument("--adjacency-csv", metavar="FILE", help="adjacency table: a, b [, kind]")
    g.add_argument("--baseline-csv", metavar="FILE",
                   help="optional baseline grouping: unit, group (default: every unit alone)")
    for table, cols in COLUMNS.items():
        g.add_argument(f"--{table}-columns", metavar="MAP",
                       help=f"the columns of --{table}-csv named otherwise: YOUR_COLUMN=COLUMN pairs separated by "
                            f"commas, COLUMN one of {', '.join(cols)}")
    g.add_argument("--add-edge", nargs=2, action="append", metavar=("A", "B"), default=[],
                   help="add an adjacency edge between units A and B; repeatable")
    g.add_argument("--remove-edge", nargs=2, action="append", metavar=("A", "B"), default=[],
                   help="remove the adjacency edge between units A and B; repeatable")
    g.add_argument("--crossings", type=number(float, "--crossings", 0), default=None, metavar="METRES",
                   help="ccg2013/lsoa2013: join units whose gap across tidal water is at most METRES by a 'water' "
                        "edge, from the shipped crossing tables (500 joins Newcastle and Gateshead across the Tyne "
                        "and every HWB cut by a river); default none. A gap is evidence of a bridge, not a road")
    g.add_argument("--min-shared-boundary", type=number(float, "--min-shared-boundary", 0), default=None,
                   metavar="METRES",
                   help="ccg2013/lsoa2013: drop boundary edges whose shared boundary is shorter than METRES (10 drops "
                        "the corner contacts: 2 CCG pairs, 1,782 LSOA pairs); default none (keep them)")


def _economics_options(g) -> None:
    g.add_argument("--allowance", type=number(float, "--allowance", 0), default=25.0, metavar="GBP",
                   help="running-cost allowance per head (default 25)")
    g.add_argument("--premium", type=number(float, "--premium", 0), default=0.0, metavar="GBP",
                   help="quality premium per head (default 0)")
    g.add_argument("--fixed-cost", type=number(float, "--fixed-cost", 0), default=2_500_000.0, metavar="GBP",
                   help="fixed management cost of a CCG (default 2,500,000)")
    g.add_argument("--cost-per-head", type=number(float, "--cost-per-head", 0), default=0.0, metavar="GBP",
                   help="running cost per head (default 0)")
    g.add_argument("--floor", type=number(float, "--floor", 0, maximum=MAX_PEOPLE), default=None, metavar="PEOPLE",
                   help="population floor given directly (overrides the economics; default: "
                        "fixed-cost / (allowance + premium - cost-per-head) = 100,000)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (commands ``solve``, ``summary``, ``sweep`` and ``datasets``)."""
    parser = Parser(prog="ccgmerge", description="Exact, verified merger plans for NHS Clinical Commissioning Groups.")
    from ccgmerge import __version__

    parser.add_argument("--version", action="version", version=f"ccgmerge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    # ---- solve
    s = sub.add_parser("solve", help="optimise a merger plan", description="Optimise and check a merger plan.")
    _input_options(s)
    g = s.add_argument_group("scenario")
    _economics_options(g)
    g.add_argument("--ceiling", type=number(float, "--ceiling", 0, strict=True, maximum=MAX_PEOPLE), metavar="PEOPLE",
                   help="largest population a group may have")
    g.add_argument("--max-units", type=number(int, "--max-units", 1), metavar="N",
                   help="largest number of units in a group")
    g.add_argument("--coterminosity", choices=[c.value for c in Coterminosity], default="off",
                   help="HWB rule: off (none), nested (every group inside one HWB), aligned (inside one HWB or a "
                        "union of whole HWBs), penalised (soft, --penalty-weight per person outside the group's "
                        "main HWB); default off")
    g.add_argument("--penalty-weight", type=number(float, "--penalty-weight", 0), default=1.0, metavar="W",
                   help="objective weight per non-coterminous person in penalised mode (default 1)")
    g.add_argument("--objective", default="merges", metavar="SPEC",
                   help="name (merges, moved, noncoterminous, split_areas); a comma list for a lexicographic "
                        "objective (merges,moved); or name=weight pairs for a weighted sum (merges=1,moved=1e-6)")
    g.add_argument("--no-contiguity", action="store_true",
                   help="let groups be disconnected in the adjacency graph")
    g.add_argument("--alone", action="append", default=[], metavar="UNIT",
                   help="unit (code or name) that must stay on its own; repeatable")
    g.add_argument("--together", nargs=2, action="append", default=[], metavar=("A", "B"),
                   help="units (codes or names) that must share a group; repeatable")
    g.add_argument("--apart", nargs=2, action="append", default=[], metavar=("A", "B"),
                   help="units (codes or names) that must not share a group; repeatable")
    g.add_argument("--limit", nargs=2, action="append", default=[], metavar=("TERM", "MAX"),
                   help="upper bound on the plan's merges, moved or noncoterminous total; repeatable")
    g = s.add_argument_group("solver")
    g.add_argument("--solver", choices=["cbc", "highs"], default="cbc", help="MIP solver (default cbc)")
    g.add_argument("--time-limit", type=number(float, "--time-limit", 0, strict=True, maximum=MAX_SECONDS), metavar="SECONDS",
                   help="limit for the whole solve (default none)")
    g.add_argument("--gap", type=number(float, "--gap", 0), default=0.0, metavar="REL",
                   help="relative gap at which to stop (default 0: prove optimality)")
    g.add_argument("--threads", type=number(int, "--threads", 1), default=1, metavar="N",
                   help="solver threads (default 1)")
    g.add_argument("--formulation", choices=["auto", "packing", "partition", "labelled", "compact"], default="auto",
                   help="model (default auto)")
    g.add_argument("--verbose", "-v", action="store_true",
                   help="print a line as each block of the solve starts and ends, and the solver's own log (HiGHS "
                        "and CBC both write it live to stdout)")
    g.add_argument("--progress", type=number(float, "--progress", 0), default=PROGRESS_EVERY, metavar="SECONDS",
                   help=f"on a solve that runs longer than SECONDS, print a progress line to stderr every SECONDS "
                        f"(the block being solved, the time, the best objective and bound of the blocks done; "
                        f"default {PROGRESS_EVERY:g}; 0 for none)")
    g.add_argument("--quiet", "-q", action="store_true",
                   help="print only the plan's summary: no instance line, no progress lines, no table of groups")
    g = s.add_argument_group("output")
    g.add_argument("--out", metavar="DIR",
                   help="write plan.csv (unit,group), groups.csv and summary.json here (created if needed, checked "
                        "before the solve; the previous run's files are replaced as one set)")
    g.add_argument("--report", metavar="FILE.html",
                   help="also write the plan as one self-contained HTML file that opens offline in a browser: an "
                        "interactive map (hover a group for its members, population, allowance and margin), the "
                        "groups, the metrics and the checker's verdict")
    s.set_defaults(func=cmd_solve)

    # ---- summary
    m = sub.add_parser("summary", help="summarise an instance against a floor",
                       description="What the population floor and the HWB rules will have to deal with.")
    _input_options(m)
    _economics_options(m.add_argument_group("floor"))
    m.set_defaults(func=cmd_summary)

    # ---- sweep
    w = sub.add_parser("sweep", help="run a grid of scenarios from a TOML file",
                       description="Run every scenario of CONFIG.toml over one instance, in parallel; each result is "
                                   "written to OUT/runs/ as soon as it finishes, so rerunning resumes (a result "
                                   "file that is not a valid record of its run is named and recomputed). One sweep "
                                   "at a time per DIR (a lock, OUT/.lock.json). Each finished run is logged by what "
                                   "sets it apart from the others, e.g. 'floor=250000 coterminosity=aligned'.",
                       epilog="exit codes: 0 every run solved without error; 1 some run ended in error (or its "
                              "worker died), or bad input; 75 DIR is in use by another sweep (its PID is named); "
                              "130 interrupted by Ctrl-C, 143 by SIGTERM (finished runs are kept, results.csv is "
                              "written: rerun the same command to resume).")
    w.add_argument("config", metavar="CONFIG.toml", help="sweep description (see ccgmerge.analysis.sweep.read_config)")
    w.add_argument("--out", required=True, metavar="DIR", help="results folder (created if needed)")
    w.add_argument("--workers", type=number(int, "--workers", 1), default=None, metavar="N",
                   help="worker processes (default: [sweep] workers in the file, else the number of CPUs)")
    w.add_argument("--retry-errors", action="store_true", help="re-solve runs saved with status error")
    w.add_argument("--report", nargs="?", const="", default=None, metavar="FILE.html",
                   help="also write one self-contained HTML file (the allowance curve, the results and a map per "
                        "chosen run) that opens offline; default DIR/report.html")
    w.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on the existing dask distributed scheduler at ADDRESS (tcp://HOST:8786) instead of "
                        "local worker processes; its workers need ccgmerge installed. Needs dask[distributed]")
    w.set_defaults(func=cmd_sweep)

    # ---- datasets
    d = sub.add_parser("datasets", help="list the datasets, HWBs, CCGs and later configurations",
                       description="What there is to solve: the built-in datasets, the HWBs (codes and names, for "
                                   "--hwb), the CCGs of 2013 and the later official configurations.")
    d.add_argument("--hwbs", nargs="?", const="", default=None, metavar="TEXT",
                   help="list the 152 HWBs (code, name, type, population); with TEXT only those whose code or name "
                        "contains it")
    d.add_argument("--ccgs", nargs="?", const="", default=None, metavar="TEXT",
                   help="list the 211 CCGs of 2013 (code, name, population, main HWB); with TEXT only those whose "
                        "code or name contains it")
    d.add_argument("--nhs-areas", nargs="?", const="", default=None, metavar="TEXT",
                   help="list the 2013 NHS commissioning regions and area teams (code, name, CCGs, HWBs), for "
                        "--nhs-area; with TEXT only those whose code or name contains it")
    d.add_argument("--configurations", action="store_true", help="list the later official configurations")
    d.add_argument("--data", metavar="DIR", help="real data folder (as for solve)")
    d.set_defaults(func=cmd_datasets)
    return parser


