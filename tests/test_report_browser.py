"""The HTML reports (issue 16): self-contained files, checked as written and
in a real headless browser.

The browser tests drive Debian's Chromium (``/usr/bin/chromium``, or
``CCGMERGE_CHROMIUM``) with playwright (``pip install playwright``; never
``playwright install``: no browser is downloaded). Every request other than
the report file itself is refused and recorded, so a page that needs the
network fails. Locally (``CI`` unset) they skip naming what is missing; in
CI they fail.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

import conftest  # noqa: E402
from ccgmerge.data.synthetic import generate  # noqa: E402
from ccgmerge.engine.solve import solve  # noqa: E402
from ccgmerge.plots import group_key, plan_report, sweep_report  # noqa: E402
from ccgmerge.scenario import Scenario  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
BACKGROUND = np.array([0xDF, 0xE9, 0xF2]) / 255  # the map's empty background (MAP_CSS)


@pytest.fixture(scope="module")
def real_plan(ccg2013):
    plan = solve(ccg2013, Scenario(floor=300_000, coterminosity="aligned"))
    assert plan.ok and len(plan.groups) == 101
    return plan


@pytest.fixture(scope="module")
def synthetic_plan():
    plan = solve(generate(40, seed=5), Scenario(floor=450_000))
    assert plan.ok
    return plan


def chromium_path() -> str | None:
    for p in (os.environ.get("CCGMERGE_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
              shutil.which("chromium-browser")):
        if p and Path(p).is_file():
            return p
    return None


@contextlib.contextmanager
def browser_page(tmp_path):
    """A page of headless Chromium with every non-file request refused (recorded in ``page.blocked``) and
    console errors recorded in ``page.errors``."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        conftest.skip_or_fail("the Python package playwright is not installed (pip install playwright; "
                              "the browser is Debian's chromium, never downloaded)")
    exe = chromium_path()
    if exe is None:
        conftest.skip_or_fail("Chromium is not installed (apt-get install chromium; looked for $CCGMERGE_CHROMIUM, "
                              "/usr/bin/chromium, chromium and chromium-browser on PATH)")
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=exe, headless=True,
                                                    args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
        try:
            page = ctx.new_page()
            page.errors, page.blocked = [], []
            page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: page.errors.append(str(e)))

            def route(r):
                if r.request.url.startswith("file:"):
                    r.continue_()
                else:
                    page.blocked.append(r.request.url)
                    r.abort()

            ctx.route("**/*", route)
            yield page
        finally:
            ctx.close()


def open_report(page, path: Path, n_maps: int = 1):
    page.goto(path.resolve().as_uri())
    page.wait_for_function(f"document.querySelectorAll('.ccgm-map[data-rendered-groups]').length == {n_maps}",
                           timeout=30_000)


def not_blank(png: bytes) -> float:
    """Share of the screenshot's pixels that differ from the empty map background; also checks its variance."""
    from matplotlib.image import imread

    img = imread(io.BytesIO(png))[..., :3]
    assert img.std() > 0.05, "the map screenshot is (nearly) one colour"
    return float((np.abs(img - BACKGROUND).sum(axis=2) > 0.1).mean())


def hover_group(page, map_id: str, number: int) -> str:
    """Move the mouse onto group ``number``'s label point; return the tooltip's text."""
    xy = page.evaluate("""([id, n]) => {const m = window.ccgmergeMaps[id], l = m.byNumber[n][0];
        const ll = l.feature.properties.label_at ? L.latLng(l.feature.properties.label_at) :
                   (l.getLatLng ? l.getLatLng() : l.getBounds().getCenter());
        const p = m.map.latLngToContainerPoint(ll), r = document.getElementById(id).getBoundingClientRect();
        return [r.left + p.x, r.top + p.y];}""", [map_id, number])
    page.mouse.move(xy[0], xy[1])
    page.wait_for_selector(".leaflet-tooltip", timeout=5_000)
    return page.inner_text(".leaflet-tooltip")


# --------------------------------------------------------------------------- the file as written
def external_references(text: str) -> list[str]:
    return re.findall(r"<(?:script|link|img|iframe)[^>]*(?:src|href)\s*=\s*[\"']?(?:https?:)?//[^\"' >]+", text)


def test_plan_report_file_is_self_contained(tmp_path, real_plan, ccg2013_boundaries):
    path = plan_report(real_plan, tmp_path / "sub" / "report.html")
    text = path.read_text(encoding="utf-8")
    assert path.stat().st_size < 3_000_000
    assert external_references(text) == [] and "<script src" not in text and "<link" not in text
    assert 'data-groups="101"' in text and text.count("<tr data-group=") == 101
    assert "Leaflet 1.9.4" in text and "Contains OS data" in text and "OGL v3.0" in text
    assert "Checked: every rule met" in text and "211 CCGs merged into 101 groups" in text
    assert "\u00a3" in text  # allowances and margins in pounds


def test_report_without_a_plan(tmp_path, ccg2013):
    plan = solve(ccg2013, Scenario(floor=60_000_000))
    assert plan.groups is None
    text = plan_report(plan, tmp_path / "none.html").read_text(encoding="utf-8")
    assert "No plan: infeasible" in text and 'data-groups="0"' in text


# --------------------------------------------------------------------------- in the browser
def test_real_plan_report_in_chromium(tmp_path, real_plan, ccg2013_boundaries):
    path = plan_report(real_plan, tmp_path / "report.html")
    with browser_page(tmp_path) as page:
        open_report(page, path)
        assert page.errors == [] and page.blocked == []
        el = page.locator("#map-plan")
        assert el.get_attribute("data-groups") == el.get_attribute("data-rendered-groups") == str(len(real_plan.groups))
        assert page.locator("table.groups tbody tr").count() == len(real_plan.groups)
        # one polygon per group (dissolved with geopandas), or per unit (the GeoJSON as it is, without geopandas)
        assert page.locator("#map-plan path.leaflet-interactive").count() in (len(real_plan.groups), 211)
        assert not_blank(el.screenshot()) > 0.08  # England fills a good part of the map (about 15%)
        key = group_key(real_plan)
        row = key[key["name"] == "NHS West Kent"].iloc[0]
        tip = hover_group(page, "map-plan", int(row["number"]))
        assert "West Kent" in tip and "population" in tip and "\u00a3" in tip and "HWBs: Kent" in tip
        assert page.errors == []


def test_synthetic_plan_report_in_chromium(tmp_path, synthetic_plan):
    path = plan_report(synthetic_plan, tmp_path / "synthetic.html")
    with browser_page(tmp_path) as page:
        open_report(page, path)
        assert page.errors == [] and page.blocked == []
        el = page.locator("#map-plan")
        n = len(synthetic_plan.groups)
        assert el.get_attribute("data-groups") == el.get_attribute("data-rendered-groups") == str(n)
        assert page.locator("table.groups tbody tr").count() == n
        assert page.locator("#map-plan path.leaflet-interactive").count() == synthetic_plan.instance.n_units
        assert not_blank(el.screenshot()) > 0.01
        assert "population" in hover_group(page, "map-plan", 1)


def test_sweep_report_in_chromium(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from ccgmerge.analysis.sweep import grid, run_sweep

    inst = generate(30, seed=2)
    with ThreadPoolExecutor(1) as ex:
        run_sweep(inst, grid(allowance_per_head=[20, 25, 40], coterminosity=["off", "nested"]), tmp_path / "sw",
                  executor=ex, progress="off")
    path = sweep_report(tmp_path / "sw")
    assert path == tmp_path / "sw" / "report.html"
    text = path.read_text(encoding="utf-8")
    assert external_references(text) == [] and "data:image/png;base64," in text
    results = pd.read_csv(tmp_path / "sw" / "results.csv")
    n_maps = text.count('class="ccgm-map"')
    assert 1 <= n_maps <= 4
    with browser_page(tmp_path) as page:
        open_report(page, path, n_maps)
        assert page.errors == [] and page.blocked == []
        for el in page.locator(".ccgm-map").all():
            assert el.get_attribute("data-groups") == el.get_attribute("data-rendered-groups")
        assert page.evaluate("document.querySelector('img.chart').naturalWidth") > 300
        assert page.locator("table.sortable").first.locator("tbody tr").count() == len(results)
