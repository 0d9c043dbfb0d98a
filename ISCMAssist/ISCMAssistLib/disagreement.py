"""What counts as a disagreement between readers, defined once: which lesions pair, which fields are
compared, and when two values agree. The agreement report (agreement.py) and the consensus draft
(consensus.py) both use it, so they list the same disagreements.

Pairing: when every lesion of both reads has a line, lesions pair by the nearest centres of their
line points (optimal assignment, LPS mm; pairs farther than LESION_MATCH_DISTANCE_MM apart stay
unpaired), else by lesion id. Values: numbers agree within TOLERANCE (sizes in mm, lengths in
segments; other numbers must be equal), lists agree as sets, anything else must be equal and of the
same type (True is not 1); a value and "not assessable" (None) disagree.
"""

from __future__ import annotations

import json
import numbers
from typing import Any, Sequence

import numpy as np

from .case import CLINICAL_FEATURES, LESION_FEATURES, LINE_NAMES, PATIENT_FEATURES, SIZE_AXES

#: Sizes within 1.5 mm agree: about two pixels of the 0.7-0.8 mm in-plane grid of spine MRI, the
#: caliper spread of two readers on one lesion edge. Segment counts must be equal.
SIZE_TOLERANCE_MM = 1.5
#: A numeric difference larger than this is a disagreement (sizes in mm, lengths in segments).
TOLERANCE: dict[str, float] = {
    **{f"size_mm.{axis}": SIZE_TOLERANCE_MM for axis in SIZE_AXES},
    "enhancement_length_segments": 0.0, "t2_length_segments": 0.0, "t2_to_enhancement_ratio": 0.5,
}
#: Lesions of two readers whose centres lie farther apart than this (mm) are different lesions.
LESION_MATCH_DISTANCE_MM = 30.0

#: Fields compared per lesion (sizes one per axis) and per case section, in checklist order.
LESION_FIELDS: tuple[str, ...] = tuple(
    name for feature in LESION_FEATURES
    for name in ([f"size_mm.{axis}" for axis in SIZE_AXES] if feature.kind == "sizes" else [feature.name]))
SECTION_FIELDS: dict[str, tuple[str, ...]] = {
    "patient_findings": tuple(feature.name for feature in PATIENT_FEATURES),
    "clinical": tuple(feature.name for feature in CLINICAL_FEATURES),
}


def field_value(record: dict, field: str) -> Any:
    """Take a lesion or section record and a field ("position", "size_mm.ap"); return its value."""
    if field.startswith("size_mm."):
        return (record.get("size_mm") or {}).get(field.split(".", 1)[1])
    return record.get(field)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def values_agree(field: str, values: Sequence[Any], tolerance: dict[str, float] | None = None) -> bool:
    """Take a field name and two or more readers' values of it; return whether every value agrees with
    the first (the rule above; ``tolerance`` overrides TOLERANCE per field)."""
    limit = {**TOLERANCE, **(tolerance or {})}.get(field, 0.0)
    first = values[0]
    for value in values[1:]:
        if _is_number(first) and _is_number(value):
            if abs(float(first) - float(value)) > limit + 1e-9:
                return False
        elif isinstance(first, list) and isinstance(value, list):
            if sorted(map(json.dumps, first)) != sorted(map(json.dumps, value)):
                return False
        elif first != value or type(first) is not type(value):
            return False
    return True


def lesion_centre(lesion: dict) -> list[float] | None:
    """Take a lesion record; return the mean of its line points (LPS mm), or None without lines."""
    lines = lesion.get("lines_lps") or {}
    points = [point for name in LINE_NAMES for point in (lines.get(name) or [])]
    if not points:
        return None
    return [sum(point[axis] for point in points) / len(points) for axis in range(3)]


def match_lesions(first: list[dict], other: list[dict]) -> list[tuple[int | None, int | None]]:
    """Pair two readers' lesions (the rule above). Takes two lesion lists; returns (index in first,
    index in other) pairs in ``first``'s order, then the lesions only ``other`` marked (None on the
    side that did not mark it)."""
    centres_a = [lesion_centre(lesion) for lesion in first]
    centres_b = [lesion_centre(lesion) for lesion in other]
    if first and other and all(c is not None for c in centres_a + centres_b):
        from scipy.optimize import linear_sum_assignment

        cost = np.linalg.norm(np.array(centres_a)[:, None, :] - np.array(centres_b)[None, :, :], axis=2)
        rows, cols = linear_sum_assignment(cost)
        matched = {int(r): int(c) for r, c in zip(rows, cols) if cost[r, c] <= LESION_MATCH_DISTANCE_MM}
    else:
        index_b = {lesion.get("id"): j for j, lesion in enumerate(other)}
        matched = {i: index_b[lesion.get("id")] for i, lesion in enumerate(first) if lesion.get("id") in index_b}
    pairs: list[tuple[int | None, int | None]] = [(i, matched.get(i)) for i in range(len(first))]
    used = set(matched.values())
    pairs.extend((None, j) for j in range(len(other)) if j not in used)
    return pairs
