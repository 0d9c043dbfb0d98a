"""The one error type of the PACS code: a message for the user, one line, never a credential."""

from __future__ import annotations


class PacsError(ValueError):
    """A PACS operation that failed (unreachable, refused, wrong credentials, failed instance); says which.

    ``http_status`` is the HTTP status a DICOMweb server answered with, when that was the failure.
    """

    def __init__(self, message: str, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
