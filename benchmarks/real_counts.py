"""Segment counts on real anatomy: the 24 real lumbar scans, lesions bounded by the discs.

For every subject of ../shared/data/real_lumbar (or $ISCM_SHARED_DATA/real_lumbar) a thecal-sac
lesion from the L2/L3 to the L4/L5 disc (a reader counts 2, L3-L4) and an edema from L1/L2 to
L4/L5 (3, L2-L4) are built from the expert body masks (Testing/real_lumbar.py), their ends cut
three ways (along the disc lines, along image rows, across the sac). They are counted with the
levels given five ways:

- points: the disc centres of ground_truth.json, planes perpendicular to the spine (the old model);
- points+image: the same points, disc planes from the image (what ``measure`` does);
- lines: each disc as a line from its anterior to its posterior margin;
- body map: the expert body-mask label map (touching or not);
- canal map: the sac labelled by level, L1 and L5 cut by the field of view;
- automatic: ``propose_levels`` with one anchor at the true L3/L4 disc, planes from the image.

It prints, for the tuning half and the held-out half separately (alternate subjects), how many
counts are right, and how far the masks reach past their discs in the level coordinate (mm and
segments), which is what the 0.1-segment overlap allowance must cover.

    python benchmarks/real_counts.py [--figure out.png]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Testing"))

import real_lumbar  # noqa: E402
import ISCMAssistLib.levels as levels_module  # noqa: E402
from ISCMAssistLib.levels import OVERLAP_TOLERANCE, LevelModel  # noqa: E402
from ISCMAssistLib.autolevels import propose_levels  # noqa: E402
from ISCMAssistLib.measurements import mask_measurements  # noqa: E402

CASES = (("lesion", "L2/L3", "L4/L5", 2, "L3-L4", 21.5, 23.5), ("edema", "L1/L2", "L4/L5", 3, "L2-L4", 20.5, 23.5))
#: Overlap allowances (segments) tried, to show what the rule's constant costs and buys.
TOLERANCES = (0.10, 0.15, 0.20, 0.25)
SOURCES = ("points", "points+image", "lines", "body map", "canal map", "automatic")


def models(subject: real_lumbar.Subject) -> dict[str, LevelModel]:
    """Take a Subject; return its level model for each source in SOURCES."""
    labels = list(subject.disc_centres)
    points = np.array([subject.disc_centres[label] for label in labels])
    by_points = LevelModel.from_landmarks(labels, points)
    line_labels = [label for label in labels for _ in range(2)]
    line_points = np.array([end for label in labels for end in subject.disc_lines[label]])
    proposal = propose_levels(subject.image, anchor=("L3/L4", subject.disc_centres["L3/L4"]))
    return {
        "automatic": LevelModel.from_landmarks(proposal.labels, proposal.positions_ras).with_image_planes(subject.image),
        "points": by_points,
        "points+image": by_points.with_image_planes(subject.image),
        "lines": LevelModel.from_landmarks(line_labels, line_points),
        "body map": LevelModel.from_label_map(subject.bodies),
        "canal map": LevelModel.from_label_map(real_lumbar.canal_label_map(subject)),
    }


def measure(root: Path, names: list[str]) -> list[dict]:
    """Take the data folder and subject names; return one row per subject, source, case and bound."""
    rows = []
    for name in names:
        subject = real_lumbar.load_subject(root, name)
        built = models(subject)
        for case, top, bottom, count, text, u_top, u_bottom in CASES:
            for bound in real_lumbar.BOUNDS:
                mask = real_lumbar.lesion_mask(subject, top, bottom, bound)
                for source, model in built.items():
                    result = mask_measurements(mask, model)
                    span = model.count_segments(result.u_min, result.u_max)
                    segment_mm = model.segment_length_mm((u_top + u_bottom) / 2)
                    reach = max(u_top - result.u_min, result.u_max - u_bottom)
                    right_at = {}
                    for tolerance in TOLERANCES:
                        levels_module.OVERLAP_TOLERANCE = tolerance
                        at = model.count_segments(result.u_min, result.u_max)
                        right_at[tolerance] = at.count == count and at.text == text
                    levels_module.OVERLAP_TOLERANCE = OVERLAP_TOLERANCE
                    rows.append({"subject": name, "source": source, "case": case, "bound": bound,
                                 "right": span.count == count and span.text == text, "counted": span.text,
                                 "reach_segments": reach, "reach_mm": reach * segment_mm, "right_at": right_at})
    return rows


def report(rows: list[dict], title: str) -> None:
    """Print the right-count table (source x bound) and the overshoot figures of one half."""
    print(f"\n{title}: right counts (lesion L3-L4 = 2 and edema L2-L4 = 3) of {len({r['subject'] for r in rows})} subjects")
    print(f"{'levels from':14}" + "".join(f"{bound + ' ends':>24}" for bound in real_lumbar.BOUNDS))
    print(f"{'':14}" + "".join(f"{'right  reach max mm (seg)':>24}" for _ in real_lumbar.BOUNDS))
    for source in SOURCES:
        cells = []
        for bound in real_lumbar.BOUNDS:
            chosen = [r for r in rows if r["source"] == source and r["bound"] == bound]
            reach = max(chosen, key=lambda r: r["reach_mm"])
            cells.append(f"{sum(r['right'] for r in chosen):>2}/{len(chosen):<2} {reach['reach_mm']:5.1f} ({reach['reach_segments']:.2f})")
        print(f"{source:14}" + "".join(f"{cell:>24}" for cell in cells))
    print(f"right counts by overlap allowance (segments), all three kinds of ends:")
    print(f"{'levels from':14}" + "".join(f"{tolerance:>10.2f}" for tolerance in TOLERANCES))
    for source in SOURCES:
        chosen = [r for r in rows if r["source"] == source]
        print(f"{source:14}" + "".join(f"{sum(r['right_at'][t] for r in chosen):>6}/{len(chosen):<3}" for t in TOLERANCES))
    wrong = [r for r in rows if not r["right"] and r["source"] != "points"]
    for r in wrong[:12]:
        print(f"  wrong: {r['subject']} {r['source']} {r['case']} ({r['bound']}) counted {r['counted']}, "
              f"reach {r['reach_mm']:.1f} mm = {r['reach_segments']:.2f} segment")
    if len(wrong) > 12:
        print(f"  ... and {len(wrong) - 12} more wrong counts")


def main() -> int:
    """Run the measurement on both halves and print the tables; return 0."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--figure", type=Path, help="write a PNG of the overshoot per source")
    args = parser.parse_args()
    shared = Path(os.environ.get("ISCM_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    root = shared / "real_lumbar"
    if not root.is_dir():
        print(f"real lumbar scans not found at {root} (set ISCM_SHARED_DATA)")
        return 1
    tune, held_out = real_lumbar.halves(real_lumbar.subjects(root))
    print(f"overlap allowance {OVERLAP_TOLERANCE} segment; tuning half {', '.join(tune)}")
    started = time.perf_counter()
    tune_rows = measure(root, tune)
    held_rows = measure(root, held_out)
    report(tune_rows, "TUNING HALF")
    report(held_rows, "HELD-OUT HALF")
    print(f"\n{time.perf_counter() - started:.1f} s for {len(tune) + len(held_out)} subjects")
    if args.figure:
        draw(tune_rows + held_rows, args.figure)
        print(f"wrote {args.figure}")
    return 0


def draw(rows: list[dict], path: Path) -> None:
    """Write a PNG: how far the disc-bounded masks reach past their discs, per level source."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 3.6))
    data = [[r["reach_segments"] for r in rows if r["source"] == s and r["bound"] == "disc"] for s in SOURCES]
    axis.boxplot(data, orientation="horizontal", tick_labels=SOURCES)
    axis.axvline(OVERLAP_TOLERANCE, color="tab:red", linestyle="--", label=f"allowance {OVERLAP_TOLERANCE} segment")
    axis.set_xlabel("reach past the bounding disc (segments; > allowance counts one more level)")
    axis.set_title("Disc-bounded masks on 24 real lumbar scans")
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
