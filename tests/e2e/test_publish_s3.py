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
