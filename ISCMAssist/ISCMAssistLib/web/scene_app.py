"""The Slicer application behind the web panel: trame-slicer's SlicerApp (scene, module logics, slice
views rendered offscreen and streamed to the browser) plus the module Logic on that same scene.

trame-slicer registers no Tables module logic and wraps the Markups one; the Logic gets the raw
module logics by name, as the Slicer app would hand them (see shared/reference/slicer-core-headless.md).
"""

from __future__ import annotations

import asyncio
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
#: how long a view waits before it renders, in s: an offscreen render blocks the server's loop for
#: 10-30 ms, and the table and hints a point move changed are sent first
RENDER_DELAY_S = 0.002


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
    from trame_slicer.rca_view import register_rca_factories
    from trame_slicer.views import Layout, LayoutDirection, ViewLayoutDefinition

    from .logic_link import ISCMAssistLogic

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
    register_rca_factories(app.view_manager, server, slice_view_ui_f=_slice_gutter, target_fps=RENDER_FPS,
                           blur_fps=BLUR_FPS, interactive_quality=STILL_QUALITY)
    layout_manager = LayoutManager(app.scene, app.view_manager, server)
    layout_manager.register_layout(LAYOUT_ID, Layout(LayoutDirection.Horizontal, [
        ViewLayoutDefinition.sagittal_view(SAGITTAL_VIEW), ViewLayoutDefinition.axial_view(AXIAL_VIEW)]))
    layout_manager.set_layout(LAYOUT_ID)
    logic = ISCMAssistLogic(app.scene, module_logics)
    scene_app = SceneApp(slicer_app=app, layout_manager=layout_manager, logic=logic)
    for view in scene_app.slice_views().values():
        _render_for_the_web(view)
    return scene_app


def _render_for_the_web(view: Any) -> None:
    """Make one slice view cheap to render in software: no multisampling (on llvmpipe 4x MSAA doubles
    a slice render, and a 2D image view gains nothing from it), and render requests that first let the
    server send what changed (see RENDER_DELAY_S)."""
    import slicer
    from trame_slicer.views import ScheduledRenderStrategy

    class MessagesFirst(ScheduledRenderStrategy):
        """Pass render requests on RENDER_DELAY_S later, many requests as one."""

        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner, self.pending = inner, False

        def schedule_render(self) -> None:
            if self.pending:
                return
            self.pending = True
            # timed from the end of the event being handled (call_soon), so that the state it changed,
            # sent when the handler ends, goes out first
            loop = asyncio.get_event_loop()
            loop.call_soon(loop.call_later, RENDER_DELAY_S, self._fire)

        def _fire(self) -> None:
            self.pending = False
            self.inner.schedule_render()

        def did_render(self) -> None:
            self.inner.did_render()

        def set_abstract_view(self, abstract_view: Any) -> None:
            super().set_abstract_view(abstract_view)
            self.inner.set_abstract_view(abstract_view)

    view.render_window().SetMultiSamples(0)
    # this manager draws models cut by the slice, and the panel shows none; it would render the axial
    # view again on every sagittal scroll, as each slice's own plane model moves
    view.get_displayable_manager_by_class(slicer.vtkMRMLModelSliceDisplayableManager).SetMRMLScene(None)
    # trame-slicer 2.0 offers no getter for a view's render strategy (pinned: trame-slicer <2.1)
    view.set_scheduled_render(MessagesFirst(view._scheduled_render))


def _slice_gutter(server: Any, view_id: str, view: Any) -> None:
    """The slice slider under each view (trame-slicer's), without its 3D buttons."""
    from trame_slicer.app.logic.slice_view_logic import connect_slice_view_slider_to_state
    from trame_slicer.app.ui.slider import Slider
    from trame.widgets.html import Div

    with Div(style="position: absolute; bottom: 0; left: 0; width: 100%; background-color: transparent;"):
        Slider(classes="slice-slider", typed_state=connect_slice_view_slider_to_state(server, view),
               theme="dark", dense=True)
