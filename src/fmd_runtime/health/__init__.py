"""Operations health: preflight, and the findings every health check reports.

A health check answers with `HealthFinding` rows (severity, message, fix), summed up by
`overall_status` into a `HealthStatus`; one renderer prints them as text, HTML and a
self-contained HTML page (`findings_text`, `findings_html`, `html_page`).

Example:
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
    "FindingSeverity",
    "HealthFinding",
    "HealthStatus",
    "findings_html",
    "findings_text",
    "html_page",
    "overall_status",
    "sorted_findings",
]
