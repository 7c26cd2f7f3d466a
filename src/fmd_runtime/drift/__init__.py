"""Schema drift: compare an incoming schema with the target table's and apply the layer's policy.

A changed source schema meets a deliberate policy instead of a 2 a.m. failure. The policy grid
(a pure function, `apply_policy`, in the manner of dlt's schema contracts):

===========================  ================  ===============  ==========
change                       permissive        additive         strict
===========================  ================  ===============  ==========
column added                 merged            merged           refused
column removed (nullable)    filled with null  refused          refused
column removed (NOT NULL)    refused           refused          refused
type widened (int->bigint)   target evolved    target evolved   refused
other type change            cast to target    refused          refused
nullability / name case      recorded          recorded         recorded
===========================  ================  ===============  ==========

``warn`` mode records and alerts what the policy refuses and handles it the permissive way, so
the load does not fail (a missing NOT NULL column still does: nothing can be written for it).
Defaults by layer: landing permissive, bronze additive, silver strict (`DEFAULT_DRIFT_BY_LAYER`),
overridable per table in PipelineConfig (``drift_policy``, ``drift_warn_only``).

Widening a type on delta-rs: a schema-merge write does not widen (it casts the new values to
the old type), so `Drift.evolve` rewrites the table once with the widened type (one overwrite
commit, ``schema_mode="overwrite"``, partitioning, properties and transaction ids kept), audited
as ``SchemaEvolve``.

Example:
    >>> # res = rt.drift.enforce(frame, "bronze.account", layer="bronze")
    >>> # rt.runs.write("account", "bronze.account", res.frame, layer="bronze", schema_mode=res.schema_mode)

The work is done in private modules: ``_compare`` (columns of a frame, `compare_schemas`),
``_policy`` (`apply_policy`, the grid above), ``_align`` (shaping a frame like the target); the
`Drift` capability below reads the target through the engine, applies them, audits and alerts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from fmd_runtime.audit import Severity
from fmd_runtime.config import DEFAULT_DRIFT_BY_LAYER, DriftPolicy, strict_bool
from fmd_runtime.drift._align import align
from fmd_runtime.drift._compare import (
    ChangeKind,
    ColumnDrift,
    DriftReport,
    RawColumn,
    columns_of,
    compare_schemas,
    is_widening,
)
from fmd_runtime.drift._policy import POLICIES, DriftDecision, apply_policy, check_policy
from fmd_runtime.engine import Column, CommitOptions, normalize_type
from fmd_runtime.errors import SchemaDriftError

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime


class Enforced(BaseModel):
    """What `Drift.enforce` returns: the aligned frame, the write options, the report and decision."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    frame: Any = None
    write_options: dict[str, str] = {}
    report: DriftReport
    decision: DriftDecision | None = None
    evolved_version: int | None = None
    """The target version `Drift.evolve` wrote when the policy widened types, if it did."""

    @property
    def schema_mode(self) -> Literal["merge"] | None:
        """``merge`` when the write must accept new columns, else None (for `RunLedger.write`)."""
        return "merge" if self.write_options.get("schema_mode") == "merge" else None


# -- the capability ----------------------------------------------------------------------------------
class Drift:
    """The schema-drift capability (``rt.drift``): compare, enforce a policy, evolve a target."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def policy_for(self, table: str, *, layer: str | None = None) -> tuple[DriftPolicy, bool]:
        """The table's drift policy and warn flag: PipelineConfig first, else the layer's default.

        Example:
            >>> # rt.drift.policy_for("silver.account") -> ('strict', False)
        """
        cfg = self._rt.table_config(table)
        lay = (layer or cfg.effective_layer).lower()
        return cfg.drift_policy or DEFAULT_DRIFT_BY_LAYER.get(lay, "strict"), cfg.drift_warn_only

    def compare(self, incoming: Any, table: str) -> DriftReport:
        """Compare an incoming schema (frame, StructType, Arrow schema, Columns) with the table's.

        Example:
            >>> # [c.describe() for c in rt.drift.compare(df, "bronze.account").changes]
        """
        ref = self._rt.table(table)
        if not self._rt.engine.exists(ref):
            return DriftReport(table=ref.name, target_exists=False)
        target = self._rt.engine.snapshot(ref).columns
        return compare_schemas(columns_of(incoming), target, table=ref.name)

    def enforce(
        self,
        frame: Any,
        table: str,
        *,
        layer: str | None = None,
        policy: DriftPolicy | None = None,
        warn: bool | None = None,
        evolve: bool = True,
    ) -> Enforced:
        """Apply the table's drift policy to incoming data; return it aligned with the write options.

        Args:
            frame: an Arrow table or Spark DataFrame (a schema alone is checked, not aligned).
            table: the target table.
            layer: the layer (default: PipelineConfig's, else the schema name).
            policy / warn: override the configured policy and warn flag.
            evolve: widen the target's types now when the policy allows it (default True);
                False leaves that to the caller (`Enforced.decision.widen`, `Drift.evolve`).

        Returns:
            `Enforced`: ``frame`` aligned to the target, ``write_options``
            (``{"schema_mode": "merge"}`` only when new columns are allowed), report, decision.

        Raises:
            SchemaDriftError: the policy refuses the drift; the message lists every offending
                column with old and new type, and the two ways forward.
            ConfigError: ``warn`` or ``evolve`` is not a boolean (a bool or
                "true"/"false"/"1"/"0"); nothing is written.

        Example:
            >>> # res = rt.drift.enforce(df, "bronze.account", layer="bronze")
            >>> # rt.runs.write("account", "bronze.account", res.frame, layer="bronze", schema_mode=res.schema_mode)
        """
        # bool("false") is True: a pipeline's "false" must not turn warn-only mode on
        warn = None if warn is None else strict_bool(warn, "warn")
        evolve = strict_bool(evolve, "evolve")
        ref = self._rt.table(table)
        conf_policy, conf_warn = self.policy_for(ref.name, layer=layer)
        pol = check_policy(policy) if policy else conf_policy
        warn_mode = conf_warn if warn is None else warn
        if not self._rt.engine.exists(ref):
            return Enforced(frame=frame, report=DriftReport(table=ref.name, target_exists=False))
        target = self._rt.engine.snapshot(ref).columns
        report = compare_schemas(columns_of(frame), target, table=ref.name)
        decision = apply_policy(report, pol, warn=warn_mode)
        if report.has_drift:
            self._audit(report, decision, layer)
        if not decision.allowed:
            raise self._error(report, decision, layer)
        evolved = self.evolve(ref.name, decision) if evolve and decision.widen else None
        return Enforced(
            frame=align(frame, target, report, decision),
            write_options={"schema_mode": "merge"} if decision.merge_schema else {},
            report=report,
            decision=decision,
            evolved_version=evolved,
        )

    def _audit(self, report: DriftReport, decision: DriftDecision, layer: str | None) -> None:
        status = (
            "Failed"
            if not decision.allowed
            else ("Warning" if decision.violations else "Succeeded")
        )
        severity: Severity = (
            "HIGH" if not decision.allowed else ("MEDIUM" if decision.violations else "INFO")
        )
        self._rt.audit.event(
            "SchemaDrift",
            status,
            table=report.table,
            layer=layer,
            severity=severity,
            details={
                "report": report.model_dump(mode="json"),
                "decision": decision.model_dump(mode="json"),
                "summary": [c.describe() for c in report.changes],
            },
            flush=True,
        )
        if decision.allowed and decision.violations:
            self._rt.alerts.send(
                "MEDIUM",
                f"[MEDIUM] Schema drift in {report.table} accepted in warn mode",
                key=f"drift:{report.table}",
                tables=[report.table],
                first_steps=[c.describe() for c in decision.violations]
                + ["evolve the target or change its drift policy, then turn warn mode off"],
            )

    def _error(
        self, report: DriftReport, decision: DriftDecision, layer: str | None
    ) -> SchemaDriftError:
        offending = "; ".join(c.describe() for c in decision.violations)
        mode = f"the {decision.policy} drift policy" + (f" of layer {layer}" if layer else "")
        if decision.blocking and decision.warn:
            mode += " (even in warn mode: a NOT NULL column cannot be filled)"
        return SchemaDriftError(
            f"incoming schema breaks {mode}: {offending}",
            table=report.table,
            hint=f"either change the policy for this table (rt.configure_table({report.table!r}, "
            "drift_policy='additive' or 'permissive', or drift_warn_only=True), or evolve the target "
            f"explicitly (rt.drift.evolve({report.table!r}, frame) or ALTER TABLE), then load again",
            details={"report": report.model_dump(mode="json"), "policy": decision.policy},
        )

    def evolve(self, table: str, incoming: Any) -> int | None:
        """Evolve the target explicitly: add the incoming data's new columns and widen its types.

        New columns are added as nullable (a metadata commit). Widened types are applied by
        rewriting the table once with the widened schema (one overwrite commit of the cast data;
        delta-rs cannot widen in place). Removed columns are left alone; a type change that is
        not a widening is refused.

        Args:
            table: the target table.
            incoming: a frame or schema (anything `columns_of` reads), or a `DriftDecision`
                (only its widenings are applied).

        Returns:
            The table version after the last evolution commit, or None when nothing changed.

        Raises:
            SchemaDriftError: a type change that is not a widening.

        Example:
            >>> # rt.drift.evolve("silver.account", df)   # the explicit way forward under strict
        """
        ref = self._rt.table(table)
        if isinstance(incoming, DriftDecision):
            added, widen = [], list(incoming.widen)
        else:
            report = self.compare(incoming, ref.name)
            bad = [c for c in report.of("type_changed") if not c.widening]
            if bad:
                raise SchemaDriftError(
                    "cannot evolve: " + "; ".join(c.describe() for c in bad),
                    table=ref.name,
                    hint="a narrowing or incompatible change needs a deliberate migration of the table "
                    "(CAST the data into a new table), not an evolution",
                )
            added, widen = list(report.of("added")), list(report.of("type_changed"))
        version = None
        if added:
            cols = [
                Column(name=c.column, type=normalize_type(c.new_type or ""), nullable=True)
                for c in added
            ]
            run = {"fmd.runId": self._rt.context.run_id, "fmd.operation": "SchemaEvolve"}
            self._rt.engine.add_columns(ref, cols, commit=CommitOptions(metadata=run))
            version = self._rt.engine.version(ref)
        if widen:
            version = self._widen(ref, widen)
        if version is not None:
            self._rt.audit.event(
                "SchemaEvolve",
                "Succeeded",
                table=ref,
                severity="MEDIUM",
                details={
                    "added": [c.model_dump() for c in added],
                    "widened": [c.model_dump() for c in widen],
                    "version": version,
                    "method": "rewrite (overwrite, schema_mode=overwrite)"
                    if widen
                    else "add columns",
                },
                flush=True,
            )
        return version

    def _widen(self, ref: Any, widen: Sequence[ColumnDrift]) -> int:
        engine = self._rt.engine
        before = engine.version(ref)
        snap = engine.snapshot(ref)
        new_types = {c.column.lower(): normalize_type(c.new_type or "") for c in widen}
        target = [
            Column(name=c.name, type=new_types.get(c.name.lower(), c.type), nullable=c.nullable)
            if c.name.lower() in new_types
            else c
            for c in snap.columns
        ]
        cast_all = tuple(
            ColumnDrift(
                column=c.name,
                change="type_changed",
                old_type=c.type,
                new_type=new_types[c.name.lower()],
                widening=True,
            )
            for c in snap.columns
            if c.name.lower() in new_types
        )
        current = engine.read(ref)
        report = DriftReport(table=ref.name)
        decision = DriftDecision(policy="permissive", allowed=True, cast=cast_all)
        data = align(current, target, report, decision)
        label = ",".join(f"{c.column}:{c.old_type}->{c.new_type}" for c in cast_all)
        commit = CommitOptions(
            metadata={
                "fmd.runId": self._rt.context.run_id,
                "fmd.operation": "SchemaEvolve",
                "fmd.widened": label,
                "fmd.versionBefore": str(before),
            }
        )
        return engine.write(ref, data, mode="overwrite", schema_mode="overwrite", commit=commit)


__all__ = [
    "POLICIES",
    "ChangeKind",
    "ColumnDrift",
    "RawColumn",
    "Drift",
    "DriftDecision",
    "DriftReport",
    "Enforced",
    "align",
    "apply_policy",
    "check_policy",
    "columns_of",
    "compare_schemas",
    "is_widening",
]
