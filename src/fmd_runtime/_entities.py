"""What the two event tables of an entity share: its id, and which of its events still count.

``metadata.Watermarks`` (the watermark events) and ``metadata.EntityRuns`` (the run ledger) are
both keyed by an entity id and both keep their rows forever: a rollback marks the events it
undid ``Invalidated`` instead of deleting them. The watermarks and the run ledger apply the same
two rules, so they take them from here rather than from each other: `check_entity` (what an
entity id may be) and `is_live` (an invalidated event no longer counts). `shown` is how a value
the caller passed appears in their errors.

Example:
    >>> check_entity("account"), is_live({"Invalidated": True}), is_live({"Invalidated": None})
    ('account', False, True)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fmd_runtime.errors import WatermarkError

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
"""Characters no entity id or string watermark may hold (they break logs and SQL text)."""


def shown(value: Any) -> str:
    """``value`` as an error shows it: its repr, cut to 64 characters.

    Example:
        >>> shown("x" * 100)[-5:]
        'xx...'
    """
    text = repr(value)
    return text if len(text) <= 64 else text[:61] + "..."


def check_entity(entity: Any) -> str:
    """Validate an entity id: non-empty text of at most 256 characters, no control characters.

    Raises:
        WatermarkError: not such a text (the id is shown, truncated).

    Example:
        >>> check_entity("crm.account")
        'crm.account'
    """
    if (
        not isinstance(entity, str)
        or not entity.strip()
        or len(entity) > 256
        or CONTROL_CHARACTERS.search(entity)
    ):
        raise WatermarkError(
            f"entity id {shown(entity)} is not valid",
            hint="pass the entity's id or name: non-empty text without control characters",
        )
    return entity


def is_live(row: Mapping[str, Any]) -> bool:
    """True unless a rollback invalidated the event (``Invalidated`` is true).

    Example:
        >>> is_live({"Operation": "Commit"})
        True
    """
    return row.get("Invalidated") is not True


__all__ = ["CONTROL_CHARACTERS", "check_entity", "is_live", "shown"]
