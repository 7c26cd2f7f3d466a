"""The metadata store: the metadata tables' schemas (single source), creation/upgrade, typed I/O.

Example:
    >>> import tempfile
    >>> from fmd_runtime.engine.deltars import DeltaRsEngine
    >>> store = MetadataStore(DeltaRsEngine(tempfile.mkdtemp()))
    >>> "CheckpointHistory" in store.ensure()
    True
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timezone
from typing import Any

from fmd_runtime.engine import CommitOptions, DeltaEngine, arrow_schema
from fmd_runtime.errors import FmdError, StoreError
from fmd_runtime.store.schemas import ALL_TABLES, SCHEMAS, TableSchema
from fmd_runtime.tables import TableRef, validate_identifier

DEFAULT_METADATA_SCHEMA = "metadata"


def utcnow() -> datetime:
    """The current time, UTC-aware (every timestamp the store writes is UTC).

    Example:
        >>> utcnow().tzinfo is not None
        True
    """
    return datetime.now(timezone.utc)


def to_json(value: Any) -> str:
    """Compact, sorted JSON for ``Details``-style columns (datetimes as ISO text).

    Example:
        >>> to_json({"b": 1, "a": datetime(2025, 1, 1, tzinfo=timezone.utc)})
        '{"a":"2025-01-01T00:00:00+00:00","b":1}'
    """

    def default(o: Any) -> Any:
        if isinstance(o, (datetime, date)):
            return o.isoformat()
        if hasattr(o, "model_dump"):
            return o.model_dump(mode="json")
        if isinstance(o, (set, frozenset, tuple)):
            return list(o)
        return str(o)

    return json.dumps(value, default=default, sort_keys=True, separators=(",", ":"))


class RowBuffer:
    """Thread-safe buffer of rows for one metadata table; `flush` writes them in one commit.

    Rows are validated when added (unknown columns and missing required values are refused at the
    caller, not at flush time). A failed flush keeps the rows, so nothing is lost.
    """

    def __init__(self, store: MetadataStore, schema: TableSchema, *, max_rows: int = 500) -> None:
        self._store = store
        self._schema = schema
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self.max_rows = max_rows
        self.commits = 0
        self.on_written: list[Callable[[list[dict[str, Any]]], None]] = []
        """Called with the rows of each successful flush (e.g. to keep a cache of them)."""

    def __len__(self) -> int:
        with self._lock:
            return len(self._rows)

    def add(self, row: Mapping[str, Any], *, flush_when_full: bool = True) -> None:
        """Queue one row; flush automatically when the buffer reaches ``max_rows``."""
        clean = self._store.validate_row(self._schema, row)
        with self._lock:
            self._rows.append(clean)
            full = len(self._rows) >= self.max_rows
        if full and flush_when_full:
            self.flush()

    def rows(self, where: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Copies of the queued rows matching ``where`` (as `MetadataStore.read` filters:
        column = value, a list means IN, None means IS NULL), oldest first: what a reader of
        this process must see before the next flush."""
        with self._lock:
            return [dict(r) for r in self._rows if matches(r, where)]

    def amend(
        self, where: Mapping[str, Any], values: Mapping[str, Any], *, newest: bool = True
    ) -> dict[str, Any] | None:
        """Set ``values`` on one queued row matching ``where`` (the newest unless told) before
        it is written; return a copy of it, or None when no queued row matches.

        Raises:
            StoreError: a column in ``values`` that the table does not have.
        """
        unknown = sorted(set(values) - set(self._schema.column_names))
        if unknown:
            raise StoreError(f"{self._schema.name}: unknown column(s) {unknown}")
        with self._lock:
            hits = [r for r in self._rows if matches(r, where)]
            if not hits:
                return None
            row = hits[-1] if newest else hits[0]
            row.update(values)
            return dict(row)

    def discard(self) -> int:
        """Drop every queued row without writing it (what a killed process loses); how many.

        Only `fmd_runtime.testing.kill` calls this, to simulate a crash.
        """
        with self._lock:
            dropped, self._rows = len(self._rows), []
        return dropped

    def flush(self) -> int:
        """Write every queued row in one commit; return the number of rows written.

        Raises:
            StoreError: the write failed; the rows stay queued for the next flush.
        """
        with self._flush_lock:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return 0
            try:
                self._store.append(self._schema.name, rows, validated=True)
            except Exception:
                with self._lock:
                    self._rows[:0] = rows  # keep order; nothing lost
                raise
            self.commits += 1
            for listener in list(self.on_written):
                listener(rows)
            return len(rows)


class MetadataStore:
    """Typed access to the metadata tables through the engine port.

    Args:
        engine: the `DeltaEngine` adapter.
        schema: the metadata schema name (default ``metadata``).
        buffer_rows: rows a buffer holds before it flushes by itself.
        run_id: the run whose commits these are (``fmd.runId`` in each commit's metadata).
    """

    def __init__(
        self,
        engine: DeltaEngine,
        schema: str = DEFAULT_METADATA_SCHEMA,
        *,
        buffer_rows: int = 500,
        run_id: str | None = None,
    ) -> None:
        self.engine = engine
        self.run_id = run_id
        self.schema = validate_identifier(schema, what="metadata schema")
        self._buffers: dict[str, RowBuffer] = {}
        self._buffers_lock = threading.Lock()
        self._buffer_rows = buffer_rows
        self._ensured = False

    # -- naming ----------------------------------------------------------------------------
    def definition(self, name: str) -> TableSchema:
        """The schema definition of a metadata table.

        Raises:
            StoreError: no metadata table of that name.
        """
        try:
            return SCHEMAS[name]
        except KeyError:
            raise StoreError(
                f"unknown metadata table {name!r}", hint=f"use one of {sorted(SCHEMAS)}"
            ) from None

    def ref(self, name: str) -> TableRef:
        """The `TableRef` of a metadata table (``<metadata schema>.<name>``)."""
        return TableRef(schema_name=self.schema, table=self.definition(name).name)

    # -- lifecycle -------------------------------------------------------------------------
    def ensure(self) -> list[str]:
        """Create missing metadata tables and add missing columns; idempotent.

        Returns:
            Names of tables created or upgraded by this call.

        Example:
            >>> # store.ensure() -> ['PipelineConfig', 'SyncAuditLog', ...] the first time, [] after
        """
        changed = []
        commit = self._commit()
        for table in ALL_TABLES:
            ref = self.ref(table.name)
            if self.engine.create(ref, table.columns, comment=table.comment, commit=commit):
                changed.append(table.name)
                continue
            # the column names only (a full snapshot costs seconds per table on Spark)
            empty = self.engine.sql("SELECT * FROM {t} LIMIT 0", {"t": ref})
            have = {name.lower() for name in empty.column_names}
            missing = [c for c in table.columns if c.name.lower() not in have]
            if missing:
                self.engine.add_columns(ref, missing, commit=commit)
                changed.append(table.name)
        self._ensured = True
        return changed

    def _ensure_once(self) -> None:
        if not self._ensured:
            self.ensure()

    def _commit(self) -> CommitOptions:
        """The metadata of the store's commits: the writer and, when known, the run."""
        metadata = {"fmd.writer": "store"}
        if self.run_id:
            metadata["fmd.runId"] = self.run_id
        return CommitOptions(metadata=metadata)

    # -- writes ----------------------------------------------------------------------------
    def validate_row(self, schema: TableSchema, row: Mapping[str, Any]) -> dict[str, Any]:
        """Check a row against its table: known columns only, required values present.

        Raises:
            StoreError: unknown columns or missing required values (named).
        """
        unknown = sorted(set(row) - set(schema.column_names))
        if unknown:
            raise StoreError(
                f"{schema.name}: unknown column(s) {unknown}",
                hint=f"valid columns are {list(schema.column_names)}",
            )
        missing = [c.name for c in schema.columns if not c.nullable and row.get(c.name) is None]
        if missing:
            raise StoreError(f"{schema.name}: required column(s) {missing} have no value")
        return {c.name: row.get(c.name) for c in schema.columns}

    def append(
        self, name: str, rows: Sequence[Mapping[str, Any]], *, validated: bool = False
    ) -> int | None:
        """Append rows to a metadata table in one commit; return the new version (None if no rows).

        Raises:
            StoreError: a row is invalid, or the engine failed (chained).
        """
        schema = self.definition(name)
        if not rows:
            return None
        clean = (
            [dict(r) for r in rows] if validated else [self.validate_row(schema, r) for r in rows]
        )
        self._ensure_once()
        data = self._arrow(schema, clean)
        try:
            return self.engine.write(
                self.ref(name),
                data,
                mode="append",
                commit=self._commit(),
            )
        except FmdError as exc:
            raise StoreError(
                f"could not append {len(clean)} row(s) to {self.schema}.{name}: {exc.message}",
                table=f"{self.schema}.{name}",
                hint=exc.hint or "check storage access and retry",
            ) from exc

    def _arrow(self, schema: TableSchema, rows: list[dict[str, Any]]) -> Any:
        """Rows -> Arrow table with the metadata table's exact types (engine-neutral)."""
        import pyarrow as pa

        target = arrow_schema(schema.columns)
        cols = {}
        for field in target:
            values = [_coerce(r[field.name], str(field.type)) for r in rows]
            cols[field.name] = pa.array(values, type=field.type)
        return pa.table(cols, schema=target)

    def buffer(self, name: str) -> RowBuffer:
        """The shared, thread-safe buffer of a metadata table (one commit per flush)."""
        schema = self.definition(name)
        with self._buffers_lock:
            if name not in self._buffers:
                self._buffers[name] = RowBuffer(self, schema, max_rows=self._buffer_rows)
            return self._buffers[name]

    def flush(self) -> dict[str, int]:
        """Flush every buffer; return rows written per table.

        Raises:
            StoreError: the first failure, after trying every buffer (the failed rows stay queued).
        """
        written: dict[str, int] = {}
        first_error: Exception | None = None
        with self._buffers_lock:
            buffers = list(self._buffers.items())
        for name, buf in buffers:
            try:
                n = buf.flush()
            except Exception as exc:  # keep flushing the others
                first_error = first_error or exc
                continue
            if n:
                written[name] = n
        if first_error is not None:
            raise first_error
        return written

    def discard(self) -> dict[str, int]:
        """Drop every buffer's rows unwritten (a killed process); rows dropped per table.

        Only `fmd_runtime.testing.kill` calls this, to simulate a crash.
        """
        with self._buffers_lock:
            buffers = list(self._buffers.items())
        return {name: n for name, buf in buffers if (n := buf.discard())}

    def update(self, name: str, where: Mapping[str, Any], values: Mapping[str, Any]) -> int:
        """Set ``values`` on rows matching ``where`` (column = value or IN list); return rows updated."""
        schema = self.definition(name)
        for col in [*where, *values]:
            if col not in schema.column_names:
                raise StoreError(f"{name}: unknown column {col!r}")
        self._ensure_once()
        coerced = {k: _coerce(v, str(schema.column(k).type)) for k, v in values.items()}
        return self.engine.update(self.ref(name), where, coerced, commit=self._commit())

    # -- reads -----------------------------------------------------------------------------
    def read(
        self,
        name: str,
        where: Mapping[str, Any] | None = None,
        *,
        columns: Iterable[str] | None = None,
        order_by: str | None = None,
        descending: bool = False,
    ) -> list[dict[str, Any]]:
        """Rows of a metadata table as dicts, filtered by ``where`` (values bound as parameters).

        Args:
            name: metadata table name.
            where: column -> value (equality) or list (IN); ``None`` values mean IS NULL.
            columns: columns to return (all by default).
            order_by: a column to sort by.
            descending: sort order.

        Raises:
            StoreError: unknown table or column.
        """
        schema = self.definition(name)
        self._ensure_once()
        q = self.engine.quote
        cols = list(columns) if columns else list(schema.column_names)
        for col in [*cols, *(where or {}), *([order_by] if order_by else [])]:
            if col not in schema.column_names:
                raise StoreError(
                    f"{name}: unknown column {col!r}", hint=f"valid: {list(schema.column_names)}"
                )
        clauses, params = [], {}
        for i, (col, val) in enumerate((where or {}).items()):
            if val is None:
                clauses.append(f"{q(col)} IS NULL")
            elif isinstance(val, (list, tuple, set, frozenset)):
                if not val:
                    return []
                names = []
                for j, item in enumerate(val):
                    params[f"p{i}_{j}"] = item
                    names.append(f":p{i}_{j}")
                clauses.append(f"{q(col)} IN ({', '.join(names)})")
            else:
                params[f"p{i}"] = val
                clauses.append(f"{q(col)} = :p{i}")
        text = f"SELECT {', '.join(q(c) for c in cols)} FROM {{t}}"
        if clauses:
            text += " WHERE " + " AND ".join(clauses)
        if order_by:
            text += f" ORDER BY {q(order_by)} {'DESC' if descending else 'ASC'}"
        result = self.engine.sql(text, {"t": self.ref(name)}, params)
        rows: list[dict[str, Any]] = result.to_pylist()
        return rows


def matches(row: Mapping[str, Any], where: Mapping[str, Any] | None) -> bool:
    """True when ``row`` passes ``where`` as `MetadataStore.read` applies it (equality, a list
    or set for IN, None for IS NULL).

    Example:
        >>> matches({"Status": "Failed", "Part": None}, {"Status": ["Failed"], "Part": None})
        True
    """
    for col, want in (where or {}).items():
        have = row.get(col)
        if want is None:
            if have is not None:
                return False
        elif isinstance(want, (list, tuple, set, frozenset)):
            if have not in want:
                return False
        elif have != want:
            return False
    return True


def _coerce(value: Any, arrow_type: str) -> Any:
    """Make Python values fit the column's Arrow type (naive datetimes are taken as UTC)."""
    if value is None:
        return None
    if arrow_type.startswith("timestamp"):
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value
    if arrow_type == "date32[day]" and isinstance(value, datetime):
        return value.date()
    if arrow_type == "string" and not isinstance(value, str):
        return to_json(value) if isinstance(value, (dict, list, tuple)) else str(value)
    return value


__all__ = [
    "DEFAULT_METADATA_SCHEMA",
    "MetadataStore",
    "RowBuffer",
    "matches",
    "to_json",
    "utcnow",
]
