"""Exam folders in the module Logic: scan, proposed series roles with reasons, the reader's changes,
loading the chosen series into the selectors (synthetic DICOM exam, slicer-core's real MRML)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import place_phantom_levels

from ISCMAssistLib.ingest import IngestError


@pytest.fixture(scope="module")
def exam(tmp_path_factory, phantom):
    """A DICOM exam folder holding the phantom's sagittal T2 (series 2) and T1 post (series 5)."""
    folder = tmp_path_factory.mktemp("exam")
    files = phantom.write_dicom(folder)
    return folder, {role: paths[0].parent for role, paths in files.items()}


def test_scan_proposes_roles_with_reasons(logic, exam):
    folder, _ = exam
    progress = []
    rows = logic.scanExam(folder, progress=lambda f, m: progress.append(f))
    assert [row["label"] for row in rows] == ["#2 SAG T2", "#5 SAG T1 POST"]
    roles = {row["label"]: row["role"] for row in rows}
    assert roles == {"#2 SAG T2": "t2_sagittal", "#5 SAG T1 POST": "t1_post"}
    reasons = {row["label"]: row["reason"] for row in rows}
    assert reasons["#2 SAG T2"].startswith("sagittal T2")
    assert "post-contrast" in reasons["#5 SAG T1 POST"]
    assert rows[0]["summary"].startswith("sagittal T2") and "15 slices" in rows[0]["summary"]
    assert progress == sorted(progress) and progress[-1] == 1.0


def test_load_proposed_series_selects_them_and_the_case_knows_their_uids(logic, exam, phantom, tmp_path):
    folder, _ = exam
    rows = logic.scanExam(folder)
    loaded = logic.loadProposedSeries()
    assert set(loaded) == {"t2_sagittal", "t1_post"}
    t2 = logic.seriesVolume("t2_sagittal")
    assert t2 is loaded["t2_sagittal"] and t2.GetName() == "#2 SAG T2"
    assert logic.seriesVolume("t1_post").GetName() == "#5 SAG T1 POST"
    assert logic.seriesVolume("t1_pre") is None
    # the loaded image is the phantom (RAS geometry kept)
    volume = logic.volumeFromNode(t2)
    assert volume.array.shape == phantom.t2.array.shape
    assert np.allclose(volume.ijk_to_ras, phantom.t2.ijk_to_ras, atol=1e-4)
    series = {entry["role"]: entry for entry in logic.getCase()["series"]}
    assert series["t2_sagittal"]["series_uid"] == next(row["key"] for row in rows if row["role"] == "t2_sagittal")
    # DICOM sources are known, so Export writes an SR
    place_phantom_levels(logic, phantom)
    logic.addLesion()
    assert "sr" in logic.exportRead(tmp_path / "export")


def test_reader_changes_roles_in_the_table(logic, exam):
    folder, _ = exam
    rows = logic.scanExam(folder)
    t2_key = next(row["key"] for row in rows if row["role"] == "t2_sagittal")
    t1_key = next(row["key"] for row in rows if row["role"] == "t1_post")
    assignments = {t2_key: "t2_sagittal", t1_key: "t1_pre"}   # the T1 taken as pre-contrast
    overrides = logic.overridesFromAssignments(rows, assignments)
    assert overrides == {"t1_pre": t1_key, "t1_post": "none"}
    loaded = logic.loadProposedSeries(overrides)
    assert set(loaded) == {"t2_sagittal", "t1_pre"}
    assert logic.seriesVolume("t1_pre").GetName() == "#5 SAG T1 POST"
    assert logic.seriesVolume("t1_post") is None
    assert {row["label"]: row["role"] for row in logic.examRows()}["#5 SAG T1 POST"] == "t1_pre"
    with pytest.raises(IngestError, match="chosen for two series"):
        logic.overridesFromAssignments(rows, {t2_key: "t1_pre", t1_key: "t1_pre"})
    with pytest.raises(IngestError, match="'t3' is not one of"):
        logic.overridesFromAssignments(rows, {t2_key: "t3"})


def test_exam_errors_name_the_folder(logic, tmp_path):
    with pytest.raises(IngestError, match="no exam folder scanned"):
        logic.loadProposedSeries()
    with pytest.raises(IngestError, match="missing: no such file or folder"):
        logic.scanExam(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    assert logic.scanExam(tmp_path / "empty") == []
    assert logic.loadProposedSeries() == {}
