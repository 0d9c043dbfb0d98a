"""Resampling for automatic levels: the S-I step of a volume, the 1 mm mid-sagittal slab, the
mid-sagittal plane near the discs, and straightened-frame to RAS conversion."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from . import settings as cfg
from .records import AutoLevelsError, Chain, Grid


def si_step_mm(volume) -> float:
    """Return the sampling step (mm) of ``volume`` along S-I: the S-I extent of one step along the
    voxel axis that points most nearly S-I (7.5 for an axial stack of 7.5 mm slices)."""
    try:
        matrix = np.asarray(volume.ijk_to_ras, dtype=float)[:3, :3]
    except (AttributeError, TypeError, ValueError) as error:
        raise AutoLevelsError(f"volume: not a Volume with array and ijk_to_ras ({error})") from None
    lengths = np.linalg.norm(matrix, axis=0)
    if matrix.shape != (3, 3) or not np.all(np.isfinite(matrix)) or np.any(lengths == 0):
        raise AutoLevelsError(f"{getattr(volume, 'source', '') or 'volume'}: ijk_to_ras is not a valid 4x4 matrix")
    axis = int(np.argmax(np.abs(matrix[2]) / lengths))
    return float(abs(matrix[2, axis]))


def sagittal_grid(volume, offset_mm: float = 0.0) -> Grid | None:
    """Resample a sagittal slab of ``volume`` at 1 mm, ``offset_mm`` right of the volume's middle;
    return the averaged sagittal image, or None when the slab lies outside the volume."""
    try:
        array = np.asarray(volume.array, dtype=np.float32)
        ijk_to_ras = np.asarray(volume.ijk_to_ras, dtype=float)
    except (AttributeError, TypeError, ValueError) as error:
        raise AutoLevelsError(f"volume: not a Volume with array and ijk_to_ras ({error})") from None
    name = getattr(volume, "source", "") or "volume"
    if array.ndim != 3 or min(array.shape) < 1:
        raise AutoLevelsError(f"{name}: image must be 3D, got shape {array.shape}")
    if not np.isfinite(array).any():
        raise AutoLevelsError(f"{name}: image holds no finite values")
    array = np.nan_to_num(array, nan=0.0, posinf=0.0, neginf=0.0)
    nk, nj, ni = array.shape
    corners = np.array([[i, j, k, 1.0] for i in (0, ni - 1) for j in (0, nj - 1) for k in (0, nk - 1)])
    ras = (ijk_to_ras @ corners.T).T[:, :3]
    lo, hi = ras.min(axis=0), ras.max(axis=0)
    x_centre = 0.5 * (lo[0] + hi[0]) + offset_mm
    if offset_mm and not lo[0] + cfg.SLAB_HALF_MM <= x_centre <= hi[0] - cfg.SLAB_HALF_MM:
        return None
    xs = np.arange(-cfg.SLAB_HALF_MM, cfg.SLAB_HALF_MM + 1e-6, 2.0) + x_centre
    ys = np.arange(hi[1], lo[1] - 1e-6, -cfg.STEP_MM)
    zs = np.arange(hi[2], lo[2] - 1e-6, -cfg.STEP_MM)
    if len(zs) < 2 or len(ys) < 2:
        raise AutoLevelsError(f"{name}: field of view {hi - lo} mm is too small to hold a spine")
    inverse = np.linalg.inv(ijk_to_ras)
    X, Z, Y = np.meshgrid(xs, zs, ys, indexing="ij")
    points = np.stack([X.ravel(), Y.ravel(), Z.ravel(), np.ones(X.size)])
    ijk = (inverse @ points)[:3]
    # Voxels within half a voxel of the volume count as inside (the slab may be thinner than 1 voxel).
    inside = np.all((ijk > -0.5) & (ijk < np.array([[ni], [nj], [nk]]) - 0.5), axis=0)
    values = ndimage.map_coordinates(array, [ijk[2], ijk[1], ijk[0]], order=1, mode="nearest")
    values = np.where(inside, values, np.nan).reshape(X.shape)
    count = np.isfinite(values).sum(axis=0)
    image = np.where(count > 0, np.nansum(values, axis=0) / np.maximum(count, 1), np.nan)
    return Grid(image=image.astype(np.float32), z0=float(zs[0]), y0=float(ys[0]), x=float(x_centre))


def lateral_centre(volume, grid: Grid, chain: Chain) -> float:
    """Return the RAS x (mm) of the mid-sagittal plane near the discs: the x about which the image
    around the disc chain is most nearly mirror-symmetric, searched within +-15 mm of the slab.

    (The strongest disc/body contrast across R was tried first; on real lumbar T2 the foramina and
    pedicles beat the midline, putting points 13 mm off it.) Falls back to the slab centre when no
    candidate has the volume on both sides.
    """
    discs = chain_positions(grid, chain)
    steps = np.arange(-cfg.SYMMETRY_BOX_MM, cfg.SYMMETRY_BOX_MM + 1e-6, 2.0)
    offsets = np.stack(np.meshgrid(steps, steps / 4.0, indexing="ij"), axis=-1).reshape(-1, 2)  # (A, S)
    around = np.repeat(discs[:, None, :], len(offsets), axis=1)
    around[..., 1] += offsets[:, 0]
    around[..., 2] += offsets[:, 1]
    around = around.reshape(-1, 3)
    xs = grid.x + np.arange(-cfg.SYMMETRY_SEARCH_MM - cfg.SYMMETRY_REACH_MM, cfg.SYMMETRY_SEARCH_MM + cfg.SYMMETRY_REACH_MM + 1e-6)
    inverse = np.linalg.inv(np.asarray(volume.ijk_to_ras, dtype=float))
    points = np.repeat(around[None, :, :], xs.size, axis=0)
    points[..., 0] = xs[:, None]
    ijk = points @ inverse[:3, :3].T + inverse[:3, 3]
    values = ndimage.map_coordinates(np.asarray(volume.array, dtype=np.float32),
                                     [ijk[..., 2], ijk[..., 1], ijk[..., 0]], order=1, mode="constant", cval=np.nan)
    # Mirror symmetry about x = c means the R-gradient is odd about c: g(c + d) = -g(c - d). Comparing
    # gradients, not intensities, keeps flat stretches (e.g. padding slices) from looking symmetric.
    gradient = np.gradient(values, axis=0)
    reach = np.arange(1, int(cfg.SYMMETRY_REACH_MM) + 1)
    scores: list[tuple[float, float, float]] = []  # (x, asymmetry, gradient energy)
    for centre in range(int(cfg.SYMMETRY_REACH_MM), xs.size - int(cfg.SYMMETRY_REACH_MM)):
        right, left = gradient[centre + reach], gradient[centre - reach]
        # Every candidate compares the same distances, all inside the volume in R.
        if not (np.isfinite(right).any(axis=1).all() and np.isfinite(left).any(axis=1).all()):
            continue
        energy = float(np.nansum(np.abs(right) + np.abs(left)))
        scores.append((float(xs[centre]), float(np.nansum(np.abs(right + left))) / max(energy, 1e-12), energy))
    if not scores:
        return grid.x
    typical_energy = float(np.median([energy for _, _, energy in scores]))
    textured = [(asymmetry, x) for x, asymmetry, energy in scores if energy >= 0.5 * typical_energy]
    return min(textured)[1] if textured else grid.x


def chain_positions(grid: Grid, chain: Chain) -> np.ndarray:
    """Return RAS points (N, 3) of the chain's discs."""
    return frame_to_ras(grid, chain.frame, chain.s, chain.t)


def frame_to_ras(grid: Grid, frame: dict, s: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Convert straightened (s along the canal, t anterior) mm to RAS points (N, 3)."""
    index = np.arange(frame["zs"].size, dtype=float)
    zs, ys = np.interp(s, index, frame["zs"]), np.interp(s, index, frame["ys"])
    nz, ny = np.interp(s, index, frame["nz"]), np.interp(s, index, frame["ny"])
    return grid.to_ras(zs + t * nz, ys + t * ny)
