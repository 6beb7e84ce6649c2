"""Two `incidents nightly` runs started together: one runs, the other refuses with a clear message
(exit 75) and writes nothing; the lock is free again afterwards. A purge during a run refuses too."""

from __future__ import annotations

import shutil
import subprocess

import duckdb
import pytest

from tests.conftest import SAMPLES
from tests.e2e.nightly_helpers import INCIDENTS, env_for, run_incidents, running_prefect_server

pytestmark = pytest.mark.slow


def test_two_runs_started_together_cannot_both_write(tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLES, landing)
    home = tmp_path / "home"
    with running_prefect_server(tmp_path) as api:
        # whichever run takes the lock holds it until the other has been refused (at most
        # 600 s), so the other surely finds it taken however slowly it starts
        release = tmp_path / "release"
        env = env_for(
            landing, home, api, INCIDENTS_TEST_PAUSE_AT="after-lock", INCIDENTS_TEST_PAUSE_SECONDS="600",
            INCIDENTS_TEST_PAUSE_UNTIL_FILE=str(release),
        )
        runs = [
            subprocess.Popen([INCIDENTS, "nightly"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        import time

        deadline = time.monotonic() + 600
        while all(run.poll() is None for run in runs) and time.monotonic() < deadline:
            time.sleep(0.2)
        release.touch()
        outputs = [run.communicate(timeout=900) for run in runs]
        codes = sorted(run.returncode for run in runs)
        assert codes == [0, 75], [(run.returncode, err[-1500:]) for run, (_, err) in zip(runs, outputs, strict=True)]
        refused = next(err for run, (_, err) in zip(runs, outputs, strict=True) if run.returncode == 75)
        assert "another run is using" in refused and "try again when it has finished" in refused

        con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
        try:
            assert con.execute("select count(*), min(status) from runs").fetchone() == (1, "succeeded")
        finally:
            con.close()

        # the lock is released: the next run proceeds (and finds nothing new)
        again = run_incidents(["nightly"], env_for(landing, home, api), cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert "0 new" in again.stdout

        # a purge while a run holds the lock refuses the same way
        holder = subprocess.Popen(
            [INCIDENTS, "nightly"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=env_for(landing, home, api, INCIDENTS_TEST_PAUSE_AT="after-lock", INCIDENTS_TEST_PAUSE_SECONDS="600"),
        )
        try:
            lock = home / ".run.lock"
            import time

            deadline = time.monotonic() + 300
            # the lock file names its holder: `<pid> <flow run id>`
            while not (lock.exists() and lock.read_text().split()[:1] == [str(holder.pid)]):
                assert holder.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
            purge = run_incidents(["purge", "--before", "2025-01-01"], env_for(landing, home, api), cwd=tmp_path)
            assert purge.returncode == 75 and "another run is using" in purge.stderr
        finally:
            holder.kill()
            holder.wait()
