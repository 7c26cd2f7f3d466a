"""The deletion circuit breaker: refuse a merge whose counts are implausible, before it commits.

The engine shows the merge's counts (`MergePreview`) before committing; `make_check` compares
them with the table's limits (PipelineConfig ``MaxDeleteShare``, ``MaxChangeRatio``) and its
usual change volume, and raises `DeletionLimitError` (audited ``MergeRefused``, a HIGH alert)
so nothing is written; with an explicit override and a reason the merge goes on, audited
``MergeOverride``.

- **Delete share**: newly soft-deleted rows / active rows before, above ``MaxDeleteShare``
  (default 10%): the snapshot of a source that was half down deletes half the table.
- **Change ratio**: changed rows above ``MaxChangeRatio`` (default 3x) times the usual volume,
  the median of the table's last `BASELINE_MERGES` merges (their commits' ``fmd.merge`` counts;
  first loads into an empty table left out), else of the changes between its last checkpoints
  (``CheckpointTables``: total rows moved plus deleted rows moved). It needs
  `MIN_BASELINE_POINTS` of them, and applies only above `RATIO_FLOOR_ROWS` changed rows and
  `RATIO_FLOOR_SHARE` of the active rows, so a quiet table's normal day never trips it.

Example:
    >>> median([3, 1, 2])
    2.0
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from fmd_runtime._text import plural
from fmd_runtime.config import TableConfig
from fmd_runtime.engine import MERGE_METADATA_KEY, MergeCheck, MergeCounts, MergePreview
from fmd_runtime.errors import DeletionLimitError
from fmd_runtime.runs._models import BreakerCheck
from fmd_runtime.tables import TableRef

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

BASELINE_MERGES = 10
"""How many of the table's latest merges (or checkpoint intervals) make its usual volume."""

MIN_BASELINE_POINTS = 3
"""Fewer merges / checkpoint intervals than this: no baseline, the ratio rule does not apply."""

HISTORY_LIMIT = 100
"""How many of the newest commits are read for the merges' counts (one history read)."""

RATIO_FLOOR_ROWS = 10
"""The ratio rule applies only to a merge changing more rows than this."""

RATIO_FLOOR_SHARE = 0.01
"""... and more than this share of the active rows (1%)."""


_POINT_NOUN = {"merges": "merge", "checkpoints": "checkpoint interval"}


def median(values: Sequence[float]) -> float:
    """The median (the mean of the middle two for an even count).

    Example:
        >>> median([4, 1, 3, 2])
        2.5
    """
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[mid])
    return (ordered[mid - 1] + ordered[mid]) / 2


def merge_volumes(rt: Runtime, ref: TableRef) -> list[int]:
    """The changed rows of the table's latest merges (newest first; first loads left out)."""
    out: list[int] = []
    for entry in rt.engine.history(ref, HISTORY_LIMIT):
        counts = MergeCounts.from_metadata(entry.user_metadata.get(MERGE_METADATA_KEY))
        if counts is not None and counts.active_before > 0:
            out.append(counts.changed)
            if len(out) == BASELINE_MERGES:
                break
    return out


def checkpoint_volumes(rt: Runtime, ref: TableRef) -> list[int]:
    """The changes between the table's latest checkpoints (|Δ total| + |Δ deleted|), newest first."""
    rows = rt.store.read(
        "CheckpointTables",
        {"SchemaName": ref.schema_name, "TableName": ref.table},
        columns=["TableVersion", "TotalRows", "DeletedRows"],
    )
    by_version: dict[int, tuple[int, int]] = {}
    for r in rows:
        if r.get("TableVersion") is not None and r.get("TotalRows") is not None:
            by_version[int(r["TableVersion"])] = (int(r["TotalRows"]), int(r["DeletedRows"] or 0))
    points = [by_version[v] for v in sorted(by_version)]
    deltas = [abs(b[0] - a[0]) + abs(b[1] - a[1]) for a, b in pairwise(points)]
    return list(reversed(deltas))[:BASELINE_MERGES]


def baseline(rt: Runtime, ref: TableRef) -> tuple[float | None, str | None, int]:
    """The table's usual change volume: (median, source, points), or (None, None, n)."""
    merges = merge_volumes(rt, ref)
    if len(merges) >= MIN_BASELINE_POINTS:
        return median(merges), "merges", len(merges)
    checkpoints = checkpoint_volumes(rt, ref)
    if len(checkpoints) >= MIN_BASELINE_POINTS:
        return median(checkpoints), "checkpoints", len(checkpoints)
    return None, None, max(len(merges), len(checkpoints))


def evaluate(
    counts: MergeCounts, cfg: TableConfig, usual: Callable[[], tuple[float | None, str | None, int]]
) -> BreakerCheck:
    """Apply the two rules to a merge's counts (``usual`` is asked only when the ratio rule can
    apply: the history is read only for a merge that changes enough rows).

    Example:
        >>> cfg = TableConfig(table="silver.a")
        >>> evaluate(MergeCounts(deleted=40, unchanged=60, active_before=100), cfg,
        ...          lambda: (None, None, 0)).tripped
        ('delete_share',)
    """
    tripped: list[str] = []
    if counts.delete_share > cfg.max_delete_share:
        tripped.append("delete_share")
    changes = counts.changed
    base: tuple[float | None, str | None, int] = (None, None, 0)
    ratio = None
    if changes > RATIO_FLOOR_ROWS and changes > RATIO_FLOOR_SHARE * counts.active_before:
        base = usual()
        if base[0] is not None:
            ratio = changes / max(base[0], 1.0)
            if ratio > cfg.max_change_ratio:
                tripped.append("change_ratio")
    return BreakerCheck(
        active_before=counts.active_before,
        deleted=counts.deleted,
        delete_share=round(counts.delete_share, 6),
        max_delete_share=cfg.max_delete_share,
        changes=changes,
        baseline_changes=base[0],
        baseline_source=base[1],  # type: ignore[arg-type]
        baseline_points=base[2],
        change_ratio=None if ratio is None else round(ratio, 3),
        max_change_ratio=cfg.max_change_ratio,
        tripped=tuple(tripped),
    )


def describe(check: BreakerCheck) -> str:
    """The numbers of a tripped check, as a refusal states them.

    Example:
        >>> describe(BreakerCheck(active_before=1000, deleted=400, delete_share=0.4,
        ...          max_delete_share=0.1, changes=400, max_change_ratio=3.0,
        ...          tripped=("delete_share",)))
        'it would soft-delete 400 of 1,000 active rows (40.0%; limit 10.0%)'
    """
    parts = []
    if "delete_share" in check.tripped:
        parts.append(
            f"it would soft-delete {check.deleted:,} of {check.active_before:,} active rows "
            f"({check.delete_share:.1%}; limit {check.max_delete_share:.1%})"
        )
    if "change_ratio" in check.tripped and check.baseline_changes is not None:
        parts.append(
            f"it would change {check.changes:,} rows, {check.change_ratio:g}x the usual "
            f"{check.baseline_changes:,.0f} (median of the last "
            f"{plural(check.baseline_points, _POINT_NOUN[check.baseline_source or 'merges'])}; "
            f"limit {check.max_change_ratio:g}x)"
        )
    return " and ".join(parts)


def make_check(
    rt: Runtime,
    ref: TableRef,
    cfg: TableConfig,
    *,
    entity: str,
    layer: str,
    mode: str,
    override_reason: str | None,
    seen: list[BreakerCheck],
) -> MergeCheck:
    """The check `DeltaEngine.merge` calls before committing (each result appended to ``seen``).

    Raises (from the check):
        DeletionLimitError: a rule tripped and no override was given; audited ``MergeRefused``
            (HIGH, flushed at once) and alerted HIGH, nothing committed.
    """

    def check(preview: MergePreview) -> None:
        result = evaluate(preview.counts, cfg, lambda: baseline(rt, ref))
        sample = [dict(k) for k in preview.deleted_sample]
        if not result.tripped:
            seen.append(result)
            return
        numbers = describe(result)
        details: dict[str, Any] = {
            "mode": mode,
            "counts": preview.counts.model_dump(),
            "breaker": result.model_dump(),
            "sample_keys": sample,
            "read_version": preview.read_version,
        }
        if override_reason is not None:
            result = result.model_copy(
                update={"overridden": True, "override_reason": override_reason}
            )
            seen.append(result)
            details["breaker"] = result.model_dump()
            rt.audit.event(
                "MergeOverride",
                "Warning",
                entity=entity,
                layer=layer,
                table=ref,
                severity="HIGH",
                details=details | {"reason": override_reason},
            )
            return
        seen.append(result)
        shown = ", ".join(json.dumps(k, default=str, sort_keys=True) for k in sample)
        error = DeletionLimitError(
            f"{mode} merge refused by the circuit breaker: {numbers}; nothing was committed"
            + (f" (keys it would delete, e.g. {shown})" if shown else ""),
            table=ref.name,
            entity=entity,
            run_id=rt.context.run_id,
            hint="check the source first (a partial extract after an outage looks like mass "
            "deletes) and re-run once it is complete; if the change is real, re-run the merge "
            "with override_reason='<why>' (audited as MergeOverride), or raise the table's "
            "limit with rt.configure_table(table, max_delete_share=..., max_change_ratio=...)",
            details={k: v for k, v in details.items() if k != "read_version"},
        )
        rt.audit.event(
            "MergeRefused",
            "Failed",
            entity=entity,
            layer=layer,
            table=ref,
            error=error,
            severity="HIGH",
            details=details,
            flush=True,
        )
        rt.alerts.send(
            "HIGH",
            f"[HIGH] Merge into {ref.name} refused: {numbers}",
            key=f"merge-refused:{ref.name.lower()}",
            tables=[ref.name],
            first_steps=(
                f"check the source of entity {entity}: is today's extract complete?",
                "re-run once the source is complete, or re-run with override_reason='<why>'",
            ),
            details=details,
        )
        raise error

    return check


__all__ = [
    "BASELINE_MERGES",
    "HISTORY_LIMIT",
    "MIN_BASELINE_POINTS",
    "RATIO_FLOOR_ROWS",
    "RATIO_FLOOR_SHARE",
    "baseline",
    "checkpoint_volumes",
    "describe",
    "evaluate",
    "make_check",
    "median",
    "merge_volumes",
]
