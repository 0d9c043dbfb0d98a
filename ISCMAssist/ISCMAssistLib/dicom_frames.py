"""The slice geometry of a DICOM series from its headers: one Frame per 2D image (single-frame files
and the frames of enhanced multi-frame files), checks that they form one grid, their order along the
slice normal and the slice gaps. Positions and directions are LPS mm.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .dicom_header import read_dicom_header
from .volumes import SliceGap, VolumeLoadError

#: Relative tolerance on slice positions (fraction of the slice step) and on direction cosines.
POSITION_TOLERANCE = 0.05
DIRECTION_TOLERANCE = 1e-3


@dataclass
class Frame:
    """One 2D image (a single-frame file or one frame of a multi-frame file) and its LPS geometry."""

    file: Path
    frame: int  # 0 for single-frame files
    orientation: np.ndarray  # (6,) IOP, unit row then column direction (LPS)
    position: np.ndarray  # (3,) IPP of the first pixel centre (LPS mm)
    pixel_spacing: np.ndarray  # (2,) [between rows, between columns] mm
    rows: int
    columns: int
    slope: float
    intercept: float
    sop_uid: str
    dataset: object  # the header Dataset (pixel data deferred)


def _float_list(dataset, keyword: str, count: int, path: Path, required: bool = True) -> np.ndarray | None:
    """Return tag ``keyword`` of ``dataset`` as ``count`` finite floats; VolumeLoadError names the file/tag."""
    try:
        value = dataset.get(keyword)
        if value is None or value == "":
            if required:
                raise VolumeLoadError(f"{path}: {keyword} is missing")
            return None
        numbers = [float(v) for v in (value if count > 1 else [value])]
    except VolumeLoadError:
        raise
    except Exception as error:
        raise VolumeLoadError(f"{path}: {keyword} is not a list of numbers ({error})") from error
    if len(numbers) != count:
        raise VolumeLoadError(f"{path}: {keyword} has {len(numbers)} values, {count} expected")
    if not all(math.isfinite(v) for v in numbers):
        raise VolumeLoadError(f"{path}: {keyword} holds NaN or infinite values: {numbers}")
    return np.array(numbers)


def _check_orientation(orientation: np.ndarray, path: Path) -> np.ndarray:
    """Return the IOP with unit vectors; raise when they are not (nearly) orthogonal unit vectors."""
    normalised = _normalised_orientation(tuple(orientation.tolist()))
    if normalised is None:
        raise VolumeLoadError(
            f"{path}: ImageOrientationPatient {orientation.tolist()} is not two orthogonal unit vectors"
        )
    return normalised


@functools.lru_cache(maxsize=64)
def _normalised_orientation(values: tuple[float, ...]) -> np.ndarray | None:
    """Return the IOP as exactly orthonormal row/column vectors (6,), or None when it is not nearly so."""
    orientation = np.array(values)
    row, column = orientation[:3], orientation[3:]
    norms = np.linalg.norm(row), np.linalg.norm(column)
    # Rounding in the file leaves row.column ~1e-6; beyond DIRECTION_TOLERANCE the plane itself is
    # ambiguous and silently orthogonalising it would tilt the volume.
    if min(norms) < 0.9 or max(norms) > 1.1 or abs(float(row @ column)) / (norms[0] * norms[1]) > DIRECTION_TOLERANCE:
        return None
    row, column = row / norms[0], column / norms[1]
    column = column - (row @ column) * row  # remove the rounding left in the file
    result = np.concatenate([row, column / np.linalg.norm(column)])
    result.flags.writeable = False  # shared between frames through the cache
    return result


def image_frames(dataset, path: Path) -> list[Frame]:
    """Return the frames of one image file with their geometry; VolumeLoadError for unusable headers."""
    if "PixelData" not in dataset:
        raise VolumeLoadError(f"{path}: holds no pixel data (not an image)")
    try:
        rows, columns = int(dataset.Rows), int(dataset.Columns)
        samples = int(dataset.get("SamplesPerPixel", 1))
        n_frames = int(dataset.get("NumberOfFrames", 1) or 1)
    except Exception as error:
        raise VolumeLoadError(f"{path}: Rows/Columns/NumberOfFrames unreadable ({error})") from error
    if rows <= 0 or columns <= 0:
        raise VolumeLoadError(f"{path}: image size {rows}x{columns} is empty")
    if samples != 1:
        raise VolumeLoadError(f"{path}: {samples} samples per pixel (colour); only greyscale MR is loaded")
    sop_uid = str(dataset.get("SOPInstanceUID", ""))
    if "PerFrameFunctionalGroupsSequence" in dataset:
        return _enhanced_frames(dataset, path, rows, columns, n_frames, sop_uid)
    if n_frames != 1:
        raise VolumeLoadError(f"{path}: {n_frames} frames but no PerFrameFunctionalGroupsSequence to place them")
    orientation = _check_orientation(_float_list(dataset, "ImageOrientationPatient", 6, path), path)
    position = _float_list(dataset, "ImagePositionPatient", 3, path)
    spacing = _float_list(dataset, "PixelSpacing", 2, path)
    if np.any(spacing <= 0):
        raise VolumeLoadError(f"{path}: PixelSpacing {spacing.tolist()} mm must be positive")
    slope = _float_list(dataset, "RescaleSlope", 1, path, required=False)
    intercept = _float_list(dataset, "RescaleIntercept", 1, path, required=False)
    if slope is not None and slope[0] == 0:
        raise VolumeLoadError(f"{path}: RescaleSlope is 0 (every pixel would read as the intercept)", "pixels")
    return [
        Frame(
            path, 0, orientation, position, spacing, rows, columns,
            1.0 if slope is None else float(slope[0]), 0.0 if intercept is None else float(intercept[0]),
            sop_uid, dataset,
        )
    ]


def _group_item(frame_group, shared, keyword: str):
    """Return the first item of functional group ``keyword`` from the per-frame group, else the shared one."""
    for source in (frame_group, shared):
        if source is not None and keyword in source and len(source[keyword].value) > 0:
            return source[keyword].value[0]
    return None


def _enhanced_frames(dataset, path: Path, rows: int, columns: int, n_frames: int, sop_uid: str) -> list[Frame]:
    """Return the frames of an enhanced (multi-frame) image from its functional groups."""
    try:
        per_frame = list(dataset.PerFrameFunctionalGroupsSequence)
        shared_seq = dataset.get("SharedFunctionalGroupsSequence")
        shared = shared_seq[0] if shared_seq else None
    except Exception as error:
        raise VolumeLoadError(f"{path}: functional groups unreadable ({error})") from error
    if len(per_frame) != n_frames:
        raise VolumeLoadError(
            f"{path}: NumberOfFrames is {n_frames} but PerFrameFunctionalGroupsSequence has {len(per_frame)} items"
        )
    frames = []
    for index, group in enumerate(per_frame):
        where = f"{path} frame {index + 1}"
        plane = _group_item(group, shared, "PlaneOrientationSequence")
        position_item = _group_item(group, shared, "PlanePositionSequence")
        measures = _group_item(group, shared, "PixelMeasuresSequence")
        if plane is None or position_item is None or measures is None:
            raise VolumeLoadError(
                f"{where}: PlaneOrientation/PlanePosition/PixelMeasures functional group is missing"
            )
        orientation = _check_orientation(_float_list(plane, "ImageOrientationPatient", 6, Path(where)), Path(where))
        position = _float_list(position_item, "ImagePositionPatient", 3, Path(where))
        spacing = _float_list(measures, "PixelSpacing", 2, Path(where))
        if np.any(spacing <= 0):
            raise VolumeLoadError(f"{where}: PixelSpacing {spacing.tolist()} mm must be positive")
        transform = _group_item(group, shared, "PixelValueTransformationSequence")
        slope = intercept = None
        if transform is not None:
            slope = _float_list(transform, "RescaleSlope", 1, Path(where), required=False)
            intercept = _float_list(transform, "RescaleIntercept", 1, Path(where), required=False)
            if slope is not None and slope[0] == 0:
                raise VolumeLoadError(f"{where}: RescaleSlope is 0 (every pixel would read as the intercept)", "pixels")
        frames.append(
            Frame(
                path, index, orientation, position, spacing, rows, columns,
                1.0 if slope is None else float(slope[0]), 0.0 if intercept is None else float(intercept[0]),
                sop_uid, dataset,
            )
        )
    return frames


def _describe_counts(values: dict) -> str:
    return ", ".join(f"{key} ({len(files)} file(s), e.g. {files[0].name})" for key, files in values.items())


def check_uniform(frames: list[Frame], source: str) -> None:
    """Raise VolumeLoadError when frames differ in size, pixel spacing or orientation."""
    sizes: dict[str, list[Path]] = {}
    for frame in frames:
        sizes.setdefault(f"{frame.rows}x{frame.columns}", []).append(frame.file)
    if len(sizes) > 1:
        raise VolumeLoadError(f"{source}: mixed image sizes in one series: {_describe_counts(sizes)}")
    reference = frames[0]
    orientation_error = np.abs(np.array([f.orientation for f in frames]) - reference.orientation).max(axis=1)
    if orientation_error.max() > DIRECTION_TOLERANCE:
        frame = frames[int(np.argmax(orientation_error > DIRECTION_TOLERANCE))]
        raise VolumeLoadError(
            f"{source}: mixed orientations in one series: {reference.file.name} has "
            f"{np.round(reference.orientation, 4).tolist()}, {frame.file.name} has "
            f"{np.round(frame.orientation, 4).tolist()}",
            "geometry",
        )
    spacing_error = np.abs(np.array([f.pixel_spacing for f in frames]) - reference.pixel_spacing).max(axis=1)
    if spacing_error.max() > 1e-3 * float(reference.pixel_spacing.max()):
        frame = frames[int(np.argmax(spacing_error > 1e-3 * float(reference.pixel_spacing.max())))]
        raise VolumeLoadError(
            f"{source}: mixed pixel spacing in one series: {reference.file.name} has "
            f"{reference.pixel_spacing.tolist()} mm, {frame.file.name} has {frame.pixel_spacing.tolist()} mm",
            "geometry",
        )


def slice_grid(frames: list[Frame], source: str) -> tuple[list[Frame], np.ndarray, np.ndarray, list[SliceGap], list[str]]:
    """Sort frames along the slice normal and fit a regular grid.

    Returns (sorted frames, grid index n of each frame, slice step (3,) LPS mm, gaps, warnings).
    Missing slices (gaps that are whole multiples of the step) become gaps; positions off the grid,
    duplicates and slices off one line raise VolumeLoadError.
    """
    orientation = frames[0].orientation
    normal = np.cross(orientation[:3], orientation[3:])
    positions = np.array([frame.position for frame in frames])
    distance = positions @ normal
    order = np.argsort(distance, kind="stable")
    frames = [frames[i] for i in order]
    distance = distance[order]
    positions = positions[order]
    if len(frames) == 1:
        step_mm = _header_slice_spacing(frames[0])
        warning = f"{source}: a single slice; slice spacing {step_mm:g} mm taken from the header"
        return frames, np.zeros(1, dtype=int), normal * step_mm, [], [warning]
    index = _grid_index(frames, distance, source)
    step_vector = _fitted_step(frames, positions, index, source)
    step_mm = float(np.linalg.norm(step_vector))
    gaps, warnings = _gaps(index, step_mm, source)
    tilt = float(np.degrees(np.arccos(np.clip(abs(step_vector @ normal) / step_mm, -1, 1))))
    if tilt > 0.5:
        warnings.append(f"{source}: slices are sheared (gantry tilt {tilt:.1f} degrees); geometry kept exact")
    return frames, index, step_vector, gaps, warnings


def _header_slice_spacing(frame: Frame) -> float:
    """The slice spacing (mm) a lone slice's header gives (SpacingBetweenSlices, SliceThickness), else 1."""
    thickness = frame.dataset.get("SpacingBetweenSlices") or frame.dataset.get("SliceThickness")
    try:
        step_mm = float(thickness) if thickness not in (None, "") else 1.0
    except (TypeError, ValueError):
        step_mm = 1.0
    return step_mm if np.isfinite(step_mm) and step_mm > 0 else 1.0


def _grid_index(frames: list[Frame], distance: np.ndarray, source: str) -> np.ndarray:
    """The grid index of each sorted frame from its distance along the normal (mm); VolumeLoadError
    for duplicates and spacings that are not whole multiples of the smallest step."""
    steps = np.diff(distance)
    in_plane_size = float(min(frames[0].pixel_spacing))
    duplicate_tolerance = max(1e-3, 1e-3 * in_plane_size)
    if np.any(steps <= duplicate_tolerance):
        k = int(np.argmax(steps <= duplicate_tolerance))
        raise VolumeLoadError(
            f"{source}: two images at the same slice position {distance[k]:.3f} mm "
            f"({_frame_name(frames[k])} and {_frame_name(frames[k + 1])}); "
            "a series with several echoes/time points/stacks cannot be loaded as one volume"
        )
    step = float(steps.min())
    multiples = np.rint(steps / step)
    if np.any(np.abs(steps - multiples * step) > POSITION_TOLERANCE * step):
        typical = float(np.median(steps))
        ratio = steps / typical
        odd = [k for k in range(len(steps)) if np.rint(ratio[k]) < 1 or abs(ratio[k] - np.rint(ratio[k])) > POSITION_TOLERANCE]
        listing = ", ".join(
            f"{steps[k]:.2f} mm between {_frame_name(frames[k])} and {_frame_name(frames[k + 1])}" for k in odd[:4]
        )
        raise VolumeLoadError(
            f"{source}: uneven slice spacing: {listing}{' ...' if len(odd) > 4 else ''} "
            f"(regular step {typical:.2f} mm); cannot be represented as one volume",
            "geometry",
        )
    return np.concatenate([[0], np.cumsum(multiples)]).astype(int)


def _fitted_step(frames: list[Frame], positions: np.ndarray, index: np.ndarray, source: str) -> np.ndarray:
    """The slice step (3,) LPS mm fitted on all slices (exact for clean data); VolumeLoadError when a
    slice lies off the line through the others or two fall on one grid slice."""
    offsets = positions - positions[0]
    step_vector = (index[:, None] * offsets).sum(axis=0) / float((index**2).sum())
    residual = np.linalg.norm(offsets - index[:, None] * step_vector, axis=1)
    tolerance = POSITION_TOLERANCE * float(np.linalg.norm(step_vector))
    if np.any(residual > tolerance):
        k = int(np.argmax(residual))
        raise VolumeLoadError(
            f"{source}: slice positions do not lie on one line: {_frame_name(frames[k])} lies {residual[k]:.3f} mm "
            f"off the line through the other slices (step {np.linalg.norm(step_vector):.3f} mm)",
            "geometry",
        )
    if np.any(np.diff(index) == 0):
        raise VolumeLoadError(f"{source}: two images fall on the same slice of the grid")
    return step_vector


def _gaps(index: np.ndarray, step_mm: float, source: str) -> tuple[list[SliceGap], list[str]]:
    """The missing slices between grid indices, and a warning for each run."""
    gaps: list[SliceGap] = []
    warnings: list[str] = []
    for before, after in zip(index[:-1], index[1:]):
        if after - before > 1:
            gaps.append(SliceGap(int(before) + 1, int(after) - 1, float((after - before) * step_mm), step_mm))
            warnings.append(
                f"{source}: {after - before - 1} slice(s) missing after slice {before} "
                f"(gap {(after - before) * step_mm:.2f} mm, step {step_mm:.2f} mm); blank slices inserted, "
                "measurements across the gap are refused"
            )
    return gaps, warnings


def _frame_name(frame: Frame) -> str:
    return frame.file.name if frame.frame == 0 and "PerFrameFunctionalGroupsSequence" not in frame.dataset else f"{frame.file.name} frame {frame.frame + 1}"


@dataclass(frozen=True)
class SliceOrder:
    """The files of one series sorted along the slice normal, and the slice gaps between them."""

    files: list[Path]
    gaps: list[SliceGap]


def slice_order(files: Sequence[str | os.PathLike], *, headers: Sequence[object] | None = None) -> SliceOrder:
    """Take the files of ONE single-frame DICOM series (any order); return them sorted along the slice
    normal with the slice gaps (missing slices) found between them.

    This is the order Slicer's archetype reader (vtkSlicerVolumesLogic.AddArchetypeVolume) needs: it
    trusts the list it is given, and it cannot represent gaps (load such a series with
    ``load_dicom_series``, which inserts blank slices and records the gaps). Non-image and unreadable
    files must be left out beforehand (see ``ingest.scan_folder``). Raises VolumeLoadError for the same
    geometry problems as ``load_dicom_series`` (mixed sizes/orientations, duplicate or off-grid positions).
    """
    paths = [f if isinstance(f, Path) else Path(f) for f in files]
    if not paths:
        raise VolumeLoadError("no DICOM files given")
    headers = list(headers) if headers is not None else [read_dicom_header(p) for p in paths]
    frames: list[Frame] = []
    for path, header in zip(paths, headers):
        frames.extend(image_frames(header, path))
    source = str(paths[0].parent)
    check_uniform(frames, source)
    ordered, _, _, gaps, _ = slice_grid(frames, source)
    return SliceOrder(files=list(dict.fromkeys(frame.file for frame in ordered)), gaps=list(gaps))
