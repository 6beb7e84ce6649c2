#!/usr/bin/env python3
"""Set up and run Incident Exchange with nothing but Python 3.

    python3 dev.py demo   # virtual environment + install, then a nightly run on synthetic data
    python3 dev.py test   # the whole test suite (what CI runs)

Both create `.venv/` on first use and reinstall only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".installed-pyproject-sha256"
# Every dependency pinned, for all platforms (`uv pip compile --universal`): a fresh machine
# installs what CI tested, not whatever was newest that day. To update: see README "Dependencies".
LOCK = ROOT / "requirements.lock"
# The installer too: a newer uv may resolve the same lock differently. Move it with the lock.
UV = "uv==0.13.9"


def run(*command: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(c) for c in command), flush=True)
    subprocess.run([str(c) for c in command], check=True, cwd=ROOT, env=env)


def ensure_environment() -> None:
    """Create .venv and install the project with its test extras, pinned by requirements.lock
    (skipped when neither file nor the pinned uv changed)."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + LOCK.read_bytes() + UV.encode()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted and PYTHON.exists():
        return
    if not PYTHON.exists():
        try:
            venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
        except (subprocess.CalledProcessError, OSError):
            # Debian's python3 without python3-venv has no ensurepip: use virtualenv instead.
            shutil.rmtree(VENV, ignore_errors=True)
            run(sys.executable, "-m", "pip", "install", "--user", "--quiet", "virtualenv")
            run(sys.executable, "-m", "virtualenv", VENV)
    if subprocess.run([str(PYTHON), "-m", "pip", "--version"], capture_output=True).returncode != 0:
        run(PYTHON, "-m", "ensurepip", "--upgrade")  # a .venv made by another tool may lack pip
    run(PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", UV)
    try:
        # Bytecode compiled at install: with PYTHONDONTWRITEBYTECODE set (as on CI)
        # every process would otherwise recompile prefect, GX & co. (~10 s a start).
        run(PYTHON, "-m", "uv", "pip", "install", "--python", PYTHON, "--quiet",
            "--compile-bytecode", "-c", LOCK, "-e", ".[test]")
    except subprocess.CalledProcessError:
        run(PYTHON, "-m", "pip", "install", "--quiet", "-c", LOCK, "-e", ".[test]")
    STAMP.write_text(wanted)


def demo() -> None:
    """Generate the built-in synthetic landing area and run the nightly job on it."""
    ensure_environment()
    data = ROOT / "data"
    landing = data / "landing"
    env = {**os.environ, "INCIDENTS_HOME": str(data), "INCIDENTS_LANDING": str(landing)}
    if not landing.exists():
        run(BIN / "incidents", "demo-data", "--out", landing, env=env)
    run(BIN / "incidents", "nightly", env=env)
    print(
        "\nDone. The warehouse is data/warehouse.duckdb; the analysts' database is\n"
        "data/published/incidents.duckdb. Open it read-only, for example:\n"
        "  .venv/bin/python -c \"import duckdb; print(duckdb.connect('data/published/incidents.duckdb', "
        "read_only=True).sql('from incident_counts limit 10'))\"\n"
        "Other commands: .venv/bin/incidents --help"
    )


# Each end-to-end module runs in a pytest process of its own: they start Prefect
# servers, S3 servers and nightly runs, and state one leaves behind in a process
# (Prefect's client context, a test harness started after the temporary server)
# must not decide whether the next passes.
ISOLATED = ["tests/flows/test_scheduling.py"]


def _junit_counts(path: Path) -> tuple[int, int, int]:
    """(passed, failed, skipped) from a pytest JUnit XML report."""
    import xml.etree.ElementTree as ElementTree

    if not path.exists():
        return 0, 1, 0
    suites = ElementTree.parse(path).getroot()
    total = failed = skipped = 0
    for suite in suites.iter("testsuite"):
        total += int(suite.get("tests", 0))
        failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
    return total - failed - skipped, failed, skipped


# Known slow groups first so that the two lanes end together (fresh clones have no timings).
SLOW_FIRST = ["tests/e2e/test_crash_safety.py", "tests/e2e/test_dask.py", "unit", "tests/e2e/test_bad_input.py",
              "tests/e2e/test_leaks.py", "tests/e2e/test_concurrency.py", "tests/e2e/test_nightly.py"]
TIMINGS = VENV / ".test-group-seconds.json"


def _run_group(name: str, args: list[str], pytest: list[str], work: Path) -> tuple[str, float, tuple[int, int, int], str]:
    """One pytest process with its own Prefect home and temporary folder; output kept until it ends."""
    import time

    slug = name.replace("/", "_")
    report, log = work / f"{slug}.xml", work / f"{slug}.log"
    env = {**os.environ, "PREFECT_HOME": str(work / f"prefect-{slug}")}
    started = time.perf_counter()
    with log.open("w") as out:
        subprocess.run([*pytest, f"--junitxml={report}", f"--basetemp={work / f'tmp-{slug}'}", *args],
                       cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    return name, time.perf_counter() - started, _junit_counts(report), log.read_text(errors="replace")


def test() -> None:
    """Run the whole test suite (ruff first: style failures fail CI too).

    The unit tests run in one pytest process, each end-to-end module in one of its own;
    up to two processes at a time (INCIDENTS_TEST_JOBS to change), longest first.
    """
    import json
    from concurrent.futures import ThreadPoolExecutor, as_completed

    ensure_environment()
    run(PYTHON, "-m", "ruff", "check", ".")
    pytest = [str(PYTHON), "-m", "pytest", "-q", "-ra", "--durations=10"]
    if sys.argv[2:]:
        run(*pytest, *sys.argv[2:])
        return
    e2e = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "e2e").glob("test_*.py"))
    groups = {"unit": [*(f"--ignore={path}" for path in [*ISOLATED, "tests/e2e"])], **{m: [m] for m in [*e2e, *ISOLATED]}}
    seconds = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    fallback = {name: len(SLOW_FIRST) - SLOW_FIRST.index(name) for name in SLOW_FIRST}
    order = sorted(groups, key=lambda g: (seconds.get(g, 0), fallback.get(g, 0)), reverse=True)
    jobs = int(os.environ.get("INCIDENTS_TEST_JOBS", min(2, os.cpu_count() or 1)))
    passed = failed = skipped = 0
    with tempfile.TemporaryDirectory() as work, ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_run_group, name, groups[name], pytest, Path(work)) for name in order]
        for future in as_completed(futures):
            name, elapsed, counts, output = future.result()
            print(f"+ pytest {' '.join(groups[name])}  ({elapsed:.0f} s)\n{output}", flush=True)
            seconds[name] = round(elapsed, 1)
            passed, failed, skipped = passed + counts[0], failed + counts[1], skipped + counts[2]
    TIMINGS.write_text(json.dumps(seconds, indent=1, sort_keys=True))
    print(f"tests: {passed} passed, {failed} failed, {skipped} skipped", flush=True)
    if failed or not passed:
        sys.exit(1)


if __name__ == "__main__":
    commands = {"demo": demo, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]]()
