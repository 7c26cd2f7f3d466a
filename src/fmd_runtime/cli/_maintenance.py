"""``fmd maintenance``: VACUUM / OPTIMIZE that keep checkpoints restorable (dry run by default).

Example:
    >>> # fmd maintenance --execute --lakehouse ./lakehouse
"""

from __future__ import annotations

from typing import Any

from fmd_runtime.cli._args import (
    add_lakehouse,
    number_arg,
    print_json,
    runtime_from,
    table_list_arg,
)
from fmd_runtime.config import MAX_RETENTION_HOURS
from fmd_runtime.progress import progress_display


def register(sub: Any) -> None:
    """Add ``fmd maintenance [--execute] [--tables a,b] [--min-retention-hours N]`` to the CLI."""
    p = sub.add_parser(
        "maintenance",
        help="VACUUM / OPTIMIZE that keep checkpoints restorable (dry run unless --execute)",
    )
    p.add_argument(
        "--execute", action="store_true", help="really VACUUM / OPTIMIZE (default: dry run)"
    )
    p.add_argument(
        "--tables",
        type=table_list_arg(),
        help="comma-separated schema.table (default: every enabled PipelineConfig table)",
    )
    p.add_argument(
        "--min-retention-hours",
        type=number_arg(
            "min_retention_hours", minimum=0, maximum=MAX_RETENTION_HOURS, unit="hours"
        ),
        help=f"retention every table keeps at least (hours, at most {MAX_RETENTION_HOURS:,})",
    )
    meta = p.add_mutually_exclusive_group()
    meta.add_argument(
        "--no-metadata-tables", action="store_true", help="leave the metadata tables out"
    )
    meta.add_argument(
        "--metadata-tables",
        action="store_true",
        help="add the metadata tables to --tables (without --tables they are always in)",
    )
    p.add_argument(
        "--pre-checkpoint", action="store_true", help="take a PreMaintenance checkpoint first"
    )
    p.add_argument("--json", action="store_true", help="print the plan and the summary as JSON")
    add_lakehouse(p)
    p.set_defaults(func=_cli)


def _cli(args: Any) -> int:
    rt = runtime_from(args)
    # None: the metadata tables only when --tables is not given
    metadata = False if args.no_metadata_tables else (True if args.metadata_tables else None)
    say = progress_display()  # the same display as rollback: lines on stderr, a bar in notebooks
    try:
        plan = rt.maintenance.plan(
            args.tables,
            include_metadata_tables=metadata,
            min_retention_hours=args.min_retention_hours,
            progress=say,
        )
        result = rt.maintenance.run(
            plan, dry_run=not args.execute, pre_checkpoint=args.pre_checkpoint, progress=say
        )
    finally:
        rt.close()
    if args.json:
        print_json({"plan": plan.to_exit_dict(), "result": result.to_exit_dict()})
    else:
        print(plan.to_text(), result.to_text(), sep="\n\n")
    return 0 if result.status == "Succeeded" else 1


__all__ = ["register"]
