"""Zero-tolerance validation after the RESTORE: prove each table is back at its checkpoint.

`validate_restored` (called by `_execute.execute_plan` with the tables whose restore did not fail):

1. alongside the key-level reads (`_post_reads`: one FULL OUTER JOIN of the pre-state and the
   restored version per table, `_sql.comparison_sql`, and a key sample), the PostRollback
   checkpoint (`take_post_checkpoint`, linked to the target): its pins are the post-state, so the
   restored versions are read once for both;
2. per table (`_post_table`, `_table_checks`): the file manifest digest and the counts per state
   equal the checkpoint's, the counts add up, no null keys, no row flagged both deleted and
   purged; the comparison report (`_compare`); then references between related tables
   (`_fk_checks`, `_sql.orphan_sql`); a failed restore is a failed check too;
3. the records: checks to ``DataValidation`` (`Checkpoints.record_validations`), ``Post`` state
   snapshots, ``RollbackComparisonReports``, one ``PostRollbackValidation`` event per table.

It fills ``ex.posts`` and ``ex.checks``; `settle_post_checkpoint` then deactivates the
PostRollback checkpoint when a table it pins failed (it is not a restore point), and
`_record.build_result` scores the checks (`quality_score`).

Example:
    >>> quality_score([]) is None
    True
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from fmd_runtime.checkpoints import CheckpointTable
from fmd_runtime.config import TableConfig
from fmd_runtime.context import Outcome
from fmd_runtime.engine import TableAt
from fmd_runtime.errors import CheckpointError, RollbackError
from fmd_runtime.rollback._impact import file_effect
from fmd_runtime.rollback._models import ComparisonReport, Counts, TableImpact, TableOutcome
from fmd_runtime.rollback._snapshots import sample_keys, snapshot_row
from fmd_runtime.rollback._sql import STATES, comparison_sql, orphan_sql
from fmd_runtime.rollback._state import Execution, PostState
from fmd_runtime.store import to_json, utcnow
from fmd_runtime.tables import TableRef
from fmd_runtime.validation import (
    TableMeasure,
    ValidationCheck,
    check_measure,
    manifest_digest,
)

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

log = logging.getLogger("fmd_runtime.rollback")


def validate_restored(rt: Runtime, ex: Execution, tables: Sequence[TableImpact]) -> None:
    """Zero-tolerance checks, snapshots and comparisons; results to the metadata tables."""
    configs = ex.configs
    by_table = {o.table: o for o in ex.outcomes}
    # the key-level reads need no PostRollback pin: they run while it is created
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fmd-post") as pool:
        creating = pool.submit(take_post_checkpoint, rt, ex)
        try:
            reads = rt.map_tables(
                lambda t: _post_reads(
                    rt, ex, t.table, by_table[t.table], configs.get(t.table.lower())
                ),
                list(tables),
                label="Comparing table",
                key=lambda t: t.table,
                progress=log.debug,
            )
        finally:
            creating.result()
    done = {t.table: r for t, r in zip(tables, reads, strict=True)}
    outcomes = rt.map_tables(
        lambda t: _post_table(
            rt, ex, t, by_table[t.table], configs.get(t.table.lower()), _value(done[t.table])
        ),
        list(tables),
        label="Validating table",
        key=lambda t: t.table,
        progress=log.debug,
    )
    for t, o in zip(tables, outcomes, strict=True):
        if o.ok:
            ex.posts.append(o.value)
            continue
        check = ValidationCheck(
            table=t.table,
            check_name="PostRollbackValidation",
            expected="validated",
            actual="error",
            passed=False,
            severity="CRITICAL",
            message=f"could not validate: {o.error}",
        )
        ex.posts.append(PostState(t.table, -1, None, [check], None))
    checks = [c for p in ex.posts for c in p.checks]
    checks += _fk_checks(rt, ex, configs)
    checks += [
        ValidationCheck(
            table=o.table,
            check_name="RestoredToCheckpoint",
            expected=f"version {o.pinned_version} restored",
            actual="restore failed",
            passed=False,
            severity="CRITICAL",
            message=o.error,
        )
        for o in ex.outcomes
        if o.status == "Failed"
    ]
    ex.checks = checks
    rt.checkpoints.record_validations("PostRollback", checks, checkpoint_id=ex.plan.checkpoint_id)
    snapshots = [
        snapshot_row(
            rt,
            ex,
            "Post",
            p.table,
            p.version,
            Counts(
                total=p.measure.total,
                active=p.measure.active,
                deleted=p.measure.deleted,
                purged=p.measure.purged,
            ),
            ex.plan.checkpoint.table(p.table).version_timestamp,
            p.sample,
        )
        for p in ex.posts
        if p.measure is not None
    ]
    if snapshots:
        rt.store.append("RollbackStateSnapshots", snapshots)
    reports = [_comparison_row(rt, ex, p.comparison) for p in ex.posts if p.comparison]
    if reports:
        rt.store.append("RollbackComparisonReports", reports)
    for p in ex.posts:
        mine = [c for c in checks if c.table == p.table]
        bad = [c for c in mine if not c.passed]
        rt.audit.event(
            "PostRollbackValidation",
            "Failed" if bad else "Succeeded",
            table=p.table,
            rows_read=p.measure.total if p.measure else None,
            severity="CRITICAL" if bad else "INFO",
            details={
                "checkpoint": ex.plan.checkpoint_name,
                "version": p.version,
                "checks": len(mine),
                "failed": [f"{c.check_name}: {c.message or c.actual}" for c in bad],
            },
        )


def _post_reads(
    rt: Runtime,
    ex: Execution,
    table: str,
    outcome: TableOutcome,
    cfg: TableConfig | None,
    version: int | None = None,
) -> tuple[int, dict[str, Any] | None, Any]:
    """The restored version's key-level comparison row (restored tables) and key sample."""
    ref = rt.table(table)
    cfg = cfg or TableConfig(table=ref.name)
    if version is None:
        after = outcome.version_after
        version = rt.engine.version(ref) if after is None else after
    pre = ex.pre_pins.get(table.lower())
    row = None
    if outcome.status in ("Restored", "Resumed") and pre is not None and cfg.primary_key:
        eng = rt.engine
        row = eng.sql(
            comparison_sql(eng.quote, cfg.primary_key, cfg.deleted_flag, cfg.purged_flag),
            {
                "pre": TableAt(table=ref, version=pre.version),
                "post": TableAt(table=ref, version=version),
            },
        ).to_pylist()[0]
    return version, row, sample_keys(rt, table, version, cfg)


def _post_table(
    rt: Runtime,
    ex: Execution,
    impact: TableImpact,
    outcome: TableOutcome,
    cfg: TableConfig | None,
    reads: tuple[int, dict[str, Any] | None, Any],
) -> PostState:
    """Check one table; the PostRollback checkpoint's pin gives its counts and manifest."""
    eng = rt.engine
    ref = rt.table(impact.table)
    cfg = cfg or TableConfig(table=ref.name)
    pin = ex.plan.checkpoint.table(impact.table)
    post = ex.post_pins.get(impact.table.lower())
    version = reads[0]
    if post is not None and post.total_rows is not None:
        if post.version != version:  # a commit landed in between: compare what was pinned
            reads = _post_reads(rt, ex, impact.table, outcome, cfg, post.version)
        version, digest = post.version, post.manifest_digest
        m = TableMeasure(
            table=ref.name,
            version=version,
            total=post.total_rows,
            active=post.active_rows,
            deleted=post.deleted_rows,
            purged=post.purged_rows,
            source=post.count_source,
        )
    else:  # no PostRollback checkpoint: read the restored version here
        digest = manifest_digest(eng.files(ref, version))
        m = rt.checkpoints.measure(ref, version, config=cfg)
    pre = ex.pre_pins.get(impact.table.lower())
    comparison = None
    if outcome.status in ("Restored", "Resumed") and pre is not None:
        comparison = _compare(ref, pre, version, m.total, cfg, pin, reads[1])
    if cfg.primary_key and m.null_keys is None:
        nulls = comparison.null_keys_after if comparison else None
        if nulls is None:
            nulls = rt.checkpoints.measure(ref, version, config=cfg).null_keys
        m = m.model_copy(update={"null_keys": nulls})
    checks = _table_checks(rt, pin, m, digest, cfg, ref, version)
    return PostState(impact.table, version, m, checks, reads[2], comparison)


def _table_checks(
    rt: Runtime,
    pin: CheckpointTable,
    m: TableMeasure,
    digest: str,
    cfg: TableConfig,
    ref: TableRef,
    version: int,
) -> list[ValidationCheck]:
    """The zero-tolerance checks of one restored version against its checkpoint pin."""
    t = pin.table
    same = digest == pin.manifest_digest
    message = None
    if not same:
        eng = rt.engine
        missing, extra = file_effect(eng.files(ref, version), eng.files(ref, pin.version))
        message = (
            f"the files of version {version} differ from the checkpoint's version "
            f"{pin.version} ({len(missing)} missing, {len(extra)} extra): the RESTORE did not "
            "take effect (delta-rs has committed no-op restores of deletion-vector tables); "
            "restore the table with Spark (RESTORE TABLE) and validate again"
        )
    checks = [
        ValidationCheck(
            table=t,
            check_name="ManifestMatchesCheckpoint",
            expected=pin.manifest_digest[:16],
            actual=digest[:16],
            passed=same,
            severity="INFO" if same else "CRITICAL",
            message=message,
        )
    ]
    for name, expected, actual in (
        ("TotalRows", pin.total_rows, m.total),
        ("ActiveRows", pin.active_rows, m.active),
        ("DeletedRows", pin.deleted_rows, m.deleted),
        ("PurgedRows", pin.purged_rows, m.purged),
    ):
        if expected is None and actual is None:
            continue
        ok = expected == actual
        diff = (actual or 0) - (expected or 0)
        checks.append(
            ValidationCheck(
                table=t,
                check_name=f"{name}MatchCheckpoint",
                expected=str(expected),
                actual=str(actual),
                passed=ok,
                severity="INFO" if ok else "CRITICAL",
                message=None
                if ok
                else f"{actual} rows, the checkpoint recorded {expected} ({diff:+d})",
            )
        )
    checks += [
        c
        for c in check_measure(
            m, tracked=cfg.has_tracking, keyed=bool(cfg.primary_key), tolerance=0.0
        )
        if c.check_name != "TotalRowsKnown"
    ]
    if cfg.deleted_flag and cfg.purged_flag and m.active is not None:
        both = (m.active or 0) + (m.deleted or 0) + (m.purged or 0) - m.total
        checks.append(
            ValidationCheck(
                table=t,
                check_name="TrackingConsistent",
                expected="0",
                actual=str(both),
                passed=both == 0,
                severity="INFO" if both == 0 else "HIGH",
                message=None
                if both == 0
                else f"{both} row(s) flagged both {cfg.deleted_flag} and {cfg.purged_flag}",
            )
        )
    return checks


def _compare(
    ref: TableRef,
    pre: CheckpointTable,
    version: int,
    total: int,
    cfg: TableConfig,
    pin: CheckpointTable,
    row: dict[str, Any] | None,
) -> ComparisonReport:
    """The comparison report of the pre-state and restored versions (``row``: the join's)."""
    before, after = int(pre.total_rows or 0), int(total)
    anomalies = []
    if pin.total_rows is not None and after != pin.total_rows:
        anomalies.append(
            f"{after} rows after the rollback, the checkpoint recorded {pin.total_rows} "
            f"({after - pin.total_rows:+d} rows missing or unexpected)"
        )
    if version <= pre.version:
        anomalies.append(f"version {version} is not after the pre-state version {pre.version}")
    if row is None:
        restored, removed = max(0, after - before), max(0, before - after)
        return ComparisonReport(
            table=ref.name,
            pre_version=pre.version,
            post_version=version,
            key_level=False,
            rows_before=before,
            rows_after=after,
            restored=restored,
            removed=removed,
            unchanged=None,
            pct_restored=_pct(restored, after),
            pct_removed=_pct(removed, before),
            pct_unchanged=None,
            anomalies=(
                "no primary key in PipelineConfig: rows compared by count only",
                *anomalies,
            ),
        )
    nulls = int(row["after_null_keys"])
    if nulls:
        anomalies.append(f"{nulls} row(s) with a null primary key (counted as restored)")
    for side, rows in (("after", after), ("before", before)):
        if int(row[f"{side}_rows"]) > rows:
            anomalies.append(
                f"duplicate primary keys {side} the rollback: the key join matched "
                f"{row[f'{side}_rows']} rows for {rows}"
            )
    changes = {
        f"{x}->{y}": int(row[f"{x.lower()}_{y.lower()}"]) for x in STATES for y in STATES if x != y
    }
    restored, removed = int(row["restored"]), int(row["removed"])
    unchanged = int(row["unchanged"])
    return ComparisonReport(
        table=ref.name,
        pre_version=pre.version,
        post_version=version,
        key_level=True,
        rows_before=before,
        rows_after=after,
        restored=restored,
        removed=removed,
        unchanged=unchanged,
        state_changes={k: v for k, v in changes.items() if v},
        pct_restored=_pct(restored, after),
        pct_removed=_pct(removed, before),
        pct_unchanged=_pct(unchanged, before),
        null_keys_after=nulls,
        anomalies=tuple(anomalies),
    )


def _fk_checks(
    rt: Runtime, ex: Execution, configs: Mapping[str, TableConfig]
) -> list[ValidationCheck]:
    """Orphans between configured related tables (``PipelineConfig.foreign_keys``)."""
    eng = rt.engine
    posted = {p.table.lower(): p for p in ex.posts if p.measure is not None}
    jobs = []
    for p in posted.values():
        cfg = configs.get(p.table.lower())
        for col, target in cfg.foreign_keys.items() if cfg else ():
            schema, table, parent_col = target.split(".")
            jobs.append((p.table, p.version, col, f"{schema}.{table}", parent_col))

    def orphans(job: tuple[str, int, str, str, str]) -> int:
        child, version, col, parent, parent_col = job
        parent_ref = rt.table(parent)
        if not eng.exists(parent_ref):
            raise RollbackError(f"related table {parent} does not exist", table=child)
        at = posted.get(parent.lower())
        res = eng.sql(
            orphan_sql(eng.quote, col, parent_col),
            {
                "child": TableAt(table=rt.table(child), version=version),
                "parent": TableAt(table=parent_ref, version=at.version if at else None),
            },
        )
        return int(res.to_pylist()[0]["orphans"])

    outcomes = rt.map_tables(
        orphans,
        jobs,
        label="Checking references of",
        key=lambda j: f"{j[0]}.{j[2]}",
        progress=log.debug,
    )
    checks = []
    for (child, _, col, parent, parent_col), o in zip(jobs, outcomes, strict=True):
        n = o.value if o.ok else None
        ok = n == 0
        checks.append(
            ValidationCheck(
                table=child,
                check_name="ReferentialIntegrity",
                expected=f"0 orphans ({col} -> {parent}.{parent_col})",
                actual=str(n) if o.ok else "error",
                passed=ok,
                severity="INFO" if ok else "HIGH",
                message=None
                if ok
                else (
                    f"{n} row(s) of {child}.{col} have no {parent}.{parent_col}"
                    if o.ok
                    else f"could not check {col} -> {parent}: {o.error}"
                ),
            )
        )
    return checks


def _comparison_row(rt: Runtime, ex: Execution, c: ComparisonReport) -> dict[str, Any]:
    """One ``RollbackComparisonReports`` row."""
    ref = rt.table(c.table)
    return {
        "ReportId": str(uuid.uuid4()),
        "RollbackRunId": rt.context.run_id,
        "CheckpointId": ex.plan.checkpoint_id,
        "SchemaName": ref.schema_name,
        "TableName": ref.table,
        "PreVersion": c.pre_version,
        "PostVersion": c.post_version,
        "RowsBefore": c.rows_before,
        "RowsAfter": c.rows_after,
        "RowsRestored": c.restored,
        "RowsRemoved": c.removed,
        "RowsUnchanged": c.unchanged,
        "StateChanges": to_json(c.state_changes),
        "PctRestored": c.pct_restored,
        "PctRemoved": c.pct_removed,
        "Anomalies": to_json(list(c.anomalies)),
        "CreatedDate": utcnow(),
    }


def take_post_checkpoint(rt: Runtime, ex: Execution) -> None:
    """A PostRollback checkpoint of the tables restored (and those already there), linked to
    the target; its pins are the post-state the validation checks."""
    moved = [o for o in ex.outcomes if o.status in ("Restored", "Resumed")]
    tables = [o.table for o in ex.outcomes if o.status != "Failed"]
    if not moved:
        return
    try:
        cp = rt.checkpoints.create(
            tables,
            kind="PostRollback",
            parent_checkpoint_id=ex.plan.checkpoint_id,
            notes=(
                f"after rollback run {rt.context.run_id} to checkpoint "
                f"{ex.plan.checkpoint_name} ({ex.plan.checkpoint_id}); "
                f"undo point: {ex.pre_name or '-'}"
            ),
        )
    except CheckpointError as exc:
        ex.warnings.append(f"the PostRollback checkpoint could not be created: {exc}")
        rt.audit.event("PostRollbackCheckpoint", "Failed", error=exc, severity="HIGH")
        return
    assert cp is not None  # PostRollback raises on failure, never returns None
    ex.post = cp
    ex.post_name = cp.checkpoint_name
    ex.post_pins = {t.table.lower(): t for t in cp.tables}
    rt.audit.event(
        "PostRollbackCheckpoint",
        "Succeeded",
        details={
            "checkpoint": cp.checkpoint_name,
            "checkpoint_id": cp.checkpoint_id,
            "parent": ex.plan.checkpoint_name,
            "tables": tables,
            "validation": cp.validation_status,
        },
    )


def settle_post_checkpoint(rt: Runtime, ex: Execution) -> None:
    """Deactivate the PostRollback checkpoint when a table it pins failed post-validation."""
    cp = ex.post
    if cp is None:
        return
    bad = sorted(
        {c.table for c in ex.checks if not c.passed and c.table} & {t.table for t in cp.tables}
    )
    if not bad:
        return
    note = f"deactivated: post-validation failed for {', '.join(bad)}"
    rt.store.update(
        "CheckpointHistory",
        {"CheckpointId": cp.checkpoint_id},
        {
            "IsActive": False,
            "DeactivatedDate": utcnow(),
            "Notes": f"{cp.notes or ''}; {note}".strip("; "),
        },
    )
    ex.warnings.append(
        f"PostRollback checkpoint {cp.checkpoint_name} {note}: it is not a restore point"
    )
    rt.audit.event(
        "PostRollbackCheckpoint",
        "Failed",
        severity="HIGH",
        details={"checkpoint": cp.checkpoint_name, "deactivated": True, "tables": bad},
    )


def quality_score(checks: Sequence[ValidationCheck]) -> float | None:
    """Percent of checks passed (100.0 = every check passed; None when there were none).

    Example:
        >>> quality_score([])
    """
    if not checks:
        return None
    return round(100.0 * sum(c.passed for c in checks) / len(checks), 2)


def _value(outcome: Outcome[Any]) -> Any:
    """An outcome's value, or a RollbackError carrying the error that stopped it."""
    if not outcome.ok:
        raise RollbackError(f"could not read it: {outcome.error}", table=outcome.item)
    return outcome.value


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0
