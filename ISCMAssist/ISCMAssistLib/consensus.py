"""Consensus drafts: two or more readers' reads of one case merged into one draft for the consensus
reader, with the fields they disagree on left open to settle (no file access; session.py saves them).

Lesion pairing and value agreement are the rule of disagreement.py, the same as the agreement report's.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any, Sequence

from . import case as case_mod
from .disagreement import match_lesions, values_agree

#: the reader name of a consensus read (a folder under reads/ like any reader's)
CONSENSUS_READER = "consensus"


@dataclass(frozen=True)
class Disagreement:
    """A field the readers of a consensus draft disagree on: its path in the draft and each reader's value."""

    field: str
    values: dict[str, Any]

    def text(self) -> str:
        """Return e.g. "lesions[0].position: reader1=central, reader2=eccentric"."""
        shown = ", ".join(f"{reader}={_show(value)}" for reader, value in self.values.items())
        return f"{self.field}: {shown}"


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


_LESION_SKIP = ("id", "lines_lps", "provenance")


def _merge_record(
    records: dict[str, dict], keys: Sequence[str], prefix: str, out: dict, disagreements: list[Disagreement]
) -> None:
    """Copy into `out` the fields of `records` ({reader: lesion/section dict}) the readers agree on, with the
    first reader's provenance; set disputed fields to None with provenance "reader" and list them."""
    first = next(iter(records.values()))
    provenance = copy.deepcopy(first.get("provenance") or {})

    def disputed(key: str, values: dict[str, Any]) -> None:
        provenance[key] = case_mod.READER
        disagreements.append(Disagreement(f"{prefix}{key}", values))

    for key in keys:
        if key == "size_mm":
            sizes = {reader: record.get("size_mm") or {} for reader, record in records.items()}
            merged = {}
            for axis in case_mod.SIZE_AXES:
                values = {reader: size.get(axis) for reader, size in sizes.items()}
                agreed = values_agree(f"size_mm.{axis}", list(values.values()))
                merged[axis] = next(iter(values.values())) if agreed else None
                if not agreed:
                    disputed(f"size_mm.{axis}", values)
            out["size_mm"] = merged
            continue
        values = {reader: record.get(key) for reader, record in records.items()}
        if values_agree(key, list(values.values())):
            out[key] = copy.deepcopy(next(iter(values.values())))
        else:
            out[key] = None
            disputed(key, values)
    out["provenance"] = provenance


def build_consensus(reads: dict[str, dict], case_id: str) -> tuple[dict, list[Disagreement]]:
    """Build a consensus draft from readers' reads of one case (no file access).

    Takes {reader: case dict} (two or more, validated) and the case id; returns (draft case dict for
    reader "consensus", disagreements). The first reader's level landmarks and lesion lines are kept, so
    recomputing the draft gives back the agreed derived values. Agreed fields keep the first reader's value
    and provenance (values agree by disagreement.values_agree). A disputed field is None with provenance
    "reader", so recomputation from the kept lines cannot settle it silently: the consensus readers type the
    value, or clear the override (case.clear_reader_value) to let the tool derive it. Lesions are paired with
    match_lesions; a lesion not every reader marked is kept with its lines and no feature values, and listed
    as the disagreement "lesions[i]" (values: each reader's lesion id or None).
    """
    readers = list(reads)
    first = reads[readers[0]]
    draft = case_mod.new_case(case_id, CONSENSUS_READER)
    disagreements: list[Disagreement] = []
    draft["levels"] = copy.deepcopy(first.get("levels") or draft["levels"])

    # Pair every other reader's lesions with the first reader's.
    groups: list[dict[str, dict]] = [{readers[0]: lesion} for lesion in first.get("lesions", [])]
    anchored = len(groups)
    for reader in readers[1:]:
        lesions = reads[reader].get("lesions", [])
        anchors = [group[readers[0]] for group in groups[:anchored]]
        for i, j in match_lesions(anchors, lesions):
            if i is not None and j is not None:
                groups[i][reader] = lesions[j]
            elif j is not None:
                groups.append({reader: lesions[j]})

    feature_keys = [key for key in case_mod.new_lesion("L1") if key not in _LESION_SKIP]
    draft["lesions"] = []
    for index, group in enumerate(groups):
        lesion = case_mod.new_lesion(f"L{index + 1}")
        lesion["lines_lps"] = copy.deepcopy(next(iter(group.values())).get("lines_lps") or {})
        if len(group) < len(readers):
            disagreements.append(
                Disagreement(f"lesions[{index}]", {r: (group[r].get("id") if r in group else None) for r in readers})
            )
        else:
            _merge_record({r: group[r] for r in readers}, feature_keys, f"lesions[{index}].", lesion, disagreements)
        draft["lesions"].append(lesion)

    for section, features in (("patient_findings", case_mod.PATIENT_FEATURES), ("clinical", case_mod.CLINICAL_FEATURES)):
        records = {r: reads[r].get(section) or {} for r in readers}
        _merge_record(records, [f.name for f in features], f"{section}.", draft[section], disagreements)

    lines = [f"Consensus of {', '.join(readers)}: {len(disagreements)} disagreement(s) to settle."]
    lines += [f"- {d.text()}" for d in disagreements]
    draft["notes"] = "\n".join(lines)
    return draft, disagreements
