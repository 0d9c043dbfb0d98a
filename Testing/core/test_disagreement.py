"""One disagreement rule: the agreement report and the consensus draft list the same disagreements."""

from __future__ import annotations

from ISCMAssistLib.agreement import compare_readers
from ISCMAssistLib.case import new_case, new_lesion, set_reader_value
from ISCMAssistLib.consensus import build_consensus
from ISCMAssistLib.disagreement import SIZE_TOLERANCE_MM, match_lesions, values_agree


def lesion(lesion_id: str, z_mm: float, **values) -> dict:
    record = new_lesion(lesion_id)
    record["lines_lps"] = {"si": [[0.0, 0.0, z_mm + 8.0], [0.0, 0.0, z_mm - 8.0]]}
    for field, value in values.items():
        set_reader_value(record, field.replace("__", "."), value)
    return record


def two_reads() -> tuple[dict, dict]:
    """Alice and Bob read one case; Bob numbers the lesions in the other order and adds one."""
    alice = new_case("case-001", "alice")
    alice["lesions"] = [
        lesion("L1", 100.0, position="central", hemorrhage=False, size_mm={"ap": 6.0, "transverse": 7.0, "si": 20.0}),
        lesion("L2", 0.0, position="eccentric", t2_length_segments=3, size_mm={"ap": 4.0, "transverse": 4.0, "si": 9.0}),
    ]
    set_reader_value(alice["patient_findings"], "multiplicity", "multiple")
    set_reader_value(alice["clinical"], "primary_tumor", "lung")
    bob = new_case("case-001", "bob")
    bob["lesions"] = [
        lesion("L1", 2.0, position="eccentric", t2_length_segments=4, size_mm={"ap": 4.5, "transverse": 4.0, "si": 12.0}),
        lesion("L2", 101.0, position="eccentric", hemorrhage=False, size_mm={"ap": 7.0, "transverse": 7.0, "si": 20.0}),
        lesion("L3", -200.0, position="central"),
    ]
    set_reader_value(bob["patient_findings"], "multiplicity", "multiple")
    set_reader_value(bob["clinical"], "primary_tumor", "breast")
    return alice, bob


def test_agreement_report_and_consensus_draft_list_the_same_disagreements() -> None:
    alice, bob = two_reads()
    report = compare_readers([alice], [bob], "alice", "bob")
    draft, to_settle = build_consensus({"alice": alice, "bob": bob}, "case-001")

    # the draft's lesion i is alice's lesion i, then the lesions only bob marked
    pairs = match_lesions(alice["lesions"], bob["lesions"])
    draft_lesion = [alice["lesions"][i]["id"] if i is not None else bob["lesions"][j]["id"] for i, j in pairs]
    from_draft = set()
    for item in to_settle:
        head, _, field = item.field.partition("].")
        if head.startswith("lesions["):
            index = int(head[len("lesions["):].rstrip("]"))
            from_draft.add((draft_lesion[index], field or "lesion"))
        else:
            from_draft.add((None, item.field.split(".", 1)[1]))
    from_report = {(d.lesion_id, d.feature) for d in report.disagreements}

    assert from_report == from_draft
    assert from_report == {
        ("L1", "position"),  # alice's L1 is bob's L2: central vs eccentric
        ("L2", "size_mm.si"),  # 9 vs 12 mm; ap 4.0 vs 4.5 is within the size tolerance
        ("L2", "t2_length_segments"),  # 3 vs 4 segments
        ("L3", "lesion"),  # only bob marked it
        (None, "primary_tumor"),  # lung vs breast
    }
    assert report.n_lesion_pairs == 2


def test_sizes_agree_within_the_one_tolerance() -> None:
    assert values_agree("size_mm.ap", [6.0, 6.0 + SIZE_TOLERANCE_MM])
    assert not values_agree("size_mm.ap", [6.0, 6.0 + SIZE_TOLERANCE_MM + 0.1])
    assert not values_agree("t2_length_segments", [3, 4])
    assert not values_agree("hemorrhage", [True, 1])
    assert values_agree("leptomeningeal_sites", [["C5", "T2"], ["T2", "C5"]])
