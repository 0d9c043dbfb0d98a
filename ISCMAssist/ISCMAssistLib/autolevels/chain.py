"""The regular chain of disc peaks: dynamic programming over the profile's peaks, its cranial
extension, and each disc's centre between its two faces."""

from __future__ import annotations

import numpy as np

from . import settings as cfg


def regular_chain(s: np.ndarray, strength: np.ndarray, messages: list[str],
                  through: tuple[float, str] | None = None):
    """Choose the chain of peaks with the most total strength and a smoothly varying spacing.

    Takes peak positions ``s`` (mm, increasing) and strengths (prominence / noise). Dynamic
    programming over pairs of consecutive chain members: each peak adds its strength minus 35 %
    of the strongest peak within 40 mm (contrast may change along the spine; weak ripples only
    join when they are needed), each step must be 10-50 mm and within a factor cfg.RATIO_RANGE of
    the step before. A step spanning two segments counts as one unseen disc, with a penalty; that
    disc is interpolated. ``through`` (position mm, "disc" | "body"), from an anchor, forces the
    chain through that point (see _anchor_bonus). Returns (positions, strengths, interpolated flags),
    cranial first.
    """
    s, strength, bonus = _anchor_bonus(np.asarray(s, dtype=float), np.asarray(strength, dtype=float), through)
    n = len(s)
    if n == 0:
        return np.array([]), np.array([]), np.array([], bool)
    local_max = np.array([strength[np.abs(s - si) <= 40.0].max() for si in s])
    threshold = 0.35 * local_max
    weight = strength - threshold + bonus
    # Forced through an anchor, the spacing next to it is noisier (the anchor is a disc centre, its
    # neighbours are profile peaks, as often on a disc face): a wider range is allowed there.
    low, high = cfg.RATIO_RANGE if through is None else cfg.REFIT_RATIO_RANGE
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
                    if low <= ratio <= high:
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
    chosen = [peak for peak, _ in members]
    strong_left_out = int(np.sum((strength >= 0.8 * local_max) & ~np.isin(np.arange(n), chosen)))
    if strong_left_out:
        messages.append(f"{strong_left_out} strong disc-like peak(s) outside the regular chain were left out")
    return _unroll(members, s, strength, messages)


def _unroll(members: list[tuple[int, int]], s: np.ndarray, strength: np.ndarray, messages: list[str]):
    """Turn chain members (peak index, segments before it) into (positions, strengths, interpolated),
    inserting the unseen disc midway across each two-segment step (and saying so)."""
    out_s, out_st, out_interp = [], [], []
    for index, (peak, m) in enumerate(members):
        if index > 0 and m == 2:
            messages.append(f"a disc was not seen between two others {s[peak] - out_s[-1]:.0f} mm apart; "
                            "its position is interpolated")
            out_s.append(0.5 * (out_s[-1] + s[peak])), out_st.append(0.0), out_interp.append(True)
        out_s.append(float(s[peak])), out_st.append(float(strength[peak])), out_interp.append(False)
    return np.array(out_s), np.array(out_st), np.array(out_interp, dtype=bool)


def _anchor_bonus(s: np.ndarray, strength: np.ndarray, through: tuple[float, str] | None):
    """Return (peak positions, strengths, weight bonus per peak) that force a chain through an anchor.

    A disc anchor takes the nearest peak within cfg.REFIT_SNAP_MM, or is added as a peak of median
    strength; that peak gets cfg.REFIT_BONUS. A body anchor gives the bonus to the nearest peak on
    each side within cfg.REFIT_BODY_REACH_MM (the discs above and below the body).
    """
    bonus = np.zeros(len(s))
    if through is None or len(s) == 0:
        return s, strength, bonus
    position, kind = through
    if kind == "disc":
        k = int(np.argmin(np.abs(s - position)))
        if abs(s[k] - position) > cfg.REFIT_SNAP_MM:
            k = int(np.searchsorted(s, position))
            s = np.insert(s, k, position)
            strength = np.insert(strength, k, float(np.median(strength)))
            bonus = np.zeros(len(s))
        bonus[k] = cfg.REFIT_BONUS
        return s, strength, bonus
    for side in (s < position, s > position):
        candidates = np.flatnonzero(side & (np.abs(s - position) <= cfg.REFIT_BODY_REACH_MM))
        if candidates.size:
            bonus[candidates[np.argmin(np.abs(s[candidates] - position))]] = cfg.REFIT_BONUS
    return s, strength, bonus


def extend_chain(chain: np.ndarray, chain_strength: np.ndarray, interpolated: np.ndarray, peaks: np.ndarray,
                  strength: np.ndarray, messages: list[str]):
    """Extend a regular chain at its cranial end with weaker peaks that continue its rhythm.

    Small cervical discs give weaker edges than thoracic and lumbar ones, so the strongest chain may
    stop short of C2/C3. (Not at the caudal end: the sacrum's fusion lines would continue the rhythm.) Takes the chain (positions mm, strengths, interpolated flags) and all peaks (positions,
    strengths); a peak joins when it lies one step (the end step, within cfg.EXTEND_TOLERANCE) beyond
    the end and is at least cfg.EXTEND_MIN_FRACTION as strong as the chain's end discs. One unseen disc
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
            floor = cfg.EXTEND_MIN_FRACTION * float(np.median([x for x in ends if x > 0] or [0.0]))

            def near(k: int) -> int | None:
                target = end + direction * k * step
                ok = (np.abs(peaks - target) <= cfg.EXTEND_TOLERANCE * step) & (strength >= floor)
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


def refine_discs(profile: np.ndarray, signed: np.ndarray, s: np.ndarray, interpolated: np.ndarray) -> np.ndarray:
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
