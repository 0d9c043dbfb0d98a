"""Where an SR line or point lies on a source image: LPS mm <-> SCOORD image coordinates.

SCOORD image coordinates (DICOM PS3.3 C.18.6.1.2, Graphic Data) are (column, row) pairs at
sub-pixel resolution with (0.0, 0.0) at the top left corner of the top left pixel, so the centre of
pixel (column i, row j) is (i + 0.5, j + 0.5). The transforms are highdicom's
``ReferenceToImageTransformer`` / ``ImageToReferenceTransformer``, which use that convention.

A set of points "lies on" an image when every point is within half a slice of the image plane (the
spacing between adjacent slices of its series, else its SliceThickness, else 1 mm) and inside the
pixel matrix. Among such images the one with the smallest out-of-plane distance is chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Tolerance for an image with no neighbour in its stack and no SliceThickness (mm).
_DEFAULT_HALF_SLICE_MM = 0.5


@dataclass(frozen=True)
class ImagePlane:
    """One single-frame image or one frame of a multi-frame image, as the SR references it.

    sop_class_uid / sop_instance_uid: the image; frame: 1-based frame number for multi-frame images,
    else None; geometry: image position (3, LPS mm), orientation (6 cosines) and pixel spacing
    (row spacing, column spacing in mm); rows / columns: matrix size; half_slice_mm: tolerance.
    """

    sop_class_uid: str
    sop_instance_uid: str
    frame: int | None
    position: tuple[float, float, float]
    orientation: tuple[float, ...]
    spacing: tuple[float, float]
    rows: int
    columns: int
    half_slice_mm: float

    def geometry(self) -> list[float]:
        """Return position (3) + orientation (6) + spacing (2) as 11 floats (for the SR supplement)."""
        return [*self.position, *self.orientation, *self.spacing]


def _floats(value: Any, count: int) -> tuple[float, ...] | None:
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == count and all(np.isfinite(numbers)) else None


def _frame_planes(dataset: Any) -> list[tuple[int | None, Any, Any, Any]]:
    """(frame, position, orientation, spacing) for each frame of one image header."""
    frames = int(dataset.get("NumberOfFrames") or 1)
    if frames <= 1 and "PerFrameFunctionalGroupsSequence" not in dataset:
        return [(None, dataset.get("ImagePositionPatient"), dataset.get("ImageOrientationPatient"),
                 dataset.get("PixelSpacing"))]
    shared = (dataset.get("SharedFunctionalGroupsSequence") or [None])[0]
    planes = []
    for number, item in enumerate(dataset.get("PerFrameFunctionalGroupsSequence") or [], start=1):
        def attribute(sequence: str, keyword: str) -> Any:
            for source in (item, shared):
                if source is not None and sequence in source and source[sequence].value:
                    value = source[sequence][0].get(keyword)
                    if value is not None:
                        return value
            return None
        planes.append((number, attribute("PlanePositionSequence", "ImagePositionPatient"),
                       attribute("PlaneOrientationSequence", "ImageOrientationPatient"),
                       attribute("PixelMeasuresSequence", "PixelSpacing")))
    return planes


def image_planes(datasets: Sequence[Any]) -> list[ImagePlane]:
    """Take image headers (pydicom Datasets); return every image plane with usable geometry.

    Images without position, orientation or pixel spacing are left out. The half-slice tolerance is
    half the median spacing between neighbouring planes of the same series and orientation.
    """
    raw = []
    for dataset in datasets:
        rows, columns = dataset.get("Rows"), dataset.get("Columns")
        if not rows or not columns:
            continue
        thickness = _floats([dataset.get("SliceThickness") or 0], 1)
        for frame, position, orientation, spacing in _frame_planes(dataset):
            position, orientation, spacing = _floats(position or (), 3), _floats(orientation or (), 6), _floats(spacing or (), 2)
            if position is None or orientation is None or spacing is None or min(spacing) <= 0:
                continue
            raw.append((dataset, frame, position, orientation, spacing, int(rows), int(columns),
                        thickness[0] if thickness else 0.0))
    half = _half_slices(raw)
    return [ImagePlane(str(d.SOPClassUID), str(d.SOPInstanceUID), frame, position, orientation, spacing,
                       rows, columns, half[index])
            for index, (d, frame, position, orientation, spacing, rows, columns, _t) in enumerate(raw)]


def _half_slices(raw: list) -> list[float]:
    """Half the slice spacing of each plane's stack (same series and orientation), else half its thickness."""
    stacks: dict[tuple, list[int]] = {}
    for index, (dataset, _f, _p, orientation, *_rest) in enumerate(raw):
        key = (str(dataset.get("SeriesInstanceUID", "")), tuple(round(v, 4) for v in orientation))
        stacks.setdefault(key, []).append(index)
    half = [0.0] * len(raw)
    for members in stacks.values():
        normal = np.cross(raw[members[0]][3][:3], raw[members[0]][3][3:])
        offsets = np.sort([float(np.dot(raw[i][2], normal)) for i in members])
        steps = np.diff(offsets)
        steps = steps[steps > 1e-3]
        for i in members:
            if len(steps):
                half[i] = float(np.median(steps)) / 2
            else:
                half[i] = raw[i][7] / 2 if raw[i][7] > 0 else _DEFAULT_HALF_SLICE_MM
    return half


def _affines(planes: Sequence[ImagePlane]) -> np.ndarray:
    """(P, 4, 4) LPS mm -> (column, row, out-of-plane mm) matrices, from highdicom's transformer."""
    from highdicom.spatial import ReferenceToImageTransformer

    return np.stack([ReferenceToImageTransformer(p.position, p.orientation, p.spacing).affine for p in planes])


#: how far past an image's edge a point may lie and still be on the image, in pixels
_EDGE_PX = 1e-6


class PlaneFinder:
    """The image planes of the source images, ready to place many lines and points quickly."""

    def __init__(self, planes: Sequence[ImagePlane]) -> None:
        """Take image planes (image_planes); the transforms are computed once here."""
        self.planes = list(planes)
        self._affines = _affines(self.planes) if self.planes else np.zeros((0, 4, 4))
        self._half = np.array([p.half_slice_mm for p in self.planes]) + 1e-6
        self._size = np.array([[p.columns, p.rows] for p in self.planes], dtype=float).reshape(-1, 2)

    def place(self, points_lps: Any) -> tuple[ImagePlane, np.ndarray] | None:
        """Take points (N, 3) in LPS mm; return (plane, (N, 2) column/row image coordinates) for the
        plane they lie on (see module docstring), or None when none fits."""
        if not self.planes:
            return None
        points = np.asarray(points_lps, dtype=float).reshape(-1, 3)
        homogeneous = np.vstack([points.T, np.ones(len(points))])
        coordinates = np.einsum("pij,jn->pin", self._affines, homogeneous)[:, :3, :]  # (P, 3, N)
        distance = np.abs(coordinates[:, 2, :]).max(axis=1)
        # within a micro-pixel of the edge counts as on it: a point drawn on the edge comes back from
        # LPS with rounding (48.000000000000007 of 48 columns)
        inside = np.all((coordinates[:, :2, :] >= -_EDGE_PX) & (coordinates[:, :2, :] <= self._size[:, :, None] + _EDGE_PX),
                        axis=(1, 2))
        fits = np.flatnonzero((distance <= self._half) & inside)
        if not len(fits):
            return None
        best = int(fits[np.argmin(distance[fits])])
        return self.planes[best], coordinates[best, :2, :].T.copy()


def image_to_lps(geometry: Sequence[float], coordinates: Any) -> list[list[float]]:
    """Take 11 plane numbers (ImagePlane.geometry) and (N, 2) column/row image coordinates; return
    the points in LPS mm, on the image plane."""
    from highdicom.spatial import ImageToReferenceTransformer

    geometry = [float(v) for v in geometry]
    transformer = ImageToReferenceTransformer(geometry[:3], geometry[3:9], geometry[9:11])
    return transformer(np.asarray(coordinates, dtype=float).reshape(-1, 2)).tolist()
