"""warehouse/run.py: keyed writes to the tables without primary keys, and their migration."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

import warehouse.run as run
from warehouse.run import DuplicateKeyError, Warehouse


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch) -> Warehouse:
    monkeypatch.setitem(run.UNCONSTRAINED_KEYS, "t", ("k", "part"))  # a table declared without its key
    with Warehouse(tmp_path / "w.duckdb") as w:
        w.execute("create table t (k varchar not null, part integer not null, v varchar)")
        w.execute("insert into t values ('a', 1, 'old a1'), ('a', 2, 'old a2'), ('b', 1, 'old b1')")
        yield w


def rows(w: Warehouse) -> list[tuple]:
    return w.con.execute("select k, part, v from t order by k, part").fetchall()


def test_a_keyed_insert_appends_new_keys(warehouse: Warehouse) -> None:
    frame = pl.DataFrame({"k": ["b", "c"], "part": [2, 1], "v": ["new b2", "new c1"]})
    assert warehouse.insert("t", frame) == 2
    assert rows(warehouse) == [("a", 1, "old a1"), ("a", 2, "old a2"), ("b", 1, "old b1"), ("b", 2, "new b2"),
                               ("c", 1, "new c1")]


def test_a_keyed_insert_refuses_a_key_the_table_holds(warehouse: Warehouse) -> None:
    frame = pl.DataFrame({"k": ["c", "a"], "part": [1, 2], "v": ["new c1", "secret value"]})
    with pytest.raises(DuplicateKeyError, match=r"t: holds 1 rows with the key \(k, part\) of an incoming row") as refused:
        warehouse.insert("t", frame)
    assert "secret" not in str(refused.value)  # counts, never values
    assert len(rows(warehouse)) == 3


def test_a_keyed_insert_refuses_a_key_twice_in_the_frame(warehouse: Warehouse) -> None:
    frame = pl.DataFrame({"k": ["c", "c", "d"], "part": [1, 1, 1], "v": ["x", "y", "z"]})
    with pytest.raises(DuplicateKeyError, match="2 incoming rows share a key"):
        warehouse.insert("t", frame)
    assert len(rows(warehouse)) == 3


def test_an_insert_into_a_table_not_listed_checks_nothing(warehouse: Warehouse, monkeypatch) -> None:
    monkeypatch.delitem(run.UNCONSTRAINED_KEYS, "t")
    warehouse.insert("t", pl.DataFrame({"k": ["a"], "part": [1], "v": ["again"]}))
    assert len(rows(warehouse)) == 4


def test_an_upsert_replaces_the_rows_of_its_keys_and_adds_the_rest(warehouse: Warehouse) -> None:
    frame = pl.DataFrame({"k": ["a", "c"], "part": [2, 1], "v": ["new a2", "new c1"]})
    assert warehouse.upsert("t", frame) == 2
    assert rows(warehouse) == [("a", 1, "old a1"), ("a", 2, "new a2"), ("b", 1, "old b1"), ("c", 1, "new c1")]


def test_an_upsert_refuses_a_key_twice_in_the_frame_and_changes_nothing(warehouse: Warehouse) -> None:
    frame = pl.DataFrame({"k": ["a", "a"], "part": [1, 1], "v": ["x", "y"]})
    with pytest.raises(DuplicateKeyError):
        warehouse.upsert("t", frame)
    assert rows(warehouse) == [("a", 1, "old a1"), ("a", 2, "old a2"), ("b", 1, "old b1")]


UNINDEXED = ["stg_cst_report_versions", "stg_police_crime_versions", "link_pairs", "police_incident_groups",
             "link_record_state", "link_narrative_terms", "incident_ids"]


def test_every_table_without_its_key_constraint_has_its_key_listed() -> None:
    assert set(run.UNCONSTRAINED_KEYS) == set(UNINDEXED)


def test_the_large_tables_lose_their_primary_keys_and_keep_their_rows(tmp_path: Path, monkeypatch) -> None:
    # a warehouse made before migration 012, with a row in each table
    before = tmp_path / "schema"
    before.mkdir()
    for path in sorted(run.SCHEMA_DIR.glob("*.sql")):
        if path.stem < "012":
            shutil.copy(path, before / path.name)
    monkeypatch.setattr(run, "SCHEMA_DIR", before)
    w = Warehouse(tmp_path / "w.duckdb")
    w.migrate()
    w.execute("create table incident_ids (member_key varchar primary key, incident_id bigint not null)")
    w.execute("insert into incident_ids values ('r:k1', 7)")
    w.execute("insert into link_pairs (report_key, crime_key, status, decided_by, levels, updated_at) "
              "values ('k1', 'c1', 'matched', 'model', [1, -1], '2026-11-01')")
    w.execute("insert into stg_cst_report_versions (report_key, file_hash, source_row, ingest_seq, force_id, "
              "force_id_basis, last_updated, cited_crime_ref_tokens) "
              "values ('k1', 'h', 1, 1, 'gmp', 'postcode', '2026-11-01', ['t'])")
    w.execute("insert into link_record_state values ('cst', 'k1', 'h', 1, 'run', 0.25)")
    indexed = w.query("select table_name from duckdb_indexes() union select table_name from duckdb_constraints() "
                      "where constraint_type = 'PRIMARY KEY'")["table_name"].to_list()
    assert set(UNINDEXED) <= set(indexed)
    monkeypatch.setattr(run, "SCHEMA_DIR", run.SQL_DIR / "schema")
    assert w.migrate() == ["012_unindexed_large_tables"]

    keyed = w.query("select table_name from duckdb_constraints() where constraint_type in ('PRIMARY KEY', 'UNIQUE')")
    assert not set(UNINDEXED) & set(keyed["table_name"].to_list())
    assert w.query("select * from incident_ids").rows() == [("r:k1", 7)]
    assert w.query("select report_key, crime_key, levels from link_pairs").rows() == [("k1", "c1", [1, -1])]
    assert w.query("select report_key, cited_crime_ref_tokens from stg_cst_reports").rows() == [("k1", ["t"])]
    assert w.query("select * from link_record_state").rows() == [("cst", "k1", "h", 1, "run", 0.25)]
    # the key columns stay not null
    not_null = w.query(
        "select table_name, column_name from duckdb_columns() where not is_nullable and table_name in "
        "('link_pairs', 'link_record_state', 'stg_cst_report_versions', 'incident_ids')"
    ).rows()
    for table, column in [("link_pairs", "report_key"), ("link_pairs", "crime_key"), ("link_record_state", "source"),
                          ("link_record_state", "record_key"), ("stg_cst_report_versions", "file_hash"),
                          ("stg_cst_report_versions", "source_row"), ("incident_ids", "member_key")]:
        assert (table, column) in not_null
    w.close()


def test_a_new_warehouse_has_the_large_tables_without_keys(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "w.duckdb") as w:
        w.migrate()
        keyed = w.query("select table_name from duckdb_constraints() where constraint_type = 'PRIMARY KEY'")
        assert not set(UNINDEXED) & set(keyed["table_name"].to_list())
        assert "manifest" in keyed["table_name"].to_list()  # the small ledgers keep theirs
