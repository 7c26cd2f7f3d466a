"""benchmarks/bench_fanout.py cannot rot: a tiny fan-out (6 entities, 2 notebook processes,
delta-rs) runs every scenario it has, accounts for every entity, and renders its section."""

from __future__ import annotations

from pathlib import Path

import fmd_runtime as fmd
from benchmarks import bench_fanout as bench


def test_a_tiny_fanout_accounts_for_every_entity_and_renders(tmp_path: Path) -> None:
    breaker = hasattr(fmd, "CircuitOpenError")
    settings = bench.Settings(
        root=str(tmp_path / "lakehouse"),
        entities=6,
        processes=2,
        spark=False,
        connect_delay=0.01,
        retry_wait=0.01,
        breaker_available=breaker,
    )
    (tmp_path / "lakehouse").mkdir()
    scenarios = bench.SCENARIOS if breaker else [s for s in bench.SCENARIOS if not s.down]
    results = bench.fanout(settings, scenarios)

    for s in scenarios:
        r = results[s.key]
        assert sorted(r["outcomes"]) == [bench._entity(i) for i in range(6)], s.key
        if not s.down:
            assert r["counts"] == {"loaded": 6}, s.key
            assert r["moved"]["data"] == 6 and r["rows"] == 6 * bench.ROWS, s.key
        else:
            assert set(r["counts"]) <= {"failed", "refused"} and r["moved"]["data"] == 0, s.key
    assert bench._state_commits("naive", results["naive"]) == 6  # one per entity
    assert bench._state_commits("library", results["library"]) <= 2  # one per notebook
    if breaker:
        assert results["down_off"]["counts"] == {"failed": 6}

    text = bench._section(settings, results, quick=True)
    assert "## Fan-out: 6 entities in 2 parallel notebooks" in text
    assert "python -m benchmarks fanout --quick" in text
