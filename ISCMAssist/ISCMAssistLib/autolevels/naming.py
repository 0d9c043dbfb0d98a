"""Naming for automatic levels: from an anchor or from anatomy (dens, sacrum) weighed with the
spacing prior, and the interleaved disc and body points with their confidences."""

from __future__ import annotations

import numpy as np

from ..vertebrae import disc_name, landmark_coordinate, level_name
from . import settings as cfg
from .grid import frame_to_ras
from .orientation import lumbosacral_disc
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


def name_from_anatomy(chain: Chain, messages: list[str], tilt: np.ndarray,
                      clarity: np.ndarray) -> tuple[int, float, bool, str]:
    """Name the chain without an anchor.

    Takes the chain and each disc's tilt and its clarity (orientation.disc_orientations). Returns
    (number of the vertebra above the top disc, name probability, confident, label to confirm).
    Names are confident only from a landmark seen in the image that the spacing prior does not
    contradict: the lumbosacral disc by its tilt (orientation.lumbosacral_disc), or the dens above
    C2/C3 (no disc for the height of C2). A long disc-free stretch at the bottom is not enough: on
    real lumbar scans it was as often the L5 body above a missed, thin L5/S1 disc as the sacrum.
    """
    column = _column_position(chain)
    lumbosacral = lumbosacral_disc(tilt, clarity, np.concatenate([[np.inf], np.diff(column)]))
    # Bands below the lumbosacral disc are in the sacrum: the spacing is weighed above it only.
    n = len(chain.s) if lumbosacral is None else lumbosacral + 1
    scores = _spacing_log_likelihoods(np.diff(column)[: n - 1], n)
    top_cue, bottom_cue = _end_cues(chain)
    for n0 in scores:
        if top_cue and n0 == 2:
            scores[n0] += cfg.CUE_BONUS
        if lumbosacral is not None and n0 + lumbosacral == 24:
            scores[n0] += 2 * cfg.CUE_BONUS
        elif bottom_cue and n0 + n - 1 == 24:
            scores[n0] += cfg.CUE_BONUS
    numbers = np.array(list(scores))
    values = np.array([scores[k] for k in numbers])
    prob = np.exp(values - values.max())
    prob /= prob.sum()
    best = int(numbers[np.argmax(prob)])
    p_best = float(prob.max())
    from_dens = bool(top_cue and best == 2 and p_best >= 0.8)
    from_sacrum = lumbosacral is not None and best + lumbosacral == 24 and p_best >= 0.8
    if from_dens:
        messages.append("top disc named C2/C3: no disc above it for the height of C2 and the dens")
    if from_sacrum:
        below = len(chain.s) - 1 - lumbosacral
        messages.append(f"disc named L5/S1 from its tilt: it leans {tilt[lumbosacral]:.0f} deg, "
                        f"{tilt[lumbosacral] - tilt[lumbosacral - 1]:.0f} deg more than the disc above (the sacrum's "
                        "upper surface)" + (f"; {below} band(s) below it in the sacrum left out" if below else ""))
    if from_dens or from_sacrum:
        return best, p_best, True, ""
    last = best + n - 1
    confirm = disc_name(min(last, 24)) if last >= 20 or best > 8 else disc_name(max(best, 2))
    messages.append(f"not sure of the names (from disc spacing, probability {p_best:.2f}, no landmark seen): "
                    f"confirm {confirm} (or give an anchor) and shift the labels if needed")
    # Names without a landmark are a guess, whatever the spacing says: the points' confidences show it.
    return best, min(p_best, cfg.UNSURE_NAME_PROBABILITY), False, confirm


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
                 messages: list[str], normals: np.ndarray | None = None) -> list[ProposedLandmark]:
    """Return interleaved disc and body points, cranial first, with names and confidences.

    Takes the chain, its disc positions (N, 3) RAS mm, the number ``n0`` of the vertebra above the
    top disc, the name probability, and optionally each disc's plane normal (N, 3) RAS (None rows:
    not measured). Discs whose names would fall outside C1/C2..L5/S1 are left out, and said so.
    """
    keep = [k for k in range(len(chain.s)) if 1 <= n0 + k <= 24]
    if len(keep) < len(chain.s):
        messages.append(f"{len(chain.s) - len(keep)} disc-like band(s) beyond C1/C2..L5/S1 under these names "
                        "were left out")
    if not keep:
        return []
    first, last = keep[0], keep[-1] + 1
    s, t, positions = chain.s[first:last], chain.t[first:last], positions[first:last]
    n0 += first
    strength_conf = np.clip(chain.strength[first:last] / 8.0, 0.0, 1.0)
    strength_conf = np.where(chain.interpolated[first:last], 0.3, 0.5 + 0.5 * strength_conf)
    normals = None if normals is None else normals[first:last]

    def body(number: int, s_mm: float, t_mm: float, confidence: float) -> ProposedLandmark:
        point = frame_to_ras(grid, chain.frame, np.array([s_mm]), np.array([t_mm]))[0]
        return ProposedLandmark(level_name(number), point, round(float(confidence), 3), "body")

    points: list[ProposedLandmark] = []
    # Bodies above the top disc and below the bottom disc, when inside the image (half a segment out).
    if len(s) >= 2 and 1 <= n0 and s[0] - 0.5 * (s[1] - s[0]) >= chain.s_valid[0]:
        points.append(body(n0, s[0] - 0.5 * (s[1] - s[0]), t[0], 0.6 * strength_conf[0] * name_prob))
    for k in range(len(s)):
        normal = None if normals is None or normals[k] is None else np.asarray(normals[k], dtype=float)
        points.append(ProposedLandmark(disc_name(n0 + k), positions[k],
                                       round(float(strength_conf[k] * name_prob), 3), "disc", normal))
        if k + 1 < len(s):
            conf = min(strength_conf[k], strength_conf[k + 1]) * name_prob
            points.append(body(n0 + k + 1, 0.5 * (s[k] + s[k + 1]), 0.5 * (t[k] + t[k + 1]), conf))
    s_bottom = s[-1] + 0.5 * (s[-1] - s[-2]) if len(s) >= 2 else np.inf
    if s_bottom <= chain.s_valid[1] and n0 + len(s) <= 25:
        points.append(body(n0 + len(s), s_bottom, t[-1], 0.6 * strength_conf[-1] * name_prob))
    return points
