"""Memory bombs (issue 12, item 5): the planned array is checked against the pixel data present and
against the stated limit before anything is allocated."""

from __future__ import annotations

import resource

import nibabel as nib
import numpy as np
import pytest

from dicom_factory import SAGITTAL_IOP, ramp_volume, set_tags, write_series
from ISCMAssistLib.cli import main
from ISCMAssistLib.images import load_volume
from ISCMAssistLib.volumes import DEFAULT_MAX_VOLUME_GB, VolumeLoadError


def _series(tmp_path, shape=(6, 8, 10)):
    return write_series(tmp_path / "s", ramp_volume(shape), (SAGITTAL_IOP, (10.0, -50.0, 100.0), (0.8, 0.6, 3.0)))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_one_far_image_position_is_refused_before_allocating(tmp_path):
    paths = _series(tmp_path)
    set_tags(paths[-1:], ImagePositionPatient=[10.0 + 3.0 * 2_000_000, -50.0, 100.0])  # 2 million slices away
    before = _peak_mb()
    with pytest.raises(VolumeLoadError, match="span .* slices but only 6 are present"):
        load_volume(tmp_path / "s")
    assert _peak_mb() - before < 200


def test_rows_and_columns_65535_are_refused_naming_the_file(tmp_path, capsys):
    paths = _series(tmp_path)
    set_tags(paths, Rows=65535, Columns=65535)
    with pytest.raises(VolumeLoadError, match=r"pixel data holds 160 bytes"):
        load_volume(tmp_path / "s")
    assert main(["levels", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Unable to allocate" not in err and len(err.strip().splitlines()) == 1


def test_the_limit_is_stated_and_can_be_raised(tmp_path, monkeypatch, capsys):
    assert DEFAULT_MAX_VOLUME_GB == 2.0
    path = tmp_path / "big.nii"
    header = nib.Nifti1Header()
    header.set_data_shape((1024, 1024, 1024))
    header.set_data_dtype(np.float32)  # 4 GiB planned; the file holds only the header
    nib.save(nib.Nifti1Image(np.zeros((1, 1, 1), np.float32), np.eye(4)), path)
    raw = bytearray(path.read_bytes())
    raw[40:56] = np.array([3, 1024, 1024, 1024, 1, 1, 1, 1], np.int16).tobytes()
    path.write_bytes(bytes(raw))
    with pytest.raises(VolumeLoadError, match=r"4.0 GiB .* over the limit of 2.0 GiB.*--max-volume-gb"):
        load_volume(path)
    monkeypatch.setenv("ISCM_MAX_VOLUME_GB", "2")  # main() sets it; monkeypatch restores it afterwards
    # raised above the planned size, the file's own size is what refuses it: nothing is allocated
    assert main(["--max-volume-gb", "8", "levels", str(path)]) == 2
    assert "truncated" in capsys.readouterr().err
