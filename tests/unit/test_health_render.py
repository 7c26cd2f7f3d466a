"""The findings renderer: text aligned and ordered by severity, HTML escaped, pages self-contained."""

from __future__ import annotations

from fmd_runtime.health import HealthFinding, findings_html, findings_text, html_page


def _f(
    severity: str, check: str, table: str | None, message: str, fix: str = "do x"
) -> HealthFinding:
    return HealthFinding.model_validate(
        {"check": check, "severity": severity, "message": message, "fix": fix, "table": table}
    )


def test_text_is_aligned_and_most_severe_first() -> None:
    findings = [
        _f("INFO", "preflight.engine", None, "delta-rs 1.6.6"),
        _f("LOW", "preflight.retention", "bronze.a", "log retention low"),
        _f("CRITICAL", "preflight.metadata_table", "metadata.PipelineConfig", "missing"),
        _f("HIGH", "preflight.missing_table", "bronze.account", "does not exist"),
        _f("MEDIUM", "preflight.alerts", None, "no webhook\nconfigured"),
    ]
    lines = findings_text(findings).splitlines()
    assert lines[0].split() == ["SEVERITY", "CHECK", "TABLE", "MESSAGE", "FIX"]
    assert [ln.split()[0] for ln in lines[1:]] == ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"]
    # every column starts at the same offset on every line (aligned), one line per finding
    for col in ("CHECK", "TABLE", "MESSAGE", "FIX"):
        start = lines[0].index(col)
        assert all(ln[start - 2 : start] == "  " for ln in lines), col
    assert len(lines) == 6 and "no webhook configured" in lines[3]
    assert all(ln == ln.rstrip() for ln in lines)
    assert lines[5].split()[2] == "-"  # no table: a dash, not a gap that breaks the columns


def test_text_without_findings() -> None:
    assert findings_text([]) == "No findings."


def test_html_escapes_every_value() -> None:
    evil = '<script>alert("x")</script>'
    f = _f("HIGH", "preflight.<check>", "bronze.<t>&", evil, fix="set a & b <now>")
    out = findings_html([f])
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "preflight.&lt;check&gt;" in out and "bronze.&lt;t&gt;&amp;" in out
    assert "set a &amp; b &lt;now&gt;" in out
    assert 'class="sev-HIGH"' in out and out.startswith('<table class="fmd-findings">')


def test_html_orders_by_severity_and_says_when_empty() -> None:
    out = findings_html([_f("LOW", "a", None, "low one"), _f("CRITICAL", "b", None, "crit one")])
    assert out.index("crit one") < out.index("low one")
    assert "No findings." in findings_html([])


def test_page_is_self_contained_and_escapes_titles() -> None:
    page = html_page("Preflight <lh> & co", [("Findings <1>", findings_html([]))])
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<title>Preflight &lt;lh&gt; &amp; co</title>" in page
    assert "<h2>Findings &lt;1&gt;</h2>" in page and "<style>" in page
    for external in ("<script", "<link", "src=", "href=", "@import", "url("):
        assert external not in page, external
