"""Every name the scene layer stores in a Slicer scene, defined once: node attributes, node roles, node
names, the parameter node's parameters (and, inside the Slicer app, its ``@parameterNodeWrapper``
class), lesion ids with their display names and colours.

Imports nothing from slicer at module level: the wrapper class is built only where
``slicer.parameterNodeWrapper`` exists (the desktop app); headless it is None and the Logic reads and
writes the same parameters through ``vtkMRMLScriptedModuleNode`` directly.
"""

from __future__ import annotations

import re
import sys
from typing import Annotated, Any

from ..case import DEFAULT_CASE_ID, LINE_ROLE_NAMES
from .errors import RoleError

MODULE_NAME = "ISCMAssist"

# ---------------------------------------------------------------- node attributes (saved with the scene)
ROLE_ATTRIBUTE = "ISCMAssist.Role"
LESION_ATTRIBUTE = "ISCMAssist.LesionId"
SOURCE_ATTRIBUTE = "ISCMAssist.SourcePath"  # file or DICOM folder a series volume was loaded from
GAPS_ATTRIBUTE = "ISCMAssist.SliceGaps"  # JSON [[k_first, k_last, gap_mm, step_mm], ...] of missing slices
#: where the level points came from ("landmarks" | "automatic" | "label_map")
LEVELS_SOURCE_ATTRIBUTE = "ISCMAssist.LevelsSource"
#: JSON list of the last level proposal's messages, shown among the warnings until the reader confirms
LEVEL_MESSAGES_ATTRIBUTE = "ISCMAssist.LevelMessages"
#: on volumes loaded for a session case (removed when the next case is loaded)
SESSION_VOLUME_ATTRIBUTE = "ISCMAssist.SessionCase"
#: the reading role a loaded series was chosen for (also for roles without a selector)
SERIES_ROLE_ATTRIBUTE = "ISCMAssist.SeriesRole"

# ---------------------------------------------------------------- node roles
#: line node role -> name of the line in the case's ``lines_lps`` (the core's map)
LINE_ROLES: dict[str, str] = dict(LINE_ROLE_NAMES)
#: line name in ``lines_lps`` -> line node role
LINE_NAME_ROLES: dict[str, str] = {name: role for role, name in LINE_ROLES.items()}
LESION_ROLES: tuple[str, ...] = (
    "lesion_si", "lesion_ap", "lesion_transverse", "lesion_roi", "edema_si", "lesion_segment", "edema_segment",
)
SEGMENT_ROLES: tuple[str, ...] = ("lesion_segment", "edema_segment")
SCENE_ROLES: tuple[str, ...] = ("levels", "conus")
ROLES: tuple[str, ...] = LESION_ROLES + SCENE_ROLES
ROLE_CLASS: dict[str, str] = {
    **{role: "vtkMRMLMarkupsLineNode" for role in LINE_ROLES},
    "lesion_roi": "vtkMRMLMarkupsROINode",
    "lesion_segment": "vtkMRMLSegmentationNode",
    "edema_segment": "vtkMRMLSegmentationNode",
    "levels": "vtkMRMLMarkupsFiducialNode",
    "conus": "vtkMRMLMarkupsFiducialNode",
}
ROLE_TITLE: dict[str, str] = {
    "lesion_si": "SI", "lesion_ap": "AP", "lesion_transverse": "transverse", "lesion_roi": "ROI",
    "edema_si": "edema SI", "lesion_segment": "segment", "edema_segment": "edema segment",
}
#: the series each line is drawn on: lines that cross a slice gap of it are not measured
LINE_SERIES: dict[str, str] = {"si": "t1_post", "ap": "t1_post", "transverse": "t1_post", "edema_si": "t2_sagittal"}

# ---------------------------------------------------------------- node names
LEVELS_NODE_NAME = "Vertebral levels"
CONUS_NODE_NAME = "Conus tip"
TABLE_NODE_NAME = "ISCMAssist lesions"

# ---------------------------------------------------------------- parameter node
#: series role -> parameter holding its volume node reference
SERIES_PARAMETERS: dict[str, str] = {"t2_sagittal": "t2Volume", "t1_post": "t1PostVolume", "t1_pre": "t1PreVolume"}
TABLE_PARAMETER = "lesionTable"
CASE_PARAMETER = "caseJson"
HINTS_PARAMETER = "hintsJson"
WARNINGS_PARAMETER = "warningsJson"
CASE_ID_PARAMETER = "caseId"
READER_PARAMETER = "readerName"
ACTIVE_LESION_PARAMETER = "activeLesionId"
NEXT_LEVEL_PARAMETER = "nextLevelLabel"
FIRST_LEVEL_LABEL = "C2"

#: every parameter: name -> (kind, default); kind is a vtkMRML node class name or ``str``
PARAMETERS: dict[str, tuple[Any, str]] = {
    **{name: ("vtkMRMLScalarVolumeNode", "") for name in SERIES_PARAMETERS.values()},
    TABLE_PARAMETER: ("vtkMRMLTableNode", ""),
    CASE_ID_PARAMETER: (str, DEFAULT_CASE_ID),
    READER_PARAMETER: (str, ""),
    CASE_PARAMETER: (str, ""),
    HINTS_PARAMETER: (str, ""),
    WARNINGS_PARAMETER: (str, ""),
    ACTIVE_LESION_PARAMETER: (str, ""),
    NEXT_LEVEL_PARAMETER: (str, FIRST_LEVEL_LABEL),
}

# ---------------------------------------------------------------- lesion ids, names, colours
#: per-lesion colours (RGB 0-1), lesion n takes entry (n - 1) mod 10; edema nodes are a lighter tint
LESION_COLORS: tuple[tuple[float, float, float], ...] = (
    (0.90, 0.16, 0.16), (0.12, 0.47, 0.71), (0.17, 0.63, 0.17), (1.00, 0.50, 0.05), (0.58, 0.40, 0.74),
    (0.55, 0.34, 0.29), (0.89, 0.47, 0.76), (0.74, 0.74, 0.13), (0.09, 0.75, 0.81), (0.50, 0.50, 0.50),
)
LESION_ID_RE = re.compile(r"^L([1-9][0-9]*)$")
#: the level points' colour (RGB 0-1), apart from every lesion colour: their labels are read beside
#: the lesions' lines
LEVEL_POINTS_COLOR: tuple[float, float, float] = (1.0, 0.85, 0.25)
#: the level points' label and glyph sizes (Slicer's defaults are 3; a column of 20 labels crowds them)
LEVEL_POINTS_TEXT_SCALE = 2.5
LEVEL_POINTS_GLYPH_SCALE = 2.0


def lesionNumber(lesionId: str) -> int:
    """Take a lesion id "L3"; return 3. Raises RoleError for anything not of the form L1, L2, ..."""
    match = LESION_ID_RE.match(str(lesionId))
    if not match:
        raise RoleError(f"lesion id '{lesionId}' is not of the form L1, L2, ...")
    return int(match.group(1))


def lesionName(lesionId: str) -> str:
    """Take a lesion id "L3"; return its display name "Lesion 3"."""
    return f"Lesion {lesionNumber(lesionId)}"


def lesionColor(lesionId: str, edema: bool = False) -> tuple[float, float, float]:
    """Take a lesion id; return its RGB colour (0-1 floats), a lighter tint of it for edema nodes."""
    color = LESION_COLORS[(lesionNumber(lesionId) - 1) % len(LESION_COLORS)]
    if edema:
        color = tuple(c + (1.0 - c) * 0.45 for c in color)
    return color


def _parameterNodeClass() -> Any:
    """The ``@parameterNodeWrapper`` class over PARAMETERS (Slicer app only), else None."""
    slicer = sys.modules.get("slicer")  # the app imports slicer first; headless callers need no wrapper
    if slicer is None:
        return None
    try:
        from slicer.parameterNodeWrapper import Default, parameterNodeWrapper
    except ImportError:  # slicer-core outside the app has no parameterNodeWrapper
        return None
    annotations = {}
    for name, (kind, default) in PARAMETERS.items():
        if kind is str:
            annotations[name] = Annotated[str, Default(default)] if default else str
        else:
            annotations[name] = getattr(slicer, kind)
    namespace = {"__annotations__": annotations, "__module__": __name__,
                 "__doc__": "The module's state in the scene (saved with it); fields are names.PARAMETERS."}
    return parameterNodeWrapper(type("ISCMAssistParameterNode", (), namespace))


#: the Widget's typed view of the parameter node (None outside the Slicer app)
ISCMAssistParameterNode = _parameterNodeClass()
