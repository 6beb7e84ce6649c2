"""`incidents rotate-key`: a new key, every pseudonym re-keyed in one transaction, the old key nowhere."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl
import pytest

from flows.cli import main
from flows.config import Settings, load_settings
from flows.keys import (
    PENDING_FILE,
    Plaintexts,
    RotationError,
    check_key,
    compact_warehouse,
    finish_interrupted_rotation,
    key_fingerprint,
    plaintexts_of,
    rotate_key,
    rotation_map,
)
from flows.readers import read_extract
from flows.secrets import KEY_ENV, KEY_FILE, STORE_FILE
from transforms.mapping import load_mapping
from transforms.staging import staged_cst_reports, staged_police_crimes
from warehouse.run import Warehouse

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
VOLATILE = {"updated_at", "first_seen", "last_seen", "created_at", "run_id", "model_run_id", "linked_run_id"}
LEDGER = {"runs", "manifest_sightings", "schema_migrations", "link_runs", "link_model_runs", "link_model_idf",
          "key_rotations", "run_validations", "exchange_log"}


# ------------------------------------------------------------------------------ fast


def test_fingerprint_names_a_key_without_revealing_it():
    a, b = b"a" * 32, b"b" * 32
    assert key_fingerprint(a) == key_fingerprint(a) != key_fingerprint(b)
    assert a.hex()[:16] not in key_fingerprint(a) and len(key_fingerprint(a)) == 16


@pytest.mark.parametrize(("source", "path"), [
    ("cst", SAMPLES / "cst" / "cst_incidents_20261104.csv"),
    ("gmp", SAMPLES / "police" / "gmp" / "gmp_antisemitic_crimes_20261019.csv"),
    ("mps", SAMPLES / "police" / "mps" / "MPS_Antisemitic_2026_10.xlsx"),
    ("wyp", SAMPLES / "police" / "wyp" / "wyp-hate-2026-10-01.jsonl"),
])
def test_map_turns_every_staged_pseudonym_into_the_one_staging_computes_under_the_new_key(source, path):
    old, new = os.urandom(32), os.urandom(32)
    mapping = load_mapping(f"builtin:{source}")
    raw = read_extract(path.read_bytes(), mapping).frame
    reference = Settings().reference_data
    stage = staged_cst_reports if mapping.kind == "cst" else staged_police_crimes
    before, after = stage(raw, mapping, reference, old), stage(raw, mapping, reference, new)
    plain = Plaintexts()
    plaintexts_of(raw, mapping, plain)
    lookup = dict(rotation_map(plain, old, new).iter_rows())
    key = "report_key" if mapping.kind == "cst" else "crime_key"
    tokens = "cited_crime_ref_tokens" if mapping.kind == "cst" else "crime_ref_tokens"
    for column in (key, "postcode_unit_key"):
        mapped = [None if v is None else lookup[v] for v in before[column].to_list()]
        assert mapped == after[column].to_list(), column
    for column in (tokens, "identity_tokens"):
        mapped_tokens = [None if t is None else [lookup[v] for v in t] for t in before[column].to_list()]
        assert mapped_tokens == after[column].to_list(), column
    assert before["identity_tokens"].list.len().sum() > 0
    assert lookup[f"r:{before[key][0]}"] == f"r:{after[key][0]}"


def test_compaction_keeps_tables_constraints_and_views(tmp_path):
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create table t (k varchar primary key, v varchar[])")
    con.execute("create view tv as select * from t")
    con.execute("insert into t values ('a', ['x']), ('b', null)")
    con.execute("update t set k = 'c' where k = 'a'")
    con.close()
    compact_warehouse(path)
    con = duckdb.connect(str(path))
    assert sorted(con.execute("select k from tv").fetchall()) == [("b",), ("c",)]
    with pytest.raises(duckdb.ConstraintException):
        con.execute("insert into t values ('b', null)")
    con.close()
    assert [p.name for p in tmp_path.iterdir()] == ["w.duckdb"]


def test_pending_rotation_without_its_commit_is_discarded(tmp_path, monkeypatch):
    monkeypatch.setenv("INCIDENTS_HOME", str(tmp_path))
    monkeypatch.delenv(KEY_ENV, raising=False)
    settings = load_settings()
    folder = settings.secrets_dir
    folder.mkdir(parents=True)
    (folder / KEY_FILE).write_text("aa" * 32)
    (folder / f"{KEY_FILE}.new").write_text("bb" * 32)
    (folder / PENDING_FILE).write_text(json.dumps({"fingerprint": key_fingerprint(b"\xbb" * 32)}))
    with Warehouse(settings.warehouse_path) as warehouse:
        warehouse.migrate()
    assert finish_interrupted_rotation(settings) == "discarded"
    assert sorted(p.name for p in folder.iterdir()) == [KEY_FILE]
    assert (folder / KEY_FILE).read_text() == "aa" * 32


# ------------------------------------------------------------------------------ with a nightly-built warehouse


@contextmanager
def _env(landing: Path, home: Path):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INCIDENTS_LANDING", str(landing))
        patch.setenv("INCIDENTS_HOME", str(home))
        patch.delenv("INCIDENTS_CONFIG", raising=False)
        patch.delenv(KEY_ENV, raising=False)
        yield patch


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A demo landing area and the state folder of one nightly run over it (copied by each test)."""
    from demo.generator import generate_landing
    from flows.nightly import nightly

    root = tmp_path_factory.mktemp("keys")
    generate_landing(root / "landing", root / "truth", incidents=90, seed=23)
    with _env(root / "landing", root / "home"):
        nightly()
    return {"landing": root / "landing", "home": root / "home"}


@pytest.fixture
def copy(built, incidents_env) -> dict[str, Path]:
    shutil.rmtree(incidents_env["landing"])
    shutil.copytree(built["landing"], incidents_env["landing"])
    shutil.copytree(built["home"], incidents_env["home"])
    return incidents_env


def _tables(home: Path) -> dict[str, pl.DataFrame]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        names = [r[0] for r in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'main' and database_name = current_database()"
        ).fetchall()]
        return {n: pl.from_arrow(con.execute(f'select * from "{n}"').to_arrow_table()) for n in names}
    finally:
        con.close()


def _comparable(frame: pl.DataFrame) -> pl.DataFrame:
    frame = frame.drop([c for c in frame.columns if c in VOLATILE])
    sortable = [c for c, t in frame.schema.items() if not isinstance(t, pl.List | pl.Array | pl.Struct)]
    return frame.sort(sortable, nulls_last=True) if sortable else frame


def _old_pseudonyms(tables: dict[str, pl.DataFrame]) -> set[str]:
    values: set[str] = set()
    for name, key in (("stg_cst_report_versions", "report_key"), ("stg_police_crime_versions", "crime_key")):
        values |= set(tables[name][key].drop_nulls())
        values |= set(tables[name]["postcode_unit_key"].drop_nulls())
    values |= {t.split(":", 1)[1] for t in tables["stg_police_crime_versions"]["crime_ref_tokens"].explode().drop_nulls()}
    for name in ("stg_cst_report_versions", "stg_police_crime_versions"):
        values |= {t.split(":", 1)[1] for t in tables[name]["identity_tokens"].explode().drop_nulls()}
    return values


def _all_text(tables: dict[str, pl.DataFrame]) -> str:
    parts = []
    for frame in tables.values():
        for column, dtype in frame.schema.items():
            if dtype == pl.String or (isinstance(dtype, pl.List) and dtype.inner == pl.String):
                parts.append(str(frame[column].to_list()))
    return "\n".join(parts)


def _packs(settings: Settings) -> dict[str, pl.DataFrame]:
    from flows.exchange import build_pack
    from transforms.exchange import period_from_label

    with Warehouse(settings.warehouse_path, read_only=True) as warehouse:
        return {
            partner: build_pack(warehouse, settings, partner, period_from_label(period))[0]
            for partner in ("cst", "gmp", "mps")
            for period in ("2026",)
        }


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_rotation_rekeys_everything_and_the_next_night_sees_no_change(copy):
    from flows.landing import LandedFile, landing_for
    from flows.nightly import nightly, prepared_file

    home = copy["home"]
    settings = load_settings()
    secrets = settings.secrets_dir
    old_key = (secrets / KEY_FILE).read_text().strip()
    before = _tables(home)
    packs_before = _packs(settings)
    counts_before = _published_counts(home)
    old = _old_pseudonyms(before)
    assert old

    assert main(["rotate-key"]) == 0

    new_key = (secrets / KEY_FILE).read_text().strip()
    assert new_key != old_key and len(new_key) == 64
    assert (secrets / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in secrets.iterdir()) == [KEY_FILE, STORE_FILE]
    # the old key is kept nowhere
    for path in [p for p in home.rglob("*") if p.is_file()]:
        assert old_key.encode() not in path.read_bytes(), path
    after = _tables(home)
    # every table keeps its rows; none holds an old pseudonym
    assert {n: f.height for n, f in after.items() if n not in LEDGER} == {
        n: f.height for n, f in before.items() if n not in LEDGER
    }
    text = _all_text(after)
    assert [v for v in old if v in text] == []
    raw_bytes = (home / "warehouse.duckdb").read_bytes()
    assert [v for v in list(old)[:200] if v.encode() in raw_bytes] == []
    # staging equals what the staging computes today under the new key
    landing = landing_for(settings.landing)
    mappings = {m.id: m for m in settings.mappings.values()}
    key = bytes.fromhex(new_key)
    for file_hash, source, file_key in after["manifest"].select("file_hash", "source_id", "file_key").iter_rows():
        data = landing.read(file_key)
        fresh = prepared_file(source, LandedFile(file_key, len(data), 0), data, mappings[source],
                              settings.reference_data, key).staged
        table = "stg_cst_report_versions" if source == "cst" else "stg_police_crime_versions"
        columns = (["report_key", "postcode_unit_key", "cited_crime_ref_tokens"] if source == "cst"
                   else ["crime_key", "postcode_unit_key", "crime_ref_tokens"])
        stored = after[table].filter(pl.col("file_hash") == file_hash).sort("source_row").select("source_row", *columns)
        assert stored.equals(fresh.sort("source_row").select("source_row", *columns)), file_key
    # decisions, incident numbers and the partners' view are unchanged
    for table, columns in (("link_pairs", ["status", "match_probability", "decided_by", "reason"]),
                           ("incident_ids", ["incident_id"])):
        assert _comparable(after[table].select(columns)).equals(_comparable(before[table].select(columns))), table
    assert all(_packs(settings)[p].equals(f) for p, f in packs_before.items())
    rotation = after["key_rotations"].row(0, named=True)
    assert rotation["key_fingerprint"] == key_fingerprint(key) and rotation["values_rekeyed"] > 0

    # the next night: the same key works, nothing is new or changed, the release is the same
    nightly()
    later = _tables(home)
    assert later["link_runs"].sort("finished_at")["mode"][-1] == "unchanged"
    for name, frame in later.items():
        if name not in LEDGER and name in after:
            assert _comparable(frame).equals(_comparable(after[name])), name
    assert _published_counts(home).equals(counts_before)


def _published_counts(home: Path) -> pl.DataFrame:
    con = duckdb.connect(str(home / "published" / "incidents.duckdb"), read_only=True)
    try:
        frame = pl.from_arrow(con.execute("select * from incident_counts").to_arrow_table())
    finally:
        con.close()
    return frame.sort(frame.columns)


@pytest.mark.slow
def test_a_missing_landed_file_stops_the_rotation_with_nothing_changed(copy):
    settings = load_settings()
    key_before = (settings.secrets_dir / KEY_FILE).read_text()
    warehouse_before = _sha(settings.warehouse_path)
    store_before = _sha(settings.secrets_dir / STORE_FILE)
    victim = sorted((copy["landing"] / "police" / "gmp").iterdir())[0]
    victim.unlink()
    assert main(["rotate-key", "--dry-run"]) == 1
    assert main(["rotate-key"]) == 1
    assert (settings.secrets_dir / KEY_FILE).read_text() == key_before
    assert _sha(settings.warehouse_path) == warehouse_before
    assert _sha(settings.secrets_dir / STORE_FILE) == store_before
    assert sorted(p.name for p in settings.secrets_dir.iterdir()) == [KEY_FILE, STORE_FILE]


@pytest.mark.slow
def test_a_pseudonym_hidden_inside_text_stops_the_rotation(copy, capsys):
    settings = load_settings()
    con = duckdb.connect(str(settings.warehouse_path))
    key = con.execute("select report_key from stg_cst_report_versions limit 1").fetchone()[0]
    con.execute("create table analyst_notes (note varchar)")
    con.execute("insert into analyst_notes values (?)", [f'{{"record": "{key}", "seen": true}}'])
    con.close()
    key_before = (settings.secrets_dir / KEY_FILE).read_text()
    warehouse_before = _sha(settings.warehouse_path)
    assert main(["rotate-key"]) == 1
    assert "analyst_notes.note" in capsys.readouterr().err
    assert (settings.secrets_dir / KEY_FILE).read_text() == key_before
    assert _sha(settings.warehouse_path) == warehouse_before
    assert sorted(p.name for p in settings.secrets_dir.iterdir()) == [KEY_FILE, STORE_FILE]


@pytest.mark.slow
def test_a_crash_before_the_commit_changes_nothing_and_after_it_is_completed(copy, monkeypatch):
    import flows.keys as keys

    settings = load_settings()
    folder = settings.secrets_dir
    key_before = (folder / KEY_FILE).read_text()
    warehouse_before = _sha(settings.warehouse_path)

    def boom(*_args, **_kwargs):
        raise RuntimeError("killed")

    with monkeypatch.context() as patch:
        patch.setattr(keys, "_build_marts", boom)
        with pytest.raises(RuntimeError):
            rotate_key(settings)
    assert (folder / KEY_FILE).read_text() == key_before
    assert _sha(settings.warehouse_path) == warehouse_before
    assert sorted(p.name for p in folder.iterdir()) == [KEY_FILE, STORE_FILE]

    calls = []
    real_finish = keys.finish_interrupted_rotation

    def crash_after_commit(s):
        calls.append(1)
        if len(calls) == 2:  # the call that moves the new key into place
            raise KeyboardInterrupt
        return real_finish(s)

    with monkeypatch.context() as patch:
        patch.setattr(keys, "finish_interrupted_rotation", crash_after_commit)
        with pytest.raises(KeyboardInterrupt):
            rotate_key(settings)
    assert (folder / KEY_FILE).read_text() == key_before  # committed, key not yet moved
    assert (folder / PENDING_FILE).exists()
    with Warehouse(settings.warehouse_path) as warehouse, pytest.raises(RotationError):
        check_key(warehouse, bytes.fromhex(key_before))
    assert finish_interrupted_rotation(settings) == "completed"
    new_key = bytes.fromhex((folder / KEY_FILE).read_text())
    with Warehouse(settings.warehouse_path) as warehouse:
        check_key(warehouse, new_key)
    assert rotate_key(settings, dry_run=True).pseudonyms_mapped > 0  # consistent under the new key


@pytest.mark.slow
def test_a_key_from_the_environment_is_rotated_to_the_one_given_and_the_old_one_is_refused(copy, monkeypatch):
    from flows.nightly import nightly

    settings = load_settings()
    old_hex = (settings.secrets_dir / KEY_FILE).read_text().strip()
    (settings.secrets_dir / KEY_FILE).unlink()
    monkeypatch.setenv(KEY_ENV, old_hex)
    assert main(["rotate-key"]) == 1  # no new key given
    new_hex = os.urandom(32).hex()
    monkeypatch.setenv("INCIDENTS_NEW_PSEUDONYM_KEY", new_hex)
    assert main(["rotate-key"]) == 0
    assert not (settings.secrets_dir / KEY_FILE).exists()  # nothing written: the key lives in the environment
    with pytest.raises(RotationError):
        nightly()  # still the old key in $INCIDENTS_PSEUDONYM_KEY
    monkeypatch.setenv(KEY_ENV, new_hex)
    monkeypatch.delenv("INCIDENTS_NEW_PSEUDONYM_KEY")
    assert nightly().files_ingested == 0
