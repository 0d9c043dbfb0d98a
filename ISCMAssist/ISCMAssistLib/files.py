"""Reading JSON files with clear errors, and atomic file writes.

Atomic writes: a reader of the file sees the old or the new complete version, never a mix.

Every file ISCMAssist writes goes through ``atomic_write_text`` / ``atomic_write_bytes``: the data go
to a temporary file in the same folder, which is flushed and fsynced, then ``os.replace``d over the
target (atomic on POSIX and Windows), then the folder is fsynced so the rename survives a power cut.
On any failure the old file is left untouched and the temporary file is removed. A process killed
with SIGKILL mid-write can leave a ``.<name>.*.tmp`` file behind, never a torn target.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any


class FileWriteError(OSError):
    """A file could not be written; the message names the file and the reason."""


def is_inside(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """Return whether ``path``, with every symbolic link resolved, lies inside ``folder`` (resolved too)."""
    real, root = os.path.realpath(path), os.path.realpath(folder)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def unsafe_to_read(path: str | os.PathLike, folder: str | os.PathLike) -> str | None:
    """Take a file found while scanning ``folder``; return why it must not be read, or None.

    Not a regular file (a FIFO would block the reader forever; sockets, devices) or a symbolic link
    to a file outside ``folder`` (a scan never leaves the folder it was given).
    """
    import stat

    try:
        mode = os.stat(path).st_mode  # follows a link; never opens (a FIFO does not block here)
    except OSError as error:
        return f"cannot be read ({error.strerror or error})"
    if not stat.S_ISREG(mode):
        kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
                else "a device" if stat.S_ISBLK(mode) or stat.S_ISCHR(mode) else "not a file")
        return f"not a regular file ({kind}); skipped"
    if os.path.islink(path) and not is_inside(path, folder):
        return "symbolic link to a file outside the folder; skipped"
    return None


class LockedError(OSError):
    """Another process holds the advisory lock (a case or a session file open elsewhere)."""


#: How long a second writer waits for a lock before it gives up (s).
LOCK_WAIT_SECONDS = 5.0


@contextlib.contextmanager
def advisory_lock(lock_path: str | os.PathLike, busy_message: str, wait_s: float | None = None):
    """Hold an exclusive advisory lock (fcntl.flock) on ``lock_path`` (created if absent) for the
    ``with`` block. Waits up to ``wait_s`` (default LOCK_WAIT_SECONDS), then raises LockedError with
    ``busy_message``. The lock goes with the process (a killed writer never leaves it held). Where
    fcntl does not exist (Windows) the block runs unlocked."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    import time

    deadline = time.monotonic() + (LOCK_WAIT_SECONDS if wait_s is None else wait_s)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockedError(busy_message) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed (JSON has no {name})")


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > 308:  # beyond any float: 10**400 would overflow every later computation
        raise ValueError(f"the number {text[:12]}... ({len(text)} digits) is too large")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:24]} is too large (beyond a 64-bit float)")
    return value


def read_json(path: str | os.PathLike, error: type[Exception], what: str = "JSON file") -> Any:
    """Take a file path, the exception type to raise and what the file should be ("case JSON file");
    return the parsed JSON. Raises ``error`` naming the file for a missing or unreadable file, a
    folder, bad UTF-8, bad JSON (with line and column) and NaN/Infinity, which JSON does not have."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder, not a {what}") from None
    except OSError as failure:
        raise error(f"{path}: cannot read: {failure.strerror or failure}") from failure
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as failure:
        raise error(f"{path}: not UTF-8 text (byte {failure.start})") from None
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int, parse_float=_parse_float)
    except json.JSONDecodeError as failure:
        raise error(f"{path}: not valid JSON at line {failure.lineno}, column {failure.colno}: "
                    f"{failure.msg}") from None
    except ValueError as failure:
        raise error(f"{path}: {failure}") from None
    except RecursionError:
        raise error(f"{path}: JSON nested too deeply to read") from None


def _default_mode() -> int:
    """Return the mode a new file gets (0o666 minus the process umask), without changing the umask."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o022)  # no /proc: read it the only portable way (briefly sets it)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_folder(folder: Path) -> None:
    if os.name == "nt":  # Windows cannot open a folder for fsync; os.replace is durable enough there
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOTSUP):  # some file systems cannot fsync folders
            raise
    finally:
        os.close(fd)


#: A temp file whose writer's process id cannot be told (an older version's name) is stale after this (s).
STALE_TEMP_SECONDS = 600.0


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False
    return False


def remove_stale_temp_files(target: str | os.PathLike) -> list[Path]:
    """Take a file about to be written; remove the ``.<name>.<pid>.*.tmp`` files that killed writes to
    it left beside it (they may hold patient data): those whose process is gone, or older than
    STALE_TEMP_SECONDS when the name holds no process id. Returns the paths removed."""
    import time

    target = Path(target)
    prefix = f".{target.name}."
    removed = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    for entry in entries:
        if not (entry.name.startswith(prefix) and entry.name.endswith(".tmp")) or entry.is_symlink():
            continue
        pid_text = entry.name[len(prefix):].split(".", 1)[0]
        try:
            stale = _process_gone(int(pid_text)) if pid_text.isdigit() and int(pid_text) != os.getpid() else (
                not pid_text.isdigit() and time.time() - entry.stat().st_mtime > STALE_TEMP_SECONDS)
            if stale:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def refuse_links(path: str | os.PathLike, within: str | os.PathLike) -> None:
    """Take a path and the folder it belongs to; raise FileWriteError when ``path`` or any folder
    between ``within`` and it is a symbolic link (a link there could lead reads or writes outside)."""
    root = Path(os.path.abspath(within))
    current = Path(os.path.abspath(path))
    while current != root and root in current.parents:
        if os.path.islink(current):
            raise FileWriteError(f"{current}: is a symbolic link inside {root}; ISCMAssist does not read or "
                                 f"write through links there (replace it with a real folder or file)")
        current = current.parent


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Take a file path and bytes; replace the file's content with them atomically (see module doc).

    A symbolic link is never written through: it is refused (FileWriteError), so a link planted in a
    session or report folder cannot send a write elsewhere. A new file gets the usual mode (0666 minus
    umask); an existing file keeps its mode. Stale temporary files of earlier writes to the same
    file that were killed (their process is gone) are removed first. Raises FileWriteError (an OSError)
    naming the path.
    """
    target = Path(os.path.abspath(os.fspath(path)))
    if os.path.islink(target):
        raise FileWriteError(f"{path}: is a symbolic link; not written through (remove the link, or write elsewhere)")
    folder = target.parent
    remove_stale_temp_files(target)
    try:
        mode = os.stat(target).st_mode & 0o7777
    except FileNotFoundError:
        mode = _default_mode()
    except OSError as error:
        raise FileWriteError(f"{path}: cannot write: {error.strerror or error}") from error
    try:
        fd, temp_name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp")
    except OSError as error:
        reason = "folder does not exist" if isinstance(error, FileNotFoundError) else (error.strerror or str(error))
        raise FileWriteError(f"{path}: cannot write: {reason}") from error
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, target)
    except BaseException as error:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        if isinstance(error, OSError) and not isinstance(error, FileWriteError):
            raise FileWriteError(f"{path}: cannot write: {error.strerror or error}") from error
        raise
    try:
        _fsync_folder(folder)
    except OSError as error:
        raise FileWriteError(f"{path}: written, but the folder could not be synced: {error.strerror or error}") from error


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Take a file path and text; write it atomically in ``encoding`` (UTF-8), newlines unchanged.

    Raises FileWriteError (an OSError) naming the path; a text that cannot be encoded raises
    FileWriteError too, before anything is written.
    """
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError as error:
        raise FileWriteError(f"{path}: cannot write: text cannot be encoded as {encoding} ({error.reason})") from error
    atomic_write_bytes(path, data)
