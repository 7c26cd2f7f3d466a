"""The demo job: a small bronze lakehouse and a simulated daily sync, on the embedded engine.

Run it with ``fmd demo`` (or ``make demo``). It is written to be read: each step is one library
call an operator would make in a Fabric notebook.

Example:
    >>> # from fmd_runtime.demo import run_demo; run_demo("./.fmd-demo")
"""

from __future__ import annotations

import random
import shlex
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from fmd_runtime.checkpoints import render_table
from fmd_runtime.engine import Column, CommitOptions, arrow_schema
from fmd_runtime.errors import ConfigError
from fmd_runtime.runtime import Runtime, connect
from fmd_runtime.store import utcnow
from fmd_runtime.watermarks import high_from, to_native

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


MARKER = ".fmd-demo-lakehouse"
"""The file the demo writes into a folder it builds in: only such a folder is ever emptied."""

_MARKER_TEXT = (
    "fmd demo lakehouse\n"
    "`fmd demo` built this folder and replaces everything in it on its next run.\n"
)

DEMO_CHECKPOINT = "demo_before_bad_sync"
"""The checkpoint the demo leaves behind, taken just before its last (bad) sync."""


def prepare_folder(lakehouse: str | Path, *, fresh: bool = True) -> Path:
    """Make ``lakehouse`` ready for the demo without ever deleting anything the demo did not make.

    A missing folder is created; an empty one is used; a folder holding the demo's `MARKER` file
    (an earlier demo) is emptied when ``fresh``. Anything else is refused before anything is
    touched: the demo must never delete a user's files.

    Args:
        lakehouse: the folder.
        fresh: empty an earlier demo's folder (otherwise it is built on as it is).

    Returns:
        The folder, with the marker file written in it.

    Raises:
        ConfigError: the path is empty, names a file, or names a non-empty folder that an earlier
            demo did not build (nothing is deleted).

    Example:
        >>> import tempfile; (prepare_folder(tempfile.mkdtemp()) / MARKER).is_file()
        True
    """
    if not isinstance(lakehouse, str | Path) or not str(lakehouse).strip():
        raise ConfigError(
            f"parameter 'lakehouse' is empty ({lakehouse!r}): the demo needs a folder of its own",
            hint="pass a new folder, e.g. fmd demo --lakehouse ./.fmd-demo",
        )
    root = Path(lakehouse)
    elsewhere = "choose a new folder with --lakehouse (the demo creates it)"
    if root.exists() and not root.is_dir():
        raise ConfigError(f"parameter 'lakehouse': {str(root)!r} is a file", hint=elsewhere)
    if root.is_dir():
        if _is_demo_folder(root):
            if fresh:
                _empty_demo_folder(root)
        elif any(root.iterdir()):
            raise ConfigError(
                f"parameter 'lakehouse': {str(root)!r} is not empty and was not built by "
                f"`fmd demo` (no {MARKER} file); nothing was deleted",
                hint=f"{elsewhere}, or delete that folder yourself if you no longer need it "
                "(a demo folder built by an older fmd_runtime has no marker: `make clean` "
                "removes ./.fmd-demo)",
            )
    else:
        root.mkdir(parents=True)
    (root / MARKER).write_text(_MARKER_TEXT, encoding="utf-8")
    return root


def _is_demo_folder(root: Path) -> bool:
    marker = root / MARKER
    try:
        return marker.is_file() and marker.read_text(encoding="utf-8").startswith(
            _MARKER_TEXT.splitlines()[0]
        )
    except OSError:
        return False


def _empty_demo_folder(root: Path) -> None:
    """Delete what an earlier demo left in ``root`` (the folder itself stays)."""
    here, target = Path.cwd().resolve(), root.resolve()
    if here != target and target in here.parents:
        raise ConfigError(
            f"parameter 'lakehouse': the current directory {str(here)!r} is inside the demo "
            f"folder {str(target)!r}, which the demo would empty",
            hint="run the demo from outside that folder",
        )
    for entry in root.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def run_demo(
    lakehouse: str | Path = "./.fmd-demo", *, fresh: bool = True, say: Callable[[str], None] = print
) -> Runtime:
    """Build the demo lakehouse, show what the library recorded, and leave a bad sync to undo.

    The folder must be new, empty, or one an earlier demo built (see `prepare_folder`): the demo
    never deletes anything else. It ends on a state with something to roll back (checkpoint
    `DEMO_CHECKPOINT`, then a bad sync) and prints the commands to try next.

    Args:
        lakehouse: folder to build it in (an earlier demo's folder is replaced when ``fresh``).
        fresh: empty an earlier demo's folder first.
        say: where progress lines go.

    Returns:
        The `Runtime` connected to the demo lakehouse.

    Raises:
        ConfigError: the folder is not one the demo may use (nothing is deleted).

    Example:
        >>> # from fmd_runtime.demo import run_demo; run_demo("./.fmd-demo")
    """
    # absolute: the commands printed at the end then work from any directory
    root = prepare_folder(lakehouse, fresh=fresh).resolve()
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
    for step in DEMO_STEPS:
        step(rt, say)
    leave_a_bad_sync(rt, root, say=say)
    rt.close()
    say("done")
    return rt


def leave_a_bad_sync(rt: Runtime, root: Path, *, say: Callable[[str], None] = print) -> str:
    """End the demo on something to roll back: checkpoint `DEMO_CHECKPOINT`, then a bad sync.

    The bad sync flags a third of the active contacts deleted and loads 100 donations with
    negative amounts, each table under its own audit activity, as a faulty pipeline would. Then
    the commands to inspect and undo it are printed, with the real names and approval token.

    Args:
        rt: the demo's runtime.
        root: the demo lakehouse folder (named in the printed commands).
        say: where the lines go.

    Returns:
        The approval token of the rollback plan to `DEMO_CHECKPOINT`.
    """
    tables = list(DEMO_TABLES)
    cp = rt.checkpoints.create(
        tables,
        kind="Manual",
        name=DEMO_CHECKPOINT,
        notes="demo: the last good state before the bad sync",
        raise_on_failure=True,
    )
    assert cp is not None  # raise_on_failure=True: never None
    contact, donation = rt.table("bronze.contact"), rt.table("bronze.donation")
    commit = CommitOptions(metadata={"fmd.runId": rt.context.run_id, "fmd.syncDay": "bad"})
    with rt.audit.activity(
        "DailySync", layer="bronze", table=contact, entity=contact.table, source="crm"
    ) as act:
        active = rt.engine.sql(
            'SELECT "ContactId" FROM {t} WHERE NOT "IsDeleted" AND NOT "IsPurged" '
            'ORDER BY "ContactId"',
            {"t": contact},
        ).to_pylist()
        flagged = [r["ContactId"] for r in active[: len(active) // 3]]
        rt.engine.update(contact, {"ContactId": flagged}, {"IsDeleted": True}, commit=commit)
        act.rows_written = len(flagged)
        act.details = {"flagged_deleted": len(flagged)}
    with rt.audit.activity(
        "DailySync", layer="bronze", table=donation, entity=donation.table, source="crm"
    ) as act:
        top = rt.engine.sql('SELECT max("DonationId") AS top FROM {t}', {"t": donation})
        first = int(top.to_pylist()[0]["top"]) + 1
        rows = _rows("bronze.donation", first, 100, random.Random(11), datetime.now(timezone.utc))
        rows["Amount"] = [-amount for amount in rows["Amount"]]  # the source sent refunds as gifts
        bogus = pa.table(rows, schema=arrow_schema(DEMO_TABLES["bronze.donation"]))
        rt.engine.write(donation, bogus, mode="append", commit=commit)
        act.rows_written = bogus.num_rows
    rt.close()
    say(
        f"bad sync (after checkpoint {cp.checkpoint_name}): {len(flagged)} active contacts flagged "
        f"deleted, {bogus.num_rows} donations with negative amounts loaded"
    )
    token: str = rt.rollback.plan(DEMO_CHECKPOINT).approval_token
    where = f"--lakehouse {shlex.quote(str(root))}"
    say("")
    say("Try next (the demo left that bad sync for you to undo):")
    for command, why in (
        (f"fmd checkpoint list {where}", "the restore points, newest first"),
        (f"fmd checkpoint verify {DEMO_CHECKPOINT} {where}", "is it still restorable?"),
        (f"fmd rollback plan {DEMO_CHECKPOINT} {where}", "what a rollback would change"),
        (
            f'fmd rollback execute {DEMO_CHECKPOINT} --token {token} --reason "undo the bad sync" '
            f"{where}",
            "undo it (the token is the one the plan prints)",
        ),
        (f"fmd maintenance {where}", "VACUUM / OPTIMIZE plan, dry run"),
    ):
        say(f"  {command}")
        say(f"      # {why}")
    say("  (`fmd` is .venv/bin/fmd after `make demo`; `python -m fmd_runtime` works too)")
    return token


# -- each capability showing itself after the sync, in story order ------------------------------
def audit_step(rt: Runtime, say: Callable[[str], None]) -> None:
    """Demo: summarize the simulated sync from its audit events (one Summary row)."""
    summary = rt.audit.summarize(name="DailySync")
    say(f"audit summary: {summary.line()}")
    say(
        f"  per entity: SELECT * FROM {rt.config.metadata_schema}.vw_RunStatus "
        f"WHERE RunId = '{rt.context.run_id}'  (sql/views.sql)"
    )


def watermarks_step(rt: Runtime, say: Callable[[str], None]) -> None:
    """Demo: one incremental load of bronze.account with begin/commit, then a re-run skip."""
    entity, ref = "crm.account", rt.table("bronze.account")
    seed = high_from(rt.engine.read(ref, columns=["LastSyncTime"]), "LastSyncTime", "datetime")
    w = rt.watermarks.begin(entity, kind="datetime", table=ref.name, layer="bronze", initial=seed)
    say(f"watermarks: window for {entity}: WHERE {w.predicate('LastSyncTime')}")
    first = int(pc.max(rt.engine.read(ref, columns=["AccountId"]).column("AccountId")).as_py()) + 1
    when = to_native(w.low, "datetime") + timedelta(days=1) if w.low else utcnow()
    ids = list(range(first, first + 10))
    source = pa.table(
        {
            "AccountId": ids,
            "Name": [f"Account {i}" for i in ids],
            "Country": ["NL"] * 10,
            "IsDeleted": [False] * 10,
            "IsPurged": [False] * 10,
            "LastSyncTime": [when] * 10,
        },
        schema=arrow_schema(DEMO_TABLES["bronze.account"]),
    )
    copied = (
        source
        if w.low is None
        else source.filter(
            pc.greater(
                source["LastSyncTime"],
                pa.scalar(to_native(w.low, "datetime"), source["LastSyncTime"].type),
            )
        )
    )
    high = high_from(copied, "LastSyncTime", "datetime")
    res = rt.runs.write(entity, ref.name, copied, layer="bronze", watermark=high)
    rt.watermarks.commit(w, high, table_version=res.version)
    say(
        f"watermarks: loaded {res.rows_written} rows into {ref.name} version {res.version} "
        f"(txn {res.txn_app_id} #{res.txn_version}); watermark now {rt.watermarks.current(entity)}"
    )
    if rt.runs.should_skip(entity, "bronze"):
        say(f"watermarks: re-run of {entity} in this run skipped (audited SkippedAlreadyProcessed)")


def checkpoints_step(rt: Runtime, say: Callable[[str], None]) -> None:
    """The demo: a DailyBatch checkpoint of the three bronze tables, listed, then verified."""
    cp = rt.checkpoints.create(
        list(DEMO_TABLES),
        kind="DailyBatch",
        raise_on_failure=True,
        notes="demo: after the 3-day sync",
    )
    assert cp is not None  # raise_on_failure=True: never None
    say(
        f"checkpoint {cp.checkpoint_name}: {cp.validation_status}, {cp.tables_included} tables, "
        f"{cp.total_rows} rows, active until {cp.retention_date}"
    )
    for t in cp.tables:
        say(
            f"  {t.table:<18} v{t.version:<3} total {t.total_rows:>5}  active {t.active_rows:>5}  "
            f"deleted {t.deleted_rows:>3}  purged {t.purged_rows:>3}"
        )
    for line in render_table(rt.checkpoints.list()).splitlines():
        say(f"  {line}")
    say(rt.checkpoints.verify(cp.checkpoint_name).to_text())


def rollback_step(rt: Runtime, say: Callable[[str], None]) -> None:
    """The demo: a bad sync flags accounts deleted after the checkpoint; plan, approve, restore."""
    cps = [c for c in rt.checkpoints.list(kind="DailyBatch") if c.is_restore_target]
    if not cps:
        say("rollback: skipped (no DailyBatch checkpoint to roll back to)")
        return
    cp = cps[0]
    account = rt.table("bronze.account")
    active = rt.engine.sql(
        'SELECT "AccountId" FROM {t} WHERE NOT "IsDeleted" AND NOT "IsPurged" ORDER BY "AccountId"',
        {"t": account},
    ).to_pylist()
    bad = [r["AccountId"] for r in active[: len(active) * 2 // 5]]
    rt.engine.update(
        account,
        {"AccountId": bad},
        {"IsDeleted": True},
        commit=CommitOptions(metadata={"fmd.runId": "bad-sync"}),
    )
    say(
        f"rollback: a bad sync flagged {len(bad)} active accounts deleted after {cp.checkpoint_name}"
    )
    plan = rt.rollback.plan(cp.checkpoint_name)
    for line in plan.to_text().splitlines():
        say("  " + line)
    result = rt.rollback.execute(plan, plan.approval_token, reason="demo: undo the bad sync")
    say(
        f"rollback {result.status}: restored {', '.join(result.succeeded) or 'nothing'}; "
        f"quality score {result.quality_score}%; undo point {result.pre_checkpoint}"
    )


def maintenance_step(rt: Runtime, say: Callable[[str], None]) -> None:
    """Demo: plan maintenance for the demo tables and dry-run it (nothing is deleted)."""
    say("maintenance: plan + dry run (VACUUM never deletes the files of an active checkpoint)")
    plan = rt.maintenance.plan(include_metadata_tables=False)
    for line in plan.to_text().splitlines():
        say("  " + line)
    say("  " + rt.maintenance.run(plan, dry_run=True).to_text().splitlines()[0])


DEMO_STEPS: tuple[Callable[[Runtime, Callable[[str], None]], None], ...] = (
    audit_step,
    watermarks_step,
    checkpoints_step,
    rollback_step,
    maintenance_step,
)
"""The steps `run_demo` runs after the simulated sync, in story order."""


__all__ = [
    "DEMO_CHECKPOINT",
    "DEMO_CONFIG",
    "DEMO_STEPS",
    "DEMO_TABLES",
    "MARKER",
    "audit_step",
    "build_lakehouse",
    "checkpoints_step",
    "leave_a_bad_sync",
    "maintenance_step",
    "prepare_folder",
    "rollback_step",
    "run_demo",
    "watermarks_step",
]
