"""The GX helper process: calls run there and come back; errors and a dead helper fall back here."""

from __future__ import annotations

import os
import signal
import threading
from datetime import datetime

import pytest

from expectations import gx_process
from expectations.suites import SuiteError, check_suite, default_staging_suite
from expectations.validation import validate_extract
from flows.config import Settings
from tests.expectations.test_validation import NOW, PLANTED, cst, with_values
from transforms.mapping import load_mapping


@pytest.fixture
def helper():
    assert gx_process.start()
    yield
    gx_process.stop()


def test_a_call_runs_in_the_helper_and_its_result_comes_back(helper):
    helper_pid = gx_process.call(os.getpid)
    assert gx_process.running() and helper_pid != os.getpid()
    assert gx_process.call(sorted, [3, 1, 2]) == [1, 2, 3]
    gx_process.stop()
    assert not gx_process.running()
    with pytest.raises(ProcessLookupError):  # it ended, and was reaped
        os.kill(helper_pid, 0)
    assert gx_process.call(os.getpid) == os.getpid()  # no helper: here


def test_validation_in_the_helper_equals_validation_here(helper):
    raw = with_values(cst(), 1, **{"Incident Ref": None, "Victim Name": PLANTED[0]})
    raw = with_values(raw, 3, **{"Category": "Hooliganism"})
    mapping, reference = load_mapping("builtin:cst"), Settings().reference_data
    there = validate_extract(raw, mapping, reference, now=NOW)
    gx_process.stop()
    here = validate_extract(raw, mapping, reference, now=NOW)
    assert there.row_failures.rows() == here.row_failures.rows() and len(here.row_failures) == 2
    assert there.file_failures == here.file_failures
    assert there.results == here.results


def deferred_modules_run() -> dict[str, bool]:
    """(Called in the helper.) Whether each deferred module has run yet."""
    import sys
    import types

    # LazyLoader's module turns into a plain module when it first runs
    return {name: type(sys.modules[name]) is types.ModuleType for name in gx_process.DEFERRED_MODULES}


def standard_normal_cdf(x: float) -> float:
    """(Called in the helper.) Uses scipy.stats, one of the deferred modules."""
    import scipy.stats

    return float(scipy.stats.norm.cdf(x))


def test_the_helper_defers_what_gx_imports_but_the_suites_never_use(helper):
    raw = with_values(cst(), 1, **{"Incident Ref": None})
    validate_extract(raw, load_mapping("builtin:cst"), Settings().reference_data, now=NOW)  # GX imported, used
    assert gx_process.call(deferred_modules_run) == {"altair": False, "scipy.stats": False}
    assert gx_process.call(standard_normal_cdf, 0.0) == 0.5  # a module runs when first used
    assert gx_process.call(deferred_modules_run)["scipy.stats"]


def test_an_error_raised_in_the_helper_is_raised_here(helper):
    with pytest.raises(ValueError):
        gx_process.call(int, "not a number")
    suite = default_staging_suite("cst")
    bad = {**suite, "expectations": [*suite["expectations"], {"type": "expect_nothing_known", "kwargs": {},
                                                                "meta": {"rule": "x", "level": "row"}}]}
    with pytest.raises(SuiteError, match="unknown expectations"):
        check_suite(bad, "bad.json")
    assert gx_process.running()  # an error is an answer: the helper serves on
    # an error that cannot cross the pipe is named, not sent
    unpicklable = ValueError(threading.Lock())
    assert isinstance(gx_process._sendable(unpicklable), RuntimeError)


def test_calls_go_on_here_when_the_helper_dies(helper):
    os.kill(gx_process.call(os.getpid), signal.SIGKILL)
    assert gx_process.call(os.getpid) == os.getpid()
    assert not gx_process.running()
    assert gx_process.call(datetime, 2026, 1, 2) == datetime(2026, 1, 2)
