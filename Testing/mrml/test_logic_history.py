"""Undo of the read (scene/history.py) through the Logic, on slicer-core's real MRML: a settled change
is one step, undo rebuilds the case before it, refuses what a case cannot rebuild, and asking whether
there is something to undo (every refresh, every drag step) serialises nothing."""

from __future__ import annotations

import json

import pytest

from ISCMAssistLib.scene.names import ACTIVE_LESION_PARAMETER

# the `logic` fixture (ISCMAssistLogic on a fresh headless scene) comes from Testing/mrml/conftest.py


def _si(logic):
    return logic.getCase()["lesions"][0]["lines_lps"]["si"]


def test_undo_puts_back_the_case_before_the_last_settled_change(logic):
    logic.setLevelLandmarks(["T4", "T5", "T6"], [[0, 0, 40], [0, 0, 20], [0, 0, 0]])
    logic.resetUndo()
    assert not logic.canUndo()
    lesion = logic.addLesion()
    logic.addLesionMarkup(lesion, "lesion_si", [[0, 0, 30], [0, 0, 10]])
    assert logic.canUndo()
    assert not logic.recordUndoStep()  # changed since the last call: not settled yet
    assert logic.recordUndoStep()  # settled: one step
    assert not logic.recordUndoStep()
    before = _si(logic)
    logic.lesionNodes(lesion)["lesion_si"].SetNthControlPointPositionWorld(1, 0, 0, 5)
    assert logic.undo()
    assert _si(logic) == before
    assert logic.undo() and logic.lesionIds() == []
    assert not logic.canUndo() and not logic.undo()


def test_a_drag_is_one_step(logic):
    logic.setLevelLandmarks(["T4", "T5", "T6"], [[0, 0, 40], [0, 0, 20], [0, 0, 0]])
    lesion = logic.addLesion()
    node = logic.addLesionMarkup(lesion, "lesion_si", [[0, 0, 30], [0, 0, 10]])
    logic.resetUndo()
    before = _si(logic)
    for step in range(10):  # a drag: the timer sees a changing case on every tick
        node.SetNthControlPointPositionWorld(1, 0, 0, 9 - step)
        assert not logic.recordUndoStep()
    assert logic.recordUndoStep()
    assert logic.undo() and _si(logic) == before
    assert not logic.canUndo()


def test_undo_steps_through_checklist_edits_and_keeps_the_active_lesion(logic):
    first = logic.addLesion()
    node = logic.addLesionMarkup(first, "lesion_si", [[0, 0, 30], [0, 0, 10]])
    second = logic.addLesion()
    logic.resetUndo()
    node.SetNthControlPointPositionWorld(1, 0, 0, 5)
    node.SetNthControlPointPositionWorld(1, 0, 0, 10)  # moved back before it settled: no step
    logic.recordUndoStep(), logic.recordUndoStep()
    assert not logic.undo()
    logic.setReaderValue("lesion", "t2_signal", "hyperintense", first)
    logic.recordUndoStep(), logic.recordUndoStep()
    logic.setReaderValue("lesion", "t2_signal", "isointense", first)
    logic.recordUndoStep(), logic.recordUndoStep()
    assert logic.undo() and logic.getCase()["lesions"][0]["t2_signal"] == "hyperintense"
    assert logic.getParameterNode().GetParameter(ACTIVE_LESION_PARAMETER) == second
    assert logic.undo() and logic.getCase()["lesions"][0]["t2_signal"] is None
    assert not logic.canUndo()


def test_undo_refuses_a_read_it_cannot_rebuild(logic):
    logic.resetUndo()
    lesion = logic.addLesion()
    logic.addLesionMarkup(lesion, "lesion_roi", [[0, 0, 0], [6, 7, 17]])
    with pytest.raises(ValueError, match="ROI or a segmentation"):
        logic.undo()


def test_asking_and_recording_during_a_drag_serialises_nothing(logic, monkeypatch):
    logic.setLevelLandmarks(["T4", "T5", "T6"], [[0, 0, 40], [0, 0, 20], [0, 0, 0]])
    node = logic.addLesionMarkup(logic.addLesion(), "lesion_si", [[0, 0, 30], [0, 0, 10]])
    logic.resetUndo()
    logic.recordUndoStep()
    node.SetNthControlPointPositionWorld(1, 0, 0, 8)  # the drag's recomputation stores the case (one dump)
    dumps = []
    real_dumps = json.dumps
    monkeypatch.setattr(json, "dumps", lambda *a, **k: dumps.append(1) or real_dumps(*a, **k))
    for _ in range(100):
        assert logic.canUndo()
    logic.recordUndoStep(), logic.recordUndoStep()
    assert dumps == []
