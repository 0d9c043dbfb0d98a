"""Hints: each rule fires on the data that supports it and stays silent otherwise."""

from __future__ import annotations

import copy
import re

import pytest

from ISCMAssistLib.evidence import EVIDENCE
from ISCMAssistLib.hints import DIRECTIONS, RULES, Hint, compute_hints

LESION_FIELDS = ("location", "position", "origin", "morphology", "cord_expansion", "t2_signal", "t1_signal",
                 "cystic_change", "hemorrhage", "enhancement", "enhancement_length_segments",
                 "t2_length_segments", "t2_to_enhancement_ratio", "rim_sign", "flame_sign")


def lesion(lesion_id: str = "L1", **values) -> dict:
    record = {"id": lesion_id, **{name: None for name in LESION_FIELDS},
              "size_mm": {"ap": None, "transverse": None, "si": None}, "provenance": {}}
    record.update(values)
    return record


def case(*lesions, clinical=None, findings=None) -> dict:
    return {
        "schema_version": "1.0.0", "case_id": "case-001", "lesions": list(lesions),
        "patient_findings": {"multiplicity": None, "other_cns_or_spinal_metastases": None,
                             "primary_tumor_or_non_cns_metastases": None, "leptomeningeal_metastases": None,
                             "leptomeningeal_sites": None, "provenance": {}, **(findings or {})},
        "clinical": {"sex": None, "primary_tumor": None, "dominant_symptom": None,
                     "primary_known_at_presentation": None, "primary_known_at_iscm_diagnosis": None,
                     **(clinical or {})},
    }


def ids(hints: list[Hint], lesion_id=...) -> set[str]:
    return {h.id for h in hints if lesion_id is ... or h.lesion_id == lesion_id}


def lesion_ids(c: dict) -> set[str]:
    return ids(compute_hints(c), "L1")


def test_empty_case_has_no_hints():
    assert compute_hints(case()) == []
    assert compute_hints({}) == []


def test_null_lesion_gives_only_the_always_search_hints():
    hints = compute_hints(case(lesion()))
    assert ids(hints) == {"other_metastases", "lungs"}
    assert all(h.lesion_id is None and h.direction == "search" for h in hints)


def test_enhancement_absent_and_present():
    absent = [h for h in compute_hints(case(lesion(enhancement="absent"))) if h.lesion_id == "L1"]
    assert [h.id for h in absent] == ["enhancement_absent"]
    assert absent[0].direction == "against" and "63/64" in absent[0].text
    assert EVIDENCE["enhancement_present"] in absent[0].evidence
    for pattern in ("homogeneous", "heterogeneous", "peripheral_ring"):
        present = [h for h in compute_hints(case(lesion(enhancement=pattern))) if h.lesion_id == "L1"]
        assert [(h.id, h.direction) for h in present] == [("enhancement_present", "typical")]
    assert "enhancement_present" not in lesion_ids(case(lesion(enhancement=None)))


@pytest.mark.parametrize("segments, fires", [(None, False), (1, False), (2, False), (3, True), (15, True),
                                             ("3", False), (True, False), (float("nan"), False)])
def test_edema_segments_threshold(segments, fires):
    assert ("edema_extensive" in lesion_ids(case(lesion(t2_length_segments=segments)))) is fires


def test_edema_hint_text_and_evidence():
    hint = next(h for h in compute_hints(case(lesion(t2_length_segments=5))) if h.id == "edema_extensive")
    assert hint.direction == "typical" and "37/69" in hint.text and "54%" in hint.text
    assert EVIDENCE["t2_ge_3_segments"] in hint.evidence


@pytest.mark.parametrize("values, fires", [
    ({"t2_to_enhancement_ratio": 2.0}, True),
    ({"t2_to_enhancement_ratio": 1.9}, False),
    ({"t2_to_enhancement_ratio": 14}, True),
    ({"t2_to_enhancement_ratio": None}, False),
    # ratio not stored: from the two lengths
    ({"t2_length_segments": 2, "enhancement_length_segments": 1}, True),
    ({"t2_length_segments": 3, "enhancement_length_segments": 2}, False),
    ({"t2_length_segments": 3, "enhancement_length_segments": None}, False),
    ({"t2_length_segments": 3, "enhancement_length_segments": 0}, False),
    # a stored ratio wins over the lengths
    ({"t2_to_enhancement_ratio": 1.0, "t2_length_segments": 4, "enhancement_length_segments": 1}, False),
])
def test_edema_ratio(values, fires):
    hints = [h for h in compute_hints(case(lesion(**values))) if h.id == "edema_ratio"]
    assert bool(hints) is fires
    if hints:
        assert hints[0].direction == "typical" and "3.6" in hints[0].text


@pytest.mark.parametrize("values, fires", [
    ({"cystic_change": "intratumoral"}, True),
    ({"cystic_change": "peritumoral"}, True),
    ({"cystic_change": "both"}, True),
    ({"hemorrhage": True}, True),
    ({"cystic_change": "absent", "hemorrhage": False}, False),
    ({"cystic_change": None, "hemorrhage": None}, False),
])
def test_cystic_change_or_hemorrhage_argues_against(values, fires):
    hints = [h for h in compute_hints(case(lesion(**values))) if h.id == "cystic_or_hemorrhage"]
    assert bool(hints) is fires
    if hints:
        assert hints[0].direction == "against"
        assert "primary cord neoplasm" in hints[0].text and "2/70" in hints[0].text and "1/70" in hints[0].text


def test_cystic_hint_names_what_was_found():
    text = next(h.text for h in compute_hints(case(lesion(cystic_change="both", hemorrhage=True)))
                if h.id == "cystic_or_hemorrhage")
    assert "intra- and peritumoral cystic change and hemorrhage" in text


@pytest.mark.parametrize("clinical, expected", [
    ({"primary_known_at_presentation": False}, {"primary_unknown", "lungs"}),
    ({"primary_known_at_iscm_diagnosis": False, "primary_tumor": "breast"}, {"primary_unknown"}),
    ({"primary_known_at_presentation": True, "primary_known_at_iscm_diagnosis": True,
      "primary_tumor": "lung"}, set()),
    ({"dominant_symptom": "asymptomatic", "primary_tumor": "melanoma"}, {"asymptomatic"}),
    ({"dominant_symptom": "weakness", "primary_tumor": "melanoma"}, set()),
])
def test_unknown_primary_and_asymptomatic(clinical, expected):
    hints = compute_hints(case(lesion(), clinical=clinical))
    assert ids(hints) - {"other_metastases"} == expected
    for hint in hints:
        if hint.id == "primary_unknown":
            assert "10/49" in hint.text and "20%" in hint.text and hint.direction == "search"
        if hint.id == "asymptomatic":
            assert "4/49" in hint.text and "8%" in hint.text


def test_primary_unknown_fires_without_lesions_but_other_search_hints_need_one():
    hints = compute_hints(case(clinical={"primary_known_at_presentation": False}))
    assert ids(hints) == {"primary_unknown"}


def test_other_metastases_search_always_with_a_lesion():
    hint = next(h for h in compute_hints(case(lesion())) if h.id == "other_metastases")
    assert hint.direction == "search" and "43/49" in hint.text and "88%" in hint.text
    assert EVIDENCE["other_or_primary_any"] in hint.evidence


def test_lungs_hint():
    hint = next(h for h in compute_hints(case(lesion())) if h.id == "lungs")
    assert "24/49" in hint.text and "49%" in hint.text and "lungs" in hint.text
    assert "lungs" not in ids(compute_hints(case(lesion(), clinical={"primary_tumor": "renal_cell"})))


def test_multiple_lesions():
    assert "multiple_lesions" not in ids(compute_hints(case(lesion("L1"))))
    hints = compute_hints(case(lesion("L1"), lesion("L2")))
    hint = next(h for h in hints if h.id == "multiple_lesions")
    assert "9/10" in hint.text and "20/39" in hint.text and "P = .0263" in hint.text
    assert hint.lesion_id is None
    # multiplicity set by the reader without both lesions drawn
    assert "multiple_lesions" in ids(compute_hints(case(lesion(), findings={"multiplicity": "multiple"})))
    assert "multiple_lesions" not in ids(compute_hints(case(lesion(), findings={"multiplicity": "solitary"})))


@pytest.mark.parametrize("values, fires", [
    ({"position": "exophytic"}, True),
    ({"position": "eccentric", "origin": "possible_leptomeningeal"}, True),
    ({"position": "eccentric", "origin": "intramedullary"}, False),
    ({"position": "central"}, False),
    ({}, False),
])
def test_possible_leptomeningeal_origin(values, fires):
    hints = [h for h in compute_hints(case(lesion(**values))) if h.id == "possible_leptomeningeal"]
    assert bool(hints) is fires
    if hints:
        assert hints[0].direction == "search" and "3/70" in hints[0].text and "exophytic" in hints[0].text


@pytest.mark.parametrize("values, label", [
    ({"rim_sign": True}, "rim sign"),
    ({"flame_sign": True, "rim_sign": False}, "flame sign"),
    ({"rim_sign": True, "flame_sign": True}, "rim and flame signs"),
    ({"rim_sign": False, "flame_sign": False}, None),
    ({"rim_sign": None, "flame_sign": None}, None),
])
def test_rim_and_flame_signs(values, label):
    hints = [h for h in compute_hints(case(lesion(**values))) if h.id == "rim_flame_sign"]
    assert bool(hints) is (label is not None)
    if hints:
        assert hints[0].direction == "typical" and label in hints[0].text and "97%" in hints[0].text
        assert ("97% specificity each" in hints[0].text) is (label == "rim and flame signs")
        assert all(e.source.startswith("Rykken et al., AJNR 2013;34:908-15") for e in hints[0].evidence)


def test_per_lesion_hints_carry_the_lesion_id_and_keep_lesion_order():
    c = case(lesion("L1", enhancement="absent"), lesion("L2", enhancement="homogeneous", t2_length_segments=4))
    hints = compute_hints(c)
    per_lesion = [(h.lesion_id, h.id) for h in hints if h.lesion_id]
    assert per_lesion == [("L1", "enhancement_absent"), ("L2", "enhancement_present"), ("L2", "edema_extensive")]
    assert "Lesion L1" in hints[0].text
    # case-level hints follow the lesion hints
    assert [h.lesion_id for h in hints][-1] is None


def test_hints_are_recomputed_and_do_not_touch_the_case():
    c = case(lesion(enhancement="absent", t2_length_segments=5, rim_sign=True))
    before = copy.deepcopy(c)
    first = compute_hints(c)
    assert c == before
    c["lesions"][0]["enhancement"] = "homogeneous"
    assert "enhancement_present" in ids(compute_hints(c)) and "enhancement_absent" in ids(first)


DIAGNOSTIC = re.compile(r"diagnosis is|this is (an )?iscm|is (an )?iscm\b|is a metasta|consistent with|"
                        r"diagnostic of|confirms?\b|rules? out|definite|proves?\b", re.IGNORECASE)


def test_no_hint_states_a_diagnosis_and_every_hint_is_well_formed():
    everything = case(
        lesion("L1", enhancement="absent", t2_length_segments=6, enhancement_length_segments=1,
               cystic_change="both", hemorrhage=True, position="exophytic", origin="possible_leptomeningeal",
               rim_sign=True, flame_sign=True),
        lesion("L2", enhancement="peripheral_ring", t2_to_enhancement_ratio=4.0),
        clinical={"primary_known_at_presentation": False, "primary_known_at_iscm_diagnosis": False,
                  "dominant_symptom": "asymptomatic"})
    hints = compute_hints(everything)
    assert ids(hints) == set(RULES)  # every rule can fire
    for hint in hints:
        assert not DIAGNOSTIC.search(hint.text), hint.text
        assert hint.direction in DIRECTIONS and hint.direction == RULES[hint.id][0]
        assert hint.evidence and all(e.source for e in hint.evidence)
        assert hint.text.strip() and "\n" not in hint.text
    assert DIAGNOSTIC.search("The diagnosis is ISCM")  # the check itself can fail
