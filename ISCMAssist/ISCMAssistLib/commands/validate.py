"""``iscm-assist validate FILE...``: check case JSON files against the schema."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the FILE arguments (one or more case JSON files) to the sub-command's parser."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="case JSON file(s) to check")


def run(args: argparse.Namespace) -> int:
    """Check each file; print "FILE: valid (N lesions)" to stdout or the error to stderr.

    Returns 0 when every file is valid, 1 when any is not (missing, bad JSON or schema error).
    """
    from ..case_io import CaseFileError, load_case

    status = 0
    for path in args.files:
        try:
            case = load_case(path)
        except CaseFileError as error:
            print(str(error), file=sys.stderr)  # the message starts with the file name
            status = 1
            continue
        count = len(case["lesions"])
        print(f"{path}: valid ({count} lesion{'' if count == 1 else 's'})")
    return status
