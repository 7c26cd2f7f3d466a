"""The documents a rollback hands back, and how each prints.

`RollbackPlan` (from `_plan`: the impact report and the approval token), `RollbackResult` (from
`_execute`: the validation report) and `RollbackRun` (from `_notebook`: plan, decision and outcome of
one notebook run). Each is a frozen, JSON-able model with its text (`to_text`, the CLI and the
reports' ``ReportText``), HTML (``_repr_html_``, notebook display) and exit value (`to_exit_dict`).
The rendering lives here, beside the models, because each model's ``to_text`` is it.

Example:
    >>> # print(rt.rollback.plan("bronze_batch_2025-01-15").to_text())
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from fmd_runtime._base import FROZEN
from fmd_runtime._text import format_bytes, plural
from fmd_runtime.checkpoints import Checkpoint
from fmd_runtime.config import StrictFlag
from fmd_runtime.fabric import exit_value as fabric_exit_value
from fmd_runtime.rollback._models import (
    ComparisonReport,
    DependencyGap,
    PlanTotals,
    RunStatus,
    TableImpact,
    TableOutcome,
)
from fmd_runtime.validation import ValidationCheck


class _PerTable(Protocol):
    @property
    def table(self) -> str: ...


_T = TypeVar("_T", bound=_PerTable)


def _in_scope(tables: Sequence[_T], name: str) -> _T:
    """The entry of ``tables`` for table ``name`` (case-insensitive); KeyError if absent."""
    wanted = name.strip().lower()
    for t in tables:
        if t.table.lower() == wanted:
            return t
    raise KeyError(name)


class RollbackPlan(BaseModel):
    """A validated rollback plan: the impact per table, the totals, and the approval token.

    A plan is bound to the lakehouse it was made on: ``lakehouse`` (where that lakehouse's
    metadata store keeps ``CheckpointHistory``, per the engine's ``location``) and
    ``metadata_schema``. `Rollback.execute` refuses it anywhere else, and refuses it when its
    checkpoint, scope or any version differs from what the store and the tables say.

    JSON-able (``model_dump(mode="json")``), text (`to_text`) and HTML (``_repr_html_``).
    """

    model_config = FROZEN

    run_id: str
    created_at: datetime
    lakehouse: str
    metadata_schema: str
    checkpoint: Checkpoint
    kind: str | None = None
    scope_text: str
    tables: tuple[TableImpact, ...]
    dependencies: tuple[DependencyGap, ...] = ()
    warnings: tuple[str, ...] = ()
    restorability: str = "Restorable"
    totals: PlanTotals
    approval_token: str
    require_approval: StrictFlag = True
    allow_failed_validation: StrictFlag = False

    @property
    def checkpoint_name(self) -> str:
        """The target checkpoint's name."""
        return self.checkpoint.checkpoint_name

    @property
    def checkpoint_id(self) -> str:
        """The target checkpoint's id."""
        return self.checkpoint.checkpoint_id

    @property
    def scope(self) -> tuple[str, ...]:
        """Tables in scope (``schema.table``)."""
        return tuple(t.table for t in self.tables)

    def table(self, name: str) -> TableImpact:
        """The impact of one table (KeyError if it is not in scope)."""
        return _in_scope(self.tables, name)

    def to_text(self) -> str:
        """The impact report (CLI, notebook output)."""
        return _plan_text(self)

    def _repr_html_(self) -> str:
        return _plan_html(self)

    def to_exit_dict(self) -> dict[str, Any]:
        """Compact JSON-able summary (notebook exit values)."""
        return {
            "status": "Planned",
            "run_id": self.run_id,
            "checkpoint": self.checkpoint_name,
            "approval_token": self.approval_token,
            "risk": self.totals.risk,
            "tables": [_impact_exit(t) for t in self.tables],
        }


class RollbackResult(BaseModel):
    """The outcome of `Rollback.execute` (JSON-able; `to_text` is the validation report)."""

    model_config = FROZEN

    run_id: str
    status: RunStatus
    dry_run: StrictFlag = False
    checkpoint_id: str
    checkpoint_name: str
    reason: str | None = None
    triggered_by: str | None = None
    pipeline_run_id: str | None = None
    started_at: datetime
    finished_at: datetime
    approval_token: str
    tables: tuple[TableOutcome, ...] = ()
    checks: tuple[ValidationCheck, ...] = ()
    quality_score: float | None = None
    comparisons: tuple[ComparisonReport, ...] = ()
    pre_checkpoint: str | None = None
    post_checkpoint: str | None = None
    invalidated_runs: tuple[dict[str, Any], ...] = ()
    rewound_watermarks: tuple[dict[str, Any], ...] = ()
    warnings: tuple[str, ...] = ()
    recommendations: tuple[str, ...] = ()
    message: str | None = None

    @property
    def succeeded(self) -> list[str]:
        """Tables restored by this execution."""
        return [t.table for t in self.tables if t.status == "Restored"]

    @property
    def failed(self) -> list[str]:
        """Tables whose restore failed (with the Delta error in `tables`)."""
        return [t.table for t in self.tables if t.status == "Failed"]

    @property
    def skipped(self) -> list[str]:
        """Tables skipped: already at the checkpoint, or already restored by this run (resume)."""
        return [t.table for t in self.tables if t.status in ("NoOp", "Resumed")]

    @property
    def failed_checks(self) -> list[ValidationCheck]:
        """Post-validation checks that failed."""
        return [c for c in self.checks if not c.passed]

    def table(self, name: str) -> TableOutcome:
        """The outcome of one table (KeyError if it is not in scope)."""
        return _in_scope(self.tables, name)

    def to_text(self) -> str:
        """The validation report as text."""
        return _result_text(self)

    def _repr_html_(self) -> str:
        return _result_html(self)

    def to_exit_dict(self) -> dict[str, Any]:
        """Compact JSON-able summary (notebook exit values)."""
        return {
            "status": self.status,
            "run_id": self.run_id,
            "checkpoint": self.checkpoint_name,
            "approval_token": self.approval_token,
            "quality_score": self.quality_score,
            "tables": [
                {
                    "table": t.table,
                    "status": t.status,
                    "pinned_version": t.pinned_version,
                    "version_after": t.version_after,
                    "error": t.error,
                }
                for t in self.tables
            ],
            "failed_checks": [f"{c.table}: {c.check_name}" for c in self.failed_checks],
        }


class RollbackRun(BaseModel):
    """One run of the rollback notebook / pipeline: the plan, the decision and the outcome.

    ``status``: Planned (dry run), AwaitingApproval (no or stale token: re-run with the token
    shown), Succeeded, PartiallyFailed or Failed. `exit_value` is the notebook's exit value.
    """

    model_config = FROZEN

    status: RunStatus
    run_id: str
    checkpoint_name: str | None = None
    dry_run: StrictFlag = True
    approval_token: str | None = None
    quality_score: float | None = None
    message: str | None = None
    recommended_actions: tuple[str, ...] = ()
    pipeline_run_id: str | None = None
    plan: RollbackPlan | None = None
    result: RollbackResult | None = None

    def to_text(self) -> str:
        """Impact report, decision and (when it ran) the validation report."""
        parts = [self.plan.to_text()] if self.plan else []
        parts.append(f"Status: {self.status}" + (f" - {self.message}" if self.message else ""))
        parts += [f"  what to do: {a}" for a in self.recommended_actions]
        if self.result:
            parts.append(self.result.to_text())
        return "\n\n".join(parts)

    def _repr_html_(self) -> str:
        body = [f"<h3>Rollback: {html.escape(self.status)}</h3>"]
        if self.message:
            body.append(f"<p>{html.escape(self.message)}</p>")
        if self.recommended_actions:
            items = "".join(f"<li>{html.escape(a)}</li>" for a in self.recommended_actions)
            body.append(f"<ul>{items}</ul>")
        if self.plan:
            body.append(self.plan._repr_html_())
        if self.result:
            body.append(self.result._repr_html_())
        return "\n".join(body)

    def to_exit_dict(self) -> dict[str, Any]:
        """The notebook exit value's fields."""
        tables: list[dict[str, Any]] = []
        if self.result:
            tables = self.result.to_exit_dict()["tables"]
        elif self.plan:
            tables = [_impact_exit(t) for t in self.plan.tables]
        return {
            "status": self.status,
            "run_id": self.run_id,
            "pipeline_run_id": self.pipeline_run_id,
            "checkpoint": self.checkpoint_name,
            "dry_run": self.dry_run,
            "approval_token": self.approval_token,
            "quality_score": self.quality_score,
            "message": self.message,
            "tables": tables,
        }

    def exit_value(self) -> str:
        """The JSON text for ``notebook_exit`` (via `fmd_runtime.fabric.exit_value`)."""
        return fabric_exit_value(self)


# --------------------------------------------------------------------------------- rendering


def _n(v: int | None, signed: bool = False) -> str:
    if v is None:
        return "-"
    return f"{v:+,}" if signed and v else f"{v:,}"


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(max(0, seconds))
    d, h, m = s // 86400, s % 86400 // 3600, s % 3600 // 60
    if d:
        return f"{d}d {h}h"
    return f"{h}h {m}m" if h else f"{m}m {s % 60}s"


def _grid(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]


_PLAN_HEADER = (
    "TABLE",
    "ACTION",
    "VERSION",
    "ROWS NOW",
    "ROWS THEN",
    "ACTIVE",
    "DELETED",
    "PURGED",
    "CHANGED",
    "WRITTEN",
    "RISK",
    "BACK",
    "FILES +/-",
)


def _plan_row(t: TableImpact) -> tuple[str, ...]:
    return (
        t.table,
        t.action,
        f"{t.current_version} -> {t.pinned_version}",
        _n(t.current.total),
        _n(t.pinned.total),
        _n(t.delta.active, True),
        _n(t.delta.deleted, True),
        _n(t.delta.purged, True),
        f"{t.rows_changed:,} ({t.changed_pct:.3g}%)",
        _n(t.rows_touched) if t.action == "Restore" else "-",
        t.risk,
        _span(t.time_back_seconds),
        f"+{t.files_to_add}/-{t.files_to_remove}",
    )


def _plan_text(p: RollbackPlan) -> str:
    cp, tot = p.checkpoint, p.totals
    lines = [
        f"Rollback plan to checkpoint {cp.checkpoint_name} ({cp.checkpoint_type}, created "
        f"{cp.created_date:%Y-%m-%d %H:%M} UTC, {cp.validation_status}, {p.restorability})",
        f"run {p.run_id}  scope: {p.scope_text} ({plural(tot.tables_in_scope, 'table')})  "
        f"risk: {tot.risk}",
        "",
        *_grid([_PLAN_HEADER, *(_plan_row(t) for t in p.tables)]),
        "",
        "ACTIVE / DELETED / PURGED: rows per state after the rollback minus now (+ come back, "
        "- go away). CHANGED: rows whose state changes (share of the table). WRITTEN: rows the "
        "undone commits wrote. RISK: by the larger share. BACK: current minus pinned commit time.",
        "",
        "Pinned versions (the load each reflects):",
        *(f"  {t.pinned_load}" for t in p.tables if t.pinned_load),
    ]
    for t in p.tables:
        if t.action != "Restore":
            lines.append(f"{t.table}: no-op, {t.reason}")
            continue
        shown = ", ".join(
            f"v{c.version} {c.operation} {c.timestamp:%m-%d %H:%M}"
            + (f" ({c.rows_touched:,} rows)" if c.rows_touched is not None else "")
            for c in t.commits[:5]
        )
        more = f" and {t.commits_undone - 5} more" if t.commits_undone > 5 else ""
        lines.append(
            f"{t.table}: undoes {t.commits_undone} commit(s): {shown}{more}; files "
            f"+{t.files_to_add} ({format_bytes(t.bytes_to_add)}) -{t.files_to_remove} "
            f"({format_bytes(t.bytes_to_remove)})"
        )
    lines += [
        "",
        f"Totals: {tot.tables_to_restore} table(s) to restore, {tot.tables_noop} no-op; "
        f"rows changed {tot.rows_changed:,}, net rows {tot.net_rows:+,}; files +{tot.files_to_add}"
        f" ({format_bytes(tot.bytes_to_add)}) / -{tot.files_to_remove} ({format_bytes(tot.bytes_to_remove)}); "
        f"estimated duration ~{tot.estimated_seconds:g} s",
    ]
    if p.warnings:
        lines += ["", "Warnings:", *(f"  - {w}" for w in p.warnings)]
    if tot.tables_to_restore == 0:
        lines += ["", "Nothing to restore: every table already equals the checkpoint."]
    elif p.require_approval:
        lines += [
            "",
            f"Approval: execute with approval_token={p.approval_token!r} (refused if any table "
            "changes before then).",
        ]
    return "\n".join(lines)


def _html_table(rows: list[tuple[str, ...]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows[1:]
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _plan_html(p: RollbackPlan) -> str:
    tot = p.totals
    parts = [
        f"<h4>Rollback plan to {html.escape(p.checkpoint_name)} "
        f"({html.escape(p.checkpoint.checkpoint_type)}) - risk {tot.risk}</h4>",
        _html_table([_PLAN_HEADER, *(_plan_row(t) for t in p.tables)]),
        f"<p>{tot.tables_to_restore} to restore, {tot.tables_noop} no-op; rows changed "
        f"{tot.rows_changed:,}; estimated ~{tot.estimated_seconds:g} s. Approval token: "
        f"<code>{html.escape(p.approval_token)}</code></p>",
    ]
    if p.warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in p.warnings)
        parts.append(f"<p>Warnings:</p><ul>{items}</ul>")
    return "\n".join(parts)


_RESULT_HEADER = (
    "TABLE",
    "STATUS",
    "VERSION",
    "ROWS BEFORE",
    "ROWS AFTER",
    "RESTORED",
    "REMOVED",
    "UNCHANGED",
    "STATE CHANGES",
    "CHECKS",
)


def _result_rows(r: RollbackResult) -> list[tuple[str, ...]]:
    comps = {c.table: c for c in r.comparisons}
    rows: list[tuple[str, ...]] = [_RESULT_HEADER]
    for t in r.tables:
        c = comps.get(t.table)
        mine = [x for x in r.checks if x.table == t.table]
        rows.append(
            (
                t.table,
                t.status,
                f"{t.version_before} -> "
                f"{t.version_after if t.version_after is not None else '-'} (v{t.pinned_version})",
                _n(c.rows_before) if c else "-",
                _n(c.rows_after) if c else "-",
                _n(c.restored) if c else "-",
                _n(c.removed) if c else "-",
                _n(c.unchanged) if c else "-",
                ", ".join(f"{k} {v:,}" for k, v in c.state_changes.items()) if c else "-",
                f"{sum(x.passed for x in mine)}/{len(mine)}",
            )
        )
    return rows


def _result_text(r: RollbackResult) -> str:
    score = "-" if r.quality_score is None else f"{r.quality_score:g}%"
    secs = (r.finished_at - r.started_at).total_seconds()
    lines = [
        f"Rollback {r.run_id} to checkpoint {r.checkpoint_name}: {r.status} "
        f"(quality score {score})",
        f"triggered by {r.triggered_by or '-'}, reason: {r.reason or '-'}, pipeline run "
        f"{r.pipeline_run_id or '-'}, {r.started_at:%Y-%m-%d %H:%M:%S} UTC, {secs:.1f} s"
        + (", DRY RUN" if r.dry_run else ""),
    ]
    if r.message:
        lines.append(r.message)
    if r.pre_checkpoint or r.post_checkpoint:
        lines.append(
            f"PreRollback checkpoint (undo point): {r.pre_checkpoint or '-'}; "
            f"PostRollback checkpoint: {r.post_checkpoint or '-'}"
        )
    if r.tables:
        lines += ["", *_grid(_result_rows(r))]
    for t in r.tables:
        if t.error:
            lines.append(f"FAILED {t.table}: {t.error}")
    for c in r.failed_checks:
        lines.append(
            f"FAILED CHECK {c.table} {c.check_name}: expected {c.expected}, got {c.actual}"
            + (f" - {c.message}" if c.message else "")
        )
    for comp in r.comparisons:
        lines += [f"ANOMALY {comp.table}: {a}" for a in comp.anomalies]
    if r.invalidated_runs or r.rewound_watermarks:
        lines.append(
            f"Idempotency repair: {len(r.invalidated_runs)} load(s) invalidated, "
            f"{len(r.rewound_watermarks)} watermark(s) rewound"
        )
    if r.warnings:
        lines += ["", "Warnings:", *(f"  - {w}" for w in r.warnings)]
    if r.recommendations:
        lines += ["", "Next steps:", *(f"  - {x}" for x in r.recommendations)]
    return "\n".join(lines)


def _result_html(r: RollbackResult) -> str:
    score = "-" if r.quality_score is None else f"{r.quality_score:g}%"
    parts = [
        f"<h4>Rollback {html.escape(r.run_id)} to {html.escape(r.checkpoint_name)}: "
        f"{html.escape(r.status)} (quality score {score})</h4>",
    ]
    if r.tables:
        parts.append(_html_table(_result_rows(r)))
    issues = [f"{t.table}: {t.error}" for t in r.tables if t.error] + [
        f"{c.table} {c.check_name}: {c.message or c.actual}" for c in r.failed_checks
    ]
    for label, items in (("Issues", issues), ("Next steps", list(r.recommendations))):
        if items:
            lis = "".join(f"<li>{html.escape(x)}</li>" for x in items)
            parts.append(f"<p>{label}:</p><ul>{lis}</ul>")
    return "\n".join(parts)


def _impact_exit(t: TableImpact) -> dict[str, Any]:
    return {
        "table": t.table,
        "action": t.action,
        "from_version": t.current_version,
        "to_version": t.pinned_version,
        "rows_changed": t.rows_changed,
        "risk": t.risk,
    }
