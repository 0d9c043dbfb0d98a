"""The web panel in a real browser: the demo read, placing and dragging with the mouse, the checklist,
the SR download and a page reload. The tests run in file order on one server (module fixture).

Expected values are the demo phantom's truth: lesion T4-T5, 2 segments, SI 17 mm, edema 5 segments.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

SI_COLUMN = "SI size (mm)"
EDEMA_COLUMN = "Length of cord T2 hyperintensity (segments)"
ENHANCEMENT_COLUMN = "Length of enhancement (segments)"


@pytest.fixture(scope="module")
def page(demo_panel, browser):
    """One browser tab on the demo panel, 1600x1000 CSS pixels."""
    tab = browser.new_page(viewport={"width": 1600, "height": 1000})
    open_panel(tab, demo_panel.url)
    yield tab
    tab.close()


def open_panel(tab, url: str) -> None:
    """Load the panel and wait until the lesion table has a row and the views have an image."""
    tab.goto(url + "/index.html")
    tab.wait_for_selector("#lesion-table tr:nth-child(2)", timeout=60_000)
    tab.wait_for_function("window.trame && window.trame.state"
                          " && (window.trame.state.get('view_geometry') || {}).sagittal", timeout=60_000)
    tab.locator("#views img").first.wait_for(timeout=60_000)
    time.sleep(1.0)  # first frames


def table(tab) -> list[dict[str, str]]:
    """Return the lesion table as {column: cell text} per row."""
    return tab.evaluate("""() => {
        const rows = [...document.querySelectorAll('#lesion-table tr')];
        const head = [...rows[0].querySelectorAll('th')].map(c => c.innerText.trim());
        return rows.slice(1).map(r => Object.fromEntries(
            [...r.querySelectorAll('td')].map((c, i) => [head[i], c.innerText.trim()])));
    }""")


def wait_for(condition, timeout_s: float = 30.0, what: str = "the panel"):
    """Poll ``condition()`` until it returns a true value; return it, or fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what}: not updated within {timeout_s} s")


def view_box(tab, view: str):
    """Return the bounding box of a view's image (view 0 = sagittal, 1 = axial)."""
    return tab.locator("#views img").nth({"sagittal": 0, "axial": 1}[view]).bounding_box()


def screen_to_ras(tab, view: str, x: float, y: float) -> np.ndarray:
    """Page pixel -> RAS mm through the view's XY->RAS matrix (VTK's y runs up)."""
    geometry = tab.evaluate("window.trame.state.get('view_geometry')")[view]
    box = view_box(tab, view)
    matrix = np.array(geometry["xy_to_ras"]).reshape(4, 4)
    xy = np.array([x - box["x"], geometry["height"] - (y - box["y"]), 0.0, 1.0])
    return (matrix @ xy)[:3]


def ras_to_screen(tab, view: str, ras) -> tuple[float, float]:
    """RAS mm -> page pixel of a view (inverse of :func:`screen_to_ras`)."""
    geometry = tab.evaluate("window.trame.state.get('view_geometry')")[view]
    box = view_box(tab, view)
    matrix = np.linalg.inv(np.array(geometry["xy_to_ras"]).reshape(4, 4))
    x, y, _z, _w = matrix @ np.array([*ras, 1.0])
    return box["x"] + x, box["y"] + geometry["height"] - y


def test_demo_read_shows_levels_segments_and_size(page):
    rows = table(page)
    assert rows[0]["Levels"] == "T4-T5"
    assert rows[0][ENHANCEMENT_COLUMN] == "2"
    assert float(rows[0][SI_COLUMN]) == pytest.approx(17.0, abs=0.05)
    assert "research use" in page.inner_text("#research-label")
    assert page.locator("#hints .hint").count() >= 1


def test_views_are_rendered_not_black(page, tmp_path):
    from matplotlib.image import imread

    for view in ("sagittal", "axial"):
        path = tmp_path / f"{view}.png"
        page.locator("#views img").nth({"sagittal": 0, "axial": 1}[view]).screenshot(path=str(path))
        pixels = imread(str(path))[..., :3]
        assert pixels.mean() > 0.05 and pixels.std() > 0.05, f"{view} view looks blank"


@pytest.fixture(autouse=True)
def screenshot_on_failure(request, tmp_path_factory):
    """Keep a screenshot of the page when a test fails (path in the failure report)."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and "page" in request.fixturenames:
        path = tmp_path_factory.getbasetemp() / f"{request.node.name}.png"
        request.getfixturevalue("page").screenshot(path=str(path))
        print(f"screenshot: {path}")


def test_click_two_points_places_si_line_of_new_lesion(page):
    page.click("#add-lesion")
    wait_for(lambda: page.evaluate("window.trame.state.get('active_lesion')") == "L2", what="active lesion L2")
    page.click("#place-lesion_si")
    wait_for(lambda: page.evaluate("window.trame.state.get('placing')"), what="place mode")
    box = view_box(page, "sagittal")
    x = box["x"] + box["width"] * 0.5
    y1, y2 = box["y"] + box["height"] * 0.62, box["y"] + box["height"] * 0.62 + 40
    for y in (y1, y2):
        page.mouse.move(x, y)
        time.sleep(0.3)
        page.mouse.click(x, y)
        time.sleep(0.5)
    clicked_mm = float(np.linalg.norm(screen_to_ras(page, "sagittal", x, y1) - screen_to_ras(page, "sagittal", x, y2)))
    rows = wait_for(lambda: [r for r in table(page) if r["Lesion ID"] == "L2" and r[SI_COLUMN]],
                    what="the new lesion's SI size")
    assert float(rows[0][SI_COLUMN]) == pytest.approx(clicked_mm, abs=1.0)


def test_drag_edema_end_across_a_disc_changes_segment_count(page, demo_panel):
    case = json.loads((demo_panel.out / "demo" / "case.json").read_text())
    ends_lps = np.array(case["lesions"][0]["lines_lps"]["edema_si"], dtype=float)
    ends_ras = ends_lps * [-1.0, -1.0, 1.0]
    lower = ends_ras[np.argmin(ends_ras[:, 2])]
    before = next(r for r in table(page) if r["Lesion ID"] == "L1")[EDEMA_COLUMN]
    page.evaluate("window.trame.state.set('active_lesion', 'L1')")
    if page.is_enabled("#stop-placing"):
        page.click("#stop-placing")
    x, y = ras_to_screen(page, "sagittal", lower)
    mm_per_pixel = page.evaluate("window.trame.state.get('view_geometry')")["sagittal"]["mm_per_pixel"]
    page.mouse.move(x, y)
    time.sleep(0.5)
    page.mouse.down()
    steps = int(30.0 / mm_per_pixel / 5)  # 30 mm up: across at least one disc
    for step in range(1, steps + 1):
        page.mouse.move(x, y - 5 * step)
        time.sleep(0.03)
    page.mouse.up()
    after = wait_for(lambda: (lambda r: r[EDEMA_COLUMN] if r[EDEMA_COLUMN] != before else None)(
        next(r for r in table(page) if r["Lesion ID"] == "L1")), what="the edema segment count")
    assert int(after) < int(before)


def checklist_row(tab, section: str, label: str):
    """Return the checklist row (a locator) of ``section`` whose label starts with ``label``."""
    return tab.locator(f"#checklist-{section} tr").filter(has_text=label).first


def hint_texts(tab) -> list[str]:
    """Return the hints' texts as shown."""
    return [text.strip() for text in tab.locator("#hints .hint-text").all_inner_texts()]


def test_checklist_value_becomes_reader_and_changes_hints(page):
    page.evaluate("window.trame.state.set('active_lesion', 'L1')")
    page.click("#tab-checklist")
    row = checklist_row(page, "lesion", "Length of cord T2 hyperintensity")
    row.wait_for()
    before = hint_texts(page)
    assert any("cord T2 hyperintensity over" in text for text in before)
    field = row.locator("input")
    field.fill("1")
    field.press("Enter")
    wait_for(lambda: "reader" in row.locator("td").nth(2).inner_text(), what="the value's source")
    after = wait_for(lambda: (lambda h: h if h != before else None)(hint_texts(page)), what="the hints")
    assert not any("cord T2 hyperintensity over" in text for text in after)
    edema = next(r for r in table(page) if r["Lesion ID"] == "L1")[EDEMA_COLUMN]
    assert edema == "1"
    kinds = page.locator("#hints .hint-kind").all_inner_texts()
    assert set(kinds) <= {"prevalence", "comparative", "prompt"} and kinds
    assert "not a probability" in page.locator("#hints-explanation").inner_text() or \
        "no hint is a" in page.locator("#hints-explanation").inner_text()


def test_export_sr_gives_a_download(page, tmp_path):
    import pydicom

    page.click("#tab-files")
    page.click("#export")
    link = page.locator("#downloads a", has_text="_sr.dcm").first
    link.wait_for(timeout=60_000)
    for suffix in (".json", "_lesions.csv", ".mrk.json"):
        assert page.locator("#downloads a", has_text=suffix).count() >= 1, suffix
    with page.expect_download() as download_info:
        link.click()
    path = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(path)
    dataset = pydicom.dcmread(path)
    assert dataset.Modality == "SR"
    assert path.name.endswith("_sr.dcm")


def test_a_final_read_needs_its_reader_and_is_verified(page, demo_panel):
    import pydicom

    page.click("#tab-files")
    page.locator("#read-final").check()
    page.click("#export")
    error = page.locator("#error-line")
    def verdict():
        return (error.count() and "reader" in error.inner_text().lower()) or _newest_sr(demo_panel)

    wait_for(verdict, what="a verdict")
    if error.count() and "reader" in error.inner_text().lower():  # the demo read names no reader: final is refused, says why
        assert "final" in error.inner_text().lower()
    else:
        assert pydicom.dcmread(_newest_sr(demo_panel)).VerificationFlag == "VERIFIED"
    page.locator("#read-final").uncheck()


def _newest_sr(panel):
    found = sorted((panel.out / "exports").glob("*_sr*.dcm"), key=lambda path: path.stat().st_mtime)
    verified = [path for path in found if pydicom_flag(path) == "VERIFIED"]
    return verified[-1] if verified else None


def pydicom_flag(path):
    import pydicom

    return pydicom.dcmread(path, stop_before_pixels=True).get("VerificationFlag")


def test_reload_keeps_the_read(page, demo_panel):
    page.reload()
    open_panel(page, demo_panel.url)
    rows = {r["Lesion ID"]: r for r in table(page)}
    assert set(rows) == {"L1", "L2"}
    assert rows["L1"][EDEMA_COLUMN] == "1" and rows["L2"][SI_COLUMN]
    wait_for(lambda: (demo_panel.out / "read" / "iscm-assist-read.json").is_file(), what="the autosave")
    saved = json.loads((demo_panel.out / "read" / "case.json").read_text())
    assert [lesion["id"] for lesion in saved["lesions"]] == ["L1", "L2"]


def test_undo_puts_back_the_last_change(page):
    page.evaluate("window.trame.state.set('panel_tab', 'read')")
    count = len(table(page))
    page.click("#add-lesion")
    wait_for(lambda: len(table(page)) == count + 1, what="one more lesion")
    time.sleep(1.0)  # the change settles into one undo step
    page.click("#undo")
    wait_for(lambda: len(table(page)) == count, what="undo")


def test_place_level_point_takes_the_proposed_next_label(page):
    page.evaluate("window.trame.state.set('panel_tab', 'read')")
    count = len(page.evaluate("window.trame.state.get('level_points')"))
    page.click("#place-levels")
    wait_for(lambda: page.evaluate("window.trame.state.get('next_level_label')") == "L1/L2",
             what="the proposed next label")
    box = view_box(page, "sagittal")
    x, y = box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.88  # above the slice slider
    page.mouse.move(x, y)
    time.sleep(0.3)
    page.mouse.click(x, y)
    points = wait_for(lambda: (lambda p: p if len(p) == count + 1 else None)(
        page.evaluate("window.trame.state.get('level_points')")), what="the new level point")
    assert points[-1]["label"] == "L1/L2"
    assert page.evaluate("window.trame.state.get('next_level_label')") == "L2"
    page.click("#stop-placing")
    page.locator("#level-points .v-chip").last.locator("button, .v-chip__close").first.click()
    wait_for(lambda: len(page.evaluate("window.trame.state.get('level_points')")) == count, what="deleting it")
    time.sleep(0.5)
    assert not page.evaluate("window.trame.state.get('error')")


def test_delete_key_removes_the_point_under_the_mouse(page):
    """As in Slicer: click a point (the view takes the keyboard), press Delete."""
    page.evaluate("window.trame.state.set('panel_tab', 'read')")
    count = len(page.evaluate("window.trame.state.get('level_points')"))
    page.click("#place-levels")
    box = view_box(page, "sagittal")
    x, y = box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.88
    page.mouse.move(x, y)
    time.sleep(0.3)
    page.mouse.click(x, y)
    wait_for(lambda: len(page.evaluate("window.trame.state.get('level_points')")) == count + 1, what="the new point")
    page.click("#stop-placing")
    page.mouse.move(x + 5, y)
    time.sleep(0.2)
    page.mouse.move(x, y)
    time.sleep(0.3)
    page.mouse.click(x, y)
    time.sleep(0.5)
    assert len(page.evaluate("window.trame.state.get('level_points')")) == count + 1  # a click deletes nothing
    page.keyboard.press("Delete")
    wait_for(lambda: len(page.evaluate("window.trame.state.get('level_points')")) == count, what="Delete")


def test_save_and_open_stay_inside_the_panel_folders(page, demo_panel):
    page.evaluate("window.trame.state.set('panel_tab', 'files')")
    lesions = sorted(r["Lesion ID"] for r in table(page))
    page.evaluate("window.trame.state.set('error', '')")
    page.fill("#read-folder", "/etc/iscm-read")
    page.click("#save-read")
    error = wait_for(lambda: page.evaluate("window.trame.state.get('error')"), what="the refusal")
    assert "outside the folders" in error and not (demo_panel.out.parent / "etc").exists()
    copy = demo_panel.out / "read-copy"
    page.fill("#read-folder", str(copy))
    page.click("#save-read")
    wait_for(lambda: (copy / "iscm-assist-read.json").is_file(), what="the saved read folder")
    page.click("#open-read")
    wait_for(lambda: "Opened" in page.inner_text("#progress-text"), what="the opened read")
    assert sorted(r["Lesion ID"] for r in table(page)) == lesions
