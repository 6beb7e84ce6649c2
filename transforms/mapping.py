"""The declarative per-source mapping model.

A mapping file says, for one sender, how its extract is laid out: which of its
columns mean which canonical field, how dates are written, which values mean
cancelled, which columns hold personal data or free text. Onboarding a force is
writing one of these files; no code changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

BUILTIN_MAPPINGS_DIR = Path(__file__).parent / "sources"

CST_FIELDS = (
    "ref",
    "incident_date",
    "incident_time",
    "reported_date",
    "category",
    "method",
    "location_type",
    "address",
    "town",
    "postcode",
    "force_area",
    "victim_type",
    "reported_to_police",
    "police_reference",
    "last_updated",
)
POLICE_FIELDS = (
    "ref",
    "offence_code",
    "offence_desc",
    "occurred_from",
    "occurred_to",
    "reported_date",
    "address",
    "postcode",
    "town",
    "hate_flags",
    "status",
    "victims",
)
REQUIRED_FIELDS = {
    "cst": ("ref", "incident_date", "category", "last_updated"),
    "police": ("ref", "offence_code", "occurred_from", "status"),
}


class CsvOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    delimiter: str = ","
    # Any Python codec name: utf-8 (a BOM is always accepted), cp1252, latin-1, ...
    encoding: str = "utf-8"
    quote_char: str = '"'


class SourceMapping(BaseModel):
    """How one sender's extract maps onto the canonical staging columns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["cst", "police"]
    format: Literal["csv", "xlsx", "jsonl"]
    file_pattern: str = "*"
    description: str = ""
    csv: CsvOptions = CsvOptions()
    sheet: str | None = None
    # canonical field -> the sender's column (dotted path for nested JSON)
    columns: dict[str, str]
    # canonical field -> strptime formats, tried in order
    date_formats: dict[str, list[str]] = {}
    # values of the status column that mean the record was cancelled (case-insensitive)
    cancelled_values: list[str] = []
    # the sender's columns holding personal data: never stored; used to scrub the
    # record's own free text
    identifier_columns: list[str] = []
    # canonical free-text output -> the sender's column; stored only redacted
    free_text_columns: dict[str, str] = {}
    # values of name-like columns that are organisations, not people
    organisation_markers: list[str] = [
        "synagogue",
        "shul",
        "school",
        "college",
        "cemetery",
        "centre",
        "council",
        "trust",
        "society",
        "association",
        "yeshiva",
        "kollel",
        "board",
    ]

    @field_validator("columns")
    @classmethod
    def _known_fields(cls, columns: dict[str, str]) -> dict[str, str]:
        allowed = set(CST_FIELDS) | set(POLICE_FIELDS)
        unknown = sorted(set(columns) - allowed)
        if unknown:
            raise ValueError(f"unknown canonical fields: {unknown}")
        return columns

    def model_post_init(self, __context: object) -> None:
        fields = CST_FIELDS if self.kind == "cst" else POLICE_FIELDS
        wrong = sorted(set(self.columns) - set(fields))
        if wrong:
            raise ValueError(f"fields {wrong} do not belong to a {self.kind} mapping")
        missing = [f for f in REQUIRED_FIELDS[self.kind] if f not in self.columns]
        if missing:
            raise ValueError(f"mapping {self.id} lacks required fields {missing}")

    @property
    def required_source_columns(self) -> list[str]:
        """The sender's columns without which a file cannot be read at all."""
        return [self.columns[f] for f in REQUIRED_FIELDS[self.kind]]

    @property
    def source_columns(self) -> list[str]:
        """Every sender column this mapping reads."""
        seen: dict[str, None] = {}
        for col in [
            *self.columns.values(),
            *self.identifier_columns,
            *self.free_text_columns.values(),
        ]:
            seen[col] = None
        return list(seen)

    def column(self, field: str) -> str | None:
        return self.columns.get(field)


def load_mapping(path_or_name: str | Path) -> SourceMapping:
    """Load a mapping from a YAML file, or `builtin:<id>` for a shipped one."""
    text = str(path_or_name)
    path = BUILTIN_MAPPINGS_DIR / f"{text[8:]}.yml" if text.startswith("builtin:") else Path(text)
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return SourceMapping.model_validate(data)
