"""``iscm-assist report CASE.json --out report.html``: one self-contained HTML page of a read."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add CASE, --out, --figure and --with-identifiers to the sub-command's parser."""
    parser.add_argument("case", metavar="CASE.json", help="case JSON file to report")
    parser.add_argument("--out", required=True, metavar="report.html", help="HTML page to write (atomically)")
    parser.add_argument("--figure", metavar="read.png", default=None,
                        help="annotated figure to embed (default: CASE.png, else read.png, beside the case)")
    parser.add_argument("--with-identifiers", action="store_true",
                        help="show the patient identifiers the case holds (default: none)")


def run(args: argparse.Namespace) -> int:
    """Load and validate the case, write the page; print one line and return 0 (errors exit 2)."""
    from ..case_io import load_case
    from ..report import write_report

    case_path = Path(args.case)
    case = load_case(case_path)
    figure = args.figure
    if figure is None:  # the demo writes read.png beside case.json
        figure = next((p for p in (case_path.with_suffix(".png"), case_path.parent / "read.png") if p.is_file()), None)
    write_report(case, args.out, figure, args.with_identifiers)
    print(f"{args.out}: report written (case {case['case_id']}, {len(case['lesions'])} lesion{'' if len(case['lesions']) == 1 else 's'}"
          f"{', figure embedded' if figure else ', no figure'}{', with identifiers' if args.with_identifiers else ''})")
    return 0
