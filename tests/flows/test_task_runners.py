"""The task runner and block width chosen by `[execution]`, without starting either."""

from __future__ import annotations

import os

from prefect.task_runners import ThreadPoolTaskRunner

from flows.config import ExecutionConfig, Settings
from flows.task_runners import describe, link_block_width, task_runner_for


def settings(**execution: object) -> Settings:
    return Settings(execution=ExecutionConfig(**execution))


def test_threads_by_default_two_blocks_per_core():
    chosen = settings()
    assert isinstance(task_runner_for(chosen), ThreadPoolTaskRunner)
    assert link_block_width(chosen) == 2 * (os.cpu_count() or 1)
    assert describe(chosen) == "threads (max 4)"  # one thread per source


def test_dask_blocks_follow_its_workers_and_the_configuration_wins():
    assert link_block_width(settings(runner="dask", dask_workers=3)) == 3
    assert link_block_width(settings(runner="dask", dask_address="tcp://scheduler:8786")) == 8
    assert link_block_width(settings(runner="dask", dask_workers=3, link_blocks=12)) == 12
    assert link_block_width(settings(link_blocks=1)) == 1
