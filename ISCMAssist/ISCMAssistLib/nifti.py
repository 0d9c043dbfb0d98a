"""NIfTI files as Volumes (nibabel): the file name test and the loader."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .volumes import Volume, VolumeLoadError, check_allocation


def is_nifti_path(path: str | os.PathLike) -> bool:
    """Return whether ``path`` names a NIfTI file by its suffix (.nii or .nii.gz)."""
    name = os.fspath(path).lower()
    return name.endswith(".nii") or name.endswith(".nii.gz")


def load_nifti(path: str | os.PathLike) -> Volume:
    """Load a ``.nii``/``.nii.gz`` file; return a Volume (array [k, j, i], scaled by scl_slope/inter).

    The affine is the sform when its code is > 0, else the qform when its code is > 0, else
    nibabel's fallback (with a warning). NIfTI world space is RAS already. 4D images with more than
    one volume are refused.
    """
    import nibabel as nib

    path = Path(path)
    try:
        image = nib.load(str(path))
    except Exception as error:  # nibabel raises many types for corrupt files
        raise VolumeLoadError(f"{path}: not a readable NIfTI file ({error})") from error
    header = image.header
    warnings: list[str] = []
    sform, sform_code = image.get_sform(coded=True)
    qform, qform_code = image.get_qform(coded=True)
    if sform is not None and int(sform_code) > 0:
        affine = sform
    elif qform is not None and int(qform_code) > 0:
        affine = qform
    else:
        affine = image.affine
        warnings.append(f"{path}: neither sform nor qform is set; using the voxel sizes only")
    shape = image.shape
    if len(shape) > 3 and int(np.prod(shape[3:])) != 1:
        raise VolumeLoadError(f"{path}: {len(shape)}D image with shape {shape}; only 3D volumes are loaded")
    if len(shape) < 3:
        raise VolumeLoadError(f"{path}: {len(shape)}D image with shape {shape}; a 3D volume is needed")
    zooms = np.asarray(header.get_zooms()[:3], dtype=float)
    if not np.all(np.isfinite(zooms)) or np.any(zooms <= 0):
        raise VolumeLoadError(f"{path}: voxel sizes {zooms.tolist()} mm are not all positive numbers")
    stored = header.get_data_dtype()
    if stored.fields is not None or stored.kind == "c":
        kind = "RGB/structured" if stored.fields is not None else "complex"
        raise VolumeLoadError(f"{path}: {kind} voxels ({stored}); a scalar 3D image or mask is needed", "pixels")
    planned_dtype = np.dtype(np.float64) if image.dataobj.slope != 1 or image.dataobj.inter != 0 else stored
    check_allocation(shape[:3], planned_dtype, str(path))
    if not str(path).lower().endswith(".gz"):  # an uncompressed file must hold its voxels
        needed = int(header.get_data_offset()) + int(np.prod(shape, dtype=object)) * stored.itemsize
        if path.stat().st_size < needed:
            raise VolumeLoadError(f"{path}: truncated: {path.stat().st_size} bytes, {needed} needed for "
                                  f"shape {tuple(shape)} of {stored}", "pixels")
    try:
        data = np.asanyarray(image.dataobj)
    except Exception as error:
        raise VolumeLoadError(f"{path}: image data cannot be read ({error})") from error
    data = data.reshape(shape[:3])
    array = np.ascontiguousarray(data.transpose(2, 1, 0))
    return Volume(array=array, ijk_to_ras=np.asarray(affine, dtype=float), source=str(path), warnings=warnings)


def save_nifti(volume: Volume, path: str | os.PathLike) -> Path:
    """Write a Volume as a NIfTI file (.nii or .nii.gz; sform and qform = ijk_to_ras, RAS mm) atomically;
    return the path."""
    import nibabel as nib

    from .files import atomic_write_bytes

    path = Path(path)
    image = nib.Nifti1Image(np.ascontiguousarray(np.asarray(volume.array).transpose(2, 1, 0)), volume.ijk_to_ras)
    image.set_sform(volume.ijk_to_ras, code=1)
    image.set_qform(volume.ijk_to_ras, code=1)
    data = image.to_bytes()
    if path.name.lower().endswith(".gz"):
        import gzip

        data = gzip.compress(data, mtime=0)
    atomic_write_bytes(path, data)
    return path
