"""The source circuit breaker's pure state function, its settings and its summary counting.

No engine: `derive_state` is a function over ``SourceCircuit`` rows, so every transition
(closed -> open -> half-open -> probe -> closed / re-opened, lost probes, resets, the window,
successes between failures) is checked on hand-written events.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from fmd_runtime import CircuitOpenError, ConfigError, RuntimeConfig
from fmd_runtime.audit import derive_status, entity_results
from fmd_runtime.audit._summary import _entities_from_events
from fmd_runtime.retry import is_transient
from fmd_runtime.runs import CircuitSettings, derive_state
from fmd_runtime.runs._circuit_rows import (
    check_settings,
    open_error,
    resolve_settings,
    stored_settings,
)

T0 = datetime(2025, 1, 15, 2, 3, tzinfo=timezone.utc)
S = CircuitSettings(source="crm", failure_threshold=5, window_minutes=15, cooldown_minutes=10)


def ev(op: str, minute: float, **extra: Any) -> dict[str, Any]:
    at = T0 + timedelta(minutes=minute)
    return {"Operation": op, "EventTime": at, "EventId": f"{op}-{minute}", **extra}


def fails(n: int, start: float = 0.0, step: float = 1.0) -> list[dict[str, Any]]:
    return [
        ev("Failure", start + i * step, ErrorType="ConnectionError", ErrorSummary="refused")
        for i in range(n)
    ]


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def test_five_failures_in_the_window_open_it_with_the_operators_message() -> None:
    st = derive_state(fails(5), S, now=at(5))
    assert (st.state, st.failures) == ("open", 5)
    assert st.opened_at == at(4) and st.open_until == at(14) and st.first_failure_at == T0
    assert st.summary() == (
        "source crm is unavailable: 5 consecutive failures since 02:03; circuit open until 02:17"
    )
    assert not st.allows and st.last_error_type == "ConnectionError"
    err = open_error(st, entity="account", table=None)
    assert isinstance(err, CircuitOpenError) and err.entity == "account"
    assert not is_transient(err)
    assert err.details["source"] == "crm" and err.details["failures"] == 5
    assert "reset_circuit" in str(err) and "fmd circuit reset crm" in str(err)


def test_four_failures_stay_closed_and_count() -> None:
    st = derive_state(fails(4), S, now=at(4))
    assert (st.state, st.failures, st.allows) == ("closed", 4, True)


def test_failures_spread_wider_than_the_window_never_open_it() -> None:
    st = derive_state(fails(10, step=4.0), S, now=at(40))  # 4 minutes apart: 4 in any 15
    assert st.state == "closed"
    # ... and the ones older than the window no longer count at the end
    assert derive_state(fails(3), S, now=at(30)).failures == 0


def test_a_success_between_failures_resets_the_count() -> None:
    events = [*fails(4), ev("Success", 4.5), *fails(4, start=5)]
    assert derive_state(events, S, now=at(9)).state == "closed"
    assert derive_state([*events, *fails(1, start=9)], S, now=at(10)).state == "open"


def test_after_the_cooldown_it_is_half_open_and_the_first_probe_wins() -> None:
    events = fails(5)
    st = derive_state(events, S, now=at(14.5))
    assert st.state == "half_open" and st.can_probe
    probes = [
        ev("Probe", 15, EntityId="a", EventId="p1"),
        ev("Probe", 15.1, EntityId="b", EventId="p2"),
    ]
    st = derive_state([*events, *probes], S, now=at(16))
    assert (st.state, st.probe_id, st.probe_entity, st.can_probe) == (
        "half_open",
        "p1",
        "a",
        False,
    )
    assert "entity a is probing the source since 02:18" in st.summary()


def test_a_probe_claimed_before_the_cooldown_ended_does_not_count() -> None:
    st = derive_state([*fails(5), ev("Probe", 13, EventId="early")], S, now=at(15))
    assert st.can_probe


def test_the_probes_success_closes_it_and_its_failure_re_opens_it() -> None:
    events = [*fails(5), ev("Probe", 15, EntityId="a", EventId="p1")]
    closed = derive_state([*events, ev("Closed", 15.5, ProbeId="p1")], S, now=at(16))
    assert (closed.state, closed.failures) == ("closed", 0)
    again = [*events, *fails(1, start=15.5)]
    again[-1]["ProbeId"] = "p1"
    st = derive_state(again, S, now=at(16))
    assert st.state == "open" and st.open_until == at(25.5) and st.failures == 6
    assert derive_state(again, S, now=at(26)).can_probe


def test_a_lost_probe_lets_another_entity_probe_after_the_timeout() -> None:
    events = [*fails(5), ev("Probe", 15, EntityId="a", EventId="p1")]
    assert not derive_state(events, S, now=at(24)).can_probe
    st = derive_state(events, S, now=at(25))  # the probe timeout is the cooldown
    assert st.can_probe and st.probe_id is None
    events.append(ev("Probe", 25.5, EntityId="b", EventId="p2"))
    assert derive_state(events, S, now=at(26)).probe_entity == "b"
    short = S.model_copy(update={"probe_timeout_minutes": 2.0})
    assert derive_state(events[:-1], short, now=at(17)).can_probe


def test_a_released_probe_frees_the_claim_at_once() -> None:
    events = [*fails(5), ev("Probe", 15, EventId="p1"), ev("Released", 15.2, ProbeId="p1")]
    assert derive_state(events, S, now=at(15.5)).can_probe


def test_a_reset_closes_it_and_the_next_opening_alerts_again() -> None:
    events = [*fails(5), ev("Opened", 4.1)]
    assert derive_state(events, S, now=at(5)).alerted
    events.append(ev("Reset", 6))
    st = derive_state(events, S, now=at(7))
    assert (st.state, st.failures, st.alerted) == ("closed", 0, False)
    st = derive_state([*events, *fails(5, start=7)], S, now=at(12))
    assert st.state == "open" and not st.alerted and st.first_failure_at == at(7)


def test_events_in_any_order_give_the_same_state() -> None:
    events = [*fails(5), ev("Probe", 15, EventId="p1")]
    assert derive_state(list(reversed(events)), S, now=at(16)) == derive_state(
        events, S, now=at(16)
    )


def test_disabled_settings_never_open() -> None:
    off = S.model_copy(update={"enabled": False})
    assert derive_state(fails(50), off, now=at(5)).state == "disabled"


def test_non_transient_errors_are_what_the_retry_predicate_says() -> None:
    from fmd_runtime.errors import ContractViolation, SchemaDriftError

    assert is_transient(ConnectionError("refused")) and is_transient(TimeoutError())
    for exc in (ContractViolation("bad"), SchemaDriftError("x"), ConfigError("y"), ValueError()):
        assert not is_transient(exc)


def test_settings_take_runtime_defaults_and_per_source_overrides_within_bounds() -> None:
    cfg = RuntimeConfig(circuit_failure_threshold=3, circuit_cooldown_minutes=2)
    s = resolve_settings("crm", cfg, None)
    assert (s.failure_threshold, s.cooldown_minutes, s.probe_timeout) == (
        3,
        2.0,
        timedelta(minutes=2),
    )
    stored = stored_settings(
        [
            {"Operation": "Configured", "EventTime": T0, "Details": '{"failure_threshold":4}'},
            {"Operation": "Configured", "EventTime": at(1), "Details": '{"failure_threshold":7,'
             '"enabled":false}'},
            {"Operation": "Failure", "EventTime": at(2)},
        ]
    )  # fmt: skip
    assert stored == {"failure_threshold": 7, "enabled": False}
    s = resolve_settings("crm", cfg, stored)
    assert (s.failure_threshold, s.enabled) == (7, False)
    with pytest.raises(ConfigError, match="failure_threshold"):
        check_settings({"failure_threshold": 0})
    with pytest.raises(ConfigError, match="unknown circuit setting"):
        check_settings({"threshold": 3})
    with pytest.raises(ConfigError, match="circuit_window_minutes"):
        RuntimeConfig(circuit_window_minutes=0)
    with pytest.raises(ConfigError, match="circuit_enabled"):
        RuntimeConfig(circuit_enabled="yes")


def test_refused_entities_are_counted_apart_from_failures() -> None:
    assert derive_status(failures=0, open_activities=0, skips=0, successes=0, circuit_open=1) == (
        "CircuitOpen"
    )
    assert derive_status(failures=1, open_activities=0, skips=0, successes=0, circuit_open=1) == (
        "Failed"
    )
    rows = [
        {"EventId": "1", "EventTime": T0, "Operation": "Fail", "Status": "Failed",
         "EntityId": "a", "ErrorType": "ConnectionError"},
        {"EventId": "2", "EventTime": T0, "Operation": "CircuitOpen", "Status": "Failed",
         "EntityId": "b", "ErrorType": "CircuitOpenError"},
    ]  # fmt: skip
    found = {e.entity: e.status for e in _entities_from_events(rows, None)}
    assert found == {"a": "Failed", "b": "CircuitOpen"}
    err = CircuitOpenError("source crm is unavailable")
    assert [r.status for r in entity_results({"x": err, "y": None})] == [
        "CircuitOpen",
        "Succeeded",
    ]
