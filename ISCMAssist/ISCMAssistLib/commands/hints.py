"""``iscm-assist hints CASE.json [--json]``: print the evidence-based hints of a case read."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add CASE (a case JSON file) and --json to the sub-command's parser."""
    parser.add_argument("case", metavar="CASE.json", help="case JSON file")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON document (schema: ISCMAssistLib/schema/hints.schema.json)")


def run(args: argparse.Namespace) -> int:
    """Load the case (a bad file is a one-line error naming it), compute its hints and print them:
    the explanation, then each hint with its kind, direction and evidence, then the read's warnings
    (``read.read_warnings``, e.g. a lesion below the conus tip); or, with --json, the document of
    ``hints.hints_document`` plus "warnings". Returns 0."""
    from .. import RESEARCH_USE_LABEL
    from ..case_io import load_case
    from ..hints import compute_hints, format_hints, hints_document
    from ..read import read_warnings

    case = load_case(args.case)
    hints = compute_hints(case)
    warnings = read_warnings(case)
    if args.json:
        print(json.dumps({**hints_document(case, hints), "warnings": warnings}, indent=2, ensure_ascii=False))
        return 0
    print(f"Hints for case {case.get('case_id')} ({RESEARCH_USE_LABEL})")
    print(format_hints(hints) if hints else "No hints: the read holds nothing they apply to.")
    for warning in warnings:
        print(f"warning: {warning}")
    return 0
