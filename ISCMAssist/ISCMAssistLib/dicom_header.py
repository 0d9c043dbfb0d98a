"""Reading DICOM headers fast, without pixel data: the DICM preamble check and read_dicom_header.

pydicom parses every element of every file; for a 60-slice series that alone costs more than the
load budget (issue 4: <= 0.5x SimpleITK, <= 5x the raw read). The common case - uncompressed or
compressed pixels in (explicit or implicit) VR little endian, single-frame - only needs ~40 top-level
tags, so they are picked out of the bytes directly. Anything else (big endian, deflate, enhanced
multi-frame, oddities) falls back to pydicom, which remains the reference.
"""

from __future__ import annotations

import functools
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .volumes import VolumeLoadError


PREAMBLE_LENGTH = 128
MAGIC = b"DICM"


def starts_with_dicm(data: bytes) -> bool:
    """Take a file's first bytes; return whether they hold the 128-byte preamble and "DICM"."""
    return len(data) >= PREAMBLE_LENGTH + 4 and data[PREAMBLE_LENGTH:PREAMBLE_LENGTH + 4] == MAGIC


def has_dicm_preamble(path: str | os.PathLike) -> bool:
    """Take a path; return whether the file starts with the DICOM preamble ("DICM" at byte 128);
    False for a file that cannot be read."""
    try:
        with open(path, "rb") as handle:
            return starts_with_dicm(handle.read(PREAMBLE_LENGTH + 4))
    except OSError:
        return False


_HEADER_DEFER_BYTES = 1024


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


class _Impossible(Exception):
    """An element no DICOM file can hold (e.g. zero-filled bytes): stop here, pydicom would crawl on."""


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


class _Bytes:
    """A file's bytes read so far; ``need(end)`` reads on until ``end`` bytes are held and returns them
    (raises _Fallback when the file is shorter: pydicom words that error)."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.data = handle.read(_FAST_READ_BYTES)
        self.size = os.fstat(handle.fileno()).st_size

    def need(self, end: int) -> bytes:
        if end > len(self.data):
            if end > self.size:
                raise _Fallback()  # truncated inside the header
            self.data += self.handle.read(max(end - len(self.data), _FAST_READ_BYTES))
            if end > len(self.data):
                raise _Fallback()
        return self.data


def _file_meta(source: _Bytes) -> tuple[dict[str, str], int, bool]:
    """Read the file meta (group 0002, always explicit VR little endian); return (meta, position of
    the dataset, whether the dataset is implicit VR). Raises _Fallback for other transfer syntaxes."""
    pos = 132
    meta: dict[str, str] = {}
    while True:
        data = source.need(pos + 8)
        group, element = struct.unpack_from("<HH", data, pos)
        if group != 0x0002:
            if pos == 132:
                raise _Impossible(f"DICM preamble but no file meta information (element ({group:04X},{element:04X}) "
                                  f"at byte 132)")
            break
        data, _vr, length, start = _explicit_element(source.need, pos)
        if length == 0xFFFFFFFF:
            raise _Fallback()
        data = source.need(start + length)
        if element == 0x0010:
            meta["TransferSyntaxUID"] = data[start : start + length].decode("ascii", "replace").rstrip("\x00 ")
        elif element == 0x0002:
            meta["MediaStorageSOPClassUID"] = data[start : start + length].decode("ascii", "replace").rstrip("\x00 ")
        pos = start + length
    syntax = meta.get("TransferSyntaxUID", "")
    if syntax == "1.2.840.10008.1.2":
        return meta, pos, True
    if syntax == "1.2.840.10008.1.2.1" or syntax.startswith(_FAST_EXPLICIT_PREFIXES):
        return meta, pos, False
    raise _Fallback()  # big endian, deflate, unknown


def _fast_header(path: Path) -> DicomHeader:
    """Read ``path``'s header with the fast reader; raise _Fallback when pydicom must do it."""
    with open(path, "rb", buffering=0) as handle:
        source = _Bytes(handle)
        if not starts_with_dicm(source.data):
            raise _Fallback()
        meta, pos, implicit = _file_meta(source)
        need, size, data = source.need, source.size, source.data
        raw: dict[str, tuple[str, bytes]] = {}
        pixel_location = None
        unpack_head, unpack_long = _HEAD.unpack_from, _ULONG.unpack_from
        fast_tags, long_vrs = _fast_tags(), _EXPLICIT_LONG_VRS
        available = len(data)
        while pos < size:  # the hot loop: locals only
            if pos + 12 > available:
                data = need(min(pos + 12, size))
                available = len(data)
                if pos + 8 > available:
                    raise _Fallback()
            raw_tag, vr, length = unpack_head(data, pos)
            tag = ((raw_tag & 0xFFFF) << 16) | (raw_tag >> 16)  # stored as group, element
            if tag < 0x00040000:  # groups 0000-0003 never follow the file meta (zero-filled bytes are tag 0)
                raise _Impossible(f"impossible element ({tag >> 16:04X},{tag & 0xFFFF:04X}) at byte {pos}")
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
                    pixel_location = _pixel_element(path, start, length, size)
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


def _pixel_element(path: Path, start: int, length: int, size: int) -> tuple[int, int]:
    """(offset, length) of the pixel data; VolumeLoadError when the file ends before it does."""
    if length != 0xFFFFFFFF and start + length > size:
        raise VolumeLoadError(f"{path}: truncated DICOM file (pixel data needs {length} bytes, "
                              f"{max(size - start, 0)} present)", "damaged")
    return start, length


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
    except _Impossible as error:
        raise VolumeLoadError(f"{path}: damaged DICOM file: {error}", "damaged") from None
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
        tell, length, _ = pixel_location(dataset)
        if tell is not None and length != 0xFFFFFFFF:
            size = path.stat().st_size
            if tell + length > size:
                raise VolumeLoadError(
                    f"{path}: truncated DICOM file (pixel data needs {length} bytes, {max(size - tell, 0)} present)",
                    "damaged",
                )
    return dataset


def pixel_location(header) -> tuple[int | None, int, bytes | None]:
    """Return (file offset or None, length, value bytes or None) of a header's pixel data, without reading it."""
    if isinstance(header, DicomHeader):
        offset, length = header.pixel_location
        return offset, length, None
    element = header.get_item("PixelData", keep_deferred=True)
    value = element.value
    if value is not None:
        return getattr(element, "value_tell", None), len(value), value
    return int(element.value_tell), int(element.length), None
