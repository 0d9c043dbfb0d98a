"""The plane of each intervertebral disc, the way a reader extends the disc back to the cord.

Segment counts hinge on where a disc's plane crosses the canal, 25-45 mm behind the disc centre,
so the plane must follow the disc's own tilt, not the spine's general direction. A plane is a
centre (RAS mm) and a unit normal pointing caudally. It comes from, in order of preference:

- a disc drawn as a line from its anterior to its posterior margin (``normal_from_line``);
- two facing surfaces of a label map: the endplates of two vertebral-body masks, or the boundary
  between two levels of a cord/canal map (``plane_between``);
- the image around a disc centre: the endplates and the disc make a layer whose gradients point
  along the disc normal (``normal_from_image``, a structure tensor);
- else the plane perpendicular to the spine, an assumption the level model reports.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

#: A disc normal further than this from the spine tangent is not believed (a reader's disc lines
#: lie within about 30 degrees of perpendicular to the spine even at L5/S1).
MAX_TILT_DEG = 40.0
#: Grid cell (mm) across the disc on which two facing surfaces are sampled.
_CELL_MM = 1.0
#: Facing-surface samples within this fraction of the farthest sample's radius are fitted; the rim
#: (rounded body corners, osteophytes) is left out.
_CORE_RADIUS_FRACTION = 0.7
_MIN_SAMPLES = 6
#: Structure-tensor window around a disc centre (mm): Gaussian sigmas across the disc (A-P and
#: R-L, in the disc plane) and along the spine; gradients are taken at GRADIENT_SIGMA_MM.
_WINDOW_IN_PLANE_MM = 7.0
_WINDOW_ALONG_MM = 5.0
_GRADIENT_SIGMA_MM = 1.2
#: The tensor's disc direction must stand out: (largest - middle) / largest eigenvalue at least this.
_MIN_ANISOTROPY = 0.25


def caudal(normal: np.ndarray, tangent: np.ndarray) -> np.ndarray:
    """Take a plane normal and the caudal spine tangent there (RAS, (3,)); return the unit normal
    turned to point caudally."""
    normal = np.asarray(normal, dtype=float)
    normal = normal / np.linalg.norm(normal)
    return -normal if normal @ tangent < 0 else normal


def tilt_deg(normal: np.ndarray, tangent: np.ndarray) -> float:
    """Take a disc normal and the spine tangent (RAS, (3,)); return the angle between them in degrees."""
    cosine = abs(float(normal @ tangent)) / (np.linalg.norm(normal) * np.linalg.norm(tangent))
    return float(np.degrees(np.arccos(np.clip(cosine, 0.0, 1.0))))


def normal_from_line(anterior_ras: Any, posterior_ras: Any, tangent: np.ndarray) -> np.ndarray:
    """Take a disc drawn from its anterior to its posterior margin (RAS mm, (3,) each) and the caudal
    spine tangent there; return the disc plane's unit normal (caudal).

    The plane holds the line and the direction across the body perpendicular to both line and
    spine (left-right on a straight spine), so a sagittal line fixes the tilt a reader sees.
    """
    line = np.asarray(posterior_ras, dtype=float) - np.asarray(anterior_ras, dtype=float)
    length = np.linalg.norm(line)
    if length < 1e-6:
        raise ValueError("disc line: its two points are at the same position")
    line /= length
    normal = tangent - (tangent @ line) * line
    if np.linalg.norm(normal) < 1e-6:
        raise ValueError("disc line: it runs along the spine, not across the disc")
    return caudal(normal, tangent)


def plane_between(upper_ras: np.ndarray, lower_ras: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Take the voxel centres (RAS mm, (N, 3)) of two neighbouring labels, the upper one first;
    return (centre, unit normal pointing caudally) of the plane midway between their facing
    surfaces (the disc between two body masks, or the boundary between two cord levels), or None
    when they face each other over too few samples.

    Each surface is sampled on a 1 mm grid across the line joining the two labels' centroids: the
    lowest voxel of the upper label and the highest of the lower label in each grid column; the
    plane is fitted to the midpoints of the central samples.
    """
    top, bottom = upper_ras.mean(axis=0), lower_ras.mean(axis=0)
    axis = bottom - top
    if np.linalg.norm(axis) < 1e-6:
        return None
    axis /= np.linalg.norm(axis)
    across = _basis_across(axis)
    upper_cells, upper_h = _columns(upper_ras - top, axis, across)
    lower_cells, lower_h = _columns(lower_ras - top, axis, across)
    lowest_of_upper = _reduce_by_cell(upper_cells, upper_h, np.maximum)
    highest_of_lower = _reduce_by_cell(lower_cells, lower_h, np.minimum)
    common = sorted(set(lowest_of_upper) & set(highest_of_lower))
    if len(common) < _MIN_SAMPLES:
        return None
    cells = np.array(common, dtype=float)
    middle = np.array([(lowest_of_upper[c] + highest_of_lower[c]) / 2.0 for c in common])
    samples = top + (cells[:, :1] + 0.5) * _CELL_MM * across[0] + (cells[:, 1:] + 0.5) * _CELL_MM * across[1] \
        + middle[:, None] * axis
    radius = np.linalg.norm((cells - cells.mean(axis=0)) * _CELL_MM, axis=1)
    core = samples[radius <= _CORE_RADIUS_FRACTION * radius.max()]
    if len(core) < _MIN_SAMPLES:
        core = samples
    centre, normal = _fit_plane(core)
    return centre, caudal(normal, axis)


def normal_from_image(volume: Any, centre_ras: np.ndarray, tangent: np.ndarray) -> np.ndarray | None:
    """Take an image Volume (``array`` [k, j, i], ``ijk_to_ras``), a disc centre (RAS mm) and the
    caudal spine tangent there; return the disc's unit normal (caudal) estimated from the image, or
    None when the image does not show a clear disc layer within MAX_TILT_DEG of the tangent.

    The estimate is the dominant direction of the intensity gradients (structure tensor) in a window
    around the centre, thin along the spine and wide across the disc: endplates and disc/body
    contrast make those gradients, bright or dark discs alike.
    """
    steps = np.asarray(volume.ijk_to_ras, dtype=float)[:3, :3]
    spacing = np.linalg.norm(steps, axis=0)
    reach_mm = 3.0 * _WINDOW_IN_PLANE_MM + 3.0 * _GRADIENT_SIGMA_MM
    box = _box_around(volume, centre_ras, reach_mm)
    if box is None:
        return None
    array = np.asarray(volume.array)[box].astype(np.float32)
    if min(array.shape) < 3 or float(array.std()) == 0.0:
        return None
    sigma_kji = (_GRADIENT_SIGMA_MM / spacing)[::-1]
    gradients_kji = [ndimage.gaussian_filter(array, sigma_kji, order=[int(a == axis) for a in range(3)])
                     for axis in range(3)]
    # Index-space gradient -> RAS gradient: g_ras = inverse(steps)^T @ g_ijk.
    g_ijk = np.stack([gradients_kji[2], gradients_kji[1], gradients_kji[0]], axis=-1).reshape(-1, 3)
    g_ras = g_ijk @ np.linalg.inv(steps)
    offsets = _voxel_centres(box, array.shape, np.asarray(volume.ijk_to_ras, dtype=float)) - centre_ras
    along = offsets @ tangent
    across_sq = np.einsum("ij,ij->i", offsets, offsets) - along**2
    weights = np.exp(-0.5 * (along / _WINDOW_ALONG_MM) ** 2 - 0.5 * across_sq / _WINDOW_IN_PLANE_MM**2)
    tensor = (g_ras * weights[:, None]).T @ g_ras
    values, vectors = np.linalg.eigh(tensor)
    if values[-1] <= 0 or (values[-1] - values[-2]) / values[-1] < _MIN_ANISOTROPY:
        return None
    normal = caudal(vectors[:, -1], tangent)
    return normal if tilt_deg(normal, tangent) <= MAX_TILT_DEG else None


def _basis_across(axis: np.ndarray) -> np.ndarray:
    """Take a unit axis (3,); return two unit vectors (2, 3) perpendicular to it and to each other
    (the first as near to anterior as possible, so grid columns line up with the image)."""
    first = np.array([0.0, 1.0, 0.0]) - axis[1] * axis
    if np.linalg.norm(first) < 1e-6:
        first = np.array([1.0, 0.0, 0.0]) - axis[0] * axis
    first /= np.linalg.norm(first)
    return np.stack([first, np.cross(axis, first)])


def _columns(offsets: np.ndarray, axis: np.ndarray, across: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Take offsets (N, 3) mm; return each one's grid column across the axis ((N, 2) ints) and its
    height along the axis ((N,) mm)."""
    cells = np.floor(offsets @ across.T / _CELL_MM).astype(np.int64)
    return cells, offsets @ axis


def _reduce_by_cell(cells: np.ndarray, heights: np.ndarray, reduce: np.ufunc) -> dict[tuple[int, int], float]:
    """Take grid columns (N, 2) and heights (N,); return {column: reduce(heights in that column)}."""
    offset = cells.min(axis=0)
    width = int(cells[:, 1].max() - offset[1]) + 1
    flat = (cells[:, 0] - offset[0]) * width + (cells[:, 1] - offset[1])
    keys, inverse = np.unique(flat, return_inverse=True)
    start = np.full(len(keys), -np.inf if reduce is np.maximum else np.inf)
    reduce.at(start, inverse, heights)
    rows, columns = np.divmod(keys, width)
    return {(int(a + offset[0]), int(b + offset[1])): float(h) for a, b, h in zip(rows, columns, start)}


def _fit_plane(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Take points (N, 3) mm, N >= 3; return (centroid, unit normal) of the least-squares plane, with
    one pass that drops points more than 2.5 robust deviations off it."""
    centre = points.mean(axis=0)
    normal = np.linalg.svd(points - centre, full_matrices=False)[2][-1]
    residual = np.abs((points - centre) @ normal)
    spread = 1.4826 * float(np.median(residual)) + 1e-6
    kept = points[residual <= 2.5 * spread]
    if len(kept) >= _MIN_SAMPLES:
        centre = kept.mean(axis=0)
        normal = np.linalg.svd(kept - centre, full_matrices=False)[2][-1]
    return centre, normal


def _box_around(volume: Any, centre_ras: np.ndarray, reach_mm: float) -> tuple[slice, slice, slice] | None:
    """Take a Volume, a RAS point and a reach (mm); return the [k, j, i] slices of the voxels within
    reach along each axis, clipped to the volume, or None when the point is outside it."""
    affine = np.asarray(volume.ijk_to_ras, dtype=float)
    ijk = np.linalg.solve(affine[:3, :3], np.asarray(centre_ras, dtype=float) - affine[:3, 3])
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    shape_ijk = np.asarray(volume.array).shape[::-1]
    if np.any(ijk < -0.5) or np.any(ijk > np.asarray(shape_ijk) - 0.5):
        return None
    low = np.maximum(np.floor(ijk - reach_mm / spacing), 0).astype(int)
    high = np.minimum(np.ceil(ijk + reach_mm / spacing) + 1, shape_ijk).astype(int)
    return slice(low[2], high[2]), slice(low[1], high[1]), slice(low[0], high[0])


def _voxel_centres(box: tuple[slice, slice, slice], shape_kji: tuple[int, ...], affine: np.ndarray) -> np.ndarray:
    """Take the [k, j, i] slices of a box, its shape and ijk_to_ras; return the RAS mm centres of its
    voxels in C order, (N, 3)."""
    k, j, i = np.meshgrid(*(np.arange(s.start, s.start + n) for s, n in zip(box, shape_kji)), indexing="ij")
    ijk = np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1).astype(float)
    return ijk @ affine[:3, :3].T + affine[:3, 3]
