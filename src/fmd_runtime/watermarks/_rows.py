"""The ``metadata.Watermarks`` event table: reading an entity's state, writing events, auditing.

State lives in ``Watermarks`` as events; the latest live (not invalidated) event of one of the
`STATE_OPERATIONS` is an entity's current value. The begin/commit protocol (`_window`) and the
administrative operations (`_admin`) read and write the table the same way, so they share these
helpers: `read_rows`, `latest` and `to_state` (the current state), `new_row` (an event with its
identity and time), `resolve_kind` and `stored_value` (what the stored value means), the
plausibility check of a call, and the audit of each operation and of its refusals.

Example:
    >>> latest([{"Operation": "Commit", "Value": "1"}, {"Operation": "Begin", "Value": "1"}])
    {'Operation': 'Commit', 'Value': '1'}
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from fmd_runtime._base import as_utc
from fmd_runtime._entities import check_entity, is_live, shown
from fmd_runtime.config import strict_bool
from fmd_runtime.errors import ConfigError, WatermarkError
from fmd_runtime.store import utcnow
from fmd_runtime.watermarks._models import WatermarkState
from fmd_runtime.watermarks._values import (
    KINDS,
    WatermarkKind,
    check_kind,
    check_plausible,
    parse_watermark,
)

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

STATE_OPERATIONS: tuple[str, ...] = ("Commit", "Reset", "Recover", "Migrate", "RollbackReset")
"""Watermark events that set the current value (Begin only records an attempt)."""

Where = tuple[str | None, str | None, str | None]
"""What an audit event is about: (entity, table, layer)."""


# -- reads -----------------------------------------------------------------------------------------
def read_rows(rt: Runtime, **where: Any) -> list[dict[str, Any]]:
    """The events matching ``where`` (all without it), oldest first: the ``Watermarks`` table's
    and the watermark commits recorded on a load's ledger row (``LedgerRow`` True)."""
    rows = rt.store.read("Watermarks", where or None)
    rows += rt.runs.watermark_events(where)
    return sorted(rows, key=lambda r: as_utc(r["EventTime"]))


def latest(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The newest live state event of ``rows`` (oldest first), or None."""
    state = [r for r in rows if r["Operation"] in STATE_OPERATIONS and is_live(r)]
    return dict(state[-1]) if state else None


def to_state(row: Mapping[str, Any] | None) -> WatermarkState | None:
    """An event row as a `WatermarkState` (its kind in lower case when it is a known kind)."""
    if row is None:
        return None
    kind = str(row["Kind"]).lower() if str(row["Kind"]).lower() in KINDS else str(row["Kind"])
    return WatermarkState(
        entity=row["EntityId"],
        kind=kind,
        value=row.get("Value"),
        operation=row["Operation"],
        run_id=row["RunId"],
        table=f"{row['SchemaName']}.{row['TableName']}" if row.get("TableName") else None,
        layer=row.get("Layer"),
        table_version=row.get("TableVersion"),
        event_time=as_utc(row["EventTime"]),
    )


def state(rt: Runtime, entity: str) -> WatermarkState | None:
    """The entity's current state, or None if it was never set (`Watermarks.state`)."""
    return to_state(latest(read_rows(rt, EntityId=check_entity(entity))))


def current(rt: Runtime, entity: str) -> str | None:
    """The entity's stored watermark, or None (`Watermarks.current`)."""
    st = state(rt, entity)
    return st.value if st else None


def table_of(st: WatermarkState | None) -> str | None:
    """The table a state records, if any."""
    return st.table if st is not None else None


# -- writes and audit ------------------------------------------------------------------------------
def new_row(rt: Runtime, entity: str, kind: str, operation: str, **values: Any) -> dict[str, Any]:
    """A new event row (``table=`` split into schema and table; this run's id unless given)."""
    table = values.pop("table", None)
    ref = rt.table(table) if table else None
    return {
        "EventId": str(uuid.uuid4()),
        "EntityId": entity,
        "Kind": kind,
        "Operation": operation,
        "SchemaName": ref.schema_name if ref else None,
        "TableName": ref.table if ref else None,
        "RunId": values.pop("run_id", None) or rt.context.run_id,
        "EventTime": utcnow(),
        **values,
    }


def audit(rt: Runtime, operation: str, status: str, where: Where, **kw: Any) -> None:
    """One audit event; ``where`` is (entity, table, layer)."""
    entity, table, layer = where
    rt.audit.event(operation, status, entity=entity, table=table, layer=layer, **kw)


@contextmanager
def audit_refusals(rt: Runtime, operation: str) -> Iterator[None]:
    """Audit a `WatermarkError` raised inside (a refusal), then let it propagate.

    An error already audited (``details["audited"]``, e.g. a backwards commit) is not audited twice.
    """
    try:
        yield
    except WatermarkError as exc:
        if not exc.details.get("audited"):
            rt.audit.event(
                operation,
                "Refused",
                entity=exc.entity,
                error=exc,
                severity="MEDIUM",
                flush=True,
            )
        raise


# -- what a call's values mean ---------------------------------------------------------------------
def check_text(value: Any, parameter: str) -> None:
    """Refuse a text parameter (``layer``) of another type."""
    if value is not None and not isinstance(value, str):
        raise ConfigError(
            f"parameter {parameter!r} must be text, got {shown(value)} ({type(value).__name__})",
            hint=f"pass {parameter}='...' or leave it out",
        )


def resolve_kind(
    rt: Runtime,
    entity: str,
    kind: str | None,
    st: WatermarkState | None,
    table: str | None,
    attempted: WatermarkState | None = None,
) -> WatermarkKind:
    """The kind asked for, else the stored one, else an earlier attempt's, else PipelineConfig's."""
    if kind is not None:
        k = check_kind(kind, entity=entity)
        if st is not None and st.kind != k:
            raise WatermarkError(
                f"the stored watermark is a {st.kind} watermark, begin asked for {k}",
                entity=entity,
                hint=f"to change the kind, reset it: rt.watermarks.reset({entity!r}, <value>, "
                f"reason=..., kind={k!r})",
            )
        return k
    known = st or attempted
    if known is not None:
        return check_kind(known.kind, entity=entity)
    configured = rt.table_config(table).watermark_kind if table else None
    if configured:
        return check_kind(configured, entity=entity)
    raise WatermarkError(
        "no watermark kind is known for this entity",
        entity=entity,
        hint="pass kind='datetime' (or date, int, rowversion, string), or set watermark_kind "
        "in the table's PipelineConfig",
    )


def plausibility(
    rt: Runtime, entity: str, allow_future: Any, allow_sentinel: Any, *, minimum_sentinels: bool
) -> Callable[..., str]:
    """The sentinel / future check of this call (flags parsed strictly, up front)."""
    future = strict_bool(allow_future, "allow_future")
    sentinel = strict_bool(allow_sentinel, "allow_sentinel")
    skew = rt.config.watermark_future_skew_hours

    def check(canonical: str, kind: WatermarkKind, subject: str = "watermark value") -> str:
        return check_plausible(
            canonical,
            kind,
            entity=entity,
            future_skew_hours=skew,
            allow_future=future,
            allow_sentinel=sentinel,
            minimum_sentinels=minimum_sentinels,
            subject=subject,
        )

    return check


def stored_value(st: WatermarkState | None, kind: WatermarkKind, tz: str | None) -> str | None:
    """The stored value of ``st`` in canonical form (a legacy value is parsed), or None."""
    if st is None or st.value is None:
        return None
    try:
        return parse_watermark(st.value, kind, source_tz=tz, entity=st.entity)
    except WatermarkError as exc:
        raise WatermarkError(
            f"the stored watermark cannot be read: {exc.message}",
            entity=st.entity,
            hint="normalize stored values with `fmd watermarks migrate` (dry run first), or "
            "rt.watermarks.reset(entity, value, reason)",
        ) from exc


__all__ = [
    "STATE_OPERATIONS",
    "Where",
    "audit",
    "audit_refusals",
    "check_text",
    "current",
    "latest",
    "new_row",
    "plausibility",
    "read_rows",
    "resolve_kind",
    "state",
    "stored_value",
    "table_of",
    "to_state",
]
