"""Which PACS to talk to and how: a DICOMweb root URL or a DIMSE peer, credentials and TLS.

A ``ServerConfig`` comes from the command line (``from_options``) or from a JSON server file
(``load_server_file``: the Slicer module's settings and a research session's ``pacs.json``). The
password never travels in either: it is read, when needed, from the environment variable
``ISCM_PACS_PASSWORD`` or from a password file, and it is kept out of ``repr`` and every message.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import PacsError

PASSWORD_ENV = "ISCM_PACS_PASSWORD"
DEFAULT_CALLING_AET = "ISCMASSIST"
_SERVER_KEYS = {"url", "dimse", "called_aet", "calling_aet", "listen_port", "user", "password_file",
                "ca_file", "insecure", "timeout_s"}


@dataclass
class ServerConfig:
    """One PACS: either ``url`` (DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web) or ``dimse``.

    dimse is "HOST:PORT" with ``called_aet`` (the PACS's AE title) and ``calling_aet`` (ours);
    ``listen_port`` is our own Storage SCP's port for C-MOVE (C-GET needs none). ``user`` with the
    password from ``password_file`` or ISCM_PACS_PASSWORD (DICOMweb: HTTP basic auth; DIMSE: user
    identity negotiation). ``ca_file`` verifies https; ``insecure`` allows plain http off loopback.
    ``timeout_s`` bounds connecting and each network read (seconds).
    """

    url: str | None = None
    dimse: str | None = None
    called_aet: str | None = None
    calling_aet: str = DEFAULT_CALLING_AET
    listen_port: int | None = None
    user: str | None = None
    password_file: str | None = None
    ca_file: str | None = None
    insecure: bool = False
    timeout_s: float = 30.0
    warnings: list[str] = field(default_factory=list, repr=False, compare=False)

    @property
    def kind(self) -> str:
        """Return "dicomweb" or "dimse"."""
        return "dicomweb" if self.url else "dimse"

    @property
    def where(self) -> str:
        """Return the server as shown in messages (the URL, or AET@HOST:PORT); never a credential."""
        return self.url or f"{self.called_aet}@{self.dimse}"

    def host_port(self) -> tuple[str, int]:
        """Return the DIMSE peer as (host, port); raises PacsError for a malformed HOST:PORT."""
        host, _, port = (self.dimse or "").rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise PacsError(f"--dimse {self.dimse!r}: expected HOST:PORT, e.g. 127.0.0.1:4242")
        return host.strip("[]"), int(port)

    def password(self) -> str | None:
        """Return the password (from ``password_file``, else ISCM_PACS_PASSWORD), or None without a user.

        Raises PacsError when a user is set and neither gives a password, or the file cannot be read.
        """
        if not self.user:
            return None
        if self.password_file:
            path = Path(self.password_file).expanduser()
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise PacsError(f"--password-file {path}: cannot read it ({getattr(error, 'strerror', None) or error})") from None
            return text.splitlines()[0] if text else ""  # the first line
        value = os.environ.get(PASSWORD_ENV)
        if value is None:
            raise PacsError(f"--user {self.user}: no password; set {PASSWORD_ENV} or give --password-file")
        return value

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a JSON-ready dict (what ``load_server_file`` reads; no password)."""
        data = asdict(self)
        data.pop("warnings")
        return {key: value for key, value in data.items() if value not in (None, False)}


def is_loopback(host: str) -> bool:
    """Return whether ``host`` (a name or an address) is this machine's loopback (127.0.0.0/8, ::1)."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def check_server(config: ServerConfig) -> ServerConfig:
    """Check a ServerConfig for use; return it with ``warnings`` filled (e.g. plain http allowed off loopback).

    Exactly one of url / dimse; dimse needs called_aet; a URL must be http(s) without credentials in
    it; plain http to a host that is not loopback needs ``insecure``; ca_file must exist. Raises PacsError.
    """
    if bool(config.url) == bool(config.dimse):
        raise PacsError("give exactly one server: --url DICOMWEB_ROOT or --dimse HOST:PORT")
    if config.ca_file and not Path(config.ca_file).expanduser().is_file():
        raise PacsError(f"--ca-file {config.ca_file}: no such file")
    if config.dimse:
        config.host_port()
        if not config.called_aet:
            raise PacsError("--dimse needs --called-aet (the PACS's AE title)")
        for name, aet in (("--called-aet", config.called_aet), ("--calling-aet", config.calling_aet)):
            if not 0 < len(aet.strip()) <= 16 or "\\" in aet:
                raise PacsError(f"{name} {aet!r}: an AE title has 1-16 characters and no backslash")
        return config
    parts = urlsplit(config.url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PacsError(f"--url {config.url!r}: expected http(s)://HOST[:PORT]/DICOMWEB_ROOT")
    if parts.username or parts.password:
        raise PacsError("--url must not hold credentials: give --user, and the password in "
                        f"{PASSWORD_ENV} or --password-file")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        if not config.insecure:
            raise PacsError(f"--url {config.url}: plain http to {parts.hostname}, which is not this machine, "
                            "would send images and credentials unencrypted; use https, or --insecure")
        config.warnings.append(f"plain http to {parts.hostname}: images and credentials travel unencrypted")
    return config


def load_server_file(path: str | os.PathLike[str]) -> ServerConfig:
    """Read a JSON server file ({"url": ...} or {"dimse": ..., "called_aet": ...}, optional user,
    password_file, ca_file, insecure, calling_aet, listen_port, timeout_s); return a checked ServerConfig.

    A relative password_file or ca_file is taken relative to the file's folder. Raises PacsError
    naming the file for bad JSON, an unknown key or a "password" key (passwords stay out of files).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise PacsError(f"server file {path}: cannot read it ({error.strerror or error})") from None
    except ValueError as error:
        raise PacsError(f"server file {path}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise PacsError(f"server file {path}: expected a JSON object")
    if "password" in data:
        raise PacsError(f"server file {path}: holds a password; put it in {PASSWORD_ENV} or a password_file")
    unknown = sorted(set(data) - _SERVER_KEYS)
    if unknown:
        raise PacsError(f"server file {path}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_SERVER_KEYS))})")
    for key in ("password_file", "ca_file"):
        if data.get(key) and not Path(data[key]).expanduser().is_absolute():
            data[key] = str(path.parent / data[key])
    try:
        config = ServerConfig(**data)
    except TypeError as error:
        raise PacsError(f"server file {path}: {error}") from None
    try:
        return check_server(config)
    except PacsError as error:
        raise PacsError(f"server file {path}: {error}") from None


def save_server_file(path: str | os.PathLike[str], config: ServerConfig) -> None:
    """Write a checked ServerConfig to a JSON server file (atomically; never a password), e.g. the
    Slicer module's configured server or a research session's pacs.json."""
    from ..files import atomic_write_text

    atomic_write_text(path, json.dumps(check_server(config).to_dict(), indent=2) + "\n")
