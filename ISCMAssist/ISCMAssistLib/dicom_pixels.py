"""DICOM pixels into a Volume: raw little-endian frames read straight from the file, compressed ones
decoded by pydicom (pylibjpeg), rescaled by slope/intercept, and load_dicom_series, which puts one
series' frames on their slice grid.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import coords
from .dicom_frames import Frame, check_uniform, image_frames, slice_grid
from .dicom_header import pixel_location, read_dicom_header
from .progress import ProgressCallback
from .volumes import Volume, VolumeLoadError, check_allocation

#: Transfer syntaxes whose pixels are stored raw (read straight into the volume array).
_RAW_LITTLE_ENDIAN = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"}


def _pixel_dtype(dataset, path: Path) -> np.dtype:
    """Return the stored pixel dtype (little endian) from BitsAllocated/BitsStored/PixelRepresentation."""
    try:
        bits = int(dataset.get("BitsAllocated", 16))
        stored = int(dataset.get("BitsStored", bits))
        signed = int(dataset.get("PixelRepresentation", 0)) == 1
    except (TypeError, ValueError) as error:
        raise VolumeLoadError(f"{path}: BitsAllocated/BitsStored/PixelRepresentation unreadable ({error})", "pixels") from error
    if bits not in (8, 16, 32):
        raise VolumeLoadError(f"{path}: BitsAllocated {bits} is not supported (8, 16 or 32)", "pixels")
    if not 1 <= stored <= bits:
        raise VolumeLoadError(f"{path}: BitsStored {stored} does not fit BitsAllocated {bits}", "pixels")
    return np.dtype(f"{'i' if signed else 'u'}{bits // 8}").newbyteorder("<")


def _stored_bits_mask(dataset) -> int | None:
    """Return the mask that clears the unused high bits of unsigned pixels, or None when all bits are used."""
    bits = int(dataset.get("BitsAllocated", 16))
    stored = int(dataset.get("BitsStored", bits))
    return (1 << stored) - 1 if stored < bits else None


def _raw_readable(dataset) -> bool:
    """Return whether the pixel data can be read as raw little-endian bytes straight from the file."""
    syntax = str(dataset.file_meta.get("TransferSyntaxUID", "")) if hasattr(dataset, "file_meta") else ""
    if syntax not in _RAW_LITTLE_ENDIAN:
        return False
    bits, stored = int(dataset.get("BitsAllocated", 16)), int(dataset.get("BitsStored", 16))
    signed = int(dataset.get("PixelRepresentation", 0)) == 1
    return not (signed and stored < bits)


def _decoded_frames(path: Path) -> np.ndarray:
    """Decode all frames of ``path`` with pydicom (compressed syntaxes); return shape (frames, rows, cols)."""
    import pydicom

    try:
        dataset = pydicom.dcmread(path)
    except Exception as error:
        raise VolumeLoadError(f"{path}: cannot be read ({error})") from error
    syntax = dataset.file_meta.get("TransferSyntaxUID")
    try:
        pixels = dataset.pixel_array
    except Exception as error:
        name = getattr(syntax, "name", str(syntax))
        raise VolumeLoadError(
            f"{path}: pixel data in transfer syntax {name} ({syntax}) cannot be decoded ({error}); "
            "install pylibjpeg, pylibjpeg-libjpeg, pylibjpeg-openjpeg"
        ) from error
    if pixels.ndim == 2:
        pixels = pixels[None]
    return pixels


def _check_raw_length(frame: Frame, dtype: np.dtype) -> tuple:
    """Return pixel_location(frame) after checking that the pixel data hold exactly the frames the
    header promises (VolumeLoadError naming the file otherwise)."""
    offset, length, value = pixel_location(frame.dataset)
    n_bytes = frame.rows * frame.columns * dtype.itemsize
    n_frames = int(frame.dataset.get("NumberOfFrames", 1) or 1)
    if not n_bytes * n_frames <= length <= n_bytes * n_frames + 1:  # one pad byte makes an odd length even
        raise VolumeLoadError(
            f"{frame.file}: pixel data holds {length} bytes, {n_frames * n_bytes} expected "
            f"for {n_frames} frame(s) of {frame.rows}x{frame.columns} pixels of {dtype.itemsize} byte(s)",
            "pixels",
        )
    return offset, length, value


def _check_planned_size(frames: list[Frame], index: np.ndarray, shape: tuple, dtype: np.dtype, source: str) -> None:
    """Before allocating: the pixel data present must match the header (raw frames), the slice grid
    must not be mostly blank slices (a wrong ImagePositionPatient), and the array must fit the limit."""
    for frame in frames:
        if _raw_readable(frame.dataset):
            _check_raw_length(frame, _pixel_dtype(frame.dataset, frame.file))
    if shape[0] > 2 * len(frames) + 8:
        raise VolumeLoadError(
            f"{source}: the slice positions span {shape[0]} slices but only {len(frames)} are present "
            f"(an ImagePositionPatient far off the others?); not loaded", "geometry")
    check_allocation(shape, dtype, source)


def _read_raw_frame(open_file: Callable[[Path], Any], frame: Frame, out: np.ndarray, dtype: np.dtype) -> None:
    """Read one raw frame's pixels into ``out`` (rows, cols): straight from the file when the value was deferred."""
    offset, length, value = _check_raw_length(frame, dtype)
    n_bytes = frame.rows * frame.columns * dtype.itemsize
    if value is not None:
        out[...] = np.frombuffer(value, dtype=dtype, count=frame.rows * frame.columns, offset=frame.frame * n_bytes).reshape(out.shape)
    else:
        handle = open_file(frame.file)
        handle.seek(offset + frame.frame * n_bytes)
        if handle.readinto(memoryview(out).cast("B")) != n_bytes:
            raise VolumeLoadError(f"{frame.file}: truncated pixel data", "pixels")
    mask = _stored_bits_mask(frame.dataset)
    if mask is not None:  # bits above BitsStored are not pixel values (e.g. old overlays)
        np.bitwise_and(out, mask, out=out, casting="unsafe")


def _store(target: np.ndarray, pixels: np.ndarray, frame: Frame) -> None:
    """Write ``pixels * slope + intercept`` into ``target`` (one slice of the output array)."""
    if frame.slope == 1.0 and frame.intercept == 0.0:
        target[...] = pixels
    else:
        np.multiply(pixels, frame.slope, out=target, casting="unsafe")
        target += frame.intercept


def _read_headers(paths: list[Path], progress: ProgressCallback | None) -> list:
    headers = []
    for number, path in enumerate(paths):
        headers.append(read_dicom_header(path))
        if progress:
            progress(number + 1, 2 * len(paths))
    return headers


def _ijk_to_ras(reference: Frame, step_lps: np.ndarray) -> np.ndarray:
    """ijkToLPS (columns: row direction x column spacing, column direction x row spacing, slice step;
    origin the first sorted IPP), converted to RAS once."""
    ijk_to_lps = np.eye(4)
    ijk_to_lps[:3, 0] = reference.orientation[:3] * reference.pixel_spacing[1]
    ijk_to_lps[:3, 1] = reference.orientation[3:] * reference.pixel_spacing[0]
    ijk_to_lps[:3, 2] = step_lps
    ijk_to_lps[:3, 3] = reference.position
    return coords.ijk_to_lps_matrix_to_ras(ijk_to_lps)


class _FileHandles:
    """Keeps one file open at a time for reading raw frames (series files are read in slice order)."""

    def __init__(self) -> None:
        self.handles: dict[Path, Any] = {}

    def __call__(self, path: Path) -> Any:
        if path not in self.handles:
            self.close()
            try:
                self.handles[path] = open(path, "rb", buffering=0)
            except OSError as error:
                raise VolumeLoadError(f"{path}: cannot be opened ({error.strerror})", "unreadable") from error
        return self.handles[path]

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()
        self.handles.clear()


def _fill_pixels(array: np.ndarray, frames: list[Frame], index: np.ndarray, stored_dtype: np.dtype, identity: bool,
                 progress: ProgressCallback | None, header_steps: int) -> None:
    """Read every frame's pixels into its slice ``array[k]``: raw frames straight from the file,
    compressed ones decoded (one file's frames kept at a time); slope/intercept applied."""
    reference = frames[0]
    scratch = None if identity else np.empty((reference.rows, reference.columns), dtype=stored_dtype)
    decoded: dict[Path, np.ndarray] = {}
    open_file = _FileHandles()
    try:
        for done, (frame, k) in enumerate(zip(frames, index)):
            file_dtype = _pixel_dtype(frame.dataset, frame.file)
            if _raw_readable(frame.dataset):
                if identity and file_dtype == stored_dtype:
                    _read_raw_frame(open_file, frame, array[k], file_dtype)
                else:
                    buffer = scratch if scratch is not None and scratch.dtype == file_dtype else np.empty(
                        (frame.rows, frame.columns), dtype=file_dtype
                    )
                    _read_raw_frame(open_file, frame, buffer, file_dtype)
                    _store(array[k], buffer, frame)
            else:
                if frame.file not in decoded:
                    decoded = {frame.file: _decoded_frames(frame.file)}  # keep one file's frames at a time
                pixels = decoded[frame.file]
                if pixels.shape[0] <= frame.frame or pixels.shape[1:] != (frame.rows, frame.columns):
                    raise VolumeLoadError(
                        f"{frame.file}: decoded pixels have shape {pixels.shape}, expected frame "
                        f"{frame.frame + 1} of {frame.rows}x{frame.columns}",
                        "pixels",
                    )
                _store(array[k], pixels[frame.frame], frame)
            if progress:
                progress(header_steps + done + 1, header_steps + len(frames))
    finally:
        open_file.close()


def load_dicom_series(
    files: Sequence[str | os.PathLike],
    *,
    headers: Sequence[object] | None = None,
    source: str | None = None,
    progress: ProgressCallback | None = None,
) -> Volume:
    """Load the image files of ONE DICOM series (single-frame and/or enhanced multi-frame) as a Volume.

    Takes the file paths (any order) and optionally their already-read header Datasets (from
    ``read_dicom_header``, same order). Sorts slices along the normal, builds ijkToLPS (columns:
    row direction x column spacing, column direction x row spacing, slice step; origin the first
    sorted IPP) and converts it to RAS once. Applies RescaleSlope/Intercept (float32 output when
    they are not 1/0). Missing slices become blank slices listed in ``Volume.gaps`` and
    ``Volume.warnings``. ``progress(done, total)`` is called per file read. Raises
    VolumeLoadError naming the file for every inconsistency.
    """
    paths = [f if isinstance(f, Path) else Path(f) for f in files]
    source = source or (str(paths[0].parent) if paths else "series")
    if not paths:
        raise VolumeLoadError(f"{source}: no DICOM files given")
    header_steps = 0 if headers is not None else len(paths)
    headers = headers if headers is not None else _read_headers(paths, progress)
    series_uids = {str(h.get("SeriesInstanceUID", "")) for h in headers}
    if len(series_uids) > 1:
        raise VolumeLoadError(f"{source}: files of {len(series_uids)} different series given; pass one series")
    frames: list[Frame] = []
    for path, header in zip(paths, headers):
        frames.extend(image_frames(header, path))
    check_uniform(frames, source)
    frames, index, step_lps, gaps, warnings = slice_grid(frames, source)

    reference = frames[0]
    dtypes = {_pixel_dtype(f.dataset, f.file) for f in frames}
    stored_dtype = np.result_type(*dtypes) if len(dtypes) > 1 else dtypes.pop()
    identity = all(f.slope == 1.0 and f.intercept == 0.0 for f in frames)
    out_dtype = stored_dtype.newbyteorder("=") if identity else np.dtype(np.float32)
    shape = (int(index[-1]) + 1, reference.rows, reference.columns)
    _check_planned_size(frames, index, shape, out_dtype, source)
    array = np.zeros(shape, dtype=out_dtype) if gaps else np.empty(shape, dtype=out_dtype)
    _fill_pixels(array, frames, index, stored_dtype, identity, progress, header_steps)

    multi_frame = any("PerFrameFunctionalGroupsSequence" in f.dataset for f in frames)
    first = reference.dataset
    return Volume(
        array=array,
        ijk_to_ras=_ijk_to_ras(reference, step_lps),
        source=source,
        warnings=warnings,
        gaps=gaps,
        series_uid=str(first.get("SeriesInstanceUID", "")) or None,
        frame_of_reference_uid=str(first.get("FrameOfReferenceUID", "")) or None,
        sop_instance_uids=[] if multi_frame else [f.sop_uid for f in frames],
        files=list(dict.fromkeys(f.file for f in frames)),
    )
