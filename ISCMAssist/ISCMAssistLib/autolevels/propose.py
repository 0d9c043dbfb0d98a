"""``propose_levels``: the pipeline of automatic levels, from a volume to a LevelProposal."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..progress import ProgressCallback
from ..vertebrae import landmark_coordinate
from . import settings as cfg
from .detect import best_chain, frame_s_of, not_a_spine
from .grid import chain_positions, lateral_centre, sagittal_grid, si_step_mm
from .labels import check_anchor
from .naming import build_points, name_from_anatomy, name_from_anchor
from .orientation import disc_orientations
from .records import AutoLevelsError, Chain, Grid, LevelProposal



def propose_levels(
    volume,
    anchor: tuple[str, Sequence[float]] | None = None,
    progress: ProgressCallback | None = None,
    contrast: str = "auto",
) -> LevelProposal:
    """Find and name the intervertebral discs and vertebral body centres on a sagittal spine MRI.

    Takes a volumes.Volume (any orientation; sagittal T2 or T1, NIfTI or DICOM), an optional
    ``anchor`` (label such as "T4" or "T4/T5", RAS mm point the reader named: every other name
    follows from it, and a chain that misses it is detected again through it), ``progress(done,
    total)`` and ``contrast`` ("t2": discs and CSF bright, "t1": both dark, "auto": whichever fits
    better, with ``contrast_sure`` False when both fit). Returns a LevelProposal whose points are RAS
    mm with confidences 0..1 (discs also with their plane normal where measured); with no spine found
    it has no points, ``spine_found`` False and a message saying so. Raises AutoLevelsError for an
    unusable volume, anchor or contrast.
    """
    report = progress or (lambda done, total: None)
    if contrast not in ("auto", "t2", "t1"):
        raise AutoLevelsError(f"contrast: '{contrast}' is not one of auto, t2, t1")
    anchor_label, anchor_ras = check_anchor(anchor)
    report(0, 5)
    step = si_step_mm(volume)
    if step > cfg.MAX_SI_STEP_MM:
        report(5, 5)
        return _no_spine(f"the image samples the spine's length every {step:.1f} mm; discs (4-10 mm high) need "
                         f"{cfg.MAX_SI_STEP_MM:.0f} mm or finer (use a sagittal series)")
    grid, chain, sure, problem = _find_spine(volume, contrast, report)
    report(3, 5)
    if problem or grid is None or chain is None:
        report(5, 5)
        return _no_spine(problem)
    if anchor_label is not None:
        grid, chain, sure = _refit_through_anchor(volume, grid, chain, sure, contrast, anchor_label, anchor_ras)
    messages = list(chain.messages)
    detection_x = grid.x
    # The points go on the reader's plane (the anchor's R), else on the mid-sagittal plane near the discs.
    grid.x = float(anchor_ras[0]) if anchor_label is not None else lateral_centre(volume, grid, chain)
    if anchor_label is not None and landmark_coordinate(anchor_label) % 1:
        # The reader's disc is where the reader put it along the spine (A-P stays the image's: a click
        # on the disc's back or on the cord names the same disc).
        s_anchor = frame_s_of(grid, chain.frame, anchor_ras)
        chain.s[int(np.argmin(np.abs(chain.s - s_anchor)))] = s_anchor
    positions = chain_positions(grid, chain)
    normals, tilt, clarity = _disc_planes(Grid(grid.image, grid.z0, grid.y0, detection_x), chain, positions)
    confirm = ""
    if anchor_label is not None:
        first_number, name_prob, confident = name_from_anchor(chain, positions, anchor_label, anchor_ras, messages)
    else:
        first_number, name_prob, confident, confirm = name_from_anatomy(chain, messages, tilt, clarity)
    report(4, 5)
    points = build_points(grid, chain, positions, first_number, name_prob, messages, normals)
    if not sure:
        messages.append(f"contrast not sure: read as {_contrast(chain).upper()} (canal/column brightness "
                        f"{chain.csf_ratio:.2f}); if the CSF is {'dark' if chain.polarity > 0 else 'bright'} on this "
                        f"series, run again with contrast {'t1' if chain.polarity > 0 else 't2'} (--contrast)")
    report(5, 5)
    return LevelProposal(points, confident, messages, spine_found=True, contrast=_contrast(chain),
                         contrast_sure=sure, confirm=confirm)


def _disc_planes(slab: Grid, chain: Chain, positions: np.ndarray) -> tuple[list, np.ndarray, np.ndarray]:
    """Return (each disc's plane normal (3,) RAS or None where not measured clearly, tilt deg, clarity)
    measured on the detection ``slab`` (orientation.disc_orientations, window scaled to the local
    disc spacing). A disc crosses the spine: a "plane" whose normal leans more than
    cfg.ORIENTATION_MAX_FROM_AXIS_DEG from the canal's own direction is a wall, not a disc (clarity 0).
    """
    gaps = np.diff(chain.s)
    local = np.minimum(np.concatenate([[np.inf], gaps]), np.concatenate([gaps, [np.inf]]))
    normals, tilt, clarity = disc_orientations(slab, positions, local)
    index = np.arange(chain.frame["zs"].size, dtype=float)
    axis = np.degrees(np.arctan2(np.interp(chain.s, index, np.gradient(chain.frame["ys"])),
                                 np.interp(chain.s, index, np.gradient(chain.frame["zs"]))))
    clarity = np.where(np.abs(tilt - axis) <= cfg.ORIENTATION_MAX_FROM_AXIS_DEG, clarity, 0.0)
    clear = [n if c >= cfg.ORIENTATION_MIN_CLARITY else None for n, c in zip(normals, clarity)]
    return clear, tilt, clarity


def _no_spine(why: str) -> LevelProposal:
    return LevelProposal([], False, [f"no spine found: {why}"], spine_found=False, contrast="")


def _contrast(chain: Chain) -> str:
    return "t2" if chain.polarity > 0 else "t1"


def _find_spine(volume, contrast: str, report) -> tuple[Grid | None, Chain | None, bool, str]:
    """Return (grid, chain, contrast sure, problem) of the first slab that holds a spine.

    The spine is usually in the middle of a sagittal series; if not, slabs beside it are tried, and
    there more evidence is asked for (paraspinal muscle and vessels make bands too). ``problem`` is
    "" when a spine was found, else why not (for the slab nearest the middle).
    """
    grid, chain, sure, problem = None, None, True, "no regular chain of intervertebral discs"
    for n, offset in enumerate(cfg.LATERAL_OFFSETS_MM):
        candidate_grid = sagittal_grid(volume, offset)
        if candidate_grid is None:
            continue
        candidate, candidate_sure = best_chain(candidate_grid, contrast)
        candidate_problem = ("no regular chain of intervertebral discs" if candidate is None
                             else not_a_spine(candidate, strict=bool(offset), told=contrast != "auto"))
        if grid is None or not candidate_problem:
            grid, chain, sure, problem = candidate_grid, candidate, candidate_sure, candidate_problem
        report(min(1 + n, 3), 5)
        if not problem:
            break
    return grid, chain, sure, problem


def _refit_through_anchor(volume, grid: Grid, chain: Chain, sure: bool, contrast: str, label: str,
                          point: np.ndarray) -> tuple[Grid, Chain, bool]:
    """Return (grid, chain, sure), detected again through the anchor when the chain misses it.

    The chain misses a disc anchor when no chain disc lies within cfg.REFIT_FAR_MM of it along the
    spine (a body anchor: no body midway between two discs), or when the anchor lies more than
    cfg.REFIT_LATERAL_MM to the side of the slab (then the new slab is centred on the anchor).
    """
    kind = "disc" if landmark_coordinate(label) % 1 else "body"
    s_anchor = frame_s_of(grid, chain.frame, point)
    targets = chain.s if kind == "disc" else 0.5 * (chain.s[:-1] + chain.s[1:])
    along = float(np.min(np.abs(targets - s_anchor))) if len(targets) else np.inf
    lateral = abs(float(point[0]) - grid.x)
    if along <= cfg.REFIT_FAR_MM and lateral <= cfg.REFIT_LATERAL_MM:
        return grid, chain, sure
    new_grid = grid
    if lateral > cfg.REFIT_LATERAL_MM:
        middle = sagittal_grid(volume, 0.0)
        new_grid = sagittal_grid(volume, float(point[0]) - middle.x) if middle is not None else None
        new_grid = new_grid or grid
    new_chain, new_sure = best_chain(new_grid, contrast, through=(point, kind))
    if new_chain is None:
        chain.messages.append(f"anchor {label}: no chain of discs could be detected through it; names follow it "
                              "on the chain found without it")
        return grid, chain, sure
    new_chain.messages.append(f"anchor {label} lay {along:.0f} mm along the spine (and {lateral:.0f} mm to the side) "
                              "from the nearest proposed level: the chain was re-detected through it")
    return new_grid, new_chain, new_sure
