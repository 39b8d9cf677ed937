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

PROFILE_VERSION = 1
FLAG_NAMES = ("duplicate", "conflict", "near_duplicate", "corrupted", "long")


@dataclass
class DatasetProfile:
    """What the profile found; every section is a dict of plain JSON values."""

    version: int = PROFILE_VERSION
    task: str = "classification"
    # max_len, lowercase, label_set, near_duplicates, clusters (the options used)
    options: dict[str, Any] = field(default_factory=dict)
    # rows, train_rows, dev_rows, classes, vocab_size, dev_oov_rate, scale, thresholds
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
    # dev rows whose case_space text is also in train: rows, examples
    leakage: dict[str, Any] = field(default_factory=dict)
    # {category: {count, rows, description}}
    corrupted: dict[str, Any] = field(default_factory=dict)
    # ran, sampled, sample_size, k, clusters [{id, size, share, top_terms, labels, majority, mixed}]
    clusters: dict[str, Any] = field(default_factory=dict)
    advice: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    # In memory only: per-row boolean flags aligned with the profiled frame.
    flags: dict[str, np.ndarray] | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (the row flags are left out)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "flags"}
        return _plain(out)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetProfile:
        known = {f.name for f in dataclasses.fields(cls)} - {"flags"}
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
