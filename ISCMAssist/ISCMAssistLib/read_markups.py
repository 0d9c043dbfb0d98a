"""A read made from Slicer .mrk.json files, without Slicer: level points and lesion lines -> case.

Used by ``iscm-assist session read`` (and the web panel) so a research session can be read with any
tool that writes markups. A point list with two or more labelled points ("T4", "T4/T5", "conus") is
the levels; a Line named "Lesion <n> <line>" is line <line> of lesion L<n>, where <line> is SI, AP,
transverse or "edema SI" (Slicer's names; "si", "edema_si" as the demo writes them work too).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import numpy as np

from .case import LINE_NAMES, new_lesion
from .coords import ras_to_lps
from .levels import LevelModel
from .markups_io import MarkupsFileError, read_markups
from .read import compute_read, levels_record

_LESION_LINE = re.compile(r"^\s*lesion\s*(\d+)[\s_-]+(.+?)\s*$", re.IGNORECASE)


def _line_name(title: str) -> str | None:
    name = re.sub(r"[\s-]+", "_", title.strip().lower())
    return name if name in LINE_NAMES else None


def apply_markups(case: dict, paths: Sequence[str | os.PathLike]) -> list[str]:
    """Take a case dict and .mrk.json paths; put their level points and lesion lines into the case
    (lines in LPS mm; lesions created as needed, existing reader values kept), recompute the read
    in place and return its warnings. Raises MarkupsFileError naming the file for a markup it cannot
    place (an unnamed line, two level lists, no markups at all)."""
    model = None
    lesions = {lesion["id"]: lesion for lesion in case.setdefault("lesions", [])}
    for path in paths:
        for node in read_markups(path):
            match = _LESION_LINE.match(node.name) if node.type == "Line" else None
            if match:
                name = _line_name(match.group(2))
                if name is None:
                    raise MarkupsFileError(f"{path}: line {node.name!r}: {match.group(2)!r} is not one of "
                                           f"SI, AP, transverse, edema SI")
                lesion_id = f"L{int(match.group(1))}"
                if lesion_id not in lesions:
                    lesions[lesion_id] = new_lesion(lesion_id)
                    case["lesions"].append(lesions[lesion_id])
                lesion = lesions[lesion_id]
                lesion.setdefault("lines_lps", {})[name] = np.round(ras_to_lps(node.points_ras), 3).tolist()
            elif node.type in ("Fiducial", "PointList") and len(node.labels) >= 2:
                if model is not None:
                    raise MarkupsFileError(f"{path}: a second level point list ({node.name!r}); give one")
                model = LevelModel.from_landmarks(list(node.labels), node.points_ras)
            else:
                raise MarkupsFileError(f"{path}: markup {node.name!r} ({node.type}) is neither a level point "
                                       f"list nor a line named 'Lesion <n> SI/AP/transverse/edema SI'")
    if model is None and (case.get("levels") or {}).get("landmarks"):
        from .coords import lps_to_ras

        marks = case["levels"]["landmarks"]
        model = LevelModel.from_landmarks([m["label"] for m in marks],
                                          lps_to_ras(np.array([m["position_lps"] for m in marks], dtype=float)))
    elif model is not None:
        case["levels"] = levels_record(model, source="landmarks")
    warnings: list[str] = []
    compute_read(case, model, warnings=warnings)
    return warnings
