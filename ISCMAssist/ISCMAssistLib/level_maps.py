"""Level label maps -> level landmarks: body centres and disc planes.

Two kinds of label map name vertebral levels (1 = C1 ... 8 = T1 ...): the cord or canal labelled by
level, as though the vertebrae were projected onto it (PAM50), whose levels touch at the disc planes;
and vertebral-body masks, separated by the discs or touching where a disc is thin. Both give, for
each pair of neighbouring levels, the disc plane midway between their facing surfaces
(``disc_planes.plane_between``), and for each level wholly inside the field of view, its centroid as
the body centre. A level the field of view cuts gives no body centre (its centroid would sit in
the wrong place), only the discs where it meets its neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scipy import ndimage

from .disc_planes import plane_between
from .vertebrae import LEVEL_NAMES, disc_name, level_name


#: Of two neighbouring levels, the voxels within this far (mm) beyond their closest approach make
#: their facing surfaces: the endplates across a disc, or the boundary of two touching cord levels,
#: and not the far parts of a long curved canal level.
FACING_DEPTH_MM = 8.0


class LabelMapError(ValueError):
    """A label map that cannot define vertebral levels; the message names it and says why."""


@dataclass
class LabelMapLandmarks:
    """Landmarks read from a label map: ``labels`` ("T4", "T4/T5"), RAS mm ``points`` (N, 3), disc
    plane ``normals`` (N, 3; NaN rows for body centres) and ``notes`` for the reader (cut levels)."""

    labels: list[str]
    points: np.ndarray
    normals: np.ndarray
    notes: list[str] = field(default_factory=list)


def label_map_landmarks(volume: Any) -> LabelMapLandmarks:
    """Take a level label map Volume (``array`` [k, j, i] of level numbers, 0 = background;
    ``ijk_to_ras`` 4x4); return its LabelMapLandmarks.

    Raises LabelMapError for non-integer or out-of-range values, or fewer than two levels.
    """
    source = getattr(volume, "source", "") or "label map"
    levels = _level_array(volume, source)
    affine = np.asarray(volume.ijk_to_ras, dtype=float)
    present = [int(n) for n in np.flatnonzero(np.bincount(levels.ravel(), minlength=len(LEVEL_NAMES) + 1)) if n > 0]
    if len(present) < 2:
        raise LabelMapError(f"{source}: label map holds {len(present)} level(s); need at least two")
    voxels = _voxels_by_level(levels, present)
    labels: list[str] = []
    points: list[np.ndarray] = []
    normals: list[np.ndarray] = []
    cut: list[str] = []
    no_nan = np.full(3, np.nan)
    for number in present:
        kji = voxels[number]
        ras = kji[:, ::-1].astype(float) @ affine[:3, :3].T + affine[:3, 3]
        if _touches_border(kji, levels.shape):
            cut.append(level_name(number))
        else:
            labels.append(level_name(number))
            points.append(ras.mean(axis=0))
            normals.append(no_nan)
        if number + 1 in voxels:
            upper_kji, lower_kji = _facing_parts(levels, voxels[number], voxels[number + 1], number, affine)
            to_ras = lambda kji: kji[:, ::-1].astype(float) @ affine[:3, :3].T + affine[:3, 3]  # noqa: E731
            plane = plane_between(to_ras(upper_kji), to_ras(lower_kji))
            if plane is not None:
                labels.append(disc_name(number))
                points.append(plane[0])
                normals.append(plane[1])
    notes = []
    if cut:
        notes.append(f"{source}: {', '.join(cut)} cut by the field of view: no body centre taken from "
                     f"{'it' if len(cut) == 1 else 'them'}, only the discs where {'it meets its' if len(cut) == 1 else 'they meet their'} neighbours")
    return LabelMapLandmarks(labels, np.array(points).reshape(-1, 3), np.array(normals).reshape(-1, 3), notes)


def _level_array(volume: Any, source: str) -> np.ndarray:
    """Take a label map Volume; return its array as int64 level numbers, or raise LabelMapError."""
    array = np.asarray(volume.array)
    if array.ndim != 3:
        raise LabelMapError(f"{source}: label map must be 3D, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        if not np.issubdtype(array.dtype, np.floating) or not np.all(np.isfinite(array)) \
                or np.any(array != np.round(array)):
            raise LabelMapError(f"{source}: label map values must be whole level numbers")
    levels = array.astype(np.int64)
    if levels.min() < 0 or levels.max() > len(LEVEL_NAMES):
        raise LabelMapError(
            f"{source}: label map values must be 0 (background) or 1 (C1) to {len(LEVEL_NAMES)} (S1), "
            f"found {levels.min()}..{levels.max()}"
        )
    return levels


def _voxels_by_level(levels: np.ndarray, present: list[int]) -> dict[int, np.ndarray]:
    """Take the level array and the levels present; return {level: its voxel indices [k, j, i] (N, 3)}."""
    flat = levels.ravel()
    inside = np.flatnonzero(flat)
    values = flat[inside]
    order = np.argsort(values, kind="stable")
    bounds = np.searchsorted(values[order], present + [present[-1] + 1])
    out = {}
    for index, number in enumerate(present):
        chosen = inside[order[bounds[index]:bounds[index + 1]]]
        out[number] = np.stack(np.unravel_index(chosen, levels.shape), axis=1)
    return out


def _facing_parts(levels: np.ndarray, upper: np.ndarray, lower: np.ndarray, number: int,
                  affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Take the level array, the voxels [k, j, i] of level ``number`` and of the level below, and
    ijk_to_ras; return the voxels of each that lie within FACING_DEPTH_MM beyond the two levels'
    closest approach to the other."""
    both = np.concatenate([upper, lower])
    low, high = both.min(axis=0), both.max(axis=0) + 1
    box = levels[low[0]:high[0], low[1]:high[1], low[2]:high[2]]
    spacing_kji = np.linalg.norm(affine[:3, :3], axis=0)[::-1]
    parts = []
    for mine, other in ((upper - low, number + 1), (lower - low, number)):
        distance = ndimage.distance_transform_edt(box != other, sampling=spacing_kji)[tuple(mine.T)]
        parts.append(mine[distance <= distance.min() + FACING_DEPTH_MM] + low)
    return parts[0], parts[1]


def _touches_border(kji: np.ndarray, shape: tuple[int, ...]) -> bool:
    """Take voxel indices [k, j, i] (N, 3) and the array shape; return True when any lies on the
    array's outer face (the field of view may cut that label)."""
    return bool(np.any(kji.min(axis=0) == 0) or np.any(kji.max(axis=0) == np.asarray(shape) - 1))
