"""The web panel's test helpers: start/stop ``iscm-assist web`` as a subprocess on a free 127.0.0.1
port, and the check that the browser tools are there (skip without them; fail under CI=true)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("ISCM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT_S = 180.0  # the demo writes its DICOM first; a cold machine is slow
STOP_TIMEOUT_S = 15.0


def missing(reason: str) -> None:
    """Skip with ``reason``, or fail under CI=true (CI installs everything the tests need)."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI=true: .ci/run must install it)")
    pytest.skip(reason)


def require_web_tools() -> None:
    """Skip (fail under CI) unless trame-slicer, Playwright and chromium are installed."""
    for module, package in (("trame_slicer", 'trame-slicer (pip install -e ".[web]")'),
                            ("playwright", "Playwright for Python (pip install playwright)")):
        if importlib.util.find_spec(module) is None:
            missing(f"{package} is not installed")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        missing(f"chromium not found at {CHROMIUM} (apt-get install chromium)")


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PanelServer:
    """A running ``iscm-assist web`` subprocess: its URL, output folder and process."""

    url: str
    out: Path
    process: subprocess.Popen
    log: Path

    def log_text(self) -> str:
        """Return what the server printed so far."""
        return self.log.read_text("utf-8", errors="replace")


def start_panel(args: list[str], out: Path, host: str = "127.0.0.1") -> PanelServer:
    """Start ``iscm-assist web ARGS --out OUT`` on a free port; return once /index.html answers (any
    HTTP status), or fail with the server's log after START_TIMEOUT_S."""
    port = free_port()
    out.mkdir(parents=True, exist_ok=True)
    log = out.parent / f"{out.name}-server.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "ISCMAssistLib.cli", "web", *args, "--out", str(out),
               "--host", host, "--port", str(port)]
    with open(log, "wb") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env)
    server = PanelServer(f"http://{host}:{port}", out, process, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the panel server exited ({process.returncode}):\n{server.log_text()}")
        try:
            urllib.request.urlopen(server.url + "/index.html", timeout=2).close()
            return server
        except urllib.error.HTTPError:
            return server  # it answers (e.g. 302/401 behind a password)
        except OSError:
            time.sleep(0.05)
    stop_panel(server)
    raise AssertionError(f"the panel server did not answer within {START_TIMEOUT_S} s:\n{server.log_text()}")


def stop_panel(server: PanelServer) -> None:
    """Stop the server: SIGTERM, then SIGKILL after STOP_TIMEOUT_S."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
