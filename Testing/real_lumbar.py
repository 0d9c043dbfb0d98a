"""Lesions on real anatomy: thecal-sac masks bounded by the discs of the real lumbar scans.

For each subject of ``shared/data/real_lumbar`` (24 lumbar MRI with manual L1-L5 body masks) this
builds what a reader would draw and count, from the body masks alone (independently of the code
under test):

- each disc L1/L2..L4/L5 as a reader's line from its anterior to its posterior margin, on the
  mid-sagittal slice of the two bodies: the midpoints between the upper body's lowest and the lower
  body's highest voxel, at the front and back of the column they share;
- the thecal sac: 2-14 mm behind the posterior wall of the bodies, +-6 mm about the mid-sagittal
  plane;
- lesion masks in the sac from the L2/L3 to the L4/L5 disc (L3-L4: a reader counts 2) and edema
  masks from L1/L2 to L4/L5 (L2-L4: 3), bounded three ways: by the disc lines extended back
  ("disc"), by image rows through the posterior margins ("rows"), and by planes across the sac
  through the posterior margins ("across");
- a canal label map (the sac labelled by level between the disc lines, cut by the field of view at
  the top of L1 and the bottom of L5).

Used by Testing/core/test_real_lumbar_counts.py and benchmarks/real_counts.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ISCMAssistLib.images import load_volume
from ISCMAssistLib.volumes import Volume

DISCS = ("L1/L2", "L2/L3", "L3/L4", "L4/L5")
SAC_FROM_WALL_MM = (2.0, 14.0)
SAC_HALF_WIDTH_MM = 6.0
#: Margin (mm) kept inside the front and back of the shared column when placing the disc margins.
MARGIN_INSET_MM = 2.0
BOUNDS = ("disc", "rows", "across")


@dataclass
class Subject:
    """One real lumbar scan with what a reader would draw on it (RAS mm)."""

    name: str
    image: Volume
    bodies: Volume
    disc_centres: dict[str, np.ndarray]      # ground_truth.json disc points
    disc_lines: dict[str, tuple[np.ndarray, np.ndarray]]  # (anterior, posterior) margins
    sac: np.ndarray                          # bool [k, j, i]: the thecal sac region
    points: np.ndarray                       # RAS mm of every voxel, C order (N, 3)


def subjects(root: Path) -> list[str]:
    """Take the real_lumbar folder; return its subject folder names, sorted."""
    return sorted(path.name for path in root.iterdir() if path.name.startswith("sub-"))


def halves(names: list[str]) -> tuple[list[str], list[str]]:
    """Take the sorted subject names; return (tuning half, held-out half): alternate subjects."""
    return names[0::2], names[1::2]


def load_subject(root: Path, name: str) -> Subject:
    """Take the real_lumbar folder and a subject name; return its Subject."""
    folder = root / name
    image, bodies = _cropped(load_volume(folder / "image.nii.gz"), load_volume(folder / "gt_labels.nii.gz"))
    # The masks number L1..L5 as 1..5; the level model numbers vertebrae from C1 (L1 = 20).
    bodies.array = np.where(bodies.array > 0, bodies.array.astype(np.uint8) + 19, 0).astype(np.uint8)
    truth = json.loads((folder / "ground_truth.json").read_text())
    centres = {disc: np.array(truth["discs"][disc]["ras"], dtype=float) for disc in DISCS}
    lines = {disc: _disc_line(bodies, number) for number, disc in enumerate(DISCS, start=20)}
    points = _voxel_points(bodies)
    return Subject(name, image, bodies, centres, lines, _sac(bodies, lines, points), points)


def lesion_mask(subject: Subject, top: str, bottom: str, bound: str) -> Volume:
    """Take a Subject, the discs bounding the lesion ("L2/L3", "L4/L5") and how the ends are cut
    (BOUNDS); return the mask Volume of the thecal sac between them."""
    points = subject.points
    below_top = _below(subject, top, bound, points)
    above_bottom = ~_below(subject, bottom, bound, points)
    inside = subject.sac.ravel() & below_top & above_bottom
    return Volume(inside.reshape(subject.sac.shape).astype(np.uint8), subject.bodies.ijk_to_ras,
                  source=f"{subject.name} sac {top}..{bottom} ({bound})")


def canal_label_map(subject: Subject) -> Volume:
    """Take a Subject; return the thecal sac labelled by level (20 = L1 ... 24 = L5) between the disc
    lines, cropped along S-I to the bodies so that L1 and L5 are cut by the field of view."""
    points = subject.points
    level = np.full(len(points), 20, dtype=np.uint8)
    for disc in DISCS:
        level += _below(subject, disc, "disc", points).astype(np.uint8)
    labels = np.where(subject.sac.ravel(), level, 0).reshape(subject.sac.shape)
    affine = subject.bodies.ijk_to_ras.copy()
    axis_ijk = int(np.argmax(np.abs(affine[2, :3])))  # the voxel axis that runs along S-I
    axis_kji = 2 - axis_ijk
    others = tuple(a for a in range(3) if a != axis_kji)
    filled = np.flatnonzero(np.asarray(subject.bodies.array).any(axis=others))
    first, last = filled.min(), filled.max() + 1
    index = [slice(None)] * 3
    index[axis_kji] = slice(first, last)
    start = np.zeros(3)
    start[axis_ijk] = first
    affine[:3, 3] = subject.bodies.voxel_to_ras(start)
    return Volume(labels[tuple(index)].copy(), affine, source=f"{subject.name} canal levels")


def _cropped(image: Volume, bodies: Volume, margin_mm: float = 30.0) -> tuple[Volume, Volume]:
    """Take the image and body-mask Volumes (one grid); return both cut to the bodies' bounding box
    plus ``margin_mm`` (the sac and the disc surroundings stay inside)."""
    inside = np.argwhere(np.asarray(bodies.array) > 0)
    spacing_kji = bodies.spacing_mm[::-1]
    low = np.maximum(inside.min(axis=0) - np.ceil(margin_mm / spacing_kji), 0).astype(int)
    high = np.minimum(inside.max(axis=0) + np.ceil(margin_mm / spacing_kji) + 1, bodies.array.shape).astype(int)
    box = tuple(slice(a, b) for a, b in zip(low, high))
    affine = bodies.ijk_to_ras.copy()
    affine[:3, 3] = bodies.voxel_to_ras(low[::-1].astype(float))
    return (Volume(np.asarray(v.array)[box].copy(), affine, source=v.source) for v in (image, bodies))


def _voxel_points(volume: Volume) -> np.ndarray:
    k, j, i = np.indices(np.asarray(volume.array).shape)
    return volume.voxel_to_ras(np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1).astype(float))


def _sagittal_normal(anterior: np.ndarray, posterior: np.ndarray) -> np.ndarray:
    """Unit normal (caudal) of the plane holding a disc line and the left-right axis."""
    line = (posterior - anterior) / np.linalg.norm(posterior - anterior)
    normal = np.cross(line, [1.0, 0.0, 0.0])
    normal /= np.linalg.norm(normal)
    return -normal if normal[2] > 0 else normal


def _below(subject: Subject, disc: str, bound: str, points: np.ndarray) -> np.ndarray:
    """True for the points caudal of the disc's boundary, cut the given way."""
    anterior, posterior = subject.disc_lines[disc]
    if bound == "disc":
        normal = _sagittal_normal(anterior, posterior)
    elif bound == "rows":
        normal = np.array([0.0, 0.0, -1.0])
    else:  # across the sac: perpendicular to the line joining the posterior margins around the disc
        index = DISCS.index(disc)
        neighbours = [subject.disc_lines[DISCS[i]][1] for i in (max(index - 1, 0), min(index + 1, len(DISCS) - 1))]
        along = neighbours[1] - neighbours[0]
        along[0] = 0.0
        normal = along / np.linalg.norm(along)
    return (points - posterior) @ normal > 0


def _disc_line(bodies: Volume, upper: int) -> tuple[np.ndarray, np.ndarray]:
    """Anterior and posterior margins (RAS mm) of the disc below body ``upper`` (20 = L1), on the
    1 mm mid-sagittal slab of the two bodies."""
    array = np.asarray(bodies.array)
    top, bottom = (bodies.voxel_to_ras(np.argwhere(array == n)[:, ::-1].astype(float)) for n in (upper, upper + 1))
    mid_r = (top[:, 0].mean() + bottom[:, 0].mean()) / 2.0
    top, bottom = (p[np.abs(p[:, 0] - mid_r) <= 0.5] for p in (top, bottom))
    lowest_of_top = {a: top[np.round(top[:, 1]) == a, 2].min() for a in np.unique(np.round(top[:, 1]))}
    highest_of_bottom = {a: bottom[np.round(bottom[:, 1]) == a, 2].max() for a in np.unique(np.round(bottom[:, 1]))}
    shared = sorted(set(lowest_of_top) & set(highest_of_bottom))
    ends = []
    for a in (max(shared) - MARGIN_INSET_MM, min(shared) + MARGIN_INSET_MM):  # RAS: larger A is anterior
        a = min(shared, key=lambda value: abs(value - a))
        ends.append(np.array([mid_r, a, (lowest_of_top[a] + highest_of_bottom[a]) / 2.0]))
    return ends[0], ends[1]


def _sac(bodies: Volume, lines: dict[str, tuple[np.ndarray, np.ndarray]], all_points: np.ndarray) -> np.ndarray:
    """Bool [k, j, i]: the region 2-14 mm behind the bodies' posterior wall, +-6 mm about the mid plane,
    from the top of L1 to the bottom of L5."""
    array = np.asarray(bodies.array)
    points = all_points.reshape(array.shape + (3,))
    body_points = points[array > 0]
    mid_r = float(np.mean([line[1][0] for line in lines.values()]))
    wall_s, wall_a = [], []
    for s in np.unique(body_points[:, 2]):  # each image row of the bodies
        row = body_points[body_points[:, 2] == s]
        near_mid = row[np.abs(row[:, 0] - mid_r) <= SAC_HALF_WIDTH_MM]
        if len(near_mid):
            wall_s.append(s)
            wall_a.append(near_mid[:, 1].min())  # the most posterior body voxel (smallest A)
    for anterior, posterior in lines.values():  # across the disc spaces, the posterior margins
        wall_s.append(posterior[2])
        wall_a.append(posterior[1])
    order = np.argsort(wall_s)
    wall_s, wall_a = np.array(wall_s)[order], np.array(wall_a)[order]
    # The wall is the most posterior point within 4.5 mm: rows through a rounded body corner hold
    # only its front part, which is not the sac's edge.
    smooth = np.array([wall_a[np.abs(wall_s - s) <= 4.5].min() for s in wall_s])
    wall = np.interp(points[..., 2], wall_s, smooth, left=np.nan, right=np.nan)
    behind = wall - points[..., 1]
    return (np.abs(points[..., 0] - mid_r) <= SAC_HALF_WIDTH_MM) & (behind >= SAC_FROM_WALL_MM[0]) \
        & (behind <= SAC_FROM_WALL_MM[1])
