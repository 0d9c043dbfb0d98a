"""Round trips with a real Orthanc: store, query, retrieve and the SR, over DICOMweb and DIMSE."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pydicom
import pytest

from ISCMAssistLib import pacs
from ISCMAssistLib.cli import main
from ISCMAssistLib.pacs import ServerConfig

SR_CLASS = "1.2.840.10008.5.1.4.1.1.88.34"


def web(orthanc) -> list[str]:
    return ["--url", orthanc.url, "--user", orthanc.user]


def dimse(orthanc, calling: str | None = None) -> list[str]:
    return ["--dimse", f"127.0.0.1:{orthanc.dicom_port}", "--called-aet", orthanc.aet,
            "--calling-aet", calling or orthanc.client_aet]


def web_config(orthanc) -> ServerConfig:
    return ServerConfig(url=orthanc.url, user=orthanc.user)


def dimse_config(orthanc, move: bool = False) -> ServerConfig:
    return ServerConfig(dimse=f"127.0.0.1:{orthanc.dicom_port}", called_aet=orthanc.aet,
                        calling_aet=orthanc.client_aet, listen_port=orthanc.client_port if move else None)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def uploaded(orthanc, demo_exam, server_password):
    """The demo exam stored on Orthanc over STOW-RS; returns its StudyInstanceUID."""
    result = pacs.store(web_config(orthanc), sorted((demo_exam / "dicom").rglob("*.dcm")))
    assert not result.failed and len(result.stored) == 30
    studies = pacs.find_studies(web_config(orthanc), {"PatientID": "ISCM-SYNTH-0001"})
    assert len(studies) == 1
    return studies[0]["StudyInstanceUID"]


def test_wado_uses_dicomweb_clients_multipart_decoder():
    """The fast retrieve splits the multipart body with dicomweb-client's decoder (without it: a slower path)."""
    from dicomweb_client.api import DICOMwebClient

    assert callable(getattr(DICOMwebClient, "_decode_multipart_message", None))


def test_server_and_tests_reach_only_loopback(orthanc, private_network):
    config = orthanc.config()
    assert all(m["Host"] == "127.0.0.1" for m in config["DicomModalities"].values())
    assert orthanc.url.startswith("http://127.0.0.1:") and config["RemoteAccessAllowed"] is False
    if private_network:
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
        assert [line.split(":")[1].strip() for line in links.splitlines()] == ["lo"]


def test_echo_both_transports(orthanc, pacs_env, capsys):
    assert run_cli(capsys, "pacs", "echo", *web(orthanc))[0] == 0
    code, out, _ = run_cli(capsys, "pacs", "echo", *dimse(orthanc))
    assert code == 0 and "C-ECHO" in out


def test_query_dicomweb_and_dimse(orthanc, uploaded, pacs_env, capsys):
    for transport in (web(orthanc), dimse(orthanc)):
        code, out, _ = run_cli(capsys, "pacs", "query", *transport, "--patient-id", "ISCM-SYNTH-0001", "--json")
        rows = json.loads(out)
        assert code == 0 and [r["StudyInstanceUID"] for r in rows] == [uploaded]
        assert rows[0]["NumberOfStudyRelatedSeries"] == 2
        code, out, _ = run_cli(capsys, "pacs", "query", *transport, "--study-uid", uploaded)
        assert code == 0 and "SAG T2" in out and "SAG T1 POST" in out and uploaded in out
    code, out, _ = run_cli(capsys, "pacs", "query", *web(orthanc), "--patient-id", "NOBODY")
    assert code == 0 and out.startswith("0 studies")


def _series_uid(folder) -> str:
    return str(pydicom.dcmread(next(folder.glob("*.dcm")), stop_before_pixels=True).SeriesInstanceUID)


def _retrieved_folder(out, series_uid: str):
    folders = [p for p in out.glob(f"*/{series_uid}") if p.is_dir()]
    assert len(folders) == 1, f"series {series_uid} not retrieved under {out}"
    return folders[0]


@pytest.mark.parametrize("transport", ["wado", "c-get", "c-move"])
def test_retrieve_gives_identical_volumes(orthanc, uploaded, demo_exam, pacs_env, tmp_path, capsys, transport):
    from ISCMAssistLib.images import load_volume

    options = {"wado": web(orthanc), "c-get": dimse(orthanc),
               "c-move": dimse(orthanc) + ["--listen-port", str(orthanc.client_port)]}[transport]
    code, out, err = run_cli(capsys, "pacs", "retrieve", *options, "--study", uploaded, "--out", str(tmp_path))
    assert code == 0, err
    assert "30 of 30 instances" in out and f"iscm-assist series {tmp_path}" in out
    for name in ("t2", "t1_post"):
        source = load_volume(demo_exam / "dicom" / name)
        copy = load_volume(_retrieved_folder(tmp_path, _series_uid(demo_exam / "dicom" / name)))
        assert copy.array.dtype == source.array.dtype and np.array_equal(copy.array, source.array)
        assert np.array_equal(copy.ijk_to_ras, source.ijk_to_ras)


def test_sr_round_trip(orthanc, uploaded, demo_exam, pacs_env, tmp_path, capsys):
    """Export the SR from the retrieved series, store it (C-STORE), query it back, retrieve it both ways."""
    from ISCMAssistLib.case_io import case_to_json
    from ISCMAssistLib.sr import sr_to_case

    retrieved = tmp_path / "exam"
    assert run_cli(capsys, "pacs", "retrieve", *web(orthanc), "--study", uploaded, "--out", str(retrieved))[0] == 0
    folders = [str(_retrieved_folder(retrieved, _series_uid(demo_exam / "dicom" / n))) for n in ("t2", "t1_post")]
    report = tmp_path / "report.dcm"
    code, _, err = run_cli(capsys, "export-sr", str(demo_exam / "case.json"), "--series", *folders, "--out", str(report))
    assert code == 0, err
    for options in (dimse(orthanc), web(orthanc)):  # C-STORE (the 3D SR's own context), then STOW-RS again
        code, out, err = run_cli(capsys, "pacs", "store", *options, str(report))
        assert code == 0 and "1 of 1 instance(s) stored" in out, err
    code, out, _ = run_cli(capsys, "pacs", "query", *web(orthanc), "--study-uid", uploaded, "--modality", "SR", "--json")
    rows = json.loads(out)
    assert code == 0 and [r["Modality"] for r in rows] == ["SR"]
    from ISCMAssistLib.case_io import load_case

    expected = case_to_json(sr_to_case(report))
    assert expected == case_to_json(load_case(demo_exam / "case.json"))  # the demo's read, whole
    for options in (dimse(orthanc), web(orthanc)):  # C-GET (SCP role for the 3D SR class) and WADO-RS
        folder = tmp_path / f"back-{options[0].strip('-')}"
        code, _, err = run_cli(capsys, "pacs", "retrieve", *options, "--study", uploaded,
                               "--series", rows[0]["SeriesInstanceUID"], "--out", str(folder))
        assert code == 0, err
        (sr_file,) = folder.rglob("*.dcm")
        assert pydicom.dcmread(sr_file).SOPClassUID == SR_CLASS
        code, out, err = run_cli(capsys, "import-sr", str(sr_file))
        assert code == 0 and out == expected, err
    sent, back = pydicom.dcmread(report), pydicom.dcmread(next((tmp_path / "back-dimse").rglob("*.dcm")))
    assert back == sent  # every data element equal (the file meta is the PACS's own)


def test_wrong_credentials_refused_in_one_line(orthanc, uploaded, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("ISCM_PACS_PASSWORD", "not-the-password")
    code, out, err = run_cli(capsys, "pacs", "query", *web(orthanc))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "refused the credentials (HTTP 401" in err and "not-the-password" not in err
    monkeypatch.delenv("ISCM_PACS_PASSWORD")
    code, _, err = run_cli(capsys, "pacs", "echo", *web(orthanc))
    assert code == 2 and "no password; set ISCM_PACS_PASSWORD or give --password-file" in err
    code, _, err = run_cli(capsys, "pacs", "echo", "--url", orthanc.url)
    assert code == 2 and "HTTP 401" in err
    secret = tmp_path / "password"
    secret.write_text(orthanc.password + "\n")
    assert run_cli(capsys, "pacs", "echo", *web(orthanc), "--password-file", str(secret))[0] == 0


@pytest.mark.parametrize("given", [["--password", "hunter2"], ["--password=hunter2"], ["--pass=hunter2"],
                                   ["--passwd", "hunter2"], ["--pw", "hunter2"]])
def test_password_never_taken_from_the_command_line(capsys, given):
    with pytest.raises(SystemExit) as stop:
        main(["pacs", "echo", "--url", "http://127.0.0.1:9/dicom-web", *given])
    _, err = capsys.readouterr()
    assert stop.value.code == 2 and "hunter2" not in err and "ISCM_PACS_PASSWORD" in err


def test_unknown_ae_refused(orthanc, pacs_env, capsys):
    for action in ("echo", "query"):
        code, out, err = run_cli(capsys, "pacs", action, *dimse(orthanc, calling="NOBODY"))
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
        assert "refused the association" in err
    wrong_called = ["--dimse", f"127.0.0.1:{orthanc.dicom_port}", "--called-aet", "NOTORTHANC",
                    "--calling-aet", orthanc.client_aet]
    assert "refused the association" in run_cli(capsys, "pacs", "echo", *wrong_called)[2]


def test_unreachable_server_one_line(private_network, demo_exam, tmp_path, capsys):
    from orthanc_server import free_port

    port = free_port()
    one_file = str(next((demo_exam / "dicom" / "t2").glob("*.dcm")))
    for options in (["--url", f"http://127.0.0.1:{port}/dicom-web"], ["--dimse", f"127.0.0.1:{port}", "--called-aet", "X"]):
        for action in (["echo"], ["query"], ["retrieve", "--study", "1.2.3", "--out", str(tmp_path / "out")],
                       ["store", one_file]):
            code, out, err = run_cli(capsys, "pacs", action[0], *options, *action[1:])
            assert code == 2 and out == "" and len(err.splitlines()) == 1, (action, err)
            assert "cannot reach" in err and "connection refused" in err
    assert not (tmp_path / "out").exists()  # nothing written where nothing came


def test_plain_http_off_loopback_needs_insecure(capsys):
    code, _, err = run_cli(capsys, "pacs", "echo", "--url", "http://192.0.2.1/dicom-web")
    assert code == 2 and "--insecure" in err
    config = pacs.check_server(ServerConfig(url="http://192.0.2.1/dicom-web", insecure=True))
    assert config.warnings and "unencrypted" in config.warnings[0]


def test_partial_retrieve_lists_missing(orthanc, uploaded, demo_exam, pacs_env, tmp_path, capsys, monkeypatch):
    """A PACS that lists one instance more per series than it sends (a ghost): the retrieve names it."""
    from ISCMAssistLib.pacs import dicomweb

    real_series, real_instances = dicomweb.find_series, dicomweb.find_instances
    ghost = "1.2.3.999.1"

    def one_more(config, study_uid, filters=None):
        return [dict(row, NumberOfSeriesRelatedInstances=row["NumberOfSeriesRelatedInstances"] + 1)
                for row in real_series(config, study_uid, filters)]

    def with_ghost(config, study_uid, series_uid):
        return real_instances(config, study_uid, series_uid) + [{"SOPInstanceUID": ghost, "SeriesInstanceUID": series_uid}]

    monkeypatch.setattr(dicomweb, "find_series", one_more)
    monkeypatch.setattr(dicomweb, "find_instances", with_ghost)
    series = [_series_uid(demo_exam / "dicom" / name) for name in ("t2", "t1_post")]
    code, out, err = run_cli(capsys, "pacs", "retrieve", *web(orthanc), "--study", uploaded, "--series", *series,
                             "--out", str(tmp_path))
    assert code == 1 and "30 of 32 instances" in out
    assert "partial retrieve, 2 instance(s) missing" in err and f"instance {ghost}" in err


def test_failed_stow_instance_named(orthanc, pacs_env, demo_exam, tmp_path, capsys):
    broken = pydicom.dcmread(next((demo_exam / "dicom" / "t2").glob("*.dcm")))
    del broken.StudyInstanceUID
    broken.SOPInstanceUID = pydicom.uid.generate_uid()
    bad = tmp_path / "no-study-uid.dcm"
    broken.save_as(bad)
    not_dicom = tmp_path / "notes.txt"
    not_dicom.write_text("not DICOM")
    code, out, err = run_cli(capsys, "pacs", "store", *web(orthanc), str(bad), str(not_dicom))
    assert code == 1 and "0 of 2 instance(s) stored" in out
    assert f"{not_dicom}: not a DICOM file" in err and f"{bad}:" in err


def test_store_file_with_a_server_file(orthanc, pacs_env, demo_exam, tmp_path):
    """What the Slicer module's "Send SR to PACS" calls: a file and the configured server."""
    server = tmp_path / "server.json"
    server.write_text(json.dumps({"url": orthanc.url, "user": orthanc.user}))
    first = next((demo_exam / "dicom" / "t2").glob("*.dcm"))
    assert pacs.store_file(server, first).endswith(f"stored on {orthanc.url}")
    server.write_text(json.dumps({"url": orthanc.url, "user": orthanc.user, "password": "x"}))
    with pytest.raises(pacs.PacsError, match="holds a password"):
        pacs.store_file(server, first)


def test_password_never_logged_even_at_debug(orthanc, pacs_env, caplog):
    """pynetdicom logs the user identity of an association at DEBUG; the password is hidden there."""
    import logging

    with caplog.at_level(logging.DEBUG):
        assert main(["pacs", "echo", *dimse(orthanc), "--user", orthanc.user]) == 0
        assert main(["pacs", "echo", *web(orthanc)]) == 0
    assert "Password: [hidden]" in caplog.text and orthanc.password not in caplog.text
