"""Level landmarks before they become a LevelModel: their points checked, their order along the
spine checked, the spine tangent at each, and each landmark's plane (a disc's own, or assumed)."""

from __future__ import annotations

from typing import Any

import numpy as np


class LevelModelError(ValueError):
    """Landmarks or a label map that cannot define vertebral levels; the message says why."""


def landmark_points(labels: list[str], points_ras: Any) -> np.ndarray:
    """Take landmark labels and their RAS mm points; return the points as a finite (N, 3) array, or
    raise LevelModelError naming the problem."""
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
    return points


def check_order(labels: list[str], points: np.ndarray) -> None:
    """Take landmark labels and RAS mm points sorted by level; raise LevelModelError unless each lies
    below the one before and the chain never turns back."""
    steps = np.diff(points, axis=0)
    for i, step in enumerate(steps):
        if np.linalg.norm(step) < 1e-6:
            raise LevelModelError(f"landmarks '{labels[i]}' and '{labels[i + 1]}' are at the same position")
        # u grows caudally, so each next landmark must lie inferior (smaller S) of the previous.
        if step[2] >= 0:
            raise LevelModelError(
                f"landmarks out of order along the spine: '{labels[i + 1]}' "
                f"(S {points[i + 1][2]:.1f} mm) is not below '{labels[i]}' (S {points[i][2]:.1f} mm)"
            )
    for i in range(len(steps) - 1):
        if steps[i] @ steps[i + 1] <= 0:
            raise LevelModelError(
                f"landmarks out of order along the spine: it turns back at '{labels[i + 1]}' "
                f"(between '{labels[i]}' and '{labels[i + 2]}')"
            )


def spine_tangents(points: np.ndarray) -> np.ndarray:
    """Take landmark points (M, 3), M >= 2, cranio-caudally; return the unit spine tangent at each
    (central difference, one-sided at the ends), pointing caudally."""
    tangents = np.empty_like(points)
    tangents[1:-1] = points[2:] - points[:-2]
    tangents[0] = points[1] - points[0]
    tangents[-1] = points[-1] - points[-2]
    return tangents / np.linalg.norm(tangents, axis=1, keepdims=True)


def plane_normals(u: np.ndarray, tangents: np.ndarray, given: np.ndarray,
                   sources: list[str]) -> tuple[np.ndarray, list[str]]:
    """Take landmark u (M,), spine tangents (M, 3), known plane normals (NaN rows: none) and their
    sources; return the normal of every landmark plane and its source.

    A disc without a known plane is taken perpendicular to the spine ("assumed"). A body centre
    takes the mean of its neighbouring discs' known planes ("between_discs"), so that the planes
    inside a body turn smoothly from one disc's tilt to the next; without them it is perpendicular
    to the spine too.
    """
    normals = np.where(np.isnan(given), tangents, given)
    out_sources = list(sources)
    known = [source != "assumed" for source in sources]
    for row in range(len(u)):
        if known[row] or u[row] % 1 == 0.5:
            continue
        neighbours = [other for other in (row - 1, row + 1)
                      if 0 <= other < len(u) and known[other] and abs(u[other] - u[row]) == 0.5]
        if neighbours:
            mean = normals[neighbours].sum(axis=0)
            normals[row] = mean / np.linalg.norm(mean)
            out_sources[row] = "between_discs"
    return normals, out_sources
