"""The Slicer application behind the web panel: trame-slicer's SlicerApp (scene, module logics, slice
views rendered offscreen and streamed to the browser) plus the module Logic on that same scene.

trame-slicer registers no Tables module logic and wraps the Markups one; the Logic gets the raw
module logics by name, as the Slicer app would hand them (see shared/reference/slicer-core-headless.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

#: view singleton tags (the Slicer names of the slice views)
SAGITTAL_VIEW = "Yellow"
AXIAL_VIEW = "Red"
LAYOUT_ID = "ISCMAssist sagittal + axial"
#: frames per second a view streams at most while the reader interacts (the pointer is over it)
RENDER_FPS = 30.0
#: frames per second of a view the pointer is not over
BLUR_FPS = 10.0
#: trame-rca's JPEG quality of a still frame
STILL_QUALITY = 90


def prepare_offscreen_rendering() -> None:
    """Render without a display: VTK's EGL window (Mesa llvmpipe on a machine without a GPU), unless
    the environment already chose one. Call before vtk is imported."""
    if "VTK_DEFAULT_OPENGL_WINDOW" not in os.environ:
        os.environ["VTK_DEFAULT_OPENGL_WINDOW"] = "vtkEGLRenderWindow"
        os.environ.pop("DISPLAY", None)  # with DISPLAY set VTK tries X first and logs errors


@dataclass
class SceneApp:
    """The pieces the panel works on: trame-slicer's SlicerApp, its layout manager and the Logic."""

    slicer_app: Any
    layout_manager: Any
    logic: Any

    def slice_views(self) -> dict[str, Any]:
        """Return {"sagittal": SliceView, "axial": SliceView}."""
        manager = self.slicer_app.view_manager
        return {"sagittal": manager.get_view(SAGITTAL_VIEW), "axial": manager.get_view(AXIAL_VIEW)}


def create_scene_app(server: Any) -> SceneApp:
    """Build the Slicer application on ``server`` (a trame Server): scene, module logics, the two slice
    views (sagittal and axial, remote-rendered) and the ISCMAssist Logic. Returns a SceneApp."""
    prepare_offscreen_rendering()
    import slicer
    import vtk
    from trame_slicer.core import LayoutManager, SlicerApp
    from trame_slicer.rca_view.rca_view_factory import RemoteViewFactory
    from trame_slicer.views import Layout, LayoutDirection, ViewLayoutDefinition, ViewType

    from .logic_link import ISCMAssistLogic
    from .slice_views import web_slice_view

    vtk.vtkLogger.SetStderrVerbosity(vtk.vtkLogger.VERBOSITY_OFF)
    vtk.vtkObject.GlobalWarningDisplayOff()
    app = SlicerApp()
    tables = app.register_module_logic(slicer.vtkSlicerTablesLogic(), logic_name="Tables")
    module_logics = {
        name: app.app_logic.GetModuleLogic(name)
        for name in ("Colors", "Markups", "Volumes", "Segmentations", "SubjectHierarchy")
    }
    module_logics["Tables"] = tables
    # One JPEG quality for moving and still frames: trame-rca renders a still frame again at a higher
    # quality after each interaction, a second full render that holds up the table update.
    app.view_manager.register_factory(RemoteViewFactory(
        server, web_slice_view, ViewType.SLICE_VIEW, populate_view_ui_f=_slice_gutter, target_fps=RENDER_FPS,
        blur_fps=BLUR_FPS, interactive_quality=STILL_QUALITY))
    layout_manager = LayoutManager(app.scene, app.view_manager, server)
    layout_manager.register_layout(LAYOUT_ID, Layout(LayoutDirection.Horizontal, [
        ViewLayoutDefinition.sagittal_view(SAGITTAL_VIEW), ViewLayoutDefinition.axial_view(AXIAL_VIEW)]))
    layout_manager.set_layout(LAYOUT_ID)
    logic = ISCMAssistLogic(app.scene, module_logics)
    return SceneApp(slicer_app=app, layout_manager=layout_manager, logic=logic)


def _slice_gutter(server: Any, view_id: str, view: Any) -> None:
    """The slice slider under each view (trame-slicer's), without its 3D buttons."""
    from trame_slicer.app.logic.slice_view_logic import connect_slice_view_slider_to_state
    from trame_slicer.app.ui.slider import Slider
    from trame.widgets.html import Div

    with Div(style="position: absolute; bottom: 0; left: 0; width: 100%; background-color: transparent;"):
        Slider(classes="slice-slider", typed_state=connect_slice_view_slider_to_state(server, view),
               theme="dark", dense=True)
