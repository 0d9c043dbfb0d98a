"""``iscm-assist cohort DIR [--out DIR]``: the study's Tables 1-3 and comparisons for a folder of cases."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..session import READS_DIR


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add DIR (folder of case JSON files, searched recursively), --out and --no-figure."""
    parser.add_argument("folder", metavar="DIR", help="folder holding case JSON files (searched recursively)")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="folder for cohort.md/.csv/.json/.png (default: DIR/cohort_report)")
    parser.add_argument("--reader", metavar="NAME", default=None,
                        help="only this reader's reads: DIR/reads/NAME (a session folder) or DIR/NAME")
    parser.add_argument("--no-figure", action="store_true", help="do not draw cohort.png")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="processes that read the files (default 1; more helps only on idle CPUs)")


def run(args: argparse.Namespace) -> int:
    """Summarise every case under DIR, write the report files, print the Markdown path and counts.

    Files that cannot be read or validated are listed on stderr and in the report, then skipped.
    Returns 0 (skipped files are not fatal); a missing folder or no readable case is a
    CommandError (exit 2).
    """
    from tqdm import tqdm

    from .. import cohort, cohort_report
    from ..cli import CommandError

    jobs = args.jobs
    if jobs < 1:
        raise CommandError(f"--jobs must be >= 1, got {jobs}")
    out = Path(args.out) if args.out else Path(args.folder) / "cohort_report"
    folder = Path(args.folder)
    if args.reader:
        candidates = [folder / READS_DIR / args.reader, folder / args.reader]
        folder = next((c for c in candidates if c.is_dir()), None)
        if folder is None:
            raise CommandError(f"{args.folder}: no reads of reader {args.reader!r} "
                               f"(looked for {candidates[0]} and {candidates[1]})")
    try:
        unsafe: list[tuple[str, str]] = []
        paths = cohort.find_case_files(folder, exclude=out, skipped=unsafe)
    except cohort.CohortError as error:
        raise CommandError(str(error)) from None
    with tqdm(total=len(paths), desc="reading cases", unit="file", file=sys.stderr,
              disable=args.quiet or None) as bar:
        reads, skipped = cohort.load_reads(paths, progress=lambda done, total: bar.update(1), workers=jobs)
    skipped = unsafe + skipped
    for path, reason in skipped:
        print(f"skipped: {reason}" if reason.startswith(path) else f"skipped: {path}: {reason}", file=sys.stderr)
    if not reads:
        raise CommandError(f"{args.folder}: no readable case JSON files ({len(paths)} *.json found)")
    cases, warnings = cohort.one_read_per_case(reads)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    result = cohort.summarize(cases, skipped=skipped)
    result.read_rule = (f"only reader {args.reader!r}'s reads, each case once" if args.reader
                        else cohort.READ_RULE)
    result.warnings = warnings
    written = cohort_report.write_report(result, out, figure=not args.no_figure)
    print(f"{result.n_patients} patients, {result.n_lesions} lesions, {len(skipped)} files skipped "
          f"({len(reads)} reads; {result.read_rule})")
    for comparison in result.comparisons:
        print(f"  solitary vs multiple, {comparison.label}: cohort {comparison.p_text()}, "
              f"study {comparison.study_p_text()}")
    print(f"report: {written['cohort.md']}")
    return 0
