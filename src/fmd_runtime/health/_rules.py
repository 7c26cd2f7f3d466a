"""The daily report's rules for checkpoints and loads (the table of checks: `_sections`).

Example:
    >>> # scopes, findings = checkpoint_sections(cps, now=now, thresholds=t, enabled_tables=[])
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from fmd_runtime._base import as_utc
from fmd_runtime._entities import is_live
from fmd_runtime._text import plural
from fmd_runtime.checkpoints import SYNC_KINDS, Checkpoint
from fmd_runtime.health._models import HealthFinding, overall_status
from fmd_runtime.health._sections import (
    DayCount,
    ReportThresholds,
    RunIssue,
    ScopeFreshness,
    finding,
    hours_between,
    row_table,
)


# -- checkpoints ----------------------------------------------------------------------------------
def checkpoint_sections(
    cps: Sequence[Checkpoint],
    *,
    now: datetime,
    thresholds: ReportThresholds,
    enabled_tables: Iterable[str],
    verified: Mapping[str, tuple[str, datetime]] | None = None,
) -> tuple[list[ScopeFreshness], list[HealthFinding]]:
    """Freshness and restorability per scope, and the enabled tables no checkpoint covers.

    Args:
        cps: the checkpoints of the history window (any order, inactive ones included).
        now: the report's time.
        thresholds: what is judged stale / unverified.
        enabled_tables: enabled PipelineConfig tables (lower-case names).
        verified: checkpoint id -> (status, when) of verifications this report ran.
    """
    verified = verified or {}
    by_scope: dict[str, list[Checkpoint]] = {}
    for cp in cps:
        by_scope.setdefault(cp.scope or "(no scope)", []).append(cp)
    scopes, findings = [], []
    for scope, group in sorted(by_scope.items()):
        group.sort(key=lambda c: (c.created_date, c.checkpoint_name), reverse=True)
        newest = group[0]
        syncs = [c for c in group if c.checkpoint_type in SYNC_KINDS]
        judged = syncs[0] if syncs else newest
        target = next((c for c in group if c.is_restore_target), None)
        mine: list[HealthFinding] = []
        if syncs and judged.validation_status == "Failed":
            mine.append(
                finding(
                    "checkpoint_failed",
                    "HIGH",
                    f"scope {scope}: the newest checkpoint {judged.checkpoint_name} failed "
                    f"validation ({_failed_tables(judged)})",
                    "read its DataValidation rows (CheckpointVerify / CheckpointCreate), fix the "
                    "data, then take a new checkpoint (rt.checkpoints.create)",
                    numbers={"checkpoint": judged.checkpoint_name},
                )
            )
        age = hours_between(now, judged.created_date)
        if syncs and age > thresholds.checkpoint_stale_hours:
            mine.append(
                finding(
                    "checkpoint_stale",
                    "MEDIUM",
                    f"scope {scope}: the newest {judged.checkpoint_type} checkpoint "
                    f"{judged.checkpoint_name} is {age:g} hours old "
                    f"(more than {thresholds.checkpoint_stale_hours:g})",
                    "check that the daily sync ran and created its checkpoint",
                    numbers={
                        "scope": scope,
                        "age_hours": age,
                        "threshold": thresholds.checkpoint_stale_hours,
                    },
                )
            )
        status = last_verified = None
        if target is not None:
            status, last_verified = verified.get(
                target.checkpoint_id, (target.restorability_status, target.last_verified_date)
            )
            mine += _restorability(scope, target, status, last_verified, now, thresholds)
        scopes.append(
            ScopeFreshness(
                scope=scope,
                checkpoints=len(group),
                latest=newest.checkpoint_name,
                latest_kind=newest.checkpoint_type,
                latest_created=newest.created_date,
                age_hours=hours_between(now, newest.created_date),
                validation_status=judged.validation_status,
                restore_target=target.checkpoint_name if target else None,
                restorability=status,
                last_verified=last_verified,
                tables=len(newest.tables),
                status=overall_status(mine),
            )
        )
        findings += mine
    covered = {t.table.lower() for cp in cps for t in cp.tables}
    for table in sorted(set(enabled_tables) - covered):
        findings.append(
            finding(
                "table_uncovered",
                "MEDIUM",
                f"table {table} is enabled in PipelineConfig but no checkpoint of the last "
                f"{plural(thresholds.history_days, 'day')} pins it: there is no restore point",
                "include it in the daily batch checkpoint (rt.checkpoints.create) or disable "
                "its PipelineConfig row",
                table=table,
            )
        )
    return scopes, findings


def _failed_tables(cp: Checkpoint) -> str:
    bad = [t.table for t in cp.tables if t.validation_status != "Validated"]
    return f"failed tables: {', '.join(bad[:5])}" if bad else cp.problem or "see DataValidation"


def _restorability(
    scope: str,
    target: Checkpoint,
    status: str | None,
    last_verified: datetime | None,
    now: datetime,
    thresholds: ReportThresholds,
) -> list[HealthFinding]:
    name = target.checkpoint_name
    if status == "Unrestorable":
        return [
            finding(
                "checkpoint_unrestorable",
                "HIGH",
                f"scope {scope}: the newest restore target {name} can no longer be restored",
                f"run rt.checkpoints.verify({name!r}) for the reason; take a new checkpoint, "
                "and do not roll back to this one",
                numbers={"checkpoint": name},
            )
        ]
    if status == "AtRisk":
        return [
            finding(
                "checkpoint_at_risk",
                "MEDIUM",
                f"scope {scope}: the newest restore target {name} is AtRisk: the tables' "
                "retention ends before it expires",
                "raise the tables' retention (rt.maintenance.set_retention) or take a new "
                "checkpoint with protect_retention=True",
                numbers={"checkpoint": name},
            )
        ]
    age_days = (now - as_utc(target.created_date)).total_seconds() / 86400
    window = timedelta(days=thresholds.verified_within_days)
    if age_days > thresholds.verified_within_days and (
        last_verified is None or now - as_utc(last_verified) > window
    ):
        return [
            finding(
                "checkpoint_unverified",
                "LOW",
                f"scope {scope}: restore target {name} was not verified in the last "
                f"{plural(thresholds.verified_within_days, 'day')}",
                "run the weekly maintenance (it verifies every active checkpoint) or "
                f"`fmd checkpoint verify {name}`",
                numbers={"checkpoint": name, "last_verified": last_verified},
            )
        ]
    return []


# -- runs -----------------------------------------------------------------------------------------
def run_sections(
    rows: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    since: datetime,
    thresholds: ReportThresholds,
    history_start: datetime,
) -> tuple[list[RunIssue], list[DayCount], list[HealthFinding]]:
    """Failed and hung loads of the window, and failures per day over the history window.

    An attempt is (run, entity, layer, part, table); its last row says how it ended. Failed:
    the last row is Failed and in the window (recovered when a later attempt of the entity,
    layer and part succeeded). Hung: the last row is Started, older than ``hung_after_hours``.
    Rows a rollback invalidated are left out.
    """
    live = sorted((r for r in rows if is_live(r)), key=lambda r: as_utc(r["EventTime"]))
    attempts: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    succeeded: dict[tuple[Any, ...], datetime] = {}
    for r in live:
        target = (r["EntityId"], r.get("Layer"), r.get("Part"))
        attempts[(r["RunId"], *target, row_table(r))] = r
        if r["Status"] == "Succeeded":
            succeeded[target] = as_utc(r["EventTime"])
    issues, findings = [], []
    hung_after = timedelta(hours=thresholds.hung_after_hours)
    for r in attempts.values():
        at = as_utc(r["EventTime"])
        later = succeeded.get((r["EntityId"], r.get("Layer"), r.get("Part")))
        if r["Status"] == "Failed" and at >= since:
            issue = _issue(r, "Failed", now, recovered=later is not None and later > at)
        elif r["Status"] == "Started" and now - at > hung_after:
            issue = _issue(r, "Hung", now, recovered=False)
        else:
            continue
        issues.append(issue)
        findings.append(_runfinding(issue, thresholds))
    per_day: dict[date, int] = {}
    day = history_start.date()
    while day <= now.date():
        per_day[day] = 0
        day += timedelta(days=1)
    for r in live:
        if r["Status"] == "Failed" and as_utc(r["EventTime"]).date() in per_day:
            per_day[as_utc(r["EventTime"]).date()] += 1
    issues.sort(key=lambda i: (i.kind, i.event_time, i.entity))
    return issues, [DayCount(day=d, failures=n) for d, n in per_day.items()], findings


def _issue(r: Mapping[str, Any], kind: Any, now: datetime, *, recovered: bool) -> RunIssue:
    return RunIssue(
        kind=kind,
        entity=r["EntityId"],
        layer=r.get("Layer"),
        table=row_table(r),
        part=r.get("Part"),
        run_id=r["RunId"],
        batch_id=r.get("BatchId"),
        event_time=as_utc(r["EventTime"]),
        age_hours=hours_between(now, r["EventTime"]),
        error=_error_of(r.get("Details")),
        recovered=recovered,
    )


def _error_of(details: Any) -> str | None:
    """The error a Failed ledger row's Details carry (``error``), cut to one line."""
    if not details:
        return None
    try:
        value = json.loads(details)
    except (TypeError, ValueError):
        return str(details)[:300]
    found = value.get("error") if isinstance(value, dict) else None
    return " ".join(str(found).split())[:300] if found else None


def _runfinding(issue: RunIssue, thresholds: ReportThresholds) -> HealthFinding:
    what = f"entity {issue.entity}" + (f" ({issue.layer})" if issue.layer else "")
    where = f" into {issue.table}" if issue.table else ""
    numbers = {"run_id": issue.run_id, "age_hours": issue.age_hours, "batch_id": issue.batch_id}
    common = {"table": issue.table, "entity": issue.entity, "numbers": numbers}
    if issue.kind == "Hung":
        return finding(
            "run_hung",
            "HIGH",
            f"the load of {what}{where} started {issue.age_hours:g} hours ago in run "
            f"{issue.run_id} and has no outcome (more than {thresholds.hung_after_hours:g} "
            "hours): the notebook was killed or still runs",
            "check the run in vw_RunStatus; if it is dead, re-run the pipeline (the run guard "
            "skips what was loaded) or record the failure (rt.runs.fail)",
            **common,
        )
    error = f": {issue.error}" if issue.error else ""
    if issue.recovered:
        return finding(
            "run_recovered",
            "LOW",
            f"the load of {what}{where} failed in run {issue.run_id}{error}; a later run loaded it",
            "nothing to repair; look at the error if it repeats",
            **common,
        )
    return finding(
        "run_failed",
        "HIGH",
        f"the load of {what}{where} failed in run {issue.run_id}{error}, and no later run "
        "loaded it",
        "fix the cause, then re-run the pipeline: the run guard skips the entities already loaded",
        **common,
    )


__all__ = ["checkpoint_sections", "run_sections"]
