"""Automatic vertebral levels in the scene: propose the level points, shift the whole column's labels,
and re-fit every name when the reader renames one point (positions never move).

Core: ISCMAssistLib.autolevels (propose_levels, shift_labels, relabel_from_anchor). The proposal's
messages (e.g. naming not certain) are kept on the level point list (node attribute
``ISCMAssist.LevelMessages``, saved with the scene) and shown among the read's warnings until the
reader confirms a name (rename or shift) or replaces the points. Mixed into ISCMAssistLogic.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Sequence

import numpy as np
import vtk

from ISCMAssistLib.scene.opening import LEVELS_SOURCE_ATTRIBUTE

LEVEL_MESSAGES_ATTRIBUTE = "ISCMAssist.LevelMessages"
NAMING_UNCERTAIN_MESSAGE = ("automatic levels: the names are not certain; check one level and rename "
                            "that point (the others follow) or shift the labels up/down")

ProgressCallback = Callable[[float, str], None]


class LevelsLogicMixin:
    """proposeLevels / shiftLevelLabels / renameLevelPoint and the rename observer for ISCMAssistLogic."""

    #: re-fit the other level names when the reader renames one level point
    refitLevelNames = True

    def volumeFromNode(self, volumeNode: Any) -> Any:
        """Take a scalar volume node; return a core Volume (array [k, j, i], ijk_to_ras RAS mm; a parent
        transform is not applied). Raises ValueError naming the node when it has no image."""
        from vtk.util import numpy_support

        from ISCMAssistLib.volumes import Volume

        image = volumeNode.GetImageData() if volumeNode is not None else None
        if image is None or image.GetPointData().GetScalars() is None:
            name = volumeNode.GetName() if volumeNode is not None else "None"
            raise ValueError(f"volume '{name}': has no image data")
        dims = image.GetDimensions()
        scalars = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars())
        array = scalars.reshape(dims[2], dims[1], dims[0], -1)[..., 0]
        matrix = vtk.vtkMatrix4x4()
        volumeNode.GetIJKToRASMatrix(matrix)
        ijkToRas = np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])
        return Volume(np.array(array), ijkToRas, source=volumeNode.GetName())

    def proposeLevels(self, role: str = "t2_sagittal", progress: ProgressCallback | None = None,
                      anchor: tuple[str, Sequence[float]] | None = None) -> Any:
        """Find and name the discs and body centres on the series selected for ``role`` and put them in
        the level point list (replacing its points; each point's description holds kind and confidence).

        anchor: optional (label, RAS mm point) the names follow from. Messages of the proposal (and
        "names not certain" when naming is not confident) become warnings. With no spine found the
        points are left as they were. Returns the core LevelProposal. Raises RoleError without a
        selected series, AutoLevelsError for an unusable volume or anchor.
        """
        from ISCMAssistLib.autolevels import propose_levels
        from ISCMAssistLib.scene.logic import RoleError

        progress = progress or (lambda _f, _m: None)
        volumeNode = self.seriesVolume(role)
        if volumeNode is None:
            raise RoleError(f"propose levels: no {role} series is selected")
        progress(0.0, f"Reading {volumeNode.GetName()}")
        volume = self.volumeFromNode(volumeNode)
        proposal = propose_levels(volume, anchor=anchor,
                                  progress=lambda done, total: progress(0.9 * done / max(total, 1), "Finding the discs"))
        messages = [f"automatic levels: {message}" for message in proposal.messages]
        if proposal.spine_found and not proposal.naming_confident:
            messages.insert(0, NAMING_UNCERTAIN_MESSAGE)
        node = self.levelsNode()
        with self.batch():
            if proposal.points:
                self.setControlPoints(node, proposal.positions_ras, proposal.labels)
                for index, point in enumerate(proposal.points):
                    node.SetNthControlPointDescription(index, point.description)
                node.SetAttribute(LEVELS_SOURCE_ATTRIBUTE, "automatic")
            node.SetAttribute(LEVEL_MESSAGES_ATTRIBUTE, json.dumps(messages))
            self._dirty = True
        progress(1.0, f"Proposed {len(proposal.points)} level points")
        return proposal

    def levelMessages(self) -> list[str]:
        """Return the messages of the last level proposal still standing (shown among the warnings)."""
        node = self.roleNode("levels")
        text = node.GetAttribute(LEVEL_MESSAGES_ATTRIBUTE) if node is not None else None
        return json.loads(text) if text else []

    def levelLabels(self) -> list[str]:
        """Return the level point labels in point order."""
        node = self.roleNode("levels")
        if node is None:
            return []
        return [node.GetNthControlPointLabel(i) for i in range(node.GetNumberOfControlPoints())]

    def shiftLevelLabels(self, by: int) -> list[str]:
        """Rename every level point ``by`` levels (+1: one level lower/caudal, "T4" -> "T5"; -1: higher)
        in one step; the conus point is not touched. Returns the new labels (point order). Raises
        AutoLevelsError naming the label that would leave C1..S1 (labels unchanged then)."""
        from ISCMAssistLib.autolevels import shift_labels

        labels = shift_labels(self.levelLabels(), int(by))
        self._applyLevelLabels(labels)
        return labels

    def renameLevelPoint(self, index: int, label: str) -> list[str]:
        """Name level point ``index`` ``label`` and re-fit every other level point's name from it
        (autolevels.relabel_from_anchor; positions never change). Returns the new labels (point order).
        Raises AutoLevelsError for a bad index or label or a name that would leave C1..S1."""
        from ISCMAssistLib.autolevels import relabel_from_anchor

        node = self.levelsNode()
        pairs = [(node.GetNthControlPointLabel(i), node.GetNthControlPointPositionWorld(i))
                 for i in range(node.GetNumberOfControlPoints())]
        labels = relabel_from_anchor(pairs, label.strip(), index)
        self._applyLevelLabels(labels)
        return labels

    def _applyLevelLabels(self, labels: list[str]) -> None:
        node = self.levelsNode()
        self._relabeling = True
        try:
            with self.batch():
                wasModifying = node.StartModify()
                for index, label in enumerate(labels):
                    node.SetNthControlPointLabel(index, label)
                # the reader confirmed the naming: the proposal's doubts no longer apply
                node.RemoveAttribute(LEVEL_MESSAGES_ATTRIBUTE)
                node.EndModify(wasModifying)
                self._dirty = True
        finally:
            self._relabeling = False
            self._levelLabelsSeen = self.levelLabels()

    def _onLevelPointsChanged(self, node: Any, _event: Any) -> None:
        """Observer of the level point list: when exactly one label changed (and no point was added or
        removed) outside a batch, re-fit the other names from it."""
        labels = [node.GetNthControlPointLabel(i) for i in range(node.GetNumberOfControlPoints())]
        seen = getattr(self, "_levelLabelsSeen", None)
        self._levelLabelsSeen = labels
        if (getattr(self, "_relabeling", False) or self._batchDepth or not self.refitLevelNames
                or seen is None or len(seen) != len(labels)):
            return
        changed = [index for index, (old, new) in enumerate(zip(seen, labels)) if old != new]
        if len(changed) != 1 or not labels[changed[0]].strip():
            return
        from ISCMAssistLib.autolevels import AutoLevelsError

        try:
            self.renameLevelPoint(changed[0], labels[changed[0]])
        except AutoLevelsError as error:
            # the reader's label stays; the others keep theirs and the warning says why
            node.SetAttribute(LEVEL_MESSAGES_ATTRIBUTE, json.dumps([f"levels: other names not re-fitted: {error}"]))
            self._dirty = True
