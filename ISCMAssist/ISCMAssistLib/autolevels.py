"""Automatic vertebral levels: find the intervertebral discs on a sagittal T2/T1 and name them.

No trained weights and nothing downloaded: classical image analysis with numpy/scipy plus a
statistical prior of segment heights per level measured on the PAM50 template.

Pipeline (all distances in mm on a 1 mm resampled mid-sagittal slab, RAS):
1. resample a slab around the spine's lateral position into a sagittal image (rows S->I, cols A->P);
2. follow the spinal canal (a CSF ridge, bright on T2, dark on T1) top to bottom with dynamic
   programming, choosing the ridge that has periodic disc-like bands in front of it;
3. straighten the image along the canal, follow the vertebral column in front of it and take the
   profile of intensity *changes* along the spine in a strip 2-18 mm in front of the canal's
   anterior wall (the bodies' back halves, where small cervical discs show too): disc faces and
   endplates make its peaks, whether the discs are brighter or darker than the bodies;
4. keep the regular chain of peaks (dynamic programming, spacing measured along the column), then
   extend it cranially with fainter peaks that keep its rhythm; name it from an anchor, or from
   anatomy (no disc above the dens at the top, the fused sacrum at the bottom) weighed with the
   fit of its spacings to the prior.
A volume sampled coarser than 5 mm along S-I (an axial stack) gives "no spine found".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage, signal

from .vertebrae import LevelLabelError, disc_name, landmark_coordinate, level_name

from .progress import ProgressCallback

#: Height (mm) of segment n (vertebral body n + one disc: distance between the discs above and
#: below vertebra n), measured on PAM50 by benchmarks/measure_disc_prior.py (2 mm voxels, C2..T11).
PAM50_SEGMENT_MM: dict[int, float] = {
    2: 16.0, 3: 18.0, 4: 18.0, 5: 16.0, 6: 16.0, 7: 18.0, 8: 22.0, 9: 22.0, 10: 24.0, 11: 24.0,
    12: 24.0, 13: 26.0, 14: 28.0, 15: 26.0, 16: 28.0, 17: 28.0, 18: 32.0,
}
#: T12..L5 are outside the PAM50_small field of view; typical adult values (body 24-28 mm + disc
#: 7-11 mm), not measured here.
TYPICAL_LOWER_SEGMENT_MM: dict[int, float] = {19: 33.0, 20: 35.0, 21: 37.0, 22: 38.0, 23: 38.0, 24: 37.0}
SEGMENT_PRIOR_MM: dict[int, float] = {**PAM50_SEGMENT_MM, **TYPICAL_LOWER_SEGMENT_MM}

_LATERAL_OFFSETS_MM = (0.0, -10.0, 10.0, -20.0, 20.0)  # slab positions tried, mm right of the middle
_STEP_MM = 1.0            # resampling step of the working sagittal image
_SLAB_HALF_MM = 4.0       # half thickness of the mid-sagittal slab averaged across R-L
_SYMMETRY_SEARCH_MM = 15.0  # the mid-sagittal plane is looked for this far either side of the slab
_SYMMETRY_REACH_MM = 8.0    # mirror pairs 1..8 mm from a candidate plane, all inside the volume
_SYMMETRY_BOX_MM = 30.0     # around each disc: +-30 mm A-P, +-7.5 mm S-I
_T_RANGE_MM = (-8.0, 55.0)  # straightened frame: posterior (-) to anterior (+) of the canal
_MAX_SI_STEP_MM = 5.0     # coarser sampling along the spine does not resolve discs (4-10 mm high)
_MIN_SEEN_DISCS = 4
_MIN_SEEN_DISCS_BESIDE = 6  # ... for a slab beside the middle of the series
_MIN_SCORE_BESIDE = 3.0
_MIN_SCORE = 2.0          # median disc prominence / profile noise below which no spine is reported
_SPACING_LOG_SD = 0.12    # spread of log(observed / prior segment height) within one spine
_SCALE_LOG_SD = 0.20      # spread of patient size relative to the prior
_T2_CSF_RATIO = 1.25      # canal / column brightness above which the image is read as T2
_EDGE_S_SIGMA = 3.0       # smoothing (mm) along the spine of the edge energy
_BAND_T_SIGMA = 5.0       # smoothing (mm) across the column of the edge filter (discs are wide)
_PROFILE_T_SIGMA = 2.0    # ... of the edge filter whose strip average is the disc profile
_COLUMN_MIN_T_MM = 8.0    # the column path stays at least this far (mm) in front of the canal
_STRIP_FROM_WALL_MM = (2.0, 18.0)   # the disc profile averages the column from 2 to 18 mm in front of the canal's anterior wall
_WALL_SEARCH_MM = (16.0, 2.0)       # the wall is sought 16 to 2 mm behind the column path
_RATIO_RANGE = (0.6, 1.6)   # allowed ratio of consecutive disc spacings in one chain
_EXTEND_TOLERANCE = 0.25  # a peak continues the chain within this fraction of the end step ...
_EXTEND_MIN_FRACTION = 0.3  # ... and at least this fraction of the end discs' strength
_CUE_BONUS = 6.0          # log-likelihood bonus of a hypothesis that agrees with an anatomical cue


class AutoLevelsError(ValueError):
    """Bad input to automatic levels (unusable volume, malformed anchor or labels)."""


@dataclass
class ProposedLandmark:
    """One proposed point: ``label`` ("T4/T5" disc or "T5" body), ``position_ras`` (3,) mm,
    ``confidence`` 0..1 (position and name together), ``kind`` "disc" | "body"."""

    label: str
    position_ras: np.ndarray
    confidence: float
    kind: str

    @property
    def description(self) -> str:
        """Return the text stored in the point's description: kind and confidence."""
        return f"auto {self.kind}, confidence {self.confidence:.2f}"


@dataclass
class LevelProposal:
    """The result of ``propose_levels``: ``points`` cranial to caudal (discs and bodies interleaved),
    ``naming_confident`` (names follow from an anchor or a found anatomical landmark and agree with
    the spacing prior), ``messages`` for the reader, ``spine_found``, and the chosen ``contrast``."""

    points: list[ProposedLandmark]
    naming_confident: bool
    messages: list[str] = field(default_factory=list)
    spine_found: bool = True
    contrast: str = ""

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
class _Grid:
    image: np.ndarray          # (rows S->I, cols A->P), NaN outside the volume
    z0: float                  # RAS z of row 0
    y0: float                  # RAS y of column 0
    x: float                   # RAS x of the slab centre

    def to_ras(self, row: np.ndarray, col: np.ndarray, x: np.ndarray | float | None = None) -> np.ndarray:
        """Return RAS points (N, 3) of fractional (row, col) positions."""
        row, col = np.atleast_1d(row), np.atleast_1d(col)
        xs = np.full(row.shape, self.x) if x is None else np.broadcast_to(x, row.shape)
        return np.stack([xs, self.y0 - col * _STEP_MM, self.z0 - row * _STEP_MM], axis=1)


@dataclass
class _Chain:
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


# ----------------------------------------------------------------------------------------------
# Public API


def propose_levels(
    volume,
    anchor: tuple[str, Sequence[float]] | None = None,
    progress: ProgressCallback | None = None,
    contrast: str = "auto",
) -> LevelProposal:
    """Find and name the intervertebral discs and vertebral body centres on a sagittal spine MRI.

    Takes a volumes.Volume (any orientation; sagittal T2 or T1, NIfTI or DICOM), an optional
    ``anchor`` (label such as "T4" or "T4/T5", RAS mm point the reader named: every other name
    follows from it), ``progress(done, total)`` and ``contrast`` ("t2": discs and CSF bright,
    "t1": both dark, "auto": whichever fits better). Returns a LevelProposal whose points are RAS mm
    with confidences 0..1; with no spine found it has no points, ``spine_found`` False and a
    message saying so. Raises AutoLevelsError for an unusable volume, anchor or contrast.
    """
    total = 5
    report = progress or (lambda done, total: None)
    if contrast not in ("auto", "t2", "t1"):
        raise AutoLevelsError(f"contrast: '{contrast}' is not one of auto, t2, t1")
    anchor_label, anchor_ras = _check_anchor(anchor)
    report(0, total)
    step = _si_step_mm(volume)
    if step > _MAX_SI_STEP_MM:
        report(total, total)
        return LevelProposal([], False, [f"no spine found: the image samples the spine's length every {step:.1f} mm; "
                                         f"discs (4-10 mm high) need {_MAX_SI_STEP_MM:.0f} mm or finer (use a sagittal series)"],
                             spine_found=False, contrast="")
    grid, chain, problem = None, None, "no regular chain of intervertebral discs"
    # The spine is usually in the middle of a sagittal series; if not, look beside it.
    for n, offset in enumerate(_LATERAL_OFFSETS_MM):
        candidate_grid = _sagittal_grid(volume, offset)
        if candidate_grid is None:
            continue
        candidate = _best_chain(candidate_grid, contrast)
        # Beside the middle more evidence is asked for: paraspinal muscle and vessels make bands too.
        candidate_problem = ("no regular chain of intervertebral discs" if candidate is None
                             else _not_a_spine(candidate, strict=bool(offset)))
        if grid is None or not candidate_problem:
            grid, chain, problem = candidate_grid, candidate, candidate_problem
        report(min(1 + n, 3), total)
        if not problem:
            break
    report(3, total)
    if problem or grid is None or chain is None:
        report(total, total)
        return LevelProposal([], False, [f"no spine found: {problem}"], spine_found=False, contrast="")
    messages = list(chain.messages)
    grid.x = _lateral_centre(volume, grid, chain)
    positions = _chain_positions(grid, chain)
    if anchor_label is not None:
        first_number, name_prob, confident = _name_from_anchor(chain, positions, anchor_label, anchor_ras, messages)
    else:
        first_number, name_prob, confident = _name_from_anatomy(chain, messages)
    report(4, total)
    points = _build_points(grid, chain, positions, first_number, name_prob, messages)
    report(total, total)
    return LevelProposal(points, confident, messages, spine_found=True,
                         contrast="t2" if chain.polarity > 0 else "t1")


def _si_step_mm(volume) -> float:
    """Return the sampling step (mm) of ``volume`` along S-I: the S-I extent of one step along the
    voxel axis that points most nearly S-I (7.5 for an axial stack of 7.5 mm slices)."""
    try:
        matrix = np.asarray(volume.ijk_to_ras, dtype=float)[:3, :3]
    except (AttributeError, TypeError, ValueError) as error:
        raise AutoLevelsError(f"volume: not a Volume with array and ijk_to_ras ({error})") from None
    lengths = np.linalg.norm(matrix, axis=0)
    if matrix.shape != (3, 3) or not np.all(np.isfinite(matrix)) or np.any(lengths == 0):
        raise AutoLevelsError(f"{getattr(volume, 'source', '') or 'volume'}: ijk_to_ras is not a valid 4x4 matrix")
    axis = int(np.argmax(np.abs(matrix[2]) / lengths))
    return float(abs(matrix[2, axis]))


def _best_chain(grid: "_Grid", contrast: str) -> "_Chain | None":
    """Return the better of the T2 (bright CSF) and T1 (dark CSF) readings of ``grid``, or None."""
    chains = [] if contrast == "t1" else [_detect_chain(grid, 1)]
    # A clearly bright canal with a disc chain means a T2-like contrast: no need to try the T1 reading.
    t2_clear = (contrast == "auto" and chains[0] is not None and chains[0].csf_ratio >= _T2_CSF_RATIO
                and not _not_a_spine(chains[0]))
    if contrast == "t1" or (contrast == "auto" and not t2_clear):
        chains.append(_detect_chain(grid, -1))
    chains = [c for c in chains if c is not None]
    # A reading that passes the spine checks beats one that does not; then the stronger chain.
    return max(chains, key=lambda c: (not _not_a_spine(c), c.score), default=None)


def shift_labels(labels: Sequence[str], by: int) -> list[str]:
    """Take landmark labels and an integer ``by``; return every label moved by ``by`` levels.

    ``by`` = +1 names each point one level lower (caudal: "T4" -> "T5", "T4/T5" -> "T5/T6"), -1 one
    level higher. "conus" is kept. Raises AutoLevelsError when a name would leave C1..S1.
    """
    out = []
    for label in labels:
        try:
            u = landmark_coordinate(label)
        except LevelLabelError as error:
            raise AutoLevelsError(f"labels: {error}") from None
        if u is None:
            out.append(label)
            continue
        try:
            out.append(_label_of_u(u + int(by)))
        except LevelLabelError:
            raise AutoLevelsError(f"labels: shifting '{label}' by {by} leaves C1..S1") from None
    return out


def relabel_from_anchor(
    labels_positions: Sequence[tuple[str, Sequence[float]]], anchor_label: str, anchor_index: int
) -> list[str]:
    """Rename a column of level points so that point ``anchor_index`` is ``anchor_label``.

    Takes (label, RAS mm position) pairs (any order; "conus" points are kept as they are), the
    reader's name for one point and that point's index. Points are ordered along the spine by
    position (cranial first); each keeps its kind (disc if its current label names a disc, body
    otherwise, the anchor takes the kind of its new label) and the names follow in sequence:
    disc-body-disc advances half a level, two discs or two bodies in a row a whole level.
    Positions never change. Returns the new labels in the input order. Raises AutoLevelsError for
    a bad index or label or when a name would leave C1..S1.
    """
    items = list(labels_positions)
    if not 0 <= anchor_index < len(items):
        raise AutoLevelsError(f"anchor_index: {anchor_index} is not an index of the {len(items)} points")
    try:
        anchor_u = landmark_coordinate(anchor_label)
    except LevelLabelError as error:
        raise AutoLevelsError(f"anchor_label: {error}") from None
    if anchor_u is None:
        raise AutoLevelsError("anchor_label: 'conus' cannot anchor vertebral names")
    positions = np.array([np.asarray(p, dtype=float) for _, p in items]).reshape(-1, 3)
    is_conus = [str(label).strip().lower() == "conus" for label, _ in items]
    if is_conus[anchor_index]:
        raise AutoLevelsError(f"anchor_index: point {anchor_index} is the conus")
    kinds = []
    for index, (label, _) in enumerate(items):
        if index == anchor_index:
            kinds.append("disc" if anchor_u % 1 else "body")
        else:
            kinds.append("disc" if "/" in str(label) or re.search(r"\d\s*-\s*[CTLS]", str(label)) else "body")
    order = [i for i in _spine_order(positions) if not is_conus[i]]
    u = {anchor_index: anchor_u}
    start = order.index(anchor_index)
    for direction in (1, -1):
        previous = anchor_index
        position = start + direction
        while 0 <= position < len(order):
            index = order[position]
            step = 0.5 if kinds[index] != kinds[previous] else 1.0
            u[index] = u[previous] + direction * step
            previous = index
            position += direction
    labels = []
    for index, (label, _) in enumerate(items):
        if is_conus[index]:
            labels.append(label)
            continue
        try:
            labels.append(_label_of_u(u[index]))
        except LevelLabelError:
            raise AutoLevelsError(
                f"anchor_label: naming point {anchor_index} '{anchor_label}' puts point {index} outside C1..S1"
            ) from None
    return labels


def parse_anchor(text: str) -> tuple[str, np.ndarray]:
    """Take "LABEL@R,A,S" (e.g. "T4/T5@0,-20.5,31"); return (label, RAS mm point (3,)).

    Raises AutoLevelsError naming the problem for anything else.
    """
    label, sep, coords = str(text).partition("@")
    if not sep:
        raise AutoLevelsError(f"--anchor: '{text}' is not LABEL@R,A,S (e.g. T4/T5@0,-20,31)")
    try:
        point = np.array([float(v) for v in coords.split(",")], dtype=float)
    except ValueError:
        raise AutoLevelsError(f"--anchor: '{coords}' is not three numbers R,A,S in mm") from None
    if point.shape != (3,) or not np.all(np.isfinite(point)):
        raise AutoLevelsError(f"--anchor: '{coords}' is not three finite numbers R,A,S in mm")
    _check_anchor((label, point))
    return label.strip(), point


# ----------------------------------------------------------------------------------------------
# Naming helpers


def _label_of_u(u: float) -> str:
    """Return the label of level coordinate u (integer: body, half: disc)."""
    if abs(u - round(u)) < 1e-6:
        return level_name(int(round(u)))
    return disc_name(int(np.floor(u)))


def _spine_order(positions: np.ndarray) -> list[int]:
    """Return indices of RAS points ordered cranial to caudal along their main axis."""
    if len(positions) < 2:
        return list(range(len(positions)))
    centred = positions - positions.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axis = vt[0] if vt[0][2] <= 0 else -vt[0]   # pointing caudally (-z)
    return list(np.argsort(centred @ axis, kind="stable"))


def _check_anchor(anchor) -> tuple[str | None, np.ndarray | None]:
    """Validate an anchor; return (label, RAS point) or (None, None)."""
    if anchor is None:
        return None, None
    try:
        label, point = anchor
    except (TypeError, ValueError):
        raise AutoLevelsError("anchor: must be (label, (R, A, S))") from None
    try:
        u = landmark_coordinate(str(label))
    except LevelLabelError as error:
        raise AutoLevelsError(f"anchor: {error}") from None
    if u is None:
        raise AutoLevelsError("anchor: 'conus' cannot anchor vertebral names; name a vertebra or disc")
    point = np.asarray(point, dtype=float)
    if point.shape != (3,) or not np.all(np.isfinite(point)):
        raise AutoLevelsError(f"anchor: position {point.tolist()} is not three finite RAS mm numbers")
    return str(label).strip(), point


# ----------------------------------------------------------------------------------------------
# Image analysis


def _sagittal_grid(volume, offset_mm: float = 0.0) -> _Grid | None:
    """Resample a sagittal slab of ``volume`` at 1 mm, ``offset_mm`` right of the volume's middle;
    return the averaged sagittal image, or None when the slab lies outside the volume."""
    try:
        array = np.asarray(volume.array, dtype=np.float32)
        ijk_to_ras = np.asarray(volume.ijk_to_ras, dtype=float)
    except (AttributeError, TypeError, ValueError) as error:
        raise AutoLevelsError(f"volume: not a Volume with array and ijk_to_ras ({error})") from None
    name = getattr(volume, "source", "") or "volume"
    if array.ndim != 3 or min(array.shape) < 1:
        raise AutoLevelsError(f"{name}: image must be 3D, got shape {array.shape}")
    if not np.isfinite(array).any():
        raise AutoLevelsError(f"{name}: image holds no finite values")
    array = np.nan_to_num(array, nan=0.0, posinf=0.0, neginf=0.0)
    nk, nj, ni = array.shape
    corners = np.array([[i, j, k, 1.0] for i in (0, ni - 1) for j in (0, nj - 1) for k in (0, nk - 1)])
    ras = (ijk_to_ras @ corners.T).T[:, :3]
    lo, hi = ras.min(axis=0), ras.max(axis=0)
    x_centre = 0.5 * (lo[0] + hi[0]) + offset_mm
    if offset_mm and not lo[0] + _SLAB_HALF_MM <= x_centre <= hi[0] - _SLAB_HALF_MM:
        return None
    xs = np.arange(-_SLAB_HALF_MM, _SLAB_HALF_MM + 1e-6, 2.0) + x_centre
    ys = np.arange(hi[1], lo[1] - 1e-6, -_STEP_MM)
    zs = np.arange(hi[2], lo[2] - 1e-6, -_STEP_MM)
    if len(zs) < 2 or len(ys) < 2:
        raise AutoLevelsError(f"{name}: field of view {hi - lo} mm is too small to hold a spine")
    inverse = np.linalg.inv(ijk_to_ras)
    X, Z, Y = np.meshgrid(xs, zs, ys, indexing="ij")
    points = np.stack([X.ravel(), Y.ravel(), Z.ravel(), np.ones(X.size)])
    ijk = (inverse @ points)[:3]
    # Voxels within half a voxel of the volume count as inside (the slab may be thinner than 1 voxel).
    inside = np.all((ijk > -0.5) & (ijk < np.array([[ni], [nj], [nk]]) - 0.5), axis=0)
    values = ndimage.map_coordinates(array, [ijk[2], ijk[1], ijk[0]], order=1, mode="nearest")
    values = np.where(inside, values, np.nan).reshape(X.shape)
    count = np.isfinite(values).sum(axis=0)
    image = np.where(count > 0, np.nansum(values, axis=0) / np.maximum(count, 1), np.nan)
    return _Grid(image=image.astype(np.float32), z0=float(zs[0]), y0=float(ys[0]), x=float(x_centre))


def _dp_path(score: np.ndarray, penalty: float) -> np.ndarray:
    """Return, per row, the column of the max-sum path through ``score`` moving <= 1 column per row."""
    rows, cols = score.shape
    value = score[0].astype(float).copy()
    back = np.zeros((rows, cols), dtype=np.int8)
    for r in range(1, rows):
        left = np.concatenate([[-np.inf], value[:-1]]) - penalty
        right = np.concatenate([value[1:], [-np.inf]]) - penalty
        stacked = np.stack([left, value, right])
        arg = np.argmax(stacked, axis=0)
        value = stacked[arg, np.arange(cols)] + score[r]
        back[r] = arg.astype(np.int8) - 1
    path = np.zeros(rows, dtype=int)
    path[-1] = int(np.argmax(value))
    for r in range(rows - 1, 0, -1):
        path[r - 1] = path[r] + back[r, path[r]]
    return path


def _normalise(image: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Scale intensities so that the 99.5th percentile inside the volume is 1; outside is 0."""
    values = image[valid]
    scale = float(np.percentile(values, 99.5)) if values.size else 1.0
    return np.where(valid, image / scale if scale > 0 else 0.0, 0.0).astype(np.float32)


def _detect_chain(grid: _Grid, polarity: int) -> _Chain | None:
    """Find the canal, straighten along it, and return the chain of disc peaks (or None)."""
    valid = np.isfinite(grid.image)
    if valid.sum() < 100:
        return None
    img = _normalise(grid.image, valid)
    rows, cols = img.shape
    # Canal: CSF ridge along S-I, ~8-16 mm wide (bright on T2, dark on T1).
    along = ndimage.gaussian_filter(img, (6.0, 0.0))
    tube = np.maximum(-polarity * ndimage.gaussian_filter(along, (0.0, 4.0), order=(0, 2)), 0.0)
    tube /= float(np.percentile(tube, 99.5)) + 1e-9
    # Discs: bands across the column, narrow along S-I.
    bands = polarity * (ndimage.gaussian_filter(img, (1.5, 3.0)) - ndimage.gaussian_filter(img, (5.0, 3.0)))
    energy = ndimage.gaussian_filter(np.maximum(bands, 0.0), (10.0, 4.0))
    energy /= float(np.percentile(energy, 99.5)) + 1e-9
    in_front = np.zeros_like(energy)
    for offset in range(6, 41, 2):   # the column lies 6-40 mm anterior (lower column index) of the canal
        if offset < cols:
            shifted = np.zeros_like(energy)
            shifted[:, offset:] = energy[:, : cols - offset]
            in_front = np.maximum(in_front, shifted)
    # The canal has tissue behind it (posterior elements), unlike the skin's fat against the air.
    smooth = ndimage.gaussian_filter(img, 3.0)
    behind = np.full_like(img, np.inf)
    for offset in range(10, 26, 3):   # posterior = higher column index
        shifted = np.zeros_like(img)
        if offset < cols:
            shifted[:, : cols - offset] = smooth[:, offset:]
        behind = np.minimum(behind, shifted)
    tissue_behind = np.clip(behind / 0.08, 0.0, 1.0)
    canal = _dp_path(np.sqrt(tube * in_front) * tissue_behind, penalty=0.15)

    # Straighten along the (smoothed) canal path; t > 0 is anterior.
    z = np.arange(rows, dtype=float)
    # A stiff path: local detours of the canal (lesion, conus) would stretch the arc length.
    y = ndimage.gaussian_filter1d(canal.astype(float), 15.0, mode="nearest")
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(z), np.diff(y)))])
    s = np.arange(0.0, arc[-1], 1.0)
    if s.size < 40:
        return None
    zs, ys = np.interp(s, arc, z), np.interp(s, arc, y)
    tz, ty = np.gradient(zs), np.gradient(ys)
    norm = np.hypot(tz, ty)
    nz, ny = ty / norm, -tz / norm
    flip = ny > 0
    nz[flip], ny[flip] = -nz[flip], -ny[flip]
    t = np.arange(_T_RANGE_MM[0], _T_RANGE_MM[1] + 1e-6, 1.0)
    rr = zs[:, None] + t[None] * nz[:, None]
    cc = ys[:, None] + t[None] * ny[:, None]
    straight = ndimage.map_coordinates(img, [rr, cc], order=1, mode="constant", cval=0.0)
    inside = ndimage.map_coordinates(valid.astype(np.float32), [rr, cc], order=0, mode="constant", cval=0.0)
    frame = {"zs": zs, "ys": ys, "nz": nz, "ny": ny, "t": t, "canal": canal}

    # Disc levels are where intensity changes along the spine (disc, endplates, body edges), bright
    # or dark discs alike; body centres are uniform. Edge energy along s, smoothed across the column
    # (discs are 15-40 mm wide bands) and along s (the two faces of one disc merge into one peak).
    gradient = ndimage.gaussian_filter(straight, (1.0, _BAND_T_SIGMA), order=(1, 0))
    edges = ndimage.gaussian_filter1d(np.abs(gradient), _EDGE_S_SIGMA, axis=0)
    # No edges from the border of the field of view.
    edges[ndimage.binary_dilation(inside < 1, iterations=4)] = 0.0
    # The column path keeps clear of the canal; the profile may start closer, at the canal's wall.
    column_energy = ndimage.gaussian_filter(np.where(t[None] < _COLUMN_MIN_T_MM, 0.0, edges), (12.0, 3.0))
    # Row-normalised: the column is followed as well where its contrast is faint.
    column_energy /= column_energy.max(axis=1, keepdims=True) + 1e-12
    column = _dp_path(column_energy, penalty=0.02)
    wall = _canal_wall(straight, t, column, polarity)
    from_wall = t[None] - wall[:, None]
    near = (from_wall >= _STRIP_FROM_WALL_MM[0]) & (from_wall <= _STRIP_FROM_WALL_MM[1]) & (inside > 0)
    # The profile's edges are smoothed less across the column than the path's: near the canal the
    # strip is narrow (cervical bodies are 15-20 mm deep) and discs may be tilted.
    strip_gradient = ndimage.gaussian_filter(straight, (1.0, _PROFILE_T_SIGMA), order=(1, 0))
    strip_edges = ndimage.gaussian_filter1d(np.abs(strip_gradient), _EDGE_S_SIGMA, axis=0)
    strip_edges[ndimage.binary_dilation(inside < 1, iterations=4)] = 0.0
    profile = (strip_edges * near).sum(axis=1) / np.maximum(near.sum(axis=1), 1)
    seen = inside[np.arange(s.size), column] > 0
    if seen.sum() < 40:
        return None
    s_valid = (float(s[seen].min()), float(s[seen].max()))
    profile = np.where(seen, profile, 0.0)
    noise = 1.4826 * float(np.median(np.abs(profile[seen] - np.median(profile[seen])))) + 1e-9
    peaks, props = signal.find_peaks(profile, distance=8, prominence=0.5 * noise)
    if peaks.size == 0:
        return None
    strength = props["prominences"] / noise
    frame.update(profile=profile, peaks=peaks, strength=strength, column=column, wall=wall)  # for figures
    messages: list[str] = []
    signed = np.where(seen, (gradient * near).sum(axis=1) / np.maximum(near.sum(axis=1), 1), 0.0)
    # Spacing is measured along the column (not the canal): where the canal bends, arc length in
    # front of it differs from arc length along it.
    column_t = ndimage.gaussian_filter1d(t[column].astype(float), 5.0, mode="nearest")
    column_arc = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(zs + column_t * nz), np.diff(ys + column_t * ny)))])
    peak_s = peaks.astype(float)
    peak_c = column_arc[peaks]
    chain_c, chain_strength, interpolated = _regular_chain(peak_c, strength, messages)
    if chain_c.size == 0:
        return None
    chain_c, chain_strength, interpolated = _extend_chain(chain_c, chain_strength, interpolated, peak_c, strength,
                                                          messages)
    in_chain = np.isin(peak_c, chain_c)
    weak_peaks, weak_strength = peak_s[~in_chain], strength[~in_chain]
    chain_s = np.interp(chain_c, column_arc, s)
    chain_s = _refine_discs(profile, signed, chain_s, interpolated)
    frame["column_arc"] = column_arc
    # Contrast check: CSF is brighter than the column on T2 and darker on T1.
    canal_values = straight[:, np.abs(t) <= 3.0][seen]
    column_values = straight[np.arange(s.size), column][seen]
    canal_level, column_level = float(np.median(canal_values)), float(np.median(column_values))
    if polarity * (canal_level - column_level) <= 0:
        return None
    csf_ratio = canal_level / max(column_level, 1e-6)
    t_disc = np.array([_disc_t(edges, t, column, si) for si in chain_s])
    seen_fraction = 1.0 - float(interpolated.mean())
    score = float(np.median(chain_strength[~interpolated])) * seen_fraction if (~interpolated).any() else 0.0
    return _Chain(polarity, chain_s, t_disc, chain_strength, interpolated, score, frame, s_valid,
                  weak_peaks, weak_strength, messages, csf_ratio)


def _canal_wall(straight: np.ndarray, t: np.ndarray, column: np.ndarray, polarity: int) -> np.ndarray:
    """Return, per row of the straightened image, t (mm) of the canal's anterior wall.

    The wall is the steepest CSF-to-column step (a fall on T2, a rise on T1) between
    _WALL_SEARCH_MM behind the column path, median-filtered along the spine (31 mm) so that disc
    bulges and the basivertebral veins do not move it.
    """
    smooth = ndimage.gaussian_filter(straight, (3.0, 1.0))
    step = polarity * np.diff(smooth, axis=1)        # negative where intensity falls going anterior (T2)
    mid_t = 0.5 * (t[:-1] + t[1:])
    column_t = t[column]
    allowed = ((mid_t[None] >= column_t[:, None] - _WALL_SEARCH_MM[0])
               & (mid_t[None] <= column_t[:, None] - _WALL_SEARCH_MM[1]) & (mid_t[None] >= t[0] + 2.0))
    step = np.where(allowed, step, np.inf)
    wall = mid_t[np.argmin(step, axis=1)]
    wall = np.where(np.isfinite(step.min(axis=1)), wall, column_t - 3.0 - _STRIP_FROM_WALL_MM[0])
    return ndimage.median_filter(wall, 31, mode="nearest")


def _not_a_spine(chain: _Chain, strict: bool = False) -> str:
    """Return why ``chain`` is not taken for a spine, or "" when it is.

    A spine has at least _MIN_SEEN_DISCS discs actually seen (at most a quarter interpolated;
    ``strict``, for slabs beside the middle of the series: _MIN_SEEN_DISCS_BESIDE), a
    canal clearly brighter (T2) or darker (T1) than the column, and disc peaks standing out of the
    profile noise. When this was tuned, noise, smooth random blobs and a plain sphere gave a
    canal/column contrast of 0.9-1.2; real and synthetic spines >= 1.3 (T2) or <= 0.65 (T1).
    """
    seen = int((~chain.interpolated).sum())
    if seen < (_MIN_SEEN_DISCS_BESIDE if strict else _MIN_SEEN_DISCS) or chain.interpolated.mean() > 0.25:
        return f"only {seen} disc-like bands in a regular chain ({int(chain.interpolated.sum())} gaps)"
    if len(chain.s) > 24:
        return f"{len(chain.s)} disc-like bands in a row, more than a spine has (24)"
    if chain.polarity > 0 and chain.csf_ratio < _T2_CSF_RATIO or chain.polarity < 0 and chain.csf_ratio > 1.0 / _T2_CSF_RATIO:
        return f"no spinal canal standing out from the column (canal/column contrast {chain.csf_ratio:.2f})"
    if chain.score < (_MIN_SCORE_BESIDE if strict else _MIN_SCORE):
        return f"disc-like bands too faint (strength {chain.score:.1f} x noise)"
    return ""


def _refine_discs(profile: np.ndarray, signed: np.ndarray, s: np.ndarray, interpolated: np.ndarray) -> np.ndarray:
    """Return disc centres (mm along the canal) for the chain's edge-profile peaks ``s``.

    A disc has two faces whose gradients along the spine have opposite signs (bright disc: rise
    then fall; dark disc: the reverse); the edge profile may peak at either face of a thick disc.
    The centre is the midpoint of the strongest rise and fall within 40 % of the local disc
    spacing, when they are 2-16 mm apart; else the centroid of the edge profile there.
    """
    out = s.astype(float).copy()
    gaps = np.diff(s)
    for n, centre in enumerate(s):
        if interpolated[n]:
            continue
        near_gaps = gaps[max(0, n - 1): n + 1]
        half_window = int(np.clip(0.4 * float(near_gaps.min()) if near_gaps.size else 9.0, 6.0, 14.0))
        p = int(round(centre))
        lo, hi = max(0, p - half_window), min(profile.size, p + half_window + 1)
        # Best pair of opposite faces 2-16 mm apart whose midpoint lies within 6 mm of the peak.
        index = np.arange(lo, hi)
        a, b = np.meshgrid(index, index, indexing="ij")
        contrast = np.abs(signed[a] - signed[b]) * (signed[a] * signed[b] < 0)
        allowed = (b - a >= 2) & (b - a <= 16) & (np.abs(0.5 * (a + b) - centre) <= 6.0)
        contrast = np.where(allowed, contrast, 0.0)
        if contrast.max() > 0:
            best = np.unravel_index(int(np.argmax(contrast)), contrast.shape)
            out[n] = 0.5 * (a[best] + b[best])
            continue
        edge = profile[lo:hi] - profile[lo:hi].min()
        if edge.sum() > 0:
            out[n] = float(np.sum(np.arange(lo, hi) * edge) / edge.sum())
    return out


def _regular_chain(s: np.ndarray, strength: np.ndarray, messages: list[str]):
    """Choose the chain of peaks with the most total strength and a smoothly varying spacing.

    Takes peak positions ``s`` (mm, increasing) and strengths (prominence / noise). Dynamic
    programming over pairs of consecutive chain members: each peak adds its strength minus 35 %
    of the strongest peak within 40 mm (contrast may change along the spine; weak ripples only
    join when they are needed), each step must be 10-50 mm and within a factor _RATIO_RANGE of
    the step before. A step spanning two segments counts as one unseen disc, with a penalty; that
    disc is interpolated. Returns (positions, strengths, interpolated flags), cranial first.
    """
    n = len(s)
    if n == 0:
        return np.array([]), np.array([]), np.array([], bool)
    local_max = np.array([strength[np.abs(s - si) <= 40.0].max() for si in s])
    threshold = 0.35 * local_max
    weight = strength - threshold
    best_single = int(np.argmax(strength))
    # state (i, j, m): chain ends with peaks i < j, m segments (1, or 2 = one unseen disc) between them.
    score: dict[tuple[int, int, int], float] = {}
    back: dict[tuple[int, int, int], tuple[int, int, int] | None] = {}
    for j in range(n):
        for i in range(j):
            gap = s[j] - s[i]
            for m in (1, 2):
                step = gap / m
                if not 10.0 <= step <= 50.0:
                    continue
                key = (i, j, m)
                value = weight[i] + weight[j] - (3.0 if m == 2 else 0.0)
                previous = None
                for (h, i2, m2), prior_value in list(score.items()):
                    if i2 != i or h >= i:
                        continue
                    ratio = step / ((s[i] - s[h]) / m2)
                    if _RATIO_RANGE[0] <= ratio <= _RATIO_RANGE[1]:
                        candidate = prior_value + weight[j] - (3.0 if m == 2 else 0.0) - 2.0 * abs(np.log(ratio))
                        if candidate > value:
                            value, previous = candidate, (h, i2, m2)
                score[key], back[key] = value, previous
    if not score:
        return np.array([s[best_single]]), np.array([strength[best_single]]), np.array([False])
    key = max(score, key=score.get)
    members: list[tuple[int, int]] = []   # (peak index, segments before it)
    while key is not None:
        i, j, m = key
        members.append((j, m))
        previous = back[key]
        if previous is None:
            members.append((i, 1))
        key = previous
    members.reverse()
    out_s, out_st, out_interp = [], [], []
    for index, (peak, m) in enumerate(members):
        if index > 0 and m == 2:
            middle = 0.5 * (out_s[-1] + s[peak])
            messages.append(f"a disc was not seen between two others {s[peak] - out_s[-1]:.0f} mm apart; "
                            "its position is interpolated")
            out_s.append(middle), out_st.append(0.0), out_interp.append(True)
        out_s.append(float(s[peak])), out_st.append(float(strength[peak])), out_interp.append(False)
    strong_left_out = np.sum((strength >= 0.8 * local_max) & ~np.isin(np.arange(n), [p for p, _ in members]))
    if strong_left_out:
        messages.append(f"{strong_left_out} strong disc-like peak(s) outside the regular chain were left out")
    return np.array(out_s), np.array(out_st), np.array(out_interp, dtype=bool)


def _extend_chain(chain: np.ndarray, chain_strength: np.ndarray, interpolated: np.ndarray, peaks: np.ndarray,
                  strength: np.ndarray, messages: list[str]):
    """Extend a regular chain at its cranial end with weaker peaks that continue its rhythm.

    Small cervical discs give weaker edges than thoracic and lumbar ones, so the strongest chain may
    stop short of C2/C3. (Not at the caudal end: the sacrum's fusion lines would continue the rhythm.) Takes the chain (positions mm, strengths, interpolated flags) and all peaks (positions,
    strengths); a peak joins when it lies one step (the end step, within _EXTEND_TOLERANCE) beyond
    the end and is at least _EXTEND_MIN_FRACTION as strong as the chain's end discs. One unseen disc
    is bridged only when two further peaks both continue the rhythm beyond it. Returns the
    extended (positions, strengths, interpolated), cranial first.
    """
    s, st, interp = list(chain), list(chain_strength), list(interpolated)
    for direction in (-1,):   # cranial only (see above)
        added = bridged = 0
        while len(s) >= 2:
            end, before = (s[0], s[1]) if direction < 0 else (s[-1], s[-2])
            step = abs(end - before)
            ends = st[:3] if direction < 0 else st[-3:]
            floor = _EXTEND_MIN_FRACTION * float(np.median([x for x in ends if x > 0] or [0.0]))

            def near(k: int) -> int | None:
                target = end + direction * k * step
                ok = (np.abs(peaks - target) <= _EXTEND_TOLERANCE * step) & (strength >= floor)
                ok &= (peaks < end - 0.5 * step) if direction < 0 else (peaks > end + 0.5 * step)
                return int(np.argmin(np.where(ok, np.abs(peaks - target), np.inf))) if ok.any() else None

            one = near(1)
            if one is not None:
                new = [(float(peaks[one]), float(strength[one]), False)]
            else:
                two, three = near(2), near(3)
                if two is None or three is None or peaks[three] * direction <= peaks[two] * direction:
                    break
                new = [(end + direction * 0.5 * abs(peaks[two] - end), 0.0, True),
                       (float(peaks[two]), float(strength[two]), False)]
                bridged += 1
            for position, value, flag in new:
                if direction < 0:
                    s.insert(0, position), st.insert(0, value), interp.insert(0, flag)
                else:
                    s.append(position), st.append(value), interp.append(flag)
            added += 1
        if added:
            end_name = "cranial" if direction < 0 else "caudal"
            messages.append(f"{added + bridged} fainter disc(s) continue the chain's rhythm at its {end_name} end"
                            + (f" ({bridged} interpolated)" if bridged else ""))
    return np.array(s), np.array(st), np.array(interp, dtype=bool)


def _disc_t(bands: np.ndarray, t: np.ndarray, column: np.ndarray, s_disc: float) -> float:
    """Return the AP centre (t, mm anterior of the canal) of the disc band at arc length s_disc."""
    row = int(np.clip(round(s_disc), 0, bands.shape[0] - 1))
    values = bands[row]
    c = int(column[row])
    peak = values[c]
    if peak <= 0:
        return float(t[c])
    above = values > 0.4 * peak
    lo = c
    while lo > 0 and above[lo - 1] and t[lo - 1] >= 2.0:
        lo -= 1
    hi = c
    while hi < len(values) - 1 and above[hi + 1]:
        hi += 1
    return float(0.5 * (t[lo] + t[hi]))


def _lateral_centre(volume, grid: _Grid, chain: _Chain) -> float:
    """Return the RAS x (mm) of the mid-sagittal plane near the discs: the x about which the image
    around the disc chain is most nearly mirror-symmetric, searched within +-15 mm of the slab.

    (The strongest disc/body contrast across R was tried first; on real lumbar T2 the foramina and
    pedicles beat the midline, putting points 13 mm off it.) Falls back to the slab centre when no
    candidate has the volume on both sides.
    """
    discs = _chain_positions(grid, chain)
    steps = np.arange(-_SYMMETRY_BOX_MM, _SYMMETRY_BOX_MM + 1e-6, 2.0)
    offsets = np.stack(np.meshgrid(steps, steps / 4.0, indexing="ij"), axis=-1).reshape(-1, 2)  # (A, S)
    around = np.repeat(discs[:, None, :], len(offsets), axis=1)
    around[..., 1] += offsets[:, 0]
    around[..., 2] += offsets[:, 1]
    around = around.reshape(-1, 3)
    xs = grid.x + np.arange(-_SYMMETRY_SEARCH_MM - _SYMMETRY_REACH_MM, _SYMMETRY_SEARCH_MM + _SYMMETRY_REACH_MM + 1e-6)
    inverse = np.linalg.inv(np.asarray(volume.ijk_to_ras, dtype=float))
    points = np.repeat(around[None, :, :], xs.size, axis=0)
    points[..., 0] = xs[:, None]
    ijk = points @ inverse[:3, :3].T + inverse[:3, 3]
    values = ndimage.map_coordinates(np.asarray(volume.array, dtype=np.float32),
                                     [ijk[..., 2], ijk[..., 1], ijk[..., 0]], order=1, mode="constant", cval=np.nan)
    # Mirror symmetry about x = c means the R-gradient is odd about c: g(c + d) = -g(c - d). Comparing
    # gradients, not intensities, keeps flat stretches (e.g. padding slices) from looking symmetric.
    gradient = np.gradient(values, axis=0)
    reach = np.arange(1, int(_SYMMETRY_REACH_MM) + 1)
    scores: list[tuple[float, float, float]] = []  # (x, asymmetry, gradient energy)
    for centre in range(int(_SYMMETRY_REACH_MM), xs.size - int(_SYMMETRY_REACH_MM)):
        right, left = gradient[centre + reach], gradient[centre - reach]
        # Every candidate compares the same distances, all inside the volume in R.
        if not (np.isfinite(right).any(axis=1).all() and np.isfinite(left).any(axis=1).all()):
            continue
        energy = float(np.nansum(np.abs(right) + np.abs(left)))
        scores.append((float(xs[centre]), float(np.nansum(np.abs(right + left))) / max(energy, 1e-12), energy))
    if not scores:
        return grid.x
    typical_energy = float(np.median([energy for _, _, energy in scores]))
    textured = [(asymmetry, x) for x, asymmetry, energy in scores if energy >= 0.5 * typical_energy]
    return min(textured)[1] if textured else grid.x


def _chain_positions(grid: _Grid, chain: _Chain) -> np.ndarray:
    """Return RAS points (N, 3) of the chain's discs."""
    return _frame_to_ras(grid, chain.frame, chain.s, chain.t)


def _frame_to_ras(grid: _Grid, frame: dict, s: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Convert straightened (s along the canal, t anterior) mm to RAS points (N, 3)."""
    index = np.arange(frame["zs"].size, dtype=float)
    zs, ys = np.interp(s, index, frame["zs"]), np.interp(s, index, frame["ys"])
    nz, ny = np.interp(s, index, frame["nz"]), np.interp(s, index, frame["ny"])
    return grid.to_ras(zs + t * nz, ys + t * ny)


# ----------------------------------------------------------------------------------------------
# Naming


def _spacing_log_likelihoods(gaps: np.ndarray, n_discs: int) -> dict[int, float]:
    """Return, for each number n0 of the vertebra above the top disc, the log-likelihood of the gaps."""
    out = {}
    for n0 in range(1, 25 - (n_discs - 1)):
        numbers = np.arange(n0 + 1, n0 + n_discs)
        if numbers.size and (numbers.min() < 2 or numbers.max() > 24):
            continue
        if gaps.size == 0:
            out[n0] = 0.0
            continue
        prior = np.array([SEGMENT_PRIOR_MM[n] for n in numbers])
        residual = np.log(gaps) - np.log(prior)
        # Patient size: best common scale, shrunk towards 1 by its own prior.
        weight = gaps.size / _SPACING_LOG_SD**2
        log_scale = residual.sum() / _SPACING_LOG_SD**2 / (weight + 1.0 / _SCALE_LOG_SD**2)
        out[n0] = float(-0.5 * np.sum((residual - log_scale) ** 2) / _SPACING_LOG_SD**2
                        - 0.5 * log_scale**2 / _SCALE_LOG_SD**2)
    return out


def _name_from_anatomy(chain: _Chain, messages: list[str]) -> tuple[int, float, bool]:
    """Name the chain without an anchor; return (number above the top disc, name probability, confident)."""
    n = len(chain.s)
    gaps = np.diff(_column_position(chain))
    scores = _spacing_log_likelihoods(gaps, n)
    top_cue, bottom_cue = _end_cues(chain)
    for n0 in scores:
        if top_cue and n0 == 2:
            scores[n0] += _CUE_BONUS
        if bottom_cue and n0 + n - 1 == 24:
            scores[n0] += _CUE_BONUS
    numbers = np.array(list(scores))
    values = np.array([scores[k] for k in numbers])
    prob = np.exp(values - values.max())
    prob /= prob.sum()
    best = int(numbers[np.argmax(prob)])
    p_best = float(prob.max())
    cue_agrees = (top_cue and best == 2) or (bottom_cue and best + n - 1 == 24)
    if top_cue and best == 2:
        messages.append("top disc named C2/C3: no disc above it for the height of C2 and the dens")
    if bottom_cue and best + n - 1 == 24:
        messages.append("bottom disc named L5/S1: the fused sacrum (no discs) lies below it")
    confident = bool(cue_agrees and p_best >= 0.8)
    if not confident:
        messages.append(
            f"names from disc spacing alone (probability {p_best:.2f}): not sure; "
            "confirm one level (or give an anchor) and shift the labels if needed"
        )
    return best, p_best, confident


def _column_position(chain: _Chain) -> np.ndarray:
    """Return the chain's disc positions as arc length (mm) along the vertebral column."""
    arc = chain.frame["column_arc"]
    return np.interp(chain.s, np.arange(arc.size, dtype=float), arc)


def _end_cues(chain: _Chain) -> tuple[bool, bool]:
    """Return (dens at the top, sacrum at the bottom): a disc-free stretch beyond the end disc that
    is inside the image and longer than the adjacent segment allows."""
    gaps = np.diff(chain.s)
    if gaps.size == 0:
        return False, False
    first, last = float(chain.s[0]), float(chain.s[-1])
    weak = chain.weak_peaks
    g_top, g_bottom = float(gaps[0]), float(gaps[-1])
    room_above = first - chain.s_valid[0]
    room_below = chain.s_valid[1] - last
    # A missed disc would leave a peak at least half as strong as the chain's discs.
    weak = weak[chain.weak_strength >= 0.5 * float(np.median(chain.strength))]
    no_disc_above = not np.any((weak > first - 1.6 * g_top) & (weak < first - 0.6 * g_top))
    no_disc_below = not np.any((weak > last + 0.6 * g_bottom) & (weak < last + 1.6 * g_bottom))
    top = room_above >= 1.9 * g_top and no_disc_above
    bottom = room_below >= 1.5 * g_bottom and no_disc_below
    # The sacrum follows long lumbar segments; the dens short cervical ones.
    top = top and g_top < 1.3 * float(np.median(gaps))
    bottom = bottom and g_bottom > 0.8 * float(np.median(gaps))
    return bool(top), bool(bottom)


def _name_from_anchor(chain: _Chain, positions: np.ndarray, label: str, point: np.ndarray,
                      messages: list[str]) -> tuple[int, float, bool]:
    """Name the chain so that the landmark nearest the anchor point carries the anchor label."""
    u_anchor = landmark_coordinate(label)
    # Candidate points: discs (index k -> u = n0 + 0.5 + k) and bodies between them.
    mids = 0.5 * (positions[:-1] + positions[1:])
    if u_anchor % 1:
        distances = np.linalg.norm(positions - point, axis=1)
        k = int(np.argmin(distances))
        n0 = int(np.floor(u_anchor)) - k
    else:
        candidates = np.vstack([mids, positions[:1], positions[-1:]]) if len(mids) else positions
        distances = np.linalg.norm(candidates - point, axis=1)
        k = int(np.argmin(distances))
        if k < len(mids):
            n0 = int(u_anchor) - 1 - k         # body between discs k and k+1 is vertebra n0 + k + 1
        elif k == len(mids):
            n0 = int(u_anchor)                  # body above the top disc
        else:
            n0 = int(u_anchor) - len(positions)  # body below the bottom disc
    spacing = float(np.median(np.diff(chain.s))) if len(chain.s) > 1 else 20.0
    if float(distances.min()) > spacing:
        messages.append(f"anchor {label} lies {distances.min():.0f} mm from the nearest proposed level; check it")
    messages.append(f"names follow the anchor {label}")
    return n0, 1.0, True


def _build_points(grid: _Grid, chain: _Chain, positions: np.ndarray, n0: int, name_prob: float,
                  messages: list[str]) -> list[ProposedLandmark]:
    """Return interleaved disc and body points, cranial first, with names and confidences."""
    strength_conf = np.clip(chain.strength / 8.0, 0.0, 1.0)
    strength_conf = np.where(chain.interpolated, 0.3, 0.5 + 0.5 * strength_conf)
    points: list[ProposedLandmark] = []
    s, t = chain.s, chain.t
    # Body above the top disc and below the bottom disc, when inside the image (half a segment out).
    extra_top = extra_bottom = None
    if len(s) >= 2:
        s_top = s[0] - 0.5 * (s[1] - s[0])
        if s_top >= chain.s_valid[0] and n0 >= 1:
            extra_top = _frame_to_ras(grid, chain.frame, np.array([s_top]), t[:1])[0]
        s_bottom = s[-1] + 0.5 * (s[-1] - s[-2])
        if s_bottom <= chain.s_valid[1]:
            extra_bottom = _frame_to_ras(grid, chain.frame, np.array([s_bottom]), t[-1:])[0]
    if extra_top is not None and 1 <= n0 <= 25:
        points.append(ProposedLandmark(level_name(n0), extra_top, round(0.6 * strength_conf[0] * name_prob, 3), "body"))
    dropped = 0
    for k in range(len(s)):
        number = n0 + k
        if not 1 <= number <= 24:
            dropped += 1
            continue
        points.append(ProposedLandmark(disc_name(number), positions[k],
                                       round(float(strength_conf[k] * name_prob), 3), "disc"))
        if k + 1 < len(s) and number + 1 <= 25:
            middle = _frame_to_ras(grid, chain.frame, np.array([0.5 * (s[k] + s[k + 1])]),
                                   np.array([0.5 * (t[k] + t[k + 1])]))[0]
            conf = min(strength_conf[k], strength_conf[k + 1]) * name_prob
            points.append(ProposedLandmark(level_name(number + 1), middle, round(float(conf), 3), "body"))
    if dropped:
        messages.append(f"{dropped} disc-like band(s) beyond C1/C2..L5/S1 under these names were left out")
    if extra_bottom is not None and 1 <= n0 + len(s) <= 25:
        number = n0 + len(s)
        points.append(ProposedLandmark(level_name(number), extra_bottom,
                                       round(0.6 * strength_conf[-1] * name_prob, 3), "body"))
    return points
