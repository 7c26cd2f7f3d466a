"""The ``fmd`` command: the library's jobs on a local lakehouse folder (embedded engine).

    fmd demo [--lakehouse PATH]          build the demo lakehouse and run a simulated sync
    fmd store ensure --lakehouse PATH    create / upgrade the metadata tables
    fmd store ddl                        print the Spark SQL DDL of the metadata tables
    fmd config show TABLE --lakehouse P  show a table's PipelineConfig with defaults

Capabilities add their own subcommands through `COMMANDS` (checkpoint, rollback, maintenance ...).
Exit codes: 0 success, 1 the job reported failure, 2 bad usage or a refused request.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from fmd_runtime.errors import FmdError

DEFAULT_LAKEHOUSE = "./.fmd-demo"

# Modules whose ``register(subparsers)`` adds subcommands, in the order `fmd --help` lists them.
COMMANDS: list[str] = [
    "fmd_runtime.cli",
    "fmd_runtime.checkpoints",
    "fmd_runtime.rollback",
    "fmd_runtime.maintenance",
    "fmd_runtime.watermarks",
]


def add_lakehouse(parser: argparse.ArgumentParser) -> None:
    """Add the common ``--lakehouse`` / ``--metadata-schema`` options to a subcommand."""
    parser.add_argument(
        "--lakehouse",
        default=DEFAULT_LAKEHOUSE,
        help=f"lakehouse folder (default {DEFAULT_LAKEHOUSE})",
    )
    parser.add_argument(
        "--metadata-schema", default="metadata", help="schema of the metadata tables"
    )


def runtime_from(args: argparse.Namespace) -> Any:
    """Connect to the lakehouse named by the parsed arguments."""
    from fmd_runtime.runtime import connect

    return connect(
        lakehouse=args.lakehouse, metadata_schema=args.metadata_schema, triggered_by="cli"
    )


def print_json(value: Any) -> None:
    """Print a JSON-able value (or pydantic model) as indented JSON."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    print(json.dumps(value, indent=2, default=str, sort_keys=True))


def _demo(args: argparse.Namespace) -> int:
    from fmd_runtime.demo import run_demo

    run_demo(args.lakehouse)
    return 0


def _store(args: argparse.Namespace) -> int:
    if args.action == "ddl":
        from fmd_runtime.store.ddl import render_ddl

        print(render_ddl(args.metadata_schema), end="")
        return 0
    rt = runtime_from(args)
    changed = rt.store.ensure()
    print(
        f"metadata tables ready in schema {rt.config.metadata_schema!r}; created/upgraded: {changed or 'none'}"
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
        "--lakehouse", default=DEFAULT_LAKEHOUSE, help=f"folder (default {DEFAULT_LAKEHOUSE})"
    )
    p.set_defaults(func=_demo)

    p = sub.add_parser("store", help="metadata tables: ensure (create/upgrade) or print DDL")
    p.add_argument("action", choices=["ensure", "ddl"])
    add_lakehouse(p)
    p.set_defaults(func=_store)

    p = sub.add_parser("config", help="show a table's PipelineConfig (defaults filled in)")
    p.add_argument("action", choices=["show"])
    p.add_argument("table", help="schema.table")
    add_lakehouse(p)
    p.set_defaults(func=_config)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (every capability's subcommands)."""
    parser = argparse.ArgumentParser(
        prog="fmd", description="fmd_runtime jobs on a local lakehouse folder (delta-rs engine)."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a real missing dependency inside the module: surface it
                raise
            continue  # capability not part of this build
        if hasattr(mod, "register"):
            mod.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fmd`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return func(args)
    except FmdError as exc:
        print(f"fmd: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
