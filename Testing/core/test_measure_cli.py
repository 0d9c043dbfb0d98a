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
