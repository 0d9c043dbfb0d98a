"""Where readers use the PACS: a research session naming PACS series, and several studies from one patient."""

from __future__ import annotations

import json

import pydicom
import pytest

from ISCMAssistLib import ingest, pacs
from ISCMAssistLib.cli import main
from ISCMAssistLib.pacs import ServerConfig


def _store_demo(orthanc, folders) -> None:
    result = pacs.store(ServerConfig(url=orthanc.url, user=orthanc.user), [p for f in folders for p in sorted(f.glob("*.dcm"))])
    assert not result.failed


def _as_another_study(source, folder, study_uid: str, date: str) -> None:
    """Copy a demo series as a series of another study of the same patient (new UIDs, another date)."""
    folder.mkdir(parents=True)
    series_uid = pydicom.uid.generate_uid()
    for path in sorted(source.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.StudyDate = study_uid, series_uid, date
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
        ds.save_as(folder / path.name)


@pytest.fixture(scope="module")
def two_studies(orthanc, demo_exam, tmp_path_factory, server_password):
    """The demo exam and a later study of the same patient (its T2 again), both on Orthanc."""
    later = tmp_path_factory.mktemp("later")
    _as_another_study(demo_exam / "dicom" / "t2", later / "t2", "1.2.826.0.1.3680043.8.498.777", "20260301")
    _store_demo(orthanc, [demo_exam / "dicom" / "t2", demo_exam / "dicom" / "t1_post", later / "t2"])
    return [row["StudyInstanceUID"] for row in pacs.find_studies(ServerConfig(url=orthanc.url, user=orthanc.user),
                                                                 {"PatientID": "ISCM-SYNTH-0001"})]


def test_multi_study_upload_is_listed_as_separate_studies(orthanc, two_studies, pacs_env, tmp_path, capsys):
    assert len(two_studies) == 2 and "1.2.826.0.1.3680043.8.498.777" in two_studies
    options = ["--url", orthanc.url, "--user", orthanc.user]
    code, out, _ = main(["pacs", "query", *options, "--patient-id", "ISCM-SYNTH-0001"]), *capsys.readouterr()
    assert code == 0 and out.startswith("2 studies") and all(uid in out for uid in two_studies)
    for uid in two_studies:
        assert main(["pacs", "retrieve", *options, "--study", uid, "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    scan = ingest.scan_folder(tmp_path)
    assert sorted(s.uid for s in scan.studies) == sorted(two_studies)
    assert main(["series", str(tmp_path)]) == 2  # both have spine series: the reader chooses
    out, err = capsys.readouterr()
    assert "2 studies in one folder, 2 with spine series: choose one by its StudyInstanceUID or index: give --study" in err
    assert "1:2  SAG T2" in out and "2:2  SAG T2" in out
    assert main(["series", str(tmp_path), "--study", "1"]) == 0
    assert "T1 sagittal post-contrast   1:5 SAG T1 POST" in capsys.readouterr().out


def test_session_next_retrieves_pacs_series_into_the_cache(orthanc, two_studies, demo_exam, pacs_env, tmp_path,
                                                           capsys, monkeypatch):
    from ISCMAssistLib.images import load_volume

    study = next(uid for uid in two_studies if uid != "1.2.826.0.1.3680043.8.498.777")
    series = {row["SeriesDescription"]: row["SeriesInstanceUID"]
              for row in pacs.find_series(ServerConfig(url=orthanc.url, user=orthanc.user), study)}
    cases = tmp_path / "cases.csv"
    cases.write_text("case_id,role,path\n"
                     f"c1,t2_sagittal,pacs:{study}/{series['SAG T2']}\n"
                     f"c1,t1_post,pacs:{study}/{series['SAG T1 POST']}\n")
    session = tmp_path / "session"
    assert main(["session", "create", str(session), "--cases", str(cases), "--reader", "r1"]) == 0
    assert capsys.readouterr().err == ""  # a PACS reference is no missing path
    assert main(["session", "next", str(session), "--reader", "r1"]) == 2
    assert "has no pacs.json saying which PACS to ask" in capsys.readouterr().err
    (session / "pacs.json").write_text(json.dumps({"url": orthanc.url, "user": orthanc.user}))
    assert main(["session", "next", str(session), "--reader", "r1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "c1"
    paths = dict(line.split("\t") for line in lines[1:])
    assert paths["t2_sagittal"] == str((session / "cache" / study / series["SAG T2"]).resolve())
    t2 = load_volume(paths["t2_sagittal"])
    assert (t2.array == load_volume(demo_exam / "dicom" / "t2").array).all()
    assert not list((session / "cache").glob(".incoming-*"))

    def no_network(*args, **kwargs):
        raise AssertionError("retrieved again")

    monkeypatch.setattr(pacs, "retrieve", no_network)  # the second time the cache answers
    assert main(["session", "next", str(session), "--reader", "r1"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == lines[1:]


def test_bad_pacs_reference_in_cases_csv_names_the_line(tmp_path, capsys):
    cases = tmp_path / "cases.csv"
    cases.write_text("case_id,role,path\nc1,t2_sagittal,pacs:1.2.3/../../etc\n")
    assert main(["session", "create", str(tmp_path / "s"), "--cases", str(cases), "--reader", "r1"]) == 2
    err = capsys.readouterr().err
    assert "line 2, column path" in err and "pacs:STUDY_UID/SERIES_UID" in err



def test_https_with_the_hospital_ca(private_network, tmp_path, capsys, monkeypatch):
    """https to a server whose certificate only its own CA vouches for: refused without --ca-file, accepted with it.

    Debian's Orthanc 1.10 crashes on its first TLS connection here, so a small stdlib https server
    answers the QIDO-RS study search instead.
    """
    import os
    import shutil
    import ssl
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    if not shutil.which("openssl"):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("openssl not installed; CI must install it (.ci/run)")
        pytest.skip("openssl not installed (it makes the test's certificate)")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)

    class Qido(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(200 if self.path.startswith("/dicom-web/studies") else 404)
            self.send_header("Content-Type", "application/dicom+json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"[]")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Qido)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}/dicom-web"
        code, _, err = main(["pacs", "echo", "--url", url, "--timeout", "5"]), *capsys.readouterr()
        assert code == 2 and "TLS check of" in err and "give --ca-file" in err
        code, out, err = main(["pacs", "echo", "--url", url, "--ca-file", str(cert)]), *capsys.readouterr()
        assert code == 0 and out.startswith(f"DICOMweb at {url} answered"), err
    finally:
        server.shutdown()
        server.server_close()
