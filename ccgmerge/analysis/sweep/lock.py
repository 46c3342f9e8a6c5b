"""One sweep at a time per output folder: :class:`FolderLock`.

:func:`~ccgmerge.analysis.sweep.runner.run_sweep` holds an exclusive lock on
its output folder from start-up (before the start-up cleanup of temporary
files) to the end (after ``results.csv``), so two sweeps never share a folder:
the second one stops at once with :class:`SweepLocked`, whose message names
the folder and the PID, host and start time of the sweep holding it.

The lock is ``fcntl.flock`` on ``DIR/.lock.json``, a file that says who holds
it (``{"pid": ..., "host": ..., "started": ...}``). The kernel releases a
``flock`` when its holder dies, however it dies (``kill -KILL`` included), so
a lock left by a dead sweep is simply taken over: the file is never deleted,
only rewritten by the next holder. The descriptor is closed in any process
forked from the holder (a worker pool must not keep the folder locked after
the sweep ended), and not inherited across ``exec``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import socket
import sys
import threading
import time
import warnings
from pathlib import Path

from ccgmerge.errors import CCGMergeError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None

__all__ = ["FolderLock", "SweepLocked", "LOCK_NAME"]

LOCK_NAME = ".lock.json"
"""The lock file of a sweep folder (JSON, so the folder holds CSV and JSON only)."""
LOCK_FORMAT = "ccgmerge-sweep-lock/1"

_HELD: set[int] = set()  # descriptors of the locks this process holds
_HELD_GUARD = threading.Lock()


def _close_held_in_child() -> None:
    """After a fork: the child must not keep its parent's folder locks."""
    for fd in list(_HELD):
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_held_in_child)


class SweepLocked(CCGMergeError):
    """The output folder is in use by another sweep (the message names it and its holder)."""

    def __init__(self, folder: Path, holder: dict):
        self.folder = Path(folder)
        self.holder = holder
        pid = holder.get("pid", "unknown")
        host = holder.get("host")
        started = holder.get("started")
        who = f"PID {pid}" + (f" on {host}" if host else "") + (f", started {started}" if started else "")
        super().__init__(f"{self.folder} is in use by another ccgmerge sweep ({who}); wait for it to finish "
                         f"(rerunning then resumes it), or use another output folder.")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class FolderLock:
    """An exclusive, non-blocking lock on a sweep folder (a context manager).

    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> with FolderLock(d):
    ...     FolderLock(d).acquire()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ccgmerge.analysis.sweep.lock.SweepLocked: ... is in use by another ccgmerge sweep (PID ...
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.fd: int | None = None
        self.pid: int | None = None
        self.info: dict = {}

    def holder(self) -> dict:
        """Who holds the lock, from the lock file ({} when unknown; a ``released`` time
        when its last holder let it go)."""
        try:
            d = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return d if isinstance(d, dict) else {}

    def acquire(self) -> "FolderLock":
        """Take the lock, or raise :class:`SweepLocked` naming the holder."""
        if self.fd is not None:
            return self
        if fcntl is None:  # pragma: no cover - not POSIX
            warnings.warn(f"{self.folder}: no file locking on {sys.platform}; do not run two sweeps into "
                          "this folder at once.", stacklevel=2)
            return self
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(self.path, flags, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            holder = {}
            for _ in range(20):  # the holder may be between its flock and its write
                holder = self.holder()
                if holder.get("pid") and not holder.get("released"):
                    break
                time.sleep(0.025)
            raise SweepLocked(self.folder, holder) from None
        with _HELD_GUARD:
            _HELD.add(fd)
        self.fd, self.pid = fd, os.getpid()
        self.info = {"format": LOCK_FORMAT, "pid": self.pid, "host": socket.gethostname(), "started": _now(),
                     "argv": list(sys.argv)[:20]}
        self._describe(self.info)
        return self

    def _describe(self, info: dict) -> None:
        try:
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, json.dumps(info, indent=1).encode("utf-8"), 0)
            os.fsync(self.fd)
        except OSError:  # the lock holds without its description
            pass

    def release(self) -> None:
        """Give the lock up (the file stays: deleting it would let two sweeps lock two files)."""
        if self.fd is None or self.pid != os.getpid():  # not held, or a forked copy (its descriptor is closed)
            self.fd = None
            return
        self._describe({**self.info, "released": _now()})
        fd, self.fd = self.fd, None
        with _HELD_GUARD:
            _HELD.discard(fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
