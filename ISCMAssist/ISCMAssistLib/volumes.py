"""The image volume type: ``Volume`` (array and exact geometry), its slice gaps and the load error.

A ``Volume`` holds ``array`` indexed ``[k, j, i]`` (Slicer's ``arrayFromVolume`` order) and the 4x4
``ijk_to_ras`` matrix mapping voxel indices ``(i, j, k, 1)`` to RAS mm. Loading lives beside it:
images.load_volume opens any image (NIfTI in nifti.py, DICOM in dicom_header.py, dicom_frames.py and
dicom_pixels.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class VolumeLoadError(ValueError):
    """A file or folder that cannot be loaded as one volume; the message names it and the problem.

    ``kind`` classifies the problem for listings: "not_dicom", "damaged", "unreadable", "non_image",
    "geometry", "pixels" or "other".
    """

    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind


#: The largest image array a load may allocate, in GiB; raise it with ``iscm-assist --max-volume-gb N``
#: or the environment variable ISCM_MAX_VOLUME_GB (the README states the default).
DEFAULT_MAX_VOLUME_GB = 2.0
MAX_VOLUME_ENV = "ISCM_MAX_VOLUME_GB"


def max_volume_bytes() -> int:
    """Return the allocation limit for one image array (bytes): $ISCM_MAX_VOLUME_GB GiB, else the default."""
    import os

    try:
        gib = float(os.environ.get(MAX_VOLUME_ENV, DEFAULT_MAX_VOLUME_GB))
    except ValueError:
        gib = DEFAULT_MAX_VOLUME_GB
    return int(gib * 2**30) if gib > 0 else int(DEFAULT_MAX_VOLUME_GB * 2**30)


def check_allocation(shape: Sequence[int], dtype, source: str) -> None:
    """Take a planned array shape and dtype and the file or folder it is for; raise VolumeLoadError
    (before anything is allocated) when it exceeds max_volume_bytes()."""
    planned = int(np.prod([int(n) for n in shape], dtype=object)) * np.dtype(dtype).itemsize
    limit = max_volume_bytes()
    if planned > limit:
        raise VolumeLoadError(
            f"{source}: the image would need {planned / 2**30:.1f} GiB (shape {tuple(int(n) for n in shape)}), "
            f"over the limit of {limit / 2**30:.1f} GiB; raise it with iscm-assist --max-volume-gb N "
            f"(or ${MAX_VOLUME_ENV}) if the image is really that large", "pixels")


class SliceGapError(ValueError):
    """A measurement that would span a slice gap (missing slices) of its volume."""


@dataclass(frozen=True)
class SliceGap:
    """Missing slices inside a volume: blank slices ``k_first..k_last`` (inclusive) were inserted.

    ``gap_mm`` is the distance between the acquired slices on either side; ``step_mm`` the regular
    slice step of the volume.
    """

    k_first: int
    k_last: int
    gap_mm: float
    step_mm: float


@dataclass(eq=False)  # arrays do not compare with ==: compare .array and .ijk_to_ras explicitly
class Volume:
    """A 3D image: ``array`` indexed [k, j, i] and ``ijk_to_ras`` (4x4, voxel index -> RAS mm).

    ``warnings`` lists problems found while loading (e.g. slice gaps); ``gaps`` the blank slices
    that stand in for missing ones. ``source`` names the file or folder; ``series_uid``,
    ``frame_of_reference_uid``, ``sop_instance_uids`` (one per k for single-frame series) and
    ``files`` are filled for DICOM.
    """

    array: np.ndarray
    ijk_to_ras: np.ndarray
    source: str = ""
    warnings: list[str] = field(default_factory=list)
    gaps: list[SliceGap] = field(default_factory=list)
    series_uid: str | None = None
    frame_of_reference_uid: str | None = None
    sop_instance_uids: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.array = np.asarray(self.array)
        self.ijk_to_ras = np.array(self.ijk_to_ras, dtype=float)
        if self.ijk_to_ras.shape != (4, 4):
            raise VolumeLoadError(f"{self.source or 'volume'}: ijk_to_ras must be 4x4, got {self.ijk_to_ras.shape}")
        if self.array.ndim != 3:
            raise VolumeLoadError(f"{self.source or 'volume'}: array must be 3D [k, j, i], got shape {np.shape(self.array)}")
        if not np.all(np.isfinite(self.ijk_to_ras)) or abs(np.linalg.det(self.ijk_to_ras[:3, :3])) < 1e-12:
            raise VolumeLoadError(f"{self.source or 'volume'}: ijk_to_ras is not finite and invertible")

    @property
    def shape_ijk(self) -> tuple[int, int, int]:
        """Return the number of voxels along (i, j, k)."""
        k, j, i = self.array.shape
        return (i, j, k)

    @property
    def spacing_mm(self) -> np.ndarray:
        """Return the voxel spacing (mm) along i, j, k: the lengths of the matrix columns, shape (3,)."""
        return np.linalg.norm(self.ijk_to_ras[:3, :3], axis=0)

    @property
    def origin(self) -> np.ndarray:
        """Return the RAS mm position of the centre of voxel (0, 0, 0), shape (3,)."""
        return self.ijk_to_ras[:3, 3].copy()

    @property
    def directions(self) -> np.ndarray:
        """Return the 3x3 matrix whose columns are the unit RAS directions of i, j, k."""
        return self.ijk_to_ras[:3, :3] / self.spacing_mm

    def voxel_to_ras(self, ijk: np.ndarray | Sequence[float]) -> np.ndarray:
        """Take voxel indices (i, j, k) (shape (3,) or (N, 3), may be fractional); return RAS mm, same shape."""
        points = np.asarray(ijk, dtype=float)
        return points @ self.ijk_to_ras[:3, :3].T + self.ijk_to_ras[:3, 3]

    def ras_to_voxel(self, ras: np.ndarray | Sequence[float]) -> np.ndarray:
        """Take RAS mm points (shape (3,) or (N, 3)); return continuous voxel indices (i, j, k), same shape."""
        points = np.asarray(ras, dtype=float)
        inverse = np.linalg.inv(self.ijk_to_ras)
        return points @ inverse[:3, :3].T + inverse[:3, 3]

    def contains_ras(self, ras: np.ndarray | Sequence[float]) -> np.ndarray | bool:
        """Take RAS mm points ((3,) or (N, 3)); return whether each lies inside the volume's voxels.

        Inside means within half a voxel of the outermost voxel centres. Returns a bool for one
        point, else a bool array of shape (N,).
        """
        ijk = self.ras_to_voxel(ras)
        limits = np.array(self.shape_ijk, dtype=float) - 0.5
        inside = np.all((ijk >= -0.5 - 1e-6) & (ijk <= limits + 1e-6), axis=-1)
        return bool(inside) if np.ndim(inside) == 0 else inside

    def gaps_crossed(self, ras: np.ndarray | Sequence[float]) -> list[SliceGap]:
        """Take RAS mm points ((3,) or (N, 3)); return the slice gaps their k-extent touches or spans."""
        k = np.atleast_2d(self.ras_to_voxel(ras))[:, 2]
        k_min, k_max = float(k.min()), float(k.max())
        return [gap for gap in self.gaps if k_max > gap.k_first - 1 and k_min < gap.k_last + 1]

    def require_no_gap(self, ras: np.ndarray | Sequence[float], what: str = "measurement") -> None:
        """Raise SliceGapError when the RAS mm points span or touch a slice gap of this volume."""
        crossed = self.gaps_crossed(ras)
        if crossed:
            gap = crossed[0]
            raise SliceGapError(
                f"{self.source or 'volume'}: {what} crosses a slice gap of {gap.gap_mm:.2f} mm "
                f"(slices {gap.k_first}-{gap.k_last} missing, step {gap.step_mm:.2f} mm); not measured"
            )
