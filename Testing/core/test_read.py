"""compute_read: derived checklist values from line markups, masks and levels (hand-computed answers)."""

from __future__ import annotations

import numpy as np
import pytest

from ISCMAssistLib.case import new_case, new_lesion, set_reader_value, validate_case
from ISCMAssistLib.coords import ras_to_lps
from ISCMAssistLib.levels import LevelModel
from ISCMAssistLib.measurements import MaskMeasurements
from ISCMAssistLib.read import LesionMasks, compute_read

SEGMENT_MM = 24.0


def cord(u: float, anterior: float = 0.0, right: float = 0.0) -> list[float]:
    """RAS point on a straight vertical spine: level coordinate u is at S = -24 u mm."""
    return [right, anterior, -SEGMENT_MM * u]


def model_t1_to_t8() -> LevelModel:
    labels = ["T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8"]
    return LevelModel.from_landmarks(labels, np.array([cord(8 + n, anterior=20) for n in range(8)]))


def lesion_with_lines(lesion_id: str = "L1", si=(10.7, 12.2), edema=(9.95, 14.3)) -> dict:
    lesion = new_lesion(lesion_id)
    middle = (si[0] + si[1]) / 2
    lesion["lines_lps"] = {
        "si": ras_to_lps([cord(si[0]), cord(si[1])]).tolist(),
        "ap": ras_to_lps([cord(middle, -3), cord(middle, 3)]).tolist(),
        "transverse": ras_to_lps([cord(middle, right=-3.5), cord(middle, right=3.5)]).tolist(),
        "edema_si": ras_to_lps([cord(edema[0]), cord(edema[1])]).tolist(),
    }
    return lesion


def test_lines_give_sizes_counts_location_and_ratio():
    case = new_case("c1")
    case["lesions"].append(lesion_with_lines())
    compute_read(case, model_t1_to_t8())
    lesion = case["lesions"][0]
    # SI extent [10.7, 12.2]: T4 [10.5, 11.5] and T5 [11.5, 12.5] overlap 0.8 and 0.7; T3 not at all.
    assert lesion["levels"] == "T4-T5"
    assert lesion["enhancement_length_segments"] == 2
    # Edema [9.95, 14.3]: T3 overlaps 0.55 ... T7 overlaps 0.8 -> T3-T7 = 5 segments.
    assert lesion["t2_length_segments"] == 5
    assert lesion["t2_to_enhancement_ratio"] == 2.5
    assert lesion["location"] == "thoracic"
    assert lesion["size_mm"] == {"ap": 6.0, "transverse": 7.0, "si": 36.0}
    assert lesion["provenance"]["size_mm"] == "derived"
    assert lesion["provenance"]["levels"] == "derived"
    assert case["patient_findings"]["multiplicity"] == "solitary"
    validate_case(case)


def test_reader_overrides_survive_recompute_and_feed_the_ratio():
    case = new_case("c1")
    case["lesions"].append(lesion_with_lines())
    model = model_t1_to_t8()
    compute_read(case, model)
    lesion = case["lesions"][0]
    set_reader_value(lesion, "t2_length_segments", 6)
    set_reader_value(lesion, "size_mm.ap", 5.0)
    lesion["lines_lps"]["si"][1][2] = -SEGMENT_MM * 12.8  # reader drags the caudal end 0.3 into T6
    compute_read(case, model)
    assert lesion["t2_length_segments"] == 6
    assert lesion["provenance"]["t2_length_segments"] == "reader"
    assert lesion["enhancement_length_segments"] == 3  # T4-T6 now
    assert lesion["t2_to_enhancement_ratio"] == 2.0
    assert lesion["size_mm"]["ap"] == 5.0
    assert lesion["size_mm"]["si"] == pytest.approx(SEGMENT_MM * 2.1, abs=0.05)


def test_multiplicity_follows_the_lesion_count():
    case = new_case("c1")
    compute_read(case, None)
    assert case["patient_findings"]["multiplicity"] is None
    case["lesions"] += [lesion_with_lines("L1"), lesion_with_lines("L2", si=(13.0, 13.2), edema=(12.6, 13.8))]
    compute_read(case, model_t1_to_t8())
    assert case["patient_findings"]["multiplicity"] == "multiple"
    assert case["lesions"][1]["levels"] == "T6"
    assert case["lesions"][1]["enhancement_length_segments"] == 1


def test_without_levels_only_sizes_are_derived():
    case = new_case("c1")
    case["lesions"].append(lesion_with_lines())
    compute_read(case, None)
    lesion = case["lesions"][0]
    assert lesion["size_mm"]["si"] == 36.0
    assert lesion["levels"] is None and lesion["enhancement_length_segments"] is None
    assert "levels" not in lesion["provenance"]


def test_masks_measure_when_no_line_is_drawn_and_lines_win_over_masks():
    case = new_case("c1")
    case["lesions"].append(new_lesion("L1"))
    masks = {"L1": LesionMasks(lesion=MaskMeasurements(5.0, 6.0, 20.0, 10.6, 11.4),
                               edema=MaskMeasurements(8.0, 8.0, 70.0, 9.8, 12.75))}
    model = model_t1_to_t8()
    compute_read(case, model, masks=masks)
    lesion = case["lesions"][0]
    assert lesion["size_mm"] == {"ap": 5.0, "transverse": 6.0, "si": 20.0}
    assert (lesion["levels"], lesion["enhancement_length_segments"]) == ("T4", 1)
    assert lesion["t2_length_segments"] == 4  # [9.8, 12.75]: T3 (0.7) ... T6 (0.25)
    lesion["lines_lps"] = {"si": ras_to_lps([cord(10.7), cord(11.2)]).tolist()}
    compute_read(case, model, masks=masks)
    assert lesion["size_mm"]["si"] == 12.0 and lesion["size_mm"]["ap"] == 5.0


def test_far_outside_the_levels_warns():
    model = LevelModel.from_landmarks(["T1", "T2", "T3"], np.array([cord(8, 20), cord(9, 20), cord(10, 20)]))
    case = new_case("c1")
    case["lesions"].append(lesion_with_lines(si=(14.7, 15.2), edema=(14.0, 16.0)))
    warnings: list[str] = []
    compute_read(case, model, warnings=warnings)
    assert case["lesions"][0]["levels"] == "T8"  # extrapolated, still counted
    assert any("lesion L1" in text and "extrapolated" in text for text in warnings)
    quiet: list[str] = []
    compute_read(case, model_t1_to_t8(), warnings=quiet)
    assert quiet == []


def test_deleting_a_line_clears_what_was_derived_from_it_but_not_reader_values():
    case = new_case("c1")
    case["lesions"].append(lesion_with_lines())
    model = model_t1_to_t8()
    compute_read(case, model)
    lesion = case["lesions"][0]
    set_reader_value(lesion, "levels", "T4-T6")
    del lesion["lines_lps"]["edema_si"]
    del lesion["lines_lps"]["si"]
    compute_read(case, model)
    assert lesion["t2_length_segments"] is None and lesion["t2_to_enhancement_ratio"] is None
    assert lesion["levels"] == "T4-T6"  # the reader's
    assert lesion["enhancement_length_segments"] == 1  # the AP and transverse lines still lie in T5
    lesion["lines_lps"] = {}
    compute_read(case, model)
    assert not any((lesion["size_mm"] or {}).values()) and lesion["enhancement_length_segments"] is None
    validate_case(case)


def test_an_extent_outside_c1_s1_is_a_warning_not_a_crash():
    case = new_case("c1")
    case["lesions"].append(lesion_with_lines(si=(30.0, 31.0), edema=(29.0, 32.0)))
    warnings: list[str] = []
    compute_read(case, model_t1_to_t8(), warnings=warnings)
    assert case["lesions"][0]["levels"] is None
    assert any("not counted" in text and "C1-S1" in text for text in warnings)


def test_a_refused_line_is_not_measured_and_says_why():
    case = new_case("c1")
    case["lesions"].append(lesion_with_lines())
    warnings: list[str] = []

    def crosses_gap(name, points_ras):
        return "crosses a slice gap of 6.00 mm" if name == "edema_si" else None

    compute_read(case, model_t1_to_t8(), warnings=warnings, line_check=crosses_gap)
    lesion = case["lesions"][0]
    assert lesion["t2_length_segments"] is None and lesion["enhancement_length_segments"] == 2
    assert warnings == ["lesion L1 edema_si line not measured: crosses a slice gap of 6.00 mm"]
