"""Automatic levels in the module (propose, shift the column, rename one point -> the others follow) on
phantom volumes in slicer-core's real MRML."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import truth_lines

from ISCMAssistLib.autolevels import AutoLevelsError
from ISCMAssistLib.phantom import make_spine_phantom
from ISCMAssistLib.scene.errors import RoleError
from ISCMAssistLib.scene.levels import NAMING_UNCERTAIN_MESSAGE
from ISCMAssistLib.scene.names import LEVEL_MESSAGES_ATTRIBUTE
from ISCMAssistLib.vertebrae import landmark_coordinate
from ISCMAssistLib.volumes import Volume


@pytest.fixture(scope="module")
def cervical():
    return make_spine_phantom("cervical", noise=0.0)


def nearest_truth(phantom, points) -> list[str]:
    """The phantom's landmark label nearest each point (RAS mm); asserts each is within 2 mm."""
    labels = []
    for point in points:
        distances = {label: np.linalg.norm(np.asarray(p) - point) for label, p in phantom.landmarks.items()}
        label = min(distances, key=distances.get)
        assert distances[label] < 2.0, (label, distances[label])
        labels.append(label)
    return labels


def level_points(logic) -> tuple[list[str], np.ndarray]:
    node = logic.levelsNode()
    n = node.GetNumberOfControlPoints()
    return ([node.GetNthControlPointLabel(i) for i in range(n)],
            np.array([node.GetNthControlPointPositionWorld(i) for i in range(n)]))


def test_propose_fills_the_level_points_named_and_placed(logic, cervical):
    logic.addSeriesVolume(cervical.t2, "SAG T2", "t2_sagittal")
    progress = []
    proposal = logic.proposeLevels(progress=lambda f, m: progress.append(f))
    labels, points = level_points(logic)
    assert labels == proposal.labels and labels[:3] == ["C2", "C2/C3", "C3"]
    assert nearest_truth(cervical, points) == labels
    node = logic.levelsNode()
    assert node.GetNthControlPointDescription(0).startswith("auto body, confidence ")
    case = logic.getCase()
    assert case["levels"]["source"] == "automatic"
    assert [item["label"] for item in case["levels"]["landmarks"]] == labels
    assert proposal.naming_confident and NAMING_UNCERTAIN_MESSAGE not in logic.warnings()
    messages = [f"automatic levels: {message}" for message in proposal.messages]
    assert logic.levelMessages() == messages and set(messages) <= set(logic.warnings())
    assert progress == sorted(progress) and progress[-1] == 1.0


def test_uncertain_names_warn_and_shift_fixes_the_whole_column(logic, phantom):
    logic.addSeriesVolume(phantom.t2, "SAG T2", "t2_sagittal")
    proposal = logic.proposeLevels()
    # a thoracic field of view shows neither the dens nor the sacrum: names from spacing alone
    uncertain = any(warning.startswith(NAMING_UNCERTAIN_MESSAGE) for warning in logic.warnings())
    assert uncertain == (not proposal.naming_confident)
    labels, points = level_points(logic)
    truth = nearest_truth(phantom, points)
    up = logic.shiftLevelLabels(-1)
    assert [landmark_coordinate(label) for label in up] == [landmark_coordinate(label) - 1 for label in labels]
    assert NAMING_UNCERTAIN_MESSAGE not in logic.warnings()
    assert logic.shiftLevelLabels(+1) == labels
    offset = landmark_coordinate(truth[0]) - landmark_coordinate(labels[0])
    assert offset == int(offset)
    fixed = logic.shiftLevelLabels(int(offset)) if offset else labels
    after, moved = level_points(logic)
    assert fixed == after == truth and np.array_equal(moved, points)
    assert [item["label"] for item in logic.getCase()["levels"]["landmarks"]] == truth


def test_renaming_one_point_refits_the_others(logic, phantom):
    logic.addSeriesVolume(phantom.t2, "SAG T2", "t2_sagittal")
    logic.proposeLevels()
    logic.shiftLevelLabels(+1)                         # whatever was proposed, now it is wrong
    labels, points = level_points(logic)
    truth = nearest_truth(phantom, points)
    assert labels != truth
    node = logic.levelsNode()
    node.SetAttribute(LEVEL_MESSAGES_ATTRIBUTE, json.dumps([NAMING_UNCERTAIN_MESSAGE]))
    node.SetNthControlPointLabel(5, truth[5])          # what the Markups module does on a rename
    after, moved = level_points(logic)
    assert after == truth and np.array_equal(moved, points)
    assert [item["label"] for item in logic.getCase()["levels"]["landmarks"]] == truth
    assert NAMING_UNCERTAIN_MESSAGE not in logic.warnings()
    # the read counts with the corrected names
    lesion_id = logic.addLesion()
    with logic.batch():
        for role, line in truth_lines(phantom).items():
            logic.addLesionMarkup(lesion_id, role, line)
    assert logic.getCase()["lesions"][0]["levels"] == phantom.lesion.levels


def test_rename_method_and_its_errors(logic):
    logic.setLevelLandmarks(["T4", "T4/T5", "T5"], [[0, 0, 20], [0, 0, 10], [0, 0, 0]])
    assert logic.renameLevelPoint(0, "T6") == ["T6", "T6/T7", "T7"]
    with pytest.raises(AutoLevelsError, match="anchor_label"):
        logic.renameLevelPoint(0, "X9")
    with pytest.raises(AutoLevelsError, match="anchor_index"):
        logic.renameLevelPoint(7, "T4")
    assert logic.levelLabels() == ["T6", "T6/T7", "T7"]
    with pytest.raises(AutoLevelsError, match="leaves C1..S1"):
        logic.shiftLevelLabels(-30)
    assert logic.levelLabels() == ["T6", "T6/T7", "T7"]


def test_a_bad_rename_keeps_the_others_and_warns(logic):
    logic.setLevelLandmarks(["C2", "C2/C3", "C3"], [[0, 0, 20], [0, 0, 10], [0, 0, 0]])
    logic.levelsNode().SetNthControlPointLabel(2, "C1")    # C1 at the bottom would put the others above C1
    assert logic.levelLabels() == ["C2", "C2/C3", "C1"]
    assert any("not re-fitted" in warning for warning in logic.warnings())


def test_placing_and_batch_updates_do_not_refit(logic):
    logic.getParameterNode().SetParameter("nextLevelLabel", "T4")
    node = logic.levelsNode()
    for z in (20, 10, 0):
        node.AddControlPointWorld(0, 0, z)
    assert logic.levelLabels() == ["T4", "T4/T5", "T5"]
    logic.setLevelLandmarks(["C2", "T9", "L1"], [[0, 0, 20], [0, 0, 10], [0, 0, 0]])
    assert logic.levelLabels() == ["C2", "T9", "L1"]
    logic.refitLevelNames = False
    node.SetNthControlPointLabel(0, "C3")
    assert logic.levelLabels() == ["C3", "T9", "L1"]


def test_propose_needs_a_series_and_reports_no_spine(logic):
    with pytest.raises(RoleError, match="no t2_sagittal series"):
        logic.proposeLevels()
    logic.setLevelLandmarks(["T4", "T5"], [[0, 0, 20], [0, 0, 0]])
    blank = Volume(np.full((15, 200, 150), 100.0, dtype=np.float32), np.diag([1.0, 1.0, 2.0, 1.0]))
    logic.addSeriesVolume(blank, "blank", "t2_sagittal")
    proposal = logic.proposeLevels()
    assert not proposal.spine_found
    assert logic.levelLabels() == ["T4", "T5"]
    assert any(warning.startswith("automatic levels: no spine found") for warning in logic.warnings())
    assert logic.getCase()["levels"]["source"] == "landmarks"
