"""`incidents report`: the six-monthly statistics for the tension team (HTML + PDF).

    incidents report --period 2026-H1
    incidents report --from 2026-01-01 --to 2026-03-31
    incidents report --period 2026-H1 --out DIR     (default $INCIDENTS_HOME/reports)

Reads the published database only; writes `<period>.html` (one self-contained
file) and `<period>.pdf`.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from error


def cmd_report(args: argparse.Namespace) -> int:
    from flows.config import load_settings
    from flows.report import ReportError, write_report
    from transforms.report_figures import half_year, span

    try:
        if args.period:
            if args.start or args.end:
                raise ValueError("give either --period or --from/--to, not both")
            period = half_year(args.period)
        elif args.start and args.end:
            period = span(args.start, args.end)
        else:
            raise ValueError("give --period YYYY-H1|YYYY-H2, or both --from and --to")
        settings = load_settings()
        result = write_report(settings, period, Path(args.out) if args.out else None)
    except (ValueError, ReportError) as error:
        print(f"incidents report: {error}", file=sys.stderr)
        return 1
    print(f"report for {period.label} written in {result.seconds:.1f} s")
    print(f"  {result.html}")
    print(f"  {result.pdf}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="the six-monthly statistics (HTML and PDF) from the published database"
    )
    parser.add_argument("--period", help="half-year, e.g. 2026-H1 (January-June) or 2026-H2")
    parser.add_argument("--from", dest="start", type=_day, help="first incident date of a custom span (YYYY-MM-DD)")
    parser.add_argument("--to", dest="end", type=_day, help="last incident date of a custom span (YYYY-MM-DD)")
    parser.add_argument("--out", help="folder to write to (default $INCIDENTS_HOME/reports)")
    parser.set_defaults(handler=cmd_report)
