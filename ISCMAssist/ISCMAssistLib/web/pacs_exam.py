"""A study from the PACS as the web panel's exam: retrieved into the output folder, with the server
kept (OUT/pacs.json, no password) so that the panel's "Send SR to PACS" stores the read back."""

from __future__ import annotations

from pathlib import Path

from .. import pacs


def retrieve_exam(server: str, study_uid: str, out: Path, user: str | None = None) -> tuple[Path, Path]:
    """Take a DICOMweb root URL or a PACS server file, a StudyInstanceUID, the panel's output folder
    and an optional user (password from ISCM_PACS_PASSWORD); retrieve the study into OUT/pacs/ and
    return (its folder, the server file written as OUT/pacs.json). Raises pacs.PacsError (one line)
    when the server fails or instances are missing."""
    if server.lower().endswith(".json"):
        config = pacs.load_server_file(server)
    else:
        config = pacs.ServerConfig(url=server, user=user)
    out.mkdir(parents=True, exist_ok=True)
    server_file = out / "pacs.json"
    pacs.save_server_file(server_file, config)
    result = pacs.retrieve(config, study_uid, out / "pacs")
    if result.missing or result.unnamed:
        missing = len(result.missing) + sum(result.unnamed.values())
        raise pacs.PacsError(f"study {study_uid}: {missing} of {result.expected} instances did not arrive; "
                             "not opening a partial exam")
    if not result.files:
        raise pacs.PacsError(f"study {study_uid}: the PACS sent no instances")
    return Path(result.files[0]).parents[1], server_file  # OUT/pacs/<study>/<series>/<instance>.dcm
