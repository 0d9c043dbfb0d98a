"""Hints: each rule fires on the data that supports it and stays silent otherwise; every number in a
text equals its source; prevalence hints never read as likelihoods."""

from __future__ import annotations

import copy
import re

import pytest

from ISCMAssistLib.comparative import ACCURACY
from ISCMAssistLib.evidence import EVIDENCE, study_percent
from ISCMAssistLib.hints import DIRECTIONS, EXPLANATION, KIND_LABELS, KINDS, RULES, Hint, compute_hints

LESION_FIELDS = ("location", "position", "origin", "morphology", "cord_expansion", "t2_signal", "t1_signal",
                 "cystic_change", "hemorrhage", "enhancement", "enhancement_length_segments",
                 "t2_length_segments", "t2_to_enhancement_ratio", "t2_length_mm", "t2_to_enhancement_ratio_mm",
                 "rim_sign", "flame_sign", "central_dot_sign")
#: Findings that silence the "look for" prompts once the reader has recorded them.
RECORDED = {"other_cns_or_spinal_metastases": False, "primary_tumor_or_non_cns_metastases": False,
            "other_metastases_prior_mr": False, "other_metastases_subsequent_mr": False,
            "new_iscm_on_follow_up": False}


def lesion(lesion_id: str = "L1", **values) -> dict:
    size = values.pop("size_mm", {})
    record = {"id": lesion_id, **{name: None for name in LESION_FIELDS},
              "size_mm": {"ap": None, "transverse": None, "si": None, **size}, "provenance": {}}
    record.update(values)
    return record


def case(*lesions, clinical=None, findings=None) -> dict:
    return {
        "schema_version": "1.1.0", "case_id": "case-001", "lesions": list(lesions),
        "patient_findings": {"multiplicity": None, "other_cns_or_spinal_metastases": None,
                             "primary_tumor_or_non_cns_metastases": None, "leptomeningeal_metastases": None,
                             "leptomeningeal_sites": None, "other_metastases_prior_mr": None,
                             "other_metastases_subsequent_mr": None, "new_iscm_on_follow_up": None,
                             "provenance": {}, **(findings or {})},
        "clinical": {"sex": None, "primary_tumor": None, "dominant_symptom": None, "symptom_duration_weeks": None,
                     "primary_known_at_presentation": None, "primary_known_at_iscm_diagnosis": None,
                     **(clinical or {})},
    }


def ids(hints: list[Hint], lesion_id=...) -> list[str]:
    return [h.id for h in hints if lesion_id is ... or h.lesion_id == lesion_id]


def lesion_hint_ids(**values) -> list[str]:
    return ids(compute_hints(case(lesion(**values))), "L1")


def only(hints: list[Hint], rule: str) -> Hint:
    found = [h for h in hints if h.id == rule]
    assert len(found) == 1, (rule, [h.id for h in hints])
    return found[0]


# ------------------------------------------------------------------------------------------------
# Firing and silence, rule by rule


def test_empty_case_has_no_hints():
    assert compute_hints(case()) == []
    assert compute_hints({}) == []


def test_null_lesion_gives_only_the_prompts_that_need_a_lesion():
    hints = compute_hints(case(lesion()))
    assert ids(hints) == ["other_metastases", "further_cord_lesions", "lungs", "prior_mr", "subsequent_mr",
                          "follow_up"]
    assert all(h.lesion_id is None and h.kind == "prompt" and h.direction == "search" for h in hints)


def test_prompts_fall_silent_once_the_read_records_what_they_ask():
    hints = compute_hints(case(lesion(), findings=RECORDED, clinical={"primary_tumor": "lung",
                                                                      "primary_known_at_presentation": True}))
    assert ids(hints) == ["further_cord_lesions"]
    hints = compute_hints(case(lesion(), lesion("L2"), findings=RECORDED, clinical={"primary_tumor": "breast"}))
    assert ids(hints) == []  # multiplicity prompts answered too: other_cns_or_spinal_metastases recorded


@pytest.mark.parametrize("values, expected", [
    ({"enhancement": "absent"}, ["enhancement_absent"]),
    ({"enhancement": "homogeneous"}, ["enhancement_present"]),
    ({"enhancement": "heterogeneous"}, ["enhancement_present"]),
    ({"enhancement": "peripheral_ring"}, ["enhancement_ring"]),
    ({"enhancement": None}, []),
])
def test_enhancement_gives_one_hint_per_value(values, expected):
    assert lesion_hint_ids(**values) == expected


def test_enhancement_texts():
    absent = only(compute_hints(case(lesion(enhancement="absent"))), "enhancement_absent")
    assert (absent.kind, absent.direction) == ("prevalence", "uncommon")
    assert "seen in 1/64 ISCMs (2%) in the reference series; this series had no comparison group" in absent.text
    assert "The authors wrote: \"Lack of enhancement" in absent.text
    ring = only(compute_hints(case(lesion(enhancement="peripheral_ring"))), "enhancement_ring")
    assert ring.direction == "uncommon" and "1/63 enhancing ISCMs (2%)" in ring.text and "63/64" in ring.text
    assert "typical" not in ring.text
    present = only(compute_hints(case(lesion(enhancement="homogeneous"))), "enhancement_present")
    assert present.direction == "common" and "31/63 enhancing ISCMs (49%)" in present.text


@pytest.mark.parametrize("values, expected", [
    ({"morphology": "ill_defined"}, "ill_defined"),
    ({"t2_signal": "hypointense"}, "t2_hypointense"),
])
def test_uncommon_findings(values, expected):
    hints = compute_hints(case(lesion(**values)))
    hint = only(hints, expected)
    assert (hint.kind, hint.direction) == ("prevalence", "uncommon")
    assert "checklist_prevalence" not in ids(hints)  # the value is not given twice


def test_checklist_prevalence_names_every_value_set_with_its_count():
    values = {"location": "conus", "position": "eccentric", "morphology": "well_circumscribed",
              "cord_expansion": False, "t2_signal": "isointense", "t1_signal": "hyperintense"}
    hint = only(compute_hints(case(lesion(**values))), "checklist_prevalence")
    assert hint.direction == "context"
    for part in ("location conus in 11/70 ISCMs (16%)", "position eccentric in 35/62 ISCMs (56%)",
                 "morphology well-circumscribed in 64/66 ISCMs (97%)", "cord expansion absent in 26/70 ISCMs (37%)",
                 "T2 signal intensity isointense in 14/70 ISCMs (20%)",
                 "T1 signal intensity hyperintense in 10/63 ISCMs (16%)"):
        assert part in hint.text
    assert len(hint.evidence) == 6
    assert "checklist_prevalence" not in lesion_hint_ids(origin="intramedullary", cystic_change="absent")


@pytest.mark.parametrize("segments, expected", [
    (None, []), (0, []), (1, ["edema_length"]), (2, ["edema_length"]), (3, ["edema_extensive"]),
    (15, ["edema_extensive"]), (16, ["edema_extensive", "outside_range", "mixed_findings"]), ("5", []), (True, []),
    (float("nan"), []),
])
def test_edema_length(segments, expected):
    assert lesion_hint_ids(t2_length_segments=segments) == expected


def test_edema_extensive_says_often_and_37_of_69():
    hint = only(compute_hints(case(lesion(t2_length_segments=4))), "edema_extensive")
    assert hint.direction == "common"
    assert "seen in 37/69 ISCMs (54%) in the reference series; this series had no comparison group" in hint.text
    assert '"often >= 3 segments"' in hint.text and "typical" not in hint.text
    assert EVIDENCE["t2_ge_3_segments"] in hint.evidence


@pytest.mark.parametrize("values, direction, where", [
    ({"t2_to_enhancement_ratio": 2.5}, "context", "at or below the series' mean, within its range"),
    ({"t2_to_enhancement_ratio": 3.6}, "context", "at or below the series' mean"),
    ({"t2_to_enhancement_ratio": 5.0}, "context", "above the series' mean, within its range"),
    ({"t2_to_enhancement_ratio": 14}, "context", "within its range"),
    ({"t2_to_enhancement_ratio": 15}, "outside_range", "above the series' range"),
    ({"t2_to_enhancement_ratio": 0.5}, "outside_range", "below the series' range"),
    ({"t2_length_segments": 2, "enhancement_length_segments": 1}, "context", "2.0 times"),
])
def test_edema_ratio_is_placed_in_the_series_range(values, direction, where):
    hint = only(compute_hints(case(lesion(**values))), "edema_ratio")
    assert hint.direction == direction and where in hint.text
    assert "mean 3.6 (range 1-14, n = 63 ISCMs)" in hint.text and "no threshold" in hint.text


def test_edema_ratio_silent_without_a_ratio():
    assert "edema_ratio" not in lesion_hint_ids(t2_length_segments=4)
    assert "edema_ratio" not in lesion_hint_ids(t2_length_segments=4, enhancement_length_segments=0)


def test_edema_ratio_shows_the_ratio_in_mm_beside_segments():
    # The example: a 17 mm lesion straddling a disc counts 2 segments.
    values = {"t2_length_segments": 5, "enhancement_length_segments": 2, "t2_length_mm": 102.0,
              "size_mm": {"si": 17.0}}
    hint = only(compute_hints(case(lesion(**values))), "edema_ratio")
    assert "2.5 times the enhancing length in segments; 6.0 in mm (T2 102 mm / enhancing SI 17 mm)" in hint.text
    stored = only(compute_hints(case(lesion(t2_to_enhancement_ratio=2.5, t2_to_enhancement_ratio_mm=6.39))),
                  "edema_ratio")
    assert "6.4 in mm" in stored.text


@pytest.mark.parametrize("values, fires", [
    ({"size_mm": {"si": 114}}, False), ({"size_mm": {"si": 115}}, True), ({"size_mm": {"si": 1.5}}, True),
    ({"size_mm": {"ap": 16}}, False), ({"size_mm": {"ap": 17}}, True), ({"size_mm": {"transverse": 24}}, True),
    ({"enhancement_length_segments": 8}, False), ({"enhancement_length_segments": 9}, True),
    ({"t2_length_segments": 15}, False), ({"t2_length_segments": 16}, True),
])
def test_values_outside_the_series_range(values, fires):
    hints = [h for h in compute_hints(case(lesion(**values))) if h.id == "outside_range"]
    assert bool(hints) is fires
    if fires:
        assert hints[0].direction == "outside_range" and "range of the reference series" in hints[0].text


def test_outside_range_text_names_the_range():
    hint = only(compute_hints(case(lesion(size_mm={"si": 120}))), "outside_range")
    assert "superior-inferior size of the enhancing lesion 120 mm is above the range of the reference series " \
           "(2-114 mm, mean 19.9, n = 63 ISCMs)" in hint.text


@pytest.mark.parametrize("values, fires", [
    ({"cystic_change": "intratumoral"}, True), ({"cystic_change": "peritumoral"}, True),
    ({"cystic_change": "both"}, True), ({"hemorrhage": True}, True),
    ({"cystic_change": "absent"}, False), ({"hemorrhage": False}, False), ({"cystic_change": None}, False),
])
def test_cystic_change_or_hemorrhage(values, fires):
    assert ("cystic_or_hemorrhage" in lesion_hint_ids(**values)) is fires


def test_cystic_and_hemorrhage_quote_the_authors_with_counts_and_caveats():
    hint = only(compute_hints(case(lesion(cystic_change="intratumoral", hemorrhage=True))), "cystic_or_hemorrhage")
    assert hint.direction == "uncommon"
    assert "intratumoral cystic change was seen in 2/70 ISCMs (3%)" in hint.text
    assert "intratumoral hemorrhage in 1/70 ISCMs (1%)" in hint.text
    assert 'the authors concluded that "presence of cystic change/hemorrhage makes intramedullary spinal cord ' \
           'metastasis unlikely"' in hint.text and "without controls" in hint.text
    assert "squamous cell carcinoma of the lung" in hint.text and "renal cell carcinoma" in hint.text
    assert "Melanoma and renal cell carcinoma were few: 5/49 patients (10%) and 3/49 patients (6%)" in hint.text
    only_cyst = only(compute_hints(case(lesion(cystic_change="peritumoral"))), "cystic_or_hemorrhage")
    assert "peritumoral cystic change was seen in 0/70 ISCMs (0%)" in only_cyst.text
    assert "squamous" not in only_cyst.text and "2/70" not in only_cyst.text


@pytest.mark.parametrize("values, fires", [
    ({"position": "exophytic"}, True), ({"position": "eccentric", "origin": "possible_leptomeningeal"}, True),
    ({"position": "eccentric", "origin": "intramedullary"}, False), ({"position": "central"}, False),
])
def test_possible_leptomeningeal_origin(values, fires):
    assert ("possible_leptomeningeal" in lesion_hint_ids(**values)) is fires


@pytest.mark.parametrize("values, key", [
    ({"rim_sign": True}, "rim"), ({"flame_sign": True}, "flame"), ({"rim_sign": True, "flame_sign": True}, "both"),
])
def test_rim_and_flame_signs_are_comparative(values, key):
    hint = only(compute_hints(case(lesion(**values))), "rim_flame_sign")
    assert (hint.kind, hint.direction) == ("comparative", "specific") and hint.accuracy is ACCURACY[key]
    assert "pathologically proven primary intramedullary masses" in hint.text and "non-CNS" in hint.text
    assert "sensitivity 27%, specificity 100%" in hint.text  # the both-signs figure, always
    assert "none of 64 primary masses showed both signs (0/64)" in hint.text
    if key != "both":
        accuracy = ACCURACY[key]
        assert f"sensitivity {accuracy.sensitivity}%, specificity {accuracy.specificity}%" in hint.text
        assert f"about {accuracy.likelihood_ratio_positive:.0f}" in hint.text


def test_rim_and_flame_do_not_apply_to_a_cns_primary():
    hint = only(compute_hints(case(lesion(rim_sign=True), clinical={"primary_tumor": "cns"})), "rim_flame_sign")
    assert (hint.kind, hint.direction) == ("comparative", "not_applicable")
    assert "do not apply" in hint.text and "sensitivity 47%" not in hint.text
    assert "rim_flame_sign" not in lesion_hint_ids(rim_sign=False, flame_sign=None)


def test_central_dot_sign():
    hint = only(compute_hints(case(lesion(central_dot_sign=True))), "central_dot_sign")
    assert (hint.kind, hint.direction) == ("comparative", "specific") and hint.accuracy is ACCURACY["central_dot"]
    assert "4/44 ISCM patients (9%)" in hint.text and "4/63 enhancing ISCMs" in hint.text
    assert "0/54 primary masses (P = .038, per patient)" in hint.text and "specific but rare" in hint.text
    assert "none of 54 primary masses showed it (0/54)" in hint.text
    assert "central_dot_sign" not in lesion_hint_ids(central_dot_sign=False)


def test_a_common_and_an_uncommon_finding_get_one_line_that_explains_both():
    hints = compute_hints(case(lesion(enhancement="heterogeneous", cystic_change="intratumoral")))
    mixed = only(hints, "mixed_findings")
    assert ids(hints, "L1")[-1] == "mixed_findings" and mixed.lesion_id == "L1"
    assert "seen in half or more of the reference series' ISCMs (enhancement)" in mixed.text
    assert "uncommon among the series' ISCMs or beyond their range (cystic change or hemorrhage)" in mixed.text
    assert "neither add up nor cancel out" in mixed.text
    with_sign = only(compute_hints(case(lesion(rim_sign=True, hemorrhage=True))), "mixed_findings")
    assert "more frequent in ISCMs than in primary masses in a comparative study (the rim/flame sign)" in with_sign.text
    # The ring-enhancing cystic lesion: both uncommon, the enhancement line explains itself.
    ring = compute_hints(case(lesion(enhancement="peripheral_ring", cystic_change="intratumoral")))
    assert "mixed_findings" not in ids(ring) and "enhancement_present" not in ids(ring)
    assert "mixed_findings" not in lesion_hint_ids(enhancement="heterogeneous", t2_length_segments=4)


@pytest.mark.parametrize("clinical, findings, expected", [
    ({"primary_known_at_presentation": False}, {}, True),
    ({"primary_known_at_iscm_diagnosis": False}, {}, True),
    ({"primary_known_at_presentation": True, "primary_known_at_iscm_diagnosis": True}, {}, False),
    ({}, {}, False),
    # recorded as known and visible on this MR: no "look for the primary"
    ({"primary_known_at_presentation": False, "primary_tumor": "lung"},
     {"primary_tumor_or_non_cns_metastases": True}, False),
    ({"primary_known_at_presentation": False, "primary_tumor": "lung"},
     {"primary_tumor_or_non_cns_metastases": False}, True),
    ({"primary_known_at_presentation": False}, {"primary_tumor_or_non_cns_metastases": True}, True),
])
def test_primary_unknown(clinical, findings, expected):
    assert ("primary_unknown" in ids(compute_hints(case(clinical=clinical, findings=findings)))) is expected


@pytest.mark.parametrize("clinical, findings, expected", [
    ({}, {}, True),
    ({"primary_tumor": "breast", "primary_known_at_presentation": True}, {}, False),
    ({"primary_tumor": "breast", "primary_known_at_presentation": False}, {}, True),
    ({"primary_tumor": "lung", "primary_known_at_presentation": False},
     {"primary_tumor_or_non_cns_metastases": True}, False),
])
def test_lungs(clinical, findings, expected):
    assert ("lungs" in ids(compute_hints(case(lesion(), clinical=clinical, findings=findings)))) is expected
    assert "lungs" not in ids(compute_hints(case(clinical=clinical, findings=findings)))  # needs a lesion


def test_asymptomatic_and_symptom_duration():
    hint = only(compute_hints(case(clinical={"dominant_symptom": "asymptomatic"})), "asymptomatic")
    assert "4/49 patients (8%)" in hint.text and "2 of these 4" in hint.text
    assert "asymptomatic" not in ids(compute_hints(case(clinical={"dominant_symptom": "weakness"})))
    for weeks, direction, where in ((6, "context", "within"), (0.1, "context", "within"), (40, "outside_range", "above"),
                                    (0.05, "outside_range", "below")):
        hint = only(compute_hints(case(clinical={"symptom_duration_weeks": weeks})), "symptom_duration")
        assert hint.direction == direction and f"{where}" in hint.text
        assert "median 2 weeks (range 0.1-32, n = 44 patients)" in hint.text
    assert "symptom_duration" not in ids(compute_hints(case(clinical={"symptom_duration_weeks": None})))


def test_the_43_of_49_prompt_does_not_count_further_cord_lesions():
    hint = only(compute_hints(case(lesion())), "other_metastases")
    assert "43/49 patients (88%)" in hint.text and "cord lesion" not in hint.text
    further = only(compute_hints(case(lesion())), "further_cord_lesions")
    assert "10/49 patients (20%)" in further.text
    assert "further_cord_lesions" not in ids(compute_hints(case(lesion(), lesion("L2"))))
    assert "further_cord_lesions" not in ids(compute_hints(case(lesion(), findings={"multiplicity": "multiple"})))


def test_multiple_lesions_prior_subsequent_and_follow_up_prompts():
    hints = compute_hints(case(lesion("L1"), lesion("L2")))
    assert "9/10 patients (90%)" in only(hints, "multiple_lesions").text
    assert "23/49 patients (47%)" in only(hints, "prior_mr").text
    assert "8/49 patients (16%)" in only(hints, "subsequent_mr").text
    assert "11/49 patients (22%)" in only(hints, "follow_up").text
    for field, rule in (("other_metastases_prior_mr", "prior_mr"), ("other_metastases_subsequent_mr", "subsequent_mr"),
                        ("new_iscm_on_follow_up", "follow_up"), ("other_cns_or_spinal_metastases", "multiple_lesions")):
        for value in (True, False):
            assert rule not in ids(compute_hints(case(lesion(), lesion("L2"), findings={field: value})))
    assert "multiple_lesions" in ids(compute_hints(case(lesion(), findings={"multiplicity": "multiple"})))


def test_per_lesion_hints_carry_the_lesion_id_and_keep_lesion_order():
    c = case(lesion("L1", enhancement="absent"), lesion("L2", t2_length_segments=5))
    hints = compute_hints(c)
    assert [(h.id, h.lesion_id) for h in hints if h.lesion_id] == [("enhancement_absent", "L1"),
                                                                  ("edema_extensive", "L2")]
    assert hints.index(next(h for h in hints if h.lesion_id is None)) == 2  # case hints come last


def test_hints_are_recomputed_and_do_not_touch_the_case():
    c = case(lesion(enhancement="heterogeneous", rim_sign=True, t2_length_segments=4, enhancement_length_segments=1))
    before = copy.deepcopy(c)
    first = compute_hints(c)
    assert c == before and compute_hints(c) == first


# ------------------------------------------------------------------------------------------------
# Every hint, every number, every word

#: Cases that together make every rule fire.
ALL_RULES_CASES = [
    case(lesion("L1", location="thoracic", position="exophytic", morphology="ill_defined", cord_expansion=True,
                t2_signal="hypointense", t1_signal="isointense", enhancement="heterogeneous", cystic_change="both",
                hemorrhage=True, enhancement_length_segments=9, t2_length_segments=16, t2_to_enhancement_ratio=1.8,
                t2_length_mm=150.0, size_mm={"si": 120.0, "ap": 17, "transverse": 25}, rim_sign=True,
                flame_sign=True, central_dot_sign=True),
         lesion("L2", position="eccentric", origin="possible_leptomeningeal", enhancement="absent",
                t2_length_segments=2),
         lesion("L3", enhancement="peripheral_ring", flame_sign=True, enhancement_length_segments=1,
                t2_length_segments=1, size_mm={"si": 1.0}),
         clinical={"primary_known_at_presentation": False, "dominant_symptom": "asymptomatic",
                   "symptom_duration_weeks": 40}),
    case(lesion("L1", enhancement="homogeneous", rim_sign=True, t2_length_segments=3),
         clinical={"primary_tumor": "cns", "symptom_duration_weeks": 2}),
    case(lesion("L1", enhancement="homogeneous")),
]
ALL_HINTS = [hint for c in ALL_RULES_CASES for hint in compute_hints(c)]


def test_every_rule_fires_in_the_test_cases_and_is_well_formed():
    assert {h.id for h in ALL_HINTS} == set(RULES)
    for hint in ALL_HINTS:
        assert hint.kind == RULES[hint.id].kind and hint.kind in KINDS and hint.direction in DIRECTIONS
        assert hint.text.startswith(f"{KIND_LABELS[hint.kind]} \u2014 ") and hint.evidence, hint.id
        assert (hint.accuracy is not None) is (hint.kind == "comparative"), hint.id
        assert (hint.lesion_id is None) is (RULES[hint.id].scope == "case"), hint.id
        assert hint.direction != "search" or hint.kind == "prompt", hint.id
        assert str(hint) == f"[{hint.direction}] {hint.text}"


def _counts(hint: Hint) -> set[tuple[int, int]]:
    counts = {(e.numerator, e.denominator) for e in hint.evidence if e.numerator is not None}
    if hint.accuracy is not None:
        counts |= {count for count in (hint.accuracy.sensitivity_count, hint.accuracy.false_positives) if count}
        counts.add((0, hint.accuracy.comparison_size))  # "0/64": 100% specificity of both signs
    return counts


def test_every_count_and_percent_in_a_text_equals_its_evidence():
    for hint in ALL_HINTS:
        counts = _counts(hint)
        for n, d in re.findall(r"\b(\d+)/(\d+)\b", hint.text):
            assert (int(n), int(d)) in counts, (hint.id, f"{n}/{d}", hint.text)
        for n, d, percent in re.findall(r"\b(\d+)/(\d+) [a-zA-Z -]*?\((\d+)%\)", hint.text):
            assert study_percent(int(n), int(d)) == int(percent), (hint.id, n, d, percent)
        percents = {e.percent for e in hint.evidence if e.percent is not None}
        if hint.accuracy is not None:
            percents |= {a.sensitivity for a in ACCURACY.values()} | {a.specificity for a in ACCURACY.values()}
        for percent in re.findall(r"(\d+)%", hint.text):
            assert int(percent) in percents, (hint.id, percent, hint.text)


BANNED = ("typical of iscm", "argues for", "argue for", "likely", "unlikely", "typical")


def test_no_prevalence_or_prompt_reads_as_a_likelihood_unless_quoting_the_authors():
    for hint in ALL_HINTS:
        unquoted = re.sub(r'"[^"]*"', "", hint.text).lower()
        if hint.kind != "comparative":
            for word in BANNED:
                assert word not in unquoted, (hint.id, word, hint.text)
        for quote in re.findall(r'"([^"]*)"', hint.text):
            if any(word in quote.lower() for word in BANNED):
                assert "the authors" in hint.text.lower(), (hint.id, quote)


def test_quotes_in_hints_are_the_authors_words(study_text_normalised):
    for hint in ALL_HINTS:
        for quote in re.findall(r'"([^"]*)"', hint.text):
            assert re.sub(r"\s+", "", quote).lower() in study_text_normalised, (hint.id, quote)


@pytest.fixture(scope="module")
def study_text_normalised() -> str:
    from test_evidence import REFERENCE, _normalised

    path = REFERENCE / "000_0861b762289aef61.txt"
    if not path.is_file():
        pytest.skip(f"reference study not found at {path} (set ISCM_SHARED_DATA to ../shared/data)")
    return _normalised(path.read_text(encoding="utf-8", errors="replace")).lower()


def test_the_explanation_says_what_the_numbers_are_and_that_hints_are_no_probability():
    assert EXPLANATION.count(". ") == 0 and EXPLANATION.endswith(".")
    assert "no comparison group" in EXPLANATION and "no hint is a probability of disease" in EXPLANATION
    assert "sensitivity and specificity" in EXPLANATION


def test_cached_lesion_hints_follow_every_change_and_never_confuse_true_with_1():
    record = lesion(enhancement="heterogeneous", t2_length_segments=1)
    c = case(record)
    assert "enhancement_present" in ids(compute_hints(c)) and "edema_length" in ids(compute_hints(c))
    record["enhancement"] = "absent"
    record["t2_length_segments"] = True  # not a number: no edema hint, although True == 1
    assert "enhancement_absent" in ids(compute_hints(c)) and "edema_length" not in ids(compute_hints(c))
    record["size_mm"]["si"] = 200
    assert "outside_range" in ids(compute_hints(c))
    record["rim_sign"] = True
    assert only(compute_hints(c), "rim_flame_sign").direction == "specific"
    c["clinical"]["primary_tumor"] = "cns"
    assert only(compute_hints(c), "rim_flame_sign").direction == "not_applicable"
    record["location"] = ["not", "hashable"]  # bad input still gives hints, without the cache
    assert "rim_flame_sign" in ids(compute_hints(c))
