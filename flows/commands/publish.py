"""`incidents publish` (re-publish from the warehouse) and `incidents data-dictionary`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DICTIONARY = Path(__file__).resolve().parents[2] / "docs" / "data-dictionary.md"


def cmd_publish(args: argparse.Namespace) -> int:
    from flows.config import load_settings
    from flows.landing import s3_client
    from flows.locking import RunLockedError, run_lock
    from flows.publishing import PublishError, publish_locally, table_exists, upload_release_now
    from warehouse.run import Warehouse

    settings = load_settings()
    if not settings.warehouse_path.exists():
        print("no warehouse yet: run `incidents nightly` first", file=sys.stderr)
        return 1
    try:
        with run_lock(settings.home), Warehouse(settings.warehouse_path) as warehouse:
            if not table_exists(warehouse.con, "incidents"):
                print("the marts have not been built yet (no linkage tables): nothing to publish", file=sys.stderr)
                return 1
            run_id = warehouse.scalar(
                "select run_id from runs where status = 'succeeded' order by finished_at desc limit 1"
            )
            if run_id is None:
                print("no successful run to publish", file=sys.stderr)
                return 1
            result = publish_locally(warehouse, settings, run_id)
            print(f"published {result.path} from run {run_id}: {result.size_bytes / 1e6:.1f} MB in {result.seconds:.1f} s")
            if settings.publish.s3_prefix and not args.no_s3:
                latest = upload_release_now(
                    result.path.parent, settings.publish.s3_prefix,
                    s3_client(settings.s3.endpoint_url, settings.s3.region), settings.publish.s3_keep_releases,
                )
                print(f"uploaded; latest release: {latest}")
    except RunLockedError as error:
        print(f"incidents publish: {error}", file=sys.stderr)
        return 75
    except PublishError as error:
        print(f"incidents publish: {error}", file=sys.stderr)
        return 1
    return 0


def cmd_data_dictionary(args: argparse.Namespace) -> int:
    import duckdb

    from flows.config import load_settings
    from flows.publishing import data_dictionary_markdown

    database = Path(args.db) if args.db else load_settings().published_path
    if not database.exists():
        print(f"no published database at {database}: run `incidents nightly` or pass --db", file=sys.stderr)
        return 1
    with duckdb.connect(str(database), read_only=True) as con:
        text = data_dictionary_markdown(con)
    out = Path(args.out)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out} from {database}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    publish = subparsers.add_parser(
        "publish", help="re-publish the analysts' database and open data from the warehouse (and S3)"
    )
    publish.add_argument("--no-s3", action="store_true", help="do not upload even when [publish] s3_prefix is set")
    publish.set_defaults(handler=cmd_publish)

    dictionary = subparsers.add_parser(
        "data-dictionary", help="regenerate docs/data-dictionary.md from the published database's comments"
    )
    dictionary.add_argument("--db", help="published database (default $INCIDENTS_HOME/published/incidents.duckdb)")
    dictionary.add_argument("--out", default=str(DICTIONARY), help="markdown file to write")
    dictionary.set_defaults(handler=cmd_data_dictionary)
