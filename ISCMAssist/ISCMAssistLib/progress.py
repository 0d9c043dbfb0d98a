"""The two shapes of a progress callback, defined once, and the one adapter between them.

Core loops count work: ``ProgressCallback(done, total)`` with integer steps. The panels and the CLI bar
show a fraction and a line of text: ``PanelProgress(fraction 0-1, message)``. :func:`steps_to_panel`
turns a step callback's calls into a part of a panel callback's range.
"""

from __future__ import annotations

from typing import Callable

#: (steps done, steps total), called as work advances
ProgressCallback = Callable[[int, int], None]
#: (fraction done 0-1, message for the reader)
PanelProgress = Callable[[float, str], None]


def no_progress(*_args: object) -> None:
    """A progress callback that shows nothing (either shape)."""


def steps_to_panel(progress: PanelProgress, message: str, start: float = 0.0, span: float = 1.0) -> ProgressCallback:
    """Take a panel callback, the message to show and the part [start, start + span] of its range;
    return a step callback that reports ``done / total`` of that part."""
    return lambda done, total: progress(start + span * done / max(total, 1), message)
