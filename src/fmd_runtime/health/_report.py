"""`HealthReport`: the daily report's typed result and its three renderings (text, HTML, JSON).

The HTML page is self-contained (`html_page`: inline CSS, no script, no external resource) and
carries three inline SVG charts (`_charts`): rows and storage per table over the last
checkpoints (the `ReportThresholds.top_tables` largest tables) and failed loads per day. Every
value from data is escaped. The same page is the notebook's rich output (``_repr_html_``) and
the file written under the lakehouse's ``Files/fmd/health/``.

Example:
    >>> # report = rt.health.report(); print(report.to_text()); report.exit_value()
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from fmd_runtime._base import FROZEN
from fmd_runtime._text import format_bytes, plural
from fmd_runtime.fabric import exit_value
from fmd_runtime.health._charts import bar_chart, line_chart
from fmd_runtime.health._foreign_models import ForeignOperation
from fmd_runtime.health._models import HealthFinding, HealthStatus
from fmd_runtime.health._operations import storage_text
from fmd_runtime.health._render import SEVERITY_ORDER, findings_html, findings_text, html_page
from fmd_runtime.health._sections import (
    DayCount,
    MaintenanceOutcome,
    ReportThresholds,
    RunIssue,
    ScopeFreshness,
    TableStorage,
    WatermarkLag,
)

CHART_ROWS = "Rows per table over the last checkpoints"
CHART_BYTES = "Storage per table over the last checkpoints"
CHART_FAILURES = "Failed loads per day"
_LIST_LIMIT = 50
"""Rows a section's HTML/text table lists (the JSON keeps everything)."""


class HealthReport(BaseModel):
    """The daily platform health report (``rt.health.report()``).

    Attributes:
        report_id: unique id (the ``ReportId`` of its HealthFindings rows).
        run_id: the run that generated it.
        pipeline_run_id: the pipeline run, when a pipeline ran it.
        generated_at: when (UTC).
        window_start / window_hours: the window judged (failed and hung runs, maintenance
            failures, commits per table).
        status: `overall_status` of every finding: Unhealthy (a CRITICAL/HIGH finding),
            Warning (MEDIUM/LOW) or Healthy.
        findings: every finding, most severe first.
        scopes: checkpoint freshness and restorability per scope.
        runs: failed and hung loads of the window.
        failures_per_day: failed load attempts per UTC day over ``history_days``.
        watermarks: each entity's watermark lag, largest first.
        maintenance: the last maintenance run and the window's VACUUM/OPTIMIZE failures.
        storage: rows, bytes, files per table (largest first), with their checkpoint series.
        foreign_operations: operations on the tables the library did not make (the
            foreign-operation scan; its findings are among ``findings``).
        foreign_scan_failures: ``schema.table`` -> why the scan could not read its history.
        anomalies: the anomaly rules' findings (also among ``findings``), as a property.
        tables_scanned: tables whose history was read.
        thresholds: what was judged against.
        html_path: where the HTML page was written (None: not written).
        findings_written: rows written to HealthFindings (0: not written).
    """

    model_config = FROZEN

    report_id: str
    run_id: str
    pipeline_run_id: str | None = None
    generated_at: datetime
    window_start: datetime
    window_hours: float
    status: HealthStatus
    findings: tuple[HealthFinding, ...] = ()
    scopes: tuple[ScopeFreshness, ...] = ()
    runs: tuple[RunIssue, ...] = ()
    failures_per_day: tuple[DayCount, ...] = ()
    watermarks: tuple[WatermarkLag, ...] = ()
    maintenance: MaintenanceOutcome = MaintenanceOutcome()
    storage: tuple[TableStorage, ...] = ()
    foreign_operations: tuple[ForeignOperation, ...] = ()
    foreign_scan_failures: dict[str, str] = {}
    tables_scanned: int = 0
    thresholds: ReportThresholds = ReportThresholds()
    html_path: str | None = None
    findings_written: int = 0

    # -- summaries -------------------------------------------------------------------------
    @property
    def counts(self) -> dict[str, int]:
        """Findings per severity, every severity named (``{"CRITICAL": 0, "HIGH": 2, ...}``)."""
        found = Counter(f.severity for f in self.findings)
        return {s: found.get(s, 0) for s in SEVERITY_ORDER}

    @property
    def anomalies(self) -> list[HealthFinding]:
        """The anomaly rules' findings (``anomaly.*``), most severe first."""
        return [f for f in self.findings if f.check.startswith("anomaly.")]

    @property
    def blocking(self) -> list[HealthFinding]:
        """The CRITICAL and HIGH findings (what makes the report Unhealthy)."""
        return [f for f in self.findings if f.blocks_run]

    def exit_dict(self) -> dict[str, Any]:
        """The small summary a pipeline branches on (see `exit_value`)."""
        return {
            "status": self.status,
            "report_id": self.report_id,
            "run_id": self.run_id,
            "generated_at": self.generated_at,
            "window_hours": self.window_hours,
            "counts": self.counts,
            "findings": len(self.findings),
            "blocking": [f"{f.check}: {f.message}" for f in self.blocking[:10]],
            "tables": self.tables_scanned,
            "html_path": self.html_path,
        }

    def to_exit_dict(self) -> dict[str, Any]:
        """`exit_dict` (the name `fmd_runtime.fabric.exit_value` looks for)."""
        return self.exit_dict()

    def exit_value(self) -> str:
        """The notebook's exit value: compact JSON of `exit_dict` (status, counts, html path).

        A pipeline reads ``@json(activity('Run fmd_health').output.result.exitValue).status``.

        Example:
            >>> # json.loads(report.exit_value())["status"]  # 'Healthy'
        """
        return exit_value(self.exit_dict())

    def to_json(self) -> str:
        """The whole report as JSON (every section, every finding).

        Example:
            >>> # json.loads(report.to_json())["status"]
        """
        return self.model_dump_json(indent=2)

    # -- text ------------------------------------------------------------------------------
    def headline(self) -> str:
        """``Platform health: Warning - 3 findings (0 blocking) over 12 tables, last 24 hours``."""
        return (
            f"Platform health: {self.status} - {plural(len(self.findings), 'finding')} "
            f"({len(self.blocking)} blocking) over {plural(self.tables_scanned, 'table')}, "
            f"last {self.window_hours:g} hours"
        )

    def to_text(self) -> str:
        """A readable plain-text report: headline, findings, then each section briefly."""
        lines = [
            self.headline(),
            f"generated {self.generated_at:%Y-%m-%d %H:%M} UTC, run {self.run_id}"
            + (f", page {self.html_path}" if self.html_path else ""),
            "",
            "Findings",
            findings_text(self.findings),
            "",
            "Checkpoints per scope",
        ]
        lines += [
            f"  {s.status:<9} {_cut(s.scope)}: {s.latest} ({s.latest_kind}, "
            f"{_age(s.age_hours)}), restorability {s.restorability or 'unknown'}"
            for s in self.scopes
        ] or ["  no checkpoints in the window"]
        lines += ["", "Failed and hung loads"]
        lines += [
            f"  {r.kind:<6} {r.entity} ({r.layer}) run {r.run_id} {_age(r.age_hours)}"
            + (" - recovered" if r.recovered else "")
            for r in self.runs[:_LIST_LIMIT]
        ] or ["  none"]
        lagging = [w for w in self.watermarks if w.lagging]
        lines += ["", f"Watermarks: {len(self.watermarks)} entities, {len(lagging)} lagging"]
        lines += [f"  {w.entity}: last advanced {_age(w.lag_hours)}" for w in lagging[:20]]
        m = self.maintenance
        lines += ["", "Maintenance"]
        lines.append(
            f"  last run {m.last_run:%Y-%m-%d %H:%M} UTC: {m.status}, reclaimed "
            f"{format_bytes(m.bytes_reclaimed)}"
            if m.last_run
            else "  no maintenance run in the window"
        )
        lines += [f"  {t}: {e}" for t, e in sorted(m.failures.items())]
        lines += ["", f"Storage per table (largest first, {len(self.storage)} tables)"]
        lines += [f"  {storage_text(s)}" for s in self.storage[:20]]
        harmful = [o for o in self.foreign_operations if o.harmful]
        lines += [
            "",
            f"Foreign operations: {len(self.foreign_operations)} ({len(harmful)} harmful)",
        ]
        lines += [
            f"  {o.table} v{o.version} {o.operation} at {o.timestamp:%Y-%m-%d %H:%M} UTC"
            + (f": broke {', '.join(o.affected_checkpoints)}" if o.harmful else "")
            for o in self.foreign_operations[:20]
        ]
        lines += ["", f"Anomalies: {len(self.anomalies)}"]
        lines += [f"  {f.severity:<6} {f.message}" for f in self.anomalies[:20]]
        return "\n".join(lines)

    # -- HTML ------------------------------------------------------------------------------
    def charts(self) -> dict[str, str]:
        """The three inline SVG charts, by title."""
        top = [s for s in self.storage if s.points][: self.thresholds.top_tables]
        day = "%Y-%m-%d %H:%M"
        rows = {s.table: [(p.at.strftime(day), float(p.rows or 0)) for p in s.points] for s in top}
        size = {s.table: [(p.at.strftime(day), float(p.bytes or 0)) for p in s.points] for s in top}
        fails = [(d.day.isoformat(), float(d.failures)) for d in self.failures_per_day]
        return {
            CHART_ROWS: line_chart(CHART_ROWS, rows, empty_note="no checkpoint in the window"),
            CHART_BYTES: line_chart(
                CHART_BYTES, size, fmt=format_bytes, empty_note="no checkpoint in the window"
            ),
            CHART_FAILURES: bar_chart(CHART_FAILURES, fails),
        }

    def to_html(self) -> str:
        """The self-contained HTML page: status, findings, charts, then each section's table."""
        status = (
            f'<p class="fmd-status fmd-{html.escape(self.status)}">'
            f"<strong>{html.escape(self.status)}</strong> - {html.escape(self.headline())}<br>"
            f"generated {self.generated_at:%Y-%m-%d %H:%M} UTC, run {html.escape(self.run_id)}, "
            f"report {html.escape(self.report_id)}</p>"
        )
        sections = [
            ("Status", status + _STYLE),
            ("Findings", findings_html(self.findings)),
            ("Trends", "".join(f"<div>{svg}</div>" for svg in self.charts().values())),
            *((title, _table(head, rows)) for title, head, rows in self._tables()),
            ("Anomalies", findings_html(self.anomalies)),
        ]
        return html_page(f"Platform health {self.generated_at:%Y-%m-%d}", sections)

    def _tables(self) -> list[tuple[str, tuple[str, ...], list[tuple[Any, ...]]]]:
        """Each section as (title, header, rows) for the page."""
        m = self.maintenance
        last_run = [
            (_when(m.last_run), m.run_id, m.status, m.tables_failed,
             format_bytes(m.bytes_reclaimed), m.files_removed)
        ] if m.last_run else []  # fmt: skip
        return [
            (
                "Checkpoints per scope",
                ("Status", "Scope", "Newest", "Kind", "Age", "Validation", "Restore target",
                 "Restorability", "Last verified", "Tables"),
                [(s.status, _cut(s.scope), s.latest, s.latest_kind, _age(s.age_hours),
                  s.validation_status, s.restore_target, s.restorability or "unknown",
                  _when(s.last_verified), s.tables) for s in self.scopes],
            ),
            (
                "Failed and hung loads",
                ("Kind", "Entity", "Layer", "Table", "Run", "When", "Error", "Recovered"),
                [(r.kind, r.entity, r.layer, r.table, r.run_id, _when(r.event_time), r.error,
                  "yes" if r.recovered else "no") for r in self.runs],
            ),
            (
                "Watermark lag",
                ("Entity", "Table", "Kind", "Value", "Last advanced", "Lag", "Lagging"),
                [(w.entity, w.table, w.kind, w.value, _when(w.last_advanced), _age(w.lag_hours),
                  "yes" if w.lagging else "no") for w in self.watermarks],
            ),
            (
                "Maintenance",
                ("Last run", "Run", "Status", "Tables failed", "Reclaimed", "Files removed"),
                last_run,
            ),
            ("Maintenance failures", ("Table", "Failure"), sorted(m.failures.items())),
            (
                "Storage per table",
                ("Table", "Rows", "Size", "Files", "Checkpoints", "Version"),
                [(s.table, s.rows, None if s.bytes is None else format_bytes(s.bytes), s.files,
                  len(s.points), s.version) for s in self.storage],
            ),
            (
                "Foreign operations",
                ("Table", "Version", "When", "Operation", "Kind", "By", "Files removed",
                 "Harmful", "Checkpoints broken", "Restorability after"),
                [(o.table, o.version, _when(o.timestamp), o.operation, o.kind,
                  o.user_name or o.engine_info, o.files_removed, "yes" if o.harmful else "no",
                  ", ".join(o.affected_checkpoints), o.restorability_after)
                 for o in self.foreign_operations],
            ),
        ]  # fmt: skip

    def _repr_html_(self) -> str:
        """The HTML page, for a notebook's rich output."""
        return self.to_html()


_STYLE = (
    "<style>p.fmd-status{padding:8px 12px;border-radius:6px}"
    ".fmd-Healthy{background:#dafbe1}.fmd-Warning{background:#fff8c5}"
    ".fmd-Unhealthy{background:#ffebe9}svg.fmd-chart{margin:6px 0;max-width:100%}"
    "p.fmd-more{color:#57606a}</style>"
)


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An escaped HTML table (the findings table's look), at most `_LIST_LIMIT` rows."""
    if not rows:
        return '<p class="fmd-none">None.</p>'
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>"
        for row in rows[:_LIST_LIMIT]
    )
    more = (
        f'<p class="fmd-more">... and {len(rows) - _LIST_LIMIT} more (see the JSON)</p>'
        if len(rows) > _LIST_LIMIT
        else ""
    )
    return (
        f'<table class="fmd-findings"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'
        + more
    )


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return html.escape(
        f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
    )


def _when(value: datetime | None) -> str | None:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else None


def _age(hours: float | None) -> str:
    if hours is None:
        return "-"
    return f"{hours:.1f} h ago" if hours < 48 else f"{hours / 24:.1f} days ago"


def _cut(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


__all__ = ["CHART_BYTES", "CHART_FAILURES", "CHART_ROWS", "HealthReport"]
