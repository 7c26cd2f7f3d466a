"""Expiring checkpoints: retention enforcement (IsActive = false) and marking a Manual one.

Rows are never deleted: an expired checkpoint stays readable, it is only no longer a restore
target nor in maintenance's keep-set. This is the checkpoints' own retention (their
``RetentionDate``); the table properties a restore point needs are `fmd_runtime.retention`'s, hence
the different name.

Example:
    >>> # print(enforce_retention(rt, dry_run=True, today=None).to_text())
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Literal

from fmd_runtime.store import utcnow

from ._models import Checkpoint, RetentionDecision, RetentionResult

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime


def enforce_retention(rt: Runtime, *, dry_run: bool, today: date | None) -> RetentionResult:
    """Deactivate (or, in a dry run, report) the checkpoints expired before ``today``.

    Manual checkpoints are kept unless MarkedForDeletion. Every decision is audited
    (``CheckpointRetentionEnforcement``), dry runs included, in one flush.
    """
    today = today or utcnow().date()
    rows = rt.store.read("CheckpointHistory", {"IsActive": True})
    out: dict[str, list[RetentionDecision]] = {"Deactivate": [], "Keep": []}
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


def mark_for_deletion(rt: Runtime, cp: Checkpoint, reason: str | None) -> Checkpoint:
    """Set MarkedForDeletion on ``cp`` (audited); the checkpoint as it is now."""
    rt.store.update(
        "CheckpointHistory", {"CheckpointId": cp.checkpoint_id}, {"MarkedForDeletion": True}
    )
    rt.audit.event(
        "CheckpointMarkedForDeletion",
        details={"checkpoint": cp.checkpoint_name, "reason": reason},
        flush=True,
    )
    return cp.model_copy(update={"marked_for_deletion": True})


__all__ = ["enforce_retention", "mark_for_deletion"]
