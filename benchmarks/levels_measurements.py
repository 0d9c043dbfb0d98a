"""Timings of the level model and measurements (prints figures; no assertions).

Run: python benchmarks/levels_measurements.py [path to shared/data]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from ISCMAssistLib.levels import LevelModel
from ISCMAssistLib.measurements import extent_of_points, mask_measurements
from ISCMAssistLib.volumes import Volume


def best_of(function, repeats: int = 5, number: int = 1) -> float:
    """Return the best time (s) per call of `function` over `repeats` runs of `number` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            function()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def main() -> None:
    labels = [f"T{i}" for i in range(1, 13)] + [f"T{i}/T{i + 1}" for i in range(1, 12)]
    u = np.array([float(i) for i in range(8, 20)] + [i + 8.5 for i in range(11)])
    z = -u * 12.0
    points = np.stack([np.sin(u / 3) * 10, np.cos(u / 4) * 15, z], axis=1)
    model = LevelModel.from_landmarks(labels, points)
    line = np.array([[0.0, 5.0, -150.0], [1.0, 6.0, -170.0]])
    t_line = best_of(lambda: extent_of_points(model, line), number=2000)

    def ten_lesions() -> None:
        for _ in range(10):
            extent = extent_of_points(model, line)
            edema = extent_of_points(model, line * 1.1)
            model.count_segments(*extent), model.location(*extent), model.count_segments(*edema)

    t_ten = best_of(ten_lesions, number=200)
    print(f"{len(labels)} landmarks: extent_of_points(2 points) {t_line * 1e6:.1f} us")
    print(f"10 lesions x (2 extents, 2 count_segments, location): {t_ten * 1e3:.3f} ms")
    many = np.random.default_rng(0).uniform(-20, 20, size=(100_000, 3)) + [0, 0, -150]
    print(f"coordinate of 100000 points: {best_of(lambda: model.coordinate(many), 3) * 1e3:.1f} ms")

    array = np.zeros((120, 200, 200), dtype=np.uint8)
    array[40:80, 80:120, 90:110] = 1
    volume = Volume(array, np.diag([0.5, 0.5, 2.0, 1.0]))
    voxels = int(array.sum())
    print(f"mask_measurements, {voxels} voxels in 200x200x120: no model "
          f"{best_of(lambda: mask_measurements(volume, None), 3) * 1e3:.1f} ms, with model "
          f"{best_of(lambda: mask_measurements(volume, model), 3) * 1e3:.1f} ms")

    data = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "data"
    levels_path = data / "pam50_small" / "PAM50_small_levels.nii.gz"
    if levels_path.exists():
        from ISCMAssistLib.images import load_volume

        levels = load_volume(levels_path)
        print(f"from_label_map PAM50_small_levels {levels.array.shape}: "
              f"{best_of(lambda: LevelModel.from_label_map(levels), 3) * 1e3:.1f} ms")
        pam_model = LevelModel.from_label_map(levels)
        cord = Volume((levels.array > 0).astype(np.uint8), levels.ijk_to_ras)
        print(f"mask_measurements whole PAM50 cord ({int(cord.array.sum())} voxels): "
              f"{best_of(lambda: mask_measurements(cord, pam_model), 3) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
