"""Exams as a PACS holds them: a folder's series grouped by study (StudyInstanceUID), and which study to read.

A folder or a retrieve may hold several studies (another day, another position, another patient).
Roles are proposed within one study only; with several, the reader picks one (``--study UID`` or
its index), unless only one of them has spine series. Series keys ``study:series`` ("2:5": study 2,
SeriesNumber 5) name a series unambiguously where series numbers repeat across studies.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

_SPINE_WORDS = re.compile(r"(SPINE|SPINAL|\bCORD\b|MYELO|WIRBELS|\bWS\b|\bHWS\b|\bBWS\b|\bLWS\b|RACHIS)", re.I)
_SPINE_BODY_PARTS = {"SPINE", "CSPINE", "TSPINE", "LSPINE", "SSPINE", "CTSPINE", "TLSPINE", "LSSPINE", "NECK",
                     "SACRUM", "COCCYX", "WHOLESPINE"}


class StudyChoiceError(ValueError):
    """Several studies and no way to tell which to read; the message lists them and how to choose."""


@dataclass
class StudyGroup:
    """One study of a folder: ``index`` (1-based, by date and time), its UID, what identifies it, its series."""

    index: int
    uid: str
    patient_id: str = ""
    date: str = ""
    time: str = ""
    description: str = ""
    series: list[Any] = field(default_factory=list, repr=False)

    @property
    def spine_series(self) -> list[Any]:
        """Return the series of this study that are of the spine (region words or BodyPartExamined)."""
        return [s for s in self.series if is_spine_series(s)]

    def title(self) -> str:
        """Return one line naming the study: index, date, patient, description, number of series, UID."""
        date = f"{self.date[:4]}-{self.date[4:6]}-{self.date[6:8]}" if len(self.date) >= 8 else (self.date or "no date")
        spine = len(self.spine_series)
        parts = [f"study {self.index}", date, f"patient {self.patient_id or '?'}",
                 repr(self.description) if self.description else "no description",
                 f"{len(self.series)} series ({spine} spine)", self.uid or "no StudyInstanceUID"]
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (series by SeriesInstanceUID)."""
        return {"index": self.index, "uid": self.uid, "patient_id": self.patient_id, "date": self.date,
                "time": self.time, "description": self.description, "series": [s.uid for s in self.series],
                "spine_series": [s.uid for s in self.spine_series]}


def is_spine_series(summary: Any) -> bool:
    """Return whether a series summary is of the spine: a spine region (cervical/thoracic/lumbar/whole),
    a spine BodyPartExamined, or spine words in its description."""
    body_part = re.sub(r"[^A-Z]", "", (summary.body_part or "").upper())
    return bool(summary.region) or body_part in _SPINE_BODY_PARTS or bool(_SPINE_WORDS.search(summary.description or ""))


def group_studies(series: Sequence[Any]) -> list[StudyGroup]:
    """Group series summaries (with study_uid, study_date, study_time, ...) by study; return the studies
    ordered by date, time and UID, indexed from 1."""
    groups: dict[str, list[Any]] = {}
    for summary in series:
        groups.setdefault(summary.study_uid, []).append(summary)
    studies = []
    for uid, members in groups.items():
        first = members[0]
        studies.append(StudyGroup(0, uid, first.patient_id, first.study_date, first.study_time,
                                  first.study_description, members))
    studies.sort(key=lambda s: (s.date or "99999999", s.time, s.uid))
    for index, study in enumerate(studies, start=1):
        study.index = index
    return studies


def find_study(studies: Sequence[StudyGroup], key: str) -> StudyGroup:
    """Return the study whose StudyInstanceUID or index is ``key``; raises StudyChoiceError listing them."""
    key = key.strip()
    matches = [s for s in studies if s.uid == key or (key.isdigit() and s.index == int(key))]
    if not matches:
        raise StudyChoiceError(f"no study {key!r}; the studies are:\n" + "\n".join(f"  {s.title()}" for s in studies))
    return matches[0]


def choose_study(studies: Sequence[StudyGroup], key: str | None = None) -> tuple[StudyGroup, str]:
    """Return (the study to read, why): ``key`` (UID or index) when given, the only study, or the only
    study with spine series. Raises StudyChoiceError listing the studies when that leaves a choice."""
    if not studies:
        raise StudyChoiceError("no series, so no study to choose")
    if key:
        return find_study(studies, key), "chosen by the reader"
    if len(studies) == 1:
        return studies[0], "the only study"
    with_spine = [s for s in studies if s.spine_series]
    if len(with_spine) == 1:
        return with_spine[0], f"the only one of {len(studies)} studies with spine series"
    listing = "\n".join(f"  {s.title()}" for s in studies)
    raise StudyChoiceError(f"{len(studies)} studies in one folder, "
                           f"{'none' if not with_spine else len(with_spine)} with spine series: "
                           f"choose one by its StudyInstanceUID or index\n{listing}")


def series_key(studies: Sequence[StudyGroup], summary: Any) -> str:
    """Return the shortest unambiguous name of a series: "study:series" (e.g. "2:5"), else its UID."""
    for study in studies:
        if any(s is summary for s in study.series):
            same = [s for s in study.series if s.series_number == summary.series_number]
            if summary.series_number is not None and len(same) == 1:
                return f"{study.index}:{summary.series_number}"
    return summary.uid


def find_by_key(studies: Sequence[StudyGroup], key: str) -> list[Any]:
    """Return the series "study:series" names (study index or UID, then SeriesNumber); [] when the key has no colon
    or no such series."""
    study_key, colon, number = key.rpartition(":")
    if not colon or not number.lstrip("-").isdigit() or not study_key:
        return []
    try:
        study = find_study(studies, study_key)
    except StudyChoiceError:
        return []
    return [s for s in study.series if s.series_number == int(number)]
