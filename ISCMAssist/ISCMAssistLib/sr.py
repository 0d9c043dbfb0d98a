"""Case JSON <-> DICOM Comprehensive 3D SR (TID 1500 Measurement Report), for filing reads in PACS.

Document layout (codes in ``sr_codes``):

- Root: TID 1500 "Imaging Measurement Report", procedure "MRI Spine Report" (LN 18756-7), observer
  context (the reader as person, ISCMAssist as device), image library with the middle image of each
  source series; every source image is referenced in the evidence sequence.
- "Imaging Measurements": one TID 1501 group per lesion, tracking identifier = lesion id ("L1") and a
  tracking UID derived from case_id + lesion id (stable across re-exports of the same read); finding
  "Neoplasm, metastatic" at site "Spinal cord" plus one finding site per vertebra spanned (levels);
  SI / AP / transverse sizes (SCT Length / Depth / Width, mm) with their POLYLINE SCOORD3D (LPS mm,
  in the source images' FrameOfReferenceUID); a line with no size value, and the edema line always,
  as a private "line length" measurement (mm) with its polyline; enhancement and T2 lengths
  ({segments}) and their ratio (1); every non-null checklist feature as a qualitative evaluation
  (booleans as present/absent). Null features are omitted.
- "Qualitative Evaluations" container (TID 1500): the per-patient findings of Table 3 as CODE items,
  and one private TEXT item, the *case supplement*: the case JSON with every coded value replaced by
  the marker ``"<coded>"``. It carries what has no coded home: schema_version, case_id, reader,
  tool, series roles, level landmarks, clinical (Table 1), notes, provenance, key order, absent vs
  null, exact float64 line coordinates (SCOORD3D holds float32) and empty site lists.

Round trip (``sr_to_case(case_to_sr(case, ...)) == case``) is exact for every valid case: numbers
are written as DS plus FloatingPointValue (float64) and ints stay ints; lines come back as the exact
float64 coordinates when they agree with the float32 SCOORD3D (else the SCOORD3D values win, so an
SR edited elsewhere is honoured); coded values win over the supplement (except a levels text the
vertebra sites cannot spell, such as "T4-T4", which the supplement keeps verbatim). An SR with no
supplement (written by another tool in this layout) gives a case with default sections, lesion ids
from the tracking identifiers and no provenance.

The SR carries the patient and study of its source images (copied by highdicom), as PACS needs;
``sr_to_case`` never copies them into the case.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__, sr_codes
from .case import LESION_FEATURES, PATIENT_FEATURES, SIZE_AXES, new_case, new_lesion, validate_case
from .vertebrae import level_number, levels_spanned_text

CODED = "<coded>"
SUPPLEMENT_FORMAT = "iscm-assist-sr-supplement"
SUPPLEMENT_VERSION = 1
COMPREHENSIVE_3D_SR = "1.2.840.10008.5.1.4.1.1.88.34"
DEFAULT_SERIES_NUMBER = 901
SERIES_DESCRIPTION = "ISCMAssist ISCM measurements (research use only)"
_LESION_ID_RE = re.compile(r"^L[1-9][0-9]*$")
_LEVELS_RE = re.compile(r"^([CTLS]\d{1,2})(?:-([CTLS]\d{1,2}))?$")

from .progress import ProgressCallback


class SRError(ValueError):
    """Case or SR content that cannot be converted; the message names the file/field and the problem."""


class SRSourceError(OSError):
    """Source images for an SR that cannot be read (missing folder, no DICOM, mixed patients)."""


# --------------------------------------------------------------------------------------------
# sources


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


def _evidence_copy(dataset: Any, full: bool = True) -> Any:
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


def _one_per_series(datasets: Sequence[Any]) -> list[Any]:
    """The middle image (by InstanceNumber) of each series, for the SR's image library."""
    by_series: dict[str, list[Any]] = {}
    for dataset in datasets:
        by_series.setdefault(str(dataset.get("SeriesInstanceUID", "")), []).append(dataset)
    chosen = []
    for members in by_series.values():
        members = sorted(members, key=lambda d: int(d.get("InstanceNumber") or 0))
        chosen.append(members[len(members) // 2])
    return chosen


def _frame_of_reference(case: dict, datasets: Sequence[Any]) -> str | None:
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


# --------------------------------------------------------------------------------------------
# writing


def tracking_uid(case_id: str, lesion_id: str) -> str:
    """Take a case id and a lesion id; return the lesion's tracking UID (same inputs, same UID)."""
    from pydicom.uid import generate_uid

    return str(generate_uid(entropy_srcs=["ISCMAssist tracking", str(case_id), str(lesion_id)]))


def case_to_sr(
    case: dict,
    sources: Iterable[Any],
    *,
    frame_of_reference_uid: str | None = None,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    series_number: int = DEFAULT_SERIES_NUMBER,
    instance_number: int = 1,
    progress: ProgressCallback | None = None,
) -> Any:
    """Take a case dict (validated here) and its source images; return the SR as a pydicom Dataset.

    ``sources``: pydicom Datasets and/or folders of the series read (their headers give the patient,
    study, referenced images and, unless ``frame_of_reference_uid`` is given, the frame of reference
    of the lines: the T2 sagittal series' if the case names it, else the first image's). UIDs of the
    SR series/instance are new unless given. Lines (case LPS mm) are written as LPS mm.
    ``progress(done, total)`` follows the reading of source files.
    Raises CaseValidationError (a ValueError) for an invalid case, SRError when the lines have no
    frame of reference, SRSourceError for unusable sources.
    """
    import highdicom as hd
    from pydicom.uid import generate_uid

    validate_case(case)
    datasets = read_source_headers(sources, progress)
    evidence = [_evidence_copy(d, full=index == 0) for index, d in enumerate(datasets)]
    library = [_evidence_copy(d) for d in _one_per_series(datasets)]
    has_lines = any(lesion.get("lines_lps") for lesion in case["lesions"])
    for_uid = frame_of_reference_uid or _frame_of_reference(case, evidence)
    if has_lines and not for_uid:
        raise SRError("source images: no FrameOfReferenceUID, so the lesion lines cannot be placed in the SR")

    groups = [_lesion_group(case["case_id"], lesion, for_uid) for lesion in case["lesions"]]
    observer_context = _observation_context(case)
    report = hd.sr.MeasurementReport(
        observation_context=observer_context,
        procedure_reported=sr_codes.PROCEDURE_REPORTED,
        # highdicom wants >= 1 group; a read with no lesion drops the container again below
        imaging_measurements=groups or [_lesion_group(case["case_id"], {"id": "L1"}, for_uid)],
        referenced_images=library,
    )
    root = report[0]
    if not groups:  # TID 1500: Imaging Measurements may be absent when Qualitative Evaluations is present
        root.ContentSequence = [item for item in root.ContentSequence if not _is_concept(item, "126010", "DCM")]
    root.ContentSequence.append(_qualitative_container(case))

    document = hd.sr.Comprehensive3DSR(
        evidence=evidence,
        content=root,
        series_instance_uid=series_instance_uid or generate_uid(),
        series_number=series_number,
        sop_instance_uid=sop_instance_uid or generate_uid(),
        instance_number=instance_number,
        manufacturer="ISCMAssist project",
        manufacturer_model_name="ISCMAssist",
        software_versions=__version__,
        series_description=SERIES_DESCRIPTION,
        coding_schemes=[sr_codes.private_coding_scheme()],
        is_complete=True,
        specific_character_set="ISO_IR 192",  # UTF-8: reader names and notes in any script
    )
    return document


def write_sr(
    case: dict,
    series_folders: Iterable[Any],
    path: str | os.PathLike,
    progress: ProgressCallback | None = None,
    **options: Any,
) -> Any:
    """Take a case, its source series (folders or Datasets) and an output path; write the SR file.

    The file (DICOM Part 10, explicit VR little endian) is written atomically; ``options`` go to
    case_to_sr. Returns the written Dataset. Raises FileWriteError (OSError) naming the path.
    """
    from io import BytesIO

    from .files import atomic_write_bytes

    document = case_to_sr(case, series_folders, progress=progress, **options)
    buffer = BytesIO()
    document.save_as(buffer, enforce_file_format=True)
    atomic_write_bytes(path, buffer.getvalue())
    return document


def _observation_context(case: dict) -> Any:
    import highdicom as hd

    reader_name = (case.get("reader") or {}).get("name")
    tool = case.get("tool") or {}
    person = None
    if reader_name:
        person = hd.sr.ObserverContext(
            observer_type=sr_codes.OBSERVER_PERSON,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name=_person_name(reader_name)),
        )
    tool_name = str(tool.get("name") or "ISCMAssist")
    tool_version = str(tool.get("version") or __version__)
    device = hd.sr.ObserverContext(
        observer_type=sr_codes.OBSERVER_DEVICE,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=tracking_uid("device", f"{tool_name} {tool_version}"),
            name=tool_name,
            model_name=tool_version,
        ),
    )
    return hd.sr.ObservationContext(observer_person_context=person, observer_device_context=device)


def _person_name(name: Any) -> str:
    """A DICOM PN for a reader name: "Doe^Jane" stays, a one-word name such as "reader1" gets a caret.

    Backslash and "=" (PN delimiters) become "/" and "-", the name is cut to 64 bytes of UTF-8 (the
    PN limit, which dciodvfy checks in bytes); the exact name travels in the case supplement.
    """
    text = "^".join(str(name).strip().replace("\\", "/").replace("=", "-").split("^")[:5])
    if "^" not in text:
        text += "^"
    while len(text.encode("utf-8")) > 64:
        text = text[:-2] + "^" if text.endswith("^") and text.count("^") == 1 else text[:-1]
    return text


def _levels_range(text: Any) -> tuple[int, int] | None:
    """Parse "T4" / "T4-T6" into (first, last) level numbers, or None when it is not that shape."""
    if not isinstance(text, str):
        return None
    match = _LEVELS_RE.match(text.strip())
    if not match:
        return None
    try:
        first = level_number(match.group(1))
        last = level_number(match.group(2) or match.group(1))
    except ValueError:
        return None
    return (first, last) if first <= last else None


def _polyline(points: Any, for_uid: str) -> Any:
    import highdicom as hd

    return hd.sr.CoordinatesForMeasurement3D(
        graphic_type=hd.sr.GraphicTypeValues3D.POLYLINE,
        graphic_data=np.asarray(points, dtype=float).reshape(-1, 3),
        frame_of_reference_uid=for_uid,
    )


def _number(value: Any) -> int | float:
    """Keep ints as ints (written as integer DS, read back as int) and everything else as float."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    return float(value)


def _lesion_group(case_id: str, lesion: dict, for_uid: str | None) -> Any:
    import highdicom as hd

    sites = [hd.sr.FindingSite(sr_codes.SITE_SPINAL_CORD)]
    spanned = _levels_range(lesion.get("levels"))
    if spanned:
        sites += [hd.sr.FindingSite(sr_codes.VERTEBRA_CODES[n]) for n in range(spanned[0], spanned[1] + 1)]

    lines = lesion.get("lines_lps") or {}
    sizes = lesion.get("size_mm") or {}
    measurements = []
    for axis in SIZE_AXES:
        value = sizes.get(axis)
        if value is None:
            continue
        coordinates = [_polyline(lines[axis], for_uid)] if axis in lines else None
        measurements.append(hd.sr.Measurement(
            name=sr_codes.SIZE_CODES[axis], value=_number(value), unit=sr_codes.UNIT_MM,
            referenced_coordinates=coordinates,
        ))
    for key, points in lines.items():
        if key in SIZE_AXES and sizes.get(key) is not None:
            continue  # already attached to its size
        length = float(np.linalg.norm(np.subtract(points[1], points[0])))
        measurements.append(hd.sr.Measurement(
            name=sr_codes.LINE_LENGTH_CODES[key], value=length, unit=sr_codes.UNIT_MM,
            referenced_coordinates=[_polyline(points, for_uid)],
        ))
    for field, (name, unit) in sr_codes.SEGMENT_MEASUREMENTS.items():
        if lesion.get(field) is not None:
            measurements.append(hd.sr.Measurement(name=name, value=_number(lesion[field]), unit=unit))

    evaluations = []
    for field, (name, table) in sr_codes.LESION_EVALUATIONS.items():
        value = lesion.get(field)
        if value is not None:
            evaluations.append(hd.sr.QualitativeEvaluation(name=name, value=table[value]))

    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=tracking_uid(case_id, lesion["id"]), identifier=lesion["id"]
        ),
        finding_type=sr_codes.FINDING_TYPE,
        finding_sites=sites,
        measurements=measurements or None,
        qualitative_evaluations=evaluations or None,
    )


def _qualitative_container(case: dict) -> Any:
    import highdicom as hd

    container = hd.sr.ContainerContentItem(
        name=sr_codes.QUALITATIVE_EVALUATIONS, relationship_type="CONTAINS"
    )
    items = []
    findings = case.get("patient_findings") or {}
    for field, (name, table) in sr_codes.PATIENT_EVALUATIONS.items():
        if findings.get(field) is not None:
            items.append(hd.sr.CodeContentItem(name=name, value=table[findings[field]], relationship_type="CONTAINS"))
    for site in findings.get("leptomeningeal_sites") or []:
        items.append(hd.sr.CodeContentItem(
            name=sr_codes.LEPTOMENINGEAL_SITE, value=sr_codes.LEPTOMENINGEAL_SITE_VALUES[site],
            relationship_type="CONTAINS",
        ))
    items.append(hd.sr.TextContentItem(
        name=sr_codes.CASE_SUPPLEMENT, value=json.dumps(_supplement(case), separators=(",", ":")),
        relationship_type="CONTAINS",
    ))
    container.ContentSequence = hd.sr.ContentSequence(items)
    return container


def _supplement(case: dict) -> dict:
    """The case with every value that the coded content carries replaced by CODED."""
    rest = copy.deepcopy(case)
    for lesion in rest["lesions"]:
        canonical = _levels_range(lesion.get("levels"))
        if canonical and levels_spanned_text(*canonical) == lesion["levels"]:
            lesion["levels"] = CODED
        for field in list(sr_codes.LESION_EVALUATIONS) + list(sr_codes.SEGMENT_MEASUREMENTS):
            if lesion.get(field) is not None:
                lesion[field] = CODED
        sizes = lesion.get("size_mm")
        if isinstance(sizes, dict):
            for axis, value in sizes.items():
                if value is not None:
                    sizes[axis] = CODED
        # lines_lps stays: the exact float64 points (the SCOORD3D holds float32)
    findings = rest.get("patient_findings")
    if isinstance(findings, dict):
        for field in sr_codes.PATIENT_EVALUATIONS:
            if findings.get(field) is not None:
                findings[field] = CODED
        if findings.get("leptomeningeal_sites"):
            findings["leptomeningeal_sites"] = CODED
    return {"format": SUPPLEMENT_FORMAT, "version": SUPPLEMENT_VERSION, "case": rest}


# --------------------------------------------------------------------------------------------
# reading


def read_sr(path: str | os.PathLike) -> Any:
    """Take an SR file path; return its pydicom Dataset. Raises SRSourceError naming the file."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(os.fspath(path))
    except FileNotFoundError:
        raise SRSourceError(f"{path}: file does not exist") from None
    except (InvalidDicomError, EOFError, ValueError) as error:
        raise SRError(f"{path}: not a DICOM file ({error})") from None
    except OSError as error:
        raise SRSourceError(f"{path}: cannot read: {error.strerror or error}") from None


def sr_to_case(dataset_or_path: Any) -> dict:
    """Take an SR written by case_to_sr (a pydicom Dataset or a file path); return the case dict.

    The case is validated (case.validate_case) before it is returned; no patient identity from the
    SR header is copied into it. Raises SRError naming the file and the content item when the SR is
    not a TID 1500 measurement report or holds a value the case JSON cannot take.
    """
    import pydicom

    if isinstance(dataset_or_path, pydicom.Dataset):
        dataset, where = dataset_or_path, "SR"
    else:
        dataset, where = read_sr(dataset_or_path), str(dataset_or_path)
    if str(dataset.get("SOPClassUID", "")) not in (COMPREHENSIVE_3D_SR, "1.2.840.10008.5.1.4.1.1.88.33"):
        raise SRError(f"{where}: not a Comprehensive (3D) SR (SOP class {dataset.get('SOPClassUID', 'missing')})")
    if not _is_concept(dataset, "126000", "DCM"):
        raise SRError(f"{where}: the root is not a TID 1500 Imaging Measurement Report")
    try:
        case = _decode(dataset, where)
    except KeyError as error:
        raise SRError(f"{where}: unknown code {error.args[0]}") from None
    try:
        validate_case(case)
    except ValueError as error:
        raise SRError(f"{where}: the case read from the SR is not valid: {error}") from None
    return case


def _concept(item: Any) -> Any:
    sequence = item.get("ConceptNameCodeSequence")
    return sequence[0] if sequence else None


def _is(item: Any, code: Any) -> bool:
    concept = _concept(item)
    return concept is not None and sr_codes.same_code(_code_of(concept), code)


def _is_concept(item: Any, value: str, scheme: str) -> bool:
    concept = _concept(item)
    return concept is not None and (_code_of(concept).value, _code_of(concept).scheme_designator) == (value, scheme)


class _Code:
    __slots__ = ("value", "scheme_designator", "meaning")

    def __init__(self, value: str, scheme: str, meaning: str) -> None:
        self.value, self.scheme_designator, self.meaning = value, scheme, meaning


def _code_of(item: Any) -> _Code:
    value = item.get("CodeValue") or item.get("LongCodeValue") or item.get("URNCodeValue") or ""
    return _Code(str(value), str(item.get("CodingSchemeDesignator", "")), str(item.get("CodeMeaning", "")))


def _children(item: Any) -> list:
    return list(item.get("ContentSequence") or [])


def _numeric(item: Any) -> int | float:
    """A NUM item's value: float64 when FloatingPointValue is there (case_to_sr writes it for floats),
    else the DS as an int when it is integral (case_to_sr wrote an int), else a float."""
    measured = item.MeasuredValueSequence[0]
    if "FloatingPointValue" in measured:
        return float(measured.FloatingPointValue)
    value = float(measured.NumericValue)
    return int(value) if value.is_integer() else value


def _decode(dataset: Any, where: str) -> dict:
    supplement: dict | None = None
    coded_findings: dict[str, Any] = {}
    sites: list[str] = []
    groups: list[dict] = []
    for item in _children(dataset):
        if _is(item, sr_codes.QUALITATIVE_EVALUATIONS):
            for child in _children(item):
                if _is(child, sr_codes.CASE_SUPPLEMENT):
                    supplement = _load_supplement(str(child.TextValue), where)
                elif _is(child, sr_codes.LEPTOMENINGEAL_SITE):
                    sites.append(sr_codes.decode(sr_codes.LEPTOMENINGEAL_SITE_VALUES, _code_of(child.ConceptCodeSequence[0])))
                elif child.ValueType == "CODE":
                    for field, (name, table) in sr_codes.PATIENT_EVALUATIONS.items():
                        if _is(child, name):
                            coded_findings[field] = sr_codes.decode(table, _code_of(child.ConceptCodeSequence[0]))
        elif item.ValueType == "CONTAINER" and _is_concept(item, "126010", "DCM"):
            groups = [_decode_group(group, where) for group in _children(item)
                      if group.ValueType == "CONTAINER"]
    if sites:
        coded_findings["leptomeningeal_sites"] = sites

    if supplement is None:
        case = new_case("sr-import")
        case["reader"] = {"name": None, "read_at": None}
        base_lesions: list[dict] = []
    else:
        case = supplement
        base_lesions = case.get("lesions") or []

    if coded_findings or isinstance(case.get("patient_findings"), dict):
        findings = case.setdefault("patient_findings", {})
        for field in [f.name for f in PATIENT_FEATURES]:
            _merge(findings, field, coded_findings)

    by_id = {lesion.get("id"): lesion for lesion in base_lesions}
    lesions = []
    for index, coded in enumerate(groups, start=1):
        lesion_id = coded.pop("id")
        if not (lesion_id and _LESION_ID_RE.match(lesion_id)):
            lesion_id = f"L{index}"
        lesion = by_id.pop(lesion_id, None)
        if lesion is None:
            lesion = new_lesion(lesion_id)
        for field in [f.name for f in LESION_FEATURES]:
            if field == "levels" and lesion.get("levels") not in (None, CODED):
                continue  # a levels text the vertebra sites cannot spell (e.g. "T4-T4") kept verbatim
            if field == "size_mm":
                _merge_sizes(lesion, coded.get("size_mm", {}))
            else:
                _merge(lesion, field, coded)
        _merge_lines(lesion, coded.get("lines_lps", {}))
        lesions.append(lesion)
    case["lesions"] = lesions
    _check_no_markers(case, where)
    return case


def _load_supplement(text: str, where: str) -> dict:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise SRError(f"{where}: the case supplement text item is not JSON ({error})") from None
    if not isinstance(data, dict) or data.get("format") != SUPPLEMENT_FORMAT or not isinstance(data.get("case"), dict):
        raise SRError(f"{where}: the case supplement text item is not an ISCMAssist supplement")
    if data.get("version") != SUPPLEMENT_VERSION:
        raise SRError(f"{where}: case supplement version {data.get('version')!r} is not {SUPPLEMENT_VERSION}")
    return data["case"]


def _merge(record: dict, field: str, coded: dict) -> None:
    """Coded value wins; a CODED marker with no coded value becomes None; else the supplement stays."""
    if field in coded:
        record[field] = coded[field]
    elif record.get(field) == CODED:
        record[field] = None


def _merge_sizes(lesion: dict, coded: dict) -> None:
    sizes = lesion.get("size_mm")
    if not coded and not (isinstance(sizes, dict) and CODED in sizes.values()):
        return
    if not isinstance(sizes, dict):
        sizes = lesion["size_mm"] = {axis: None for axis in SIZE_AXES}
    for axis in SIZE_AXES:
        _merge(sizes, axis, coded)


def _merge_lines(lesion: dict, coded: dict) -> None:
    exact = lesion.get("lines_lps") if isinstance(lesion.get("lines_lps"), dict) else None
    if not coded:
        return
    lines = {}
    for key, points in coded.items():
        kept = (exact or {}).get(key)
        if kept is not None and np.array_equal(np.asarray(kept, dtype=np.float32), np.asarray(points, dtype=np.float32)):
            lines[key] = kept
        else:
            lines[key] = points
    if exact is not None:  # keep the supplement's key order
        lines = {key: lines[key] for key in exact if key in lines} | lines
    lesion["lines_lps"] = lines


def _check_no_markers(value: Any, where: str, path: str = "case") -> None:
    if value == CODED:
        raise SRError(f"{where}: {path} has no coded value although the supplement says it is coded")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_no_markers(item, where, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_no_markers(item, where, f"{path}[{index}]")


def _decode_group(group: Any, where: str) -> dict:
    """Return {"id": ..., field: value, "size_mm": {...}, "lines_lps": {...}} from one TID 1501 group."""
    coded: dict[str, Any] = {"id": None, "size_mm": {}, "lines_lps": {}}
    vertebrae: list[int] = []
    for item in _children(group):
        if _concept(item) is None:
            continue
        if item.ValueType == "TEXT" and _is_concept(item, "112039", "DCM"):
            coded["id"] = str(item.TextValue)
        elif item.ValueType == "CODE" and _is_concept(item, "363698007", "SCT"):
            site = _code_of(item.ConceptCodeSequence[0])
            for number, code in sr_codes.VERTEBRA_CODES.items():
                if sr_codes.same_code(code, site):
                    vertebrae.append(number)
        elif item.ValueType == "NUM":
            _decode_measurement(item, coded, where)
        elif item.ValueType == "CODE":
            for field, (name, table) in sr_codes.LESION_EVALUATIONS.items():
                if _is(item, name):
                    coded[field] = sr_codes.decode(table, _code_of(item.ConceptCodeSequence[0]))
    if vertebrae:
        coded["levels"] = levels_spanned_text(min(vertebrae), max(vertebrae))
    return coded


def _decode_measurement(item: Any, coded: dict, where: str) -> None:
    points = None
    for child in _children(item):
        if child.ValueType == "SCOORD3D":
            data = [float(v) for v in child.GraphicData]
            points = [data[i:i + 3] for i in range(0, len(data), 3)]
            if len(points) != 2:
                raise SRError(f"{where}: a lesion line has {len(points)} points; expected 2")
    for axis, code in sr_codes.SIZE_CODES.items():
        if _is(item, code):
            coded["size_mm"][axis] = _numeric(item)
            if points is not None:
                coded["lines_lps"][axis] = points
            return
    for key, code in sr_codes.LINE_LENGTH_CODES.items():
        if _is(item, code):
            if points is not None:
                coded["lines_lps"][key] = points
            return
    for field, (code, _unit) in sr_codes.SEGMENT_MEASUREMENTS.items():
        if _is(item, code):
            coded[field] = _numeric(item)
            return
