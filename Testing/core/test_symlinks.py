"""Symbolic links (issue 12, item 7): never written through, never read when they point outside the
folder; each case says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ISCMAssistLib import cli
from ISCMAssistLib.case import new_case, new_lesion
from ISCMAssistLib.case_io import save_case
from ISCMAssistLib.files import FileWriteError
from ISCMAssistLib.session import create_session, open_session


def _session(tmp_path: Path):
    csv = tmp_path / "cases.csv"
    csv.write_text("case_id,role,path\ncase-001,t2_sagittal,data/c1\n", encoding="utf-8")
    return create_session(tmp_path / "sess", csv, "alice")


def test_a_linked_reader_folder_is_neither_written_nor_read(tmp_path):
    session = _session(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (session.directory / "reads").mkdir()
    (session.directory / "reads" / "alice").symlink_to(outside, target_is_directory=True)
    with pytest.raises(FileWriteError, match="symbolic link"):
        session.autosave("alice", "case-001", new_case("case-001", "alice"))
    with pytest.raises(FileWriteError, match="symbolic link"):
        session.load_read("alice", "case-001")
    assert list(outside.iterdir()) == []
    assert cli.main(["session", "next", str(session.directory), "--reader", "alice"]) == 2


def test_a_linked_state_file_is_not_written_through(tmp_path):
    session = _session(tmp_path)
    session.autosave("alice", "case-001", new_case("case-001", "alice"))
    state = session.state_path("alice", "case-001")
    target = tmp_path / "elsewhere.json"
    target.write_text('{"status": "in_progress"}', encoding="utf-8")
    state.unlink()
    state.symlink_to(target)
    with pytest.raises(FileWriteError, match="symbolic link"):
        open_session(session.directory).mark_done("alice", "case-001")
    assert json.loads(target.read_text(encoding="utf-8")) == {"status": "in_progress"}


def test_cohort_skips_links_outside_and_refuses_a_linked_report_folder(tmp_path, capsys):
    folder = tmp_path / "reads"
    folder.mkdir()
    case = new_case("c1", "alice")
    case["lesions"].append(new_lesion("L1"))
    save_case(case, folder / "c1.json")
    outside = tmp_path / "outside.json"
    save_case(new_case("secret", "alice"), outside)
    (folder / "secret.json").symlink_to(outside)
    (folder / "inside.json").symlink_to(folder / "c1.json")  # inside the folder: read (and counted once)
    assert cli.main(["cohort", str(folder), "--quiet", "--no-figure"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("1 patients, 1 lesions, 1 files skipped")
    assert "secret.json" in captured.err and "outside the folder" in captured.err
    report_target = tmp_path / "report_elsewhere"
    report_target.mkdir()
    import shutil

    shutil.rmtree(folder / "cohort_report")  # the first run's report folder, replaced by a link
    (folder / "cohort_report").symlink_to(report_target, target_is_directory=True)
    assert cli.main(["cohort", str(folder), "--quiet", "--no-figure"]) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert list(report_target.iterdir()) == []
