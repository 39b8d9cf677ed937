"""Length as a shortcut: how well a row's length alone predicts its label.

A class written differently from the others (spam is longer than ham; plot summaries
scraped from another site are longer than reviews) can be recognised by its length, and a
model will learn that before it learns the words. :func:`length_shortcut` measures it three
ways:

- per class, the one-vs-rest ROC AUC of the length (0.5: length says nothing; near 1: the
  class is longer, near 0: shorter), exact on every row (the Mann-Whitney statistic, equal
  to scikit-learn's ``roc_auc_score``);
- a one-feature classifier (a depth-3 decision tree on the length), cross-validated on
  every row with a fixed seed, against the majority class and chance;

The rows collapse first into a table of rows per (distinct length, class): lengths take a
few hundred values, so a million rows cost a couple of ``bincount`` passes.
- the rows ``max_len`` would truncate, by class: when they nearly all belong to one class,
  truncation hides exactly that class's text.
"""

from __future__ import annotations

from typing import Any

import numpy as np

AUC_STRONG = 0.85  # a class AUC at or above this (or at or below 1 - this) fires
AUC_MODERATE = 0.75  # reported as a moderate signal, does not fire
MIN_CLASS_ROWS = 30  # a class needs this many rows (and the rest as many) to judge
LIFT_STRONG = 0.5  # balanced accuracy this far from chance towards 1 fires...
MIN_CLASSIFIER_ROWS = 100  # ...on at least this many rows
FOLDS = 5
SEED = 0
TRUNCATED_MIN_ROWS = 10  # truncation concentrated in one class needs this many rows
TRUNCATED_CONCENTRATION = 0.9  # one class holds this share of the truncated rows...
TRUNCATED_OVER_PRIOR = 2.0  # ...and at least this many times its share of all rows
EXAMPLE_ROWS = 10

RULE = (
    f"fires when a class with at least {MIN_CLASS_ROWS} rows has a length AUC >= "
    f"{AUC_STRONG} or <= {1 - AUC_STRONG:.2f}, when the length-only classifier closes at "
    f"least {LIFT_STRONG:.0%} of the gap between chance and perfect balanced accuracy "
    f"(cross-validated, at least {MIN_CLASSIFIER_ROWS} rows), or "
    f"when at least {TRUNCATED_MIN_ROWS} truncated rows are {TRUNCATED_CONCENTRATION:.0%} "
    f"one class (at least {TRUNCATED_OVER_PRIOR:g} x its share of all rows)"
)


def _histogram(lengths: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[np.ndarray, ...]:
    """Rows per (distinct length, class): the distinct lengths, each row's index into
    them, and the table. Everything below works on this table, not on the rows."""
    if len(lengths) and 0 <= lengths.min() and lengths.max() < 1 << 22:
        seen = np.bincount(lengths) > 0
        values = np.flatnonzero(seen)
        index = (np.cumsum(seen) - 1)[lengths]
    else:
        values, index = np.unique(lengths, return_inverse=True)
    table = np.bincount(index * n_classes + y, minlength=len(values) * n_classes)
    return values, index, table.reshape(len(values), n_classes)


def _auc_per_class(table: np.ndarray) -> np.ndarray:
    """One-vs-rest ROC AUC of the length for each class, ties counting half (the
    Mann-Whitney statistic, as scikit-learn's ``roc_auc_score``), from the table; NaN
    where a class has no rows or holds them all."""
    table = table.astype(float)
    negatives = table.sum(axis=1, keepdims=True) - table
    below = np.cumsum(negatives, axis=0) - negatives  # other-class rows strictly shorter
    n_pos = table.sum(axis=0)
    n_neg = table.sum() - n_pos
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (table * (below + 0.5 * negatives)).sum(axis=0) / (n_pos * n_neg)
    auc[(n_pos == 0) | (n_neg == 0)] = np.nan
    return auc


def _median(values: np.ndarray, column: np.ndarray) -> float:
    """The median length of one class from its column of the table (as ``np.median``)."""
    cumulative = np.cumsum(column)
    middle = [(int(cumulative[-1]) - 1) // 2, int(cumulative[-1]) // 2]
    return float(values[np.searchsorted(cumulative, middle, side="right")].mean())


def _strength(auc: float) -> str:
    if not np.isfinite(auc):
        return "none"
    away = max(auc, 1 - auc)
    if away >= AUC_STRONG:
        return "strong"
    if away >= AUC_MODERATE:
        return "moderate"
    return "weak"


def _fit_tree(values: np.ndarray, table: np.ndarray, tree_class: Any) -> Any:
    """A depth-3 tree on the length, fitted on the table with balanced class weights.

    Each (length, class) cell is one sample weighted by its rows, which gives the tree the
    impurities the rows themselves would, at a fraction of the cost. Balanced weights
    (rows / (classes x class rows)): unweighted, a tree on an 87 % majority set predicts
    the majority in every leaf and hides a length signal of the minority class.
    """
    class_rows = table.sum(axis=0).astype(float)
    present = class_rows > 0
    balance = np.zeros(table.shape[1])
    balance[present] = class_rows.sum() / (present.sum() * class_rows[present])
    cell_value, cell_class = np.nonzero(table)
    tree = tree_class(max_depth=3, random_state=SEED)
    tree.fit(
        values[cell_value].reshape(-1, 1).astype(float),
        cell_class,
        sample_weight=table[cell_value, cell_class] * balance[cell_class],
    )
    return tree


def _stratified_folds(y: np.ndarray, counts: np.ndarray, folds: int) -> np.ndarray:
    """A fold per row: each class's rows, shuffled with the seed, dealt round the folds.

    scikit-learn's StratifiedKFold gives the same kind of folds but took a third of this
    finding's time on a million rows; here the folds only feed a table."""
    order = np.random.default_rng(SEED).permutation(len(y))
    order = order[np.argsort(y[order], kind="stable")]
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    fold = np.empty(len(y), dtype=np.int64)
    fold[order] = (np.arange(len(y)) - np.repeat(starts, counts)) % folds
    return fold


def _classifier(
    values: np.ndarray, index: np.ndarray, table: np.ndarray, y: np.ndarray
) -> dict[str, Any]:
    """Cross-validated depth-3 tree on the length alone, against majority and chance."""
    # Imported here, as elsewhere in the core: scikit-learn's estimators load rich, which
    # the core must not (and a regression profile never gets here).
    from sklearn.tree import DecisionTreeClassifier

    counts = table.sum(axis=0)
    present = np.flatnonzero(counts)
    out: dict[str, Any] = {
        "model": "decision tree on the length alone (depth 3, balanced class weights)",
        "rows": int(len(y)),
        "majority_accuracy": float(counts.max() / counts.sum()),
        "chance_balanced_accuracy": float(1 / len(present)),
    }
    folds = min(FOLDS, int(counts.max()))
    if len(present) < 2 or folds < 2:
        return {**out, "ran": False, "reason": "fewer than two classes to separate"}
    n_values, k = table.shape
    fold = _stratified_folds(y, counts, folds)
    per_fold = np.bincount(
        (fold * n_values + index) * k + y, minlength=folds * n_values * k
    ).reshape(folds, n_values, k)
    correct = np.zeros(k)
    for f in range(folds):
        tree = _fit_tree(values, table - per_fold[f], DecisionTreeClassifier)
        predicted = tree.predict(values.reshape(-1, 1).astype(float)).astype(np.int64)
        hits = per_fold[f][np.arange(n_values), predicted]  # test rows predicted right
        correct += np.bincount(predicted, weights=hits, minlength=k)
    recall = correct[present] / counts[present]
    balanced = float(recall.mean())
    chance = out["chance_balanced_accuracy"]
    fitted = _fit_tree(values, table, DecisionTreeClassifier).tree_
    thresholds = sorted({round(float(t), 1) for t in fitted.threshold[fitted.feature >= 0]})
    return {
        **out,
        "ran": True,
        "folds": folds,
        "seed": SEED,
        "accuracy": float(correct.sum() / len(y)),
        "balanced_accuracy": balanced,
        "lift": float((balanced - chance) / (1 - chance)),
        "lift_rule": "(balanced accuracy - chance) / (1 - chance)",
        "thresholds": thresholds,
    }


def _truncated(
    lengths: np.ndarray,
    y: np.ndarray,
    label_names: list[str],
    max_len: int,
    rows: np.ndarray,
) -> dict[str, Any]:
    over = lengths > max_len
    n_over = int(over.sum())
    class_rows = np.bincount(y, minlength=len(label_names))
    over_rows = np.bincount(y[over], minlength=len(label_names))
    over_at, over_class = rows[over], y[over]
    per_class: list[dict[str, Any]] = []
    for c in np.argsort(-over_rows, kind="stable").tolist():
        if not over_rows[c]:
            continue
        per_class.append(
            {
                "label": label_names[c],
                "rows": int(over_rows[c]),
                "share_of_class": float(over_rows[c] / class_rows[c]),
                "share_of_truncated": float(over_rows[c] / n_over),
                "share_of_all_rows": float(class_rows[c] / len(y)),
                "examples": over_at[over_class == c][:EXAMPLE_ROWS].tolist(),
            }
        )
    concentrated = None
    if n_over >= TRUNCATED_MIN_ROWS and per_class:
        top = per_class[0]
        if (
            top["share_of_truncated"] >= TRUNCATED_CONCENTRATION
            and top["share_of_truncated"] >= TRUNCATED_OVER_PRIOR * top["share_of_all_rows"]
        ):
            concentrated = top["label"]
    return {
        "max_len": int(max_len),
        "rows": n_over,
        "share": float(n_over / len(y)) if len(y) else 0.0,
        "per_class": per_class,
        "concentrated_in": concentrated,
    }


def length_shortcut(
    lengths: np.ndarray,
    label_codes: np.ndarray,
    label_names: list[str],
    valid: np.ndarray,
    max_len: int,
    rows: np.ndarray,
) -> dict[str, Any]:
    """The ``length_shortcut`` finding for a classification set.

    ``lengths``: tokens per row (as ``max_len`` counts them); ``label_codes``: class index
    per row (-1 = no usable label); ``valid``: rows to use (a usable text); ``rows``: row
    numbers, for examples.
    """
    use = np.asarray(valid, dtype=bool) & (np.asarray(label_codes) >= 0)
    x = np.asarray(lengths, dtype=np.int64)[use]
    y = np.asarray(label_codes, dtype=np.int64)[use]
    out: dict[str, Any] = {
        "unit": "tokenizer tokens per row",
        "rows": int(len(y)),
        "rule": RULE,
    }
    counts = np.bincount(y, minlength=len(label_names))
    if (counts > 0).sum() < 2:
        return {
            **out,
            "ran": False,
            "reason": "fewer than two classes with rows",
            "fires": False,
            "strength": "none",
            "message": "length shortcut not measured: fewer than two classes",
        }
    values, index, table = _histogram(x, y, len(label_names))
    auc = _auc_per_class(table)
    per_class: list[dict[str, Any]] = []
    for c in np.flatnonzero(counts).tolist():
        judged = counts[c] >= MIN_CLASS_ROWS and len(y) - counts[c] >= MIN_CLASS_ROWS
        per_class.append(
            {
                "label": label_names[c],
                "rows": int(counts[c]),
                "median_length": _median(values, table[:, c]),
                "auc": float(auc[c]),
                "direction": "longer" if auc[c] >= 0.5 else "shorter",
                "strength": _strength(float(auc[c])),
                "judged": bool(judged),
            }
        )
    # Strongest first; on a tie (always, with two classes) the smaller class first.
    per_class.sort(key=lambda item: (-round(abs(item["auc"] - 0.5), 12), item["rows"]))
    classifier = _classifier(values, index, table, y)
    truncated = _truncated(x, y, label_names, max_len, np.asarray(rows)[use])
    strong = [p for p in per_class if p["judged"] and p["strength"] == "strong"]
    lift_fires = bool(
        classifier.get("ran")
        and classifier["rows"] >= MIN_CLASSIFIER_ROWS
        and classifier["lift"] >= LIFT_STRONG
    )
    moderate = [p for p in per_class if p["judged"] and p["strength"] == "moderate"]
    reasons = []
    # With two classes one AUC is the mirror of the other: name only the first.
    for p in strong[: 1 if len(per_class) == 2 else 3]:
        reasons.append(
            f"'{p['label']}' rows are {p['direction']} than the rest "
            f"(length AUC {p['auc']:.2f}, median {p['median_length']:g} tokens)"
        )
    if lift_fires:
        reasons.append(
            f"length alone reaches a balanced accuracy of {classifier['balanced_accuracy']:.2f} "
            f"(chance {classifier['chance_balanced_accuracy']:.2f})"
        )
        if not strong and moderate:
            p = moderate[0]
            reasons[-1] += (
                f", mostly from '{p['label']}' rows being {p['direction']} "
                f"(length AUC {p['auc']:.2f})"
            )
    if truncated["concentrated_in"] is not None:
        top = truncated["per_class"][0]
        reasons.append(
            f"{top['share_of_truncated']:.0%} of the {truncated['rows']:,} rows longer than "
            f"max_len {max_len} are '{top['label']}' ({top['share_of_all_rows']:.0%} of all "
            "rows): truncation cuts that class, and it may come from another source"
        )
    fires = bool(reasons)
    strength = "strong" if fires else ("moderate" if moderate else "none")
    if fires:
        message = (
            "Length alone predicts the label: "
            + "; ".join(reasons)
            + ". A model can score well by counting tokens: compare it with a length-only "
            "baseline and look at the long and short rows of these classes."
        )
    elif moderate:
        p = moderate[0]
        message = (
            f"A moderate length signal: '{p['label']}' rows are {p['direction']} "
            f"(length AUC {p['auc']:.2f}); not a shortcut on its own."
        )
    else:
        message = "Length says little about the label."
    return {
        **out,
        "ran": True,
        "classes": int((counts > 0).sum()),
        "per_class": per_class,
        "classifier": classifier,
        "truncated": truncated,
        "fires": fires,
        "strength": strength,
        "message": message,
    }
