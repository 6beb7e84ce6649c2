"""`incidents rotate-key [--dry-run] [--no-compact]`: a new pseudonymisation key, the warehouse re-keyed."""

from __future__ import annotations

import argparse
import sys

HELP = """\
Replace the secret pseudonymisation key and re-key everything keyed with it, in
one warehouse transaction. The old key is overwritten and kept nowhere.

What is re-keyed: every report_key, crime_key, postcode_unit_key, crime-number
token (crime_ref_tokens, cited_crime_ref_tokens), quarantine record_key, the
linkage tables' keys (link_pairs, review_decisions, police_incident_groups,
link_record_state), incident_ids, the marts (rebuilt), and the
re-identification store.

Procedure:
  1. Make sure the landing area holds every extract listed in the warehouse
     `manifest` (files never change once landed): full postcodes and the crime
     numbers CST was given exist nowhere else, so they are re-read from there.
     `incidents rotate-key --dry-run` re-reads and checks everything and
     changes nothing.
  2. Run `incidents rotate-key` (it takes the run lock: no nightly meanwhile).
     It re-reads each file, checks its sha256 against the manifest, derives
     the values the staging hashed, checks that they explain every pseudonym
     held, then re-keys all tables and the store in one transaction, records
     the rotation (time, counts, new key fingerprint) in `key_rotations`,
     moves the new store and key into place and rewrites the warehouse file so
     that no page with old pseudonyms remains.
  3. Key from the environment ($INCIDENTS_PSEUDONYM_KEY): generate the new key
     yourself (python -c 'import secrets; print(secrets.token_hex(32))'), pass
     it in $INCIDENTS_NEW_PSEUDONYM_KEY, run the command, then replace
     $INCIDENTS_PSEUDONYM_KEY by it wherever it is set. Until you do, nightly
     runs refuse to start (the key's fingerprint no longer matches).
  4. Delete any backup of the old secrets folder; re-issue exchange packs only
     if wanted (they hold references, not pseudonyms, and stay valid).

If anything does not check out (a missing or changed file, a changed mapping,
a key that is not the warehouse's), nothing is changed. A run interrupted after
its commit is completed by the next `incidents rotate-key` or `incidents nightly`.
"""


def cmd_rotate_key(args: argparse.Namespace) -> int:
    from flows.config import load_settings
    from flows.keys import RotationError, rotate_key
    from flows.locking import RunLockedError, run_lock

    settings = load_settings()
    try:
        with run_lock(settings.home):
            summary = rotate_key(settings, dry_run=args.dry_run, compact=not args.no_compact)
    except RunLockedError as error:
        print(f"incidents rotate-key: {error}", file=sys.stderr)
        return 75
    except RotationError as error:
        print(f"incidents rotate-key: not rotated: {error}", file=sys.stderr)
        return 1
    if summary.dry_run:
        print(f"dry run: {summary.files_reread} landed file(s) re-read; all {summary.pseudonyms_mapped} "
              f"pseudonym forms re-derivable; {summary.store_entries} store entries; nothing changed "
              f"({summary.seconds:.1f} s)")
        return 0
    print(f"key rotated in {summary.seconds:.1f} s: {summary.files_reread} landed file(s) re-read, "
          f"{summary.values_rekeyed} value(s) re-keyed, {summary.store_entries} store entries")
    for table, count in sorted(summary.tables_changed.items()):
        print(f"  {table}: {count}")
    if summary.compacted:
        print("  warehouse file rewritten (no old pages left)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rotate-key",
        help="replace the pseudonymisation key and re-key the warehouse and the store",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dry-run", action="store_true", help="re-read and check everything, change nothing")
    parser.add_argument("--no-compact", action="store_true",
                        help="do not rewrite the warehouse file afterwards (old pages may remain in it)")
    parser.set_defaults(handler=cmd_rotate_key)
