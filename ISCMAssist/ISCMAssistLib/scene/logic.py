"""ISCMAssistLogic, the scene layer's facade: the reader's markups in a Slicer scene <-> the core read.
(Over 400 lines: one short delegating method per entry point the front ends call, nothing else.)

Runs in the Slicer app and headless on slicer-core's MRML (scene/headless.py). The front ends (the
module Widget, the web panel) call only this class. It owns the observers (scene and role nodes),
batching and recomputation; each public method hands the shared SceneState to the part that holds
the work (scene/lesions.py, placement.py, checklist.py, series.py, exam.py, levels.py, opening.py,
read_folder.py, session.py, read_autosave.py, history.py; case_builder.py rebuilds the read). Scene
positions are RAS mm; the case holds LPS mm.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import slicer
import vtk
from slicer.util import VTKObservationMixin

from ..hints import EXPLANATION as HINTS_EXPLANATION
from ..progress import PanelProgress
from . import case_builder, checklist, exam, lesions, levels, opening, placement, read_folder, series
from .history import CaseHistory
from .names import ROLE_ATTRIBUTE
from .read_autosave import ReadAutosave
from .session import SceneSession
from .state import SceneState

try:  # only inside the Slicer app
    from slicer.ScriptedLoadableModule import ScriptedLoadableModuleLogic as _LogicBase
except ImportError:

    class _LogicBase:  # type: ignore[no-redef]
        """Stand-in for ScriptedLoadableModuleLogic outside the Slicer app."""

        def __init__(self) -> None:
            pass


_MARKUP_EVENTS = (
    slicer.vtkMRMLMarkupsNode.PointModifiedEvent,
    slicer.vtkMRMLMarkupsNode.PointAddedEvent,
    slicer.vtkMRMLMarkupsNode.PointRemovedEvent,
    slicer.vtkMRMLMarkupsNode.PointPositionDefinedEvent,
    slicer.vtkMRMLMarkupsNode.PointPositionUndefinedEvent,
)


class ISCMAssistLogic(_LogicBase, VTKObservationMixin):
    """MRML <-> core for one read. Takes the scene (default ``slicer.mrmlScene``) and, headless, the
    module logics by name ({"Markups": ..., "Segmentations": ..., "Volumes": ...}; in the app they
    default to ``slicer.modules.<name>.logic()``). Call :meth:`cleanup` to drop every observer."""

    #: None only while Python tears the Logic down at exit and the scene still calls its observers
    state: SceneState | None = None

    def __init__(self, scene: Any = None, moduleLogics: dict[str, Any] | None = None) -> None:
        VTKObservationMixin.__init__(self)
        _LogicBase.__init__(self)
        self.scene = scene if scene is not None else getattr(slicer, "mrmlScene", None)
        if self.scene is None:
            raise RuntimeError("ISCMAssistLogic needs a MRML scene (no slicer.mrmlScene outside the app)")
        self.state = SceneState(self.scene, moduleLogics)
        self.state.recompute = self.recompute
        self.state.observeNode = self._observeNode
        self.moduleLogics = self.state.moduleLogics
        self._session = SceneSession(self.state)
        self._readAutosave = ReadAutosave(self.state)
        self._history = CaseHistory(self.state)
        self.addObserver(self.scene, slicer.vtkMRMLScene.NodeAddedEvent, self._onNodeAdded)
        self.addObserver(self.scene, slicer.vtkMRMLScene.NodeRemovedEvent, self._onNodeRemoved)
        self.addObserver(self.scene, slicer.vtkMRMLScene.StartCloseEvent, self._onSceneStartClose)
        self.addObserver(self.scene, slicer.vtkMRMLScene.EndCloseEvent, self._onSceneEndClose)
        self.addObserver(self.scene, slicer.vtkMRMLScene.EndImportEvent, self._onSceneEndImport)
        self.observeSceneNodes()

    # ------------------------------------------------------------------ switches

    @property
    def autoRecompute(self) -> bool:
        """Recompute live on every change (True) or only when asked (False)."""
        return self.state.autoRecompute

    @autoRecompute.setter
    def autoRecompute(self, value: bool) -> None:
        self.state.autoRecompute = bool(value)

    @property
    def refitLevelNames(self) -> bool:
        """Re-fit the other level names when the reader renames one level point."""
        return self.state.refitLevelNames

    @refitLevelNames.setter
    def refitLevelNames(self, value: bool) -> None:
        self.state.refitLevelNames = bool(value)

    @property
    def sessionSaveCount(self) -> int:
        """Reads written by autosaveNow (for tests and the benchmark)."""
        return self._session.saveCount

    # ------------------------------------------------------------------ lifecycle and observers

    def cleanup(self) -> None:
        """Remove every observer this logic added (scene and nodes)."""
        self.removeObservers()
        self.state.roleNodes.clear()

    def observedNodeCount(self) -> int:
        """Return how many role nodes this logic observes (for tests and diagnostics)."""
        return len(self.state.roleNodes)

    def observeSceneNodes(self) -> None:
        """Observe every node in the scene that carries an ISCMAssist role (after import or reload)."""
        nodes = self.scene.GetNodes()
        for index in range(nodes.GetNumberOfItems()):
            node = nodes.GetItemAsObject(index)
            if node.GetAttribute(ROLE_ATTRIBUTE):
                self._observeNode(node)

    def _observeNode(self, node: Any) -> None:
        state = self.state
        if node.GetID() in state.roleNodes:
            return
        state.roleNodes[node.GetID()] = node
        if node.IsA("vtkMRMLMarkupsNode"):
            for event in _MARKUP_EVENTS:
                self.addObserver(node, event, self._onMarkupsModified)
            if node.IsA("vtkMRMLMarkupsROINode"):
                self.addObserver(node, vtk.vtkCommand.ModifiedEvent, self._onMarkupsModified)
            if node.GetAttribute(ROLE_ATTRIBUTE) == "levels":
                # priority: label the new point before the recompute observer reads it
                self.addObserver(node, slicer.vtkMRMLMarkupsNode.PointAddedEvent, self._onLevelPointAdded,
                                 priority=1.0)
                # before the recompute observer, so one recomputation sees the re-fitted names
                for event in _MARKUP_EVENTS:
                    self.addObserver(node, event, self._onLevelPointsChanged, priority=0.5)
                state.levelLabelsSeen = levels.levelLabels(state)
        elif node.IsA("vtkMRMLSegmentationNode"):
            self.addObserver(node, slicer.vtkSegmentation.RepresentationModified, self._onMarkupsModified)
            self.addObserver(node, slicer.vtkSegmentation.SegmentModified, self._onMarkupsModified)

    def _unobserveNode(self, node: Any) -> None:
        if self.state.roleNodes.pop(node.GetID(), None) is None:
            return
        for observedNode, event, method, _group, _tag, _priority in self.Observations:
            if observedNode is node:
                self.removeObserver(node, event, method)
        self.state.maskCache.pop(node.GetID(), None)

    @vtk.calldata_type(vtk.VTK_OBJECT)
    def _onNodeAdded(self, _caller: Any, _event: Any, node: Any) -> None:
        if self.state is None:
            return
        if node is not None and node.GetAttribute(ROLE_ATTRIBUTE):
            self._observeNode(node)
            if not self.scene.IsImporting():
                self.requestRecompute()

    @vtk.calldata_type(vtk.VTK_OBJECT)
    def _onNodeRemoved(self, _caller: Any, _event: Any, node: Any) -> None:
        if self.state is None:
            return
        if node is not None and node.GetID() in self.state.roleNodes:
            self._unobserveNode(node)
            if not self.scene.IsClosing():
                self.requestRecompute()

    def _onSceneStartClose(self, _caller: Any, _event: Any) -> None:
        if self.state is None:
            return
        self.detachSessionCase()  # save while the read is still in the scene; an empty scene is never saved

    def _onSceneEndClose(self, _caller: Any, _event: Any) -> None:
        if self.state is None:
            return
        for node in list(self.state.roleNodes.values()):
            self._unobserveNode(node)
        self.state.forgetScene()

    def _onSceneEndImport(self, _caller: Any, _event: Any) -> None:
        if self.state is None:
            return
        self.observeSceneNodes()
        self.requestRecompute()

    def _onLevelPointAdded(self, node: Any, _event: Any) -> None:
        if self.state is None:
            return
        levels.labelPlacedPoint(self.state, node)

    def _onLevelPointsChanged(self, node: Any, _event: Any) -> None:
        if self.state is None:
            return
        levels.refitAfterRename(self.state, node)

    def _onMarkupsModified(self, _caller: Any, _event: Any) -> None:
        if self.state is None:
            return
        self.requestRecompute()

    # ------------------------------------------------------------------ batching and recomputation

    def requestRecompute(self) -> None:
        """Recompute now (live mode) or at the end of the current batch."""
        self.state.requestRecompute()

    def batch(self) -> Iterator[None]:
        """Context manager: hold live recomputation until the block ends, then recompute once if needed."""
        return self.state.batch()

    def recompute(self) -> dict:
        """Rebuild the read from the scene, fill every derivable field, compute the hints and write case,
        hints, warnings and the lesion table (case_builder.recompute). Returns the case dict."""
        return case_builder.recompute(self.state)

    def buildCase(self) -> tuple[dict, Any, dict, list[str]]:
        """Build the core case from the scene: (case, level model or None, mask measurements, warnings)."""
        return case_builder.buildCase(self.state)

    def hints(self) -> list[dict]:
        """Return the hints of the last recomputation: dicts with id, direction, text and evidence
        (each evidence item with text, numerator, denominator, source and a one-line "line")."""
        return self.state.hints()

    def hintsExplanation(self) -> str:
        """Return the one sentence every front end shows above the hints: what the numbers are, and
        that no hint is a probability of disease."""
        return HINTS_EXPLANATION

    def warnings(self) -> list[str]:
        """Return the warnings of the last recomputation (e.g. a level label that is not a vertebra)."""
        return self.state.warnings()

    def getParameterNode(self) -> Any:
        """Return the module's vtkMRMLScriptedModuleNode (singleton tag "ISCMAssist"), created when
        missing. The Widget wraps it with names.ISCMAssistParameterNode."""
        return self.state.parameterNode()

    def _landmarks(self):
        return lesions.landmarks(self.state)

    def _lesionFolders(self) -> dict[str, int]:
        return lesions.lesionFolders(self.state)

    # ------------------------------------------------------------------ lesions and markups (scene/lesions.py)

    def lesionIds(self) -> list[str]:
        """Return the ids of the lesions in the scene ("L1", "L2", ...), in number order."""
        return lesions.lesionIds(self.state)

    def lesionNodes(self, lesionId: str) -> dict[str, Any]:
        """Take a lesion id; return its nodes by role (only the roles that have a node)."""
        return self.state.lesionNodes(lesionId)

    def roleNode(self, role: str) -> Any:
        """Return the scene-wide node of a role ("levels" or "conus"), or None."""
        return self.state.roleNode(role)

    def addLesion(self) -> str:
        """Add the next lesion and make it the active one; return its id."""
        return lesions.addLesion(self.state)

    def addLesionMarkup(self, lesionId: str, role: str, pointsRas: Any = None) -> Any:
        """Create (or return) a lesion's node of ``role``, optionally with points (RAS mm); see lesions."""
        return lesions.addLesionMarkup(self.state, lesionId, role, pointsRas)

    def addLesionSegment(self, lesionId: str, role: str, mask: Any, name: str | None = None) -> Any:
        """Add a binary mask (core Volume) as a segment of the lesion's segmentation node; return it."""
        return lesions.addLesionSegment(self.state, lesionId, role, mask, name)

    def levelsNode(self) -> Any:
        """Return the vertebral-level point list (created when missing)."""
        return lesions.levelsNode(self.state)

    def conusNode(self) -> Any:
        """Return the conus tip point list (created when missing)."""
        return lesions.conusNode(self.state)

    def setControlPoints(self, node: Any, pointsRas: Any, labels: list[str] | None = None) -> None:
        """Replace a markup's control points (RAS mm, (N, 3)); ROI nodes take [[centre], [size]] (mm)."""
        lesions.setControlPoints(self.state, node, pointsRas, labels)

    def removeLesion(self, lesionId: str) -> None:
        """Remove a lesion: its nodes, its folder and its record in the case."""
        lesions.removeLesion(self.state, lesionId)

    def clearRead(self) -> None:
        """Remove every ISCMAssist node, lesion folder, the table and the stored case from the scene."""
        lesions.clearRead(self.state)

    def removeLesionMarkup(self, lesionId: str, role: str) -> None:
        """Delete one markup of a lesion (e.g. its edema line); the lesion and its checklist stay."""
        lesions.removeLesionMarkup(self.state, lesionId, role)

    def removeControlPoint(self, role: str, index: int, lesionId: str | None = None) -> None:
        """Delete point ``index`` of a lesion's markup (``role``, ``lesionId``) or of "levels"/"conus"."""
        lesions.removeControlPoint(self.state, role, index, lesionId)

    def focusPointRas(self, lesionId: str | None = None) -> list[float] | None:
        """Return where the views should be centred (RAS mm): the lesion's lines, else the level points."""
        return lesions.focusPoint(self.state, lesionId)

    # ------------------------------------------------------------------ placing with the mouse (scene/placement.py)

    def placeMarkup(self, role: str, lesionId: str | None = None) -> Any:
        """Start placing ``role`` (a lesion markup, "levels" or "conus") with the mouse; return its node."""
        return placement.placeMarkup(self.state, role, lesionId)

    def startPlacement(self, node: Any, persistent: bool = False) -> bool:
        """Switch the views to placing points into ``node``; return whether it started (not headless)."""
        return placement.startPlacement(self.state, node, persistent)

    def stopPlacement(self) -> None:
        """Leave place mode (the views go back to window/level, pan and zoom)."""
        placement.stopPlacement(self.state)

    def isPlacing(self) -> bool:
        """Return whether the views are in place mode."""
        return placement.isPlacing(self.state)

    # ------------------------------------------------------------------ levels (scene/levels.py)

    def setLevelLandmarks(self, labels: list[str], pointsRas: Any) -> Any:
        """Replace the level points with ``labels`` at ``pointsRas`` (RAS mm, (N, 3)); return the node."""
        return levels.setLevelLandmarks(self.state, labels, pointsRas)

    def setConus(self, pointRas: Any) -> Any:
        """Place the conus medullaris tip at ``pointRas`` (RAS mm); return the node."""
        return levels.setConus(self.state, pointRas)

    def proposeLevels(self, role: str = "t2_sagittal", progress: PanelProgress | None = None,
                      anchor: tuple[str, Sequence[float]] | None = None) -> Any:
        """Propose and name the level points on the series of ``role``; return the core LevelProposal."""
        return levels.proposeLevels(self.state, role, progress, anchor)

    def levelMessages(self) -> list[str]:
        """Return the messages of the last level proposal still standing."""
        return levels.levelMessages(self.state)

    def levelLabels(self) -> list[str]:
        """Return the level point labels in point order."""
        return levels.levelLabels(self.state)

    def proposeNextLevelLabel(self) -> str:
        """Propose the label after the lowest level point when none is set; return the next label."""
        return levels.proposeNextLevelLabel(self.state)

    def levelPointRows(self) -> list[dict]:
        """Return one row per level point (index, label, S in RAS mm, kind, confidence, disc plane source)."""
        self.getCase()  # brings the level model up to date
        return levels.levelPointRows(self.state, self.state.model)

    def shiftLevelLabels(self, by: int) -> list[str]:
        """Rename every level point ``by`` levels (+1 caudal); return the new labels."""
        return levels.shiftLevelLabels(self.state, by)

    def renameLevelPoint(self, index: int, label: str) -> list[str]:
        """Name level point ``index`` and re-fit the others from it; return the new labels."""
        return levels.renameLevelPoint(self.state, index, label)

    # ------------------------------------------------------------------ case and checklist (scene/checklist.py)

    def getCase(self) -> dict:
        """Return the case dict held in the parameter node (a new empty case when none is held yet)."""
        return self.state.getCase()

    def setCase(self, case: dict) -> dict:
        """Replace the held case (validated first); recompute; return it."""
        return checklist.setCase(self.state, case)

    def setReaderValue(self, section: str, field: str, value: Any, lesionId: str | None = None) -> dict:
        """Set a checklist value as the reader's; recompute; return the case (see checklist)."""
        return checklist.setReaderValue(self.state, section, field, value, lesionId)

    def revertToDerived(self, section: str, field: str, lesionId: str | None = None) -> dict:
        """Drop the reader's override of a field; recompute; return the case."""
        return checklist.revertToDerived(self.state, section, field, lesionId)

    def setCaseInfo(self, caseId: str | None = None, readerName: str | None = None,
                    notes: str | None = None) -> None:
        """Set the case pseudonym, the reader's name and/or the notes (None leaves a value)."""
        checklist.setCaseInfo(self.state, caseId, readerName, notes)

    def checklistRows(self, section: str, lesionId: str | None = None) -> list[dict]:
        """Return the checklist rows of a section for the panel (see checklist.checklistRows)."""
        return checklist.checklistRows(self.state, section, lesionId)

    def parseChecklistText(self, section: str, field: str, text: str) -> Any:
        """Turn the panel's text for a field into its value (see checklist.parseChecklistText)."""
        return checklist.parseChecklistText(section, field, text)

    def setReaderText(self, section: str, field: str, text: str, lesionId: str | None = None) -> dict:
        """The panel's entry point: parse ``text`` and set it as the reader's value; return the case."""
        return self.setReaderValue(section, field, self.parseChecklistText(section, field, text), lesionId)

    def tableColumns(self) -> list[tuple[str, str, str, str | None]]:
        """Return the lesion table's columns (name with unit, kind, feature, size axis or None)."""
        return list(checklist.tableColumns())

    def tableNode(self) -> Any:
        """Return the lesion table node (created with its columns when missing)."""
        return checklist.tableNode(self.state)

    def tableRows(self) -> list[dict[str, str]]:
        """Return the lesion table as a list of {column name: cell text}."""
        return checklist.tableRows(self.state)

    # ------------------------------------------------------------------ series (scene/series.py, exam.py)

    def setSeriesVolume(self, role: str, volumeNode: Any) -> None:
        """Select ``volumeNode`` (or None) for series ``role`` ("t2_sagittal", "t1_post", "t1_pre")."""
        series.setSeriesVolume(self.state, role, volumeNode)

    def seriesVolume(self, role: str) -> Any:
        """Return the volume node selected for a series role, or None."""
        return series.seriesVolume(self.state, role)

    def seriesWindowLevel(self, role: str) -> dict[str, float]:
        """Return the window, level and image range ("window", "level", "min", "max") of a series role."""
        return series.seriesWindowLevel(self.state, role)

    def setSeriesWindowLevel(self, role: str, window: float, level: float) -> None:
        """Show the series of ``role`` with ``window`` and ``level`` (image units)."""
        series.setSeriesWindowLevel(self.state, role, window, level)

    def addSeriesVolume(self, volume: Any, name: str, role: str | None = None) -> Any:
        """Put a core Volume into the scene as a volume node (selected for ``role``); return the node."""
        return series.addSeriesVolume(self.state, volume, name, role)

    def volumeFromNode(self, volumeNode: Any) -> Any:
        """Take a scalar volume node; return a core Volume (RAS mm)."""
        return series.volumeFromNode(volumeNode)

    def loadSeries(self, path: str | os.PathLike, role: str | None, progress: PanelProgress | None = None) -> Any:
        """Load a volume file or a one-series DICOM folder as a volume node for ``role``; return it."""
        return series.loadSeries(self.state, path, role, progress)

    def scanExam(self, folder: str | os.PathLike, progress: PanelProgress | None = None) -> list[dict]:
        """Scan an exam folder and propose a series per reading role; return the panel's rows."""
        return exam.scanExam(self.state, folder, progress)

    @staticmethod
    def examRoles() -> tuple[str, ...]:
        """Return the reading roles a scanned series can take."""
        return exam.examRoles()

    def examRows(self) -> list[dict]:
        """Return one dict per scanned series for the panel's table (see exam.examRows)."""
        return exam.examRows(self.state)

    @staticmethod
    def overridesFromAssignments(rows: list[dict], assignments: Mapping[str, str]) -> dict[str, str]:
        """Turn the panel's role choices into ingest overrides (see exam.overridesFromAssignments)."""
        return exam.overridesFromAssignments(rows, assignments)

    def loadProposedSeries(self, overrides: Mapping[str, str] | None = None,
                           progress: PanelProgress | None = None) -> dict[str, Any]:
        """Load the proposed (or overridden) series as volume nodes; return {role: node}."""
        return exam.loadProposedSeries(self.state, overrides, progress)

    def openExam(self, folder: str | os.PathLike, progress: PanelProgress | None = None) -> dict[str, Any]:
        """Scan an exam folder and load its proposed series; return {role: node}."""
        return exam.openExam(self.state, folder, progress)

    # ------------------------------------------------------------------ files (scene/read_folder.py, opening.py)

    def saveRead(self, folder: str | os.PathLike, progress: PanelProgress | None = None) -> Path:
        """Save the read into a read folder (atomically); return its path."""
        path = read_folder.saveRead(self.state, folder, progress)
        self._readAutosave.noteFolder(path)
        return path

    def openRead(self, folder: str | os.PathLike, progress: PanelProgress | None = None) -> dict:
        """Open a read folder into the scene; return the case dict."""
        case = read_folder.openRead(self.state, folder, progress)
        self._readAutosave.noteFolder(folder)
        return case

    def exportRead(self, folder: str | os.PathLike, progress: PanelProgress | None = None,
                   final: bool = False) -> dict[str, Path]:
        """Export case JSON, CSV, the HTML report and (with a DICOM source) the SR into ``folder``,
        the SR COMPLETE/VERIFIED when ``final``; return the paths."""
        return read_folder.exportRead(self.state, folder, progress, final)

    def sendSRToPACS(self, serverFile: str | os.PathLike, progress: PanelProgress | None = None,
                     final: bool = False) -> str:
        """Write the read's SR (final when ``final``) and store it on the PACS named by a server file;
        return the client's line."""
        return read_folder.sendSRToPACS(self.state, serverFile, progress, final)

    def loadCaseIntoScene(self, case: dict, progress: PanelProgress | None = None) -> dict:
        """Replace the scene's read by a case dict (markups rebuilt from it); return the case."""
        return opening.loadCaseIntoScene(self.state, case, progress)

    def openCaseFile(self, path: str | os.PathLike, progress: PanelProgress | None = None) -> dict:
        """Open a case JSON file into the scene; return the case dict."""
        return opening.openCaseFile(self.state, path, progress)

    def openSR(self, path: str | os.PathLike, progress: PanelProgress | None = None) -> dict:
        """Open a DICOM SR written by ISCMAssist into the scene; return the case dict."""
        return opening.openSR(self.state, path, progress)

    def openAny(self, path: str | os.PathLike, progress: PanelProgress | None = None) -> dict:
        """The panel's Open: a read folder, a case JSON or a DICOM SR; return the case dict."""
        return opening.openAny(self.state, path, progress)

    def openDemo(self, out: str | os.PathLike, progress: PanelProgress | None = None) -> dict:
        """Write (or reuse) the demo exam and read in ``out``, load its series and open its read; return the case."""
        return opening.openDemo(self.state, out, progress)

    # ------------------------------------------------------------------ undo (scene/history.py)

    def resetUndo(self) -> None:
        """Forget the undo steps (a new read was opened); the current read is the first step."""
        self._history.reset()

    def recordUndoStep(self) -> bool:
        """Call on the panel's timer: a read that stayed the same since the last call becomes an undo
        step (a drag is one step); return whether one was added."""
        return self._history.recordStep()

    def canUndo(self) -> bool:
        """Return whether there is a change to undo (cheap: called on every refresh)."""
        return self._history.canUndo()

    def undo(self) -> bool:
        """Put back the read before the last change; return False when there is none. Raises
        ValueError for a read with an ROI or a segmentation."""
        return self._history.undo()

    # ------------------------------------------------------------------ research sessions (scene/session.py)

    def openSession(self, folder: str | os.PathLike, reader: str) -> Any:
        """Open a session folder as ``reader``; return the core Session."""
        return self._session.openSession(folder, reader)

    def sessionIsOpen(self) -> bool:
        """Return whether a session is open."""
        return self._session.session is not None

    def sessionCaseId(self) -> str | None:
        """Return the id of the session case shown in the scene, or None."""
        return self._session.caseId

    def nextCase(self, progress: PanelProgress | None = None) -> str | None:
        """Flush the current case and load the reader's next one; return its id (None: all done)."""
        return self._session.nextCase(progress)

    def openSessionCase(self, caseId: str, progress: PanelProgress | None = None) -> str:
        """Flush the current case and load session case ``caseId``; return it."""
        return self._session.openSessionCase(caseId, progress)

    def autosaveNow(self, force: bool = False) -> bool:
        """Save the session case when a session is open, else the read into the autosave folder
        (:meth:`setAutosaveFolder`), when it changed (or ``force``); return whether it saved."""
        if self.sessionIsOpen():
            return self._session.autosaveNow(force)
        return self._readAutosave.autosave(force)

    def setAutosaveFolder(self, folder: str | os.PathLike | None, intervalS: float = 1.0) -> None:
        """Outside sessions, let :meth:`autosaveNow` save the read into read folder ``folder`` (None:
        not), at most once per ``intervalS`` s; the current read counts as saved."""
        self._readAutosave.setFolder(folder, intervalS)

    def markReadSaved(self) -> None:
        """Take the current read as saved in the autosave folder (e.g. just opened)."""
        self._readAutosave.markSaved()

    def markDone(self) -> None:
        """Save the session case and mark it done for the reader."""
        self._session.markDone()

    def detachSessionCase(self) -> None:
        """Flush the session case and stop saving the scene into it."""
        self._session.detachSessionCase()

    def closeSession(self) -> None:
        """Flush the open case's changes and forget the session."""
        self._session.closeSession()

    def sessionProgressText(self) -> str:
        """Return the panel's session progress line."""
        return self._session.sessionProgressText()

    def sessionOpenedUiState(self) -> dict:
        """Return the UI state the current session case was opened with."""
        return dict(self._session.openedUi)

    def sessionUiState(self) -> dict:
        """Return the UI state saved with each autosave (active lesion, next level label, slice origins)."""
        return self._session.sessionUiState()

    def restoreUiState(self, ui: dict | None) -> None:
        """Put back a UI state of :meth:`sessionUiState`."""
        self._session.restoreUiState(ui)
