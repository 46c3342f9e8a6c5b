"""The workers of a sweep: the run function, and the default pool of worker processes.

:func:`execute_run` solves one run and returns its JSON-safe record; it never
raises (a failing run is a record with status ``error``). Any executor can
call it: :class:`WorkerPool` (the default), a ``concurrent.futures`` executor
or a dask client. Process workers load the instance from its CSV copy once
per process (a small per-process cache).

:class:`WorkerPool` is the default way :func:`~ccgmerge.analysis.sweep.runner.run_sweep`
runs: ``n`` worker processes, each solving one run at a time, so that

* a worker that dies (killed, out of memory) costs exactly the run it was
  solving: that run is reported, a new worker takes its place and every other
  run completes (a ``ProcessPoolExecutor`` would break as a whole);
* the workers die with the sweep (:func:`die_with_parent`): on Linux the
  kernel kills a worker whose parent died (``PR_SET_PDEATHSIG``), and a watch
  thread in each worker does the same everywhere within half a second; each
  worker leads its own process group, holding its CBC, so that killing the
  group ends both;
* Ctrl-C at a terminal reaches the sweep process only (the workers are in
  their own process groups and ignore SIGINT): the sweep then keeps what has
  finished, kills the workers (:meth:`WorkerPool.close`) and stops at once.

Tasks go to the workers and records come back as JSON text over pipes;
nothing is pickled except, with the ``spawn`` start method, the instance.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as _dt
import json
import multiprocessing
import multiprocessing.connection as _mpc
import os
import signal
import socket
import threading
import time
import traceback
import uuid
import warnings
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator

from ccgmerge import data as _data
from ccgmerge.analysis.sweep.scenarios import RunOptions, canon, dumps
from ccgmerge.analysis.sweep.store import RECORD_FORMAT
from ccgmerge.errors import CCGMergeError
from ccgmerge.instance import Instance
from ccgmerge.scenario import Scenario
from ccgmerge.processes import PR_SET_PDEATHSIG, libc_prctl

__all__ = ["execute_run", "WorkerPool", "ExecutorPool", "is_dask_client", "die_with_parent"]


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------
# the run function (any executor)
# ---------------------------------------------------------------------------
_CACHE_SIZE = 16
_INSTANCES: "OrderedDict[str, Instance]" = OrderedDict()  # per process: fingerprint -> Instance
_CACHE_GUARD = threading.Lock()


def _cache_get(key: str):
    with _CACHE_GUARD:
        inst = _INSTANCES.get(key)
        if inst is not None:
            _INSTANCES.move_to_end(key)
        return inst


def _cache_put(key: str, inst: Instance) -> None:
    with _CACHE_GUARD:
        _INSTANCES[key] = inst
        _INSTANCES.move_to_end(key)
        while len(_INSTANCES) > _CACHE_SIZE:
            _INSTANCES.popitem(last=False)


def _worker_instance(source, factor: float, expected: str) -> Instance:
    """The instance of a run, loaded (from CSV) or derived at most once per process."""
    if isinstance(source, Instance):
        base = source
        if _cache_get(base.fingerprint) is None:
            _cache_put(base.fingerprint, base)
    else:
        _, folder, fp, name = source
        base = _cache_get(fp)
        if base is None:
            base = _data.from_folder(folder, name=name, warn=False)
            if base.fingerprint != fp:
                raise CCGMergeError(f"instance in {folder} has fingerprint {base.fingerprint}, expected {fp}; "
                                    "the output folder was changed during the sweep.")
            _cache_put(fp, base)
    if factor == 1.0:
        inst = base
    else:
        ckey = f"{base.fingerprint}*{factor!r}"
        inst = _cache_get(ckey)
        if inst is None:
            inst = base.with_populations(factor, name=f"{base.name} (population x{factor:g})")
            _cache_put(ckey, inst)
    if inst.fingerprint != expected:
        raise CCGMergeError(f"instance fingerprint {inst.fingerprint} differs from the planned {expected}.")
    return inst


def execute_run(task: dict, source) -> dict:
    """Solve one run and return its JSON-safe record (never raises)."""
    import ccgmerge
    from ccgmerge.engine.solve import solve

    rec = {
        "format": RECORD_FORMAT,
        "key": task["key"],
        "scenario": task["scenario"],
        "options": task["options"],
        "instance": {"fingerprint": task["fingerprint"], "base_fingerprint": task["base_fingerprint"],
                     "population_factor": task["population_factor"]},
        "ccgmerge_version": getattr(ccgmerge, "__version__", "unknown"),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started_at": now(),
        "message": None,
    }
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            inst = _worker_instance(source, float(task["population_factor"]), task["fingerprint"])
            scenario = Scenario.from_dict(task["scenario"])
            options = RunOptions.from_dict(task["options"])
            t1 = time.perf_counter()
            plan = solve(inst, scenario, **options.solve_kwargs())
            wall = time.perf_counter() - t1
        d = plan.to_dict()
        d["instance"] = {**d["instance"], **rec["instance"]}
        d["scenario"] = task["scenario"]
        rec.update(d)
        rec.update(status=plan.status.value, solver=plan.solver, formulation=plan.formulation, gap=plan.gap,
                   wall_time=wall, solve_time=plan.wall_time)
        rec.setdefault("assignment", None)
        tl = options.time_limit
        if tl is not None and plan.status.value in ("feasible", "no_solution"):
            rec["message"] = (f"time limit of {tl:g} s reached" +
                              (" before any plan was found" if plan.groups is None else f"; gap {plan.gap}"))
        elif plan.infeasibility is not None:
            rec["message"] = str(plan.infeasibility)
    except Exception as exc:  # recorded, never stops the sweep
        rec.update(status="error", message=f"{type(exc).__name__}: {exc}", error_type=type(exc).__name__,
                   traceback="".join(traceback.format_exception(exc))[-4000:], assignment=None,
                   solver=task["options"].get("solver"), gap=None, wall_time=time.perf_counter() - t0, metrics={})
    rec["finished_at"] = now()
    return canon(rec)


# ---------------------------------------------------------------------------
# worker processes die with the sweep
# ---------------------------------------------------------------------------
def _kill_own_group() -> None:
    """Kill this process and, when it leads its process group, everything in the group (its CBC)."""
    try:
        if os.getpgid(0) == os.getpid():
            os.killpg(os.getpid(), signal.SIGKILL)
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGKILL)


def die_with_parent(parent_pid: int, interval: float = 0.5) -> None:
    """Make the calling (worker) process die when its parent dies.

    On Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` asks the kernel to kill it
    the moment the parent goes (the same mechanism ccgmerge's CBC backend
    uses for CBC, which in turn dies with the worker); everywhere, a daemon
    thread checks every ``interval`` seconds that the parent is still the
    one it started with, and kills the worker's process group otherwise. A
    parent that died before this call is caught at once."""
    prctl = libc_prctl()
    if prctl is not None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    ppid = os.getppid()
    if ppid != parent_pid:  # re-parented already, unless a fork server started us
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            _kill_own_group()
        except OSError:
            pass

    def watch():
        while True:
            time.sleep(interval)
            if os.getppid() != ppid:
                _kill_own_group()

    threading.Thread(target=watch, name="ccgmerge-parent-watch", daemon=True).start()


def prepare_worker(parent_pid: int) -> None:
    """Set a worker process up: its own process group (a terminal's Ctrl-C goes to the
    sweep alone), SIGINT ignored, SIGTERM's default action, death with the parent."""
    try:
        os.setpgid(0, 0)
    except OSError:  # pragma: no cover - e.g. already a session leader
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent(parent_pid)


def worker_main(conn, source, parent_pid: int) -> None:
    """A worker process: tasks in (JSON), records out (JSON), until told to stop."""
    prepare_worker(parent_pid)
    while True:
        try:
            task = json.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        if task is None:
            return
        rec = execute_run(task, source)
        try:
            conn.send_bytes(dumps(rec).encode("utf-8"))
        except OSError:
            return


# ---------------------------------------------------------------------------
# the pool
# ---------------------------------------------------------------------------
def describe_exit(exitcode) -> str:
    """``killed by SIGKILL``, ``exited with code 3``, ..."""
    if exitcode is None:
        return "did not exit"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


class _Slot:
    def __init__(self, proc, conn):
        self.proc, self.conn, self.task = proc, conn, None


class WorkerPool:
    """``n`` worker processes of this process, one run at a time each.

    :meth:`run` yields ``(task, record, None)`` for each finished run, and
    ``(task, None, message)`` for a run whose worker died while solving it
    (the worker is replaced; the other runs go on). After an interruption
    :meth:`harvest` yields the records already sent back; :meth:`close` stops
    the workers (``kill=True``: at once, with their CBC)."""

    def __init__(self, n: int, source, *, context=None):
        self.ctx = context or multiprocessing.get_context()
        self.source = source
        self.parent = os.getpid()
        self.slots: list[_Slot] = []
        try:
            for _ in range(max(1, int(n))):
                self.slots.append(self._spawn())
        except BaseException:  # e.g. Ctrl-C while starting: no worker is left behind
            self.close(kill=True)
            raise

    def _spawn(self) -> _Slot:
        here, there = self.ctx.Pipe()
        proc = self.ctx.Process(target=worker_main, args=(there, self.source, self.parent),
                                name="ccgmerge-sweep-worker", daemon=True)
        proc.start()
        there.close()
        return _Slot(proc, here)

    @property
    def pids(self) -> list[int]:
        return [s.proc.pid for s in self.slots]

    def _send(self, slot: _Slot, task: dict) -> _Slot:
        for _ in range(3):
            try:
                slot.conn.send_bytes(dumps(task).encode("utf-8"))
                slot.task = task
                return slot
            except OSError:  # the idle worker died: a new one takes the task
                slot = self._replace(slot)
        raise CCGMergeError("worker processes die as soon as they start; see the messages above.")

    def _replace(self, slot: _Slot) -> _Slot:
        self._stop(slot, kill=True)
        new = self._spawn()
        self.slots[self.slots.index(slot)] = new
        return new

    def _receive(self, slot: _Slot):
        """The record sent by ``slot``'s worker, or None when the worker died."""
        try:
            if slot.conn.poll(0):
                return json.loads(slot.conn.recv_bytes())
        except (EOFError, OSError, ValueError):
            pass
        return None

    def run(self, tasks: Iterable[dict], stop: threading.Event | None = None
            ) -> Iterator[tuple[dict, dict | None, str | None]]:
        """Solve ``tasks``; with ``stop``, return (leaving busy workers busy) soon after it is set."""
        queue = deque(tasks)
        while True:
            if stop is not None and stop.is_set():
                return
            for i, slot in enumerate(self.slots):
                if slot.task is None and queue:
                    self._send(slot, queue.popleft())
            busy = [s for s in self.slots if s.task is not None]
            if not busy:
                return
            ready = set(_mpc.wait([s.conn for s in busy] + [s.proc.sentinel for s in busy],
                                  timeout=None if stop is None else 0.2))
            for slot in busy:
                if slot.conn not in ready and slot.proc.sentinel not in ready:
                    continue
                task, slot.task = slot.task, None
                rec = self._receive(slot)
                if rec is not None:
                    yield task, rec, None
                    continue
                slot.proc.join(1.0)
                msg = (f"the worker process (PID {slot.proc.pid}) {describe_exit(slot.proc.exitcode)} while "
                       "solving this run; not recorded: rerun the sweep to solve it")
                self._replace(slot)
                yield task, None, msg

    def harvest(self) -> Iterator[tuple[dict, dict]]:
        """Records already sent back by busy workers (after an interruption)."""
        for slot in self.slots:
            if slot.task is not None:
                rec = self._receive(slot)
                if rec is not None:
                    task, slot.task = slot.task, None
                    yield task, rec

    def _stop(self, slot: _Slot, kill: bool) -> None:
        p = slot.proc
        if kill and p.exitcode is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)  # the worker's group: the worker and its CBC
            except OSError:
                pass
            try:
                p.kill()
            except OSError:
                pass
        p.join(2.0 if kill else 5.0)
        if p.exitcode is None:
            p.kill()
            p.join(2.0)
        slot.conn.close()

    def close(self, kill: bool = False) -> None:
        """Stop every worker: ``kill`` at once, else after its current run."""
        if not kill:
            for slot in self.slots:
                try:
                    slot.conn.send_bytes(b"null")
                except OSError:
                    pass
        for slot in self.slots:
            self._stop(slot, kill=kill)
        self.slots = []


# ---------------------------------------------------------------------------
# any executor: concurrent.futures or dask
# ---------------------------------------------------------------------------
def is_dask_client(executor) -> bool:
    """Whether ``executor`` is a ``dask.distributed.Client``."""
    mod = type(executor).__module__ or ""
    if not mod.startswith("distributed"):
        return False
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover
        return False
    return isinstance(executor, Client)


def task_name(task: dict, token: str) -> str:
    """The dask key of a run: its label, its key's first 8 digits and the sweep's token,
    e.g. ``ccgmerge-run floor=250000 coterminosity=aligned (3f2a9c1d, 5e0b7a)``."""
    return f"ccgmerge-run {task.get('label') or task['key']} ({task['key'][:8]}, {token})"


class ExecutorPool:
    """A ``concurrent.futures`` executor or a dask client, driven like a :class:`WorkerPool`.

    Every task is submitted at construction; ``futures`` maps each run key to
    its future (a dask future named by :func:`task_name` on a dask client)."""

    def __init__(self, ex, source, tasks: Iterable[dict], dask: bool):
        self.ex, self.source, self.dask = ex, source, dask
        self.seen: set = set()
        token = uuid.uuid4().hex[:6]
        self.futs: dict = {}
        for t in tasks:
            if dask:
                fut = ex.submit(execute_run, t, source, pure=False, key=task_name(t, token))
            else:
                fut = ex.submit(execute_run, t, source)
            self.futs[fut] = t
        self.futures = {t["key"]: f for f, t in self.futs.items()}

    def _outcome(self, fut):
        self.seen.add(fut)
        task = self.futs[fut]
        try:
            rec = fut.result()
        except Exception as exc:  # the worker itself failed (or the run was cancelled): report, do not persist
            return task, None, f"worker failed ({type(exc).__name__}: {exc}); not recorded, rerun the sweep to retry"
        return task, rec, None

    def run(self, tasks=None, stop: threading.Event | None = None):
        if stop is None and not self.dask:
            for fut in cf.as_completed(self.futs):
                yield self._outcome(fut)
            return
        # dask futures are polled: distributed.as_completed wants the client to be the default one
        pending = list(self.futs)
        while pending and not (stop is not None and stop.is_set()):
            done = [f for f in pending if f.done()]
            if not done:
                time.sleep(0.05)
                continue
            pending = [f for f in pending if f not in done]
            for fut in done:
                yield self._outcome(fut)

    def harvest(self):
        for fut, task in self.futs.items():
            if fut in self.seen:
                continue
            try:
                finished = fut.status == "finished" if self.dask else (fut.done() and not fut.cancelled()
                                                                       and fut.exception(timeout=0) is None)
                if finished:
                    yield task, fut.result()
            except Exception:
                continue

    def close(self, kill: bool) -> None:
        if kill:
            for f in self.futs:
                try:
                    f.cancel()
                except Exception:
                    pass
