"""The anomaly rules: their thresholds (`AnomalyRules`) and the pure functions that apply them.

Each function takes rows already read (checkpoint points, checkpoints, watermark and ledger
rows) and returns `HealthFinding` s; nothing here reads or writes a table, so every rule is
tested on numbers alone. The decision itself (median, MAD, share) is `fmd_runtime.health._stats`.

Example:
    >>> AnomalyRules().failing_runs
    3
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError, ValidationInfo, field_validator, model_validator

from fmd_runtime._base import FROZEN, as_utc
from fmd_runtime._text import format_bytes
from fmd_runtime.checkpoints import Checkpoint
from fmd_runtime.config import check_number
from fmd_runtime.errors import ConfigError
from fmd_runtime.health._models import HealthFinding
from fmd_runtime.health._stats import mad, median, overdue, robust_drop, robust_jump

SYNC_CHECKPOINT_KINDS = ("Daily", "DailyBatch")
"""The kinds a scope is expected to have every day (the missing-checkpoint rule)."""

_HOUR = 3600.0

_BOUNDS: dict[str, tuple[float, float, bool]] = {
    "baseline_points": (3, 90, True),
    "min_baseline_points": (2, 90, True),
    "active_drop_share": (0.01, 1.0, False),
    "deleted_jump_share": (0.01, 1.0, False),
    "total_drop_share": (0.001, 1.0, False),
    "mad_multiplier": (0.0, 50.0, False),
    "watermark_lag_factor": (1.0, 100.0, False),
    "min_watermark_lag_hours": (0.0, 8760.0, False),
    "failing_runs": (1, 100, True),
    "checkpoint_gap_hours": (1.0, 8760.0, False),
    "storage_vs_rows_factor": (1.1, 1000.0, False),
    "storage_min_bytes": (0, 2**50, True),
    "lookback_days": (1, 3650, True),
}
"""Each rule's accepted range (inclusive) and whether it is a whole number."""


class AnomalyRules(BaseModel):
    """The anomaly rules' thresholds; every one configurable within documented bounds.

    Attributes:
        baseline_points: previous checkpointed versions a table's baseline takes (default 7,
            about a week of daily checkpoints; 3 to 90).
        min_baseline_points: fewer previous versions than this and the table is not judged
            (default 3; 2 to 90, at most ``baseline_points``).
        active_drop_share: active rows falling more than this share below the median
            (default 0.10 = 10%; 0.01 to 1).
        deleted_jump_share: deleted rows rising by more than this share of the active rows
            (default 0.10; 0.01 to 1).
        total_drop_share: total rows falling more than this share since the previous
            checkpoint (default 0.05; 0.001 to 1).
        mad_multiplier: a change must also exceed this many scaled MADs of the baseline
            (default 3; 0 to 50; 0: the share alone decides).
        watermark_lag_factor: a watermark not advanced for this many times its usual interval
            is stalled (default 3; 1 to 100).
        min_watermark_lag_hours: ... and for at least this many hours (default 2; 0 to 8,760).
        failing_runs: an entity whose last this many runs failed (default 3; 1 to 100).
        checkpoint_gap_hours: a regular checkpoint scope without a Daily/DailyBatch checkpoint
            for this long (default 26: a day and two hours' grace; 1 to 8,760).
        storage_vs_rows_factor: bytes per row above this many times the median (default 2;
            1.1 to 1,000).
        storage_min_bytes: tables smaller than this are not judged on storage (default 256 MiB;
            0 to 2**50).
        lookback_days: history considered (checkpoints, watermarks, runs; default 30; 1 to
            3,650).

    Raises:
        ConfigError: a value of the wrong type or out of its bounds (named, with the range), an
            unknown rule, or ``min_baseline_points`` above ``baseline_points``.

    Example:
        >>> AnomalyRules(active_drop_share="0.2").active_drop_share
        0.2
    """

    model_config = FROZEN

    baseline_points: int = 7
    min_baseline_points: int = 3
    active_drop_share: float = 0.10
    deleted_jump_share: float = 0.10
    total_drop_share: float = 0.05
    mad_multiplier: float = 3.0
    watermark_lag_factor: float = 3.0
    min_watermark_lag_hours: float = 2.0
    failing_runs: int = 3
    checkpoint_gap_hours: float = 26.0
    storage_vs_rows_factor: float = 2.0
    storage_min_bytes: int = 256 * 1024 * 1024
    lookback_days: int = 30

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:  # unknown rules: one ConfigError naming them
            names = [".".join(str(p) for p in e["loc"]) for e in exc.errors()]
            raise ConfigError(
                f"invalid AnomalyRules: {', '.join(names)}: "
                + "; ".join(str(e["msg"]) for e in exc.errors()),
                hint=f"valid rules are {list(type(self).model_fields)}",
            ) from None

    @field_validator("*", mode="before")
    @classmethod
    def _bounded(cls, value: Any, info: ValidationInfo) -> Any:
        low, high, integer = _BOUNDS[str(info.field_name)]
        return check_number(value, str(info.field_name), minimum=low, maximum=high, integer=integer)

    @model_validator(mode="after")
    def _ordered(self) -> AnomalyRules:
        if self.min_baseline_points > self.baseline_points:
            raise ConfigError(
                f"min_baseline_points ({self.min_baseline_points}) is above baseline_points "
                f"({self.baseline_points})",
                hint="make min_baseline_points at most baseline_points",
            )
        return self


@dataclass(frozen=True)
class Point:
    """One checkpointed version of a table: the counts its checkpoint recorded."""

    table: str
    version: int
    created: datetime
    checkpoint: str
    total: int | None
    active: int | None
    deleted: int | None
    bytes: int
    files: int


# -- tables: counts against their baseline -------------------------------------------------------
def table_findings(
    points: Mapping[str, Sequence[Point]], rules: AnomalyRules
) -> list[HealthFinding]:
    """The count rules on each table's latest point against its previous ones.

    Args:
        points: ``schema.table`` -> its points, oldest version first.
        rules: the thresholds.

    Example:
        >>> table_findings({}, AnomalyRules())
        []
    """
    out: list[HealthFinding] = []
    for table, pts in sorted(points.items()):
        if len(pts) < rules.min_baseline_points + 1:
            continue
        current, base = pts[-1], list(pts[-1 - rules.baseline_points : -1])
        out += _counts(table, current, base, rules)
        out += _storage(table, current, base, rules)
    return out


def _counts(
    table: str, cur: Point, base: Sequence[Point], rules: AnomalyRules
) -> list[HealthFinding]:
    out = []
    k = rules.mad_multiplier
    where = f"checkpoint {cur.checkpoint} (version {cur.version})"
    first_step = (
        f"before the next load, see what the latest sync changed: "
        f"rt.rollback.plan({base[-1].checkpoint!r}) lists the rows a rollback to the previous "
        "checkpoint brings back; roll back if the change is wrong, and check the source's "
        "delete detection (a partial extract flags the rows it missed as deleted)"
    )
    actives = [p.active for p in base if p.active is not None]
    if cur.active is not None and len(actives) >= rules.min_baseline_points:
        drop = robust_drop(cur.active, actives)
        if drop.flagged(share=rules.active_drop_share, k=k):
            out.append(
                HealthFinding(
                    check="anomaly.active_rows_drop",
                    severity="HIGH",
                    message=f"{table}: active rows fell to {cur.active:,} in {where}, "
                    f"{drop.change:,.0f} ({drop.share:.1%}) below the median {drop.baseline_median:,.0f} "
                    f"of its previous {drop.points} checkpoints (MAD {drop.baseline_mad:g}; "
                    f"threshold {rules.active_drop_share:.0%} and {k:g} scaled MADs)",
                    fix=first_step,
                    table=table,
                    numbers=drop.numbers() | _where(cur, base),
                )
            )
    deleted = [p.deleted for p in base if p.deleted is not None]
    if cur.deleted is not None and actives and len(deleted) >= rules.min_baseline_points:
        jump = robust_jump(cur.deleted, deleted, reference=median(actives))
        if jump.flagged(share=rules.deleted_jump_share, k=k):
            out.append(
                HealthFinding(
                    check="anomaly.deleted_rows_jump",
                    severity="HIGH",
                    message=f"{table}: deleted rows jumped to {cur.deleted:,} in {where}, "
                    f"{jump.change:,.0f} above the median {jump.baseline_median:,.0f} "
                    f"(MAD {jump.baseline_mad:g}): {jump.share:.1%} of the "
                    f"{jump.reference:,.0f} active rows (threshold {rules.deleted_jump_share:.0%})",
                    fix=first_step,
                    table=table,
                    numbers=jump.numbers() | {"active_median": jump.reference} | _where(cur, base),
                )
            )
    totals = [p.total for p in [*base, cur] if p.total is not None]
    prev = base[-1]
    if cur.total is not None and prev.total and len(totals) >= rules.min_baseline_points + 1:
        steps = [b - a for a, b in zip(totals[:-2], totals[1:-1], strict=True)]
        change = cur.total - prev.total
        shrink = -change / prev.total
        usual = robust_drop(change, steps) if steps else None
        if (
            change < 0
            and shrink > rules.total_drop_share
            and usual is not None
            and usual.change > k * usual.scaled_mad
        ):
            out.append(
                HealthFinding(
                    check="anomaly.total_rows_shrink",
                    severity="MEDIUM",
                    message=f"{table}: total rows shrank from {prev.total:,} to {cur.total:,} "
                    f"({change:,}, {shrink:.1%}) between checkpoints {prev.checkpoint} and "
                    f"{cur.checkpoint}; it usually changes by {usual.baseline_median:+,.0f} per "
                    f"checkpoint (MAD {usual.baseline_mad:g}; threshold {rules.total_drop_share:.0%})",
                    fix="rows were removed, not flagged (an overwrite, a DELETE, a purge): check "
                    "the table's history and the foreign-operation scan; roll back to "
                    f"{prev.checkpoint!r} if it was not meant",
                    table=table,
                    numbers={
                        "current": cur.total,
                        "previous": prev.total,
                        "change": change,
                        "share": round(shrink, 4),
                        "usual_change_median": usual.baseline_median,
                        "usual_change_mad": usual.baseline_mad,
                        "baseline_points": len(steps),
                    }
                    | _where(cur, base),
                )
            )
    return out


def _storage(
    table: str, cur: Point, base: Sequence[Point], rules: AnomalyRules
) -> list[HealthFinding]:
    """Bytes per row against their median: storage growing faster than rows."""
    per_row = [p.bytes / p.total for p in base if p.total and p.bytes]
    if (
        not cur.total
        or cur.bytes < rules.storage_min_bytes
        or len(per_row) < rules.min_baseline_points
    ):
        return []
    now, usual = cur.bytes / cur.total, median(per_row)
    if usual <= 0 or now <= rules.storage_vs_rows_factor * usual:
        return []
    return [
        HealthFinding(
            check="anomaly.storage_growth",
            severity="LOW",
            message=f"{table}: storage grew faster than rows: {now:,.0f} bytes per row in "
            f"checkpoint {cur.checkpoint} against a median of {usual:,.0f} ({now / usual:.1f}x; "
            f"threshold {rules.storage_vs_rows_factor:g}x): {format_bytes(cur.bytes)} in "
            f"{cur.files:,} files for {cur.total:,} rows",
            fix="compact the table (rt.maintenance with OPTIMIZE enabled for it) and look for a "
            "writer that rewrites whole files or writes many small ones",
            table=table,
            numbers={
                "bytes_per_row": round(now, 2),
                "baseline_median": round(usual, 2),
                "baseline_mad": round(mad(per_row), 2),
                "ratio": round(now / usual, 3),
                "bytes": cur.bytes,
                "files": cur.files,
                "rows": cur.total,
                "baseline_points": len(per_row),
            }
            | _where(cur, base),
        )
    ]


def _where(cur: Point, base: Sequence[Point]) -> dict[str, Any]:
    return {
        "checkpoint": cur.checkpoint,
        "version": cur.version,
        "baseline_checkpoints": [p.checkpoint for p in base],
    }


# -- checkpoint scopes ------------------------------------------------------------------------------
def scope_findings(
    cps: Sequence[Checkpoint], names: set[str] | None, rules: AnomalyRules, now: datetime
) -> list[HealthFinding]:
    """Regular checkpoint scopes (``min_baseline_points`` Daily/DailyBatch checkpoints in the
    window) whose latest one is older than ``checkpoint_gap_hours``.

    Example:
        >>> from datetime import timezone
        >>> scope_findings([], None, AnomalyRules(), datetime.now(timezone.utc))
        []
    """
    by_scope: dict[str, list[Checkpoint]] = {}
    for cp in cps:
        if cp.checkpoint_type not in SYNC_CHECKPOINT_KINDS:
            continue
        if names is not None and not any(t.table.lower() in names for t in cp.tables):
            continue
        by_scope.setdefault(cp.scope or ",".join(sorted(t.table for t in cp.tables)), []).append(cp)
    out = []
    for scope, group in sorted(by_scope.items()):
        if len(group) < rules.min_baseline_points:
            continue
        last = max(group, key=lambda c: as_utc(c.created_date))
        gap = (now - as_utc(last.created_date)).total_seconds() / _HOUR
        if gap <= rules.checkpoint_gap_hours:
            continue
        out.append(
            HealthFinding(
                check="anomaly.checkpoint_missing",
                severity="MEDIUM",
                message=f"checkpoints of {scope}: none for {gap:.1f} h (the last, "
                f"{last.checkpoint_name}, at {as_utc(last.created_date):%Y-%m-%d %H:%M} UTC); "
                f"{len(group)} in the window before (threshold {rules.checkpoint_gap_hours:g} h)",
                fix="check that the pipeline creating them ran and its checkpoint step "
                f"succeeded (SyncAuditLog, Operation CheckpointCreated); take one now: "
                f"rt.checkpoints.create({scope!r})",
                table=last.tables[0].table if len(last.tables) == 1 else None,
                numbers={
                    "scope": scope,
                    "hours_since_last": round(gap, 2),
                    "last_checkpoint": last.checkpoint_name,
                    "checkpoints_in_window": len(group),
                    "threshold_hours": rules.checkpoint_gap_hours,
                },
            )
        )
    return out


# -- entities: watermarks and the run ledger -------------------------------------------------------
def entity_findings(
    watermarks: Sequence[Mapping[str, Any]],
    runs: Sequence[Mapping[str, Any]],
    rules: AnomalyRules,
    now: datetime,
) -> list[HealthFinding]:
    """Stalled watermarks (Commit rows) and entities failing run after run (ledger rows).

    Example:
        >>> from datetime import timezone
        >>> entity_findings([], [], AnomalyRules(), datetime.now(timezone.utc))
        []
    """
    return _stalled(watermarks, rules, now) + _failing(runs, rules)


def _key(row: Mapping[str, Any]) -> tuple[str, str]:
    return str(row["EntityId"]), str(row.get("Layer") or "")


def _table_of(row: Mapping[str, Any]) -> str | None:
    return f"{row['SchemaName']}.{row['TableName']}" if row.get("TableName") else None


def _stalled(
    rows: Sequence[Mapping[str, Any]], rules: AnomalyRules, now: datetime
) -> list[HealthFinding]:
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in rows:
        groups.setdefault(_key(r), []).append(r)
    out = []
    for (entity, layer), group in sorted(groups.items()):
        advances = sorted(
            (r for r in group if r.get("Value") != r.get("PreviousValue")),
            key=lambda r: as_utc(r["EventTime"]),
        )
        times = [as_utc(r["EventTime"]) for r in advances]
        intervals = [
            (b - a).total_seconds() / _HOUR for a, b in zip(times, times[1:], strict=False)
        ]
        if len(intervals) < rules.min_baseline_points:
            continue
        elapsed = (now - times[-1]).total_seconds() / _HOUR
        if elapsed < rules.min_watermark_lag_hours or not overdue(
            elapsed, intervals, factor=rules.watermark_lag_factor
        ):
            continue
        usual = median(intervals)
        last = advances[-1]
        out.append(
            HealthFinding(
                check="anomaly.watermark_stalled",
                severity="MEDIUM",
                message=f"entity {entity} ({layer or 'no layer'}): watermark not advanced for "
                f"{elapsed:.1f} h (last to {last.get('Value')!s} at {times[-1]:%Y-%m-%d %H:%M} "
                f"UTC); it usually advances every {usual:.1f} h (MAD {mad(intervals):.2f} h; "
                f"threshold {rules.watermark_lag_factor:g}x)",
                fix="check the entity's latest runs (EntityRuns) and the source: loads that "
                "succeed without new rows leave the watermark where it is; a source that "
                "stopped sending, or a filter that excludes everything, looks the same",
                table=_table_of(last),
                entity=entity,
                numbers={
                    "hours_since_advance": round(elapsed, 2),
                    "usual_interval_hours": round(usual, 2),
                    "interval_mad_hours": round(mad(intervals), 2),
                    "last_value": last.get("Value"),
                    "last_advance": times[-1].isoformat(),
                    "baseline_points": len(intervals),
                    "factor": rules.watermark_lag_factor,
                },
            )
        )
    return out


def _failing(rows: Sequence[Mapping[str, Any]], rules: AnomalyRules) -> list[HealthFinding]:
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in rows:
        groups.setdefault(_key(r), []).append(r)
    out = []
    for (entity, layer), group in sorted(groups.items()):
        ordered = sorted(group, key=lambda r: as_utc(r["EventTime"]))
        failed: list[Mapping[str, Any]] = []
        for r in reversed(ordered):
            if r["Status"] != "Failed":
                break
            failed.append(r)
        runs = list(dict.fromkeys(str(r.get("RunId")) for r in failed))
        if len(runs) < rules.failing_runs:
            continue
        success = next((r for r in reversed(ordered) if r["Status"] == "Succeeded"), None)
        first, last = as_utc(failed[-1]["EventTime"]), as_utc(failed[0]["EventTime"])
        since = (
            f"last success {as_utc(success['EventTime']):%Y-%m-%d %H:%M} UTC"
            if success
            else "no success in the window"
        )
        out.append(
            HealthFinding(
                check="anomaly.failing_runs",
                severity="HIGH",
                message=f"entity {entity} ({layer or 'no layer'}): the last {len(runs)} runs "
                f"failed (from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC); {since} "
                f"(threshold {rules.failing_runs})",
                fix=f"read the errors (SyncAuditLog rows with EntityId {entity!r} and Status "
                "'Failed'), fix the cause, then re-run the pipeline for this entity",
                table=_table_of(failed[0]),
                entity=entity,
                numbers={
                    "failed_runs_in_a_row": len(runs),
                    "first_failure": first.isoformat(),
                    "last_failure": last.isoformat(),
                    "last_success": as_utc(success["EventTime"]).isoformat() if success else None,
                    "threshold": rules.failing_runs,
                },
            )
        )
    return out


__all__ = [
    "SYNC_CHECKPOINT_KINDS",
    "AnomalyRules",
    "Point",
    "entity_findings",
    "scope_findings",
    "table_findings",
]
