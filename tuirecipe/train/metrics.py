"""Metric helpers: confidence intervals and the entropy of a class prior."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

Z95 = 1.959963984540054  # two-sided 95 % normal quantile


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (sane at 0 %, 100 % and small n)."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def mean_interval(values: np.ndarray, z: float = Z95) -> tuple[float, float]:
    """Normal-approximation interval for the mean of ``values`` (per-example losses/errors)."""
    values = np.asarray(values, dtype=np.float64)
    n = values.size
    if n == 0:
        return (math.nan, math.nan)
    mean = float(values.mean())
    if n == 1:
        return (mean, mean)
    half = z * float(values.std(ddof=1)) / math.sqrt(n)
    return (mean - half, mean + half)


def prior_entropy(class_counts: Sequence[int]) -> float:
    """Entropy (nats) of the class distribution: the loss of predicting the prior."""
    total = float(sum(class_counts))
    return -sum((c / total) * math.log(c / total) for c in class_counts if c > 0)
