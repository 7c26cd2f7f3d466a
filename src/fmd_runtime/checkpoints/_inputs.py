"""The checks of the checkpoint methods' arguments, and the scope a ``tables`` argument names.

Invalid arguments are the caller's bug, refused for every kind before anything is read or
written (even the Daily kinds, which never fail the caller on a runtime failure). The checks are
kept together, apart from the phases, so each message has one wording, and parsing a scope
(``"bronze.*"``, a list, a comma-separated string) is pure: nothing is read to refuse it.

Example:
    >>> scope_text("bronze.b, bronze.a")
    'bronze.a,bronze.b'
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, cast

from fmd_runtime._base import as_utc
from fmd_runtime.config import CHECKPOINT_KINDS, MAX_LOAD_WAIT_SECONDS, check_number
from fmd_runtime.errors import ConfigError
from fmd_runtime.tables import TableRef, validate_identifier

from ._models import CheckpointKind

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}")


def shown(value: Any) -> str:
    """``value`` as an error message shows it: its repr (cut at 60 characters) and its type."""
    text = repr(value)
    return (text if len(text) <= 60 else text[:57] + "...") + f" ({type(value).__name__})"


def check_kind(kind: Any) -> CheckpointKind:
    """``kind`` when it is one of `CHECKPOINT_KINDS`.

    Raises:
        ConfigError: it is not.
    """
    if kind not in CHECKPOINT_KINDS:
        raise ConfigError(
            f"parameter 'kind': checkpoint kind {shown(kind)} is not valid",
            hint=f"use one of {', '.join(CHECKPOINT_KINDS)}",
        )
    return cast(CheckpointKind, str(kind))


def check_name(name: Any) -> None:
    """Refuse a checkpoint name that is not letters, digits, ``_ . : -`` (at most 128)."""
    if name is not None and (not isinstance(name, str) or not _NAME.fullmatch(name)):
        raise ConfigError(
            f"parameter 'name': checkpoint name {shown(name)} is not valid",
            hint="use letters, digits, _ . : - (at most 128 characters, starting with a "
            "letter or digit)",
        )


def check_text(value: Any, parameter: str, longest: int) -> None:
    """Refuse ``value`` unless it is None or text of at most ``longest`` characters."""
    if value is not None and (not isinstance(value, str) or len(value) > longest):
        raise ConfigError(
            f"parameter {parameter!r} must be text of at most {longest} characters, got "
            f"{shown(value)}",
            hint=f"pass {parameter}='...' or leave it out",
        )


def check_wait(rt: Runtime, seconds: Any) -> float:
    """How long a batch checkpoint waits for loads in flight (None: the config's)."""
    if seconds is None:
        return float(rt.config.checkpoint_load_wait_seconds)
    return float(
        check_number(
            seconds,
            "wait_for_loads_seconds",
            minimum=0,
            maximum=MAX_LOAD_WAIT_SECONDS,
            unit="seconds",
        )
    )


def check_since(value: Any) -> datetime | date | None:
    """``since`` as a datetime or date (``YYYY-MM-DD`` text is a date)."""
    if value is None or isinstance(value, datetime | date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(
        f"parameter 'since' must be a date or datetime, got {shown(value)}",
        hint="pass since=date(2025, 1, 15) or since='2025-01-15'",
    )


def check_today(value: Any) -> date | None:
    """``today`` of retention enforcement: a date (a datetime is taken as its UTC date)."""
    if value is not None and not isinstance(value, date):
        raise ConfigError(
            f"parameter 'today' must be a date, got {shown(value)}",
            hint="pass today=date(2025, 1, 15), or leave it out for today (UTC)",
        )
    return as_utc(value).date() if isinstance(value, datetime) else value


def check_name_or_id(value: Any) -> str:
    """A checkpoint name or id, stripped."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            f"parameter 'name_or_id' must be a checkpoint name or id, got {shown(value)}",
            hint="list them with rt.checkpoints.list() or `fmd checkpoint list`",
        )
    return value.strip()


def scope_items(rt: Runtime, tables: Any) -> list[TableRef | str | None]:
    """The scope as parsed items (pure: nothing read): a `TableRef` per named table, the
    lower-case schema/layer of each ``schema.*``, or None for every enabled table.

    Raises:
        ConfigError: ``tables`` is not None, a name, a comma-separated string or a list of
            names, or holds no name at all.
        InvalidIdentifierError: a name is not a table of the connected lakehouse.
    """
    if tables is None:
        return [None]
    if isinstance(tables, str):
        raw: list[Any] = tables.split(",")
    elif isinstance(tables, TableRef):
        raw = [tables]
    elif isinstance(tables, list | tuple | set | frozenset):
        raw = list(tables)
    else:
        raise ConfigError(
            f"parameter 'tables' must be table names, got {shown(tables)}",
            hint="pass ['bronze.account', 'bronze.contact'], 'bronze.account,bronze.contact', "
            "'bronze.*', or None for every enabled table in PipelineConfig",
        )
    items: list[TableRef | str | None] = []
    for item in raw:
        if isinstance(item, str) and not item.strip():
            continue
        if isinstance(item, str) and item.strip().endswith(".*"):
            group = item.strip()[:-2]
            validate_identifier(group, what="schema or layer of 'tables'")
            items.append(group.lower())
        else:
            items.append(rt.table(item, parameter="tables"))
    if not items:
        raise ConfigError(
            f"parameter 'tables' names no table ({shown(tables)})",
            hint="pass table names or 'schema.*', or None for every enabled table in "
            "PipelineConfig",
        )
    return items


def scope_text(tables: Any) -> str:
    """The scope as audited and stored (``Scope``): sorted lower-case names, or PipelineConfig."""
    if tables is None:
        return "PipelineConfig"
    if isinstance(tables, str):
        tables = [t for t in tables.split(",") if t.strip()]
    if isinstance(tables, TableRef):
        tables = [tables]
    return ",".join(sorted(str(getattr(t, "name", t)).strip().lower() for t in tables))


__all__ = [
    "check_kind",
    "check_name",
    "check_name_or_id",
    "check_since",
    "check_text",
    "check_today",
    "check_wait",
    "scope_items",
    "scope_text",
]
