"""Operations health: preflight, and the findings every health check reports.

``rt.preflight()`` (`run_preflight`) checks, read-only, that a lakehouse is fit for the job about
to run and returns a `PreflightReport` (text, HTML, JSON, and the exit value a pipeline branches
on). A health check answers with `HealthFinding` rows (severity, message, fix), summed up by
`overall_status` into a `HealthStatus`; one renderer prints them as text, HTML and a
self-contained HTML page (`findings_text`, `findings_html`, `html_page`).

Layout: ``_models`` (the finding), ``_render`` (text and HTML), ``_preflight`` (the report and
the run), ``_preflight_checks`` (metadata tables, PipelineConfig rows, each table and its
retention), ``_preflight_env`` (engine versions, the alert webhook), ``_preflight_values``
(placeholders, what a finding may show, the run context). docs/preflight.md describes each check.

Example:
    >>> # report = rt.preflight(); print(report.to_text()); report.ok
    >>> findings_text([])
    'No findings.'
"""

from __future__ import annotations

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

__all__ = [
    "BLOCKING",
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
