"""Frame alignment: shape incoming data like the target (order, spelling, nulls, casts).

`align`, which `Drift.enforce` and `Drift.evolve` call after the policy decided what to do, turns
the decision into the port's frame operation (`fmd_runtime.engine.align_frame`): drift decides
what is cast and kept, the port knows how an Arrow table or a Spark DataFrame is reshaped.

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

from fmd_runtime.drift._compare import DriftReport
from fmd_runtime.drift._policy import DriftDecision
from fmd_runtime.engine import Column, align_frame


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
    # the frame itself is shaped by the port (`fmd_runtime.engine.align_frame`: Arrow, or a Spark
    # DataFrame through one selectExpr); drift says what to cast and which new columns to keep
    return align_frame(
        frame,
        target,
        cast={c.column for c in decision.cast},
        extra=[ch.incoming_name for ch in report.of("added") if ch.incoming_name],
        table=report.table,
    )
