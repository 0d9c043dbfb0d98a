"""Research sessions in the scene: open a session folder as a reader, load the next case (its series
and the saved read), autosave every change and mark cases done (core: ISCMAssistLib.session,
docs/sessions.md).

Autosave is debounced without a timer: every change of the held case sets ``state.caseChanged``
(SceneState.storeCase, called by each recomputation and checklist edit); :meth:`SceneSession.autosaveNow`
writes the read when it is set. The Widget's QTimer calls it every ``AUTOSAVE_INTERVAL_S`` seconds,
so a burst of changes (a point drag) costs at most one save per interval; markDone, nextCase and
closeSession flush at once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .. import session as sessionmod
from ..progress import PanelProgress, no_progress
from ..session import SessionError
from .lesions import lesionIds
from .names import ACTIVE_LESION_PARAMETER, NEXT_LEVEL_PARAMETER, SESSION_VOLUME_ATTRIBUTE
from .opening import loadCaseIntoScene
from .series import loadSeries
from .state import SceneState

#: seconds between the Widget's autosave checks (at most one save per interval of changes)
AUTOSAVE_INTERVAL_S = 0.3


class SceneSession:
    """The research session shown in a scene: which session, reader and case, and saving it. Takes
    the SceneState."""

    def __init__(self, state: SceneState) -> None:
        self.state = state
        self.session: Any = None
        self.reader: str | None = None
        self.caseId: str | None = None
        self.openedUi: dict = {}
        self.saveCount = 0  # reads written by autosaveNow (for tests and the benchmark)

    def openSession(self, folder: str | os.PathLike, reader: str) -> Any:
        """Open a session folder (session.json) as ``reader`` (a safe name: letters, digits, . _ -);
        a case open in an earlier session is flushed first. Returns the core Session. Raises
        SessionError naming the folder or the name. Call :meth:`nextCase` to load a case."""
        sessionmod.check_name(reader, "reader name")
        opened = sessionmod.open_session(folder)
        self.closeSession()
        self.session, self.reader = opened, reader
        return opened

    def _requireSession(self) -> Any:
        if self.session is None:
            raise SessionError("no research session is open: choose the session folder and press Open session")
        return self.session

    def nextCase(self, progress: PanelProgress | None = None) -> str | None:
        """Flush the current case, then load the reader's next case (the last one in progress, else the
        first unread): its series (missing paths become warnings), its saved read rebuilt in the scene
        and the saved UI state. Returns the case id, or None when every case is done (the scene is
        then left as it was)."""
        session = self._requireSession()
        self.autosaveNow()
        opened = session.open_case(self.reader)
        if opened is None:
            self.caseId = None
            return None
        self._loadSessionCase(opened, progress)
        return opened.case_id

    def openSessionCase(self, caseId: str, progress: PanelProgress | None = None) -> str:
        """Flush the current case and load session case ``caseId`` (any status) like :meth:`nextCase`."""
        session = self._requireSession()
        self.autosaveNow()
        opened = session.open_case(self.reader, caseId)
        self._loadSessionCase(opened, progress)
        return opened.case_id

    def _loadSessionSeries(self, opened: Any, progress: PanelProgress) -> list[str]:
        warnings = []
        for index, (role, path) in enumerate(opened.series):
            progress(0.6 * index / max(len(opened.series), 1), f"Loading {role} series")
            if not Path(path).exists():
                warnings.append(f"session: {role} series {path} not found (is the data mounted?)")
                continue
            try:
                node = loadSeries(self.state, path, role)
            except (OSError, ValueError) as error:
                warnings.append(f"session: {role} series not loaded: {error}")
                continue
            node.SetAttribute(SESSION_VOLUME_ATTRIBUTE, opened.case_id)
        return warnings

    def _loadSessionCase(self, opened: Any, progress: PanelProgress | None) -> None:
        progress = progress or no_progress
        self.caseId = None  # nothing is saved while the case is half loaded
        self._removeSessionVolumes()
        warnings = self._loadSessionSeries(opened, progress)
        case = opened.case
        if (case.get("reader") or {}).get("name") not in (None, "", self.reader):
            raise SessionError(f"session case {opened.case_id}: the saved read belongs to "
                               f"{case['reader']['name']!r}, not {self.reader!r}")
        case.setdefault("reader", {})["name"] = self.reader
        loadCaseIntoScene(self.state, case, lambda f, m: progress(0.6 + 0.35 * f, m))
        self.openedUi = dict(opened.ui or {})
        self.restoreUiState(opened.ui)
        if warnings:
            self.state.appendWarnings(warnings)
        self.caseId = opened.case_id
        # the case is now in progress (resumed first by nextCase even if nothing is changed)
        self.autosaveNow(force=True)
        progress(1.0, f"Case {opened.case_id}")

    def _removeSessionVolumes(self) -> None:
        scene = self.state.scene
        nodes = scene.GetNodesByClass("vtkMRMLScalarVolumeNode")
        doomed = [nodes.GetItemAsObject(i) for i in range(nodes.GetNumberOfItems())
                  if nodes.GetItemAsObject(i).GetAttribute(SESSION_VOLUME_ATTRIBUTE)]
        for node in doomed:
            helpers = [node.GetNthDisplayNode(i) for i in range(node.GetNumberOfDisplayNodes())]
            helpers.append(node.GetStorageNode())
            scene.RemoveNode(node)
            for helper in helpers:
                if helper is not None and helper.GetScene() is not None:
                    scene.RemoveNode(helper)

    def autosaveNow(self, force: bool = False) -> bool:
        """Save the session case's read and UI state when it changed since the last save (or ``force``).
        Returns whether it saved. The Widget's timer calls this; nothing is saved without an open case."""
        state = self.state
        if self.session is None or self.caseId is None or not (state.caseChanged or force):
            return False
        case = state.recompute() if state.dirty else state.getCase()
        reader = (case.get("reader") or {}).get("name")
        if case.get("case_id") != self.caseId or reader not in (None, "", self.reader):
            # another read was opened, or the case ID / reader edited: never save it over the session's read
            caseId, self.caseId = self.caseId, None
            held = f"case {case.get('case_id')!r} read by {reader!r}"
            state.appendWarnings([f"session: the scene holds {held}, not session case {caseId!r} of "
                                  f"{self.reader!r}; autosave stopped (press Next case to go on)"])
            return False
        self.session.autosave(self.reader, self.caseId, case, self.sessionUiState())
        state.caseChanged = False
        self.saveCount += 1
        return True

    def markDone(self) -> None:
        """Save the session case now and mark it done for the reader (then call :meth:`nextCase`)."""
        session = self._requireSession()
        if self.caseId is None:
            raise SessionError("no session case is loaded: press Next case first")
        self.autosaveNow(force=True)
        session.mark_done(self.reader, self.caseId)

    def detachSessionCase(self) -> None:
        """Flush the session case and stop saving the scene into it (the scene is about to be cleared
        or replaced); the session stays open for :meth:`nextCase`."""
        if self.session is not None:
            self.autosaveNow()
        self.caseId = None

    def closeSession(self) -> None:
        """Flush the open case's changes and forget the session (the scene keeps the read)."""
        if self.session is not None:
            self.autosaveNow()
        self.session = self.reader = self.caseId = None
        self.state.caseChanged = False

    def sessionProgressText(self) -> str:
        """Return the panel's progress line, e.g. "reader1: 1 of 3 read (1 in progress); case case-002",
        or "No session open"."""
        if self.session is None:
            return "No session open"
        text = self.session.reader_progress(self.reader).text()
        if self.caseId:
            text += f"; case {self.caseId}"
        return text

    # -------------------------------------------------------------- where the reader was

    def sessionUiState(self) -> dict:
        """Return the UI state saved with each autosave: active lesion, next level label and the slice
        views' offsets ({view name: slice origin RAS mm}; none headless)."""
        parameterNode = self.state.parameterNode()
        offsets = {}
        nodes = self.state.scene.GetNodesByClass("vtkMRMLSliceNode")
        for index in range(nodes.GetNumberOfItems()):
            sliceNode = nodes.GetItemAsObject(index)
            matrix = sliceNode.GetSliceToRAS()
            offsets[sliceNode.GetLayoutName() or sliceNode.GetName()] = [matrix.GetElement(r, 3) for r in range(3)]
        return {"active_lesion": parameterNode.GetParameter(ACTIVE_LESION_PARAMETER) or None,
                "next_level_label": parameterNode.GetParameter(NEXT_LEVEL_PARAMETER) or None,
                "slice_origins_ras": offsets}

    def restoreUiState(self, ui: dict | None) -> None:
        """Put back a UI state of :meth:`sessionUiState` (unknown lesions and views are ignored)."""
        ui = ui or {}
        parameterNode = self.state.parameterNode()
        if ui.get("active_lesion") in lesionIds(self.state):
            parameterNode.SetParameter(ACTIVE_LESION_PARAMETER, ui["active_lesion"])
        if isinstance(ui.get("next_level_label"), str):
            parameterNode.SetParameter(NEXT_LEVEL_PARAMETER, ui["next_level_label"])
        origins = ui.get("slice_origins_ras") or {}
        nodes = self.state.scene.GetNodesByClass("vtkMRMLSliceNode")
        for index in range(nodes.GetNumberOfItems()):
            sliceNode = nodes.GetItemAsObject(index)
            origin = origins.get(sliceNode.GetLayoutName() or sliceNode.GetName())
            if isinstance(origin, list) and len(origin) == 3:
                matrix = sliceNode.GetSliceToRAS()
                for row in range(3):
                    matrix.SetElement(row, 3, float(origin[row]))
                sliceNode.UpdateMatrices()
