"""What the web panel needs that the module Logic does not have yet, written on the Logic's public
methods and plain MRML. The Slicer Widget needs each of these too, so each belongs in the scene layer
(move it there; the web panel calls it through the Logic then):

- ``open_demo``, ``open_exam``: open the demo exam and read / an exam folder's proposed series;
- ``place_markup``, ``start_placement``, ``stop_placement``, ``propose_next_level_label``: (re)place a
  lesion line or the level points with the mouse;
- ``remove_control_point``, ``remove_lesion_markup``: delete one point / one line of a lesion;
- ``CaseHistory``: undo the last change (a case snapshot per settled change);
- ``ReadAutosaver``: save the read folder when the read changed (outside research sessions);
- ``level_points``, ``focus_point_ras``, ``series_display``, ``style_level_points``: what the views
  and lists show.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

ProgressCallback = Callable[[float, str], None]

#: the lesion markups placed with the mouse, in the order a reader draws them
PLACEABLE_ROLES: tuple[str, ...] = ("lesion_si", "lesion_ap", "lesion_transverse", "edema_si")


def _no_progress(_fraction: float, _message: str) -> None:
    pass


def open_exam(logic: Any, folder: str | Path, progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Scan an exam folder and load the proposed series (sagittal T2, T1 post, ...) into the scene's
    series selectors. Returns {role: volume node}. Raises IngestError / VolumeLoadError naming the file."""
    progress = progress or _no_progress
    logic.scanExam(folder, progress=lambda f, m: progress(0.3 * f, m))
    return logic.loadProposedSeries(progress=lambda f, m: progress(0.3 + 0.7 * f, m))


def open_demo(logic: Any, out: str | Path, progress: ProgressCallback | None = None) -> dict:
    """Write the demo exam and read into ``out`` (ISCMAssistLib.demo.run_demo: DICOM series, case.json;
    kept from an earlier run when complete), load its series from DICOM and open its read. Returns the
    case dict."""
    from ISCMAssistLib.demo import run_demo

    progress = progress or _no_progress
    out = Path(out)
    if not ((out / "case.json").is_file() and (out / "dicom" / "t1_post").is_dir()):
        run_demo(out, progress=lambda f, m: progress(0.4 * f, f"Demo: {m}"))
    open_exam(logic, out / "dicom", progress=lambda f, m: progress(0.4 + 0.4 * f, m))
    return logic.openCaseFile(out / "case.json", progress=lambda f, m: progress(0.8 + 0.2 * f, m))


def place_markup(logic: Any, role: str, lesion_id: str | None = None) -> Any:
    """Start placing ``role`` with the mouse: a lesion line ("lesion_si", "lesion_ap",
    "lesion_transverse", "edema_si"; a complete line is cleared first so it is drawn anew) or "levels"
    (persistent: one click per level point). Returns the node."""
    if role == "levels":
        node = logic.levelsNode()
        style_level_points(logic)
        propose_next_level_label(logic)
    else:
        node = logic.addLesionMarkup(lesion_id or logic.addLesion(), role)
        if node.GetNumberOfDefinedControlPoints() >= 2:
            node.RemoveAllControlPoints()
    start_placement(logic, node, persistent=role == "levels")
    return node


def propose_next_level_label(logic: Any) -> str:
    """When no next label is set, propose the one after the lowest-placed level point ("T4" -> "T4/T5");
    return the next label (the Logic gives it to the next point placed)."""
    from .logic_link import NEXT_LEVEL_PARAMETER, nextLevelLabel

    parameter_node = logic.getParameterNode()
    label = (parameter_node.GetParameter(NEXT_LEVEL_PARAMETER) or "").strip()
    points = level_points(logic)
    if not label and points:
        lowest = min(points, key=lambda point: point["s_mm"])["label"]
        label = nextLevelLabel(lowest)
        parameter_node.SetParameter(NEXT_LEVEL_PARAMETER, label)
    return label


def start_placement(logic: Any, node: Any, persistent: bool = False) -> bool:
    """Make ``node`` the list that clicks in the views add points to and enter place mode; return
    whether it could (False without an interaction node). The Logic's own startPlacement."""
    return bool(logic.startPlacement(node, persistent))


def stop_placement(logic: Any) -> None:
    """Leave place mode (the views go back to window/level, pan and zoom)."""
    interaction = logic.scene.GetNodeByID("vtkMRMLInteractionNodeSingleton")
    if interaction is not None:
        interaction.SetCurrentInteractionMode(interaction.ViewTransform)


def placing(logic: Any) -> bool:
    """Return whether the views are in place mode."""
    interaction = logic.scene.GetNodeByID("vtkMRMLInteractionNodeSingleton")
    return interaction is not None and interaction.GetCurrentInteractionMode() == interaction.Place


def remove_control_point(logic: Any, role: str, index: int, lesion_id: str | None = None) -> None:
    """Delete control point ``index`` of a lesion line (role, lesion_id) or of the level points ("levels")."""
    node = logic.roleNode(role) if role in ("levels", "conus") else logic.lesionNodes(lesion_id).get(role)
    if node is None or not 0 <= index < node.GetNumberOfControlPoints():
        raise ValueError(f"{role}: no point {index} to delete")
    node.RemoveNthControlPoint(int(index))


def remove_lesion_markup(logic: Any, lesion_id: str, role: str) -> None:
    """Delete one markup (e.g. the edema line) of a lesion; the lesion and its checklist stay."""
    node = logic.lesionNodes(lesion_id).get(role)
    if node is not None:
        logic.scene.RemoveNode(node)


def level_points(logic: Any) -> list[dict]:
    """Return the level points for the panel's list: index, label, and S position (RAS mm)."""
    node = logic.roleNode("levels")
    if node is None:
        return []
    return [{"index": i, "label": node.GetNthControlPointLabel(i),
             "s_mm": round(node.GetNthControlPointPositionWorld(i)[2], 1)}
            for i in range(node.GetNumberOfControlPoints())]


def focus_point_ras(logic: Any, lesion_id: str | None) -> list[float] | None:
    """Return where the views should be centred (RAS mm): the middle of the lesion's SI (else any)
    line, else the middle of the level points; None when nothing is placed."""
    nodes = logic.lesionNodes(lesion_id) if lesion_id else {}
    for role in PLACEABLE_ROLES:
        node = nodes.get(role)
        if node is not None and node.GetNumberOfDefinedControlPoints() >= 2:
            ends = np.array([node.GetNthControlPointPositionWorld(i) for i in range(2)])
            return ends.mean(axis=0).tolist()
    levels = logic.roleNode("levels")
    if levels is not None and levels.GetNumberOfControlPoints():
        points = np.array([levels.GetNthControlPointPositionWorld(i) for i in range(levels.GetNumberOfControlPoints())])
        return points.mean(axis=0).tolist()
    return None


#: the level points' colour (RGB 0-1): apart from every lesion colour, as the level labels are read
#: beside the lesions' lines
LEVEL_POINTS_COLOR = (1.0, 0.85, 0.25)


def style_level_points(logic: Any) -> None:
    """Show the level points in their own colour with smaller labels (the Logic colours only lesions)."""
    node = logic.roleNode("levels")
    display = node.GetDisplayNode() if node is not None else None
    if display is not None:
        display.SetSelectedColor(*LEVEL_POINTS_COLOR)
        display.SetColor(*LEVEL_POINTS_COLOR)
        display.SetTextScale(2.5)
        display.SetGlyphScale(2.0)


def series_display(volume_node: Any) -> dict:
    """Return a volume's window/level for the panel: {"window", "level", "min", "max"} (image units)."""
    display = volume_node.GetDisplayNode() if volume_node is not None else None
    image = volume_node.GetImageData() if volume_node is not None else None
    if display is None or image is None:
        return {"window": 1.0, "level": 0.0, "min": 0.0, "max": 1.0}
    low, high = image.GetScalarRange()
    return {"window": float(display.GetWindow()), "level": float(display.GetLevel()),
            "min": float(low), "max": float(high)}


def set_window_level(volume_node: Any, window: float, level: float) -> None:
    """Set a volume's window and level (image units); automatic window/level is switched off."""
    display = volume_node.GetDisplayNode() if volume_node is not None else None
    if display is not None:
        display.AutoWindowLevelOff()
        display.SetWindowLevel(float(window), float(level))


def _case_text(logic: Any) -> str:
    return json.dumps(logic.getCase(), sort_keys=True)


class CaseHistory:
    """Undo for the read: a snapshot of the case (markups and checklist) each time it settles.

    Call :meth:`observe` periodically (the panel's timer): a case that stayed the same for two calls in
    a row becomes a step, so a drag or a burst of edits is one step. :meth:`undo` brings back the case
    before the last step (markups rebuilt from it with the Logic's loadCaseIntoScene)."""

    def __init__(self, logic: Any, depth: int = 50) -> None:
        self.logic = logic
        self.depth = depth
        self._steps: list[str] = []
        self._last_seen: str | None = None

    def reset(self) -> None:
        """Forget every step (a new case was opened); the current case becomes the first one."""
        self._steps = [_case_text(self.logic)]
        self._last_seen = self._steps[0]

    def observe(self) -> bool:
        """Record the current case as a step when it changed and then stayed; return whether it did."""
        text = _case_text(self.logic)
        settled = text == self._last_seen
        self._last_seen = text
        if settled and (not self._steps or self._steps[-1] != text):
            self._steps.append(text)
            del self._steps[:-self.depth]
            return True
        return False

    def can_undo(self) -> bool:
        """Return whether there is a change to undo."""
        return len(self._steps) >= 2 or (bool(self._steps) and _case_text(self.logic) != self._steps[-1])

    def undo(self) -> bool:
        """Put back the case before the last change; return False when there is nothing to undo.
        Raises ValueError for a read with an ROI or segmentation (the case cannot rebuild those)."""
        if not self.can_undo():
            return False
        kept = {"lesion_roi", "lesion_segment", "edema_segment"}
        if any(kept & set(self.logic.lesionNodes(lesion_id)) for lesion_id in self.logic.lesionIds()):
            raise ValueError("this read has an ROI or a segmentation, which undo cannot restore; "
                             "delete or move the markup instead")
        current = _case_text(self.logic)
        if current == self._steps[-1]:
            self._steps.pop()
        target = self._steps[-1]
        from .logic_link import ACTIVE_LESION_PARAMETER

        active = self.logic.getParameterNode().GetParameter(ACTIVE_LESION_PARAMETER)
        self.logic.loadCaseIntoScene(json.loads(target))
        if active in self.logic.lesionIds():
            self.logic.getParameterNode().SetParameter(ACTIVE_LESION_PARAMETER, active)
        self._last_seen = _case_text(self.logic)
        self._steps[-1] = self._last_seen
        return True


class ReadAutosaver:
    """Outside research sessions: save the read into a read folder whenever it changed, at most once
    per ``interval_s`` (Logic.saveRead writes a complete folder and swaps it in)."""

    def __init__(self, logic: Any, folder: str | Path, interval_s: float = 1.0) -> None:
        self.logic = logic
        self.folder = Path(folder)
        self.interval_s = interval_s
        self._saved: str | None = None
        self._last_save = 0.0
        self.save_count = 0

    def mark_saved(self) -> None:
        """Take the current read as saved (just opened from the folder)."""
        self._saved = _case_text(self.logic)

    def autosave(self, force: bool = False) -> bool:
        """Save when the read changed since the last save (or ``force``); return whether it saved."""
        if not force and time.monotonic() - self._last_save < self.interval_s:
            return False
        text = _case_text(self.logic)
        if not force and text == self._saved:
            return False
        if not self.logic.lesionIds() and self.logic.roleNode("levels") is None:
            return False  # an empty scene is never saved over a read
        self.logic.saveRead(self.folder)
        self._saved, self._last_save = text, time.monotonic()
        self.save_count += 1
        return True
