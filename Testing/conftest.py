"""Shared pytest fixtures: where the real spine MRI lives (../shared/data beside the repository)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ISCM_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Return the folder of real spine MRI (pam50_small/, tutorial/); skip the test if it is absent."""
    if not (SHARED_DATA / "pam50_small").is_dir():
        pytest.skip(f"real spine MRI not found at {SHARED_DATA} (set ISCM_SHARED_DATA to its folder)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def real_lumbar(shared_data) -> Path:
    """Return the folder of the 24 real lumbar scans (shared data real_lumbar/); skip if it is absent."""
    return _data_folder(shared_data, "real_lumbar", "real lumbar scans")


@pytest.fixture(scope="session")
def real_dicom(shared_data) -> Path:
    """Return the folder of the real scanner DICOM exports (shared data real_dicom/); skip if it is absent."""
    return _data_folder(shared_data, "real_dicom", "real scanner exports")


def _data_folder(shared_data: Path, name: str, what: str) -> Path:
    folder = shared_data / name
    if not folder.is_dir():
        pytest.skip(f"{what} not found at {folder} (set ISCM_SHARED_DATA to the shared data folder)")
    return folder
