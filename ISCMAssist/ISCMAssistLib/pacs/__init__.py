"""Talk to a PACS: echo, query, retrieve and store over DICOMweb or DIMSE (for research use).

The functions here take a ServerConfig (config.py) and pick the transport: ``dicomweb.py`` (the
dicomweb-client package) when it has a ``url``, ``dimse.py`` (pynetdicom) when it has ``dimse``.
``store_file`` is what a front end calls to send one SR file; ``session_cache.py`` fetches the
PACS studies a research session names.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .config import PASSWORD_ENV, ServerConfig, check_server, load_server_file, save_server_file
from .errors import PacsError
from .records import RetrieveResult, StoreResult

for _library in ("pynetdicom", "dicomweb_client"):  # their own log lines never reach the user's screen
    logging.getLogger(_library).addHandler(logging.NullHandler())


class _HidePasswords(logging.Filter):
    """pynetdicom's debug log of an association request prints the user identity's password: hide it."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "Password:" in text:
            record.msg, record.args = re.sub(r"Password: \[.*\]", "Password: [hidden]", text), ()
        return True


logging.getLogger("pynetdicom._handlers").addFilter(_HidePasswords())

Progress = Callable[[int, int], None]

__all__ = ["PASSWORD_ENV", "PacsError", "RetrieveResult", "ServerConfig", "StoreResult", "check_server", "echo",
           "find_series", "find_studies", "load_server_file", "read_for_store", "retrieve", "save_server_file", "store", "store_file"]


def _transport(config: ServerConfig):
    from . import dicomweb, dimse

    return dicomweb if check_server(config).kind == "dicomweb" else dimse


def echo(config: ServerConfig) -> str:
    """Check the server answers (QIDO-RS study search, or C-ECHO); return one line saying so. Raises PacsError."""
    return _transport(config).echo(config)


def find_studies(config: ServerConfig, filters: Mapping[str, str]) -> list[dict[str, Any]]:
    """Return the studies matching ``filters`` {DICOM keyword: value} as rows {keyword: value} (records.STUDY_FIELDS)."""
    return _transport(config).find_studies(config, filters)


def find_series(config: ServerConfig, study_uid: str, filters: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Return a study's series (optionally filtered, e.g. {"Modality": "SR"}) as rows (records.SERIES_FIELDS)."""
    return _transport(config).find_series(config, study_uid, filters)


def retrieve(config: ServerConfig, study_uid: str, out: str | Path, series_uids: Sequence[str] | None = None,
             progress: Progress | None = None) -> RetrieveResult:
    """Retrieve a study, or the listed series of it, into OUT/<study>/<series>/<instance>.dcm.

    WADO-RS; or C-MOVE when ``listen_port`` is set, else C-GET. Returns a RetrieveResult whose
    ``missing`` lists the instances the PACS listed but did not send. Raises PacsError when the
    server cannot be used at all.
    """
    return _transport(config).retrieve(config, study_uid, series_uids, Path(out), progress)  # folders made as files come


def read_for_store(paths: Sequence[str | Path]) -> tuple[list[tuple[Path, Any]], list[tuple[str, str]]]:
    """Read DICOM files to store; return ((path, Dataset) pairs, (path, reason) for files that cannot be sent)."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    readable: list[tuple[Path, Any]] = []
    failed: list[tuple[str, str]] = []
    for path in map(Path, paths):
        try:
            dataset = pydicom.dcmread(path)
            if "SOPInstanceUID" not in dataset or "SOPClassUID" not in dataset:
                raise InvalidDicomError("no SOPClassUID/SOPInstanceUID")
            if "TransferSyntaxUID" not in getattr(dataset, "file_meta", {}):
                raise InvalidDicomError("no file meta (TransferSyntaxUID)")
        except (InvalidDicomError, OSError, ValueError, EOFError) as error:
            failed.append((str(path), f"not a DICOM file that can be sent ({getattr(error, 'strerror', None) or error})"))
            continue
        readable.append((path, dataset))
    return readable, failed


def store(config: ServerConfig, paths: Sequence[str | Path], progress: Progress | None = None) -> StoreResult:
    """Send DICOM files (STOW-RS or C-STORE); return a StoreResult (unreadable files are failed, unsent).

    Raises PacsError when the server cannot be used at all (unreachable, refused, credentials).
    """
    transport = _transport(config)
    readable, failed = read_for_store(paths)
    result = transport.store(config, readable, progress) if readable else StoreResult()
    result.failed[:0] = failed
    return result


def store_file(server: ServerConfig | str | Path, path: str | Path) -> str:
    """Send one file (e.g. the SR of a read) to a server (a ServerConfig or a JSON server file).

    Returns one line for the user ("report.dcm stored on ..."); raises PacsError when it was not stored.
    This is what the Slicer module's "Send SR to PACS" calls.
    """
    config = server if isinstance(server, ServerConfig) else load_server_file(server)
    result = store(config, [path])
    if result.failed:
        raise PacsError(f"{result.failed[0][0]}: not stored on {config.where}: {result.failed[0][1]}")
    return f"{path} stored on {config.where}"
