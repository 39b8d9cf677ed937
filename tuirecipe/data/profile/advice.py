"""Plain-language advice drawn from the profile's numbers.

Thresholds, stated once: under 10,000 training rows is *small* (fastText / bag-of-words /
TextCNN-scale models; a Transformer from scratch will overfit), 10,000–200,000 is *medium*
(TextCNN or a small GRU; a small Transformer with care), over 200,000 is *large* (a small
Transformer encoder is worth trying; bigger models pay off).
"""

from __future__ import annotations

from tuirecipe.data.profile.cluster_stats import MOSTLY
from tuirecipe.data.profile.corrupted import corrupted_counts

SMALL_ROWS = 10_000
LARGE_ROWS = 200_000


def size_scale(rows: int) -> tuple[str, str]:
    """('small' | 'medium' | 'large', model advice) for a training set of ``rows``."""
    if rows < SMALL_ROWS:
        return "small", (
            f"{rows:,} training rows is small (< {SMALL_ROWS:,}): start with "
            "fastText / bag-of-words / TextCNN-scale models and strong "
            "regularisation; a Transformer from scratch will overfit."
        )
    if rows <= LARGE_ROWS:
        return "medium", (
            f"{rows:,} training rows is medium ({SMALL_ROWS:,}–{LARGE_ROWS:,}): "
            "TextCNN or a small GRU are good baselines; try a small Transformer "
            "once they work."
        )
    return "large", (
        f"{rows:,} training rows is large (> {LARGE_ROWS:,}): a small "
        "Transformer encoder is worth it, and larger models can pay off."
    )


def build_advice(profile) -> list[str]:
    """Advice lines for a :class:`~tuirecipe.data.profile.model.DatasetProfile`."""
    out = [profile.size.get("scale_advice", "")]
    labels = profile.labels
    if labels.get("kind") == "classification" and labels.get("long_tail"):
        out.append(
            f"Labels are imbalanced (largest/smallest = {labels['imbalance_ratio']:.1f}): "
            "use class weights (train.class_weights = true) or focal loss, "
            "re-sample the rare classes or augment them, and judge by macro-F1 and "
            "per-class recall rather than accuracy."
        )
    lengths = profile.lengths
    if lengths.get("truncation_rate", 0) > 0.05:
        out.append(
            f"max_len = {lengths['max_len']} truncates "
            f"{lengths['truncation_rate']:.1%} of rows; "
            f"max_len = {lengths['suggested_max_len']} would cut "
            f"{lengths['truncation_rate_at_suggested']:.1%}."
        )
    elif lengths.get("suggested_max_len", 0) * 2 <= lengths.get("max_len", 0):
        out.append(
            f"max_len = {lengths['max_len']} is much longer than most texts; "
            f"{lengths['suggested_max_len']} covers 95 % of them and trains faster."
        )
    dup = profile.duplicates.get("case_space", {})
    if dup.get("surplus_rows"):
        out.append(
            f"{dup['surplus_rows']:,} surplus rows repeat another text (whole data, ignoring "
            "case and spacing): they weigh those texts more in training; de-duplicate, and "
            "keep copies on one side of the split (data.split_groups) or they leak into dev."
        )
    conf = profile.conflicts.get("case_space", {})
    if conf.get("conflicting_texts"):
        out.append(
            f"{conf['conflicting_texts']:,} texts carry more than one label (whole data, "
            f"{conf.get('rows', 0):,} rows): fix or drop them; they cap the accuracy any "
            "model can reach."
        )
    leak = profile.leakage
    same = leak.get("same_label_dev_rows", leak.get("dev_rows_in_train", 0))
    if same:
        out.append(
            f"{same:,} dev rows have a copy in train with the same label: the dev score "
            "will be optimistic; keep copies on one side (data.split_groups) or remove "
            "them from dev."
        )
    if leak.get("conflicting_texts"):
        out.append(
            f"{leak['conflicting_texts']:,} texts are in both train and dev with different "
            f"labels ({leak.get('conflicting_dev_rows', 0):,} dev rows): label conflicts that "
            "also cross the split, so the dev score is noisy, not optimistic; fix their labels."
        )
    shortcut = getattr(profile, "length_shortcut", {}) or {}
    if shortcut.get("fires"):
        out.append(str(shortcut.get("message", "")))
    uni = getattr(profile, "unicode", {}) or {}
    if uni.get("splits_vocabulary"):
        words = (uni.get("vocabulary_split") or {}).get("word_types", 0)
        out.append(
            f"{(uni.get('rows') or 0):,} rows use typographic characters (curly quotes, "
            f"dashes, …) and {words:,} word types appear in both spellings: normalise "
            "them (NFKC plus quote/dash folding) so one word is one token."
        )
    corrupted, long_rows = corrupted_counts(profile.corrupted)
    if corrupted:
        more = f"; {long_rows:,} more flagged for extreme length" if long_rows else ""
        out.append(
            f"{corrupted:,} corrupted-row findings (see the list{more}): clean or skip them."
        )
    concentrated = (profile.clusters.get("label_signal") or {}).get("concentrated", 0)
    if concentrated and profile.clusters.get("concentrated_share", 0) >= MOSTLY:
        out.append(
            f"{concentrated} of {profile.clusters.get('k')} topic clusters hold one label well "
            "above its share (see Clusters): topic words alone predict much of the label, so "
            "a TF-IDF baseline is the score to beat."
        )
    return [line for line in out if line]
