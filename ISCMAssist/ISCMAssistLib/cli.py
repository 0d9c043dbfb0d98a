"""``iscm-assist``: the command-line front end of the ISCMAssist core (for research use only).

Each sub-command lives in ``ISCMAssistLib/commands/<module>.py`` with two functions:
``add_arguments(parser)`` and ``run(args) -> int`` (the exit code). A command module keeps its
heavy imports (highdicom, matplotlib, slicer) inside ``run`` so that building the parser stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import RESEARCH_USE_LABEL, __version__

#: name -> (module under ISCMAssistLib.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "run a whole read on built-in synthetic DICOM and write every output"),
    "measure": ("measure", "measure lesion/edema masks against vertebral levels; print the case JSON"),
    "validate": ("validate", "check a case JSON file against the schema"),
    "hints": ("hints", "print the evidence-based hints of a case JSON (prevalence, comparison, prompts)"),
    "series": ("series", "list the series in a DICOM/NIfTI folder and propose their roles"),
    "export-sr": ("export_sr", "write a case JSON as a DICOM Comprehensive 3D SR (TID 1500)"),
    "import-sr": ("import_sr", "read a DICOM SR written by export-sr back into a case JSON"),
    "report": ("report", "write one self-contained HTML page of a read (for a clinician)"),
    "levels": ("levels", "propose vertebral levels (discs and bodies) on a sagittal T2/T1"),
    "session": ("session", "research annotation sessions: create, status, next, read, done, consensus"),
    "agreement": ("agreement", "inter-reader agreement of a session's reads"),
    "cohort": ("cohort", "the study's Tables 1-3 and comparisons for a folder of case JSON files"),
    "pacs": ("pacs", "echo, query, retrieve and store with a PACS (DICOMweb or DIMSE)"),
    "web": ("web", "the read in a browser: a web panel on an exam, a session or the demo"),
}


class CommandError(Exception):
    """An error to show the user as one clear line (exit code 2), not a traceback."""


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with one sub-parser per command that is installed."""
    parser = argparse.ArgumentParser(
        prog="iscm-assist",
        description=f"Read intramedullary spinal cord metastasis on spine MRI. {RESEARCH_USE_LABEL}",
    )
    parser.add_argument("--version", action="version", version=f"iscm-assist {__version__}")
    parser.add_argument("--max-volume-gb", type=float, metavar="GB", default=None,
                        help="largest image array a command may allocate (default 2 GiB, or $ISCM_MAX_VOLUME_GB)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(f"{__package__}.commands.{module_name}")
        except ModuleNotFoundError as error:
            if error.name == f"{__package__}.commands.{module_name}":
                continue  # command not built yet
            raise
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: sys.argv[1:]), run the command, return its exit code."""
    for stream in (sys.stdout, sys.stderr):  # PYTHONIOENCODING=ascii, lone surrogates: escape, never fail
        if hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    if args.max_volume_gb is not None:
        from .volumes import MAX_VOLUME_ENV

        os.environ[MAX_VOLUME_ENV] = str(args.max_volume_gb)
    try:
        return int(args.run(args) or 0)
    except CommandError as error:
        print(f"iscm-assist {args.command}: error: {error}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as error:
        # The project's own errors subclass ValueError/OSError and name the file and problem.
        print(f"iscm-assist {args.command}: error: {error}", file=sys.stderr)
        return 2
    except (RecursionError, OverflowError, MemoryError) as error:
        print(f"iscm-assist {args.command}: error: input too deep or too large ({type(error).__name__}: "
              f"{error})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"iscm-assist {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: still one line; ISCM_DEBUG=1 shows the traceback
        if os.environ.get("ISCM_DEBUG"):
            raise
        print(f"iscm-assist {args.command}: internal error ({type(error).__name__}: {error}); "
              f"please report it (ISCM_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    # run the package's module, not this __main__ copy, so the commands' CommandError is the one caught
    sys.exit(importlib.import_module("ISCMAssistLib.cli").main())
