"""The Spark MERGE: classify the incoming DataFrame against the target once, then merge the changes.

`classify` joins the data with the target's keys, compared columns and tracking flags read at
one version and gives every row its action (`fmd_runtime.engine._merge`), as Column
expressions; the classified rows are persisted once, so the tally (one aggregation), the sample
of deleted keys and the MERGE's source read the same rows without a second join. `apply` builds
one ``DeltaTable.merge`` whose source holds only the changed rows. Every column reaches Spark as
a validated, back-quoted identifier; the actions are our own constants.

Example:
    >>> col_name("s", "Id")
    's.`Id`'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fmd_runtime.engine._merge import (
    ACTION,
    CHANGING,
    DELETE,
    INSERT,
    PURGED,
    REACTIVATE,
    SAMPLE_KEYS,
    UNCHANGED,
    UPDATE,
    MergeCheck,
    MergeCounts,
    MergePreview,
    MergeSpec,
    MergeWriteResult,
    check_merge_columns,
    compared_columns,
    key_error,
    with_counts,
)
from fmd_runtime.engine._metrics import commit_counts
from fmd_runtime.engine._models import CommitOptions
from fmd_runtime.engine.spark._errors import _translate
from fmd_runtime.engine.spark._session import metadata_conf
from fmd_runtime.errors import ConcurrentWriteError
from fmd_runtime.tables import TableRef

_IN_SOURCE = "__fmd_s"
_IN_TARGET = "__fmd_t"
_TARGET = "__fmd_t_"  # prefix of the target's compared / tracking columns in the join


def col_name(alias: str, name: str) -> str:
    """A column of an aliased side, back-quoted (names validated by `MergeSpec` and the port)."""
    return f"{alias}.`{name}`"


def check_keys(table: str, df: Any, keys: Sequence[str]) -> None:
    """Refuse data whose key has nulls or duplicates (`key_error`): one aggregation, and a
    second small query for the sample only when there is a problem."""
    from pyspark.sql import functions as F

    any_null = None
    for k in keys:
        c = F.col(f"`{k}`").isNull()
        any_null = c if any_null is None else (any_null | c)
    assert any_null is not None
    row = df.agg(
        F.sum(F.when(any_null, 1).otherwise(0)).alias("nulls"),
        F.count(F.lit(1)).alias("rows"),
        F.countDistinct(*[F.col(f"`{k}`") for k in keys]).alias("distinct"),
    ).collect()[0]
    nulls = int(row["nulls"] or 0)
    if not nulls and int(row["rows"]) == int(row["distinct"]):
        return
    quoted = [F.col(f"`{k}`") for k in keys]
    dups = df.where(~any_null).groupBy(*quoted).count().where(F.col("count") > 1)
    sample_rows = dups.select(*quoted).limit(SAMPLE_KEYS).collect()
    duplicates = dups.count() if sample_rows else 0
    if not sample_rows:
        sample_rows = df.where(any_null).select(*quoted).limit(SAMPLE_KEYS).collect()
    sample = [r.asDict() for r in sample_rows]
    raise key_error(table, keys, nulls=nulls, duplicates=duplicates, sample=sample)


def classify(
    df: Any, target: Any, spec: MergeSpec, copied: Sequence[str], compare: Sequence[str]
) -> Any:
    """The joined rows with their `ACTION` (data columns + action), not computed yet.

    Args:
        df: the incoming DataFrame (keys checked).
        target: the target's keys, compared and tracking columns at the classified version.
        spec: the merge.
        copied: the data columns the merge writes.
        compare: the columns compared (null-safely).
    """
    from pyspark.sql import functions as F

    keys = list(spec.keys)
    right = target.select(
        *[F.col(f"`{c}`") for c in keys],
        *[F.col(f"`{c}`").alias(f"{_TARGET}{c}") for c in target.columns if c not in keys],
        F.lit(True).alias(_IN_TARGET),
    )
    left = df.select(*[F.col(f"`{c}`") for c in copied], F.lit(True).alias(_IN_SOURCE))
    how = "full_outer" if spec.mode == "snapshot" else "left_outer"
    joined = left.join(right, on=keys, how=how)  # USING: the keys come out once, coalesced

    def flag(name: str | None) -> Any:
        if name is None:
            return F.lit(False)
        return F.coalesce(F.col(f"`{_TARGET}{name}`"), F.lit(False))

    in_s = F.col(_IN_SOURCE).isNotNull()
    in_t = F.col(_IN_TARGET).isNotNull()
    was_deleted, was_purged = flag(spec.deleted_flag), flag(spec.purged_flag)
    differs = F.lit(False)
    for c in compare:
        differs = differs | ~F.col(f"`{c}`").eqNullSafe(F.col(f"`{_TARGET}{c}`"))
    matched = in_s & in_t
    live = ~was_deleted & ~was_purged
    action = (
        F.when(in_s & ~in_t, F.lit(INSERT))
        .when(matched & was_purged, F.lit(PURGED))
        .when(matched & was_deleted, F.lit(REACTIVATE))
        .when(matched & differs, F.lit(UPDATE))
        .when(matched, F.lit(UNCHANGED))
    )
    if spec.mode == "snapshot":
        action = action.when(in_t & ~in_s & live, F.lit(DELETE))
    return joined.select(
        *[F.col(f"`{c}`") for c in copied],
        action.alias(ACTION),
        (in_t & live).alias("__fmd_active"),
    )


def tally(classified: Any, keys: Sequence[str]) -> tuple[MergeCounts, list[dict[str, Any]]]:
    """The counts of the classified rows (one aggregation) and a sample of the deleted keys."""
    from pyspark.sql import functions as F

    act = F.col(ACTION)
    aggs = [
        F.sum(F.when(act == a, 1).otherwise(0)).alias(a) for a in (*CHANGING, UNCHANGED, PURGED)
    ]
    aggs.append(F.sum(F.when(F.col("__fmd_active"), 1).otherwise(0)).alias("__active"))
    row = classified.agg(*aggs).collect()[0].asDict()
    active = int(row.pop("__active") or 0)
    counts = MergeCounts.from_actions({k: int(v or 0) for k, v in row.items()}, active)
    sample: list[dict[str, Any]] = []
    if counts.deleted:
        gone = classified.where(act == DELETE).select(*[F.col(f"`{k}`") for k in keys])
        sample = [r.asDict() for r in gone.limit(SAMPLE_KEYS).collect()]
    return counts, sample


def changes(classified: Any, copied: Sequence[str]) -> Any:
    """The rows the MERGE gets: the changed ones, data columns + action."""
    from pyspark.sql import functions as F

    return classified.where(F.col(ACTION).isin(*CHANGING)).select(
        *[F.col(f"`{c}`") for c in copied], F.col(ACTION)
    )


def apply(target: Any, source: Any, spec: MergeSpec, copied: Sequence[str]) -> None:
    """Run one ``DeltaTable.merge`` of the changed rows into ``target`` (a DeltaTable).

    Updated and re-activated rows take the data's columns (re-activated: deleted flag false);
    deleted rows only their deleted flag; inserted rows the data's columns, tracking false.
    """
    from pyspark.sql import functions as F

    keys = set(spec.keys)
    cond = None
    for k in spec.keys:
        c = F.col(col_name("t", k)) == F.col(col_name("s", k))
        cond = c if cond is None else (cond & c)
    act = F.col(col_name("s", ACTION))
    values = {f"`{c}`": F.col(col_name("s", c)) for c in copied if c not in keys}
    builder = target.alias("t").merge(source.alias("s"), cond)
    if values:
        builder = builder.whenMatchedUpdate(condition=act == UPDATE, set=values)
    reactivate = dict(values)
    if spec.deleted_flag:
        reactivate[f"`{spec.deleted_flag}`"] = F.lit(False)
        builder = builder.whenMatchedUpdate(
            condition=act == DELETE, set={f"`{spec.deleted_flag}`": F.lit(True)}
        )
    if reactivate:
        builder = builder.whenMatchedUpdate(condition=act == REACTIVATE, set=reactivate)
    inserts = {f"`{c}`": F.col(col_name("s", c)) for c in copied}
    inserts |= {f"`{c}`": F.lit(False) for c in spec.tracking}
    builder.whenNotMatchedInsert(condition=act == INSERT, values=inserts).execute()


def txn_conf(commit: CommitOptions | None) -> dict[str, str | None]:
    """The session confs that give a DML commit (MERGE) its idempotent identity (Delta 2.3+:
    the engine skips a MERGE whose app id already recorded that version)."""
    if commit is None or commit.app_id is None or commit.app_version is None:
        return {}
    return {
        "spark.databricks.delta.write.txnAppId": commit.app_id,
        "spark.databricks.delta.write.txnVersion": str(int(commit.app_version)),
    }


def merge(
    engine: Any,
    table: TableRef,
    df: Any,
    spec: MergeSpec,
    check: MergeCheck | None,
    commit: CommitOptions | None,
) -> MergeWriteResult:
    """The work of `SparkEngine.merge` (``engine``: the adapter; its reads, confs and history)."""
    from delta.tables import DeltaTable
    from pyspark import StorageLevel

    with _translate(table, f"merge ({spec.mode})"):
        read_version = engine.version(table)
        copied = check_merge_columns(
            table.name, spec, df.columns, [c.name for c in engine.snapshot(table).columns]
        )
        check_keys(table.name, df, spec.keys)
        compare = compared_columns(spec, copied)
        wanted = list(dict.fromkeys([*spec.keys, *compare, *spec.tracking]))
        target = engine.read(table, read_version, wanted)
        rows = classify(df, target, spec, copied, compare).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            counts, sample = tally(rows, spec.keys)
            if check is not None:
                check(
                    MergePreview(
                        table=table.name,
                        read_version=read_version,
                        counts=counts,
                        deleted_sample=tuple(sample),
                    )
                )
            done: dict[str, Any] = dict(table=table.name, read_version=read_version, counts=counts)
            if not counts.changed:
                return MergeWriteResult(committed=False, version=read_version, **done)
            if engine.version(table) != read_version:
                raise ConcurrentWriteError(
                    f"the table moved past version {read_version} while the merge was "
                    "classifying its rows; nothing was written",
                    table=table.name,
                    hint="retry the merge (it re-reads the table)",
                )
            with engine._conf(metadata_conf(with_counts(commit, counts)) | txn_conf(commit)):
                target_table = DeltaTable.forName(engine.spark, table.quoted)
                apply(target_table, changes(rows, copied), spec, copied)
        finally:
            rows.unpersist()
        last = engine.history(table, 1)[0]
    if last.version == read_version or last.operation != "MERGE":
        return MergeWriteResult(committed=False, version=last.version, **done)
    metrics = commit_counts(last.metrics)
    return MergeWriteResult(
        committed=True,
        version=last.version,
        engine_inserted=metrics["rows_added"],
        engine_updated=metrics["rows_updated"],
        **done,
    )


def merge_method(
    engine: Any,
    table: TableRef,
    data: Any,
    spec: MergeSpec,
    *,
    check: MergeCheck | None = None,
    commit: CommitOptions | None = None,
) -> MergeWriteResult:
    """`SparkEngine.merge`: classify once (persisted), let ``check`` see the counts, then one
    ``DeltaTable.merge`` of the changed rows (`DeltaEngine.merge`)."""
    return merge(engine, table, engine._dataframe(table, data), spec, check, commit)


__all__ = [
    "apply",
    "changes",
    "check_keys",
    "classify",
    "col_name",
    "merge",
    "merge_method",
    "tally",
    "txn_conf",
]
