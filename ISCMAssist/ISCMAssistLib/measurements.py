"""Sizes in mm and extents along the spine from line markups or binary masks.

A mask's SI length follows the cord: it is the arc length of the mask's centreline (centroids of
one-voxel slabs across the cord axis, smoothed over a few mm) plus half a voxel at each end. With a
level model the slabs follow the model's landmark planes, so they stay across a curved cord. AP and transverse sizes are the
extents of the voxels, relative to that centreline, along the anterior and right axes made
orthogonal to the local cord axis, plus one voxel size along that direction.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .levels import LevelModel
    from .volumes import Volume

#: Width (sigma, mm) of the window that smooths the slab centroids into the centreline.
SMOOTHING_MM = 3.0
_SMOOTHING_BLOCK = 512
#: The lesion's axis near each end is fitted to the slab centroids within this distance (mm).
AXIS_FIT_MM = 10.0
#: A mask reaching more than this many segments beyond the outermost landmarks gets a warning.
EXTRAPOLATION_WARNING_SEGMENTS = 2.0

_RIGHT = np.array([1.0, 0.0, 0.0])
_ANTERIOR = np.array([0.0, 1.0, 0.0])
_SUPERIOR = np.array([0.0, 0.0, 1.0])


class MeasurementError(ValueError):
    """A line or mask that cannot be measured; the message names it and the problem."""


@dataclass
class MaskMeasurements:
    """Sizes of a mask in mm (``ap_mm``, ``transverse_mm``, ``si_mm``) and its extent along the spine.

    ``u_min``/``u_max`` are level coordinates (None without a level model); ``warnings`` lists
    caveats such as extrapolation far beyond the level landmarks.
    """

    ap_mm: float
    transverse_mm: float
    si_mm: float
    u_min: float | None
    u_max: float | None
    warnings: list[str] = field(default_factory=list)


def line_length_mm(p0_ras: Any, p1_ras: Any) -> float:
    """Take the two end points of a line (RAS mm, shape (3,) each); return its length in mm."""
    try:  # the common case, without numpy's per-call cost: two points of three finite numbers
        start_list, end_list = [float(v) for v in p0_ras], [float(v) for v in p1_ras]
        if len(start_list) == len(end_list) == 3 and all(map(math.isfinite, start_list + end_list)):
            return math.dist(start_list, end_list)
    except (TypeError, ValueError):
        pass  # the checks below name the problem
    start, end = (_points(point, "line end points") for point in (p0_ras, p1_ras))
    if len(start) != 1 or len(end) != 1:
        raise MeasurementError("line end points: need two RAS points of shape (3,)")
    return float(np.linalg.norm(end[0] - start[0]))


def extent_of_points(model: LevelModel, points_ras: Any) -> tuple[float, float]:
    """Take a LevelModel and RAS mm points ((3,) or (N, 3)); return (u_min, u_max), their level-coordinate extent."""
    points = _points(points_ras, "points")
    u = np.atleast_1d(model.coordinate(points)).tolist()
    return float(min(u)), float(max(u))


def mask_measurements(mask: Volume, model: LevelModel | None = None) -> MaskMeasurements:
    """Take a mask Volume (voxels > 0 are inside; array [k, j, i], ijk_to_ras 4x4) and an optional LevelModel.

    Returns MaskMeasurements: AP, transverse and SI sizes in mm (SI along the cord: the model's
    tangent when given, else the mask's principal axis) and, with a model, the extent [u_min, u_max]
    of the voxel centres widened by half a voxel along the spine. Raises MeasurementError for an
    empty mask or a bad geometry.
    """
    name = getattr(mask, "source", "") or "mask"
    array = np.asarray(mask.array)
    affine = np.asarray(mask.ijk_to_ras, dtype=float)
    if array.ndim != 3 or affine.shape != (4, 4):
        raise MeasurementError(f"{name}: need a 3D mask and a 4x4 ijk_to_ras, got {array.shape} and {affine.shape}")
    kji = np.argwhere(array > 0)
    if len(kji) == 0:
        raise MeasurementError(f"{name}: the mask is empty (no voxel > 0); nothing to measure")
    steps = affine[:3, :3]  # columns: RAS step (mm) of one voxel along i, j, k
    points = kji[:, ::-1].astype(float) @ steps.T + affine[:3, 3]
    centre = points.mean(axis=0)

    if model is not None:
        axis = model.tangent(centre)
        u = np.asarray(model.coordinate(points))
        # Position along the cord in mm: u scaled by the local segment length, so slabs follow the curve.
        position = u * model.segment_length_mm(model.coordinate(centre))
    else:
        axis = _principal_axis(points)
        position = (points - centre) @ axis
    slab_mm = _voxel_size_along(steps, axis)

    slab = np.rint((position - position.min()) / slab_mm).astype(np.int64)
    _, slab_index = np.unique(slab, return_inverse=True)
    counts = np.bincount(slab_index)
    slab_position = np.bincount(slab_index, weights=position) / counts
    centroids = np.stack([np.bincount(slab_index, weights=points[:, a]) for a in range(3)], axis=1) / counts[:, None]
    # Slab centroids jitter by a fraction of a voxel where the slabs cut the voxel grid obliquely;
    # summing that jitter would inflate the length, so follow a smoothed centreline instead.
    centreline_at = _smooth_curve(slab_position, centroids, counts)
    samples = int(np.ceil((slab_position[-1] - slab_position[0]) / slab_mm)) + 1
    centreline = centreline_at(np.linspace(slab_position[0], slab_position[-1], samples))
    si_mm = float(np.sum(np.linalg.norm(np.diff(centreline, axis=0), axis=1))) + slab_mm

    # Cross-section frame at each voxel: the cord axis at its slab, A and R made orthogonal to it; sizes
    # are extents of the voxels' offsets from the centreline, so a curved cord is not widened.
    voxel_axes = model.tangent(centroids)[slab_index] if model is not None else np.broadcast_to(axis, points.shape)
    anterior = _orthogonalise(_ANTERIOR, voxel_axes, _SUPERIOR)
    right = np.cross(voxel_axes, anterior)
    offsets = points - centreline_at(position)
    along_a = np.einsum("ij,ij->i", offsets, anterior)
    along_r = np.einsum("ij,ij->i", offsets, right)
    anterior_at_centre = _orthogonalise(_ANTERIOR, axis[None], _SUPERIOR)[0]
    ap_mm = float(np.ptp(along_a)) + _voxel_size_along(steps, anterior_at_centre)
    transverse_mm = float(np.ptp(along_r)) + _voxel_size_along(steps, np.cross(axis, anterior_at_centre))

    u_min = u_max = None
    warnings: list[str] = []
    if model is not None:
        ends = _axis_ends(array > 0, affine, slab_position, centroids, counts, slab_mm)
        if ends is None:  # too short for an axis: the outermost voxels, widened by half a voxel
            lowest, highest = int(np.argmin(u)), int(np.argmax(u))
            half_step = 0.5 * slab_mm * model.tangent(points[[lowest, highest]])
            ends = (points[lowest] - half_step[0], points[highest] + half_step[1])
        u_min, u_max = sorted(float(model.coordinate(end)) for end in ends)
        first, last = model.u_range
        beyond = max(first - u_min, u_max - last)
        if beyond > EXTRAPOLATION_WARNING_SEGMENTS:
            warnings.append(
                f"{name}: extends {beyond:.1f} segments beyond the level landmarks "
                f"(u {first:g} to {last:g}); its levels are extrapolated"
            )
    return MaskMeasurements(ap_mm, transverse_mm, si_mm, u_min, u_max, warnings)


def _axis_ends(inside: np.ndarray, affine: np.ndarray, slab_position: np.ndarray, centroids: np.ndarray,
               counts: np.ndarray, slab_mm: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Take the mask (bool [k, j, i]), its ijk_to_ras, and its slabs along the cord (positions mm,
    centroids RAS mm, voxel counts, thickness mm); return the RAS points where the lesion's own axis
    leaves it at the cranial and caudal ends, or None when the mask is too short for an axis.

    The axis near each end is the line through the centroids of the slabs that hold at least half
    the median cross-section, within AXIS_FIT_MM of the last such slab; it is followed outwards until
    it leaves the mask. So an end cut obliquely (along an image row, or across the canal) is placed
    at the centre of its face, as a reader places the lesion's end on the cord, and not at its far
    corner; a rounded end is followed to its tip.
    """
    full = np.flatnonzero(counts >= 0.5 * np.median(counts))
    if len(full) < 2 or slab_position[full[-1]] - slab_position[full[0]] < slab_mm:
        return None
    inverse = np.linalg.inv(affine)
    ends = []
    for edge, outward in ((full[0], -1.0), (full[-1], 1.0)):
        near = full[np.abs(slab_position[full] - slab_position[edge]) <= AXIS_FIT_MM]
        if len(near) < 2:
            near = full[:2] if outward < 0 else full[-2:]
        weights = counts[near].astype(float)
        t = slab_position[near]
        t_mean = np.average(t, weights=weights)
        c_mean = np.average(centroids[near], axis=0, weights=weights)
        slope = ((weights * (t - t_mean)) @ (centroids[near] - c_mean)) / float(weights @ (t - t_mean) ** 2)
        def is_inside(offsets: np.ndarray) -> np.ndarray:
            samples = c_mean + np.outer(slab_position[edge] - t_mean + outward * offsets, slope)
            kji = np.rint(samples @ inverse[:3, :3].T + inverse[:3, 3]).astype(np.int64)[:, ::-1]
            valid = np.all((kji >= 0) & (kji < np.array(inside.shape)), axis=1)
            hit = np.zeros(len(samples), dtype=bool)
            hit[valid] = inside[tuple(kji[valid].T)]
            return hit

        step = 0.25 * slab_mm
        offsets = np.arange(0.0, abs(slab_position[0] - slab_position[-1]) + 2 * slab_mm, step)
        hit = is_inside(offsets)
        leaves = int(np.argmin(hit)) if not hit.all() else len(hit) - 1
        if leaves == 0:
            return None
        low, high = offsets[leaves - 1], offsets[leaves]
        for _ in range(12):  # the mask's edge lies between the last sample inside and the first outside
            middle = 0.5 * (low + high)
            low, high = (middle, high) if is_inside(np.array([middle]))[0] else (low, middle)
        offset = 0.5 * (low + high)
        ends.append(c_mean + (slab_position[edge] - t_mean + outward * offset) * slope)
    return ends[0], ends[1]


def _points(points_ras: Any, what: str) -> np.ndarray:
    """Take RAS mm points ((3,) or (N, 3)); return a finite float (N, 3) array, else MeasurementError naming `what`."""
    try:
        points = np.asarray(points_ras, dtype=float)
    except (TypeError, ValueError):
        raise MeasurementError(f"{what}: not numbers") from None
    if points.ndim == 1:
        points = points[None, :]
    if points.ndim != 2 or points.shape[1] != 3 or len(points) == 0:
        raise MeasurementError(f"{what}: need RAS points of shape (3,) or (N, 3), got {np.shape(points_ras)}")
    if not np.isfinite(points).all():
        raise MeasurementError(f"{what}: coordinates are not finite")
    return points


def _smooth_curve(t: np.ndarray, points: np.ndarray, weights: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Take increasing parameters t (M,) in mm, points (M, 3) and weights (M,); return a function
    t -> (len(t), 3) following the points smoothed by a weighted local line fit (Gaussian window of
    SMOOTHING_MM), linear between them and constant beyond the ends."""
    if len(t) == 1:
        return lambda values: np.broadcast_to(points[0], (len(np.atleast_1d(values)), 3)).copy()
    # Local weighted linear regression at each t: keeps straight lines and ends unbiased, removes jitter.
    smoothed = np.empty_like(points)
    for start in range(0, len(t), _SMOOTHING_BLOCK):  # blocks of rows bound the memory for long masks
        rows = slice(start, start + _SMOOTHING_BLOCK)
        distance = t[None, :] - t[rows, None]
        kernel = weights[None, :] * np.exp(-0.5 * (distance / SMOOTHING_MM) ** 2)
        s0 = kernel.sum(axis=1)
        s1 = (kernel * distance).sum(axis=1)
        s2 = (kernel * distance**2).sum(axis=1)
        weighted = kernel @ points
        weighted_d = (kernel * distance) @ points
        determinant = s0 * s2 - s1**2
        flat = determinant <= 1e-12 * s0 * s2  # one slab in reach: no slope to fit
        determinant[flat] = 1.0
        block = (s2[:, None] * weighted - s1[:, None] * weighted_d) / determinant[:, None]
        block[flat] = weighted[flat] / s0[flat, None]
        smoothed[rows] = block

    def curve(values: np.ndarray) -> np.ndarray:
        values = np.atleast_1d(np.asarray(values, dtype=float))
        return np.stack([np.interp(values, t, smoothed[:, a]) for a in range(3)], axis=1)

    return curve


def _principal_axis(points: np.ndarray) -> np.ndarray:
    """Take points (N, 3) mm; return the unit direction of their largest spread, pointing inferiorly."""
    if len(points) < 2:
        return -_SUPERIOR
    centred = points - points.mean(axis=0)
    _, vectors = np.linalg.eigh(centred.T @ centred)
    axis = vectors[:, -1]
    return -axis if axis @ _SUPERIOR > 0 else axis


def _orthogonalise(direction: np.ndarray, axes: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Take a unit direction (3,) and unit axes (M, 3); return unit vectors (M, 3) of the direction made
    orthogonal to each axis (the fallback direction is used where they are parallel)."""
    out = direction - (axes @ direction)[:, None] * axes
    norms = np.linalg.norm(out, axis=1)
    parallel = norms < 1e-6
    if parallel.any():
        alt = fallback - (axes[parallel] @ fallback)[:, None] * axes[parallel]
        out[parallel] = alt
        norms[parallel] = np.linalg.norm(alt, axis=1)
    return out / norms[:, None]


def _voxel_size_along(steps: np.ndarray, direction: np.ndarray) -> float:
    """Take the 3x3 voxel step matrix (columns = RAS mm step along i, j, k) and a unit direction;
    return the voxel size (mm) along it: the diameter there of the ellipsoid inscribed in the voxel."""
    coefficients = np.linalg.solve(steps, direction)  # direction in voxel units
    return float(1.0 / np.linalg.norm(coefficients))
