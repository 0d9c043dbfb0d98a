"""Level names of automatic levels: parse an anchor, shift or re-fit the names of a column of points."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ..vertebrae import LevelLabelError, disc_name, landmark_coordinate, level_name
from .records import AutoLevelsError


def shift_labels(labels: Sequence[str], by: int) -> list[str]:
    """Take landmark labels and an integer ``by``; return every label moved by ``by`` levels.

    ``by`` = +1 names each point one level lower (caudal: "T4" -> "T5", "T4/T5" -> "T5/T6"), -1 one
    level higher. "conus" is kept. Raises AutoLevelsError when a name would leave C1..S1.
    """
    out = []
    for label in labels:
        try:
            u = landmark_coordinate(label)
        except LevelLabelError as error:
            raise AutoLevelsError(f"labels: {error}") from None
        if u is None:
            out.append(label)
            continue
        try:
            out.append(label_of_u(u + int(by)))
        except LevelLabelError:
            raise AutoLevelsError(f"labels: shifting '{label}' by {by} leaves C1..S1") from None
    return out


def relabel_from_anchor(
    labels_positions: Sequence[tuple[str, Sequence[float]]], anchor_label: str, anchor_index: int
) -> list[str]:
    """Rename a column of level points so that point ``anchor_index`` is ``anchor_label``.

    Takes (label, RAS mm position) pairs (any order; "conus" points are kept as they are), the
    reader's name for one point and that point's index. Points are ordered along the spine by
    position (cranial first); each keeps its kind (disc if its current label names a disc, body
    otherwise, the anchor takes the kind of its new label) and the names follow in sequence:
    disc-body-disc advances half a level, two discs or two bodies in a row a whole level.
    Positions never change. Returns the new labels in the input order. Raises AutoLevelsError for
    a bad index or label or when a name would leave C1..S1.
    """
    items = list(labels_positions)
    if not 0 <= anchor_index < len(items):
        raise AutoLevelsError(f"anchor_index: {anchor_index} is not an index of the {len(items)} points")
    try:
        anchor_u = landmark_coordinate(anchor_label)
    except LevelLabelError as error:
        raise AutoLevelsError(f"anchor_label: {error}") from None
    if anchor_u is None:
        raise AutoLevelsError("anchor_label: 'conus' cannot anchor vertebral names")
    positions = np.array([np.asarray(p, dtype=float) for _, p in items]).reshape(-1, 3)
    is_conus = [str(label).strip().lower() == "conus" for label, _ in items]
    if is_conus[anchor_index]:
        raise AutoLevelsError(f"anchor_index: point {anchor_index} is the conus")
    kinds = []
    for index, (label, _) in enumerate(items):
        if index == anchor_index:
            kinds.append("disc" if anchor_u % 1 else "body")
        else:
            kinds.append("disc" if "/" in str(label) or re.search(r"\d\s*-\s*[CTLS]", str(label)) else "body")
    order = [i for i in _spine_order(positions) if not is_conus[i]]
    u = {anchor_index: anchor_u}
    start = order.index(anchor_index)
    for direction in (1, -1):
        previous = anchor_index
        position = start + direction
        while 0 <= position < len(order):
            index = order[position]
            step = 0.5 if kinds[index] != kinds[previous] else 1.0
            u[index] = u[previous] + direction * step
            previous = index
            position += direction
    labels = []
    for index, (label, _) in enumerate(items):
        if is_conus[index]:
            labels.append(label)
            continue
        try:
            labels.append(label_of_u(u[index]))
        except LevelLabelError:
            raise AutoLevelsError(
                f"anchor_label: naming point {anchor_index} '{anchor_label}' puts point {index} outside C1..S1"
            ) from None
    return labels


def parse_anchor(text: str) -> tuple[str, np.ndarray]:
    """Take "LABEL@R,A,S" (e.g. "T4/T5@0,-20.5,31"); return (label, RAS mm point (3,)).

    Raises AutoLevelsError naming the problem for anything else.
    """
    label, sep, coords = str(text).partition("@")
    if not sep:
        raise AutoLevelsError(f"--anchor: '{text}' is not LABEL@R,A,S (e.g. T4/T5@0,-20,31)")
    try:
        point = np.array([float(v) for v in coords.split(",")], dtype=float)
    except ValueError:
        raise AutoLevelsError(f"--anchor: '{coords}' is not three numbers R,A,S in mm") from None
    if point.shape != (3,) or not np.all(np.isfinite(point)):
        raise AutoLevelsError(f"--anchor: '{coords}' is not three finite numbers R,A,S in mm")
    check_anchor((label, point))
    return label.strip(), point


def label_of_u(u: float) -> str:
    """Return the label of level coordinate u (integer: body, half: disc)."""
    if abs(u - round(u)) < 1e-6:
        return level_name(int(round(u)))
    return disc_name(int(np.floor(u)))


def _spine_order(positions: np.ndarray) -> list[int]:
    """Return indices of RAS points ordered cranial to caudal along their main axis."""
    if len(positions) < 2:
        return list(range(len(positions)))
    centred = positions - positions.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axis = vt[0] if vt[0][2] <= 0 else -vt[0]   # pointing caudally (-z)
    return list(np.argsort(centred @ axis, kind="stable"))


def check_anchor(anchor) -> tuple[str | None, np.ndarray | None]:
    """Validate an anchor; return (label, RAS point) or (None, None)."""
    if anchor is None:
        return None, None
    try:
        label, point = anchor
    except (TypeError, ValueError):
        raise AutoLevelsError("anchor: must be (label, (R, A, S))") from None
    try:
        u = landmark_coordinate(str(label))
    except LevelLabelError as error:
        raise AutoLevelsError(f"anchor: {error}") from None
    if u is None:
        raise AutoLevelsError("anchor: 'conus' cannot anchor vertebral names; name a vertebra or disc")
    point = np.asarray(point, dtype=float)
    if point.shape != (3,) or not np.all(np.isfinite(point)):
        raise AutoLevelsError(f"anchor: position {point.tolist()} is not three finite RAS mm numbers")
    return str(label).strip(), point
