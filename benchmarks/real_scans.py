"""Automatic levels on the 24 real lumbar scans of ../shared/data/real_lumbar (issue 10, item 2).

Split fixed before tuning: the subjects sorted by name, odd positions (1st, 3rd, ...: sub-01, 05,
09, ...) are the TUNE half, even positions (sub-03, 07, 11, ...) the HELD-OUT half. Printed per half:
- anchored (one true disc given, the L3/L4 disc; and every one of the four in turn): ground-truth
  discs L1/L2..L4/L5 found within 4 mm along S-I (a proposed disc of any name that close), and of
  those found, how many carry the right name;
- unanchored: scans whose names are claimed confident, how many of those are wrong (any proposed disc
  within 4 mm of a ground-truth disc with another name, or no ground-truth disc found), "no spine
  found" count, and the contrast read (the images are water-fat MRI with CSF and discs bright, read as
  "t2" = the bright-CSF contrast; see docs/autolevels.md);
- far anchor: the anchor 40 mm from every disc of the unanchored chain cannot be made on a correct
  chain, so the chain is given the anchor at a true disc the unanchored chain missed by > 4 mm where
  there is one (counted), and the anchored figures already include those re-fits.
Then a per-subject table. The ground-truth discs are derived from body masks (README of the data):
sub-49's L3/L4 and L4/L5 (masks overlap) are unreliable; they are counted, and listed.

Usage: python benchmarks/real_scans.py [REAL_LUMBAR_FOLDER] [--figure DIR]
(--figure writes one PNG per subject with the proposal and the ground-truth discs.)
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from ISCMAssistLib.autolevels import propose_levels
from ISCMAssistLib.images import load_volume

REPO = Path(__file__).resolve().parents[1]
DEFAULT = Path(os.environ.get("ISCM_SHARED_DATA", REPO.parent / "shared" / "data")) / "real_lumbar"
TOLERANCE_MM = 4.0
GT_DISCS = ("L1/L2", "L2/L3", "L3/L4", "L4/L5")


def subjects(folder: Path) -> list[str]:
    """Return the subject folder names, sorted."""
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name.startswith("sub-"))


def halves(names: list[str]) -> dict[str, list[str]]:
    """Return the fixed split: odd positions (1st, 3rd, ...) tune, even positions held out."""
    return {"tune": names[0::2], "held-out": names[1::2]}


def ground_truth(folder: Path, subject: str) -> dict[str, np.ndarray]:
    """Return disc label -> RAS mm of a subject's derived ground-truth discs."""
    data = json.loads((folder / subject / "ground_truth.json").read_text())
    return {label: np.array(disc["ras"], dtype=float) for label, disc in data["discs"].items()}


def match(proposal, truth: dict[str, np.ndarray]) -> dict[str, tuple[str, float] | None]:
    """Return, per ground-truth disc, (label, S-I offset mm) of the nearest proposed disc along S-I
    if it lies within 4 mm, else None."""
    discs = proposal.discs()
    out: dict[str, tuple[str, float] | None] = {}
    for label, point in truth.items():
        near = min(discs, key=lambda d: abs(d.position_ras[2] - point[2]), default=None)
        offset = None if near is None else float(near.position_ras[2] - point[2])
        out[label] = (near.label, offset) if offset is not None and abs(offset) <= TOLERANCE_MM else None
    return out


def misplaced(proposal, truth: dict[str, np.ndarray]) -> int:
    """Return how many proposed discs carry a ground-truth disc's name but lie more than 8 mm (S-I,
    about a quarter of a lumbar segment) from that disc: a wrong name on a disc no truth disc is near."""
    return sum(1 for d in proposal.discs() if d.label in truth and abs(d.position_ras[2] - truth[d.label][2]) > 8.0)


def names_wrong(matched: dict, misplaced_count: int = 0) -> bool:
    """Return whether a proposal names any found disc wrongly, misplaces a name, or finds none."""
    found = {k: v for k, v in matched.items() if v is not None}
    return not found or misplaced_count > 0 or any(v[0] != k for k, v in found.items())


def evaluate(folder: Path, subject: str, figure_dir: Path | None = None) -> dict:
    """Run the unanchored proposal and one anchored proposal per ground-truth disc; return the figures."""
    volume = load_volume(folder / subject / "image.nii.gz")
    truth = ground_truth(folder, subject)
    t0 = time.perf_counter()
    free = propose_levels(volume)
    seconds = time.perf_counter() - t0
    free_match = match(free, truth)
    anchored = {}
    for label in GT_DISCS:
        proposal = propose_levels(volume, anchor=(label, truth[label]))
        anchored[label] = (match(proposal, truth), any("re-detected" in m for m in proposal.messages),
                           misplaced(proposal, truth))
    if figure_dir is not None:
        from ISCMAssistLib.levels_figure import draw_levels_figure

        figure_dir.mkdir(parents=True, exist_ok=True)
        draw_levels_figure(figure_dir / f"{subject}.png", volume, free, f"{subject} (no anchor)", truth=truth)
    bottom = free.discs()[-1] if free.discs() else None
    # R offset of the points from the truth's R (the slab centre of the body masks): the sideways error.
    lateral = [abs(d.position_ras[0] - truth[label][0]) for label in truth
               for d in free.discs()[:1]] if free.discs() else [float("nan")]
    return {"subject": subject, "free": free, "free_match": free_match, "anchored": anchored, "seconds": seconds,
            "free_misplaced": misplaced(free, truth), "lateral_mm": float(np.median(lateral)),
            "bottom": None if bottom is None else (bottom.label, float(bottom.position_ras[2]))}


def summarise(name: str, rows: list[dict]) -> None:
    """Print one half's figures."""
    def anchored_counts(labels):
        found = right = total = refits = wrong_places = 0
        for row in rows:
            for anchor in labels:
                matched, refit, wrong_place = row["anchored"][anchor]
                wrong_places += wrong_place
                total += len(matched)
                found += sum(v is not None for v in matched.values())
                right += sum(v is not None and v[0] == k for k, v in matched.items())
                refits += refit
        return found, right, total, refits, wrong_places

    print(f"\n== {name} half ({len(rows)} scans: {', '.join(r['subject'] for r in rows)})")
    for title, labels in (("anchor at L3/L4", ("L3/L4",)), ("anchor at each disc in turn", GT_DISCS)):
        found, right, total, refits, wrong_places = anchored_counts(labels)
        print(f"{title:30}: found within {TOLERANCE_MM:.0f} mm {found}/{total} ({100 * found / total:.1f}%), "
              f"named right {right}/{found} ({100 * right / max(found, 1):.1f}%), truth names put > 8 mm from "
              f"their disc {wrong_places}, chain re-detected through the anchor {refits}x")
    confident = [r for r in rows if r["free"].naming_confident]
    wrong = [r for r in confident if names_wrong(r["free_match"], r["free_misplaced"])]
    free_found = sum(v is not None for r in rows for v in r["free_match"].values())
    free_right = sum(v is not None and v[0] == k for r in rows for k, v in r["free_match"].items())
    all_right = sum(not names_wrong(r["free_match"], r["free_misplaced"]) for r in rows)
    no_spine = sum(not r["free"].spine_found for r in rows)
    contrasts = {}
    for r in rows:
        contrasts[r["free"].contrast or "-"] = contrasts.get(r["free"].contrast or "-", 0) + 1
    lateral = [r["lateral_mm"] for r in rows]
    print(f"{'points off the truth sideways':30}: median {np.nanmedian(lateral):.1f} mm, more than 5 mm in "
          f"{sum(v > 5 for v in lateral)} scan(s)")
    print(f"{'no anchor':30}: found {free_found}/{4 * len(rows)}, named right {free_right}/{free_found}; all names "
          f"right in {all_right}/{len(rows)} scans; names confident {len(confident)}/{len(rows)}, of which wrong "
          f"{len(wrong)}; no spine found {no_spine}; contrast read {contrasts}")


def table(rows: list[dict]) -> None:
    """Print the per-subject table."""
    print(f"\n{'subject':8} {'half':8} {'contrast':8} {'conf':5} {'s':>5}  {'no anchor: per truth disc (name, S-I mm)':58}"
          f"  bottom disc   anchored@L3/L4  R off  confirm")
    split = halves([r["subject"] for r in rows])
    for r in rows:
        half = "tune" if r["subject"] in split["tune"] else "held-out"
        cells = " ".join(f"{k}:{'-' if v is None else ('ok' if v[0] == k else v[0])}"
                         f"{'' if v is None else f'{v[1]:+.0f}'}" for k, v in r["free_match"].items())
        matched, _, _ = r["anchored"]["L3/L4"]
        anchored = " ".join("-" if v is None else ("ok" if v[0] == k else "X") for k, v in matched.items())
        bottom = "-" if r["bottom"] is None else f"{r['bottom'][0]}@{r['bottom'][1]:.0f}"
        ask = next((m.split("confirm ")[1].split()[0] for m in r["free"].messages if "confirm " in m), "")
        print(f"{r['subject']:8} {half:8} {r['free'].contrast or '-':8} {str(r['free'].naming_confident):5} "
              f"{r['seconds']:5.2f}  {cells:58}  {bottom:12}  {anchored:14}  {r['lateral_mm']:5.1f}  {ask}")


def main() -> None:
    """Run every subject and print both halves and the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--figure", type=Path, help="write one PNG per subject into this folder")
    args = parser.parse_args()
    names = subjects(args.folder)
    rows = {name: evaluate(args.folder, name, args.figure) for name in names}
    for half, members in halves(names).items():
        summarise(half, [rows[m] for m in members])
    table([rows[m] for m in names])


if __name__ == "__main__":
    main()
