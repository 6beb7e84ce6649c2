"""The run lock: one holder at a time, and a holder that died is reported to the next."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from flows.locking import RunLockedError, run_lock


def test_a_second_holder_is_refused_while_the_first_holds_it(tmp_path: Path) -> None:
    with run_lock(tmp_path, holder="run-1") as lock:
        assert lock.stale_holder is None
        assert (tmp_path / ".run.lock").read_text() == f"{os.getpid()} run-1"
        # flock is per open file: a second open in the same process conflicts too
        with pytest.raises(RunLockedError, match="another run is using"), run_lock(tmp_path, holder="run-2"):
            pass
    assert (tmp_path / ".run.lock").read_text() == ""


def test_a_clean_release_leaves_nothing_stale(tmp_path: Path) -> None:
    with run_lock(tmp_path, holder="run-1"):
        pass
    with run_lock(tmp_path, holder="run-2") as lock:
        assert lock.stale_holder is None


def _die_holding_the_lock(home: str) -> None:
    with run_lock(Path(home), holder="killed-run"):
        os._exit(9)  # as if killed: no clean release


def test_a_holder_that_died_is_named_to_the_next(tmp_path: Path) -> None:
    process = multiprocessing.get_context("spawn").Process(target=_die_holding_the_lock, args=(str(tmp_path),))
    process.start()
    process.join(60)
    assert process.exitcode == 9
    with run_lock(tmp_path, holder="next-run") as lock:
        assert lock.stale_holder == "killed-run"
    with run_lock(tmp_path, holder="after") as lock:
        assert lock.stale_holder is None
