"""Concurrency (issue 12, item 9): advisory locks on session.json and on each case's read + state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ISCMAssistLib import files
from ISCMAssistLib.case import new_case
from ISCMAssistLib.session import create_session, open_session

MODULE_DIR = Path(__file__).resolve().parents[2] / "ISCMAssist"
fcntl = pytest.importorskip("fcntl")


@pytest.fixture()
def session_dir(tmp_path: Path) -> Path:
    csv = tmp_path / "cases.csv"
    csv.write_text("case_id,role,path\ncase-001,t2_sagittal,data/c1\n", encoding="utf-8")
    create_session(tmp_path / "sess", csv, "alice")
    return tmp_path / "sess"


def test_eight_parallel_new_readers_are_all_kept(session_dir):
    env = dict(os.environ, PYTHONPATH=str(MODULE_DIR))
    children = [subprocess.Popen([sys.executable, "-m", "ISCMAssistLib.cli", "session", "next", str(session_dir),
                                  "--reader", f"reader{n}"], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE) for n in range(8)]
    for child in children:
        assert child.wait(timeout=120) == 0, child.stderr.read()
        child.stderr.close()
    readers = json.loads((session_dir / "session.json").read_text())["readers"]
    assert sorted(readers) == sorted(["alice"] + [f"reader{n}" for n in range(8)])


def test_a_second_writer_of_a_case_waits_then_is_told_it_is_open_elsewhere(session_dir, monkeypatch):
    monkeypatch.setattr(files, "LOCK_WAIT_SECONDS", 0.3)
    holder, writer = open_session(session_dir), open_session(session_dir)
    with holder.case_lock("alice", "case-001"):
        with pytest.raises(files.LockedError, match="case case-001 of reader alice is open elsewhere"):
            writer.autosave("alice", "case-001", new_case("case-001", "alice"))
        holder.autosave("alice", "case-001", new_case("case-001", "alice"))  # re-entrant for its holder
    writer.autosave("alice", "case-001", new_case("case-001", "alice"))  # free again
    assert writer.status("alice", "case-001") == "in_progress"


def test_a_bad_updated_at_is_a_one_line_error(session_dir):
    session = open_session(session_dir)
    session.autosave("alice", "case-001", new_case("case-001", "alice"))
    session.state_path("alice", "case-001").write_text('{"status": "in_progress", "updated_at": 5}')
    from ISCMAssistLib.session import SessionError

    with pytest.raises(SessionError, match="updated_at"):
        session.next_case("alice")
