"""Opening a read that comes from outside the scene: a case dict, a case JSON file, a DICOM SR, or any
of these and a read folder by what the path is; and the demo exam with its read.

A case dict holds everything the scene needs to show the read again: the level landmarks (LPS mm),
the conus tip and per lesion its lines (``lines_lps``) plus the reader's values and their provenance.
:func:`loadCaseIntoScene` rebuilds the markups from it, so a resumed session read, an opened case
JSON or an imported SR keeps every lesion.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .. import case as casemod
from .. import case_io, coords, vertebrae
from ..dicom_header import has_dicm_preamble
from ..progress import PanelProgress, no_progress
from .checklist import setCase
from .errors import OpenFileError
from .exam import openExam
from .lesions import addLesionMarkup, clearRead, lesionFolder
from .levels import setConus, setLevelLandmarks
from .names import ACTIVE_LESION_PARAMETER, LEVELS_SOURCE_ATTRIBUTE, LINE_NAME_ROLES
from .read_folder import MANIFEST_FILE, openRead
from .state import SceneState


def loadCaseIntoScene(state: SceneState, case: dict, progress: PanelProgress | None = None) -> dict:
    """Replace the scene's read by ``case`` (a case dict, LPS mm): level point list from
    ``levels.landmarks``, the conus point, per lesion its folder and line nodes from ``lines_lps``
    (si, ap, transverse, edema_si), then the case itself with every reader value and provenance.

    The case is validated first (CaseValidationError names the field; the scene is untouched then).
    Lesions without lines keep their record and folder. Recomputes once; returns the case dict.
    """
    progress = progress or no_progress
    casemod.validate_case(case)
    case = casemod.complete_case(json.loads(json.dumps(case)))
    progress(0.0, "Clearing the scene's read")
    levels = case.get("levels") or {}
    landmarks = levels.get("landmarks") or []
    vertebral = [item for item in landmarks if str(item["label"]).strip().lower() != vertebrae.CONUS_LABEL]
    conus = [item for item in landmarks if str(item["label"]).strip().lower() == vertebrae.CONUS_LABEL]
    with state.batch():
        clearRead(state)
        progress(0.2, "Placing the level points")
        if vertebral:
            node = setLevelLandmarks(state, [item["label"] for item in vertebral],
                                     coords.lps_to_ras([item["position_lps"] for item in vertebral]))
            node.SetAttribute(LEVELS_SOURCE_ATTRIBUTE, levels.get("source") or "landmarks")
        if conus:
            setConus(state, coords.lps_to_ras(conus[0]["position_lps"]))
        lesions = case.get("lesions") or []
        for index, lesion in enumerate(lesions):
            progress(0.3 + 0.6 * index / max(len(lesions), 1), f"Placing the lines of lesion {lesion['id']}")
            lesionFolder(state, lesion["id"])
            for name, points in (lesion.get("lines_lps") or {}).items():
                if name in LINE_NAME_ROLES and points:
                    addLesionMarkup(state, lesion["id"], LINE_NAME_ROLES[name], coords.lps_to_ras(points))
        state.parameterNode().SetParameter(ACTIVE_LESION_PARAMETER, lesions[0]["id"] if lesions else "")
        progress(0.9, "Restoring the checklist")
        result = setCase(state, case)
    progress(1.0, f"Opened case {case['case_id']}")
    return result


def openCaseFile(state: SceneState, path: str | os.PathLike, progress: PanelProgress | None = None) -> dict:
    """Open a case JSON file (case_io.load_case; CaseFileError names the file and field) into the
    scene with :func:`loadCaseIntoScene`; return the case dict."""
    return loadCaseIntoScene(state, case_io.load_case(path), progress)


def openSR(state: SceneState, path: str | os.PathLike, progress: PanelProgress | None = None) -> dict:
    """Open a DICOM SR written by ISCMAssist (sr.sr_to_case; SRError/SRSourceError name the file)
    into the scene with :func:`loadCaseIntoScene`; return the case dict."""
    from .. import sr  # highdicom takes a second to import: only when an SR is opened

    progress = progress or no_progress
    progress(0.0, f"Reading {Path(path).name}")
    return loadCaseIntoScene(state, sr.sr_to_case(path), progress)


def openAny(state: SceneState, path: str | os.PathLike, progress: PanelProgress | None = None) -> dict:
    """The panel's Open: a read folder (or its iscm-assist-read.json), a case JSON (.json) or a DICOM
    SR (.dcm, or any file starting with the DICOM preamble). Returns the case dict; raises
    OpenFileError naming the path for anything else (and the opener's own errors)."""
    path = Path(path)
    if path.is_dir() or path.name == MANIFEST_FILE:
        return openRead(state, path if path.is_dir() else path.parent, progress)
    if not path.is_file():
        raise OpenFileError(f"{path}: no such file or folder")
    if path.suffix.lower() == ".json":
        return openCaseFile(state, path, progress)
    if path.suffix.lower() == ".dcm" or has_dicm_preamble(path):
        return openSR(state, path, progress)
    raise OpenFileError(f"{path}: not a read folder, a case JSON (.json) or a DICOM SR (.dcm)")


def openDemo(state: SceneState, out: str | os.PathLike, progress: PanelProgress | None = None) -> dict:
    """Write the demo exam and read into ``out`` (ISCMAssistLib.demo.run_demo: DICOM series and
    case.json; an earlier run's complete output is reused), load its series from DICOM
    (exam.openExam) and open its read (:func:`openCaseFile`). Returns the case dict."""
    from ..demo import run_demo  # the phantom and its writers: imported only when the demo is opened

    progress = progress or no_progress
    out = Path(out)
    if not ((out / "case.json").is_file() and (out / "dicom" / "t1_post").is_dir()):
        run_demo(out, progress=lambda f, m: progress(0.4 * f, f"Demo: {m}"))
    openExam(state, out / "dicom", progress=lambda f, m: progress(0.4 + 0.4 * f, m))
    return openCaseFile(state, out / "case.json", progress=lambda f, m: progress(0.8 + 0.2 * f, m))
