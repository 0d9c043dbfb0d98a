"""Every sub-command on a corpus of bad files: a one-line error (exit 2) or a skip with a warning,
never a traceback (issue 12, item 10). The corpus size and result are in the README."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from ISCMAssistLib import cli
from ISCMAssistLib.case import new_case, new_lesion
from ISCMAssistLib.case_io import save_case
from ISCMAssistLib.markups_io import write_point_list

MODULE_DIR = Path(__file__).resolve().parents[2] / "ISCMAssist"
DEEP = 100_000


def _markups(units=None, position=None, deep=False) -> str:
    if deep:
        return '{"markups": [' + '{"a": ' * DEEP + "1" + "}" * DEEP + "]}"
    point = {"id": "1", "label": "T4", "position": position or [0, 0, 0], "positionStatus": "defined"}
    markup = {"type": "Fiducial", "coordinateSystem": "LPS", "controlPoints": [point, dict(point, label="T5")]}
    if units is not None:
        markup["coordinateUnits"] = units
    return json.dumps({"markups": [markup]})


def build_corpus(root: Path) -> dict[str, list[Path]]:
    """Write the bad files; return them by kind (case, markups, image, folder, csv, session)."""
    root.mkdir(parents=True, exist_ok=True)
    case_texts = {
        "deep.json": '{"a": ' * DEEP + "1" + "}" * DEEP,
        "deep_list.json": "[" * DEEP + "]" * DEEP,
        "huge_int.json": json.dumps(new_case("big")).replace('"age_years": null', '"age_years": 1' + "0" * 400),
        "huge_float.json": json.dumps(new_case("big")).replace('"age_years": null', '"age_years": 1e400'),
        "surrogate_id.json": json.dumps(new_case("x")).replace('"case_id": "x"', '"case_id": "\\udc80"'),
        "list.json": "[]",
        "empty.json": "",
        "garbage.json": "\x00\xff binary",
        "not_utf8.json": None,
    }
    cases = []
    for name, text in case_texts.items():
        path = root / name
        if text is None:
            path.write_bytes(b'{"case_id": "\xff"}')
        else:
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
        cases.append(path)
    duplicate = new_case("dup")
    duplicate["lesions"] = [new_lesion("L1"), new_lesion("L1")]
    (root / "dup_lesions.json").write_text(json.dumps(duplicate), encoding="utf-8")
    cases.append(root / "dup_lesions.json")

    markups = []
    for name, text in {"units_list.mrk.json": _markups(units=["mm", "x"]), "units_dict.mrk.json": _markups(units={"u": 1}),
                       "units_list_list.mrk.json": _markups(units=[["mm"]]),
                       "huge.mrk.json": _markups(position=[10**400, 0, 0]).replace("'", ""),
                       "deep.mrk.json": _markups(deep=True), "empty.mrk.json": ""}.items():
        (root / name).write_text(text, encoding="utf-8")
        markups.append(root / name)

    images = []
    data = np.zeros((6, 6, 6))
    nib.save(nib.Nifti1Image(data.astype(np.complex64), np.eye(4)), root / "complex.nii.gz")
    rgb = np.zeros((6, 6, 6), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    nib.save(nib.Nifti1Image(rgb, np.eye(4)), root / "rgb.nii.gz")
    (root / "empty.nii").write_bytes(b"")
    (root / "garbage.nii.gz").write_bytes(b"\x1f\x8b" + os.urandom(200))
    with open(root / "zeros.dcm", "wb") as handle:
        handle.write(b"\0" * 128 + b"DICM")
        handle.truncate(2**20)
    (root / "garbage.dcm").write_bytes(os.urandom(4096))
    images += [root / n for n in ("complex.nii.gz", "rgb.nii.gz", "empty.nii", "garbage.nii.gz", "zeros.dcm", "garbage.dcm")]

    csvs = []
    (root / "nul.csv").write_text("case_id,role,path\nc1,t2_sagittal,da\x00ta/t2\n", encoding="utf-8")
    (root / "surrogate.csv").write_bytes(b"case_id,role,path\n\xed\xb2\x80,t2_sagittal,x\n")
    csvs += [root / "nul.csv", root / "surrogate.csv"]

    sessions = []
    for name, document, state in (("deep_session", '{"a": ' * DEEP + "1" + "}" * DEEP, None),
                                  ("bad_state", None, '{"status": "in_progress", "updated_at": 5}'),
                                  ("deep_state", None, "[" * DEEP + "]" * DEEP)):
        folder = root / name
        (folder / "reads" / "alice").mkdir(parents=True)
        good = {"schema_version": "1.0.0", "name": name, "readers": ["alice"],
                "cases": [{"case_id": "c1", "series": []}]}
        (folder / "session.json").write_text(document or json.dumps(good), encoding="utf-8")
        if state:
            save_case(new_case("c1", "alice"), folder / "reads" / "alice" / "c1.json")
            (folder / "reads" / "alice" / "c1.state.json").write_text(state, encoding="utf-8")
        sessions.append(folder)
    return {"case": cases, "markups": markups, "image": images, "csv": csvs, "session": sessions}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict[str, list[Path]], dict[str, Path]]:
    root = tmp_path_factory.mktemp("bad")
    files = build_corpus(root / "bad")
    good = root / "good"
    good.mkdir()
    image = np.zeros((20, 20, 20), np.int16)
    image[5:15, 8:12, 8:12] = 100
    nib.save(nib.Nifti1Image(image, np.eye(4)), good / "t2.nii.gz")
    nib.save(nib.Nifti1Image((image > 0).astype(np.uint8), np.eye(4)), good / "mask.nii.gz")
    write_point_list(good / "levels.mrk.json", ["T4", "T5"], np.array([[10.0, 10.0, 15.0], [10.0, 10.0, 5.0]]), "levels")
    save_case(new_case("good"), good / "case.json")
    (good / "cases.csv").write_text("case_id,role,path\nc1,t2_sagittal,t2.nii.gz\n", encoding="utf-8")
    from ISCMAssistLib.session import create_session

    create_session(good / "sess", good / "cases.csv", "alice")
    return root, files, {"volume": good / "t2.nii.gz", "mask": good / "mask.nii.gz",
                         "levels": good / "levels.mrk.json", "case": good / "case.json", "session": good / "sess"}


def _runs(root: Path, files: dict[str, list[Path]], good: dict[str, Path]) -> list[list[str]]:
    out = str(root / "out")
    runs = []
    for case in files["case"]:
        runs += [["validate", str(case)], ["hints", str(case)], ["export-sr", str(case), "--out", f"{out}.dcm"],
                 ["import-sr", str(case)]]
    for bad in files["case"] + files["markups"]:
        runs.append(["measure", "--volume", str(good["volume"]), "--levels", str(bad), "--lesion-seg", str(good["mask"])])
    for image in files["image"]:
        runs += [["levels", str(image)], ["series", str(image)],
                 ["measure", "--volume", str(image), "--levels", str(good["levels"]), "--lesion-seg", str(good["mask"])],
                 ["measure", "--volume", str(good["volume"]), "--levels", str(image), "--lesion-seg", str(good["mask"])],
                 ["measure", "--volume", str(good["volume"]), "--levels", str(good["levels"]), "--edema-seg", str(image)],
                 ["import-sr", str(image)]]
    for csv_path in files["csv"]:
        runs.append(["session", "create", str(root / f"s_{csv_path.stem}"), "--cases", str(csv_path), "--reader", "a"])
    for folder in files["session"]:
        runs += [["session", "status", str(folder)], ["session", "next", str(folder), "--reader", "alice"],
                 ["session", "done", str(folder), "--reader", "alice", "--case", "c1"],
                 ["agreement", str(folder), "--quiet"], ["cohort", str(folder), "--quiet", "--no-figure"]]
    read = ["session", "read", str(good["session"]), "--reader", "alice", "--case", "c1"]
    runs += [read + ["--markups", str(bad)] for bad in files["markups"] + files["case"] + files["image"]]
    runs += [read + ["--case-json", str(bad)] for bad in files["case"] + files["markups"]]
    bad = root / "bad"
    runs += [["series", str(bad)], ["levels", str(bad)], ["cohort", str(bad), "--quiet", "--no-figure"],
             ["agreement", str(bad), "--quiet"], ["demo", "--out", str(good["case"])],
             ["validate", str(good["case"]), str(bad / "deep.json")]]
    return runs


def test_no_sub_command_gives_a_traceback_on_the_bad_input_corpus(corpus, capsys):
    root, files, good = corpus
    runs = _runs(root, files, good)
    assert len(runs) >= 100
    failures = []
    for argv in runs:
        try:
            code = cli.main(argv)
        except SystemExit as exit_:  # argparse
            code = exit_.code
        except BaseException as error:  # noqa: BLE001 - a traceback is the failure under test
            failures.append(f"{argv}: {type(error).__name__}: {error}"[:300])
            continue
        err = capsys.readouterr().err
        if "internal error" in err or "Traceback" in err:
            failures.append(f"{argv}: {err.strip()[:300]}")
        elif "\r" in err:
            failures.append(f"{argv}: a progress bar was drawn into a non-terminal: {err[:120]!r}")
        elif code == 1 and argv[0] == "validate":
            continue  # validate's "invalid" exit code; the line names the file and the field
        elif code != 0:
            lines = [line for line in err.strip().splitlines() if not line.startswith(("warning:", "skipped:", "note:"))]
            if code != 2 or len(lines) != 1:
                failures.append(f"{argv}: exit {code}, stderr {err.strip()[:300]!r}")
    assert not failures, "\n".join(failures)


def test_ascii_output_and_lone_surrogates_never_crash(corpus):
    root, files, good = corpus
    env = dict(os.environ, PYTHONPATH=str(MODULE_DIR), PYTHONIOENCODING="ascii")
    for argv in (["hints", str(good["case"])], ["validate", str(root / "bad" / "surrogate_id.json")], ["--help"]):
        result = subprocess.run([sys.executable, "-m", "ISCMAssistLib.cli", *argv], capture_output=True, text=True,
                                env=env, timeout=60)
        assert "Traceback" not in result.stderr, result.stderr
        assert result.returncode in (0, 2)
