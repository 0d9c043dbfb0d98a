"""Synthetic sagittal spine MRI with known vertebral levels and a known intramedullary lesion.
(Over 400 lines: the anatomy table and the renderer of one ground truth belong together.)

``make_spine_phantom`` builds a sagittal T2 and a post-contrast T1 of one field of view (cervical,
thoracic, lumbar or whole spine) in the geometry of a real sagittal series: slices along R-L, rows
running S->I, columns A->P (DICOM ImageOrientationPatient [0,1,0, 0,0,-1]). Anatomy is laid out
along the spine's arc length s (mm, growing caudally from the top of the field of view) with
textbook body and disc heights per level, so every body centre, disc centre, the conus tip and the
lesion have exact ground-truth positions in RAS mm.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from .vertebrae import CONUS_LABEL, disc_name, level_name
from .volumes import Volume

REGIONS = ("cervical", "thoracic", "lumbar", "whole")

#: Vertebral body height (mm, along the spine) per level number 2 (C2) ... 25 (S1). C2 without its dens.
BODY_HEIGHT_MM: dict[int, float] = {
    2: 15.0, 3: 14.0, 4: 14.0, 5: 14.0, 6: 14.5, 7: 15.0,
    8: 17.0, 9: 18.0, 10: 18.5, 11: 19.0, 12: 19.5, 13: 20.0, 14: 20.5, 15: 21.0, 16: 21.5, 17: 22.0,
    18: 23.0, 19: 24.0,
    20: 26.0, 21: 27.0, 22: 28.0, 23: 28.5, 24: 28.0, 25: 30.0,
}
#: Disc height (mm) below level n, i.e. of disc n/n+1, for n = 2 (C2/C3) ... 24 (L5/S1).
DISC_HEIGHT_MM: dict[int, float] = {
    2: 4.5, 3: 5.0, 4: 5.0, 5: 5.0, 6: 5.5, 7: 5.0,
    8: 4.5, 9: 4.5, 10: 4.5, 11: 5.0, 12: 5.0, 13: 5.0, 14: 5.5, 15: 5.5, 16: 6.0, 17: 6.0, 18: 6.5,
    19: 7.0, 20: 8.0, 21: 9.0, 22: 10.0, 23: 10.0, 24: 9.0,
}
DENS_HEIGHT_MM = 15.0
#: Fused sacral segments below S1 (S2..S4 heights, mm), separated by thin fusion lines, no discs.
SACRAL_SEGMENTS_MM = (24.0, 20.0, 16.0)

#: (first, last) level coordinate u of each field of view; "dens" top means 25 mm above the dens tip.
_FOV_U: dict[str, tuple[float, float]] = {
    "cervical": (float("nan"), 9.0),   # top: skull base above the dens; bottom: middle of T2
    "thoracic": (7.0, 20.0),           # middle of C7 to middle of L1
    "lumbar": (18.0, float("nan")),    # middle of T11 to the lower sacrum
    "whole": (float("nan"), float("nan")),
}
_DEFAULT_SPACING: dict[str, tuple[float, float, float]] = {
    "cervical": (0.8, 0.8, 3.0), "thoracic": (0.9, 0.9, 3.0), "lumbar": (0.9, 0.9, 3.0), "whole": (1.2, 1.2, 3.0),
}
_SLICES = 15
_AP_FOV_MM = 150.0
_CONUS_TIP_U = 20.6  # conus medullaris tip just below the L1 body centre, a common position


@dataclass(frozen=True)
class _LesionSpec:
    nodule_u: float          # level coordinate of the enhancing nodule centre
    edema_u: tuple[float, float]
    levels: str
    segments: int
    edema_levels: str
    edema_segments: int
    location: str


# Hand-checked against the counting rule of docs/core-api.md (overlap > 0.1 segment counts a body).
_LESIONS: dict[str, _LesionSpec] = {
    "thoracic": _LesionSpec(11.5, (9.75, 14.25), "T4-T5", 2, "T3-T7", 5, "thoracic"),
    "whole": _LesionSpec(11.5, (9.75, 14.25), "T4-T5", 2, "T3-T7", 5, "thoracic"),
    "cervical": _LesionSpec(4.5, (2.75, 6.25), "C4-C5", 2, "C3-C6", 4, "cervical"),
    "lumbar": _LesionSpec(19.5, (18.2, 20.3), "T12-L1", 2, "T11-L1", 3, "conus"),
}
_NODULE_SIZE_MM = {"ap": 6.0, "transverse": 7.0, "si": 17.0}


class PhantomError(ValueError):
    """An impossible phantom request (unknown region, bad spacing or size)."""


@dataclass
class LesionTruth:
    """Ground truth of the phantom's lesion.

    ``nodule_center_ras`` (mm) and ``size_mm`` {"ap", "transverse", "si"} describe the enhancing
    nodule (an ellipsoid in the cord); ``levels``/``segments`` the vertebral bodies it spans;
    ``edema_ends_ras`` the cranial and caudal ends (2, 3) of the cord T2 hyperintensity on the cord
    centreline, ``edema_length_mm`` its length along the cord and ``edema_levels``/``edema_segments``
    its span; ``location`` the study's location category.
    """

    nodule_center_ras: np.ndarray
    size_mm: dict[str, float]
    levels: str
    segments: int
    nodule_u: tuple[float, float]
    edema_ends_ras: np.ndarray
    edema_length_mm: float
    edema_levels: str
    edema_segments: int
    edema_u: tuple[float, float]
    location: str
    #: the enhancing nodule and the whole cord T2 hyperintensity (edema and nodule) on the volumes' grid [k, j, i]
    nodule_mask: np.ndarray | None = field(default=None, repr=False, compare=False)
    edema_mask: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass
class SpinePhantom:
    """A synthetic sagittal spine study with ground truth.

    ``t2``/``t1_post``: Volumes of one geometry (array [k, j, i], int16-valued float32, RAS mm).
    ``landmarks``: label -> RAS mm point for every vertebral body centre ("T5") and disc centre
    ("T4/T5") in the field of view, plus "conus" (tip of the conus medullaris) when it is inside.
    ``lesion``: LesionTruth or None. ``region``, ``curvature_mm`` as requested.
    Use ``cord_centreline(s)`` for points on the cord axis at arc length s mm from the top.
    """

    region: str
    curvature_mm: float
    t2: Volume
    t1_post: Volume
    landmarks: dict[str, np.ndarray]
    lesion: LesionTruth | None
    length_mm: float
    _axis: "_SpineAxis" = field(repr=False)

    def cord_centreline(self, s_mm: np.ndarray | float) -> np.ndarray:
        """Take arc length(s) s (mm along the spine from the top of the field of view, caudal positive);
        return the cord centre RAS mm point(s), shape (3,) or (N, 3)."""
        return self._axis.cord_point(np.asarray(s_mm, dtype=float))

    def u_to_s(self, u: np.ndarray | float) -> np.ndarray | float:
        """Take level coordinate(s) u; return arc length s (mm from the top of the field of view)."""
        return self._axis.u_to_s(u)

    @property
    def disc_labels(self) -> list[str]:
        """Return the disc labels in the field of view, cranial first."""
        return [label for label in self.landmarks if "/" in label]

    def write_dicom(self, folder: str | os.PathLike, seed: str = "iscm-phantom") -> dict[str, list[Path]]:
        """Write the T2 and T1 post series as DICOM under ``folder``/t2 and ``folder``/t1_post.

        Takes the output folder and a UID seed (same seed -> same UIDs); returns role -> file paths.
        Both series share one study and frame of reference.
        """
        from . import dicom_series

        folder = Path(folder)
        common = {"seed": seed, "study_instance_uid": dicom_series.make_uid(seed, "study"),
                  "frame_of_reference_uid": dicom_series.make_uid(seed, "frame-of-reference")}
        return {
            "t2_sagittal": dicom_series.write_series(
                folder / "t2", self.t2, series_description="SAG T2", series_number=2,
                mr_tags={"EchoTime": 100.0, "RepetitionTime": 3000.0, "SliceThickness": float(self.t2.spacing_mm[2])},
                **common),
            "t1_post": dicom_series.write_series(
                folder / "t1_post", self.t1_post, series_description="SAG T1 POST", series_number=5,
                mr_tags={"EchoTime": 10.0, "RepetitionTime": 500.0, "ContrastBolusAgent": "gadolinium",
                         "SliceThickness": float(self.t1_post.spacing_mm[2])},
                **common),
        }


class _SpineAxis:
    """The vertebral-body axis in the mid-sagittal plane, parametrised by arc length s (mm, caudal).

    RAS z = z_top - w with w the caudal depth; the axis lies at y = y_axis(w); bodies and discs are
    laid out along s. Cord centre = axis + posterior offset canal_d(s) along the local normal.
    """

    def __init__(self, region: str, curvature_mm: float) -> None:
        self.region = region
        top_u, bottom_u = _FOV_U[region]
        # Level layout along s, starting at the top of C2 (dens tip DENS_HEIGHT_MM above it).
        edges: list[tuple[str, int, float, float]] = []  # (kind, number, s_start, s_end)
        s = DENS_HEIGHT_MM
        for n in range(2, 26):
            edges.append(("body", n, s, s + BODY_HEIGHT_MM[n]))
            s += BODY_HEIGHT_MM[n]
            if n in DISC_HEIGHT_MM:
                edges.append(("disc", n, s, s + DISC_HEIGHT_MM[n]))
                s += DISC_HEIGHT_MM[n]
        sacrum = []
        for height in SACRAL_SEGMENTS_MM:
            sacrum.append((s + 1.0, s + 1.0 + height))
            s += 1.0 + height
        self.sacrum_fusions = sacrum
        self.edges = edges
        self.sacrum_end = s
        u_points = [(n, 0.5 * (a + b)) if kind == "body" else (n + 0.5, 0.5 * (a + b)) for kind, n, a, b in edges]
        self._u = np.array([p[0] for p in u_points])
        self._s_abs = np.array([p[1] for p in u_points])
        # Field of view in absolute s (from the dens tip), then shift so that s = 0 is the top.
        top = -25.0 if np.isnan(top_u) else float(np.interp(top_u, self._u, self._s_abs))
        bottom = self.sacrum_end - 10.0 if np.isnan(bottom_u) else float(np.interp(bottom_u, self._u, self._s_abs))
        self.s0 = top
        self.length = bottom - top
        self.curvature = float(curvature_mm)
        self.has_sacrum = region in ("lumbar", "whole")
        self.has_dens = region in ("cervical", "whole")
        # Sampled axis for the s <-> (y, w) mapping.
        self._w = np.linspace(-5.0, self.length + 5.0, int(self.length + 10) * 4 + 1)
        self._y = self._axis_y(self._w)
        slope = np.gradient(self._y, self._w)
        self._slope = slope
        self._s_of_w = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(self._w), np.diff(self._y)))])
        self._s_of_w -= np.interp(0.0, self._w, self._s_of_w)

    def _axis_y(self, w: np.ndarray) -> np.ndarray:
        """Return RAS y (mm) of the body axis at caudal depth w: an anterior bow + the sacral tilt."""
        y = self.curvature * np.sin(np.pi * np.clip(w / self.length, 0.0, 1.0))
        if self.has_sacrum:
            w_s1 = self.s_abs_of_u(25.0) - self.s0
            below = np.clip(w - w_s1, 0.0, None)
            y = y - 0.012 * below**2  # the sacrum curves posteriorly
        return y

    def s_abs_of_u(self, u: float) -> float:
        """Return absolute s (from the dens tip) of level coordinate u."""
        return float(np.interp(u, self._u, self._s_abs))

    def u_of_s_abs(self, s_abs: float) -> float:
        """Return the level coordinate u at absolute s (from the dens tip)."""
        return float(np.interp(s_abs, self._s_abs, self._u))

    def u_to_s(self, u: np.ndarray | float) -> np.ndarray | float:
        """Return s (mm from the top of the field of view) of level coordinate u."""
        return np.interp(u, self._u, self._s_abs) - self.s0

    def local(self, w: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Take caudal depth w and RAS y (mm) arrays; return (s from the top, posterior distance d) mm."""
        y_axis = np.interp(w, self._w, self._y)
        slope = np.interp(w, self._w, self._slope)
        norm = np.sqrt(1.0 + slope**2)
        offset = y - y_axis
        s = np.interp(w, self._w, self._s_of_w) + offset * slope / norm
        d = -offset / norm
        return s, d

    def axis_point(self, s: np.ndarray, d: np.ndarray | float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Take s (mm from the top) and posterior offset d (mm); return (w, y) in the sagittal plane."""
        w = np.interp(s, self._s_of_w, self._w)
        y_axis = np.interp(w, self._w, self._y)
        slope = np.interp(w, self._w, self._slope)
        norm = np.sqrt(1.0 + slope**2)
        # Posterior unit normal in (y, w): (-1, slope)/norm.
        return w + d * slope / norm, y_axis - d / norm

    def cord_point(self, s: np.ndarray) -> np.ndarray:
        """Return RAS points of the cord centre at s (mm from the top), shape (3,) or (N, 3)."""
        s_arr = np.atleast_1d(s)
        w, y = self.axis_point(s_arr, canal_centre_d(s_arr + self.s0) - 0.5)
        points = np.stack([np.zeros_like(w), y, self.z_top - w], axis=-1)
        return points[0] if np.ndim(s) == 0 else points

    z_top: float = 0.0


def _profile(s_abs: np.ndarray, table: list[tuple[float, float]]) -> np.ndarray:
    """Interpolate a per-region size (mm) at absolute s from (level coordinate-ish s, value) knots."""
    xs, ys = zip(*table)
    return np.interp(s_abs, xs, ys)


# Size knots along absolute s (mm from the dens tip): ~C4 = 60, T1 = 115, T12 = 350, L3 = 470.
def body_depth(s_abs: np.ndarray) -> np.ndarray:
    """Return vertebral body AP depth (mm) at absolute s."""
    return _profile(s_abs, [(0, 15.0), (110, 17.0), (200, 24.0), (350, 30.0), (470, 35.0), (560, 35.0)])


def body_width(s_abs: np.ndarray) -> np.ndarray:
    """Return vertebral body transverse width (mm) at absolute s."""
    return _profile(s_abs, [(0, 22.0), (110, 28.0), (350, 40.0), (470, 48.0), (560, 48.0)])


def canal_centre_d(s_abs: np.ndarray) -> np.ndarray:
    """Return the posterior distance (mm) of the thecal sac centre from the body axis at absolute s."""
    return body_depth(s_abs) / 2.0 + 2.0 + thecal_ap(s_abs) / 2.0


def thecal_ap(s_abs: np.ndarray) -> np.ndarray:
    """Return thecal sac (CSF space) AP diameter (mm) at absolute s: cord ~9-10 mm + ~8 mm CSF."""
    return _profile(s_abs, [(-40, 22.0), (0, 18.0), (110, 17.0), (350, 16.0), (470, 17.0), (560, 15.0)])


def make_spine_phantom(
    region: str = "thoracic",
    curvature_mm: float = 0.0,
    lesion: bool = True,
    noise: float = 0.02,
    seed: int = 0,
    spacing: tuple[float, float, float] | None = None,
) -> SpinePhantom:
    """Build a synthetic sagittal T2 + T1 post spine study with known levels and lesion.

    Takes ``region`` ("cervical" | "thoracic" | "lumbar" | "whole"), ``curvature_mm`` (largest AP
    bow of the spine from straight, mm, positive anterior, at mid field of view), ``lesion`` (add an
    enhancing intramedullary nodule with cord edema), ``noise`` (Rician noise sigma as a fraction of
    CSF brightness), ``seed`` (noise seed) and ``spacing`` (mm along i = A->P columns, j = S->I rows,
    k = R-L slices; default region-specific, ~0.8-1.2 in-plane and 3 mm slices).
    Returns a SpinePhantom; volumes are small (< 10 MB) and build in well under a second.
    Raises PhantomError for an unknown region or non-positive spacing.
    """
    di, dj, dk = _checked_spacing(region, curvature_mm, noise, spacing)
    axis = _SpineAxis(region, curvature_mm)
    n_rows = int(np.ceil(axis.length / dj)) + 1
    n_cols = int(np.ceil(_AP_FOV_MM / di))
    n_slices = _SLICES
    # Geometry: i -> posterior (-y RAS), j -> inferior, k -> right (IOP [0,1,0,0,0,-1], normal = row x col).
    y_first = 60.0 if curvature_mm >= 0 else 60.0 - curvature_mm  # anterior edge of the field of view
    if curvature_mm > 0:
        y_first += curvature_mm
    z_top = axis.length / 2.0
    axis.z_top = z_top
    x_first = -(n_slices - 1) / 2.0 * dk
    ijk_to_ras = np.array([
        [0.0, 0.0, dk, x_first],
        [-di, 0.0, 0.0, y_first],
        [0.0, -dj, 0.0, z_top],
        [0.0, 0.0, 0.0, 1.0],
    ])

    w = np.arange(n_rows) * dj                       # caudal depth of each row
    y = y_first - np.arange(n_cols) * di             # RAS y of each column
    x = x_first + np.arange(n_slices) * dk           # RAS x of each slice
    ww, yy = np.meshgrid(w, y, indexing="ij")        # (rows, cols)
    s, d = axis.local(ww, yy)
    s_abs = s + axis.s0

    t2, t1 = _render(axis, s_abs, d, x)
    truth = None
    if lesion:
        truth = _add_lesion(axis, region, s_abs, d, x, t2, t1)

    rng = np.random.default_rng(seed)
    volumes = [Volume(array=_acquired(image, noise, rng), ijk_to_ras=ijk_to_ras.copy(), source=f"phantom:{region}")
               for image in (t2, t1)]
    landmarks = _landmarks(axis)
    return SpinePhantom(region=region, curvature_mm=float(curvature_mm), t2=volumes[0], t1_post=volumes[1],
                        landmarks=landmarks, lesion=truth, length_mm=axis.length, _axis=axis)


def _checked_spacing(region: str, curvature_mm: float, noise: float,
                     spacing: tuple[float, float, float] | None) -> tuple[float, float, float]:
    """The voxel spacing (mm) to use; PhantomError for an unknown region or a bad argument."""
    if region not in REGIONS:
        raise PhantomError(f"region: '{region}' is not one of {', '.join(REGIONS)}")
    spacing = _DEFAULT_SPACING[region] if spacing is None else tuple(float(v) for v in spacing)
    if len(spacing) != 3 or not all(np.isfinite(spacing)) or min(spacing) <= 0:
        raise PhantomError(f"spacing: {spacing} must be three positive numbers (mm)")
    if not 0.0 <= noise < 1.0:
        raise PhantomError(f"noise: {noise} must be in [0, 1)")
    if abs(curvature_mm) > 60.0:
        raise PhantomError(f"curvature_mm: {curvature_mm} is more than 60 mm")
    return spacing


def _acquired(image: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """An ideal image as acquired: slight blur, Rician noise (sigma ``noise``), 0-4000 float32 values."""
    image = ndimage.gaussian_filter(image, sigma=(0.35, 0.6, 0.6))
    if noise > 0:
        real = image + rng.normal(0.0, noise, image.shape).astype(np.float32)
        imag = rng.normal(0.0, noise, image.shape).astype(np.float32)
        image = np.sqrt(real * real + imag * imag)
    return np.round(np.clip(image, 0.0, 4.0) * 1000.0).astype(np.float32)


def _landmarks(axis: _SpineAxis) -> dict[str, np.ndarray]:
    """Return label -> RAS of every body/disc centre inside the field of view, plus the conus tip."""
    points: dict[str, np.ndarray] = {}
    for kind, n, a, b in axis.edges:
        s = 0.5 * (a + b) - axis.s0
        if not 0.0 <= s <= axis.length:
            continue
        w, y = axis.axis_point(np.array([s]))
        label = level_name(n) if kind == "body" else disc_name(n)
        points[label] = np.array([0.0, y[0], axis.z_top - w[0]])
    s_conus = axis.s_abs_of_u(_CONUS_TIP_U) - axis.s0
    if 0.0 <= s_conus <= axis.length:
        points[CONUS_LABEL] = axis.cord_point(np.array([s_conus]))[0]
    return points


class _Canvas:
    """The label image being painted and the per-voxel geometry (slices, rows, cols) painting reads.

    Labels: 0 air, 1 soft tissue, 2 muscle, 3 fat, 4 bone (posterior elements), 5 body, 6 endplate,
    7 annulus, 8 nucleus, 9 CSF, 10 cord, 11 prevertebral dark (lung/air), 12 sacral fusion line.
    """

    def __init__(self, s_abs: np.ndarray, d: np.ndarray, x: np.ndarray) -> None:
        self.s_abs, self.d = s_abs, d
        self.X, self.S, self.D = x[:, None, None], s_abs[None], d[None]
        self.depth = body_depth(s_abs)[None]
        self.width = body_width(s_abs)[None]
        self.canal_d = canal_centre_d(s_abs)[None]
        self.sac_ap = thecal_ap(s_abs)[None]
        self.shape = (x.size,) + s_abs.shape
        self.label = np.ones(self.shape, dtype=np.uint8)

    def put(self, mask: np.ndarray, value: int) -> None:
        self.label[np.broadcast_to(mask, self.shape)] = value


def _render(axis: _SpineAxis, s_abs: np.ndarray, d: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Paint T2 and T1 post intensities (CSF on T2 = 1.0) on (slices, rows, cols) float32 arrays."""
    canvas = _Canvas(s_abs, d, x)
    _paint_soft_tissue(canvas, axis)
    _paint_column(canvas, axis)
    _paint_sac_and_cord(canvas, axis)
    #                  air  soft  musc  fat  bone body plate ann  nucl  CSF  cord dark  fusion
    t2_lut = np.array([0.0, 0.32, 0.22, 0.70, 0.25, 0.38, 0.08, 0.35, 0.85, 1.00, 0.45, 0.05, 0.32], np.float32)
    t1_lut = np.array([0.0, 0.40, 0.35, 0.90, 0.45, 0.60, 0.10, 0.30, 0.35, 0.15, 0.45, 0.05, 0.50], np.float32)
    return t2_lut[canvas.label], t1_lut[canvas.label]


def _paint_soft_tissue(c: _Canvas, axis: _SpineAxis) -> None:
    """Air, fat, muscle, the dark prevertebral band and the posterior elements (laminae/spinous
    processes sloping caudally, interspinous ligament, a thin epidural fat pad behind the sac)."""
    X, D, depth, canal_d = c.X, c.D, c.depth, c.canal_d
    anterior_skin = -depth / 2.0 - 70.0
    posterior_skin = canal_d + 75.0
    c.put((D < anterior_skin) | (D > posterior_skin), 0)
    c.put((D > canal_d + 60.0) & (D <= posterior_skin), 3)
    c.put((D > canal_d + 10.0) & (D <= canal_d + 60.0) & (np.abs(X) > 6.0), 2)
    dark_front = (D < -depth / 2.0 - 12.0) & (D > anterior_skin + 15.0) & (np.abs(X) < 35.0)
    c.put(dark_front, 11)
    behind_sac = D - (canal_d + c.sac_ap / 2.0)
    in_post = (behind_sac > 0.0) & (D < canal_d + 50.0) & (np.abs(X) < 7.0)
    c.put(in_post, 2)
    c.put(in_post & (behind_sac < 2.5), 3)
    vert_section = np.zeros(c.s_abs.shape, dtype=bool)
    slope_shift = 0.35 * np.clip(c.d - canal_centre_d(c.s_abs), 0.0, None)
    for kind, n, a, b in axis.edges:
        if kind == "body":
            vert_section |= (c.s_abs >= a + 2.0 + slope_shift) & (c.s_abs <= b - 2.0 + slope_shift)
    c.put(in_post & (behind_sac >= 2.5) & vert_section[None], 4)


def _paint_column(c: _Canvas, axis: _SpineAxis) -> None:
    """Vertebral bodies with endplates, discs with nuclei, the dens/atlas/clivus and the sacrum."""
    X, S, D = c.X, c.S, c.D
    ellipse = (X / (c.width / 2.0)) ** 2 + (D / (c.depth / 2.0)) ** 2
    for kind, n, a, b in axis.edges:
        band = (S >= a) & (S < b)
        if kind == "body":
            c.put(band & (ellipse < 1.0), 5)
            plate = band & (ellipse < 1.0) & ((S < a + 1.0) | (S >= b - 1.0))
            c.put(plate, 6)
        else:
            disc = band & (ellipse < 1.08)
            c.put(disc, 7)
            nucleus = band & (ellipse < 0.45) & (S > a + 0.8) & (S < b - 0.8)
            c.put(nucleus, 8)
    if axis.has_dens:
        dens = (S >= 0.0) & (S < DENS_HEIGHT_MM + 1.0) & ((X / 5.0) ** 2 + ((D - 2.0) / 5.0) ** 2 < 1.0)
        c.put(dens, 5)
        atlas = (S > 2.0) & (S < 12.0) & (np.abs(X) < 9.0) & (np.abs(D + 10.0) < 3.0)
        c.put(atlas, 6)
        clivus = (S < -3.0) & (D < 0.0) & (D > -14.0) & (np.abs(X) < 20.0)
        c.put(clivus, 6)
    if axis.has_sacrum:
        s1_top = axis.s_abs_of_u(24.5)
        for a, b in axis.sacrum_fusions:
            band = (S >= a) & (S < b)
            c.put(band & (ellipse < 1.0), 5)
            c.put((S >= a - 1.0) & (S < a) & (ellipse < 0.9), 12)  # faint fusion line, no disc
        below = S > s1_top
        c.put(below & (S > axis.sacrum_end), 1)


def _paint_sac_and_cord(c: _Canvas, axis: _SpineAxis) -> None:
    """Thecal sac and cord (the cord ends at the conus tip; the cauda equina below is CSF with roots)."""
    X, S, D, canal_d = c.X, c.S, c.D, c.canal_d
    sac = ((X / 9.0) ** 2 + ((D - canal_d) / (c.sac_ap / 2.0)) ** 2) < 1.0
    sac_end = axis.s_abs_of_u(25.3)
    sac &= S < sac_end
    c.put(sac, 9)
    tip = axis.s_abs_of_u(_CONUS_TIP_U)
    taper = np.clip((tip - S) / 25.0, 0.0, 1.0)
    cord_ap = np.where(S < 0.0, 11.0, 9.0) * np.sqrt(taper)
    cord_w = np.where(S < 0.0, 14.0, 11.0) * np.sqrt(taper)
    cord = ((X / np.maximum(cord_w / 2.0, 1e-3)) ** 2
            + ((D - canal_d + 0.5) / np.maximum(cord_ap / 2.0, 1e-3)) ** 2) < 1.0
    c.put(cord & sac, 10)
    roots = sac & (S > tip) & (np.abs(np.sin((X * 1.3 + (D - canal_d) * 0.9))) < 0.12)
    c.put(roots, 1)


def _add_lesion(axis: _SpineAxis, region: str, s_abs: np.ndarray, d: np.ndarray, x: np.ndarray,
                t2: np.ndarray, t1: np.ndarray) -> LesionTruth:
    """Paint the enhancing nodule and the cord edema into t2/t1 in place; return their ground truth."""
    spec = _LESIONS[region]
    size = dict(_NODULE_SIZE_MM)
    s_c = axis.s_abs_of_u(spec.nodule_u)
    e0, e1 = (axis.s_abs_of_u(u) for u in spec.edema_u)
    X = x[:, None, None]
    S = s_abs[None]
    canal_d = canal_centre_d(s_abs)[None]
    cord_mask = np.isclose(t2, 0.45)  # cord voxels (before the lesion is painted)
    edema = cord_mask & (S >= e0) & (S <= e1)
    t2[edema] = 0.78
    t1[edema] = 0.40
    nodule_d = float(canal_centre_d(np.array([s_c]))[0]) - 0.5
    r = ((X / (size["transverse"] / 2.0)) ** 2 + ((d[None] - canal_d + 0.5) / (size["ap"] / 2.0)) ** 2
         + ((S - s_c) / (size["si"] / 2.0)) ** 2)
    nodule = r < 1.0
    t2[nodule] = np.where(r[nodule] < 0.35, 0.70, 0.62)
    t1[nodule] = np.where(r[nodule] < 0.35, 0.80, 1.00)  # heterogeneous: brighter rim

    w, y = axis.axis_point(np.array([s_c - axis.s0]), nodule_d)
    centre = np.array([0.0, y[0], axis.z_top - w[0]])
    ends = axis.cord_point(np.array([e0, e1]) - axis.s0)
    return LesionTruth(
        nodule_center_ras=centre, size_mm=size, levels=spec.levels, segments=spec.segments,
        nodule_u=(axis.u_of_s_abs(s_c - size["si"] / 2.0), axis.u_of_s_abs(s_c + size["si"] / 2.0)),
        edema_ends_ras=ends, edema_length_mm=float(e1 - e0), edema_levels=spec.edema_levels,
        edema_segments=spec.edema_segments, edema_u=spec.edema_u, location=spec.location,
        nodule_mask=nodule.copy(), edema_mask=edema | nodule,
    )
