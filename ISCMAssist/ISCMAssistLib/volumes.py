"""Image volumes with exact geometry: ``Volume`` and ``load_volume`` for NIfTI files and DICOM series.

A ``Volume`` holds ``array`` indexed ``[k, j, i]`` (Slicer's ``arrayFromVolume`` order) and the 4x4
``ijk_to_ras`` matrix mapping voxel indices ``(i, j, k, 1)`` to RAS mm. DICOM geometry is built in
LPS and converted once through ``coords.ijk_to_lps_matrix_to_ras``.
"""

from __future__ import annotations

import functools
import math
import os
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import coords
from .dicom_header import starts_with_dicm
from .progress import ProgressCallback


#: Relative tolerance on slice positions (fraction of the slice step) and on direction cosines.
POSITION_TOLERANCE = 0.05
DIRECTION_TOLERANCE = 1e-3


class VolumeLoadError(ValueError):
    """A file or folder that cannot be loaded as one volume; the message names it and the problem.

    ``kind`` classifies the problem for listings: "not_dicom", "damaged", "unreadable", "non_image",
    "geometry", "pixels" or "other".
    """

    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind


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


# ----------------------------------------------------------------------------------------------
# Entry point


def load_volume(path: str | os.PathLike, progress: ProgressCallback | None = None) -> Volume:
    """Load ``path`` as one Volume.

    Takes a ``.nii``/``.nii.gz`` file, a DICOM file (a multi-frame file alone; a single-frame file
    loads its whole series from the same folder), or a folder holding exactly one DICOM image
    series (searched recursively). ``progress(done, total)`` is called while reading files.
    Returns a Volume in RAS mm; raises VolumeLoadError (or OSError subclass for missing paths).
    """
    path = Path(path)
    if not path.exists():
        raise VolumeLoadError(f"{path}: no such file or folder")
    if path.is_file() and is_nifti_path(path):
        return load_nifti(path)
    if path.is_dir():
        return load_dicom_folder(path, progress=progress)
    return load_dicom_file(path, progress=progress)


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
    try:
        data = np.asanyarray(image.dataobj)
    except Exception as error:
        raise VolumeLoadError(f"{path}: image data cannot be read ({error})") from error
    data = data.reshape(shape[:3])
    array = np.ascontiguousarray(data.transpose(2, 1, 0))
    return Volume(array=array, ijk_to_ras=np.asarray(affine, dtype=float), source=str(path), warnings=warnings)


# ----------------------------------------------------------------------------------------------
# DICOM

#: Transfer syntaxes whose pixels are stored raw (read straight into the volume array).
_RAW_LITTLE_ENDIAN = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"}
_HEADER_DEFER_BYTES = 1024


@dataclass
class _Frame:
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


# --- fast header reader -----------------------------------------------------------------------
# pydicom parses every element of every file; for a 60-slice series that alone costs more than the
# load budget (issue 4: <= 0.5x SimpleITK, <= 5x the raw read). The common case - uncompressed or
# compressed pixels in (explicit or implicit) VR little endian, single-frame - only needs ~40 top-level
# tags, so they are picked out of the bytes directly. Anything else (big endian, deflate, enhanced
# multi-frame, oddities) falls back to pydicom, which remains the reference.

_EXPLICIT_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
#: The top-level tags the loader and the series finder use; their tag numbers and VRs come from
#: pydicom's data dictionary.
_FAST_KEYWORDS: frozenset[str] = frozenset((
    "SpecificCharacterSet", "ImageType", "SOPClassUID", "SOPInstanceUID", "StudyDate", "SeriesDate",
    "SeriesTime", "AcquisitionTime", "Modality", "StationName", "StudyDescription", "SeriesDescription",
    "PatientID", "ContrastBolusAgent", "BodyPartExamined", "ScanningSequence", "SequenceVariant",
    "MRAcquisitionType", "SliceThickness", "RepetitionTime", "EchoTime", "InversionTime",
    "MagneticFieldStrength", "SpacingBetweenSlices", "ProtocolName", "FlipAngle", "StudyInstanceUID",
    "SeriesInstanceUID", "SeriesNumber", "AcquisitionNumber", "InstanceNumber", "ImagePositionPatient",
    "ImageOrientationPatient", "FrameOfReferenceUID", "SliceLocation", "SamplesPerPixel",
    "PhotometricInterpretation", "NumberOfFrames", "Rows", "Columns", "PixelSpacing", "BitsAllocated",
    "BitsStored", "PixelRepresentation", "RescaleIntercept", "RescaleSlope",
))


@functools.cache
def _fast_tags() -> dict[int, tuple[str, str]]:
    """Tag number -> (keyword, VR) of _FAST_KEYWORDS, from pydicom's data dictionary."""
    from pydicom.datadict import dictionary_VR, tag_for_keyword

    tags = {keyword: int(tag_for_keyword(keyword)) for keyword in _FAST_KEYWORDS}
    return {tag: (keyword, dictionary_VR(tag)) for keyword, tag in tags.items()}


#: Tags that send a file to pydicom (enhanced multi-frame functional groups).
_FALLBACK_TAGS = {0x52009229, 0x52009230}
#: Explicit VR little-endian syntaxes (besides 1.2.840.10008.1.2.1): JPEG family and RLE.
_FAST_EXPLICIT_PREFIXES = ("1.2.840.10008.1.2.4.", "1.2.840.10008.1.2.5")
_FAST_READ_BYTES = 4096
_HEAD = struct.Struct("<I2sH")  # tag (group, element as one little-endian uint32), VR, 2-byte length
_ULONG = struct.Struct("<I")


class _Fallback(Exception):
    """The fast reader cannot handle this file; pydicom must."""


class DicomHeader:
    """The header of one DICOM file read by the fast path: a small read-only stand-in for a pydicom Dataset.

    ``get(keyword, default)`` and ``header.Keyword`` give the values of the tags the loader and the
    series finder use (DS -> float or list of floats, IS/US -> int or list, text -> str with
    multiple values joined by backslashes, like pydicom's str of a MultiValue); ``keyword in header``
    tests presence; ``file_meta.get("TransferSyntaxUID")``; ``pixel_location`` gives (offset, length)
    of the pixel data (length 0xFFFFFFFF when encapsulated). Empty numbers are None, empty text "".
    Other tags are not kept.
    """

    __slots__ = ("_raw", "_values", "file_meta", "pixel_location", "filename")

    def __init__(self, raw: dict[str, tuple[str, bytes]], file_meta: dict[str, str], pixel_location, filename: str) -> None:
        self._raw = raw
        self._values: dict[str, Any] = {}
        self.file_meta = file_meta
        self.pixel_location = pixel_location
        self.filename = filename

    def __contains__(self, keyword: object) -> bool:
        if keyword == "PixelData":
            return self.pixel_location is not None
        return keyword in self._raw

    def get(self, keyword: str, default: Any = None) -> Any:
        """Return the value of ``keyword`` (converted as in the class doc) or ``default`` when absent."""
        if keyword not in self._raw:
            return default
        if keyword not in self._values:
            vr, data = self._raw[keyword]
            self._values[keyword] = _convert(vr, data)
        return self._values[keyword]

    def __getattr__(self, keyword: str) -> Any:
        if keyword.startswith("_") or keyword not in _FAST_KEYWORDS or keyword not in self._raw:
            raise AttributeError(keyword)
        return self.get(keyword)


def _convert(vr: str, data: bytes) -> Any:
    """Convert one element's bytes (little endian) like pydicom does for the VRs the fast path keeps."""
    if vr == "US":
        count = len(data) // 2
        if count == 0:
            return None
        values = struct.unpack(f"<{count}H", data[: 2 * count])
        return values[0] if count == 1 else list(values)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    text = text.rstrip("\x00 ").lstrip(" ") if vr != "UI" else text.rstrip("\x00 ")
    if vr in ("DS", "IS"):
        if text == "":
            return None  # as pydicom: an empty number is None
        parts = [p.strip() for p in text.split("\\")]
        values = [_number_or_text(p, vr) for p in parts]
        return values[0] if len(values) == 1 else values
    return text


def _number_or_text(text: str, vr: str) -> Any:
    try:
        if vr == "IS":
            number = float(text)
            return int(number) if number == int(number) else number
        return float(text)
    except (ValueError, OverflowError):
        return text


def _fast_header(path: Path) -> DicomHeader:
    """Read ``path``'s header with the fast reader; raise _Fallback when pydicom must do it."""
    with open(path, "rb", buffering=0) as handle:
        data = handle.read(_FAST_READ_BYTES)
        size = os.fstat(handle.fileno()).st_size
        if not starts_with_dicm(data):
            raise _Fallback()

        def need(end: int) -> bytes:
            nonlocal data
            if end > len(data):
                if end > size:
                    raise _Fallback()  # truncated inside the header: let pydicom word the error
                data += handle.read(max(end - len(data), _FAST_READ_BYTES))
                if end > len(data):
                    raise _Fallback()
            return data

        # File meta (group 0002): always explicit VR little endian.
        pos = 132
        meta: dict[str, str] = {}
        while True:
            need(pos + 8)
            group, element = struct.unpack_from("<HH", data, pos)
            if group != 0x0002:
                break
            data, _vr, length, start = _explicit_element(need, pos)
            if length == 0xFFFFFFFF:
                raise _Fallback()
            data = need(start + length)
            if element == 0x0010:
                meta["TransferSyntaxUID"] = data[start : start + length].decode("ascii", "replace").rstrip("\x00 ")
            elif element == 0x0002:
                meta["MediaStorageSOPClassUID"] = data[start : start + length].decode("ascii", "replace").rstrip("\x00 ")
            pos = start + length
        syntax = meta.get("TransferSyntaxUID", "")
        if syntax == "1.2.840.10008.1.2":
            implicit = True
        elif syntax == "1.2.840.10008.1.2.1" or syntax.startswith(_FAST_EXPLICIT_PREFIXES):
            implicit = False
        else:
            raise _Fallback()  # big endian, deflate, unknown

        raw: dict[str, tuple[str, bytes]] = {}
        pixel_location = None
        unpack_head, unpack_long = _HEAD.unpack_from, _ULONG.unpack_from
        fast_tags, long_vrs = _fast_tags(), _EXPLICIT_LONG_VRS
        available = len(data)
        while pos < size:
            if pos + 12 > available:
                data = need(min(pos + 12, size))
                available = len(data)
                if pos + 8 > available:
                    raise _Fallback()
            raw_tag, vr, length = unpack_head(data, pos)
            tag = ((raw_tag & 0xFFFF) << 16) | (raw_tag >> 16)  # stored as group, element
            if implicit:
                length = unpack_long(data, pos + 4)[0]
                start = pos + 8
            elif vr in long_vrs:
                length = unpack_long(data, pos + 8)[0]
                start = pos + 12
            else:
                start = pos + 8
            if tag >= 0x52009229:  # tags are ascending: only the rare ones from here on
                if tag in _FALLBACK_TAGS:
                    raise _Fallback()
                if tag == 0x7FE00010:
                    if length != 0xFFFFFFFF and start + length > size:
                        raise VolumeLoadError(
                            f"{path}: truncated DICOM file (pixel data needs {length} bytes, "
                            f"{max(size - start, 0)} present)",
                            "damaged",
                        )
                    pixel_location = (start, length)
                    break
            if length == 0xFFFFFFFF:
                if implicit or vr != b"SQ":
                    raise _Fallback()
                pos = _skip_undefined_sequence(need, start, 0)
                data = need(pos)
                available = len(data)
                continue
            if tag in fast_tags:
                keyword, expected_vr = fast_tags[tag]
                if start + length > available:
                    data = need(start + length)
                    available = len(data)
                raw[keyword] = (expected_vr if implicit else vr.decode("latin-1"), data[start : start + length])
            pos = start + length
        if pos > size:
            raise _Fallback()  # an element runs past the end: truncated
        return DicomHeader(raw, meta, pixel_location, str(path))


def _explicit_element(need: Callable[[int], bytes], pos: int) -> tuple[bytes, bytes, int, int]:
    """Read the explicit-VR little-endian element header at ``pos``; return (data, VR, value length,
    value start). ``need(n)`` returns the file's bytes, read up to at least n."""
    data = need(pos + 8)
    vr = data[pos + 4 : pos + 6]
    if vr in _EXPLICIT_LONG_VRS:
        data = need(pos + 12)
        return data, vr, _ULONG.unpack_from(data, pos + 8)[0], pos + 12
    return data, vr, struct.unpack_from("<H", data, pos + 6)[0], pos + 8


def _skip_undefined_sequence(need: Callable[[int], bytes], pos: int, depth: int) -> int:
    """Return the position after an undefined-length sequence (explicit VR LE) that starts at ``pos``."""
    if depth > 16:
        raise _Fallback()
    while True:
        data = need(pos + 8)
        group, element, length = struct.unpack_from("<HHI", data, pos)
        pos += 8
        if group != 0xFFFE:
            raise _Fallback()
        if element == 0xE0DD:  # sequence delimiter
            return pos
        if element != 0xE000:
            raise _Fallback()
        if length != 0xFFFFFFFF:
            pos += length
            continue
        while True:  # undefined-length item: elements until the item delimiter
            data = need(pos + 8)
            group, element = struct.unpack_from("<HH", data, pos)
            if group == 0xFFFE and element == 0xE00D:
                pos += 8
                break
            data, vr, length, start = _explicit_element(need, pos)
            if length == 0xFFFFFFFF:
                if vr != b"SQ":
                    raise _Fallback()
                pos = _skip_undefined_sequence(need, start, depth + 1)
            else:
                pos = start + length


def read_dicom_header(path: str | os.PathLike):
    """Read a DICOM file's header without its pixel data; return a DicomHeader or a pydicom Dataset.

    Both answer ``get(keyword, default)``, ``keyword in header`` and ``header.file_meta``. The fast
    reader handles little-endian single-frame files; pydicom (pixel data deferred) everything else.
    Raises VolumeLoadError naming the file when it is not DICOM, is truncated or unreadable
    (PermissionError is reported the same way, with the reason).
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    path = Path(path)
    try:
        return _fast_header(path)
    except _Fallback:
        pass
    except PermissionError as error:
        raise VolumeLoadError(f"{path}: cannot be read (permission denied)", "unreadable") from error
    except OSError as error:
        raise VolumeLoadError(f"{path}: cannot be read ({error.strerror or error})", "unreadable") from error
    except (struct.error, IndexError, KeyError):
        pass  # odd bytes: pydicom words the problem
    try:
        dataset = pydicom.dcmread(path, defer_size=_HEADER_DEFER_BYTES)
    except PermissionError as error:
        raise VolumeLoadError(f"{path}: cannot be read (permission denied)", "unreadable") from error
    except InvalidDicomError as error:
        raise VolumeLoadError(f"{path}: not a DICOM file (no DICM preamble)", "not_dicom") from error
    except Exception as error:  # pydicom raises EOFError, ValueError, struct.error... for damaged files
        raise VolumeLoadError(
            f"{path}: truncated or damaged DICOM header ({type(error).__name__}: {error})", "damaged"
        ) from error
    if "PixelData" in dataset:
        tell, length, _ = _pixel_location(dataset)
        if tell is not None and length != 0xFFFFFFFF:
            size = path.stat().st_size
            if tell + length > size:
                raise VolumeLoadError(
                    f"{path}: truncated DICOM file (pixel data needs {length} bytes, {max(size - tell, 0)} present)",
                    "damaged",
                )
    return dataset


def _pixel_location(header) -> tuple[int | None, int, bytes | None]:
    """Return (file offset or None, length, value bytes or None) of a header's pixel data, without reading it."""
    if isinstance(header, DicomHeader):
        offset, length = header.pixel_location
        return offset, length, None
    element = header.get_item("PixelData", keep_deferred=True)
    value = element.value
    if value is not None:
        return getattr(element, "value_tell", None), len(value), value
    return int(element.value_tell), int(element.length), None


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


def _image_frames(dataset, path: Path) -> list[_Frame]:
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
        _Frame(
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


def _enhanced_frames(dataset, path: Path, rows: int, columns: int, n_frames: int, sop_uid: str) -> list[_Frame]:
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
            _Frame(
                path, index, orientation, position, spacing, rows, columns,
                1.0 if slope is None else float(slope[0]), 0.0 if intercept is None else float(intercept[0]),
                sop_uid, dataset,
            )
        )
    return frames


def _describe_counts(values: dict) -> str:
    return ", ".join(f"{key} ({len(files)} file(s), e.g. {files[0].name})" for key, files in values.items())


def _check_uniform(frames: list[_Frame], source: str) -> None:
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


def _slice_grid(frames: list[_Frame], source: str) -> tuple[list[_Frame], np.ndarray, np.ndarray, list[SliceGap], list[str]]:
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
    warnings: list[str] = []
    if len(frames) == 1:
        thickness = frames[0].dataset.get("SpacingBetweenSlices") or frames[0].dataset.get("SliceThickness")
        try:
            step_mm = float(thickness) if thickness not in (None, "") else 1.0
        except (TypeError, ValueError):
            step_mm = 1.0
        if not np.isfinite(step_mm) or step_mm <= 0:
            step_mm = 1.0
        warnings.append(f"{source}: a single slice; slice spacing {step_mm:g} mm taken from the header")
        return frames, np.zeros(1, dtype=int), normal * step_mm, [], warnings
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
    index = np.concatenate([[0], np.cumsum(multiples)]).astype(int)
    # Refine the step on all slices (exact for clean data), then check each slice sits on one line.
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
    step_mm = float(np.linalg.norm(step_vector))
    gaps: list[SliceGap] = []
    for before, after in zip(index[:-1], index[1:]):
        if after - before > 1:
            gaps.append(SliceGap(int(before) + 1, int(after) - 1, float((after - before) * step_mm), step_mm))
            warnings.append(
                f"{source}: {after - before - 1} slice(s) missing after slice {before} "
                f"(gap {(after - before) * step_mm:.2f} mm, step {step_mm:.2f} mm); blank slices inserted, "
                "measurements across the gap are refused"
            )
    tilt = float(np.degrees(np.arccos(np.clip(abs(step_vector @ normal) / step_mm, -1, 1))))
    if tilt > 0.5:
        warnings.append(f"{source}: slices are sheared (gantry tilt {tilt:.1f} degrees); geometry kept exact")
    return frames, index, step_vector, gaps, warnings


def _frame_name(frame: _Frame) -> str:
    return frame.file.name if frame.frame == 0 and "PerFrameFunctionalGroupsSequence" not in frame.dataset else f"{frame.file.name} frame {frame.frame + 1}"


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


def _read_raw_frame(open_file: Callable[[Path], Any], frame: _Frame, out: np.ndarray, dtype: np.dtype) -> None:
    """Read one raw frame's pixels into ``out`` (rows, cols): straight from the file when the value was deferred."""
    offset, length, value = _pixel_location(frame.dataset)
    n_bytes = frame.rows * frame.columns * dtype.itemsize
    n_frames = int(frame.dataset.get("NumberOfFrames", 1) or 1)
    if not n_bytes * n_frames <= length <= n_bytes * n_frames + 1:  # one pad byte makes an odd length even
        raise VolumeLoadError(
            f"{frame.file}: pixel data holds {length} bytes, {n_frames * n_bytes} expected "
            f"for {n_frames} frame(s) of {frame.rows}x{frame.columns} pixels of {dtype.itemsize} byte(s)",
            "pixels",
        )
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
    header_steps = 0
    if headers is None:
        headers = []
        header_steps = len(paths)
        for number, path in enumerate(paths):
            headers.append(read_dicom_header(path))
            if progress:
                progress(number + 1, 2 * len(paths))
    series_uids = {str(h.get("SeriesInstanceUID", "")) for h in headers}
    if len(series_uids) > 1:
        raise VolumeLoadError(f"{source}: files of {len(series_uids)} different series given; pass one series")
    frames: list[_Frame] = []
    for path, header in zip(paths, headers):
        frames.extend(_image_frames(header, path))
    _check_uniform(frames, source)
    frames, index, step_lps, gaps, warnings = _slice_grid(frames, source)

    reference = frames[0]
    ijk_to_lps = np.eye(4)
    ijk_to_lps[:3, 0] = reference.orientation[:3] * reference.pixel_spacing[1]
    ijk_to_lps[:3, 1] = reference.orientation[3:] * reference.pixel_spacing[0]
    ijk_to_lps[:3, 2] = step_lps
    ijk_to_lps[:3, 3] = reference.position
    ijk_to_ras = coords.ijk_to_lps_matrix_to_ras(ijk_to_lps)

    dtypes = {_pixel_dtype(f.dataset, f.file) for f in frames}
    stored_dtype = np.result_type(*dtypes) if len(dtypes) > 1 else dtypes.pop()
    identity = all(f.slope == 1.0 and f.intercept == 0.0 for f in frames)
    out_dtype = stored_dtype.newbyteorder("=") if identity else np.dtype(np.float32)
    shape = (int(index[-1]) + 1, reference.rows, reference.columns)
    array = np.zeros(shape, dtype=out_dtype) if gaps else np.empty(shape, dtype=out_dtype)
    scratch = None if identity else np.empty((reference.rows, reference.columns), dtype=stored_dtype)

    decoded: dict[Path, np.ndarray] = {}
    handles: dict[Path, Any] = {}

    def open_file(path: Path) -> Any:
        if path not in handles:
            for handle in handles.values():
                handle.close()
            handles.clear()
            try:
                handles[path] = open(path, "rb", buffering=0)
            except OSError as error:
                raise VolumeLoadError(f"{path}: cannot be opened ({error.strerror})", "unreadable") from error
        return handles[path]

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
        for handle in handles.values():
            handle.close()

    multi_frame = any("PerFrameFunctionalGroupsSequence" in f.dataset for f in frames)
    first = reference.dataset
    return Volume(
        array=array,
        ijk_to_ras=ijk_to_ras,
        source=source,
        warnings=warnings,
        gaps=gaps,
        series_uid=str(first.get("SeriesInstanceUID", "")) or None,
        frame_of_reference_uid=str(first.get("FrameOfReferenceUID", "")) or None,
        sop_instance_uids=[] if multi_frame else [f.sop_uid for f in frames],
        files=list(dict.fromkeys(f.file for f in frames)),
    )


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
    frames: list[_Frame] = []
    for path, header in zip(paths, headers):
        frames.extend(_image_frames(header, path))
    source = str(paths[0].parent)
    _check_uniform(frames, source)
    ordered, _, _, gaps, _ = _slice_grid(frames, source)
    return SliceOrder(files=list(dict.fromkeys(frame.file for frame in ordered)), gaps=list(gaps))


def _store(target: np.ndarray, pixels: np.ndarray, frame: _Frame) -> None:
    """Write ``pixels * slope + intercept`` into ``target`` (one slice of the output array)."""
    if frame.slope == 1.0 and frame.intercept == 0.0:
        target[...] = pixels
    else:
        np.multiply(pixels, frame.slope, out=target, casting="unsafe")
        target += frame.intercept


def load_dicom_file(path: str | os.PathLike, progress: ProgressCallback | None = None) -> Volume:
    """Load one DICOM file: a multi-frame file alone, a single-frame file with the rest of its series.

    The rest of the series is looked for in the same folder (not recursively), by SeriesInstanceUID.
    A file named DICOMDIR loads the one image series it indexes. Returns a Volume; raises
    VolumeLoadError.
    """
    path = Path(path)
    if path.name.upper() == "DICOMDIR":
        return load_dicom_folder(path, progress=progress)
    header = read_dicom_header(path)
    if "PixelData" not in header:
        sop_class = str(header.get("SOPClassUID", "") or "unknown SOP class")
        raise VolumeLoadError(f"{path}: not an image (SOPClassUID {sop_class}, no pixel data)", "non_image")
    try:
        n_frames = int(header.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError) as error:
        raise VolumeLoadError(f"{path}: NumberOfFrames {header.get('NumberOfFrames')!r} is not a number", "pixels") from error
    if n_frames > 1 or "PerFrameFunctionalGroupsSequence" in header:
        return load_dicom_series([path], headers=[header], source=str(path), progress=progress)
    uid = str(header.get("SeriesInstanceUID", ""))
    files, headers = [], []
    for candidate in sorted(path.parent.iterdir()):
        if not candidate.is_file():
            continue
        try:
            other = header if candidate == path else read_dicom_header(candidate)
        except VolumeLoadError:
            continue
        if str(other.get("SeriesInstanceUID", "")) == uid and "PixelData" in other:
            files.append(candidate)
            headers.append(other)
    return load_dicom_series(files, headers=headers, source=str(path.parent), progress=progress)


def load_dicom_folder(folder: str | os.PathLike, progress: ProgressCallback | None = None) -> Volume:
    """Load the one DICOM image series in ``folder`` (searched recursively; DICOMDIR honoured).

    Non-DICOM, truncated and non-image files are skipped and listed in ``Volume.warnings``. A folder
    with no DICOM series but exactly one NIfTI file loads that file.
    Raises VolumeLoadError when the folder is empty, holds no image series, or holds several
    (the message lists them; use ``ingest.scan_folder`` and ``load_dicom_series`` to pick one).
    """
    from . import ingest

    folder = Path(folder)
    try:
        scan = ingest.scan_folder(folder, progress=progress, describe=False)
    except ingest.IngestError as error:
        raise VolumeLoadError(str(error), "unreadable") from error
    series = [s for s in scan.series if s.kind == "dicom"]
    nifti = [s for s in scan.series if s.kind == "nifti"]
    if not series and len(nifti) == 1:
        volume = load_nifti(nifti[0].path)
        volume.warnings.insert(0, f"{folder}: no DICOM series; loaded the one NIfTI file {nifti[0].path.name}")
        return volume
    if not series and nifti:
        names = ", ".join(s.path.name for s in nifti[:5])
        raise VolumeLoadError(f"{folder}: no DICOM series but {len(nifti)} NIfTI files ({names}); load one file")
    if not series:
        reasons = "; ".join(f"{s.path.name}: {s.reason}" for s in scan.skipped[:5])
        raise VolumeLoadError(
            f"{folder}: no DICOM image series found"
            + (f" ({len(scan.skipped)} file(s) skipped: {reasons}{' ...' if len(scan.skipped) > 5 else ''})" if scan.skipped else " (folder is empty)")
        )
    if len(series) > 1:
        listing = "; ".join(f"#{s.series_number} {s.description!r} ({s.n_files} files)" for s in series)
        raise VolumeLoadError(f"{folder}: holds {len(series)} series ({listing}); load one series folder or pick one with `iscm-assist series`")
    chosen = series[0]
    volume = load_dicom_series(chosen.files, headers=chosen.headers, source=str(folder))
    volume.warnings[:0] = [f"{s.path}: skipped: {s.reason}" for s in scan.skipped]
    return volume
