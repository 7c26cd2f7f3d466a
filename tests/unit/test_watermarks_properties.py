"""Property-based tests: parse/format round trips and order preservation for every kind."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from fmd_runtime.watermarks import parse_watermark, to_native

settings.register_profile("fmd", max_examples=200, deadline=None)
settings.load_profile("fmd")

UTC = timezone.utc
instants = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m))
)
dates = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
rowversions = st.integers(min_value=0, max_value=2**64 - 1)
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=60)


def _fixed_point(canonical: str, kind: str) -> None:
    assert parse_watermark(canonical, kind) == canonical


@given(instants)
def test_datetime_canonical_is_a_fixed_point_and_keeps_the_instant(dt: datetime) -> None:
    canonical = parse_watermark(dt, "datetime")
    _fixed_point(canonical, "datetime")
    assert to_native(canonical, "datetime") == dt
    assert len(canonical) == 32 and canonical.endswith("+00:00")


@given(instants, offsets)
def test_datetime_legacy_text_forms_round_trip(dt: datetime, tz: timezone) -> None:
    canonical = parse_watermark(dt, "datetime")
    naive_utc = dt.replace(tzinfo=None)
    assert parse_watermark(naive_utc.isoformat(sep=" "), "datetime") == canonical
    assert parse_watermark(naive_utc.isoformat() + "Z", "datetime") == canonical
    try:
        shifted = dt.astimezone(tz)
    except OverflowError:
        return  # the same instant is not representable in that offset near year 1 / 9999
    assert parse_watermark(shifted.isoformat(), "datetime") == canonical


@given(st.integers(min_value=-62_135_596_800_000, max_value=253_402_300_799_999))
def test_dotnet_json_dates_round_trip(ms: int) -> None:
    canonical = parse_watermark(f"/Date({ms})/", "datetime")
    _fixed_point(canonical, "datetime")
    native = to_native(canonical, "datetime")
    assert (native - datetime(1970, 1, 1, tzinfo=UTC)) == timedelta(milliseconds=ms)


def test_dotnet_json_dates_outside_years_1_to_9999_are_refused() -> None:
    import pytest

    from fmd_runtime import WatermarkError

    with pytest.raises(WatermarkError, match="out of range"):
        parse_watermark("/Date(-62135596800001)/", "datetime")


@given(dates)
def test_date_round_trips(d: date) -> None:
    canonical = parse_watermark(d, "date")
    _fixed_point(canonical, "date")
    assert (
        parse_watermark(d.strftime("%Y%m%d") if d.year >= 1000 else canonical, "date") == canonical
    )
    assert to_native(canonical, "date") == d


@given(ints)
def test_int_round_trips(n: int) -> None:
    canonical = parse_watermark(n, "int")
    _fixed_point(canonical, "int")
    assert parse_watermark(str(n), "int") == canonical and to_native(canonical, "int") == n


@given(rowversions)
def test_rowversion_round_trips_through_every_form(n: int) -> None:
    canonical = parse_watermark(n, "rowversion")
    _fixed_point(canonical, "rowversion")
    assert parse_watermark(n.to_bytes(8, "big"), "rowversion") == canonical
    assert parse_watermark(hex(n), "rowversion") == canonical
    assert parse_watermark(f"0x{n:x}".upper().replace("0X", "0x"), "rowversion") == canonical
    assert to_native(canonical, "rowversion") == n


@given(texts)
def test_declared_strings_are_kept_as_they_are(s: str) -> None:
    assert parse_watermark(s, "string") == s


@given(instants, instants)
def test_datetime_order_is_preserved_natively_and_as_text(a: datetime, b: datetime) -> None:
    ca, cb = parse_watermark(a, "datetime"), parse_watermark(b, "datetime")
    assert (a < b) == (to_native(ca, "datetime") < to_native(cb, "datetime")) == (ca < cb)


@given(dates, dates)
def test_date_order_is_preserved(a: date, b: date) -> None:
    ca, cb = parse_watermark(a, "date"), parse_watermark(b, "date")
    assert (a < b) == (to_native(ca, "date") < to_native(cb, "date")) == (ca < cb)


@given(ints, ints)
def test_int_order_is_preserved(a: int, b: int) -> None:
    ca, cb = parse_watermark(a, "int"), parse_watermark(b, "int")
    assert (a < b) == (to_native(ca, "int") < to_native(cb, "int"))


@given(rowversions, rowversions)
def test_rowversion_order_is_preserved_natively_and_as_text(a: int, b: int) -> None:
    ca, cb = parse_watermark(a, "rowversion"), parse_watermark(b, "rowversion")
    # SQL Server compares rowversion as unsigned 8-byte binary: the same order as the integers
    assert (a < b) == (to_native(ca, "rowversion") < to_native(cb, "rowversion")) == (ca < cb)
    assert (a < b) == (a.to_bytes(8, "big") < b.to_bytes(8, "big"))


@given(instants, instants)
def test_comparing_parsed_high_values_matches_comparing_the_data(a: datetime, b: datetime) -> None:
    # what commit() does: parse the high value, compare natively with the stored one
    ca, cb = (
        parse_watermark(a.replace(tzinfo=None).isoformat(sep=" "), "datetime"),
        parse_watermark(b, "datetime"),
    )
    assert (to_native(ca, "datetime") >= to_native(cb, "datetime")) == (a >= b)
