"""The benchmark suite (benchmarks/suite.py): its registry, variant parsing,
and the quick subset run end to end through the suite's API, each run in its
own subprocess (about 20-30 s)."""

from __future__ import annotations

import csv
import json
import os

import pytest

from benchmarks import suite
from ccgmerge.data import has_real_data


def _need_real_data():
    if has_real_data():
        return
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail("CI is set but the real data folder is missing", pytrace=False)
    pytest.skip("real data folder ../shared/data absent")


def test_variant_names_round_trip():
    for name in ("cbc", "highs", "cbc-packing", "highs-compact-nodecomp-t2", "cbc-labelled-t2", "cbc-partition", "cbc-compact-nosym-cold", "highs-nodecomp-cold-t2"):
        assert suite.Variant.parse(name).name == name
    assert suite.Variant.parse("cbc-auto") == suite.Variant()
    assert [v.name for v in suite.parse_variants(["solvers", "cbc"])] == ["cbc", "highs"]
    assert len(suite.parse_variants(["matrix"])) == 2 * 5 * 2 * 2  # solvers x formulations x decompose x threads
    with pytest.raises(ValueError):
        suite.Variant.parse("gurobi")
    with pytest.raises(ValueError):
        suite.Variant.parse("cbc-symmetry")


def test_registry_families_and_specs_serialise():
    reg = suite.registry()
    fams = {}
    for c in reg.values():
        fams.setdefault(c.family, []).append(c)
        assert suite.Case.from_dict(json.loads(json.dumps(c.to_dict()))) == c
        hash(c)
    assert len(fams["real_ccg2013"]) == 6 * 4 * 4  # floors x modes x objectives (merges, moved, noncoterminous, split_areas)
    assert len(fams["real_icb2022"]) == 2
    assert len(fams["synthetic"]) == 10
    assert len(fams["peer_spopt"]) == 6
    assert {c.name for c in fams["real_lsoa"]} == {"lsoa-manchester-moved-250k", "lsoa-nottinghamshire-moved-250k",
                                                   "lsoa-kent-moved-250k"}
    if has_real_data():
        assert len(fams["real_lsoa_england"]) == 152
        assert all(c.slow for c in fams["real_lsoa_england"])
    assert {c.name for c in suite.select(quick=True)} == {
        "ccg2013-merges-off-100k", "ccg2013-merges-off-300k", "ccg2013-merges-aligned-100k",
        "ccg2013-merges-aligned-300k", "synthetic-100-180k"}
    assert not any(c.slow for c in suite.select(all_cases=True))


def test_quick_subset_runs_and_writes_outputs(tmp_path):
    _need_real_data()
    cases = suite.select(quick=True)
    recs = suite.run(cases, [suite.Variant("cbc")], tmp_path, time_limit=60, quiet=True)
    assert len(recs) == 5
    for r in recs:
        assert not r["killed"], r
        if r["status"] == "infeasible":
            assert r["infeasibility"], r  # a proven infeasibility, with its reason
        else:
            assert r["status"] in ("optimal", "feasible"), (r["case"], r.get("status"), r.get("error"))
            assert r["checked"] is True, r["case"]
            assert r["groups"] >= 1 and r["objective"] is not None and r["bound"] is not None
        for key in ("build_seconds", "solver_seconds", "solve_wall", "process_wall", "peak_mib", "variables",
                    "constraints", "formulation", "gap"):
            assert key in r, key
        assert r["peak_mib"] > 0
        assert (tmp_path / "runs" / f"{r['case']}__cbc.json").exists()
    # the packing model proves these fast; fewest merges at 100k is 6 (205 groups)
    by = {r["case"]: r for r in recs}
    assert by["ccg2013-merges-off-100k"]["status"] == "optimal"
    assert by["ccg2013-merges-off-100k"]["groups"] == 205
    with open(tmp_path / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["case"] for r in rows} == {c.name for c in cases}
    assert (tmp_path / "results.txt").read_text().count("ccg2013-merges") >= 4
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        pass
    else:
        assert (tmp_path / "scaling.png").stat().st_size > 1000
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["n_runs"] == 5 and summary["targets"]


def test_england_case_attaches_an_hwb_below_the_floor():
    """The Isles of Scilly (one LSOA, 2,264 people) cannot stand alone at
    100,000 in nested mode; the england runner attaches it to the one HWB it
    touches (Cornwall), solves Cornwall alone and with it, and re-checks the
    attached plan on the true membership in penalised mode."""
    _need_real_data()
    from ccgmerge.data import load_lsoa2013
    from ccgmerge.scenario import Scenario

    case = suite.registry()["england_lsoa_100k/E06000053"]
    assert case.runner == "hwb_attach" and case.family == "real_lsoa_england"
    inst = load_lsoa2013(hwbs=["E06000053"], warn=False)
    sc = Scenario(**case.scenario_kwargs)
    out = suite._run_attach(inst, sc, suite.Variant(), None)
    subs = {s["sub"]: s for s in out["attach_subsolves"]}
    assert set(subs) == {"piece1:E06000052:alone", "piece1:E06000052:attached"}
    att = subs["piece1:E06000052:attached"]
    assert att["chosen"] and att["penalised_checked"] and att["checked"]
    assert att["n_units"] == subs["piece1:E06000052:alone"]["n_units"] + 1
    # the LSOA's 2013 CCG (Kernow) continues, so no one moves; its people are non-coterminous
    assert out["status"] == "optimal" and out["objective"] == 0 and out["bound"] == 0
    assert att["penalised_objective"] == out["attach_noncoterminous"] == 2264
    assert out["orphan_pieces"] == [{"population": 2264, "units": 1}]


SMALL_HWBS = ("E06000005", "E06000053", "E09000001")  # Darlington; the Isles of Scilly and the City of London (attached)
SAME_FIELDS = ("status", "checked", "objective", "bound", "gap", "groups", "moved", "fingerprint", "instance", "n_units",
               "n_edges", "floor", "stage", "attach_noncoterminous", "orphan_pieces", "time_limit", "family", "case_spec")


def test_batch_runner_gives_the_records_of_isolated_runs(tmp_path):
    """The England group runs in one child process by default (imports and
    LSOA tables loaded once); each HWB's record has the figures and fields of
    an isolated run of the same case."""
    _need_real_data()
    cases = [suite.registry()[f"england_lsoa_100k/{h}"] for h in SMALL_HWBS]
    iso = suite.run(cases, [suite.Variant()], tmp_path / "iso", isolate=True, quiet=True, write=False)
    bat = suite.run(cases, [suite.Variant()], tmp_path / "bat", quiet=True, write=False)
    assert [r["case"] for r in bat] == [c.name for c in cases]
    ids = {r["batch"]["id"] for r in bat}
    assert len(ids) == 1 and all(r["runner_mode"] == "batch" for r in bat)
    assert all(r["runner_mode"] == "isolated" and "batch" not in r for r in iso)
    for a, b in zip(iso, bat):
        assert not b["killed"] and b["status"] == "optimal", b.get("error")
        assert set(a) - set(b) == set(), set(a) - set(b)  # every field of an isolated record
        for k in SAME_FIELDS:
            assert a.get(k) == b.get(k), (a["case"], k, a.get(k), b.get(k))
        strip = [(s["sub"], s["status"], s["objective"], s["bound"], s.get("chosen")) for s in a.get("attach_subsolves", [])]
        assert strip == [(s["sub"], s["status"], s["objective"], s["bound"], s.get("chosen"))
                         for s in b.get("attach_subsolves", [])]
        assert json.loads((tmp_path / "bat" / "runs" / f"england_lsoa_100k_{a['case'].split('/')[1]}__cbc.json").read_text()) == b
    # imports are paid once; the process walls add up to the batch's wall
    assert bat[0]["import_seconds"] > 0 and all(r["import_seconds"] == 0 for r in bat[1:])
    b = bat[0]["batch"]
    assert b["size"] == 3 and b["finished"] == 3 and b["returncode"] == 0
    assert abs(sum(r["process_wall"] for r in bat) - b["wall_seconds"]) < 1.0
    assert not list((tmp_path / "bat" / "runs").glob(".batch-*"))  # the work folder is removed
    e = suite.england_summary(bat)
    assert e["wall_seconds"] == round(b["group_wall_seconds"], 1) and e["runner"] == {"batch": 3} and e["proven"] == 3


def test_batch_runner_records_cases_of_a_dead_batch(tmp_path):
    """A batch child that dies (here: no memory to import anything) leaves
    every case it did not finish recorded, killed, with the reason."""
    cases = [suite.registry()[f"england_lsoa_100k/{h}"] for h in SMALL_HWBS[:2]] if has_real_data() else [
        suite.registry()["synthetic-100-180k"], suite.registry()["synthetic-300-180k"]]
    from benchmarks.batch import run_batch

    recs = run_batch(cases, suite.Variant(), tmp_path, memory_mib=40, fallback="killed")
    assert [r["status"] for r in recs] == ["killed", "killed"]
    assert all("exited" in r["batch_fallback"] and r["batch"]["finished"] == 0 for r in recs)
    assert {p.name for p in (tmp_path / "runs").glob("*.json")} == {f"{suite._safe(c.name)}__cbc.json" for c in cases}


def test_gap_time_plot_draws_plan_bound_and_gap(tmp_path):
    """benchmarks/gap_time.py: the picture from rows as run() writes them (a missing bound is a gap)."""
    from benchmarks.gap_time import plot

    rows = [{"case": "c", "limit": t, "objective": o, "bound": b, "gap": g}
            for t, o, b, g in [(30, 10.0, 5.0, 0.5), (60, 8.0, 6.0, 0.25), (120, 7.0, None, None)]]
    out = plot(rows, tmp_path / "g.png")
    assert out is not None and out.stat().st_size > 10_000


def test_regional_families_cover_the_area_teams_and_regions():
    """24 area teams with at most 12 CCGs x 3 modes; the issue's three regions in two modes; England in two modes."""
    from benchmarks.suite import registry

    fam = {}
    for c in registry().values():
        fam.setdefault(c.family, []).append(c)
    assert len(fam["real_area_team"]) == 72 and len(fam["real_region"]) == 6 and len(fam["real_england"]) == 2
    assert "area-E39000018-moved-off-250k" not in registry()  # London: 32 CCGs
    south = registry()["region-E40000004-moved-off-250k"]
    assert dict(south.builder_kwargs) == {"area": "E40000004"} and south.time_limit == 600.0
    assert dict(registry()["region-E40000004-moved-aligned-250k"].scenario)["coterminosity"] == "aligned"
