"""The source circuit breaker shared by every process of a pipeline run (``rt.runs.circuit`` ...).

When a source system is down, every entity of it would try, retry with back-off and fail on its
own. The breaker counts the source's transient failures in ``metadata.SourceCircuit`` (so every
notebook of the run sees them), opens after ``failure_threshold`` of them in a row, refuses the
source's entities at once with `CircuitOpenError` (audited ``CircuitOpen``, one HIGH alert per
opening), and after the cooldown lets exactly one entity through as the probe: its success
closes the breaker, its transient failure re-opens it. The state is derived from the events by
the pure `derive_state` (``_circuit_rows``); this module reads and writes them.

What it costs: a healthy entity load one small read (the source's events; none while an open
state read earlier is still in force) and no commit. A transient failure is one commit at once
(other processes must see it) and one read. A success is written only when it changes something
(failures are counted, or it is the probe's).

Claims are decided by the Delta log: a process that wants the probe (or to send the opening's
alert) appends its claim, then reads the table as of the version just before its own commit. It
wins when the state there still allows the claim, so of two processes claiming at once exactly
one wins: the one whose commit came first (wall clocks and commit latency cannot decide that).

Per-source settings are ``Configured`` events of the same table (the latest is current) rather
than PipelineConfig columns: a source feeds many tables, and a per-table copy of its settings
could disagree with itself; and in the events table the one read a check makes also gives the
settings (a table of their own would cost a second read, and a second table to create on every
new lakehouse). They are cached in the process for `SETTINGS_TTL_SECONDS`.

Example:
    >>> # rt.runs.check_source("crm", entity="account")   # raises CircuitOpenError when open
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from fmd_runtime.engine import TableAt
from fmd_runtime.errors import CircuitOpenError, ConfigError
from fmd_runtime.redaction import redact
from fmd_runtime.retry import is_transient, retryer
from fmd_runtime.runs._circuit_rows import (
    CircuitOperation,
    CircuitSettings,
    CircuitState,
    check_settings,
    check_source_name,
    derive_state,
    event_row,
    open_error,
    resolve_settings,
    stored_settings,
)
from fmd_runtime.store import to_json, utcnow

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

log = logging.getLogger("fmd_runtime.runs")
T = TypeVar("T")

SETTINGS_TTL_SECONDS = 60.0
"""How long a process keeps a source's settings (and PipelineConfig's table -> source map)."""

REUSE_SECONDS = 5.0
"""How long the state read for an entity serves that entity's further checks (an activity and
the `should_skip` inside it read once)."""

CLAIM_SCAN_VERSIONS = 100
"""How many versions a claim steps back at most to find the commit that holds it."""

TABLE = "SourceCircuit"


@dataclass
class _Seen:
    state: CircuitState
    entity: str | None
    at: float


@dataclass
class _Probe:
    probe_id: str
    entity: str | None


class SourceBreaker:
    """The breaker of every source on one connection (``rt.runs``'s circuit methods use it).

    Also the audit's `fmd_runtime.audit.SourceGate`: `enter` and `leave` are called around
    every activity that names a source and an entity or table.
    """

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._lock = threading.RLock()
        self._settings: dict[str, tuple[float, CircuitSettings]] = {}
        self._table_sources: tuple[float, dict[str, str]] | None = None
        self._seen: dict[str, _Seen] = {}
        self._probes: dict[str, _Probe] = {}
        self._counted: OrderedDict[int, BaseException] = OrderedDict()

    # -- settings --------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        """False when ``RuntimeConfig.circuit_enabled`` switches the breaker off everywhere."""
        return bool(self._rt.config.circuit_enabled)

    def settings(self, source: str) -> CircuitSettings:
        """The source's settings (defaults + its latest ``Configured`` event), cached a while."""
        source = check_source_name(source)
        with self._lock:
            hit = self._settings.get(source)
        if hit is not None and time.monotonic() - hit[0] < SETTINGS_TTL_SECONDS:
            return hit[1]
        return self._load(source)[0]

    def _load(self, source: str, entity: str | None = None) -> tuple[CircuitSettings, CircuitState]:
        """One read of the source's events: its settings (cached) and its state now (seen)."""
        rows = self._events(source)
        settings = resolve_settings(source, self._rt.config, stored_settings(rows))
        found = derive_state(rows, settings, now=utcnow())
        now = time.monotonic()
        with self._lock:
            self._settings[source] = (now, settings)
            if settings.enabled:
                self._seen[source] = _Seen(found, entity, now)
        return settings, found

    def configure(self, source: str, **values: Any) -> CircuitSettings:
        """Write the source's settings (a ``Configured`` event): the settings given replace the
        stored ones (None: back to the default), the others keep their stored value."""
        source = check_source_name(source)
        clean = check_settings(values)
        merged = stored_settings(self._events(source))
        merged.update({k: clean.get(k) for k in values})
        self._write("Configured", source, None, None, details=to_json(merged))
        with self._lock:
            self._settings.pop(source, None)
            self._seen.pop(source, None)
        self._rt.audit.event(
            "CircuitConfigured", "Succeeded", source=source, details={"settings": merged}
        )
        return self.settings(source)

    def source_of(self, source: str | None, table: str | None) -> str | None:
        """The source an entity load is keyed by: ``source``, else the table's PipelineConfig
        ``SourceName`` (the map cached `SETTINGS_TTL_SECONDS`), else None."""
        if source:
            return check_source_name(source)
        if not table:
            return None
        key = self._rt.table(table).name.lower()
        now = time.monotonic()
        with self._lock:
            cached = self._table_sources
        if cached is None or now - cached[0] >= SETTINGS_TTL_SECONDS:
            rows = self._rt.store.read(
                "PipelineConfig", columns=["SchemaName", "TableName", "SourceName"]
            )
            found = {
                f"{r['SchemaName']}.{r['TableName']}".lower(): str(r["SourceName"])
                for r in rows
                if r.get("SourceName")
            }
            cached = (now, found)
            with self._lock:
                self._table_sources = cached
        return cached[1].get(key)

    # -- state -----------------------------------------------------------------------------
    def _events(self, source: str, version: int | None = None) -> list[dict[str, Any]]:
        if version is None:
            return self._rt.store.read(TABLE, {"SourceName": source})
        store = self._rt.store
        q = self._rt.engine.quote
        cols = ", ".join(q(c) for c in store.definition(TABLE).column_names)
        at = TableAt(table=store.ref(TABLE), version=version)
        query = f"SELECT {cols} FROM {{t}} WHERE {q('SourceName')} = :s"
        rows: list[dict[str, Any]] = self._rt.engine.sql(
            query, {"t": at}, {"s": source}
        ).to_pylist()
        return rows

    def state(self, source: str, *, entity: str | None = None) -> CircuitState:
        """Read the source's events and derive its state now (remembered for ``entity``)."""
        return self._load(check_source_name(source), entity)[1]

    def _known(self, source: str, entity: str | None) -> CircuitState | None:
        """What this process may use without reading: an open state still in force, or the
        state read for this same entity moments ago."""
        with self._lock:
            seen = self._seen.get(source)
        if seen is None:
            return None
        st = seen.state
        if st.state == "open" and st.open_until is not None and utcnow() < st.open_until:
            return st
        if seen.entity == entity and time.monotonic() - seen.at < REUSE_SECONDS:
            return st
        return None

    # -- the gate --------------------------------------------------------------------------
    def check(
        self,
        source: str,
        *,
        entity: str | None = None,
        layer: str | None = None,
        table: str | None = None,
        activity: str | None = None,
    ) -> CircuitState:
        """Let ``entity`` of ``source`` run, or refuse it (documented at `RunLedger.check_source`)."""
        if not self.enabled:
            return CircuitState(source=source, state="disabled", as_of=utcnow())
        try:
            source = check_source_name(source)
            with self._lock:
                hit, held = self._settings.get(source), self._probes.get(source)
            loaded: CircuitState | None = None
            if hit is None or time.monotonic() - hit[0] >= SETTINGS_TTL_SECONDS:
                settings, loaded = self._load(source, entity)  # one read: settings and state
            else:
                settings = hit[1]
            if not settings.enabled:
                return CircuitState(source=source, state="disabled", as_of=utcnow())
            st = loaded or self._known(source, entity) or self.state(source, entity=entity)
            if held is not None and held.entity == entity:
                return st
            if st.can_probe and held is None and self._claim("Probe", st, entity, layer):
                return st
        except CircuitOpenError:
            raise
        except Exception as exc:  # the breaker must never stop a load it cannot judge
            log.warning("fmd circuit: could not check source %s: %s", source, redact(str(exc)))
            return CircuitState(source=source, state="closed", as_of=utcnow())
        if st.allows:
            return st
        self._refuse(st, entity=entity, layer=layer, table=table, activity=activity)
        raise AssertionError("unreachable")  # pragma: no cover

    def _refuse(
        self,
        st: CircuitState,
        *,
        entity: str | None,
        layer: str | None,
        table: str | None,
        activity: str | None,
    ) -> None:
        if st.state == "half_open" and st.probe_id is None:  # lost the claim to another process
            st = st.model_copy(update={"probe_id": "claimed"})
        error = open_error(st, entity=entity, table=table)
        if not st.alerted:  # the process that opened it died before alerting
            try:
                self._claim("Opened", st, entity, layer)
            except Exception as exc:  # the refusal stands; the alert is the lesser loss
                log.warning("fmd circuit: could not claim the alert: %s", redact(str(exc)))
        self._rt.audit.event(
            "CircuitOpen",
            "Failed",
            entity=entity,
            table=table,
            layer=layer,
            source=st.source,
            activity=activity,
            error=error,
            severity="MEDIUM",
            details=error.details,
        )
        raise error

    def enter(self, fields: Mapping[str, Any]) -> None:
        """`SourceGate.enter`: check the activity's source before its Start (may raise)."""
        if not self.enabled or not (fields.get("EntityId") or fields.get("TableName")):
            return
        table = _table_of(fields)
        source = self.source_of(fields.get("SourceName"), table)
        if source:
            self.check(
                source,
                entity=fields.get("EntityId"),
                layer=fields.get("Layer"),
                table=table,
                activity=fields.get("ActivityName"),
            )

    def leave(self, fields: Mapping[str, Any], error: BaseException | None) -> None:
        """`SourceGate.leave`: record the activity's outcome for its source."""
        if not self.enabled or not (fields.get("EntityId") or fields.get("TableName")):
            return
        source = self.source_of(fields.get("SourceName"), _table_of(fields))
        if source:
            self.record(
                source, error=error, entity=fields.get("EntityId"), layer=fields.get("Layer")
            )

    # -- outcomes --------------------------------------------------------------------------
    def record(
        self,
        source: str,
        *,
        error: BaseException | str | None = None,
        entity: str | None = None,
        layer: str | None = None,
    ) -> CircuitState | None:
        """Record an entity's outcome for its source (documented at `RunLedger.record_source`);
        never raises (a failure to record is logged: the load's own outcome matters more)."""
        if not self.enabled or isinstance(error, CircuitOpenError | str):
            return None  # a refusal is not the source's failure; text cannot be classified
        try:
            return self._record(source, error, entity, layer)
        except Exception as exc:
            log.warning("fmd circuit: could not record for %s: %s", source, redact(str(exc)))
            return None

    def _record(
        self, source: str, error: BaseException | None, entity: str | None, layer: str | None
    ) -> CircuitState | None:
        settings = self.settings(source)
        source = settings.source
        if not settings.enabled:
            return None
        if error is not None and self._already_counted(error):
            return None  # the same exception leaving nested activities / fail() is one failure
        with self._lock:
            held = self._probes.get(source)
            mine = held if held is not None and held.entity == entity else None
            if mine is not None:
                self._probes.pop(source, None)
            seen = self._seen.get(source)
        probe_id = mine.probe_id if mine else None
        if error is None:
            if mine is not None:
                self._write("Closed", source, entity, layer, probe_id=probe_id)
                self._rt.audit.event("CircuitClosed", "Succeeded", source=source, entity=entity)
                return self.state(source, entity=entity)
            if seen is not None and seen.state.state == "closed" and seen.state.failures:
                self._write("Success", source, entity, layer)
                return self.state(source, entity=entity)
            return None
        if not is_transient(error):
            if mine is not None:  # the probe told nothing about the source: let another probe
                self._write("Released", source, entity, layer, probe_id=probe_id)
            return None
        self._write("Failure", source, entity, layer, error=error, probe_id=probe_id)
        st = self.state(source, entity=entity)
        if not st.allows and not st.alerted:
            self._claim("Opened", st, entity, layer)
        return st

    def _already_counted(self, error: BaseException) -> bool:
        with self._lock:
            if id(error) in self._counted and self._counted[id(error)] is error:
                return True
            self._counted[id(error)] = error
            while len(self._counted) > 256:
                self._counted.popitem(last=False)
        return False

    def reset(self, source: str, reason: str) -> CircuitState:
        """Close the source's breaker now (documented at `RunLedger.reset_circuit`)."""
        source = check_source_name(source)
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigError(
                f"resetting the circuit of source {source} needs a reason",
                hint='pass reason="the source is back (ticket ...)"',
            )
        before = self.state(source)
        text = (redact(reason.strip()) or "")[:500]
        self._write("Reset", source, None, None, details=to_json({"reason": text}))
        with self._lock:
            self._seen.pop(source, None)
            self._probes.pop(source, None)
        self._rt.audit.event(
            "CircuitReset",
            "Succeeded",
            source=source,
            severity="MEDIUM",
            details={"reason": text, "was": before.state, "failures": before.failures},
            flush=True,
        )
        return self.state(source)

    # -- writes and claims -----------------------------------------------------------------
    def _retry(self, fn: Callable[[], T]) -> T:
        return retryer("metadata_write", operation="circuit event")(fn)

    def _write(
        self,
        op: CircuitOperation,
        source: str,
        entity: str | None,
        layer: str | None,
        **values: Any,
    ) -> tuple[dict[str, Any], int | None]:
        ctx = self._rt.context
        row = event_row(
            op,
            source,
            run_id=ctx.run_id,
            pipeline_run_id=ctx.pipeline_run_id,
            entity=entity,
            layer=layer,
            **values,
        )
        version = self._retry(lambda: self._rt.store.append(TABLE, [row]))
        return row, version

    def _claim(self, op: CircuitOperation, st: CircuitState, entity: Any, layer: Any) -> bool:
        """Append a Probe / Opened claim; True when it is the first (by commit order)."""
        source = st.source
        row, version = self._write(op, source, entity, layer, open_until=st.open_until)
        settings = self.settings(source)
        prior = derive_state(
            self._before(source, row["EventId"], version), settings, now=row["EventTime"]
        )
        won = prior.can_probe if op == "Probe" else (not prior.allows and not prior.alerted)
        with self._lock:
            if op == "Opened":
                self._seen[source] = _Seen(
                    st.model_copy(update={"alerted": True}), entity, time.monotonic()
                )
            elif won:
                self._probes[source] = _Probe(row["EventId"], entity)
        if won and op == "Opened":
            self._alert(st)
        return won

    def _before(self, source: str, event_id: str, version: int | None) -> list[dict[str, Any]]:
        """The source's events as of the version just before the commit holding ``event_id``.

        The engine returns the table's version after the write, which a concurrent commit may
        already have moved past ours: step back until the claim is not in the snapshot (one
        read when nobody else committed meanwhile).
        """
        v = version if version is not None else self._rt.engine.version(self._rt.store.ref(TABLE))
        for _ in range(CLAIM_SCAN_VERSIONS):
            if v <= 0:
                break
            rows = self._events(source, version=v - 1)
            if all(r.get("EventId") != event_id for r in rows):
                return rows
            v -= 1
        # not found within the scan: judge by the latest rows, ours excluded (best effort)
        return [r for r in self._events(source) if r.get("EventId") != event_id]

    def _alert(self, st: CircuitState) -> None:
        opened = st.opened_at or datetime.now(timezone.utc)
        self._rt.alerts.send(
            "HIGH",
            f"[HIGH] Source {st.source} is unavailable: circuit open since "
            f"{opened:%Y-%m-%d %H:%M} UTC",
            key=f"circuit-open:{st.source}:{opened.isoformat()}",
            errors={st.source: f"{st.last_error_type or 'Error'}: {st.last_error or ''}"},
            first_steps=(
                f"check the source system / connection {st.source} (the last error is above)",
                f"its entities are refused until {st.open_until:%H:%M} UTC; then one entity "
                "probes the source, and its success closes the breaker",
                f'once the source is fixed: rt.runs.reset_circuit("{st.source}", reason="...") '
                f'or `fmd circuit reset {st.source} --reason "..."`, then re-run the pipeline',
            ),
            details={
                "source": st.source,
                "failures": st.failures,
                "first_failure_at": st.first_failure_at,
                "opened_at": st.opened_at,
                "open_until": st.open_until,
            },
        )


def _table_of(fields: Mapping[str, Any]) -> str | None:
    table = fields.get("TableName")
    if not table:
        return None
    schema = fields.get("SchemaName")
    return f"{schema}.{table}" if schema else str(table)


__all__ = ["REUSE_SECONDS", "SETTINGS_TTL_SECONDS", "SourceBreaker"]
