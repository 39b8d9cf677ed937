"""Seeded train/dev splits and k folds: stratified for classification, shuffled otherwise.

Both functions return arrays of row indices, sorted, so a dev set keeps file order and the
same seed always gives the same split. scikit-learn is imported inside the functions so
that importing :mod:`tuirecipe.data` stays fast.

Given ``groups`` (one integer code per row, equal for copies of one text: see
:func:`split_group_codes` and ``data.split_groups``), every group lands on one side of the
split and in one fold, so no dev or validation row has a copy in training. Without
``groups`` rows are split one by one, as before.

Groups of two or more rows are placed whole, class by class (seeded systematic
sampling: :func:`_circle_positions`); the rows with a text of their own then even out
each class's share of dev and of each fold. A set without copies gets exactly the split
it gets without groups (scikit-learn's). This is numpy rather than scikit-learn's
``StratifiedGroupKFold``, which loops in Python over every row and group (measured here:
30 s for 100,000 rows, 78 s for 200,000) and has no dev fraction; ``GroupShuffleSplit``
ignores the labels.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from tuirecipe.config import SPLIT_GROUPS


def _dev_size(n: int, dev_fraction: float) -> int:
    return min(n - 1, max(1, math.ceil(n * dev_fraction)))


def split_group_codes(texts: pd.Series | Sequence[str], level: str) -> np.ndarray | None:
    """The ``groups`` argument of the split functions for ``data.split_groups = level``.

    ``"case_space"``: texts equal after lowercasing and collapsing whitespace are one group
    (the profile's ``case_space`` level); ``"exact"``: identical texts; ``"none"``: no
    grouping (``None``), rows are split one by one.
    """
    if level not in SPLIT_GROUPS:
        raise ValueError(f"split_groups must be one of {', '.join(SPLIT_GROUPS)}, got {level!r}")
    if level == "none":
        return None
    from tuirecipe.data.profile.normalize import text_group_codes

    return text_group_codes(texts, level)


def split_overlap(
    train_texts: pd.Series | Sequence[str], dev_texts: pd.Series | Sequence[str]
) -> dict[str, int]:
    """How many dev rows have a copy in training: ``{"exact": n, "case_space": n}``.

    A leak-free split (``data.split_groups = "case_space"``) gives 0 for both.
    """
    from tuirecipe.data.profile.normalize import text_codes_by_level

    train = pd.Series(train_texts, dtype=object, copy=False)
    both = pd.concat([train, pd.Series(dev_texts, dtype=object, copy=False)], ignore_index=True)
    rows = np.arange(len(both))
    return overlap_from_codes(text_codes_by_level(both), rows[: len(train)], rows[len(train) :])


def overlap_from_codes(
    codes: dict[str, np.ndarray], train: np.ndarray, dev: np.ndarray
) -> dict[str, int]:
    """:func:`split_overlap` from per-row group codes already at hand, by level (e.g. a
    profile's ``{"exact": index.exact_codes, "case_space": index.space_codes}``) and the
    split's row indices."""
    out: dict[str, int] = {}
    for level, level_codes in codes.items():
        in_train = np.zeros(int(level_codes.max()) + 1 if len(level_codes) else 0, dtype=bool)
        in_train[level_codes[train]] = True
        out[level] = int(in_train[level_codes[dev]].sum())
    return out


def stratified_split(
    labels: np.ndarray | Sequence | pd.Series,
    dev_fraction: float,
    seed: int,
    task: str,
    groups: np.ndarray | Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, dev)`` with ``dev`` about ``dev_fraction`` of the rows.

    Classification: each class keeps its share in dev (scikit-learn's stratified split).
    A class with a single example cannot be in both splits, so it goes to train. When the
    dev set is too small to hold every class, the split falls back to a plain shuffle.
    Either way every class keeps a row in train (a class only in dev could not be
    learned, and training refuses a dev label it never saw). Regression: a plain seeded
    shuffle. With fewer than 2 rows, dev is empty.

    With ``groups``, each group goes to one side whole (see :func:`_grouped_split`).
    """
    if task == "classification":
        # Class ids in sorted label order stand for the labels from here on: the same
        # split, without hashing a million strings again at every step.
        labels = _class_ids(labels)[0]
    train, dev = _split(labels, dev_fraction, seed, task, groups)
    if task != "classification" or not len(dev):
        return train, dev
    return _every_class_in_train(np.asarray(labels), train, dev, groups)


def _every_class_in_train(
    y: np.ndarray,
    train: np.ndarray,
    dev: np.ndarray,
    groups: np.ndarray | Sequence[int] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Move back to train one dev row (with its whole group) of each class that has no
    training row."""
    cls, n_classes = _class_ids(y)
    missing = (np.bincount(cls[train], minlength=n_classes) == 0) & (
        np.bincount(cls[dev], minlength=n_classes) > 0
    )
    if not missing.any():
        return train, dev
    # the first dev row of each such class (dev is sorted: deterministic)
    first = np.unique(cls[dev], return_index=True)
    back = dev[first[1][missing[first[0]]]]
    move = np.isin(dev, back)
    if groups is not None:
        gid = _group_ids(groups, len(y))
        move = np.isin(gid[dev], gid[back])
    train = np.sort(np.concatenate([train, dev[move]])).astype(np.int64)
    return train, dev[~move]


def _split(
    labels: np.ndarray | Sequence,
    dev_fraction: float,
    seed: int,
    task: str,
    groups: np.ndarray | Sequence[int] | None,
) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels)
    n = len(y)
    if n < 2:
        return np.arange(n, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if not 0.0 < dev_fraction < 1.0:
        raise ValueError(f"dev_fraction must be between 0 and 1, got {dev_fraction}")
    if groups is not None:
        return _grouped_split(y, _group_ids(groups, n), dev_fraction, seed, task)
    rng = np.random.default_rng(seed)
    if task != "classification":
        order = rng.permutation(n)
        n_dev = _dev_size(n, dev_fraction)
        return np.sort(order[n_dev:]).astype(np.int64), np.sort(order[:n_dev]).astype(np.int64)

    from sklearn.model_selection import train_test_split

    inverse, _ = _class_ids(y)
    counts = np.bincount(inverse)
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
    labels: np.ndarray | Sequence,
    k: int,
    seed: int,
    task: str = "classification",
    groups: np.ndarray | Sequence[int] | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` seeded ``(train, held_out)`` index pairs covering every row once.

    Stratified for classification (classes rarer than ``k`` simply miss some folds);
    a shuffled k-fold for regression. With ``groups``, each group is held out in exactly
    one fold, and ``k`` may not exceed the number of groups.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    y = np.asarray(labels)
    if groups is not None:
        return _grouped_kfold(y, _group_ids(groups, len(y)), k, seed, task)
    if not 2 <= k <= len(y):
        raise ValueError(f"k must be between 2 and the number of rows ({len(y)}), got {k}")
    if task == "classification":
        inverse, _ = _class_ids(y)
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


# ---------------------------------------------------------------------------------------
# grouped splits


def _group_ids(groups: np.ndarray | Sequence[int], n: int) -> np.ndarray:
    """Dense group ids ``0..G-1`` (in order of first appearance) from any per-row codes."""
    codes = np.asarray(groups)
    if len(codes) != n:
        raise ValueError(f"groups has {len(codes)} entries for {n} rows")
    return pd.factorize(codes)[0].astype(np.int64)


def _circle_positions(
    strata: np.ndarray, sizes: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Where each group sits, in ``[0, 1)``, on the circle of its stratum.

    The groups of a stratum are laid end to end in a random order, each as long as its
    row count, the whole scaled to length 1 and turned by a random angle; a group's
    position is its midpoint. Any arc of length ``f`` then holds about ``f`` of the
    stratum's rows, and each group lands in it with probability about ``f``, whatever
    its size. (Systematic sampling: no loop over groups.)
    """
    m = len(sizes)
    if m == 0:
        return np.zeros(0)
    n_strata = int(strata.max()) + 1
    order = _random_order_by_class(strata, rng)
    s_sorted = sizes[order].astype(np.float64)
    st_sorted = strata[order]
    totals = np.bincount(strata, weights=sizes, minlength=n_strata)
    offsets = np.concatenate([[0.0], np.cumsum(totals)[:-1]])
    before = np.cumsum(s_sorted) - s_sorted - offsets[st_sorted]
    mid = (before + s_sorted / 2) / totals[st_sorted]
    turned = (mid + rng.random(n_strata)[st_sorted]) % 1.0
    pos = np.empty(m)
    pos[order] = turned
    return pos


def _majority_labels(
    gid: np.ndarray, y: np.ndarray, n_classes: int, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the groups of ``rows``: ``(groups, majority class, distinct classes per group)``."""
    key = gid[rows] * n_classes + y[rows]
    pairs, counts = np.unique(key, return_counts=True)
    pair_group, pair_class = pairs // n_classes, pairs % n_classes
    order = np.lexsort((-counts, pair_group))  # per group, the most frequent class first
    first = order[np.r_[True, pair_group[order][1:] != pair_group[order][:-1]]]
    return pair_group[first], pair_class[first], pair_class


def _class_ids(y: np.ndarray | Sequence | pd.Series) -> tuple[np.ndarray, int]:
    """Class ids in sorted label order (as ``np.unique``'s inverse), by hashing: O(n).
    (A pandas column of arrow strings is hashed by pyarrow, without Python strings.)"""
    codes, uniques = pd.factorize(y if isinstance(y, pd.Series) else np.asarray(y))
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[np.argsort(np.asarray(uniques), kind="stable")] = np.arange(len(uniques))
    return rank[codes], len(uniques)


def _group_strata(
    gid: np.ndarray, cls: np.ndarray | None, n_groups: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group: its row count, stratum (majority class; 0 for regression) and ``lonely``.

    ``cls`` is the rows' class ids (``None`` for regression). ``lonely`` marks groups
    holding a row of a class whose rows all sit in that one group: such a class cannot be
    on both sides, so the group goes to train.
    """
    sizes = np.bincount(gid, minlength=n_groups)
    strata = np.zeros(n_groups, dtype=np.int64)
    lonely = np.zeros(n_groups, dtype=bool)
    if cls is None:
        return sizes, strata, lonely
    n_classes = int(cls.max()) + 1
    strata[gid] = cls  # right for groups of one row; groups of several are set below
    multi_rows = np.flatnonzero(sizes[gid] > 1)
    per_class = np.bincount(cls[sizes[gid] == 1], minlength=n_classes)
    if len(multi_rows):
        groups, majority, pair_classes = _majority_labels(gid, cls, n_classes, multi_rows)
        strata[groups] = majority
        per_class += np.bincount(pair_classes, minlength=n_classes)
    lonely_class = per_class == 1
    lonely[gid[lonely_class[cls]]] = True
    return sizes, strata, lonely


def _grouped_split(
    y: np.ndarray, gid: np.ndarray, dev_fraction: float, seed: int, task: str
) -> tuple[np.ndarray, np.ndarray]:
    """Train/dev with each group on one side.

    Groups of several rows are placed whole, per class (a group's class is its majority
    label), each going to dev with probability ``dev_fraction``
    (:func:`_circle_positions`), except one larger than the whole dev set, which stays in
    train. The single rows then fill dev up to ``dev_fraction`` of the rows: class by
    class, to even out what the groups left uneven; when no group went to dev (always so
    for a set without copies), by scikit-learn's stratified split as without groups.
    """
    n_groups = int(gid.max()) + 1
    cls = _class_ids(y)[0] if task == "classification" else None
    sizes, strata, lonely = _group_strata(gid, cls, n_groups)
    rng = np.random.default_rng(seed)
    group_rng = np.random.default_rng((seed, 1))  # leaves rng as the ungrouped split uses it
    pool = ~lonely
    if pool.sum() < 2:
        return np.arange(len(y), dtype=np.int64), np.zeros(0, dtype=np.int64)
    n_dev = _dev_size(int(sizes[pool].sum()), dev_fraction)
    to_dev = np.zeros(n_groups, dtype=bool)

    multi = np.flatnonzero(pool & (sizes > 1))
    _, dense_strata = np.unique(strata[multi], return_inverse=True)
    pos = _circle_positions(dense_strata.reshape(-1), sizes[multi], group_rng)
    to_dev[multi[(pos < dev_fraction) & (sizes[multi] <= n_dev)]] = True

    singles = np.flatnonzero(pool[gid] & (sizes[gid] == 1))
    n_single_dev = min(n_dev - int(sizes[to_dev].sum()), len(singles))
    if n_single_dev == len(singles):
        to_dev[gid[singles]] = True
    elif n_single_dev > 0 and cls is not None and to_dev.any():
        # The groups left some classes above their share of dev and some below: the
        # single rows make up the difference, class by class.
        pool_rows = pool[gid]
        n_classes = int(cls.max()) + 1
        ideal = n_dev * np.bincount(cls[pool_rows], minlength=n_classes) / pool_rows.sum()
        placed = np.bincount(cls[to_dev[gid]], minlength=n_classes)
        available = np.bincount(cls[singles], minlength=n_classes)
        counts = _allocate(n_single_dev, np.maximum(ideal - placed, 0.0), available)
        to_dev[gid[_pick_per_class(cls[singles], singles, counts, group_rng)]] = True
    elif n_single_dev > 0:
        to_dev[gid[_single_rows_to_dev(cls, singles, n_single_dev, seed, rng)]] = True

    _fix_empty_side(to_dev, pool, sizes, group_rng)
    dev_rows = to_dev[gid]
    return np.flatnonzero(~dev_rows).astype(np.int64), np.flatnonzero(dev_rows).astype(np.int64)


def _single_rows_to_dev(
    cls: np.ndarray | None,
    singles: np.ndarray,
    n_dev: int,
    seed: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """``n_dev`` of the rows ``singles`` for dev, stratified by the class ids ``cls``
    (the ungrouped split's way), shuffled when ``cls`` is ``None`` (regression)."""
    if cls is not None:
        from sklearn.model_selection import train_test_split

        strata = _stratify_labels(cls[singles])
        try:
            return train_test_split(singles, test_size=n_dev, random_state=seed, stratify=strata)[1]
        except ValueError:  # fewer dev slots than classes: stratifying is impossible
            pass
    return rng.permutation(singles)[:n_dev]


def _allocate(total: int, wanted: np.ndarray, available: np.ndarray) -> np.ndarray:
    """``total`` rows shared among classes as close to ``wanted`` as ``available`` allows.

    Each class first gets the whole part of what it wants; the rest go one by one to the
    classes that fall furthest short (largest remainders), ties to the lower class id.
    """
    if wanted.sum() > total:
        wanted = wanted * (total / wanted.sum())
    counts = np.minimum(np.floor(wanted).astype(np.int64), available)
    left = total - int(counts.sum())
    if left <= 0:
        return counts
    room = np.minimum(available - counts, left)
    units = np.repeat(np.arange(len(room)), room)
    rank = np.arange(len(units)) - np.repeat(np.cumsum(room) - room, room)
    shortfall = wanted[units] - counts[units] - rank
    chosen = units[np.argsort(-shortfall, kind="stable")[:left]]
    return counts + np.bincount(chosen, minlength=len(room))


def _random_order_by_class(cls: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices that sort ``cls`` (small non-negative ints), in random order within a class."""
    return np.argsort(cls + rng.random(len(cls)))


def _pick_per_class(
    cls: np.ndarray, rows: np.ndarray, counts: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """``counts[c]`` rows drawn at random from the ``rows`` of class ``c`` (``cls``)."""
    order = _random_order_by_class(cls, rng)
    sorted_cls = cls[order]
    starts = np.searchsorted(sorted_cls, np.arange(len(counts)))
    rank = np.arange(len(rows)) - starts[sorted_cls]
    return rows[order[rank < counts[sorted_cls]]]


def _deal_per_class(cls: np.ndarray, placed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A fold for each single row (of class ``cls``) so every class ends up about evenly
    over the folds, given ``placed[c, f]`` grouped rows of class ``c`` already in fold
    ``f``: each class's single rows go where its folds fall short of an equal share
    (largest remainders, ties broken at random)."""
    n_classes, k = placed.shape
    available = np.bincount(cls, minlength=n_classes)
    total = placed.sum(axis=1) + available
    short = np.maximum(total[:, None] / k - placed, 0.0)
    short_sum = short.sum(axis=1, keepdims=True)
    share = np.where(
        short_sum > 0,
        short * available[:, None] / np.where(short_sum > 0, short_sum, 1.0),
        available[:, None] / k,
    )
    counts = np.floor(share).astype(np.int64)
    left = available - counts.sum(axis=1)
    order = np.lexsort((rng.random(share.shape), counts - share), axis=1)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(k)[None, :].repeat(n_classes, 0), axis=1)
    counts += rank < left[:, None]

    order_rows = _random_order_by_class(cls, rng)
    sorted_cls = cls[order_rows]
    rank_in_class = np.arange(len(cls)) - (np.cumsum(available) - available)[sorted_cls]
    bounds = np.cumsum(counts, axis=1)[sorted_cls]
    out = np.empty(len(cls), dtype=np.int64)
    out[order_rows] = (rank_in_class[:, None] >= bounds).sum(axis=1)
    return out


def _stratify_labels(labels: np.ndarray) -> np.ndarray:
    """Class ids for a stratified split, with classes of one row pooled together.

    scikit-learn refuses a class of one; here one can arise when the other rows of the
    class are in groups. The pooled rows form one stratum, joined to the largest class
    when they are a single row.
    """
    cls, _ = _class_ids(labels)
    counts = np.bincount(cls)
    rare = counts[cls] == 1
    if rare.sum() == 1:
        cls = np.where(rare, int(counts.argmax()), cls)
    elif rare.any():
        cls = np.where(rare, len(counts), cls)
    return cls


def _fix_empty_side(
    to_dev: np.ndarray, pool: np.ndarray, sizes: np.ndarray, rng: np.random.Generator
) -> None:
    """Move a smallest group so neither side is empty (the pool holds two or more groups)."""
    if not to_dev.any():
        candidates = np.flatnonzero(pool & (sizes == sizes[pool].min()))
        to_dev[rng.choice(candidates)] = True
    if to_dev.all():
        candidates = np.flatnonzero(sizes == sizes.min())
        to_dev[rng.choice(candidates)] = False


def _grouped_kfold(
    y: np.ndarray, gid: np.ndarray, k: int, seed: int, task: str
) -> list[tuple[np.ndarray, np.ndarray]]:
    """k folds with each group in one fold.

    Groups of several rows are dealt out per class (majority label) around
    :func:`_circle_positions`, so each fold gets about ``1/k`` of every class's grouped
    rows; the single rows then even out each class in each fold
    (:func:`_deal_per_class`). A set without copies is folded by scikit-learn as
    without groups.
    """
    n_groups = int(gid.max()) + 1 if len(gid) else 0
    if not 2 <= k <= n_groups:
        raise ValueError(
            f"k must be between 2 and the number of distinct texts ({n_groups}), got {k}"
        )
    cls = _class_ids(y)[0] if task == "classification" else None
    sizes, strata, _ = _group_strata(gid, cls, n_groups)
    group_rng = np.random.default_rng((seed, 1))
    fold = np.zeros(n_groups, dtype=np.int64)

    singles = np.flatnonzero(sizes[gid] == 1)
    multi = np.flatnonzero(sizes > 1)
    if len(singles) < k:  # too few to even anything out: dealt out like the groups
        multi, singles = np.flatnonzero(sizes > 0), singles[:0]
    _, dense_strata = np.unique(strata[multi], return_inverse=True)
    pos = _circle_positions(dense_strata.reshape(-1), sizes[multi], group_rng)
    fold[multi] = np.minimum((pos * k).astype(np.int64), k - 1)
    if len(singles) and not len(multi):
        labels = y if cls is None else cls  # class ids: no sort of strings
        for i, (_, held) in enumerate(stratified_kfold(labels, k, seed, task)):
            fold[gid[held]] = i
    elif len(singles):
        row_class = np.zeros(len(gid), dtype=np.int64) if cls is None else cls
        n_classes = int(row_class.max()) + 1
        grouped = np.flatnonzero(sizes[gid] > 1)
        cell = row_class[grouped] * k + fold[gid[grouped]]
        placed = np.bincount(cell, minlength=n_classes * k).reshape(n_classes, k)
        fold[gid[singles]] = _deal_per_class(row_class[singles], placed, group_rng)

    counts = np.bincount(fold, minlength=k)
    for empty in np.flatnonzero(counts == 0):  # possible with very uneven group sizes
        donor = int(counts.argmax())
        members = np.flatnonzero(fold == donor)
        moved = members[np.argmin(sizes[members])]
        fold[moved] = empty
        counts[donor] -= 1
        counts[empty] += 1

    row_fold = fold[gid]
    return [
        (np.flatnonzero(row_fold != i).astype(np.int64), np.flatnonzero(row_fold == i))
        for i in range(k)
    ]
