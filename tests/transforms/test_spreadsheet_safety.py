"""Formula injection: text a spreadsheet would run is neutralised before any CSV/XLSX is written."""

from __future__ import annotations

import io

import polars as pl

from transforms.spreadsheet_safety import safe_text, spreadsheet_safe

HOSTILE = ['=HYPERLINK("http://x.example","click")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
           "\t=1+1", "\r=1+1", "＝1+1"]


def test_formula_text_gets_an_apostrophe_and_other_values_stay():
    frame = pl.DataFrame(
        {
            "text": [*HOSTILE, "-5", "+3.25", "1e-3", "normal", "a=b", None],
            "number": list(range(13)),
            "flags": [["=x", "ok"]] * 13,
        }
    )
    safe = spreadsheet_safe(frame)
    assert safe["text"].to_list() == [*("'" + v for v in HOSTILE), "-5", "+3.25", "1e-3", "normal", "a=b", None]
    assert safe["number"].to_list() == list(range(13))
    assert safe["flags"][0].to_list() == ["'=x", "ok"]
    assert frame["text"][0] == HOSTILE[0]  # the input frame is not changed


def test_column_names_are_neutralised_too():
    assert spreadsheet_safe(pl.DataFrame({"=cmd": [1], "name": [2]})).columns == ["'=cmd", "name"]
    assert [safe_text(v) for v in ["=1", "-1", "", None]] == ["'=1", "-1", "", None]


def test_written_csv_and_xlsx_hold_no_formula():
    safe = spreadsheet_safe(pl.DataFrame({"text": HOSTILE}))
    back = pl.read_csv(io.StringIO(safe.write_csv()))
    assert all(v.startswith("'") for v in back["text"])
    buffer = io.BytesIO()
    safe.write_excel(buffer)
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(buffer.getvalue())).active
    cells = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert all(isinstance(v, str) and v.startswith("'") for v in cells)
