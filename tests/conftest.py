"""Shared fixtures: Prefect in a throwaway home, a real S3 server, demo data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.s3_server import S3Server, seaweedfs

# Prefect settings must be in the environment before prefect is imported anywhere.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
if "PREFECT_HOME" not in os.environ:
    import tempfile

    os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="incidents-prefect-")

SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "data" / "samples"


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real SeaweedFS S3 server for the whole test session."""
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture
def incidents_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A fresh landing area and state folder, selected through INCIDENTS_* variables."""
    landing = tmp_path / "landing"
    home = tmp_path / "home"
    landing.mkdir()
    monkeypatch.setenv("INCIDENTS_LANDING", str(landing))
    monkeypatch.setenv("INCIDENTS_HOME", str(home))
    monkeypatch.delenv("INCIDENTS_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return {"landing": landing, "home": home, "root": tmp_path}
