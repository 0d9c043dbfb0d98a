"""Open any image as one Volume: a NIfTI file, a DICOM file (with the rest of its series), a DICOMDIR
or a folder holding one series. It sits above the DICOM and NIfTI readers and the folder scanner
(ingest.py), so none of those imports another's caller.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import ingest
from .dicom_header import read_dicom_header
from .dicom_pixels import load_dicom_series
from .nifti import is_nifti_path, load_nifti
from .progress import ProgressCallback
from .volumes import Volume, VolumeLoadError


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
    if not path.is_dir() and not path.is_file():
        raise VolumeLoadError(f"{path}: not a regular file or folder (a FIFO, socket or device?)", "unreadable")
    if path.is_file() and is_nifti_path(path):
        return load_nifti(path)
    if path.is_dir():
        return load_dicom_folder(path, progress=progress)
    return load_dicom_file(path, progress=progress)


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
