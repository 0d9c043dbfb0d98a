"""Who may open the web panel and which files it serves: loopback by default, a password for any
other host, downloads only from the panel's own folders."""

from __future__ import annotations

import http.client
import subprocess
import sys
import urllib.parse

import pytest

from ISCMAssistLib.web.access import AccessError, check_host, inside, read_password_file

from web_panel_server import require_web_tools, start_panel, stop_panel


def test_loopback_needs_no_password_and_other_hosts_do(tmp_path):
    assert check_host("127.0.0.1", None) is None
    with pytest.raises(AccessError, match="--password-file"):
        check_host("0.0.0.0", None)
    assert "warning" in check_host("0.0.0.0", "secret")


def test_password_file_errors_name_the_file(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    with pytest.raises(AccessError, match="empty.txt: the password file is empty"):
        read_password_file(empty)
    with pytest.raises(AccessError, match="absent.txt: cannot read"):
        read_password_file(tmp_path / "absent.txt")
    good = tmp_path / "pw.txt"
    good.write_text("s3cret word\nignored\n")
    assert read_password_file(good) == "s3cret word"


def test_inside_refuses_traversal_and_symlinks_out(tmp_path):
    root = tmp_path / "out"
    (root / "exports").mkdir(parents=True)
    (root / "exports" / "a.csv").write_text("x")
    (tmp_path / "secret.txt").write_text("x")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    assert inside(root / "exports" / "a.csv", [root]) is not None
    assert inside(root / ".." / "secret.txt", [root]) is None
    assert inside(root / "link.txt", [root]) is None
    assert inside(root / "missing.csv", [root]) is None


def test_cli_refuses_another_host_without_password(tmp_path):
    result = subprocess.run([sys.executable, "-m", "ISCMAssistLib.cli", "web", "--demo", "--host", "0.0.0.0",
                             "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "--password-file" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def guarded_panel(tmp_path_factory):
    """The demo panel behind a password (on loopback, so nothing leaves this machine)."""
    require_web_tools()
    folder = tmp_path_factory.mktemp("guarded")
    password = folder / "password.txt"
    password.write_text("correct horse\n")
    server = start_panel(["--demo", "--password-file", str(password)], folder / "out")
    (server.out / "exports").mkdir(exist_ok=True)
    (server.out / "exports" / "note.csv").write_text("a,b\n")
    try:
        yield server
    finally:
        stop_panel(server)


def _request(server, method: str, path: str, body: str | None = None, cookie: str | None = None):
    host, port = urllib.parse.urlsplit(server.url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
    if cookie:
        headers["Cookie"] = cookie
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_password_gate(guarded_panel):
    assert _request(guarded_panel, "GET", "/index.html").status == 302
    assert _request(guarded_panel, "GET", "/iscm-files/exports/note.csv").status == 401
    assert _request(guarded_panel, "POST", "/login", "password=wrong").status == 401
    login = _request(guarded_panel, "POST", "/login", "password=correct+horse")
    assert login.status == 302
    cookie = login.getheader("Set-Cookie").split(";")[0]
    assert "HttpOnly" in login.getheader("Set-Cookie")
    assert _request(guarded_panel, "GET", "/index.html", cookie=cookie).status == 200
    assert _request(guarded_panel, "GET", "/iscm-files/exports/note.csv", cookie=cookie).status == 200
    for escape in ("/iscm-files/%2e%2e/%2e%2e/etc/passwd", "/iscm-files/..%2f..%2fetc/passwd",
                   "/iscm-files/demo/../../../etc/hostname"):
        assert _request(guarded_panel, "GET", escape, cookie=cookie).status in (403, 404), escape


def test_password_login_in_the_browser(guarded_panel, browser):
    tab = browser.new_page()
    try:
        tab.goto(guarded_panel.url + "/index.html")
        tab.fill("input[name=password]", "correct horse")
        tab.click("button[type=submit]")
        tab.wait_for_selector("#lesion-table tr:nth-child(2)", timeout=60_000)
        assert "T4-T5" in tab.inner_text("#lesion-table")
    finally:
        tab.close()


@pytest.mark.parametrize("args, message", [
    ([], "give one of EXAM_FOLDER, --session DIR --reader NAME, --demo or --pacs URL --study UID"),
    (["--session", "somewhere"], "--session and --reader go together"),
    (["--pacs", "http://127.0.0.1:1/dicom-web"], "--pacs and --study go together"),
])
def test_cli_says_what_to_open(args, message):
    result = subprocess.run([sys.executable, "-m", "ISCMAssistLib.cli", "web", *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and message in result.stderr
