"""Our DICOM/NIfTI geometry against Slicer's own readers (slicer-core): same IJKToRAS, same voxels."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core (real MRML) is not installed")
vtk = pytest.importorskip("vtk")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))  # the shared DICOM factory

from dicom_factory import AXIAL_IOP, SAGITTAL_IOP, lps_geometry, oblique_iop, ramp_volume, shuffle_names, write_series  # noqa: E402
from ISCMAssistLib.dicom_frames import slice_order  # noqa: E402
from ISCMAssistLib.images import load_volume  # noqa: E402


def _matrix(vtk_matrix) -> np.ndarray:
    return np.array([[vtk_matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def _node_array(node) -> np.ndarray:
    from vtk.util import numpy_support

    image = node.GetImageData()
    i, j, k = image.GetDimensions()
    return numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(k, j, i)


def _slicer_volume(context, files: list[Path]):
    """Load ``files`` with vtkSlicerVolumesLogic.AddArchetypeVolume (Slicer's archetype/ITK reader).

    That reader trusts the order of the list it is given (Slicer's DICOM module sorts the files before),
    so ``files`` must come in slice order; our loader sorts by itself.
    """
    names = vtk.vtkStringArray()
    for file in files:
        names.InsertNextValue(str(file))
    node = context.logics["Volumes"].AddArchetypeVolume(str(files[0]), "series", 0, names)
    assert node is not None, "Slicer could not read the series"
    ijk_to_ras = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(ijk_to_ras)
    return _matrix(ijk_to_ras), _node_array(node)


CASES = {
    "sagittal": (SAGITTAL_IOP, (10.0, -50.0, 100.0), (0.8, 0.6, 3.0)),
    "axial": (AXIAL_IOP, (-120.0, -100.0, -300.0), (0.7, 0.7, 4.0)),
    "oblique": (oblique_iop(18.0, axis=(0.3, 1.0, 0.2)), (5.5, -20.25, 60.0), (0.9, 0.75, 2.5)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_dicom_geometry_matches_slicer(context, tmp_path, case):
    array = ramp_volume((5, 12, 9)).astype(np.uint16)  # rows (12) != columns (9)
    files = write_series(tmp_path / case, array, CASES[case])
    ours = load_volume(tmp_path / case)
    theirs_matrix, theirs_array = _slicer_volume(context, files)
    np.testing.assert_allclose(ours.ijk_to_ras, theirs_matrix, atol=1e-4)
    np.testing.assert_array_equal(ours.array, theirs_array)


def test_descending_shuffled_series_matches_slicer(context, tmp_path):
    geometry = lps_geometry(SAGITTAL_IOP, (10.0, -50.0, 100.0), (0.8, 0.6, 3.0))
    geometry[:3, 2] *= -1.0  # written against the normal
    files = shuffle_names(write_series(tmp_path / "d", ramp_volume((6, 10, 8)), geometry), seed=5)
    assert files != sorted(files)  # name order says nothing; the files come back in written (descending) order
    ours = load_volume(tmp_path / "d")
    theirs_matrix, theirs_array = _slicer_volume(context, files)
    np.testing.assert_allclose(ours.ijk_to_ras, theirs_matrix, atol=1e-4)
    np.testing.assert_array_equal(ours.array, theirs_array)


def test_slice_order_feeds_slicer_a_shuffled_series(context, tmp_path):
    # PACS exports name files by UID: name order says nothing. Slicer's reader needs them in slice order.
    files = shuffle_names(write_series(tmp_path / "u", ramp_volume((6, 10, 8)), CASES["oblique"]), seed=11)
    ordered = slice_order(sorted(files)).files
    assert ordered == files  # written (ascending) order recovered from the headers alone
    theirs_matrix, theirs_array = _slicer_volume(context, ordered)
    ours = load_volume(tmp_path / "u")
    np.testing.assert_allclose(ours.ijk_to_ras, theirs_matrix, atol=1e-4)
    np.testing.assert_array_equal(ours.array, theirs_array)


def test_vtkitk_scalar_reader_agrees(tmp_path):
    files = write_series(tmp_path / "s", ramp_volume((4, 7, 6)), CASES["oblique"])
    reader = slicer.vtkITKArchetypeImageSeriesScalarReader()
    reader.SetArchetype(str(files[0]))
    for file in files:
        reader.AddFileName(str(file))
    reader.SetSingleFile(0)
    reader.SetOutputScalarTypeToNative()
    reader.SetDesiredCoordinateOrientationToNative()
    reader.SetUseNativeOriginOn()
    reader.Update()
    ijk_to_ras = np.linalg.inv(_matrix(reader.GetRasToIjkMatrix()))
    ours = load_volume(tmp_path / "s")
    np.testing.assert_allclose(ijk_to_ras, ours.ijk_to_ras, atol=1e-4)
    from vtk.util import numpy_support

    image = reader.GetOutput()
    i, j, k = image.GetDimensions()
    np.testing.assert_array_equal(numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(k, j, i), ours.array)


def test_nifti_geometry_matches_slicer(context, shared_data):
    path = shared_data / "pam50_small" / "PAM50_small_t2.nii.gz"
    ours = load_volume(path)
    node = context.logics["Volumes"].AddArchetypeVolume(str(path), "pam50", 0, None)
    assert node is not None
    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    theirs = _matrix(matrix)
    # PAM50's affine is left-handed (det < 0); Slicer's reader flips k to keep IJK right-handed. The same
    # voxels at the same RAS points: ours (i, j, k) is theirs (i, j, K-1-k).
    n_k = ours.array.shape[0]
    flip = np.diag([1.0, 1.0, -1.0, 1.0])
    flip[2, 3] = n_k - 1
    np.testing.assert_allclose(ours.ijk_to_ras, theirs @ flip, atol=1e-4)
    np.testing.assert_allclose(ours.array, _node_array(node)[::-1])
