"""``iscm-assist web``: the read in a browser (a trame-slicer panel on the module's Logic).

It binds 127.0.0.1 unless told otherwise; any other host needs ``--password-file``.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``web``."""
    parser.add_argument("exam", nargs="?", type=Path, metavar="EXAM_FOLDER",
                        help="exam folder (DICOM, DICOMDIR or NIfTI): its series are proposed and loaded")
    parser.add_argument("--session", type=Path, metavar="DIR", help="research session folder (with --reader)")
    parser.add_argument("--reader", help="the reader's name in the session")
    parser.add_argument("--demo", action="store_true", help="open the demo exam and its read")
    parser.add_argument("--pacs", metavar="URL|SERVER.json",
                        help="open a study from a PACS (with --study): a DICOMweb root URL, or a PACS server "
                             "file; it is retrieved into OUT/pacs/ and the panel can send the SR back")
    parser.add_argument("--study", metavar="UID", help="the StudyInstanceUID to open from --pacs")
    parser.add_argument("--pacs-user", metavar="USER",
                        help="user for --pacs URL (password from ISCM_PACS_PASSWORD, never the command line)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the autosaved read and the exports (default ./iscm-web, "
                             "./iscm-web-demo with --demo)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this computer only)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 = any free port)")
    parser.add_argument("--password-file", type=Path, metavar="FILE",
                        help="file whose first line is the password readers must give (needed for "
                             "any host but 127.0.0.1)")


def run(args: argparse.Namespace) -> int:
    """Check the choice of what to open, then serve the panel until stopped; return the exit code."""
    from ..cli import CommandError

    chosen = [name for name, given in (("EXAM_FOLDER", args.exam), ("--session", args.session),
                                       ("--demo", args.demo), ("--pacs", args.pacs)) if given]
    if len(chosen) != 1:
        raise CommandError("give one of EXAM_FOLDER, --session DIR --reader NAME, --demo or --pacs URL --study UID")
    if bool(args.pacs) != bool(args.study):
        raise CommandError("--pacs and --study go together")
    if bool(args.session) != bool(args.reader):
        raise CommandError("--session and --reader go together")
    if args.exam and not args.exam.is_dir():
        raise CommandError(f"{args.exam}: not a folder")
    import importlib.util

    if importlib.util.find_spec("trame_slicer") is None:
        raise CommandError('the web panel needs trame-slicer: pip install -e ".[web]"')
    from ..web.server import PanelOptions, run_panel

    out = (args.out or Path("iscm-web-demo" if args.demo else "iscm-web")).absolute()
    exam, pacs_server = args.exam, None
    if args.pacs:
        from ..web.pacs_exam import retrieve_exam

        exam, pacs_server = retrieve_exam(args.pacs, args.study, out, user=args.pacs_user)
    return run_panel(PanelOptions(out=out, exam=exam, session=args.session, reader=args.reader,
                                  demo=args.demo, host=args.host, port=args.port,
                                  password_file=args.password_file, pacs_server=pacs_server))
