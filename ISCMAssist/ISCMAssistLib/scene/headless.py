"""A headless Slicer application context on slicer-core's real MRML (no Qt, no slicer.app).

Inside the desktop app the application builds the scene and the module logics; outside it (tests,
benchmarks, the CLI) :func:`create_headless_context` builds the same pieces so that
``ISCMAssistLogic`` runs unchanged. See ``shared/reference/slicer-core-headless.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class HeadlessContext:
    """A scene plus the module logics Slicer's app would own, keyed by module name.

    ``logics`` holds "Colors", "Markups", "Volumes", "Segmentations", "SubjectHierarchy", "Tables".
    """

    scene: Any
    app_logic: Any
    logics: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        """Clear the scene (fires the scene's close events) and detach the module logics from it."""
        self.scene.Clear(0)
        for logic in self.logics.values():
            logic.SetMRMLScene(None)
        self.app_logic.SetMRMLScene(None)
        self.logics.clear()


def create_headless_context(install_globally: bool = False, quiet: bool = True) -> HeadlessContext:
    """Build a vtkMRMLScene with the application and module logics the Slicer app would create.

    install_globally: also set ``slicer.mrmlScene`` (needed by ``slicer.util`` helpers such as
    ``arrayFromVolume``); quiet: silence VTK's stderr logging. Returns a :class:`HeadlessContext`.
    """
    import slicer
    import vtk

    if quiet:
        vtk.vtkLogger.SetStderrVerbosity(vtk.vtkLogger.VERBOSITY_OFF)
        vtk.vtkObject.GlobalWarningDisplayOff()

    scene = slicer.vtkMRMLScene()
    crosshair = slicer.vtkMRMLCrosshairNode()
    crosshair.SetName("default")
    crosshair.SetSingletonTag("default")
    scene.AddNode(crosshair)

    app_logic = slicer.vtkSlicerApplicationLogic()
    app_logic.SetMRMLScene(scene)
    color_logic = app_logic.GetColorLogic()
    color_logic.SetMRMLScene(scene)
    color_logic.AddDefaultColorNodes()
    app_logic.SetSliceLogics(vtk.vtkCollection())
    app_logic.SetViewLogics(vtk.vtkCollection())

    context = HeadlessContext(scene=scene, app_logic=app_logic)
    context.logics["Colors"] = color_logic
    app_logic.SetModuleLogic("Colors", color_logic)
    for name, logic_class in (
        ("Markups", slicer.vtkSlicerMarkupsLogic),
        ("Volumes", slicer.vtkSlicerVolumesLogic),
        ("Segmentations", slicer.vtkSlicerSegmentationsModuleLogic),
        ("SubjectHierarchy", slicer.vtkSlicerSubjectHierarchyModuleLogic),
        ("Tables", slicer.vtkSlicerTablesLogic),
    ):
        logic = logic_class()
        logic.SetMRMLScene(scene)
        logic.SetMRMLApplicationLogic(app_logic)
        app_logic.SetModuleLogic(name, logic)
        context.logics[name] = logic
    slicer.vtkMRMLSliceNode.AddDefaultSliceOrientationPresets(scene, True)

    if install_globally:
        slicer.mrmlScene = scene
    return context
