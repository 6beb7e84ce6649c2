"""`incidents review`: decide the uncertain pairs, side by side.

    incidents review                      interactive: [a]ccept / [r]eject / [s]kip / [q]uit
    incidents review --list [--limit N]   the queue, one line per pair (for scripts)
    incidents review --show PAIR          one pair side by side
    incidents review --accept PAIR [--note TEXT] [--reviewer NAME]
    incidents review --reject PAIR [...]

A PAIR is the short id printed by `--list` (or `report_key:crime_key`).
Each pair shows both sides' redacted narratives, dates, places, categories and
the model's evidence for and against (each comparison's level and its weight
in bits). A decision is stored in `review_decisions` (it always wins over the
model, survives re-runs and re-training, and trains the supervised model), the
pair takes its status at once, and the pairs it competes with are re-resolved
right away (`--no-relink` leaves that to the next nightly run).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # polars only where a command runs: `incidents --help` and each command start faster
    import polars as pl


QUEUE_SQL = """
select l.*, c.incident_date, c.incident_time, c.reported_date as cst_reported, c.category, c.method,
       c.location_type, c.victim_type, c.street as cst_street, c.town as cst_town, c.postcode_sector as cst_sector,
       c.postcode_district as cst_district, c.force_id as cst_force, c.reported_to_police,
       c.description_redacted, c.offender_description_redacted,
       p.offence_code, p.offence_desc, p.offence_category, p.occurred_from, p.occurred_to,
       p.reported_date as police_reported, p.street as police_street, p.town as police_town,
       p.postcode_sector as police_sector, p.postcode_district as police_district, p.status as police_status,
       p.summary_redacted
from link_pairs l
join stg_cst_reports c using (report_key)
join stg_police_crimes p using (crime_key)
"""


def pair_id(report_key: str, crime_key: str) -> str:
    """A short, stable id for a pair (what analysts type)."""
    return hashlib.sha256(f"{report_key}|{crime_key}".encode()).hexdigest()[:10]


def _queue(warehouse: Any, where: str = "where l.status = 'review'", params: list | None = None) -> pl.DataFrame:
    import polars as pl

    frame = warehouse.query(QUEUE_SQL + where + " order by l.match_probability desc, l.report_key, l.crime_key", params)
    return frame.with_columns(
        pl.struct("report_key", "crime_key")
        .map_elements(lambda r: pair_id(r["report_key"], r["crime_key"]), return_dtype=pl.String)
        .alias("pair_id")
    )


def _find(warehouse: Any, pair: str) -> dict | None:
    import polars as pl

    if ":" in pair:
        report_key, crime_key = pair.split(":", 1)
        rows = _queue(warehouse, "where l.report_key = ? and l.crime_key = ?", [report_key, crime_key])
    else:
        rows = _queue(warehouse, "where 1 = 1").filter(pl.col("pair_id") == pair)
    return rows.row(0, named=True) if rows.height else None


def _model(warehouse: Any) -> tuple[dict, Any]:
    from transforms.linkage_model import FittedModel

    latest = warehouse.query("select settings_json, parameters_json from link_model_runs order by created_at desc limit 1")
    if latest.is_empty():
        return {}, None
    row = latest.row(0, named=True)
    return json.loads(row["settings_json"]), FittedModel.from_dict(json.loads(row["parameters_json"]))


def evidence_lines(row: dict, settings: dict, model: Any) -> tuple[list[str], list[str]]:
    """(for, against): each comparison's level with its weight in bits, strongest first."""
    from transforms.linkage_model import evidence

    if model is None or not settings or row.get("levels") is None:
        return [], []
    names = [c["name"] for c in settings["comparisons"]]
    levels = dict(zip(names, [int(x) for x in row["levels"]], strict=False))
    items = evidence(model, levels)
    for_ = [f"{name}: {label} ({weight:+.1f})" for name, label, weight in items if weight > 0]
    against = [f"{name}: {label} ({weight:+.1f})" for name, label, weight in items if weight < 0]
    return for_, against


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def side_by_side(row: dict, settings: dict, model: Any, refs: dict[str, str] | None = None) -> str:
    """One pair as text: CST left, police right, then the evidence."""
    refs = refs or {}
    width = 46
    left = [
        f"CST {refs.get(row['report_key'], row['report_key'][:12])}",
        f"date      {_fmt(row['incident_date'])} {_fmt(row['incident_time'])}",
        f"reported  {_fmt(row['cst_reported'])}",
        f"place     {_fmt(row['cst_street'])}, {_fmt(row['cst_town'])} {_fmt(row['cst_sector'] or row['cst_district'])}",
        f"force     {_fmt(row['cst_force'])}",
        f"category  {_fmt(row['category'])}",
        f"kind      {_fmt(row['method'])} / {_fmt(row['location_type'])} / {_fmt(row['victim_type'])}",
        f"told police {_fmt(row['reported_to_police'])}",
    ]
    right = [
        f"{row['force_id']} {refs.get(row['crime_key'], row['crime_key'][:12])}",
        f"from      {_fmt(row['occurred_from'])}",
        f"to        {_fmt(row['occurred_to'])}",
        f"place     {_fmt(row['police_street'])}, {_fmt(row['police_town'])} {_fmt(row['police_sector'] or row['police_district'])}",
        f"reported  {_fmt(row['police_reported'])}",
        f"offence   {_fmt(row['offence_code'])} {_fmt(row['offence_category'])}",
        f"status    {_fmt(row['police_status'])}",
        "",
    ]
    lines = [f"pair {row['pair_id']}   probability {row['match_probability'] or 0:.3f}   status {row['status']}"
             f" ({row['decided_by']}{', ' + row['reason'] if row['reason'] else ''})", ""]
    lines += [f"{a[:width]:<{width}} | {b}" for a, b in zip(left, right, strict=True)]
    lines += ["", "CST narrative:", f"  {_fmt(row['description_redacted'])}",
              f"  offender: {_fmt(row['offender_description_redacted'])}",
              "Police narrative:", f"  {_fmt(row['summary_redacted'])}", ""]
    for_, against = evidence_lines(row, settings, model)
    lines.append("evidence for:     " + ("; ".join(for_) or "-"))
    lines.append("evidence against: " + ("; ".join(against) or "-"))
    return "\n".join(lines)


def record_decision(warehouse: Any, row: dict, decision: str, reviewer: str | None, note: str | None,
                    now: datetime | None = None) -> None:
    """Store the decision and give the pair its status at once."""
    now = now or datetime.now()
    warehouse.execute(
        "insert into review_decisions values (?, ?, ?, ?, ?, ?)",
        [row["report_key"], row["crime_key"], decision, now, reviewer, note],
    )
    warehouse.execute(
        "update link_pairs set status = ?, decided_by = 'review', reason = 'review', updated_at = ? "
        "where report_key = ? and crime_key = ?",
        ["matched" if decision == "accept" else "rejected", now, row["report_key"], row["crime_key"]],
    )


def _refs(settings: Any) -> dict[str, str]:
    from flows.secrets import ReidentificationStore

    try:
        frame = ReidentificationStore(settings.secrets_dir).lookup()
    except Exception:  # the store is optional for reviewing
        return {}
    return dict(zip(frame["pseudonym"].to_list(), frame["ref"].to_list(), strict=True))


def cmd_review(args: argparse.Namespace) -> int:
    from flows.config import load_settings
    from flows.linking import link_warehouse
    from flows.locking import RunLockedError, run_lock
    from warehouse.run import Warehouse

    settings = load_settings()
    if not settings.warehouse_path.exists():
        print("no warehouse yet: run `incidents nightly` first", file=sys.stderr)
        return 1
    reviewer = args.reviewer or os.environ.get("USER") or "analyst"
    try:
        with run_lock(settings.home), Warehouse(settings.warehouse_path) as warehouse:
            link_settings, model = _model(warehouse)
            refs = _refs(settings) if not args.list else {}
            if args.list:
                queue = _queue(warehouse)
                for row in queue.head(args.limit).iter_rows(named=True):
                    print(
                        f"{row['pair_id']}  {row['match_probability']:.3f}  {_fmt(row['incident_date'])}  "
                        f"{row['force_id']}  {_fmt(row['category'])} / {_fmt(row['offence_category'])}  "
                        f"{_fmt(row['cst_street'] or row['cst_district'])}"
                    )
                print(f"{queue.height} pairs awaiting review", file=sys.stderr)
                return 0
            if args.show:
                row = _find(warehouse, args.show)
                if row is None:
                    print(f"no pair {args.show}", file=sys.stderr)
                    return 1
                print(side_by_side(row, link_settings, model, refs))
                return 0
            decided = 0
            with warehouse.transaction():
                if args.accept or args.reject:
                    for pair, decision in [(p, "accept") for p in args.accept or []] + [
                        (p, "reject") for p in args.reject or []
                    ]:
                        row = _find(warehouse, pair)
                        if row is None:
                            print(f"no pair {pair}", file=sys.stderr)
                            return 1
                        record_decision(warehouse, row, decision, reviewer, args.note)
                        decided += 1
                        print(f"{pair}: {decision}ed")
                else:
                    decided = _interactive(warehouse, link_settings, model, refs, reviewer, args.limit)
                if decided and not args.no_relink:
                    summary = link_warehouse(warehouse, "review-" + datetime.now().strftime("%Y%m%dT%H%M%S%f"))
                    print(f"re-resolved after {decided} decisions: {summary.matched} matched, {summary.review} in review")
    except RunLockedError as error:
        print(f"incidents review: {error}", file=sys.stderr)
        return 75
    return 0


def _interactive(warehouse: Any, settings: dict, model: Any, refs: dict, reviewer: str, limit: int) -> int:
    queue = _queue(warehouse)
    if queue.is_empty():
        print("nothing awaits review")
        return 0
    decided = 0
    for number, row in enumerate(queue.head(limit).iter_rows(named=True), start=1):
        print("=" * 100)
        print(f"[{number}/{min(limit, queue.height)}]")
        print(side_by_side(row, settings, model, refs))
        while True:
            try:
                answer = input("[a]ccept  [r]eject  [s]kip  [q]uit > ").strip().lower()
            except EOFError:
                answer = "q"
            if answer in {"a", "r", "s", "q"}:
                break
        if answer == "q":
            break
        if answer == "s":
            continue
        note = None
        record_decision(warehouse, row, "accept" if answer == "a" else "reject", reviewer, note)
        decided += 1
    return decided


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("review", help="decide uncertain CST-police pairs (side by side)")
    parser.add_argument("--list", action="store_true", help="print the review queue and exit")
    parser.add_argument("--show", metavar="PAIR", help="print one pair side by side and exit")
    parser.add_argument("--accept", metavar="PAIR", action="append", help="accept a pair (repeatable)")
    parser.add_argument("--reject", metavar="PAIR", action="append", help="reject a pair (repeatable)")
    parser.add_argument("--note", help="a note stored with the decision")
    parser.add_argument("--reviewer", help="who decides (default $USER)")
    parser.add_argument("--limit", type=int, default=50, help="pairs to list or review (default 50)")
    parser.add_argument("--no-relink", action="store_true", help="do not re-resolve competing pairs now")
    parser.set_defaults(handler=cmd_review)
