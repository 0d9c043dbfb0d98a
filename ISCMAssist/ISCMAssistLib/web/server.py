"""Build the web panel's trame server and run it (``iscm-assist web``)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .access import Gate, check_host, read_password_file


@dataclass
class PanelOptions:
    """What ``iscm-assist web`` was asked to open and where it serves.

    exam: an exam folder; session + reader: a research session; demo: the demo exam and read. out:
    the output folder (read/ autosaved read, exports/). host, port: where to listen; password_file:
    needed for any host but loopback. pacs_server: the server file of the PACS the exam was retrieved
    from (``--pacs``), for "Send SR to PACS".
    """

    out: Path
    exam: Path | None = None
    session: Path | None = None
    reader: str | None = None
    demo: bool = False
    host: str = "127.0.0.1"
    port: int = 8080
    password_file: Path | None = None
    pacs_server: Path | None = None  # the PACS the exam came from (a server file): the SR can go back


class _TerminalProgress:
    """The loading progress bar on a terminal (tqdm on stderr); silent when stderr is not a terminal."""

    def __init__(self) -> None:
        self._bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=100, unit="%", file=sys.stderr, leave=False,
                             bar_format="{desc:34.34s} {percentage:3.0f}%|{bar}|")

    def __call__(self, fraction: float, message: str) -> None:
        if self._bar is not None:
            self._bar.set_description_str(message, refresh=False)
            self._bar.update(max(0, round(100 * fraction) - self._bar.n))

    def close(self) -> None:
        """Remove the bar (loading is over)."""
        if self._bar is not None:
            self._bar.close()


def build_panel(options: PanelOptions, progress: Callable[[float, str], None] | None = None) -> tuple[Any, Any]:
    """Create the trame server, the Slicer scene with the Logic, the page, and open what ``options``
    ask for. Returns (server, PanelState). Raises AccessError / OSError / ValueError with one line."""
    progress = progress or (lambda _fraction, _message: None)
    password = read_password_file(options.password_file) if options.password_file else None
    warning = check_host(options.host, password)
    if warning:
        print(warning, file=sys.stderr)
    options.out.mkdir(parents=True, exist_ok=True)
    from .scene_app import create_scene_app, prepare_offscreen_rendering

    prepare_offscreen_rendering()  # before anything imports vtk
    from trame.app import get_server
    from trame_slicer import module as trame_slicer_module

    from .panel_state import PanelState
    from .panel_ui import build_page

    server = get_server(name=f"iscm-assist-web-{id(options)}", client_type="vue3")
    server.enable_module(trame_slicer_module)
    scene_app = create_scene_app(server)
    gate = Gate(password, options.out)
    server.controller.on_server_bind.add(lambda wslink_server: gate.install(wslink_server.app))
    panel = PanelState(server, scene_app, gate, options.out)
    panel.pacs_server = options.pacs_server
    with server.state:
        server.state.pacs_open = options.pacs_server is not None
    build_page(server, scene_app.layout_manager)

    read_folder = options.out / "read"
    if options.session:
        panel.open_session(options.session, options.reader)
    else:
        if options.demo:
            scene_app.logic.openDemo(options.out / "demo", progress)
        elif options.exam:
            panel.exam = options.exam.resolve()
            scene_app.logic.openExam(options.exam, progress)
        if (read_folder / "iscm-assist-read.json").is_file():
            scene_app.logic.openRead(read_folder)  # the autosaved read of an earlier run
        scene_app.logic.markReadSaved()
        panel.opened("Ready")
    panel.refresh()
    panel.list_files()
    return server, panel


def run_panel(options: PanelOptions) -> int:
    """Build the panel, print its URL and serve until stopped (Ctrl-C / SIGTERM). Returns 0."""
    progress = _TerminalProgress()
    try:
        server, panel = build_panel(options, progress)
    finally:
        progress.close()
    from trame_server.utils.asynchronous import create_task

    host_in_url = "127.0.0.1" if options.host in ("0.0.0.0", "::") else options.host

    def ready(**_: Any) -> None:
        create_task(panel.tick_forever())
        print(f"ISCMAssist web panel: http://{host_in_url}:{server.port}/index.html", flush=True)

    def exited(**_: Any) -> None:
        panel.tick()  # last autosave
        panel.logic.closeSession()

    server.controller.on_server_ready.add(ready)
    server.controller.on_server_exited.add(exited)
    sys.argv = sys.argv[:1]  # trame also parses the command line; ours is already parsed
    server.start(port=options.port, host=options.host, open_browser=False, show_connection_info=False,
                 timeout=0, disable_logging=True)
    return 0
