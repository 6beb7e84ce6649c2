"""The nightly flow's task runner, chosen by configuration (`[execution]` in incidents.toml).

- `runner = "threads"` (default): Prefect's ThreadPoolTaskRunner; the sources
  are prepared concurrently in threads of the run's own process (Polars and
  DuckDB release the GIL for their heavy work).
- `runner = "dask"`: prefect-dask's DaskTaskRunner; each source's
  `prepare_source` task runs on a Dask worker. With `dask_address` the run
  connects to an existing scheduler (a cluster of machines; workers need this
  project installed, and `PREFECT_API_URL` pointing at the Prefect server);
  without it each run starts a local cluster of `dask_workers` workers and
  stops it afterwards.

Either way the linkage's per-block work (a full link's date chunks of reports,
a night's (force, day) groups of narrative similarity; `transforms/blocks.py`)
is submitted as `link_block` tasks to the same runner, cut into
`link_block_width` blocks, as many in flight: threads twice the machine's
cores (a block alternates between stretches on one thread and Polars' work on
all of them; NumPy and SciPy release the GIL), Dask its workers. Blocks are
cut the same way whoever runs them and put back together in order, so every
runner links the same pairs.

Local clusters default to thread workers (`dask_processes = false`): process
workers report task states to Prefect themselves, which needs a real Prefect
server (`PREFECT_API_URL`); under Prefect's temporary per-process server they
fail. Worker spilling to disk is switched off: the frames a worker holds are
prepared extract rows, and must not land on a worker's scratch disk.

The warehouse writes stay in the flow's own process (one DuckDB transaction);
only CPU work on in-memory frames is distributed. Prepared frames travel back
over the Dask connection, and a block's inputs (anonymised staging rows and
narrative vectors) go out over it: on a multi-machine cluster, use TLS
(`tls://` address and a security configuration via Dask's own settings).
"""

from __future__ import annotations

import os
from typing import Any

from prefect.task_runners import ThreadPoolTaskRunner

from flows.config import ExecutionConfig, Settings

# Keep prepared frames (personal data before they are loaded) in memory only.
NO_SPILL = {
    "distributed.worker.memory.target": False,
    "distributed.worker.memory.spill": False,
}


def task_runner_for(settings: Settings | ExecutionConfig) -> Any:
    """A fresh task runner for one flow run, as configured."""
    execution = settings.execution if isinstance(settings, Settings) else settings
    if execution.runner == "threads":
        workers = execution.max_workers
        if workers is None and isinstance(settings, Settings):
            workers = min(8, max(1, len(settings.sources)))
        return ThreadPoolTaskRunner(max_workers=workers)
    if execution.runner == "dask":
        try:
            import dask
            from prefect_dask import DaskTaskRunner
        except ImportError as error:  # pragma: no cover - prefect-dask is a dependency
            raise RuntimeError(
                "[execution] runner = 'dask' needs the prefect-dask package (pip install prefect-dask)"
            ) from error
        dask.config.set(NO_SPILL)
        if execution.dask_address:
            return DaskTaskRunner(address=execution.dask_address)
        return DaskTaskRunner(
            cluster_class="distributed.LocalCluster",
            cluster_kwargs={
                "n_workers": execution.dask_workers,
                "threads_per_worker": 1,
                "processes": execution.dask_processes,
                "dashboard_address": None,
            },
        )
    raise ValueError(f"unknown [execution] runner {execution.runner!r}: use 'threads' or 'dask'")


def link_block_width(settings: Settings) -> int:
    """How many blocks the linkage cuts its per-block work into (`[execution] link_blocks`)."""
    execution = settings.execution
    if execution.link_blocks is not None:
        return execution.link_blocks
    if execution.runner == "dask":
        return 8 if execution.dask_address else execution.dask_workers
    # a 100x full link on 2 cores: 118 s with 4 chunks in flight (9.6 GB), 137 s with 2 (9.2 GB),
    # 139 s with 1 (8.0 GB)
    return 2 * (os.cpu_count() or 1)


def describe(settings: Settings) -> str:
    """One line for logs and `incidents serve`."""
    execution = settings.execution
    if execution.runner == "dask":
        where = execution.dask_address or (
            f"a local cluster of {execution.dask_workers} {'process' if execution.dask_processes else 'thread'} workers"
        )
        return f"Dask ({where})"
    return f"threads (max {execution.max_workers or min(8, len(settings.sources))})"
