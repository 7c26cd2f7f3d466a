"""The delta-rs MERGE: classify the incoming Arrow rows against the target once, then merge the changes.

`classify` joins the data with the target's keys, compared columns and tracking flags (one
Arrow hash join, read through DataFusion at one version) and gives every row its action
(`fmd_runtime.engine._merge`); `apply` runs one ``DeltaTable.merge`` whose source holds only the
changed rows, so unchanged rows are neither matched for update nor rewritten by their action.

Example:
    >>> predicate(("Id", "Region"))
    't."Id" = s."Id" AND t."Region" = s."Region"'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fmd_runtime.engine._arrow import is_arrow
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
from fmd_runtime.errors import ConcurrentWriteError, ConfigError
from fmd_runtime.tables import TableRef

_IN_SOURCE = "__fmd_s"
_IN_TARGET = "__fmd_t"
_TARGET = "__fmd_t_"  # prefix of the target's compared / tracking columns in the join


def _q(name: str) -> str:
    return f'"{name}"'


def predicate(keys: Sequence[str]) -> str:
    """The MERGE condition: every key equal (identifiers validated by `MergeSpec`)."""
    return " AND ".join(f"t.{_q(k)} = s.{_q(k)}" for k in keys)


def check_keys(table: str, data: Any, keys: Sequence[str]) -> None:
    """Refuse data whose key has nulls or duplicates (`key_error`), before anything is read."""
    import pyarrow.compute as pc

    keyed = data.select(list(keys))
    null_mask = None
    for k in keys:
        m = pc.is_null(keyed.column(k))
        null_mask = m if null_mask is None else pc.or_(null_mask, m)
    nulls = int(pc.sum(null_mask).as_py() or 0) if null_mask is not None else 0
    groups = keyed.group_by(list(keys)).aggregate([([], "count_all")])
    dup_rows = groups.filter(pc.greater(groups.column("count_all"), 1))
    duplicates = dup_rows.num_rows
    if not nulls and not duplicates:
        return
    if duplicates:
        sample = dup_rows.select(list(keys)).slice(0, SAMPLE_KEYS).to_pylist()
    else:
        sample = keyed.filter(null_mask).slice(0, SAMPLE_KEYS).to_pylist()
    raise key_error(table, keys, nulls=nulls, duplicates=duplicates, sample=sample)


def _null_safe_differs(a: Any, b: Any) -> Any:
    import pyarrow.compute as pc

    both_null = pc.and_(pc.is_null(a), pc.is_null(b))
    equal = pc.fill_null(pc.equal(a, b), False)
    return pc.invert(pc.or_(equal, both_null))


def classify(
    data: Any, target: Any | None, spec: MergeSpec, copied: Sequence[str], compare: Sequence[str]
) -> tuple[Any, MergeCounts, list[dict[str, Any]]]:
    """The changed rows (data columns + `ACTION`), the counts, and a sample of deleted keys.

    Args:
        data: the incoming Arrow table (keys checked, aligned to the target's types).
        target: the target's keys, compared and tracking columns (None: a new, empty table).
        spec: the merge.
        copied: the data columns the merge writes.
        compare: the columns compared.

    Returns:
        (changes, counts, deleted_sample): ``changes`` holds one row per inserted, updated,
        re-activated or deleted key, with the data's columns (a deleted row carries its key).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = list(spec.keys)
    source = data.select(list(copied))
    if target is None or target.num_rows == 0:
        counts = MergeCounts(inserted=source.num_rows)
        changes = source.append_column(ACTION, pa.array([INSERT] * source.num_rows, pa.string()))
        return changes, counts, []
    deleted_col, purged_col = spec.deleted_flag, spec.purged_flag
    # DataFusion reads strings as string_view, which Arrow's hash join does not carry: give the
    # target's columns the data's types (the data was aligned to the table's types already).
    target = pa.table(
        {
            c: target.column(c).cast(source.schema.field(c).type)
            if c in source.column_names
            else target.column(c)
            for c in target.column_names
        }
    )
    renamed = {c: f"{_TARGET}{c}" for c in target.column_names if c not in keys}
    right = target.rename_columns([renamed.get(c, c) for c in target.column_names])
    right = right.append_column(_IN_TARGET, pa.array([True] * right.num_rows, pa.bool_()))
    left = source.append_column(_IN_SOURCE, pa.array([True] * source.num_rows, pa.bool_()))
    how = "full outer" if spec.mode == "snapshot" else "left outer"
    joined = left.join(right, keys=keys, join_type=how, coalesce_keys=True, use_threads=True)
    n = joined.num_rows
    false = pa.array([False] * n, pa.bool_())

    def flag(name: str | None) -> Any:
        if name is None:
            return false
        return pc.fill_null(joined.column(f"{_TARGET}{name}"), False)

    in_s = pc.is_valid(joined.column(_IN_SOURCE))
    in_t = pc.is_valid(joined.column(_IN_TARGET))
    was_deleted, was_purged = flag(deleted_col), flag(purged_col)
    differs = false
    for c in compare:
        differs = pc.or_(differs, _null_safe_differs(joined.column(c), joined.column(renamed[c])))
    matched = pc.and_(in_s, in_t)
    live = pc.and_(pc.invert(was_deleted), pc.invert(was_purged))
    rules = [
        (INSERT, pc.and_(in_s, pc.invert(in_t))),
        (PURGED, pc.and_(matched, was_purged)),
        (REACTIVATE, pc.and_(matched, pc.and_(was_deleted, pc.invert(was_purged)))),
        (UPDATE, pc.and_(pc.and_(matched, live), differs)),
        (UNCHANGED, pc.and_(pc.and_(matched, live), pc.invert(differs))),
    ]
    if spec.mode == "snapshot":
        rules.append((DELETE, pc.and_(pc.and_(in_t, pc.invert(in_s)), live)))
    action = pa.nulls(n, pa.string())
    tally: dict[str, int] = {}
    for name, mask in reversed(rules):  # the rules are disjoint; order only for readability
        action = pc.if_else(mask, pa.scalar(name, pa.string()), action)
        tally[name] = int(pc.sum(mask).as_py() or 0)
    active_before = int(
        pc.sum(
            pc.and_(
                pc.invert(pc.fill_null(target.column(deleted_col), False))
                if deleted_col
                else pa.array([True] * target.num_rows),
                pc.invert(pc.fill_null(target.column(purged_col), False))
                if purged_col
                else pa.array([True] * target.num_rows),
            )
        ).as_py()
        or 0
    )
    with_action = joined.select(list(copied)).append_column(ACTION, action)
    changes = with_action.filter(pc.is_in(action, pa.array(list(CHANGING), pa.string())))
    sample: list[dict[str, Any]] = []
    if tally.get(DELETE):
        gone = changes.filter(pc.equal(changes.column(ACTION), DELETE))
        sample = gone.select(keys).slice(0, SAMPLE_KEYS).to_pylist()
    return changes, MergeCounts.from_actions(tally, active_before), sample


def apply(
    dt: Any, changes: Any, spec: MergeSpec, copied: Sequence[str], commit_properties: Any
) -> dict[str, Any]:
    """One ``DeltaTable.merge`` of the changed rows; returns the commit's metrics.

    Updated and re-activated rows take the data's columns (re-activated: deleted flag false);
    deleted rows only their deleted flag; inserted rows the data's columns, tracking false.
    """
    keys = set(spec.keys)
    values = {_q(c): f"s.{_q(c)}" for c in copied if c not in keys}
    builder = dt.merge(
        changes,
        predicate(spec.keys),
        source_alias="s",
        target_alias="t",
        commit_properties=commit_properties,
    )
    act = f"s.{_q(ACTION)}"
    if values:
        builder = builder.when_matched_update(values, predicate=f"{act} = '{UPDATE}'")
    reactivate = dict(values)
    if spec.deleted_flag:
        reactivate[_q(spec.deleted_flag)] = "false"
        builder = builder.when_matched_update(
            {_q(spec.deleted_flag): "true"}, predicate=f"{act} = '{DELETE}'"
        )
    if reactivate:
        builder = builder.when_matched_update(reactivate, predicate=f"{act} = '{REACTIVATE}'")
    inserts = {_q(c): f"s.{_q(c)}" for c in copied} | {_q(c): "false" for c in spec.tracking}
    builder = builder.when_not_matched_insert(inserts, predicate=f"{act} = '{INSERT}'")
    return dict(builder.execute())


def merge(
    engine: Any,
    table: TableRef,
    data: Any,
    spec: MergeSpec,
    check: MergeCheck | None,
    commit: CommitOptions | None,
) -> MergeWriteResult:
    """The work of `DeltaRsEngine.merge` (``engine``: the adapter, its table lock held)."""
    if not (is_arrow(data) and hasattr(data, "num_rows")):
        raise ConfigError(
            f"the embedded engine merges Arrow tables, not a {type(data).__name__}",
            table=table.name,
            hint="pass a pyarrow Table (e.g. pa.Table.from_pandas(df))",
        )
    snap = engine.snapshot(table)
    if commit and commit.app_id is not None and commit.app_version is not None:
        seen = engine.transaction_version(table, commit.app_id)
        if seen is not None and seen >= commit.app_version:  # this merge already landed
            return MergeWriteResult(
                table=table.name,
                committed=False,
                version=snap.version,
                read_version=snap.version,
                counts=MergeCounts(),
            )
    copied = check_merge_columns(
        table.name, spec, data.column_names, [c.name for c in snap.columns]
    )
    check_keys(table.name, data, spec.keys)
    compare = compared_columns(spec, copied)
    wanted = list(dict.fromkeys([*spec.keys, *compare, *spec.tracking]))
    target = engine.read(table, snap.version, wanted)
    changes, counts, sample = classify(data, target, spec, copied, compare)
    if check is not None:
        check(
            MergePreview(
                table=table.name,
                read_version=snap.version,
                counts=counts,
                deleted_sample=tuple(sample),
            )
        )
    done: dict[str, Any] = dict(table=table.name, read_version=snap.version, counts=counts)
    if changes.num_rows == 0:
        return MergeWriteResult(committed=False, version=snap.version, **done)
    dt = engine._dt(table)
    if int(dt.version()) != snap.version:  # another writer moved it since the rows were read
        raise ConcurrentWriteError(
            f"the table moved from version {snap.version} to {dt.version()} while the merge "
            "was classifying its rows; nothing was written",
            table=table.name,
            hint="retry the merge (it re-reads the table)",
        )
    props = engine._commit(with_counts(commit, counts))
    metrics = commit_counts(apply(dt, changes, spec, copied, props))
    return MergeWriteResult(
        committed=True,
        version=engine.version(table),
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
    """`DeltaRsEngine.merge`: classify once (an Arrow hash join at one version), let ``check``
    see the counts, then one ``DeltaTable.merge`` of the changed rows (`DeltaEngine.merge`)."""
    with engine._translate(table, f"merge ({spec.mode})"), engine._lock(table):
        return merge(engine, table, data, spec, check, commit)


__all__ = ["apply", "check_keys", "classify", "merge", "merge_method", "predicate"]
