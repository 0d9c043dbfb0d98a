"""Comparative evidence: studies that compared ISCMs with primary intramedullary masses.

Unlike the reference series (``evidence.py``, ISCMs only), these give real sensitivities and
specificities, so a positive likelihood ratio can be stated where the specificity is below 100%.
Transcribed from ``../shared/reference/evidence-beyond-the-study.md`` (checked against the
published abstracts); ``Testing/core/test_evidence.py`` parses that file and compares.

* Rykken JB et al. Rim and flame signs. AJNR 2013;34:908-15 (the reference study's ref. 7).
* Madhavan AA et al. The central dot sign. Clin Neuroradiol 2021;31:383-90.
"""

from __future__ import annotations

from dataclasses import dataclass

from .evidence import MADHAVAN_2021, REFERENCE_7, Evidence, study_percent

RYKKEN_ISCM_GROUP = "45 patients with 64 ISCMs"
RYKKEN_COMPARISON = ("64 patients with 64 pathologically proven primary intramedullary masses (ependymoma, "
                     "astrocytoma, hemangioblastoma, ganglioglioma, cavernous malformation)")
MADHAVAN_ISCM_GROUP = "44 patients with 63 enhancing ISCMs (of 45 patients with 64 ISCMs)"
MADHAVAN_COMPARISON = ("54 patients with 54 enhancing primary intramedullary masses (of the same 64 "
                       "pathologically proven primary masses as Rykken et al.)")


@dataclass(frozen=True)
class DiagnosticAccuracy:
    """A finding compared between ISCMs and primary intramedullary masses (per patient).

    ``sensitivity``/``specificity`` are percents as the source prints them. ``iscm_group`` and
    ``comparison`` name the two groups. ``sensitivity_count`` and ``false_positives`` are counts the
    source prints ((n, d), else None). ``non_cns_only``: the source restricts its claim to
    metastases of non-CNS primaries.
    """

    key: str
    finding: str
    sensitivity: int
    specificity: int
    iscm_group: str
    comparison: str
    comparison_size: int
    iscm_patients: int
    source: str
    non_cns_only: bool = False
    sensitivity_count: tuple[int, int] | None = None
    false_positives: tuple[int, int] | None = None

    @property
    def likelihood_ratio_positive(self) -> float | None:
        """sensitivity / (1 - specificity), to one decimal; None when the specificity is 100%."""
        if self.specificity >= 100:
            return None
        return round(self.sensitivity / (100 - self.specificity), 1)

    @property
    def likelihood_ratio_note(self) -> str:
        """How the positive likelihood ratio was obtained, or why there is none."""
        if self.likelihood_ratio_positive is None:
            false_positives = self.false_positives or (0, self.comparison_size)
            return (f"not finite: none of {false_positives[1]} primary masses showed "
                    f"{'it' if self.key == 'central_dot' else 'both signs' if self.key == 'both' else 'the sign'} "
                    f"({false_positives[0]}/{false_positives[1]})")
        return (f"computed by ISCMAssist as sensitivity / (1 - specificity) from the source's rounded "
                f"percentages ({self.sensitivity}% / {100 - self.specificity}%)")

    def evidence(self) -> list[Evidence]:
        """Return the sensitivity and specificity as Evidence (counts where the source prints them)."""
        if self.sensitivity_count:
            sensitivity = Evidence(f"{self.finding} in patients with enhancing ISCMs (sensitivity)", *self.sensitivity_count,
                                   self.source)
        else:
            sensitivity = Evidence(f"{self.finding}, sensitivity per patient ({self.iscm_group})", None,
                                   self.iscm_patients, self.source, stated_percent=self.sensitivity)
        if self.false_positives:
            specificity = Evidence(f"{self.finding} in enhancing primary intramedullary masses", *self.false_positives,
                                   self.source)
        else:
            specificity = Evidence(f"{self.finding}, specificity per patient ({self.comparison_size} primary "
                                   "intramedullary masses)", None, self.comparison_size, self.source,
                                   stated_percent=self.specificity)
        return [sensitivity, specificity]


def _rykken(key: str, finding: str, specificity: int, sensitivity: int) -> DiagnosticAccuracy:
    return DiagnosticAccuracy(key, finding, sensitivity, specificity, RYKKEN_ISCM_GROUP, RYKKEN_COMPARISON, 64, 45,
                              REFERENCE_7, non_cns_only=True)


#: key -> DiagnosticAccuracy; Rykken et al. 2013 (table "sign | specificity | sensitivity") and
#: Madhavan et al. 2021, as in evidence-beyond-the-study.md.
ACCURACY: dict[str, DiagnosticAccuracy] = {
    "rim": _rykken("rim", "rim sign", 97, 47),
    "flame": _rykken("flame", "flame sign", 97, 40),
    "at_least_one": _rykken("at_least_one", "at least one of the rim and flame signs", 94, 60),
    "both": _rykken("both", "both the rim and the flame sign", 100, 27),
    "central_dot": DiagnosticAccuracy(
        "central_dot", "central dot sign", study_percent(4, 44), study_percent(54, 54), MADHAVAN_ISCM_GROUP,
        MADHAVAN_COMPARISON, 54, 44, MADHAVAN_2021, sensitivity_count=(4, 44), false_positives=(0, 54)),
}
#: Printed beside the central dot figures: per lesion it was 4/63 enhancing ISCMs; P = .038 per patient.
CENTRAL_DOT_PER_LESION = Evidence("central dot sign in enhancing ISCMs (per lesion)", 4, 63, MADHAVAN_2021)
CENTRAL_DOT_P_VALUE = 0.038
