"""Validation cost: Great Expectations suites against a Polars-only baseline, and their share of a run.

    python benchmarks/validation.py                 # default demo data (~8,500 rows), 3 nightly runs
    python benchmarks/validation.py --no-nightly    # per-file costs only (no Prefect)

Prints
1. the cost per 10,000 rows of validating every file of the default demo landing area, measured
   file by file in one thread: reading, the raw suite, standardising, the staging suite, with
   GX (`expectations.validation`) and with the same suites evaluated by plain Polars
   expressions (the baseline: what the checks cost without GX);
2. the one-off cost of importing great_expectations (paid once per nightly process);
3. nightly runs on the same data, each into a fresh INCIDENTS_HOME, in one process after the
   Prefect server is warm: without validation, with Polars-only validation, with GX validation
   and Data Docs file by file (the flow as it is), and with GX once per source (the flow with
   `prepare_source` handing a source's new files to `prepared_files` together). The share of
   validation is (run - run without validation) / run without validation.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

import polars as pl  # noqa: E402

from expectations import validation  # noqa: E402
from expectations.docs import write_data_docs  # noqa: E402
from expectations.frames import (  # noqa: E402
    raw_validation_frame,
    staged_validation_frame,
    suite_columns,
    suite_parameters,
)
from expectations.suites import raw_suite, staging_suite  # noqa: E402
from flows.config import Settings  # noqa: E402
from flows.landing import LocalLanding  # noqa: E402
from flows.readers import ExtractReadError, read_extract  # noqa: E402
from transforms.staging import staged_cst_reports, staged_police_crimes  # noqa: E402

KEY = bytes(range(32))


# -- the baseline: the same suites, evaluated with Polars expressions ------------------------------


def _value(argument: Any, parameters: dict[str, Any]) -> Any:
    if isinstance(argument, dict) and "$PARAMETER" in argument:
        value = parameters[argument["$PARAMETER"]]
        return value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    return argument


def _regex_failures(frame: pl.DataFrame, column: str, pattern: str) -> pl.Expr:
    try:
        frame.head(1).select(pl.col(column).str.contains(pattern))
        return ~pl.col(column).str.contains(pattern)
    except pl.exceptions.ComputeError:  # look-around: not in Rust's regex
        compiled = re.compile(pattern)
        return ~pl.col(column).map_elements(lambda v: bool(compiled.search(v)), return_dtype=pl.Boolean)


def polars_outcomes(suite: dict[str, Any], frame: pl.DataFrame, index: str, parameters: dict[str, Any]) -> list[dict]:
    """Suite results in the shape `expectations.validation` builds its outcome from."""
    outcomes = []
    for expectation in suite["expectations"]:
        kind, kwargs = expectation["type"], expectation["kwargs"]
        rows = None
        success = True
        result: dict[str, Any] = {}
        if kind == "expect_table_columns_to_match_set":
            missing = sorted(set(kwargs["column_set"]) - set(frame.columns))
            success = not missing
            result = {"details": {"mismatched": {"missing": missing}}}
        elif kind == "expect_table_row_count_to_be_between":
            success = frame.height >= (kwargs.get("min_value") or 0)
        else:
            column = kwargs.get("column")
            if column is not None and column not in frame.columns:
                outcomes.append({"config": expectation, "success": False, "rows": None, "raised": True, "result": {}})
                continue
            value = pl.col(column) if column else None
            if kind == "expect_column_values_to_not_be_null":
                failing = value.is_null()
            elif kind == "expect_column_values_to_be_in_set":
                failing = value.is_not_null() & ~value.is_in(list(_value(kwargs["value_set"], parameters)))
            elif kind == "expect_column_values_to_not_be_in_set":
                failing = value.is_in(list(_value(kwargs["value_set"], parameters)))
            elif kind == "expect_column_values_to_match_regex":
                failing = value.is_not_null() & _regex_failures(frame, column, kwargs["regex"])
            elif kind == "expect_column_values_to_be_between":
                failing = pl.lit(False)
                if kwargs.get("min_value") is not None:
                    failing = failing | (value < _value(kwargs["min_value"], parameters))
                if kwargs.get("max_value") is not None:
                    failing = failing | (value > _value(kwargs["max_value"], parameters))
                failing = failing.fill_null(False)
            elif kind == "expect_column_values_to_be_unique":
                failing = value.is_not_null() & value.is_duplicated()
            elif kind == "expect_compound_columns_to_be_unique":
                columns = kwargs["column_list"]
                complete = pl.all_horizontal(pl.col(c).is_not_null() for c in columns)
                failing = complete & pl.struct(columns).is_duplicated()
            elif kind == "expect_column_pair_values_a_to_be_greater_than_b":
                a, b = pl.col(kwargs["column_A"]), pl.col(kwargs["column_B"])
                failing = ((a < b) if kwargs.get("or_equal") else (a <= b)).fill_null(False)
            else:
                raise NotImplementedError(kind)
            rows = frame.filter(failing)[index].to_list()
            success = not rows
        outcomes.append({"config": expectation, "success": success, "rows": rows, "raised": False, "result": result})
    return outcomes


def _polars_validated(suite, frames, columns_present, index, parameters, labels, meta):  # noqa: ANN001, ANN202
    outcomes = []
    for frame, present in zip(frames, columns_present, strict=True):
        runs = polars_outcomes(suite, frame, index, parameters)
        for run in runs:  # rows as (file, row), like the GX runner
            run["rows"] = None if run["rows"] is None else [(0, r) for r in run["rows"]]
        _, required = suite_columns(suite)
        outcomes.append(validation._outcome(runs, 0, present, required, parameters))
    return outcomes, []


def polars_validate_extracts(raws, mapping, reference=None, now=None, labels=None):  # noqa: ANN001, ANN201
    suite = raw_suite(mapping)
    parameters = suite_parameters(suite, reference, now or datetime.now())
    frames = [raw_validation_frame(raw, mapping, suite) for raw in raws]
    return _polars_validated(suite, frames, [set(r.columns) for r in raws], "_row", parameters, labels, {})


def polars_validate_staged_frames(stageds, mapping, now=None, labels=None):  # noqa: ANN001, ANN201
    suite = staging_suite(mapping.kind)
    parameters = suite_parameters(suite, None, now or datetime.now())
    frames = [staged_validation_frame(s, suite) for s in stageds]
    return _polars_validated(suite, frames, [set(s.columns) for s in stageds], "source_row", parameters, labels, {})


def no_validation(frames, *_: Any, **__: Any):  # noqa: ANN001, ANN201
    empty = pl.DataFrame(schema=validation.ROW_FAILURE_SCHEMA)
    return [validation.ValidationOutcome([], empty) for _ in frames], []


# -- measurements ---------------------------------------------------------------------------------------


def gx_import_seconds() -> float:
    code = "import time; t = time.perf_counter(); import great_expectations; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def per_file_costs(landing: Path, settings: Settings) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    raws_by_source: dict[str, list[pl.DataFrame]] = defaultdict(list)
    staged_by_source: dict[str, list[pl.DataFrame]] = defaultdict(list)
    store = LocalLanding(landing)
    mappings = settings.mappings
    reference = settings.reference_data
    for file in store.list_files():
        mapping = mappings.get(file.folder)
        if mapping is None:
            continue
        data = store.read(file.key)
        started = time.perf_counter()
        try:
            raw = read_extract(data, mapping).frame
        except ExtractReadError:
            continue
        totals["read"] += time.perf_counter() - started
        totals["rows"] += raw.height
        totals["files"] += 1
        for engine, check in (("gx", validation.validate_extracts), ("polars", polars_validate_extracts)):
            started = time.perf_counter()
            outcome = check([raw], mapping, reference)[0][0]
            totals[f"{engine}_raw"] += time.perf_counter() - started
        good = raw.join(outcome.row_failures.select("_row"), on="_row", how="anti")
        started = time.perf_counter()
        stage = staged_cst_reports if mapping.kind == "cst" else staged_police_crimes
        staged = stage(good, mapping, reference, KEY)
        totals["stage"] += time.perf_counter() - started
        for engine, check in (("gx", validation.validate_staged_frames), ("polars", polars_validate_staged_frames)):
            started = time.perf_counter()
            check([staged], mapping)
            totals[f"{engine}_staged"] += time.perf_counter() - started
        raws_by_source[mapping.id].append(raw)
        staged_by_source[mapping.id].append(staged)
    mappings_by_id = {m.id: m for m in mappings.values()}
    started = time.perf_counter()
    for source, raws in raws_by_source.items():
        validation.validate_extracts(raws, mappings_by_id[source], reference)
    totals["gx_raw_batched"] = time.perf_counter() - started
    started = time.perf_counter()
    for source, stageds in staged_by_source.items():
        validation.validate_staged_frames(stageds, mappings_by_id[source])
    totals["gx_staged_batched"] = time.perf_counter() - started
    entries = []
    for source, raws in raws_by_source.items():
        entries += validation.validate_extracts(raws, mappings_by_id[source], reference)[1]
        entries += validation.validate_staged_frames(staged_by_source[source], mappings_by_id[source])[1]
    started = time.perf_counter()
    write_data_docs(Path(tempfile.mkdtemp(prefix="bench-docs-")), "benchmark", entries)
    totals["docs_batched"] = time.perf_counter() - started
    return totals


def batched_prepare_source(flow_module):  # noqa: ANN001, ANN201
    """The proposed `prepare_source`: the same, but one `prepared_files` call for a source's new files."""
    from prefect import task
    from prefect.cache_policies import NO_CACHE

    @task(name="prepare_source", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 20])
    def prepare_source(source_id, files, landing, mapping, reference, key, known_hashes):  # noqa: ANN001, ANN202
        prepared, new, seen = [], [], set()
        for file in files:
            data = landing.read(file.key)
            digest = flow_module.sha256(data)
            if digest in known_hashes or digest in seen:
                prepared.append(flow_module.PreparedFile(source_id, file, digest))  # a resend: sighting only
                continue
            seen.add(digest)
            new.append((len(prepared), file, data))
            prepared.append(None)
        batch = flow_module.prepared_files(source_id, [(f, d) for _, f, d in new], mapping, reference, key)
        for (position, _, _), item in zip(new, batch, strict=True):
            prepared[position] = item
        return prepared

    return prepare_source


def nightly_seconds(landing: Path, workdir: Path, mode: str, repeat: int = 0) -> float:
    import flows.nightly as flow

    no_docs = lambda *a, **k: None  # noqa: E731
    patches = {
        "none": (no_validation, no_validation, no_docs, flow.prepare_source),
        "polars": (polars_validate_extracts, polars_validate_staged_frames, no_docs, flow.prepare_source),
        "gx": (validation.validate_extracts, validation.validate_staged_frames, flow.write_data_docs,
               flow.prepare_source),
        "gx-batched": (validation.validate_extracts, validation.validate_staged_frames, flow.write_data_docs,
                       batched_prepare_source(flow)),
    }[mode]
    names = ("validate_extracts", "validate_staged_frames", "write_data_docs", "prepare_source")
    originals = tuple(getattr(flow, name) for name in names)
    for name, value in zip(names, patches, strict=True):
        setattr(flow, name, value)
    os.environ["INCIDENTS_HOME"] = str(workdir / f"home-{mode}-{repeat}")
    os.environ["INCIDENTS_LANDING"] = str(landing)
    try:
        started = time.perf_counter()
        summary = flow.nightly()
        elapsed = time.perf_counter() - started
    finally:
        for name, value in zip(names, originals, strict=True):
            setattr(flow, name, value)
    loaded = sum(summary.rows_loaded.values())
    print(f"  nightly, {mode:>10} validation: {elapsed:6.1f} s  ({summary.files_ingested} files, {loaded} rows loaded, "
          f"{summary.rows_quarantined} rows quarantined)")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, help="demo incidents (default: the generator's default)")
    parser.add_argument("--no-nightly", action="store_true", help="skip the nightly runs")
    parser.add_argument("--repeat", type=int, default=2, help="nightly runs per mode (the fastest counts)")
    args = parser.parse_args()

    from demo.generator import generate_landing

    workdir = Path(tempfile.mkdtemp(prefix="bench-validation-"))
    os.environ.setdefault("PREFECT_HOME", str(workdir / "prefect"))
    os.environ["INCIDENTS_CONFIG"] = str(workdir / "incidents.toml")
    (workdir / "incidents.toml").write_text("")
    landing = workdir / "landing"
    kwargs = {"incidents": args.incidents} if args.incidents else {}
    generate_landing(landing, workdir / "truth", **kwargs)
    settings = Settings()

    print(f"great_expectations import (once per process): {gx_import_seconds():.1f} s")
    validation.validate_extract(  # warm up: import GX, build the context and the suites
        read_extract((landing / "cst").glob("*.csv").__next__().read_bytes(), settings.mappings["cst"]).frame,
        settings.mappings["cst"], settings.reference_data,
    )
    totals = per_file_costs(landing, settings)
    rows, files = totals["rows"], int(totals["files"])
    per10k = 10_000 / rows
    gx = totals["gx_raw"] + totals["gx_staged"]
    baseline = totals["polars_raw"] + totals["polars_staged"]
    print(f"demo landing area: {files} files, {int(rows)} rows")
    print("per-file cost, one thread, per 10,000 rows:")
    print(f"  read extracts            {totals['read'] * per10k:6.2f} s")
    print(f"  standardise (staging)    {totals['stage'] * per10k:6.2f} s")
    print(f"  GX raw + staging suites  {gx * per10k:6.2f} s  (raw {totals['gx_raw'] * per10k:.2f}, staged {totals['gx_staged'] * per10k:.2f}; "
          f"{gx / files * 1000:.0f} ms per file)")
    batched = totals["gx_raw_batched"] + totals["gx_staged_batched"]
    print(f"  GX, one run per source   {batched * per10k:6.2f} s  (the files of each source stacked: "
          f"{len(set(m.id for m in settings.mappings.values()))} raw + staging runs)")
    print(f"  GX Data Docs of the run   {totals['docs_batched']:6.2f} s  (per run, {len(set(m.id for m in settings.mappings.values())) * 2} pages)")
    print(f"  Polars-only, same suites {baseline * per10k:6.2f} s  (GX file by file / Polars: {gx / baseline:.0f}x)")
    if args.no_nightly:
        return 0

    print("nightly runs (fresh warehouse each, Prefect server already started):")
    from prefect import flow as prefect_flow

    prefect_flow(lambda: None, name="warm-up")()
    times: dict[str, float] = {}
    for repeat in range(args.repeat):  # interleaved; the fastest of each mode counts (shared machines)
        for mode in ("none", "polars", "gx-batched") + (("gx",) if repeat == 0 else ()):
            elapsed = nightly_seconds(landing, workdir, mode, repeat)
            times[mode] = min(times.get(mode, elapsed), elapsed)
    base = times["none"]
    component = totals["gx_raw_batched"] + totals["gx_staged_batched"] + totals["docs_batched"]
    print(f"validation share from the measured parts (steadier on a busy machine): GX once per source "
          f"+ Data Docs = {component:.1f} s = {100 * component / base:.0f}% of the run without validation; "
          f"file by file {gx + totals['docs_batched']:.1f} s = {100 * (gx + totals['docs_batched']) / base:.0f}%")
    print("validation share of the nightly run (added time / run without validation; target under 20%):")
    for mode, what in (("polars", "Polars-only checks"), ("gx", "GX, file by file (as committed)"),
                       ("gx-batched", "GX, one run per source (proposed prepare_source)")):
        print(f"  {what:50} {times[mode] - base:6.1f} s = {100 * (times[mode] - base) / base:4.0f}%")
    print(f"(working folder {workdir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
