"""Vertebral levels in the scene: the level points and the conus tip, labelling points placed
top-down, automatic proposal, shifting the whole column's labels, and re-fitting every name when the
reader renames one point (positions never move).

Core: ISCMAssistLib.autolevels (propose_levels, shift_labels, relabel_from_anchor). A proposal's
messages (e.g. naming not certain) are kept on the level point list (``names.LEVEL_MESSAGES_ATTRIBUTE``,
saved with the scene) and shown among the read's warnings until the reader confirms a name (rename
or shift) or replaces the points.
"""

from __future__ import annotations

import json
import re
from typing import Any, Sequence

import numpy as np

from .. import vertebrae
from ..autolevels import AutoLevelsError, propose_levels, relabel_from_anchor, shift_labels
from ..progress import PanelProgress, no_progress, steps_to_panel
from .errors import RoleError
from .lesions import conusNode, definedPointIndices, levelsNode, setControlPoints
from .names import LEVEL_MESSAGES_ATTRIBUTE, LEVELS_SOURCE_ATTRIBUTE, NEXT_LEVEL_PARAMETER
from .series import seriesVolume, volumeFromNode
from .state import SceneState

NAMING_UNCERTAIN_MESSAGE = ("automatic levels: the names are not certain; check one level and rename "
                            "that point (the others follow) or shift the labels up/down")
CONTRAST_UNSURE_MESSAGE = ("automatic levels: the image fits both T2 (bright CSF) and T1 (dark CSF); check the "
                           "points, and give the series' weighting if they sit on the wrong structures")


def nextLevelLabel(label: str) -> str:
    """Take a level landmark label; return the next one caudally ("T4" -> "T4/T5" -> "T5"), "" after S1
    or for a label that is not a vertebra or disc (so placing points top-down labels them in turn)."""
    try:
        u = vertebrae.landmark_coordinate(label)
        if u is None:
            return ""
        following = u + 0.5
        if following.is_integer():
            return vertebrae.level_name(int(following))
        return vertebrae.disc_name(int(following))
    except ValueError:
        return ""


def setLevelLandmarks(state: SceneState, labels: list[str], pointsRas: Any) -> Any:
    """Replace the level points with ``labels`` at ``pointsRas`` (RAS mm, (N, 3)); return the node."""
    points = np.asarray(pointsRas, dtype=float).reshape(-1, 3)
    if len(labels) != len(points):
        raise ValueError(f"levels: {len(labels)} labels for {len(points)} points")
    node = levelsNode(state)
    with state.batch():
        setControlPoints(state, node, points, labels)
        node.SetAttribute(LEVELS_SOURCE_ATTRIBUTE, "landmarks")
        node.RemoveAttribute(LEVEL_MESSAGES_ATTRIBUTE)
    return node


def setConus(state: SceneState, pointRas: Any) -> Any:
    """Place the conus medullaris tip at ``pointRas`` (RAS mm); return the node."""
    node = conusNode(state)
    with state.batch():
        setControlPoints(state, node, np.asarray(pointRas, dtype=float).reshape(1, 3), ["conus"])
    return node


def labelPlacedPoint(state: SceneState, node: Any) -> None:
    """Name the level point just placed with the parameter node's next label and advance that label."""
    parameterNode = state.parameterNode()
    label = parameterNode.GetParameter(NEXT_LEVEL_PARAMETER).strip()
    if not label or state.batchDepth:
        return
    node.SetNthControlPointLabel(node.GetNumberOfControlPoints() - 1, label)
    parameterNode.SetParameter(NEXT_LEVEL_PARAMETER, nextLevelLabel(label))


def proposeNextLevelLabel(state: SceneState) -> str:
    """Before the reader places level points: when no next label is set, propose the one after the
    lowest (most inferior, smallest S) level point ("T4" -> "T4/T5"). Returns the next label ("" when
    none), which :func:`labelPlacedPoint` gives to the next point placed."""
    parameterNode = state.parameterNode()
    label = (parameterNode.GetParameter(NEXT_LEVEL_PARAMETER) or "").strip()
    node = state.roleNode("levels")
    placed = definedPointIndices(node) if node is not None else []
    if not label and placed:
        lowest = min(placed, key=lambda index: node.GetNthControlPointPositionWorld(index)[2])
        label = nextLevelLabel(node.GetNthControlPointLabel(lowest))
        parameterNode.SetParameter(NEXT_LEVEL_PARAMETER, label)
    return label


def proposeLevels(state: SceneState, role: str = "t2_sagittal", progress: PanelProgress | None = None,
                  anchor: tuple[str, Sequence[float]] | None = None) -> Any:
    """Find and name the discs and body centres on the series selected for ``role`` and put them in
    the level point list (replacing its points; each point's description holds kind and confidence).

    anchor: optional (label, RAS mm point) the names follow from. Messages of the proposal (and
    "names not certain" when naming is not confident) become warnings. With no spine found the
    points are left as they were. Returns the core LevelProposal. Raises RoleError without a
    selected series, AutoLevelsError for an unusable volume or anchor.
    """
    progress = progress or no_progress
    volumeNode = seriesVolume(state, role)
    if volumeNode is None:
        raise RoleError(f"propose levels: no {role} series is selected")
    progress(0.0, f"Reading {volumeNode.GetName()}")
    proposal = propose_levels(volumeFromNode(volumeNode), anchor=anchor,
                              progress=steps_to_panel(progress, "Finding the discs", span=0.9))
    messages = [f"automatic levels: {message}" for message in proposal.messages]
    if proposal.spine_found and not proposal.naming_confident:
        messages.insert(0, NAMING_UNCERTAIN_MESSAGE + (f" (confirm {proposal.confirm})" if proposal.confirm else ""))
    if proposal.spine_found and not proposal.contrast_sure:
        messages.insert(0, CONTRAST_UNSURE_MESSAGE)
    node = levelsNode(state)
    with state.batch():
        if proposal.points:
            setControlPoints(state, node, proposal.positions_ras, proposal.labels)
            for index, point in enumerate(proposal.points):
                node.SetNthControlPointDescription(index, point.description)
            node.SetAttribute(LEVELS_SOURCE_ATTRIBUTE, "automatic")
        node.SetAttribute(LEVEL_MESSAGES_ATTRIBUTE, json.dumps(messages))
        state.dirty = True
    progress(1.0, f"Proposed {len(proposal.points)} level points")
    return proposal


_CONFIDENCE = re.compile(r"confidence\s+([0-9]*\.?[0-9]+)")


def levelPointRows(state: SceneState, model: Any = None) -> list[dict]:
    """Return one row per placed level point, in point order, for the panels: {"index" (the control point's),
    "label", "s_mm" (its S position, RAS mm, 0.1 mm), "kind" ("disc" | "body"), "confidence" (0-1
    for a proposed point, None for one the reader placed), "plane" (where the disc's plane came
    from: "image", "line", "label_map", "assumed"...; None for bodies or without a level model)}.
    ``model`` is the current LevelModel, if any."""
    node = state.roleNode("levels")
    if node is None:
        return []
    planes = {label: source for label, _, _, source in model.disc_planes} if model is not None else {}
    rows = []
    for index in definedPointIndices(node):
        label = node.GetNthControlPointLabel(index)
        found = _CONFIDENCE.search(node.GetNthControlPointDescription(index) or "")
        kind = "disc" if "/" in label or "-" in label.strip("-") else "body"
        rows.append({"index": index, "label": label,
                     "s_mm": round(node.GetNthControlPointPositionWorld(index)[2], 1) + 0.0,
                     "kind": kind, "confidence": float(found.group(1)) if found else None,
                     "plane": planes.get(label.strip()) if kind == "disc" else None})
    return rows


def levelMessages(state: SceneState) -> list[str]:
    """Return the messages of the last level proposal still standing (shown among the warnings)."""
    node = state.roleNode("levels")
    text = node.GetAttribute(LEVEL_MESSAGES_ATTRIBUTE) if node is not None else None
    return json.loads(text) if text else []


def levelLabels(state: SceneState) -> list[str]:
    """Return the level point labels in point order."""
    node = state.roleNode("levels")
    if node is None:
        return []
    return [node.GetNthControlPointLabel(i) for i in range(node.GetNumberOfControlPoints())]


def shiftLevelLabels(state: SceneState, by: int) -> list[str]:
    """Rename every level point ``by`` levels (+1: one level lower/caudal, "T4" -> "T5"; -1: higher)
    in one step; the conus point is not touched. Returns the new labels (point order). Raises
    AutoLevelsError naming the label that would leave C1..S1 (labels unchanged then)."""
    labels = shift_labels(levelLabels(state), int(by))
    _applyLevelLabels(state, labels)
    return labels


def renameLevelPoint(state: SceneState, index: int, label: str) -> list[str]:
    """Name level point ``index`` ``label`` and re-fit every other level point's name from it
    (autolevels.relabel_from_anchor; positions never change). Returns the new labels (point order).
    Raises AutoLevelsError for a bad index or label or a name that would leave C1..S1."""
    node = levelsNode(state)
    pairs = [(node.GetNthControlPointLabel(i), node.GetNthControlPointPositionWorld(i))
             for i in range(node.GetNumberOfControlPoints())]
    labels = relabel_from_anchor(pairs, label.strip(), index)
    _applyLevelLabels(state, labels)
    return labels


def _applyLevelLabels(state: SceneState, labels: list[str]) -> None:
    node = levelsNode(state)
    state.relabeling = True
    try:
        with state.batch():
            wasModifying = node.StartModify()
            for index, label in enumerate(labels):
                node.SetNthControlPointLabel(index, label)
            # the reader confirmed the naming: the proposal's doubts no longer apply
            node.RemoveAttribute(LEVEL_MESSAGES_ATTRIBUTE)
            node.EndModify(wasModifying)
            state.dirty = True
    finally:
        state.relabeling = False
        state.levelLabelsSeen = levelLabels(state)


def refitAfterRename(state: SceneState, node: Any) -> None:
    """Observer of the level point list: when exactly one label changed (and no point was added or
    removed) outside a batch, re-fit the other names from it."""
    labels = [node.GetNthControlPointLabel(i) for i in range(node.GetNumberOfControlPoints())]
    seen = state.levelLabelsSeen
    state.levelLabelsSeen = labels
    if (state.relabeling or state.batchDepth or not state.refitLevelNames
            or seen is None or len(seen) != len(labels)):
        return
    changed = [index for index, (old, new) in enumerate(zip(seen, labels)) if old != new]
    if len(changed) != 1 or not labels[changed[0]].strip():
        return
    try:
        renameLevelPoint(state, changed[0], labels[changed[0]])
    except AutoLevelsError as error:
        # the reader's label stays; the others keep theirs and the warning says why
        node.SetAttribute(LEVEL_MESSAGES_ATTRIBUTE, json.dumps([f"levels: other names not re-fitted: {error}"]))
        state.dirty = True
