"""Watermark governance: typed values, the begin/commit protocol, recovery and migration.

A watermark is the point the next incremental load of an entity starts from. Each kind has one
canonical text form, so stored values compare, display and migrate the same way everywhere:

=============  ======================================  ==========================================
kind           canonical text                          also accepted (legacy forms)
=============  ======================================  ==========================================
``datetime``   ``2025-01-15T02:30:00.000000+00:00``    ``2025-01-15 02:30:00`` (naive: in the
               (UTC, microseconds, offset)             declared source time zone, default UTC),
                                                       ISO with ``Z`` or an offset, ``/Date(ms)/``,
                                                       a ``datetime``
``date``       ``2025-01-15``                          ``20250115``, midnight datetimes, a ``date``
``int``        ``12345`` (64-bit signed)               an int, digits with a sign
``rowversion`` ``0x00000000000A1B2C``                  ``0xA1B2C`` (any case, 1-16 hex digits),
                                                       8 bytes, a non-negative int
``string``     the text itself (declared only)         -
=============  ======================================  ==========================================

Epoch numbers are refused for ``datetime`` (seconds or milliseconds? nobody can tell): declare the
cursor as ``int`` or store ``/Date(ms)/``.

The protocol, in a notebook::

    w = rt.watermarks.begin("account", kind="datetime", table="bronze.account", layer="bronze")
    rows = copy(f"SELECT * FROM dbo.Account WHERE {w.predicate('ModifiedOn')}")
    high = rt.watermarks.high_from(rows, "ModifiedOn", "datetime")
    res = rt.runs.write("account", "bronze.account", rows, layer="bronze", watermark=high)
    rt.watermarks.commit(w, high, table_version=res.version)

``commit`` advances only forward, once per run; a failure before it leaves the stored value as it
was. State lives as events: in ``metadata.Watermarks`` (resets, migrations, rollback rewinds, a
commit with no load of this runtime to join) and on the load's own ``metadata.EntityRuns`` row
(``WatermarkEvent`` Commit or Recover), so a load records ledger and watermark in one commit. The
latest non-invalidated Commit, Reset, Recover, Migrate or RollbackReset event of either is the
current value.

Layout: this facade holds `Watermarks` and re-exports the public names; the work is done in
`_values` (kinds, parsing, canonical form, sentinels, plausibility), `_sql` (literals and columns
of the source query), `_frames` (the high value of an Arrow or Spark frame), `_window` (begin,
commit, recover), `_admin` (reset, states, migrate, rollback's rewind), `_rows` (the Watermarks
event table) and `_models`. Refusals (a `WatermarkError` from begin, commit or reset) are audited
here, around the call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fmd_runtime.watermarks import _admin, _rows, _window
from fmd_runtime.watermarks._frames import high_from
from fmd_runtime.watermarks._models import (
    MigrationChange,
    MigrationRefusal,
    MigrationReport,
    WatermarkState,
    Window,
)
from fmd_runtime.watermarks._rows import STATE_OPERATIONS
from fmd_runtime.watermarks._sql import render_literal
from fmd_runtime.watermarks._values import (
    EXPECTED,
    KINDS,
    SENTINELS,
    Sentinel,
    WatermarkKind,
    check_kind,
    check_plausible,
    is_canonical,
    parse_watermark,
    to_native,
)

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime


class Watermarks:
    """The watermark capability (``rt.watermarks``): begin, commit, reset, recover, migrate.

    Example:
        >>> # w = rt.watermarks.begin("account", kind="datetime", table="bronze.account")
        >>> # ... copy rows WHERE w.predicate("ModifiedOn") ...
        >>> # rt.watermarks.commit(w, rt.watermarks.high_from(rows, "ModifiedOn", "datetime"))
    """

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    # -- reads ---------------------------------------------------------------------------
    def state(self, entity: str) -> WatermarkState | None:
        """The entity's current state (value, kind, event that set it), or None if never set.

        Example:
            >>> # rt.watermarks.state("account").value
        """
        return _rows.state(self._rt, entity)

    def current(self, entity: str) -> str | None:
        """The entity's stored watermark (canonical unless a legacy value awaits migration).

        Example:
            >>> # rt.watermarks.current("account") -> '2025-01-15T02:30:00.000000+00:00'
        """
        return _rows.current(self._rt, entity)

    def states(self) -> list[WatermarkState]:
        """The current state of every entity, sorted by entity.

        Example:
            >>> # [(s.entity, s.value) for s in rt.watermarks.states()]
        """
        return _admin.states(self._rt)

    # -- the load protocol ---------------------------------------------------------------
    def begin(
        self,
        entity: str,
        *,
        kind: WatermarkKind | None = None,
        lookback: timedelta | int | None = None,
        inclusive: bool = False,
        table: str | None = None,
        layer: str | None = None,
        initial: Any = None,
        source_tz: str | None = None,
        recover: bool = True,
        allow_future: bool = False,
        allow_sentinel: bool = False,
    ) -> Window:
        """Open the copy window of an incremental load and audit the attempt (``WatermarkBegin``).

        When the entity's table is known (``table=`` or from its stored events), ``begin`` first
        runs `recover`: a data commit that landed after the last watermark commit (a crash between
        the two) completes the watermark instead of being loaded again.

        Args:
            entity: the entity (source object) id.
            kind: the watermark kind; defaults to the stored kind, then the table's
                ``watermark_kind`` in PipelineConfig.
            lookback: overlap for late rows (timedelta for datetimes, days or timedelta for
                dates, units for int/rowversion); makes the low bound inclusive. The overlap
                re-reads rows: load it with a merge/dedupe on the key, not a blind append.
            inclusive: ``>=`` instead of ``>`` on the low bound.
            table: the target table (``schema.table``), recorded and used for recovery.
            layer: the layer loaded.
            initial: the low bound of a first load (nothing stored yet); not stored until commit.
            source_tz: zone of the source's naive datetimes (parsing and T-SQL rendering).
            recover: look for a landed-but-uncommitted load first (default True).
            allow_future: accept a stored or ``initial`` value in the future (past now +
                ``RuntimeConfig.watermark_future_skew_hours``); refused by default, since such a
                window skips every row until then.
            allow_sentinel: accept an end-of-time sentinel (``9999-12-31`` ..., see
                `SENTINELS`) as the stored or ``initial`` value; minimum sentinels such as
                ``1900-01-01`` are always accepted here (a full first load).

        Returns:
            The frozen `Window`.

        Raises:
            WatermarkError: invalid entity/kind/initial/lookback, a kind that differs from the
                stored one, a stored value that cannot be read, or a stored or initial value
                that is a sentinel or in the future (checked before anything is written).
            InvalidIdentifierError: ``table`` is not a table of the connected lakehouse.
            ConfigError: a flag or ``layer`` of the wrong type.

        Example:
            >>> # w = rt.watermarks.begin("account", kind="rowversion", table="bronze.account")
            >>> # w.predicate("RowVersion") -> '[RowVersion] > 0x00000000000A1B2C'
        """
        with _rows.audit_refusals(self._rt, "WatermarkBegin"):
            return _window.begin(
                self._rt,
                entity,
                kind=kind,
                lookback=lookback,
                inclusive=inclusive,
                table=table,
                layer=layer,
                initial=initial,
                source_tz=source_tz,
                recover=recover,
                allow_future=allow_future,
                allow_sentinel=allow_sentinel,
            )

    def commit(
        self,
        window: Window,
        high: Any,
        *,
        table_version: int | None = None,
        allow_future: bool = False,
        allow_sentinel: bool = False,
    ) -> str | None:
        """Advance the entity's watermark to ``high`` after the copy succeeded: forward only, once per run.

        Args:
            window: the window `begin` returned.
            high: the new watermark (any accepted form; typically `high_from` the copied rows).
                None means nothing was copied: the stored value stays.
            table_version: the target version the data landed in (recorded; used by rollback);
                a non-negative integer.
            allow_future: accept a datetime/date ``high`` later than now +
                ``RuntimeConfig.watermark_future_skew_hours`` (refused by default: the next
                loads would skip every row until then).
            allow_sentinel: accept a known sentinel (`SENTINELS`: ``9999-12-31``,
                ``1900-01-01``, the int64 maximum ...), refused by default.

        Returns:
            The stored (canonical) watermark after the call.

        Raises:
            WatermarkError: ``high`` is invalid, a sentinel, in the future, or lower than the
                stored value (use `reset`); nothing is committed.
            ConfigError: ``window`` is not a `Window`, or ``table_version`` / a flag is invalid.

        Example:
            >>> # rt.watermarks.commit(w, "2025-01-16 02:30:00", table_version=res.version)
        """
        with _rows.audit_refusals(self._rt, "WatermarkCommit"):
            return _window.commit(
                self._rt,
                window,
                high,
                table_version=table_version,
                allow_future=allow_future,
                allow_sentinel=allow_sentinel,
            )

    def recover(
        self,
        entity: str,
        *,
        table: str | None = None,
        layer: str | None = None,
        kind: WatermarkKind | None = None,
    ) -> str | None:
        """Complete a watermark whose data landed but whose commit never happened (a crash between).

        Looks through the table's recent history (newest first) for the latest commit that
        `RunLedger.write` made for this entity and that no RESTORE or rollback has undone. When
        its proposed watermark (commit metadata ``fmd.watermark``) is newer than the stored one,
        a Recover event stores it and the ledger records that run's load as done.

        Args:
            entity: the entity.
            table: the target table (default: the one in the entity's stored events).
            layer: only commits of this layer (default: any).
            kind: the kind (default: the stored one).

        Returns:
            The recovered canonical value, or None when there was nothing to recover.

        Example:
            >>> # rt.watermarks.recover("account") -> '2025-01-16T02:30:00.000000+00:00' or None
        """
        return _window.recover(self._rt, entity, table=table, layer=layer, kind=kind)

    def high_from(
        self, data: Any, column: str, kind: WatermarkKind, *, source_tz: str | None = None
    ) -> str | None:
        """The canonical maximum of ``column`` in copied data (the module function `high_from`).

        Args:
            data: the copied rows: a pyarrow Table / RecordBatch or a Spark DataFrame.
            column: the cursor column (validated; matched case-insensitively).
            kind: the watermark kind.
            source_tz: zone of naive datetimes (Arrow ``timestamp`` without tz, Spark
                ``timestamp_ntz``).

        Returns:
            The canonical maximum, or None when there are no rows or no values.

        Raises:
            WatermarkError: the column is missing or its maximum is not a valid watermark.
            ConfigError: ``data`` is not a pyarrow Table / RecordBatch or a Spark DataFrame.

        Example:
            >>> # high = rt.watermarks.high_from(rows, "ModifiedOn", "datetime")
        """
        return high_from(data, column, kind, source_tz=source_tz, engine=self._rt.engine)

    # -- administration --------------------------------------------------------------------
    def reset(
        self,
        entity: str,
        value: Any,
        reason: str,
        *,
        kind: WatermarkKind | None = None,
        table: str | None = None,
        layer: str | None = None,
        source_tz: str | None = None,
        allow_future: bool = False,
        allow_sentinel: bool = False,
    ) -> str | None:
        """Set an entity's watermark to any value, backwards included, with an audited reason.

        Args:
            entity: the entity.
            value: the new value (any accepted form), or None to force a full first load
                (a minimum sentinel such as ``1900-01-01`` is accepted for the same purpose).
            reason: why (required; recorded and audited).
            kind: the kind (defaults to the stored one; give it to change the kind).
            table / layer: recorded with the event (default: the stored ones).
            source_tz: zone of a naive datetime ``value``.
            allow_future: accept a value later than now + the configured skew.
            allow_sentinel: accept an end-of-time sentinel (``9999-12-31`` ..., `SENTINELS`).

        Returns:
            The canonical value stored.

        Raises:
            WatermarkError: no reason, invalid value, an end-of-time sentinel or a future value
                (unless allowed), or no kind known; nothing is stored.

        Example:
            >>> # rt.watermarks.reset("account", "2025-01-01", reason="re-load January after a fix")
        """
        with _rows.audit_refusals(self._rt, "WatermarkReset"):
            return _admin.reset(
                self._rt,
                entity,
                value,
                reason,
                kind=kind,
                table=table,
                layer=layer,
                source_tz=source_tz,
                allow_future=allow_future,
                allow_sentinel=allow_sentinel,
            )

    def migrate(
        self,
        *,
        dry_run: bool = True,
        source_tz: str | Mapping[str, str] | None = None,
        entities: Iterable[str] | None = None,
    ) -> MigrationReport:
        """Normalize every entity's stored (legacy) watermark to canonical form.

        Each entity's current value (its latest state event) is parsed with its kind; a value that
        is not canonical gets a Migrate event with the canonical text; a value that cannot be
        parsed is refused and listed (it stays as it is). Dry run by default.

        Args:
            dry_run: report only (default); False writes the Migrate events in one commit.
            source_tz: zone of naive legacy datetimes: one IANA name, or entity -> name.
            entities: only these entities (default: all).

        Returns:
            The `MigrationReport` (changes, refusals, unchanged count).

        Example:
            >>> # report = rt.watermarks.migrate()            # look first
            >>> # rt.watermarks.migrate(dry_run=False)        # then apply
        """
        return _admin.migrate(self._rt, dry_run=dry_run, source_tz=source_tz, entities=entities)

    def invalidate_after(
        self, table: str, after: datetime, *, by_run_id: str
    ) -> list[dict[str, Any]]:
        """Rewind the watermarks of the entities loading ``table`` to their value at ``after``.

        Called by rollback after a RESTORE: state events newer than ``after`` are marked
        Invalidated and a RollbackReset event stores the last value committed at or before it
        (None when there was none: the next load is a first load). An event that records the
        version its data landed in is dated by that version's commit time, so a watermark
        committed a moment after its (kept) data is not rewound.

        Args:
            table: the restored table (``schema.table``).
            after: the point the table was restored to (naive = UTC).
            by_run_id: the rollback run (recorded on the events).

        Returns:
            One dict per rewound entity: entity, table, kind, from, to, invalidated_events.

        Example:
            >>> # rt.watermarks.invalidate_after("bronze.account", ckpt_time, by_run_id=run_id)
        """
        return _admin.invalidate_after(self._rt, table, after, by_run_id=by_run_id)


__all__ = [
    "EXPECTED",
    "KINDS",
    "SENTINELS",
    "STATE_OPERATIONS",
    "MigrationChange",
    "MigrationRefusal",
    "MigrationReport",
    "Sentinel",
    "WatermarkKind",
    "WatermarkState",
    "Watermarks",
    "Window",
    "check_kind",
    "check_plausible",
    "high_from",
    "is_canonical",
    "parse_watermark",
    "render_literal",
    "to_native",
]
