"""Case files: validated load/save with clear errors, and the per-lesion CSV."""

from __future__ import annotations

import csv
import json

import pytest

from ISCMAssistLib import case as C
from ISCMAssistLib.case_io import CaseFileError, case_to_json, lesion_csv_columns, load_case, save_case, write_lesions_csv
from ISCMAssistLib.files import FileWriteError


def two_lesion_case(case_id: str = "case-001") -> dict:
    case = C.new_case(case_id, "reader1")
    case["reader"]["read_at"] = "2026-11-25T12:00:00Z"
    first = C.new_lesion("L1")
    C.set_derived_value(first, "size_mm", {"ap": 6.5, "transverse": 7.3, "si": 19.9})
    C.set_derived_value(first, "levels", "T4-T5")
    C.set_derived_value(first, "enhancement_length_segments", 2)
    C.set_reader_value(first, "t2_signal", "hyperintense")
    C.set_reader_value(first, "cord_expansion", True)
    first["lines_lps"]["si"] = [[0.0, 1.0, -120.0], [0.0, 1.0, -139.9]]
    second = C.new_lesion("L2")
    C.set_reader_value(second, "hemorrhage", False)
    case["lesions"] += [first, second]
    C.set_derived_value(case["patient_findings"], "multiplicity", "multiple")
    C.set_reader_value(case["patient_findings"], "leptomeningeal_sites", ["cord_conus", "cauda_equina"])
    case["clinical"].update({"sex": "female", "age_years": 58, "primary_tumor": "other",
                             "primary_tumor_detail": "=HYPERLINK(\"x\")"})
    return case


def test_save_then_load_round_trip(tmp_path):
    case = two_lesion_case()
    path = tmp_path / "case.json"
    save_case(case, path)
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n") and text.startswith('{\n  "schema_version": "1.1.0",\n')
    assert load_case(path) == case
    assert json.loads(text)["lesions"][0]["lines_lps"]["si"][1] == [0.0, 1.0, -139.9]


def test_save_writes_numpy_values_as_plain_json(tmp_path):
    import numpy as np

    case = two_lesion_case()
    case["lesions"][0]["size_mm"]["ap"] = np.float32(6.5)
    case["lesions"][0]["t2_length_segments"] = np.int64(4)
    path = tmp_path / "np.json"
    save_case(case, path)
    loaded = load_case(path)
    assert loaded["lesions"][0]["size_mm"]["ap"] == 6.5 and loaded["lesions"][0]["t2_length_segments"] == 4


def test_save_invalid_case_writes_nothing_and_names_file_and_field(tmp_path):
    path = tmp_path / "case.json"
    save_case(two_lesion_case(), path)
    before = path.read_bytes()
    bad = two_lesion_case()
    bad["lesions"][1]["enhancement"] = "ring"
    with pytest.raises(CaseFileError) as info:
        save_case(bad, path)
    assert str(info.value).startswith(f"{path}: not saved: lesions[1].enhancement: 'ring' is not one of")
    assert isinstance(info.value, ValueError) and isinstance(info.value, OSError)
    assert path.read_bytes() == before


def test_save_to_missing_folder_is_a_file_error(tmp_path):
    with pytest.raises(FileWriteError, match="folder does not exist"):
        save_case(two_lesion_case(), tmp_path / "no" / "case.json")


def test_load_missing_file(tmp_path):
    path = tmp_path / "absent.json"
    with pytest.raises(CaseFileError) as info:
        load_case(path)
    assert str(info.value) == f"{path}: file not found"
    with pytest.raises(CaseFileError, match="is a folder"):
        load_case(tmp_path)


def test_load_bad_json_names_line_and_column(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n  "schema_version": "1.0.0",\n  "case_id": "x"\n  "lesions": []\n}\n')
    with pytest.raises(CaseFileError) as info:
        load_case(path)
    assert str(info.value) == f"{path}: not valid JSON at line 4, column 3: Expecting ',' delimiter"


def test_load_rejects_nan_and_non_utf8(tmp_path):
    path = tmp_path / "nan.json"
    path.write_text('{"schema_version": "1.0.0", "case_id": "x", "lesions": [{"id": "L1", "t2_to_enhancement_ratio": NaN}]}')
    with pytest.raises(CaseFileError, match=r"nan\.json: NaN is not allowed"):
        load_case(path)
    path.write_bytes(b'{"case_id": "\xff"}')
    with pytest.raises(CaseFileError, match="not UTF-8 text"):
        load_case(path)


def test_load_schema_error_names_file_and_field(tmp_path):
    case = two_lesion_case()
    case["lesions"][0]["position"] = "middle"
    path = tmp_path / "c.json"
    path.write_text(json.dumps(case))
    with pytest.raises(CaseFileError) as info:
        load_case(path)
    assert str(info.value) == (f"{path}: lesions[0].position: 'middle' is not one of "
                               "['central', 'eccentric', 'exophytic', None]")


def test_load_fills_missing_fields_of_a_minimal_file(tmp_path):
    path = tmp_path / "min.json"
    path.write_text('\ufeff{"schema_version": "1.0.0", "case_id": "m", "lesions": [{"id": "L1"}]}')
    case = load_case(path)
    assert case["lesions"][0]["size_mm"] == {"ap": None, "transverse": None, "si": None}
    assert case["patient_findings"]["multiplicity"] is None and "identifiers" not in case


def test_case_to_json_is_what_save_writes(tmp_path):
    case = two_lesion_case()
    path = tmp_path / "x.json"
    save_case(case, path)
    assert path.read_text(encoding="utf-8") == case_to_json(case)


def read_csv(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_csv_one_row_per_lesion_with_units_in_headers(tmp_path):
    cases = [two_lesion_case("case-001"), two_lesion_case("case-002"), C.new_case("case-003")]
    cases[1]["lesions"].pop()
    path = tmp_path / "lesions.csv"
    write_lesions_csv(cases, path)
    rows = read_csv(path)
    assert [(r["case_id"], r["lesion_id"]) for r in rows] == [("case-001", "L1"), ("case-001", "L2"), ("case-002", "L1")]
    first = rows[0]
    assert (first["size_ap_mm"], first["size_transverse_mm"], first["size_si_mm"]) == ("6.5", "7.3", "19.9")
    assert first["enhancement_length_segments"] == "2" and first["t2_length_segments"] == ""
    assert first["levels"] == "T4-T5" and first["t2_signal"] == "hyperintense" and first["cord_expansion"] == "true"
    assert rows[1]["hemorrhage"] == "false" and rows[1]["size_si_mm"] == ""
    assert first["lesion_count"] == "2" and rows[2]["lesion_count"] == "1"
    assert first["multiplicity"] == "multiple" and first["leptomeningeal_sites"] == "cord_conus;cauda_equina"
    assert first["sex"] == "female" and first["age_years"] == "58" and first["read_at"] == "2026-11-25T12:00:00Z"
    assert first["primary_tumor_detail"] == "'=HYPERLINK(\"x\")"  # not run as a formula
    header = path.read_text().splitlines()[0].split(",")
    assert header == lesion_csv_columns()
    assert {"size_ap_mm", "size_transverse_mm", "size_si_mm", "age_years", "symptom_duration_weeks",
            "enhancement_length_segments", "t2_length_segments"} <= set(header)
    assert "size_mm" not in header and "provenance" not in header and "lines_lps" not in header


def test_csv_has_no_identifiers_unless_asked(tmp_path):
    case = two_lesion_case()
    case["identifiers"] = {"patient_name": "Doe^Jane", "patient_id": "PID-123", "birth_date": "19600101",
                           "accession_number": "ACC9", "institution": "General"}
    path = tmp_path / "lesions.csv"
    write_lesions_csv([case], path)
    text = path.read_text()
    for secret in ("Doe^Jane", "PID-123", "19600101", "ACC9", "General", "patient_name", "birth_date"):
        assert secret not in text
    write_lesions_csv([case], path, include_identifiers=True)
    rows = read_csv(path)
    assert rows[0]["patient_name"] == "Doe^Jane" and rows[1]["patient_id"] == "PID-123"
    assert list(rows[0])[-5:] == list(C.IDENTIFIER_FIELDS)


def test_csv_rejects_invalid_case_naming_it_and_writes_nothing(tmp_path):
    bad = two_lesion_case("case-009")
    bad["lesions"][0]["morphology"] = "round"
    path = tmp_path / "lesions.csv"
    with pytest.raises(C.CaseValidationError) as info:
        write_lesions_csv([two_lesion_case(), bad], path)
    assert str(info.value).startswith("case case-009: lesions[0].morphology: 'round' is not one of")
    assert not path.exists()


def test_csv_accepts_a_generator(tmp_path):
    path = tmp_path / "g.csv"
    write_lesions_csv((two_lesion_case(f"c{i}") for i in range(3)), path)
    assert len(read_csv(path)) == 6


def test_validate_command_prints_valid_or_error(tmp_path, capsys):
    from ISCMAssistLib.cli import main

    good = tmp_path / "good.json"
    save_case(two_lesion_case(), good)
    assert main(["validate", str(good)]) == 0
    assert capsys.readouterr().out == f"{good}: valid (2 lesions)\n"
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": "1.0.0", "case_id": "x", "lesions": [{"id": "L1", "t1_signal": "dark"}]}')
    assert main(["validate", str(good), str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out == f"{good}: valid (2 lesions)\n"
    assert captured.err == (f"{bad}: lesions[0].t1_signal: 'dark' is not one of "
                            "['hyperintense', 'hypointense', 'isointense', None]\n")
    assert main(["validate", str(tmp_path / "none.json")]) == 1
    assert capsys.readouterr().err == f"{tmp_path / 'none.json'}: file not found\n"


def _lesion_strategy():
    from hypothesis import strategies as st

    sizes = st.one_of(st.none(), st.floats(0, 200, allow_nan=False))
    fields = {}
    for feature in C.LESION_FEATURES:
        if feature.kind in ("enum", "boolean"):
            fields[feature.name] = st.sampled_from(list(feature.values) + [None])
        elif feature.kind == "integer":
            fields[feature.name] = st.one_of(st.none(), st.integers(1, 30))
        elif feature.kind == "number":
            fields[feature.name] = sizes
        elif feature.kind == "sizes":
            fields[feature.name] = st.fixed_dictionaries({axis: sizes for axis in C.SIZE_AXES})
    fields["levels"] = st.sampled_from([None, "C2", "T4-T5", "T12-L2", "S1"])
    point = st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=3, max_size=3)
    fields["lines_lps"] = st.dictionaries(st.sampled_from(C.LINE_NAMES), st.lists(point, min_size=2, max_size=2))
    return st.fixed_dictionaries(fields)


def test_any_valid_case_round_trips_through_save_and_load(tmp_path):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=40, deadline=None)
    @given(st.lists(_lesion_strategy(), max_size=3), st.text(min_size=1).filter(str.strip))
    def check(lesions, case_id):
        case = C.new_case(case_id)
        for index, values in enumerate(lesions):
            lesion = C.new_lesion(f"L{index + 1}")
            lesion.update(values)
            if lesion["position"] == "central":
                lesion["origin"] = None
            case["lesions"].append(lesion)
        path = tmp_path / "h.json"
        save_case(case, path)
        assert load_case(path) == case

    check()


def test_saved_case_has_no_identifiers_unless_asked(tmp_path):
    case = two_lesion_case()
    case["identifiers"] = {"patient_name": "Doe^Jane", "patient_id": "PID-123"}
    path = tmp_path / "case.json"
    save_case(case, path)
    text = path.read_text()
    assert "identifiers" not in text and "Doe^Jane" not in text and "PID-123" not in text
    assert "identifiers" in case  # the caller's dict is untouched
    save_case(case, path, include_identifiers=True)
    assert load_case(path)["identifiers"]["patient_name"] == "Doe^Jane"


def test_no_negative_zero_in_the_file(tmp_path):
    """Issue 12, item 15: case.json held -0.0 (an LPS flip of 0, a rounded tiny negative)."""
    import numpy as np

    from ISCMAssistLib.case import new_case, new_lesion
    from ISCMAssistLib.case_io import case_to_json

    case = new_case("z")
    lesion = new_lesion("L1")
    lesion["lines_lps"] = {"si": [[-0.0, 0.0, float(np.float64(-0.0))], [1.0, -2.0, 3.0]]}
    lesion["size_mm"]["si"] = 0.0
    case["lesions"].append(lesion)
    text = case_to_json(case)
    assert "-0.0" not in text and "-2.0" in text
