"""The read folder: save the read (case JSON, one file per role node, the lesion table as CSV and a
manifest of roles), open it again, and export the read for use outside Slicer (case JSON, CSV, SR).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import slicer

from .. import case_io
from ..files import atomic_write_text
from ..progress import PanelProgress, no_progress
from .checklist import setCase, tableNode
from .errors import ReadFolderError
from .lesions import adoptNode, clearRead, lesionFolder, lesionIds
from .names import ACTIVE_LESION_PARAMETER, LESION_ATTRIBUTE, LESION_ROLES, ROLE_ATTRIBUTE, ROLES
from .series import dicomSources
from .state import SceneState

#: read folder layout
MANIFEST_FILE = "iscm-assist-read.json"
CASE_FILE = "case.json"
TABLE_FILE = "lesions.csv"
FOLDER_FORMAT = "ISCMAssist read folder"
FOLDER_FORMAT_VERSION = 1


def nodeFileName(node: Any) -> str:
    """Take a role node; return its file name in a read folder ("L1_lesion_si.mrk.json", "levels.mrk.json")."""
    role = node.GetAttribute(ROLE_ATTRIBUTE)
    lesionId = node.GetAttribute(LESION_ATTRIBUTE)
    stem = f"{lesionId}_{role}" if lesionId else role
    return stem + (".seg.nrrd" if node.IsA("vtkMRMLSegmentationNode") else ".mrk.json")


def saveRead(state: SceneState, folder: str | os.PathLike, progress: PanelProgress | None = None) -> Path:
    """Save the read into ``folder``: case JSON, one .mrk.json per markup (.seg.nrrd per segmentation),
    the lesion table as CSV and a manifest of node roles. Everything is written to
    "<folder>.tmp-<pid>" first and swapped in only when complete, so a failed save keeps the previous
    one. Returns the folder path. Raises ReadFolderError (OSError) naming the file that failed.
    """
    progress = progress or no_progress
    folder = Path(folder).absolute()
    temporary = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    progress(0.0, "Computing the read")
    case = state.recompute()
    try:
        if temporary.exists():
            shutil.rmtree(temporary)
        temporary.mkdir(parents=True)
        _writeReadFiles(state, case, temporary, progress)
        _swapFolder(temporary, folder)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    progress(1.0, f"Saved {folder}")
    return folder


def _writeReadFiles(state: SceneState, case: dict, temporary: Path, progress: PanelProgress) -> None:
    nodes = sorted(state.roleNodes.values(), key=nodeFileName)
    steps = len(nodes) + 3
    progress(1 / steps, f"Writing {CASE_FILE}")
    case_io.save_case(case, temporary / CASE_FILE)
    entries = []
    for index, node in enumerate(nodes):
        fileName = nodeFileName(node)
        progress((index + 2) / steps, f"Writing {fileName}")
        storage = node.CreateDefaultStorageNode()
        storage.SetFileName(str(temporary / fileName))
        if not storage.WriteData(node):
            raise ReadFolderError(f"{temporary / fileName}: Slicer could not write {node.GetName()}")
        entries.append({"file": fileName, "role": node.GetAttribute(ROLE_ATTRIBUTE),
                        "lesion_id": node.GetAttribute(LESION_ATTRIBUTE) or None, "name": node.GetName()})
    progress((steps - 1) / steps, f"Writing {TABLE_FILE}")
    tableStorage = slicer.vtkMRMLTableStorageNode()
    tableStorage.SetFileName(str(temporary / TABLE_FILE))
    if not tableStorage.WriteData(tableNode(state)):
        raise ReadFolderError(f"{temporary / TABLE_FILE}: Slicer could not write the lesion table")
    manifest = {
        "format": FOLDER_FORMAT, "format_version": FOLDER_FORMAT_VERSION, "case": CASE_FILE,
        "table": TABLE_FILE, "lesions": lesionIds(state), "nodes": entries,
        "active_lesion": state.parameterNode().GetParameter(ACTIVE_LESION_PARAMETER) or None,
    }
    atomic_write_text(temporary / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")


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


def _readManifest(folder: Path) -> tuple[dict, list[dict], Path]:
    """The manifest of a read folder, its node entries (checked) and the case file path."""
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
    for entry in entries:
        role, lesionId = entry.get("role"), entry.get("lesion_id")
        if role not in ROLES or (role in LESION_ROLES) != bool(lesionId) or not (folder / str(entry.get("file"))).is_file():
            raise ReadFolderError(f"{manifestPath}: bad node entry {entry!r} (unknown role, "
                                  "lesion id missing or file absent)")
    return manifest, entries, caseFile


def openRead(state: SceneState, folder: str | os.PathLike, progress: PanelProgress | None = None) -> dict:
    """Open a folder written by :func:`saveRead`: replace the scene's read (markups, folders, case
    with reader values) by the saved one and recompute. Returns the case dict. Raises
    ReadFolderError naming the folder/file for a missing or damaged folder.
    """
    progress = progress or no_progress
    folder = Path(folder)
    manifest, entries, caseFile = _readManifest(folder)
    progress(0.0, f"Reading {caseFile.name}")
    case = case_io.load_case(caseFile)
    clearRead(state)
    steps = len(entries) + 2
    with state.batch():
        for lesionId in manifest.get("lesions") or []:
            lesionFolder(state, lesionId)
        for index, entry in enumerate(entries):
            progress((index + 1) / steps, f"Reading {entry['file']}")
            node = _loadNode(state, folder / entry["file"], entry.get("name") or entry["file"])
            node.SetAttribute(ROLE_ATTRIBUTE, entry["role"])
            if entry.get("lesion_id"):
                node.SetAttribute(LESION_ATTRIBUTE, entry["lesion_id"])
            adoptNode(state, node)
        state.parameterNode().SetParameter(ACTIVE_LESION_PARAMETER, manifest.get("active_lesion") or "")
        state.dirty = True
    progress((steps - 1) / steps, "Restoring the checklist")
    result = setCase(state, case)
    progress(1.0, f"Opened {folder}")
    return result


def _loadNode(state: SceneState, path: Path, name: str) -> Any:
    if path.name.endswith(".seg.nrrd"):
        node = state.moduleLogic("Segmentations").LoadSegmentationFromFile(str(path), False, name)
    else:
        nodeId = state.moduleLogic("Markups").LoadMarkups(str(path), name)
        node = state.scene.GetNodeByID(nodeId) if nodeId else None
    if node is None:
        raise ReadFolderError(f"{path}: Slicer could not read it")
    return node


def exportRead(state: SceneState, folder: str | os.PathLike, progress: PanelProgress | None = None,
               final: bool = False) -> dict[str, Path]:
    """Export the read for use outside Slicer into ``folder`` (created if needed): the case JSON,
    the per-lesion CSV of the core (case_io.write_lesions_csv), the clinician's HTML report and,
    when a selected series was loaded from a DICOM folder, a DICOM Comprehensive 3D SR. Returns
    {"case", "csv", "report"[, "sr"]} paths; the SR is left out (with a warning in the warnings)
    when no DICOM source is known. ``final`` marks the read finished: the SR is COMPLETE and
    VERIFIED by the reader (a reader name is needed); a finished SR is never overwritten, the next
    export is a new version that names it as its predecessor (``sr.export_path``)."""
    progress = progress or no_progress
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    progress(0.0, "Computing the read")
    case = state.recompute()
    written = {"case": folder / f"{case['case_id']}.json", "csv": folder / f"{case['case_id']}_lesions.csv"}
    progress(0.2, f"Writing {written['case'].name}")
    case_io.save_case(case, written["case"])
    progress(0.4, f"Writing {written['csv'].name}")
    case_io.write_lesions_csv([case], written["csv"])
    from ..report import write_report

    written["report"] = write_report(case, folder / f"{case['case_id']}_report.html")
    sources = dicomSources(state)
    if sources:
        from .. import sr  # highdicom takes a second to import: only when an SR is written

        written["sr"], replaces = sr.export_path(folder, case["case_id"])
        progress(0.6, f"Writing {written['sr'].name}")
        sr.write_sr(case, sources, written["sr"], final=final,
                    predecessor=None if replaces is None else str(replaces))
    else:
        state.appendWarnings(["export: no series loaded from a DICOM folder, so no DICOM SR was written"],
                             keep=False)
    progress(1.0, f"Exported to {folder}")
    return written


def sendSRToPACS(state: SceneState, serverFile: str | os.PathLike, progress: PanelProgress | None = None,
                 final: bool = False) -> str:
    """Write the read's DICOM SR and store it on the PACS of ``serverFile`` (a JSON server file:
    ``pacs.save_server_file``; the password comes from ISCM_PACS_PASSWORD or its password_file).
    Returns the one line the PACS client says; raises ValueError when no series came from DICOM (no
    SR can be written) and pacs.PacsError, one line, when the PACS refuses or cannot be reached."""
    import tempfile

    from .. import pacs

    progress = progress or no_progress
    with tempfile.TemporaryDirectory(prefix="iscm-sr-") as folder:
        written = exportRead(state, folder, lambda fraction, message: progress(0.6 * fraction, message), final)
        if "sr" not in written:
            raise ValueError("send SR to PACS: no series was loaded from DICOM, so there is no SR to send")
        progress(0.7, f"Sending {written['sr'].name}")
        line = pacs.store_file(serverFile, written["sr"])
    progress(1.0, line)
    return line
