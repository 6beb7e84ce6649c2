"""The unified incidents and the marts on a tiny literal warehouse with known answers.

The linkage outputs (`link_pairs`, `police_incident_groups`) are created here
with literal rows: the marts are tested apart from the linkage model.
`sample_warehouse` is also used by tests/flows/test_publishing.py.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from flows.config import Settings
from flows.publishing import build_marts_now, data_test_failures, frame, table_exists
from warehouse.run import Warehouse

# Used only while warehouse/schema/004_linkage.sql is absent; rows are inserted by column name.
LINK_PAIRS_DDL = """
create table if not exists link_pairs (
    report_key varchar, crime_key varchar, force_id varchar,
    match_probability double, match_weight double, status varchar,
    decided_by varchar, model_run_id varchar, updated_at timestamp
)
"""
GROUPS_DDL = (
    "create table if not exists police_incident_groups "
    "(crime_key varchar, police_incident_id varchar, updated_at timestamp)"
)

# report_key, incident_date, category, location_type, force_id
CST = [
    ("R1", date(2026, 2, 10), "Abusive Behaviour", "street", "gmp"),   # + C1, C2 (one police group): both, Assault
    ("R2", date(2026, 3, 1), "Threats", "home", "gmp"),                # unmatched: cst_only
    ("R3", date(2026, 3, 2), "Literature", "street", "gmp"),           # matched only to cancelled C4: cst_only
    ("R4", date(2026, 3, 3), "Abusive Behaviour", "online", "unknown"),  # no force: cst_only, not participating
    ("R5", date(2025, 3, 1), "Assault", "street", "mps"),              # + C6 before mps joined: cst_only
    ("R6", date(2026, 4, 4), "Abusive Behaviour", "street", "gmp"),    # review pair only: cst_only
    ("R7", date(2026, 6, 30), "Damage & Desecration", "synagogue", "gmp"),  # + C11 range 28-29 June: both, H1
]
# crime_key, force_id, offence_category, occurred_from, occurred_to, status
POLICE = [
    ("C1", "gmp", "Threats", datetime(2026, 2, 10, 21), None, "confirmed"),
    ("C2", "gmp", "Assault", datetime(2026, 2, 10, 21), None, "confirmed"),
    ("C3", "gmp", "Abusive Behaviour", datetime(2026, 3, 5, 9), None, "confirmed"),  # police_only
    ("C4", "gmp", "Literature", datetime(2026, 3, 2, 9), None, "cancelled"),
    ("C5", "gmp", "Assault", datetime(2026, 3, 9, 9), None, "cancelled"),  # counts nowhere
    ("C6", "mps", "Assault", datetime(2025, 3, 1, 12), None, "confirmed"),
    ("C7", "mps", "Threats", datetime(2025, 2, 1, 12), None, "confirmed"),  # before mps joined: no incident
    ("C8", "wyp", "Assault", datetime(2026, 1, 3, 22), None, "confirmed"),  # C8 + C9 one police incident
    ("C9", "wyp", "Abusive Behaviour", datetime(2026, 1, 3, 22), None, "confirmed"),
    ("C10", "gmp", "Abusive Behaviour", datetime(2026, 4, 4, 10), None, "confirmed"),  # police_only
    ("C11", "gmp", "Damage & Desecration", datetime(2026, 6, 28, 18), datetime(2026, 6, 29, 8), "confirmed"),
]
LINKS = [
    ("R1", "C1", "matched"),
    ("R3", "C4", "matched"),
    ("R5", "C6", "matched"),
    ("R6", "C10", "review"),
    ("R7", "C11", "matched"),
    ("R2", "C3", "rejected"),
]
GROUPS = [("C1", "P1"), ("C2", "P1"), ("C8", "P2"), ("C9", "P2"), ("C3", "P3")]


def add_cst(warehouse: Warehouse, rows: list[tuple], seq: int = 1) -> None:
    frame_ = pl.DataFrame(
        rows, schema=["report_key", "incident_date", "category", "location_type", "force_id"], orient="row"
    ).with_columns(
        pl.lit(f"file{seq}").alias("file_hash"),
        pl.int_range(1, len(rows) + 1).cast(pl.Int64).alias("source_row"),
        pl.lit(seq, pl.Int64).alias("ingest_seq"),
        pl.lit("area").alias("force_id_basis"),
        pl.lit(datetime(2026, 7, 1)).alias("last_updated"),
    )
    warehouse.insert("stg_cst_report_versions", frame_)


def add_police(warehouse: Warehouse, rows: list[tuple], seq: int = 1) -> None:
    frame_ = pl.DataFrame(
        rows,
        schema={"crime_key": pl.String, "force_id": pl.String, "offence_category": pl.String,
                "occurred_from": pl.Datetime, "occurred_to": pl.Datetime, "status": pl.String},
        orient="row",
    ).with_columns(
        pl.lit(f"pfile{seq}").alias("file_hash"),
        pl.int_range(1, len(rows) + 1).cast(pl.Int64).alias("source_row"),
        pl.lit(seq, pl.Int64).alias("ingest_seq"),
    )
    warehouse.insert("stg_police_crime_versions", frame_)


def set_links(warehouse: Warehouse, links: list[tuple], groups: list[tuple]) -> None:
    warehouse.execute(LINK_PAIRS_DDL)
    warehouse.execute(GROUPS_DDL)
    warehouse.execute("delete from link_pairs")
    warehouse.execute("delete from police_incident_groups")
    for report_key, crime_key, status in links:
        warehouse.execute(
            "insert into link_pairs (report_key, crime_key, force_id, match_probability, match_weight, "
            "status, decided_by, model_run_id, updated_at) "
            "values (?, ?, 'gmp', 0.9, 5.0, ?, 'model', 'm1', current_timestamp)",
            [report_key, crime_key, status],
        )
    for crime_key, group in groups:
        warehouse.execute(
            "insert into police_incident_groups (crime_key, police_incident_id, updated_at) "
            "values (?, ?, current_timestamp)",
            [crime_key, group],
        )


def record_run(warehouse: Warehouse, run_id: str) -> None:
    warehouse.execute(
        "insert into runs (run_id, started_at, finished_at, status, code_version) "
        "values (?, current_timestamp, current_timestamp, 'succeeded', 'test')",
        [run_id],
    )


def sample_warehouse(path: Path, run_id: str = "run-1") -> tuple[Warehouse, Settings]:
    """A migrated warehouse holding CST, POLICE, LINKS and GROUPS, marts built."""
    settings = Settings(home=path)
    warehouse = Warehouse(settings.warehouse_path)
    warehouse.migrate()
    add_cst(warehouse, CST)
    add_police(warehouse, POLICE)
    set_links(warehouse, LINKS, GROUPS)
    record_run(warehouse, run_id)
    with warehouse.transaction():
        build_marts_now(warehouse, settings)
    return warehouse, settings


@pytest.fixture
def built(tmp_path: Path):
    warehouse, settings = sample_warehouse(tmp_path)
    yield warehouse, settings
    warehouse.close()


def incidents_by_member(warehouse: Warehouse) -> dict[str, dict]:
    rows = frame(
        warehouse.con,
        "select coalesce(m.report_key, m.crime_key) as member, i.*, n.incident_id "
        "from incident_members m join incidents i using (incident_key) "
        "join incident_numbers n using (incident_key)",
    )
    return {row["member"]: row for row in rows.iter_rows(named=True)}


def test_one_row_per_incident_with_known_routes(built) -> None:
    warehouse, _ = built
    incidents = frame(warehouse.con, "select * from incidents")
    assert incidents.height == 10
    by = incidents_by_member(warehouse)
    assert by["R1"]["incident_key"] == by["C1"]["incident_key"] == by["C2"]["incident_key"]
    assert (by["R1"]["reporting_route"], by["R1"]["category"], by["R1"]["police_crimes"]) == ("both", "Assault", 2)
    assert by["R2"]["reporting_route"] == "cst_only"
    assert by["C3"]["reporting_route"] == "police_only"
    assert by["C3"]["location_type"] == "unknown"
    assert by["C8"]["incident_key"] == by["C9"]["incident_key"]
    assert (by["C8"]["reporting_route"], by["C8"]["police_crimes"], by["C8"]["category"]) == ("police_only", 2, "Assault")
    assert by["R6"]["reporting_route"] == "cst_only" and by["C10"]["reporting_route"] == "police_only"


def test_cancelled_crimes_count_nowhere(built) -> None:
    warehouse, _ = built
    by = incidents_by_member(warehouse)
    assert by["R3"]["reporting_route"] == "cst_only"
    assert by["R3"]["police_crimes"] == 0 and by["R3"]["police_category"] is None
    assert "C5" not in by
    assert warehouse.scalar("select sum(police_crimes) from incidents") == 8  # 11 crimes - 2 cancelled - C7


def test_only_participating_forces_on_or_after_their_start_can_be_police_routes(built) -> None:
    warehouse, _ = built
    by = incidents_by_member(warehouse)
    assert (by["R5"]["reporting_route"], by["R5"]["participating"], by["R5"]["police_force"]) == ("cst_only", False, "mps")
    assert "C7" not in by  # police-only before mps joined: outside the arrangement
    assert (by["R4"]["police_force"], by["R4"]["participating"], by["R4"]["reporting_route"]) == ("unknown", False, "cst_only")
    assert warehouse.scalar(
        "select count(*) from incidents where reporting_route <> 'cst_only' and not participating"
    ) == 0


def test_dates_months_half_years(built) -> None:
    warehouse, _ = built
    by = incidents_by_member(warehouse)
    assert by["R7"]["incident_date"] == date(2026, 6, 29)  # CST's date clamped into the police range
    assert by["R7"]["half_year"] == "2026-H1" and by["R7"]["month"] == date(2026, 6, 1)
    assert by["C8"]["half_year"] == "2026-H1"
    assert by["R5"]["half_year"] == "2025-H1"
    assert by["R1"]["category"] == "Assault" and by["R1"]["cst_category"] == "Abusive Behaviour"


def test_incident_counts_matches_the_interface_exactly(built) -> None:
    warehouse, _ = built
    described = warehouse.con.execute("describe incident_counts").fetchall()
    assert [(r[0], r[1]) for r in described] == [
        ("month", "DATE"), ("police_force", "VARCHAR"), ("category", "VARCHAR"),
        ("reporting_route", "VARCHAR"), ("incidents", "BIGINT"),
    ]
    assert warehouse.scalar("select sum(incidents) from incident_counts") == 10
    assert warehouse.scalar(
        "select incidents from incident_counts where month = date '2026-02-01' and police_force = 'gmp' "
        "and category = 'Assault' and reporting_route = 'both'"
    ) == 1


def test_half_year_location_and_coverage_marts(built) -> None:
    warehouse, _ = built
    assert warehouse.scalar("select sum(incidents) from incident_counts_half_year") == 10
    assert warehouse.scalar("select sum(incidents) from incident_counts_location") == 10
    gmp = frame(warehouse.con, "select * from coverage where police_force = 'gmp' and half_year = '2026-H1'").row(0, named=True)
    # gmp 2026-H1: R1+C1+C2 and R7+C11 both; R2, R3, R6 cst_only; C3, C10 police_only
    assert (gmp["incidents"], gmp["incidents_both"], gmp["police_incidents"], gmp["cst_incidents"]) == (7, 2, 4, 5)
    assert (gmp["police_crimes"], gmp["police_crimes_known_to_cst"]) == (5, 3)
    assert gmp["share_police_crimes_known_to_cst"] == pytest.approx(3 / 5)
    assert gmp["share_cst_reports_known_to_police"] == pytest.approx(2 / 5)
    assert warehouse.scalar("select count(*) from coverage where police_force in ('unknown', 'mps')") == 0


def test_declared_data_tests_pass(built) -> None:
    warehouse, _ = built
    assert data_test_failures(warehouse.con) == []


def test_declared_data_tests_catch_a_broken_mart(built) -> None:
    warehouse, _ = built
    warehouse.execute("update incidents set reporting_route = 'police_only' where police_crimes = 0")
    assert any("incidents" in failure for failure in data_test_failures(warehouse.con))


def test_incident_ids_are_stable_and_never_reused(built) -> None:
    warehouse, settings = built
    first = {m: r["incident_id"] for m, r in incidents_by_member(warehouse).items()}
    assert sorted(set(first.values())) == list(range(1, 11))
    with warehouse.transaction():
        build_marts_now(warehouse, settings)
    assert {m: r["incident_id"] for m, r in incidents_by_member(warehouse).items()} == first

    # a CST report arrives for the police-only C3, another splits R1 off C1/C2, one more is new
    add_cst(warehouse, [("R8", date(2026, 3, 5), "Abusive Behaviour", "street", "gmp"),
                        ("R9", date(2025, 1, 2), "Threats", "street", "gmp")], seq=2)
    set_links(warehouse, [link for link in LINKS if link[0] != "R1"] + [("R8", "C3", "matched")], GROUPS)
    with warehouse.transaction():
        build_marts_now(warehouse, settings)
    after = {m: r["incident_id"] for m, r in incidents_by_member(warehouse).items()}
    assert after["R8"] == after["C3"] == first["C3"]  # grew: keeps its number
    assert after["C1"] == after["C2"] == first["C1"]  # split: the larger part keeps it
    assert after["R1"] not in set(first.values())  # the other part gets a new one
    assert after["R9"] not in set(first.values())
    assert sorted({after["R1"], after["R9"]}) == [11, 12]
    for member, number in first.items():
        if member not in {"R1"}:
            assert after[member] == number


def test_incident_members_are_the_connected_components(tmp_path: Path) -> None:
    # a chain four hops long: R1-C1, C1+C2 one group, R2 matched to C2 and C3, C3+C4 one group, R3-C4;
    # a report matched into a cancelled crime's group; a crime with no group row; a rejected pair
    warehouse, settings = Warehouse(Settings(home=tmp_path).warehouse_path), Settings(home=tmp_path)
    warehouse.migrate()
    add_cst(warehouse, [(f"R{i}", date(2026, 2, 10), "Threats", "street", "gmp") for i in range(1, 6)])
    add_police(warehouse, [
        (f"C{i}", "gmp", "Threats", datetime(2026, 2, 10, 21), None, "cancelled" if i == 6 else "confirmed")
        for i in range(1, 9)
    ])
    links = [("R1", "C1", "matched"), ("R2", "C2", "matched"), ("R2", "C3", "matched"), ("R3", "C4", "matched"),
             ("R4", "C6", "matched"), ("R5", "C8", "rejected")]
    set_links(warehouse, links, [("C1", "P1"), ("C2", "P1"), ("C3", "P2"), ("C4", "P2"), ("C5", "P3"),
                                 ("C6", "P3")])
    with warehouse.transaction():
        build_marts_now(warehouse, settings)
    members = dict(frame(warehouse.con, "select member_key, incident_key from incident_members").iter_rows())
    chain = ["r:R1", "r:R2", "r:R3", "c:C1", "c:C2", "c:C3", "c:C4"]
    assert {members[m] for m in chain} == {"c:C1"}  # the smallest member key of the component
    assert members["r:R4"] == members["c:C5"] == members["c:C6"] == "c:C5"
    assert members["r:R5"] == "r:R5" and members["c:C7"] == "c:C7" and members["c:C8"] == "c:C8"
    assert len(members) == 13
    warehouse.close()


MART_TABLES = ("incident_members", "incidents", "incident_numbers", "incident_ids", "incident_id_counter",
               "incident_counts", "coverage")


def mart_rows(warehouse: Warehouse) -> dict[str, list[tuple]]:
    return {table: sorted(warehouse.con.execute(f"select * from {table}").fetchall(), key=str) for table in MART_TABLES}


def test_an_incremental_build_equals_a_full_one_night_after_night(tmp_path: Path) -> None:
    # twin warehouses take the same nights: A rebuilds only the incidents a night touches, B everything
    twins = []
    for name in ("incremental", "full"):
        warehouse, settings = sample_warehouse(tmp_path / name)
        twins.append((warehouse, settings, name == "incremental"))
    groups = list(GROUPS)
    nights = [
        # new reports; R8 matched into the police-only C3; R1 split off C1/C2
        lambda w: (add_cst(w, [("R8", date(2026, 3, 5), "Abusive Behaviour", "street", "gmp"),
                               ("R9", date(2025, 1, 2), "Threats", "street", "gmp")], seq=2),
                   set_links(w, [link for link in LINKS if link[0] != "R1"] + [("R8", "C3", "matched")], groups)),
        # regrouped: C3 joins P1 (merging two incidents), C2 leaves it; R2 corrected; C10 cancelled
        lambda w: (add_cst(w, [("R2", date(2026, 3, 1), "Assault", "home", "gmp")], seq=3),
                   add_police(w, [("C10", "gmp", "Abusive Behaviour", datetime(2026, 4, 4, 10), None, "cancelled")],
                              seq=3),
                   set_links(w, [link for link in LINKS if link[0] != "R1"] + [("R8", "C3", "matched")],
                             [("C1", "P1"), ("C2", "P4"), ("C8", "P2"), ("C9", "P2"), ("C3", "P1")])),
        # a new crime in wyp's P2; the review pair R6-C10 becomes a match; a matched pair goes
        lambda w: (add_police(w, [("C12", "wyp", "Threats", datetime(2026, 1, 3, 23), None, "confirmed")], seq=4),
                   set_links(w, [link for link in LINKS if link[0] not in {"R1", "R6", "R5"}]
                             + [("R8", "C3", "matched"), ("R6", "C10", "matched")],
                             [("C1", "P1"), ("C2", "P4"), ("C8", "P2"), ("C9", "P2"), ("C3", "P1"), ("C12", "P2")])),
        lambda w: None,  # nothing changed
    ]
    for night in nights:
        for warehouse, settings, incremental in twins:
            night(warehouse)
            with warehouse.transaction():
                build_marts_now(warehouse, settings, incremental=incremental)
        (incremental_warehouse, _, _), (full_warehouse, _, _) = twins
        assert mart_rows(incremental_warehouse) == mart_rows(full_warehouse)
        rebuilt = incremental_warehouse.scalar("select count(*) from incremental_members")
        everyone = incremental_warehouse.scalar("select count(*) from incident_members")
        assert rebuilt < everyone  # only the touched incidents were rebuilt
    assert rebuilt == 0  # the last night touched nothing
    for warehouse, _, _ in twins:
        warehouse.close()


def test_marts_wait_for_the_linkage_tables(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    with Warehouse(settings.warehouse_path) as warehouse:
        warehouse.migrate()
        for table in ("link_pairs", "police_incident_groups"):  # a warehouse from before the linkage schema
            warehouse.execute(f"drop table if exists {table}")
        add_cst(warehouse, CST)
        with warehouse.transaction():
            assert build_marts_now(warehouse, settings) == []
        assert not table_exists(warehouse.con, "incidents")
        assert table_exists(warehouse.con, "participating_forces")
