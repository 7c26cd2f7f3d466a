"""Side-by-side benchmarks against naive baselines; results go to docs/performance.md.

Run all: ``python -m benchmarks``; one: ``python -m benchmarks checkpoints``.
Each module ``benchmarks/bench_<name>.py`` has ``run(quick: bool) -> str`` returning its
markdown section; the runner rewrites only that section of docs/performance.md.
"""
