"""``profile_frame``: profile a text dataset frame ("become one with the data").

Input: a frame with ``text``, ``label`` and optionally ``row`` (source row numbers), and
optionally a dev frame of the same shape. Output: a :class:`DatasetProfile` with every
section filled, plus per-row flags for the data browser (see :func:`row_flags`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from tuirecipe.data.profile import clusters as clusters_mod
from tuirecipe.data.profile.advice import build_advice, size_scale
from tuirecipe.data.profile.build import (
    Progress,
    _near_duplicates,
    _near_leakage,
    _Stages,
    _train_vocabulary,
    row_lines,
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
from tuirecipe.data.profile.normalize import (
    TextCodes,
    TextIndex,
    build_text_index,
    encode_levels,
)
from tuirecipe.data.profile.regression import default_tolerance, regression_conflicts
from tuirecipe.data.profile.shortcut import length_shortcut
from tuirecipe.data.profile.split_view import leakage_section, skipped_section, split_sections
from tuirecipe.data.profile.unicode import counted_words, unicode_section

LEVELS = ("exact", "case_space", "loose")
_DUPLICATE_UNITS = (
    "surplus rows = rows minus distinct texts (what de-duplicating removes); "
    "repeated texts = distinct texts seen more than once; rows in groups = every row of "
    "a repeated text"
)
_CONFLICT_UNITS = (
    "conflicting texts = distinct texts seen with more than one label; rows = every row "
    "of such a text"
)
T = TypeVar("T")


SPLIT_NAMES = ("train", "dev")


def profile_frame(
    frame: pd.DataFrame,
    *,
    task: str = "classification",
    dev: pd.DataFrame | None = None,
    split: np.ndarray | None = None,
    max_len: int = 128,
    lowercase: bool = True,
    label_set: list[str] | None = None,
    near_duplicates: bool = True,
    clusters: bool = True,
    scope: str | None = None,
    skipped: list[dict[str, Any]] | None = None,
    text_codes: TextCodes | None = None,
    cluster_features: Any = None,
    cluster_encoder: dict[str, str] | None = None,
    progress: Progress | None = None,
) -> DatasetProfile:
    """Profile every row of ``frame``, then each split.

    ``split`` gives each row's split (0 = train, 1 = dev), e.g. how training will split
    the file; ``dev`` is a separate dev frame, profiled as rows after ``frame``'s (the
    flags then cover ``frame`` + ``dev`` in that order). Without either, the whole frame
    is the training data. ``scope`` says in words what the rows are (the file, or the
    train file + the dev file); ``skipped`` lists the rows the loader left out
    (``row``, ``line``, ``reason``), which are in no split. ``text_codes``: the texts'
    :func:`~tuirecipe.data.profile.normalize.encode_levels`, when the caller has them.
    ``cluster_features``: texts -> matrix, replacing TF-IDF as the cluster features (a
    pretrained encoder's embeddings); ``cluster_encoder`` names that encoder (path and
    files' hash) in the options, so a cached profile is keyed by it.
    """
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    if dev is not None:
        if split is not None:
            raise ValueError("pass either dev or split, not both")
        n_train = len(frame)
        cols = [c for c in ("text", "label", "row", "line") if c in frame.columns]
        frame = pd.concat(
            [frame[cols].reset_index(drop=True), dev[cols].reset_index(drop=True)],
            ignore_index=True,
        )
        if "row" not in cols:  # row numbers count from 1 in each frame
            frame["row"] = np.concatenate(
                [np.arange(1, n_train + 1), np.arange(1, len(frame) - n_train + 1)]
            )
        split = np.concatenate(
            [np.zeros(n_train, dtype=np.int8), np.ones(len(frame) - n_train, dtype=np.int8)]
        )
    has_split = split is not None
    split_codes = (
        np.zeros(len(frame), dtype=np.int8) if split is None else np.asarray(split, np.int8)
    )
    if len(split_codes) != len(frame):
        raise ValueError(f"split has {len(split_codes)} entries for {len(frame)} rows")
    stages = _Stages(progress)
    profile = DatasetProfile(
        task=task,
        options={
            "max_len": max_len,
            "lowercase": lowercase,
            "label_set": label_set,
            "near_duplicates": near_duplicates,
            "clusters": clusters,
            "cluster_encoder": cluster_encoder,
        },
    )
    # Two helper threads (the budget is two cores): pyarrow and numpy release the GIL, so
    # label encoding and the corrupted-text scan overlap the normalisation, and the
    # vocabulary and the sampled near-duplicate and cluster stages overlap the exact
    # statistics (and each other).
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="profile")
    try:
        return _profile(
            _Job(frame, split_codes, has_split, task, max_len, lowercase, label_set),
            profile,
            stages,
            pool,
            near_duplicates,
            clusters,
            scope,
            skipped or [],
            None if dev is not None else text_codes,
            cluster_features,
        )
    finally:
        pool.shutdown(wait=True)


class _Job:
    """The rows being profiled and how they are split."""

    def __init__(
        self,
        frame: pd.DataFrame,
        split: np.ndarray,
        has_split: bool,
        task: str,
        max_len: int,
        lowercase: bool,
        label_set: list[str] | None,
    ) -> None:
        self.frame = frame
        self.n = len(frame)
        self.rows = row_numbers(frame)
        self.split = split
        self.has_split = has_split
        self.task = task
        self.max_len = max_len
        self.lowercase = lowercase
        self.label_set = label_set
        self.train = split == 0
        self.dev = split == 1
        self.lines = row_lines(frame)


def _timed(fn: Callable[..., T], *args: Any) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn(*args)
    return result, round(time.perf_counter() - start, 4)


def _unicode_of(codes: TextCodes, rows: np.ndarray, lines: np.ndarray | None) -> dict[str, Any]:
    valid = ~codes.blank()

    def word_counts() -> tuple[Any, np.ndarray]:  # from the index's words, when needed
        words = codes.words()
        space_rows = np.bincount(
            codes.by_level(["case_space"])["case_space"][valid], minlength=codes.n_space
        )
        return counted_words(words.vocab, words.occurrences(space_rows))

    return unicode_section(
        codes.exact_uniques,
        codes.exact_codes[valid],
        rows[valid],
        None if lines is None else lines[valid],
        word_counts,
    )


def start_text_checks(
    codes: TextCodes, rows: np.ndarray, lines: np.ndarray | None, pool: Executor
) -> dict[str, Future]:
    """Start the checks that need only the distinct raw texts (the corrupted-text scan and
    the Unicode finding) in ``pool``: each gives ``(result, seconds)``.

    They hold the GIL little (pyarrow regexes over the texts), so they fill the second
    core while one thread splits the data or builds the token index. ``rows`` and
    ``lines`` are the rows' numbers as :func:`profile_frame` reads them from the frame.
    """
    return {
        "scan": pool.submit(_timed, text_categories, codes.exact_uniques),
        "unicode": pool.submit(_timed, _unicode_of, codes, rows, lines),
    }


def _profile(
    job: _Job,
    profile: DatasetProfile,
    stages: _Stages,
    pool: ThreadPoolExecutor,
    near_duplicates: bool,
    clusters: bool,
    scope: str | None,
    skipped: list[dict[str, Any]],
    text_codes: TextCodes | None,
    cluster_features: Any = None,
) -> DatasetProfile:
    wall = time.perf_counter()
    frame, n, rows, task = job.frame, job.n, job.rows, job.task
    label_future = pool.submit(
        _timed,
        encode_labels,
        frame["label"] if "label" in frame.columns else None,
        n,
        task,
        job.label_set,
    )
    stages.start("normalise")
    texts = frame["text"] if "text" in frame.columns else pd.Series([None] * n)
    if text_codes is None or text_codes.n_rows != n:
        text_codes = encode_levels(texts)
    checks = text_codes.started or start_text_checks(text_codes, rows, job.lines, pool)
    index = build_text_index(texts, codes=text_codes)
    valid = ~index.blank

    stages.start("labels")
    labels, stages.timings["labels (helper thread)"] = label_future.result()
    background = pool.submit(
        _sampled_stages,
        index,
        rows,
        labels,
        task,
        near_duplicates,
        clusters,
        valid,
        cluster_features,
    )
    vocabulary = pool.submit(
        _timed, _train_vocabulary, index, job.lowercase, job.train, job.dev & valid
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
        "case_space": (index.space_codes, index.n_space, valid),
        "loose": (index.loose_codes, n_loose, valid & ~index.loose_empty[index.loose_codes]),
    }
    splits = (job.split, SPLIT_NAMES) if job.has_split else None
    flags = {name: np.zeros(n, dtype=bool) for name in FLAG_NAMES}
    conflicts_of = _conflicts_of(task, labels, rows, text_of_row, splits)
    space_conflicting = np.zeros(0, dtype=bool)
    for level, (codes, n_codes, usable) in level_codes.items():
        args = (codes, n_codes, usable, rows, text_of_row, labels.codes, labels.names)
        profile.duplicates[level], counts = duplicate_level(*args, splits=splits)
        profile.conflicts[level], conflicting = conflicts_of(codes, n_codes, usable)
        for section in (profile.duplicates[level], profile.conflicts[level]):
            section["scope"] = "all"
        if level == "case_space":
            flags["duplicate"] = usable & (counts[codes] > 1)
            flags["conflict"] = usable & conflicting[codes]
            space_conflicting = conflicting
    profile.duplicates["unit"] = _DUPLICATE_UNITS
    profile.conflicts["unit"] = _CONFLICT_UNITS

    stages.start("lengths")
    lengths = index.row_model_tokens()
    profile.lengths = length_section(
        lengths,
        index.row_ws_tokens(),
        valid,
        job.max_len,
        labels.codes if task == "classification" else None,
        labels.names,
    )
    flags["long"] = valid & (lengths > job.max_len)
    if task == "classification":
        profile.length_shortcut = length_shortcut(
            lengths, labels.codes, labels.names, valid, job.max_len, rows
        )

    stages.start("corrupted")
    masks = {
        "missing_text": index.blank.copy(),
        "missing_label": labels.missing,
        "unknown_label": labels.unknown,
    }
    per_text_masks, stages.timings["corrupted scan (helper thread)"] = checks["scan"].result()
    for name, per_text in per_text_masks.items():
        masks[name] = per_text[index.exact_codes]
    masks["no_words"] = valid & index.loose_empty[index.loose_codes]
    masks["extreme_length"], cutoff = extreme_length_mask(lengths, valid)
    profile.corrupted = summarise(masks, rows)
    profile.corrupted["extreme_length"]["cutoff_tokens"] = cutoff
    flags["corrupted"] = np.logical_or.reduce(list(masks.values()))
    profile.unicode, stages.timings["unicode (helper thread)"] = checks["unicode"].result()

    # The splits before the vocabulary: the helper thread is still counting it.
    stages.start("dev")
    if job.has_split:
        profile.splits = split_sections(
            job,
            labels,
            level_codes,
            lengths,
            valid,
            masks,
            profile.lengths,
            conflicts_of,
        )
        profile.leakage = leakage_section(job, index, valid, text_of_row, space_conflicting)
    else:
        profile.splits = {"ran": False, "reason": "no split: every row is training data"}
        profile.leakage = {"ran": False, "reason": "no dev set"}

    stages.start("vocabulary")
    (vocab, dev_oov), stages.timings["vocabulary (helper thread)"] = vocabulary.result()
    usable_train = int((valid & job.train).sum())
    scale, scale_advice = size_scale(usable_train)
    profile.size = {
        "rows": n,
        "usable_rows": int(valid.sum()),
        "skipped_rows": len(skipped),
        "rows_read": n + len(skipped),
        "train_rows": int(job.train.sum()),
        "dev_rows": int(job.dev.sum()),
        "usable_train_rows": usable_train,
        "classes": profile.labels.get("classes", 0),
        "vocab_size": vocab,
        "vocab_unit": "tokenizer tokens in the training split"
        + (", lowercased" if job.lowercase else ""),
        "dev_oov_rate": dev_oov if job.dev.any() else None,
        "scale": scale,
        "scale_advice": scale_advice,
    }
    profile.skipped = skipped_section(skipped)
    profile.scope = {
        "whole": scope or f"all {n:,} rows profiled",
        "splits": list(SPLIT_NAMES) if job.has_split else [],
        "note": "labels, lengths, duplicates, conflicts and corrupted rows count every row; "
        "the splits section gives the same counts within each split",
    }

    stages.start("sampled")
    (near, involved, state, near_s), (cluster_section, cluster_s) = background.result()
    stages.timings["near_duplicates (helper thread)"] = near_s
    stages.timings["clusters (helper thread)"] = cluster_s
    profile.near_duplicates, profile.clusters = near, cluster_section
    if near.get("ran") and job.has_split and job.dev.any():
        near["leakage"] = _near_leakage(index, state, job, valid)
    if involved is not None:
        flags["near_duplicate"] = valid & np.isin(index.loose_codes, involved)

    _add_lines(profile, rows, job.lines)
    profile.timings = stages.done()
    profile.timings["wall"] = round(time.perf_counter() - wall, 4)
    profile.advice = build_advice(profile)
    profile.flags = flags
    profile.row_groups = np.where(valid, index.space_codes, -1).astype(np.int32)
    profile.row_split = job.split.copy()
    return profile


_ROW_KEYS = {"rows": "lines", "dev_row": "dev_line", "train_row": "train_line", "row": "line"}


def _add_lines(profile: DatasetProfile, rows: np.ndarray, lines: np.ndarray | None) -> None:
    """Beside every row number the sections list, the line of the file it starts on
    (``lines``, ``dev_line``, …) when some record spans several lines, so a person can
    open the file at the place. Left out when lines equal rows, or rows repeat (a separate
    dev file numbers its rows from 1 again)."""
    if lines is None or np.array_equal(lines, rows) or len(np.unique(rows)) != len(rows):
        return
    line_of = dict(zip(rows.tolist(), lines.tolist()))

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, new in _ROW_KEYS.items():
                found = value.get(key)
                if new in value:
                    continue
                if isinstance(found, list) and all(isinstance(r, int) for r in found):
                    value[new] = [line_of.get(r, r) for r in found]
                elif isinstance(found, int) and not isinstance(found, bool):
                    value[new] = line_of.get(found, found)
            for item in list(value.values()):
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for section in (
        profile.duplicates,
        profile.conflicts,
        profile.corrupted,
        profile.leakage,
        profile.near_duplicates,
        profile.length_shortcut,
        profile.clusters,
    ):
        walk(section)


def _conflicts_of(
    task: str,
    labels: LabelColumn,
    rows: np.ndarray,
    text_of_row: Callable[[int], str],
    splits: Any,
) -> Callable[[np.ndarray, int, np.ndarray], tuple[dict, np.ndarray]]:
    """The conflict finder for the task: other labels on one text (classification), or
    targets spread beyond a tolerance (regression; the tolerance is set once, from every
    row's targets, so the whole data and each split judge alike)."""
    if task == "regression" and labels.values is not None:
        targets = labels.values
        tolerance, rule = default_tolerance(targets)

        def regression(codes: np.ndarray, n_codes: int, usable: np.ndarray) -> tuple:
            section, conflicting = regression_conflicts(
                codes, n_codes, usable, rows, text_of_row, targets, tolerance
            )
            section["tolerance"].update(source="default", rule=rule)
            return section, conflicting

        return regression

    def classification(codes: np.ndarray, n_codes: int, usable: np.ndarray) -> tuple:
        return conflict_level(
            codes, n_codes, usable, rows, text_of_row, labels.codes, labels.names, splits=splits
        )

    return classification


def _sampled_stages(
    index: TextIndex,
    rows: np.ndarray,
    labels: LabelColumn,
    task: str,
    near_duplicates: bool,
    clusters: bool,
    valid: np.ndarray,
    features: Any = None,
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
            features=features,
        )
        section.update(sampled=sampled, sample_size=int(len(sample)))
    else:
        section = {"ran": False, "reason": "turned off"}
    return (near, involved, state, near_s), (section, round(time.perf_counter() - start, 4))
