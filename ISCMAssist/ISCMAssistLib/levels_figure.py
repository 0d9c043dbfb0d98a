"""The ``levels --figure`` image: the sagittal slice with each proposed level point, its name and
confidence (9 pt, outlined), the disc planes measured in the image, and a legend of the symbols."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import RESEARCH_USE_LABEL
from .figures import SagittalView, sagittal_view
from .volumes import Volume


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
