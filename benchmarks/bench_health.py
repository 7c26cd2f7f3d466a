"""The daily health report vs the raw reads it needs, side by side, on delta-rs and on Spark.

A platform with 30 days of history: 100 tables (``--quick``: 20) of 30 commits each, one commit
per day (the commit timestamps aged in the log, `benchmarks.common.age_commits`), 30 daily batch
checkpoints pinning every table (CheckpointHistory + CheckpointTables rows), one ledger row per
table and day (EntityRuns, a few failed), a watermark event per table and day, a weekly
maintenance summary. The tables are written once with delta-rs; the Spark runtime sees the same
folders, registered in its catalog (``CREATE TABLE ... USING DELTA LOCATION``), so both engines
read the same bytes.

Per engine, in one process:

- **raw reads**: each table's history once (the bounded pool, as the report) + each metadata
  table the report reads, read whole once (PipelineConfig, CheckpointHistory, CheckpointTables,
  EntityRuns, SyncAuditLog, Watermarks);
- **first report**: ``rt.health.report(thresholds={"history_days": 30})`` as the pipeline runs
  it (page, HealthFindings, the scan's marks, audit), with no high-water mark yet: every table's
  whole history is read, as the raw reads do;
- **next report**: the same again, the marks set: only the commits since are read (the daily
  case).

Goal: the first report <= 2x the raw reads. On Spark every history read is a ``DESCRIBE HISTORY``
(~0.1-0.5 s each on 2 cores), so Spark uses the same tables when ``--quick`` and 40 otherwise
(registration and reads of 100 tables take minutes there; the ratio is what is compared).
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import age_commits, measure, table

GOAL = 2.0
DAYS = 30
READS = ("PipelineConfig", "CheckpointHistory", "CheckpointTables", "EntityRuns", "Watermarks")


def _build(root: Path, n_tables: int) -> list[str]:
    """The platform above on the embedded engine; returns the table names."""
    import pyarrow as pa

    import fmd_runtime as fmd
    from fmd_runtime.engine import Column
    from fmd_runtime.store import utcnow

    rt = fmd.connect(lakehouse=root, create=True, run_id="bench-setup", triggered_by="bench")
    cols = [Column(name="Id", type="bigint", nullable=False), Column(name="Name", type="string")]
    names = [f"bench.t{i:03d}" for i in range(n_tables)]
    now = utcnow()

    def one(name: str) -> None:
        ref = rt.table(name)
        rt.engine.create(ref, cols)
        for day in range(DAYS):
            ids = list(range(day * 10, day * 10 + 10))
            rt.engine.write(
                ref, pa.table({"Id": pa.array(ids, pa.int64()), "Name": [f"n{i}" for i in ids]})
            )
        age_commits(root / "Tables" / "bench" / ref.table, {v: DAYS - v for v in range(DAYS + 1)})

    assert all(o.ok for o in rt.map_tables(one, names, label="Building"))
    for name in names:
        rt.configure_table(name, primary_key=["Id"])
    headers, pins, ledger, marks = [], [], [], []
    for day in range(1, DAYS + 1):
        at = now - timedelta(days=DAYS - day, hours=1)
        cp = str(uuid.uuid4())
        headers.append(
            {
                "CheckpointId": cp,
                "CheckpointName": f"bench_batch_{day:02d}",
                "CheckpointType": "DailyBatch",
                "CreatedDate": at,
                "TablesIncluded": n_tables,
                "TotalRows": n_tables * day * 10,
                "ValidationStatus": "Validated",
                "RetentionDate": date.today() + timedelta(days=30),
                "IsActive": True,
                "Scope": "bench.*",
                "RestorabilityStatus": "Restorable",
                "LastVerifiedDate": now - timedelta(days=1),
            }
        )
        for i, name in enumerate(names):
            pins.append(
                {
                    "CheckpointId": cp,
                    "SchemaName": "bench",
                    "TableName": name.split(".")[1],
                    "TableVersion": day,
                    "VersionTimestamp": at,
                    "TotalRows": day * 10,
                    "FileCount": day,
                    "TotalBytes": day * 700 + i,
                    "ValidationStatus": "Validated",
                }
            )
            entity = name.split(".")[1]
            ledger.append(
                {
                    "RunId": f"sync-{day}",
                    "EntityId": entity,
                    "Layer": "bronze",
                    "SchemaName": "bench",
                    "TableName": entity,
                    "Status": "Failed" if (i + day) % 97 == 0 else "Succeeded",
                    "TableVersion": day,
                    "EventTime": at,
                    "EntryId": str(uuid.uuid4()),
                }
            )
            marks.append(
                {
                    "EntityId": entity,
                    "Layer": "bronze",
                    "SchemaName": "bench",
                    "TableName": entity,
                    "Kind": "int",
                    "Operation": "Commit",
                    "Value": str(day * 10),
                    "RunId": f"sync-{day}",
                    "EventTime": at,
                    "EventId": str(uuid.uuid4()),
                }
            )
    rt.store.append("CheckpointHistory", headers)
    rt.store.append("CheckpointTables", pins)
    rt.store.append("EntityRuns", ledger)
    rt.store.append("Watermarks", marks)
    rt.audit.event(
        "MaintenanceSummary",
        "Succeeded",
        dry_run=False,
        details={"status": "Succeeded", "tables_failed": 0, "bytes_reclaimed": 10_000},
    )
    rt.close()
    return names


def _raw_reads(rt: Any, names: list[str]) -> None:
    """What the report needs, read plainly: each history once, each metadata table whole."""
    outcomes = rt.map_tables(lambda n: rt.engine.history(rt.table(n)), names, label="History")
    assert all(o.ok for o in outcomes)
    for name in (*READS, "SyncAuditLog"):
        rt.store.read(name)


def _measure(rt: Any, names: list[str], files: Path) -> dict[str, Any]:
    # the measured tables exactly (Spark registers only some of the 100 PipelineConfig tables:
    # unnamed, the others would be "missing" and the scan would verify every checkpoint again)
    thresholds: dict[str, Any] = {"history_days": DAYS}
    scope = ",".join(names)
    _raw_reads(rt, names)  # warm-up: JIT, caches, log state on both sides
    rt.health.report(tables=scope, write=False, alert=False, thresholds=thresholds)  # no marks
    raw = measure(lambda: _raw_reads(rt, names))
    # the first report reads every table's whole history (no high-water mark yet) ...
    first = measure(lambda: rt.health.report(tables=scope, thresholds=thresholds, files_root=files))
    # ... the next ones only the commits since the marks the first one recorded
    next_day = measure(
        lambda: rt.health.report(tables=scope, thresholds=thresholds, files_root=files)
    )
    report = first.value
    assert report.tables_scanned == len(names) and len(report.storage) == len(names)
    assert report.html_path and Path(report.html_path).read_text().count("<svg") == 3
    return {"raw": raw, "first": first, "next": next_day, "report": report}


def _spark_runtime(root: Path, names: list[str]) -> tuple[Any, str]:
    """A Spark runtime over the same folders (tables registered by location)."""
    import fmd_runtime as fmd
    from fmd_runtime.store.schemas import ALL_TABLES
    from fmd_runtime.testing import local_spark_session, reset_catalog, session_runtime

    spark = local_spark_session()
    reset_catalog(spark)
    for schema in ("bench", "metadata"):
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {schema}")
    for name in names:
        path = root / "Tables" / "bench" / name.split(".")[1]
        spark.sql(f"CREATE TABLE {name} USING DELTA LOCATION '{path}'")
    for t in ALL_TABLES:
        path = root / "Tables" / "metadata" / t.name
        spark.sql(f"CREATE TABLE metadata.{t.name} USING DELTA LOCATION '{path}'")
    pair = session_runtime()
    label = pair.label if pair else "Spark"
    return fmd.connect(spark=spark, run_id="bench-health-spark", triggered_by="bench"), label


def _say(result: tuple[str, int, dict[str, Any]]) -> None:
    """Print one engine's times as soon as they are measured (a long Spark run shows progress)."""
    engine, n, m = result
    print(
        f"{engine}: {n} tables, raw {m['raw'].seconds:.2f} s, first report "
        f"{m['first'].seconds:.2f} s, next {m['next'].seconds:.2f} s",
        flush=True,
    )


def section_key() -> str:
    """``health`` (this venv's Spark is Runtime 1.3, or none), else ``health-rt20`` ..."""
    from fmd_runtime.testing import delta_runtime

    try:
        runtime = delta_runtime().fabric_runtime
    except Exception:  # no Spark + Delta here: the section is the embedded engine's
        return "health"
    return "health" if runtime in (None, "1.3") else "health-rt" + runtime.replace(".", "")


def run(quick: bool) -> str:
    """Run the benchmark and return its markdown section."""
    import fmd_runtime as fmd

    n_tables = 20 if quick else 100
    n_spark = 20 if quick else 40
    work = Path(tempfile.mkdtemp(prefix="fmd-bench-health-"))
    rows, notes = [], []
    try:
        start = time.perf_counter()
        names = _build(work / "lakehouse", n_tables)
        notes.append(f"setup {time.perf_counter() - start:.0f} s")
        rt = fmd.connect(lakehouse=work / "lakehouse", run_id="bench-health", triggered_by="bench")
        results = [("delta-rs", n_tables, _measure(rt, names, work / "files-deltars"))]
        rt.close()
        _say(results[-1])
        try:
            spark_rt, label = _spark_runtime(work / "lakehouse", names[:n_spark])
        except Exception as exc:  # no Spark + Delta in this environment: say so, never fake it
            notes.append(f"Spark: not measured ({type(exc).__name__}: {exc})")
        else:
            results.append(
                (
                    f"Spark ({label})",
                    n_spark,
                    _measure(spark_rt, names[:n_spark], work / "files-spark"),
                )
            )
            spark_rt.close()
            _say(results[-1])
        for engine, n, m in results:
            ratio = m["first"].seconds / m["raw"].seconds
            rows.append(
                (
                    engine,
                    n,
                    f"{m['raw'].seconds:.2f} s",
                    f"{m['first'].seconds:.2f} s",
                    f"{m['next'].seconds:.2f} s",
                    f"{ratio:.2f}x",
                    f"{m['first'].peak_mib:.0f} MiB",
                    "yes" if ratio <= GOAL else "NO",
                    m["report"].status,
                )
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    header = (
        "engine",
        "tables",
        "raw reads",
        "first report",
        "next report",
        "first / raw",
        "peak memory",
        f"<= {GOAL:g}x",
        "status",
    )
    return "\n".join(
        [
            "## Health report" + ("" if section_key() == "health" else f" ({section_key()})"),
            "",
            f"`rt.health.report()` over tables of {DAYS} commits (one a day, aged in the log), "
            f"{DAYS} daily batch checkpoints pinning every table, one ledger row and one watermark "
            "event per table and day, vs the raw reads it needs: each table's history once (the "
            "same bounded pool) and each metadata table it reads, whole, once. Each report also "
            "writes its page, its HealthFindings rows (one commit), the scan's high-water marks "
            "(one commit) and its audit events. The first report reads every table's whole "
            "history (the foreign-operation scan has no mark yet); the next one only the commits "
            "since (the daily case). The anomaly rules read Watermarks and EntityRuns a second "
            "time (their own filtered reads). "
            "Spark reads the same folders (registered by location) with fewer tables: every "
            "`DESCRIBE HISTORY` costs a Spark job (`python -m benchmarks health`).",
            "",
            table(rows, header),
            "",
            "; ".join(notes),
        ]
    )
