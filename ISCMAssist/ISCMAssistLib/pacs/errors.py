"""The one error type of the PACS code: a message for the user, one line, never a credential."""

from __future__ import annotations


class PacsError(ValueError):
    """A PACS operation that failed (unreachable, refused, wrong credentials, failed instance); says which."""
