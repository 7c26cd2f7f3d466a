"""``fmd demo``, ``fmd store ensure|ddl`` and ``fmd config show``: the foundation subcommands.

Example:
    >>> # fmd store ensure --lakehouse ./lakehouse
"""

from __future__ import annotations

import argparse
from typing import Any

from fmd_runtime.cli._args import (
    DEFAULT_LAKEHOUSE,
    add_lakehouse,
    lakehouse_arg,
    print_json,
    runtime_from,
    table_arg,
)
from fmd_runtime.demo import run_demo
from fmd_runtime.store.ddl import render_ddl


def _demo(args: argparse.Namespace) -> int:
    run_demo(args.lakehouse)
    return 0


def _store(args: argparse.Namespace) -> int:
    if args.action == "ddl":
        print(render_ddl(args.metadata_schema), end="")
        return 0
    # explicit set-up: the one command (besides the demo) that may create a lakehouse folder
    rt = runtime_from(args, setup=True, ensure=False)
    changed = rt.store.ensure()
    print(
        f"metadata tables ready in schema {rt.config.metadata_schema!r} of {args.lakehouse}; "
        f"created/upgraded: {', '.join(changed) or 'none'}"
    )
    return 0


def _config(args: argparse.Namespace) -> int:
    rt = runtime_from(args)
    print_json(rt.table_config(args.table))
    return 0


def register(sub: Any) -> None:
    """Register the foundation subcommands (demo, store, config)."""
    p = sub.add_parser("demo", help="build the demo lakehouse and run a simulated daily sync")
    p.add_argument(
        "--lakehouse",
        default=DEFAULT_LAKEHOUSE,
        type=lakehouse_arg,
        help=f"a new or empty folder, or one an earlier `fmd demo` made (default {DEFAULT_LAKEHOUSE})",
    )
    p.set_defaults(func=_demo)

    p = sub.add_parser(
        "store",
        help="metadata tables: ensure (create the lakehouse / upgrade its tables) or print DDL",
    )
    p.add_argument("action", choices=["ensure", "ddl"])
    add_lakehouse(p)
    p.set_defaults(func=_store)

    p = sub.add_parser("config", help="show a table's PipelineConfig (defaults filled in)")
    p.add_argument("action", choices=["show"])
    p.add_argument("table", type=table_arg, help="schema.table")
    add_lakehouse(p)
    p.set_defaults(func=_config)


__all__ = ["register"]
