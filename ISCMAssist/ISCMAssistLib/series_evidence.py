"""Evidence about a series beyond its weighting: what it can never be read as, and whether contrast came between two.

``not_for_a_role`` names the series that are never proposed for a reading role (field maps,
localizers are flagged elsewhere, EPI / diffusion, MIPs, derived and secondary images) from their
headers. ``vessel_enhancement`` compares two T1 images of the same plane and grid: a later image
brighter than the earlier one in a small set of voxels (vessels, enhancing tissue) while the rest
stays alike is evidence that contrast was given in between.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

_FIELD_MAP_WORDS = re.compile(r"(FIELD[-_ ]?MAP|FIELDMAP|\bB0[-_ ]?MAP|\bFMAP\b|\bB0\b)", re.I)
_EPI_WORDS = re.compile(r"(\bEPI\b|\bBOLD\b|\bFMRI\b|\bRESTING|\bDWI|\bDTI\b|\bDIFF|\bADC\b|\bTRACE\b|\bEP2D|\bRESOLVE\b)", re.I)
_MIP_WORDS = re.compile(r"(\bMIP\b|MAXIMUM INTENSITY|\bMINIP\b)", re.I)
_EPI_IMAGE_TYPES = {"FMRI", "DIFFUSION", "ADC", "TRACEW", "FA", "EXP", "MOSAIC", "DIFFUSION_WEIGHTED"}
_FIELD_MAP_IMAGE_TYPES = {"FIELD_MAP", "FIELDMAP", "B0", "B0_MAP", "B0MAP", "PHASE_MAP", "B1", "B1_MAP"}
_MIP_IMAGE_TYPES = {"MIP", "MAXIMUM", "MINIP", "PROJECTION IMAGE", "PROJECTION_IMAGE"}
_SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"

#: A voxel counts as enhanced when, in units of each image's tissue median, the later image is at
#: least this much brighter than the earlier one and bright itself (above ENHANCED_LEVEL).
ENHANCEMENT_STEP = 0.5
ENHANCED_LEVEL = 1.5
#: Enhanced voxels needed (fraction of tissue), and how many times more than the voxels that darkened.
MIN_ENHANCED_FRACTION = 0.002
MIN_ASYMMETRY = 3.0


def dicom_text(value: Any) -> str:
    """Return a DICOM element value as text: "" for None, several values joined by a backslash."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def not_for_a_role(header: Any, words: str) -> str:
    """Take a series' first header (pydicom Dataset) and its description words; return why it is never
    proposed for a reading role ("field map (SequenceName fm2d2)", "EPI / diffusion (...)", "MIP (...)",
    "derived image (...)", "secondary capture"), or "" when it may be."""
    image_type = [t.strip().upper() for t in dicom_text(header.get("ImageType", "")).split("\\")]
    sequence_name = dicom_text(header.get("SequenceName", "") or header.get("PulseSequenceName", "")).strip()
    scanning = dicom_text(header.get("ScanningSequence", "")).upper().split("\\")
    sop_class = dicom_text(header.get("SOPClassUID", ""))
    name = sequence_name.lstrip("*").lower()
    if name.startswith("fm") or _FIELD_MAP_IMAGE_TYPES & set(image_type) or _FIELD_MAP_WORDS.search(words):
        why = f"SequenceName {sequence_name}" if name.startswith("fm") else f"description {words!r}"
        if _FIELD_MAP_IMAGE_TYPES & set(image_type):
            why = f"ImageType {'/'.join(image_type)}"
        return f"field map ({why})"
    epi_evidence = [
        "ScanningSequence EP" if "EP" in scanning else "",
        f"SequenceName {sequence_name}" if name.startswith("ep") else "",
        "EchoPlanarPulseSequence YES" if dicom_text(header.get("EchoPlanarPulseSequence", "")).upper() == "YES" else "",
        f"ImageType {'/'.join(image_type)}" if _EPI_IMAGE_TYPES & set(image_type) else "",
        "DiffusionBValue set" if header.get("DiffusionBValue") not in (None, "") else "",
        f"description {words!r}" if _EPI_WORDS.search(words) else "",
    ]
    if any(epi_evidence):
        return f"EPI / diffusion ({', '.join(e for e in epi_evidence if e)})"
    if _MIP_IMAGE_TYPES & set(image_type) or _MIP_WORDS.search(words):
        return "MIP (maximum intensity projection)"
    if sop_class.startswith(_SECONDARY_CAPTURE):
        return "secondary capture"
    if image_type and image_type[0] == "DERIVED":
        return f"derived image (ImageType {'/'.join(image_type)})"
    if len(image_type) > 1 and image_type[1] == "SECONDARY":
        return f"secondary image (ImageType {'/'.join(image_type)})"
    return ""


def _normalised(array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (the array in units of its tissue median, the tissue mask: voxels above the array's mean)."""
    values = np.asarray(array, dtype=np.float32)
    tissue = values > float(values.mean())
    median = float(np.median(values[tissue])) if tissue.any() else 0.0
    return (values / median if median > 0 else np.zeros_like(values)), tissue


def vessel_enhancement(earlier: np.ndarray, later: np.ndarray) -> tuple[bool | None, str]:
    """Compare two images of one grid (same shape, voxel for voxel); return (True, why) when the later
    is brighter in few voxels (vessels, enhancing tissue) and alike elsewhere, else (None, why unsure).

    Intensities are compared in units of each image's tissue median, so a change of scanner scaling
    does not count. Motion between the two brightens and darkens alike, so it does not count either.
    """
    if earlier.shape != later.shape:
        return None, "the two T1 series have different grids: no voxel-wise comparison"
    before, tissue_before = _normalised(earlier)
    after, tissue_after = _normalised(later)
    tissue = tissue_before | tissue_after
    count = int(tissue.sum())
    if count == 0:
        return None, "blank images: no comparison"
    change = after - before
    brighter = float(np.count_nonzero((change > ENHANCEMENT_STEP) & (after > ENHANCED_LEVEL) & tissue)) / count
    darker = float(np.count_nonzero((change < -ENHANCEMENT_STEP) & (before > ENHANCED_LEVEL) & tissue)) / count
    figures = f"{brighter:.2%} of tissue brighter, {darker:.2%} darker"
    if brighter >= MIN_ENHANCED_FRACTION and brighter > MIN_ASYMMETRY * darker:
        return True, f"the later T1 is brighter in the vessels than the earlier one ({figures})"
    return None, f"no enhancement between the two T1 series seen ({figures}): unsure which, if any, is post-contrast"
