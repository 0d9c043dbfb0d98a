"""ISCMAssistLogic on slicer-core's real MRML: roles, live recomputation, checklist overrides, observers.

Expected values are the phantom's ground truth (ISCMAssistLib.phantom): a nodule spanning T4-T5
(2 segments; 6 x 7 x 17 mm AP x transverse x SI) with cord edema over T3-T7 (5 segments).
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import slicer
from conftest import place_phantom_levels, rounded, truth_lines

from ISCMAssistLib.case import CaseValidationError
from ISCMAssistLib.scene.errors import RoleError
from ISCMAssistLib.scene.headless import create_headless_context
from ISCMAssistLib.scene.logic import ISCMAssistLogic
from ISCMAssistLib.scene.names import LESION_ATTRIBUTE, ROLE_ATTRIBUTE, lesionColor

POINT_EVENTS = 5  # markups events observed per markups node (see scene/logic.py _MARKUP_EVENTS)
SCENE_EVENTS = 5  # NodeAdded, NodeRemoved, StartClose (session flush), EndClose, EndImport


def row(logic, lesion_id="L1") -> dict[str, str]:
    return next(r for r in logic.tableRows() if r["Lesion ID"] == lesion_id)


def test_phantom_read_fills_table_with_ground_truth(phantom_read, phantom):
    logic, lesion_id = phantom_read
    assert lesion_id == "L1"
    r = row(logic)
    assert r["Lesion"] == "Lesion 1"
    assert r["Levels"] == phantom.lesion.levels == "T4-T5"
    assert r["Location"] == "thoracic"
    assert float(r["Length of enhancement (segments)"]) == 2
    assert float(r["Length of cord T2 hyperintensity (segments)"]) == 5
    assert float(r["Ratio T2 length / enhancement length"]) == 2.5
    assert float(r["AP size (mm)"]) == 6.0
    assert float(r["Transverse size (mm)"]) == 7.0
    assert float(r["SI size (mm)"]) == 17.0
    lesion = logic.getCase()["lesions"][0]
    assert lesion["provenance"]["size_mm"] == "derived"
    assert logic.getCase()["patient_findings"]["multiplicity"] == "solitary"
    # lines are stored in LPS: x and y negated
    si_ras = truth_lines(phantom)["lesion_si"]
    assert lesion["lines_lps"]["si"][0] == pytest.approx([-si_ras[0][0], -si_ras[0][1], si_ras[0][2]])
    hint_ids = {hint["id"] for hint in logic.hints()}
    assert "edema_extensive" in hint_ids
    edema_hint = next(h for h in logic.hints() if h["id"] == "edema_extensive")
    assert edema_hint["evidence"] and all(e["line"] for e in edema_hint["evidence"])


def test_moving_a_point_updates_table_parameter_node_and_hints(phantom_read, phantom):
    logic, lesion_id = phantom_read
    edema = logic.lesionNodes(lesion_id)["edema_si"]
    lesion_si = truth_lines(phantom)["lesion_si"]
    # Shrink the edema to the nodule's own SI extent: 2 segments, ratio 1.
    edema.SetNthControlPointPositionWorld(0, *lesion_si[0])
    edema.SetNthControlPointPositionWorld(1, *lesion_si[1])
    r = row(logic)
    assert float(r["Length of cord T2 hyperintensity (segments)"]) == 2
    assert float(r["Ratio T2 length / enhancement length"]) == 1.0
    assert "edema_extensive" not in {hint["id"] for hint in logic.hints()}
    case_text = logic.getParameterNode().GetParameter("caseJson")
    assert '"t2_length_segments":2' in case_text
    # Lengthen the SI line by moving one end 10 mm caudally: 27 mm.
    si = logic.lesionNodes(lesion_id)["lesion_si"]
    p1 = np.array(si.GetNthControlPointPositionWorld(1))
    si.SetNthControlPointPositionWorld(1, *(p1 - [0, 0, 10]))
    assert float(row(logic)["SI size (mm)"]) == 27.0


def test_roles_names_folders_and_colours(logic):
    first = logic.addLesion()
    second = logic.addLesion()
    assert (first, second) == ("L1", "L2")
    node = logic.addLesionMarkup(second, "lesion_ap", [[0, 0, 0], [0, 5, 0]])
    assert node.GetName() == "Lesion 2 AP"
    assert node.GetAttribute(ROLE_ATTRIBUTE) == "lesion_ap"
    assert node.GetAttribute(LESION_ATTRIBUTE) == "L2"
    sh = logic.scene.GetSubjectHierarchyNode()
    folder = sh.GetItemParent(sh.GetItemByDataNode(node))
    assert sh.GetItemName(folder) == "Lesion 2"
    assert sh.GetItemAttribute(folder, LESION_ATTRIBUTE) == "L2"
    assert node.GetDisplayNode().GetSelectedColor() == pytest.approx(lesionColor("L2"))
    assert lesionColor("L1") != lesionColor("L2")
    assert logic.addLesionMarkup(second, "lesion_ap") is node  # one node per role
    with pytest.raises(RoleError, match="lesion role 'tumour'"):
        logic.addLesionMarkup(second, "tumour")
    with pytest.raises(RoleError, match="'Lesion3'"):
        logic.addLesionMarkup("Lesion3", "lesion_ap")
    assert [r["Lesion"] for r in logic.tableRows()] == ["Lesion 1", "Lesion 2"]
    assert logic.getCase()["patient_findings"]["multiplicity"] == "multiple"


def test_reader_override_survives_recomputation_and_can_be_reverted(phantom_read):
    logic, lesion_id = phantom_read
    logic.setReaderValue("lesion", "enhancement_length_segments", 3, lesion_id)
    logic.setReaderValue("lesion", "t2_signal", "hyperintense", lesion_id)
    logic.setReaderValue("clinical", "primary_tumor", "lung")
    # Move a point: recomputation must keep the reader's values.
    si = logic.lesionNodes(lesion_id)["lesion_si"]
    si.SetNthControlPointPositionWorld(0, *np.array(si.GetNthControlPointPositionWorld(0)) + [0, 0, 1])
    lesion = logic.getCase()["lesions"][0]
    assert lesion["enhancement_length_segments"] == 3
    assert lesion["provenance"]["enhancement_length_segments"] == "reader"
    assert lesion["t2_to_enhancement_ratio"] == round(5 / 3, 2)  # the ratio uses the reader's count
    assert lesion["t2_signal"] == "hyperintense"
    assert logic.getCase()["clinical"]["primary_tumor"] == "lung"
    assert row(logic)["Set by reader"] == "enhancement_length_segments, t2_signal"
    logic.revertToDerived("lesion", "enhancement_length_segments", lesion_id)
    lesion = logic.getCase()["lesions"][0]
    assert lesion["enhancement_length_segments"] == 2
    assert lesion["provenance"]["enhancement_length_segments"] == "derived"


def test_every_checklist_feature_is_overridable(phantom_read):
    from ISCMAssistLib.case import LESION_FEATURES

    logic, lesion_id = phantom_read
    for feature in LESION_FEATURES:
        value = {"enum": feature.values[0] if feature.values else None, "boolean": True, "integer": 4,
                 "number": 1.5, "sizes": {"ap": 1.0, "transverse": 2.0, "si": 3.0}, "text": "T4"}[feature.kind]
        if feature.name == "origin":
            logic.setReaderValue("lesion", "position", "eccentric", lesion_id)
        logic.setReaderValue("lesion", feature.name, value, lesion_id)
        assert logic.getCase()["lesions"][0][feature.name] == value
        assert logic.getCase()["lesions"][0]["provenance"][feature.name] == "reader"


def test_bad_checklist_value_is_refused_and_case_unchanged(phantom_read):
    logic, lesion_id = phantom_read
    before = logic.getParameterNode().GetParameter("caseJson")
    with pytest.raises(CaseValidationError, match="position"):
        logic.setReaderValue("lesion", "position", "middle", lesion_id)
    with pytest.raises(RoleError, match="'L7' is not in the scene"):
        logic.setReaderValue("lesion", "position", "central", "L7")
    assert logic.getParameterNode().GetParameter("caseJson") == before


def test_bad_level_label_is_a_warning_not_a_crash(logic):
    lesion_id = logic.addLesion()
    logic.setLevelLandmarks(["T4", "X9"], [[0, 0, 100], [0, 0, 70]])
    logic.addLesionMarkup(lesion_id, "lesion_si", [[0, 0, 90], [0, 0, 80]])
    assert any("X9" in warning for warning in logic.warnings())
    lesion = logic.getCase()["lesions"][0]
    assert lesion["levels"] is None
    assert lesion["size_mm"]["si"] == 10.0


def test_roi_gives_three_sizes(phantom_read, phantom):
    logic, _ = phantom_read
    lesion_id = logic.addLesion()
    centre = phantom.lesion.nodule_center_ras
    logic.addLesionMarkup(lesion_id, "lesion_roi", [centre, [7.0, 6.0, 17.0]])
    r = row(logic, lesion_id)
    assert (float(r["Transverse size (mm)"]), float(r["AP size (mm)"]), float(r["SI size (mm)"])) == (7.0, 6.0, 17.0)
    assert r["Levels"] == "T4-T5"
    assert math.isnan(float(r["Length of cord T2 hyperintensity (segments)"]))


def observer_count(node) -> int:
    return sum(node.HasObserver(event) for event in (
        slicer.vtkMRMLMarkupsNode.PointModifiedEvent, slicer.vtkMRMLMarkupsNode.PointAddedEvent,
        slicer.vtkMRMLMarkupsNode.PointRemovedEvent))


def test_removing_a_lesion_removes_its_nodes_and_observers(phantom_read):
    logic, first = phantom_read
    second = logic.addLesion()
    logic.addLesionMarkup(second, "lesion_si", [[0, 0, 60], [0, 0, 50]])
    first_nodes = list(logic.lesionNodes(first).values())
    assert len(first_nodes) == 4 and all(observer_count(node) == 3 for node in first_nodes)
    before = len(logic.Observations)
    logic.removeLesion(first)
    assert len(logic.Observations) == before - 4 * POINT_EVENTS
    assert all(node.GetScene() is None for node in first_nodes)
    assert all(observer_count(node) == 0 for node in first_nodes)
    assert logic.lesionIds() == [second]
    assert [r["Lesion ID"] for r in logic.tableRows()] == [second]
    assert [lesion["id"] for lesion in logic.getCase()["lesions"]] == [second]
    assert first not in logic._lesionFolders()
    assert logic.addLesion() == "L3"  # ids are not reused


def test_deleting_a_markup_node_by_hand_updates_the_read(phantom_read):
    logic, lesion_id = phantom_read
    node = logic.lesionNodes(lesion_id)["edema_si"]
    logic.scene.RemoveNode(node)
    assert observer_count(node) == 0
    assert "edema_si" not in logic.getCase()["lesions"][0]["lines_lps"]


def test_scene_close_drops_every_node_observer(phantom_read):
    logic, lesion_id = phantom_read
    nodes = list(logic.lesionNodes(lesion_id).values()) + [logic.roleNode("levels")]
    assert logic.observedNodeCount() == 5
    logic.scene.Clear(0)
    assert logic.observedNodeCount() == 0
    assert len(logic.Observations) == SCENE_EVENTS
    assert all(observer_count(node) == 0 for node in nodes)
    # the logic keeps working on the emptied scene
    assert logic.addLesion() == "L1"
    assert logic.getCase()["lesions"][0]["levels"] is None
    logic.cleanup()
    assert len(logic.Observations) == 0


def _save_scene(context, folder) -> str:
    """Write every storable node's data and the .mrml; return the scene file path."""
    scene = context.scene
    nodes = scene.GetNodesByClass("vtkMRMLStorableNode")
    for index in range(nodes.GetNumberOfItems()):
        node = nodes.GetItemAsObject(index)
        storage = node.GetStorageNode() or node.CreateDefaultStorageNode()
        if storage is None:
            continue
        if storage.GetScene() is None:
            scene.AddNode(storage)
            node.SetAndObserveStorageNodeID(storage.GetID())
        storage.SetFileName(os.path.join(folder, f"{node.GetID()}.{storage.GetDefaultWriteFileExtension()}"))
        assert storage.WriteData(node)
    path = os.path.join(folder, "scene.mrml")
    scene.SetRootDirectory(str(folder))
    scene.SetURL(path)
    assert scene.Commit()
    return path


def test_roles_and_overrides_survive_scene_save_and_reload(phantom_read, tmp_path):
    logic, lesion_id = phantom_read
    logic.setReaderValue("lesion", "morphology", "ill_defined", lesion_id)
    expected = logic.getCase()
    path = _save_scene(type("C", (), {"scene": logic.scene})(), tmp_path)

    other = create_headless_context()
    reloaded = ISCMAssistLogic(other.scene, other.logics)
    try:
        other.scene.SetURL(path)
        assert other.scene.Import()
        assert reloaded.lesionIds() == [lesion_id]
        assert set(reloaded.lesionNodes(lesion_id)) == {"lesion_si", "lesion_ap", "lesion_transverse", "edema_si"}
        assert reloaded.observedNodeCount() == 5
        case = reloaded.getCase()
        assert case["lesions"][0]["morphology"] == "ill_defined"
        assert case["lesions"][0]["provenance"]["morphology"] == "reader"
        assert rounded(case) == rounded(expected)  # .mrk.json round trip: last-bit float differences
        # live again after reload
        edema = reloaded.lesionNodes(lesion_id)["edema_si"]
        edema.SetNthControlPointPositionWorld(1, *edema.GetNthControlPointPositionWorld(0))
        assert reloaded.getCase()["lesions"][0]["t2_length_segments"] == 1
    finally:
        reloaded.cleanup()
        other.close()


def test_series_selection_goes_into_the_case(logic, phantom):
    node = logic.addSeriesVolume(phantom.t2, "SAG T2", "t2_sagittal")
    assert logic.seriesVolume("t2_sagittal") is node
    assert node.GetImageData().GetDimensions() == phantom.t2.array.shape[::-1]
    case = logic.recompute()
    assert case["series"] == [{"role": "t2_sagittal", "series_uid": None, "file": None, "description": "SAG T2"}]
    with pytest.raises(RoleError, match="series role 't3'"):
        logic.setSeriesVolume("t3", node)


def test_checklist_rows_and_text_entry(phantom_read):
    logic, lesion_id = phantom_read
    rows = {r["field"]: r for r in logic.checklistRows("lesion", lesion_id)}
    assert rows["levels"]["text"] == "T4-T5" and rows["levels"]["source"] == "derived"
    assert rows["size_mm.si"]["label"] == "Size of enhancing lesion, SI (mm)" and rows["size_mm.si"]["text"] == "17.0"
    assert rows["position"]["choices"] == ["", "central", "eccentric", "exophytic"]
    assert rows["cord_expansion"]["choices"] == ["", "yes", "no"]
    assert rows["t2_signal"]["source"] == "" and rows["t2_signal"]["derivable"] is False
    logic.setReaderText("lesion", "cord_expansion", "yes", lesion_id)
    logic.setReaderText("lesion", "size_mm.si", "18.5", lesion_id)
    logic.setReaderText("lesion", "enhancement_length_segments", "3", lesion_id)
    logic.setReaderText("patient_findings", "leptomeningeal_sites", "cord_conus, cauda_equina")
    logic.setReaderText("clinical", "sex", "female")
    case = logic.getCase()
    assert case["lesions"][0]["cord_expansion"] is True
    assert case["lesions"][0]["size_mm"] == {"ap": 6.0, "transverse": 7.0, "si": 18.5}
    assert case["lesions"][0]["enhancement_length_segments"] == 3
    assert case["patient_findings"]["leptomeningeal_sites"] == ["cord_conus", "cauda_equina"]
    assert case["clinical"]["sex"] == "female"
    rows = {r["field"]: r for r in logic.checklistRows("lesion", lesion_id)}
    assert rows["size_mm.si"]["source"] == "reader" and rows["size_mm.ap"]["source"] == "derived"
    with pytest.raises(CaseValidationError, match="age_years: 'old' is not a number"):
        logic.setReaderText("clinical", "age_years", "old")
    with pytest.raises(CaseValidationError, match="hemorrhage: 'maybe' is not yes or no"):
        logic.setReaderText("lesion", "hemorrhage", "maybe", lesion_id)
    patient = [r["field"] for r in logic.checklistRows("patient_findings")]
    assert patient[0] == "multiplicity"


def test_level_points_are_labelled_in_turn(logic):
    from ISCMAssistLib.scene.levels import nextLevelLabel

    assert [nextLevelLabel(x) for x in ("T4", "T4/T5", "C7", "L5/S1", "S1", "conus", "Q1")] == \
        ["T4/T5", "T5", "C7/T1", "S1", "", "", ""]
    logic.getParameterNode().SetParameter("nextLevelLabel", "T4")
    node = logic.levelsNode()
    for z in (100, 90, 80):
        node.AddControlPointWorld(vtk_vector(0, 0, z))
    assert [node.GetNthControlPointLabel(i) for i in range(3)] == ["T4", "T4/T5", "T5"]
    assert logic.getParameterNode().GetParameter("nextLevelLabel") == "T5/T6"
    assert [lm["label"] for lm in logic.getCase()["levels"]["landmarks"]] == ["T4", "T4/T5", "T5"]


def vtk_vector(x, y, z):
    import vtk

    return vtk.vtkVector3d(x, y, z)


def test_series_entry_is_kept_without_a_volume_and_dropped_on_deselect(logic, phantom):
    node = logic.addSeriesVolume(phantom.t2, "SAG T2", "t2_sagittal")
    case = logic.recompute()
    assert [entry["role"] for entry in case["series"]] == ["t2_sagittal"]
    logic.scene.RemoveNode(node)  # images gone (e.g. an opened read): the read still names its series
    assert [entry["description"] for entry in logic.recompute()["series"]] == ["SAG T2"]
    logic.setSeriesVolume("t2_sagittal", None)
    assert logic.recompute()["series"] == []


def test_lesion_segment_gives_sizes_and_levels(logic, phantom):
    from ISCMAssistLib.volumes import Volume

    place_phantom_levels(logic, phantom)
    truth = phantom.lesion
    # the nodule as an ellipsoid mask on the T2 grid (voxel centres inside)
    k, j, i = np.indices(phantom.t2.array.shape)
    ras = (phantom.t2.ijk_to_ras @ np.stack([i.ravel(), j.ravel(), k.ravel(), np.ones(i.size)]))[:3].T
    half = np.array([truth.size_mm["transverse"], truth.size_mm["ap"], truth.size_mm["si"]]) / 2
    inside = (((ras - truth.nodule_center_ras) / half) ** 2).sum(axis=1) <= 1.0
    mask = Volume(inside.reshape(phantom.t2.array.shape).astype(np.uint8), phantom.t2.ijk_to_ras)
    lesion_id = logic.addLesion()
    node = logic.addLesionSegment(lesion_id, "lesion_segment", mask)
    assert node.GetAttribute("ISCMAssist.Role") == "lesion_segment"
    assert node.GetSegmentation().GetNumberOfSegments() == 1
    lesion = logic.getCase()["lesions"][0]
    assert lesion["levels"] == "T4-T5"
    spacing = phantom.t2.spacing_mm
    assert abs(lesion["size_mm"]["si"] - 17.0) <= max(spacing) + 1e-6
    assert abs(lesion["size_mm"]["ap"] - 6.0) <= max(spacing) + 1e-6
    # a drawn line wins over the mask for its axis
    logic.addLesionMarkup(lesion_id, "lesion_si", [[0, 0, 80], [0, 0, 60]])
    assert logic.getCase()["lesions"][0]["size_mm"]["si"] == 20.0
    with pytest.raises(RoleError, match="segment role"):
        logic.addLesionSegment(lesion_id, "lesion_si", mask)


def test_conus_point_defines_the_conus_region(logic, phantom):
    place_phantom_levels(logic, phantom)
    upper, body = np.asarray(phantom.landmarks["T10/T11"]), np.asarray(phantom.landmarks["T11"])
    lower = np.asarray(phantom.landmarks["T11/T12"])
    # a small lesion within the T11 body: u from 17.8 to 18.2
    p0 = upper + (body - upper) * (17.8 - 17.5) / 0.5
    p1 = body + (lower - body) * (18.2 - 18.0) / 0.5
    lesion_id = logic.addLesion()
    logic.addLesionMarkup(lesion_id, "lesion_si", [p0, p1])
    assert logic.getCase()["lesions"][0]["location"] == "thoracic"  # default conus region L1-L2
    node = logic.setConus(lower)  # conus tip at u = 18.5: conus region [16.5, 18.5]
    assert node.GetAttribute("ISCMAssist.Role") == "conus" and node.GetNthControlPointLabel(0) == "conus"
    case = logic.getCase()
    assert case["levels"]["landmarks"][-1]["label"] == "conus"
    assert case["lesions"][0]["location"] == "conus"  # wholly inside the conus region


def test_live_updates_off_defers_recomputation(logic):
    logic.setLevelLandmarks(["T4", "T5"], [[0, 0, 100], [0, 0, 80]])
    lesion_id = logic.addLesion()
    node = logic.addLesionMarkup(lesion_id, "lesion_si", [[0, 0, 95], [0, 0, 85]])
    logic.autoRecompute = False
    with logic.batch():
        node.SetNthControlPointPositionWorld(1, 0, 0, 75)
    node.SetNthControlPointPositionWorld(0, 0, 0, 96)
    assert logic.getCase()["lesions"][0]["size_mm"]["si"] == 10.0  # not recomputed yet
    logic.autoRecompute = True
    assert logic.recompute()["lesions"][0]["size_mm"]["si"] == 21.0
    with pytest.raises(ValueError, match="Lesion 1 SI: a line takes 2 points, got 3"):
        logic.addLesionMarkup(lesion_id, "lesion_si", [[0, 0, 1], [0, 0, 2], [0, 0, 3]])
    with pytest.raises(RoleError, match="takes a mask"):
        logic.addLesionMarkup(lesion_id, "edema_segment", [[0, 0, 1], [0, 0, 2]])
