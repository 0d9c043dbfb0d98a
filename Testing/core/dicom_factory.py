"""Synthetic DICOM for tests: MR series with any geometry, and the odd cases a real exam brings.

Import from tests (Testing/core is on sys.path under pytest's rootdir conftest):

    from dicom_factory import write_series, lps_geometry
    paths = write_series(tmp_path / "t2", array_kji, (iop, ipp, (row_mm, col_mm, slice_mm)),
                         SeriesDescription="SAG T2", EchoTime=100, RepetitionTime=3000)

``write_series`` goes through the core writer ``ISCMAssistLib.dicom_series.write_series`` (one
single-frame MR file per slice, explicit VR little endian). The helpers below then bend those
files: shuffled names, a removed slice, a changed tag, truncation, compression, multi-frame
(Enhanced MR), non-image objects (SR, presentation state) and plain garbage.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from ISCMAssistLib import coords
from ISCMAssistLib.dicom_series import write_series as core_write_series
from ISCMAssistLib.volumes import Volume

#: Sagittal: i runs posterior (LPS +y), j inferior (LPS -z), slices left (LPS +x).
SAGITTAL_IOP = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
AXIAL_IOP = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
CORONAL_IOP = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)

_WRITER_KEYWORDS = {"series_description", "series_number", "seed", "patient", "frame_of_reference_uid",
                    "study_instance_uid", "series_instance_uid", "modality", "file_prefix"}


def lps_geometry(iop: Sequence[float], ipp: Sequence[float], spacing: Sequence[float]) -> np.ndarray:
    """Take IOP (6), the first slice's IPP (3, LPS mm) and spacing (row mm, column mm, slice mm).

    Returns the 4x4 ijk->LPS matrix: columns row direction x column spacing (spacing[1]), column
    direction x row spacing (spacing[0]), normal (row x column) x slice spacing; origin IPP.
    """
    iop = np.asarray(iop, dtype=float)
    row, column = iop[:3], iop[3:]
    matrix = np.eye(4)
    matrix[:3, 0] = row * spacing[1]
    matrix[:3, 1] = column * spacing[0]
    matrix[:3, 2] = np.cross(row, column) * spacing[2]
    matrix[:3, 3] = ipp
    return matrix


def oblique_iop(angle_deg: float, axis: Sequence[float] = (0.0, 0.0, 1.0), base: Sequence[float] = SAGITTAL_IOP) -> tuple[float, ...]:
    """Return ``base`` IOP rotated by ``angle_deg`` about ``axis`` (LPS): an oblique orientation."""
    axis = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    angle = np.radians(angle_deg)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rotation = np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k
    base = np.asarray(base, dtype=float)
    return tuple(float(v) for v in np.concatenate([rotation @ base[:3], rotation @ base[3:]]))


def write_series(
    folder: str | Path,
    array_kji: np.ndarray,
    geometry: np.ndarray | tuple,
    **tags: Any,
) -> list[Path]:
    """Write ``array_kji`` (k, j, i) as a single-frame MR series in ``folder``; return the paths by k.

    ``geometry`` is a 4x4 ijk->LPS matrix or ``(iop, ipp, (row_mm, col_mm, slice_mm))``. ``tags``
    are DICOM keywords set on every file (SeriesDescription, EchoTime, ContrastBolusAgent...) plus
    the core writer's options (series_description, series_number, seed, patient...).
    """
    matrix = np.asarray(geometry, dtype=float) if not isinstance(geometry, tuple) else lps_geometry(*geometry)
    options = {key: tags.pop(key) for key in list(tags) if key in _WRITER_KEYWORDS}
    if "SeriesDescription" in tags:
        options.setdefault("series_description", tags.pop("SeriesDescription"))
    if "SeriesNumber" in tags:
        options.setdefault("series_number", int(tags.pop("SeriesNumber")))
    options.setdefault("seed", f"factory:{Path(folder).name}")
    volume = Volume(np.asarray(array_kji), coords.ijk_to_lps_matrix_to_ras(matrix))
    return core_write_series(folder, volume, mr_tags=tags, **options)


def ramp_volume(shape_kji: tuple[int, int, int] = (6, 8, 10), dtype: Any = np.uint16) -> np.ndarray:
    """Return an array whose voxel (k, j, i) holds 10000*k + 100*j + i: each voxel tells where it came from."""
    k, j, i = np.indices(shape_kji)
    return (10000 * k + 100 * j + i).astype(dtype)


# ---------------------------------------------------------------------------------------------
# Bending files


def shuffle_names(paths: Sequence[Path], seed: int = 0) -> list[Path]:
    """Rename the files to random names so name order says nothing; return the new paths (same order as given)."""
    rng = random.Random(seed)
    names = [f"x{rng.randrange(10**8):08d}_{n}" for n in range(len(paths))]
    rng.shuffle(names)
    new_paths = []
    for path, name in zip(paths, names):
        target = path.with_name(name)
        path.rename(target)
        new_paths.append(target)
    return new_paths


def set_tags(paths: Iterable[Path], **tags: Any) -> None:
    """Set (or with value None, delete) DICOM keywords in each file, rewriting it in place."""
    for path in paths:
        ds = pydicom.dcmread(path)
        for keyword, value in tags.items():
            if value is None:
                if keyword in ds:
                    delattr(ds, keyword)
            else:
                setattr(ds, keyword, value)
        ds.save_as(path, enforce_file_format=True)


def truncate(path: Path, keep_bytes: int) -> None:
    """Cut ``path`` to its first ``keep_bytes`` bytes."""
    data = path.read_bytes()
    path.write_bytes(data[:keep_bytes])


def write_garbage(path: Path, size: int = 2048, seed: int = 0) -> Path:
    """Write ``size`` random bytes (not DICOM) at ``path``; return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())
    return path


def compress(paths: Iterable[Path], transfer_syntax: str) -> None:
    """Re-encode each file's pixels with pydicom's encoder for ``transfer_syntax`` (RLE, JPEG 2000, JPEG-LS lossless)."""
    for path in paths:
        ds = pydicom.dcmread(path)
        ds.compress(transfer_syntax)
        ds.save_as(path, enforce_file_format=True)


def relabel_transfer_syntax(paths: Iterable[Path], transfer_syntax: str) -> None:
    """Claim ``transfer_syntax`` in the file meta while leaving the data as it is (for 'no decoder' cases)."""
    for path in paths:
        ds = pydicom.dcmread(path)
        data = ds.PixelData
        ds.file_meta.TransferSyntaxUID = transfer_syntax
        from pydicom.encaps import encapsulate

        ds.PixelData = encapsulate([data])
        ds["PixelData"].VR = "OB"
        ds.save_as(path, enforce_file_format=True)


def _file_meta(sop_class: str, sop_uid: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return meta


def _patient_study(ds: Dataset, reference: Dataset | None) -> None:
    for keyword in ("PatientName", "PatientID", "StudyInstanceUID", "StudyDate", "StudyTime", "StudyID",
                    "AccessionNumber", "ReferringPhysicianName", "FrameOfReferenceUID"):
        if reference is not None and keyword in reference:
            setattr(ds, keyword, reference.get(keyword))
    ds.setdefault("PatientName", "ISCM^Synthetic")
    ds.setdefault("PatientID", "ISCM-SYNTH-0001")
    ds.setdefault("StudyInstanceUID", generate_uid())


def _write_non_image(path: Path, sop_class: str, modality: str, series_number: int, reference: Path | None,
                     **attributes) -> Path:
    """Write a minimal non-image DICOM object (no pixel data) at ``path``, in ``reference``'s study when given."""
    sop_uid = generate_uid()
    ds = Dataset()
    ds.file_meta = _file_meta(sop_class, sop_uid)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.Modality = modality
    _patient_study(ds, pydicom.dcmread(reference, stop_before_pixels=True) if reference else None)
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = series_number
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_sr(path: Path, reference: Path | None = None) -> Path:
    """Write a minimal Basic Text SR (a non-image object) at ``path``, in ``reference``'s study when given."""
    return _write_non_image(path, "1.2.840.10008.5.1.4.1.1.88.11", "SR", 900, reference,
                            SeriesDescription="Report", ValueType="CONTAINER", ContinuityOfContent="SEPARATE")


def write_presentation_state(path: Path, reference: Path | None = None) -> Path:
    """Write a minimal Grayscale Softcopy Presentation State (a non-image object) at ``path``."""
    return _write_non_image(path, "1.2.840.10008.5.1.4.1.1.11.1", "PR", 901, reference, ContentLabel="VIEW")


def write_multiframe(
    path: Path,
    array_kji: np.ndarray,
    geometry: np.ndarray | tuple,
    frame_order: Sequence[int] | None = None,
    slope: float = 1.0,
    intercept: float = 0.0,
    **tags: Any,
) -> Path:
    """Write ``array_kji`` as one Enhanced MR Image Storage file (one frame per k) at ``path``.

    ``geometry`` as in ``write_series`` (ijk->LPS). ``frame_order`` lists which k goes in each
    frame (default 0..K-1), to test frame sorting. ``slope``/``intercept`` go in the shared
    PixelValueTransformationSequence; the stored values are ``array_kji`` as uint16. ``tags`` are set
    on the top-level dataset. Returns ``path``.
    """
    matrix = np.asarray(geometry, dtype=float) if not isinstance(geometry, tuple) else lps_geometry(*geometry)
    array = np.asarray(array_kji).astype(np.uint16)
    n_k, rows, columns = array.shape
    order = list(range(n_k)) if frame_order is None else list(frame_order)
    spacing_col, spacing_row = np.linalg.norm(matrix[:3, 0]), np.linalg.norm(matrix[:3, 1])
    iop = np.concatenate([matrix[:3, 0] / spacing_col, matrix[:3, 1] / spacing_row])
    sop_uid = generate_uid()
    ds = Dataset()
    ds.file_meta = _file_meta("1.2.840.10008.5.1.4.1.1.4.1", sop_uid)
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"
    ds.SOPInstanceUID = sop_uid
    ds.Modality = "MR"
    _patient_study(ds, None)
    ds.FrameOfReferenceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = 20
    ds.SeriesDescription = "SAG T1 enhanced"
    ds.InstanceNumber = 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "NONE"]
    ds.ContentDate, ds.ContentTime = "20260101", "120000"
    ds.AcquisitionDateTime = "20260101120000"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.NumberOfFrames = len(order)

    measures = Dataset()
    measures.PixelSpacing = [float(spacing_row), float(spacing_col)]
    measures.SliceThickness = float(np.linalg.norm(matrix[:3, 2]))
    plane = Dataset()
    plane.ImageOrientationPatient = [float(v) for v in iop]
    transform = Dataset()
    transform.RescaleSlope = slope
    transform.RescaleIntercept = intercept
    transform.RescaleType = "US"
    shared = Dataset()
    shared.PixelMeasuresSequence = DicomSequence([measures])
    shared.PlaneOrientationSequence = DicomSequence([plane])
    shared.PixelValueTransformationSequence = DicomSequence([transform])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    per_frame = []
    for k in order:
        position = Dataset()
        position.ImagePositionPatient = [float(v) for v in matrix[:3, 3] + k * matrix[:3, 2]]
        group = Dataset()
        group.PlanePositionSequence = DicomSequence([position])
        per_frame.append(group)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(per_frame)
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    ds.PixelData = np.ascontiguousarray(array[order]).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def copy_series(paths: Sequence[Path], folder: Path) -> list[Path]:
    """Copy files into ``folder``; return the new paths in the same order."""
    folder.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(p, folder / p.name)) for p in paths]
