"""Preflight: is this lakehouse fit for the job about to run? `run_preflight` and its report.

``rt.preflight()`` runs every check of `_preflight_checks` (metadata tables, ``PipelineConfig``
rows, each enabled table, retention against the active checkpoints) and `_preflight_env` (engine
versions, the alert webhook), collects their `HealthFinding` rows into a `PreflightReport` and
audits one ``Preflight`` event. The report prints as text, HTML and JSON; its exit value is the
small JSON a pipeline's If Condition branches on (``ok`` false: a CRITICAL or HIGH finding).

Preflight is read-only: it creates, upgrades and changes nothing, so it can run before anything
else. One write is the exception, the audit row, and it is skipped (``audited`` false) while the
metadata tables are incomplete, because writing through the store would create or upgrade them.

Example:
    >>> # report = rt.preflight()
    >>> # print(report.to_text()); report.ok   # False: a blocking finding
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from fmd_runtime._base import FROZEN
from fmd_runtime._text import plural
from fmd_runtime.config import TableConfig, build_table_config, strict_bool
from fmd_runtime.engine import engine_label, engine_versions
from fmd_runtime.errors import ConfigError, FmdError, PreflightError
from fmd_runtime.fabric import exit_value as fabric_exit_value
from fmd_runtime.health._models import (
    FindingSeverity,
    HealthFinding,
    HealthStatus,
    overall_status,
)
from fmd_runtime.health._preflight_checks import (
    MetadataState,
    PinnedVersion,
    active_pins,
    check_config_rows,
    check_metadata_table,
    check_table,
)
from fmd_runtime.health._preflight_env import check_alerts, check_engine
from fmd_runtime.health._preflight_values import check_context, finding
from fmd_runtime.health._render import SEVERITY_ORDER, findings_html, findings_text, html_page
from fmd_runtime.redaction import redact
from fmd_runtime.store import utcnow
from fmd_runtime.store.schemas import ALL_TABLES, TableSchema
from fmd_runtime.tables import TableRef

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

_AUDIT_STATUS = {"Healthy": "Succeeded", "Warning": "Warning", "Unhealthy": "Failed"}


class PreflightReport(BaseModel):
    """What preflight found: the findings, the tables it checked, the engine it ran on.

    Attributes:
        run_id: the run that ran it (its ``Preflight`` audit event carries it).
        started_at / finished_at: when it ran (UTC).
        engine: the engine as people read it (``delta-rs (deltalake 1.6.6)``).
        engine_versions: the engine's libraries and versions (``{"deltalake": "1.6.6"}``).
        metadata_schema: the schema of the metadata tables checked.
        tables: each configured table checked and its row count (None: missing or unreadable).
        findings: every finding, most severe first.
        audited: the ``Preflight`` audit event was written (not while the metadata tables are
            incomplete: writing would create or upgrade them).

    Example:
        >>> r = PreflightReport(run_id="r1", started_at=utcnow(), finished_at=utcnow(),
        ...                     engine="delta-rs", metadata_schema="metadata")
        >>> r.status, r.ok, json.loads(r.exit_value())["blocking"]
        ('Healthy', True, 0)
    """

    model_config = FROZEN

    run_id: str
    started_at: datetime
    finished_at: datetime
    engine: str
    engine_versions: dict[str, str] = Field(default_factory=dict)
    metadata_schema: str
    tables: dict[str, int | None] = Field(default_factory=dict)
    findings: list[HealthFinding] = Field(default_factory=list)
    audited: bool = False

    @property
    def status(self) -> HealthStatus:
        """Unhealthy (a blocking finding), Warning (MEDIUM or LOW findings) or Healthy."""
        return overall_status(self.findings)

    @property
    def ok(self) -> bool:
        """True when no finding blocks a run (no CRITICAL or HIGH): the pipeline may go on."""
        return not any(f.blocks_run for f in self.findings)

    @property
    def blocking(self) -> list[HealthFinding]:
        """The CRITICAL and HIGH findings."""
        return [f for f in self.findings if f.blocks_run]

    def counts(self) -> dict[str, int]:
        """Findings per severity, most severe first (every severity listed)."""
        return {s: sum(1 for f in self.findings if f.severity == s) for s in SEVERITY_ORDER}

    def summary(self) -> str:
        """One line: status, counts, run, engine.

        Example:
            >>> # 'Preflight Unhealthy: 3 findings (2 blocking), 5 tables checked, run r1, ...'
        """
        actionable = [f for f in self.findings if f.severity != "INFO"]
        return (
            f"Preflight {self.status}: {plural(len(actionable), 'finding')} "
            f"({len(self.blocking)} blocking), {plural(len(self.tables), 'table')} checked, "
            f"run {self.run_id}, {self.engine}"
        )

    def to_text(self) -> str:
        """The report as text (CLI, logs, notebook output)."""
        lines = [
            self.summary(),
            f"Ran {self.started_at:%Y-%m-%d %H:%M:%S} UTC, "
            f"{(self.finished_at - self.started_at).total_seconds():.1f} s; metadata schema "
            f"{self.metadata_schema}; audited: {'yes' if self.audited else 'no'}",
            "",
            findings_text(self.findings),
        ]
        if not self.ok:
            lines += ["", "Blocking findings: fix them (each row's FIX) before the job runs."]
        return "\n".join(lines)

    def _summary_html(self) -> str:
        return (
            f"<p><b>{html.escape(self.summary())}</b><br>Ran {self.started_at:%Y-%m-%d %H:%M:%S} "
            f"UTC; metadata schema {html.escape(self.metadata_schema)}; audited: "
            f"{'yes' if self.audited else 'no'}</p>"
        )

    def _repr_html_(self) -> str:
        return self._summary_html() + findings_html(self.findings)

    def to_html(self) -> str:
        """The report as a self-contained HTML page (a file to attach, a mail body)."""
        return html_page(
            f"fmd preflight: {self.status}",
            [("Summary", self._summary_html()), ("Findings", findings_html(self.findings))],
        )

    def to_json(self) -> str:
        """The whole report as indented JSON, with ``status``, ``ok`` and ``counts`` added."""
        data = self.model_dump(mode="json")
        data.update(status=self.status, ok=self.ok, counts=self.counts())
        return json.dumps(data, indent=2, sort_keys=True)

    def to_exit_dict(self) -> dict[str, Any]:
        """The compact summary a pipeline branches on (see `exit_value`)."""
        return {
            "status": self.status,
            "ok": self.ok,
            "blocking": len(self.blocking),
            "warnings": sum(1 for f in self.findings if f.severity in ("MEDIUM", "LOW")),
            "findings": sum(1 for f in self.findings if f.severity != "INFO"),
            "run_id": self.run_id,
            "audited": self.audited,
            "message": self.summary(),
            "failures": [f"{f.check}: {f.message}" for f in self.blocking],
        }

    def assert_ok(self) -> None:
        """Raise `PreflightError` when a finding blocks the run (how a notebook stops here).

        Raises:
            PreflightError: CRITICAL or HIGH findings; the message names each (at most 10)
                with its fix, ``details["exit"]`` is `to_exit_dict`.

        Example:
            >>> # report = rt.preflight(); display(report); report.assert_ok()
        """
        if self.ok:
            return
        shown = self.blocking[:10]
        more = len(self.blocking) - len(shown)
        lines = "; ".join(
            f"[{f.severity}] {f.check}: {f.message} (fix: {f.fix})" for f in shown
        ) + (f"; and {more} more" if more else "")
        raise PreflightError(
            f"preflight found {plural(len(self.blocking), 'blocking finding')} "
            f"(run {self.run_id}): {lines}",
            run_id=self.run_id,
            hint="fix each finding as its fix says (docs/preflight.md), then run again",
            details={"exit": self.to_exit_dict()},
        )

    def exit_value(self, **extra: Any) -> str:
        """The notebook exit value: compact JSON text a pipeline's If Condition reads.

        ``{"status": "Unhealthy", "ok": false, "blocking": 2, "warnings": 1, "findings": 3,
        "run_id": "...", "audited": true, "message": "...", "failures": ["..."]}``; a pipeline
        goes on when ``@json(activity('Preflight').output.result.exitValue).ok`` is true.

        Args:
            **extra: further keys the notebook's pipeline reads (e.g. ``checkpoint=None``
                when a notebook stops at its preflight), merged over the summary.

        Example:
            >>> # notebook_exit(report.exit_value())
        """
        return fabric_exit_value({**self.to_exit_dict(), **extra})


def preflight_scope(rt: Runtime, tables: Any) -> list[TableRef] | None:
    """The tables a preflight checks: None for every enabled one, else the named ones.

    Accepts None, ``""`` or ``"All"`` (every enabled table), a comma-separated text (a pipeline
    parameter) or a list of names.

    Raises:
        ConfigError: ``tables`` is of another type.
        InvalidIdentifierError: a name is not a table of the connected lakehouse.
    """
    if tables is None:
        return None
    if isinstance(tables, str):
        if tables.strip().lower() in ("", "all"):
            return None
        tables = [t for t in tables.split(",") if t.strip()]
    if not isinstance(tables, Sequence) or isinstance(tables, bytes):
        raise ConfigError(
            f"parameter 'tables' must be table names, got {type(tables).__name__}",
            hint="pass 'bronze.a,bronze.b', a list of names, or None for every enabled table",
        )
    return [rt.table(t, parameter="tables") for t in tables]


def run_preflight(
    rt: Runtime,
    *,
    tables: Any = None,
    require_alerts: Any = False,
    audit: Any = True,
) -> PreflightReport:
    """Run every preflight check (read-only), audit the result, return the report.

    Args:
        rt: the runtime (preferably connected with ``ensure=False``, so a missing metadata
            table is reported rather than created by ``connect``).
        tables: the tables to check (see `preflight_scope`); default every enabled
            ``PipelineConfig`` table. Metadata tables, the engine and alerts are always checked.
        require_alerts: a missing alert webhook is HIGH instead of INFO.
        audit: write the ``Preflight`` audit event (one commit).

    Returns:
        The `PreflightReport`.

    Raises:
        ConfigError: an argument of the wrong type (before any check runs).
        InvalidIdentifierError: a name in ``tables`` is not a table name.
    """
    require_alerts = strict_bool(require_alerts, "require_alerts")
    audit = strict_bool(audit, "audit")
    scope = preflight_scope(rt, tables)
    started = utcnow()
    findings: list[HealthFinding] = []
    states = _metadata(rt, findings)
    configs = _configs(rt, states["PipelineConfig"], scope, findings)
    complete = all(s == "complete" for s in states.values())
    pins: dict[str, list[PinnedVersion]] = {}
    if complete:
        pins = _guarded("checkpoints", findings, lambda: active_pins(rt)) or {}
    else:
        findings.append(
            finding(
                "preflight.checkpoints_not_checked",
                "INFO",
                "retention was not checked against the active checkpoints: the metadata tables "
                "are incomplete (reading them through the store would upgrade them)",
                "fix the metadata findings above, then run preflight again",
            )
        )
    rows = _tables(rt, configs, pins, findings)
    for name, check in (
        ("run context", lambda: check_context(rt)),
        ("engine", lambda: check_engine(rt)),
        ("alerts", lambda: check_alerts(rt, required=require_alerts)),
    ):
        findings += _guarded(name, findings, check) or []
    ordered = sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.check, f.table or ""))
    audited = audit and complete and _audit(rt, ordered, len(rows))
    return PreflightReport(
        run_id=rt.context.run_id,
        started_at=started,
        finished_at=utcnow(),
        engine=engine_label(rt.engine),
        engine_versions=engine_versions(rt.engine),
        metadata_schema=rt.config.metadata_schema,
        tables=rows,
        findings=ordered,
        audited=audited,
    )


def _guarded(what: str, findings: list[HealthFinding], fn: Any) -> Any:
    """``fn()``; an error becomes a finding (a check that cannot run is itself a problem)."""
    try:
        return fn()
    except Exception as exc:  # one failing check never stops the others
        message = exc.message if isinstance(exc, FmdError) else f"{type(exc).__name__}: {exc}"
        findings.append(
            finding(
                "preflight.check_failed",
                "MEDIUM",
                f"the {what} check could not run: {redact(message)}",
                "fix the cause and run preflight again",
            )
        )
        return None


def _metadata(rt: Runtime, findings: list[HealthFinding]) -> dict[str, MetadataState]:
    """Check every metadata table; their states (missing, outdated, complete) by name."""

    def one(schema: TableSchema) -> tuple[list[HealthFinding], MetadataState]:
        return check_metadata_table(rt, schema)

    outcomes = rt.map_tables(
        one, list(ALL_TABLES), label="Preflight: metadata table", key=lambda s: s.name
    )
    states: dict[str, MetadataState] = {}
    for schema, outcome in zip(ALL_TABLES, outcomes, strict=True):
        if outcome.ok and outcome.value is not None:
            found, states[schema.name] = outcome.value
            findings += found
            continue
        states[schema.name] = "outdated"  # unknown: never written to, never read as complete
        findings.append(
            finding(
                "preflight.unreadable_table",
                "HIGH",
                f"metadata table {rt.store.ref(schema.name).name} could not be checked: "
                f"{outcome.error}",
                "check the table's storage access and its _delta_log",
                table=rt.store.ref(schema.name).name,
            )
        )
    return states


def _configs(
    rt: Runtime,
    state: MetadataState,
    scope: list[TableRef] | None,
    findings: list[HealthFinding],
) -> list[TableConfig]:
    """The configurations to check: the enabled rows, or the tables named (their row or defaults)."""
    rows: list[dict[str, Any]] = []
    if state != "missing":
        ref = rt.store.ref("PipelineConfig")
        read = _guarded(
            "PipelineConfig",
            findings,
            lambda: rt.engine.sql("SELECT * FROM {t}", {"t": ref}).to_pylist(),
        )
        rows = read or []
    names = None if scope is None else {r.name.lower() for r in scope}
    found, configs = check_config_rows(rows, names)
    findings += found
    if scope is None:
        return [c for c in configs if c.enabled]
    by_name = {c.table.lower(): c for c in configs}
    return [by_name.get(r.name.lower()) or build_table_config({"table": r.name}) for r in scope]


def _tables(
    rt: Runtime,
    configs: list[TableConfig],
    pins: dict[str, list[PinnedVersion]],
    findings: list[HealthFinding],
) -> dict[str, int | None]:
    """Check each configured table in the bounded pool; their row counts by name."""
    now = utcnow()

    def one(cfg: TableConfig) -> tuple[list[HealthFinding], int | None]:
        return check_table(rt, cfg, pins.get(cfg.table.lower(), []), now)

    outcomes = rt.map_tables(one, configs, label="Preflight: table", key=lambda c: c.table)
    rows: dict[str, int | None] = {}
    for cfg, outcome in zip(configs, outcomes, strict=True):
        if outcome.ok and outcome.value is not None:
            found, rows[cfg.table] = outcome.value
            findings += found
            continue
        rows[cfg.table] = None
        findings.append(
            finding(
                "preflight.unreadable_table",
                "HIGH",
                f"table {cfg.table} could not be checked: {outcome.error}",
                "check the table's storage access and its _delta_log",
                table=cfg.table,
            )
        )
    return rows


def _audit(rt: Runtime, findings: list[HealthFinding], tables: int) -> bool:
    """One ``Preflight`` event with the status and counts, flushed; True when it was written."""
    status = overall_status(findings)
    worst: FindingSeverity = min(
        (f.severity for f in findings), key=SEVERITY_ORDER.__getitem__, default="INFO"
    )
    failures = rt.audit.write_failures
    rt.audit.event(
        "Preflight",
        _AUDIT_STATUS[status],
        severity=worst,
        details={
            "status": status,
            "blocking": sum(1 for f in findings if f.blocks_run),
            "findings": sum(1 for f in findings if f.severity != "INFO"),
            "by_severity": {s: sum(1 for f in findings if f.severity == s) for s in SEVERITY_ORDER},
            "tables_checked": tables,
            "checks": [
                {"check": f.check, "severity": f.severity, "table": f.table}
                for f in findings[:100]
                if f.severity != "INFO"
            ],
        },
        flush=True,
    )
    return rt.audit.write_failures == failures


__all__ = ["PreflightReport", "preflight_scope", "run_preflight"]
