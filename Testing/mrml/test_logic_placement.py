"""Placing and deleting markups with the mouse, what the views are centred on, window/level and the
level points' list, through the Logic both front ends call (scene/placement.py, lesions.py,
levels.py, series.py), on slicer-core's real MRML."""

from __future__ import annotations

import numpy as np
import pytest

from ISCMAssistLib.scene.errors import RoleError
from ISCMAssistLib.scene.names import LEVEL_POINTS_COLOR, NEXT_LEVEL_PARAMETER, lesionColor

# the `logic` fixture (ISCMAssistLogic on a fresh headless scene) comes from Testing/mrml/conftest.py


@pytest.fixture
def views(context):
    """The scene's selection and interaction nodes (the headless context has them, as the app does)."""
    return {name: context.scene.GetNodeByID(f"vtkMRML{name}NodeSingleton") for name in ("Selection", "Interaction")}


def test_placing_a_line_selects_the_line_class_and_stops(logic, views):
    lesion = logic.addLesion()
    node = logic.placeMarkup("lesion_si", lesion)
    assert views["Selection"].GetActivePlaceNodeClassName() == "vtkMRMLMarkupsLineNode"
    assert views["Selection"].GetActivePlaceNodeID() == node.GetID()
    assert logic.isPlacing() and not views["Interaction"].GetPlaceModePersistence()
    logic.stopPlacement()
    assert not logic.isPlacing()


def test_placing_without_a_lesion_adds_one(logic, views):
    node = logic.placeMarkup("edema_si")
    assert logic.lesionIds() == ["L1"] and logic.lesionNodes("L1")["edema_si"] is node


def test_replacing_a_complete_line_or_the_conus_starts_it_anew(logic, views):
    lesion = logic.addLesion()
    node = logic.addLesionMarkup(lesion, "lesion_si", [[0, 0, 10], [0, 0, -10]])
    assert logic.placeMarkup("lesion_si", lesion) is node
    assert node.GetNumberOfControlPoints() == 0
    logic.setConus([0, 0, -100])
    assert logic.placeMarkup("conus").GetNumberOfControlPoints() == 0


def test_a_segmentation_is_not_placed(logic, views):
    with pytest.raises(RoleError, match="painted"):
        logic.placeMarkup("lesion_segment", logic.addLesion())


def test_level_placement_is_persistent_and_proposes_the_next_label(logic, views):
    logic.setLevelLandmarks(["T4", "T5"], [[0, 0, 20], [0, 0, 0]])
    logic.getParameterNode().SetParameter(NEXT_LEVEL_PARAMETER, "")
    logic.placeMarkup("levels")
    assert logic.getParameterNode().GetParameter(NEXT_LEVEL_PARAMETER) == "T5/T6"
    assert views["Interaction"].GetPlaceModePersistence()
    logic.getParameterNode().SetParameter(NEXT_LEVEL_PARAMETER, "T9")
    assert logic.proposeNextLevelLabel() == "T9"  # a label the reader set is kept


def test_level_points_have_their_own_colour_and_lesions_keep_theirs(logic):
    node = logic.setLevelLandmarks(["T4", "T5"], [[0, 0, 20], [0, 0, 0]])
    display = node.GetDisplayNode()
    assert np.allclose(display.GetSelectedColor(), LEVEL_POINTS_COLOR)
    assert display.GetTextScale() < 3.0
    line = logic.addLesionMarkup(logic.addLesion(), "lesion_si", [[0, 0, 10], [0, 0, 0]])
    assert np.allclose(line.GetDisplayNode().GetSelectedColor(), lesionColor("L1"))


def test_level_point_rows_give_index_label_and_s_position(logic):
    logic.setLevelLandmarks(["T4", "T4/T5", "T5"], [[0, 0, 20], [0, 0, 10.04], [0, 0, 0]])
    rows = logic.levelPointRows()
    assert [(row["index"], row["label"], row["s_mm"], row["kind"]) for row in rows] == \
        [(0, "T4", 20.0, "body"), (1, "T4/T5", 10.0, "disc"), (2, "T5", 0.0, "body")]


def test_the_point_following_the_mouse_while_placing_is_not_a_level_point(logic):
    logic.setLevelLandmarks(["T4", "T5"], [[0, 0, 20], [0, 0, 0]])
    node = logic.levelsNode()
    preview = node.AddControlPoint(0, 0, -40, "T5/T6")
    node.SetNthControlPointPosition(preview, 0, 0, -40, node.PositionPreview)
    assert [row["label"] for row in logic.levelPointRows()] == ["T4", "T5"]
    assert logic.focusPointRas() == [0.0, 0.0, 10.0]


def test_deleting_a_level_point_and_a_lesion_line(logic):
    logic.setLevelLandmarks(["T4", "T5", "T6"], [[0, 0, 20], [0, 0, 0], [0, 0, -20]])
    logic.removeControlPoint("levels", 1)
    assert logic.levelLabels() == ["T4", "T6"]
    with pytest.raises(ValueError, match="levels: no point 5"):
        logic.removeControlPoint("levels", 5)
    lesion = logic.addLesion()
    logic.addLesionMarkup(lesion, "lesion_si", [[0, 0, 15], [0, 0, 5]])
    logic.addLesionMarkup(lesion, "edema_si", [[0, 0, 25], [0, 0, -5]])
    assert logic.getCase()["lesions"][0]["t2_length_segments"] is not None
    logic.removeLesionMarkup(lesion, "edema_si")
    assert set(logic.lesionNodes(lesion)) == {"lesion_si"} and logic.lesionIds() == [lesion]
    assert "edema_si" not in logic.getCase()["lesions"][0]["lines_lps"]
    logic.removeControlPoint("lesion_si", 0, lesion)
    assert logic.lesionNodes(lesion)["lesion_si"].GetNumberOfControlPoints() == 1
    logic.removeLesionMarkup(lesion, "edema_si")  # nothing left to delete: a no-op
    with pytest.raises(RoleError):
        logic.removeLesionMarkup("", "edema_si")


def test_focus_point_is_the_lesion_line_else_the_level_points(logic):
    assert logic.focusPointRas() is None
    logic.setLevelLandmarks(["T4", "T5"], [[0, 0, 20], [0, 0, 0]])
    assert np.allclose(logic.focusPointRas(), [0, 0, 10])
    lesion = logic.addLesion()
    logic.addLesionMarkup(lesion, "edema_si", [[1, -20, 40], [1, -20, 0]])
    assert np.allclose(logic.focusPointRas(lesion), [1, -20, 20])
    logic.addLesionMarkup(lesion, "lesion_si", [[1, -20, 30], [1, -20, 20]])
    assert np.allclose(logic.focusPointRas(lesion), [1, -20, 25])


def test_window_level_of_a_series(logic, phantom):
    assert logic.seriesWindowLevel("t2_sagittal") == {"window": 1.0, "level": 0.0, "min": 0.0, "max": 1.0}
    logic.setSeriesWindowLevel("t2_sagittal", 100, 50)  # no series: a no-op
    node = logic.addSeriesVolume(phantom.t2, "T2", "t2_sagittal")
    low, high = node.GetImageData().GetScalarRange()
    logic.setSeriesWindowLevel("t2_sagittal", 300, 120)
    shown = logic.seriesWindowLevel("t2_sagittal")
    assert shown == {"window": 300.0, "level": 120.0, "min": low, "max": high}
    assert not node.GetDisplayNode().GetAutoWindowLevel()
    with pytest.raises(RoleError, match="t2_axial"):
        logic.seriesWindowLevel("t2_axial")
