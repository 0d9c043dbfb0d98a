"""The demo end to end: synthetic DICOM in, every output out, measured values equal to the phantom's truth."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from ISCMAssistLib.case_io import load_case
from ISCMAssistLib.cli import main
from ISCMAssistLib.demo import run_demo
from ISCMAssistLib.markups_io import read_markups


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    steps = []
    result = run_demo(tmp_path_factory.mktemp("demo"), progress=lambda fraction, step: steps.append(fraction))
    assert steps[-1] == 1.0 and steps == sorted(steps)
    return result


def test_measured_read_equals_the_phantom_truth(demo):
    lesion, truth = demo.case["lesions"][0], demo.phantom.lesion
    assert lesion["levels"] == truth.levels == "T4-T5"
    assert lesion["location"] == truth.location
    assert lesion["enhancement_length_segments"] == truth.segments
    assert lesion["t2_length_segments"] == truth.edema_segments
    for axis in ("ap", "transverse", "si"):
        assert lesion["size_mm"][axis] == pytest.approx(truth.size_mm[axis], abs=0.1)
    assert demo.warnings == []


def test_files_round_trip(demo):
    case = load_case(demo.files["case JSON"])
    assert case == json.loads(json.dumps(demo.case))
    rows = list(csv.DictReader(open(demo.files["lesion CSV"], newline="")))
    assert len(rows) == 1 and rows[0]["case_id"] == "demo-001"
    levels = read_markups(demo.files["levels markups"])[0]
    assert set(levels.labels) == set(demo.phantom.landmarks)
    for label, point in zip(levels.labels, levels.points_ras):
        np.testing.assert_allclose(point, demo.phantom.landmarks[label], atol=1e-3)
    si = read_markups(demo.files["si line"])[0]
    assert np.linalg.norm(si.points_ras[1] - si.points_ras[0]) == pytest.approx(demo.phantom.lesion.size_mm["si"], abs=0.01)
    png = demo.files["figure"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000


def test_hints_support_and_never_diagnose(demo):
    ids = {hint.id for hint in demo.hints}
    assert {"enhancement_present", "edema_extensive", "edema_ratio", "rim_flame_sign", "checklist_prevalence"} <= ids
    assert "enhancement_absent" not in ids and "cystic_or_hemorrhage" not in ids
    # The demo's lung primary is recorded and visible on the MR: no "look for the primary / the lungs".
    assert "primary_unknown" not in ids and "lungs" not in ids
    assert {hint.kind for hint in demo.hints} == {"prevalence", "comparative", "prompt"}
    assert all(hint.evidence for hint in demo.hints)


def test_cli_demo_prints_where_everything_went(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "For research use only" in printed and str(tmp_path / "out" / "case.json") in printed
    assert (tmp_path / "out" / "read.png").is_file()


def test_demo_masks_measure_like_the_read(demo, capsys):
    """Issue 12, item 13: measure runs on the demo's own output (the README shows this line)."""
    import json as json_mod

    from ISCMAssistLib.cli import main

    out = demo.out
    code = main(["measure", "--volume", str(out / "dicom" / "t2"), "--levels", str(out / "markups" / "levels.mrk.json"),
                 "--lesion-seg", str(out / "masks" / "lesion.nii.gz"), "--edema-seg", str(out / "masks" / "edema.nii.gz")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lesion = json_mod.loads(captured.out)["lesions"][0]
    truth = demo.phantom.lesion
    assert lesion["levels"] == truth.levels
    assert lesion["enhancement_length_segments"] == truth.segments
    assert lesion["t2_length_segments"] == truth.edema_segments
