"""``iscm-assist measure`` and ``validate`` on the real PAM50 template: masks built from its level label map."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from ISCMAssistLib.cli import main


@pytest.fixture()
def pam50_masks(shared_data, tmp_path):
    levels_path = shared_data / "pam50_small" / "PAM50_small_levels.nii.gz"
    levels = nib.load(levels_path)
    data = np.asarray(levels.dataobj)
    paths = {}
    for name, wanted in {"lesion": (8, 9), "edema": (7, 8, 9, 10, 11)}.items():
        paths[name] = tmp_path / f"{name}.nii.gz"
        nib.save(nib.Nifti1Image(np.isin(data, wanted).astype(np.uint8), levels.affine, levels.header), paths[name])
    return levels_path, paths


def test_measure_counts_segments_of_masks_on_pam50(shared_data, pam50_masks, tmp_path, capsys):
    levels_path, masks = pam50_masks
    out = tmp_path / "case.json"
    code = main(["measure", "--volume", str(shared_data / "pam50_small" / "PAM50_small_t2.nii.gz"),
                 "--levels", str(levels_path), "--lesion-seg", str(masks["lesion"]),
                 "--edema-seg", str(masks["edema"]), "--out", str(out)])
    assert code == 0
    lesion = json.loads(out.read_text())["lesions"][0]
    assert (lesion["levels"], lesion["enhancement_length_segments"]) == ("T1-T2", 2)
    assert lesion["t2_length_segments"] == 5
    assert lesion["t2_to_enhancement_ratio"] == 2.5
    assert lesion["location"] == "thoracic"
    assert 30 < lesion["size_mm"]["si"] < 50  # two thoracic segments of the template, along the cord
    capsys.readouterr()
    assert main(["validate", str(out)]) == 0


def test_measure_without_masks_is_a_clear_error(shared_data, capsys):
    t2 = str(shared_data / "pam50_small" / "PAM50_small_t2.nii.gz")
    levels = str(shared_data / "pam50_small" / "PAM50_small_levels.nii.gz")
    assert main(["measure", "--volume", t2, "--levels", levels]) == 2
    assert "--lesion-seg" in capsys.readouterr().err


def test_measure_rejects_an_empty_mask_naming_it(shared_data, tmp_path, capsys):
    levels = shared_data / "pam50_small" / "PAM50_small_levels.nii.gz"
    image = nib.load(levels)
    empty = tmp_path / "empty.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros(image.shape, np.uint8), image.affine), empty)
    assert main(["measure", "--volume", str(levels), "--levels", str(levels), "--lesion-seg", str(empty)]) == 2
    assert "empty" in capsys.readouterr().err


def test_measure_refuses_a_mask_across_a_slice_gap(tmp_path, capsys):
    from ISCMAssistLib.dicom_series import write_series
    from ISCMAssistLib.markups_io import write_point_list
    from ISCMAssistLib.volumes import Volume

    mask = np.zeros((8, 20, 20), np.uint8)
    mask[2:6, 8:12, 8:12] = 1  # axial slices k = 2..5, 3 mm apart
    ijk_to_ras = np.diag([1.0, 1.0, 3.0, 1.0])
    files = write_series(tmp_path / "mask", Volume(mask.astype(np.float32), ijk_to_ras),
                         series_description="lesion mask", series_number=1, seed="gap")
    files[3].unlink()  # the slice at k = 3
    levels = tmp_path / "levels.mrk.json"
    write_point_list(levels, ["T4", "T5"], np.array([[10.0, 10.0, 30.0], [10.0, 10.0, 0.0]]), name="levels")
    code = main(["measure", "--volume", str(tmp_path / "mask"), "--levels", str(levels),
                 "--lesion-seg", str(tmp_path / "mask")])
    assert code == 2
    assert "crosses a slice gap of 6.00 mm" in capsys.readouterr().err


def test_measure_refuses_a_greyscale_image_as_a_mask(shared_data, capsys):
    """The T2 image itself given as --lesion-seg is not a mask (issue 12, item 3)."""
    t2 = str(shared_data / "pam50_small" / "PAM50_small_t2.nii.gz")
    levels = str(shared_data / "pam50_small" / "PAM50_small_levels.nii.gz")
    assert main(["measure", "--volume", t2, "--levels", levels, "--lesion-seg", t2]) == 2
    err = capsys.readouterr().err
    assert "not binary or label-valued" in err or "distinct values" in err
    assert "PAM50_small_t2.nii.gz" in err and "Traceback" not in err


def test_measure_refuses_a_mask_on_another_grid_unless_resampled(shared_data, pam50_masks, tmp_path, capsys):
    levels_path, masks = pam50_masks
    t2 = str(shared_data / "pam50_small" / "PAM50_small_t2.nii.gz")
    image = nib.load(masks["lesion"])
    data = np.asarray(image.dataobj)
    coarse = tmp_path / "coarse.nii.gz"  # every second voxel along each axis: twice the spacing
    affine = image.affine.copy()
    affine[:3, :3] *= 2
    nib.save(nib.Nifti1Image(data[::2, ::2, ::2].copy(), affine), coarse)
    args = ["measure", "--volume", t2, "--levels", str(levels_path), "--lesion-seg", str(coarse)]
    assert main(args) == 2
    assert "not on the grid" in capsys.readouterr().err
    out = tmp_path / "case.json"
    assert main(args + ["--resample-masks", "--out", str(out)]) == 0
    assert "resampled onto the grid" in capsys.readouterr().err
    assert json.loads(out.read_text())["lesions"][0]["enhancement_length_segments"] == 2


def test_measure_refuses_a_mask_across_a_gap_of_the_image(tmp_path, capsys):
    """The mask is whole; the image it is measured on misses a slice under it."""
    from ISCMAssistLib.dicom_series import write_series
    from ISCMAssistLib.markups_io import write_point_list
    from ISCMAssistLib.volumes import Volume

    image = np.full((8, 20, 20), 100, np.uint16)
    ijk_to_ras = np.diag([1.0, 1.0, 3.0, 1.0])
    files = write_series(tmp_path / "image", Volume(image.astype(np.float32), ijk_to_ras),
                         series_description="t2", series_number=1, seed="image-gap")
    files[3].unlink()
    mask = np.zeros((8, 20, 20), np.uint8)
    mask[2:6, 8:12, 8:12] = 1
    nib.save(nib.Nifti1Image(mask.transpose(2, 1, 0), ijk_to_ras), tmp_path / "mask.nii.gz")
    levels = tmp_path / "levels.mrk.json"
    write_point_list(levels, ["T4", "T5"], np.array([[10.0, 10.0, 30.0], [10.0, 10.0, 0.0]]), name="levels")
    code = main(["measure", "--volume", str(tmp_path / "image"), "--levels", str(levels),
                 "--lesion-seg", str(tmp_path / "mask.nii.gz"), "--resample-masks"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "blank" in err.lower() or "missing" in err.lower()  # the loader's warning is printed
    assert "crosses a slice gap" in err


def test_levels_prints_the_loaders_warnings(tmp_path, capsys):
    from ISCMAssistLib.dicom_series import write_series
    from ISCMAssistLib.volumes import Volume

    files = write_series(tmp_path / "image", Volume(np.full((8, 20, 20), 100, np.float32), np.diag([1.0, 1.0, 3.0, 1.0])),
                         series_description="t2", series_number=1, seed="levels-gap")
    files[3].unlink()
    main(["levels", str(tmp_path / "image")])
    err = capsys.readouterr().err
    assert "warning:" in err and "missing" in err
