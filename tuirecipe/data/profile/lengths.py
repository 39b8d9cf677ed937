"""Length distribution in tokens: histogram, percentiles, a suggested ``max_len``,
truncation rates and per-class lengths.

Tokens are counted as :func:`tuirecipe.data.tokenize.tokenize` splits them (words and
single punctuation marks), since that is what ``max_len`` truncates. Whitespace-token
percentiles are reported too, for comparison with dataset cards.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

NICE_LENGTHS = (
    8,
    16,
    24,
    32,
    48,
    64,
    96,
    128,
    160,
    192,
    256,
    320,
    384,
    512,
    768,
    1024,
    1536,
    2048,
    3072,
    4096,
    8192,
)
HISTOGRAM_BINS = 20


def nice_ceiling(value: float) -> int:
    """The smallest 'nice' length at or above ``value`` (8, 16, 24, 32, 48, 64, 96, 128…)."""
    for nice in NICE_LENGTHS:
        if value <= nice:
            return nice
    return int(math.ceil(value / 1024) * 1024)


def _bin_width(upper: float) -> int:
    raw = max(1.0, upper / HISTOGRAM_BINS)
    exp = 10 ** math.floor(math.log10(raw))
    for step in (1, 2, 5, 10):
        if step * exp >= raw:
            return int(step * exp)
    return int(10 * exp)


def histogram(lengths: np.ndarray) -> dict:
    """Equal-width bins with nice widths up to the 99th percentile; the rest is overflow."""
    if not len(lengths):
        return {"edges": [], "counts": [], "overflow": 0}
    upper = float(np.percentile(lengths, 99))
    width = _bin_width(max(upper, 1.0))
    n_bins = max(1, int(math.ceil((upper + 1) / width)))
    top = n_bins * width
    counts = np.bincount(np.minimum(lengths, top) // width, minlength=n_bins + 1)
    return {
        "edges": [i * width for i in range(n_bins + 1)],
        "counts": counts[:n_bins].tolist(),
        "overflow": int(counts[n_bins:].sum()),
    }


def _percentiles(values: np.ndarray) -> dict[str, float]:
    if not len(values):
        return {"p50": 0.0, "p90": 0.0, "p95": 0.0, "p99": 0.0, "max": 0}
    p = np.percentile(values, [50, 90, 95, 99])
    return {
        "p50": float(p[0]),
        "p90": float(p[1]),
        "p95": float(p[2]),
        "p99": float(p[3]),
        "max": int(values.max()),
    }


def length_section(
    lengths: np.ndarray,
    ws_lengths: np.ndarray,
    valid: np.ndarray,
    max_len: int,
    label_codes: np.ndarray | None,
    label_names: list[str],
) -> dict:
    """The ``lengths`` section of the profile (rows with a blank text are left out)."""
    values = lengths[valid].astype(np.int64)
    stats = _percentiles(values)
    suggested = nice_ceiling(max(stats["p95"], 1.0))
    n = max(1, len(values))
    per_class: list[dict[str, Any]] = []
    if label_codes is not None and label_names:
        codes = label_codes[valid]
        order = np.argsort(codes, kind="stable")
        sorted_codes, sorted_len = codes[order], values[order]
        bounds = np.flatnonzero(np.diff(sorted_codes)) + 1
        for group_codes, group_len in zip(
            np.split(sorted_codes, bounds), np.split(sorted_len, bounds)
        ):
            if not len(group_codes) or group_codes[0] < 0:
                continue
            q = np.percentile(group_len, [50, 95])
            per_class.append(
                {
                    "label": label_names[int(group_codes[0])],
                    "count": len(group_len),
                    "median": float(q[0]),
                    "p95": float(q[1]),
                }
            )
        per_class.sort(key=lambda item: -item["count"])
    return {
        "unit": "tokenizer tokens (words and punctuation marks)",
        "rows": int(len(values)),
        "histogram": histogram(values),
        **stats,
        "mean": float(values.mean()) if len(values) else 0.0,
        "suggested_max_len": suggested,
        "suggested_rule": "95th percentile rounded up to 8, 16, 24, 32, 48, 64, 96, 128, 160, ...",
        "max_len": max_len,
        "truncation_rate": float((values > max_len).sum() / n),
        "truncation_rate_at_suggested": float((values > suggested).sum() / n),
        "per_class": per_class,
        "whitespace": _percentiles(ws_lengths[valid]),
    }
