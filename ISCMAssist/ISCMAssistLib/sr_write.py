"""Case JSON -> the content tree of a TID 1500 Measurement Report (codes in ``sr_codes``).

Layout of "Imaging Measurements" (each lesion, in order; one line per TID 1501 group, because
QuantitativeReporting and OHIF's adapters draw one line per group):

- the lesion group, tracking identifier "L1": finding "Neoplasm, metastatic", finding site "Spinal
  cord" with one topographical modifier per vertebra spanned, every non-null checklist feature as
  a qualitative evaluation, and its NUMs in this order (null ones left out): Length (the SI size,
  inferred from the SI line), enhancement length and T2 length ({segments}) and their ratio (1);
- one group per other line or size ("L1 AP", "L1 transverse", "L1 edema SI"; the edema line's
  finding is "Edema"), holding one Length NUM.

A Length is inferred from a 2D SCOORD POLYLINE selected from the source image its end points lie
on (sr_geometry; concept SRT G-D7FE), else from a SCOORD3D in the frame of reference (SCT
410668003; see sr_codes.LENGTH_3D). A group with coordinates has a
tracking identifier of the form OHIF's adapters map to their Length tool
("Cornerstone3DTools@^0.1.0:Length:L1 AP"). A read with no lesion gets one group "no ISCM" with
Presence of property = Absent. The report's "Qualitative Evaluations" hold the patient findings and
the level landmarks (CODE = vertebra/disc/conus, INFERRED FROM a POINT).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from . import sr_codes
from .case import SIZE_AXES
from .sr_geometry import PlaneFinder
from .sr_private import CODED
from .vertebrae import landmark_coordinate, level_number, levels_spanned_text

_LEVELS_RE = re.compile(r"^([CTLS]\d{1,2})(?:-([CTLS]\d{1,2}))?$")
NO_LESION_IDENTIFIER = "no ISCM"


def tracking_uid(case_id: str, lesion_id: str) -> str:
    """Take a case id and a lesion id (or "L1/ap" for a line group); return its tracking UID
    (same inputs, same UID)."""
    from pydicom.uid import generate_uid

    return str(generate_uid(entropy_srcs=["ISCMAssist tracking", str(case_id), str(lesion_id)]))


def levels_range(text: Any) -> tuple[int, int] | None:
    """Parse "T4" / "T4-T6" into (first, last) level numbers, or None when it is not that shape."""
    if not isinstance(text, str):
        return None
    match = _LEVELS_RE.match(text.strip())
    if not match:
        return None
    try:
        first = level_number(match.group(1))
        last = level_number(match.group(2) or match.group(1))
    except ValueError:
        return None
    return (first, last) if first <= last else None


def number(value: Any) -> int | float:
    """Keep ints as ints (written as integer DS, read back as int) and everything else as float."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    return float(value)


class ContentWriter:
    """Builds the groups and evaluations of one SR; collects the 2D line records for the supplement."""

    def __init__(self, case: dict, finder: PlaneFinder, for_uid: str | None) -> None:
        """Take the validated case, the source image planes and the lines' frame of reference UID."""
        self.case, self.finder, self.for_uid = case, finder, for_uid
        self.lines_2d: dict[str, dict[str, dict]] = {}

    def _coordinates(self, points: Any, graphic: str = "POLYLINE") -> tuple[Any, dict | None]:
        """The SCOORD (on one image) or SCOORD3D item for points in LPS mm, and the 2D record."""
        import highdicom as hd

        placed = self.finder.place(points)
        if placed is not None:
            plane, image = placed
            image = np.asarray(image, dtype=np.float32).astype(float)
            frames = [plane.frame] if plane.frame is not None else None
            item = hd.sr.CoordinatesForMeasurement(
                graphic_type=getattr(hd.sr.GraphicTypeValues, graphic), graphic_data=image,
                source_image=hd.sr.SourceImageForRegion(plane.sop_class_uid, plane.sop_instance_uid, frames),
            )
            return item, {"scoord": image.reshape(-1).tolist(), "plane": plane.geometry()}
        if not self.for_uid:
            from .sr_sources import SRError

            raise SRError("source images: no FrameOfReferenceUID, so a line that lies on no single image cannot be placed")
        item = hd.sr.CoordinatesForMeasurement3D(
            graphic_type=getattr(hd.sr.GraphicTypeValues3D, graphic),
            graphic_data=np.asarray(points, dtype=float).reshape(-1, 3), frame_of_reference_uid=self.for_uid,
        )
        return item, None

    def _length(self, lesion_id: str, lines: dict, key: str, value: Any) -> tuple[Any, bool]:
        """One Length NUM (mm) for a line key: the size value (or the line's own length), with its
        coordinates; returns (measurement, has_coordinates)."""
        import highdicom as hd

        points = lines.get(key)
        coordinates, name = None, sr_codes.LENGTH_3D
        if points is not None:
            item, record = self._coordinates(points)
            coordinates = [item]
            if record is not None:
                self.lines_2d.setdefault(lesion_id, {})[key] = record
                name = sr_codes.LENGTH
            if value is None:
                value = float(np.linalg.norm(np.subtract(points[1], points[0])))
        if value is None:
            return None, False
        return hd.sr.Measurement(name=name, value=number(value), unit=sr_codes.UNIT_MM,
                                 referenced_coordinates=coordinates), coordinates is not None

    def groups(self) -> list:
        """Every TID 1501 group of the report, in document order."""
        groups: list = []
        for lesion in self.case["lesions"]:
            groups += self._lesion_groups(lesion)
        return groups or [_no_lesion_group(self.case["case_id"])]

    def _lesion_groups(self, lesion: dict) -> list:
        import highdicom as hd

        lesion_id, case_id = lesion["id"], self.case["case_id"]
        sizes = lesion.get("size_mm") or {}
        lines = lesion.get("lines_lps") or {}
        sites = _finding_sites(lesion.get("levels"))
        si, si_drawn = self._length(lesion_id, lines, "si", sizes.get("si"))
        measurements = [si] if si is not None else []
        for field, (name, unit) in sr_codes.SEGMENT_MEASUREMENTS.items():
            if lesion.get(field) is not None:
                measurements.append(hd.sr.Measurement(name=name, value=number(lesion[field]), unit=unit))
        evaluations = [hd.sr.QualitativeEvaluation(name=name, value=table[lesion[field]])
                       for field, (name, table) in sr_codes.LESION_EVALUATIONS.items()
                       if lesion.get(field) is not None]
        groups = [_group(case_id, lesion_id, "", si_drawn, sr_codes.FINDING_TYPE, sites, measurements, evaluations)]
        for key, label in sr_codes.LINE_LABELS.items():
            value = sizes.get(key) if key in SIZE_AXES else None
            if key == "si" or (value is None and key not in lines):
                continue
            length, drawn = self._length(lesion_id, lines, key, value)
            if length is None:
                continue
            finding = sr_codes.EDEMA if key == "edema_si" else sr_codes.FINDING_TYPE
            groups.append(_group(case_id, lesion_id, label, drawn, finding,
                                 _finding_sites(None) if key == "edema_si" else sites, [length], []))
        return groups

    def landmark_items(self) -> list:
        """The level landmarks as CODE items (vertebra, disc or conus) INFERRED FROM a POINT."""
        import highdicom as hd

        items = []
        for landmark in (self.case.get("levels") or {}).get("landmarks") or []:
            code = landmark_code(landmark["label"])
            if code is None:
                continue  # a label with no code (e.g. "C1/C2") stays in the supplement only
            item = hd.sr.CodeContentItem(name=sr_codes.LANDMARK, value=code, relationship_type="CONTAINS")
            coordinates, _record = self._coordinates([landmark["position_lps"]], graphic="POINT")
            item.ContentSequence = hd.sr.ContentSequence([coordinates])
            items.append(item)
        return items


def landmark_code(label: str) -> Any:
    """Take a landmark label ("T4", "T4/T5", "conus"); return its code, or None when it has none."""
    try:
        u = landmark_coordinate(label)
    except ValueError:
        return None
    if u is None:
        return sr_codes.CONUS_TIP
    if float(u).is_integer():
        return sr_codes.VERTEBRA_CODES.get(int(u))
    return sr_codes.DISC_CODES.get(int(u))


def group_identifier(lesion_id: str, label: str, drawn: bool) -> str:
    """The tracking identifier text of a group: "L1" / "L1 AP", prefixed for OHIF when it has a line."""
    text = f"{lesion_id} {label}".strip()
    return f"{sr_codes.OHIF_LENGTH_TRACKING}:{text}" if drawn else text


def _group(case_id: str, lesion_id: str, label: str, drawn: bool, finding: Any, sites: list,
           measurements: list, evaluations: list) -> Any:
    import highdicom as hd

    key = lesion_id if not label else f"{lesion_id}/{label}"
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=tracking_uid(case_id, key),
                                                     identifier=group_identifier(lesion_id, label, drawn)),
        finding_type=finding, finding_sites=sites, measurements=measurements or None,
        qualitative_evaluations=evaluations or None,
    )


def _no_lesion_group(case_id: str) -> Any:
    import highdicom as hd

    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=tracking_uid(case_id, NO_LESION_IDENTIFIER),
                                                     identifier=NO_LESION_IDENTIFIER),
        finding_type=sr_codes.FINDING_TYPE, finding_sites=_finding_sites(None),
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(name=sr_codes.PRESENCE, value=sr_codes.ABSENT)],
    )


def _finding_sites(levels: Any) -> list:
    """Spinal cord, with one topographical modifier per vertebra the levels text spans."""
    import highdicom as hd

    spanned = levels_range(levels)
    vertebrae = [sr_codes.VERTEBRA_CODES[n] for n in range(spanned[0], spanned[1] + 1)] if spanned else []
    site = hd.sr.FindingSite(sr_codes.SITE_SPINAL_CORD, topographical_modifier=vertebrae[0] if vertebrae else None)
    for vertebra in vertebrae[1:]:
        site.ContentSequence.append(hd.sr.CodeContentItem(
            name=sr_codes.TOPOGRAPHICAL_MODIFIER, value=vertebra, relationship_type="HAS CONCEPT MOD"))
    return [site]


def qualitative_container(case: dict, landmark_items: list) -> Any:
    """The report-level "Qualitative Evaluations" container: patient findings and landmarks."""
    import highdicom as hd

    container = hd.sr.ContainerContentItem(name=sr_codes.QUALITATIVE_EVALUATIONS, relationship_type="CONTAINS")
    items = []
    findings = case.get("patient_findings") or {}
    for field, (name, table) in sr_codes.PATIENT_EVALUATIONS.items():
        if findings.get(field) is not None:
            items.append(hd.sr.CodeContentItem(name=name, value=table[findings[field]], relationship_type="CONTAINS"))
    for site in findings.get("leptomeningeal_sites") or []:
        items.append(hd.sr.CodeContentItem(name=sr_codes.LEPTOMENINGEAL_SITE,
                                           value=sr_codes.LEPTOMENINGEAL_SITE_VALUES[site], relationship_type="CONTAINS"))
    container.ContentSequence = hd.sr.ContentSequence(items + landmark_items)
    return container


def supplement_case(case: dict) -> dict:
    """The case with every value that the coded content carries replaced by CODED."""
    import copy

    rest = copy.deepcopy(case)
    for lesion in rest["lesions"]:
        canonical = levels_range(lesion.get("levels"))
        if canonical and levels_spanned_text(*canonical) == lesion["levels"]:
            lesion["levels"] = CODED
        for field in list(sr_codes.LESION_EVALUATIONS) + list(sr_codes.SEGMENT_MEASUREMENTS):
            if lesion.get(field) is not None:
                lesion[field] = CODED
        sizes = lesion.get("size_mm")
        if isinstance(sizes, dict):
            for axis, value in sizes.items():
                if value is not None:
                    sizes[axis] = CODED
        # lines_lps stays: the exact float64 points (SCOORD holds float32 pixels, SCOORD3D float32 mm)
    findings = rest.get("patient_findings")
    if isinstance(findings, dict):
        for field in sr_codes.PATIENT_EVALUATIONS:
            if findings.get(field) is not None:
                findings[field] = CODED
        if findings.get("leptomeningeal_sites"):
            findings["leptomeningeal_sites"] = CODED
    return rest
