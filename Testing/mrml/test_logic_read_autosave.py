"""Autosave of the read outside research sessions (scene/read_autosave.py) through the Logic's
autosaveNow, on slicer-core's real MRML: once per change, never an empty scene over a read, and a
save or open of the autosave folder counts as saved."""

from __future__ import annotations

import json

MANIFEST = "iscm-assist-read.json"

# the `logic` and `other_logic` fixtures come from Testing/mrml/conftest.py


def test_autosave_writes_the_read_folder_once_per_change(logic, tmp_path):
    folder = tmp_path / "read"
    assert not logic.autosaveNow()  # no autosave folder set
    logic.setAutosaveFolder(folder, intervalS=0.0)
    assert not logic.autosaveNow()  # empty scene: never saved over a read
    logic.setLevelLandmarks(["T4", "T5"], [[0, 0, 20], [0, 0, 0]])
    assert logic.autosaveNow() and (folder / MANIFEST).is_file()
    assert not logic.autosaveNow()
    logic.setReaderValue("clinical", "age_years", 61)
    assert logic.autosaveNow()
    assert json.loads((folder / "case.json").read_text())["clinical"]["age_years"] == 61
    assert logic.autosaveNow(force=True)


def test_autosave_waits_for_its_interval(logic, tmp_path):
    logic.setAutosaveFolder(tmp_path / "read", intervalS=3600.0)
    logic.setLevelLandmarks(["T4", "T5"], [[0, 0, 20], [0, 0, 0]])
    assert logic.autosaveNow()
    logic.setReaderValue("clinical", "age_years", 61)
    assert not logic.autosaveNow() and logic.autosaveNow(force=True)


def test_opening_or_saving_the_autosave_folder_counts_as_saved(logic, other_logic, tmp_path):
    folder = tmp_path / "read"
    logic.setLevelLandmarks(["T4", "T5"], [[0, 0, 20], [0, 0, 0]])
    logic.setAutosaveFolder(folder, intervalS=0.0)
    logic.setReaderValue("clinical", "age_years", 61)
    logic.saveRead(folder)
    assert not logic.autosaveNow()
    logic.setReaderValue("clinical", "age_years", 60)
    logic.saveRead(tmp_path / "elsewhere")  # another folder: the autosave folder still lags behind
    assert logic.autosaveNow()
    other_logic.setAutosaveFolder(folder, intervalS=0.0)
    other_logic.openRead(folder)
    assert not other_logic.autosaveNow()
    other_logic.setReaderValue("clinical", "age_years", 62)
    assert other_logic.autosaveNow()


def test_marking_the_read_saved(logic, tmp_path):
    logic.setAutosaveFolder(tmp_path / "read", intervalS=0.0)
    logic.setLevelLandmarks(["T4", "T5"], [[0, 0, 20], [0, 0, 0]])  # e.g. the demo's read, just opened
    logic.markReadSaved()
    assert not logic.autosaveNow() and not (tmp_path / "read").exists()
