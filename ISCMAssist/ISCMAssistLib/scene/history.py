"""Undo for the read: a snapshot of the case (markups and checklist) each time it settles.

A step is the held case's JSON text as the scene layer already stored it (SceneState.storeCase, on
every recomputation), with the state's change counter ``caseVersion``: recording and asking whether
there is something to undo compare counters, so a point drag costs no extra serialisation.

The panel's timer calls :meth:`CaseHistory.recordStep`: a case that stayed the same between two calls
becomes a step, so a drag or a burst of edits is one step. :meth:`CaseHistory.undo` rebuilds the
case before the last step (opening.loadCaseIntoScene: level points, conus and lesion lines).
"""

from __future__ import annotations

import json
from typing import NamedTuple

from .lesions import lesionIds
from .names import ACTIVE_LESION_PARAMETER
from .opening import loadCaseIntoScene
from .state import SceneState

#: the roles a case cannot rebuild (an ROI and segmentations live in their nodes only)
_NOT_REBUILT = frozenset({"lesion_roi", "lesion_segment", "edema_segment"})


class _Step(NamedTuple):
    version: int  # SceneState.caseVersion when the step was taken
    text: str  # the case JSON


class CaseHistory:
    """The undo steps of one read. Takes the SceneState; keeps at most ``depth`` steps."""

    def __init__(self, state: SceneState, depth: int = 50) -> None:
        self.state = state
        self.depth = depth
        self._steps: list[_Step] = []
        self._lastSeen: int | None = None

    def reset(self) -> None:
        """Forget every step (a new case was opened); the current case becomes the first one."""
        self._steps = [_Step(*self.state.caseStamp())]
        self._lastSeen = self._steps[0].version

    def recordStep(self) -> bool:
        """Take the current case as a step when it changed and then stayed the same since the last
        call; return whether a step was added."""
        version, text = self.state.caseStamp()
        settled = version == self._lastSeen
        self._lastSeen = version
        if not settled or (self._steps and self._steps[-1].version == version):
            return False
        if self._steps and self._steps[-1].text == text:  # changed and changed back: no step
            self._steps[-1] = _Step(version, text)
            return False
        self._steps.append(_Step(version, text))
        del self._steps[:-self.depth]
        return True

    def canUndo(self) -> bool:
        """Return whether there is a change to undo (compares counters only: cheap on every refresh)."""
        return len(self._steps) >= 2 or (bool(self._steps) and self.state.caseVersion != self._steps[-1].version)

    def undo(self) -> bool:
        """Put back the case before the last change; return False when there is nothing to undo.
        Raises ValueError for a read with an ROI or a segmentation (the case cannot rebuild those)."""
        if not self.canUndo():
            return False
        state = self.state
        if any(_NOT_REBUILT & set(state.lesionNodes(lesionId)) for lesionId in lesionIds(state)):
            raise ValueError("this read has an ROI or a segmentation, which undo cannot restore; "
                             "delete or move the markup instead")
        version, text = state.caseStamp()
        if text == self._steps[-1].text:
            if len(self._steps) < 2:  # changed and changed back since the only step
                self._steps[-1] = _Step(version, text)
                return False
            self._steps.pop()
        parameterNode = state.parameterNode()
        active = parameterNode.GetParameter(ACTIVE_LESION_PARAMETER)
        loadCaseIntoScene(state, json.loads(self._steps[-1].text))
        if active in lesionIds(state):
            parameterNode.SetParameter(ACTIVE_LESION_PARAMETER, active)
        # the rebuilt case is the step now (its text may differ in key order from the snapshot)
        self._steps[-1] = _Step(*state.caseStamp())
        self._lastSeen = self._steps[-1].version
        return True
