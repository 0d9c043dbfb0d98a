"""Read folders from MRML: save (temp folder + swap), open into an empty scene, failures, series loading."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import place_phantom_lesion, place_phantom_levels, rounded

from ISCMAssistLib.scene.errors import ReadFolderError
from ISCMAssistLib.scene.headless import create_headless_context
from ISCMAssistLib.scene.logic import ISCMAssistLogic
from ISCMAssistLib.scene.names import lesionColor
from ISCMAssistLib.scene.read_folder import CASE_FILE, MANIFEST_FILE, TABLE_FILE


@pytest.fixture
def full_read(phantom_read, phantom):
    """The phantom read plus its T2 volume, a second lesion and reader values."""
    logic, first = phantom_read
    logic.addSeriesVolume(phantom.t2, "SAG T2", "t2_sagittal")
    second = logic.addLesion()
    logic.addLesionMarkup(second, "lesion_si", [[0, -20, 20], [0, -20, 8]])
    logic.addLesionMarkup(second, "edema_si", [[0, -20, 30], [0, -20, -2]])
    logic.setReaderValue("lesion", "t2_signal", "isointense", first)
    logic.setReaderValue("lesion", "size_mm.ap", 6.5, first)
    logic.setReaderValue("patient_findings", "leptomeningeal_metastases", True)
    logic.setReaderValue("clinical", "age_years", 58)
    logic.setCaseInfo(caseId="case-042", readerName="reader1", notes="phantom")
    return logic



def test_save_then_open_gives_the_same_read(full_read, other_logic, tmp_path):
    folder = tmp_path / "read"
    full_read.saveRead(folder)
    expected_case, expected_rows = full_read.getCase(), full_read.tableRows()

    case = other_logic.openRead(folder)
    assert rounded(case) == rounded(expected_case)
    assert case["case_id"] == "case-042" and case["reader"]["name"] == "reader1" and case["notes"] == "phantom"
    assert case["lesions"][0]["provenance"]["size_mm.ap"] == "reader"
    assert [entry["description"] for entry in case["series"]] == ["SAG T2"]  # kept without the images
    assert case["lesions"][0]["size_mm"]["ap"] == 6.5
    assert other_logic.tableRows() == expected_rows
    assert other_logic.lesionIds() == ["L1", "L2"]
    si = other_logic.lesionNodes("L2")["lesion_si"]
    assert si.GetName() == "Lesion 2 SI"
    assert si.GetDisplayNode().GetSelectedColor() == pytest.approx(lesionColor("L2"))
    assert np.allclose(si.GetNthControlPointPositionWorld(0), [0, -20, 20])
    assert [label for label, _ in zip(*other_logic._landmarks())][-1] == "L1"
    # the opened read is live
    si.SetNthControlPointPositionWorld(1, 0, -20, 0)
    assert other_logic.getCase()["lesions"][1]["size_mm"]["si"] == 20.0


def test_saved_folder_holds_case_markups_in_lps_and_table_csv(full_read, tmp_path):
    from ISCMAssistLib.case_io import load_case

    folder = full_read.saveRead(tmp_path / "read")
    names = sorted(path.name for path in folder.iterdir())
    assert CASE_FILE in names and MANIFEST_FILE in names and TABLE_FILE in names
    assert "L2_lesion_si.mrk.json" in names and "levels.mrk.json" in names
    assert load_case(folder / CASE_FILE)["case_id"] == "case-042"
    markup = json.loads((folder / "L2_lesion_si.mrk.json").read_text())["markups"][0]
    assert markup["coordinateSystem"] == "LPS"
    assert markup["controlPoints"][0]["position"] == pytest.approx([0, 20, 20])  # RAS (0,-20,20)
    header = (folder / TABLE_FILE).read_text().splitlines()[0]
    assert "SI size (mm)" in header and "Length of enhancement (segments)" in header
    assert not list(tmp_path.glob("read.tmp-*")) and not list(tmp_path.glob("read.old-*"))


def test_failed_save_keeps_the_previous_save(full_read, tmp_path, monkeypatch):
    import ISCMAssistLib.case_io as case_io

    folder = full_read.saveRead(tmp_path / "read")
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    full_read.setReaderValue("clinical", "age_years", 61)

    def broken_save(case, path):
        raise OSError(f"{path}: disk full")

    monkeypatch.setattr(case_io, "save_case", broken_save)
    with pytest.raises(OSError, match="disk full"):
        full_read.saveRead(folder)
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before
    assert not list(tmp_path.glob("read.tmp-*"))


def test_save_refuses_to_replace_a_folder_that_is_not_a_read(full_read, tmp_path):
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "thesis.txt").write_text("keep me")
    with pytest.raises(ReadFolderError, match="not an ISCMAssist read folder"):
        full_read.saveRead(folder)
    assert (folder / "thesis.txt").read_text() == "keep me"
    assert not list(tmp_path.glob("documents.tmp-*"))


def test_open_errors_name_the_folder_or_file(other_logic, full_read, tmp_path):
    with pytest.raises(ReadFolderError, match="empty.*no iscm-assist-read.json"):
        (tmp_path / "empty").mkdir()
        other_logic.openRead(tmp_path / "empty")
    folder = full_read.saveRead(tmp_path / "read")
    (folder / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(ReadFolderError, match="iscm-assist-read.json: damaged manifest"):
        other_logic.openRead(folder)
    folder = full_read.saveRead(tmp_path / "read2")
    (folder / "L2_lesion_si.mrk.json").unlink()
    with pytest.raises(ReadFolderError, match="bad node entry"):
        other_logic.openRead(folder)
    assert other_logic.lesionIds() == []  # nothing half-opened


def test_open_replaces_the_current_read(full_read, tmp_path):
    folder = full_read.saveRead(tmp_path / "read")
    full_read.addLesion()
    assert full_read.lesionIds() == ["L1", "L2", "L3"]
    full_read.openRead(folder)
    assert full_read.lesionIds() == ["L1", "L2"]
    assert full_read.observedNodeCount() == 7  # 4 + 2 lesion lines, levels


def test_progress_is_reported_in_order(full_read, other_logic, tmp_path):
    seen: list[float] = []
    full_read.saveRead(tmp_path / "read", progress=lambda fraction, message: seen.append(fraction))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen) and len(seen) > 5
    seen.clear()
    other_logic.openRead(tmp_path / "read", progress=lambda fraction, message: seen.append(fraction))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)


def test_load_real_series_from_nifti(logic, shared_data):
    path = shared_data / "pam50_small" / "PAM50_small_t2.nii.gz"
    node = logic.loadSeries(path, "t2_sagittal")
    assert logic.seriesVolume("t2_sagittal") is node
    assert node.GetImageData() is not None
    assert node.GetSpacing() == pytest.approx((1.0, 1.0, 2.0))  # README: 1 x 1 x 2 mm
    series = logic.recompute()["series"]
    assert series[0]["role"] == "t2_sagittal" and series[0]["file"].endswith("PAM50_small_t2.nii.gz")
    with pytest.raises(ReadFolderError, match="no such file"):
        logic.loadSeries(shared_data / "missing.nii.gz", "t1_post")


def test_export_writes_case_csv_and_sr_from_dicom_series(dicom_read, tmp_path):
    from ISCMAssistLib import sr
    from ISCMAssistLib.case_io import load_case

    logic, _ = dicom_read
    written = logic.exportRead(tmp_path / "export")
    assert set(written) == {"case", "csv", "report", "sr"}
    assert "research use" in written["report"].read_text().lower()
    assert load_case(written["case"])["lesions"][0]["levels"] == "T4-T5"
    assert "T4-T5" in written["csv"].read_text()
    back = sr.sr_to_case(written["sr"])
    assert back["lesions"][0]["enhancement_length_segments"] == 2
    assert back["lesions"][0]["enhancement"] == "homogeneous"


def test_export_without_dicom_skips_sr_with_a_warning(full_read, tmp_path):
    written = full_read.exportRead(tmp_path / "export")
    assert set(written) == {"case", "csv", "report"}
    assert written["case"].name == "case-042.json"
    assert any("no DICOM SR" in warning for warning in full_read.warnings())


def test_segments_survive_save_and_open(full_read, other_logic, tmp_path):
    from ISCMAssistLib.volumes import Volume

    array = np.zeros((20, 10, 10), dtype=np.uint8)  # [k, j, i]; 1 mm voxels
    array[5:15, 3:7, 2:8] = 1
    mask = Volume(array, np.array([[1.0, 0, 0, -5], [0, 1.0, 0, -25], [0, 0, 1.0, 50], [0, 0, 0, 1]]))
    lesion_id = full_read.addLesion()
    full_read.addLesionSegment(lesion_id, "lesion_segment", mask)
    expected = full_read.getCase()
    assert expected["lesions"][-1]["size_mm"]["si"] is not None
    folder = full_read.saveRead(tmp_path / "read")
    assert (folder / f"{lesion_id}_lesion_segment.seg.nrrd").is_file()
    case = other_logic.openRead(folder)
    assert rounded(case) == rounded(expected)
    node = other_logic.lesionNodes(lesion_id)["lesion_segment"]
    assert node.GetSegmentation().GetNumberOfSegments() == 1


def test_dicom_folder_with_shuffled_file_names_loads_with_the_true_geometry(tmp_path, phantom):
    """Slicer's archetype reader trusts the file order it gets: the Logic must sort along the slice normal."""
    import random

    from ISCMAssistLib.images import load_volume

    files = phantom.write_dicom(tmp_path / "dicom")["t2_sagittal"]
    names = [f"IM{number:04d}" for number in range(len(files))]
    random.Random(3).shuffle(names)
    for path, name in zip(files, names):
        path.rename(path.with_name(name))
    (files[0].parent / "notes.txt").write_text("not DICOM")
    ctx = create_headless_context()
    try:
        node = ISCMAssistLogic(ctx.scene, ctx.logics).loadSeries(files[0].parent, "t2_sagittal")
        ijk_to_ras = vtk_matrix_to_array(node)
        np.testing.assert_allclose(ijk_to_ras, load_volume(files[0].parent).ijk_to_ras, atol=1e-3)
        np.testing.assert_allclose(node.GetSpacing(), phantom.t2.spacing_mm, atol=1e-3)
    finally:
        ctx.close()


def vtk_matrix_to_array(node) -> np.ndarray:
    import vtk

    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return np.array([[matrix.GetElement(row, column) for column in range(4)] for row in range(4)])


def test_a_series_with_a_missing_slice_loads_with_a_gap_and_lines_across_it_are_not_measured(tmp_path, phantom):
    import pydicom

    files = phantom.write_dicom(tmp_path / "dicom")
    lesion_k = phantom.t2.ras_to_voxel(np.asarray(phantom.lesion.nodule_center_ras)[None, :])[0][2]
    assert round(lesion_k) == 7
    for path in files["t2_sagittal"]:
        if int(pydicom.dcmread(path, stop_before_pixels=True).InstanceNumber) == 8:  # k = 7, the lesion's slice
            path.unlink()
    ctx = create_headless_context()
    try:
        logic = ISCMAssistLogic(ctx.scene, ctx.logics)
        t2 = logic.loadSeries(files["t2_sagittal"][0].parent, "t2_sagittal")
        logic.loadSeries(files["t1_post"][0].parent, "t1_post")
        assert json.loads(t2.GetAttribute("ISCMAssist.SliceGaps"))[0][:2] == [7, 7]
        np.testing.assert_allclose(t2.GetSpacing(), phantom.t2.spacing_mm, atol=1e-3)  # blank slice inserted
        place_phantom_levels(logic, phantom)
        place_phantom_lesion(logic, phantom)
        lesion = logic.recompute()["lesions"][0]
        assert lesion["enhancement_length_segments"] == phantom.lesion.segments  # T1 post has no gap
        assert lesion["t2_length_segments"] is None
        assert any("edema_si line not measured" in text and "slice gap" in text for text in logic.warnings())
    finally:
        ctx.close()


def test_a_line_outside_its_series_is_not_measured_and_the_reader_is_told(phantom_read, phantom):
    logic, lesion_id = phantom_read
    logic.addSeriesVolume(phantom.t1_post, "T1 post", "t1_post")
    assert logic.recompute()["lesions"][0]["size_mm"]["si"] is not None
    outside = np.asarray(phantom.lesion.nodule_center_ras) + [500.0, 0.0, 0.0]
    logic.setControlPoints(logic.lesionNodes(lesion_id)["lesion_si"], [outside, outside + [0, 0, 10.0]])
    lesion = logic.recompute()["lesions"][0]
    assert lesion["size_mm"]["si"] is None
    assert any("si line not measured: a point lies outside T1 post" in text for text in logic.warnings())
    assert logic.lesionNodes(lesion_id)["lesion_si"].GetNumberOfControlPoints() == 2  # nothing the reader made is lost
