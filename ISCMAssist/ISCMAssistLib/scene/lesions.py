"""Lesions and their markups in the scene: lesion folders, role nodes (lines, ROI, segmentations,
level and conus point lists), their colours and control points, and reading their geometry back.

Node roles are node attributes the scene file keeps (``names.ROLE_ATTRIBUTE``, and for lesion nodes
``names.LESION_ATTRIBUTE``). Each lesion has a subject hierarchy folder "Lesion N" holding its
markups, coloured per lesion. Positions are RAS mm.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import slicer
import vtk

from ..case import new_lesion
from ..volumes import Volume
from .arrays import arrayToMatrix, fillImage, imageToArray, matrixToArray
from .errors import RoleError
from .names import (
    ACTIVE_LESION_PARAMETER,
    CASE_PARAMETER,
    CONUS_NODE_NAME,
    HINTS_PARAMETER,
    LESION_ATTRIBUTE,
    LESION_ID_RE,
    LESION_ROLES,
    LEVEL_POINTS_COLOR,
    LEVEL_POINTS_GLYPH_SCALE,
    LEVEL_POINTS_TEXT_SCALE,
    LEVELS_NODE_NAME,
    LINE_ROLES,
    ROLE_ATTRIBUTE,
    SCENE_ROLES,
    ROLE_CLASS,
    ROLE_TITLE,
    SEGMENT_ROLES,
    TABLE_PARAMETER,
    WARNINGS_PARAMETER,
    lesionColor,
    lesionName,
    lesionNumber,
)
from .state import SceneState


def lesionFolders(state: SceneState) -> dict[str, int]:
    """Return lesion id -> subject hierarchy folder item, for every lesion folder in the scene."""
    sh = state.scene.GetSubjectHierarchyNode()
    ids = vtk.vtkIdList()
    sh.GetItemChildren(sh.GetSceneItemID(), ids, True)
    folders = {}
    for index in range(ids.GetNumberOfIds()):
        item = ids.GetId(index)
        lesionId = sh.GetItemAttribute(item, LESION_ATTRIBUTE)
        if lesionId and sh.GetItemDataNode(item) is None:
            folders[lesionId] = item
    return folders


def lesionIds(state: SceneState) -> list[str]:
    """Return the ids of the lesions in the scene ("L1", "L2", ...), in number order."""
    ids = set(lesionFolders(state))
    ids.update(node.GetAttribute(LESION_ATTRIBUTE) for node in state.roleNodes.values()
               if node.GetAttribute(LESION_ATTRIBUTE))
    return sorted((i for i in ids if LESION_ID_RE.match(i)), key=lesionNumber)


def lesionFolder(state: SceneState, lesionId: str) -> int:
    """Return the lesion's subject hierarchy folder item, created ("Lesion N") when missing."""
    folder = lesionFolders(state).get(lesionId)
    if folder is None:
        sh = state.scene.GetSubjectHierarchyNode()
        folder = sh.CreateFolderItem(sh.GetSceneItemID(), lesionName(lesionId))
        sh.SetItemAttribute(folder, LESION_ATTRIBUTE, lesionId)
    return folder


def addLesion(state: SceneState) -> str:
    """Add the next lesion (id one above the highest so far; folder "Lesion N"), make it the active
    lesion; return its id."""
    existing = [lesionNumber(i) for i in lesionIds(state)]
    lesionId = f"L{max(existing, default=0) + 1}"
    lesionFolder(state, lesionId)
    state.parameterNode().SetParameter(ACTIVE_LESION_PARAMETER, lesionId)
    state.requestRecompute()
    return lesionId


def addLesionMarkup(state: SceneState, lesionId: str, role: str, pointsRas: Any = None) -> Any:
    """Create (or return the existing) node of ``role`` for a lesion and put it in the lesion folder.

    pointsRas: optional control points, RAS mm, shape (N, 3) (lines take 2); for "lesion_roi" give
    [[centre], [size_rl, size_ap, size_si]] in mm. Returns the node.
    """
    lesionNumber(lesionId)
    if role not in LESION_ROLES:
        raise RoleError(f"lesion role '{role}' is not one of {', '.join(LESION_ROLES)}")
    if pointsRas is not None and role in SEGMENT_ROLES:
        raise RoleError(f"{role}: a segmentation takes a mask (addLesionSegment), not points")
    node = state.lesionNodes(lesionId).get(role)
    if node is None:
        with state.batch():
            node = createRoleNode(state, role, f"{lesionName(lesionId)} {ROLE_TITLE[role]}", lesionId)
            if pointsRas is not None:
                setControlPoints(state, node, pointsRas)
    elif pointsRas is not None:
        setControlPoints(state, node, pointsRas)
    return node


def addLesionSegment(state: SceneState, lesionId: str, role: str, mask: Any, name: str | None = None) -> Any:
    """Put a binary mask (core Volume: array [k, j, i] non-zero inside, ijk_to_ras RAS mm) into the
    lesion's "lesion_segment" or "edema_segment" segmentation node as one more segment; return the node."""
    if role not in SEGMENT_ROLES:
        raise RoleError(f"segment role '{role}' is not lesion_segment or edema_segment")
    image = fillImage(slicer.vtkOrientedImageData(), (np.asarray(mask.array) != 0).astype(np.uint8))
    image.SetImageToWorldMatrix(arrayToMatrix(mask.ijk_to_ras))
    with state.batch():
        node = addLesionMarkup(state, lesionId, role)
        segmentName = name or f"{lesionName(lesionId)} {ROLE_TITLE[role]}"
        node.AddSegmentFromBinaryLabelmapRepresentation(image, segmentName, lesionColor(lesionId))
        adoptNode(state, node)  # colour the new segment
        state.dirty = True
    return node


def createRoleNode(state: SceneState, role: str, name: str, lesionId: str | None) -> Any:
    """Add a node of ``role`` named ``name`` (a lesion's when ``lesionId``) to the scene; return it."""
    # Attributes are set before AddNode so that NodeAddedEvent already sees the role.
    node = state.scene.CreateNodeByClass(ROLE_CLASS[role])
    node.UnRegister(None)
    node.SetName(name)
    node.SetAttribute(ROLE_ATTRIBUTE, role)
    if lesionId:
        node.SetAttribute(LESION_ATTRIBUTE, lesionId)
    state.scene.AddNode(node)
    node.CreateDefaultDisplayNodes()
    adoptNode(state, node)
    return node


def adoptNode(state: SceneState, node: Any) -> None:
    """Put a role node in its lesion folder and colour it (the Logic observes it through NodeAdded)."""
    lesionId = node.GetAttribute(LESION_ATTRIBUTE)
    role = node.GetAttribute(ROLE_ATTRIBUTE)
    if lesionId:
        sh = state.scene.GetSubjectHierarchyNode()
        folder = lesionFolder(state, lesionId)
        item = sh.GetItemByDataNode(node)
        if item:
            sh.SetItemParent(item, folder)
        else:  # in the app the subject hierarchy plugins add the item; headless nobody does
            sh.CreateItem(folder, node)
        color = lesionColor(lesionId, edema=role in ("edema_si", "edema_segment"))
        display = node.GetDisplayNode()
        if display is not None and node.IsA("vtkMRMLMarkupsNode"):
            display.SetSelectedColor(*color)
            display.SetColor(*color)
        elif node.IsA("vtkMRMLSegmentationNode"):
            segmentation = node.GetSegmentation()
            for index in range(segmentation.GetNumberOfSegments()):
                segmentation.GetNthSegment(index).SetColor(*color)
    if role == "conus":
        node.SetMaximumNumberOfControlPoints(1)
    if role == "levels" and node.GetDisplayNode() is not None:
        display = node.GetDisplayNode()
        display.SetSelectedColor(*LEVEL_POINTS_COLOR)
        display.SetColor(*LEVEL_POINTS_COLOR)
        display.SetTextScale(LEVEL_POINTS_TEXT_SCALE)
        display.SetGlyphScale(LEVEL_POINTS_GLYPH_SCALE)
    state.observeNode(node)


def levelsNode(state: SceneState) -> Any:
    """Return the vertebral-level point list (labels "C2", "T4/T5", ...; created when missing)."""
    return state.roleNode("levels") or createRoleNode(state, "levels", LEVELS_NODE_NAME, None)


def conusNode(state: SceneState) -> Any:
    """Return the conus tip point list (one point; created when missing)."""
    return state.roleNode("conus") or createRoleNode(state, "conus", CONUS_NODE_NAME, None)


def setControlPoints(state: SceneState, node: Any, pointsRas: Any, labels: list[str] | None = None) -> None:
    """Replace a markup's control points (RAS mm, (N, 3)); ROI nodes take [[centre], [size]] (mm)."""
    points = np.asarray(pointsRas, dtype=float).reshape(-1, 3)
    with state.batch():
        if node.IsA("vtkMRMLMarkupsROINode"):
            if len(points) != 2:
                raise ValueError(f"{node.GetName()}: an ROI takes [centre, size] in mm")
            node.SetCenterWorld(*points[0])
            node.SetSize(*points[1])
            return
        if node.IsA("vtkMRMLMarkupsLineNode") and len(points) != 2:
            raise ValueError(f"{node.GetName()}: a line takes 2 points, got {len(points)}")
        wasModifying = node.StartModify()
        node.RemoveAllControlPoints()
        for index, point in enumerate(points):
            position = vtk.vtkVector3d(*point)
            label = labels[index] if labels else ""
            node.AddControlPointWorld(position, label) if label else node.AddControlPointWorld(position)
        node.EndModify(wasModifying)
        state.dirty = True


def removeLesion(state: SceneState, lesionId: str) -> None:
    """Remove a lesion: its nodes (and their observers), its folder and its record in the case."""
    lesionNumber(lesionId)
    with state.batch():
        for node in state.lesionNodes(lesionId).values():
            state.scene.RemoveNode(node)
        folder = lesionFolders(state).get(lesionId)
        if folder is not None:
            state.scene.GetSubjectHierarchyNode().RemoveItem(folder, True, False)
        case = state.getCase()
        case["lesions"] = [lesion for lesion in case["lesions"] if lesion.get("id") != lesionId]
        state.storeCase(case)
        parameterNode = state.parameterNode()
        if parameterNode.GetParameter(ACTIVE_LESION_PARAMETER) == lesionId:
            remaining = lesionIds(state)
            parameterNode.SetParameter(ACTIVE_LESION_PARAMETER, remaining[-1] if remaining else "")
        state.dirty = True


def clearRead(state: SceneState) -> None:
    """Remove every ISCMAssist node, lesion folder, the table and the stored case from the scene."""
    with state.batch():
        for node in list(state.roleNodes.values()):
            state.scene.RemoveNode(node)
        sh = state.scene.GetSubjectHierarchyNode()
        for folder in lesionFolders(state).values():
            sh.RemoveItem(folder, True, False)
        parameterNode = state.parameterNode()
        table = parameterNode.GetNodeReference(TABLE_PARAMETER)
        if table is not None:
            state.scene.RemoveNode(table)
        for name in (CASE_PARAMETER, HINTS_PARAMETER, WARNINGS_PARAMETER, ACTIVE_LESION_PARAMETER):
            parameterNode.SetParameter(name, "")
        state.caseText = state.case = None
        state.extraWarnings = []
        state.dirty = False


def removeLesionMarkup(state: SceneState, lesionId: str, role: str) -> None:
    """Delete one markup of a lesion (e.g. its edema line); the lesion, its folder and its checklist
    stay. A role the lesion has no node for is a no-op; raises RoleError for a bad lesion id or role."""
    lesionNumber(lesionId)
    if role not in LESION_ROLES:
        raise RoleError(f"lesion role '{role}' is not one of {', '.join(LESION_ROLES)}")
    node = state.lesionNodes(lesionId).get(role)
    if node is not None:
        state.scene.RemoveNode(node)


def removeControlPoint(state: SceneState, role: str, index: int, lesionId: str | None = None) -> None:
    """Delete control point ``index`` of a lesion's markup (``role``, ``lesionId``) or of a scene-wide
    point list ("levels", "conus"). Raises ValueError naming the role when there is no such point."""
    node = state.roleNode(role) if role in SCENE_ROLES else state.lesionNodes(lesionId or "").get(role)
    if node is None or not 0 <= int(index) < node.GetNumberOfControlPoints():
        raise ValueError(f"{role}: no point {index} to delete")
    node.RemoveNthControlPoint(int(index))


def lesionRecord(state: SceneState, case: dict, lesionId: str) -> dict:
    """Return the case's record of a lesion in the scene (added when the case has none yet).
    Raises RoleError for a lesion id the scene does not hold."""
    for lesion in case["lesions"]:
        if lesion["id"] == lesionId:
            return lesion
    if lesionId in lesionIds(state):
        lesion = new_lesion(lesionId)
        case["lesions"].append(lesion)
        return lesion
    raise RoleError(f"lesion '{lesionId}' is not in the scene (lesions: {', '.join(lesionIds(state)) or 'none'})")


# ---------------------------------------------------------------------- geometry read back (RAS mm)

def definedPointIndices(node: Any) -> list[int]:
    """Return the indices of a markup's placed control points: not the one following the mouse while
    placing (preview), nor one whose position was cleared."""
    return [index for index in range(node.GetNumberOfControlPoints())
            if node.GetNthControlPointPositionStatus(index) == node.PositionDefined]


def linePoints(node: Any) -> np.ndarray | None:
    """Take a line node; return its first two defined control points (RAS mm, (2, 3)), or None."""
    defined = node.GetNumberOfDefinedControlPoints()
    if defined < 2:
        return None
    if defined == node.GetNumberOfControlPoints():  # the usual case; skips the status checks
        return np.array([node.GetNthControlPointPositionWorld(0), node.GetNthControlPointPositionWorld(1)])
    points = [node.GetNthControlPointPositionWorld(i) for i in definedPointIndices(node)]
    return np.array(points[:2], dtype=float)


def roiLines(node: Any) -> dict[str, np.ndarray]:
    """Take an ROI node; return its three axes through its centre as RAS lines: transverse (R-L), ap, si."""
    if node.GetNumberOfDefinedControlPoints() < 1:
        return {}
    matrix = node.GetObjectToWorldMatrix()
    centre = np.array([matrix.GetElement(i, 3) for i in range(3)])
    size = np.array(node.GetSize(), dtype=float)
    lines = {}
    for axisIndex, name in enumerate(("transverse", "ap", "si")):
        direction = np.array([matrix.GetElement(i, axisIndex) for i in range(3)])
        half = 0.5 * size[axisIndex] * direction / (np.linalg.norm(direction) or 1.0)
        lines[name] = np.vstack([centre - half, centre + half])
    return lines


def focusPoint(state: SceneState, lesionId: str | None = None) -> list[float] | None:
    """Return where the views should be centred (RAS mm, [R, A, S]): the middle of the lesion's SI line
    (else its AP, transverse or edema line), else the mean of the placed level points; None when nothing
    of these is placed."""
    nodes = state.lesionNodes(lesionId) if lesionId else {}
    for role in LINE_ROLES:
        line = linePoints(nodes[role]) if role in nodes else None
        if line is not None:
            return line.mean(axis=0).tolist()
    levels = state.roleNode("levels")
    points = [levels.GetNthControlPointPositionWorld(i) for i in definedPointIndices(levels)] if levels else []
    return np.array(points).mean(axis=0).tolist() if points else None


def landmarks(state: SceneState) -> tuple[list[str], np.ndarray]:
    """Return the defined level points and the conus tip: (labels, RAS mm (N, 3)); the conus is "conus"."""
    labels: list[str] = []
    points: list[Any] = []
    for node in (state.roleNode("levels"), state.roleNode("conus")):
        if node is None:
            continue
        isConus = node.GetAttribute(ROLE_ATTRIBUTE) == "conus"
        for index in definedPointIndices(node):
            labels.append("conus" if isConus else node.GetNthControlPointLabel(index).strip())
            points.append(node.GetNthControlPointPositionWorld(index))
    return labels, np.array(points, dtype=float).reshape(-1, 3)


def segmentMask(node: Any) -> Volume | None:
    """Take a segmentation node; return the union of its segments as a core Volume (binary uint8,
    ijk_to_ras RAS mm), or None when it has no segment."""
    segmentation = node.GetSegmentation()
    if segmentation.GetNumberOfSegments() == 0:
        return None
    mask = None
    for index in range(segmentation.GetNumberOfSegments()):
        segmentId = segmentation.GetNthSegmentID(index)
        image = node.GetBinaryLabelmapInternalRepresentation(segmentId)
        if image is None or image.IsEmpty():
            continue
        extent = image.GetExtent()
        dims = (extent[1] - extent[0] + 1, extent[3] - extent[2] + 1, extent[5] - extent[4] + 1)
        values = imageToArray(image, dims)
        labelValue = segmentation.GetNthSegment(index).GetLabelValue()
        imageToWorld = vtk.vtkMatrix4x4()
        image.GetImageToWorldMatrix(imageToWorld)
        ijkToRas = matrixToArray(imageToWorld)
        ijkToRas[:3, 3] = ijkToRas[:3, :3] @ np.array(extent[0::2], dtype=float) + ijkToRas[:3, 3]
        current = (values == labelValue).astype(np.uint8)
        if mask is None:
            mask = Volume(current, ijkToRas)
        elif current.shape == mask.array.shape and np.allclose(ijkToRas, mask.ijk_to_ras):
            mask = Volume(np.maximum(mask.array, current), ijkToRas)
    return mask
