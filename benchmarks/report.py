"""Benchmark: `incidents report` (HTML + PDF) on the default demo data, against a baseline.

Generates the demo data and runs `incidents nightly` (or uses `--home DIR`
holding a published database), then measures in a child process:
  - baseline: Python starts, opens the published database and runs the
    headline query (the least any report must do);
  - `incidents report --period P` (wall time, peak memory), twice (the second
    with warm file caches);
and, in this process, the time of each stage (read, figures with suppression,
charts, HTML, PDF) and the sizes of the files.

    .venv/bin/python benchmarks/report.py [--home DIR] [--period 2026-H1] [--incidents N] [--seed S]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._measure import measure  # noqa: E402
from flows.config import Settings  # noqa: E402

BASELINE = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute("select half_year, reporting_route, sum(incidents) from incident_counts_half_year "
            "where half_year = ? group by all", [sys.argv[2]]).fetchall()
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", help="an INCIDENTS_HOME with a published database (skips demo data + nightly)")
    parser.add_argument("--period", default="2026-H1")
    parser.add_argument("--incidents", type=int)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        home = Path(args.home) if args.home else root / "home"
        env = {**os.environ, "INCIDENTS_HOME": str(home),
               "PREFECT_HOME": os.environ.get("PREFECT_HOME", str(root / "prefect"))}
        if not args.home:
            from demo.generator import generate_landing

            landing = root / "landing"
            kwargs = {"seed": args.seed} | ({"incidents": args.incidents} if args.incidents else {})
            generate_landing(landing, root / "truth", **kwargs)
            env["INCIDENTS_LANDING"] = str(landing)
            started = time.perf_counter()
            subprocess.run([str(Path(sys.executable).parent / "incidents"), "nightly"], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            print(f"nightly (set-up): {time.perf_counter() - started:.1f} s")
        settings = Settings(home=home)
        out = root / "reports"
        incidents = str(Path(sys.executable).parent / "incidents")
        baseline = measure([sys.executable, "-c", BASELINE, str(settings.published_path), args.period], env)
        first = measure([incidents, "report", "--period", args.period, "--out", str(out)], env)
        second = measure([incidents, "report", "--period", args.period, "--out", str(out)], env)
        print(f"baseline (open the database, headline query): {baseline}")
        print(f"incidents report --period {args.period}, first:  {first}   ({first.seconds / baseline.seconds:.1f}x baseline)")
        print(f"incidents report --period {args.period}, second: {second}")

        from flows.report import write_report
        from transforms.report_figures import half_year

        result = write_report(settings, half_year(args.period), out)
        stages = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in result.timings.items())
        print(f"in process: {result.seconds:.2f} s ({stages})")
        print(f"HTML {result.html.stat().st_size / 1e3:.0f} kB, PDF {result.pdf.stat().st_size / 1e3:.0f} kB")
        suppressed = sum(c.suppressed for t in result.figures.tables.values() for row in t.rows for c in row)
        print(f"tables {len(result.figures.tables)}, suppressed cells {suppressed}, "
              f"estimates {len(result.figures.estimates)}")


if __name__ == "__main__":
    main()
