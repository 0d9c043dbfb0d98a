"""Server settings without a server: what is accepted, what is refused, and that no password is kept."""

from __future__ import annotations

import json

import pytest

from ISCMAssistLib.pacs import PacsError, ServerConfig, check_server, load_server_file, save_server_file
from ISCMAssistLib.pacs.config import is_loopback
from ISCMAssistLib.pacs.records import instance_path, safe_uid
from ISCMAssistLib.pacs.session_cache import parse_reference


def test_server_file_round_trip_without_password(tmp_path, monkeypatch):
    (tmp_path / "secret").write_text("s3cret\n")
    path = tmp_path / "server.json"
    save_server_file(path, ServerConfig(url="https://pacs.example.org/dicom-web", user="reader",
                                        password_file=str(tmp_path / "secret")))
    assert "s3cret" not in path.read_text()
    config = load_server_file(path)
    assert config.password() == "s3cret" and "s3cret" not in repr(config)
    path.write_text(json.dumps({"dimse": "127.0.0.1:4242", "called_aet": "ORTHANC", "user": "r",
                                "password_file": "secret"}))
    assert load_server_file(path).password() == "s3cret"  # relative to the server file's folder


@pytest.mark.parametrize("content, message", [
    ({"url": "http://127.0.0.1/dicom-web", "password": "x"}, "holds a password"),
    ({"url": "http://127.0.0.1/dicom-web", "colour": "red"}, r"unknown key\(s\) colour"),
    ({"dimse": "127.0.0.1:4242"}, "--dimse needs --called-aet"),
    ({"dimse": "127.0.0.1", "called_aet": "X"}, "expected HOST:PORT"),
    ({"url": "http://127.0.0.1/x", "dimse": "127.0.0.1:1", "called_aet": "X"}, "exactly one server"),
    ({"dimse": "127.0.0.1:1", "called_aet": "A" * 17}, "1-16 characters"),
])
def test_bad_server_files_name_the_file_and_the_problem(tmp_path, content, message):
    path = tmp_path / "server.json"
    path.write_text(json.dumps(content))
    with pytest.raises(PacsError, match=message) as error:
        load_server_file(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    path.write_text("{not json")
    with pytest.raises(PacsError, match="not valid JSON"):
        load_server_file(path)


def test_credentials_and_transport_rules(monkeypatch):
    with pytest.raises(PacsError, match="must not hold credentials"):
        check_server(ServerConfig(url="https://user:pw@pacs.example.org/dicom-web"))
    with pytest.raises(PacsError, match="unencrypted; use https, or --insecure"):
        check_server(ServerConfig(url="http://192.0.2.7/dicom-web"))
    assert check_server(ServerConfig(url="http://localhost:8042/dicom-web")).warnings == []
    monkeypatch.delenv("ISCM_PACS_PASSWORD", raising=False)
    with pytest.raises(PacsError, match="no password; set ISCM_PACS_PASSWORD"):
        ServerConfig(url="http://localhost/x", user="r").password()
    monkeypatch.setenv("ISCM_PACS_PASSWORD", "pw")
    assert ServerConfig(url="http://localhost/x", user="r").password() == "pw"
    assert ServerConfig(url="http://localhost/x").password() is None


def test_loopback():
    assert all(is_loopback(h) for h in ("localhost", "127.0.0.1", "127.5.6.7", "::1", "[::1]"))
    assert not any(is_loopback(h) for h in ("192.0.2.1", "10.0.0.1", "2001:db8::1"))  # no name lookups here


def test_names_from_the_server_cannot_leave_the_folder(tmp_path):
    assert safe_uid("1.2.3") == "1.2.3"
    for bad in ("../../etc", "1.2/3", "", "1." * 40):
        assert safe_uid(bad).startswith("unnamed-")
    path = instance_path(tmp_path, "../..", "1.2", "../../x")
    assert path.resolve().is_relative_to(tmp_path.resolve())


def test_session_references():
    assert parse_reference("pacs:1.2.3") == ("1.2.3", None)
    assert parse_reference("pacs:1.2.3/4.5") == ("1.2.3", "4.5")
    for bad in ("pacs:", "pacs:1.2/../x", "pacs:1/2/3", "pacs:abc"):
        with pytest.raises(PacsError, match="expected pacs:STUDY_UID"):
            parse_reference(bad)
