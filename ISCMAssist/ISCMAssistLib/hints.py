"""Evidence-based hints for a reader: case dict -> list of Hint, recomputed on demand, never stored.

Each rule fires only on case data that supports it and stays silent when that data is None or
absent. Texts support the reader's judgement and never state a diagnosis: they say what was
typical in the reference series, what argues against ISCM, and what to look for. Every hint
carries the study's numbers as :class:`~ISCMAssistLib.evidence.Evidence`.

Directions: ``"typical"`` (typical of ISCM in the reference series), ``"against"`` (argues
against ISCM), ``"search"`` (prompts the reader to look for something).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

from .evidence import EVIDENCE, Evidence

DIRECTIONS: tuple[str, ...] = ("typical", "against", "search")
ENHANCING: tuple[str, ...] = ("homogeneous", "heterogeneous", "peripheral_ring")
EDEMA_SEGMENTS_THRESHOLD = 3  # cord T2 hyperintensity >= 3 segments in 37/69 lesions
EDEMA_RATIO_THRESHOLD = 2.0  # T2 length / enhancing length; study mean 3.6 (range 1-14)
_CYST_TEXT = {"intratumoral": "intratumoral", "peritumoral": "peritumoral", "both": "intra- and peritumoral"}


@dataclass(frozen=True)
class Hint:
    """One hint: rule ``id``, ``direction`` (one of DIRECTIONS), one-line ``text``, the study's
    ``evidence`` behind it, and ``lesion_id`` ("L1") for per-lesion hints (None for the case)."""

    id: str
    direction: str
    text: str
    evidence: list[Evidence] = field(default_factory=list)
    lesion_id: str | None = None

    def __str__(self) -> str:
        return f"[{self.direction}] {self.text}"


#: rule id -> (direction, scope "lesion" | "case", when it fires). The README's hint table.
RULES: dict[str, tuple[str, str, str]] = {
    "enhancement_absent": ("against", "lesion", "enhancement is 'absent'"),
    "enhancement_present": ("typical", "lesion", "enhancement is homogeneous, heterogeneous or peripheral_ring"),
    "edema_extensive": ("typical", "lesion", f"t2_length_segments >= {EDEMA_SEGMENTS_THRESHOLD}"),
    "edema_ratio": ("typical", "lesion", f"T2/enhancement length ratio >= {EDEMA_RATIO_THRESHOLD:g} "
                    "(t2_to_enhancement_ratio, else t2_length_segments / enhancement_length_segments)"),
    "cystic_or_hemorrhage": ("against", "lesion", "cystic_change other than 'absent', or hemorrhage true"),
    "possible_leptomeningeal": ("search", "lesion", "origin 'possible_leptomeningeal' or position 'exophytic'"),
    "rim_flame_sign": ("typical", "lesion", "rim_sign or flame_sign true"),
    "primary_unknown": ("search", "case", "primary_known_at_presentation or _at_iscm_diagnosis is false"),
    "asymptomatic": ("search", "case", "dominant_symptom is 'asymptomatic'"),
    "other_metastases": ("search", "case", "at least one lesion"),
    "lungs": ("search", "case", "at least one lesion and the primary tumour is not recorded, "
              "or was not known at presentation"),
    "multiple_lesions": ("search", "case", "two or more lesions, or multiplicity 'multiple'"),
}


def _number(value) -> float | None:
    """A finite real number as float; None for None, booleans, text and NaN."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _hint(rule: str, text: str, evidence_ids: list[str], lesion_id: str | None = None) -> Hint:
    return Hint(rule, RULES[rule][0], text, [EVIDENCE[e] for e in evidence_ids], lesion_id)


def lesion_hints(lesion: dict) -> list[Hint]:
    """Take one lesion dict of a case; return its hints (each with the lesion's id), in rule order."""
    lesion_id = lesion.get("id")
    name = f"Lesion {lesion_id}" if lesion_id else "Lesion"
    hints: list[Hint] = []

    enhancement = lesion.get("enhancement")
    if enhancement == "absent":
        hints.append(_hint(
            "enhancement_absent",
            f"{name}: no enhancement. Almost every ISCM enhanced in the reference series (63/64); "
            "consider other causes such as a primary cord neoplasm.",
            ["enhancement_present", "enhancement_absent"], lesion_id))
    elif enhancement in ENHANCING:
        pattern = {"homogeneous": "enhancement_homogeneous", "heterogeneous": "enhancement_heterogeneous",
                   "peripheral_ring": "enhancement_ring"}[enhancement]
        hints.append(_hint(
            "enhancement_present",
            f"{name}: enhancement is typical of ISCM in the reference series (63/64 lesions, 98%).",
            ["enhancement_present", pattern], lesion_id))

    t2_length = _number(lesion.get("t2_length_segments"))
    if t2_length is not None and t2_length >= EDEMA_SEGMENTS_THRESHOLD:
        hints.append(_hint(
            "edema_extensive",
            f"{name}: cord T2 hyperintensity over {t2_length:g} segments; extensive edema "
            f"(>= {EDEMA_SEGMENTS_THRESHOLD} segments in 37/69 lesions, 54%) is typical of ISCM in the "
            "reference series.",
            ["t2_ge_3_segments", "t2_length_mean"], lesion_id))

    ratio = _number(lesion.get("t2_to_enhancement_ratio"))
    if ratio is None:
        enhancing_length = _number(lesion.get("enhancement_length_segments"))
        if t2_length is not None and enhancing_length is not None and enhancing_length > 0:
            ratio = t2_length / enhancing_length
    if ratio is not None and ratio >= EDEMA_RATIO_THRESHOLD:
        hints.append(_hint(
            "edema_ratio",
            f"{name}: cord T2 hyperintensity {ratio:.1f} times the enhancing length; edema large for the "
            "lesion size (mean 3.6-fold, range 1-14) is typical of ISCM in the reference series.",
            ["t2_ratio_mean"], lesion_id))

    cystic = lesion.get("cystic_change")
    has_cyst = cystic in ("intratumoral", "peritumoral", "both")
    has_hemorrhage = lesion.get("hemorrhage") is True
    if has_cyst or has_hemorrhage:
        found = " and ".join(
            text for text, present in ((f"{_CYST_TEXT.get(cystic)} cystic change", has_cyst),
                                       ("hemorrhage", has_hemorrhage))
            if present)
        ids = (["cystic_intratumoral", "cystic_peritumoral"] if has_cyst else []) + (
            ["hemorrhage"] if has_hemorrhage else [])
        hints.append(_hint(
            "cystic_or_hemorrhage",
            f"{name}: {found}. Rare in ISCM in the reference series (cystic change 2/70, hemorrhage 1/70); "
            "consider a primary cord neoplasm.",
            ids + ["cystic_hemorrhage_conclusion"], lesion_id))

    if lesion.get("origin") == "possible_leptomeningeal" or lesion.get("position") == "exophytic":
        which = ("surface-dominant" if lesion.get("origin") == "possible_leptomeningeal" else "exophytic")
        hints.append(_hint(
            "possible_leptomeningeal",
            f"{name}: {which} lesion; consider a leptomeningeal metastasis invading the cord (possible "
            "leptomeningeal origin in 3/70 lesions of the reference series; 4 were exophytic). Look for "
            "leptomeningeal disease along the cord/conus, cauda equina and cul-de-sac.",
            ["possible_leptomeningeal_origin", "exophytic", "leptomeningeal"], lesion_id))

    signs = [sign for sign, key in (("rim", "rim_sign"), ("flame", "flame_sign")) if lesion.get(key) is True]
    if signs:
        label = " and ".join(signs) + (" signs" if len(signs) > 1 else " sign")
        hints.append(_hint(
            "rim_flame_sign",
            f"{name}: {label} present; reported specific for metastasis versus primary cord masses "
            f"(97% specificity{' each' if len(signs) > 1 else ''}, Rykken et al., AJNR 2013).",
            [f"{sign}_sign" for sign in signs], lesion_id))
    return hints


def case_hints(case: dict) -> list[Hint]:
    """Take a case dict; return the per-patient hints (lesion_id None), in rule order."""
    clinical = case.get("clinical") or {}
    findings = case.get("patient_findings") or {}
    lesions = case.get("lesions") or []
    hints: list[Hint] = []

    if (clinical.get("primary_known_at_presentation") is False
            or clinical.get("primary_known_at_iscm_diagnosis") is False):
        hints.append(_hint(
            "primary_unknown",
            "No known primary tumour does not argue against ISCM: ISCM presentation preceded the primary "
            "diagnosis in 10/49 patients (20%) of the reference series. Look for the primary tumour.",
            ["presentation_preceded_primary", "diagnosis_preceded_primary", "no_primary_no_symptoms_conclusion"]))

    if clinical.get("dominant_symptom") == "asymptomatic":
        hints.append(_hint(
            "asymptomatic",
            "Absence of cord symptoms does not argue against ISCM: 4/49 patients (8%) of the reference "
            "series were asymptomatic, half of them with multiple ISCMs. Look for further cord lesions.",
            ["asymptomatic", "asymptomatic_multiple", "no_primary_no_symptoms_conclusion"]))

    if lesions:
        hints.append(_hint(
            "other_metastases",
            "Look for other CNS/spinal (non-cord) metastases (vertebrae, leptomeninges, visible brain), the "
            "primary tumour/non-CNS metastases and further cord lesions on this MR: at least one such "
            "finding was visible in 43/49 patients (88%) of the reference series.",
            ["other_or_primary_any", "other_cns_spinal", "primary_or_non_cns"]))

        if clinical.get("primary_tumor") is None or clinical.get("primary_known_at_presentation") is False:
            hints.append(_hint(
                "lungs",
                "Look at the visible lungs: lung carcinoma was the most common primary tumour "
                "(24/49 patients, 49%) in the reference series.",
                ["primary_lung"]))

    if len(lesions) >= 2 or findings.get("multiplicity") == "multiple":
        hints.append(_hint(
            "multiple_lesions",
            "Multiple cord lesions: other CNS/spinal (non-cord) metastases were seen in 9/10 patients (90%) "
            "with multiple vs 20/39 (51%) with a solitary ISCM in the reference series (P = .0263); look "
            "for them on this MR and prior neuraxis imaging.",
            ["other_cns_multiple", "other_cns_solitary"]))
    return hints


def compute_hints(case: dict) -> list[Hint]:
    """Take a case dict (schema 1.0.0; missing fields count as not assessable); return its hints.

    Order: each lesion's hints in lesion order, then the per-patient hints. Nothing is stored.
    """
    hints: list[Hint] = []
    for lesion in case.get("lesions") or []:
        hints.extend(lesion_hints(lesion))
    hints.extend(case_hints(case))
    return hints
