"""What counts as "not filled in yet": placeholder GUIDs and values, and how findings show values.

`placeholder_guid_problem` (nil, one repeated digit, ``xxxxxxxx-...``, documentation examples),
`value_problem` (those, `fmd_runtime.guards.is_placeholder`'s markers, unexpanded pipeline
expressions), `shown` (a value quoted and cut, or hidden when it may be a secret) and `finding`
(every preflight finding is built here, its texts redacted once more). `check_context` applies them
to the run context and the lakehouse location.

Example:
    >>> placeholder_guid_problem("00000000-0000-0000-0000-000000000000")
    'the nil GUID (all zeros)'
"""

from __future__ import annotations

import re
import string
import uuid
from typing import TYPE_CHECKING, Any

from fmd_runtime.errors import FmdError
from fmd_runtime.guards import is_placeholder
from fmd_runtime.health._models import FindingSeverity, HealthFinding
from fmd_runtime.redaction import redact

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

_EXAMPLE_GUIDS = frozenset(
    {
        "123e4567-e89b-12d3-a456-426614174000",  # Wikipedia / countless tutorials
        "12345678-1234-5678-1234-567812345678",  # the Python uuid documentation
        "12345678-1234-1234-1234-123456789012",
        "12345678-1234-1234-1234-123456789abc",
        "1b4e28ba-2fa1-11d2-883f-0016d3cca427",  # fmd_runtime.guards' own example
        "f81d4fae-7dec-11d0-a765-00a0c91e6bf6",  # RFC 4122
    }
)
_GUID_SHAPE = re.compile(
    r"^\{?[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}\}?$", re.I
)
_GUID_IN_TEXT = re.compile(r"[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}", re.I)
_PIPELINE_EXPRESSION = re.compile(r"^@\{?\s*(pipeline|activity|variables|item|trigger)\s*\(", re.I)
_SECRET_FIELD = re.compile(
    r"secret|password|passwd|pwd|token|api_?key|access_?key|account_?key|signature|credential", re.I
)
_PLACEHOLDER_WORD = re.compile(r"(?<![a-z])place[_ -]?holder(?![a-z])", re.I)  # my-placeholder-id
_SHOWN_CHARS = 60


def placeholder_guid_problem(value: str) -> str | None:
    """Why a GUID-shaped value is a placeholder (nil, one repeated digit, ``xxxxxxxx-...``, a
    documentation example), or None when it is not GUID-shaped or looks real.

    Example:
        >>> placeholder_guid_problem("11111111-1111-1111-1111-111111111111")
        "a placeholder GUID (every digit is '1')"
        >>> placeholder_guid_problem("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")
        'a placeholder GUID (not hexadecimal)'
        >>> placeholder_guid_problem("{11111111-1111-1111-1111-111111111111}")
        "a placeholder GUID (every digit is '1')"
        >>> placeholder_guid_problem(str(uuid.uuid4())) is None
        True
    """
    text = value.strip()
    if not _GUID_SHAPE.match(text):
        return None
    digits = text.strip("{}").replace("-", "").lower()
    if set(digits) == {"0"}:
        return "the nil GUID (all zeros)"
    if any(c not in string.hexdigits for c in digits):
        return "a placeholder GUID (not hexadecimal)"
    if len(set(digits)) == 1:
        return f"a placeholder GUID (every digit is {digits[0]!r})"
    if text.strip("{}").lower() in _EXAMPLE_GUIDS:
        return "a documentation example GUID, not a real one"
    return None


def value_problem(value: str) -> tuple[str, str] | None:
    """``(check, problem)`` when a text value is a placeholder, else None.

    A GUID-shaped placeholder is ``preflight.placeholder_guid``; any other placeholder
    (``TODO``, ``<workspace-id>``, ``CHANGEME``, ``{{x}}``, an unexpanded ``@pipeline()...``
    expression) is ``preflight.placeholder_value``. Empty text is not judged here.

    Example:
        >>> value_problem("TODO")
        ('preflight.placeholder_value', 'a placeholder (TODO, <...>, CHANGEME ...), not a real value')
        >>> value_problem("bronze") is None
        True
    """
    text = value.strip()
    if not text:
        return None
    guid = placeholder_guid_problem(text)
    if guid:
        return "preflight.placeholder_guid", guid
    for found in _GUID_IN_TEXT.findall(text):
        inner = placeholder_guid_problem(found)
        if inner and text != found:
            return "preflight.placeholder_guid", f"text holding {inner}"
    if _PIPELINE_EXPRESSION.match(text):
        return "preflight.placeholder_value", (
            "an unexpanded pipeline expression (the pipeline passed the text, not its value: "
            "mark the parameter as an expression)"
        )
    if is_placeholder(text) or _PLACEHOLDER_WORD.search(text):
        return (
            "preflight.placeholder_value",
            "a placeholder (TODO, <...>, CHANGEME ...), not a real value",
        )
    return None


def shown(field: str, value: Any) -> str:
    """A value as a finding may show it: quoted and cut, or hidden when it may be a secret."""
    text = str(value)
    if _SECRET_FIELD.search(field) or redact(text, max_length=10_000) != " ".join(text.split()):
        return "(hidden: it looks like a secret)"
    cut = text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."
    return repr(cut)


def finding(
    check: str,
    severity: FindingSeverity,
    message: str,
    fix: str,
    *,
    table: str | None = None,
    **numbers: Any,
) -> HealthFinding:
    """A `HealthFinding` (messages pass `redact` once more, whatever built them)."""
    return HealthFinding(
        check=check,
        severity=severity,
        message=redact(message, max_length=2000) or "",
        fix=redact(fix, max_length=2000) or "",
        table=table,
        numbers={k: v for k, v in numbers.items() if v is not None},
    )


def check_context(rt: Runtime) -> list[HealthFinding]:
    """Placeholders in the run context (run ids, workspace id) and in the lakehouse location."""
    ctx = rt.context
    found: list[HealthFinding] = []
    for field in ("run_id", "pipeline_run_id", "parent_run_id", "workspace_id", "pipeline_name"):
        value = getattr(ctx, field)
        problem = value_problem(value) if isinstance(value, str) else None
        if problem is not None:
            found.append(
                finding(
                    problem[0],
                    "HIGH",
                    f"run context: {field} = {shown(field, value)} is {problem[1]}",
                    f"pass the real {field} to fmd.connect(...) (in a pipeline: the notebook "
                    "parameter as an expression, e.g. @pipeline().RunId)",
                    field=field,
                    value=shown(field, value),
                )
            )
    workspace = ctx.workspace_id
    if isinstance(workspace, str) and workspace.strip() and value_problem(workspace) is None:
        try:
            uuid.UUID(workspace.strip())
        except ValueError:
            found.append(
                finding(
                    "preflight.not_a_guid",
                    "LOW",
                    f"run context: workspace_id = {shown('workspace_id', workspace)} is not a "
                    "GUID (Fabric workspace ids are)",
                    "pass the workspace GUID (FMD_WORKSPACE_ID locally), or leave it out "
                    "inside Fabric",
                    field="workspace_id",
                )
            )
    try:
        location = rt.engine.location(rt.store.ref("PipelineConfig"))
    except FmdError:  # no such table (already a finding) or an engine that cannot say
        return found
    guids = [p for g in _GUID_IN_TEXT.findall(location) if (p := placeholder_guid_problem(g))]
    marker = value_problem(location) if "://" in location or "<" in location else None
    if guids:
        found.append(
            finding(
                "preflight.placeholder_guid",
                "HIGH",
                f"the lakehouse location holds {guids[0]}",
                "connect to the real lakehouse (its workspace and lakehouse GUIDs or names)",
            )
        )
    elif marker is not None:
        found.append(
            finding(
                marker[0],
                "HIGH",
                f"the lakehouse location holds {marker[1]}",
                "connect to the real lakehouse (its workspace and lakehouse GUIDs or names)",
            )
        )
    return found


__all__ = ["check_context", "finding", "placeholder_guid_problem", "shown", "value_problem"]
