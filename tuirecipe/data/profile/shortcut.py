"""Length as a shortcut: how well a row's length alone predicts its label.

A class written differently from the others (spam is longer than ham; plot summaries
scraped from another site are longer than reviews) can be recognised by its length, and a
model will learn that before it learns the words. :func:`length_shortcut` measures it three
ways:

- per class, the one-vs-rest ROC AUC of the length (0.5: length says nothing; near 1: the
  class is longer, near 0: shorter), computed exactly on every row from one ranking (the
  Mann-Whitney statistic, equal to scikit-learn's ``roc_auc_score``);
- a one-feature classifier (a depth-3 decision tree on the length), cross-validated with a
  fixed seed on at most ``CLASSIFIER_ROWS`` rows, against the majority class and chance;
- the rows ``max_len`` would truncate, by class: when they nearly all belong to one class,
  truncation hides exactly that class's text.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.stats import rankdata

AUC_STRONG = 0.85  # a class AUC at or above this (or at or below 1 - this) fires
AUC_MODERATE = 0.75  # reported as a moderate signal, does not fire
MIN_CLASS_ROWS = 30  # a class needs this many rows (and the rest as many) to judge
LIFT_STRONG = 0.5  # balanced accuracy this far from chance towards 1 fires...
MIN_CLASSIFIER_ROWS = 100  # ...on at least this many rows
CLASSIFIER_ROWS = 200_000
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


def _auc_per_class(lengths: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """One-vs-rest AUC of ``lengths`` for each class (ties count half), NaN if undefined."""
    ranks = rankdata(lengths)  # average ranks for ties
    n = len(y)
    n_pos = np.bincount(y, minlength=n_classes).astype(float)
    rank_sum = np.bincount(y, weights=ranks, minlength=n_classes)
    n_neg = n - n_pos
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    auc[(n_pos == 0) | (n_neg == 0)] = np.nan
    return auc


def _strength(auc: float) -> str:
    if not np.isfinite(auc):
        return "none"
    away = max(auc, 1 - auc)
    if away >= AUC_STRONG:
        return "strong"
    if away >= AUC_MODERATE:
        return "moderate"
    return "weak"


def _classifier(lengths: np.ndarray, y: np.ndarray, n_classes: int) -> dict[str, Any]:
    """Cross-validated depth-3 tree on the length alone, against majority and chance."""
    # Imported here, as elsewhere in the core: scikit-learn's estimators load rich, which
    # the core must not (and most profiles of a regression set never get here).
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(SEED)
    sampled = len(y) > CLASSIFIER_ROWS
    pick = np.sort(rng.choice(len(y), CLASSIFIER_ROWS, replace=False)) if sampled else None
    x = (lengths if pick is None else lengths[pick]).reshape(-1, 1).astype(float)
    target = y if pick is None else y[pick]
    present, target = np.unique(target, return_inverse=True)
    counts = np.bincount(target)
    out: dict[str, Any] = {
        "model": "decision tree on the length alone (depth 3, balanced class weights)",
        "rows": int(len(target)),
        "sampled": bool(sampled),
        "majority_accuracy": float(counts.max() / counts.sum()),
        "chance_balanced_accuracy": float(1 / len(present)),
    }
    folds = min(FOLDS, int(counts.max()))
    if len(present) < 2 or folds < 2:
        return {**out, "ran": False, "reason": "fewer than two classes to separate"}
    # Balanced class weights: unweighted, a tree on an 87 % majority set predicts the
    # majority in every leaf and hides a length signal of the minority class.
    tree = DecisionTreeClassifier(max_depth=3, class_weight="balanced", random_state=SEED)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a class smaller than the folds only warns
        predicted = cross_val_predict(tree, x, target, cv=splitter)
    correct = predicted == target
    recall = np.bincount(target, weights=correct, minlength=len(present)) / counts
    balanced = float(recall.mean())
    chance = out["chance_balanced_accuracy"]
    fitted = tree.fit(x, target).tree_
    thresholds = sorted({round(float(t), 1) for t in fitted.threshold[fitted.feature >= 0]})
    return {
        **out,
        "ran": True,
        "folds": folds,
        "seed": SEED,
        "accuracy": float(correct.mean()),
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
                "examples": rows[over & (y == c)][:EXAMPLE_ROWS].tolist(),
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
    auc = _auc_per_class(x, y, len(label_names))
    per_class: list[dict[str, Any]] = []
    for c in np.flatnonzero(counts).tolist():
        judged = counts[c] >= MIN_CLASS_ROWS and len(y) - counts[c] >= MIN_CLASS_ROWS
        per_class.append(
            {
                "label": label_names[c],
                "rows": int(counts[c]),
                "median_length": float(np.median(x[y == c])),
                "auc": float(auc[c]),
                "direction": "longer" if auc[c] >= 0.5 else "shorter",
                "strength": _strength(float(auc[c])),
                "judged": bool(judged),
            }
        )
    # Strongest first; on a tie (always, with two classes) the smaller class first.
    per_class.sort(key=lambda item: (-round(abs(item["auc"] - 0.5), 12), item["rows"]))
    classifier = _classifier(x, y, len(label_names))
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
