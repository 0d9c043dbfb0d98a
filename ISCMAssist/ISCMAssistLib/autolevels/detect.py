"""Disc detection for automatic levels: follow the canal, straighten along it, take the disc profile
in front of it and keep the regular chain of its peaks."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from . import settings as cfg
from .chain import extend_chain, refine_discs, regular_chain
from .records import Chain, Grid


def best_chain(grid: Grid, contrast: str, through: tuple[np.ndarray, str] | None = None) -> tuple[Chain | None, bool]:
    """Return (the better of the T2 (bright CSF) and T1 (dark CSF) readings of ``grid`` or None,
    whether the contrast is sure). ``contrast`` "t2" / "t1" takes that reading only (sure); "auto"
    is not sure when the other reading also shows a canal on its side (brighter, resp. darker, than
    the column) and a chain at least cfg.CONTRAST_RIVAL_SCORE as strong. ``through``: see detect_chain.
    """
    chains = [] if contrast == "t1" else [detect_chain(grid, 1, through)]
    # A clearly bright canal with a disc chain means a T2-like contrast: no need to try the T1 reading.
    t2_clear = (contrast == "auto" and chains[0] is not None and chains[0].csf_ratio >= cfg.T2_CSF_RATIO
                and not not_a_spine(chains[0]))
    if contrast == "t1" or (contrast == "auto" and not t2_clear):
        chains.append(detect_chain(grid, -1, through))
    chains = [c for c in chains if c is not None]
    # A reading that passes the spine checks beats one that does not; then the stronger chain.
    best = max(chains, key=lambda c: (not not_a_spine(c), c.score), default=None)
    if best is None or contrast != "auto":
        return best, True
    rivals = [c for c in chains if c is not best and c.score >= cfg.CONTRAST_RIVAL_SCORE * best.score
              and len(c.s) >= cfg.MIN_SEEN_DISCS]
    return best, not rivals


def dp_path(score: np.ndarray, penalty: float) -> np.ndarray:
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


def normalise(image: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Scale intensities so that the 99.5th percentile inside the volume is 1; outside is 0."""
    values = image[valid]
    scale = float(np.percentile(values, 99.5)) if values.size else 1.0
    return np.where(valid, image / scale if scale > 0 else 0.0, 0.0).astype(np.float32)


def detect_chain(grid: Grid, polarity: int, through: tuple[np.ndarray, str] | None = None) -> Chain | None:
    """Find the canal, straighten along it, and return the chain of disc peaks (or None).

    ``polarity`` is +1 for a bright canal (T2), -1 for a dark one (T1). ``through`` (RAS mm point,
    "disc" | "body") is an anchor the chain must pass through: a disc anchor becomes one of the
    chain's discs (at the nearest peak within cfg.REFIT_SNAP_MM, else at the anchor), a body anchor
    lies between two of them.
    """
    valid = np.isfinite(grid.image)
    if valid.sum() < 100:
        return None
    img = normalise(grid.image, valid)
    canal = _follow_canal(img, polarity)
    straightened = _straighten(img, valid, canal)
    if straightened is None:
        return None
    frame, straight, inside = straightened
    found = _disc_profile(straight, inside, frame, polarity)
    if found is None:
        return None
    profile, signed, edges, seen = found
    s = np.arange(profile.size, dtype=float)
    s_valid = (float(s[seen].min()), float(s[seen].max()))
    noise = 1.4826 * float(np.median(np.abs(profile[seen] - np.median(profile[seen])))) + 1e-9
    from scipy.signal import find_peaks  # importing scipy.signal takes ~1 s; only a proposal needs it

    peaks, props = find_peaks(profile, distance=8, prominence=0.5 * noise)
    if peaks.size == 0:
        return None
    strength = props["prominences"] / noise
    frame.update(profile=profile, peaks=peaks, strength=strength)  # for figures
    messages: list[str] = []
    column_arc = frame["column_arc"]
    peak_c = column_arc[peaks]
    anchor = None
    if through is not None:
        anchor_s = frame_s_of(grid, frame, through[0])
        anchor = (float(np.interp(anchor_s, s, column_arc)), through[1])
    chain_c, chain_strength, interpolated = regular_chain(peak_c, strength, messages, through=anchor)
    if chain_c.size == 0:
        return None
    chain_c, chain_strength, interpolated = extend_chain(chain_c, chain_strength, interpolated, peak_c, strength,
                                                         messages)
    in_chain = np.isin(peak_c, chain_c)
    weak_peaks, weak_strength = peaks[~in_chain].astype(float), strength[~in_chain]
    chain_s = refine_discs(profile, signed, np.interp(chain_c, column_arc, s), interpolated)
    csf_ratio = _csf_ratio(straight, frame, seen, polarity)
    if csf_ratio is None:
        return None
    t_disc = np.array([_disc_t(edges, frame["t"], frame["column"], si) for si in chain_s])
    seen_fraction = 1.0 - float(interpolated.mean())
    score = float(np.median(chain_strength[~interpolated])) * seen_fraction if (~interpolated).any() else 0.0
    return Chain(polarity, chain_s, t_disc, chain_strength, interpolated, score, frame, s_valid,
                 weak_peaks, weak_strength, messages, csf_ratio)


def _follow_canal(img: np.ndarray, polarity: int) -> np.ndarray:
    """Return, per row of the sagittal image, the column of the spinal canal (dynamic programming).

    The canal is a CSF ridge along S-I, ~8-16 mm wide (bright on T2, dark on T1), with disc-like
    bands 6-40 mm in front of it and tissue (posterior elements) behind it, unlike the skin's fat.
    """
    cols = img.shape[1]
    along = ndimage.gaussian_filter(img, (6.0, 0.0))
    tube = np.maximum(-polarity * ndimage.gaussian_filter(along, (0.0, 4.0), order=(0, 2)), 0.0)
    tube /= float(np.percentile(tube, 99.5)) + 1e-9
    bands = polarity * (ndimage.gaussian_filter(img, (1.5, 3.0)) - ndimage.gaussian_filter(img, (5.0, 3.0)))
    energy = ndimage.gaussian_filter(np.maximum(bands, 0.0), (10.0, 4.0))
    energy /= float(np.percentile(energy, 99.5)) + 1e-9
    in_front = np.zeros_like(energy)
    for offset in range(6, 41, 2):   # anterior = lower column index
        if offset < cols:
            shifted = np.zeros_like(energy)
            shifted[:, offset:] = energy[:, : cols - offset]
            in_front = np.maximum(in_front, shifted)
    smooth = ndimage.gaussian_filter(img, 3.0)
    behind = np.full_like(img, np.inf)
    for offset in range(10, 26, 3):   # posterior = higher column index
        shifted = np.zeros_like(img)
        if offset < cols:
            shifted[:, : cols - offset] = smooth[:, offset:]
        behind = np.minimum(behind, shifted)
    tissue_behind = np.clip(behind / 0.08, 0.0, 1.0)
    return dp_path(np.sqrt(tube * in_front) * tissue_behind, penalty=0.15)


def _straighten(img: np.ndarray, valid: np.ndarray, canal: np.ndarray):
    """Straighten the image along the (smoothed) canal path; t > 0 is anterior.

    Returns (frame dict: canal path zs, ys and normals nz, ny per mm of arc s, t samples, canal;
    straightened image (s, t); inside-the-volume mask (s, t)), or None for a path under 40 mm.
    """
    z = np.arange(img.shape[0], dtype=float)
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
    t = np.arange(cfg.T_RANGE_MM[0], cfg.T_RANGE_MM[1] + 1e-6, 1.0)
    rr = zs[:, None] + t[None] * nz[:, None]
    cc = ys[:, None] + t[None] * ny[:, None]
    straight = ndimage.map_coordinates(img, [rr, cc], order=1, mode="constant", cval=0.0)
    inside = ndimage.map_coordinates(valid.astype(np.float32), [rr, cc], order=0, mode="constant", cval=0.0)
    return {"zs": zs, "ys": ys, "nz": nz, "ny": ny, "t": t, "canal": canal}, straight, inside


def _disc_profile(straight: np.ndarray, inside: np.ndarray, frame: dict, polarity: int):
    """Return (edge profile along s, signed gradient profile, edge image, seen mask) or None.

    Disc levels are where intensity changes along the spine (disc, endplates, body edges), bright or
    dark discs alike; body centres are uniform. Also stores the column path, the canal wall and the
    arc length along the column (spacing is measured there: where the canal bends, arc length in
    front of it differs from arc length along it) in ``frame``.
    """
    t = frame["t"]
    gradient = ndimage.gaussian_filter(straight, (1.0, cfg.BAND_T_SIGMA), order=(1, 0))
    edges = ndimage.gaussian_filter1d(np.abs(gradient), cfg.EDGE_S_SIGMA, axis=0)
    border = ndimage.binary_dilation(inside < 1, iterations=4)   # no edges from the field of view's border
    edges[border] = 0.0
    column_energy = ndimage.gaussian_filter(np.where(t[None] < cfg.COLUMN_MIN_T_MM, 0.0, edges), (12.0, 3.0))
    # Row-normalised: the column is followed as well where its contrast is faint.
    column_energy /= column_energy.max(axis=1, keepdims=True) + 1e-12
    column = dp_path(column_energy, penalty=0.02)
    wall = _canal_wall(straight, t, column, polarity)
    from_wall = t[None] - wall[:, None]
    near = (from_wall >= cfg.STRIP_FROM_WALL_MM[0]) & (from_wall <= cfg.STRIP_FROM_WALL_MM[1]) & (inside > 0)
    # Less smoothing across the column than the path's: near the canal the strip is narrow
    # (cervical bodies are 15-20 mm deep) and discs may be tilted.
    strip_gradient = ndimage.gaussian_filter(straight, (1.0, cfg.PROFILE_T_SIGMA), order=(1, 0))
    strip_edges = ndimage.gaussian_filter1d(np.abs(strip_gradient), cfg.EDGE_S_SIGMA, axis=0)
    strip_edges[border] = 0.0
    rows = np.arange(straight.shape[0])
    seen = inside[rows, column] > 0
    if seen.sum() < 40:
        return None
    count = np.maximum(near.sum(axis=1), 1)
    profile = np.where(seen, (strip_edges * near).sum(axis=1) / count, 0.0)
    signed = np.where(seen, (gradient * near).sum(axis=1) / count, 0.0)
    column_t = ndimage.gaussian_filter1d(t[column].astype(float), 5.0, mode="nearest")
    steps = np.hypot(np.diff(frame["zs"] + column_t * frame["nz"]), np.diff(frame["ys"] + column_t * frame["ny"]))
    frame.update(column=column, wall=wall, column_arc=np.concatenate([[0.0], np.cumsum(steps)]))
    return profile, signed, edges, seen


def _csf_ratio(straight: np.ndarray, frame: dict, seen: np.ndarray, polarity: int) -> float | None:
    """Return canal / column median intensity, or None when the canal is not brighter (T2) or
    darker (T1) than the column as ``polarity`` says."""
    t, column = frame["t"], frame["column"]
    canal_level = float(np.median(straight[:, np.abs(t) <= 3.0][seen]))
    column_level = float(np.median(straight[np.arange(straight.shape[0]), column][seen]))
    if polarity * (canal_level - column_level) <= 0:
        return None
    return canal_level / max(column_level, 1e-6)


def frame_s_of(grid: Grid, frame: dict, point_ras: np.ndarray) -> float:
    """Return the arc length s (mm along the straightened canal) of the foot of an RAS point: the
    canal sample whose normal passes nearest the point (within 10 mm behind to 60 mm in front)."""
    row = (grid.z0 - float(point_ras[2])) / cfg.STEP_MM
    col = (grid.y0 - float(point_ras[1])) / cfg.STEP_MM
    d_row, d_col = row - frame["zs"], col - frame["ys"]
    across = d_row * frame["nz"] + d_col * frame["ny"]
    along = np.hypot(d_row, d_col) ** 2 - across ** 2
    along = np.where((across >= -10.0) & (across <= 60.0), along, np.inf)
    if not np.isfinite(along).any():
        along = np.hypot(d_row, d_col)
    return float(np.argmin(along))


def _canal_wall(straight: np.ndarray, t: np.ndarray, column: np.ndarray, polarity: int) -> np.ndarray:
    """Return, per row of the straightened image, t (mm) of the canal's anterior wall.

    The wall is the steepest CSF-to-column step (a fall on T2, a rise on T1) between
    cfg.WALL_SEARCH_MM behind the column path, median-filtered along the spine (31 mm) so that disc
    bulges and the basivertebral veins do not move it.
    """
    smooth = ndimage.gaussian_filter(straight, (3.0, 1.0))
    step = polarity * np.diff(smooth, axis=1)        # negative where intensity falls going anterior (T2)
    mid_t = 0.5 * (t[:-1] + t[1:])
    column_t = t[column]
    allowed = ((mid_t[None] >= column_t[:, None] - cfg.WALL_SEARCH_MM[0])
               & (mid_t[None] <= column_t[:, None] - cfg.WALL_SEARCH_MM[1]) & (mid_t[None] >= t[0] + 2.0))
    step = np.where(allowed, step, np.inf)
    wall = mid_t[np.argmin(step, axis=1)]
    wall = np.where(np.isfinite(step.min(axis=1)), wall, column_t - 3.0 - cfg.STRIP_FROM_WALL_MM[0])
    return ndimage.median_filter(wall, 31, mode="nearest")


def not_a_spine(chain: Chain, strict: bool = False, told: bool = False) -> str:
    """Return why ``chain`` is not taken for a spine, or "" when it is.

    A spine has at least cfg.MIN_SEEN_DISCS discs actually seen (at most a quarter interpolated;
    ``strict``, for slabs beside the middle of the series: cfg.MIN_SEEN_DISCS_BESIDE), a
    canal clearly brighter (T2) or darker (T1) than the column, and disc peaks standing out of the
    profile noise. When this was tuned, noise, smooth random blobs and a plain sphere gave a
    canal/column contrast of 0.9-1.2; real and synthetic spines >= 1.3 (T2) or <= 0.65 (T1).
    ``told``: the reader gave the contrast, so a fainter canal and fainter discs are accepted
    (cfg.TOLD_CSF_RATIO, cfg.TOLD_MIN_SCORE; the tutorial t2_lumbar measures 1.16 and 1.9 on its T2
    reading).
    """
    seen = int((~chain.interpolated).sum())
    if seen < (cfg.MIN_SEEN_DISCS_BESIDE if strict else cfg.MIN_SEEN_DISCS) or chain.interpolated.mean() > 0.25:
        return f"only {seen} disc-like bands in a regular chain ({int(chain.interpolated.sum())} gaps)"
    if len(chain.s) > 24:
        return f"{len(chain.s)} disc-like bands in a row, more than a spine has (24)"
    ratio = cfg.TOLD_CSF_RATIO if told else cfg.T2_CSF_RATIO
    if chain.polarity > 0 and chain.csf_ratio < ratio or chain.polarity < 0 and chain.csf_ratio > 1.0 / ratio:
        return f"no spinal canal standing out from the column (canal/column contrast {chain.csf_ratio:.2f})"
    if chain.score < (cfg.MIN_SCORE_BESIDE if strict else cfg.TOLD_MIN_SCORE if told else cfg.MIN_SCORE):
        return f"disc-like bands too faint (strength {chain.score:.1f} x noise)"
    return ""


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
