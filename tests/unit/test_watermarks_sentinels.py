"""Sentinels, values in the future and wrong argument types are refused before a watermark is
stored (issue 11, item 5): a committed ``9999-12-31`` silently stops every later load."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pyarrow as pa
import pytest
from written import snapshot

import fmd_runtime as fmd
from fmd_runtime import ConfigError, InvalidIdentifierError, WatermarkError
from fmd_runtime.watermarks import SENTINELS, Window, check_plausible, parse_watermark

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
T0 = "2025-01-15T02:30:00.000000+00:00"


def _state_ops(rt, entity: str) -> list[str]:
    rt.store.flush()
    ops = ("Commit", "Reset", "Recover", "Migrate", "RollbackReset")
    return [
        r["Operation"]
        for r in rt.store.read("Watermarks", {"EntityId": entity})
        if r["Operation"] in ops
    ]


# -- the pure check ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("9999-12-31", "datetime"),
        ("9999-12-31 23:59:59.997", "datetime"),
        ("9999-12-31T00:00:00+14:00", "datetime"),  # the same day in another zone
        ("9999-12-31", "date"),
        ("2999-12-31", "date"),
        ("2079-06-06 23:59:00", "datetime"),
        ("1900-01-01", "datetime"),
        ("1900-01-01 00:00:00-10:00", "datetime"),
        ("0001-01-01", "date"),
        ("1753-01-01", "datetime"),
        (str(2**63 - 1), "int"),
        ("0xFFFFFFFFFFFFFFFF", "rowversion"),
    ],
)
def test_known_sentinels_are_refused_by_default(value: str, kind: str) -> None:
    canonical = parse_watermark(value, kind)
    with pytest.raises(WatermarkError, match="is a sentinel") as exc:
        check_plausible(canonical, kind, entity="acc", now=NOW, allow_future=True)
    assert "acc" in str(exc.value) and "allow_sentinel=True" in str(exc.value)
    assert check_plausible(canonical, kind, now=NOW, allow_future=True, allow_sentinel=True)


@pytest.mark.parametrize(
    ("value", "kind"),
    [("2999-06-01", "date"), ("2025-06-03 12:00:01", "datetime"), ("2026-01-01", "date")],
)
def test_values_beyond_now_plus_the_skew_are_refused(value: str, kind: str) -> None:
    canonical = parse_watermark(value, kind)
    with pytest.raises(WatermarkError, match="is in the future .*24 hours") as exc:
        check_plausible(canonical, kind, entity="acc", now=NOW)
    assert "allow_future=True" in str(exc.value) and exc.value.details["refused"] == "future"
    assert check_plausible(canonical, kind, now=NOW, allow_future=True) == canonical


def test_the_skew_is_configurable_and_ordinary_values_pass() -> None:
    soon = parse_watermark("2025-06-02 11:00:00", "datetime")  # 23 hours ahead
    assert check_plausible(soon, "datetime", now=NOW) == soon
    with pytest.raises(WatermarkError, match="now \\+ 1 hours"):
        check_plausible(soon, "datetime", now=NOW, future_skew_hours=1)
    for value, kind in [
        (T0, "datetime"),
        ("2025-06-02", "date"),
        ("-1", "int"),
        ("0", "int"),
        ("0x00000000000A1B2C", "rowversion"),
        ("9999-12-31", "string"),
    ]:
        assert check_plausible(value, kind, now=NOW) == value  # -1 is not special: not a sentinel


def test_minimum_sentinels_can_be_allowed_separately() -> None:
    low = parse_watermark("1900-01-01", "datetime")
    assert check_plausible(low, "datetime", now=NOW, minimum_sentinels=False) == low
    end = parse_watermark("9999-12-31", "date")
    with pytest.raises(WatermarkError, match="sentinel"):
        check_plausible(end, "date", now=NOW, minimum_sentinels=False, allow_future=True)


def test_the_sentinel_list_is_one_constant_with_reasons() -> None:
    values = {s.value for s in SENTINELS}
    assert {"9999-12-31", "1900-01-01", "0001-01-01", "2999-12-31"} <= values
    assert all(s.why and s.kinds for s in SENTINELS)
    assert date.fromisoformat("9999-12-31")  # dates are ISO text


# -- the protocol: nothing is committed --------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "high"),
    [
        ("datetime", "9999-12-31"),
        ("datetime", "2999-12-31 00:00:00"),
        ("date", "9999-12-31"),
        ("datetime", "0001-01-01"),
        ("datetime", "1900-01-01"),
        ("int", 2**63 - 1),
        ("rowversion", "0xFFFFFFFFFFFFFFFF"),
    ],
)
def test_commit_refuses_a_sentinel_and_commits_nothing(rt, kind: str, high: object) -> None:
    rt.watermarks.commit(rt.watermarks.begin("acc", kind=kind), _first(kind))
    w = rt.watermarks.begin("acc")
    before = snapshot(rt, audit=False)
    with pytest.raises(WatermarkError, match="In entity `acc`: watermark value .* is a sentinel"):
        rt.watermarks.commit(w, high)
    assert rt.watermarks.current("acc") == parse_watermark(_first(kind), kind)
    assert _state_ops(rt, "acc") == ["Commit"]
    assert snapshot(rt, audit=False) == before
    refused = [
        e
        for e in rt.store.read("SyncAuditLog", {"Operation": "WatermarkCommit"})
        if e["Status"] == "Refused"
    ]
    assert len(refused) == 1  # the refusal is audited


def _first(kind: str) -> object:
    return {"datetime": T0, "date": "2025-01-15", "int": 10, "rowversion": "0xA1B2C"}[kind]


def test_commit_refuses_the_future_unless_allowed(rt) -> None:
    future = datetime.now(timezone.utc) + timedelta(days=3)
    w = rt.watermarks.begin("acc", kind="datetime")
    with pytest.raises(WatermarkError, match="is in the future"):
        rt.watermarks.commit(w, future)
    assert rt.watermarks.current("acc") is None and _state_ops(rt, "acc") == []
    with pytest.raises(ConfigError, match="allow_future"):
        rt.watermarks.commit(w, future, allow_future="yes")
    stored = rt.watermarks.commit(w, future, allow_future="true")
    assert stored == parse_watermark(future, "datetime")
    # the next window starts there: begin refuses a stored future value unless allowed too
    with pytest.raises(WatermarkError, match="the stored watermark .* is in the future"):
        rt.watermarks.begin("acc")
    assert rt.watermarks.begin("acc", allow_future=True).low == stored


def test_commit_with_allow_sentinel_is_explicit(rt) -> None:
    w = rt.watermarks.begin("acc", kind="date")
    assert rt.watermarks.commit(w, "9999-12-31", allow_sentinel=True, allow_future=True) == (
        "9999-12-31"
    )
    with pytest.raises(WatermarkError, match="the stored watermark '9999-12-31' is a sentinel"):
        rt.watermarks.begin("acc", allow_future=True)  # old rows like this are caught at begin


def test_a_stored_sentinel_from_before_the_fix_is_refused_at_begin(rt) -> None:
    # a 9999-12-31 committed by an older version: every later load would copy nothing
    row = {
        "EventId": "e1",
        "EntityId": "acc",
        "Kind": "datetime",
        "Operation": "Commit",
        "Value": parse_watermark("9999-12-31", "datetime"),
        "RunId": "old-run",
        "EventTime": datetime(2025, 1, 1, tzinfo=timezone.utc),
    }
    rt.store.append("Watermarks", [row])
    before = snapshot(rt, audit=False)
    with pytest.raises(WatermarkError, match="stored watermark .* sentinel") as exc:
        rt.watermarks.begin("acc")
    assert "reset" in str(exc.value)
    assert snapshot(rt, audit=False) == before
    # the way out: an audited reset (a minimum sentinel is the usual "load everything again")
    assert rt.watermarks.reset("acc", "1900-01-01", reason="clear the sentinel")
    assert rt.watermarks.begin("acc").low == "1900-01-01T00:00:00.000000+00:00"


def test_reset_refuses_end_sentinels_and_the_future(rt) -> None:
    rt.watermarks.commit(rt.watermarks.begin("acc", kind="date"), "2025-01-15")
    before = snapshot(rt, audit=False)
    with pytest.raises(WatermarkError, match="sentinel"):
        rt.watermarks.reset("acc", "9999-12-31", reason="oops")
    with pytest.raises(WatermarkError, match="future"):
        rt.watermarks.reset("acc", "2999-01-01", reason="oops")
    assert snapshot(rt, audit=False) == before
    assert rt.watermarks.current("acc") == "2025-01-15"
    assert rt.watermarks.reset("acc", None, reason="full reload") is None


def test_begin_refuses_an_absurd_initial_but_takes_a_minimum(rt) -> None:
    before = snapshot(rt, audit=False)
    for bad in ("9999-12-31", "2999-12-31"):
        with pytest.raises(WatermarkError):
            rt.watermarks.begin("acc", kind="date", initial=bad)
    assert snapshot(rt, audit=False) == before  # not even a Begin event
    assert rt.watermarks.begin("acc", kind="date", initial="1900-01-01").low == "1900-01-01"


def test_recovery_never_trusts_a_sentinel_proposal(rt) -> None:
    from fmd_runtime.engine import Column

    rt.engine.create(rt.table("bronze.acc"), [Column(name="Id", type="bigint")])
    w = rt.watermarks.begin("acc", kind="int", table="bronze.acc")
    rt.runs.write(
        "acc",
        "bronze.acc",
        pa.table({"Id": pa.array([1], pa.int64())}),
        watermark=str(2**63 - 1),
        layer="bronze",
    )
    rt.close()  # the run dies before commit
    nxt = fmd.connect(lakehouse=rt.engine.root, run_id="run-2")
    w = nxt.watermarks.begin("acc")
    assert w.recovered is None and w.low is None  # loaded again rather than stopped forever
    nxt.close()


# -- argument types --------------------------------------------------------------------------
def test_wrong_argument_types_raise_fmd_errors_naming_the_parameter(rt) -> None:
    w = rt.watermarks.begin("acc", kind="int")
    before, unaudited = snapshot(rt), snapshot(rt, audit=False)
    cases = [
        (lambda: rt.watermarks.commit("w", 5), ConfigError, "'window'"),
        (lambda: rt.watermarks.commit(w, 5, table_version="v1"), ConfigError, "'table_version'"),
        (lambda: rt.watermarks.commit(w, 5, table_version=-1), ConfigError, "'table_version'"),
        (lambda: rt.watermarks.begin("acc", table=5), InvalidIdentifierError, "'table'"),
        (
            lambda: rt.watermarks.begin("acc", table="other.bronze.acc"),
            InvalidIdentifierError,
            "names lakehouse 'other'",
        ),
        (lambda: rt.watermarks.begin("acc", layer=3), ConfigError, "'layer'"),
        (lambda: rt.watermarks.begin("acc", inclusive="yes"), ConfigError, "'inclusive'"),
        (lambda: rt.watermarks.begin("acc", recover=None), ConfigError, "'recover'"),
        (lambda: rt.watermarks.migrate(dry_run="no"), ConfigError, "'dry_run'"),
        (lambda: rt.watermarks.migrate(entities=5), ConfigError, "'entities'"),
        (lambda: rt.watermarks.migrate(source_tz=5), ConfigError, "'source_tz'"),
        (
            lambda: rt.watermarks.invalidate_after("bronze.acc", "2025-01-01", by_run_id="r"),
            ConfigError,
            "'after'",
        ),
        (
            lambda: rt.watermarks.invalidate_after("bronze.acc", NOW, by_run_id=None),
            ConfigError,
            "'by_run_id'",
        ),
        (lambda: rt.watermarks.high_from([1, 2], "Id", "int"), ConfigError, "'data'"),
        (lambda: w.predicate(5), InvalidIdentifierError, "watermark column 5"),
        (lambda: w.predicate("Id", dialect="mysql"), ConfigError, "dialect"),
    ]
    for call, error, text in cases:
        with pytest.raises(error, match=text):
            call()
    assert snapshot(rt) == before  # not even an audit event: argument errors are the caller's
    assert _state_ops(rt, "acc") == []
    with pytest.raises(WatermarkError, match="entity id None"):
        rt.watermarks.begin(None)  # a WatermarkError refusal: audited, nothing else written
    assert snapshot(rt, audit=False) == unaudited


def test_a_bad_lookback_is_refused_on_the_first_load_too(rt) -> None:
    with pytest.raises(WatermarkError, match="non-negative timedelta"):
        rt.watermarks.begin("acc", kind="datetime", lookback="15 minutes")
    with pytest.raises(WatermarkError, match="days is out of bounds"):
        rt.watermarks.begin("acc", kind="date", lookback=10**12)  # was an OverflowError
    w = rt.watermarks.begin("acc", kind="date", lookback=3650)
    assert isinstance(w, Window) and w.is_first_load
