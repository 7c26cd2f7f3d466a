"""The ingestion state of a runtime: ledger rows held back so that a load costs one commit.

An entity load (guard, window, exactly-once write or merge, watermark commit) records its
outcome as one ``metadata.EntityRuns`` row, and the watermark it reached on that same row, so
the ingestion state (ledger and watermarks together) takes at most one commit per load besides
the data commit. When the row is written:

- **held while an audit activity is open**: every row held in the process is written in one
  commit when the outermost activity ends (a notebook that loads many entities pays one commit
  for all of them);
- **held while the entity's watermark window is open** in this runtime (``rt.watermarks.begin``
  was called and its commit was not): the watermark commit joins the held completion, and the
  one row is written then (at once, or at the end of the outermost activity);
- otherwise **at once**. A failure is written at once too, with whatever is held (other
  processes decide on it: the source circuit breaker, a checkpoint waiting for loads).

Reads of this runtime see held rows (`IngestionState.rows`); `rt.close()`, `rt.runs.flush()`
and interpreter exit write them. A process that dies with rows held loses nothing: the data
commit's own metadata (``fmd.*``) says what landed, and the next attempt or ``begin`` completes
the ledger and the watermark from it (docs/ingestion.md, "What is written when").

Example:
    >>> # rt.runs.state.held  -> rows waiting for the end of the outermost activity
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from fmd_runtime.redaction import redact
from fmd_runtime.retry import retryer

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

log = logging.getLogger("fmd_runtime.runs")

_LIVE: weakref.WeakSet[IngestionState] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for state in list(_LIVE):
        try:
            state.flush(retry=False)
        except Exception:  # exit-time best effort: the data commits' metadata recovers the rest
            pass


class IngestionState:
    """The held ``EntityRuns`` rows of one runtime and the watermark windows open in it.

    Args:
        runtime: the runtime whose store and audit decide when rows are written.
    """

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._buffer = runtime.store.buffer("EntityRuns")
        self._windows: dict[str, str] = {}
        self._cache: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._buffer.on_written.append(self._written)
        self._listening = False
        _LIVE.add(self)

    def _listen(self) -> None:
        """Register for the end of the outermost activity, on first use: not while the
        runtime builds ``rt.runs`` (``rt.audit`` asks ``rt.runs`` for its source gate)."""
        if not self._listening:
            self._listening = True
            self._rt.audit.on_outermost_end(self._activity_ended)

    # -- what is held ----------------------------------------------------------------------
    @property
    def held(self) -> int:
        """Rows held and not yet written."""
        return len(self._buffer)

    def rows(self, where: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Held rows matching ``where`` (as `MetadataStore.read` filters), oldest first."""
        return self._buffer.rows(where)

    # -- one read of an entity's rows per load -------------------------------------------------
    def entity_rows(
        self, entity: str, fetch: Callable[[], list[dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        """Every ledger row of ``entity``: the table's (``fetch`` reads them) and the held ones.

        While a load of the entity is under way in this runtime (an activity is open, or its
        watermark window is), the table's rows are read once and kept, with every row this
        runtime writes for it added: guard, window, write and commit share one read. Otherwise
        each call reads (a process that only watches sees other processes' loads at once).
        """
        self._listen()
        with self._lock:
            cached = self._cache.get(entity)
        if cached is None:
            table = fetch()
            if self._waits(entity):
                with self._lock:
                    cached = self._cache.setdefault(entity, table)
            else:
                cached = table
        held = self._buffer.rows({"EntityId": entity})
        seen = {r.get("EntryId") for r in held}
        return [dict(r) for r in cached if r.get("EntryId") not in seen] + held

    def forget(self) -> None:
        """Drop the kept rows (the table changed under them: an update, a rollback)."""
        with self._lock:
            self._cache.clear()

    def _written(self, rows: list[dict[str, Any]]) -> None:
        with self._lock:
            for row in rows:
                kept = self._cache.get(row.get("EntityId") or "")
                if kept is not None:
                    kept.append(dict(row))

    def window_opened(self, entity: str, kind: str) -> None:
        """Note that ``entity``'s watermark window (of ``kind``) is open: its completion waits
        for the commit, and its data commit records the kind."""
        with self._lock:
            self._windows[entity] = kind

    def window_kind(self, entity: str) -> str | None:
        """The kind of ``entity``'s open window, or None when none is open."""
        with self._lock:
            return self._windows.get(entity)

    def window_closed(self, entity: str) -> None:
        """Note that ``entity``'s window was committed: write what is held unless an activity
        (or another entity's open window) still holds it.

        Raises:
            StoreError: writing failed; the rows stay held for the next flush.
        """
        with self._lock:
            self._windows.pop(entity, None)
            waiting = set(self._windows)
            if self._rt.audit.open_activities == 0:
                self._cache.pop(entity, None)  # the load is over
        if self._rt.audit.open_activities == 0 and not any(
            r.get("EntityId") in waiting for r in self._buffer.rows()
        ):
            self.flush()

    def _waits(self, entity: str | None) -> bool:
        """True when a row of ``entity`` is held: an activity is open, or its window is."""
        if self._rt.audit.open_activities > 0:
            return True
        with self._lock:
            return entity is not None and entity in self._windows

    # -- writing ---------------------------------------------------------------------------
    def record(self, row: Mapping[str, Any], *, now: bool = False) -> None:
        """Add one ledger row; write it (and everything held) unless the rules hold it.

        Args:
            row: the ``EntityRuns`` row.
            now: write at once whatever the rules (failures: other processes decide on them).

        Raises:
            StoreError: the row is invalid (nothing queued), or writing failed (kept queued).
        """
        self._listen()
        self._buffer.add(row)
        if now or not self._waits(row.get("EntityId")):
            self.flush()

    def amend(self, where: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any] | None:
        """Set ``values`` on the newest held row matching ``where``; the row, or None when no
        held row matches (it was written already, or never held)."""
        return self._buffer.amend(where, values)

    def flush(self, *, retry: bool = True) -> int:
        """Write every held row in one commit (transient failures retried); rows written.

        Raises:
            StoreError: the write failed; the rows stay held for the next flush.
        """
        if not len(self._buffer):
            return 0
        if not retry:
            return self._buffer.flush()
        return int(retryer("metadata_write", operation="ledger flush")(self._buffer.flush))

    def _activity_ended(self) -> None:
        """The outermost activity ended: write what is held, except rows waiting for their
        window's commit (written by that commit, or by close / exit)."""
        with self._lock:
            waiting = set(self._windows)
            self._cache = {e: rows for e, rows in self._cache.items() if e in waiting}
        held = self._buffer.rows()
        if not held or (waiting and all(r.get("EntityId") in waiting for r in held)):
            return
        try:
            self.flush()
        except Exception as exc:  # never hide the block's own outcome; kept for the next flush
            log.warning(
                "fmd runs: could not write %d ledger row(s): %s", len(held), redact(str(exc))
            )


__all__ = ["IngestionState"]
