"""Weekly maintenance: VACUUM and OPTIMIZE that never destroy a checkpoint's files.

``plan = rt.maintenance.plan()`` decides, per table, what runs, with which retention and why:

1. Retention: each table's ``VacuumRetentionHours`` (metadata tables at least
   ``metadata_vacuum_retention_hours``), never below ``vacuum_retention_floor_hours`` without an
   audited override, never below the table's own ``delta.deletedFileRetentionDuration``.
2. Protection (the point of it): the files of the versions active checkpoints pin form the
   keep-set, and the VACUUM dry run's candidates must not meet it. On overlap, an engine that
   can keep versions (delta-rs) gets the pinned versions as ``keep_versions`` and the dry run is
   proved again; an engine that cannot (Spark) gets its ``delta.deletedFileRetentionDuration``
   and RETAIN hours raised to cover the checkpoints until they expire, and is proved again; what
   still cannot be proved is not vacuumed. Checkpoints the log retention would lose are AtRisk
   and the plan raises ``delta.logRetentionDuration`` for them. Properties maintenance raised are
   lowered again once the checkpoints that needed them are gone (never below the operator's own
   value, recorded in ``fmd.maintenance.baseline.<property>``, nor below the floor).

``result = rt.maintenance.run(plan)`` is a dry run by default (VACUUM DRY RUN lists, what
OPTIMIZE would do, which checkpoints retention would deactivate). ``dry_run=False`` raises
retention properties, VACUUMs, lowers properties (after the VACUUM, which runs with the retention
it was proved with), then OPTIMIZEs each table in a bounded pool, enforces checkpoint retention,
audits ``Vacuum`` / ``Optimize`` per table and alerts on failures.

Why a plan stays safe until it runs: on delta-rs every pinned version travels to VACUUM as
``keep_versions``; elsewhere the retention covers the oldest pinned version plus
``retention_margin_days``. A plan older than ``max_plan_age_minutes``, or a table that gained a
checkpoint since, is planned again before anything is deleted, and the deleted files are checked
against the keep-set once more.

Layout: this facade holds the public class and re-exports the models; the work is done in
`_plan` (scope, per-table plan, safety proof, re-planning), `_run` (properties, VACUUM, OPTIMIZE,
checkpoint retention, alerts, summary), `_retention` (what active checkpoints need, the floor,
`set_retention`) and `_models` (plan and result models with their text reports).

Example:
    >>> # plan = rt.maintenance.plan(); print(plan.to_text())
    >>> # result = rt.maintenance.run(plan, dry_run=False); print(result.to_text())
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from fmd_runtime.maintenance import _plan, _retention, _run
from fmd_runtime.maintenance._models import (
    CheckpointRisk,
    MaintenancePlan,
    MaintenanceResult,
    PropertyChange,
    RetentionChange,
    TablePlan,
    TableRun,
)
from fmd_runtime.maintenance._retention import parse_interval_hours
from fmd_runtime.retention import (
    BASELINE_PREFIX,
    DELETED_FILE_RETENTION,
    LOG_RETENTION,
    format_interval,
)
from fmd_runtime.tables import TableRef

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime


class Maintenance:
    """The maintenance capability (``rt.maintenance``): plan, run, set_retention.

    Example:
        >>> # plan = rt.maintenance.plan("bronze.account")
        >>> # print(rt.maintenance.run(plan).to_text())  # a dry run
    """

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def plan(
        self,
        tables: str | Sequence[str] | None = None,
        *,
        include_metadata_tables: bool | None = None,
        min_retention_hours: int | None = None,
        allow_below_floor: bool = False,
        reason: str | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> MaintenancePlan:
        """Plan VACUUM / OPTIMIZE per table from ``PipelineConfig``, with the safety proof.

        Args:
            tables: ``"a,b"`` or a list; default every enabled ``PipelineConfig`` table.
            include_metadata_tables: add the metadata tables (at least 720 hours, Z-ORDER on
                their query columns). None (the default): only when ``tables`` is not given,
                so ``tables="a,b"`` maintains exactly a and b; True adds them to explicit tables.
            min_retention_hours: retention every table keeps at least, this run (0 to
                87,600 hours; a bad value raises ConfigError before anything is written).
            allow_below_floor: permit retentions below the floor (needs ``reason``; audited).
            reason: why the floor is overridden.
            progress: callback for progress lines.

        Returns:
            The `MaintenancePlan`, audited (one ``MaintenancePlan`` event per table).

        Raises:
            ConfigError: a flag is not a boolean (a bool, or "true"/"false"/"1"/"0" in any
                case); nothing is written.
            RetentionError: ``min_retention_hours`` below the floor without the override, or
                the override without a reason.

        Example:
        """
        return _plan.plan_maintenance(
            self._rt,
            tables,
            include_metadata_tables=include_metadata_tables,
            min_retention_hours=min_retention_hours,
            allow_below_floor=allow_below_floor,
            reason=reason,
            progress=progress,
        )

    def run(
        self,
        plan: MaintenancePlan,
        *,
        dry_run: bool = True,
        pre_checkpoint: bool = False,
        expected_duration_minutes: float = 120,
        max_plan_age_minutes: float = 60,
        progress: Callable[[str], None] | None = None,
    ) -> MaintenanceResult:
        """Run a plan: a dry run by default; ``dry_run=False`` VACUUMs and OPTIMIZEs.

        Args:
            plan: from `plan`. Planned again when older than ``max_plan_age_minutes``; tables
                whose active checkpoints changed since are planned again before executing.
            dry_run: report only (VACUUM DRY RUN lists, OPTIMIZE intent, checkpoints that
                would be deactivated); nothing changes.
            pre_checkpoint: take a ``PreMaintenance`` checkpoint of the data tables first.
            expected_duration_minutes: alert when the run takes longer (0 to 10,080 minutes;
                ConfigError otherwise).
            max_plan_age_minutes: how old a plan may be (0 to 10,080; 0 always plans again).
            progress: callback for progress lines ("Maintaining table 3 of 40: ...").

        Returns:
            The `MaintenanceResult` summary (audited as ``MaintenanceSummary``); its
            ``dry_run`` is what ran.

        Raises:
            ConfigError: ``dry_run`` or ``pre_checkpoint`` is not a boolean (a bool, or
                "true"/"false"/"1"/"0" in any case), ``plan`` is not a `MaintenancePlan`, or a
                duration is out of bounds; nothing is written.

        Example:
            >>> # result = rt.maintenance.run(rt.maintenance.plan(), dry_run=False, pre_checkpoint=True)
        """
        return _run.run_plan(
            self._rt,
            plan,
            dry_run=dry_run,
            pre_checkpoint=pre_checkpoint,
            expected_duration_minutes=expected_duration_minutes,
            max_plan_age_minutes=max_plan_age_minutes,
            progress=progress,
        )

    def set_retention(
        self,
        table: str | TableRef,
        *,
        log_days: int | None = None,
        deleted_file_days: int | None = None,
        override_floor: bool = False,
        reason: str | None = None,
        dry_run: bool = True,
    ) -> RetentionChange:
        """Set a table's ``delta.logRetentionDuration`` / ``delta.deletedFileRetentionDuration``.

        Never below what the table's active checkpoints need (until they expire, plus the
        margin); the deleted-file retention never below the floor unless ``override_floor``
        with a ``reason`` (audited as ``RetentionOverride``). A dry run (the default) only
        reports what it would set.

        Args:
            table: ``schema.table``.
            log_days: new log retention, in days (0 to 3,650; ConfigError otherwise).
            deleted_file_days: new deleted-file retention, in days (0 to 3,650).
            override_floor: allow a deleted-file retention below the floor.
            reason: why (required with ``override_floor``).
            dry_run: report only.

        Returns:
            The `RetentionChange` (previous and new values).

        Raises:
            ConfigError: ``override_floor`` or ``dry_run`` is not a boolean; nothing is written.
            RetentionError: nothing to set, a value below the floor or below what checkpoints
                need (audited as a refusal).

        Example:
            >>> # rt.maintenance.set_retention("bronze.donation", log_days=60, dry_run=False)
        """
        return _retention.set_retention(
            self._rt,
            table,
            log_days=log_days,
            deleted_file_days=deleted_file_days,
            override_floor=override_floor,
            reason=reason,
            dry_run=dry_run,
        )


__all__ = [
    "BASELINE_PREFIX",
    "DELETED_FILE_RETENTION",
    "LOG_RETENTION",
    "CheckpointRisk",
    "Maintenance",
    "MaintenancePlan",
    "MaintenanceResult",
    "PropertyChange",
    "RetentionChange",
    "TablePlan",
    "TableRun",
    "format_interval",
    "parse_interval_hours",
]
