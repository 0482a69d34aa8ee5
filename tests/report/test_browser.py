"""The demo's report page in a real browser: headless Chromium (Debian's ``chromium``) opens
the generated HTML with the network cut off; no console errors, every chart drawn with a
non-zero size, and a screenshot saved under the test's temporary directory.

Without ``/usr/bin/chromium`` or the ``playwright`` package the test skips, unless
``HELPDESK_SLO_REQUIRE_BROWSER=1`` (set by ``.ci/run``) makes that a failure.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import Any

import pytest

from exporter.cli import main

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_browser() -> None:
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (Debian package chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package (pip install -e '.[test]')")
    if not missing:
        return
    message = f"{' and '.join(missing)} not installed"
    if os.environ.get("HELPDESK_SLO_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{message}, and HELPDESK_SLO_REQUIRE_BROWSER=1 requires it")
    pytest.skip(message)


@pytest.mark.slow
def test_demo_report_renders_in_chromium(tmp_path: Path) -> None:
    require_browser()
    from playwright.sync_api import sync_playwright

    page_file = tmp_path / "report.html"
    assert main(["report", "--since", "28d", "--out", str(page_file)]) == 0
    expected = len(re.findall(r'<figure class="chart"', page_file.read_text()))
    assert expected >= 7

    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.as_uri(), wait_until="load")
            sizes: list[dict[str, Any]] = page.eval_on_selector_all(
                "figure.chart",
                """figures => figures.map(f => {
                    const svg = f.querySelector('svg');
                    const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
                    return {chart: f.dataset.chart, width: box.width, height: box.height};
                })""",
            )
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()

    assert errors == []
    assert [r for r in requests if not r.startswith("file:")] == []
    assert len(sizes) == expected
    assert [s["chart"] for s in sizes if not (s["width"] > 0 and s["height"] > 0)] == []
    assert (tmp_path / "report.png").stat().st_size > 10_000
