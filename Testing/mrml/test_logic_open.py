"""Rebuilding a read in the scene from a case dict (session read, case JSON, DICOM SR) and the panel's
Open dispatch, on slicer-core's real MRML."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from conftest import rounded

from ISCMAssistLib import coords
from ISCMAssistLib.case import CaseValidationError
from ISCMAssistLib.case_io import CaseFileError, save_case
from ISCMAssistLib.scene.errors import OpenFileError
from ISCMAssistLib.scene.names import lesionColor


@pytest.fixture
def source_case(phantom_read, phantom):
    """A complete read from the phantom scene: 2 lesions (one without lines), conus, reader values."""
    logic, first = phantom_read
    logic.setConus(phantom.landmarks["L1"] + np.array([0.0, -20.0, -5.0]))
    second = logic.addLesion()
    logic.addLesionMarkup(second, "lesion_si", [[0, -20, 20], [0, -20, 8]])
    logic.addLesionMarkup(second, "edema_si", [[0, -20, 30], [0, -20, -2]])
    logic.setReaderValue("lesion", "t2_signal", "isointense", first)
    logic.setReaderValue("lesion", "size_mm.ap", 6.5, first)
    logic.setReaderValue("lesion", "levels", "T3-T5", second)
    third = logic.addLesion()
    logic.setReaderValue("lesion", "position", "central", third)   # no lines: reader values only
    logic.setReaderValue("patient_findings", "leptomeningeal_metastases", True)
    logic.setReaderValue("clinical", "age_years", 58)
    logic.setCaseInfo(caseId="case-007", readerName="reader1", notes="rebuilt")
    return copy.deepcopy(logic.getCase())



def test_case_to_scene_to_case_is_identity(source_case, other_logic):
    case = other_logic.loadCaseIntoScene(source_case)
    assert rounded(case) == rounded(source_case)
    assert rounded(other_logic.getCase()) == rounded(source_case)
    assert other_logic.lesionIds() == ["L1", "L2", "L3"]
    assert set(other_logic.lesionNodes("L1")) == {"lesion_si", "lesion_ap", "lesion_transverse", "edema_si"}
    assert set(other_logic.lesionNodes("L2")) == {"lesion_si", "edema_si"}
    assert other_logic.lesionNodes("L3") == {}
    lesions = {lesion["id"]: lesion for lesion in case["lesions"]}
    assert lesions["L1"]["provenance"]["size_mm.ap"] == "reader" and lesions["L1"]["size_mm"]["ap"] == 6.5
    assert lesions["L2"]["levels"] == "T3-T5" and lesions["L2"]["provenance"]["levels"] == "reader"
    assert lesions["L3"]["position"] == "central"
    assert len(other_logic.tableRows()) == 3


def test_rebuilt_nodes_have_roles_names_colours_and_ras_positions(source_case, other_logic, phantom):
    other_logic.loadCaseIntoScene(source_case)
    si = other_logic.lesionNodes("L2")["lesion_si"]
    assert si.GetName() == "Lesion 2 SI"
    assert si.GetDisplayNode().GetSelectedColor() == pytest.approx(lesionColor("L2"))
    # LPS in the case, RAS in the scene: x and y negated
    assert np.allclose(si.GetNthControlPointPositionWorld(0), [0, -20, 20])
    assert source_case["lesions"][1]["lines_lps"]["si"][0] == [0.0, 20.0, 20.0]
    levels = other_logic.levelsNode()
    assert levels.GetNthControlPointLabel(0) == source_case["levels"]["landmarks"][0]["label"]
    assert np.allclose(levels.GetNthControlPointPositionWorld(0),
                       coords.lps_to_ras(source_case["levels"]["landmarks"][0]["position_lps"]))
    assert np.allclose(other_logic.conusNode().GetNthControlPointPositionWorld(0),
                       phantom.landmarks["L1"] + np.array([0.0, -20.0, -5.0]))
    assert other_logic.getParameterNode().GetParameter("activeLesionId") == "L1"


def test_rebuilt_read_is_live(source_case, other_logic):
    other_logic.loadCaseIntoScene(source_case)
    si = other_logic.lesionNodes("L2")["lesion_si"]
    si.SetNthControlPointPositionWorld(1, 0, -20, 0)          # 20 -> 0: 20 mm
    lesion = other_logic.getCase()["lesions"][1]
    assert lesion["size_mm"]["si"] == 20.0
    assert lesion["levels"] == "T3-T5"                          # the reader's value survives
    assert other_logic.getCase()["lesions"][0]["t2_signal"] == "isointense"


def test_loading_replaces_the_previous_read(source_case, phantom_read):
    logic, _ = phantom_read
    logic.addLesion()
    logic.addLesion()
    smaller = copy.deepcopy(source_case)
    smaller["lesions"] = smaller["lesions"][1:2]
    logic.loadCaseIntoScene(smaller)
    assert logic.lesionIds() == ["L2"]
    assert logic.observedNodeCount() == 4  # levels, conus, L2 SI and edema


def test_invalid_case_leaves_the_scene_alone(source_case, phantom_read):
    logic, _ = phantom_read
    before = copy.deepcopy(logic.getCase())
    bad = copy.deepcopy(source_case)
    bad["lesions"][0]["position"] = "middle"
    with pytest.raises(CaseValidationError, match=r"lesions\[0\]\.position"):
        logic.loadCaseIntoScene(bad)
    assert rounded(logic.getCase()) == rounded(before)


def test_open_any_dispatches_case_json_read_folder_and_refuses_others(source_case, other_logic, phantom_read, tmp_path):
    save_case(source_case, tmp_path / "case-007.json")
    case = other_logic.openAny(tmp_path / "case-007.json")
    assert rounded(case) == rounded(source_case)

    logic, _ = phantom_read
    logic.saveRead(tmp_path / "read")
    expected = logic.getCase()
    assert rounded(other_logic.openAny(tmp_path / "read" / "iscm-assist-read.json")) == rounded(expected)

    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(OpenFileError, match="notes.txt: not a read folder"):
        other_logic.openAny(tmp_path / "notes.txt")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(CaseFileError, match="broken.json: not valid JSON"):
        other_logic.openAny(tmp_path / "broken.json")
    with pytest.raises(OpenFileError, match="no such file"):
        other_logic.openAny(tmp_path / "missing.dcm")


def test_scene_to_sr_to_new_scene(dicom_read, tmp_path, phantom, other_logic):
    from ISCMAssistLib.sr import SRError

    logic, lesion_id = dicom_read
    logic.setReaderValue("lesion", "size_mm.si", 18.0, lesion_id)
    logic.setCaseInfo(caseId="case-sr", readerName="reader1")
    expected = copy.deepcopy(logic.getCase())
    written = logic.exportRead(tmp_path / "export")

    case = other_logic.openAny(written["sr"])
    for key in ("case_id", "levels", "patient_findings", "clinical"):
        assert rounded(case[key], 6) == rounded(expected[key], 6), key
    assert rounded(case["lesions"], 6) == rounded(expected["lesions"], 6)
    assert other_logic.lesionIds() == ["L1"]
    assert case["lesions"][0]["levels"] == "T4-T5" and case["lesions"][0]["size_mm"]["si"] == 18.0
    assert set(other_logic.lesionNodes("L1")) == {"lesion_si", "lesion_ap", "lesion_transverse", "edema_si"}
    # live: moving the AP line changes the derived AP size
    ap = other_logic.lesionNodes("L1")["lesion_ap"]
    p0 = np.array(ap.GetNthControlPointPositionWorld(0))
    ap.SetNthControlPointPositionWorld(0, *(p0 + [0, 2.0, 0]))
    assert other_logic.getCase()["lesions"][0]["size_mm"]["ap"] == pytest.approx(phantom.lesion.size_mm["ap"] + 2.0)

    (tmp_path / "fake.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\0" * 16)
    with pytest.raises((SRError, OSError), match="fake.dcm"):
        other_logic.openSR(tmp_path / "fake.dcm")


def test_open_exam_loads_the_proposed_series(logic, phantom, tmp_path):
    phantom.write_dicom(tmp_path / "exam")
    loaded = logic.openExam(tmp_path / "exam")
    assert {"t2_sagittal", "t1_post"} <= set(loaded)
    assert logic.seriesVolume("t2_sagittal") is loaded["t2_sagittal"]


def test_open_demo_loads_its_series_and_read_and_reuses_its_files(logic, tmp_path):
    progress = []
    case = logic.openDemo(tmp_path / "demo", progress=lambda fraction, message: progress.append(fraction))
    assert logic.seriesVolume("t2_sagittal") is not None and logic.seriesVolume("t1_post") is not None
    assert logic.lesionIds() == [lesion["id"] for lesion in case["lesions"]] and logic.levelLabels()
    assert progress == sorted(progress) and progress[-1] == 1.0
    written = (tmp_path / "demo" / "case.json").stat().st_mtime_ns
    logic.openDemo(tmp_path / "demo")
    assert (tmp_path / "demo" / "case.json").stat().st_mtime_ns == written
