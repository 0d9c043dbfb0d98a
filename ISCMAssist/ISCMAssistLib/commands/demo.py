"""``iscm-assist demo``: a whole read on built-in synthetic DICOM, every output written.

It makes a synthetic thoracic exam (sagittal T2 and T1 post-gadolinium DICOM with known vertebral
levels and one enhancing lesion with cord T2 hyperintensity), loads it back from DICOM as a reader
would, places the markups a reader places, computes the read and writes the case JSON, the CSV,
the .mrk.json files and a PNG figure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``demo``."""
    parser.add_argument("--out", type=Path, default=Path("iscm-demo"),
                        help="folder for the DICOM series and every output (default ./iscm-demo)")
    parser.add_argument("--curvature", type=float, default=6.0,
                        help="anterior bow of the synthetic spine in mm (default 6)")


def run(args: argparse.Namespace) -> int:
    """Run the demo read; print where everything went; return 0."""
    from tqdm import tqdm

    from .. import RESEARCH_USE_LABEL
    from ..demo import run_demo

    from ..cli import CommandError

    if args.out.exists() and not args.out.is_dir():
        raise CommandError(f"--out {args.out}: exists and is not a folder; give a new or existing folder")
    with tqdm(total=100, unit="%", file=sys.stderr, leave=False, disable=None,  # a bar only on a terminal
              bar_format="{desc:22s} {percentage:3.0f}%|{bar}|") as bar:
        def progress(fraction: float, step: str) -> None:
            bar.set_description_str(step, refresh=False)
            bar.update(round(100 * fraction) - bar.n)

        result = run_demo(args.out, curvature_mm=args.curvature, progress=progress)
    print(f"ISCMAssist demo \u2014 {RESEARCH_USE_LABEL}\n")
    print(result.summary())
    return 0
