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
