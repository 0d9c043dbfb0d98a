"""Figures a person looks at: a sagittal slice with markups, level labels and hints.

matplotlib is imported inside the functions (Agg backend), so importing this module is cheap.
Display convention: sagittal slices as radiologists view them, anterior to the left, superior up,
axes in mm (posterior and superior RAS coordinates).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from . import RESEARCH_USE_LABEL
from .volumes import Volume


@dataclass(frozen=True)
class SagittalView:
    """One sagittal slice of a volume and the map from RAS points to its display axes (mm)."""

    image: np.ndarray            # row 0 most inferior, column 0 most anterior (imshow origin="lower")
    extent: tuple[float, float, float, float]   # imshow extent: left, right, bottom, top (mm)
    slice_ras_r: float           # the R coordinate (mm) of the slice shown

    @staticmethod
    def display_xy(points_ras: np.ndarray) -> np.ndarray:
        """Take RAS points (N, 3) in mm; return display coordinates (N, 2): x = -A (posterior), y = S."""
        points = np.atleast_2d(np.asarray(points_ras, dtype=float))
        return np.column_stack([-points[:, 1], points[:, 2]])


def sagittal_view(volume: Volume, through_ras: Sequence[float] | None = None) -> SagittalView:
    """Take a volume and a RAS point (mm; default the volume centre); return the sagittal slice through it.

    The slice is the voxel plane most nearly perpendicular to R; an oblique volume is shown on its
    own voxel grid, so the display is exact for sagittal acquisitions and approximate otherwise.
    """
    directions = volume.ijk_to_ras[:3, :3] / np.linalg.norm(volume.ijk_to_ras[:3, :3], axis=0)
    axis_r, axis_a, axis_s = (int(np.argmax(np.abs(directions[row]))) for row in range(3))
    if len({axis_r, axis_a, axis_s}) != 3:
        raise ValueError("cannot find sagittal voxel axes in this volume (strongly oblique geometry)")
    shape_ijk = volume.array.shape[::-1]
    if through_ras is None:
        centre = (np.array(shape_ijk) - 1) / 2.0
    else:
        centre = volume.ras_to_voxel(np.asarray(through_ras, dtype=float)[None, :])[0]
    index = int(np.clip(round(centre[axis_r]), 0, shape_ijk[axis_r] - 1))
    image_ijk = np.moveaxis(volume.array.transpose(2, 1, 0), axis_r, 0)[index]  # remaining axes in i,j,k order
    remaining = [axis for axis in range(3) if axis != axis_r]
    if remaining.index(axis_s) == 1:
        image_ijk = image_ijk.T  # make rows follow the S axis, columns the A axis
    corner = np.zeros(3)
    corner[axis_r] = index

    def corner_ras(a: float, s: float) -> np.ndarray:
        return volume.voxel_to_ras(_with(corner, {axis_a: a, axis_s: s})[None, :])[0]

    x_first, x_last = -corner_ras(-0.5, 0)[1], -corner_ras(shape_ijk[axis_a] - 0.5, 0)[1]
    y_first, y_last = corner_ras(0, -0.5)[2], corner_ras(0, shape_ijk[axis_s] - 0.5)[2]
    if x_first > x_last:  # make columns run anterior -> posterior, left to right
        image_ijk, x_first, x_last = image_ijk[:, ::-1], x_last, x_first
    if y_first > y_last:  # make row 0 the most inferior, for origin="lower"
        image_ijk, y_first, y_last = image_ijk[::-1, :], y_last, y_first
    return SagittalView(image=np.ascontiguousarray(image_ijk), extent=(x_first, x_last, y_first, y_last),
                        slice_ras_r=float(corner_ras(0, 0)[0]))


def _with(vector: np.ndarray, values: dict[int, float]) -> np.ndarray:
    out = vector.astype(float).copy()
    for axis, value in values.items():
        out[axis] = value
    return out


def draw_read_figure(
    path: str | Path,
    panels: Iterable[tuple[str, Volume]],
    case: dict,
    level_points: Iterable[tuple[str, np.ndarray]],
    hints: Sequence,
    through_ras: Sequence[float] | None = None,
    progress: Callable[[float], None] | None = None,
) -> Path:
    """Write a PNG of a read: for each (title, volume) panel a clean sagittal slice beside the same
    slice annotated with the lesions' lines, the level labels and the levels spanned; then the
    checklist values that drive the hints, and the hints coloured by kind with their evidence.

    Takes the output path, panels of (title, Volume), the case dict (lines in LPS mm), the level
    landmarks as (label, RAS mm point) pairs, the hints (hints.Hint) and the RAS point the slices pass
    through. The cord T2 extent (edema line) is drawn only on panels whose title names "T2".
    Returns the written path.
    """
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .files import atomic_write_bytes

    panels = list(panels)
    level_points = list(level_points)
    views = [sagittal_view(volume, through_ras) for _, volume in panels]
    count = 2 * len(panels)
    image_height = 8.3  # inches; each image panel is as wide as its slice's aspect asks
    aspect = max((v.extent[1] - v.extent[0]) / (v.extent[3] - v.extent[2] + 20) for v in views) if views else 0.5
    panel_width = min(max(image_height * aspect, 2.0), 5.0)
    figure = plt.figure(figsize=(panel_width * count + 13.2, image_height + 1.7), dpi=100)
    grid = figure.add_gridspec(2, count + 2, width_ratios=[panel_width] * count + [4.7, 8.5],
                               height_ratios=[image_height, 0.5], left=0.02, right=0.995, top=0.925,
                               bottom=0.02, wspace=0.14, hspace=0.12)
    model = _level_model(level_points)
    for index, ((title, _volume), view) in enumerate(zip(panels, views)):
        for clean in (True, False):
            axes = figure.add_subplot(grid[0, 2 * index + (0 if clean else 1)])
            _draw_slice(axes, view, f"{title}{' (clean)' if clean else ''}")
            if not clean:
                _annotate_slice(axes, view, case, level_points, model, show_edema="T2" in title)
        if progress:
            progress((index + 1) / (len(panels) + 1))
    legend_axes = figure.add_subplot(grid[1, :count])
    legend_axes.axis("off")
    legend_axes.legend(handles=_legend_handles(), loc="upper center", ncol=2, fontsize=8, frameon=False)
    _fit_text(figure, figure.add_subplot(grid[:, count]), _checklist_blocks(case))
    _fit_text(figure, figure.add_subplot(grid[:, count + 1]), _hint_blocks(hints))
    figure.suptitle(f"ISCMAssist read of {case.get('case_id', '')} \u2014 {RESEARCH_USE_LABEL}",
                    fontsize=11, color="#b2182b")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    atomic_write_bytes(Path(path), buffer.getvalue())
    if progress:
        progress(1.0)
    return Path(path)


#: Hint colours by kind (hints.KINDS), so that hints of one kind never look like evidence adding up.
KIND_COLOURS = {"prevalence": "#404040", "comparative": "#7b3294", "prompt": "#0571b0"}
_LANDMARK_COLOUR = "#ffd92f"
_LESION_COLOURS = ("#00d5ff", "#ff9f1c", "#ff4d6d", "#b388ff")  # light, to read on grey MR


def _level_model(level_points: list):
    from .levels import LevelModel, LevelModelError

    try:
        return LevelModel.from_landmarks([label for label, _ in level_points], [point for _, point in level_points])
    except LevelModelError:
        return None


def _draw_slice(axes, view: SagittalView, title: str) -> None:
    low, high = np.percentile(view.image, [1, 99.5])
    axes.imshow(view.image, cmap="gray", extent=view.extent, vmin=low, vmax=high, origin="lower",
                interpolation="bilinear")
    left, right, bottom, top = view.extent
    axes.set_facecolor("black")
    axes.set_xlim(left, right)
    axes.set_ylim(bottom - 10, top + 10)  # room for the first and last level labels
    axes.set_title(title, fontsize=9)
    axes.set_xlabel("anterior \u2190  (mm)  \u2192 posterior", fontsize=7)
    axes.set_ylabel("superior (mm)", fontsize=7)
    axes.tick_params(labelsize=6)


def _annotate_slice(axes, view: SagittalView, case: dict, level_points: list, model, show_edema: bool) -> None:
    import matplotlib.patheffects as effects

    from .coords import lps_to_ras

    outline = [effects.withStroke(linewidth=2.2, foreground="black")]

    for label, point in level_points:
        x, y = view.display_xy(point)[0]
        is_disc = "/" in label
        axes.plot(x, y, "_" if is_disc else "o", color=_LANDMARK_COLOUR, markersize=9 if is_disc else 4)
        if not is_disc:
            axes.annotate(label, (x, y), xytext=(-10, 0), textcoords="offset points", color=_LANDMARK_COLOUR,
                          fontsize=7, ha="right", va="center", annotation_clip=False, path_effects=outline)
    for number, lesion in enumerate(case.get("lesions", [])):
        colour = _LESION_COLOURS[number % len(_LESION_COLOURS)]
        for name, points in (lesion.get("lines_lps") or {}).items():
            if name == "edema_si" and not show_edema:
                continue
            xy = view.display_xy(lps_to_ras(points))
            axes.plot(xy[:, 0], xy[:, 1], "--" if name == "edema_si" else "-", color=colour, linewidth=1.5,
                      marker=None if name == "edema_si" else "+")
            if name == "edema_si":
                levels = _levels_text(model, lps_to_ras(points))
                axes.annotate(f"cord T2 {levels}" if levels else "cord T2", xy[np.argmax(xy[:, 1])], xytext=(5, 5),
                              textcoords="offset points", color=colour, fontsize=7.5, annotation_clip=False,
                              path_effects=outline)
        top = _lesion_top(lesion)
        if top is not None:
            levels = lesion.get("levels")
            axes.annotate(f"Lesion {lesion.get('id', number + 1)}" + (f" {levels}" if levels else ""),
                          view.display_xy(lps_to_ras(top))[0], xytext=(9, -4), textcoords="offset points",
                          color=colour, fontsize=7.5, weight="bold", annotation_clip=False, path_effects=outline)


def _levels_text(model, points_ras: np.ndarray) -> str | None:
    """Vertebral levels an extent spans ("T3-T7"), by the counting rule; None without levels."""
    from .levels import LevelModelError

    if model is None:
        return None
    u = np.atleast_1d(model.coordinate(np.asarray(points_ras, dtype=float)))
    try:
        return model.count_segments(float(u.min()), float(u.max())).text
    except LevelModelError:
        return None


def _legend_handles() -> list:
    from matplotlib.lines import Line2D

    return [
        Line2D([], [], color=_LESION_COLOURS[0], marker="+", label="enhancing lesion: SI and AP lines (transverse line seen end-on)"),
        Line2D([], [], color=_LESION_COLOURS[0], linestyle="--", label="cord T2 hyperintensity extent (T2 panel only)"),
        Line2D([], [], color=_LANDMARK_COLOUR, marker="o", linestyle="", markersize=4,
               label="vertebral body centre (level landmark)"),
        Line2D([], [], color=_LANDMARK_COLOUR, marker="_", linestyle="", markersize=9, label="disc (level landmark)"),
    ]


def _fit_text(figure, axes, blocks: list[tuple[str, dict]]) -> None:
    """Stack text blocks top-down in ``axes``; shrink every font until the last block fits."""
    axes.axis("off")
    for scale in (1.0, 0.92, 0.85, 0.78, 0.72, 0.66, 0.6):
        axes.clear()
        axes.axis("off")
        if _write_text_column(figure, axes, blocks, scale) >= 0:
            return


def _write_text_column(figure, axes, blocks: list[tuple[str, dict]], scale: float = 1.0) -> float:
    """Stack text blocks top-down in ``axes`` (fonts times ``scale``), each placed below the last and,
    with style "wrap": True, wrapped to the column's width; return the last bottom (axes units)."""
    renderer = figure.canvas.get_renderer()
    to_axes = axes.transAxes.inverted()
    width_points = axes.get_window_extent(renderer).width * 72.0 / figure.dpi
    y = 1.0
    for text, style in blocks:
        style = dict(style)
        x = style.pop("x", 0.0)
        wrap = style.pop("wrap", False)
        gap = style.pop("gap", 0.006)
        style["fontsize"] = style.get("fontsize", 8) * scale
        if wrap:  # about 0.6 em per character of DejaVu Sans
            text = _wrap(text, int(width_points * (1 - x) / (0.6 * style["fontsize"])))
        artist = axes.text(x, y, text, va="top", ha="left", transform=axes.transAxes, **style)
        bottom = to_axes.transform(artist.get_window_extent(renderer).get_points())[0][1]
        y = bottom - gap
    return y


def _checklist_blocks(case: dict) -> list[tuple[str, dict]]:
    from .hints import EXPLANATION

    mono = {"fontsize": 7.6, "family": "monospace"}
    blocks = [("How to read the hints", {"fontsize": 10, "weight": "bold"}),
              (EXPLANATION, {"fontsize": 8, "wrap": True, "gap": 0.015}),
              ("Hint colours by kind", {"fontsize": 9, "weight": "bold"})]
    blocks += [(f"\u25a0 {label}", {"fontsize": 8, "color": KIND_COLOURS[kind]})
               for kind, label in (("prevalence", "Prevalence in the reference series (no comparison group)"),
                                   ("comparative", "Comparison with primary intramedullary masses"),
                                   ("prompt", "Prompt: what to look for"))]
    blocks.append(("Checklist values that drive the hints", {"fontsize": 10, "weight": "bold", "gap": 0.004}))
    blocks += [(text, mono) for text in _summary_lines(case)]
    return blocks


def _summary_lines(case: dict) -> list[str]:
    rows = []
    for lesion in case.get("lesions", []):
        size = lesion.get("size_mm") or {}
        rows.append("\n".join([
            f"Lesion {lesion.get('id')}: {_v(lesion.get('levels'))}, {_v(lesion.get('location'))}",
            f"  position {_v(lesion.get('position'))}; {_v(lesion.get('morphology'))}",
            f"  cord expansion {_v(lesion.get('cord_expansion'))}",
            f"  T2 {_v(lesion.get('t2_signal'))}; T1 {_v(lesion.get('t1_signal'))}",
            f"  enhancement {_v(lesion.get('enhancement'))}",
            f"  cystic change {_v(lesion.get('cystic_change'))}; hemorrhage {_v(lesion.get('hemorrhage'))}",
            f"  rim sign {_v(lesion.get('rim_sign'))}; flame sign {_v(lesion.get('flame_sign'))};",
            f"  central dot sign {_v(lesion.get('central_dot_sign'))}",
            f"  size AP x transverse x SI: {_mm(size.get('ap'))} x {_mm(size.get('transverse'))} x "
            f"{_mm(size.get('si'))} mm",
            f"  enhancing length: {_v(lesion.get('enhancement_length_segments'))} vertebral segments",
            f"  cord T2 length: {_v(lesion.get('t2_length_segments'))} vertebral segments "
            f"({_mm(lesion.get('t2_length_mm'))} mm)",
            f"  ratio T2/enhancing length: {_v(lesion.get('t2_to_enhancement_ratio'))} in segments, "
            f"{_v(lesion.get('t2_to_enhancement_ratio_mm'))} in mm",
        ]))
    findings, clinical = case.get("patient_findings") or {}, case.get("clinical") or {}
    rows.append("\n".join([
        f"Patient: {_v(findings.get('multiplicity'))}",
        f"  other CNS/spinal metastases on MR: {_v(findings.get('other_cns_or_spinal_metastases'))}",
        f"  primary/non-CNS metastases on MR: {_v(findings.get('primary_tumor_or_non_cns_metastases'))}",
        f"  leptomeningeal metastases: {_v(findings.get('leptomeningeal_metastases'))}",
        f"  MR 4 weeks before / after: {_v(findings.get('other_metastases_prior_mr'))} / "
        f"{_v(findings.get('other_metastases_subsequent_mr'))}",
        f"  new ISCM on follow-up: {_v(findings.get('new_iscm_on_follow_up'))}",
        f"  primary {_v(clinical.get('primary_tumor'))}; known at presentation "
        f"{_v(clinical.get('primary_known_at_presentation'))}",
        f"  dominant symptom {_v(clinical.get('dominant_symptom'))}; "
        f"{_v(clinical.get('symptom_duration_weeks'))} weeks",
    ]))
    return rows


def _v(value) -> str:
    """A checklist value as the figure shows it: "not set" for None, yes/no, underscores as spaces."""
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value).replace("_", " ")


def _hint_blocks(hints: Sequence) -> list[tuple[str, dict]]:
    blocks = [("Hints (recomputed from this read)", {"fontsize": 10, "weight": "bold"})]
    for hint in hints:
        colour = KIND_COLOURS.get(getattr(hint, "kind", ""), "black")
        blocks.append((f"[{hint.direction}] {hint.text}", {"fontsize": 7.6, "color": colour, "wrap": True,
                                                           "gap": 0.002}))
        blocks += [(str(item), {"fontsize": 6.4, "color": "#666666", "x": 0.025, "wrap": True, "gap": 0.001})
                   for item in hint.evidence]
        blocks[-1][1]["gap"] = 0.008
    return blocks


def _lesion_top(lesion: dict):
    lines = lesion.get("lines_lps") or {}
    points = lines.get("si") or next(iter(lines.values()), None)
    if not points:
        return None
    return max(points, key=lambda point: point[2])


def _mm(value) -> str:
    return "?" if value is None else f"{value:.1f}"


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))
