"""One case read as a plain dict: creation, the checklist fields, validation and provenance.
(Over 400 lines: the study's checklist table, read by the schema, panel, CSV and SR, and the value rules on it.)

The shape is fixed by ``schema/case.schema.json`` (JSON Schema draft 2020-12) and described in
docs/core-api.md. Coordinates in a case are LPS mm. Every feature may be ``None`` (not assessable).
``provenance[field]`` says who set a value: ``"derived"`` (the tool) or ``"reader"`` (typed or
overridden); recomputation never overwrites a ``"reader"`` value.
"""

from __future__ import annotations

import copy
import datetime as _dt
import functools
import importlib.resources
import json
import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from . import __version__

SCHEMA_VERSION = "1.1.0"
#: Older versions this schema still accepts; ``migrate_case`` brings them to SCHEMA_VERSION.
#: 1.1.0 added optional fields only (central_dot_sign, t2_length_mm, t2_to_enhancement_ratio_mm,
#: other_metastases_prior_mr, other_metastases_subsequent_mr, new_iscm_on_follow_up).
OLDER_SCHEMA_VERSIONS: tuple[str, ...] = ("1.0.0",)
SCHEMA_ID = f"urn:iscm-assist:schema:case:{SCHEMA_VERSION}"
READER = "reader"
DERIVED = "derived"


class CaseValidationError(ValueError):
    """A case dict that does not follow the schema; the message starts with the JSON path of the field.

    ``path`` holds the path text (e.g. ``"lesions[0].position"``, ``"case"`` for the top level).
    """

    def __init__(self, message: str, path: str = "case") -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class Feature:
    """One field of the reading form.

    name: key in the record; label: text for the panel/CSV/SR; kind: "enum", "boolean", "sizes"
    (an object of ap/transverse/si numbers), "integer", "number", "text" or "list" (list of enum values);
    values: allowed values for enum/list (True, False for boolean), else (); unit: "mm", "segments",
    "years", "weeks" or None; item: number of the study's checklist item (1-12) or None;
    derived: whether the tool can compute it from markups/levels/lesion count.
    """

    name: str
    label: str
    kind: str
    values: tuple = ()
    unit: str | None = None
    item: int | None = None
    derived: bool = False


_BOOL = (True, False)
SIZE_AXES: tuple[str, ...] = ("ap", "transverse", "si")

#: The per-lesion checklist in the study's order (items 2-12; item 1 is the per-patient multiplicity).
LESION_FEATURES: tuple[Feature, ...] = (
    Feature("levels", "Levels", "text", (), None, 11, True),
    Feature("location", "Location", "enum",
            ("cervical", "cervicothoracic", "thoracic", "thoracic_conus", "conus"), None, 2, True),
    Feature("position", "Position in the cord (axial)", "enum", ("central", "eccentric", "exophytic"), None, 3),
    Feature("origin", "Origin (eccentric/exophytic)", "enum", ("intramedullary", "possible_leptomeningeal"), None, 3),
    Feature("morphology", "Morphology", "enum", ("well_circumscribed", "ill_defined"), None, 4),
    Feature("cord_expansion", "Cord expansion", "boolean", _BOOL, None, 4),
    Feature("t2_signal", "T2 signal (vs cord)", "enum", ("hyperintense", "hypointense", "isointense"), None, 5),
    Feature("t1_signal", "T1 signal (vs cord)", "enum", ("hyperintense", "hypointense", "isointense"), None, 6),
    Feature("cystic_change", "Cystic change", "enum", ("absent", "intratumoral", "peritumoral", "both"), None, 7),
    Feature("hemorrhage", "Intratumoral hemorrhage", "boolean", _BOOL, None, 8),
    Feature("enhancement", "Enhancement", "enum",
            ("absent", "homogeneous", "heterogeneous", "peripheral_ring"), None, 9),
    Feature("size_mm", "Size of enhancing lesion", "sizes", (), "mm", 10, True),
    Feature("enhancement_length_segments", "Length of enhancement", "integer", (), "segments", 11, True),
    Feature("t2_length_segments", "Length of cord T2 hyperintensity", "integer", (), "segments", 12, True),
    Feature("t2_to_enhancement_ratio", "Ratio T2 length / enhancement length", "number", (), None, 12, True),
    Feature("t2_length_mm", "Length of cord T2 hyperintensity (mm)", "number", (), "mm", None, True),
    Feature("t2_to_enhancement_ratio_mm", "Ratio T2 length / enhancement length (mm)", "number", (), None, None, True),
    Feature("rim_sign", "Rim sign", "boolean", _BOOL),
    Feature("flame_sign", "Flame sign", "boolean", _BOOL),
    Feature("central_dot_sign", "Central dot sign", "boolean", _BOOL),
)

#: Per-patient findings (Table 3); item 1 of the checklist is the multiplicity.
PATIENT_FEATURES: tuple[Feature, ...] = (
    Feature("multiplicity", "Number of ISCMs", "enum", ("solitary", "multiple"), None, 1, True),
    Feature("other_cns_or_spinal_metastases", "Other CNS or spinal metastases", "boolean", _BOOL),
    Feature("primary_tumor_or_non_cns_metastases", "Primary tumor or non-CNS metastases", "boolean", _BOOL),
    Feature("leptomeningeal_metastases", "Leptomeningeal metastases", "boolean", _BOOL),
    Feature("leptomeningeal_sites", "Leptomeningeal sites", "list", ("cord_conus", "cauda_equina", "cul_de_sac")),
    Feature("other_metastases_prior_mr", "Other CNS/spinal metastases on neuraxis MR within 4 weeks before",
            "boolean", _BOOL),
    Feature("other_metastases_subsequent_mr", "Other CNS/spinal metastases on neuraxis MR within 4 weeks after",
            "boolean", _BOOL),
    Feature("new_iscm_on_follow_up", "New ISCM on follow-up MR", "boolean", _BOOL),
)

#: Clinical features (Table 1).
CLINICAL_FEATURES: tuple[Feature, ...] = (
    Feature("sex", "Sex", "enum", ("female", "male")),
    Feature("age_years", "Age", "number", (), "years"),
    Feature("primary_tumor", "Primary tumor", "enum", ("lung", "breast", "melanoma", "cns", "renal_cell", "other")),
    Feature("primary_tumor_detail", "Primary tumor (other, detail)", "text"),
    Feature("dominant_symptom", "Dominant presenting symptom", "enum",
            ("weakness", "sensory", "bowel_bladder", "pain", "asymptomatic")),
    Feature("symptom_duration_weeks", "Duration of symptoms", "number", (), "weeks"),
    Feature("primary_known_at_presentation", "Primary known at ISCM presentation", "boolean", _BOOL),
    Feature("primary_known_at_iscm_diagnosis", "Primary known at ISCM diagnosis", "boolean", _BOOL),
    Feature("primary_to_presentation_years", "Primary diagnosis to ISCM presentation", "number", (), "years"),
    Feature("primary_to_iscm_diagnosis_years", "Primary diagnosis to ISCM diagnosis", "number", (), "years"),
)

IDENTIFIER_FIELDS: tuple[str, ...] = ("patient_name", "patient_id", "birth_date", "accession_number", "institution")
#: line markup role (scene nodes, markups files) -> name of the line in a lesion's ``lines_lps``
LINE_ROLE_NAMES: dict[str, str] = {
    "lesion_si": "si", "lesion_ap": "ap", "lesion_transverse": "transverse", "edema_si": "edema_si",
}
LINE_NAMES: tuple[str, ...] = tuple(LINE_ROLE_NAMES.values())
#: the case id a new read gets when none is given
DEFAULT_CASE_ID = "case-001"

_FEATURES_BY_NAME: dict[str, Feature] = {
    f.name: f for f in LESION_FEATURES + PATIENT_FEATURES + CLINICAL_FEATURES
}


@functools.lru_cache(maxsize=1)
def _schema_text() -> str:
    return importlib.resources.files(__package__).joinpath("schema", "case.schema.json").read_text("utf-8")


#: roles a case's ``series`` entry may hold, as the schema lists them (its enum is the one definition)
SERIES_ROLES: tuple[str, ...] = tuple(
    json.loads(_schema_text())["properties"]["series"]["items"]["properties"]["role"]["enum"])
#: the reading roles a series can take in an exam (ingest proposes these), in reading order
READING_ROLES: tuple[str, ...] = tuple(role for role in SERIES_ROLES if role != "other")


def load_schema() -> dict:
    """Return a fresh copy of the case JSON Schema (draft 2020-12) as a dict; the file is read once."""
    return json.loads(_schema_text())


@functools.lru_cache(maxsize=1)
def _validator():
    import jsonschema

    def is_number(_checker, instance) -> bool:
        return isinstance(instance, numbers.Real) and not isinstance(instance, bool)

    def is_integer(_checker, instance) -> bool:
        if isinstance(instance, bool):
            return False
        if isinstance(instance, numbers.Integral):
            return True
        return isinstance(instance, numbers.Real) and float(instance).is_integer()

    def is_array(_checker, instance) -> bool:
        return isinstance(instance, (list, tuple))

    # Accept numpy scalars and tuples, which the core produces; save_case writes them as plain JSON.
    checker = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine_many(
        {"number": is_number, "integer": is_integer, "array": is_array}
    )
    cls = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=checker)
    schema = load_schema()  # checked against the draft's meta-schema by the tests, not here (0.2 s)
    # Resolving "$ref" on every lesion point costs a third of the time; the schema has no recursion.
    return cls(_inline_refs(schema, schema["$defs"]))


def _inline_refs(node: Any, defs: dict) -> Any:
    """Return a copy of a schema node with every {"$ref": "#/$defs/name"} replaced by that definition."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and len(node) == 1:
            return _inline_refs(defs[ref[len("#/$defs/"):]], defs)
        return {key: _inline_refs(value, defs) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    return node


def new_case(case_id: str, reader: str | None = None) -> dict:
    """Take a pseudonymous case id and optional reader name; return an empty, valid case dict.

    read_at is now (UTC, ISO 8601); no lesions; every per-patient and clinical feature None; no identifiers.
    """
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return {
        "schema_version": SCHEMA_VERSION,
        "case_id": case_id,
        "reader": {"name": reader, "read_at": now},
        "tool": {"name": "ISCMAssist", "version": __version__},
        "series": [],
        "levels": {"landmarks": [], "source": None},
        "lesions": [],
        "patient_findings": _empty_record(PATIENT_FEATURES),
        "clinical": {f.name: None for f in CLINICAL_FEATURES},
        "notes": "",
    }


def new_lesion(lesion_id: str) -> dict:
    """Take a lesion id ("L1", "L2", ...); return a lesion dict with every feature None and provenance {}.

    ``size_mm`` is ``{"ap": None, "transverse": None, "si": None}``; ``lines_lps`` is ``{}``.
    """
    lesion: dict[str, Any] = {"id": lesion_id}
    lesion.update(_empty_record(LESION_FEATURES))
    lesion["size_mm"] = {axis: None for axis in SIZE_AXES}
    lesion["lines_lps"] = {}
    return lesion


def _empty_record(features: tuple[Feature, ...]) -> dict:
    record: dict[str, Any] = {f.name: None for f in features}
    record["provenance"] = {}
    return record


def migrate_case(case: dict) -> dict:
    """Take a valid case of SCHEMA_VERSION or an OLDER_SCHEMA_VERSIONS; bring it to SCHEMA_VERSION in place.

    1.0.0 -> 1.1.0 only sets schema_version: 1.1.0 added optional fields, which stay absent (None).
    Returns the same dict.
    """
    if case.get("schema_version") in OLDER_SCHEMA_VERSIONS:
        case["schema_version"] = SCHEMA_VERSION
    return case


def complete_case(case: dict) -> dict:
    """Take a valid case (possibly written with fields left out); migrate it (``migrate_case``) and
    fill every missing section/feature in place.

    Missing features become None, missing sections their new_case() defaults; returns the same dict.
    """
    migrate_case(case)
    defaults = new_case(case.get("case_id", ""))
    defaults["reader"] = {"name": None, "read_at": None}  # never invent a read time for an old file
    for key, value in defaults.items():
        if case.get(key) is None:
            case[key] = value
    for section in ("patient_findings", "clinical", "levels"):
        for key, value in defaults[section].items():
            case[section].setdefault(key, value)
    for lesion in case["lesions"]:
        for key, value in new_lesion(lesion.get("id", "L1")).items():
            if lesion.get(key) is None:
                lesion[key] = value
        for axis in SIZE_AXES:
            lesion["size_mm"].setdefault(axis, None)
    return case


def value_text(value: Any, yes: str = "yes", no: str = "no", separator: str = ", ") -> str:
    """Take a case value; return it as text: None -> "", booleans ``yes``/``no``, lists joined with
    ``separator``, numbers and strings as str. The one formatter of the panel, the table and the CSV."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return yes if value else no
    if isinstance(value, (list, tuple)):
        return separator.join(str(v) for v in value)
    if hasattr(value, "item"):  # a numpy scalar
        value = value.item()
    return str(value)


def format_path(parts: Iterable[str | int]) -> str:
    """Take a sequence of JSON path parts (str keys, int indices); return text like "lesions[0].position"."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "case"


def _message(error: Any) -> tuple[str, str]:
    """Return (path, one-line message) for a jsonschema error, naming the field."""
    path = format_path(error.absolute_path)
    instance = error.instance
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(k for k in instance if k not in allowed)
        if extra:
            field = format_path(list(error.absolute_path) + [extra[0]])
            return field, f"{field}: unknown field (allowed: {', '.join(sorted(allowed))})"
    if "propertyNames" in error.schema_path:
        field = format_path(list(error.absolute_path) + [str(instance)])
        return field, f"{field}: {instance!r} is not a field that has provenance"
    if error.validator in ("minItems", "maxItems"):
        schema = error.schema
        if schema.get("minItems") == schema.get("maxItems"):
            what = "points" if schema.get("minItems") == 2 else "numbers"
            return path, f"{path}: expected exactly {schema['minItems']} {what}, got {len(instance)}"
    if error.validator == "const" and list(error.absolute_path)[-1:] == ["origin"]:
        return path, f"{path}: must be null when position is 'central' (origin applies to eccentric/exophytic lesions)"
    return path, f"{path}: {error.message}"


def _non_finite_path(value: Any, parts: list) -> list | None:
    if isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite_path(item, parts + [key])
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = _non_finite_path(item, parts + [index])
            if found is not None:
                return found
    elif isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isfinite(float(value)):
        return parts
    return None


def validate_case(case: dict) -> None:
    """Take a case dict; return None when it follows the schema, else raise CaseValidationError.

    The message names the JSON path of the best-matching (most specific) error, e.g.
    "lesions[0].position: 'middle' is not one of ['central', 'eccentric', 'exophytic', None]".
    NaN and infinite numbers are rejected too (JSON cannot hold them).
    """
    from jsonschema.exceptions import best_match

    if not isinstance(case, dict):
        raise CaseValidationError(f"case: expected a JSON object, got {type(case).__name__}")
    error = best_match(_validator().iter_errors(case))
    if error is not None:
        path, message = _message(error)
        raise CaseValidationError(message, path)
    bad = _non_finite_path(case, [])
    if bad is not None:
        path = format_path(bad)
        raise CaseValidationError(f"{path}: {_get(case, bad)!r} is not a finite number", path)
    seen: dict[Any, int] = {}
    for index, lesion in enumerate(case.get("lesions") or []):
        lesion_id = lesion.get("id") if isinstance(lesion, dict) else None
        if lesion_id is None:
            continue
        if lesion_id in seen:
            path = f"lesions[{index}].id"
            raise CaseValidationError(f"{path}: lesion id {lesion_id!r} is already used by lesions[{seen[lesion_id]}]; "
                                      f"lesion ids must be unique", path)
        seen[lesion_id] = index


def _get(value: Any, parts: list) -> Any:
    for part in parts:
        value = value[part]
    return value


def _split(field: str) -> tuple[str, str | None]:
    """Split "size_mm.ap" into ("size_mm", "ap"); other fields into (field, None)."""
    name, _, sub = field.partition(".")
    if sub and (name != "size_mm" or sub not in SIZE_AXES):
        raise CaseValidationError(f"{field}: unknown field", field)
    if name not in _FEATURES_BY_NAME:
        raise CaseValidationError(f"{field}: unknown field", field)
    return name, sub or None


def check_value(field: str, value: Any) -> None:
    """Take a feature name (or "size_mm.ap" etc.) and a value; raise CaseValidationError if not allowed.

    Enums must be one of Feature.values or None; booleans True/False/None; sizes numbers >= 0 mm or None;
    segment counts integers >= 1 or None. Does not check cross-field rules (see validate_case).
    """
    name, sub = _split(field)
    feature = _FEATURES_BY_NAME[name]
    if value is None:
        return
    ok: bool
    if sub is not None:
        ok = _is_real(value) and value >= 0
    elif feature.kind in ("enum", "boolean"):
        ok = any(value is v or (value == v and type(value) is type(v)) for v in feature.values)
    elif feature.kind == "list":
        ok = isinstance(value, (list, tuple)) and all(v in feature.values for v in value) and len(set(value)) == len(value)
    elif feature.kind == "sizes":
        ok = isinstance(value, dict) and set(value) <= set(SIZE_AXES) and all(
            v is None or (_is_real(v) and v >= 0) for v in value.values())
    elif feature.kind == "integer":
        ok = _is_real(value) and float(value).is_integer() and value >= 1
    elif feature.kind == "number":
        ok = _is_real(value) and value >= 0
    else:
        ok = isinstance(value, str)
    if not ok:
        allowed = f" (allowed: {list(feature.values) + [None]})" if feature.values else ""
        raise CaseValidationError(f"{field}: {value!r} is not an allowed value{allowed}", field)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))


def _assign(record: dict, name: str, sub: str | None, value: Any) -> None:
    if sub is None:
        # scalars need no copy (this runs on every recomputation, after every point move)
        record[name] = value if isinstance(value, (str, int, float, type(None))) else copy.deepcopy(value)
    else:
        if not isinstance(record.get(name), dict):
            record[name] = {axis: None for axis in SIZE_AXES}
        record[name][sub] = value


def set_reader_value(record: dict, field: str, value: Any) -> None:
    """Set a feature typed or overridden by the reader: record[field] = value, provenance[field] = "reader".

    record: a lesion, patient_findings or clinical dict; field: a feature name, or "size_mm.ap" /
    "size_mm.transverse" / "size_mm.si" for one size (mm). value None means "not assessable" (still an
    override). Raises CaseValidationError for an unknown field or a value the schema does not allow.
    """
    check_value(field, value)
    name, sub = _split(field)
    _assign(record, name, sub, value)
    provenance = record.setdefault("provenance", {})
    if sub is None and name == "size_mm":
        for axis in SIZE_AXES:
            provenance.pop(f"size_mm.{axis}", None)
    provenance[field] = READER


def set_derived_value(record: dict, field: str, value: Any) -> bool:
    """Set a value computed by the tool unless the reader set it; return whether anything was written.

    Writes record[field] = value and provenance[field] = "derived" when provenance[field] is not
    "reader". For "size_mm" (a dict of ap/transverse/si mm) axes the reader set one by one
    ("size_mm.ap": "reader") keep the reader's number; the other axes are written.
    Raises CaseValidationError for an unknown field or a value the schema does not allow.
    """
    check_value(field, value)
    name, sub = _split(field)
    provenance = record.setdefault("provenance", {})
    if provenance.get(field) == READER or (sub is not None and provenance.get(name) == READER):
        return False
    if sub is None and name == "size_mm":
        value = value or {}  # None = every axis unknown; axes the reader set still survive
        current = record.get("size_mm") if isinstance(record.get("size_mm"), dict) else {}
        merged = {axis: current.get(axis) for axis in SIZE_AXES}
        for axis in SIZE_AXES:
            if provenance.get(f"size_mm.{axis}") != READER:
                merged[axis] = value.get(axis)
        record["size_mm"] = merged
    else:
        _assign(record, name, sub, value)
    provenance[field] = DERIVED
    return True


def clear_reader_value(record: dict, field: str) -> None:
    """Drop the reader's override of a field (provenance entry removed) so the next recompute sets it.

    The value itself is left until the tool writes it again. Raises CaseValidationError for an unknown field.
    """
    name, _sub = _split(field)
    provenance = record.setdefault("provenance", {})
    provenance.pop(field, None)
    if field == "size_mm":
        for axis in SIZE_AXES:
            provenance.pop(f"size_mm.{axis}", None)
