"""Exchange packs: read the warehouse and the re-identification store, write CSV + XLSX, log it.

`write_exchange_pack(settings, partner, period)` builds the pack with the pure
functions of `transforms/exchange.py` and writes it to
`$INCIDENTS_HOME/exchange/<partner>/<period label>/`:

- `<partner>_<period>.csv` (UTF-8 with a byte-order mark, so that spreadsheet
  programs read accents right) and `<partner>_<period>.xlsx` (sheet `pack`),
  both through `spreadsheet_safe` (formula injection) and, for the workbook,
  written as text cells with formula/URL/number conversion off;
- files are created owner-only (0600, folders 0700): they carry the partners'
  reference numbers, which is the point of the pack and why it is not
  published anywhere else.

Each pack written is recorded in the warehouse table `exchange_log` (what,
when, row count, file names and checksums; never the content).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import polars as pl

from flows.config import Settings
from flows.secrets import ReidentificationStore
from transforms.exchange import (
    PACK_COLUMNS,
    Period,
    missing_references,
    pack_for_cst,
    pack_for_force,
)
from transforms.spreadsheet_safety import spreadsheet_safe
from warehouse.run import Warehouse

SHEET_NAME = "pack"
HEADERS = {
    "reference": "reference",
    "source": "source",
    "date": "date",
    "date_to": "date_to",
    "street": "street",
    "town": "town",
    "postcode_sector": "postcode_sector",
    "category": "category",
    "offence": "offence",
    "summary": "summary",
}


class ExchangeError(RuntimeError):
    """No pack was written (the reason says why); nothing was logged."""


@dataclass
class PackResult:
    partner: str
    period: Period
    rows: int
    files: list[Path]
    sources: list[str]


def _frame(warehouse: Warehouse, sql: str) -> pl.DataFrame:
    with warnings.catch_warnings():  # DuckDB 2: "Arrow output on a DB-API result makes an extra copy"
        warnings.simplefilter("ignore", UserWarning)
        return pl.from_arrow(warehouse.con.execute(sql).to_arrow_table())  # type: ignore[return-value]


def _table_exists(warehouse: Warehouse, name: str) -> bool:
    return bool(
        warehouse.scalar(
            "select count(*) from duckdb_tables() where table_name = ? and schema_name = 'main' "
            "and database_name = current_database()",
            [name],
        )
    )


def _pairs(warehouse: Warehouse) -> pl.DataFrame:
    if not _table_exists(warehouse, "link_pairs"):
        raise ExchangeError("the linkage has not run yet (no link_pairs): a pack would list every record")
    return _frame(warehouse, "select report_key, crime_key, status from link_pairs")


def _groups(warehouse: Warehouse) -> pl.DataFrame | None:
    if not _table_exists(warehouse, "police_incident_groups"):
        return None
    return _frame(warehouse, "select crime_key, police_incident_id from police_incident_groups")


def _private_dir(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


def _private_write(path: Path, write: callable) -> None:  # type: ignore[valid-type]
    """Write through `write(tmp_path)` to a 0600 temporary file, then rename into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_csv(frame: pl.DataFrame, path: Path) -> None:
    safe = spreadsheet_safe(frame.select(PACK_COLUMNS).rename(HEADERS))
    _private_write(path, lambda tmp: safe.write_csv(tmp, include_bom=True, date_format="%Y-%m-%d"))


def write_xlsx(frame: pl.DataFrame, path: Path) -> None:
    import xlsxwriter

    safe = spreadsheet_safe(frame.select(PACK_COLUMNS).rename(HEADERS))

    def _write(tmp: Path) -> None:
        workbook = xlsxwriter.Workbook(
            str(tmp),
            {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False},
        )
        try:
            sheet = workbook.add_worksheet(SHEET_NAME)
            bold = workbook.add_format({"bold": True})
            dates = workbook.add_format({"num_format": "yyyy-mm-dd"})
            text = workbook.add_format({"text_wrap": False})
            for col, name in enumerate(safe.columns):
                sheet.write_string(0, col, name, bold)
            for row_number, row in enumerate(safe.iter_rows(), start=1):
                for col, value in enumerate(row):
                    if value is None:
                        continue
                    if isinstance(value, date):
                        sheet.write_datetime(row_number, col, datetime(value.year, value.month, value.day), dates)
                    else:
                        sheet.write_string(row_number, col, str(value), text)
            widths = {"reference": 18, "summary": 80, "offence": 40, "street": 24, "town": 18}
            for col, name in enumerate(safe.columns):
                sheet.set_column(col, col, widths.get(name, 12))
            sheet.freeze_panes(1, 0)
            if safe.height:
                sheet.autofilter(0, 0, safe.height, len(safe.columns) - 1)
        finally:
            workbook.close()

    _private_write(path, _write)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_pack(
    warehouse: Warehouse, settings: Settings, partner: str, period: Period, force: str | None = None
) -> tuple[pl.DataFrame, list[str]]:
    """The pack frame and the sources it is about (reads the warehouse and the re-identification store)."""
    forces = {f.id: f.participating_from for f in settings.forces}
    refs = ReidentificationStore(settings.secrets_dir).lookup()
    pairs = _pairs(warehouse)
    police = _frame(warehouse, "select * from stg_police_crimes")
    if partner == settings.cst.id:
        if force is not None:
            if force not in forces:
                raise ExchangeError(f"unknown force {force!r}; configured: {', '.join(sorted(forces)) or 'none'}")
            forces = {force: forces[force]}
        pack = pack_for_cst(police, pairs, _groups(warehouse), refs, forces, period)
        sources = sorted(forces)
    elif partner in forces:
        if force is not None and force != partner:
            raise ExchangeError("--force only applies to the pack for CST")
        cst = _frame(warehouse, "select * from stg_cst_reports")
        pack = pack_for_force(cst, police, pairs, refs, partner, period, forces[partner])
        sources = [settings.cst.id]
    else:
        known = ", ".join([settings.cst.id, *sorted(forces)])
        raise ExchangeError(f"unknown partner {partner!r}; use one of: {known}")
    missing = missing_references(pack)
    if missing:
        raise ExchangeError(
            f"{missing} record(s) have no original reference in the re-identification store "
            f"({settings.secrets_dir}); a pack without references cannot be acted on"
        )
    return pack, sources


def write_exchange_pack(
    settings: Settings, partner: str, period: Period, force: str | None = None, now: datetime | None = None
) -> PackResult:
    """Build, write and log one pack (the caller holds the run lock)."""
    now = now or datetime.now()
    if not settings.warehouse_path.exists():
        raise ExchangeError("no warehouse yet: run `incidents nightly` first")
    with Warehouse(settings.warehouse_path) as warehouse:
        warehouse.migrate()
        pack, sources = build_pack(warehouse, settings, partner, period, force)
        folder = _private_dir(_private_dir(_private_dir(settings.home / "exchange") / partner) / period.label)
        suffix = f"_{force}" if force else ""
        stem = f"{partner}{suffix}_{period.label}"
        csv_path, xlsx_path = folder / f"{stem}.csv", folder / f"{stem}.xlsx"
        write_csv(pack, csv_path)
        write_xlsx(pack, xlsx_path)
        run_id = warehouse.scalar(
            "select run_id from runs where status = 'succeeded' order by finished_at desc nulls last limit 1"
        )
        warehouse.execute(
            "insert into exchange_log values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                f"{partner}{suffix}/{period.label}/{now.isoformat(timespec='microseconds')}",
                now,
                partner,
                sources,
                period.label,
                period.start,
                period.end,
                pack.height,
                [csv_path.name, xlsx_path.name],
                [_sha256(csv_path), _sha256(xlsx_path)],
                run_id,
            ],
        )
    return PackResult(partner, period, pack.height, [csv_path, xlsx_path], sources)
