"""State wiring of the web panel: the page's controls call the Logic; the Logic's results go to the
page's state. Nothing is decided here: every count, size, hint, checklist value, file, undo step and
autosave comes from the Logic (ISCMAssistLogic), through the methods the Slicer module Widget calls.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from pathlib import Path
from typing import Any, Callable

from .logic_link import ACTIVE_LESION_PARAMETER, AUTOSAVE_INTERVAL_S, NEXT_LEVEL_PARAMETER, lesionColor

#: the series the views can show (the T2 / T1 post switch)
VIEW_SERIES = {"t2_sagittal": "T2", "t1_post": "T1 post", "t1_pre": "T1 pre"}
CHECKLIST_SECTIONS = ("lesion", "patient_findings", "clinical")
#: the side panel (controls, checklists, files) is mounted this long after the browser first sized the
#: views, in s: time for their first image to be rendered and shown
SIDE_PANEL_AFTER_S = 0.25


def _rgb(color: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(255 * c):02x}" for c in color)


def action(method: Callable) -> Callable:
    """Run a panel action; show a failure (the project's errors name the file or field) as one line."""

    @functools.wraps(method)
    def run(self: "PanelState", *args: Any, **kwargs: Any) -> Any:
        with self.state:
            self.state.error = ""
        try:
            return method(self, *args, **kwargs)
        except (OSError, ValueError, RuntimeError) as error:
            with self.state:
                self.state.error = f"{method.__name__.replace('_', ' ')}: {error}"
            return None
        finally:
            self.refresh()

    return run


class PanelState:
    """Binds the trame server's state and triggers to the Logic of ``scene_app`` (a SceneApp).

    Takes the server, the SceneApp, the access Gate (download links) and the output folder ``out``
    (read/ autosaved read, exports/). For a session call :meth:`open_session`; run
    :meth:`tick_forever` on the server's loop (the Logic's undo steps and autosave).
    """

    def __init__(self, server: Any, scene_app: Any, gate: Any, out: Path) -> None:
        self.server, self.state = server, server.state
        self.app, self.logic, self.gate = scene_app, scene_app.logic, gate
        self.out = Path(out)
        self.logic.setAutosaveFolder(self.out / "read")
        self.session = None
        self.pacs_server: Path | None = None  # the PACS server file of a study opened with --pacs
        self.exam: Path | None = None  # the exam folder, when one was opened (read-only for the panel)
        self.session_dir: Path | None = None
        self.reader: str | None = None
        self._refreshing = False
        self._checklists_stale = False
        self._sent: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self._defaults()
        for name in ("add_lesion", "remove_lesion", "place", "stop_placing", "delete_markup",
                     "delete_level_point", "propose_levels", "shift_levels", "undo", "set_value",
                     "revert_value", "save_read", "open_read", "export", "next_case", "mark_done",
                     "open_case", "focus_lesion", "send_sr"):
            server.trigger(name)(getattr(self, name))  # the page calls trigger('name', [args])
        self.state.change("active_lesion")(self._on_active_lesion)
        self.state.change("series_role")(self._on_series_role)
        self.state.change("wl_window", "wl_level")(self._on_window_level)
        self.state.change("next_level_label")(self._on_next_level_label)
        parameter_node = self.logic.getParameterNode()
        # live: every recomputation (a point drag too) updates the table and hints; the checklists follow
        # on the timer, as re-drawing them on each mouse move would slow the drag
        parameter_node.AddObserver("ModifiedEvent", lambda *_: self.refresh(checklists=False))
        self._fit_until = 0.0
        self._built_at = time.monotonic()
        for name, view in self.app.slice_views().items():
            view.interactor().AddObserver("WindowResizeEvent", lambda *_: self._fit_after_resize(), -1.0)
            view.get_view_node().AddObserver("ModifiedEvent", lambda node, _e, name=name: self._view_moved(name, node))

    def _defaults(self) -> None:
        s = self.state
        s.trame__title = "ISCMAssist"
        s.update({
            "error": "", "progress_text": "", "lesion_ids": [], "lesion_colors": {}, "active_lesion": "",
            "table_headers": [], "table_rows": [], "hints": [], "hints_explanation": "", "warnings": [],
            "checklist_lesion": [], "checklist_patient_findings": [], "checklist_clinical": [],
            "series_role": "t2_sagittal", "series_choices": [], "wl_window": 1.0, "wl_level": 0.0,
            "wl_min": 0.0, "wl_max": 1.0, "placing": False, "next_level_label": "", "level_points": [],
            "files": [], "read_folder": str(self.out / "read"), "read_final": False, "pacs_open": False, "session_open": False,
            "session_progress": "", "session_cases": [], "session_case": "", "can_undo": False,
            "saved_at": "", "view_geometry": {}, "side_panel_ready": False,
        })

    # ------------------------------------------------------------------ Logic -> page

    def refresh(self, checklists: bool = True) -> None:
        """Copy the Logic's read (table, hints, warnings, lesions, levels and, unless ``checklists`` is
        False, the checklists) into the page state; only values that changed are sent to the page."""
        if self._refreshing:
            return
        self._refreshing = True
        started = time.perf_counter()
        try:
            logic = self.logic
            lesion_ids = logic.lesionIds()
            active = logic.getParameterNode().GetParameter(ACTIVE_LESION_PARAMETER) or ""
            active = active if active in lesion_ids else ""
            values = {
                "lesion_ids": lesion_ids, "active_lesion": active,
                "lesion_colors": {i: _rgb(lesionColor(i)) for i in lesion_ids},
                "table_headers": [column[0] for column in logic.tableColumns()],
                "table_rows": [["" if cell == "nan" else cell for cell in row.values()] for row in logic.tableRows()],
                "hints_explanation": logic.hintsExplanation(),
                "hints": [{"kind": hint.get("kind") or "", "direction": hint["direction"], "text": hint["text"],
                           "lesion": hint.get("lesion_id") or "",
                           "evidence": [item["line"] for item in hint.get("evidence", [])]} for hint in logic.hints()],
                "warnings": logic.warnings(),
                "level_points": logic.levelPointRows(),
                "next_level_label": logic.getParameterNode().GetParameter(NEXT_LEVEL_PARAMETER) or "",
                "placing": logic.isPlacing(),
                "can_undo": logic.canUndo(),
            }
            self._checklists_stale = not checklists
            if checklists:
                values["checklist_lesion"] = logic.checklistRows("lesion", active) if active else []
                values["checklist_patient_findings"] = logic.checklistRows("patient_findings")
                values["checklist_clinical"] = logic.checklistRows("clinical")
            self._publish(values)
        finally:
            self._refreshing = False
            self.timings["refresh_ms"] = 1000 * (time.perf_counter() - started)

    def _publish(self, values: dict) -> None:
        """Set the state keys whose value changed (a point drag then sends the table row, not the page)."""
        changed = {key: value for key, value in values.items() if self._sent.get(key) != value}
        if changed:
            self._sent.update(json.loads(json.dumps(changed)))
            with self.state:
                self.state.update(changed)

    def show_series(self, role: str | None = None, focus: bool = True) -> None:
        """Show the series of ``role`` (default: the switch's) in both views, fitted, and centre the
        slices on the active lesion (else the level points)."""
        s = self.state
        loaded = [r for r in VIEW_SERIES if self.logic.seriesVolume(r) is not None]
        s.series_choices = [{"title": VIEW_SERIES[r], "value": r} for r in loaded]
        role = role or s.series_role
        if role not in loaded and loaded:
            role = loaded[0]
        volume = self.logic.seriesVolume(role) if role in loaded else None
        for view in self.app.slice_views().values():
            offset = view.get_slice_value()
            view.set_background_volume_id(volume.GetID() if volume is not None else None)
            view.fit_view_to_content()
            if not focus:
                view.set_slice_value(offset)  # the switch keeps the slice the reader was on
        if volume is not None:
            with s:
                s.series_role = role
                s.update({f"wl_{k}": v for k, v in self.logic.seriesWindowLevel(role).items()})
        if focus:
            self._jump_to(s.active_lesion)
        self._fit_until = time.monotonic() + 10.0  # the browser sizes the views after the first load

    def _jump_to(self, lesion_id: str | None) -> None:
        """Move the slices (not the zoom) onto the lesion's lines, else the level points."""
        import slicer

        point = self.logic.focusPointRas(lesion_id)
        if point is not None:
            slicer.vtkMRMLSliceNode.JumpAllSlices(self.logic.scene, *point, slicer.vtkMRMLSliceNode.OffsetJumpSlice)

    def _view_moved(self, name: str, slice_node: Any) -> None:
        """Publish a view's screen geometry (its XY -> RAS matrix, mm per pixel) for the page's tests
        and scale; the slice's S/R/A offset for the reader."""
        matrix = slice_node.GetXYToRAS()
        geometry = dict(self.state.view_geometry or {})
        width, height = slice_node.GetDimensions()[:2]
        geometry[name] = {"xy_to_ras": [matrix.GetElement(r, c) for r in range(4) for c in range(4)],
                          "width": width, "height": height,
                          "mm_per_pixel": slice_node.GetFieldOfView()[0] / max(width, 1)}
        with self.state:
            self.state.view_geometry = geometry

    def _fit_after_resize(self) -> None:
        if time.monotonic() < self._fit_until:
            self.show_series(focus=True)
        if not self.state.side_panel_ready:
            asyncio.get_event_loop().call_later(SIDE_PANEL_AFTER_S, self._show_side_panel)

    def _show_side_panel(self) -> None:
        with self.state:
            self.state.side_panel_ready = True

    def opened(self, message: str) -> None:
        """After a read or case was opened: a new undo history, the series shown, ``message`` shown."""
        self.logic.resetUndo()
        self.show_series()
        with self.state:
            self.state.progress_text = message

    def _progress(self, fraction: float, message: str) -> None:
        with self.state:
            self.state.progress_text = f"{message} ({100 * fraction:.0f}%)"

    # ------------------------------------------------------------------ page -> Logic

    def _on_active_lesion(self, active_lesion: str = "", **_: Any) -> None:
        self._sent["active_lesion"] = active_lesion
        if active_lesion and active_lesion != self.logic.getParameterNode().GetParameter(ACTIVE_LESION_PARAMETER):
            self.logic.getParameterNode().SetParameter(ACTIVE_LESION_PARAMETER, active_lesion)

    def _on_series_role(self, series_role: str = "", **_: Any) -> None:
        volume = self.logic.seriesVolume(series_role) if series_role in VIEW_SERIES else None
        views = self.app.slice_views().values()
        if volume is not None and any(v.get_background_volume_id() != volume.GetID() for v in views):
            self.show_series(series_role, focus=False)

    def _on_window_level(self, wl_window: float = 1.0, wl_level: float = 0.0, **_: Any) -> None:
        if self.state.series_role in VIEW_SERIES:
            self.logic.setSeriesWindowLevel(self.state.series_role, wl_window, wl_level)

    def _on_next_level_label(self, next_level_label: str = "", **_: Any) -> None:
        self._sent["next_level_label"] = next_level_label
        parameter_node = self.logic.getParameterNode()
        if (next_level_label or "") != (parameter_node.GetParameter(NEXT_LEVEL_PARAMETER) or ""):
            parameter_node.SetParameter(NEXT_LEVEL_PARAMETER, next_level_label or "")

    @action
    def add_lesion(self) -> None:
        """Add a lesion and make it the active one."""
        self.logic.addLesion()

    @action
    def remove_lesion(self) -> None:
        """Remove the active lesion with its markups and checklist."""
        if self.state.active_lesion:
            self.logic.removeLesion(self.state.active_lesion)

    @action
    def place(self, role: str) -> None:
        """Place a line of the active lesion (a new lesion when none) or level points, with the mouse."""
        self.logic.placeMarkup(role, self.state.active_lesion or None)

    @action
    def stop_placing(self) -> None:
        """Leave place mode."""
        self.logic.stopPlacement()

    @action
    def delete_markup(self, role: str) -> None:
        """Delete one line of the active lesion."""
        self.logic.removeLesionMarkup(self.state.active_lesion, role)

    @action
    def delete_level_point(self, index: int, label: str) -> None:
        """Delete level point ``index`` if it still carries ``label`` (a repeated click is a no-op)."""
        points = self.logic.levelPointRows()
        if 0 <= int(index) < len(points) and points[int(index)]["label"] == label:
            self.logic.removeControlPoint("levels", int(index))

    @action
    def propose_levels(self) -> None:
        """Propose the level points on the sagittal T2 (the Logic's automatic levels)."""
        self.logic.proposeLevels("t2_sagittal", progress=self._progress)
        self._jump_to(None)  # show the proposed points (markups off the slice are not drawn)

    @action
    def shift_levels(self, by: int) -> None:
        """Rename every level point one level up (-1) or down (+1)."""
        self.logic.shiftLevelLabels(int(by))

    @action
    def undo(self) -> None:
        """Undo the last change of the read."""
        if self.logic.undo():
            self.show_series(focus=False)

    @action
    def set_value(self, section: str, field: str, text: Any) -> None:
        """Set a checklist value as the reader's."""
        lesion = self.state.active_lesion if section == "lesion" else None
        self.logic.setReaderText(section, field, "" if text is None else str(text), lesion)

    @action
    def revert_value(self, section: str, field: str) -> None:
        """Let the tool derive a value again (drop the reader's)."""
        lesion = self.state.active_lesion if section == "lesion" else None
        self.logic.revertToDerived(section, field, lesion)

    def _allowed(self, path: str, write: bool = False) -> Path:
        """Return ``path`` when it lies in the folders the panel may read (exam, session, output) or,
        to ``write``, in the output or session folder; raise ValueError naming them otherwise."""
        from .access import inside

        roots = [root for root in (self.out, self.session_dir) + (() if write else (self.exam,)) if root]
        target = Path(path).expanduser()
        parent = inside(target.parent, roots)
        if parent is None:
            raise ValueError(f"{path}: outside the folders this panel may {'write' if write else 'read'} "
                             f"({', '.join(str(root) for root in roots)})")
        return parent / target.name

    @action
    def save_read(self) -> None:
        """Save the read into the read folder (Logic.saveRead)."""
        folder = self._allowed(self.state.read_folder, write=True)
        self.logic.saveRead(folder, progress=self._progress)
        self.list_files()

    @action
    def open_read(self) -> None:
        """Open a read folder, case JSON or DICOM SR (Logic.openAny)."""
        self.logic.openAny(self._allowed(self.state.read_folder), progress=self._progress)
        self.opened(f"Opened {self.state.read_folder}")

    @action
    def export(self) -> None:
        """Export the case JSON, CSV, report, DICOM SR (COMPLETE/VERIFIED when the read is marked final)
        and the .mrk.json markups; list their download links."""
        self.logic.exportRead(self.out / "exports", progress=self._progress, final=bool(self.state.read_final))
        self.logic.saveRead(self.out / "read")
        self.list_files()

    @action
    def send_sr(self) -> None:
        """Write the read's SR (final when marked so) and store it on the PACS the exam came from."""
        if self.pacs_server is None:
            raise ValueError("this panel was not opened from a PACS (iscm-assist web --pacs URL --study UID)")
        line = self.logic.sendSRToPACS(self.pacs_server, progress=self._progress, final=bool(self.state.read_final))
        with self.state:
            self.state.progress_text = line

    def list_files(self) -> None:
        """List the exported and saved files with their download links."""
        files = []
        # the exports (case JSON, CSV, DICOM SR) and the read folder's Slicer markups
        for folder, pattern in ((self.out / "exports", "*"), (self.out / "read", "*.mrk.json")):
            for path in sorted(folder.glob(pattern)) if folder.is_dir() else []:
                url = self.gate.download_url(path) if path.is_file() else None
                if url:
                    files.append({"name": f"{folder.name}/{path.name}", "url": url})
        with self.state:
            self.state.files = files

    # ------------------------------------------------------------------ research sessions

    def open_session(self, folder: Path, reader: str) -> None:
        """Open a session folder as ``reader`` and load the reader's next case."""
        self.session_dir = Path(folder).resolve()
        self.session = self.logic.openSession(folder, reader)
        self.reader = reader
        with self.state:
            self.state.session_open = True
        self.next_case()

    def _session_rows(self) -> None:
        if self.session is None:
            return
        statuses = self.session.statuses(self.reader)
        with self.state:
            self.state.session_cases = [{"id": case_id, "status": st["status"]} for case_id, st in statuses.items()]
            self.state.session_progress = self.logic.sessionProgressText()
            self.state.session_case = self.logic.sessionCaseId() or ""

    @action
    def next_case(self) -> None:
        """Load the reader's next case (its series and saved read), or say that every case is done."""
        case_id = self.logic.nextCase(progress=self._progress)
        if case_id is None:
            self.state.progress_text = "Every case of this session is done."
        else:
            self.opened(f"Case {case_id}")
        self._session_rows()

    @action
    def mark_done(self) -> None:
        """Mark the current session case done (the CLI's rules) and load the next one."""
        self.logic.markDone()
        self.next_case()

    @action
    def open_case(self, case_id: str) -> None:
        """Load one session case from the worklist."""
        self.logic.openSessionCase(case_id, progress=self._progress)
        self.opened(f"Case {case_id}")
        self._session_rows()

    @action
    def focus_lesion(self) -> None:
        """Centre the slices on the active lesion."""
        self.show_series(focus=True)

    # ------------------------------------------------------------------ timer

    async def tick_forever(self) -> None:
        """The panel's timer: undo steps, autosave (session or read folder), placement state."""
        while True:
            await asyncio.sleep(AUTOSAVE_INTERVAL_S)
            self.tick()

    def tick(self) -> None:
        """One timer step (see :meth:`tick_forever`)."""
        try:
            self.logic.recordUndoStep()
            if self._checklists_stale:
                self.refresh()
            saved = self.logic.autosaveNow()  # the session case, else the read folder
            if saved:
                with self.state:
                    self.state.saved_at = time.strftime("%H:%M:%S")
            self._publish({"can_undo": self.logic.canUndo(), "placing": self.logic.isPlacing()})
            if time.monotonic() - self._built_at > 5.0:  # in case the browser never sized the views
                self._publish({"side_panel_ready": True})
        except (OSError, ValueError) as error:
            with self.state:
                self.state.error = f"autosave: {error}"
