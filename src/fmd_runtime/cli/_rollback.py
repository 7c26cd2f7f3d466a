"""``fmd rollback plan|execute``: roll tables back to a checkpoint from the command line.

Example:
    >>> # fmd rollback plan bronze_manual --lakehouse ./lakehouse
"""

from __future__ import annotations

import argparse
from typing import Any

from fmd_runtime.cli._args import (
    add_lakehouse,
    choice_arg,
    print_json,
    runtime_from,
    table_list_arg,
)
from fmd_runtime.config import CHECKPOINT_KINDS
from fmd_runtime.progress import progress_display
from fmd_runtime.runtime import Runtime


def _cli_plan(args: argparse.Namespace) -> int:
    rt = _cli_runtime(args)
    plan = rt.rollback.plan(args.checkpoint, args.tables or "All", kind=args.kind)
    rt.close()
    print_json(plan) if args.json else print(plan.to_text())
    return 0


def _cli_execute(args: argparse.Namespace) -> int:
    rt = _cli_runtime(args)
    plan = rt.rollback.plan(
        args.checkpoint, args.tables or "All", kind=args.kind, require_approval=not args.no_approval
    )
    result = rt.rollback.execute(plan, args.token, reason=args.reason, progress=progress_display())
    rt.close()
    print_json(result) if args.json else print(result.to_text())
    return 0 if result.status == "Succeeded" else 1


def _cli_runtime(args: argparse.Namespace) -> Runtime:
    # through cli.runtime_from: a folder that is not a lakehouse is refused, never created
    rt: Runtime = runtime_from(args, run_id=getattr(args, "resume", None) or None)
    return rt


def register(sub: Any) -> None:
    """Add ``fmd rollback plan|execute`` to the ``fmd`` command.

    ``fmd rollback plan CHECKPOINT [--tables a,b]`` prints the impact report and the approval
    token; ``fmd rollback execute CHECKPOINT --token T --reason R`` executes (exit 1 unless it
    Succeeded, 2 when refused); ``--resume RUN_ID`` resumes a partially failed rollback.
    """
    p = sub.add_parser("rollback", help="roll tables back to a checkpoint: plan, then execute")
    acts = p.add_subparsers(dest="rollback_action", metavar="ACTION", required=True)
    pl = acts.add_parser("plan", help="validate and print the impact report (changes nothing)")
    ex = acts.add_parser("execute", help="execute an approved rollback (exit 1 unless Succeeded)")
    for parser in (pl, ex):
        parser.add_argument("checkpoint", help="checkpoint name or id ('latest': newest of --kind)")
        parser.add_argument(
            "--tables",
            type=table_list_arg(allow_all=True),
            help="comma-separated subset (default: All)",
        )
        parser.add_argument(
            "--kind",
            type=choice_arg(CHECKPOINT_KINDS, "checkpoint type"),
            help="expected checkpoint type (DailyBatch, PrePurge ...)",
        )
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.add_argument(
            "--resume", metavar="RUN_ID", help="run as this rollback run id (resume it)"
        )
        add_lakehouse(parser)
    ex.add_argument("--token", help="the approval token printed by `fmd rollback plan`")
    ex.add_argument("--reason", required=True, help="why (recorded in the audit log)")
    ex.add_argument("--no-approval", action="store_true", help="do not require the token")
    pl.set_defaults(func=_cli_plan)
    ex.set_defaults(func=_cli_execute)


__all__ = ["register"]
