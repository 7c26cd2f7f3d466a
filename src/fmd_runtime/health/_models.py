"""What a health check finds: `HealthFinding`, one line of a preflight or daily report.

Preflight, the foreign-operation scan, the anomaly checks and the daily report all answer with
findings of this one shape, so one renderer (text, HTML, JSON), one metadata table
(``HealthFindings``) and one alert path serve them all.

Example:
    >>> f = HealthFinding(check="preflight.placeholder_guid", severity="HIGH",
    ...                   message="PipelineConfig row bronze.account: WorkspaceId is a placeholder",
    ...                   fix="set WorkspaceId to the workspace GUID", table="bronze.account")
    >>> f.blocks_run
    True
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from fmd_runtime._base import FROZEN
from fmd_runtime.store import utcnow

FindingSeverity = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"]
"""The audit envelope's severities; CRITICAL and HIGH stop a pipeline (`HealthFinding.blocks_run`)."""

HealthStatus = Literal["Healthy", "Warning", "Unhealthy"]
"""A report's overall status: Unhealthy when any finding blocks a run, Warning for MEDIUM/LOW."""

BLOCKING: frozenset[str] = frozenset({"CRITICAL", "HIGH"})
"""The severities after which a pipeline should not go on."""


class HealthFinding(BaseModel):
    """One thing a health check found, with its severity and the first step to take.

    Attributes:
        check: the dotted name of the check (``preflight.missing_table``,
            ``foreign.vacuum``, ``anomaly.active_rows_drop`` ...).
        severity: CRITICAL, HIGH, MEDIUM, LOW or INFO (INFO: a fact, nothing to do).
        message: what was found, with the numbers ("active rows fell 41.2% ...").
        fix: the first step an operator should take.
        table: ``schema.table`` the finding is about, when it is about one.
        entity: the entity id, when it is about one.
        numbers: the measured values and the baseline they were compared with.
        observed_at: when the check ran (UTC).
    """

    model_config = FROZEN

    check: str = Field(min_length=1, max_length=128)
    severity: FindingSeverity
    message: str
    fix: str
    table: str | None = None
    entity: str | None = None
    numbers: dict[str, Any] = Field(default_factory=dict)
    observed_at: datetime = Field(default_factory=utcnow)

    @property
    def blocks_run(self) -> bool:
        """True for CRITICAL and HIGH: a pipeline should not go on."""
        return self.severity in BLOCKING


def overall_status(findings: list[HealthFinding]) -> HealthStatus:
    """Unhealthy when any finding blocks a run, Warning when any is MEDIUM or LOW, else Healthy.

    Example:
        >>> overall_status([])
        'Healthy'
    """
    if any(f.blocks_run for f in findings):
        return "Unhealthy"
    if any(f.severity in ("MEDIUM", "LOW") for f in findings):
        return "Warning"
    return "Healthy"


__all__ = ["BLOCKING", "FindingSeverity", "HealthFinding", "HealthStatus", "overall_status"]
