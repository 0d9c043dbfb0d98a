"""Timings of the case model and files: validate, save, load, CSV, atomic writes, .mrk.json.

Run: python benchmarks/case_files.py  (prints medians; writes only to a temporary folder)
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from ISCMAssistLib import case as C
from ISCMAssistLib.case_io import load_case, save_case, write_lesions_csv
from ISCMAssistLib.files import atomic_write_bytes, atomic_write_text
from ISCMAssistLib.markups_io import read_markups, write_line, write_point_list


def case_with_lesions(case_id: str, count: int) -> dict:
    """A case with `count` fully filled lesions (lines, sizes, provenance)."""
    case = C.new_case(case_id, "reader1")
    for index in range(count):
        lesion = C.new_lesion(f"L{index + 1}")
        C.set_derived_value(lesion, "size_mm", {"ap": 6.5, "transverse": 7.3, "si": 19.9})
        for name, value in (("levels", "T4-T5"), ("location", "thoracic"), ("enhancement_length_segments", 2),
                            ("t2_length_segments", 5), ("t2_to_enhancement_ratio", 2.5)):
            C.set_derived_value(lesion, name, value)
        for name, value in (("position", "eccentric"), ("origin", "intramedullary"), ("t2_signal", "hyperintense"),
                            ("enhancement", "heterogeneous"), ("cord_expansion", True), ("hemorrhage", False)):
            C.set_reader_value(lesion, name, value)
        lesion["lines_lps"] = {key: [[0.0, 1.0, -100.0 - index], [0.0, 1.0, -120.0 - index]]
                               for key in C.LINE_NAMES}
        case["lesions"].append(lesion)
    C.set_derived_value(case["patient_findings"], "multiplicity", "multiple" if count > 1 else "solitary")
    return case


def median_ms(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000.0


def main() -> None:
    C.validate_case(C.new_case("warm-up"))  # first call builds the validator
    start = time.perf_counter()
    C._validator.cache_clear()
    C._schema_text.cache_clear()
    C.validate_case(C.new_case("cold"))
    print(f"first validate_case (schema load + validator build): {(time.perf_counter() - start) * 1000:.1f} ms")
    for count in (1, 10):
        case = case_with_lesions("bench", count)
        print(f"validate_case, {count:2d} lesions: {median_ms(lambda: C.validate_case(case), 300):.2f} ms median")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        case = case_with_lesions("bench", 10)
        path = root / "case.json"
        ms = median_ms(lambda: save_case(case, path), 100)
        print(f"save_case, 10 lesions (validate + atomic write with fsync): {ms:.2f} ms median, "
              f"{path.stat().st_size} bytes")
        print(f"load_case, 10 lesions: {median_ms(lambda: load_case(path), 200):.2f} ms median")
        small = root / "small.txt"
        print(f"atomic_write_text, 1 kB: {median_ms(lambda: atomic_write_text(small, 'x' * 1000), 100):.2f} ms median")
        blob = np.random.default_rng(0).bytes(10_000_000)
        big = root / "big.bin"
        ms = median_ms(lambda: atomic_write_bytes(big, blob), 10)
        print(f"atomic_write_bytes, 10 MB: {ms:.1f} ms median ({10_000 / ms:.0f} MB/s)")
        cases = [case_with_lesions(f"case-{i:03d}", 2) for i in range(500)]
        csv_path = root / "lesions.csv"
        ms = median_ms(lambda: write_lesions_csv(cases, csv_path), 5)
        print(f"write_lesions_csv, 500 cases / 1000 lesions: {ms:.0f} ms median, {csv_path.stat().st_size} bytes")
        points = np.column_stack([np.zeros(25), np.zeros(25), -np.arange(25) * 24.0])
        labels = [f"L{i}" for i in range(25)]
        marks = root / "levels.mrk.json"
        print(f"write_point_list, 25 points: {median_ms(lambda: write_point_list(marks, labels, points, 'Levels'), 100):.2f} ms median")
        print(f"read_markups, 25 points: {median_ms(lambda: read_markups(marks), 300):.3f} ms median")
        line = root / "line.mrk.json"
        print(f"write_line: {median_ms(lambda: write_line(line, [0, 0, 0], [0, 0, 20], 'Lesion 1 SI'), 100):.2f} ms median")


if __name__ == "__main__":
    main()
