"""The :class:`DatasetProfile` record: plain values only, JSON-able both ways.

Each section is a dict of plain values (numbers, strings, lists, dicts) whose keys are
documented on the field. Per-row flags for the data browser are carried alongside in
memory (``flags``) but are never part of ``to_dict()``: they are large and are saved
separately by :mod:`tuirecipe.data.profile.cache`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

PROFILE_VERSION = 3
FLAG_NAMES = ("duplicate", "conflict", "near_duplicate", "corrupted", "long")
_IN_MEMORY = {"flags", "row_groups", "row_split"}


@dataclass
class DatasetProfile:
    """What the profile found; every section is a dict of plain JSON values."""

    version: int = PROFILE_VERSION
    task: str = "classification"
    # whole (what "all rows" are, in words), splits (names), note
    scope: dict[str, Any] = field(default_factory=dict)
    # max_len, lowercase, label_set, near_duplicates, clusters (the options used)
    options: dict[str, Any] = field(default_factory=dict)
    # rows (every usable row profiled), usable_rows, skipped_rows, rows_read, train_rows,
    # dev_rows, usable_train_rows, classes, vocab_size, dev_oov_rate, scale, thresholds
    size: dict[str, Any] = field(default_factory=dict)
    # classification: counts [{label, count, percent}], imbalance_ratio, long_tail, missing
    # regression: mean, std, min, max, quantiles {q: v}, histogram {edges, counts}
    labels: dict[str, Any] = field(default_factory=dict)
    # unit, histogram {edges, counts, overflow}, p50/p90/p95/p99/max, suggested_max_len,
    # truncation_rate (at options.max_len), per_class [{label, median, p95}], whitespace
    lengths: dict[str, Any] = field(default_factory=dict)
    # {exact|case_space|loose: {surplus_rows, repeated_texts, rows_in_groups, groups}}
    duplicates: dict[str, Any] = field(default_factory=dict)
    # {exact|case_space|loose: {conflicting_texts, rows, groups}}
    conflicts: dict[str, Any] = field(default_factory=dict)
    # ran, sampled, sample_size, threshold, method, pairs, examples, leakage {...}
    near_duplicates: dict[str, Any] = field(default_factory=dict)
    # dev rows whose case_space text is also in train: dev_rows_in_train, same_label_dev_rows,
    # conflicting_dev_rows, conflicting_texts, shared_texts, examples
    leakage: dict[str, Any] = field(default_factory=dict)
    # ran, names, train/dev: {rows, usable_rows, labels, lengths, duplicates, conflicts,
    # corrupted}: the whole-data counts within each split
    splits: dict[str, Any] = field(default_factory=dict)
    # rows the loader left out: count, unit, by_reason, rows [{row, line, reason}], listed
    skipped: dict[str, Any] = field(default_factory=dict)
    # classification: how well length alone predicts the label (per-class AUC, a
    # one-feature tree vs chance, truncated rows by class), fires, message
    length_shortcut: dict[str, Any] = field(default_factory=dict)
    # typographic / compatibility characters (NFKC): rows, texts, kinds, vocabulary_split
    unicode: dict[str, Any] = field(default_factory=dict)
    # {category: {count, rows, description}}
    corrupted: dict[str, Any] = field(default_factory=dict)
    # ran, sampled, sample_size, method, features, k, k_rule, clustered_rows, unclustered,
    # clusters [{id, size, share, top_terms, examples, label_mix | target, label_signal |
    # target_signal, p_adjusted}], label_association | target_association, message
    clusters: dict[str, Any] = field(default_factory=dict)
    advice: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    # In memory only (saved beside the JSON by the cache): per-row boolean flags aligned
    # with the profiled rows, each row's case_space group (-1 for a blank text: the group
    # the flags, the browser and the export share) and split (0 train, 1 dev).
    flags: dict[str, np.ndarray] | None = field(default=None, repr=False, compare=False)
    row_groups: np.ndarray | None = field(default=None, repr=False, compare=False)
    row_split: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (the row flags are left out)."""
        out = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in _IN_MEMORY
        }
        return _plain(out)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetProfile:
        known = {f.name for f in dataclasses.fields(cls)} - _IN_MEMORY
        return cls(**{k: v for k, v in data.items() if k in known})


def _plain(value: Any) -> Any:
    """Turn numpy scalars/arrays and tuples into JSON-friendly Python values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        value = float(value)
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
