"""Write a Volume as a DICOM MR series: one single-frame MR Image Storage file per slice.

Used by the demo's synthetic exam and by everyone's tests (``Testing/core/dicom_factory.py`` builds
the odd cases on top of it). Geometry is exact: ImagePositionPatient / ImageOrientationPatient /
PixelSpacing come from ``volume.ijk_to_ras`` converted to LPS through ``coords``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from . import coords

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"

#: Pseudonymous patient/study defaults; override through ``patient``.
DEFAULT_PATIENT_TAGS: dict[str, Any] = {
    "PatientName": "ISCM^Synthetic",
    "PatientID": "ISCM-SYNTH-0001",
    "PatientBirthDate": "",
    "PatientSex": "O",
    "StudyDate": "20260101",
    "StudyTime": "120000",
    "StudyID": "1",
    "AccessionNumber": "",
    "ReferringPhysicianName": "",
    "StudyDescription": "MRI SPINE (synthetic)",
    "Manufacturer": "ISCMAssist",
    "InstitutionName": "",
}


class DicomWriteError(ValueError):
    """A volume or tag set that cannot be written as DICOM; the message names the field and the problem."""


def slice_geometry_lps(ijk_to_ras: np.ndarray) -> tuple[list[float], list[float], np.ndarray, np.ndarray]:
    """Take a 4x4 voxel-index-to-RAS matrix; return the DICOM geometry in LPS mm.

    Returns ``(image_orientation_patient (6 floats), pixel_spacing [row spacing, column spacing] mm,
    origin_lps (3,), slice_step_lps (3,))``. Raises DicomWriteError when the i and j axes are not
    orthogonal (DICOM pixels are square-gridded).
    """
    ijk_to_lps = coords.RAS_TO_LPS @ np.asarray(ijk_to_ras, dtype=float)
    column_i, column_j = ijk_to_lps[:3, 0], ijk_to_lps[:3, 1]
    spacing_i, spacing_j = float(np.linalg.norm(column_i)), float(np.linalg.norm(column_j))
    if spacing_i <= 0 or spacing_j <= 0 or not np.isfinite(spacing_i * spacing_j):
        raise DicomWriteError(f"ijk_to_ras: in-plane spacing {spacing_i}, {spacing_j} mm is not positive")
    row_direction, column_direction = column_i / spacing_i, column_j / spacing_j
    if abs(float(row_direction @ column_direction)) > 1e-6:
        raise DicomWriteError("ijk_to_ras: the i and j axes are not orthogonal; DICOM cannot store that plane")
    orientation = [float(v) for v in (*row_direction, *column_direction)]
    # PixelSpacing is [spacing between rows (along j), spacing between columns (along i)].
    return orientation, [spacing_j, spacing_i], ijk_to_lps[:3, 3].copy(), ijk_to_lps[:3, 2].copy()


def make_uid(seed: str | None, *parts: object) -> str:
    """Return a DICOM UID: random when ``seed`` is None, else derived from seed and parts (same inputs, same UID)."""
    from pydicom.uid import generate_uid

    if seed is None:
        return generate_uid()
    return generate_uid(entropy_srcs=[str(seed), *(str(p) for p in parts)])


def _stored_pixels(array: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Return (uint16 array, slope, intercept) such that array ~= stored * slope + intercept."""
    values = np.asarray(array)
    if values.size == 0:
        raise DicomWriteError("volume.array is empty")
    if not np.all(np.isfinite(values)):
        raise DicomWriteError("volume.array holds NaN or infinite values; DICOM cannot store them")
    low, high = float(values.min()), float(values.max())
    integral = np.issubdtype(values.dtype, np.integer) or bool(np.all(values == np.round(values)))
    if integral and low >= 0 and high <= 65535:
        return values.astype(np.uint16), 1.0, 0.0
    if integral and high - low <= 65535:
        return (values - low).astype(np.uint16), 1.0, low
    slope = (high - low) / 65535.0 if high > low else 1.0
    stored = np.round((values.astype(np.float64) - low) / slope)
    return np.clip(stored, 0, 65535).astype(np.uint16), slope, low


def write_series(
    folder: str | os.PathLike,
    volume: Any,
    *,
    modality: str = "MR",
    series_description: str = "SAG T2",
    series_number: int = 1,
    patient: Mapping[str, Any] | None = None,
    mr_tags: Mapping[str, Any] | None = None,
    frame_of_reference_uid: str | None = None,
    study_instance_uid: str | None = None,
    series_instance_uid: str | None = None,
    seed: str | None = None,
    file_prefix: str = "IM",
) -> list[Path]:
    """Write ``volume`` (a volumes.Volume: array [k, j, i], ijk_to_ras) as one DICOM file per slice k.

    Takes the output ``folder`` (created if needed); ``patient``: patient/study tags overriding the
    pseudonymous defaults; ``mr_tags``: extra tags such as ScanningSequence, EchoTime (ms),
    RepetitionTime (ms), ContrastBolusAgent, SliceThickness (mm); UIDs (generated when None,
    deterministically from ``seed`` when given). Pixels are stored as uint16 with RescaleSlope/
    RescaleIntercept when the values need them. Explicit VR little endian. Returns the file paths
    in slice order (k = 0 first). Raises DicomWriteError for volumes DICOM cannot store.
    """
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    array = np.asarray(volume.array)
    if array.ndim != 3:
        raise DicomWriteError(f"volume.array must be 3D [k, j, i], got shape {array.shape}")
    orientation, pixel_spacing, origin_lps, step_lps = slice_geometry_lps(volume.ijk_to_ras)
    stored, slope, intercept = _stored_pixels(array)
    normal = np.cross(orientation[:3], orientation[3:])
    series_uid = series_instance_uid or make_uid(seed, "series", series_number, series_description)
    identity = {"StudyInstanceUID": study_instance_uid or make_uid(seed, "study"), "SeriesInstanceUID": series_uid,
                "SeriesNumber": int(series_number), "SeriesDescription": series_description,
                "FrameOfReferenceUID": frame_of_reference_uid or make_uid(seed, "frame-of-reference")}
    head, tail = _series_tags(modality, patient, identity, mr_tags, array.shape, orientation, pixel_spacing,
                              float(abs(step_lps @ normal)), slope, intercept)

    paths: list[Path] = []
    for k in range(array.shape[0]):
        sop_uid = make_uid(seed, "image", series_uid, k)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MR_IMAGE_STORAGE
        meta.MediaStorageSOPInstanceUID = sop_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = pydicom.Dataset()
        ds.file_meta = meta
        position = origin_lps + k * step_lps
        per_image = {"SOPInstanceUID": sop_uid, "InstanceNumber": k + 1,
                     "ImagePositionPatient": [_ds(v) for v in position], "SliceLocation": _ds(float(position @ normal))}
        for keyword, value in {**head, **per_image, **tail}.items():  # later ones override earlier ones
            setattr(ds, keyword, value)
        ds.PixelData = np.ascontiguousarray(stored[k]).tobytes()
        path = folder / f"{file_prefix}{k + 1:05d}.dcm"
        _save(ds, path)
        paths.append(path)
    return paths


def _series_tags(modality: str, patient: Mapping[str, Any] | None, identity: Mapping[str, Any],
                 mr_tags: Mapping[str, Any] | None, shape: tuple[int, ...], orientation: np.ndarray,
                 pixel_spacing: np.ndarray, slice_spacing: float, slope: float,
                 intercept: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tags every image of a written series shares: (set before the per-image tags, set after them).
    Later tags override earlier ones: the identity UIDs override ``patient``, ``mr_tags`` the MR defaults
    and the per-image tags."""
    tags: dict[str, Any] = {"SOPClassUID": MR_IMAGE_STORAGE, "SpecificCharacterSet": "ISO_IR 100",
                            "ImageType": ["ORIGINAL", "PRIMARY", "OTHER"], "Modality": modality}
    patient_tags = {**DEFAULT_PATIENT_TAGS, **(patient or {})}
    tags.update(SeriesDate=patient_tags.get("StudyDate", ""), SeriesTime=patient_tags.get("StudyTime", ""))
    tags.update(patient_tags)
    tags.update(identity)
    tags.update(PositionReferenceIndicator="", BodyPartExamined="SPINE", PatientPosition="HFS",
                ImageOrientationPatient=[_ds(v) for v in orientation],
                PixelSpacing=[_ds(v) for v in pixel_spacing],
                SliceThickness=_ds(slice_spacing), SpacingBetweenSlices=_ds(slice_spacing))
    head, tags = tags, {}
    # MR Image module: type 1 and type 2 attributes (type 2 may stay empty when not given).
    tags.update(ScanningSequence="SE", SequenceVariant="NONE", ScanOptions="", MRAcquisitionType="2D",
                EchoTime=None, RepetitionTime=None, EchoTrainLength=None)
    tags.update(mr_tags or {})
    tags.update(SamplesPerPixel=1, PhotometricInterpretation="MONOCHROME2", Rows=int(shape[1]),
                Columns=int(shape[2]), BitsAllocated=16, BitsStored=16, HighBit=15, PixelRepresentation=0)
    if (slope, intercept) != (1.0, 0.0):  # not part of the MR IOD: only when the values need it
        tags.update(RescaleSlope=_ds(slope), RescaleIntercept=_ds(intercept), RescaleType="US")
    return head, tags


def _ds(value: float) -> str:
    """Format a float as a DICOM DS string (at most 16 characters) keeping as many digits as fit."""
    value = float(value)
    if value == 0:
        return "0"
    for digits in range(16, 0, -1):
        text = f"{value:.{digits}g}"
        if len(text) <= 16:
            return text
    raise DicomWriteError(f"value {value} does not fit a DICOM decimal string")


def _save(ds: Any, path: Path) -> None:
    """Write a dataset with the DICOM preamble through the project's atomic writer."""
    from io import BytesIO

    from .files import atomic_write_bytes

    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    atomic_write_bytes(path, buffer.getvalue())
