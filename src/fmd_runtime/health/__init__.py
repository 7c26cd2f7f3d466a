"""Operations health: preflight, the daily health report, and the findings every check reports.

``rt.preflight()`` (`run_preflight`) checks, read-only, that a lakehouse is fit for the job about
to run and returns a `PreflightReport` (text, HTML, JSON, and the exit value a pipeline branches
on). A health check answers with `HealthFinding` rows (severity, message, fix), summed up by
`overall_status` into a `HealthStatus`; one renderer prints them as text, HTML and a
self-contained HTML page (`findings_text`, `findings_html`, `html_page`).

``rt.health.report()`` (`Health.report`) is the daily platform health report: checkpoint
freshness and restorability per scope, failed and hung loads of the last day, watermark lag,
maintenance outcomes and storage per table, as a `HealthReport` (text, JSON, a self-contained
HTML page with inline SVG charts written under the lakehouse's ``Files/fmd/health/``, rows in
``HealthFindings``, and the exit value a pipeline branches on). docs/health-report.md.

Layout: ``_models`` (the finding), ``_render`` (text and HTML), ``_preflight`` (the report and
the run), ``_preflight_checks`` (metadata tables, PipelineConfig rows, each table and its
retention), ``_preflight_env`` (engine versions, the alert webhook), ``_preflight_values``
(placeholders, what a finding may show, the run context). docs/preflight.md describes each check.
The daily report: ``_gather`` (what it reads, each metadata table once), ``_sections`` (the
section models and the rules that judge them), ``_charts`` (inline SVG), ``_report`` (the
`HealthReport` and its renderings), ``_daily`` (building it; the page, HealthFindings, audit,
alert).

Example:
    >>> # report = rt.preflight(); print(report.to_text()); report.ok
    >>> findings_text([])
    'No findings.'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fmd_runtime._base import as_utc
from fmd_runtime.checkpoints import Checkpoint
from fmd_runtime.config import check_number, strict_bool
from fmd_runtime.errors import ConfigError
from fmd_runtime.health import _daily
from fmd_runtime.health._anomalies import AnomalyRules, find_anomalies
from fmd_runtime.health._charts import bar_chart, line_chart
from fmd_runtime.health._daily import HEALTH_FOLDER, files_root, record_findings
from fmd_runtime.health._foreign import (
    FIRST_SCAN_DAYS,
    MAX_COMMITS,
    ForeignOperation,
    ForeignScan,
    scan_foreign_operations,
)
from fmd_runtime.health._models import (
    BLOCKING,
    FindingSeverity,
    HealthFinding,
    HealthStatus,
    overall_status,
)
from fmd_runtime.health._preflight import PreflightReport, preflight_scope, run_preflight
from fmd_runtime.health._preflight_env import SUPPORTED_VERSIONS
from fmd_runtime.health._preflight_values import placeholder_guid_problem
from fmd_runtime.health._render import (
    SEVERITY_ORDER,
    findings_html,
    findings_text,
    html_page,
    sorted_findings,
)
from fmd_runtime.health._report import HealthReport
from fmd_runtime.health._sections import (
    DayCount,
    MaintenanceOutcome,
    ReportThresholds,
    RunIssue,
    ScopeFreshness,
    TablePoint,
    TableStorage,
    WatermarkLag,
    build_thresholds,
)

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

MAX_SINCE_HOURS = 720
"""The longest window a report judges (30 days; trends go back ``history_days``)."""


class Health:
    """``rt.health``: the daily platform health report, the foreign-operation scan, anomalies.

    Args:
        runtime: the `Runtime` (engine, store, checkpoints, watermarks, audit, alerts).
    """

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def report(
        self,
        *,
        since_hours: float = 24,
        tables: str | Sequence[str] | None = None,
        write: bool = True,
        alert: bool = True,
        verify: bool = False,
        thresholds: ReportThresholds | Mapping[str, Any] | None = None,
        files_root: str | Path | None = None,
        now: datetime | None = None,
    ) -> HealthReport:
        """The daily health report over the last ``since_hours``.

        Reads each metadata table once (bounded by time) and each table's history once
        (docs/health-report.md lists the reads and every rule). Unless ``write`` is false, the
        HTML page goes to ``<lakehouse>/Files/fmd/health/<date>_<run id>.html`` and the findings
        to ``HealthFindings`` (one commit); a ``HealthReport`` audit event is always written,
        and with ``alert`` one alert summarises the blocking findings.

        Args:
            since_hours: the window judged: failed and hung loads, maintenance failures,
                commits per table (1 to 720 hours; a pipeline's text is parsed).
            tables: only these tables (``"bronze.a,bronze.b"`` or a list; None, ``""`` or
                ``"All"``: every enabled PipelineConfig table and every checkpointed one).
            write: write the page and the HealthFindings rows (a bool or "true"/"false").
            alert: raise the summary alert when the report is Unhealthy, and let the anomaly
                rules alert. The foreign-operation scan alerts whenever it records (``write``).
            verify: also verify each scope's newest restore target now (reads every pinned
                file list: slower; without it the last verification's status is used).
            thresholds: a `ReportThresholds` or a dict of its fields (hung_after_hours ...).
            files_root: the lakehouse ``Files`` folder to write the page under (default:
                `files_root`: the embedded engine's lakehouse, else ``/lakehouse/default``).
            now: the instant the report judges from (default: now, UTC); ages, the window and
                the trends count back from it (what is read is always the current state).

        Returns:
            The `HealthReport` (``status``: Healthy, Warning or Unhealthy).

        Raises:
            ConfigError: an argument of the wrong type or out of bounds, before anything is
                read or written.
            InvalidIdentifierError: a name in ``tables`` is not a table of the lakehouse.

        Example:
            >>> # report = rt.health.report(); report.status; report.html_path
        """
        hours = check_number(
            since_hours, "since_hours", minimum=1, maximum=MAX_SINCE_HOURS, unit="hours"
        )
        scope = preflight_scope(self._rt, tables)
        return _daily.build_report(
            self._rt,
            since_hours=float(hours),
            tables=scope,
            write=strict_bool(write, "write"),
            alert=strict_bool(alert, "alert"),
            verify=strict_bool(verify, "verify"),
            thresholds=build_thresholds(thresholds),
            files_root_override=_check_files_root(files_root),
            now=_check_now(now),
        )

    def foreign_operations(
        self,
        tables: Sequence[str] | None = None,
        *,
        record: bool = True,
        checkpoints: Sequence[Checkpoint] | None = None,
        max_commits: int = MAX_COMMITS,
        first_scan_days: int = FIRST_SCAN_DAYS,
    ) -> ForeignScan:
        """Operations others made on the tables since the last scan, and what they broke.

        See `scan_foreign_operations` (docs/health.md "Foreign operations"): each table's
        history is read once from its high-water mark; after a foreign VACUUM, RESTORE or
        property change the active checkpoints pinning the table are verified again.

        Returns:
            The `ForeignScan` (operations, findings, marks).

        Raises:
            ConfigError: an argument of the wrong type or out of bounds.
            InvalidIdentifierError: a name in ``tables`` is not a table of the lakehouse.

        Example:
            >>> # [o.operation for o in rt.health.foreign_operations().operations if o.harmful]
        """
        return scan_foreign_operations(
            self._rt,
            tables,
            record=record,
            checkpoints=checkpoints,
            max_commits=max_commits,
            first_scan_days=first_scan_days,
        )

    def anomalies(
        self,
        *,
        rules: AnomalyRules | None = None,
        now: datetime | None = None,
        tables: Sequence[str] | None = None,
        checkpoints: Sequence[Checkpoint] | None = None,
        alert: bool = True,
    ) -> list[HealthFinding]:
        """What the library recorded, compared with each table's own recent past.

        See `find_anomalies` (docs/health.md "Anomalies"): robust baselines over the
        checkpoints, watermarks and the run ledger; no table's data is read.

        Returns:
            The findings, most severe first.

        Raises:
            ConfigError: an argument of the wrong type.
            InvalidIdentifierError: a name in ``tables`` is not a table of the lakehouse.

        Example:
            >>> # [f.message for f in rt.health.anomalies()]
        """
        return find_anomalies(
            self._rt, rules=rules, now=now, tables=tables, checkpoints=checkpoints, alert=alert
        )


def _check_files_root(value: Any) -> str | Path | None:
    """``files_root`` of a report: None, or a non-empty folder path."""
    if value is None:
        return None
    if not isinstance(value, str | Path) or not str(value).strip():
        raise ConfigError(
            f"parameter 'files_root' must be a folder path, got {value!r:.60}",
            hint="pass the lakehouse Files folder, e.g. files_root='/lakehouse/default/Files'",
        )
    return value


def _check_now(value: Any) -> datetime | None:
    """``now`` of a report: None or a datetime (naive: UTC)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ConfigError(
            f"parameter 'now' must be a datetime, got {type(value).__name__}",
            hint="pass now=datetime(2025, 1, 15, 6, tzinfo=timezone.utc), or leave it out",
        )
    return as_utc(value)


__all__ = [
    "BLOCKING",
    "FIRST_SCAN_DAYS",
    "MAX_COMMITS",
    "AnomalyRules",
    "ForeignOperation",
    "ForeignScan",
    "find_anomalies",
    "scan_foreign_operations",
    "HEALTH_FOLDER",
    "MAX_SINCE_HOURS",
    "DayCount",
    "Health",
    "HealthReport",
    "MaintenanceOutcome",
    "ReportThresholds",
    "RunIssue",
    "ScopeFreshness",
    "TablePoint",
    "TableStorage",
    "WatermarkLag",
    "bar_chart",
    "build_thresholds",
    "files_root",
    "line_chart",
    "record_findings",
    "SEVERITY_ORDER",
    "SUPPORTED_VERSIONS",
    "FindingSeverity",
    "HealthFinding",
    "HealthStatus",
    "PreflightReport",
    "findings_html",
    "findings_text",
    "html_page",
    "overall_status",
    "placeholder_guid_problem",
    "preflight_scope",
    "run_preflight",
    "sorted_findings",
]
