"""Segment counts on the 24 real lumbar scans: a lesion bounded by two discs counts the segments between.

Masks in the thecal sac are built from the expert body masks (Testing/real_lumbar.py): a lesion from
the L2/L3 to the L4/L5 disc spans L3-L4 (2 segments), an edema from L1/L2 to L4/L5 spans L2-L4 (3).
The levels come from the disc points with the image (what ``measure`` does), from disc lines, from
the body-mask label map and from a canal label map whose end levels the field of view cuts.
benchmarks/real_counts.py prints the same figures per half of the set.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import real_lumbar as lumbar  # noqa: E402
from ISCMAssistLib.levels import LevelModel  # noqa: E402
from ISCMAssistLib.autolevels import propose_levels  # noqa: E402
from ISCMAssistLib.measurements import mask_measurements  # noqa: E402

CASES = {"lesion": ("L2/L3", "L4/L5", 2, "L3-L4"), "edema": ("L1/L2", "L4/L5", 3, "L2-L4")}




@pytest.fixture(scope="module")
def counted(real_lumbar) -> dict[tuple[str, str, str], tuple[int, str]]:
    """(subject, levels source, case) -> (count, levels text), for every subject of the real set."""
    out = {}
    for name in lumbar.subjects(real_lumbar):
        subject = lumbar.load_subject(real_lumbar, name)
        labels = list(subject.disc_centres)
        points = np.array([subject.disc_centres[label] for label in labels])
        models = {
            "points+image": LevelModel.from_landmarks(labels, points).with_image_planes(subject.image),
            "lines": LevelModel.from_landmarks([label for label in labels for _ in range(2)],
                                               np.array([end for label in labels for end in subject.disc_lines[label]])),
            "body map": LevelModel.from_label_map(subject.bodies),
            "canal map": LevelModel.from_label_map(lumbar.canal_label_map(subject)),
        }
        proposal = propose_levels(subject.image, anchor=("L3/L4", subject.disc_centres["L3/L4"]))
        if proposal.spine_found:
            models["automatic"] = LevelModel.from_landmarks(
                proposal.labels, proposal.positions_ras).with_image_planes(subject.image)
        for case, (top, bottom, _, _) in CASES.items():
            for bound in lumbar.BOUNDS:
                mask = lumbar.lesion_mask(subject, top, bottom, bound)
                for source, model in models.items():
                    result = mask_measurements(mask, model)
                    span = model.count_segments(result.u_min, result.u_max)
                    out[(name, source, case, bound)] = (span.count, span.text)
    return out


#: (levels source, how the masks' ends are cut) pairs that count right on every subject; with disc
#: points + image or the body map, ends cut along image rows or across the canal at strongly
#: tilted discs still miss a few (README, "Why 0.2").
COUNTED_RIGHT = [("points+image", "disc"), ("body map", "disc")] + [
    (source, bound) for source in ("lines", "canal map") for bound in lumbar.BOUNDS]


@pytest.mark.parametrize("source, bound", COUNTED_RIGHT)
@pytest.mark.parametrize("case", list(CASES))
def test_every_subject_counts_the_segments_between_the_discs(counted, source, bound, case):
    _, _, count, text = CASES[case]
    wrong = {key[0]: got for key, got in counted.items()
             if key[1:] == (source, case, bound) and got != (count, text)}
    assert wrong == {}, f"{case} ({bound} ends) with levels from {source}: expected {count} ({text})"


def test_canal_map_end_levels_are_cut_and_say_so(real_lumbar):
    subject = lumbar.load_subject(real_lumbar, lumbar.subjects(real_lumbar)[0])
    model = LevelModel.from_label_map(lumbar.canal_label_map(subject))
    labels = [label for label, _ in model.landmarks]
    assert labels[0] == "L1/L2" and labels[-1] == "L4/L5"  # no L1 or L5 body centre
    assert any("L1, L5 cut by the field of view" in note for note in model.plane_notes)


def test_the_anchored_automatic_proposal_counts_right_on_all_but_one_scan(counted):
    """Levels proposed with one anchor (the true L3/L4): disc-bounded masks count right on 23 of the
    24 subjects (benchmarks/real_counts.py; the one miss, sub-11, reaches 0.21 segment past a proposed
    disc placed a few mm off the expert's), so at most one subject may be wrong."""
    subjects = {key[0] for key in counted}
    wrong = {key[0] for key, got in counted.items()
             if key[1] == "automatic" and key[3] == "disc" and got != CASES[key[2]][2:]}
    missing = {name for name in subjects if (name, "automatic", "lesion", "disc") not in counted}
    assert len(wrong | missing) <= 1, f"automatic levels counted wrong on {sorted(wrong | missing)}"
