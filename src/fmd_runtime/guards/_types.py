"""The guard types a contract model uses, and the result models of a check.

`Guid`, `NotPlaceholder` and `EnvSensitive` annotate the fields of a contract; `is_placeholder`
is the one test of "not filled in yet"; `Violation` and `RowsCheck` are what a check reports.
Separate from the checks because contract models import these types, not the machinery.

Example:
    >>> is_placeholder("REPLACE_ME"), Violation(field="n", problem="missing", expected="42").line()
    (True, 'n: missing — expected 42')
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict

from fmd_runtime._base import FROZEN

NIL_GUID = "00000000-0000-0000-0000-000000000000"

# Whole-value placeholders (``TODO``, ``<your lakehouse>``), and markers that make any value a
# placeholder wherever they appear. Inside a value, ``<name>`` counts only as one identifier-like
# token that is not an operand: SQL comparisons (``a < 5 AND b > 3``, ``a<b AND c>d``, ``<>``,
# ``<=``) and type parameters (``ARRAY<STRING>``) are real text.
_PLACEHOLDER_WHOLE = re.compile(
    r"^(?:TODO|TBD|FIXME|XXX+|N/?A|NONE|NULL|PLACEHOLDER|DUMMY|CHANGE[_ -]?ME|REPLACE[_ -]?ME"
    r"|YOUR[_ -]\S*|\?+|\.\.\.|<[^<>\s][^<>]*>)$",
    re.I,
)
_PLACEHOLDER_ANY = re.compile(
    r"REPLACE[_ -]?ME|CHANGE[_ -]?ME|\{\{[^{}]*\}\}|\$\{[^{}]*\}"
    r"|(?<![\w)\]'\"`<>])<[A-Za-z_][\w.-]*>(?![\w(<>=])",
    re.I,
)


def is_placeholder(value: str) -> bool:
    """True for obvious placeholders: ``REPLACE_ME``, ``TODO``, ``<workspace-id>``, ``{{x}}``...

    A placeholder is a whole value (``TODO``, ``<your lakehouse>``) or a marker inside one
    (``https://<ws>.dfs...``, ``{{x}}``, ``${X}``, ``REPLACE_ME``); comparisons and type
    parameters in SQL (``WHERE a < 5 AND b > 3``, ``a <> b``, ``ARRAY<STRING>``) are not.

    Example:
        >>> is_placeholder("<your-workspace-id>"), is_placeholder("bronze.account")
        (True, False)
        >>> is_placeholder("SELECT * FROM t WHERE a < 5 AND b > 3")
        False
    """
    text = value.strip()
    return not text or bool(_PLACEHOLDER_WHOLE.match(text) or _PLACEHOLDER_ANY.search(text))


def _check_guid(value: str) -> str:
    # messages name the problem, never the value (it may be a secret in the wrong field)
    if is_placeholder(value):
        raise ValueError("is a placeholder (REPLACE_ME, TODO, <...>), not a real GUID")
    try:
        parsed = uuid.UUID(value.strip())
    except ValueError:
        raise ValueError("is not a GUID") from None
    if parsed.int == 0:
        raise ValueError("is the nil GUID (all zeros), not a real GUID")
    return str(parsed)


def _check_text(value: str) -> str:
    if is_placeholder(value):
        raise ValueError("is a placeholder (REPLACE_ME, TODO, <...>) or empty")
    return value


Guid = Annotated[str, AfterValidator(_check_guid)]
"""A GUID (normalized to lower-case hyphenated); not the nil GUID, not a placeholder."""

NotPlaceholder = Annotated[str, AfterValidator(_check_text)]
"""Text that is not empty and not a placeholder."""


class EnvSensitive:
    """Marker for environment-sensitive fields (``Annotated[Guid, EnvSensitive()]``): no default.

    Example:
        >>> from pydantic import BaseModel
        >>> from fmd_runtime.guards import check_model
        >>> class P(BaseModel):
        ...     workspace_id: Annotated[Guid, EnvSensitive()]
        >>> check_model(P)
        []
    """

    def __repr__(self) -> str:
        return "EnvSensitive()"


class Violation(BaseModel):
    """One broken rule: which field, what is wrong, what form is expected (never the value)."""

    model_config = FROZEN

    field: str
    problem: str
    expected: str
    entity: str | None = None

    def line(self) -> str:
        """``field: problem — expected ...``."""
        return f"{self.field}: {self.problem} — expected {self.expected}"


class RowsCheck(BaseModel):
    """The result of `check_rows`: validated models, violations by entity, bypassed rows."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    model: str
    checked: int
    valid: tuple[Any, ...] = ()
    bypassed: tuple[Any, ...] = ()
    violations: tuple[Violation, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every row honours the contract."""
        return not self.violations

    def by_entity(self) -> dict[str, list[Violation]]:
        """Violations grouped by entity, in row order."""
        out: dict[str, list[Violation]] = {}
        for v in self.violations:
            out.setdefault(v.entity or "?", []).append(v)
        return out
