"""One self-contained HTML page of a read, for a clinician: case, lesions, levels, checklist, hints, figure.

No identifiers unless asked (``with_identifiers``). Hints come from ``hints.compute_hints``; each
hint's ``kind`` is shown when the hint has one (read with getattr: the attribute is new), else its
direction. The figure is embedded as a base64 PNG, so the page needs no other file.
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path
from typing import Any

from . import RESEARCH_USE_LABEL
from .case import CLINICAL_FEATURES, IDENTIFIER_FIELDS, LESION_FEATURES, PATIENT_FEATURES


def _cell(value: Any, unit: str | None = None) -> str:
    if value is None:
        return '<span class="na">not assessed</span>'
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_cell(v, unit)}" for k, v in value.items() if v is not None) or _cell(None)
    if isinstance(value, list):
        return ", ".join(html.escape(str(v).replace("_", " ")) for v in value) or "none"
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return html.escape(text.replace("_", " ") + (f" {unit}" if unit else ""))


def _table(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(label)}</th><td>{value}</td></tr>" for label, value in rows)
    return f"<table>{body}</table>"


def _hints_html(case: dict) -> str:
    from .hints import compute_hints

    items = []
    for hint in compute_hints(case):
        kind = getattr(hint, "kind", None) or getattr(hint, "direction", "")
        where = f" ({html.escape(hint.lesion_id)})" if getattr(hint, "lesion_id", None) else ""
        evidence = "".join(
            f"<li>{html.escape(e.text)}"
            + (f" ({e.numerator}/{e.denominator})" if getattr(e, "numerator", None) is not None else "")
            + f" <span class=\"src\">[{html.escape(str(getattr(e, 'source', '')))}]</span></li>"
            for e in getattr(hint, "evidence", []) or [])
        items.append(f'<li><span class="kind">{html.escape(str(kind))}</span>{where} {html.escape(hint.text)}'
                     f"<ul>{evidence}</ul></li>")
    return "<ul class=\"hints\">" + "".join(items) + "</ul>" if items else "<p>No hint applies.</p>"


def report_html(case: dict, figure_png: bytes | None = None, with_identifiers: bool = False) -> str:
    """Take a validated case dict, optional PNG bytes of the annotated figure, and whether to show
    identifiers; return the HTML page (str, UTF-8, self-contained)."""
    title = f"ISCM read {html.escape(str(case.get('case_id', '')))}"
    reader = case.get("reader") or {}
    parts = [f"<h1>{title}</h1>", f'<p class="ruo">{html.escape(RESEARCH_USE_LABEL)}</p>',
             _table([("Case", _cell(case.get("case_id"))), ("Reader", _cell(reader.get("name"))),
                     ("Read at", _cell(reader.get("read_at"))), ("Lesions", str(len(case.get("lesions") or [])))])]
    if with_identifiers and case.get("identifiers"):
        parts.append("<h2>Identifiers</h2>" + _table([(f, _cell(case["identifiers"].get(f))) for f in IDENTIFIER_FIELDS]))
    if figure_png:
        data = base64.b64encode(figure_png).decode("ascii")
        parts.append(f'<h2>Annotated figure</h2><img alt="annotated read" src="data:image/png;base64,{data}">')
    for lesion in case.get("lesions") or []:
        rows = [(f.label, _cell(lesion.get(f.name), f.unit)) for f in LESION_FEATURES]
        parts.append(f"<h2>Lesion {html.escape(lesion['id'])} &mdash; levels spanned: {_cell(lesion.get('levels'))}</h2>"
                     + _table(rows))
    findings = case.get("patient_findings") or {}
    parts.append("<h2>Checklist (patient)</h2>" + _table([(f.label, _cell(findings.get(f.name))) for f in PATIENT_FEATURES]))
    clinical = case.get("clinical") or {}
    parts.append("<h2>Clinical</h2>" + _table([(f.label, _cell(clinical.get(f.name), f.unit)) for f in CLINICAL_FEATURES]))
    parts.append("<h2>Hints</h2><p>Hints support the reader; they never state a diagnosis.</p>" + _hints_html(case))
    parts.append(f'<p class="ruo">{html.escape(RESEARCH_USE_LABEL)}</p>')
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse;margin:.5em 0}"
             "th,td{border:1px solid #bbb;padding:.2em .6em;text-align:left}th{background:#f3f3f3}"
             ".na{color:#888}.ruo{font-weight:bold;color:#a00}.kind{font-weight:bold;text-transform:uppercase;"
             "font-size:.8em;margin-right:.4em}.src{color:#666}img{max-width:100%}")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n")


def write_report(case: dict, path: str | os.PathLike, figure: str | os.PathLike | None = None,
                 with_identifiers: bool = False) -> Path:
    """Take a case, the output path, an optional PNG figure path and the identifier switch; write the
    page atomically and return its path. Raises OSError naming a figure that cannot be read."""
    from .files import atomic_write_text

    png = None
    if figure is not None:
        try:
            png = Path(figure).read_bytes()
        except OSError as error:
            raise OSError(f"{figure}: cannot read the figure: {error.strerror or error}") from None
        if not png.startswith(b"\x89PNG"):
            raise ValueError(f"{figure}: the figure is not a PNG file")
    atomic_write_text(path, report_html(case, png, with_identifiers))
    return Path(path)
