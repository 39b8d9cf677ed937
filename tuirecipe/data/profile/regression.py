"""Contradictory targets in regression data: a repeated text whose values spread too far.

In a classification set two labels on one text are a contradiction. In a regression set a
text rated 2.89, 3.0 and 3.43 by three annotators is measurement noise, not a flip; it is a
contradiction only when its values spread (max - min) more than a tolerance.
:func:`regression_conflicts` counts, per distinct text, the spread of its targets and sorts
repeated texts into identical values, spread within tolerance, and conflicts beyond it. Its
summary has the keys of :func:`~tuirecipe.data.profile.duplicates.conflict_level`
(``conflicting_texts``, ``rows``, ``groups``) so the rest of the tool reads it the same way,
plus the spread information.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

TOP_GROUPS = 50
ROWS_PER_GROUP = 20
# The default tolerance: this fraction of the target's interquartile range (robust to a
# few extreme targets); of its standard deviation when the IQR is 0.
TOLERANCE_FRACTION = 0.25


def default_tolerance(targets: np.ndarray) -> tuple[float, str]:
    """The tolerance used when none is given, and how it was derived."""
    finite = targets[np.isfinite(targets)]
    if not len(finite):
        return 0.0, "no finite targets"
    q25, q75 = np.percentile(finite, [25, 75])
    iqr = float(q75 - q25)
    if iqr > 0:
        return TOLERANCE_FRACTION * iqr, (
            f"{TOLERANCE_FRACTION:g} x the interquartile range of the target ({iqr:.4g})"
        )
    std = float(finite.std())
    return TOLERANCE_FRACTION * std, (
        f"{TOLERANCE_FRACTION:g} x the standard deviation of the target ({std:.4g}; "
        "the interquartile range is 0)"
    )


def regression_conflicts(
    codes: np.ndarray,
    n_codes: int,
    valid: np.ndarray,
    rows: np.ndarray,
    text_of_row: Callable[[int], str],
    targets: np.ndarray,
    tolerance: float | None = None,
) -> tuple[dict[str, Any], np.ndarray]:
    """Texts repeated with targets that spread more than ``tolerance``; also a per-code mask.

    ``codes``: distinct-text code per row (at one normalisation level), ``valid``: rows to
    use (rows whose target is not a finite number are left out too), ``targets``: the
    numeric target per row. ``tolerance`` None: :func:`default_tolerance`.
    """
    targets = np.asarray(targets, dtype=float)
    usable = np.asarray(valid, dtype=bool) & np.isfinite(targets)
    if tolerance is None:
        tol, rule = default_tolerance(targets[usable])
        source = "default"
    else:
        tol, rule, source = float(tolerance), "given", "given"
    idx = np.flatnonzero(usable)
    order = idx[np.argsort(codes[idx], kind="stable")]
    sorted_codes = codes[order]
    values = targets[order]
    starts = np.flatnonzero(np.r_[True, np.diff(sorted_codes) != 0]) if len(order) else order
    count = np.zeros(n_codes, dtype=np.int64)
    low = np.full(n_codes, np.nan)
    high = np.full(n_codes, np.nan)
    mean = np.full(n_codes, np.nan)
    std = np.full(n_codes, np.nan)
    start_of = np.zeros(n_codes, dtype=np.int64)  # where each code's rows begin in ``order``
    if len(order):
        group_codes = sorted_codes[starts]
        group_count = np.diff(np.r_[starts, len(order)])
        count[group_codes] = group_count
        start_of[group_codes] = starts
        low[group_codes] = np.minimum.reduceat(values, starts)
        high[group_codes] = np.maximum.reduceat(values, starts)
        group_mean = np.add.reduceat(values, starts) / group_count
        mean[group_codes] = group_mean
        squares = np.add.reduceat((values - np.repeat(group_mean, group_count)) ** 2, starts)
        std[group_codes] = np.sqrt(squares / group_count)
    spread = high - low
    repeated = count > 1
    conflicting = repeated & (spread > tol)
    identical = repeated & (spread == 0)
    within = repeated & (spread > 0) & ~conflicting

    candidates = np.flatnonzero(conflicting)
    if len(candidates) > TOP_GROUPS:
        part = np.argpartition(-spread[candidates], TOP_GROUPS - 1)[:TOP_GROUPS]
        candidates = candidates[part]
    top = candidates[np.lexsort((candidates, -count[candidates], -spread[candidates]))]
    groups = []
    for code in top.tolist():
        members = order[start_of[code] : start_of[code] + count[code]]
        groups.append(
            {
                "text": text_of_row(int(members[0]))[:300],
                "count": int(count[code]),
                "rows": rows[members[:ROWS_PER_GROUP]].tolist(),
                "min": float(low[code]),
                "max": float(high[code]),
                "spread": float(spread[code]),
                "mean": float(mean[code]),
                "std": float(std[code]),
            }
        )
    summary = {
        "task": "regression",
        "conflicting_texts": int(conflicting.sum()),
        "rows": int(count[conflicting].sum()),
        "groups": groups,
        "tolerance": {
            "value": float(tol),
            "unit": "target units (max - min of one text's values)",
            "source": source,
            "rule": rule,
        },
        "repeated_texts": int(repeated.sum()),
        "identical_values": {"texts": int(identical.sum()), "rows": int(count[identical].sum())},
        "within_tolerance": {"texts": int(within.sum()), "rows": int(count[within].sum())},
        "largest_spread": float(np.nanmax(spread[repeated])) if repeated.any() else 0.0,
        "units": {
            "conflicting_texts": "distinct texts whose values spread more than the tolerance",
            "rows": "rows holding those texts",
        },
    }
    return summary, conflicting
