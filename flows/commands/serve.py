"""`incidents serve`: run the nightly flow on its schedule (a Prefect deployment; see flows/scheduling.py)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path


def cmd_serve(args: argparse.Namespace) -> int:
    from flows.cli import prefect_defaults
    from flows.config import config_path, load_settings

    settings = load_settings()
    prefect_defaults(settings.home)
    from flows import scheduling
    from flows.task_runners import describe

    path = config_path()
    config = str(path.resolve()) if path else None
    upcoming = ", ".join(f"{when:%a %d %b %Y %H:%M %Z}" for when in scheduling.next_runs(settings, 3))
    print(f"deployment {scheduling.FULL_NAME}: cron '{settings.schedule.cron}' ({settings.schedule.timezone})")
    print(f"  next runs: {upcoming}")
    print(f"  task runner: {describe(settings)}; retries: {settings.schedule.retries} "
          f"x {settings.schedule.retry_delay_seconds} s")
    print(f"  configuration: {config or '(defaults and INCIDENTS_* variables)'}; state folder: {settings.home.resolve()}")
    if args.dry_run:
        scheduling.nightly_deployment(settings, config)  # builds the deployment: fails here if it cannot
        print("dry run: the deployment is valid; not serving")
        return 0

    api_url = os.environ.get("PREFECT_API_URL")
    if api_url:
        return _serve(settings, config, api_url)
    local = f"http://127.0.0.1:{args.port}/api"
    if scheduling.api_healthy(local):
        print(f"using the Prefect server already running at {local}")
        return _serve(settings, config, local)
    if args.no_server or scheduling.port_in_use(args.port):
        print(f"incidents serve: no Prefect server at {local} and "
              f"{'--no-server given' if args.no_server else f'port {args.port} is taken'}; "
              "start one with `prefect server start` or set PREFECT_API_URL", file=sys.stderr)
        return 1
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    print(f"starting a Prefect server on {local} (log {logs / 'prefect-server.log'}) ...")
    with scheduling.prefect_server(
        Path(os.environ["PREFECT_HOME"]), port=args.port, log=logs / "prefect-server.log"
    ) as url:
        return _serve(settings, config, url)


def _serve(settings, config: str | None, api_url: str) -> int:  # noqa: ANN001
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows import scheduling

    os.environ["PREFECT_API_URL"] = api_url  # for the flow-run child processes too
    ui = api_url.removesuffix("/api")
    print(f"serving {scheduling.FULL_NAME}; runs and their artifacts: {ui}/runs  (Ctrl-C stops and pauses the schedule)")
    print(f"  run a night now: PREFECT_API_URL={api_url} prefect deployment run '{scheduling.FULL_NAME}'")
    with temporary_settings(updates={PREFECT_API_URL: api_url}), contextlib.suppress(KeyboardInterrupt):
        scheduling.serve_nightly(settings, config)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser(
        "serve", help="run `nightly` on the configured schedule (a Prefect deployment with its own server)"
    )
    serve.add_argument("--port", type=int, default=4200, help="Prefect server port on 127.0.0.1 (default 4200)")
    serve.add_argument("--no-server", action="store_true",
                       help="do not start a Prefect server: use PREFECT_API_URL or one already on --port")
    serve.add_argument("--dry-run", action="store_true", help="show the schedule and check the deployment; do not serve")
    serve.set_defaults(handler=cmd_serve)
