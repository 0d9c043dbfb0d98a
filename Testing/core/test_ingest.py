"""ingest.py and `iscm-assist series`: find the series of a whole exam, describe them, propose roles."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from dicom_factory import (
    AXIAL_IOP,
    CORONAL_IOP,
    SAGITTAL_IOP,
    ramp_volume,
    set_tags,
    write_garbage,
    write_presentation_state,
    write_series,
    write_sr,
)
from ISCMAssistLib import cli, ingest, series_roles
from ISCMAssistLib.case import new_case, validate_case
from ISCMAssistLib.dicom_pixels import load_dicom_series

SAG = dict(iop=SAGITTAL_IOP, spacing=(1.0, 1.0, 3.0))
T2 = dict(ScanningSequence="SE", EchoTime=100.0, RepetitionTime=3000.0)
T1 = dict(ScanningSequence="SE", EchoTime=10.0, RepetitionTime=500.0)


#: One study for every series _write makes, unless a test gives another.
STUDY_UID = "1.2.826.0.1.3680043.8.498.1515"


def _write(folder: Path, number: int, description: str, iop=SAGITTAL_IOP, ipp=(0.0, -50.0, 0.0), shape=(4, 6, 5),
           spacing=(1.0, 1.0, 3.0), **tags) -> list[Path]:
    tags.setdefault("study_instance_uid", STUDY_UID)
    return write_series(folder, ramp_volume(shape), (iop, ipp, spacing), SeriesNumber=number,
                        SeriesDescription=description, seed=f"exam-{number}", **tags)


@pytest.fixture(scope="module")
def exam(tmp_path_factory) -> Path:
    """A whole exam in nested folders: localizer, sagittal T2/T1 pre/STIR/T1 post, axial T2 and T1 post, junk."""
    root = tmp_path_factory.mktemp("exam") / "patient" / "study"
    localizer = _write(root / "s1", 1, "3-plane loc", shape=(3, 6, 5), ImageType=["ORIGINAL", "PRIMARY", "LOCALIZER"])
    set_tags(localizer[1:2], ImageOrientationPatient=list(AXIAL_IOP))
    set_tags(localizer[2:3], ImageOrientationPatient=list(CORONAL_IOP))
    _write(root / "s2", 2, "T2_TSE_SAG", **T2)
    _write(root / "s3", 3, "t1_tse_sag", **T1)
    _write(root / "s4", 4, "sag tirm", ScanningSequence="IR", EchoTime=40.0, RepetitionTime=4000.0, InversionTime=160.0)
    _write(root / "s5", 5, "T2 AX", iop=AXIAL_IOP, **T2)
    _write(root / "s7", 7, "t1_tse_sag", ContrastBolusAgent="Gadovist", **T1)
    _write(root / "s8", 8, "AX T1 +C", iop=AXIAL_IOP, ContrastBolusAgent="Gadovist", **T1)
    write_sr(root / "sr" / "report.dcm")
    write_presentation_state(root / "s2" / "ps.dcm")
    write_garbage(root / "s3" / "thumbs.db")
    return root.parent


def test_scan_finds_every_series_and_skips_junk_with_reasons(exam):
    scan = ingest.scan_folder(exam)
    assert [s.series_number for s in scan.series] == [1, 2, 3, 4, 5, 7, 8]
    by_number = {s.series_number: s for s in scan.series}
    assert by_number[1].localizer and by_number[1].orientation == "mixed" and by_number[1].weighting == "localizer"
    assert (by_number[2].orientation, by_number[2].weighting, by_number[2].contrast) == ("sagittal", "T2", None)
    assert (by_number[3].weighting, by_number[4].weighting) == ("T1", "STIR")
    assert (by_number[5].orientation, by_number[5].weighting) == ("axial", "T2")
    assert by_number[7].contrast is True and "ContrastBolusAgent = 'Gadovist'" in by_number[7].reasons
    assert by_number[8].contrast is True
    s2 = by_number[2]
    assert (s2.n_slices, s2.rows, s2.columns, s2.n_files) == (4, 6, 5, 4)
    assert s2.spacing_mm == pytest.approx((1.0, 1.0, 3.0))
    # Sagittal: IPP z = 0, columns run inferior 5 rows x 1 mm: S-I extent -5..0 mm.
    assert s2.si_range_mm == pytest.approx((-5.0, 0.0))
    assert s2.echo_time_ms == 100.0 and s2.repetition_time_ms == 3000.0
    skipped = {s.path.name: s for s in scan.skipped}
    assert skipped["report.dcm"].category == "non_image" and "structured report" in skipped["report.dcm"].reason
    assert skipped["ps.dcm"].category == "non_image" and "presentation state" in skipped["ps.dcm"].reason
    assert skipped["thumbs.db"].category == "not_dicom"


def test_roles_are_proposed_with_reasons(exam):
    scan = ingest.scan_folder(exam)
    roles = series_roles.propose_roles(scan.series)
    number = {s.uid: s.series_number for s in scan.series}
    assert {role: number.get(p.series_uid) for role, p in roles.items()} == {
        "t2_sagittal": 2, "t1_pre": 3, "t1_post": 7, "t2_axial": 5, "t1_post_axial": 8,
    }
    t2_reasons = " ".join(roles["t2_sagittal"].reasons)
    assert "SeriesDescription 'T2_TSE_SAG' names T2" in t2_reasons
    assert "ScanningSequence SE with TR 3000 ms, TE 100 ms fits T2" in t2_reasons
    assert "ContrastBolusAgent = 'Gadovist'" in " ".join(roles["t1_post"].reasons)
    entries = series_roles.case_series_entries(scan, roles)
    assert entries[0] == {"role": "t2_sagittal", "series_uid": roles["t2_sagittal"].series_uid,
                          "file": "study/s2/", "description": "T2_TSE_SAG"}
    case = new_case("exam-1")
    case["series"] = entries
    validate_case(case)


def test_reader_overrides_any_role(exam):
    scan = ingest.scan_folder(exam)
    roles = series_roles.apply_overrides(scan, series_roles.propose_roles(scan.series), {"t2_sagittal": "4", "t1_pre": "none"})
    assert roles["t2_sagittal"].series_uid == scan.find("4").uid and roles["t2_sagittal"].overridden
    assert roles["t1_pre"].series_uid is None
    uid = scan.find("7").uid
    assert series_roles.apply_overrides(scan, roles, {"t1_post_axial": uid})["t1_post_axial"].series_uid == uid
    with pytest.raises(ingest.IngestError, match="unknown role 't3'"):
        series_roles.apply_overrides(scan, roles, {"t3": "2"})
    with pytest.raises(ingest.IngestError, match=r"no series '99' \(series found: 1:1 3-plane loc, 1:2 T2_TSE_SAG"):
        series_roles.apply_overrides(scan, roles, {"t1_post": "99"})


def test_one_series_never_takes_two_roles(exam):
    scan = ingest.scan_folder(exam)
    proposals = series_roles.propose_roles(scan.series)
    taken = next(role for role, proposal in proposals.items() if proposal.series_uid is not None)
    other = next(role for role in series_roles.ROLES if role != taken)
    key = proposals[taken].series_uid
    moved = series_roles.apply_overrides(scan, proposals, {other: key})
    assert moved[other].series_uid == key and moved[taken].series_uid is None
    assert f"given the role {other} by the reader" in moved[taken].reasons[0]
    with pytest.raises(ingest.IngestError, match="already given the role"):
        series_roles.apply_overrides(scan, proposals, {taken: key, other: key})


def test_found_series_load_with_their_headers(exam):
    scan = ingest.scan_folder(exam)
    volume = ingest.load_series(scan.find("2"))
    np.testing.assert_array_equal(volume.array, ramp_volume((4, 6, 5)))
    assert volume.series_uid == scan.find("2").uid


def test_acquisition_order_alone_never_makes_a_post_contrast_t1(tmp_path):
    _write(tmp_path / "a", 3, "SAG T1", **T1)
    _write(tmp_path / "b", 9, "SAG T1", **T1)
    _write(tmp_path / "c", 2, "SAG T2", **T2)
    scan = ingest.scan_folder(tmp_path)
    roles = series_roles.propose_roles(scan.series)
    assert roles["t1_pre"].label == "#3 SAG T1"
    assert "no contrast information: taken as pre-contrast" in roles["t1_pre"].reasons
    post = roles["t1_post"]
    assert post.series_uid is None and post.alternatives == [scan.find("9").uid]
    assert post.reasons[0].startswith("unsure: 1 sagittal T1 series without contrast evidence (1:9)")
    # The same ramp in both: no enhancement between them, and the pixel comparison says so.
    assert any("no enhancement between the two T1 series seen" in r for r in scan.find("9").reasons)


def test_description_words_decide_contrast(tmp_path):
    _write(tmp_path / "a", 3, "T1 SAG PRE", **T1)
    _write(tmp_path / "b", 4, "T1 SAG POST GAD", **T1)
    scan = ingest.scan_folder(tmp_path)
    assert [s.contrast for s in scan.series] == [False, True]
    roles = series_roles.propose_roles(scan.series)
    assert roles["t1_pre"].label == "#3 T1 SAG PRE" and roles["t1_post"].label == "#4 T1 SAG POST GAD"
    assert roles["t2_sagittal"].series_uid is None and roles["t2_sagittal"].reasons == ["no sagittal T2 series found"]


def test_two_stations_propose_the_longer_and_list_the_other(tmp_path):
    _write(tmp_path / "c", 2, "SAG T2 C-SPINE", shape=(3, 100, 5), ipp=(0.0, -50.0, 0.0), **T2)
    _write(tmp_path / "t", 6, "SAG T2 T-SPINE", shape=(3, 200, 5), ipp=(0.0, -50.0, -100.0), **T2)
    scan = ingest.scan_folder(tmp_path)
    assert [s.region for s in scan.series] == ["cervical", "thoracic"]
    roles = series_roles.propose_roles(scan.series)
    assert roles["t2_sagittal"].label == "#6 SAG T2 T-SPINE"
    assert roles["t2_sagittal"].alternatives == [scan.find("2").uid]
    assert "longest S-I coverage (199 mm) of 2 candidates" in roles["t2_sagittal"].reasons


def test_series_with_problems_are_not_proposed_but_listed(tmp_path):
    paths = _write(tmp_path / "a", 2, "SAG T2", **T2)
    set_tags(paths[1:2], ImagePositionPatient=[0.0, -50.0, 0.0])  # two images at one position
    scan = ingest.scan_folder(tmp_path)
    assert scan.series[0].problems == ["several images share a slice position (echoes / time points / stacks)"]
    assert series_roles.propose_roles(scan.series)["t2_sagittal"].series_uid is None


def test_missing_slice_is_a_warning_not_a_problem(tmp_path):
    paths = _write(tmp_path / "a", 2, "SAG T2", shape=(5, 6, 5), **T2)
    paths[2].unlink()
    summary = ingest.scan_folder(tmp_path).series[0]
    assert summary.problems == [] and summary.warnings == ["uneven slice spacing (3.00 to 6.00 mm): slices missing?"]


def test_dicomdir(tmp_path, exam):
    from pydicom.fileset import FileSet

    fileset = FileSet()
    for path in sorted((exam / "study" / "s2").glob("IM*.dcm")) + sorted((exam / "study" / "s8").glob("IM*.dcm")):
        fileset.add(pydicom.dcmread(path))
    fileset.write(tmp_path / "media")
    via_index = ingest.scan_folder(tmp_path / "media" / "DICOMDIR")
    assert sorted(s.series_number for s in via_index.series) == [2, 8]
    assert all(s.n_files == 4 for s in via_index.series)
    walked = ingest.scan_folder(tmp_path / "media")
    assert sorted(s.series_number for s in walked.series) == [2, 8]
    assert [s.category for s in walked.skipped] == ["dicomdir"]


def _bids_image(path: Path, axial: bool = False, sidecar: dict | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if axial:
        affine = np.diag([0.5, 0.5, 3.0, 1.0])
    else:  # i posterior, j superior, k left: sagittal slices
        affine = np.array([[0, 0, -3.0, 10], [-0.5, 0, 0, 20], [0, 0.5, 0, -100], [0, 0, 0, 1]])
    nib.save(nib.Nifti1Image(np.zeros((8, 20, 4), dtype=np.int16), affine), str(path))
    if sidecar is not None:
        path.with_name(path.name.replace(".nii.gz", ".json")).write_text(json.dumps(sidecar))


def test_bids_folder_roles_from_suffix_and_entities(tmp_path):
    anat = tmp_path / "bids" / "sub-01" / "ses-1" / "anat"
    _bids_image(anat / "sub-01_ses-1_acq-sag_T2w.nii.gz", sidecar={"EchoTime": 0.1, "RepetitionTime": 3.0,
                                                                     "SeriesDescription": "T2 SAG"})
    _bids_image(anat / "sub-01_ses-1_acq-sag_T1w.nii.gz")
    _bids_image(anat / "sub-01_ses-1_acq-sag_ce-gadolinium_T1w.nii.gz")
    _bids_image(anat / "sub-01_ses-1_acq-ax_T2w.nii.gz", axial=True)
    (tmp_path / "bids" / "dataset_description.json").write_text("{}")
    (tmp_path / "bids" / "participants.tsv").write_text("participant_id\nsub-01\n")
    scan = ingest.scan_folder(tmp_path / "bids")
    by_name = {s.path.name: s for s in scan.series}
    t2 = by_name["sub-01_ses-1_acq-sag_T2w.nii.gz"]
    assert (t2.kind, t2.orientation, t2.weighting, t2.description) == ("nifti", "sagittal", "T2", "T2 SAG")
    assert t2.echo_time_ms == pytest.approx(100.0) and t2.bids["ses"] == "1"
    assert t2.si_range_mm == pytest.approx((-100.0, -90.5))
    roles = series_roles.propose_roles(scan.series)
    names = {role: Path(p.series_uid).name if p.series_uid else None for role, p in roles.items()}
    assert names == {
        "t2_sagittal": "sub-01_ses-1_acq-sag_T2w.nii.gz",
        "t1_pre": "sub-01_ses-1_acq-sag_T1w.nii.gz",
        "t1_post": "sub-01_ses-1_acq-sag_ce-gadolinium_T1w.nii.gz",
        "t2_axial": "sub-01_ses-1_acq-ax_T2w.nii.gz",
        "t1_post_axial": None,
    }
    assert "BIDS entity ce-gadolinium" in roles["t1_post"].reasons
    assert {s.category for s in scan.skipped} == {"sidecar"}
    entries = series_roles.case_series_entries(scan, roles)
    assert entries[0]["file"] == "sub-01/ses-1/anat/sub-01_ses-1_acq-sag_T2w.nii.gz" and entries[0]["series_uid"] is None
    case = new_case("bids-1")
    case["series"] = entries
    validate_case(case)
    volume = ingest.load_series(by_name["sub-01_ses-1_acq-sag_ce-gadolinium_T1w.nii.gz"])
    assert volume.array.shape == (4, 20, 8)


@pytest.mark.parametrize(
    ("description", "sequence", "te", "tr", "ti", "expected"),
    [
        ("", "SE", 12.0, 550.0, None, "T1"),
        ("", "SE", 110.0, 4000.0, None, "T2"),
        ("", "SE", 20.0, 3000.0, None, "PD"),
        ("", "IR", 60.0, 5000.0, 170.0, "STIR"),
        ("", "IR", 120.0, 9000.0, 2500.0, "FLAIR"),
        ("sag t2 tse", "SE", 12.0, 550.0, None, "T2"),  # the description wins over the timing
        ("MPRAGE", "GR", None, None, None, "T1"),
        ("", "GR", 4.0, 1500.0, None, "unknown"),
    ],
)
def test_guess_weighting(description, sequence, te, tr, ti, expected):
    weighting, reasons = ingest.guess_weighting(description, sequence, te, tr, ti)
    assert weighting == expected, reasons


def test_guess_contrast():
    assert ingest.guess_contrast("SAG T1", "Gadovist") == (True, ["ContrastBolusAgent = 'Gadovist'"])
    contrast, reasons = ingest.guess_contrast("SAG T1 PRE", "Gadovist")
    assert contrast is False and "ContrastBolusAgent 'Gadovist' is set but the description wins" in reasons
    assert ingest.guess_contrast("t1_tse_sag +C", "")[0] is True
    assert ingest.guess_contrast("t1 sag nativ", "")[0] is False
    assert ingest.guess_contrast("t1_tse_sag", "")[0] is None


def test_plane_of_normal():
    assert ingest.plane_of_normal([1.0, 0.0, 0.0]) == ("sagittal", 0.0)
    plane, angle = ingest.plane_of_normal([np.cos(np.radians(20)), 0.0, np.sin(np.radians(20))])
    assert plane == "sagittal" and angle == pytest.approx(20.0)
    assert ingest.plane_of_normal([0.0, 0.0, -1.0])[0] == "axial"
    assert ingest.plane_of_normal([1.0, 0.0, 1.0])[0] == "oblique"


def test_parse_bids_name():
    assert ingest.parse_bids_name("sub-02_ses-pre_acq-sag_ce-gad_run-1_T1w.nii.gz") == {
        "sub": "02", "ses": "pre", "acq": "sag", "ce": "gad", "run": "1", "suffix": "T1w",
    }


def test_scan_errors(tmp_path):
    with pytest.raises(ingest.IngestError, match="no such file or folder"):
        ingest.scan_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    assert ingest.scan_folder(tmp_path / "empty").series == []


def test_progress_callback(exam):
    calls = []
    ingest.scan_folder(exam, progress=lambda done, total: calls.append((done, total)))
    total = calls[-1][1]
    assert calls[-1] == (total, total) and [c[0] for c in calls] == list(range(1, total + 1))
    assert total == 3 + 4 * 6 + 3  # localizer, six 4-slice series, SR + PS + garbage


# --- the command --------------------------------------------------------------------------------------


def test_series_command_json(exam, capsys):
    assert cli.main(["series", str(exam), "--json", "--role", "t1_pre=none"]) == 0
    output = json.loads(capsys.readouterr().out)
    assert [s["series_number"] for s in output["series"]] == [1, 2, 3, 4, 5, 7, 8]
    assert output["roles"]["t1_post"]["label"] == "#7 t1_tse_sag"
    assert output["roles"]["t1_pre"] == {"role": "t1_pre", "series_uid": None, "label": "",
                                         "reasons": ["cleared by the reader"], "alternatives": [], "overridden": True}
    assert {s["category"] for s in output["skipped"]} == {"non_image", "not_dicom"}
    assert [e["role"] for e in output["case_series"]] == ["t2_sagittal", "t1_post", "t2_axial", "t1_post_axial"]


def test_series_command_table(exam, capsys):
    assert cli.main(["series", str(exam), "--role", "t2_sagittal=4"]) == 0
    out = capsys.readouterr().out
    assert "7 series in 1 study in" in out
    assert "    1:2  T2_TSE_SAG                   sagittal  T2        ?             4  1x1x3          spine              4" in out
    assert "T2 sagittal                 1:4 sag tirm (override)" in out
    assert "report.dcm: not an image: structured report" in out


def test_series_command_errors(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli.main(["series", str(tmp_path / "empty")]) == 2
    assert "no DICOM or NIfTI image series found" in capsys.readouterr().err
    _write(tmp_path / "one", 2, "SAG T2", **T2)
    assert cli.main(["series", str(tmp_path / "one"), "--role", "t1post"]) == 2
    assert "expected ROLE=SERIES" in capsys.readouterr().err
    assert cli.main(["series", str(tmp_path / "one"), "--role", "t1_post=5"]) == 2
    assert "no series '5'" in capsys.readouterr().err


def test_load_dicom_series_from_a_scan_keeps_file_order_irrelevant(exam):
    summary = ingest.scan_folder(exam).find("5")
    volume = load_dicom_series(list(reversed(summary.files)))
    np.testing.assert_array_equal(volume.array, ramp_volume((4, 6, 5)))
