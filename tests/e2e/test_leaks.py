"""Leak test: unique personal values planted in every input field must come out nowhere.

A demo landing area is rewritten so that every row of every source carries
unique marker values in each of its personal fields (names, phones, emails,
dates of birth, addresses, full postcodes) and, inside its free text, all of
them plus plates, handles, NI numbers and a witness named nowhere else; also in
columns no mapping reads, in a row that fails validation, in a file that cannot
be read at all and in a folder no source is configured for. Then everything
that exists runs: nightly (validation, staging, linkage, marts, publish),
exchange packs for every partner, the matches export, the report, status, the
review queue and `incidents anonymise` over every landed file.

Then every file under $INCIDENTS_HOME except the secrets folder (warehouse and
published DuckDB files read table by table as well as byte by byte, logs,
validation reports, open data, exchange packs, reports) and every file of the
Prefect home (its database: logs, artifacts, task runs) and what the commands
printed or logged are searched for each marker, case-folded and with spaces
removed. Original references may appear only in the secrets folder, the
exchange packs, the matches export and the anonymised extracts; the key only
in the secrets folder.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import os
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pytest

from flows.cli import main

pytestmark = pytest.mark.slow

LETTERS = "abcdefghjklmnoprstuvwxy"  # no i, q, z: plate-like and unambiguous
ALLOWED_REF_FOLDERS = ("exchange", "exports", "anonymised")


@dataclass
class Marker:
    kind: str
    value: str
    needles: list[str]  # case-folded, whitespace/dash-free forms to look for


@dataclass
class Plant:
    markers: list[Marker] = field(default_factory=list)
    count: int = 0

    def add(self, kind: str, value: str, *extra: str) -> str:
        forms = {_compact(value), *(_compact(e) for e in extra)}
        self.markers.append(Marker(kind, value, sorted(forms)))
        return value

    def person(self) -> dict[str, str]:
        """A fresh set of unique personal values."""
        i = self.count
        self.count += 1
        t = "".join(LETTERS[(i // len(LETTERS) ** p) % len(LETTERS)] for p in range(3))
        dob = date(1931, 1, 1) + timedelta(days=41 * i)
        digits = f"{100000 + i:06d}"
        values = {
            "first": f"Zqx{t}", "last": f"Wvp{t}",
            "ofirst": f"Zqo{t}", "olast": f"Wvo{t}",
            "wfirst": f"Zqw{t}", "wlast": f"Wvw{t}",
            "phone": f"07700 900{i % 1000:03d}",
            "email": f"ema{t}.wvq@example.org",
            "dob": dob.isoformat(), "dob_dmy": dob.strftime("%d/%m/%Y"),
            "street": f"{10 + i % 80} Yqv{t} Road",
            "plate": f"ZQ{10 + i % 90} {t.upper()}",
            "handle": f"@hnd{t}wq",
            "ni": f"JZ {digits[:2]} {digits[2:4]} {digits[4:]} C",
        }
        for kind in ("first", "last", "ofirst", "olast", "wfirst", "wlast"):
            self.add("name", values[kind])
        self.add("phone", values["phone"], values["phone"][1:])  # +44 7700 ... keeps the national digits
        self.add("email", values["email"])
        self.add("dob", values["dob"], values["dob_dmy"])
        self.add("address", values["street"])
        self.add("plate", values["plate"])
        self.add("handle", values["handle"])
        self.add("ni_number", values["ni"])
        return values

    def postcode(self, original: str | None) -> str | None:
        """A unit in the same district as `original` that the demo never uses (`<district> 9ZZ`)."""
        compact = re.sub(r"[^A-Z0-9]", "", (original or "").upper())
        match = re.fullmatch(r"([A-Z]{1,2}[0-9][0-9A-Z]?)([0-9][A-Z]{2})?", compact)
        if not match:
            return original
        return self.add("postcode", f"{match[1]} 9ZZ")


def _compact(text: str) -> str:
    return re.sub(r"[\s\-]", "", text.casefold())


def cst_text(p: dict[str, str], postcode: str | None) -> str:
    return (
        f"Victim {p['first']} {p['last']} (tel {p['phone']}, email {p['email']}, DOB {p['dob_dmy']}) lives at "
        f"{p['street']}, {postcode or ''}. Witness Mrs {p['wfirst']} {p['wlast']} saw a car {p['plate']}. "
        f"The offender {p['ofirst']} {p['olast']} posts as {p['handle']}; NI number {p['ni']}."
    )


def police_text(p: dict[str, str], postcode: str | None) -> str:
    return (
        f"IP {p['last'].upper()} {p['first']} DOB {p['dob_dmy']} OF {p['street'].upper()} {postcode or ''}. "
        f"TEL {p['phone']} EMAIL {p['email']}. WITNESS {p['wlast'].upper()} {p['wfirst']}. "
        f"SUSP {p['olast'].upper()} {p['ofirst']} DRIVING {p['plate']} HANDLE {p['handle']} NI {p['ni']}."
    )


# ------------------------------------------------------------------------------ planting


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _write_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def plant_cst(path: Path, plant: Plant, probe: bool) -> None:
    header, rows = _read_csv(path)
    for n, row in enumerate(rows):
        p = plant.person()
        postcode = plant.postcode(row["Postcode"])
        row.update({
            "Victim Name": f"{p['first']} {p['last']}", "Victim Phone": p["phone"], "Victim Email": p["email"],
            "Offender Name": f"{p['ofirst']} {p['olast']}", "Address": p["street"], "Postcode": postcode or "",
            "Offender Description": f"tall man called {p['ofirst']} {p['olast']}, drives {p['plate']}",
            "Description": f"{row['Description']} {cst_text(p, postcode)}",
        })
        if probe and n == 0:  # a row that fails validation: a name where a date belongs
            row["Date of Incident"] = f"{p['first']} {p['last']}"
    _write_csv(path, header, rows)


def plant_gmp(path: Path, plant: Plant, probe: bool) -> None:
    header, rows = _read_csv(path)
    for n, row in enumerate(rows):
        p = plant.person()
        postcode = plant.postcode(row["POSTCODE"])
        row.update({
            "VICTIM_NAME": f"{p['last'].upper()} {p['first']}", "VICTIM_DOB": p["dob"],
            "SUSPECT_NAME": f"{p['olast'].upper()} {p['ofirst']}", "LOCATION": p["street"].upper(),
            "POSTCODE": postcode or "", "BEAT": f"{p['wfirst']} {p['wlast']}", "OUTCOME": p["email"],
            "MO_TEXT": f"{row['MO_TEXT']} {police_text(p, postcode)}",
        })
        if probe and n == 0:
            row["COMMITTED_FROM"] = p["phone"]
    _write_csv(path, header, rows)


def plant_mps(path: Path, plant: Plant) -> None:
    workbook = openpyxl.load_workbook(path)
    sheet = workbook["Export"]
    header = [c.value for c in sheet[1]]
    col = {name: i for i, name in enumerate(header)}
    for cells in sheet.iter_rows(min_row=2):
        if all(c.value is None for c in cells):
            continue
        p = plant.person()
        postcode = plant.postcode(cells[col["Post Code"]].value)
        cells[col["Victim Surname"]].value = p["last"]
        cells[col["Victim Forename"]].value = p["first"]
        cells[col["Victim DOB"]].value = datetime.fromisoformat(p["dob"])
        cells[col["Suspect Details"]].value = f"{p['ofirst']} {p['olast']}, {p['phone']}"
        cells[col["Address"]].value = p["street"]
        cells[col["Post Code"]].value = postcode
        cells[col["Summary"]].value = f"{cells[col['Summary']].value} {police_text(p, postcode).lower()}"
    workbook.save(path)


def plant_wyp(path: Path, plant: Plant) -> None:
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        p = plant.person()
        postcode = plant.postcode(record["location"].get("postcode"))
        record["location"] = {"address": p["street"], "postcode": postcode}
        people = [dict(person) for person in record.get("persons") or [{"role": "victim"}]]
        for person in people:
            if person.get("role") == "victim":
                person.update({"name": f"{p['first']} {p['last']}", "dob": p["dob"]})
            else:
                person["name"] = f"{p['ofirst']} {p['olast']}"
        people += [{"role": "suspect", "name": f"{p['ofirst']} {p['olast']}"},
                   {"role": "witness", "name": f"{p['wfirst']} {p['wlast']}", "phone": p["phone"]}]
        record["persons"] = people
        record["officer"] = {"name": f"{p['wlast']} {p['wfirst']}", "email": p["email"]}
        record["narrative"] = f"{record.get('narrative') or ''} {police_text(p, postcode)}"
        lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def plant_everything(landing: Path) -> Plant:
    plant = Plant()
    for n, path in enumerate(sorted((landing / "cst").glob("*.csv"))):
        plant_cst(path, plant, probe=n == 0)
    for n, path in enumerate(sorted((landing / "police" / "gmp").glob("*.csv"))):
        plant_gmp(path, plant, probe=n == 0)
    for path in sorted((landing / "police" / "mps").glob("*.xlsx")):
        plant_mps(path, plant)
    for path in sorted((landing / "police" / "wyp").glob("*.jsonl")):
        plant_wyp(path, plant)
    # a file that cannot be read (truncated mid-row) and a file nobody is configured for
    header, rows = _read_csv(sorted((landing / "police" / "gmp").glob("*.csv"))[0])
    p = plant.person()
    broken = io.StringIO()
    writer = csv.DictWriter(broken, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerow({**rows[0], "VICTIM_NAME": f"{p['last']} {p['first']}", "MO_TEXT": police_text(p, None)})
    broken.write(f"GMP/26/0999999,8M,{p['email']},{p['phone']}")
    (landing / "police" / "gmp" / "gmp_antisemitic_crimes_20261125.csv").write_text(broken.getvalue())
    other = landing / "other"
    other.mkdir()
    p = plant.person()
    (other / "notes.csv").write_text(f"name,phone\n{p['first']} {p['last']},{p['phone']}\n")
    return plant


def landed_refs(landing: Path) -> set[str]:
    """Every reference in the landing area: CST and crime refs, and the crime numbers CST was given."""
    from flows.config import load_settings
    from flows.readers import ExtractReadError, read_extract

    refs: set[str] = set()
    for folder, mapping in load_settings().mappings.items():
        for path in sorted((landing / folder).glob("*")):
            try:
                frame = read_extract(path.read_bytes(), mapping).frame
            except ExtractReadError:
                continue
            for field_name in ("ref", "police_reference"):
                column = mapping.columns.get(field_name)
                if column in frame.columns:
                    refs |= {r.strip() for r in frame[column].drop_nulls() if len(r.strip()) >= 6}
    return refs


# ------------------------------------------------------------------------------ scanning


def _duckdb_text(path: Path) -> str:
    copy = path.with_name(f".scan-{path.name}")
    shutil.copyfile(path, copy)
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        shutil.copyfile(wal, copy.with_name(copy.name + ".wal"))
    parts = []
    try:
        con = duckdb.connect(str(copy), read_only=True)
        try:
            tables = con.execute("select schema_name, table_name from duckdb_tables()").fetchall()
            for schema, table in tables:
                frame = pl.from_arrow(con.execute(f'select * from "{schema}"."{table}"').to_arrow_table())
                parts.append(table)
                for column in frame.columns:
                    parts.append(column)
                    parts.append("\n".join(map(str, frame[column].to_list())))
            parts.append(str(con.execute("select sql from duckdb_views()").fetchall()))
        finally:
            con.close()
    finally:
        for leftover in (copy, copy.with_name(copy.name + ".wal")):
            if leftover.exists():
                leftover.unlink()
    return "\n".join(parts)


def texts_of(path: Path) -> list[str]:
    """Everything readable in a file: its bytes, plus decoded contents for DuckDB, ZIP, gzip, Parquet."""
    data = path.read_bytes()
    texts = [data.decode("utf-8", errors="ignore")]
    if data.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(path) as archive:
            texts += [archive.read(n).decode("utf-8", errors="ignore") for n in archive.namelist()]
    elif data.startswith(b"\x1f\x8b"):
        texts.append(gzip.decompress(data).decode("utf-8", errors="ignore"))
    elif data[:4] == b"PAR1":
        frame = pl.read_parquet(path)
        texts.append("\n".join(str(frame[c].to_list()) for c in frame.columns))
    elif path.suffix == ".duckdb" or data[8:12] == b"DUCK":
        texts.append(_duckdb_text(path))
    return texts


def files_to_scan(home: Path, prefect_home: Path) -> list[Path]:
    secrets = home / "secrets"
    files = [p for p in home.rglob("*") if p.is_file() and secrets not in p.parents and not p.name.startswith(".scan-")]
    files += [p for p in prefect_home.rglob("*") if p.is_file()]
    return files


_TOKEN = re.compile(r"[A-Za-z0-9/]+")


def _key_forms(key_hex: str) -> list[str]:
    """The key as hex, base64 (JSON-serialised bytes) and Python bytes repr."""
    import base64

    try:
        raw = bytes.fromhex(key_hex)
    except ValueError:
        return [key_hex]
    return [key_hex, base64.b64encode(raw).decode(), repr(raw)[2:-1]]


def find_leaks(label: str, texts: list[str], plant: Plant, refs: set[str], key_hex: str, refs_allowed: bool) -> list[str]:
    hits = []
    for text in texts:
        folded = text.casefold()
        compact = re.sub(r"[\s\-]", "", folded)
        for marker in plant.markers:
            if any(n in compact for n in marker.needles):
                hits.append(f"{label}: {marker.kind} {marker.value!r}")
        if any(form in text or form.casefold() in folded for form in _key_forms(key_hex)):
            hits.append(f"{label}: the pseudonymisation key")
        if not refs_allowed:
            found = refs & set(_TOKEN.findall(text))
            hits += [f"{label}: reference {r!r}" for r in sorted(found)[:5]]
    return sorted(set(hits))


# ------------------------------------------------------------------------------ the test


def test_no_planted_personal_value_reference_or_key_leaks_anywhere(
    incidents_env, capsys, caplog, tmp_path_factory, record_property
):
    from demo.generator import generate_landing
    from flows.nightly import nightly

    caplog.set_level(logging.INFO)
    landing, home = incidents_env["landing"], incidents_env["home"]
    shutil.rmtree(landing)
    generate_landing(landing, tmp_path_factory.mktemp("truth"), incidents=70, seed=41)
    before = "\n".join(texts_of(p)[0] for p in landing.rglob("*") if p.is_file() and p.suffix != ".xlsx")
    plant = plant_everything(landing)
    assert not find_leaks("original demo", [before], plant, set(), os.urandom(32).hex(), True), "markers must be new values"
    assert len(plant.markers) > 1000
    refs = landed_refs(landing)
    assert len(refs) > 50

    # everything that exists runs
    summary = nightly()
    assert summary.files_quarantined == 1 and summary.rows_quarantined >= 2
    assert sum(summary.rows_loaded.values()) > 50
    for partner in ["cst", "gmp", "mps", "wyp"]:
        assert main(["exchange", "--for", partner, "--from", "2025-01-01", "--to", "2026-12-31"]) == 0

    def run_command(*argv: str, allowed: tuple[int | None, ...] = (0, None)) -> None:
        """Every command that reads the warehouse or published data runs, and succeeds, on the planted data."""
        assert main(list(argv)) in allowed, argv

    run_command("matches", "--out", str(home / "exports" / "matches.csv"))
    run_command("report", "--period", "2026-H1")
    run_command("report", "--period", "2025-H2")
    run_command("status", allowed=(0, 3))  # 3: a source is overdue (demo dates are old)
    stdout_refs_ok = []
    run_command("review", "--list")
    stdout_refs_ok.append(capsys.readouterr())  # the review queue is shown to the data team
    from flows.config import load_settings

    for folder, mapping in load_settings().mappings.items():
        for path in sorted((landing / folder).glob("*")):
            target = home / "anonymised" / folder / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            main(["anonymise", str(path), str(target), "--source", mapping.id])
    assert len(list((home / "anonymised").rglob("*.*"))) >= 4
    printed = capsys.readouterr()

    key_hex = (home / "secrets" / "pseudonym.key").read_text().strip()
    prefect_home = Path(os.environ["PREFECT_HOME"])
    leaks: list[str] = []
    scanned = 0
    for path in files_to_scan(home, prefect_home):
        relative = path.relative_to(home).parts[0] if home in path.parents else "prefect"
        leaks += find_leaks(str(path), texts_of(path), plant, refs, key_hex,
                            refs_allowed=relative in ALLOWED_REF_FOLDERS)
        scanned += 1
    leaks += find_leaks("stdout/stderr", [printed.out, printed.err], plant, refs, key_hex, refs_allowed=True)
    leaks += find_leaks("review queue", [c.out + c.err for c in stdout_refs_ok], plant, refs, key_hex, refs_allowed=True)
    leaks += find_leaks("log records", [caplog.text], plant, refs, key_hex, refs_allowed=False)
    assert scanned > 10
    # the planted rows did go all the way through (streets without numbers are kept by design)
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        planted_streets = con.execute(
            "select count(*) from (select street from stg_cst_reports union all select street from stg_police_crimes) "
            "where street ilike 'yqv% road'"
        ).fetchone()[0]
        redacted = con.execute(
            "select count(*) from stg_cst_reports where description_redacted like '%[NAME]%[PHONE]%'"
        ).fetchone()[0]
    finally:
        con.close()
    assert planted_streets > 50 and redacted > 20
    record_property("leak_scan", f"{len(plant.markers)} markers, {len(refs)} refs, {scanned} files")
    assert (home / "published" / "incidents.duckdb").exists()
    assert list((home / "exchange").rglob("*.xlsx"))
    assert leaks == [], f"{len(leaks)} leak(s):\n" + "\n".join(leaks[:40])


def test_scanner_finds_planted_values_in_every_kind_of_file(tmp_path):
    """The scanner itself: a marker in a DuckDB table, an XLSX, a Parquet file and plain text is found."""
    plant = Plant()
    p = plant.person()
    con = duckdb.connect(str(tmp_path / "x.duckdb"))
    con.execute("create table t (v varchar)")
    con.execute("insert into t select ? from range(2000)", [f"note about {p['first'].upper()}"])
    con.close()
    pl.DataFrame({"v": [p["email"]]}).write_parquet(tmp_path / "x.parquet")
    pl.DataFrame({"v": [p["plate"]]}).write_excel(tmp_path / "x.xlsx")
    (tmp_path / "x.log").write_text(f"call +44 {p['phone'][1:]}")
    found = {}
    for name in ("x.duckdb", "x.parquet", "x.xlsx", "x.log"):
        found[name] = find_leaks(name, texts_of(tmp_path / name), plant, {"CST/26/00001"}, "f" * 64, False)
    assert all(found.values()), found
    assert find_leaks("t", ["see CST/26/00001."], Plant(), {"CST/26/00001"}, "f" * 64, False)
    key = os.urandom(32)
    import base64

    for form in (key.hex(), base64.b64encode(key).decode(), repr(key)):
        assert find_leaks("k", [f'{{"key": "{form}"}}'], Plant(), set(), key.hex(), True), form
