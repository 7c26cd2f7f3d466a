"""The daily report's sections: typed models, and the pure functions that judge them.

Each section is built from rows already read (`_gather` reads each metadata table once) and
answers with its typed rows plus the `HealthFinding` list it raises, so the rules are testable
without an engine and every threshold is one field of `ReportThresholds`:

=================================  ========================================================  ========
check                              when                                                      severity
=================================  ========================================================  ========
``report.checkpoint_failed``       a scope's newest sync checkpoint failed validation        HIGH
``report.checkpoint_unrestorable`` a scope's newest restore target is Unrestorable           HIGH
``report.checkpoint_at_risk``      ... is AtRisk (retention ends before it expires)          MEDIUM
``report.checkpoint_stale``        a scope's newest sync checkpoint is older than
                                   ``checkpoint_stale_hours``                                MEDIUM
``report.checkpoint_unverified``   a restore target older than ``verified_within_days`` was
                                   not verified in that time                                 LOW
``report.table_uncovered``         an enabled PipelineConfig table is in no checkpoint of
                                   the last ``history_days``                                 MEDIUM
``report.run_failed``              a load's last attempt in the window failed, and no later
                                   attempt of the entity succeeded                           HIGH
``report.run_recovered``           ... failed, then a later attempt succeeded                LOW
``report.run_hung``                a load started more than ``hung_after_hours`` ago and
                                   has no outcome                                            HIGH
``report.watermark_lag``           an entity's watermark last advanced more than
                                   ``watermark_lag_hours`` ago                               MEDIUM
``report.maintenance_failed``      the last maintenance run failed                           HIGH
``report.maintenance_table``       a VACUUM / OPTIMIZE failed in the window                  MEDIUM
``report.maintenance_missing``     no maintenance run in ``maintenance_days`` (LOW once the
                                   lakehouse has checkpoints older than that, else INFO)     LOW
=================================  ========================================================  ========

"Sync" checkpoints are the kinds the daily sync creates (Daily, DailyBatch); a scope that only
has Manual or PreRollback checkpoints is listed but never stale.

Example:
    >>> build_thresholds(None).hung_after_hours
    6.0
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from fmd_runtime._base import FROZEN, as_utc
from fmd_runtime._entities import is_live
from fmd_runtime._text import format_bytes, plural
from fmd_runtime.checkpoints import SYNC_KINDS, Checkpoint
from fmd_runtime.config import check_number
from fmd_runtime.errors import ConfigError
from fmd_runtime.health._charts import MAX_SERIES
from fmd_runtime.health._models import HealthFinding, HealthStatus, overall_status
from fmd_runtime.watermarks import WatermarkState

_HOUR = 3600.0


class ReportThresholds(BaseModel):
    """What the daily report judges against (bounds are checked by `build_thresholds`).

    Attributes:
        hung_after_hours: a load Started this long ago with no outcome is hung (0.25 to 168;
            default 6: longer than any load the platform runs, shorter than a day).
        checkpoint_stale_hours: a scope's newest Daily/DailyBatch checkpoint older than this
            is stale (1 to 8,760; default 26: a daily job plus two hours' slack).
        watermark_lag_hours: a watermark that has not advanced for this long lags (1 to
            8,760; default 48).
        history_days: how far back the trends go (rows and storage per table over the
            checkpoints, failures per day) and which checkpoints count (1 to 90; default 14).
        maintenance_days: how far back the last maintenance run is looked for (1 to 90;
            default 8: a weekly job plus a day).
        verified_within_days: a restore target older than this should have been verified in
            this time (1 to 90; default 8: the weekly job verifies).
        top_tables: how many tables the charts draw, the largest first (1 to 10).
    """

    model_config = FROZEN

    hung_after_hours: float = 6.0
    checkpoint_stale_hours: float = 26.0
    watermark_lag_hours: float = 48.0
    history_days: int = 14
    maintenance_days: int = 8
    verified_within_days: int = 8
    top_tables: int = MAX_SERIES


_BOUNDS: dict[str, tuple[float, float, str, bool]] = {
    "hung_after_hours": (0.25, 168, "hours", False),
    "checkpoint_stale_hours": (1, 8760, "hours", False),
    "watermark_lag_hours": (1, 8760, "hours", False),
    "history_days": (1, 90, "days", True),
    "maintenance_days": (1, 90, "days", True),
    "verified_within_days": (1, 90, "days", True),
    "top_tables": (1, MAX_SERIES, "tables", True),
}


def build_thresholds(values: ReportThresholds | Mapping[str, Any] | None) -> ReportThresholds:
    """`ReportThresholds` from a model, a dict of its fields (pipeline strings parsed) or None.

    Raises:
        ConfigError: an unknown field, or a value outside its bounds (named, with the range).

    Example:
        >>> build_thresholds({"hung_after_hours": "2"}).hung_after_hours
        2.0
    """
    if values is None or isinstance(values, ReportThresholds):
        return values or ReportThresholds()
    if not isinstance(values, Mapping):
        raise ConfigError(
            f"parameter 'thresholds' must be a ReportThresholds or a dict, got "
            f"{type(values).__name__}",
            hint="pass thresholds={'hung_after_hours': 4}",
        )
    unknown = sorted(set(values) - set(_BOUNDS))
    if unknown:
        raise ConfigError(
            f"unknown threshold(s) {unknown}", hint=f"valid thresholds are {sorted(_BOUNDS)}"
        )
    checked = {}
    for name, value in values.items():
        low, high, unit, whole = _BOUNDS[name]
        number = check_number(value, name, minimum=low, maximum=high, unit=unit, integer=whole)
        checked[name] = number if whole else float(number)
    return ReportThresholds(**checked)


# -- section rows ---------------------------------------------------------------------------------
class ScopeFreshness(BaseModel):
    """A checkpoint scope: its newest checkpoint, how old it is and whether it can be restored.

    Attributes:
        scope: the checkpoints' ``Scope`` (``bronze.*``, a table list, ``PipelineConfig``).
        checkpoints: checkpoints of the scope in the history window.
        latest: the newest one's name; ``latest_kind`` / ``latest_created`` / ``age_hours``
            describe it.
        validation_status: the newest sync checkpoint's (else the newest's) validation status.
        restore_target: the newest checkpoint a rollback could use (active, Validated).
        restorability: that target's restorability (its last verification, or this report's
            when it verified).
        last_verified: when it was last verified (None: never).
        tables: tables the newest checkpoint pins.
        status: the scope's own status (from its findings).
    """

    model_config = FROZEN

    scope: str
    checkpoints: int
    latest: str | None = None
    latest_kind: str | None = None
    latest_created: datetime | None = None
    age_hours: float | None = None
    validation_status: str | None = None
    restore_target: str | None = None
    restorability: str | None = None
    last_verified: datetime | None = None
    tables: int = 0
    status: HealthStatus = "Healthy"


class RunIssue(BaseModel):
    """A load that failed or hung in the window (one attempt: run, entity, layer, part)."""

    model_config = FROZEN

    kind: Literal["Failed", "Hung"]
    entity: str
    layer: str | None = None
    table: str | None = None
    part: str | None = None
    run_id: str
    batch_id: str | None = None
    event_time: datetime
    age_hours: float
    error: str | None = None
    recovered: bool = False


class WatermarkLag(BaseModel):
    """How long ago an entity's watermark advanced (and, for time kinds, how old its value is)."""

    model_config = FROZEN

    entity: str
    table: str | None = None
    kind: str
    value: str | None = None
    last_advanced: datetime
    lag_hours: float
    value_lag_hours: float | None = None
    lagging: bool = False


class MaintenanceOutcome(BaseModel):
    """The last maintenance run (``MaintenanceSummary``) and the VACUUM/OPTIMIZE failures.

    Attributes:
        last_run: when the last run ended (None: none in ``maintenance_days``).
        run_id / status / dry_run / tables_failed / bytes_reclaimed / files_removed: its
            summary.
        failures: ``schema.table`` -> ``"Vacuum: <error>"`` for each failure in the window.
        runs: maintenance runs (not dry runs) in ``maintenance_days``.
    """

    model_config = FROZEN

    last_run: datetime | None = None
    run_id: str | None = None
    status: str | None = None
    dry_run: bool | None = None
    tables_failed: int | None = None
    bytes_reclaimed: int | None = None
    files_removed: int | None = None
    failures: dict[str, str] = {}
    runs: int = 0


class TablePoint(BaseModel):
    """One table in one checkpoint: rows, bytes and files of the pinned version."""

    model_config = FROZEN

    checkpoint: str
    at: datetime
    version: int
    rows: int | None = None
    bytes: int | None = None
    files: int | None = None


class TableStorage(BaseModel):
    """A table's size now (its newest checkpoint) and over the window's checkpoints.

    ``commits`` / ``last_commit`` come from the table's history (one read per table): commits
    in the report's window and the newest commit's time.
    """

    model_config = FROZEN

    table: str
    rows: int | None = None
    bytes: int | None = None
    files: int | None = None
    points: tuple[TablePoint, ...] = ()
    commits: int | None = None
    last_commit: datetime | None = None


class DayCount(BaseModel):
    """Failed load attempts on one UTC day."""

    model_config = FROZEN

    day: date
    failures: int


def _finding(check: str, severity: Any, message: str, fix: str, **kw: Any) -> HealthFinding:
    return HealthFinding(check=f"report.{check}", severity=severity, message=message, fix=fix, **kw)


def _hours(now: datetime, then: datetime) -> float:
    return round((now - as_utc(then)).total_seconds() / _HOUR, 2)


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
                _finding(
                    "checkpoint_failed",
                    "HIGH",
                    f"scope {scope}: the newest checkpoint {judged.checkpoint_name} failed "
                    f"validation ({_failed_tables(judged)})",
                    "read its DataValidation rows (CheckpointVerify / CheckpointCreate), fix the "
                    "data, then take a new checkpoint (rt.checkpoints.create)",
                    numbers={"checkpoint": judged.checkpoint_name},
                )
            )
        age = _hours(now, judged.created_date)
        if syncs and age > thresholds.checkpoint_stale_hours:
            mine.append(
                _finding(
                    "checkpoint_stale",
                    "MEDIUM",
                    f"scope {scope}: the newest {judged.checkpoint_type} checkpoint "
                    f"{judged.checkpoint_name} is {age:g} hours old "
                    f"(more than {thresholds.checkpoint_stale_hours:g})",
                    "check that the daily sync ran and created its checkpoint",
                    numbers={"age_hours": age, "threshold": thresholds.checkpoint_stale_hours},
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
                age_hours=_hours(now, newest.created_date),
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
            _finding(
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
            _finding(
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
            _finding(
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
            _finding(
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
        attempts[(r["RunId"], *target, _row_table(r))] = r
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
        findings.append(_run_finding(issue, thresholds))
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


def _row_table(r: Mapping[str, Any]) -> str | None:
    return f"{r.get('SchemaName')}.{r['TableName']}".lower() if r.get("TableName") else None


def _issue(r: Mapping[str, Any], kind: Any, now: datetime, *, recovered: bool) -> RunIssue:
    return RunIssue(
        kind=kind,
        entity=r["EntityId"],
        layer=r.get("Layer"),
        table=_row_table(r),
        part=r.get("Part"),
        run_id=r["RunId"],
        batch_id=r.get("BatchId"),
        event_time=as_utc(r["EventTime"]),
        age_hours=_hours(now, r["EventTime"]),
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


def _run_finding(issue: RunIssue, thresholds: ReportThresholds) -> HealthFinding:
    what = f"entity {issue.entity}" + (f" ({issue.layer})" if issue.layer else "")
    where = f" into {issue.table}" if issue.table else ""
    numbers = {"run_id": issue.run_id, "age_hours": issue.age_hours, "batch_id": issue.batch_id}
    common = {"table": issue.table, "entity": issue.entity, "numbers": numbers}
    if issue.kind == "Hung":
        return _finding(
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
        return _finding(
            "run_recovered",
            "LOW",
            f"the load of {what}{where} failed in run {issue.run_id}{error}; a later run "
            "loaded it",
            "nothing to repair; look at the error if it repeats",
            **common,
        )
    return _finding(
        "run_failed",
        "HIGH",
        f"the load of {what}{where} failed in run {issue.run_id}{error}, and no later run "
        "loaded it",
        "fix the cause, then re-run the pipeline: the run guard skips the entities already "
        "loaded",
        **common,
    )


# -- watermarks -----------------------------------------------------------------------------------
def watermark_section(
    states: Sequence[WatermarkState],
    *,
    now: datetime,
    thresholds: ReportThresholds,
    tables: set[str] | None,
) -> tuple[list[WatermarkLag], list[HealthFinding]]:
    """Each entity's watermark lag; entities not advanced in ``watermark_lag_hours`` lag."""
    lags, findings = [], []
    for st in states:
        table = st.table.lower() if st.table else None
        if tables is not None and table not in tables:
            continue
        lag = _hours(now, st.event_time)
        value_lag = _value_lag(st, now)
        lagging = lag > thresholds.watermark_lag_hours
        lags.append(
            WatermarkLag(
                entity=st.entity,
                table=table,
                kind=st.kind,
                value=st.value,
                last_advanced=st.event_time,
                lag_hours=lag,
                value_lag_hours=value_lag,
                lagging=lagging,
            )
        )
        if lagging:
            findings.append(
                _finding(
                    "watermark_lag",
                    "MEDIUM",
                    f"the watermark of entity {st.entity} last advanced {lag:g} hours ago "
                    f"(more than {thresholds.watermark_lag_hours:g}); value {st.value}",
                    "check that its incremental load runs and commits (rt.watermarks.commit); "
                    "a source without new rows also stops it",
                    table=table,
                    entity=st.entity,
                    numbers={"lag_hours": lag, "value_lag_hours": value_lag},
                )
            )
    lags.sort(key=lambda w: -w.lag_hours)
    return lags, findings


def _value_lag(st: WatermarkState, now: datetime) -> float | None:
    """Hours between now and a datetime/date watermark's value (None for other kinds)."""
    if st.kind not in ("datetime", "date") or not st.value:
        return None
    try:
        value = datetime.fromisoformat(st.value)
    except ValueError:
        return None
    return _hours(now, value)


# -- maintenance ----------------------------------------------------------------------------------
def maintenance_section(
    rows: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    since: datetime,
    thresholds: ReportThresholds,
    operating_since: datetime | None,
    tables: set[str] | None,
) -> tuple[MaintenanceOutcome, list[HealthFinding]]:
    """The last maintenance run and the window's VACUUM / OPTIMIZE failures.

    Args:
        rows: SyncAuditLog rows of the maintenance operations in ``maintenance_days``.
        operating_since: the oldest checkpoint's time (a lakehouse older than
            ``maintenance_days`` without a maintenance run gets a LOW finding, else INFO).
    """
    summaries = sorted(
        (r for r in rows if r["Operation"] == "MaintenanceSummary" and not r.get("DryRun")),
        key=lambda r: as_utc(r["EventTime"]),
    )
    failures = {}
    for r in rows:
        if r["Operation"] in ("Vacuum", "Optimize") and r["Status"] == "Failed":
            table = _row_table(r) or "(run)"
            if as_utc(r["EventTime"]) >= since and (tables is None or table in tables):
                failures[table] = f"{r['Operation']}: {r.get('ErrorSummary') or 'failed'}"
    findings = [
        _finding(
            "maintenance_table",
            "MEDIUM",
            f"maintenance of {table} failed: {error}",
            "read its Vacuum / Optimize audit rows; the next weekly run retries it",
            table=None if table == "(run)" else table,
        )
        for table, error in sorted(failures.items())
    ]
    if not summaries:
        old = operating_since is not None and now - as_utc(operating_since) > timedelta(
            days=thresholds.maintenance_days
        )
        findings.append(
            _finding(
                "maintenance_missing",
                "LOW" if old else "INFO",
                f"no maintenance run in the last {plural(thresholds.maintenance_days, 'day')}: "
                "Fabric never VACUUMs lakehouse tables by itself, storage only grows",
                "schedule the 'Weekly Delta Lake Maintenance' pipeline (notebooks/pipelines)",
            )
        )
        return MaintenanceOutcome(failures=failures), findings
    last = summaries[-1]
    details = _json(last.get("Details"))
    outcome = MaintenanceOutcome(
        last_run=as_utc(last["EventTime"]),
        run_id=last["RunId"],
        status=str(details.get("status") or last["Status"]),
        dry_run=bool(last.get("DryRun")),
        tables_failed=_int(details.get("tables_failed")),
        bytes_reclaimed=_int(details.get("bytes_reclaimed")),
        files_removed=_int(details.get("files_removed")),
        failures=failures,
        runs=len(summaries),
    )
    if last["Status"] == "Failed":
        findings.append(
            _finding(
                "maintenance_failed",
                "HIGH",
                f"the last maintenance run {last['RunId']} "
                f"({as_utc(last['EventTime']):%Y-%m-%d %H:%M} UTC) failed: "
                f"{plural(outcome.tables_failed or 0, 'table')} failed",
                "read its MaintenanceSummary and Vacuum/Optimize rows (docs/maintenance.md), "
                "fix the cause and run the maintenance notebook again",
                numbers={"run_id": last["RunId"], "tables_failed": outcome.tables_failed},
            )
        )
    return outcome, findings


def _json(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# -- storage --------------------------------------------------------------------------------------
def storage_section(
    cps: Sequence[Checkpoint],
    activity: Mapping[str, tuple[int, datetime | None]],
    *,
    tables: set[str] | None,
) -> list[TableStorage]:
    """Rows, bytes and files per table over the checkpoints (largest first), with activity.

    Args:
        cps: the checkpoints of the history window.
        activity: table -> (commits in the window, newest commit time), from each table's
            history (tables without a checkpoint are listed with these only).
        tables: only these tables (lower-case), or all.
    """
    points: dict[str, dict[str, TablePoint]] = {}
    for cp in cps:
        for t in cp.tables:
            name = t.table.lower()
            if tables is not None and name not in tables:
                continue
            points.setdefault(name, {})[cp.checkpoint_id] = TablePoint(
                checkpoint=cp.checkpoint_name,
                at=as_utc(t.version_timestamp or cp.created_date),
                version=t.version,
                rows=t.total_rows,
                bytes=t.total_bytes,
                files=t.file_count,
            )
    out = []
    for name in sorted(set(points) | set(activity)):
        series = sorted(points.get(name, {}).values(), key=lambda p: (p.at, p.version))
        latest = series[-1] if series else None
        commits, last_commit = activity.get(name, (None, None))
        out.append(
            TableStorage(
                table=name,
                rows=latest.rows if latest else None,
                bytes=latest.bytes if latest else None,
                files=latest.files if latest else None,
                points=tuple(series),
                commits=commits,
                last_commit=last_commit,
            )
        )
    out.sort(key=lambda s: (-(s.bytes or 0), s.table))
    return out


def storage_text(s: TableStorage) -> str:
    """One line of the storage table: ``bronze.account  1,200 rows  2.0 MiB  3 files``."""
    rows = f"{s.rows:,} rows" if s.rows is not None else "rows ?"
    return f"{s.table}  {rows}  {format_bytes(s.bytes)}  {plural(s.files or 0, 'file')}"


__all__ = [
    "DayCount",
    "MaintenanceOutcome",
    "ReportThresholds",
    "RunIssue",
    "ScopeFreshness",
    "TablePoint",
    "TableStorage",
    "WatermarkLag",
    "build_thresholds",
    "checkpoint_sections",
    "maintenance_section",
    "run_sections",
    "storage_section",
    "storage_text",
    "watermark_section",
]
