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

from . import RESEARCH_USE_LABEL
from .case_hints import case_hints
from .hint_model import DIRECTIONS, EXPLANATION, KIND_LABELS, KINDS, RULES, Hint  # noqa: F401 (the hints API)
from .lesion_hints import lesion_hints


def hints_document(case: dict, hints: list[Hint]) -> dict:
    """Take a case and its hints; return the ``iscm-assist hints --json`` document
    (``schema/hints.schema.json``): case_id, explanation, kinds, research_use and hints."""
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
    clinical = case.get("clinical") or {}
    hints: list[Hint] = []
    for lesion in case.get("lesions") or []:
        hints.extend(lesion_hints(lesion, clinical))
    hints.extend(case_hints(case))
    return hints
