"""Screenshots of the report and of the explorer for docs/ (Playwright driving Debian's Chromium).

Simulates a default cohort, writes its report and its validation table, opens the report
offline and the explorer on a free local port, runs a cohort there, steps one dyad, runs a
small hurtado2017 trial in the Trials view and saves ``docs/report.png``, ``docs/explorer.png``
and ``docs/explorer-trials.png``.

    .venv/bin/python docs/screenshots.py [--dyads 300] [--days 180]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

import lactobiome as lb
from lactobiome.report import write_report
from lactobiome.web import make_server

DOCS = Path(__file__).parent
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dyads", type=int, default=300)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--trial-n", type=int, default=30, help="women per arm of the trial view's hurtado2017 run")
    args = parser.parse_args()
    ds = lb.simulate(dyads=args.dyads, days=args.days, seed=1)
    server = make_server("127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as p:
        report = write_report(ds, Path(folder) / "report.html", validation=lb.validate(ds, bootstrap=0))
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(report.as_uri())
        page.locator("#fig-validation .main-svg").first.wait_for()
        page.screenshot(path=str(DOCS / "report.png"), full_page=True)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        page.wait_for_selector("body[data-ready='1']")
        page.fill("[id='field-cohort.dyads']", "200")
        page.fill("[id='field-cohort.days']", "120")
        page.click("#run")
        page.wait_for_selector("body[data-runs='1']", timeout=300_000)
        page.fill("#dyad-day", "10")
        page.dispatch_event("#dyad-day", "input")
        page.wait_for_timeout(500)
        page.screenshot(path=str(DOCS / "explorer.png"), full_page=True)
        page.click("#tab-trials")
        page.locator("#trial-designs tbody tr").first.wait_for()
        page.select_option("#trial", "hurtado2017")
        page.fill("[id='trial-field-n_per_arm']", str(args.trial_n))
        page.click("#trial-run")
        page.wait_for_selector("body[data-trial-runs='1']", timeout=300_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(DOCS / "explorer-trials.png"), full_page=True)
        browser.close()
    server.shutdown()
    server.server_close()
    print(f"wrote {DOCS / 'report.png'}, {DOCS / 'explorer.png'} and {DOCS / 'explorer-trials.png'}")


if __name__ == "__main__":
    main()
