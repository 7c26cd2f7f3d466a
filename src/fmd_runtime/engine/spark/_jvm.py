"""Delta's JVM internals through py4j: ``DeltaLog``, snapshots, Scala calls, file listings.

Some operations have no public Delta API on Spark (a version's files and deletion vectors, log
checkpoints, idempotent-write versions, the protocol and properties of an older version). They
use Delta's JVM classes, whose signatures change between Delta releases, so every call goes
through `_call_scala` (which fills Scala default arguments and raises `_InternalApiMissing` when
no arity is callable): the adapter then falls back where a public route exists, and otherwise
names the internal API that was unavailable.

Functions here take the session and their inputs explicitly; the engine keeps the state (its
location cache and `FileCache`).

Example:
    >>> FileCache(limit=10).get(("path", 1, 0)) is None
    True
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

from fmd_runtime.engine._deltalog import deletion_vector_file
from fmd_runtime.engine._models import Protocol_, TableSnapshot
from fmd_runtime.engine.spark._errors import _translate
from fmd_runtime.engine.spark._frames import struct_columns
from fmd_runtime.engine.sqltext import version_number
from fmd_runtime.errors import EngineError
from fmd_runtime.tables import TableRef

# File entries an engine keeps of the versions it listed (a rollback lists the pinned and current
# versions of each table several times: plan, pre-checkpoint, validation): ~100 MB at most.
_FILES_HELD = 200_000


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


class FileCache:
    """The add actions of recently listed versions, least recently used first (thread-safe).

    A version's files never change: they are remembered per log path, version and commit time
    (a table dropped and re-created at the same path has other commit times), up to ``limit``
    entries in all (the newest version listed is always kept).

    Example:
        >>> cache = FileCache(limit=10)
        >>> cache.put(("p", 1, 0), [{"path": "a"}]); cache.get(("p", 1, 0))
        [{'path': 'a'}]
    """

    def __init__(self, *, limit: int = _FILES_HELD) -> None:
        self._files: OrderedDict[tuple[str, int, int], list[dict[str, Any]]] = OrderedDict()
        self._held = 0
        self._limit = limit
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int, int]) -> list[dict[str, Any]] | None:
        """The files remembered for ``key`` (marked as just used), or None."""
        with self._lock:
            hit = self._files.get(key)
            if hit is not None:
                self._files.move_to_end(key)
            return hit

    def put(self, key: tuple[str, int, int], files: list[dict[str, Any]]) -> None:
        """Remember ``files`` for ``key``, forgetting the least recently used beyond the limit."""
        with self._lock:
            self._files[key] = files
            self._held = sum(len(v) for v in self._files.values())
            while self._held > self._limit and len(self._files) > 1:
                _, dropped = self._files.popitem(last=False)
                self._held -= len(dropped)


def open_delta_log(spark: Any, table: TableRef, location: Callable[[], str]) -> Any:
    """The JVM ``DeltaLog`` of a table (``location`` is asked only once the class is there).

    Raises:
        _InternalApiMissing: no JVM behind the session (Spark Connect) or no Delta classes.
    """
    from py4j.java_gateway import JavaClass

    try:
        delta_log = spark.sparkContext._jvm.org.apache.spark.sql.delta.DeltaLog
    except AttributeError:  # no JVM behind the session (Spark Connect)
        delta_log = None
    if not isinstance(delta_log, JavaClass):
        raise _InternalApiMissing("the Delta JVM class DeltaLog is not loaded", table=table.name)
    path = location()
    with _translate(table, "open Delta log (DeltaLog internals)"):
        # py4j runs each Python thread's calls on its own JVM thread, where no active
        # session is set; Delta's log replay needs one once the table has a log checkpoint
        # (DELTA_SPARK_SESSION_NOT_SET from `Snapshot.allFiles` in a worker thread).
        jsession = spark._jsparkSession
        spark.sparkContext._jvm.org.apache.spark.sql.SparkSession.setActiveSession(jsession)
        return delta_log.forTable(jsession, path)


def snapshot_at(log: Any, table: TableRef, version: int | None) -> Any:
    """A Delta ``Snapshot`` (JVM) of ``log`` at a version (None: the latest, log updated).

    Raises:
        _InternalApiMissing: the snapshot internals are not callable on this runtime.
    """
    try:
        with _translate(table, "read Delta log snapshot"):
            if version is None:
                return _call_scala(log, "update")
            return _call_scala(log, "getSnapshotAt", version_number(version))
    except _InternalApiMissing as exc:
        raise _InternalApiMissing(
            f"reading the Delta log snapshot needs DeltaLog internals: {exc.message}",
            table=table.name,
            hint=exc.hint,
        ) from exc


def snapshot_files(
    spark: Any, table: TableRef, snap: Any, cache: FileCache
) -> list[dict[str, Any]]:
    """The add actions (path, size, stats, deletion vector) of a JVM snapshot, cached."""
    from pyspark.sql import DataFrame

    with _translate(table, "list files"):
        key = _files_key(snap)
        hit = cache.get(key) if key else None
        if hit is not None:
            return hit
        df = DataFrame(snap.allFiles().toDF(), spark)
        cols = ["path", "size", "stats"]
        cols += ["deletionVector"] if "deletionVector" in df.columns else []
        found = [r.asDict(recursive=True) for r in df.select(*cols).collect()]
    if key is not None:
        cache.put(key, found)
    return found


def snapshot_from_jvm(table: TableRef, snap: Any) -> TableSnapshot:
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
        columns=struct_columns(fields),
        partition_columns=parts,
        properties={k: str(v) for k, v in props.items() if v is not None},
        protocol=Protocol_(
            min_reader_version=reader,
            min_writer_version=writer,
            reader_features=tuple(readers) if reader >= 3 else (),
            writer_features=tuple(writers) if writer >= 7 else (),
        ),
    )


def configuration(snap: Any) -> dict[str, str]:
    """The table configuration (properties) of a JVM snapshot, from its ``metaData`` action."""
    found = _action_json(snap.metadata(), "metaData").get("configuration") or {}
    return {str(k): str(v) for k, v in found.items() if v is not None}


def historical_metadata(
    spark: Any, snap: Any
) -> tuple[dict[str, Any], tuple[str, ...], int, int] | None:
    """Properties, partition columns and protocol versions of an older JVM snapshot (None where
    the internals differ: the caller then takes the latest version's)."""
    try:
        conv = spark.sparkContext._jvm.scala.collection.JavaConverters
        meta, proto = snap.metadata(), snap.protocol()
        return (
            dict(conv.mapAsJavaMap(meta.configuration())),
            tuple(conv.seqAsJavaList(meta.partitionColumns())),
            int(proto.minReaderVersion()),
            int(proto.minWriterVersion()),
        )
    except Exception:  # documented fallback: the latest version's metadata
        return None


def missing_from_storage(
    spark: Any, table: TableRef, location: str, raws: Sequence[dict[str, Any]]
) -> list[str]:
    """Data / deletion-vector files of ``raws`` (add actions) not in storage (Hadoop FS)."""
    jvm = spark.sparkContext._jvm
    with _translate(table, "check files"):
        base = jvm.org.apache.hadoop.fs.Path(location)
        fs = base.getFileSystem(spark._jsparkSession.sessionState().newHadoopConf())
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


def file_sizes(spark: Any, paths: Sequence[str]) -> int | None:
    """Total size of files, listing each folder once (not one storage call per file)."""
    by_dir: dict[str, list[str]] = {}
    for p in paths:
        folder, _, file_name = p.rpartition("/")
        by_dir.setdefault(folder, []).append(file_name)
    try:
        jvm = spark.sparkContext._jvm
        conf = spark._jsparkSession.sessionState().newHadoopConf()
        total = 0
        for folder, names in by_dir.items():
            path = jvm.org.apache.hadoop.fs.Path(folder)
            listing = path.getFileSystem(conf).listStatus(path)
            sizes = {st.getPath().getName(): int(st.getLen()) for st in listing}
            total += sum(sizes.get(n, 0) for n in names)
        return total
    except Exception:  # sizes are informative only
        return None


def log_transaction_version(spark: Any, table: TableRef, location: str, app_id: str) -> int | None:
    """The last ``txn`` version of ``app_id`` in the ``_delta_log`` commit and checkpoint files
    (Spark reads: the route where the snapshot's ``transactions`` internal is missing)."""
    from pyspark.sql import functions as F

    log = location.rstrip("/") + "/_delta_log/"
    versions = []
    for reader, glob in [
        (spark.read.json, "*.json"),
        (spark.read.parquet, "*.checkpoint*.parquet"),
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


def checkpoint_log(log: Any, snap: Any, table: TableRef, version: int | None) -> bool:
    """Write a log checkpoint of ``snap`` (the JVM snapshot of ``version``) through ``log``.

    Nothing is written when that version already has one.

    Returns:
        True when the version has a log checkpoint afterwards; False when only the current
        version could be checkpointed and ``version`` is an older one.

    Raises:
        _InternalApiMissing: the checkpoint internals are not callable on this runtime.
    """
    with _translate(table, "create log checkpoint"):
        if _has_log_checkpoint(snap):
            return True
        try:
            _call_scala(log, "checkpoint", snap)
        except _InternalApiMissing:  # Delta versions where it takes no snapshot
            if version is not None and version != int(_call_scala(log, "update").version()):
                return False  # it would checkpoint the current version, not this one
            _call_scala(log, "checkpoint")
    return True
