"""DICOMweb (QIDO-RS, WADO-RS, STOW-RS) through the ``dicomweb-client`` package.

Each function takes a checked ServerConfig (config.check_server) and raises PacsError with one
line for an unreachable server, refused credentials, a TLS failure or an HTTP error.
"""

from __future__ import annotations

import contextlib
import io
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .config import ServerConfig
from .errors import PacsError
from .records import (SERIES_FIELDS, STUDY_FIELDS, RetrieveResult, StoreResult, series_to_retrieve, write_instance,
                      write_part10)

Progress = Callable[[int, int], None]
#: Ask for every instance in the transfer syntax it is stored in (no transcoding on the server).
_AS_STORED = (("application/dicom", "*"),)
_ACCEPT_AS_STORED = 'multipart/related; type="application/dicom"; transfer-syntax=*'
_STOW_BATCH_BYTES = 64 * 2**20
_WRITES_IN_FLIGHT = 8  # instances held in memory while the writer catches up


def _session(config: ServerConfig):
    """Return a requests.Session with the server's basic auth and CA file."""
    import requests

    class Session(requests.Session):
        """requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's CA: --ca-file wins here."""

        def merge_environment_settings(self, url, proxies, stream, verify, cert):
            settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
            if config.ca_file:
                settings["verify"] = str(Path(config.ca_file).expanduser())
            return settings

    session = Session()
    if config.user:
        session.auth = (config.user, config.password() or "")
    return session


def client(config: ServerConfig, session: Any = None):
    """Return a dicomweb_client.DICOMwebClient for ``config`` (basic auth, CA file, timeout; no retries)."""
    from dicomweb_client.api import DICOMwebClient

    web = DICOMwebClient(url=config.url.rstrip("/"), session=session or _session(config), timeout=config.timeout_s)
    web.set_http_retry_params(retry=False)
    return web


def _reason(error: Exception) -> str:
    text = str(error)
    for needle, reason in (("Connection refused", "connection refused"), ("timed out", "timed out"),
                           ("Name or service not known", "host name not found"),
                           ("No route to host", "no route to host"), ("Network is unreachable", "network unreachable")):
        if needle in text:
            return reason
    return type(error).__name__


@contextlib.contextmanager
def http_errors(config: ServerConfig, what: str) -> Iterator[None]:
    """Turn the requests/HTTP errors raised inside into one-line PacsErrors ("<what>: <why>")."""
    import requests

    try:
        yield
    except requests.exceptions.SSLError:
        raise PacsError(f"{what}: TLS check of {config.url} failed (untrusted certificate? give --ca-file)") from None
    except requests.exceptions.Timeout:
        raise PacsError(f"{what}: {config.url} did not answer within {config.timeout_s:g} s") from None
    except requests.exceptions.ConnectionError as error:
        raise PacsError(f"{what}: cannot reach {config.url} ({_reason(error)})") from None
    except requests.exceptions.HTTPError as error:
        status = error.response.status_code if error.response is not None else "?"
        why = {401: "the server refused the credentials", 403: "the user may not do this",
               404: "not found (is --url the DICOMweb root?)"}.get(status, "the server answered with an error")
        raise PacsError(f"{what}: {why} (HTTP {status} from {config.url})",
                        status if isinstance(status, int) else None) from None


def json_value(item: Mapping[str, Any], keyword: str) -> Any:
    """Return the value of DICOM keyword in a DICOM JSON item (one value, a list for several, None if absent)."""
    from pydicom.datadict import tag_for_keyword

    element = item.get(f"{tag_for_keyword(keyword):08X}") or {}
    values = element.get("Value") or []
    values = [v.get("Alphabetic", "") if isinstance(v, dict) else v for v in values]
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def _rows(items: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> list[dict[str, Any]]:
    return [{keyword: json_value(item, keyword) for keyword in fields} for item in items]


def echo(config: ServerConfig) -> str:
    """Check the server answers a QIDO-RS study search; return a one-line description."""
    with http_errors(config, "echo"):
        client(config).search_for_studies(limit=1)
    return f"DICOMweb at {config.url} answered a study query"


def find_studies(config: ServerConfig, filters: Mapping[str, str]) -> list[dict[str, Any]]:
    """QIDO-RS study search with ``filters`` {DICOM keyword: value}; return rows {keyword: value} (STUDY_FIELDS)."""
    with http_errors(config, "query"):
        items = client(config).search_for_studies(search_filters=dict(filters), fields=list(STUDY_FIELDS))
    return _rows(items, STUDY_FIELDS)


def find_series(config: ServerConfig, study_uid: str, filters: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """QIDO-RS series search within a study; return rows {keyword: value} (SERIES_FIELDS)."""
    with http_errors(config, "query"):
        items = client(config).search_for_series(study_instance_uid=study_uid, search_filters=dict(filters or {}),
                                                 fields=list(SERIES_FIELDS))
    rows = _rows(items, SERIES_FIELDS)
    for row in rows:
        row["StudyInstanceUID"] = row["StudyInstanceUID"] or study_uid
    return rows


def find_instances(config: ServerConfig, study_uid: str, series_uid: str) -> list[dict[str, Any]]:
    """QIDO-RS instance search within a series; return rows {SOPInstanceUID, SeriesInstanceUID}."""
    with http_errors(config, "query"):
        items = client(config).search_for_instances(study_instance_uid=study_uid, series_instance_uid=series_uid,
                                                    fields=["SOPInstanceUID"])
    rows = _rows(items, ("SOPInstanceUID", "SeriesInstanceUID"))
    for row in rows:
        row["SeriesInstanceUID"] = row["SeriesInstanceUID"] or series_uid
    return rows


def retrieve(config: ServerConfig, study_uid: str, series_uids: Sequence[str] | None, out: Path,
             progress: Progress | None = None) -> RetrieveResult:
    """WADO-RS retrieve of a study (or some of its series) into ``out`` (see records.instance_path).

    The study's series and their instance counts are listed first (QIDO-RS), then each series is
    fetched as stored and each instance written byte for byte. Where fewer instances came than
    listed, the series' instances are listed (QIDO-RS) to name the missing ones.
    ``progress(done, total)`` counts instances.
    """
    session = _session(config)
    web = client(config, session)
    counts = series_to_retrieve(find_series(config, study_uid), study_uid, series_uids, config.where)
    series = list(counts)
    result = RetrieveResult(out=out, expected=sum(counts.values()))
    # Files are written on a second thread while the next instances arrive (both mostly wait on I/O).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="iscm-retrieve-writer") as writer:
        for series_uid in series:
            received = _retrieve_series(config, web, session, writer, (study_uid, series_uid), out, result, progress)
            if len(received) < counts[series_uid]:
                result.note_missing(series_uid, counts[series_uid], received,
                                    lambda uid=series_uid: find_instances(config, study_uid, uid))
    return result


def _series_parts(config: ServerConfig, web: Any, session: Any, study_uid: str, series_uid: str) -> Iterator[Any]:
    """Yield a series' instances as received (bytes of each DICOM file, as stored on the server).

    The multipart body is split by dicomweb-client's own decoder; a version without it yields the
    pydicom Datasets of its public ``iter_series`` instead (slower: each instance parsed).
    """
    decode = getattr(web, "_decode_multipart_message", None)
    if decode is None:
        yield from web.iter_series(study_uid, series_uid, media_types=_AS_STORED)
        return
    url = f"{config.url.rstrip('/')}/studies/{study_uid}/series/{series_uid}"
    response = session.get(url, headers={"Accept": _ACCEPT_AS_STORED}, stream=True, timeout=config.timeout_s)
    response.raise_for_status()
    yield from decode(response, stream=True)


def _write_received(out: Path, study_uid: str, series_uid: str, part: Any) -> tuple[str, Path]:
    """Write one received instance (bytes, or a pydicom Dataset); return (SOPInstanceUID, path)."""
    import pydicom

    if isinstance(part, (bytes, bytearray)):
        try:
            return write_part10(out, study_uid, series_uid, bytes(part))
        except ValueError:  # not a Part 10 file: let pydicom read it and write it as one
            part = pydicom.dcmread(io.BytesIO(part), force=True)
    return str(part.SOPInstanceUID), write_instance(out, part)


def _retrieve_series(config: ServerConfig, web: Any, session: Any, writer: ThreadPoolExecutor,
                     uids: tuple[str, str], out: Path, result: RetrieveResult, progress: Progress | None) -> set[str]:
    """Fetch one series (uids = study, series) into ``out``, files and errors added to ``result``;
    return the SOPInstanceUIDs written."""
    study_uid, series_uid = uids
    received: set[str] = set()
    pending: deque[Future] = deque()

    def settle(limit: int) -> None:
        while len(pending) > limit:
            try:
                sop_uid, path = pending.popleft().result()
            except (OSError, ValueError, AttributeError) as error:
                result.errors.append(f"retrieve series {series_uid}: cannot write an instance ({error})")
                continue
            result.files.append(path)
            received.add(sop_uid)
            if progress:
                progress(len(result.files), result.expected)

    try:
        with http_errors(config, f"retrieve series {series_uid}"):
            for part in _series_parts(config, web, session, study_uid, series_uid):
                pending.append(writer.submit(_write_received, out, study_uid, series_uid, part))
                settle(_WRITES_IN_FLIGHT)
    except PacsError as error:
        result.errors.append(str(error))
    finally:
        settle(0)
    return received


def _batches(datasets: Sequence[tuple[Path, Any]]) -> Iterator[list[tuple[Path, Any]]]:
    batch: list[tuple[Path, Any]] = []
    size = 0
    for path, dataset in datasets:
        batch.append((path, dataset))
        size += path.stat().st_size
        if size >= _STOW_BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def store(config: ServerConfig, datasets: Sequence[tuple[Path, Any]], progress: Progress | None = None) -> StoreResult:
    """STOW-RS the (file, pydicom Dataset) pairs in batches; return which were stored and which failed why.

    A failed instance is one in the response's FailedSOPSequence, or any of a batch the server
    refused as a whole (the HTTP error is the reason).
    """
    web = client(config)
    result = StoreResult()
    by_uid = {str(ds.SOPInstanceUID): path for path, ds in datasets}
    done = 0
    for batch in _batches(datasets):
        try:
            with http_errors(config, "store"):
                response = web.store_instances([ds for _, ds in batch])
        except PacsError as error:
            if error.http_status in (None, 401, 403, 404):  # the server cannot be used at all: one line
                raise
            result.failed.extend((str(path), str(error)) for path, _ in batch)
        else:
            for item in response.get("FailedSOPSequence", []):
                uid = str(item.get("ReferencedSOPInstanceUID", ""))
                reason = item.get("FailureReason", "?")
                result.failed.append((str(by_uid.get(uid, uid)), f"refused by the server (failure reason {reason})"))
            failed = {path for path, _ in result.failed}
            result.stored.extend(str(ds.SOPInstanceUID) for path, ds in batch if str(path) not in failed)
        done += len(batch)
        if progress:
            progress(done, len(datasets))
    return result
