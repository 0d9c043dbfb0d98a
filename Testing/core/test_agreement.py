"""Inter-reader agreement: kappa, ICC(2,1) and Bland-Altman against hand-computed and textbook values."""

from __future__ import annotations

import json
import math

import pytest

from ISCMAssistLib import agreement
from ISCMAssistLib.agreement import compare_readers
from ISCMAssistLib.agreement_stats import bland_altman, cohen_kappa, icc_2_1
from ISCMAssistLib.case import new_case, new_lesion


def test_kappa_two_categories_by_hand():
    # 50 items: both yes 20, A yes/B no 5, A no/B yes 10, both no 15 -> po .7, pe .5, kappa .4
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    k = cohen_kappa(a, b)
    assert (k.n, k.observed, k.expected) == (50, pytest.approx(0.7), pytest.approx(0.5))
    assert k.kappa == pytest.approx(0.4)
    # Fleiss-Cohen-Everitt variance, by hand with p11 .4, p12 .1, p21 .2, p22 .3, rows .5/.5, cols .6/.4:
    # term1 = .4(1 - 1.1*.6)^2 + .3(1 - .9*.6)^2 = .10972; term2 = .36(.1*1.1^2 + .2*.9^2) = .10188;
    # term3 = (.4 - .5*.6)^2 = .01; var = (.10972 + .10188 - .01) / (50 * .25) = .016128
    assert k.se == pytest.approx(math.sqrt(0.016128), rel=1e-9)
    assert (k.ci_low, k.ci_high) == (pytest.approx(0.4 - 1.959964 * 0.1269961, abs=1e-6),
                                     pytest.approx(0.4 + 1.959964 * 0.1269961, abs=1e-6))


def test_kappa_three_categories_by_hand():
    # table [[25, 2, 3], [3, 20, 2], [2, 3, 40]]: po .85, margins .30/.25/.45 both -> pe .355
    cells = {("a", "a"): 25, ("a", "b"): 2, ("a", "c"): 3, ("b", "a"): 3, ("b", "b"): 20, ("b", "c"): 2,
             ("c", "a"): 2, ("c", "b"): 3, ("c", "c"): 40}
    a = [x for (x, _), n in cells.items() for _ in range(n)]
    b = [y for (_, y), n in cells.items() for _ in range(n)]
    k = cohen_kappa(a, b)
    assert k.kappa == pytest.approx((0.85 - 0.355) / 0.645)
    assert k.ci_low < k.kappa < k.ci_high


def test_kappa_edge_cases():
    perfect = cohen_kappa([True, False, True, False], [True, False, True, False])
    assert (perfect.kappa, perfect.se, perfect.ci_low, perfect.ci_high) == (1.0, 0.0, 1.0, 1.0)
    # pairs with a None are left out
    assert cohen_kappa(["x", None, "y"], ["x", "y", None]).n == 1
    # one category for both readers: chance agreement 1 -> kappa undefined
    same = cohen_kappa(["x", "x"], ["x", "x"])
    assert same.kappa is None and same.observed == 1.0
    assert cohen_kappa([], []).kappa is None


def test_kappa_is_undefined_not_zero_with_one_case_or_no_variance():
    """Issue 12, item 14: kappa 0.00 was printed where kappa is undefined."""
    one = cohen_kappa(["x"], ["y"])  # formally 0: observed 0, chance 0
    assert one.kappa is None and one.text() == "undefined (only 1 pair with both values)"
    flat = cohen_kappa(["x", "x", "x"], ["x", "y", "z"])  # reader A never varies
    assert flat.kappa is None and "reader A used one category only (no variance)" in flat.text()
    assert cohen_kappa([True, False, True, False], [True, False, False, False]).text() == "0.50"
    # True and 1 are different answers
    assert cohen_kappa([True, False], [1, 0]).observed == 0.0
    with pytest.raises(ValueError, match="reader A has 2 values, reader B 1"):
        cohen_kappa(["x", "y"], ["x"])


def test_icc_shrout_fleiss_1979():
    # Shrout & Fleiss (1979) Table 2: 6 targets, 4 judges; ICC(2,1) = .29. The CI (.019, .76) is the
    # one R's psych::ICC prints for this data set (F-based, McGraw & Wong / Shrout & Fleiss).
    ratings = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    icc = icc_2_1(ratings)
    assert round(icc.icc, 2) == 0.29 and icc.icc == pytest.approx(0.28976, abs=1e-5)
    assert round(icc.ci_low, 3) == 0.019 and round(icc.ci_high, 2) == 0.76
    assert (icc.n, icc.k) == (6, 4)


def test_icc_by_hand_two_raters():
    # B = A + 1 for 3 targets: BMS 2, JMS 1.5, EMS 0 -> ICC(2,1) = 2 / (2 + 2 * 1.5 / 3) = 2/3
    icc = icc_2_1([[1, 2], [2, 3], [3, 4]])
    assert icc.icc == pytest.approx(2 / 3)
    assert icc.ci_low is None  # no residual variance: no F-based CI
    assert icc_2_1([[1, 1], [2, 2], [3, 3]]).icc == pytest.approx(1.0)
    assert icc_2_1([[1, 1]]).icc is None
    assert icc_2_1([[1, float("nan")], [2, 2], [3, 3]]).n == 2
    with pytest.raises(ValueError, match="shape"):
        icc_2_1([1, 2, 3])


def test_bland_altman_by_hand():
    ba = bland_altman([10, 12, 14, 16, None], [9, 12, 15, 14, 3])
    # differences 1, 0, -1, 2: mean .5, SD sqrt(5/3)
    assert (ba.n, ba.bias) == (4, pytest.approx(0.5))
    assert ba.sd == pytest.approx(math.sqrt(5 / 3))
    assert (ba.lower, ba.upper) == (pytest.approx(0.5 - 1.959964 * math.sqrt(5 / 3), abs=1e-5),
                                    pytest.approx(0.5 + 1.959964 * math.sqrt(5 / 3), abs=1e-5))
    one = bland_altman([1.0], [2.0])
    assert (one.bias, one.sd) == (-1.0, None)


def read(case_id: str, reader: str, lesions: list[dict], **findings) -> dict:
    case = new_case(case_id, reader)
    case["patient_findings"].update(findings)
    for values in lesions:
        lesion = new_lesion(values.pop("id"))
        lesion.update(values)
        case["lesions"].append(lesion)
    return case


def two_readers():
    a = [read("c1", "A", [{"id": "L1", "position": "central", "enhancement": "homogeneous",
                           "size_mm": {"ap": 6.0, "transverse": 7.0, "si": 20.0}, "t2_length_segments": 4,
                           "hemorrhage": False},
                          {"id": "L2", "position": "eccentric",
                           "size_mm": {"ap": 5.0, "transverse": None, "si": 10.0}}],
              multiplicity="multiple", leptomeningeal_metastases=True),
         read("c2", "A", [{"id": "L1", "position": "central", "size_mm": {"ap": 8.0, "transverse": 8.0, "si": 30.0},
                           "t2_length_segments": 6}], multiplicity="solitary"),
         read("c3", "A", [])]
    b = [read("c1", "B", [{"id": "L1", "position": "eccentric", "enhancement": "homogeneous",
                           "size_mm": {"ap": 7.5, "transverse": 7.0, "si": 23.0}, "t2_length_segments": 4,
                           "hemorrhage": 0 == 1},
                          {"id": "L3", "position": "central"}],
              multiplicity="multiple", leptomeningeal_metastases=None),
         read("c2", "B", [{"id": "L1", "position": "central", "size_mm": {"ap": 8.5, "transverse": 9.0, "si": 29.0},
                           "t2_length_segments": 5}], multiplicity="solitary"),
         read("c4", "B", [])]
    return a, b


def test_compare_readers_pairs_lesions_by_id_and_lists_disagreements():
    a, b = two_readers()
    result = compare_readers(a, b, "A", "B")
    assert (result.n_cases, result.n_lesion_pairs) == (2, 2)
    assert (result.only_a, result.only_b) == (["c3"], ["c4"])
    found = {(d.case_id, d.lesion_id, d.feature, d.value_a, d.value_b) for d in result.disagreements}
    assert found == {
        ("c1", None, "leptomeningeal_metastases", True, None),
        ("c1", "L1", "position", "central", "eccentric"),
        ("c1", "L1", "size_mm.si", 20.0, 23.0),          # 3 mm > 2 mm tolerance; ap differs by 1.5 mm: not listed
        ("c1", "L2", "lesion", "present", None),
        ("c1", "L3", "lesion", None, "present"),
        ("c2", "L1", "t2_length_segments", 6, 5),
    }
    # position: pairs (central, eccentric), (central, central) -> po .5, pe .5 * ... by hand:
    # A: central x2; B: eccentric, central -> pe = 1 * .5 = .5 -> formally 0, but A has no variance:
    # kappa is undefined there (issue 12, item 14), not 0.00
    assert result.kappas["position"].kappa is None
    assert result.kappas["position"].reason == "reader A used one category only (no variance)"
    assert result.kappas["multiplicity"].kappa == pytest.approx(1.0)
    assert result.kappas["leptomeningeal_metastases"].n == 0
    assert result.bland_altman["size_mm.ap"].bias == pytest.approx(((6 - 7.5) + (8 - 8.5)) / 2)
    assert result.bland_altman["t2_length_segments"].n == 2
    assert result.iccs["size_mm.si"].n == 2


def test_tolerances_can_be_changed():
    a, b = two_readers()
    result = compare_readers(a, b, tolerance={"size_mm.ap": 1.0, "size_mm.si": 5.0})
    features = {(d.lesion_id, d.feature) for d in result.disagreements if d.case_id == "c1"}
    assert ("L1", "size_mm.ap") in features and ("L1", "size_mm.si") not in features


def test_compare_all_needs_two_readers():
    a, b = two_readers()
    with pytest.raises(agreement.AgreementError, match="at least two readers"):
        agreement.compare_all({"A": a})
    calls = []
    results = agreement.compare_all({"B": b, "A": a, "C": a}, progress=lambda d, t: calls.append((d, t)))
    assert [(r.reader_a, r.reader_b) for r in results] == [("A", "B"), ("A", "C"), ("B", "C")]
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert results[1].disagreements == []  # A vs itself


def write_reads(root, reads: dict[str, list[dict]]):
    from ISCMAssistLib.case_io import save_case

    for reader, cases in reads.items():
        (root / reader).mkdir(parents=True)
        for case in cases:
            save_case(case, root / reader / f"{case['case_id']}.json")


@pytest.mark.parametrize("session", [False, True])
def test_cli_reads_both_folder_layouts(tmp_path, capsys, session):
    from ISCMAssistLib.cli import main

    a, b = two_readers()
    root = tmp_path / "session"
    reads_root = root / "reads" if session else root
    write_reads(reads_root, {"alice": a, "bob": b, "consensus": a})
    (reads_root / "alice" / "c1.state.json").write_text('{"status": "done"}', encoding="utf-8")
    (reads_root / "alice" / "L1_si.mrk.json").write_text('{"markups": []}', encoding="utf-8")
    (reads_root / "bob" / "broken.json").write_text("{", encoding="utf-8")
    if session:
        (root / "session.json").write_text("{}", encoding="utf-8")
    out = tmp_path / "report"
    assert main(["agreement", str(root), "--out", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "alice vs bob: 2 cases, 2 paired lesions, 6 disagreements" in captured.out
    assert "broken.json" in captured.err and "consensus" not in captured.out
    data = json.loads((out / "agreement.json").read_text(encoding="utf-8"))
    assert [(p["reader_a"], p["reader_b"]) for p in data["pairs"]] == [("alice", "bob")]
    assert data["pairs"][0]["kappa"]["multiplicity"]["kappa"] == 1.0
    csv_lines = (out / "agreement_disagreements.csv").read_text(encoding="utf-8").splitlines()
    assert csv_lines[0] == "reader_a,reader_b,case_id,lesion_id,feature,value_a,value_b"
    assert "alice,bob,c1,L1,position,central,eccentric" in csv_lines and len(csv_lines) == 7
    markdown = (out / "agreement.md").read_text(encoding="utf-8")
    assert "| c2 | L1 | t2_length_segments | 6 | 5 |" in markdown
    # with the consensus reader asked for: three pairs
    assert main(["agreement", str(root), "--include-consensus", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "## alice vs consensus" in printed and "## bob vs consensus" in printed


def test_cli_errors(tmp_path, capsys):
    from ISCMAssistLib.cli import main

    assert main(["agreement", str(tmp_path / "nope"), "--quiet"]) == 2
    assert "not a folder" in capsys.readouterr().err
    a, _ = two_readers()
    write_reads(tmp_path, {"alice": a})
    assert main(["agreement", str(tmp_path), "--quiet"]) == 2
    assert "at least two readers" in capsys.readouterr().err
    assert main(["agreement", str(tmp_path), "--readers", "alice", "zoe", "--quiet"]) == 2
    assert "zoe" in capsys.readouterr().err


def test_bad_reads_raise_agreement_errors_naming_the_reader():
    a, b = two_readers()
    with pytest.raises(agreement.AgreementError, match="reader B: case 'c1' is read twice"):
        compare_readers(a, b + [b[0]], "A", "B")
    with pytest.raises(agreement.AgreementError, match="reader A: read #1 has no case_id"):
        compare_readers([{"lesions": []}], b, "A", "B")
    twice = read("c1", "B", [{"id": "L1"}, {"id": "L1"}])
    with pytest.raises(agreement.AgreementError, match="reader B, case c1: lesion id 'L1' is used twice"):
        compare_readers(a, [twice], "A", "B")
    assert issubclass(agreement.AgreementError, ValueError)
