"""Reading DICOM headers fast: the DICM preamble check and (see read_dicom_header) the header reader."""

from __future__ import annotations

import os

PREAMBLE_LENGTH = 128
MAGIC = b"DICM"


def starts_with_dicm(data: bytes) -> bool:
    """Take a file's first bytes; return whether they hold the 128-byte preamble and "DICM"."""
    return len(data) >= PREAMBLE_LENGTH + 4 and data[PREAMBLE_LENGTH:PREAMBLE_LENGTH + 4] == MAGIC


def has_dicm_preamble(path: str | os.PathLike) -> bool:
    """Take a path; return whether the file starts with the DICOM preamble ("DICM" at byte 128);
    False for a file that cannot be read."""
    try:
        with open(path, "rb") as handle:
            return starts_with_dicm(handle.read(PREAMBLE_LENGTH + 4))
    except OSError:
        return False
