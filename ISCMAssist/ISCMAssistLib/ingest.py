"""Find the series of an exam folder and propose their reading roles.

``scan_folder`` walks a folder recursively (or reads a DICOMDIR), groups DICOM images by
SeriesInstanceUID, lists NIfTI files (BIDS names and JSON sidecars understood), and skips - with a
reason - non-DICOM, truncated, unreadable and non-image files (SR, presentation states).
``describe`` summarises each series (orientation, weighting guess, contrast, slices, spacing,
station/body part, and why it can never take a role: field map, EPI/DWI, MIP, derived); the series
are grouped by study (exam_studies.py). ``propose_roles`` picks, within one study, T2 sagittal, T1
sagittal pre/post, axial T2 and axial T1 post, each with the reasons for the guess;
``apply_overrides`` lets the reader change any role.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import exam_studies
from . import files as files_mod
from .dicom_header import read_dicom_header
from .dicom_pixels import load_dicom_series
from .exam_studies import StudyGroup
from .nifti import is_nifti_path, load_nifti
from .progress import ProgressCallback
from .series_evidence import dicom_text as _text
from .series_evidence import not_for_a_role
from .volumes import VolumeLoadError

#: SOP class UID prefixes of objects that are not images.
_NON_IMAGE_PREFIXES = {
    "1.2.840.10008.5.1.4.1.1.88.": "structured report",
    "1.2.840.10008.5.1.4.1.1.11.": "presentation state",
    "1.2.840.10008.5.1.4.1.1.66": "raw data / registration / segmentation",
    "1.2.840.10008.5.1.4.1.1.104.": "encapsulated document",
    "1.2.840.10008.5.1.4.1.1.481.": "radiotherapy object",
}
_DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
_SIDECAR_SUFFIXES = (".json", ".tsv", ".bval", ".bvec")
_SILENT_NAMES = {"README", "CHANGES", "LICENSE", ".bidsignore"}


class IngestError(ValueError):
    """Bad input to the series finder (e.g. an unknown role or series in an override); names it."""


@dataclass
class SkippedFile:
    """A file that is not a usable image: ``category`` is not_dicom | damaged | unreadable | non_image | sidecar | dicomdir."""

    path: Path
    reason: str
    category: str


@dataclass
class SeriesSummary:
    """One series found in a folder (a DICOM series or a NIfTI file) and what its headers say.

    Spacing is mm as (row spacing, column spacing, slice spacing) for DICOM, NIfTI voxel sizes
    (i, j, k) for NIfTI. ``si_range_mm`` is the (inferior, superior) extent of the slice positions
    along the patient's S axis (LPS/RAS z). ``reasons`` explain the weighting and contrast guesses;
    ``problems`` list what would stop loading, ``warnings`` what may spoil it (e.g. missing slices).
    """

    kind: str  # "dicom" | "nifti"
    uid: str
    path: Path
    description: str = ""
    series_number: int | None = None
    modality: str = ""
    files: list[Path] = field(default_factory=list, repr=False)
    headers: list[Any] = field(default_factory=list, repr=False)
    n_slices: int = 0
    rows: int | None = None
    columns: int | None = None
    spacing_mm: tuple[float, float, float] | None = None
    orientation: str = "unknown"  # sagittal | axial | coronal | oblique | mixed | unknown
    weighting: str = "unknown"  # T1 | T2 | PD | STIR | FLAIR | DWI | T2* | localizer | unknown
    contrast: bool | None = None
    localizer: bool = False
    body_part: str = ""
    station: str = ""
    region: str = ""  # cervical | thoracic | lumbar | whole | "" (from description/body part)
    echo_time_ms: float | None = None
    repetition_time_ms: float | None = None
    inversion_time_ms: float | None = None
    scanning_sequence: str = ""
    acquisition_time: str = ""
    si_range_mm: tuple[float, float] | None = None
    bids: dict[str, str] = field(default_factory=dict)
    study_uid: str = ""
    study_date: str = ""
    study_time: str = ""
    study_description: str = ""
    patient_id: str = ""
    excluded: str = ""  # why it is never proposed for a role (field map, EPI/DWI, MIP, derived...), or ""
    reasons: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def n_files(self) -> int:
        """Return the number of files of the series."""
        return len(self.files)

    @property
    def label(self) -> str:
        """Return a short name: '#<number> <description>' (DICOM) or the file name (NIfTI)."""
        if self.kind == "nifti":
            return self.path.name
        return f"#{self.series_number if self.series_number is not None else '?'} {self.description}".strip()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (paths as strings, headers left out)."""
        return {
            "kind": self.kind,
            "uid": self.uid,
            "path": str(self.path),
            "description": self.description,
            "series_number": self.series_number,
            "modality": self.modality,
            "n_files": self.n_files,
            "n_slices": self.n_slices,
            "rows": self.rows,
            "columns": self.columns,
            "spacing_mm": list(self.spacing_mm) if self.spacing_mm else None,
            "orientation": self.orientation,
            "weighting": self.weighting,
            "contrast": self.contrast,
            "localizer": self.localizer,
            "body_part": self.body_part,
            "station": self.station,
            "region": self.region,
            "echo_time_ms": self.echo_time_ms,
            "repetition_time_ms": self.repetition_time_ms,
            "inversion_time_ms": self.inversion_time_ms,
            "scanning_sequence": self.scanning_sequence,
            "si_range_mm": list(self.si_range_mm) if self.si_range_mm else None,
            "bids": self.bids,
            "study_uid": self.study_uid,
            "excluded": self.excluded,
            "reasons": self.reasons,
            "problems": self.problems,
            "warnings": self.warnings,
        }


@dataclass
class ScanResult:
    """What ``scan_folder`` found: the series (DICOM and NIfTI) and the skipped files with reasons."""

    root: Path
    series: list[SeriesSummary]
    skipped: list[SkippedFile]
    studies: list[StudyGroup] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.studies:
            self.studies = exam_studies.group_studies(self.series)

    def key(self, summary: SeriesSummary) -> str:
        """Return the unambiguous name of a series: "study:series" (e.g. "2:5"), else its UID or NIfTI name."""
        if summary.kind == "nifti" and len(self.studies) == 1:
            return summary.path.name
        return exam_studies.series_key(self.studies, summary)

    def find(self, key: str) -> SeriesSummary:
        """Return the series named by ``key``: SeriesInstanceUID, NIfTI file name, "study:series" (study
        index or UID, then SeriesNumber) or a bare SeriesNumber when only one series has it.

        Raises IngestError naming the key when none, or more than one, matches.
        """
        matches = [s for s in self.series if s.uid == key or str(s.path) == key or s.path.name == key]
        matches = matches or exam_studies.find_by_key(self.studies, key)
        if not matches and key.lstrip("-").isdigit():
            matches = [s for s in self.series if s.series_number == int(key)]
        if not matches:
            known = ", ".join(f"{self.key(s)} {s.description}".strip() for s in self.series) or "none"
            raise IngestError(f"{self.root}: no series {key!r} (series found: {known})")
        if len(matches) > 1:
            keys = ", ".join(sorted(self.key(s) for s in matches))
            raise IngestError(f"{self.root}: series {key} is ambiguous ({len(matches)} series: {keys}); "
                              "give study:series or the SeriesInstanceUID")
        return matches[0]

    def study(self, key: str | None = None) -> tuple[StudyGroup, str]:
        """Return (the study to read, why): ``key`` (StudyInstanceUID or index), the only study, or the
        only one with spine series. Raises exam_studies.StudyChoiceError (a ValueError) listing them."""
        return exam_studies.choose_study(self.studies, key)


# ----------------------------------------------------------------------------------------------
# Scanning


def _list_files(root: Path) -> tuple[list[Path], list[SkippedFile]]:
    """Return the regular files under ``root`` (sorted, hidden files left out) and what was skipped:
    folders that could not be listed, FIFOs/sockets/devices (reading them could block forever) and
    symbolic links to files outside ``root``."""
    files: list[Path] = []
    skipped: list[SkippedFile] = []

    def on_error(error: OSError) -> None:
        skipped.append(SkippedFile(Path(error.filename or root), f"cannot be listed ({error.strerror})", "unreadable"))

    for folder, subfolders, names in os.walk(root, onerror=on_error):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in sorted(names):
            if not name.startswith("."):
                path = Path(folder) / name
                reason = files_mod.unsafe_to_read(path, root)
                if reason:
                    skipped.append(SkippedFile(path, reason, "unreadable"))
                else:
                    files.append(path)
    return files, skipped


def _dicomdir_files(dicomdir: Path) -> list[Path]:
    """Return the files a DICOMDIR references (IMAGE and other records), in its order."""
    import pydicom
    from pydicom.fileset import FileSet

    try:
        fileset = FileSet(pydicom.dcmread(dicomdir))
    except Exception as error:
        raise IngestError(f"{dicomdir}: not a readable DICOMDIR ({error})") from error
    return [Path(instance.path) for instance in fileset]


def _is_image_sop_class(sop_class: str) -> bool:
    """Return whether a SOP class UID is an image storage class (by pydicom's UID name)."""
    from pydicom.uid import UID

    return bool(sop_class) and "Image Storage" in UID(sop_class).name


def _non_image_kind(sop_class: str, has_pixels: bool) -> str | None:
    """Return why a SOP class is not an image (e.g. 'structured report'), or None for images."""
    for prefix, kind in _NON_IMAGE_PREFIXES.items():
        if sop_class.startswith(prefix):
            return kind
    if not has_pixels:
        return "no pixel data"
    return None


def scan_folder(
    path: str | os.PathLike,
    progress: ProgressCallback | None = None,
    include_nifti: bool = True,
    describe: bool = True,
) -> ScanResult:
    """Find every series under ``path`` (a folder searched recursively, or a DICOMDIR file).

    DICOM images are grouped by SeriesInstanceUID; NIfTI files (.nii, .nii.gz) are one series each
    (with BIDS entities and JSON sidecar read) when ``include_nifti``. Non-DICOM, truncated,
    unreadable and non-image files are skipped with a reason. ``progress(done, total)`` is called
    per file. ``describe=False`` only groups DICOM files (number, description, files, headers; no
    orientation/weighting analysis), for loaders in a hurry. Returns a ScanResult with the series
    sorted by series number then description. Raises IngestError when ``path`` does not exist or
    cannot be listed.
    """
    root = Path(path)
    if not root.exists():
        raise IngestError(f"{root}: no such file or folder")
    skipped: list[SkippedFile] = []
    if root.is_file() and root.name.upper() == "DICOMDIR":
        files = _dicomdir_files(root)
        root = root.parent
    elif root.is_file():
        files = [root]
    else:
        if not os.access(root, os.R_OK | os.X_OK):
            raise IngestError(f"{root}: folder cannot be read (permission denied)")
        files, skipped = _list_files(root)

    groups: dict[str, tuple[list[Path], list[Any]]] = {}
    nifti_files: list[Path] = []
    for done, file in enumerate(files, start=1):
        if progress:
            progress(done, len(files))
        if is_nifti_path(file):
            if include_nifti:
                nifti_files.append(file)
            continue
        if file.suffix.lower() in _SIDECAR_SUFFIXES or file.name in _SILENT_NAMES:
            skipped.append(SkippedFile(file, "sidecar / metadata file", "sidecar"))
            continue
        try:
            header = read_dicom_header(file)
        except VolumeLoadError as error:
            skipped.append(SkippedFile(file, _strip_path(str(error), file), error.kind))
            continue
        sop_class = str(header.get("SOPClassUID", "") or getattr(header, "file_meta", {}).get("MediaStorageSOPClassUID", ""))
        if sop_class == _DICOMDIR_SOP_CLASS or file.name.upper() == "DICOMDIR":
            skipped.append(SkippedFile(file, "DICOMDIR index (its files are scanned directly)", "dicomdir"))
            continue
        if "PixelData" not in header and _is_image_sop_class(sop_class):
            skipped.append(SkippedFile(file, "truncated DICOM file (an image header without pixel data)", "damaged"))
            continue
        kind = _non_image_kind(sop_class, "PixelData" in header)
        if kind:
            skipped.append(SkippedFile(file, f"not an image: {kind} ({_uid_name(sop_class)})", "non_image"))
            continue
        uid = str(header.get("SeriesInstanceUID", "") or "")
        group = groups.setdefault(uid, ([], []))
        group[0].append(file)
        group[1].append(header)

    summarise = describe_dicom if describe else _group_only
    series = [summarise(uid, files_, headers) for uid, (files_, headers) in groups.items()]
    series.extend(describe_nifti(f) for f in nifti_files)
    series.sort(key=lambda s: (s.kind != "dicom", s.series_number if s.series_number is not None else 1 << 30, s.description, s.uid))
    return ScanResult(root=root, series=series, skipped=skipped)


def _strip_path(message: str, path: Path) -> str:
    prefix = f"{path}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def _uid_name(uid: str) -> str:
    from pydicom.uid import UID

    name = UID(uid).name if uid else ""
    return name if name and name != uid else (uid or "no SOPClassUID")


# ----------------------------------------------------------------------------------------------
# Describing a series


def plane_of_normal(normal: np.ndarray) -> tuple[str, float]:
    """Take a slice normal (LPS or RAS, any length); return (plane name, angle in degrees from that plane's normal).

    The plane is sagittal (normal along L-R), coronal (A-P) or axial (S-I) when the normal is
    within 30 degrees of that axis, else "oblique".
    """
    normal = np.asarray(normal, dtype=float)
    normal = normal / np.linalg.norm(normal)
    axis = int(np.argmax(np.abs(normal)))
    angle = float(np.degrees(np.arccos(min(1.0, abs(normal[axis])))))
    if angle > 30.0:
        return "oblique", angle
    return ("sagittal", "coronal", "axial")[axis], angle


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


_POST_WORDS = re.compile(r"(\+\s*C\b|\bC\s*\+|\+\s*GD|\+\s*GAD|\bPOST|\bGAD|\bGADO|\bGD\b|\bCE\b|\bCONTRAST|\bKM\b|\bMDC\b|\bENH)", re.I)
_PRE_WORDS = re.compile(r"(\bPRE\b|\bPRE[-_ ]?C|\bNATIV|\bNON[-_ ]?CON|\bWITHOUT\b|\bNATIVE\b|\bPRECONTRAST)", re.I)
_LOCALIZER_WORDS = re.compile(r"(LOC(ALI[SZ]ER)?\b|SCOUT|SURVEY|3[-_ ]?PLANE|TRI[-_ ]?PILOT|\bPILOT|AAHSCOUT)", re.I)
_WEIGHTING_WORDS = [
    ("STIR", re.compile(r"(STIR|TIRM|\bSPAIR\b.*STIR)", re.I)),
    ("FLAIR", re.compile(r"FLAIR", re.I)),
    ("DWI", re.compile(r"(\bDWI|\bDIFF|\bADC\b|\bTRACE\b|\bDTI\b)", re.I)),
    ("PD", re.compile(r"(\bPD\b|PDW|PROTON)", re.I)),
    ("T2*", re.compile(r"(T2\*|T2STAR|\bMEDIC\b|\bMERGE\b|\bSWI\b)", re.I)),
    ("T2", re.compile(r"(T2|\bSPACE\b|\bCUBE\b|\bVISTA\b|\bCISS\b|\bFIESTA\b|\bHASTE\b|\bMYELO)", re.I)),
    ("T1", re.compile(r"(T1|MPRAGE|\bVIBE\b|\bLAVA\b|\bTHRIVE\b|\bFLASH\b)", re.I)),
]
_REGION_WORDS = [
    ("whole", re.compile(r"(WHOLE|\bW[-_ ]?SPINE|TOTAL|\bALL\b)", re.I)),
    ("cervical", re.compile(r"(CERV|C[-_ ]?SPINE|\bHWS\b|\bCWS\b|\bNECK\b|\bC[-_]?SP\b)", re.I)),
    ("thoracic", re.compile(r"(THOR|T[-_ ]?SPINE|\bBWS\b|\bDORS|\bTSP\b)", re.I)),
    ("lumbar", re.compile(r"(LUMB|L[-_ ]?SPINE|\bLWS\b|\bLSP\b|SACR|\bLS\b)", re.I)),
]


def guess_weighting(
    description: str,
    scanning_sequence: str = "",
    echo_time_ms: float | None = None,
    repetition_time_ms: float | None = None,
    inversion_time_ms: float | None = None,
) -> tuple[str, list[str]]:
    """Guess the MR weighting from the series description and the timing tags (ms).

    Returns (weighting, reasons): weighting is T1 | T2 | PD | STIR | FLAIR | DWI | T2* | unknown.
    A weighting word in the description wins; the tags decide otherwise (inversion recovery with
    TI 100-300 ms = STIR, TI > 1500 ms = FLAIR; TR < 1000 and TE < 30 = T1; TR >= 1500 and TE >= 60 =
    T2; TR >= 1500 and TE < 40 = PD; gradient echo: TR < 1000 and TE < 15 = T1, TE >= 15 = T2*).
    """
    reasons: list[str] = []
    by_words = next((name for name, pattern in _WEIGHTING_WORDS if pattern.search(description or "")), None)
    by_tags: str | None = None
    sequence = (scanning_sequence or "").upper()
    timing = ", ".join(
        f"{name} {value:g} ms"
        for name, value in (("TR", repetition_time_ms), ("TE", echo_time_ms), ("TI", inversion_time_ms))
        if value is not None
    )
    if "IR" in sequence.split("\\") and inversion_time_ms is not None:
        if 80 <= inversion_time_ms <= 300:
            by_tags = "STIR"
        elif inversion_time_ms >= 1500:
            by_tags = "FLAIR"
    gradient_echo = "GR" in sequence.split("\\") and "SE" not in sequence.split("\\")
    if by_tags is None and gradient_echo and echo_time_ms is not None and repetition_time_ms is not None:
        if repetition_time_ms < 1000 and echo_time_ms < 15:
            by_tags = "T1"
        elif echo_time_ms >= 15:
            by_tags = "T2*"
    elif by_tags is None and echo_time_ms is not None and repetition_time_ms is not None:
        if repetition_time_ms < 1000 and echo_time_ms < 30:
            by_tags = "T1"
        elif repetition_time_ms >= 1500 and echo_time_ms >= 60:
            by_tags = "T2"
        elif repetition_time_ms >= 1500 and echo_time_ms < 40:
            by_tags = "PD"
    if by_words:
        reasons.append(f"SeriesDescription {description!r} names {by_words}")
    if by_tags:
        reasons.append(f"ScanningSequence {sequence or '?'} with {timing} fits {by_tags}")
    elif timing:
        reasons.append(f"{timing} do not decide the weighting")
    if by_words and by_tags and by_words != by_tags and not (by_words == "T2" and by_tags == "STIR"):
        reasons.append(f"the description ({by_words}) and the timing ({by_tags}) disagree; the description is taken")
    return (by_words or by_tags or "unknown"), reasons


def guess_contrast(description: str, contrast_agent: str = "", bids_ce: str = "") -> tuple[bool | None, list[str]]:
    """Guess whether contrast had been given: (True/False/None when nothing says, reasons).

    A BIDS ``ce-`` entity -> True; pre-contrast words in the description (PRE, NATIVE) -> False, even
    with ContrastBolusAgent set; ContrastBolusAgent set -> True; post-contrast words (+C, POST, GAD,
    GD, CE, KM...) -> True.
    """
    if bids_ce:
        return True, [f"BIDS entity ce-{bids_ce}"]
    if _PRE_WORDS.search(description or ""):
        reasons = [f"SeriesDescription {description!r} says pre-contrast"]
        if contrast_agent.strip():  # some scanners fill the agent in for every series of the exam
            reasons.append(f"ContrastBolusAgent {contrast_agent.strip()!r} is set but the description wins")
        return False, reasons
    if contrast_agent.strip():
        return True, [f"ContrastBolusAgent = {contrast_agent.strip()!r}"]
    match = _POST_WORDS.search(description or "")
    if match:
        return True, [f"SeriesDescription {description!r} says post-contrast ({match.group(0).strip()!r})"]
    return None, ["no ContrastBolusAgent and no contrast words in the description"]


def _region(*texts: str) -> str:
    for name, pattern in _REGION_WORDS:
        if any(pattern.search(t or "") for t in texts):
            return name
    return ""


def _group_only(uid: str, files: Sequence[Path], headers: Sequence[Any]) -> SeriesSummary:
    """Return a SeriesSummary with only the identity of the series (no header analysis)."""
    first = headers[0]
    number = _number(first.get("SeriesNumber"))
    return SeriesSummary(
        kind="dicom", uid=uid, path=files[0].parent,
        description=_text(first.get("SeriesDescription", "")).strip(),
        series_number=int(number) if number is not None else None,
        modality=_text(first.get("Modality", "")), files=list(files), headers=list(headers),
        **_study_fields(first),
    )


#: Tags the fast header reader leaves out that tell what a series is (field map, EPI...) and when the study was.
_EVIDENCE_TAGS = ("ImageType", "SOPClassUID", "SequenceName", "PulseSequenceName", "ScanningSequence",
                  "EchoPlanarPulseSequence", "DiffusionBValue", "StudyInstanceUID", "StudyDate", "StudyTime",
                  "StudyDescription", "PatientID")


def _evidence_header(path: Path, header: Any) -> Any:
    """Return ``header`` when pydicom read it whole, else the _EVIDENCE_TAGS of ``path`` read by pydicom
    (``header`` again when that fails: the series then lacks only that evidence)."""
    import pydicom

    if isinstance(header, pydicom.Dataset):
        return header
    try:
        return pydicom.dcmread(path, stop_before_pixels=True, specific_tags=list(_EVIDENCE_TAGS))
    except Exception:
        return header


def _study_fields(header: Any) -> dict[str, str]:
    """Return the study identity of a header (SeriesSummary keyword arguments)."""
    return {"study_uid": _text(header.get("StudyInstanceUID", "")), "study_date": _text(header.get("StudyDate", "")),
            "study_time": _text(header.get("StudyTime", "")), "patient_id": _text(header.get("PatientID", "")),
            "study_description": _text(header.get("StudyDescription", "")).strip()}


def describe_dicom(uid: str, files: Sequence[Path], headers: Sequence[Any]) -> SeriesSummary:
    """Summarise one DICOM series from its headers (no pixels read); problems are listed, not raised."""
    first = headers[0]
    description = _text(first.get("SeriesDescription", "")).strip()
    protocol = _text(first.get("ProtocolName", "")).strip()
    words = " ".join(t for t in (description, protocol) if t)
    number = _number(first.get("SeriesNumber"))
    image_type = _text(first.get("ImageType", "")).upper()
    folder = Path(os.path.commonpath([str(f.parent) for f in files])) if files else Path()
    summary = SeriesSummary(
        kind="dicom",
        uid=uid,
        path=folder,
        description=description or protocol,
        series_number=int(number) if number is not None else None,
        modality=_text(first.get("Modality", "")),
        files=list(files),
        headers=list(headers),
        body_part=_text(first.get("BodyPartExamined", "")),
        station=_text(first.get("StationName", "")),
        echo_time_ms=_number(first.get("EchoTime")),
        repetition_time_ms=_number(first.get("RepetitionTime")),
        inversion_time_ms=_number(first.get("InversionTime")),
        scanning_sequence=_text(first.get("ScanningSequence", "")),
        acquisition_time=_text(first.get("AcquisitionTime", "") or first.get("SeriesTime", "")),
    )
    evidence_header = _evidence_header(files[0], first)
    for key, value in _study_fields(evidence_header).items():
        setattr(summary, key, value)
    summary.excluded = not_for_a_role(evidence_header, " ".join(dict.fromkeys(words.split())))
    if not uid:
        summary.problems.append("no SeriesInstanceUID")
    n_frames = 0
    normal_of: dict[tuple, np.ndarray] = {}  # one cross product per distinct orientation
    normals: list[np.ndarray] = []
    positions: list[Sequence[float]] = []
    sizes: set[tuple[int, int]] = set()
    spacing = None
    usable = 0
    for header in headers:
        n_frames += int(_number(header.get("NumberOfFrames")) or 1)
        rows, columns = _number(header.get("Rows")), _number(header.get("Columns"))
        if rows is None or columns is None:
            summary.problems.append("Rows/Columns missing")
        else:
            sizes.add((int(rows), int(columns)))
        geometry = _header_geometry(header)
        if geometry is None:
            continue
        usable += 1
        orientation, position, pixel_spacing = geometry
        key = tuple(orientation)
        if key not in normal_of:
            normal_of[key] = np.cross(orientation[:3], orientation[3:])
            normals.append(normal_of[key])
        positions.extend(position)
        spacing = spacing if spacing is not None else pixel_spacing
    summary.n_slices = n_frames
    if len(sizes) == 1:
        summary.rows, summary.columns = sizes.pop()
    elif len(sizes) > 1:
        summary.problems.append(f"mixed image sizes: {sorted(sizes)}")
    if usable < len(headers):
        summary.problems.append(f"{len(headers) - usable} file(s) without usable ImageOrientation/Position/PixelSpacing")
    if normals:
        planes = {plane_of_normal(n)[0] for n in normals}
        spread = max(float(np.max(np.abs(n - normals[0]))) for n in normals)
        if spread > 1e-3:
            summary.orientation = "mixed"
            summary.problems.append(f"mixed orientations ({', '.join(sorted(planes))})")
        else:
            plane, angle = plane_of_normal(normals[0])
            summary.orientation = plane
            if plane != "oblique" and angle > 5:
                summary.reasons.append(f"{plane}, tilted {angle:.0f} degrees")
        position_array = np.array(positions, dtype=float)
        steps = np.diff(np.sort(position_array @ normals[0]))
        slice_spacing = float(np.median(steps)) if len(steps) else _number(first.get("SpacingBetweenSlices") or first.get("SliceThickness"))
        if spacing is not None:
            summary.spacing_mm = (float(spacing[0]), float(spacing[1]), float(slice_spacing or 0.0))
        if spacing is not None and summary.rows and summary.columns:
            # The image plane reaches from the IPP along rows and columns: add its S-I reach.
            iop = next(iter(normal_of))
            reach = (iop[2] * (summary.columns - 1) * spacing[1], iop[5] * (summary.rows - 1) * spacing[0])
            low = sum(min(0.0, r) for r in reach)
            high = sum(max(0.0, r) for r in reach)
        else:
            low = high = 0.0
        summary.si_range_mm = (float(position_array[:, 2].min()) + low, float(position_array[:, 2].max()) + high)
        if len(steps) > 1 and summary.orientation != "mixed":
            if np.any(steps < 1e-3):
                summary.problems.append("several images share a slice position (echoes / time points / stacks)")
            elif np.max(steps) > 1.5 * np.min(steps):
                summary.warnings.append(f"uneven slice spacing ({np.min(steps):.2f} to {np.max(steps):.2f} mm): slices missing?")
    summary.localizer = "LOCALIZER" in image_type or bool(_LOCALIZER_WORDS.search(words)) or summary.orientation == "mixed"
    if summary.localizer:
        summary.weighting = "localizer"
        summary.reasons.append("localizer (ImageType LOCALIZER, a scout/survey description or several planes)")
    else:
        summary.weighting, reasons = guess_weighting(
            words, summary.scanning_sequence, summary.echo_time_ms, summary.repetition_time_ms, summary.inversion_time_ms
        )
        summary.reasons.extend(reasons)
    agent = _text(first.get("ContrastBolusAgent", ""))
    summary.contrast, reasons = guess_contrast(words, agent)
    summary.reasons.extend(reasons)
    summary.region = _region(words, summary.body_part)
    return summary


def _header_geometry(header: Any) -> tuple[list[float], list[list[float]], list[float]] | None:
    """Return (IOP (6 floats), the frames' IPPs (3 floats each), PixelSpacing (2 floats)), or None when unusable."""
    try:
        if "PerFrameFunctionalGroupsSequence" in header:
            shared = header.SharedFunctionalGroupsSequence[0] if "SharedFunctionalGroupsSequence" in header else None
            per_frame = header.PerFrameFunctionalGroupsSequence

            def item(group: Any, keyword: str) -> Any:
                for source in (group, shared):
                    if source is not None and keyword in source:
                        return source[keyword].value[0]
                raise KeyError(keyword)

            orientation = [float(v) for v in item(per_frame[0], "PlaneOrientationSequence").ImageOrientationPatient]
            spacing = [float(v) for v in item(per_frame[0], "PixelMeasuresSequence").PixelSpacing]
            positions = [[float(v) for v in item(g, "PlanePositionSequence").ImagePositionPatient] for g in per_frame]
        else:
            orientation = [float(v) for v in header.get("ImageOrientationPatient")]
            spacing = [float(v) for v in header.get("PixelSpacing")]
            positions = [[float(v) for v in header.get("ImagePositionPatient")]]
    except Exception:
        return None
    if len(orientation) != 6 or len(spacing) != 2 or not all(len(p) == 3 for p in positions):
        return None
    values = orientation + spacing + [v for p in positions for v in p]
    if not all(math.isfinite(v) for v in values) or min(spacing) <= 0:
        return None
    row, column = orientation[:3], orientation[3:]
    if abs(sum(a * a for a in row) - 1) > 0.2 or abs(sum(a * a for a in column) - 1) > 0.2:
        return None
    return orientation, positions, spacing


_BIDS_NEVER_A_ROLE = {**dict.fromkeys(("phasediff", "phase1", "phase2", "magnitude", "magnitude1", "magnitude2",
                                         "fieldmap"), "field map"),
                      **dict.fromkeys(("dwi", "bold", "epi", "sbref", "asl", "m0scan", "cbv"), "EPI / diffusion")}
_BIDS_ENTITY = re.compile(r"^([a-zA-Z0-9]+)-([a-zA-Z0-9]+)$")


def parse_bids_name(path: str | os.PathLike) -> dict[str, str]:
    """Take a BIDS file name (e.g. sub-01_ses-1_acq-sag_ce-gad_T1w.nii.gz); return its entities and 'suffix'."""
    name = Path(path).name
    stem = name[: -len(".nii.gz")] if name.lower().endswith(".nii.gz") else Path(name).stem
    entities: dict[str, str] = {}
    parts = stem.split("_")
    for part in parts[:-1]:
        match = _BIDS_ENTITY.match(part)
        if match:
            entities[match.group(1)] = match.group(2)
    if len(parts) > 1 and not _BIDS_ENTITY.match(parts[-1]):
        entities["suffix"] = parts[-1]
    return entities


def _sidecar(path: Path) -> dict[str, Any]:
    name = path.name
    stem = name[: -len(".nii.gz")] if name.lower().endswith(".nii.gz") else path.stem
    sidecar = path.with_name(stem + ".json")
    if not sidecar.is_file():
        return {}
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def nifti_slice_axis(shape: Sequence[int], zooms: Sequence[float]) -> int:
    """Return the voxel axis (0, 1, 2) a NIfTI volume was most likely sliced along.

    The axis with the largest voxel size when one is over 10% larger than the others (thick slices),
    else the axis with the fewest voxels (a sagittal slab of a resampled 3D image).
    """
    zooms = [float(z) for z in zooms]
    thickest = int(np.argmax(zooms))
    others = [z for a, z in enumerate(zooms) if a != thickest]
    if zooms[thickest] > 1.1 * max(others):
        return thickest
    return int(np.argmin(shape))


def describe_nifti(path: Path) -> SeriesSummary:
    """Summarise a NIfTI file from its header, BIDS name and JSON sidecar (no voxels read)."""
    import nibabel as nib

    bids = parse_bids_name(path)
    sidecar = _sidecar(path)
    description = str(sidecar.get("SeriesDescription") or sidecar.get("ProtocolName") or "")
    summary = SeriesSummary(kind="nifti", uid=str(path), path=path, description=description or path.name, files=[path], bids=bids)
    # BIDS: one subject's session is one study; other NIfTI files of a folder count as one study.
    summary.study_uid = "_".join(f"{k}-{bids[k]}" for k in ("sub", "ses") if k in bids) or "NIfTI files"
    summary.patient_id = bids.get("sub", "")
    summary.series_number = int(sidecar["SeriesNumber"]) if isinstance(sidecar.get("SeriesNumber"), int) else None
    summary.modality = str(sidecar.get("Modality", "MR"))
    for key, attribute in (("EchoTime", "echo_time_ms"), ("RepetitionTime", "repetition_time_ms"), ("InversionTime", "inversion_time_ms")):
        value = _number(sidecar.get(key))
        if value is not None:
            setattr(summary, attribute, value * 1000.0)  # BIDS sidecars hold seconds
    summary.body_part = str(sidecar.get("BodyPartExamined", ""))
    summary.station = str(sidecar.get("StationName", ""))
    try:
        image = nib.load(str(path))
        shape = image.shape
        zooms = image.header.get_zooms()
        affine = image.affine
    except Exception as error:
        summary.problems.append(f"not a readable NIfTI file ({error})")
        return summary
    if len(shape) < 3 or (len(shape) > 3 and int(np.prod(shape[3:])) != 1):
        summary.problems.append(f"shape {shape} is not one 3D volume")
    if len(shape) >= 3:
        summary.spacing_mm = tuple(float(z) for z in zooms[:3])  # type: ignore[assignment]
        slice_axis = nifti_slice_axis(shape[:3], zooms[:3])
        in_plane = [a for a in range(3) if a != slice_axis]
        summary.columns, summary.rows, summary.n_slices = int(shape[in_plane[0]]), int(shape[in_plane[1]]), int(shape[slice_axis])
        direction = np.asarray(affine[:3, slice_axis], dtype=float)
        if np.linalg.norm(direction) > 0:
            summary.orientation = plane_of_normal(direction)[0]
        corners = np.array([[i, j, k, 1] for i in (0, shape[0] - 1) for j in (0, shape[1] - 1) for k in (0, shape[2] - 1)], dtype=float)
        z = (corners @ affine.T)[:, 2]
        summary.si_range_mm = (float(z.min()), float(z.max()))
    suffix = bids.get("suffix", "")
    by_suffix = {"T1w": "T1", "T2w": "T2", "PDw": "PD", "FLAIR": "FLAIR", "T2starw": "T2*", "dwi": "DWI", "STIR": "STIR"}.get(suffix)
    if suffix in _BIDS_NEVER_A_ROLE:
        summary.excluded = f"{_BIDS_NEVER_A_ROLE[suffix]} (BIDS suffix {suffix})"
    words = " ".join(t for t in (description, bids.get("acq", ""), bids.get("desc", "")) if t)
    if by_suffix:
        summary.weighting = by_suffix
        summary.reasons.append(f"BIDS suffix {suffix}")
    else:
        summary.weighting, reasons = guess_weighting(
            words or path.name, "", summary.echo_time_ms, summary.repetition_time_ms, summary.inversion_time_ms
        )
        summary.reasons.extend(reasons)
    agent = str(sidecar.get("ContrastBolusAgent") or sidecar.get("ContrastBolusIngredient") or "")
    summary.contrast, reasons = guess_contrast(words, agent, bids.get("ce", ""))
    if summary.contrast is None and by_suffix:
        summary.contrast, reasons = False, ["BIDS name has no ce- entity"]
    summary.reasons.extend(reasons)
    summary.region = _region(words, summary.body_part, path.name)
    summary.localizer = bool(_LOCALIZER_WORDS.search(words))
    return summary


def load_series(summary: SeriesSummary, progress: ProgressCallback | None = None):
    """Load one found series as a volumes.Volume (DICOM headers already read are reused). Raises VolumeLoadError."""
    if summary.kind == "nifti":
        return load_nifti(summary.path)
    return load_dicom_series(summary.files, headers=summary.headers, source=f"{summary.path} ({summary.label})", progress=progress)
