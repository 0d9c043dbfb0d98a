"""Time to recompute a read with 10 lesions after one markup moves (target: median under 2 ms).

Run: python benchmarks/read_recompute.py
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from ISCMAssistLib.case import new_case, new_lesion
from ISCMAssistLib.coords import ras_to_lps
from ISCMAssistLib.hints import compute_hints
from ISCMAssistLib.levels import LevelModel
from ISCMAssistLib.read import compute_read
from ISCMAssistLib.vertebrae import landmark_coordinate

SEGMENT_MM = 24.0
REPEATS = 2000


def spine_point(u: float, anterior: float = 0.0) -> np.ndarray:
    """A gently curved spine: RAS mm of level coordinate u, shifted anteriorly by `anterior` mm."""
    s = -SEGMENT_MM * u
    return np.array([0.0, 8.0 * np.sin(u / 6.0) + anterior, s])


def build_case() -> tuple[dict, LevelModel]:
    labels = [f"{name}" for name in ("C7", "T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9", "T10", "T11", "T12")]
    model = LevelModel.from_landmarks(labels, np.array([spine_point(landmark_coordinate(l), 20.0) for l in labels]))
    case = new_case("bench-001", reader="bench")
    for number in range(10):
        u = 8.0 + number
        lesion = new_lesion(f"L{number + 1}")
        lesion["lines_lps"] = {
            "si": ras_to_lps([spine_point(u - 0.3), spine_point(u + 0.4)]).tolist(),
            "ap": ras_to_lps([spine_point(u, -3), spine_point(u, 3)]).tolist(),
            "transverse": ras_to_lps([spine_point(u) + [-3.5, 0, 0], spine_point(u) + [3.5, 0, 0]]).tolist(),
            "edema_si": ras_to_lps([spine_point(u - 1.6), spine_point(u + 1.7)]).tolist(),
        }
        case["lesions"].append(lesion)
    return case, model


def main() -> None:
    case, model = build_case()
    moved = case["lesions"][4]["lines_lps"]["si"]
    recompute_ms, with_hints_ms = [], []
    for repeat in range(REPEATS):
        moved[1][2] -= 0.01 if repeat % 2 else -0.01   # the reader drags one end point
        start = time.perf_counter()
        compute_read(case, model)
        middle = time.perf_counter()
        compute_hints(case)
        end = time.perf_counter()
        recompute_ms.append((middle - start) * 1e3)
        with_hints_ms.append((end - start) * 1e3)
    for name, values in (("compute_read", recompute_ms), ("compute_read + compute_hints", with_hints_ms)):
        values.sort()
        print(f"{name:30s} 10 lesions: median {statistics.median(values):.3f} ms, "
              f"p95 {values[int(0.95 * len(values))]:.3f} ms  (target median < 2 ms; n = {REPEATS})")


if __name__ == "__main__":
    main()
