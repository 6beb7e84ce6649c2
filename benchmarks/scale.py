"""Benchmark: how `incidents nightly` grows with the data (1x, 10x, 100x the default demo data).

For each scale the demo generator writes `scale x 6,450` incidents (same places and
period, denser). The newest file of every source that sends more than two files is
held back as "tonight's delivery". Then, as separate `incidents nightly` processes
against one Prefect server (as under `incidents serve`):

    full run          everything but tonight's files, into an empty state folder
    daily night       tonight's files of the daily senders only (CST, WYP: cadence 1 day),
                      what most nights bring
    incremental night the rest of tonight's files too (GMP's week, MPS's month): a
                      month-end night, the largest regular delivery
    1x-volume night   (scales above 1x, before the daily night, from the same state) the daily
                      senders' files thinned to one record in `scale`: a 1x daily night's volume
                      on this scale's warehouse, so what grows with the history alone shows apart
                      from what grows with a night's volume (the generator scales both)
    no-change night   nothing new

Each starts with the benchmark's own writes flushed to disk (`flush_writes`), and reports
wall time and the run's peak memory (RSS of the `incidents` process),
and the time spent in each step (Prefect task runs). Each incremental night runs
--repeat times (default 3) from the same state; the median is reported, with every
run. A scale whose predicted full run (linear in the data, from the previous scale)
exceeds --budget seconds, or
whose predicted peak memory exceeds 80% of the memory available or
--max-memory-gb (default 11), is skipped and reported as such. Growth columns
compare each scale with 1x: data (row versions), then time and memory.

    .venv/bin/python benchmarks/scale.py [--scales 1,10,100] [--repeat 3] [--budget 1800] [--out results.json]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._measure import measure  # noqa: E402
from flows.scheduling import prefect_server  # noqa: E402

DEFAULT_INCIDENTS = 6450
BENCHMARK_KEY = "5e" * 32  # a fixed, public test key: the generated data is synthetic
STEPS = ["list_landing", "prepare_source", "load_prepared", "link_records", "build_marts", "publish_incidents"]


@dataclass
class Night:
    seconds: float
    peak_mb: float
    steps: dict[str, float] = field(default_factory=dict)
    runs: list[float] = field(default_factory=list)  # every run's seconds, when repeated
    changed_records: int = 0  # reports and crimes the link found new or changed (link_runs)
    pairs_scored: int = 0  # candidate pairs it compared and scored


@dataclass
class Scale:
    scale: int
    incidents: int
    files: int = 0
    landing_mb: float = 0.0
    generate_seconds: float = 0.0
    cst_versions: int = 0
    police_versions: int = 0
    tonight_files: int = 0
    warehouse_mb: float = 0.0
    full: Night | None = None
    daily: Night | None = None
    light: Night | None = None  # a 1x daily night's volume on this warehouse (scales above 1x)
    incremental: Night | None = None
    unchanged: Night | None = None
    skipped: str | None = None


def hold_back_tonight(landing: Path, tonight: Path) -> int:
    """Move the newest file of each source folder with more than two files to `tonight`."""
    moved = 0
    for folder in sorted({p.parent for p in landing.rglob("*") if p.is_file()}):
        files = sorted(p for p in folder.iterdir() if p.is_file())
        if len(files) > 2:
            target = tonight / files[-1].relative_to(landing)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(files[-1], target)
            moved += 1
    return moved


def daily_sender_folders() -> set[str]:
    """Landing folders of the sources configured to send every day."""
    from flows.config import Settings

    settings = Settings()
    sources = [("cst", settings.cst), *((f"police/{force.id}", force) for force in settings.forces)]
    return {folder for folder, source in sources if source.cadence_days == 1}


def held_back(tonight: Path, chosen: Callable[[Path], bool]) -> list[Path]:
    """The held-back files `chosen` accepts, in name order."""
    return [path for path in sorted(p for p in tonight.rglob("*") if p.is_file()) if chosen(path)]


def deliver(tonight: Path, landing: Path, chosen: Callable[[Path], bool]) -> None:
    """Move the held-back files `chosen` accepts into the landing area."""
    for path in held_back(tonight, chosen):
        target = landing / path.relative_to(tonight)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, target)


def thinned(data: bytes, suffix: str, keep_one_in: int) -> bytes:
    """A CSV (header kept) or JSON Lines extract with one record in `keep_one_in` (the first, then
    every `keep_one_in`-th), in the sender's encoding mark and line endings."""
    if suffix == ".jsonl":
        return b"".join(data.splitlines(keepends=True)[::keep_one_in])
    if suffix != ".csv":
        raise ValueError(f"cannot thin a {suffix} extract")
    bom = b"\xef\xbb\xbf" if data.startswith(b"\xef\xbb\xbf") else b""
    text = data.decode("utf-8-sig")
    header, *records = csv.reader(io.StringIO(text, newline=""))
    out = io.StringIO(newline="")
    ending = "\r\n" if text.partition("\n")[0].endswith("\r") else "\n"
    csv.writer(out, lineterminator=ending).writerows([header, *records[::keep_one_in]])
    return bom + out.getvalue().encode("utf-8")


def step_seconds(api_url: str, started_after: float) -> dict[str, float]:
    """Seconds per task (summed over task runs) of the latest flow run, from the Prefect API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        [flow_run] = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=1)
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id])))
    out: dict[str, float] = {}
    for run in runs:
        name = run.task_key.split("-")[0] if run.task_key else run.name.rsplit("-", 1)[0]
        name = next((s for s in STEPS if name.startswith(s) or run.name.startswith(s)), name)
        duration = run.total_run_time.total_seconds() if run.total_run_time else 0.0
        # concurrent sources: report the slowest, which is what the run waits for
        out[name] = max(out.get(name, 0.0), duration) if name == "prepare_source" else out.get(name, 0.0) + duration
    out["flow"] = flow_run.total_run_time.total_seconds() if flow_run.total_run_time else 0.0
    return out


def available_mb() -> float:
    """MemAvailable from /proc/meminfo (Linux), in MB."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return float("inf")


def link_work(warehouse: Path) -> tuple[int, int]:
    """(changed records, pairs scored) of the warehouse's latest link run."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        row = con.execute(
            "select changed_reports + changed_crimes, pairs_scored from link_runs order by finished_at desc limit 1"
        ).fetchone()
    finally:
        con.close()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def flush_writes() -> None:
    """Write what this benchmark just wrote (a generated landing area, a state folder copied back)
    to disk before a night is timed: a 100x state is 842 MB, and a 100x daily night timed while
    the kernel wrote its copy back took 12.9-15.1 s, against 11.7-12.5 s after a flush."""
    if hasattr(os, "sync"):
        os.sync()


def night(incidents: str, env: dict[str, str], api_url: str) -> Night:
    flush_writes()
    started = time.time()
    measured = measure([incidents, "nightly"], env)
    changed, pairs = link_work(Path(env["INCIDENTS_HOME"]) / "warehouse.duckdb")
    return Night(measured.seconds, measured.peak_mb, step_seconds(api_url, started), changed_records=changed,
                 pairs_scored=pairs)


def repeated_night(
    incidents: str, env: dict[str, str], api_url: str, home: Path, repeat: int, restore: bool = False
) -> Night:
    """The same night `repeat` times, each from the state before it (a copy of `home` put back);
    the median run's figures, the highest peak. The state after the last run is kept, or with
    `restore` the state before it is put back.

    One run of a night varied by up to a third on this machine (a 30x month-end night took
    13.8 s three times running on one saved state, and 18.2 s once inside a whole benchmark).
    """
    runs = []
    saved = home.with_name(home.name + "-before")
    if repeat > 1 or restore:
        shutil.copytree(home, saved)
    try:
        for attempt in range(repeat):
            if attempt:
                shutil.rmtree(home)
                shutil.copytree(saved, home)
            runs.append(night(incidents, env, api_url))
    finally:
        if restore:
            shutil.rmtree(home)
            shutil.move(saved, home)
        shutil.rmtree(saved, ignore_errors=True)
    median = sorted(runs, key=lambda run: run.seconds)[len(runs) // 2]
    median.runs = [round(run.seconds, 1) for run in runs]
    median.peak_mb = max(run.peak_mb for run in runs)
    return median


def light_night(
    incidents: str, env: dict[str, str], api_url: str, home: Path, tonight: Path, landing: Path,
    daily: Callable[[Path], bool], scale: int, repeat: int,
) -> Night:
    """The held-back files `daily` accepts thinned to one record in `scale` (a 1x daily night's
    volume), run `repeat` times on this scale's state; afterwards the files are gone and the
    state is as before."""
    delivered = []
    try:
        for path in held_back(tonight, daily):
            target = landing / path.relative_to(tonight)
            target.write_bytes(thinned(path.read_bytes(), path.suffix, scale))
            delivered.append(target)
        return repeated_night(incidents, env, api_url, home, repeat, restore=True)
    finally:
        for target in delivered:
            target.unlink()


def run_scale(scale: int, root: Path, api_url: str, keep: bool, repeat: int = 1) -> Scale:
    incidents = str(Path(sys.executable).parent / "incidents")
    result = Scale(scale=scale, incidents=DEFAULT_INCIDENTS * scale)
    base = root / f"x{scale}"
    landing, tonight, home = base / "landing", base / "tonight", base / "home"
    env = {
        **os.environ,
        "INCIDENTS_LANDING": str(landing),
        "INCIDENTS_HOME": str(home),
        "PREFECT_API_URL": api_url,
        "PREFECT_HOME": str(base / "prefect-client"),
        "PREFECT_LOGGING_LEVEL": "WARNING",
        # one pseudonym key for every run: exact narrative ties are broken in key order, so a fresh
        # key per run moved about 0.02% of a full link's candidates between benchmark runs
        "INCIDENTS_PSEUDONYM_KEY": BENCHMARK_KEY,
    }
    env.pop("INCIDENTS_CONFIG", None)
    started = time.perf_counter()
    gen = measure([incidents, "demo-data", "--out", str(landing), "--truth", str(base / "truth"),
                   "--incidents", str(result.incidents)], env)
    result.generate_seconds = gen.seconds
    del started
    files = [p for p in landing.rglob("*") if p.is_file()]
    result.files = len(files)
    result.landing_mb = sum(p.stat().st_size for p in files) / 1e6
    result.tonight_files = hold_back_tonight(landing, tonight)
    print(f"  x{scale}: {result.files} files, {result.landing_mb:.1f} MB, generated in {gen.seconds:.0f} s", flush=True)

    result.full = night(incidents, env, api_url)
    print(f"  x{scale}: full run {result.full.seconds:.1f} s, {result.full.peak_mb:.0f} MB", flush=True)
    daily_folders = daily_sender_folders()

    def daily(path: Path) -> bool:
        return path.parent.relative_to(tonight).as_posix() in daily_folders

    if scale > 1:
        result.light = light_night(incidents, env, api_url, home, tonight, landing, daily, scale, repeat)
        print(f"  x{scale}: 1x-volume night {result.light.seconds:.1f} s {result.light.runs}, "
              f"{result.light.peak_mb:.0f} MB", flush=True)
    deliver(tonight, landing, daily)
    result.daily = repeated_night(incidents, env, api_url, home, repeat)
    print(f"  x{scale}: daily night {result.daily.seconds:.1f} s {result.daily.runs}, {result.daily.peak_mb:.0f} MB",
          flush=True)
    deliver(tonight, landing, lambda path: True)
    result.incremental = repeated_night(incidents, env, api_url, home, repeat)
    print(f"  x{scale}: month-end night {result.incremental.seconds:.1f} s {result.incremental.runs}, "
          f"{result.incremental.peak_mb:.0f} MB", flush=True)
    result.unchanged = repeated_night(incidents, env, api_url, home, repeat)
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        result.cst_versions, result.police_versions = con.execute(
            "select (select count(*) from stg_cst_report_versions), (select count(*) from stg_police_crime_versions)"
        ).fetchone()
    finally:
        con.close()
    result.warehouse_mb = (home / "warehouse.duckdb").stat().st_size / 1e6
    if not keep:
        shutil.rmtree(base, ignore_errors=True)
    return result


def table(results: list[Scale]) -> str:
    base = next((r for r in results if r.full), None)
    lines = [
        "| scale | incidents | files | landing MB | row versions | full run s | full peak MB | daily night s | "
        "1x-volume night s | month-end night s | month-end peak MB | no-change s | data vs 1x | full time vs 1x | "
        "full memory vs 1x | daily vs 1x | 1x-volume vs 1x | month-end vs 1x | month-end memory vs 1x |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.full is None:
            lines.append(f"| {r.scale}x | {r.incidents} | | | | skipped: {r.skipped} | | | | | | | | | | | | | |")
            continue
        rows = r.cst_versions + r.police_versions
        light = r.light or r.daily  # at 1x the daily night is the 1x volume
        base_rows = (base.cst_versions + base.police_versions) if base else rows

        def grow(value: float, first: float) -> str:
            return f"{value / first:.1f}x" if first else "-"

        lines.append(
            f"| {r.scale}x | {r.incidents} | {r.files} | {r.landing_mb:.1f} | {rows} | {r.full.seconds:.1f} | "
            f"{r.full.peak_mb:.0f} | {r.daily.seconds:.1f} | {light.seconds:.1f} | {r.incremental.seconds:.1f} | "
            f"{r.incremental.peak_mb:.0f} | {r.unchanged.seconds:.1f} | {grow(rows, base_rows)} | "
            f"{grow(r.full.seconds, base.full.seconds)} | {grow(r.full.peak_mb, base.full.peak_mb)} | "
            f"{grow(r.daily.seconds, base.daily.seconds)} | {grow(light.seconds, base.daily.seconds)} | "
            f"{grow(r.incremental.seconds, base.incremental.seconds)} | "
            f"{grow(r.incremental.peak_mb, base.incremental.peak_mb)} |"
        )
    lines.append("")
    lines.append("Every run of the repeated nights, seconds (daily / 1x-volume / month-end / no-change):")
    for r in results:
        if r.full is not None:
            light_runs = r.light.runs if r.light else "(the daily night)"
            lines.append(f"  {r.scale}x: {r.daily.runs} / {light_runs} / {r.incremental.runs} / {r.unchanged.runs}")
    lines.append("")
    lines.append("Linkage work, changed records -> pairs scored (per changed record), "
                 "full run / daily night / 1x-volume night / month-end night:")
    for r in results:
        if r.full is None:
            continue
        work = [f"{n.changed_records} -> {n.pairs_scored} ({n.pairs_scored / max(1, n.changed_records):.1f})"
                if n else "-" for n in (r.full, r.daily, r.light, r.incremental)]
        lines.append(f"  {r.scale}x: " + " / ".join(work))
    lines.append("")
    lines.append("Seconds per step, the median run (full run / daily night / 1x-volume night / month-end night):")
    for r in results:
        if r.full is None:
            continue
        nights = (r.full, r.daily, r.light, r.incremental)
        parts = [f"{s} " + "/".join(f"{n.steps.get(s, 0):.1f}" if n else "-" for n in nights)
                 for s in [*STEPS, "flow"]]
        lines.append(f"  {r.scale}x: " + ", ".join(parts))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", default="1,10,100")
    parser.add_argument("--budget", type=float, default=1800.0,
                        help="skip a scale whose full run is predicted (linearly) to exceed this many seconds")
    parser.add_argument("--max-memory-gb", type=float, default=11.0,
                        help="skip a scale whose full run is predicted (linearly) to peak above this")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the generated data and state folders")
    parser.add_argument("--repeat", type=int, default=3,
                        help="run each incremental night this many times from the same state; report the median")
    args = parser.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    results: list[Scale] = []
    # --keep: a folder that outlives the run (printed), for looking at the warehouses afterwards
    kept = tempfile.mkdtemp(prefix="incidents-scale-") if args.keep else None
    with tempfile.TemporaryDirectory(prefix="incidents-scale-") as tmp:
        root = Path(kept or tmp)
        if kept:
            print(f"  keeping data and state folders in {kept}", flush=True)
        with prefect_server(root / "prefect-server", log=root / "prefect-server.log") as api_url:
            for scale in scales:
                done = [r for r in results if r.full]
                if done:
                    last = done[-1]
                    predicted = last.full.seconds * scale / last.scale
                    memory = last.full.peak_mb * scale / last.scale
                    reason = None
                    if predicted > args.budget:
                        reason = f"predicted {predicted:.0f} s > budget {args.budget:.0f} s"
                    elif memory > min(0.8 * available_mb(), args.max_memory_gb * 1024):
                        reason = (f"predicted peak {memory / 1024:.1f} GB > min(80% of available memory, "
                                  f"{args.max_memory_gb:g} GB)")
                    if reason:
                        skipped = Scale(scale=scale, incidents=DEFAULT_INCIDENTS * scale, skipped=reason)
                        results.append(skipped)
                        print(f"  x{scale}: {skipped.skipped}", flush=True)
                        continue
                try:
                    results.append(run_scale(scale, root, api_url, args.keep, args.repeat))
                except Exception as error:  # e.g. the demo generator failing at this size: report, go on
                    results.append(Scale(scale=scale, incidents=DEFAULT_INCIDENTS * scale,
                                         skipped=f"{type(error).__name__}: {str(error)[:120]}"))
                    shutil.rmtree(root / f"x{scale}", ignore_errors=True)
                print(table(results), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps([asdict(r) for r in results], indent=2, default=str))


if __name__ == "__main__":
    main()
