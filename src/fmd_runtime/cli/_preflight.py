"""``fmd preflight``: check a lakehouse before a job runs (read-only); exit 1 on blocking findings.

Example:
    >>> # fmd preflight --lakehouse ./lakehouse --format html --output preflight.html
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fmd_runtime.cli._args import add_lakehouse, runtime_from, table_list_arg

_FORMATS = ("text", "json", "html")


def _cli_preflight(args: argparse.Namespace) -> int:
    # ensure=False: a missing metadata table is a finding to report, not something to create
    rt = runtime_from(args, ensure=False)
    report = rt.preflight(tables=args.tables, require_alerts=args.require_alerts)
    rt.close()
    text = {"text": report.to_text, "json": report.to_json, "html": report.to_html}[args.format]()
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
        print(report.summary())
        print(f"report written to {args.output}")
    else:
        print(text)
    return 0 if report.ok else 1


def register(sub: Any) -> None:
    """Add ``fmd preflight`` to the ``fmd`` command."""
    p = sub.add_parser(
        "preflight",
        help="check a lakehouse before a job runs (read-only; exit 1 on blocking findings)",
    )
    p.add_argument(
        "--tables",
        type=table_list_arg(allow_all=True),
        help="only these tables (comma-separated; default: every enabled PipelineConfig table)",
    )
    p.add_argument("--format", choices=_FORMATS, default="text", help="report format")
    p.add_argument("--output", help="write the report to this file (the summary is printed)")
    p.add_argument(
        "--require-alerts",
        action="store_true",
        help="a missing alert webhook is a blocking finding",
    )
    add_lakehouse(p)
    p.set_defaults(func=_cli_preflight)


__all__ = ["register"]
