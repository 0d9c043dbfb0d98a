"""The web panel's additions to the Logic (ISCMAssistLib/web/needs_logic.py, to move into the scene
layer) on slicer-core's real MRML, headless: placement of lines, undo, autosave of the read folder."""

from __future__ import annotations

import numpy as np
import pytest

from ISCMAssistLib.web import needs_logic

# the `logic` fixture (ISCMAssistLogic on a fresh headless scene) comes from Testing/mrml/conftest.py


def test_placing_a_line_selects_the_line_class(logic):
    lesion = logic.addLesion()
    node = needs_logic.place_markup(logic, "lesion_si", lesion)
    selection = logic.scene.GetNodeByID("vtkMRMLSelectionNodeSingleton")
    interaction = logic.scene.GetNodeByID("vtkMRMLInteractionNodeSingleton")
    assert selection.GetActivePlaceNodeClassName() == "vtkMRMLMarkupsLineNode"
    assert selection.GetActivePlaceNodeID() == node.GetID()
    assert needs_logic.placing(logic) and not interaction.GetPlaceModePersistence()
    needs_logic.stop_placement(logic)
    assert not needs_logic.placing(logic)


def test_replacing_a_complete_line_starts_it_anew(logic):
    lesion = logic.addLesion()
    node = logic.addLesionMarkup(lesion, "lesion_si", [[0, 0, 10], [0, 0, -10]])
    assert needs_logic.place_markup(logic, "lesion_si", lesion) is node
    assert node.GetNumberOfControlPoints() == 0


def test_level_placement_proposes_the_next_label(logic):
    logic.setLevelLandmarks(["T4", "T5"], [[0, 0, 20], [0, 0, 0]])
    needs_logic.place_markup(logic, "levels")
    assert needs_logic.propose_next_level_label(logic) == "T5/T6"
    assert logic.scene.GetNodeByID("vtkMRMLInteractionNodeSingleton").GetPlaceModePersistence()


def test_undo_puts_back_the_case_before_the_last_settled_change(logic):
    logic.setLevelLandmarks(["T4", "T5", "T6"], [[0, 0, 40], [0, 0, 20], [0, 0, 0]])
    history = needs_logic.CaseHistory(logic)
    history.reset()
    lesion = logic.addLesion()
    logic.addLesionMarkup(lesion, "lesion_si", [[0, 0, 30], [0, 0, 10]])
    history.observe()
    history.observe()  # settled: one step
    before = logic.getCase()["lesions"][0]["lines_lps"]["si"]
    logic.lesionNodes(lesion)["lesion_si"].SetNthControlPointPositionWorld(1, 0, 0, 5)
    assert history.undo()
    assert logic.getCase()["lesions"][0]["lines_lps"]["si"] == before
    assert history.undo() and logic.lesionIds() == []


def test_undo_refuses_a_read_it_cannot_rebuild(logic):
    history = needs_logic.CaseHistory(logic)
    history.reset()
    lesion = logic.addLesion()
    logic.addLesionMarkup(lesion, "lesion_roi", [[0, 0, 0], [6, 7, 17]])
    with pytest.raises(ValueError, match="ROI or a segmentation"):
        history.undo()


def test_autosave_writes_the_read_folder_once_per_change(logic, tmp_path):
    saver = needs_logic.ReadAutosaver(logic, tmp_path / "read", interval_s=0.0)
    saver.mark_saved()
    assert not saver.autosave()  # empty scene: never saved over a read
    logic.setLevelLandmarks(["T4", "T5"], [[0, 0, 20], [0, 0, 0]])
    assert saver.autosave() and (tmp_path / "read" / "iscm-assist-read.json").is_file()
    assert not saver.autosave()
    assert needs_logic.level_points(logic)[1] == {"index": 1, "label": "T5", "s_mm": 0.0}
    assert np.allclose(needs_logic.focus_point_ras(logic, None), [0, 0, 10])
