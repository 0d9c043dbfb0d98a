"""Research sessions: create from a CSV, next/resume/done/progress, atomic autosave under kill -9,
two independent readers, consensus pre-fill, CLI."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ISCMAssistLib import case_io, cli
from ISCMAssistLib.case import new_case, new_lesion, set_reader_value, validate_case
from ISCMAssistLib.consensus import CONSENSUS_READER, build_consensus
from ISCMAssistLib.disagreement import match_lesions
from ISCMAssistLib.session import SessionError, check_name, create_session, open_session

REPO_ROOT = Path(__file__).resolve().parents[2]


def _write_csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.fixture()
def study(tmp_path: Path) -> Path:
    """A study folder: data/ with series of 3 cases (one missing), study/cases.csv naming them."""
    data = tmp_path / "data"
    for name in ("c1_t2", "c1_t1post", "c2_t2", "c3_t2"):
        (data / name).mkdir(parents=True)
    return _write_csv(
        tmp_path / "study" / "cases.csv",
        """
        case_id,role,path
        case-001,t2_sagittal,../data/c1_t2
        case-002,t2_sagittal,../data/c2_t2
        case-001,t1_post,../data/c1_t1post
        case-003,t2_sagittal,../data/c3_t2
        case-003,t1_post,../data/c3_missing
        """,
    )


@pytest.fixture()
def session_dir(tmp_path: Path, study: Path) -> Path:
    create_session(tmp_path / "sess", study, "alice")
    return tmp_path / "sess"


def _lesion(lesion_id: str, z: float, **values) -> dict:
    """A lesion with an S-I line centred at LPS z (mm) and reader values."""
    lesion = new_lesion(lesion_id)
    lesion["lines_lps"] = {"si": [[0.0, 0.0, z + 10.0], [0.0, 0.0, z - 10.0]]}
    for field, value in values.items():
        set_reader_value(lesion, field, value)
    return lesion


# ----- create / open


def test_create_groups_rows_by_case_stores_relative_paths_and_warns(tmp_path: Path, study: Path) -> None:
    session = create_session(tmp_path / "sess", study, "alice")
    document = json.loads((tmp_path / "sess" / "session.json").read_text())
    assert document["schema_version"] == "1.0.0"
    assert document["name"] == "sess"
    assert document["readers"] == ["alice"]
    assert document["created_at"].endswith("Z")
    assert [c["case_id"] for c in document["cases"]] == ["case-001", "case-002", "case-003"]
    # No folder name of the data reaches session.json (issue 12, item 8): the series are linked in.
    assert document["cases"][0]["series"] == [
        {"role": "t2_sagittal", "path": "series/case-001/t2_sagittal"},
        {"role": "t1_post", "path": "series/case-001/t1_post"},
    ]
    assert "data" not in (tmp_path / "sess" / "session.json").read_text()
    assert len(session.warnings) == 1
    assert "line 6" in session.warnings[0] and "c3_missing" in session.warnings[0]
    # The panel loads absolute paths: the links, which lead to the data.
    sess = tmp_path / "sess"
    assert session.series_paths("case-001") == [
        ("t2_sagittal", sess / "series" / "case-001" / "t2_sagittal"),
        ("t1_post", sess / "series" / "case-001" / "t1_post"),
    ]
    assert [p.resolve() for _, p in session.series_paths("case-001")] == [
        (tmp_path / "data" / "c1_t2").resolve(), (tmp_path / "data" / "c1_t1post").resolve()]
    # a new read names its series relative to its own folder, as export-sr resolves them (item 12)
    read = session.load_read("alice", "case-001")
    assert read["series"][0]["file"] == "../../series/case-001/t2_sagittal"
    assert (session.read_path("alice", "case-001").parent / read["series"][0]["file"]).resolve() == \
        (tmp_path / "data" / "c1_t2").resolve()
    assert open_session(tmp_path / "sess").case_ids == ["case-001", "case-002", "case-003"]


def test_paths_only_sharing_the_root_are_linked_too(tmp_path: Path) -> None:
    root_path = "/" + "_iscm_no_such_folder/t2"  # shares only "/" with tmp_path
    csv_path = _write_csv(tmp_path / "cases.csv", f"case_id,role,path\nc1,t2_sagittal,{root_path}\n")
    session = create_session(tmp_path / "sess", csv_path, "alice")
    assert json.loads((tmp_path / "sess" / "session.json").read_text())["cases"][0]["series"][0]["path"] == \
        "series/c1/t2_sagittal"
    assert os.readlink(session.series_paths("c1")[0][1]) == root_path


def test_create_refuses_an_existing_session(session_dir: Path, study: Path) -> None:
    with pytest.raises(SessionError, match="already exists"):
        create_session(session_dir, study, "bob")


@pytest.mark.parametrize(
    ("csv_text", "expected"),
    [
        ("case_id,path\nc1,x\n", r"line 1: header is 'case_id,path'"),
        ("case_id;role;path\nc1;t2_sagittal;x\n", r"line 1: .*separate columns with commas"),
        ("case_id,role,path\nc1,t2_sagittal,x\nc2,t3,y\n", r"line 3, column role: 't3' is not one of"),
        ("case_id,role,path\nc1,t2_sagittal,x\n../c2,t2_sagittal,y\n", r"line 3, column case_id: case_id '../c2'"),
        ("case_id,role,path\n\nc1,t2_sagittal,\n", r"line 3, column path: empty"),
        ("case_id,role,path\nc1,t2_sagittal,x\nc1,other,x\n", r"line 3, column path: 'x' is listed twice"),
        ("case_id,role,path\nc1,t2_sagittal,x,extra\n", r"line 2: 4 columns; expected 3"),
        ("case_id,role,path\nCase1,t2_sagittal,x\ncase1,t2_sagittal,y\n", r"line 3, column case_id: .* only in case"),
        ("case_id,role,path\n", r"no case rows"),
        ("", r"empty; expected the header"),
    ],
)
def test_bad_csv_errors_name_the_line_and_column(tmp_path: Path, csv_text: str, expected: str) -> None:
    csv_path = tmp_path / "cases.csv"
    csv_path.write_text(csv_text, encoding="utf-8")
    with pytest.raises(SessionError, match=expected) as info:
        create_session(tmp_path / "sess", csv_path, "alice")
    assert str(csv_path) in str(info.value)
    assert not (tmp_path / "sess" / "session.json").exists()


def test_missing_csv_and_missing_session_are_session_errors(tmp_path: Path) -> None:
    with pytest.raises(SessionError, match="nope.csv: cannot read"):
        create_session(tmp_path / "sess", tmp_path / "nope.csv", "alice")
    with pytest.raises(SessionError, match="is not a session folder"):
        open_session(tmp_path)
    (tmp_path / "session.json").write_text("{not json")
    with pytest.raises(SessionError, match="session.json: not valid JSON"):
        open_session(tmp_path)


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "con", "x" * 65, "a b", "case.state", None])
def test_unsafe_reader_names_are_refused(name) -> None:
    with pytest.raises(SessionError):
        check_name(name, "reader name")


def test_bad_reader_name_refused_everywhere(session_dir: Path, study: Path, tmp_path: Path) -> None:
    session = open_session(session_dir)
    with pytest.raises(SessionError, match="reader name '../evil'"):
        session.next_case("../evil")
    with pytest.raises(SessionError, match="reader name"):
        session.autosave("a/b", "case-001", new_case("case-001"))
    with pytest.raises(SessionError, match="reader name"):
        create_session(tmp_path / "other", study, "al ice")
    with pytest.raises(SessionError, match="no case 'case-999'"):
        session.load_read("alice", "case-999")


# ----- one reader: next, autosave, resume, done, progress


def test_next_resume_done_and_progress(session_dir: Path) -> None:
    session = open_session(session_dir)
    assert session.progress("alice") == (0, 3)
    assert session.next_case("alice") == "case-001"
    assert session.status("alice", "case-002") == "unread"

    # Reader opens case-002 out of order and edits it: it becomes the case to resume.
    case = session.load_read("alice", "case-002")
    case["lesions"].append(_lesion("L1", 100.0, position="central"))
    session.autosave("alice", "case-002", case, ui_state={"lesion": "L1", "slice_offset_mm": 12.5})
    reopened = open_session(session_dir)  # as after a restart
    assert reopened.next_case("alice") == "case-002"
    assert reopened.status("alice", "case-002") == "in_progress"
    assert reopened.load_read("alice", "case-002")["lesions"][0]["position"] == "central"
    assert reopened.load_state("alice", "case-002")["ui"] == {"lesion": "L1", "slice_offset_mm": 12.5}
    assert reopened.progress("alice") == (0, 3)

    reopened.mark_done("alice", "case-002")
    assert reopened.next_case("alice") == "case-001"
    assert reopened.progress("alice") == (1, 3)
    assert reopened.reader_progress("alice").text() == "alice: 1 of 3 read"

    # Editing a done case keeps it done; reopen sets it back in progress.
    case = reopened.load_read("alice", "case-002")
    case["notes"] = "second look"
    reopened.autosave("alice", "case-002", case)
    assert reopened.status("alice", "case-002") == "done"
    assert reopened.load_state("alice", "case-002")["ui"] == {"lesion": "L1", "slice_offset_mm": 12.5}
    reopened.reopen("alice", "case-002")
    assert reopened.next_case("alice") == "case-002"
    reopened.mark_done("alice", "case-002")

    # Done without any saved read is refused: an empty read would be counted as a reading.
    with pytest.raises(SessionError, match="no saved read"):
        reopened.mark_done("alice", "case-003")
    assert not (session_dir / "reads/alice/case-003.json").exists()
    for case_id in ("case-001", "case-003"):
        reopened.autosave("alice", case_id, reopened.load_read("alice", case_id))
        reopened.mark_done("alice", case_id)
    assert reopened.next_case("alice") is None
    assert reopened.progress("alice") == (3, 3)


def test_open_case_gives_series_read_and_ui_state(session_dir: Path, tmp_path: Path) -> None:
    session = open_session(session_dir)
    first = session.open_case("alice")
    assert (first.case_id, first.status, first.ui, first.case["lesions"]) == ("case-001", "unread", {}, [])
    assert first.series[0][0] == "t2_sagittal"
    assert first.series[0][1].resolve() == (tmp_path / "data" / "c1_t2").resolve()
    case = first.case
    case["lesions"].append(_lesion("L1", 50.0, position="exophytic"))
    session.autosave("alice", "case-001", case, ui_state={"lesion": "L1"})
    resumed = open_session(session_dir).open_case("alice")
    assert resumed.case_id == "case-001" and resumed.status == "in_progress"
    assert resumed.ui == {"lesion": "L1"} and resumed.case["lesions"][0]["position"] == "exophytic"
    assert session.open_case("alice", "case-003").series[1][0] == "t1_post"
    assert session.scene_folder("alice", "case-001") == session_dir / "scenes" / "alice" / "case-001"
    assert session.read_files("alice") == {"case-001": session_dir / "reads" / "alice" / "case-001.json"}
    assert session.read_files("alice", only_done=True) == {}
    for case_id in session.case_ids:
        session.autosave("alice", case_id, session.load_read("alice", case_id))
        session.mark_done("alice", case_id)
    assert session.open_case("alice") is None
    assert list(session.read_files("alice", only_done=True)) == ["case-001", "case-002", "case-003"]


def test_resume_prefers_the_most_recently_saved_case(session_dir: Path) -> None:
    session = open_session(session_dir)
    for case_id in ("case-003", "case-001"):
        session.autosave("alice", case_id, session.load_read("alice", case_id))
    assert session.next_case("alice") == "case-001"
    session.save_ui_state("alice", "case-003", {"lesion": None})
    assert session.next_case("alice") == "case-003"


def test_new_read_has_reader_and_series_and_is_valid(session_dir: Path) -> None:
    case = open_session(session_dir).load_read("bob", "case-001")
    validate_case(case)
    assert case["case_id"] == "case-001"
    assert case["reader"]["name"] == "bob"
    assert case["series"] == [
        {"role": "t2_sagittal", "file": "../../series/case-001/t2_sagittal"},
        {"role": "t1_post", "file": "../../series/case-001/t1_post"},
    ]
    assert not (session_dir / "reads" / "bob").exists()  # loading writes nothing


def test_autosave_refuses_wrong_case_reader_invalid_case_and_ui(session_dir: Path) -> None:
    session = open_session(session_dir)
    with pytest.raises(SessionError, match="case_id 'case-002'"):
        session.autosave("alice", "case-001", new_case("case-002"))
    with pytest.raises(SessionError, match="read by 'bob', not 'alice'"):
        session.autosave("alice", "case-001", new_case("case-001", "bob"))
    with pytest.raises(SessionError, match="UI state of alice/case-001"):
        session.autosave("alice", "case-001", new_case("case-001"), ui_state={"x": object()})
    bad = new_case("case-001")
    bad["lesions"].append({"id": "L1", "position": "middle"})
    with pytest.raises(ValueError, match=r"lesions\[0\]\.position"):
        session.autosave("alice", "case-001", bad)
    assert session.status("alice", "case-001") == "unread"
    # A read without a name gets the reader's; the caller's dict is not changed.
    unnamed = new_case("case-001")
    session.autosave("alice", "case-001", unnamed)
    assert unnamed["reader"]["name"] is None
    assert session.load_read("alice", "case-001")["reader"]["name"] == "alice"


def test_read_without_state_file_counts_as_in_progress(session_dir: Path) -> None:
    """Killed between writing the read and its state: the read is still found and resumed."""
    session = open_session(session_dir)
    session.autosave("alice", "case-003", session.load_read("alice", "case-003"))
    session.state_path("alice", "case-003").unlink()
    assert session.status("alice", "case-003") == "in_progress"
    assert session.next_case("alice") == "case-003"


def test_progress_callback_counts_cases(session_dir: Path) -> None:
    calls = []
    open_session(session_dir).next_case("alice", progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]


# ----- kill -9 during autosave

_CHILD = textwrap.dedent(
    """
    import sys
    from ISCMAssistLib.case import new_lesion
    from ISCMAssistLib.session import open_session

    session = open_session(sys.argv[1])
    case = session.load_read("alice", "case-002")  # resume what is on disk
    version = int(case["notes"].split()[1]) + 1 if case["notes"] else 0
    first = version
    while True:
        case["notes"] = f"version {version}"
        case["lesions"] = []
        for number in range(1, 2 + version % 20):
            lesion = new_lesion(f"L{number}")
            lesion["lines_lps"] = {"si": [[0.0, 0.0, float(number)], [0.0, 0.0, number + 9.5]]}
            lesion["position"] = "central"
            case["lesions"].append(lesion)
        session.autosave("alice", "case-002", case, ui_state={"version": version})
        if version == first:
            print(version, flush=True)  # tell the parent a save happened, then keep saving
        version += 1
    """
)


def _check_on_disk(session_dir: Path) -> int:
    """The read on disk is one complete version; its state is that version or the one before. Returns it."""
    session = open_session(session_dir)
    case = case_io.load_case(session.read_path("alice", "case-002"))
    version = int(case["notes"].split()[1])
    assert len(case["lesions"]) == 1 + version % 20
    assert all(lesion["position"] == "central" for lesion in case["lesions"])
    state = session.load_state("alice", "case-002")
    assert state["status"] == "in_progress"
    assert state["ui"]["version"] in (version - 1, version)
    assert session.next_case("alice") == "case-002"
    return version


def test_autosave_survives_kill_9(session_dir: Path) -> None:
    rng = random.Random(7)
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "ISCMAssist") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    last = -1
    kills = 0
    for _ in range(12):
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(session_dir)], stdout=subprocess.PIPE, env=env, text=True
        )
        first = int(child.stdout.readline())
        assert first == last + 1, "the child resumes right after the last version on disk"
        time.sleep(rng.uniform(0.01, 0.15))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        assert child.returncode == -signal.SIGKILL
        kills += 1
        version = _check_on_disk(session_dir)
        assert version >= first
        last = version
    assert kills >= 10
    assert last > 12  # the children wrote many versions between kills
    # Temp files of interrupted writes do not disturb the session.
    assert open_session(session_dir).readers == ["alice"]


# ----- two readers and consensus


def test_two_readers_are_independent(session_dir: Path) -> None:
    session = open_session(session_dir)
    session.autosave("alice", "case-001", session.load_read("alice", "case-001"))
    session.mark_done("alice", "case-001")
    assert session.next_case("bob") == "case-001"
    bob_case = session.load_read("bob", "case-001")
    assert bob_case["reader"]["name"] == "bob" and bob_case["lesions"] == []
    session.autosave("bob", "case-003", session.load_read("bob", "case-003"))
    assert session.next_case("alice") == "case-002"
    assert session.next_case("bob") == "case-003"
    table = {row.reader: (row.done, row.in_progress, row.unread) for row in session.progress_table()}
    assert table == {"alice": (1, 0, 2), "bob": (0, 1, 2)}
    assert json.loads((session_dir / "session.json").read_text())["readers"] == ["alice", "bob"]


def _two_reads() -> tuple[dict, dict]:
    alice = new_case("case-001", "alice")
    bob = new_case("case-001", "bob")
    # Alice: lesions at z=100 (upper) and z=0 (lower). Bob lists them in the other order, plus one at z=-200.
    alice["lesions"] = [
        _lesion("L1", 100.0, position="central", enhancement="homogeneous", hemorrhage=False),
        _lesion("L2", 0.0, position="eccentric", enhancement="heterogeneous", rim_sign=True),
    ]
    alice["lesions"][0]["size_mm"] = {"ap": 6.0, "transverse": 7.0, "si": 20.0}
    alice["lesions"][0]["provenance"]["size_mm"] = "derived"
    bob["lesions"] = [
        _lesion("L1", 2.0, position="eccentric", enhancement="heterogeneous", rim_sign=True),
        _lesion("L2", 101.0, position="central", enhancement="homogeneous", hemorrhage=True),
        _lesion("L3", -200.0, position="central"),
    ]
    bob["lesions"][1]["size_mm"] = {"ap": 6.8, "transverse": 9.0, "si": 20.0}
    alice["patient_findings"]["leptomeningeal_sites"] = ["cord_conus", "cauda_equina"]
    bob["patient_findings"]["leptomeningeal_sites"] = ["cauda_equina", "cord_conus"]
    alice["clinical"]["age_years"] = 58
    bob["clinical"]["age_years"] = 61
    return alice, bob


def test_match_lesions_pairs_by_position_not_order() -> None:
    alice, bob = _two_reads()
    assert match_lesions(alice["lesions"], bob["lesions"]) == [(0, 1), (1, 0), (None, 2)]
    # Without lines, by id.
    plain_a, plain_b = [new_lesion("L1"), new_lesion("L2")], [new_lesion("L2")]
    assert match_lesions(plain_a, plain_b) == [(0, None), (1, 0)]


def test_build_consensus_prefills_agreement_and_nulls_disputes() -> None:
    alice, bob = _two_reads()
    draft, disagreements = build_consensus({"alice": alice, "bob": bob}, "case-001")
    validate_case(draft)
    assert draft["reader"]["name"] == CONSENSUS_READER
    upper, lower, extra = draft["lesions"]
    assert [lesion["id"] for lesion in draft["lesions"]] == ["L1", "L2", "L3"]
    # Agreed: copied, with the first reader's provenance and lines.
    assert upper["position"] == "central" and upper["enhancement"] == "homogeneous"
    assert upper["provenance"]["position"] == "reader"
    assert upper["lines_lps"] == alice["lesions"][0]["lines_lps"]
    assert upper["size_mm"] == {"ap": 6.0, "transverse": None, "si": 20.0}  # 0.8 mm apart agrees; 2 mm does not
    # Disputed: null and marked "reader" so recomputation cannot fill it.
    assert upper["hemorrhage"] is None and upper["provenance"]["hemorrhage"] == "reader"
    assert upper["provenance"]["size_mm.transverse"] == "reader"
    assert lower["position"] == "eccentric" and lower["enhancement"] == "heterogeneous" and lower["rim_sign"] is True
    # Only bob's third lesion: kept with its lines, no values.
    assert extra["lines_lps"] == bob["lesions"][2]["lines_lps"] and extra["position"] is None
    assert draft["patient_findings"]["leptomeningeal_sites"] == ["cord_conus", "cauda_equina"]
    assert draft["clinical"]["age_years"] is None
    found = {d.field: d.values for d in disagreements}
    assert found["lesions[0].hemorrhage"] == {"alice": False, "bob": True}
    assert found["lesions[0].size_mm.transverse"] == {"alice": 7.0, "bob": 9.0}
    assert sorted(found) == [
        "clinical.age_years",
        "lesions[0].hemorrhage",
        "lesions[0].size_mm.transverse",
        "lesions[2]",
    ]
    assert found["lesions[2]"] == {"alice": None, "bob": "L3"}
    assert "lesions[0].hemorrhage: alice=false, bob=true" in draft["notes"]


def test_build_consensus_lower_lesion_disagreement() -> None:
    alice, bob = _two_reads()
    bob["lesions"][0]["position"] = "exophytic"
    _, disagreements = build_consensus({"alice": alice, "bob": bob}, "case-001")
    found = {d.field: d.values for d in disagreements}
    assert found["lesions[1].position"] == {"alice": "eccentric", "bob": "exophytic"}


def test_start_consensus_saves_a_third_reader(session_dir: Path) -> None:
    session = open_session(session_dir)
    alice, bob = _two_reads()
    with pytest.raises(SessionError, match="reader 'alice' has no saved read"):
        session.start_consensus("case-001", ["alice", "bob"])
    session.autosave("alice", "case-001", alice)
    session.autosave("bob", "case-001", bob)
    with pytest.raises(SessionError, match="two or more different readers"):
        session.start_consensus("case-001", ["alice"])
    draft = session.start_consensus("case-001", ["alice", "bob"])
    assert draft["series"][0] == {"role": "t2_sagittal", "file": "../../series/case-001/t2_sagittal"}
    saved = session.load_read(CONSENSUS_READER, "case-001")
    assert saved["lesions"][0]["hemorrhage"] is None and len(saved["lesions"]) == 3
    assert session.status(CONSENSUS_READER, "case-001") == "in_progress"
    assert [d.field for d in session.disagreements("case-001")] == [
        "lesions[0].hemorrhage", "lesions[0].size_mm.transverse", "lesions[2]", "clinical.age_years"
    ]
    assert session.readers == ["alice", "bob", CONSENSUS_READER]
    with pytest.raises(SessionError, match="already exists"):
        session.start_consensus("case-001", ["alice", "bob"])
    session.mark_done(CONSENSUS_READER, "case-001")
    assert session.progress(CONSENSUS_READER) == (1, 3)
    assert len(session.disagreements("case-001")) == 4  # kept through later saves
    session.start_consensus("case-001", ["bob", "alice"], overwrite=True)
    assert session.status(CONSENSUS_READER, "case-001") == "in_progress"


# ----- CLI


def test_cli_create_status_next_done_consensus(tmp_path: Path, study: Path, capsys) -> None:
    directory = str(tmp_path / "sess")
    assert cli.main(["session", "create", directory, "--cases", str(study), "--reader", "alice"]) == 0
    out, err = capsys.readouterr()
    assert "3 cases" in out and "c3_missing" in err

    assert cli.main(["session", "next", directory, "--reader", "alice"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "case-001"
    assert lines[1] == f"t2_sagittal\t{tmp_path / 'sess' / 'series' / 'case-001' / 't2_sagittal'}"

    assert cli.main(["session", "done", directory, "--reader", "alice", "--case", "case-001"]) == 2
    assert "no saved read" in capsys.readouterr().err
    open_session(directory).autosave("alice", "case-001", open_session(directory).load_read("alice", "case-001"))
    assert cli.main(["session", "done", directory, "--reader", "alice", "--case", "case-001"]) == 0
    assert "alice: 1 of 3 read" in capsys.readouterr().out
    assert cli.main(["session", "next", directory, "--reader", "bob"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "case-001"

    assert cli.main(["session", "status", directory]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "session 'sess': 3 cases"
    assert table[2].split() == ["alice", "1", "of", "3", "0", "2"]
    assert table[3].split() == ["bob", "0", "of", "3", "0", "3"]

    session = open_session(directory)
    alice, bob = _two_reads()
    session.autosave("alice", "case-001", alice)
    session.autosave("bob", "case-001", bob)
    assert cli.main(["session", "consensus", directory, "--case", "case-001", "--readers", "alice", "bob"]) == 0
    out = capsys.readouterr().out
    assert "4 disagreement(s) to settle:" in out and "clinical.age_years: alice=58, bob=61" in out

    assert cli.main(["session", "done", directory, "--reader", "alice", "--case", "nope"]) == 2
    assert "no case 'nope'" in capsys.readouterr().err


def test_recomputing_a_consensus_draft_keeps_agreed_values_and_disputes_open() -> None:
    from ISCMAssistLib.read import compute_read

    def read(reader: str, transverse_mm: float) -> dict:
        case = new_case("case-001", reader)
        lesion = new_lesion("L1")
        lesion["lines_lps"] = {
            "si": [[0.0, 0.0, 110.0], [0.0, 0.0, 90.0]],  # 20 mm
            "ap": [[0.0, -3.0, 100.0], [0.0, 3.0, 100.0]],  # 6 mm
            "transverse": [[-transverse_mm / 2, 0.0, 100.0], [transverse_mm / 2, 0.0, 100.0]],
        }
        case["lesions"].append(lesion)
        return compute_read(case, None)

    alice, bob = read("alice", 7.0), read("bob", 9.0)
    assert bob["lesions"][0]["size_mm"] == {"ap": 6.0, "transverse": 9.0, "si": 20.0}
    draft, disagreements = build_consensus({"alice": alice, "bob": bob}, "case-001")
    assert [d.field for d in disagreements] == ["lesions[0].size_mm.transverse"]
    compute_read(draft, None)
    assert draft["lesions"][0]["size_mm"] == {"ap": 6.0, "transverse": None, "si": 20.0}
    assert draft["patient_findings"]["multiplicity"] == "solitary"


def _random_read(rng: random.Random, reader: str) -> dict:
    from ISCMAssistLib.case import LESION_FEATURES, PATIENT_FEATURES

    case = new_case("case-001", reader)
    for number in range(1, rng.randint(1, 4)):
        lesion = _lesion(f"L{number}", 60.0 * number)
        for feature in LESION_FEATURES:
            if feature.kind in ("enum", "boolean") and feature.name != "origin":
                set_reader_value(lesion, feature.name, rng.choice(list(feature.values) + [None]))
        set_reader_value(lesion, "size_mm", {"ap": rng.uniform(1, 9), "transverse": None, "si": rng.uniform(5, 40)})
        set_reader_value(lesion, "t2_length_segments", rng.choice([None, 1, 3, 7]))
        case["lesions"].append(lesion)
    for feature in PATIENT_FEATURES:
        if feature.kind == "boolean":
            set_reader_value(case["patient_findings"], feature.name, rng.choice([True, False, None]))
    return case


@pytest.mark.parametrize("seed", range(20))
def test_consensus_of_identical_reads_has_no_disagreement(seed: int) -> None:
    read = _random_read(random.Random(seed), "alice")
    other = json.loads(json.dumps(read))
    other["reader"]["name"] = "bob"
    other["lesions"].reverse()  # order does not matter: lesions are paired by position
    draft, disagreements = build_consensus({"alice": read, "bob": other}, "case-001")
    validate_case(draft)
    assert disagreements == []
    for mine, theirs in zip(draft["lesions"], read["lesions"]):
        assert {k: v for k, v in mine.items() if k != "id"} == {k: v for k, v in theirs.items() if k != "id"}
    assert draft["patient_findings"] == read["patient_findings"]
