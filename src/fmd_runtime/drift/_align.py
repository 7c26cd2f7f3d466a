"""Frame alignment: shape incoming data like the target (order, spelling, nulls, casts).

One function per frame kind (Arrow table, Spark DataFrame) behind `align`, which `Drift.enforce`
and `Drift.evolve` call after the policy decided what to do. Separate because it is the part
that touches the frames themselves (to become engine port methods).

Example:
    >>> import pyarrow as pa
    >>> from fmd_runtime.engine import Column
    >>> frame = pa.table({"id": pa.array([1], pa.int32())})
    >>> target = [Column(name="Id", type="int"), Column(name="Name", type="string")]
    >>> report = DriftReport(table="s.t")
    >>> align(frame, target, report, DriftDecision(policy="permissive", allowed=True)).column_names
    ['Id', 'Name']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fmd_runtime.drift._compare import DriftReport, _arrow_type_name, _is_arrow
from fmd_runtime.drift._policy import DriftDecision
from fmd_runtime.engine import Column, arrow_type
from fmd_runtime.errors import SchemaDriftError


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
