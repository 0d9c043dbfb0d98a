"""``iscm-assist levels``: propose vertebral levels (discs and bodies) on a sagittal T2/T1."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

#: Name of the point list written by ``--out`` (the module shows it in its level selector).
NODE_NAME = "Vertebral levels (auto)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``levels``."""
    parser.add_argument("volume", type=Path, help="sagittal T2 or T1: NIfTI file or DICOM series folder")
    parser.add_argument("--anchor", metavar="LABEL@R,A,S",
                        help="one level you named, e.g. 'T4/T5@0,-20.5,31' (RAS mm): all names follow it")
    parser.add_argument("--out", type=Path, help="write the proposed points as a Slicer .mrk.json point list")
    parser.add_argument("--figure", type=Path, help="also write a PNG of the sagittal slice with the proposed points")
    parser.add_argument("--contrast", choices=["auto", "t2", "t1"], default="auto",
                        help="discs and CSF bright (t2) or dark (t1); default: decide from the image")


def run(args: argparse.Namespace) -> int:
    """Propose levels, print them (and write --out); return 0, or 1 when no spine is found."""
    from tqdm import tqdm

    from ..autolevels import parse_anchor, propose_levels
    from ..cli import CommandError
    from ..images import load_volume

    if args.out is not None and not args.out.name.endswith(".mrk.json"):
        raise CommandError(f"--out {args.out}: the file name must end in .mrk.json")
    anchor = parse_anchor(args.anchor) if args.anchor else None
    volume = load_volume(args.volume)
    for warning in volume.warnings:  # skipped files, blank slices inserted: never silent
        print(f"warning: {warning}", file=sys.stderr)
    with tqdm(total=5, desc="levels", unit="step", file=sys.stderr, leave=False, disable=None) as bar:  # terminal only
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        proposal = propose_levels(volume, anchor=anchor, progress=progress, contrast=args.contrast)

    for message in proposal.messages:
        print(f"note: {message}", file=sys.stderr)
    if args.figure is not None:
        from ..levels_figure import draw_levels_figure

        draw_levels_figure(args.figure, volume, proposal, args.volume.name)
        print(f"wrote {args.figure}")
    if not proposal.spine_found:
        print(f"{args.volume}: no spine found; no levels proposed")
        return 1
    print(f"{'label':>8}  {'kind':4}  {'R':>8} {'A':>8} {'S':>8}  confidence")
    for point in proposal.points:
        r, a, s = point.position_ras
        print(f"{point.label:>8}  {point.kind:4}  {r:8.1f} {a:8.1f} {s:8.1f}  {point.confidence:.2f}")
    naming = "from the anchor" if anchor else ("confident" if proposal.naming_confident else "NOT sure")
    print(f"{len(proposal.discs())} discs, contrast {proposal.contrast}, names {naming}")
    if args.out is not None:
        from ..markups_io import write_point_list

        write_point_list(args.out, proposal.labels, proposal.positions_ras, NODE_NAME,
                         descriptions=[point.description for point in proposal.points])
        print(f"wrote {args.out}")
    return 0
