"""``iscm-assist export-sr CASE.json [--series FOLDER...] --out report.dcm [--final] [--replaces OLD.dcm]``: a case as DICOM SR (TID 1500)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add CASE, --series FOLDER... and --out FILE to the sub-command's parser."""
    parser.add_argument("case", metavar="CASE.json", help="case JSON file to export")
    parser.add_argument(
        "--series", nargs="+", metavar="DICOM_FOLDER", default=None,
        help="DICOM folder(s) of the series read: they give the patient, study, referenced images and the "
             "frame of reference of the lines (default: the case's series 'file' folders, relative to CASE.json)",
    )
    parser.add_argument("--out", required=True, metavar="report.dcm", help="SR file to write (atomically)")
    parser.add_argument("--final", action="store_true",
                        help="the read is finished: the SR is COMPLETE and VERIFIED, the reader as verifying observer")
    parser.add_argument("--replaces", metavar="OLD.dcm", default=None,
                        help="the SR this one replaces (a changed read): referenced in the Predecessor Documents Sequence")


def _default_series(case: dict, case_path: Path) -> list[Path]:
    folders = []
    for entry in case.get("series") or []:
        file = entry.get("file")
        if file and not file.endswith((".nii", ".nii.gz")):
            folder = (case_path.parent / file).resolve()
            if folder.is_dir() and folder not in folders:
                folders.append(folder)
    return folders


def run(args: argparse.Namespace) -> int:
    """Load and validate the case, read the source headers (tqdm progress on stderr), write the SR.

    Prints one line (file, lesion count, images referenced) and returns 0; errors are one line, exit 2.
    """
    from tqdm import tqdm

    from ..case_io import load_case
    from ..cli import CommandError
    from ..sr import write_sr

    case_path = Path(args.case)
    case = load_case(case_path)
    folders = [Path(f) for f in args.series] if args.series else _default_series(case, case_path)
    if not folders:
        raise CommandError(f"{case_path}: no --series given and the case names no DICOM folder that exists")
    bar = tqdm(total=0, desc="reading source headers", unit="file", file=sys.stderr, leave=False,
               disable=not sys.stderr.isatty())

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        document = write_sr(case, folders, args.out, progress=progress, final=args.final, predecessor=args.replaces)
    finally:
        bar.close()
    images = sum(len(series.ReferencedSOPSequence)
                 for study in document.get("CurrentRequestedProcedureEvidenceSequence", [])
                 for series in study.ReferencedSeriesSequence)
    count = len(case["lesions"])
    state = "final, verified" if args.final else "preliminary"
    print(f"{args.out}: DICOM SR written ({state}; {count} lesion{'' if count == 1 else 's'}, {images} source images referenced)")
    on_image, in_3d = _line_kinds(document)
    if in_3d:
        print(f"  {in_3d} of {on_image + in_3d} lines lie on no single source image: they are 3D coordinates, "
              "which OHIF draws and QuantitativeReporting does not")
    return 0



def _line_kinds(document) -> tuple[int, int]:
    """(lines written as 2D SCOORD on their image, lines written as SCOORD3D) in the measurement groups."""
    kinds = [child.ValueType for element in document.iterall() if element.keyword == "ContentSequence"
             for child in element.value if child.get("ValueType") in ("SCOORD", "SCOORD3D")
             and child.get("RelationshipType") == "INFERRED FROM" and child.get("GraphicType") == "POLYLINE"]
    return kinds.count("SCOORD"), kinds.count("SCOORD3D")
