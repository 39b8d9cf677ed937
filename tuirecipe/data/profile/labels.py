"""Label column: codes, distribution, imbalance, long tail; regression target statistics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

LONG_TAIL_RATIO = 10.0  # largest / smallest class at or above this is a long tail
RARE_CLASS_SHARE = 0.01  # or any class holding under 1 % of the rows
MIXED_MAJORITY = 0.6


@dataclass
class LabelColumn:
    """Labels as integer codes (-1 = missing or unusable) plus per-row masks."""

    codes: np.ndarray
    names: list[str]
    missing: np.ndarray
    unknown: np.ndarray
    values: np.ndarray | None  # regression: float targets (NaN when unusable)


def encode_labels(
    values: pd.Series | None, n_rows: int, task: str, label_set: list[str] | None
) -> LabelColumn:
    """Factorize the label column; for regression also parse the numbers."""
    if values is None:
        none = np.ones(n_rows, dtype=bool)
        return LabelColumn(
            np.full(n_rows, -1, dtype=np.int64), [], none, np.zeros(n_rows, dtype=bool), None
        )
    # Factorize the raw values first: everything after works on the few distinct labels.
    # A pandas string column is factorized as it is (arrow hashing, no Python str per row:
    # 1M rows would make 1M str objects, ~80 MB, for a handful of labels).
    if isinstance(values.dtype, pd.StringDtype):
        raw_codes, raw_uniques = pd.factorize(values)
        raw_uniques = raw_uniques.to_numpy(dtype=object, na_value=None)
    else:
        raw_codes, raw_uniques = pd.factorize(values.to_numpy(dtype=object, na_value=None))
    stripped = [str(u).strip() for u in raw_uniques]
    unknown_code = np.zeros(len(stripped) + 1, dtype=bool)  # index -1 -> False
    numbers = None
    if task == "regression":
        parsed = pd.to_numeric(pd.Series(stripped, dtype=object), errors="coerce").to_numpy(float)
        finite = np.isfinite(parsed)
        unknown_code[:-1] = ~finite & (np.asarray(stripped, dtype=object) != "")
        merged, uniques = pd.factorize(pd.Series(np.where(finite, parsed, np.nan)))
        names = [repr(float(u)) for u in uniques]
        numbers = np.concatenate([parsed, [np.nan]])[raw_codes]
    else:
        merged, uniques = pd.factorize(
            pd.Series([t if t else None for t in stripped], dtype=object)
        )
        names = [str(u) for u in uniques]
        if label_set is not None:
            allowed = {str(x) for x in label_set}
            unknown_code[:-1] = [t != "" and t not in allowed for t in stripped]
    codes = np.concatenate([np.asarray(merged, dtype=np.int64), [-1]])[raw_codes]
    empty_code = np.array([t == "" for t in stripped] + [True])
    missing = empty_code[raw_codes]
    unknown = unknown_code[raw_codes]
    return LabelColumn(np.asarray(codes, dtype=np.int64), names, missing, unknown, numbers)


def classification_section(labels: LabelColumn) -> dict:
    """Counts and shares per label (by count), imbalance ratio and long-tail flag."""
    usable = labels.codes >= 0
    counts = np.bincount(labels.codes[usable], minlength=len(labels.names))
    total = int(counts.sum())
    order = np.lexsort((np.arange(len(counts)), -counts))
    rows = [
        {
            "label": labels.names[i],
            "count": int(counts[i]),
            "percent": 100.0 * counts[i] / total if total else 0.0,
        }
        for i in order
        if counts[i]
    ]
    present = counts[counts > 0]
    ratio = float(present.max() / present.min()) if len(present) else 0.0
    smallest_share = float(present.min() / total) if total else 0.0
    long_tail = bool(
        len(present) > 1 and (ratio >= LONG_TAIL_RATIO or smallest_share < RARE_CLASS_SHARE)
    )
    return {
        "kind": "classification",
        "classes": int(len(present)),
        "counts": rows,
        "imbalance_ratio": ratio,
        "smallest_share": smallest_share,
        "long_tail": long_tail,
        "long_tail_rule": f"largest/smallest >= {LONG_TAIL_RATIO:g} or a class under "
        f"{RARE_CLASS_SHARE:.0%} of rows",
        "missing": int(labels.missing.sum()),
        "unknown": int(labels.unknown.sum()),
    }


def regression_section(labels: LabelColumn) -> dict:
    """Mean, spread, quantiles and a histogram of the numeric target."""
    values = labels.values if labels.values is not None else np.array([])
    finite = values[np.isfinite(values)]
    out = {
        "kind": "regression",
        "count": int(len(finite)),
        "missing": int(labels.missing.sum()),
        "unknown": int(labels.unknown.sum()),
    }
    if not len(finite):
        return out
    qs = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]
    counts, edges = np.histogram(finite, bins=20)
    out.update(
        mean=float(finite.mean()),
        std=float(finite.std()),
        min=float(finite.min()),
        max=float(finite.max()),
        quantiles={f"q{int(q * 100):02d}": float(v) for q, v in zip(qs, np.quantile(finite, qs))},
        histogram={"edges": edges.tolist(), "counts": counts.tolist()},
        distinct=int(len(np.unique(finite))),
    )
    return out
