"""Engine-neutral helpers for scenario tests written once and run on every engine.

The scenario suites take the ``engine`` / ``any_rt`` fixtures of the root ``conftest.py`` (delta-rs,
and Spark + Delta under the ``spark_delta`` marker) and reach tables only through the port, so the
same assertions hold on both: rows come back through `DeltaEngine.sql` (Arrow on both engines),
files are found through `DeltaEngine.location`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pyarrow as pa

import fmd_runtime as fmd
from fmd_runtime.engine import DeltaEngine, TableAt
from fmd_runtime.tables import TableRef


def ref(name: str | TableRef) -> TableRef:
    return name if isinstance(name, TableRef) else TableRef.parse(name)


def read(engine: DeltaEngine, table: str | TableRef, version: int | None = None) -> pa.Table:
    """The table's rows at a version as an Arrow table (both engines)."""
    return engine.sql("SELECT * FROM {t}", {"t": TableAt(table=ref(table), version=version)})


def rows(
    engine: DeltaEngine, table: str | TableRef, key: str, version: int | None = None
) -> list[dict[str, Any]]:
    """The rows of a version sorted by ``key``: for row-for-row comparisons."""
    return sorted(read(engine, table, version).to_pylist(), key=lambda r: r[key])


def keys(engine: DeltaEngine, table: str | TableRef, key: str, version: int | None = None) -> list:
    return sorted(read(engine, table, version).column(key).to_pylist())


def table_dir(engine: DeltaEngine, table: str | TableRef) -> Path:
    """The table's local folder (a ``file:`` location on Spark, a path on delta-rs)."""
    location = engine.location(ref(table))
    parsed = urlparse(location)
    return Path(unquote(parsed.path)) if parsed.scheme in {"file", ""} else Path(location)


def connect(engine: DeltaEngine, run_id: str, **kw: Any) -> fmd.Runtime:
    """A Runtime on ``engine`` (the suites' runs share one engine, as notebooks share a lakehouse)."""
    kw.setdefault("triggered_by", "pytest")
    return fmd.connect(engine=engine, run_id=run_id, **kw)


def size(engine: DeltaEngine, full: int, spark: int) -> int:
    """How many tables/rows a scenario builds: every Delta commit costs ~0.3-4 s on local Spark,
    so Spark runs the same assertions on a smaller lakehouse (a cost knob, not a behaviour)."""
    return spark if engine.name == "spark" else full


def forget_log(engine: DeltaEngine) -> None:
    """After editing a ``_delta_log`` by hand: Spark caches each table's DeltaLog (and its
    snapshot) in the JVM, so clear that cache; delta-rs reads the log afresh on every call."""
    spark = getattr(engine, "spark", None)
    if spark is not None:
        spark.sparkContext._jvm.org.apache.spark.sql.delta.DeltaLog.clearCache()


def age(engine: DeltaEngine, table: str | TableRef, days_by_version: dict[int, float]) -> None:
    """`benchmarks.common.age_commits` on every engine: those commits, and the files they added,
    move ``days`` into the past.

    What each engine reads the age from (measured on Delta 3.2 and 4.2, delta-rs 1.6): no
    in-commit timestamps are enabled, so Spark's history and its time-travel bound (Delta 4.1+)
    take a commit's time from its file's modification time; VACUUM compares the ``remove``
    actions' ``deletionTimestamp`` with the retention, and Spark deletes a file only if its own
    modification time is older too. So besides ``age_commits`` (commit JSON and its mtime), the
    data and deletion-vector files an aged commit added get the commit's aged ``modificationTime``,
    Hadoop's ``.<commit>.json.crc`` checksums of the rewritten commits are dropped (the local file
    system refuses a file its checksum does not match) and Spark's DeltaLog cache is cleared.
    """
    import json
    import os

    from benchmarks.common import age_commits
    from fmd_runtime.engine.deltars import deletion_vector_file

    folder = table_dir(engine, table)
    age_commits(folder, days_by_version)
    log = folder / "_delta_log"
    for version in sorted(days_by_version):
        (log / f".{version:020d}.json.crc").unlink(missing_ok=True)
        commit = (log / f"{version:020d}.json").read_text().splitlines()
        for add in (json.loads(line).get("add") for line in commit if line.strip()):
            if not add or not add.get("modificationTime"):
                continue
            stamp = add["modificationTime"] / 1000
            dv = add.get("deletionVector") or {}
            dv_file = deletion_vector_file(dv.get("storageType"), dv.get("pathOrInlineDv"))
            for name in [unquote(add["path"]), *([dv_file] if dv_file else [])]:
                path = folder / name
                if path.exists():
                    os.utime(path, (stamp, stamp))
    forget_log(engine)


def twin(engine: DeltaEngine) -> DeltaEngine:
    """A second engine on the same tables, as another notebook's connection has (its own locks):
    a new `DeltaRsEngine` on the same lakehouse, a new `SparkEngine` on the process's session."""
    from fmd_runtime.engine.deltars import DeltaRsEngine

    inner = getattr(engine, "inner", engine)  # a FaultyEngine's real engine
    if isinstance(inner, DeltaRsEngine):
        return DeltaRsEngine(inner.root)
    return type(inner)(inner.spark)  # type: ignore[attr-defined,call-arg]


def log_covers_files(engine: DeltaEngine, table: str | TableRef) -> bool:
    """``delta.logRetentionDuration >= delta.deletedFileRetentionDuration`` on the table (Delta
    4.1+ refuses the reverse; a restore point outlives neither)."""
    from fmd_runtime.engine import DELETED_FILE_RETENTION, LOG_RETENTION, retention_hours

    props = engine.properties(ref(table))
    return retention_hours(props, LOG_RETENTION) >= retention_hours(props, DELETED_FILE_RETENTION)


def run_threads(count: int, worker: Callable[[int], Any]) -> None:
    """Run ``worker(t)`` for t in 0..count-1 in threads released together (a barrier, so they
    really race); re-raise the first failure once all have ended."""
    errors: list[BaseException] = []
    ready = threading.Barrier(count)

    def run(t: int) -> None:
        try:
            ready.wait()
            worker(t)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(count)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]
