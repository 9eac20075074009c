"""The report and the explorer in a real browser: Playwright driving Debian's Chromium.

``make test`` installs Chromium when it is missing (``apt-get install chromium``); these tests
skip, saying why, only where it could not be installed. Playwright's own browser download is
never used.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

import lactobiome as lb
from lactobiome.report import DISCLAIMER, write_report
from lactobiome.web import Limits, make_server

pytest.importorskip("plotly")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed and could not be (make test runs apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Watch:
    """Console errors, page errors and every request a page makes; requests off ``allowed`` are aborted."""

    def __init__(self, page, allowed) -> None:
        self.errors: list[str] = []
        self.foreign: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

        def route(r):
            if allowed(r.request.url):
                r.continue_()
            else:
                self.foreign.append(r.request.url)
                r.abort()

        page.route("**/*", route)


def test_report_renders_every_figure_offline(browser, tmp_path):
    ds = lb.simulate(dyads=30, days=32, seed=2)
    table = lb.validate(ds, bootstrap=0)
    out = write_report(ds, tmp_path / "report.html", validation=table)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, offline=True)
    page = context.new_page()
    watch = Watch(page, lambda url: url == out.as_uri())
    page.goto(out.as_uri())
    sections = page.locator("section")
    assert sections.count() == 6
    for key in ("cohort", "composition", "provenance", "panel", "mastitis", "validation"):
        page.locator(f"#fig-{key} .main-svg").first.wait_for(timeout=TIMEOUT_MS)
        assert page.locator(f"#fig-{key} .plot-container").count() == 1, key
    box = page.locator("#disclaimer").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 800  # on the first screen
    assert DISCLAIMER in page.locator("#disclaimer").inner_text()
    assert watch.errors == [] and watch.foreign == []
    context.close()


@pytest.fixture(scope="module")
def explorer():
    server = make_server("127.0.0.1", 0, limits=Limits(max_dyads=60, max_days=60))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _delivery_modes(page) -> list[str]:
    return page.evaluate("document.querySelector('#explorer-cohort .figure').data[1].x")


def _run(page, n: int) -> None:
    """Press Run and wait for the ``n``-th run's figures and dyad view to be drawn."""
    page.click("#run")
    page.wait_for_selector(f"body[data-runs='{n}']", timeout=TIMEOUT_MS)
    page.locator("#explorer-mastitis .main-svg").first.wait_for(timeout=TIMEOUT_MS)


def test_explorer_field_error_run_and_figure_change(browser, explorer):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    watch = Watch(page, lambda url: urlparse(url).netloc == urlparse(explorer).netloc)
    page.goto(explorer + "/")
    page.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT_MS)
    # a bad value shows the schema's message beside its field
    page.fill("[id='field-cohort.dyads']", "0")
    page.dispatch_event("[id='field-cohort.dyads']", "change")
    error = page.locator("[id='error-cohort.dyads']")
    sync_api.expect(error).to_have_text("cohort.dyads: Input should be greater than or equal to 1 (got 0)")
    page.fill("[id='field-population.caesarean']", "1.5")
    page.click("#run")
    sync_api.expect(page.locator("[id='error-population.caesarean']")).to_contain_text("less than or equal to 1")
    # a valid cohort runs, with progress, and draws the report's figures
    page.fill("[id='field-cohort.dyads']", "24")
    page.fill("[id='field-cohort.days']", "20")
    page.fill("[id='field-population.caesarean']", "0")
    _run(page, 1)
    assert sync_api.expect(error).to_have_text("") is None
    assert page.evaluate("document.getElementById('progress').value") == 24 * 20
    assert _delivery_modes(page) == ["vaginal"]
    # change a field, run again: the figure changes
    page.fill("[id='field-population.caesarean']", "1")
    _run(page, 2)
    assert _delivery_modes(page) == ["caesarean"]
    # the single-dyad view steps day by day
    page.locator("#dyad-series .main-svg").first.wait_for(timeout=TIMEOUT_MS)
    page.fill("#dyad-day", "9")
    page.dispatch_event("#dyad-day", "input")
    assert page.locator("#dyad-values").inner_text().startswith("day 9: ")
    # the result downloads as NetCDF (HDF5)
    response = page.request.get(explorer + "/api/result.nc")
    assert response.ok and response.body()[:4] == b"\x89HDF"
    # the one refused run (422) is the only thing the console reports
    assert len(watch.errors) == 1 and "status of 422" in watch.errors[0]
    assert watch.foreign == []
    page.close()


def _trial_figure(page, key: str) -> list[dict]:
    script = "(t) => ({name: t.name, x: t.x, y: t.y, text: t.text})"
    return page.evaluate(f"document.querySelector('#trial-view-{key} .figure').data.map({script})")


def test_trial_view_lists_designs_runs_and_redraws(browser, explorer):
    from lactobiome.trials import builtin_names
    from lactobiome.trials.output import DISCLAIMER as TRIAL_DISCLAIMER

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    watch = Watch(page, lambda url: urlparse(url).netloc == urlparse(explorer).netloc)
    page.goto(explorer + "/")
    page.wait_for_selector("body[data-ready='1']", timeout=TIMEOUT_MS)
    page.click("#tab-trials")
    rows = page.locator("#trial-designs tbody tr")
    rows.first.wait_for(timeout=TIMEOUT_MS)
    assert [rows.nth(i).get_attribute("data-trial") for i in range(rows.count())] == builtin_names()
    hurtado = page.locator("#trial-designs tr[data-trial='hurtado2017']").inner_text()
    assert "Hurtado JA et al." in hurtado and "limosilactobacillus_fermentum_cect5716" in hurtado
    assert "mastitis_16wk" in hurtado
    assert TRIAL_DISCLAIMER.strip("()") in page.locator("#trial-disclaimer").inner_text()
    assert page.locator("#view-cohort").is_hidden()
    # a field error in the CLI's words, beside its field
    page.select_option("#trial", "hurtado2017")
    page.fill("[id='trial-field-n_per_arm']", "0")
    page.dispatch_event("[id='trial-field-n_per_arm']", "change")
    sync_api.expect(page.locator("[id='trial-error-n_per_arm']")).to_have_text(
        "n_per_arm: Input should be greater than or equal to 1 (got 0)")
    # a tiny trial runs and draws its figures; a second run with another n redraws them
    page.fill("[id='trial-field-n_per_arm']", "4")
    page.fill("[id='trial-field-follow_up_days']", "5")
    page.dispatch_event("[id='trial-field-follow_up_days']", "change")
    sync_api.expect(page.locator("[id='trial-error-n_per_arm']")).to_have_text("")
    for run, n in ((1, 4), (2, 5)):
        page.fill("[id='trial-field-n_per_arm']", str(n))
        page.click("#trial-run")
        page.wait_for_selector(f"body[data-trial-runs='{run}']", timeout=TIMEOUT_MS)
        for key in ("arms", "effects", "paired"):
            page.locator(f"#trial-view-trial-{key} .main-svg").first.wait_for(timeout=TIMEOUT_MS)
        arms = _trial_figure(page, "trial-arms")
        assert [t["name"] for t in arms] == ["measured (trial's assay)", "model truth"]
        assert arms[0]["x"] == ["placebo", "fermentum_cect5716"]
        assert all(text.startswith(f"n = {n}: ") for text in arms[0]["text"])
        effects = _trial_figure(page, "trial-effects")
        assert effects[0]["y"] == ["fermentum_cect5716 vs placebo"] and effects[0]["text"][0].startswith("p = ")
        assert {t["name"] for t in _trial_figure(page, "trial-paired")} == {
            "measured (same women, both arms)", "truth (same women, both arms)"}
    assert page.evaluate("document.getElementById('trial-progress').value") > 0
    assert TRIAL_DISCLAIMER in page.locator("#trial-summary").inner_text()
    response = page.request.get(explorer + "/api/trial/outputs.zip")
    assert response.ok and response.body()[:2] == b"PK"
    assert watch.errors == [] and watch.foreign == []
    page.close()


def test_trial_report_renders_offline_with_the_power_curve(browser, tmp_path):
    import lactobiome as lb
    from lactobiome.report import write_trial_report
    from lactobiome.trials import load_trial
    from lactobiome.trials.output import DISCLAIMER as TRIAL_DISCLAIMER

    design = load_trial("hurtado2017").model_copy(update={"follow_up_days": 5})
    lb.trial(design, n_per_arm=4, power=[4, 6], replicates=2, out=tmp_path / "trial")
    out = write_trial_report(tmp_path / "trial", tmp_path / "trial.html")
    context = browser.new_context(viewport={"width": 1280, "height": 800}, offline=True)
    page = context.new_page()
    watch = Watch(page, lambda url: url == out.as_uri())
    page.goto(out.as_uri())
    keys = ["trial-arms", "trial-effects", "trial-paired", "trial-power"]
    assert [page.locator("section").nth(i).get_attribute("id") for i in range(page.locator("section").count())] == keys
    for key in keys:
        page.locator(f"#fig-{key} .main-svg").first.wait_for(timeout=TIMEOUT_MS)
    assert page.evaluate("document.getElementById('fig-trial-power').data[0].x") == [4, 6]
    assert TRIAL_DISCLAIMER.strip("()") in page.locator("#disclaimer").inner_text().lower()
    assert watch.errors == [] and watch.foreign == []
    context.close()
