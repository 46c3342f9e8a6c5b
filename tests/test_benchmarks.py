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
