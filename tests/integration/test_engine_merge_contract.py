"""The port's keyed MERGE (`DeltaEngine.merge`), one set of tests on every engine: each row is
classified once and the counts equal a diff of the table before and after."""

from __future__ import annotations

import uuid
from typing import Any

import pyarrow as pa
import pytest

from fmd_runtime.engine import (
    Column,
    CommitOptions,
    DeltaEngine,
    MergePreview,
    MergeSpec,
    arrow_schema,
)
from fmd_runtime.errors import ConfigError, ContractViolation
from fmd_runtime.tables import TableRef
from tests.engines import rows

COLUMNS = [
    Column(name="Id", type="bigint", nullable=False),
    Column(name="Name", type="string"),
    Column(name="City", type="string"),
    Column(name="IsDeleted", type="boolean"),
    Column(name="IsPurged", type="boolean"),
]
DATA = [c for c in COLUMNS if c.name not in {"IsDeleted", "IsPurged"}]
SNAPSHOT = MergeSpec(
    keys=("Id",), mode="snapshot", deleted_flag="IsDeleted", purged_flag="IsPurged"
)
UPSERT = SNAPSHOT.model_copy(update={"mode": "upsert"})


def fresh(engine: DeltaEngine) -> TableRef:
    t = TableRef.parse(f"m{uuid.uuid4().hex[:10]}.account")
    engine.create(t, COLUMNS)
    return t


def data(items: dict[int, tuple[str | None, str | None]]) -> pa.Table:
    ids = sorted(items)
    return pa.table(
        {
            "Id": ids,
            "Name": [items[i][0] for i in ids],
            "City": [items[i][1] for i in ids],
        },
        schema=arrow_schema(DATA),
    )


def state(engine: DeltaEngine, t: TableRef) -> dict[int, dict[str, Any]]:
    return {r["Id"]: r for r in rows(engine, t, "Id")}


def diff(before: dict[int, dict[str, Any]], after: dict[int, dict[str, Any]]) -> dict[str, int]:
    """What changed between two states, counted the way `MergeCounts` counts."""
    out = dict(inserted=0, updated=0, deleted=0, reactivated=0)
    for k, row in after.items():
        old = before.get(k)
        if old is None:
            out["inserted"] += 1
        elif old["IsDeleted"] and not row["IsDeleted"]:
            out["reactivated"] += 1
        elif not old["IsDeleted"] and row["IsDeleted"]:
            out["deleted"] += 1
        elif (old["Name"], old["City"]) != (row["Name"], row["City"]):
            out["updated"] += 1
    assert set(before) <= set(after), "a merge never removes a row"
    return out


def test_a_snapshot_merge_counts_each_row_once_and_the_counts_equal_the_diff(
    engine: DeltaEngine,
) -> None:
    t = fresh(engine)
    first = engine.merge(t, data({i: (f"n{i}", "Oslo") for i in range(10)}), SNAPSHOT)
    assert first.committed and first.counts.inserted == 10 and first.counts.active_before == 0
    before = state(engine, t)
    # 0, 1 missing (deleted); 2 renamed; 3 city to null; 4..9 unchanged; 20 new
    incoming = {i: (f"n{i}", "Oslo") for i in range(4, 10)}
    incoming |= {2: ("renamed", "Oslo"), 3: ("n3", None), 20: ("n20", "Bergen")}
    seen: list[MergePreview] = []
    res = engine.merge(t, data(incoming), SNAPSHOT, check=seen.append)
    after = state(engine, t)
    c = res.counts
    assert (c.inserted, c.updated, c.deleted, c.reactivated, c.unchanged) == (1, 2, 2, 0, 6)
    assert c.active_before == 10 and c.active_after == 9
    assert diff(before, after) == dict(inserted=1, updated=2, deleted=2, reactivated=0)
    assert (
        seen and seen[0].counts == c and sorted(k["Id"] for k in seen[0].deleted_sample) == [0, 1]
    )
    assert after[0]["IsDeleted"] and after[0]["Name"] == "n0", "soft-deleted, not removed"
    assert after[20]["IsDeleted"] is False and after[20]["IsPurged"] is False
    assert res.committed and res.version == first.version + 1 and res.read_version == first.version
    assert res.engine_inserted == 1
    assert res.engine_updated == 4, "the engine counts updates, soft-deletes and re-activations"


def test_rows_that_come_back_are_reactivated_and_purged_rows_stay_purged(
    engine: DeltaEngine,
) -> None:
    t = fresh(engine)
    engine.merge(t, data({i: (f"n{i}", "Oslo") for i in range(6)}), SNAPSHOT)
    engine.merge(t, data({i: (f"n{i}", "Oslo") for i in range(2, 6)}), SNAPSHOT)  # 0, 1 deleted
    engine.update(t, {"Id": [1]}, {"IsPurged": True})
    res = engine.merge(t, data({i: (f"x{i}", "Oslo") for i in range(6)}), SNAPSHOT)
    after = state(engine, t)
    assert (res.counts.reactivated, res.counts.purged, res.counts.updated) == (1, 1, 4)
    assert after[0]["IsDeleted"] is False and after[0]["Name"] == "x0"
    assert (
        after[1]["IsDeleted"] is True and after[1]["IsPurged"] is True and after[1]["Name"] == "n1"
    )


def test_an_upsert_never_deletes_and_an_unchanged_merge_commits_nothing(
    engine: DeltaEngine,
) -> None:
    t = fresh(engine)
    engine.merge(t, data({i: (f"n{i}", "Oslo") for i in range(5)}), UPSERT)
    version = engine.version(t)
    res = engine.merge(t, data({0: ("n0", "Oslo"), 1: ("n1", "Oslo")}), UPSERT)
    assert not res.committed and res.version == version and engine.version(t) == version
    assert (res.counts.unchanged, res.counts.deleted, res.counts.changed) == (2, 0, 0)
    assert not any(r["IsDeleted"] for r in state(engine, t).values())


def test_compared_columns_decide_what_counts_as_a_change(engine: DeltaEngine) -> None:
    t = fresh(engine)
    engine.merge(t, data({1: ("a", "Oslo"), 2: ("b", "Oslo")}), UPSERT)
    only_name = UPSERT.model_copy(update={"compare": ("Name",)})
    res = engine.merge(t, data({1: ("a", "Bergen"), 2: ("B", "Bergen")}), only_name)
    assert (res.counts.updated, res.counts.unchanged) == (1, 1)
    after = state(engine, t)
    assert after[1]["City"] == "Oslo", "an unchanged row is not rewritten"
    assert after[2]["City"] == "Bergen", "a changed row takes every column"


def test_a_check_that_raises_stops_the_merge_with_nothing_committed(engine: DeltaEngine) -> None:
    t = fresh(engine)
    engine.merge(t, data({i: (f"n{i}", "Oslo") for i in range(10)}), SNAPSHOT)
    version = engine.version(t)

    def refuse(preview: MergePreview) -> None:
        raise ContractViolation(f"refused: {preview.counts.deleted} deletes")

    with pytest.raises(ContractViolation, match="refused: 6 deletes"):
        engine.merge(t, data({i: (f"n{i}", "Oslo") for i in range(4)}), SNAPSHOT, check=refuse)
    assert engine.version(t) == version
    assert not any(r["IsDeleted"] for r in state(engine, t).values())


def test_null_and_duplicated_keys_are_refused_naming_the_key_and_a_sample(
    engine: DeltaEngine,
) -> None:
    t = fresh(engine)
    version = engine.version(t)
    dup = pa.table(
        {"Id": [1, 2, 2], "Name": ["a", "b", "c"], "City": [None, None, None]},
        schema=arrow_schema(DATA),
    )
    with pytest.raises(ContractViolation, match=r'merge key \(Id\) has 1 duplicated.*"Id": 2'):
        engine.merge(t, dup, UPSERT)
    nullable = pa.table({"Id": [1, None], "Name": ["a", "b"]})
    with pytest.raises(ContractViolation, match=r"1 row\(s\) with a null key"):
        engine.merge(t, nullable, UPSERT)
    assert engine.version(t) == version


def test_a_column_the_table_lacks_is_refused_before_anything_is_read(engine: DeltaEngine) -> None:
    t = fresh(engine)
    extra = pa.table({"Id": [1], "Name": ["a"], "Phone": ["1"]})
    with pytest.raises(ConfigError, match="no column.*Phone"):
        engine.merge(t, extra, UPSERT)
    with pytest.raises(ContractViolation, match="no column.*Name"):
        engine.merge(t, pa.table({"Id": [1]}), UPSERT.model_copy(update={"compare": ("Name",)}))


def test_a_repeated_merge_with_the_same_identity_is_a_no_op(engine: DeltaEngine) -> None:
    t = fresh(engine)
    commit = CommitOptions(metadata={"fmd.runId": "r1"}, app_id="fmd:silver:account", app_version=7)
    first = engine.merge(t, data({1: ("a", "Oslo")}), UPSERT, commit=commit)
    again = engine.merge(t, data({1: ("b", "Oslo"), 2: ("c", "Oslo")}), UPSERT, commit=commit)
    assert first.committed and not again.committed
    assert engine.version(t) == first.version
    assert state(engine, t)[1]["Name"] == "a" and 2 not in state(engine, t)
    assert engine.transaction_version(t, "fmd:silver:account") == 7
    assert engine.history(t, 1)[0].user_metadata.get("fmd.runId") == "r1"
