"""The module's "Send SR to PACS": the read's SR goes to pacs.store_file with the configured server file."""

from __future__ import annotations

import pytest

from ISCMAssistLib import pacs


def test_send_sr_to_pacs_stores_the_written_sr(dicom_read, tmp_path, monkeypatch):
    logic, _ = dicom_read
    sent = {}

    def fake_store(server, path):
        sent["server"], sent["bytes"] = server, path.read_bytes()
        return f"{path.name} stored on the test PACS"

    monkeypatch.setattr(pacs, "store_file", fake_store)
    line = logic.sendSRToPACS(tmp_path / "server.json")
    assert line.endswith("stored on the test PACS") and sent["server"] == tmp_path / "server.json"
    assert sent["bytes"][128:132] == b"DICM"


def test_send_sr_to_pacs_without_dicom_says_why(logic, tmp_path):
    with pytest.raises(ValueError, match="no series was loaded from DICOM"):
        logic.sendSRToPACS(tmp_path / "server.json")


def test_final_export_is_verified_and_the_next_names_it(dicom_read, tmp_path):
    import pydicom

    logic, _ = dicom_read
    logic.setCaseInfo(readerName="Reader One")
    first = logic.exportRead(tmp_path / "out", final=True)
    assert set(first) >= {"case", "csv", "report", "sr"}
    assert pydicom.dcmread(first["sr"]).VerificationFlag == "VERIFIED"
    second = logic.exportRead(tmp_path / "out")
    assert second["sr"] != first["sr"]
    later = pydicom.dcmread(second["sr"])
    assert later.VerificationFlag == "UNVERIFIED" and "PredecessorDocumentsSequence" in later
