"""Helpers shared by the benchmarks: timing, peak-memory sampling, the performance.md sections."""

from __future__ import annotations

import gc
import json
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PERF_DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"

_HEADER = """# Performance

Measured by the benchmarks in `benchmarks/` (`make bench`, or `python -m benchmarks NAME`), each
goal checked side by side with its naive baseline in one process on the same machine. Numbers are
from the machine that last ran them (2 cores, 24 GiB); ratios matter more than absolute times.
"""


@dataclass
class Measure:
    """Wall time (best of the repeats) and peak resident memory above the baseline, in MiB."""

    seconds: float
    peak_mib: float
    value: Any = None


def _rss() -> int:
    try:
        import psutil

        return int(psutil.Process(os.getpid()).memory_info().rss)
    except Exception:  # psutil missing: report 0 rather than guess
        return 0


def _sample(stop: threading.Event, top: list[int]) -> None:
    while not stop.is_set():
        top[0] = max(top[0], _rss())
        stop.wait(0.01)


def measure(fn: Callable[[], Any], *, repeat: int = 1) -> Measure:
    """Run ``fn`` ``repeat`` times; best wall time and the peak RSS growth seen while it ran."""
    best = float("inf")
    peak = 0
    value = None
    for _ in range(repeat):
        gc.collect()
        base = _rss()
        top = [base]
        stop = threading.Event()

        t = threading.Thread(target=_sample, args=(stop, top), daemon=True)
        t.start()
        start = time.perf_counter()
        try:
            value = fn()
        finally:
            elapsed = time.perf_counter() - start
            stop.set()
            t.join()
        best = min(best, elapsed)
        peak = max(peak, top[0] - base)
    return Measure(seconds=best, peak_mib=peak / 2**20, value=value)


def write_section(name: str, markdown: str, path: Path = PERF_DOC) -> None:
    """Replace (or add) the section ``name`` of docs/performance.md, keeping the others."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = path.read_text() if path.exists() else _HEADER
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    text = (
        pattern.sub(lambda _: block, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + block + "\n"
    )
    path.write_text(text)


def table(rows: list[tuple[Any, ...]], header: tuple[str, ...]) -> str:
    """A markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


DAY_MS = 86_400_000


def age_commits(table_path: str | Path, days_by_version: dict[int, float]) -> None:
    """Shift the given commits ``days`` into the past in ``_delta_log`` (and the files' mtimes).

    VACUUM and retention decide only from these timestamps (commit time, remove
    ``deletionTimestamp``, add ``modificationTime``), so this is the table as it will be that many
    days later: how tests and benchmarks get "10 days old" without waiting.
    """
    for version, days in days_by_version.items():
        shift = int(days * DAY_MS)
        log = Path(table_path) / "_delta_log" / f"{version:020d}.json"
        actions = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        for action in actions:
            if "commitInfo" in action and action["commitInfo"].get("timestamp"):
                action["commitInfo"]["timestamp"] -= shift
            if "remove" in action and action["remove"].get("deletionTimestamp"):
                action["remove"]["deletionTimestamp"] -= shift
            if "add" in action and action["add"].get("modificationTime"):
                action["add"]["modificationTime"] -= shift
        log.write_text("".join(json.dumps(a) + "\n" for a in actions))
        stamp = log.stat().st_mtime - shift / 1000
        os.utime(log, (stamp, stamp))


def naive_checkpoint(rt: Any, naive_store: Any, refs: list[Any]) -> None:
    """The naive checkpoint baseline: per table, its version, a full ``count(*)`` at that version
    and one CheckpointHistory append (one commit per table)."""
    import uuid

    from fmd_runtime.engine import TableAt
    from fmd_runtime.store import utcnow

    for ref in refs:
        version = rt.engine.version(ref)
        res = rt.engine.sql(
            "SELECT count(*) AS n FROM {t}", {"t": TableAt(table=ref, version=version)}
        )
        naive_store.append("CheckpointHistory", [{
            "CheckpointId": str(uuid.uuid4()), "CheckpointName": f"naive_{ref.table}",
            "CheckpointType": "Daily", "CreatedDate": utcnow(), "TablesIncluded": 1,
            "TotalRows": int(res.column("n")[0].as_py()), "ValidationStatus": "Validated",
            "RetentionDate": utcnow().date(), "IsActive": True,
        }])  # fmt: skip


def checkpoint_floor(rt: Any, refs: list[Any]) -> None:
    """The raw floor of a checkpoint: version + log statistics + files per table, bounded pool."""

    def read(ref: Any) -> None:
        v = rt.engine.version(ref)
        rt.engine.count_rows(ref, v)
        rt.engine.files(ref, v)

    assert all(o.ok for o in rt.map_tables(read, refs, label="Reading"))
