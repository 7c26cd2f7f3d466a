"""``fmd watermarks migrate|show|reset``: the incremental-load state from the command line.

Example:
    >>> # fmd watermarks show --lakehouse ./lakehouse
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fmd_runtime.cli._args import add_lakehouse, choice_arg, print_json, runtime_from, zone_arg
from fmd_runtime.watermarks import KINDS


def _cli(args: argparse.Namespace) -> int:
    rt = runtime_from(args)
    try:
        if args.action == "show":
            print_json(
                [
                    s.model_dump(mode="json")
                    for s in rt.watermarks.states()
                    if not args.entity or s.entity in args.entity
                ]
            )
            return 0
        if args.action == "reset":
            if not args.entity or args.value is None or not args.reason:
                print("fmd: error: reset needs --entity, --value and --reason", file=sys.stderr)
                return 2
            print_json(
                {
                    "entity": args.entity[0],
                    "value": rt.watermarks.reset(
                        args.entity[0],
                        args.value,
                        args.reason,
                        kind=args.kind,
                        source_tz=args.source_tz,
                    ),
                }
            )
            return 0
        report = rt.watermarks.migrate(
            dry_run=not args.apply, source_tz=args.source_tz, entities=args.entity or None
        )
        print_json(report)
        verb = "would change" if report.dry_run else "changed"
        print(
            f"{verb} {len(report.changes)}, refused {len(report.refused)}, "
            f"already canonical {report.unchanged}"
            + ("" if args.apply else " (dry run; --apply to write)")
        )
        for r in report.refused:
            print(f"refused: entity {r.entity!r}: {r.error}")
        return 0 if report.ok else 1
    finally:
        rt.close()


def register(sub: Any) -> None:
    """Add ``fmd watermarks {migrate,show,reset}`` to the CLI."""
    p = sub.add_parser(
        "watermarks", help="watermarks: migrate legacy values (dry run), show, reset"
    )
    p.add_argument("action", choices=["migrate", "show", "reset"])
    p.add_argument("--entity", action="append", help="entity id (repeatable; reset takes one)")
    p.add_argument(
        "--apply", action="store_true", help="migrate: write the changes (default: dry run)"
    )
    p.add_argument(
        "--source-tz",
        default=None,
        type=zone_arg,
        help="IANA zone of naive legacy datetimes (default UTC)",
    )
    p.add_argument("--value", default=None, help="reset: the new value")
    p.add_argument(
        "--kind",
        default=None,
        type=choice_arg(KINDS, "watermark kind"),
        help="reset: the kind (default: the stored one)",
    )
    p.add_argument("--reason", default=None, help="reset: why (required)")
    add_lakehouse(p)
    p.set_defaults(func=_cli)


__all__ = ["register"]
