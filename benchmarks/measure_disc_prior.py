"""Measure the disc-spacing prior of ISCMAssistLib.autolevels from the PAM50 template.

Reads ../shared/data/pam50_small/PAM50_small_label_disc.nii.gz (one voxel per disc, value = number
of the vertebra below the disc, Spinal Cord Toolbox convention), and prints, for each vertebra n
whose upper and lower discs are both labelled, the distance (mm) between them: the height of
segment n (body + one disc). Paste the printed dictionary into autolevels.PAM50_SEGMENT_MM.

Usage: python benchmarks/measure_disc_prior.py [PATH_TO_pam50_small]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ISCMAssistLib.vertebrae import level_name
from ISCMAssistLib.images import load_volume


def measure(folder: Path) -> dict[int, float]:
    """Take the pam50_small folder; return vertebra number -> distance (mm) between its two discs."""
    volume = load_volume(folder / "PAM50_small_label_disc.nii.gz")
    k, j, i = np.nonzero(volume.array)
    values = volume.array[k, j, i].astype(int)
    points = volume.voxel_to_ras(np.stack([i, j, k], axis=1))
    disc_above = {int(v): p for v, p in zip(values, points)}  # vertebra v -> disc between v-1 and v
    return {
        n: round(float(np.linalg.norm(disc_above[n] - disc_above[n + 1])), 1)
        for n in sorted(disc_above) if n + 1 in disc_above
    }


def main() -> None:
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "pam50_small"
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    spacing = measure(folder)
    print("vertebra  segment_mm  (distance between the discs above and below it, PAM50)")
    for n, mm in spacing.items():
        print(f"{level_name(n):>8}  {mm:10.1f}")
    print("PAM50_SEGMENT_MM =", spacing)


if __name__ == "__main__":
    main()
