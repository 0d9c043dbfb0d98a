"""A real Orthanc (Debian's ``orthanc`` + ``orthanc-dicomweb``) for tests and benchmarks, in a temp folder.

``OrthancServer`` writes a config (free ports, authentication on, storage in the folder, only our
own AE known), starts ``Orthanc``, polls ``/system`` with a bounded wait and always stops it.
Orthanc 1.10 binds HTTP and DICOM on every interface, so ``enter_private_network()`` first moves
this process (and so the server it starts) into a private network namespace where only loopback
exists; where that is not allowed (not root), every address the server and the tests use is
127.0.0.1 and the server refuses remote HTTP (``RemoteAccessAllowed`` false).
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

ORTHANC = os.environ.get("ISCM_ORTHANC") or shutil.which("Orthanc") or "/usr/sbin/Orthanc"  # ISCM_ORTHANC: another build
DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
CLONE_NEWNET = 0x40000000
_in_private_network = False


def orthanc_missing() -> str | None:
    """Return why Orthanc cannot run here (a message naming the Debian packages), or None."""
    if not os.path.exists(ORTHANC):
        return "Orthanc not installed (apt-get install orthanc orthanc-dicomweb)"
    if not os.path.exists(DICOMWEB_PLUGIN):
        return f"Orthanc's DICOMweb plugin not found at {DICOMWEB_PLUGIN} (apt-get install orthanc-dicomweb)"
    return None


def enter_private_network() -> bool:
    """Move this process into a new network namespace with only loopback up; return whether it worked.

    Once done it stays so for the life of the process (every later socket, thread and child is in it).
    """
    global _in_private_network
    if _in_private_network:
        return True
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        return False
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    _in_private_network = True
    return True


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class OrthancServer:
    """One Orthanc in ``folder``: ``url`` (DICOMweb root), ``dicom_port``, ``aet``, ``user``/``password``.

    ``client_aet`` is the one calling AE title Orthanc knows (at 127.0.0.1:``client_port``, for
    C-MOVE); every other AE is refused. Use as a context manager.
    """

    def __init__(self, folder: Path, client_aet: str = "ISCMTEST", aet: str = "ORTHANC") -> None:
        self.folder = Path(folder)
        self.aet, self.client_aet = aet, client_aet
        self.user, self.password = "iscm", secrets.token_urlsafe(12)
        self.http_port, self.dicom_port, self.client_port = free_port(), free_port(), free_port()
        self.process: subprocess.Popen | None = None

    @property
    def root(self) -> str:
        """Return the HTTP root, http://127.0.0.1:PORT."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def url(self) -> str:
        """Return the DICOMweb root URL."""
        return f"{self.root}/dicom-web"

    def config(self) -> dict:
        """Return the Orthanc configuration written to the folder."""
        return {
            "Name": "iscm-test", "StorageDirectory": str(self.folder / "storage"),
            "IndexDirectory": str(self.folder / "storage"), "HttpPort": self.http_port,
            "DicomPort": self.dicom_port, "DicomAet": self.aet, "DicomCheckCalledAet": True,
            "RemoteAccessAllowed": False, "AuthenticationEnabled": True,
            "RegisteredUsers": {self.user: self.password},
            "DicomAlwaysAllowEcho": False, "DicomAlwaysAllowFind": False, "DicomAlwaysAllowMove": False,
            "DicomAlwaysAllowGet": False, "DicomAlwaysAllowStore": False, "DicomCheckModalityHost": True,
            "DicomModalities": {"iscm": {"AET": self.client_aet, "Host": "127.0.0.1", "Port": self.client_port}},
            "Plugins": [DICOMWEB_PLUGIN], "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
            "HttpDescribeErrors": False, "StableAge": 1, "SaveJobs": False, "HttpThreadsCount": 8,
            "MaximumStorageCacheSize": 0,  # read instances from the storage folder every time (tests damage it)
        }

    def __enter__(self) -> "OrthancServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, wait_s: float = 20.0) -> None:
        """Write the config, start Orthanc and wait (at most ``wait_s``) until /system answers; raise RuntimeError."""
        import requests

        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "orthanc.json"
        config.write_text(json.dumps(self.config(), indent=2))
        log = open(self.folder / "orthanc.log", "wb")
        self.process = subprocess.Popen([ORTHANC, str(config)], stdout=log, stderr=subprocess.STDOUT,
                                        cwd=self.folder)
        log.close()
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if requests.get(f"{self.root}/system", auth=(self.user, self.password), timeout=1).ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"Orthanc did not answer /system within {wait_s:g} s: {self.log_tail()}")

    def stop(self) -> None:
        """Stop Orthanc (terminate, then kill after 10 s); safe to call twice."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log_tail(self, lines: int = 8) -> str:
        """Return the last lines of Orthanc's log."""
        try:
            return " | ".join((self.folder / "orthanc.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def rest(self, method: str, path: str, **kwargs):
        """Call Orthanc's own REST API (authenticated); return the requests Response."""
        import requests

        return requests.request(method, f"{self.root}{path}", auth=(self.user, self.password), timeout=30, **kwargs)
