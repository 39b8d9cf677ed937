"""Metric helpers: confidence intervals, the entropy of a class prior, macro-F1 and
per-class precision/recall/F1 (classification), RMSE and Spearman (regression)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tuirecipe.stats import Z95, wilson_interval  # noqa: F401 - re-exported


def mean_interval(values: np.ndarray, z: float = Z95) -> tuple[float, float]:
    """Normal-approximation interval for the mean of ``values`` (per-example losses/errors)."""
    values = np.asarray(values, dtype=np.float64)
    n = values.size
    if n == 0:
        return (math.nan, math.nan)
    mean = float(values.mean())
    if n == 1:
        return (mean, mean)
    half = z * float(values.std(ddof=1)) / math.sqrt(n)
    return (mean - half, mean + half)


def prior_entropy(class_counts: Sequence[int]) -> float:
    """Entropy (nats) of the class distribution: the loss of predicting the prior."""
    total = float(sum(class_counts))
    return -sum((c / total) * math.log(c / total) for c in class_counts if c > 0)


BOOTSTRAP_RESAMPLES = 200  # enough for a 95 % percentile interval's second digit
BOOTSTRAP_SEED = 0  # fixed: the same predictions always give the same interval


def _f1_by_class(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """F1 per class from counts (last axis: classes); 0 where a class has no true or
    predicted row (scikit-learn's ``zero_division=0``)."""
    denom = 2 * tp + fp + fn
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def classification_metrics(
    gold: np.ndarray,
    pred: np.ndarray,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, Any]:
    """Macro-F1 and per-class precision, recall and F1, each with a 95 % interval.

    The point values are scikit-learn's (``precision_recall_fscore_support`` over the
    classes that occur in ``gold`` or ``pred``, ``zero_division=0``). Intervals: Wilson
    for precision and recall (binomial proportions), a percentile bootstrap over the rows
    (``resamples`` resamples of the confusion matrix, fixed ``seed``) for F1 and macro-F1. Returns
    ``{"macro_f1", "ci": {"macro_f1"}, "per_class": {class id: {...}}}``.
    """
    from sklearn.metrics import precision_recall_fscore_support

    gold = np.asarray(gold, dtype=np.int64)
    pred = np.asarray(pred, dtype=np.int64)
    n = gold.size
    if n == 0:
        return {"ci": {}, "per_class": {}}
    classes = np.union1d(gold, pred)
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, pred, labels=classes, zero_division=0
    )
    # Bootstrap: F1 depends on the rows only through the confusion matrix, and resampling
    # n rows with replacement draws its cells from a multinomial with the cells' shares:
    # the same distribution as a row bootstrap, at the cost of K x K numbers per resample.
    rng = np.random.default_rng(seed)
    k = classes.size
    g = np.searchsorted(classes, gold)
    p = np.searchsorted(classes, pred)
    cells = np.bincount(g * k + p, minlength=k * k)
    draws = rng.multinomial(n, cells / n, size=resamples).reshape(resamples, k, k)
    tp = np.diagonal(draws, axis1=1, axis2=2)
    gold_n = draws.sum(axis=2)
    pred_n = draws.sum(axis=1)
    boot_f1 = _f1_by_class(tp, pred_n - tp, gold_n - tp)
    present = (gold_n + pred_n) > 0  # a class absent from a resample does not count there
    boot_macro = (boot_f1 * present).sum(1) / np.maximum(present.sum(1), 1)
    f1_lo, f1_hi = np.percentile(boot_f1, [2.5, 97.5], axis=0)
    macro_lo, macro_hi = np.percentile(boot_macro, [2.5, 97.5])
    tp_all = np.bincount(g[g == p], minlength=k)
    pred_all = np.bincount(p, minlength=k)
    per_class: dict[str, dict[str, Any]] = {}
    for j, cls in enumerate(classes):
        per_class[str(int(cls))] = {
            "precision": float(precision[j]),
            "recall": float(recall[j]),
            "f1": float(f1[j]),
            "support": int(support[j]),
            "ci": {
                "precision": list(wilson_interval(int(tp_all[j]), int(pred_all[j])))
                if pred_all[j]
                else [0.0, 1.0],
                "recall": list(wilson_interval(int(tp_all[j]), int(support[j])))
                if support[j]
                else [0.0, 1.0],
                "f1": [float(f1_lo[j]), float(f1_hi[j])],
            },
        }
    return {
        "macro_f1": float(np.mean(f1)),
        "ci": {"macro_f1": [float(macro_lo), float(macro_hi)]},
        "per_class": per_class,
    }


def regression_metrics(pred: np.ndarray, target: np.ndarray, mse_ci: list[float]) -> dict:
    """RMSE (its interval from the MSE's) and Spearman's rank correlation (Fisher-z
    interval with the 1.06/sqrt(n-3) standard error for ranks; left out when it is not
    defined: fewer than 4 rows or a constant column)."""
    from scipy.stats import spearmanr

    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    err = pred - target
    out: dict[str, Any] = {"rmse": float(math.sqrt(float((err * err).mean())))}
    ci: dict[str, list[float]] = {"rmse": [math.sqrt(max(0.0, b)) for b in mse_ci]}
    n = pred.size
    if n >= 4 and np.ptp(pred) > 0 and np.ptp(target) > 0:
        rho = float(spearmanr(pred, target).statistic)
        if math.isfinite(rho):
            z = math.atanh(max(-0.999999, min(0.999999, rho)))
            half = Z95 * 1.06 / math.sqrt(n - 3)
            out["spearman"] = rho
            ci["spearman"] = [math.tanh(z - half), math.tanh(z + half)]
    out["ci"] = ci
    return out
