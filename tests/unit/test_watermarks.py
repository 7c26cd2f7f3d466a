"""Watermark kinds: canonical forms, accepted legacy forms, refusals, SQL rendering, high values."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pytest

from fmd_runtime import InvalidIdentifierError, WatermarkError, parse_watermark
from fmd_runtime.watermarks import (
    Window,
    check_kind,
    high_from,
    is_canonical,
    render_literal,
    to_native,
)

CANON = "2025-01-15T02:30:00.000000+00:00"


@pytest.mark.parametrize(
    "value",
    [
        CANON,
        "2025-01-15 02:30:00",
        "2025-01-15T02:30:00",
        "2025-01-15T02:30",
        "2025-01-15T02:30:00Z",
        "2025-01-15t02:30:00.000z",
        "2025-01-15T03:30:00+01:00",
        "2025-01-15T03:30:00+0100",
        "2025-01-14T21:30:00-05:00",
        "/Date(1736908200000)/",
        "\\/Date(1736908200000)\\/",
        "/Date(1736908200000+0100)/",
        "  2025-01-15 02:30:00  ",
        datetime(2025, 1, 15, 2, 30),
        datetime(2025, 1, 15, 3, 30, tzinfo=timezone(timedelta(hours=1))),
    ],
)
def test_datetime_forms_all_mean_the_same_instant(value: object) -> None:
    assert parse_watermark(value, "datetime") == CANON


def test_naive_datetimes_are_wall_times_in_the_declared_source_zone() -> None:
    # Amsterdam is UTC+1 in January and UTC+2 in July.
    assert parse_watermark("2025-01-15 03:30:00", "datetime", source_tz="Europe/Amsterdam") == CANON
    summer = parse_watermark("2025-07-15 04:30:00", "datetime", source_tz="Europe/Amsterdam")
    assert summer == "2025-07-15T02:30:00.000000+00:00"
    # an explicit offset wins over the declared zone
    assert (
        parse_watermark("2025-01-15T02:30:00Z", "datetime", source_tz="Europe/Amsterdam") == CANON
    )


def test_dst_gap_is_refused_and_the_repeated_hour_takes_the_earlier_instant() -> None:
    with pytest.raises(WatermarkError, match="DST gap"):
        parse_watermark(
            "2025-03-30 02:30:00", "datetime", source_tz="Europe/Amsterdam", entity="acc"
        )
    # 02:30 happens twice on 2025-10-26 in Amsterdam: first at 00:30 UTC, then at 01:30 UTC
    earlier = parse_watermark("2025-10-26 02:30:00", "datetime", source_tz="Europe/Amsterdam")
    assert earlier == "2025-10-26T00:30:00.000000+00:00"


def test_sub_microsecond_digits_are_floored_never_rounded_up() -> None:
    assert (
        parse_watermark("2025-01-15 02:30:00.1234567", "datetime")
        == "2025-01-15T02:30:00.123456+00:00"
    )
    assert (
        parse_watermark("2025-01-15 02:30:00.9999999", "datetime")
        == "2025-01-15T02:30:00.999999+00:00"
    )


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("2025-01-15", "date", "2025-01-15"),
        ("20250115", "date", "2025-01-15"),
        ("2025-01-15 00:00:00", "date", "2025-01-15"),
        ("2025-01-15T00:00:00.000", "date", "2025-01-15"),
        (date(2025, 1, 15), "date", "2025-01-15"),
        (datetime(2025, 1, 15), "date", "2025-01-15"),
        ("12345", "int", "12345"),
        (" +12345 ", "int", "12345"),
        ("-7", "int", "-7"),
        (12345, "int", "12345"),
        (Decimal("12345"), "int", "12345"),
        (str(2**63 - 1), "int", str(2**63 - 1)),
        (str(-(2**63)), "int", str(-(2**63))),
        ("0x00000000000A1B2C", "rowversion", "0x00000000000A1B2C"),
        ("0xA1B2C", "rowversion", "0x00000000000A1B2C"),
        ("0Xa1b2c", "rowversion", "0x00000000000A1B2C"),
        (b"\x00\x00\x00\x00\x00\x0a\x1b\x2c", "rowversion", "0x00000000000A1B2C"),
        (662316, "rowversion", "0x00000000000A1B2C"),
        ("0xFFFFFFFFFFFFFFFF", "rowversion", "0xFFFFFFFFFFFFFFFF"),
        ("ACC-000123", "string", "ACC-000123"),
        ("DateTime", "DateTime", None),
    ],
)
def test_accepted_forms(value: object, kind: str, expected: str | None) -> None:
    if kind == "DateTime":  # kinds are case-insensitive
        assert check_kind(kind) == "datetime"
        return
    assert parse_watermark(value, kind) == expected


@pytest.mark.parametrize(
    ("value", "kind", "why"),
    [
        ("01/15/2025 02:30:00", "datetime", "expected UTC ISO 8601"),
        ("yesterday", "datetime", "expected UTC ISO 8601"),
        ("2025-02-30 00:00:00", "datetime", "day is out of range"),
        ("2025-01-15T02:30:00+25:00", "datetime", "offset out of range"),
        (1736908200, "datetime", "epoch numbers are ambiguous"),
        ("1736908200000", "datetime", "expected UTC ISO 8601"),
        ("2025-01-15 02:30:00", "date", "cannot carry a time of day"),
        ("2025-01-15T00:00:00Z", "date", "expected YYYY-MM-DD"),
        (datetime(2025, 1, 15, 1), "date", "cannot carry a time of day"),
        ("12.5", "int", "expected a 64-bit integer"),
        (str(2**63), "int", "outside the 64-bit range"),
        (True, "int", "expected a 64-bit integer"),
        (1.0, "int", "expected a 64-bit integer"),
        ("A1B2C", "rowversion", "expected 0x"),
        ("662316", "rowversion", "expected 0x"),
        ("0x1FFFFFFFFFFFFFFFF", "rowversion", "expected 0x"),
        ("0xZZ", "rowversion", "expected 0x"),
        (-1, "rowversion", "unsigned 64-bit"),
        (b"", "rowversion", "0 bytes"),
        ("", "string", "non-empty"),
        ("a\nb", "string", "control characters"),
        (42, "string", "non-empty text"),
    ],
)
def test_refusals_name_entity_value_and_expected_form(value: object, kind: str, why: str) -> None:
    with pytest.raises(WatermarkError) as info:
        parse_watermark(value, kind, entity="crm.account")
    text = str(info.value)
    assert text.startswith("In entity `crm.account`: watermark value ")
    assert repr(value)[:20] in text
    assert why in text
    assert info.value.entity == "crm.account"


def test_long_values_are_truncated_in_messages() -> None:
    with pytest.raises(WatermarkError) as info:
        parse_watermark("9" * 5000, "datetime", entity="e")
    assert len(str(info.value)) < 600 and "..." in str(info.value)


def test_unknown_kind_and_missing_value_and_bad_zone_are_refused() -> None:
    with pytest.raises(WatermarkError, match="kind 'timestamp' is not supported"):
        parse_watermark("1", "timestamp")
    with pytest.raises(WatermarkError, match="no int watermark value"):
        parse_watermark(None, "int")
    with pytest.raises(WatermarkError, match="not a known IANA zone"):
        parse_watermark("2025-01-15 02:30:00", "datetime", source_tz="Mars/Olympus")


def test_to_native_and_is_canonical() -> None:
    assert to_native(CANON, "datetime") == datetime(2025, 1, 15, 2, 30, tzinfo=timezone.utc)
    assert to_native("0x0000000000000010", "rowversion") == 16
    assert is_canonical(CANON, "datetime") and not is_canonical("2025-01-15 02:30:00", "datetime")
    assert not is_canonical("garbage", "int")


# -- SQL rendering ----------------------------------------------------------------------------
def _window(kind: str, low: str | None, **kw: object) -> Window:
    return Window(entity="e", kind=kind, low=low, effective_low=low, run_id="r", **kw)  # type: ignore[arg-type]


def test_tsql_predicates_render_validated_literals() -> None:
    assert (
        _window("rowversion", "0x00000000000A1B2C").predicate("RowVersion")
        == "[RowVersion] > 0x00000000000A1B2C"
    )
    assert (
        _window("datetime", CANON).predicate("ModifiedOn")
        == "[ModifiedOn] > CONVERT(datetime2, '2025-01-15T02:30:00.000000', 126)"
    )
    assert _window("date", "2025-01-15", inclusive=True).predicate("d.Day") == (
        "[d].[Day] >= CONVERT(date, '2025-01-15', 23)"
    )
    assert _window("int", "-5").predicate("Id", upper=10) == "[Id] > -5 AND [Id] <= 10"
    assert _window("string", "O'Brien").predicate("Name") == "[Name] > N'O''Brien'"
    assert _window("int", None).predicate("Id") == "1 = 1"
    assert _window("int", None).predicate("Id", upper="7") == "[Id] <= 7"


def test_tsql_datetime_is_rendered_in_the_source_zone() -> None:
    w = _window("datetime", CANON, source_tz="Europe/Amsterdam")
    assert (
        w.predicate("ModifiedOn")
        == "[ModifiedOn] > CONVERT(datetime2, '2025-01-15T03:30:00.000000', 126)"
    )


def test_spark_predicates() -> None:
    assert (
        _window("datetime", CANON).predicate("ts", dialect="spark")
        == "`ts` > TIMESTAMP '2025-01-15 02:30:00.000000+00:00'"
    )
    assert (
        _window("rowversion", "0x00000000000A1B2C").predicate("rv", dialect="spark")
        == "`rv` > X'00000000000A1B2C'"
    )
    assert (
        _window("date", "2025-01-15").predicate("d", dialect="spark") == "`d` > DATE '2025-01-15'"
    )
    assert _window("string", "a\\'b").predicate("s", dialect="spark") == "`s` > 'a\\\\\\'b'"


@pytest.mark.parametrize("column", ["Id]; DROP TABLE dbo.x; --", "a b", "", "1col", "x.[y]"])
def test_predicate_columns_are_validated(column: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        _window("int", "1").predicate(column)


def test_values_are_validated_again_before_they_reach_sql() -> None:
    # a Window built by hand with an unchecked low bound cannot smuggle SQL into the predicate
    with pytest.raises(WatermarkError):
        _window("int", "1; DROP TABLE x").predicate("Id")
    with pytest.raises(WatermarkError):
        _window("rowversion", "0x1' OR 1=1 --").predicate("rv")
    with pytest.raises(WatermarkError):
        _window("int", "1").predicate("Id", upper="2 OR 1=1")
    with pytest.raises(Exception, match="dialect"):
        render_literal("1", "int", dialect="oracle")  # type: ignore[arg-type]


def test_lookback_makes_the_window_inclusive() -> None:
    w = Window(entity="e", kind="int", low="100", effective_low="90", lookback=10, run_id="r")
    assert w.predicate("Id") == "[Id] >= 90"


# -- high values from data -------------------------------------------------------------------
def test_high_from_arrow_for_each_kind() -> None:
    utc = pa.timestamp("us", tz="UTC")
    t = pa.table(
        {
            "Ts": pa.array([datetime(2025, 1, 15, 2, 30, tzinfo=timezone.utc), None], utc),
            "Naive": pa.array(
                [datetime(2025, 1, 15, 3, 30), datetime(2025, 1, 1)], pa.timestamp("us")
            ),
            "Day": pa.array([date(2025, 1, 15), date(2024, 1, 1)]),
            "Id": pa.array(
                [
                    3,
                    9,
                ],
                pa.int64(),
            ),
            "Rv": pa.array([b"\x00" * 7 + b"\x01", b"\x00" * 5 + b"\x0a\x1b\x2c"], pa.binary(8)),
        }
    )
    assert high_from(t, "Ts", "datetime") == CANON
    assert high_from(t, "naive", "datetime", source_tz="Europe/Amsterdam") == CANON
    assert high_from(t, "Day", "date") == "2025-01-15"
    assert high_from(t, "ID", "int") == "9"
    assert high_from(t, "Rv", "rowversion") == "0x00000000000A1B2C"
    assert high_from(t.slice(0, 0), "Id", "int") is None


def test_high_from_missing_column() -> None:
    with pytest.raises(WatermarkError, match="not in the copied data"):
        high_from(pa.table({"Id": [1]}), "ModifiedOn", "datetime")
