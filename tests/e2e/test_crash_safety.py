"""Kill `incidents nightly` at several points; the warehouse and the published database must be
left as they were, and the next run must end with the same result as an uninterrupted one.

Night 1 loads a demo landing area without each source's newest file; night 2 finds those files.
The reference is night 2 run without interruption. Each test starts from a copy of the state
after night 1 and runs night 2 as a separate process, killed with SIGKILL:
- at a named point (`INCIDENTS_TEST_KILL_AT`, read by flows/ledger.py `maybe_die`):
  after the sources were prepared, in the middle of the load, after everything was written
  but before the commit, after the commit before publishing, after publishing;
- from outside, while the published database is being written (its staging folder exists).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.nightly_helpers import (
    INCIDENTS,
    assert_same,
    env_for,
    published_result,
    run_incidents,
    running_prefect_server,
    sha256,
    small_landing,
    warehouse_result,
    warehouse_state,
)

pytestmark = pytest.mark.slow

BEFORE_COMMIT = ["after-prepare", "mid-load", "before-commit"]
AFTER_COMMIT = ["after-commit", "after-publish"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("crash")
    with running_prefect_server(root) as api:
        full, first = small_landing(root)
        landing = root / "ref-landing"
        shutil.copytree(first, landing)
        home = root / "ref" / "home"
        night1 = run_incidents(["nightly"], env_for(landing, home, api), cwd=root)
        assert night1.returncode == 0, night1.stderr
        after_night1 = root / "after-night1"
        shutil.copytree(home, after_night1)
        shutil.rmtree(landing)
        shutil.copytree(full, landing)
        night2 = run_incidents(["nightly"], env_for(landing, home, api), cwd=root)
        assert night2.returncode == 0, night2.stderr
        assert "0 new" not in night2.stdout  # night 2 really had new files
        yield {
            "api": api,
            "full": full,
            "after_night1": after_night1,
            "night1_state": warehouse_state(after_night1),
            "night1_published": sha256(after_night1 / "published" / "incidents.duckdb"),
            "night2_result": warehouse_result(home),
            "night2_published": published_result(home),
        }


def _start(world: dict, tmp_path: Path, **extra: str) -> tuple[Path, dict[str, str]]:
    home = tmp_path / "home"
    shutil.copytree(world["after_night1"], home)
    landing = tmp_path / "landing"
    shutil.copytree(world["full"], landing)
    return home, env_for(landing, home, world["api"], **extra)


def _flow_run_state(api: str, flow_run_id: str) -> str:
    import httpx

    return httpx.get(f"{api}/flow_runs/{flow_run_id}", timeout=30).raise_for_status().json()["state"]["type"]


def _rerun_matches_uninterrupted(world: dict, home: Path, env: dict[str, str], tmp_path: Path) -> None:
    env = {k: v for k, v in env.items() if k != "INCIDENTS_TEST_KILL_AT"}
    # the killed run still holds the lock file's record of itself: `<pid> <flow run id>`
    killed_flow_run = (home / ".run.lock").read_text().split()[1]
    assert _flow_run_state(world["api"], killed_flow_run) == "RUNNING"  # as Prefect last heard
    rerun = run_incidents(["nightly"], env, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert _flow_run_state(world["api"], killed_flow_run) == "CRASHED"  # the rerun said what became of it
    assert (home / ".run.lock").read_text() == ""  # released cleanly
    assert_same(warehouse_result(home), world["night2_result"], "warehouse after the rerun")
    assert_same(published_result(home), world["night2_published"], "published database after the rerun")
    assert not list((home / "published").glob(".staging-*"))


@pytest.mark.parametrize("point", BEFORE_COMMIT + AFTER_COMMIT)
def test_a_run_killed_at_a_named_point(world, point, tmp_path):
    home, env = _start(world, tmp_path, INCIDENTS_TEST_KILL_AT=point)
    killed = run_incidents(["nightly"], env, cwd=tmp_path)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-2000:])
    if point in BEFORE_COMMIT:
        # nothing of the killed run is in the warehouse, not even a ledger row
        assert_same(warehouse_state(home), world["night1_state"], f"warehouse after a kill {point}")
    else:
        assert_same(warehouse_result(home), world["night2_result"], f"warehouse after a kill {point}")
    published = sha256(home / "published" / "incidents.duckdb")
    if point == "after-publish":
        assert published != world["night1_published"]
    else:
        assert published == world["night1_published"], "the published database changed"
    _rerun_matches_uninterrupted(world, home, env, tmp_path)


def test_a_run_killed_while_writing_the_published_database(world, tmp_path):
    home, env = _start(world, tmp_path)
    published_dir = home / "published"
    process = subprocess.Popen([INCIDENTS, "nightly"], env=env, cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while not list(published_dir.glob(".staging-*")):
            assert process.poll() is None, "the run finished before it was caught publishing"
            assert time.monotonic() < deadline
            time.sleep(0.002)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert sha256(published_dir / "incidents.duckdb") == world["night1_published"]
    assert_same(warehouse_result(home), world["night2_result"], "warehouse after a kill mid-publish")
    _rerun_matches_uninterrupted(world, home, env, tmp_path)
