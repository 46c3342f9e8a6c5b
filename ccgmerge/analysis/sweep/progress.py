"""Progress of a sweep in the parent process: a tqdm bar, log lines, a callback, or nothing.

:func:`~ccgmerge.analysis.sweep.runner.run_sweep` reports each finished run to
a :class:`Progress`; its ``progress`` argument picks the mode (None: a tqdm bar
on stderr when it is a terminal, plain log lines otherwise).
"""

from __future__ import annotations

import sys
from collections import Counter

from ccgmerge.errors import ScenarioError

__all__ = ["Progress"]


class Progress:
    """A tqdm bar (stderr is a terminal), plain log lines, a callback, or nothing."""

    def __init__(self, progress, total: int, skipped: int, stream=None):
        self.stream = stream or sys.stderr
        self.total, self.done = total, skipped
        self.callback = progress if callable(progress) and not isinstance(progress, bool) else None
        mode = progress
        if self.callback is not None:
            mode = "callback"
        elif progress is None or progress == "auto":
            isatty = getattr(self.stream, "isatty", lambda: False)
            mode = "bar" if isatty() else "log"
        elif progress is True:
            mode = "bar"
        elif progress is False or progress in ("off", "none", "quiet"):
            mode = "off"
        elif progress not in ("bar", "log"):
            raise ScenarioError(f"progress={progress!r}; allowed: None (auto), True, False, 'bar', 'log', 'off', or a callable.")
        self.bar = None
        if mode == "bar":
            try:
                from tqdm.auto import tqdm
            except ImportError:
                mode = "log"
            else:
                self.bar = tqdm(total=total, initial=skipped, file=self.stream, unit="run", desc="sweep", dynamic_ncols=True)
        self.mode = mode
        self.counts: Counter = Counter()

    def log(self, text: str) -> None:
        if self.mode == "log":
            print(f"sweep: {text}", file=self.stream, flush=True)
        elif self.mode == "bar" and self.bar is not None:
            self.bar.write(f"sweep: {text}", file=self.stream)

    def update(self, rec: dict, label: str | None = None) -> None:
        """Count a finished run; a log line names it by ``label`` (what sets it apart from the
        other runs: ``floor=250000 coterminosity=aligned``) and the first 8 digits of its key."""
        self.done += 1
        status = rec.get("status", "?")
        self.counts[status] += 1
        if self.mode == "bar":
            self.bar.update(1)
            self.bar.set_postfix(dict(sorted(self.counts.items())), refresh=False)
        elif self.mode == "log":
            m = rec.get("metrics") or {}
            what = f"{m['groups']} groups" if m.get("groups") is not None else (rec.get("message") or "")
            wall = rec.get("wall_time")
            wall = f" ({wall:.2f} s)" if isinstance(wall, (int, float)) else ""
            key = str(rec.get("key"))
            name = f"{label} ({key[:8]})" if label else key
            print(f"sweep: [{self.done}/{self.total}] {name}: {status}{', ' + what[:160] if what else ''}{wall}", file=self.stream, flush=True)
        elif self.mode == "callback":
            self.callback(rec)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
