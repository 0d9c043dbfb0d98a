"""Series roles of an exam folder: scan a folder (DICOM and NIfTI), propose which series is the
sagittal T2, T1 pre, T1 post, axial T2 and axial T1 post (with the reasons), take the reader's
changes and load the chosen series into the scene's series selectors.

Core: ISCMAssistLib.ingest (scan_folder, propose_roles, apply_overrides, load_series). The scan is
held in the state (``examScan``, ``examProposals``) between :func:`scanExam` and :func:`loadProposedSeries`.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from .. import ingest, series_roles
from ..progress import PanelProgress, no_progress, steps_to_panel
from .names import SERIES_PARAMETERS, SERIES_ROLE_ATTRIBUTE, SOURCE_ATTRIBUTE
from .series import addSeriesVolume
from .state import SceneState


def scanExam(state: SceneState, folder: str | os.PathLike, progress: PanelProgress | None = None) -> list[dict]:
    """Scan an exam folder (or DICOMDIR) and propose a series per reading role; keep both for
    :func:`loadProposedSeries`. Returns :func:`examRows`. Raises IngestError naming the folder."""
    progress = progress or no_progress
    progress(0.0, f"Scanning {os.fspath(folder)}")
    scan = ingest.scan_folder(folder, progress=steps_to_panel(progress, "Reading the headers", span=0.95))
    state.examScan, state.examProposals = scan, series_roles.propose_roles(scan.series)
    progress(1.0, f"Found {len(scan.series)} series")
    return examRows(state)


def examRoles() -> tuple[str, ...]:
    """Return the reading roles a scanned series can take (series_roles.ROLES), for the panel's combo."""
    return tuple(series_roles.ROLES)


def examRows(state: SceneState) -> list[dict]:
    """Return one dict per scanned series for the panel's table: key (SeriesInstanceUID or NIfTI
    name), label, summary (orientation, weighting, contrast, slices), role (proposed role or ""),
    reason (why, or the problems that keep it from loading; the row's tooltip)."""
    if state.examScan is None:
        return []
    proposedBy = {proposal.series_uid: proposal for proposal in (state.examProposals or {}).values()
                  if proposal.series_uid}
    rows = []
    for summary in state.examScan.series:
        proposal = proposedBy.get(summary.uid)
        contrast = {True: "post-contrast", False: "pre-contrast", None: ""}[summary.contrast]
        reasons = list(proposal.reasons) if proposal else []
        reasons += [f"cannot load: {problem}" for problem in summary.problems]
        reasons += summary.warnings
        rows.append({
            "key": summary.uid,
            "label": summary.label,
            "summary": " ".join(part for part in (summary.orientation, summary.weighting, contrast,
                                                  f"{summary.n_slices} slices") if part),
            "role": proposal.role if proposal else "",
            "reason": "; ".join(reasons) or "not proposed for a reading role",
        })
    return rows


def overridesFromAssignments(rows: list[dict], assignments: Mapping[str, str]) -> dict[str, str]:
    """Turn the panel's table ({series key: chosen role or ""}) into ingest overrides
    ({role: series key, or "none" for a proposed role no series holds any more}); only changes."""
    proposed = {row["role"]: row["key"] for row in rows if row["role"]}
    chosen: dict[str, str] = {}
    for key, role in assignments.items():
        if role:
            if role not in series_roles.ROLES:
                raise ingest.IngestError(f"series {key}: role {role!r} is not one of {', '.join(series_roles.ROLES)}")
            if role in chosen:
                raise ingest.IngestError(f"role {role}: chosen for two series; pick one")
            chosen[role] = key
    overrides = {role: key for role, key in chosen.items() if proposed.get(role) != key}
    overrides.update({role: "none" for role in proposed if role not in chosen})
    return overrides


def loadProposedSeries(state: SceneState, overrides: Mapping[str, str] | None = None,
                       progress: PanelProgress | None = None) -> dict[str, Any]:
    """Load the series of each filled role (the proposal with the reader's ``overrides``, see
    series_roles.apply_overrides) as volume nodes; select them for t2_sagittal / t1_post / t1_pre.
    Returns {role: volume node}. Raises IngestError (unknown role/series, nothing scanned) or
    VolumeLoadError naming the series."""
    progress = progress or no_progress
    if state.examScan is None:
        raise ingest.IngestError("no exam folder scanned: press Load exam folder first")
    proposals = series_roles.apply_overrides(state.examScan, state.examProposals or {}, dict(overrides or {}))
    state.examProposals = proposals
    filled = [(role, proposal) for role, proposal in proposals.items() if proposal.series_uid]
    loaded: dict[str, Any] = {}
    for index, (role, proposal) in enumerate(filled):
        summary = state.examScan.find(proposal.series_uid)
        base, span = index / len(filled), 1.0 / len(filled)
        progress(base, f"Loading {summary.label}")
        volume = ingest.load_series(summary, progress=steps_to_panel(progress, f"Loading {summary.label}", base, span))
        node = addSeriesVolume(state, volume, summary.label, role if role in SERIES_PARAMETERS else None)
        node.SetAttribute(SERIES_ROLE_ATTRIBUTE, role)
        node.SetAttribute(SOURCE_ATTRIBUTE, str(summary.path.absolute()))
        if summary.kind == "dicom":
            sh = state.scene.GetSubjectHierarchyNode()
            item = sh.GetItemByDataNode(node) or sh.CreateItem(sh.GetSceneItemID(), node)
            sh.SetItemUID(item, "DICOM", summary.uid)
        loaded[role] = node
    state.requestRecompute()
    progress(1.0, f"Loaded {len(loaded)} series")
    return loaded


def openExam(state: SceneState, folder: str | os.PathLike, progress: PanelProgress | None = None) -> dict[str, Any]:
    """Scan an exam folder and load its proposed series (sagittal T2, T1 post, ...) into the series
    selectors: :func:`scanExam` then :func:`loadProposedSeries`. Returns {role: volume node}.
    Raises IngestError / VolumeLoadError naming the folder or file."""
    progress = progress or no_progress
    scanExam(state, folder, progress=lambda f, m: progress(0.3 * f, m))
    return loadProposedSeries(state, progress=lambda f, m: progress(0.3 + 0.7 * f, m))
