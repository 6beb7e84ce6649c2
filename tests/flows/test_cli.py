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
