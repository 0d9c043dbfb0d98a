"""Case JSON <-> DICOM Comprehensive 3D SR (TID 1500 Measurement Report), for filing reads in PACS.

The SR is what viewers show: QuantitativeReporting (3D Slicer) and OHIF draw each measured line,
dcmqi and highdicom read every lesion's measurements, and generic SR views show coded content only.
Content layout: ``sr_write``; codes: ``sr_codes``; where a line lies on an image: ``sr_geometry``;
the private case supplement (what only ISCMAssist needs, outside the content tree): ``sr_private``;
reading back: ``sr_read``.

Round trip (``sr_to_case(case_to_sr(case, ...)) == case``) is exact for every valid case: the
supplement holds what has no coded home (schema_version, case_id, reader, tool, series roles,
clinical (Table 1), notes, provenance, key order, absent vs null, exact float64 coordinates); a
value the supplement marks as coded is read from the coded content, so an SR whose values were
edited elsewhere is honoured. An SR with no supplement (stripped by a PACS, or written by another
tool in this layout) gives a case from the coded content alone (README, DICOM SR, lists the cost).

A *final* read (``final=True``) is COMPLETE and VERIFIED, with the reader as verifying observer and
the verification time; ``predecessor`` (the SR a changed read replaces) goes in the Predecessor
Documents Sequence. The SR carries the patient and study of its source images (copied by
highdicom), as PACS needs; ``sr_to_case`` never copies them into the case.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import __version__, sr_codes
from .case import validate_case
from .sr_geometry import PlaneFinder, image_planes
from .sr_private import attach_supplement
from .sr_read import read_sr, sr_to_case
from .sr_sources import (ProgressCallback, SRError, SRSourceError, evidence_copy, frame_of_reference,
                         one_per_series, read_source_headers)
from .sr_write import ContentWriter, qualitative_container, supplement_case, tracking_uid

__all__ = ["SRError", "SRSourceError", "MAX_LESIONS", "case_to_sr", "write_sr", "read_sr", "sr_to_case",
           "read_source_headers", "refuse_overwriting_verified", "is_verified", "export_path", "tracking_uid"]

COMPREHENSIVE_3D_SR = "1.2.840.10008.5.1.4.1.1.88.34"
DEFAULT_SERIES_NUMBER = 901
SERIES_DESCRIPTION = "ISCMAssist ISCM measurements (research use only)"
#: More lesions than this in one read is refused: the study's most in one patient was far fewer.
MAX_LESIONS = 200
DEFAULT_ORGANIZATION = "ISCMAssist research read"
UNNAMED_READER = "Unnamed^Reader"


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
    final: bool = False,
    verifying_organization: str = DEFAULT_ORGANIZATION,
    predecessor: Any = None,
) -> Any:
    """Take a case dict (validated here) and its source images; return the SR as a pydicom Dataset.

    ``sources``: pydicom Datasets and/or folders of the series read (their headers give the patient,
    study, referenced images, the image planes lines are drawn on and, unless
    ``frame_of_reference_uid`` is given, the frame of reference of 3D lines: the T2 sagittal
    series' if the case names it, else the first image's). UIDs of the SR series/instance are new
    unless given. ``final``: COMPLETE + VERIFIED (needs a reader name, the verifying observer).
    ``predecessor``: the SR (Dataset or path) this one replaces. ``progress(done, total)`` follows
    the reading of source files.
    Raises CaseValidationError (a ValueError) for an invalid case, SRError for a case the SR cannot
    hold (too many lesions, lines with no frame of reference, final with no reader), SRSourceError
    for unusable sources.
    """
    import highdicom as hd
    from pydicom.uid import generate_uid

    lesions = case.get("lesions") if isinstance(case, dict) else None
    if isinstance(lesions, list) and len(lesions) > MAX_LESIONS:  # before the (slower) validation
        raise SRError(f"case {case.get('case_id')}: {len(lesions)} lesions; an SR holds at most {MAX_LESIONS}")
    validate_case(case)
    reader_name = (case.get("reader") or {}).get("name")
    if final and not reader_name:
        raise SRError(f"case {case['case_id']}: a final SR needs the reader's name (the verifying observer)")
    datasets = read_source_headers(sources, progress)
    evidence = [evidence_copy(d, full=index == 0) for index, d in enumerate(datasets)]
    writer = ContentWriter(case, PlaneFinder(image_planes(datasets)),
                           frame_of_reference_uid or frame_of_reference(case, evidence))
    report = hd.sr.MeasurementReport(
        observation_context=_observation_context(case),
        procedure_reported=sr_codes.PROCEDURE_REPORTED,
        imaging_measurements=writer.groups(),
        # highdicom's library entry reads top-level geometry, which multi-frame images lack
        referenced_images=[evidence_copy(d) for d in one_per_series(datasets)
                           if all(k in d for k in ("PixelSpacing", "ImagePositionPatient", "ImageOrientationPatient"))]
        or None,
    )
    root = report[0]
    evaluations = qualitative_container(case, writer.landmark_items())
    if evaluations.ContentSequence:  # an empty container is invalid (ContentSequence is type 1C)
        root.ContentSequence.append(evaluations)
    document = _document(root, evidence, reader_name, final, verifying_organization, predecessor,
                         series_instance_uid or generate_uid(), series_number,
                         sop_instance_uid or generate_uid(), instance_number)
    document.ContentSequence = root.ContentSequence  # the whole tree, built and checked by highdicom above
    attach_supplement(document, {"case": supplement_case(case), "lines_2d": writer.lines_2d})
    return document


def _document(root: Any, evidence: list, reader_name: Any, final: bool, organization: str, predecessor: Any,
              series_uid: str, series_number: int, sop_uid: str, instance_number: int) -> Any:
    """The Comprehensive 3D SR dataset around the report root (see case_to_sr for the flags)."""
    import highdicom as hd

    return hd.sr.Comprehensive3DSR(
        evidence=evidence,
        content=_outline(root),
        series_instance_uid=series_uid,
        series_number=series_number,
        sop_instance_uid=sop_uid,
        instance_number=instance_number,
        manufacturer="ISCMAssist project",
        manufacturer_model_name="ISCMAssist",
        software_versions=__version__,
        series_description=SERIES_DESCRIPTION,
        coding_schemes=[sr_codes.private_coding_scheme()],
        is_complete=True,
        is_final=final,
        is_verified=final,
        verifying_observer_name=_person_name(reader_name) if final else None,
        verifying_organization=organization if final else None,
        previous_versions=[_predecessor(predecessor)] if predecessor is not None else None,
        specific_character_set="ISO_IR 192",  # UTF-8: reader names and notes in any script
    )


def _outline(root: Any) -> Any:
    """The report root with only its first measurement group, for the SR constructor.

    highdicom's Comprehensive3DSR deep-copies and re-parses the whole content tree and searches it
    for references: that took ~0.3 s per lesion. The groups were already built (and checked) by
    highdicom's templates, and every image they reference is in the evidence, so the document is
    made from this outline and then given the whole tree.
    """
    import copy

    from pydicom import Dataset
    from pydicom.sequence import Sequence

    outline = Dataset()
    for element in root:
        if element.keyword != "ContentSequence":
            outline.add(copy.deepcopy(element))
    items = []
    for item in root.ContentSequence:
        if item.ValueType == "CONTAINER" and item.ConceptNameCodeSequence[0].CodeValue == "126010":
            container = Dataset()
            for element in item:
                if element.keyword != "ContentSequence":
                    container.add(copy.deepcopy(element))
            container.ContentSequence = Sequence([item.ContentSequence[0]])
            items.append(container)
        else:
            items.append(item)
    outline.ContentSequence = Sequence(items)
    return outline


def refuse_overwriting_verified(path: str | os.PathLike) -> None:
    """Take the path an SR is about to be written to; raise SRError when a verified (final) SR is
    there: a finished read is never overwritten, its change goes to a new file that names it as
    predecessor. A missing or unreadable file passes."""
    if is_verified(path):
        raise SRError(f"{path}: is a verified (final) SR; write the changed read to a new file "
                      f"that replaces it (export-sr --out NEW.dcm --replaces {path})")


def is_verified(path: str | os.PathLike) -> bool:
    """Take a file path; return whether it is a readable SR whose VerificationFlag is VERIFIED."""
    import pydicom

    if not os.path.isfile(path):
        return False
    try:
        return pydicom.dcmread(path, stop_before_pixels=True).get("VerificationFlag") == "VERIFIED"
    except Exception:  # not an SR that can be read
        return False


def export_path(folder: str | os.PathLike, case_id: str) -> tuple[Path, Path | None]:
    """Take an export folder and a case id; return (SR path to write, the SR it replaces or None).

    For the panels' Export: ``<case>_sr.dcm``, then ``<case>_sr_v2.dcm``, ``_v3`` ... A preliminary
    SR is rewritten in place; after a verified (final) one the next version is a new file that
    names it as predecessor, so a finished read is never overwritten.
    """
    folder = Path(folder)
    versions = [folder / f"{case_id}_sr.dcm"]
    while versions[-1].exists():
        versions.append(folder / f"{case_id}_sr_v{len(versions) + 1}.dcm")
    existing = versions[:-1]
    if existing and not is_verified(existing[-1]):
        before = existing[-2] if len(existing) > 1 else None
        return existing[-1], before
    return versions[-1], existing[-1] if existing else None


def _predecessor(predecessor: Any) -> Any:
    import pydicom

    if isinstance(predecessor, pydicom.Dataset):
        return predecessor
    dataset = read_sr(predecessor)
    if str(dataset.get("Modality", "")) != "SR":
        raise SRError(f"{predecessor}: the SR to replace is not an SR (Modality {dataset.get('Modality', 'missing')})")
    return dataset


def write_sr(
    case: dict,
    series_folders: Iterable[Any],
    path: str | os.PathLike,
    progress: ProgressCallback | None = None,
    **options: Any,
) -> Any:
    """Take a case, its source series (folders or Datasets) and an output path; write the SR file.

    The file (DICOM Part 10, explicit VR little endian) is written atomically; ``options`` go to
    case_to_sr. A verified (final) SR at ``path`` is never overwritten (SRError; see
    refuse_overwriting_verified). Returns the written Dataset. Raises FileWriteError (OSError)
    naming the path.
    """
    from io import BytesIO

    from .files import atomic_write_bytes

    refuse_overwriting_verified(path)
    document = case_to_sr(case, series_folders, progress=progress, **options)
    buffer = BytesIO()
    document.save_as(buffer, enforce_file_format=True)
    atomic_write_bytes(path, buffer.getvalue())
    return document


def _observation_context(case: dict) -> Any:
    import highdicom as hd

    reader_name = (case.get("reader") or {}).get("name")
    tool = case.get("tool") or {}
    # Always a person observer: QuantitativeReporting names its line markups after it (and fails
    # without one); a read with no reader name says so.
    person = hd.sr.ObserverContext(
        observer_type=sr_codes.OBSERVER_PERSON,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
            name=_person_name(reader_name or UNNAMED_READER)),
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


