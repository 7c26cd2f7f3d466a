"""The preflight checks of the lakehouse, one function each, every one read-only.

- `check_metadata_table`: a table of ``store/schemas.py`` exists, has the columns and types the
  library writes (what an upgrade would add), and is writable by the current engine.
- `check_config_rows`: ``PipelineConfig`` rows: placeholder or nil GUIDs and placeholders in any
  text field, empty required fields, invalid or duplicate rows; returns the valid enabled ones.
- `check_table`: one configured table exists, is readable (rows counted through the port), is
  writable by this engine (``write_refusal``: delta-rs' writer-feature gaps), and its retention
  properties are consistent, at or above the floors, and cover the active checkpoints pinning it
  (`active_pins`, read through ``rt.checkpoints``).

Example:
    >>> # findings, complete = check_metadata_table(rt, PIPELINE_CONFIG)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from fmd_runtime._base import as_utc
from fmd_runtime._text import plural
from fmd_runtime.config import TableConfig
from fmd_runtime.engine import engine_label, normalize_type, write_refusal
from fmd_runtime.errors import ConfigError, FmdError
from fmd_runtime.health._models import FindingSeverity, HealthFinding
from fmd_runtime.health._preflight_values import finding, shown, value_problem
from fmd_runtime.retention import (
    DELETED_FILE_RETENTION,
    LOG_RETENTION,
    format_interval,
    retention_hours,
)
from fmd_runtime.store.schemas import PIPELINE_CONFIG, TableSchema
from fmd_runtime.tables import TableRef

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

ENSURE_FIX = (
    "create or upgrade the metadata tables: rt.store.ensure() (connect() does it unless "
    "ensure=False) or `fmd store ensure --lakehouse <path>`"
)

# Well-known example GUIDs copied from documentation into real configuration.
# -- metadata tables ------------------------------------------------------------------------------


MetadataState = Literal["missing", "outdated", "complete"]
"""A metadata table as preflight found it; ``complete``: writing to it creates or adds nothing."""


def check_metadata_table(
    rt: Runtime, schema: TableSchema
) -> tuple[list[HealthFinding], MetadataState]:
    """One metadata table: present, its columns and types, writable. Returns (findings, state)."""
    ref = rt.store.ref(schema.name)
    eng = rt.engine
    if not eng.exists(ref):
        return [
            finding(
                "preflight.metadata_table_missing",
                "HIGH",
                f"metadata table {ref.name} does not exist (an upgrade would create it with "
                f"{plural(len(schema.columns), 'column')})",
                ENSURE_FIX,
                table=ref.name,
            )
        ], "missing"
    snap = eng.snapshot(ref)
    have = {c.name.lower(): c for c in snap.columns}
    missing = [c for c in schema.columns if c.name.lower() not in have]
    found: list[HealthFinding] = []
    if missing:
        found.append(
            finding(
                "preflight.metadata_columns_missing",
                "MEDIUM",
                f"metadata table {ref.name} lacks {plural(len(missing), 'column')} the library "
                "writes: an upgrade would add "
                + ", ".join(f"{c.name} ({c.type})" for c in missing),
                ENSURE_FIX,
                table=ref.name,
                missing_columns=[c.name for c in missing],
            )
        )
    for c in schema.columns:
        col = have.get(c.name.lower())
        if col is not None and normalize_type(col.type) != normalize_type(c.type):
            found.append(
                finding(
                    "preflight.metadata_column_type",
                    "HIGH",
                    f"metadata table {ref.name}: column {c.name} is {col.type}, the library "
                    f"writes {c.type} (an upgrade cannot change a column's type)",
                    f"recreate {ref.name} with the DDL of `fmd store ddl` and copy its rows "
                    "over, or restore it to a version with the right type",
                    table=ref.name,
                    column=c.name,
                )
            )
    found += _writable(rt, ref)
    return found, "outdated" if missing else "complete"


def _writable(rt: Runtime, ref: TableRef) -> list[HealthFinding]:
    refusal = write_refusal(rt.engine, ref, operation="writing")
    if refusal is None:
        return []
    features = list(refusal.details.get("features", []))
    return [
        finding(
            "preflight.unwritable_table",
            "HIGH",
            f"{ref.name} cannot be written by {engine_label(rt.engine)}: it uses the Delta "
            f"table feature(s) {', '.join(features)}",
            refusal.hint or "run this job from a Fabric Spark notebook",
            table=ref.name,
            features=features,
        )
    ]


# -- PipelineConfig rows --------------------------------------------------------------------------


def check_config_rows(
    rows: Sequence[Mapping[str, Any]], scope: set[str] | None
) -> tuple[list[HealthFinding], list[TableConfig]]:
    """Placeholders, empty required fields, invalid and duplicate rows of ``PipelineConfig``.

    Args:
        rows: the table's rows as read (no validation yet).
        scope: lower-case ``schema.table`` names to look at (None: every row).

    Returns:
        The findings, and the valid configurations of the rows in scope (enabled or not).
    """
    found: list[HealthFinding] = []
    configs: dict[str, TableConfig] = {}
    spellings: dict[str, list[str]] = {}
    required = [c.name for c in PIPELINE_CONFIG.columns if not c.nullable]
    for index, row in enumerate(rows, start=1):
        schema, table = row.get("SchemaName"), row.get("TableName")
        name = f"{schema}.{table}" if schema and table else f"#{index} (no table name)"
        if scope is not None and name.lower() not in scope:
            continue
        spellings.setdefault(name.lower(), []).append(name)
        enabled = row.get("IsEnabled") is not False
        severity: FindingSeverity = "HIGH" if enabled else "LOW"
        where = f"PipelineConfig row {name}" + ("" if enabled else " (disabled)")
        empty = [
            col
            for col in required
            if row.get(col) is None or (isinstance(row[col], str) and not row[col].strip())
        ]
        for col in empty:
            found.append(
                finding(
                    "preflight.empty_field",
                    "HIGH",
                    f"{where}: required field {col} is empty",
                    f"fill {col} in that row (or delete the row); rows written through "
                    "rt.configure_table always have it",
                    table=name if schema and table else None,
                    field=col,
                )
            )
        for col, value in row.items():
            if not isinstance(value, str):
                continue
            problem = value_problem(value)
            if problem is None:
                continue
            check, why = problem
            found.append(
                finding(
                    check,
                    severity,
                    f"{where}: {col} = {shown(col, value)} is {why}",
                    f"set {col} of {name} to the real value (rt.configure_table('{name}', ...) "
                    "writes the row), or disable the row",
                    table=name if schema and table else None,
                    field=col,
                    value=shown(col, value),
                )
            )
        if empty:
            continue
        try:
            cfg = TableConfig.from_row(dict(row))
        except (ConfigError, FmdError) as exc:
            found.append(
                finding(
                    "preflight.invalid_config_row",
                    severity,
                    f"{where} is invalid: {exc.message}",
                    exc.hint or f"correct the row with rt.configure_table('{name}', ...)",
                    table=name,
                )
            )
            continue
        configs[cfg.table.lower()] = cfg
    for names in spellings.values():
        if len(names) > 1 and not names[0].startswith("#"):
            found.append(
                finding(
                    "preflight.duplicate_config_row",
                    "MEDIUM",
                    f"PipelineConfig has {len(names)} rows for {', '.join(sorted(set(names)))} "
                    "(one table: names match case-insensitively, as Spark resolves them): "
                    "which settings apply is ambiguous",
                    "keep one row per table: delete the others",
                    table=sorted(names)[0],
                )
            )
    return found, sorted(configs.values(), key=lambda c: c.table)


# -- one configured table -------------------------------------------------------------------------


class PinnedVersion(NamedTuple):
    """A version an active checkpoint pins, and until when it must stay restorable."""

    checkpoint: str
    version: int
    born: datetime
    until: datetime


def active_pins(rt: Runtime) -> dict[str, list[PinnedVersion]]:
    """Lower-case ``schema.table`` -> the versions active checkpoints pin (read-only)."""
    pins: dict[str, list[PinnedVersion]] = {}
    for cp in rt.checkpoints.list(active_only=True):
        until = datetime.combine(cp.retention_date, time.min, tzinfo=timezone.utc) + timedelta(
            days=1
        )
        for t in cp.tables:
            born = as_utc(t.version_timestamp) if t.version_timestamp else as_utc(cp.created_date)
            pins.setdefault(t.table.lower(), []).append(
                PinnedVersion(cp.checkpoint_name, int(t.version), born, until)
            )
    return pins


def check_table(
    rt: Runtime, cfg: TableConfig, pins: Sequence[PinnedVersion], now: datetime
) -> tuple[list[HealthFinding], int | None]:
    """One configured table: exists, readable, writable by this engine, retention consistent.

    Returns:
        The findings, and the table's row count (None when it could not be read).
    """
    ref, name, eng = cfg.ref, cfg.table, rt.engine
    if not eng.exists(ref):
        return [
            finding(
                "preflight.missing_table",
                "HIGH",
                f"table {name} is enabled in PipelineConfig but does not exist",
                f"create {name} (run its load), correct its name in PipelineConfig, or disable "
                f"it: rt.configure_table('{name}', enabled=False)",
                table=name,
            )
        ], None
    try:
        rows = eng.count_rows(ref).total
    except FmdError as exc:
        return [
            finding(
                "preflight.unreadable_table",
                "HIGH",
                f"table {name} exists but cannot be read: {exc.message}",
                exc.hint or "check the table's storage access and its _delta_log",
                table=name,
            )
        ], None
    return _writable(rt, ref) + _retention(rt, cfg, pins, now), rows


def _retention(
    rt: Runtime, cfg: TableConfig, pins: Sequence[PinnedVersion], now: datetime
) -> list[HealthFinding]:
    name, props = cfg.table, rt.engine.properties(cfg.ref)
    try:
        files_h = retention_hours(props, DELETED_FILE_RETENTION, table=name)
        log_h = retention_hours(props, LOG_RETENTION, table=name)
    except FmdError as exc:
        return [
            finding(
                "preflight.retention_invalid",
                "MEDIUM",
                f"table {name}: {exc.message}",
                exc.hint or "set the property to a Delta interval",
                table=name,
            )
        ]
    floor = rt.config.vacuum_retention_floor_hours
    days = {DELETED_FILE_RETENTION: files_h, LOG_RETENTION: log_h}
    shown_ = {k: format_interval(h) for k, h in days.items()}
    numbers = {"deleted_file_retention_hours": files_h, "log_retention_hours": log_h}
    found: list[HealthFinding] = []
    if files_h > log_h:
        found.append(
            finding(
                "preflight.retention_inconsistent",
                "MEDIUM",
                f"table {name}: {DELETED_FILE_RETENTION} ({shown_[DELETED_FILE_RETENTION]}) is "
                f"longer than {LOG_RETENTION} ({shown_[LOG_RETENTION]}): time travel stops at "
                "the log, and Delta 4.1+ (Fabric Runtime 2.0) refuses such properties",
                f"raise {LOG_RETENTION} to at least '{format_interval(files_h)}': "
                f"rt.maintenance.set_retention('{name}', log_days={math.ceil(files_h / 24)}, "
                "dry_run=False)",
                table=name,
                **numbers,
            )
        )
    for prop, hours in days.items():
        if hours < floor:
            arg = "deleted_file_days" if prop == DELETED_FILE_RETENTION else "log_days"
            found.append(
                finding(
                    "preflight.retention_below_floor",
                    "MEDIUM",
                    f"table {name}: {prop} ({shown_[prop]}) is below the floor of {floor} "
                    "hours: VACUUM from outside the library (the Fabric portal, the Lakehouse "
                    "Maintenance activity) may delete files younger than the floor",
                    f"rt.maintenance.set_retention('{name}', {arg}={math.ceil(floor / 24)}, "
                    "dry_run=False)",
                    table=name,
                    floor_hours=floor,
                    **numbers,
                )
            )
    if cfg.vacuum_retention_hours < floor:
        found.append(
            finding(
                "preflight.vacuum_retention_below_floor",
                "MEDIUM",
                f"table {name}: VacuumRetentionHours {cfg.vacuum_retention_hours} is below the "
                f"floor of {floor} hours: maintenance will refuse to VACUUM it",
                f"rt.configure_table('{name}', vacuum_retention_hours={floor})",
                table=name,
                floor_hours=floor,
            )
        )
    cover_h = min(files_h, log_h)
    prop = DELETED_FILE_RETENTION if files_h <= log_h else LOG_RETENTION
    for pin in pins:
        # verify's rule: covered until the checkpoint expires, and at least at_risk_days ahead
        covered = pin.born + timedelta(hours=cover_h)
        if covered >= max(pin.until, now + timedelta(days=rt.config.at_risk_days)):
            continue
        need = (
            math.ceil((pin.until - pin.born).total_seconds() / 86400)
            + rt.config.retention_margin_days
        )
        past = covered < now
        found.append(
            finding(
                "preflight.checkpoint_uncovered" if past else "preflight.checkpoint_at_risk",
                "HIGH" if past else "MEDIUM",
                f"table {name}: {prop} ({format_interval(cover_h)}) covers version {pin.version} "
                f"of active checkpoint {pin.checkpoint} only until {covered:%Y-%m-%d %H:%M} UTC"
                + (
                    ", already past: Delta 4.1+ refuses to RESTORE it and VACUUM may delete its "
                    "files"
                    if past
                    else f", before the checkpoint expires ({pin.until:%Y-%m-%d})"
                ),
                f"raise the retention while the files exist: rt.maintenance.set_retention("
                f"'{name}', deleted_file_days={need}, log_days={need}, dry_run=False), then "
                f"`fmd checkpoint verify {pin.checkpoint}`",
                table=name,
                checkpoint=pin.checkpoint,
                version=pin.version,
                **numbers,
            )
        )
    return found


__all__ = [
    "ENSURE_FIX",
    "MetadataState",
    "PinnedVersion",
    "active_pins",
    "check_config_rows",
    "check_metadata_table",
    "check_table",
]
