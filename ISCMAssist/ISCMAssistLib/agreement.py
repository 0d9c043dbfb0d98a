"""Inter-reader agreement on pairs of reads of the same cases.

Reads are paired by ``case_id``; lesions within a case by the rule of disagreement.py (by position
when every lesion has a line, else by lesion id), the same rule as the consensus draft's. For each
categorical checklist feature: Cohen's kappa with its 95% CI (large-sample standard error of
Fleiss, Cohen & Everitt 1969), over the pairs where both readers gave a value. For sizes (mm),
lengths (segments) and the T2/enhancement ratio: ICC(2,1) (two-way random effects, absolute
agreement, single rater; Shrout & Fleiss 1979, McGraw & Wong 1996 CI) and Bland-Altman bias
(reader A - reader B) with 95% limits of agreement (bias +/- 1.96 SD). Every difference is listed as
a disagreement to settle, by disagreement.values_agree (numbers only beyond disagreement.TOLERANCE);
per-patient findings and clinical values are compared as well as lesions.

Folder layout (``read_folder``): ``DIR/<reader>/<case_id>.json`` or, for a session folder,
``DIR/reads/<reader>/<case_id>.json`` (used when ``DIR/reads`` exists). ``*.state.json`` files are
ignored; the reader "consensus" is left out unless asked for.
"""

from __future__ import annotations

import itertools
import math
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .case import LESION_FEATURES, PATIENT_FEATURES, SIZE_AXES
from .consensus import CONSENSUS_READER
from .disagreement import LESION_FIELDS, SECTION_FIELDS, field_value, match_lesions, values_agree
from .agreement_stats import ICC, BlandAltman, Kappa, bland_altman, cohen_kappa, icc_2_1
from .progress import ProgressCallback as Progress
from .session import READS_DIR

REPORT_FOLDERS = ("cohort_report", "agreement_report", "scenes")  # never readers

#: Categorical features compared with kappa (lesion features, then per-patient findings).
LESION_CATEGORICAL: tuple[str, ...] = tuple(f.name for f in LESION_FEATURES if f.kind in ("enum", "boolean", "text"))
PATIENT_CATEGORICAL: tuple[str, ...] = tuple(f.name for f in PATIENT_FEATURES if f.kind in ("enum", "boolean"))
#: Numeric lesion features compared with ICC and Bland-Altman.
LESION_NUMERIC: tuple[str, ...] = tuple(
    [f"size_mm.{axis}" for axis in SIZE_AXES]
    + [f.name for f in LESION_FEATURES if f.kind in ("integer", "number")])
class AgreementError(ValueError):
    """Reads that cannot be compared (no folder, fewer than two readers, no shared case)."""


@dataclass(frozen=True)
class Disagreement:
    """One difference to settle: case, lesion id (None for a per-patient finding), feature, values."""

    case_id: str
    lesion_id: str | None
    feature: str
    value_a: Any
    value_b: Any


@dataclass
class PairAgreement:
    """Agreement between reader ``reader_a`` and ``reader_b`` over their shared cases."""

    reader_a: str
    reader_b: str
    n_cases: int
    n_lesion_pairs: int
    kappas: dict[str, Kappa]
    iccs: dict[str, ICC]
    bland_altman: dict[str, BlandAltman]
    disagreements: list[Disagreement]
    only_a: list[str] = field(default_factory=list)  # case ids read by A only
    only_b: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Pairing reads


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _index(records: Sequence[dict], key: str, missing: str, repeated: str) -> dict[str, dict]:
    """Map each record's ``key`` to the record. Raise AgreementError with ``missing`` (formatted with
    index, 0-based, and number, 1-based) for a record without one, or ``repeated`` (formatted with
    value) for a repeat."""
    result: dict[str, dict] = {}
    for index, record in enumerate(records):
        value = record.get(key) if isinstance(record, dict) else None
        if not isinstance(value, str) or not value:
            raise AgreementError(missing.format(index=index, number=index + 1))
        if value in result:
            raise AgreementError(repeated.format(value=value))
        result[value] = record
    return result


def _by_case_id(cases: Sequence[dict], reader: str) -> dict[str, dict]:
    return _index(cases, "case_id", f"reader {reader}: read #{{number}} has no case_id",
                  f"reader {reader}: case {{value!r}} is read twice")


def _by_lesion_id(case: dict, reader: str) -> dict[str, dict]:
    where = f"reader {reader}, case {case['case_id']}"
    return _index(case.get("lesions") or [], "id", f"{where}: lesions[{{index}}] has no id",
                  f"{where}: lesion id {{value!r}} is used twice")


def _section_disagreements(case_id: str, case_a: dict, case_b: dict, tolerance: dict | None) -> list[Disagreement]:
    found = []
    for section, fields in SECTION_FIELDS.items():
        record_a, record_b = case_a.get(section) or {}, case_b.get(section) or {}
        for name in fields:
            value_a, value_b = record_a.get(name), record_b.get(name)
            if not values_agree(name, [value_a, value_b], tolerance):
                found.append(Disagreement(case_id, None, name, value_a, value_b))
    return found


def _lesion_disagreements(case_id: str, lesion_a: dict, lesion_b: dict, tolerance: dict | None) -> list[Disagreement]:
    found = []
    for name in LESION_FIELDS:
        value_a, value_b = field_value(lesion_a, name), field_value(lesion_b, name)
        if not values_agree(name, [value_a, value_b], tolerance):
            found.append(Disagreement(case_id, lesion_a.get("id"), name, value_a, value_b))
    return found


def compare_readers(cases_a: Sequence[dict], cases_b: Sequence[dict], reader_a: str = "A", reader_b: str = "B",
                    tolerance: dict[str, float] | None = None) -> PairAgreement:
    """Take two readers' case dicts (any order), names and optional tolerances (field -> limit,
    over disagreement.TOLERANCE); return their agreement over the cases both read: kappa per
    categorical feature, ICC(2,1) and Bland-Altman per numeric feature, and the disagreements.
    Lesions pair by disagreement.match_lesions; a lesion only one reader drew is a disagreement on
    "lesion" (lesion id of reader A for a pair). Raises AgreementError for a read without case_id,
    a case read twice by one reader, or a lesion without id or with a repeated id."""
    by_a, by_b = _by_case_id(cases_a, reader_a), _by_case_id(cases_b, reader_b)
    shared = [case_id for case_id in by_a if case_id in by_b]
    categorical: dict[str, tuple[list, list]] = {name: ([], []) for name in PATIENT_CATEGORICAL + LESION_CATEGORICAL}
    numeric: dict[str, tuple[list, list]] = {name: ([], []) for name in LESION_NUMERIC}
    disagreements: list[Disagreement] = []
    n_lesion_pairs = 0

    for case_id in shared:
        case_a, case_b = by_a[case_id], by_b[case_id]
        findings_a, findings_b = case_a.get("patient_findings") or {}, case_b.get("patient_findings") or {}
        for name in PATIENT_CATEGORICAL:
            categorical[name][0].append(findings_a.get(name))
            categorical[name][1].append(findings_b.get(name))
        disagreements += _section_disagreements(case_id, case_a, case_b, tolerance)
        lesions_a = list(_by_lesion_id(case_a, reader_a).values())
        lesions_b = list(_by_lesion_id(case_b, reader_b).values())
        for i, j in match_lesions(lesions_a, lesions_b):
            lesion_a = lesions_a[i] if i is not None else None
            lesion_b = lesions_b[j] if j is not None else None
            if lesion_a is None or lesion_b is None:
                lesion_id = (lesion_a or lesion_b).get("id")
                disagreements.append(Disagreement(case_id, lesion_id, "lesion",
                                                  "present" if lesion_a else None, "present" if lesion_b else None))
                continue
            n_lesion_pairs += 1
            for name in LESION_CATEGORICAL:
                categorical[name][0].append(lesion_a.get(name))
                categorical[name][1].append(lesion_b.get(name))
            for name in LESION_NUMERIC:
                numeric[name][0].append(_number(field_value(lesion_a, name)))
                numeric[name][1].append(_number(field_value(lesion_b, name)))
            disagreements += _lesion_disagreements(case_id, lesion_a, lesion_b, tolerance)

    kappas = {name: cohen_kappa(*values) for name, values in categorical.items()}
    iccs, limits = {}, {}
    for name, (values_a, values_b) in numeric.items():
        paired = [(x, y) for x, y in zip(values_a, values_b) if x is not None and y is not None]
        iccs[name] = icc_2_1(np.array(paired, dtype=float).reshape(-1, 2))
        limits[name] = bland_altman(values_a, values_b)
    return PairAgreement(reader_a, reader_b, len(shared), n_lesion_pairs, kappas, iccs, limits, disagreements,
                         [c for c in by_a if c not in by_b], [c for c in by_b if c not in by_a])


def compare_all(reads: dict[str, Sequence[dict]], tolerance: dict[str, float] | None = None,
                progress: Progress | None = None) -> list[PairAgreement]:
    """Take reader name -> that reader's case dicts; return the agreement of every pair of readers
    (in name order), calling progress(done, total) after each pair. Raises AgreementError with
    fewer than two readers."""
    names = sorted(reads)
    if len(names) < 2:
        raise AgreementError(f"agreement needs at least two readers, got {len(names)}: {names}")
    pairs = list(itertools.combinations(names, 2))
    results = []
    for index, (reader_a, reader_b) in enumerate(pairs, start=1):
        results.append(compare_readers(reads[reader_a], reads[reader_b], reader_a, reader_b, tolerance))
        if progress:
            progress(index, len(pairs))
    return results


def reader_folders(folder: str | os.PathLike, include_consensus: bool = False) -> dict[str, Path]:
    """Take DIR; return reader name -> folder for DIR/reads/<reader>/ (when DIR/reads exists) or
    DIR/<reader>/. Raises AgreementError when DIR is not a folder."""
    root = Path(folder)
    if not root.is_dir():
        raise AgreementError(f"{folder}: not a folder")
    base = root / READS_DIR if (root / READS_DIR).is_dir() else root
    readers = {}
    for child in sorted(base.iterdir()):
        if not child.is_dir() or child.name.startswith((".", "_")):
            continue
        if child.name in REPORT_FOLDERS or (child.name == CONSENSUS_READER and not include_consensus):
            continue
        readers[child.name] = child
    return readers


def read_files(reader_folder: Path) -> list[Path]:
    """Take a reader's folder; return its <case_id>.json reads (sorted; no *.state.json, *.mrk.json
    or dot files)."""
    return [path for path in sorted(reader_folder.glob("*.json"))
            if path.is_file() and not path.name.endswith((".state.json", ".mrk.json"))
            and not path.name.startswith(".")]


def read_folder(folder: str | os.PathLike, readers: Sequence[str] | None = None, include_consensus: bool = False,
                progress: Progress | None = None) -> tuple[dict[str, list[dict]], list[tuple[str, str]]]:
    """Take DIR (layout in the module doc) and optionally the readers to use; return
    (reader -> case dicts, skipped files as (path, reason)). Each read's case_id is its file name.
    Raises AgreementError for a missing folder or a named reader without a folder."""
    from .case_io import load_case

    folders = reader_folders(folder, include_consensus=include_consensus or CONSENSUS_READER in (readers or ()))
    if readers:
        missing = [name for name in readers if name not in folders]
        if missing:
            raise AgreementError(f"{folder}: no reads folder for reader(s) {', '.join(missing)} "
                                 f"(found: {', '.join(folders) or 'none'})")
        folders = {name: folders[name] for name in readers}
    files = [(name, path) for name, reader_folder in folders.items() for path in read_files(reader_folder)]
    reads: dict[str, list[dict]] = {name: [] for name in folders}
    skipped: list[tuple[str, str]] = []
    from .files import unsafe_to_read

    for index, (name, path) in enumerate(files, start=1):
        reason = unsafe_to_read(path, folder)
        if reason:
            skipped.append((str(path), reason))
            continue
        try:
            case = load_case(path)
        except (OSError, ValueError) as error:
            skipped.append((str(path), str(error)))
        else:
            case["case_id"] = path.stem  # the layout names the file after the case
            reads[name].append(case)
        if progress:
            progress(index, len(files))
    return reads, skipped


# --------------------------------------------------------------------------------------------
# Report


def _f(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _v(value: Any) -> str:
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def to_markdown(results: Sequence[PairAgreement]) -> str:
    """Take pair agreements; return a Markdown report: kappa table, ICC/Bland-Altman table and the
    disagreements of each pair of readers."""
    from . import RESEARCH_USE_LABEL

    out = ["# Inter-reader agreement", "", f"_{RESEARCH_USE_LABEL}_", ""]
    for result in results:
        out += [f"## {result.reader_a} vs {result.reader_b}: {result.n_cases} cases, "
                f"{result.n_lesion_pairs} paired lesions", ""]
        if result.only_a or result.only_b:
            out += [f"Read by {result.reader_a} only: {', '.join(result.only_a) or '-'}; "
                    f"by {result.reader_b} only: {', '.join(result.only_b) or '-'}", ""]
        out += ["| Feature | n | Observed agreement | Kappa | 95% CI |", "|---|---|---|---|---|"]
        for name, k in result.kappas.items():
            out.append(f"| {name} | {k.n} | {_f(k.observed)} | {k.text()} | {_f(k.ci_low)} to {_f(k.ci_high)} |")
        out += ["", f"| Feature | n | ICC(2,1) | 95% CI | Bias ({result.reader_a} - {result.reader_b}) | "
                "95% limits of agreement |", "|---|---|---|---|---|---|"]
        for name, icc in result.iccs.items():
            ba = result.bland_altman[name]
            out.append(f"| {name} | {icc.n} | {_f(icc.icc)} | {_f(icc.ci_low)} to {_f(icc.ci_high)} | "
                       f"{_f(ba.bias)} | {_f(ba.lower)} to {_f(ba.upper)} |")
        out += ["", f"### Disagreements to settle ({len(result.disagreements)})", ""]
        if result.disagreements:
            out += [f"| Case | Lesion | Feature | {result.reader_a} | {result.reader_b} |", "|---|---|---|---|---|"]
            out += [f"| {d.case_id} | {d.lesion_id or '-'} | {d.feature} | {_v(d.value_a)} | {_v(d.value_b)} |"
                    for d in result.disagreements]
        out.append("")
    return "\n".join(out)


def disagreements_csv(results: Sequence[PairAgreement]) -> str:
    """Take pair agreements; return every disagreement as CSV text
    (reader_a, reader_b, case_id, lesion_id, feature, value_a, value_b)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["reader_a", "reader_b", "case_id", "lesion_id", "feature", "value_a", "value_b"])
    for result in results:
        for d in result.disagreements:
            writer.writerow([result.reader_a, result.reader_b, d.case_id, d.lesion_id or "", d.feature,
                             _v(d.value_a), _v(d.value_b)])
    return buffer.getvalue()


def to_json_dict(results: Sequence[PairAgreement]) -> dict:
    """Take pair agreements; return them as a JSON-ready dict."""
    from dataclasses import asdict

    return {"pairs": [{
        "reader_a": r.reader_a, "reader_b": r.reader_b, "n_cases": r.n_cases, "n_lesion_pairs": r.n_lesion_pairs,
        "only_a": r.only_a, "only_b": r.only_b,
        "kappa": {name: asdict(k) for name, k in r.kappas.items()},
        "icc_2_1": {name: asdict(i) for name, i in r.iccs.items()},
        "bland_altman": {name: asdict(b) for name, b in r.bland_altman.items()},
        "disagreements": [asdict(d) for d in r.disagreements],
    } for r in results]}
