"""The begin/commit protocol, reset, migration and rollback invalidation on a real metadata store."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pytest

import fmd_runtime as fmd
from fmd_runtime import WatermarkError
from fmd_runtime.cli import main as cli_main
from fmd_runtime.engine import Column
from fmd_runtime.watermarks._rows import read_rows

T0 = "2025-01-15T02:30:00.000000+00:00"
T1 = "2025-01-16T02:30:00.000000+00:00"


def _events(rt, entity: str | None = None, op: str | None = None) -> list[dict]:
    """The entity's watermark events: the Watermarks table's and those on ledger rows."""
    rt.store.flush()
    where = {k: v for k, v in {"EntityId": entity, "Operation": op}.items() if v}
    return read_rows(rt, **where)


def _audit(rt, operation: str) -> list[dict]:
    rt.audit.flush()
    return rt.store.read("SyncAuditLog", {"Operation": operation}, order_by="EventTime")


def _other_run(lakehouse, run_id: str = "run-2"):
    return fmd.connect(
        lakehouse=lakehouse, run_id=run_id, pipeline_run_id=run_id, triggered_by="pytest"
    )


def test_first_load_then_commit_advances(rt) -> None:
    w = rt.watermarks.begin("acc", kind="datetime", layer="bronze")
    assert w.low is None and w.is_first_load and w.predicate("ModifiedOn") == "1 = 1"
    assert rt.watermarks.current("acc") is None
    assert rt.watermarks.commit(w, "2025-01-15 02:30:00", table_version=3) == T0
    st = rt.watermarks.state("acc")
    assert (st.value, st.kind, st.operation, st.run_id, st.table_version) == (
        T0,
        "datetime",
        "Commit",
        "test-run",
        3,
    )
    ops = [e["Operation"] for e in _events(rt, "acc")]
    assert ops == ["Commit"]  # the attempt itself is audited (WatermarkBegin), not stored
    assert len(_audit(rt, "WatermarkBegin")) == 1
    details = json.loads(_audit(rt, "WatermarkCommit")[-1]["Details"])
    assert details["from"] is None and details["to"] == T0


def test_commit_only_forward_and_reset_is_the_audited_way_back(rt, lakehouse) -> None:
    rt.watermarks.commit(rt.watermarks.begin("acc", kind="datetime"), T1)
    rt2 = _other_run(lakehouse)
    w = rt2.watermarks.begin("acc")
    assert w.low == T1 and w.kind == "datetime"
    with pytest.raises(WatermarkError, match="backwards from 2025-01-16.* What to do: .*reset"):
        rt2.watermarks.commit(w, T0)
    assert rt2.watermarks.current("acc") == T1
    assert _audit(rt2, "WatermarkCommit")[-1]["Status"] == "Failed"
    with pytest.raises(WatermarkError, match="needs a reason"):
        rt2.watermarks.reset("acc", T0, "  ")
    assert rt2.watermarks.reset("acc", "2025-01-15 02:30:00", reason="re-load the 15th") == T0
    assert rt2.watermarks.current("acc") == T0
    reset = _audit(rt2, "WatermarkReset")[-1]
    assert (
        reset["Severity"] == "MEDIUM"
        and json.loads(reset["Details"])["reason"] == "re-load the 15th"
    )
    rt2.close()


def test_same_run_commits_once(rt) -> None:
    w = rt.watermarks.begin("acc", kind="int")
    assert rt.watermarks.commit(w, 10) == "10"
    assert rt.watermarks.commit(w, 20) == "10"  # a second commit of the same run is a no-op
    assert [e["Value"] for e in _events(rt, "acc", "Commit")] == ["10"]
    assert (
        json.loads(_audit(rt, "WatermarkCommit")[-1]["Details"])["reason"]
        == "already committed by this run"
    )


def test_failure_between_begin_and_commit_leaves_the_value(rt, lakehouse) -> None:
    rt.watermarks.commit(rt.watermarks.begin("acc", kind="rowversion"), "0xA1B2C")
    rt.close()
    rt2 = _other_run(lakehouse)
    w = rt2.watermarks.begin("acc")
    with pytest.raises(RuntimeError):
        try:
            raise RuntimeError("copy failed")
        finally:
            rt2.close()  # the attempt audited, nothing committed
    assert rt2.watermarks.current("acc") == "0x00000000000A1B2C"
    assert w.predicate("RowVersion") == "[RowVersion] > 0x00000000000A1B2C"
    assert [e["Operation"] for e in _events(rt2, "acc")] == ["Commit"]
    assert len(_audit(rt2, "WatermarkBegin")) == 2


def test_no_rows_copied_keeps_the_value(rt) -> None:
    w = rt.watermarks.begin("acc", kind="int", initial=5)
    assert w.low == "5" and w.predicate("Id") == "[Id] > 5"
    assert rt.watermarks.commit(w, None) is None  # initial is not stored until a commit
    assert _audit(rt, "WatermarkCommit")[-1]["Status"] == "Skipped"


def test_kind_resolution(rt) -> None:
    with pytest.raises(WatermarkError, match="no watermark kind is known"):
        rt.watermarks.begin("acc")
    rt.configure_table("bronze.acc", watermark_column="ModifiedOn", watermark_kind="date")
    w = rt.watermarks.begin("acc", table="bronze.acc")
    assert w.kind == "date" and w.table == "bronze.acc"
    rt.watermarks.commit(w, "20250115")
    with pytest.raises(
        WatermarkError, match="stored watermark is a date watermark, begin asked for int"
    ):
        rt.watermarks.begin("acc", kind="int")
    rt.watermarks.reset("acc", 7, reason="cursor changed to an id", kind="int")
    assert rt.watermarks.begin("acc").kind == "int"


def test_lookback_and_inclusive(rt) -> None:
    rt.watermarks.commit(rt.watermarks.begin("dt", kind="datetime"), T1)
    rt.watermarks.commit(rt.watermarks.begin("n", kind="int"), 100)
    rt.watermarks.commit(rt.watermarks.begin("d", kind="date"), "2025-01-15")
    rt.watermarks.commit(rt.watermarks.begin("s", kind="string"), "K-9")
    w = rt.watermarks.begin("dt", lookback=timedelta(hours=1))
    assert (w.low, w.effective_low, w.inclusive) == (T1, "2025-01-16T01:30:00.000000+00:00", True)
    assert rt.watermarks.begin("n", lookback=10).predicate("Id") == "[Id] >= 90"
    assert rt.watermarks.begin("d", lookback=2).effective_low == "2025-01-13"
    assert rt.watermarks.begin("n", inclusive=True).predicate("Id") == "[Id] >= 100"
    with pytest.raises(WatermarkError, match="cannot look back"):
        rt.watermarks.begin("s", lookback=1)
    with pytest.raises(WatermarkError, match="non-negative"):
        rt.watermarks.begin("n", lookback=-1)


def test_invalid_entity_and_initial(rt) -> None:
    with pytest.raises(WatermarkError, match="entity id"):
        rt.watermarks.begin("", kind="int")
    with pytest.raises(WatermarkError, match="In entity `acc`.*'yesterday'"):
        rt.watermarks.begin("acc", kind="datetime", initial="yesterday")


# -- migration --------------------------------------------------------------------------------
LEGACY = {
    # entity: (kind, stored legacy value, canonical)
    "space": ("datetime", "2025-01-15 02:30:00", T0),
    "dotnet": ("datetime", "/Date(1736908200000)/", T0),
    "local": ("datetime", "2025-01-15 03:30:00", T0),  # Amsterdam wall time
    "shorthex": ("rowversion", "0xa1b2c", "0x00000000000A1B2C"),
    "compact": ("date", "20250115", "2025-01-15"),
    "already": ("int", "42", "42"),
}
MALFORMED = {"usdate": ("datetime", "01/15/2025 02:30"), "nohex": ("rowversion", "A1B2C")}


def _write_legacy(rt) -> None:
    now = datetime(2024, 12, 1, tzinfo=timezone.utc)
    rows = [
        {
            "EntityId": e,
            "Kind": k.upper() if e == "compact" else k,
            "Operation": "Commit",
            "Value": v,
            "RunId": "old-framework",
            "EventTime": now,
        }
        for e, (k, v, *_) in {**LEGACY, **MALFORMED}.items()
    ]
    rt.store.append("Watermarks", rows)  # rows as older code wrote them: no EventId, legacy values


def test_migrate_normalizes_five_legacy_formats_and_refuses_two_by_name(
    rt, lakehouse, capsys
) -> None:
    _write_legacy(rt)
    tz = {"local": "Europe/Amsterdam"}
    report = rt.watermarks.migrate(source_tz=tz)
    assert report.dry_run and not report.ok
    assert {c.entity: (c.old, c.new) for c in report.changes} == {
        e: (v, c) for e, (_, v, c) in LEGACY.items() if e != "already"
    }
    assert report.unchanged == 1
    assert sorted(r.entity for r in report.refused) == ["nohex", "usdate"]
    assert "expected 0x" in next(r.error for r in report.refused if r.entity == "nohex")
    assert rt.watermarks.current("space") == "2025-01-15 02:30:00"  # dry run wrote nothing
    assert _audit(rt, "WatermarkMigrate")[0]["DryRun"] is True

    applied = rt.watermarks.migrate(dry_run=False, source_tz=tz)
    assert len(applied.changes) == 5
    for entity, (_, _, canonical) in LEGACY.items():
        assert rt.watermarks.current(entity) == canonical
    assert rt.watermarks.current("usdate") == "01/15/2025 02:30"  # refused values stay as they are
    assert len(_events(rt, op="Migrate")) == 5
    again = rt.watermarks.migrate(source_tz=tz)
    assert not again.changes and again.unchanged == 6

    # begin reads a legacy value it can parse, and names the fix for one it cannot
    with pytest.raises(WatermarkError, match="fmd watermarks migrate"):
        rt.watermarks.begin("usdate")
    rt.close()

    code = cli_main(["watermarks", "migrate", "--lakehouse", str(lakehouse)])
    out = capsys.readouterr().out
    assert code == 1 and "refused: entity 'nohex'" in out and "refused: entity 'usdate'" in out
    assert cli_main(["watermarks", "show", "--lakehouse", str(lakehouse), "--entity", "space"]) == 0
    assert T0 in capsys.readouterr().out


def test_cli_migrate_apply_and_reset(rt, lakehouse, capsys) -> None:
    rt.store.append(
        "Watermarks",
        [
            {
                "EntityId": "a",
                "Kind": "int",
                "Operation": "Commit",
                "Value": "+7",
                "RunId": "old",
                "EventTime": datetime(2024, 1, 1, tzinfo=timezone.utc),
            }
        ],
    )
    rt.close()
    assert cli_main(["watermarks", "migrate", "--apply", "--lakehouse", str(lakehouse)]) == 0
    assert "changed 1, refused 0" in capsys.readouterr().out
    assert (
        cli_main(
            ["watermarks", "reset", "--entity", "a", "--value", "3", "--lakehouse", str(lakehouse)]
        )
        == 2
    )
    args = [
        "watermarks",
        "reset",
        "--entity",
        "a",
        "--value",
        "3",
        "--reason",
        "replay",
        "--lakehouse",
        str(lakehouse),
    ]
    assert cli_main(args) == 0
    rt2 = _other_run(lakehouse)
    assert rt2.watermarks.current("a") == "3"
    rt2.close()


# -- rollback invalidation ----------------------------------------------------------------------
def test_invalidate_after_rewinds_to_the_value_committed_at_that_point(rt, lakehouse) -> None:
    ref = rt.table("bronze.acc")
    rt.engine.create(ref, [Column(name="Id", type="bigint")])
    values = []
    for i, run in enumerate(["r1", "r2", "r3"]):
        r = _other_run(lakehouse, run)
        w = r.watermarks.begin("acc", kind="int", table="bronze.acc", layer="bronze")
        res = r.runs.write(
            "acc",
            "bronze.acc",
            pa.table({"Id": pa.array([i], pa.int64())}),
            layer="bronze",
            watermark=str(i * 10),
        )
        values.append(res.version)
        r.watermarks.commit(w, i * 10, table_version=res.version)
        r.close()
    after = rt.runs.version_times("bronze.acc")[values[0]]
    rt.engine.restore(ref, values[0])
    out = rt.watermarks.invalidate_after("bronze.acc", after, by_run_id="rollback-1")
    assert out == [
        {
            "entity": "acc",
            "table": "bronze.acc",
            "kind": "int",
            "from": "20",
            "to": "0",
            "invalidated_events": 2,
        }
    ]
    assert rt.watermarks.current("acc") == "0"
    commits = _events(rt, "acc", "Commit")
    assert [(c["Value"], c["Invalidated"]) for c in commits] == [
        ("0", None),
        ("10", True),
        ("20", True),
    ]
    reset = _events(rt, "acc", "RollbackReset")[-1]
    assert reset["RunId"] == "rollback-1" and "rolled back" in reset["Reason"]
    assert _audit(rt, "WatermarkRollbackReset")[-1]["Severity"] == "MEDIUM"
    # nothing later than the point: a second call changes nothing
    assert rt.watermarks.invalidate_after("bronze.acc", after, by_run_id="rollback-1") == []
    # the rolled-back commits are in the history but are never recovered
    assert rt.watermarks.recover("acc") is None and rt.watermarks.current("acc") == "0"


def test_invalidate_before_any_commit_means_first_load_again(rt, lakehouse) -> None:
    rt.engine.create(rt.table("bronze.acc"), [Column(name="Id", type="bigint")])
    w = rt.watermarks.begin("acc", kind="int", table="bronze.acc")
    rt.watermarks.commit(w, 5)
    out = rt.watermarks.invalidate_after("bronze.acc", datetime(2000, 1, 1), by_run_id="rb")
    assert out[0]["to"] is None and rt.watermarks.current("acc") is None
    assert rt.watermarks.begin("acc").is_first_load


def test_refusals_are_audited(rt) -> None:
    with pytest.raises(WatermarkError):
        rt.watermarks.begin("acc", kind="datetime", initial="01/15/2025")
    with pytest.raises(WatermarkError):
        rt.watermarks.reset("acc", "x", reason="")
    w = rt.watermarks.begin("acc", kind="int")
    with pytest.raises(WatermarkError):
        rt.watermarks.commit(w, "ten")
    refused = [
        (e["Operation"], e["EntityId"])
        for e in _audit(rt, "WatermarkBegin")
        + _audit(rt, "WatermarkReset")
        + _audit(rt, "WatermarkCommit")
        if e["Status"] == "Refused"
    ]
    assert refused == [
        ("WatermarkBegin", "acc"),
        ("WatermarkReset", "acc"),
        ("WatermarkCommit", "acc"),
    ]
    rt.watermarks.commit(w, 10)
    rt2 = fmd.connect(lakehouse=rt.engine.root, run_id="r9")
    with pytest.raises(WatermarkError):
        rt2.watermarks.commit(rt2.watermarks.begin("acc"), 5)
    statuses = [e["Status"] for e in _audit(rt2, "WatermarkCommit") if e["RunId"] == "r9"]
    assert statuses == ["Failed"]  # audited once, with the stored and asked values
    rt2.close()
