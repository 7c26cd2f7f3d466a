"""``fmd checkpoint create|list|verify|retention``: restore points from the command line.

Example:
    >>> # fmd checkpoint create bronze.* --kind Manual --lakehouse ./lakehouse
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fmd_runtime.checkpoints import render_pins, render_table
from fmd_runtime.cli._args import (
    add_lakehouse,
    date_arg,
    number_arg,
    print_json,
    runtime_from,
    table_arg,
    table_pattern_arg,
)
from fmd_runtime.config import CHECKPOINT_KINDS, MAX_LOAD_WAIT_SECONDS, MAX_RETENTION_DAYS


def _cli_create(args: argparse.Namespace) -> int:
    rt = runtime_from(args)
    cp = rt.checkpoints.create(
        args.tables or None,
        kind=args.kind,
        name=args.name,
        notes=args.notes,
        retention_days=args.retention_days,
        protect_retention=not args.no_protect_retention,
        raise_on_failure=True,
        batch_id=args.batch_id,
        wait_for_loads_seconds=args.wait_for_loads_seconds,
    )
    rt.close()
    assert cp is not None  # raise_on_failure=True: a checkpoint or an error, never None
    if args.json:
        print_json(cp)
    else:
        print(render_table([cp]))
        for t in cp.tables:
            mark = "" if t.validation_status == "Validated" else f"  FAILED: {t.validation_message}"
            print(f"  {t.table}@v{t.version}  rows {t.total_rows}  ({t.count_source}){mark}")
    return 0 if cp.validation_status == "Validated" else 1


def _cli_list(args: argparse.Namespace) -> int:
    rt = runtime_from(args)
    cps = rt.checkpoints.list(
        active_only=not args.all, kind=args.kind, table=args.table, since=args.since
    )
    if args.json:
        print_json([c.model_dump(mode="json") for c in cps])
    else:
        print(render_table(cps))
        if args.tables:
            for c in cps:
                print(render_pins(c))
    return 0


def _cli_verify(args: argparse.Namespace) -> int:
    if not args.name and not args.all:
        print("fmd: error: checkpoint verify: give a checkpoint NAME or --all", file=sys.stderr)
        return 2
    rt = runtime_from(args)
    results = rt.checkpoints.verify_all() if args.all else [rt.checkpoints.verify(args.name)]
    rt.close()
    if args.json:
        print_json([r.model_dump(mode="json") for r in results])
    else:
        print("\n".join(r.to_text() for r in results) if results else "no active checkpoints")
    return 1 if any(r.status == "Unrestorable" for r in results) else 0


def _cli_retention(args: argparse.Namespace) -> int:
    rt = runtime_from(args)
    res = rt.checkpoints.enforce_retention(dry_run=not args.apply)
    rt.close()
    print_json(res) if args.json else print(res.to_text())
    return 0


def register(sub: Any) -> None:
    """Add ``fmd checkpoint create|list|verify|retention`` to the ``fmd`` command."""
    p = sub.add_parser("checkpoint", help="checkpoints: create, list, verify, enforce retention")
    acts = p.add_subparsers(dest="checkpoint_action", metavar="ACTION", required=True)
    c = acts.add_parser("create", help="checkpoint tables (exit 1 when validation failed)")
    c.add_argument(
        "tables",
        nargs="*",
        type=table_pattern_arg,
        help="schema.table or schema.* (default: PipelineConfig's enabled tables)",
    )
    c.add_argument("--kind", default="Manual", choices=CHECKPOINT_KINDS)
    c.add_argument("--name", help="name (default: the kind's pattern, e.g. bronze_manual_<date>)")
    c.add_argument("--notes")
    c.add_argument(
        "--retention-days",
        type=number_arg("retention_days", minimum=1, maximum=MAX_RETENTION_DAYS, unit="days"),
        help=f"keep it active this many days (1 to {MAX_RETENTION_DAYS:,})",
    )
    c.add_argument(
        "--no-protect-retention",
        action="store_true",
        help="do not raise the tables' retention properties (recorded AtRisk)",
    )
    c.add_argument(
        "--batch-id",
        help="the batch whose loads it waits for (DailyBatch: the pipeline run id by default)",
    )
    c.add_argument(
        "--wait-for-loads-seconds",
        type=number_arg(
            "wait_for_loads_seconds", minimum=0, maximum=MAX_LOAD_WAIT_SECONDS, unit="seconds"
        ),
        help=f"wait this long for the batch's loads in flight (0 to {MAX_LOAD_WAIT_SECONDS:,}; "
        "default: the config's checkpoint_load_wait_seconds)",
    )
    c.set_defaults(func=_cli_create)
    ls = acts.add_parser("list", help="list checkpoints, newest first")
    ls.add_argument("--all", action="store_true", help="include inactive (expired) ones")
    ls.add_argument("--kind", choices=CHECKPOINT_KINDS)
    ls.add_argument("--table", type=table_arg, help="only checkpoints covering this table")
    ls.add_argument(
        "--since", type=date_arg, help="only those created on or after this date (YYYY-MM-DD)"
    )
    ls.add_argument(
        "--tables",
        action="store_true",
        help="also each checkpoint's pinned versions and the load each reflects",
    )
    ls.set_defaults(func=_cli_list)
    v = acts.add_parser("verify", help="check restorability (exit 1 when Unrestorable)")
    v.add_argument("name", nargs="?", help="checkpoint name or id")
    v.add_argument("--all", action="store_true", help="verify every active checkpoint")
    v.set_defaults(func=_cli_verify)
    r = acts.add_parser("retention", help="deactivate expired checkpoints (dry run by default)")
    r.add_argument("--apply", action="store_true", help="apply (default: dry run)")
    r.set_defaults(func=_cli_retention)
    for parser in (c, ls, v, r):
        parser.add_argument("--json", action="store_true", help="print JSON")
        add_lakehouse(parser)


__all__ = ["register"]
