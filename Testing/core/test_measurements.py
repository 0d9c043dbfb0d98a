"""Sizes from lines and masks: boxes (axis-aligned, other acquisition planes, oblique), a curved tube."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ISCMAssistLib.levels import LevelModel
from ISCMAssistLib.measurements import MeasurementError, extent_of_points, line_length_mm, mask_measurements
from ISCMAssistLib.volumes import Volume


def vertical_model() -> LevelModel:
    """T4 at S 30, T5 at S 10, T6 at S -10 (20 mm per segment): u(S) = 11 + (30 - S) / 20."""
    points = np.array([[0.0, 0.0, 30.0], [0.0, 0.0, 10.0], [0.0, 0.0, -10.0]])
    return LevelModel.from_landmarks(["T4", "T5", "T6"], points)


def voxel_centres(shape_kji: tuple[int, int, int], affine: np.ndarray) -> np.ndarray:
    """RAS mm of every voxel centre, shape shape_kji + (3,)."""
    k, j, i = np.meshgrid(*(np.arange(n) for n in shape_kji), indexing="ij")
    return np.stack([i, j, k], axis=-1) @ affine[:3, :3].T + affine[:3, 3]


# ---------------------------------------------------------------------------------------------
# Lines and points


def test_line_length():
    assert line_length_mm([1.0, 2.0, 3.0], [4.0, 6.0, 15.0]) == pytest.approx(13.0)
    assert line_length_mm(np.zeros(3), np.zeros(3)) == 0.0


@pytest.mark.parametrize("p0, p1", [([0, 0], [1, 1, 1]), ([0, 0, float("nan")], [1, 1, 1]), (["a", 0, 0], [1, 1, 1])])
def test_line_length_bad_points(p0, p1):
    with pytest.raises(MeasurementError, match="line end points"):
        line_length_mm(p0, p1)


def test_extent_of_points():
    model = vertical_model()
    points = [[5.0, 1.0, 25.0], [0.0, 0.0, 0.0], [3.0, 3.0, 12.0]]
    assert extent_of_points(model, points) == pytest.approx((11.25, 12.5))
    assert extent_of_points(model, [0.0, 0.0, 20.0]) == pytest.approx((11.5, 11.5))
    with pytest.raises(MeasurementError):
        extent_of_points(model, np.zeros((0, 3)))


# ---------------------------------------------------------------------------------------------
# Axis-aligned boxes: exact answers


def test_box_axial_acquisition_lps_like_anisotropic():
    # i -> left 0.5 mm, j -> posterior 0.5 mm, k -> superior 2 mm (an axial stack stored LPS-like).
    affine = np.array([[-0.5, 0, 0, 10.0], [0, -0.5, 0, 20.0], [0, 0, 2.0, -20.0], [0, 0, 0, 1]])
    array = np.zeros((20, 40, 30), dtype=np.uint8)
    array[5:15, 10:26, 4:16] = 1  # 10 slices x 2 mm, 16 x 0.5 mm AP, 12 x 0.5 mm R
    result = mask_measurements(Volume(array, affine), vertical_model())
    assert result.si_mm == pytest.approx(20.0)
    assert result.ap_mm == pytest.approx(8.0)
    assert result.transverse_mm == pytest.approx(6.0)
    # Centres S -10 .. 8, widened by 1 mm: S -11 .. 9 -> u 13.05 .. 12.05.
    assert result.u_min == pytest.approx(12.05)
    assert result.u_max == pytest.approx(13.05)
    assert result.warnings == []


def test_box_sagittal_acquisition_same_answers():
    # i -> anterior 0.8 mm, j -> inferior 0.8 mm, k -> left 1 mm (a sagittal series).
    affine = np.array([[0, 0, -1.0, 10.0], [0.8, 0, 0, -20.0], [0, -0.8, 0, 40.0], [0, 0, 0, 1]])
    array = np.zeros((12, 40, 20), dtype=np.uint8)
    array[3:9, 10:30, 5:15] = 1
    result = mask_measurements(Volume(array, affine), vertical_model())
    assert (result.ap_mm, result.si_mm, result.transverse_mm) == pytest.approx((8.0, 16.0, 6.0))
    # Centres S 32 .. 16.8, widened by 0.4 mm -> u(32.4) = 10.88, u(16.4) = 11.68.
    assert (result.u_min, result.u_max) == pytest.approx((10.88, 11.68))
    without = mask_measurements(Volume(array, affine), None)
    assert (without.ap_mm, without.si_mm, without.transverse_mm) == pytest.approx((8.0, 16.0, 6.0))
    assert without.u_min is None and without.u_max is None


def test_non_binary_mask_counts_every_positive_voxel():
    affine = np.eye(4)
    array = np.zeros((10, 10, 10), dtype=np.int16)
    array[2:7, 3:5, 4:7] = 2
    array[2:7, 5, 4:7] = 7
    array[0, 0, 0] = -1  # not inside
    result = mask_measurements(Volume(array, affine), None)
    assert (result.si_mm, result.ap_mm, result.transverse_mm) == pytest.approx((5.0, 3.0, 3.0))


def test_single_voxel_is_one_voxel_in_every_direction():
    affine = np.diag([0.7, 0.6, 3.0, 1.0])
    array = np.zeros((5, 5, 5), dtype=bool)
    array[2, 2, 2] = True
    result = mask_measurements(Volume(array, affine), vertical_model())
    assert (result.transverse_mm, result.ap_mm, result.si_mm) == pytest.approx((0.7, 0.6, 3.0))
    # Centre S 6, widened by 1.5 mm: u(7.5) = 12.125, u(4.5) = 12.275.
    assert (result.u_min, result.u_max) == pytest.approx((12.125, 12.275))


def test_empty_mask_raises_naming_it():
    volume = Volume(np.zeros((4, 4, 4), dtype=np.uint8), np.eye(4), source="lesion1_mask.nii.gz")
    with pytest.raises(MeasurementError, match=r"lesion1_mask\.nii\.gz.*empty"):
        mask_measurements(volume, None)


def test_far_outside_landmarks_warns_but_measures():
    array = np.zeros((10, 8, 8), dtype=np.uint8)
    array[2:8, 2:6, 2:6] = 1
    far = Volume(array, np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, -100.0], [0, 0, 0, 1]]))
    result = mask_measurements(far, vertical_model())
    # S -98 .. -93 widened: -98.5 .. -92.5 -> u 17.125 .. 17.425, > 2 segments past T6 (u 13).
    assert (result.u_min, result.u_max) == pytest.approx((17.125, 17.425))
    assert result.si_mm == pytest.approx(6.0)
    assert len(result.warnings) == 1 and "extrapolated" in result.warnings[0]
    near = Volume(array, np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, -40.0], [0, 0, 0, 1]]))
    assert mask_measurements(near, vertical_model()).warnings == []  # u <= 14.4: within 2 segments


# ---------------------------------------------------------------------------------------------
# Oblique box: 30 degrees about R; SI 30 mm along the tilted cord, AP 10 mm, transverse 8 mm.

TILT = math.radians(30.0)
CORD_AXIS = np.array([0.0, math.sin(TILT), -math.cos(TILT)])  # caudal, tilted anteriorly
AP_AXIS = np.array([0.0, math.cos(TILT), math.sin(TILT)])


def oblique_box(spacing: float) -> Volume:
    shape = (int(60 / spacing), int(50 / spacing), int(20 / spacing))
    affine = np.diag([spacing, spacing, spacing, 1.0])
    affine[:3, 3] = -(np.array(shape[::-1]) - 1) / 2 * spacing
    centres = voxel_centres(shape, affine)
    # R offset 0.13 mm so that no voxel centre lies on a face: exactly 8 mm / spacing voxels across.
    inside = (
        (np.abs(centres @ CORD_AXIS) < 15.0) & (np.abs(centres @ AP_AXIS) < 5.0) & (np.abs(centres[..., 0] - 0.13) < 4.0)
    )
    return Volume(inside.astype(np.uint8), affine)


def tilted_model() -> LevelModel:
    """T3..T6 every 30 mm along CORD_AXIS from -40 mm: u(s) = 10 + (s + 40) / 30."""
    points = np.array([CORD_AXIS * s for s in (-40.0, -10.0, 20.0, 50.0)])
    return LevelModel.from_landmarks(["T3", "T4", "T5", "T6"], points)


@pytest.mark.parametrize("spacing", [1.0, 0.7])
@pytest.mark.parametrize("with_model", [False, True])
def test_oblique_box_within_a_voxel(spacing, with_model):
    model = tilted_model() if with_model else None
    result = mask_measurements(oblique_box(spacing), model)
    assert result.si_mm == pytest.approx(30.0, abs=spacing)
    assert result.ap_mm == pytest.approx(10.0, abs=spacing)
    assert result.transverse_mm == pytest.approx(8.0, abs=spacing)
    if with_model:
        # Ends s = -15 and +15: u = 10 + 25/30 and 11 + 25/30, to within a voxel (1/30 segment per mm).
        assert result.u_min == pytest.approx(10 + 25 / 30, abs=spacing / 30)
        assert result.u_max == pytest.approx(11 + 25 / 30, abs=spacing / 30)


# ---------------------------------------------------------------------------------------------
# Curved tube: centreline a 60 degree arc of radius 60 mm in the A-S plane, tube radius 3 mm.

ARC_CENTRE = np.array([0.0, -60.0, 0.0])
ARC_RADIUS = 60.0


def arc_point(angle_deg: float) -> np.ndarray:
    angle = math.radians(angle_deg)
    return ARC_CENTRE + ARC_RADIUS * np.array([0.0, math.cos(angle), math.sin(angle)])


def curved_tube(spacing: float, span_deg: float = 60.0) -> Volume:
    n = int(140 / spacing)
    shape = (n, n, int(12 / spacing))
    affine = np.diag([spacing, spacing, spacing, 1.0])
    affine[:3, 3] = [-(shape[2] - 1) / 2 * spacing, -70.0, -70.0]
    rel = voxel_centres(shape, affine) - ARC_CENTRE
    angle = np.degrees(np.arctan2(rel[..., 2], rel[..., 1]))
    distance_to_centreline = np.hypot(np.hypot(rel[..., 1], rel[..., 2]) - ARC_RADIUS, rel[..., 0])
    inside = (np.abs(angle) <= span_deg / 2) & (distance_to_centreline < 3.0)
    return Volume(inside.astype(np.uint8), affine)


def arc_model() -> LevelModel:
    """T3..T9 every 20 degrees from +60 to -60 degrees on the same arc: u(angle) = 10 + (60 - angle) / 20."""
    labels = ["T3", "T4", "T5", "T6", "T7", "T8", "T9"]
    return LevelModel.from_landmarks(labels, np.array([arc_point(60.0 - 20.0 * i) for i in range(7)]))


@pytest.mark.parametrize("spacing", [1.0, 0.8])
def test_curved_tube_length_follows_the_arc(spacing):
    result = mask_measurements(curved_tube(spacing), arc_model())
    arc_mm = ARC_RADIUS * math.radians(60.0)  # 62.83 mm; the chord is only 60 mm
    assert result.si_mm == pytest.approx(arc_mm, abs=spacing)
    # Cross-section of the tube: 6 mm across, to within a voxel (not widened by the bend's 4 mm sagitta).
    # Extreme voxel centres lie within 3 mm of the centreline: AP <= 6 mm + one voxel (+0.1 for smoothing).
    assert 6.0 - spacing <= result.ap_mm <= 6.0 + spacing + 0.1
    assert result.transverse_mm == pytest.approx(6.0, abs=spacing)
    # Ends at +-30 degrees: u 11.5 and 14.5, widened by half a voxel (20.9 mm per segment).
    half_voxel_u = 0.5 * spacing / (2 * ARC_RADIUS * math.sin(math.radians(10.0)))
    assert result.u_min == pytest.approx(11.5 - half_voxel_u, abs=0.01)
    assert result.u_max == pytest.approx(14.5 + half_voxel_u, abs=0.01)
    count = arc_model().count_segments(result.u_min, result.u_max)
    assert (count.text, count.count) == ("T5-T7", 3)  # T4 and T8 are overlapped by 0.02 only


def test_curved_tube_without_model_still_longer_than_chord():
    result = mask_measurements(curved_tube(1.0), None)
    arc_mm = ARC_RADIUS * math.radians(60.0)
    # Straight-axis slabs cut the bent ends obliquely: within 5 % of the arc, clearly above the 60 mm chord.
    assert 61.5 < result.si_mm < arc_mm * 1.05


# ---------------------------------------------------------------------------------------------
# Long S-shaped cord: y = 12 sin(2 pi z / 250) for |z| <= 150 mm, tube radius 3.5 mm, 1 mm voxels.


def s_curve_offset(z: np.ndarray) -> np.ndarray:
    return 12.0 * np.sin(2 * np.pi * z / 250.0)


def s_curve_cord() -> Volume:
    shape = (321, 50, 16)  # k: S, j: A, i: R
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = [-8.0, -24.5, -160.0]  # integer R: 7 voxel centres across
    centres = voxel_centres(shape, affine)
    x, y, z = centres[..., 0], centres[..., 1], centres[..., 2]
    slope = 12.0 * 2 * np.pi / 250.0 * np.cos(2 * np.pi * z / 250.0)
    # Distance to the curve: vertical offset times the cosine of its slope (curvature radius >= 130 mm).
    across = (y - s_curve_offset(z)) / np.sqrt(1.0 + slope**2)
    inside = (np.hypot(across, x) < 3.5) & (np.abs(z) <= 150.0)
    return Volume(inside.astype(np.uint8), affine)


def test_long_s_shaped_cord_length_and_width():
    z = np.linspace(-150.0, 150.0, 30001)
    arc_mm = float(np.sum(np.hypot(np.diff(z), np.diff(s_curve_offset(z)))))  # 307.55 mm
    labels = [f"T{i}" for i in range(1, 13)] + [f"L{i}" for i in range(1, 6)]
    level_z = np.linspace(200.0, -200.0, len(labels))
    model = LevelModel.from_landmarks(labels, np.stack([np.zeros_like(level_z), s_curve_offset(level_z), level_z], axis=1))
    cord = s_curve_cord()
    for level_model in (model, None):
        result = mask_measurements(cord, level_model)
        # Within 1 % (the voxelised ends add up to one voxel); the straight S-I extent is only 300 mm.
        assert result.si_mm == pytest.approx(arc_mm, abs=3.0)
        # 7 mm across (+ one voxel, + centreline jitter), not the 31 mm the S sweeps through.
        assert 7.0 <= result.ap_mm <= 9.0
        assert result.transverse_mm == pytest.approx(7.0)


def test_smoothing_in_blocks_gives_the_same_answer(monkeypatch):
    import ISCMAssistLib.measurements as measurements

    whole = mask_measurements(curved_tube(1.0), arc_model())
    monkeypatch.setattr(measurements, "_SMOOTHING_BLOCK", 7)
    blocks = mask_measurements(curved_tube(1.0), arc_model())
    assert (blocks.si_mm, blocks.ap_mm, blocks.transverse_mm) == pytest.approx((whole.si_mm, whole.ap_mm, whole.transverse_mm))
