"""Checkpoints: named, validated, multi-table restore points that stay restorable.

A checkpoint is a metadata record pinning the exact Delta version of every table it covers, like a
git tag over many repositories: one ``CheckpointHistory`` row (the header) and one
``CheckpointTables`` row per table (version, commit timestamp, counts, schema fingerprint and the
digest of the version's files). Rollback restores to those versions; maintenance keeps their files.

Names (unique; a clash gets ``_2``, ``_3`` ..., never an overwrite), ``<scope>`` being the tables'
schema (``all`` when they span schemas) and ``<date>`` the UTC creation date::

    Daily           <scope>_backup_<date>          bronze_backup_2025-01-15 (the operators' format)
    DailyBatch      <scope>_batch_<date>           bronze_batch_2025-01-15
    PrePurge        <scope>_prepurge_<date>        Manual          <scope>_manual_<date>
    PreMaintenance  <scope>_premaintenance_<date>  PreRollback     <scope>_prerollback_<date>
    PostRollback    <scope>_postrollback_<date>

Creating reads every table concurrently (``rt.map_tables``): the current version, its schema and
protocol, its files (manifest digest, count, bytes) and its counts. Counts come from the Delta log's
statistics, or, for tables with tracking columns or keys in ``PipelineConfig``, from ONE
aggregation over the pinned version (total, active, deleted, purged, null keys). Validation is zero
tolerance by default. The tables' ``delta.deletedFileRetentionDuration`` and
``delta.logRetentionDuration`` are raised to cover the checkpoint's life (audited) unless the caller
opts out, and on delta-rs a Delta log checkpoint is written at the pinned version.

Example:
    >>> # cp = rt.checkpoints.create("bronze.*")              # DailyBatch after the sync's fan-out
    >>> # rt.checkpoints.verify(cp.checkpoint_name).status     # 'Restorable'
"""

from __future__ import annotations

import builtins
import difflib
import json
import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from fmd_runtime._text import plural
from fmd_runtime.alerts import AlertSeverity
from fmd_runtime.config import (
    CHECKPOINT_KINDS,
    DEFAULT_RETENTION_DAYS,
    MAX_LOAD_WAIT_SECONDS,
    MAX_RETENTION_DAYS,
    TableConfig,
    check_number,
    strict_bool,
)
from fmd_runtime.engine import (
    DELETED_FILE_RETENTION,
    LOG_RETENTION,
    Column,
    DataFile,
    TableAt,
    TableSnapshot,
    log_retention_cover,
)
from fmd_runtime.errors import (
    CheckpointError,
    ConfigError,
    CorruptLogError,
    FmdError,
    UnsupportedFeatureError,
)
from fmd_runtime.retention import (
    BASELINE_PREFIX,
    DEFAULT_PROPERTY_DAYS,
    parse_interval_days,
    property_days,
)
from fmd_runtime.retry import retryer
from fmd_runtime.store import utcnow
from fmd_runtime.tables import TableRef, validate_identifier
from fmd_runtime.validation import (
    TableMeasure,
    ValidationCheck,
    aggregation_sql,
    check_measure,
    manifest_digest,
    schema_fingerprint,
)

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

log = logging.getLogger("fmd_runtime.checkpoints")

_FROZEN = ConfigDict(frozen=True, extra="forbid")

# The key maintenance reads to lower a raised property back to the operator's value later
# (fmd_runtime.maintenance.BASELINE_PREFIX; a test keeps the two equal).

NAME_WORDS = {
    "Daily": "backup",
    "DailyBatch": "batch",
    "PrePurge": "prepurge",
    "Manual": "manual",
    "PreMaintenance": "premaintenance",
    "PreRollback": "prerollback",
    "PostRollback": "postrollback",
}
SYNC_KINDS = frozenset({"Daily", "DailyBatch"})
"""Kinds the daily sync creates: a failure never fails the caller (it returns None)."""

RestorabilityStatus = Literal["Restorable", "AtRisk", "Unrestorable"]
_RANK = {"Restorable": 0, "AtRisk": 1, "Unrestorable": 2}
_SEVERITY: dict[str, Any] = {"Restorable": "INFO", "AtRisk": "MEDIUM", "Unrestorable": "HIGH"}
_AUDIT_STATUS = {"Restorable": "Succeeded", "AtRisk": "Warning", "Unrestorable": "Failed"}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}")
_DAY = 86400.0


# --------------------------------------------------------------------------------- models
class CheckpointTable(BaseModel):
    """One table of a checkpoint: the exact Delta version pinned, its counts and its fingerprints."""

    model_config = _FROZEN

    schema_name: str
    table_name: str
    version: int
    version_timestamp: datetime | None
    total_rows: int | None
    active_rows: int | None
    deleted_rows: int | None
    purged_rows: int | None
    count_source: str
    schema_fingerprint: str
    manifest_digest: str
    file_count: int
    total_bytes: int
    validation_status: str
    validation_message: str | None = None
    load_run_id: str | None = None
    load_batch_id: str | None = None
    load_version: int | None = None
    load_time: datetime | None = None

    @property
    def table(self) -> str:
        """``schema.table``."""
        return f"{self.schema_name}.{self.table_name}"

    def load_text(self, batch_id: str | None = None) -> str:
        """Which load the pinned version reflects, e.g. ``bronze.contact v8 = batch B1 (v8,
        2025-01-14 02:41 UTC): not loaded in this batch`` (``batch_id``: the checkpoint's)."""
        head = f"{self.table} v{self.version}"
        if self.load_version is None:
            return f"{head} = no library load"
        who = f"batch {self.load_batch_id}" if self.load_batch_id else f"run {self.load_run_id}"
        when = f", {self.load_time:%Y-%m-%d %H:%M} UTC" if self.load_time else ""
        text = f"{head} = {who} (v{self.load_version}{when})"
        if batch_id and self.load_batch_id != batch_id:
            text += ": not loaded in this batch"
        return text


_MAX_RENAMES = 20
"""Renames a checkpoint may take to settle on a unique name under concurrent creators."""


class Checkpoint(BaseModel):
    """A checkpoint: its header and its tables' pinned versions.

    Only an active, ``Validated`` checkpoint is a rollback target (`is_restore_target`).
    ``problem`` says why a stored checkpoint cannot be one whatever its header says: it pins no
    table, or fewer tables than ``tables_included`` (rows written before such checkpoints were
    refused, or lost); it is then read with validation status ``Invalid`` and restorability
    ``Unrestorable``.
    """

    model_config = _FROZEN

    checkpoint_id: str
    checkpoint_name: str
    checkpoint_type: str
    created_date: datetime
    tables: tuple[CheckpointTable, ...]
    tables_included: int
    total_rows: int | None
    validation_status: str
    retention_date: date
    is_active: bool
    pipeline_run_id: str | None = None
    parent_checkpoint_id: str | None = None
    notes: str | None = None
    created_by: str | None = None
    marked_for_deletion: bool = False
    restorability_status: str | None = None
    run_id: str | None = None
    scope: str | None = None
    last_verified_date: datetime | None = None
    deactivated_date: datetime | None = None
    problem: str | None = None
    batch_id: str | None = None
    pin_window_start: datetime | None = None
    pin_window_end: datetime | None = None

    @property
    def is_restore_target(self) -> bool:
        """True when active and validated (a Failed checkpoint is kept but never restored to),
        and it pins its tables (``problem`` is None)."""
        return self.is_active and self.validation_status == "Validated" and self.problem is None

    def table(self, name: str) -> CheckpointTable:
        """The pinned table called ``name`` (``schema.table``, or a table name unique here).

        Raises:
            CheckpointError: the checkpoint does not cover that table.
            ConfigError: ``name`` is not text.
        """
        if not isinstance(name, str):
            raise ConfigError(
                f"parameter 'name' must be a table name, got {type(name).__name__}",
                hint="pass 'schema.table'",
            )
        wanted = name.strip().lower()
        hits = [t for t in self.tables if wanted in (t.table.lower(), t.table_name.lower())]
        if len(hits) == 1:
            return hits[0]
        raise CheckpointError(
            f"checkpoint {self.checkpoint_name!r} does not cover table {name!r}"
            + (" unambiguously" if hits else ""),
            table=name,
            hint=f"it covers {[t.table for t in self.tables]}",
        )


class TableVerification(BaseModel):
    """Whether one pinned table version can still be restored, and why not."""

    model_config = _FROZEN

    table: str
    version: int
    status: RestorabilityStatus
    reason: str | None = None
    missing_files: int = 0
    expires_in_days: float | None = None


class VerifyResult(BaseModel):
    """Restorability of a checkpoint: the worst of its tables (``Unrestorable`` with the
    ``reason`` when it pins no table, or fewer than its header says)."""

    model_config = _FROZEN

    checkpoint_id: str
    checkpoint_name: str
    status: RestorabilityStatus
    tables: tuple[TableVerification, ...]
    is_active: bool = True
    reason: str | None = None

    def to_text(self) -> str:
        """Readable lines: the checkpoint, then each table that is not Restorable."""
        lines = [f"{self.checkpoint_name}: {self.status} ({plural(len(self.tables), 'table')})"]
        if self.reason:
            lines.append(f"  {self.status:<12} {self.reason}")
        for t in self.tables:
            if t.status != "Restorable":
                lines.append(f"  {t.status:<12} {t.table}@v{t.version}: {t.reason}")
        return "\n".join(lines)


class RetentionDecision(BaseModel):
    """What retention enforcement does to one expired checkpoint, and why."""

    model_config = _FROZEN

    checkpoint_id: str
    checkpoint_name: str
    checkpoint_type: str
    retention_date: date
    action: Literal["Deactivate", "Keep"]
    reason: str


class RetentionResult(BaseModel):
    """Checkpoints deactivated (or, in a dry run, that would be) and expired ones kept."""

    model_config = _FROZEN

    dry_run: bool
    today: date
    deactivated: tuple[RetentionDecision, ...] = ()
    kept: tuple[RetentionDecision, ...] = ()

    def to_text(self) -> str:
        """One line per decision."""
        verb = "would deactivate" if self.dry_run else "deactivated"
        lines = [
            f"retention on {self.today}: {verb} {len(self.deactivated)}, kept {len(self.kept)}"
        ]
        lines += [f"  {d.action:<10} {d.checkpoint_name}: {d.reason}" for d in self.deactivated]
        lines += [f"  {d.action:<10} {d.checkpoint_name}: {d.reason}" for d in self.kept]
        return "\n".join(lines)


# --------------------------------------------------------------------------------- helpers
def default_name(kind: str, tables: Sequence[TableRef], day: date) -> str:
    """The default checkpoint name of a kind (see the module docstring for the patterns).

    Example:
        >>> default_name("Daily", [TableRef.parse("bronze.account")], date(2025, 1, 15))
        'bronze_backup_2025-01-15'
    """
    schemas = sorted({t.schema_name.lower() for t in tables})
    scope = schemas[0] if len(schemas) == 1 else "all"
    return f"{scope}_{NAME_WORDS[kind]}_{day.isoformat()}"


def _end_of(day: date) -> datetime:
    """The instant a retention date is over (midnight UTC after it)."""
    return datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc) + timedelta(days=1)


def _aware(ts: datetime | None) -> datetime | None:
    return None if ts is None else _utc(ts)


def _utc(ts: datetime) -> datetime:
    """Timestamps read back from a table are UTC; make naive ones aware."""
    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


@dataclass
class _Pin:
    """One table read for a checkpoint (internal)."""

    row: CheckpointTable
    checks: list[ValidationCheck]
    raised: dict[str, str] = field(default_factory=dict)
    at_risk: str | None = None
    log_checkpoint: bool = False
    pinned_at: datetime = field(default_factory=utcnow)


# --------------------------------------------------------------------------------- capability
class Checkpoints:
    """``rt.checkpoints``: create, read, verify and expire checkpoints.

    Args:
        runtime: the `Runtime` (engine, store, config, audit, alerts).

    Attributes:
        retry_wait_seconds: first backoff wait of the creation retries (None: the
            ``table_operation`` policy's; tests set 0).
    """

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._name_lock = threading.Lock()
        self.retry_wait_seconds: float | None = None

    # -- creating --------------------------------------------------------------------------
    def create_table(
        self,
        table: str | TableRef,
        kind: str = "Daily",
        *,
        name: str | None = None,
        notes: str | None = None,
        retention_days: int | None = None,
        parent_checkpoint_id: str | None = None,
        protect_retention: bool = True,
        raise_on_failure: bool | None = None,
    ) -> Checkpoint | None:
        """Checkpoint one table (the per-table ``Daily`` kept for troubleshooting).

        Same arguments and behaviour as `create`, for one table.

        Example:
            >>> # rt.checkpoints.create_table("bronze.account")  # bronze_backup_2025-01-15
        """
        protect_retention = strict_bool(protect_retention, "protect_retention")
        if raise_on_failure is not None:
            raise_on_failure = strict_bool(raise_on_failure, "raise_on_failure")
        return self._create(
            [table],
            kind,
            name,
            notes,
            retention_days,
            parent_checkpoint_id,
            protect_retention,
            raise_on_failure,
        )

    def create(
        self,
        tables: Sequence[str | TableRef] | str | None = None,
        kind: str = "DailyBatch",
        *,
        name: str | None = None,
        notes: str | None = None,
        retention_days: int | None = None,
        parent_checkpoint_id: str | None = None,
        protect_retention: bool = True,
        raise_on_failure: bool | None = None,
        batch_id: str | None = None,
        wait_for_loads_seconds: float | None = None,
    ) -> Checkpoint | None:
        """One checkpoint over many tables: the synchronized restore point after a fan-out.

        A batch checkpoint (DailyBatch, or any kind given ``batch_id``) first waits for the
        batch's loads still in flight into its tables (run ledger: started, neither completed
        nor failed), reading the ledger every ``checkpoint_load_poll_seconds``; loads still in
        flight at the limit leave it ``InFlight`` (never a rollback target, a HIGH alert names
        them). Every pinned table records the last library load its version reflects, and a
        table pinned before its own load of the batch fails the checkpoint.

        Args:
            tables: a list of table names, ``"schema.*"`` (the schema's or layer's enabled
                tables in ``PipelineConfig``), a comma-separated string of those, or None for
                every enabled table. Names are tables of the connected lakehouse.
            kind: Daily, DailyBatch, PrePurge, Manual, PreMaintenance, PreRollback, PostRollback.
            name: the name (default per kind, see the module docstring); a clash gets a suffix.
            notes: free text (at most 4,000 characters).
            retention_days: overrides the kind's retention and the tables' ``PipelineConfig``
                (1 to `MAX_RETENTION_DAYS` = 3,650).
            parent_checkpoint_id: the checkpoint this one follows (e.g. PostRollback's target).
            protect_retention: raise the tables' retention properties to cover the checkpoint;
                False records it ``AtRisk`` where they fall short.
            raise_on_failure: None = by kind: Daily/DailyBatch never fail the caller on a
                runtime failure (engine or store errors, no table readable: audited, retried
                twice on transient errors, a warning logged, None returned); other kinds raise.
                Invalid arguments raise for every kind.
            batch_id: the batch whose loads the checkpoint stands after (default for
                DailyBatch: the pipeline run id; other kinds: none, no wait).
            wait_for_loads_seconds: how long to wait for loads in flight (default
                ``config.checkpoint_load_wait_seconds``; 0 to `MAX_LOAD_WAIT_SECONDS`).

        Returns:
            The `Checkpoint` (``validation_status`` Failed when a table failed its checks,
            InFlight when loads of its batch were still in flight: kept, not a rollback target),
            or None when creation failed and did not raise.

        Raises:
            CheckpointError: creation failed for a kind that raises (the cause chained), e.g.
                no table could be read (a checkpoint of no table is never recorded); or a
                ``schema.*`` scope matches no enabled table (every kind).
            InvalidIdentifierError: a name in ``tables`` is not a table of the connected
                lakehouse (every kind; nothing is written).
            ConfigError: ``tables``, ``kind``, ``name``, ``notes``, ``retention_days`` or
                ``parent_checkpoint_id`` is invalid (every kind; nothing is written).
            ConfigError: ``protect_retention`` or ``raise_on_failure`` is not a boolean (a bool
                or "true"/"false"/"1"/"0"), for every kind; nothing is written.

        Example:
            >>> # cp = rt.checkpoints.create("bronze.*", notes="after Daily Sync")
        """
        # a bad flag is the caller's mistake, raised for every kind (never "None, audited")
        protect_retention = strict_bool(protect_retention, "protect_retention")
        if raise_on_failure is not None:
            raise_on_failure = strict_bool(raise_on_failure, "raise_on_failure")
        _check_text(batch_id, "batch_id", 256)
        wait = self._rt.config.checkpoint_load_wait_seconds
        if wait_for_loads_seconds is not None:
            wait = check_number(
                wait_for_loads_seconds,
                "wait_for_loads_seconds",
                minimum=0,
                maximum=MAX_LOAD_WAIT_SECONDS,
                unit="seconds",
            )
        return self._create(
            tables,
            kind,
            name,
            notes,
            retention_days,
            parent_checkpoint_id,
            protect_retention,
            raise_on_failure,
            (batch_id, float(wait)),
        )

    def _create(
        self,
        tables: Any,
        kind: str,
        name: str | None,
        notes: str | None,
        retention_days: int | None,
        parent: str | None,
        protect: bool,
        raise_on_failure: bool | None,
        batch: tuple[str | None, float] = (None, 0.0),
    ) -> Checkpoint | None:
        # Invalid arguments are the caller's bug, not a runtime failure: refused for EVERY kind,
        # before anything is read or written. "Never fail the caller" (Daily, DailyBatch) is for
        # engine and store failures only.
        kind = _check_kind(kind)
        if retention_days is not None:
            retention_days = check_number(
                retention_days,
                "retention_days",
                minimum=1,
                maximum=MAX_RETENTION_DAYS,
                unit="days",
                integer=True,
            )
        if name is not None and (not isinstance(name, str) or not _NAME.fullmatch(name)):
            raise ConfigError(
                f"parameter 'name': checkpoint name {_shown(name)} is not valid",
                hint="use letters, digits, _ . : - (at most 128 characters, starting with a "
                "letter or digit)",
            )
        _check_text(notes, "notes", 4000)
        _check_text(parent, "parent_checkpoint_id", 128)
        items = self._scope_items(tables)
        raises = kind not in SYNC_KINDS if raise_on_failure is None else raise_on_failure
        scope = _scope_text(tables)
        start = time.perf_counter()
        try:
            return self._create_once(
                items, kind, scope, name, notes, retention_days, parent, protect, start, batch
            )
        except Exception as exc:
            if isinstance(exc, FmdError) and exc.details.get("invalid_argument"):
                raise  # e.g. "schema.*" matches no configured table: the caller's to fix
            self._creation_failed(kind, scope, exc, start)
            if not raises:
                # returned, not raised, but never silent: a line on screen (stderr / the log)
                log.warning(
                    "fmd checkpoints: the %s checkpoint of %s was NOT created: %s (a %s "
                    "checkpoint never fails the caller; audited in SyncAuditLog as "
                    "CheckpointCreated Failed)",
                    kind,
                    scope,
                    exc,
                    kind,
                )
                return None
            if isinstance(exc, CheckpointError):
                raise
            raise CheckpointError(
                f"{kind} checkpoint of {scope} failed: {exc}",
                hint="fix the cause above and create it again",
            ) from exc

    def _create_once(
        self,
        tables: Any,
        kind: str,
        scope: str,
        name: str | None,
        notes: str | None,
        retention_days: int | None,
        parent: str | None,
        protect: bool,
        start: float,
        batch: tuple[str | None, float] = (None, 0.0),
    ) -> Checkpoint:
        rt = self._rt
        refs, configs = self._resolve(tables)
        days = self._retention_days(kind, [configs[r.name.lower()] for r in refs], retention_days)
        end = _end_of(utcnow().date() + timedelta(days=days))
        batch_id = batch[0] or (rt.context.pipeline_run_id if kind == "DailyBatch" else None)
        in_flight = self._wait_for_loads(batch_id, refs, batch[1]) if batch_id else []
        loaded: set[str] = rt.runs.loaded_tables([r.name for r in refs])
        # Every version is read first, in one short burst (the pin window), and only then
        # counted, listed and protected: with 50 tables and 8 workers, a table's version is
        # not read only after the slow work on 40 others.
        reads = rt.map_tables(
            lambda ref: (self._retry(rt.engine.snapshot, ref), utcnow()),
            refs,
            label="Reading version of",
            key=lambda ref: ref.name,
        )
        read = {o.item: o.value for o in reads if o.ok}
        outcomes = rt.map_tables(
            lambda ref: self._retry(
                self._pin_once,
                ref,
                configs[ref.name.lower()],
                end,
                protect,
                ref.name.lower() in loaded,
                read.get(ref.name),
            ),
            refs,
            label="Checkpointing table",
            key=lambda ref: ref.name,
        )
        created = utcnow()
        pins: list[_Pin] = [o.value for o in outcomes if o.ok]
        if not pins:
            # a checkpoint of no table restores nothing: never record one (it would list as a
            # restore point)
            errors = "; ".join(f"{o.item}: {o.error}" for o in outcomes if not o.ok)
            raise CheckpointError(
                f"no table of {scope} could be read, so there is nothing to checkpoint: {errors}",
                hint="fix the tables named above (do they exist in this lakehouse?) and create "
                "the checkpoint again",
            )
        checks = [c for p in pins for c in p.checks]
        checks += [
            ValidationCheck(
                table=o.item,
                check_name="TableReadable",
                expected="readable",
                actual="error",
                passed=False,
                severity="HIGH",
                message=o.error,
            )
            for o in outcomes
            if not o.ok
        ]
        if batch_id:
            checks += self._batch_checks(batch_id, pins, in_flight)
        failed = sorted({c.table or "" for c in checks if not c.passed})
        only_in_flight = all(c.passed or c.check_name == "LoadsCompleted" for c in checks) and any(
            c.check_name == "LoadsCompleted" and not c.passed for c in checks
        )
        status = "InFlight" if only_in_flight else "Failed" if failed else "Validated"
        rows = [p.row for p in pins]
        stamps = [p.pinned_at for p in pins]
        totals = [t.total_rows for t in rows]
        cp = Checkpoint(
            checkpoint_id=str(uuid.uuid4()),
            checkpoint_name=name or "",
            checkpoint_type=kind,
            created_date=created,
            tables=tuple(rows),
            tables_included=len(rows),
            total_rows=None if None in totals else sum(t or 0 for t in totals),
            validation_status=status,
            retention_date=created.date() + timedelta(days=days),
            is_active=True,
            pipeline_run_id=rt.context.pipeline_run_id,
            parent_checkpoint_id=parent,
            notes=notes,
            created_by=rt.context.triggered_by or rt.context.run_id,
            restorability_status="AtRisk" if any(p.at_risk for p in pins) else "Restorable",
            run_id=rt.context.run_id,
            scope=scope,
            batch_id=batch_id,
            pin_window_start=min(stamps),
            pin_window_end=max(stamps),
        )
        cp = self._write(cp, name or default_name(kind, refs, created.date()))
        try:
            self._record_creation(cp, pins, checks, failed, start)
        except Exception as exc:  # the checkpoint is written; its reasons are in CheckpointTables
            log.warning(
                "fmd checkpoints: %s was created but its report failed: %s", cp.checkpoint_name, exc
            )
        return cp

    def _scope_items(self, tables: Any) -> builtins.list[TableRef | str | None]:
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
            raw: builtins.list[Any] = tables.split(",")
        elif isinstance(tables, TableRef):
            raw = [tables]
        elif isinstance(tables, builtins.list | tuple | set | frozenset):
            raw = builtins.list(tables)
        else:
            raise ConfigError(
                f"parameter 'tables' must be table names, got {_shown(tables)}",
                hint="pass ['bronze.account', 'bronze.contact'], 'bronze.account,bronze.contact', "
                "'bronze.*', or None for every enabled table in PipelineConfig",
            )
        items: builtins.list[TableRef | str | None] = []
        for item in raw:
            if isinstance(item, str) and not item.strip():
                continue
            if isinstance(item, str) and item.strip().endswith(".*"):
                group = item.strip()[:-2]
                validate_identifier(group, what="schema or layer of 'tables'")
                items.append(group.lower())
            else:
                items.append(self._rt.table(item, parameter="tables"))
        if not items:
            raise ConfigError(
                f"parameter 'tables' names no table ({_shown(tables)})",
                hint="pass table names or 'schema.*', or None for every enabled table in "
                "PipelineConfig",
            )
        return items

    def _resolve(
        self, items: Sequence[TableRef | str | None]
    ) -> tuple[builtins.list[TableRef], dict[str, TableConfig]]:
        """Table refs of the scope and their configs (one PipelineConfig read)."""
        rt = self._rt
        configs = {c.table.lower(): c for c in rt.table_configs(enabled_only=False)}
        refs: dict[str, TableRef] = {}
        for item in items:
            if isinstance(item, TableRef):
                hits = [item]
            else:
                hits = [
                    c.ref
                    for c in configs.values()
                    if c.enabled
                    and (item is None or item in (c.ref.schema_name.lower(), c.effective_layer))
                ]
                if not hits:
                    text = "the pipeline" if item is None else f"{item}.*"
                    raise CheckpointError(
                        f"no enabled table in PipelineConfig matches {text!r}",
                        hint="configure the tables (rt.configure_table) or name them explicitly",
                        details={"invalid_argument": "tables"},
                    )
            for ref in hits:
                refs.setdefault(ref.name.lower(), ref)
        for key, ref in refs.items():
            configs.setdefault(key, TableConfig(table=ref.name))
        return sorted(refs.values(), key=lambda r: r.name.lower()), configs

    def _wait_for_loads(
        self, batch: str, refs: Sequence[TableRef], limit: float
    ) -> builtins.list[dict[str, Any]]:
        """Wait up to ``limit`` seconds for the batch's loads in flight into ``refs``; the
        ledger rows of those still in flight at the end (none: every load has finished)."""
        rt = self._rt
        names = [r.name for r in refs]
        deadline = time.monotonic() + limit
        while True:
            waiting: builtins.list[dict[str, Any]] = rt.runs.in_flight(batch, names)
            left = deadline - time.monotonic()
            if not waiting or left <= 0:
                return waiting
            shown = ", ".join(
                f"{r['SchemaName']}.{r['TableName']} (run {r['RunId']}, started "
                f"{_utc(r['EventTime']):%H:%M})"
                for r in waiting[:5]
            )
            more = f" and {len(waiting) - 5} more" if len(waiting) > 5 else ""
            log.info(
                "fmd checkpoints: waiting for %s of batch %s: %s%s (%.0f s left)",
                plural(len(waiting), "load"),
                batch,
                shown,
                more,
                left,
            )
            time.sleep(min(rt.config.checkpoint_load_poll_seconds, left))

    def _batch_checks(
        self, batch: str, pins: Sequence[_Pin], in_flight: Sequence[dict[str, Any]]
    ) -> builtins.list[ValidationCheck]:
        """A batch checkpoint's own checks: no load of the batch in flight, and every table
        pinned at or after its own (completed) load of the batch."""
        rt = self._rt
        checks = [
            ValidationCheck(
                table=f"{r['SchemaName']}.{r['TableName']}",
                check_name="LoadsCompleted",
                expected="no load of the batch in flight",
                actual=f"run {r['RunId']} started {_utc(r['EventTime']):%Y-%m-%d %H:%M} UTC",
                passed=False,
                severity="HIGH",
                message=(
                    f"InFlight: {r['SchemaName']}.{r['TableName']} was still being loaded by run "
                    f"{r['RunId']} (entity {r['EntityId']}, started "
                    f"{_utc(r['EventTime']):%H:%M} UTC) when the checkpoint pinned it"
                ),
            )
            for r in in_flight
        ]
        done: dict[str, int] = rt.runs.batch_loads(batch, [p.row.table for p in pins])
        for p in pins:
            load = done.get(p.row.table.lower())
            if load is None:
                continue
            ok = p.row.version >= load
            checks.append(
                ValidationCheck(
                    table=p.row.table,
                    check_name="PinnedAfterBatchLoad",
                    expected=f">= v{load}",
                    actual=f"v{p.row.version}",
                    passed=ok,
                    severity="INFO" if ok else "HIGH",
                    message=None
                    if ok
                    else (
                        f"{p.row.table} is pinned at v{p.row.version}, before its own load of "
                        f"batch {batch} (v{load})"
                    ),
                )
            )
        return checks

    def _retention_days(
        self, kind: str, configs: Sequence[TableConfig], override: int | None
    ) -> int:
        """Per call, else the tables' PipelineConfig (max), else the kind's policy.

        A table's setting replaces the policy of the sync kinds (Daily, DailyBatch); other kinds
        never go below their policy (a PrePurge promise of 365 days is not shortened by it).
        """
        if override is not None:
            return override
        policy = self._rt.config.checkpoint_retention_days.get(kind, DEFAULT_RETENTION_DAYS[kind])
        days = max((c.checkpoint_retention_days or policy for c in configs), default=policy)
        return days if kind in SYNC_KINDS else max(days, policy)

    def _retry(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run one step, retrying transient errors twice (``table_operation`` policy)."""
        r = retryer(
            "table_operation",
            wait_seconds=self.retry_wait_seconds,
            operation=f"checkpoint {getattr(fn, '__name__', 'step')}",
        )
        return r(fn, *args)

    def _pin_once(
        self,
        ref: TableRef,
        cfg: TableConfig,
        end: datetime,
        protect: bool,
        loaded: bool = False,
        read: tuple[TableSnapshot, datetime] | None = None,
    ) -> _Pin:
        """Pin one table's version, count and validate it, protect its retention.

        ``read``: the snapshot already read (and when); else the current version is read now.
        ``loaded``: the run ledger has loads into the table, so its history is read for the
        last one the version reflects (a table no library load wrote needs no history read).
        """
        eng = self._rt.engine
        snap, pinned_at = read if read is not None else (eng.snapshot(ref), utcnow())
        version = snap.version
        load = self._rt.runs.last_load(ref.name, at_version=version) if loaded else None
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
                measure = self._measure(ref, version, cfg, files, snap.columns)
            except CheckpointError as exc:
                problems = [exc.message]
        if measure is None:
            rc = eng.count_rows(ref, version)
            measure = TableMeasure(
                table=ref.name, version=version, total=rc.total, source=rc.source
            )
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
        pin = _Pin(
            row=CheckpointTable(
                schema_name=ref.schema_name,
                table_name=ref.table,
                version=version,
                version_timestamp=_aware(snap.timestamp),
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
                load_time=_aware(load.timestamp) if load else None,
            ),
            checks=checks,
            log_checkpoint=log_checkpoint,
            pinned_at=pinned_at,
        )
        self._protect(ref, snap, end, protect, pin)
        return pin

    def _protect(
        self, ref: TableRef, snap: TableSnapshot, end: datetime, protect: bool, pin: _Pin
    ) -> None:
        """Raise the table's retention properties to cover the version until ``end`` + margin."""
        born = _aware(snap.timestamp) or utcnow()
        need = (
            math.ceil((end - born).total_seconds() / _DAY) + self._rt.config.retention_margin_days
        )
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
            self._rt.engine.set_properties(ref, values, commit=self._rt.commit_options())
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

    def _write(self, cp: Checkpoint, wanted: str) -> Checkpoint:
        """Append the table rows, then the header (a reader never sees a header without them)."""
        store = self._rt.store
        with self._name_lock:
            taken = {
                r["CheckpointName"].lower()
                for r in store.read("CheckpointHistory", columns=["CheckpointName"])
            }
            name = _free_name(wanted, taken)
            cp = cp.model_copy(update={"checkpoint_name": name})
            if cp.tables:
                self._retry(
                    store.append, "CheckpointTables", [_table_row(cp, t) for t in cp.tables]
                )
            self._retry(store.append, "CheckpointHistory", [_history_row(cp)])
        # Another process may have taken the same name in the same instant: the later one renames,
        # and checks again (two renaming processes can pick the same free name too).
        for _ in range(_MAX_RENAMES):
            same = store.read(
                "CheckpointHistory",
                {"CheckpointName": cp.checkpoint_name},
                columns=["CheckpointId", "CreatedDate"],
            )
            first = min(same, key=lambda r: (r["CreatedDate"], r["CheckpointId"]))
            if first["CheckpointId"] == cp.checkpoint_id:
                return cp
            cp = self._write_rename(cp, wanted)
        raise CheckpointError(
            f"checkpoint {cp.checkpoint_id} could not settle on a unique name after "
            f"{_MAX_RENAMES} renames (now {cp.checkpoint_name!r})",
            hint="too many creators of the same name at once: rename it with a distinct name",
        )

    def _write_rename(self, cp: Checkpoint, wanted: str) -> Checkpoint:
        store = self._rt.store
        with self._name_lock:
            taken = {
                r["CheckpointName"].lower()
                for r in store.read("CheckpointHistory", columns=["CheckpointName"])
            }
            name = _free_name(wanted, taken)
            store.update(
                "CheckpointHistory", {"CheckpointId": cp.checkpoint_id}, {"CheckpointName": name}
            )
        return cp.model_copy(update={"checkpoint_name": name})

    def _record_creation(
        self,
        cp: Checkpoint,
        pins: Sequence[_Pin],
        checks: Sequence[ValidationCheck],
        failed: Sequence[str],
        start: float,
    ) -> None:
        """DataValidation rows (failures and tolerances), audit events, alerts; one flush."""
        rt = self._rt
        reported = [c for c in checks if not c.passed or c.tolerance > 0]
        self.record_validations("CheckpointCreate", reported, checkpoint_id=cp.checkpoint_id)
        for p in pins:
            if p.raised:
                rt.audit.event(
                    "RetentionPropertiesRaised",
                    table=p.row.table,
                    details={"checkpoint": cp.checkpoint_name, "properties": p.raised},
                )
        for table in failed:
            reasons = [
                c.message or c.check_name for c in checks if c.table == table and not c.passed
            ]
            rt.audit.event(
                "CheckpointValidation",
                "Failed",
                table=table or None,
                severity="HIGH",
                details={"checkpoint": cp.checkpoint_name, "reasons": reasons},
            )
        at_risk = {p.row.table: p.at_risk for p in pins if p.at_risk}
        rt.audit.event(
            "CheckpointCreated",
            "Succeeded" if cp.validation_status == "Validated" else "Failed",
            rows_read=cp.total_rows,
            duration_ms=int((time.perf_counter() - start) * 1000),
            severity="INFO" if not failed else "HIGH",
            details={
                "scope": f"{cp.checkpoint_type}:{cp.scope}",
                "checkpoint": cp.checkpoint_name,
                "checkpoint_id": cp.checkpoint_id,
                "kind": cp.checkpoint_type,
                "tables": cp.tables_included,
                "validation": cp.validation_status,
                "failed_tables": list(failed),
                "at_risk": at_risk,
                "versions": {t.table: t.version for t in cp.tables},
                "batch_id": cp.batch_id,
                "loads": {t.table: t.load_text(cp.batch_id) for t in cp.tables},
                "pin_window_ms": _window_ms(cp),
                "log_checkpoints": sum(p.log_checkpoint for p in pins),
            },
        )
        rt.audit.flush()
        if failed:
            errors = {
                t or "(checkpoint)": "; ".join(
                    c.message or c.check_name for c in checks if c.table == t and not c.passed
                )
                for t in failed
            }
            in_flight = cp.validation_status == "InFlight"
            if in_flight:
                title = (
                    f"Checkpoint {cp.checkpoint_name} pinned batch {cp.batch_id} while "
                    f"{plural(len(failed), 'load')} were still in flight: not a restore point"
                )
                steps = [
                    "check the runs named above (still running, stalled or crashed?)",
                    "when they have finished (or failed), create the batch checkpoint again",
                ]
            else:
                title = (
                    f"Checkpoint {cp.checkpoint_name} failed validation "
                    f"({plural(len(failed), 'table')})"
                )
                steps = [
                    "read DataValidation for this CheckpointId",
                    "fix the data or PipelineConfig, then create a new checkpoint",
                ]
            rt.alerts.send(
                "HIGH",
                title,
                key=f"checkpoint-{'inflight' if in_flight else 'validation'}:"
                f"{cp.checkpoint_type}:{cp.scope}",
                tables=list(failed),
                errors=errors,
                first_steps=steps,
                details={"checkpoint": cp.checkpoint_name, "batch_id": cp.batch_id},
            )
            if not in_flight:  # a batch still loading is not a failing day
                self._alert_if_failing_days(cp.checkpoint_type, cp.scope or "")

    def _creation_failed(self, kind: str, scope: str, exc: BaseException, start: float) -> None:
        """Audit a creation that raised, and alert on the third failing day in a row."""
        try:
            self._rt.audit.event(
                "CheckpointCreated",
                "Failed",
                error=exc,
                severity="HIGH",
                duration_ms=int((time.perf_counter() - start) * 1000),
                details={"scope": f"{kind}:{scope}", "kind": kind},
            )
            self._rt.audit.flush()
            self._alert_if_failing_days(kind, scope, failed_now=True)
        except Exception as report_exc:  # reporting a failure must never replace it
            log.warning("fmd checkpoints: could not report a failed creation: %s", report_exc)

    def _alert_if_failing_days(self, kind: str, scope: str, *, failed_now: bool = False) -> None:
        """Alert when the scope had failures and no success on each of the last 3 days."""
        key = f"{kind}:{scope}"
        today = utcnow().date()
        events = self._rt.engine.sql(
            "SELECT EventTime, Status, Details FROM {t} WHERE Operation = :op AND EventTime >= :since",
            {"t": self._rt.store.ref("SyncAuditLog")},
            {"op": "CheckpointCreated", "since": _end_of(today - timedelta(days=3))},
        ).to_pylist()
        days: dict[date, set[str]] = {}
        for e in events:
            if json.loads(e["Details"] or "{}").get("scope") == key:
                days.setdefault(_utc(e["EventTime"]).date(), set()).add(e["Status"])
        if failed_now:
            days.setdefault(today, set()).add("Failed")
        streak = [today - timedelta(days=i) for i in range(3)]
        if all("Failed" in days.get(d, ()) and "Succeeded" not in days.get(d, ()) for d in streak):
            self._rt.alerts.send(
                "HIGH",
                f"Checkpoint creation has failed 3 days in a row: {key}",
                key=f"checkpoint-failing-days:{key}",
                first_steps=[
                    "read SyncAuditLog where Operation = 'CheckpointCreated' and Status = 'Failed'",
                    "there is no valid restore point for these tables since the first failure",
                ],
                details={"scope": key, "days": [d.isoformat() for d in streak]},
            )

    # -- measuring and recording -----------------------------------------------------------
    def measure(
        self,
        table: str | TableRef,
        version: int | None = None,
        *,
        config: TableConfig | None = None,
    ) -> TableMeasure:
        """Counts of a table version: one aggregation when tracking columns or keys are configured,
        else the Delta log's statistics.

        Args:
            table: ``schema.table``.
            version: the version (default: current).
            config: the table's configuration when the caller has it (else read from
                ``PipelineConfig``).

        Raises:
            CheckpointError: the aggregation failed (e.g. a configured column does not exist).

        Example:
            >>> # rt.checkpoints.measure("bronze.account", 4).active
        """
        ref = self._rt.table(table)
        if version is not None:
            version = check_number(version, "version", minimum=0, integer=True)
        if config is not None and not isinstance(config, TableConfig):
            raise ConfigError(
                f"parameter 'config' must be a TableConfig, got {type(config).__name__}",
                hint="pass rt.table_config(table), or leave it out",
            )
        v = self._rt.engine.version(ref) if version is None else version
        return self._measure(ref, v, config or self._rt.table_config(ref))

    def _measure(
        self,
        ref: TableRef,
        version: int,
        cfg: TableConfig,
        files: Sequence[DataFile] | None = None,
        columns: Sequence[Column] | None = None,
    ) -> TableMeasure:
        eng = self._rt.engine
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

    def record_validations(
        self, context: str, checks: Sequence[ValidationCheck], checkpoint_id: str | None = None
    ) -> None:
        """Write check results to ``DataValidation`` in one commit (nothing when empty).

        Raises:
            ConfigError: ``context`` or ``checkpoint_id`` is not text, or ``checks`` is not a
                list of `ValidationCheck` (nothing is written).

        Example:
            >>> # rt.checkpoints.record_validations("PostRollback", checks, checkpoint_id=cp_id)
        """
        if not isinstance(context, str) or not context.strip():
            raise ConfigError(
                f"parameter 'context' must be text, got {_shown(context)}",
                hint='pass what the checks belong to, e.g. "PostRollback"',
            )
        _check_text(checkpoint_id, "checkpoint_id", 128)
        if isinstance(checks, str) or not all(isinstance(c, ValidationCheck) for c in checks):
            raise ConfigError(
                "parameter 'checks' must be a list of ValidationCheck",
                hint="pass the ValidationCheck results to record",
            )
        rows = self._validation_rows(context, checks, checkpoint_id)
        if rows:
            self._rt.store.append("DataValidation", rows)

    def _validation_rows(
        self, context: str, checks: Sequence[ValidationCheck], checkpoint_id: str | None
    ) -> builtins.list[dict[str, Any]]:
        rows = []
        for c in checks:
            ref = self._rt.table(c.table) if c.table else None
            rows.append(
                {
                    "ValidationId": str(uuid.uuid4()),
                    "ValidationTime": utcnow(),
                    "RunId": self._rt.context.run_id,
                    "Context": context,
                    "CheckpointId": checkpoint_id,
                    "SchemaName": ref.schema_name if ref else None,
                    "TableName": ref.table if ref else None,
                    "CheckName": c.check_name,
                    "ExpectedValue": c.expected,
                    "ActualValue": c.actual,
                    "Tolerance": c.tolerance,
                    "ValidationPassed": c.passed,
                    "Severity": c.severity,
                    "Message": c.message,
                }
            )
        return rows

    # -- reading ---------------------------------------------------------------------------
    def get(self, name_or_id: str) -> Checkpoint:
        """The checkpoint with that name (or id).

        Raises:
            CheckpointError: none; the message suggests the nearest names.
            ConfigError: ``name_or_id`` is not a non-empty string.

        Example:
            >>> # rt.checkpoints.get("bronze_batch_2025-01-15").table("bronze.account").version
        """
        name_or_id = _check_name_or_id(name_or_id)
        store = self._rt.store
        rows = store.read("CheckpointHistory", {"CheckpointName": name_or_id}) or store.read(
            "CheckpointHistory", {"CheckpointId": name_or_id}
        )
        if not rows:
            names = [
                r["CheckpointName"]
                for r in store.read("CheckpointHistory", columns=["CheckpointName"])
            ]
            near = difflib.get_close_matches(name_or_id, names, n=3, cutoff=0.5)
            raise CheckpointError(
                f"no checkpoint named {name_or_id!r}",
                hint=(f"did you mean {', '.join(near)}? " if near else "")
                + "list them with rt.checkpoints.list() or `fmd checkpoint list`",
            )
        row = min(rows, key=lambda r: (r["CreatedDate"], r["CheckpointId"]))
        return self._assemble([row])[0]

    def list(
        self,
        active_only: bool = True,
        kind: str | None = None,
        table: str | TableRef | None = None,
        since: datetime | date | None = None,
    ) -> list[Checkpoint]:
        """Checkpoints, newest first.

        Args:
            active_only: only active ones (not expired by retention).
            kind: only this kind.
            table: only those covering this table.
            since: only those created at or after this instant (a date, or ``YYYY-MM-DD``
                text: its midnight UTC).

        A checkpoint that pins no table (an old row; none is created any more) is listed with
        restorability ``Unrestorable`` and is never a restore target.

        Raises:
            ConfigError: an argument of the wrong type, or an unknown ``kind``.
            InvalidIdentifierError: ``table`` is not a table of the connected lakehouse.

        Example:
            >>> # [c.checkpoint_name for c in rt.checkpoints.list(kind="DailyBatch")]
        """
        active_only = strict_bool(active_only, "active_only")
        kind = None if kind is None else _check_kind(kind)
        wanted = None if table is None else self._rt.table(table).name.lower()
        since = _since(since)
        where: dict[str, Any] = {}
        if active_only:
            where["IsActive"] = True
        if kind:
            where["CheckpointType"] = kind
        rows = self._rt.store.read("CheckpointHistory", where)
        if since is not None:
            floor = (
                _utc(since) if isinstance(since, datetime) else _end_of(since - timedelta(days=1))
            )
            rows = [r for r in rows if _utc(r["CreatedDate"]) >= floor]
        cps = self._assemble(rows)
        if wanted is not None:
            cps = [c for c in cps if any(t.table.lower() == wanted for t in c.tables)]
        return sorted(cps, key=lambda c: (c.created_date, c.checkpoint_name), reverse=True)

    def _assemble(self, rows: Sequence[dict[str, Any]]) -> builtins.list[Checkpoint]:
        """Header rows + their CheckpointTables rows -> Checkpoints (one read of the tables)."""
        if not rows:
            return []
        ids = [r["CheckpointId"] for r in rows]
        where = {"CheckpointId": ids} if len(ids) <= 500 else None
        by_id: dict[str, builtins.list[CheckpointTable]] = {i: [] for i in ids}
        for t in self._rt.store.read("CheckpointTables", where):
            if t["CheckpointId"] in by_id:
                by_id[t["CheckpointId"]].append(_table_from_row(t))
        return [_checkpoint_from_row(r, by_id[r["CheckpointId"]]) for r in rows]

    def pinned_versions(self, active_only: bool = True) -> dict[str, builtins.list[int]]:
        """``"schema.table"`` -> sorted versions pinned by (active) checkpoints.

        Maintenance's keep-set: VACUUM must keep these versions' files. Failed checkpoints count
        too (keeping more is safe; an operator may still want to inspect them).

        Example:
            >>> # rt.checkpoints.pinned_versions()["bronze.account"]  # [3, 7]
        """
        active_only = strict_bool(active_only, "active_only")
        out: dict[str, set[int]] = {}
        for cp in self.list(active_only=active_only):
            for t in cp.tables:
                out.setdefault(t.table, set()).add(t.version)
        return {k: sorted(v) for k, v in sorted(out.items())}

    # -- restorability ---------------------------------------------------------------------
    def verify(self, name_or_id: str) -> VerifyResult:
        """Check that a checkpoint can still be restored, table by table.

        For each table: the pinned version is still in the transaction log, every data and
        deletion-vector file it needs exists, its files are the ones pinned (manifest digest),
        and the table's retention properties still cover the version's age. ``AtRisk`` when
        that coverage ends before the checkpoint's retention date or within
        ``config.at_risk_days``. Results go to ``DataValidation``, the audit log
        (``CheckpointVerify``) and the header (RestorabilityStatus, LastVerifiedDate); active
        checkpoints that are not Restorable raise an alert. A checkpoint that pins no table (or
        fewer than its header says) is ``Unrestorable`` with that reason.

        Raises:
            CheckpointError: no such checkpoint.
            ConfigError: ``name_or_id`` is not a non-empty string.

        Example:
            >>> # rt.checkpoints.verify("bronze_batch_2025-01-15").status
        """
        return self._verify_many([self.get(name_or_id)])[0]

    def verify_all(self) -> builtins.list[VerifyResult]:
        """Verify every active checkpoint (the weekly job); see `verify`."""
        return self._verify_many(self.list(active_only=True))

    def _verify_many(self, cps: Sequence[Checkpoint]) -> builtins.list[VerifyResult]:
        rt = self._rt
        now = utcnow()
        pairs = [(cp, t) for cp in cps for t in cp.tables]
        outcomes = rt.map_tables(
            lambda pair: self._verify_table(pair[0], pair[1], now),
            pairs,
            label="Verifying table",
            key=lambda pair: f"{pair[0].checkpoint_name}/{pair[1].table}",
        )
        results, checks = [], []
        for cp in cps:
            tvs = []
            for (owner, t), o in zip(pairs, outcomes, strict=True):
                if owner is cp:
                    tvs.append(
                        o.value
                        if o.ok
                        else TableVerification(
                            table=t.table,
                            version=t.version,
                            status="Unrestorable",
                            reason=f"could not verify: {o.error}",
                        )
                    )
            status: RestorabilityStatus = max(
                (v.status for v in tvs), key=_RANK.__getitem__, default="Unrestorable"
            )
            if cp.problem:  # no table (or not all) pinned: never Restorable, whatever the rest
                status = "Unrestorable"
                checks.append(
                    (
                        cp.checkpoint_id,
                        ValidationCheck(
                            table=None,
                            check_name="PinsItsTables",
                            expected=f"{cp.tables_included} table(s), at least one",
                            actual=str(len(cp.tables)),
                            passed=False,
                            severity="HIGH",
                            message=cp.problem,
                        ),
                    )
                )
                rt.audit.event(
                    "CheckpointVerify",
                    _AUDIT_STATUS[status],
                    severity=_SEVERITY[status],
                    details={
                        "checkpoint": cp.checkpoint_name,
                        "status": status,
                        "reason": cp.problem,
                    },
                )
            results.append(
                VerifyResult(
                    checkpoint_id=cp.checkpoint_id,
                    checkpoint_name=cp.checkpoint_name,
                    status=status,
                    tables=tuple(tvs),
                    is_active=cp.is_active,
                    reason=cp.problem,
                )
            )
            for v in tvs:
                checks.append(
                    (
                        cp.checkpoint_id,
                        ValidationCheck(
                            table=v.table,
                            check_name="Restorable",
                            expected="Restorable",
                            actual=v.status,
                            passed=v.status == "Restorable",
                            severity=_SEVERITY[v.status],
                            message=v.reason,
                        ),
                    )
                )
                rt.audit.event(
                    "CheckpointVerify",
                    _AUDIT_STATUS[v.status],
                    table=v.table,
                    severity=_SEVERITY[v.status],
                    details={
                        "checkpoint": cp.checkpoint_name,
                        "version": v.version,
                        "status": v.status,
                        "reason": v.reason,
                        "missing_files": v.missing_files,
                        "expires_in_days": v.expires_in_days,
                    },
                )
        rows = [
            r for cp_id, c in checks for r in self._validation_rows("CheckpointVerify", [c], cp_id)
        ]
        if rows:
            rt.store.append("DataValidation", rows)  # one commit for every checkpoint verified
        for level in _RANK:
            ids = [r.checkpoint_id for r in results if r.status == level]
            if ids:
                rt.store.update(
                    "CheckpointHistory",
                    {"CheckpointId": ids},
                    {"RestorabilityStatus": level, "LastVerifiedDate": now},
                )
        rt.audit.flush()
        self._alert_verify(results)
        return results

    def _verify_table(self, cp: Checkpoint, t: CheckpointTable, now: datetime) -> TableVerification:
        eng, ref = self._rt.engine, TableRef(schema_name=t.schema_name, table=t.table_name)

        def result(status: RestorabilityStatus, reason: str | None, **kw: Any) -> TableVerification:
            return TableVerification(
                table=t.table, version=t.version, status=status, reason=reason, **kw
            )

        if not eng.exists(ref):
            return result("Unrestorable", "the table no longer exists")
        props = eng.properties(ref)
        days = {k: property_days(props, k, table=t.table) for k in DEFAULT_PROPERTY_DAYS}
        prop, cover = min(days.items(), key=lambda kv: kv[1])
        born = _aware(t.version_timestamp) or cp.created_date
        until = born + timedelta(days=cover)
        left = round((until - now).total_seconds() / _DAY, 2)
        expired = result(
            "Unrestorable",
            f"version {t.version} is {(now - born).days} days old, "
            f"older than {prop} ({cover:g} days): Delta 4.1+ refuses RESTORE and "
            "VACUUM may delete its files; raise the property to recover it "
            "while its files exist",
            expires_in_days=left,
        )
        try:
            eng.snapshot(ref, t.version)
        except FmdError as exc:
            if isinstance(exc, CorruptLogError):  # the log is there but unreadable: not cleanup
                return result("Unrestorable", f"{exc.message}; what to do: {exc.hint}")
            if until < now:  # Delta 4.1+ refuses to read it at all: the retention is the reason
                return expired
            return result(
                "Unrestorable",
                f"version {t.version} is no longer in the transaction "
                f"log (delta.logRetentionDuration cleanup?): {exc.message}",
            )
        missing = eng.missing_files(ref, t.version)
        if missing:
            return result(
                "Unrestorable",
                f"{len(missing)} file(s) version {t.version} needs were "
                f"deleted (VACUUM), e.g. {missing[0]}",
                missing_files=len(missing),
            )
        if manifest_digest(eng.files(ref, t.version)) != t.manifest_digest:
            return result(
                "Unrestorable",
                f"version {t.version} no longer has the pinned files (the table was recreated?)",
            )
        if until < now:
            return expired
        need = max(_end_of(cp.retention_date), now + timedelta(days=self._rt.config.at_risk_days))
        if cp.is_active and until < need:
            return result(
                "AtRisk",
                f"{prop} ({cover:g} days) covers version {t.version} only "
                f"until {until:%Y-%m-%d %H:%M} UTC (in {left:g} days), before "
                f"the checkpoint expires on {cp.retention_date}",
                expires_in_days=left,
            )
        return result("Restorable", None, expires_in_days=left)

    def _alert_verify(self, results: Sequence[VerifyResult]) -> None:
        levels: tuple[tuple[str, AlertSeverity], ...] = (
            ("Unrestorable", "HIGH"),
            ("AtRisk", "MEDIUM"),
        )
        for status, severity in levels:
            bad = [r for r in results if r.is_active and r.status == status]
            if not bad:
                continue
            errors = {
                f"{r.checkpoint_name}/{t.table}": t.reason or status
                for r in bad
                for t in r.tables
                if t.status == status
            }
            errors |= {r.checkpoint_name: r.reason for r in bad if r.reason}
            self._rt.alerts.send(
                severity,
                f"{len(bad)} active checkpoint(s) {status}: "
                + ", ".join(r.checkpoint_name for r in bad[:5]),
                key=f"checkpoint-verify:{status}:"
                + ",".join(sorted(r.checkpoint_name for r in bad)),
                tables=sorted({t.table for r in bad for t in r.tables if t.status == status}),
                errors=errors,
                first_steps=[
                    "do not roll back to an Unrestorable checkpoint; take a new one",
                    "raise the tables' retention (rt.maintenance.set_retention) for AtRisk ones",
                ],
            )

    # -- retention -------------------------------------------------------------------------
    def enforce_retention(self, dry_run: bool = True, today: date | None = None) -> RetentionResult:
        """Deactivate expired checkpoints (IsActive = false); rows are never deleted.

        Expired = RetentionDate before ``today``. Manual checkpoints are kept unless
        MarkedForDeletion; no kind is deactivated before its date (PrePurge's 365 days hold).
        Every decision is audited (``CheckpointRetentionEnforcement``), dry runs included.

        Args:
            dry_run: report only (the default); a bool or "true"/"false"/"1"/"0".
            today: the date to judge expiry by (default: today, UTC).

        Raises:
            ConfigError: ``dry_run`` is not a boolean; nothing is written.

        Example:
            >>> # print(rt.checkpoints.enforce_retention(dry_run=False).to_text())
        """
        # "false" from a pipeline must deactivate for real, and the result and audit say so
        dry_run = strict_bool(dry_run, "dry_run")
        if today is not None and not isinstance(today, date):
            raise ConfigError(
                f"parameter 'today' must be a date, got {_shown(today)}",
                hint="pass today=date(2025, 1, 15), or leave it out for today (UTC)",
            )
        if isinstance(today, datetime):
            today = _utc(today).date()
        rt = self._rt
        today = today or utcnow().date()
        rows = rt.store.read("CheckpointHistory", {"IsActive": True})
        out: dict[str, builtins.list[RetentionDecision]] = {"Deactivate": [], "Keep": []}
        for r in sorted(rows, key=lambda r: (r["RetentionDate"], r["CheckpointName"])):
            if r["RetentionDate"] >= today:
                continue
            manual_kept = r["CheckpointType"] == "Manual" and not r["MarkedForDeletion"]
            action: Literal["Deactivate", "Keep"] = "Keep" if manual_kept else "Deactivate"
            reason = (
                "Manual checkpoint not marked for deletion"
                if manual_kept
                else f"expired on {r['RetentionDate']}"
            )
            out[action].append(
                RetentionDecision(
                    checkpoint_id=r["CheckpointId"],
                    checkpoint_name=r["CheckpointName"],
                    checkpoint_type=r["CheckpointType"],
                    retention_date=r["RetentionDate"],
                    action=action,
                    reason=reason,
                )
            )
        ids = [d.checkpoint_id for d in out["Deactivate"]]
        if ids and not dry_run:
            rt.store.update(
                "CheckpointHistory",
                {"CheckpointId": ids},
                {"IsActive": False, "DeactivatedDate": utcnow()},
            )
        for d in out["Deactivate"] + out["Keep"]:
            rt.audit.event(
                "CheckpointRetentionEnforcement",
                "Skipped" if d.action == "Keep" or dry_run else "Succeeded",
                dry_run=dry_run,
                details={
                    "checkpoint": d.checkpoint_name,
                    "kind": d.checkpoint_type,
                    "action": d.action,
                    "reason": d.reason,
                    "retention_date": d.retention_date.isoformat(),
                },
            )
        rt.audit.flush()
        return RetentionResult(
            dry_run=dry_run,
            today=today,
            deactivated=tuple(out["Deactivate"]),
            kept=tuple(out["Keep"]),
        )

    def mark_for_deletion(self, name_or_id: str, *, reason: str | None = None) -> Checkpoint:
        """Let retention deactivate a Manual checkpoint once its RetentionDate has passed.

        Raises:
            CheckpointError: no such checkpoint.
            ConfigError: ``name_or_id`` or ``reason`` is not text.

        Example:
            >>> # rt.checkpoints.mark_for_deletion("bronze_manual_2025-01-15", reason="superseded")
        """
        _check_text(reason, "reason", 1000)
        cp = self.get(name_or_id)
        self._rt.store.update(
            "CheckpointHistory", {"CheckpointId": cp.checkpoint_id}, {"MarkedForDeletion": True}
        )
        self._rt.audit.event(
            "CheckpointMarkedForDeletion",
            details={"checkpoint": cp.checkpoint_name, "reason": reason},
            flush=True,
        )
        return cp.model_copy(update={"marked_for_deletion": True})


# --------------------------------------------------------------------------------- arguments
def _window_ms(cp: Checkpoint) -> int | None:
    """Milliseconds from the first to the last table's version read (None when unknown)."""
    if cp.pin_window_start is None or cp.pin_window_end is None:
        return None
    return int((cp.pin_window_end - cp.pin_window_start).total_seconds() * 1000)


def _shown(value: Any) -> str:
    text = repr(value)
    return (text if len(text) <= 60 else text[:57] + "...") + f" ({type(value).__name__})"


def _check_kind(kind: Any) -> str:
    if kind not in CHECKPOINT_KINDS:
        raise ConfigError(
            f"parameter 'kind': checkpoint kind {_shown(kind)} is not valid",
            hint=f"use one of {', '.join(CHECKPOINT_KINDS)}",
        )
    return str(kind)


def _check_text(value: Any, parameter: str, longest: int) -> None:
    if value is not None and (not isinstance(value, str) or len(value) > longest):
        raise ConfigError(
            f"parameter {parameter!r} must be text of at most {longest} characters, got "
            f"{_shown(value)}",
            hint=f"pass {parameter}='...' or leave it out",
        )


def _since(value: Any) -> datetime | date | None:
    if value is None or isinstance(value, datetime | date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(
        f"parameter 'since' must be a date or datetime, got {_shown(value)}",
        hint="pass since=date(2025, 1, 15) or since='2025-01-15'",
    )


def _check_name_or_id(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            f"parameter 'name_or_id' must be a checkpoint name or id, got {_shown(value)}",
            hint="list them with rt.checkpoints.list() or `fmd checkpoint list`",
        )
    return value.strip()


# --------------------------------------------------------------------------------- rows
def _scope_text(tables: Any) -> str:
    if tables is None:
        return "PipelineConfig"
    if isinstance(tables, str):
        tables = [t for t in tables.split(",") if t.strip()]
    if isinstance(tables, TableRef):
        tables = [tables]
    return ",".join(sorted(str(getattr(t, "name", t)).strip().lower() for t in tables))


def _free_name(wanted: str, taken: Iterable[str]) -> str:
    taken = set(taken)
    name, n = wanted, 1
    while name.lower() in taken:
        n += 1
        name = f"{wanted}_{n}"
    return name


def _history_row(cp: Checkpoint) -> dict[str, Any]:
    return {
        "CheckpointId": cp.checkpoint_id,
        "CheckpointName": cp.checkpoint_name,
        "CheckpointType": cp.checkpoint_type,
        "CreatedDate": cp.created_date,
        "TablesIncluded": cp.tables_included,
        "TotalRows": cp.total_rows,
        "ValidationStatus": cp.validation_status,
        "RetentionDate": cp.retention_date,
        "IsActive": cp.is_active,
        "PipelineRunId": cp.pipeline_run_id,
        "ParentCheckpointId": cp.parent_checkpoint_id,
        "Notes": cp.notes,
        "CreatedBy": cp.created_by,
        "MarkedForDeletion": cp.marked_for_deletion,
        "RunId": cp.run_id,
        "Scope": cp.scope,
        "RestorabilityStatus": cp.restorability_status,
        "BatchId": cp.batch_id,
        "PinWindowStart": cp.pin_window_start,
        "PinWindowEnd": cp.pin_window_end,
    }


def _table_row(cp: Checkpoint, t: CheckpointTable) -> dict[str, Any]:
    return {
        "CheckpointId": cp.checkpoint_id,
        "SchemaName": t.schema_name,
        "TableName": t.table_name,
        "TableVersion": t.version,
        "VersionTimestamp": t.version_timestamp,
        "TotalRows": t.total_rows,
        "ActiveRows": t.active_rows,
        "DeletedRows": t.deleted_rows,
        "PurgedRows": t.purged_rows,
        "CountSource": t.count_source,
        "SchemaFingerprint": t.schema_fingerprint,
        "ManifestDigest": t.manifest_digest,
        "FileCount": t.file_count,
        "TotalBytes": t.total_bytes,
        "ValidationStatus": t.validation_status,
        "ValidationMessage": t.validation_message,
        "CreatedDate": cp.created_date,
        "LoadRunId": t.load_run_id,
        "LoadBatchId": t.load_batch_id,
        "LoadVersion": t.load_version,
        "LoadTime": t.load_time,
    }


def _table_from_row(r: dict[str, Any]) -> CheckpointTable:
    return CheckpointTable(
        schema_name=r["SchemaName"],
        table_name=r["TableName"],
        version=int(r["TableVersion"]),
        version_timestamp=_aware(r["VersionTimestamp"]),
        total_rows=r["TotalRows"],
        active_rows=r["ActiveRows"],
        deleted_rows=r["DeletedRows"],
        purged_rows=r["PurgedRows"],
        count_source=r["CountSource"] or "stats",
        schema_fingerprint=r["SchemaFingerprint"] or "",
        manifest_digest=r["ManifestDigest"] or "",
        file_count=int(r["FileCount"] or 0),
        total_bytes=int(r["TotalBytes"] or 0),
        validation_status=r["ValidationStatus"] or "Validated",
        validation_message=r["ValidationMessage"],
        load_run_id=r.get("LoadRunId"),
        load_batch_id=r.get("LoadBatchId"),
        load_version=None if r.get("LoadVersion") is None else int(r["LoadVersion"]),
        load_time=_aware(r.get("LoadTime")),
    )


def _problem(r: dict[str, Any], tables: Sequence[CheckpointTable]) -> str | None:
    """Why a stored checkpoint cannot be a restore point whatever its header says, or None."""
    pinned = len({t.table.lower() for t in tables})
    if pinned == 0:
        return (
            "the checkpoint pins no table (TablesIncluded = "
            f"{r['TablesIncluded']}): it cannot restore anything; create a new one"
        )
    if r["TablesIncluded"] is not None and pinned < int(r["TablesIncluded"]):
        return (
            f"the header says {r['TablesIncluded']} tables but CheckpointTables pins {pinned}: "
            "a partial restore point; create a new one"
        )
    return None


def _checkpoint_from_row(r: dict[str, Any], tables: Sequence[CheckpointTable]) -> Checkpoint:
    problem = _problem(r, tables)
    return Checkpoint(
        problem=problem,
        checkpoint_id=r["CheckpointId"],
        checkpoint_name=r["CheckpointName"],
        checkpoint_type=r["CheckpointType"],
        created_date=_utc(r["CreatedDate"]),
        tables=tuple(sorted(tables, key=lambda t: t.table.lower())),
        tables_included=int(r["TablesIncluded"]),
        total_rows=r["TotalRows"],
        validation_status="Invalid" if problem else r["ValidationStatus"],
        retention_date=r["RetentionDate"],
        is_active=bool(r["IsActive"]),
        pipeline_run_id=r["PipelineRunId"],
        parent_checkpoint_id=r["ParentCheckpointId"],
        notes=r["Notes"],
        created_by=r["CreatedBy"],
        marked_for_deletion=bool(r["MarkedForDeletion"]),
        restorability_status="Unrestorable" if problem else r["RestorabilityStatus"],
        run_id=r["RunId"],
        scope=r["Scope"],
        last_verified_date=_aware(r["LastVerifiedDate"]),
        deactivated_date=_aware(r["DeactivatedDate"]),
        batch_id=r.get("BatchId"),
        pin_window_start=_aware(r.get("PinWindowStart")),
        pin_window_end=_aware(r.get("PinWindowEnd")),
    )


# --------------------------------------------------------------------------------- CLI, demo
def render_table(cps: Sequence[Checkpoint]) -> str:
    """A readable text table of checkpoints (the ``fmd checkpoint list`` output).

    Example:
        >>> render_table([])
        'no checkpoints'
    """
    if not cps:
        return "no checkpoints"
    header = (
        "NAME",
        "TYPE",
        "CREATED (UTC)",
        "TABLES",
        "ROWS",
        "VALIDATION",
        "RETAIN UNTIL",
        "ACTIVE",
        "RESTORABLE",
    )
    rows = [header] + [
        (
            c.checkpoint_name,
            c.checkpoint_type,
            f"{c.created_date:%Y-%m-%d %H:%M}",
            str(c.tables_included),
            "-" if c.total_rows is None else f"{c.total_rows:,}",
            c.validation_status,
            c.retention_date.isoformat(),
            "yes" if c.is_active else "no",
            c.restorability_status or "-",
        )
        for c in cps
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def render_pins(cp: Checkpoint) -> str:
    """A checkpoint's pinned versions and the load each reflects (``fmd checkpoint list
    --tables``): ``bronze.contact v8 = batch B1 (v8, ...): not loaded in this batch``.

    Example:
        >>> # print(render_pins(rt.checkpoints.get("bronze_batch_2025-01-15")))
    """
    window = _window_ms(cp)
    head = f"{cp.checkpoint_name} ({cp.validation_status}"
    head += f", batch {cp.batch_id}" if cp.batch_id else ""
    head += f", pinned within {window} ms)" if window is not None else ")"
    return "\n".join([head, *(f"  {t.load_text(cp.batch_id)}" for t in cp.tables)])


__all__ = [
    "BASELINE_PREFIX",
    "DELETED_FILE_RETENTION",
    "LOG_RETENTION",
    "NAME_WORDS",
    "SYNC_KINDS",
    "Checkpoint",
    "CheckpointTable",
    "Checkpoints",
    "RetentionDecision",
    "RetentionResult",
    "TableMeasure",
    "TableVerification",
    "ValidationCheck",
    "VerifyResult",
    "aggregation_sql",
    "check_measure",
    "default_name",
    "manifest_digest",
    "parse_interval_days",
    "property_days",
    "render_table",
    "schema_fingerprint",
]
