"""The read: from the reader's markups and the vertebral levels to every derivable checklist value.

``compute_read`` is the hot path that runs after every control-point move, so it touches only the
few points of each lesion's lines (masks are measured once, by the caller, with
``measurements.mask_measurements``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from .case import set_derived_value
from .coords import lps_to_ras, ras_to_lps
from .levels import OVERLAP_TOLERANCE, LevelModel, LevelModelError, conus_region
from .measurements import EXTRAPOLATION_WARNING_SEGMENTS, MaskMeasurements, line_length_mm

#: Lines a lesion may carry in ``lines_lps``: the enhancing lesion's three diameters and the edema.
LESION_LINES = ("si", "ap", "transverse")
EDEMA_LINE = "edema_si"


@dataclass(frozen=True)
class LesionMasks:
    """Measurements of one lesion's segmentations (either may be None)."""

    lesion: MaskMeasurements | None = None
    edema: MaskMeasurements | None = None


#: line name ("si", "ap", "transverse", "edema_si") and its two RAS mm points -> why it must not be
#: measured (e.g. it crosses a slice gap of its series), or None when it may be.
LineCheck = Callable[[str, np.ndarray], "str | None"]


def compute_read(
    case: dict,
    model: LevelModel | None,
    masks: dict[str, LesionMasks] | None = None,
    warnings: list[str] | None = None,
    line_check: LineCheck | None = None,
) -> dict:
    """Fill every derivable field of ``case`` in place and return it.

    Takes the case dict (docs/core-api.md; lines in ``lesions[*].lines_lps``, LPS mm), the level
    model (None: no levels placed, so no segment counts or location), optional mask measurements per
    lesion id, and an optional list that collects warnings for the reader (e.g. a lesion far outside
    the placed levels). Writes sizes (mm), levels spanned, location, enhancement and T2 lengths
    (vertebral segments), their ratio, and the patient's multiplicity; a field the reader set
    (provenance "reader") is never overwritten. ``line_check`` may refuse a line (e.g. one that
    crosses a slice gap of its series): a refused line is not measured and the reason is a warning.
    """
    masks = masks or {}
    for lesion in case.get("lesions", []):
        _derive_lesion(lesion, model, masks.get(lesion["id"], LesionMasks()), warnings, line_check)
    findings = case.setdefault("patient_findings", {})
    lesion_count = len(case.get("lesions", []))
    set_derived_value(findings, "multiplicity", None if lesion_count == 0 else
                      "solitary" if lesion_count == 1 else "multiple")
    return case


def _derive_lesion(lesion: dict, model: LevelModel | None, masks: LesionMasks,
                   warnings: list[str] | None, line_check: LineCheck | None) -> None:
    lines = {name: lps_to_ras(points) for name, points in (lesion.get("lines_lps") or {}).items()
             if points is not None}
    if line_check is not None:
        for name in list(lines):
            reason = line_check(name, lines[name])
            if reason:
                del lines[name]
                if warnings is not None:
                    warnings.append(f"lesion {lesion['id']} {name} line not measured: {reason}")

    sizes = {axis: None for axis in LESION_LINES}
    if masks.lesion is not None:
        sizes.update(si=masks.lesion.si_mm, ap=masks.lesion.ap_mm, transverse=masks.lesion.transverse_mm)
    for axis in LESION_LINES:
        if axis in lines:  # a line the reader drew wins over the mask's estimate
            sizes[axis] = round(line_length_mm(*lines[axis]), 1)
    if any(value is not None for value in sizes.values()):
        set_derived_value(lesion, "size_mm", {axis: _rounded(sizes[axis]) for axis in LESION_LINES})
    else:
        _clear_derived(lesion, "size_mm")

    lesion_span = edema_span = None
    if model is not None:
        lesion_extent = _extent(model, [lines[name] for name in LESION_LINES if name in lines], masks.lesion)
        edema_extent = _extent(model, [lines[EDEMA_LINE]] if EDEMA_LINE in lines else [], masks.edema)
        if lesion_extent is not None:
            lesion_span = _count(model, lesion_extent, f"lesion {lesion['id']}", warnings)
        if edema_extent is not None:
            edema_span = _count(model, edema_extent, f"edema of lesion {lesion['id']}", warnings)
    if lesion_span is not None:
        set_derived_value(lesion, "levels", lesion_span.text)
        set_derived_value(lesion, "location", model.location(*lesion_extent))
        set_derived_value(lesion, "enhancement_length_segments", lesion_span.count)
        if warnings is not None:
            warnings.extend(location_warnings(model, lesion_extent, lesion["id"]))
    else:  # no levels, or the lines were deleted: a derived value without its source goes
        for name in ("levels", "location", "enhancement_length_segments"):
            _clear_derived(lesion, name)
    if edema_span is not None:
        set_derived_value(lesion, "t2_length_segments", edema_span.count)
    else:
        _clear_derived(lesion, "t2_length_segments")
    edema_mm = (line_length_mm(*lines[EDEMA_LINE]) if EDEMA_LINE in lines
                else masks.edema.si_mm if masks.edema is not None else None)
    if edema_mm is not None:
        set_derived_value(lesion, "t2_length_mm", _rounded(edema_mm))
    else:
        _clear_derived(lesion, "t2_length_mm")
    # The ratios use the values in force, so a reader's corrected count or size feeds them.
    _set_ratio(lesion, "t2_to_enhancement_ratio", lesion.get("t2_length_segments"),
               lesion.get("enhancement_length_segments"))
    _set_ratio(lesion, "t2_to_enhancement_ratio_mm", lesion.get("t2_length_mm"),
               (lesion.get("size_mm") or {}).get("si"))


def _set_ratio(lesion: dict, name: str, numerator: float | None, denominator: float | None) -> None:
    """Derive ``name`` = numerator / denominator (2 decimals) when both are positive, else clear it."""
    if numerator and denominator:
        set_derived_value(lesion, name, round(numerator / denominator, 2))
    else:
        _clear_derived(lesion, name)


def location_warnings(model: LevelModel, extent: tuple[float, float], lesion_id: str) -> list[str]:
    """Take the level model, a lesion's enhancing extent (u_min, u_max) and its id; return warnings
    where its location category misleads: wholly below the conus tip (cauda equina, which the
    reference study excluded) or spanning cervical, thoracic and conus cord (no holocord category)."""
    lo, hi = sorted(extent)
    conus_start, tip = conus_region(model.conus_u)
    out = []
    if tip - lo < OVERLAP_TOLERANCE:
        if model.conus_u is not None:
            out.append(f"lesion {lesion_id} lies entirely below the placed conus tip: that is the cauda equina, "
                       "which the reference study excluded (no lesion exclusive to the cauda equina was counted); "
                       "the location 'conus' and the study's numbers do not apply to it")
        else:
            out.append(f"lesion {lesion_id} lies entirely below the L1/L2 disc, where the conus tip is assumed "
                       "without a conus landmark: if it is in the cauda equina, which the reference study "
                       "excluded, its location 'conus' does not apply; place the conus tip")
    if model.location(lo, hi) == "cervicothoracic" and hi - max(lo, conus_start) > OVERLAP_TOLERANCE:
        out.append(f"lesion {lesion_id} spans cervical, thoracic and conus cord: recorded as 'cervicothoracic' "
                   "because the reference study has no category for it (no holocord category); check the location")
    return out


def _clear_derived(record: dict, name: str) -> None:
    """Set a field back to null when the tool had derived it (a reader's value stays)."""
    if record.get("provenance", {}).get(name) == "derived":
        set_derived_value(record, name, None)


def _extent(model: LevelModel, point_sets: Iterable[np.ndarray],
            mask: MaskMeasurements | None) -> tuple[float, float] | None:
    """Level-coordinate interval covered by the given RAS point sets and mask, or None if empty."""
    point_sets = list(point_sets)
    bounds: list[float] = []
    if point_sets:
        u = np.atleast_1d(model.coordinate(np.vstack(point_sets)))
        bounds += [float(u.min()), float(u.max())]
    if mask is not None and mask.u_min is not None:
        bounds += [mask.u_min, mask.u_max]
    return (min(bounds), max(bounds)) if bounds else None


def _count(model: LevelModel, extent: tuple[float, float], what: str, warnings: list[str] | None):
    """Segment count of an extent, or None (with a warning) when it lies outside the vertebrae C1-S1."""
    try:
        span = model.count_segments(*extent)
    except LevelModelError as error:
        if warnings is not None:
            warnings.append(f"{what}: not counted: {error}")
        return None
    known = model.u_range
    if warnings is not None and (extent[0] < known[0] - EXTRAPOLATION_WARNING_SEGMENTS
                                 or extent[1] > known[1] + EXTRAPOLATION_WARNING_SEGMENTS):
        warnings.append(
            f"{what} lies more than {EXTRAPOLATION_WARNING_SEGMENTS:g} segments beyond the placed "
            "vertebral levels: its level count is extrapolated; place a level landmark near it")
    return span


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


def levels_record(model: LevelModel, source: str) -> dict:
    """Take a LevelModel and how its landmarks were made ("landmarks" | "label_map" | "automatic");
    return the case JSON ``levels`` record (landmark labels and positions in LPS mm)."""
    return {"landmarks": [{"label": label, "position_lps": [round(float(v), 3) for v in ras_to_lps(point)]}
                          for label, point in model.landmarks],
            "source": source}


def model_from_record(levels: dict | None) -> LevelModel | None:
    """Take a case JSON ``levels`` record (landmarks in LPS mm); return its LevelModel, or None when it
    holds fewer than two level landmarks. Raises LevelModelError for landmarks that define no levels."""
    landmarks = (levels or {}).get("landmarks") or []
    if sum(1 for item in landmarks if item.get("label", "").strip().lower() != "conus") < 2:
        return None
    return LevelModel.from_landmarks([item["label"] for item in landmarks],
                                     lps_to_ras([item["position_lps"] for item in landmarks]))


def read_warnings(case: dict) -> list[str]:
    """Take a saved case; return the warnings its read gives from its lines and level landmarks
    (e.g. a lesion below the conus tip), recomputing on a copy: the case itself is not changed.
    Mask-derived extents are not in a case file, so only lines count here."""
    import copy

    try:
        model = model_from_record(case.get("levels"))
    except LevelModelError as error:
        return [f"levels: {error}"]
    warnings: list[str] = []
    compute_read(copy.deepcopy(case), model, warnings=warnings)
    return warnings
