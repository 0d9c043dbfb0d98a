"""Opening a read that comes from outside the scene: a case dict, a case JSON file, a DICOM SR.

A case dict holds everything the scene needs to show the read again: the level landmarks (LPS mm),
the conus tip and per lesion its lines (``lines_lps``) plus the reader's values and their provenance.
:meth:`OpenLogicMixin.loadCaseIntoScene` rebuilds the markups from it, so a resumed session read, an
opened case JSON or an imported SR keeps every lesion. Mixed into ISCMAssistLogic (needs its methods).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

from ISCMAssistLib import coords

#: line name in the case's ``lines_lps`` -> node role
LINE_NAME_ROLES: dict[str, str] = {
    "si": "lesion_si", "ap": "lesion_ap", "transverse": "lesion_transverse", "edema_si": "edema_si",
}
#: node attribute of the level point list: where its points came from ("landmarks" | "automatic" | "label_map")
LEVELS_SOURCE_ATTRIBUTE = "ISCMAssist.LevelsSource"

ProgressCallback = Callable[[float, str], None]


class OpenFileError(OSError):
    """A file given to Open that is neither a read folder, a case JSON nor a DICOM SR; names the path."""


class OpenLogicMixin:
    """loadCaseIntoScene / openCaseFile / openSR / openAny for ISCMAssistLogic."""

    def loadCaseIntoScene(self, case: dict, progress: ProgressCallback | None = None) -> dict:
        """Replace the scene's read by ``case`` (a case dict, LPS mm): level point list from
        ``levels.landmarks``, the conus point, per lesion its folder and line nodes from ``lines_lps``
        (si, ap, transverse, edema_si), then the case itself with every reader value and provenance.

        The case is validated first (CaseValidationError names the field; the scene is untouched then).
        Lesions without lines keep their record and folder. Recomputes once; returns the case dict.
        """
        from ISCMAssistLib import case as casemod
        from ISCMAssistLib import vertebrae

        progress = progress or (lambda _f, _m: None)
        casemod.validate_case(case)
        case = casemod.complete_case(json.loads(json.dumps(case)))
        progress(0.0, "Clearing the scene's read")
        levels = case.get("levels") or {}
        landmarks = levels.get("landmarks") or []
        vertebral = [item for item in landmarks if str(item["label"]).strip().lower() != vertebrae.CONUS_LABEL]
        conus = [item for item in landmarks if str(item["label"]).strip().lower() == vertebrae.CONUS_LABEL]
        with self.batch():
            self.clearRead()
            progress(0.2, "Placing the level points")
            if vertebral:
                node = self.setLevelLandmarks([item["label"] for item in vertebral],
                                              coords.lps_to_ras([item["position_lps"] for item in vertebral]))
                node.SetAttribute(LEVELS_SOURCE_ATTRIBUTE, levels.get("source") or "landmarks")
            if conus:
                self.setConus(coords.lps_to_ras(conus[0]["position_lps"]))
            lesions = case.get("lesions") or []
            for index, lesion in enumerate(lesions):
                progress(0.3 + 0.6 * index / max(len(lesions), 1), f"Placing the lines of lesion {lesion['id']}")
                self._lesionFolder(lesion["id"])
                for name, points in (lesion.get("lines_lps") or {}).items():
                    if name in LINE_NAME_ROLES and points:
                        self.addLesionMarkup(lesion["id"], LINE_NAME_ROLES[name], coords.lps_to_ras(points))
            from ISCMAssistLib.scene.logic import ACTIVE_LESION_PARAMETER

            self.getParameterNode().SetParameter(ACTIVE_LESION_PARAMETER, lesions[0]["id"] if lesions else "")
            progress(0.9, "Restoring the checklist")
            result = self.setCase(case)
        progress(1.0, f"Opened case {case['case_id']}")
        return result

    def openCaseFile(self, path: str | os.PathLike, progress: ProgressCallback | None = None) -> dict:
        """Open a case JSON file (case_io.load_case; CaseFileError names the file and field) into the
        scene with :meth:`loadCaseIntoScene`; return the case dict."""
        from ISCMAssistLib import case_io

        return self.loadCaseIntoScene(case_io.load_case(path), progress)

    def openSR(self, path: str | os.PathLike, progress: ProgressCallback | None = None) -> dict:
        """Open a DICOM SR written by ISCMAssist (sr.sr_to_case; SRError/SRSourceError name the file)
        into the scene with :meth:`loadCaseIntoScene`; return the case dict."""
        from ISCMAssistLib import sr

        progress = progress or (lambda _f, _m: None)
        progress(0.0, f"Reading {Path(path).name}")
        return self.loadCaseIntoScene(sr.sr_to_case(path), progress)

    def openAny(self, path: str | os.PathLike, progress: ProgressCallback | None = None) -> dict:
        """The panel's Open: a read folder (or its iscm-assist-read.json), a case JSON (.json) or a DICOM
        SR (.dcm, or any file starting with the DICOM preamble). Returns the case dict; raises
        OpenFileError naming the path for anything else (and the opener's own errors)."""
        path = Path(path)
        manifest = "iscm-assist-read.json"
        if path.is_dir() or path.name == manifest:
            return self.openRead(path if path.is_dir() else path.parent, progress)
        if not path.is_file():
            raise OpenFileError(f"{path}: no such file or folder")
        if path.suffix.lower() == ".json":
            return self.openCaseFile(path, progress)
        if path.suffix.lower() == ".dcm" or _hasDicomPreamble(path):
            return self.openSR(path, progress)
        raise OpenFileError(f"{path}: not a read folder, a case JSON (.json) or a DICOM SR (.dcm)")


def _hasDicomPreamble(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:] == b"DICM"
