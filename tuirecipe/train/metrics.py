"""Metric helpers: confidence intervals and the entropy of a class prior."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tuirecipe.stats import Z95, wilson_interval  # noqa: F401 - re-exported


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
