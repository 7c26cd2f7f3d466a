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

This facade holds the `Checkpoints` capability (``rt.checkpoints``); the work is done by phase in
private modules: ``_create`` (arguments to written checkpoint, the batch wait), ``_pin`` (one
table: version, counts, checks, retention protection), ``_record`` (rows under a unique name,
audit, alerts), ``_read`` (get, list), ``_verify`` (restorability), ``_expiry`` (retention
enforcement), ``_rows`` (metadata rows), ``_models``, ``_inputs`` (argument checks) and ``_text``.
Checks and measures are `fmd_runtime.validation`'s, retention properties `fmd_runtime.retention`'s;
their names are re-exported here as before.

Example:
    >>> # cp = rt.checkpoints.create("bronze.*")              # DailyBatch after the sync's fan-out
    >>> # rt.checkpoints.verify(cp.checkpoint_name).status     # 'Restorable'
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING

from fmd_runtime.config import TableConfig, check_number, strict_bool
from fmd_runtime.errors import ConfigError
from fmd_runtime.retention import (
    BASELINE_PREFIX,
    DELETED_FILE_RETENTION,
    LOG_RETENTION,
    parse_interval_days,
    property_days,
)
from fmd_runtime.tables import TableRef
from fmd_runtime.validation import (
    TableMeasure,
    ValidationCheck,
    aggregation_sql,
    check_measure,
    manifest_digest,
    schema_fingerprint,
)

from . import _create, _expiry, _inputs, _pin, _read, _rows, _verify
from ._models import (
    NAME_WORDS,
    SYNC_KINDS,
    Checkpoint,
    CheckpointKind,
    CheckpointTable,
    RestorabilityStatus,
    RetentionDecision,
    RetentionResult,
    TableVerification,
    VerifyResult,
    default_name,
)
from ._text import render_pins, render_table

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime


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
        # one checkpoint name chosen at a time in this process (other processes: `_record`)
        self._name_lock = threading.Lock()
        self.retry_wait_seconds: float | None = None

    # -- creating --------------------------------------------------------------------------
    def create_table(
        self,
        table: str | TableRef,
        *,
        kind: CheckpointKind = "Daily",
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
        return _create.create_checkpoint(
            self._rt,
            [table],
            kind=kind,
            name=name,
            notes=notes,
            retention_days=retention_days,
            parent=parent_checkpoint_id,
            protect=protect_retention,
            raise_on_failure=raise_on_failure,
            lock=self._name_lock,
            retry_wait_seconds=self.retry_wait_seconds,
        )

    def create(
        self,
        tables: Sequence[str | TableRef] | str | None = None,
        *,
        kind: CheckpointKind = "DailyBatch",
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
            kind: a `CheckpointKind`: Daily, DailyBatch, PrePurge, Manual, PreMaintenance,
                PreRollback, PostRollback.
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
        _inputs.check_text(batch_id, "batch_id", 256)
        wait = _inputs.check_wait(self._rt, wait_for_loads_seconds)
        return _create.create_checkpoint(
            self._rt,
            tables,
            kind=kind,
            name=name,
            notes=notes,
            retention_days=retention_days,
            parent=parent_checkpoint_id,
            protect=protect_retention,
            raise_on_failure=raise_on_failure,
            batch=(batch_id, wait),
            lock=self._name_lock,
            retry_wait_seconds=self.retry_wait_seconds,
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
        return _pin.measure_table(self._rt, ref, v, config or self._rt.table_config(ref))

    def record_validations(
        self,
        context: str,
        checks: Sequence[ValidationCheck],
        *,
        checkpoint_id: str | None = None,
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
                f"parameter 'context' must be text, got {_inputs.shown(context)}",
                hint='pass what the checks belong to, e.g. "PostRollback"',
            )
        _inputs.check_text(checkpoint_id, "checkpoint_id", 128)
        if isinstance(checks, str) or not all(isinstance(c, ValidationCheck) for c in checks):
            raise ConfigError(
                "parameter 'checks' must be a list of ValidationCheck",
                hint="pass the ValidationCheck results to record",
            )
        rows = _rows.validation_rows(self._rt, context, checks, checkpoint_id)
        if rows:
            self._rt.store.append("DataValidation", rows)

    # -- reading ---------------------------------------------------------------------------
    def get(self, name_or_id: str) -> Checkpoint:
        """The checkpoint with that name (or id).

        Raises:
            CheckpointError: none; the message suggests the nearest names.
            ConfigError: ``name_or_id`` is not a non-empty string.

        Example:
            >>> # rt.checkpoints.get("bronze_batch_2025-01-15").table("bronze.account").version
        """
        return _read.get_checkpoint(self._rt, _inputs.check_name_or_id(name_or_id))

    def list(
        self,
        *,
        active_only: bool = True,
        kind: str | None = None,
        table: str | TableRef | None = None,
        since: datetime | date | None = None,
    ) -> list[Checkpoint]:
        """Checkpoints, newest first.

        Args:
            active_only: only active ones (not expired by retention).
            kind: only this kind (one of `CheckpointKind`'s values).
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
        return _read.list_checkpoints(
            self._rt,
            active_only=strict_bool(active_only, "active_only"),
            kind=None if kind is None else _inputs.check_kind(kind),
            table=None if table is None else self._rt.table(table).name.lower(),
            since=_inputs.check_since(since),
        )

    def pinned_versions(self, *, active_only: bool = True) -> dict[str, builtins.list[int]]:
        """``"schema.table"`` -> sorted versions pinned by (active) checkpoints.

        Maintenance's keep-set: VACUUM must keep these versions' files. Failed checkpoints count
        too (keeping more is safe; an operator may still want to inspect them).

        Example:
            >>> # rt.checkpoints.pinned_versions()["bronze.account"]  # [3, 7]
        """
        return _read.pinned_versions(self._rt, active_only=strict_bool(active_only, "active_only"))

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
        return _verify.verify_checkpoints(self._rt, [self.get(name_or_id)])[0]

    def verify_many(
        self, checkpoints: Sequence[Checkpoint], *, alert: bool = True
    ) -> builtins.list[VerifyResult]:
        """Verify checkpoints already read (one pass over all their tables); see `verify`.

        Args:
            checkpoints: the checkpoints (from `list` or `get`).
            alert: raise the usual alert for the active ones not Restorable; False when the
                caller raises its own alert explaining why (the health scan names the foreign
                VACUUM that broke them).

        Raises:
            ConfigError: ``checkpoints`` is not a list of `Checkpoint`, or ``alert`` is not a
                boolean.

        Example:
            >>> # rt.checkpoints.verify_many(rt.checkpoints.list(table="bronze.account"))
        """
        alert = strict_bool(alert, "alert")
        if isinstance(checkpoints, str) or not all(isinstance(c, Checkpoint) for c in checkpoints):
            raise ConfigError(
                "parameter 'checkpoints' must be a list of Checkpoint",
                hint="pass what rt.checkpoints.list() returns",
            )
        return _verify.verify_checkpoints(self._rt, list(checkpoints), alert=alert)

    def verify_all(self) -> builtins.list[VerifyResult]:
        """Verify every active checkpoint (the weekly job); see `verify`.

        Example:
            >>> # [r.checkpoint_name for r in rt.checkpoints.verify_all() if r.status != "Restorable"]
        """
        return _verify.verify_checkpoints(self._rt, self.list(active_only=True))

    # -- retention -------------------------------------------------------------------------
    def enforce_retention(
        self, *, dry_run: bool = True, today: date | None = None
    ) -> RetentionResult:
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
        return _expiry.enforce_retention(
            self._rt, dry_run=dry_run, today=_inputs.check_today(today)
        )

    def mark_for_deletion(self, name_or_id: str, *, reason: str | None = None) -> Checkpoint:
        """Let retention deactivate a Manual checkpoint once its RetentionDate has passed.

        Raises:
            CheckpointError: no such checkpoint.
            ConfigError: ``name_or_id`` or ``reason`` is not text.

        Example:
            >>> # rt.checkpoints.mark_for_deletion("bronze_manual_2025-01-15", reason="superseded")
        """
        _inputs.check_text(reason, "reason", 1000)
        return _expiry.mark_for_deletion(self._rt, self.get(name_or_id), reason)


__all__ = [
    "BASELINE_PREFIX",
    "DELETED_FILE_RETENTION",
    "LOG_RETENTION",
    "NAME_WORDS",
    "SYNC_KINDS",
    "Checkpoint",
    "CheckpointKind",
    "CheckpointTable",
    "Checkpoints",
    "RestorabilityStatus",
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
    "render_pins",
    "render_table",
    "schema_fingerprint",
]
