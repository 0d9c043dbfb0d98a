"""Slicer markups files (.mrk.json): point lists and lines, LPS mm in the file, RAS mm in memory.

The layout is what Slicer's Markups module writes (schema markups-schema-v1.0.3): a top-level
"@schema" URL and a "markups" list; each markup has type, name, coordinateSystem, coordinateUnits
and controlPoints (id, label, description, associatedNodeID, position, orientation, selected,
locked, visibility, positionStatus). Reading accepts "LPS" and "RAS" files and mm or um units.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .coords import lps_to_ras, ras_to_lps
from .files import atomic_write_text, read_json

MARKUPS_SCHEMA_URL = (
    "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/Resources/Schema/"
    "markups-schema-v1.0.3.json#"
)
#: Identity orientation of a control point as Slicer writes it in an LPS file.
_LPS_ORIENTATION = [-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0]
#: Markup types whose number of control points is fixed.
_FIXED_POINT_COUNTS = {"Line": 2, "Angle": 3}
_UNIT_TO_MM = {"mm": 1.0, "um": 0.001}


class MarkupsFileError(OSError, ValueError):
    """A markups file that cannot be read or holds no usable markup; the message names the file."""


@dataclass
class MarkupsNodeData:
    """One markup read from a .mrk.json file.

    type: Slicer's markup type ("Fiducial", "Line", "Angle", "Curve", "ClosedCurve", "Plane", "ROI");
    name: the markup's name ("" when the file has none); labels: one per control point;
    points_ras: (N, 3) float array, RAS mm; descriptions: one per control point ("" when none).
    Only control points whose positionStatus is "defined" (or absent) are kept.
    """

    type: str
    name: str
    labels: list[str] = field(default_factory=list)
    points_ras: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    descriptions: list[str] = field(default_factory=list)


def _points_array(points_ras: Any, what: str, path: str | os.PathLike) -> np.ndarray:
    try:
        points = np.array(points_ras, dtype=float)
    except (TypeError, ValueError):
        raise MarkupsFileError(f"{path}: {what} must be numbers (RAS mm), got {points_ras!r}") from None
    if points.ndim == 1:
        points = points.reshape(1, -1)
    if points.ndim != 2 or points.shape[1] != 3:
        raise MarkupsFileError(f"{path}: {what} must have shape (N, 3) (RAS mm), got {np.shape(points_ras)}")
    if not np.all(np.isfinite(points)):
        raise MarkupsFileError(f"{path}: {what} must be finite numbers (RAS mm)")
    return points


def _control_point(index: int, label: str, description: str, position_lps: np.ndarray) -> dict:
    return {
        "id": str(index + 1),
        "label": label,
        "description": description,
        "associatedNodeID": "",
        "position": [float(v) + 0.0 for v in position_lps],  # + 0.0 turns -0.0 into 0.0
        "orientation": list(_LPS_ORIENTATION),
        "selected": True,
        "locked": False,
        "visibility": True,
        "positionStatus": "defined",
    }


def _markup(markup_type: str, name: str, labels: Sequence[str], points_ras: np.ndarray,
            descriptions: Sequence[str]) -> dict:
    points_lps = ras_to_lps(points_ras)
    return {
        "type": markup_type,
        "name": name,
        "coordinateSystem": "LPS",
        "coordinateUnits": "mm",
        "locked": False,
        "fixedNumberOfControlPoints": False,
        "labelFormat": "%N-%d",
        "lastUsedControlPointNumber": len(labels),
        "controlPoints": [
            _control_point(i, str(label), str(description), point)
            for i, (label, description, point) in enumerate(zip(labels, descriptions, points_lps))
        ],
        "measurements": [],
    }


def _write(path: str | os.PathLike, markup: dict) -> None:
    document = {"@schema": MARKUPS_SCHEMA_URL, "markups": [markup]}
    atomic_write_text(path, json.dumps(document, indent=4, ensure_ascii=False) + "\n")


def write_point_list(path: str | os.PathLike, labels: Sequence[str], points_ras: Any, name: str,
                     descriptions: Sequence[str] | None = None) -> None:
    """Write a point list (Slicer "Fiducial" markup) to a .mrk.json file, atomically.

    labels: one per point (e.g. "T4", "T4/T5", "conus"); points_ras: (N, 3) RAS mm (stored as LPS);
    name: the node name; descriptions: one per point or None (all ""). Raises MarkupsFileError when
    the counts differ or the points are not (N, 3) finite numbers; FileWriteError when writing fails.
    """
    points = _points_array(points_ras, "points_ras", path) if len(labels) else np.zeros((0, 3))
    if len(points) != len(labels):
        raise MarkupsFileError(f"{path}: {len(labels)} labels but {len(points)} points")
    if descriptions is None:
        descriptions = [""] * len(labels)
    if len(descriptions) != len(labels):
        raise MarkupsFileError(f"{path}: {len(labels)} labels but {len(descriptions)} descriptions")
    _write(path, _markup("Fiducial", name, labels, points, descriptions))


def write_line(path: str | os.PathLike, p0_ras: Any, p1_ras: Any, name: str) -> None:
    """Write a line markup (two points, RAS mm, stored as LPS) named ``name`` to a .mrk.json file, atomically.

    The point labels are "<name>-1" and "<name>-2", as Slicer names them. Raises MarkupsFileError for
    points that are not 3 finite numbers; FileWriteError when writing fails.
    """
    points = np.vstack([_points_array(p0_ras, "p0_ras", path), _points_array(p1_ras, "p1_ras", path)])
    if len(points) != 2:
        raise MarkupsFileError(f"{path}: a line needs exactly 2 points, got {len(points)}")
    _write(path, _markup("Line", name, [f"{name}-1", f"{name}-2"], points, ["", ""]))


def _scale_to_mm(units: Any, where: str) -> float:
    if units is None:
        return 1.0
    code = units[0] if isinstance(units, list) and units else units
    if not isinstance(code, str) or code not in _UNIT_TO_MM:
        raise MarkupsFileError(f"{where}: coordinateUnits {units!r} is not mm or um")
    return _UNIT_TO_MM[code]


def _parse_markup(markup: Any, where: str) -> MarkupsNodeData:
    if not isinstance(markup, dict):
        raise MarkupsFileError(f"{where}: expected an object, got {type(markup).__name__}")
    markup_type = markup.get("type")
    if not isinstance(markup_type, str) or not markup_type:
        raise MarkupsFileError(f"{where}: has no type")
    system = markup.get("coordinateSystem", "LPS")
    if system not in ("LPS", "RAS"):
        raise MarkupsFileError(f"{where}: coordinateSystem {system!r} is not LPS or RAS")
    scale = _scale_to_mm(markup.get("coordinateUnits"), where)
    control_points = markup.get("controlPoints", [])
    if not isinstance(control_points, list):
        raise MarkupsFileError(f"{where}.controlPoints: expected a list")
    labels: list[str] = []
    descriptions: list[str] = []
    positions: list[list[float]] = []
    for index, point in enumerate(control_points):
        at = f"{where}.controlPoints[{index}]"
        if not isinstance(point, dict):
            raise MarkupsFileError(f"{at}: expected an object")
        if point.get("positionStatus", "defined") != "defined":
            continue  # a point being placed or not placed yet has no meaningful position
        position = point.get("position")
        if (not isinstance(position, list) or len(position) != 3
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in position)):
            raise MarkupsFileError(f"{at}.position: expected 3 numbers, got {position!r}")
        positions.append([float(v) * scale for v in position])
        labels.append(str(point.get("label", "")))
        descriptions.append(str(point.get("description", "")))
    points = np.array(positions, dtype=float).reshape(-1, 3)
    if not np.all(np.isfinite(points)):
        raise MarkupsFileError(f"{where}: control point positions must be finite numbers")
    if system == "LPS":
        points = lps_to_ras(points)
    expected = _FIXED_POINT_COUNTS.get(markup_type)
    if expected is not None and len(points) != expected:
        raise MarkupsFileError(f"{where}: a {markup_type} needs {expected} placed points, has {len(points)}")
    name = markup.get("name", "")
    return MarkupsNodeData(markup_type, name if isinstance(name, str) else str(name), labels, points, descriptions)


def read_markups(path: str | os.PathLike) -> list[MarkupsNodeData]:
    """Read a .mrk.json file; return its markups in file order, points in RAS mm.

    Accepts files in "LPS" (Slicer's default) or "RAS" coordinates, mm or um units. Raises
    MarkupsFileError naming the file (and markup index) for a missing file, bad JSON (line/column),
    no markups, a control point without 3 numbers, or a Line/Angle with the wrong number of points.
    """
    document = read_json(path, MarkupsFileError, "Slicer .mrk.json file")
    markups = document.get("markups") if isinstance(document, dict) else None
    if not isinstance(markups, list) or not markups:
        raise MarkupsFileError(f"{path}: no markups (expected a Slicer .mrk.json with a \"markups\" list)")
    return [_parse_markup(markup, f"{path}: markups[{index}]") for index, markup in enumerate(markups)]


def read_line(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a .mrk.json file holding one Line markup; return its two end points (RAS mm, shape (3,)).

    Raises MarkupsFileError when the file holds anything other than exactly one Line.
    """
    markups = read_markups(path)
    if len(markups) != 1 or markups[0].type != "Line":
        found = ", ".join(m.type for m in markups)
        raise MarkupsFileError(f"{path}: expected one Line markup, found {found}")
    return markups[0].points_ras[0], markups[0].points_ras[1]
