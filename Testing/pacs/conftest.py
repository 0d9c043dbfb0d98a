"""Fixtures of the PACS tests: a real Orthanc with authentication, and the demo exam as DICOM.

Orthanc and the tests run in a private network namespace (orthanc_server.enter_private_network)
where that is allowed. Without Orthanc the tests skip with a message, except under CI=true, where
they fail.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from orthanc_server import OrthancServer, enter_private_network, orthanc_missing  # noqa: E402


def _require_orthanc() -> None:
    missing = orthanc_missing()
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{missing}; CI must install it (.ci/run)")
        pytest.skip(missing)


@pytest.fixture(scope="session")
def private_network() -> bool:
    """Return whether the tests run in a private network namespace (only loopback)."""
    _require_orthanc()
    return enter_private_network()


@pytest.fixture(scope="module")
def orthanc(private_network, tmp_path_factory) -> OrthancServer:
    """A running Orthanc (fresh storage per test module), stopped after the module."""
    with OrthancServer(tmp_path_factory.mktemp("orthanc")) as server:
        yield server


@pytest.fixture(scope="session")
def demo_exam(tmp_path_factory) -> Path:
    """Return the folder of ``iscm-assist demo`` output (dicom/t2, dicom/t1_post, case.json)."""
    from ISCMAssistLib.demo import run_demo

    out = tmp_path_factory.mktemp("demo")
    run_demo(out)
    return out


@pytest.fixture(scope="module")
def server_password(orthanc):
    """ISCM_PACS_PASSWORD set to the server's password for a module's fixtures, then restored."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ISCM_PACS_PASSWORD", orthanc.password)
        yield orthanc.password


@pytest.fixture()
def pacs_env(orthanc, monkeypatch) -> dict[str, str]:
    """Set ISCM_PACS_PASSWORD to the server's password for one test; return the environment."""
    monkeypatch.setenv("ISCM_PACS_PASSWORD", orthanc.password)
    return dict(os.environ)
