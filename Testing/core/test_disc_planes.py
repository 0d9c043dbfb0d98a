"""Disc planes that follow each disc's tilt: disc lines, label maps (cut, touching), the image."""

from __future__ import annotations

import numpy as np
import pytest

from ISCMAssistLib.disc_planes import normal_from_image, normal_from_line, plane_between, tilt_deg
from ISCMAssistLib.levels import LevelModel
from ISCMAssistLib.measurements import mask_measurements
from ISCMAssistLib.volumes import Volume

TILT_DEG = 20.0
SEGMENT_MM = 36.0
CANAL_DEPTH_MM = 30.0  # the canal lies this far behind the disc centres (A < 0 is posterior)


def tilted_normal(tilt_deg_value: float = TILT_DEG) -> np.ndarray:
    """Caudal unit normal of a disc tilted about the R axis: its posterior edge higher (lordosis)."""
    angle = np.radians(tilt_deg_value)
    return np.array([0.0, np.sin(angle), -np.cos(angle)])


def disc_centre(index: int) -> np.ndarray:
    """Centre of disc T(10+index)/T(11+index) on a straight spine along -S, one every 36 mm."""
    return np.array([0.0, 0.0, -SEGMENT_MM * index])


LABELS = ["L1/L2", "L2/L3", "L3/L4", "L4/L5"]  # u 20.5 .. 23.5


def disc_line(index: int, half_depth: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    """Anterior and posterior margins of disc ``index`` drawn along its tilted plane."""
    normal = tilted_normal()
    along = np.cross([1.0, 0.0, 0.0], normal)  # in the disc plane, sagittal
    along = along if along[1] > 0 else -along  # towards anterior
    centre = disc_centre(index)
    return centre + half_depth * along, centre - half_depth * along


def on_disc_plane_in_canal(index: int) -> np.ndarray:
    """A point in the canal (30 mm behind the disc centre) on the disc's own tilted plane."""
    anterior, posterior = disc_line(index)
    direction = (posterior - anterior) / np.linalg.norm(posterior - anterior)
    return disc_centre(index) + CANAL_DEPTH_MM * direction


def test_disc_line_sets_the_plane_and_points_alone_say_what_is_assumed():
    points = np.array([disc_centre(i) for i in range(4)])
    perpendicular = LevelModel.from_landmarks(LABELS, points)
    assert any("assumed perpendicular" in note and "L1/L2" in note for note in perpendicular.plane_notes)
    line_labels = [label for label in LABELS for _ in range(2)]
    line_points = np.array([end for i in range(4) for end in disc_line(i)])
    by_lines = LevelModel.from_landmarks(line_labels, line_points)
    assert by_lines.plane_notes == []
    assert [source for *_, source in by_lines.disc_planes] == ["line"] * 4
    canal_point = on_disc_plane_in_canal(1)
    assert by_lines.coordinate(canal_point) == pytest.approx(21.5, abs=1e-9)
    # Perpendicular planes put the same point 30 mm x sin(20 deg) = 10 mm, 0.28 segment, off.
    assert abs(perpendicular.coordinate(canal_point) - 21.5) > 0.25


def test_normal_from_line_holds_the_line_and_the_left_right_axis():
    anterior, posterior = disc_line(0)
    normal = normal_from_line(anterior, posterior, np.array([0.0, 0.0, -1.0]))
    np.testing.assert_allclose(normal, tilted_normal(), atol=1e-12)
    with pytest.raises(ValueError, match="same position"):
        normal_from_line(anterior, anterior, np.array([0.0, 0.0, -1.0]))


def layered_volume(tilt: float = TILT_DEG) -> Volume:
    """A synthetic spine on a 1 mm grid (array [k, j, i] = [S, A, R]): dark bodies and bright 8 mm
    discs every 36 mm, tilted by ``tilt`` degrees, with a bright canal 22-34 mm behind the disc centres."""
    s, a, r = np.meshgrid(np.arange(-130, 31.0), np.arange(-60, 61.0), np.arange(-20, 21.0), indexing="ij")
    normal = tilted_normal(tilt)
    height = r * normal[0] + a * normal[1] + s * normal[2]  # along the disc normal, caudal positive
    image = np.where(np.mod(height + 4.0, SEGMENT_MM) < 8.0, 200.0, 60.0)
    image = np.where((a < -22) & (a > -34), 250.0, image)
    image = np.where(np.abs(a) > 40, 10.0, image)
    affine = np.array([[1.0, 0, 0, -20.0], [0, 1.0, 0, -60.0], [0, 0, 1.0, -130.0], [0, 0, 0, 1]])
    return Volume(image.astype(np.float32), affine)


def test_normal_from_image_follows_tilted_discs():
    volume = layered_volume()
    for index in range(4):
        normal = normal_from_image(volume, disc_centre(index), np.array([0.0, 0.0, -1.0]))
        assert normal is not None
        assert tilt_deg(normal, tilted_normal()) < 2.0


def test_normal_from_image_refuses_a_flat_image():
    volume = Volume(np.full((20, 20, 20), 7.0, dtype=np.float32), np.diag([1.0, 1.0, 1.0, 1.0]))
    assert normal_from_image(volume, np.array([10.0, 10.0, 10.0]), np.array([0.0, 0.0, -1.0])) is None


def test_mask_bounded_by_tilted_discs_counts_two_with_image_planes():
    volume = layered_volume()
    points = np.array([disc_centre(i) for i in range(4)])
    perpendicular = LevelModel.from_landmarks(LABELS, points)
    from_image = perpendicular.with_image_planes(volume)
    assert [source for label, *_, source in from_image.disc_planes] == ["image"] * 4
    # A canal lesion from the L2/L3 to the L3/L4 disc planes extended back: L3 only, one segment... and
    # from L2/L3 to L4/L5: L3-L4.
    k, j, i = np.indices(volume.array.shape)
    ras = volume.voxel_to_ras(np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1).astype(float))
    height = ras @ tilted_normal()
    canal = (ras[:, 1] < -22) & (ras[:, 1] > -34) & (np.abs(ras[:, 0]) < 6)
    top, bottom = disc_centre(1) @ tilted_normal(), disc_centre(3) @ tilted_normal()
    mask = (canal & (height > top) & (height < bottom)).reshape(volume.array.shape)
    mask_volume = Volume(mask.astype(np.uint8), volume.ijk_to_ras)
    right = from_image.count_segments(*_extent(mask_volume, from_image))
    wrong = perpendicular.count_segments(*_extent(mask_volume, perpendicular))
    assert (right.count, right.text) == (2, "L3-L4")
    assert wrong.count == 3  # the bug this fixes: perpendicular planes reach into L2 or L5


def _extent(mask: Volume, model: LevelModel) -> tuple[float, float]:
    result = mask_measurements(mask, model)
    return result.u_min, result.u_max


def body_masks(gap_mm: int, tilt: float = 10.0) -> Volume:
    """L1-L3 vertebral-body masks 28 mm high separated by ``gap_mm`` (0: touching), endplates tilted."""
    k, j, i = np.indices((30, 50, 120))  # array [k, j, i] = [R, A, S downwards]
    r, a, s = k - 15.0, j - 25.0, -(i.astype(float))
    height = a * np.sin(np.radians(tilt)) - s * np.cos(np.radians(tilt))  # caudal positive
    period = 28 + gap_mm
    level = np.floor((height - 5.0) / period).astype(int)
    within = np.mod(height - 5.0, period) < 28
    inside = (np.abs(r) < 12) & (np.abs(a) < 18) & within & (level >= 0) & (level < 3)
    labels = np.where(inside, 20 + level, 0).astype(np.uint8)
    affine = np.array([[0, 0, 1.0, -15.0], [0, 1.0, 0, -25.0], [-1.0, 0, 0, 0.0], [0, 0, 0, 1]])
    return Volume(labels, affine)


@pytest.mark.parametrize("gap_mm", [0, 6])
def test_touching_or_separate_body_masks_give_tilted_disc_planes(gap_mm):
    volume = body_masks(gap_mm)
    model = LevelModel.from_label_map(volume)
    planes = {label: (centre, normal, source) for label, centre, normal, source in model.disc_planes}
    assert list(planes) == ["L1", "L1/L2", "L2", "L2/L3", "L3"]
    for disc in ("L1/L2", "L2/L3"):
        centre, normal, source = planes[disc]
        assert source == "label_map"
        assert tilt_deg(normal, np.array([0.0, np.sin(np.radians(10.0)), -np.cos(np.radians(10.0))])) < 2.0


def test_cut_end_levels_give_discs_only():
    from test_levels import slab_label_map

    model = LevelModel.from_label_map(slab_label_map(cut_ends=True))
    assert [label for label, _ in model.landmarks] == ["T4/T5", "T5", "T5/T6"]
    assert any("T4, T6 cut by the field of view" in note for note in model.plane_notes)
    # A mask covering exactly the labelled T5 counts T5 alone.
    volume = slab_label_map(cut_ends=True)
    mask = Volume((volume.array == 12).astype(np.uint8), volume.ijk_to_ras)
    result = mask_measurements(mask, model)
    span = model.count_segments(result.u_min, result.u_max)
    assert (span.count, span.text) == (1, "T5")


def test_plane_between_needs_facing_surfaces():
    upper = np.array([[0.0, 0.0, 10.0]])
    lower = np.array([[0.0, 0.0, 0.0]])
    assert plane_between(upper, lower) is None
