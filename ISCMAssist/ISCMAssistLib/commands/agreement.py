"""``iscm-assist agreement DIR``: inter-reader agreement of the reads in DIR/<reader>/<case_id>.json
(or a session's DIR/reads/<reader>/<case_id>.json)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add DIR, --readers, --include-consensus, --out and --quiet."""
    parser.add_argument("folder", metavar="DIR",
                        help="DIR/<reader>/<case_id>.json, or a session folder with DIR/reads/<reader>/<case_id>.json")
    parser.add_argument("--readers", nargs="+", metavar="NAME", help="readers to compare (default: every reader)")
    parser.add_argument("--include-consensus", action="store_true", help="compare the 'consensus' reads too")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="write agreement.md, agreement.json and agreement_disagreements.csv there")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Compare every pair of readers; print the Markdown report (or, with --out, write the files and
    print a summary). Unreadable reads are listed on stderr and skipped. Returns 0; fewer than two
    readers or no folder is a CommandError (exit 2)."""
    from tqdm import tqdm

    from .. import agreement
    from ..cli import CommandError
    from ..files import atomic_write_text, refuse_links

    try:
        with tqdm(desc="reading reads", unit="file", file=sys.stderr, disable=args.quiet or None) as bar:
            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(1)
            reads, skipped = agreement.read_folder(args.folder, args.readers, args.include_consensus, progress)
        for path, reason in skipped:
            print(f"skipped: {reason}" if reason.startswith(path) else f"skipped: {path}: {reason}", file=sys.stderr)
        results = agreement.compare_all(reads)
    except agreement.AgreementError as error:
        raise CommandError(str(error)) from None
    markdown = agreement.to_markdown(results)
    if not args.out:
        print(markdown)
        return 0
    out = Path(args.out)
    refuse_links(out, out.parent)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CommandError(f"{out}: cannot create the output folder: {error.strerror or error}") from None
    atomic_write_text(out / "agreement.md", markdown)
    data = agreement.to_json_dict(results)
    data["skipped"] = [{"file": path, "reason": reason} for path, reason in skipped]
    atomic_write_text(out / "agreement.json", json.dumps(data, indent=2, default=str) + "\n")
    atomic_write_text(out / "agreement_disagreements.csv", agreement.disagreements_csv(results))
    for result in results:
        print(f"{result.reader_a} vs {result.reader_b}: {result.n_cases} cases, {result.n_lesion_pairs} paired "
              f"lesions, {len(result.disagreements)} disagreements")
    print(f"report: {out / 'agreement.md'}")
    return 0
