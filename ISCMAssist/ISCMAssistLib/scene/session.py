"""Research sessions in the module: open a session folder as a reader, load the next case (its series
and the saved read), autosave every change and mark cases done (core: ISCMAssistLib.session,
docs/sessions.md).

Autosave is debounced without a timer in the Logic: every change of the held case sets a dirty flag
(``_storeCase``, called by each recomputation and checklist edit); :meth:`SessionLogicMixin.autosaveNow`
writes the read when the flag is set. The Widget's QTimer calls it every ``AUTOSAVE_INTERVAL_S``
seconds, so a burst of changes (a point drag) costs at most one save per interval; markDone, nextCase
and closeSession flush at once. Mixed into ISCMAssistLogic (needs its methods).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

#: seconds between the Widget's autosave checks (at most one save per interval of changes)
AUTOSAVE_INTERVAL_S = 0.3
#: node attribute on volumes loaded for a session case (removed when the next case is loaded)
SESSION_VOLUME_ATTRIBUTE = "ISCMAssist.SessionCase"

ProgressCallback = Callable[[float, str], None]


class SessionLogicMixin:
    """openSession / nextCase / autosaveNow / markDone / closeSession / sessionProgressText."""

    _session: Any = None
    _sessionReader: str | None = None
    _sessionCaseId: str | None = None
    _sessionDirty: bool = False
    sessionSaveCount: int = 0  # reads written by autosaveNow (for tests and the benchmark)

    def openSession(self, folder: str | os.PathLike, reader: str) -> Any:
        """Open a session folder (session.json) as ``reader`` (a safe name: letters, digits, . _ -);
        a case open in an earlier session is flushed first. Returns the core Session. Raises
        SessionError naming the folder or the name. Call :meth:`nextCase` to load a case."""
        from ISCMAssistLib import session as sessionmod

        sessionmod.check_name(reader, "reader name")
        opened = sessionmod.open_session(folder)
        self.closeSession()
        self._session, self._sessionReader = opened, reader
        return opened

    def sessionIsOpen(self) -> bool:
        """Return whether a session is open."""
        return self._session is not None

    def sessionCaseId(self) -> str | None:
        """Return the id of the session case shown in the scene, or None."""
        return self._sessionCaseId

    def _requireSession(self) -> Any:
        if self._session is None:
            from ISCMAssistLib.session import SessionError

            raise SessionError("no research session is open: choose the session folder and press Open session")
        return self._session

    def nextCase(self, progress: ProgressCallback | None = None) -> str | None:
        """Flush the current case, then load the reader's next case (the last one in progress, else the
        first unread): its series (missing paths become warnings), its saved read rebuilt in the scene
        (loadCaseIntoScene) and the saved UI state. Returns the case id, or None when every case is
        done (the scene is then left as it was)."""
        session = self._requireSession()
        self.autosaveNow()
        opened = session.open_case(self._sessionReader)
        if opened is None:
            self._sessionCaseId = None
            return None
        self._loadSessionCase(opened, progress)
        return opened.case_id

    def openSessionCase(self, caseId: str, progress: ProgressCallback | None = None) -> str:
        """Flush the current case and load session case ``caseId`` (any status) like :meth:`nextCase`."""
        session = self._requireSession()
        self.autosaveNow()
        opened = session.open_case(self._sessionReader, caseId)
        self._loadSessionCase(opened, progress)
        return opened.case_id

    def _loadSessionCase(self, opened: Any, progress: ProgressCallback | None) -> None:
        from ISCMAssistLib.session import SessionError

        progress = progress or (lambda _f, _m: None)
        self._sessionCaseId = None  # nothing is saved while the case is half loaded
        self._removeSessionVolumes()
        warnings = []
        for index, (role, path) in enumerate(opened.series):
            progress(0.6 * index / max(len(opened.series), 1), f"Loading {role} series")
            if not Path(path).exists():
                warnings.append(f"session: {role} series {path} not found (is the data mounted?)")
                continue
            try:
                node = self.loadSeries(path, role)
            except (OSError, ValueError) as error:
                warnings.append(f"session: {role} series not loaded: {error}")
                continue
            node.SetAttribute(SESSION_VOLUME_ATTRIBUTE, opened.case_id)
        case = opened.case
        if (case.get("reader") or {}).get("name") not in (None, "", self._sessionReader):
            raise SessionError(f"session case {opened.case_id}: the saved read belongs to "
                               f"{case['reader']['name']!r}, not {self._sessionReader!r}")
        case.setdefault("reader", {})["name"] = self._sessionReader
        self.loadCaseIntoScene(case, lambda f, m: progress(0.6 + 0.35 * f, m))
        self._sessionOpenedUi = dict(opened.ui or {})
        self.restoreUiState(opened.ui)
        if warnings:
            self._appendWarnings(warnings)
        self._sessionCaseId = opened.case_id
        # the case is now in progress (resumed first by nextCase even if nothing is changed)
        self.autosaveNow(force=True)
        progress(1.0, f"Case {opened.case_id}")

    def _removeSessionVolumes(self) -> None:
        nodes = self.scene.GetNodesByClass("vtkMRMLScalarVolumeNode")
        doomed = [nodes.GetItemAsObject(i) for i in range(nodes.GetNumberOfItems())
                  if nodes.GetItemAsObject(i).GetAttribute(SESSION_VOLUME_ATTRIBUTE)]
        for node in doomed:
            helpers = [node.GetNthDisplayNode(i) for i in range(node.GetNumberOfDisplayNodes())]
            helpers.append(node.GetStorageNode())
            self.scene.RemoveNode(node)
            for helper in helpers:
                if helper is not None and helper.GetScene() is not None:
                    self.scene.RemoveNode(helper)

    def autosaveNow(self, force: bool = False) -> bool:
        """Save the session case's read and UI state when it changed since the last save (or ``force``).
        Returns whether it saved. The Widget's timer calls this; nothing is saved without an open case."""
        if self._session is None or self._sessionCaseId is None or not (self._sessionDirty or force):
            return False
        case = self.recompute() if self._dirty else self.getCase()
        reader = (case.get("reader") or {}).get("name")
        if case.get("case_id") != self._sessionCaseId or reader not in (None, "", self._sessionReader):
            # another read was opened, or the case ID / reader edited: never save it over the session's read
            caseId, self._sessionCaseId = self._sessionCaseId, None
            held = f"case {case.get('case_id')!r} read by {reader!r}"
            self._appendWarnings([f"session: the scene holds {held}, not session case {caseId!r} of "
                                  f"{self._sessionReader!r}; autosave stopped (press Next case to go on)"])
            return False
        self._session.autosave(self._sessionReader, self._sessionCaseId, case, self.sessionUiState())
        self._sessionDirty = False
        self.sessionSaveCount += 1
        return True

    def markDone(self) -> None:
        """Save the session case now and mark it done for the reader (then call :meth:`nextCase`)."""
        session = self._requireSession()
        if self._sessionCaseId is None:
            from ISCMAssistLib.session import SessionError

            raise SessionError("no session case is loaded: press Next case first")
        self.autosaveNow(force=True)
        session.mark_done(self._sessionReader, self._sessionCaseId)

    def detachSessionCase(self) -> None:
        """Flush the session case and stop saving the scene into it (the scene is about to be cleared
        or replaced); the session stays open for :meth:`nextCase`."""
        if self._session is not None:
            self.autosaveNow()
        self._sessionCaseId = None

    def closeSession(self) -> None:
        """Flush the open case's changes and forget the session (the scene keeps the read)."""
        if self._session is not None:
            self.autosaveNow()
        self._session = self._sessionReader = self._sessionCaseId = None
        self._sessionDirty = False

    def sessionProgressText(self) -> str:
        """Return the panel's progress line, e.g. "reader1: 1 of 3 read (1 in progress); case case-002",
        or "No session open"."""
        if self._session is None:
            return "No session open"
        text = self._session.reader_progress(self._sessionReader).text()
        if self._sessionCaseId:
            text += f"; case {self._sessionCaseId}"
        return text

    # -------------------------------------------------------------- where the reader was

    def sessionOpenedUiState(self) -> dict:
        """Return the UI state the current session case was opened with (to re-apply after the app
        has shown the loaded series in the views)."""
        return dict(getattr(self, "_sessionOpenedUi", None) or {})

    def sessionUiState(self) -> dict:
        """Return the UI state saved with each autosave: active lesion, next level label and the slice
        views' offsets ({view name: slice origin RAS mm}; none headless)."""
        from ISCMAssistLib.scene.logic import ACTIVE_LESION_PARAMETER, NEXT_LEVEL_PARAMETER

        parameterNode = self.getParameterNode()
        offsets = {}
        nodes = self.scene.GetNodesByClass("vtkMRMLSliceNode")
        for index in range(nodes.GetNumberOfItems()):
            sliceNode = nodes.GetItemAsObject(index)
            matrix = sliceNode.GetSliceToRAS()
            offsets[sliceNode.GetLayoutName() or sliceNode.GetName()] = [matrix.GetElement(r, 3) for r in range(3)]
        return {"active_lesion": parameterNode.GetParameter(ACTIVE_LESION_PARAMETER) or None,
                "next_level_label": parameterNode.GetParameter(NEXT_LEVEL_PARAMETER) or None,
                "slice_origins_ras": offsets}

    def restoreUiState(self, ui: dict | None) -> None:
        """Put back a UI state of :meth:`sessionUiState` (unknown lesions and views are ignored)."""
        from ISCMAssistLib.scene.logic import ACTIVE_LESION_PARAMETER, NEXT_LEVEL_PARAMETER

        ui = ui or {}
        parameterNode = self.getParameterNode()
        if ui.get("active_lesion") in self.lesionIds():
            parameterNode.SetParameter(ACTIVE_LESION_PARAMETER, ui["active_lesion"])
        if isinstance(ui.get("next_level_label"), str):
            parameterNode.SetParameter(NEXT_LEVEL_PARAMETER, ui["next_level_label"])
        origins = ui.get("slice_origins_ras") or {}
        nodes = self.scene.GetNodesByClass("vtkMRMLSliceNode")
        for index in range(nodes.GetNumberOfItems()):
            sliceNode = nodes.GetItemAsObject(index)
            origin = origins.get(sliceNode.GetLayoutName() or sliceNode.GetName())
            if isinstance(origin, list) and len(origin) == 3:
                matrix = sliceNode.GetSliceToRAS()
                for row in range(3):
                    matrix.SetElement(row, 3, float(origin[row]))
                sliceNode.UpdateMatrices()
