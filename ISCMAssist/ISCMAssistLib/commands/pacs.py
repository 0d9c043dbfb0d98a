"""``iscm-assist pacs``: echo, query, retrieve and store with a PACS over DICOMweb or DIMSE.

    iscm-assist pacs echo     SERVER
    iscm-assist pacs query    SERVER [--patient-id ID] [--study-uid UID] [--accession N] [--modality MR] [--date D] [--json]
    iscm-assist pacs retrieve SERVER --study UID [--series UID...] --out DIR
    iscm-assist pacs store    SERVER FILE_OR_FOLDER...

SERVER is ``--url DICOMWEB_ROOT`` or ``--dimse HOST:PORT --called-aet AET [--calling-aet AET]
[--listen-port N]``, or ``--server FILE.json``; ``--user NAME`` takes its password from
ISCM_PACS_PASSWORD or ``--password-file``, never from the command line.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

_DATE = re.compile(r"^(\d{8})?(-(\d{8})?)?$")


class _RefusePassword(argparse.Action):
    """--password is refused without echoing its value (argparse would print an unknown option's value)."""

    def __call__(self, parser, namespace, values, option_string=None):
        parser.exit(2, "iscm-assist pacs: error: a password is never taken from the command line: "
                       "set ISCM_PACS_PASSWORD or give --password-file\n")


def _server_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("server")
    group.add_argument("--url", help="DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web")
    group.add_argument("--dimse", metavar="HOST:PORT", help="DIMSE peer (C-FIND/C-GET/C-MOVE/C-STORE)")
    group.add_argument("--called-aet", metavar="AET", help="the PACS's AE title (with --dimse)")
    group.add_argument("--calling-aet", metavar="AET", default=None, help="our AE title (default ISCMASSIST)")
    group.add_argument("--listen-port", type=int, metavar="N",
                       help="retrieve by C-MOVE to our own Storage SCP on this port (default: C-GET)")
    group.add_argument("--server", metavar="FILE.json", help="a server file (url or dimse, user, ca_file...)")
    group.add_argument("--user", help="user name; the password comes from ISCM_PACS_PASSWORD or --password-file")
    group.add_argument("--password-file", metavar="FILE", help="file whose first line is the password")
    group.add_argument("--password", "--pass", "--passwd", "--pwd", "--pw", nargs="?", action=_RefusePassword,
                       help=argparse.SUPPRESS)
    group.add_argument("--ca-file", metavar="PEM", help="CA certificates to verify an https server")
    group.add_argument("--insecure", action="store_true", help="allow plain http to a host that is not this machine")
    group.add_argument("--timeout", type=float, default=30.0, metavar="S", help="network timeout in seconds (default 30)")
    return common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the actions echo, query, retrieve and store, each with the server options."""
    common = _server_options()
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    actions.add_parser("echo", parents=[common], help="check that the server answers")
    query = actions.add_parser("query", parents=[common], help="list studies, or one study's series")
    query.add_argument("--patient-id", help="PatientID")
    query.add_argument("--study-uid", help="list this study's series instead of studies")
    query.add_argument("--accession", help="AccessionNumber")
    query.add_argument("--modality", help="e.g. MR or SR (ModalitiesInStudy; Modality with --study-uid)")
    query.add_argument("--date", help="StudyDate YYYYMMDD or a range YYYYMMDD-YYYYMMDD")
    query.add_argument("--json", action="store_true", help="print the rows as JSON")
    retrieve = actions.add_parser("retrieve", parents=[common], help="retrieve a study (or some series) into a folder")
    retrieve.add_argument("--study", required=True, metavar="UID", help="StudyInstanceUID")
    retrieve.add_argument("--series", nargs="+", metavar="UID", help="only these SeriesInstanceUIDs")
    retrieve.add_argument("--out", required=True, type=Path, metavar="DIR",
                          help="folder; files go to DIR/<study>/<series>/<instance>.dcm")
    store = actions.add_parser("store", parents=[common], help="send DICOM files (e.g. our SR) to the server")
    store.add_argument("files", nargs="+", metavar="FILE", help="DICOM files or folders (searched recursively)")


def server_from_args(args: argparse.Namespace):
    """Return the checked ServerConfig the options describe (a --server file, overridden by explicit options)."""
    from ..pacs import ServerConfig, check_server, load_server_file

    config = load_server_file(args.server) if args.server else ServerConfig()
    for option in ("url", "dimse", "called_aet", "calling_aet", "listen_port", "user", "password_file", "ca_file"):
        value = getattr(args, option)
        if value is not None:
            setattr(config, option, value)
    config.insecure = config.insecure or args.insecure
    config.timeout_s = args.timeout
    config = check_server(config)
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return config


def _bar(total: int, unit: str, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc=desc, file=sys.stderr, leave=False, disable=not sys.stderr.isatty())


def _progress(bar):
    def advance(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)
    return advance


def _filters(args: argparse.Namespace) -> dict[str, str]:
    from ..cli import CommandError

    if args.date and not _DATE.match(args.date):
        raise CommandError(f"--date {args.date!r}: expected YYYYMMDD or YYYYMMDD-YYYYMMDD")
    keys = {"PatientID": args.patient_id, "AccessionNumber": args.accession, "StudyDate": args.date,
            "Modality" if args.study_uid else "ModalitiesInStudy": args.modality}
    return {key: value for key, value in keys.items() if value}


def _table(rows: list[dict], columns: list[tuple[str, str, int]]) -> str:
    def cell(value) -> str:
        return "\\".join(map(str, value)) if isinstance(value, list) else ("" if value is None else str(value))

    lines = ["  ".join(f"{title:{width}}" for _, title, width in columns).rstrip()]
    for row in rows:
        lines.append("  ".join(f"{cell(row.get(key))[:width]:{width}}" if width < 64 else cell(row.get(key))
                               for key, _, width in columns).rstrip())
    return "\n".join(lines)


def _query(config, args: argparse.Namespace) -> int:
    from .. import pacs

    filters = _filters(args)
    if args.study_uid:
        rows = pacs.find_series(config, args.study_uid, filters)
        columns = [("SeriesNumber", "#", 4), ("Modality", "mod", 4), ("SeriesDescription", "description", 28),
                   ("NumberOfSeriesRelatedInstances", "images", 6), ("SeriesInstanceUID", "SeriesInstanceUID", 64)]
        what = f"series in study {args.study_uid}"
    else:
        rows = pacs.find_studies(config, filters)
        columns = [("PatientID", "patient", 12), ("StudyDate", "date", 8), ("AccessionNumber", "accession", 10),
                   ("ModalitiesInStudy", "modalities", 10), ("StudyDescription", "description", 24),
                   ("NumberOfStudyRelatedSeries", "series", 6), ("StudyInstanceUID", "StudyInstanceUID", 64)]
        what = "studies"
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{len(rows)} {what} on {config.where}")
    if rows:
        print(_table(rows, columns))
    return 0


def _retrieve(config, args: argparse.Namespace) -> int:
    from .. import pacs

    with _bar(0, "instance", "retrieving") as bar:
        result = pacs.retrieve(config, args.study, args.out, args.series, progress=_progress(bar))
    print(f"{len(result.files)} of {result.expected} instances retrieved into {args.out}; "
          f"list them with: iscm-assist series {args.out}")
    if result.complete:
        return 0
    for error in result.errors:
        print(f"iscm-assist pacs retrieve: error: {error}", file=sys.stderr)
    if result.missing_count:
        print(f"iscm-assist pacs retrieve: error: partial retrieve, {result.missing_count} instance(s) missing:\n"
              f"{result.missing_text()}", file=sys.stderr)
    return 1


def _store(config, args: argparse.Namespace) -> int:
    from .. import pacs
    from ..cli import CommandError

    paths: list[Path] = []
    for item in map(Path, args.files):
        if item.is_dir():
            paths.extend(p for p in sorted(item.rglob("*")) if p.is_file() and not p.name.startswith("."))
        elif item.is_file():
            paths.append(item)
        else:
            raise CommandError(f"{item}: no such file or folder")
    if not paths:
        raise CommandError(f"{', '.join(args.files)}: no files to store")
    with _bar(len(paths), "file", "storing") as bar:
        result = pacs.store(config, paths, progress=_progress(bar))
    print(f"{len(result.stored)} of {len(paths)} instance(s) stored on {config.where}")
    for path, reason in result.failed:
        print(f"iscm-assist pacs store: error: {path}: {reason}", file=sys.stderr)
    return 1 if result.failed else 0


def run(args: argparse.Namespace) -> int:
    """Run the PACS action; print its outcome; return 0, or 1 for a partial retrieve or a failed instance.

    Whole failures (unreachable, refused, wrong credentials) raise PacsError: one line, exit 2.
    """
    from .. import pacs

    config = server_from_args(args)
    if args.action == "echo":
        print(pacs.echo(config))
        return 0
    return {"query": _query, "retrieve": _retrieve, "store": _store}[args.action](config, args)
