"""The source circuit breaker's pure part: its settings, its events and the state they make.

A source's breaker has no state of its own: every process of a pipeline run appends events to
``metadata.SourceCircuit`` and derives the state from them with `derive_state`, a pure function
over the rows (tested without an engine). The events:

- ``Failure``: an entity of the source failed with a transient error (``ProbeId`` set when it
  was the probe).
- ``Success``: an entity of the source succeeded while failures were counted (a healthy run
  writes none).
- ``Opened``: the claim of the process that alerts for an opening (one per opening).
- ``Probe``: the claim of the entity let through after the cooldown (half-open).
- ``Closed``: the probe succeeded. ``Reset``: an operator closed it. ``Released``: the probe
  ended without telling anything about the source (a non-transient error); another may probe.
- ``Configured``: the source's own settings (``Details``: a JSON object of `SETTING_FIELDS`);
  the latest one is current (`stored_settings`). Kept in the same table so that the one read a
  check makes gives the settings and the events (and a new lakehouse gets one table, not two).

The rules, walking the events oldest first: while closed, ``failure_threshold`` Failures that
fall within ``window_minutes`` of each other, with no Success between them, open it at the last
one's time until ``cooldown_minutes`` later. While open, only a probe's outcome changes it: its
Failure re-opens it for another cooldown (the same opening: no second alert), its success closes
it. After the cooldown the first Probe event wins; one older than ``probe_timeout_minutes`` is
lost. ``Closed`` and ``Reset`` start over.

Example:
    >>> settings = CircuitSettings(source="crm", failure_threshold=2)
    >>> derive_state([], settings, now=datetime(2025, 1, 15, tzinfo=timezone.utc)).state
    'closed'
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import BaseModel

from fmd_runtime._base import FROZEN, as_utc
from fmd_runtime.config import (
    MAX_CIRCUIT_FAILURES,
    MAX_CIRCUIT_MINUTES,
    MIN_CIRCUIT_WINDOW_MINUTES,
    RuntimeConfig,
    check_number,
    strict_bool,
)
from fmd_runtime.errors import CircuitOpenError, ConfigError
from fmd_runtime.redaction import redact

CircuitOperation = Literal[
    "Failure", "Success", "Opened", "Probe", "Closed", "Reset", "Released", "Configured"
]
CircuitStatus = Literal["closed", "open", "half_open", "disabled"]

SETTING_FIELDS = (
    "enabled",
    "failure_threshold",
    "window_minutes",
    "cooldown_minutes",
    "probe_timeout_minutes",
)
"""The settings a source may override (a ``Configured`` event's ``Details`` keys)."""


class CircuitSettings(BaseModel):
    """One source's breaker settings: RuntimeConfig's ``circuit_*`` defaults, overridden by the
    source's latest ``Configured`` event (`resolve_settings`).

    Attributes:
        source: the source.
        enabled: False: nothing of this source is counted or refused.
        failure_threshold: consecutive transient failures that open it (1 to 1,000).
        window_minutes: within how many minutes they count (0.001 to 10,080).
        cooldown_minutes: how long it stays open before one entity probes (0 to 10,080).
        probe_timeout_minutes: a probe without an outcome this long is lost (None: the cooldown).

    Example:
        >>> CircuitSettings(source="crm").probe_timeout
        datetime.timedelta(seconds=600)
    """

    model_config = FROZEN

    source: str
    enabled: bool = True
    failure_threshold: int = 5
    window_minutes: float = 15.0
    cooldown_minutes: float = 10.0
    probe_timeout_minutes: float | None = None

    @property
    def window(self) -> timedelta:
        """``window_minutes`` as a timedelta."""
        return timedelta(minutes=self.window_minutes)

    @property
    def cooldown(self) -> timedelta:
        """``cooldown_minutes`` as a timedelta."""
        return timedelta(minutes=self.cooldown_minutes)

    @property
    def probe_timeout(self) -> timedelta:
        """When a probe counts as lost (the cooldown unless set)."""
        minutes = self.probe_timeout_minutes
        return timedelta(minutes=self.cooldown_minutes if minutes is None else minutes)


class CircuitState(BaseModel):
    """A source's breaker as derived from its events at ``as_of``.

    Attributes:
        source: the source.
        state: ``closed`` (entities run), ``open`` (refused until ``open_until``),
            ``half_open`` (the cooldown is over: one entity probes, the others are refused),
            ``disabled`` (switched off: nothing counted or refused).
        failures: consecutive transient failures counted (closed: within the window; open:
            since the streak that opened it began).
        first_failure_at: when that streak began ("5 consecutive failures since 02:03").
        opened_at / open_until: when it opened, and until when it refuses every entity.
        probe_id / probe_entity / probe_started_at: the probe in flight (half-open).
        alerted: the opening's ``Opened`` claim is recorded (its alert was sent).
        last_error_type / last_error: the last failure's error (redacted).
        as_of: the time the state was derived for.

    Example:
        >>> CircuitState(source="crm", state="closed", as_of=datetime(2025, 1, 1)).allows
        True
    """

    model_config = FROZEN

    source: str
    state: CircuitStatus
    failures: int = 0
    first_failure_at: datetime | None = None
    opened_at: datetime | None = None
    open_until: datetime | None = None
    probe_id: str | None = None
    probe_entity: str | None = None
    probe_started_at: datetime | None = None
    alerted: bool = False
    last_error_type: str | None = None
    last_error: str | None = None
    as_of: datetime

    @property
    def allows(self) -> bool:
        """True when entities run (closed or disabled)."""
        return self.state in ("closed", "disabled")

    @property
    def can_probe(self) -> bool:
        """True when half-open with no probe in flight: the next entity may claim the probe."""
        return self.state == "half_open" and self.probe_id is None

    def summary(self) -> str:
        """What the breaker says, in one line ("source crm is unavailable: ...")."""
        if self.allows:
            counted = f"{self.failures} consecutive failure(s) counted" if self.failures else ""
            return f"source {self.source} is {self.state}" + (f": {counted}" if counted else "")
        head = f"source {self.source} is unavailable: {self.failures} consecutive failures"
        head += f" since {_hhmm(self.first_failure_at or self.opened_at)}"
        if self.state == "open":
            return f"{head}; circuit open until {_hhmm(self.open_until)}"
        if self.probe_id and self.probe_entity:
            return (
                f"{head}; circuit half-open: entity {self.probe_entity} is probing the source "
                f"since {_hhmm(self.probe_started_at)}"
            )
        if self.probe_id:
            return f"{head}; circuit half-open: another entity is probing the source"
        return f"{head}; circuit half-open since {_hhmm(self.open_until)}: the next entity probes"


def _hhmm(ts: datetime | None) -> str:
    return as_utc(ts).strftime("%H:%M") if ts else "?"


def derive_state(
    events: Iterable[Mapping[str, Any]], settings: CircuitSettings, *, now: datetime
) -> CircuitState:
    """The breaker's state at ``now`` from a source's ``SourceCircuit`` rows (any order).

    Args:
        events: the source's rows (``Operation``, ``EventTime``, ``EventId``, ``ProbeId``,
            ``EntityId``, ``ErrorType``, ``ErrorSummary``).
        settings: the source's settings.
        now: the time to evaluate at (aware, or naive = UTC).

    Returns:
        The `CircuitState` (``disabled`` when the settings switch it off).

    Example:
        >>> t = datetime(2025, 1, 15, 2, 3, tzinfo=timezone.utc)
        >>> rows = [{"Operation": "Failure", "EventTime": t + timedelta(minutes=i)} for i in range(2)]
        >>> s = derive_state(rows, CircuitSettings(source="crm", failure_threshold=2), now=t)
        >>> s.state, s.summary()
        ('open', 'source crm is unavailable: 2 consecutive failures since 02:03; circuit open until 02:14')
    """
    now = as_utc(now)
    if not settings.enabled:
        return CircuitState(source=settings.source, state="disabled", as_of=now)
    rows = sorted(events, key=lambda r: (as_utc(r["EventTime"]), str(r.get("EventId") or "")))
    streak: list[datetime] = []
    is_open = alerted = False
    opened_at = open_until = first = None
    failures = 0
    probe: Mapping[str, Any] | None = None
    last: Mapping[str, Any] | None = None
    for r in rows:
        t, op = as_utc(r["EventTime"]), r.get("Operation")
        if op in ("Closed", "Reset") or (op == "Success" and is_open and r.get("ProbeId")):
            is_open = alerted = False
            streak, probe, opened_at, open_until, first, failures = [], None, None, None, None, 0
        elif op == "Success" and not is_open:
            streak = []
        elif op == "Failure":
            last = r
            if is_open:
                failures += 1
                if r.get("ProbeId"):  # the probe failed: another cooldown, the same opening
                    open_until, probe = t + settings.cooldown, None
                continue
            streak = [s for s in streak if t - s <= settings.window] + [t]
            if len(streak) >= settings.failure_threshold:
                is_open, opened_at, open_until = True, t, t + settings.cooldown
                failures, first = len(streak), streak[0]
        elif op == "Opened" and is_open:
            alerted = True
        elif op == "Probe" and is_open and open_until is not None and t >= open_until:
            if probe is None or t - as_utc(probe["EventTime"]) >= settings.probe_timeout:
                probe = r
        elif op == "Released" and probe is not None and r.get("ProbeId") == probe.get("EventId"):
            probe = None
    errors: dict[str, Any] = {
        "last_error_type": last.get("ErrorType") if last else None,
        "last_error": last.get("ErrorSummary") if last else None,
    }
    if not is_open:
        live = [s for s in streak if now - s <= settings.window]
        return CircuitState(
            source=settings.source,
            state="closed",
            failures=len(live),
            first_failure_at=live[0] if live else None,
            as_of=now,
            **errors,
        )
    assert open_until is not None
    if probe is not None and now - as_utc(probe["EventTime"]) >= settings.probe_timeout:
        probe = None  # its process died or hung: lost, the next entity may probe
    return CircuitState(
        source=settings.source,
        state="open" if now < open_until else "half_open",
        failures=failures,
        first_failure_at=first,
        opened_at=opened_at,
        open_until=open_until,
        probe_id=probe.get("EventId") if probe else None,
        probe_entity=probe.get("EntityId") if probe else None,
        probe_started_at=as_utc(probe["EventTime"]) if probe else None,
        alerted=alerted,
        as_of=now,
        **errors,
    )


def event_row(
    operation: CircuitOperation,
    source: str,
    *,
    run_id: str,
    pipeline_run_id: str | None = None,
    entity: str | None = None,
    layer: str | None = None,
    error: BaseException | None = None,
    probe_id: str | None = None,
    open_until: datetime | None = None,
    details: str | None = None,
) -> dict[str, Any]:
    """One ``SourceCircuit`` row, stamped now (the error redacted).

    Example:
        >>> event_row("Reset", "crm", run_id="r1")["Operation"]
        'Reset'
    """
    return {
        "SourceName": source,
        "Operation": operation,
        "EntityId": entity,
        "Layer": layer,
        "RunId": run_id,
        "PipelineRunId": pipeline_run_id,
        "ErrorType": type(error).__name__ if error is not None else None,
        "ErrorSummary": (redact(str(error)) or "")[:1000] if error is not None else None,
        "OpenUntil": open_until,
        "ProbeId": probe_id,
        "EventTime": datetime.now(timezone.utc),
        "EventId": str(uuid.uuid4()),
        "Details": details,
    }


def check_source_name(source: Any) -> str:
    """``source`` when it is non-empty text of at most 256 characters (stripped).

    Raises:
        ConfigError: anything else.
    """
    if not isinstance(source, str) or not source.strip() or len(source) > 256:
        raise ConfigError(
            f"source {source!r:.60} is not a source name",
            hint='pass the source system or connection name, e.g. source="crm"',
        )
    return source.strip()


def stored_settings(events: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The settings of a source's latest ``Configured`` event ({} when it has none).

    Example:
        >>> row = {"Operation": "Configured", "EventTime": datetime(2025, 1, 1), "Details": '{"failure_threshold":3}'}
        >>> stored_settings([row])
        {'failure_threshold': 3}
    """
    rows = [r for r in events if r.get("Operation") == "Configured" and r.get("Details")]
    if not rows:
        return {}
    latest = max(rows, key=lambda r: (as_utc(r["EventTime"]), str(r.get("EventId") or "")))
    try:
        found = json.loads(latest["Details"])
    except ValueError:
        return {}
    return (
        {k: v for k, v in found.items() if k in SETTING_FIELDS} if isinstance(found, dict) else {}
    )


def resolve_settings(
    source: str, config: RuntimeConfig, stored: Mapping[str, Any] | None
) -> CircuitSettings:
    """A source's settings: RuntimeConfig's defaults, then the non-null values it stored
    (`stored_settings`), checked against the same bounds.

    Raises:
        ConfigError: a value outside its bounds (named).

    Example:
        >>> resolve_settings("crm", RuntimeConfig(), {"failure_threshold": 3}).failure_threshold
        3
    """
    values: dict[str, Any] = {
        "enabled": config.circuit_enabled,
        "failure_threshold": config.circuit_failure_threshold,
        "window_minutes": config.circuit_window_minutes,
        "cooldown_minutes": config.circuit_cooldown_minutes,
        "probe_timeout_minutes": config.circuit_probe_timeout_minutes,
    }
    for field in SETTING_FIELDS:
        if stored and stored.get(field) is not None:
            values[field] = stored[field]
    return CircuitSettings(source=source, **check_settings(values))


def check_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """Breaker settings checked against their bounds (`check_number` / `strict_bool`).

    Raises:
        ConfigError: an unknown setting, or a value outside its bounds (named).
    """
    unknown = sorted(set(values) - set(SETTING_FIELDS))
    if unknown:
        raise ConfigError(
            f"unknown circuit setting(s) {unknown}", hint=f"valid: {list(SETTING_FIELDS)}"
        )
    out: dict[str, Any] = {}
    for field, value in values.items():
        if value is None:
            if field != "enabled":  # None: the default (the cooldown, for the probe timeout)
                out[field] = None
        elif field == "enabled":
            out[field] = strict_bool(value, field)
        elif field == "failure_threshold":
            out[field] = check_number(
                value, field, minimum=1, maximum=MAX_CIRCUIT_FAILURES, integer=True
            )
        else:
            low = MIN_CIRCUIT_WINDOW_MINUTES if field == "window_minutes" else 0
            out[field] = float(
                check_number(value, field, minimum=low, maximum=MAX_CIRCUIT_MINUTES, unit="minutes")
            )
    return out


def open_error(state: CircuitState, *, entity: str | None, table: str | None) -> CircuitOpenError:
    """The `CircuitOpenError` refusing ``entity`` while ``state`` is open or half-open."""
    source = state.source
    return CircuitOpenError(
        state.summary(),
        entity=entity,
        table=table,
        hint=f"fix the source {source} (the last error: {state.last_error_type or 'unknown'}); "
        "after the cooldown one entity probes it and its success closes the breaker, or close "
        f'it now: rt.runs.reset_circuit("{source}", reason="...") or `fmd circuit reset '
        f'{source} --reason "..."`',
        details={
            "source": source,
            "state": state.state,
            "failures": state.failures,
            "first_failure_at": state.first_failure_at,
            "opened_at": state.opened_at,
            "open_until": state.open_until,
            "probe_entity": state.probe_entity,
        },
    )


__all__ = [
    "SETTING_FIELDS",
    "CircuitOperation",
    "CircuitSettings",
    "CircuitState",
    "CircuitStatus",
    "check_settings",
    "check_source_name",
    "derive_state",
    "event_row",
    "open_error",
    "resolve_settings",
    "stored_settings",
]
