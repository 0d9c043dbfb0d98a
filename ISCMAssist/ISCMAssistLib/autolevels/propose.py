"""``propose_levels``: the pipeline of automatic levels, from a volume to a LevelProposal."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from . import settings as cfg
from .detect import best_chain, not_a_spine
from .grid import chain_positions, lateral_centre, sagittal_grid, si_step_mm
from .labels import check_anchor
from .naming import build_points, name_from_anatomy, name_from_anchor
from .records import AutoLevelsError, LevelProposal

ProgressCallback = Callable[[int, int], None]


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
    anchor_label, anchor_ras = check_anchor(anchor)
    report(0, total)
    step = si_step_mm(volume)
    if step > cfg.MAX_SI_STEP_MM:
        report(total, total)
        return LevelProposal([], False, [f"no spine found: the image samples the spine's length every {step:.1f} mm; "
                                         f"discs (4-10 mm high) need {cfg.MAX_SI_STEP_MM:.0f} mm or finer (use a sagittal series)"],
                             spine_found=False, contrast="")
    grid, chain, problem = None, None, "no regular chain of intervertebral discs"
    # The spine is usually in the middle of a sagittal series; if not, look beside it.
    for n, offset in enumerate(cfg.LATERAL_OFFSETS_MM):
        candidate_grid = sagittal_grid(volume, offset)
        if candidate_grid is None:
            continue
        candidate = best_chain(candidate_grid, contrast)
        # Beside the middle more evidence is asked for: paraspinal muscle and vessels make bands too.
        candidate_problem = ("no regular chain of intervertebral discs" if candidate is None
                             else not_a_spine(candidate, strict=bool(offset)))
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
    grid.x = lateral_centre(volume, grid, chain)
    positions = chain_positions(grid, chain)
    if anchor_label is not None:
        first_number, name_prob, confident = name_from_anchor(chain, positions, anchor_label, anchor_ras, messages)
    else:
        first_number, name_prob, confident = name_from_anatomy(chain, messages)
    report(4, total)
    points = build_points(grid, chain, positions, first_number, name_prob, messages)
    report(total, total)
    return LevelProposal(points, confident, messages, spine_found=True,
                         contrast="t2" if chain.polarity > 0 else "t1")
