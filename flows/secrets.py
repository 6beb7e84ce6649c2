"""The pseudonymisation key and the re-identification store, kept outside the warehouse.

Deleting the secrets folder leaves the warehouse and the published database
fully anonymous: the keyed pseudonyms can then no longer be reversed or
recomputed.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import duckdb
import polars as pl

KEY_ENV = "INCIDENTS_PSEUDONYM_KEY"
KEY_FILE = "pseudonym.key"
STORE_FILE = "reidentification.duckdb"


def _private_dir(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


def load_or_create_key(folder: Path) -> bytes:
    """The secret key: `$INCIDENTS_PSEUDONYM_KEY` (hex) or the key file, created on first use (0600)."""
    from_env = os.environ.get(KEY_ENV)
    if from_env:
        return bytes.fromhex(from_env.strip())
    path = _private_dir(folder) / KEY_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    if path.stat().st_mode & 0o077:
        raise PermissionError(f"{path} must be readable by its owner only (chmod 600)")
    return bytes.fromhex(path.read_text().strip())


def write_new_key(folder: Path) -> bytes:
    """Replace the key file by a fresh random key (for rotation); returns the new key."""
    path = _private_dir(folder) / KEY_FILE
    tmp = path.with_suffix(".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    key_hex = secrets.token_hex(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(key_hex)
    os.replace(tmp, path)
    return bytes.fromhex(key_hex)


class ReidentificationStore:
    """pseudonym -> original reference, for partners acting on a match; never in the warehouse."""

    def __init__(self, folder: Path) -> None:
        self.path = _private_dir(folder) / STORE_FILE

    def _connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(str(self.path))
        con.execute(
            "create table if not exists reference_pseudonyms "
            "(pseudonym varchar primary key, source varchar not null, ref varchar not null)"
        )
        return con

    def remember(self, pseudonyms: pl.DataFrame) -> None:
        """Store pseudonym, source, ref rows (idempotent)."""
        if pseudonyms.is_empty():
            return
        con = self._connect()
        try:
            con.register("incoming", pseudonyms.select("pseudonym", "source", "ref").to_arrow())
            con.execute(
                "insert or replace into reference_pseudonyms select pseudonym, source, ref from incoming"
            )
        finally:
            con.close()
        os.chmod(self.path, 0o600)

    def lookup(self) -> pl.DataFrame:
        """Every pseudonym with its original reference."""
        if not self.path.exists():
            return pl.DataFrame(schema={"pseudonym": pl.String, "source": pl.String, "ref": pl.String})
        con = self._connect()
        try:
            table = con.execute("select pseudonym, source, ref from reference_pseudonyms").to_arrow_table()
            return pl.from_arrow(table)  # type: ignore[return-value]
        finally:
            con.close()
