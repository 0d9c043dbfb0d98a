"""PACS studies named by a research session: ``pacs:STUDY_UID[/SERIES_UID]`` in the cases CSV.

The session folder holds the server in ``DIR/pacs.json`` (a server file, config.load_server_file;
the password from ISCM_PACS_PASSWORD or its password_file). ``local_path`` maps a stored series
path to a folder: an ordinary path is taken relative to DIR; a PACS reference becomes
``DIR/cache/<study>[/<series>]``, retrieved on first use. A retrieve lands in a temporary folder
under DIR/cache and is moved into place only when complete, so the cache never holds half a series.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from .errors import PacsError

PREFIX = "pacs:"
SERVER_FILE = "pacs.json"
CACHE_DIR = "cache"
_STUDY_COMPLETE = ".complete"
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def is_pacs_reference(path: str) -> bool:
    """Return whether a cases-CSV path names a PACS study or series (starts with "pacs:")."""
    return path.strip().lower().startswith(PREFIX)


def parse_reference(reference: str) -> tuple[str, str | None]:
    """Take "pacs:STUDY_UID" or "pacs:STUDY_UID/SERIES_UID"; return (study UID, series UID or None).

    Raises PacsError when a UID is not digits and dots (at most 64 characters).
    """
    body = reference.strip()[len(PREFIX):]
    parts = body.split("/")
    if not 1 <= len(parts) <= 2 or not all(len(p) <= 64 and _UID.match(p) for p in parts):
        raise PacsError(f"{reference!r}: expected pacs:STUDY_UID or pacs:STUDY_UID/SERIES_UID (UIDs are digits and dots)")
    return parts[0], (parts[1] if len(parts) == 2 else None)


def cache_path(session_dir: Path, reference: str) -> Path:
    """Return where a PACS reference lives in a session: DIR/cache/<study>[/<series>]."""
    study, series = parse_reference(reference)
    folder = Path(session_dir) / CACHE_DIR / study
    return folder / series if series else folder


def local_path(session_dir: str | os.PathLike[str], stored: str, retrieve: bool = True) -> Path:
    """Return the folder or file a session's stored series path stands for (absolute).

    A PACS reference is retrieved into the cache first when absent and ``retrieve`` (using
    DIR/pacs.json). Raises PacsError when it must be retrieved and there is no server file, the server
    fails, or instances are missing (nothing is left in the cache then).
    """
    session_dir = Path(session_dir)
    if not is_pacs_reference(stored):
        return (session_dir / stored).resolve()
    target = cache_path(session_dir, stored).resolve()
    study, series = parse_reference(stored)
    # A whole study is complete only once marked so: a series of it may have come on its own before.
    if (target / _STUDY_COMPLETE).is_file() if series is None else target.is_dir():
        return target
    if not retrieve:
        return target
    server = session_dir / SERVER_FILE
    if not server.is_file():
        raise PacsError(f"session {session_dir} names {stored} but has no {SERVER_FILE} saying which PACS to ask")
    from . import load_server_file, retrieve as retrieve_study

    config = load_server_file(server)
    cache = session_dir / CACHE_DIR
    cache.mkdir(parents=True, exist_ok=True)
    incoming = Path(tempfile.mkdtemp(prefix=".incoming-", dir=cache))
    try:
        result = retrieve_study(config, study, incoming, [series] if series else None)
        if not result.complete:
            problems = "; ".join(result.errors) or f"{result.missing_count} instance(s) missing"
            raise PacsError(f"{stored}: retrieve from {config.where} incomplete ({problems})")
        if not result.files:
            raise PacsError(f"{stored}: {config.where} sent no instances")
        _move_into_place(incoming, cache, study, series)
        if series is None:
            (target / _STUDY_COMPLETE).touch()
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
    return target


def _move_into_place(incoming: Path, cache: Path, study: str, series: str | None) -> None:
    """Move the retrieved <study>/<series> folders from ``incoming`` into ``cache``."""
    source_study = incoming / study
    if not source_study.is_dir():
        raise PacsError(f"pacs:{study}: the PACS sent instances of another study")
    (cache / study).mkdir(exist_ok=True)
    for folder in sorted(source_study.iterdir()):
        if series and folder.name != series:
            continue
        destination = cache / study / folder.name
        if not destination.exists():
            os.replace(folder, destination)
