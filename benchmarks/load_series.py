"""Benchmark: loading a 512x512x60 single-frame MR series, ours against SimpleITK and the raw bytes.

All in one process, on the same synthetic series (written once to a temporary folder), with a warm
page cache (one untimed pass first). Prints the median of repeated runs in ms, the ratios to the
targets of issue 4 (ours <= 0.5x SimpleITK, <= 5x raw read) and the peak extra memory of our load.

    python benchmarks/load_series.py [--slices 60] [--size 512] [--repeats 9] [--folder DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ISCMAssist"))

from ISCMAssistLib import dicom_pixels, dicom_series, images, ingest, volumes  # noqa: E402


def make_series(folder: Path, slices: int, size: int) -> list[Path]:
    """Write a sagittal uint16 series of ``slices`` x ``size`` x ``size`` into ``folder``."""
    rng = np.random.default_rng(0)
    array = rng.integers(0, 4000, (slices, size, size), dtype=np.uint16)
    ijk_to_ras = np.array([[0, 0, -3.0, 40], [-0.5, 0, 0, 120], [0, -0.5, 0, 200], [0, 0, 0, 1]])
    return dicom_series.write_series(folder, volumes.Volume(array, ijk_to_ras), seed="bench",
                                     mr_tags={"EchoTime": 100.0, "RepetitionTime": 3000.0})


def interleaved(functions: dict, repeats: int) -> dict[str, tuple[float, float]]:
    """Run every function once untimed, then all of them in turn ``repeats`` times (so load spikes on a
    shared machine hit them alike); return name -> (median ms, min ms)."""
    for function in functions.values():
        function()
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append((time.perf_counter() - start) * 1000.0)
    return {name: (statistics.median(values), min(values)) for name, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=60)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--folder", type=Path, help="use (or fill) this folder instead of a temporary one")
    args = parser.parse_args()

    import pydicom
    import SimpleITK as sitk

    with tempfile.TemporaryDirectory() as temp:
        folder = args.folder or Path(temp) / "series"
        files = sorted(folder.glob("*.dcm")) if folder.is_dir() else []
        if len(files) != args.slices:
            files = make_series(folder, args.slices, args.size)
        names = [str(f) for f in files]
        n_bytes = sum(f.stat().st_size for f in files)

        def raw_read():
            total = 0
            for name in names:
                with open(name, "rb") as handle:
                    total += len(handle.read())
            return total

        def sitk_series():
            reader = sitk.ImageSeriesReader()
            reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))
            return reader.Execute()

        def sitk_files_given():
            reader = sitk.ImageSeriesReader()
            reader.SetFileNames(names)
            return reader.Execute()

        def pydicom_naive():
            datasets = [pydicom.dcmread(name) for name in names]
            datasets.sort(key=lambda d: float(d.ImagePositionPatient[0]))
            return np.stack([d.pixel_array for d in datasets])

        def pydicom_headers():
            return [pydicom.dcmread(name, stop_before_pixels=True) for name in names]

        def ours_files():
            return dicom_pixels.load_dicom_series(files)

        def ours_folder():
            return images.load_volume(folder)

        results = interleaved({
            "raw": raw_read, "sitk": sitk_series, "sitk_files": sitk_files_given, "naive": pydicom_naive,
            "headers": pydicom_headers, "scan": lambda: ingest.scan_folder(folder), "files": ours_files,
            "folder": ours_folder,
        }, args.repeats)
        t = {name: median for name, (median, _) in results.items()}
        fastest = {name: low for name, (_, low) in results.items()}
        image, volume, volume_folder = sitk_series(), ours_files(), ours_folder()
        repeats = args.repeats

        # Same voxels as SimpleITK (its array is [k, j, i] too; both sort along the normal).
        same = np.array_equal(sitk.GetArrayViewFromImage(image), volume.array)

        tracemalloc.start()
        loaded = images.load_volume(folder)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        volume_bytes = loaded.array.nbytes
        del loaded

    print(f"series: {args.slices} x {args.size} x {args.size} uint16, {len(files)} files, {n_bytes / 1e6:.1f} MB; "
          f"median of {repeats} warm runs")
    labels = {
        "raw": "raw read of the files' bytes", "sitk": "SimpleITK ImageSeriesReader (GDCM names)",
        "sitk_files": "SimpleITK, file names given", "naive": "pydicom naive loop (dcmread+pixels)",
        "headers": "pydicom headers only", "scan": "ours: ingest.scan_folder (headers)",
        "files": "ours: load_dicom_series(files)", "folder": "ours: load_volume(folder)",
    }
    print(f"{'':44s} {'median':>8s} {'min':>8s}")
    for name, label in labels.items():
        print(f"  {label:42s} {t[name]:8.1f} {fastest[name]:8.1f} ms")
    for kind, values in (("median", t), ("min", fastest)):
        print(f"ratios ({kind}): load_volume / SimpleITK = {values['folder'] / values['sitk']:.2f} (target <= 0.5); "
              f"load_volume / raw read = {values['folder'] / values['raw']:.2f} (target <= 5); "
              f"load_dicom_series / SimpleITK = {values['files'] / values['sitk']:.2f}, / raw = {values['files'] / values['raw']:.2f}")
    print(f"memory: peak traced during load_volume {peak / 1e6:.1f} MB for a {volume_bytes / 1e6:.1f} MB volume "
          f"= {peak / volume_bytes:.2f}x the volume (target <= 2x: at most one extra copy)")
    print(f"same voxels as SimpleITK: {same}; geometry of ours:\n{np.array2string(volume_folder.ijk_to_ras, precision=3)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
