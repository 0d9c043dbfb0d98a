"""Reading roles for the series of one study: proposals with reasons, the reader's overrides, the case JSON entries.

``propose_roles`` picks, within one study (exam_studies.py), the sagittal T2, sagittal T1 pre and post,
axial T2 and axial T1 post from the series ingest.scan_folder found; ``apply_overrides`` applies the
reader's choices; ``case_series_entries`` writes the case JSON ``series`` list.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from . import exam_studies
from .case import READING_ROLES
from .exam_studies import StudyChoiceError, StudyGroup
from .series_evidence import vessel_enhancement
from .volumes import VolumeLoadError

if TYPE_CHECKING:
    from .ingest import ScanResult, SeriesSummary

#: Reading roles, in the order they are proposed (the case JSON's series roles, "other" aside).
#: Reading roles, in the order they are proposed (the case JSON's series roles, "other" aside).
ROLES = READING_ROLES
ROLE_TITLES = {
    "t2_sagittal": "T2 sagittal",
    "t1_pre": "T1 sagittal pre-contrast",
    "t1_post": "T1 sagittal post-contrast",
    "t2_axial": "axial T2",
    "t1_post_axial": "axial T1 post-contrast",
}


@dataclass
class RoleProposal:
    """The series proposed for one reading role (or none), why, and the other candidates."""

    role: str
    series_uid: str | None
    label: str = ""
    reasons: list[str] = field(default_factory=list)
    alternatives: list[str] = field(default_factory=list)  # uids of other candidates
    overridden: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "role": self.role,
            "series_uid": self.series_uid,
            "label": self.label,
            "reasons": self.reasons,
            "alternatives": self.alternatives,
            "overridden": self.overridden,
        }


def _order_key(summary: SeriesSummary) -> tuple:
    return (summary.series_number if summary.series_number is not None else 1 << 30, summary.acquisition_time, summary.uid)


def _coverage(summary: SeriesSummary) -> float:
    if summary.si_range_mm is None:
        return 0.0
    return summary.si_range_mm[1] - summary.si_range_mm[0]


class _Picker:
    """Fills the proposals role by role, each series taken once; ``note`` ends every proposal's reasons."""

    def __init__(self, note: list[str]) -> None:
        self.proposals: dict[str, RoleProposal] = {}
        self.taken: set[str] = set()
        self.note = note

    def pick(self, role: str, candidates: list[SeriesSummary], why_none: str, note: str = "") -> None:
        """Propose the candidate covering the longest S-I extent (the others as alternatives), or none, why_none."""
        candidates = [c for c in candidates if c.uid not in self.taken]
        if not candidates:
            self.proposals[role] = RoleProposal(role, None, reasons=[why_none])
            return
        best = max(candidates, key=lambda s: (_coverage(s), -_order_key(s)[0]))
        contrast = {None: "", True: " post-contrast", False: " pre-contrast"}[best.contrast]
        reasons = [f"{best.orientation} {best.weighting}{contrast}"] + [r for r in best.reasons if "tilted" not in r]
        if len(candidates) > 1:
            reasons.append(f"longest S-I coverage ({_coverage(best):.0f} mm) of {len(candidates)} candidates")
        reasons += ([note] if note else []) + self.note
        self.proposals[role] = RoleProposal(role, best.uid, best.label, reasons,
                                            [c.uid for c in candidates if c.uid != best.uid])
        self.taken.add(best.uid)


def propose_roles(series: Sequence[SeriesSummary], study: str | None = None, pixels: bool = True) -> dict[str, RoleProposal]:
    """Propose one series per reading role (``ROLES``) with reasons, within one study; a role may stay empty.

    The study is ``study`` (StudyInstanceUID or index), the only one, or the only one with spine
    series; when that leaves a choice every role stays empty and says so. Localizers, series with
    loading problems and series that can never take a role (field maps, EPI/DWI, MIPs, derived) are
    not proposed. Sagittal roles need a sagittal series, axial roles an axial one. "Post-contrast"
    needs evidence: ContrastBolusAgent, the description, or (``pixels``) a same-grid T1 pair whose
    later image is brighter in the vessels; never the acquisition order alone. With several
    candidates the one covering the longest S-I extent is proposed, the others listed as alternatives
    (by SeriesInstanceUID). Returns {role: RoleProposal}.
    """
    studies = exam_studies.group_studies(series)
    try:
        chosen, why = exam_studies.choose_study(studies, study)
    except StudyChoiceError as error:
        return {role: RoleProposal(role, None, reasons=[str(error).splitlines()[0]]) for role in ROLES}
    usable = [s for s in chosen.series if not s.localizer and not s.problems and not s.excluded and s.modality in ("MR", "")]
    picker = _Picker([f"study {chosen.index} of {len(studies)} ({why})"] if len(studies) > 1 else [])
    sagittal = [s for s in usable if s.orientation == "sagittal"]
    axial = [s for s in usable if s.orientation == "axial"]
    picker.pick("t2_sagittal", [s for s in sagittal if s.weighting == "T2" and s.contrast is not True]
                or [s for s in sagittal if s.weighting == "T2"], "no sagittal T2 series found")
    picker.pick("t2_axial", [s for s in axial if s.weighting == "T2"], "no axial T2 series found")
    for plane, pre_role, post_role in ((sagittal, "t1_pre", "t1_post"), (axial, None, "t1_post_axial")):
        t1 = sorted([s for s in plane if s.weighting == "T1"], key=_order_key)
        if pixels:
            _pair_evidence(t1, studies)
        _pick_t1(picker, t1, pre_role, post_role, studies)
    return {role: picker.proposals[role] for role in ROLES}


def _pick_t1(picker: _Picker, t1: list[SeriesSummary], pre_role: str | None, post_role: str,
             studies: Sequence[StudyGroup]) -> None:
    """Propose the pre-contrast (when ``pre_role``) and post-contrast T1 of one plane (``t1`` in acquisition
    order): post only with evidence; a T1 without contrast information may be pre, and is never post."""
    post = [s for s in t1 if s.contrast is True]
    unknown = [s for s in t1 if s.contrast is None]
    name = "sagittal T1" if pre_role else "axial T1"
    if pre_role:
        pre = [s for s in t1 if s.contrast is False]
        note = ""
        if not pre and unknown:
            pre = [s for s in unknown if not post or _order_key(s) < _order_key(post[0])][:1]
            note = "no contrast information: taken as pre-contrast" + (", acquired before the post-contrast T1" if post else "")
        picker.pick(pre_role, pre, f"no pre-contrast {name} series found", note)
    left = [s for s in unknown if s.uid not in picker.taken]
    why_none = f"no post-contrast {name} series found"
    if left:
        keys = ", ".join(exam_studies.series_key(studies, s) for s in left)
        why_none = (f"unsure: {len(left)} {name} series without contrast evidence ({keys}); acquisition order "
                    "alone does not make one post-contrast: choose it by hand if one is")
    picker.pick(post_role, post, why_none)
    if picker.proposals[post_role].series_uid is None and left:
        picker.proposals[post_role].alternatives = [s.uid for s in left]


def _same_grid(a: SeriesSummary, b: SeriesSummary) -> bool:
    if (a.rows, a.columns, a.n_slices, a.orientation) != (b.rows, b.columns, b.n_slices, b.orientation):
        return False
    if not a.spacing_mm or not b.spacing_mm or not a.si_range_mm or not b.si_range_mm:
        return False
    return (np.allclose(a.spacing_mm, b.spacing_mm, atol=1e-2) and np.allclose(a.si_range_mm, b.si_range_mm, atol=1.0))


def _pair_evidence(t1: Sequence[SeriesSummary], studies: Sequence[StudyGroup]) -> None:
    """For T1 series of one plane (in acquisition order) without contrast evidence, compare each with an
    earlier one of the same grid and protocol: a later one brighter in the vessels becomes post-contrast.
    The verdict (or why there is none) is added to the later series' reasons."""
    from . import ingest

    for index, later in enumerate(t1):
        if later.contrast is not None or later.kind != "dicom":
            continue
        earlier = next((e for e in reversed(t1[:index]) if e.contrast is not True and e.kind == "dicom"
                        and _same_grid(e, later)), None)
        if earlier is None:
            continue
        try:
            before, after = ingest.load_series(earlier), ingest.load_series(later)
        except VolumeLoadError as error:
            later.reasons.append(f"no pixel comparison with {exam_studies.series_key(studies, earlier)} ({error})")
            continue
        if not np.allclose(before.ijk_to_ras, after.ijk_to_ras, atol=1.0):
            continue
        contrast, reason = vessel_enhancement(before.array, after.array)
        later.contrast = contrast
        later.reasons.append(f"{reason}, compared with {exam_studies.series_key(studies, earlier)}")


def apply_overrides(scan: ScanResult, proposals: dict[str, RoleProposal], overrides: Mapping[str, str],
                    study_uid: str | None = None) -> dict[str, RoleProposal]:
    """Apply the reader's choices {role: "study:series", SeriesInstanceUID, NIfTI name or an unambiguous
    series number ("" or "none" clears)}.

    Returns the proposals with the overridden roles marked ``overridden``; raises IngestError for
    an unknown role or series, or (with ``study_uid``) a series of another study than the one read.
    """
    from .ingest import IngestError

    result = dict(proposals)
    for role, key in overrides.items():
        if role not in ROLES:
            raise IngestError(f"--role {role}={key}: unknown role {role!r} (roles: {', '.join(ROLES)})")
        if key.strip().lower() in ("", "none"):
            result[role] = RoleProposal(role, None, reasons=["cleared by the reader"], overridden=True)
            continue
        chosen = scan.find(key)
        if study_uid is not None and chosen.study_uid != study_uid:
            raise IngestError(f"--role {role}={key}: that series is of another study than the one read "
                              f"({chosen.study_uid}); one read is of one study")
        result[role] = RoleProposal(role, chosen.uid, chosen.label, ["chosen by the reader"], overridden=True)
    # One series has one role: the reader giving it two is refused; a proposal the reader's choice
    # took the series from is cleared, and says so.
    chosen_roles: dict[str, str] = {}
    for role in overrides:
        uid = result[role].series_uid
        if uid is not None and uid in chosen_roles:
            raise IngestError(f"--role {role}: series {result[role].label} is already given the role "
                              f"{chosen_roles[uid]}; one series has one role")
        if uid is not None:
            chosen_roles[uid] = role
    for role, proposal in list(result.items()):
        if not proposal.overridden and proposal.series_uid in chosen_roles:
            result[role] = RoleProposal(role, None, reasons=[
                f"its series {proposal.label} was given the role {chosen_roles[proposal.series_uid]} by the reader"])
    return result


def case_series_entries(scan: ScanResult, proposals: Mapping[str, RoleProposal]) -> list[dict[str, str]]:
    """Return the case JSON ``series`` list: {role, series_uid (None for NIfTI), file, description} per filled role.

    ``file`` is relative to the scanned root: a folder ending in "/" for DICOM, the file for NIfTI.
    """
    entries = []
    for role in ROLES:
        proposal = proposals.get(role)
        if proposal is None or proposal.series_uid is None:
            continue
        summary = scan.find(proposal.series_uid)
        try:
            file = os.path.relpath(summary.path, scan.root)
        except ValueError:
            file = str(summary.path)
        entries.append({
            "role": role,
            "series_uid": summary.uid if summary.kind == "dicom" else None,
            "file": file if summary.kind == "nifti" else file.rstrip("/") + "/",
            "description": summary.description,
        })
    return entries
