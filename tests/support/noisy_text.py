"""A small text dataset whose classes are plain from their words, and seeded label flips:
the label-noise tests' ground truth (which rows are wrong is known)."""

from __future__ import annotations

import numpy as np

CLASSES = ("sport", "money", "science")
# Each class has its own words; every text also holds shared filler words.
WORDS = {
    "sport": "goal match team coach league score player season stadium cup".split(),
    "money": "bank market shares profit stocks investor rates trade bond price".split(),
    "science": "cell genome physics orbit telescope atom protein climate lab quantum".split(),
}
FILLER = "the a of on in today report says new after".split()


def separable(n_per_class: int = 80, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Texts whose class is plain from their words: a clean, separable dataset."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for label in CLASSES:
        for _ in range(n_per_class):
            words = list(rng.choice(WORDS[label], 5)) + list(rng.choice(FILLER, 3))
            rng.shuffle(words)
            texts.append(" ".join(words))
            labels.append(label)
    return texts, np.asarray(labels, dtype=object)


def flip(labels: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``labels`` with ``share`` of them moved to another class (seeded), and which."""
    rng = np.random.default_rng(seed)
    flipped = np.zeros(len(labels), dtype=bool)
    flipped[rng.choice(len(labels), int(round(share * len(labels))), replace=False)] = True
    classes = np.asarray(sorted(set(labels)), dtype=object)
    ids = np.searchsorted(classes, labels)
    shift = rng.integers(1, len(classes), len(labels))
    noisy = np.where(flipped, classes[(ids + shift) % len(classes)], labels)
    return noisy, flipped
