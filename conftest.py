"""The suite's shared fixtures: real Delta tables in temporary lakehouses, one Spark session per
process (built by `fmd_runtime.testing.local_spark_session`, as users build theirs).

- ``lakehouse``: an empty temporary lakehouse folder (``<tmp>/Tables/...`` layout).
- ``rt``: a Runtime on the embedded engine over that folder.
- ``engine``: a real `DeltaEngine` of every kind: delta-rs always; Spark + Delta under the
  ``spark_delta`` marker (the session's Delta pair: Runtime 1.3 in ``.venv``, Runtime 2.0 in
  ``.venv-rt20``). Spark tables a test creates are dropped after it.
- ``any_rt``: a Runtime over ``engine``: scenario tests written once, run on every engine.
- ``spark``: the shared local Spark + Delta session (for SQL view and DataFrame tests).

The fixtures of the ``fmd_runtime`` pytest plugin (`fmd_runtime.testing.plugin`) do the work.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT / "tests"))  # shared test helpers (nbrun, sqlviews ...)
sys.path.insert(1, str(ROOT))  # benchmarks.common helpers

ENGINES = ["deltars", pytest.param("spark", marks=pytest.mark.spark_delta)]


@pytest.fixture
def lakehouse(fmd_lakehouse: Path) -> Path:
    return fmd_lakehouse


@pytest.fixture
def rt(lakehouse: Path) -> Iterator[Any]:
    import fmd_runtime as fmd

    runtime = fmd.connect(
        lakehouse=lakehouse, run_id="test-run", pipeline_run_id="pipe-run", triggered_by="pytest"
    )
    yield runtime
    runtime.close()


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, lakehouse: Path) -> Iterator[Any]:
    """A DeltaEngine of each kind; the tables a test creates go with its lakehouse / catalog."""
    if request.param == "deltars":
        from fmd_runtime.engine.deltars import DeltaRsEngine

        yield DeltaRsEngine(lakehouse)
        return
    from fmd_runtime.engine.spark import SparkEngine
    from fmd_runtime.testing import reset_catalog
    from fmd_runtime.testing.plugin import spark_delta_session

    session = spark_delta_session()
    try:
        yield SparkEngine(session)
    finally:
        reset_catalog(session)


@pytest.fixture
def any_rt(engine: Any) -> Iterator[Any]:
    """A Runtime on each engine (the same scenario, every engine)."""
    import fmd_runtime as fmd

    runtime = fmd.connect(
        engine=engine, run_id="test-run", pipeline_run_id="pipe-run", triggered_by="pytest"
    )
    yield runtime
    runtime.close()


@pytest.fixture(scope="session")
def spark() -> Any:
    from fmd_runtime.testing.plugin import spark_delta_session

    return spark_delta_session()


# The scenario tests that also run on Spark + Delta (both runtimes). Every scenario test runs on
# the embedded engine; on local Spark each Delta command costs 0.3-4 s (a scenario test 30-90 s),
# so the Spark tiers run the tests that prove each capability's path on the production engine
# (batch pin, zero tolerance, verify after an external VACUUM, retention raise; restore row for
# row after the plan (the dry run's impact checked against RESTORE's metrics), failing table + resume, undo via PreRollback, idempotency repair, deletion
# vectors; library VACUUM vs raw VACUUM, OPTIMIZE/ZORDER, refusals; exactly-once writes, crash
# between data and watermark commit; additive drift; audit batching), and the breadth variants of
# the same paths (more refusal wordings, name clashes, alert thresholds ...) run on delta-rs only:
# both Spark tiers then fit CI's budget (the whole suite under 25 minutes on 2 cores). The engine
# contract, Spark mechanics, Delta 4.1 semantics, cross-engine and view tests all run on Spark.
SPARK_SCENARIOS: dict[str, set[str]] = {
    "test_engine_merge_contract.py": {
        "test_a_snapshot_merge_counts_each_row_once_and_the_counts_equal_the_diff",
        "test_rows_that_come_back_are_reactivated_and_purged_rows_stay_purged",
        "test_a_check_that_raises_stops_the_merge_with_nothing_committed",
        "test_null_and_duplicated_keys_are_refused_naming_the_key_and_a_sample",
        "test_a_repeated_merge_with_the_same_identity_is_a_no_op",
    },
    "test_merge_scenario.py": {
        "test_a_snapshot_after_a_source_outage_is_refused_and_a_normal_days_churn_commits",
        "test_a_merge_killed_after_its_data_commit_and_re_run_changes_nothing",
    },
    "test_commit_economy.py": {
        "test_a_load_costs_one_ingestion_commit_and_a_notebook_of_many_one_for_all",
        "test_a_crash_after_the_data_commit_is_completed_from_the_commit_in_one_row",
    },
    "test_checkpoints_create.py": {
        "test_batch_checkpoint_of_50_tables_pins_exact_versions_and_counts",
        "test_a_row_flagged_deleted_and_purged_fails_the_checkpoint_naming_the_table",
        "test_a_raise_always_keeps_the_log_retention_at_least_the_file_retention",
        "test_a_delta_log_checkpoint_is_written_at_the_pinned_version",
        "test_a_protected_pin_writes_a_log_checkpoint_and_a_re_pin_reuses_it",
    },
    "test_checkpoints_batch.py": {
        "test_a_load_in_flight_is_waited_for_then_the_checkpoint_is_inflight_and_names_it",
        "test_a_table_pinned_before_its_own_load_of_the_batch_fails_naming_both_versions",
    },
    "test_checkpoints_verify.py": {
        "test_external_vacuum_makes_the_table_unrestorable_with_the_missing_file_count",
    },
    # checkpoint-retention enforcement only reads and writes metadata rows: delta-rs proves it
    "test_checkpoints_retention.py": set(),
    "test_rollback_scenario.py": {
        "test_execute_restores_every_table_row_for_row_and_proves_it",
        "test_a_failing_table_leaves_the_others_restored_and_a_rerun_resumes_it",
        "test_the_prerollback_checkpoint_undoes_the_rollback",
        "test_a_deletion_vector_table_is_rolled_back_row_for_row",
    },
    "test_rollback_edges.py": {
        "test_an_inconsistent_state_is_undone_only_when_asked",
    },
    "test_maintenance_scenarios.py": {
        "test_library_vacuum_keeps_a_10_day_old_checkpoint_restorable_while_raw_vacuum_breaks_it",
        "test_a_24_hour_retention_is_refused_with_a_clear_message",
        "test_metadata_tables_keep_720_hours_and_z_order_by_their_query_columns",
    },
    "test_ingestion_scenario.py": {
        "test_incremental_load_with_a_failure_between_copy_and_commit",
        "test_exactly_once_recovery_and_widening_on_every_engine",
    },
    "test_health_report.py": {
        "test_a_platform_with_loads_and_checkpoints_is_healthy_and_its_page_has_the_charts",
        "test_a_failed_and_a_hung_load_make_it_unhealthy_with_one_alert",
    },
    "test_preflight.py": {
        "test_a_clean_lakehouse_is_healthy_and_preflight_writes_only_its_audit_row",
        "test_a_placeholder_guid_and_a_table_that_does_not_exist_are_found_naming_each",
        "test_retention_below_the_floors_and_a_checkpoint_it_does_not_cover_are_found",
        "test_missing_metadata_tables_and_columns_are_found_and_nothing_is_created",
    },
    "test_health_foreign.py": {
        "test_an_outside_vacuum_is_reported_with_the_operation_and_the_unrestorable_checkpoint",
        "test_harmless_foreign_optimize_is_listed_as_info",
        "test_the_librarys_own_maintenance_and_writes_are_not_foreign",
        "test_a_second_scan_reads_only_the_new_commits",
    },
    "test_health_anomalies.py": {
        "test_a_sync_that_flags_40_percent_deleted_is_flagged_while_normal_churn_is_not",
    },
    # the breaker's path on the production engine: claims by commit order, refusal, re-open, close
    "test_circuit_scenario.py": {
        "test_after_the_cooldown_one_probe_runs_its_failure_re_opens_and_its_success_closes",
    },
    "test_store.py": {
        "test_ensure_creates_every_table_once_and_upgrades_missing_columns",
        "test_buffer_writes_one_commit_per_flush",
    },
}


SHARD_ENV = "FMD_TEST_SHARD"
"""``i/n``: run the i-th of n shards of the selected tests (whole files; `make test` runs each
runtime's Spark tier as two processes: local Spark spends most of a test waiting on task
scheduling, so two sessions side by side take little more than one)."""


@pytest.hookimpl(trylast=True)  # after ``-m`` has deselected: shards split what is left
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the Spark runs of scenario breadth variants (see `SPARK_SCENARIOS`), then keep
    this process's shard (`SHARD_ENV`)."""
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        wanted = SPARK_SCENARIOS.get(Path(str(item.fspath)).name)
        name = getattr(item, "originalname", item.name)
        if params.get("engine") == "spark" and wanted is not None and name not in wanted:
            drop.append(item)
        else:
            keep.append(item)
    keep, others = shard(keep, os.environ.get(SHARD_ENV))
    drop += others
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def shard(
    items: list[pytest.Item], spec: str | None
) -> tuple[list[pytest.Item], list[pytest.Item]]:
    """(this shard's items, the others') for ``spec`` ``i/n``: whole files, each given to the
    shard with the fewest tests so far (largest files first), the same split in every process."""
    if not spec:
        return items, []
    try:
        i, n = (int(x) for x in spec.split("/"))
        assert 1 <= i <= n
    except (ValueError, AssertionError):
        raise pytest.UsageError(f"{SHARD_ENV}={spec!r}: expected i/n with 1 <= i <= n") from None
    files: dict[str, int] = {}
    for item in items:
        files[str(item.fspath)] = files.get(str(item.fspath), 0) + 1
    load, owner = [0] * n, {}
    for path in sorted(files, key=lambda p: (-files[p], p)):
        k = load.index(min(load))
        owner[path], load[k] = k, load[k] + files[path]
    mine = [it for it in items if owner[str(it.fspath)] == i - 1]
    return mine, [it for it in items if owner[str(it.fspath)] != i - 1]


def pytest_report_header(config: pytest.Config) -> list[str]:
    try:
        from fmd_runtime.testing import delta_runtime

        pair = delta_runtime().label
    except Exception as exc:  # noqa: BLE001 - no Spark installed in this environment
        pair = f"none ({exc})"
    return [f"fmd: Spark+Delta tier: {pair}"]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    stats = terminalreporter.stats
    counts = {
        key: sum(
            1
            for r in stats.get(key, [])
            if {"spark", "spark_delta"} & set(getattr(r, "keywords", {}))
        )
        for key in ("passed", "failed", "skipped", "error")
    }
    try:
        from fmd_runtime.testing import delta_runtime

        label = delta_runtime().label
    except Exception:  # noqa: BLE001
        label = "not installed"
    terminalreporter.write_line(
        f"fmd Spark+Delta tier [{label}]: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['skipped']} skipped"
    )
