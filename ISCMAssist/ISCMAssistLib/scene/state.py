"""The scene state every part of the scene layer receives: the scene and its module logics, the
parameter node, the held case, the index of role nodes, batching and the flags between them.

The parts (lesions, checklist, series, levels, ...) take a SceneState, never the Logic. The Logic
installs its recompute as ``state.recompute`` (which :meth:`SceneState.batch` and
:meth:`SceneState.requestRecompute` call) and its node observer as ``state.observeNode``, so no part
imports the Logic.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, Callable, Iterator

import slicer

from ..case import DEFAULT_CASE_ID, complete_case, new_case
from .names import (
    CASE_ID_PARAMETER,
    CASE_PARAMETER,
    HINTS_PARAMETER,
    LESION_ATTRIBUTE,
    MODULE_NAME,
    READER_PARAMETER,
    ROLE_ATTRIBUTE,
    WARNINGS_PARAMETER,
)


class SceneState:
    """What the scene layer holds between calls for one read. Takes the scene and the module logics
    by name ({"Markups": ..., "Volumes": ..., "Segmentations": ...}; in the app a missing one is
    ``slicer.modules.<name>.logic()``)."""

    def __init__(self, scene: Any, moduleLogics: dict[str, Any] | None = None) -> None:
        self.scene = scene
        self.moduleLogics = dict(moduleLogics or {})
        #: recomputes the read from the scene and returns the case; installed by the Logic
        self.recompute: Callable[[], dict] = lambda: self.getCase()
        #: starts observing a role node (the scene's NodeAdded does it for nodes added with a role)
        self.observeNode: Callable[[Any], None] = lambda node: None
        self.autoRecompute = True
        self.batchDepth = 0
        self.dirty = False  # the scene changed since the last recomputation
        self.recomputing = False
        self.caseChanged = False  # the held case changed since the last session save
        #: counts every change of the held case's text (undo and the read autosave compare it, not the JSON)
        self.caseVersion = 0
        self._caseText: str | None = None
        self.case: dict | None = None
        self.roleNodes: dict[str, Any] = {}  # node ID -> node, for every node with a role
        self.extraWarnings: list[str] = []  # warnings of actions (e.g. a missing series), kept until clearRead
        # caches of the case builder: level model by landmarks, mask measurements by node
        self.modelKey: Any = None
        self.model: Any = None
        self.modelWarnings: list[str] = []
        self.maskCache: dict[str, tuple[Any, Any]] = {}
        # disc planes measured on the sagittal T2: (that image's stamp, its core Volume, {disc key: normal or None})
        self.discPlaneCache: tuple[Any, Any, dict] = (None, None, {})
        # level naming: labels last seen on the level point list, and whether a relabel is running
        self.levelLabelsSeen: list[str] | None = None
        self.relabeling = False
        self.refitLevelNames = True
        # an exam folder scanned and its role proposals, between scanExam and loadProposedSeries
        self.examScan: Any = None
        self.examProposals: dict | None = None

    def forgetScene(self) -> None:
        """Drop everything held about the scene's content (after the scene was closed)."""
        self.roleNodes.clear()
        self.caseText = self.case = None
        self.modelKey = self.model = None
        self.maskCache.clear()
        self.discPlaneCache = (None, None, {})
        self.extraWarnings = []
        self.levelLabelsSeen = None

    # ------------------------------------------------------------------ module logics and parameter node

    def moduleLogic(self, name: str) -> Any:
        """Return the module logic ``name`` ("Markups", "Volumes", ...). Raises RuntimeError when absent."""
        logic = self.moduleLogics.get(name)
        if logic is None:
            modules = getattr(slicer, "modules", None)
            module = getattr(modules, name.lower(), None) if modules is not None else None
            logic = module.logic() if module is not None else None
        if logic is None:
            raise RuntimeError(f"the {name} module logic is not available (headless: pass moduleLogics)")
        return logic

    def parameterNode(self) -> Any:
        """Return the module's vtkMRMLScriptedModuleNode (singleton tag "ISCMAssist"), created when missing."""
        node = self.scene.GetSingletonNode(MODULE_NAME, "vtkMRMLScriptedModuleNode")
        if node is None:
            node = slicer.vtkMRMLScriptedModuleNode()
            node.SetSingletonTag(MODULE_NAME)
            node.SetName(self.scene.GenerateUniqueName(MODULE_NAME))
            node.SetAttribute("ModuleName", MODULE_NAME)
            node = self.scene.AddNode(node)
        return node

    def setNodeParameter(self, name: str, node: Any) -> None:
        """Reference ``node`` (or None) from parameter ``name``, stored as parameterNodeWrapper's
        NodeSerializer stores it (empty parameter + node reference)."""
        parameterNode = self.parameterNode()
        parameterNode.SetParameter(name, "")
        parameterNode.SetNodeReferenceID(name, node.GetID() if node is not None else None)

    def jsonParameter(self, name: str) -> Any:
        """Return the JSON held in parameter ``name`` ([] when empty)."""
        text = self.parameterNode().GetParameter(name)
        return json.loads(text) if text else []

    # ------------------------------------------------------------------ the held case

    @property
    def caseText(self) -> str | None:
        """The held case's JSON text as stored in the parameter node (None: nothing held)."""
        return self._caseText

    @caseText.setter
    def caseText(self, text: str | None) -> None:
        if text != self._caseText:
            self._caseText = text
            self.caseVersion += 1

    def caseStamp(self) -> tuple[int, str]:
        """Return (caseVersion, the held case's JSON text) without serialising it again (only an empty
        scene's new case, which is not stored yet, is dumped). Picks up a case text put into the
        parameter node from outside."""
        case = self.getCase()
        return self.caseVersion, self.caseText or json.dumps(case, separators=(",", ":"))

    def getCase(self) -> dict:
        """Return the case dict held in the parameter node (a new empty case when none is held yet);
        the dict is the working copy: change it only through the scene layer."""
        text = self.parameterNode().GetParameter(CASE_PARAMETER)
        if text and text == self.caseText and self.case is not None:
            return self.case
        if text:
            try:
                case = complete_case(json.loads(text))
            except json.JSONDecodeError as error:
                raise ValueError(f"parameter node {CASE_PARAMETER}: not valid JSON ({error})") from None
        else:
            parameterNode = self.parameterNode()
            case = new_case(parameterNode.GetParameter(CASE_ID_PARAMETER) or DEFAULT_CASE_ID,
                            parameterNode.GetParameter(READER_PARAMETER) or None)
        self.case, self.caseText = case, text
        return case

    def storeCase(self, case: dict) -> None:
        """Hold ``case`` in the parameter node; a change sets ``caseChanged`` (the session autosave's flag)."""
        text = json.dumps(case, separators=(",", ":"))
        if text != self.caseText:
            self.caseChanged = True
        self.case, self.caseText = case, text
        self.parameterNode().SetParameter(CASE_PARAMETER, text)

    def hints(self) -> list[dict]:
        """Return the hints of the last recomputation (JSON dicts)."""
        return self.jsonParameter(HINTS_PARAMETER)

    def warnings(self) -> list[str]:
        """Return the warnings of the last recomputation."""
        return self.jsonParameter(WARNINGS_PARAMETER)

    def appendWarnings(self, warnings: list[str], keep: bool = True) -> None:
        """Add warnings of an action; ``keep`` holds them through recomputations until the read is cleared."""
        if keep:
            self.extraWarnings.extend(warnings)
        self.parameterNode().SetParameter(WARNINGS_PARAMETER, json.dumps(self.warnings() + list(warnings)))

    # ------------------------------------------------------------------ role nodes

    def roleNode(self, role: str) -> Any:
        """Return the scene-wide node of a role ("levels" or "conus"), or None."""
        for node in self.roleNodes.values():
            if node.GetAttribute(ROLE_ATTRIBUTE) == role and not node.GetAttribute(LESION_ATTRIBUTE):
                return node
        return None

    def lesionNodes(self, lesionId: str) -> dict[str, Any]:
        """Take a lesion id; return its nodes by role (only the roles that have a node)."""
        return {node.GetAttribute(ROLE_ATTRIBUTE): node for node in self.roleNodes.values()
                if node.GetAttribute(LESION_ATTRIBUTE) == lesionId}

    # ------------------------------------------------------------------ batching

    def requestRecompute(self) -> None:
        """Recompute now (live mode) or at the end of the current batch."""
        if self.batchDepth or not self.autoRecompute:
            self.dirty = True
        elif not self.recomputing:
            self.recompute()

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Context manager: hold live recomputation until the block ends, then recompute once if needed."""
        self.batchDepth += 1
        try:
            yield
        finally:
            self.batchDepth -= 1
            if self.batchDepth == 0 and self.dirty and self.autoRecompute:
                self.recompute()
