"""Alerts operators can act on: severity, title, the tables and errors, and first steps.

Alerts are audit events (``Operation = 'Alert'``) so one query finds them beside the run that
raised them.

Example:
    >>> # rt.alerts.send("CRITICAL", "Rollback validation failed", tables=["bronze.account"])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from fmd_runtime.audit import Severity, redact

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime


class Alert(BaseModel):
    """One alert as raised."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    severity: Severity
    title: str
    key: str
    run_id: str
    tables: tuple[str, ...] = ()
    errors: dict[str, str] = Field(default_factory=dict)
    first_steps: tuple[str, ...] = ()
    details: dict[str, Any] = Field(default_factory=dict)


class Alerts:
    """The alert capability (``rt.alerts``)."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def send(
        self,
        severity: Severity,
        title: str,
        *,
        key: str | None = None,
        tables: Sequence[str] = (),
        errors: Mapping[str, str] | None = None,
        first_steps: Sequence[str] = (),
        details: Mapping[str, Any] | None = None,
    ) -> Alert:
        """Raise an alert: written to the audit log now (flushed), returned as an `Alert`.

        Args:
            severity: CRITICAL, HIGH, MEDIUM or LOW.
            title: one line, e.g. "[CRITICAL] 5 tables failed in Daily Sync".
            key: deduplication key (defaults to the title).
            tables: tables concerned.
            errors: table -> error summary (redacted before writing).
            first_steps: what the operator should do first.
            details: further JSON-able details.
        """
        alert = Alert(
            severity=severity,
            title=title,
            key=key or title,
            run_id=self._rt.context.run_id,
            tables=tuple(tables),
            errors={k: redact(v) or "" for k, v in (errors or {}).items()},
            first_steps=tuple(first_steps),
            details=dict(details or {}),
        )
        self._rt.audit.event(
            "Alert",
            "Raised",
            severity=severity,
            details={"title": alert.title, "key": alert.key, "tables": list(alert.tables),
                     "errors": alert.errors, "first_steps": list(alert.first_steps), **alert.details},
            flush=True,
        )
        return alert


__all__ = ["Alert", "Alerts"]
