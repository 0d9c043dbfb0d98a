"""``iscm-assist series FOLDER``: list the studies and series of an exam folder and propose reading roles.

Series are grouped by study (StudyInstanceUID) and named ``study:series`` ("2:5"). Roles are proposed
within one study: ``--study UID|INDEX``, the only study, or the only one with spine series; a folder
with several studies and no way to tell lists them and asks (exit 2).
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``series`` options: FOLDER, --study, --json, --role ROLE=SERIES (repeatable)."""
    parser.add_argument("folder", help="exam folder (searched recursively), a DICOMDIR file, or a BIDS/NIfTI folder")
    parser.add_argument("--study", metavar="UID|INDEX",
                        help="the study to read when the folder holds several (StudyInstanceUID or its index)")
    parser.add_argument("--json", action="store_true", help="print the studies, series, roles and skipped files as JSON")
    parser.add_argument(
        "--role",
        action="append",
        default=[],
        metavar="ROLE=SERIES",
        help="override a role with study:series (e.g. 1:7), a SeriesInstanceUID, a NIfTI file name or an "
        "unambiguous series number ('none' clears it); roles: t2_sagittal, t1_pre, t1_post, t2_axial, t1_post_axial",
    )


def _parse_overrides(values: list[str]) -> dict[str, str]:
    from ..cli import CommandError

    overrides: dict[str, str] = {}
    for value in values:
        role, separator, key = value.partition("=")
        if not separator or not role.strip():
            raise CommandError(f"--role {value!r}: expected ROLE=SERIES, e.g. --role t1_post=1:7")
        overrides[role.strip()] = key.strip()
    return overrides


def _format_spacing(spacing) -> str:
    if not spacing:
        return "-"
    return "x".join(f"{v:.2g}" if v < 10 else f"{v:.0f}" for v in spacing)


def _scan(folder: str):
    from tqdm import tqdm

    from .. import ingest, series_roles

    bar = tqdm(total=0, unit="file", desc="reading headers", file=sys.stderr, disable=None, leave=False)

    def progress(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    try:
        return ingest.scan_folder(folder, progress=progress)
    finally:
        bar.close()


def _print_series(scan) -> None:
    print(f"{len(scan.series)} series in {len(scan.studies)} stud{'y' if len(scan.studies) == 1 else 'ies'} in {scan.root}")
    header = (f"{'series':>7}  {'description':28} {'plane':9} {'weight':9} {'contrast':8} {'slices':>6}  "
              f"{'spacing mm':14} {'region/body part':18} files")
    for study in scan.studies:
        print(f"\n{study.title()}")
        print(header)
        for s in study.series:
            contrast = {True: "yes", False: "no", None: "?"}[s.contrast]
            region = "/".join(t for t in (s.region, s.body_part.lower()) if t) or "-"
            name = s.description if s.kind == "dicom" else s.path.name
            key = scan.key(s)
            # A NIfTI file goes by its name; a series without an unambiguous study:series by its UID.
            shown = f"{study.index}:-" if s.kind == "nifti" else (key if len(key) <= 7 else f"{study.index}:?")
            print(f"{shown:>7}  {name[:28]:28} {s.orientation:9} {s.weighting:9} {contrast:8} {s.n_slices:>6}  "
                  f"{_format_spacing(s.spacing_mm):14} {region[:18]:18} {s.n_files}")
            if s.kind == "dicom" and shown != key:
                print(f"{'':9}SeriesInstanceUID {s.uid}")
            if s.excluded:
                print(f"{'':9}never proposed for a role: {s.excluded}")
            for problem in s.problems:
                print(f"{'':9}problem: {problem}")
            for warning in s.warnings:
                print(f"{'':9}warning: {warning}")


def _print_roles(scan, proposals, study, why: str) -> None:
    from .. import ingest, series_roles

    by_uid = {s.uid: s for s in scan.series}

    def name(uid: str) -> str:
        summary = by_uid.get(uid)
        return f"{scan.key(summary)} {summary.description}".strip() if summary else uid

    print(f"\nProposed roles (study {study.index}, {why}):" if len(scan.studies) > 1 else "\nProposed roles:")
    for role in series_roles.ROLES:
        proposal = proposals[role]
        title = series_roles.ROLE_TITLES[role]
        if proposal.series_uid is None:
            print(f"  {title:27} none ({'; '.join(proposal.reasons)})")
        else:
            print(f"  {title:27} {name(proposal.series_uid)}{' (override)' if proposal.overridden else ''}")
            print(f"  {'':27} because: {'; '.join(proposal.reasons)}")
        if proposal.alternatives:
            print(f"  {'':27} also possible: {', '.join(name(u) for u in proposal.alternatives)}")


def _print_skipped(scan) -> None:
    if scan.skipped:
        print(f"\nSkipped {len(scan.skipped)} file(s):")
        for skipped in scan.skipped[:20]:
            print(f"  {_relative(skipped.path, scan.root)}: {skipped.reason}")
        if len(scan.skipped) > 20:
            print(f"  ... and {len(scan.skipped) - 20} more (see --json)")


def run(args: argparse.Namespace) -> int:
    """Scan ``args.folder``; print the studies, series and role proposals (or JSON).

    Returns 0, or 2 after listing the studies when the folder holds several and none was chosen.
    """
    from .. import ingest, series_roles
    from ..cli import CommandError
    from ..exam_studies import StudyChoiceError

    overrides = _parse_overrides(args.role)
    scan = _scan(args.folder)
    if not scan.series:
        skipped = f" ({len(scan.skipped)} file(s) skipped, e.g. {scan.skipped[0].path.name}: {scan.skipped[0].reason})" if scan.skipped else ""
        raise CommandError(f"{args.folder}: no DICOM or NIfTI image series found{skipped}")
    try:
        study, why = scan.study(args.study)
    except StudyChoiceError as error:
        if args.study:
            raise CommandError(f"--study {args.study}: {error}") from None
        study, why, choice = None, "", str(error)
    if study is not None:
        proposals = series_roles.propose_roles(scan.series, study=study.uid)
        proposals = series_roles.apply_overrides(scan, proposals, overrides, study_uid=study.uid)
    elif overrides:
        raise CommandError(f"--role needs one study: {choice.splitlines()[0]}")

    if args.json:
        print(json.dumps({
            "root": str(scan.root),
            "studies": [s.to_dict() for s in scan.studies],
            "study": study.uid if study else None,
            # paths relative to the folder given: folder names above it (often the patient's) stay out
            "series": [dict(s.to_dict(), key=scan.key(s), path=_relative(s.path, scan.root)) for s in scan.series],
            "roles": {role: proposals[role].to_dict() for role in series_roles.ROLES} if study else None,
            "case_series": series_roles.case_series_entries(scan, proposals) if study else [],
            "skipped": [{"path": _relative(s.path, scan.root), "reason": s.reason, "category": s.category}
                        for s in scan.skipped],
        }, indent=2))
    else:
        _print_series(scan)
        if study is not None:
            _print_roles(scan, proposals, study, why)
        _print_skipped(scan)
        if study is not None:
            print("\nOverride a role with --role ROLE=STUDY:SERIES (e.g. t1_post=1:7) or ROLE=SeriesInstanceUID.")
    if study is None:
        print(f"iscm-assist series: {choice.splitlines()[0]}: give --study UID or --study INDEX", file=sys.stderr)
        return 2
    return 0


def _relative(path, root) -> str:
    """Take a path found in the scanned folder and that folder; return the path relative to it."""
    import os

    try:
        return os.path.relpath(path, root)
    except ValueError:  # another drive (Windows)
        return str(path)
