"""Pseudonymisation key rotation: a new key, the whole warehouse re-keyed in one transaction.

Every keyed pseudonym is an HMAC-SHA256 of an original value under the secret
key. Rotating the key means recomputing each one from its original value, and
the original values live in two places only, both outside the warehouse:

- references (CST Incident Ref, crime numbers): the re-identification store;
- full postcodes, the crime numbers CST was given (`Police Reference`) and the
  identity tokens (names, phones, emails, handles, plates): only in the landing
  area, in the extracts, which never change once landed.

The procedure (`rotate_key`, command `incidents rotate-key`):

1. take the run lock (no nightly run meanwhile); finish or undo a rotation
   that was interrupted after, or before, its commit (`finish_interrupted_rotation`);
2. draw the new key (32 random bytes; or `$INCIDENTS_NEW_PSEUDONYM_KEY` when the
   key comes from `$INCIDENTS_PSEUDONYM_KEY`);
3. re-read every landed file that still has staged rows or quarantine entries
   (`manifest`: by its landing key, else any other name it was seen under),
   check its sha256 against the manifest, and read it with the same readers
   and mapping; from each row derive the plaintexts the staging hashed (the
   namespaced reference, the normalised full postcode, the crime-number
   and identity tokens) and from the store every namespaced reference. Hash each under the
   old and the new key: the map old pseudonym -> new pseudonym;
4. check that the map explains every pseudonym the warehouse holds (staged
   report/crime/postcode keys, both token lists, quarantine record keys) and
   every store entry: a missing or changed landing file, a changed mapping or
   a key that is not the one the warehouse was built with stops here, with
   nothing changed;
5. write the new key and the re-keyed store beside the old ones (`*.new`,
   0600) and a `rotation.pending` marker holding the new key's fingerprint;
6. in ONE warehouse transaction: replace every old pseudonym in every text and
   text-list column of every table through the map (staging, quarantine,
   link_pairs, review_decisions, link_record_state, incident_ids, marts, any
   table added later), also the prefixed forms (`r:`/`c:` member keys); give
   the police incident groups their ids under the new crime keys; scan every
   column for any old pseudonym left (abort and roll back if one is); rebuild
   the marts; record the rotation (time, counts, new key fingerprint) in
   `key_rotations`;
7. after the commit: move the new store, then the new key into place (the old
   key is overwritten, kept nowhere), drop the marker; then rewrite the
   warehouse into a fresh file (`COPY FROM DATABASE`) so that no page of the
   old file with old pseudonyms survives in it.

A crash before the commit leaves the warehouse and the key as they were (the
`*.new` files are discarded on the next attempt); a crash after it is
completed by the next `incidents rotate-key` or nightly run, which finds the
marker and the warehouse already carrying the new key's fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets as random_secrets
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from flows.config import Settings
from flows.landing import landing_for
from flows.readers import ExtractReadError, read_extract
from flows.secrets import KEY_ENV, KEY_FILE, STORE_FILE, ReidentificationStore
from transforms.crime_refs import crime_ref_tokens
from transforms.mapping import SourceMapping
from transforms.postcodes import parsed_postcodes
from transforms.pseudonyms import keyed_hash
from transforms.staging import CRIME_NAMESPACE, IDENTITY_NAMESPACE, _source, plain_identity_tokens
from warehouse.run import Warehouse

NEW_KEY_ENV = "INCIDENTS_NEW_PSEUDONYM_KEY"
PENDING_FILE = "rotation.pending"
FINGERPRINT_LABEL = "incidents:key-fingerprint:v1"
# Prefixes under which a pseudonym is stored inside another value (incident member keys).
KEY_PREFIXES = ("r:", "c:", "pig_")
HEX_RUN = "[0-9a-f]{32,}"
KEY_ROTATIONS_SQL = """
create table if not exists key_rotations (
    rotated_at timestamp primary key,
    key_fingerprint varchar not null,     -- HMAC of a fixed label under the new key: says which key, reveals nothing
    files_reread integer not null,
    pseudonyms_mapped bigint not null,
    values_rekeyed bigint not null,       -- cells (or list elements) changed in the warehouse
    store_entries bigint not null,
    seconds double
)
"""


class RotationError(RuntimeError):
    """The key was not rotated; the warehouse, the store and the key are as they were."""


@dataclass
class RotationSummary:
    files_reread: int = 0
    pseudonyms_mapped: int = 0
    values_rekeyed: int = 0
    store_entries: int = 0
    tables_changed: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    dry_run: bool = False
    compacted: bool = False


def key_fingerprint(key: bytes) -> str:
    """Which key this is, without revealing it: HMAC-SHA256 of a fixed label, first 16 hex."""
    return keyed_hash(key, FINGERPRINT_LABEL)[:16]


# ----------------------------------------------------------------------------- deriving


def _namespace(mapping: SourceMapping) -> str:
    return "cst:" if mapping.kind == "cst" else f"{mapping.id}:"


@dataclass
class Plaintexts:
    """The originals the staging hashed: namespaced refs and postcodes (full HMAC), tokens (tagged, truncated)."""

    values: set[str] = field(default_factory=set)
    tokens: set[tuple[str, str]] = field(default_factory=set)  # (namespace, plaintext `tag:value`)

    def add_tokens(self, lists: Iterable[list[str] | None], namespace: str = CRIME_NAMESPACE) -> None:
        for items in lists:
            if items:
                self.tokens.update((namespace, item) for item in items)


def plaintexts_of(raw: pl.DataFrame, mapping: SourceMapping, into: Plaintexts) -> None:
    """Every value of one raw extract that the staging and the quarantine hash (same helpers as staging)."""
    namespace = _namespace(mapping)
    refs = raw.select(_source(raw, mapping, "ref").alias("r"))["r"]
    into.values.update(namespace + r for r in refs.drop_nulls().to_list())
    ref_column = mapping.columns["ref"]
    if ref_column in raw.columns:  # the quarantine hashes the reference as read
        into.values.update(namespace + r for r in raw[ref_column].drop_nulls().to_list())
    postcodes = parsed_postcodes(raw.select(_source(raw, mapping, "postcode").alias("__p")), "__p")
    into.values.update("postcode:" + u for u in postcodes["postcode_unit"].drop_nulls().to_list())
    cited = refs if mapping.kind == "police" else raw.select(_source(raw, mapping, "police_reference").alias("r"))["r"]
    into.add_tokens(crime_ref_tokens(cited).to_list())
    into.add_tokens(plain_identity_tokens(raw, mapping).to_list(), IDENTITY_NAMESPACE)


def _token(key: bytes, namespace: str, token: str) -> str:
    tag, _, value = token.partition(":")
    return f"{tag}:{keyed_hash(key, namespace + value)[:32]}"


def rotation_map(plain: Plaintexts, old_key: bytes, new_key: bytes) -> pl.DataFrame:
    """old pseudonym -> new pseudonym, for every plaintext (and the prefixed forms of full keys)."""
    olds: list[str] = []
    news: list[str] = []
    for value in plain.values:
        old, new = keyed_hash(old_key, value), keyed_hash(new_key, value)
        olds.append(old)
        news.append(new)
        for prefix in KEY_PREFIXES:
            olds.append(prefix + old)
            news.append(prefix + new)
    for namespace, token in plain.tokens:
        olds.append(_token(old_key, namespace, token))
        news.append(_token(new_key, namespace, token))
    return pl.DataFrame({"old": olds, "new": news}, schema={"old": pl.String, "new": pl.String}).unique("old")


def _read_landed(landing, names: list[str], file_hash: str) -> bytes | None:  # noqa: ANN001
    for name in names:
        try:
            data = landing.read(name)
        except Exception:  # gone from this name: try the next one
            continue
        if hashlib.sha256(data).hexdigest() == file_hash:
            return data
    return None


def derive_plaintexts(warehouse: Warehouse, settings: Settings, store: pl.DataFrame) -> tuple[Plaintexts, int]:
    """Re-read the landed files the warehouse still holds rows of; returns the plaintexts and the file count."""
    files = _frame(
        warehouse.con,
        """
        with needed as (
            select distinct file_hash from stg_cst_report_versions
            union select distinct file_hash from stg_police_crime_versions
            union select distinct file_hash from quarantine where record_key is not null
        )
        select m.file_hash, m.source_id, m.file_key,
               coalesce((select list(s.file_key order by s.seen_at) from manifest_sightings s
                         where s.file_hash = m.file_hash), []) as other_names
        from manifest m join needed using (file_hash)
        order by m.ingest_seq
        """,
    )
    mappings = {m.id: m for m in settings.mappings.values()}
    landing = landing_for(settings.landing, settings.s3.endpoint_url, settings.s3.region)
    plain = Plaintexts()
    missing: list[str] = []
    unreadable: list[str] = []
    for row in files.iter_rows(named=True):
        mapping = mappings.get(row["source_id"])
        if mapping is None:
            raise RotationError(f"source {row['source_id']!r} is no longer configured: its files cannot be re-read")
        names = [row["file_key"], *[n for n in row["other_names"] if n != row["file_key"]]]
        data = _read_landed(landing, names, row["file_hash"])
        if data is None:
            missing.append(row["file_key"])
            continue
        try:
            raw = read_extract(data, mapping)
        except ExtractReadError:
            unreadable.append(row["file_key"])
            continue
        plaintexts_of(raw.frame, mapping, plain)
    if missing or unreadable:
        parts = []
        if missing:
            parts.append(f"{len(missing)} file(s) missing from the landing area or changed: {', '.join(missing[:10])}")
        if unreadable:
            parts.append(f"{len(unreadable)} file(s) no longer readable with the current mapping: {', '.join(unreadable[:10])}")
        raise RotationError(
            "full postcodes and cited crime numbers can only be re-keyed from the landed extracts; "
            + "; ".join(parts)
        )
    kinds = {m.id: m for m in mappings.values()}
    for source, ref in store.select("source", "ref").iter_rows():
        mapping = kinds.get(source)
        namespace = _namespace(mapping) if mapping else f"{source}:"
        plain.values.add(namespace + ref)
        if mapping is not None and mapping.kind == "police":
            plain.add_tokens(crime_ref_tokens(pl.Series([ref])).to_list())
    return plain, files.height


def rekeyed_store(store: pl.DataFrame, settings: Settings, old_key: bytes, new_key: bytes) -> pl.DataFrame:
    """The re-identification store under the new key; every entry must hash back under the old one."""
    kinds = {m.id: m for m in settings.mappings.values()}
    rows = []
    wrong = 0
    for pseudonym, source, ref in store.select("pseudonym", "source", "ref").iter_rows():
        mapping = kinds.get(source)
        namespace = _namespace(mapping) if mapping else f"{source}:"
        if keyed_hash(old_key, namespace + ref) != pseudonym:
            wrong += 1
            continue
        rows.append((keyed_hash(new_key, namespace + ref), source, ref))
    if wrong:
        raise RotationError(
            f"{wrong} entr(y/ies) of the re-identification store do not hash to their pseudonym under the "
            "current key: the store and the key do not belong together"
        )
    return pl.DataFrame(rows, schema={"pseudonym": pl.String, "source": pl.String, "ref": pl.String}, orient="row")


# ----------------------------------------------------------------------------- warehouse


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    with warnings.catch_warnings():  # DuckDB 2: "Arrow output on a DB-API result makes an extra copy"
        warnings.simplefilter("ignore", UserWarning)
        return pl.from_arrow(con.execute(sql, params or []).to_arrow_table())  # type: ignore[return-value]


def _text_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """(table, column, type) of every text-bearing column of every base table in the warehouse."""
    rows = con.execute(
        """
        select c.table_name, c.column_name, c.data_type
        from information_schema.columns c
        join information_schema.tables t
          on t.table_catalog = c.table_catalog and t.table_schema = c.table_schema and t.table_name = c.table_name
        where t.table_type = 'BASE TABLE' and c.table_schema = 'main' and c.table_catalog = current_database()
        order by c.table_name, c.ordinal_position
        """
    ).fetchall()
    out = []
    for table, column, dtype in rows:
        upper = dtype.upper()
        if "VARCHAR" in upper or upper.startswith(("STRUCT", "MAP", "UNION", "JSON")):
            out.append((table, column, dtype))
    return out


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _apply_map(con: duckdb.DuckDBPyConnection, summary: RotationSummary) -> None:
    """Replace old pseudonyms by new ones in every VARCHAR and VARCHAR[] column (map in temp table rotation_map)."""
    lookup: dict[str, str] | None = None
    for table, column, dtype in _text_columns(con):
        t, c = _quoted(table), _quoted(column)
        upper = dtype.upper()
        if upper == "VARCHAR":
            changed = con.execute(
                f"select count(*) from {t} join rotation_map m on {t}.{c} = m.old"
            ).fetchone()[0]
            if changed:
                con.execute(f"update {t} set {c} = m.new from rotation_map m where {t}.{c} = m.old")
        elif upper == "VARCHAR[]":
            if lookup is None:
                lookup = dict(_frame(con, "select old, new from rotation_map").iter_rows())
            rows = _frame(con, f"select rowid as __rid, {c} as v from {t} where len({c}) > 0")
            rids, new_lists, changed = [], [], 0
            for rid, items in rows.iter_rows():
                hits = sum(1 for item in items if item in lookup)
                if hits:
                    rids.append(rid)
                    new_lists.append([lookup.get(item, item) for item in items])
                    changed += hits
            if rids:
                replacement = pl.DataFrame(
                    {"__rid": pl.Series(rids, dtype=pl.Int64), "v": pl.Series(new_lists, dtype=pl.List(pl.String))}
                )
                con.register("rotation_lists", replacement.to_arrow())
                try:
                    con.execute(f"update {t} set {c} = r.v from rotation_lists r where {t}.rowid = r.__rid")
                finally:
                    con.unregister("rotation_lists")
        else:
            continue  # other types are only scanned (_leftovers)
        if changed:
            summary.values_rekeyed += changed
            summary.tables_changed[table] = summary.tables_changed.get(table, 0) + changed


def _leftovers(con: duckdb.DuckDBPyConnection) -> list[str]:
    """table.column of every column still holding an old pseudonym (temp table rotation_old), anywhere in its text."""
    found = []
    for table, column, _dtype in _text_columns(con):
        t, c = _quoted(table), _quoted(column)
        hits = con.execute(
            f"""
            with runs as (
                select unnest(regexp_extract_all(lower(cast({c} as varchar)), '{HEX_RUN}')) as h from {t}
                where {c} is not null
            ),
            windows as (
                select h as w from runs where length(h) in (32, 64)
                union all
                select substr(h, i, n) as w
                from runs, (values (32), (64)) sizes(n), range(1, length(h) - n + 2) offsets(i)
                where length(h) not in (32, 64) and length(h) >= n
            )
            select count(*) from windows join rotation_old o on windows.w = o.v
            """
        ).fetchone()[0]
        if hits:
            found.append(f"{table}.{column} ({hits})")
    return found


def group_id_renames(con: duckdb.DuckDBPyConnection, mapping: pl.DataFrame) -> pl.DataFrame:
    """old -> new police incident group ids: the same groups, their ids recomputed under the new crime keys.

    Read-only (run before the transaction): the grouping is recomputed from the
    staged crimes with their keys mapped, exactly as the next linkage run would.
    """
    from transforms.linkage import linkage_settings
    from transforms.linkage_resolve import police_incident_groups

    empty = pl.DataFrame(schema={"old": pl.String, "new": pl.String})
    exists = con.execute(
        "select count(*) from duckdb_tables() where table_name = 'police_incident_groups' "
        "and schema_name = 'main' and database_name = current_database()"
    ).fetchone()[0]
    if not exists:
        return empty
    lookup = dict(mapping.iter_rows())

    def mapped(frame: pl.DataFrame, column: str) -> pl.DataFrame:
        values = [None if v is None else lookup.get(v, v) for v in frame[column].to_list()]
        return frame.with_columns(pl.Series(column, values, dtype=pl.String))

    police = _frame(
        con,
        "select crime_key, force_id, occurred_from, occurred_to, reported_date, postcode_unit_key, street, "
        "postcode_district, status, summary_redacted, identity_tokens from stg_police_crimes",
    )
    for column in ("crime_key", "postcode_unit_key"):
        if column in police.columns:
            police = mapped(police, column)
    fresh = police_incident_groups(police, linkage_settings())
    stored = mapped(_frame(con, "select crime_key, police_incident_id from police_incident_groups"), "crime_key")
    pairs = stored.join(fresh, on="crime_key", suffix="_new").select(
        pl.col("police_incident_id").alias("old"), pl.col("police_incident_id_new").alias("new")
    ).unique()
    consistent = pairs.group_by("old").agg(pl.col("new").n_unique().alias("n"), pl.col("new").first())
    return consistent.filter((pl.col("n") == 1) & (pl.col("old") != pl.col("new"))).select("old", "new")


def _unexplained(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Stored pseudonyms the map does not explain (before anything is changed)."""
    checks = {
        "stg_cst_report_versions.report_key": "select report_key as v from stg_cst_report_versions",
        "stg_cst_report_versions.postcode_unit_key": "select postcode_unit_key as v from stg_cst_report_versions",
        "stg_cst_report_versions.cited_crime_ref_tokens": "select unnest(cited_crime_ref_tokens) as v from stg_cst_report_versions",
        "stg_police_crime_versions.crime_key": "select crime_key as v from stg_police_crime_versions",
        "stg_police_crime_versions.postcode_unit_key": "select postcode_unit_key as v from stg_police_crime_versions",
        "stg_police_crime_versions.crime_ref_tokens": "select unnest(crime_ref_tokens) as v from stg_police_crime_versions",
        "stg_cst_report_versions.identity_tokens": "select unnest(identity_tokens) as v from stg_cst_report_versions",
        "stg_police_crime_versions.identity_tokens": "select unnest(identity_tokens) as v from stg_police_crime_versions",
        "quarantine.record_key": "select record_key as v from quarantine",
    }
    out = []
    for name, sql in checks.items():
        n = con.execute(
            f"select count(distinct v) from ({sql}) s where v is not null "
            "and not exists (select 1 from rotation_map m where m.old = s.v)"
        ).fetchone()[0]
        if n:
            out.append(f"{name} ({n})")
    return out


def _build_marts(warehouse: Warehouse, settings: Settings) -> None:
    from flows.publishing import build_marts_now, linkage_ready

    if linkage_ready(warehouse):
        build_marts_now(warehouse, settings)


# ----------------------------------------------------------------------------- secrets files


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _write_store(path: Path, frame: pl.DataFrame) -> None:
    if path.exists():
        path.unlink()
    con = duckdb.connect(str(path))
    try:
        con.execute(
            "create table reference_pseudonyms "
            "(pseudonym varchar primary key, source varchar not null, ref varchar not null)"
        )
        if frame.height:
            con.register("incoming", frame.to_arrow())
            con.execute("insert into reference_pseudonyms select pseudonym, source, ref from incoming")
        con.execute("checkpoint")
    finally:
        con.close()
    os.chmod(path, 0o600)


def _latest_fingerprint(warehouse_path: Path) -> str | None:
    if not warehouse_path.exists():
        return None
    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        exists = con.execute(
            "select count(*) from duckdb_tables() where table_name = 'key_rotations' and schema_name = 'main'"
        ).fetchone()[0]
        if not exists:
            return None
        row = con.execute("select key_fingerprint from key_rotations order by rotated_at desc limit 1").fetchone()
        return None if row is None else row[0]
    finally:
        con.close()


def finish_interrupted_rotation(settings: Settings) -> str | None:
    """Complete (after its commit) or discard (before it) a rotation that was interrupted.

    Call with the run lock held, before loading the key. Returns what was done,
    or None when no rotation was pending.
    """
    folder = settings.secrets_dir
    pending = folder / PENDING_FILE
    new_key, new_store = folder / f"{KEY_FILE}.new", folder / f"{STORE_FILE}.new"
    if not pending.exists():
        for leftover in (new_key, new_store):  # written, but the marker was never: nothing happened
            if leftover.exists():
                leftover.unlink()
        return None
    fingerprint = json.loads(pending.read_text())["fingerprint"]
    if _latest_fingerprint(settings.warehouse_path) == fingerprint:
        if new_store.exists():
            os.replace(new_store, folder / STORE_FILE)
        if new_key.exists():
            os.replace(new_key, folder / KEY_FILE)
        pending.unlink()
        return "completed"
    for leftover in (new_key, new_store, pending):
        if leftover.exists():
            leftover.unlink()
    return "discarded"


def check_key(warehouse: Warehouse, key: bytes) -> None:
    """Refuse a key that is not the one the warehouse was last re-keyed with (after any rotation)."""
    exists = warehouse.scalar(
        "select count(*) from duckdb_tables() where table_name = 'key_rotations' and schema_name = 'main' "
        "and database_name = current_database()"
    )
    if not exists:
        return
    latest = warehouse.scalar("select key_fingerprint from key_rotations order by rotated_at desc limit 1")
    if latest is not None and latest != key_fingerprint(key):
        raise RotationError(
            "the pseudonymisation key is not the one the warehouse is keyed with (see key_rotations); "
            f"after a rotation with ${KEY_ENV}, set it to the new key"
        )


def _current_key(settings: Settings) -> tuple[bytes, bool]:
    """(key, from_environment); refuses to create a key (there would be nothing to rotate from)."""
    from_env = os.environ.get(KEY_ENV)
    if from_env:
        try:
            return bytes.fromhex(from_env.strip()), True
        except ValueError:
            raise RotationError(f"${KEY_ENV} is not a hex key") from None
    path = settings.secrets_dir / KEY_FILE
    if not path.exists():
        raise RotationError(f"no key at {path} (and ${KEY_ENV} is not set): nothing to rotate")
    if path.stat().st_mode & 0o077:
        raise RotationError(f"{path} must be readable by its owner only (chmod 600)")
    return bytes.fromhex(path.read_text().strip()), False


def compact_warehouse(path: Path) -> None:
    """Rewrite the DuckDB file into a fresh one (no free pages holding old values) and swap it in."""
    fresh = path.with_name(f".{path.name}.compact")
    for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
        if leftover.exists():
            leftover.unlink()
    con = duckdb.connect(str(path))
    try:
        con.execute("checkpoint")
        source = con.execute("select current_database()").fetchone()[0]
        con.execute(f"attach '{fresh}' as rotation_fresh")
        con.execute(f"copy from database {_quoted(source)} to rotation_fresh")
        tables = [r[0] for r in con.execute(
            "select table_name from duckdb_tables() where database_name = ? and schema_name = 'main'", [source]
        ).fetchall()]
        for table in tables:
            a = con.execute(f"select count(*) from {_quoted(source)}.main.{_quoted(table)}").fetchone()[0]
            b = con.execute(f"select count(*) from rotation_fresh.main.{_quoted(table)}").fetchone()[0]
            if a != b:
                raise RotationError(f"compaction copied {b} of {a} rows of {table}; the warehouse was left as it is")
        con.execute("checkpoint rotation_fresh")
        con.execute("detach rotation_fresh")
    except BaseException:
        con.close()
        if fresh.exists():
            fresh.unlink()
        raise
    con.close()
    os.replace(fresh, path)


def rotate_key(
    settings: Settings, dry_run: bool = False, compact: bool = True, now: datetime | None = None
) -> RotationSummary:
    """Rotate the pseudonymisation key and re-key the warehouse and the store (the caller holds the run lock)."""
    started = time.perf_counter()
    now = now or datetime.now()
    summary = RotationSummary(dry_run=dry_run)
    finish_interrupted_rotation(settings)
    old_key, from_env = _current_key(settings)
    if from_env:
        new_hex = os.environ.get(NEW_KEY_ENV, "").strip()
        if not new_hex:
            raise RotationError(
                f"the key comes from ${KEY_ENV}: put the new key (64 hex characters, e.g. from "
                f"`python -c 'import secrets; print(secrets.token_hex(32))'`) in ${NEW_KEY_ENV}"
            )
        try:
            new_key = bytes.fromhex(new_hex)
        except ValueError:
            raise RotationError(f"${NEW_KEY_ENV} is not a hex key") from None
        if len(new_key) < 32:
            raise RotationError(f"${NEW_KEY_ENV} must be at least 32 bytes (64 hex characters)")
    else:
        new_key = random_secrets.token_bytes(32)
    if new_key == old_key:
        raise RotationError("the new key is the current key")
    if not settings.warehouse_path.exists():
        raise RotationError("no warehouse yet: nothing to re-key")
    store = ReidentificationStore(settings.secrets_dir).lookup()
    new_store = rekeyed_store(store, settings, old_key, new_key)
    summary.store_entries = new_store.height
    with Warehouse(settings.warehouse_path) as warehouse:
        warehouse.migrate()
        con = warehouse.con
        check_key(warehouse, old_key)
        plain, summary.files_reread = derive_plaintexts(warehouse, settings, store)
        mapping = rotation_map(plain, old_key, new_key)
        summary.pseudonyms_mapped = mapping.height
        try:  # group ids are labels derived from crime keys: renamed too, else the next link run regroups
            renames = group_id_renames(con, mapping)
        except Exception:
            renames = pl.DataFrame(schema={"old": pl.String, "new": pl.String})
        mapping = pl.concat([mapping, renames.join(mapping, on="old", how="anti")])
        con.execute("create or replace temp table rotation_map (old varchar, new varchar)")
        con.register("rotation_incoming", mapping.to_arrow())
        con.execute("insert into rotation_map select old, new from rotation_incoming")
        con.unregister("rotation_incoming")
        unexplained = _unexplained(con)
        if unexplained:
            raise RotationError(
                "these stored pseudonyms cannot be re-derived from the landing area and the store "
                f"(a changed file or mapping, or not the key the warehouse was built with): {', '.join(unexplained)}"
            )
        if dry_run:
            summary.seconds = time.perf_counter() - started
            return summary
        folder = settings.secrets_dir
        fingerprint = key_fingerprint(new_key)
        new_store_path = folder / f"{STORE_FILE}.new"
        new_key_path = folder / f"{KEY_FILE}.new"
        _write_store(new_store_path, new_store)
        if not from_env:
            _write_private(new_key_path, new_key.hex())
        _write_private(folder / PENDING_FILE, json.dumps({"fingerprint": fingerprint}))
        try:
            with warehouse.transaction():
                con.execute("create or replace temp table rotation_old (v varchar)")
                con.execute(
                    "insert into rotation_old select distinct regexp_extract(old, '[0-9a-f]{32,}$') from rotation_map "
                    "where regexp_matches(old, '[0-9a-f]{32,}$')"
                )
                _apply_map(con, summary)
                _build_marts(warehouse, settings)
                leftovers = _leftovers(con)
                if leftovers:
                    raise RotationError(
                        "old pseudonyms would remain after re-keying (rolled back, nothing changed): "
                        + ", ".join(leftovers)
                    )
                con.execute(KEY_ROTATIONS_SQL)
                summary.seconds = time.perf_counter() - started
                con.execute(
                    "insert into key_rotations values (?, ?, ?, ?, ?, ?, ?)",
                    [now, fingerprint, summary.files_reread, summary.pseudonyms_mapped,
                     summary.values_rekeyed, summary.store_entries, summary.seconds],
                )
        except BaseException:
            for leftover in (new_store_path, new_key_path, folder / PENDING_FILE):
                if leftover.exists():
                    leftover.unlink()
            raise
        con.execute("drop table if exists rotation_map")
        con.execute("drop table if exists rotation_old")
        con.execute("checkpoint")
    # committed: the new store, then the new key, into place (the old key is overwritten)
    finish_interrupted_rotation(settings)
    if compact:
        compact_warehouse(settings.warehouse_path)
        summary.compacted = True
    summary.seconds = time.perf_counter() - started
    return summary
