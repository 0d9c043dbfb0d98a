"""Timings of DICOM SR export/import: case_to_sr, write_sr, sr_to_case, for growing source series and lesion counts.

The lesion scaling lines print the time per lesion at 10 .. MAX_LESIONS lesions: a constant figure
means export is linear (issue 12 item 6); more lesions than sr.MAX_LESIONS are refused at once.

Run: python benchmarks/sr_export.py  (prints medians; writes only to a temporary folder)
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom

from ISCMAssistLib import case as C
from ISCMAssistLib import sr
from ISCMAssistLib.dicom_series import write_series
from ISCMAssistLib.volumes import Volume


def case_with_lesions(count: int) -> dict:
    """A case with `count` fully filled lesions, each with all four lines."""
    case = C.new_case("bench-case", "reader1")
    for index in range(count):
        lesion = C.new_lesion(f"L{index + 1}")
        z = -100.0 - 30 * index
        lesion.update({
            "levels": "T4-T5", "location": "thoracic", "position": "eccentric", "origin": "intramedullary",
            "morphology": "well_circumscribed", "cord_expansion": True, "t2_signal": "hyperintense",
            "t1_signal": "isointense", "cystic_change": "absent", "hemorrhage": False, "enhancement": "heterogeneous",
            "size_mm": {"ap": 6.5, "transverse": 7.3, "si": 19.9}, "enhancement_length_segments": 2,
            "t2_length_segments": 5, "t2_to_enhancement_ratio": 2.5, "rim_sign": False, "flame_sign": False,
            "lines_lps": {"si": [[0, 1, z], [0, 1, z + 19.9]], "ap": [[0, -3, z + 10], [0, 3.5, z + 10]],
                          "transverse": [[-3.6, 0, z + 10], [3.7, 0, z + 10]],
                          "edema_si": [[0, 1, z - 30], [0, 1, z + 50]]},
            "provenance": {"size_mm": "derived", "t2_signal": "reader"},
        })
        case["lesions"].append(lesion)
    case["patient_findings"].update({"multiplicity": "multiple" if count > 1 else "solitary",
                                     "leptomeningeal_sites": ["cauda_equina"]})
    return case


def series(folder: Path, slices: int) -> list:
    """Write a sagittal series of `slices` 64x64 images; return its headers."""
    ijk_to_ras = np.array([[0, 0, -1.0, 20.0], [0, -1.0, 0, 40.0], [-1.0, 0, 0, 10.0], [0, 0, 0, 1]])
    write_series(folder, Volume(np.zeros((slices, 64, 64), np.int16), ijk_to_ras), seed=f"bench{slices}")
    return [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(folder.iterdir())]


def median_seconds(function, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        print("case_to_sr / sr_to_case, headers already read (median of 5):")
        for slices in (15, 100, 400):
            headers = series(tmp_path / f"s{slices}", slices)
            for lesions in (1, 10):
                case = case_with_lesions(lesions)
                export = median_seconds(lambda: sr.case_to_sr(case, headers))
                document = sr.case_to_sr(case, headers)
                back = median_seconds(lambda: sr.sr_to_case(document))
                print(f"  {slices:4d} source images, {lesions:2d} lesions: export {export * 1000:7.1f} ms, "
                      f"import {back * 1000:6.1f} ms")
        headers = series(tmp_path / "s_scale", 30)
        print("lesion scaling, 30 source images (median of 3):")
        per_lesion = {}
        for lesions in (10, 50, 100, sr.MAX_LESIONS):
            case = case_with_lesions(lesions)
            export = median_seconds(lambda: sr.case_to_sr(case, headers), repeat=3)
            document = sr.case_to_sr(case, headers)
            back = median_seconds(lambda: sr.sr_to_case(document), repeat=3)
            per_lesion[lesions] = export / lesions
            print(f"  {lesions:4d} lesions: export {export:6.2f} s ({export / lesions * 1000:5.1f} ms/lesion), "
                  f"import {back:5.2f} s ({back / lesions * 1000:5.1f} ms/lesion)")
        print(f"  export time per lesion at {sr.MAX_LESIONS} / at 10 lesions: "
              f"{per_lesion[sr.MAX_LESIONS] / per_lesion[10]:.2f} (1.00 = linear)")
        too_many = case_with_lesions(sr.MAX_LESIONS + 1)
        start = time.perf_counter()
        try:
            sr.case_to_sr(too_many, headers)
        except sr.SRError as error:
            print(f"  {sr.MAX_LESIONS + 1} lesions: refused in {(time.perf_counter() - start) * 1000:.0f} ms ({error})")
        folder = tmp_path / "s100"
        case = case_with_lesions(3)
        out = tmp_path / "r.dcm"
        total = median_seconds(lambda: sr.write_sr(case, [folder], out), repeat=3)
        print(f"write_sr from a folder of 100 images, 3 lesions (reads headers, writes file): {total * 1000:.1f} ms, "
              f"{out.stat().st_size / 1024:.0f} KiB")
        back = median_seconds(lambda: sr.sr_to_case(out))
        print(f"sr_to_case from that file: {back * 1000:.1f} ms")


if __name__ == "__main__":
    main()
