"""``ccgmerge sweep``: a TOML grid of scenarios, on worker processes or on an
existing dask scheduler (``--scheduler ADDRESS``)."""

from __future__ import annotations

import contextlib
import signal
import sys
from pathlib import Path

from ccgmerge.cli.common import UsageError, say

__all__ = ["cmd_sweep", "connect_scheduler"]

#: Seconds to wait for a dask scheduler to answer.
CONNECT_TIMEOUT = 10


def connect_scheduler(address: str):
    """A ``dask.distributed.Client`` on the scheduler at ``address``, or a UsageError saying why not."""
    try:
        from distributed import Client
    except ImportError:
        raise UsageError(f"--scheduler {address}: needs dask's distributed scheduler: pip install "
                         "'ccgmerge[sweep]' (or pip install 'dask[distributed]').") from None
    try:
        return Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(f"--scheduler {address}: cannot reach a dask scheduler there within {CONNECT_TIMEOUT} s "
                         f"({type(exc).__name__}: {exc}); check the address (tcp://HOST:8786) and that "
                         "'dask scheduler' is running.") from None


def cmd_sweep(a) -> int:
    from ccgmerge.analysis.sweep import SweepInterrupted, SweepLocked, read_config, sweep_from_config

    if a.scheduler is not None and a.workers is not None:
        raise UsageError("--workers sets the local worker processes; with --scheduler the cluster's workers run "
                         "the sweep: leave --workers out.")
    signals = []

    def on_term(signum, frame):  # SIGTERM stops the sweep like Ctrl-C: finished runs kept, workers killed
        if not signals:
            signals.append(signum)
            raise KeyboardInterrupt

    if a.scheduler is not None:
        read_config(a.config)  # a bad file is named before any connection is made
    with contextlib.ExitStack() as stack:
        client = None
        if a.scheduler is not None:
            client = connect_scheduler(a.scheduler)
            stack.callback(client.close)  # the client only: the cluster is not ours to stop
            say(f"sweep: on the dask scheduler at {a.scheduler} ({len(client.scheduler_info().get('workers', {}))} "
                "workers)", sys.stderr)
        try:
            previous = signal.signal(signal.SIGTERM, on_term)
        except ValueError:  # not the main thread
            previous = None
        try:
            result = sweep_from_config(a.config, a.out, workers=a.workers, retry_errors=a.retry_errors,
                                       executor=client)
        except SweepLocked as exc:
            say(f"error: {exc}", sys.stderr)
            return 75
        except SweepInterrupted as exc:
            say(str(exc), sys.stderr)
            return 128 + int(signals[0] if signals else signal.SIGINT)
        except KeyboardInterrupt:
            say(f"interrupted; runs finished so far are kept in {Path(a.out) / 'runs'}: rerun the same command to "
                "resume.", sys.stderr)
            return 128 + int(signals[0] if signals else signal.SIGINT)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
    say(result.summary())
    if a.report is not None:
        from ccgmerge.plots.report import sweep_report

        say(f"wrote {sweep_report(a.out, a.report or None)}")
    return result.exit_code
