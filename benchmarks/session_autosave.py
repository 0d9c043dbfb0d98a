"""Time a research session's autosave (called on every change in the panel) and its progress scans.

Prints: autosave time per call for a case read with 3 lesions (validate + two atomic fsynced writes),
and next_case / progress_table time for a 49-case session (the study's size) and a 1000-case one.
Run: python benchmarks/session_autosave.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from ISCMAssistLib.case import new_lesion, set_reader_value
from ISCMAssistLib.session import create_session


def _session(folder: Path, n_cases: int):
    csv_path = folder / "cases.csv"
    rows = ["case_id,role,path"] + [f"case-{i:04d},t2_sagittal,data/case-{i:04d}" for i in range(n_cases)]
    csv_path.write_text("\n".join(rows) + "\n")
    return create_session(folder / "sess", csv_path, "reader1")


def _read(session, case_id: str) -> dict:
    case = session.load_read("reader1", case_id)
    for number in range(1, 4):
        lesion = new_lesion(f"L{number}")
        lesion["lines_lps"] = {name: [[0.0, 0.0, 10.0 * number], [0.0, 5.0, 10.0 * number + 20.0]]
                               for name in ("si", "ap", "transverse", "edema_si")}
        set_reader_value(lesion, "position", "central")
        case["lesions"].append(lesion)
    return case


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        session = _session(Path(tmp), 49)
        case = _read(session, "case-0000")
        times = []
        for step in range(200):
            case["notes"] = f"edit {step}"
            start = time.perf_counter()
            session.autosave("reader1", "case-0000", case, ui_state={"lesion": "L1", "slice_offset_mm": step})
            times.append(time.perf_counter() - start)
        print(f"autosave (3 lesions, 200 calls): median {statistics.median(times) * 1e3:.2f} ms, "
              f"max {max(times) * 1e3:.2f} ms")

        for n_cases in (49, 1000):
            folder = Path(tmp) / f"n{n_cases}"
            folder.mkdir()
            session = _session(folder, n_cases)
            for index, case_id in enumerate(session.case_ids[: n_cases // 2]):
                session.autosave("reader1", case_id, session.load_read("reader1", case_id))
                if index % 2 == 0:
                    session.mark_done("reader1", case_id)
            for label, call in (("next_case", lambda: session.next_case("reader1")),
                                ("progress_table", session.progress_table)):
                start = time.perf_counter()
                for _ in range(5):
                    call()
                print(f"{label} ({n_cases} cases, half started): {(time.perf_counter() - start) / 5 * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
