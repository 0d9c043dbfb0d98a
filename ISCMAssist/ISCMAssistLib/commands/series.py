"""``iscm-assist series FOLDER``: list the series of an exam folder and propose their reading roles."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``series`` options: FOLDER, --json, --role ROLE=SERIES (repeatable)."""
    parser.add_argument("folder", help="exam folder (searched recursively), a DICOMDIR file, or a BIDS/NIfTI folder")
    parser.add_argument("--json", action="store_true", help="print the series, roles and skipped files as JSON")
    parser.add_argument(
        "--role",
        action="append",
        default=[],
        metavar="ROLE=SERIES",
        help="override a role with a series number, SeriesInstanceUID or NIfTI file name ('none' clears it); "
        "roles: t2_sagittal, t1_pre, t1_post, t2_axial, t1_post_axial",
    )


def _parse_overrides(values: list[str]) -> dict[str, str]:
    from ..cli import CommandError

    overrides: dict[str, str] = {}
    for value in values:
        role, separator, key = value.partition("=")
        if not separator or not role.strip():
            raise CommandError(f"--role {value!r}: expected ROLE=SERIES, e.g. --role t1_post=7")
        overrides[role.strip()] = key.strip()
    return overrides


def _format_spacing(spacing) -> str:
    if not spacing:
        return "-"
    return "x".join(f"{v:.2g}" if v < 10 else f"{v:.0f}" for v in spacing)


def run(args: argparse.Namespace) -> int:
    """Scan ``args.folder``, print the series table and the role proposals (or JSON); return 0."""
    from tqdm import tqdm

    from .. import ingest
    from ..cli import CommandError

    overrides = _parse_overrides(args.role)
    bar = tqdm(total=0, unit="file", desc="reading headers", file=sys.stderr, disable=None, leave=False)

    def progress(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    try:
        scan = ingest.scan_folder(args.folder, progress=progress)
    finally:
        bar.close()
    if not scan.series:
        skipped = f" ({len(scan.skipped)} file(s) skipped, e.g. {scan.skipped[0].path.name}: {scan.skipped[0].reason})" if scan.skipped else ""
        raise CommandError(f"{args.folder}: no DICOM or NIfTI image series found{skipped}")
    proposals = ingest.apply_overrides(scan, ingest.propose_roles(scan.series), overrides)

    if args.json:
        print(json.dumps({
            "root": str(scan.root),
            "series": [s.to_dict() for s in scan.series],
            "roles": {role: proposals[role].to_dict() for role in ingest.ROLES},
            "case_series": ingest.case_series_entries(scan, proposals),
            "skipped": [{"path": str(s.path), "reason": s.reason, "category": s.category} for s in scan.skipped],
        }, indent=2))
        return 0

    _print_series(scan)
    _print_roles(ingest, scan, proposals)
    if scan.skipped:
        print(f"\nSkipped {len(scan.skipped)} file(s):")
        for skipped in scan.skipped[:20]:
            print(f"  {skipped.path}: {skipped.reason}")
        if len(scan.skipped) > 20:
            print(f"  ... and {len(scan.skipped) - 20} more (see --json)")
    print("\nOverride a role with --role ROLE=SERIES_NUMBER (or SeriesInstanceUID).")
    return 0


def _print_series(scan) -> None:
    """Print one line per found series (number, description, plane, weighting, ...) with its problems."""
    header = f"{'#':>5}  {'description':28} {'plane':9} {'weight':9} {'contrast':8} {'slices':>6}  {'spacing mm':14} {'region/body part':18} files"
    print(f"{len(scan.series)} series in {scan.root}")
    print(header)
    for s in scan.series:
        number = "-" if s.series_number is None else str(s.series_number)
        contrast = {True: "yes", False: "no", None: "?"}[s.contrast]
        region = "/".join(t for t in (s.region, s.body_part.lower()) if t) or "-"
        name = s.description if s.kind == "dicom" else s.path.name
        print(f"{number:>5}  {name[:28]:28} {s.orientation:9} {s.weighting:9} {contrast:8} {s.n_slices:>6}  "
              f"{_format_spacing(s.spacing_mm):14} {region[:18]:18} {s.n_files}")
        for problem in s.problems:
            print(f"{'':7}problem: {problem}")
        for warning in s.warnings:
            print(f"{'':7}warning: {warning}")


def _print_roles(ingest, scan, proposals) -> None:
    """Print the proposed series per reading role, with the reasons and the alternatives."""
    print("\nProposed roles:")
    labels = {s.uid: s.label for s in scan.series}
    for role in ingest.ROLES:
        proposal = proposals[role]
        title = ingest.ROLE_TITLES[role]
        if proposal.series_uid is None:
            print(f"  {title:27} none ({'; '.join(proposal.reasons)})")
            continue
        print(f"  {title:27} {labels.get(proposal.series_uid, proposal.label)}"
              f"{' (override)' if proposal.overridden else ''}")
        print(f"  {'':27} because: {'; '.join(proposal.reasons)}")
        if proposal.alternatives:
            print(f"  {'':27} also possible: {', '.join(labels.get(u, u) for u in proposal.alternatives)}")
