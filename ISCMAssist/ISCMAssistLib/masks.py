"""Checks on segmentation masks before they are measured: label values, and the grid they lie on."""

from __future__ import annotations

import numpy as np

from .volumes import Volume

#: A mask may hold 0 and at most this many distinct positive integer labels (a greyscale image has hundreds).
MAX_LABELS = 32
#: Two grids are the same when their ijk_to_ras matrices differ by at most this (mm).
GRID_TOLERANCE_MM = 0.01


class MaskError(ValueError):
    """A mask that cannot be measured (not binary or label-valued); the message names the file."""


def check_mask_values(mask: Volume, what: str) -> None:
    """Take a mask Volume and its description ("lesion.nii.gz: the lesion mask"); raise MaskError
    unless its voxels are 0 or non-negative integer labels, at most MAX_LABELS distinct ones."""
    array = np.asarray(mask.array)
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
            or array.dtype == bool):
        raise MaskError(f"{what} has voxels of type {array.dtype}; a mask holds 0/1 or integer labels")
    values = np.unique(array)
    if values.size and (not np.all(np.isfinite(values)) or values.min() < 0 or np.any(values != np.round(values))):
        raise MaskError(f"{what} is not binary or label-valued (values from {values.min():g} to "
                        f"{values.max():g}, some not whole numbers); is it an image rather than a mask?")
    positive = int(np.count_nonzero(values > 0))
    if positive > MAX_LABELS:
        raise MaskError(f"{what} holds {positive} distinct values (at most {MAX_LABELS} labels for a mask); "
                        f"is it an image rather than a mask?")


def same_grid(a: Volume, b: Volume) -> bool:
    """Return whether two volumes share shape and voxel-to-RAS matrix (within GRID_TOLERANCE_MM)."""
    return a.array.shape == b.array.shape and bool(np.allclose(a.ijk_to_ras, b.ijk_to_ras, atol=GRID_TOLERANCE_MM))


def resample_to_grid(mask: Volume, grid: Volume) -> Volume:
    """Take a mask and a volume; return the mask resampled onto the volume's grid by nearest neighbour
    (voxels outside the mask are 0), with the volume's geometry and gaps."""
    from scipy.ndimage import affine_transform

    ijk_to_ijk = np.linalg.inv(mask.ijk_to_ras) @ grid.ijk_to_ras  # grid (i, j, k) -> mask (i, j, k)
    swap = np.eye(4)[[2, 1, 0, 3]]  # arrays are indexed [k, j, i]
    matrix = swap @ ijk_to_ijk @ swap
    data = affine_transform(np.asarray(mask.array), matrix[:3, :3], offset=matrix[:3, 3],
                            output_shape=grid.array.shape, order=0, cval=0)
    return Volume(data, grid.ijk_to_ras.copy(), source=mask.source, gaps=list(grid.gaps))
