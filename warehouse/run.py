"""The one module that talks to DuckDB: schema migrations, loads, models and queries.

Schema lives in `schema/NNN_*.sql` (applied once each, in order, recorded in
`schema_migrations`); models live in `marts/<name>.sql` as a single select each
and are materialised as tables named after the file, in dependency order (a
model declared incremental in its `.yml` can instead replace some of its rows:
`build_models`).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any, Literal

import duckdb
import jinja2
import polars as pl
import yaml

# DuckDB 2 warns that execute(...).to_arrow_table() copies rows; `con.sql` would
# not, but it refuses to run while an execute() result is pending. The copy is cheap here.
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result")

SQL_DIR = Path(__file__).parent
SCHEMA_DIR = SQL_DIR / "schema"
MARTS_DIR = SQL_DIR / "marts"


def sql_file(relative: str) -> str:
    """The text of a `.sql` file under warehouse/."""
    return (SQL_DIR / relative).read_text(encoding="utf-8")


def model_order(models: dict[str, str]) -> list[str]:
    """Model names sorted so that every model comes after the models it selects from."""
    graph: dict[str, set[str]] = {}
    for name, sql in models.items():
        graph[name] = {
            other for other in models if other != name and re.search(rf"\b{other}\b", sql)
        }
    return list(TopologicalSorter(graph).static_order())


_TEMPLATES = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)


def rendered(sql: str, incremental: bool = False) -> str:
    """A model's SQL with its `{% if is_incremental() %}` blocks kept or dropped, as in dbt."""
    return _TEMPLATES.from_string(sql).render(is_incremental=lambda: incremental)


def declared_models(folder: Path) -> list[dict[str, Any]]:
    """The model entries of the `.yml` files beside the models (description, config, data tests)."""
    return [
        model
        for path in sorted(folder.glob("*.yml"))
        for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models", [])
    ]


def incremental_deletes(folder: Path) -> dict[str, str]:
    """model -> the condition on its rows an incremental build replaces (`config.incremental_delete`)."""
    deletes = {}
    for model in declared_models(folder):
        condition = (model.get("config") or {}).get("incremental_delete")
        if condition:
            deletes[model["name"]] = " ".join(str(condition).split())
    return deletes


# The tables declared without a primary key (schema/012_unindexed_large_tables.sql) and the
# columns that identify their rows: `Warehouse.insert` and `Warehouse.upsert` keep each key to
# one row, as the dropped constraint did (incident_ids is written in SQL, one row per member).
UNCONSTRAINED_KEYS: dict[str, tuple[str, ...]] = {
    "stg_cst_report_versions": ("file_hash", "source_row"),
    "stg_police_crime_versions": ("file_hash", "source_row"),
    "link_pairs": ("report_key", "crime_key"),
    "police_incident_groups": ("crime_key",),
    "link_record_state": ("source", "record_key"),
    "link_narrative_terms": ("source", "record_key"),
    "incident_ids": ("member_key",),
}


class DuplicateKeyError(ValueError):
    """A write would give a key of a table without a primary key (schema/012) a second row."""


class Warehouse:
    """A DuckDB database file and everything done to it."""

    def __init__(self, path: Path | str, read_only: bool = False) -> None:
        self.path = Path(path)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(self.path), read_only=read_only)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def migrate(self) -> list[str]:
        """Apply the schema files not yet applied; returns their names."""
        self.con.execute(
            "create table if not exists schema_migrations "
            "(version varchar primary key, applied_at timestamp default current_timestamp)"
        )
        applied = {row[0] for row in self.con.execute("select version from schema_migrations").fetchall()}
        done = []
        for path in sorted(SCHEMA_DIR.glob("*.sql")):
            if path.stem in applied:
                continue
            with self.transaction():
                self.con.execute(path.read_text(encoding="utf-8"))
                self.con.execute("insert into schema_migrations (version) values (?)", [path.stem])
            done.append(path.stem)
        return done

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: a failure (or a killed process) leaves the database as it was."""
        self.con.execute("begin transaction")
        try:
            yield
        except BaseException:
            self.con.execute("rollback")
            raise
        self.con.execute("commit")

    def execute(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> None:
        self.con.execute(sql, params or [])

    def query(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        # DuckDB 2 connections have no .pl(); Arrow is the zero-copy way to Polars. A relation
        # (`sql`), not `execute`: Arrow from a DB-API result copies every row once more
        # (0.1-0.2 s on a night's 331k-row read at a million records).
        self._finish_pending()
        relation = self.con.sql(sql, params=params or None)
        if relation is None:  # not a query: nothing to return
            return pl.DataFrame()
        return pl.from_arrow(relation.to_arrow_table())  # type: ignore[return-value]

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        row = self.con.execute(sql, params or []).fetchone()
        self._finish_pending()
        return None if row is None else row[0]

    def _finish_pending(self) -> None:
        """DuckDB 2: a half-read result of `execute` (a scalar) blocks `sql` and `register`."""
        complete = getattr(self.con, "complete", None)
        if complete is not None:
            complete()

    def insert(self, table: str, frame: pl.DataFrame, on_conflict: Literal["ignore", "replace"] | None = None) -> int:
        """Append a frame to a table, matching columns by name (`on_conflict`: what becomes of a row
        whose primary key is already there: kept, `ignore`, or replaced, `replace`).

        A table of `UNCONSTRAINED_KEYS` refuses a frame holding a key twice, or a key it holds
        already (`DuplicateKeyError`), as its dropped key constraint did.
        """
        if frame.is_empty():
            return 0
        key = UNCONSTRAINED_KEYS.get(table)
        if key:
            self._refuse_repeated_keys(table, frame, key)
        return self._append(table, frame, on_conflict, held_key=key)

    def upsert(self, table: str, frame: pl.DataFrame) -> int:
        """`insert or replace` for a table of `UNCONSTRAINED_KEYS`: the frame's rows replace the
        table's rows with the same key; a frame holding a key twice is refused."""
        if frame.is_empty():
            return 0
        key = UNCONSTRAINED_KEYS[table]
        self._refuse_repeated_keys(table, frame, key)
        name = f"incoming_{table}"
        self.con.register(name, frame.select(key).to_arrow())
        try:
            matched = " and ".join(f'{table}."{c}" = {name}."{c}"' for c in key)
            self.con.execute(f"delete from {table} using {name} where {matched}")
        finally:
            self.con.unregister(name)
        return self._append(table, frame)  # no key of the frame is left in the table

    def _append(
        self, table: str, frame: pl.DataFrame, on_conflict: Literal["ignore", "replace"] | None = None,
        held_key: tuple[str, ...] | None = None,
    ) -> int:
        """Insert the frame's rows; `held_key`: refused if the table holds one of their keys."""
        name = f"incoming_{table}"
        self.con.register(name, frame.to_arrow())
        try:
            if held_key:
                held = self.scalar(f"select count(*) from {table} semi join {name} using ({', '.join(held_key)})")
                if held:
                    raise DuplicateKeyError(f"{table}: holds {held} rows with the key ({', '.join(held_key)}) "
                                            "of an incoming row")
            columns = ", ".join(f'"{c}"' for c in frame.columns)
            verb = f"insert or {on_conflict}" if on_conflict else "insert"
            self.con.execute(f"{verb} into {table} ({columns}) select {columns} from {name}")
        finally:
            self.con.unregister(name)
        return frame.height

    @staticmethod
    def _refuse_repeated_keys(table: str, frame: pl.DataFrame, key: tuple[str, ...]) -> None:
        repeated = frame.select(key).is_duplicated().sum()
        if repeated:  # counts only: keys are pseudonyms, but an error message holds no values
            raise DuplicateKeyError(f"{table}: {repeated} incoming rows share a key ({', '.join(key)})")

    def replace_temp(self, table: str, frame: pl.DataFrame) -> None:
        """A temp table holding exactly `frame` (a key list a statement joins with)."""
        name = f"incoming_{table}"
        self.con.register(name, frame.to_arrow())
        try:
            self.con.execute(f"create or replace temp table {table} as select * from {name}")
        finally:
            self.con.unregister(name)

    def build_models(self, folder: Path = MARTS_DIR, incremental: bool = False) -> list[str]:
        """Materialise every model in `folder` as a table, in dependency order.

        `incremental`: a model whose `<name>.yml` declares `config.incremental_delete`
        (a condition on its rows) has those rows deleted and its select's rows
        inserted instead of being rebuilt; its select, rendered with
        `is_incremental()` true, returns the replacements only (the caller fills
        the scope tables it reads).
        """
        models = {p.stem: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.sql"))}
        order = model_order(models)
        deletes = incremental_deletes(folder) if incremental else {}
        for name in order:
            if name in deletes:
                self.con.execute(f"delete from {name} where {deletes[name]}")
                self.con.execute(f"insert into {name} by name\n{rendered(models[name], incremental=True)}")
            else:
                self.con.execute(f"create or replace table {name} as\n{rendered(models[name])}")
        return order
