"""The cohort report files: cohort.md, cohort.csv, cohort_comparisons.csv, cohort.json and cohort.png
(the cohort's Tables 1-3 beside the study's, and the solitary vs multiple comparisons)."""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from . import RESEARCH_USE_LABEL
from .cohort import CohortResult, CohortRow
from .evidence import TABLES, CountRow
from .files import atomic_write_bytes, atomic_write_text, refuse_links


def to_markdown(result: CohortResult) -> str:
    """Take a cohort result; return the report as Markdown (tables in the study's layout)."""
    out = [f"# ISCM cohort: {result.n_patients} patients, {result.n_lesions} lesions", "",
           f"_{RESEARCH_USE_LABEL}_ Study: 49 patients, 70 lesions. Denominators leave out values that were "
           "not assessable.", ""]
    if result.read_rule:
        out += [f"Reads counted: {result.read_rule}.", ""]
    out += [f"- warning: {warning}" for warning in result.warnings] + ([""] if result.warnings else [])
    for table in TABLES:
        out += [f"## {table.name}: {table.title}", "", "| Feature | Cohort | Study |", "|---|---|---|"]
        group = None
        for row in (r for r in result.rows if r.table == table.name):
            if row.group != group:
                group = row.group
                study_n = {r.study.denominator for r in result.rows
                           if r.table == table.name and r.group == group and r.kind == "count"}
                suffix = f" (study n = {study_n.pop()})" if len(study_n) == 1 else ""
                out.append(f"| **{group}**{suffix} | | |")
            source = f" ({row.study.source})" if row.study.source else ""
            unit = row.study.unit if row.kind == "summary" and row.study.unit not in row.group else ""
            label = f"{row.label}, {unit}" if unit else row.label
            out.append(f"| {label}{source} | {row.cohort_text()} | {row.study_text()} |")
        out.append("")
    out += ["## Solitary vs multiple ISCMs (chi-square, no continuity correction)", "",
            "| Comparison | Solitary | Multiple | Cohort P | Study P |", "|---|---|---|---|---|"]
    for comp in result.comparisons:
        solitary = ", ".join(f"{c} {n}" for c, n in zip(comp.categories, comp.table[0]))
        multiple = ", ".join(f"{c} {n}" for c, n in zip(comp.categories, comp.table[1]))
        cohort_p = comp.p_text() if comp.p_value is not None else f"- ({comp.note})"
        out.append(f"| {comp.label} | {solitary} | {multiple} | {cohort_p} | {comp.study_p_text()} |")
    out.append("")
    if result.skipped:
        out += [f"## Skipped files ({len(result.skipped)})", ""]
        out += [f"- `{path}`: {reason}" for path, reason in result.skipped]
        out.append("")
    return "\n".join(out)


_CSV_COLUMNS = ("table", "group", "label", "source", "statistic", "cohort_n", "cohort_denominator",
                "cohort_percent", "cohort_value", "cohort_low", "cohort_high", "study_n", "study_denominator",
                "study_percent", "study_value", "study_low", "study_high")


def _csv_text(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if cell is None else cell for cell in row])
    return buffer.getvalue()


def to_csv(result: CohortResult) -> str:
    """Take a cohort result; return the table rows as CSV text (one row per table row, both columns)."""
    def cells(row: CohortRow) -> list:
        study = row.study
        if isinstance(study, CountRow):
            return [row.table, row.group, row.label, study.source or row.table, "count", row.n, row.denominator,
                    row.percent, None, None, None, study.n, study.denominator, study.percent, None, None, None]
        return [row.table, row.group, row.label, study.source or row.table, row.statistic, row.count, None, None,
                row.value, row.low, row.high, study.n, None, None, study.value, study.low, study.high]
    return _csv_text(_CSV_COLUMNS, (cells(row) for row in result.rows))


def comparisons_csv(result: CohortResult) -> str:
    """Take a cohort result; return the solitary vs multiple tests as CSV text."""
    header = ("comparison", "categories", "solitary_counts", "multiple_counts", "chi2", "dof", "p_value",
              "study_p_value", "note")
    return _csv_text(header, ([c.label, ";".join(c.categories), ";".join(map(str, c.table[0])),
                               ";".join(map(str, c.table[1])), c.chi2, c.dof, c.p_value, c.study.p_value, c.note]
                              for c in result.comparisons))


def to_json(result: CohortResult) -> str:
    """Take a cohort result; return it as JSON text (rows, comparisons, skipped files)."""
    def row_dict(row: CohortRow) -> dict:
        data = {k: v for k, v in asdict(row).items() if k != "study"}
        data["study"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(row.study).items()}
        return data

    data = {
        "label": RESEARCH_USE_LABEL,
        "n_patients": result.n_patients,
        "n_lesions": result.n_lesions,
        "read_rule": result.read_rule,
        "warnings": result.warnings,
        "rows": [row_dict(row) for row in result.rows],
        "comparisons": [{"key": c.key, "label": c.label, "categories": c.categories, "table": c.table,
                         "chi2": c.chi2, "dof": c.dof, "p_value": c.p_value, "study_p_value": c.study.p_value,
                         "note": c.note} for c in result.comparisons],
        "skipped": [{"file": path, "reason": reason} for path, reason in result.skipped],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def figure_png(result: CohortResult) -> bytes:
    """Take a cohort result; return a PNG (bytes) of the cohort's prevalences (%) beside the study's,
    one panel per table, one pair of bars per count row."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    tables = [[r for r in result.rows if r.table == t.name and r.kind == "count"] for t in TABLES]
    height = max(len(rows) for rows in tables) * 0.32 + 1.6
    fig = Figure(figsize=(18, height), dpi=90)
    # fixed margins: a constrained layout would double the time to draw
    fig.subplots_adjust(left=0.16, right=0.99, wspace=0.95, top=1 - 0.7 / height, bottom=0.6 / height)
    for axis, table, rows in zip(fig.subplots(1, len(TABLES)), TABLES, tables):
        y = np.arange(len(rows))[::-1]
        cohort = [np.nan if r.percent is None else r.percent for r in rows]
        study = [r.study.percent for r in rows]
        count = result.n_lesions if table.basis == "lesion" else result.n_patients
        axis.barh(y + 0.2, cohort, height=0.4, color="#4575b4", label=f"cohort ({count} {table.basis}s)")
        axis.barh(y - 0.2, study, height=0.4, color="#bababa", label=f"study ({table.total} {table.basis}s)")
        axis.set_yticks(y, [_short_label(r, rows) for r in rows], fontsize=7)
        axis.set_xlim(0, 100)
        axis.set_xlabel("prevalence (%)")
        axis.set_title(f"{table.name} ({table.basis})", fontsize=10)
        axis.legend(fontsize=7, loc="lower right")
    fig.suptitle(f"ISCM cohort vs reference study. {RESEARCH_USE_LABEL}", fontsize=10)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _short(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",:;/") + "..."


def _short_label(row: CohortRow, rows: list[CohortRow]) -> str:
    """A figure label: the row label, prefixed by its group when another group has the same label."""
    if sum(other.label == row.label for other in rows) > 1:
        return f"{_short(row.group, 24)}: {_short(row.label, 24)}"
    return _short(row.label, 44)


def write_report(result: CohortResult, out_dir: str | os.PathLike, figure: bool = True) -> dict[str, Path]:
    """Take a cohort result and an output folder (created if missing); write cohort.md, cohort.csv,
    cohort_comparisons.csv, cohort.json and (if ``figure``) cohort.png atomically; return name -> path."""
    folder = Path(out_dir)
    refuse_links(folder, folder.parent)  # a linked report folder would send the report elsewhere
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(f"{folder}: cannot create the output folder: {error.strerror or error}") from error
    texts = {"cohort.md": to_markdown(result), "cohort.csv": to_csv(result),
             "cohort_comparisons.csv": comparisons_csv(result), "cohort.json": to_json(result)}
    written = {}
    for name, text in texts.items():
        atomic_write_text(folder / name, text)
        written[name] = folder / name
    if figure:
        atomic_write_bytes(folder / "cohort.png", figure_png(result))
        written["cohort.png"] = folder / "cohort.png"
    return written
