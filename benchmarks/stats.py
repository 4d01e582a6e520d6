"""What the benchmarks share: a quantile of measured values."""

from __future__ import annotations


def percentile(values: list[float], q: float) -> float:
    """The value at quantile `q` of `values` (nan for none)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
