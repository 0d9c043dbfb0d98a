"""``iscm-assist report``: one self-contained HTML page, no identifiers unless asked."""

from __future__ import annotations

import base64

from ISCMAssistLib import RESEARCH_USE_LABEL
from ISCMAssistLib.case_io import save_case
from ISCMAssistLib.cli import main

from test_sr import full_case

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def test_report_holds_case_lesions_checklist_hints_figure_and_no_identifiers(tmp_path, capsys):
    case = full_case()
    case["identifiers"] = {"patient_name": "Zyxwvut^Quirina", "patient_id": "739154"}
    save_case(case, tmp_path / "case.json", include_identifiers=True)
    (tmp_path / "case.png").write_bytes(PNG)
    out = tmp_path / "report.html"
    assert main(["report", str(tmp_path / "case.json"), "--out", str(out)]) == 0
    page = out.read_text("utf-8")
    assert page.count(RESEARCH_USE_LABEL) == 2 and "case-007" in page
    assert "Lesion L1" in page and "levels spanned: T4-T6" in page and "Lesion L2" in page
    assert "Number of ISCMs" in page and "data:image/png;base64," in page
    assert "<script" not in page and "http" not in page.replace('lang="en"', "")  # self-contained
    assert 'class="kind"' in page  # hints with their kind
    assert "Zyxwvut" not in page and "739154" not in page
    assert main(["report", str(tmp_path / "case.json"), "--out", str(out), "--with-identifiers"]) == 0
    assert "Zyxwvut" in out.read_text("utf-8")
    assert main(["report", str(tmp_path / "case.json"), "--out", str(out), "--figure", str(tmp_path / "case.json")]) == 2
    assert "not a PNG" in capsys.readouterr().err
