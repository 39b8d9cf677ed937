"""Macro-F1, per-class precision/recall/F1 and regression's RMSE/Spearman, with intervals:
against scikit-learn/scipy on constructed predictions, and through evaluate()."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from sklearn.metrics import f1_score, precision_score, recall_score
from torch import nn

from tuirecipe.train.batches import SplitTensors, evaluate
from tuirecipe.train.metrics import classification_metrics, regression_metrics


def imbalanced(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """900 rows of class 0 predicted well, 100 of class 1 mostly missed, 50 of class 2."""
    rng = np.random.default_rng(seed)
    gold = np.array([0] * 900 + [1] * 100 + [2] * 50)
    pred = gold.copy()
    pred[rng.choice(900, 30, replace=False)] = 1
    pred[900 + rng.choice(100, 70, replace=False)] = 0  # the rare class: 30 of 100 found
    pred[1000 + rng.choice(50, 10, replace=False)] = 0
    return gold, pred


def test_point_values_are_scikit_learns_and_each_interval_holds_its_value() -> None:
    gold, pred = imbalanced()
    report = classification_metrics(gold, pred)
    assert report["macro_f1"] == pytest.approx(f1_score(gold, pred, average="macro"))
    lo, hi = report["ci"]["macro_f1"]
    assert lo < report["macro_f1"] < hi and hi - lo < 0.2
    per = report["per_class"]
    assert set(per) == {"0", "1", "2"}
    recall = recall_score(gold, pred, average=None)
    precision = precision_score(gold, pred, average=None)
    for c in range(3):
        row = per[str(c)]
        assert row["recall"] == pytest.approx(recall[c])
        assert row["precision"] == pytest.approx(precision[c])
        for name in ("precision", "recall", "f1"):
            low, high = row["ci"][name]
            assert low <= row[name] <= high
    assert per["1"]["recall"] == pytest.approx(0.30) and per["1"]["support"] == 100
    # accuracy looks fine while macro-F1 shows the missed rare class
    assert (gold == pred).mean() > 0.89 and report["macro_f1"] < 0.75


def test_the_interval_is_reproducible_and_narrows_with_more_rows() -> None:
    gold, pred = imbalanced()
    assert classification_metrics(gold, pred) == classification_metrics(gold, pred)
    small = classification_metrics(gold[::10], pred[::10])["ci"]["macro_f1"]
    full = classification_metrics(gold, pred)["ci"]["macro_f1"]
    assert full[1] - full[0] < small[1] - small[0]


def test_a_perfect_classifier_has_f1_one_and_a_class_never_predicted_scores_zero() -> None:
    gold = np.array([0, 1, 2, 0, 1, 2])
    assert classification_metrics(gold, gold)["macro_f1"] == 1.0
    never = classification_metrics(gold, np.array([0, 1, 0, 0, 1, 1]))
    assert never["per_class"]["2"]["f1"] == 0.0 and never["per_class"]["2"]["precision"] == 0.0


def test_regression_rmse_and_spearman() -> None:
    rng = np.random.default_rng(1)
    target = rng.normal(size=400)
    pred = target + rng.normal(scale=0.5, size=400)
    err = pred - target
    mse_ci = [float((err**2).mean()) * 0.9, float((err**2).mean()) * 1.1]
    out = regression_metrics(pred, target, mse_ci)
    assert out["rmse"] == pytest.approx(math.sqrt((err**2).mean()))
    assert out["ci"]["rmse"] == pytest.approx([math.sqrt(v) for v in mse_ci])
    assert out["spearman"] == pytest.approx(spearmanr(pred, target).statistic)
    low, high = out["ci"]["spearman"]
    assert low < out["spearman"] < high
    constant = regression_metrics(np.zeros(10), target[:10], mse_ci)
    assert "spearman" not in constant and "spearman" not in constant["ci"]


class Fixed(nn.Module):
    """Returns the logits it was given, by row position in the batch order."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits
        self.weight = nn.Parameter(torch.zeros(1))
        self.seen = 0

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.logits[self.seen : self.seen + len(input_ids)]
        self.seen += len(input_ids)
        return out + self.weight


def test_evaluate_records_macro_f1_and_per_class_beside_accuracy() -> None:
    gold, pred = imbalanced()
    logits = torch.nn.functional.one_hot(torch.tensor(pred), 3).float() * 5
    tensors = SplitTensors(
        torch.ones(len(gold), 4, dtype=torch.long),
        torch.tensor(gold),
        torch.full((len(gold),), 4, dtype=torch.long),
    )
    result = evaluate(Fixed(logits), tensors, task="classification", batch_size=4096)
    assert result["acc"] == pytest.approx((gold == pred).mean())
    assert result["macro_f1"] == pytest.approx(f1_score(gold, pred, average="macro"))
    assert set(result["ci"]) >= {"loss", "acc", "macro_f1"}
    assert result["per_class"]["1"]["recall"] == pytest.approx(0.30)
