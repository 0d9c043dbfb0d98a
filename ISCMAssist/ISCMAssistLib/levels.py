"""The vertebral level model: landmarks (or a level label map) -> level coordinate u of any point.

The level coordinate u (see ``vertebrae.py``) is 1 at the centre of C1, 11.5 at the T4/T5 disc and
grows caudally. Between landmarks, u is interpolated between planes that cross the spine at each
landmark with the local spine tangent as normal, the way a reader extends a disc plane back to the
cord; so curved spines (lordosis, kyphosis) map correctly. Beyond the end landmarks u is
extrapolated linearly with the end interval's spacing.

``count_segments`` and ``location`` implement the counting rule of docs/core-api.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .vertebrae import (
    CONUS_LABEL,
    LEVEL_NAMES,
    LevelLabelError,
    disc_name,
    landmark_coordinate,
    level_name,
    levels_spanned_text,
)

#: An extent counts a vertebral body when it overlaps the body by more than this (in segments).
OVERLAP_TOLERANCE = 0.1
#: Float slack so that an overlap of exactly OVERLAP_TOLERANCE never counts through rounding noise.
_EPS = 1e-9

#: Location boundaries in u: cervical bodies C1-C7 end at the C7/T1 disc.
_CERVICAL_END_U = 7.5
#: The conus region is [u_tip - 2, u_tip] for a conus tip at u_tip. Without a conus landmark the tip
#: is taken at the L1/L2 disc (u 20.5), its usual level, so the same rule gives the T12-L1 bodies.
CONUS_REGION_SEGMENTS = 2.0
DEFAULT_CONUS_TIP_U = 20.5


def conus_region(conus_u: float | None) -> tuple[float, float]:
    """Take the conus tip's level coordinate (None: no conus landmark); return the conus region
    (u_start, u_tip) = (tip - CONUS_REGION_SEGMENTS, tip), the tip defaulting to DEFAULT_CONUS_TIP_U."""
    tip = DEFAULT_CONUS_TIP_U if conus_u is None else conus_u
    return tip - CONUS_REGION_SEGMENTS, tip

#: Up to this many points, coordinate() walks the planes in plain Python: less per-call overhead.
_FEW_POINTS = 16

LOCATIONS = ("cervical", "cervicothoracic", "thoracic", "thoracic_conus", "conus")


class LevelModelError(ValueError):
    """Landmarks or a label map that cannot define vertebral levels; the message says why."""


@dataclass(frozen=True)
class SegmentCount:
    """Vertebral bodies an extent counts: ``first``/``last`` level numbers (1 = C1), ``count`` and ``text``.

    ``count`` is ``last - first + 1``; ``text`` is "T4" or "T4-T5".
    """

    first: int
    last: int
    count: int
    text: str


class LevelModel:
    """Maps RAS mm points to the level coordinate u; counts segments and names the location.

    Build it with ``LevelModel.from_landmarks`` or ``LevelModel.from_label_map``.
    """

    def __init__(
        self,
        labels: list[str],
        u_values: np.ndarray,
        points_ras: np.ndarray,
        conus_label: str | None = None,
        conus_ras: np.ndarray | None = None,
    ) -> None:
        """Take level landmarks already sorted by u (labels, u (M,), RAS mm points (M, 3)), M >= 2,
        and the optional conus tip (label, RAS mm (3,)). Use the from_* constructors instead."""
        self._labels = list(labels)
        self._u = np.asarray(u_values, dtype=float)
        self._x = np.asarray(points_ras, dtype=float)
        m = len(self._u)
        # Spine tangent at each landmark: central difference, one-sided at the ends.
        tangents = np.empty_like(self._x)
        tangents[1:-1] = self._x[2:] - self._x[:-2]
        tangents[0] = self._x[1] - self._x[0]
        tangents[-1] = self._x[-1] - self._x[-2]
        self._n = tangents / np.linalg.norm(tangents, axis=1, keepdims=True)
        self._n_t = np.ascontiguousarray(self._n.T)
        self._c = np.einsum("ij,ij->i", self._n, self._x)
        self._u_list = [float(value) for value in self._u]
        steps = self._x[1:] - self._x[:-1]
        ahead = np.einsum("ij,ij->i", self._n[:-1], steps)  # next landmark lies caudal of plane i
        behind = np.einsum("ij,ij->i", self._n[1:], steps)  # previous landmark lies cranial of plane i+1
        for i in range(m - 1):
            if ahead[i] <= 0 or behind[i] <= 0:
                raise LevelModelError(
                    f"landmarks out of order along the spine: '{self._labels[i]}' and "
                    f"'{self._labels[i + 1]}' (the spine folds back between them)"
                )
        self._top_rate = float((self._u[1] - self._u[0]) / ahead[0])
        self._bottom_rate = float((self._u[-1] - self._u[-2]) / behind[-1])
        self._segment_mm = np.linalg.norm(steps, axis=1) / np.diff(self._u)
        self._conus_label = conus_label
        self._conus_ras = None if conus_ras is None else np.asarray(conus_ras, dtype=float)
        self._conus_u = None if conus_ras is None else float(self.coordinate(self._conus_ras))

    # ------------------------------------------------------------------------------------------
    # Construction

    @classmethod
    def from_landmarks(cls, labels: list[str], points_ras: Any) -> LevelModel:
        """Take landmark labels ("T4" body centre, "T4/T5" disc, "conus" tip) and their RAS mm points (N, 3).

        Needs at least two vertebra/disc landmarks at distinct positions, in cranio-caudal order
        along the spine (a landmark with a larger level must lie inferior of the one above it).
        Returns the LevelModel; raises LevelModelError naming the bad label(s) or problem.
        """
        labels = [str(label) for label in labels]
        try:
            points = np.asarray(points_ras, dtype=float)
        except (TypeError, ValueError):
            raise LevelModelError("landmark points: not numbers") from None
        if points.ndim != 2 or points.shape[1] != 3 or len(points) != len(labels):
            raise LevelModelError(
                f"landmark points: need one RAS point (3 numbers) per label ({len(labels)} labels), "
                f"got an array of shape {points.shape}"
            )
        if not np.all(np.isfinite(points)):
            bad = labels[int(np.flatnonzero(~np.all(np.isfinite(points), axis=1))[0])]
            raise LevelModelError(f"landmark '{bad}': position is not finite")
        level_labels: list[str] = []
        level_u: list[float] = []
        level_points: list[np.ndarray] = []
        conus_label: str | None = None
        conus_point: np.ndarray | None = None
        seen: dict[float, str] = {}
        for label, point in zip(labels, points):
            try:
                u = landmark_coordinate(label)
            except LevelLabelError as error:
                raise LevelModelError(f"landmark '{label}': {error}") from None
            if u is None:
                if conus_label is not None:
                    raise LevelModelError(f"duplicate landmark labels: '{conus_label}' and '{label}'")
                conus_label, conus_point = label.strip(), point
                continue
            if u in seen:
                raise LevelModelError(f"duplicate landmark labels: '{seen[u]}' and '{label}' name the same level")
            seen[u] = label
            level_labels.append(label.strip())
            level_u.append(u)
            level_points.append(point)
        if len(level_u) < 2:
            raise LevelModelError(
                f"need at least two vertebra or disc landmarks (e.g. 'T4' and 'T4/T5'), got {len(level_u)}"
            )
        order = np.argsort(level_u)
        sorted_labels = [level_labels[i] for i in order]
        u_sorted = np.asarray(level_u)[order]
        x_sorted = np.asarray(level_points)[order]
        steps = np.diff(x_sorted, axis=0)
        for i, step in enumerate(steps):
            if np.linalg.norm(step) < 1e-6:
                raise LevelModelError(
                    f"landmarks '{sorted_labels[i]}' and '{sorted_labels[i + 1]}' are at the same position"
                )
            # u grows caudally, so each next landmark must lie inferior (smaller S) of the previous.
            if step[2] >= 0:
                raise LevelModelError(
                    f"landmarks out of order along the spine: '{sorted_labels[i + 1]}' "
                    f"(S {x_sorted[i + 1][2]:.1f} mm) is not below '{sorted_labels[i]}' (S {x_sorted[i][2]:.1f} mm)"
                )
        for i in range(len(steps) - 1):
            if steps[i] @ steps[i + 1] <= 0:
                raise LevelModelError(
                    f"landmarks out of order along the spine: it turns back at '{sorted_labels[i + 1]}' "
                    f"(between '{sorted_labels[i]}' and '{sorted_labels[i + 2]}')"
                )
        return cls(sorted_labels, u_sorted, x_sorted, conus_label, conus_point)

    @classmethod
    def from_label_map(cls, volume: Any) -> LevelModel:
        """Take a level label map Volume (array [k, j, i] of level numbers, 1 = C1, 0 = background;
        ``ijk_to_ras`` 4x4) and return its LevelModel.

        Landmarks: the RAS centroid of each level's voxels as that body's centre, and, for each pair of
        adjacent levels present, a disc at the centroid of their interface voxels (voxels of either
        level face-touching the other). Raises LevelModelError for non-integer or out-of-range values
        or fewer than two levels.
        """
        array = np.asarray(volume.array)
        affine = np.asarray(volume.ijk_to_ras, dtype=float)
        source = getattr(volume, "source", "") or "label map"
        if array.ndim != 3:
            raise LevelModelError(f"{source}: label map must be 3D, got shape {array.shape}")
        if not np.issubdtype(array.dtype, np.integer):
            if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
                raise LevelModelError(f"{source}: label map values must be whole level numbers")
        labels_kji = array.astype(np.int64)
        if labels_kji.min() < 0 or labels_kji.max() > len(LEVEL_NAMES):
            raise LevelModelError(
                f"{source}: label map values must be 0 (background) or 1 (C1) to {len(LEVEL_NAMES)} (S1), "
                f"found {labels_kji.min()}..{labels_kji.max()}"
            )
        flat = labels_kji.ravel()
        nonzero = np.flatnonzero(flat)
        present = np.unique(flat[nonzero])
        if len(present) < 2:
            raise LevelModelError(f"{source}: label map holds {len(present)} level(s); need at least two")
        kji = np.stack(np.unravel_index(nonzero, labels_kji.shape), axis=1).astype(float)
        values = flat[nonzero]
        size = len(LEVEL_NAMES) + 2
        counts = np.bincount(values, minlength=size)
        body_kji = np.stack([np.bincount(values, weights=kji[:, a], minlength=size) for a in range(3)], axis=1)
        body_kji = body_kji[present] / counts[present, None]

        disc_numbers, disc_kji = _interfaces(labels_kji)
        points_kji = np.concatenate([body_kji, disc_kji]) if len(disc_numbers) else body_kji
        points_ras = points_kji[:, ::-1] @ affine[:3, :3].T + affine[:3, 3]
        labels = [level_name(int(n)) for n in present] + [disc_name(int(n)) for n in disc_numbers]
        return cls.from_landmarks(labels, points_ras)

    # ------------------------------------------------------------------------------------------
    # Mapping

    def coordinate(self, points_ras: Any) -> np.ndarray | float:
        """Take RAS mm points, shape (3,) or (N, 3); return their level coordinates u (float or (N,) array)."""
        points = np.asarray(points_ras, dtype=float)
        single = points.ndim == 1
        if points.shape[-1:] != (3,) or points.ndim > 2:
            raise LevelModelError(f"points: need RAS points of shape (3,) or (N, 3), got {points.shape}")
        if single:
            points = points[None, :]
        d = points @ self._n_t - self._c  # signed distance of each point past each landmark plane
        if len(points) <= _FEW_POINTS:
            u_few = [self._coordinate_from_distances(row) for row in d.tolist()]
            return u_few[0] if single else np.array(u_few)
        past = d >= 0
        # Interval i holds the point when d_i >= 0 > d_{i+1}: take the first plane not yet passed.
        nxt = np.argmin(past[:, 1:], axis=1) + 1
        rows = np.arange(len(points))
        d_i = d[rows, nxt - 1]
        d_next = d[rows, nxt]
        denominator = d_i - d_next
        denominator[denominator <= 0] = 1.0  # rows handled by the extrapolation below
        u0 = self._u[nxt - 1]
        u = u0 + (self._u[nxt] - u0) * d_i / denominator
        u = np.where(past.all(axis=1), self._u[-1] + self._bottom_rate * d[:, -1], u)
        u = np.where(past[:, 0], u, self._u[0] + self._top_rate * d[:, 0])
        return float(u[0]) if single else u

    def _coordinate_from_distances(self, d: list[float]) -> float:
        """Take one point's signed distances past each landmark plane; return its u (the few-points path)."""
        u = self._u_list
        if d[0] < 0:
            return u[0] + self._top_rate * d[0]
        for i in range(1, len(d)):
            if d[i] < 0:
                return u[i - 1] + (u[i] - u[i - 1]) * d[i - 1] / (d[i - 1] - d[i])
        return u[-1] + self._bottom_rate * d[-1]

    def tangent(self, points_ras: Any) -> np.ndarray:
        """Take RAS mm points ((3,) or (N, 3)); return the unit spine tangent (pointing caudally) there,
        interpolated by u between the landmark plane normals; same shape as the input."""
        points = np.asarray(points_ras, dtype=float)
        u = np.atleast_1d(self.coordinate(points))
        i = np.clip(np.searchsorted(self._u, u) - 1, 0, len(self._u) - 2)
        w = np.clip((u - self._u[i]) / (self._u[i + 1] - self._u[i]), 0.0, 1.0)[:, None]
        t = (1.0 - w) * self._n[i] + w * self._n[i + 1]
        t /= np.linalg.norm(t, axis=1, keepdims=True)
        return t[0] if points.ndim == 1 else t

    def segment_length_mm(self, u: float) -> float:
        """Take a level coordinate u; return the spine length (mm) of one segment there (landmark spacing)."""
        i = int(np.clip(np.searchsorted(self._u, u) - 1, 0, len(self._u) - 2))
        return float(self._segment_mm[i])

    # ------------------------------------------------------------------------------------------
    # Counting and location

    def count_segments(self, u_min: float, u_max: float) -> SegmentCount:
        """Take an extent [u_min, u_max] along the spine (level coordinates); return the SegmentCount.

        Body n counts when the extent overlaps [n - 0.5, n + 0.5] by more than OVERLAP_TOLERANCE; if no
        body does, the body holding the extent's midpoint counts. Bodies are limited to C1-S1; an
        extent wholly outside them raises LevelModelError.
        """
        lo, hi = _extent(u_min, u_max)
        bodies = [
            n
            for n in range(math.floor(lo + 0.5), math.floor(hi + 0.5) + 1)
            if min(hi, n + 0.5) - max(lo, n - 0.5) > OVERLAP_TOLERANCE + _EPS
        ]
        if not bodies:
            bodies = [math.floor((lo + hi) / 2 + 0.5)]
        first, last = max(bodies[0], 1), min(bodies[-1], len(LEVEL_NAMES))
        if first > last:
            raise LevelModelError(
                f"extent u = [{lo:.2f}, {hi:.2f}] lies outside the vertebrae C1-S1 (u 0.5 to {len(LEVEL_NAMES) + 0.5})"
            )
        return SegmentCount(first, last, last - first + 1, levels_spanned_text(first, last))

    def location(self, u_min: float, u_max: float) -> str:
        """Take an extent [u_min, u_max] (level coordinates); return its location category.

        One of "cervical", "cervicothoracic", "thoracic", "thoracic_conus", "conus" (docs/core-api.md,
        Counting rule). The conus region is ``conus_region``: [u_tip - 2, u_tip], the tip at the
        L1/L2 disc without a conus landmark (T12-L1 bodies); all below its top counts as conus region. An extent touching all three regions is
        "cervicothoracic" (the study has no holocord category).
        """
        lo, hi = _extent(u_min, u_max)
        conus_start = conus_region(self._conus_u)[0]
        cervical_end = min(_CERVICAL_END_U, conus_start)
        bounds = [(-math.inf, cervical_end), (cervical_end, conus_start), (conus_start, math.inf)]
        touched = [min(hi, b) - max(lo, a) > OVERLAP_TOLERANCE + _EPS for a, b in bounds]
        if not any(touched):
            middle = (lo + hi) / 2
            touched = [a <= middle < b for a, b in bounds]
        cervical, thoracic, conus = touched
        if cervical:
            return "cervicothoracic" if (thoracic or conus) else "cervical"
        if thoracic:
            return "thoracic_conus" if conus else "thoracic"
        return "conus"

    # ------------------------------------------------------------------------------------------
    # Introspection

    @property
    def landmarks(self) -> list[tuple[str, np.ndarray]]:
        """Return the landmarks as (label, RAS mm point (3,)) sorted cranio-caudally, the conus last."""
        out = [(label, point.copy()) for label, point in zip(self._labels, self._x)]
        if self._conus_ras is not None:
            out.append((self._conus_label or CONUS_LABEL, self._conus_ras.copy()))
        return out

    @property
    def u_range(self) -> tuple[float, float]:
        """Return the level coordinates (u) of the first and last vertebra/disc landmarks."""
        return float(self._u[0]), float(self._u[-1])

    @property
    def conus_u(self) -> float | None:
        """Return the level coordinate u of the conus tip landmark, or None when there is none."""
        return self._conus_u


def _extent(u_min: float, u_max: float) -> tuple[float, float]:
    """Take two level coordinates in either order; return them as (low, high); LevelModelError if not finite."""
    lo, hi = float(u_min), float(u_max)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise LevelModelError(f"extent u = [{u_min}, {u_max}] is not finite")
    return (lo, hi) if lo <= hi else (hi, lo)


def _interfaces(labels_kji: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Take a level label array [k, j, i]; return (upper level numbers n (D,), centroids [k, j, i] (D, 3))
    of the voxels of levels n and n + 1 that face-touch each other."""
    flat_ids: list[np.ndarray] = []
    uppers: list[np.ndarray] = []
    shape = labels_kji.shape
    for axis in range(3):
        a = np.moveaxis(labels_kji, axis, 0)
        first, second = a[:-1], a[1:]
        hit = (first > 0) & (second > 0) & (np.abs(first - second) == 1)
        if not hit.any():
            continue
        moved_idx = np.argwhere(hit)  # columns: (axis, the other two axes in order)
        perm = [axis] + [other for other in range(3) if other != axis]
        upper = np.minimum(first[hit], second[hit])
        for offset in (0, 1):
            kji = np.empty_like(moved_idx)
            kji[:, perm] = moved_idx
            kji[:, axis] += offset
            flat_ids.append(np.ravel_multi_index(tuple(kji.T), shape))
            uppers.append(upper)
    if not flat_ids:
        return np.empty(0, dtype=np.int64), np.empty((0, 3))
    keys = np.unique(np.concatenate(uppers).astype(np.int64) * labels_kji.size + np.concatenate(flat_ids))
    upper_all, flat_all = np.divmod(keys, labels_kji.size)
    kji_all = np.stack(np.unravel_index(flat_all, shape), axis=1).astype(float)
    numbers, inverse, counts = np.unique(upper_all, return_inverse=True, return_counts=True)
    sums = np.stack([np.bincount(inverse, weights=kji_all[:, a]) for a in range(3)], axis=1)
    return numbers, sums / counts[:, None]
