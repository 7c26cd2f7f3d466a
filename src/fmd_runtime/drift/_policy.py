"""The drift policy: a tiny grid of modes and the pure function that applies it (`apply_policy`).

What a report's differences mean under ``permissive``, ``additive`` or ``strict`` (plus warn
mode): what is refused, what is merged, widened, cast or filled. No I/O, so the grid in the
package docstring is tested cell by cell.

Example:
    >>> r = DriftReport(table="s.t", changes=(ColumnDrift(column="X", change="added", new_type="int"),))
    >>> apply_policy(r, "additive").merge_schema
    True
"""

from __future__ import annotations

from pydantic import BaseModel

from fmd_runtime._base import FROZEN
from fmd_runtime.config import DriftPolicy, strict_bool
from fmd_runtime.drift._compare import ColumnDrift, DriftReport
from fmd_runtime.errors import ConfigError

POLICIES: tuple[str, ...] = ("permissive", "additive", "strict")


class DriftDecision(BaseModel):
    """What a policy makes of a report (`apply_policy`).

    Attributes:
        allowed: the load may proceed (always, in warn mode, unless ``blocking``).
        violations: what the policy refuses (in warn mode: recorded and alerted, not enforced).
        blocking: violations nothing can handle (a missing NOT NULL column): fail even in warn mode.
        merge_schema: write with schema merge (new columns accepted).
        widen: type widenings the target takes before the write (`Drift.evolve`).
        cast: type changes handled by casting the incoming column to the target's type.
        fill: target columns filled with nulls because the incoming data lacks them.
    """

    model_config = FROZEN

    policy: DriftPolicy
    warn: bool = False
    allowed: bool
    violations: tuple[ColumnDrift, ...] = ()
    blocking: tuple[ColumnDrift, ...] = ()
    merge_schema: bool = False
    widen: tuple[ColumnDrift, ...] = ()
    cast: tuple[ColumnDrift, ...] = ()
    fill: tuple[str, ...] = ()


def check_policy(policy: str) -> DriftPolicy:
    """Validate a drift policy name.

    Raises:
        ConfigError: not permissive, additive or strict.
    """
    if policy not in POLICIES:
        raise ConfigError(
            f"drift policy {policy!r} is not supported", hint=f"use one of {', '.join(POLICIES)}"
        )
    return policy  # type: ignore[return-value]


def apply_policy(report: DriftReport, policy: DriftPolicy, *, warn: bool = False) -> DriftDecision:
    """Apply a drift policy to a report (pure: no I/O).

    Args:
        report: from `compare_schemas`.
        policy: ``permissive``, ``additive`` or ``strict``.
        warn: record and alert refusals instead of failing (handled the permissive way).

    Returns:
        The `DriftDecision`.

    Raises:
        ConfigError: the policy is unknown, or ``warn`` is not a boolean.

    Example:
        >>> r = DriftReport(table="s.t", changes=(ColumnDrift(column="X", change="added", new_type="int"),))
        >>> apply_policy(r, "strict").allowed, apply_policy(r, "strict", warn=True).allowed
        (False, True)
    """
    warn = strict_bool(warn, "warn")
    pol = check_policy(policy)
    violations, blocking, widen, cast, fill = [], [], [], [], []
    merge = False
    for ch in report.changes:
        if ch.change == "added":
            merge = True
            if pol == "strict":
                violations.append(ch)
        elif ch.change == "removed":
            if not ch.old_nullable:
                blocking.append(ch)
            else:
                fill.append(ch.column)
                if pol != "permissive":
                    violations.append(ch)
        elif ch.change == "type_changed":
            if ch.widening:
                widen.append(ch)
                if pol == "strict":
                    violations.append(ch)
            else:
                cast.append(ch)
                if pol != "permissive":
                    violations.append(ch)
    allowed = not blocking and (warn or not violations)
    return DriftDecision(
        policy=pol,
        warn=warn,
        allowed=allowed,
        violations=tuple(violations + blocking),
        blocking=tuple(blocking),
        merge_schema=merge and allowed,
        widen=tuple(widen),
        cast=tuple(cast),
        fill=tuple(fill),
    )
