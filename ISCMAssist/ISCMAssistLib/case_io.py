"""Case JSON files and the per-lesion CSV: validated loading, atomic saving, flat export.

Case files hold LPS mm (see docs/core-api.md). Saving validates first and writes through
``files.atomic_write_text``; loading names the file and the field of any problem.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from typing import Any

from .case import (
    CLINICAL_FEATURES,
    IDENTIFIER_FIELDS,
    LESION_FEATURES,
    PATIENT_FEATURES,
    SIZE_AXES,
    CaseValidationError,
    complete_case,
    validate_case,
    value_text,
)
from .files import atomic_write_text, read_json


class CaseFileError(OSError, ValueError):
    """A case file that cannot be read, parsed or validated; the message names the file (and field)."""


def load_case(path: str | os.PathLike) -> dict:
    """Take the path of a case JSON file; return the validated case dict (LPS mm), every field present.

    Missing features are filled with None (``case.complete_case``). Raises CaseFileError naming the file
    for a missing/unreadable file, bad UTF-8, bad JSON (with line and column), and schema errors
    (with the field's JSON path, e.g. "case.json: lesions[0].position: ...").
    """
    case = read_json(path, CaseFileError, "case JSON file")
    try:
        validate_case(case)
    except CaseValidationError as error:
        raise CaseFileError(f"{path}: {error}") from None
    return complete_case(case)


def _plain(value: Any) -> Any:
    """json.dumps fallback: numpy scalars/arrays -> Python numbers/lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} cannot be written to a case file")


def _no_negative_zero(value: Any) -> Any:
    """Return ``value`` with every -0.0 (from rounding a tiny negative, or an LPS flip of 0) as 0.0."""
    if isinstance(value, float):
        return 0.0 if value == 0 else value
    if isinstance(value, dict):
        return {key: _no_negative_zero(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_no_negative_zero(item) for item in value]
    if hasattr(value, "tolist"):
        return _no_negative_zero(value.tolist())
    return value


def case_to_json(case: dict, include_identifiers: bool = False) -> str:
    """Take a case dict; validate it and return its file text (JSON, indent 2, UTF-8 text, trailing newline).

    The "identifiers" section (patient name, ID, ...) is left out unless include_identifiers is True.
    Raises CaseValidationError for a case that does not follow the schema.
    """
    validate_case(case)
    if not include_identifiers and "identifiers" in case:
        case = {key: value for key, value in case.items() if key != "identifiers"}
    try:
        return json.dumps(_no_negative_zero(case), indent=2, ensure_ascii=False, allow_nan=False,
                          default=_plain) + "\n"
    except (TypeError, ValueError) as error:
        raise CaseValidationError(f"case: cannot be written as JSON: {error}") from error


def save_case(case: dict, path: str | os.PathLike, include_identifiers: bool = False) -> None:
    """Take a case dict and a path; validate, then write the file atomically (pretty JSON, LPS mm).

    Patient identifiers ("identifiers") are written only when include_identifiers is True.
    Raises CaseFileError naming the file and field when the case does not validate (nothing written),
    FileWriteError (OSError) when the file cannot be written; the old file then stays intact.
    """
    try:
        text = case_to_json(case, include_identifiers)
    except CaseValidationError as error:
        raise CaseFileError(f"{path}: not saved: {error}") from None
    atomic_write_text(path, text)


def _patient_columns() -> list[str]:
    return ["lesion_count"] + [f.name for f in PATIENT_FEATURES] + [f.name for f in CLINICAL_FEATURES]


def lesion_csv_columns(include_identifiers: bool = False) -> list[str]:
    """Return the header of the per-lesion CSV, in order; units are in the names (_mm, _segments, _years, _weeks).

    case_id, reader, read_at, lesion_id, every lesion feature (size_mm flattened into size_ap_mm,
    size_transverse_mm, size_si_mm), then per-patient findings and clinical features; identifiers
    (patient_name, ...) last, only when include_identifiers is True.
    """
    columns = ["case_id", "reader", "read_at", "lesion_id"]
    for feature in LESION_FEATURES:
        if feature.kind == "sizes":
            columns += [f"size_{axis}_mm" for axis in SIZE_AXES]
        else:
            columns.append(feature.name)
    columns += _patient_columns()
    if include_identifiers:
        columns += list(IDENTIFIER_FIELDS)
    return columns


_FREE_TEXT = {"case_id", "reader", "read_at", "lesion_id", "primary_tumor_detail", *IDENTIFIER_FIELDS}


def _cell(column: str, value: Any) -> str:
    """Format one CSV cell: None -> "", booleans true/false, lists joined with ";"."""
    text = value_text(value, yes="true", no="false", separator=";")
    # A spreadsheet would run typed text starting with = + - @ as a formula; quote it as text.
    if column in _FREE_TEXT and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text


def write_lesions_csv(cases: Iterable[dict], path: str | os.PathLike, include_identifiers: bool = False) -> None:
    """Take case dicts and a path; write one CSV row per lesion (atomically, UTF-8, "\\n" line ends).

    Columns: see lesion_csv_columns(). Per-patient and clinical values repeat on each lesion row of the
    case; a case without lesions adds no row. Patient identifiers are written only when
    include_identifiers is True. Each case is validated first: CaseValidationError names the case_id
    and field; nothing is written then.
    """
    columns = lesion_csv_columns(include_identifiers)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for number, case in enumerate(cases):
        try:
            validate_case(case)
        except CaseValidationError as error:
            name = case.get("case_id", f"#{number + 1}") if isinstance(case, dict) else f"#{number + 1}"
            raise CaseValidationError(f"case {name}: {error}", error.path) from None
        reader = case.get("reader") or {}
        findings = case.get("patient_findings") or {}
        clinical = case.get("clinical") or {}
        identifiers = case.get("identifiers") or {}
        lesions = case["lesions"]
        patient: dict[str, Any] = {"lesion_count": len(lesions)}
        patient.update({f.name: findings.get(f.name) for f in PATIENT_FEATURES})
        patient.update({f.name: clinical.get(f.name) for f in CLINICAL_FEATURES})
        for lesion in lesions:
            row: dict[str, Any] = {
                "case_id": case["case_id"], "reader": reader.get("name"), "read_at": reader.get("read_at"),
                "lesion_id": lesion["id"],
            }
            for feature in LESION_FEATURES:
                if feature.kind == "sizes":
                    sizes = lesion.get("size_mm") or {}
                    row.update({f"size_{axis}_mm": sizes.get(axis) for axis in SIZE_AXES})
                else:
                    row[feature.name] = lesion.get(feature.name)
            row.update(patient)
            if include_identifiers:
                row.update({name: identifiers.get(name) for name in IDENTIFIER_FIELDS})
            writer.writerow([_cell(column, row.get(column)) for column in columns])
    atomic_write_text(path, buffer.getvalue())
