"""`incidents exchange --for cst|<force> [--period 2026-H1 | --from DATE --to DATE] [--force ID]`."""

from __future__ import annotations

import argparse
import sys
from datetime import date

HELP = """\
Write the anonymised exchange pack one partner receives for a period, replacing
the spreadsheet brought to the partners' meetings: the records the other side
holds and the receiver does not.

  --for gmp   CST reports in GMP's area, in the period, with no matched GMP crime
  --for cst   the participating forces' crimes (or --force one) in the period that
              no CST report is matched to; cancelled crimes are left out

Columns: reference (the sender's own reference, from the re-identification
store), source, date, date_to, street (no house number), town, postcode_sector
(sector or district, never a full postcode), category, offence, summary
(redacted). Written as CSV and XLSX (formula-injection safe, owner-only files)
to $INCIDENTS_HOME/exchange/<partner>/<period>/ and recorded, counts only, in
the warehouse table exchange_log.
"""


def cmd_exchange(args: argparse.Namespace) -> int:
    from flows.config import load_settings
    from flows.exchange import ExchangeError, write_exchange_pack
    from flows.locking import RunLockedError, run_lock
    from transforms.exchange import period_between, period_from_label

    try:
        if args.period and (args.date_from or args.date_to):
            raise ValueError("give either --period or --from/--to, not both")
        if args.period:
            period = period_from_label(args.period)
        elif args.date_from and args.date_to:
            period = period_between(date.fromisoformat(args.date_from), date.fromisoformat(args.date_to))
        else:
            raise ValueError("give --period (e.g. 2026-H1) or both --from and --to (YYYY-MM-DD)")
    except ValueError as error:
        print(f"incidents exchange: {error}", file=sys.stderr)
        return 2
    settings = load_settings()
    try:
        with run_lock(settings.home):
            result = write_exchange_pack(settings, args.partner.lower(), period, args.force and args.force.lower())
    except RunLockedError as error:
        print(f"incidents exchange: {error}", file=sys.stderr)
        return 75
    except ExchangeError as error:
        print(f"incidents exchange: {error}", file=sys.stderr)
        return 1
    about = ", ".join(result.sources)
    print(f"exchange pack for {result.partner}, {period.label} ({period.start} to {period.end}): "
          f"{result.rows} record(s) from {about}")
    for path in result.files:
        print(f"  {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "exchange",
        help="write the anonymised exchange pack for a partner (CSV + XLSX)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--for", dest="partner", required=True, metavar="cst|FORCE",
                        help="who receives the pack: cst, or a force id (gmp, mps, ...)")
    parser.add_argument("--period", help="2026-H1, 2026-H2, 2026-Q3, 2026-10 or 2026")
    parser.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="first day (with --to)")
    parser.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="last day (with --from)")
    parser.add_argument("--force", help="with --for cst: only this force's crimes")
    parser.set_defaults(handler=cmd_exchange)
