"""Pinning one table for a checkpoint: its version, files, Delta log checkpoint, counts, checks
and retention protection.

This is the per-table work a creation fans out over the bounded pool (`_create` orchestrates, this
module does one table), and `measure_table` is also `Checkpoints.measure`, which rollback uses to
count a restored version the same way. Counts come from the Delta log's statistics, or, for tables
with tracking columns or keys, from ONE aggregation over the pinned version
(`fmd_runtime.validation.aggregation_sql`). The retention properties are raised to cover the
checkpoint's life (`protect`) unless the caller opts out.

Example:
    >>> # pin = pin_table(rt, ref, cfg, end, protect=True)   # one table, as creation does
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from fmd_runtime._base import as_utc
from fmd_runtime.config import TableConfig
from fmd_runtime.engine import Column, DataFile, TableAt, TableSnapshot
from fmd_runtime.errors import CheckpointError, FmdError, UnsupportedFeatureError
from fmd_runtime.retention import (
    BASELINE_PREFIX,
    DEFAULT_PROPERTY_DAYS,
    log_retention_cover,
    property_days,
)
from fmd_runtime.store import utcnow
from fmd_runtime.tables import TableRef
from fmd_runtime.validation import (
    TableMeasure,
    ValidationCheck,
    aggregation_sql,
    check_measure,
    manifest_digest,
    schema_fingerprint,
)

from ._models import DAY, CheckpointTable

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

# one logger for the whole capability: operators filter on "fmd_runtime.checkpoints"
log = logging.getLogger("fmd_runtime.checkpoints")


@dataclass
class Pin:
    """One table read for a checkpoint (internal): its row, its checks, what was raised."""

    row: CheckpointTable
    checks: list[ValidationCheck]
    raised: dict[str, str] = field(default_factory=dict)
    at_risk: str | None = None
    log_checkpoint: bool = False
    pinned_at: datetime = field(default_factory=utcnow)


def pin_table(
    rt: Runtime,
    ref: TableRef,
    cfg: TableConfig,
    end: datetime,
    protect: bool,
    loaded: bool = False,
    read: tuple[TableSnapshot, datetime] | None = None,
) -> Pin:
    """Pin one table's version, count and validate it, protect its retention.

    ``read``: the snapshot already read (and when); else the current version is read now.
    ``loaded``: the run ledger has loads into the table, so its history is read for the
    last one the version reflects (a table no library load wrote needs no history read).
    """
    eng = rt.engine
    snap, pinned_at = read if read is not None else (eng.snapshot(ref), utcnow())
    version = snap.version
    load = rt.runs.last_load(ref.name, at_version=version) if loaded else None
    files = eng.files(ref, version)
    # The log checkpoint is written AT the pinned version (a writer may have committed since
    # it was read), after listing its files, so Spark writes it from the state just built.
    log_checkpoint = eng.create_log_checkpoint(ref, version)
    cols = {c.name.lower(): c for c in snap.columns}
    problems = [
        f"{what} column {col!r} "
        + (
            "does not exist"
            if col.lower() not in cols
            else f"is {cols[col.lower()].type}, not boolean"
        )
        for what, col in (("deleted flag", cfg.deleted_flag), ("purged flag", cfg.purged_flag))
        if col and (col.lower() not in cols or cols[col.lower()].type != "boolean")
    ] + [f"key column {k!r} does not exist" for k in cfg.primary_key if k.lower() not in cols]
    measure = None
    if not problems:
        try:
            measure = measure_table(rt, ref, version, cfg, files, snap.columns)
        except CheckpointError as exc:
            problems = [exc.message]
    if measure is None:
        rc = eng.count_rows(ref, version)
        measure = TableMeasure(table=ref.name, version=version, total=rc.total, source=rc.source)
        checks = [
            ValidationCheck(
                table=ref.name,
                check_name="CountsMeasured",
                expected="one-pass counts",
                actual="; ".join(problems),
                passed=False,
                severity="HIGH",
                message="could not validate: " + "; ".join(problems),
            )
        ]
    else:
        checks = check_measure(
            measure,
            tracked=cfg.has_tracking,
            keyed=bool(cfg.primary_key),
            tolerance=cfg.validation_tolerance,
        )
    bad = [c for c in checks if not c.passed]
    pin = Pin(
        row=CheckpointTable(
            schema_name=ref.schema_name,
            table_name=ref.table,
            version=version,
            version_timestamp=None if snap.timestamp is None else as_utc(snap.timestamp),
            total_rows=measure.total,
            active_rows=measure.active,
            deleted_rows=measure.deleted,
            purged_rows=measure.purged,
            count_source=measure.source,
            schema_fingerprint=schema_fingerprint(snap),
            manifest_digest=manifest_digest(files),
            file_count=len(files),
            total_bytes=sum(f.size_bytes for f in files),
            validation_status="Failed" if bad else "Validated",
            validation_message="; ".join(c.message or c.check_name for c in bad) or None,
            load_run_id=load.run_id if load else None,
            load_batch_id=load.batch_id if load else None,
            load_version=load.version if load else None,
            load_time=as_utc(load.timestamp) if load and load.timestamp else None,
        ),
        checks=checks,
        log_checkpoint=log_checkpoint,
        pinned_at=pinned_at,
    )
    protect_retention(rt, ref, snap, end, protect, pin)
    return pin


def protect_retention(
    rt: Runtime, ref: TableRef, snap: TableSnapshot, end: datetime, protect: bool, pin: Pin
) -> None:
    """Raise the table's retention properties to cover the version until ``end`` + margin.

    The operator's own value is kept under `BASELINE_PREFIX` (maintenance gives it back when no
    checkpoint needs more). ``protect`` False, or an engine that cannot commit to the table,
    leaves the pin ``at_risk`` with the reason instead.
    """
    born = as_utc(snap.timestamp) if snap.timestamp else utcnow()
    need = math.ceil((end - born).total_seconds() / DAY) + rt.config.retention_margin_days
    props = snap.properties  # the current version's: read with it, no second read
    short = {
        k: props.get(k)
        for k in DEFAULT_PROPERTY_DAYS
        if property_days(props, k, table=ref.name) < need
    }
    if not short:
        return
    have = ", ".join(f"{k} = {v or 'default'}" for k, v in short.items())
    if not protect:
        pin.at_risk = f"{have} covers less than the {need} days this checkpoint needs"
        return
    values = {k: f"interval {need} days" for k in short}
    values |= {
        BASELINE_PREFIX + k: v or "default"
        for k, v in short.items()
        if BASELINE_PREFIX + k not in props
    }
    values |= log_retention_cover(props, values)
    try:
        rt.engine.set_properties(ref, values, commit=rt.commit_options())
    except UnsupportedFeatureError as exc:
        # The engine cannot commit to this table (e.g. delta-rs and Spark's identity columns):
        # the version is pinned all the same (pinning only reads); the checkpoint says why it
        # is at risk and how to protect it.
        pin.at_risk = (
            f"{have} covers less than the {need} days this checkpoint needs, and the "
            f"retention could not be raised: {exc.message}. What to do: {exc.hint}"
        )
        log.warning("fmd checkpoints: %s is AtRisk: %s", ref.name, pin.at_risk)
        return
    pin.raised = values


def measure_table(
    rt: Runtime,
    ref: TableRef,
    version: int,
    cfg: TableConfig,
    files: Sequence[DataFile] | None = None,
    columns: Sequence[Column] | None = None,
) -> TableMeasure:
    """Counts of a table version: one aggregation when tracking columns or keys are configured,
    else the Delta log's statistics (``files``: the version's, when just listed).

    Raises:
        CheckpointError: the aggregation failed (e.g. a configured column does not exist).
    """
    eng = rt.engine
    if not (cfg.has_tracking or cfg.primary_key):
        if files is not None and all(
            f.num_records is not None and not f.deletion_vector for f in files
        ):  # the files just listed carry the log's statistics: no second read
            total = sum(int(f.num_records or 0) for f in files)
            return TableMeasure(table=ref.name, version=version, total=total, source="stats")
        rc = eng.count_rows(ref, version)
        return TableMeasure(table=ref.name, version=version, total=rc.total, source=rc.source)
    # A key column the version's schema declares NOT NULL cannot hold a null (every Delta
    # writer enforces it): only the nullable ones are counted, and none when there are none.
    required = {c.name.lower() for c in columns or () if not c.nullable}
    nullable = [k for k in cfg.primary_key if k.lower() not in required]
    query = aggregation_sql(
        eng.quote,
        deleted_flag=cfg.deleted_flag,
        purged_flag=cfg.purged_flag,
        keys=nullable,
    )
    try:
        row = eng.sql(query, {"t": TableAt(table=ref, version=version)}).to_pylist()[0]
    except FmdError as exc:
        raise CheckpointError(
            f"could not count version {version}: {exc.message}",
            table=ref.name,
            hint="check PipelineConfig's DeletedFlag, PurgedFlag and PrimaryKey columns",
        ) from exc

    def get(k: str) -> int | None:
        return int(row[k] or 0) if k in row else None

    null_keys = get("null_keys") if nullable else (0 if cfg.primary_key else None)

    return TableMeasure(
        table=ref.name,
        version=version,
        total=int(row["total"]),
        active=get("active"),
        deleted=get("deleted"),
        purged=get("purged"),
        null_keys=null_keys,
        source="scan",
    )


__all__ = ["Pin", "measure_table", "pin_table", "protect_retention"]
