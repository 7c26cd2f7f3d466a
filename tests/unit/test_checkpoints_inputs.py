"""Checkpoint arguments are refused for every kind before anything is written; only runtime
failures are swallowed by Daily/DailyBatch, with a warning; a checkpoint of no table is never
recorded, and old ones are never shown as restore points (issue 11)."""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime, timedelta, timezone

import pyarrow as pa
import pytest
from written import snapshot

from fmd_runtime import CheckpointError, ConfigError, InvalidIdentifierError
from fmd_runtime.checkpoints import ValidationCheck, render_table
from fmd_runtime.engine import Column


def _table(rt, name: str = "bronze.acc") -> None:
    ref = rt.table(name)
    rt.engine.create(ref, [Column(name="Id", type="bigint")])
    rt.engine.write(ref, pa.table({"Id": pa.array([1, 2, 3], pa.int64())}), mode="append")


BAD_CREATE = [
    ({"tables": 123}, ConfigError, "parameter 'tables' must be table names, got 123"),
    ({"tables": {"bronze.acc": 1}}, ConfigError, "parameter 'tables'"),
    ({"tables": []}, ConfigError, "parameter 'tables' names no table"),
    ({"tables": " , "}, ConfigError, "parameter 'tables' names no table"),
    ({"tables": [5]}, InvalidIdentifierError, "parameter 'tables' must be a table name"),
    ({"tables": ["bronze.acc-ount"]}, InvalidIdentifierError, "table part"),
    ({"tables": "bronze.acc,x;drop"}, InvalidIdentifierError, "table part"),
    ({"tables": "bad-schema.*"}, InvalidIdentifierError, "schema or layer"),
    ({"tables": "lh2.bronze.acc"}, InvalidIdentifierError, "names lakehouse 'lh2'"),
    ({"name": 5}, ConfigError, "parameter 'name'"),
    ({"name": "no spaces please"}, ConfigError, "parameter 'name'"),
    ({"kind": "Weekly"}, ConfigError, "parameter 'kind'"),
    ({"kind": None}, ConfigError, "parameter 'kind'"),
    ({"retention_days": 3_000_000}, ConfigError, "'retention_days' is out of bounds"),
    ({"retention_days": 10**9}, ConfigError, "between 1 and 3650 days"),
    ({"retention_days": 0}, ConfigError, "'retention_days' is out of bounds"),
    ({"retention_days": "week"}, ConfigError, "'retention_days' must be a number"),
    ({"retention_days": True}, ConfigError, "'retention_days' must be a number"),
    ({"notes": 5}, ConfigError, "parameter 'notes'"),
    ({"parent_checkpoint_id": 7}, ConfigError, "parameter 'parent_checkpoint_id'"),
    ({"protect_retention": "nope"}, ConfigError, "'protect_retention'"),
]


@pytest.mark.parametrize("kind", ["DailyBatch", "Manual"])
@pytest.mark.parametrize(("kwargs", "error", "text"), BAD_CREATE)
def test_invalid_arguments_raise_for_every_kind_and_write_nothing(
    rt, kind: str, kwargs: dict[str, object], error: type, text: str
) -> None:
    _table(rt)
    before = snapshot(rt)
    args = {"tables": ["bronze.acc"], "kind": kind, **kwargs}
    with pytest.raises(error, match=text):
        rt.checkpoints.create(**args)  # never None: a DailyBatch does not swallow these
    assert snapshot(rt) == before  # no table version, no metadata row, no audit event


def test_a_scope_that_matches_no_configured_table_raises_for_a_daily_batch(rt) -> None:
    _table(rt)
    before = snapshot(rt)
    with pytest.raises(CheckpointError, match="no enabled table in PipelineConfig matches 'x.\\*'"):
        rt.checkpoints.create("x.*")
    with pytest.raises(CheckpointError, match="matches 'the pipeline'"):
        rt.checkpoints.create(None, kind="Daily")
    assert snapshot(rt) == before


def test_a_comma_separated_string_is_a_list_of_tables(rt) -> None:
    _table(rt, "bronze.a")
    _table(rt, "bronze.b")
    cp = rt.checkpoints.create(" bronze.a, bronze.b ,", kind="Manual")
    assert cp is not None and [t.table for t in cp.tables] == ["bronze.a", "bronze.b"]
    assert cp.scope == "bronze.a,bronze.b"


def test_a_runtime_failure_is_swallowed_with_a_warning_and_no_empty_checkpoint(
    rt, caplog: pytest.LogCaptureFixture
) -> None:
    before = snapshot(rt, audit=False)
    with caplog.at_level(logging.WARNING, logger="fmd_runtime.checkpoints"):
        assert rt.checkpoints.create(["bronze.gone"]) is None  # DailyBatch: never fails the sync
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "DailyBatch checkpoint of bronze.gone was NOT created" in warned[0]
    assert "nothing to checkpoint" in warned[0]
    assert snapshot(rt, audit=False) == before  # no header of 0 tables
    failed = rt.store.read("SyncAuditLog", {"Operation": "CheckpointCreated"})
    assert [e["Status"] for e in failed] == ["Failed"]
    with pytest.raises(CheckpointError, match="no table of bronze.gone could be read"):
        rt.checkpoints.create(["bronze.gone"], kind="Manual")
    assert rt.store.read("CheckpointHistory") == []


def _old_header(rt, *, tables_included: int, pinned: int) -> str:
    """A checkpoint as an older version could write it (0 tables, listed Restorable)."""
    cp_id = str(uuid.uuid4())
    now = datetime.now(timezone.utc)
    rt.store.append(
        "CheckpointHistory",
        [
            {
                "CheckpointId": cp_id,
                "CheckpointName": f"old_{tables_included}_{pinned}",
                "CheckpointType": "DailyBatch",
                "CreatedDate": now,
                "TablesIncluded": tables_included,
                "TotalRows": 0,
                "ValidationStatus": "Validated",
                "RetentionDate": date.today() + timedelta(days=7),
                "IsActive": True,
                "RestorabilityStatus": "Restorable",
                "MarkedForDeletion": False,
            }
        ],
    )
    if pinned:
        good = rt.checkpoints.create(["bronze.acc"], kind="Manual")
        rows = rt.store.read("CheckpointTables", {"CheckpointId": good.checkpoint_id})
        rt.store.append("CheckpointTables", [{**r, "CheckpointId": cp_id} for r in rows])
    return cp_id


@pytest.mark.parametrize(("included", "pinned", "why"), [(0, 0, "pins no table"), (2, 1, "pins 1")])
def test_old_empty_or_partial_checkpoints_are_never_shown_restorable(
    rt, included: int, pinned: int, why: str
) -> None:
    _table(rt)
    cp_id = _old_header(rt, tables_included=included, pinned=pinned)
    cp = next(c for c in rt.checkpoints.list() if c.checkpoint_id == cp_id)
    assert (cp.validation_status, cp.restorability_status) == ("Invalid", "Unrestorable")
    assert why in (cp.problem or "") and not cp.is_restore_target
    line = next(x for x in render_table([cp]).splitlines() if cp.checkpoint_name in x)
    assert "Invalid" in line and "Unrestorable" in line and "Restorable " not in line
    result = rt.checkpoints.verify(cp.checkpoint_name)
    assert result.status == "Unrestorable" and why in (result.reason or "")
    assert why in result.to_text()
    header = rt.store.read("CheckpointHistory", {"CheckpointId": cp_id})[0]
    assert header["RestorabilityStatus"] == "Unrestorable"
    checks = rt.store.read("DataValidation", {"CheckpointId": cp_id, "CheckName": "PinsItsTables"})
    assert len(checks) == 1 and checks[0]["ValidationPassed"] is False


def test_reading_methods_check_their_argument_types(rt) -> None:
    _table(rt)
    cp = rt.checkpoints.create(["bronze.acc"], kind="Manual")
    before = snapshot(rt)
    cases = [
        (lambda: rt.checkpoints.get(None), ConfigError, "'name_or_id'"),
        (lambda: rt.checkpoints.get(5), ConfigError, "'name_or_id'"),
        (lambda: rt.checkpoints.verify(None), ConfigError, "'name_or_id'"),
        (lambda: rt.checkpoints.mark_for_deletion(""), ConfigError, "'name_or_id'"),
        (
            lambda: rt.checkpoints.mark_for_deletion(cp.checkpoint_name, reason=5),
            ConfigError,
            "'reason'",
        ),
        (lambda: rt.checkpoints.list(kind="Weekly"), ConfigError, "'kind'"),
        (lambda: rt.checkpoints.list(table=5), InvalidIdentifierError, "'table'"),
        (lambda: rt.checkpoints.list(since="notadate"), ConfigError, "'since'"),
        (lambda: rt.checkpoints.list(since=5), ConfigError, "'since'"),
        (lambda: rt.checkpoints.enforce_retention(today="tomorrow"), ConfigError, "'today'"),
        (lambda: rt.checkpoints.measure("bronze.acc", -1), ConfigError, "'version'"),
        (lambda: rt.checkpoints.measure("bronze.acc", "v2"), ConfigError, "'version'"),
        (lambda: rt.checkpoints.measure("bronze.acc", config={}), ConfigError, "'config'"),
        (lambda: rt.checkpoints.measure(None), InvalidIdentifierError, "'table'"),
        (lambda: rt.checkpoints.record_validations("ctx", "checks"), ConfigError, "'checks'"),
        (lambda: rt.checkpoints.record_validations(None, []), ConfigError, "'context'"),
        (
            lambda: rt.checkpoints.record_validations("c", [], checkpoint_id=5),
            ConfigError,
            "'checkpoint_id'",
        ),
        (lambda: cp.table(None), ConfigError, "'name'"),
    ]
    for call, error, text in cases:
        with pytest.raises(error, match=text):
            call()
    assert snapshot(rt) == before
    assert [c.checkpoint_name for c in rt.checkpoints.list(since=str(date.today()))] == [
        cp.checkpoint_name
    ]
    check = ValidationCheck(table="bronze.acc", check_name="X", passed=True)
    rt.checkpoints.record_validations("ctx", [check])
    assert len(rt.store.read("DataValidation", {"Context": "ctx"})) == 1
