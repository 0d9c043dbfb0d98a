"""The source images of an SR: reading their headers, the copies highdicom references, and errors.

``read_source_headers`` takes folders/files/Datasets and returns image headers (no pixel data);
``evidence_copy`` / ``one_per_series`` / ``frame_of_reference`` prepare them for the SR writer.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .progress import ProgressCallback



class SRError(ValueError):
    """Case or SR content that cannot be converted; the message names the file/field and the problem."""


class SRSourceError(OSError):
    """Source images for an SR that cannot be read (missing folder, no DICOM, mixed patients)."""


def read_source_headers(
    sources: Iterable[Any], progress: ProgressCallback | None = None
) -> list[Any]:
    """Take pydicom Datasets and/or folders (or files) of DICOM images; return their headers.

    Folders are searched recursively; files that are not DICOM, and SR/non-image objects, are
    skipped. Pixel data are not read. ``progress(done, total)`` is called per file.
    Raises SRSourceError when a path does not exist, when nothing usable is found, or when the
    images belong to more than one patient.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    sources = list(sources)
    datasets: list[Any] = []
    files: list[Path] = []
    for source in sources:
        if isinstance(source, pydicom.Dataset):
            datasets.append(source)
            continue
        path = Path(os.fspath(source))
        if path.is_dir():
            try:
                files.extend(sorted(p for p in path.rglob("*") if p.is_file()))
            except OSError as error:
                raise SRSourceError(f"{path}: cannot list the folder: {error.strerror or error}") from None
        elif path.is_file():
            files.append(path)
        else:
            raise SRSourceError(f"{path}: source series folder does not exist")
    for done, path in enumerate(files, start=1):
        try:
            dataset = pydicom.dcmread(path, stop_before_pixels=True)
        except (InvalidDicomError, OSError, ValueError, EOFError):
            dataset = None
        if dataset is not None and _is_image(dataset):
            datasets.append(dataset)
        if progress is not None:
            progress(done, len(files))
    unique: dict[str, Any] = {}
    for dataset in datasets:
        if _is_image(dataset):
            unique.setdefault(str(dataset.SOPInstanceUID), dataset)  # a folder given twice counts once
    datasets = list(unique.values())
    if not datasets:
        names = ", ".join(str(s) for s in sources if not isinstance(s, pydicom.Dataset)) or "datasets given"
        raise SRSourceError(f"{names}: no DICOM images found to reference from the SR")
    patients = {str(d.get("PatientID", "")) for d in datasets}
    if len(patients) > 1:
        raise SRSourceError(f"source images belong to {len(patients)} different PatientIDs; give one patient's series")
    return datasets


def _is_image(dataset: Any) -> bool:
    return "SOPInstanceUID" in dataset and "SOPClassUID" in dataset and dataset.get("Modality") not in ("SR", "KO", "PR")


_REFERENCE_KEYWORDS = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID",
                       "FrameOfReferenceUID", "Modality", "PatientID")


def evidence_copy(dataset: Any, full: bool = True) -> Any:
    """Return a header copy (``full``) or just the UIDs highdicom needs to reference the image, with
    the type 2 patient/study attributes highdicom reads filled when absent.

    Copying every header of a long series costs seconds in highdicom, so only the first image (the
    patient/study source) and one image per series (image library) are copied whole.
    """
    import pydicom

    copied = pydicom.Dataset()
    for element in dataset:
        if element.tag.group != 0x7FE0 and (full or element.keyword in _REFERENCE_KEYWORDS):
            copied.add(copy.deepcopy(element))
    for keyword in ("PatientID", "PatientName", "PatientBirthDate", "PatientSex", "AccessionNumber",
                    "StudyID", "StudyDate", "StudyTime"):
        if keyword not in copied:
            setattr(copied, keyword, "")
    if "StudyInstanceUID" not in copied:
        raise SRSourceError(f"source image {dataset.SOPInstanceUID}: no StudyInstanceUID")
    if "SeriesInstanceUID" not in copied:
        raise SRSourceError(f"source image {dataset.SOPInstanceUID}: no SeriesInstanceUID")
    return copied


def one_per_series(datasets: Sequence[Any]) -> list[Any]:
    """The middle image (by InstanceNumber) of each series, for the SR's image library."""
    by_series: dict[str, list[Any]] = {}
    for dataset in datasets:
        by_series.setdefault(str(dataset.get("SeriesInstanceUID", "")), []).append(dataset)
    chosen = []
    for members in by_series.values():
        members = sorted(members, key=lambda d: int(d.get("InstanceNumber") or 0))
        chosen.append(members[len(members) // 2])
    return chosen


def frame_of_reference(case: dict, datasets: Sequence[Any]) -> str | None:
    """The FrameOfReferenceUID for the lines: the T2 sagittal series' when it is among the sources,
    else the first source image's."""
    by_series = {str(d.SeriesInstanceUID): d for d in datasets if "FrameOfReferenceUID" in d}
    for role in ("t2_sagittal", "t1_post"):
        for entry in case.get("series") or []:
            if entry.get("role") == role and entry.get("series_uid") in by_series:
                return str(by_series[entry["series_uid"]].FrameOfReferenceUID)
    for dataset in datasets:
        if "FrameOfReferenceUID" in dataset:
            return str(dataset.FrameOfReferenceUID)
    return None
