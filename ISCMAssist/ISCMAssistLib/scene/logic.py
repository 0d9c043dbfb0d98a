"""ISCMAssistLogic: the reader's markups in a Slicer scene <-> the ISCMAssist core read.

Runs in the Slicer app and headless on slicer-core's MRML (see ISCMAssistHeadless.py). Every decision
lives here; the module Widget only wires buttons to these methods.

Node roles are node attributes that the scene file keeps: ``ISCMAssist.Role`` (one of ``ROLES``) and,
for lesion nodes, ``ISCMAssist.LesionId`` ("L1", "L2", ...). Each lesion has a subject hierarchy folder
"Lesion N" (item attribute ``ISCMAssist.LesionId``) holding its markups, coloured per lesion. The case
dict of docs/core-api.md, reader overrides included, is kept as JSON in the parameter node
(``caseJson``); recomputation writes the derived fields into it, the hints into ``hintsJson``, the
warnings into ``warningsJson`` and one row per lesion into a vtkMRMLTableNode (``lesionTable``).
Scene positions are RAS mm; the case holds LPS mm (converted only through ISCMAssistLib.coords).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import vtk

import slicer
from slicer.util import VTKObservationMixin

try:  # only inside the Slicer app
    from slicer.ScriptedLoadableModule import ScriptedLoadableModuleLogic as _LogicBase
except ImportError:

    class _LogicBase:  # type: ignore[no-redef]
        """Stand-in for ScriptedLoadableModuleLogic outside the Slicer app."""

        def __init__(self) -> None:
            pass

from ISCMAssistLib.scene.levels import LEVEL_MESSAGES_ATTRIBUTE, LevelsLogicMixin
from ISCMAssistLib import coords
from ISCMAssistLib.scene.opening import LEVELS_SOURCE_ATTRIBUTE, OpenLogicMixin
from ISCMAssistLib.scene.series import SeriesLogicMixin
from ISCMAssistLib.scene.session import SessionLogicMixin

MODULE_NAME = "ISCMAssist"
ROLE_ATTRIBUTE = "ISCMAssist.Role"
LESION_ATTRIBUTE = "ISCMAssist.LesionId"
SOURCE_ATTRIBUTE = "ISCMAssist.SourcePath"  # file or DICOM folder a series volume was loaded from
GAPS_ATTRIBUTE = "ISCMAssist.SliceGaps"  # JSON [[k_first, k_last, gap_mm, step_mm], ...] of missing slices
#: the series each line is drawn on: lines that cross a slice gap of it are not measured
LINE_SERIES = {"si": "t1_post", "ap": "t1_post", "transverse": "t1_post", "edema_si": "t2_sagittal"}

#: role -> name of the line in the case's ``lines_lps``
LINE_ROLES: dict[str, str] = {
    "lesion_si": "si", "lesion_ap": "ap", "lesion_transverse": "transverse", "edema_si": "edema_si",
}
LESION_ROLES: tuple[str, ...] = (
    "lesion_si", "lesion_ap", "lesion_transverse", "lesion_roi", "edema_si", "lesion_segment", "edema_segment",
)
SCENE_ROLES: tuple[str, ...] = ("levels", "conus")
ROLES: tuple[str, ...] = LESION_ROLES + SCENE_ROLES
_ROLE_CLASS = {
    **{role: "vtkMRMLMarkupsLineNode" for role in LINE_ROLES},
    "lesion_roi": "vtkMRMLMarkupsROINode",
    "lesion_segment": "vtkMRMLSegmentationNode",
    "edema_segment": "vtkMRMLSegmentationNode",
    "levels": "vtkMRMLMarkupsFiducialNode",
    "conus": "vtkMRMLMarkupsFiducialNode",
}
_ROLE_TITLE = {
    "lesion_si": "SI", "lesion_ap": "AP", "lesion_transverse": "transverse", "lesion_roi": "ROI",
    "edema_si": "edema SI", "lesion_segment": "segment", "edema_segment": "edema segment",
}
LEVELS_NODE_NAME = "Vertebral levels"
CONUS_NODE_NAME = "Conus tip"
TABLE_NODE_NAME = "ISCMAssist lesions"

#: parameter node: series references (case series role -> parameter name)
SERIES_PARAMETERS: dict[str, str] = {"t2_sagittal": "t2Volume", "t1_post": "t1PostVolume", "t1_pre": "t1PreVolume"}
TABLE_PARAMETER = "lesionTable"
CASE_PARAMETER = "caseJson"
HINTS_PARAMETER = "hintsJson"
WARNINGS_PARAMETER = "warningsJson"
CASE_ID_PARAMETER = "caseId"
READER_PARAMETER = "readerName"
ACTIVE_LESION_PARAMETER = "activeLesionId"
NEXT_LEVEL_PARAMETER = "nextLevelLabel"
DEFAULT_CASE_ID = "case-001"

#: per-lesion colours (RGB 0-1), lesion n takes entry (n - 1) mod 10; edema lines are a lighter tint
LESION_COLORS: tuple[tuple[float, float, float], ...] = (
    (0.90, 0.16, 0.16), (0.12, 0.47, 0.71), (0.17, 0.63, 0.17), (1.00, 0.50, 0.05), (0.58, 0.40, 0.74),
    (0.55, 0.34, 0.29), (0.89, 0.47, 0.76), (0.74, 0.74, 0.13), (0.09, 0.75, 0.81), (0.50, 0.50, 0.50),
)

#: read folder layout
MANIFEST_FILE = "iscm-assist-read.json"
CASE_FILE = "case.json"
TABLE_FILE = "lesions.csv"
FOLDER_FORMAT = "ISCMAssist read folder"
FOLDER_FORMAT_VERSION = 1

_MARKUP_EVENTS = (
    slicer.vtkMRMLMarkupsNode.PointModifiedEvent,
    slicer.vtkMRMLMarkupsNode.PointAddedEvent,
    slicer.vtkMRMLMarkupsNode.PointRemovedEvent,
    slicer.vtkMRMLMarkupsNode.PointPositionDefinedEvent,
    slicer.vtkMRMLMarkupsNode.PointPositionUndefinedEvent,
)
_LESION_ID_RE = re.compile(r"^L([1-9][0-9]*)$")

ProgressCallback = Callable[[float, str], None]


class ReadFolderError(OSError):
    """A read folder that cannot be saved or opened; the message names the folder/file and the problem."""


class RoleError(ValueError):
    """An unknown node role or lesion id; the message names it and what is allowed."""


def _no_progress(_fraction: float, _message: str) -> None:
    pass


def lesionName(lesionId: str) -> str:
    """Take a lesion id "L3"; return its display name "Lesion 3"."""
    return f"Lesion {_lesionNumber(lesionId)}"


def lesionColor(lesionId: str) -> tuple[float, float, float]:
    """Take a lesion id; return its RGB colour (0-1 floats)."""
    return LESION_COLORS[(_lesionNumber(lesionId) - 1) % len(LESION_COLORS)]


def _lesionNumber(lesionId: str) -> int:
    match = _LESION_ID_RE.match(str(lesionId))
    if not match:
        raise RoleError(f"lesion id '{lesionId}' is not of the form L1, L2, ...")
    return int(match.group(1))


def nextLevelLabel(label: str) -> str:
    """Take a level landmark label; return the next one caudally ("T4" -> "T4/T5" -> "T5"), "" after S1
    or for a label that is not a vertebra or disc (so placing points top-down labels them in turn)."""
    from ISCMAssistLib import vertebrae

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


def _tint(color: tuple[float, float, float], amount: float = 0.45) -> tuple[float, float, float]:
    return tuple(c + (1.0 - c) * amount for c in color)


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


def _hintToDict(hint: Any) -> dict:
    """A core Hint as a JSON-ready dict; each evidence item gains "line", its one-line citation."""
    return {"id": hint.id, "direction": hint.direction, "text": hint.text, "lesion_id": hint.lesion_id,
            "evidence": [_evidenceToDict(item) for item in hint.evidence]}


class ISCMAssistLogic(OpenLogicMixin, LevelsLogicMixin, SessionLogicMixin, SeriesLogicMixin,
                      _LogicBase, VTKObservationMixin):
    """MRML <-> core for one read. Takes the scene (default ``slicer.mrmlScene``) and, headless, the
    module logics by name ({"Markups": ..., "Segmentations": ..., "Volumes": ...}; in the app they
    default to ``slicer.modules.<name>.logic()``). Call :meth:`cleanup` to drop every observer.

    Feature groups live beside this file as mixins: opening a case dict / case JSON / DICOM SR into
    the scene (ISCMAssistOpenLogic), automatic levels (ISCMAssistLevelsLogic), research sessions
    (ISCMAssistSessionLogic) and exam folders with series roles (ISCMAssistSeriesLogic).
    """

    def __init__(self, scene: Any = None, moduleLogics: dict[str, Any] | None = None) -> None:
        VTKObservationMixin.__init__(self)
        _LogicBase.__init__(self)
        self.scene = scene if scene is not None else getattr(slicer, "mrmlScene", None)
        if self.scene is None:
            raise RuntimeError("ISCMAssistLogic needs a MRML scene (no slicer.mrmlScene outside the app)")
        self.moduleLogics = dict(moduleLogics or {})
        self.autoRecompute = True
        self._batchDepth = 0
        self._dirty = False
        self._recomputing = False
        self._caseText: str | None = None
        self._case: dict | None = None
        self._modelKey: Any = None
        self._model: Any = None
        self._modelWarnings: list[str] = []
        self._maskCache: dict[str, tuple[Any, Any]] = {}
        self._tableColumns: list[tuple[str, str, str, str | None]] | None = None
        self._roleNodes: dict[str, Any] = {}  # node ID -> node, for every node with a role
        self._extraWarnings: list[str] = []  # warnings of actions (e.g. a missing series), kept until clearRead
        self._levelLabelsSeen: list[str] | None = None
        self._relabeling = False
        self.addObserver(self.scene, slicer.vtkMRMLScene.NodeAddedEvent, self._onNodeAdded)
        self.addObserver(self.scene, slicer.vtkMRMLScene.NodeRemovedEvent, self._onNodeRemoved)
        self.addObserver(self.scene, slicer.vtkMRMLScene.StartCloseEvent, self._onSceneStartClose)
        self.addObserver(self.scene, slicer.vtkMRMLScene.EndCloseEvent, self._onSceneEndClose)
        self.addObserver(self.scene, slicer.vtkMRMLScene.EndImportEvent, self._onSceneEndImport)
        self.observeSceneNodes()

    # ------------------------------------------------------------------ lifecycle and observers

    def cleanup(self) -> None:
        """Remove every observer this logic added (scene and nodes)."""
        self.removeObservers()
        self._roleNodes.clear()

    def observedNodeCount(self) -> int:
        """Return how many role nodes this logic observes (for tests and diagnostics)."""
        return len(self._roleNodes)

    def observeSceneNodes(self) -> None:
        """Observe every node in the scene that carries an ISCMAssist role (after import or reload)."""
        nodes = self.scene.GetNodes()
        for index in range(nodes.GetNumberOfItems()):
            node = nodes.GetItemAsObject(index)
            if node.GetAttribute(ROLE_ATTRIBUTE):
                self._observeNode(node)

    def _observeNode(self, node: Any) -> None:
        if node.GetID() in self._roleNodes:
            return
        self._roleNodes[node.GetID()] = node
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
                self._levelLabelsSeen = [node.GetNthControlPointLabel(i) for i in range(node.GetNumberOfControlPoints())]
        elif node.IsA("vtkMRMLSegmentationNode"):
            self.addObserver(node, slicer.vtkSegmentation.RepresentationModified, self._onMarkupsModified)
            self.addObserver(node, slicer.vtkSegmentation.SegmentModified, self._onMarkupsModified)

    def _unobserveNode(self, node: Any) -> None:
        if self._roleNodes.pop(node.GetID(), None) is None:
            return
        for observedNode, event, method, _group, _tag, _priority in self.Observations:
            if observedNode is node:
                self.removeObserver(node, event, method)
        self._maskCache.pop(node.GetID(), None)

    @vtk.calldata_type(vtk.VTK_OBJECT)
    def _onNodeAdded(self, _caller: Any, _event: Any, node: Any) -> None:
        if node is not None and node.GetAttribute(ROLE_ATTRIBUTE):
            self._observeNode(node)
            if not self.scene.IsImporting():
                self.requestRecompute()

    @vtk.calldata_type(vtk.VTK_OBJECT)
    def _onNodeRemoved(self, _caller: Any, _event: Any, node: Any) -> None:
        if node is not None and node.GetID() in self._roleNodes:
            self._unobserveNode(node)
            if not self.scene.IsClosing():
                self.requestRecompute()

    def _onSceneStartClose(self, _caller: Any, _event: Any) -> None:
        self.detachSessionCase()  # save while the read is still in the scene; an empty scene is never saved

    def _onSceneEndClose(self, _caller: Any, _event: Any) -> None:
        for node in list(self._roleNodes.values()):
            self._unobserveNode(node)
        self._caseText = self._case = None
        self._modelKey = self._model = None
        self._maskCache.clear()
        self._extraWarnings = []
        self._levelLabelsSeen = None

    def _onSceneEndImport(self, _caller: Any, _event: Any) -> None:
        self.observeSceneNodes()
        self.requestRecompute()

    def _onLevelPointAdded(self, node: Any, _event: Any) -> None:
        parameterNode = self.getParameterNode()
        label = parameterNode.GetParameter(NEXT_LEVEL_PARAMETER).strip()
        if not label or self._batchDepth:
            return
        node.SetNthControlPointLabel(node.GetNumberOfControlPoints() - 1, label)
        parameterNode.SetParameter(NEXT_LEVEL_PARAMETER, nextLevelLabel(label))

    def _onMarkupsModified(self, _caller: Any, _event: Any) -> None:
        self.requestRecompute()

    def requestRecompute(self) -> None:
        """Recompute now (live mode) or at the end of the current batch."""
        if self._batchDepth or not self.autoRecompute:
            self._dirty = True
        elif not self._recomputing:
            self.recompute()

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Context manager: hold live recomputation until the block ends, then recompute once if needed."""
        self._batchDepth += 1
        try:
            yield
        finally:
            self._batchDepth -= 1
            if self._batchDepth == 0 and self._dirty and self.autoRecompute:
                self.recompute()

    # ------------------------------------------------------------------ parameter node

    def getParameterNode(self) -> Any:
        """Return the module's vtkMRMLScriptedModuleNode in ``self.scene`` (singleton tag "ISCMAssist"),
        creating it when missing. The Widget wraps it with ISCMAssistParameterNode."""
        node = self.scene.GetSingletonNode(MODULE_NAME, "vtkMRMLScriptedModuleNode")
        if node is None:
            node = slicer.vtkMRMLScriptedModuleNode()
            node.SetSingletonTag(MODULE_NAME)
            node.SetName(self.scene.GenerateUniqueName(MODULE_NAME))
            node.SetAttribute("ModuleName", MODULE_NAME)
            node = self.scene.AddNode(node)
        return node

    def _setNodeParameter(self, name: str, node: Any) -> None:
        # Same storage as parameterNodeWrapper's NodeSerializer: empty parameter + node reference.
        parameterNode = self.getParameterNode()
        parameterNode.SetParameter(name, "")
        parameterNode.SetNodeReferenceID(name, node.GetID() if node is not None else None)

    def setSeriesVolume(self, role: str, volumeNode: Any) -> None:
        """Take a series role ("t2_sagittal", "t1_post", "t1_pre") and a volume node (or None); select it."""
        if role not in SERIES_PARAMETERS:
            raise RoleError(f"series role '{role}' is not one of {sorted(SERIES_PARAMETERS)}")
        self._setNodeParameter(SERIES_PARAMETERS[role], volumeNode)
        if volumeNode is None:
            case = self.getCase()
            case["series"] = [entry for entry in case.get("series") or [] if entry.get("role") != role]
            self._storeCase(case)
        self.requestRecompute()

    def seriesVolume(self, role: str) -> Any:
        """Return the volume node selected for a series role, or None."""
        return self.getParameterNode().GetNodeReference(SERIES_PARAMETERS[role])

    def addSeriesVolume(self, volume: Any, name: str, role: str | None = None) -> Any:
        """Put a core Volume (array [k, j, i], ijk_to_ras RAS mm) into the scene as a scalar volume node
        named ``name``; select it for series ``role`` when given. Returns the node."""
        from vtk.util import numpy_support

        array = np.ascontiguousarray(volume.array)
        image = vtk.vtkImageData()
        image.SetDimensions(array.shape[2], array.shape[1], array.shape[0])
        scalars = numpy_support.numpy_to_vtk(array.ravel(), deep=True)
        image.GetPointData().SetScalars(scalars)
        node = self.scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
        ijkToRas = vtk.vtkMatrix4x4()
        for row in range(4):
            for column in range(4):
                ijkToRas.SetElement(row, column, float(volume.ijk_to_ras[row][column]))
        node.SetIJKToRASMatrix(ijkToRas)
        node.SetAndObserveImageData(image)
        node.CreateDefaultDisplayNodes()
        if role is not None:
            self.setSeriesVolume(role, node)
        return node

    def loadSeries(self, path: str | os.PathLike, role: str | None, progress: ProgressCallback | None = None) -> Any:
        """Load a NIfTI/NRRD file or a folder of one DICOM series as a volume node and select it for
        ``role`` (a role without a selector, e.g. "t2_axial", or None only loads it); return the node.
        Raises ReadFolderError when nothing loads."""
        progress = progress or _no_progress
        path = Path(path)
        volumesLogic = self._moduleLogic("Volumes")
        progress(0.0, f"Loading {path.name}")
        gaps: list = []
        if path.is_dir():
            files, headers, gaps = self._seriesFilesInSliceOrder(path)
            if gaps:  # Slicer's reader cannot represent missing slices: blank slices in their place
                from ISCMAssistLib.volumes import VolumeLoadError, load_dicom_series

                try:
                    volume = load_dicom_series(files, headers=headers, source=str(path))
                except VolumeLoadError as error:
                    raise ReadFolderError(str(error)) from None
                node = self.addSeriesVolume(volume, path.name)
                self._appendWarnings(list(volume.warnings))
            else:
                fileList = vtk.vtkStringArray()
                for name in files:
                    fileList.InsertNextValue(str(name))
                node = volumesLogic.AddArchetypeVolume(str(files[0]), path.name, 0, fileList)
        elif path.is_file():
            node = volumesLogic.AddArchetypeVolume(str(path), path.name.split(".")[0])
        else:
            raise ReadFolderError(f"{path}: no such file or folder")
        if node is None:
            raise ReadFolderError(f"{path}: not a volume Slicer can read")
        node.SetAttribute(SOURCE_ATTRIBUTE, str(path.absolute()))
        if gaps:
            node.SetAttribute(GAPS_ATTRIBUTE, json.dumps(
                [[gap.k_first, gap.k_last, gap.gap_mm, gap.step_mm] for gap in gaps]))
        if role in SERIES_PARAMETERS:
            self.setSeriesVolume(role, node)
        progress(1.0, f"Loaded {path.name}")
        return node

    @staticmethod
    def _seriesFilesInSliceOrder(folder: Path) -> tuple[list[Path], list, list]:
        """The image files of the one DICOM series in ``folder`` sorted along the slice normal (Slicer's
        archetype reader trusts the order it is given, so name order would give a wrong slice spacing),
        their headers in that order, and the slice gaps (volumes.SliceGap). Non-image and unreadable
        files are left out. Raises ReadFolderError for no or several series or a bad geometry."""
        from ISCMAssistLib.ingest import IngestError, scan_folder
        from ISCMAssistLib.volumes import VolumeLoadError, slice_order

        try:
            scan = scan_folder(folder, include_nifti=False, describe=False)
            if len(scan.series) != 1:
                found = ", ".join(series.label for series in scan.series) or "none"
                raise ReadFolderError(f"{folder}: expected one DICOM series, found {len(scan.series)} ({found})")
            series = scan.series[0]
            order = slice_order(series.files, headers=series.headers)
        except (IngestError, VolumeLoadError) as error:
            raise ReadFolderError(str(error)) from None
        header_of = dict(zip(series.files, series.headers))
        return order.files, [header_of[file] for file in order.files], order.gaps

    def _lineCheck(self):
        """A read.LineCheck refusing a line that lies outside the series it is drawn on, or crosses a
        slice gap of it; None when no series is selected."""
        parameterNode = self.getParameterNode()
        volumes = {name: parameterNode.GetNodeReference(SERIES_PARAMETERS[role]) for name, role in LINE_SERIES.items()}
        volumes = {name: volume for name, volume in volumes.items()
                   if volume is not None and volume.GetImageData() is not None}
        if not volumes:
            return None

        def check(name: str, pointsRas: np.ndarray) -> str | None:
            volume = volumes.get(name)
            if volume is None:
                return None
            rasToIjk = vtk.vtkMatrix4x4()
            volume.GetRASToIJKMatrix(rasToIjk)
            ijk = np.array([rasToIjk.MultiplyPoint([*map(float, point), 1.0])[:3] for point in pointsRas])
            dimensions = np.array(volume.GetImageData().GetDimensions())
            if ((ijk < -0.5) | (ijk > dimensions - 0.5)).any():
                return f"a point lies outside {volume.GetName()}; move it onto the image"
            k = ijk[:, 2]
            for kFirst, kLast, gapMm, stepMm in json.loads(volume.GetAttribute(GAPS_ATTRIBUTE) or "[]"):
                if k.max() > kFirst - 1 and k.min() < kLast + 1:
                    return (f"it crosses a slice gap of {gapMm:.2f} mm in {volume.GetName()} "
                            f"(slices {kFirst}-{kLast} missing, step {stepMm:.2f} mm)")
            return None

        return check

    # ------------------------------------------------------------------ lesions and markups

    def _shNode(self) -> Any:
        return self.scene.GetSubjectHierarchyNode()

    def _lesionFolders(self) -> dict[str, int]:
        """lesion id -> subject hierarchy folder item, for every lesion folder in the scene."""
        sh = self._shNode()
        ids = vtk.vtkIdList()
        sh.GetItemChildren(sh.GetSceneItemID(), ids, True)
        folders = {}
        for index in range(ids.GetNumberOfIds()):
            item = ids.GetId(index)
            lesionId = sh.GetItemAttribute(item, LESION_ATTRIBUTE)
            if lesionId and sh.GetItemDataNode(item) is None:
                folders[lesionId] = item
        return folders

    def lesionIds(self) -> list[str]:
        """Return the ids of the lesions in the scene ("L1", "L2", ...), in number order."""
        ids = set(self._lesionFolders())
        ids.update(node.GetAttribute(LESION_ATTRIBUTE) for node in self._roleNodes.values()
                   if node.GetAttribute(LESION_ATTRIBUTE))
        return sorted((i for i in ids if _LESION_ID_RE.match(i)), key=_lesionNumber)

    def lesionNodes(self, lesionId: str) -> dict[str, Any]:
        """Take a lesion id; return its nodes by role (only the roles that have a node)."""
        return {node.GetAttribute(ROLE_ATTRIBUTE): node for node in self._roleNodes.values()
                if node.GetAttribute(LESION_ATTRIBUTE) == lesionId}

    def roleNode(self, role: str) -> Any:
        """Return the scene-wide node of a role ("levels" or "conus"), or None."""
        for node in self._roleNodes.values():
            if node.GetAttribute(ROLE_ATTRIBUTE) == role and not node.GetAttribute(LESION_ATTRIBUTE):
                return node
        return None

    def addLesion(self) -> str:
        """Add the next lesion (id one above the highest so far; folder "Lesion N"); return its id."""
        existing = [_lesionNumber(i) for i in self.lesionIds()]
        lesionId = f"L{max(existing, default=0) + 1}"
        self._lesionFolder(lesionId)
        self.getParameterNode().SetParameter(ACTIVE_LESION_PARAMETER, lesionId)
        self.requestRecompute()
        return lesionId

    def _lesionFolder(self, lesionId: str) -> int:
        folder = self._lesionFolders().get(lesionId)
        if folder is None:
            sh = self._shNode()
            folder = sh.CreateFolderItem(sh.GetSceneItemID(), lesionName(lesionId))
            sh.SetItemAttribute(folder, LESION_ATTRIBUTE, lesionId)
        return folder

    def addLesionMarkup(self, lesionId: str, role: str, pointsRas: Any = None) -> Any:
        """Create (or return the existing) node of ``role`` for a lesion and put it in the lesion folder.

        pointsRas: optional control points, RAS mm, shape (N, 3) (lines take 2); for "lesion_roi" give
        [[centre], [size_rl, size_ap, size_si]] in mm. Returns the node.
        """
        _lesionNumber(lesionId)
        if role not in LESION_ROLES:
            raise RoleError(f"lesion role '{role}' is not one of {', '.join(LESION_ROLES)}")
        if pointsRas is not None and _ROLE_CLASS[role] == "vtkMRMLSegmentationNode":
            raise RoleError(f"{role}: a segmentation takes a mask (addLesionSegment), not points")
        node = self.lesionNodes(lesionId).get(role)
        if node is None:
            with self.batch():
                node = self._createRoleNode(role, f"{lesionName(lesionId)} {_ROLE_TITLE[role]}", lesionId)
                if pointsRas is not None:
                    self.setControlPoints(node, pointsRas)
        elif pointsRas is not None:
            self.setControlPoints(node, pointsRas)
        return node

    def addLesionSegment(self, lesionId: str, role: str, mask: Any, name: str | None = None) -> Any:
        """Put a binary mask (core Volume: array [k, j, i] non-zero inside, ijk_to_ras RAS mm) into the
        lesion's "lesion_segment" or "edema_segment" segmentation node as one more segment; return the node."""
        if role not in ("lesion_segment", "edema_segment"):
            raise RoleError(f"segment role '{role}' is not lesion_segment or edema_segment")
        from vtk.util import numpy_support

        array = np.ascontiguousarray((np.asarray(mask.array) != 0).astype(np.uint8))
        image = slicer.vtkOrientedImageData()
        image.SetDimensions(array.shape[2], array.shape[1], array.shape[0])
        image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(array.ravel(), deep=True))
        matrix = vtk.vtkMatrix4x4()
        for row in range(4):
            for column in range(4):
                matrix.SetElement(row, column, float(mask.ijk_to_ras[row][column]))
        image.SetImageToWorldMatrix(matrix)
        with self.batch():
            node = self.addLesionMarkup(lesionId, role)
            segmentName = name or f"{lesionName(lesionId)} {_ROLE_TITLE[role]}"
            node.AddSegmentFromBinaryLabelmapRepresentation(image, segmentName, lesionColor(lesionId))
            self._adoptNode(node)  # colour the new segment
            self._dirty = True
        return node

    def _createRoleNode(self, role: str, name: str, lesionId: str | None) -> Any:
        # Attributes are set before AddNode so that NodeAddedEvent already sees the role.
        node = self.scene.CreateNodeByClass(_ROLE_CLASS[role])
        node.UnRegister(None)
        node.SetName(name)
        node.SetAttribute(ROLE_ATTRIBUTE, role)
        if lesionId:
            node.SetAttribute(LESION_ATTRIBUTE, lesionId)
        self.scene.AddNode(node)
        node.CreateDefaultDisplayNodes()
        self._adoptNode(node)
        return node

    def _adoptNode(self, node: Any) -> None:
        """Put a role node in its lesion folder, colour it, observe it."""
        lesionId = node.GetAttribute(LESION_ATTRIBUTE)
        role = node.GetAttribute(ROLE_ATTRIBUTE)
        if lesionId:
            sh = self._shNode()
            folder = self._lesionFolder(lesionId)
            item = sh.GetItemByDataNode(node)
            if item:
                sh.SetItemParent(item, folder)
            else:  # in the app the subject hierarchy plugins add the item; headless nobody does
                sh.CreateItem(folder, node)
            color = lesionColor(lesionId)
            if role in ("edema_si", "edema_segment"):
                color = _tint(color)
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
        self._observeNode(node)

    def levelsNode(self) -> Any:
        """Return the vertebral-level point list (labels "C2", "T4/T5", ...; created when missing)."""
        return self.roleNode("levels") or self._createRoleNode("levels", LEVELS_NODE_NAME, None)

    def conusNode(self) -> Any:
        """Return the conus tip point list (one point; created when missing)."""
        return self.roleNode("conus") or self._createRoleNode("conus", CONUS_NODE_NAME, None)

    def setLevelLandmarks(self, labels: list[str], pointsRas: Any) -> Any:
        """Replace the level points with ``labels`` at ``pointsRas`` (RAS mm, (N, 3)); return the node."""
        points = np.asarray(pointsRas, dtype=float).reshape(-1, 3)
        if len(labels) != len(points):
            raise ValueError(f"levels: {len(labels)} labels for {len(points)} points")
        node = self.levelsNode()
        with self.batch():
            self.setControlPoints(node, points, labels)
            node.SetAttribute(LEVELS_SOURCE_ATTRIBUTE, "landmarks")
            node.RemoveAttribute(LEVEL_MESSAGES_ATTRIBUTE)
        return node

    def setConus(self, pointRas: Any) -> Any:
        """Place the conus medullaris tip at ``pointRas`` (RAS mm); return the node."""
        node = self.conusNode()
        with self.batch():
            self.setControlPoints(node, np.asarray(pointRas, dtype=float).reshape(1, 3), ["conus"])
        return node

    def setControlPoints(self, node: Any, pointsRas: Any, labels: list[str] | None = None) -> None:
        """Replace a markup's control points (RAS mm, (N, 3)); ROI nodes take [[centre], [size]] (mm)."""
        points = np.asarray(pointsRas, dtype=float).reshape(-1, 3)
        with self.batch():
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
            self._dirty = True

    def removeLesion(self, lesionId: str) -> None:
        """Remove a lesion: its nodes (and their observers), its folder and its record in the case."""
        _lesionNumber(lesionId)
        with self.batch():
            for node in self.lesionNodes(lesionId).values():
                self.scene.RemoveNode(node)
            folder = self._lesionFolders().get(lesionId)
            if folder is not None:
                self._shNode().RemoveItem(folder, True, False)
            case = self.getCase()
            case["lesions"] = [lesion for lesion in case["lesions"] if lesion.get("id") != lesionId]
            self._storeCase(case)
            parameterNode = self.getParameterNode()
            if parameterNode.GetParameter(ACTIVE_LESION_PARAMETER) == lesionId:
                remaining = self.lesionIds()
                parameterNode.SetParameter(ACTIVE_LESION_PARAMETER, remaining[-1] if remaining else "")
            self._dirty = True

    def clearRead(self) -> None:
        """Remove every ISCMAssist node, lesion folder, the table and the stored case from the scene."""
        with self.batch():
            for node in list(self._roleNodes.values()):
                self.scene.RemoveNode(node)
            sh = self._shNode()
            for folder in self._lesionFolders().values():
                sh.RemoveItem(folder, True, False)
            parameterNode = self.getParameterNode()
            table = parameterNode.GetNodeReference(TABLE_PARAMETER)
            if table is not None:
                self.scene.RemoveNode(table)
            for name in (CASE_PARAMETER, HINTS_PARAMETER, WARNINGS_PARAMETER, ACTIVE_LESION_PARAMETER):
                parameterNode.SetParameter(name, "")
            self._caseText = self._case = None
            self._extraWarnings = []
            self._dirty = False

    def startPlacement(self, node: Any, persistent: bool = False) -> bool:
        """Make ``node`` the active markup and switch the views to place mode (app only); return whether
        placement started (False headless, where there is no interaction node)."""
        markupsLogic = self._moduleLogic("Markups")
        interactionNode = self.scene.GetNodeByID("vtkMRMLInteractionNodeSingleton")
        if interactionNode is None:
            return False
        markupsLogic.SetActiveList(node)
        markupsLogic.StartPlaceMode(persistent, interactionNode)
        return True

    # ------------------------------------------------------------------ case and checklist

    def getCase(self) -> dict:
        """Return the case dict held in the parameter node (a new empty case when none is held yet).

        The dict is the logic's working copy: change it only through the methods below.
        """
        text = self.getParameterNode().GetParameter(CASE_PARAMETER)
        if text and text == self._caseText and self._case is not None:
            return self._case
        from ISCMAssistLib import case as casemod

        if text:
            try:
                case = casemod.complete_case(json.loads(text))
            except json.JSONDecodeError as error:
                raise ValueError(f"parameter node {CASE_PARAMETER}: not valid JSON ({error})") from None
        else:
            parameterNode = self.getParameterNode()
            case = casemod.new_case(parameterNode.GetParameter(CASE_ID_PARAMETER) or DEFAULT_CASE_ID,
                                    parameterNode.GetParameter(READER_PARAMETER) or None)
        self._case, self._caseText = case, text
        return case

    def _storeCase(self, case: dict) -> None:
        text = json.dumps(case, separators=(",", ":"))
        if text != self._caseText:
            self._sessionDirty = True  # autosaveNow writes the read
        self._case, self._caseText = case, text
        self.getParameterNode().SetParameter(CASE_PARAMETER, text)

    def setCase(self, case: dict) -> dict:
        """Replace the held case (validated first; CaseValidationError names the field); recompute; return it."""
        from ISCMAssistLib import case as casemod

        casemod.validate_case(case)
        case = casemod.complete_case(json.loads(json.dumps(case)))
        parameterNode = self.getParameterNode()
        wasModifying = parameterNode.StartModify()
        parameterNode.SetParameter(CASE_ID_PARAMETER, case["case_id"])
        parameterNode.SetParameter(READER_PARAMETER, (case.get("reader") or {}).get("name") or "")
        self._storeCase(case)
        parameterNode.EndModify(wasModifying)
        return self.recompute()

    def _record(self, case: dict, section: str, lesionId: str | None) -> dict:
        if section == "lesion":
            for lesion in case["lesions"]:
                if lesion["id"] == lesionId:
                    return lesion
            if lesionId in self.lesionIds():
                from ISCMAssistLib import case as casemod

                lesion = casemod.new_lesion(lesionId)
                case["lesions"].append(lesion)
                return lesion
            raise RoleError(f"lesion '{lesionId}' is not in the scene (lesions: {', '.join(self.lesionIds()) or 'none'})")
        if section in ("patient_findings", "clinical"):
            return case.setdefault(section, {})
        raise RoleError(f"checklist section '{section}' is not one of lesion, patient_findings, clinical")

    def setReaderValue(self, section: str, field: str, value: Any, lesionId: str | None = None) -> dict:
        """Set a checklist value as the reader's (provenance "reader"; recomputation keeps it).

        section: "lesion" (give lesionId), "patient_findings" or "clinical"; field: a feature name of
        ISCMAssistLib.case (or "size_mm.ap" etc., mm); value None = not assessable. Raises
        CaseValidationError for a value the schema does not allow. Recomputes; returns the case.
        """
        from ISCMAssistLib import case as casemod

        case = self.getCase()
        record = self._record(case, section, lesionId)
        casemod.set_reader_value(record, field, value)
        self._storeCase(case)
        return self.recompute()

    def revertToDerived(self, section: str, field: str, lesionId: str | None = None) -> dict:
        """Drop the reader's override of a field so the tool derives it again; recompute; return the case."""
        from ISCMAssistLib import case as casemod

        case = self.getCase()
        casemod.clear_reader_value(self._record(case, section, lesionId), field)
        self._storeCase(case)
        return self.recompute()

    def setCaseInfo(self, caseId: str | None = None, readerName: str | None = None,
                    notes: str | None = None) -> None:
        """Set the case pseudonym, the reader's name and/or the free-text notes (None leaves a value)."""
        parameterNode = self.getParameterNode()
        case = self.getCase()
        if caseId is not None:
            if not caseId.strip():
                raise ValueError("case_id: must not be empty")
            parameterNode.SetParameter(CASE_ID_PARAMETER, caseId)
            case["case_id"] = caseId
        if readerName is not None:
            parameterNode.SetParameter(READER_PARAMETER, readerName)
            case.setdefault("reader", {})["name"] = readerName or None
        if notes is not None:
            case["notes"] = notes
        self._storeCase(case)

    @staticmethod
    def _features(section: str) -> tuple:
        from ISCMAssistLib import case as casemod

        features = {"lesion": casemod.LESION_FEATURES, "patient_findings": casemod.PATIENT_FEATURES,
                    "clinical": casemod.CLINICAL_FEATURES}.get(section)
        if features is None:
            raise RoleError(f"checklist section '{section}' is not one of lesion, patient_findings, clinical")
        return features

    def checklistRows(self, section: str, lesionId: str | None = None) -> list[dict]:
        """Return the checklist of a section ("lesion" with lesionId, "patient_findings", "clinical") for
        the panel: one dict per field with field, label (unit included), kind, choices (texts; "" = not
        assessable), text (current value as text), source ("derived" | "reader" | ""), derivable.
        Sizes are three rows "size_mm.ap", "size_mm.transverse", "size_mm.si" (mm)."""
        case = self.getCase()
        record = self._record(case, section, lesionId)
        provenance = record.get("provenance") or {}
        rows = []
        for feature in self._features(section):
            unit = f" ({feature.unit})" if feature.unit else ""
            if feature.kind == "sizes":
                sizes = record.get(feature.name) or {}
                for axis, title in (("ap", "AP"), ("transverse", "transverse"), ("si", "SI")):
                    field = f"{feature.name}.{axis}"
                    rows.append({"field": field, "label": f"{feature.label}, {title}{unit}", "kind": "number",
                                 "choices": [], "text": self._cellText(sizes.get(axis)),
                                 "source": provenance.get(field) or provenance.get(feature.name) or "",
                                 "derivable": feature.derived})
                continue
            choices = ([""] + [self._cellText(value) for value in feature.values]) if feature.kind in ("enum", "boolean") else []
            rows.append({"field": feature.name, "label": f"{feature.label}{unit}", "kind": feature.kind,
                         "choices": choices, "text": self._cellText(record.get(feature.name)),
                         "source": provenance.get(feature.name, ""), "derivable": feature.derived})
        return rows

    def parseChecklistText(self, section: str, field: str, text: str) -> Any:
        """Turn the panel's text for a field into its value ("" -> None, "yes"/"no" -> bool, numbers,
        "a, b" -> list). Raises CaseValidationError naming the field when the text does not fit."""
        from ISCMAssistLib.case import CaseValidationError

        name = field.split(".")[0]
        feature = next((f for f in self._features(section) if f.name == name), None)
        if feature is None:
            raise CaseValidationError(f"{field}: unknown field of {section}", field)
        text = (text or "").strip()
        if not text:
            return None
        kind = "number" if "." in field else feature.kind
        if kind == "boolean":
            if text.lower() in ("yes", "true"):
                return True
            if text.lower() in ("no", "false"):
                return False
            raise CaseValidationError(f"{field}: '{text}' is not yes or no", field)
        if kind in ("number", "integer"):
            try:
                number = float(text)
            except ValueError:
                raise CaseValidationError(f"{field}: '{text}' is not a number", field) from None
            return int(number) if kind == "integer" and number.is_integer() else number
        if kind == "list":
            return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
        return text

    def setReaderText(self, section: str, field: str, text: str, lesionId: str | None = None) -> dict:
        """The panel's entry point: parse ``text`` (see parseChecklistText) and set it as the reader's value."""
        return self.setReaderValue(section, field, self.parseChecklistText(section, field, text), lesionId)

    # ------------------------------------------------------------------ recomputation

    def _linePoints(self, node: Any) -> np.ndarray | None:
        """The first two defined control points of a line node (RAS mm, (2, 3)), or None."""
        defined = node.GetNumberOfDefinedControlPoints()
        if defined < 2:
            return None
        if defined == node.GetNumberOfControlPoints():  # the usual case; skips the status checks
            return np.array([node.GetNthControlPointPositionWorld(0), node.GetNthControlPointPositionWorld(1)])
        points = [node.GetNthControlPointPositionWorld(i) for i in range(node.GetNumberOfControlPoints())
                  if node.GetNthControlPointPositionStatus(i) == node.PositionDefined]
        return np.array(points[:2], dtype=float)

    @staticmethod
    def _roiLines(node: Any) -> dict[str, np.ndarray]:
        """An ROI's three axes through its centre as RAS lines: transverse (R-L), ap, si."""
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

    def _landmarks(self) -> tuple[list[str], np.ndarray]:
        labels: list[str] = []
        points: list[Any] = []
        for node in (self.roleNode("levels"), self.roleNode("conus")):
            if node is None:
                continue
            isConus = node.GetAttribute(ROLE_ATTRIBUTE) == "conus"
            for index in range(node.GetNumberOfControlPoints()):
                if node.GetNthControlPointPositionStatus(index) != node.PositionDefined:
                    continue
                labels.append("conus" if isConus else node.GetNthControlPointLabel(index).strip())
                points.append(node.GetNthControlPointPositionWorld(index))
        return labels, np.array(points, dtype=float).reshape(-1, 3)

    def _levelModel(self, labels: list[str], points: np.ndarray) -> tuple[Any, list[str]]:
        """LevelModel.from_landmarks, cached while the landmarks do not change; (model or None, warnings)."""
        key = (tuple(labels), points.round(6).tobytes())
        if key == self._modelKey:
            return self._model, self._modelWarnings
        from ISCMAssistLib import vertebrae
        from ISCMAssistLib.levels import LevelModel

        model, warnings = None, []
        vertebral = [label for label in labels if label.lower() != vertebrae.CONUS_LABEL]
        if len(vertebral) < 2:
            if labels:
                warnings.append("levels: place at least two vertebral level points (e.g. T4 and T5/T6) "
                                "to count segments")
        else:
            try:
                model = LevelModel.from_landmarks(labels, points)
            except ValueError as error:
                warnings.append(f"levels: {error}")
        self._modelKey, self._model, self._modelWarnings = key, model, warnings
        return model, warnings

    def _segmentMask(self, node: Any) -> Any:
        """The union of a segmentation node's segments as a core Volume (binary uint8), or None."""
        from ISCMAssistLib.volumes import Volume

        segmentation = node.GetSegmentation()
        if segmentation.GetNumberOfSegments() == 0:
            return None
        mask = None
        for index in range(segmentation.GetNumberOfSegments()):
            segmentId = segmentation.GetNthSegmentID(index)
            image = node.GetBinaryLabelmapInternalRepresentation(segmentId)
            if image is None or image.IsEmpty():
                continue
            from vtk.util import numpy_support

            extent = image.GetExtent()
            dims = [extent[1] - extent[0] + 1, extent[3] - extent[2] + 1, extent[5] - extent[4] + 1]
            values = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(dims[::-1])
            labelValue = segmentation.GetNthSegment(index).GetLabelValue()
            imageToWorld = vtk.vtkMatrix4x4()
            image.GetImageToWorldMatrix(imageToWorld)
            ijkToRas = np.array([[imageToWorld.GetElement(r, c) for c in range(4)] for r in range(4)])
            ijkToRas[:3, 3] = ijkToRas[:3, :3] @ np.array(extent[0::2], dtype=float) + ijkToRas[:3, 3]
            current = (values == labelValue).astype(np.uint8)
            if mask is None:
                mask = Volume(current, ijkToRas)
            elif current.shape == mask.array.shape and np.allclose(ijkToRas, mask.ijk_to_ras):
                mask = Volume(np.maximum(mask.array, current), ijkToRas)
        return mask

    def _maskMeasurements(self, node: Any, model: Any) -> Any:
        """measurements.mask_measurements of a segmentation node, cached until the node or levels change."""
        segmentation = node.GetSegmentation()
        stamp = max([segmentation.GetMTime()] + [
            node.GetBinaryLabelmapInternalRepresentation(segmentation.GetNthSegmentID(i)).GetMTime()
            for i in range(segmentation.GetNumberOfSegments())
            if node.GetBinaryLabelmapInternalRepresentation(segmentation.GetNthSegmentID(i)) is not None])
        key = (stamp, id(model), self._modelKey)
        cached = self._maskCache.get(node.GetID())
        if cached is not None and cached[0] == key:
            return cached[1]
        from ISCMAssistLib.measurements import mask_measurements

        volume = self._segmentMask(node)
        result = None if volume is None else mask_measurements(volume, model)
        self._maskCache[node.GetID()] = (key, result)
        return result

    def buildCase(self) -> tuple[dict, Any, dict, list[str]]:
        """Build the core case from the scene: lesions (lines LPS mm), level landmarks, series.

        Returns (case, level model or None, mask measurements by lesion id, warnings). Reader values
        and lesion records of the held case are kept; lesions no longer in the scene are dropped.
        """
        from ISCMAssistLib import case as casemod

        case = self.getCase()
        parameterNode = self.getParameterNode()
        caseId = parameterNode.GetParameter(CASE_ID_PARAMETER)
        if caseId.strip():
            case["case_id"] = caseId
        reader = parameterNode.GetParameter(READER_PARAMETER)
        if reader:
            case.setdefault("reader", {})["name"] = reader

        labels, points = self._landmarks()
        model, warnings = self._levelModel(labels, points)
        warnings = list(warnings)
        landmarksLps = coords.ras_to_lps(points) if len(points) else points
        levelsNode = self.roleNode("levels")
        source = (levelsNode.GetAttribute(LEVELS_SOURCE_ATTRIBUTE) if levelsNode is not None else None) or "landmarks"
        case["levels"] = {
            "landmarks": [{"label": label, "position_lps": [float(v) + 0.0 for v in point]}
                          for label, point in zip(labels, landmarksLps)],
            "source": source if labels else None,
        }
        warnings += self.levelMessages() + self._extraWarnings

        nodesByLesion: dict[str, dict[str, Any]] = {}
        for node in self._roleNodes.values():
            lesionId = node.GetAttribute(LESION_ATTRIBUTE)
            if lesionId:
                nodesByLesion.setdefault(lesionId, {})[node.GetAttribute(ROLE_ATTRIBUTE)] = node
        records = {lesion.get("id"): lesion for lesion in case["lesions"]}
        lesions, masks = [], {}
        for lesionId in self.lesionIds():
            record = records.get(lesionId) or casemod.new_lesion(lesionId)
            nodes = nodesByLesion.get(lesionId, {})
            linesRas: dict[str, np.ndarray] = {}
            if "lesion_roi" in nodes:
                linesRas.update(self._roiLines(nodes["lesion_roi"]))
            for role, name in LINE_ROLES.items():
                if role in nodes:
                    line = self._linePoints(nodes[role])
                    if line is not None:
                        linesRas[name] = line
            # + 0.0 turns -0.0 (from negating 0) into 0.0 in the JSON
            record["lines_lps"] = {name: (coords.ras_to_lps(line) + 0.0).tolist() for name, line in linesRas.items()}
            lesionMask = self._maskMeasurements(nodes["lesion_segment"], model) if "lesion_segment" in nodes else None
            edemaMask = self._maskMeasurements(nodes["edema_segment"], model) if "edema_segment" in nodes else None
            if lesionMask is not None or edemaMask is not None:
                from ISCMAssistLib.read import LesionMasks

                masks[lesionId] = LesionMasks(lesion=lesionMask, edema=edemaMask)
            lesions.append(record)
        case["lesions"] = lesions

        # A selected volume replaces its role's entry; without one (e.g. an opened read whose images
        # are not loaded) the entry of the read is kept.
        series = list(case.get("series") or [])
        for role, parameter in SERIES_PARAMETERS.items():
            volume = parameterNode.GetNodeReference(parameter)
            if volume is not None:
                series = [entry for entry in series if entry.get("role") != role] + [self._seriesEntry(role, volume)]
        case["series"] = series
        return case, model, masks, warnings

    def _seriesEntry(self, role: str, volume: Any) -> dict:
        sh = self._shNode()
        uid = sh.GetItemUID(sh.GetItemByDataNode(volume), "DICOM") or None
        storage = volume.GetStorageNode()
        fileName = storage.GetFileName() if storage is not None else None
        return {"role": role, "series_uid": uid, "file": fileName or None, "description": volume.GetName()}

    def recompute(self) -> dict:
        """Rebuild the read from the scene, fill every derivable field (core read.compute_read), compute
        the hints and write case, hints, warnings and the lesion table. Returns the case dict."""
        from ISCMAssistLib import hints as hintsmod
        from ISCMAssistLib.read import compute_read

        self._recomputing = True
        try:
            case, model, masks, warnings = self.buildCase()
            compute_read(case, model, masks, warnings, line_check=self._lineCheck())
            hints = [_hintToDict(hint) for hint in hintsmod.compute_hints(case)]
            parameterNode = self.getParameterNode()
            wasModifying = parameterNode.StartModify()
            self._storeCase(case)
            parameterNode.SetParameter(HINTS_PARAMETER, json.dumps(hints))
            parameterNode.SetParameter(WARNINGS_PARAMETER, json.dumps(warnings))
            self._writeTable(case)
            parameterNode.EndModify(wasModifying)
            self._dirty = False
            return case
        finally:
            self._recomputing = False

    def _appendWarnings(self, warnings: list[str]) -> None:
        """Add warnings of an action (kept through recomputations until the read is cleared)."""
        self._extraWarnings.extend(warnings)
        self.getParameterNode().SetParameter(WARNINGS_PARAMETER, json.dumps(self.warnings() + list(warnings)))

    def hints(self) -> list[dict]:
        """Return the hints of the last recomputation: dicts with id, direction, text and evidence
        (each evidence item with text, numerator, denominator, source and a one-line "line")."""
        text = self.getParameterNode().GetParameter(HINTS_PARAMETER)
        return json.loads(text) if text else []

    def warnings(self) -> list[str]:
        """Return the warnings of the last recomputation (e.g. a level label that is not a vertebra)."""
        text = self.getParameterNode().GetParameter(WARNINGS_PARAMETER)
        return json.loads(text) if text else []

    # ------------------------------------------------------------------ table

    def tableColumns(self) -> list[tuple[str, str, str, str | None]]:
        """Return the lesion table's columns: (column name with unit, value kind "string"|"double",
        feature name, size axis or None), in the study's checklist order."""
        if self._tableColumns is None:
            from ISCMAssistLib import case as casemod

            columns: list[tuple[str, str, str, str | None]] = [
                ("Lesion", "string", "name", None), ("Lesion ID", "string", "id", None)]
            for feature in casemod.LESION_FEATURES:
                if feature.kind == "sizes":
                    for axis, title in (("ap", "AP"), ("transverse", "Transverse"), ("si", "SI")):
                        columns.append((f"{title} size ({feature.unit})", "double", feature.name, axis))
                elif feature.kind in ("integer", "number"):
                    unit = f" ({feature.unit})" if feature.unit else ""
                    columns.append((f"{feature.label}{unit}", "double", feature.name, None))
                else:
                    columns.append((feature.label, "string", feature.name, None))
            columns.append(("Set by reader", "string", "provenance", None))
            self._tableColumns = columns
        return self._tableColumns

    def tableNode(self) -> Any:
        """Return the lesion table node (created with its columns when missing)."""
        parameterNode = self.getParameterNode()
        table = parameterNode.GetNodeReference(TABLE_PARAMETER)
        if table is None:
            table = self.scene.AddNewNodeByClass("vtkMRMLTableNode", TABLE_NODE_NAME)
            self._setNodeParameter(TABLE_PARAMETER, table)
        if table.GetNumberOfColumns() != len(self.tableColumns()):
            vtkTable = table.GetTable()
            while vtkTable.GetNumberOfColumns():
                vtkTable.RemoveColumn(0)
            for name, kind, _feature, _axis in self.tableColumns():
                array = vtk.vtkStringArray() if kind == "string" else vtk.vtkDoubleArray()
                array.SetName(name)
                vtkTable.AddColumn(array)
        return table

    @staticmethod
    def _cellText(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, (list, tuple)):
            return ", ".join(str(v) for v in value)
        return str(value)

    def _writeTable(self, case: dict) -> None:
        table = self.tableNode()
        vtkTable = table.GetTable()
        lesions = case["lesions"]
        for columnIndex, (_name, kind, feature, axis) in enumerate(self.tableColumns()):
            array = vtkTable.GetColumn(columnIndex)
            array.SetNumberOfValues(len(lesions))
            for row, lesion in enumerate(lesions):
                if feature == "name":
                    value: Any = lesionName(lesion["id"])
                elif feature == "provenance":
                    value = ", ".join(sorted(k for k, v in (lesion.get("provenance") or {}).items() if v == "reader"))
                elif axis is not None:
                    value = (lesion.get(feature) or {}).get(axis)
                else:
                    value = lesion.get(feature)
                if kind == "string":
                    array.SetValue(row, self._cellText(value))
                else:
                    array.SetValue(row, math.nan if value is None else float(value))
            array.Modified()
        vtkTable.Modified()
        table.Modified()

    def tableRows(self) -> list[dict[str, str]]:
        """Return the lesion table as a list of {column name: cell text} (for tests and the CLI)."""
        table = self.tableNode()
        rows = []
        for row in range(table.GetNumberOfRows()):
            rows.append({table.GetColumnName(c): table.GetCellText(row, c) for c in range(table.GetNumberOfColumns())})
        return rows

    # ------------------------------------------------------------------ read folder save / open

    def _moduleLogic(self, name: str) -> Any:
        logic = self.moduleLogics.get(name)
        if logic is None:
            modules = getattr(slicer, "modules", None)
            module = getattr(modules, name.lower(), None) if modules is not None else None
            logic = module.logic() if module is not None else None
        if logic is None:
            raise RuntimeError(f"the {name} module logic is not available (headless: pass moduleLogics)")
        return logic

    @staticmethod
    def _nodeFileName(node: Any) -> str:
        role = node.GetAttribute(ROLE_ATTRIBUTE)
        lesionId = node.GetAttribute(LESION_ATTRIBUTE)
        stem = f"{lesionId}_{role}" if lesionId else role
        return stem + (".seg.nrrd" if node.IsA("vtkMRMLSegmentationNode") else ".mrk.json")

    def saveRead(self, folder: str | os.PathLike, progress: ProgressCallback | None = None) -> Path:
        """Save the read into ``folder``: case JSON, one .mrk.json per markup (.seg.nrrd per segmentation),
        the lesion table as CSV and a manifest of node roles. Everything is written to
        "<folder>.tmp-<pid>" first and swapped in only when complete, so a failed save keeps the previous
        one. Returns the folder path. Raises ReadFolderError (OSError) naming the file that failed.
        """
        from ISCMAssistLib import case_io
        from ISCMAssistLib.files import atomic_write_text

        progress = progress or _no_progress
        folder = Path(folder).absolute()
        temporary = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
        progress(0.0, "Computing the read")
        case = self.recompute()
        nodes = sorted(self._roleNodes.values(), key=self._nodeFileName)
        steps = len(nodes) + 3
        try:
            if temporary.exists():
                shutil.rmtree(temporary)
            temporary.mkdir(parents=True)
            progress(1 / steps, f"Writing {CASE_FILE}")
            case_io.save_case(case, temporary / CASE_FILE)
            entries = []
            for index, node in enumerate(nodes):
                fileName = self._nodeFileName(node)
                progress((index + 2) / steps, f"Writing {fileName}")
                storage = node.CreateDefaultStorageNode()
                storage.SetFileName(str(temporary / fileName))
                if not storage.WriteData(node):
                    raise ReadFolderError(f"{temporary / fileName}: Slicer could not write {node.GetName()}")
                entries.append({"file": fileName, "role": node.GetAttribute(ROLE_ATTRIBUTE),
                                "lesion_id": node.GetAttribute(LESION_ATTRIBUTE) or None,
                                "name": node.GetName()})
            progress((steps - 1) / steps, f"Writing {TABLE_FILE}")
            tableStorage = slicer.vtkMRMLTableStorageNode()
            tableStorage.SetFileName(str(temporary / TABLE_FILE))
            if not tableStorage.WriteData(self.tableNode()):
                raise ReadFolderError(f"{temporary / TABLE_FILE}: Slicer could not write the lesion table")
            parameterNode = self.getParameterNode()
            manifest = {
                "format": FOLDER_FORMAT, "format_version": FOLDER_FORMAT_VERSION, "case": CASE_FILE,
                "table": TABLE_FILE, "lesions": self.lesionIds(), "nodes": entries,
                "active_lesion": parameterNode.GetParameter(ACTIVE_LESION_PARAMETER) or None,
            }
            atomic_write_text(temporary / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
            self._swapFolder(temporary, folder)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        progress(1.0, f"Saved {folder}")
        return folder

    @staticmethod
    def _swapFolder(temporary: Path, folder: Path) -> None:
        """Put the complete ``temporary`` folder at ``folder``; the previous save is deleted only after."""
        previous = folder.with_name(f"{folder.name}.old-{os.getpid()}")
        if folder.exists():
            if not (folder / MANIFEST_FILE).is_file() and any(folder.iterdir()):
                raise ReadFolderError(f"{folder}: exists and is not an ISCMAssist read folder; "
                                      "pick an empty or new folder")
            if previous.exists():
                shutil.rmtree(previous)
            os.replace(folder, previous)
        try:
            os.replace(temporary, folder)
        except OSError:
            if previous.exists():
                os.replace(previous, folder)
            raise
        shutil.rmtree(previous, ignore_errors=True)

    def openRead(self, folder: str | os.PathLike, progress: ProgressCallback | None = None) -> dict:
        """Open a folder written by :meth:`saveRead`: replace the scene's read (markups, folders, case
        with reader values) by the saved one and recompute. Returns the case dict. Raises
        ReadFolderError naming the folder/file for a missing or damaged folder.
        """
        from ISCMAssistLib import case_io

        progress = progress or _no_progress
        folder = Path(folder)
        manifestPath = folder / MANIFEST_FILE
        if not manifestPath.is_file():
            raise ReadFolderError(f"{folder}: not an ISCMAssist read folder (no {MANIFEST_FILE})")
        try:
            manifest = json.loads(manifestPath.read_text("utf-8"))
            entries = list(manifest["nodes"])
            caseFile = folder / manifest.get("case", CASE_FILE)
        except (ValueError, KeyError, TypeError) as error:
            raise ReadFolderError(f"{manifestPath}: damaged manifest ({error})") from None
        if manifest.get("format") != FOLDER_FORMAT:
            raise ReadFolderError(f"{manifestPath}: format is {manifest.get('format')!r}, not {FOLDER_FORMAT!r}")
        progress(0.0, f"Reading {caseFile.name}")
        case = case_io.load_case(caseFile)
        for entry in entries:
            role, lesionId = entry.get("role"), entry.get("lesion_id")
            if role not in ROLES or (role in LESION_ROLES) != bool(lesionId) or not (folder / str(entry.get("file"))).is_file():
                raise ReadFolderError(f"{manifestPath}: bad node entry {entry!r} (unknown role, "
                                      "lesion id missing or file absent)")
        self.clearRead()
        steps = len(entries) + 2
        with self.batch():
            for lesionId in manifest.get("lesions") or []:
                self._lesionFolder(lesionId)
            for index, entry in enumerate(entries):
                progress((index + 1) / steps, f"Reading {entry['file']}")
                node = self._loadNode(folder / entry["file"], entry.get("name") or entry["file"])
                node.SetAttribute(ROLE_ATTRIBUTE, entry["role"])
                if entry.get("lesion_id"):
                    node.SetAttribute(LESION_ATTRIBUTE, entry["lesion_id"])
                self._adoptNode(node)
            parameterNode = self.getParameterNode()
            parameterNode.SetParameter(ACTIVE_LESION_PARAMETER, manifest.get("active_lesion") or "")
            self._dirty = True
        progress((steps - 1) / steps, "Restoring the checklist")
        result = self.setCase(case)
        progress(1.0, f"Opened {folder}")
        return result

    def exportRead(self, folder: str | os.PathLike, progress: ProgressCallback | None = None) -> dict[str, Path]:
        """Export the read for use outside Slicer into ``folder`` (created if needed): the case JSON,
        the per-lesion CSV of the core (case_io.write_lesions_csv) and, when a selected series was
        loaded from a DICOM folder, a DICOM Comprehensive 3D SR. Returns {"case", "csv"[, "sr"]} paths;
        the SR is left out (with a warning in ``warnings()``) when no DICOM source is known."""
        from ISCMAssistLib import case_io

        progress = progress or _no_progress
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        progress(0.0, "Computing the read")
        case = self.recompute()
        written = {"case": folder / f"{case['case_id']}.json", "csv": folder / f"{case['case_id']}_lesions.csv"}
        progress(0.2, f"Writing {written['case'].name}")
        case_io.save_case(case, written["case"])
        progress(0.4, f"Writing {written['csv'].name}")
        case_io.write_lesions_csv([case], written["csv"])
        sources = [Path(node.GetAttribute(SOURCE_ATTRIBUTE)) for node in
                   (self.seriesVolume(role) for role in SERIES_PARAMETERS)
                   if node is not None and node.GetAttribute(SOURCE_ATTRIBUTE)
                   and Path(node.GetAttribute(SOURCE_ATTRIBUTE)).is_dir()]
        if sources:
            from ISCMAssistLib import sr

            written["sr"] = folder / f"{case['case_id']}_sr.dcm"
            progress(0.6, f"Writing {written['sr'].name}")
            sr.write_sr(case, sources, written["sr"])
        else:
            warnings = self.warnings() + ["export: no series loaded from a DICOM folder, so no DICOM SR was written"]
            self.getParameterNode().SetParameter(WARNINGS_PARAMETER, json.dumps(warnings))
        progress(1.0, f"Exported to {folder}")
        return written

    def _loadNode(self, path: Path, name: str) -> Any:
        if path.name.endswith(".seg.nrrd"):
            node = self._moduleLogic("Segmentations").LoadSegmentationFromFile(str(path), False, name)
        else:
            nodeId = self._moduleLogic("Markups").LoadMarkups(str(path), name)
            node = self.scene.GetNodeByID(nodeId) if nodeId else None
        if node is None:
            raise ReadFolderError(f"{path}: Slicer could not read it")
        return node
