"""Patient data: case JSON and CSV exports carry only the pseudonymous case id; the SR carries the patient.

The source DICOM has distinctive PatientName, PatientID, PatientBirthDate, AccessionNumber and
InstitutionName; none of them may appear in the files written by case_io (directly, after ingest,
or after an SR round trip) unless the reader asks for identifiers explicitly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest

from ISCMAssistLib import case as C
from ISCMAssistLib import ingest, series_roles, sr
from ISCMAssistLib.case_io import save_case, write_lesions_csv
from ISCMAssistLib.dicom_series import write_series
from ISCMAssistLib.volumes import Volume

IDENTITY = {
    "PatientName": "Zyxwvut^Quirina",
    "PatientID": "PID-739154",
    "PatientBirthDate": "19410203",
    "AccessionNumber": "ACC-884213",
    "InstitutionName": "Sankt Ximena Klinikum",
    "PatientSex": "F",
}
#: Pieces of the identity that must not appear anywhere in an export (any spelling we could produce).
NEEDLES = ["Zyxwvut", "Quirina", "739154", "19410203", "1941-02-03", "884213", "Ximena"]


def found_needles(path: Path) -> list[str]:
    text = path.read_bytes().decode("utf-8", errors="replace")
    return [needle for needle in NEEDLES if needle.lower() in text.lower()]


@pytest.fixture(scope="module")
def exam(tmp_path_factory) -> Path:
    """A two-series sagittal exam (T2, T1 post) of the identifiable patient under a neutral folder."""
    root = tmp_path_factory.mktemp("exam")
    ijk_to_ras = np.array([[0, 0, -3.0, 6.0], [0, -1.0, 0, 40.0], [-1.0, 0, 0, 10.0], [0, 0, 0, 1]])
    array = (np.arange(5 * 40 * 24, dtype=np.int16).reshape(5, 40, 24) % 97) * 10
    common = {"patient": IDENTITY, "study_instance_uid": "1.2.826.0.1.3680043.8.498.4242",
              "frame_of_reference_uid": "1.2.826.0.1.3680043.8.498.4243"}
    write_series(root / "s2", Volume(array, ijk_to_ras), series_description="SAG T2", series_number=2,
                 mr_tags={"EchoTime": 100.0, "RepetitionTime": 3000.0}, seed="privacy-t2", **common)
    write_series(root / "s5", Volume(array, ijk_to_ras), series_description="SAG T1 POST", series_number=5,
                 mr_tags={"EchoTime": 10.0, "RepetitionTime": 500.0, "ContrastBolusAgent": "gadolinium"},
                 seed="privacy-t1", **common)
    return root


def read_case(exam: Path) -> dict:
    """A case built the way the tool builds one: series from ingest, one measured lesion."""
    scan = ingest.scan_folder(exam)
    case = C.new_case("case-042", "reader1")
    case["series"] = series_roles.case_series_entries(scan, series_roles.propose_roles(scan.series))
    lesion = C.new_lesion("L1")
    lesion.update({"levels": "T4-T5", "location": "thoracic", "t2_signal": "hyperintense",
                   "size_mm": {"ap": 6.5, "transverse": 7.3, "si": 19.9}, "enhancement_length_segments": 2,
                   "lines_lps": {"si": [[0, 1, 2], [0, 1, 21.9]]}})
    case["lesions"].append(lesion)
    case["patient_findings"]["multiplicity"] = "solitary"
    C.validate_case(case)
    return case


def test_the_exam_really_holds_the_identity(exam):
    header = pydicom.dcmread(sorted((exam / "s2").iterdir())[0])
    assert str(header.PatientName) == IDENTITY["PatientName"] and header.InstitutionName == IDENTITY["InstitutionName"]


def test_case_json_and_csv_of_a_read_carry_no_identifiers(exam, tmp_path):
    case = read_case(exam)
    assert {entry["role"] for entry in case["series"]} >= {"t2_sagittal"}  # ingest did see the exam
    save_case(case, tmp_path / "case.json")
    write_lesions_csv([case], tmp_path / "lesions.csv")
    assert found_needles(tmp_path / "case.json") == []
    assert found_needles(tmp_path / "lesions.csv") == []
    assert "identifiers" not in json.loads((tmp_path / "case.json").read_text("utf-8"))


def test_identifiers_appear_only_when_the_reader_asks(exam, tmp_path):
    """Positive control: the search above does find identifiers when they are exported on purpose."""
    case = read_case(exam)
    case["identifiers"] = {"patient_name": IDENTITY["PatientName"], "patient_id": IDENTITY["PatientID"],
                           "birth_date": "1941-02-03", "accession_number": IDENTITY["AccessionNumber"],
                           "institution": IDENTITY["InstitutionName"]}
    write_lesions_csv([case], tmp_path / "without.csv")
    write_lesions_csv([case], tmp_path / "with.csv", include_identifiers=True)
    assert found_needles(tmp_path / "without.csv") == []
    assert set(found_needles(tmp_path / "with.csv")) == set(NEEDLES) - {"19410203"}  # ISO date given


def test_sr_carries_the_source_patient_and_study(exam, tmp_path):
    case = read_case(exam)
    sr.write_sr(case, [exam / "s2", exam / "s5"], tmp_path / "report.dcm")
    report = pydicom.dcmread(tmp_path / "report.dcm")
    source = pydicom.dcmread(sorted((exam / "s2").iterdir())[0])
    assert str(report.PatientName) == IDENTITY["PatientName"]
    assert report.PatientID == IDENTITY["PatientID"]
    assert report.PatientBirthDate == IDENTITY["PatientBirthDate"]
    assert report.PatientSex == "F"
    assert report.AccessionNumber == IDENTITY["AccessionNumber"]
    assert report.StudyInstanceUID == source.StudyInstanceUID and report.StudyDate == source.StudyDate
    assert report.SeriesInstanceUID != source.SeriesInstanceUID


def test_case_from_an_sr_carries_no_identifiers(exam, tmp_path, capsys):
    from ISCMAssistLib.cli import main

    case = read_case(exam)
    sr.write_sr(case, [exam / "s2", exam / "s5"], tmp_path / "report.dcm")
    back = sr.sr_to_case(tmp_path / "report.dcm")
    assert back == case
    save_case(back, tmp_path / "back.json")
    write_lesions_csv([back], tmp_path / "back.csv")
    assert found_needles(tmp_path / "back.json") == []
    assert found_needles(tmp_path / "back.csv") == []
    assert main(["import-sr", str(tmp_path / "report.dcm"), "--out", str(tmp_path / "cli.json")]) == 0
    assert found_needles(tmp_path / "cli.json") == []
    capsys.readouterr()
    assert main(["import-sr", str(tmp_path / "report.dcm")]) == 0
    printed = capsys.readouterr().out
    assert [n for n in NEEDLES if n.lower() in printed.lower()] == []


def test_session_files_and_prints_hold_no_folder_name_of_the_data(tmp_path, capsys):
    """Issue 12, item 8: a data folder named after the patient reaches no session JSON or print."""
    from ISCMAssistLib import cli
    from ISCMAssistLib.session import open_session

    data = tmp_path / "Zyxwvut_Quirina_739154" / "t2"
    data.mkdir(parents=True)
    csv_path = tmp_path / "project" / "cases.csv"
    csv_path.parent.mkdir()
    csv_path.write_text("case_id,role,path\ncase-001,t2_sagittal,../Zyxwvut_Quirina_739154/t2\n", encoding="utf-8")
    directory = tmp_path / "project" / "sess"
    assert cli.main(["session", "create", str(directory), "--cases", str(csv_path), "--reader", "alice"]) == 0
    assert cli.main(["session", "next", str(directory), "--reader", "alice"]) == 0
    session = open_session(directory)
    session.autosave("alice", "case-001", session.load_read("alice", "case-001"))
    assert cli.main(["session", "done", str(directory), "--reader", "alice", "--case", "case-001"]) == 0
    session.autosave("bob", "case-001", session.load_read("bob", "case-001"))
    assert cli.main(["session", "consensus", str(directory), "--case", "case-001", "--readers", "alice", "bob"]) == 0
    printed = capsys.readouterr()
    assert not [n for n in NEEDLES if n in printed.out + printed.err]
    for path in directory.rglob("*.json"):
        assert found_needles(path) == [], path
