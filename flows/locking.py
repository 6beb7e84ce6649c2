"""One nightly run at a time per state folder.

The lock file also says who holds it (`<pid> <holder>`, e.g. the Prefect flow
run id) and is emptied on release. A holder found in it on the next acquire
therefore died without releasing (killed, machine lost): `RunLock.stale_holder`
tells the caller, which can mark that flow run as crashed.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


class RunLockedError(RuntimeError):
    """Another run holds the lock on this state folder."""


@dataclass(frozen=True)
class RunLock:
    path: Path
    stale_holder: str | None  # who held the lock last and never released it


@contextmanager
def run_lock(home: Path, holder: str = "") -> Iterator[RunLock]:
    """Hold an exclusive lock on `$INCIDENTS_HOME/.run.lock`; refuse when another run has it."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / ".run.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLockedError(
                f"another run is using {home} (lock {path}); try again when it has finished"
            ) from None
        previous = os.pread(fd, 4096, 0).decode(errors="replace").split()
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {holder}".strip().encode(), 0)
        yield RunLock(path, previous[1] if len(previous) > 1 else None)
        os.ftruncate(fd, 0)  # released cleanly: nothing stale for the next run
    finally:
        os.close(fd)
