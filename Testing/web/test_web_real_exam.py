"""The web panel on a real exam folder: the tutorial's real lumbar T2 (shared data), its series
proposed and shown, then Propose levels from the panel."""

from __future__ import annotations

import time

import pytest
from web_panel_server import require_web_tools, start_panel, stop_panel


@pytest.fixture(scope="module")
def exam_panel(shared_data, tmp_path_factory):
    """``iscm-assist web TUTORIAL_FOLDER`` (real sagittal T2 scans, NIfTI); nothing is written there."""
    require_web_tools()
    exam = shared_data / "tutorial"
    if not exam.is_dir():
        pytest.skip(f"{exam}: the tutorial scans are not there")
    server = start_panel([str(exam)], tmp_path_factory.mktemp("web-exam") / "out")
    try:
        yield server
    finally:
        stop_panel(server)


def test_real_exam_shows_a_series_and_proposes_levels(exam_panel, browser, tmp_path):
    from matplotlib.image import imread

    tab = browser.new_page(viewport={"width": 1600, "height": 1000})
    try:
        tab.goto(exam_panel.url + "/index.html")
        tab.wait_for_function("window.trame && window.trame.state"
                              " && (window.trame.state.get('series_choices') || []).length > 0", timeout=60_000)
        tab.locator("#views img").first.wait_for(timeout=60_000)
        time.sleep(1.5)
        tab.locator("#views img").first.screenshot(path=str(tmp_path / "sagittal.png"))
        pixels = imread(str(tmp_path / "sagittal.png"))[..., :3]
        assert pixels.std() > 0.05, "the real T2 is not shown"
        tab.click("#propose-levels")
        tab.wait_for_function("(window.trame.state.get('level_points') || []).length >= 3", timeout=120_000)
        labels = [point["label"] for point in tab.evaluate("window.trame.state.get('level_points')")]
        assert any(label.startswith("L") for label in labels), labels
        assert not tab.evaluate("window.trame.state.get('error')")
    finally:
        tab.close()
