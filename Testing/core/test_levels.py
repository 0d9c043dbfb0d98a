"""LevelModel: level coordinate u on straight and curved spines, segment counting, location, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ISCMAssistLib.levels import OVERLAP_TOLERANCE, LevelModel, LevelModelError, SegmentCount
from ISCMAssistLib.volumes import Volume


def straight_model(conus_z: float | None = None) -> LevelModel:
    """T4 centre at S 100, T4/T5 at S 90, T5 at S 80 (20 mm per segment), spine along -S at R 5, A 10."""
    labels = ["T4", "T4/T5", "T5"]
    points = [[5.0, 10.0, 100.0], [5.0, 10.0, 90.0], [5.0, 10.0, 80.0]]
    if conus_z is not None:
        labels.append("conus")
        points.append([5.0, 10.0, conus_z])
    return LevelModel.from_landmarks(labels, np.array(points))


# Circular arc in the sagittal (A-S) plane: centre (0, -150, 0), radius 150 mm; landmark i (u = 10 + i/2)
# at angle 20 - 4 i degrees, so the spine runs down and bends anteriorly like a lordosis.
ARC_CENTRE = np.array([0.0, -150.0, 0.0])
ARC_RADIUS = 150.0


def arc_point(angle_deg: float, radius: float = ARC_RADIUS) -> np.ndarray:
    angle = math.radians(angle_deg)
    return ARC_CENTRE + radius * np.array([0.0, math.cos(angle), math.sin(angle)])


def arc_model() -> LevelModel:
    labels = ["T3", "T3/T4", "T4", "T4/T5", "T5", "T5/T6", "T6"]
    points = np.array([arc_point(20 - 4 * i) for i in range(len(labels))])
    return LevelModel.from_landmarks(labels, points)


# ---------------------------------------------------------------------------------------------
# Straight spine


def test_straight_landmarks_map_to_their_levels():
    model = straight_model()
    assert model.coordinate([5.0, 10.0, 100.0]) == pytest.approx(11.0)
    assert model.coordinate([5.0, 10.0, 90.0]) == pytest.approx(11.5)
    assert model.coordinate([5.0, 10.0, 80.0]) == pytest.approx(12.0)


def test_straight_interpolation_ignores_offsets_across_the_spine():
    model = straight_model()
    # S 95 is half way between T4 (11) and T4/T5 (11.5), wherever it lies across the spine.
    assert model.coordinate([5.0, 10.0, 95.0]) == pytest.approx(11.25)
    assert model.coordinate([-30.0, 40.0, 95.0]) == pytest.approx(11.25)
    assert model.coordinate([0.0, 0.0, 82.5]) == pytest.approx(11.875)


def test_straight_extrapolation_uses_end_spacing():
    model = straight_model()
    assert model.coordinate([5.0, 10.0, 110.0]) == pytest.approx(10.5)  # 10 mm above T4 = half segment
    assert model.coordinate([5.0, 10.0, 60.0]) == pytest.approx(13.0)
    assert model.coordinate([0.0, 0.0, 0.0]) == pytest.approx(16.0)


def test_vectorised_matches_single_points_and_returns_float_for_one():
    model = arc_model()
    rng = np.random.default_rng(1)
    points = arc_point(0.0) + rng.uniform(-40, 40, size=(500, 3))
    many = model.coordinate(points)
    assert many.shape == (500,)
    singles = [model.coordinate(p) for p in points[:20]]
    assert all(isinstance(value, float) for value in singles)
    np.testing.assert_allclose(many[:20], singles)


def test_tangent_of_straight_spine_points_caudally():
    model = straight_model()
    np.testing.assert_allclose(model.tangent([0.0, 0.0, 85.0]), [0.0, 0.0, -1.0])
    assert model.segment_length_mm(11.7) == pytest.approx(20.0)


# ---------------------------------------------------------------------------------------------
# Curved spine: interior landmark planes are radial, so u depends on the angle only.


def arc_u(angle_deg: float) -> float:
    """Hand formula inside an interior interval: d_i = r sin(theta_i - theta) etc. (4 degrees per half segment)."""
    i = math.floor((20 - angle_deg) / 4)
    theta_i = 20 - 4 * i
    a = math.sin(math.radians(theta_i - angle_deg))
    b = math.sin(math.radians(angle_deg - (theta_i - 4)))
    return 10 + i / 2 + 0.5 * a / (a + b)


@pytest.mark.parametrize("angle", [14.0, 11.0, 8.0, 6.5, 3.0])
@pytest.mark.parametrize("radius", [ARC_RADIUS, ARC_RADIUS - 12.0, ARC_RADIUS + 25.0])
def test_curved_spine_follows_the_bend(angle, radius):
    model = arc_model()
    assert model.coordinate(arc_point(angle, radius)) == pytest.approx(arc_u(angle), abs=1e-9)


def test_curved_spine_half_angle_is_half_segment():
    model = arc_model()
    # Half way (in angle) between T4 (12 deg) and T4/T5 (8 deg) at any depth: u = 11.25.
    for radius in (130.0, 150.0, 170.0):
        assert model.coordinate(arc_point(10.0, radius)) == pytest.approx(11.25)


def test_curved_spine_differs_from_projection_on_superior_axis():
    model = arc_model()
    near, far = arc_point(7.0, 130.0), arc_point(7.0, 175.0)
    assert near[2] != pytest.approx(far[2], abs=1.0)  # different S ...
    assert model.coordinate(near) == pytest.approx(model.coordinate(far))  # ... same level


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=3.0, max_value=30.0), min_size=1, max_size=8), st.floats(-200.0, 200.0))
def test_straight_spine_is_monotonic_and_hits_landmarks(spacings, start):
    n = len(spacings) + 1
    z = start - np.concatenate([[0.0], np.cumsum(spacings)])
    labels = [f"T{i}" for i in range(1, n + 1)]
    model = LevelModel.from_landmarks(labels, np.stack([np.zeros(n), np.zeros(n), z], axis=1))
    np.testing.assert_allclose(model.coordinate(np.stack([np.ones(n), -np.ones(n), z], axis=1)), np.arange(8, 8 + n))
    probe = np.linspace(z[0] + 50, z[-1] - 50, 301)
    u = model.coordinate(np.stack([np.zeros_like(probe), np.zeros_like(probe), probe], axis=1))
    assert np.all(np.diff(u) > 0)


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    "labels, points, words",
    [
        (["T4", "T5"], [[0, 0, 80], [0, 0, 100]], ["T4", "T5", "out of order"]),
        (["T5", "T4"], [[0, 0, 100], [0, 0, 80]], ["T4", "T5", "out of order"]),
        (["T4", "T4/T5", "T5"], [[0, 0, 100], [0, 0, 101], [0, 0, 80]], ["T4/T5", "T4", "out of order"]),
        (["T4", "T4"], [[0, 0, 100], [0, 0, 80]], ["duplicate", "T4"]),
        # A disc given twice is a disc line; three times is one too many.
        (["T4/T5", "T4-T5", "T4/T5"], [[0, 0, 100], [0, 0, 80], [0, 0, 90]], ["duplicate", "T4-T5"]),
        (["T4", "conus", "Conus", "T5"], [[0, 0, 100], [0, 0, 0], [0, 0, 1], [0, 0, 80]], ["duplicate", "conus"]),
        (["T4", "X9"], [[0, 0, 100], [0, 0, 80]], ["X9"]),
        (["T4", "T4/T6"], [[0, 0, 100], [0, 0, 80]], ["T4/T6"]),
        (["T4", "conus"], [[0, 0, 100], [0, 0, 80]], ["at least two"]),
        ([], np.zeros((0, 3)), ["at least two"]),
        (["T4", "T5"], [[0, 0, 100], [0, 0, 100]], ["same position", "T4", "T5"]),
        (["T4", "T5"], [[0, 0, 100]], ["one RAS point"]),
        (["T4", "T5"], [[0, 0, 100], [0, 0, float("nan")]], ["T5", "not finite"]),
    ],
)
def test_bad_landmarks_raise_naming_the_problem(labels, points, words):
    with pytest.raises(LevelModelError) as raised:
        LevelModel.from_landmarks(labels, np.array(points, dtype=float))
    assert isinstance(raised.value, ValueError)
    for word in words:
        assert word in str(raised.value)


def test_folded_spine_is_refused():
    # Each step goes down, but the spine turns back at T6 (a landmark clicked 60 mm anterior).
    points = [[0, 0, 100], [0, 0, 80], [0, 60, 79], [0, 0, 78]]
    with pytest.raises(LevelModelError, match="out of order.*'T6'"):
        LevelModel.from_landmarks(["T4", "T5", "T6", "T7"], np.array(points, dtype=float))


# ---------------------------------------------------------------------------------------------
# Counting rule


@pytest.mark.parametrize(
    "u_min, u_max, first, last, text",
    [
        (11.2, 11.3, 11, 11, "T4"),  # inside one body
        (10.5, 11.5, 11, 11, "T4"),  # exactly one body, disc to disc
        (11.29, 12.2, 11, 12, "T4-T5"),  # overlaps T4 by 0.21 > tolerance
        (11.31, 12.2, 12, 12, "T5"),  # overlaps T4 by 0.19 < tolerance
        (11.30, 12.2, 12, 12, "T5"),  # exactly the tolerance does not count
        (11.8, 12.69, 12, 12, "T5"),  # 0.19 into T6
        (11.8, 12.71, 12, 13, "T5-T6"),  # 0.21 into T6
        (12.2, 11.29, 11, 12, "T4-T5"),  # ends in either order
        (10.6, 15.4, 11, 15, "T4-T8"),
        (11.45, 11.52, 11, 11, "T4"),  # tiny, straddling a disc: midpoint 11.485 is in T4
        (11.48, 11.56, 12, 12, "T5"),  # tiny: midpoint 11.52 is in T5
        (6.8, 8.3, 7, 8, "C7-T1"),
        (0.45, 1.2, 1, 1, "C1"),  # above C1 is clipped
    ],
)
def test_count_segments(u_min, u_max, first, last, text):
    count = straight_model().count_segments(u_min, u_max)
    assert count == SegmentCount(first, last, last - first + 1, text)


def test_tolerance_constant():
    assert OVERLAP_TOLERANCE == 0.2  # README and docs/core-api.md state it; benchmarks/real_counts.py justifies it


@pytest.mark.parametrize("u_min, u_max", [(-3.0, -1.0), (27.0, 28.0), (float("nan"), 3.0)])
def test_count_segments_outside_spine_raises(u_min, u_max):
    with pytest.raises(LevelModelError):
        straight_model().count_segments(u_min, u_max)


@pytest.mark.parametrize(
    "u_min, u_max, expected",
    [
        (3.0, 4.0, "cervical"),
        (6.95, 7.55, "cervical"),  # 0.05 into T1 does not count
        (7.46, 7.52, "cervical"),  # tiny across C7/T1: midpoint 7.49 is cervical
        (6.8, 8.3, "cervicothoracic"),
        (10.0, 12.0, "thoracic"),
        # No conus landmark: the tip is taken at the L1/L2 disc (u 20.5), region [18.5, 20.5] = T12-L1.
        (17.8, 18.55, "thoracic"),  # 0.05 into the T12-L1 conus region
        (17.8, 19.0, "thoracic_conus"),
        (19.0, 20.0, "conus"),
        (18.5, 20.5, "conus"),  # the same region as a conus tip placed at L1/L2
        (23.0, 24.0, "conus"),  # below the conus region
        (3.0, 21.0, "cervicothoracic"),  # holocord: documented choice
    ],
)
def test_location_without_conus_landmark(u_min, u_max, expected):
    model = straight_model()
    assert model.conus_u is None
    assert model.location(u_min, u_max) == expected


@pytest.mark.parametrize(
    "u_min, u_max, expected",
    [
        (17.5, 18.5, "conus"),  # conus tip at u = 19: region [17, 19]
        (16.95, 17.8, "conus"),  # 0.05 above the region does not count
        (16.0, 17.5, "thoracic_conus"),
        (15.0, 16.5, "thoracic"),
        (19.5, 21.0, "conus"),  # below the tip
    ],
)
def test_location_with_conus_landmark(u_min, u_max, expected):
    # T4 at S 100 and 20 mm per segment, so u = 19 (T12 centre) lies at S 100 - 8 * 20 = -60.
    model = straight_model(conus_z=-60.0)
    assert model.conus_u == pytest.approx(19.0)
    assert model.location(u_min, u_max) == expected
    # Without the landmark the same extents read against T12-L1 (tip assumed at L1/L2) instead.
    assert straight_model().location(16.0, 17.5) == "thoracic"


def test_landmarks_property_lists_conus_last():
    model = LevelModel.from_landmarks(
        ["conus", "T5", "T4"], np.array([[0.0, 0.0, -60.0], [0.0, 0.0, 80.0], [0.0, 0.0, 100.0]])
    )
    labels = [label for label, _ in model.landmarks]
    assert labels == ["T4", "T5", "conus"]
    np.testing.assert_allclose(model.landmarks[0][1], [0.0, 0.0, 100.0])
    assert model.u_range == (11.0, 12.0)


# ---------------------------------------------------------------------------------------------
# Label maps


def slab_label_map(cut_ends: bool = False) -> Volume:
    """Levels 11 (k 20-29), 12 (k 10-19), 13 (k 0-9) in a 4x4 cord; 2 mm slices, S = 2 k - 10.

    With ``cut_ends`` the volume ends at T4's top and T6's bottom slice (the field of view cuts
    them); else one empty slice lies beyond each end.
    """
    array = np.zeros((30, 6, 6), dtype=np.uint8)
    array[20:30, 1:5, 1:5] = 11
    array[10:20, 1:5, 1:5] = 12
    array[0:10, 1:5, 1:5] = 13
    affine = np.array([[-1.0, 0, 0, 3.0], [0, -1.0, 0, 7.0], [0, 0, 2.0, -10.0], [0, 0, 0, 1]])
    if cut_ends:
        return Volume(array, affine)
    affine[2, 3] -= 2.0  # the padded array's k = 1 is the old k = 0
    return Volume(np.pad(array, ((1, 1), (0, 0), (0, 0))), affine)


def test_from_label_map_bodies_and_exact_disc_boundaries():
    model = LevelModel.from_label_map(slab_label_map())
    landmarks = dict(model.landmarks)
    assert list(landmarks) == ["T4", "T4/T5", "T5", "T5/T6", "T6"]
    # Centroid i = j = 2.5 -> R 3 - 2.5 = 0.5, A 7 - 2.5 = 4.5; T4 centroid k = 24.5 -> S 39.
    np.testing.assert_allclose(landmarks["T4"], [0.5, 4.5, 39.0])
    np.testing.assert_allclose(landmarks["T4/T5"], [0.5, 4.5, 29.0])  # k 19 and 20 -> 19.5
    np.testing.assert_allclose(landmarks["T5/T6"], [0.5, 4.5, 9.0])  # k 9 and 10 -> 9.5
    np.testing.assert_allclose(landmarks["T6"], [0.5, 4.5, -1.0])  # k 4.5
    # The boundary between the slices of T4 and T5 (k 19.5) maps to the disc.
    assert model.coordinate([0.0, 0.0, 29.0]) == pytest.approx(11.5)
    assert model.coordinate([9.0, -9.0, 19.0]) == pytest.approx(12.0)  # T5 centroid k 14.5
    assert model.coordinate([0.0, 0.0, 24.0]) == pytest.approx(11.75)


def test_from_label_map_float_labels_accepted():
    volume = slab_label_map()
    model = LevelModel.from_label_map(Volume(volume.array.astype(np.float32), volume.ijk_to_ras))
    assert [label for label, _ in model.landmarks][0] == "T4"


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda a: np.where(a == 12, 0, np.where(a == 13, 0, a)), ["1 level"]),
        (lambda a: a.astype(float) * 1.5, ["whole level numbers"]),
        (lambda a: np.where(a == 13, 30, a), ["0 (background)"]),
        (lambda a: a[::-1].copy(), ["out of order"]),  # T4 below T6
    ],
)
def test_from_label_map_errors(change, words):
    volume = slab_label_map()
    with pytest.raises(LevelModelError) as raised:
        LevelModel.from_label_map(Volume(change(volume.array), volume.ijk_to_ras))
    for word in words:
        assert word in str(raised.value)


def test_few_and_many_point_paths_agree_far_from_a_curved_spine():
    model = arc_model()
    rng = np.random.default_rng(7)
    points = arc_point(8.0) + rng.uniform(-300, 300, size=(2000, 3))
    many = model.coordinate(points)
    few = np.concatenate([model.coordinate(points[i : i + 2]) for i in range(0, 2000, 2)])
    np.testing.assert_allclose(many, few)
