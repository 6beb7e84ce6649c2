"""The nightly flow end to end on generated extracts: idempotence, resends, corrections, S3, onboarding."""

from __future__ import annotations

import shutil
import textwrap
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from demo.generator import generate_landing
from flows.nightly import nightly

pytestmark = pytest.mark.slow

# Tables whose content must not change when nothing new arrives (ledger tables record every run).
LEDGER_TABLES = {
    "runs",
    "manifest_sightings",
    "schema_migrations",
    "link_runs",
    "run_validations",
    "purges",
    "purge_counts",
    "exchange_log",
    "publications",
}


@pytest.fixture(scope="module")
def demo_landing(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("demo")
    generate_landing(root / "landing", root / "truth", incidents=400, seed=11)
    return {"landing": root / "landing", "truth": root / "truth"}


def _use_landing(demo_landing: dict[str, Path], incidents_env: dict[str, Path]) -> Path:
    shutil.rmtree(incidents_env["landing"])
    shutil.copytree(demo_landing["landing"], incidents_env["landing"])
    return incidents_env["landing"]


def warehouse_snapshot(home: Path) -> dict[str, pl.DataFrame]:
    """Every non-ledger table, sorted, for comparing runs."""
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        tables = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables where table_type = 'BASE TABLE'"
            ).fetchall()
            if row[0] not in LEDGER_TABLES
        ]
        snapshot = {}
        for table in sorted(tables):
            frame = pl.from_arrow(con.execute(f"select * from {table}").to_arrow_table())
            volatile = [c for c in frame.columns if c in {"run_id", "updated_at", "model_run_id", "first_seen", "last_seen", "resolved_by_run", "resolved_at", "created_at"}]
            frame = frame.drop(volatile)
            sortable = [c for c, t in frame.schema.items() if not isinstance(t, (pl.List, pl.Array, pl.Struct))]
            snapshot[table] = frame.sort(sortable, nulls_last=True) if sortable else frame
        return snapshot
    finally:
        con.close()


def count(home: Path, sql: str) -> int:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def truth_refs(truth: Path) -> pl.DataFrame:
    return pl.read_csv(truth / "incidents.csv", infer_schema=False)


def test_nightly_loads_every_source_and_a_second_run_changes_nothing(demo_landing, incidents_env):
    _use_landing(demo_landing, incidents_env)
    home = incidents_env["home"]
    first = nightly()
    truth = truth_refs(demo_landing["truth"])
    cst_refs = truth.filter(pl.col("source") == "cst")["ref"].n_unique()
    assert first.files_quarantined == 0
    assert count(home, "select count(*) from stg_cst_reports") == cst_refs
    for force in ("gmp", "mps", "wyp"):
        expected = truth.filter((pl.col("source") == "police") & (pl.col("force_id") == force))["ref"].n_unique()
        loaded = count(home, f"select count(*) from stg_police_crimes where force_id = '{force}'")
        assert loaded == expected, force
    before = warehouse_snapshot(home)

    second = nightly()
    assert second.files_ingested == 0
    assert second.files_resent == first.files_seen
    after = warehouse_snapshot(home)
    assert before.keys() == after.keys()
    for table in before:
        assert before[table].equals(after[table]), table


def test_a_resent_file_under_another_name_changes_nothing(demo_landing, incidents_env):
    landing = _use_landing(demo_landing, incidents_env)
    home = incidents_env["home"]
    nightly()
    before = warehouse_snapshot(home)
    original = sorted((landing / "police" / "gmp").iterdir())[0]
    shutil.copy(original, original.with_name("RESENT_" + original.name))
    cst_file = sorted((landing / "cst").iterdir())[-1]
    shutil.copy(cst_file, landing / "cst" / "resend-of-last-delta.csv")
    summary = nightly()
    assert summary.files_ingested == 0
    after = warehouse_snapshot(home)
    for table in before:
        if table == "manifest":
            continue
        assert before[table].equals(after[table]), table
    assert count(home, "select count(*) from manifest_sightings") == count(home, "select count(*) from manifest") + 2


def test_a_later_correction_replaces_the_earlier_version(demo_landing, incidents_env):
    landing = _use_landing(demo_landing, incidents_env)
    home = incidents_env["home"]
    nightly()
    reports_before = count(home, "select count(*) from stg_cst_reports")
    source = sorted((landing / "cst").iterdir())[0]
    rows = pl.read_csv(source, infer_schema=False, encoding="utf8-lossy").head(2)
    ref_col = [c for c in rows.columns if c.endswith("Incident Ref")][0]
    corrected = rows.with_columns(
        pl.lit("Threats").alias("Category"), pl.lit("2026-11-25T12:00:00").alias("Last Updated")
    ).rename({ref_col: "Incident Ref"})
    (landing / "cst" / "zz_correction.csv").write_bytes(b"\xef\xbb\xbf" + corrected.write_csv().encode())
    nightly()
    assert count(home, "select count(*) from stg_cst_reports") == reports_before
    assert count(home, "select count(*) from stg_cst_reports where last_updated = timestamp '2026-11-25 12:00:00'") == 2
    assert count(
        home, "select count(*) from stg_cst_reports where last_updated = timestamp '2026-11-25 12:00:00' and category = 'Threats'"
    ) == 2
    # A re-sent police crime with a cancelled status replaces the confirmed version.
    gmp_file = sorted((landing / "police" / "gmp").iterdir())[0]
    crimes = pl.read_csv(gmp_file, infer_schema=False).filter(pl.col("RECORD_STATUS") == "CONFIRMED").head(1)
    cancelled_before = count(home, "select count(*) from stg_police_crimes where status = 'cancelled'")
    crimes.with_columns(pl.lit("CANCELLED").alias("RECORD_STATUS")).write_csv(
        landing / "police" / "gmp" / "zz_cancellation.csv"
    )
    nightly()
    assert count(home, "select count(*) from stg_police_crimes where status = 'cancelled'") == cancelled_before + 1


def test_the_same_run_from_an_s3_bucket(demo_landing, incidents_env, s3_server, monkeypatch):
    home = incidents_env["home"]
    client = s3_server.client()
    client.create_bucket(Bucket="landing-test")
    for path in sorted(demo_landing["landing"].rglob("*")):
        if path.is_file():
            key = "nightly/" + path.relative_to(demo_landing["landing"]).as_posix()
            client.put_object(Bucket="landing-test", Key=key, Body=path.read_bytes())
    monkeypatch.setenv("INCIDENTS_LANDING", "s3://landing-test/nightly")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint_url)
    summary = nightly()
    files = sum(1 for p in demo_landing["landing"].rglob("*") if p.is_file())
    assert summary.files_ingested == files
    truth = truth_refs(demo_landing["truth"])
    assert count(home, "select count(*) from stg_cst_reports") == truth.filter(pl.col("source") == "cst")["ref"].n_unique()
    assert count(home, "select count(*) from stg_police_crimes") == truth.filter(pl.col("source") == "police").select("force_id", "ref").n_unique()
    assert nightly().files_ingested == 0


FOURTH_FORCE_MAPPING = """\
id: nep
kind: police
format: csv
file_pattern: "*.csv"
csv:
  delimiter: ";"
  encoding: cp1252
columns:
  ref: Aktenzeichen
  offence_code: Delikt
  occurred_from: Tatzeit
  reported_date: Anzeigedatum
  address: Tatort
  postcode: PLZ
  hate_flags: Kennung
  status: Stand
date_formats:
  occurred_from: ["%d.%m.%Y %H:%M", "%d.%m.%Y"]
  reported_date: ["%d.%m.%Y"]
cancelled_values: [storniert]
identifier_columns: [Opfer, Tatort]
free_text_columns:
  summary: Sachverhalt
"""


def test_onboarding_a_fourth_force_needs_only_a_mapping_file(incidents_env):
    root, landing, home = incidents_env["root"], incidents_env["landing"], incidents_env["home"]
    (root / "nep.yml").write_text(FOURTH_FORCE_MAPPING)
    (root / "incidents.toml").write_text(
        textwrap.dedent(
            """\
            [[forces]]
            id = "nep"
            mapping = "nep.yml"
            participating_from = 2026-01-01
            cadence_days = 7
            """
        )
    )
    folder = landing / "police" / "nep"
    folder.mkdir(parents=True)
    text = (
        "Aktenzeichen;Delikt;Tatzeit;Anzeigedatum;Tatort;PLZ;Kennung;Opfer;Sachverhalt;Stand\r\n"
        "NEP-26-0001;9B;03.11.2026 21:30;04.11.2026;12 Grünstraße;ne8 1aa;Religion - Jewish;Jürgen Müller;"
        "IP ABUSED IN STREET, SUSP SHOUTED;bestätigt\r\n"
        "NEP-26-0002;58F;05.11.2026;06.11.2026;Gateshead;NE8;Religion - Jewish;;GRAFFITI ON SYNAGOGUE WALL;storniert\r\n"
    )
    (folder / "nep_2026-11-06.csv").write_bytes(text.encode("cp1252"))
    summary = nightly()
    assert summary.files_quarantined == 0
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    rows = con.execute(
        "select offence_category, occurred_from::date, postcode_district, status, street "
        "from stg_police_crimes where force_id = 'nep' order by occurred_from"
    ).fetchall()
    con.close()
    assert [r[:4] for r in rows] == [
        ("Abusive Behaviour", date(2026, 11, 3), "NE8", "confirmed"),
        ("Damage & Desecration", date(2026, 11, 5), "NE8", "cancelled"),
    ]
    assert rows[0][4] == "Grünstraße"
    raw = (home / "warehouse.duckdb").read_bytes()
    for personal in ("Jürgen", "Müller", "NE8 1AA", "12 Grünstraße", "NEP-26-0001"):
        assert personal.encode() not in raw
