"""Vertebral level names and the continuous level coordinate along the spine.

Levels are numbered as in the Spinal Cord Toolbox / PAM50 label maps: 1 = C1 ... 7 = C7,
8 = T1 ... 19 = T12, 20 = L1 ... 24 = L5, 25 = S1. The *level coordinate* u is a real number along
the spine that grows caudally: the centre of vertebral body n lies at u = n, the disc between
bodies n and n + 1 at u = n + 0.5, so body n spans [n - 0.5, n + 0.5].
"""

from __future__ import annotations

import re

LEVEL_NAMES: tuple[str, ...] = (
    tuple(f"C{i}" for i in range(1, 8))
    + tuple(f"T{i}" for i in range(1, 13))
    + tuple(f"L{i}" for i in range(1, 6))
    + ("S1",)
)
_NUMBER_BY_NAME = {name: number for number, name in enumerate(LEVEL_NAMES, start=1)}
CONUS_LABEL = "conus"

_DISC_RE = re.compile(r"^\s*([CTLS]\d{1,2})\s*[/-]\s*([CTLS]\d{1,2})\s*$", re.IGNORECASE)


class LevelLabelError(ValueError):
    """A landmark label that names no vertebra, disc or the conus."""


def level_number(name: str) -> int:
    """Take a vertebra name ("C1" ... "S1", any case); return its number (1 = C1 ... 25 = S1)."""
    try:
        return _NUMBER_BY_NAME[name.strip().upper()]
    except KeyError:
        raise LevelLabelError(f"'{name}' is not a vertebra name (C1-C7, T1-T12, L1-L5, S1)") from None


def level_name(number: int) -> str:
    """Take a level number (1 = C1 ... 25 = S1); return its name."""
    if not 1 <= int(number) <= len(LEVEL_NAMES):
        raise LevelLabelError(f"level number {number} is outside 1 (C1) to {len(LEVEL_NAMES)} (S1)")
    return LEVEL_NAMES[int(number) - 1]


def disc_name(upper_number: int) -> str:
    """Take the number of the vertebra above a disc; return the disc name, e.g. 11 -> "T4/T5"."""
    return f"{level_name(upper_number)}/{level_name(upper_number + 1)}"


def landmark_coordinate(label: str) -> float | None:
    """Take a landmark label; return its level coordinate u, or None for the conus landmark.

    "T4" (vertebral body centre) -> 11.0; "T4/T5" or "T4-T5" (disc) -> 11.5; "conus" -> None.
    Raises LevelLabelError for anything else, including discs between non-adjacent vertebrae.
    """
    text = label.strip()
    if text.lower() == CONUS_LABEL:
        return None
    match = _DISC_RE.match(text)
    if match:
        upper, lower = (level_number(part) for part in match.groups())
        if lower != upper + 1:
            raise LevelLabelError(f"'{label}' is not a disc between adjacent vertebrae")
        return upper + 0.5
    return float(level_number(text))


def levels_spanned_text(first: int, last: int) -> str:
    """Take the first and last level numbers an extent counts; return "T4" or "T4-T5"."""
    return level_name(first) if first == last else f"{level_name(first)}-{level_name(last)}"
