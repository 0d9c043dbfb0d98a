"""volumes.py: exact geometry from DICOM (any orientation, order, multi-frame, compressed) and NIfTI;
clear errors for every kind of bad input; dicom_series.write_series round trips."""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

from dicom_factory import (
    AXIAL_IOP,
    CORONAL_IOP,
    SAGITTAL_IOP,
    compress,
    lps_geometry,
    oblique_iop,
    ramp_volume,
    relabel_transfer_syntax,
    set_tags,
    shuffle_names,
    truncate,
    write_garbage,
    write_multiframe,
    write_presentation_state,
    write_series,
    write_sr,
)
from ISCMAssistLib import coords
from ISCMAssistLib.dicom_series import DicomWriteError, make_uid, slice_geometry_lps
from ISCMAssistLib.dicom_series import write_series as core_write_series
from ISCMAssistLib.dicom_pixels import load_dicom_series
from ISCMAssistLib.images import load_volume
from ISCMAssistLib.volumes import SliceGap, SliceGapError, Volume, VolumeLoadError

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
SHAPE = (6, 8, 10)  # k, j, i: rows (8) != columns (10)


def _series(tmp_path: Path, iop=SAGITTAL_IOP, ipp=(10.0, -50.0, 100.0), spacing=(0.8, 0.6, 3.0), shape=SHAPE, name="s", **tags):
    array = ramp_volume(shape)
    folder = tmp_path / name
    paths = write_series(folder, array, (iop, ipp, spacing), **tags)
    return folder, paths, array, lps_geometry(iop, ipp, spacing)


# --- geometry ----------------------------------------------------------------------------------


def test_sagittal_geometry_by_hand(tmp_path):
    folder, _, array, _ = _series(tmp_path)
    volume = load_volume(folder)
    # IOP row (0,1,0) x column spacing 0.6; column (0,0,-1) x row spacing 0.8;
    # normal row x column = (-1,0,0) x 3 mm; origin (10,-50,100); then LPS->RAS negates x and y.
    expected = np.array([
        [0.0, 0.0, 3.0, -10.0],
        [-0.6, 0.0, 0.0, 50.0],
        [0.0, -0.8, 0.0, 100.0],
        [0.0, 0.0, 0.0, 1.0],
    ])
    np.testing.assert_allclose(volume.ijk_to_ras, expected, atol=1e-9)
    assert volume.array.shape == (6, 8, 10)
    np.testing.assert_array_equal(volume.array, array)
    np.testing.assert_allclose(volume.spacing_mm, [0.6, 0.8, 3.0])
    np.testing.assert_allclose(volume.origin, [-10.0, 50.0, 100.0])
    assert volume.warnings == [] and volume.gaps == []
    assert len(volume.sop_instance_uids) == 6 and volume.frame_of_reference_uid


@pytest.mark.parametrize(
    "iop",
    [SAGITTAL_IOP, AXIAL_IOP, CORONAL_IOP, oblique_iop(17.0), oblique_iop(-40.0, axis=(1.0, 1.0, 0.3), base=AXIAL_IOP)],
    ids=["sagittal", "axial", "coronal", "oblique17", "double-oblique"],
)
def test_orientations_round_trip(tmp_path, iop):
    folder, _, array, ijk_to_lps = _series(tmp_path, iop=iop, ipp=(-3.5, 12.25, 40.0), spacing=(0.7, 0.45, 2.5))
    volume = load_volume(folder)
    np.testing.assert_allclose(volume.ijk_to_ras, LPS_TO_RAS @ ijk_to_lps, atol=1e-6)
    np.testing.assert_array_equal(volume.array, array)


def test_descending_slices_are_sorted_along_the_normal(tmp_path):
    # Slice step along -normal (normal is LPS -x): written slices sit at LPS x = 10 + 3k.
    geometry = lps_geometry(SAGITTAL_IOP, (10.0, -50.0, 100.0), (0.8, 0.6, 3.0))
    geometry[:3, 2] *= -1.0
    array = ramp_volume(SHAPE)
    write_series(tmp_path / "d", array, geometry)
    volume = load_volume(tmp_path / "d")
    np.testing.assert_array_equal(volume.array, array[::-1])
    # Sorted along the normal, the first slice is the last written: IPP (25, -50, 100) LPS; step -3 mm LPS x.
    np.testing.assert_allclose(volume.origin, [-25.0, 50.0, 100.0])
    np.testing.assert_allclose(volume.ijk_to_ras[:3, 2], [3.0, 0.0, 0.0])
    # Same world image: voxel value 10000*k + 100*j + i of the written array sits at the same RAS point.
    written = Volume(array, LPS_TO_RAS @ geometry)
    point = written.voxel_to_ras([4.0, 2.0, 1.0])
    np.testing.assert_allclose(volume.ras_to_voxel(point), [4.0, 2.0, 4.0], atol=1e-9)


def test_shuffled_file_names_give_the_same_volume(tmp_path):
    folder, paths, array, ijk_to_lps = _series(tmp_path, iop=oblique_iop(25.0))
    shuffle_names(paths, seed=3)
    volume = load_volume(folder)
    np.testing.assert_array_equal(volume.array, array)
    np.testing.assert_allclose(volume.ijk_to_ras, LPS_TO_RAS @ ijk_to_lps, atol=1e-6)


def test_rescale_slope_intercept_applied(tmp_path):
    folder, paths, array, _ = _series(tmp_path)
    set_tags(paths, RescaleSlope="2", RescaleIntercept="-100")
    volume = load_volume(folder)
    assert volume.array.dtype == np.float32
    np.testing.assert_allclose(volume.array, array * 2.0 - 100.0)


def test_negative_and_fractional_values_round_trip(tmp_path):
    values = np.linspace(-1000.0, 2500.0, np.prod(SHAPE)).reshape(SHAPE)
    write_series(tmp_path / "f", values, (AXIAL_IOP, (0, 0, 0), (1, 1, 2)))
    volume = load_volume(tmp_path / "f")
    step = 3500.0 / 65535.0
    assert np.max(np.abs(volume.array - values)) <= step / 2 + 1e-3


def test_single_file_loads_its_whole_series(tmp_path):
    folder, paths, array, _ = _series(tmp_path)
    write_series(folder, ramp_volume((3, 4, 5)), (AXIAL_IOP, (0, 0, 0), (1, 1, 1)), file_prefix="OTHER", SeriesNumber=9)
    volume = load_volume(paths[2])
    np.testing.assert_array_equal(volume.array, array)


def test_sheared_slices_keep_exact_positions(tmp_path):
    geometry = lps_geometry(AXIAL_IOP, (0.0, 0.0, 0.0), (1.0, 1.0, 3.0))
    geometry[:3, 2] = [0.0, 0.5, 3.0]  # gantry tilt: each slice moves 0.5 mm posterior
    write_series(tmp_path / "tilt", ramp_volume(SHAPE), geometry)
    volume = load_volume(tmp_path / "tilt")
    np.testing.assert_allclose(volume.ijk_to_ras[:3, 2], [0.0, -0.5, 3.0], atol=1e-9)
    assert any("gantry tilt" in w for w in volume.warnings)


# --- multi-frame, compressed ---------------------------------------------------------------------


def test_enhanced_multiframe_shuffled_frames_and_rescale(tmp_path):
    array = ramp_volume(SHAPE)
    geometry = lps_geometry(oblique_iop(10.0), (1.0, 2.0, 3.0), (0.9, 0.7, 2.0))
    path = write_multiframe(tmp_path / "mf" / "enh.dcm", array, geometry, frame_order=[3, 0, 5, 1, 4, 2], slope=0.5, intercept=10.0)
    volume = load_volume(path)
    np.testing.assert_allclose(volume.ijk_to_ras, LPS_TO_RAS @ geometry, atol=1e-6)
    np.testing.assert_allclose(volume.array, array * 0.5 + 10.0)
    folder_volume = load_volume(tmp_path / "mf")
    np.testing.assert_array_equal(folder_volume.array, volume.array)


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless, JPEGLSLossless], ids=["rle", "j2k", "jpegls"])
def test_compressed_series_decode(tmp_path, syntax):
    folder, paths, array, ijk_to_lps = _series(tmp_path, shape=(3, 64, 48))  # OpenJPEG needs >= 32 px
    compress(paths, syntax)
    assert pydicom.dcmread(paths[0]).file_meta.TransferSyntaxUID == syntax
    volume = load_volume(folder)
    np.testing.assert_array_equal(volume.array, array)
    np.testing.assert_allclose(volume.ijk_to_ras, LPS_TO_RAS @ ijk_to_lps, atol=1e-9)


def test_transfer_syntax_without_decoder_names_file_and_syntax(tmp_path):
    folder, paths, _, _ = _series(tmp_path)
    relabel_transfer_syntax(paths[2:3], "1.2.840.10008.1.2.4.100")  # MPEG2: no decoder installed
    with pytest.raises(VolumeLoadError, match=rf"{paths[2].name}.*MPEG2.*cannot be decoded"):
        load_volume(folder)


# --- gaps and bad geometry -------------------------------------------------------------------------


def test_missing_slice_becomes_a_gap_and_measurement_across_it_is_refused(tmp_path):
    folder, paths, array, ijk_to_lps = _series(tmp_path, shape=(8, 4, 5))
    paths[3].unlink()
    volume = load_volume(folder)
    assert volume.gaps == [SliceGap(k_first=3, k_last=3, gap_mm=pytest.approx(6.0), step_mm=pytest.approx(3.0))]
    assert any("1 slice(s) missing after slice 2 (gap 6.00 mm" in w for w in volume.warnings)
    np.testing.assert_allclose(volume.ijk_to_ras, LPS_TO_RAS @ ijk_to_lps, atol=1e-9)
    assert np.all(volume.array[3] == 0)
    np.testing.assert_array_equal(volume.array[[0, 1, 2, 4, 5, 6, 7]], array[[0, 1, 2, 4, 5, 6, 7]])
    across = volume.voxel_to_ras([[1.0, 1.0, 2.0], [1.0, 1.0, 4.0]])
    with pytest.raises(SliceGapError, match="crosses a slice gap of 6.00 mm"):
        volume.require_no_gap(across, "lesion SI line")
    volume.require_no_gap(volume.voxel_to_ras([[1.0, 1.0, 0.0], [1.0, 1.0, 1.5]]))
    volume.require_no_gap(volume.voxel_to_ras([[1.0, 1.0, 4.5], [1.0, 1.0, 7.0]]))


def test_uneven_spacing_is_refused_with_the_file(tmp_path):
    folder, paths, _, _ = _series(tmp_path)
    # Slices sit at LPS x = 10 - 3k (normal -x); move slice 4 from -2 to -3.2: steps 4.20 then 1.80 mm.
    set_tags(paths[4:5], ImagePositionPatient=[-3.2, -50.0, 100.0])
    with pytest.raises(VolumeLoadError, match=(
        rf"uneven slice spacing: 4.20 mm between {paths[3].name} and {paths[4].name}, "
        rf"1.80 mm between {paths[4].name} and {paths[5].name} \(regular step 3.00 mm\)"
    )):
        load_volume(folder)


def test_duplicate_positions_are_refused(tmp_path):
    folder, paths, _, _ = _series(tmp_path)
    set_tags(paths[4:5], ImagePositionPatient=[4.0, -50.0, 100.0])  # same as slice 2 (LPS x = 10 - 3k)
    with pytest.raises(VolumeLoadError, match="two images at the same slice position"):
        load_volume(folder)


def test_mixed_sizes_are_refused(tmp_path):
    folder, paths, _, _ = _series(tmp_path)
    uid = pydicom.dcmread(paths[0], stop_before_pixels=True).SeriesInstanceUID
    other = write_series(tmp_path / "other", ramp_volume((1, 4, 4)), (SAGITTAL_IOP, (40.0, -50.0, 100.0), (0.8, 0.6, 3.0)))
    set_tags(other, SeriesInstanceUID=uid)
    other[0].rename(folder / "odd.dcm")
    with pytest.raises(VolumeLoadError, match=r"mixed image sizes in one series: 8x10 \(6 file"):
        load_volume(folder)


def test_mixed_orientations_are_refused(tmp_path):
    folder, paths, _, _ = _series(tmp_path)
    set_tags(paths[1:2], ImageOrientationPatient=list(AXIAL_IOP))
    with pytest.raises(VolumeLoadError, match="mixed orientations in one series"):
        load_volume(folder)


@pytest.mark.parametrize(
    ("tag", "value", "message"),
    [
        ("PixelSpacing", ["nan", "nan"], "PixelSpacing holds NaN"),
        ("PixelSpacing", ["0", "0.6"], r"PixelSpacing \[0.0, 0.6\] mm must be positive"),
        ("ImagePositionPatient", None, "ImagePositionPatient is missing"),
        ("ImageOrientationPatient", [1, 0, 0, 1, 0, 0], r"ImageOrientationPatient \[1.0, 0.0, 0.0, 1.0, 0.0, 0.0\] is not two orthogonal unit vectors"),
        ("ImageOrientationPatient", [1, 0, 0, 0], "ImageOrientationPatient has 4 values, 6 expected"),
    ],
)
@pytest.mark.filterwarnings("ignore:Invalid value for VR DS")
def test_bad_geometry_tags_name_file_and_tag(tmp_path, tag, value, message):
    folder, paths, _, _ = _series(tmp_path)
    set_tags(paths[2:3], **{tag: value})
    with pytest.raises(VolumeLoadError, match=rf"{paths[2].name}: .*{message}"):
        load_volume(folder)


def test_zero_slice_spacing_is_refused(tmp_path):
    folder, paths, _, _ = _series(tmp_path, shape=(2, 4, 4))
    set_tags(paths, ImagePositionPatient=[10.0, -50.0, 100.0])
    with pytest.raises(VolumeLoadError, match="same slice position"):
        load_volume(folder)


# --- folders with more than the series --------------------------------------------------------------


def test_non_images_garbage_and_truncated_files_are_skipped_and_listed(tmp_path):
    folder, paths, array, _ = _series(tmp_path, shape=(7, 4, 5))
    write_sr(folder / "report.dcm", paths[0])
    write_presentation_state(folder / "sub" / "ps.dcm", paths[0])
    write_garbage(folder / "notes.bin")
    (folder / "readme.txt").write_text("hello")
    truncate(paths[3], 900)  # header survives, pixels cut
    truncate(paths[5], 200)  # header cut
    volume = load_volume(folder)
    text = "\n".join(volume.warnings)
    assert "report.dcm: skipped: not an image: structured report" in text
    assert "ps.dcm: skipped: not an image: presentation state" in text
    assert "notes.bin: skipped: not a DICOM file" in text
    assert f"{paths[3].name}: skipped: truncated DICOM file" in text
    assert f"{paths[5].name}: skipped: truncated DICOM file" in text
    assert [(g.k_first, g.k_last) for g in volume.gaps] == [(3, 3), (5, 5)]
    np.testing.assert_array_equal(volume.array[[0, 1, 2, 4, 6]], array[[0, 1, 2, 4, 6]])


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(VolumeLoadError, match=r"empty: no DICOM image series found \(folder is empty\)"):
        load_volume(tmp_path / "empty")


def test_folder_of_only_junk_lists_the_reasons(tmp_path):
    write_garbage(tmp_path / "j" / "a.bin")
    write_sr(tmp_path / "j" / "b.dcm")
    with pytest.raises(VolumeLoadError, match=r"no DICOM image series found \(2 file\(s\) skipped: a.bin: not a DICOM"):
        load_volume(tmp_path / "j")


def test_two_series_in_one_folder_are_refused(tmp_path):
    folder, _, _, _ = _series(tmp_path, SeriesDescription="SAG T2", SeriesNumber=3)
    write_series(folder, ramp_volume((3, 4, 5)), (AXIAL_IOP, (0, 0, 0), (1, 1, 1)), file_prefix="AX", SeriesNumber=7,
                 SeriesDescription="AX T2")
    with pytest.raises(VolumeLoadError, match=r"holds 2 series \(#3 'SAG T2' \(6 files\); #7 'AX T2' \(3 files\)\)"):
        load_volume(folder)


def test_unreadable_file_is_skipped(tmp_path, monkeypatch):
    # Tests may run as root, which reads any file: simulate EACCES on one file for both readers.
    import builtins

    from ISCMAssistLib import dicom_header, dicom_pixels

    folder, paths, _, _ = _series(tmp_path)
    real_open, real_dcmread = builtins.open, pydicom.dcmread

    def refuse(path):
        if Path(path) == paths[-1]:
            raise PermissionError(13, "Permission denied", str(path))

    def guarded_open(path, *args, **kwargs):
        refuse(path)
        return real_open(path, *args, **kwargs)

    def guarded_dcmread(path, *args, **kwargs):
        refuse(path)
        return real_dcmread(path, *args, **kwargs)

    for reader in (dicom_header, dicom_pixels):  # the header reader and the pixel reader open files
        monkeypatch.setattr(reader, "open", guarded_open, raising=False)
    monkeypatch.setattr(pydicom, "dcmread", guarded_dcmread)
    volume = load_volume(folder)
    assert volume.array.shape[0] == 5
    assert any(f"{paths[-1].name}: skipped: cannot be read (permission denied)" in w for w in volume.warnings)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_by_mode(tmp_path):
    folder, paths, _, _ = _series(tmp_path)
    paths[-1].chmod(0)
    volume = load_volume(folder)
    assert any("permission denied" in w for w in volume.warnings)


def test_missing_path():
    with pytest.raises(VolumeLoadError, match="no such file or folder"):
        load_volume("/nonexistent/series")


def test_load_dicom_series_refuses_two_series(tmp_path):
    _, a, _, _ = _series(tmp_path, name="a")
    _, b, _, _ = _series(tmp_path, name="b")
    with pytest.raises(VolumeLoadError, match="files of 2 different series"):
        load_dicom_series(a + b)


# --- NIfTI --------------------------------------------------------------------------------------------


def test_pam50_t2_and_levels_geometry(shared_data):
    t2_path = shared_data / "pam50_small" / "PAM50_small_t2.nii.gz"
    image = nib.load(str(t2_path))
    volume = load_volume(t2_path)
    np.testing.assert_allclose(volume.ijk_to_ras, image.affine)
    assert volume.array.shape == image.shape[::-1]
    data = np.asanyarray(image.dataobj)
    assert volume.array[7, 20, 35] == data[35, 20, 7]
    levels = load_volume(shared_data / "pam50_small" / "PAM50_small_levels.nii.gz")
    np.testing.assert_allclose(levels.ijk_to_ras, volume.ijk_to_ras)
    assert levels.array.shape == volume.array.shape
    assert set(np.unique(levels.array).astype(int)) >= {0, 1, 7, 8}


def _nifti(path: Path, sform=None, sform_code=0, qform=None, qform_code=0, shape=(4, 5, 6)) -> Path:
    image = nib.Nifti1Image(np.arange(np.prod(shape), dtype=np.int16).reshape(shape), None)
    image.set_sform(sform, code=sform_code)
    image.set_qform(qform, code=qform_code)
    nib.save(image, str(path))
    return path


def test_nifti_prefers_sform_then_qform(tmp_path):
    sform = np.array([[0, 0, -2.0, 10], [1.0, 0, 0, -5], [0, 1.5, 0, 7], [0, 0, 0, 1]])
    qform = np.diag([1.0, 1.0, 2.0, 1.0])
    both = load_volume(_nifti(tmp_path / "both.nii.gz", sform, 1, qform, 1))
    np.testing.assert_allclose(both.ijk_to_ras, sform)
    q_only = load_volume(_nifti(tmp_path / "q.nii", sform, 0, qform, 2))
    np.testing.assert_allclose(q_only.ijk_to_ras, qform)
    assert q_only.array[5, 4, 3] == 3 * 30 + 4 * 6 + 5


def test_nifti_bad_inputs(tmp_path):
    image = nib.Nifti1Image(np.zeros((3, 3, 3, 2), dtype=np.int16), np.eye(4))
    nib.save(image, str(tmp_path / "four.nii.gz"))
    with pytest.raises(VolumeLoadError, match=r"four.nii.gz: 4D image with shape \(3, 3, 3, 2\)"):
        load_volume(tmp_path / "four.nii.gz")
    singular = np.eye(4)
    singular[2, 2] = 0.0
    with pytest.raises(VolumeLoadError, match=r"flat.nii: ijk_to_ras is not finite and invertible"):
        load_volume(_nifti(tmp_path / "flat.nii", singular, 1))
    (tmp_path / "broken.nii.gz").write_bytes(b"not gzip at all")
    with pytest.raises(VolumeLoadError, match="broken.nii.gz: not a readable NIfTI file"):
        load_volume(tmp_path / "broken.nii.gz")


# --- Volume and the writer ------------------------------------------------------------------------------


def test_volume_point_mapping_and_contains():
    matrix = np.array([[0, 0, -3.0, 10], [0.5, 0, 0, 20], [0, -0.5, 0, 30], [0, 0, 0, 1]])
    volume = Volume(np.zeros((4, 10, 20)), matrix)
    ijk = np.array([[0, 0, 0], [19, 9, 3], [2.5, 1.5, 1.0]])
    ras = volume.voxel_to_ras(ijk)
    np.testing.assert_allclose(ras[1], [10 - 9.0, 20 + 9.5, 30 - 4.5])
    np.testing.assert_allclose(volume.ras_to_voxel(ras), ijk, atol=1e-12)
    assert volume.contains_ras(ras).tolist() == [True, True, True]
    outside = volume.voxel_to_ras([[0, 0, 3.6], [-0.6, 0, 0]])
    assert volume.contains_ras(outside).tolist() == [False, False]
    assert volume.contains_ras(volume.voxel_to_ras([19.5, 9.5, 3.5])) is True
    with pytest.raises(VolumeLoadError, match="invertible"):
        Volume(np.zeros((2, 2, 2)), np.diag([1.0, 0.0, 1.0, 1.0]))


def test_writer_uids_are_deterministic_with_a_seed(tmp_path):
    volume = Volume(ramp_volume((2, 3, 4)), np.diag([-1.0, -1.0, 2.0, 1.0]))
    a = core_write_series(tmp_path / "a", volume, seed="case-7")
    b = core_write_series(tmp_path / "b", volume, seed="case-7")
    da, db = pydicom.dcmread(a[1]), pydicom.dcmread(b[1])
    assert da.SOPInstanceUID == db.SOPInstanceUID and da.SeriesInstanceUID == db.SeriesInstanceUID
    assert da.StudyInstanceUID == make_uid("case-7", "study")
    assert da.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert da.PatientName == "ISCM^Synthetic"
    assert [float(v) for v in da.ImagePositionPatient] == [0.0, 0.0, 2.0]


def test_writer_refuses_what_dicom_cannot_hold(tmp_path):
    sheared = np.array([[1.0, 0.3, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1]])
    with pytest.raises(DicomWriteError, match="not orthogonal"):
        slice_geometry_lps(sheared)
    with pytest.raises(DicomWriteError, match="NaN"):
        core_write_series(tmp_path / "n", Volume(np.full((2, 2, 2), np.nan), np.eye(4)))


def test_writer_geometry_uses_coords(tmp_path):
    matrix = np.array([[0, 0, -3.0, 10], [0.5, 0, 0, 20], [0, -0.5, 0, 30], [0, 0, 0, 1]])
    orientation, spacing, origin, step = slice_geometry_lps(matrix)
    assert orientation == [0.0, -1.0, 0.0, 0.0, 0.0, -1.0]
    assert spacing == [0.5, 0.5]
    np.testing.assert_allclose(origin, coords.ras_to_lps([10, 20, 30]))
    np.testing.assert_allclose(step, [3.0, 0.0, 0.0])


# --- the fast header reader agrees with pydicom --------------------------------------------------------


def _pydicom_value(dataset, keyword):
    value = dataset.get(keyword)
    if isinstance(value, pydicom.multival.MultiValue):
        if dataset.data_element(keyword).VR in ("DS", "IS", "US"):
            return [float(v) for v in value]
        return "\\".join(str(v) for v in value)
    if dataset.data_element(keyword).VR in ("DS", "IS", "US"):
        return float(value) if value not in (None, "") else value
    return str(value)


@pytest.mark.parametrize("variant", ["explicit", "implicit", "sequence", "rle", "big_private"])
def test_fast_header_matches_pydicom(tmp_path, variant):
    from pydicom.dataset import Dataset
    from pydicom.uid import ImplicitVRLittleEndian

    from ISCMAssistLib.dicom_header import _FAST_KEYWORDS, DicomHeader, read_dicom_header

    _, paths, _, _ = _series(tmp_path, iop=oblique_iop(12.0), shape=(2, 40, 36), EchoTime=90.5,
                             ContrastBolusAgent="Gadovist", ImageType=["ORIGINAL", "PRIMARY", "M"])
    path = paths[1]
    if variant == "implicit":
        ds = pydicom.dcmread(path)
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
        ds.save_as(path, enforce_file_format=True)
    elif variant == "sequence":
        ds = pydicom.dcmread(path)
        item = Dataset()
        item.ReferencedSOPInstanceUID = "1.2.3"
        nested = Dataset()
        nested.CodeValue = "X"
        nested.is_undefined_length_sequence_item = True
        item.PurposeOfReferenceCodeSequence = [nested]
        item["PurposeOfReferenceCodeSequence"].is_undefined_length = True
        ds.ReferencedImageSequence = [item, Dataset()]
        ds["ReferencedImageSequence"].is_undefined_length = True
        ds.save_as(path, enforce_file_format=True)
        assert pydicom.dcmread(path)["ReferencedImageSequence"].is_undefined_length
    elif variant == "rle":
        compress([path], RLELossless)
    elif variant == "big_private":  # a Siemens-like CSA header: 3 x 7 kB before the geometry tags
        ds = pydicom.dcmread(path)
        block = ds.private_block(0x0019, "SIEMENS CSA HEADER", create=True)
        for offset in range(3):
            block.add_new(0x10 + offset, "OB", bytes(range(256)) * 28)
        ds.save_as(path, enforce_file_format=True)
        assert path.stat().st_size > 3 * 7168
    header = read_dicom_header(path)
    assert isinstance(header, DicomHeader)
    reference = pydicom.dcmread(path, stop_before_pixels=True)
    compared = 0
    for keyword in _FAST_KEYWORDS:
        if keyword not in reference:
            assert keyword not in header
            continue
        expected = _pydicom_value(reference, keyword)
        got = header.get(keyword)
        if expected is None:
            assert got is None, keyword
        elif isinstance(expected, list):
            assert [float(v) for v in got] == pytest.approx(expected), keyword
        elif isinstance(expected, float):
            assert float(got) == pytest.approx(expected), keyword
        else:
            assert str(got) == expected, keyword
        compared += 1
    assert compared >= 25
    np.testing.assert_array_equal(load_volume(path).array, ramp_volume((2, 40, 36)))


def test_enhanced_and_big_endian_fall_back_to_pydicom(tmp_path):
    from ISCMAssistLib.dicom_header import DicomHeader, read_dicom_header

    path = write_multiframe(tmp_path / "e.dcm", ramp_volume((3, 4, 5)), (AXIAL_IOP, (0, 0, 0), (1, 1, 1)))
    assert not isinstance(read_dicom_header(path), DicomHeader)


def test_folder_with_one_nifti_loads_it_and_several_are_refused(tmp_path):
    sform = np.diag([1.0, 1.0, 2.0, 1.0])
    (tmp_path / "n").mkdir()
    _nifti(tmp_path / "n" / "a.nii.gz", sform, 1)
    volume = load_volume(tmp_path / "n")
    np.testing.assert_allclose(volume.ijk_to_ras, sform)
    assert "loaded the one NIfTI file a.nii.gz" in volume.warnings[0]
    _nifti(tmp_path / "n" / "b.nii.gz", sform, 1)
    with pytest.raises(VolumeLoadError, match=r"no DICOM series but 2 NIfTI files \(a.nii.gz, b.nii.gz\)"):
        load_volume(tmp_path / "n")


# --- the writer's files are valid MR Image objects (dicom3tools) ----------------------------------------


def test_written_series_pass_dciodvfy(tmp_path):
    import shutil
    import subprocess

    dciodvfy = shutil.which("dciodvfy")
    if dciodvfy is None:
        message = "dciodvfy not found: install dicom3tools (apt-get install -y dicom3tools)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    integers = core_write_series(tmp_path / "i", Volume(ramp_volume((2, 4, 5)), np.diag([-1.0, -1.0, 2.0, 1.0])), seed="v")
    floats = core_write_series(tmp_path / "f", Volume(np.linspace(-1, 1, 40).reshape(2, 4, 5), np.eye(4)), seed="v",
                               mr_tags={"EchoTime": 100.0, "RepetitionTime": 3000.0, "ContrastBolusAgent": "gadolinium"})
    for path in (integers[0], floats[1]):
        result = subprocess.run([dciodvfy, str(path)], capture_output=True, text=True, timeout=60)
        output = result.stdout + result.stderr
        assert "MRImage" in output
        errors = [line for line in output.splitlines() if line.startswith("Error")]
        assert errors == [], output
    assert "RescaleSlope" not in pydicom.dcmread(integers[0]) and float(pydicom.dcmread(floats[0]).RescaleSlope) > 0


def test_single_non_image_file_and_dicomdir(tmp_path):
    from pydicom.fileset import FileSet

    report = write_sr(tmp_path / "sr" / "report.dcm")
    with pytest.raises(VolumeLoadError, match=r"report.dcm: not an image \(SOPClassUID 1.2.840.10008.5.1.4.1.1.88.11"):
        load_volume(report)
    _, paths, array, ijk_to_lps = _series(tmp_path, iop=oblique_iop(8.0))
    fileset = FileSet()
    for path in reversed(paths):
        fileset.add(pydicom.dcmread(path))
    fileset.write(tmp_path / "media")
    volume = load_volume(tmp_path / "media" / "DICOMDIR")
    np.testing.assert_array_equal(volume.array, array)
    np.testing.assert_allclose(volume.ijk_to_ras, LPS_TO_RAS @ ijk_to_lps, atol=1e-6)


def test_slice_order_sorts_files_and_reports_gaps(tmp_path):
    from ISCMAssistLib.dicom_frames import slice_order

    geometry = lps_geometry(AXIAL_IOP, (0.0, 0.0, 0.0), (1.0, 1.0, 2.0))
    geometry[:3, 2] *= -1.0  # written from top to bottom: slice order is the reverse of writing
    paths = shuffle_names(write_series(tmp_path / "a", ramp_volume((5, 3, 4)), geometry), seed=2)
    assert slice_order(sorted(paths)).files == paths[::-1]
    assert slice_order(paths).gaps == []
    gapped = slice_order(paths[:2] + paths[3:])
    assert gapped.files == (paths[:2] + paths[3:])[::-1]
    assert [(gap.k_first, gap.k_last) for gap in gapped.gaps] == [(2, 2)]
    set_tags(paths[1:2], ImageOrientationPatient=list(SAGITTAL_IOP))
    with pytest.raises(VolumeLoadError, match="mixed orientations"):
        slice_order(paths)
    with pytest.raises(VolumeLoadError, match="no DICOM files given"):
        slice_order([])


def test_signed_and_8_bit_pixels(tmp_path):
    folder, paths, array, _ = _series(tmp_path, shape=(5, 4, 5))
    set_tags(paths, PixelRepresentation=1)  # the same bytes read as int16: 40000 + ... turns negative
    signed = load_volume(folder)
    assert signed.array.dtype == np.int16
    np.testing.assert_array_equal(signed.array, array.astype(np.uint16).view(np.int16))
    assert signed.array[4, 0, 0] == 40000 - 65536
    for k, path in enumerate(paths):
        ds = pydicom.dcmread(path)
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        ds.PixelData = (array[k] % 251).astype(np.uint8).tobytes()
        ds.save_as(path, enforce_file_format=True)
    eight = load_volume(folder)
    assert eight.array.dtype == np.uint8
    np.testing.assert_array_equal(eight.array, (array % 251).astype(np.uint8))


def test_high_bits_above_bits_stored_are_masked(tmp_path):
    folder, paths, array, _ = _series(tmp_path, shape=(2, 3, 4))
    set_tags(paths, BitsStored=12, HighBit=11)  # ramp values up to 10203 use bit 13: an overlay, not pixels
    np.testing.assert_array_equal(load_volume(folder).array, array & 0x0FFF)
