"""Retention: `incidents purge --before DATE` and the configured period applied each night.

A purge removes every member of the incidents that happened before the cutoff, everything
derived from them, and nothing else; the counts from the cutoff on are unchanged; it records
counts, not content; it re-publishes; a dry run changes nothing; old files still in the
landing area do not bring purged records back.
"""

from __future__ import annotations

import shutil
import textwrap
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from demo.generator import generate_landing
from flows.cli import main
from flows.config import load_settings
from flows.retention import months_before, retention_cutoff
from flows.secrets import STORE_FILE

CUTOFF = date(2026, 4, 1)
KEY = "22" * 32


def test_months_before():
    assert months_before(date(2026, 11, 26), years=6) == date(2020, 11, 26)
    assert months_before(date(2026, 3, 31), months=1) == date(2026, 2, 28)
    assert months_before(date(2026, 1, 15), months=13) == date(2024, 12, 15)
    assert months_before(date(2024, 2, 29), years=1) == date(2023, 2, 28)


def test_no_retention_configured_means_no_cutoff(incidents_env):
    assert retention_cutoff(load_settings()) is None


def _frame(path: Path, sql: str) -> pl.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return pl.from_arrow(con.sql(sql).to_arrow_table())
    finally:
        con.close()


@pytest.fixture(scope="module")
def warehouse_after_one_night(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A demo landing area loaded by one nightly run (in this process)."""
    import os

    from flows.nightly import nightly

    root = tmp_path_factory.mktemp("retention")
    generate_landing(root / "landing", root / "truth", incidents=260, seed=9)
    saved = {k: os.environ.get(k) for k in ("INCIDENTS_LANDING", "INCIDENTS_HOME", "INCIDENTS_PSEUDONYM_KEY")}
    os.environ.update(INCIDENTS_LANDING=str(root / "landing"), INCIDENTS_HOME=str(root / "home"))
    os.environ.pop("INCIDENTS_PSEUDONYM_KEY", None)
    try:
        nightly()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return {"landing": root / "landing", "home": root / "home"}


@pytest.fixture
def state(warehouse_after_one_night, incidents_env) -> dict[str, Path]:
    home = incidents_env["home"]
    shutil.copytree(warehouse_after_one_night["home"], home)
    shutil.rmtree(incidents_env["landing"])
    shutil.copytree(warehouse_after_one_night["landing"], incidents_env["landing"])
    return {**incidents_env, "warehouse": home / "warehouse.duckdb", "published": home / "published" / "incidents.duckdb",
            "store": home / "secrets" / STORE_FILE}


def _expected_purge(warehouse: Path, cutoff: date) -> pl.DataFrame:
    """Members of incidents (components) that happened before the cutoff, computed independently."""
    return _frame(warehouse, f"""
        with member_dates as (
            select m.incident_key, m.member_source as source, coalesce(m.report_key, m.crime_key) as record_key,
                   coalesce(r.incident_date, cast(coalesce(c.occurred_to, c.occurred_from) as date)) as own_date
            from incident_members m
            left join stg_cst_reports r on r.report_key = m.report_key
            left join stg_police_crimes c on c.crime_key = m.crime_key
        ),
        judged as (
            select d.incident_key, coalesce(any_value(i.incident_date), max(d.own_date)) as judged
            from member_dates d left join incidents i using (incident_key) group by 1
        )
        select source, record_key from member_dates join judged using (incident_key)
        where judged < date '{cutoff}'
    """)


def _keys(warehouse: Path, sql: str) -> set[str]:
    frame = _frame(warehouse, sql)
    return set(frame[frame.columns[0]].to_list())


@pytest.mark.slow
def test_purge_removes_exactly_the_old_incidents_and_what_derives_from_them(state, capsys):
    wh, published = state["warehouse"], state["published"]
    expected = _expected_purge(wh, CUTOFF)
    purged_cst = set(expected.filter(pl.col("source") == "cst")["record_key"])
    purged_police = set(expected.filter(pl.col("source") == "police")["record_key"])
    assert purged_cst and purged_police
    before = {
        "cst_versions": _frame(wh, "select * from stg_cst_report_versions"),
        "police_versions": _frame(wh, "select * from stg_police_crime_versions"),
        "pairs": _frame(wh, "select * from link_pairs"),
        "groups": _frame(wh, "select * from police_incident_groups"),
        "state": _frame(wh, "select * from link_record_state"),
        "counts": _frame(published, f"select * from incident_counts where month >= date '{CUTOFF}' order by all"),
        "store": _frame(state["store"], "select * from reference_pseudonyms"),
        "manifest": _frame(wh, "select * from manifest order by file_hash"),
    }

    assert main(["purge", "--before", CUTOFF.isoformat()]) == 0
    out = capsys.readouterr().out
    assert f"removed {len(purged_cst)} CST reports and {len(purged_police)} police crimes" in out

    def kept(frame: pl.DataFrame, column: str, gone: set[str]) -> pl.DataFrame:
        return frame.filter(~pl.col(column).is_in(list(gone)))

    # exactly the purged records' rows are gone, everything else is untouched
    after_cst = _frame(wh, "select * from stg_cst_report_versions")
    assert after_cst.sort("file_hash", "source_row").equals(
        kept(before["cst_versions"], "report_key", purged_cst).sort("file_hash", "source_row"))
    after_police = _frame(wh, "select * from stg_police_crime_versions")
    assert after_police.sort("file_hash", "source_row").equals(
        kept(before["police_versions"], "crime_key", purged_police).sort("file_hash", "source_row"))
    pairs_kept = kept(kept(before["pairs"], "report_key", purged_cst), "crime_key", purged_police)
    assert _frame(wh, "select * from link_pairs").sort("report_key", "crime_key").equals(
        pairs_kept.sort("report_key", "crime_key"))
    assert _frame(wh, "select * from police_incident_groups").sort("crime_key").equals(
        kept(before["groups"], "crime_key", purged_police).sort("crime_key"))
    assert _frame(wh, "select * from link_record_state").height == before["state"].height - len(expected)
    assert _keys(wh, "select member_key from incident_ids") & (
        {f"r:{k}" for k in purged_cst} | {f"c:{k}" for k in purged_police}) == set()
    assert _frame(wh, "select * from manifest order by file_hash").equals(before["manifest"])  # kept: see retention.py
    # the re-identification store forgot exactly the purged pseudonyms
    store = _frame(state["store"], "select * from reference_pseudonyms")
    assert store.sort("pseudonym").equals(
        kept(before["store"], "pseudonym", purged_cst | purged_police).sort("pseudonym"))

    # marts rebuilt and re-published: nothing before the cutoff, the rest exactly as it was
    assert _keys(wh, "select count(*) from incidents where incident_date < date '" + str(CUTOFF) + "'") == {0}
    assert _frame(published, "select count(*) as n from incident_counts where month < date '"
                  + str(CUTOFF) + "'")["n"][0] == 0
    assert _frame(published, f"select * from incident_counts where month >= date '{CUTOFF}' order by all").equals(
        before["counts"])

    # the purge is recorded as counts, and the published checksum matches the file
    purges = _frame(wh, "select * from purges")
    assert purges.height == 1 and purges["requested_by"][0] == "cli" and purges["cutoff"][0] == CUTOFF
    assert purges["records_purged"][0] == len(expected)
    import hashlib
    assert purges["published_checksum"][0] == hashlib.sha256(published.read_bytes()).hexdigest()
    counts = dict(_frame(wh, "select table_name, rows_removed from purge_counts").iter_rows())
    assert counts["stg_cst_report_versions"] == before["cst_versions"].height - after_cst.height
    assert counts["cst_reports"] == len(purged_cst) and counts["police_crimes"] == len(purged_police)
    assert counts["reidentification_store"] == before["store"].height - store.height
    assert set(_frame(wh, "select * from purge_counts").columns) == {"purge_id", "table_name", "rows_removed"}

    # a second purge with the same cutoff finds nothing more
    assert main(["purge", "--before", CUTOFF.isoformat()]) == 0
    assert "removed 0 CST reports and 0 police crimes" in capsys.readouterr().out


@pytest.mark.slow
def test_dry_run_changes_nothing(state, capsys):
    import hashlib

    digest = hashlib.sha256(state["warehouse"].read_bytes()).hexdigest()
    published = hashlib.sha256(state["published"].read_bytes()).hexdigest()
    assert main(["purge", "--before", CUTOFF.isoformat(), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run" in out and "nothing was changed" in out
    assert _frame(state["warehouse"], "select count(*) as n from purges")["n"][0] == 0
    assert hashlib.sha256(state["published"].read_bytes()).hexdigest() == published
    assert _frame(state["store"], "select count(*) as n from reference_pseudonyms")["n"][0] > 0
    del digest


@pytest.mark.slow
def test_purge_refuses_without_a_date_or_while_a_run_holds_the_lock(state, capsys):
    from flows.locking import run_lock

    assert main(["purge"]) == 2
    assert main(["purge", "--before", "2999-01-01"]) == 2
    with run_lock(state["home"]):
        assert main(["purge", "--before", CUTOFF.isoformat()]) == 75
    assert "another run is using" in capsys.readouterr().err


@pytest.mark.slow
def test_the_configured_retention_is_applied_by_the_nightly_run_and_old_files_do_not_return(state, capsys):
    from flows.nightly import nightly

    wh = state["warehouse"]
    today = date.today()
    months = (today.year - CUTOFF.year) * 12 + today.month - CUTOFF.month
    config = state["root"] / "incidents.toml"
    config.write_text(textwrap.dedent(f"""
        [retention]
        months = {months}
    """))
    cutoff = retention_cutoff(load_settings(config))
    expected = _expected_purge(wh, cutoff)
    assert expected.height > 0
    nightly(config_path=str(config))
    run = _frame(wh, "select * from runs order by started_at desc limit 1")
    assert run["records_purged"][0] == expected.height
    purge = _frame(wh, "select * from purges")
    assert purge["requested_by"].to_list() == ["nightly"] and purge["run_id"][0] == run["run_id"][0]
    assert _frame(state["published"], f"select count(*) as n from incidents where incident_date < date '{cutoff}'")["n"][0] == 0
    left = _frame(wh, "select count(*) as n from stg_cst_report_versions")["n"][0]

    # the old extracts are still in the landing area: a night without retention does not reload them
    config.write_text("")
    summary = nightly(config_path=str(config))
    assert summary.files_ingested == 0
    assert _frame(wh, "select count(*) as n from stg_cst_report_versions")["n"][0] == left
    assert _frame(wh, "select count(*) as n from purges")["n"][0] == 1  # nothing to purge: no new row
