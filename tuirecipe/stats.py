"""Small statistics, usable from the console and the worker alike.

Importing this module loads no third-party library (the checklist imports it without numpy
or torch); the EMA imports numpy when called.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
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


EmaState = tuple[float, int]  # (the last biased average, how many values it has seen)
EMA_START: EmaState = (0.0, 0)


def ema(values: np.ndarray | list[float], weight: float) -> np.ndarray:
    """Debiased exponential moving average of a whole series (TensorBoard's smoothing):
    ``a_k = w a_(k-1) + (1 - w) v_k`` divided by ``1 - w^k``, so the first values are not
    pulled towards 0. ``weight`` 0 (or less) returns the values unchanged."""
    return ema_extend(values, weight, EMA_START)[0]


def ema_extend(
    values: np.ndarray | list[float], weight: float, state: EmaState
) -> tuple[np.ndarray, EmaState]:
    """Continue a debiased EMA over ``values`` from ``state``; returns the smoothed values
    and the state to continue from. Feeding a series in pieces gives what :func:`ema` gives
    on the whole of it.

    Vectorised in chunks: within a chunk, ``a_j = w^(j+1) a_-1 + (1-w) Σ w^(j-i) v_i`` is a
    cumulative sum of ``v_i w^-i``; chunks are short enough that ``w^-i`` stays finite.
    """
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    last, count = state
    if weight <= 0 or len(values) == 0:
        return values.copy(), (float(values[-1]) if len(values) else last, count + len(values))
    out = np.empty(len(values))
    chunk = int(max(8, min(4096, 250 / max(1e-12, -math.log10(weight)))))
    for start in range(0, len(values), chunk):
        v = values[start : start + chunk]
        j = np.arange(len(v), dtype=np.float64)
        powers = weight ** (j + 1)
        biased = powers * last + (1 - weight) * weight**j * np.cumsum(v * weight**-j)
        norm = 1 - weight ** (count + start + j + 1)
        out[start : start + len(v)] = biased / norm
        last = float(biased[-1])
    return out, (last, count + len(values))
