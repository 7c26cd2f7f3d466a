"""Robust statistics for the anomaly checks: median, median absolute deviation, the decisions.

A table's recent checkpoints are its baseline. A mean and a standard deviation are pulled by the
very outliers they should expose (one bad day moves them), so the centre is the median and the
spread the median absolute deviation (MAD), scaled by 1.4826 so that it estimates a standard
deviation for normal data. A change is an anomaly only when it is large in BOTH senses: beyond
``k`` scaled MADs of the baseline (unusual for this table) AND beyond a share of the median
(large enough to matter). The share alone flags steady tables whose counts never move (MAD 0)
only when the move is really large, never on a one-row change; the MAD alone would flag noise on
such tables.

Example:
    >>> median([3, 1, 2]), mad([1, 2, 3, 4, 100])
    (2.0, 1.0)
    >>> robust_drop(58, [100, 101, 99, 100]).flagged(share=0.10, k=3.0)
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MAD_SCALE = 1.4826
"""Scales the MAD to a standard-deviation estimate for normally distributed data."""


def median(values: Sequence[float]) -> float:
    """The median of ``values`` (the mean of the two middle values for an even count).

    Raises:
        ValueError: no values.

    Example:
        >>> median([4, 1, 3, 2])
        2.5
    """
    if not values:
        raise ValueError("median of no values")
    ordered = sorted(float(v) for v in values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def mad(values: Sequence[float]) -> float:
    """The median absolute deviation from the median (unscaled).

    Raises:
        ValueError: no values.

    Example:
        >>> mad([10, 10, 10, 11])
        0.0
    """
    centre = median(values)
    return median([abs(float(v) - centre) for v in values])


@dataclass(frozen=True)
class RobustChange:
    """How far ``current`` moved from a baseline, in the baseline's own terms.

    Attributes:
        current: the value now.
        baseline_median: the baseline's median.
        baseline_mad: the baseline's MAD (unscaled; `scaled_mad` is 1.4826 times it).
        change: the move in the direction checked (a drop: median - current; a jump:
            current - median); negative when it moved the other way.
        reference: what ``share`` divides by (the median, unless the caller names another).
        points: the number of baseline values.
    """

    current: float
    baseline_median: float
    baseline_mad: float
    change: float
    reference: float
    points: int

    @property
    def scaled_mad(self) -> float:
        """The MAD scaled to a standard-deviation estimate (``1.4826 * MAD``)."""
        return MAD_SCALE * self.baseline_mad

    @property
    def share(self) -> float:
        """The change as a share of the reference (0 when the reference is 0 and nothing moved;
        1 per unit moved from a zero reference, so a jump from nothing counts as large)."""
        if self.reference > 0:
            return self.change / self.reference
        return float(self.change) if self.change > 0 else 0.0

    def flagged(self, *, share: float, k: float) -> bool:
        """True when the change exceeds ``share`` of the reference AND ``k`` scaled MADs.

        With a zero MAD (a steady table) the second test is "moved at all", so the share
        decides: a one-row change of a steady table is never flagged unless it is that share.

        Example:
            >>> robust_drop(99, [100, 100, 100]).flagged(share=0.10, k=3.0)
            False
        """
        return self.change > 0 and self.share > share and self.change > k * self.scaled_mad

    def numbers(self, prefix: str = "") -> dict[str, float | int]:
        """The numbers a finding shows: current, median, MAD, change, share (rounded)."""
        return {
            f"{prefix}current": _num(self.current),
            f"{prefix}baseline_median": _num(self.baseline_median),
            f"{prefix}baseline_mad": _num(self.baseline_mad),
            f"{prefix}change": _num(self.change),
            f"{prefix}share": round(self.share, 4),
            f"{prefix}baseline_points": self.points,
        }


def robust_drop(
    current: float, baseline: Sequence[float], *, reference: float | None = None
) -> RobustChange:
    """How far ``current`` fell below the median of ``baseline``.

    Args:
        current: the value now.
        baseline: the recent values (at least one).
        reference: what the share divides by (default: the baseline median).

    Example:
        >>> robust_drop(60, [100, 100, 102]).share
        0.4
    """
    centre = median(baseline)
    return RobustChange(
        current=float(current),
        baseline_median=centre,
        baseline_mad=mad(baseline),
        change=centre - float(current),
        reference=centre if reference is None else float(reference),
        points=len(baseline),
    )


def robust_jump(
    current: float, baseline: Sequence[float], *, reference: float | None = None
) -> RobustChange:
    """How far ``current`` rose above the median of ``baseline``.

    Args:
        current: the value now.
        baseline: the recent values (at least one).
        reference: what the share divides by (default: the baseline median); a deleted-rows
            jump is measured against the table's active rows, not against the deleted ones.

    Example:
        >>> robust_jump(42, [2, 2, 3], reference=100).share
        0.4
    """
    centre = median(baseline)
    return RobustChange(
        current=float(current),
        baseline_median=centre,
        baseline_mad=mad(baseline),
        change=float(current) - centre,
        reference=centre if reference is None else float(reference),
        points=len(baseline),
    )


def overdue(elapsed: float, intervals: Sequence[float], *, factor: float) -> bool:
    """True when ``elapsed`` exceeds ``factor`` times the usual (median) interval.

    Example:
        >>> overdue(80, [24, 24, 25], factor=3.0), overdue(50, [24, 24, 25], factor=3.0)
        (True, False)
    """
    return bool(intervals) and elapsed > factor * median(intervals)


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 4)


__all__ = ["MAD_SCALE", "RobustChange", "mad", "median", "overdue", "robust_drop", "robust_jump"]
