"""Wall time and peak memory of a command, measured in a child process."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

_WRAPPER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
elapsed = time.perf_counter() - start
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": elapsed, "peak_mb": peak_kb / 1024, "code": code}))
"""


@dataclass
class Measurement:
    seconds: float
    peak_mb: float

    def __str__(self) -> str:
        return f"{self.seconds:7.2f} s  {self.peak_mb:8.1f} MB peak"


def measure(command: list[str], env: dict[str, str] | None = None) -> Measurement:
    """Run `command` to completion; wall seconds and the largest child's peak RSS."""
    out = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *command], env=env, capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["code"] != 0:
        raise RuntimeError(f"{command} exited {result['code']}")
    return Measurement(result["seconds"], result["peak_mb"])
