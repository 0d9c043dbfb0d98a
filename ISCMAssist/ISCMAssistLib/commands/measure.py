"""``iscm-assist measure``: sizes and segment counts of lesion/edema masks against vertebral levels."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..case import DEFAULT_CASE_ID


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``measure``."""
    parser.add_argument("--volume", required=True, type=Path,
                        help="the image read: NIfTI file or DICOM series folder")
    parser.add_argument("--levels", required=True, type=Path,
                        help="vertebral levels: a .mrk.json point list (labels 'T4', 'T4/T5', 'conus'; a disc "
                             "label twice, or a Line named for the disc, is the disc drawn from its anterior to "
                             "its posterior margin) or a level label map (NIfTI/DICOM; 1 = C1 ... 8 = T1 ...: "
                             "the cord/canal by level, or vertebral-body masks)")
    parser.add_argument("--lesion-seg", type=Path, help="binary mask of the enhancing lesion")
    parser.add_argument("--edema-seg", type=Path, help="binary mask of the cord T2 hyperintensity")
    parser.add_argument("--role", default="t2_sagittal",
                        choices=["t2_sagittal", "t1_pre", "t1_post", "t2_axial", "t1_post_axial", "other"],
                        help="series role of --volume in the case (default t2_sagittal)")
    parser.add_argument("--case-id", default=DEFAULT_CASE_ID, help=f"pseudonymous case id (default {DEFAULT_CASE_ID})")
    parser.add_argument("--out", type=Path, help="write the case JSON here instead of printing it")
    parser.add_argument("--resample-masks", action="store_true",
                        help="resample masks drawn on another grid onto --volume's grid (nearest neighbour; "
                             "a warning says so); without it such a mask is refused")


def run(args: argparse.Namespace) -> int:
    """Measure the masks, print or write the case JSON; return 0, or raise with a clear message."""
    from ..case import new_case, new_lesion
    from ..case_io import save_case
    from ..cli import CommandError
    from ..read import LesionMasks, compute_read, levels_record
    from ..images import load_volume

    if args.lesion_seg is None and args.edema_seg is None:
        raise CommandError("give --lesion-seg and/or --edema-seg: there is nothing to measure")
    volume = load_volume(args.volume)
    for warning in volume.warnings:  # skipped files, blank slices inserted: never silent
        print(f"warning: {warning}", file=sys.stderr)
    # Discs given as points take their tilt from the image the masks were drawn on.
    model = load_level_model(args.levels).with_image_planes(volume)
    warnings: list[str] = list(model.plane_notes)
    lesion_mask = _measure_mask(args.lesion_seg, volume, model, "lesion", warnings, args.resample_masks)
    edema_mask = _measure_mask(args.edema_seg, volume, model, "edema", warnings, args.resample_masks)

    case = new_case(args.case_id)
    case["series"] = [{"role": args.role, "file": args.volume.name}]
    case["levels"] = levels_record(model, source="landmarks" if _is_markups(args.levels) else "label_map")
    lesion = new_lesion("L1")
    case["lesions"].append(lesion)
    compute_read(case, model, masks={"L1": LesionMasks(lesion=lesion_mask, edema=edema_mask)},
                 warnings=warnings)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.out:
        save_case(case, args.out)
        print(f"wrote {args.out}")
    else:
        print(json.dumps(case, indent=2))
    return 0


def load_level_model(path: Path):
    """Take a .mrk.json point list (and disc lines) or a level label map path; return a levels.LevelModel."""
    import numpy as np

    from ..levels import LevelModel
    from ..markups_io import read_markups
    from ..images import load_volume

    if _is_markups(path):
        nodes = read_markups(path)
        # A Line named for a disc ("L4/L5") is that disc drawn from its anterior to its posterior margin.
        disc_lines = [node for node in nodes if node.type == "Line" and _names_disc(node.name)]
        lists = [node for node in nodes if node not in disc_lines and len(node.labels) >= 2]
        labels = list(lists[0].labels) if lists else []
        points = [lists[0].points_ras] if lists else []
        for line in disc_lines:
            labels += [line.name.strip()] * 2
            points.append(line.points_ras)
        if len(labels) < 2:
            raise ValueError(f"{path}: no point list with at least two labelled level landmarks")
        return LevelModel.from_landmarks(labels, np.concatenate(points))
    return LevelModel.from_label_map(load_volume(path))


def _names_disc(name: str) -> bool:
    from ..vertebrae import LevelLabelError, landmark_coordinate

    try:
        u = landmark_coordinate(name)
    except LevelLabelError:
        return False
    return u is not None and u % 1 == 0.5


def _is_markups(path: Path) -> bool:
    return path.name.lower().endswith(".json")


def _measure_mask(path: Path | None, volume, model, what: str, warnings: list[str], resample: bool = False):
    from ..masks import check_mask_values, resample_to_grid, same_grid
    from ..measurements import mask_measurements
    from ..images import load_volume

    if path is None:
        return None
    mask = load_volume(path)
    warnings.extend(f"{what} mask {path.name}: {text}" for text in mask.warnings)
    check_mask_values(mask, f"{path}: the {what} mask")
    corners = mask.voxel_to_ras(_bounding_box_corners(mask))
    if not volume.contains_ras(corners).any():
        raise ValueError(f"{path}: the {what} mask lies wholly outside the volume it should measure")
    mask.require_no_gap(corners, f"the {what} mask")
    volume.require_no_gap(corners, f"the {what} mask {path.name}")  # the image's own missing slices
    if not same_grid(mask, volume):
        if not resample:
            raise ValueError(f"{path}: the {what} mask is not on the grid of {volume.source or 'the volume'} "
                             f"(shape {mask.shape_ijk} vs {volume.shape_ijk}, or another position/spacing); "
                             f"give --resample-masks to resample it on purpose")
        mask = resample_to_grid(mask, volume)
        warnings.append(f"{what} mask {path.name}: resampled onto the grid of {Path(volume.source).name or 'the volume'} "
                        f"(nearest neighbour)")
    result = mask_measurements(mask, model)
    warnings.extend(f"{what} mask {path.name}: {text}" for text in result.warnings)
    return result


def _bounding_box_corners(mask):
    import numpy as np

    inside = np.argwhere(np.asarray(mask.array) > 0)  # [k, j, i]
    if inside.size == 0:
        return np.zeros((1, 3))
    low, high = inside.min(axis=0)[::-1], inside.max(axis=0)[::-1]
    return np.array([[x, y, z] for x in (low[0], high[0]) for y in (low[1], high[1]) for z in (low[2], high[2])],
                    dtype=float)
