"""Cohort statistics: a folder of case reads -> the study's Tables 1-3 and solitary vs multiple tests.

Every row of the study's tables (``evidence.TABLES``) is filled from the cohort's cases and shown
beside the study's value. Denominators leave out not-assessable (None) values, as the study's do
(e.g. position over the 62 lesions with axial images). The solitary vs multiple comparisons are
Pearson chi-square tests without continuity correction, per patient: the same statistic and P value
as ``scipy.stats.chi2_contingency(table, correction=False)`` (the tests check this), computed here in
closed form because importing scipy.stats alone takes over a second of the CLI's 2 s budget.

Fields a table row may name (``CountRow.field`` / ``SummaryRow.field``):

* per patient: "clinical.<name>", "patient_findings.<name>" and the derived keys
  "other_or_primary" (other CNS/spinal metastases OR primary tumor/non-CNS metastases),
  "other_and_primary" (both), "t2_longest_ge_2"/"t2_longest_ge_3" (the longest lesion's
  t2_length_segments >= 2 / >= 3); "patient_findings.multiplicity" falls back to the lesion count
  (1 solitary, >= 2 multiple) when it is None;
* per lesion: the lesion's field names, "size_mm.<axis>", and the derived keys "t2_length_ge_2",
  "t2_length_ge_3" (t2_length_segments >= 2 / >= 3).

Outputs (cohort_report.write_report): cohort.md, cohort.csv, cohort_comparisons.csv, cohort.json, cohort.png.
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .case import value_text
from .evidence import COMPARISONS, TABLES, Comparison, CountRow, StudyTable, SummaryRow, study_percent
from .progress import ProgressCallback

PRIMARY_TUMORS: tuple[str, ...] = ("lung", "breast", "melanoma", "cns", "renal_cell", "other")
NOT_CASE_SUFFIXES: tuple[str, ...] = (".state.json", ".mrk.json")  # JSON files that are never case reads
REPORT_FILES: tuple[str, ...] = ("cohort.md", "cohort.csv", "cohort_comparisons.csv", "cohort.json", "cohort.png")


class CohortError(ValueError):
    """A cohort that cannot be summarised (no folder, no readable case); the message says which."""


@dataclass
class CohortRow:
    """One table row: the cohort's figures beside the study's.

    Count rows: ``n``/``denominator``/``percent`` (None when nothing was assessable). Summary rows:
    ``value`` (mean or median), ``low``/``high`` (range) over ``count`` values. ``study`` holds the
    study's row (CountRow or SummaryRow).
    """

    table: str
    group: str
    label: str
    kind: str  # "count" | "summary"
    study: CountRow | SummaryRow
    n: int | None = None
    denominator: int | None = None
    percent: int | None = None
    statistic: str | None = None
    value: float | None = None
    low: float | None = None
    high: float | None = None
    count: int | None = None

    def cohort_text(self) -> str:
        """The cohort's cell: "23/62 (37%)" or "4.5 (1-15), n = 69"; "-" when nothing was assessable."""
        if self.kind == "count":
            return "-" if not self.denominator else f"{self.n}/{self.denominator} ({self.percent}%)"
        if not self.count:
            return "-"
        return f"{_fmt(self.value)} ({_fmt(self.low)}-{_fmt(self.high)}), n = {self.count}"

    def study_text(self) -> str:
        """The study's cell as printed: "23/62 (37%)" or "4.5 (1-15), n = 69"."""
        row = self.study
        if isinstance(row, CountRow):
            return f"{row.n}/{row.denominator} ({row.percent}%)"
        return f"{_fmt(row.value)} ({_fmt(row.low)}-{_fmt(row.high)}), n = {row.n}"


@dataclass
class ComparisonResult:
    """A solitary vs multiple chi-square test on the cohort, beside the study's P value.

    ``categories`` name the columns of ``table`` (rows: solitary, multiple) after dropping empty
    columns; ``p_value``/``chi2``/``dof`` are None when the table has fewer than 2 non-empty rows or
    columns (``note`` says why).
    """

    key: str
    label: str
    categories: list[str]
    table: list[list[int]]
    chi2: float | None
    dof: int | None
    p_value: float | None
    study: Comparison
    note: str = ""

    def p_text(self) -> str:
        """The cohort's P value as "P = .0263" (4 decimals, no leading zero), or "-"."""
        return "-" if self.p_value is None else _p_text(self.p_value)

    def study_p_text(self) -> str:
        """The study's P value as printed, e.g. "P = .872"."""
        return "P = " + repr(self.study.p_value).lstrip("0")


@dataclass
class CohortResult:
    """The cohort's summary: counts of patients and lesions, rows of Tables 1-3, comparisons, and
    the files that were skipped (path, reason)."""

    n_patients: int
    n_lesions: int
    rows: list[CohortRow]
    comparisons: list[ComparisonResult]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    read_rule: str = ""
    warnings: list[str] = field(default_factory=list)


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}".rstrip("0").rstrip(".") if abs(value - round(value)) > 1e-9 else f"{value:.0f}"


def _p_text(p: float) -> str:
    return "P < .0001" if p < 0.0001 else "P = " + f"{p:.4f}".lstrip("0")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _either(a: Any, b: Any) -> bool | None:
    if a is True or b is True:
        return True
    return False if (a is False and b is False) else None


def _both(a: Any, b: Any) -> bool | None:
    if a is False or b is False:
        return False
    return True if (a is True and b is True) else None


def patient_record(case: dict) -> dict[str, Any]:
    """Take a case dict; return its per-patient values keyed as table fields (see module doc)."""
    findings = case.get("patient_findings") or {}
    clinical = case.get("clinical") or {}
    record: dict[str, Any] = {f"clinical.{k}": v for k, v in clinical.items()}
    record.update({f"patient_findings.{k}": v for k, v in findings.items()})
    if record.get("patient_findings.multiplicity") is None:
        count = len(case.get("lesions") or [])
        record["patient_findings.multiplicity"] = None if count == 0 else ("solitary" if count == 1 else "multiple")
    other = findings.get("other_cns_or_spinal_metastases")
    primary = findings.get("primary_tumor_or_non_cns_metastases")
    record["other_or_primary"] = _either(other, primary)
    record["other_and_primary"] = _both(other, primary)
    lengths = [t2 for t2 in (_number(lesion.get("t2_length_segments")) for lesion in case.get("lesions") or [])
               if t2 is not None]
    longest = max(lengths) if lengths else None  # the study's per-patient T2 extent: the longest lesion
    record["t2_longest_ge_2"] = None if longest is None else longest >= 2
    record["t2_longest_ge_3"] = None if longest is None else longest >= 3
    return record


def lesion_record(lesion: dict) -> dict[str, Any]:
    """Take a lesion dict; return its values keyed as table fields (see module doc)."""
    record = dict(lesion)
    for axis, value in (lesion.get("size_mm") or {}).items():
        record[f"size_mm.{axis}"] = value
    t2 = _number(lesion.get("t2_length_segments"))
    record["t2_length_ge_2"] = None if t2 is None else t2 >= 2
    record["t2_length_ge_3"] = None if t2 is None else t2 >= 3
    return record


def _key(value: Any) -> tuple:
    # True == 1 in Python; a boolean row must not count the integer 1 and vice versa.
    return (type(value) is bool, value) if isinstance(value, (bool, str, numbers.Number)) else (False, repr(value))


def count_row(records: list[dict], row: CountRow) -> tuple[int, int]:
    """Take flat records and a study count row; return (n, denominator) over the assessable records."""
    wanted = {_key(v) for v in row.values}
    among = None if row.among is None else {_key(v) for v in row.among}
    n = denominator = 0
    for record in records:
        value = record.get(row.field)
        if value is None:
            continue
        key = _key(value)
        if among is not None and key not in among:
            continue
        denominator += 1
        n += key in wanted
    return n, denominator


def chi2_test(table) -> tuple[float, int, float]:
    """Take an r x c table of counts (no empty row or column); return (chi-square, dof, P) of Pearson's
    test without continuity correction, as scipy.stats.chi2_contingency(table, correction=False).

    The P value is scipy.special's chi-square survival function; scipy.stats itself is not imported
    because its import alone takes about 1 s, half the time budget of a 1,000-case cohort.
    """
    from scipy.special import chdtrc

    observed = np.asarray(table, dtype=float)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    statistic = float(((observed - expected) ** 2 / expected).sum())
    dof = (observed.shape[0] - 1) * (observed.shape[1] - 1)
    return statistic, dof, float(chdtrc(dof, statistic))


def summary_row(records: list[dict], row: SummaryRow) -> tuple[float | None, float | None, float | None, int]:
    """Take flat records and a study summary row; return (mean or median, min, max, count) of the
    numeric values (None when there are none)."""
    values = np.array([v for v in (_number(r.get(row.field)) for r in records) if v is not None])
    if values.size == 0:
        return None, None, None, 0
    centre = float(np.median(values)) if row.statistic == "median" else float(np.mean(values))
    return centre, float(values.min()), float(values.max()), int(values.size)


def _table_rows(table: StudyTable, records: list[dict]) -> list[CohortRow]:
    rows = []
    for row in table.rows:
        if isinstance(row, CountRow):
            n, denominator = count_row(records, row)
            percent = study_percent(n, denominator) if denominator else None
            rows.append(CohortRow(table.name, row.group, row.label, "count", row, n, denominator, percent))
        else:
            value, low, high, count = summary_row(records, row)
            rows.append(CohortRow(table.name, row.group, row.label, "summary", row, statistic=row.statistic,
                                  value=value, low=low, high=high, count=count))
    return rows


def compare(patients: list[dict], comparison: Comparison) -> ComparisonResult:
    """Take per-patient records and one study comparison; return the cohort's solitary vs multiple
    chi-square test (no continuity correction) over patients with both values assessable."""
    categories: list[Any] = list(PRIMARY_TUMORS) if comparison.field == "clinical.primary_tumor" else [True, False]
    counts = np.zeros((2, len(categories)), dtype=int)
    for record in patients:
        group = {"solitary": 0, "multiple": 1}.get(record.get("patient_findings.multiplicity"))
        value = record.get(comparison.field)
        if group is None or value is None:
            continue
        for column, category in enumerate(categories):
            if _key(value) == _key(category):
                counts[group, column] += 1
    keep = counts.sum(axis=0) > 0
    kept = counts[:, keep]
    names = [value_text(c) for c, k in zip(categories, keep) if k]
    chi2 = dof = p = None
    note = ""
    if kept.shape[1] < 2 or (kept.sum(axis=1) == 0).any():
        note = "not computable: needs both solitary and multiple patients and at least 2 observed categories"
    else:
        chi2, dof, p = chi2_test(kept)
    return ComparisonResult(comparison.key, comparison.label, names, kept.tolist(), chi2, dof, p, comparison, note)


READ_RULE = ("each case is counted once: its consensus read where one exists, otherwise the read of the "
             "reader whose name sorts first (use --reader to choose one reader)")


def _reader_name(case: dict) -> str:
    reader = case.get("reader")
    name = reader.get("name") if isinstance(reader, dict) else None
    return name if isinstance(name, str) else ""


def one_read_per_case(reads: list[tuple[str, dict]]) -> tuple[list[dict], list[str]]:
    """Take (path, case) pairs in path order; return (one case per case_id, warnings), by READ_RULE.

    Two reads of one case id by the same reader (or with no reader name) are a duplicate: the first
    path is kept and a warning names both files.
    """
    from .consensus import CONSENSUS_READER

    by_case: dict[str, dict[str, tuple[str, dict]]] = {}
    warnings: list[str] = []
    for path, case in reads:
        readers = by_case.setdefault(str(case.get("case_id")), {})
        name = _reader_name(case)
        if name in readers:
            warnings.append(f"duplicate case id {case.get('case_id')!r} (reader {name or 'unnamed'!r}): "
                            f"{path} left out, {readers[name][0]} counted")
            continue
        readers[name] = (path, case)
    chosen = []
    for readers in by_case.values():
        name = CONSENSUS_READER if CONSENSUS_READER in readers else min(readers)
        chosen.append(readers[name][1])
    return chosen, warnings


def summarize(cases: Iterable[dict], progress: ProgressCallback | None = None,
              skipped: list[tuple[str, str]] | None = None) -> CohortResult:
    """Take case dicts (one per patient) and an optional progress(done, total) callback; return the
    cohort's Tables 1-3 rows beside the study's and the solitary vs multiple comparisons."""
    cases = list(cases)
    patients, lesions = [], []
    for index, case in enumerate(cases, start=1):
        patients.append(patient_record(case))
        lesions.extend(lesion_record(lesion) for lesion in case.get("lesions") or [])
        if progress:
            progress(index, len(cases))
    rows: list[CohortRow] = []
    for table in TABLES:
        rows.extend(_table_rows(table, lesions if table.basis == "lesion" else patients))
    comparisons = [compare(patients, comparison) for comparison in COMPARISONS]
    return CohortResult(len(patients), len(lesions), rows, comparisons, list(skipped or []))


def find_case_files(folder: str | os.PathLike, exclude: str | os.PathLike | None = None,
                    skipped: list[tuple[str, str]] | None = None) -> list[Path]:
    """Take a folder; return every *.json file under it (recursively, sorted), leaving out the
    folder ``exclude`` (the report's own output), dot files, session state files (*.state.json) and
    Slicer markups (*.mrk.json). Symbolic links to files outside the folder and non-regular files are
    left out too, and appended to ``skipped`` as (path, reason) when it is given.
    Raises CohortError when the folder does not exist."""
    from .files import unsafe_to_read

    root = Path(folder)
    if not root.is_dir():
        raise CohortError(f"{folder}: not a folder")
    excluded = Path(exclude).resolve() if exclude is not None else None
    files = []
    for path in sorted(root.rglob("*.json")):
        if excluded is not None and (path.resolve() == excluded or excluded in path.resolve().parents):
            continue
        if path.name.startswith(".") or path.name.endswith(NOT_CASE_SUFFIXES):
            continue
        reason = unsafe_to_read(path, root)
        if reason is None:
            files.append(path)
        elif skipped is not None and not path.is_dir():
            skipped.append((str(path), reason))
    return files


def _load_one(path: Path) -> tuple[dict | None, str | None]:
    from .case_io import load_case

    try:
        return load_case(path), None
    except (OSError, ValueError) as error:
        return None, str(error)


def load_cases(paths: list[Path], progress: ProgressCallback | None = None,
               workers: int = 1) -> tuple[list[dict], list[tuple[str, str]]]:
    """Take case JSON paths; return (cases, skipped) as load_reads does, without the paths."""
    reads, skipped = load_reads(paths, progress, workers)
    return [case for _, case in reads], skipped


def load_reads(paths: list[Path], progress: ProgressCallback | None = None,
               workers: int = 1) -> tuple[list[tuple[str, dict]], list[tuple[str, str]]]:
    """Take case JSON paths, an optional progress(done, total) callback and a number of worker
    processes; return (cases, skipped) in path order, where skipped lists (path, reason) for every
    file that could not be loaded or validated.

    ``workers`` > 1 reads in forked processes (POSIX only; schema validation is the cost, about
    1.6 ms per file); elsewhere, or for fewer than 200 files, it reads in this process.
    """
    import multiprocessing

    from .case import new_case, validate_case

    cases, skipped = [], []
    if workers > 1 and len(paths) >= 200 and "fork" in multiprocessing.get_all_start_methods():
        validate_case(new_case("warm-up"))  # build the schema validator once, before forking
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = pool.imap(_load_one, paths, chunksize=max(1, min(64, len(paths) // (4 * workers))))
            loaded = []
            for index, item in enumerate(results, start=1):
                loaded.append(item)
                if progress:
                    progress(index, len(paths))
    else:
        loaded = []
        for index, path in enumerate(paths, start=1):
            loaded.append(_load_one(path))
            if progress:
                progress(index, len(paths))
    for path, (case, reason) in zip(paths, loaded):
        if case is None:
            skipped.append((str(path), reason))
        else:
            cases.append((str(path), case))
    return cases, skipped


def summarize_folder(folder: str | os.PathLike, progress: ProgressCallback | None = None,
                     exclude: str | os.PathLike | None = None, workers: int = 1) -> CohortResult:
    """Take a folder of case JSON files; return the cohort summary (bad files listed in ``skipped``).

    ``progress(done, total)`` is called once per file read. Raises CohortError when no file under the
    folder is a readable case.
    """
    unsafe: list[tuple[str, str]] = []
    paths = find_case_files(folder, exclude, unsafe)
    reads, skipped = load_reads(paths, progress, workers)
    skipped = unsafe + skipped
    if not reads:
        raise CohortError(f"{folder}: no readable case JSON files ({len(paths)} *.json found, {len(skipped)} bad)")
    cases, warnings = one_read_per_case(reads)
    result = summarize(cases, skipped=skipped)
    result.read_rule, result.warnings = READ_RULE, warnings
    return result
