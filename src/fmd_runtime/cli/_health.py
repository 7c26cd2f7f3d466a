"""``fmd health``: the daily platform health report on a local lakehouse.

Example:
    >>> # fmd health --lakehouse ./lakehouse --format html --output health.html
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fmd_runtime.cli._args import add_lakehouse, number_arg, runtime_from, table_list_arg
from fmd_runtime.health import MAX_SINCE_HOURS

FORMATS = ("text", "json", "html")


def _cli(args: argparse.Namespace) -> int:
    rt = runtime_from(args)
    report = rt.health.report(
        since_hours=args.since_hours,
        tables=args.tables or None,
        write=not args.no_write,
        alert=not args.no_alert,
        verify=args.verify,
    )
    rt.close()
    text = {
        "text": report.to_text,
        "json": report.to_json,
        "html": report.to_html,
    }[args.format]()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"{report.headline()}\nwritten to {args.output}")
    else:
        print(text)
    return 1 if report.status == "Unhealthy" else 0


def register(sub: Any) -> None:
    """Add ``fmd health [--since-hours N] [--tables a,b] [--format F] [--output FILE]``."""
    p = sub.add_parser(
        "health",
        help="the daily platform health report (exit 1 when Unhealthy)",
    )
    p.add_argument(
        "--since-hours",
        type=number_arg("since_hours", minimum=1, maximum=MAX_SINCE_HOURS, unit="hours"),
        default=24,
        help=f"the window judged (1 to {MAX_SINCE_HOURS} hours, default 24)",
    )
    p.add_argument(
        "--tables",
        type=table_list_arg(),
        help="comma-separated schema.table (default: every enabled and checkpointed table)",
    )
    p.add_argument("--format", choices=FORMATS, default="text", help="what to print")
    p.add_argument("--output", help="write the rendering to this file instead of printing it")
    p.add_argument(
        "--no-write",
        action="store_true",
        help="write neither the page under Files/fmd/health/ nor HealthFindings rows",
    )
    p.add_argument("--no-alert", action="store_true", help="raise no alert when Unhealthy")
    p.add_argument(
        "--verify",
        action="store_true",
        help="verify each scope's newest restore target now (slower)",
    )
    add_lakehouse(p)
    p.set_defaults(func=_cli)


__all__ = ["FORMATS", "register"]
