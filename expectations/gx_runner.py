"""Great Expectations 1.x, run in memory, and results with the values taken out.

One ephemeral GX context per process (nothing written to disk), shared by the
concurrent source tasks behind a lock (GX's context is not thread-safe; the
work is CPU-bound under the GIL anyway). GX takes pandas frames only. When a
run has started a helper process (`expectations/gx_process.py`), the suites
run there: `run_suite` sends the frame and gets plain dicts back.

GX results carry the failing values (`unexpected_list`,
`partial_unexpected_list`, `unexpected_index_list` entries, observed column
names). `value_free()` keeps counts and the expectation's own configuration
only: that is what may be stored or rendered into Data Docs.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import threading
from functools import lru_cache
from typing import Any

from expectations import gx_process

GX_LOCK = threading.RLock()
POSITION = "_position"
_STATE: dict[str, Any] = {}

# result keys that hold counts, never values
COUNT_KEYS = (
    "element_count",
    "unexpected_count",
    "unexpected_percent",
    "missing_count",
    "missing_percent",
    "unexpected_percent_total",
    "unexpected_percent_nonmissing",
)


def gx_engine() -> tuple[Any, Any]:
    """(great_expectations module, batch definition over an in-memory pandas frame)."""
    with GX_LOCK:  # one context per process, even when a warm-up thread races the first source
        if not _STATE:
            _start_engine()
    return _STATE["gx"], _STATE["batch_definition"]


def warm_up() -> threading.Thread | None:
    """Start importing GX and building its context in a background thread (None when a
    helper process validates for this one: it imported GX already, or is doing so).

    Importing great_expectations takes about 3 s (pandas, scipy, altair, sqlalchemy). A run
    that will validate starts this first, so the import overlaps with work that waits on
    I/O or native code (the Prefect API, DuckDB, reading and hashing the landed files).
    """
    if gx_process.running():
        return None
    thread = threading.Thread(target=gx_engine, name="gx-warm-up", daemon=True)
    thread.start()
    return thread


def _start_engine() -> None:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    for name in [n for n in logging.root.manager.loggerDict if n.startswith("great_expectations")]:
        logging.getLogger(name).setLevel(logging.WARNING)  # some GX modules set INFO on import

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch_definition = (
        context.data_sources.add_pandas("incident_exchange")
        .add_dataframe_asset("validation_frame")
        .add_batch_definition_whole_dataframe("whole_frame")
    )
    _STATE.update(gx=gx, context=context, batch_definition=batch_definition)


def known_expectation_types() -> set[str]:
    """Every expectation type GX knows (snake case), built-in or registered."""
    gx_engine()
    from great_expectations.expectations.registry import list_registered_expectation_implementations

    return set(list_registered_expectation_implementations())


@lru_cache(maxsize=64)
def gx_suite(suite_json: str) -> Any:
    """A GX ExpectationSuite from its JSON text (cached: building one costs a little)."""
    with GX_LOCK:
        gx, _ = gx_engine()
        return gx.ExpectationSuite(**json.loads(suite_json))


def run_suite(
    suite: dict[str, Any], frame: Any, index_columns: list[str], parameters: dict[str, Any]
) -> list[dict[str, Any]]:
    """Validate a Polars or pandas frame; one plain dict per expectation (values still in it:
    keep in memory). Runs in the GX helper process when the run started one.

    Two passes: every expectation with `BOOLEAN_ONLY` (cheap), then only the
    failed ones again with `COMPLETE` to learn which rows failed. Clean files,
    the usual case, pay for the first pass only.

    Each dict: `config` (type, kwargs, meta), `success`, `rows` (tuples of the
    index columns' values of failing rows, or None for table-level
    expectations), `raised` (bool),
    `result` (the value-free part of GX's result).
    """
    return gx_process.call(_run_suite_here, suite, frame, index_columns, parameters)


def _run_suite_here(
    suite: dict[str, Any], frame: Any, index_columns: list[str], parameters: dict[str, Any]
) -> list[dict[str, Any]]:
    if hasattr(frame, "to_pandas"):  # Polars: converted where GX runs (pandas is GX's import)
        frame = frame.to_pandas()
    # GX returns results in its own order: each expectation carries its position in meta
    numbered = {
        **suite,
        "expectations": [
            {**e, "meta": {**(e.get("meta") or {}), POSITION: i}} for i, e in enumerate(suite["expectations"])
        ],
    }
    first = _by_position(_validate(numbered, frame, {"result_format": "BOOLEAN_ONLY"}, parameters))
    failed = [i for i, item in first.items() if not item.success and not _raised(item.exception_info)]
    detail: dict[int, Any] = {}
    if failed:
        subset = {**numbered, "expectations": [numbered["expectations"][i] for i in failed]}
        complete = {"result_format": "COMPLETE", "unexpected_index_column_names": list(index_columns)}
        detail = _by_position(_validate(subset, frame, complete, parameters))
    outcomes = []
    for position in sorted(first):
        item = detail.get(position, first[position])
        config = item.expectation_config
        result = item.result or {}
        index_list = result.get("unexpected_index_list")
        rows = None
        if index_list is not None:
            rows = [
                tuple(int(entry[c]) for c in index_columns) for entry in index_list if isinstance(entry, dict)
            ]
        outcomes.append(
            {
                "config": {
                    "type": config.type,
                    "kwargs": _json_safe(config.kwargs),
                    "meta": {k: v for k, v in (config.meta or {}).items() if k != POSITION},
                },
                "success": bool(item.success),
                "rows": rows,
                "raised": _raised(item.exception_info),
                "result": _value_free_result(config.type, config.kwargs, result),
            }
        )
    return outcomes


def _by_position(results: list[Any]) -> dict[int, Any]:
    return {int(item.expectation_config.meta[POSITION]): item for item in results}


def _validate(suite: dict[str, Any], frame: Any, result_format: dict[str, Any], parameters: dict[str, Any]) -> list[Any]:
    with GX_LOCK:
        _, batch_definition = gx_engine()
        gx_object = gx_suite(json.dumps(suite, sort_keys=True))
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        validation = batch.validate(gx_object, result_format=result_format, expectation_parameters=parameters)
    return list(validation.results)


def _raised(info: Any) -> bool:
    """GX reports exceptions either flat or per metric: {metric id: {raised_exception: ...}}."""
    if not isinstance(info, dict):
        return False
    if info.get("raised_exception"):
        return True
    return any(isinstance(v, dict) and v.get("raised_exception") for v in info.values())


def _value_free_result(kind: str, kwargs: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: _number(result[k]) for k in COUNT_KEYS if k in result}
    observed = result.get("observed_value")
    if isinstance(observed, int | float) and not isinstance(observed, bool):
        out["observed_value"] = _number(observed)
    if kind == "expect_table_columns_to_match_set":
        expected = set(kwargs.get("column_set") or [])
        missing = (result.get("details") or {}).get("mismatched", {}).get("missing") or []
        # only names the suite itself lists: the file's own header may be data
        out["details"] = {"mismatched": {"missing": sorted(c for c in missing if c in expected)}}
        out["observed_value"] = sorted(expected - set(out["details"]["mismatched"]["missing"]))
    return out


def _number(value: Any) -> Any:
    try:
        return value.item()  # numpy scalar
    except AttributeError:
        return value


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def value_free(
    suite: dict[str, Any], outcomes: list[dict[str, Any]], label: str, meta: dict[str, Any]
) -> dict[str, Any]:
    """A GX validation-result document (JSON) holding counts and configuration only."""
    results = []
    for outcome in outcomes:
        results.append(
            {
                "success": outcome["success"],
                "expectation_config": {**copy.deepcopy(outcome["config"]), "severity": "critical"},
                "result": copy.deepcopy(outcome["result"]),
                "meta": {},
                "exception_info": {
                    "raised_exception": outcome["raised"],
                    # GX's own traceback may quote data; Data Docs needs a string to render
                    "exception_traceback": "not kept (it may quote the data)" if outcome["raised"] else None,
                    "exception_message": "the expectation could not be evaluated" if outcome["raised"] else None,
                },
            }
        )
    evaluated = len(results)
    successful = sum(1 for r in results if r["success"])
    return {
        "success": evaluated == successful,
        "results": results,
        "suite_name": suite["name"],
        "suite_parameters": {},
        "statistics": {
            "evaluated_expectations": evaluated,
            "successful_expectations": successful,
            "unsuccessful_expectations": evaluated - successful,
            "success_percent": 100.0 * successful / evaluated if evaluated else None,
        },
        "meta": {"label": label, **meta},
        "id": None,
    }
