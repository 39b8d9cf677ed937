"""Small synthetic datasets shaped like ``tuirecipe.data.prepare.PreparedData``.

Classification: each class owns a band of token ids; a row mixes tokens of its class with
noise tokens, so a bag of words learns it. Regression: the target is the share of "high"
tokens in the row, times 10 plus 5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class Vocab:
    pad_id = 0
    unk_id = 1

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def decode(self, ids) -> str:
        return " ".join(f"w{int(i)}" for i in ids if int(i) != self.pad_id)


@dataclass
class Split:
    ids: np.ndarray
    lengths: np.ndarray
    targets: np.ndarray
    texts: list
    rows: np.ndarray
    truncated: int = 0
    unk_rate: float = 0.0


@dataclass
class Data:
    task: str
    train: Split
    dev: Split
    vocab: Vocab
    label_names: list
    target_mean: float
    target_std: float
    class_counts: list
    max_len: int


def _split(rng, n, task, num_classes, vocab_size, max_len, min_len, priors, row0):
    band = (vocab_size - 2) // (num_classes + 1)
    lengths = rng.integers(min_len, max_len + 1, size=n)
    ids = np.zeros((n, max(int(lengths.max()), 1)), dtype=np.int64)
    if task == "classification":
        targets = rng.choice(num_classes, size=n, p=priors).astype(np.int64)
    else:
        targets = np.zeros(n, dtype=np.float32)
    for r in range(n):
        length = int(lengths[r])
        if task == "classification":
            c = int(targets[r])
            signal = rng.integers(2 + band * (c + 1), 2 + band * (c + 2), size=length)
            noise = rng.integers(2, 2 + band, size=length)
            ids[r, :length] = np.where(rng.random(length) < 0.6, signal, noise)
        else:
            ids[r, :length] = rng.integers(2, vocab_size, size=length)
            high = (ids[r, :length] >= vocab_size // 2).mean() if length else 0.0
            targets[r] = 10.0 * high + 5.0
    texts = [" ".join(f"w{i}" for i in row[:l]) for row, l in zip(ids, lengths)]
    return Split(ids, lengths.astype(np.int64), targets, texts, np.arange(row0, row0 + n))


def make_data(
    task: str = "classification",
    *,
    n_train: int = 256,
    n_dev: int = 128,
    num_classes: int = 2,
    vocab_size: int = 60,
    max_len: int = 12,
    min_len: int = 1,
    priors=None,
    seed: int = 0,
) -> Data:
    rng = np.random.default_rng(seed)
    if priors is None:
        priors = [1.0 / num_classes] * num_classes
    args = (task, num_classes, vocab_size, max_len, min_len, priors)
    train = _split(rng, n_train, *args, row0=0)
    dev = _split(rng, n_dev, *args, row0=n_train)
    if task == "classification":
        counts = np.bincount(train.targets, minlength=num_classes).tolist()
        names = [f"class{c}" for c in range(num_classes)]
        mean = std = 0.0
    else:
        counts, names = [], []
        mean, std = float(train.targets.mean()), float(train.targets.std())
    return Data(task, train, dev, Vocab(vocab_size), names, mean, std, counts, max_len)
