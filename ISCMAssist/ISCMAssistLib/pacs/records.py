"""What PACS operations return: query rows, retrieve and store outcomes, and where retrieved files go."""

from __future__ import annotations

import io
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Query levels and the attributes asked for and shown, in table order (DICOM keywords).
STUDY_FIELDS = ("PatientID", "PatientName", "StudyDate", "AccessionNumber", "ModalitiesInStudy",
                "StudyDescription", "NumberOfStudyRelatedSeries", "StudyInstanceUID")
SERIES_FIELDS = ("SeriesNumber", "Modality", "SeriesDescription", "NumberOfSeriesRelatedInstances",
                 "SeriesInstanceUID", "StudyInstanceUID")
#: Instance-level keys: only those a PACS keeps in its index (others may make it read every file).
INSTANCE_FIELDS = ("SOPInstanceUID", "SeriesInstanceUID")

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def safe_uid(value: Any) -> str:
    """Return ``value`` as a UID fit for a file or folder name (digits and dots, <= 64 characters).

    Anything else a server sends (e.g. "../x") becomes a random name, so no file lands outside the
    folder it belongs to.
    """
    text = str(value or "").strip()
    return text if len(text) <= 64 and _UID.match(text) else f"unnamed-{uuid.uuid4().hex[:12]}"


def series_to_retrieve(series_rows: list[dict[str, Any]], study_uid: str, series_uids: Any, where: str) -> dict[str, int]:
    """Take a study's series rows (find_series) and the series asked for (None: all); return
    {SeriesInstanceUID: instance count} in the order to retrieve them. Raises PacsError when the study
    or an asked-for series is not there."""
    from .errors import PacsError

    counts = {row["SeriesInstanceUID"]: int(row["NumberOfSeriesRelatedInstances"] or 0) for row in series_rows}
    if not counts:
        raise PacsError(f"retrieve: study {study_uid} not found on {where}")
    unknown = [uid for uid in series_uids or [] if uid not in counts]
    if unknown:
        raise PacsError(f"retrieve: study {study_uid} on {where} has no series {', '.join(unknown)}")
    return {uid: counts[uid] for uid in series_uids} if series_uids else counts


@dataclass
class RetrieveResult:
    """A retrieve: the files written (under ``out``), the instances the PACS listed but did not send
    (``missing``), and per series how many did not come where the PACS could not list which (``unnamed``)."""

    out: Path
    files: list[Path] = field(default_factory=list)
    expected: int = 0
    missing: list[tuple[str, str]] = field(default_factory=list)  # (SeriesInstanceUID, SOPInstanceUID)
    unnamed: dict[str, int] = field(default_factory=dict)  # SeriesInstanceUID -> instances missing, unnamed
    errors: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Return whether every listed instance arrived and nothing failed."""
        return not self.missing and not self.unnamed and not self.errors

    def note_missing(self, series_uid: str, expected: int, received: set[str], list_instances: Any) -> None:
        """Record what of a series did not come (``expected`` instances, ``received`` SOPInstanceUIDs):
        the instances ``list_instances()`` (rows with SOPInstanceUID) names and were not received, or, when
        the PACS cannot list them (PacsError), how many."""
        from .errors import PacsError

        try:
            listed = [row["SOPInstanceUID"] for row in list_instances()]
        except PacsError as error:
            self.unnamed[series_uid] = max(expected - len(received), 1)
            self.errors.append(f"the PACS cannot list the instances of series {series_uid} to name the missing ({error})")
            return
        self.missing.extend((series_uid, sop) for sop in listed if sop not in received)

    def missing_text(self, limit: int = 20) -> str:
        """Return the missing instances as lines "series <uid> instance <uid>" (at most ``limit``), then
        "series <uid>: N instance(s) not named" for series the PACS could not list."""
        lines = [f"  series {series} instance {sop}" for series, sop in self.missing[:limit]]
        if len(self.missing) > limit:
            lines.append(f"  ... and {len(self.missing) - limit} more")
        lines += [f"  series {series}: {count} instance(s) the PACS could not name" for series, count in self.unnamed.items()]
        return "\n".join(lines)

    @property
    def missing_count(self) -> int:
        """Return how many instances did not come (named or not)."""
        return len(self.missing) + sum(self.unnamed.values())


@dataclass
class StoreResult:
    """A store: SOPInstanceUIDs stored, and (file, reason) for each instance the PACS did not take."""

    stored: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def write_part10(out: Path, study_uid: str, series_uid: str, data: bytes) -> tuple[str, Path]:
    """Write the bytes of one received DICOM file of a series under ``out`` as they came; return (its
    SOPInstanceUID, from its file meta, and the path). Raises ValueError when ``data`` is no DICOM file."""
    from pydicom.errors import InvalidDicomError
    from pydicom.filereader import read_file_meta_info

    if data[128:132] != b"DICM":
        raise ValueError("not a DICOM file (no DICM preamble)")
    folder = out / safe_uid(study_uid) / safe_uid(series_uid)
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / f".incoming-{uuid.uuid4().hex}.tmp"
    try:
        temp.write_bytes(data)
        sop_uid = str(read_file_meta_info(temp).get("MediaStorageSOPInstanceUID", ""))
        path = folder / f"{safe_uid(sop_uid)}.dcm"
        os.replace(temp, path)
    except InvalidDicomError as error:
        raise ValueError(f"not a DICOM file ({error})") from None
    finally:
        temp.unlink(missing_ok=True)
    return sop_uid, path


def instance_path(out: Path, study_uid: Any, series_uid: Any, sop_uid: Any) -> Path:
    """Return where a retrieved instance goes: OUT/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm."""
    return out / safe_uid(study_uid) / safe_uid(series_uid) / f"{safe_uid(sop_uid)}.dcm"


def _part10_bytes(dataset: Any) -> bytes | None:
    """Return the DICOM file bytes a dataset was read from (pydicom keeps the buffer), or None."""
    buffer = getattr(dataset, "buffer", None)
    if isinstance(buffer, io.BytesIO):
        data = buffer.getvalue()
        if data[128:132] == b"DICM":
            return data
    return None


def write_instance(out: Path, dataset: Any) -> Path:
    """Write a retrieved pydicom Dataset under ``out`` (see instance_path), via a temp file and rename.

    Returns the path. The file is written byte for byte as received when pydicom kept its bytes
    (re-encoded otherwise, file meta and transfer syntax kept). No fsync: a cache that can be
    retrieved again is not worth one per instance.
    """
    import pydicom

    path = instance_path(out, dataset.get("StudyInstanceUID"), dataset.get("SeriesInstanceUID"),
                         dataset.get("SOPInstanceUID"))
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        data = _part10_bytes(dataset)
        if data is not None:
            temp.write_bytes(data)
        else:
            pydicom.dcmwrite(temp, dataset, enforce_file_format=True)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path
