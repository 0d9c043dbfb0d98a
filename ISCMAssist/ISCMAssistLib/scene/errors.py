"""The scene layer's errors; each message names the node, role, folder or file and the problem."""

from __future__ import annotations


class RoleError(ValueError):
    """An unknown node role, series role, lesion id or checklist section; names it and what is allowed."""


class ReadFolderError(OSError):
    """A read folder or series that cannot be saved, opened or loaded; names the folder/file and the problem."""


class OpenFileError(OSError):
    """A file given to Open that is neither a read folder, a case JSON nor a DICOM SR; names the path."""
