"""Wording shared by every report: counts with their noun, and sizes in binary units.

One place, so that a rollback plan, a maintenance report and the CLI say "1 table" and
"4.1 KiB" the same way (sizes are always powers of 1024 with IEC units: B, KiB, MiB, GiB, TiB).

Example:
    >>> plural(1, "table"), plural(3, "table"), format_bytes(4200)
    ('1 table', '3 tables', '4.1 KiB')
"""

from __future__ import annotations

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """``count`` and ``noun``, the noun plural unless the count is exactly one.

    Args:
        count: how many.
        noun: the singular ("table").
        plural_noun: the plural when it is not ``noun + "s"`` ("entities").

    Example:
        >>> plural(0, "table"), plural(1, "entity", "entities"), plural(2, "entity", "entities")
        ('0 tables', '1 entity', '2 entities')
    """
    word = noun if count == 1 else (plural_noun or f"{noun}s")
    return f"{count:,} {word}"


def format_bytes(size: int | float | None) -> str:
    """A byte count for people: powers of 1024 with IEC units (``B``, ``KiB`` ... ``TiB``).

    Args:
        size: bytes (None is shown as 0 B).

    Example:
        >>> format_bytes(512), format_bytes(2048), format_bytes(5 * 1024**3)
        ('512 B', '2.0 KiB', '5.0 GiB')
    """
    value = float(size or 0)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


__all__ = ["format_bytes", "plural"]
