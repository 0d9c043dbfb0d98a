"""A research session in the web panel: the worklist and progress, the current case's series in the
views, autosave of the read, Mark done and Next case (the core session's rules)."""

from __future__ import annotations

import time

import nibabel as nib
import numpy as np
import pytest
from web_panel_server import require_web_tools, start_panel, stop_panel

from ISCMAssistLib import session as sessionmod


def _write_nifti(volume, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(volume.array).transpose(2, 1, 0), volume.ijk_to_ras), str(path))
    return path


@pytest.fixture(scope="module")
def session_panel(tmp_path_factory):
    """A two-case session on the phantom's series, opened in the panel as reader1."""
    require_web_tools()
    from ISCMAssistLib.phantom import make_spine_phantom

    root = tmp_path_factory.mktemp("web-session")
    phantom = make_spine_phantom("thoracic", curvature_mm=0.0, noise=0.0)
    t2 = _write_nifti(phantom.t2, root / "data" / "t2.nii.gz")
    t1 = _write_nifti(phantom.t1_post, root / "data" / "t1_post.nii.gz")
    (root / "cases.csv").write_text("case_id,role,path\n"
                                    f"case-001,t2_sagittal,{t2}\ncase-001,t1_post,{t1}\n"
                                    f"case-002,t2_sagittal,{t2}\n")
    sessionmod.create_session(root / "sess", root / "cases.csv", "reader1")
    server = start_panel(["--session", str(root / "sess"), "--reader", "reader1"], root / "out")
    server.session_dir = root / "sess"
    try:
        yield server
    finally:
        stop_panel(server)


def _worklist(tab) -> dict[str, str]:
    rows = tab.locator("#worklist tr").all()
    return {row.locator("td").nth(0).inner_text(): row.locator("td").nth(1).inner_text() for row in rows}


def _wait(condition, what: str, timeout_s: float = 30.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout_s} s")


def test_session_worklist_autosave_and_mark_done(session_panel, browser):
    tab = browser.new_page(viewport={"width": 1600, "height": 1000})
    try:
        tab.goto(session_panel.url + "/index.html")
        tab.wait_for_selector("#tab-session", timeout=60_000)
        tab.click("#tab-session")
        tab.wait_for_selector("#worklist tr")
        assert _worklist(tab) == {"case-001": "in_progress", "case-002": "unread"}
        assert "reader1: 0 of 2 read" in tab.inner_text("#session-progress")
        tab.locator("#views img").first.wait_for(timeout=60_000)

        tab.evaluate("window.trame.state.set('panel_tab', 'read')")
        tab.click("#add-lesion")
        session = sessionmod.open_session(session_panel.session_dir)
        _wait(lambda: [lesion["id"] for lesion in session.load_read("reader1", "case-001")["lesions"]] == ["L1"],
              "the autosaved session read")

        tab.click("#tab-session")
        tab.click("#mark-done")
        _wait(lambda: _worklist(tab).get("case-001") == "done", "case-001 done")
        assert session.status("reader1", "case-001") == "done"
        _wait(lambda: tab.evaluate("window.trame.state.get('session_case')") == "case-002", "the next case")
        assert "reader1: 1 of 2 read" in tab.inner_text("#session-progress")
        assert len(tab.locator("#lesion-table tr").all()) == 1  # case-002 has no lesion yet
    finally:
        tab.close()
