"""Checkpoints: a 100-table batch checkpoint, and the one-pass validation of a 10M-row table.

Side by side in one process, on the same delta-rs engine and the same tables:

1. Batch checkpoint of 100 tables without tracking columns (small tables, 1-3 versions each):
   - library: ``rt.checkpoints.create(tables, kind="DailyBatch")`` (tables read in the bounded
     pool; counts from the log statistics; one commit for the table rows, one for the header, one
     audit flush). Measured in steady state (the tables' retention properties were raised by an
     earlier checkpoint, as every day after the first); the first run is shown too.
   - naive loop (what an operator writes without the library): for each table, its version, a
     full ``SELECT count(*)`` through ``engine.sql``, and one append of a history row.
   - raw floor: reading the 100 versions and their log statistics, nothing else:
     ``engine.version`` + ``engine.count_rows`` + ``engine.files`` per table, same bounded pool.
   Goals: library >= 5x faster than the naive loop, and within 1.5x of the floor.
2. Validation of a 10-million-row table with tracking columns (IsDeleted, IsPurged, key Id):
   - library: ``rt.checkpoints.measure(table)``: ONE aggregation (total, active, deleted, purged,
     null keys);
   - baseline: four separate counts (total, deleted, purged, null keys), four queries.
   Goals: >= 2.5x faster, peak memory (RSS growth while it runs) under 1 GB.

``--quick`` uses 30 tables and 1M rows (the goals are then indicative only).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import Measure, checkpoint_floor, measure, naive_checkpoint, table

TABLES = 100
ROWS = 10_000_000
GOAL_NAIVE = 5.0
GOAL_FLOOR = 1.5
GOAL_ONE_PASS = 2.5
GOAL_MEMORY_MIB = 1024.0


def _interleaved(fns: dict[str, Any], repeat: int) -> dict[str, Measure]:
    """Best time of ``repeat`` rounds, the candidates alternating within each round.

    The machine is shared: alternating keeps a burst of load from favouring one side.
    """
    best: dict[str, Measure] = {}
    for _ in range(repeat):
        for name, fn in fns.items():
            m = measure(fn)
            old = best.get(name)
            if old is None or m.seconds < old.seconds:
                best[name] = Measure(
                    m.seconds, max(m.peak_mib, old.peak_mib if old else 0), m.value
                )
    return best


def _batch(root: Path, n_tables: int, repeat: int) -> dict[str, Any]:
    import pyarrow as pa

    import fmd_runtime as fmd
    from fmd_runtime.engine import Column
    from fmd_runtime.store import MetadataStore

    rt = fmd.connect(lakehouse=root, run_id="bench-checkpoints", triggered_by="bench", create=True)
    cols = [Column(name="Id", type="bigint"), Column(name="Name", type="string")]
    names = [f"bench.t{i:03d}" for i in range(n_tables)]

    def build(name: str) -> None:
        ref = rt.table(name)
        rt.engine.create(ref, cols)
        for v in range(1 + int(name[-1]) % 3):
            n = 50 + v
            rt.engine.write(
                ref,
                pa.table(
                    {"Id": pa.array(range(n), pa.int64()), "Name": [f"n{i}" for i in range(n)]}
                ),
            )

    assert all(o.ok for o in rt.map_tables(build, names, label="Building"))
    refs = [rt.table(n) for n in names]
    naive_store = MetadataStore(rt.engine, "naive")
    naive_store.ensure()

    def library() -> Any:
        return rt.checkpoints.create(names, kind="DailyBatch", raise_on_failure=True)

    def naive() -> None:
        naive_checkpoint(rt, naive_store, refs)

    def floor() -> None:
        checkpoint_floor(rt, refs)

    first = measure(library)
    best = _interleaved({"library": library, "floor": floor}, repeat)
    lib, flo = best["library"], best["floor"]
    nai = measure(naive, repeat=1)
    cp = lib.value
    rt.close()
    return {
        "first": first,
        "library": lib,
        "floor": flo,
        "naive": nai,
        "tables": cp.tables_included,
        "status": cp.validation_status,
        "source": {t.count_source for t in cp.tables},
    }


def _one_pass(root: Path, rows: int) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.compute as pc

    import fmd_runtime as fmd
    from fmd_runtime.engine import Column, TableAt

    rt = fmd.connect(lakehouse=root, run_id="bench-one-pass", triggered_by="bench", create=True)
    ref = rt.table("bench.big")
    rt.engine.create(
        ref,
        [
            Column(name="Id", type="bigint"),
            Column(name="Amount", type="double"),
            Column(name="IsDeleted", type="boolean"),
            Column(name="IsPurged", type="boolean"),
        ],
    )
    chunk = 1_000_000
    for start in range(0, rows, chunk):
        ids = pa.array(range(start, start + min(chunk, rows - start)), pa.int64())
        rt.engine.write(ref, pa.table({
            "Id": ids, "Amount": pc.multiply(pc.cast(ids, pa.float64()), 0.5),
            "IsDeleted": pc.equal(pc.bit_wise_and(ids, 31), 0),
            "IsPurged": pc.equal(pc.bit_wise_and(ids, 127), 1),
        }))  # fmt: skip
    cfg = rt.configure_table(
        ref, primary_key=["Id"], deleted_flag="IsDeleted", purged_flag="IsPurged"
    )
    version = rt.engine.version(ref)
    at = {"t": TableAt(table=ref, version=version)}
    q = rt.engine.quote

    def one_pass() -> Any:
        return rt.checkpoints.measure(ref, version, config=cfg)

    queries = {
        "total": "SELECT count(*) AS n FROM {t}",
        "deleted": f"SELECT count(*) AS n FROM {{t}} WHERE {q('IsDeleted')}",
        "purged": f"SELECT count(*) AS n FROM {{t}} WHERE {q('IsPurged')}",
        "null keys": f"SELECT count(*) AS n FROM {{t}} WHERE {q('Id')} IS NULL",
    }

    def count(sql: str) -> int:
        return int(rt.engine.sql(sql, at).column("n")[0].as_py())

    def four_counts() -> tuple[int, ...]:
        return tuple(count(sql) for sql in queries.values())

    one_pass()  # warm the caches both sides share
    best = _interleaved({"one": one_pass, "four": four_counts}, 15)
    lib, base = best["one"], best["four"]
    each = _interleaved({k: (lambda sql=sql: count(sql)) for k, sql in queries.items()}, 15)
    m, four = lib.value, base.value
    assert (m.total, m.deleted, m.purged, m.null_keys) == four, (m, four)
    assert m.active + m.deleted + m.purged == m.total
    rt.close()
    return {"library": lib, "baseline": base, "measure": m, "each": each}


def run(quick: bool) -> str:
    """Run both benchmarks and return the markdown section."""
    n_tables = 30 if quick else TABLES
    rows = 1_000_000 if quick else ROWS
    tmp = Path(tempfile.mkdtemp(prefix="fmd-bench-checkpoints-"))
    try:
        b = _batch(tmp / "batch", n_tables, repeat=5)
        o = _one_pass(tmp / "big", rows)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lib, naive, floor = b["library"].seconds, b["naive"].seconds, b["floor"].seconds
    vs_naive, vs_floor = naive / lib, lib / floor
    one, four = o["library"], o["baseline"]
    vs_four = four.seconds / one.seconds
    peak = max(one.peak_mib, 0.0)

    def ok(flag: bool) -> str:
        return "PASS" if flag else "FAIL"

    m = o["measure"]
    return "\n".join([
        "## Checkpoints",
        "",
        f"Batch checkpoint of {n_tables} tables without tracking columns (counts from "
        f"{', '.join(sorted(b['source']))}; {b['tables']} tables pinned, {b['status']}):",
        "",
        table([
            ("library `rt.checkpoints.create` (steady state, best of 5)", f"{lib:.3f}"),
            ("library, first run (raises each table's retention: one commit per table)",
             f"{b['first'].seconds:.3f}"),
            ("naive loop: version + full count(*) + one append per table", f"{naive:.3f}"),
            ("raw floor: version + count_rows + files per table, bounded pool", f"{floor:.3f}"),
        ], ("what", "seconds")),
        "",
        f"One-pass validation of a {rows:,}-row table with tracking columns "
        f"(total {m.total:,}, active {m.active:,}, deleted {m.deleted:,}, purged {m.purged:,}, "
        f"null keys {m.null_keys}):",
        "",
        table([
            ("library `rt.checkpoints.measure` (one aggregation)", f"{one.seconds:.3f}",
             f"{one.peak_mib:.0f}"),
            ("four separate counts", f"{four.seconds:.3f}", f"{four.peak_mib:.0f}"),
            *((f"  of which: count {k}", f"{v.seconds:.3f}", "") for k, v in o["each"].items()),
        ], ("what", "seconds (best of 15)", "peak RSS growth MiB")),
        "",
        "On delta-rs (DataFusion) the baseline's `count(*)` and its null-key count are answered "
        "from the Parquet/Delta statistics without reading rows (see their times above): "
        "only two of the four counts read rows (one flag column each), and each query pays the table open "
        "and planning. The one pass reads the two flag columns once and lets the statistics "
        "answer the null keys too; the ratio is bounded by that, not by four full scans.",
        "",
        table([
            (f"batch vs naive loop >= {GOAL_NAIVE:g}x", f"{vs_naive:.1f}x", ok(vs_naive >= GOAL_NAIVE)),
            (f"batch within {GOAL_FLOOR:g}x of the raw floor", f"{vs_floor:.2f}x",
             ok(vs_floor <= GOAL_FLOOR)),
            (f"one pass vs four counts >= {GOAL_ONE_PASS:g}x", f"{vs_four:.2f}x",
             ok(vs_four >= GOAL_ONE_PASS)),
            (f"one-pass peak memory < {GOAL_MEMORY_MIB:.0f} MiB", f"{peak:.0f} MiB",
             ok(peak < GOAL_MEMORY_MIB)),
        ], ("goal", "measured", "result")),
        "",
        "Reproduce: `python -m benchmarks checkpoints` (`--quick`: 30 tables, 1M rows; goals "
        "indicative only).",
    ])  # fmt: skip
