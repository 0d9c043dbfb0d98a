"""The synthetic spine phantom: geometry, landmarks, contrasts and lesion ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from ISCMAssistLib.phantom import BODY_HEIGHT_MM, DISC_HEIGHT_MM, PhantomError, make_spine_phantom
from ISCMAssistLib.vertebrae import landmark_coordinate


@pytest.fixture(scope="module")
def thoracic():
    return make_spine_phantom()


def _value(volume, ras) -> float:
    i, j, k = np.round(volume.ras_to_voxel(ras)).astype(int)
    return float(volume.array[k, j, i])


def test_sagittal_geometry(thoracic):
    t2 = thoracic.t2
    directions = t2.directions
    # columns run A->P, rows S->I, slices R-L: DICOM IOP [0,1,0, 0,0,-1] in LPS.
    np.testing.assert_allclose(directions[:, 0], [0, -1, 0])
    np.testing.assert_allclose(directions[:, 1], [0, 0, -1])
    np.testing.assert_allclose(np.abs(directions[:, 2]), [1, 0, 0])
    np.testing.assert_allclose(t2.spacing_mm, [0.9, 0.9, 3.0])
    assert 15 <= t2.array.shape[0] <= 21
    np.testing.assert_array_equal(thoracic.t1_post.ijk_to_ras, t2.ijk_to_ras)
    assert thoracic.t1_post.array.shape == t2.array.shape
    assert t2.array.nbytes < 10e6


def test_thoracic_landmarks_in_order_with_textbook_spacing(thoracic):
    labels = list(thoracic.landmarks)
    assert labels[0] == "C7" and labels[-1] == "L1"
    assert "conus" not in labels  # the conus lies below the middle of L1
    u = [landmark_coordinate(label) for label in labels]
    assert u == sorted(u) and np.allclose(np.diff(u), 0.5)
    z = np.array([thoracic.landmarks[label][2] for label in labels])
    assert np.all(np.diff(z) < 0)
    # Straight spine: T4 centre to T5 centre = half T4 + disc T4/T5 + half T5 = 9.5 + 5 + 9.75.
    distance = np.linalg.norm(thoracic.landmarks["T4"] - thoracic.landmarks["T5"])
    assert distance == pytest.approx(BODY_HEIGHT_MM[11] / 2 + DISC_HEIGHT_MM[11] + BODY_HEIGHT_MM[12] / 2, abs=1e-6)
    assert distance == pytest.approx(24.25)
    ys = np.array([p[1] for p in thoracic.landmarks.values()])
    np.testing.assert_allclose(ys, 0.0, atol=1e-9)


def test_t2_contrasts(thoracic):
    t2 = thoracic.t2
    disc = _value(t2, thoracic.landmarks["T6/T7"])
    body = _value(t2, thoracic.landmarks["T7"])
    cord = _value(t2, thoracic.cord_centreline(thoracic.u_to_s(17.0)))  # T10, far from the edema
    assert disc > 700 and 250 < body < 500 and disc > body + 300
    assert 300 < cord < 600
    # CSF ring 4.5-5 mm anterior/posterior to the cord centre is bright.
    csf = _value(t2, thoracic.cord_centreline(thoracic.u_to_s(17.0)) + [0.0, 6.0, 0.0])
    assert csf > 850


def test_lesion_ground_truth_and_signal(thoracic):
    lesion = thoracic.lesion
    assert lesion.levels == "T4-T5" and lesion.segments == 2
    assert lesion.edema_levels == "T3-T7" and lesion.edema_segments == 5
    assert lesion.location == "thoracic"
    assert lesion.size_mm == {"ap": 6.0, "transverse": 7.0, "si": 17.0}
    assert 11.0 < lesion.nodule_u[0] < 11.5 < lesion.nodule_u[1] < 12.0
    t1 = thoracic.t1_post
    assert _value(t1, lesion.nodule_center_ras + [0, 0, 6.0]) > 850  # enhancing rim
    # SI extent of the enhancement on the mid slice along the nodule's column: 17 mm +- 2 voxels.
    i, j, k = np.round(t1.ras_to_voxel(lesion.nodule_center_ras)).astype(int)
    column = t1.array[k, :, i]
    rows = np.nonzero(column > 700)[0]
    rows = rows[np.abs(rows - j) < 30]
    assert (rows.max() - rows.min() + 1) * 0.9 == pytest.approx(17.0, abs=1.8)
    # Edema: T2 bright inside the cord between the nodule and the edema ends; normal cord beyond.
    t2 = thoracic.t2
    s_end = thoracic.u_to_s(lesion.edema_u[1])
    assert _value(t2, thoracic.cord_centreline(s_end - 8.0)) > 650
    assert _value(t2, thoracic.cord_centreline(s_end + 8.0)) < 600
    assert lesion.edema_length_mm == pytest.approx(
        thoracic.u_to_s(lesion.edema_u[1]) - thoracic.u_to_s(lesion.edema_u[0]))


def test_lumbar_has_conus_and_sacrum():
    phantom = make_spine_phantom("lumbar", lesion=False, noise=0.0)
    assert phantom.lesion is None
    labels = list(phantom.landmarks)
    assert labels[-2:] == ["S1", "conus"] and "L5/S1" in labels
    # The conus tip lies between L1 and L2 bodies; below it no cord, only CSF.
    conus = phantom.landmarks["conus"]
    assert phantom.landmarks["L2"][2] < conus[2] < phantom.landmarks["L1"][2]


def test_cervical_starts_at_c2():
    phantom = make_spine_phantom("cervical", lesion=True)
    labels = list(phantom.landmarks)
    assert labels[:2] == ["C2", "C2/C3"] and labels[-1] == "T2"
    assert phantom.lesion.levels == "C4-C5" and phantom.lesion.location == "cervical"


def test_curvature_bows_the_axis():
    phantom = make_spine_phantom("thoracic", curvature_mm=20.0, lesion=False)
    ys = np.array([p[1] for p in phantom.landmarks.values()])
    assert ys.max() == pytest.approx(20.0, abs=1.0)   # mid field of view, anterior bow
    assert ys[0] < 5.0 and ys[-1] < 5.0


def test_deterministic_and_noise_seeded():
    a = make_spine_phantom("cervical", seed=3)
    b = make_spine_phantom("cervical", seed=3)
    c = make_spine_phantom("cervical", seed=4)
    np.testing.assert_array_equal(a.t2.array, b.t2.array)
    assert not np.array_equal(a.t2.array, c.t2.array)


def test_custom_spacing():
    phantom = make_spine_phantom("thoracic", spacing=(1.0, 1.2, 4.0), lesion=False)
    np.testing.assert_allclose(phantom.t2.spacing_mm, [1.0, 1.2, 4.0])


@pytest.mark.parametrize("kwargs, field", [
    ({"region": "sacral"}, "region"),
    ({"spacing": (0.0, 1.0, 3.0)}, "spacing"),
    ({"noise": -0.1}, "noise"),
])
def test_bad_requests_name_the_field(kwargs, field):
    with pytest.raises(PhantomError, match=field):
        make_spine_phantom(**kwargs)


def test_lesion_counts_with_level_model(thoracic):
    levels = pytest.importorskip("ISCMAssistLib.levels")
    labels = [label for label in thoracic.landmarks]
    points = np.array([thoracic.landmarks[label] for label in labels])
    model = levels.LevelModel.from_landmarks(labels, points)
    lesion = thoracic.lesion
    top = lesion.nodule_center_ras + [0, 0, lesion.size_mm["si"] / 2]
    bottom = lesion.nodule_center_ras - [0, 0, lesion.size_mm["si"] / 2]
    u = model.coordinate(np.array([top, bottom]))
    count = model.count_segments(float(u.min()), float(u.max()))
    assert count.text == "T4-T5" and count.count == 2
    u_edema = model.coordinate(lesion.edema_ends_ras)
    assert model.count_segments(float(u_edema.min()), float(u_edema.max())).count == 5


def test_write_dicom_round_trip(thoracic, tmp_path):
    from ISCMAssistLib.images import load_volume

    paths = thoracic.write_dicom(tmp_path)
    assert len(paths["t2_sagittal"]) == thoracic.t2.array.shape[0]
    loaded = load_volume(tmp_path / "t2")
    np.testing.assert_allclose(loaded.ijk_to_ras[:3, 3], thoracic.t2.ijk_to_ras[:3, 3], atol=1e-3)
    np.testing.assert_allclose(loaded.array, thoracic.t2.array, atol=0.5)
