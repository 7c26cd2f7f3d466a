"""What the active checkpoints need from a table's retention, and `Maintenance.set_retention`.

A checkpoint stays restorable while the table keeps its log and its removed files: this module
turns the versions active checkpoints pin (`Pin`, read by `pins`) into hours of retention
(`needed_hours`), reads a table's retention properties (Delta's default when unset, the
operator's own value under ``BASELINE_PREFIX``), decides the log-retention change and the
AtRisk checkpoints of a plan (`log_retention`), and refuses a retention below the floor or below
what a checkpoint needs (`floor_error`, `check_override`, `set_retention`). Planning and the
operator's own retention change apply the same rules, so both take them from here.

Example:
    >>> parse_interval_hours("interval 7 days"), format_interval(720)
    (168.0, 'interval 30 days')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from fmd_runtime.config import MAX_RETENTION_DAYS, check_number, strict_bool
from fmd_runtime.errors import MaintenanceError, RetentionError
from fmd_runtime.maintenance._models import CheckpointRisk, PropertyChange, RetentionChange
from fmd_runtime.retention import (
    BASELINE_PREFIX,
    DEFAULT_RETENTION_HOURS,
    DELETED_FILE_RETENTION,
    LOG_RETENTION,
    format_interval,
    log_retention_cover,
)
from fmd_runtime.retention import parse_interval_hours as _parse_interval_hours
from fmd_runtime.store import utcnow
from fmd_runtime.tables import TableRef

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

DEFAULT_HOURS = DEFAULT_RETENTION_HOURS
"""Delta's defaults when a table does not set the property (7 and 30 days)."""


def parse_interval_hours(text: str, *, table: str | None = None) -> float:
    """Hours in a Delta interval property value (`fmd_runtime.retention.parse_interval_hours`).

    Raises:
        MaintenanceError: the text is not such an interval.

    Example:
        >>> parse_interval_hours("interval 7 days"), parse_interval_hours("1 week 12 hours")
        (168.0, 180.0)
    """
    return _parse_interval_hours(text, table=table, error=MaintenanceError)


class Pin(NamedTuple):
    """A (table, version) an active checkpoint pins, with the dates its retention runs to."""

    checkpoint: str
    table: str
    version: int
    timestamp: datetime
    retention_end: datetime
    retention_date: date


def active_pins(rt: Runtime) -> list[Pin]:
    """Every (table, version) an active checkpoint pins, with its dates."""
    found = []
    for cp in rt.checkpoints.list(active_only=True):
        end = datetime.combine(
            cp.retention_date, datetime.min.time(), tzinfo=timezone.utc
        ) + timedelta(days=1)
        for t in cp.tables:
            ts = t.version_timestamp or cp.created_date
            ts = ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)
            name = TableRef(schema_name=t.schema_name, table=t.table_name).name
            found.append(Pin(cp.checkpoint_name, name, int(t.version), ts, end, cp.retention_date))
    return found


def need_hours(pin: Pin, now: datetime) -> float:
    """Hours of retention that keep a pinned version's files and log until its checkpoint expires.

    A pinned file is removed at or after the version's commit, so a retention covering the
    version's age keeps its files now, and one covering until the retention end keeps them
    (and the log) for as long as the checkpoint is active. Whole days, as checkpoints raise it.
    """
    age = (now - pin.timestamp).total_seconds() / 86400
    life = (pin.retention_end - pin.timestamp).total_seconds() / 86400
    return math.ceil(max(age, life)) * 24.0


def needed_hours(table_pins: Sequence[Pin], now: datetime, margin_days: int) -> float:
    """What the table's active checkpoints need (0 without any), plus the margin."""
    return max(need_hours(p, now) for p in table_pins) + margin_days * 24 if table_pins else 0.0


def prop_hours(props: dict[str, str], prop: str, ref: TableRef) -> float:
    """A retention property in hours (Delta's default when the table does not set it)."""
    value = props.get(prop)
    return parse_interval_hours(value, table=ref.name) if value else float(DEFAULT_HOURS[prop])


def baseline_hours(props: dict[str, str], prop: str, ref: TableRef) -> float:
    """The operator's own value of a property maintenance may have raised."""
    base = props.get(BASELINE_PREFIX + prop)
    if base is None:
        return prop_hours(props, prop, ref)
    return (
        float(DEFAULT_HOURS[prop])
        if base == "default"
        else parse_interval_hours(base, table=ref.name)
    )


def change(
    props: dict[str, str],
    prop: str,
    hours: float,
    direction: Literal["raise", "lower"],
    reason: str,
) -> PropertyChange:
    """The `PropertyChange` that sets ``prop`` to ``hours``."""
    return PropertyChange(
        property=prop,
        current=props.get(prop),
        new=format_interval(hours),
        direction=direction,
        reason=reason,
    )


def log_retention(
    ref: TableRef, props: dict[str, str], pins: Sequence[Pin], need_h: float, reasons: list[str]
) -> tuple[list[PropertyChange], tuple[CheckpointRisk, ...]]:
    """AtRisk checkpoints and the log retention change (raise for them, lower once unneeded)."""
    log_h = prop_hours(props, LOG_RETENTION, ref)
    need = math.ceil(need_h / 24) * 24.0
    recommended, risks = format_interval(need), []
    for p in pins:
        until = p.timestamp + timedelta(hours=log_h)
        if until < p.retention_end:
            reason = (
                f"{LOG_RETENTION} {format_interval(log_h)} keeps version {p.version} reachable only until {until:%Y-%m-%d %H:%M}, "
                f"before its retention date {p.retention_date} ends; recommended {LOG_RETENTION} = '{recommended}'"
            )
            risks.append(
                CheckpointRisk(
                    checkpoint=p.checkpoint, version=p.version, version_timestamp=p.timestamp, retention_date=p.retention_date,
                    reason=reason, recommended_log_retention=recommended,
                )
            )  # fmt: skip
    changes = []
    if need > log_h:
        changes.append(
            change(
                props,
                LOG_RETENTION,
                need,
                "raise",
                f"keep {len(risks)} AtRisk checkpoint version(s) reachable",
            )
        )
    elif (
        BASELINE_PREFIX + LOG_RETENTION in props
        and max(baseline_hours(props, LOG_RETENTION, ref), need) < log_h
    ):
        target = max(baseline_hours(props, LOG_RETENTION, ref), need)
        changes.append(
            change(
                props,
                LOG_RETENTION,
                target,
                "lower",
                "the checkpoints that needed more have expired",
            )
        )
    if risks:
        reasons.append(f"{len(risks)} checkpoint version(s) AtRisk from log retention")
    return changes, tuple(risks)


# -- refusals ------------------------------------------------------------------------------------


def check_override(allow: bool, reason: str | None) -> None:
    """Refuse a retention override that does not say why (the reason is audited)."""
    if allow and not (reason and reason.strip()):
        raise RetentionError(
            "a retention below the floor needs a reason",
            hint="pass reason='why' with the override (it is audited)",
        )


def floor_error(hours: int, why: str, floor: int, table: str | None) -> RetentionError:
    """The refusal of a VACUUM retention below the safety floor."""
    hint = f"use at least {floor} hours; going lower needs allow_below_floor=True with a reason (audited): files deleted below the floor cannot be restored"
    return RetentionError(
        f"VACUUM retention of {hours} hours ({why}) is below the safety floor of {floor} hours",
        table=table,
        hint=hint,
    )


# -- set_retention -------------------------------------------------------------------------------


def _days(value: Any, parameter: str) -> int | None:
    """A retention of `Maintenance.set_retention` in days: 0 to `MAX_RETENTION_DAYS`."""
    if value is None:
        return None
    days: int = check_number(
        value, parameter, minimum=0, maximum=MAX_RETENTION_DAYS, unit="days", integer=True
    )
    return days


def set_retention(
    rt: Runtime,
    table: str | TableRef,
    *,
    log_days: int | None,
    deleted_file_days: int | None,
    override_floor: bool,
    reason: str | None,
    dry_run: bool,
) -> RetentionChange:
    """`Maintenance.set_retention`: check the arguments, set (or preview), audit a refusal."""
    override_floor = strict_bool(override_floor, "override_floor")
    dry_run = strict_bool(dry_run, "dry_run")
    log_days = _days(log_days, "log_days")
    deleted_file_days = _days(deleted_file_days, "deleted_file_days")
    ref = rt.table(table)
    try:
        return _set_retention(
            rt,
            ref,
            {LOG_RETENTION: log_days, DELETED_FILE_RETENTION: deleted_file_days},
            override_floor,
            reason,
            dry_run,
        )
    except RetentionError as exc:
        rt.audit.event(
            "RetentionChange",
            "Refused",
            table=ref,
            error=exc,
            severity="MEDIUM",
            dry_run=dry_run,
            flush=True,
        )
        raise


def _set_retention(
    rt: Runtime,
    ref: TableRef,
    days: dict[str, int | None],
    override: bool,
    reason: str | None,
    dry_run: bool,
) -> RetentionChange:
    floor = rt.config.vacuum_retention_floor_hours
    wanted = {prop: d for prop, d in days.items() if d is not None}
    if not wanted or min(wanted.values()) < 1:
        raise RetentionError(
            "set at least one retention, of 1 day or more",
            table=ref.name,
            hint="pass log_days= and/or deleted_file_days=",
        )
    check_override(override, reason)
    props, now = rt.engine.properties(ref), utcnow()
    table_pins = [p for p in active_pins(rt) if p.table.lower() == ref.name.lower()]
    need_h = needed_hours(table_pins, now, rt.config.retention_margin_days)
    notes, changes = [], {}
    for prop, d in wanted.items():
        if prop == DELETED_FILE_RETENTION and d * 24 < floor:
            if not override:
                hint = f"use at least {math.ceil(floor / 24)} days, or override_floor=True with a reason (audited)"
                raise RetentionError(
                    f"{prop} of {d} day(s) is below the safety floor of {floor} hours",
                    table=ref.name,
                    hint=hint,
                )
            notes.append(f"floor of {floor} hours overridden: {reason}")
        if d * 24 < need_h:
            old = min(table_pins, key=lambda p: p.timestamp)
            raise RetentionError(
                f"{prop} of {d} day(s) is below the {math.ceil(need_h / 24)} days active checkpoints need (checkpoint "
                f"{old.checkpoint} pins version {old.version} of {old.timestamp:%Y-%m-%d} until {old.retention_date})",
                table=ref.name,
                hint="keep the retention, or deactivate the checkpoint first (it would become unrestorable)",
            )
        changes[prop] = format_interval(d * 24)
        if BASELINE_PREFIX + prop in props:
            changes[BASELINE_PREFIX + prop] = changes[prop]  # the operator's new intent
    after = {**props, **changes}
    if prop_hours(after, LOG_RETENTION, ref) < prop_hours(after, DELETED_FILE_RETENTION, ref):
        notes.append(
            f"{LOG_RETENTION} is shorter than {DELETED_FILE_RETENTION}: time travel stops at the log"
        )
    result = RetentionChange(
        table=ref.name,
        dry_run=dry_run,
        changes=changes,
        previous={k: props.get(k) for k in changes},
        notes=tuple(notes),
    )
    if not dry_run:
        rt.engine.set_properties(
            ref, changes | log_retention_cover(props, changes), commit=rt.commit_options()
        )
    if override:
        rt.audit.event(
            "RetentionOverride",
            "Warning",
            table=ref,
            severity="HIGH",
            dry_run=dry_run,
            details={"reason": reason, "changes": changes},
        )
    rt.audit.event(
        "RetentionChange",
        "Succeeded",
        table=ref,
        dry_run=dry_run,
        severity="LOW",
        details=result.model_dump(mode="json"),
        flush=True,
    )
    return result


__all__ = [
    "DEFAULT_HOURS",
    "Pin",
    "baseline_hours",
    "change",
    "check_override",
    "floor_error",
    "log_retention",
    "need_hours",
    "needed_hours",
    "parse_interval_hours",
    "active_pins",
    "prop_hours",
    "set_retention",
]
