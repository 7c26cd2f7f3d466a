"""``fmd circuit status|reset``: the source circuit breakers from the command line.

``status`` prints each source's state (every source with breaker events, or the
``--source`` ones) as JSON and one line each; it exits 1 when a breaker is open or half-open.
``reset`` closes one source's breaker (``--reason`` required), as
``rt.runs.reset_circuit`` does.

Example:
    >>> # fmd circuit status --lakehouse ./lakehouse
    >>> # fmd circuit reset crm --reason "CRM back after maintenance" --lakehouse ./lakehouse
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fmd_runtime.cli._args import add_lakehouse, print_json, runtime_from


def _cli(args: argparse.Namespace) -> int:
    rt = runtime_from(args)
    try:
        if args.action == "reset":
            if not args.source or len(args.source) != 1 or not args.reason:
                print("fmd: error: reset needs one SOURCE and --reason", file=sys.stderr)
                return 2
            state = rt.runs.reset_circuit(args.source[0], reason=args.reason)
            print_json(state.model_dump(mode="json"))
            print(state.summary())
            return 0
        sources = args.source or sorted(
            {r["SourceName"] for r in rt.store.read("SourceCircuit", columns=["SourceName"])}
        )
        states = [rt.runs.circuit(s) for s in sources]
        print_json([s.model_dump(mode="json") for s in states])
        for s in states:
            print(s.summary())
        return 0 if all(s.allows for s in states) else 1
    finally:
        rt.close()


def register(sub: Any) -> None:
    """Add ``fmd circuit {status,reset}`` to the CLI."""
    p = sub.add_parser(
        "circuit", help="source circuit breakers: status (exit 1 when one is open), reset"
    )
    p.add_argument("action", choices=["status", "reset"])
    p.add_argument("source", nargs="*", help="source name(s) (reset takes one)")
    p.add_argument("--reason", default=None, help="reset: why (required, recorded)")
    add_lakehouse(p)
    p.set_defaults(func=_cli)


__all__ = ["register"]
