"""Disc orientation for automatic levels: each disc's plane normal from the image, and the
lumbosacral disc (L5/S1) told by its tilt, the one anatomical landmark of a lumbar scan."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from . import settings as cfg
from .records import Grid


def disc_orientations(grid: Grid, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Measure each disc's plane in the sagittal slab around its centre (structure tensor).

    Takes the slab ``grid`` and disc centres ``positions`` (N, 3) RAS mm. Returns (normals (N, 3)
    RAS unit vectors pointing superior, lying in the sagittal plane; tilt (N,) degrees by which each
    normal leans from superior towards anterior; coherence (N,) 0..1, how clearly one direction
    dominates: below cfg.ORIENTATION_MIN_COHERENCE the tilt is not to be trusted).
    """
    image = np.nan_to_num(grid.image.astype(float))
    d_row = ndimage.gaussian_filter(image, cfg.ORIENTATION_GRADIENT_SIGMA_MM, order=(1, 0))
    d_col = ndimage.gaussian_filter(image, cfg.ORIENTATION_GRADIENT_SIGMA_MM, order=(0, 1))
    rows, cols = np.mgrid[0: image.shape[0], 0: image.shape[1]]
    normals, tilts, coherences = [], [], []
    half_si, half_ap = cfg.ORIENTATION_WINDOW_MM
    for point in np.asarray(positions, dtype=float).reshape(-1, 3):
        row, col = (grid.z0 - point[2]) / cfg.STEP_MM, (grid.y0 - point[1]) / cfg.STEP_MM
        weight = np.exp(-0.5 * (((rows - row) / half_si) ** 2 + ((cols - col) / half_ap) ** 2))
        tensor = np.array([[np.sum(weight * d_row * d_row), np.sum(weight * d_row * d_col)],
                           [np.sum(weight * d_row * d_col), np.sum(weight * d_col * d_col)]])
        values, vectors = np.linalg.eigh(tensor)
        n_row, n_col = vectors[:, 1] if vectors[0, 1] >= 0 else -vectors[:, 1]   # pointing inferior
        # Rows run S->I and columns A->P: the superior-pointing normal is (0, +n_col, +n_row) in RAS.
        normal = np.array([0.0, n_col, n_row])
        normals.append(normal / max(float(np.linalg.norm(normal)), 1e-12))
        tilts.append(float(np.degrees(np.arctan2(n_col, n_row))))
        coherences.append(float((values[1] - values[0]) / max(values[1] + values[0], 1e-12)))
    return np.array(normals).reshape(-1, 3), np.array(tilts), np.array(coherences)


def lumbosacral_disc(tilt: np.ndarray, coherence: np.ndarray) -> int | None:
    """Return the index of the chain disc that is L5/S1 by its tilt, or None when none clearly is.

    In a lumbar lordosis the L5/S1 disc sits on the sacrum's upper surface, which faces forwards:
    it is the most tilted disc, tilted at least cfg.LS_MIN_TILT_DEG and at least
    cfg.LS_MIN_JUMP_DEG more than the disc above it (both measured clearly). Any clearly measured disc
    below it must be tilted less (by cfg.LS_BELOW_MARGIN_DEG): a disc as tilted below it could be the
    real L5/S1. A tilt beyond cfg.ORIENTATION_MAX_TILT_DEG counts as not measured. Discs above must be tilted less by cfg.LS_MIN_JUMP_DEG. The chain's top disc (at the
    edge of the view) is never taken.
    """
    # A "disc" leaning more than cfg.ORIENTATION_MAX_TILT_DEG is the column's or canal's walls, not a disc.
    clear = (coherence >= cfg.ORIENTATION_MIN_COHERENCE) & (np.abs(tilt) <= cfg.ORIENTATION_MAX_TILT_DEG)
    for k in range(2, len(tilt)):
        if not (clear[k] and clear[k - 1]) or tilt[k] < cfg.LS_MIN_TILT_DEG:
            continue
        if tilt[k] - tilt[k - 1] < cfg.LS_MIN_JUMP_DEG:
            continue
        above = [tilt[j] for j in range(1, k - 1) if clear[j]]
        below = [tilt[j] for j in range(k + 1, len(tilt)) if clear[j]]
        if any(a > tilt[k] - cfg.LS_MIN_JUMP_DEG for a in above):
            continue
        if any(b > tilt[k] - cfg.LS_BELOW_MARGIN_DEG for b in below):
            continue
        return k
    return None
