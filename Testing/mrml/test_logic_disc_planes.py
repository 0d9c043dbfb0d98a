"""The module's level model takes each disc's tilt from the selected sagittal T2 (slicer-core MRML)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from test_disc_planes import LABELS, disc_centre, layered_volume, on_disc_plane_in_canal  # noqa: E402

from ISCMAssistLib.scene.case_builder import levelModel  # noqa: E402


def test_disc_planes_come_from_the_sagittal_t2_and_the_reader_is_told_otherwise(logic):
    points = np.array([disc_centre(i) for i in range(4)])
    logic.setLevelLandmarks(LABELS, points)
    logic.getCase()
    assert any("assumed perpendicular" in warning for warning in logic.warnings())

    logic.addSeriesVolume(layered_volume(), "SAG T2", "t2_sagittal")
    logic.getCase()
    assert not any("assumed perpendicular" in warning for warning in logic.warnings())
    model, _ = levelModel(logic.state, LABELS, points)
    assert [source for *_, source in model.disc_planes] == ["image"] * 4
    assert model.coordinate(on_disc_plane_in_canal(2)) == pytest.approx(22.5, abs=0.03)


def test_level_point_rows_show_confidence_and_plane_source(logic):
    points = np.array([disc_centre(i) for i in range(4)])
    logic.setLevelLandmarks(LABELS, points)
    rows = logic.levelPointRows()
    assert [(row["label"], row["kind"], row["confidence"], row["plane"]) for row in rows] == [
        (label, "disc", None, "assumed") for label in LABELS]
    logic.addSeriesVolume(layered_volume(), "SAG T2", "t2_sagittal")
    assert {row["plane"] for row in logic.levelPointRows()} == {"image"}
    node = logic.levelsNode()
    node.SetNthControlPointDescription(0, "auto disc, confidence 0.42")
    assert logic.levelPointRows()[0]["confidence"] == pytest.approx(0.42)
