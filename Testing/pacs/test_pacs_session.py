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
    assert "2 studies in one folder, 2 with spine series: choose one with --study" in err
    assert "1:2  SAG T2" in out and "2:2  SAG T2" in out
    assert main(["series", str(tmp_path), "--study", "1"]) == 0
    assert "T1 sagittal post-contrast   1:5 SAG T1 POST" in capsys.readouterr().out


def test_session_next_retrieves_pacs_series_into_the_cache(orthanc, two_studies, demo_exam, pacs_env, tmp_path,
                                                           capsys, monkeypatch):
    from ISCMAssistLib.volumes import load_volume

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
    assert f"has no pacs.json saying which PACS to ask" in capsys.readouterr().err
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
