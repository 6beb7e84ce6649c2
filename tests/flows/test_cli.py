"""The `incidents` console entry point."""

from __future__ import annotations

import pytest

from flows import cli


def test_console_returns_mains_code_and_freezes_the_heap_only_after_it(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(cli, "main", lambda: calls.append("main") or 3)
    monkeypatch.setattr(cli.gc, "freeze", lambda: calls.append("freeze"))
    assert cli.console() == 3
    assert calls == ["main", "freeze"]


def _heartbeat_frequency() -> int | None:
    from prefect.settings import get_current_settings

    return get_current_settings().flows.heartbeat_frequency


def test_nightly_runs_its_flow_without_heartbeats_unless_asked(
    incidents_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    import argparse

    import flows.nightly
    from flows.locking import RunLockedError

    seen: list[int | None] = []

    class RecordingFlow:
        def with_options(self, **_: object) -> RecordingFlow:
            return self

        def __call__(self, **_: object) -> None:
            seen.append(_heartbeat_frequency())
            raise RunLockedError("held")  # ends the command at once, with its own exit code

    for name in cli.HEARTBEAT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(flows.nightly, "nightly", RecordingFlow())
    default = _heartbeat_frequency()
    assert default is not None  # Prefect's own default sends them
    assert cli._nightly(argparse.Namespace(config=None)) == 75
    monkeypatch.setenv("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", str(default))
    assert cli._nightly(argparse.Namespace(config=None)) == 75
    assert seen == [None, default]
    assert _heartbeat_frequency() == default  # only the run's own settings changed
