"""The watermark models: the copy window of a load, an entity's state, a migration report.

`Window` is what `Watermarks.begin` returns and `Watermarks.commit` takes back (with the
predicate the source query uses); `WatermarkState` is an entity's current value as the latest
state event records it; `MigrationReport` (with its `MigrationChange` and `MigrationRefusal`
rows) is what `Watermarks.migrate` changed or refused. Frozen and JSON-able; kept in one place
so that the protocol and the administrative operations share the shapes, not each other.

Example:
    >>> Window(entity="a", kind="int", low="41", effective_low="41", run_id="r").predicate("Id")
    '[Id] > 41'
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from fmd_runtime._base import FROZEN
from fmd_runtime._entities import shown
from fmd_runtime.errors import ConfigError
from fmd_runtime.store import utcnow
from fmd_runtime.watermarks._sql import Dialect, render_column, render_literal
from fmd_runtime.watermarks._values import WatermarkKind, parse_watermark


class Window(BaseModel):
    """The copy window an incremental load works on, as returned by `Watermarks.begin`.

    Attributes:
        entity: the entity loaded.
        kind: the watermark kind.
        low: the stored watermark (canonical), or None for a first load.
        effective_low: ``low`` moved back by ``lookback`` (the bound the source query uses).
        inclusive: the low bound is inclusive (``>=``); always true with a lookback.
        lookback: the overlap for late-arriving rows (timedelta, days or units), if any.
        run_id: the run that opened the window (the only run that may commit it).
        table / layer: the target table and layer, when given.
        source_tz: the time zone of the source's naive datetimes.
        recovered: the value `begin` completed from a landed commit, if it did.
    """

    model_config = FROZEN

    entity: str
    kind: WatermarkKind
    low: str | None
    effective_low: str | None
    inclusive: bool = False
    lookback: timedelta | int | None = None
    run_id: str
    table: str | None = None
    layer: str | None = None
    source_tz: str | None = None
    recovered: str | None = None
    opened_at: datetime = Field(default_factory=utcnow)

    @property
    def is_first_load(self) -> bool:
        """True when there is no low bound (nothing stored, no initial value)."""
        return self.effective_low is None

    def predicate(self, column: str, *, dialect: Dialect = "tsql", upper: Any = None) -> str:
        """The WHERE predicate of the source query for this window.

        Args:
            column: the cursor column (``Col`` or ``alias.Col``; validated, then quoted).
            dialect: ``tsql`` (``[Col] > 0x...``) or ``spark`` (backticks).
            upper: an optional inclusive upper bound (any accepted form of this kind).

        Returns:
            e.g. ``[ModifiedOn] > CONVERT(datetime2, '2025-01-15T02:30:00.000000', 126)``;
            ``1 = 1`` for a first load without an upper bound.

        Raises:
            InvalidIdentifierError: the column is not a plain identifier.
            WatermarkError: ``upper`` is not a valid watermark of this kind.

        Example:
            >>> w = Window(entity="a", kind="int", low="41", effective_low="41", run_id="r")
            >>> w.predicate("Id")
            '[Id] > 41'
        """
        if dialect not in ("tsql", "spark"):
            raise ConfigError(
                f"SQL dialect {shown(dialect)} is not supported", hint="use 'tsql' or 'spark'"
            )
        col = render_column(column, dialect)
        clauses = []
        if self.effective_low is not None:
            op = ">=" if self.inclusive or self.lookback else ">"
            lit = render_literal(
                self.effective_low, self.kind, dialect=dialect, source_tz=self.source_tz
            )
            clauses.append(f"{col} {op} {lit}")
        if upper is not None:
            high = parse_watermark(upper, self.kind, source_tz=self.source_tz, entity=self.entity)
            clauses.append(
                f"{col} <= {render_literal(high, self.kind, dialect=dialect, source_tz=self.source_tz)}"
            )
        return " AND ".join(clauses) if clauses else "1 = 1"


class WatermarkState(BaseModel):
    """The current watermark of an entity: the latest state event in ``Watermarks``."""

    model_config = FROZEN

    entity: str
    kind: str
    value: str | None
    operation: str
    run_id: str
    table: str | None = None
    layer: str | None = None
    table_version: int | None = None
    event_time: datetime


class MigrationChange(BaseModel):
    """One stored value `Watermarks.migrate` rewrites to canonical form."""

    model_config = FROZEN

    entity: str
    kind: str
    old: str
    new: str


class MigrationRefusal(BaseModel):
    """One stored value `Watermarks.migrate` cannot parse (left as it is, listed for the operator)."""

    model_config = FROZEN

    entity: str
    kind: str
    value: str
    error: str


class MigrationReport(BaseModel):
    """What `Watermarks.migrate` changed (or, in a dry run, would change) and what it refused."""

    model_config = FROZEN

    dry_run: bool
    changes: tuple[MigrationChange, ...] = ()
    refused: tuple[MigrationRefusal, ...] = ()
    unchanged: int = 0

    @property
    def ok(self) -> bool:
        """True when no value was refused."""
        return not self.refused


__all__ = ["MigrationChange", "MigrationRefusal", "MigrationReport", "WatermarkState", "Window"]
