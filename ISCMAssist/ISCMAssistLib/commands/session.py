"""``iscm-assist session``: research annotation sessions (create, status, next, read, done, consensus).

    iscm-assist session create DIR --cases cases.csv --reader NAME [--name TEXT]
    iscm-assist session status DIR
    iscm-assist session next DIR --reader NAME
    iscm-assist session read DIR --reader NAME --case ID [--markups F.mrk.json...] [--case-json F] [--done]
    iscm-assist session done DIR --reader NAME --case ID
    iscm-assist session consensus DIR --case ID --readers A B [--overwrite]

The cases CSV has the header ``case_id,role,path`` and one row per series (see docs/sessions.md).
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the session actions (create, status, next, read, done, consensus) as sub-commands of ``parser``."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True

    create = actions.add_parser("create", help="create a session folder from a cases CSV")
    create.add_argument("directory", metavar="DIR", help="session folder (created if absent)")
    create.add_argument("--cases", required=True, metavar="CSV", help="cases CSV: header case_id,role,path")
    create.add_argument("--reader", required=True, metavar="NAME", help="first reader's name")
    create.add_argument("--name", help="session name (default: the folder name)")

    status = actions.add_parser("status", help="n of N cases read, per reader")
    status.add_argument("directory", metavar="DIR", help="session folder")

    next_ = actions.add_parser("next", help="print the reader's next case id and its series paths")
    next_.add_argument("directory", metavar="DIR", help="session folder")
    next_.add_argument("--reader", required=True, metavar="NAME", help="reader name (added to the session if new)")

    done = actions.add_parser("done", help="mark a case done for a reader")
    done.add_argument("directory", metavar="DIR", help="session folder")
    done.add_argument("--reader", required=True, metavar="NAME", help="reader name")
    done.add_argument("--case", required=True, metavar="ID", dest="case_id",
                      help="case id (it must have a saved read: session read, or the Slicer module)")

    read = actions.add_parser("read", help="make or update a reader's read of a case from .mrk.json files "
                                           "and/or a case JSON (no Slicer needed)")
    read.add_argument("directory", metavar="DIR", help="session folder")
    read.add_argument("--reader", required=True, metavar="NAME", help="the reader whose read it is")
    read.add_argument("--case", required=True, metavar="ID", dest="case_id", help="case id in the session")
    read.add_argument("--case-json", metavar="CASE.json", help="start from this case JSON (its case_id must match)")
    read.add_argument("--markups", nargs="+", metavar="FILE.mrk.json", default=[],
                      help="level point list and lines named 'Lesion 1 SI', 'Lesion 1 AP', 'Lesion 1 transverse', "
                           "'Lesion 1 edema SI'")
    read.add_argument("--done", action="store_true", help="also mark the case done")

    consensus = actions.add_parser("consensus", help="start the consensus read of a case from readers' reads")
    consensus.add_argument("directory", metavar="DIR", help="session folder")
    consensus.add_argument("--case", required=True, metavar="ID", dest="case_id", help="case id")
    consensus.add_argument("--readers", required=True, nargs="+", metavar="NAME",
                           help="two or more readers with saved reads (the first one's lines are kept)")
    consensus.add_argument("--overwrite", action="store_true", help="replace an existing consensus read")


def run(args: argparse.Namespace) -> int:
    """Run the chosen session action; print to stdout; return the exit code (0)."""
    from ..cli import CommandError
    from ..session import create_session, open_session

    if args.action == "create":
        session = create_session(args.directory, args.cases, args.reader, name=args.name)
        for warning in session.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(f"created session {session.name!r} in {session.directory}: {_cases(len(session.cases))}, "
              f"reader {args.reader}")
        return 0

    session = open_session(args.directory)
    if args.action == "status":
        return _status(session)

    if args.action == "next":
        session.add_reader(args.reader)
        case_id = session.next_case(args.reader)
        if case_id is None:
            print(f"{args.reader}: all {len(session.cases)} cases done", file=sys.stderr)
            return 0
        print(case_id)
        for role, path in session.series_paths(case_id):
            print(f"{role}\t{path}")
        return 0

    if args.action == "done":
        session.mark_done(args.reader, args.case_id)
        row = session.reader_progress(args.reader)
        print(f"{args.case_id} done; {row.text()}")
        return 0

    if args.action == "read":
        return _read(session, args)

    if args.action == "consensus":
        session.start_consensus(args.case_id, args.readers, overwrite=args.overwrite)
        disagreements = session.disagreements(args.case_id)
        path = session.read_path("consensus", args.case_id)
        print(f"consensus draft of {args.case_id} saved to {path}")
        print(f"{len(disagreements)} disagreement(s) to settle" + (":" if disagreements else ""))
        for item in disagreements:
            print(f"  {item.text()}")
        return 0

    raise CommandError(f"unknown session action {args.action!r}")


def _read(session, args: argparse.Namespace) -> int:
    """Make or update the reader's read of a case from --case-json and --markups; print one line; return 0."""
    from ..case_io import load_case
    from ..cli import CommandError
    from ..read_markups import apply_markups

    if not args.case_json and not args.markups:
        raise CommandError("give --markups FILE.mrk.json... and/or --case-json CASE.json: nothing to read")
    case = session.load_read(args.reader, args.case_id)
    if args.case_json:
        given = load_case(args.case_json)
        if given.get("case_id") != args.case_id:
            raise CommandError(f"{args.case_json}: case_id {given.get('case_id')!r} is not {args.case_id!r}")
        given["series"] = given.get("series") or case.get("series") or []
        if not (given.get("reader") or {}).get("name"):
            given["reader"] = case["reader"]
        case = given
    warnings = apply_markups(case, args.markups) if args.markups else []
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    path = session.autosave(args.reader, args.case_id, case)
    if args.done:
        session.mark_done(args.reader, args.case_id)
    count = len(case["lesions"])
    print(f"{args.case_id}: read of {args.reader} saved ({count} lesion{'' if count == 1 else 's'}"
          f"{', done' if args.done else ''}): {path}")
    return 0


def _status(session) -> int:
    """Print the session's progress table (one row per reader); return 0."""
    from tqdm import tqdm

    with tqdm(total=0, desc="reading states", file=sys.stderr, leave=False,
              disable=True if len(session.cases) < 200 else None) as bar:  # None: terminal only
        def advance(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        rows = session.progress_table(progress=advance)
    print(f"session {session.name!r}: {_cases(len(session.cases))}")
    if not rows:
        print("no readers yet")
        return 0
    width = max(6, *(len(row.reader) for row in rows))
    print(f"{'reader':<{width}}  {'done':>11}  {'in progress':>11}  {'unread':>6}")
    for row in rows:
        print(f"{row.reader:<{width}}  {f'{row.done} of {row.total}':>11}  {row.in_progress:>11}  "
              f"{row.unread:>6}")
    return 0


def _cases(count: int) -> str:
    return f"{count} case" if count == 1 else f"{count} cases"
