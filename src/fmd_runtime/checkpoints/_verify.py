"""Verifying checkpoints: can each pinned version still be restored, and who is told when not.

Per table (in the bounded pool): the table exists, the pinned version is still in the log, every
file it needs exists, its files are the ones pinned (manifest digest), and the retention
properties still cover its age until the checkpoint expires. The results go to ``DataValidation``
(one commit for every checkpoint verified), the audit log (``CheckpointVerify``), the headers
(RestorabilityStatus, LastVerifiedDate) and one alert per level. Separate from creating: this is
the weekly job's and rollback's question, asked of stored checkpoints.

Example:
    >>> # [r.status for r in verify_checkpoints(rt, [cp])]  # ['Restorable']
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fmd_runtime._base import as_utc
from fmd_runtime.alerts import AlertSeverity
from fmd_runtime.errors import CorruptLogError, FmdError
from fmd_runtime.retention import DEFAULT_PROPERTY_DAYS, property_days
from fmd_runtime.store import utcnow
from fmd_runtime.tables import TableRef
from fmd_runtime.validation import ValidationCheck, manifest_digest

from ._models import (
    DAY,
    Checkpoint,
    CheckpointTable,
    RestorabilityStatus,
    TableVerification,
    VerifyResult,
    end_of,
)
from ._rows import validation_rows

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

_RANK = {"Restorable": 0, "AtRisk": 1, "Unrestorable": 2}
_SEVERITY: dict[str, Any] = {"Restorable": "INFO", "AtRisk": "MEDIUM", "Unrestorable": "HIGH"}
_AUDIT_STATUS = {"Restorable": "Succeeded", "AtRisk": "Warning", "Unrestorable": "Failed"}


def verify_checkpoints(
    rt: Runtime, cps: Sequence[Checkpoint], *, alert: bool = True
) -> list[VerifyResult]:
    """Verify ``cps`` table by table; record, audit and (``alert``) alert the results (see the
    module). A caller that explains the results in its own alert passes ``alert=False``."""
    now = utcnow()
    pairs = [(cp, t) for cp in cps for t in cp.tables]
    outcomes = rt.map_tables(
        lambda pair: _verify_table(rt, pair[0], pair[1], now),
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
    rows = [r for cp_id, c in checks for r in validation_rows(rt, "CheckpointVerify", [c], cp_id)]
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
    if alert:
        _alert_verify(rt, results)
    return results


def _verify_table(
    rt: Runtime, cp: Checkpoint, t: CheckpointTable, now: datetime
) -> TableVerification:
    eng, ref = rt.engine, TableRef(schema_name=t.schema_name, table=t.table_name)

    def result(status: RestorabilityStatus, reason: str | None, **kw: Any) -> TableVerification:
        return TableVerification(
            table=t.table, version=t.version, status=status, reason=reason, **kw
        )

    if not eng.exists(ref):
        return result("Unrestorable", "the table no longer exists")
    props = eng.properties(ref)
    days = {k: property_days(props, k, table=t.table) for k in DEFAULT_PROPERTY_DAYS}
    prop, cover = min(days.items(), key=lambda kv: kv[1])
    born = as_utc(t.version_timestamp) if t.version_timestamp else cp.created_date
    until = born + timedelta(days=cover)
    left = round((until - now).total_seconds() / DAY, 2)
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
    need = max(end_of(cp.retention_date), now + timedelta(days=rt.config.at_risk_days))
    if cp.is_active and until < need:
        return result(
            "AtRisk",
            f"{prop} ({cover:g} days) covers version {t.version} only "
            f"until {until:%Y-%m-%d %H:%M} UTC (in {left:g} days), before "
            f"the checkpoint expires on {cp.retention_date}",
            expires_in_days=left,
        )
    return result("Restorable", None, expires_in_days=left)


def _alert_verify(rt: Runtime, results: Sequence[VerifyResult]) -> None:
    """One alert per level (Unrestorable HIGH, AtRisk MEDIUM) naming the active checkpoints."""
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
        rt.alerts.send(
            severity,
            f"{len(bad)} active checkpoint(s) {status}: "
            + ", ".join(r.checkpoint_name for r in bad[:5]),
            key=f"checkpoint-verify:{status}:" + ",".join(sorted(r.checkpoint_name for r in bad)),
            tables=sorted({t.table for r in bad for t in r.tables if t.status == status}),
            errors=errors,
            first_steps=[
                "do not roll back to an Unrestorable checkpoint; take a new one",
                "raise the tables' retention (rt.maintenance.set_retention) for AtRisk ones",
            ],
        )


__all__ = ["verify_checkpoints"]
