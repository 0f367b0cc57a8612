"""End to end: the explorer page in a real headless Chromium, driven by Playwright.

Uses Debian's Chromium at /usr/bin/chromium (``.ci/run`` installs it with apt)
and never downloads a browser; without Playwright or Chromium the test is
skipped. Screenshots go to pytest's tmp dir and to ``runs/explorer/``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.explorer.client import get, running_server

CHROMIUM = os.environ.get("EXPLORER_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "runs" / "explorer"

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install 'gumbel-softmax[browser]')"
)
pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None,
    reason=f"no Chromium at {CHROMIUM} (apt-get install chromium); this test never downloads a browser",
)


def bars(page, chart: str, series: str) -> list[float]:
    """The values the page drew for one series, in class order (each bar carries its number)."""
    return page.eval_on_selector_all(
        f"#{chart} rect[data-series={series}]", "rects => rects.map(r => Number(r.dataset.value))"
    )


def heights(page, chart: str, series: str) -> list[float]:
    return page.eval_on_selector_all(
        f"#{chart} rect[data-series={series}]", "rects => rects.map(r => r.getBBox().height)"
    )


def wait_for_update(page, before: int) -> int:
    page.wait_for_function("n => Number(document.body.dataset.updates || 0) > n", arg=before, timeout=60_000)
    page.wait_for_timeout(150)  # let a debounced follow-up request (slider) land too
    page.wait_for_function("() => !document.body.dataset.busy", timeout=60_000)
    return int(page.evaluate("Number(document.body.dataset.updates)"))


def check_against_api(page, base: str) -> dict:
    """Fetch the page's last API call again (same seed: same numbers) and compare every drawn bar with it."""
    url = page.get_attribute("#api-url", "href")
    status, _, body = get(base, url)
    assert status == 200
    approx = lambda values: pytest.approx(values, rel=1e-9, abs=1e-12)  # noqa: E731
    assert bars(page, "chart-one", "pi") == approx(body["probs"])
    assert bars(page, "chart-one", "soft") == approx(body["samples"]["soft"][0])
    assert bars(page, "chart-many", "pi") == approx(body["probs"])
    assert bars(page, "chart-many", "frequency") == approx(body["summary"]["frequencies"])
    assert bars(page, "chart-many", "mean") == approx(body["summary"]["mean_soft"])
    # The drawn heights are proportional to the numbers (the one-sample chart's axis runs from 0 to 1).
    drawn = heights(page, "chart-one", "soft")
    shaded = page.eval_on_selector_all(
        "#draws .cell", "cells => cells.map(c => Number(c.style.getPropertyValue('--y')))"
    )
    assert shaded == approx([v for row in body["samples"]["soft"][:12] for v in row])
    scale = max(drawn) / max(body["samples"]["soft"][0])
    assert drawn == pytest.approx([v * scale for v in body["samples"]["soft"][0]], abs=1.0)
    assert page.inner_text("#hard-class") == f"class {body['samples']['hard'][0]}"
    counts = page.eval_on_selector_all("#counts tbody tr td:nth-child(3)", "tds => tds.map(t => t.textContent)")
    assert [int(c.replace(",", "")) for c in counts] == body["summary"]["counts"]
    return body


def test_explorer_page_end_to_end(tmp_path):
    with running_server() as base, sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh user-data dir
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1440, "height": 1060},
        )
        try:
            page = context.new_page()
            requests, problems = [], []
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" and "400" not in m.text else None)
            page.goto(base + "/")
            updates = wait_for_update(page, 0)
            first = check_against_api(page, base)
            assert first["k"] == 5 and first["noise"] == "gumbel" and first["n"] == 10_000

            # Move the temperature slider: same seed, new tau, new bars that still agree with the API.
            page.fill("#tau", "-0.3")
            updates = wait_for_update(page, updates)
            assert page.inner_text("#tau-value") == "0.501"
            cold = check_against_api(page, base)
            assert cold["tau"] == 0.501 and cold["seed"] == first["seed"]
            assert cold["samples"]["soft"][0] != first["samples"]["soft"][0]
            assert max(cold["samples"]["soft"][0]) > max(first["samples"]["soft"][0])  # same noise, sharper
            assert cold["samples"]["hard"][0] == first["samples"]["hard"][0]  # tau never changes the argmax

            # Sample: fresh noise (a new seed), bars change.
            page.click("#sample")
            updates = wait_for_update(page, updates)
            fresh = check_against_api(page, base)
            assert fresh["seed"] != cold["seed"]
            assert bars(page, "chart-many", "frequency") != cold["summary"]["frequencies"]
            page.screenshot(path=str(tmp_path / "explorer-gumbel.png"), full_page=True)

            # Switch the noise to Normal of the same variance.
            page.check("input[name=noise][value=normal]")
            updates = wait_for_update(page, updates)
            normal = check_against_api(page, base)
            assert normal["noise"] == "normal" and normal["seed"] == fresh["seed"]
            assert "Normal" in page.inner_text("#noise-note")
            page.screenshot(path=str(tmp_path / "explorer-normal.png"), full_page=True)

            # K = 3 (finite logits) shows the Concrete density panel; any other K hides it.
            assert not page.is_visible("#panel-density")
            page.check("input[name=noise][value=gumbel]")
            updates = wait_for_update(page, updates)
            page.fill("#logits-text", "0.6, -0.4, 1.1")
            page.press("#logits-text", "Enter")
            updates = wait_for_update(page, updates)
            three = check_against_api(page, base)
            assert three["k"] == 3 and three["logits"] == [0.6, -0.4, 1.1]
            page.wait_for_selector("#panel-density:not([hidden])")
            page.screenshot(path=str(tmp_path / "explorer-k3.png"), full_page=True)

            # A refused request shows the server's message, naming the parameter; the page stays usable.
            page.fill("#logits-text", "-inf, -inf, -inf")
            page.press("#logits-text", "Enter")
            page.wait_for_selector("#error:not([hidden])")
            assert "logits" in page.inner_text("#error") and "masked" in page.inner_text("#error")

            assert problems == []
            assert all(url.startswith((base, "data:")) for url in requests), requests
        finally:
            context.close()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for shot in tmp_path.glob("explorer-*.png"):
        shutil.copy(shot, ARTIFACTS / shot.name)
