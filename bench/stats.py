"""Percentiles and summaries of samples, in milliseconds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (no interpolation: every figure is a measured sample)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(seconds: Sequence[float]) -> dict[str, Any]:
    """n, min, p50, p90, p99, max and mean, in milliseconds rounded to 0.1 ms."""
    ms = [s * 1000 for s in seconds]
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "min": round(min(ms), 1),
        "p50": round(percentile(ms, 50), 1),
        "p90": round(percentile(ms, 90), 1),
        "p99": round(percentile(ms, 99), 1),
        "max": round(max(ms), 1),
        "mean": round(sum(ms) / len(ms), 1),
    }
