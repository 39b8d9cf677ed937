"""``profile_frame``: profile a text dataset frame ("become one with the data").

Input: a frame with ``text``, ``label`` and optionally ``row`` (source row numbers), and
optionally a dev frame of the same shape. Output: a :class:`DatasetProfile` with every
section filled, plus per-row flags for the data browser (see :func:`row_flags`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from tuirecipe.data.profile import clusters as clusters_mod
from tuirecipe.data.profile.advice import build_advice, size_scale
from tuirecipe.data.profile.build import (
    Progress,
    _dev_section,
    _near_duplicates,
    _near_leakage,
    _Stages,
    _vocabulary,
    row_numbers,
)
from tuirecipe.data.profile.corrupted import extreme_length_mask, summarise, text_categories
from tuirecipe.data.profile.duplicates import conflict_level, duplicate_level
from tuirecipe.data.profile.labels import (
    LabelColumn,
    classification_section,
    encode_labels,
    regression_section,
)
from tuirecipe.data.profile.lengths import length_section
from tuirecipe.data.profile.model import FLAG_NAMES, DatasetProfile
from tuirecipe.data.profile.neardup import sample_texts
from tuirecipe.data.profile.normalize import TextIndex, build_text_index

LEVELS = ("exact", "case_space", "loose")
T = TypeVar("T")


def profile_frame(
    train: pd.DataFrame,
    *,
    task: str = "classification",
    dev: pd.DataFrame | None = None,
    max_len: int = 128,
    lowercase: bool = True,
    label_set: list[str] | None = None,
    near_duplicates: bool = True,
    clusters: bool = True,
    progress: Progress | None = None,
) -> DatasetProfile:
    """Profile ``train`` (and ``dev``); see the package docstring for what is measured."""
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    stages = _Stages(progress)
    n = len(train)
    rows = row_numbers(train)
    profile = DatasetProfile(
        task=task,
        options={
            "max_len": max_len,
            "lowercase": lowercase,
            "label_set": label_set,
            "near_duplicates": near_duplicates,
            "clusters": clusters,
        },
    )

    # One helper thread (the budget is two cores): pyarrow and numpy release the GIL, so
    # label encoding and the corrupted-text scan overlap the normalisation, and the sampled
    # near-duplicate and cluster stages overlap the exact statistics.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="profile")
    try:
        return _profile(
            train,
            profile,
            stages,
            pool,
            n,
            rows,
            task,
            dev,
            max_len,
            lowercase,
            label_set,
            near_duplicates,
            clusters,
        )
    finally:
        pool.shutdown(wait=True)


def _timed(fn: Callable[..., T], *args: Any) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn(*args)
    return result, round(time.perf_counter() - start, 4)


def _profile(
    train: pd.DataFrame,
    profile: DatasetProfile,
    stages: _Stages,
    pool: ThreadPoolExecutor,
    n: int,
    rows: np.ndarray,
    task: str,
    dev: pd.DataFrame | None,
    max_len: int,
    lowercase: bool,
    label_set: list[str] | None,
    near_duplicates: bool,
    clusters: bool,
) -> DatasetProfile:
    wall = time.perf_counter()
    label_future = pool.submit(
        _timed,
        encode_labels,
        train["label"] if "label" in train.columns else None,
        n,
        task,
        label_set,
    )
    scans: list[Future] = []
    stages.start("normalise")
    index = build_text_index(
        train["text"] if "text" in train.columns else pd.Series([None] * n),
        on_exact=lambda u: scans.append(pool.submit(_timed, text_categories, u)),
    )
    valid = ~index.blank

    stages.start("labels")
    labels, stages.timings["labels (helper thread)"] = label_future.result()
    background = pool.submit(
        _sampled_stages, index, rows, labels, task, near_duplicates, clusters, valid
    )
    profile.labels = (
        classification_section(labels) if task == "classification" else regression_section(labels)
    )

    stages.start("duplicates")
    exact_text = index.exact_uniques

    def text_of_row(i: int) -> str:
        return exact_text[int(index.exact_codes[i])].as_py()

    n_loose = len(index.loose_empty)
    level_codes = {
        "exact": (index.exact_codes, len(index.exact_uniques), valid),
        "case_space": (index.space_codes, len(index.space_uniques), valid),
        "loose": (index.loose_codes, n_loose, valid & ~index.loose_empty[index.loose_codes]),
    }
    flags = {name: np.zeros(n, dtype=bool) for name in FLAG_NAMES}
    for level, (codes, n_codes, usable) in level_codes.items():
        args = (codes, n_codes, usable, rows, text_of_row, labels.codes, labels.names)
        profile.duplicates[level], counts = duplicate_level(*args)
        profile.conflicts[level], conflicting = conflict_level(*args)
        if level == "case_space":
            flags["duplicate"] = usable & (counts[codes] > 1)
            flags["conflict"] = usable & conflicting[codes]

    stages.start("lengths")
    lengths = index.row_model_tokens()
    profile.lengths = length_section(
        lengths,
        index.row_ws_tokens(),
        valid,
        max_len,
        labels.codes if task == "classification" else None,
        labels.names,
    )
    flags["long"] = valid & (lengths > max_len)

    stages.start("corrupted")
    masks = {
        "missing_text": index.blank.copy(),
        "missing_label": labels.missing,
        "unknown_label": labels.unknown,
    }
    per_text_masks, stages.timings["corrupted scan (helper thread)"] = scans[0].result()
    for name, per_text in per_text_masks.items():
        masks[name] = per_text[index.exact_codes]
    masks["no_words"] = valid & index.loose_empty[index.loose_codes]
    masks["extreme_length"], cutoff = extreme_length_mask(lengths, valid)
    profile.corrupted = summarise(masks, rows)
    profile.corrupted["extreme_length"]["cutoff_tokens"] = cutoff
    flags["corrupted"] = np.logical_or.reduce(list(masks.values()))

    stages.start("vocabulary")
    vocab = _vocabulary(index, lowercase)
    scale, scale_advice = size_scale(int(valid.sum()))
    profile.size = {
        "rows": n + (len(dev) if dev is not None else 0),
        "train_rows": n,
        "dev_rows": len(dev) if dev is not None else 0,
        "usable_train_rows": int(valid.sum()),
        "classes": profile.labels.get("classes", 0),
        "vocab_size": len(vocab),
        "vocab_unit": "tokenizer tokens" + (", lowercased" if lowercase else ""),
        "dev_oov_rate": None,
        "scale": scale,
        "scale_advice": scale_advice,
    }

    dev_index = dev_rows = None
    if dev is not None:
        stages.start("dev")
        dev_index = build_text_index(
            dev["text"] if "text" in dev.columns else pd.Series([None] * len(dev))
        )
        dev_rows = row_numbers(dev)
        profile.size["dev_oov_rate"], profile.leakage = _dev_section(
            index, dev_index, vocab, lowercase, rows, dev_rows
        )
    else:
        profile.leakage = {"ran": False, "reason": "no dev set"}

    stages.start("sampled")
    (near, involved, state, near_s), (cluster_section, cluster_s) = background.result()
    stages.timings["near_duplicates (helper thread)"] = near_s
    stages.timings["clusters (helper thread)"] = cluster_s
    profile.near_duplicates, profile.clusters = near, cluster_section
    if near.get("ran") and dev_index is not None and dev_rows is not None:
        near["leakage"] = _near_leakage(index, state, dev_index, dev_rows)
    if involved is not None:
        flags["near_duplicate"] = valid & np.isin(index.loose_codes, involved)

    profile.timings = stages.done()
    profile.timings["wall"] = round(time.perf_counter() - wall, 4)
    profile.advice = build_advice(profile)
    profile.flags = flags
    return profile


def _sampled_stages(
    index: TextIndex,
    rows: np.ndarray,
    labels: LabelColumn,
    task: str,
    near_duplicates: bool,
    clusters: bool,
    valid: np.ndarray,
) -> tuple:
    """Near-duplicates and clusters (both on samples of large data), run in the helper."""
    start = time.perf_counter()
    if near_duplicates:
        near, involved, state = _near_duplicates(index, rows)
    else:
        near, involved, state = {"ran": False, "reason": "turned off"}, None, None
    near_s = round(time.perf_counter() - start, 4)
    start = time.perf_counter()
    if clusters:
        sample, sampled = sample_texts(np.flatnonzero(valid), clusters_mod.SAMPLE_SIZE, seed=2)
        section = clusters_mod.cluster_texts(
            index.exact_uniques.take(index.exact_codes[sample]).to_pylist(),
            label_codes=labels.codes[sample] if task == "classification" else None,
            label_names=labels.names,
            targets=labels.values[sample] if labels.values is not None else None,
            rows=rows[sample],
        )
        section.update(sampled=sampled, sample_size=int(len(sample)))
    else:
        section = {"ran": False, "reason": "turned off"}
    return (near, involved, state, near_s), (section, round(time.perf_counter() - start, 4))
