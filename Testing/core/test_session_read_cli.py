"""``iscm-assist session read``: a research session read without Slicer, from .mrk.json files or a
case JSON; export-sr then finds the session's series by itself (issue 12, item 12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ISCMAssistLib import cli
from ISCMAssistLib.demo import run_demo
from ISCMAssistLib.session import open_session


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "iscm-demo"
    run_demo(out)
    return out


def test_session_read_from_markups_then_done_and_export_sr(demo, tmp_path, capsys):
    csv = tmp_path / "cases.csv"
    csv.write_text(f"case_id,role,path\ndemo-001,t2_sagittal,{demo / 'dicom' / 't2'}\n"
                   f"demo-001,t1_post,{demo / 'dicom' / 't1_post'}\n", encoding="utf-8")
    directory = tmp_path / "sess"
    assert cli.main(["session", "create", str(directory), "--cases", str(csv), "--reader", "alice"]) == 0
    markups = sorted(str(p) for p in (demo / "markups").glob("*.mrk.json"))
    assert cli.main(["session", "read", str(directory), "--reader", "alice", "--case", "demo-001",
                     "--markups", *markups]) == 0
    assert "read of alice saved (1 lesion)" in capsys.readouterr().out
    read = open_session(directory).load_read("alice", "demo-001")
    expected = json.loads((demo / "case.json").read_text(encoding="utf-8"))["lesions"][0]
    lesion = read["lesions"][0]
    assert (lesion["levels"], lesion["enhancement_length_segments"], lesion["t2_length_segments"]) == \
        (expected["levels"], expected["enhancement_length_segments"], expected["t2_length_segments"])
    assert lesion["size_mm"] == expected["size_mm"]
    assert cli.main(["session", "done", str(directory), "--reader", "alice", "--case", "demo-001"]) == 0
    assert cli.main(["session", "next", str(directory), "--reader", "alice"]) == 0
    assert "all 1 cases done" in capsys.readouterr().err
    # export-sr without --series: the read's series files resolve from its own folder
    sr_path = tmp_path / "r.dcm"
    read_path = directory / "reads" / "alice" / "demo-001.json"
    assert cli.main(["export-sr", str(read_path), "--out", str(sr_path)]) == 0, capsys.readouterr().err
    assert sr_path.stat().st_size > 0


def test_session_read_from_a_case_json_and_bad_markups(demo, tmp_path, capsys):
    csv = tmp_path / "cases.csv"
    csv.write_text(f"case_id,role,path\ndemo-001,t2_sagittal,{demo / 'dicom' / 't2'}\n", encoding="utf-8")
    directory = tmp_path / "sess"
    assert cli.main(["session", "create", str(directory), "--cases", str(csv), "--reader", "demo-reader"]) == 0
    assert cli.main(["session", "read", str(directory), "--reader", "demo-reader", "--case", "demo-001",
                     "--case-json", str(demo / "case.json"), "--done"]) == 0
    assert open_session(directory).status("demo-reader", "demo-001") == "done"
    capsys.readouterr()
    assert cli.main(["session", "read", str(directory), "--reader", "bob", "--case", "demo-001",
                     "--case-json", str(demo / "case.json")]) == 2  # another reader's read
    assert "demo-reader" in capsys.readouterr().err
    bad = tmp_path / "bad.mrk.json"
    from ISCMAssistLib.markups_io import write_line

    write_line(bad, [0, 0, 0], [0, 0, 10], name="Lesion 1 diagonal")
    assert cli.main(["session", "read", str(directory), "--reader", "bob", "--case", "demo-001",
                     "--markups", str(bad)]) == 2
    assert "'diagonal' is not one of SI, AP, transverse, edema SI" in capsys.readouterr().err
    assert cli.main(["session", "read", str(directory), "--reader", "bob", "--case", "demo-001"]) == 2
