"""The read rebuilt from the scene: lesion lines, ROIs and segments, level landmarks and series into
the core case (RAS -> LPS only through ISCMAssistLib.coords), then the core's compute_read and hints,
written back to the parameter node and the lesion table.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from .. import coords, vertebrae
from ..case import new_lesion
from ..hints import compute_hints
from ..levels import LevelModel
from ..measurements import mask_measurements
from ..read import LesionMasks, compute_read
from .checklist import writeTable
from .lesions import landmarks, lesionIds, linePoints, roiLines, segmentMask
from .levels import levelMessages
from .names import (
    CASE_ID_PARAMETER,
    HINTS_PARAMETER,
    LESION_ATTRIBUTE,
    LEVELS_SOURCE_ATTRIBUTE,
    LINE_ROLES,
    READER_PARAMETER,
    ROLE_ATTRIBUTE,
    SERIES_PARAMETERS,
    WARNINGS_PARAMETER,
)
from .series import lineCheck, seriesEntry, seriesVolume, volumeFromNode
from .state import SceneState

_EVIDENCE_DICTS: dict[Any, dict] = {}


def _evidenceToDict(item: Any) -> dict:
    """A core Evidence as a JSON-ready dict with "line", its one-line citation (cached: hot path)."""
    cached = _EVIDENCE_DICTS.get(item)
    if cached is None:
        cached = {"text": item.text, "numerator": item.numerator, "denominator": item.denominator,
                  "source": item.source, "line": str(item)}
        if len(_EVIDENCE_DICTS) < 1000:
            _EVIDENCE_DICTS[item] = cached
    return cached


def hintToDict(hint: Any) -> dict:
    """Take a core Hint; return its JSON form (``Hint.as_dict``: kind, direction, text, and for
    comparative hints sensitivity, specificity and likelihood ratio), each evidence item with "line",
    its citation."""
    out = hint.as_dict()
    out["evidence"] = [_evidenceToDict(item) for item in hint.evidence]
    return out


def levelModel(state: SceneState, labels: list[str], points: np.ndarray) -> tuple[Any, list[str]]:
    """LevelModel.from_landmarks, its discs' planes measured on the sagittal T2 when one is selected;
    cached while the landmarks and that series do not change; (model or None, warnings)."""
    imageNode = seriesVolume(state, "t2_sagittal")
    imageStamp = None if imageNode is None or imageNode.GetImageData() is None else \
        (imageNode.GetID(), imageNode.GetImageData().GetMTime(), imageNode.GetMTime())
    key = (tuple(labels), points.round(6).tobytes(), imageStamp)
    if key == state.modelKey:
        return state.model, state.modelWarnings
    model, warnings = None, []
    vertebral = [label for label in labels if label.lower() != vertebrae.CONUS_LABEL]
    if len(vertebral) < 2:
        if labels:
            warnings.append("levels: place at least two vertebral level points (e.g. T4 and T5/T6) "
                            "to count segments")
    else:
        try:
            model = LevelModel.from_landmarks(labels, points)
            if imageStamp is not None:
                if state.discPlaneCache[0] != imageStamp:  # the image is copied once, not per level-point move
                    state.discPlaneCache = (imageStamp, volumeFromNode(imageNode), {})
                _, image, normals = state.discPlaneCache
                model = model.with_image_planes(image, cache=normals)
            warnings.extend(f"levels: {note}" for note in model.plane_notes)
        except ValueError as error:
            warnings.append(f"levels: {error}")
    state.modelKey, state.model, state.modelWarnings = key, model, warnings
    return model, warnings


def maskMeasurements(state: SceneState, node: Any, model: Any) -> Any:
    """measurements.mask_measurements of a segmentation node, cached until the node or levels change."""
    segmentation = node.GetSegmentation()
    images = [node.GetBinaryLabelmapInternalRepresentation(segmentation.GetNthSegmentID(i))
              for i in range(segmentation.GetNumberOfSegments())]
    stamp = max([segmentation.GetMTime()] + [image.GetMTime() for image in images if image is not None])
    key = (stamp, id(model), state.modelKey)
    cached = state.maskCache.get(node.GetID())
    if cached is not None and cached[0] == key:
        return cached[1]
    volume = segmentMask(node)
    result = None if volume is None else mask_measurements(volume, model)
    state.maskCache[node.GetID()] = (key, result)
    return result


def _levelsRecord(state: SceneState, labels: list[str], points: np.ndarray) -> dict:
    landmarksLps = coords.ras_to_lps(points) if len(points) else points
    levelsNode = state.roleNode("levels")
    source = (levelsNode.GetAttribute(LEVELS_SOURCE_ATTRIBUTE) if levelsNode is not None else None) or "landmarks"
    return {"landmarks": [{"label": label, "position_lps": [float(v) + 0.0 for v in point]}
                          for label, point in zip(labels, landmarksLps)],
            "source": source if labels else None}


def _lesionRecord(state: SceneState, record: dict, nodes: dict[str, Any], model: Any) -> LesionMasks | None:
    """Fill ``record``'s lines_lps from the lesion's nodes; return its mask measurements, if any."""
    linesRas: dict[str, np.ndarray] = {}
    if "lesion_roi" in nodes:
        linesRas.update(roiLines(nodes["lesion_roi"]))
    for role, name in LINE_ROLES.items():
        if role in nodes:
            line = linePoints(nodes[role])
            if line is not None:
                linesRas[name] = line
    # + 0.0 turns -0.0 (from negating 0) into 0.0 in the JSON
    record["lines_lps"] = {name: (coords.ras_to_lps(line) + 0.0).tolist() for name, line in linesRas.items()}
    lesionMask = maskMeasurements(state, nodes["lesion_segment"], model) if "lesion_segment" in nodes else None
    edemaMask = maskMeasurements(state, nodes["edema_segment"], model) if "edema_segment" in nodes else None
    if lesionMask is None and edemaMask is None:
        return None
    return LesionMasks(lesion=lesionMask, edema=edemaMask)


def buildCase(state: SceneState) -> tuple[dict, Any, dict, list[str]]:
    """Build the core case from the scene: lesions (lines LPS mm), level landmarks, series.

    Returns (case, level model or None, mask measurements by lesion id, warnings). Reader values
    and lesion records of the held case are kept; lesions no longer in the scene are dropped.
    """
    case = state.getCase()
    parameterNode = state.parameterNode()
    caseId = parameterNode.GetParameter(CASE_ID_PARAMETER)
    if caseId.strip():
        case["case_id"] = caseId
    reader = parameterNode.GetParameter(READER_PARAMETER)
    if reader:
        case.setdefault("reader", {})["name"] = reader

    labels, points = landmarks(state)
    model, warnings = levelModel(state, labels, points)
    case["levels"] = _levelsRecord(state, labels, points)
    warnings = list(warnings) + levelMessages(state) + state.extraWarnings

    nodesByLesion: dict[str, dict[str, Any]] = {}
    for node in state.roleNodes.values():
        lesionId = node.GetAttribute(LESION_ATTRIBUTE)
        if lesionId:
            nodesByLesion.setdefault(lesionId, {})[node.GetAttribute(ROLE_ATTRIBUTE)] = node
    records = {lesion.get("id"): lesion for lesion in case["lesions"]}
    lesions, masks = [], {}
    for lesionId in lesionIds(state):
        record = records.get(lesionId) or new_lesion(lesionId)
        lesionMasks = _lesionRecord(state, record, nodesByLesion.get(lesionId, {}), model)
        if lesionMasks is not None:
            masks[lesionId] = lesionMasks
        lesions.append(record)
    case["lesions"] = lesions

    # A selected volume replaces its role's entry; without one (e.g. an opened read whose images
    # are not loaded) the entry of the read is kept.
    series = list(case.get("series") or [])
    for role, parameter in SERIES_PARAMETERS.items():
        volume = parameterNode.GetNodeReference(parameter)
        if volume is not None:
            series = [entry for entry in series if entry.get("role") != role] + [seriesEntry(state, role, volume)]
    case["series"] = series
    return case, model, masks, warnings


def recompute(state: SceneState) -> dict:
    """Rebuild the read from the scene, fill every derivable field (core read.compute_read), compute
    the hints and write case, hints, warnings and the lesion table. Returns the case dict."""
    state.recomputing = True
    try:
        case, model, masks, warnings = buildCase(state)
        compute_read(case, model, masks, warnings, line_check=lineCheck(state))
        hints = [hintToDict(hint) for hint in compute_hints(case)]
        parameterNode = state.parameterNode()
        wasModifying = parameterNode.StartModify()
        state.storeCase(case)
        parameterNode.SetParameter(HINTS_PARAMETER, json.dumps(hints))
        parameterNode.SetParameter(WARNINGS_PARAMETER, json.dumps(warnings))
        writeTable(state, case)
        parameterNode.EndModify(wasModifying)
        state.dirty = False
        return case
    finally:
        state.recomputing = False
