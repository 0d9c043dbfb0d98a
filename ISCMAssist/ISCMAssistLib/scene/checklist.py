"""The checklist and the lesion table: the reader's values in the held case (with provenance), the
panel's rows and text, and the vtkMRMLTableNode with one row per lesion.

Sections are "lesion" (with a lesion id), "patient_findings" and "clinical"; fields are the feature
names of ISCMAssistLib.case (sizes as "size_mm.ap" etc., mm).
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any

import vtk

from .. import case as casemod
from ..case import CaseValidationError, value_text
from .errors import RoleError
from .lesions import lesionRecord
from .names import CASE_ID_PARAMETER, READER_PARAMETER, TABLE_NODE_NAME, TABLE_PARAMETER, lesionName
from .state import SceneState

_SECTIONS = ("lesion", "patient_findings", "clinical")
_TABLE_SIZE_TITLES = (("ap", "AP"), ("transverse", "Transverse"), ("si", "SI"))
_CHECKLIST_SIZE_TITLES = (("ap", "AP"), ("transverse", "transverse"), ("si", "SI"))


def features(section: str) -> tuple:
    """Take a section; return its core features. Raises RoleError for an unknown section."""
    found = {"lesion": casemod.LESION_FEATURES, "patient_findings": casemod.PATIENT_FEATURES,
             "clinical": casemod.CLINICAL_FEATURES}.get(section)
    if found is None:
        raise RoleError(f"checklist section '{section}' is not one of {', '.join(_SECTIONS)}")
    return found


def record(state: SceneState, case: dict, section: str, lesionId: str | None) -> dict:
    """Return the record of ``case`` a section's values live in (a lesion's, created when missing)."""
    if section == "lesion":
        return lesionRecord(state, case, lesionId)
    if section in ("patient_findings", "clinical"):
        return case.setdefault(section, {})
    raise RoleError(f"checklist section '{section}' is not one of {', '.join(_SECTIONS)}")


def setCase(state: SceneState, case: dict) -> dict:
    """Replace the held case (validated first; CaseValidationError names the field); recompute; return it."""
    casemod.validate_case(case)
    case = casemod.complete_case(json.loads(json.dumps(case)))
    parameterNode = state.parameterNode()
    wasModifying = parameterNode.StartModify()
    parameterNode.SetParameter(CASE_ID_PARAMETER, case["case_id"])
    parameterNode.SetParameter(READER_PARAMETER, (case.get("reader") or {}).get("name") or "")
    state.storeCase(case)
    parameterNode.EndModify(wasModifying)
    return state.recompute()


def setReaderValue(state: SceneState, section: str, field: str, value: Any, lesionId: str | None = None) -> dict:
    """Set a checklist value as the reader's (provenance "reader"; recomputation keeps it); value None =
    not assessable. Raises CaseValidationError for a value the schema does not allow. Recomputes;
    returns the case."""
    case = state.getCase()
    casemod.set_reader_value(record(state, case, section, lesionId), field, value)
    state.storeCase(case)
    return state.recompute()


def revertToDerived(state: SceneState, section: str, field: str, lesionId: str | None = None) -> dict:
    """Drop the reader's override of a field so the tool derives it again; recompute; return the case."""
    case = state.getCase()
    casemod.clear_reader_value(record(state, case, section, lesionId), field)
    state.storeCase(case)
    return state.recompute()


def setCaseInfo(state: SceneState, caseId: str | None = None, readerName: str | None = None,
                notes: str | None = None) -> None:
    """Set the case pseudonym, the reader's name and/or the free-text notes (None leaves a value)."""
    parameterNode = state.parameterNode()
    case = state.getCase()
    if caseId is not None:
        if not caseId.strip():
            raise ValueError("case_id: must not be empty")
        parameterNode.SetParameter(CASE_ID_PARAMETER, caseId)
        case["case_id"] = caseId
    if readerName is not None:
        parameterNode.SetParameter(READER_PARAMETER, readerName)
        case.setdefault("reader", {})["name"] = readerName or None
    if notes is not None:
        case["notes"] = notes
    state.storeCase(case)


def checklistRows(state: SceneState, section: str, lesionId: str | None = None) -> list[dict]:
    """Return the checklist of a section for the panel: one dict per field with field, label (unit
    included), kind, choices (texts; "" = not assessable), text (current value as text), source
    ("derived" | "reader" | ""), derivable. Sizes are three rows "size_mm.ap", ".transverse", ".si" (mm)."""
    values = record(state, state.getCase(), section, lesionId)
    provenance = values.get("provenance") or {}
    rows = []
    for feature in features(section):
        unit = f" ({feature.unit})" if feature.unit else ""
        if feature.kind == "sizes":
            sizes = values.get(feature.name) or {}
            for axis, title in _CHECKLIST_SIZE_TITLES:
                field = f"{feature.name}.{axis}"
                rows.append({"field": field, "label": f"{feature.label}, {title}{unit}", "kind": "number",
                             "choices": [], "text": value_text(sizes.get(axis)),
                             "source": provenance.get(field) or provenance.get(feature.name) or "",
                             "derivable": feature.derived})
            continue
        choices = [""] + [value_text(v) for v in feature.values] if feature.kind in ("enum", "boolean") else []
        rows.append({"field": feature.name, "label": f"{feature.label}{unit}", "kind": feature.kind,
                     "choices": choices, "text": value_text(values.get(feature.name)),
                     "source": provenance.get(feature.name, ""), "derivable": feature.derived})
    return rows


def parseChecklistText(section: str, field: str, text: str) -> Any:
    """Turn the panel's text for a field into its value ("" -> None, "yes"/"no" -> bool, numbers,
    "a, b" -> list). Raises CaseValidationError naming the field when the text does not fit."""
    name = field.split(".")[0]
    feature = next((f for f in features(section) if f.name == name), None)
    if feature is None:
        raise CaseValidationError(f"{field}: unknown field of {section}", field)
    text = (text or "").strip()
    if not text:
        return None
    kind = "number" if "." in field else feature.kind
    if kind == "boolean":
        if text.lower() in ("yes", "true"):
            return True
        if text.lower() in ("no", "false"):
            return False
        raise CaseValidationError(f"{field}: '{text}' is not yes or no", field)
    if kind in ("number", "integer"):
        try:
            number = float(text)
        except ValueError:
            raise CaseValidationError(f"{field}: '{text}' is not a number", field) from None
        return int(number) if kind == "integer" and number.is_integer() else number
    if kind == "list":
        return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    return text


# ---------------------------------------------------------------------- the lesion table

@functools.lru_cache(maxsize=1)
def tableColumns() -> tuple[tuple[str, str, str, str | None], ...]:
    """Return the lesion table's columns: (column name with unit, value kind "string"|"double",
    feature name, size axis or None), in the study's checklist order."""
    columns: list[tuple[str, str, str, str | None]] = [
        ("Lesion", "string", "name", None), ("Lesion ID", "string", "id", None)]
    for feature in casemod.LESION_FEATURES:
        if feature.kind == "sizes":
            for axis, title in _TABLE_SIZE_TITLES:
                columns.append((f"{title} size ({feature.unit})", "double", feature.name, axis))
        elif feature.kind in ("integer", "number"):
            unit = f" ({feature.unit})" if feature.unit else ""
            columns.append((f"{feature.label}{unit}", "double", feature.name, None))
        else:
            columns.append((feature.label, "string", feature.name, None))
    columns.append(("Set by reader", "string", "provenance", None))
    return tuple(columns)


def tableNode(state: SceneState) -> Any:
    """Return the lesion table node (created with its columns when missing)."""
    table = state.parameterNode().GetNodeReference(TABLE_PARAMETER)
    if table is None:
        table = state.scene.AddNewNodeByClass("vtkMRMLTableNode", TABLE_NODE_NAME)
        state.setNodeParameter(TABLE_PARAMETER, table)
    if table.GetNumberOfColumns() != len(tableColumns()):
        vtkTable = table.GetTable()
        while vtkTable.GetNumberOfColumns():
            vtkTable.RemoveColumn(0)
        for name, kind, _feature, _axis in tableColumns():
            array = vtk.vtkStringArray() if kind == "string" else vtk.vtkDoubleArray()
            array.SetName(name)
            vtkTable.AddColumn(array)
    return table


def _cellValue(lesion: dict, feature: str, axis: str | None) -> Any:
    if feature == "name":
        return lesionName(lesion["id"])
    if feature == "provenance":
        return ", ".join(sorted(k for k, v in (lesion.get("provenance") or {}).items() if v == "reader"))
    if axis is not None:
        return (lesion.get(feature) or {}).get(axis)
    return lesion.get(feature)


def writeTable(state: SceneState, case: dict) -> None:
    """Write one row per lesion of ``case`` into the lesion table node."""
    table = tableNode(state)
    vtkTable = table.GetTable()
    lesions = case["lesions"]
    for columnIndex, (_name, kind, feature, axis) in enumerate(tableColumns()):
        array = vtkTable.GetColumn(columnIndex)
        array.SetNumberOfValues(len(lesions))
        for row, lesion in enumerate(lesions):
            value = _cellValue(lesion, feature, axis)
            if kind == "string":
                array.SetValue(row, value_text(value))
            else:
                array.SetValue(row, math.nan if value is None else float(value))
        array.Modified()
    vtkTable.Modified()
    table.Modified()


def tableRows(state: SceneState) -> list[dict[str, str]]:
    """Return the lesion table as a list of {column name: cell text} (for tests and the CLI)."""
    table = tableNode(state)
    return [{table.GetColumnName(c): table.GetCellText(row, c) for c in range(table.GetNumberOfColumns())}
            for row in range(table.GetNumberOfRows())]
