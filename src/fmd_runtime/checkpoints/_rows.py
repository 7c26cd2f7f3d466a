"""Checkpoints as metadata rows and back: ``CheckpointHistory``, ``CheckpointTables`` and
``DataValidation``.

The PascalCase columns are the ones operators query (DESIGN.md "Metadata tables"); mapping them in
one place keeps the write path (creating), the read path (get, list) and the check results
(creating, verifying, rollback's validation) on the same column names. A stored checkpoint that
pins no table, or fewer than its header says, is read with its `problem` (never a restore target).

Example:
    >>> # history_row(cp)["CheckpointName"] == cp.checkpoint_name
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fmd_runtime._base import as_utc
from fmd_runtime.store import utcnow
from fmd_runtime.validation import ValidationCheck

from ._models import Checkpoint, CheckpointTable

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime


def _utc_or_none(ts: datetime | None) -> datetime | None:
    # nullable timestamp columns: None stays None, a naive value read back is UTC
    return None if ts is None else as_utc(ts)


def history_row(cp: Checkpoint) -> dict[str, Any]:
    """The ``CheckpointHistory`` row (the header) of a checkpoint."""
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


def table_row(cp: Checkpoint, t: CheckpointTable) -> dict[str, Any]:
    """The ``CheckpointTables`` row of one pinned table."""
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


def table_from_row(r: dict[str, Any]) -> CheckpointTable:
    """A pinned table read back from its ``CheckpointTables`` row (older rows: defaults)."""
    return CheckpointTable(
        schema_name=r["SchemaName"],
        table_name=r["TableName"],
        version=int(r["TableVersion"]),
        version_timestamp=_utc_or_none(r["VersionTimestamp"]),
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
        load_time=_utc_or_none(r.get("LoadTime")),
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


def checkpoint_from_row(r: dict[str, Any], tables: Sequence[CheckpointTable]) -> Checkpoint:
    """A checkpoint read back from its header row and its tables' rows."""
    problem = _problem(r, tables)
    return Checkpoint(
        problem=problem,
        checkpoint_id=r["CheckpointId"],
        checkpoint_name=r["CheckpointName"],
        checkpoint_type=r["CheckpointType"],
        created_date=as_utc(r["CreatedDate"]),
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
        last_verified_date=_utc_or_none(r["LastVerifiedDate"]),
        deactivated_date=_utc_or_none(r["DeactivatedDate"]),
        batch_id=r.get("BatchId"),
        pin_window_start=_utc_or_none(r.get("PinWindowStart")),
        pin_window_end=_utc_or_none(r.get("PinWindowEnd")),
    )


def validation_rows(
    rt: Runtime, context: str, checks: Sequence[ValidationCheck], checkpoint_id: str | None
) -> list[dict[str, Any]]:
    """The ``DataValidation`` rows of check results, under the run's id."""
    rows = []
    for c in checks:
        ref = rt.table(c.table) if c.table else None
        rows.append(
            {
                "ValidationId": str(uuid.uuid4()),
                "ValidationTime": utcnow(),
                "RunId": rt.context.run_id,
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


__all__ = [
    "checkpoint_from_row",
    "history_row",
    "table_from_row",
    "table_row",
    "validation_rows",
]
