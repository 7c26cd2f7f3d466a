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
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from fmd_runtime.audit import Severity
from fmd_runtime.config import DEFAULT_DRIFT_BY_LAYER, DriftPolicy, strict_bool
from fmd_runtime.engine import Column, CommitOptions, arrow_type, normalize_type
from fmd_runtime.errors import ConfigError, SchemaDriftError
from fmd_runtime.tables import validate_identifier

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

ChangeKind = Literal["added", "removed", "type_changed", "nullability_changed", "case_changed"]
POLICIES: tuple[str, ...] = ("permissive", "additive", "strict")

_INT_RANK = {"tinyint": 1, "smallint": 2, "int": 3, "bigint": 4}
_INT_DIGITS = {"tinyint": 3, "smallint": 5, "int": 10, "bigint": 20}
_DECIMAL = re.compile(r"^decimal\((\d+),(\d+)\)$")
_FROZEN = ConfigDict(frozen=True, extra="forbid")


def is_widening(old: str, new: str) -> bool:
    """True when a column of type ``old`` can take type ``new`` without losing any value.

    Integers to wider integers, to double (up to int) or to a decimal with enough digits;
    float to double; decimal to more integer and fraction digits; date to timestamp_ntz.

    Example:
        >>> is_widening("int", "bigint"), is_widening("bigint", "int"), is_widening("decimal(10,2)", "decimal(12,2)")
        (True, False, True)
    """
    if old == new:
        return False
    if old in _INT_RANK and new in _INT_RANK:
        return _INT_RANK[new] > _INT_RANK[old]
    if (old, new) in {("float", "double"), ("date", "timestamp_ntz")}:
        return True
    if old in ("tinyint", "smallint", "int") and new == "double":
        return True
    m_new = _DECIMAL.match(new)
    if old in _INT_DIGITS and m_new:
        p, s = int(m_new.group(1)), int(m_new.group(2))
        return p - s >= _INT_DIGITS[old]
    m_old = _DECIMAL.match(old)
    if m_old and m_new:
        p1, s1, p2, s2 = (int(x) for x in (*m_old.groups(), *m_new.groups()))
        return p2 - s2 >= p1 - s1 and s2 >= s1
    return False


class ColumnDrift(BaseModel):
    """One difference between the incoming schema and the target's."""

    model_config = _FROZEN

    column: str
    """The target's spelling when the column exists there, else the incoming one."""
    change: ChangeKind
    old_type: str | None = None
    new_type: str | None = None
    old_nullable: bool | None = None
    new_nullable: bool | None = None
    widening: bool | None = None
    incoming_name: str | None = None

    def describe(self) -> str:
        """One line for messages, e.g. "column `Score` changed type int -> bigint (widening)"."""
        if self.change == "added":
            return f"column `{self.column}` was added ({self.new_type})"
        if self.change == "removed":
            null = "nullable" if self.old_nullable else "NOT NULL"
            return f"column `{self.column}` ({self.old_type}, {null}) is missing from the incoming data"
        if self.change == "type_changed":
            how = "widening" if self.widening else "not a widening"
            return f"column `{self.column}` changed type {self.old_type} -> {self.new_type} ({how})"
        if self.change == "nullability_changed":
            return f"column `{self.column}` nullable {self.old_nullable} -> {self.new_nullable}"
        return f"column `{self.column}` arrives as `{self.incoming_name}` (case differs)"


class DriftReport(BaseModel):
    """Every difference between an incoming schema and a target table's (names matched case-insensitively)."""

    model_config = _FROZEN

    table: str
    target_exists: bool = True
    changes: tuple[ColumnDrift, ...] = ()

    def of(self, change: ChangeKind) -> tuple[ColumnDrift, ...]:
        """The changes of one kind."""
        return tuple(c for c in self.changes if c.change == change)

    @property
    def has_drift(self) -> bool:
        """True when columns were added, removed or retyped.

        Nullability and name-case differences are reported but are not drift by themselves:
        frames built by Spark or Arrow are nullable by default, and the engine itself refuses a
        null in a NOT NULL column when one is actually written.
        """
        return any(c.change in ("added", "removed", "type_changed") for c in self.changes)


class DriftDecision(BaseModel):
    """What a policy makes of a report (`apply_policy`).

    Attributes:
        allowed: the load may proceed (always, in warn mode, unless ``blocking``).
        violations: what the policy refuses (in warn mode: recorded and alerted, not enforced).
        blocking: violations nothing can handle (a missing NOT NULL column): fail even in warn mode.
        merge_schema: write with schema merge (new columns accepted).
        widen: type widenings the target takes before the write (`Drift.evolve`).
        cast: type changes handled by casting the incoming column to the target's type.
        fill: target columns filled with nulls because the incoming data lacks them.
    """

    model_config = _FROZEN

    policy: DriftPolicy
    warn: bool = False
    allowed: bool
    violations: tuple[ColumnDrift, ...] = ()
    blocking: tuple[ColumnDrift, ...] = ()
    merge_schema: bool = False
    widen: tuple[ColumnDrift, ...] = ()
    cast: tuple[ColumnDrift, ...] = ()
    fill: tuple[str, ...] = ()


def check_policy(policy: str) -> DriftPolicy:
    """Validate a drift policy name.

    Raises:
        ConfigError: not permissive, additive or strict.
    """
    if policy not in POLICIES:
        raise ConfigError(
            f"drift policy {policy!r} is not supported", hint=f"use one of {', '.join(POLICIES)}"
        )
    return policy  # type: ignore[return-value]


def apply_policy(report: DriftReport, policy: str, warn: bool = False) -> DriftDecision:
    """Apply a drift policy to a report (pure: no I/O).

    Args:
        report: from `compare_schemas`.
        policy: ``permissive``, ``additive`` or ``strict``.
        warn: record and alert refusals instead of failing (handled the permissive way).

    Returns:
        The `DriftDecision`.

    Raises:
        ConfigError: the policy is unknown, or ``warn`` is not a boolean.

    Example:
        >>> r = DriftReport(table="s.t", changes=(ColumnDrift(column="X", change="added", new_type="int"),))
        >>> apply_policy(r, "strict").allowed, apply_policy(r, "strict", warn=True).allowed
        (False, True)
    """
    warn = strict_bool(warn, "warn")
    pol = check_policy(policy)
    violations, blocking, widen, cast, fill = [], [], [], [], []
    merge = False
    for ch in report.changes:
        if ch.change == "added":
            merge = True
            if pol == "strict":
                violations.append(ch)
        elif ch.change == "removed":
            if not ch.old_nullable:
                blocking.append(ch)
            else:
                fill.append(ch.column)
                if pol != "permissive":
                    violations.append(ch)
        elif ch.change == "type_changed":
            if ch.widening:
                widen.append(ch)
                if pol == "strict":
                    violations.append(ch)
            else:
                cast.append(ch)
                if pol != "permissive":
                    violations.append(ch)
    allowed = not blocking and (warn or not violations)
    return DriftDecision(
        policy=pol,
        warn=warn,
        allowed=allowed,
        violations=tuple(violations + blocking),
        blocking=tuple(blocking),
        merge_schema=merge and allowed,
        widen=tuple(widen),
        cast=tuple(cast),
        fill=tuple(fill),
    )


# -- schemas of frames -----------------------------------------------------------------------------
def _arrow_type_name(t: Any) -> str:
    import pyarrow as pa

    checks = [
        (pa.types.is_int8, "tinyint"),
        (pa.types.is_int16, "smallint"),
        (pa.types.is_int32, "int"),
        (pa.types.is_int64, "bigint"),
        (pa.types.is_boolean, "boolean"),
        (pa.types.is_float32, "float"),
        (pa.types.is_float64, "double"),
        (pa.types.is_date, "date"),
        (lambda x: pa.types.is_string(x) or pa.types.is_large_string(x), "string"),
        (
            lambda x: (
                pa.types.is_binary(x)
                or pa.types.is_large_binary(x)
                or pa.types.is_fixed_size_binary(x)
            ),
            "binary",
        ),
    ]
    for check, name in checks:
        if check(t):
            return name
    if pa.types.is_timestamp(t):
        return "timestamp" if t.tz else "timestamp_ntz"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    return str(t)


class RawColumn(BaseModel):
    """An incoming column whose type the engines do not model (unsigned, nested): compared by spelling."""

    model_config = _FROZEN

    name: str
    type: str
    nullable: bool = True
    comment: str | None = None


def _column(name: str, type_name: str, nullable: bool) -> Column | RawColumn:
    validate_identifier(name, what="incoming column")
    try:
        return Column(name=name, type=type_name, nullable=nullable)
    except ConfigError:
        return RawColumn(name=name, type=type_name, nullable=nullable)


def _is_arrow(obj: Any) -> bool:
    return type(obj).__module__.startswith("pyarrow")


def columns_of(incoming: Any) -> list[Column | RawColumn]:
    """The columns of a Spark StructType or DataFrame, an Arrow schema or table, or a list of `Column`.

    Raises:
        InvalidIdentifierError: a column name is not a plain identifier.
        ConfigError: an object that carries no schema.

    Example:
        >>> import pyarrow as pa
        >>> [(c.name, c.type) for c in columns_of(pa.schema([("Id", pa.int32())]))]
        [('Id', 'int')]
    """
    if isinstance(incoming, (list, tuple)) and all(isinstance(c, Column) for c in incoming):
        return list(incoming)
    if _is_arrow(incoming):
        schema = (
            incoming
            if hasattr(incoming, "field") and not hasattr(incoming, "num_rows")
            else incoming.schema
        )
        return [_column(f.name, _arrow_type_name(f.type), f.nullable) for f in schema]
    fields = getattr(incoming, "fields", None)
    if fields is None and hasattr(incoming, "schema"):
        fields = getattr(incoming.schema, "fields", None)
    if fields is None:
        raise ConfigError(
            f"cannot read a schema from a {type(incoming).__name__}",
            hint="pass a Spark StructType or DataFrame, an Arrow schema or table, or a list of Column",
        )
    return [_column(f.name, f.dataType.simpleString(), bool(f.nullable)) for f in fields]


def compare_schemas(
    incoming: Sequence[Column | RawColumn], target: Sequence[Column], *, table: str
) -> DriftReport:
    """Compare two column lists, matching names case-insensitively (as Spark and Fabric resolve them).

    Raises:
        SchemaDriftError: the incoming schema has two columns whose names differ only by case.

    Example:
        >>> t = [Column(name="Id", type="int")]
        >>> [c.change for c in compare_schemas([Column(name="id", type="bigint")], t, table="s.t").changes]
        ['type_changed', 'case_changed']
    """
    seen: dict[str, Column | RawColumn] = {}
    for c in incoming:
        if c.name.lower() in seen:
            raise SchemaDriftError(
                f"incoming columns `{seen[c.name.lower()].name}` and `{c.name}` differ only by case",
                table=table,
                hint="rename one of them in the source query; Spark and Fabric resolve names case-insensitively",
            )
        seen[c.name.lower()] = c
    target_names = {c.name.lower() for c in target}
    changes: list[ColumnDrift] = []
    for t in target:
        found = seen.get(t.name.lower())
        if found is None:
            changes.append(
                ColumnDrift(
                    column=t.name, change="removed", old_type=t.type, old_nullable=t.nullable
                )
            )
            continue
        if found.type != t.type:
            changes.append(
                ColumnDrift(
                    column=t.name,
                    change="type_changed",
                    old_type=t.type,
                    new_type=found.type,
                    widening=is_widening(t.type, found.type),
                    incoming_name=found.name,
                )
            )
        if found.nullable != t.nullable:
            changes.append(
                ColumnDrift(
                    column=t.name,
                    change="nullability_changed",
                    old_nullable=t.nullable,
                    new_nullable=found.nullable,
                    incoming_name=found.name,
                )
            )
        if found.name != t.name:
            changes.append(
                ColumnDrift(column=t.name, change="case_changed", incoming_name=found.name)
            )
    for c in incoming:
        if c.name.lower() not in target_names:
            changes.append(
                ColumnDrift(
                    column=c.name,
                    change="added",
                    new_type=c.type,
                    new_nullable=c.nullable,
                    incoming_name=c.name,
                )
            )
    return DriftReport(table=table, changes=tuple(changes))


# -- aligning frames ---------------------------------------------------------------------------------
def _align_arrow(
    frame: Any, target: Sequence[Column], report: DriftReport, decision: DriftDecision
) -> Any:
    import pyarrow as pa

    names = {n.lower(): n for n in frame.schema.names}
    cast = {c.column for c in decision.cast}
    arrays, fields = [], []
    for col in target:
        src = names.get(col.name.lower())
        if src is None:
            arr = pa.nulls(frame.num_rows, arrow_type(col.type))
        else:
            arr = frame.column(src)
            want = None
            if col.name in cast:
                want = arrow_type(col.type)
            elif _arrow_type_name(arr.type) == col.type and col.type in _SAFE_ARROW:
                want = arrow_type(
                    col.type
                )  # same logical type, other physical spelling (ns, large_string)
            if want is not None and arr.type != want:
                try:
                    arr = arr.cast(want, safe=True)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise SchemaDriftError(
                        f"column `{col.name}` cannot be cast to the target type {col.type}: {exc}",
                        table=report.table,
                        hint="fix the source values, or evolve the target's type explicitly",
                    ) from None
        if not col.nullable and arr.null_count:
            raise SchemaDriftError(
                f"column `{col.name}` is NOT NULL in the target but {arr.null_count} incoming row(s) "
                "have no value",
                table=report.table,
                hint="fill or filter those rows in the source query (a schema merge would otherwise "
                "drop the NOT NULL constraint on delta-rs)",
            )
        arrays.append(arr)
        # The target's NOT NULL flags are kept: a merge write on delta-rs would otherwise relax them.
        fields.append(pa.field(col.name, arr.type, nullable=col.nullable))
    for ch in report.of("added"):
        arrays.append(frame.column(ch.incoming_name))
        fields.append(frame.schema.field(ch.incoming_name))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


_SAFE_ARROW = {"string", "binary", "timestamp", "timestamp_ntz", "date"}


def _align_spark(
    frame: Any, target: Sequence[Column], report: DriftReport, decision: DriftDecision
) -> Any:
    names = {n.lower(): n for n in frame.columns}
    cast = {c.column for c in decision.cast}
    exprs = []
    for col in target:
        src = names.get(col.name.lower())
        if src is None:
            exprs.append(f"CAST(NULL AS {col.type}) AS `{col.name}`")
        elif col.name in cast:
            exprs.append(f"CAST(`{src}` AS {col.type}) AS `{col.name}`")
        else:
            exprs.append(f"`{src}` AS `{col.name}`")
    exprs += [f"`{ch.incoming_name}`" for ch in report.of("added")]
    return frame.selectExpr(*exprs)


def align(
    frame: Any, target: Sequence[Column], report: DriftReport, decision: DriftDecision
) -> Any:
    """Return ``frame`` shaped like the target: its columns in order, names in its spelling,
    missing columns as nulls, cast columns cast, new columns last (Arrow table or Spark DataFrame).

    Type names and column names reach Spark SQL only after validation (`Column`). Arrow frames
    keep the target's NOT NULL flags.

    Raises:
        SchemaDriftError: a value cannot be cast, or a NOT NULL column has nulls (Arrow).
    """
    if _is_arrow(frame):
        return _align_arrow(frame, target, report, decision)
    if hasattr(frame, "selectExpr"):
        return _align_spark(frame, target, report, decision)
    return None  # a schema, not a frame: nothing to align


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

    def policy_for(self, table: str, layer: str | None = None) -> tuple[DriftPolicy, bool]:
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
        policy: str | None = None,
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
        conf_policy, conf_warn = self.policy_for(ref.name, layer)
        pol = check_policy(policy) if policy else conf_policy
        warn_mode = conf_warn if warn is None else warn
        if not self._rt.engine.exists(ref):
            return Enforced(frame=frame, report=DriftReport(table=ref.name, target_exists=False))
        target = self._rt.engine.snapshot(ref).columns
        report = compare_schemas(columns_of(frame), target, table=ref.name)
        decision = apply_policy(report, pol, warn_mode)
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
