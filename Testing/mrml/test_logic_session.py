"""Research sessions in the module Logic on slicer-core's real MRML: open a session made with
session.create_session on phantom series, load cases, autosave (debounced by a dirty flag), mark done,
and resume after a crash (logic and scene dropped without any further save)."""

from __future__ import annotations

import copy
import json

import nibabel as nib
import numpy as np
import pytest
import slicer
from conftest import place_phantom_lesion, place_phantom_levels, rounded

from ISCMAssistLib.scene.headless import create_headless_context
from ISCMAssistLib import session as sessionmod
from ISCMAssistLib.session import SessionError
from ISCMAssistLib.scene.logic import ISCMAssistLogic


def write_nifti(volume, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(volume.array).transpose(2, 1, 0), volume.ijk_to_ras), str(path))
    return path


@pytest.fixture(scope="module")
def session_source(tmp_path_factory, phantom):
    """Phantom series as NIfTI and a cases CSV: case-001 (T2 + T1 post), case-002 (T2), case-003
    (a series path that does not exist)."""
    root = tmp_path_factory.mktemp("session-data")
    t2 = write_nifti(phantom.t2, root / "data" / "t2.nii.gz")
    t1 = write_nifti(phantom.t1_post, root / "data" / "t1_post.nii.gz")
    (root / "cases.csv").write_text(
        "case_id,role,path\n"
        f"case-001,t2_sagittal,{t2}\ncase-001,t1_post,{t1}\n"
        f"case-002,t2_sagittal,{t2}\n"
        "case-003,t2_sagittal,data/not-mounted.nii.gz\n")
    return root


@pytest.fixture
def session_dir(session_source, tmp_path):
    folder = tmp_path / "sess"
    sessionmod.create_session(folder, session_source / "cases.csv", "reader1")
    return folder


def new_logic():
    ctx = create_headless_context()
    red = slicer.vtkMRMLSliceNode()
    red.SetLayoutName("Red")
    ctx.scene.AddNode(red)
    return ctx, ISCMAssistLogic(ctx.scene, ctx.logics)


def place_read(logic, phantom):
    place_phantom_levels(logic, phantom)
    first = place_phantom_lesion(logic, phantom)
    logic.setReaderValue("lesion", "t2_signal", "hyperintense", first)
    second = logic.addLesion()
    logic.addLesionMarkup(second, "lesion_si", [[0, -20, 20], [0, -20, 8]])
    return first, second


def test_crash_then_reopen_resumes_the_same_case_and_read(session_dir, phantom):
    ctx, logic = new_logic()
    logic.openSession(session_dir, "reader1")
    assert logic.openSessionCase("case-003") == "case-003"
    # the path shown is the session's link (issue 12 item 8: no folder name of the data), not the data's own
    assert any("series/case-003/t2_sagittal.nii.gz not found" in warning for warning in logic.warnings())
    first, second = place_read(logic, phantom)
    assert logic.autosaveNow() is True
    assert logic.autosaveNow() is False                      # nothing changed since
    # the reader moves a point, selects lesion 1, scrolls the red view; the timer saves
    si = logic.lesionNodes(second)["lesion_si"]
    si.SetNthControlPointPositionWorld(1, 0, -20, 0)
    parameter_node = logic.getParameterNode()
    parameter_node.SetParameter("activeLesionId", first)
    parameter_node.SetParameter("nextLevelLabel", "T9")
    red = ctx.scene.GetFirstNodeByClass("vtkMRMLSliceNode")
    red.GetSliceToRAS().SetElement(0, 3, 7.5)
    red.UpdateMatrices()
    assert logic.autosaveNow() is True
    saved = copy.deepcopy(logic.getCase())
    assert saved["lesions"][1]["size_mm"]["si"] == 20.0
    # a change after the last autosave, then the crash: no flush, no close
    si.SetNthControlPointPositionWorld(1, 0, -20, -10)
    logic.cleanup()
    ctx.close()

    ctx2, logic2 = new_logic()
    try:
        logic2.openSession(session_dir, "reader1")
        assert logic2.nextCase() == "case-003"                # resumed, although case-001 is unread
        case = logic2.getCase()
        assert rounded(case) == rounded(saved)
        assert case["lesions"][0]["t2_signal"] == "hyperintense"
        assert logic2.lesionIds() == [first, second]
        assert logic2.getParameterNode().GetParameter("activeLesionId") == first
        assert logic2.getParameterNode().GetParameter("nextLevelLabel") == "T9"
        assert ctx2.scene.GetFirstNodeByClass("vtkMRMLSliceNode").GetSliceToRAS().GetElement(0, 3) == 7.5
        assert logic2.sessionOpenedUiState()["next_level_label"] == "T9"
        # and the resumed read is live and saved again
        logic2.lesionNodes(second)["lesion_si"].SetNthControlPointPositionWorld(1, 0, -20, 4)
        assert logic2.autosaveNow() is True
        on_disk = json.loads((session_dir / "reads" / "reader1" / "case-003.json").read_text())
        assert on_disk["lesions"][1]["size_mm"]["si"] == 16.0
    finally:
        logic2.cleanup()
        ctx2.close()


def test_next_case_loads_series_mark_done_moves_on(session_dir, logic):
    assert logic.sessionProgressText() == "No session open"
    logic.openSession(session_dir, "reader1")
    assert logic.sessionProgressText() == "reader1: 0 of 3 read"
    assert logic.nextCase() == "case-001"
    assert logic.seriesVolume("t2_sagittal").GetName() == "t2_sagittal"     # named by the session's link
    assert logic.seriesVolume("t1_post").GetName() == "t1_post"
    assert logic.getCase()["reader"]["name"] == "reader1"
    assert logic.sessionProgressText() == "reader1: 0 of 3 read (1 in progress); case case-001"
    logic.setReaderValue("patient_findings", "leptomeningeal_metastases", True)
    logic.markDone()                                          # flushes the change first
    saved = json.loads((session_dir / "reads" / "reader1" / "case-001.json").read_text())
    assert saved["patient_findings"]["leptomeningeal_metastases"] is True
    assert sessionmod.open_session(session_dir).status("reader1", "case-001") == "done"

    assert logic.nextCase() == "case-002"
    volumes = logic.scene.GetNodesByClass("vtkMRMLScalarVolumeNode")
    assert volumes.GetNumberOfItems() == 1                    # case-001's two series were removed
    assert logic.seriesVolume("t1_post") is None
    assert logic.getCase()["patient_findings"]["leptomeningeal_metastases"] is None   # a new read
    assert logic.sessionProgressText() == "reader1: 1 of 3 read (1 in progress); case case-002"
    logic.markDone()
    assert logic.nextCase() == "case-003"
    logic.markDone()
    assert logic.nextCase() is None
    assert logic.sessionProgressText() == "reader1: 3 of 3 read"


def test_autosave_is_debounced_by_the_dirty_flag(session_dir, logic, phantom):
    logic.openSession(session_dir, "reader1")
    logic.nextCase()
    place_read(logic, phantom)
    count = logic.sessionSaveCount
    node = logic.lesionNodes("L2")["lesion_si"]
    for z in range(20):                                       # a drag: 20 moves between two timer ticks
        node.SetNthControlPointPositionWorld(1, 0, -20, float(z) - 10)
    assert logic.autosaveNow() is True
    assert logic.sessionSaveCount == count + 1
    assert logic.autosaveNow() is False
    saved = json.loads((session_dir / "reads" / "reader1" / "case-001.json").read_text())
    assert saved["lesions"][1]["size_mm"]["si"] == 11.0       # 20 -> 9
    logic.setCaseInfo(notes="checked")                        # not a recompute, still a change
    logic.closeSession()                                      # flushes
    saved = json.loads((session_dir / "reads" / "reader1" / "case-001.json").read_text())
    assert saved["notes"] == "checked"
    assert not logic.sessionIsOpen() and logic.autosaveNow(force=True) is False


def test_session_errors_name_the_problem(session_dir, logic, tmp_path):
    with pytest.raises(SessionError, match="no research session is open"):
        logic.nextCase()
    with pytest.raises(SessionError, match="reader name 'bad name'"):
        logic.openSession(session_dir, "bad name")
    with pytest.raises(SessionError, match="not a session folder"):
        logic.openSession(tmp_path, "reader1")
    logic.openSession(session_dir, "reader1")
    with pytest.raises(SessionError, match="press Next case first"):
        logic.markDone()
    with pytest.raises(SessionError, match="no case 'case-999'"):
        logic.openSessionCase("case-999")


def test_scene_close_flushes_then_never_saves_the_empty_scene(session_dir, logic, phantom):
    logic.openSession(session_dir, "reader1")
    logic.nextCase()
    place_read(logic, phantom)                                # changed, not yet saved by the timer
    logic.scene.Clear(0)
    read = session_dir / "reads" / "reader1" / "case-001.json"
    assert len(json.loads(read.read_text())["lesions"]) == 2
    assert logic.sessionCaseId() is None
    logic.addLesion()                                         # the empty scene changes...
    assert logic.autosaveNow() is False                       # ...and is not saved over the read
    assert len(json.loads(read.read_text())["lesions"]) == 2
    assert logic.nextCase() == "case-001"                     # resumes
    assert logic.lesionIds() == ["L1", "L2"]


def test_opening_another_case_stops_autosave(session_dir, logic, phantom, tmp_path):
    from ISCMAssistLib.case import new_case
    from ISCMAssistLib.case_io import save_case

    logic.openSession(session_dir, "reader1")
    logic.nextCase()
    place_read(logic, phantom)
    logic.autosaveNow()
    save_case(new_case("other-case", "reader1"), tmp_path / "other.json")
    logic.openAny(tmp_path / "other.json")
    assert logic.autosaveNow() is False
    assert logic.sessionCaseId() is None
    assert any("autosave stopped" in warning for warning in logic.warnings())
    saved = json.loads((session_dir / "reads" / "reader1" / "case-001.json").read_text())
    assert saved["case_id"] == "case-001" and len(saved["lesions"]) == 2


def test_editing_the_reader_name_stops_autosave_instead_of_failing(session_dir, logic, phantom):
    logic.openSession(session_dir, "reader1")
    logic.nextCase()
    place_read(logic, phantom)
    assert logic.autosaveNow() is True
    logic.setCaseInfo(readerName="reader2")
    logic.addLesion()
    assert logic.autosaveNow() is False
    assert any("read by 'reader2'" in warning and "autosave stopped" in warning for warning in logic.warnings())
    saved = json.loads((session_dir / "reads" / "reader1" / "case-001.json").read_text())
    assert saved["reader"]["name"] == "reader1" and len(saved["lesions"]) == 2
