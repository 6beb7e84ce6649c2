"""The nightly schedule: a Prefect deployment served by `incidents serve`.

One long-running command on the pipeline's machine does everything:

    incidents serve

starts a local Prefect server (UI and API on http://127.0.0.1:4200, its
database in `$INCIDENTS_HOME/prefect`) unless `PREFECT_API_URL` already points
at one, registers the deployment `nightly/nightly` with the cron schedule of
`[schedule]` in incidents.toml (in its timezone), and runs each scheduled or
manually triggered flow run in a child process. Stopping it (Ctrl-C, or the
service manager) pauses the schedule; starting it again resumes it.

Why `flow.serve` and not a `prefect.yaml` with a work pool: on one machine a
work pool adds a second long-running process (the worker) and a pool to
create, with nothing gained; `serve` keeps the flow object it was given, so
the configured task runner (`[execution]`) and the retry policy go with every
run. Moving to a work pool later changes only how runs are started, not the
flow.

Retries: each night is retried `[schedule] retries` times, `retry_delay_seconds`
apart (a night that found the run lock held, S3 unreachable past the task
retries, a file still being written). A whole-run retry is safe: a failed run
left the warehouse as it was, and a run after a commit is idempotent.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from flows.config import Settings

DEPLOYMENT_NAME = "nightly"
FLOW_NAME = "nightly"
FULL_NAME = f"{FLOW_NAME}/{DEPLOYMENT_NAME}"
DEFAULT_PORT = 4200


def schedule_for(settings: Settings) -> Any:
    """The deployment's schedule: `[schedule] cron` in `[schedule] timezone`."""
    from prefect.schedules import Cron

    return Cron(settings.schedule.cron, timezone=settings.schedule.timezone)


def next_runs(settings: Settings, count: int = 3, after: datetime | None = None) -> list[datetime]:
    """The next scheduled start times, as the Prefect server's scheduler computes them."""
    from prefect.server.schemas.schedules import CronSchedule

    schedule = CronSchedule(cron=settings.schedule.cron, timezone=settings.schedule.timezone)
    return list(asyncio.run(schedule.get_dates(n=count, start=after)))


def scheduled_flow(settings: Settings) -> Any:
    """The nightly flow with the configured task runner and whole-run retries."""
    from flows.nightly import nightly
    from flows.task_runners import task_runner_for

    return nightly.with_options(
        task_runner=task_runner_for(settings),
        retries=settings.schedule.retries,
        retry_delay_seconds=settings.schedule.retry_delay_seconds,
    )


def deployment_options(settings: Settings, config_path: str | None = None) -> dict[str, Any]:
    """Keyword arguments shared by `serve` and `to_deployment` (so a test sees what is served)."""
    from prefect.types.entrypoint import EntrypointType

    from flows.nightly import code_version
    from flows.task_runners import describe

    return {
        "name": DEPLOYMENT_NAME,
        "schedules": [schedule_for(settings)],
        "parameters": {"config_path": config_path} if config_path else {},
        "description": (
            "Ingest new extracts, validate, anonymise, link and publish "
            f"(task runner: {describe(settings)}; state folder {settings.home.resolve()})."
        ),
        "tags": ["incidents", "nightly"],
        "version": code_version(),
        # the installed package, wherever `incidents serve` is started from
        "entrypoint_type": EntrypointType.MODULE_PATH,
    }


def nightly_deployment(settings: Settings, config_path: str | None = None) -> Any:
    """The deployment `incidents serve` registers, as a RunnerDeployment (not yet applied)."""
    return scheduled_flow(settings).to_deployment(**deployment_options(settings, config_path))


def serve_nightly(settings: Settings, config_path: str | None = None) -> None:
    """Register the deployment and run its flow runs until interrupted (one run at a time)."""
    scheduled_flow(settings).serve(
        **deployment_options(settings, config_path),
        limit=1,
        print_starting_message=False,
    )


# ------------------------------------------------------------------ Prefect server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def api_healthy(api_url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def prefect_server(
    prefect_home: Path, port: int | None = None, startup_timeout: float = 180.0, log: Path | None = None
) -> Iterator[str]:
    """Run `prefect server start` on 127.0.0.1 as a child process; yields its API URL.

    The server's SQLite database lives in `prefect_home`. Stopped (by its
    process id) when the block exits.
    """
    port = port or free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    prefect_home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": os.environ.get("PREFECT_LOGGING_LEVEL", "WARNING"),
    }
    env.pop("PREFECT_API_URL", None)
    prefect = Path(sys.executable).parent / "prefect"
    command = [str(prefect)] if prefect.exists() else [sys.executable, "-m", "prefect"]
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [*command, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + startup_timeout
        while not api_healthy(api_url):
            if process.poll() is not None:
                raise RuntimeError(f"prefect server exited with code {process.returncode} (port {port})")
            if time.monotonic() > deadline:
                raise TimeoutError(f"prefect server did not answer on {api_url} within {startup_timeout:.0f} s")
            time.sleep(0.5)
        yield api_url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 15)  # its own session: the server and its workers, nothing else
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()
        if log:
            out.close()  # type: ignore[union-attr]
