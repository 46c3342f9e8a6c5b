"""Child processes that die with their parent: the one place that asks Linux for it.

Solver processes (CBC, the HiGHS worker) and a sweep's worker processes must
not outlive the Python that started them (a killed batch job would leave them
solving for hours). On Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` asks the
kernel to kill a process the moment its parent goes; :func:`libc_prctl`
resolves that libc function once for both users
(:mod:`ccgmerge.engine.backends.common` and
:mod:`ccgmerge.analysis.sweep.workers`).

>>> import sys
>>> (libc_prctl() is not None) == sys.platform.startswith("linux")
True
"""

from __future__ import annotations

import sys

__all__ = ["PR_SET_PDEATHSIG", "libc_prctl"]

#: the ``prctl`` option that sets the signal a process gets when its parent dies
PR_SET_PDEATHSIG = 1


def libc_prctl():
    """libc's ``prctl`` with its argument types set, or None off Linux (or without it)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl
        return None
    prctl.restype = ctypes.c_int
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    return prctl
