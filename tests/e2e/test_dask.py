"""The nightly flow's per-source and per-block work on a Dask cluster (prefect-dask), selected by configuration.

The same landing area is run three ways and must give the same warehouse and published database:
threads (the default), `[execution] runner = "dask"` with a local cluster started by the run
(through the `incidents` command), and `dask_address` pointing at a separately started
`distributed.LocalCluster` of process workers (whose scheduler must see the prepare tasks,
the linkage's block tasks, and what a full link's chunks all read, scattered once).
"""

from __future__ import annotations

import os
import textwrap

import pytest

from tests.e2e.nightly_helpers import (
    TEST_KEY,
    assert_same,
    env_for,
    published_result,
    run_incidents,
    running_prefect_server,
    small_landing,
    warehouse_result,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("dask")
    with running_prefect_server(root) as api:
        full, _ = small_landing(root)
        home = root / "threads" / "home"
        threads = run_incidents(["nightly"], env_for(full, home, api), cwd=root)
        assert threads.returncode == 0, threads.stderr
        yield {"api": api, "landing": full, "root": root,
               "warehouse": warehouse_result(home), "published": published_result(home)}


def test_a_local_dask_cluster_selected_in_the_configuration(world, tmp_path):
    config = tmp_path / "incidents.toml"
    config.write_text(textwrap.dedent("""
        [execution]
        runner = "dask"
        dask_workers = 2
        dask_processes = true
    """))
    home = tmp_path / "home"
    env = env_for(world["landing"], home, world["api"], INCIDENTS_CONFIG=str(config))
    result = run_incidents(["--config", str(config), "nightly"], env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert_same(warehouse_result(home), world["warehouse"], "warehouse (local Dask cluster)")
    assert_same(published_result(home), world["published"], "published database (local Dask cluster)")


def test_an_existing_dask_cluster_by_address(world, tmp_path, monkeypatch):
    from distributed import LocalCluster
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.config import load_settings
    from flows.nightly import nightly
    from flows.task_runners import task_runner_for

    home = tmp_path / "home"
    monkeypatch.setenv("INCIDENTS_LANDING", str(world["landing"]))
    monkeypatch.setenv("INCIDENTS_HOME", str(home))
    monkeypatch.setenv("INCIDENTS_PSEUDONYM_KEY", TEST_KEY)
    monkeypatch.setenv("PREFECT_API_URL", world["api"])  # the process workers report to the server
    monkeypatch.delenv("INCIDENTS_CONFIG", raising=False)
    config = tmp_path / "incidents.toml"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        config.write_text(f'[execution]\nrunner = "dask"\ndask_address = "{cluster.scheduler_address}"\n')
        settings = load_settings(config)
        runner = task_runner_for(settings)
        assert runner.address == cluster.scheduler_address
        with temporary_settings(updates={PREFECT_API_URL: world["api"]}):
            summary = nightly.with_options(task_runner=runner)(config_path=str(config))
        prefixes = set(cluster.scheduler.task_prefixes)
    assert summary.files_ingested > 0
    assert any("prepare_source" in p for p in prefixes), prefixes
    assert any("link_block" in p for p in prefixes), prefixes  # the linkage's blocks ran there too
    assert "Shared" in prefixes, prefixes  # what a full link's chunks all read was scattered to it once
    assert os.environ["INCIDENTS_HOME"] == str(home)
    assert_same(warehouse_result(home), world["warehouse"], "warehouse (Dask cluster by address)")
    assert_same(published_result(home), world["published"], "published database (Dask cluster by address)")
