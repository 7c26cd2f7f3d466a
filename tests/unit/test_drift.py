"""Schema drift: comparison, the policy grid (pure), alignment and enforcement on Arrow frames."""

from __future__ import annotations

import json
from decimal import Decimal

import pyarrow as pa
import pytest

from fmd_runtime import ConfigError, SchemaDriftError
from fmd_runtime.drift import (
    ColumnDrift,
    DriftReport,
    apply_policy,
    columns_of,
    compare_schemas,
    is_widening,
)
from fmd_runtime.engine import Column

TARGET = [
    Column(name="Id", type="bigint", nullable=False),
    Column(name="Score", type="int"),
    Column(name="Name", type="string"),
]


def _frame(**extra: pa.Array) -> pa.Table:
    base = {
        "Id": pa.array([2, 3], pa.int64()),
        "Score": pa.array([1, 2], pa.int32()),
        "Name": ["b", "c"],
    }
    return pa.table({**base, **extra})


@pytest.mark.parametrize(
    ("old", "new", "widening"),
    [
        ("tinyint", "smallint", True),
        ("smallint", "int", True),
        ("int", "bigint", True),
        ("bigint", "int", False),
        ("float", "double", True),
        ("double", "float", False),
        ("int", "double", True),
        ("bigint", "double", False),
        ("decimal(10,2)", "decimal(12,2)", True),
        ("decimal(10,2)", "decimal(12,4)", True),
        ("decimal(10,2)", "decimal(10,4)", False),
        ("decimal(12,2)", "decimal(10,2)", False),
        ("int", "decimal(10,0)", True),
        ("int", "decimal(9,0)", False),
        ("date", "timestamp_ntz", True),
        ("string", "int", False),
        ("int", "string", False),
        ("int", "int", False),
    ],
)
def test_is_widening(old: str, new: str, widening: bool) -> None:
    assert is_widening(old, new) is widening


def test_columns_of_arrow_schema_and_table_and_columns() -> None:
    schema = pa.schema(
        [
            pa.field("a", pa.int8()),
            pa.field("b", pa.large_string()),
            pa.field("c", pa.timestamp("ns")),
            pa.field("d", pa.timestamp("us", "UTC")),
            pa.field("e", pa.decimal128(18, 2)),
            pa.field("f", pa.uint32()),
            pa.field("g", pa.date32(), nullable=False),
        ]
    )
    cols = columns_of(schema)
    assert [(c.name, c.type) for c in cols] == [
        ("a", "tinyint"),
        ("b", "string"),
        ("c", "timestamp_ntz"),
        ("d", "timestamp"),
        ("e", "decimal(18,2)"),
        ("f", "uint32"),
        ("g", "date"),
    ]
    assert not cols[-1].nullable
    assert columns_of(schema.empty_table()) == cols
    assert columns_of(TARGET) == TARGET
    with pytest.raises(ConfigError, match="cannot read a schema"):
        columns_of(42)


def test_compare_matches_names_case_insensitively() -> None:
    incoming = [
        Column(name="ID", type="bigint"),
        Column(name="score", type="bigint"),
        Column(name="Region", type="string"),
    ]
    report = compare_schemas(incoming, TARGET, table="bronze.acc")
    assert [(c.column, c.change) for c in report.changes] == [
        ("Id", "nullability_changed"),
        ("Id", "case_changed"),
        ("Score", "type_changed"),
        ("Score", "case_changed"),
        ("Name", "removed"),
        ("Region", "added"),
    ]
    assert report.has_drift and report.of("type_changed")[0].widening
    assert (
        report.of("removed")[0].describe()
        == "column `Name` (string, nullable) is missing from the incoming data"
    )
    same = compare_schemas(
        [Column(name="id", type="bigint", nullable=False)], TARGET[:1], table="t"
    )
    assert not same.has_drift and [c.change for c in same.changes] == ["case_changed"]
    with pytest.raises(SchemaDriftError, match="`Id` and `ID` differ only by case"):
        compare_schemas(
            [Column(name="Id", type="int"), Column(name="ID", type="int")], TARGET, table="t"
        )


ADDED = ColumnDrift(column="Region", change="added", new_type="string", new_nullable=True)
WIDER = ColumnDrift(
    column="Score", change="type_changed", old_type="int", new_type="bigint", widening=True
)
OTHER = ColumnDrift(
    column="Score", change="type_changed", old_type="int", new_type="string", widening=False
)
GONE = ColumnDrift(column="Name", change="removed", old_type="string", old_nullable=True)
GONE_NN = ColumnDrift(column="Id", change="removed", old_type="bigint", old_nullable=False)


@pytest.mark.parametrize(
    ("change", "permissive", "additive", "strict"),
    [
        (ADDED, True, True, False),
        (WIDER, True, True, False),
        (OTHER, True, False, False),
        (GONE, True, False, False),
        (GONE_NN, False, False, False),
    ],
)
def test_policy_grid(change: ColumnDrift, permissive: bool, additive: bool, strict: bool) -> None:
    report = DriftReport(table="s.t", changes=(change,))
    for policy, allowed in (("permissive", permissive), ("additive", additive), ("strict", strict)):
        decision = apply_policy(report, policy)
        assert decision.allowed is allowed, policy
        # warn mode never fails, except where nothing can be written (a missing NOT NULL column)
        assert apply_policy(report, policy, warn=True).allowed is (change is not GONE_NN)


def test_policy_decision_details() -> None:
    report = DriftReport(table="s.t", changes=(ADDED, WIDER, GONE))
    perm = apply_policy(report, "permissive")
    assert (
        perm.merge_schema
        and perm.widen == (WIDER,)
        and perm.fill == ("Name",)
        and not perm.violations
    )
    strict = apply_policy(report, "strict")
    assert (
        not strict.allowed and not strict.merge_schema and strict.violations == (ADDED, WIDER, GONE)
    )
    warned = apply_policy(report, "strict", warn=True)
    assert warned.allowed and warned.merge_schema and warned.violations == (ADDED, WIDER, GONE)
    with pytest.raises(ConfigError, match="drift policy 'lenient'"):
        apply_policy(report, "lenient")


# -- enforcement on delta-rs tables ----------------------------------------------------------------
@pytest.fixture
def tables(rt):
    for name in ("bronze.acc", "silver.acc", "landing.acc"):
        ref = rt.table(name)
        rt.engine.create(ref, TARGET)
        rt.engine.write(
            ref,
            pa.table(
                {"Id": pa.array([1], pa.int64()), "Score": pa.array([5], pa.int32()), "Name": ["a"]}
            ),
        )
    return rt


def _drift_events(rt) -> list[dict]:
    rt.audit.flush()
    return rt.store.read("SyncAuditLog", {"Operation": "SchemaDrift"}, order_by="EventTime")


def test_no_drift_passes_through_aligned_and_unaudited(tables) -> None:
    rt = tables
    frame = pa.table(
        {"name": ["x"], "ID": pa.array([9], pa.int64()), "Score": pa.array([1], pa.int32())}
    )
    res = rt.drift.enforce(frame, "silver.acc")
    assert res.frame.column_names == ["Id", "Score", "Name"] and res.write_options == {}
    assert res.frame.schema.field("Id").nullable is False  # the target's NOT NULL is kept
    assert not res.report.has_drift and _drift_events(rt) == []
    rt.engine.write(rt.table("silver.acc"), res.frame, schema_mode=res.schema_mode)
    assert [c.nullable for c in rt.engine.snapshot(rt.table("silver.acc")).columns] == [
        False,
        True,
        True,
    ]


def test_bronze_added_and_widened_columns_pass_and_evolve_the_target(tables) -> None:
    rt = tables
    frame = _frame(Region=pa.array(["EU", "US"])).set_column(
        1, "Score", pa.array([2**40, 7], pa.int64())
    )
    res = rt.drift.enforce(frame, "bronze.acc", layer="bronze")
    assert res.write_options == {"schema_mode": "merge"} and res.evolved_version is not None
    ref = rt.table("bronze.acc")
    assert rt.engine.snapshot(ref).columns[1].type == "bigint"  # widened by the rewrite
    rt.runs.write("acc", "bronze.acc", res.frame, layer="bronze", schema_mode=res.schema_mode)
    snap = rt.engine.snapshot(ref)
    assert [(c.name, c.type, c.nullable) for c in snap.columns] == [
        ("Id", "bigint", False),
        ("Score", "bigint", True),
        ("Name", "string", True),
        ("Region", "string", True),
    ]
    rows = sorted(rt.engine.read(ref).to_pylist(), key=lambda r: r["Id"])
    assert rows[0] == {"Id": 1, "Score": 5, "Name": "a", "Region": None}
    assert rows[1]["Score"] == 2**40 and rows[1]["Region"] == "EU"
    event = _drift_events(rt)[-1]
    assert event["Status"] == "Succeeded" and event["Layer"] == "bronze"
    details = json.loads(event["Details"])
    assert {c["column"] for c in details["report"]["changes"]} >= {"Score", "Region"}
    rt.audit.flush()
    evolve = rt.store.read("SyncAuditLog", {"Operation": "SchemaEvolve"})
    assert len(evolve) == 1 and "rewrite" in json.loads(evolve[0]["Details"])["method"]


def test_silver_refuses_the_same_change_naming_both_columns(tables) -> None:
    rt = tables
    frame = _frame(Region=pa.array(["EU", "US"])).set_column(
        1, "Score", pa.array([1, 7], pa.int64())
    )
    with pytest.raises(SchemaDriftError) as info:
        rt.drift.enforce(frame, "silver.acc", layer="silver")
    text = str(info.value)
    assert text.startswith("In table `silver.acc`: incoming schema breaks the strict drift policy")
    assert (
        "column `Score` changed type int -> bigint" in text
        and "column `Region` was added (string)" in text
    )
    assert "change the policy for this table" in text and "evolve the target explicitly" in text
    assert rt.engine.snapshot(rt.table("silver.acc")).columns[1].type == "int"  # untouched
    event = _drift_events(rt)[-1]
    assert (event["Status"], event["Severity"]) == ("Failed", "HIGH")

    # way forward 1: warn mode passes, with the drift audited and an alert raised
    rt.configure_table("silver.acc", drift_warn_only=True)
    res = rt.drift.enforce(frame, "silver.acc", layer="silver")
    assert res.decision.warn and len(res.decision.violations) == 2
    assert (_drift_events(rt)[-1]["Status"], _drift_events(rt)[-1]["Severity"]) == (
        "Warning",
        "MEDIUM",
    )
    rt.audit.flush()
    assert rt.store.read("SyncAuditLog", {"Operation": "Alert"})
    rt.engine.write(rt.table("silver.acc"), res.frame, schema_mode=res.schema_mode)
    assert [c.name for c in rt.engine.snapshot(rt.table("silver.acc")).columns][-1] == "Region"


def test_explicit_evolution_is_the_other_way_forward_under_strict(tables) -> None:
    rt = tables
    frame = _frame(Region=pa.array(["EU", "US"])).set_column(
        1, "Score", pa.array([1, 7], pa.int64())
    )
    assert rt.drift.evolve("silver.acc", frame) is not None
    res = rt.drift.enforce(frame, "silver.acc", layer="silver")
    assert not res.report.has_drift and res.write_options == {}
    with pytest.raises(
        SchemaDriftError, match="cannot evolve: column `Score` changed type bigint -> string"
    ):
        rt.drift.evolve("silver.acc", _frame().set_column(1, "Score", pa.array(["x", "y"])))
    assert rt.drift.evolve("silver.acc", frame) is None  # nothing left to do


def test_permissive_fills_missing_columns_and_casts_other_types(tables) -> None:
    rt = tables
    frame = pa.table(
        {"Id": pa.array([4], pa.int64()), "Score": pa.array([Decimal("3")], pa.decimal128(5, 0))}
    )
    with pytest.raises(SchemaDriftError, match="`Name` .* is missing"):
        rt.drift.enforce(frame, "bronze.acc", layer="bronze")
    res = rt.drift.enforce(frame, "landing.acc", layer="landing")
    assert res.frame.to_pylist() == [{"Id": 4, "Score": 3, "Name": None}]
    assert res.decision.fill == ("Name",) and res.frame.schema.field("Score").type == pa.int32()
    too_big = pa.table(
        {
            "Id": pa.array([4], pa.int64()),
            "Score": pa.array([Decimal("99999")], pa.decimal128(5, 0)),
            "Name": ["n"],
        }
    )
    assert rt.drift.enforce(too_big, "landing.acc").frame.column("Score").to_pylist() == [99999]
    assert (
        rt.drift.enforce(too_big.set_column(1, "Score", pa.array(["12"])), "landing.acc")
        .frame["Score"][0]
        .as_py()
        == 12
    )
    bad = too_big.set_column(1, "Score", pa.array(["twelve"]))
    with pytest.raises(SchemaDriftError, match="cannot be cast to the target type int"):
        rt.drift.enforce(bad, "landing.acc")


def test_missing_not_null_column_fails_even_in_warn_mode(tables) -> None:
    rt = tables
    with pytest.raises(SchemaDriftError, match="even in warn mode"):
        rt.drift.enforce(
            pa.table({"Name": ["x"], "Score": pa.array([1], pa.int32())}), "landing.acc", warn=True
        )
    with pytest.raises(SchemaDriftError, match="NOT NULL in the target but 1 incoming row"):
        rt.drift.enforce(
            _frame().set_column(0, "Id", pa.array([None, 3], pa.int64())), "silver.acc"
        )


def test_policy_comes_from_pipeline_config_then_the_layer(tables) -> None:
    rt = tables
    assert rt.drift.policy_for("silver.acc") == ("strict", False)
    assert rt.drift.policy_for("bronze.acc") == ("additive", False)
    assert rt.drift.policy_for("landing.acc") == ("permissive", False)
    assert rt.drift.policy_for("gold.acc") == ("strict", False)
    rt.configure_table("silver.acc", drift_policy="additive")
    assert rt.drift.policy_for("silver.acc") == ("additive", False)
    res = rt.drift.enforce(_frame(Region=pa.array(["EU", "US"])), "silver.acc", layer="silver")
    assert res.schema_mode == "merge"
    # an explicit argument overrides the configuration
    with pytest.raises(SchemaDriftError):
        rt.drift.enforce(_frame(Region=pa.array(["EU", "US"])), "silver.acc", policy="strict")


def test_missing_target_means_nothing_to_compare(rt) -> None:
    res = rt.drift.enforce(_frame(), "bronze.new", layer="bronze")
    assert not res.report.target_exists and res.frame.num_rows == 2 and res.write_options == {}
