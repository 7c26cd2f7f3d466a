"""``python -m fmd_runtime.testing resolve``: resolve (and cache) the Delta jars of the installed
pyspark / delta-spark pair, printing the pair and the jar files; exit 1 with the reason when
they cannot be resolved."""

from __future__ import annotations

import sys

from fmd_runtime.testing._jars import DeltaJarsUnavailableError, delta_runtime, resolve_delta_jars


def main(argv: list[str] | None = None) -> int:
    """Run the command (``resolve``)."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["resolve"]:
        print("usage: python -m fmd_runtime.testing resolve", file=sys.stderr)
        return 2
    try:
        runtime = delta_runtime()
        jars = resolve_delta_jars(runtime)
    except DeltaJarsUnavailableError as exc:
        print(f"fmd: Delta jars unavailable: {exc}", file=sys.stderr)
        return 1
    print(f"fmd: {runtime.label}: {runtime.coordinate} -> {len(jars)} jar(s)")
    for jar in jars:
        print(f"  {jar}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
