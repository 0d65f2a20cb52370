"""The `mm validate` HTML report in a real browser (Debian's chromium via playwright): every figure loads, no console
errors, no request leaves the report. Skipped (with the reason) where chromium or playwright is absent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("MM_CHROMIUM", "/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
REF_DIR = REPO / ".." / "shared" / "data" / "reference"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).is_file(),
    reason=f"no chromium at {CHROMIUM} (apt-get install chromium, or set MM_CHROMIUM)",
)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`mm validate` on a MyoFullBody walk made from the normative gait curves: the real command, its real report."""
    if not (REF_DIR / "schwartz2008_walking.csv").is_file():
        pytest.skip(f"reference gait data absent: {REF_DIR}")
    from mm_validate.reference import load_reference
    from mm_validate.synthetic import synthetic_walk

    tmp = tmp_path_factory.mktemp("validate")
    clip = synthetic_walk("myofullbody-nofingers", load_reference("schwartz2008-walking-free", REF_DIR))
    clip.save(tmp / "walk.npz")
    out = tmp / "report"
    cmd = [sys.executable, "-m", "mm_core.cli", "validate", "--motion", str(tmp / "walk.npz"),
           "--reference", "schwartz2008-walking-free", "--reference-dir", str(REF_DIR), "--out", str(out),
           "--events", "zeni"]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    html = out / "report.html"
    assert html.is_file(), (
        f"mm validate wrote no report.html in {out}: {sorted(p.name for p in out.iterdir())}"
    )
    return html


def test_validate_report_loads_every_figure_offline(report: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page()
        errors: list[str] = []
        requests: list[str] = []
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => ({src: e.src.slice(0, 60), ok: e.complete && e.naturalWidth > 0}))"
        )
        browser.close()
    assert images, "the report shows no figure"
    broken = [i["src"] for i in images if not i["ok"]]
    assert not broken, f"figures that did not load: {broken}"
    assert not errors, f"console errors: {errors}"
    # Only the report itself and what it embeds (data: URIs) or ships beside it in its folder.
    outside = [u for u in requests if not (u.startswith("data:") or u.startswith(report.parent.as_uri()))]
    assert not outside, f"the report fetches from elsewhere: {outside}"
