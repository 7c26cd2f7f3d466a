"""What the phases of one execution hand each other: the `Execution` they all fill in.

`_execute.execute_plan` creates it from the approved plan; each phase adds what it learned and the
next reads it: the PreRollback checkpoint's pins (`take_pre_checkpoint`: the pre-state), the
tables' outcomes (`restore_all`), the PostRollback pins and each table's post-state and checks
(`_validate`), the ledger repair (`repair_ledger`). `_record.build_result` turns it into the
`RollbackResult`. Plain mutable dataclasses: working state, never returned to a caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fmd_runtime.checkpoints import Checkpoint, CheckpointTable
from fmd_runtime.config import TableConfig
from fmd_runtime.rollback._models import ComparisonReport, TableOutcome
from fmd_runtime.rollback._report import RollbackPlan
from fmd_runtime.validation import TableMeasure, ValidationCheck

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime


@dataclass
class PostState:
    """What post-validation learned about one table."""

    table: str
    version: int
    measure: TableMeasure | None
    checks: list[ValidationCheck]
    sample: Any
    comparison: ComparisonReport | None = None


@dataclass
class Execution:
    """One execution of a plan, filled in phase by phase (keys of the dicts: lower-case names)."""

    plan: RollbackPlan  # as approved, with the checkpoint as stored (`approve_plan`)
    reason: str | None
    started_at: datetime
    start: float
    configs: dict[str, TableConfig] = field(default_factory=dict)  # PipelineConfig by table
    # take_pre_checkpoint: the undo point, whose pins are the pre-state
    pre_pins: dict[str, CheckpointTable] = field(default_factory=dict)
    pre_name: str | None = None
    # restore_all: one outcome per table in scope, in the plan's order
    outcomes: list[TableOutcome] = field(default_factory=list)
    # take_post_checkpoint: the post-state, linked to the target
    post: Checkpoint | None = None
    post_name: str | None = None
    post_pins: dict[str, CheckpointTable] = field(default_factory=dict)
    # validate_restored: per table what it found, and every check
    posts: list[PostState] = field(default_factory=list)
    checks: list[ValidationCheck] = field(default_factory=list)
    # repair_ledger: the loads invalidated and watermarks rewound
    runs: list[dict[str, Any]] = field(default_factory=list)
    watermarks: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def configs_by_table(rt: Runtime) -> dict[str, TableConfig]:
    """Every ``PipelineConfig`` row (enabled or not), by lower-case table name."""
    return {c.table.lower(): c for c in rt.table_configs(enabled_only=False)}
