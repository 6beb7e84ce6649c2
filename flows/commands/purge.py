"""`incidents purge --before DATE`: remove incidents that happened before DATE, and all derived from them."""

from __future__ import annotations

import argparse
import sys
from datetime import date


def cmd_purge(args: argparse.Namespace) -> int:
    from flows.config import load_settings
    from flows.locking import RunLockedError
    from flows.publishing import PublishError
    from flows.retention import purge_now, retention_cutoff

    settings = load_settings()
    if not settings.warehouse_path.exists():
        print("no warehouse yet: nothing to purge", file=sys.stderr)
        return 1
    if args.before:
        cutoff = date.fromisoformat(args.before)
    else:
        cutoff = retention_cutoff(settings)
        if cutoff is None:
            print("incidents purge: give --before DATE, or set [retention] years/months in incidents.toml",
                  file=sys.stderr)
            return 2
    if cutoff > date.today():
        print(f"incidents purge: {cutoff} is in the future; refusing", file=sys.stderr)
        return 2
    try:
        result = purge_now(settings, cutoff, dry_run=args.dry_run, upload=not args.no_s3)
    except RunLockedError as error:
        print(f"incidents purge: {error}", file=sys.stderr)
        return 75
    except PublishError as error:
        print(f"incidents purge: purged, but not re-published: {error}", file=sys.stderr)
        return 1
    verb = "would remove" if result.dry_run else "removed"
    print(f"{'dry run: ' if result.dry_run else ''}incidents before {cutoff}: {verb} "
          f"{result.counts.get('cst_reports', 0)} CST reports and {result.counts.get('police_crimes', 0)} police crimes")
    for table, removed in sorted(result.counts.items()):
        if table not in ("cst_reports", "police_crimes") and removed:
            print(f"  {table}: {removed} rows")
    if result.dry_run:
        print("nothing was changed")
    elif result.records_purged:
        print(f"purge {result.purge_id} recorded (counts only) in the purges table; "
              f"re-published: {(result.published_checksum or 'no release to replace')[:12]}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    purge = subparsers.add_parser(
        "purge", help="remove incidents before a date from the warehouse and everything derived, then re-publish"
    )
    purge.add_argument("--before", help="YYYY-MM-DD; default: today minus [retention] years/months")
    purge.add_argument("--dry-run", action="store_true", help="count what would go; change nothing")
    purge.add_argument("--no-s3", action="store_true", help="re-publish locally only")
    purge.set_defaults(handler=cmd_purge)
