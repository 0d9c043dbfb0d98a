"""Exams as a PACS holds them: several studies in a folder, series numbers that repeat, what never takes a
role, and post-contrast only with evidence (real scanner exports from shared/data/real_dicom, and synthetic)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

from dicom_factory import AXIAL_IOP, SAGITTAL_IOP, ramp_volume, write_series
from ISCMAssistLib import cli, ingest, series_roles
from ISCMAssistLib.series_evidence import vessel_enhancement

T1 = dict(ScanningSequence="SE", EchoTime=10.0, RepetitionTime=500.0)
T2 = dict(ScanningSequence="SE", EchoTime=100.0, RepetitionTime=3000.0)
STUDY_A, STUDY_B = "1.2.826.0.1.3680043.8.498.2001", "1.2.826.0.1.3680043.8.498.2002"


def _write(folder: Path, number: int, description: str, study: str = STUDY_A, date: str = "20260101",
           iop=SAGITTAL_IOP, **tags) -> list[Path]:
    patient = {"StudyDate": date}
    return write_series(folder, ramp_volume((4, 6, 5)), (iop, (0.0, -50.0, 0.0), (1.0, 1.0, 3.0)),
                        SeriesNumber=number, SeriesDescription=description, seed=f"{study}-{number}-{description}",
                        study_instance_uid=study, patient=patient, **tags)




def test_real_exports_are_four_studies_and_the_reader_is_asked(real_dicom, capsys):
    scan = ingest.scan_folder(real_dicom)
    assert len(scan.studies) == 4
    assert [len(s.series) for s in scan.studies] == [1, 1, 1, 2]  # HFS, HFP, field map, EPI classic + enhanced
    roles = series_roles.propose_roles(scan.series)
    assert all(p.series_uid is None for p in roles.values())
    assert roles["t1_post"].reasons == ["4 studies in one folder, none with spine series: choose one by its "
                                        "StudyInstanceUID or index"]
    assert cli.main(["series", str(real_dicom)]) == 2
    captured = capsys.readouterr()
    assert "4 studies in one folder" in captured.err and "Proposed roles" not in captured.out
    for study in scan.studies:
        assert study.uid in captured.out
    # HFS and HFP: one volunteer, same protocol, same series number 2/3 twice over; other studies.
    hfs, hfp = scan.studies[0].series[0], scan.studies[1].series[0]
    assert (scan.key(hfs), scan.key(hfp)) == ("1:3", "2:2")


def test_field_map_and_epi_are_never_proposed(real_dicom):
    scan = ingest.scan_folder(real_dicom)
    by_folder = {s.path.parent.name: s for s in scan.series}
    assert by_folder["gre_field_mapping"].excluded == "field map (SequenceName fm2d2)"
    assert by_folder["XA30_classic_5001_EPI"].excluded.startswith("EPI / diffusion (ScanningSequence EP")
    assert "EchoPlanarPulseSequence YES" in by_folder["XA30_enhanced_single_0063"].excluded
    for index, study in enumerate(scan.studies[2:], start=3):
        roles = series_roles.propose_roles(scan.series, study=str(index))
        assert all(p.series_uid is None for p in roles.values()), study.title()


def test_a_t1_of_another_study_is_never_post_contrast(real_dicom, capsys):
    """HFS and HFP are two studies: reading either, the other's T1 is not its post-contrast series."""
    scan = ingest.scan_folder(real_dicom)
    for study in scan.studies[:2]:
        roles = series_roles.propose_roles(scan.series, study=study.uid)
        assert roles["t1_pre"].series_uid == study.series[0].uid
        assert roles["t1_post"].series_uid is None and roles["t1_post"].alternatives == []
    assert cli.main(["series", str(real_dicom), "--study", "2", "--json"]) == 0
    output = json.loads(capsys.readouterr().out)
    assert output["study"] == scan.studies[1].uid and output["roles"]["t1_post"]["series_uid"] is None
    assert cli.main(["series", str(real_dicom), "--study", "2", "--role", "t1_post=1:3"]) == 2
    assert "that series is of another study than the one read" in capsys.readouterr().err


def _copy_as_new_series(source: Path, folder: Path, number: int, change=None) -> Path:
    """Copy a real series as another series of its study (new UIDs), voxels changed by ``change(k, array)``."""
    folder.mkdir(parents=True)
    series_uid = pydicom.uid.generate_uid()
    for path in sorted(source.iterdir()):
        ds = pydicom.dcmread(path)
        ds.SeriesInstanceUID, ds.SOPInstanceUID = series_uid, pydicom.uid.generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesNumber = number
        if change is not None:
            pixels = change(int(ds.InstanceNumber), ds.pixel_array.astype(np.int32))
            ds.PixelData = np.clip(pixels, 0, 4095).astype(ds.pixel_array.dtype).tobytes()
        ds.save_as(folder / path.name)
    return folder


def _vessels(instance: int, array: np.ndarray) -> np.ndarray:
    """A gadolinium look-alike: thin tubes of tissue signal three times brighter (a few slices)."""
    out = array.copy()
    if 14 <= instance <= 22:
        rows = slice(60, 200)
        for column in (100, 128, 156):
            out[rows, column - 1:column + 2] = np.maximum(out[rows, column - 1:column + 2], 200) * 3
    return out


def _noise(instance: int, array: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(instance)
    return array + rng.normal(0, 3, array.shape).round().astype(np.int32)


def _t1_pair(real_dicom: Path, folder: Path, change) -> tuple:
    """The real HFS T1 (series 3) and a copy of it as series 9 of the same study, voxels changed; return
    (scan, roles)."""
    source = real_dicom / "dcm_qa_decubitus" / "HFS_t1_fl2d_sag" / "dicom"
    shutil.copytree(source, folder / "first")
    _copy_as_new_series(source, folder / "second", 9, change)
    scan = ingest.scan_folder(folder)
    return scan, series_roles.propose_roles(scan.series)


def test_same_grid_pair_brighter_in_the_vessels_is_post_contrast(real_dicom, tmp_path):
    scan, roles = _t1_pair(real_dicom, tmp_path, _vessels)
    assert roles["t1_pre"].series_uid == scan.find("3").uid
    assert roles["t1_post"].series_uid == scan.find("9").uid
    assert any("the later T1 is brighter in the vessels than the earlier one" in r and "compared with 1:3" in r
               for r in roles["t1_post"].reasons)


def test_same_grid_pair_without_enhancement_stays_unsure(real_dicom, tmp_path):
    scan, roles = _t1_pair(real_dicom, tmp_path, _noise)
    assert roles["t1_post"].series_uid is None
    assert roles["t1_post"].reasons[0].startswith("unsure: 1 sagittal T1 series without contrast evidence (1:9)")
    assert any("no enhancement between the two T1 series seen" in r for r in scan.find("9").reasons)


def test_the_two_positions_of_one_volunteer_are_no_enhancement(real_dicom):
    """HFS vs HFP (real, same grid, the head turned over): large changes both ways are not contrast."""
    from ISCMAssistLib.images import load_volume

    hfs = load_volume(real_dicom / "dcm_qa_decubitus" / "HFS_t1_fl2d_sag" / "dicom")
    hfp = load_volume(real_dicom / "dcm_qa_decubitus" / "HFP_t1_fl2d_sag" / "dicom")
    assert vessel_enhancement(hfs.array, hfp.array)[0] is None
    assert vessel_enhancement(hfp.array, hfs.array)[0] is None


def test_several_studies_one_with_spine_is_chosen(tmp_path, capsys):
    _write(tmp_path / "head" / "t1", 2, "t1_se_sag", study=STUDY_B, date="20250101", BodyPartExamined="HEAD", **T1)
    _write(tmp_path / "spine" / "t2", 2, "T2 SAG", **T2)
    _write(tmp_path / "spine" / "t1", 3, "T1 SAG", **T1)
    _write(tmp_path / "spine" / "t1c", 5, "T1 SAG", ContrastBolusAgent="Gadovist", **T1)
    scan = ingest.scan_folder(tmp_path)
    assert [s.uid for s in scan.studies] == [STUDY_B, STUDY_A]
    study, why = scan.study()
    assert study.uid == STUDY_A and why == "the only one of 2 studies with spine series"
    roles = series_roles.propose_roles(scan.series)
    assert roles["t2_sagittal"].series_uid == scan.find("2:2").uid
    assert roles["t1_post"].series_uid == scan.find("2:5").uid
    assert "study 2 of 2 (the only one of 2 studies with spine series)" in roles["t1_post"].reasons
    with pytest.raises(ingest.IngestError, match=r"series 2 is ambiguous \(2 series: 1:2, 2:2\); give study:series"):
        scan.find("2")
    assert cli.main(["series", str(tmp_path), "--role", "t1_pre=2:3"]) == 0
    out = capsys.readouterr().out
    assert "T1 sagittal pre-contrast    2:3 T1 SAG (override)" in out
    assert "Proposed roles (study 2, the only one of 2 studies with spine series)" in out


def test_contrast_agent_decides_only_within_its_study(tmp_path):
    _write(tmp_path / "a" / "t1", 3, "T1 SAG", **T1)
    _write(tmp_path / "b" / "t1c", 4, "T1 SAG", study=STUDY_B, date="20260102", ContrastBolusAgent="Gadovist", **T1)
    scan = ingest.scan_folder(tmp_path)
    assert series_roles.propose_roles(scan.series)["t1_pre"].reasons[0] == (
        "2 studies in one folder, 2 with spine series: choose one by its StudyInstanceUID or index")
    roles = series_roles.propose_roles(scan.series, study=STUDY_A)
    assert roles["t1_pre"].series_uid == scan.find("1:3").uid and roles["t1_post"].series_uid is None
    assert roles["t1_post"].reasons == ["no post-contrast sagittal T1 series found"]


@pytest.mark.parametrize("tags, reason", [
    (dict(ImageType=["DERIVED", "PRIMARY", "M", "NORM"]), "derived image (ImageType DERIVED/PRIMARY/M/NORM)"),
    (dict(ImageType=["ORIGINAL", "SECONDARY"]), "secondary image (ImageType ORIGINAL/SECONDARY)"),
    (dict(SeriesDescription="T1 SAG MIP"), "MIP (maximum intensity projection)"),
    (dict(SeriesDescription="T1 SAG", SequenceName="*fm2d2"), "field map (SequenceName *fm2d2)"),
    (dict(SeriesDescription="ep2d_diff_sag T1"), "EPI / diffusion (description 'ep2d_diff_sag T1')"),
    (dict(SeriesDescription="T1 SAG", ScanningSequence="GR\\EP"), "EPI / diffusion (ScanningSequence EP)"),
])
def test_what_never_takes_a_role(tmp_path, tags, reason):
    tags = {**T1, "SeriesDescription": "T1 SAG", "ContrastBolusAgent": "Gadovist", **tags}
    description = tags.pop("SeriesDescription")
    _write(tmp_path / "x", 7, description, **tags)
    scan = ingest.scan_folder(tmp_path)
    assert scan.series[0].excluded == reason
    assert all(p.series_uid is None for p in series_roles.propose_roles(scan.series).values())


def test_axial_t1_post_needs_evidence_too(tmp_path):
    _write(tmp_path / "a", 3, "T1 AX", iop=AXIAL_IOP, **T1)
    _write(tmp_path / "b", 8, "T1 AX", iop=AXIAL_IOP, **T1)
    roles = series_roles.propose_roles(ingest.scan_folder(tmp_path).series)
    assert roles["t1_post_axial"].series_uid is None and roles["t1_post_axial"].reasons[0].startswith("unsure: 2 axial T1")
