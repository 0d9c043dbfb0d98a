"""The web panel's PACS path (``iscm-assist web --pacs URL --study UID``): the study is retrieved into
the panel's output folder and opened, and the read's SR goes back to the same PACS (real Orthanc)."""

from __future__ import annotations

import pydicom
import pytest

from ISCMAssistLib import ingest, pacs
from ISCMAssistLib.pacs import ServerConfig


@pytest.fixture(scope="module")
def stored_demo(orthanc, demo_exam, server_password):
    files = [path for folder in ("t2", "t1_post") for path in sorted((demo_exam / "dicom" / folder).glob("*.dcm"))]
    assert not pacs.store(ServerConfig(url=orthanc.url, user=orthanc.user), files).failed
    return pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID


def test_web_opens_a_pacs_study_and_sends_the_sr_back(orthanc, stored_demo, demo_exam, pacs_env, tmp_path):
    pytest.importorskip("slicer")
    from ISCMAssistLib.scene.headless import create_headless_context
    from ISCMAssistLib.scene.logic import ISCMAssistLogic
    from ISCMAssistLib.web.pacs_exam import retrieve_exam

    exam, server_file = retrieve_exam(orthanc.url, stored_demo, tmp_path / "out", user=orthanc.user)
    assert exam.is_relative_to(tmp_path / "out" / "pacs") and "password" not in server_file.read_text()
    assert {s.uid for s in ingest.scan_folder(exam).studies} == {stored_demo}

    context = create_headless_context()
    logic = ISCMAssistLogic(context.scene, context.logics)
    try:
        logic.openExam(exam)
        logic.openCaseFile(demo_exam / "case.json")
        line = logic.sendSRToPACS(server_file)
    finally:
        logic.cleanup()
        context.close()
    assert "stored" in line
    config = ServerConfig(url=orthanc.url, user=orthanc.user)
    series = pacs.find_series(config, stored_demo)
    assert any(row.get("Modality") == "SR" for row in series)


def test_web_refuses_a_study_the_pacs_does_not_have(orthanc, pacs_env, tmp_path):
    from ISCMAssistLib.web.pacs_exam import retrieve_exam

    with pytest.raises(pacs.PacsError):
        retrieve_exam(orthanc.url, "1.2.3.4.5.6.7.8.9", tmp_path / "out", user=orthanc.user)
