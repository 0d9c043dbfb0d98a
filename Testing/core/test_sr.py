"""DICOM SR export/import: TID 1500 content, stable tracking UIDs, exact round trip, dciodvfy validity."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.sr.codedict import codes

from ISCMAssistLib import case as C
from ISCMAssistLib import sr, sr_codes
from ISCMAssistLib.dicom_series import write_series
from ISCMAssistLib.vertebrae import level_name, levels_spanned_text
from ISCMAssistLib.volumes import Volume

FOR_UID = "1.2.826.0.1.3680043.8.498.111"

#: Every SR a test here writes to disk; test_dciodvfy_* validates them all at the end of the file.
PRODUCED: list[Path] = []


def make_series(folder: Path, description: str = "SAG T2", number: int = 1, patient: dict | None = None,
                study_uid: str = "1.2.826.0.1.3680043.8.498.100") -> Path:
    """A 4-slice sagittal MR series (LPS x = slice axis), 1 mm pixels, in FOR_UID."""
    ijk_to_ras = np.array([[0, 0, -1.0, 2.0], [0, -1.0, 0, 40.0], [-1.0, 0, 0, 10.0], [0, 0, 0, 1]])
    array = np.arange(4 * 8 * 6, dtype=np.int16).reshape(4, 8, 6)
    write_series(folder, Volume(array, ijk_to_ras), series_description=description, series_number=number,
                 patient=patient, frame_of_reference_uid=FOR_UID, study_instance_uid=study_uid,
                 seed=f"test-sr-{description}")
    return folder


def full_case() -> dict:
    """A case with every field filled, odd floats and provenance, both line kinds."""
    case = C.new_case("case-007", "reader1")
    case["reader"]["read_at"] = "2026-11-25T12:00:00Z"
    case["series"] = [{"role": "t2_sagittal", "series_uid": None, "file": "t2/", "description": "SAG T2"}]
    case["levels"] = {"landmarks": [{"label": "T4", "position_lps": [0.1, 10.2, -120.3]},
                                    {"label": "T4/T5", "position_lps": [0.0, 10.0, -135.123456789]},
                                    {"label": "conus", "position_lps": [0.0, 5.0, -300.0]}],
                      "source": "landmarks"}
    lesion = C.new_lesion("L1")
    lesion.update({
        "levels": "T4-T6", "location": "thoracic", "position": "eccentric", "origin": "intramedullary",
        "morphology": "well_circumscribed", "cord_expansion": True, "t2_signal": "hyperintense",
        "t1_signal": "isointense", "cystic_change": "intratumoral", "hemorrhage": False,
        "enhancement": "heterogeneous",
        "size_mm": {"ap": 6.5, "transverse": 7, "si": 19.912345678901234},
        "enhancement_length_segments": 2, "t2_length_segments": 5, "t2_to_enhancement_ratio": 2.5,
        "rim_sign": False, "flame_sign": True,
        "lines_lps": {"si": [[0.1, 1.2, 2.3], [0.1, 1.2, 22.212345678901234]],
                      "ap": [[0, 0, 10], [0, 6.5, 10]],
                      "transverse": [[-3, 2, 10], [4, 2, 10]],
                      "edema_si": [[0, 1, -20.000001], [0, 1, 60.3333333333]]},
        "provenance": {"size_mm": "derived", "t2_signal": "reader", "size_mm.ap": "reader"},
    })
    lesion2 = C.new_lesion("L2")
    lesion2.update({"position": "central", "t2_signal": "isointense", "enhancement": "peripheral_ring",
                    "size_mm": {"ap": None, "transverse": None, "si": 3.25},
                    "lines_lps": {"ap": [[1, 2, 3], [1, 5, 3]]},
                    "levels": "C5", "location": "cervical"})
    case["lesions"] += [lesion, lesion2]
    case["patient_findings"].update({
        "multiplicity": "multiple", "other_cns_or_spinal_metastases": True,
        "primary_tumor_or_non_cns_metastases": False, "leptomeningeal_metastases": True,
        "leptomeningeal_sites": ["cauda_equina", "cord_conus"], "provenance": {"multiplicity": "derived"},
    })
    case["clinical"].update({"sex": "female", "age_years": 58, "primary_tumor": "other",
                             "primary_tumor_detail": "anaplastic thyroid carcinoma",
                             "symptom_duration_weeks": 2.0})
    case["notes"] = "ünïcode note"
    C.validate_case(case)
    return case


@pytest.fixture(scope="module")
def t2_folder(tmp_path_factory) -> Path:
    return make_series(tmp_path_factory.mktemp("src") / "t2")


@pytest.fixture(scope="module")
def t2_headers(t2_folder) -> list:
    return sr.read_source_headers([t2_folder])


def export(case: dict, folder: Path, path: Path, **options) -> pydicom.Dataset:
    sr.write_sr(case, [folder], path, **options)
    PRODUCED.append(path)
    return pydicom.dcmread(path)


def groups_of(ds: pydicom.Dataset) -> list:
    container = [i for i in ds.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "126010"][0]
    return list(container.ContentSequence)


def items(group, value_type: str | None = None) -> list:
    return [i for i in group.ContentSequence if value_type is None or i.ValueType == value_type]


def named(group, code) -> list:
    return [i for i in group.ContentSequence
            if (i.ConceptNameCodeSequence[0].CodeValue, i.ConceptNameCodeSequence[0].CodingSchemeDesignator)
            == (code.value, code.scheme_designator)]


# --- codes ---------------------------------------------------------------------------------------

#: (scheme, value, meaning) of every standard code sr_codes uses, as given in dicom-sr-notes.md / PS3.16.
EXPECTED_STANDARD = {
    ("SCT", "14799000"), ("SCT", "2748008"), ("SCT", "410668003"), ("SRT", "G-D7FE"), ("SCT", "79654002"),
    ("SCT", "106233006"), ("DCM", "121052"), ("SCT", "243911007"), ("SCT", "243927000"),
    ("SCT", "52101004"), ("SCT", "272519000"), ("SCT", "26216008"),
    ("SCT", "255380003"), ("SCT", "122494005"), ("SCT", "122495006"), ("SCT", "1217257000"),
    ("SCT", "367643001"), ("SCT", "50960005"), ("SCT", "129738007"), ("SCT", "129741003"),
    ("SCT", "14806007"), ("SCT", "73071006"), ("SCT", "23215003"), ("SCT", "66794005"), ("SCT", "49668003"),
    ("SCT", "54735007"), ("SCT", "524008"),
    ("DCM", "110804"), ("DCM", "110805"), ("DCM", "112160"), ("DCM", "112161"), ("DCM", "111037"),
    ("DCM", "121006"), ("DCM", "121007"),
    ("UCUM", "mm"), ("UCUM", "1"), ("LN", "18756-7"),
}


def all_codes() -> list:
    found = [sr_codes.PROCEDURE_REPORTED, sr_codes.FINDING_TYPE, sr_codes.SITE_SPINAL_CORD, sr_codes.UNIT_MM,
             sr_codes.UNIT_ONE, sr_codes.UNIT_SEGMENTS, sr_codes.OBSERVER_PERSON, sr_codes.OBSERVER_DEVICE,
             sr_codes.QUALITATIVE_EVALUATIONS, sr_codes.LEPTOMENINGEAL_SITE, sr_codes.LENGTH, sr_codes.LENGTH_3D,
             sr_codes.EDEMA, sr_codes.PRESENCE, sr_codes.TOPOGRAPHICAL_MODIFIER, sr_codes.LANDMARK, sr_codes.CONUS_TIP]
    found += list(sr_codes.VERTEBRA_CODES.values()) + list(sr_codes.DISC_CODES.values())
    found += list(sr_codes.LEPTOMENINGEAL_SITE_VALUES.values())
    found += [name for name, _unit in sr_codes.SEGMENT_MEASUREMENTS.values()]
    for name, table in list(sr_codes.LESION_EVALUATIONS.values()) + list(sr_codes.PATIENT_EVALUATIONS.values()):
        found += [name, *table.values()]
    return found


def test_every_standard_code_is_in_pydicoms_dictionary_with_the_same_meaning():
    from pydicom.sr._snomed_dict import mapping  # SNOMED RT <-> CT (DICOM PS3.16 Annex O)

    dictionary: dict[tuple[str, str], set[str]] = {}
    for scheme in ("SCT", "DCM", "UCUM", "LN"):
        concepts = getattr(codes, scheme)
        for keyword in concepts.dir():
            code = getattr(concepts, keyword)
            dictionary.setdefault((code.scheme_designator, code.value), set()).add(code.meaning)
    standard = [c for c in all_codes() if c.scheme_designator in ("SCT", "DCM", "UCUM", "LN", "SRT")]
    for code in standard:
        if (code.scheme_designator, code.value) == ("UCUM", "{segments}"):
            continue  # a UCUM annotation unit ({...} means 1); pydicom lists only a few UCUM units
        key = (code.scheme_designator, code.value)
        if code.scheme_designator == "SRT":  # the SNOMED RT code must map to an SCT code of that meaning
            key = ("SCT", mapping["SRT"][code.value])
        assert key in dictionary, f"{key} {code.meaning!r} is not in pydicom's code dictionary"
        assert code.meaning in dictionary[key], f"{key}: {code.meaning!r} not among {dictionary[key]}"
    used = {(c.scheme_designator, c.value) for c in standard}
    assert EXPECTED_STANDARD <= used
    assert sr_codes.SITE_SPINAL_CORD.value == "2748008" and sr_codes.FINDING_TYPE.value == "14799000"
    assert sr_codes.VERTEBRA_CODES[11].value == "73071006"  # T4
    assert sr_codes.VERTEBRA_CODES[25].value == "54735007"  # S1 coded as sacrum


def test_every_other_code_is_in_the_declared_private_scheme_and_unique():
    others = [c for c in all_codes() if c.scheme_designator not in ("SCT", "DCM", "UCUM", "LN", "SRT")]
    assert {c.scheme_designator for c in others} == {"99ISCM", "UMLS"}
    private = {(c.value, c.meaning) for c in others if c.scheme_designator == "99ISCM"}
    assert len({v for v, _m in private}) == len(private)  # one meaning per private value
    assert all(len(c.value) <= 16 for c in all_codes())  # fits Code Value (SH), not Long Code Value
    item = sr_codes.private_coding_scheme()
    assert item.CodingSchemeDesignator == "99ISCM"


def test_every_case_enum_value_has_a_code():
    features = {f.name: f for f in C.LESION_FEATURES + C.PATIENT_FEATURES}
    for field, (_name, table) in list(sr_codes.LESION_EVALUATIONS.items()) + list(sr_codes.PATIENT_EVALUATIONS.items()):
        assert set(table) == set(features[field].values), field
    assert set(sr_codes.LEPTOMENINGEAL_SITE_VALUES) == set(features["leptomeningeal_sites"].values)
    coded = set(sr_codes.LESION_EVALUATIONS) | set(sr_codes.SEGMENT_MEASUREMENTS) | {"levels", "size_mm"}
    assert coded == {f.name for f in C.LESION_FEATURES}


# --- content -------------------------------------------------------------------------------------


def test_sr_is_comprehensive_3d_tid1500_with_patient_and_references(t2_folder, tmp_path):
    ds = export(full_case(), t2_folder, tmp_path / "r.dcm")
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"
    assert ds.Modality == "SR" and ds.CompletionFlag == "COMPLETE" and ds.VerificationFlag == "UNVERIFIED"
    assert ds.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    assert ds.ConceptNameCodeSequence[0].CodeValue == "126000"
    source = pydicom.dcmread(sorted(t2_folder.iterdir())[0])
    assert ds.PatientID == source.PatientID and ds.StudyInstanceUID == source.StudyInstanceUID
    referenced = {i.ReferencedSOPInstanceUID
                  for s in ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence
                  for i in s.ReferencedSOPSequence}
    assert referenced == {pydicom.dcmread(p).SOPInstanceUID for p in t2_folder.iterdir()}
    assert ds.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == "99ISCM"
    assert "research use" in ds.SeriesDescription


def tracking_text(group) -> str:
    return named(group, codes.DCM.TrackingIdentifier)[0].TextValue


def group_named(ds, text: str):
    """The measurement group whose tracking identifier (without OHIF's prefix) is ``text``."""
    for group in groups_of(ds):
        if tracking_text(group).removeprefix(sr_codes.OHIF_LENGTH_TRACKING + ":") == text:
            return group
    raise AssertionError(f"no group {text!r} among {[tracking_text(g) for g in groups_of(ds)]}")


def test_one_group_per_line_with_cord_site_level_modifiers_and_features(t2_folder, tmp_path):
    ds = export(full_case(), t2_folder, tmp_path / "r.dcm")
    names = [tracking_text(g).removeprefix(sr_codes.OHIF_LENGTH_TRACKING + ":") for g in groups_of(ds)]
    assert names == ["L1", "L1 AP", "L1 transverse", "L1 edema SI", "L2", "L2 AP"]
    lesion = group_named(ds, "L1")
    assert tracking_text(lesion) == sr_codes.OHIF_LENGTH_TRACKING + ":L1"  # it has a line
    assert named(lesion, codes.DCM.Finding)[0].ConceptCodeSequence[0].CodeValue == "14799000"
    (site,) = named(lesion, codes.SCT.FindingSite)  # one site: the cord, never a vertebra
    assert site.ConceptCodeSequence[0].CodeValue == "2748008"
    modifiers = [(i.ConceptNameCodeSequence[0].CodeValue, i.ConceptCodeSequence[0].CodeValue) for i in site.ContentSequence]
    assert modifiers == [("106233006", "73071006"), ("106233006", "56401006"), ("106233006", "45296009")]  # T4-T6
    nums = items(lesion, "NUM")
    assert [n.ConceptNameCodeSequence[0].CodeMeaning for n in nums] == [
        "Length", "Length of enhancement in vertebral segments",
        "Length of cord T2 signal abnormality in vertebral segments", "Ratio of T2 signal length to enhancement length"]
    si = nums[0]
    assert si.MeasuredValueSequence[0].FloatingPointValue == 19.912345678901234
    assert si.MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0].CodeValue == "mm"
    scoord = si.ContentSequence[0]
    assert scoord.ValueType == "SCOORD3D" and scoord.GraphicType == "POLYLINE"  # this line lies on no image
    assert scoord.ReferencedFrameOfReferenceUID == FOR_UID
    assert np.allclose(scoord.GraphicData, [0.1, 1.2, 2.3, 0.1, 1.2, 22.212345678901234])  # LPS as given
    assert (si.ConceptNameCodeSequence[0].CodingSchemeDesignator, si.ConceptNameCodeSequence[0].CodeValue) == ("SCT", "410668003")
    t2len = named(lesion, sr_codes.T2_LENGTH)[0].MeasuredValueSequence[0]
    assert int(t2len.NumericValue) == 5 and t2len.MeasurementUnitsCodeSequence[0].CodeValue == "{segments}"
    ratio = named(lesion, sr_codes.T2_TO_ENHANCEMENT_RATIO)[0].MeasuredValueSequence[0]
    assert float(ratio.NumericValue) == 2.5 and ratio.MeasurementUnitsCodeSequence[0].CodeValue == "1"
    assert named(lesion, codes.DCM.T2WeightedMRSignalIntensity)[0].ConceptCodeSequence[0].CodeValue == "HYPERINTENSE"
    assert named(lesion, codes.SCT.Hemorrhage)[0].ConceptCodeSequence[0].CodeValue == "272519000"  # absent
    assert named(lesion, sr_codes.LESION_EVALUATIONS["flame_sign"][0])[0].ConceptCodeSequence[0].CodeValue == "52101004"
    assert named(lesion, codes.DCM.Margins)[0].ConceptCodeSequence[0].CodeValue == "129738007"
    width = items(group_named(ds, "L1 transverse"), "NUM")[0].MeasuredValueSequence[0]
    assert float(width.NumericValue) == 7 and "FloatingPointValue" not in width  # an int: read back as int
    edema = group_named(ds, "L1 edema SI")
    assert named(edema, codes.DCM.Finding)[0].ConceptCodeSequence[0].CodeValue == "79654002"  # Edema
    assert items(edema, "NUM")[0].MeasuredValueSequence[0].FloatingPointValue == pytest.approx(80.3333343333)
    # lesion 2: nulls omitted; SI size with no line: a Length with no coordinates, plain identifier
    lesion2 = group_named(ds, "L2")
    assert tracking_text(lesion2) == "L2" and not named(lesion2, codes.SCT.Hemorrhage)
    assert [n.MeasuredValueSequence[0].NumericValue for n in items(lesion2, "NUM")] == [3.25]
    assert "ContentSequence" not in items(lesion2, "NUM")[0]
    assert items(group_named(ds, "L2 AP"), "NUM")[0].MeasuredValueSequence[0].FloatingPointValue == 3.0


def test_a_read_with_no_lesion_says_so_in_one_group(t2_folder, tmp_path):
    ds = export(C.new_case("none"), t2_folder, tmp_path / "none.dcm")
    (group,) = groups_of(ds)
    assert tracking_text(group) == "no ISCM"
    presence = named(group, sr_codes.PRESENCE)[0]
    assert presence.ConceptCodeSequence[0].CodeValue == "272519000"
    assert sr.sr_to_case(ds)["lesions"] == []


def test_landmarks_are_coded_points_with_their_level_names(t2_folder, tmp_path):
    ds = export(full_case(), t2_folder, tmp_path / "r.dcm")
    container = [i for i in ds.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "C0034375"][0]
    landmarks = [i for i in container.ContentSequence if named_is(i, sr_codes.LANDMARK)]
    assert [i.ConceptCodeSequence[0].CodeMeaning for i in landmarks] == [
        "T4 vertebra", "Level of T4/T5 intervertebral disc", "Tip of conus medullaris"]
    point = landmarks[1].ContentSequence[0]
    assert point.ValueType == "SCOORD3D" and point.GraphicType == "POINT"
    assert np.allclose(point.GraphicData, [0.0, 10.0, -135.123456789])


def test_no_case_json_in_the_content_tree_only_a_private_element(t2_folder, tmp_path):
    from ISCMAssistLib import sr_private

    ds = export(full_case(), t2_folder, tmp_path / "r.dcm")
    texts = [e.value for e in ds.iterall() if e.VR in ("UT", "ST", "LT") and e.tag.group != sr_private.PRIVATE_GROUP]
    assert not any("anaplastic" in str(t) or "case-007" in str(t) for t in texts)
    for item in ds.ContentSequence:  # nothing in the tree mentions the clinical section
        assert "female" not in str(item) and "anaplastic" not in str(item)
    block = ds.private_block(sr_private.PRIVATE_GROUP, sr_private.PRIVATE_CREATOR)
    assert json.loads(block[sr_private.SUPPLEMENT_ELEMENT].value)["case"]["clinical"]["sex"] == "female"


def test_highdicom_reads_the_groups_back(t2_folder, tmp_path):
    """Interoperability: a generic TID 1500 reader (highdicom) sees the lesions, sizes and features."""
    import highdicom as hd

    export(full_case(), t2_folder, tmp_path / "r.dcm")
    groups = hd.sr.srread(tmp_path / "r.dcm").content.get_image_measurement_groups()
    assert [g.tracking_identifier.removeprefix(sr_codes.OHIF_LENGTH_TRACKING + ":") for g in groups] == [
        "L1", "L1 AP", "L1 transverse", "L1 edema SI", "L2", "L2 AP"]
    assert groups[0].tracking_uid == sr.tracking_uid("case-007", "L1")
    assert groups[0].finding_type.value == "14799000"
    depth = groups[1].get_measurements(name=codes.SCT.Length)[0]
    assert depth.value == 6.5 and depth.unit.value == "mm"
    t1 = groups[0].get_qualitative_evaluations(name=codes.DCM.T1WeightedMRSignalIntensity)[0]
    assert t1.value.value == "ISOINTENSE"


def test_patient_findings_are_coded_in_the_qualitative_evaluations_container(t2_folder, tmp_path):
    ds = export(full_case(), t2_folder, tmp_path / "r.dcm")
    container = [i for i in ds.ContentSequence if i.ConceptNameCodeSequence[0].CodeValue == "C0034375"][0]
    coded = {(i.ConceptNameCodeSequence[0].CodeValue, i.ConceptCodeSequence[0].CodeValue)
             for i in container.ContentSequence if i.ValueType == "CODE" and not named_is(i, sr_codes.LANDMARK)}
    assert coded == {("MULTIPLICITY", "524008"), ("OTHER-CNS-METS", "52101004"),
                     ("PRIMARY-NONCNS", "272519000"), ("LEPTOMENING-METS", "52101004"),
                     ("LEPTOMENING-SITE", "SITE-CAUDA"), ("LEPTOMENING-SITE", "SITE-CORD-CONUS")}


def test_tracking_uids_are_stable_across_reexports_and_differ_per_group_and_case(t2_folder, tmp_path):
    case = full_case()
    first = export(case, t2_folder, tmp_path / "a.dcm")
    second = export(case, t2_folder, tmp_path / "b.dcm")
    uids = lambda ds: [named(g, codes.DCM.TrackingUniqueIdentifier)[0].UID
                       for g in groups_of(ds)]
    assert uids(first) == uids(second)
    assert len(set(uids(first))) == 6
    assert first.SOPInstanceUID != second.SOPInstanceUID
    assert uids(first)[0] == sr.tracking_uid("case-007", "L1") != sr.tracking_uid("case-008", "L1")


# --- round trip ----------------------------------------------------------------------------------


def test_round_trip_gives_back_the_identical_case(t2_folder, tmp_path):
    case = full_case()
    ds = export(case, t2_folder, tmp_path / "r.dcm")
    back = sr.sr_to_case(tmp_path / "r.dcm")
    assert back == case
    assert json.dumps(back, ensure_ascii=False) == json.dumps(case, ensure_ascii=False)  # ints stay ints, order kept
    assert sr.sr_to_case(ds) == case


def test_round_trip_of_empty_and_minimal_cases(t2_folder, tmp_path):
    empty = C.new_case("case-empty")
    assert sr.sr_to_case(export(empty, t2_folder, tmp_path / "e.dcm")) == empty
    minimal = {"schema_version": "1.0.0", "case_id": "m", "lesions": [{"id": "L3", "levels": "T4-T4"}]}
    assert sr.sr_to_case(export(minimal, t2_folder, tmp_path / "m.dcm")) == minimal
    every_null = C.new_case("nulls")
    every_null["lesions"].append(C.new_lesion("L1"))
    every_null["patient_findings"]["leptomeningeal_sites"] = []
    assert sr.sr_to_case(export(every_null, t2_folder, tmp_path / "n.dcm")) == every_null


@pytest.mark.parametrize("field", [f.name for f in C.LESION_FEATURES if f.kind in ("enum", "boolean")])
def test_every_value_of_every_lesion_feature_round_trips(field, t2_headers):
    feature = {f.name: f for f in C.LESION_FEATURES}[field]
    for value in feature.values:
        case = C.new_case("c")
        lesion = C.new_lesion("L1")
        lesion[field] = value
        if field == "origin":
            lesion["position"] = "eccentric"
        case["lesions"].append(lesion)
        assert sr.sr_to_case(sr.case_to_sr(case, t2_headers)) == case


def test_every_patient_finding_value_round_trips(t2_headers):
    for feature in C.PATIENT_FEATURES:
        values = [list(feature.values)] if feature.kind == "list" else list(feature.values)
        for value in values:
            case = C.new_case("c")
            case["patient_findings"][feature.name] = value
            assert sr.sr_to_case(sr.case_to_sr(case, t2_headers)) == case


_FEATURES = {f.name: f for f in C.LESION_FEATURES}
_mm = st.floats(min_value=0, max_value=500, allow_nan=False, allow_infinity=False)
_coordinate = st.floats(min_value=-1000, max_value=1000, allow_nan=False, allow_infinity=False)
_line = st.lists(st.lists(_coordinate, min_size=3, max_size=3), min_size=2, max_size=2)


@st.composite
def lesions(draw, lesion_id: str) -> dict:
    lesion = C.new_lesion(lesion_id)
    for name, feature in _FEATURES.items():
        if feature.kind in ("enum", "boolean"):
            lesion[name] = draw(st.sampled_from([*feature.values, None]))
    if lesion["position"] == "central":
        lesion["origin"] = None
    first = draw(st.integers(1, 25))
    last = draw(st.integers(first, 25))
    lesion["levels"] = draw(st.sampled_from([None, level_name(first), levels_spanned_text(first, last)]))
    lesion["size_mm"] = {axis: draw(st.none() | _mm | st.integers(0, 100)) for axis in C.SIZE_AXES}
    for name in ("enhancement_length_segments", "t2_length_segments"):
        lesion[name] = draw(st.none() | st.integers(1, 30))
    lesion["t2_to_enhancement_ratio"] = draw(st.none() | _mm)
    keys = draw(st.lists(st.sampled_from(C.LINE_NAMES), unique=True))
    lesion["lines_lps"] = {key: draw(_line) for key in keys}
    fields = draw(st.lists(st.sampled_from(["size_mm", "size_mm.ap", "t2_signal", "levels", "rim_sign"]), unique=True))
    lesion["provenance"] = {field: draw(st.sampled_from(["derived", "reader"])) for field in fields}
    return lesion


@st.composite
def cases(draw) -> dict:
    case = C.new_case(draw(st.text(min_size=1, max_size=12).filter(str.strip)), draw(st.none() | st.just("Doe^Jane")))
    count = draw(st.integers(0, 3))
    case["lesions"] = [draw(lesions(f"L{n}")) for n in range(1, count + 1)]
    findings = case["patient_findings"]
    for feature in C.PATIENT_FEATURES:
        if feature.kind == "list":
            findings[feature.name] = draw(st.none() | st.lists(st.sampled_from(feature.values), unique=True))
        else:
            findings[feature.name] = draw(st.sampled_from([*feature.values, None]))
    case["notes"] = draw(st.text(max_size=30))
    C.validate_case(case)
    return case


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=cases())
def test_round_trip_is_exact_for_random_valid_cases(case, t2_headers):
    back = sr.sr_to_case(sr.case_to_sr(case, t2_headers))
    assert back == case
    assert json.dumps(back) == json.dumps(case)  # also int vs float, -0.0, key order


def test_coded_values_win_over_the_supplement_and_float32_lines_are_used_when_edited(t2_folder):
    case = full_case()
    ds = sr.case_to_sr(case, [t2_folder])
    lesion = group_named(ds, "L1")
    si = items(lesion, "NUM")[0]
    si.MeasuredValueSequence[0].FloatingPointValue = 21.0
    si.ContentSequence[0].GraphicData = [0, 0, 0, 0, 0, 21.0]
    hemorrhage = named(lesion, codes.SCT.Hemorrhage)[0]
    hemorrhage.ConceptCodeSequence[0].CodeValue = "52101004"  # absent -> present, edited elsewhere
    hemorrhage.ConceptCodeSequence[0].CodeMeaning = "Present"
    back = sr.sr_to_case(ds)
    assert back["lesions"][0]["size_mm"]["si"] == 21.0
    assert back["lesions"][0]["lines_lps"]["si"] == [[0, 0, 0], [0, 0, 21.0]]
    assert back["lesions"][0]["lines_lps"]["ap"] == case["lesions"][0]["lines_lps"]["ap"]
    assert back["lesions"][0]["hemorrhage"] is True


def named_is(item, code) -> bool:
    c = item.ConceptNameCodeSequence[0]
    return (c.CodeValue, c.CodingSchemeDesignator) == (code.value, code.scheme_designator)


def test_sr_without_supplement_still_gives_a_valid_case(t2_folder):
    """What a PACS that strips private elements costs: see README (DICOM SR)."""
    from ISCMAssistLib import sr_private

    ds = sr.case_to_sr(full_case(), [t2_folder])
    for element in list(ds.group_dataset(sr_private.PRIVATE_GROUP)):
        del ds[element.tag]
    back = sr.sr_to_case(ds)
    lesion = back["lesions"][0]
    assert lesion["levels"] == "T4-T6" and lesion["size_mm"]["si"] == 19.912345678901234
    assert lesion["lines_lps"]["si"][1][2] == pytest.approx(22.212345678901234, abs=1e-5)
    assert lesion["provenance"] == {} and back["clinical"]["sex"] is None and back["reader"]["name"] is None
    assert back["lesions"][1]["size_mm"] == {"ap": 3.0, "transverse": None, "si": 3.25}  # the AP line's length
    assert back["patient_findings"]["leptomeningeal_sites"] == ["cauda_equina", "cord_conus"]
    assert [m["label"] for m in back["levels"]["landmarks"]] == ["T4", "T4/T5", "conus"]


# --- errors --------------------------------------------------------------------------------------


def test_bad_inputs_raise_project_errors_naming_the_problem(t2_folder, tmp_path):
    with pytest.raises(sr.SRSourceError, match="does not exist"):
        sr.case_to_sr(full_case(), [tmp_path / "nope"])
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.txt").write_text("not dicom")
    with pytest.raises(sr.SRSourceError, match="no DICOM images"):
        sr.case_to_sr(full_case(), [tmp_path / "junk"])
    bad = full_case()
    bad["lesions"][0]["position"] = "middle"
    with pytest.raises(C.CaseValidationError, match=r"lesions\[0\]\.position"):
        sr.case_to_sr(bad, [t2_folder])
    with pytest.raises(sr.SRSourceError, match="does not exist"):
        sr.sr_to_case(tmp_path / "missing.dcm")
    with pytest.raises(sr.SRError, match="not a DICOM file"):
        sr.sr_to_case(tmp_path / "junk" / "a.txt")
    image = sorted(t2_folder.iterdir())[0]
    with pytest.raises(sr.SRError, match="not a Comprehensive"):
        sr.sr_to_case(image)


def test_lines_on_no_image_need_a_frame_of_reference(t2_headers):
    headers = [pydicom.Dataset(h) for h in t2_headers]
    for header in headers:
        del header.FrameOfReferenceUID
    with pytest.raises(sr.SRError, match="FrameOfReferenceUID"):
        sr.case_to_sr(full_case(), headers)
    no_lines = full_case()
    no_lines["levels"]["landmarks"] = []
    for lesion in no_lines["lesions"]:
        lesion["lines_lps"] = {}
    assert sr.sr_to_case(sr.case_to_sr(no_lines, headers)) == no_lines
    ds = sr.case_to_sr(full_case(), headers, frame_of_reference_uid="1.2.3.4")
    assert items(group_named(ds, "L1"), "NUM")[0].ContentSequence[0].ReferencedFrameOfReferenceUID == "1.2.3.4"


def test_two_patients_are_refused(t2_folder, tmp_path):
    other = make_series(tmp_path / "other", description="SAG T2 B", patient={"PatientID": "SOMEONE-ELSE"})
    with pytest.raises(sr.SRSourceError, match="PatientIDs"):
        sr.case_to_sr(full_case(), [t2_folder, other])


def test_unicode_and_odd_reader_names_round_trip_and_stay_valid_dicom(t2_folder, tmp_path):
    case = full_case()
    case["reader"]["name"] = "Müller=Jürgen\\李^" + "x" * 80
    case["notes"] = "日本語のメモ \\ ^ ="
    ds = export(case, t2_folder, tmp_path / "u.dcm")
    assert ds.SpecificCharacterSet == "ISO_IR 192"
    assert sr.sr_to_case(tmp_path / "u.dcm") == case
    observer = [i for i in ds.ContentSequence if i.ValueType == "PNAME"][0]
    assert str(observer.PersonName).startswith("Müller-Jürgen/李^xxx")


def test_a_series_given_twice_is_referenced_once(t2_folder):
    headers = sr.read_source_headers([t2_folder, t2_folder, t2_folder.parent])
    assert len(headers) == 4


def test_progress_callback_counts_source_files(t2_folder):
    calls = []
    sr.case_to_sr(full_case(), [t2_folder], progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


# --- CLI -----------------------------------------------------------------------------------------


def test_cli_export_and_import(t2_folder, tmp_path, capsys):
    from ISCMAssistLib.case_io import save_case
    from ISCMAssistLib.cli import main

    case = full_case()
    save_case(case, tmp_path / "case.json")
    out = tmp_path / "report.dcm"
    assert main(["export-sr", str(tmp_path / "case.json"), "--series", str(t2_folder), "--out", str(out)]) == 0
    PRODUCED.append(out)
    assert main(["import-sr", str(out), "--out", str(tmp_path / "back.json")]) == 0
    assert json.loads((tmp_path / "back.json").read_text("utf-8")) == case
    capsys.readouterr()
    assert main(["import-sr", str(out)]) == 0
    assert json.loads(capsys.readouterr().out) == case
    assert main(["import-sr", str(tmp_path / "missing.dcm")]) == 2
    assert "missing.dcm" in capsys.readouterr().err


def test_cli_export_uses_the_case_series_folders_by_default(t2_folder, tmp_path, capsys):
    from ISCMAssistLib.case_io import save_case
    from ISCMAssistLib.cli import main

    case = full_case()
    case["series"][0]["file"] = os.path.relpath(t2_folder, tmp_path) + "/"
    save_case(case, tmp_path / "case.json")
    out = tmp_path / "default.dcm"
    assert main(["export-sr", str(tmp_path / "case.json"), "--out", str(out)]) == 0
    PRODUCED.append(out)
    assert "4 source images" in capsys.readouterr().out
    case["series"] = []
    save_case(case, tmp_path / "none.json")
    assert main(["export-sr", str(tmp_path / "none.json"), "--out", str(tmp_path / "x.dcm")]) == 2
    assert "no --series" in capsys.readouterr().err
    assert not (tmp_path / "x.dcm").exists()


def test_final_read_is_complete_and_verified_and_a_change_references_it(t2_folder, tmp_path, capsys):
    from ISCMAssistLib.case_io import save_case
    from ISCMAssistLib.cli import main

    case = full_case()
    save_case(case, tmp_path / "case.json")
    final = tmp_path / "final.dcm"
    assert main(["export-sr", str(tmp_path / "case.json"), "--series", str(t2_folder), "--out", str(final), "--final"]) == 0
    PRODUCED.append(final)
    ds = pydicom.dcmread(final)
    assert (ds.CompletionFlag, ds.VerificationFlag, ds.PreliminaryFlag) == ("COMPLETE", "VERIFIED", "FINAL")
    observer = ds.VerifyingObserverSequence[0]
    assert str(observer.VerifyingObserverName) == "reader1^" and observer.VerificationDateTime
    assert sr.sr_to_case(final) == case
    capsys.readouterr()
    assert main(["export-sr", str(tmp_path / "case.json"), "--series", str(t2_folder), "--out", str(final)]) == 2
    assert "--replaces" in capsys.readouterr().err  # a finished read is never overwritten
    case["lesions"][0]["t2_signal"] = "isointense"
    save_case(case, tmp_path / "case.json")
    changed = tmp_path / "changed.dcm"
    assert main(["export-sr", str(tmp_path / "case.json"), "--series", str(t2_folder), "--out", str(changed),
                 "--replaces", str(final)]) == 0
    PRODUCED.append(changed)
    new = pydicom.dcmread(changed)
    predecessor = new.PredecessorDocumentsSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert predecessor.ReferencedSOPInstanceUID == ds.SOPInstanceUID and new.VerificationFlag == "UNVERIFIED"
    no_reader = C.new_case("anon")
    with pytest.raises(sr.SRError, match="reader's name"):
        sr.case_to_sr(no_reader, [t2_folder], final=True)


def test_export_path_rewrites_a_preliminary_sr_and_versions_after_a_final_one(t2_folder, tmp_path):
    """What the panels' Export uses: a finished read is never overwritten."""
    case = full_case()
    path, before = sr.export_path(tmp_path, "case-007")
    assert (path.name, before) == ("case-007_sr.dcm", None)
    sr.write_sr(case, [t2_folder], path)
    assert sr.export_path(tmp_path, "case-007") == (path, None)  # preliminary: rewritten in place
    sr.write_sr(case, [t2_folder], path, final=True)
    second, before = sr.export_path(tmp_path, "case-007")
    assert (second.name, before) == ("case-007_sr_v2.dcm", path)
    sr.write_sr(case, [t2_folder], second, predecessor=before)
    assert sr.export_path(tmp_path, "case-007") == (second, path)  # the v2 draft, still replacing v1
    with pytest.raises(sr.SRError, match="verified"):
        sr.write_sr(case, [t2_folder], path)


# --- independent validation: dciodvfy (dicom3tools) -- keep last in this file ------------------------


def require_dciodvfy() -> str:
    """Return dciodvfy's path; fail (env CI set) or skip when dicom3tools is not installed."""
    dciodvfy = shutil.which("dciodvfy")
    if dciodvfy is None:
        message = "dciodvfy not found: install dicom3tools (apt-get install -y dicom3tools) to validate the SRs"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return dciodvfy


def dciodvfy_errors(path: Path) -> list[str]:
    """Run dciodvfy on one file; return its "Error" lines."""
    result = subprocess.run([require_dciodvfy(), str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]


def test_dciodvfy_finds_errors_in_a_broken_sr(t2_folder, tmp_path):
    ds = sr.case_to_sr(full_case(), [t2_folder])
    del ds.CompletionFlag
    ds.save_as(tmp_path / "broken.dcm", enforce_file_format=True)
    errors = dciodvfy_errors(tmp_path / "broken.dcm")
    assert any("CompletionFlag" in line for line in errors)


def test_dciodvfy_reports_no_errors_on_every_sr_produced(t2_folder, tmp_path):
    """Every SR the tests above wrote (all of them when the whole file runs), plus three written here."""
    require_dciodvfy()
    minimal = {"schema_version": "1.0.0", "case_id": "m", "lesions": [{"id": "L1"}]}
    for name, case in (("full", full_case()), ("empty", C.new_case("e")), ("minimal", minimal)):
        export(case, t2_folder, tmp_path / f"{name}.dcm")
    for path in PRODUCED:
        errors = dciodvfy_errors(path)
        assert not errors, f"{path.name}:\n" + "\n".join(errors)
