"""The per-patient hint rules of ``hints.RULES``: a case -> its hints (lesion rules: ``lesion_hints.py``).

Prompts say what to look for with the reference series' numbers behind them; they fall silent once
the read records what they ask about.
"""

from __future__ import annotations

from .evidence import EVIDENCE, TABLE_1, Evidence, row_evidence, summary_row
from .hint_model import NO_CONTROLS, Hint, make_hint, number, seen

def _primary_known_and_visible(clinical: dict, findings: dict) -> bool:
    """The read records the primary tumour (its type) and sees it or non-CNS metastases on this MR."""
    return clinical.get("primary_tumor") is not None and findings.get("primary_tumor_or_non_cns_metastases") is True


def case_hints(case: dict) -> list[Hint]:
    """Take a case dict; return the per-patient hints (lesion_id None), in rule order."""
    clinical = case.get("clinical") or {}
    findings = case.get("patient_findings") or {}
    lesions = case.get("lesions") or []
    hints: list[Hint] = []
    for rule in (_primary_unknown, _asymptomatic, _symptom_duration):
        hints.extend(rule(clinical, findings, lesions))
    if lesions:
        for rule in (_other_metastases, _further_cord_lesions, _lungs, _multiple_lesions, _finding_prompts):
            hints.extend(rule(clinical, findings, lesions))
    return hints


_CONCLUSION = EVIDENCE["no_primary_no_symptoms_conclusion"]


def _primary_unknown(clinical: dict, findings: dict, _lesions: list) -> list[Hint]:
    at = [when for when, key in (("presentation", "primary_known_at_presentation"),
                                 ("diagnosis", "primary_known_at_iscm_diagnosis")) if clinical.get(key) is False]
    if not at or _primary_known_and_visible(clinical, findings):
        return []
    presentation, diagnosis = EVIDENCE["presentation_preceded_primary"], EVIDENCE["diagnosis_preceded_primary"]
    visible = EVIDENCE["primary_or_non_cns"]
    return [make_hint("primary_unknown", "search", None,
                      f"the primary tumour was not known at ISCM {' or '.join(at)}. In the reference series ISCM "
                      f"presentation preceded the primary diagnosis in {seen(presentation, 'patients')} and ISCM "
                      f"diagnosis preceded it in {seen(diagnosis, 'patients')}; the authors concluded: "
                      f"{_quote(_CONCLUSION)}. Look for the primary tumour on this MR (primary tumour/non-CNS "
                      f"metastases were visible in {seen(visible, 'patients')}).",
                      [presentation, diagnosis, visible, _CONCLUSION])]


def _quote(item: Evidence) -> str:
    """The quoted words of an authors' statement, without the attribution in parentheses."""
    return item.text[:item.text.rindex('"') + 1]


def _asymptomatic(clinical: dict, _findings: dict, _lesions: list) -> list[Hint]:
    if clinical.get("dominant_symptom") != "asymptomatic":
        return []
    asymptomatic, multiple = EVIDENCE["asymptomatic"], EVIDENCE["asymptomatic_multiple"]
    return [make_hint("asymptomatic", "search", None,
                      f"no cord symptoms. In the reference series {seen(asymptomatic, 'patients')} were asymptomatic "
                      f"with regard to the ISCM, {multiple.numerator} of these {multiple.denominator} with multiple "
                      f"ISCMs; the authors concluded: {_quote(_CONCLUSION)}. Look for further cord lesions.",
                      [asymptomatic, multiple, _CONCLUSION])]


def _symptom_duration(clinical: dict, _findings: dict, _lesions: list) -> list[Hint]:
    weeks = number(clinical.get("symptom_duration_weeks"))
    if weeks is None:
        return []
    row = summary_row(TABLE_1, "clinical.symptom_duration_weeks")
    outside = weeks < row.low or weeks > row.high
    where = f"{'below' if weeks < row.low else 'above'} that range" if outside else "within that range"
    return [make_hint("symptom_duration", "outside_range" if outside else "context", None,
                      f"symptoms for {weeks:g} weeks. In the reference series the duration of symptoms at clinical "
                      f"presentation had {row.statistic} {row.value:g} weeks (range {row.low:g}-{row.high:g}, n = "
                      f"{row.n} patients): this one is {where}; {NO_CONTROLS}.", [row_evidence(row, TABLE_1)])]


def _other_metastases(_clinical: dict, findings: dict, _lesions: list) -> list[Hint]:
    if (findings.get("other_cns_or_spinal_metastases") is not None
            and findings.get("primary_tumor_or_non_cns_metastases") is not None):
        return []
    either, other, primary = (EVIDENCE[key] for key in ("other_or_primary_any", "other_cns_spinal",
                                                        "primary_or_non_cns"))
    return [make_hint("other_metastases", "search", None,
                      "look on this MR for other CNS or spinal (non-cord) metastases (vertebrae, leptomeninges, "
                      "visible brain) and for the primary tumour or non-CNS metastases: at least one of these was "
                      f"visible in {seen(either, 'patients')} of the reference series (other CNS/spinal metastases "
                      f"{seen(other, 'patients')}; primary tumour/non-CNS metastases {seen(primary, 'patients')}).",
                      [either, other, primary])]


def _further_cord_lesions(_clinical: dict, findings: dict, lesions: list) -> list[Hint]:
    if len(lesions) != 1 or findings.get("multiplicity") == "multiple":
        return []
    multiple, sought = EVIDENCE["multiple_iscm"], EVIDENCE["additional_iscm_sought"]
    return [make_hint("further_cord_lesions", "search", None,
                      f"look for further cord lesions: {seen(multiple, 'patients')} of the reference series had "
                      f"multiple ISCMs; the authors wrote: {_quote(sought)}.", [multiple, sought])]


def _lungs(clinical: dict, findings: dict, _lesions: list) -> list[Hint]:
    if not (clinical.get("primary_tumor") is None or clinical.get("primary_known_at_presentation") is False):
        return []
    if _primary_known_and_visible(clinical, findings):
        return []
    lung = EVIDENCE["primary_lung"]
    return [make_hint("lungs", "search", None,
                      f"look at the visible lungs: lung carcinoma was the most common primary tumour in the "
                      f"reference series ({seen(lung, 'patients')}).", [lung])]


def _multiple_lesions(_clinical: dict, findings: dict, lesions: list) -> list[Hint]:
    if not (len(lesions) >= 2 or findings.get("multiplicity") == "multiple"):
        return []
    if findings.get("other_cns_or_spinal_metastases") is not None:
        return []
    multiple, solitary = EVIDENCE["other_cns_multiple"], EVIDENCE["other_cns_solitary"]
    return [make_hint("multiple_lesions", "search", None,
                      f"multiple cord lesions: in the reference series other CNS/spinal (non-cord) metastases were "
                      f"seen in {seen(multiple, 'patients')} with multiple ISCMs and in {seen(solitary, 'patients')} "
                      "with a solitary ISCM (P = .0263); look for them on this MR and prior neuraxis imaging.",
                      [multiple, solitary])]


#: Prompts that ask for one per-patient finding: rule -> (finding field, evidence id, text with {seen}).
_FINDING_PROMPTS = {
    "prior_mr": ("other_metastases_prior_mr", "other_prior_4_weeks",
                 "review neuraxis MR from the 4 weeks before this one: in the reference series it showed other "
                 "CNS/spinal (non-cord) metastases in {seen}."),
    "subsequent_mr": ("other_metastases_subsequent_mr", "other_subsequent_4_weeks",
                      "review neuraxis MR from the 4 weeks after this one when it exists: in the reference series it "
                      "showed other CNS/spinal (non-cord) metastases in a further {seen}."),
    "follow_up": ("new_iscm_on_follow_up", "new_iscm_follow_up",
                  "a new ISCM appeared on follow-up MR in {seen} of the reference series: a prompt for follow-up "
                  "imaging of the cord."),
}


def _finding_prompts(_clinical: dict, findings: dict, _lesions: list) -> list[Hint]:
    hints = []
    for rule, (field, evidence_id, text) in _FINDING_PROMPTS.items():
        if findings.get(field) is None:
            item = EVIDENCE[evidence_id]
            hints.append(make_hint(rule, "search", None, text.format(seen=seen(item, "patients")), [item]))
    return hints
