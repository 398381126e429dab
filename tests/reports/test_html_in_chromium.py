"""The HTML report rendered in headless Chromium: no console errors, no request leaves the page, the figures are
drawn (matplotlib's first colour is on the screenshot), the screenshot is not blank. Skips without a browser."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zoo.reports import load_runs, write_html

BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
FIGURE_BLUE = (31, 119, 180)  # matplotlib's "C0"; nothing else on the page is drawn in it
BROWSER_OWN = "not an origin"  # the net log's initiator of the browser's own background requests


def _render(page: Path, out: Path) -> tuple[str, dict]:
    screenshot, net_log = out / "screenshot.png", out / "net.json"
    result = subprocess.run(
        [
            BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            f"--user-data-dir={out / 'profile'}", "--disable-background-networking", "--disable-extensions",
            "--window-size=1280,1600", f"--screenshot={screenshot}", f"--log-net-log={net_log}",
            "--enable-logging=stderr", "--v=0", page.resolve().as_uri(),
        ],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert screenshot.is_file(), result.stderr[-2000:]
    return result.stderr, json.loads(net_log.read_text())


def _page_requests(net_log: dict) -> list[str]:
    """URLs of every request the page made (the browser's own update and account checks left out)."""
    kinds = {v: k for k, v in net_log["constants"]["logEventTypes"].items()}
    starts = (e.get("params", {}) for e in net_log["events"] if kinds[e["type"]] == "URL_REQUEST_START_JOB")
    return [p["url"] for p in starts if "url" in p and p.get("initiator") != BROWSER_OWN]


@pytest.mark.skipif(BROWSER is None, reason="no headless Chromium installed (Debian: apt-get install chromium)")
def test_report_renders_in_headless_chromium(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    page = write_html(load_runs(two_runs), tmp_path / "report.html", figures=True)
    log, net_log = _render(page, tmp_path)
    assert "CONSOLE" not in log, [line for line in log.splitlines() if "CONSOLE" in line]
    assert [url for url in _page_requests(net_log) if not url.startswith(("file:", "data:"))] == []
    pixels = np.asarray(Image.open(tmp_path / "screenshot.png").convert("RGB"), dtype=np.int16).reshape(-1, 3)
    blue = int((np.abs(pixels - np.array(FIGURE_BLUE)) < 30).all(axis=1).sum())
    not_white = int((pixels.min(axis=1) < 200).sum())
    assert blue > 1000, "no figure drawn"
    assert not_white > 0.03 * len(pixels), "blank page"


@pytest.mark.skipif(BROWSER is None, reason="no headless Chromium installed (Debian: apt-get install chromium)")
def test_the_request_check_sees_an_external_image(tmp_path: Path) -> None:
    page = tmp_path / "leaky.html"
    page.write_text('<!DOCTYPE html><html><body><img src="https://example.invalid/x.png"></body></html>')
    _, net_log = _render(page, tmp_path)
    assert "https://example.invalid/x.png" in _page_requests(net_log)
