"""Atomic writes: old or new complete version, never a torn file; no temp left on failure."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ISCMAssistLib import files
from ISCMAssistLib.files import FileWriteError, atomic_write_bytes, atomic_write_text


def leftovers(folder: Path, name: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{name}.") and p.name.endswith(".tmp"))


def test_write_creates_and_replaces(tmp_path):
    target = tmp_path / "a.json"
    atomic_write_text(target, "first\n")
    assert target.read_text() == "first\n"
    atomic_write_text(str(target), "second")
    assert target.read_text() == "second"
    atomic_write_bytes(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert leftovers(tmp_path, "a.json") == []


def test_text_is_utf8_and_newlines_are_kept(tmp_path):
    target = tmp_path / "t.txt"
    atomic_write_text(target, "µm\r\nT4–T5\n")
    assert target.read_bytes() == "µm\r\nT4–T5\n".encode("utf-8")


def test_failure_during_write_keeps_old_file_and_removes_temp(tmp_path, monkeypatch):
    target = tmp_path / "case.json"
    target.write_text("old")

    def broken_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(files.os, "fsync", broken_fsync)
    with pytest.raises(FileWriteError, match=r"case\.json: cannot write: Input/output error"):
        atomic_write_text(target, "new" * 1000)
    assert target.read_text() == "old"
    assert leftovers(tmp_path, "case.json") == []


def test_failure_at_replace_keeps_old_file_and_removes_temp(tmp_path, monkeypatch):
    target = tmp_path / "case.json"
    target.write_text("old")

    def broken_replace(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files.os, "replace", broken_replace)
    with pytest.raises(FileWriteError, match="Permission denied"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert leftovers(tmp_path, "case.json") == []


def test_keyboard_interrupt_mid_write_cleans_up_and_propagates(tmp_path, monkeypatch):
    target = tmp_path / "x.txt"
    target.write_text("old")

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(target, "new")
    assert target.read_text() == "old" and leftovers(tmp_path, "x.txt") == []


def test_missing_folder_names_the_file(tmp_path):
    target = tmp_path / "nope" / "case.json"
    with pytest.raises(FileWriteError) as info:
        atomic_write_text(target, "x")
    assert str(info.value) == f"{target}: cannot write: folder does not exist"
    assert isinstance(info.value, OSError)


def test_unencodable_text_writes_nothing(tmp_path):
    target = tmp_path / "x.txt"
    target.write_text("old")
    with pytest.raises(FileWriteError, match="cannot be encoded as ascii"):
        atomic_write_text(target, "µ", encoding="ascii")
    assert target.read_text() == "old" and leftovers(tmp_path, "x.txt") == []


def test_modes_new_file_uses_umask_existing_keeps_its_mode(tmp_path):
    old_umask = os.umask(0o027)
    try:
        fresh = tmp_path / "fresh.txt"
        atomic_write_text(fresh, "x")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o640
    finally:
        os.umask(old_umask)
    kept = tmp_path / "kept.txt"
    kept.write_text("x")
    os.chmod(kept, 0o604)
    atomic_write_text(kept, "y")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o604


def test_symlink_is_never_written_through(tmp_path):
    """Issue 12, item 7: a link planted where a file is written cannot send the write elsewhere."""
    from ISCMAssistLib.files import FileWriteError

    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    with pytest.raises(FileWriteError, match="is a symbolic link"):
        atomic_write_text(link, "new")
    assert link.is_symlink() and real.read_text() == "old"


def test_stale_temp_files_of_killed_writes_are_removed_on_the_next_write(tmp_path):
    """Issue 12, item 8: temp files of killed writes (they can hold patient data) do not pile up."""
    target = tmp_path / "case.json"
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a process id that is gone
    dead = tmp_path / f".case.json.{child.pid}.abc123.tmp"
    dead.write_text("patient data")
    live = tmp_path / f".case.json.{os.getppid()}.def456.tmp"  # a running process: maybe mid-write
    live.write_text("x")
    other = tmp_path / f".other.json.{child.pid}.x.tmp"
    other.write_text("x")
    atomic_write_text(target, "{}")
    assert not dead.exists() and live.exists() and other.exists()
    assert leftovers(tmp_path, "case.json") == [live.name]


CHILD = r"""
import hashlib, json, sys
from ISCMAssistLib.files import atomic_write_text
path, size = sys.argv[1], int(sys.argv[2])
version = int(sys.argv[3])
print("ready", flush=True)
while True:
    version += 1
    data = (str(version) * (size // len(str(version)) + 1))[:size]
    atomic_write_text(path, json.dumps({"version": version, "sha": hashlib.sha256(data.encode()).hexdigest(), "data": data}))
"""


def read_version(path: Path) -> int:
    """Parse the file and check it is one complete version; return its number."""
    document = json.loads(path.read_text())
    assert hashlib.sha256(document["data"].encode()).hexdigest() == document["sha"]
    return document["version"]


def test_sigkill_mid_write_never_leaves_a_torn_file(tmp_path):
    target = tmp_path / "big.json"
    size = 2_000_000
    data = "0" * size
    atomic_write_text(target, json.dumps({"version": 0, "sha": hashlib.sha256(data.encode()).hexdigest(), "data": data}))
    rng = random.Random(20261125)
    versions = [0]
    kills = 0
    for _ in range(24):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(target), str(size), str(versions[-1])],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert child.stdout.readline() == b"ready\n"
        child.stdout.close()
        # Kill at a random moment of the write loop: mid-write, mid-fsync, mid-rename or between writes.
        time.sleep(rng.uniform(0.0, 0.3))
        child.send_signal(signal.SIGKILL)
        child.wait()
        stderr = child.stderr.read().decode()
        child.stderr.close()
        assert child.returncode == -signal.SIGKILL, stderr
        kills += 1
        version = read_version(target)  # the old or a new complete version
        assert version >= versions[-1]
        versions.append(version)
    assert kills >= 20
    # Writes did happen between kills (not a test of nothing): the version moved on.
    assert len(set(versions)) >= 5, versions
    # A SIGKILL can strand a temp file (it cannot be cleaned up); the target itself is never torn.
    for name in leftovers(tmp_path, "big.json"):
        assert name.startswith(".big.json.")
