"""Readers: every shape of extract the senders use, and every way a file can be broken."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from flows.readers import ExtractReadError, read_extract
from transforms.mapping import SourceMapping, load_mapping

SHARED_SAMPLES = Path("/work/shared/spec/samples")
SAMPLES = SHARED_SAMPLES if SHARED_SAMPLES.exists() else Path(__file__).parents[1] / "data" / "samples"
CST = SAMPLES / "cst" / "cst_incidents_20261104.csv"
GMP = SAMPLES / "police" / "gmp" / "gmp_antisemitic_crimes_20261019.csv"
MPS = SAMPLES / "police" / "mps" / "MPS_Antisemitic_2026_10.xlsx"
WYP = SAMPLES / "police" / "wyp" / "wyp-hate-2026-10-01.jsonl"


@pytest.fixture(scope="module")
def mappings() -> dict[str, SourceMapping]:
    return {name: load_mapping(f"builtin:{name}") for name in ("cst", "gmp", "mps", "wyp")}


def refused(data: bytes, mapping: SourceMapping) -> ExtractReadError:
    with pytest.raises(ExtractReadError) as caught:
        read_extract(data, mapping)
    return caught.value


def xlsx(rows: list[list[object]], sheet: str = "Export") -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    worksheet = workbook.add_worksheet(sheet)
    for number, row in enumerate(rows):
        worksheet.write_row(number, 0, row)
    workbook.close()
    return buffer.getvalue()


# -- the samples, as sent ---------------------------------------------------------------


def test_samples_read_as_string_frames_with_row_numbers(mappings):
    cases = [(CST, "cst", 5), (GMP, "gmp", 3), (MPS, "mps", 24), (WYP, "wyp", 1)]
    for path, source, rows in cases:
        extract = read_extract(path.read_bytes(), mappings[source])
        frame = extract.frame
        assert extract.bad_rows == []
        assert frame.height == rows
        assert frame["_row"].to_list() == list(range(1, rows + 1))
        assert all(dtype == pl.String for name, dtype in frame.schema.items() if name != "_row")
        assert set(mappings[source].required_source_columns) <= set(frame.columns)


def test_xlsx_date_cells_become_iso_text(mappings):
    frame = read_extract(MPS.read_bytes(), mappings["mps"]).frame
    assert frame["Date From"][0] == "2026-10-01T12:15:00"
    assert frame["Reported"][0] == "2026-10-02"


def test_jsonl_is_flattened_with_persons_by_role(mappings):
    frame = read_extract(WYP.read_bytes(), mappings["wyp"]).frame
    row = frame.row(0, named=True)
    assert row["occurred.from"] == "2026-10-01T22:45:00"
    assert row["flags"] == "hate:religion:jewish|hate:race"
    assert row["persons.victim.name"] == "Oliver Steinhardt"


def test_a_json_array_of_records_is_accepted(mappings):
    record = json.loads(WYP.read_text(encoding="utf-8"))
    frame = read_extract(json.dumps([record, record]).encode(), mappings["wyp"]).frame
    assert frame.height == 2 and frame["_row"].to_list() == [1, 2]


def test_header_case_and_spacing_follow_the_mapping(mappings):
    text = CST.read_text(encoding="utf-8-sig")
    header, rest = text.split("\n", 1)
    shouted = header.replace("Incident Ref", "INCIDENT  REF ").replace("Category", "category")
    frame = read_extract((shouted + "\n" + rest).encode(), mappings["cst"]).frame
    assert {"Incident Ref", "Category"} <= set(frame.columns)


def test_windows_1252_sender_and_bom_and_crlf(mappings):
    mapping = mappings["gmp"].model_copy(update={"csv": mappings["gmp"].csv.model_copy(update={"encoding": "cp1252"})})
    text = GMP.read_text(encoding="utf-8").replace("PINKERFELD", "PINKERFÉLD").replace("\n", "\r\n")
    frame = read_extract(text.encode("cp1252"), mapping).frame
    assert "PINKERFÉLD" in frame["MO_TEXT"][2]
    # the same sender sending UTF-8 is read as UTF-8, not garbled
    frame = read_extract(text.encode("utf-8"), mapping).frame
    assert "PINKERFÉLD" in frame["MO_TEXT"][2]


# -- file-level failures ----------------------------------------------------------------------


def test_empty_and_whitespace_only_files(mappings):
    for data in (b"", b"   \r\n\n", b"\xef\xbb\xbf"):
        error = refused(data, mappings["cst"])
        assert (error.rule, error.reason) == ("file_not_empty", "the file is empty")
    assert refused(b"", mappings["mps"]).rule == "file_not_empty"


def test_header_only(mappings):
    header = CST.read_bytes().split(b"\n", 1)[0] + b"\n"
    error = refused(header, mappings["cst"])
    assert (error.rule, error.reason) == ("file_has_rows", "the file has a header but no data rows")
    error = refused(xlsx([["CRIS Ref", "Offence Sub Type", "Date From", "Status"]]), mappings["mps"])
    assert error.rule == "file_has_rows"


def test_undecodable_encoding_names_the_offset_not_the_content(mappings):
    data = CST.read_bytes().replace("Siobhán".encode(), "Siobhán".encode("cp1252"))
    offset = data.index(b"Siobh") + 5
    error = refused(data, mappings["cst"])
    assert error.rule == "decodable_as_declared_encoding"
    assert error.reason == f"the file cannot be decoded as utf-8 (first undecodable byte at offset {offset})"


def test_utf16_is_named(mappings):
    error = refused(CST.read_text(encoding="utf-8-sig").encode("utf-16"), mappings["cst"])
    assert (error.rule, error.reason) == (
        "decodable_as_declared_encoding", "the file is UTF-16 encoded; the mapping declares utf-8"
    )


def test_nul_bytes(mappings):
    data = WYP.read_bytes()
    broken = data[:40] + b"\x00\x00" + data[40:]
    error = refused(broken, mappings["wyp"])
    assert (error.rule, error.reason) == (
        "no_nul_bytes", "the file contains NUL bytes (first at byte 40): not a text extract"
    )


def test_truncated_mid_row(mappings):
    data = GMP.read_bytes()
    cut = data[: data.index(b"238 Waterpark")]  # inside the last row, outside quotes
    error = refused(cut, mappings["gmp"])
    assert error.rule == "complete_rows"
    assert error.reason == (
        "the last row has 7 of 16 fields and the file does not end with a line break: "
        "the file is truncated mid-row"
    )
    inside_quotes = data[: data.index(b"Dominic")]
    error = refused(inside_quotes, mappings["gmp"])
    assert (error.rule, error.reason) == (
        "complete_rows", "a quoted field is never closed: the file is truncated mid-row"
    )
    mid_character = CST.read_bytes()[: CST.read_bytes().index("Siobhán".encode()) + 6]
    assert refused(mid_character, mappings["cst"]).rule == "complete_rows"
    lines = WYP.read_bytes()
    error = refused(lines + lines[:100], mappings["wyp"])
    assert error.rule == "complete_rows"


def test_truncated_workbook(mappings):
    data = MPS.read_bytes()
    error = refused(data[: len(data) // 2], mappings["mps"])
    assert (error.rule, error.reason) == (
        "is_spreadsheet", "the workbook cannot be opened: its ZIP container is damaged or truncated"
    )


def test_not_a_spreadsheet(mappings):
    error = refused(GMP.read_bytes(), mappings["mps"])
    assert (error.rule, error.reason) == (
        "is_spreadsheet", "the file is not an XLSX workbook (it looks like text or unknown binary data)"
    )
    error = refused(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, mappings["mps"])
    assert error.reason == (
        "the file is an Excel 97-2003 (.xls) or password-protected workbook, not an XLSX workbook"
    )
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("notes.txt", "hello")
    error = refused(archive.getvalue(), mappings["mps"])
    assert error.reason == "the file is a ZIP archive but not an XLSX workbook"
    error = refused(xlsx([["CRIS Ref"], ["01/2300001/26"]], sheet="Sheet1"), mappings["mps"])
    assert (error.rule, error.reason) == ("sheet_present", "the workbook has no sheet named 'Export'")


def test_zip_bomb_is_refused_before_it_is_expanded(mappings, monkeypatch):
    monkeypatch.setattr("flows.readers.XLSX_MAX_UNCOMPRESSED_BYTES", 1000)
    error = refused(MPS.read_bytes(), mappings["mps"])
    assert error.rule == "workbook_size"


def test_junk_that_is_not_an_extract(mappings):
    letter = b"Dear Sir,\nPlease find attached the figures for Mr Jonah Plantagenet.\nRegards\n"
    error = refused(letter, mappings["gmp"])
    assert (error.rule, error.reason) == (
        "is_extract", "none of the columns a gmp extract has were found: not an extract of this source"
    )
    error = refused(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, mappings["cst"])
    assert (error.rule, error.reason) == ("is_extract", "the file is a PNG image, not a CSV extract")
    error = refused(b"%PDF-1.7\n...", mappings["wyp"])
    assert error.reason == "the file is a PDF document, not a JSON Lines extract"
    error = refused(b"this is not json\nnor this\n", mappings["wyp"])
    assert error.rule == "parseable_json_lines"
    error = refused(b'{"foo": 1}\n{"bar": 2}\n', mappings["wyp"])
    assert error.rule == "is_extract"


def test_wrong_delimiter_is_hinted(mappings):
    text = GMP.read_text(encoding="utf-8").replace(",", ";")
    error = refused(text.encode(), mappings["gmp"])
    assert error.rule == "is_extract"
    assert error.reason.endswith("(the header seems to be separated by ';', the mapping says ',')")


def test_a_required_column_twice_is_refused(mappings):
    text = GMP.read_text(encoding="utf-8")
    header, rest = text.split("\n", 1)
    error = refused((header.replace("OUTCOME", "CRIME_REF") + "\n" + rest).encode(), mappings["gmp"])
    assert (error.rule, error.reason) == ("unique_column_names", "columns appear more than once: CRIME_REF")


def test_missing_required_column_is_left_to_validation(mappings):
    text = GMP.read_text(encoding="utf-8")
    frame = pl.read_csv(io.StringIO(text), infer_schema=False).drop("RECORD_STATUS")
    extract = read_extract(frame.write_csv().encode(), mappings["gmp"])
    assert "RECORD_STATUS" not in extract.frame.columns and extract.frame.height == 3


# -- row-level failures and hostile content ------------------------------------------------------


def test_ragged_rows_are_set_aside_alone(mappings):
    lines = GMP.read_text(encoding="utf-8").splitlines()
    lines.insert(2, "GMP/26/0100099,8M,too,few")
    lines[1] = lines[1] + ",extra,fields"
    extract = read_extract(("\n".join(lines) + "\n").encode(), mappings["gmp"])
    assert extract.bad_rows == [
        (1, "row_field_count", "the row has 18 fields, the header has 16"),
        (2, "row_field_count", "the row has 4 fields, the header has 16"),
    ]
    assert extract.frame["_row"].to_list() == [3, 4]


def test_trailing_delimiters_are_tolerated(mappings):
    lines = GMP.read_text(encoding="utf-8").splitlines()
    text = "\n".join([lines[0], *(line + ",," for line in lines[1:])]) + "\n"
    extract = read_extract(text.encode(), mappings["gmp"])
    assert extract.bad_rows == [] and extract.frame.height == 3


def test_malformed_quoting_sets_aside_that_row(mappings):
    lines = GMP.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace("Arson not endangering life", '"Arson" not endangering life')
    extract = read_extract(("\n".join(lines) + "\n").encode(), mappings["gmp"])
    assert extract.bad_rows == [(1, "well_formed_quoting", "the row has a malformed quoted field")]
    assert extract.frame.height == 2


def test_bad_json_lines_are_set_aside_alone(mappings):
    good = WYP.read_text(encoding="utf-8").strip()
    text = "\n".join([good, "{not json", "[1, 2]", "", good]) + "\n"
    extract = read_extract(text.encode(), mappings["wyp"])
    assert extract.bad_rows == [
        (2, "parseable_json_line", "the line is not valid JSON (Expecting property name enclosed in double quotes)"),
        (3, "parseable_json_line", "the line is not a JSON object"),
    ]
    assert extract.frame["_row"].to_list() == [1, 5]
    deep = "[" * 100_000 + "]" * 100_000
    extract = read_extract("\n".join([good, deep, good]).encode() + b"\n", mappings["wyp"])
    assert [row[1] for row in extract.bad_rows] == ["parseable_json_line"]


def test_control_characters_are_cleaned_and_text_is_kept(mappings):
    text = CST.read_text(encoding="utf-8-sig")
    text = text.replace("Stamford Hill,n16", "Stam\x07ford\x1b[0m Hi\u202ell,n16", 1)
    text = text.replace("Miriam Whitworth", "Miriam\x0b Whit\x85worth\x7f", 1)
    frame = read_extract(text.encode(), mappings["cst"]).frame
    assert frame["Town"][0] == "Stamford[0m Hill"
    assert frame["Victim Name"][0] == "Miriam Whitworth"
    for column in frame.columns[1:]:
        values = frame[column].drop_nulls().to_list()
        assert not any(any(ord(ch) < 32 and ch not in "\t\n" for ch in v) for v in values)


def test_formula_text_is_kept_as_text(mappings):
    text = CST.read_text(encoding="utf-8-sig").replace(
        "Stamford Hill,n16", '"=HYPERLINK(""http://x.example"",""click"")",n16', 1
    )
    frame = read_extract(text.encode(), mappings["cst"]).frame
    assert frame["Town"][0] == '=HYPERLINK("http://x.example","click")'


def test_megabyte_field_is_read(mappings):
    big = "word " * 200_000
    text = CST.read_text(encoding="utf-8-sig").replace(
        "mocked her kippah and laughed.", f"mocked her kippah and laughed. {big}", 1
    )
    frame = read_extract(text.encode(), mappings["cst"]).frame
    assert frame["Description"].str.len_chars().max() > 1_000_000
    assert frame.height == 5
