"""Seeded train/dev splits and k folds: stratified for classification, shuffled otherwise.

Both functions return arrays of row indices, sorted, so a dev set keeps file order and the
same seed always gives the same split. scikit-learn is imported inside the functions so
that importing :mod:`tuirecipe.data` stays fast.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np


def _dev_size(n: int, dev_fraction: float) -> int:
    return min(n - 1, max(1, math.ceil(n * dev_fraction)))


def stratified_split(
    labels: np.ndarray | Sequence, dev_fraction: float, seed: int, task: str
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, dev)`` with ``dev`` about ``dev_fraction`` of the rows.

    Classification: each class keeps its share in dev (scikit-learn's stratified split).
    A class with a single example cannot be in both splits, so it goes to train. When the
    dev set is too small to hold every class, the split falls back to a plain shuffle.
    Regression: a plain seeded shuffle. With fewer than 2 rows, dev is empty.
    """
    y = np.asarray(labels)
    n = len(y)
    if n < 2:
        return np.arange(n, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if not 0.0 < dev_fraction < 1.0:
        raise ValueError(f"dev_fraction must be between 0 and 1, got {dev_fraction}")
    rng = np.random.default_rng(seed)
    if task != "classification":
        order = rng.permutation(n)
        n_dev = _dev_size(n, dev_fraction)
        return np.sort(order[n_dev:]).astype(np.int64), np.sort(order[:n_dev]).astype(np.int64)

    from sklearn.model_selection import train_test_split

    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    single = counts[inverse] == 1
    always_train = np.flatnonzero(single)
    pool = np.flatnonzero(~single)
    if len(pool) < 2:
        return np.arange(n, dtype=np.int64), np.zeros(0, dtype=np.int64)
    n_dev = _dev_size(len(pool), dev_fraction)
    try:
        train, dev = train_test_split(
            pool, test_size=n_dev, random_state=seed, stratify=inverse[pool]
        )
    except ValueError:  # fewer dev slots than classes: stratifying is impossible
        order = rng.permutation(pool)
        train, dev = order[n_dev:], order[:n_dev]
    train = np.concatenate([train, always_train])
    return np.sort(train).astype(np.int64), np.sort(dev).astype(np.int64)


def stratified_kfold(
    labels: np.ndarray | Sequence, k: int, seed: int, task: str = "classification"
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` seeded ``(train, held_out)`` index pairs covering every row once.

    Stratified for classification (classes rarer than ``k`` simply miss some folds);
    a shuffled k-fold for regression.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    y = np.asarray(labels)
    if not 2 <= k <= len(y):
        raise ValueError(f"k must be between 2 and the number of rows ({len(y)}), got {k}")
    if task == "classification":
        _, inverse = np.unique(y, return_inverse=True)
        if np.bincount(inverse).max() >= k:
            splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "least populated class" note
                folds = list(splitter.split(np.zeros(len(y)), inverse))
            return [(np.sort(a).astype(np.int64), np.sort(b).astype(np.int64)) for a, b in folds]
    splitter = KFold(n_splits=k, shuffle=True, random_state=seed)
    return [
        (np.sort(a).astype(np.int64), np.sort(b).astype(np.int64))
        for a, b in splitter.split(np.zeros(len(y)))
    ]
