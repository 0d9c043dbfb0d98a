"""Cohort statistics: a cohort built to the study's published counts reproduces Tables 1-3 and the P values.

The study cohort below (49 patients, 70 lesions) is derived by hand so that every published count holds
at once: Tables 1-3, the text's solitary/multiple splits (20/39 vs 9/10 other CNS/spinal metastases;
multiple ISCMs only with lung 7 and breast 3; 2 of the 4 asymptomatic patients multiple; all 10 multiple
patients with the primary known at ISCM diagnosis; 5 of the 10 presentation-preceded patients also
diagnosis-preceded), the T2 thresholds per lesion (43/69, 37/69) and per patient (36/48, 32/48), and the
means and ranges of sizes, lengths and the T2/enhancement ratio (ratio = t2 / enhancement length per lesion).

Two published P values cannot be reproduced by ANY 2x2 table with the published margins (39 solitary,
10 multiple patients, 29 with primary tumor/non-CNS metastases, 18 with leptomeningeal metastases),
checked exhaustively in test_unreachable_published_p_values:
* P = .3484 (primary tumor/non-CNS metastases): the reachable values are .0032, .0263, .1333, .4354,
  .9531, .5078, .1665, ...; the cohort uses 22 solitary / 7 multiple (P = .4354), the closest split.
* P = .872 (leptomeningeal metastases): no split gives .872; 12 solitary / 6 multiple gives P = .0872
  exactly, so the printed ".872" most likely lost a "0". The cohort uses that split.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import chi2_contingency

from ISCMAssistLib import cohort
from ISCMAssistLib.case import new_case, new_lesion
from ISCMAssistLib.evidence import CountRow, SummaryRow

N_MULTIPLE, N_SOLITARY = 10, 39


def _spread(*groups) -> list:
    """[("a", 2), ("b", 1)] -> ["a", "a", "b"]."""
    return [value for value, count in groups for _ in range(count)]


def _medians(low, middle, high, n, below, above):
    """n values with median ``middle`` and range low-high (even n: the two middle values equal)."""
    half = (n - 2 - (2 if n % 2 == 0 else 1)) // 2
    centre = [middle] * (2 if n % 2 == 0 else 1)
    values = [low] + [below] * half + centre + [above] * half + [high]
    assert len(values) == n
    return values


def study_cohort() -> list[dict]:
    """Return 49 valid case dicts whose counts equal the study's (see the module doc)."""
    # Patients 0-9 have multiple ISCMs (3 lesions each, patient 9 has 4: 31 lesions), 10-48 one each.
    lesions_per_patient = [3] * 9 + [4] + [1] * N_SOLITARY
    patients = range(49)

    primary = _spread(("lung", 7), ("breast", 3), ("lung", 17), ("breast", 4), ("melanoma", 5), ("cns", 4),
                      ("renal_cell", 3), ("other", 6))
    sex = _spread(("female", 26), ("male", 23))
    symptom = _spread(("asymptomatic", 2), ("weakness", 8), ("asymptomatic", 2), ("weakness", 20), ("sensory", 8),
                      ("bowel_bladder", 5), ("pain", 4))
    # presentation preceded the primary in 10 solitary patients (10-19), diagnosis too in 5 of them (10-14)
    known_at_presentation = [p not in range(10, 20) for p in patients]
    known_at_diagnosis = [p not in range(10, 15) for p in patients]
    other = [p in range(0, 9) or p in range(10, 30) for p in patients]          # 9 multiple + 20 solitary
    primary_seen = [p in range(0, 7) or p in range(22, 44) for p in patients]   # 7 multiple + 22 solitary
    lepto = [p in range(0, 6) or p in range(10, 22) for p in patients]          # 6 multiple + 12 solitary
    lepto_sites = {p: ["cord_conus", "cauda_equina", "cul_de_sac"] for p in (0, 1, 2, 10, 11, 12, 13, 14)}

    duration = iter(_medians(0.1, 2.0, 32.0, 44, 1.0, 3.0))     # None for 5 patients
    to_presentation = iter(_medians(0.0, 1.8, 19.3, 38, 1.0, 3.0))  # None for the 10 + 1 patients
    to_diagnosis = iter(_medians(0.0, 1.6, 19.5, 44, 1.0, 3.0))  # None for the 5 diagnosis-preceded
    age = iter(_medians(7.0, 57.7, 80.0, 49, 50.0, 65.0))

    # ---- lesions, in patient order: 0-30 in multiple patients, 31-69 in solitary ones
    location = _spread(("cervical", 16), ("cervicothoracic", 2), ("thoracic", 40), ("thoracic_conus", 1), ("conus", 11))
    position = _spread(("exophytic", 1), ("eccentric", 1), ("exophytic", 3), ("eccentric", 34), ("central", 23),
                       (None, 8))
    origin = ["possible_leptomeningeal" if i in (0, 1, 5)  # 2 of the 3 in patient 0
              else "intramedullary" if position[i] in ("eccentric", "exophytic") else None for i in range(70)]
    rim = [i in (0, 2) for i in range(70)]  # of the 4 exophytic: one rim + flame, one rim
    flame = [i == 0 for i in range(70)]
    morphology = _spread(("well_circumscribed", 64), ("ill_defined", 2), (None, 4))
    expansion = _spread((True, 44), (False, 26))
    t2_signal = _spread(("hyperintense", 55), ("hypointense", 1), ("isointense", 14))
    t1_signal = _spread(("hyperintense", 10), ("hypointense", 5), ("isointense", 48), (None, 7))
    cystic = ["intratumoral" if i in (61, 62) else "absent" for i in range(70)]
    hemorrhage = [i == 40 for i in range(70)]
    # enhancing: lesions 0-62 (31 homogeneous, 31 heterogeneous, 1 ring with the cyst at 62); 63 absent; 64-69 None
    enhancement = _spread(("homogeneous", 31), ("heterogeneous", 31), ("peripheral_ring", 1), ("absent", 1), (None, 6))
    t2 = ([15, 3, 1, 4, 3, 1, 5, 3, 1, 6, 3, 1, 4, 3, 1, 5, 2, 1, 4, 2, 1, 3, 1, 1, 3, 1, 1, 4, 1, 1, 1]
          + [15] * 4 + [14] + [10] * 6 + [7] * 7 + [5] * 4 + [2] * 4 + [1] * 6     # solitary, enhancing (31-62)
          + [1] * 6 + [None])                                                     # solitary, not enhancing
    enh_length = [None] * 70
    for i in range(63):
        enh_length[i] = 1
    enh_length[0] = 8
    for i in (31, 32, 33, 34, 36, 37, 38, 39, 16, 19, 53, 54, 55, 56, 1, 4, 7, 10):  # 18 lesions of 2 segments
        enh_length[i] = 2
    ap = [1, 16] + [6] * 35 + [7] * 26 + [None] * 7
    transverse = [2, 23] + [7] * 46 + [8] * 5 + [None] * 17
    si = [2, 114] + [18] * 22 + [19] * 39 + [None] * 7

    cases, index = [], 0
    for p in patients:
        case = new_case(f"case-{p:03d}", reader="study")
        clinical = case["clinical"]
        clinical.update(sex=sex[p], primary_tumor=primary[p], dominant_symptom=symptom[p], age_years=next(age),
                        primary_known_at_presentation=known_at_presentation[p],
                        primary_known_at_iscm_diagnosis=known_at_diagnosis[p])
        if primary[p] == "other":
            clinical["primary_tumor_detail"] = "anaplastic thyroid carcinoma"
        clinical["symptom_duration_weeks"] = None if p in (0, 1, 10, 11, 48) else next(duration)
        clinical["primary_to_presentation_years"] = None if p in range(10, 21) else next(to_presentation)
        clinical["primary_to_iscm_diagnosis_years"] = None if p in range(10, 15) else next(to_diagnosis)
        findings = case["patient_findings"]
        findings.update(multiplicity="multiple" if p < N_MULTIPLE else "solitary",
                        other_cns_or_spinal_metastases=other[p], primary_tumor_or_non_cns_metastases=primary_seen[p],
                        leptomeningeal_metastases=lepto[p],
                        leptomeningeal_sites=lepto_sites.get(p, ["cord_conus"] if lepto[p] else None))
        for number in range(1, lesions_per_patient[p] + 1):
            i = index
            lesion = new_lesion(f"L{number}")
            lesion.update(location=location[i], position=position[i], origin=origin[i], morphology=morphology[i],
                          cord_expansion=expansion[i], t2_signal=t2_signal[i], t1_signal=t1_signal[i],
                          cystic_change=cystic[i], hemorrhage=hemorrhage[i], enhancement=enhancement[i],
                          t2_length_segments=t2[i], enhancement_length_segments=enh_length[i],
                          rim_sign=rim[i], flame_sign=flame[i],
                          size_mm={"ap": ap[i], "transverse": transverse[i], "si": si[i]})
            if t2[i] is not None and enh_length[i] is not None:
                lesion["t2_to_enhancement_ratio"] = t2[i] / enh_length[i]
            case["lesions"].append(lesion)
            index += 1
        cases.append(case)
    assert index == 70
    return cases


@pytest.fixture(scope="module")
def result() -> cohort.CohortResult:
    return cohort.summarize(study_cohort())


def test_study_cohort_is_valid():
    from ISCMAssistLib.case import validate_case

    cases = study_cohort()
    for case in cases:
        validate_case(case)
    assert len(cases) == 49 and sum(len(c["lesions"]) for c in cases) == 70


def test_every_published_count_and_percent_is_reproduced(result):
    assert (result.n_patients, result.n_lesions) == (49, 70)
    counts = [row for row in result.rows if row.kind == "count"]
    assert len(counts) == 14 + 28 + 9
    for row in counts:
        study: CountRow = row.study
        assert (row.n, row.denominator, row.percent) == (study.n, study.denominator, study.percent), row.label


def test_every_published_mean_median_and_range_is_reproduced(result):
    summaries = [row for row in result.rows if row.kind == "summary"]
    assert len(summaries) == 4 + 6
    for row in summaries:
        study: SummaryRow = row.study
        assert round(row.value, 1) == study.value, row.label
        assert (row.low, row.high, row.count) == (study.low, study.high, study.n), row.label


def test_hand_checked_rows(result):
    rows = {(row.group, row.label): row for row in result.rows}
    position = rows[("Position", "Eccentric")]
    assert position.cohort_text() == "35/62 (56%)" == position.study_text()
    assert rows[("Intratumoral hemorrhage", "Present")].cohort_text() == "1/70 (1%)"
    assert rows[("Enhancement pattern", "Peripheral (ring)")].cohort_text() == "1/63 (2%)"
    ratio = rows[("Longitudinal extent, No. of vertebral segments, mean (range)", "Ratio, T2 signal/enhancement")]
    assert ratio.value == pytest.approx(227.875 / 63)  # 303 - (124/2 + 15 * 7/8), by hand
    assert ratio.cohort_text() == "3.6 (1-14), n = 63"


def test_published_p_values(result):
    by_key = {c.key: c for c in result.comparisons}
    other = by_key["other_cns_or_spinal_metastases"]
    assert other.table == [[20, 19], [9, 1]] and other.categories == ["yes", "no"]
    assert round(other.p_value, 4) == 0.0263 == other.study.p_value
    assert other.dof == 1
    tumour = by_key["primary_tumor"]
    assert tumour.table == [[17, 4, 5, 4, 3, 6], [7, 3, 0, 0, 0, 0]] and tumour.dof == 5
    assert round(tumour.p_value, 4) == 0.1607 == tumour.study.p_value
    # not reproducible with the published margins (module doc): closest / most likely values
    assert round(by_key["primary_tumor_or_non_cns_metastases"].p_value, 4) == 0.4354
    assert round(by_key["leptomeningeal_metastases"].p_value, 4) == 0.0872
    assert by_key["leptomeningeal_metastases"].p_text() == "P = .0872"


def test_unreachable_published_p_values():
    def reachable(total):
        return {round(chi2_contingency(np.array([[a, 39 - a], [total - a, 10 - total + a]]), correction=False)[1], 4)
                for a in range(max(0, total - 10), min(39, total) + 1)}
    assert 0.0263 in reachable(29)
    assert 0.3484 not in reachable(29)
    assert 0.872 not in reachable(18) and 0.0872 in reachable(18)


def test_denominators_leave_out_null_and_among():
    cases = study_cohort()[:2]
    for lesion in cases[0]["lesions"]:
        lesion["enhancement"] = None
    result = cohort.summarize(cases)
    rows = {(row.group, row.label): row for row in result.rows}
    # patient 1's 3 lesions are homogeneous -> all enhancing
    assert rows[("Enhancement", "Present")].cohort_text() == "3/3 (100%)"
    assert rows[("Enhancement pattern", "Homogeneous")].denominator == 3
    # lesions 0-5 of the study cohort: exophytic, eccentric, exophytic x3, eccentric
    assert (rows[("Position", "Exophytic")].n, rows[("Position", "Exophytic")].denominator) == (4, 6)
    empty = cohort.summarize([new_case("x")])
    row = next(r for r in empty.rows if r.label == "Eccentric")
    assert (row.n, row.denominator, row.percent, row.cohort_text()) == (0, 0, None, "-")
    assert all(c.p_value is None and c.note for c in empty.comparisons)


def test_multiplicity_falls_back_to_the_lesion_count():
    case = new_case("x")
    case["lesions"] = [new_lesion("L1"), new_lesion("L2")]
    assert cohort.patient_record(case)["patient_findings.multiplicity"] == "multiple"
    case["lesions"] = [new_lesion("L1")]
    assert cohort.patient_record(case)["patient_findings.multiplicity"] == "solitary"
    case["patient_findings"]["multiplicity"] = "multiple"  # the stored value wins
    assert cohort.patient_record(case)["patient_findings.multiplicity"] == "multiple"


def test_boolean_rows_do_not_count_integers():
    row = CountRow("g", "l", "f", (True,), 0, 1, 0)
    assert cohort.count_row([{"f": 1}, {"f": True}, {"f": 0}], row) == (1, 3)


def test_cli_writes_every_report_and_skips_bad_files(tmp_path, capsys):
    from ISCMAssistLib.case_io import save_case
    from ISCMAssistLib.cli import main

    folder = tmp_path / "reads"
    (folder / "sub").mkdir(parents=True)
    for case in study_cohort():
        save_case(case, folder / ("sub" if case["case_id"].endswith("7") else "") / f"{case['case_id']}.json")
    (folder / "broken.json").write_text("{not json", encoding="utf-8")
    (folder / "wrong.json").write_text(json.dumps({"schema_version": "1.0.0", "case_id": "w",
                                                   "lesions": [{"id": "L1", "position": "middle"}]}), encoding="utf-8")
    out = tmp_path / "report"
    assert main(["cohort", str(folder), "--out", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "49 patients, 70 lesions, 2 files skipped" in captured.out
    assert "broken.json" in captured.err and "lesions[0].position" in captured.err
    for name in cohort.REPORT_FILES:
        assert (out / name).stat().st_size > 0, name
    assert (out / "cohort.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (out / "cohort.md").read_text(encoding="utf-8")
    assert "| Eccentric | 35/62 (56%) | 35/62 (56%) |" in markdown
    assert "P = .0263" in markdown and "broken.json" in markdown
    data = json.loads((out / "cohort.json").read_text(encoding="utf-8"))
    assert data["n_patients"] == 49 and len(data["skipped"]) == 2
    assert {c["key"]: round(c["p_value"], 4) for c in data["comparisons"]}["primary_tumor"] == 0.1607
    lines = (out / "cohort.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("table,group,label,source") and len(lines) == 1 + len(data["rows"])
    assert "Table 2,Location,Cervical,Table 2,count,16,70,23,,,,16,70,23,,," in lines
    # the default output folder inside DIR is not read back as cases
    for _ in range(2):
        assert main(["cohort", str(folder), "--quiet", "--no-figure"]) == 0
        assert "49 patients, 70 lesions, 2 files skipped" in capsys.readouterr().out
    assert (folder / "cohort_report" / "cohort.md").is_file()


def test_cli_errors(tmp_path, capsys):
    from ISCMAssistLib.cli import main

    assert main(["cohort", str(tmp_path / "missing"), "--quiet"]) == 2
    assert "not a folder" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("[]", encoding="utf-8")
    assert main(["cohort", str(tmp_path), "--quiet"]) == 2
    assert "no readable case" in capsys.readouterr().err


def test_progress_callback(tmp_path):
    from ISCMAssistLib.case_io import save_case

    for case in study_cohort()[:3]:
        save_case(case, tmp_path / f"{case['case_id']}.json")
    calls = []
    result = cohort.summarize_folder(tmp_path, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)] and result.n_patients == 3


@pytest.mark.parametrize("table", [[[20, 19], [9, 1]], [[17, 4, 5, 4, 3, 6], [7, 3, 0, 0, 0, 1]],
                                   [[1, 2, 3], [4, 5, 6], [7, 8, 30]], [[5, 5], [5, 5]]])
def test_chi2_test_equals_scipy_chi2_contingency(table):
    chi2, p, dof, _ = chi2_contingency(np.array(table), correction=False)
    mine = cohort.chi2_test(table)
    assert mine[0] == pytest.approx(chi2, rel=1e-12) and mine[1] == dof
    assert mine[2] == pytest.approx(p, rel=1e-10, abs=1e-300)


def test_parallel_loading_keeps_order_and_skips(tmp_path):
    from ISCMAssistLib.case_io import save_case

    cases = study_cohort()
    paths = []
    for index in range(210):
        path = tmp_path / f"c{index:03d}.json"
        if index == 7:
            path.write_text("{", encoding="utf-8")
        else:
            save_case(cases[index % 49], path)
        paths.append(path)
    serial = cohort.load_cases(paths)
    parallel = cohort.load_cases(paths, workers=2)
    assert [c["case_id"] for c in parallel[0]] == [c["case_id"] for c in serial[0]]
    assert len(parallel[0]) == 209 and [s[0] for s in parallel[1]] == [str(paths[7])]


def test_cli_one_reader_of_a_session_and_state_files(tmp_path, capsys):
    from ISCMAssistLib.case_io import save_case
    from ISCMAssistLib.cli import main

    cases = study_cohort()
    for reader, chosen in (("alice", cases[:5]), ("bob", cases[5:8])):
        folder = tmp_path / "reads" / reader
        folder.mkdir(parents=True)
        for case in chosen:
            save_case(case, folder / f"{case['case_id']}.json")
            (folder / f"{case['case_id']}.state.json").write_text('{"status": "done"}', encoding="utf-8")
            (folder / f"{case['case_id']}_si.mrk.json").write_text('{"markups": []}', encoding="utf-8")
    assert main(["cohort", str(tmp_path), "--reader", "bob", "--quiet", "--no-figure"]) == 0
    assert "3 patients, 9 lesions, 0 files skipped" in capsys.readouterr().out
    assert main(["cohort", str(tmp_path), "--quiet", "--no-figure"]) == 0
    assert "8 patients, 24 lesions, 0 files skipped" in capsys.readouterr().out
    assert main(["cohort", str(tmp_path), "--reader", "zoe", "--quiet"]) == 2
    assert "zoe" in capsys.readouterr().err


def test_cli_counts_each_case_once_consensus_first_and_warns_on_duplicates(tmp_path, capsys):
    """Two readers and a consensus of 2 cases are 2 patients, not 5 (issue 12, item 2)."""
    import copy

    from ISCMAssistLib.case_io import save_case
    from ISCMAssistLib.cli import main

    cases = study_cohort()[:2]
    for reader in ("bob", "alice", "consensus"):
        folder = tmp_path / "reads" / reader
        folder.mkdir(parents=True)
        chosen = cases if reader != "consensus" else cases[:1]
        for case in chosen:
            read = copy.deepcopy(case)
            read["reader"] = {"name": reader, "read_at": "2026-01-01T00:00:00Z"}
            if reader == "consensus":
                read["lesions"] = read["lesions"][:1]
            save_case(read, folder / f"{case['case_id']}.json")
    assert main(["cohort", str(tmp_path), "--quiet", "--no-figure"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("2 patients, 4 lesions,") and "consensus read where one exists" in captured.out
    markdown = (tmp_path / "cohort_report" / "cohort.md").read_text(encoding="utf-8")
    assert "Reads counted: each case is counted once" in markdown
    # a copy of alice's read under another file name is a duplicate case id: warned, counted once
    duplicate = tmp_path / "reads" / "alice" / "copy.json"
    duplicate.write_bytes((tmp_path / "reads" / "alice" / f"{cases[1]['case_id']}.json").read_bytes())
    assert main(["cohort", str(tmp_path), "--quiet", "--no-figure"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("2 patients,")
    assert "duplicate case id" in captured.err and "copy.json" in captured.err
