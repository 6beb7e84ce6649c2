"""One nightly run at a time per state folder."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class RunLockedError(RuntimeError):
    """Another run holds the lock on this state folder."""


@contextmanager
def run_lock(home: Path) -> Iterator[None]:
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
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)
