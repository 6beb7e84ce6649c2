"""The nightly deployment: defined from the configuration, loadable into a Prefect server, a test-harness
run of the flow with its ledger row and counts-only artifacts, and (slow) a served deployment running a night.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from flows.cli import main
from flows.config import load_settings
from flows.ledger import config_hash
from flows.scheduling import (
    FULL_NAME,
    next_runs,
    nightly_deployment,
    prefect_server,
    scheduled_flow,
)
from tests.conftest import SAMPLES

CONFIG = """
[schedule]
cron = "15 3 * * 1-5"
timezone = "Europe/London"
retries = 1
retry_delay_seconds = 5

[execution]
runner = "threads"
max_workers = 2
"""


@pytest.fixture
def configured(incidents_env, monkeypatch) -> dict[str, Path]:
    config = incidents_env["root"] / "incidents.toml"
    config.write_text(textwrap.dedent(CONFIG))
    monkeypatch.setenv("INCIDENTS_CONFIG", str(config))
    shutil.rmtree(incidents_env["landing"])
    shutil.copytree(SAMPLES, incidents_env["landing"])
    return {**incidents_env, "config": config}


def test_the_deployment_carries_the_configured_schedule_runner_and_retries(configured):
    settings = load_settings()
    deployment = nightly_deployment(settings, str(configured["config"]))
    assert (deployment.flow_name, deployment.name) == ("nightly", "nightly")
    assert deployment.entrypoint == "flows.nightly.nightly"
    [schedule] = deployment.schedules
    assert schedule.schedule.cron == "15 3 * * 1-5"
    assert schedule.schedule.timezone == "Europe/London"
    assert schedule.active
    assert deployment.parameters == {"config_path": str(configured["config"])}
    flow = scheduled_flow(settings)
    assert flow.retries == 1 and flow.retry_delay_seconds == 5
    assert type(flow.task_runner).__name__ == "ThreadPoolTaskRunner"
    assert flow.task_runner._max_workers == 2
    runs = next_runs(settings, 5)
    assert all(r.weekday() < 5 and (r.hour, r.minute) == (3, 15) for r in runs)


def test_serve_dry_run_shows_the_schedule(configured, capsys):
    assert main(["serve", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"deployment {FULL_NAME}: cron '15 3 * * 1-5' (Europe/London)" in out
    assert "next runs:" in out and "dry run: the deployment is valid" in out


def test_dask_is_selected_by_configuration(configured):
    configured["config"].write_text(textwrap.dedent("""
        [execution]
        runner = "dask"
        dask_address = "tcp://127.0.0.1:8786"
    """))
    flow = scheduled_flow(load_settings())
    assert type(flow.task_runner).__name__ == "DaskTaskRunner"
    assert flow.task_runner.address == "tcp://127.0.0.1:8786"


@pytest.fixture(scope="module")
def harness():
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield
        # The harness's exit drains every events and log worker of this process with no time
        # limit: one left sending to a server a later test stopped (the served deployment's)
        # held a whole suite run at that point for 10 minutes. Drained here with a limit,
        # they leave the harness nothing to wait for (a drained worker is forgotten at once).
        EventsWorker.drain_all(timeout=30)
        APILogWorker.drain_all(timeout=30)


def _sample_values() -> set[str]:
    """Every non-numeric cell of the CSV sample extracts (references, names, streets...)."""
    values: set[str] = set()
    for path in SAMPLES.rglob("*.csv"):
        frame = pl.read_csv(path, infer_schema=False)
        for column in frame.columns:
            values |= {v for v in frame[column].drop_nulls().to_list() if len(v) >= 5 and not v.replace(".", "").isdigit()}
    return values


@pytest.mark.slow
def test_a_test_harness_run_leaves_a_ledger_row_and_counts_only_artifacts(configured, harness):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    settings = load_settings()
    state = scheduled_flow(settings)(config_path=str(configured["config"]), return_state=True)
    assert state.is_completed(), state
    summary = state.result()

    home = configured["home"]
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        run = pl.from_arrow(con.sql("select * from runs").to_arrow_table()).row(0, named=True)
        assert run["run_id"] == summary.run_id and run["status"] == "succeeded"
        assert run["code_version"] and run["config_hash"] == config_hash(settings)
        assert run["files_seen"] == summary.files_seen and run["files_ingested"] == summary.files_ingested
        published = home / "published" / "incidents.duckdb"
        if published.exists():
            assert run["published_checksum"] == hashlib.sha256(published.read_bytes()).hexdigest()
            assert run["incidents_published"] is not None and run["published_at"] is not None
        failed = con.execute("select count(*) from run_validations where run_id = ?", [summary.run_id]).fetchone()[0]
        assert run["validations_failed"] == failed
        taken = con.execute("select count(*) from manifest where run_id = ?", [summary.run_id]).fetchone()[0]
        assert taken == summary.files_ingested
        seen = con.execute("select count(*) from run_files where run_id = ?", [summary.run_id]).fetchone()[0]
        assert seen == summary.files_seen
    finally:
        con.close()

    async def artifacts():
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["nightly-counts", "nightly-summary"]))
            )

    import asyncio

    found = asyncio.run(artifacts())
    kinds = {a.key: a for a in found}
    assert {"nightly-counts", "nightly-summary"} <= set(kinds)
    table = kinds["nightly-counts"].data
    text = str(table) + str(kinds["nightly-summary"].data) + str(kinds["nightly-counts"].description)
    assert "files ingested (new)" in text and "incidents published" in text
    leaked = [v for v in _sample_values() if v in text]
    assert not leaked, f"artifact quotes extract values: {leaked[:5]}"


@pytest.mark.slow
def test_incidents_serve_runs_the_deployment_on_demand(configured, tmp_path):
    """`incidents serve` against a real Prefect server: trigger the deployment, the night completes."""
    from prefect.deployments import run_deployment
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with prefect_server(tmp_path / "prefect-server", log=tmp_path / "server.log") as api:
        env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_HOME": str(tmp_path / "client")}
        log = open(tmp_path / "serve.log", "w")  # noqa: SIM115
        serve = subprocess.Popen(
            [str(Path(sys.executable).parent / "incidents"), "serve", "--no-server"],
            env=env, cwd=configured["root"], stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            with temporary_settings(updates={PREFECT_API_URL: api}):
                from prefect.client.orchestration import get_client

                deadline = time.monotonic() + 240
                while True:
                    assert serve.poll() is None, (tmp_path / "serve.log").read_text()
                    try:
                        with get_client(sync_client=True) as client:
                            deployment = client.read_deployment_by_name(FULL_NAME)
                        break
                    except Exception:
                        assert time.monotonic() < deadline, "the deployment was never registered"
                        time.sleep(2)
                assert deployment.schedules[0].schedule.cron == "15 3 * * 1-5"
                flow_run = run_deployment(FULL_NAME, timeout=600)
                assert flow_run.state.is_completed(), (flow_run.state, (tmp_path / "serve.log").read_text())
                # what this process queued for this server is sent while it is up (see `harness`)
                EventsWorker.drain_all(timeout=30)
                APILogWorker.drain_all(timeout=30)
        finally:
            serve.send_signal(signal.SIGTERM)  # what a service manager sends
            try:
                serve.wait(timeout=60)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait()
            log.close()
    con = duckdb.connect(str(configured["home"] / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from runs where status = 'succeeded'").fetchone()[0] == 1
    finally:
        con.close()
