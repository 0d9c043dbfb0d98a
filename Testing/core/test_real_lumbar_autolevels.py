"""Automatic levels on the 24 real lumbar scans of ../shared/data/real_lumbar (issue 10, item 2).

Ground truth: discs L1/L2..L4/L5 derived from expert body masks (the data's README). The figures
these tests hold are printed, per half (tune / held-out), by benchmarks/real_scans.py; the bars here
sit at or just under what was measured, so a change that makes them worse fails.
Measured (both halves): with the L3/L4 disc as anchor 93/96 discs found within 4 mm, every one of
them named right (held-out 48/48; three discs of sub-49, strong scoliosis, are missed); without an
anchor, names confident in 14/24 scans (6 tune, 8 held-out) and never wrong.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from ISCMAssistLib.autolevels import propose_levels
from ISCMAssistLib.images import load_volume

TOLERANCE_MM = 4.0


def _truth(folder, subject):
    data = json.loads((folder / subject / "ground_truth.json").read_text())
    return {label: np.array(disc["ras"], dtype=float) for label, disc in data["discs"].items()}


def _match(proposal, truth):
    """Per ground-truth disc: the label of the nearest proposed disc along S-I if within 4 mm, else None."""
    out = {}
    for label, point in truth.items():
        near = min(proposal.discs(), key=lambda d: abs(d.position_ras[2] - point[2]), default=None)
        out[label] = near.label if near is not None and abs(near.position_ras[2] - point[2]) <= TOLERANCE_MM else None
    return out


def _misplaced(proposal, truth):
    """Proposed discs with a ground-truth disc's name more than 8 mm (S-I) from that disc."""
    return [d.label for d in proposal.discs() if d.label in truth and abs(d.position_ras[2] - truth[d.label][2]) > 8.0]


@pytest.fixture(scope="module")
def results(real_lumbar):
    """Subject -> (truth, unanchored proposal, proposal anchored at the true L3/L4 disc), sorted by name."""
    out = {}
    for folder in sorted(p for p in real_lumbar.iterdir() if p.name.startswith("sub-")):
        volume = load_volume(folder / "image.nii.gz")
        truth = _truth(real_lumbar, folder.name)
        out[folder.name] = (volume, truth, propose_levels(volume),
                            propose_levels(volume, anchor=("L3/L4", truth["L3/L4"])))
    assert len(out) == 24
    return out


def test_anchored_discs_found_within_4mm_and_named_right(results):
    names = list(results)
    held_out = names[1::2]   # the split fixed before tuning: odd positions tune, even positions held out
    found = {name: _match(anchored, truth) for name, (_, truth, _, anchored) in results.items()}
    hits = [(name, label, got) for name, matched in found.items() for label, got in matched.items() if got]
    # A wrong name on a disc no truth is near: measured twice, both in sub-49 (strong scoliosis: the
    # spine leaves any one sagittal slab), never in the held-out half.
    misplaced = {name: _misplaced(anchored, truth) for name, (_, truth, _, anchored) in results.items()}
    assert sum(len(v) for v in misplaced.values()) <= 2 and not any(misplaced[name] for name in held_out), misplaced
    assert all(got == label for _, label, got in hits), [h for h in hits if h[1] != h[2]]
    total = sum(len(m) for m in found.values())
    assert len(hits) >= 0.96 * total, f"{len(hits)}/{total} found within 4 mm"
    held_hits = sum(1 for name, _, _ in hits if name in held_out)
    assert held_hits >= 0.97 * 4 * len(held_out), f"held-out {held_hits}/{4 * len(held_out)}"


def test_unanchored_names_confident_are_never_wrong(results):
    confident = 0
    for name, (_, truth, free, _) in results.items():
        assert free.spine_found, f"{name}: {free.messages}"
        assert free.contrast == "t2" and free.contrast_sure, f"{name}: CSF and discs are bright on these images"
        if free.naming_confident:
            confident += 1
            matched = _match(free, truth)
            assert any(matched.values()) and all(got in (None, label) for label, got in matched.items()), \
                f"{name}: confident but {matched}"
            assert not _misplaced(free, truth), f"{name}: confident, and a name lies > 8 mm from its disc"
        else:
            assert free.confirm and any(f"confirm {free.confirm}" in m for m in free.messages), name
    assert confident >= 13, f"names confident in {confident}/24 scans"


def test_a_far_anchor_makes_the_chain_pass_through_it(results):
    """Wherever the unanchored chain has no disc within 5 mm of a true disc, an anchor there makes the
    tool detect the chain again through it: the anchor's disc is proposed there, named as the anchor."""
    tried = 0
    for name, (volume, truth, free, _) in results.items():
        z = np.array([d.position_ras[2] for d in free.discs()])
        for label, point in truth.items():
            if z.size and np.min(np.abs(z - point[2])) <= 5.0:
                continue
            tried += 1
            proposal = propose_levels(volume, anchor=(label, point))
            assert any("re-detected through it" in m for m in proposal.messages), (name, label, proposal.messages)
            assert _match(proposal, {label: point})[label] == label, (name, label)
    assert tried >= 2
