"""The S3 release on a real S3 server (the session's SeaweedFS `weed`, tests/conftest.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from flows.publishing import publish_locally, upload_release_now
from tests.warehouse.test_marts import record_run, sample_warehouse

pytestmark = pytest.mark.slow


@pytest.fixture
def bucket(s3_server, request: pytest.FixtureRequest):  # noqa: ANN001, ANN201
    """A fresh bucket on the session's SeaweedFS server, and a client for it."""
    client = s3_server.client()
    name = "releases-" + request.node.name.replace("_", "-")[:40].strip("-").lower()
    client.create_bucket(Bucket=name)
    return name, client


def read_json(client, bucket: str, key: str) -> dict:  # noqa: ANN001
    return json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())


def check_release(client, bucket: str, latest: dict) -> None:  # noqa: ANN001
    manifest_bytes = client.get_object(Bucket=bucket, Key=latest["manifest"])["Body"].read()
    assert hashlib.sha256(manifest_bytes).hexdigest() == latest["manifest_sha256"]
    manifest = json.loads(manifest_bytes)
    assert manifest["run_id"] == latest["run_id"]
    for entry in manifest["files"]:
        body = client.get_object(Bucket=bucket, Key=latest["files"][entry["name"]])["Body"].read()
        assert len(body) == entry["size"]
        assert hashlib.sha256(body).hexdigest() == entry["sha256"]


class FailingAfter:
    """A boto3 client whose n-th upload fails, as a dropped connection would."""

    def __init__(self, client, fail_on: int) -> None:  # noqa: ANN001
        self.client, self.fail_on, self.uploads = client, fail_on, 0

    def upload_file(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        self.uploads += 1
        if self.uploads == self.fail_on:
            raise ConnectionError("injected: connection dropped mid-release")
        return self.client.upload_file(*args, **kwargs)

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self.client, name)


def test_release_is_uploaded_with_manifest_and_latest_pointer(bucket, tmp_path: Path) -> None:  # noqa: ANN001
    name, client = bucket
    warehouse, settings = sample_warehouse(tmp_path)
    try:
        result = publish_locally(warehouse, settings, "run-1")
    finally:
        warehouse.close()
    latest_url = upload_release_now(result.path.parent, f"s3://{name}/incidents", client)
    assert latest_url == f"s3://{name}/incidents/latest.json"
    latest = read_json(client, name, "incidents/latest.json")
    assert latest["run_id"] == "run-1"
    assert latest["files"]["incidents.duckdb"] == "incidents/runs/run-1/incidents.duckdb"
    assert "open-data/incidents_by_category.parquet" in latest["files"]
    check_release(client, name, latest)


def test_a_partial_upload_is_never_the_latest(bucket, tmp_path: Path) -> None:  # noqa: ANN001
    name, client = bucket
    warehouse, settings = sample_warehouse(tmp_path)
    try:
        first = publish_locally(warehouse, settings, "run-1")
        upload_release_now(first.path.parent, f"s3://{name}/partial", client)
        record_run(warehouse, "run-2")
        second = publish_locally(warehouse, settings, "run-2")
    finally:
        warehouse.close()
    with pytest.raises(ConnectionError, match="injected"):
        upload_release_now(second.path.parent, f"s3://{name}/partial", FailingAfter(client, fail_on=3))
    latest = read_json(client, name, "partial/latest.json")
    assert latest["run_id"] == "run-1"
    check_release(client, name, latest)
    listed = client.list_objects_v2(Bucket=name, Prefix="partial/runs/run-2/")
    keys = {o["Key"] for o in listed.get("Contents", [])}
    assert keys and "partial/runs/run-2/manifest.json" not in keys  # some files went up, no manifest
    upload_release_now(second.path.parent, f"s3://{name}/partial", client)  # the retry
    latest = read_json(client, name, "partial/latest.json")
    assert latest["run_id"] == "run-2"
    check_release(client, name, latest)


def run_folders(client, bucket: str, prefix: str) -> dict[str, set[str]]:  # noqa: ANN001
    listed = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/runs/")
    folders: dict[str, set[str]] = {}
    for item in listed.get("Contents", []):
        run_id, _, name = item["Key"][len(prefix) + len("/runs/"):].partition("/")
        folders.setdefault(run_id, set()).add(name)
    return folders


def test_only_the_newest_complete_releases_are_kept(bucket, tmp_path: Path) -> None:  # noqa: ANN001
    name, client = bucket
    prefix = f"s3://{name}/kept"
    warehouse, settings = sample_warehouse(tmp_path)

    def release(number: int) -> Path:
        run_id = f"2026112{number}T023000-abc12{number}"
        record_run(warehouse, run_id)
        return publish_locally(warehouse, settings, run_id).path.parent

    try:
        upload_release_now(release(1), prefix, client, keep=2)
        with pytest.raises(ConnectionError, match="injected"):  # run 2 is cut short: files, no manifest
            upload_release_now(release(2), prefix, FailingAfter(client, fail_on=2), keep=2)
        upload_release_now(release(3), prefix, client, keep=2)
        assert set(run_folders(client, name, "kept")) == {"20261121T023000-abc121", "20261123T023000-abc123"}
        fourth = release(4)
    finally:
        warehouse.close()
    upload_release_now(fourth, prefix, client, keep=2)
    folders = run_folders(client, name, "kept")
    assert set(folders) == {"20261123T023000-abc123", "20261124T023000-abc124"}
    assert all("manifest.json" in files and "incidents.duckdb" in files for files in folders.values())
    latest = read_json(client, name, "kept/latest.json")
    assert latest["run_id"] == "20261124T023000-abc124"
    check_release(client, name, latest)
    # a purge re-publishes and keeps one: the older release still holds the purged incidents
    upload_release_now(fourth, prefix, client, keep=1)
    assert set(run_folders(client, name, "kept")) == {"20261124T023000-abc124"}
    check_release(client, name, read_json(client, name, "kept/latest.json"))


def test_a_purge_leaves_no_older_release_in_s3(bucket, tmp_path: Path, s3_server, monkeypatch) -> None:  # noqa: ANN001
    from datetime import date

    from flows.retention import purge_now

    name, client = bucket
    prefix = f"s3://{name}/purged"
    warehouse, settings = sample_warehouse(tmp_path)
    try:
        for run_id in ("20261121T023000-abc121", "20261122T023000-abc122"):
            record_run(warehouse, run_id)
            upload_release_now(publish_locally(warehouse, settings, run_id).path.parent, prefix, client, keep=30)
    finally:
        warehouse.close()
    assert len(run_folders(client, name, "purged")) == 2
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    settings = settings.model_copy(update={
        "publish": settings.publish.model_copy(update={"s3_prefix": prefix}),
        "s3": settings.s3.model_copy(update={"endpoint_url": s3_server.endpoint_url}),
    })
    result = purge_now(settings, date(2026, 1, 1))
    assert result.records_purged > 0
    assert set(run_folders(client, name, "purged")) == {"20261122T023000-abc122"}
    latest = read_json(client, name, "purged/latest.json")
    check_release(client, name, latest)
    assert latest["files"]["incidents.duckdb"].startswith("purged/runs/20261122T023000-abc122/")
