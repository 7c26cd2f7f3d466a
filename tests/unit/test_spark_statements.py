"""The Spark adapter without Delta: exact SQL of every statement, identifier and value safety,
error translation, and the adapter's call sequences against a fake session (no JVM).

A few tests at the end use the shared local Spark session (no Delta needed) for what only a
real session proves: parameter binding, Arrow conversion, real AnalysisException translation.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from fmd_runtime.engine import Column, CommitOptions, DeltaEngine, TableAt
from fmd_runtime.engine.spark import (
    SparkEngine,
    _errors,
    _jvm,
    _session,
    add_columns_statement,
    bind_parameters,
    classify_error,
    create_schema_statement,
    create_table_statement,
    describe_detail_statement,
    describe_history_statement,
    optimize_statement,
    property_key,
    restore_statement,
    select_statement,
    set_properties_statement,
    source_sql,
    sql_string,
    vacuum_statement,
)
from fmd_runtime.errors import (
    ConcurrentWriteError,
    ConfigError,
    EngineError,
    FmdError,
    InvalidIdentifierError,
    RetentionError,
    TableNotFoundError,
)
from fmd_runtime.tables import TableRef

T = TableRef.parse("s.t")


# -- statements ----------------------------------------------------------------------------
def test_restore_statement() -> None:
    assert restore_statement(T, 3) == "RESTORE TABLE `s`.`t` TO VERSION AS OF 3"
    lh = TableRef.parse("lh.bronze.account")
    assert restore_statement(lh, 0) == "RESTORE TABLE `lh`.`bronze`.`account` TO VERSION AS OF 0"


def test_vacuum_statement() -> None:
    assert vacuum_statement(T, 168, False) == "VACUUM `s`.`t` RETAIN 168 HOURS"
    assert vacuum_statement(T, 0, True) == "VACUUM `s`.`t` RETAIN 0 HOURS DRY RUN"


def test_optimize_statement() -> None:
    assert optimize_statement(T) == "OPTIMIZE `s`.`t`"
    assert optimize_statement(T, ["a", "b"]) == "OPTIMIZE `s`.`t` ZORDER BY (`a`, `b`)"
    assert optimize_statement(T, vorder=True) == "OPTIMIZE `s`.`t` VORDER"
    assert optimize_statement(T, ["a"], True) == "OPTIMIZE `s`.`t` ZORDER BY (`a`) VORDER"


def test_set_properties_statement_escapes_values() -> None:
    props = {"delta.logRetentionDuration": "interval 30 days", "fmd.note": "it's C:\\tmp"}
    assert set_properties_statement(T, props) == (
        "ALTER TABLE `s`.`t` SET TBLPROPERTIES ("
        "'delta.logRetentionDuration' = 'interval 30 days', 'fmd.note' = 'it\\'s C:\\\\tmp')"
    )


def test_sql_string_escaping() -> None:
    assert sql_string("plain") == "'plain'"
    assert sql_string("a'b") == "'a\\'b'"
    # A trailing backslash must not escape the closing quote.
    assert sql_string("x\\") == "'x\\\\'"
    assert sql_string("\\'; DROP TABLE x; --") == "'\\\\\\'; DROP TABLE x; --'"
    with pytest.raises(ConfigError):
        sql_string("nul\x00")
    with pytest.raises(ConfigError):
        sql_string(3)  # type: ignore[arg-type]


def test_create_table_statement_full() -> None:
    columns = [
        Column(name="Id", type="long", nullable=False, comment="the key"),
        Column(name="Amount", type="Decimal(18, 2)"),
        Column(name="Day", type="date"),
    ]
    text = create_table_statement(
        T, columns, {"delta.appendOnly": "false"}, ["Day"], "Owner's table"
    )
    assert text == (
        "CREATE TABLE IF NOT EXISTS `s`.`t` (`Id` bigint NOT NULL COMMENT 'the key', "
        "`Amount` decimal(18,2), `Day` date) USING DELTA PARTITIONED BY (`Day`) "
        "COMMENT 'Owner\\'s table' TBLPROPERTIES ('delta.appendOnly' = 'false')"
    )


def test_create_table_statement_minimal_and_schema() -> None:
    assert create_table_statement(T, [Column(name="a", type="string")]) == (
        "CREATE TABLE IF NOT EXISTS `s`.`t` (`a` string) USING DELTA"
    )
    assert create_schema_statement(T) == "CREATE SCHEMA IF NOT EXISTS `s`"
    lh = TableRef.parse("lh.s.t")
    assert create_schema_statement(lh) == "CREATE SCHEMA IF NOT EXISTS `lh`.`s`"
    with pytest.raises(ConfigError):
        create_table_statement(T, [])


def test_add_columns_statement_is_always_nullable() -> None:
    cols = [
        Column(name="New", type="int", nullable=False),
        Column(name="C", type="string", comment="x"),
    ]
    assert add_columns_statement(T, cols) == (
        "ALTER TABLE `s`.`t` ADD COLUMNS (`New` int, `C` string COMMENT 'x')"
    )


def test_describe_and_select_statements() -> None:
    assert describe_history_statement(T) == "DESCRIBE HISTORY `s`.`t`"
    assert describe_history_statement(T, 1) == "DESCRIBE HISTORY `s`.`t` LIMIT 1"
    assert describe_detail_statement(T) == "DESCRIBE DETAIL `s`.`t`"
    assert select_statement(T) == "SELECT * FROM `s`.`t`"
    assert select_statement(T, 4, ["a", "b"]) == "SELECT `a`, `b` FROM `s`.`t` VERSION AS OF 4"
    assert source_sql("x") == "`dbo`.`x`"
    assert source_sql(T) == "`s`.`t`"
    assert source_sql(TableAt(table=T, version=0)) == "`s`.`t` VERSION AS OF 0"


@pytest.mark.parametrize("bad", [-1, True, 1.5, "3"])
def test_versions_must_be_non_negative_integers(bad: Any) -> None:
    with pytest.raises(ConfigError):
        restore_statement(T, bad)
    with pytest.raises(ConfigError):
        vacuum_statement(T, bad, True)


# -- identifier and key safety -------------------------------------------------------------
BAD_NAMES = ["a b", "a`b", "a;b", "1a", "", "a.b", "x' OR '1'='1"]


def _forged(column: Column, **fields: str) -> Column:
    """A Column whose fields bypass validation (model_construct would still validate)."""
    for key, value in fields.items():
        object.__setattr__(column, key, value)
    return column


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_bad_identifiers_never_reach_sql(bad: str) -> None:
    forged = TableRef.model_construct(schema_name="s", table=bad, lakehouse=None)
    with pytest.raises(InvalidIdentifierError):
        restore_statement(forged, 1)
    with pytest.raises(InvalidIdentifierError):
        optimize_statement(T, [bad])
    with pytest.raises(InvalidIdentifierError):
        create_table_statement(T, [Column(name="a", type="int")], partition_by=[bad])
    col = _forged(Column(name="a", type="int"), name=bad)
    with pytest.raises(InvalidIdentifierError):
        add_columns_statement(T, [col])
    with pytest.raises(InvalidIdentifierError):
        SparkEngine(object()).quote(bad)


def test_forged_column_type_is_rejected() -> None:
    col = _forged(Column(name="a", type="int"), type="int) --")
    with pytest.raises(ConfigError):
        create_table_statement(T, [col])


@pytest.mark.parametrize("key", ["a b", "k'", "", "a=b", "x)", "k\n", "delta.`x`"])
def test_bad_property_keys_are_rejected(key: str) -> None:
    with pytest.raises(ConfigError):
        property_key(key)
    with pytest.raises(ConfigError):
        set_properties_statement(T, {key: "v"})


def test_good_property_keys() -> None:
    assert (
        property_key("delta.deletedFileRetentionDuration") == "'delta.deletedFileRetentionDuration'"
    )
    assert property_key("fmd.check-point_1") == "'fmd.check-point_1'"
    with pytest.raises(ConfigError):
        set_properties_statement(T, {})


# -- parameters ----------------------------------------------------------------------------
def test_bind_parameters_expands_lists_and_keeps_scalars() -> None:
    text, args = bind_parameters(
        "SELECT * FROM x WHERE a IN :ids AND b = :b AND c = '12:30' AND d::int = 1",
        {"ids": ("u", "v"), "b": 2},
    )
    assert text == (
        "SELECT * FROM x WHERE a IN (:ids_0, :ids_1) AND b = :b AND c = '12:30' AND d::int = 1"
    )
    assert args == {"ids_0": "u", "ids_1": "v", "b": 2}


def test_bind_parameters_rejects_bad_input() -> None:
    with pytest.raises(ConfigError):
        bind_parameters("a IN :ids", {"ids": []})
    with pytest.raises(ConfigError):
        bind_parameters("a = :missing", {"other": 1})
    with pytest.raises(InvalidIdentifierError):
        bind_parameters("a = 1", {"bad name": 1})


# -- error translation ---------------------------------------------------------------------
def _raise_through(exc: BaseException, table: TableRef | None = T) -> FmdError:
    with pytest.raises(FmdError) as info:
        with _errors._translate(table, "restore to version 3"):
            raise exc
    assert info.value.__cause__ is exc
    return info.value


def _named(name: str, base: type[Exception] = Exception) -> type[Exception]:
    """A local class named like a Delta Java-side exception (matched by name, not identity)."""
    return type(name, (base,), {})


@pytest.mark.parametrize("name", sorted(_errors._CONCURRENT_NAMES))
def test_delta_concurrency_names_are_concurrent_write_errors(name: str) -> None:
    err = _raise_through(_named(name)("Files were added to the root of the table"))
    assert type(err) is ConcurrentWriteError
    assert err.transient
    assert err.table == "s.t" and "restore to version 3" in str(err)


def test_subclass_of_a_delta_concurrency_name_matches() -> None:
    base = _named("ConcurrentAppendException")
    assert classify_error(_named("Specific", base)("x")) == "concurrent"


def test_real_delta_exception_classes(monkeypatch: pytest.MonkeyPatch) -> None:
    import delta.exceptions as dx
    from pyspark import SparkContext

    # CapturedException only asserts that a JVM exists when it is built; nothing calls it here.
    monkeypatch.setattr(SparkContext, "_jvm", object())
    exc = dx.ConcurrentDeleteReadException("a concurrent delete", "stack", None)
    assert type(_raise_through(exc)) is ConcurrentWriteError
    exc2 = dx.MetadataChangedException("metadata changed", "stack", None)
    assert type(_raise_through(exc2)) is ConcurrentWriteError


def test_unconverted_py4j_error_matches_java_class_name_in_message() -> None:
    py4j_error = _named("Py4JJavaError")
    exc = py4j_error(
        "An error occurred while calling o51.save.\n"
        ": io.delta.exceptions.ConcurrentAppendException: Files were added ..."
    )
    assert classify_error(exc) == "concurrent"


@pytest.mark.parametrize(
    "message",
    [
        "[TABLE_OR_VIEW_NOT_FOUND] The table or view `s`.`t` cannot be found.",
        "[DELTA_TABLE_NOT_FOUND] Delta table `s`.`t` doesn't exist.",
        "[DELTA_MISSING_DELTA_TABLE] `s`.`t` is not a Delta table.",
        "`s`.`t` is not a Delta table.",
        "[SCHEMA_NOT_FOUND] The schema `s` cannot be found.",
        "Cannot time travel Delta table to version 9. Available versions: [0, 3].",
    ],
)
def test_not_found_analysis_exceptions(message: str) -> None:
    from pyspark.errors import AnalysisException

    err = _raise_through(AnalysisException(message=message))
    assert type(err) is TableNotFoundError
    assert not err.transient and err.table == "s.t"


def test_concurrent_error_class_in_analysis_exception() -> None:
    from pyspark.errors import AnalysisException

    exc = AnalysisException(message="[DELTA_CONCURRENT_APPEND] Files were added ...")
    assert type(_raise_through(exc)) is ConcurrentWriteError


def test_retention_check_is_a_retention_error() -> None:
    from pyspark.errors import IllegalArgumentException

    exc = IllegalArgumentException(
        message="requirement failed: Are you sure you would like to vacuum files with such a low "
        "retention period? ... spark.databricks.delta.retentionDurationCheck.enabled = false"
    )
    err = _raise_through(exc)
    assert type(err) is RetentionError
    assert "Environment" in (err.hint or "")


def test_other_spark_errors_are_engine_errors() -> None:
    from pyspark.errors import ParseException

    err = _raise_through(ParseException(message="[PARSE_SYNTAX_ERROR] Syntax error at 'x'"))
    assert type(err) is EngineError
    assert "restore to version 3 failed: ParseException" in str(err)
    assert "What to do:" in str(err)


def test_non_engine_errors_and_fmd_errors_pass_through() -> None:
    with pytest.raises(ZeroDivisionError):
        with _errors._translate(T, "op"):
            raise ZeroDivisionError
    original = ConfigError("bad")
    with pytest.raises(ConfigError) as info:
        with _errors._translate(T, "op"):
            raise original
    assert info.value is original


# -- adapter flows against a fake session (no JVM) -----------------------------------------
class FakeConf:
    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values = dict(values or {})

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: str) -> None:
        self.values[key] = value

    def unset(self, key: str) -> None:
        self.values.pop(key, None)


class FakeDF:
    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    def collect(self) -> list[Any]:
        return self.rows


class FakeSpark:
    """Answers statements by prefix; records each statement with the confs in effect."""

    def __init__(self, answers: dict[str, Any], conf: dict[str, str] | None = None) -> None:
        self.answers = answers
        self.conf = FakeConf(conf)
        self.calls: list[tuple[str, dict[str, str]]] = []

    def sql(self, text: str, args: Any = None) -> FakeDF:
        self.calls.append((text, dict(self.conf.values)))
        for prefix, rows in self.answers.items():
            if text.startswith(prefix):
                return FakeDF(rows() if callable(rows) else rows)
        return FakeDF([])


def _versions(*values: int) -> Any:
    from pyspark.sql import Row

    it = iter(values)
    return lambda: [Row(version=next(it))]


def test_engine_satisfies_the_port() -> None:
    assert isinstance(SparkEngine(object(), vorder_supported=False), DeltaEngine)
    assert SparkEngine(object()).name == "spark"
    assert SparkEngine.supports_keep_versions is False


def test_restore_sets_commit_metadata_only_for_the_statement() -> None:
    from pyspark.sql import Row

    metrics = Row(
        table_size_after_restore=10, num_of_files_after_restore=1, num_removed_files=2,
        num_restored_files=1, removed_files_size=100, restored_files_size=50,
    )  # fmt: skip
    fake = FakeSpark({"DESCRIBE HISTORY": _versions(5, 6), "RESTORE": [metrics]})
    result = SparkEngine(fake).restore(T, 3, commit=CommitOptions(metadata={"run_id": "r1"}))
    statements = [c[0] for c in fake.calls]
    assert "RESTORE TABLE `s`.`t` TO VERSION AS OF 3" in statements
    during = dict(fake.calls)["RESTORE TABLE `s`.`t` TO VERSION AS OF 3"]
    assert during[_session._USER_METADATA_CONF] == '{"run_id": "r1"}'
    assert _session._USER_METADATA_CONF not in fake.conf.values  # unset afterwards
    assert (result.version_before, result.version_after, result.restored_to) == (5, 6, 3)
    assert result.metrics["num_removed_files"] == 2


def test_restore_restores_a_previous_session_value_even_on_failure() -> None:
    class Boom(Exception):
        pass

    def fail() -> Any:
        raise _named("ConcurrentAppendException")("conflict")

    fake = FakeSpark(
        {"DESCRIBE HISTORY": _versions(5), "RESTORE": fail},
        conf={_session._USER_METADATA_CONF: "notebook-level"},
    )
    with pytest.raises(ConcurrentWriteError):
        SparkEngine(fake).restore(T, 2, commit=CommitOptions(metadata={"run_id": "r"}))
    assert fake.conf.values[_session._USER_METADATA_CONF] == "notebook-level"


def test_restore_to_current_version_is_refused() -> None:
    fake = FakeSpark({"DESCRIBE HISTORY": _versions(4)})
    with pytest.raises(EngineError, match="already at version 4"):
        SparkEngine(fake).restore(T, 4)


def test_vacuum_dry_run_then_real_run_returns_relative_files() -> None:
    from pyspark.sql import Row

    loc = "file:/wh/s.db/t"
    fake = FakeSpark(
        {
            "DESCRIBE DETAIL": [Row(location=loc)],
            "VACUUM `s`.`t` RETAIN 0 HOURS DRY RUN": [
                Row(path=f"{loc}/b.parquet"),
                Row(path=f"{loc}/a.parquet"),
            ],
            "VACUUM": [Row(path=loc)],
        },
        conf={_session._RETENTION_CONF: "true"},
    )
    result = SparkEngine(fake).vacuum(T, retention_hours=0, dry_run=False, enforce_retention=False)
    statements = [c[0] for c in fake.calls if c[0].startswith("VACUUM")]
    assert statements == [
        "VACUUM `s`.`t` RETAIN 0 HOURS DRY RUN",
        "VACUUM `s`.`t` RETAIN 0 HOURS",
    ]
    assert all(
        c[1][_session._RETENTION_CONF] == "false" for c in fake.calls if c[0].startswith("VACUUM")
    )
    assert fake.conf.values[_session._RETENTION_CONF] == "true"
    assert result.files == ("a.parquet", "b.parquet") and not result.dry_run


def test_vacuum_defaults_to_dry_run_and_refuses_keep_versions() -> None:
    from pyspark.sql import Row

    fake = FakeSpark({"DESCRIBE DETAIL": [Row(location="file:/t")], "VACUUM": []})
    result = SparkEngine(fake).vacuum(T, retention_hours=168)
    assert result.dry_run and result.files == ()
    assert [c[0] for c in fake.calls if c[0].startswith("VACUUM")] == [
        "VACUUM `s`.`t` RETAIN 168 HOURS DRY RUN"
    ]
    with pytest.raises(EngineError, match="keep_versions"):
        SparkEngine(fake).vacuum(T, retention_hours=168, keep_versions=[3])


@pytest.mark.parametrize(
    ("conf", "expected", "vorder"),
    [
        ({}, "OPTIMIZE `s`.`t` ZORDER BY (`a`)", False),
        (
            {"spark.sql.parquet.vorder.default": "false"},
            "OPTIMIZE `s`.`t` ZORDER BY (`a`) VORDER",
            True,
        ),
        (
            {"spark.sql.parquet.vorder.enabled": "true"},
            "OPTIMIZE `s`.`t` ZORDER BY (`a`) VORDER",
            True,
        ),
    ],
)
def test_optimize_vorder_only_where_supported(
    conf: dict[str, str], expected: str, vorder: bool
) -> None:
    from pyspark.sql import Row

    metrics = Row(numFilesAdded=1, numFilesRemoved=4, filesAdded=Row(min=1, max=2), numBatches=1)
    fake = FakeSpark({"OPTIMIZE": [Row(path="file:/t", metrics=metrics)]}, conf=conf)
    result = SparkEngine(fake).optimize(T, zorder_by=["a"], vorder=True)
    assert fake.calls[-1][0] == expected
    assert (result.files_added, result.files_removed, result.vorder) == (1, 4, vorder)
    assert result.metrics == {"numFilesAdded": 1, "numFilesRemoved": 4, "numBatches": 1}


def test_explicit_vorder_flag_wins_over_detection() -> None:
    fake = FakeSpark({}, conf={"spark.sql.parquet.vorder.default": "true"})
    assert SparkEngine(fake, vorder_supported=False).vorder_supported is False


def test_set_properties_and_create_emit_exact_statements() -> None:
    fake = FakeSpark({})
    engine = SparkEngine(fake)
    engine.set_properties(T, {"delta.logRetentionDuration": "interval 30 days"})
    assert fake.calls[-1][0] == (
        "ALTER TABLE `s`.`t` SET TBLPROPERTIES ('delta.logRetentionDuration' = 'interval 30 days')"
    )
    with pytest.raises(ConfigError):
        engine.set_properties(T, {"bad key": "v"})


class FakeScalaLog:
    """Mimics a py4j proxy of a Scala object: reflection, default getters, missing methods."""

    def __init__(self, fail_with: BaseException | None = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.fail_with = fail_with

    def getClass(self) -> Any:
        from types import SimpleNamespace

        def method(name: str, n: int) -> Any:
            return SimpleNamespace(getName=lambda: name, getParameterCount=lambda: n)

        return SimpleNamespace(
            getName=lambda: f"FakeScalaLog{id(self)}",  # arities are remembered per class
            getMethods=lambda: [method("getSnapshotAt", 3), method("x", 0)],
        )

    def getSnapshotAt(self, *args: Any) -> str:
        if self.fail_with is not None:
            raise self.fail_with
        self.calls.append(args)
        return "snapshot"

    def __getattr__(self, name: str) -> Any:
        from py4j.protocol import Py4JError

        if name in ("getSnapshotAt$default$2", "getSnapshotAt$default$3"):
            return lambda: f"default-{name[-1]}"
        raise Py4JError(f"Method {name} does not exist")


def test_call_scala_fills_default_arguments() -> None:
    log = FakeScalaLog()
    assert _jvm._call_scala(log, "getSnapshotAt", 5) == "snapshot"
    assert log.calls == [(5, "default-2", "default-3")]


def test_call_scala_reports_a_missing_internal_api() -> None:
    with pytest.raises(EngineError, match=r"internal API checkpoint\(\) is not callable"):
        _jvm._call_scala(FakeScalaLog(), "checkpoint")


def test_call_scala_lets_java_errors_through() -> None:
    from py4j.protocol import Py4JJavaError

    java_exception = type("JavaObject", (), {"_target_id": "o1"})()
    error = Py4JJavaError("An error occurred", java_exception)
    with pytest.raises(Py4JJavaError) as info:
        _jvm._call_scala(FakeScalaLog(fail_with=error), "getSnapshotAt", 99)
    assert info.value is error


# -- real local session (no Delta) ---------------------------------------------------------
@pytest.fixture(scope="module")
def plain_table(spark: Any) -> TableRef:
    import pyarrow as pa

    engine = SparkEngine(spark)
    ref = TableRef.parse("fmd_stmt_test.plain")
    spark.sql("CREATE SCHEMA IF NOT EXISTS fmd_stmt_test")
    data = pa.table(
        {
            "id": pa.array([1, 2, None], pa.int64()),
            "name": ["a", "b'c", None],
            "ts": pa.array([dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)] * 3,
                           pa.timestamp("us", tz="UTC")),
        }
    )  # fmt: skip
    engine._dataframe(ref, data).write.format("parquet").mode("overwrite").saveAsTable(
        "fmd_stmt_test.plain"
    )
    return ref


@pytest.mark.spark
class TestLocalSession:
    def test_sql_binds_parameters_and_returns_arrow(
        self, spark: Any, plain_table: TableRef
    ) -> None:
        engine = SparkEngine(spark)
        result = engine.sql(
            "SELECT id, name, ts FROM {t} WHERE id IN :ids AND name <> :x ORDER BY id",
            {"t": plain_table},
            {"ids": [1, 2], "x": "a' OR '1'='1"},
        )
        assert result.column("id").to_pylist() == [1, 2]
        assert result.column("name").to_pylist() == ["a", "b'c"]
        assert result.column("ts")[0].as_py() == dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
        empty = engine.sql(
            "SELECT id FROM {t} WHERE id = :v", {"t": "fmd_stmt_test.plain"}, {"v": 9}
        )
        assert empty.num_rows == 0 and empty.column_names == ["id"]

    def test_missing_table_is_table_not_found(self, spark: Any) -> None:
        engine = SparkEngine(spark)
        with pytest.raises(TableNotFoundError) as info:
            engine.count_rows(TableRef.parse("fmd_stmt_test.missing"))
        assert "fmd_stmt_test.missing" in str(info.value)
        assert type(info.value.__cause__).__name__ == "AnalysisException"

    def test_exists(self, spark: Any, plain_table: TableRef) -> None:
        engine = SparkEngine(spark)
        assert engine.exists(plain_table)
        assert not engine.exists(TableRef.parse("fmd_stmt_test.missing"))

    def test_vacuum_sizes_list_each_folder_once(self, spark: Any, tmp_path: Any) -> None:
        (tmp_path / "p=1").mkdir()
        (tmp_path / "a.parquet").write_bytes(b"x" * 10)
        (tmp_path / "p=1" / "b.parquet").write_bytes(b"x" * 5)
        (tmp_path / "other.parquet").write_bytes(b"x" * 100)
        paths = [f"file:{tmp_path}/a.parquet", f"file:{tmp_path}/p=1/b.parquet"]
        assert _jvm.file_sizes(spark, paths) == 15
        assert _jvm.file_sizes(spark, []) == 0
