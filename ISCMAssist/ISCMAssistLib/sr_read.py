"""DICOM SR (the layout of ``sr_write``) -> case JSON, and reading SR files safely.

A damaged or truncated file gives one SRError naming the file: every element is decoded while
reading (pydicom defers that otherwise), the content tree must be complete, and the private
supplement records how many content items were written (``sr_private``).
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from . import sr_codes
from .case import LESION_FEATURES, PATIENT_FEATURES, SIZE_AXES, new_case, new_lesion, validate_case
from .sr_geometry import image_to_lps
from .sr_private import CODED, read_supplement
from .sr_sources import SRError, SRSourceError
from .sr_write import NO_LESION_IDENTIFIER, landmark_code
from .vertebrae import levels_spanned_text

_SR_CLASSES = ("1.2.840.10008.5.1.4.1.1.88.34", "1.2.840.10008.5.1.4.1.1.88.33")
_LINE_KEYS = {label: key for key, label in sr_codes.LINE_LABELS.items()}
_NOT_READABLE = "not a complete DICOM file (cut short or damaged"
_LESION_ID_RE = re.compile(r"^L[1-9][0-9]*$")


def read_sr(path: str | os.PathLike) -> Any:
    """Take an SR file path; return its pydicom Dataset, every element decoded.

    Raises SRSourceError when the file is missing or unreadable, SRError naming the file when it is
    not DICOM, is cut short or damaged.
    """
    import pydicom

    try:
        dataset = pydicom.dcmread(os.fspath(path))
        _decode_all(dataset)
    except FileNotFoundError:
        raise SRSourceError(f"{path}: file does not exist") from None
    except IsADirectoryError:
        raise SRSourceError(f"{path}: is a folder, not an SR file") from None
    except pydicom.errors.InvalidDicomError as error:
        raise SRError(f"{path}: not a DICOM file ({error})") from None
    except OSError as error:
        raise SRSourceError(f"{path}: cannot read: {error.strerror or error}") from None
    except Exception as error:  # pydicom raises many kinds on a cut or damaged file
        raise SRError(f"{path}: {_NOT_READABLE}: {type(error).__name__}: {error})") from None
    return dataset


def _decode_all(dataset: Any) -> None:
    """Convert every raw element (recursively) so that a damaged value fails here, not later."""
    for element in dataset.iterall():
        _ = element.value


def sr_to_case(dataset_or_path: Any) -> dict:
    """Take an SR written by case_to_sr (a pydicom Dataset or a file path); return the case dict.

    The case is validated (case.validate_case) before it is returned; no patient identity from the
    SR header is copied into it. Raises SRError naming the file (and the content item) when the SR
    is cut short or damaged, is not a TID 1500 measurement report, or holds a value the case JSON
    cannot take.
    """
    import pydicom

    if isinstance(dataset_or_path, pydicom.Dataset):
        dataset, where = dataset_or_path, "SR"
    else:
        dataset, where = read_sr(dataset_or_path), str(dataset_or_path)
    if str(dataset.get("SOPClassUID", "")) not in _SR_CLASSES:
        raise SRError(f"{where}: not a Comprehensive (3D) SR (SOP class {dataset.get('SOPClassUID', 'missing')})")
    if "ContentSequence" not in dataset or not _is_concept(dataset, "126000", "DCM"):
        raise SRError(f"{where}: the root is not a complete TID 1500 Imaging Measurement Report "
                      "(no content tree: file cut short, or another kind of SR)")
    supplement = read_supplement(dataset, where)
    try:
        case = _decode(dataset, supplement, where)
    except KeyError as error:
        raise SRError(f"{where}: unknown code {error.args[0]}") from None
    except (AttributeError, IndexError, TypeError, ValueError) as error:
        if isinstance(error, SRError):
            raise
        raise SRError(f"{where}: a content item is incomplete ({type(error).__name__}: {error})") from None
    try:
        validate_case(case)
    except ValueError as error:
        raise SRError(f"{where}: the case read from the SR is not valid: {error}") from None
    return case


def _concept(item: Any) -> Any:
    sequence = item.get("ConceptNameCodeSequence")
    return sequence[0] if sequence else None


def _code_key(item: Any) -> tuple[str, str]:
    value = item.get("CodeValue") or item.get("LongCodeValue") or item.get("URNCodeValue") or ""
    return str(value), str(item.get("CodingSchemeDesignator", ""))


def _is(item: Any, code: Any) -> bool:
    concept = _concept(item)
    return concept is not None and _code_key(concept) == (str(code.value), str(code.scheme_designator))


def _is_concept(item: Any, value: str, scheme: str) -> bool:
    concept = _concept(item)
    return concept is not None and _code_key(concept) == (value, scheme)


class _Code:
    __slots__ = ("value", "scheme_designator", "meaning")

    def __init__(self, item: Any) -> None:
        self.value, self.scheme_designator = _code_key(item)
        self.meaning = str(item.get("CodeMeaning", ""))


def _value_code(item: Any) -> _Code:
    return _Code(item.ConceptCodeSequence[0])


def _children(item: Any) -> list:
    return list(item.get("ContentSequence") or [])


def _numeric(item: Any) -> int | float | None:
    """A NUM item's value (None for a NUM with no value): float64 when FloatingPointValue is there
    (case_to_sr writes it for floats), else the DS as an int when it is integral, else a float."""
    if not item.get("MeasuredValueSequence"):
        return None
    measured = item.MeasuredValueSequence[0]
    if "FloatingPointValue" in measured:
        return float(measured.FloatingPointValue)
    value = float(measured.NumericValue)
    return int(value) if value.is_integer() else value


def _decode(dataset: Any, supplement: dict | None, where: str) -> dict:
    coded_findings, landmarks, groups = _decode_report(dataset, where)
    if supplement is None:
        case = new_case("sr-import")
        case["reader"] = {"name": None, "read_at": None}
        if landmarks:
            case["levels"] = {"landmarks": landmarks, "source": "landmarks"}
        base_lesions: list[dict] = []
        lines_2d: dict = {}
    else:
        case = supplement["case"]
        base_lesions = case.get("lesions") or []
        lines_2d = supplement.get("lines_2d") or {}
    if coded_findings or isinstance(case.get("patient_findings"), dict):
        findings = case.setdefault("patient_findings", {})
        for field in [f.name for f in PATIENT_FEATURES]:
            _merge(findings, field, coded_findings, supplement is not None)
    by_id = {lesion.get("id"): lesion for lesion in base_lesions}
    lesions = []
    for index, (lesion_id, coded) in enumerate(groups.items(), start=1):
        lesion = by_id.pop(lesion_id, None)
        if lesion is None:
            if supplement is not None:
                raise SRError(f"{where}: lesion {lesion_id} is in the content tree but not in the ISCMAssist supplement")
            # another tool's tracking identifier ("Cornerstone3DTools@^0.1.0:Length"): number it
            lesion = new_lesion(lesion_id if _LESION_ID_RE.match(lesion_id) else f"L{index}")
        _merge_lesion(lesion, coded, supplement is not None, lines_2d.get(lesion_id) or {}, where)
        lesions.append(lesion)
    if by_id:
        raise SRError(f"{where}: lesion {', '.join(map(str, by_id))} of the supplement has no group in the content tree")
    case["lesions"] = lesions
    _check_no_markers(case, where)
    return case


def _merge_lesion(lesion: dict, coded: dict, has_supplement: bool, lines_2d: dict, where: str) -> None:
    for field in [f.name for f in LESION_FEATURES]:
        if field == "levels" and lesion.get("levels") not in (None, CODED):
            continue  # a levels text the vertebra sites cannot spell (e.g. "T4-T4") kept verbatim
        if field == "size_mm":
            _merge_sizes(lesion, coded.get("size_mm", {}), has_supplement)
        else:
            _merge(lesion, field, coded, has_supplement)
    _merge_lines(lesion, coded.get("lines_lps", {}), lines_2d, has_supplement)


def _decode_report(dataset: Any, where: str) -> tuple[dict, list, dict]:
    """(patient findings, landmarks, {lesion id: coded lesion}) from the content tree."""
    findings: dict[str, Any] = {}
    sites: list[str] = []
    landmarks: list[dict] = []
    groups: dict[str, dict] = {}
    for item in _children(dataset):
        if _is(item, sr_codes.QUALITATIVE_EVALUATIONS):
            for child in _children(item):
                if _is(child, sr_codes.LEPTOMENINGEAL_SITE):
                    sites.append(sr_codes.decode(sr_codes.LEPTOMENINGEAL_SITE_VALUES, _value_code(child)))
                elif _is(child, sr_codes.LANDMARK):
                    landmark = _decode_landmark(child)
                    if landmark is not None:
                        landmarks.append(landmark)
                elif child.ValueType == "TEXT" and _is_concept(child, "CASE-SUPPLEMENT", sr_codes.PRIVATE_SCHEME):
                    raise SRError(f"{where}: written by an earlier ISCMAssist (its case JSON sits in the content "
                                  "tree); export it again from its case JSON with this version")
                elif child.ValueType == "CODE":
                    for field, (name, table) in sr_codes.PATIENT_EVALUATIONS.items():
                        if _is(child, name):
                            findings[field] = sr_codes.decode(table, _value_code(child))
        elif item.ValueType == "CONTAINER" and _is_concept(item, "126010", "DCM"):
            for group in _children(item):
                if group.ValueType == "CONTAINER":
                    _decode_group(group, groups, where)
    if sites:
        findings["leptomeningeal_sites"] = sites
    return findings, landmarks, groups


def _decode_landmark(item: Any) -> dict | None:
    """A landmark CODE item -> {"label", "position_lps"} when its point is 3D (2D points need the image)."""
    code = _value_code(item)
    label = None
    for candidate in [*_vertebra_labels(), *_disc_labels(), "conus"]:
        known = landmark_code(candidate)
        if known is not None and sr_codes.same_code(known, code):
            label = candidate
            break
    for child in _children(item):
        if label and child.ValueType == "SCOORD3D":
            return {"label": label, "position_lps": [float(v) for v in child.GraphicData[:3]]}
    return None


def _vertebra_labels() -> list[str]:
    from .vertebrae import LEVEL_NAMES

    return list(LEVEL_NAMES)


def _disc_labels() -> list[str]:
    from .vertebrae import LEVEL_NAMES

    return [f"{a}/{b}" for a, b in zip(LEVEL_NAMES, LEVEL_NAMES[1:])]


def _group_identity(group: Any, where: str) -> tuple[str, str] | None:
    """(lesion id, line key or "" for the lesion group) from the tracking identifier; None for the
    "no ISCM" group."""
    text = None
    for item in _children(group):
        if item.ValueType == "TEXT" and _is_concept(item, "112039", "DCM"):
            text = str(item.TextValue)
    if text is None:
        raise SRError(f"{where}: a measurement group has no tracking identifier")
    if text == NO_LESION_IDENTIFIER:
        return None
    if text.startswith(sr_codes.OHIF_LENGTH_TRACKING + ":"):
        text = text[len(sr_codes.OHIF_LENGTH_TRACKING) + 1:]
    lesion_id, _, label = text.partition(" ")
    if label and label not in _LINE_KEYS:
        raise SRError(f"{where}: tracking identifier {text!r} names no lesion line")
    return lesion_id, _LINE_KEYS.get(label, "")


def _decode_group(group: Any, groups: dict, where: str) -> None:
    identity = _group_identity(group, where)
    if identity is None:
        return
    lesion_id, key = identity
    coded = groups.setdefault(lesion_id, {"size_mm": {}, "lines_lps": {}})
    lengths = [item for item in _children(group)
               if item.ValueType == "NUM" and any(_is(item, code) for code in sr_codes.LENGTH_CODES)]
    for item in lengths[:1]:
        value, points = _numeric(item), _coordinates_of(item, where)
        axis = key or "si"
        if axis in SIZE_AXES and value is not None:
            coded["size_mm"][axis] = value
        if points is not None:
            coded["lines_lps"][axis] = points
    if key:
        return
    vertebrae: list[int] = []
    for item in _children(group):
        if item.ValueType == "CODE" and _is_concept(item, "363698007", "SCT"):
            vertebrae += _site_vertebrae(item)
        elif item.ValueType == "NUM":
            for field, (code, _unit) in sr_codes.SEGMENT_MEASUREMENTS.items():
                if _is(item, code) and _numeric(item) is not None:
                    coded[field] = _numeric(item)
        elif item.ValueType == "CODE":
            for field, (name, table) in sr_codes.LESION_EVALUATIONS.items():
                if _is(item, name):
                    coded[field] = sr_codes.decode(table, _value_code(item))
    if vertebrae:
        coded["levels"] = levels_spanned_text(min(vertebrae), max(vertebrae))


def _site_vertebrae(site: Any) -> list[int]:
    numbers = []
    for modifier in _children(site):
        if modifier.ValueType == "CODE" and _is(modifier, sr_codes.TOPOGRAPHICAL_MODIFIER):
            value = _value_code(modifier)
            numbers += [n for n, code in sr_codes.VERTEBRA_CODES.items() if sr_codes.same_code(code, value)]
    return numbers


def _coordinates_of(item: Any, where: str) -> Any:
    """A NUM's line: 3D points [[x, y, z], [x, y, z]] (LPS mm), or {"scoord": [c1, r1, c2, r2]} for a
    2D SCOORD (placed in LPS with the supplement's image plane), or None."""
    for child in _children(item):
        data = [float(v) for v in child.get("GraphicData") or []]
        if child.ValueType == "SCOORD3D":
            points = [data[i:i + 3] for i in range(0, len(data), 3)]
        elif child.ValueType == "SCOORD":
            points = [data[i:i + 2] for i in range(0, len(data), 2)]
        else:
            continue
        if len(points) != 2:
            raise SRError(f"{where}: a lesion line has {len(points)} points; expected 2")
        return points if child.ValueType == "SCOORD3D" else {"scoord": data}
    return None


def _merge(record: dict, field: str, coded: dict, has_supplement: bool) -> None:
    """With a supplement, a field it marks CODED takes the coded value (None when there is none) and
    every other field keeps the supplement's value; without one, coded values are taken."""
    if not has_supplement:
        if field in coded:
            record[field] = coded[field]
    elif record.get(field) == CODED:
        record[field] = coded.get(field)


def _merge_sizes(lesion: dict, coded: dict, has_supplement: bool) -> None:
    sizes = lesion.get("size_mm")
    if not has_supplement and not coded:
        return
    if not isinstance(sizes, dict):
        if has_supplement:
            return
        sizes = lesion["size_mm"] = {axis: None for axis in SIZE_AXES}
    for axis in SIZE_AXES:
        _merge(sizes, axis, coded, has_supplement)


def _merge_lines(lesion: dict, coded: dict, lines_2d: dict, has_supplement: bool) -> None:
    """Exact supplement lines where the SR still holds what was written, else the SR's own lines
    (2D ones placed with the supplement's plane; without a plane a 2D line cannot be placed)."""
    exact = lesion.get("lines_lps") if isinstance(lesion.get("lines_lps"), dict) else None
    if not coded and (exact is None or not has_supplement):
        return
    lines = {}
    for key, points in coded.items():
        kept = (exact or {}).get(key)
        if isinstance(points, dict):  # 2D SCOORD
            record = lines_2d.get(key)
            if record is None:
                continue
            if kept is not None and np.array_equal(np.float32(record["scoord"]), np.float32(points["scoord"])):
                lines[key] = kept
            else:
                lines[key] = image_to_lps(record["plane"], np.reshape(points["scoord"], (-1, 2)))
        elif kept is not None and np.array_equal(np.float32(kept), np.float32(points)):
            lines[key] = kept
        else:
            lines[key] = points
    if exact is not None:  # keep the supplement's key order
        lines = {key: lines[key] for key in exact if key in lines} | lines
    if lines or exact is not None:
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
