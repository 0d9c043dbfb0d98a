"""The read's location warnings and mm ratio that the hints rely on, and ``iscm-assist hints``."""

from __future__ import annotations

import importlib.resources
import json

import jsonschema
import numpy as np
import pytest

from ISCMAssistLib.case import new_case, new_lesion, set_reader_value
from ISCMAssistLib.case_io import save_case
from ISCMAssistLib.cli import main
from ISCMAssistLib.coords import ras_to_lps
from ISCMAssistLib.hints import EXPLANATION, compute_hints, hints_document
from ISCMAssistLib.levels import CONUS_REGION_SEGMENTS, DEFAULT_CONUS_TIP_U, LevelModel, conus_region
from ISCMAssistLib.read import compute_read

SEGMENT_MM = 24.0


def cord(u: float) -> list[float]:
    """RAS point on a straight vertical spine where level coordinate u is at S = -24 u mm."""
    return [0.0, 0.0, -SEGMENT_MM * u]


def model(labels=("C2", "T1", "T6", "T12", "L2", "L4"), conus_u=None) -> LevelModel:
    from ISCMAssistLib.vertebrae import landmark_coordinate

    points = [cord(landmark_coordinate(label)) for label in labels]
    labels = list(labels)
    if conus_u is not None:
        labels.append("conus")
        points.append(cord(conus_u))
    return LevelModel.from_landmarks(labels, np.array(points))


def read(si: tuple[float, float], level_model: LevelModel, edema=None) -> tuple[dict, list[str]]:
    case = new_case("c1")
    lesion = new_lesion("L1")
    lesion["lines_lps"] = {"si": ras_to_lps([cord(si[0]), cord(si[1])]).tolist()}
    if edema:
        lesion["lines_lps"]["edema_si"] = ras_to_lps([cord(edema[0]), cord(edema[1])]).tolist()
    case["lesions"].append(lesion)
    warnings: list[str] = []
    compute_read(case, level_model, warnings=warnings)
    return case, warnings


def test_default_conus_region_follows_the_tip_rule_with_the_tip_at_l1_l2():
    assert DEFAULT_CONUS_TIP_U == 20.5 and CONUS_REGION_SEGMENTS == 2
    assert conus_region(None) == (18.5, 20.5)  # T12-L1 bodies: the [tip - 2, tip] rule at L1/L2
    assert conus_region(19.0) == (17.0, 19.0)
    tip_at_l1_l2 = model(conus_u=20.5)
    for extent in ((17.0, 18.4), (17.0, 19.5), (18.6, 20.4), (21.0, 22.0)):
        assert model().location(*extent) == tip_at_l1_l2.location(*extent), extent


def test_lesion_below_a_placed_conus_tip_warns_of_the_cauda_equina():
    case, warnings = read((21.0, 21.8), model(conus_u=20.3))
    assert case["lesions"][0]["location"] == "conus"
    assert any("entirely below the placed conus tip" in w and "cauda equina" in w and "excluded" in w
               for w in warnings)
    _, warnings = read((19.8, 20.8), model(conus_u=20.3))  # reaches above the tip: no warning
    assert not any("cauda equina" in w for w in warnings)
    _, warnings = read((21.0, 21.8), model())  # no conus landmark: below the assumed tip
    assert any("below the L1/L2 disc" in w and "place the conus tip" in w for w in warnings)
    _, warnings = read((19.0, 20.0), model())
    assert warnings == []


def test_lesion_from_cervical_to_conus_warns_that_there_is_no_holocord_category():
    case, warnings = read((3.0, 19.5), model())
    assert case["lesions"][0]["location"] == "cervicothoracic"
    assert any("spans cervical, thoracic and conus cord" in w for w in warnings)
    _, warnings = read((3.0, 12.0), model())
    assert not any("spans cervical" in w for w in warnings)


def test_t2_length_in_mm_and_the_ratio_in_mm_beside_segments():
    # A 17 mm lesion straddling the T4/T5 disc (u 11.5) counts 2 segments; edema 102 mm over 5 segments.
    lesion_si = (11.5 - 8.5 / SEGMENT_MM, 11.5 + 8.5 / SEGMENT_MM)
    case, _ = read(lesion_si, model(("T1", "T6", "T12")), edema=(9.6, 9.6 + 102 / SEGMENT_MM))
    lesion = case["lesions"][0]
    assert lesion["size_mm"]["si"] == 17.0 and lesion["enhancement_length_segments"] == 2
    assert lesion["t2_length_mm"] == 102.0 and lesion["t2_length_segments"] == 5
    assert lesion["t2_to_enhancement_ratio"] == 2.5 and lesion["t2_to_enhancement_ratio_mm"] == 6.0
    assert lesion["provenance"]["t2_to_enhancement_ratio_mm"] == "derived"
    hint = next(h for h in compute_hints(case) if h.id == "edema_ratio")
    assert "2.5 times the enhancing length in segments; 6.0 in mm" in hint.text
    # Lines removed: the derived mm values go; a reader's SI size feeds the ratio.
    lesion["lines_lps"] = {"edema_si": lesion["lines_lps"]["edema_si"]}
    set_reader_value(lesion, "size_mm.si", 20.4)
    compute_read(case, model(("T1", "T6", "T12")))
    assert lesion["t2_to_enhancement_ratio_mm"] == 5.0
    lesion["lines_lps"] = {}
    compute_read(case, model(("T1", "T6", "T12")))
    assert lesion["t2_length_mm"] is None and lesion["t2_to_enhancement_ratio_mm"] is None


# ------------------------------------------------------------------------------------------------
# iscm-assist hints


def _schema() -> dict:
    text = importlib.resources.files("ISCMAssistLib").joinpath("schema", "hints.schema.json").read_text("utf-8")
    schema = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def _case_file(tmp_path, primary="lung") -> str:
    case = new_case("hints-1")
    for lesion_id, values in (("L1", {"enhancement": "heterogeneous", "rim_sign": True, "cystic_change": "intratumoral",
                                      "t2_length_segments": 4}),
                              ("L2", {"central_dot_sign": True, "enhancement": "peripheral_ring"})):
        lesion = new_lesion(lesion_id)
        for name, value in values.items():
            set_reader_value(lesion, name, value)
        case["lesions"].append(lesion)
    set_reader_value(case["clinical"], "primary_tumor", primary)
    path = tmp_path / "case.json"
    save_case(case, path)
    return str(path)


def test_hints_json_follows_the_shipped_schema(tmp_path, capsys):
    assert main(["hints", _case_file(tmp_path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    jsonschema.validate(document, _schema())
    assert document["explanation"] == EXPLANATION and document["case_id"] == "hints-1"
    hints = document["hints"]
    assert {h["kind"] for h in hints} == {"prevalence", "comparative", "prompt"}
    rim = next(h for h in hints if h["id"] == "rim_flame_sign")
    assert (rim["sensitivity"], rim["specificity"], rim["likelihood_ratio_positive"]) == (47, 97, 15.7)
    assert "pathologically proven primary intramedullary masses" in rim["comparison"]
    dot = next(h for h in hints if h["id"] == "central_dot_sign")
    assert dot["lesion_id"] == "L2" and dot["likelihood_ratio_positive"] is None
    assert dot["likelihood_ratio_note"] == "not finite: none of 54 primary masses showed it (0/54)"
    cyst = next(h for h in hints if h["id"] == "cystic_or_hemorrhage")
    assert {"numerator": 2, "denominator": 70, "percent": 3, "source": "Table 2",
            "text": "intratumoral cystic change"} in cyst["evidence"]
    assert all("sensitivity" not in h for h in hints if h["kind"] != "comparative")


def test_the_schema_refuses_a_comparative_hint_without_its_figures():
    schema = _schema()
    case = json.loads(json.dumps(hints_document({"case_id": "x"}, compute_hints(
        {"lesions": [{"id": "L1", "rim_sign": True}]}))))
    jsonschema.validate(case, schema)
    rim = next(h for h in case["hints"] if h["kind"] == "comparative")
    del rim["specificity"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(case, schema)
    prompt = next(h for h in case["hints"] if h["kind"] == "prompt")
    prompt["sensitivity"] = 50
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**case, "hints": [prompt]}, schema)


def test_hints_text_shows_the_explanation_and_each_kind(tmp_path, capsys):
    assert main(["hints", _case_file(tmp_path, primary="cns")]) == 0
    out = capsys.readouterr().out
    assert "For research use only" in out and EXPLANATION in out
    assert "[specific] Comparison \u2014 Lesion L2: central dot sign" in out
    assert "[not_applicable] Comparison \u2014 Lesion L1: rim sign recorded" in out
    assert "[uncommon] Prevalence \u2014 Lesion L1: intratumoral cystic change" in out
    assert "[search] Prompt \u2014 look on this MR" in out
    assert "    Table 2: intratumoral cystic change in 2/70 (3%)" in out


def test_hints_of_a_bad_file_is_one_line_naming_it(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": "1.1.0", "case_id": "x", "lesions": [{"id": "L1", "rim_sign": "yes"}]}')
    assert main(["hints", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.json" in err and "rim_sign" in err
    assert main(["hints", str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err


def test_an_old_1_0_0_case_still_gives_its_hints(tmp_path, capsys):
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"schema_version": "1.0.0", "case_id": "old", "lesions": [
        {"id": "L1", "enhancement": "absent"}]}))
    assert main(["hints", str(old), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["hints"][0]["id"] == "enhancement_absent"


def test_the_1_1_0_fields_round_trip_through_the_sr_coded(tmp_path):
    from test_sr import make_series

    from ISCMAssistLib import sr, sr_codes

    headers = sr.read_source_headers([make_series(tmp_path / "t2")])
    case = new_case("sr-1-1-0")
    lesion = new_lesion("L1")
    lesion.update(central_dot_sign=True, t2_length_mm=108.7, t2_to_enhancement_ratio_mm=6.39)
    case["lesions"].append(lesion)
    case["patient_findings"].update(other_metastases_prior_mr=True, other_metastases_subsequent_mr=False,
                                    new_iscm_on_follow_up=True)
    dataset = sr.case_to_sr(case, headers)
    assert sr.sr_to_case(dataset) == case
    # The values are coded, not only carried by the supplement.
    from ISCMAssistLib.sr_private import CODED, read_supplement

    coded = read_supplement(dataset, "test SR")["case"]  # the private supplement, outside the content tree
    assert coded["lesions"][0]["central_dot_sign"] == CODED and coded["lesions"][0]["t2_length_mm"] == CODED
    assert coded["patient_findings"]["new_iscm_on_follow_up"] == CODED
    assert "central_dot_sign" in sr_codes.LESION_EVALUATIONS and "t2_length_mm" in sr_codes.SEGMENT_MEASUREMENTS


def test_hints_never_raise_on_bad_values():
    from ISCMAssistLib.lesion_hints import RULE_FIELDS

    for name in RULE_FIELDS[1:]:
        for value in ([1], {"a": 1}, "x", float("nan"), -1, True, 10**9):
            compute_hints({"lesions": [{"id": "L1", name: value, "size_mm": value}],
                           "clinical": {"primary_tumor": value, "symptom_duration_weeks": value},
                           "patient_findings": {"multiplicity": value}})


def test_hints_command_shows_the_read_warnings_of_the_saved_case(tmp_path, capsys):
    from ISCMAssistLib.read import levels_record

    level_model = model(conus_u=20.3)
    case, _ = read((21.0, 21.8), level_model)
    case["levels"] = levels_record(level_model, "landmarks")
    path = tmp_path / "cauda.json"
    save_case(case, path)
    assert main(["hints", str(path)]) == 0
    assert "warning: lesion L1 lies entirely below the placed conus tip: that is the cauda equina" in capsys.readouterr().out
    assert main(["hints", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    jsonschema.validate(document, _schema())
    assert any("cauda equina" in warning for warning in document["warnings"])
    assert json.loads(path.read_text())["lesions"][0] == case["lesions"][0]  # the file is not changed
