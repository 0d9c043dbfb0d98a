"""The records of automatic levels: the error, a proposed point, the proposal, and the two internal
records passed between the steps (the resampled sagittal grid and a detected chain of discs)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import settings as cfg


class AutoLevelsError(ValueError):
    """Bad input to automatic levels (unusable volume, malformed anchor or labels)."""


@dataclass
class ProposedLandmark:
    """One proposed point: ``label`` ("T4/T5" disc or "T5" body), ``position_ras`` (3,) mm,
    ``confidence`` 0..1 (position and name together), ``kind`` "disc" | "body", and for discs
    ``normal_ras``: the unit normal (3,) of the disc plane measured in the image (in the sagittal
    plane, pointing superior), or None where it was not measured clearly."""

    label: str
    position_ras: np.ndarray
    confidence: float
    kind: str
    normal_ras: np.ndarray | None = None   # discs: unit normal of the disc plane (RAS), pointing superior

    @property
    def description(self) -> str:
        """Return the text stored in the point's description: kind and confidence."""
        return f"auto {self.kind}, confidence {self.confidence:.2f}"


@dataclass
class LevelProposal:
    """The result of ``propose_levels``: ``points`` cranial to caudal (discs and bodies interleaved),
    ``naming_confident`` (names follow from an anchor or a found anatomical landmark and agree with
    the spacing prior), ``messages`` for the reader, ``spine_found``, the chosen ``contrast`` ("t2":
    CSF and discs bright, "t1": dark), ``contrast_sure`` (False: the image fits both, the reader should
    say which with ``contrast=``), and ``confirm``: when the names are not sure, the label of the
    proposed disc the reader should check (e.g. "L5/S1")."""

    points: list[ProposedLandmark]
    naming_confident: bool
    messages: list[str] = field(default_factory=list)
    spine_found: bool = True
    contrast: str = ""
    contrast_sure: bool = True
    confirm: str = ""          # when the names are not sure: the level the reader should confirm

    @property
    def labels(self) -> list[str]:
        """Return the point labels, cranial first."""
        return [p.label for p in self.points]

    @property
    def positions_ras(self) -> np.ndarray:
        """Return the point positions, shape (N, 3) RAS mm."""
        return np.array([p.position_ras for p in self.points], dtype=float).reshape(-1, 3)

    def discs(self) -> list[ProposedLandmark]:
        """Return the disc points only, cranial first."""
        return [p for p in self.points if p.kind == "disc"]


@dataclass
class Grid:
    image: np.ndarray          # (rows S->I, cols A->P), NaN outside the volume
    z0: float                  # RAS z of row 0
    y0: float                  # RAS y of column 0
    x: float                   # RAS x of the slab centre

    def to_ras(self, row: np.ndarray, col: np.ndarray, x: np.ndarray | float | None = None) -> np.ndarray:
        """Return RAS points (N, 3) of fractional (row, col) positions."""
        row, col = np.atleast_1d(row), np.atleast_1d(col)
        xs = np.full(row.shape, self.x) if x is None else np.broadcast_to(x, row.shape)
        return np.stack([xs, self.y0 - col * cfg.STEP_MM, self.z0 - row * cfg.STEP_MM], axis=1)


@dataclass
class Chain:
    polarity: int
    s: np.ndarray              # disc positions along the straightened canal (mm)
    t: np.ndarray              # disc AP offset anterior of the canal (mm)
    strength: np.ndarray       # prominence / noise of each disc
    interpolated: np.ndarray   # bool: inserted across a gap, not seen
    score: float
    frame: dict                # straightening geometry
    s_valid: tuple[float, float]
    weak_peaks: np.ndarray     # s of all weaker peaks (for the end cues)
    weak_strength: np.ndarray
    messages: list[str]
    csf_ratio: float           # canal / column median intensity (> 1 on T2, < 1 on T1)
