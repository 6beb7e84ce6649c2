"""The landing area: a local folder or an S3 prefix, listed and read the same way.

Layout: `cst/*` for CST, `police/<force_id>/*` for each force. Files are never
modified after they land.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import boto3
from botocore.config import Config


@dataclass(frozen=True)
class LandedFile:
    """One file in the landing area: `key` is its path relative to the landing root."""

    key: str
    size: int
    modified: float

    @property
    def folder(self) -> str:
        """`cst` or `police/<force>` (or whatever unexpected folder it sits in)."""
        parts = self.key.split("/")
        if parts[0] == "police" and len(parts) > 2:
            return f"police/{parts[1]}"
        return parts[0] if len(parts) > 1 else ""

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


class Landing(Protocol):
    """Where extracts land. `describe()` names it without credentials."""

    def list_files(self) -> list[LandedFile]: ...

    def read(self, key: str) -> bytes: ...

    def describe(self) -> str: ...


class LocalLanding:
    """A landing area in a local folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def list_files(self) -> list[LandedFile]:
        if not self.root.exists():
            return []
        files = []
        for path in self.root.rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                stat = path.stat()
                key = path.relative_to(self.root).as_posix()
                files.append(LandedFile(key, stat.st_size, stat.st_mtime))
        return sorted(files, key=lambda f: f.key)

    def read(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def describe(self) -> str:
        return str(self.root)


def s3_client(endpoint_url: str | None = None, region: str | None = None):  # noqa: ANN201
    """A boto3 S3 client from the usual AWS settings, with an optional endpoint override."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None,
        region_name=region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        config=Config(retries={"max_attempts": 5, "mode": "standard"}, s3={"addressing_style": "path"}),
    )


def split_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> (`bucket`, `some/prefix/`)."""
    rest = url.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


class S3Landing:
    """A landing area under an S3 prefix (any S3-compatible store)."""

    def __init__(self, url: str, endpoint_url: str | None = None, region: str | None = None) -> None:
        self.url = url
        self.bucket, self.prefix = split_s3_url(url)
        self.client = s3_client(endpoint_url, region)

    def list_files(self) -> list[LandedFile]:
        files = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", []):
                key = item["Key"][len(self.prefix) :]
                if not key or key.endswith("/") or key.rsplit("/", 1)[-1].startswith("."):
                    continue
                files.append(LandedFile(key, item["Size"], item["LastModified"].timestamp()))
        return sorted(files, key=lambda f: f.key)

    def read(self, key: str) -> bytes:
        response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
        return response["Body"].read()

    def describe(self) -> str:
        return self.url


def landing_for(location: str, endpoint_url: str | None = None, region: str | None = None) -> Landing:
    """The landing area named by a setting: `s3://bucket/prefix` or a folder."""
    if location.startswith("s3://"):
        return S3Landing(location, endpoint_url, region)
    return LocalLanding(Path(location))
