"""Levels on the real PAM50 template (../shared/data/pam50_small): label map -> model, counts, discs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ISCMAssistLib.levels import LevelModel
from ISCMAssistLib.measurements import mask_measurements
from ISCMAssistLib.vertebrae import disc_name
from ISCMAssistLib.volumes import Volume

try:
    from ISCMAssistLib.images import load_volume
except ImportError:  # volumes.py without its loader yet: read the NIfTI directly (RAS, [k, j, i])
    load_volume = None


def load(path: Path) -> Volume:
    if load_volume is not None:
        return load_volume(path)
    import nibabel as nib

    image = nib.load(str(path))
    return Volume(np.asarray(image.dataobj).transpose(2, 1, 0), image.affine)


@pytest.fixture(scope="module")
def levels_volume(shared_data) -> Volume:
    return load(shared_data / "pam50_small" / "PAM50_small_levels.nii.gz")


@pytest.fixture(scope="module")
def model(levels_volume) -> LevelModel:
    return LevelModel.from_label_map(levels_volume)


def mask_of(levels_volume: Volume, levels: list[int]) -> Volume:
    return Volume(np.isin(levels_volume.array, levels).astype(np.uint8), levels_volume.ijk_to_ras)


def test_label_map_gives_every_body_and_disc(model):
    labels = [label for label, _ in model.landmarks]
    # PAM50_small_levels holds C1 (1) to L1 (20): 20 bodies and the 19 discs between them.
    assert len(labels) == 39
    assert labels[:3] == ["C1", "C1/C2", "C2"]
    assert labels[-3:] == ["T12", "T12/L1", "L1"]
    points = np.array([point for _, point in model.landmarks])
    assert np.all(np.diff(points[:, 2]) < 0)  # cranio-caudal


@pytest.mark.parametrize(
    "levels, count, text, location",
    [
        ([3, 4], 2, "C3-C4", "cervical"),
        ([8, 9, 10, 11, 12], 5, "T1-T5", "thoracic"),
        ([10], 1, "T3", "thoracic"),
        ([5], 1, "C5", "cervical"),
        ([7, 8], 2, "C7-T1", "cervicothoracic"),
        ([17, 18, 19], 3, "T10-T12", "thoracic_conus"),  # no conus landmark: T12-L1 is the conus region
    ],
)
def test_cord_mask_counts(levels_volume, model, levels, count, text, location):
    result = mask_measurements(mask_of(levels_volume, levels), model)
    segments = model.count_segments(result.u_min, result.u_max)
    assert (segments.count, segments.text) == (count, text)
    assert segments.first == levels[0] and segments.last == levels[-1]
    assert model.location(result.u_min, result.u_max) == location
    # The mask reaches (to within a fifth of a segment) the discs above and below its levels.
    assert result.u_min == pytest.approx(levels[0] - 0.5, abs=0.2)
    assert result.u_max == pytest.approx(levels[-1] + 0.5, abs=0.2)
    assert result.warnings == []


def test_cord_mask_si_length_matches_slices(levels_volume, model):
    # Levels 8-12 occupy slices k 126..184 (59 slices of 2 mm) of a straight template cord: 118 mm.
    result = mask_measurements(mask_of(levels_volume, [8, 9, 10, 11, 12]), model)
    assert result.si_mm == pytest.approx(118.0, abs=2.0)


def test_discs_agree_with_disc_label_file(shared_data, levels_volume, model):
    discs = load(shared_data / "pam50_small" / "PAM50_small_label_disc.nii.gz")
    np.testing.assert_allclose(discs.ijk_to_ras, levels_volume.ijk_to_ras)
    landmarks = dict(model.landmarks)
    kji = np.argwhere(discs.array > 0)
    values = discs.array[tuple(kji.T)].astype(int)
    assert len(values) >= 15
    for value, voxel in zip(values, kji):
        # Spinal Cord Toolbox: value = the vertebra below the disc, so 3 is C2/C3 (u = 2.5).
        point = discs.voxel_to_ras(voxel[::-1].astype(float))
        ours = landmarks[disc_name(value - 1)]
        along = float(model.tangent(ours) @ (point - ours))
        assert abs(along) <= 3.0, f"{disc_name(value - 1)}: {along:.1f} mm along the spine"
        assert model.coordinate(point) == pytest.approx(value - 0.5, abs=0.25)
