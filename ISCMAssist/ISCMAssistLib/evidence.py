"""The reference study's numbers, as data, each with its exact source.

Study: systematic review of MR imaging and clinical features of intramedullary spinal cord
metastasis (ISCM) in 49 patients with 70 lesions (Tables 1-3 and the text). It is a case series
with no comparison group: its numbers are prevalences among ISCMs, not likelihoods. Reference 7 of
that study is Rykken et al., AJNR 2013;34:908-15 (the "rim" and "flame" signs).

Two kinds of data live here:

* ``EVIDENCE``: id -> :class:`Evidence`, the short statements the hints show.
The studies that compared ISCMs with primary intramedullary masses (rim, flame and central dot
signs) are in ``comparative.py``.
* ``TABLE_1``, ``TABLE_2``, ``TABLE_3``: the study's tables, row by row in the printed order, so
  the cohort module can print the study's value beside a cohort's. Count rows carry the printed
  percent; summary rows carry mean or median and range. Each row also names the case-JSON field
  and the values it counts (see ``CountRow``), which is how ``cohort.py`` fills the same row.

Percentages are the study's: ``100 * n / d`` rounded half up to an integer (1/70 -> 1%).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction

REFERENCE_7 = "Rykken et al., AJNR 2013;34:908-15 (ref. 7)"
MADHAVAN_2021 = "Madhavan et al., Clin Neuroradiol 2021;31:383-90"
SOURCES: tuple[str, ...] = ("Table 1", "Table 2", "Table 3", "Results", "Abstract", "Discussion",
                            "Conclusions", "Fig 4", "Fig 5", REFERENCE_7, MADHAVAN_2021)


@functools.lru_cache(maxsize=1024)
def study_percent(numerator: int, denominator: int) -> int:
    """Take a count and its denominator; return the percent as the study prints it.

    The study rounds half up to an integer: 1/70 -> 1, 29/49 -> 59, 1/64 -> 2.
    """
    if denominator <= 0:
        raise ValueError(f"denominator must be > 0, got {denominator}")
    value = Fraction(100 * numerator, denominator)
    return int(value + Fraction(1, 2)) if value >= 0 else -int(-value + Fraction(1, 2))


@dataclass(frozen=True)
class Evidence:
    """One statement from a source: ``text`` holds in ``numerator``/``denominator`` cases.

    ``numerator``/``denominator`` are None for statements that are not a count (a mean, an
    author's conclusion); then ``text`` carries the figure itself. A percentage printed without its
    count (the sensitivities and specificities of ref. 7) has ``numerator`` None, ``denominator``
    the group size and ``stated_percent`` the printed percent. ``source`` is one of ``SOURCES``.
    """

    text: str
    numerator: int | None
    denominator: int | None
    source: str
    stated_percent: int | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"Evidence source {self.source!r} is not one of {SOURCES}")
        if self.numerator is not None and self.denominator is None:
            raise ValueError(f"Evidence {self.text!r}: a numerator needs its denominator")
        if self.numerator is None and self.denominator is not None and self.stated_percent is None:
            raise ValueError(f"Evidence {self.text!r}: give the numerator, or the percent printed without it")
        if self.numerator is not None and self.stated_percent is not None:
            raise ValueError(f"Evidence {self.text!r}: with a count the percent is computed, not stated")

    @property
    def percent(self) -> int | None:
        """The percent as the source prints it (integer), or None when this is not a count."""
        if self.stated_percent is not None:
            return self.stated_percent
        if self.numerator is None or self.denominator is None:
            return None
        return study_percent(self.numerator, self.denominator)

    def __str__(self) -> str:
        if self.stated_percent is not None:
            return f"{self.source}: {self.text}: {self.stated_percent}%"
        if self.percent is None:
            return f"{self.source}: {self.text}"
        return f"{self.source}: {self.text} in {self.numerator}/{self.denominator} ({self.percent}%)"

    def as_dict(self) -> dict:
        """Return the JSON form: text, numerator, denominator, percent (int or None) and source."""
        return {"text": self.text, "numerator": self.numerator, "denominator": self.denominator,
                "percent": self.percent, "source": self.source}


def _e(text: str, numerator: int | None, denominator: int | None, source: str) -> Evidence:
    return Evidence(text, numerator, denominator, source)


#: id -> Evidence. Ids are stable; hints and the demo refer to them.
EVIDENCE: dict[str, Evidence] = {
    # Enhancement
    "enhancement_present": _e("enhancement", 63, 64, "Table 2"),
    "enhancement_absent": _e("no enhancement", 1, 64, "Table 2"),
    "enhancement_homogeneous": _e("homogeneous enhancement (of enhancing lesions)", 31, 63, "Table 2"),
    "enhancement_heterogeneous": _e("heterogeneous enhancement (of enhancing lesions)", 31, 63, "Table 2"),
    "enhancement_ring": _e("peripheral (ring) enhancement (of enhancing lesions)", 1, 63, "Table 2"),
    "ring_about_cyst": _e("ring enhancement about the cystic change (of the cystic lesions)", 1, 2, "Results"),
    "lack_of_enhancement_discussion": _e(
        "\"Lack of enhancement and presence of cystic change and/or hemorrhage in an intramedullary mass "
        "should bring other etiologies of spinal cord masses higher in the differential diagnosis, such as "
        "primary cord neoplasms, in which such findings are not uncommon\" (the authors)",
        None, None, "Discussion"),
    # Morphology and signal
    "ill_defined": _e("ill-defined morphology", 2, 66, "Table 2"),
    "t2_hypointense": _e("T2 hypointense to the cord", 1, 70, "Table 2"),
    # Edema (cord T2 hyperintensity)
    "t2_ge_3_segments": _e("cord T2 hyperintensity >= 3 vertebral segments", 37, 69, "Results"),
    "t2_ge_2_segments": _e("cord T2 hyperintensity >= 2 vertebral segments", 43, 69, "Results"),
    "t2_ge_3_segments_patients": _e("cord T2 hyperintensity >= 3 segments (patients, longest lesion)",
                                    32, 48, "Results"),
    "t2_ge_2_segments_patients": _e("cord T2 hyperintensity >= 2 segments (patients, longest lesion)",
                                    36, 48, "Results"),
    "edema_often_conclusion": _e("\"extensive edema for lesion size (often >= 3 segments)\" (the authors' "
                                 "conclusion)", None, None, "Abstract"),
    # Findings rare in the series
    "cystic_intratumoral": _e("intratumoral cystic change", 2, 70, "Table 2"),
    "cystic_peritumoral": _e("peritumoral cystic change", 0, 70, "Table 2"),
    "hemorrhage": _e("intratumoral hemorrhage", 1, 70, "Table 2"),
    "cystic_hemorrhage_conclusion": _e("\"Presence of cystic change/hemorrhage makes intramedullary spinal cord "
                                       "metastasis unlikely\" (the authors' conclusion, from a series without "
                                       "controls)", None, None, "Abstract"),
    "cyst_primaries": _e("of the 2 cystic ISCMs, one was from renal cell carcinoma, the other from lung "
                         "carcinoma", None, None, "Fig 4"),
    "hemorrhage_primary": _e("the only ISCM with hemorrhage was from squamous cell carcinoma of the lung",
                             None, None, "Fig 5"),
    "no_primary_no_symptoms_conclusion": _e("\"Lack of known primary malignancy or spinal cord symptoms should "
                                            "not discourage consideration of intramedullary spinal cord "
                                            "metastasis\" (the authors' conclusion)", None, None, "Abstract"),
    "additional_iscm_sought": _e("\"The presence of additional ISCMs should be specifically sought\" "
                                 "(the authors)", None, None, "Discussion"),
    # Clinical presentation
    "presentation_preceded_primary": _e("ISCM presentation preceded primary tumor diagnosis",
                                        10, 49, "Table 1"),
    "diagnosis_preceded_primary": _e("ISCM diagnosis preceded primary tumor diagnosis", 5, 49, "Table 1"),
    "asymptomatic": _e("asymptomatic with regard to the ISCM", 4, 49, "Table 1"),
    "asymptomatic_multiple": _e("multiple ISCMs among asymptomatic patients", 2, 4, "Results"),
    "weakness": _e("weakness as dominant presenting symptom", 28, 49, "Table 1"),
    # Primary tumour
    "primary_lung": _e("lung carcinoma as primary malignancy", 24, 49, "Table 1"),
    "primary_breast": _e("breast carcinoma as primary malignancy", 7, 49, "Table 1"),
    "primary_melanoma": _e("melanoma as primary malignancy", 5, 49, "Table 1"),
    "primary_renal_cell": _e("renal cell carcinoma as primary malignancy", 3, 49, "Table 1"),
    "multiple_lung": _e("lung cancer among patients with multiple ISCMs", 7, 10, "Results"),
    "multiple_breast": _e("breast cancer among patients with multiple ISCMs", 3, 10, "Results"),
    # Other findings on the reference MR (per patient)
    "other_or_primary_any": _e("other CNS/spinal (non-cord) metastases and/or primary tumor/non-CNS "
                               "metastases visible on the reference MR", 43, 49, "Table 3"),
    "other_cns_spinal": _e("other CNS or spinal (non-cord) metastases on the reference MR",
                           29, 49, "Table 3"),
    "primary_or_non_cns": _e("primary tumor and/or non-CNS metastases on the reference MR",
                             29, 49, "Table 3"),
    "both_other_and_primary": _e("both other CNS/spinal metastases and primary tumor/non-CNS "
                                 "metastases on the reference MR", 15, 49, "Table 3"),
    "leptomeningeal": _e("leptomeningeal metastases on the reference MR", 18, 49, "Table 3"),
    "leptomeningeal_diffuse": _e("leptomeningeal metastases along cord/conus, cauda equina and "
                                 "cul-de-sac together (of patients with leptomeningeal metastases)",
                                 8, 18, "Results"),
    "other_cns_multiple": _e("other CNS/spinal metastases with multiple ISCMs", 9, 10, "Results"),
    "other_cns_solitary": _e("other CNS/spinal metastases with a solitary ISCM (vs 9/10 with multiple, "
                             "P = .0263)", 20, 39, "Results"),
    "multiple_iscm": _e("multiple ISCMs", 10, 49, "Table 3"),
    "new_iscm_follow_up": _e("a new ISCM on follow-up MR", 11, 49, "Results"),
    "other_prior_4_weeks": _e("other CNS/spinal (non-cord) metastases on neuraxis MR within the 4 weeks "
                              "before the reference MR", 23, 49, "Results"),
    "other_subsequent_4_weeks": _e("other CNS/spinal (non-cord) metastases first seen on neuraxis MR within "
                                   "the 4 weeks after the reference MR (in addition to the 23)", 8, 49, "Results"),
    # Position and origin
    "exophytic": _e("exophytic position (lesions with axial images)", 4, 62, "Table 2"),
    "eccentric": _e("eccentric position (lesions with axial images)", 35, 62, "Table 2"),
    "possible_leptomeningeal_origin": _e("possible leptomeningeal origin (dominant surface component; "
                                         "4 lesions were exophytic)", 3, 70, "Results"),
    # Reference 7 as the seed study reports it (the figures themselves are in ACCURACY)
    "rim_flame_exophytic": _e("of the 4 exophytic lesions, one showed the rim sign and one both the "
                              "rim and flame signs", None, None, "Results"),
}


def evidence(evidence_id: str) -> Evidence:
    """Take an id of ``EVIDENCE``; return the Evidence (KeyError names the unknown id)."""
    try:
        return EVIDENCE[evidence_id]
    except KeyError:
        raise KeyError(f"no study evidence with id {evidence_id!r}") from None


# --------------------------------------------------------------------------------------------
# Tables 1-3 as data


@dataclass(frozen=True)
class CountRow:
    """A row "label n (percent%)" of a study table.

    ``field`` is the case-JSON field counted, relative to the record of the table's basis
    ("clinical.primary_tumor" of a case, "enhancement" of a lesion) or a derived key computed by
    ``cohort.py`` (documented there). A record counts in ``n`` when its value is in ``values``; it
    counts in the denominator when its value is not None and, if ``among`` is given, is in
    ``among`` (e.g. enhancement pattern counts only enhancing lesions).
    """

    group: str
    label: str
    field: str
    values: tuple
    n: int
    denominator: int
    percent: int  # as printed in the study
    among: tuple | None = None
    source: str = ""


@dataclass(frozen=True)
class SummaryRow:
    """A row "label statistic (low-high)" of a study table: mean or median with range, over n."""

    group: str
    label: str
    field: str
    statistic: str  # "mean" | "median"
    value: float
    low: float
    high: float
    n: int
    unit: str
    source: str = ""


@dataclass(frozen=True)
class StudyTable:
    """One of the study's tables: name ("Table 1"), title, basis ("patient" | "lesion"), total, rows."""

    name: str
    title: str
    basis: str
    total: int
    rows: tuple


def _count(group: str, label: str, field: str, values, n: int, denominator: int, percent: int,
           among=None, source: str = "") -> CountRow:
    values = values if isinstance(values, tuple) else (values,)
    return CountRow(group, label, field, values, n, denominator, percent, among, source)


_ENHANCING = ("homogeneous", "heterogeneous", "peripheral_ring")

TABLE_1 = StudyTable("Table 1", "Clinical features of ISCMs, per-patient basis", "patient", 49, (
    _count("Sex", "Female", "clinical.sex", "female", 26, 49, 53),
    _count("Primary malignancy", "Lung carcinoma", "clinical.primary_tumor", "lung", 24, 49, 49),
    _count("Primary malignancy", "Breast carcinoma", "clinical.primary_tumor", "breast", 7, 49, 14),
    _count("Primary malignancy", "Melanoma", "clinical.primary_tumor", "melanoma", 5, 49, 10),
    _count("Primary malignancy", "CNS origin", "clinical.primary_tumor", "cns", 4, 49, 8),
    _count("Primary malignancy", "Renal cell carcinoma", "clinical.primary_tumor", "renal_cell", 3, 49, 6),
    _count("Primary malignancy", "Other", "clinical.primary_tumor", "other", 6, 49, 12),
    _count("Timing of primary tumor diagnosis", "ISCM presentation preceded primary tumor diagnosis",
           "clinical.primary_known_at_presentation", False, 10, 49, 20),
    _count("Timing of primary tumor diagnosis", "ISCM diagnosis preceded primary tumor diagnosis",
           "clinical.primary_known_at_iscm_diagnosis", False, 5, 49, 10),
    _count("Dominant presenting symptoms", "Weakness", "clinical.dominant_symptom", "weakness", 28, 49, 57),
    _count("Dominant presenting symptoms", "Sensory symptoms", "clinical.dominant_symptom", "sensory",
           8, 49, 16),
    _count("Dominant presenting symptoms", "Bowel and/or bladder dysfunction", "clinical.dominant_symptom",
           "bowel_bladder", 5, 49, 10),
    _count("Dominant presenting symptoms", "Pain", "clinical.dominant_symptom", "pain", 4, 49, 8),
    _count("Dominant presenting symptoms", "Asymptomatic", "clinical.dominant_symptom", "asymptomatic",
           4, 49, 8),
    SummaryRow("Time interval, median (range)", "Duration of symptoms at clinical presentation",
               "clinical.symptom_duration_weeks", "median", 2.0, 0.1, 32.0, 44, "weeks"),
    SummaryRow("Time interval, median (range)", "Primary tumor diagnosis to ISCM presentation",
               "clinical.primary_to_presentation_years", "median", 1.8, 0.0, 19.3, 38, "years"),
    SummaryRow("Time interval, median (range)", "Primary tumor diagnosis to ISCM diagnosis",
               "clinical.primary_to_iscm_diagnosis_years", "median", 1.6, 0.0, 19.5, 44, "years"),
    SummaryRow("Age", "Age at diagnosis", "clinical.age_years", "median", 57.7, 7.0, 80.0, 49, "years",
               source="Results"),
))

TABLE_2 = StudyTable("Table 2", "MRI features of ISCMs, per-lesion basis", "lesion", 70, (
    _count("Location", "Cervical", "location", "cervical", 16, 70, 23),
    _count("Location", "Cervicothoracic", "location", "cervicothoracic", 2, 70, 3),
    _count("Location", "Thoracic", "location", "thoracic", 40, 70, 57),
    _count("Location", "Thoracic-conus", "location", "thoracic_conus", 1, 70, 1),
    _count("Location", "Conus", "location", "conus", 11, 70, 16),
    _count("Position", "Central", "position", "central", 23, 62, 37),
    _count("Position", "Eccentric", "position", "eccentric", 35, 62, 56),
    _count("Position", "Exophytic", "position", "exophytic", 4, 62, 6),
    _count("Morphology", "Well-circumscribed", "morphology", "well_circumscribed", 64, 66, 97),
    _count("Morphology", "Ill-defined", "morphology", "ill_defined", 2, 66, 3),
    _count("Cord expansion", "Present", "cord_expansion", True, 44, 70, 63),
    _count("Cord expansion", "Absent", "cord_expansion", False, 26, 70, 37),
    _count("Enhancement", "Present", "enhancement", _ENHANCING, 63, 64, 98),
    _count("Enhancement", "Absent", "enhancement", "absent", 1, 64, 2),
    _count("Enhancement pattern", "Homogeneous", "enhancement", "homogeneous", 31, 63, 49, _ENHANCING),
    _count("Enhancement pattern", "Heterogeneous", "enhancement", "heterogeneous", 31, 63, 49, _ENHANCING),
    _count("Enhancement pattern", "Peripheral (ring)", "enhancement", "peripheral_ring", 1, 63, 2,
           _ENHANCING),
    SummaryRow("Size of enhancing lesion, mm, mean (range)", "Anterior-posterior", "size_mm.ap",
               "mean", 6.5, 1, 16, 63, "mm"),
    SummaryRow("Size of enhancing lesion, mm, mean (range)", "Transverse", "size_mm.transverse",
               "mean", 7.3, 2, 23, 53, "mm"),
    SummaryRow("Size of enhancing lesion, mm, mean (range)", "Superior-inferior", "size_mm.si",
               "mean", 19.9, 2, 114, 63, "mm"),
    SummaryRow("Longitudinal extent, No. of vertebral segments, mean (range)", "Length of enhancement",
               "enhancement_length_segments", "mean", 1.4, 1, 8, 63, "segments"),
    SummaryRow("Longitudinal extent, No. of vertebral segments, mean (range)",
               "Length of cord T2 signal hyperintensity", "t2_length_segments", "mean", 4.5, 1, 15, 69,
               "segments"),
    SummaryRow("Longitudinal extent, No. of vertebral segments, mean (range)", "Ratio, T2 signal/enhancement",
               "t2_to_enhancement_ratio", "mean", 3.6, 1, 14, 63, "fold"),
    # The text's thresholds on the same T2 length (Results), shown under Table 2.
    _count("Length of cord T2 signal hyperintensity", "T2 hyperintensity >= 2 segments", "t2_length_ge_2", True,
           43, 69, 62, source="Results"),
    _count("Length of cord T2 signal hyperintensity", "T2 hyperintensity >= 3 segments", "t2_length_ge_3", True,
           37, 69, 54, source="Results"),
    _count("T2 signal intensity", "Hyperintense", "t2_signal", "hyperintense", 55, 70, 79),
    _count("T2 signal intensity", "Hypointense", "t2_signal", "hypointense", 1, 70, 1),
    _count("T2 signal intensity", "Isointense", "t2_signal", "isointense", 14, 70, 20),
    _count("T1 signal intensity", "Hyperintense", "t1_signal", "hyperintense", 10, 63, 16),
    _count("T1 signal intensity", "Hypointense", "t1_signal", "hypointense", 5, 63, 8),
    _count("T1 signal intensity", "Isointense", "t1_signal", "isointense", 48, 63, 76),
    # "both" counts under intratumoral and under peritumoral.
    _count("Cystic change", "Intratumoral", "cystic_change", ("intratumoral", "both"), 2, 70, 3),
    _count("Cystic change", "Peritumoral", "cystic_change", ("peritumoral", "both"), 0, 70, 0),
    _count("Intratumoral hemorrhage", "Present", "hemorrhage", True, 1, 70, 1),
))

TABLE_3 = StudyTable("Table 3", "Additional MRI features of ISCMs on reference MRI, per-patient basis",
                     "patient", 49, (
    _count("Number of ISCMs", "Solitary ISCM", "patient_findings.multiplicity", "solitary", 39, 49, 80),
    _count("Number of ISCMs", "Multiple ISCMs", "patient_findings.multiplicity", "multiple", 10, 49, 20),
    _count("Findings", "Non-cord CNS and/or spinal metastasis",
           "patient_findings.other_cns_or_spinal_metastases", True, 29, 49, 59),
    _count("Findings", "Leptomeningeal metastasis", "patient_findings.leptomeningeal_metastases", True,
           18, 49, 37),
    _count("Findings", "Primary tumor and/or non-CNS metastasis",
           "patient_findings.primary_tumor_or_non_cns_metastases", True, 29, 49, 59),
    _count("Findings", "Non-cord CNS/spinal metastasis OR primary tumor/non-CNS metastasis",
           "other_or_primary", True, 43, 49, 88),
    _count("Findings", "Both non-cord CNS/spinal metastasis AND primary tumor/non-CNS metastasis",
           "other_and_primary", True, 15, 49, 31),
    # The text's per-patient figures for the longest lesion's cord T2 hyperintensity (Results).
    _count("Length of cord T2 signal hyperintensity (longest lesion)", "Longest lesion T2 >= 2 segments",
           "t2_longest_ge_2", True, 36, 48, 75, source="Results"),
    _count("Length of cord T2 signal hyperintensity (longest lesion)", "Longest lesion T2 >= 3 segments",
           "t2_longest_ge_3", True, 32, 48, 67, source="Results"),
))

TABLES: tuple[StudyTable, ...] = (TABLE_1, TABLE_2, TABLE_3)


@dataclass(frozen=True)
class Comparison:
    """A solitary vs multiple chi-square comparison of the study (per patient).

    ``field`` is the per-patient field compared (as in ``CountRow.field``); ``p_value`` is as
    printed. ``solitary``/``multiple`` are (n, denominator) where the study gives them, else None.
    """

    key: str
    label: str
    field: str
    p_value: float
    solitary: tuple[int, int] | None
    multiple: tuple[int, int] | None
    source: str


COMPARISONS: tuple[Comparison, ...] = (
    Comparison("primary_tumor", "Primary tumor type", "clinical.primary_tumor", 0.1607, None, None,
               "Results"),
    Comparison("other_cns_or_spinal_metastases", "Other CNS or spinal (non-cord) metastases",
               "patient_findings.other_cns_or_spinal_metastases", 0.0263, (20, 39), (9, 10), "Results"),
    Comparison("primary_tumor_or_non_cns_metastases", "Primary tumor/non-CNS metastases",
               "patient_findings.primary_tumor_or_non_cns_metastases", 0.3484, None, None, "Results"),
    Comparison("leptomeningeal_metastases", "Leptomeningeal metastases",
               "patient_findings.leptomeningeal_metastases", 0.872, None, None, "Results"),
)


def lower_first(text: str) -> str:
    """Take a table label; return it with a lower-case first letter, unless it starts an abbreviation
    ("Location" -> "location", "T2 signal intensity" stays)."""
    return text if text[:2].isupper() or text[1:2].isdigit() else text[:1].lower() + text[1:]


#: id(row) -> its Evidence, and id(table) -> {field: rows}: the tables are constants, built once.
_ROW_EVIDENCE: dict[int, Evidence] = {}
_ROWS_BY_FIELD: dict[int, dict[str, tuple]] = {}


def _rows_of(table: StudyTable, field: str) -> tuple:
    index = _ROWS_BY_FIELD.get(id(table))
    if index is None:
        index = {}
        for row in table.rows:
            index[row.field] = index.get(row.field, ()) + (row,)
        _ROWS_BY_FIELD[id(table)] = index
    return index.get(field, ())


def row_evidence(row: CountRow | SummaryRow, table: StudyTable) -> Evidence:
    """Take a row of one of the study's tables and that table; return it as an Evidence.

    A count row gives "group: label" in n/denominator; a summary row gives its statistic and range.
    """
    cached = _ROW_EVIDENCE.get(id(row))
    if cached is None:
        cached = _ROW_EVIDENCE[id(row)] = _row_evidence(row, table)
    return cached


def _row_evidence(row: CountRow | SummaryRow, table: StudyTable) -> Evidence:
    source = row.source or table.name
    if isinstance(row, CountRow):
        return Evidence(f"{lower_first(row.group)}: {lower_first(row.label)}", row.n, row.denominator, source)
    unit = "" if row.unit == "fold" else f" {row.unit}"
    label = f"size of enhancing lesion, {lower_first(row.label)}" if row.group.startswith("Size") else lower_first(row.label)
    return Evidence(f"{label}: {row.statistic} "
                    f"{row.value:g}{unit} (range {row.low:g}-{row.high:g}), n = {row.n}", None, None, source)


def value_row(table: StudyTable, field: str, value) -> CountRow | None:
    """Take a table, a case-JSON field and a value; return the count row that counts that value.

    For a value counted by two rows (an enhancement pattern is also "Enhancement: Present") the row
    restricted by ``among`` (the pattern) wins. None when no row counts the value.
    """
    rows = [row for row in _rows_of(table, field) if isinstance(row, CountRow)
            and any(value is v or (value == v and type(value) is type(v)) for v in row.values)]
    rows.sort(key=lambda row: row.among is None)
    return rows[0] if rows else None


def summary_row(table: StudyTable, field: str) -> SummaryRow | None:
    """Take a table and a case-JSON field; return its summary (mean/median with range) row, or None."""
    return next((row for row in _rows_of(table, field) if isinstance(row, SummaryRow)), None)
