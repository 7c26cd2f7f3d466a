"""The ``fmd`` command: the library's jobs on a local lakehouse folder (embedded engine).

    fmd demo [--lakehouse PATH]          build the demo lakehouse and run a simulated sync
    fmd store ensure --lakehouse PATH    create / upgrade the metadata tables
    fmd store ddl                        print the Spark SQL DDL of the metadata tables
    fmd config show TABLE --lakehouse P  show a table's PipelineConfig with defaults
    fmd health --lakehouse PATH          the daily health report (exit 1 when Unhealthy)
    fmd preflight --lakehouse PATH       check the lakehouse before a job (exit 1: blocking)
    fmd circuit status|reset SOURCE      the source circuit breakers (exit 1: one is open)

Each subcommand lives in a module of this package (``_store``, ``_checkpoint``, ``_rollback``,
``_maintenance``, ``_watermarks``, ``_preflight``, ``_health``, ``_circuit``) built on the shared option types of ``_args``; the capabilities
themselves know nothing of the command line.

Only ``fmd store ensure`` and ``fmd demo`` create a lakehouse; every other command refuses a
``--lakehouse`` folder that is not one (no ``Tables/<metadata schema>/`` metadata tables), so a
mistyped path is an error rather than an empty answer.

Exit codes: 0 success, 1 the job reported failure, 2 bad usage or a refused request (an
`FmdError`: ``fmd: error: ...`` on stderr), 130 interrupted (Ctrl-C), 141 stdout was closed
early (``fmd ... | head``: the reader left; 128 + SIGPIPE, what shells report for other tools).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from fmd_runtime.cli import (
    _checkpoint,
    _circuit,
    _health,
    _maintenance,
    _preflight,
    _rollback,
    _store,
    _watermarks,
)
from fmd_runtime.cli._args import (
    DEFAULT_LAKEHOUSE,
    is_lakehouse,
    print_json,
    require_lakehouse,
    runtime_from,
)
from fmd_runtime.errors import FmdError

EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
"""Exit code when the reader of stdout went away (128 + SIGPIPE, as ``yes | head`` reports)."""

# Each subcommand module's ``register(subparsers)``, in the order `fmd --help` lists them.
COMMANDS: tuple[Callable[[Any], None], ...] = (
    _store.register,
    _checkpoint.register,
    _rollback.register,
    _maintenance.register,
    _watermarks.register,
    _preflight.register,
    _health.register,
    _circuit.register,
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (every capability's subcommands)."""
    parser = argparse.ArgumentParser(
        prog="fmd", description="fmd_runtime jobs on a local lakehouse folder (delta-rs engine)."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in COMMANDS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fmd`` console script; returns the exit code.

    Bad usage (argparse, including every option's ``type=`` check) and any `FmdError` end in
    exit 2 with one ``fmd: error: ...`` line on stderr; anything else is a bug and keeps its
    traceback. A reader that closes stdout early (``fmd maintenance --json | head``) ends the
    command quietly with exit 141 (`EXIT_BROKEN_PIPE`), Ctrl-C with 130.

    Example:
        >>> # sys.exit(main(["checkpoint", "list", "--lakehouse", "./lakehouse"]))
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        code = func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except FmdError as exc:
        print(f"fmd: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print("fmd: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot raise again.

    The usual recipe (Python docs, "Note on SIGPIPE"): without it Python prints "Exception
    ignored ... BrokenPipeError" at exit.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout has no file descriptor (captured): nothing to flush
        pass


__all__ = [
    "COMMANDS",
    "DEFAULT_LAKEHOUSE",
    "EXIT_BROKEN_PIPE",
    "EXIT_INTERRUPTED",
    "build_parser",
    "is_lakehouse",
    "main",
    "print_json",
    "require_lakehouse",
    "runtime_from",
]
