"""Series in the scene: the volume selected per series role, loading a file or DICOM folder as a
volume node, core Volumes in and out of volume nodes, and the check that a line lies on its series.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import vtk

from ..ingest import IngestError, scan_folder
from ..progress import PanelProgress, no_progress
from ..dicom_frames import slice_order
from ..dicom_pixels import load_dicom_series
from ..volumes import Volume, VolumeLoadError
from .arrays import arrayToMatrix, fillImage, imageToArray, matrixToArray
from .errors import ReadFolderError, RoleError
from .names import GAPS_ATTRIBUTE, LINE_SERIES, SERIES_PARAMETERS, SOURCE_ATTRIBUTE
from .state import SceneState


def setSeriesVolume(state: SceneState, role: str, volumeNode: Any) -> None:
    """Take a series role ("t2_sagittal", "t1_post", "t1_pre") and a volume node (or None); select it."""
    if role not in SERIES_PARAMETERS:
        raise RoleError(f"series role '{role}' is not one of {sorted(SERIES_PARAMETERS)}")
    state.setNodeParameter(SERIES_PARAMETERS[role], volumeNode)
    if volumeNode is None:
        case = state.getCase()
        case["series"] = [entry for entry in case.get("series") or [] if entry.get("role") != role]
        state.storeCase(case)
    state.requestRecompute()


def seriesVolume(state: SceneState, role: str) -> Any:
    """Return the volume node selected for a series role, or None. Raises RoleError for an unknown role."""
    if role not in SERIES_PARAMETERS:
        raise RoleError(f"series role '{role}' is not one of {sorted(SERIES_PARAMETERS)}")
    return state.parameterNode().GetNodeReference(SERIES_PARAMETERS[role])


def seriesWindowLevel(state: SceneState, role: str) -> dict[str, float]:
    """Return the window/level of the series selected for ``role`` with its image's range, for a
    panel's sliders: {"window", "level", "min", "max"} (image units); 1/0/0/1 without an image."""
    volumeNode = seriesVolume(state, role)
    display = volumeNode.GetDisplayNode() if volumeNode is not None else None
    image = volumeNode.GetImageData() if volumeNode is not None else None
    if display is None or image is None:
        return {"window": 1.0, "level": 0.0, "min": 0.0, "max": 1.0}
    low, high = image.GetScalarRange()
    return {"window": float(display.GetWindow()), "level": float(display.GetLevel()),
            "min": float(low), "max": float(high)}


def setSeriesWindowLevel(state: SceneState, role: str, window: float, level: float) -> None:
    """Show the series selected for ``role`` with ``window`` and ``level`` (image units), automatic
    window/level off; no-op without a selected series."""
    volumeNode = seriesVolume(state, role)
    display = volumeNode.GetDisplayNode() if volumeNode is not None else None
    if display is not None:
        display.AutoWindowLevelOff()
        display.SetWindowLevel(float(window), float(level))


def addSeriesVolume(state: SceneState, volume: Volume, name: str, role: str | None = None) -> Any:
    """Put a core Volume (array [k, j, i], ijk_to_ras RAS mm) into the scene as a scalar volume node
    named ``name``; select it for series ``role`` when given. Returns the node."""
    image = fillImage(vtk.vtkImageData(), volume.array)
    node = state.scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
    node.SetIJKToRASMatrix(arrayToMatrix(volume.ijk_to_ras))
    node.SetAndObserveImageData(image)
    node.CreateDefaultDisplayNodes()
    if role is not None:
        setSeriesVolume(state, role, node)
    return node


def volumeFromNode(volumeNode: Any) -> Volume:
    """Take a scalar volume node; return a core Volume (array [k, j, i], ijk_to_ras RAS mm; a parent
    transform is not applied). Raises ValueError naming the node when it has no image."""
    image = volumeNode.GetImageData() if volumeNode is not None else None
    if image is None or image.GetPointData().GetScalars() is None:
        name = volumeNode.GetName() if volumeNode is not None else "None"
        raise ValueError(f"volume '{name}': has no image data")
    matrix = vtk.vtkMatrix4x4()
    volumeNode.GetIJKToRASMatrix(matrix)
    return Volume(np.array(imageToArray(image)), matrixToArray(matrix), source=volumeNode.GetName())


def loadSeries(state: SceneState, path: str | os.PathLike, role: str | None,
               progress: PanelProgress | None = None) -> Any:
    """Load a NIfTI/NRRD file or a folder of one DICOM series as a volume node and select it for
    ``role`` (a role without a selector, e.g. "t2_axial", or None only loads it); return the node.
    Raises ReadFolderError when nothing loads."""
    progress = progress or no_progress
    path = Path(path)
    volumesLogic = state.moduleLogic("Volumes")
    progress(0.0, f"Loading {path.name}")
    gaps: list = []
    if path.is_dir():
        files, headers, gaps = _seriesFilesInSliceOrder(path)
        if gaps:  # Slicer's reader cannot represent missing slices: blank slices in their place
            try:
                volume = load_dicom_series(files, headers=headers, source=str(path))
            except VolumeLoadError as error:
                raise ReadFolderError(str(error)) from None
            node = addSeriesVolume(state, volume, path.name)
            state.appendWarnings(list(volume.warnings))
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
        setSeriesVolume(state, role, node)
    progress(1.0, f"Loaded {path.name}")
    return node


def _seriesFilesInSliceOrder(folder: Path) -> tuple[list[Path], list, list]:
    """The image files of the one DICOM series in ``folder`` sorted along the slice normal (Slicer's
    archetype reader trusts the order it is given, so name order would give a wrong slice spacing),
    their headers in that order, and the slice gaps (volumes.SliceGap). Non-image and unreadable
    files are left out. Raises ReadFolderError for no or several series or a bad geometry."""
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


def seriesEntry(state: SceneState, role: str, volume: Any) -> dict:
    """Return the case's ``series`` entry for a selected volume node: role, series UID, file, description."""
    sh = state.scene.GetSubjectHierarchyNode()
    uid = sh.GetItemUID(sh.GetItemByDataNode(volume), "DICOM") or None
    storage = volume.GetStorageNode()
    fileName = storage.GetFileName() if storage is not None else None
    return {"role": role, "series_uid": uid, "file": fileName or None, "description": volume.GetName()}


def dicomSources(state: SceneState) -> list[Path]:
    """Return the DICOM folders the selected series were loaded from (the SR's references)."""
    sources = []
    for role in SERIES_PARAMETERS:
        node = seriesVolume(state, role)
        source = node.GetAttribute(SOURCE_ATTRIBUTE) if node is not None else None
        if source and Path(source).is_dir():
            sources.append(Path(source))
    return sources


def lineCheck(state: SceneState):
    """Return a read.LineCheck refusing a line that lies outside the series it is drawn on, or crosses
    a slice gap of it; None when no series is selected."""
    parameterNode = state.parameterNode()
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
