"""Great Expectations in a helper process, so that its import overlaps a run's start-up.

Importing great_expectations takes about 3 s of CPU (pandas, scipy, altair, sqlalchemy);
a thread importing it competes with Prefect's start-up for the GIL. `incidents nightly`
therefore starts a helper process first thing (`start()`): it imports GX on the other
core while this process imports Prefect, starts the flow run and reads the landed files.
Every GX call of the run then goes through `call(function, *args)`, which runs the
function in the helper; without a helper (a Dask worker, a test, a deployment's flow-run
process, a helper that died) it runs here, as before.

The two processes talk over a socket pair (`multiprocessing.connection`): the helper sees
nothing but the calls sent to it. `stop()` kills it; if this process dies in any way, the
helper ends by itself when it finds its end of the pair closed.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import pickle
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

Result = TypeVar("Result")
_LOCK = threading.Lock()  # one call at a time: the helper serves calls in order
_HELPER: dict[str, Any] = {}  # "process", "connection" while a helper runs


def start() -> bool:
    """Start the helper unless one runs; True when one runs (not on Windows: no fd passing)."""
    with _LOCK:
        if _HELPER:
            return True
        if os.name != "posix":
            return False
        ours, theirs = socket.socketpair()
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "expectations.gx_process", str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
            )
        except OSError:
            ours.close()
            return False
        finally:
            theirs.close()
        _HELPER.update(process=process, connection=Connection(ours.detach()))
        return True


def running() -> bool:
    return bool(_HELPER)


def stop() -> None:
    """End the helper at once; a no-op without one."""
    with _LOCK:
        _close()


def call(function: Callable[..., Result], *args: Any) -> Result:
    """`function(*args)` in the helper when one runs, else here.

    The function must be importable by name (a module-level function), its arguments and
    result picklable. An exception it raises is raised here. A helper that died is dropped
    and the call made here.
    """
    with _LOCK:
        if _HELPER:
            connection: Connection = _HELPER["connection"]
            try:
                connection.send((function, args))
                succeeded, value = connection.recv()
            except (EOFError, OSError):
                _close()  # the helper is gone: this process from now on
            else:
                if succeeded:
                    return value
                raise value
    return function(*args)


def _close() -> None:
    if not _HELPER:
        return
    _HELPER["connection"].close()
    # killed, not waited for: no call is in flight (the lock is held), it holds nothing, and one
    # still importing GX would only notice the closed pair when its import ends (a night with
    # nothing new stops it about 2 s into a 3 s import)
    process: subprocess.Popen = _HELPER["process"]
    process.kill()
    process.wait()
    _HELPER.clear()


def _sendable(error: BaseException) -> BaseException:
    """The error itself when it survives pickling, else a RuntimeError naming its type only."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__} in the Great Expectations helper process")
    return error


# Modules GX's package import executes for features these suites never use (altair: profiler
# charts; scipy.stats: distribution expectations): 0.8 s of the helper's 2.8 s import. The helper
# loads them on first use instead, so a suite or report that needs them still gets them.
DEFERRED_MODULES = frozenset({"altair", "scipy.stats"})


class DeferredImports(importlib.abc.MetaPathFinder):
    """Imports `names` with the standard library's LazyLoader: the module runs on first attribute use."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if name not in self.names:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def serve(connection: Connection) -> None:
    """The helper's loop: import GX, then run each call received until the pair closes."""
    sys.meta_path.insert(0, DeferredImports(DEFERRED_MODULES))
    from expectations.gx_runner import gx_engine

    gx_engine()
    while True:
        try:
            function, args = connection.recv()
        except (EOFError, OSError):
            return
        try:
            reply: tuple[bool, Any] = (True, function(*args))
        except Exception as error:
            reply = (False, _sendable(error))
        try:
            connection.send(reply)
        except (EOFError, OSError):
            return
        except Exception as error:  # a result that cannot be pickled
            connection.send((False, _sendable(error)))


if __name__ == "__main__":
    serve(Connection(int(sys.argv[1])))
    # nothing left to flush: skip tearing down GX, pandas and scipy (most of a second)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
