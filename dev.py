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


def run(*command: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(c) for c in command), flush=True)
    subprocess.run([str(c) for c in command], check=True, cwd=ROOT, env=env)


def ensure_environment() -> None:
    """Create .venv and install the project with its test extras (skipped when up to date)."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
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
    run(PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "uv")
    try:
        # Bytecode compiled at install: with PYTHONDONTWRITEBYTECODE set (as on CI)
        # every process would otherwise recompile prefect, GX & co. (~10 s a start).
        run(PYTHON, "-m", "uv", "pip", "install", "--python", PYTHON, "--quiet",
            "--compile-bytecode", "-e", ".[test]")
    except subprocess.CalledProcessError:
        run(PYTHON, "-m", "pip", "install", "--quiet", "-e", ".[test]")
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


def test() -> None:
    """Run the whole test suite (ruff first: style failures fail CI too)."""
    ensure_environment()
    run(PYTHON, "-m", "ruff", "check", ".")
    pytest = [str(PYTHON), "-m", "pytest", "-q", "-ra", "--durations=10"]
    if sys.argv[2:]:
        run(*pytest, *sys.argv[2:])
        return
    e2e = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "e2e").glob("test_*.py"))
    groups = [[*(f"--ignore={path}" for path in [*ISOLATED, "tests/e2e"])], *([m] for m in e2e), ISOLATED]
    passed = failed = skipped = 0
    with tempfile.TemporaryDirectory() as reports:
        for number, group in enumerate(groups):
            report = Path(reports) / f"{number}.xml"
            print("+", " ".join(["pytest", *group]), flush=True)
            subprocess.run([*pytest, f"--junitxml={report}", *group], cwd=ROOT, check=False)
            counts = _junit_counts(report)
            passed, failed, skipped = passed + counts[0], failed + counts[1], skipped + counts[2]
    print(f"tests: {passed} passed, {failed} failed, {skipped} skipped", flush=True)
    if failed or not passed:
        sys.exit(1)


if __name__ == "__main__":
    commands = {"demo": demo, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]]()
