"""Slicer .mrk.json files: LPS in the file, RAS in memory; clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ISCMAssistLib.markups_io import (
    MARKUPS_SCHEMA_URL,
    MarkupsFileError,
    read_line,
    read_markups,
    write_line,
    write_point_list,
)


def test_point_list_file_layout_is_slicers(tmp_path):
    path = tmp_path / "levels.mrk.json"
    write_point_list(path, ["T4", "T4/T5"], [[10.0, -20.0, 30.0], [1.0, 2.0, 3.0]], "Levels", ["body", "disc"])
    document = json.loads(path.read_text())
    assert document["@schema"] == MARKUPS_SCHEMA_URL
    assert MARKUPS_SCHEMA_URL.endswith("markups-schema-v1.0.3.json#")
    [markup] = document["markups"]
    assert (markup["type"], markup["name"], markup["coordinateSystem"], markup["coordinateUnits"]) == (
        "Fiducial", "Levels", "LPS", "mm")
    first = markup["controlPoints"][0]
    assert first == {
        "id": "1", "label": "T4", "description": "body", "associatedNodeID": "",
        "position": [-10.0, 20.0, 30.0],  # RAS (10, -20, 30) is LPS (-10, 20, 30)
        "orientation": [-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0],
        "selected": True, "locked": False, "visibility": True, "positionStatus": "defined",
    }
    assert markup["controlPoints"][1]["id"] == "2" and markup["controlPoints"][1]["position"] == [-1.0, -2.0, 3.0]
    assert path.read_text().endswith("}\n")


def test_point_list_round_trip(tmp_path):
    path = tmp_path / "p.mrk.json"
    points = np.array([[1.5, -2.25, 3.0], [0.0, 0.0, -300.0], [-7.0, 8.0, 9.5]])
    write_point_list(path, ["C2", "T1", "conus"], points, "Levels")
    [node] = read_markups(path)
    assert node.type == "Fiducial" and node.name == "Levels"
    assert node.labels == ["C2", "T1", "conus"] and node.descriptions == ["", "", ""]
    np.testing.assert_allclose(node.points_ras, points)
    assert node.points_ras.shape == (3, 3)


def test_empty_point_list(tmp_path):
    path = tmp_path / "e.mrk.json"
    write_point_list(path, [], [], "Empty")
    [node] = read_markups(path)
    assert node.labels == [] and node.points_ras.shape == (0, 3)


def test_line_round_trip_and_labels(tmp_path):
    path = tmp_path / "line.mrk.json"
    write_line(path, np.array([1.0, 2.0, 3.0]), [4.0, 6.0, 3.0], "Lesion 1 SI")
    [node] = read_markups(path)
    assert node.type == "Line" and node.name == "Lesion 1 SI"
    assert node.labels == ["Lesion 1 SI-1", "Lesion 1 SI-2"]
    np.testing.assert_allclose(node.points_ras, [[1, 2, 3], [4, 6, 3]])
    p0, p1 = read_line(path)
    assert float(np.linalg.norm(p1 - p0)) == pytest.approx(5.0)
    stored = json.loads(path.read_text())["markups"][0]["controlPoints"][1]["position"]
    assert stored == [-4.0, -6.0, 3.0]


def slicer_file(markups: list[dict]) -> str:
    return json.dumps({"@schema": MARKUPS_SCHEMA_URL, "markups": markups})


def test_ras_file_and_um_units_and_unplaced_points(tmp_path):
    path = tmp_path / "ras.mrk.json"
    path.write_text(slicer_file([
        {"type": "Fiducial", "coordinateSystem": "RAS", "controlPoints": [
            {"label": "a", "position": [1, 2, 3]},
            {"label": "b", "position": [0, 0, 0], "positionStatus": "undefined"},
            {"label": "c", "position": [4, 5, 6], "positionStatus": "defined"}]},
        {"type": "Line", "name": "L", "coordinateSystem": "LPS", "coordinateUnits": "um",
         "controlPoints": [{"position": [1000, 2000, 3000]}, {"position": [0, 0, 500]}]},
        {"type": "ROI", "coordinateUnits": ["mm", "UCUM", "millimeter"], "controlPoints": []},
    ]))
    points, line, roi = read_markups(path)
    assert points.name == "" and points.labels == ["a", "c"]
    np.testing.assert_allclose(points.points_ras, [[1, 2, 3], [4, 5, 6]])  # RAS file: as is
    np.testing.assert_allclose(line.points_ras, [[-1, -2, 3], [0, 0, 0.5]])  # LPS um -> RAS mm
    assert roi.type == "ROI" and roi.points_ras.shape == (0, 3)


@pytest.mark.parametrize("content,message", [
    ('{"markups": [', "not valid JSON at line 1, column 14"),
    ('{"@schema": "x"}', "no markups"),
    ('{"markups": []}', "no markups"),
    ('[1, 2]', "no markups"),
    (slicer_file([{"type": "Line", "controlPoints": [{"position": [0, 0, 0]}]}]),
     "markups[0]: a Line needs 2 placed points, has 1"),
    (slicer_file([{"type": "Fiducial", "controlPoints": [{"position": [0, 0]}]}]),
     "markups[0].controlPoints[0].position: expected 3 numbers, got [0, 0]"),
    (slicer_file([{"type": "Fiducial", "controlPoints": [{"position": [0, "1", 0]}]}]),
     "markups[0].controlPoints[0].position: expected 3 numbers"),
    (slicer_file([{"type": "Fiducial", "coordinateSystem": "XYZ", "controlPoints": []}]),
     "markups[0]: coordinateSystem 'XYZ' is not LPS or RAS"),
    (slicer_file([{"type": "Fiducial", "coordinateUnits": "cm", "controlPoints": []}]),
     "markups[0]: coordinateUnits 'cm' is not mm or um"),
    (slicer_file([{"controlPoints": []}]), "markups[0]: has no type"),
])
def test_bad_files_raise_a_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.mrk.json"
    path.write_text(content)
    with pytest.raises(MarkupsFileError) as info:
        read_markups(path)
    assert str(info.value).startswith(f"{path}: {message}")
    assert isinstance(info.value, ValueError) and isinstance(info.value, OSError)


def test_missing_file(tmp_path):
    with pytest.raises(MarkupsFileError, match="file not found"):
        read_markups(tmp_path / "none.mrk.json")


def test_read_line_rejects_a_point_list(tmp_path):
    path = tmp_path / "p.mrk.json"
    write_point_list(path, ["T4"], [[0, 0, 0]], "Levels")
    with pytest.raises(MarkupsFileError, match="expected one Line markup, found Fiducial"):
        read_line(path)


@pytest.mark.parametrize("labels,points,descriptions,message", [
    (["a", "b"], [[0, 0, 0]], None, "2 labels but 1 points"),
    (["a"], [[0, 0]], None, "points_ras must have shape (N, 3)"),
    (["a"], [[0, 0, float("nan")]], None, "points_ras must be finite"),
    (["a"], [[0, 0, 0]], ["x", "y"], "1 labels but 2 descriptions"),
])
def test_write_point_list_rejects_bad_input(tmp_path, labels, points, descriptions, message):
    path = tmp_path / "w.mrk.json"
    with pytest.raises(MarkupsFileError) as info:
        write_point_list(path, labels, points, "X", descriptions)
    assert message in str(info.value) and str(path) in str(info.value)
    assert not path.exists()


def test_write_line_rejects_bad_points(tmp_path):
    with pytest.raises(MarkupsFileError, match="p1_ras must have shape"):
        write_line(tmp_path / "l.mrk.json", [0, 0, 0], [1, 2], "L")
