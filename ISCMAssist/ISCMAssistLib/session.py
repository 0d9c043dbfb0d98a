"""Research annotation sessions: a folder of cases read by one or more readers, resumable after a crash.
(Over 400 lines: one folder layout and the Session class's methods on it; consensus drafts are in consensus.py.)

Layout of a session folder ``DIR`` (agreement.py and cohort.py read it too; keep it exactly)::

    DIR/session.json                          name, created_at, cases (id + series), readers
    DIR/reads/<reader>/<case_id>.json         the reader's case read (case JSON, saved by case_io.save_case)
    DIR/reads/<reader>/<case_id>.state.json   {"status": "in_progress"|"done", "updated_at", "ui": {...}}
    DIR/reads/consensus/...                   a consensus read is a reader named "consensus"
    DIR/scenes/<reader>/<case_id>/            optional: the Slicer module's markups/segmentations of a read

The status of a case for a reader is "done" when its state file says so, "in_progress" when a read or a
state file exists, otherwise "unread". Every file is written atomically (temp file + fsync + rename), so a
read on disk is always a complete old or new version, whatever moment the process is killed at.

The cases CSV (UTF-8, comma separated) has the header ``case_id,role,path`` and one row per series; a case
with three series has three rows. Relative paths are taken relative to the CSV's folder. Roles are those of
the case JSON (t2_sagittal, t1_pre, t1_post, t2_axial, t1_post_axial, other).
"""

from __future__ import annotations

import contextlib
import copy
import csv
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import case as case_mod
from . import case_io, files
from .consensus import CONSENSUS_READER, Disagreement, build_consensus
from .pacs import session_cache as pacs_cache
from .progress import ProgressCallback

SESSION_SCHEMA_VERSION = "1.0.0"
SESSION_FILE = "session.json"
READS_DIR = "reads"
SCENES_DIR = "scenes"
SERIES_DIR = "series"  # DIR/series/<case_id>/<role>: links to the series, so no folder name reaches a JSON
CSV_COLUMNS = ("case_id", "role", "path")
STATUSES = ("unread", "in_progress", "done")


# Reader names and case ids become folder and file names: keep them portable.
_SAFE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(1, 10)} | {
    f"lpt{i}" for i in range(1, 10)
}



class SessionError(ValueError):
    """A session folder, cases CSV, reader name or case id that cannot be used; the message says which."""


@dataclass(frozen=True)
class SessionCase:
    """One case of a session: its id and its series as (role, path) with paths as stored (relative to DIR)."""

    case_id: str
    series: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ReaderProgress:
    """One row of the progress table: how many of a session's cases a reader has done / is reading."""

    reader: str
    done: int
    in_progress: int
    total: int

    @property
    def unread(self) -> int:
        """Cases this reader has not opened."""
        return self.total - self.done - self.in_progress

    def text(self) -> str:
        """Return e.g. "reader1: 12 of 49 read (1 in progress)"."""
        extra = f" ({self.in_progress} in progress)" if self.in_progress else ""
        return f"{self.reader}: {self.done} of {self.total} read{extra}"


@dataclass(frozen=True)
class OpenCase:
    """What the panel needs to show a case: its series to load, the read to restore and where the reader was.

    case_id; series: (role, absolute path) in CSV order; case: the saved read or a new one (case dict);
    ui: the UI state saved with the last autosave ({} if none); status: "unread", "in_progress" or "done".
    """

    case_id: str
    series: list[tuple[str, Path]]
    case: dict
    ui: dict
    status: str


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def check_name(name: Any, what: str) -> str:
    """Take a reader name or case id; return it if it is a safe file/folder name, else raise SessionError.

    Safe: 1-64 characters from letters, digits, '.', '_', '-', starting with a letter or digit, not a
    Windows device name and not ending in ".state" (that would clash with the state files).
    """
    if not isinstance(name, str) or not _SAFE_NAME_RE.match(name):
        raise SessionError(
            f"{what} {name!r} is not a safe folder/file name: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if name.split(".")[0].lower() in _WINDOWS_RESERVED or name.lower().endswith(".state"):
        raise SessionError(f"{what} {name!r} is a reserved name; choose another")
    return name


def _csv_header(reader: Any, path: Path) -> None:
    """Read the cases CSV's header line (blank lines before it skipped); SessionError when it is wrong."""
    header = None
    for row in reader:
        if any(cell.strip() for cell in row):
            header = [cell.strip().lower() for cell in row]
            break
    if header is None:
        raise SessionError(f"cases CSV {path}: empty; expected the header {','.join(CSV_COLUMNS)}")
    if tuple(header) != CSV_COLUMNS:
        hint = "; separate columns with commas" if any(";" in cell or "\t" in cell for cell in header) else ""
        raise SessionError(
            f"cases CSV {path} line {reader.line_num}: header is {','.join(header)!r}; "
            f"expected {','.join(CSV_COLUMNS)} (one row per series){hint}"
        )


def _csv_row(row: list[str], where: str, base: Path, folded: dict[str, str]) -> tuple[str, str, Path]:
    """Check one row of the cases CSV; return (case id, role, absolute normalised series path)."""
    if len(row) != len(CSV_COLUMNS):
        raise SessionError(f"{where}: {len(row)} columns; expected 3 ({','.join(CSV_COLUMNS)})")
    case_id, role, series_path = (cell.strip() for cell in row)
    try:
        check_name(case_id, "case_id")
    except SessionError as error:
        raise SessionError(f"{where}, column case_id: {error}") from None
    # Case-insensitive file systems would put "Case1" and "case1" in one file.
    if folded.setdefault(case_id.lower(), case_id) != case_id:
        raise SessionError(f"{where}, column case_id: {case_id!r} differs from {folded[case_id.lower()]!r} only in case")
    if role not in case_mod.SERIES_ROLES:
        raise SessionError(f"{where}, column role: {role!r} is not one of {', '.join(case_mod.SERIES_ROLES)}")
    if not series_path:
        raise SessionError(f"{where}, column path: empty")
    if pacs_cache.is_pacs_reference(series_path):  # a PACS study/series: kept as written, see series_paths
        try:
            pacs_cache.parse_reference(series_path)
        except ValueError as error:
            raise SessionError(f"{where}, column path: {error}") from None
        return case_id, role, Path(series_path)
    absolute = Path(series_path).expanduser()
    if not absolute.is_absolute():
        absolute = base / absolute
    return case_id, role, Path(os.path.normpath(absolute))


def read_cases_csv(cases_csv: str | os.PathLike[str]) -> tuple[list[SessionCase], list[str]]:
    """Read a cases CSV (header case_id,role,path; one row per series).

    Takes the CSV path; returns (cases in order of first appearance with absolute series paths, warnings
    for series paths that do not exist). Raises SessionError naming the line and column of a bad row.
    """
    path = Path(cases_csv)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise SessionError(f"cases CSV {path}: cannot read it ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise SessionError(f"cases CSV {path}: not UTF-8 text") from None
    reader = csv.reader(text.splitlines())
    _csv_header(reader, path)
    base = path.resolve().parent
    series_by_case: dict[str, list[tuple[str, str]]] = {}
    folded: dict[str, str] = {}
    warnings: list[str] = []
    for row in reader:
        where = f"cases CSV {path} line {reader.line_num}"
        if not any(cell.strip() for cell in row):
            continue
        case_id, role, absolute = _csv_row(row, where, base, folded)
        series = series_by_case.setdefault(case_id, [])
        if any(existing == str(absolute) for _, existing in series):
            raise SessionError(f"{where}, column path: {row[2].strip()!r} is listed twice for case {case_id}")
        series.append((role, str(absolute)))
        if not absolute.exists() and not pacs_cache.is_pacs_reference(row[2]):
            warnings.append(f"{where}: series path {absolute} does not exist (case {case_id}, {role})")
    if not series_by_case:
        raise SessionError(f"cases CSV {path}: no case rows after the header")
    cases = [SessionCase(case_id, tuple(series)) for case_id, series in series_by_case.items()]
    return cases, warnings


def _relative_to(path: str, folder: Path) -> str:
    """`path` relative to `folder` when they share a folder below the file-system root, else unchanged:
    a session and its data in one project folder move together; a path via the root is not portable."""
    try:
        common = Path(os.path.commonpath([path, folder]))
    except ValueError:  # another drive on Windows
        return path
    if common == Path(common.anchor):
        return path
    return Path(os.path.relpath(path, folder)).as_posix()


def _pseudonymous_series(folder: Path, case: SessionCase, warnings: list[str]) -> list[dict[str, str]]:
    """Link each series of a case as DIR/series/<case_id>/<role> (a second one of a role: <role>_2)
    and return the series entries naming the links, relative to DIR: the data's folder names (often
    patient names) then never reach session.json, the reads or the CSVs. Where links cannot be made
    (Windows without the privilege), the path relative to DIR is stored, with a warning."""
    entries: list[dict[str, str]] = []
    for role, path in case.series:
        if pacs_cache.is_pacs_reference(str(path)):  # a PACS study: no folder name to hide
            entries.append({"role": role, "path": str(path)})
            continue
        name = role
        while any(entry["path"].split("/")[-1].split(".")[0] == name for entry in entries):
            name = f"{role}_{sum(e['role'] == role for e in entries) + 1}"
        suffix = "" if Path(path).is_dir() else (".nii.gz" if path.lower().endswith(".nii.gz") else Path(path).suffix)
        relative = f"{SERIES_DIR}/{case.case_id}/{name}{suffix}"  # loaders tell a NIfTI by its suffix
        link = folder / relative
        try:
            link.parent.mkdir(parents=True, exist_ok=True)
            if os.path.islink(link):
                link.unlink()
            link.symlink_to(path, target_is_directory=Path(path).is_dir())
        except OSError as error:
            warnings.append(f"case {case.case_id}, {role}: cannot link the series into {folder / SERIES_DIR} "
                            f"({error.strerror or error}); its path is stored instead")
            relative = _relative_to(path, folder.resolve())
        entries.append({"role": role, "path": relative})
    return entries


def create_session(
    directory: str | os.PathLike[str],
    cases_csv: str | os.PathLike[str],
    reader: str,
    name: str | None = None,
) -> Session:
    """Create a session folder from a cases CSV with a first reader.

    Takes the session folder (created if absent; must not already hold session.json), the cases CSV
    (see the module docstring), the first reader's name and an optional session name (default: the
    folder name). Series paths are stored relative to the folder when both lie in a common folder below
    the file-system root, else absolute. Returns the open Session; its
    ``warnings`` list the series paths that do not exist (not fatal). Raises SessionError.
    """
    check_name(reader, "reader name")
    folder = Path(directory).expanduser()
    if (folder / SESSION_FILE).exists():
        raise SessionError(f"session folder {folder}: {SESSION_FILE} already exists; open it instead")
    if folder.exists() and not folder.is_dir():
        raise SessionError(f"session folder {folder}: exists and is not a folder")
    cases, warnings = read_cases_csv(cases_csv)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SessionError(f"session folder {folder}: cannot create it ({error.strerror or error})") from None
    resolved = folder.resolve()
    document = {
        "schema_version": SESSION_SCHEMA_VERSION,
        "name": name or resolved.name,
        "created_at": _now(),
        "cases": [
            {"case_id": case.case_id, "series": _pseudonymous_series(folder, case, warnings)}
            for case in cases
        ],
        "readers": [reader],
    }
    files.atomic_write_text(folder / SESSION_FILE, json.dumps(document, indent=2) + "\n")
    session = open_session(folder)
    session.warnings.extend(warnings)
    return session


def open_session(directory: str | os.PathLike[str]) -> Session:
    """Open a session folder; takes its path, returns a Session. Raises SessionError if session.json is
    missing or malformed (the message names the file and field)."""
    folder = Path(directory).expanduser()
    path = folder / SESSION_FILE
    if not path.exists():
        raise SessionError(f"{folder} is not a session folder: {path} not found")
    document = files.read_json(path, SessionError, "session file")
    if not isinstance(document, dict):
        raise SessionError(f"{path}: expected a JSON object")
    cases_field = document.get("cases")
    if not isinstance(cases_field, list) or not cases_field:
        raise SessionError(f"{path}: field 'cases' must be a non-empty list")
    cases = []
    for index, entry in enumerate(cases_field):
        where = f"{path}: cases[{index}]"
        if not isinstance(entry, dict):
            raise SessionError(f"{where}: expected an object")
        try:
            case_id = check_name(entry.get("case_id"), "case_id")
        except SessionError as error:
            raise SessionError(f"{where}.case_id: {error}") from None
        series = entry.get("series", [])
        if not isinstance(series, list) or not all(
            isinstance(s, dict) and isinstance(s.get("role"), str) and isinstance(s.get("path"), str)
            for s in series
        ):
            raise SessionError(f"{where}.series: expected a list of {{'role', 'path'}} objects")
        cases.append(SessionCase(case_id, tuple((s["role"], s["path"]) for s in series)))
    if len({case.case_id for case in cases}) != len(cases):
        raise SessionError(f"{path}: field 'cases' lists a case_id twice")
    readers = document.get("readers", [])
    if not isinstance(readers, list) or not all(isinstance(r, str) for r in readers):
        raise SessionError(f"{path}: field 'readers' must be a list of names")
    return Session(
        directory=folder,
        name=str(document.get("name") or folder.resolve().name),
        created_at=str(document.get("created_at") or ""),
        cases=cases,
        listed_readers=list(readers),
    )


@dataclass
class Session:
    """An open session folder. Build it with create_session() or open_session(), not directly."""

    directory: Path
    name: str
    created_at: str
    cases: list[SessionCase]
    listed_readers: list[str]
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_id = {case.case_id: case for case in self.cases}
        self._held: set[tuple[str, str]] = set()

    # ----- where things are

    @property
    def case_ids(self) -> list[str]:
        """The case ids in session order."""
        return [case.case_id for case in self.cases]

    @property
    def readers(self) -> list[str]:
        """Readers listed in session.json plus any with a folder under reads/ (consensus last)."""
        names = list(self.listed_readers)
        reads = self.directory / READS_DIR
        if reads.is_dir():
            for child in sorted(reads.iterdir()):
                if child.is_dir() and child.name not in names and _SAFE_NAME_RE.match(child.name):
                    names.append(child.name)
        if CONSENSUS_READER in names:
            names.remove(CONSENSUS_READER)
            names.append(CONSENSUS_READER)
        return names

    def case(self, case_id: str) -> SessionCase:
        """Take a case id; return its SessionCase or raise SessionError if the session has no such case."""
        try:
            return self._by_id[case_id]
        except KeyError:
            raise SessionError(f"session {self.directory}: no case {case_id!r}") from None

    def series_paths(self, case_id: str) -> list[tuple[str, Path]]:
        """Take a case id; return its series as (role, absolute path) in CSV order (what the panel loads).
        The session's series links are kept as such (DIR/series/<case_id>/<role>), not resolved, so the
        path shown holds no folder name of the data. A PACS reference (pacs:STUDY[/SERIES]) is
        retrieved into DIR/cache first (pacs.session_cache)."""
        return [(role, pacs_cache.local_path(self.directory, path) if pacs_cache.is_pacs_reference(path)
                 else Path(os.path.abspath(self.directory / path))) for role, path in self.case(case_id).series]

    def _series_entries(self, reader: str, case_id: str) -> list[dict[str, str]]:
        """The case's series entries for a read: files relative to the read's folder
        (DIR/reads/<reader>/), as export-sr and the case JSON's other tools resolve them; a PACS
        reference as written."""
        read_folder = self.read_path(reader, case_id).parent
        return [{"role": role, "file": path if os.path.isabs(path) or pacs_cache.is_pacs_reference(path)
                 else Path(os.path.relpath(self.directory / path, read_folder)).as_posix()}
                for role, path in self.case(case_id).series]

    def read_path(self, reader: str, case_id: str) -> Path:
        """Return DIR/reads/<reader>/<case_id>.json (the file may not exist yet)."""
        check_name(reader, "reader name")
        self.case(case_id)
        path = self.directory / READS_DIR / reader / f"{case_id}.json"
        files.refuse_links(path, self.directory)  # a linked reads/<reader> could lead reads and writes outside
        return path

    def scene_folder(self, reader: str, case_id: str) -> Path:
        """Return DIR/scenes/<reader>/<case_id>: where the Slicer module may keep the reader's markups and
        segmentations of a case (its read folder). Optional and outside reads/, so tools that gather every
        *.json under reads/<reader>/ see each read once; reads/<reader>/<case_id>.json is the read."""
        self.read_path(reader, case_id)
        path = self.directory / SCENES_DIR / reader / case_id
        files.refuse_links(path, self.directory)
        return path

    def read_files(self, reader: str, only_done: bool = False, progress: ProgressCallback | None = None) -> dict[str, Path]:
        """Return {case_id: path of the reader's saved read} in session order, for cases with a read file
        (only those marked done if `only_done`). State files and temporary files are never included."""
        states = self.statuses(reader, progress)
        result = {}
        for case_id, state in states.items():
            path = self.read_path(reader, case_id)
            if path.exists() and (state["status"] == "done" or not only_done):
                result[case_id] = path
        return result

    def state_path(self, reader: str, case_id: str) -> Path:
        """Return DIR/reads/<reader>/<case_id>.state.json (the file may not exist yet)."""
        path = self.read_path(reader, case_id).with_name(f"{case_id}.state.json")
        files.refuse_links(path, self.directory)
        return path

    # ----- readers

    def add_reader(self, reader: str) -> None:
        """Add a reader to session.json (atomic rewrite); no-op if listed. Raises SessionError for a bad name."""
        check_name(reader, "reader name")
        if reader in self.listed_readers:
            return
        path = self.directory / SESSION_FILE
        with files.advisory_lock(self.directory / f".{SESSION_FILE}.lock",
                                 f"{path} is being changed by another process; try again"):
            document = files.read_json(path, SessionError, "session file")
            if not isinstance(document, dict):
                raise SessionError(f"{path}: expected a JSON object")
            listed = document.setdefault("readers", [])
            if not isinstance(listed, list):
                raise SessionError(f"{path}: field 'readers' must be a list of names")
            if reader not in listed:
                listed.append(reader)
                files.atomic_write_text(path, json.dumps(document, indent=2) + "\n")
        self.listed_readers = list(listed)

    @contextlib.contextmanager
    def case_lock(self, reader: str, case_id: str):
        """Hold the advisory lock of the reader's case (its read and state are written together under
        it); re-entrant within this Session. Another process waits files.LOCK_WAIT_SECONDS, then gets
        files.LockedError "case ... is open elsewhere"."""
        key = (reader, case_id)
        if key in self._held:
            yield
            return
        folder = self.read_path(reader, case_id).parent
        folder.mkdir(parents=True, exist_ok=True)
        with files.advisory_lock(folder / f".{case_id}.lock",
                                 f"case {case_id} of reader {reader} is open elsewhere (another process is "
                                 f"saving it); close it there or try again"):
            self._held.add(key)
            try:
                yield
            finally:
                self._held.discard(key)

    # ----- status and progress

    def load_state(self, reader: str, case_id: str) -> dict:
        """Return the reader's state of a case: {"status", "updated_at", "ui"}; status "unread" and ui {}
        when nothing was saved. A state file that cannot be parsed raises SessionError naming it."""
        path = self.state_path(reader, case_id)
        if not os.path.lexists(path):
            status = "in_progress" if self.read_path(reader, case_id).exists() else "unread"
            return {"status": status, "updated_at": None, "ui": {}}
        state = files.read_json(path, SessionError, "state file")
        if not isinstance(state, dict) or state.get("status") not in ("in_progress", "done"):
            raise SessionError(f"{path}: field 'status' must be 'in_progress' or 'done'")
        state.setdefault("updated_at", None)
        if state["updated_at"] is not None and not isinstance(state["updated_at"], str):
            raise SessionError(f"{path}: field 'updated_at' must be a time as text (ISO 8601), "
                               f"not {type(state['updated_at']).__name__}")
        if not isinstance(state.get("ui"), dict):
            state["ui"] = {}
        return state

    def status(self, reader: str, case_id: str) -> str:
        """Return "unread", "in_progress" or "done" for the reader's read of a case."""
        return self.load_state(reader, case_id)["status"]

    def statuses(self, reader: str, progress: ProgressCallback | None = None) -> dict[str, dict]:
        """Return {case_id: state} for every case in session order (see load_state); calls progress(i, N)."""
        check_name(reader, "reader name")
        result = {}
        total = len(self.cases)
        for index, case in enumerate(self.cases, start=1):
            result[case.case_id] = self.load_state(reader, case.case_id)
            if progress:
                progress(index, total)
        return result

    def progress(self, reader: str, progress: ProgressCallback | None = None) -> tuple[int, int]:
        """Return (cases done, cases in total) for a reader."""
        row = self.reader_progress(reader, progress)
        return row.done, row.total

    def reader_progress(self, reader: str, progress: ProgressCallback | None = None) -> ReaderProgress:
        """Return the reader's ReaderProgress (done, in progress, total); .text() is the panel's line."""
        states = self.statuses(reader, progress)
        done = sum(state["status"] == "done" for state in states.values())
        started = sum(state["status"] == "in_progress" for state in states.values())
        return ReaderProgress(reader, done, started, len(self.cases))

    def progress_table(self, progress: ProgressCallback | None = None) -> list[ReaderProgress]:
        """Return one ReaderProgress per reader (see readers); calls progress(i, N) per reader."""
        readers = self.readers
        rows = []
        for index, reader in enumerate(readers, start=1):
            rows.append(self.reader_progress(reader))
            if progress:
                progress(index, len(readers))
        return rows

    def next_case(self, reader: str, progress: ProgressCallback | None = None) -> str | None:
        """Return the case the reader should open: the most recently saved in-progress case if any (resume),
        else the first unread case in session order, else None when every case is done."""
        states = self.statuses(reader, progress)
        started = [
            (state["updated_at"] or "", -index, case_id)
            for index, (case_id, state) in enumerate(states.items())
            if state["status"] == "in_progress"
        ]
        if started:
            return max(started)[2]
        for case_id, state in states.items():
            if state["status"] == "unread":
                return case_id
        return None

    # ----- reads

    def load_read(self, reader: str, case_id: str) -> dict:
        """Return the reader's saved read of a case (validated case dict), or a new case for it with the
        reader's name and the session's series filled in (paths relative to the session folder)."""
        path = self.read_path(reader, case_id)
        if path.exists():
            return case_io.load_case(path)
        case = case_mod.new_case(case_id, reader)
        case["series"] = self._series_entries(reader, case_id)
        return case

    def open_case(self, reader: str, case_id: str | None = None, progress: ProgressCallback | None = None) -> OpenCase | None:
        """Return what the panel loads for the reader's case `case_id`, or for next_case(reader) when None
        (None when every case is done): series paths, the read (saved or new) and the saved UI state."""
        if case_id is None:
            case_id = self.next_case(reader, progress)
            if case_id is None:
                return None
        state = self.load_state(reader, case_id)
        return OpenCase(case_id, self.series_paths(case_id), self.load_read(reader, case_id), state["ui"],
                        state["status"])

    def autosave(self, reader: str, case_id: str, case: dict, ui_state: dict | None = None) -> Path:
        """Save the reader's read of a case now (call it on every change).

        Takes the reader, the case id, the case dict (its case_id must match; a missing reader name is
        filled in, another reader's name is refused) and optional UI state to resume at (JSON-able dict:
        selected lesion, slice offsets...). Writes the read (validated, atomic) and then the state file
        (atomic; status stays "done" if it was, else "in_progress"). Returns the read's path.
        """
        with self.case_lock(reader, case_id):
            path = self.read_path(reader, case_id)
            if not isinstance(case, dict) or case.get("case_id") != case_id:
                found = case.get("case_id") if isinstance(case, dict) else type(case).__name__
                raise SessionError(f"autosave of {reader}/{case_id}: the case dict has case_id {found!r}")
            to_save = copy.deepcopy(case)
            record = to_save.get("reader")
            if not isinstance(record, dict):
                record = to_save["reader"] = {"name": reader, "read_at": _now()}
            if record.get("name") in (None, ""):
                record["name"] = reader
            elif record["name"] != reader:
                raise SessionError(
                    f"autosave of {reader}/{case_id}: the case was read by {record['name']!r}, not {reader!r}"
                )
            ui = self._check_ui(ui_state, reader, case_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            case_io.save_case(to_save, path)
            old = self.load_state(reader, case_id)
            status = "done" if old["status"] == "done" else "in_progress"
            self._write_state(reader, case_id, status, old["ui"] if ui is None else ui, old)
            if reader not in self.listed_readers:
                self.add_reader(reader)
            return path

    def save_ui_state(self, reader: str, case_id: str, ui_state: dict) -> None:
        """Record only where the reader is (selected lesion, slice offsets) without rewriting the read."""
        with self.case_lock(reader, case_id):
            ui = self._check_ui(ui_state, reader, case_id)
            old = self.load_state(reader, case_id)
            status = "in_progress" if old["status"] == "unread" else old["status"]
            self._write_state(reader, case_id, status, ui, old)

    def mark_done(self, reader: str, case_id: str) -> None:
        """Mark the reader's read of a case done. The saved read is validated first; a case with no saved
        read is refused (SessionError), so an empty read is never counted as a reading."""
        with self.case_lock(reader, case_id):
            path = self.read_path(reader, case_id)
            if not path.exists():
                raise SessionError(f"{reader}/{case_id}: no saved read ({path}); save a read first "
                                   f"(iscm-assist session read, or the Slicer module)")
            self.load_read(reader, case_id)
            old = self.load_state(reader, case_id)
            self._write_state(reader, case_id, "done", old["ui"], old)
            if reader not in self.listed_readers:
                self.add_reader(reader)

    def reopen(self, reader: str, case_id: str) -> None:
        """Set a done case back to in progress (the read is kept)."""
        with self.case_lock(reader, case_id):
            old = self.load_state(reader, case_id)
            if old["status"] == "done":
                self._write_state(reader, case_id, "in_progress", old["ui"], old)

    def _check_ui(self, ui_state: Any, reader: str, case_id: str) -> dict | None:
        if ui_state is None:
            return None
        try:
            if not isinstance(ui_state, dict):
                raise TypeError(type(ui_state).__name__)
            return json.loads(json.dumps(ui_state))
        except (TypeError, ValueError) as error:
            raise SessionError(f"UI state of {reader}/{case_id}: not a JSON object ({error})") from None

    def _write_state(self, reader: str, case_id: str, status: str, ui: dict, old: dict) -> None:
        state = {key: value for key, value in old.items() if key not in ("status", "updated_at", "ui")}
        state.update({"status": status, "updated_at": _now(), "ui": ui})
        path = self.state_path(reader, case_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        files.atomic_write_text(path, json.dumps(state, indent=2) + "\n")

    # ----- consensus

    def start_consensus(
        self,
        case_id: str,
        readers: Sequence[str],
        overwrite: bool = False,
        progress: ProgressCallback | None = None,
    ) -> dict:
        """Start the consensus read of a case from two or more readers' reads and save it as reader
        "consensus" (in progress).

        Values the readers agree on (disagreement.values_agree) are copied (the first reader's value and
        lines are kept); values they disagree on are null with no provenance, to settle.
        The list of disagreements goes into the draft's notes and into the consensus state file under
        "to_settle" ([{"field", "values": {reader: value}}]). Takes the case id, the readers (first = the one
        whose landmarks and lines are kept) and whether to replace an existing consensus read. Returns the
        draft case dict. Raises SessionError if a reader has no saved read or the consensus exists.
        """
        with self.case_lock(CONSENSUS_READER, case_id):
            readers = list(readers)
            if len(readers) < 2 or len(set(readers)) != len(readers):
                raise SessionError(f"consensus of {case_id}: give two or more different readers, not {readers}")
            for reader in readers:
                check_name(reader, "reader name")
                if reader == CONSENSUS_READER:
                    raise SessionError(f"consensus of {case_id}: '{CONSENSUS_READER}' cannot be one of its readers")
            target = self.read_path(CONSENSUS_READER, case_id)
            if target.exists() and not overwrite:
                raise SessionError(
                    f"consensus of {case_id}: {target} already exists; open it, or overwrite it to start again"
                )
            reads = {}
            for index, reader in enumerate(readers, start=1):
                path = self.read_path(reader, case_id)
                if not path.exists():
                    raise SessionError(f"consensus of {case_id}: reader {reader!r} has no saved read ({path})")
                reads[reader] = case_io.load_case(path)
                if progress:
                    progress(index, len(readers))
            draft, disagreements = build_consensus(reads, case_id)
            draft["series"] = self._series_entries(CONSENSUS_READER, case_id)
            self.autosave(CONSENSUS_READER, case_id, draft)
            old = self.load_state(CONSENSUS_READER, case_id)
            old["to_settle"] = [{"field": d.field, "values": d.values} for d in disagreements]
            old["readers"] = readers
            self._write_state(CONSENSUS_READER, case_id, "in_progress", {}, old)
            return draft

    def disagreements(self, case_id: str) -> list[Disagreement]:
        """Return the disagreements recorded when the consensus of a case was started ([] if none)."""
        state = self.load_state(CONSENSUS_READER, case_id)
        return [Disagreement(item["field"], dict(item["values"])) for item in state.get("to_settle", [])]
