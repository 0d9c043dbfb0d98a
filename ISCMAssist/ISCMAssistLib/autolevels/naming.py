"""Naming for automatic levels: from an anchor or from anatomy (dens, sacrum) weighed with the
spacing prior, and the interleaved disc and body points with their confidences."""

from __future__ import annotations

import numpy as np

from ..vertebrae import disc_name, landmark_coordinate, level_name
from . import settings as cfg
from .grid import frame_to_ras
from .records import Chain, Grid, ProposedLandmark


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
        prior = np.array([cfg.SEGMENT_PRIOR_MM[n] for n in numbers])
        residual = np.log(gaps) - np.log(prior)
        # Patient size: best common scale, shrunk towards 1 by its own prior.
        weight = gaps.size / cfg.SPACING_LOG_SD**2
        log_scale = residual.sum() / cfg.SPACING_LOG_SD**2 / (weight + 1.0 / cfg.SCALE_LOG_SD**2)
        out[n0] = float(-0.5 * np.sum((residual - log_scale) ** 2) / cfg.SPACING_LOG_SD**2
                        - 0.5 * log_scale**2 / cfg.SCALE_LOG_SD**2)
    return out


def name_from_anatomy(chain: Chain, messages: list[str]) -> tuple[int, float, bool]:
    """Name the chain without an anchor; return (number above the top disc, name probability, confident)."""
    n = len(chain.s)
    gaps = np.diff(_column_position(chain))
    scores = _spacing_log_likelihoods(gaps, n)
    top_cue, bottom_cue = _end_cues(chain)
    for n0 in scores:
        if top_cue and n0 == 2:
            scores[n0] += cfg.CUE_BONUS
        if bottom_cue and n0 + n - 1 == 24:
            scores[n0] += cfg.CUE_BONUS
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


def _column_position(chain: Chain) -> np.ndarray:
    """Return the chain's disc positions as arc length (mm) along the vertebral column."""
    arc = chain.frame["column_arc"]
    return np.interp(chain.s, np.arange(arc.size, dtype=float), arc)


def _end_cues(chain: Chain) -> tuple[bool, bool]:
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


def name_from_anchor(chain: Chain, positions: np.ndarray, label: str, point: np.ndarray,
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


def build_points(grid: Grid, chain: Chain, positions: np.ndarray, n0: int, name_prob: float,
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
            extra_top = frame_to_ras(grid, chain.frame, np.array([s_top]), t[:1])[0]
        s_bottom = s[-1] + 0.5 * (s[-1] - s[-2])
        if s_bottom <= chain.s_valid[1]:
            extra_bottom = frame_to_ras(grid, chain.frame, np.array([s_bottom]), t[-1:])[0]
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
            middle = frame_to_ras(grid, chain.frame, np.array([0.5 * (s[k] + s[k + 1])]),
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
