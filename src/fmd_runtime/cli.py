"""The ``fmd`` command: the library's jobs on a local lakehouse folder (embedded engine).

    fmd demo [--lakehouse PATH]          build the demo lakehouse and run a simulated sync
    fmd store ensure --lakehouse PATH    create / upgrade the metadata tables
    fmd store ddl                        print the Spark SQL DDL of the metadata tables
    fmd config show TABLE --lakehouse P  show a table's PipelineConfig with defaults

Capabilities add their own subcommands through `COMMANDS` (checkpoint, rollback, maintenance ...).

Only ``fmd store ensure`` and ``fmd demo`` create a lakehouse; every other command refuses a
``--lakehouse`` folder that is not one (no ``Tables/<metadata schema>/`` metadata tables), so a
mistyped path is an error rather than an empty answer.

Exit codes: 0 success, 1 the job reported failure, 2 bad usage or a refused request (an
`FmdError`: ``fmd: error: ...`` on stderr), 130 interrupted (Ctrl-C), 141 stdout was closed
early (``fmd ... | head``: the reader left; 128 + SIGPIPE, what shells report for other tools).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from fmd_runtime.errors import ConfigError, FmdError

DEFAULT_LAKEHOUSE = "./.fmd-demo"

EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
"""Exit code when the reader of stdout went away (128 + SIGPIPE, as ``yes | head`` reports)."""


# -- option types: a bad value is an argparse usage error (exit 2) naming the option ---------------
def _usage(exc: FmdError) -> argparse.ArgumentTypeError:
    """The error's text for argparse, which prefixes ``argument --option:``."""
    text = exc.message if not exc.hint else f"{exc.message.rstrip('.')}; {exc.hint}"
    return argparse.ArgumentTypeError(text)


def lakehouse_arg(text: str) -> str:
    """``--lakehouse``: a non-empty folder path or URL (an empty one would mean ``/Tables``).

    Example:
        >>> lakehouse_arg("./lh")
        './lh'
    """
    if not text.strip():
        raise argparse.ArgumentTypeError(
            f"empty path {text!r}; give the lakehouse folder, e.g. --lakehouse ./lakehouse"
        )
    return text


def identifier_arg(text: str) -> str:
    """A schema name (``--metadata-schema``): a plain identifier.

    Example:
        >>> identifier_arg("metadata")
        'metadata'
    """
    from fmd_runtime.tables import validate_identifier

    try:
        return validate_identifier(text, what="schema")
    except FmdError as exc:
        raise _usage(exc) from None


def date_arg(text: str) -> date:
    """A calendar date ``YYYY-MM-DD`` (``--since``).

    Example:
        >>> date_arg("2025-01-15")
        datetime.date(2025, 1, 15)
    """
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date; use YYYY-MM-DD, e.g. 2025-01-15"
        ) from None


def number_arg(parameter: str, *, minimum: int, maximum: int, unit: str) -> Callable[[str], int]:
    """A whole-number option with documented bounds (checked by `config.check_number`).

    Example:
        >>> number_arg("retention_days", minimum=1, maximum=3650, unit="days")("7")
        7
    """
    from fmd_runtime.config import check_number

    def parse(text: str) -> int:
        try:
            return int(
                check_number(
                    text, parameter, minimum=minimum, maximum=maximum, unit=unit, integer=True
                )
            )
        except FmdError as exc:
            raise _usage(exc) from None

    parse.__name__ = parameter  # argparse names the type in some messages
    return parse


def table_arg(text: str) -> str:
    """One table name (``schema.table``), validated; returned as typed.

    Example:
        >>> table_arg("bronze.account")
        'bronze.account'
    """
    from fmd_runtime.tables import TableRef

    try:
        TableRef.parse(text)
    except FmdError as exc:
        raise _usage(exc) from None
    return text.strip()


def table_list_arg(*, allow_all: bool = False) -> Callable[[str], str]:
    """A comma-separated list of table names (``--tables a,b``), each validated.

    Returns the text as typed (the capabilities parse it); ``allow_all`` also accepts ``All``.

    Example:
        >>> table_list_arg()("bronze.a, bronze.b")
        'bronze.a, bronze.b'
    """
    from fmd_runtime.tables import TableRef

    def parse(text: str) -> str:
        if allow_all and text.strip().lower() == "all":
            return text.strip()
        names = [t.strip() for t in text.split(",") if t.strip()]
        if not names:
            raise argparse.ArgumentTypeError(
                f"{text!r} names no table; give schema.table names separated by commas"
            )
        for name in names:
            try:
                TableRef.parse(name)
            except FmdError as exc:
                raise _usage(exc) from None
        return text.strip()

    parse.__name__ = "tables"
    return parse


def table_pattern_arg(text: str) -> str:
    """A table name or a whole schema (``schema.*``), validated.

    Example:
        >>> table_pattern_arg("bronze.*")
        'bronze.*'
    """
    from fmd_runtime.tables import validate_identifier

    if text.strip().endswith(".*"):
        try:
            validate_identifier(text.strip()[:-2], what="schema")
        except FmdError as exc:
            raise _usage(exc) from None
        return text.strip()
    return table_arg(text)


def choice_arg(values: Sequence[str], what: str) -> Callable[[str], str]:
    """One of ``values``, any case, returned in its canonical spelling (``--kind dailybatch``).

    Example:
        >>> choice_arg(["DailyBatch", "Manual"], "checkpoint type")("dailybatch")
        'DailyBatch'
    """
    canonical = {v.lower(): v for v in values}

    def parse(text: str) -> str:
        try:
            return canonical[text.strip().lower()]
        except KeyError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a {what}; use one of {', '.join(values)}"
            ) from None

    parse.__name__ = what
    return parse


def zone_arg(text: str) -> str:
    """An IANA time zone name (``--source-tz Europe/Amsterdam``).

    Example:
        >>> zone_arg("UTC")
        'UTC'
    """
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(text.strip())
    except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an IANA time zone; use a name like Europe/Amsterdam or UTC"
        ) from None
    return text.strip()


# -- lakehouse folders ---------------------------------------------------------------------------
def is_lakehouse(lakehouse: str | Path, metadata_schema: str = "metadata") -> bool:
    """True when ``lakehouse`` holds the metadata tables (``Tables/<schema>/<table>/_delta_log``).

    Object-store URLs are not checked (True): only a local folder can be looked at cheaply.

    Example:
        >>> import tempfile; is_lakehouse(tempfile.mkdtemp())
        False
    """
    from fmd_runtime.store.schemas import ALL_TABLES
    from fmd_runtime.tables import TableRef

    if "://" in str(lakehouse):
        return True
    return any(
        Path(
            TableRef(schema_name=metadata_schema, table=t.name).path(lakehouse), "_delta_log"
        ).is_dir()
        for t in ALL_TABLES
    )


def require_lakehouse(lakehouse: str | Path, metadata_schema: str = "metadata") -> None:
    """Refuse a folder that is not a lakehouse, before anything is written in it.

    Raises:
        ConfigError: the path is empty, missing, not a folder, or has no metadata tables; the
            message says how to create a lakehouse.
    """
    text = str(lakehouse)
    how = (
        f"check the path; to set up a lakehouse there run `fmd store ensure --lakehouse {text}` "
        f"(empty metadata tables) or `fmd demo --lakehouse {text}` (demo data)"
    )
    if not text.strip():
        raise ConfigError(f"parameter 'lakehouse' is empty ({text!r})", hint=how)
    if "://" in text:
        return
    path = Path(text)
    if not path.exists():
        raise ConfigError(f"parameter 'lakehouse': the folder {text!r} does not exist", hint=how)
    if not path.is_dir():
        raise ConfigError(
            f"parameter 'lakehouse': {text!r} is a file, not a folder",
            hint="pass the lakehouse folder (the one that holds Tables/)",
        )
    if not is_lakehouse(path, metadata_schema):
        raise ConfigError(
            f"parameter 'lakehouse': {text!r} is not a lakehouse "
            f"(no metadata tables under Tables/{metadata_schema}/)",
            hint=how,
        )


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
        type=lakehouse_arg,
        help=f"lakehouse folder (default {DEFAULT_LAKEHOUSE})",
    )
    parser.add_argument(
        "--metadata-schema",
        default="metadata",
        type=identifier_arg,
        help="schema of the metadata tables",
    )


def runtime_from(args: argparse.Namespace, *, setup: bool = False, **kwargs: Any) -> Any:
    """Connect to the lakehouse named by the parsed arguments.

    Args:
        args: the parsed arguments (``lakehouse``, ``metadata_schema``).
        setup: explicit set-up (``fmd store ensure``): create the folder and the metadata tables.
            Otherwise the folder must already be a lakehouse (`require_lakehouse`).
        **kwargs: further `connect` arguments (``run_id`` ...).

    Raises:
        ConfigError: not a lakehouse (without ``setup``), or an invalid path.
    """
    from fmd_runtime.runtime import connect

    if not setup:
        require_lakehouse(args.lakehouse, args.metadata_schema)
    return connect(
        lakehouse=args.lakehouse,
        metadata_schema=args.metadata_schema,
        triggered_by="cli",
        create=setup,
        **kwargs,
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
