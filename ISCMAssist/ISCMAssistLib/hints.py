"""Evidence-based hints for a reader: case dict -> list of Hint, recomputed on demand, never stored.

Each rule (``lesion_hints.py``, ``case_hints.py``) fires only on case data that supports it and
stays silent when that data is None or absent. Hints support the reader's judgement and never
state a diagnosis.

Three kinds of hint, shown differently by every front end (the text starts with the kind's label;
the figure colours by kind; ``iscm-assist hints --json`` and the web panel carry ``kind``):

* ``prevalence``: how often a finding was seen among the ISCMs of the reference series (49
  patients, 70 lesions). That series had no comparison group, so these numbers are not likelihoods:
  they never say that a finding makes ISCM more or less likely. Where the authors drew such a
  conclusion, the hint quotes it as theirs.
* ``comparative``: a study that compared ISCMs with primary intramedullary masses (rim, flame and
  central dot signs, ``comparative.py``): sensitivity, specificity, the comparison group and the
  positive likelihood ratio where it is finite.
* ``prompt``: something to look for, with the series' numbers behind it.

``EXPLANATION`` is the one sentence every front end shows above the hints.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from .comparative import DiagnosticAccuracy
from .evidence import Evidence

KINDS: dict[str, str] = {
    "prevalence": "how often a finding was seen among the ISCMs of the reference series (no comparison group)",
    "comparative": "sensitivity and specificity from a study that compared ISCMs with primary intramedullary masses",
    "prompt": "what to look for, with the reference series' numbers behind it",
}
KIND_LABELS: dict[str, str] = {"prevalence": "Prevalence", "comparative": "Comparison", "prompt": "Prompt"}
EXPLANATION = (
    "Prevalence hints say how often a finding was seen among the 70 ISCMs of 49 patients in the reference "
    "series, which had no comparison group; comparison hints give sensitivity and specificity from studies "
    "that compared ISCMs with primary intramedullary masses; prompts say what to look for; no hint is a "
    "probability of disease."
)

#: direction -> what it means. Prevalence directions describe the series, never the patient.
DIRECTIONS: dict[str, str] = {
    "common": "seen in half or more of the reference series' ISCMs",
    "uncommon": "seen in few of the reference series' ISCMs",
    "context": "where this value falls among the reference series' ISCMs",
    "outside_range": "beyond the range of the reference series",
    "specific": "more frequent in ISCMs than in primary intramedullary masses (comparative study)",
    "not_applicable": "comparative evidence that does not apply to this case",
    "search": "what to look for",
}
NO_CONTROLS = "this series had no comparison group"


@dataclass(frozen=True)
class Rule:
    """A hint rule: its ``kind``, ``scope`` ("lesion" | "case"), ``when`` it fires (README table)
    and the short ``finding`` name used when one line explains two hints of a lesion."""

    kind: str
    scope: str
    when: str
    finding: str = ""


#: rule id -> Rule, in the order the hints are given.
RULES: dict[str, Rule] = {
    "enhancement_absent": Rule("prevalence", "lesion", "enhancement is 'absent'", "no enhancement"),
    "enhancement_present": Rule("prevalence", "lesion", "enhancement is homogeneous or heterogeneous",
                                "enhancement"),
    "enhancement_ring": Rule("prevalence", "lesion", "enhancement is peripheral_ring", "ring enhancement"),
    "ill_defined": Rule("prevalence", "lesion", "morphology is ill_defined", "an ill-defined margin"),
    "t2_hypointense": Rule("prevalence", "lesion", "t2_signal is hypointense", "T2 hypointensity"),
    "checklist_prevalence": Rule("prevalence", "lesion", "any of location, position, morphology, cord_expansion, "
                                 "t2_signal, t1_signal is set (values with their own hint left out)"),
    "edema_extensive": Rule("prevalence", "lesion", "t2_length_segments >= 3",
                            "cord T2 hyperintensity over 3 or more segments"),
    "edema_length": Rule("prevalence", "lesion", "t2_length_segments is 1 or 2"),
    "edema_ratio": Rule("prevalence", "lesion", "a T2/enhancement ratio in segments (t2_to_enhancement_ratio, "
                        "else t2_length_segments / enhancement_length_segments); shown with the ratio in mm",
                        "a T2/enhancement ratio beyond the series' range"),
    "outside_range": Rule("prevalence", "lesion", "a size (mm) or length (segments) beyond the range of Table 2",
                          "a value beyond the series' range"),
    "cystic_or_hemorrhage": Rule("prevalence", "lesion", "cystic_change other than 'absent', or hemorrhage true",
                                 "cystic change or hemorrhage"),
    "possible_leptomeningeal": Rule("prompt", "lesion", "origin 'possible_leptomeningeal' or position 'exophytic'"),
    "rim_flame_sign": Rule("comparative", "lesion", "rim_sign or flame_sign true (not applicable with a CNS "
                           "primary)", "the rim/flame sign"),
    "central_dot_sign": Rule("comparative", "lesion", "central_dot_sign true", "the central dot sign"),
    "mixed_findings": Rule("prevalence", "lesion", "a lesion has a common or specific finding and an uncommon "
                           "or out-of-range one"),
    "primary_unknown": Rule("prompt", "case", "primary_known_at_presentation or _at_iscm_diagnosis is false, "
                            "unless the primary is recorded and visible on this MR"),
    "asymptomatic": Rule("prompt", "case", "dominant_symptom is 'asymptomatic'"),
    "symptom_duration": Rule("prevalence", "case", "symptom_duration_weeks is set"),
    "other_metastases": Rule("prompt", "case", "a lesion, and other_cns_or_spinal_metastases or "
                             "primary_tumor_or_non_cns_metastases not yet recorded"),
    "further_cord_lesions": Rule("prompt", "case", "exactly one lesion and multiplicity not 'multiple'"),
    "lungs": Rule("prompt", "case", "a lesion, the primary not recorded or not known at presentation, unless "
                  "the primary is recorded and visible on this MR"),
    "multiple_lesions": Rule("prompt", "case", "two or more lesions or multiplicity 'multiple', and "
                             "other_cns_or_spinal_metastases not yet recorded"),
    "prior_mr": Rule("prompt", "case", "a lesion and other_metastases_prior_mr not yet recorded"),
    "subsequent_mr": Rule("prompt", "case", "a lesion and other_metastases_subsequent_mr not yet recorded"),
    "follow_up": Rule("prompt", "case", "a lesion and new_iscm_on_follow_up not yet recorded"),
}


@dataclass(frozen=True)
class Hint:
    """One hint: rule ``id``, ``kind`` (one of KINDS), ``direction`` (one of DIRECTIONS), one-line
    ``text`` starting with the kind's label, the ``evidence`` behind it, ``lesion_id`` ("L1") for
    per-lesion hints (None for the case) and, for comparative hints, the ``accuracy`` figures."""

    id: str
    kind: str
    direction: str
    text: str
    evidence: tuple[Evidence, ...] = ()
    lesion_id: str | None = None
    accuracy: DiagnosticAccuracy | None = None

    def __str__(self) -> str:
        return f"[{self.direction}] {self.text}"

    def as_dict(self) -> dict:
        """Return the JSON form (``schema/hints.schema.json``): id, lesion_id, kind, direction, text,
        evidence and, for comparative hints, sensitivity, specificity (percent),
        likelihood_ratio_positive (or None), likelihood_ratio_note and comparison."""
        out = {"id": self.id, "lesion_id": self.lesion_id, "kind": self.kind, "direction": self.direction,
               "text": self.text, "evidence": [item.as_dict() for item in self.evidence]}
        if self.accuracy is not None:
            out.update(sensitivity=self.accuracy.sensitivity, specificity=self.accuracy.specificity,
                       likelihood_ratio_positive=self.accuracy.likelihood_ratio_positive,
                       likelihood_ratio_note=self.accuracy.likelihood_ratio_note,
                       comparison=f"{self.accuracy.iscm_group} against {self.accuracy.comparison} "
                                  f"({self.accuracy.source})")
        return out


def make_hint(rule: str, direction: str, subject: str | None, body: str, evidence: list[Evidence],
              lesion_id: str | None = None, accuracy: DiagnosticAccuracy | None = None) -> Hint:
    """Take a rule id, a direction, the subject ("Lesion L1", or None for the case), the sentence
    and its evidence; return the Hint, its text led by the kind's label."""
    kind = RULES[rule].kind
    if direction not in DIRECTIONS:
        raise ValueError(f"hint {rule}: direction {direction!r} is not one of {list(DIRECTIONS)}")
    lead = f"{KIND_LABELS[kind]} \u2014 {subject}: " if subject else f"{KIND_LABELS[kind]} \u2014 "
    return Hint(rule, kind, direction, lead + body, tuple(evidence), lesion_id, accuracy)


def number(value) -> float | None:
    """Take any value; return it as float when it is a finite real number, else None (booleans, text, NaN)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def field_value(record: dict, name: str):
    """Take a record and a field name ("t2_signal", or "size_mm.si" for a sub-field); return its value or None."""
    head, _, sub = name.partition(".")
    value = record.get(head)
    if sub:
        return value.get(sub) if isinstance(value, dict) else None
    return value


def seen(item: Evidence, of: str = "ISCMs") -> str:
    """Take a count Evidence and what was counted; return "n/N ISCMs (p%)"."""
    return f"{item.numerator}/{item.denominator} {of} ({item.percent}%)"


def prevalence(item: Evidence, of: str = "ISCMs") -> str:
    """Take a count Evidence; return "seen in n/N ISCMs (p%) in the reference series; this series had no
    comparison group", the phrase of every prevalence hint."""
    return f"seen in {seen(item, of)} in the reference series; {NO_CONTROLS}"


def hints_document(case: dict, hints: list[Hint]) -> dict:
    """Take a case and its hints; return the ``iscm-assist hints --json`` document
    (``schema/hints.schema.json``): case_id, explanation, kinds, research_use and hints."""
    from . import RESEARCH_USE_LABEL

    return {"case_id": case.get("case_id"), "explanation": EXPLANATION, "kinds": dict(KINDS),
            "research_use": RESEARCH_USE_LABEL, "hints": [hint.as_dict() for hint in hints]}


def format_hints(hints: list[Hint]) -> str:
    """Take hints; return them as text: the explanation, then each hint with its evidence indented."""
    lines = [EXPLANATION, ""]
    for hint in hints:
        lines.append(str(hint))
        lines.extend(f"    {item}" for item in hint.evidence)
    return "\n".join(lines)


def compute_hints(case: dict) -> list[Hint]:
    """Take a case dict (schema 1.0.0 or 1.1.0; missing fields count as not assessable); return its hints.

    Order: each lesion's hints in lesion order, then the per-patient hints. Nothing is stored.
    """
    from .case_hints import case_hints
    from .lesion_hints import lesion_hints

    clinical = case.get("clinical") or {}
    hints: list[Hint] = []
    for lesion in case.get("lesions") or []:
        hints.extend(lesion_hints(lesion, clinical))
    hints.extend(case_hints(case))
    return hints
