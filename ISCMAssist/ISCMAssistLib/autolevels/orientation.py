"""Disc orientation for automatic levels: each disc's plane normal from the image, and the
lumbosacral disc (L5/S1) told by its tilt, the one anatomical landmark of a lumbar scan."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from . import settings as cfg
from .records import Grid


def disc_orientations(grid: Grid, positions: np.ndarray,
                      spacing_mm: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Measure each disc's plane in the sagittal slab around its centre.

    For each candidate tilt (every cfg.ORIENTATION_STEP_DEG up to cfg.ORIENTATION_MAX_TILT_DEG), the
    image is averaged along the candidate plane over cfg.ORIENTATION_HALF_WIDTH_MM either side of the
    centre, giving a profile across it (cfg.ORIENTATION_HALF_DEPTH_MM either side); the plane is the
    tilt whose profile is sharpest (largest sum of squared steps): the disc's faces line up with it,
    bright or dark discs alike. Where the discs are closer (``spacing_mm``, per disc, e.g. cervical),
    the window shrinks to cfg.ORIENTATION_WINDOW_PER_SPACING of the spacing so that it stays on one
    disc and its body halves. Takes the slab ``grid`` and disc centres ``positions`` (N, 3) RAS mm.
    Returns (normals (N, 3) RAS unit vectors in the sagittal plane pointing superior; tilt (N,)
    degrees by which each normal leans from superior towards anterior; clarity (N,) 0..1, how much
    the best tilt stands out: (best - median) / best over the tilts; a best tilt at the end of the
    searched range gets clarity 0).
    """
    image = ndimage.gaussian_filter(np.nan_to_num(grid.image.astype(float)), 1.0)
    angles = np.radians(np.arange(-cfg.ORIENTATION_MAX_TILT_DEG, cfg.ORIENTATION_MAX_TILT_DEG + 1e-6,
                                  cfg.ORIENTATION_STEP_DEG))
    # Normal (pointing inferior) in (row, col) = (cos a, sin a): a > 0 leans posterior going down, i.e.
    # the superior-pointing normal leans anterior. The plane runs along (-sin a, cos a).
    n_row, n_col = np.cos(angles), np.sin(angles)
    positions = np.asarray(positions, dtype=float).reshape(-1, 3)
    spacing = np.full(len(positions), np.inf) if spacing_mm is None else np.asarray(spacing_mm, dtype=float)
    depth_share, width_share = cfg.ORIENTATION_WINDOW_PER_SPACING
    normals, tilts, clarity = [], [], []
    for point, local in zip(positions, spacing):
        depth = min(cfg.ORIENTATION_HALF_DEPTH_MM, depth_share * local)
        width = min(cfg.ORIENTATION_HALF_WIDTH_MM, width_share * local)
        across = np.arange(-depth, depth + 1e-6, cfg.STEP_MM)
        along = np.arange(-width, width + 1e-6, cfg.STEP_MM)
        d_row = across[None, :, None] * n_row[:, None, None] - along[None, None, :] * n_col[:, None, None]
        d_col = across[None, :, None] * n_col[:, None, None] + along[None, None, :] * n_row[:, None, None]
        row, col = (grid.z0 - point[2]) / cfg.STEP_MM, (grid.y0 - point[1]) / cfg.STEP_MM
        samples = ndimage.map_coordinates(image, [row + d_row, col + d_col], order=1, mode="nearest")
        sharpness = np.sum(np.diff(samples.mean(axis=2), axis=1) ** 2, axis=1)
        best = int(np.argmax(sharpness))
        stands_out = (sharpness[best] - np.median(sharpness)) / max(float(sharpness[best]), 1e-12)
        a = float(angles[best])
        normals.append(np.array([0.0, np.sin(a), np.cos(a)]))
        tilts.append(float(np.degrees(a)))
        clarity.append(0.0 if best in (0, len(angles) - 1) else float(stands_out))
    return np.array(normals).reshape(-1, 3), np.array(tilts), np.array(clarity)


def lumbosacral_disc(tilt: np.ndarray, clarity: np.ndarray, spacing_mm: np.ndarray | None = None) -> int | None:
    """Return the index of the chain disc that is L5/S1 by its tilt, or None when none clearly is.

    In a lumbar lordosis the L5/S1 disc sits on the sacrum's upper surface, which faces forwards: it
    leans at least cfg.LS_MIN_TILT_DEG and at least cfg.LS_MIN_JUMP_DEG more than the disc above it
    (both measured clearly: clarity >= cfg.ORIENTATION_MIN_CLARITY), and every clearly measured disc
    above it leans at least cfg.LS_MIN_JUMP_DEG less. Exactly one disc of the chain may look like that,
    and no clearly measured band below it may lean within cfg.LS_BELOW_MARGIN_DEG of it (that band
    could be the real L5/S1, or a sacral fusion line: the tilt cannot tell); otherwise None. The chain's top disc (at
    the edge of the view) is never taken, nor a disc whose segment above is shorter than
    cfg.LS_MIN_SEGMENT_MM (an L5 is not that small: cervical and upper thoracic chains never name L5/S1
    this way). Takes tilts (deg), their clarity (disc_orientations) and optionally the spacing (mm)
    from each disc to the one before it (``spacing_mm[k]``: disc k-1 to k; index 0 unused).
    """
    clear = clarity >= cfg.ORIENTATION_MIN_CLARITY
    candidates = []
    for k in range(2, len(tilt)):
        if not (clear[k] and clear[k - 1]) or tilt[k] < cfg.LS_MIN_TILT_DEG:
            continue
        if tilt[k] - tilt[k - 1] < cfg.LS_MIN_JUMP_DEG:
            continue
        if spacing_mm is not None and spacing_mm[k] < cfg.LS_MIN_SEGMENT_MM:
            continue
        if any(clear[j] and tilt[j] > tilt[k] - cfg.LS_MIN_JUMP_DEG for j in range(1, k - 1)):
            continue
        # A clearly measured band below as tilted may be the real L5/S1 (this one L4/L5) or a sacral
        # fusion line: the tilt cannot tell which, so neither is taken.
        if any(clear[j] and tilt[j] >= tilt[k] - cfg.LS_BELOW_MARGIN_DEG for j in range(k + 1, len(tilt))):
            return None
        candidates.append(k)
    return candidates[0] if len(candidates) == 1 else None
