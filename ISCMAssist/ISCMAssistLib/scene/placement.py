"""Placing markups with the mouse, as in Slicer: which point list or line the clicks in the views go
to, place mode on and off.

Works through the scene's selection and interaction nodes (vtkMRMLSelectionNodeSingleton,
vtkMRMLInteractionNodeSingleton): the Slicer app and trame-slicer's web views both have them; a bare
headless scene has none, and placement then does not start.
"""

from __future__ import annotations

from typing import Any

from .errors import RoleError
from .lesions import addLesion, addLesionMarkup, conusNode, levelsNode
from .levels import proposeNextLevelLabel
from .names import LINE_ROLES, SCENE_ROLES, SEGMENT_ROLES
from .state import SceneState


def _interactionNode(state: SceneState) -> Any:
    return state.scene.GetNodeByID("vtkMRMLInteractionNodeSingleton")


def startPlacement(state: SceneState, node: Any, persistent: bool = False) -> bool:
    """Make ``node`` the active markup and switch the views to place mode (``persistent``: every click
    adds a point until :func:`stopPlacement`); return whether placement started (False without an
    interaction node)."""
    selectionNode = state.scene.GetNodeByID("vtkMRMLSelectionNodeSingleton")
    interactionNode = _interactionNode(state)
    if selectionNode is None or interactionNode is None:
        return False
    # Set on the selection node itself: vtkSlicerMarkupsLogic.StartPlaceMode sets the class to place
    # back to a point list, so a click while placing a line made a new point list instead.
    selectionNode.SetReferenceActivePlaceNodeClassName(node.GetClassName())
    selectionNode.SetActivePlaceNodeID(node.GetID())
    interactionNode.SetPlaceModePersistence(1 if persistent else 0)
    interactionNode.SetCurrentInteractionMode(interactionNode.Place)
    return True


def stopPlacement(state: SceneState) -> None:
    """Leave place mode: the views go back to window/level, pan and zoom."""
    interactionNode = _interactionNode(state)
    if interactionNode is not None:
        interactionNode.SetCurrentInteractionMode(interactionNode.ViewTransform)


def isPlacing(state: SceneState) -> bool:
    """Return whether the views are in place mode."""
    interactionNode = _interactionNode(state)
    return interactionNode is not None and interactionNode.GetCurrentInteractionMode() == interactionNode.Place


def placeMarkup(state: SceneState, role: str, lesionId: str | None = None) -> Any:
    """Start placing ``role`` with the mouse and return its node.

    A lesion markup ("lesion_si", "lesion_ap", "lesion_transverse", "edema_si", "lesion_roi") of
    ``lesionId`` (a new lesion when None): a complete line is cleared first, so it is drawn anew.
    "levels": persistent, one click per level point, each named with the proposed next label.
    "conus": the one conus tip point, placed anew. Raises RoleError for an unknown role or lesion id
    and for a segmentation (painted in Segment Editor, not placed).
    """
    if role in SEGMENT_ROLES:
        raise RoleError(f"{role}: a segmentation is painted (Segment Editor), not placed with clicks")
    if role in SCENE_ROLES:
        node = levelsNode(state) if role == "levels" else conusNode(state)
        if role == "levels":
            proposeNextLevelLabel(state)
        elif node.GetNumberOfDefinedControlPoints():
            node.RemoveAllControlPoints()
    else:
        node = addLesionMarkup(state, lesionId or addLesion(state), role)
        if role in LINE_ROLES and node.GetNumberOfDefinedControlPoints() >= 2:
            node.RemoveAllControlPoints()
    startPlacement(state, node, persistent=role == "levels")
    return node
