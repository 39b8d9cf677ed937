"""Building blocks of ``profile_frame``: stage timing/progress, vocabulary, dev comparison
and near-duplicate sections.

Each stage's wall time lands in ``profile.timings``. Near-duplicates work on a seeded
sample of large data and say so (``sampled``, ``sample_size``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tuirecipe.data.profile import neardup
from tuirecipe.data.profile.normalize import (
    TextIndex,
    _first_index,
    model_vocabulary,
    oov_rate,
    positions_in,
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
    "vocabulary": (0.6, "counting the vocabulary"),
    "dev": (0.65, "comparing with dev"),
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


def _vocabulary(index: TextIndex, lowercase: bool) -> pa.Array:
    return model_vocabulary(index, lowercase)


def _dev_section(
    train: TextIndex,
    dev: TextIndex,
    vocab: pa.Array,
    lowercase: bool,
    train_rows: np.ndarray,
    dev_rows: np.ndarray,
) -> tuple[float, dict]:
    """Dev out-of-vocabulary rate and dev rows whose case_space text is in train."""
    oov = oov_rate(dev, vocab, lowercase)
    train_code = positions_in(dev.space_uniques, train.space_uniques)
    row_code = train_code[dev.space_codes]
    leaked = (row_code >= 0) & ~dev.blank
    first_train = _first_index(train.space_codes, len(train.space_uniques))
    hits = np.flatnonzero(leaked)
    examples = [
        {
            "dev_row": int(dev_rows[i]),
            "train_row": int(train_rows[first_train[row_code[i]]]),
            "text": dev.exact_uniques[int(dev.exact_codes[i])].as_py()[:300],
        }
        for i in hits[:EXAMPLES]
    ]
    return oov, {
        "ran": True,
        "level": "case_space",
        "dev_rows_in_train": int(len(hits)),
        "dev_share": float(len(hits) / max(1, int((~dev.blank).sum()))),
        "examples": examples,
    }


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
    return section, involved, (sample, sig, text, row)


def _near_leakage(index: TextIndex, state: tuple, dev: TextIndex, dev_rows: np.ndarray) -> dict:
    """Train↔dev near-duplicate pairs between the train sample and a dev sample."""
    sample, sig, text, row = state
    mapped = pc.index_in(dev.loose_vocab, value_set=index.loose_vocab).to_numpy(
        zero_copy_only=False
    )
    mapped = np.asarray(pd.Series(mapped).fillna(-1), dtype=np.int64)
    unseen = mapped < 0
    mapped[unseen] = len(index.loose_vocab) + np.arange(int(unseen.sum()))
    dev_ids = mapped[dev.loose_ids] if len(dev.loose_ids) else dev.loose_ids
    dev_first = _first_index(dev.loose_codes, len(dev.loose_empty))
    dev_cand = np.flatnonzero(~dev.loose_empty & (dev_first >= 0))
    dev_sample, dev_sampled = neardup.sample_texts(dev_cand, neardup.SAMPLE_SIZE // 5, seed=1)
    dev_sig = neardup.signatures(dev.loose_offsets, dev_ids, dev.loose_to_space[dev_sample])
    pairs, sims = neardup.similar_pairs(np.concatenate([sig, dev_sig]))
    cross = (pairs[:, 0] < len(sample)) & (pairs[:, 1] >= len(sample))
    pairs, sims = pairs[cross], sims[cross]
    pairs[:, 1] -= len(sample)

    def dev_text(j: int) -> str:
        return dev.exact_uniques[int(dev.exact_codes[dev_first[dev_sample[j]]])].as_py()

    def dev_row(j: int) -> int:
        return int(dev_rows[dev_first[dev_sample[j]]])

    return {
        "ran": True,
        "sampled": dev_sampled or len(sample) < len(index.loose_empty),
        "dev_sample_size": int(len(dev_sample)),
        "pairs": int(len(pairs)),
        "dev_texts_involved": int(len(np.unique(pairs[:, 1]))) if len(pairs) else 0,
        "examples": _pair_examples(pairs, sims, text, dev_text, row, dev_row),
    }
