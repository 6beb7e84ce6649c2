"""`incidents matches` and `incidents review` against a linked warehouse (no Prefect needed)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from benchmarks.linkage import prepared_data
from flows.cli import main
from flows.commands.review import pair_id
from flows.config import load_settings
from flows.linking import link_warehouse
from flows.secrets import ReidentificationStore
from warehouse.run import Warehouse


@pytest.fixture
def home(tmp_path, tmp_path_factory, monkeypatch) -> Path:
    data = prepared_data(tmp_path_factory.mktemp("cli-data"), incidents=600, seed=5, density=1.0)
    monkeypatch.setenv("INCIDENTS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("INCIDENTS_LANDING", str(data / "landing"))
    monkeypatch.delenv("INCIDENTS_CONFIG", raising=False)
    settings = load_settings()
    with Warehouse(settings.warehouse_path) as warehouse:
        warehouse.migrate()
        with warehouse.transaction():
            warehouse.insert("stg_cst_report_versions", pl.read_parquet(data / "cst_v.parquet"))
            warehouse.insert("stg_police_crime_versions", pl.read_parquet(data / "police_v.parquet"))
            link_warehouse(warehouse, "cli-test", full=True)
    ReidentificationStore(settings.secrets_dir).remember(pl.read_parquet(data / "refs.parquet"))
    return tmp_path / "home"


def test_matches_exports_every_held_pair_with_the_original_refs(home, tmp_path, capsys):
    out = tmp_path / "matches.csv"
    assert main(["matches", "--out", str(out)]) == 0
    frame = pl.read_csv(out)
    assert frame.columns == ["cst_ref", "police_force", "police_ref", "match_probability", "status"]
    assert set(frame["status"].unique()) <= {"matched", "review", "rejected"}
    assert frame["cst_ref"].str.starts_with("CST/").all()
    with Warehouse(home / "warehouse.duckdb", read_only=True) as warehouse:
        held = warehouse.query("select count(*) as n from link_pairs").item()
    assert frame.height == held
    assert "pairs written" in capsys.readouterr().out


def test_review_list_show_accept_reject(home, capsys):
    with Warehouse(home / "warehouse.duckdb", read_only=True) as warehouse:
        held = warehouse.query("select report_key, crime_key, status, reason from link_pairs order by match_probability desc")
    matched = held.filter(pl.col("status") == "matched").row(0, named=True)
    # a cancelled crime's pair stays void whatever the reviewer says: take a live crime's
    other = held.filter((pl.col("status") == "rejected") & (pl.col("reason") != "cancelled")).row(0, named=True)
    first, second = pair_id(matched["report_key"], matched["crime_key"]), pair_id(other["report_key"], other["crime_key"])
    assert main(["review", "--list"]) == 0
    assert main(["review", "--show", first]) == 0
    shown = capsys.readouterr().out
    assert "CST narrative" in shown and "evidence for" in shown and "Police narrative" in shown
    assert main(["review", "--reject", first, "--accept", second, "--note", "checked", "--reviewer", "t"]) == 0
    with Warehouse(home / "warehouse.duckdb", read_only=True) as warehouse:
        decided = warehouse.query("select report_key, crime_key, status, decided_by from link_pairs where decided_by = 'review'")
        stored = warehouse.query("select decision, reviewer, note from review_decisions order by decision")
    assert decided.height == 2 and set(decided["status"]) == {"matched", "rejected"}
    assert stored.rows() == [("accept", "t", "checked"), ("reject", "t", "checked")]
    assert main(["review", "--accept", "nosuchpair"]) == 1
