"""A PACS that has lost an instance's file: the retrieve brings the rest and names the one missing."""

from __future__ import annotations

import pydicom
import pytest

from ISCMAssistLib import pacs
from ISCMAssistLib.cli import main
from ISCMAssistLib.pacs import ServerConfig


@pytest.fixture(scope="module")
def damaged(orthanc, demo_exam, server_password):
    """The demo T2 on Orthanc with the stored file of one instance deleted; returns (study, series, lost SOP UID)."""
    files = sorted((demo_exam / "dicom" / "t2").glob("*.dcm"))
    assert not pacs.store(ServerConfig(url=orthanc.url, user=orthanc.user), files).failed
    lost = pydicom.dcmread(files[7], stop_before_pixels=True)
    (instance,) = orthanc.rest("POST", "/tools/lookup", data=str(lost.SOPInstanceUID)).json()
    uuid = orthanc.rest("GET", f"/instances/{instance['ID']}/attachments/dicom/info").json()["Uuid"]
    stored = orthanc.folder / "storage" / uuid[:2] / uuid[2:4] / uuid
    stored.unlink()
    return str(lost.StudyInstanceUID), str(lost.SeriesInstanceUID), str(lost.SOPInstanceUID)


@pytest.mark.parametrize("transport", ["wado", "c-get"])
def test_partial_retrieve_names_the_lost_instance(orthanc, damaged, pacs_env, tmp_path, capsys, transport):
    study, series, lost = damaged
    options = (["--url", orthanc.url, "--user", orthanc.user] if transport == "wado" else
               ["--dimse", f"127.0.0.1:{orthanc.dicom_port}", "--called-aet", orthanc.aet,
                "--calling-aet", orthanc.client_aet])
    code = main(["pacs", "retrieve", *options, "--study", study, "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 1, err
    assert "partial retrieve" in err
    received = {pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in tmp_path.rglob("*.dcm")}
    assert lost not in received
    if transport == "c-get":  # Orthanc stops the C-GET at the lost file: C-FIND names every instance not sent
        assert f"{len(received)} of 15 instances" in out and f"series {series} instance {lost}" in err
        assert f"partial retrieve, {15 - len(received)} instance(s) missing" in err
    else:  # Orthanc's DICOMweb cannot list a series with a lost file: we say what is missing, unnamed
        assert f"series {series}: " in err and "instance(s) the PACS could not name" in err
        assert "the PACS cannot list the instances of series" in err
