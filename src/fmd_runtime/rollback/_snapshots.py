"""``RollbackStateSnapshots``: each restored table's state before and after, with a key sample.

`write_pre_snapshots` writes the ``Pre`` rows while the tables restore (`_execute`): the counts
come from the PreRollback checkpoint's pins, so the pre-state costs no extra read; only the first
`SAMPLE_KEYS` primary keys are read at the pinned version (`sample_keys`). `_validate` writes the
``Post`` rows from its measures with the same `snapshot_row`. Rows already written by this run
are not written again (a resumed run).

Example:
    >>> SAMPLE_KEYS
    100
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fmd_runtime.config import TableConfig
from fmd_runtime.engine import TableAt
from fmd_runtime.rollback._models import Counts, TableImpact
from fmd_runtime.rollback._sql import sample_sql
from fmd_runtime.rollback._state import Execution
from fmd_runtime.store import to_json, utcnow

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

log = logging.getLogger("fmd_runtime.rollback")

SAMPLE_KEYS = 100
"""Primary keys sampled per snapshot (the first ones, in key order)."""


def write_pre_snapshots(rt: Runtime, ex: Execution, work: Sequence[TableImpact]) -> None:
    """``RollbackStateSnapshots`` Pre rows (counts from the PreRollback pins, sampled keys)."""
    done = {
        f"{r['SchemaName']}.{r['TableName']}".lower()
        for r in rt.store.read(
            "RollbackStateSnapshots",
            {"RollbackRunId": rt.context.run_id, "SnapshotType": "Pre"},
            columns=["SchemaName", "TableName"],
        )
    }
    pins = [
        ex.pre_pins[t.table.lower()]
        for t in work
        if t.table.lower() not in done and t.table.lower() in ex.pre_pins
    ]
    configs = ex.configs
    outcomes = rt.map_tables(
        lambda p: sample_keys(rt, p.table, p.version, configs.get(p.table.lower())),
        pins,
        label="Snapshotting table",
        key=lambda p: p.table,
        progress=log.debug,
    )
    rows = [
        snapshot_row(
            rt,
            ex,
            "Pre",
            p.table,
            p.version,
            Counts(
                total=p.total_rows,
                active=p.active_rows,
                deleted=p.deleted_rows,
                purged=p.purged_rows,
            ),
            p.version_timestamp,
            o.value if o.ok else None,
        )
        for p, o in zip(pins, outcomes, strict=True)
    ]
    if rows:
        rt.store.append("RollbackStateSnapshots", rows)


def sample_keys(rt: Runtime, table: str, version: int, cfg: TableConfig | None) -> Any:
    """The first ``SAMPLE_KEYS`` primary keys of a version (None without a key)."""
    if cfg is None or not cfg.primary_key:
        return None
    eng = rt.engine
    rows = eng.sql(
        sample_sql(eng.quote, cfg.primary_key, SAMPLE_KEYS),
        {"t": TableAt(table=rt.table(table), version=version)},
    ).to_pylist()
    keys = cfg.primary_key
    return [r[keys[0]] if len(keys) == 1 else [r[k] for k in keys] for r in rows]


def snapshot_row(
    rt: Runtime,
    ex: Execution,
    kind: str,
    table: str,
    version: int,
    counts: Counts,
    synced: datetime | None,
    sample: Any,
) -> dict[str, Any]:
    """One ``RollbackStateSnapshots`` row (``kind``: Pre or Post)."""
    ref = rt.table(table)
    return {
        "SnapshotId": str(uuid.uuid4()),
        "RollbackRunId": rt.context.run_id,
        "CheckpointId": ex.plan.checkpoint_id,
        "SnapshotType": kind,
        "SchemaName": ref.schema_name,
        "TableName": ref.table,
        "TableVersion": version,
        "TotalRows": counts.total,
        "ActiveRows": counts.active,
        "DeletedRows": counts.deleted,
        "PurgedRows": counts.purged,
        "LatestSyncTime": synced,
        "SampleKeys": None if sample is None else to_json(sample),
        "CreatedDate": utcnow(),
    }
