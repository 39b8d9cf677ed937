"""Building blocks of ``profile_frame``: stage timing/progress, vocabulary, dev comparison
and near-duplicate sections.

Each stage's wall time lands in ``profile.timings``. Near-duplicates work on a seeded
sample of large data and say so (``sampled``, ``sample_size``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from tuirecipe.data.profile import neardup
from tuirecipe.data.profile.normalize import (
    TextIndex,
    _first_index,
    vocabulary_and_oov,
)

Progress = Callable[[float, str], None]
EXAMPLES = 50

# (fraction reached when the stage starts, message)
_STAGES = {
    "normalise": (0.0, "normalising texts"),
    "labels": (0.35, "reading labels"),
    "duplicates": (0.4, "finding duplicates and conflicts"),
    "lengths": (0.5, "measuring lengths"),
    "corrupted": (0.55, "looking for corrupted rows"),
    "dev": (0.6, "comparing with dev"),
    "vocabulary": (0.65, "counting the vocabulary"),
    "sampled": (0.75, "near-duplicates and clusters (sampled)"),
}


class _Stages:
    """Times stages and reports progress between them."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.timings: dict[str, float] = {}
        self._name: str | None = None
        self._start = 0.0

    def start(self, name: str) -> None:
        self._finish()
        fraction, message = _STAGES[name]
        if self.progress is not None:
            self.progress(fraction, message)
        self._name, self._start = name, time.perf_counter()

    def _finish(self) -> None:
        if self._name is not None:
            self.timings[self._name] = round(time.perf_counter() - self._start, 4)
            self._name = None

    def done(self) -> dict[str, float]:
        self._finish()
        self.timings["main_thread"] = round(
            sum(v for k, v in self.timings.items() if "helper" not in k), 4
        )
        if self.progress is not None:
            self.progress(1.0, "profile ready")
        return self.timings


def row_numbers(frame: pd.DataFrame) -> np.ndarray:
    """Source row numbers: the ``row`` column, else the index + 1 (or position + 1)."""
    if "row" in frame.columns:
        return pd.to_numeric(frame["row"], errors="coerce").fillna(-1).to_numpy(np.int64)
    if pd.api.types.is_integer_dtype(frame.index.dtype):
        return frame.index.to_numpy(np.int64) + 1
    return np.arange(1, len(frame) + 1, dtype=np.int64)


def row_lines(frame: pd.DataFrame) -> np.ndarray | None:
    """The line of the file each row starts on (the ``line`` column), else None."""
    if "line" not in frame.columns:
        return None
    return pd.to_numeric(frame["line"], errors="coerce").fillna(-1).to_numpy(np.int64)


def _train_vocabulary(
    index: TextIndex, lowercase: bool, train: np.ndarray, dev: np.ndarray
) -> tuple[int, float]:
    """Tokenizer tokens of the training rows (the model's vocabulary is built from them),
    and the share of dev tokens outside it."""
    return vocabulary_and_oov(index, lowercase, train, dev)


def _pair_examples(pairs, sims, left_text, right_text, left_row, right_row) -> list[dict]:
    return [
        {
            "rows": [left_row(int(i)), right_row(int(j))],
            "similarity": round(float(s), 3),
            "texts": [left_text(int(i))[:300], right_text(int(j))[:300]],
        }
        for (i, j), s in zip(pairs[:EXAMPLES], sims[:EXAMPLES])
    ]


def _near_duplicates(index: TextIndex, rows: np.ndarray) -> tuple[dict, np.ndarray, tuple]:
    """Within-train near-duplicate pairs, the loose codes involved, and the sample state
    (sample, signatures, text and row lookups) that :func:`_near_leakage` reuses."""
    n_loose = len(index.loose_empty)
    first_row = _first_index(index.loose_codes, n_loose)
    candidates = np.flatnonzero(~index.loose_empty & (first_row >= 0))
    sample, sampled = neardup.sample_texts(candidates, neardup.SAMPLE_SIZE)
    space = index.loose_to_space[sample]
    sig = neardup.signatures(index.loose_offsets, index.loose_ids, space)
    pairs, sims = neardup.similar_pairs(sig)
    involved = sample[np.unique(pairs)] if len(pairs) else np.empty(0, dtype=np.int64)

    def text(i: int) -> str:
        return index.exact_uniques[int(index.exact_codes[first_row[sample[i]]])].as_py()

    def row(i: int) -> int:
        return int(rows[first_row[sample[i]]])

    section = {
        "ran": True,
        "method": f"MinHash ({neardup.NUM_PERM} hashes, word bigrams) + LSH "
        f"({neardup.BANDS} bands) over distinct loose texts",
        "threshold": neardup.THRESHOLD,
        "sampled": sampled,
        "sample_size": int(len(sample)),
        "population": int(len(candidates)),
        "pairs": int(len(pairs)),
        "texts_involved": int(len(involved)),
        "examples": _pair_examples(pairs, sims, text, text, row, row),
    }
    return section, involved, (sample, pairs, sims, text, row)


def _near_leakage(index: TextIndex, state: tuple, job: Any, valid: np.ndarray) -> dict:
    """Near copies across the split: loose texts that occur in both train and dev, and
    near-duplicate pairs (in the sample) with one text in train and the other in dev."""
    sample, pairs, sims, text, row = state
    n_loose = len(index.loose_empty)
    codes = index.loose_codes
    usable = valid & ~index.loose_empty[codes]
    in_train = np.bincount(codes[usable & job.train], minlength=n_loose) > 0
    in_dev = np.bincount(codes[usable & job.dev], minlength=n_loose) > 0
    same = np.flatnonzero(in_train & in_dev)
    if len(pairs):
        a, b = sample[pairs[:, 0]], sample[pairs[:, 1]]
        cross = (in_train[a] & in_dev[b]) | (in_dev[a] & in_train[b])
        pairs, sims = pairs[cross], sims[cross]
        a, b = a[cross], b[cross]
        dev_side = np.where(in_dev[b] & in_train[a], b, a)
    else:
        dev_side = np.empty(0, dtype=np.int64)
    dev_texts = np.union1d(same, dev_side)
    return {
        "ran": True,
        "sampled": len(sample) < int((~index.loose_empty).sum()),
        "unit": "pairs of distinct loose texts; dev texts = distinct loose texts in dev",
        "pairs": int(len(pairs)),
        "loose_copies": int(len(same)),
        "dev_texts_involved": int(len(dev_texts)),
        "examples": _pair_examples(pairs, sims, text, text, row, row),
    }
