"""The ``fmd`` command's shared parts: option types (a bad value is a usage error naming the
option), the ``--lakehouse`` options, connecting to a lakehouse folder and JSON output.

Every subcommand module of `fmd_runtime.cli` builds on these, so each option is checked one way.

Example:
    >>> number_arg("retention_days", minimum=1, maximum=3650, unit="days")("7")
    7
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fmd_runtime.config import check_number
from fmd_runtime.errors import ConfigError, FmdError
from fmd_runtime.runtime import Runtime, connect
from fmd_runtime.store.schemas import ALL_TABLES
from fmd_runtime.tables import TableRef, validate_identifier

DEFAULT_LAKEHOUSE = "./.fmd-demo"


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


def runtime_from(args: argparse.Namespace, *, setup: bool = False, **kwargs: Any) -> Runtime:
    """Connect to the lakehouse named by the parsed arguments.

    Args:
        args: the parsed arguments (``lakehouse``, ``metadata_schema``).
        setup: explicit set-up (``fmd store ensure``): create the folder and the metadata tables.
            Otherwise the folder must already be a lakehouse (`require_lakehouse`).
        **kwargs: further `connect` arguments (``run_id`` ...).

    Raises:
        ConfigError: not a lakehouse (without ``setup``), or an invalid path.
    """
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


__all__ = [
    "DEFAULT_LAKEHOUSE",
    "add_lakehouse",
    "choice_arg",
    "date_arg",
    "identifier_arg",
    "is_lakehouse",
    "lakehouse_arg",
    "number_arg",
    "print_json",
    "require_lakehouse",
    "runtime_from",
    "table_arg",
    "table_list_arg",
    "table_pattern_arg",
    "zone_arg",
]
