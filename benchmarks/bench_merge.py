"""Exactly-once merges with the deletion circuit breaker vs a plain engine MERGE of the same data.

Side by side in one process, on the same engine, two identical tables of N target rows (1M on
delta-rs; on Spark set ``FMD_BENCH_ENGINE=spark``, 200k rows by default, 20k with ``--quick``):

- library: ``rt.runs.merge`` (ledger, run guard, key checks, the classification of every row, the
  breaker's pre-check, the MERGE of the changed rows only, the ledger completion and audit);
- baseline: the engine's own MERGE of the same data, what a notebook writes by hand: match on the
  key, update every matched row, insert the rest (delta-rs ``when_matched_update_all`` /
  ``when_not_matched_insert_all``; Spark ``whenMatchedUpdateAll`` / ``whenNotMatchedInsertAll``),
  no checks, no ledger.

Two loads, each with 1% of the rows changed (a new set each round, alternating which side goes
first; the best of 3 rounds): an incremental upsert (the data holds just the changed rows) and a
full snapshot (the data holds every row, 1% of them changed; the library's snapshot mode also
decides the soft-deletes). Goal: the library <= 1.5x the baseline.

Run: ``python -m benchmarks merge`` (delta-rs), ``FMD_BENCH_ENGINE=spark python -m benchmarks merge``
in each runtime's venv.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import table

GOAL = 1.5
ROUNDS = 3


def section_key() -> str:
    """The docs/performance.md section: ``merge-deltars`` or ``merge-spark-rt13`` / ``-rt20``."""
    if os.environ.get("FMD_BENCH_ENGINE") != "spark":
        return "merge-deltars"
    from fmd_runtime.testing import session_runtime

    found = session_runtime()
    return "merge-spark-rt" + ((found.fabric_runtime if found else None) or "x").replace(".", "")


def _frame(ids: Any, names: list[str]) -> Any:
    import pyarrow as pa

    return pa.table(
        {"Id": pa.array(ids, pa.int64()), "Name": [names[i] for i in ids],
         "Amount": pa.array([float(i % 1000) for i in ids], pa.float64())}
    )  # fmt: skip


def run(quick: bool) -> str:
    """Run the benchmark and return its markdown section."""
    import fmd_runtime as fmd
    from fmd_runtime.engine import Column

    spark_mode = os.environ.get("FMD_BENCH_ENGINE") == "spark"
    n = (20_000 if quick else 200_000) if spark_mode else (100_000 if quick else 1_000_000)
    root = Path(tempfile.mkdtemp(prefix="fmd-bench-merge-"))
    spark = None
    try:
        if spark_mode:
            from fmd_runtime.testing import local_spark_session, reset_catalog

            spark = local_spark_session()
            reset_catalog(spark)
            rt = fmd.connect(spark=spark, run_id="bench-merge-0", triggered_by="bench")
        else:
            rt = fmd.connect(lakehouse=root, run_id="bench-merge-0", create=True)
        engine = rt.engine
        cols = [
            Column(name="Id", type="bigint", nullable=False),
            Column(name="Name", type="string"),
            Column(name="Amount", type="double"),
            Column(name="IsDeleted", type="boolean"),
            Column(name="IsPurged", type="boolean"),
        ]
        lib_t, base_t = rt.table("silver.lib_account"), rt.table("silver.base_account")
        ids = list(range(n))
        names = [f"acct {i}" for i in ids]  # the table's current names, kept in step
        full = _frame(ids, names)
        import pyarrow as pa

        seed = full.append_column("IsDeleted", pa.array([False] * n)).append_column(
            "IsPurged", pa.array([False] * n)
        )
        for t in (lib_t, base_t):
            engine.create(t, cols)
            engine.write(t, seed)
        rt.configure_table(
            lib_t.name, primary_key=["Id"], deleted_flag="IsDeleted", purged_flag="IsPurged"
        )

        def plain_merge(data: Any) -> None:
            if spark_mode:
                from delta.tables import DeltaTable

                df = engine._dataframe(base_t, data)  # type: ignore[attr-defined]
                (
                    DeltaTable.forName(spark, base_t.quoted).alias("t")
                    .merge(df.alias("s"), "t.Id = s.Id")
                    .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute()
                )  # fmt: skip
            else:
                from deltalake import DeltaTable

                (
                    DeltaTable(engine.path(base_t))  # type: ignore[attr-defined]
                    .merge(data, 't."Id" = s."Id"', source_alias="s", target_alias="t")
                    .when_matched_update_all().when_not_matched_insert_all().execute()
                )  # fmt: skip

        results: list[tuple[str, float, float]] = []
        step = 100  # 1% of the rows: every 100th, shifted each round
        for load in ("upsert (1% of rows in the data)", "snapshot (all rows, 1% changed)"):
            lib_best = base_best = float("inf")
            for r in range(1, ROUNDS + 1):
                round_no = r + (ROUNDS if load.startswith("snapshot") else 0)
                changed = set(range(round_no % step, n, step))
                for i in changed:
                    names[i] = f"acct {i} r{round_no}"
                data = _frame(ids if load.startswith("snapshot") else sorted(changed), names)
                # the baseline's own data: "Name" without the tracking columns, the same rows
                base_data = data.append_column("IsDeleted", pa.array([False] * data.num_rows))
                base_data = base_data.append_column("IsPurged", pa.array([False] * data.num_rows))
                run_rt = (
                    fmd.connect(spark=spark, run_id=f"bench-merge-{round_no}", triggered_by="bench")
                    if spark_mode
                    else fmd.connect(lakehouse=root, run_id=f"bench-merge-{round_no}")
                )
                mode = "snapshot" if load.startswith("snapshot") else "upsert"
                if spark_mode:  # Spark gets DataFrames (built outside the timing)
                    data = engine._dataframe(lib_t, data).cache()  # type: ignore[attr-defined]
                    data.count()

                def lib(rt_: Any = run_rt, data_: Any = data, mode_: str = mode) -> Any:
                    return rt_.runs.merge(
                        "bench.account", lib_t.name, data_, layer="silver", mode=mode_
                    )

                order = [("lib", lib), ("base", lambda d=base_data: plain_merge(d))]
                for side, fn in order if r % 2 else reversed(order):
                    start = time.perf_counter()
                    out = fn()
                    took = time.perf_counter() - start
                    if side == "lib":
                        assert out.counts.updated == len(changed), out.counts
                        lib_best = min(lib_best, took)
                    else:
                        base_best = min(base_best, took)
                run_rt.close()
            results.append((load, lib_best, base_best))
        rows = [
            (load, f"{lib:.2f}", f"{base:.2f}", f"{lib / base:.2f}x",
             "met" if lib / base <= GOAL else "missed")
            for load, lib, base in results
        ]  # fmt: skip
        engine_name = "Spark + Delta (local)" if spark_mode else "delta-rs"
        return (
            f"## Merges: rt.runs.merge vs a plain MERGE ({engine_name})\n\n"
            f"{engine_name}, {n:,} target rows, 1% changed per load; best of {ROUNDS} rounds "
            f"(`{'FMD_BENCH_ENGINE=spark ' if spark_mode else ''}python -m benchmarks merge"
            f"{' --quick' if quick else ''}`). Goal: library <= {GOAL}x the plain MERGE.\n\n"
            + table(rows, ("load", "rt.runs.merge s", "plain MERGE s", "ratio", "goal"))
        )
    finally:
        if spark is not None:
            from fmd_runtime.testing import reset_catalog

            reset_catalog(spark)
        shutil.rmtree(root, ignore_errors=True)
