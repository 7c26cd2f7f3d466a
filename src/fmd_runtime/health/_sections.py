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

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel

from fmd_runtime._base import FROZEN, as_utc
from fmd_runtime.config import check_number
from fmd_runtime.errors import ConfigError
from fmd_runtime.health._charts import MAX_SERIES
from fmd_runtime.health._models import HealthFinding, HealthStatus

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
    checked: dict[str, Any] = {}
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

    ``version`` is the newest version the foreign-operation scan read (its high-water mark).
    """

    model_config = FROZEN

    table: str
    rows: int | None = None
    bytes: int | None = None
    files: int | None = None
    points: tuple[TablePoint, ...] = ()
    version: int | None = None


class DayCount(BaseModel):
    """Failed load attempts on one UTC day."""

    model_config = FROZEN

    day: date
    failures: int


def finding(check: str, severity: Any, message: str, fix: str, **kw: Any) -> HealthFinding:
    """A finding of the daily report: its check is ``report.<check>``."""
    return HealthFinding(check=f"report.{check}", severity=severity, message=message, fix=fix, **kw)


def hours_between(now: datetime, then: datetime) -> float:
    """Hours from ``then`` (naive: UTC) to ``now``, rounded to 0.01."""
    return round((now - as_utc(then)).total_seconds() / _HOUR, 2)


def row_table(r: Mapping[str, Any]) -> str | None:
    """The lower-case ``schema.table`` a metadata row names (None when it names no table)."""
    return f"{r.get('SchemaName')}.{r['TableName']}".lower() if r.get("TableName") else None


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
    "finding",
    "hours_between",
    "row_table",
]
