"""Reading checkpoints back: one by name or id, a filtered list, the versions they pin.

Rollback finds its target here, maintenance its keep-set (`pinned_versions`) and verification the
checkpoints it checks. Reading is separate from creating so a reader of either path sees only its
own store calls: a header row and its table rows are assembled with one read of
``CheckpointTables``.

Example:
    >>> # get_checkpoint(rt, "bronze_batch_2025-01-15").table("bronze.account").version
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fmd_runtime._base import as_utc
from fmd_runtime.errors import CheckpointError

from ._models import Checkpoint, CheckpointTable, end_of
from ._rows import checkpoint_from_row, table_from_row

if TYPE_CHECKING:
    from fmd_runtime.runtime import Runtime

_IDS_PER_READ = 500
"""Up to this many ids filter the read of ``CheckpointTables``; above, it is read once, whole."""


def get_checkpoint(rt: Runtime, name_or_id: str) -> Checkpoint:
    """The checkpoint with that name (else that id); the first created when names repeat.

    Raises:
        CheckpointError: none; the message suggests the nearest names.
    """
    store = rt.store
    rows = store.read("CheckpointHistory", {"CheckpointName": name_or_id}) or store.read(
        "CheckpointHistory", {"CheckpointId": name_or_id}
    )
    if not rows:
        names = [
            r["CheckpointName"] for r in store.read("CheckpointHistory", columns=["CheckpointName"])
        ]
        near = difflib.get_close_matches(name_or_id, names, n=3, cutoff=0.5)
        raise CheckpointError(
            f"no checkpoint named {name_or_id!r}",
            hint=(f"did you mean {', '.join(near)}? " if near else "")
            + "list them with rt.checkpoints.list() or `fmd checkpoint list`",
        )
    row = min(rows, key=lambda r: (r["CreatedDate"], r["CheckpointId"]))
    return assemble(rt, [row])[0]


def list_checkpoints(
    rt: Runtime,
    *,
    active_only: bool,
    kind: str | None,
    table: str | None,
    since: datetime | date | None,
) -> list[Checkpoint]:
    """Checkpoints, newest first, filtered (arguments already checked; ``table`` lower-case)."""
    where: dict[str, Any] = {}
    if active_only:
        where["IsActive"] = True
    if kind:
        where["CheckpointType"] = kind
    rows = rt.store.read("CheckpointHistory", where)
    if since is not None:
        floor = as_utc(since) if isinstance(since, datetime) else end_of(since - timedelta(days=1))
        rows = [r for r in rows if as_utc(r["CreatedDate"]) >= floor]
    cps = assemble(rt, rows)
    if table is not None:
        cps = [c for c in cps if any(t.table.lower() == table for t in c.tables)]
    return sorted(cps, key=lambda c: (c.created_date, c.checkpoint_name), reverse=True)


def assemble(rt: Runtime, rows: Sequence[dict[str, Any]]) -> list[Checkpoint]:
    """Header rows + their CheckpointTables rows -> Checkpoints (one read of the tables)."""
    if not rows:
        return []
    ids = [r["CheckpointId"] for r in rows]
    where = {"CheckpointId": ids} if len(ids) <= _IDS_PER_READ else None
    by_id: dict[str, list[CheckpointTable]] = {i: [] for i in ids}
    for t in rt.store.read("CheckpointTables", where):
        if t["CheckpointId"] in by_id:
            by_id[t["CheckpointId"]].append(table_from_row(t))
    return [checkpoint_from_row(r, by_id[r["CheckpointId"]]) for r in rows]


def pinned_versions(rt: Runtime, *, active_only: bool) -> dict[str, list[int]]:
    """``"schema.table"`` -> sorted versions pinned by the (active) checkpoints."""
    out: dict[str, set[int]] = {}
    cps = list_checkpoints(rt, active_only=active_only, kind=None, table=None, since=None)
    for cp in cps:
        for t in cp.tables:
            out.setdefault(t.table, set()).add(t.version)
    return {k: sorted(v) for k, v in sorted(out.items())}


__all__ = ["assemble", "get_checkpoint", "list_checkpoints", "pinned_versions"]
