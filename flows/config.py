"""Settings: the configuration file `incidents.toml` plus `INCIDENTS_*` environment variables.

The environment wins over the file. The file is found at `$INCIDENTS_CONFIG`,
else `./incidents.toml`; without either, the built-in defaults (CST plus the
three demo forces) apply.
"""

from __future__ import annotations

import os
import tomllib
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from transforms.mapping import SourceMapping, load_mapping
from transforms.reference_data import BUILTIN_REFERENCE_DIR, ReferenceData, postcode_force_areas

SHARED_POSTCODE_TABLE = "builtin:postcode_police_force_area.csv"


class SourceConfig(BaseModel):
    """One sender: which mapping describes its files and how often it sends."""

    model_config = ConfigDict(extra="forbid")

    id: str
    mapping: str
    participating_from: date | None = None
    cadence_days: int = 7


class ReferenceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # CSVs (postcode_prefix, police_force_area) applied over the shared table, later wins
    postcode_force_areas: list[str] = []
    # CSVs (force_id, name, aliases), (town, force_id), (offence_code, category)
    forces: list[str] = []
    towns: list[str] = []
    offence_categories: list[str] = []


class S3Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint_url: str | None = None
    region: str | None = None


class SecretsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # folder for the pseudonymisation key and the re-identification store;
    # default $INCIDENTS_HOME/secrets. Keep it out of any backup of the warehouse.
    dir: str | None = None


class PublishConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    suppression_threshold: int = 5
    s3_prefix: str | None = None
    # releases kept under <s3_prefix>/runs/ (the newest, complete ones); older are deleted after an upload
    s3_keep_releases: int = Field(default=30, ge=1)


class ScheduleConfig(BaseModel):
    """When `incidents serve` runs the nightly flow (see flows/scheduling.py)."""

    model_config = ConfigDict(extra="forbid")

    cron: str = "30 2 * * *"          # every night at 02:30
    timezone: str = "Europe/London"   # IANA name; cron times are local to it
    retries: int = 2                  # whole-run retries after a failed night
    retry_delay_seconds: int = 600
    grace_days: int = 0               # `incidents status`: days past cadence before "overdue"


class RetentionConfig(BaseModel):
    """Records older than this are purged each night (none configured: nothing is purged)."""

    model_config = ConfigDict(extra="forbid")

    years: int | None = Field(default=None, ge=0)
    months: int | None = Field(default=None, ge=0)


class ExecutionConfig(BaseModel):
    """Where the nightly flow's per-source and per-block work runs (see flows/task_runners.py)."""

    model_config = ConfigDict(extra="forbid")

    runner: Literal["threads", "dask"] = "threads"
    max_workers: int | None = None    # threads: default min(8, sources)
    dask_address: str | None = None   # e.g. "tcp://scheduler:8786"; none: a local cluster
    dask_workers: int = 2             # local cluster only
    dask_processes: bool = False      # local cluster: process workers need PREFECT_API_URL
    # how many blocks the linkage cuts its per-block work into (a full link's date chunks, a
    # night's similarity groups), as many in flight; none: threads, twice the cores; Dask, its local workers,
    # 8 for a cluster by address
    link_blocks: int | None = Field(default=None, ge=1)


class Settings(BaseModel):
    """Everything a run needs to know; see README 'Configuration'."""

    model_config = ConfigDict(extra="forbid")

    landing: str = "data/landing"
    home: Path = Path("data")
    cst: SourceConfig = SourceConfig(id="cst", mapping="builtin:cst", cadence_days=1)
    forces: list[SourceConfig] = Field(
        default_factory=lambda: [
            SourceConfig(id="gmp", mapping="builtin:gmp", participating_from=date(2025, 1, 1), cadence_days=7),
            SourceConfig(id="mps", mapping="builtin:mps", participating_from=date(2025, 4, 1), cadence_days=31),
            SourceConfig(id="wyp", mapping="builtin:wyp", participating_from=date(2025, 7, 1), cadence_days=1),
        ]
    )
    reference: ReferenceConfig = ReferenceConfig()
    s3: S3Config = S3Config()
    secrets: SecretsConfig = SecretsConfig()
    publish: PublishConfig = PublishConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    retention: RetentionConfig = RetentionConfig()
    execution: ExecutionConfig = ExecutionConfig()
    # where relative paths in the file are resolved from
    base_dir: Path = Path(".")

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def published_path(self) -> Path:
        return self.home / "published" / "incidents.duckdb"

    @property
    def secrets_dir(self) -> Path:
        return self._resolve(self.secrets.dir) if self.secrets.dir else self.home / "secrets"

    @property
    def sources(self) -> list[SourceConfig]:
        return [self.cst, *self.forces]

    def _resolve(self, path: str) -> Path:
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.base_dir / candidate

    def _mapping_path(self, mapping: str) -> str | Path:
        return mapping if mapping.startswith("builtin:") else self._resolve(mapping)

    @cached_property
    def mappings(self) -> dict[str, SourceMapping]:
        """Mappings by landing folder: `cst` and `police/<force_id>`."""
        out: dict[str, SourceMapping] = {}
        for source in self.sources:
            mapping = load_mapping(self._mapping_path(source.mapping))
            if mapping.id != source.id:
                raise ValueError(
                    f"source {source.id!r} points at mapping {source.mapping!r} whose id is {mapping.id!r}"
                )
            folder = "cst" if mapping.kind == "cst" else f"police/{mapping.id}"
            out[folder] = mapping
        return out

    def _csv(self, name: str) -> pl.DataFrame:
        if name.startswith("builtin:"):
            builtin = name.removeprefix("builtin:")
            path = BUILTIN_REFERENCE_DIR / builtin
            if not path.exists():
                path = shared_reference_dir() / builtin
            return pl.read_csv(path, infer_schema=False)
        return pl.read_csv(self._resolve(name), infer_schema=False)

    def _stacked(self, base: str, extras: list[str], key: str) -> pl.DataFrame:
        frames = [self._csv(base), *(self._csv(e) for e in extras)]
        return pl.concat(frames, how="diagonal_relaxed").unique(key, keep="last", maintain_order=True)

    @cached_property
    def reference_data(self) -> ReferenceData:
        forces = self._stacked("builtin:police_forces.csv", self.reference.forces, "force_id")
        raw_areas = self._stacked(
            SHARED_POSTCODE_TABLE, self.reference.postcode_force_areas, "postcode_prefix"
        )
        return ReferenceData(
            force_areas=postcode_force_areas(raw_areas, forces),
            forces=forces,
            towns=self._stacked("builtin:town_force_area.csv", self.reference.towns, "town"),
            categories=self._csv("builtin:cst_categories.csv"),
            offence_categories=self._stacked(
                "builtin:offence_categories.csv", self.reference.offence_categories, "offence_code"
            ),
        )


def shared_reference_dir() -> Path:
    """The shipped copy of the shared postcode -> force-area table."""
    return BUILTIN_REFERENCE_DIR


def config_path() -> Path | None:
    explicit = os.environ.get("INCIDENTS_CONFIG")
    if explicit:
        return Path(explicit)
    local = Path("incidents.toml")
    return local if local.exists() else None


def load_settings(path: Path | None = None) -> Settings:
    """Settings from the configuration file (if any), then the environment."""
    path = path or config_path()
    data: dict = {}
    base_dir = Path(".")
    if path is not None:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
        base_dir = path.resolve().parent
        paths = data.pop("paths", {})
        data.update({k: v for k, v in paths.items() if k in {"landing", "home"}})
    if os.environ.get("INCIDENTS_LANDING"):
        data["landing"] = os.environ["INCIDENTS_LANDING"]
    if os.environ.get("INCIDENTS_HOME"):
        data["home"] = os.environ["INCIDENTS_HOME"]
    settings = Settings.model_validate({**data, "base_dir": base_dir})
    return settings
