"""The per-split view of a profile: the same counts within train and within dev, and
what the two share.

The whole-data sections (labels, lengths, duplicates, conflicts, corrupted rows) count
every row; :func:`split_sections` repeats those counts inside each split with the same
definitions (:func:`~tuirecipe.data.profile.duplicates.duplicate_counts`,
:func:`~tuirecipe.data.profile.duplicates.conflict_counts`), so a split's
numbers can be checked against the whole. :func:`leakage_section` looks across the
split: a dev text that is also in train with the same label makes the dev score
optimistic; one whose labels disagree across the split is a conflict that also leaks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tuirecipe.data.profile.duplicates import (
    conflict_counts,
    duplicate_counts,
)
from tuirecipe.data.profile.labels import LabelColumn

EXAMPLES = 50
SKIPPED_LISTED = 1000


def _label_counts(labels: LabelColumn, mask: np.ndarray) -> dict[str, int]:
    if labels.values is not None:  # regression: no class counts
        return {}
    counts = np.bincount(labels.codes[mask & (labels.codes >= 0)], minlength=len(labels.names))
    order = np.argsort(-counts, kind="stable")
    return {labels.names[i]: int(counts[i]) for i in order if counts[i]}


def _lengths(lengths: np.ndarray, mask: np.ndarray, max_len: int) -> dict[str, Any]:
    values = lengths[mask]
    if not len(values):
        return {"rows": 0}
    p50, p95 = np.percentile(values, [50, 95])
    return {
        "rows": int(len(values)),
        "p50": float(p50),
        "p95": float(p95),
        "max": int(values.max()),
        "truncated_rows": int((values > max_len).sum()),
        "truncation_rate": float((values > max_len).mean()),
    }


def split_sections(
    job: Any,
    labels: LabelColumn,
    level_codes: dict[str, tuple[np.ndarray, int, np.ndarray]],
    lengths: np.ndarray,
    valid: np.ndarray,
    masks: dict[str, np.ndarray],
    whole_lengths: dict[str, Any],
    conflicts_of: Callable[[np.ndarray, int, np.ndarray], tuple[dict, np.ndarray]],
) -> dict[str, Any]:
    """``{"names", "train": {...}, "dev": {...}}``: each split's counts, same units as the
    whole-data sections (rows; surplus rows / rows in groups / texts)."""
    out: dict[str, Any] = {"ran": True, "names": ["train", "dev"]}
    every = np.ones(len(valid), dtype=bool)
    # "all": the same function over every row, so the table's columns add up visibly
    for name, in_split in (("all", every), ("train", job.train), ("dev", job.dev)):
        part: dict[str, Any] = {
            "rows": int(in_split.sum()),
            "usable_rows": int((in_split & valid).sum()),
            "labels": _label_counts(labels, in_split),
            "lengths": _lengths(lengths, in_split & valid, job.max_len),
            "duplicates": {},
            "conflicts": {},
            "corrupted": {k: int((m & in_split).sum()) for k, m in masks.items()},
        }
        if labels.values is not None and (in_split & valid).any():
            values = labels.values[in_split & valid]
            values = values[np.isfinite(values)]
            if len(values):
                part["targets"] = {"mean": float(values.mean()), "std": float(values.std())}
        for level, (codes, n_codes, usable) in level_codes.items():
            part["duplicates"][level] = duplicate_counts(codes, n_codes, usable & in_split)
            if labels.values is None:
                part["conflicts"][level] = conflict_counts(
                    codes, n_codes, usable & in_split, labels.codes
                )
            else:  # regression: the same tolerance as the whole data's
                found, _ = conflicts_of(codes, n_codes, usable & in_split)
                part["conflicts"][level] = {
                    "conflicting_texts": int(found["conflicting_texts"]),
                    "rows": int(found["rows"]),
                }
        out[name] = part
    out["max_len"] = whole_lengths.get("max_len")
    return out


def leakage_section(
    job: Any, index: Any, valid: np.ndarray, text_of_row: Any, disagree: np.ndarray
) -> dict[str, Any]:
    """Dev rows whose ``case_space`` text is also in train, split by whether the labels
    agree (a leak: dev looks better than it is) or not (a conflict across the split).
    ``disagree``: per ``case_space`` code, the whole data's conflict verdict."""
    codes = index.space_codes
    n_codes = index.n_space
    train, dev = job.train & valid, job.dev & valid
    in_train = np.bincount(codes[train], minlength=n_codes) > 0
    in_dev = np.bincount(codes[dev], minlength=n_codes) > 0
    shared = in_train & in_dev
    if len(disagree) != n_codes:
        disagree = np.zeros(n_codes, dtype=bool)
    leaked_rows = dev & shared[codes]
    conflicting_rows = leaked_rows & disagree[codes]
    same_rows = leaked_rows & ~disagree[codes]
    first_train = np.full(n_codes, -1, dtype=np.int64)
    train_pos = np.flatnonzero(train)
    first_train[codes[train_pos][::-1]] = train_pos[::-1]
    hits = np.flatnonzero(leaked_rows)
    examples = [
        {
            "dev_row": int(job.rows[i]),
            "train_row": int(job.rows[first_train[codes[i]]]),
            "text": text_of_row(int(i))[:300],
            "same_label": bool(not disagree[codes[i]]),
        }
        for i in hits[:EXAMPLES]
    ]
    exact = index.exact_codes
    exact_in_train = np.bincount(exact[train], minlength=len(index.exact_uniques)) > 0
    n_dev = max(1, int(dev.sum()))
    return {
        "ran": True,
        "level": "case_space",
        "unit": "dev rows (texts: distinct case_space texts)",
        "dev_rows_in_train": int(leaked_rows.sum()),
        "exact_dev_rows_in_train": int((dev & exact_in_train[exact]).sum()),
        "dev_share": float(leaked_rows.sum() / n_dev),
        "shared_texts": int(shared.sum()),
        "same_label_dev_rows": int(same_rows.sum()),
        "conflicting_dev_rows": int(conflicting_rows.sum()),
        "conflicting_texts": int((shared & disagree).sum()),
        "examples": examples,
    }


def skipped_section(skipped: list[dict[str, Any]]) -> dict[str, Any]:
    """The rows the loader left out: count, count per reason, and the rows with line."""
    by_reason: dict[str, int] = {}
    for item in skipped:
        reason = str(item.get("reason", ""))
        kind = reason.split(" (")[0].split(":")[0]
        kind = "label is not a number" if kind.startswith("label ") else kind
        by_reason[kind] = by_reason.get(kind, 0) + 1
    return {
        "count": len(skipped),
        "unit": "rows of the file (records), in no split",
        "by_reason": by_reason,
        "rows": [dict(item) for item in skipped[:SKIPPED_LISTED]],
        "listed": min(len(skipped), SKIPPED_LISTED),
    }
