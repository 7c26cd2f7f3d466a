"""Every public boolean parameter parses strings from pipelines strictly (issue 11, item 4).

Pipeline parameters often arrive as strings, and ``bool("false")`` is True in Python. For each
public boolean parameter, on real Delta tables in fresh temporary lakehouses:

- ``"false"`` does exactly what ``False`` does and ``"true"`` what ``True`` does: the same
  outcome, the same table versions, the same result fields and audit rows (what really ran);
- the parameter matters (``False`` and ``True`` differ), so the comparison can fail;
- ``"yes"``, ``""``, ``2``, ``None`` (where None is not the documented default), ``"on"`` and
  ``"t"`` are refused with a ConfigError naming the parameter, before anything is written: no
  table version (data or metadata) changes, no folder appears, not even a buffered audit row.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pydantic import BaseModel, ValidationError

import fmd_runtime as fmd
from fmd_runtime.alerts import WebhookNotifier
from fmd_runtime.config import TableConfig, build_table_config
from fmd_runtime.drift import ColumnDrift, DriftReport, apply_policy
from fmd_runtime.engine import Column, arrow_schema
from fmd_runtime.errors import ConfigError, ContractViolation, FmdError
from fmd_runtime.guards import check_rows, guard
from fmd_runtime.maintenance import MaintenanceResult
from fmd_runtime.rollback import RollbackRun
from fmd_runtime.store import utcnow
from fmd_runtime.testing import FaultyEngine

COLS = [
    Column(name="Id", type="bigint", nullable=False),
    Column(name="IsDeleted", type="boolean", nullable=False),
    Column(name="IsPurged", type="boolean", nullable=False),
]
BAD: tuple[Any, ...] = ("yes", "", 2, None, "on", "t")
FUTURE = utcnow().date() + timedelta(days=40)


def _rows(ids: list[int]) -> pa.Table:
    n = len(ids)
    return pa.table(
        {"Id": ids, "IsDeleted": [False] * n, "IsPurged": [False] * n}, schema=arrow_schema(COLS)
    )


def _table(rt: fmd.Runtime, name: str = "bronze.t", writes: int = 1) -> None:
    ref = rt.table(name)
    rt.engine.create(ref, COLS)
    for i in range(writes):
        rt.engine.write(ref, _rows(list(range(i * 10, i * 10 + 10))))
    rt.configure_table(name, primary_key=["Id"], deleted_flag="IsDeleted", purged_flag="IsPurged")


def _version(rt: fmd.Runtime, name: str = "bronze.t") -> int:
    return rt.engine.version(rt.table(name))


def _ops(rt: fmd.Runtime, name: str = "bronze.t") -> tuple[str, ...]:
    """The table's commits, oldest first, without retention-property commits: those depend on
    the clock (a checkpoint's cover is counted in days), the rest on what ran."""
    ref = rt.table(name)
    history = rt.engine.history(ref, rt.engine.version(ref) + 1)
    return tuple(h.operation for h in reversed(history) if h.operation != "SET TBLPROPERTIES")


def _audit(rt: fmd.Runtime, *operations: str) -> list[tuple[Any, ...]]:
    """This call's audit rows of ``operations``: (operation, table, status, dry run)."""
    rt.audit.flush()
    rows = rt.store.read("SyncAuditLog", {"RunId": rt.context.run_id})
    out = [
        (r["Operation"], r["TableName"], r["Status"], r["DryRun"])
        for r in rows
        if r["Operation"] in operations
    ]
    return sorted(out, key=repr)


def _try(fn: Callable[[], Any]) -> Any:
    """The value, or the name of the FmdError it raised; a ConfigError always propagates."""
    try:
        return fn()
    except ConfigError:
        raise
    except FmdError as exc:
        return type(exc).__name__


def _disk(root: Path) -> dict[str, Any]:
    """Every folder and every Delta log entry under the lakehouse: any write shows here."""
    folders = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir())
    logs = sorted(str(p.relative_to(root)) for p in root.rglob("_delta_log/*.json"))
    return {"folders": folders, "logs": logs}


# --------------------------------------------------------------------------------- set-ups
def _with_checkpoint(rt: fmd.Runtime) -> None:
    """bronze.t, checkpoint ``cp``, then rows written after it (something to roll back)."""
    _table(rt)
    assert rt.checkpoints.create(["bronze.t"], kind="Manual", name="cp") is not None
    rt.engine.write(rt.table("bronze.t"), _rows(list(range(100, 105))))


def _with_plan(rt: fmd.Runtime) -> Any:
    _with_checkpoint(rt)
    return rt.rollback.plan("cp")


def _with_failed_checkpoint(rt: fmd.Runtime) -> None:
    """A checkpoint whose validation Failed (a row flagged both deleted and purged)."""
    _table(rt)
    rt.engine.update(rt.table("bronze.t"), {"Id": [1]}, {"IsDeleted": True, "IsPurged": True})
    cp = rt.checkpoints.create(["bronze.t"], kind="Manual", name="bad")
    assert cp is not None and cp.validation_status == "Failed"
    rt.engine.write(rt.table("bronze.t"), _rows([200]))


def _with_maintenance_plan(rt: fmd.Runtime) -> Any:
    _table(rt, writes=4)  # four small files: OPTIMIZE has work
    return rt.maintenance.plan("bronze.t", include_metadata_tables=False)


def _with_daily_checkpoints(rt: fmd.Runtime) -> None:
    """Two Daily checkpoints (expired by ``FUTURE``) and a Manual one (kept)."""
    _table(rt)
    assert rt.checkpoints.create(["bronze.t"], kind="Daily", name="d1") is not None
    assert rt.checkpoints.create(["bronze.t"], kind="Daily", name="d2") is not None
    assert rt.checkpoints.create(["bronze.t"], kind="Manual", name="m1") is not None


def _with_expired_checkpoint(rt: fmd.Runtime) -> None:
    _with_daily_checkpoints(rt)
    rt.checkpoints.enforce_retention(dry_run=False, today=FUTURE)  # d1, d2 inactive now


def _with_completed_load(rt: fmd.Runtime) -> None:
    _table(rt)
    rt.runs.complete("acc", "bronze", table="bronze.t", version=_version(rt))


def _with_narrow_table(rt: fmd.Runtime) -> None:
    ref = rt.table("bronze.w")
    rt.engine.create(ref, [Column(name="Id", type="bigint", nullable=False)])
    rt.engine.write(ref, pa.table({"Id": [1, 2]}, schema=arrow_schema([COLS[0]])))


def _with_int_table(rt: fmd.Runtime) -> None:
    cols = [Column(name="N", type="int")]
    ref = rt.table("bronze.n")
    rt.engine.create(ref, cols)
    rt.engine.write(ref, pa.table({"N": [1, 2]}, schema=arrow_schema(cols)))


def _nothing(rt: fmd.Runtime) -> None:
    return None


# --------------------------------------------------------------------------------- calls
def _plan_require_approval(rt: fmd.Runtime, ctx: Any, v: Any) -> Any:
    plan = rt.rollback.plan("cp", require_approval=v)
    result = _try(lambda: rt.rollback.execute(plan, reason="r"))
    return {
        "require_approval": plan.require_approval,
        "result": getattr(result, "status", result),
        "commits": _ops(rt),
        "audit": _audit(rt, "RollbackApproval", "Rollback"),
    }


def _plan_allow_failed(rt: fmd.Runtime, ctx: Any, v: Any) -> Any:
    plan = _try(lambda: rt.rollback.plan("bad", allow_failed_validation=v))
    return {
        "plan": getattr(plan, "allow_failed_validation", plan),
        "audit": _audit(rt, "RollbackValidation"),
    }


def _execute_dry_run(rt: fmd.Runtime, plan: Any, v: Any) -> Any:
    result = rt.rollback.execute(plan, plan.approval_token, reason="r", dry_run=v)
    summary = [
        (json.loads(r["Details"])["status"], r["DryRun"])
        for r in rt.store.read("SyncAuditLog", {"RunId": "call", "Operation": "Rollback"})
    ]
    return {
        "status": result.status,
        "dry_run": result.dry_run,
        "exit": result.to_exit_dict()["status"],
        "commits": _ops(rt),
        "summary": summary,
        "restores": _audit(rt, "TableRestore"),
    }


def _execute_require_approval(rt: fmd.Runtime, plan: Any, v: Any) -> Any:
    result = _try(lambda: rt.rollback.execute(plan, None, reason="r", require_approval=v))
    return {
        "result": getattr(result, "status", result),
        "commits": _ops(rt),
        "audit": _audit(rt, "RollbackApproval"),
    }


def _notebook(**fixed: Any) -> Callable[[fmd.Runtime, Any, Any], Any]:
    name = fixed.pop("parameter")

    def call(rt: fmd.Runtime, ctx: Any, v: Any) -> Any:
        run = rt.rollback.run_notebook(reason="r", **fixed, **{name: v})
        exit_value = json.loads(run.exit_value())
        return {
            "status": run.status,
            "dry_run": run.dry_run,
            "exit": (exit_value["status"], exit_value["dry_run"]),
            "commits": _ops(rt),
            "result_dry_run": run.result.dry_run if run.result else None,
        }

    return call


def _maintenance_plan_metadata(rt: fmd.Runtime, ctx: Any, v: Any) -> Any:
    plan = rt.maintenance.plan(include_metadata_tables=v)
    return {
        "tables": sorted(t.table for t in plan.tables),
        "parameter": plan.parameters["include_metadata_tables"],
    }


def _maintenance_plan_floor(rt: fmd.Runtime, ctx: Any, v: Any) -> Any:
    plan = _try(
        lambda: rt.maintenance.plan(
            "bronze.t", min_retention_hours=0, allow_below_floor=v, reason="test"
        )
    )
    return {
        "plan": plan if isinstance(plan, str) else plan.parameters["allow_below_floor"],
        "audit": _audit(rt, "RetentionOverride", "MaintenancePlan"),
    }


def _maintenance_run_dry_run(rt: fmd.Runtime, plan: Any, v: Any) -> Any:
    result = rt.maintenance.run(plan, dry_run=v)
    return {
        "dry_run": result.dry_run,
        "status": result.status,
        "tables": [(t.table, t.status, t.dry_run) for t in result.tables],
        "text": result.to_text().split(":")[0].split(" ")[1],  # "DRY" or "run"
        "commits": _ops(rt),
        "audit": _audit(rt, "MaintenanceSummary"),
    }


def _maintenance_run_pre_checkpoint(rt: fmd.Runtime, plan: Any, v: Any) -> Any:
    result = rt.maintenance.run(plan, dry_run=False, pre_checkpoint=v)
    return {
        "pre": result.pre_maintenance_checkpoint is not None,
        "checkpoints": len(rt.checkpoints.list(kind="PreMaintenance")),
    }


def _set_retention_dry_run(rt: fmd.Runtime, ctx: Any, v: Any) -> Any:
    change = rt.maintenance.set_retention("bronze.t", log_days=40, dry_run=v)
    return {
        "dry_run": change.dry_run,
        "changes": change.changes,
        "property": rt.engine.properties(rt.table("bronze.t")).get("delta.logRetentionDuration"),
        "audit": _audit(rt, "RetentionChange"),
    }


def _set_retention_override(rt: fmd.Runtime, ctx: Any, v: Any) -> Any:
    change = _try(
        lambda: rt.maintenance.set_retention(
            "bronze.t", deleted_file_days=1, override_floor=v, reason="test", dry_run=True
        )
    )
    return {"change": getattr(change, "changes", change), "audit": _audit(rt, "RetentionChange")}


def _create_protect(table_api: bool) -> Callable[[fmd.Runtime, Any, Any], Any]:
    def call(rt: fmd.Runtime, ctx: Any, v: Any) -> Any:
        if table_api:
            cp = rt.checkpoints.create_table(
                "bronze.t", kind="Manual", name="p", protect_retention=v
            )
        else:
            cp = rt.checkpoints.create(["bronze.t"], kind="Manual", name="p", protect_retention=v)
        assert cp is not None
        props = rt.engine.properties(rt.table("bronze.t"))
        return {
            "restorability": cp.restorability_status,
            "retention": props.get("delta.deletedFileRetentionDuration"),
            "commits": _ops(rt),
        }

    return call


def _create_raise_on_failure(rt: fmd.Runtime, ctx: Any, v: Any) -> Any:
    engine = FaultyEngine(rt.engine).fail("snapshot", tables={"bronze.t"})
    faulty = fmd.connect(engine=engine, run_id="call", ensure=False)
    made = _try(
        lambda: faulty.checkpoints.create(
            ["bronze.t"], kind="DailyBatch", name="x", raise_on_failure=v
        )
    )
    faulty.audit.flush()
    return {"result": made, "checkpoints": len(rt.checkpoints.list(active_only=False))}


def _list_active_only(rt: fmd.Runtime, ctx: Any, v: Any) -> Any:
    return sorted(c.checkpoint_name for c in rt.checkpoints.list(active_only=v))


def _pinned_active_only(rt: fmd.Runtime, ctx: Any, v: Any) -> Any:
    return {k: len(vs) for k, vs in rt.checkpoints.pinned_versions(active_only=v).items()}


def _enforce_retention(rt: fmd.Runtime, ctx: Any, v: Any) -> Any:
    result = rt.checkpoints.enforce_retention(dry_run=v, today=FUTURE)
    return {
        "dry_run": result.dry_run,
        "deactivated": sorted(d.checkpoint_name for d in result.deactivated),
        "active": sorted(c.checkpoint_name for c in rt.checkpoints.list()),
        "audit": _audit(rt, "CheckpointRetentionEnforcement"),
    }


def _begin(parameter: str) -> Callable[[fmd.Runtime, Any, Any], Any]:
    def call(rt: fmd.Runtime, ctx: Any, v: Any) -> Any:
        options = {"recover": False, parameter: v}
        window = rt.watermarks.begin("acc", kind="int", initial=5, **options)
        return {"inclusive": window.inclusive, "predicate": window.predicate("Id")}

    return call


def _migrate(rt: fmd.Runtime, ctx: Any, v: Any) -> Any:
    report = rt.watermarks.migrate(dry_run=v)
    return {"dry_run": report.dry_run, "changes": len(report.changes)}


def _should_skip(rt: fmd.Runtime, ctx: Any, v: Any) -> Any:
    skip = rt.runs.should_skip("acc", "bronze", force=v)
    return {"skip": skip, "audit": _audit(rt, "ForcedReprocess", "SkippedAlreadyProcessed")}


def _drift_warn(rt: fmd.Runtime, ctx: Any, v: Any) -> Any:
    frame = pa.table({"Id": [3], "Extra": ["x"]})
    res = _try(lambda: rt.drift.enforce(frame, "bronze.w", policy="strict", warn=v))
    return {
        "allowed": getattr(getattr(res, "decision", None), "allowed", res),
        "audit": _audit(rt, "SchemaDrift"),
    }


def _drift_evolve(rt: fmd.Runtime, ctx: Any, v: Any) -> Any:
    frame = pa.table({"N": pa.array([3], type=pa.int64())})
    res = rt.drift.enforce(frame, "bronze.n", policy="additive", evolve=v)
    return {
        "evolved": res.evolved_version is not None,
        "type": rt.engine.snapshot(rt.table("bronze.n")).columns[0].type,
        "commits": _ops(rt, "bronze.n"),
    }


def _apply_policy(rt: fmd.Runtime, ctx: Any, v: Any) -> Any:
    report = DriftReport(
        table="s.t", changes=(ColumnDrift(column="X", change="added", new_type="int"),)
    )
    decision = apply_policy(report, "strict", warn=v)
    return {"allowed": decision.allowed, "warn": decision.warn}


class _Needs(BaseModel):
    n: int


def _guard(rt: fmd.Runtime, ctx: Any, v: Any) -> Any:
    got = _try(lambda: guard({}, _Needs, bypass=v, audit=rt))
    return {
        "result": got if isinstance(got, str) else "bypassed",
        "audit": _audit(rt, "ContractViolation", "ContractBypass"),
    }


def _check_rows(rt: fmd.Runtime, ctx: Any, v: Any) -> Any:
    class Row(BaseModel):
        EntityId: str
        n: int

    got = _try(lambda: check_rows([{"EntityId": "a"}], Row, bypass=v, audit=rt))
    return {
        "result": got if isinstance(got, str) else len(got.bypassed),
        "audit": _audit(rt, "ContractViolation", "ContractBypass"),
    }


def _alert(rt: fmd.Runtime, ctx: Any, v: Any) -> Any:
    rt.alerts.notifier = WebhookNotifier(env_var="FMD_TEST_NO_SUCH_WEBHOOK")
    alert = rt.alerts.send("LOW", "a test alert", notify=v)
    return {"notification": alert.notification.status, "audit": len(_audit(rt, "Alert"))}


def _configure(key: str) -> Callable[[fmd.Runtime, Any, Any], Any]:
    def call(rt: fmd.Runtime, ctx: Any, v: Any) -> Any:
        cfg = rt.configure_table("bronze.t", **{key: v})
        stored = rt.table_config("bronze.t")
        return {"returned": getattr(cfg, key), "stored": getattr(stored, key)}

    return call


# --------------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class Case:
    id: str
    parameter: str
    setup: Callable[[fmd.Runtime], Any]
    call: Callable[[fmd.Runtime, Any, Any], Any]
    differs: bool = True  # False and True lead to different observations here
    none_is_default: bool = False  # None is a documented value ("use the default")

    @property
    def bad(self) -> tuple[Any, ...]:
        return tuple(b for b in BAD if not (b is None and self.none_is_default))


CASES = [
    Case("rollback.plan", "require_approval", _with_checkpoint, _plan_require_approval),
    Case("rollback.plan", "allow_failed_validation", _with_failed_checkpoint, _plan_allow_failed),
    Case("rollback.execute", "dry_run", _with_plan, _execute_dry_run),
    Case(
        "rollback.execute",
        "require_approval",
        _with_plan,
        _execute_require_approval,
        none_is_default=True,
    ),
    Case(
        "rollback.run_notebook",
        "dry_run",
        _with_checkpoint,
        _notebook(parameter="dry_run", checkpoint_name="cp", require_approval=False),
    ),
    Case(
        "rollback.run_notebook",
        "require_approval",
        _with_checkpoint,
        _notebook(parameter="require_approval", checkpoint_name="cp", dry_run=False),
    ),
    Case(
        "rollback.run_notebook",
        "allow_failed_validation",
        _with_failed_checkpoint,
        _notebook(parameter="allow_failed_validation", checkpoint_name="bad", dry_run=True),
    ),
    Case(
        "maintenance.plan",
        "include_metadata_tables",
        _table,
        _maintenance_plan_metadata,
        none_is_default=True,  # None: the metadata tables come with the default scope only
    ),
    Case("maintenance.plan", "allow_below_floor", _table, _maintenance_plan_floor),
    Case("maintenance.run", "dry_run", _with_maintenance_plan, _maintenance_run_dry_run),
    Case(
        "maintenance.run",
        "pre_checkpoint",
        _with_maintenance_plan,
        _maintenance_run_pre_checkpoint,
    ),
    Case("maintenance.set_retention", "dry_run", _table, _set_retention_dry_run),
    Case("maintenance.set_retention", "override_floor", _table, _set_retention_override),
    Case("checkpoints.create", "protect_retention", _table, _create_protect(False)),
    Case("checkpoints.create_table", "protect_retention", _table, _create_protect(True)),
    Case(
        "checkpoints.create",
        "raise_on_failure",
        _table,
        _create_raise_on_failure,
        none_is_default=True,
    ),
    Case("checkpoints.list", "active_only", _with_expired_checkpoint, _list_active_only),
    Case(
        "checkpoints.pinned_versions", "active_only", _with_expired_checkpoint, _pinned_active_only
    ),
    Case("checkpoints.enforce_retention", "dry_run", _with_daily_checkpoints, _enforce_retention),
    Case("watermarks.begin", "inclusive", _nothing, _begin("inclusive")),
    Case("watermarks.begin", "recover", _nothing, _begin("recover"), differs=False),
    Case("watermarks.migrate", "dry_run", _nothing, _migrate, differs=False),
    Case("runs.should_skip", "force", _with_completed_load, _should_skip),
    Case("drift.enforce", "warn", _with_narrow_table, _drift_warn, none_is_default=True),
    Case("drift.enforce", "evolve", _with_int_table, _drift_evolve),
    Case("drift.apply_policy", "warn", _nothing, _apply_policy),
    Case("guards.guard", "bypass", _nothing, _guard),
    Case("guards.check_rows", "bypass", _nothing, _check_rows),
    Case("alerts.send", "notify", _nothing, _alert),
    *(
        Case("configure_table", key, _table, _configure(key))
        for key in ("enabled", "enable_vacuum", "enable_optimize", "use_vorder", "drift_warn_only")
    ),
]


def _connect(root: Path, run_id: str) -> fmd.Runtime:
    return fmd.connect(lakehouse=root, run_id=run_id, pipeline_run_id="pipe", triggered_by="pytest")


def _prepare(case: Case, root: Path) -> Any:
    root.mkdir()
    setup = _connect(root, "setup")
    ctx = case.setup(setup)
    setup.close()
    return ctx


def _observe(case: Case, value: Any, root: Path) -> Any:
    ctx = _prepare(case, root)
    rt = _connect(root, "call")
    try:
        return case.call(rt, ctx, value)
    finally:
        rt.close()


@pytest.mark.parametrize("case", CASES, ids=[f"{c.id}-{c.parameter}" for c in CASES])
def test_a_string_flag_runs_exactly_as_the_bool(case: Case, tmp_path: Path) -> None:
    seen = {
        label: _observe(case, value, tmp_path / label)
        for label, value in (("false", "false"), ("False", False), ("true", "true"), ("True", True))
    }
    assert seen["false"] == seen["False"]
    assert seen["true"] == seen["True"]
    if case.differs:  # the parameter is not ignored: the comparison above can fail
        assert seen["False"] != seen["True"]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.id}-{c.parameter}" for c in CASES])
def test_a_value_that_is_not_a_boolean_is_refused_before_anything_is_written(
    case: Case, tmp_path: Path
) -> None:
    root = tmp_path / "lh"
    ctx = _prepare(case, root)
    rt = _connect(root, "call")
    before = _disk(root)
    for bad in case.bad:
        with pytest.raises(ConfigError) as caught:
            case.call(rt, ctx, bad)
        assert case.parameter in str(caught.value), (bad, str(caught.value))
        assert "must be a boolean" in str(caught.value)
        rt.audit.flush()  # a buffered audit row would be written now
        assert _disk(root) == before, bad
    rt.close()
    assert _disk(root) == before


class _Load(BaseModel):
    full_load: bool
    entity: str


@pytest.mark.parametrize(("text", "value"), [("false", False), ("TRUE", True), ("0", False)])
def test_a_guard_contract_reads_pipeline_flags_strictly(text: str, value: bool) -> None:
    assert guard({"full_load": text, "entity": "acc"}, _Load).full_load is value


@pytest.mark.parametrize("text", ["yes", "on", "t", "n", 2, 1.0])
def test_a_guard_contract_refuses_flags_pydantic_would_guess(text: Any) -> None:
    with pytest.raises(ContractViolation, match='full_load.*"true" or "false"'):
        guard({"full_load": text, "entity": "acc"}, _Load)


@pytest.mark.parametrize("word", ["yes", "on", "t", "f", "n", "", 2])
def test_models_that_take_flags_refuse_what_pydantic_would_guess(word: Any) -> None:
    with pytest.raises((ValidationError, ConfigError), match="(?s)enabled.*must be a boolean"):
        TableConfig(table="bronze.t", enabled=word)
    with pytest.raises(ConfigError, match="enable_vacuum: .*must be a boolean"):
        build_table_config({"table": "bronze.t", "enable_vacuum": word})
    with pytest.raises(ValidationError, match="dry_run"):
        MaintenanceResult(run_id="r", dry_run=word, status="Succeeded")
    with pytest.raises(ValidationError, match="dry_run"):
        RollbackRun(status="Planned", run_id="r", dry_run=word)
    assert TableConfig(table="bronze.t", use_vorder="TRUE", drift_warn_only="0").use_vorder is True
    assert RollbackRun(status="Planned", run_id="r", dry_run="false").dry_run is False
