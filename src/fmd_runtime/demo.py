"""The demo job: a small bronze lakehouse and a simulated daily sync, on the embedded engine.

Run it with ``fmd demo`` (or ``make demo``). It is written to be read: each step is one library
call an operator would make in a Fabric notebook.

Example:
    >>> # from fmd_runtime.demo import run_demo; run_demo("./.fmd-demo")
"""

from __future__ import annotations

import importlib
import random
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from fmd_runtime.engine import Column, CommitOptions, arrow_schema
from fmd_runtime.runtime import Runtime, connect

TRACKING = [
    Column(name="IsDeleted", type="boolean", nullable=False, comment="Soft-deleted at source"),
    Column(name="IsPurged", type="boolean", nullable=False, comment="Purged at source"),
    Column(name="LastSyncTime", type="timestamp", comment="When the sync wrote the row"),
]

DEMO_TABLES: dict[str, list[Column]] = {
    "bronze.account": [
        Column(name="AccountId", type="bigint", nullable=False),
        Column(name="Name", type="string"),
        Column(name="Country", type="string"),
        *TRACKING,
    ],
    "bronze.contact": [
        Column(name="ContactId", type="bigint", nullable=False),
        Column(name="AccountId", type="bigint"),
        Column(name="Email", type="string"),
        *TRACKING,
    ],
    "bronze.donation": [
        Column(name="DonationId", type="bigint", nullable=False),
        Column(name="AccountId", type="bigint"),
        Column(name="Amount", type="decimal(18,2)"),
        *TRACKING,
    ],
}

DEMO_CONFIG: dict[str, dict[str, Any]] = {
    "bronze.account": {"primary_key": ["AccountId"], "zorder_columns": ["AccountId"]},
    "bronze.contact": {
        "primary_key": ["ContactId"],
        "related_tables": ["bronze.account"],
        "foreign_keys": {"AccountId": "bronze.account.AccountId"},
    },
    "bronze.donation": {
        "primary_key": ["DonationId"],
        "related_tables": ["bronze.account"],
        "foreign_keys": {"AccountId": "bronze.account.AccountId"},
        "zorder_columns": ["AccountId"],
    },
}

SIZES = {"bronze.account": 200, "bronze.contact": 400, "bronze.donation": 1000}


def _rows(
    table: str, start: int, count: int, rng: random.Random, now: datetime
) -> dict[str, list[Any]]:
    from decimal import Decimal

    ids = list(range(start, start + count))
    accounts = SIZES["bronze.account"]
    base: dict[str, list[Any]] = {
        "IsDeleted": [False] * count,
        "IsPurged": [False] * count,
        "LastSyncTime": [now] * count,
    }
    if table == "bronze.account":
        base |= {
            "AccountId": ids,
            "Name": [f"Account {i}" for i in ids],
            "Country": [rng.choice(["NL", "BE", "DE", "FR"]) for _ in ids],
        }
    elif table == "bronze.contact":
        base |= {
            "ContactId": ids,
            "AccountId": [rng.randint(1, accounts) for _ in ids],
            "Email": [f"c{i}@example.org" for i in ids],
        }
    else:
        base |= {
            "DonationId": ids,
            "AccountId": [rng.randint(1, accounts) for _ in ids],
            "Amount": [Decimal(rng.randint(500, 50000)) / 100 for _ in ids],
        }
    return base


def build_lakehouse(
    rt: Runtime, *, seed: int = 7, days: int = 3, say: Callable[[str], None] = print
) -> dict[str, int]:
    """Create the demo bronze tables, configure them, and run ``days`` simulated daily syncs.

    Each day appends new rows and flags some existing rows deleted or purged (a few Delta
    versions per table). Returns the final version of each table.
    """
    import pyarrow as pa

    rng = random.Random(seed)
    engine = rt.engine
    day0 = datetime(2025, 1, 13, 2, 0, tzinfo=timezone.utc)
    for name, columns in DEMO_TABLES.items():
        ref = rt.table(name)
        engine.create(ref, columns, properties={"delta.logRetentionDuration": "interval 30 days"})
        rt.configure_table(
            name, deleted_flag="IsDeleted", purged_flag="IsPurged", **DEMO_CONFIG[name]
        )
    say(f"created {len(DEMO_TABLES)} bronze tables and their PipelineConfig rows")
    next_id = {name: 1 for name in DEMO_TABLES}
    for day in range(days):
        now = day0 + timedelta(days=day)
        for name, columns in DEMO_TABLES.items():
            ref = rt.table(name)
            count = SIZES[name] if day == 0 else SIZES[name] // 10
            data = pa.table(
                _rows(name, next_id[name], count, rng, now), schema=arrow_schema(columns)
            )
            commit = CommitOptions(
                metadata={"fmd.runId": rt.context.run_id, "fmd.syncDay": now.date().isoformat()}
            )
            with rt.audit.activity(
                "DailySync", layer="bronze", table=ref, entity=ref.table, source="crm"
            ) as act:
                engine.write(ref, data, mode="append", commit=commit)
                act.rows_written = count
                if day > 0:
                    key = columns[0].name
                    existing = list(range(1, next_id[name]))
                    deleted = rng.sample(existing, k=max(1, len(existing) // 50))
                    engine.update(ref, {key: deleted}, {"IsDeleted": True}, commit=commit)
                    purged = rng.sample(deleted, k=max(1, len(deleted) // 4))
                    engine.update(
                        ref, {key: purged}, {"IsPurged": True, "IsDeleted": False}, commit=commit
                    )
                    act.details = {"flagged_deleted": len(deleted), "flagged_purged": len(purged)}
            next_id[name] += count
        say(f"day {now.date()}: synced {', '.join(DEMO_TABLES)}")
    return {name: engine.version(rt.table(name)) for name in DEMO_TABLES}


def run_demo(
    lakehouse: str | Path = "./.fmd-demo", *, fresh: bool = True, say: Callable[[str], None] = print
) -> Runtime:
    """Build the demo lakehouse and show what the library recorded.

    Args:
        lakehouse: folder to build it in (replaced when ``fresh``).
        fresh: delete the folder first.
        say: where progress lines go.

    Returns:
        The `Runtime` connected to the demo lakehouse.
    """
    root = Path(lakehouse)
    if fresh and root.exists():
        shutil.rmtree(root)
    rt = connect(
        lakehouse=root, pipeline_name="fmd demo", notebook_name="fmd demo", triggered_by="demo"
    )
    say(f"lakehouse: {root.resolve()}  (engine: {rt.engine.name}, run id: {rt.context.run_id})")
    versions = build_lakehouse(rt, say=say)
    for name, version in versions.items():
        counts = rt.engine.count_rows(rt.table(name))
        say(f"  {name:<18} version {version:>2}  rows {counts.total:>5}  ({counts.source})")
    rt.close()
    events = rt.store.read("SyncAuditLog", {"RunId": rt.context.run_id})
    say(
        f"audit: {len(events)} events in {rt.config.metadata_schema}.SyncAuditLog under run {rt.context.run_id}"
    )
    for module in DEMO_STEPS:
        try:
            step = importlib.import_module(module).demo_step
        except (ModuleNotFoundError, AttributeError):
            continue  # capability not part of this build
        step(rt, say)
    rt.close()
    say("done")
    return rt


# Capabilities showing themselves after the sync, in story order; each module has
# ``demo_step(rt, say)``.
DEMO_STEPS: list[str] = [
    "fmd_runtime.audit",
    "fmd_runtime.watermarks",
    "fmd_runtime.checkpoints",
    "fmd_runtime.rollback",
    "fmd_runtime.maintenance",
]


__all__ = ["DEMO_CONFIG", "DEMO_TABLES", "build_lakehouse", "run_demo"]
