"""The scale benchmark's thinned extracts (`benchmarks/scale.py`): what its 1x-volume night delivers."""

from __future__ import annotations

import pytest

from benchmarks.scale import thinned

CSV = (
    "\ufeffIncident Ref,Description\r\n"
    'CST/1,"one line"\r\n'
    'CST/2,"two\r\nlines, and a comma"\r\n'
    "CST/3,three\r\n"
    "CST/4,four\r\n"
    "CST/5,five\r\n"
).encode()


def test_a_csv_keeps_its_header_mark_endings_and_one_record_in_n() -> None:
    assert thinned(CSV, ".csv", 2) == (
        '\ufeffIncident Ref,Description\r\nCST/1,one line\r\nCST/3,three\r\nCST/5,five\r\n'
    ).encode()


def test_a_record_spanning_lines_stays_whole() -> None:
    assert thinned(b"ref,text\nA,\"x\ny\"\nB,z\n", ".csv", 1) == b'ref,text\nA,"x\ny"\nB,z\n'
    assert thinned(b"ref,text\nA,\"x\ny\"\nB,z\n", ".csv", 2) == b'ref,text\nA,"x\ny"\n'


def test_json_lines_keep_one_line_in_n() -> None:
    assert thinned(b'{"a": 1}\n{"a": 2}\n{"a": 3}\n', ".jsonl", 2) == b'{"a": 1}\n{"a": 3}\n'


def test_a_workbook_is_refused() -> None:
    with pytest.raises(ValueError, match="xlsx"):
        thinned(b"PK", ".xlsx", 2)
