"""Batch runner of the benchmark suite: every case of one group (the 152 HWBs
of ``england_lsoa_100k``) solved one after another in ONE child process.

The isolated runner (:func:`benchmarks.suite.run_case`) starts a fresh
interpreter per case; for the England group that costs far more than the
solving (about 0.7 s of imports, 0.13 s of table loading and a git call per
HWB). Here the interpreter imports once, the LSOA tables are loaded once (all
32,844 LSOAs, :func:`ccgmerge.data.load_lsoa2013`), and each HWB's instance is
the subset of its LSOAs, built with the same name and order, so it has the
same fingerprint as ``load_lsoa2013(hwbs=[code])``. The attach runner's
neighbour instances (an HWB with its neighbour) come from the same tables.

Each case keeps its own time limit (passed to ``solve``), its own record
(``DIR/runs/<case>__<variant>.json``, the same fields as an isolated run plus
``runner_mode`` and ``batch``), its own peak memory (VmHWM is reset through
``/proc/self/clear_refs`` before each case) and its own sampler of the CBC
binary's memory. Per-case figures that an isolated run pays once per process
are charged to the case that paid them: the first case's ``import_seconds``
holds the imports, the first LSOA case's ``load_seconds`` the table loading.
``process_wall`` of a batch record is the time from the end of the previous
case (the process start for the first) to the end of this one, so the records'
``process_wall`` add up to the batch process's wall.

Guarantees, as for isolated runs: the child runs under the same address-space
limit (``RLIMIT_AS``) in its own session; the parent kills its whole process
group (CBC included) when the current case runs past its limit plus the
margin, or when the whole batch runs past the sum of the limits plus the
margin. A case that ran past its own limit plus the margin is recorded
``killed`` with what it had measured (as an isolated run would be); every
case the dead batch did not finish otherwise (a crash, the batch deadline) is
rerun isolated (``fallback="isolate"``, the default) or recorded ``killed``
(``fallback="killed"``), with ``batch_fallback`` saying why.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from benchmarks import suite as S

__all__ = ["run_batch", "batch_child_main", "Tables"]

POLL_SECONDS = 0.2


# ---------------------------------------------------------------------------
# child side
# ---------------------------------------------------------------------------
class Tables:
    """The LSOA tables loaded once; instances of any HWBs built from them."""

    def __init__(self):
        self.full = None
        self._membership = None
        self._areas: set[str] = set()
        self.load_seconds = 0.0

    def _england(self):
        if self.full is None:
            import warnings

            from ccgmerge.data import load_lsoa2013

            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.full = load_lsoa2013(warn=False)
            self._membership = self.full.membership[["unit", "area"]]
            self._areas = set(self.full.area_codes)
            self.load_seconds = time.perf_counter() - t0
        return self.full

    def can_load(self, hwbs) -> bool:
        self._england()
        return bool(hwbs) and all(str(h) in self._areas for h in hwbs)

    def load(self, hwbs):
        """As ``load_lsoa2013(hwbs=hwbs, warn=False)`` for HWB codes: same units, order, name, fingerprint."""
        from ccgmerge.errors import format_items

        full = self._england()
        want = list(dict.fromkeys(str(h) for h in hwbs))
        m = self._membership
        units = m.loc[m["area"].isin(want), "unit"].tolist()
        name = f"{full.name}: HWBs {format_items(want, 4)}"
        return full.subset(units, name=name, warn=False)

    def build(self, builder: str, kwargs: dict, seed: int = 0):
        if builder == "lsoa2013" and set(kwargs) == {"hwbs"} and self.can_load(kwargs["hwbs"]):
            return self.load(kwargs["hwbs"])
        return S.build_instance(builder, kwargs, seed)


def _reset_peak() -> bool:
    """Reset this process's VmHWM to its current resident set (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _write(path: Path, rec: dict) -> None:
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(rec, indent=1, default=str))
    os.replace(tmp, path)


def batch_child_main(spec_path: str, work_dir: str) -> int:
    """Run the cases of ``spec_path`` in this process; write ``work_dir/<i>.json`` per case."""
    t_start = time.perf_counter()
    work = Path(work_dir)
    spec = json.loads(Path(spec_path).read_text())
    mem = spec.get("memory_mib")
    if mem:
        import resource

        lim = int(mem) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    variant = S.Variant(**spec["variant"])
    from ccgmerge.scenario import Scenario  # noqa: F401  (the imports every case needs)
    import ccgmerge.engine.solve  # noqa: F401

    import_seconds = time.perf_counter() - t_start
    code = S.code_version()
    tables = Tables()
    for i, (cd, tl) in enumerate(zip(spec["cases"], spec["time_limits"])):
        case = S.Case.from_dict(cd)
        t_case = t_start if i == 0 else time.perf_counter()
        _write(work / "progress.json", {"index": i, "case": case.name, "started": time.time()})
        reset = _reset_peak()
        rec: dict = {"case": case.name, "variant": variant.name, "code": code, "loadavg_start": round(os.getloadavg()[0], 2),
                     "runner_mode": "batch", "import_seconds": round(import_seconds, 3) if i == 0 else 0.0}
        out = work / f"{i:04d}.json"
        sampler = S._DescendantPeak().__enter__()

        def dump(rec=rec, out=out, sampler=sampler, t_case=t_case):
            _write(out, dict(rec, partial=True, peak_mib=S._hwm_mib(), peak_children_mib=sampler.peak,
                             child_wall=round(time.perf_counter() - t_case, 3)))

        shared_before = tables.load_seconds
        try:
            S._execute_case(case, variant, tl, rec, dump, build=tables.build, loader=tables.load)
        except Exception as exc:
            S._record_error(rec, exc)
        finally:
            sampler.__exit__()
        if tables.load_seconds != shared_before:
            rec["batch_tables_seconds"] = round(tables.load_seconds, 3)  # the one-off table load, inside load_seconds
        rec["peak_mib"] = S._hwm_mib() or S._peak_mib(__import__("resource").RUSAGE_SELF)
        rec["peak_mib_per_case"] = reset
        rec["peak_children_mib"] = sampler.peak
        rec["peak_children_processes"] = len(sampler.seen)
        rec["child_wall"] = round(time.perf_counter() - t_case, 3)
        rec["loadavg_end"] = round(os.getloadavg()[0], 2)
        rec["partial"] = False
        rec["case_end"] = time.time()
        _write(out, rec)
        gc.collect()
    return 0


# ---------------------------------------------------------------------------
# parent side
# ---------------------------------------------------------------------------
def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def run_batch(cases: list, variant, out_dir, *, time_limit: float | None = None, margin: float = S.DEFAULT_MARGIN,
              memory_mib: int | None = S.DEFAULT_MEMORY_MIB, fallback: str = "isolate", on_record=None) -> list[dict]:
    """Run ``cases`` with ``variant`` in one child process; return (and write) one record per case, in order.

    ``on_record(rec)`` is called as each record is written (for progress lines).
    """
    if fallback not in ("isolate", "killed"):
        raise ValueError("fallback must be 'isolate' or 'killed'")
    out_dir = Path(out_dir)
    runs = out_dir / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    n = len(cases)
    tls = [float(time_limit if time_limit is not None else c.time_limit) for c in cases]
    budget = sum(tls) + margin
    groups = sorted({c.group or c.family for c in cases})
    batch_id = f"{S._safe('+'.join(groups))}__{variant.name}__{time.strftime('%Y%m%dT%H%M%S')}_{os.getpid()}"
    work = runs / f".batch-{batch_id}"
    work.mkdir(parents=True, exist_ok=True)
    spec = {"cases": [c.to_dict() for c in cases], "variant": asdict(variant), "time_limits": tls, "memory_mib": memory_mib}
    (work / "spec.json").write_text(json.dumps(spec))
    env = dict(os.environ)
    env["PYTHONPATH"] = str(S.ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [sys.executable, "-m", "benchmarks.suite", "--batch-child", str(work / "spec.json"), "--child-out", str(work)]
    versions = S._VERSIONS_CACHE.setdefault("v", S._versions())
    info = {"id": batch_id, "size": n, "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "budget_seconds": budget}
    records: list[dict | None] = [None] * n
    paths = [runs / f"{S._safe(c.name)}__{variant.name}.json" for c in cases]

    def finish(i: int, rec: dict, prev_end: float) -> None:
        c = cases[i]
        rec.update(family=c.family, case_spec=c.to_dict(), variant_spec=asdict(variant), time_limit=tls[i],
                   process_wall=round(max(0.0, rec.pop("case_end", prev_end) - prev_end), 3),
                   returncode=0, killed=False, started=time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(prev_end)),
                   batch=dict(info, index=i), versions=versions)
        records[i] = rec
        paths[i].write_text(json.dumps(rec, indent=1, default=str))
        if on_record:
            on_record(rec)

    t_wall0 = time.time()
    t0 = time.perf_counter()
    with open(work / "stdout.txt", "w") as so, open(work / "stderr.txt", "w") as se:
        proc = subprocess.Popen(cmd, cwd=str(S.ROOT), env=env, stdout=so, stderr=se, start_new_session=True)
    nxt, prev_end, why = 0, t_wall0, None
    while True:
        rc = proc.poll()
        while nxt < n:
            r = _read(work / f"{nxt:04d}.json")
            if r is None or r.get("partial"):
                break
            end = r.get("case_end", time.time())
            finish(nxt, r, prev_end)
            prev_end, nxt = end, nxt + 1
        if rc is not None:
            if nxt < n:
                why = f"batch process exited {rc} during case {nxt + 1} of {n}"
            break
        if nxt >= n:  # every case recorded: let the process exit (grace: the margin), then make sure it has
            try:
                proc.wait(timeout=max(5.0, margin))
            except subprocess.TimeoutExpired:
                _kill(proc)
            break
        prog = _read(work / "progress.json")
        if prog and prog.get("index") == nxt and time.time() - prog["started"] > tls[nxt] + margin:
            _kill(proc)
            why = "case"
            break
        if time.perf_counter() - t0 > budget:
            _kill(proc)
            why = f"batch ran past its limit ({budget:.0f} s = sum of the {n} time limits + margin {margin:.0f} s)"
            break
        time.sleep(POLL_SECONDS)
    batch_wall = time.perf_counter() - t0
    info.update(wall_seconds=round(batch_wall, 3), returncode=proc.returncode, finished=nxt)
    if nxt < n:
        info["died"] = why if why != "case" else f"killed: case {nxt + 1} ran past its time limit + margin"
        err = (work / "stderr.txt").read_text()[-2000:] if (work / "stderr.txt").exists() else ""
        part = _read(work / f"{nxt:04d}.json")
        if why == "case":  # this case overran: recorded killed, as an isolated run would be
            what = f"killed after {time.time() - prev_end:.0f} s in the batch (time limit {tls[nxt]:.0f} s + margin {margin:.0f} s)"
            rec = part or {"case": cases[nxt].name, "variant": variant.name}
            rec.pop("case_end", None)
            rec.update(status="killed", error=what + (f"; stage {rec['stage']}" if rec.get("stage") else ""), partial=True)
            finish(nxt, dict(rec, case_end=time.time()), prev_end)
            records[nxt].update(killed=True, returncode=proc.returncode)
            paths[nxt].write_text(json.dumps(records[nxt], indent=1, default=str))
            nxt += 1
        reason = info["died"] + (f"; stderr: {err[-500:]}" if err.strip() else "")
        for i in range(nxt, n):
            c = cases[i]
            if fallback == "isolate":
                rec = S.run_case(c, variant, out_dir, time_limit=tls[i], margin=margin, memory_mib=memory_mib)
            else:
                rec = {"case": c.name, "variant": variant.name, "status": "killed", "killed": True,
                       "error": f"not run: {info['died']}", "family": c.family, "case_spec": c.to_dict(),
                       "variant_spec": asdict(variant), "time_limit": tls[i], "process_wall": 0.0, "versions": versions}
            rec.update(runner_mode="isolated" if fallback == "isolate" else "batch", batch_fallback=reason,
                       batch=dict(info, index=i, fallback=True))
            records[i] = rec
            paths[i].write_text(json.dumps(rec, indent=1, default=str))
            if on_record:
                on_record(rec)
    # the whole group's wall (batch + isolated reruns), on every record of the group
    info["group_wall_seconds"] = round(time.perf_counter() - t0, 3)
    for i, rec in enumerate(records):
        rec["batch"] = dict(info, index=i, **({"fallback": True} if (rec.get("batch") or {}).get("fallback") else {}))
        paths[i].write_text(json.dumps(rec, indent=1, default=str))
    if nxt >= n:  # every record is in runs/; the work folder holds nothing more
        for p in work.iterdir():
            p.unlink()
        work.rmdir()
    return records
