"""How findings print: an aligned text table, an HTML table fragment, a self-contained HTML page.

One renderer for every health report (preflight, foreign operations, anomalies, the daily
report), so an operator reads the same columns everywhere: severity first, most severe first,
then the check, the table, what was found and the fix. Pure Python, no engine: the HTML is
escaped value by value (``html.escape``) and the page carries its own CSS (no external
resources, so it renders the same in a notebook, a mail client or a file attached to a ticket).

Example:
    >>> from fmd_runtime.health._models import HealthFinding
    >>> f = HealthFinding(check="preflight.missing_table", severity="HIGH",
    ...                   message="table bronze.account does not exist",
    ...                   fix="create it or disable its PipelineConfig row", table="bronze.account")
    >>> print(findings_text([f]).splitlines()[0])
    SEVERITY  CHECK                    TABLE           MESSAGE                              FIX
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from fmd_runtime.health._models import FindingSeverity, HealthFinding

SEVERITY_ORDER: dict[FindingSeverity, int] = {
    "CRITICAL": 0,
    "HIGH": 1,
    "MEDIUM": 2,
    "LOW": 3,
    "INFO": 4,
}
"""Rank of each severity, most severe first (the order every report lists findings in)."""

_HEADER = ("SEVERITY", "CHECK", "TABLE", "MESSAGE", "FIX")
_NO_FINDINGS = "No findings."

_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       margin: 1.5em; color: #1f2328; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; }
h2 { font-size: 1.1em; margin-top: 1.6em; border-bottom: 1px solid #d0d7de; }
table.fmd-findings { border-collapse: collapse; width: 100%; font-size: 0.9em; }
table.fmd-findings th, table.fmd-findings td { border: 1px solid #d0d7de; padding: 4px 8px;
       text-align: left; vertical-align: top; }
table.fmd-findings th { background: #f6f8fa; }
td.sev-CRITICAL { background: #cf222e; color: #fff; font-weight: bold; }
td.sev-HIGH { background: #ffebe9; color: #82071e; font-weight: bold; }
td.sev-MEDIUM { background: #fff8c5; color: #7d4e00; }
td.sev-LOW { background: #ddf4ff; color: #0a3069; }
td.sev-INFO { color: #57606a; }
p.fmd-none { color: #1a7f37; }
"""


def sorted_findings(findings: Sequence[HealthFinding]) -> list[HealthFinding]:
    """``findings`` most severe first; within a severity, by check then table (stable).

    Args:
        findings: the findings, in any order.

    Returns:
        A new list, CRITICAL first and INFO last.

    Example:
        >>> sorted_findings([])
        []
    """
    return sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.check, f.table or ""))


def _row(f: HealthFinding) -> tuple[str, str, str, str, str]:
    return (f.severity, f.check, f.table or "-", f.message, f.fix)


def findings_text(findings: Sequence[HealthFinding]) -> str:
    """An aligned plain-text table of ``findings``: severity first, most severe first.

    Columns are SEVERITY, CHECK, TABLE, MESSAGE and FIX, each padded to its widest value (the
    last column is not padded, so no line ends in spaces). Newlines inside a value are flattened
    to spaces, so one finding is always one line.

    Args:
        findings: the findings to print (empty: ``"No findings."``).

    Returns:
        The table as text, lines separated by ``\\n``, no trailing newline.

    Example:
        >>> findings_text([])
        'No findings.'
    """
    if not findings:
        return _NO_FINDINGS
    raw: list[tuple[str, ...]] = [_HEADER, *(_row(f) for f in sorted_findings(findings))]
    rows = [tuple(" ".join(c.split()) for c in r) for r in raw]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADER) - 1)]
    lines = []
    for r in rows:
        cells = [c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, r[-1]]).rstrip())
    return "\n".join(lines)


def findings_html(findings: Sequence[HealthFinding]) -> str:
    """An HTML ``<table>`` fragment of ``findings`` (most severe first), every value escaped.

    The severity cell carries the class ``sev-<SEVERITY>`` (coloured by `html_page`'s CSS);
    every value goes through ``html.escape``, so a table name or message holding ``<`` or
    ``&`` prints as text, never as markup.

    Args:
        findings: the findings (empty: a ``<p>`` saying there are none).

    Returns:
        The fragment, to embed in a page or return from ``_repr_html_``.

    Example:
        >>> findings_html([])
        '<p class="fmd-none">No findings.</p>'
    """
    if not findings:
        return f'<p class="fmd-none">{_NO_FINDINGS}</p>'
    head = "".join(f"<th>{html.escape(h)}</th>" for h in _HEADER)
    body = []
    for f in sorted_findings(findings):
        sev, *rest = _row(f)
        cells = [f'<td class="sev-{html.escape(sev)}">{html.escape(sev)}</td>']
        cells += [f"<td>{html.escape(c)}</td>" for c in rest]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table class="fmd-findings"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def html_page(title: str, sections: Sequence[tuple[str, str]]) -> str:
    """A self-contained HTML page: inline CSS, no scripts, no external resources.

    Args:
        title: the page title (escaped), shown as ``<title>`` and ``<h1>``.
        sections: ``(heading, fragment)`` pairs in order; the heading is escaped, the
            fragment is trusted HTML (build it with `findings_html` or escape it yourself).

    Returns:
        The page as one string, starting with ``<!DOCTYPE html>``.

    Example:
        >>> page = html_page("Preflight", [("Findings", findings_html([]))])
        >>> page.startswith("<!DOCTYPE html>") and "No findings." in page
        True
    """
    t = html.escape(title)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{t}</title>",
        f"<style>{_CSS}</style>",
        "</head><body>",
        f"<h1>{t}</h1>",
    ]
    for heading, fragment in sections:
        parts.append(f"<section><h2>{html.escape(heading)}</h2>{fragment}</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


__all__ = ["SEVERITY_ORDER", "findings_html", "findings_text", "html_page", "sorted_findings"]
