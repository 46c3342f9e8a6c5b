"""``ccgmerge solve`` and ``ccgmerge summary``: build the scenario, solve, print,
write the ``--out`` files; progress lines on long solves and ``--verbose``."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from ccgmerge.cli.common import (
    EXIT_CHECK_FAILED,
    EXIT_INFEASIBLE,
    EXIT_NO_SOLUTION,
    EXIT_OK,
    MAX_PEOPLE,
    UsageError,
    limits_arg,
    parse_objective,
    say,
)
from ccgmerge.cli.inputs import load_instance, resolve_unit_options
from ccgmerge.output import prepare_folder, remove_created, replace_files
from ccgmerge.scenario import Scenario

__all__ = ["cmd_solve", "cmd_summary", "SolveProgress", "OUT_FILES"]

#: Merged groups listed in the printed table (all of them are in groups.csv).
TABLE_ROWS = 25
#: The files ``solve --out`` writes; a run replaces all of them as one set.
OUT_FILES = ("plan.csv", "groups.csv", "summary.json")


def economics(a, **extra) -> Scenario:
    """The scenario of the economics options (and ``extra``)."""
    sc = Scenario(allowance_per_head=a.allowance, quality_premium_per_head=a.premium, fixed_cost=a.fixed_cost,
                  cost_per_head=a.cost_per_head, floor=a.floor, **extra)
    if sc.floor_population > MAX_PEOPLE:  # only the economics can get here: --floor has a maximum
        raise UsageError(f"--fixed-cost {a.fixed_cost:g} / (--allowance {a.allowance:g} + --premium {a.premium:g} - "
                         f"--cost-per-head {a.cost_per_head:g}) gives a population floor of {sc.floor_population:.3g}"
                         f", more than {MAX_PEOPLE:,} people; check those options or give --floor.")
    return sc


class SolveProgress:
    """Progress of one solve on stderr: the engine's block events (``solve(progress=...)``)
    and, every ``every`` seconds while the solve runs, one line such as
    ``solving: block 3/12 (component 00C: 1,234 units), 14 s; 2 blocks done: 45 groups, best 42, bound 40``
    (the blocks done: their groups, their share of the objective and a proven bound on it).

    Nothing is printed before ``every`` seconds have passed, so short solves
    stay quiet; ``verbose`` prints every block event as it happens; ``every``
    0 or None prints nothing periodic."""

    def __init__(self, every: float | None, verbose: bool = False, stream=None):
        self.every, self.verbose = every, verbose
        self.stream = stream or sys.stderr
        self.t0 = time.perf_counter()
        self.current: dict | None = None
        self.done: list[dict] = []
        self.lines = 0
        self._stop = threading.Event()
        self._thread = None

    def __call__(self, event: dict) -> None:
        if event.get("event") == "done":
            self.done.append(event)
            self.current = None
        else:
            self.current = event
        if self.verbose:
            self._print(event)

    def line(self, event: dict | None = None) -> str:
        """The progress line now (or at ``event``)."""
        ev = event or self.current or (self.done[-1] if self.done else None)
        secs = time.perf_counter() - self.t0 if event is None else event.get("elapsed", 0.0)
        text = "solving"
        if ev is not None:
            word = "finished" if ev.get("event") == "done" else "block"
            text += (f": {word} {ev['block']}/{ev['blocks']} ({ev['label']}: {ev['units']:,} units)"
                     + (f" {ev['status']}" if ev.get("event") == "done" else ""))
        text += f", {secs:.0f} s"
        if self.done:
            n = len(self.done)
            text += f"; {n} block{'s' if n > 1 else ''} done"
            groups = [d.get("groups") for d in self.done]
            if all(g is not None for g in groups):
                text += f": {sum(groups):,} groups"
            values = [d.get("value") for d in self.done]
            bounds = [d.get("bound") for d in self.done]
            if all(v is not None for v in values):
                text += f", best {sum(values):,.6g}"
                if all(b is not None for b in bounds):
                    text += f", bound {sum(bounds):,.6g}"
        return text

    def _print(self, event: dict | None = None) -> None:
        self.lines += 1
        print(self.line(event), file=self.stream, flush=True)

    def _tick(self) -> None:
        while not self._stop.wait(self.every):
            self._print()

    def __enter__(self) -> "SolveProgress":
        if self.every:
            self._thread = threading.Thread(target=self._tick, name="ccgmerge-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)


def _short(text, width: int) -> str:
    text = str(text)
    return text if len(text) <= width else text[:width - 3] + "..."


def _merged_table(plan) -> str:
    """The merged groups, largest first: id, the name of the organisation each continues, size,
    people moved into it, its main HWB, how it fits the HWBs (``hwb_fit``) and its members."""
    t = plan.groups_table
    merged = t[t["merged"]].sort_values(["population", "group"], ascending=[False, True])
    if merged.empty:
        return "merged groups: none (every unit stays on its own)"
    cols = [c for c in ["group", "name", "n_units", "population", "moved", "main_area_name", "hwb_fit", "members"]
            if c in merged.columns]
    show = merged[cols].head(TABLE_ROWS).copy()
    for col, width in (("name", 28), ("main_area_name", 20), ("members", 40)):
        if col in show:
            show[col] = show[col].map(lambda s, w=width: _short(s, w))
    for col in ("population", "moved"):
        if col in show:
            show[col] = show[col].map("{:,}".format)
    lines = [f"merged groups: {len(merged)} (largest first)", show.to_string(index=False)]
    if len(merged) > TABLE_ROWS:
        lines.append(f"... and {len(merged) - TABLE_ROWS} more (all groups are in groups.csv with --out)")
    return "\n".join(lines)


def _write_outputs(plan, out: Path) -> list[Path]:
    """Replace the previous run's files with this run's, as one set (:func:`ccgmerge.output.replace_files`)."""
    writers = {"plan.csv": plan.to_csv, "groups.csv": plan.groups_to_csv} if plan.groups is not None else {}
    writers["summary.json"] = plan.to_json
    return replace_files(out, writers, stale=OUT_FILES)


def cmd_solve(a) -> int:
    from ccgmerge.engine.solve import solve

    if a.out is not None and Path(a.out).exists() and not Path(a.out).is_dir():
        raise UsageError(f"--out {a.out}: exists and is not a folder.")
    if a.report is not None and Path(a.report).is_dir():
        raise UsageError(f"--report {a.report}: is a folder; give a file name such as report.html.")
    if a.quiet and a.verbose:
        raise UsageError("--quiet and --verbose cannot be combined.")
    inst = load_instance(a)
    resolve_unit_options(a, inst)
    scenario = economics(
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
        limits=limits_arg(a.limit),
    )
    out = None if a.out is None else Path(a.out)
    created = None if out is None else prepare_folder(out)  # an unwritable --out fails now, not after the solve
    try:
        if not a.quiet:
            say(repr(inst))
        sys.stdout.flush()  # before the solver's own log (--verbose), which writes to the same terminal
        with SolveProgress(None if a.quiet else a.progress, verbose=a.verbose) as progress:
            plan = solve(inst, scenario, solver=a.solver, time_limit=a.time_limit, gap=a.gap, threads=a.threads,
                         formulation=a.formulation, msg=a.verbose, progress=progress)
        code = _report(plan, table=not a.quiet)
        if out is not None:
            say("wrote " + ", ".join(str(f) for f in _write_outputs(plan, out)))
        if a.report is not None:
            from ccgmerge.plots.report import plan_report

            say(f"wrote {plan_report(plan, a.report)}")
    except BaseException:
        remove_created(out, created)  # the folders prepare_folder made, if still empty
        raise
    return code


def _report(plan, table: bool = True) -> int:
    """Print the outcome of a solve; return the exit code."""
    from ccgmerge.plan import Status

    say(str(plan))
    if plan.status is Status.INFEASIBLE:
        inf = plan.infeasibility
        if inf is not None:
            if inf.areas:
                say(f"blocking areas ({len(inf.areas)}): {', '.join(inf.areas)}")
            if inf.units:
                say(f"blocking units ({len(inf.units)}): {', '.join(inf.units)}")
            if inf.suggestion:
                say(f"suggestion: {inf.suggestion}")
        return EXIT_INFEASIBLE
    if plan.status is Status.NO_SOLUTION:
        bound = "" if plan.bound is None else f" (best bound {plan.bound})"
        say(f"no plan found within the limits{bound}; raise --time-limit or --gap.")
        return EXIT_NO_SOLUTION
    if table:
        say("\n" + _merged_table(plan))
    if not plan.ok:
        say("error: the checker rejected the plan (see the violations above).", sys.stderr)
    return EXIT_OK if plan.ok else EXIT_CHECK_FAILED


def cmd_summary(a) -> int:
    from ccgmerge.analysis.summary import summarize

    inst = load_instance(a)
    floor = economics(a).floor_population
    say(str(summarize(inst, floor)))
    return EXIT_OK
