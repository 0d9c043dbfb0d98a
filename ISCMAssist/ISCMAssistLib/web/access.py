"""Who may use the web panel and which files it hands out.

- Bound to 127.0.0.1 only the local user can connect; any other host needs a password (read from a
  file, never from the command line where ``ps`` shows it). The password is asked once on a login
  page; the browser then holds a random session cookie (HttpOnly, SameSite=Strict) that every page,
  file and the websocket must carry.
- Downloads come only from the folders the panel was started on (its output folder): a path is
  resolved (symlinks and ``..`` included) and refused unless it stays inside one of them.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import secrets
from pathlib import Path
from typing import Any, Iterable

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
COOKIE_NAME = "iscm_assist_session"
DOWNLOAD_PREFIX = "/iscm-files/"


class AccessError(ValueError):
    """A host without a password, an unreadable or empty password file; the message names it."""


def read_password_file(path: str | Path) -> str:
    """Return the password in the file's first line. Raises AccessError naming the file when it is
    missing, unreadable or empty."""
    path = Path(path)
    try:
        first = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise AccessError(f"{path}: cannot read the password file ({error})") from None
    password = first[0].strip() if first else ""
    if not password:
        raise AccessError(f"{path}: the password file is empty")
    return password


def check_host(host: str, password: str | None) -> str | None:
    """Return a warning for a host other than loopback (None on loopback). Raises AccessError when such
    a host is asked for without a password."""
    if host in LOOPBACK_HOSTS:
        return None
    if not password:
        raise AccessError(f"--host {host}: other computers could open the panel; give --password-file "
                          "(or keep the default 127.0.0.1)")
    return (f"warning: the panel listens on {host}: anyone on that network who has the password can read "
            "and change the reads; use it only on the reading room's network, behind its firewall")


def inside(path: str | Path, roots: Iterable[str | Path]) -> Path | None:
    """Return ``path`` resolved (symlinks followed) when it lies inside one of ``roots``, else None."""
    try:
        resolved = Path(path).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    for root in roots:
        try:
            resolved.relative_to(Path(root).resolve())
            return resolved
        except (ValueError, OSError):
            continue
    return None


class Gate:
    """The login and download routes and the middleware that checks every request."""

    def __init__(self, password: str | None, download_root: Path) -> None:
        self.password = password
        self.download_root = Path(download_root)
        self._token = secrets.token_urlsafe(32)

    def download_url(self, path: str | Path) -> str | None:
        """Return the panel's URL of a file in the download folder, or None when it lies outside."""
        resolved = inside(path, [self.download_root])
        if resolved is None:
            return None
        return DOWNLOAD_PREFIX + resolved.relative_to(self.download_root.resolve()).as_posix()

    def install(self, aiohttp_app: Any) -> None:
        """Add the middleware and the /login and download routes to trame's aiohttp application."""
        aiohttp_app.middlewares.append(self._middleware)
        aiohttp_app.router.add_get("/login", self._login_page)
        aiohttp_app.router.add_post("/login", self._login)
        aiohttp_app.router.add_get(DOWNLOAD_PREFIX + "{path:.+}", self._download)

    def _authorised(self, request: Any) -> bool:
        if not self.password:
            return True
        return hmac.compare_digest(request.cookies.get(COOKIE_NAME, ""), self._token)

    @property
    def _middleware(self):
        from aiohttp import web

        @web.middleware
        async def check(request, handler):
            if request.path == "/login" or self._authorised(request):
                return await handler(request)
            if request.method == "GET" and request.path in ("/", "/index.html"):
                raise web.HTTPFound("/login")
            raise web.HTTPUnauthorized(text="log in first: /login")

        return check

    async def _login_page(self, request: Any, failed: bool = False) -> Any:
        from aiohttp import web

        note = "<p style='color:#e57373'>Wrong password.</p>" if failed else ""
        body = (f"<!doctype html><title>ISCMAssist: log in</title><body style='font-family:sans-serif;"
                f"background:#222;color:#eee;padding:3em'><h2>ISCMAssist web panel</h2>"
                f"<p>For research use only; not a diagnostic device.</p>{note}"
                f"<form method='post' action='/login'><input type='password' name='password' "
                f"autofocus placeholder='password'> <button type='submit'>Log in</button></form>")
        return web.Response(text=body, content_type="text/html", status=401 if failed else 200)

    async def _login(self, request: Any) -> Any:
        from aiohttp import web

        form = await request.post()
        given = str(form.get("password", ""))
        if not self.password or not hmac.compare_digest(given.encode(), self.password.encode()):
            await asyncio.sleep(0.5)  # slows guessing
            return await self._login_page(request, failed=True)
        response = web.HTTPFound("/index.html")
        response.set_cookie(COOKIE_NAME, self._token, httponly=True, samesite="Strict")
        raise response

    async def _download(self, request: Any) -> Any:
        from aiohttp import web

        relative = request.match_info["path"]
        resolved = inside(self.download_root / relative, [self.download_root])
        if resolved is None or not resolved.is_file():
            raise web.HTTPNotFound(text=f"{html.escape(relative)}: not a file of this panel")
        return web.FileResponse(resolved, headers={
            "Content-Disposition": f'attachment; filename="{resolved.name}"'})
