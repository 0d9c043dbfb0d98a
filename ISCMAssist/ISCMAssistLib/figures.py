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

DIRECTION_COLOURS = {"typical": "#1a9850", "against": "#d73027", "search": "#4575b4"}


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
    """Write a PNG: one sagittal panel per (title, volume) with the lesions' lines, level labels and hints.

    Takes the output path, panels of (title, Volume), the case dict (lines in LPS mm), the level
    landmarks as (label, RAS point) pairs, the hints (hints.Hint) and the RAS point the slices pass
    through. Returns the written path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .coords import lps_to_ras
    from .files import atomic_write_bytes

    panels = list(panels)
    level_points = list(level_points)
    figure = plt.figure(figsize=(3.6 * len(panels) + 6.5, 8.5), dpi=110)
    grid = figure.add_gridspec(1, len(panels) + 1, width_ratios=[3.6] * len(panels) + [6.5])
    colours = plt.get_cmap("tab10")
    for column, (title, volume) in enumerate(panels):
        axes = figure.add_subplot(grid[0, column])
        view = sagittal_view(volume, through_ras)
        low, high = np.percentile(view.image, [1, 99.5])
        axes.imshow(view.image, cmap="gray", extent=view.extent, vmin=low, vmax=high, origin="lower",
                    interpolation="bilinear")
        for label, point in level_points:
            x, y = view.display_xy(point)[0]
            is_disc = "/" in label
            axes.plot(x, y, "o" if not is_disc else "_", color="#ffd92f", markersize=4 if not is_disc else 9)
            if not is_disc:
                axes.annotate(label, (x, y), xytext=(-14, 0), textcoords="offset points", color="#ffd92f",
                              fontsize=7, ha="right", va="center")
        for number, lesion in enumerate(case.get("lesions", [])):
            for name, points in (lesion.get("lines_lps") or {}).items():
                xy = view.display_xy(lps_to_ras(points))
                style = "--" if name == "edema_si" else "-"
                axes.plot(xy[:, 0], xy[:, 1], style, color=colours(number), linewidth=1.6,
                          marker="+" if name != "edema_si" else None)
            top = view.display_xy(lps_to_ras(_lesion_top(lesion)))[0] if _lesion_top(lesion) else None
            if top is not None:
                axes.annotate(f"Lesion {number + 1}", top, xytext=(12, 8), textcoords="offset points",
                              color=colours(number), fontsize=8, weight="bold")
        axes.set_title(title, fontsize=10)
        axes.set_xlabel("anterior \u2190  (mm)  \u2192 posterior", fontsize=7)
        axes.set_ylabel("superior (mm)", fontsize=7)
        axes.tick_params(labelsize=6)
        if progress:
            progress((column + 1) / (len(panels) + 1))
    text_axes = figure.add_subplot(grid[0, -1])
    text_axes.axis("off")
    figure.tight_layout(rect=(0, 0, 1, 0.96))
    _write_text_column(figure, text_axes, [
        (_summary_text(case), {"fontsize": 8.5, "family": "monospace"}),
        ("Hints (recomputed from this read; evidence from the reference study)",
         {"fontsize": 9.5, "weight": "bold"}),
        *[item for hint in hints for item in (
            (_wrap(f"[{hint.direction}] {hint.text}", 84),
             {"fontsize": 8, "color": DIRECTION_COLOURS.get(hint.direction, "black")}),
            *[(_wrap(str(evidence), 96), {"fontsize": 6.8, "color": "#555555", "x": 0.03})
              for evidence in hint.evidence])],
    ])
    figure.suptitle(f"ISCMAssist read of {case.get('case_id', '')} \u2014 {RESEARCH_USE_LABEL}",
                    fontsize=10, color="#b2182b")
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    atomic_write_bytes(Path(path), buffer.getvalue())
    if progress:
        progress(1.0)
    return Path(path)


def _write_text_column(figure, axes, blocks: list[tuple[str, dict]]) -> None:
    """Stack text blocks top-down in ``axes``, each placed below the measured bottom of the last."""
    renderer = figure.canvas.get_renderer()
    to_axes = axes.transAxes.inverted()
    y = 1.0
    for text, style in blocks:
        style = dict(style)
        x = style.pop("x", 0.0)
        artist = axes.text(x, y, text, va="top", ha="left", transform=axes.transAxes, **style)
        bottom = to_axes.transform(artist.get_window_extent(renderer).get_points())[0][1]
        y = bottom - 0.012


def _lesion_top(lesion: dict):
    lines = lesion.get("lines_lps") or {}
    points = lines.get("si") or next(iter(lines.values()), None)
    if not points:
        return None
    return max(points, key=lambda point: point[2])


def _summary_text(case: dict) -> str:
    rows = []
    for number, lesion in enumerate(case.get("lesions", []), start=1):
        size = lesion.get("size_mm") or {}
        rows += [
            f"Lesion {number}: {lesion.get('levels') or '?'} ({lesion.get('location') or '?'})",
            f"  size AP x TR x SI: {_mm(size.get('ap'))} x {_mm(size.get('transverse'))} x {_mm(size.get('si'))} mm",
            f"  enhancement {lesion.get('enhancement_length_segments') or '?'} seg, "
            f"cord T2 {lesion.get('t2_length_segments') or '?'} seg, ratio {lesion.get('t2_to_enhancement_ratio') or '?'}",
        ]
    return "\n".join(rows)


def _mm(value) -> str:
    return "?" if value is None else f"{value:.1f}"


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


def draw_levels_figure(path: str | Path, volume: Volume, proposal, title: str,
                       truth: dict[str, np.ndarray] | None = None,
                       posterior: dict[str, np.ndarray] | None = None) -> Path:
    """Write a PNG of the sagittal slice through the proposed levels with every point and its confidence.

    Takes the output path, the Volume, an autolevels.LevelProposal, a title, and optional reference
    points (label -> RAS mm): ``truth`` drawn as cyan x, ``posterior`` as yellow triangles. Each
    proposed point is labelled with its name and confidence (0-1; also its marker's colour), a disc
    with a measured plane also gets a short line along that plane; labels are 9 pt with a dark
    outline, and a legend names the symbols. Returns the written path.
    """
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import patheffects

    from .files import atomic_write_bytes

    positions = np.array([point.position_ras for point in proposal.points]) if proposal.points else None
    view = sagittal_view(volume, None if positions is None else positions.mean(axis=0))
    height = 13.0 if view.image.shape[0] > 400 else 9.5
    width = max(7.5, height * view.image.shape[1] / view.image.shape[0] + 5.0)   # + the legend beside the image
    figure, axes = plt.subplots(figsize=(width, height))
    low, high = np.nanpercentile(view.image, [1, 99.5])
    axes.imshow(np.nan_to_num(view.image), cmap="gray", extent=view.extent, origin="lower", vmin=low, vmax=high)
    outline = [patheffects.withStroke(linewidth=2.5, foreground="black")]
    colours = matplotlib.colormaps["RdYlGn"]
    for point in proposal.points:
        _draw_level_point(axes, view, point, colours(float(point.confidence)), outline)
    for marker, colour, points in (("x", "#00e5ff", truth or {}), ("^", "#ffd040", posterior or {})):
        for point in points.values():
            x, y = view.display_xy(point)[0]
            axes.plot(x, y, marker, color=colour, ms=8, mew=2, fillstyle="none", path_effects=outline)
    if not proposal.spine_found:
        axes.text(0.5, 0.5, "no spine found", color="yellow", fontsize=14, transform=axes.transAxes, ha="center",
                  path_effects=outline)
    axes.set_xlim(view.extent[0], view.extent[1])
    axes.set_ylim(view.extent[2], view.extent[3])
    axes.set_xlabel("anterior \u2190  (mm)  \u2192 posterior", fontsize=10)
    axes.set_ylabel("superior (mm)", fontsize=10)
    _levels_legend(axes, proposal, truth, posterior, colours)
    axes.set_title(f"{title}\n{_levels_verdict(proposal)}\n{RESEARCH_USE_LABEL}", fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)


def _draw_level_point(axes, view: SagittalView, point, colour, outline) -> None:
    """Draw one proposed point: marker coloured by confidence, "label confidence" text, disc plane."""
    x, y = view.display_xy(point.position_ras)[0]
    disc = point.kind == "disc"
    normal = getattr(point, "normal_ras", None)
    if disc and normal is not None:
        along = np.array([0.0, normal[2], -normal[1]])   # in the sagittal plane, across the normal
        ends = view.display_xy(np.stack([point.position_ras - 12.0 * along, point.position_ras + 12.0 * along]))
        axes.plot(ends[:, 0], ends[:, 1], "-", color=colour, lw=1.5, alpha=0.9, path_effects=outline)
    if disc:
        axes.plot(x, y, "P", color=colour, ms=9, mew=1.0, mec="black")
    else:
        axes.plot(x, y, "o", color=colour, ms=9, mew=2.0, fillstyle="none", path_effects=outline)
    axes.text(x + 6, y, f"{point.label} {point.confidence:.2f}", color=colour, fontsize=9, va="center",
              fontweight="bold", path_effects=outline)


def _levels_verdict(proposal) -> str:
    """Return the figure's one-line verdict: names confident or not (and what to confirm), contrast."""
    if not proposal.spine_found:
        return "no spine found"
    confirm = getattr(proposal, "confirm", "")
    anchored = any(message.startswith("names follow the anchor") for message in proposal.messages)
    naming = "names from the anchor" if anchored else "names confident" if proposal.naming_confident else (
        f"names NOT sure: confirm {confirm}" if confirm else "names NOT sure")
    contrast = f"contrast {proposal.contrast}" + ("" if getattr(proposal, "contrast_sure", True) else " (NOT sure)")
    return f"{naming}; {contrast}"


def _levels_legend(axes, proposal, truth, posterior, colours) -> None:
    """Add the legend naming every symbol on the levels figure and the confidence colours."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="P", ls="", color="white", mec="black", ms=9, label="proposed disc (label confidence)"),
               Line2D([], [], marker="o", ls="", color="white", fillstyle="none", ms=9, label="proposed body centre"),
               Line2D([], [], ls="-", color="white", lw=1.5, label="disc plane measured in the image")]
    for value, name in ((0.9, "high"), (0.5, "medium"), (0.15, "low")):
        handles.append(Line2D([], [], marker="s", ls="", color=colours(value), ms=9,
                              label=f"confidence {name} (~{value:.1f})"))
    if truth:
        handles.append(Line2D([], [], marker="x", ls="", color="#00e5ff", mew=2, ms=8, label="reference disc"))
    if posterior:
        handles.append(Line2D([], [], marker="^", ls="", color="#ffd040", fillstyle="none", ms=8,
                              label="reference posterior disc tip"))
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9, facecolor="#202020",
                edgecolor="black", labelcolor="white", borderaxespad=0.0)
