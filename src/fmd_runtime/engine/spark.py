"""The Spark engine: delta-spark through Spark SQL, tables addressed by name (Fabric notebooks).

Every statement this adapter emits is built by a pure module-level function (``*_statement``),
so the exact SQL is tested without a JVM. Identifiers go through `quote_identifier`; values
(property values, comments) are rendered only as Spark SQL string literals by `sql_string`;
query values travel as Spark named parameters (``spark.sql(text, args=...)``, Spark 3.5+).

Some operations have no public Delta API on Spark and use Delta's JVM internals through py4j
(``DeltaLog`` snapshots: `SparkEngine.files`, `missing_files`, `create_log_checkpoint`,
`transaction_version`, and protocol/properties of historical versions in `snapshot`). Their
signatures change between Delta releases, so each call is guarded: it falls back where a public
route exists, and otherwise raises `EngineError` naming the internal API that was unavailable.

Session-wide Spark confs (commit user metadata for RESTORE / OPTIMIZE / UPDATE, the VACUUM
retention check) are set for one call and restored in ``finally``, under one lock per process:
a session's conf is shared by every thread (and every `SparkEngine` on it), and Delta reads it at
commit time, so every commit that does not carry its metadata as a write option (all but
metadata-carrying writes) commits under that lock: no commit takes another thread's run id.

Example:
    >>> from fmd_runtime.tables import TableRef
    >>> restore_statement(TableRef.parse("s.t"), 3)
    'RESTORE TABLE `s`.`t` TO VERSION AS OF 3'
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import operator
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

from fmd_runtime.engine import (
    DELETED_FILE_RETENTION,
    Column,
    CommitOptions,
    DataFile,
    HistoryEntry,
    OptimizeResult,
    Protocol_,
    RestoreResult,
    RowCount,
    SchemaMode,
    SqlSource,
    TableAt,
    TableSnapshot,
    VacuumResult,
    WriteMode,
    bind_alias,
    normalize_type,
)
from fmd_runtime.engine import retention_hours as retention_hours_of
from fmd_runtime.engine.deltars import deletion_vector_file
from fmd_runtime.errors import (
    ConcurrentWriteError,
    ConfigError,
    EngineError,
    FmdError,
    RetentionError,
    TableNotFoundError,
)
from fmd_runtime.tables import TableRef, quote_identifier, validate_identifier

_log = logging.getLogger(__name__)
_PROPERTY_KEY = re.compile(r"[A-Za-z0-9_.\-]+")  # fullmatch: "$" would allow "k\n"
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")
_ERROR_CLASS = re.compile(r"^\s*\[([A-Z0-9_]+)(?:\.[A-Z0-9_]+)?\]")
_USER_METADATA_CONF = "spark.databricks.delta.commitInfo.userMetadata"
_RETENTION_CONF = "spark.databricks.delta.retentionDurationCheck.enabled"
_BEYOND_RETENTION_CLASS = "DELTA_UNSUPPORTED_TIME_TRAVEL_BEYOND_DELETED_FILE_RETENTION"
_BEYOND_RETENTION_TEXT = "Cannot time travel beyond delta.deletedFileRetentionDuration"
_LOG_RETENTION_ORDER_TEXT = "needs to be less than or equal to delta.logRetentionDuration"
_CONSTANT_PARAMETERS_CONF = "spark.sql.legacy.parameterSubstitution.constantsOnly"
_VORDER_CONFS = ("spark.sql.parquet.vorder.default", "spark.sql.parquet.vorder.enabled")
# Features that the Delta protocol lists in readerFeatures as well as writerFeatures.
_READER_WRITER_FEATURES = {
    "columnMapping", "deletionVectors", "timestampNtz", "typeWidening", "typeWidening-preview",
    "v2Checkpoint", "vacuumProtocolCheck", "variantType", "variantType-preview",
}  # fmt: skip

_CONCURRENT_NAMES = {
    "ConcurrentAppendException", "ConcurrentDeleteReadException",
    "ConcurrentDeleteDeleteException", "MetadataChangedException",
    "ConcurrentTransactionException", "ProtocolChangedException", "ConcurrentWriteException",
    "DeltaConcurrentModificationException",
}  # fmt: skip
_CONCURRENT_CLASSES = ("DELTA_CONCURRENT_", "DELTA_METADATA_CHANGED", "DELTA_PROTOCOL_CHANGED")
_NOT_FOUND_NAMES = {"NoSuchTableException", "NoSuchDatabaseException", "NoSuchNamespaceException"}
_NOT_FOUND_CLASSES = (
    "TABLE_OR_VIEW_NOT_FOUND", "DELTA_TABLE_NOT_FOUND", "DELTA_MISSING_DELTA_TABLE",
    "SCHEMA_NOT_FOUND", "DELTA_VERSION_NOT_FOUND", "DELTA_TABLE_ONLY_OPERATION",
)  # fmt: skip
_NOT_FOUND_TEXT = ("not a Delta table", "Table or view not found", "Cannot time travel Delta table")
_SPARK_MODULES = {"pyspark", "py4j", "delta"}
# RESTORE metrics: the port's names (delta-rs', used by rollback) -> Spark RESTORE's result columns
_RESTORE_METRICS = {"numRestoredFile": "num_restored_files", "numRemovedFile": "num_removed_files"}
# One lock for every SparkEngine of the process (see the module docstring): engines built by
# separate `connect(spark=...)` calls share the session, hence its commit-metadata conf.
_SESSION_CONF_LOCK = threading.RLock()
# File entries an engine keeps of the versions it listed (a rollback lists the pinned and current
# versions of each table several times: plan, pre-checkpoint, validation): ~100 MB at most.
_FILES_HELD = 200_000


# -- statements (pure) ---------------------------------------------------------------------
def sql_string(value: str) -> str:
    """Render a value as a Spark SQL string literal (backslash and single quote escaped).

    Spark treats ``''`` as two adjacent literals, not an escaped quote, so ``\\'`` is used.

    Raises:
        ConfigError: the value is not a string or contains a NUL character.

    Example:
        >>> print(sql_string("it's"))
        'it\\'s'
    """
    if not isinstance(value, str) or "\x00" in value:
        raise ConfigError(f"{value!r:.60} cannot be a SQL string literal", hint="pass plain text")
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def property_key(key: str) -> str:
    """Validate a table property key (letters, digits, ``_ . -``) and return it as a literal.

    Raises:
        ConfigError: anything else in the key.

    Example:
        >>> property_key("delta.logRetentionDuration")
        "'delta.logRetentionDuration'"
    """
    if not isinstance(key, str) or not _PROPERTY_KEY.fullmatch(key):
        raise ConfigError(
            f"table property key {key!r:.80} is not valid",
            hint="use letters, digits, '_', '.' and '-' only",
        )
    return f"'{key}'"


def _version(version: int, what: str = "version") -> int:
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ConfigError(f"{what} {version!r} must be a non-negative integer")
    return version


def _schema_name(table: TableRef) -> str:
    parts = [table.lakehouse] if table.lakehouse else []
    return ".".join(quote_identifier(p) for p in [*parts, table.schema_name])


def _column_ddl(column: Column, *, nullable: bool | None = None) -> str:
    ddl = f"{quote_identifier(column.name)} {normalize_type(column.type)}"
    if not (column.nullable if nullable is None else nullable):
        ddl += " NOT NULL"
    return ddl + (f" COMMENT {sql_string(column.comment)}" if column.comment else "")


def _properties(props: Mapping[str, str]) -> str:
    return ", ".join(f"{property_key(k)} = {sql_string(str(v))}" for k, v in props.items())


def create_schema_statement(table: TableRef) -> str:
    """``CREATE SCHEMA IF NOT EXISTS`` for the table's schema.

    Example:
        >>> create_schema_statement(TableRef.parse("bronze.t"))
        'CREATE SCHEMA IF NOT EXISTS `bronze`'
    """
    return f"CREATE SCHEMA IF NOT EXISTS {_schema_name(table)}"


def create_table_statement(
    table: TableRef,
    columns: Sequence[Column],
    properties: Mapping[str, str] | None = None,
    partition_by: Sequence[str] = (),
    comment: str | None = None,
) -> str:
    """``CREATE TABLE IF NOT EXISTS ... USING DELTA`` with partitioning, comment and properties.

    Raises:
        ConfigError: no columns, a bad type, property key or value.
        InvalidIdentifierError: a column or partition column that is not a plain identifier.

    Example:
        >>> create_table_statement(TableRef.parse("s.t"), [Column(name="id", type="long")])
        'CREATE TABLE IF NOT EXISTS `s`.`t` (`id` bigint) USING DELTA'
    """
    if not columns:
        raise ConfigError("a table needs at least one column", table=table.name)
    text = f"CREATE TABLE IF NOT EXISTS {table.quoted} ("
    text += ", ".join(_column_ddl(c) for c in columns) + ") USING DELTA"
    if partition_by:
        text += f" PARTITIONED BY ({', '.join(quote_identifier(c) for c in partition_by)})"
    if comment:
        text += f" COMMENT {sql_string(comment)}"
    if properties:
        text += f" TBLPROPERTIES ({_properties(properties)})"
    return text


def add_columns_statement(table: TableRef, columns: Sequence[Column]) -> str:
    """``ALTER TABLE ... ADD COLUMNS`` (always nullable: existing rows get NULL).

    Example:
        >>> add_columns_statement(TableRef.parse("s.t"), [Column(name="c", type="string")])
        'ALTER TABLE `s`.`t` ADD COLUMNS (`c` string)'
    """
    if not columns:
        raise ConfigError("add_columns needs at least one column", table=table.name)
    cols = ", ".join(_column_ddl(c, nullable=True) for c in columns)
    return f"ALTER TABLE {table.quoted} ADD COLUMNS ({cols})"


def restore_statement(table: TableRef, version: int) -> str:
    """``RESTORE TABLE ... TO VERSION AS OF n``.

    Example:
        >>> restore_statement(TableRef.parse("s.t"), 3)
        'RESTORE TABLE `s`.`t` TO VERSION AS OF 3'
    """
    return f"RESTORE TABLE {table.quoted} TO VERSION AS OF {_version(version)}"


def vacuum_statement(table: TableRef, retention_hours: int, dry_run: bool) -> str:
    """``VACUUM ... RETAIN n HOURS [DRY RUN]``.

    Example:
        >>> vacuum_statement(TableRef.parse("s.t"), 168, True)
        'VACUUM `s`.`t` RETAIN 168 HOURS DRY RUN'
    """
    hours = _version(retention_hours, "retention_hours")
    return f"VACUUM {table.quoted} RETAIN {hours} HOURS" + (" DRY RUN" if dry_run else "")


def optimize_statement(table: TableRef, zorder_by: Sequence[str] = (), vorder: bool = False) -> str:
    """``OPTIMIZE ... [ZORDER BY (...)] [VORDER]`` (VORDER is Fabric's syntax).

    Example:
        >>> optimize_statement(TableRef.parse("s.t"), ["a"], vorder=True)
        'OPTIMIZE `s`.`t` ZORDER BY (`a`) VORDER'
    """
    text = f"OPTIMIZE {table.quoted}"
    if zorder_by:
        text += f" ZORDER BY ({', '.join(quote_identifier(c) for c in zorder_by)})"
    return text + (" VORDER" if vorder else "")


def set_properties_statement(table: TableRef, props: Mapping[str, str]) -> str:
    """``ALTER TABLE ... SET TBLPROPERTIES ('k' = 'v', ...)``.

    Example:
        >>> set_properties_statement(TableRef.parse("s.t"), {"a.b": "1"})
        "ALTER TABLE `s`.`t` SET TBLPROPERTIES ('a.b' = '1')"
    """
    if not props:
        raise ConfigError("no table properties to set", table=table.name)
    return f"ALTER TABLE {table.quoted} SET TBLPROPERTIES ({_properties(props)})"


def describe_history_statement(table: TableRef, limit: int | None = None) -> str:
    """``DESCRIBE HISTORY ... [LIMIT n]``.

    Example:
        >>> describe_history_statement(TableRef.parse("s.t"), 1)
        'DESCRIBE HISTORY `s`.`t` LIMIT 1'
    """
    return f"DESCRIBE HISTORY {table.quoted}" + (
        f" LIMIT {_version(limit, 'limit')}" if limit is not None else ""
    )


def describe_detail_statement(table: TableRef) -> str:
    """``DESCRIBE DETAIL ...``.

    Example:
        >>> describe_detail_statement(TableRef.parse("s.t"))
        'DESCRIBE DETAIL `s`.`t`'
    """
    return f"DESCRIBE DETAIL {table.quoted}"


def source_sql(source: SqlSource) -> str:
    """A query source: the quoted name, plus `` VERSION AS OF n`` for a pinned version.

    Example:
        >>> source_sql(TableAt(table=TableRef.parse("s.t"), version=2))
        '`s`.`t` VERSION AS OF 2'
    """
    at = source if isinstance(source, TableAt) else TableAt(table=TableRef.parse(source))
    suffix = f" VERSION AS OF {_version(at.version)}" if at.version is not None else ""
    return at.table.quoted + suffix


def select_statement(
    table: TableRef, version: int | None = None, columns: Sequence[str] | None = None
) -> str:
    """``SELECT cols FROM t [VERSION AS OF n]``.

    Example:
        >>> select_statement(TableRef.parse("s.t"), 1, ["a"])
        'SELECT `a` FROM `s`.`t` VERSION AS OF 1'
    """
    cols = ", ".join(quote_identifier(c) for c in columns) if columns else "*"
    return f"SELECT {cols} FROM {source_sql(TableAt(table=table, version=version))}"


def bind_parameters(query: str, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Expand list parameters (``x IN :ids``) into one named parameter per item.

    Spark binds a Python list as an ARRAY, while the port's SQL (shared with delta-rs) means
    ``IN :ids`` as an IN list; the values still travel as parameters, never as SQL text.

    Raises:
        ConfigError: a bad parameter name, an empty list, or a marker with no value.

    Example:
        >>> bind_parameters("x IN :ids", {"ids": [1, 2]})
        ('x IN (:ids_0, :ids_1)', {'ids_0': 1, 'ids_1': 2})
    """
    args: dict[str, Any] = {}
    for key, value in params.items():
        validate_identifier(key, what="SQL parameter")
        if isinstance(value, (list, tuple, set, frozenset)):
            items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else list(value)
            if not items:
                raise ConfigError(f"SQL parameter :{key} is an empty list")
            args.update({f"{key}_{i}": v for i, v in enumerate(items)})
        else:
            args[key] = value

    def expand(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in params:
            raise ConfigError(f"SQL parameter :{key} has no value")
        value = params[key]
        if isinstance(value, (list, tuple, set, frozenset)):
            return "(" + ", ".join(f":{key}_{i}" for i in range(len(value))) + ")"
        return m.group(0)

    return _PARAM.sub(expand, query), args


# -- error translation ---------------------------------------------------------------------
def _error_class(exc: BaseException) -> str:
    with contextlib.suppress(Exception):
        found = exc.getErrorClass()  # type: ignore[attr-defined]
        if found:
            return str(found)
    m = _ERROR_CLASS.match(_message(exc))
    return m.group(1) if m else ""


def _message(exc: BaseException) -> str:
    java = getattr(exc, "java_exception", None)  # an unconverted Py4JJavaError: say the Java error
    if java is not None:
        with contextlib.suppress(Exception):
            return str(java.toString())
    for attr in ("desc", "message"):
        text = getattr(exc, attr, None)
        if isinstance(text, str) and text:
            return text
    try:
        return str(exc)
    except Exception:  # captured pyspark errors need a live JVM to render
        return type(exc).__name__


def classify_error(exc: BaseException) -> str | None:
    """Classify a native error: ``"not_found"``, ``"concurrent"``, ``"retention"``,
    ``"beyond_retention"`` (Delta 4.1+ refuses a version older than the file retention),
    ``"retention_order"`` (file retention above log retention), ``"engine"``.

    Matches Python class names along the MRO (delta-spark's converted exceptions and Java-named
    ones), Spark error classes, and Java class names in the message (unconverted py4j errors).
    Returns None for errors that are not the engine's (programming errors pass through).

    Example:
        >>> class ConcurrentAppendException(Exception): ...
        >>> classify_error(ConcurrentAppendException("x"))
        'concurrent'
    """
    names = {cls.__name__ for cls in type(exc).__mro__}
    error_class, text = _error_class(exc), _message(exc)
    head = text[:2000]
    if names & _CONCURRENT_NAMES or error_class.startswith(_CONCURRENT_CLASSES):
        return "concurrent"
    if any(f".{n}" in head for n in _CONCURRENT_NAMES):
        return "concurrent"
    if names & _NOT_FOUND_NAMES or error_class in _NOT_FOUND_CLASSES:
        return "not_found"
    if any(s in head for s in _NOT_FOUND_TEXT):
        return "not_found"
    if _RETENTION_CONF in head:
        return "retention"
    if error_class.startswith(_BEYOND_RETENTION_CLASS) or _BEYOND_RETENTION_TEXT in head:
        return "beyond_retention"
    if _LOG_RETENTION_ORDER_TEXT in head:
        return "retention_order"
    if type(exc).__module__.split(".")[0] in _SPARK_MODULES:
        return "engine"
    return None


@contextlib.contextmanager
def _translate(table: TableRef | None, operation: str) -> Iterator[None]:
    """Translate pyspark / py4j / Delta errors into the FmdError tree (``raise ... from exc``)."""
    name = table.name if table else None
    try:
        yield
    except FmdError:
        raise
    except Exception as exc:
        kind = classify_error(exc)
        if kind is None:
            raise
        first = (_message(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        if kind == "not_found":
            raise TableNotFoundError(
                f"{operation}: table (or version) not found: {first}",
                table=name,
                hint="check the name, the default lakehouse and the version, or create the table",
            ) from exc
        if kind == "concurrent":
            # name Delta's exception, also when py4j did not convert it (Spark 4.1 / Delta 4.2)
            mro = {cls.__name__ for cls in type(exc).__mro__}
            head = _message(exc)[:2000]
            found = sorted(n for n in _CONCURRENT_NAMES if n in mro or f".{n}" in head)
            raise ConcurrentWriteError(
                f"{operation}: commit conflicted with another writer "
                f"({found[0] if found else type(exc).__name__})",
                table=name,
                hint="retry the operation; it is safe to re-run",
            ) from exc
        if kind == "beyond_retention":
            raise RetentionError(
                f"{operation}: Delta refuses versions older than the table's "
                f"delta.deletedFileRetentionDuration (Delta 4.1+): {first}",
                table=name,
                hint="that version cannot be restored or read any more; raise "
                "delta.deletedFileRetentionDuration (and delta.logRetentionDuration) before a "
                "restore point ages past it: checkpoints do this when they are created",
            ) from exc
        if kind == "retention_order":
            raise RetentionError(
                f"{operation}: {first}",
                table=name,
                hint="raise delta.logRetentionDuration in the same change, to at least the file "
                "retention (Delta 4.1+ requires file retention <= log retention)",
            ) from exc
        if kind == "retention":
            raise RetentionError(
                f"{operation}: retention below Delta's safety check: {first}",
                table=name,
                hint=f"keep retention >= 168 hours, or set {_RETENTION_CONF}=false in the "
                "Fabric Environment (a session-level setting is not honoured there)",
            ) from exc
        raise EngineError(
            f"{operation} failed: {type(exc).__name__}: {first}",
            table=name,
            hint="see the chained Spark error; check the table's history and storage access",
        ) from exc


# -- helpers -------------------------------------------------------------------------------
def _decode(value: Any) -> Any:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def _number(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return value


def _to_arrow(df: Any) -> Any:
    """A small Spark result as a pyarrow Table (Spark 4 ``toArrow``; Arrow collect on 3.x)."""
    import pyarrow as pa

    if hasattr(df, "toArrow"):
        return df.toArrow()
    if hasattr(df, "_collect_as_arrow"):  # what toPandas uses on 3.x; needs no pandas
        from pyspark.sql.pandas.types import to_arrow_schema

        batches = df._collect_as_arrow()
        if not batches:
            return to_arrow_schema(df.schema).empty_table()
        return pa.Table.from_batches(batches)
    return pa.Table.from_pandas(df.toPandas(), preserve_index=False)


def _spark_version(spark: Any) -> tuple[int, int]:
    found = [int(x) for x in re.findall(r"\d+", str(spark.version))[:2]]
    return (found[0], found[1]) if len(found) == 2 else (0, 0)


def _columns(fields: Sequence[Any]) -> tuple[Column, ...]:
    """Port columns of Spark ``StructField`` s (types normalized; complex types as Spark spells
    them; the comment from the field metadata)."""
    columns = []
    for f in fields:
        type_name = f.dataType.simpleString()
        with contextlib.suppress(ConfigError):
            type_name = normalize_type(type_name)  # complex types keep Spark's spelling
        comment = (f.metadata or {}).get("comment")
        columns.append(
            Column.model_construct(
                name=f.name, type=type_name, nullable=f.nullable, comment=comment
            )
        )
    return tuple(columns)


def _files_key(snap: Any) -> tuple[str, int, int] | None:
    """What identifies a JVM snapshot's file list: log path, version, commit time (None where
    the internals differ: then nothing is remembered)."""
    try:
        return str(snap.path()), int(snap.version()), int(_call_scala(snap, "timestamp"))
    except Exception:
        return None


def _action_json(action: Any, key: str) -> dict[str, Any]:
    """A Delta log action (JVM ``Metadata`` / ``Protocol``) as the JSON the log stores."""
    found: dict[str, Any] = json.loads(str(action.json()))[key]
    return found


def _has_log_checkpoint(snap: Any) -> bool:
    """True when the JVM snapshot's own version is a log checkpoint (its log segment starts
    there); False when it is not, or the internals to tell differ."""
    try:
        provider = snap.logSegment().checkpointProvider()
        return int(provider.version()) == int(snap.version())
    except Exception:  # Delta internals differ: write one, as if there were none
        return False


class _InternalApiMissing(EngineError):
    """A Delta JVM internal (DeltaLog, Snapshot) this adapter uses is missing on this runtime."""


# (JVM class name, method) -> the method's parameter counts. Reflecting over a class's methods
# costs ~1,000 py4j round trips (~40 ms); a checkpoint of 50 tables calls a few methods per table.
_ARITIES: dict[tuple[str, str], tuple[int, ...]] = {}


def _arities(jclass: Any, method: str) -> tuple[int, ...]:
    """The parameter counts of ``method`` on a JVM class, ascending (reflected once per class)."""
    key = (str(jclass.getName()), method)
    if key not in _ARITIES:
        _ARITIES[key] = tuple(
            sorted({m.getParameterCount() for m in jclass.getMethods() if m.getName() == method})
        )
    return _ARITIES[key]


def _call_scala(obj: Any, method: str, *args: Any) -> Any:
    """Call a Scala method through py4j, filling trailing default arguments (``m$default$k``).

    Raises:
        _InternalApiMissing: no arity of ``method`` is callable; errors thrown by the Java
            method itself propagate unchanged (for `_translate`).
    """
    from py4j.protocol import Py4JError, Py4JJavaError

    for n in _arities(obj.getClass(), method):
        if n < len(args):
            continue
        try:
            missing = range(len(args) + 1, n + 1)
            defaults = [getattr(obj, f"{method}$default${k}")() for k in missing]
            return getattr(obj, method)(*args, *defaults)
        except Py4JJavaError:
            raise
        except Py4JError:  # no such method / default getter at this arity: try the next one
            continue
    raise _InternalApiMissing(
        f"Delta internal API {method}() is not callable on this runtime",
        hint="this Delta runtime's internals differ; report its Delta version",
    )


class SparkEngine:
    """`DeltaEngine` adapter over delta-spark (Spark SQL, tables by name).

    Args:
        spark: the SparkSession (Delta-enabled: Fabric, or local with the Delta jars).
        vorder_supported: whether ``OPTIMIZE ... VORDER`` exists; None detects it lazily from
            the Fabric confs ``spark.sql.parquet.vorder.default`` / ``.enabled``.

    Example:
        >>> engine = SparkEngine(spark)  # doctest: +SKIP
        >>> engine.version(TableRef.parse("bronze.account"))  # doctest: +SKIP
        12
    """

    name = "spark"
    supports_keep_versions = False
    """Spark VACUUM cannot protect given versions; maintenance uses retention instead."""

    def __init__(self, spark: Any, *, vorder_supported: bool | None = None) -> None:
        self.spark = spark
        self._vorder = vorder_supported
        self._delta_version: tuple[int, int, int] | None = None
        self._conf_lock = _SESSION_CONF_LOCK
        # A table's storage location is fixed for its name (managed tables live under the
        # schema's folder; OneLake paths never move), and DESCRIBE DETAIL reads the log (~0.3 s
        # locally, more in Fabric): where the session catalog cannot say (`location`), looked
        # up once per table, forgotten when the table is created by this engine or found
        # missing.
        self._locations: dict[str, str] = {}
        # The add actions of recently read versions (`_raw_files`), least recently used first.
        self._files: OrderedDict[tuple[str, int, int], list[dict[str, Any]]] = OrderedDict()
        self._files_held = 0
        self._files_lock = threading.Lock()
        with contextlib.suppress(ImportError):
            import delta.exceptions  # noqa: F401  (converts Delta's Java exceptions to classes)
        self._bind_parameters_with_delta_parser()

    def _bind_parameters_with_delta_parser(self) -> None:
        """Make named SQL parameters work under Delta's SQL parser on Spark 4.1+.

        Delta's parser does not forward Spark 4.1's new ``parsePlanWithParameters`` (it keeps the
        interface's default, which drops the parameters: delta-io/delta#7640, seen with Delta
        4.2), so every ``spark.sql(text, args=...)`` fails with UNBOUND_SQL_PARAMETER. Spark's
        legacy substitution (parameters only where constants may stand, which is all this
        adapter uses) binds them before parsing. Set once per session, unless the user chose.
        """
        with contextlib.suppress(Exception):
            if _spark_version(self.spark) >= (4, 1) and (
                self.spark.conf.get(_CONSTANT_PARAMETERS_CONF, None) is None
                or self.spark.conf.get(_CONSTANT_PARAMETERS_CONF, None) == "false"
            ):
                self.spark.conf.set(_CONSTANT_PARAMETERS_CONF, "true")

    @property
    def delta_version(self) -> tuple[int, int, int]:
        """The session's Delta version (``io.delta.VERSION`` of the jars), e.g. ``(4, 2, 0)``.

        ``(0, 0, 0)`` when the JVM does not say (then no version-specific behaviour is assumed).
        """
        if self._delta_version is None:
            found: tuple[int, int, int] = (0, 0, 0)
            with contextlib.suppress(Exception):
                pkg = getattr(getattr(self.spark.sparkContext._jvm.io.delta, "package$"), "MODULE$")
                parts = [int(x) for x in re.findall(r"\d+", str(pkg.VERSION()))[:3]]
                found = (parts + [0, 0, 0])[0], (parts + [0, 0, 0])[1], (parts + [0, 0, 0])[2]
            self._delta_version = found
        return self._delta_version

    @property
    def vacuum_reads_table_retention(self) -> bool:
        """True from Delta 4.1: VACUUM ignores ``RETAIN n HOURS`` (n > 0) for the table property."""
        return self.delta_version >= (4, 1, 0)

    @property
    def vorder_supported(self) -> bool:
        """True when the session is a Fabric runtime with V-Order (detected once)."""
        if self._vorder is None:
            self._vorder = any(self.spark.conf.get(k, None) is not None for k in _VORDER_CONFS)
        return self._vorder

    # -- helpers ---------------------------------------------------------------------------
    def _sql(self, table: TableRef | None, operation: str, text: str) -> list[Any]:
        with _translate(table, operation):
            rows: list[Any] = self.spark.sql(text).collect()
        return rows

    @contextlib.contextmanager
    def _conf(self, settings: Mapping[str, str | None]) -> Iterator[None]:
        """Set session confs for one call; restore the previous values afterwards."""
        # None means "leave as is": a session-level setting of the user stays in effect.
        changes = {k: v for k, v in settings.items() if v is not None}
        with self._conf_lock:
            before = {k: self.spark.conf.get(k, None) for k in changes}
            try:
                for k, v in changes.items():
                    self.spark.conf.set(k, v)
                yield
            finally:
                for k, old in before.items():
                    if old is None:
                        self.spark.conf.unset(k)
                    else:
                        self.spark.conf.set(k, old)

    @staticmethod
    def _metadata(commit: CommitOptions | None) -> dict[str, str | None]:
        meta = json.dumps(commit.metadata, sort_keys=True) if commit and commit.metadata else None
        return {_USER_METADATA_CONF: meta}

    def _detail(self, table: TableRef) -> dict[str, Any]:
        detail: dict[str, Any] = self._sql(
            table, "describe detail", describe_detail_statement(table)
        )[0].asDict()
        return detail

    def _delta_log(self, table: TableRef) -> Any:
        from py4j.java_gateway import JavaClass

        try:
            delta_log = self.spark.sparkContext._jvm.org.apache.spark.sql.delta.DeltaLog
        except AttributeError:  # no JVM behind the session (Spark Connect)
            delta_log = None
        if not isinstance(delta_log, JavaClass):
            raise _InternalApiMissing(
                "the Delta JVM class DeltaLog is not loaded", table=table.name
            )
        location = self.location(table)
        with _translate(table, "open Delta log (DeltaLog internals)"):
            # py4j runs each Python thread's calls on its own JVM thread, where no active
            # session is set; Delta's log replay needs one once the table has a log checkpoint
            # (DELTA_SPARK_SESSION_NOT_SET from `Snapshot.allFiles` in a worker thread).
            jsession = self.spark._jsparkSession
            self.spark.sparkContext._jvm.org.apache.spark.sql.SparkSession.setActiveSession(
                jsession
            )
            return delta_log.forTable(jsession, location)

    def _jvm_snapshot(self, table: TableRef, version: int | None) -> Any:
        """A Delta ``Snapshot`` (JVM) of the version, through DeltaLog internals."""
        log = self._delta_log(table)
        try:
            with _translate(table, "read Delta log snapshot"):
                if version is None:
                    return _call_scala(log, "update")
                return _call_scala(log, "getSnapshotAt", _version(version))
        except _InternalApiMissing as exc:
            raise _InternalApiMissing(
                f"reading the Delta log snapshot needs DeltaLog internals: {exc.message}",
                table=table.name,
                hint=exc.hint,
            ) from exc

    def _raw_files(self, table: TableRef, version: int | None) -> list[dict[str, Any]]:
        from pyspark.sql import DataFrame

        snap = self._jvm_snapshot(table, version)
        with _translate(table, "list files"):
            # A version's files never change: remembered per log path, version and commit time
            # (a table dropped and re-created at the same path has other commit times).
            key = _files_key(snap)
            with self._files_lock:
                hit = self._files.get(key) if key else None
                if key and hit is not None:
                    self._files.move_to_end(key)
                    return hit
            df = DataFrame(snap.allFiles().toDF(), self.spark)
            cols = ["path", "size", "stats"]
            cols += ["deletionVector"] if "deletionVector" in df.columns else []
            found = [r.asDict(recursive=True) for r in df.select(*cols).collect()]
        if key is None:
            return found
        with self._files_lock:
            self._files[key] = found
            self._files_held = sum(len(v) for v in self._files.values())
            while self._files_held > _FILES_HELD and len(self._files) > 1:
                _, dropped = self._files.popitem(last=False)
                self._files_held -= len(dropped)
        return found

    # -- port ------------------------------------------------------------------------------
    def exists(self, table: TableRef) -> bool:
        """True when the catalog knows the table."""
        parts = [table.lakehouse] if table.lakehouse else []
        with _translate(table, "exists"):
            found = bool(self.spark.catalog.tableExists(".".join([*parts, table.name])))
        if not found:
            self._locations.pop(table.quoted.lower(), None)
        return found

    def create(
        self,
        table: TableRef,
        columns: Sequence[Column],
        *,
        properties: Mapping[str, str] | None = None,
        partition_by: Sequence[str] = (),
        comment: str | None = None,
        commit: CommitOptions | None = None,
    ) -> bool:
        """Create the schema and the table if missing; True when this call created the table."""
        statement = create_table_statement(table, columns, properties, partition_by, comment)
        if self.exists(table):  # the common case (ensure on every connect): one catalog lookup
            return False
        self._sql(table, "create schema", create_schema_statement(table))
        self._locations.pop(table.quoted.lower(), None)
        with self._conf(self._metadata(commit)):
            self._sql(table, "create", statement)
        return True

    def location(self, table: TableRef) -> str:
        """The table's storage location: the session catalog's (a metadata lookup, ~1 ms, always
        current), else ``DESCRIBE DETAIL`` ``location`` (reads the log; looked up once)."""
        if not table.lakehouse:  # the session catalog names schema.table; 3-part names below
            with contextlib.suppress(Exception):
                state = self.spark._jsparkSession.sessionState()
                ident = state.sqlParser().parseTableIdentifier(table.quoted)
                return str(state.catalog().getTableMetadata(ident).location())
        key = table.quoted.lower()
        if key not in self._locations:
            self._locations[key] = str(self._detail(table)["location"])
        return self._locations[key]

    def add_columns(
        self, table: TableRef, columns: Sequence[Column], *, commit: CommitOptions | None = None
    ) -> None:
        """Add nullable columns (``ALTER TABLE ... ADD COLUMNS``)."""
        statement = add_columns_statement(table, columns)
        with self._conf(self._metadata(commit)):
            self._sql(table, "add columns", statement)

    def version(self, table: TableRef) -> int:
        """The current version: the JVM ``DeltaLog`` snapshot (a log listing, no Spark job), or
        ``DESCRIBE HISTORY ... LIMIT 1`` where that internal API is unavailable."""
        snap = self._latest_jvm_snapshot(table)
        if snap is not None:
            return int(snap.version())
        return int(self._sql(table, "version", describe_history_statement(table, 1))[0]["version"])

    def _latest_jvm_snapshot(self, table: TableRef) -> Any | None:
        """The latest JVM snapshot, or None where the internals are missing or the log is empty
        (a table dropped behind this engine's back: the SQL route then names the error)."""
        try:
            snap = self._jvm_snapshot(table, None)
            with _translate(table, "read Delta log snapshot"):
                if int(snap.version()) >= 0:
                    return snap
        except _InternalApiMissing:
            return None
        self._locations.pop(table.quoted.lower(), None)
        return None

    def _snapshot_from_jvm(self, table: TableRef, snap: Any) -> TableSnapshot:
        """`TableSnapshot` of a JVM Delta snapshot: schema, protocol, partitioning, properties
        and commit time all from the one log state (no SQL statement, no Spark job)."""
        from pyspark.sql.types import StructType

        with _translate(table, "snapshot"):
            # The log's own actions as JSON: one py4j round trip each, where walking the Scala
            # collections costs hundreds.
            meta = _action_json(snap.metadata(), "metaData")
            proto = _action_json(snap.protocol(), "protocol")
            ms = int(_call_scala(snap, "timestamp"))
            version = int(snap.version())
        fields = StructType.fromJson(json.loads(meta["schemaString"])).fields
        props = meta.get("configuration") or {}
        parts = tuple(str(c) for c in meta.get("partitionColumns") or ())
        reader, writer = int(proto["minReaderVersion"]), int(proto["minWriterVersion"])
        readers = sorted(str(f) for f in proto.get("readerFeatures") or ())
        writers = sorted(str(f) for f in proto.get("writerFeatures") or ())
        return TableSnapshot(
            table=table.name,
            version=version,
            timestamp=datetime.fromtimestamp(ms / 1000, tz=timezone.utc) if ms >= 0 else None,
            columns=_columns(fields),
            partition_columns=parts,
            properties={k: str(v) for k, v in props.items() if v is not None},
            protocol=Protocol_(
                min_reader_version=reader,
                min_writer_version=writer,
                reader_features=tuple(readers) if reader >= 3 else (),
                writer_features=tuple(writers) if writer >= 7 else (),
            ),
        )

    def snapshot(self, table: TableRef, version: int | None = None) -> TableSnapshot:
        """Schema, protocol, partitioning, properties and commit time of a version.

        The latest version is read from the JVM Delta snapshot alone (one log state, no SQL
        statement: a checkpoint pins many tables with it). An older version is first opened
        through SQL (its exact schema from the versioned relation, so Delta's own time-travel
        checks apply, e.g. Delta 4.1+ refusing a version past
        ``delta.deletedFileRetentionDuration``), the rest from that version's JVM snapshot.
        Where those internals are unavailable, ``DESCRIBE DETAIL`` and ``DESCRIBE HISTORY``
        answer: then an older version's table features are the latest version's.
        """
        if version is None:
            snap = self._latest_jvm_snapshot(table)
            if snap is not None:
                try:
                    return self._snapshot_from_jvm(table, snap)
                except Exception as exc:  # internals differ: the SQL route answers (and names
                    # any real error itself)
                    _log.debug("fmd spark: snapshot of %s through SQL: %s", table.name, exc)
        with _translate(table, "snapshot"):
            fields = self.spark.sql(select_statement(table, version) + " LIMIT 0").schema.fields
        columns = _columns(fields)
        if version is not None:
            try:
                found = self._snapshot_from_jvm(table, self._jvm_snapshot(table, version))
                if found.version == version:
                    return found.model_copy(update={"columns": columns})
            except Exception as exc:  # internals differ: DESCRIBE DETAIL / HISTORY answer
                _log.debug(
                    "fmd spark: snapshot of %s v%s through SQL: %s", table.name, version, exc
                )
        detail = self._detail(table)
        entries = self.history(table, None if version is not None else 1)
        current = entries[0].version
        at = current if version is None else version
        ts = next((e.timestamp for e in entries if e.version == at), None)
        props = dict(detail.get("properties") or {})
        parts = tuple(detail.get("partitionColumns") or ())
        reader, writer = int(detail["minReaderVersion"]), int(detail["minWriterVersion"])
        features = tuple(sorted(detail.get("tableFeatures") or ()))
        old = self._historical_metadata(table, at) if at != current else None
        if old is not None:
            props, parts, reader, writer = old
        return TableSnapshot(
            table=table.name,
            version=at,
            timestamp=ts,
            columns=columns,
            partition_columns=parts,
            properties={k: str(v) for k, v in props.items() if v is not None},
            protocol=Protocol_(
                min_reader_version=reader,
                min_writer_version=writer,
                reader_features=tuple(f for f in features if f in _READER_WRITER_FEATURES)
                if reader >= 3
                else (),
                writer_features=features if writer >= 7 else (),
            ),
        )

    def _historical_metadata(
        self, table: TableRef, version: int
    ) -> tuple[dict[str, Any], tuple[str, ...], int, int] | None:
        try:
            snap = self._jvm_snapshot(table, version)
            conv = self.spark.sparkContext._jvm.scala.collection.JavaConverters
            meta, proto = snap.metadata(), snap.protocol()
            return (
                dict(conv.mapAsJavaMap(meta.configuration())),
                tuple(conv.seqAsJavaList(meta.partitionColumns())),
                int(proto.minReaderVersion()),
                int(proto.minWriterVersion()),
            )
        except Exception:  # documented fallback: the latest version's metadata
            return None

    def history(self, table: TableRef, limit: int | None = None) -> list[HistoryEntry]:
        """Commits newest first; parameters JSON-decoded, numeric metrics as ints."""
        from pyspark.sql import functions as F

        with _translate(table, "history"):
            df = self.spark.sql(describe_history_statement(table, limit))
            rows = df.withColumn("_fmd_ms", F.expr("unix_millis(timestamp)")).collect()
        out = []
        for r in rows:
            user = _decode(r["userMetadata"]) if r["userMetadata"] else {}
            out.append(
                HistoryEntry(
                    version=int(r["version"]),
                    timestamp=datetime.fromtimestamp(r["_fmd_ms"] / 1000, tz=timezone.utc),
                    operation=str(r["operation"] or ""),
                    parameters={k: _decode(v) for k, v in (r["operationParameters"] or {}).items()},
                    metrics={k: _number(v) for k, v in (r["operationMetrics"] or {}).items()},
                    user_metadata=user if isinstance(user, dict) else {"userMetadata": user},
                )
            )
        return sorted(out, key=lambda e: e.version, reverse=True)

    def count_rows(self, table: TableRef, version: int | None = None) -> RowCount:
        """``SELECT count(*)`` at the version.

        Delta answers ``count(*)`` from the log's file statistics when it can (its metadata-only
        query optimization). ``source`` is ``"stats"`` only when the optimized plan shows that
        happened (no relation left to scan); otherwise it is ``"scan"``.
        """
        text = f"SELECT count(*) AS n FROM {source_sql(TableAt(table=table, version=version))}"
        with _translate(table, "count rows"):
            df = self.spark.sql(text)
            total = int(df.collect()[0]["n"])
        source = "scan"
        with contextlib.suppress(Exception):
            plan = str(df._jdf.queryExecution().optimizedPlan().toString())
            if "LocalRelation" in plan and "Relation" not in plan.replace("LocalRelation", ""):
                source = "stats"
        return RowCount(total=total, source=source)  # type: ignore[arg-type]

    def files(self, table: TableRef, version: int | None = None) -> list[DataFile]:
        """The add actions of the version (JVM ``Snapshot.allFiles``), with deletion vectors."""
        out = []
        for a in self._raw_files(table, version):
            stats = _decode(a.get("stats")) if a.get("stats") else None
            dv = a.get("deletionVector") or {}
            storage, inline = dv.get("storageType"), dv.get("pathOrInlineDv")
            out.append(
                DataFile(
                    path=unquote(str(a["path"])),
                    size_bytes=int(a.get("size") or 0),
                    num_records=stats.get("numRecords") if isinstance(stats, dict) else None,
                    deletion_vector=f"{storage}{inline}@{dv.get('offset')}" if storage else None,
                    deletion_vector_path=deletion_vector_file(storage, inline),
                )
            )
        return sorted(out, key=lambda f: (f.path, f.deletion_vector or ""))

    def missing_files(self, table: TableRef, version: int | None = None) -> list[str]:
        """Data / deletion-vector files of the version missing from storage (Hadoop FS)."""
        raws = self._raw_files(table, version)
        location = self.location(table)
        jvm = self.spark.sparkContext._jvm
        with _translate(table, "check files"):
            base = jvm.org.apache.hadoop.fs.Path(location)
            fs = base.getFileSystem(self.spark._jsparkSession.sessionState().newHadoopConf())
            missing: list[str] = []
            for a in raws:
                dv = a.get("deletionVector") or {}
                dv_path = deletion_vector_file(dv.get("storageType"), dv.get("pathOrInlineDv"))
                checks = [(str(a["path"]), unquote(str(a["path"])))]
                for raw, shown in checks + ([(dv_path, dv_path)] if dv_path else []):
                    child = jvm.org.apache.hadoop.fs.Path(jvm.java.net.URI(raw))
                    if not fs.exists(jvm.org.apache.hadoop.fs.Path(base, child)):
                        missing.append(shown)
        return missing

    def read(
        self, table: TableRef, version: int | None = None, columns: Sequence[str] | None = None
    ) -> Any:
        """The version's rows as a Spark DataFrame (lazy)."""
        with _translate(table, "read"):
            return self.spark.sql(select_statement(table, version, columns))

    def quote(self, identifier: str) -> str:
        """Backtick-quoted (Spark SQL) after validation."""
        return quote_identifier(identifier)

    def sql(
        self,
        query: str,
        sources: Mapping[str, SqlSource],
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run a read-only query; see `DeltaEngine.sql`. Returns a pyarrow Table.

        Raises:
            EngineError: parameters on Spark older than 3.5 (no Python-valued named parameters).
        """
        names = {bind_alias(a): source_sql(s) for a, s in sources.items()}
        text = query.format(**names)
        args: dict[str, Any] | None = None
        if params:
            text, args = bind_parameters(text, params)
            if _spark_version(self.spark) < (3, 5):
                raise EngineError(
                    f"SQL parameters need Spark 3.5+, this session is {self.spark.version}",
                    hint="use a Fabric runtime 1.3 or later",
                )
        first = next(iter(sources.values()), None)
        table = first.table if isinstance(first, TableAt) else None
        if isinstance(first, (TableRef, str)):
            table = TableRef.parse(first)
        with _translate(table, "query"):
            return _to_arrow(self.spark.sql(text, args=args) if args else self.spark.sql(text))

    def _dataframe(self, table: TableRef, data: Any) -> Any:
        if hasattr(data, "write") and hasattr(data, "schema"):
            return data  # a Spark DataFrame
        import pyarrow as pa

        if isinstance(data, pa.RecordBatch):
            data = pa.Table.from_batches([data])
        if isinstance(data, pa.Table):
            from pyspark.sql.pandas.types import from_arrow_schema

            try:
                schema = from_arrow_schema(data.schema, prefer_timestamp_ntz=True)
            except TypeError:  # Spark < 3.5 has no prefer_timestamp_ntz
                schema = from_arrow_schema(data.schema)
            # to_pylist keeps nulls in integer columns and tz-aware timestamps exact (pandas
            # would turn them into floats / naive local times).
            # One file per write of driver-local data, as delta-rs writes it.
            with _translate(table, "convert Arrow data"):
                return self.spark.createDataFrame(data.to_pylist(), schema=schema).coalesce(1)
        raise ConfigError(
            f"cannot write {type(data).__name__}",
            table=table.name,
            hint="pass a pyarrow Table or a Spark DataFrame",
        )

    def write(
        self,
        table: TableRef,
        data: Any,
        *,
        mode: WriteMode = "append",
        schema_mode: SchemaMode | None = None,
        commit: CommitOptions | None = None,
    ) -> int:
        """Append/overwrite; ``txnAppId``/``txnVersion`` make a repeated write a no-op."""
        df = self._dataframe(table, data)
        existing = self.exists(table)
        if not existing:
            self._sql(table, "create schema", create_schema_statement(table))
        writer = df.write.format("delta").mode(mode)
        if schema_mode == "merge":
            writer = writer.option("mergeSchema", "true")
        elif schema_mode == "overwrite":
            writer = writer.option("overwriteSchema", "true")
        if commit and commit.metadata:
            writer = writer.option("userMetadata", json.dumps(commit.metadata, sort_keys=True))
        if commit and commit.app_id is not None and commit.app_version is not None:
            writer = writer.option("txnAppId", commit.app_id)
            writer = writer.option("txnVersion", str(int(commit.app_version)))
        # On an existing table the option wins over the session conf. A write that creates its
        # table (CTAS drops the option: Delta 3.2 to 4.2) or has no metadata of its own takes the
        # conf, which another thread may have set: it commits under the conf lock, conf set.
        own = existing and bool(commit and commit.metadata)
        guard = contextlib.nullcontext() if own else self._conf(self._metadata(commit))
        with guard, _translate(table, f"write ({mode})"):
            if existing:
                # saveAsTable(overwrite) on an existing table is a catalog REPLACE in Spark 3;
                # the path writer is Delta's own overwrite (schema checks, options honoured).
                writer.save(self.location(table))
            else:
                writer.saveAsTable(table.quoted)
        return self.version(table)

    def update(
        self,
        table: TableRef,
        where: Mapping[str, Any],
        values: Mapping[str, Any],
        *,
        commit: CommitOptions | None = None,
    ) -> int:
        """``DeltaTable.update`` with Column expressions (values as literals, never SQL text).

        Returns ``numUpdatedRows`` of the UPDATE commit (0 when nothing was committed).
        """
        from delta.tables import DeltaTable
        from pyspark.sql import functions as F

        if not where or not values:
            raise ConfigError("update needs a `where` and a `set` column", table=table.name)
        with _translate(table, "update"):
            existing = set(self.spark.sql(select_statement(table) + " LIMIT 0").columns)
        terms = []
        for col, val in where.items():
            if col not in existing:
                raise ConfigError(f"column {col!r} does not exist", table=table.name)
            vals = list(val) if isinstance(val, (list, tuple, set, frozenset)) else [val]
            if not vals or any(v is None for v in vals):
                raise ConfigError(f"update filter on {col!r} needs values", table=table.name)
            terms.append(F.col(col) == F.lit(vals[0]) if len(vals) == 1 else F.col(col).isin(vals))
        for col in values:
            if col not in existing:
                raise ConfigError(f"column {col!r} does not exist", table=table.name)
        before = self.version(table)
        with self._conf(self._metadata(commit)), _translate(table, "update"):
            DeltaTable.forName(self.spark, table.quoted).update(
                condition=functools.reduce(operator.and_, terms),
                set={c: F.lit(v) for c, v in values.items()},
            )
        last = self.history(table, 1)[0]
        if last.version == before or last.operation != "UPDATE":
            return 0
        return int(last.metrics.get("numUpdatedRows", 0))

    def restore(
        self, table: TableRef, version: int, *, commit: CommitOptions | None = None
    ) -> RestoreResult:
        """``RESTORE TABLE ... TO VERSION AS OF n`` with the commit metadata set for the call.

        Raises:
            EngineError: restoring to the current version (nothing to do).
        """
        statement = restore_statement(table, version)
        before = self.version(table)
        if version == before:
            raise EngineError(
                f"restore: table is already at version {version}",
                table=table.name,
                hint="nothing to restore; treat this table as a no-op",
            )
        with self._conf(self._metadata(commit)):
            rows = self._sql(table, f"restore to version {version}", statement)
        metrics = {k: _number(v) for k, v in (rows[0].asDict() if rows else {}).items()}
        # the port's names for the file-level effect (delta-rs' metrics), beside Spark's own
        for port_name, spark_name in _RESTORE_METRICS.items():
            if spark_name in metrics:
                metrics.setdefault(port_name, metrics[spark_name])
        return RestoreResult(
            table=table.name,
            restored_to=version,
            version_before=before,
            version_after=self.version(table),
            metrics=metrics,
        )

    def vacuum(
        self,
        table: TableRef,
        *,
        retention_hours: int,
        dry_run: bool = True,
        keep_versions: Sequence[int] = (),
        enforce_retention: bool = True,
    ) -> VacuumResult:
        """VACUUM (dry run by default); a real run returns the files its dry run listed first.

        ``enforce_retention=False`` sets ``spark.databricks.delta.retentionDurationCheck.enabled``
        to false for the call. Fabric does not honour that at session level: set it in the
        Environment (or workspace Spark settings) instead.

        From Delta 4.1, VACUUM ignores ``RETAIN n HOURS`` unless n is 0 and uses the table's
        ``delta.deletedFileRetentionDuration``: a request for another retention is refused
        rather than silently run with a different one (set the property first).

        Raises:
            EngineError: ``keep_versions`` given (Spark VACUUM cannot protect versions; the
                maintenance layer protects checkpoints through retention properties instead).
            RetentionError: retention below Delta's check while it is enforced, or (Delta 4.1+)
                a retention other than 0 that differs from the table's property.
        """
        if keep_versions:
            raise EngineError(
                "vacuum: keep_versions is not supported by Spark VACUUM",
                table=table.name,
                hint="protect restore points with a retention covering them (maintenance does)",
            )
        hours = _version(retention_hours, "retention_hours")
        if self.vacuum_reads_table_retention and hours != 0:
            table_hours = retention_hours_of(self.properties(table), DELETED_FILE_RETENTION)
            if hours != math.ceil(table_hours):
                version = ".".join(str(p) for p in self.delta_version)
                raise RetentionError(
                    f"vacuum: Delta {version} ignores RETAIN {hours} HOURS and would vacuum with "
                    f"the table's {DELETED_FILE_RETENTION} of {table_hours:g} hours",
                    table=table.name,
                    hint=f"set {DELETED_FILE_RETENTION} to 'interval {hours} hours' first "
                    f"(rt.maintenance.set_retention), or vacuum with {math.ceil(table_hours)} hours",
                )
        location = self.location(table).rstrip("/") + "/"
        conf = {} if enforce_retention else {_RETENTION_CONF: "false"}
        with self._conf(conf):
            rows = self._sql(table, "vacuum (dry run)", vacuum_statement(table, hours, True))
            paths = [str(r["path"]) for r in rows]
            size = self._sizes(paths)
            if not dry_run:
                self._sql(table, "vacuum", vacuum_statement(table, hours, False))
        files = sorted(p[len(location) :] if p.startswith(location) else p for p in paths)
        return VacuumResult(
            table=table.name,
            dry_run=dry_run,
            retention_hours=hours,
            files=tuple(files),
            bytes=size,
        )

    def _sizes(self, paths: Sequence[str]) -> int | None:
        """Total size of files, listing each folder once (not one storage call per file)."""
        by_dir: dict[str, list[str]] = {}
        for p in paths:
            folder, _, file_name = p.rpartition("/")
            by_dir.setdefault(folder, []).append(file_name)
        try:
            jvm = self.spark.sparkContext._jvm
            conf = self.spark._jsparkSession.sessionState().newHadoopConf()
            total = 0
            for folder, names in by_dir.items():
                path = jvm.org.apache.hadoop.fs.Path(folder)
                listing = path.getFileSystem(conf).listStatus(path)
                sizes = {st.getPath().getName(): int(st.getLen()) for st in listing}
                total += sum(sizes.get(n, 0) for n in names)
            return total
        except Exception:  # sizes are informative only
            return None

    def optimize(
        self,
        table: TableRef,
        *,
        zorder_by: Sequence[str] = (),
        vorder: bool = False,
        commit: CommitOptions | None = None,
    ) -> OptimizeResult:
        """OPTIMIZE (+ ZORDER BY, + VORDER when requested and the runtime has it)."""
        cols = [validate_identifier(c, what="Z-ORDER column", table=table.name) for c in zorder_by]
        use_vorder = bool(vorder and self.vorder_supported)
        with self._conf(self._metadata(commit)):
            rows = self._sql(table, "optimize", optimize_statement(table, cols, use_vorder))
        raw = rows[0].asDict(recursive=True).get("metrics") if rows else None
        metrics = raw if isinstance(raw, dict) else {}
        return OptimizeResult(
            table=table.name,
            files_added=int(metrics.get("numFilesAdded") or 0),
            files_removed=int(metrics.get("numFilesRemoved") or 0),
            zorder_by=tuple(cols),
            vorder=use_vorder,
            metrics={k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool))},
        )

    def properties(self, table: TableRef) -> dict[str, str]:
        """The table configuration of the current version (the JVM snapshot's metadata, else
        ``DESCRIBE DETAIL`` ``properties``).

        ``SHOW TBLPROPERTIES`` would add protocol entries (``delta.minReaderVersion``,
        ``delta.feature.*``) that are not table configuration; the delta-rs adapter has none.
        """
        snap = self._latest_jvm_snapshot(table)
        if snap is not None:  # the log state alone: no statement (RESTORE reads it twice)
            with contextlib.suppress(Exception):  # internals differ: DESCRIBE DETAIL answers
                found = _action_json(snap.metadata(), "metaData").get("configuration") or {}
                return {str(k): str(v) for k, v in found.items() if v is not None}
        props = self._detail(table).get("properties") or {}
        return {k: str(v) for k, v in props.items() if v is not None}

    def set_properties(
        self,
        table: TableRef,
        properties: Mapping[str, str],
        *,
        commit: CommitOptions | None = None,
    ) -> None:
        """``ALTER TABLE ... SET TBLPROPERTIES`` (commit metadata set for the statement)."""
        statement = set_properties_statement(table, properties)
        with self._conf(self._metadata(commit)):
            self._sql(table, "set properties", statement)

    def create_log_checkpoint(self, table: TableRef, version: int | None = None) -> bool:
        """Write a Delta log checkpoint of ``version`` (default: the current one) through the
        JVM ``DeltaLog``.

        Nothing is written when that version already has one (a table re-pinned without a new
        commit): on Spark a log checkpoint is a job that rewrites the table's whole state. The
        snapshot checkpointed is the one a caller has just read (``files`` of the same
        version), so its state is not reconstructed again.

        Returns:
            True when the version has a log checkpoint; False if the internals are unavailable
            (or, for an older version than the current, do not take a snapshot).
        """
        try:
            log = self._delta_log(table)
            snap = self._jvm_snapshot(table, version)
            with _translate(table, "create log checkpoint"):
                if _has_log_checkpoint(snap):
                    return True
                try:
                    _call_scala(log, "checkpoint", snap)
                except _InternalApiMissing:  # Delta versions where it takes no snapshot
                    if version is not None and version != int(_call_scala(log, "update").version()):
                        return False  # it would checkpoint the current version, not this one
                    _call_scala(log, "checkpoint")
        except _InternalApiMissing:
            return False
        return True

    def transaction_version(self, table: TableRef, app_id: str) -> int | None:
        """The last ``txnVersion`` recorded for ``app_id``.

        Read from the JVM snapshot's ``transactions`` map; where that internal API is missing,
        from the ``txn`` actions of the ``_delta_log`` commit and checkpoint files (Spark reads).
        """
        try:
            snap = self._jvm_snapshot(table, None)
            with _translate(table, "transaction version"):
                found = snap.transactions().get(app_id)
                return int(found.get()) if found.isDefined() else None
        except _InternalApiMissing:
            return self._log_transaction_version(table, app_id)

    def _log_transaction_version(self, table: TableRef, app_id: str) -> int | None:
        from pyspark.sql import functions as F

        log = self.location(table).rstrip("/") + "/_delta_log/"
        versions = []
        for reader, glob in [
            (self.spark.read.json, "*.json"),
            (self.spark.read.parquet, "*.checkpoint*.parquet"),
        ]:
            try:
                df = reader(log + glob)
            except Exception:  # no file of that kind (e.g. no checkpoint yet)
                continue
            if "txn" not in df.columns:
                continue
            with _translate(table, "transaction version (log)"):
                got = df.where(F.col("txn.appId") == F.lit(app_id)).agg(F.max("txn.version"))
                value = got.collect()[0][0]
            if value is not None:
                versions.append(int(value))
        return max(versions) if versions else None


__all__ = [
    "SparkEngine",
    "add_columns_statement",
    "bind_parameters",
    "classify_error",
    "create_schema_statement",
    "create_table_statement",
    "describe_detail_statement",
    "describe_history_statement",
    "optimize_statement",
    "property_key",
    "restore_statement",
    "select_statement",
    "set_properties_statement",
    "source_sql",
    "sql_string",
    "vacuum_statement",
]
