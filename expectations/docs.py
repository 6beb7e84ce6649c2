"""GX Data Docs for one nightly run, as static HTML without personal data.

`write_data_docs(reports_dir, run_id, entries)` renders the value-free
validation results of a run (see `gx_runner.value_free`) with Great
Expectations' own site builder into `reports_dir/<run_id>/`, and refreshes
`reports_dir/index.html`, a list of runs. The results hold counts and the
suites' own configuration only, so no value from an extract reaches the pages.

GX needs a file-backed context to build a site: it lives in a temporary folder
that is removed afterwards. The site's static assets (fonts, styles: ~4 MB) are
kept once in `reports_dir/static/` and linked from each run. The pages load
Bootstrap and jQuery from CDNs: offline they render unstyled but complete.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from expectations import gx_process
from expectations.gx_runner import GX_LOCK, gx_engine


def _safe_identifier(label: str) -> str:
    """A batch identifier GX accepts as a file name (no slashes)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "__", label).strip("_") or "batch"


def write_data_docs(reports_dir: Path, run_id: str, entries: list[dict[str, Any]]) -> Path | None:
    """Build the run's Data Docs; returns the run's index.html (None when nothing was validated).

    `entries`: {"label": file key, "suite": suite JSON, "result": value-free result JSON}.
    Built where GX runs: the run's helper process (`gx_process`), or here.
    """
    if not entries:
        return None
    return gx_process.call(_write_data_docs_here, reports_dir, run_id, entries)


def _write_data_docs_here(reports_dir: Path, run_id: str, entries: list[dict[str, Any]]) -> Path | None:
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    reports_dir = Path(reports_dir).resolve()
    site = reports_dir / _safe_identifier(run_id)
    if site.exists():
        shutil.rmtree(site)
    site.mkdir(parents=True)
    run_time = datetime.now(UTC)
    with GX_LOCK, tempfile.TemporaryDirectory(prefix="incidents-gx-") as project:
        gx, _ = gx_engine()
        context = gx.get_context(mode="file", project_root_dir=project)
        for name in list(context.get_docs_sites_urls()):
            context.delete_data_docs_site(name["site_name"])
        context.add_data_docs_site(
            "validation",
            {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
        added: set[str] = set()
        for entry in entries:
            suite = entry["suite"]
            if suite["name"] not in added:
                context.suites.add(gx.ExpectationSuite(**suite))
                added.add(suite["name"])
            key = ValidationResultIdentifier(
                expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite["name"]),
                run_id=RunIdentifier(run_name=run_id, run_time=run_time),
                batch_identifier=_safe_identifier(entry.get("label") or suite["name"]),
            )
            document = {**entry["result"]}
            document["meta"] = {
                **document.get("meta", {}),
                "run_id": {"run_name": run_id, "run_time": run_time.isoformat()},
                "active_batch_definition": {
                    "datasource_name": "landing",
                    "data_connector_name": "nightly",
                    "data_asset_name": entry.get("label") or suite["name"],
                    "batch_identifiers": {},
                },
            }
            context.validation_results_store.set(key, ExpectationSuiteValidationResult(**document))
        context.build_data_docs(site_names=["validation"])
    _share_static(reports_dir, site)
    _write_runs_index(reports_dir)
    return site / "index.html"


def _share_static(reports_dir: Path, site: Path) -> None:
    """Keep one copy of GX's static assets for all runs; each run links to it."""
    static = site / "static"
    shared = reports_dir / "static"
    if not static.is_dir():
        return
    if not shared.exists():
        shutil.move(str(static), str(shared))
    else:
        shutil.rmtree(static)
    try:
        os.symlink(os.path.relpath(shared, site), static, target_is_directory=True)
    except OSError:
        shutil.copytree(shared, static)


def _write_runs_index(reports_dir: Path) -> None:
    runs = sorted(
        (p.name for p in reports_dir.iterdir() if p.is_dir() and (p / "index.html").exists()),
        reverse=True,
    )
    items = "\n".join(
        f'<li><a href="{html.escape(name)}/index.html">{html.escape(name)}</a></li>' for name in runs
    )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Validation reports</title></head>"
        "<body><h1>Validation reports (Great Expectations Data Docs), one per nightly run</h1>"
        f"<ul>\n{items}\n</ul></body></html>\n"
    )
    tmp = reports_dir / ".index.html.tmp"
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(reports_dir / "index.html")
