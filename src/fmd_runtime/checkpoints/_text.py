"""Checkpoints as text for a person: the ``fmd checkpoint list`` table and a checkpoint's pins.

Rendering is kept apart from the capability so the command line and the demo print the same
thing without reaching into it (they import these two functions from the facade).

Example:
    >>> render_table([])
    'no checkpoints'
"""

from __future__ import annotations

from collections.abc import Sequence

from ._models import Checkpoint, pin_window_ms


def render_table(cps: Sequence[Checkpoint]) -> str:
    """A readable text table of checkpoints (the ``fmd checkpoint list`` output).

    Example:
        >>> render_table([])
        'no checkpoints'
    """
    if not cps:
        return "no checkpoints"
    header = (
        "NAME",
        "TYPE",
        "CREATED (UTC)",
        "TABLES",
        "ROWS",
        "VALIDATION",
        "RETAIN UNTIL",
        "ACTIVE",
        "RESTORABLE",
    )
    rows = [header] + [
        (
            c.checkpoint_name,
            c.checkpoint_type,
            f"{c.created_date:%Y-%m-%d %H:%M}",
            str(c.tables_included),
            "-" if c.total_rows is None else f"{c.total_rows:,}",
            c.validation_status,
            c.retention_date.isoformat(),
            "yes" if c.is_active else "no",
            c.restorability_status or "-",
        )
        for c in cps
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def render_pins(cp: Checkpoint) -> str:
    """A checkpoint's pinned versions and the load each reflects (``fmd checkpoint list
    --tables``): ``bronze.contact v8 = batch B1 (v8, ...): not loaded in this batch``.

    Example:
        >>> # print(render_pins(rt.checkpoints.get("bronze_batch_2025-01-15")))
    """
    window = pin_window_ms(cp)
    head = f"{cp.checkpoint_name} ({cp.validation_status}"
    head += f", batch {cp.batch_id}" if cp.batch_id else ""
    head += f", pinned within {window} ms)" if window is not None else ")"
    return "\n".join([head, *(f"  {t.load_text(cp.batch_id)}" for t in cp.tables)])


__all__ = ["render_pins", "render_table"]
