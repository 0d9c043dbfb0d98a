"""The web panel's slice views: trame-slicer SliceViews made cheap to render in software (Mesa
llvmpipe on a server without a GPU). Import after ``scene_app.prepare_offscreen_rendering``."""

from __future__ import annotations

import asyncio
from typing import Any

import slicer
from trame_slicer.views import NoScheduleRendering, ScheduledRenderStrategy, SliceView

#: how long a view waits before it renders, in s, after the event that asked for it was handled: an
#: offscreen render blocks the server's loop for 10-30 ms, and the table and hints a point move changed
#: are sent first
RENDER_DELAY_S = 0.002


class MessagesFirst(ScheduledRenderStrategy):
    """A render strategy that passes requests on to ``inner`` RENDER_DELAY_S after the event being
    handled ends, many requests as one."""

    def __init__(self, inner: ScheduledRenderStrategy) -> None:
        super().__init__()
        self.inner, self.pending = inner, False

    def schedule_render(self) -> None:
        loop = asyncio.get_event_loop()
        if not loop.is_running():  # the server is not serving yet: nothing to send first
            self.inner.schedule_render()
            return
        if self.pending:
            return
        self.pending = True
        # call_soon: the delay starts once the handler that asked has ended and sent its state changes
        loop.call_soon(loop.call_later, RENDER_DELAY_S, self._fire)

    def _fire(self) -> None:
        self.pending = False
        self.inner.schedule_render()

    def did_render(self) -> None:
        self.inner.did_render()

    def set_abstract_view(self, abstract_view: Any) -> None:
        super().set_abstract_view(abstract_view)
        self.inner.set_abstract_view(abstract_view)


class WebSliceView(SliceView):
    """A SliceView whose render strategy (trame-rca's, set by the view factory) is wrapped in
    MessagesFirst."""

    def set_scheduled_render(self, strategy: ScheduledRenderStrategy | None) -> None:
        if strategy is not None and not isinstance(strategy, NoScheduleRendering):
            strategy = MessagesFirst(strategy)
        super().set_scheduled_render(strategy)


def web_slice_view(scene: Any, app_logic: Any, name: str) -> WebSliceView:
    """The view constructor for trame-slicer's RemoteViewFactory: a WebSliceView with
    - no render while it is built (trame-slicer's default renders at once on every request, about 60
      renders per view as its displayable managers start: 0.9 s of the server's start);
    - no multisampling (on llvmpipe 4x MSAA doubles a slice render, and a 2D image gains nothing);
    - no model-slice displayable manager (the panel shows no models, and it would render the axial view
      again on every sagittal scroll, as each slice's own plane model moves)."""
    view = WebSliceView(scene=scene, app_logic=app_logic, name=name, scheduled_render_strategy=NoScheduleRendering())
    view.render_window().SetMultiSamples(0)
    view.get_displayable_manager_by_class(slicer.vtkMRMLModelSliceDisplayableManager).SetMRMLScene(None)
    return view
