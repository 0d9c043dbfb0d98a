"""Hangs (issue 12, item 6): a FIFO in an exam folder is skipped; a zero-filled file with a DICM
preamble stops at its first impossible element."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dicom_factory import SAGITTAL_IOP, ramp_volume, write_series
from ISCMAssistLib.dicom_header import read_dicom_header
from ISCMAssistLib.ingest import scan_folder
from ISCMAssistLib.volumes import VolumeLoadError

MODULE_DIR = Path(__file__).resolve().parents[2] / "ISCMAssist"


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(MODULE_DIR))
    return subprocess.run([sys.executable, "-m", "ISCMAssistLib.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_in_an_exam_folder_is_skipped(tmp_path):
    folder = tmp_path / "exam"
    write_series(folder, ramp_volume((6, 8, 10)), (SAGITTAL_IOP, (10.0, -50.0, 100.0), (0.8, 0.6, 3.0)))
    os.mkfifo(folder / "pipe")
    scan = scan_folder(folder)
    assert len(scan.series) == 1
    assert any(s.path.name == "pipe" and "FIFO" in s.reason for s in scan.skipped)
    for command in (["series", str(folder)], ["levels", str(folder)], ["levels", str(folder / "pipe")]):
        result = _cli(*command)  # a hang fails here with TimeoutExpired
        assert "Traceback" not in result.stderr, result.stderr
    assert "FIFO" in _cli("levels", str(folder / "pipe")).stderr


def test_zero_filled_dicm_file_stops_at_the_first_impossible_element(tmp_path):
    path = tmp_path / "zeros.dcm"
    with open(path, "wb") as handle:
        handle.write(b"\0" * 128 + b"DICM")
        handle.truncate(256 * 2**20)  # 256 MB of zeros (sparse)
    start = time.perf_counter()
    with pytest.raises(VolumeLoadError, match="zeros.dcm: damaged DICOM file: DICM preamble but no file meta"):
        read_dicom_header(path)
    assert time.perf_counter() - start < 2.0
    # valid file meta followed by zeros
    good = write_series(tmp_path / "s", ramp_volume((2, 4, 4)), (SAGITTAL_IOP, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)))[0]
    data = good.read_bytes()
    meta_end = 132 + 12 + int(np.frombuffer(data[140:144], "<u4")[0])  # (0002,0000) group length
    zeros = tmp_path / "meta_then_zeros.dcm"
    with open(zeros, "wb") as handle:
        handle.write(data[:meta_end])
        handle.truncate(256 * 2**20)
    start = time.perf_counter()
    with pytest.raises(VolumeLoadError, match=r"impossible element \(0000,0000\)"):
        read_dicom_header(zeros)
    assert time.perf_counter() - start < 2.0
