"""Our .mrk.json files against slicer-core's real Markups storage: Slicer reads ours, we read Slicer's."""

from __future__ import annotations

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core (real MRML) is not installed")
import vtk  # noqa: E402

from ISCMAssistLib.markups_io import read_line, read_markups, write_line, write_point_list  # noqa: E402


@pytest.fixture
def markups():
    """A fresh MRML scene with a Markups logic on it; returns (scene, logic)."""
    scene = slicer.vtkMRMLScene()
    scene.AddNode(slicer.vtkMRMLSelectionNode())
    logic = slicer.vtkSlicerMarkupsLogic()
    logic.SetMRMLScene(scene)
    yield scene, logic
    logic.SetMRMLScene(None)
    scene.Clear(True)


def points_of(node) -> np.ndarray:
    out = np.zeros((node.GetNumberOfControlPoints(), 3))
    for index in range(len(out)):
        position = [0.0, 0.0, 0.0]
        node.GetNthControlPointPosition(index, position)
        out[index] = position
    return out


def test_slicer_loads_our_point_list_with_ras_positions_and_labels(markups, tmp_path):
    scene, logic = markups
    path = tmp_path / "levels.mrk.json"
    points = np.array([[10.0, -20.0, 30.0], [1.5, 2.0, -3.25], [0.0, 4.0, -300.0]])
    write_point_list(path, ["T4", "T4/T5", "conus"], points, "Levels", ["body", "disc", "tip"])
    node_id = logic.LoadMarkups(str(path), "Levels")
    assert node_id
    node = scene.GetNodeByID(node_id)
    assert node.IsA("vtkMRMLMarkupsFiducialNode") and node.GetName() == "Levels"
    assert [node.GetNthControlPointLabel(i) for i in range(3)] == ["T4", "T4/T5", "conus"]
    assert [node.GetNthControlPointDescription(i) for i in range(3)] == ["body", "disc", "tip"]
    np.testing.assert_allclose(points_of(node), points, atol=1e-9)


def test_slicer_loads_our_line_with_its_length(markups, tmp_path):
    scene, logic = markups
    path = tmp_path / "si.mrk.json"
    write_line(path, [1.0, 2.0, 3.0], [1.0, 5.0, 7.0], "Lesion 1 SI")
    node = scene.GetNodeByID(logic.LoadMarkups(str(path), "Lesion 1 SI"))
    assert node.IsA("vtkMRMLMarkupsLineNode") and node.GetName() == "Lesion 1 SI"
    np.testing.assert_allclose(points_of(node), [[1, 2, 3], [1, 5, 7]], atol=1e-9)
    assert node.GetLineLengthWorld() == pytest.approx(5.0)


def write_with_slicer(scene, node, path) -> None:
    storage = node.CreateDefaultStorageNode()
    scene.AddNode(storage)
    node.SetAndObserveStorageNodeID(storage.GetID())
    storage.SetFileName(str(path))
    assert storage.WriteData(node) == 1


def test_we_read_slicers_point_list(markups, tmp_path):
    scene, _logic = markups
    node = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "Slicer levels")
    node.AddControlPoint(vtk.vtkVector3d(10.0, -20.0, 30.0), "C2")
    node.AddControlPoint(vtk.vtkVector3d(-1.0, 0.5, -44.0), "C2/C3")
    node.SetNthControlPointDescription(1, "disc")
    path = tmp_path / "slicer_points.mrk.json"
    write_with_slicer(scene, node, path)
    assert '"coordinateSystem": "LPS"' in path.read_text()  # Slicer stores LPS
    [data] = read_markups(path)
    assert data.type == "Fiducial" and data.labels == ["C2", "C2/C3"] and data.descriptions == ["", "disc"]
    np.testing.assert_allclose(data.points_ras, [[10, -20, 30], [-1, 0.5, -44]], atol=1e-9)


def test_we_read_slicers_line(markups, tmp_path):
    scene, _logic = markups
    node = scene.AddNewNodeByClass("vtkMRMLMarkupsLineNode", "Lesion 2 AP")
    node.AddControlPoint(vtk.vtkVector3d(3.0, -60.0, -120.0))
    node.AddControlPoint(vtk.vtkVector3d(3.0, -53.5, -120.0))
    path = tmp_path / "slicer_line.mrk.json"
    write_with_slicer(scene, node, path)
    p0, p1 = read_line(path)
    np.testing.assert_allclose([p0, p1], [[3, -60, -120], [3, -53.5, -120]], atol=1e-9)
    assert float(np.linalg.norm(p1 - p0)) == pytest.approx(node.GetLineLengthWorld())


def test_round_trip_slicer_then_us_then_slicer(markups, tmp_path):
    scene, logic = markups
    node = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "Conus")
    node.AddControlPoint(vtk.vtkVector3d(0.25, 12.0, -410.0), "conus")
    first = tmp_path / "a.mrk.json"
    write_with_slicer(scene, node, first)
    [data] = read_markups(first)
    second = tmp_path / "b.mrk.json"
    write_point_list(second, data.labels, data.points_ras, data.name or "Conus", data.descriptions)
    again = scene.GetNodeByID(logic.LoadMarkups(str(second), "Conus"))
    np.testing.assert_allclose(points_of(again), [[0.25, 12.0, -410.0]], atol=1e-9)
    assert again.GetNthControlPointLabel(0) == "conus"
