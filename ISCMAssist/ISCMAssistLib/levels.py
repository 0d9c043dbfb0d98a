"""The vertebral level model: landmarks (or a level label map) -> level coordinate u of any point.

The level coordinate u (see ``vertebrae.py``) is 1 at the centre of C1, 11.5 at the T4/T5 disc and
grows caudally. Each disc landmark carries the disc's own plane, the way a reader extends the disc
back to the cord (``disc_planes.py``: from a disc line, a label map or the image; perpendicular to
the spine only when nothing tells its tilt, and the model says so). Between two landmarks, u is
interpolated between their planes, so tilted discs and curved spines (lordosis, kyphosis) map
correctly where the cord is, 25-45 mm behind the disc centres. Beyond the end landmarks u is
extrapolated linearly with the end interval's spacing.

``count_segments`` and ``location`` implement the counting rule of docs/core-api.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .disc_planes import caudal, normal_from_image, normal_from_line
from .level_landmarks import LevelModelError, check_order, landmark_points, plane_normals, spine_tangents
from .level_maps import LabelMapError, label_map_landmarks
from .vertebrae import CONUS_LABEL, LEVEL_NAMES, LevelLabelError, landmark_coordinate, levels_spanned_text

#: An extent counts a vertebral segment when it overlaps it by more than this (in segments: 3.2-3.6
#: mm of a cervical segment, 4.4-5.6 mm thoracic, 7-7.6 mm lumbar). Measured on the tuning half of
#: the real lumbar scans (benchmarks/real_counts.py): lesions ending at a disc's posterior margin,
#: cut along the disc, along image rows or across the canal, reach up to 0.20 segment past the disc
#: plane where the cord is; the disc cannot be placed closer than that at the cord.
OVERLAP_TOLERANCE = 0.2
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

#: Where a landmark's plane came from: a disc line, a label map, the image, given by the caller,
#: the mean of its neighbouring discs (body centres), or assumed perpendicular to the spine.
PLANE_SOURCES = ("line", "label_map", "image", "given", "between_discs", "assumed")

LOCATIONS = ("cervical", "cervicothoracic", "thoracic", "thoracic_conus", "conus")


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

    Build it with ``LevelModel.from_landmarks`` or ``LevelModel.from_label_map``; give it the
    series with ``with_image_planes`` so that discs given as points take their tilt from the image.
    """

    def __init__(
        self,
        labels: list[str],
        u_values: np.ndarray,
        points_ras: np.ndarray,
        conus_label: str | None = None,
        conus_ras: np.ndarray | None = None,
        normals_ras: np.ndarray | None = None,
        plane_sources: list[str] | None = None,
    ) -> None:
        """Take level landmarks already sorted by u (labels, u (M,), RAS mm points (M, 3)), M >= 2,
        the optional conus tip (label, RAS mm (3,)), and optional disc plane normals (M, 3; NaN rows
        where none is known) with their sources (PLANE_SOURCES). Use the from_* constructors instead."""
        self._labels = list(labels)
        self._u = np.asarray(u_values, dtype=float)
        self._x = np.asarray(points_ras, dtype=float)
        m = len(self._u)
        self._t = spine_tangents(self._x)
        given = np.full((m, 3), np.nan) if normals_ras is None else np.asarray(normals_ras, dtype=float)
        sources = list(plane_sources) if plane_sources is not None else \
            ["assumed" if np.isnan(row).any() else "given" for row in given]
        self._given_normals, self._given_sources = given.copy(), list(sources)
        self._n, self._sources = plane_normals(self._u, self._t, given, sources)
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
                    f"'{self._labels[i + 1]}' (the spine folds back between them, or a disc plane "
                    "is tilted past its neighbour)"
                )
        self._top_rate = float((self._u[1] - self._u[0]) / ahead[0])
        self._bottom_rate = float((self._u[-1] - self._u[-2]) / behind[-1])
        self._segment_mm = np.linalg.norm(steps, axis=1) / np.diff(self._u)
        self._conus_label = conus_label
        self._conus_ras = None if conus_ras is None else np.asarray(conus_ras, dtype=float)
        self._conus_u = None if conus_ras is None else float(self.coordinate(self._conus_ras))
        self._notes: list[str] = []

    # ------------------------------------------------------------------------------------------
    # Construction

    @classmethod
    def from_landmarks(cls, labels: list[str], points_ras: Any, normals_ras: Any = None,
                       plane_source: str = "given") -> LevelModel:
        """Take landmark labels ("T4" body centre, "T4/T5" disc, "conus" tip) and their RAS mm points (N, 3).

        A disc label given twice is a disc drawn as a line from its anterior to its posterior margin:
        its centre is the midpoint and its plane holds the line (``disc_planes.normal_from_line``).
        ``normals_ras`` (N, 3; NaN rows for none) gives disc plane normals directly, from
        ``plane_source``. Other discs get a plane perpendicular to the spine, an assumption that
        ``plane_notes`` reports, until ``with_image_planes`` measures it.
        Needs at least two vertebra/disc landmarks at distinct positions, in cranio-caudal order
        along the spine (a landmark with a larger level must lie inferior of the one above it).
        Returns the LevelModel; raises LevelModelError naming the bad label(s) or problem.
        """
        labels = [str(label) for label in labels]
        points = landmark_points(labels, points_ras)
        normals = np.full(points.shape, np.nan) if normals_ras is None else np.asarray(normals_ras, dtype=float)
        if normals.shape != points.shape:
            raise LevelModelError(f"landmark normals: need one per landmark, got shape {normals.shape}")
        by_u: dict[float, list[int]] = {}
        conus: list[int] = []
        for index, label in enumerate(labels):
            try:
                u = landmark_coordinate(label)
            except LevelLabelError as error:
                raise LevelModelError(f"landmark '{label}': {error}") from None
            (conus if u is None else by_u.setdefault(u, [])).append(index)
        if len(conus) > 1:
            raise LevelModelError(f"duplicate landmark labels: '{labels[conus[0]]}' and '{labels[conus[1]]}'")
        for u, indices in by_u.items():
            is_line = len(indices) == 2 and u % 1 == 0.5
            if len(indices) > 1 and not is_line:
                raise LevelModelError(
                    f"duplicate landmark labels: '{labels[indices[0]]}' and '{labels[indices[1]]}' name the same "
                    "level (a disc may be given twice, as its anterior and posterior margins)")
        if len(by_u) < 2:
            raise LevelModelError(
                f"need at least two vertebra or disc landmarks (e.g. 'T4' and 'T4/T5'), got {len(by_u)}"
            )
        u_sorted = np.array(sorted(by_u))
        rows = [by_u[u] for u in u_sorted]
        sorted_labels = [labels[indices[0]].strip() for indices in rows]
        x_sorted = np.array([points[indices].mean(axis=0) for indices in rows])
        check_order(sorted_labels, x_sorted)
        tangents = spine_tangents(x_sorted)
        disc_normals = np.full(x_sorted.shape, np.nan)
        sources = ["assumed"] * len(rows)
        for row, indices in enumerate(rows):
            try:
                if len(indices) == 2:
                    disc_normals[row] = normal_from_line(points[indices[0]], points[indices[1]], tangents[row])
                    sources[row] = "line"
                elif not np.isnan(normals[indices[0]]).any():
                    disc_normals[row] = caudal(normals[indices[0]], tangents[row])
                    sources[row] = plane_source
            except ValueError as error:
                raise LevelModelError(f"landmark '{sorted_labels[row]}': {error}") from None
        conus_label = labels[conus[0]].strip() if conus else None
        conus_point = points[conus[0]] if conus else None
        return cls(sorted_labels, u_sorted, x_sorted, conus_label, conus_point, disc_normals, sources)

    @classmethod
    def from_label_map(cls, volume: Any) -> LevelModel:
        """Take a level label map Volume (array [k, j, i] of level numbers, 1 = C1, 0 = background;
        ``ijk_to_ras`` 4x4): the cord/canal labelled by level, or vertebral-body masks, touching or not.

        Returns its LevelModel (``level_maps.label_map_landmarks``: body centres of the levels the field
        of view does not cut, disc planes between the facing surfaces of neighbouring levels); its
        ``plane_notes`` name cut levels. Raises LevelModelError for non-integer or out-of-range
        values or fewer than two usable landmarks.
        """
        try:
            found = label_map_landmarks(volume)
        except LabelMapError as error:
            raise LevelModelError(str(error)) from None
        model = cls.from_landmarks(found.labels, found.points, found.normals, plane_source="label_map")
        model._notes = list(found.notes)
        return model

    def with_image_planes(self, volume: Any, cache: dict | None = None) -> LevelModel:
        """Take the image the landmarks were placed on (Volume); return a model in which every disc
        whose plane was assumed takes its tilt from the image (``disc_planes.normal_from_image``).

        Discs the image does not show clearly keep the assumed plane (``plane_notes`` says which).
        ``cache`` (a dict kept by the caller for this one image) keeps each disc's estimate while its
        point and its neighbours do not move, so moving one level point re-measures only its discs.
        """
        normals = self._given_normals.copy()
        sources = list(self._given_sources)
        for row, u in enumerate(self._u):
            if sources[row] == "assumed" and u % 1 == 0.5:
                key = (float(u), self._x[row].round(4).tobytes(), self._t[row].round(4).tobytes())
                if cache is not None and key in cache:
                    normal = cache[key]
                else:
                    normal = normal_from_image(volume, self._x[row], self._t[row])
                    if cache is not None:
                        cache[key] = normal
                if normal is not None:
                    normals[row], sources[row] = normal, "image"
        model = LevelModel(self._labels, self._u, self._x, self._conus_label, self._conus_ras, normals, sources)
        model._notes = list(self._notes)
        return model

    @property
    def plane_notes(self) -> list[str]:
        """Return what the model assumed about its disc planes and label map, for the reader (may be empty)."""
        assumed = [label for label, u, source in zip(self._labels, self._u, self._sources)
                   if source == "assumed" and u % 1 == 0.5]
        notes = list(self._notes)
        if assumed:
            notes.append(
                f"disc plane{'s' if len(assumed) > 1 else ''} {', '.join(assumed)} assumed perpendicular to the "
                "spine: give the series, or draw the disc as a line (the same label at its anterior and "
                "posterior margins), so that the plane follows the disc's tilt")
        return notes

    @property
    def disc_planes(self) -> list[tuple[str, np.ndarray, np.ndarray, str]]:
        """Return (label, RAS mm centre (3,), unit normal pointing caudally (3,), source) of every
        vertebra/disc landmark plane, cranio-caudally; source is one of PLANE_SOURCES."""
        return [(label, point.copy(), normal.copy(), source)
                for label, point, normal, source in zip(self._labels, self._x, self._n, self._sources)]

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
        interpolated by u between the tangents at the landmarks; same shape as the input."""
        points = np.asarray(points_ras, dtype=float)
        u = np.atleast_1d(self.coordinate(points))
        i = np.clip(np.searchsorted(self._u, u) - 1, 0, len(self._u) - 2)
        w = np.clip((u - self._u[i]) / (self._u[i + 1] - self._u[i]), 0.0, 1.0)[:, None]
        t = (1.0 - w) * self._t[i] + w * self._t[i + 1]
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
        L1/L2 disc without a conus landmark (T12-L1 bodies); all below its top counts as conus
        region. An extent touching all three regions is "cervicothoracic" (the study has no
        holocord category).
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
