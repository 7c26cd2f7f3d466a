"""Audit buffering: 1,000 audited events in at most 3 commits, >= 100x faster than one commit each.

Side by side in one process on the same delta-rs engine and the same ``SyncAuditLog`` table:

- library: ``rt.audit.event(...)`` x 1,000, then ``rt.audit.flush()`` (one commit per 500
  buffered events, the default ``audit_buffer_rows``); and the same 1,000 events as one outer
  activity around 499 entity activities (Start + End each);
- baseline: what an operator writes without the library: build the row, ``store.append`` it (one
  Delta commit per event).

Commits are counted from the table's own versions. ``--quick`` runs the baseline on 100 events and
compares per-event costs.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from benchmarks.common import measure, table

EVENTS = 1000
GOAL_COMMITS = 3
GOAL_RATIO = 100.0


def run(quick: bool) -> str:
    """Run the benchmark and return its markdown section."""
    import fmd_runtime as fmd
    from fmd_runtime.audit import AuditEnvelope

    root = Path(tempfile.mkdtemp(prefix="fmd-bench-audit-"))
    try:
        rt = fmd.connect(
            lakehouse=root / "lakehouse", run_id="bench-audit", pipeline_name="bench", create=True
        )
        rt.store.ensure()
        ref = rt.store.ref("SyncAuditLog")

        def version() -> int:
            return rt.engine.version(ref)

        def audited_events() -> int:
            for i in range(EVENTS):
                rt.audit.event("BenchEvent", entity=f"e{i % 50}", rows_written=i, details={"i": i})
            return rt.audit.flush()

        v0 = version()
        events = measure(audited_events)
        events_commits = version() - v0

        def audited_activities() -> None:
            with rt.audit.activity("BenchBatch"):
                for i in range(EVENTS // 2 - 1):
                    with rt.audit.activity("BenchLoad", entity=f"e{i}") as act:
                        act.rows_written = i

        v1 = version()
        activities = measure(audited_activities)
        activities_commits = version() - v1

        baseline_n = 100 if quick else EVENTS
        ctx = rt.context

        def baseline() -> None:
            for i in range(baseline_n):
                row = AuditEnvelope(
                    RunId=ctx.run_id, PipelineName=ctx.pipeline_name, Operation="BenchEvent",
                    Status="Succeeded", EntityId=f"e{i % 50}", RowsWritten=i, Details={"i": i},
                ).to_row()  # fmt: skip
                rt.store.append("SyncAuditLog", [row])

        v2 = version()
        base = measure(baseline)
        base_commits = version() - v2
        rt.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    per_event = {
        "events": events.seconds / EVENTS,
        "activities": activities.seconds / EVENTS,
        "baseline": base.seconds / baseline_n,
    }
    ratio_events = per_event["baseline"] / per_event["events"]
    ratio_activities = per_event["baseline"] / per_event["activities"]
    worst_commits = max(events_commits, activities_commits)
    rows = [
        ("rt.audit.event x 1,000 + flush", EVENTS, f"{events.seconds:.3f}", f"{per_event['events'] * 1e6:.0f}",
         events_commits, f"{events.peak_mib:.1f}"),
        ("1 outer + 499 activities (1,000 events)", EVENTS, f"{activities.seconds:.3f}",
         f"{per_event['activities'] * 1e6:.0f}", activities_commits, f"{activities.peak_mib:.1f}"),
        ("baseline: store.append per event", baseline_n, f"{base.seconds:.3f}", f"{per_event['baseline'] * 1e6:.0f}",
         base_commits, f"{base.peak_mib:.1f}"),
    ]  # fmt: skip
    goals = [
        ("1,000 events cost at most 3 commits", f"{worst_commits} commits",
         "PASS" if worst_commits <= GOAL_COMMITS else "FAIL"),
        ("at least 100x faster than one commit per event (events)", f"{ratio_events:.0f}x",
         "PASS" if ratio_events >= GOAL_RATIO else "FAIL"),
        ("at least 100x faster than one commit per event (activities)", f"{ratio_activities:.0f}x",
         "PASS" if ratio_activities >= GOAL_RATIO else "FAIL"),
    ]  # fmt: skip
    mode = " (quick: baseline on 100 events, per-event costs compared)" if quick else ""
    return "\n".join(
        [
            "## Audit: buffered events vs one commit per event",
            "",
            "1,000 audit events written to `metadata.SyncAuditLog` on the embedded delta-rs engine, "
            "side by side with the naive baseline (build the row, `store.append` it: one Delta "
            f"commit per event) on the same engine and table{mode}. Commits are counted from the "
            "table's versions.",
            "",
            table(rows, ("run", "events", "seconds", "µs per event", "commits", "peak MiB")),
            "",
            table(goals, ("goal", "measured", "result")),
            "",
            "Reproduce: `python -m benchmarks audit` (`--quick` for the short baseline).",
        ]
    )
