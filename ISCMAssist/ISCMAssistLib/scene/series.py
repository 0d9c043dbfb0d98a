"""Series roles of an exam folder in the module: scan a folder (DICOM and NIfTI), propose which series
is the sagittal T2, T1 pre, T1 post, axial T2 and axial T1 post (with the reasons), let the reader
change the proposal and load the chosen series into the scene's series selectors.

Core: ISCMAssistLib.ingest (scan_folder, propose_roles, apply_overrides, load_series). The scan is
held by the Logic between :meth:`SeriesLogicMixin.scanExam` and
:meth:`SeriesLogicMixin.loadProposedSeries`. Mixed into ISCMAssistLogic (needs its methods).
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping

ProgressCallback = Callable[[float, str], None]
#: node attribute: the reading role a loaded series was chosen for (also for roles without a selector)
SERIES_ROLE_ATTRIBUTE = "ISCMAssist.SeriesRole"


class SeriesLogicMixin:
    """scanExam / examRows / overridesFromAssignments / loadProposedSeries for ISCMAssistLogic."""

    _examScan: Any = None
    _examProposals: dict | None = None

    def scanExam(self, folder: str | os.PathLike, progress: ProgressCallback | None = None) -> list[dict]:
        """Scan an exam folder (or DICOMDIR) and propose a series per reading role; keep both for
        :meth:`loadProposedSeries`. Returns :meth:`examRows`. Raises IngestError naming the folder."""
        from ISCMAssistLib import ingest

        progress = progress or (lambda _f, _m: None)
        progress(0.0, f"Scanning {os.fspath(folder)}")
        scan = ingest.scan_folder(folder, progress=lambda done, total: progress(0.95 * done / max(total, 1),
                                                                                "Reading the headers"))
        self._examScan, self._examProposals = scan, ingest.propose_roles(scan.series)
        progress(1.0, f"Found {len(scan.series)} series")
        return self.examRows()

    @staticmethod
    def examRoles() -> tuple[str, ...]:
        """Return the reading roles a scanned series can take (ingest.ROLES), for the panel's combo."""
        from ISCMAssistLib import ingest

        return tuple(ingest.ROLES)

    def examRows(self) -> list[dict]:
        """Return one dict per scanned series for the panel's table: key (SeriesInstanceUID or NIfTI
        name), label, summary (orientation, weighting, contrast, slices), role (proposed role or ""),
        reason (why, or the problems that keep it from loading; the row's tooltip)."""
        if self._examScan is None:
            return []
        proposedBy = {proposal.series_uid: proposal for proposal in (self._examProposals or {}).values()
                      if proposal.series_uid}
        rows = []
        for summary in self._examScan.series:
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

    @staticmethod
    def overridesFromAssignments(rows: list[dict], assignments: Mapping[str, str]) -> dict[str, str]:
        """Turn the panel's table ({series key: chosen role or ""}) into ingest overrides
        ({role: series key, or "none" for a proposed role no series holds any more}); only changes."""
        from ISCMAssistLib import ingest

        proposed = {row["role"]: row["key"] for row in rows if row["role"]}
        chosen: dict[str, str] = {}
        for key, role in assignments.items():
            if role:
                if role not in ingest.ROLES:
                    from ISCMAssistLib.ingest import IngestError

                    raise IngestError(f"series {key}: role {role!r} is not one of {', '.join(ingest.ROLES)}")
                if role in chosen:
                    from ISCMAssistLib.ingest import IngestError

                    raise IngestError(f"role {role}: chosen for two series; pick one")
                chosen[role] = key
        overrides = {role: key for role, key in chosen.items() if proposed.get(role) != key}
        overrides.update({role: "none" for role in proposed if role not in chosen})
        return overrides

    def loadProposedSeries(self, overrides: Mapping[str, str] | None = None,
                           progress: ProgressCallback | None = None) -> dict[str, Any]:
        """Load the series of each filled role (the proposal with the reader's ``overrides``, see
        ingest.apply_overrides) as volume nodes; select them for t2_sagittal / t1_post / t1_pre.
        Returns {role: volume node}. Raises IngestError (unknown role/series, nothing scanned) or
        VolumeLoadError naming the series."""
        from ISCMAssistLib import ingest

        from ISCMAssistLib.scene.logic import SERIES_PARAMETERS, SOURCE_ATTRIBUTE

        progress = progress or (lambda _f, _m: None)
        if self._examScan is None:
            raise ingest.IngestError("no exam folder scanned: press Load exam folder first")
        proposals = ingest.apply_overrides(self._examScan, self._examProposals or {}, dict(overrides or {}))
        self._examProposals = proposals
        filled = [(role, proposal) for role, proposal in proposals.items() if proposal.series_uid]
        loaded: dict[str, Any] = {}
        for index, (role, proposal) in enumerate(filled):
            summary = self._examScan.find(proposal.series_uid)
            base, span = index / len(filled), 1.0 / len(filled)
            progress(base, f"Loading {summary.label}")
            volume = ingest.load_series(summary, progress=lambda done, total: progress(
                base + span * done / max(total, 1), f"Loading {summary.label}"))
            node = self.addSeriesVolume(volume, summary.label, role if role in SERIES_PARAMETERS else None)
            node.SetAttribute(SERIES_ROLE_ATTRIBUTE, role)
            node.SetAttribute(SOURCE_ATTRIBUTE, str(summary.path.absolute()))
            if summary.kind == "dicom":
                sh = self.scene.GetSubjectHierarchyNode()
                item = sh.GetItemByDataNode(node) or sh.CreateItem(sh.GetSceneItemID(), node)
                sh.SetItemUID(item, "DICOM", summary.uid)
            loaded[role] = node
        self.requestRecompute()
        progress(1.0, f"Loaded {len(loaded)} series")
        return loaded
