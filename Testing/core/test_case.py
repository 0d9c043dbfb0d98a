"""The case schema and model helpers: shapes, enums, nulls, provenance."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from ISCMAssistLib import case as C


def full_case() -> dict:
    """A case with every field filled (the example of docs/core-api.md)."""
    case = C.new_case("case-001", "reader1")
    case["series"] = [{"role": "t2_sagittal", "series_uid": "1.2.3", "file": "t2/", "description": "SAG T2"}]
    case["levels"] = {"landmarks": [{"label": "T4", "position_lps": [0.0, 10.0, -120.0]},
                                    {"label": "T4/T5", "position_lps": [0.0, 10.0, -135.0]},
                                    {"label": "conus", "position_lps": [0.0, 5.0, -300.0]}],
                      "source": "landmarks"}
    lesion = C.new_lesion("L1")
    lesion.update({
        "levels": "T4-T5", "location": "thoracic", "position": "eccentric", "origin": None,
        "morphology": "well_circumscribed", "cord_expansion": True, "t2_signal": "hyperintense",
        "t1_signal": "isointense", "cystic_change": "absent", "hemorrhage": False,
        "enhancement": "heterogeneous", "size_mm": {"ap": 6.5, "transverse": 7.3, "si": 19.9},
        "enhancement_length_segments": 2, "t2_length_segments": 5, "t2_to_enhancement_ratio": 2.5,
        "rim_sign": False, "flame_sign": False,
        "lines_lps": {"si": [[0, 1, 2], [0, 1, 22]], "ap": [[0, 0, 10], [0, 6.5, 10]],
                      "transverse": [[-3, 2, 10], [4.3, 2, 10]], "edema_si": [[0, 1, -20], [0, 1, 60]]},
        "provenance": {"size_mm": "derived", "t2_signal": "reader"},
    })
    case["lesions"].append(lesion)
    case["patient_findings"].update({
        "multiplicity": "solitary", "other_cns_or_spinal_metastases": True,
        "primary_tumor_or_non_cns_metastases": False, "leptomeningeal_metastases": True,
        "leptomeningeal_sites": ["cord_conus", "cauda_equina"], "provenance": {"multiplicity": "derived"},
    })
    case["clinical"].update({
        "sex": "female", "age_years": 58, "primary_tumor": "lung", "primary_tumor_detail": None,
        "dominant_symptom": "weakness", "symptom_duration_weeks": 2.0, "primary_known_at_presentation": True,
        "primary_known_at_iscm_diagnosis": True, "primary_to_presentation_years": 1.8,
        "primary_to_iscm_diagnosis_years": 1.6,
    })
    return case


def error_of(case: dict) -> C.CaseValidationError:
    with pytest.raises(C.CaseValidationError) as info:
        C.validate_case(case)
    return info.value


def test_new_case_and_lesion_are_valid_and_empty():
    case = C.new_case("case-007", "r1")
    C.validate_case(case)
    assert case["schema_version"] == C.SCHEMA_VERSION == "1.1.0"
    assert case["reader"]["name"] == "r1" and case["reader"]["read_at"].endswith("Z")
    assert "identifiers" not in case
    lesion = C.new_lesion("L3")
    assert lesion["provenance"] == {} and lesion["id"] == "L3"
    assert all(lesion[f.name] is None for f in C.LESION_FEATURES if f.name != "size_mm")
    assert lesion["size_mm"] == {"ap": None, "transverse": None, "si": None}
    case["lesions"].append(lesion)
    C.validate_case(case)


def test_full_case_round_trips_through_json():
    case = full_case()
    C.validate_case(case)
    again = json.loads(json.dumps(case))
    C.validate_case(again)
    assert again == case


def test_schema_has_id_with_version_and_is_draft_2020_12():
    schema = C.load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == C.SCHEMA_ID and schema["$id"].endswith("1.1.0")
    schema["title"] = "changed"  # load_schema returns a copy
    assert C.load_schema()["title"] != "changed"


def test_schema_is_a_valid_draft_2020_12_schema():
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(C.load_schema())  # the tool does not check it at run time


def test_message_names_the_json_path_of_the_field():
    case = full_case()
    case["lesions"][0]["position"] = "middle"
    error = error_of(case)
    assert str(error) == "lesions[0].position: 'middle' is not one of ['central', 'eccentric', 'exophytic', None]"
    assert error.path == "lesions[0].position"


def _enum_fields():
    """(section, field, allowed values) for every enum in the schema, walked from the schema itself."""
    schema = C.load_schema()
    defs = schema["$defs"]
    out = []
    for section, props in (("lesion", defs["lesion"]["properties"]),
                           ("patient_findings", defs["patient_findings"]["properties"]),
                           ("clinical", defs["clinical"]["properties"])):
        for name, sub in props.items():
            if "enum" in sub:
                out.append((section, name, sub["enum"]))
    return out


ENUMS = _enum_fields()


def test_enum_list_covers_the_study_categories():
    names = {(s, n) for s, n, _ in ENUMS}
    assert len(ENUMS) == 12  # 8 per lesion, multiplicity, sex, primary tumor, symptom
    assert ("lesion", "cystic_change") in names and ("clinical", "primary_tumor") in names


@pytest.mark.parametrize("section,field,allowed", ENUMS, ids=[f"{s}.{n}" for s, n, _ in ENUMS])
def test_every_enum_rejects_a_bad_value_naming_the_field(section, field, allowed):
    case = full_case()
    record = {"lesion": case["lesions"][0], "patient_findings": case["patient_findings"],
              "clinical": case["clinical"]}[section]
    record[field] = "not_a_category"
    error = error_of(case)
    path = {"lesion": "lesions[0]", "patient_findings": "patient_findings", "clinical": "clinical"}[section]
    assert str(error).startswith(f"{path}.{field}: 'not_a_category' is not one of")
    assert None in allowed  # every feature nullable
    for value in allowed:  # and every category is accepted
        record[field] = value
        if field == "origin":
            case["lesions"][0]["position"] = "eccentric"
        C.validate_case(case)


@pytest.mark.parametrize("field,allowed", [("series", C.SERIES_ROLES)])
def test_series_role_enum(field, allowed):
    case = full_case()
    case["series"][0]["role"] = "t3"
    assert str(error_of(case)).startswith("series[0].role: 't3' is not one of")


def test_feature_tables_match_the_schema_enums():
    schema = C.load_schema()["$defs"]
    for features, props in ((C.LESION_FEATURES, schema["lesion"]["properties"]),
                            (C.PATIENT_FEATURES, schema["patient_findings"]["properties"]),
                            (C.CLINICAL_FEATURES, schema["clinical"]["properties"])):
        assert {f.name for f in features} == set(props) - {"id", "lines_lps", "provenance"}
        for feature in features:
            prop = props[feature.name]
            if feature.kind == "enum":
                assert list(feature.values) + [None] == prop["enum"]
            if feature.kind == "list":
                assert list(feature.values) == prop["items"]["enum"]
            if feature.kind == "boolean":
                assert prop["type"] == ["boolean", "null"]
    assert [f.item for f in C.LESION_FEATURES if f.item][:3] == [11, 2, 3]
    assert {f.item for f in C.LESION_FEATURES + C.PATIENT_FEATURES if f.item} == set(range(1, 13))


def test_null_is_accepted_for_every_feature_and_section_item():
    case = full_case()
    for record, features in ((case["lesions"][0], C.LESION_FEATURES),
                             (case["patient_findings"], C.PATIENT_FEATURES),
                             (case["clinical"], C.CLINICAL_FEATURES)):
        for feature in features:
            record[feature.name] = None
    case["lesions"][0]["size_mm"] = {"ap": None, "transverse": None, "si": None}
    case["reader"] = {"name": None, "read_at": None}
    case["levels"]["source"] = None
    case["notes"] = None
    C.validate_case(case)
    case["lesions"][0]["size_mm"] = None
    C.validate_case(case)


@pytest.mark.parametrize("path,value,expected", [
    (("lesions", 0, "enhancement_length_segments"), 0, "lesions[0].enhancement_length_segments: 0 is less than the minimum of 1"),
    (("lesions", 0, "t2_length_segments"), 2.5, "lesions[0].t2_length_segments: 2.5 is not of type 'integer', 'null'"),
    (("lesions", 0, "size_mm", "ap"), -1.0, "lesions[0].size_mm.ap: -1.0 is less than the minimum of 0"),
    (("lesions", 0, "cord_expansion"), "yes", "lesions[0].cord_expansion: 'yes' is not of type 'boolean', 'null'"),
    (("lesions", 0, "id"), "Lesion 1", "lesions[0].id: 'Lesion 1' does not match"),
    (("lesions", 0, "levels"), "T13", "lesions[0].levels: 'T13' does not match"),
    (("lesions", 0, "lines_lps", "si"), [[0, 0, 0]], "lesions[0].lines_lps.si: expected exactly 2 points, got 1"),
    (("lesions", 0, "lines_lps", "ap"), [[0, 0, 0], [0, 0, 0], [1, 1, 1]], "lesions[0].lines_lps.ap: expected exactly 2 points, got 3"),
    (("lesions", 0, "lines_lps", "si", 1), [0, 0], "lesions[0].lines_lps.si[1]: expected exactly 3 numbers, got 2"),
    (("lesions", 0, "lines_lps", "si", 1, 2), float("nan"), "lesions[0].lines_lps.si[1][2]: nan is not a finite number"),
    (("lesions", 0, "size_mm", "si"), float("inf"), "lesions[0].size_mm.si: inf is not a finite number"),
    (("lesions", 0, "provenance", "size_mm"), "robot", "lesions[0].provenance.size_mm: 'robot' is not one of ['derived', 'reader']"),
    (("lesions", 0, "provenance", "sizes"), "reader", "lesions[0].provenance.sizes: 'sizes' is not a field that has provenance"),
    (("case_id",), "", "case_id: '' should be non-empty"),
    (("case_id",), "   ", "case_id: '   ' does not match"),
    (("schema_version",), "2.0.0", "schema_version: '2.0.0' is not one of ['1.0.0', '1.1.0']"),
    (("reader", "read_at"), "yesterday", "reader.read_at: 'yesterday' does not match"),
    (("clinical", "age_years"), -3, "clinical.age_years: -3 is less than the minimum of 0"),
    (("patient_findings", "leptomeningeal_sites"), ["cul_de_sac", "cul_de_sac"], "patient_findings.leptomeningeal_sites: ['cul_de_sac', 'cul_de_sac'] has non-unique elements"),
    (("patient_findings", "leptomeningeal_sites", 0), "spine", "patient_findings.leptomeningeal_sites[0]: 'spine' is not one of"),
    (("levels", "landmarks", 1, "position_lps"), [1, 2], "levels.landmarks[1].position_lps: expected exactly 3 numbers, got 2"),
])
def test_bad_values_are_named(path, value, expected):
    case = full_case()
    record = case
    for part in path[:-1]:
        record = record[part]
    record[path[-1]] = value
    assert str(error_of(case)).startswith(expected)


@pytest.mark.parametrize("where,typo", [
    ((), "lesion"), (("lesions", 0), "positon"), (("patient_findings",), "multiplicty"),
    (("clinical",), "age"), (("lesions", 0, "size_mm"), "lr"), (("lesions", 0, "lines_lps"), "si_edema"),
])
def test_typos_in_field_names_are_caught(where, typo):
    case = full_case()
    record = case
    for part in where:
        record = record[part]
    record[typo] = None
    error = error_of(case)
    assert str(error).startswith(f"{C.format_path(list(where) + [typo])}: unknown field (allowed: ")


def test_required_fields_and_non_objects():
    case = full_case()
    del case["case_id"]
    assert str(error_of(case)) == "case: 'case_id' is a required property"
    with pytest.raises(C.CaseValidationError, match="case: expected a JSON object, got list"):
        C.validate_case([])


def test_origin_only_for_eccentric_or_exophytic():
    case = full_case()
    lesion = case["lesions"][0]
    lesion["origin"] = "possible_leptomeningeal"
    C.validate_case(case)  # eccentric
    lesion["position"] = None
    C.validate_case(case)  # position not assessable: origin may stand
    lesion["position"] = "central"
    assert str(error_of(case)).startswith("lesions[0].origin: must be null when position is 'central'")


def test_identifiers_only_when_present_explicitly():
    case = full_case()
    assert "identifiers" not in case
    case["identifiers"] = {"patient_name": "Doe^Jane", "patient_id": "123", "birth_date": "19600101",
                           "accession_number": None, "institution": "X"}
    C.validate_case(case)
    case["identifiers"]["ssn"] = "1"
    assert str(error_of(case)).startswith("identifiers.ssn: unknown field")


def test_numpy_scalars_and_tuples_are_accepted():
    case = full_case()
    lesion = case["lesions"][0]
    lesion["size_mm"]["ap"] = np.float32(6.5)
    lesion["t2_length_segments"] = np.int64(5)
    lesion["lines_lps"]["si"] = (tuple(np.array([0.0, 1, 2])), [np.float64(0), 1, 22])
    C.validate_case(case)
    lesion["t2_length_segments"] = np.int64(0)
    message = str(error_of(case))
    assert message.startswith("lesions[0].t2_length_segments: ") and message.endswith("is less than the minimum of 1")


# ---------------------------------------------------------------- provenance


def test_reader_override_survives_recompute():
    lesion = C.new_lesion("L1")
    assert C.set_derived_value(lesion, "location", "thoracic") is True
    assert lesion["location"] == "thoracic" and lesion["provenance"]["location"] == "derived"
    C.set_reader_value(lesion, "location", "cervicothoracic")
    assert lesion["provenance"]["location"] == "reader"
    assert C.set_derived_value(lesion, "location", "thoracic") is False
    assert lesion["location"] == "cervicothoracic"
    C.clear_reader_value(lesion, "location")
    assert "location" not in lesion["provenance"]
    assert C.set_derived_value(lesion, "location", "thoracic") is True
    assert lesion["location"] == "thoracic" and lesion["provenance"]["location"] == "derived"


def test_reader_can_override_with_null_not_assessable():
    lesion = C.new_lesion("L1")
    C.set_derived_value(lesion, "enhancement_length_segments", 2)
    C.set_reader_value(lesion, "enhancement_length_segments", None)
    assert lesion["enhancement_length_segments"] is None
    assert C.set_derived_value(lesion, "enhancement_length_segments", 3) is False
    assert lesion["enhancement_length_segments"] is None


def test_derived_value_overwrites_derived_and_unset():
    record = C.new_case("c")["patient_findings"]
    assert C.set_derived_value(record, "multiplicity", "solitary")
    assert C.set_derived_value(record, "multiplicity", "multiple")
    assert record == {**record, "multiplicity": "multiple", "provenance": {"multiplicity": "derived"}}


def test_one_size_axis_override_keeps_the_others_derived():
    lesion = C.new_lesion("L1")
    C.set_derived_value(lesion, "size_mm", {"ap": 6.0, "transverse": None, "si": 20.0})
    C.set_reader_value(lesion, "size_mm.transverse", 7.3)
    assert lesion["size_mm"] == {"ap": 6.0, "transverse": 7.3, "si": 20.0}
    assert C.set_derived_value(lesion, "size_mm", {"ap": 6.5, "transverse": None, "si": 21.0}) is True
    assert lesion["size_mm"] == {"ap": 6.5, "transverse": 7.3, "si": 21.0}
    assert lesion["provenance"] == {"size_mm": "derived", "size_mm.transverse": "reader"}
    assert C.set_derived_value(lesion, "size_mm.transverse", 1.0) is False
    assert C.set_derived_value(lesion, "size_mm", None) is True  # lines removed: reader's axis stays
    assert lesion["size_mm"] == {"ap": None, "transverse": 7.3, "si": None}
    # A whole-size override replaces the per-axis ones and blocks every axis.
    C.set_reader_value(lesion, "size_mm", {"ap": 1.0, "transverse": 2.0, "si": 3.0})
    assert lesion["provenance"] == {"size_mm": "reader"}
    assert C.set_derived_value(lesion, "size_mm", {"ap": 9.0, "transverse": 9.0, "si": 9.0}) is False
    assert C.set_derived_value(lesion, "size_mm.ap", 9.0) is False
    assert lesion["size_mm"] == {"ap": 1.0, "transverse": 2.0, "si": 3.0}
    case = C.new_case("c")
    case["lesions"].append(lesion)
    C.validate_case(case)


def test_set_value_does_not_alias_the_callers_object():
    record = C.new_case("c")["patient_findings"]
    sites = ["cord_conus"]
    C.set_reader_value(record, "leptomeningeal_sites", sites)
    sites.append("cauda_equina")
    assert record["leptomeningeal_sites"] == ["cord_conus"]


@pytest.mark.parametrize("field,value,message", [
    ("position", "middle", "position: 'middle' is not an allowed value (allowed: ['central', 'eccentric', 'exophytic', None])"),
    ("hemorrhage", 1, "hemorrhage: 1 is not an allowed value"),
    ("enhancement_length_segments", 0, "enhancement_length_segments: 0 is not an allowed value"),
    ("size_mm.ap", -2.0, "size_mm.ap: -2.0 is not an allowed value"),
    ("size_mm.lr", 2.0, "size_mm.lr: unknown field"),
    ("colour", "red", "colour: unknown field"),
    ("leptomeningeal_sites", ["spine"], "leptomeningeal_sites: ['spine'] is not an allowed value"),
])
def test_set_values_reject_bad_values(field, value, message):
    record = C.new_lesion("L1")
    before = copy.deepcopy(record)
    with pytest.raises(C.CaseValidationError) as info:
        C.set_reader_value(record, field, value)
    assert str(info.value).startswith(message)
    with pytest.raises(C.CaseValidationError):
        C.set_derived_value(record, field, value)
    assert record == before


def test_complete_case_fills_missing_fields():
    minimal = {"schema_version": "1.0.0", "case_id": "c9", "lesions": [{"id": "L1", "size_mm": {"ap": 3}}]}
    C.validate_case(minimal)
    C.complete_case(minimal)
    C.validate_case(minimal)
    lesion = minimal["lesions"][0]
    assert lesion["size_mm"] == {"ap": 3, "transverse": None, "si": None}
    assert lesion["t2_signal"] is None and lesion["provenance"] == {} and lesion["lines_lps"] == {}
    assert minimal["reader"] == {"name": None, "read_at": None}
    assert minimal["patient_findings"]["multiplicity"] is None and minimal["clinical"]["sex"] is None
    assert minimal["levels"] == {"landmarks": [], "source": None}
    # 1.0.0 stays valid and is migrated explicitly on completion; 1.1.0 fields come in as None.
    assert minimal["schema_version"] == C.SCHEMA_VERSION == "1.1.0"
    assert lesion["central_dot_sign"] is None and minimal["patient_findings"]["new_iscm_on_follow_up"] is None


def test_duplicate_lesion_ids_are_refused():
    """Two lesions named L1 would lose the second's provenance in the SR round trip (issue 12, item 4)."""
    case = C.new_case("dup")
    case["lesions"] = [C.new_lesion("L1"), C.new_lesion("L2"), C.new_lesion("L1")]
    with pytest.raises(C.CaseValidationError, match=r"lesions\[2\]\.id: lesion id 'L1' is already used by lesions\[0\]"):
        C.validate_case(case)
    case["lesions"][2]["id"] = "L3"
    C.validate_case(case)
