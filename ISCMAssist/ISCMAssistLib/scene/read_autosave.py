"""Autosave outside research sessions: the read is saved into one read folder whenever it changed, at
most once per interval, so nothing the reader made is lost when the panel closes (a research
session saves its case instead: scene/session.py).

Like the undo history (scene/history.py), it compares the state's change counter ``caseVersion``
with the one it saved, never a new serialisation of the case.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .lesions import lesionIds
from .read_folder import saveRead
from .state import SceneState


class ReadAutosave:
    """Saves the read of a SceneState into :attr:`folder` (None: no autosave) with read_folder.saveRead,
    which writes a complete folder and swaps it in."""

    def __init__(self, state: SceneState) -> None:
        self.state = state
        self.folder: Path | None = None
        self.intervalS = 1.0
        self.saveCount = 0  # reads written (for tests and the benchmark)
        self._saved: tuple[int, str] | None = None
        self._lastSave = 0.0

    def setFolder(self, folder: str | os.PathLike | None, intervalS: float = 1.0) -> None:
        """Autosave into ``folder`` (None: stop), at most once per ``intervalS`` seconds; the read now
        in the scene counts as saved."""
        self.folder = Path(folder).absolute() if folder is not None else None
        self.intervalS = float(intervalS)
        self.markSaved()

    def markSaved(self) -> None:
        """Take the read now in the scene as saved (e.g. just opened)."""
        self._saved = self.state.caseStamp()

    def noteFolder(self, folder: str | os.PathLike) -> None:
        """A read was saved into or opened from ``folder``: when that is the autosave folder, it is saved."""
        if self.folder is not None and Path(folder).absolute() == self.folder:
            self.markSaved()

    def autosave(self, force: bool = False) -> bool:
        """Save the read when it changed since the last save (or ``force``) and the interval has
        passed; an empty scene is never saved over a read. Returns whether it saved. Raises
        ReadFolderError naming the file that could not be written."""
        if self.folder is None or (not force and time.monotonic() - self._lastSave < self.intervalS):
            return False
        state = self.state
        version, text = state.caseStamp()
        if not force and self._saved is not None and (version == self._saved[0] or text == self._saved[1]):
            return False
        if not lesionIds(state) and state.roleNode("levels") is None:
            return False
        saveRead(state, self.folder)
        self._saved, self._lastSave = state.caseStamp(), time.monotonic()
        self.saveCount += 1
        return True
