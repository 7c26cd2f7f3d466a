"""What a refused call must leave as it was: every Delta table's version in a lakehouse, and the
row counts of the metadata tables (regression tests of issue 11: "nothing was written")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fmd_runtime.tables import TableRef

STATE_TABLES = (
    "PipelineConfig",
    "Watermarks",
    "CheckpointHistory",
    "CheckpointTables",
    "DataValidation",
    "EntityRuns",
)


def snapshot(rt: Any, *, audit: bool = True) -> dict[str, Any]:
    """Versions of every table under the lakehouse root (and its folders), plus the metadata
    row counts. ``audit=False`` leaves SyncAuditLog out (a refusal may be audited)."""
    rt.store.flush()
    root = Path(rt.engine.root)
    out: dict[str, Any] = {
        "folders": sorted(
            str(p.relative_to(root))
            for p in root.rglob("*")
            if p.is_dir() and "_delta_log" not in p.parts
        )
    }
    for log in sorted(root.glob("Tables/*/*/_delta_log")):
        ref = TableRef(schema_name=log.parent.parent.name, table=log.parent.name)
        if not audit and ref.table == "SyncAuditLog":
            continue
        out[ref.name] = rt.engine.version(ref)
    for name in STATE_TABLES:
        out[f"rows:{name}"] = len(rt.store.read(name))
    if not audit:
        out["folders"] = [f for f in out["folders"] if "SyncAuditLog" not in f]
    return out
