"""DIMSE (C-ECHO, C-FIND, C-GET, C-MOVE, C-STORE) through ``pynetdicom``.

Each function takes a checked ServerConfig with ``dimse`` set and raises PacsError with one line
for an unreachable peer, a refused or aborted association, or a failed request. Retrieved
instances are written as received (records.instance_path), without decoding their pixels.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .config import ServerConfig, is_loopback
from .errors import PacsError
from .records import (INSTANCE_FIELDS, SERIES_FIELDS, STUDY_FIELDS, RetrieveResult, StoreResult, instance_path,
                      series_to_retrieve)

Progress = Callable[[int, int], None]
COMPREHENSIVE_3D_SR = "1.2.840.10008.5.1.4.1.1.88.34"
#: Storage classes offered for C-GET when the PACS does not say which SOP classes a study holds.
_USUAL_STORAGE = ("MRImageStorage", "EnhancedMRImageStorage", "CTImageStorage", "EnhancedCTImageStorage",
                  "SecondaryCaptureImageStorage", "Comprehensive3DSRStorage", "ComprehensiveSRStorage",
                  "EnhancedSRStorage", "BasicTextSRStorage", "GrayscaleSoftcopyPresentationStateStorage",
                  "SegmentationStorage", "MultiFrameGrayscaleWordSecondaryCaptureImageStorage")
_MAX_CONTEXTS = 128
_MAX_PDU_BYTES = 4 * 2**20


def _ae(config: ServerConfig):
    from pynetdicom import AE

    ae = AE(ae_title=config.calling_aet)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = config.timeout_s
    ae.connection_timeout = config.timeout_s
    ae.maximum_pdu_size = _MAX_PDU_BYTES  # large PDUs: far fewer fragments to reassemble in Python
    return ae


def _user_identity(config: ServerConfig) -> list:
    if not config.user:
        return []
    from pynetdicom.pdu_primitives import UserIdentityNegotiation

    item = UserIdentityNegotiation()
    item.user_identity_type = 2  # username and passcode
    item.primary_field = config.user.encode("utf-8")
    item.secondary_field = (config.password() or "").encode("utf-8")
    return [item]


@contextlib.contextmanager
def association(config: ServerConfig, ae: Any, what: str, ext_neg: list | None = None,
                evt_handlers: list | None = None) -> Iterator[Any]:
    """Open an association with the peer of ``config`` on ``ae``, yield it, always release it.

    Raises PacsError "<what>: ..." when the peer cannot be reached, refuses or aborts the association.
    """
    host, port = config.host_port()
    try:
        socket.create_connection((host, port), timeout=config.timeout_s).close()
    except OSError as error:
        reason = "timed out" if isinstance(error, socket.timeout) else (error.strerror or type(error).__name__)
        raise PacsError(f"{what}: cannot reach {host}:{port} ({reason.lower()})") from None
    assoc = ae.associate(host, port, ae_title=config.called_aet, ext_neg=(ext_neg or []) + _user_identity(config),
                         evt_handlers=evt_handlers or [])
    if not assoc.is_established:
        if assoc.is_rejected:
            raise PacsError(f"{what}: {config.where} refused the association (are the called AE title "
                            f"and our AE title {config.calling_aet!r} known to the PACS?)")
        raise PacsError(f"{what}: {config.where} aborted the association (is it a DICOM port?)")
    try:
        yield assoc
    finally:
        if assoc.is_established:
            assoc.release()


def _check_status(status: Any, what: str, where: str) -> int:
    """Return the status code of a DIMSE response; raise PacsError when there is none (timeout/abort)."""
    if status is None or "Status" not in status:
        raise PacsError(f"{what}: no answer from {where} (timed out or aborted)")
    return int(status.Status)


def _status_text(code: int) -> str:
    from pynetdicom.status import code_to_category

    return f"status 0x{code:04X} ({code_to_category(code).lower()})"


def echo(config: ServerConfig) -> str:
    """Send a C-ECHO; return a one-line description. Raises PacsError."""
    ae = _ae(config)
    ae.add_requested_context("1.2.840.10008.1.1")
    with association(config, ae, "echo") as assoc:
        code = _check_status(assoc.send_c_echo(), "echo", config.where)
    if code != 0:
        raise PacsError(f"echo: {config.where} answered {_status_text(code)}")
    return f"DICOM peer {config.where} answered C-ECHO"


def _find(config: ServerConfig, level: str, keys: Mapping[str, Any], fields: Sequence[str]) -> list[dict[str, Any]]:
    from pydicom.dataset import Dataset
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND

    query = Dataset()
    query.QueryRetrieveLevel = level
    for keyword in fields:
        setattr(query, keyword, "")
    for keyword, value in keys.items():
        setattr(query, keyword, value)
    ae = _ae(config)
    ae.add_requested_context(FIND)
    rows: list[dict[str, Any]] = []
    with association(config, ae, "query") as assoc:
        for status, identifier in assoc.send_c_find(query, FIND):
            code = _check_status(status, "query", config.where)
            if code in (0xFF00, 0xFF01) and identifier is not None:
                rows.append({k: _plain(identifier.get(k), k) for k in fields})
            elif code != 0:
                raise PacsError(f"query: {config.where} answered {_status_text(code)}")
    return rows


def _plain(value: Any, keyword: str = "") -> Any:
    """Return a pydicom element value as JSON-ready: str, int for IS/US/UL, a list for several; '' -> None."""
    from pydicom.datadict import dictionary_VR
    from pydicom.multival import MultiValue

    if value is None or value == "":
        return None
    if isinstance(value, MultiValue):
        return [_plain(v, keyword) for v in value]
    if keyword and dictionary_VR(keyword) in ("IS", "US", "UL", "SL", "SS"):
        try:
            return int(value)
        except (TypeError, ValueError):
            return str(value)
    return str(value)


def find_studies(config: ServerConfig, filters: Mapping[str, str]) -> list[dict[str, Any]]:
    """C-FIND at STUDY level with ``filters`` {DICOM keyword: value}; return rows {keyword: value} (STUDY_FIELDS)."""
    return _find(config, "STUDY", filters, STUDY_FIELDS)


def find_series(config: ServerConfig, study_uid: str, filters: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """C-FIND at SERIES level within a study; return rows {keyword: value} (SERIES_FIELDS)."""
    return _find(config, "SERIES", {**(filters or {}), "StudyInstanceUID": study_uid}, SERIES_FIELDS)


def find_instances(config: ServerConfig, study_uid: str, series_uid: str) -> list[dict[str, Any]]:
    """C-FIND at IMAGE level within a series; return rows {keyword: value} (INSTANCE_FIELDS)."""
    return _find(config, "IMAGE", {"StudyInstanceUID": study_uid, "SeriesInstanceUID": series_uid}, INSTANCE_FIELDS)


class _Receiver:
    """The C-STORE handler of a retrieve: writes each instance as received and counts them."""

    def __init__(self, out: Path, study_uid: str, total: int, progress: Progress | None) -> None:
        self.out, self.study_uid, self.total, self.progress = out, study_uid, total, progress
        self.series_uid = ""  # the series being retrieved: instances are filed under it without decoding them
        self.files: list[Path] = []
        self.received: set[str] = set()
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, event: Any) -> int:
        try:
            path = instance_path(self.out, self.study_uid, self.series_uid, event.request.AffectedSOPInstanceUID)
            path.parent.mkdir(parents=True, exist_ok=True)
            temp = path.with_name(f".{path.name}.tmp")
            temp.write_bytes(event.encoded_dataset(include_meta=True))
            temp.replace(path)
        except Exception as error:  # answer the PACS with a failure instead of dropping the association
            with self._lock:
                self.errors.append(f"could not write {event.request.AffectedSOPInstanceUID}: {error}")
            return 0xA700
        with self._lock:
            self.files.append(path)
            self.received.add(str(event.request.AffectedSOPInstanceUID))
            if self.progress:
                self.progress(len(self.files), self.total)
        return 0x0000


def _storage_classes(config: ServerConfig, study_uid: str) -> list[str]:
    """Return the storage SOP classes to offer for a C-GET: the study's (SOPClassesInStudy, when the PACS
    gives them) and the usual ones (MR, the 3D SR...), at most 127 (one context is the C-GET's own)."""
    from pynetdicom import sop_class

    rows = _find(config, "STUDY", {"StudyInstanceUID": study_uid}, ("StudyInstanceUID", "SOPClassesInStudy"))
    found = {uid for row in rows for uid in _as_list(row.get("SOPClassesInStudy"))}
    usual = [getattr(sop_class, name) for name in _USUAL_STORAGE]
    classes = sorted(found) + [uid for uid in usual if uid not in found]
    return classes[: _MAX_CONTEXTS - 1]


def _as_list(value: Any) -> list[str]:
    return [] if value is None else [str(v) for v in (value if isinstance(value, list) else [value])]


def retrieve(config: ServerConfig, study_uid: str, series_uids: Sequence[str] | None, out: Path,
             progress: Progress | None = None) -> RetrieveResult:
    """Retrieve a study (or some of its series) into ``out``: C-MOVE to our own Storage SCP on
    ``listen_port`` when set, else C-GET. The series and their instance counts are listed first
    (C-FIND SERIES); where fewer came, C-FIND IMAGE names the missing ones. ``progress(done, total)``
    counts instances.
    """
    counts = series_to_retrieve(find_series(config, study_uid), study_uid, series_uids, config.where)
    series = list(counts)
    total = sum(counts.values())
    receiver = _Receiver(out, study_uid, total, progress)
    result = RetrieveResult(out=out, expected=total)
    classes = [] if config.listen_port is not None else _storage_classes(config, study_uid)
    for series_uid in series:
        before, receiver.series_uid = len(receiver.received), series_uid
        try:
            if config.listen_port is not None:
                _move(config, study_uid, series_uid, receiver)
            else:
                _get(config, study_uid, series_uid, classes, receiver)
            failed = False
        except PacsError as error:
            result.errors.append(str(error))
            failed = True
        if failed or len(receiver.received) - before < counts[series_uid]:
            result.note_missing(series_uid, counts[series_uid], receiver.received,
                                lambda uid=series_uid: find_instances(config, study_uid, uid))
    result.files, result.errors = receiver.files, result.errors + receiver.errors
    return result


def _series_query(study_uid: str, series_uid: str):
    from pydicom.dataset import Dataset

    query = Dataset()
    query.QueryRetrieveLevel = "SERIES"
    query.StudyInstanceUID = study_uid
    query.SeriesInstanceUID = series_uid
    return query


def _final_status(responses: Any, what: str, where: str) -> None:
    last = None
    for status, _ in responses:
        code = _check_status(status, what, where)
        last = (code, status)
    if last is None:
        raise PacsError(f"{what}: no answer from {where}")
    code, status = last
    if code not in (0x0000, 0xB000):  # B000: some sub-operations failed: reported as missing instances
        raise PacsError(f"{what}: {where} answered {_status_text(code)}")


def _get(config: ServerConfig, study_uid: str, series_uid: str, classes: Sequence[str], receiver: _Receiver) -> None:
    from pynetdicom import ALL_TRANSFER_SYNTAXES, build_role, evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as GET

    ae = _ae(config)
    ae.add_requested_context(GET)
    for uid in classes:  # each storage class (the 3D SR's too) gets its own context and the SCP role
        ae.add_requested_context(uid, ALL_TRANSFER_SYNTAXES)
    roles = [build_role(uid, scp_role=True) for uid in classes]
    what = f"retrieve series {series_uid}"
    with association(config, ae, what, ext_neg=roles, evt_handlers=[(evt.EVT_C_STORE, receiver)]) as assoc:
        _final_status(assoc.send_c_get(_series_query(study_uid, series_uid), GET), what, config.where)


def _move(config: ServerConfig, study_uid: str, series_uid: str, receiver: _Receiver) -> None:
    from pynetdicom import ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove as MOVE

    ae = _ae(config)
    ae.add_requested_context(MOVE)
    for context in AllStoragePresentationContexts:  # our Storage SCP takes any storage class, as stored
        ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    host, _ = config.host_port()
    bind = "127.0.0.1" if is_loopback(host) else ""
    what = f"retrieve series {series_uid}"
    try:
        server = ae.start_server((bind, config.listen_port), block=False, evt_handlers=[(evt.EVT_C_STORE, receiver)])
    except OSError as error:
        raise PacsError(f"{what}: cannot listen on port {config.listen_port} ({error.strerror or error})") from None
    try:
        with association(config, ae, what) as assoc:
            responses = assoc.send_c_move(_series_query(study_uid, series_uid), config.calling_aet, MOVE)
            _final_status(responses, what, config.where)
    finally:
        server.shutdown()


def store(config: ServerConfig, datasets: Sequence[tuple[Path, Any]], progress: Progress | None = None) -> StoreResult:
    """C-STORE the (file, pydicom Dataset) pairs on one association; return which were stored and which failed why.

    Each SOP class (Comprehensive 3D SR included) gets its own presentation context in the
    transfer syntax of its files; a file whose context the peer refused fails with that reason.
    """
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

    syntaxes: dict[str, set[str]] = {}
    for _, ds in datasets:
        syntaxes.setdefault(str(ds.SOPClassUID), set()).add(str(ds.file_meta.TransferSyntaxUID))
    if len(syntaxes) > _MAX_CONTEXTS:
        raise PacsError(f"store: {len(syntaxes)} SOP classes in one call; at most {_MAX_CONTEXTS}")
    ae = _ae(config)
    for uid, found in syntaxes.items():
        ae.add_requested_context(uid, sorted(found | {ExplicitVRLittleEndian, ImplicitVRLittleEndian}))
    result = StoreResult()
    with association(config, ae, "store") as assoc:
        accepted = {cx.abstract_syntax for cx in assoc.accepted_contexts}
        for done, (path, ds) in enumerate(datasets, start=1):
            if str(ds.SOPClassUID) not in accepted:
                result.failed.append((str(path), f"{config.where} does not accept SOP class {ds.SOPClassUID}"))
            else:
                status = assoc.send_c_store(ds)
                code = int(status.Status) if status is not None and "Status" in status else None
                if code is None:
                    result.failed.append((str(path), f"no answer from {config.where}"))
                elif code == 0 or code in (0xB000, 0xB006, 0xB007):
                    result.stored.append(str(ds.SOPInstanceUID))
                else:
                    result.failed.append((str(path), f"refused: {_status_text(code)}"))
            if progress:
                progress(done, len(datasets))
    return result
