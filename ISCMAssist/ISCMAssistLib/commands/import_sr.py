"""``iscm-assist import-sr report.dcm [--out CASE.json]``: read an SR written by export-sr back into a case."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add SR (the report file) and --out CASE.json to the sub-command's parser."""
    parser.add_argument("sr", metavar="report.dcm", help="DICOM SR written by iscm-assist export-sr")
    parser.add_argument("--out", metavar="CASE.json", default=None,
                        help="case JSON file to write (atomically); default: print the case JSON to stdout")


def run(args: argparse.Namespace) -> int:
    """Read the SR, validate the case it holds, write it to --out (or stdout); return 0, errors exit 2."""
    from ..case_io import case_to_json, save_case
    from ..sr import sr_to_case

    case = sr_to_case(args.sr)
    if args.out:
        save_case(case, args.out)
        count = len(case["lesions"])
        print(f"{args.out}: case {case['case_id']} written ({count} lesion{'' if count == 1 else 's'})")
    else:
        sys.stdout.write(case_to_json(case))
    return 0
